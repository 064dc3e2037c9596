/* Where credentials come from: a provider hands out credentials and
 * refreshes them before they expire. The default chain looks where the AWS
 * CLI looks, in the same order (botocore's create_credential_resolver):
 *
 *   1. the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
 *      AWS_SESSION_TOKEN (not with --profile);
 *   2. assume role: the profile's role_arn, with source_profile (a chain of
 *      profiles) or credential_source (Environment, Ec2InstanceMetadata,
 *      EcsContainer); with mfa_serial the code is asked on the terminal and
 *      the credentials kept in ~/.aws/cli/cache (mfa.h);
 *   3. web identity: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN (not with
 *      --profile), else the profile's web_identity_token_file + role_arn;
 *   4. IAM Identity Center (SSO): sso_session + [sso-session NAME], or a
 *      legacy profile's sso_start_url; the token `aws sso login` cached in
 *      ~/.aws/sso/cache (refreshed through SSO OIDC), then the portal's
 *      GetRoleCredentials (sso.h);
 *   5. the profile in the shared credentials file;
 *   6. the profile's credential_process;
 *   7. the profile's keys in the config file;
 *   8. the container endpoint (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or
 *      _FULL_URI);
 *   9. EC2 instance metadata (IMDSv2).
 *
 * The choice among 1-8 is made from the configuration alone when the chain
 * is built, so a mistake in it is reported at once; credentials themselves
 * are fetched when first needed. */
#ifndef SSMBAK_CREDS_H
#define SSMBAK_CREDS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "aws.h"

struct config;
struct creds_provider;

/* Fetches one set of credentials into *out (owned by the caller). */
typedef int (*creds_fetch_fn)(struct creds_provider *p,
			      struct aws_credentials *out, struct err *e);
typedef void (*creds_destroy_fn)(struct creds_provider *p);

struct creds_provider {
	const char *name; /* botocore's method name: "env", "assume-role" */
	/* "assume-role(dev) <- shared-credentials-file(base)", or NULL;
	 * never a secret. */
	char *description;
	creds_fetch_fn fetch;
	creds_destroy_fn destroy;
	void *state;
	struct aws_credentials cached;
	bool have_cached;
};

/* Credentials that stay valid for the next request: refreshed when within
 * five minutes of expiry (the SDKs' margin). The pointer is valid until the
 * next call. */
int creds_get(struct creds_provider *p, const struct aws_credentials **out,
	      struct err *e);
/* Forget the cache: the service said the token expired. */
void creds_invalidate(struct creds_provider *p);
void creds_provider_free(struct creds_provider *p);
/* Where the credentials come from, for -v and tests. */
const char *creds_describe(const struct creds_provider *p);

struct creds_provider *creds_provider_new(const char *name,
					  creds_fetch_fn fetch,
					  creds_destroy_fn destroy,
					  void *state);
/* Fixed credentials (copied). */
struct creds_provider *creds_static_new(const struct aws_credentials *c);
/* AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (or
 * AWS_SECURITY_TOKEN), AWS_CREDENTIAL_EXPIRATION. */
struct creds_provider *creds_env_new(void);

/* The AWS CLI's chain for this profile (NULL: AWS_PROFILE or "default").
 * explicit_profile is true for --profile, which, as in the CLI, makes the
 * environment's keys not count. Reads the shared files itself. */
struct creds_provider *creds_default_chain_new(const char *profile,
					       bool explicit_profile,
					       const char *region,
					       struct err *e);
/* The same over files already read. profile NULL means "default", which
 * then need not exist; a named profile must. endpoint_url (NULL: none) is
 * the profile's, for the STS calls of roles. */
struct creds_provider *creds_chain_new(const struct config *cfg,
				       const char *profile,
				       bool explicit_profile,
				       const char *region,
				       const char *endpoint_url,
				       struct err *e);

/* Exposed for tests. */

/* What a credential_process prints, or the container and instance
 * metadata endpoints answer:
 *   process:  {"Version": 1, "AccessKeyId", "SecretAccessKey",
 *              "SessionToken"?, "Expiration"?}
 *   metadata: {"Code"?: "Success", "AccessKeyId", "SecretAccessKey",
 *              "Token", "Expiration"}
 * `what` names the source in messages. ERR_CONFIG when malformed or
 * already expired at `now`. */
enum creds_json_kind { CREDS_JSON_PROCESS, CREDS_JSON_METADATA };
int creds_parse_json(const char *json, size_t len, enum creds_json_kind kind,
		     const char *what, time_t now, struct aws_credentials *out,
		     struct err *e);

/* Runs a credential_process command line with /bin/sh -c, as the CLI
 * does, and parses its output. */
int creds_run_process(const char *command, const char *profile,
		      struct aws_credentials *out, struct err *e);

/* Whether AWS_CONTAINER_CREDENTIALS_FULL_URI may be used: https to any
 * host, http only to a loopback address or the ECS/EKS link-local
 * addresses (169.254.170.2, 169.254.170.23, fd00:ec2::23), as the SDKs
 * enforce. Host names other than "localhost" are not resolved. */
bool creds_container_url_allowed(const char *url);

#endif
