/* Roles that ask for MFA (a profile's mfa_serial), as the AWS CLI does
 * them: the code is asked on the terminal ("Enter MFA code for ARN: "),
 * and what AssumeRole gave is kept in ~/.aws/cli/cache so that the next
 * run, within the credentials' lifetime, need not ask again. The cache is
 * the CLI's own (botocore's AssumeRoleCredentialFetcher over awscli's
 * JSONFileCache): either tool reuses what the other wrote. */
#ifndef SSMBAK_MFA_H
#define SSMBAK_MFA_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "aws.h"
#include "sts.h"

/* botocore's CachedCredentialFetcher.DEFAULT_EXPIRY_WINDOW_SECONDS: an
 * entry with less left than this is not used. */
#define MFA_CACHE_WINDOW_SECONDS (15 * 60)
#define MFA_CODE_MAX 64

/* Asks for the code on /dev/tty, without echo; ERR_CONFIG when there is
 * no terminal, or nothing was typed. `profile` names it in messages. */
int mfa_prompt(const char *serial, const char *profile, char *code,
	       size_t size, struct err *e);

/* The cache file's name: the SHA-1 hex of the AssumeRole arguments as
 * Python's json.dumps(sort_keys=True) prints them (RoleArn, SerialNumber,
 * ExternalId, DurationSeconds, and RoleSessionName when the profile set
 * it: a generated one is left out) into out (40 hex digits). -1 when
 * out of memory or a value is not UTF-8. */
int mfa_cache_key(const struct sts_role *r, bool session_name_given,
		  char out[41]);
/* A cache file's text: 1 with *out when it holds credentials valid past
 * now + the window, else 0 (absent, malformed or too old). */
int mfa_cache_parse(const char *json, size_t len, time_t now,
		    struct aws_credentials *out);
/* The entry as the CLI writes it: {"Credentials": {AccessKeyId,
 * SecretAccessKey, SessionToken, Expiration}}; caller frees. */
char *mfa_cache_json(const struct aws_credentials *c);

/* The same over ~/.aws/cli/cache/KEY.json. Load: 1 found, 0 not (never
 * an error: a bad entry is as none). Store: 0600, or -1 with e. */
int mfa_cache_load(const char *key, time_t now, struct aws_credentials *out);
int mfa_cache_store(const char *key, const struct aws_credentials *c,
		    struct err *e);

#endif
