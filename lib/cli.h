/* What every AWS command shares on its command line: -r/--region,
 * --profile, -b/--bucket, --stack, -v/--verbose, -q/--quiet, -h/--help,
 * --output. */
#ifndef SSMBAK_CLI_H
#define SSMBAK_CLI_H

#include <getopt.h>
#include <stdbool.h>

#include "aws.h"

enum cli_output { CLI_OUTPUT_TABLE, CLI_OUTPUT_JSON };

struct cli_common {
	const char *region;
	const char *profile;
	const char *bucket;
	const char *stack;
	const char *bucket_owner; /* --bucket-owner ACCOUNT, or NULL */
	int verbose;
	bool quiet; /* -q: results and errors only */
	enum cli_output output;
	const char *key_prefix; /* --key-prefix, NULL: SSMBAK_KEY_PREFIX or none */
};

enum {
	CLI_OPT_PROFILE = 0x1000,
	CLI_OPT_STACK,
	CLI_OPT_OUTPUT,
	CLI_OPT_BUCKET_OWNER,
	CLI_OPT_KEY_PREFIX,
	CLI_OPT_FIRST_FREE, /* commands number their own long options from here */
};

#define CLI_COMMON_LONG_OPTIONS \
	{ "region", required_argument, NULL, 'r' }, \
	{ "profile", required_argument, NULL, CLI_OPT_PROFILE }, \
	{ "bucket", required_argument, NULL, 'b' }, \
	{ "stack", required_argument, NULL, CLI_OPT_STACK }, \
	{ "output", required_argument, NULL, CLI_OPT_OUTPUT }, \
	{ "bucket-owner", required_argument, NULL, CLI_OPT_BUCKET_OWNER }, \
	{ "verbose", no_argument, NULL, 'v' }, \
	{ "quiet", no_argument, NULL, 'q' }, \
	{ "help", no_argument, NULL, 'h' }
#define CLI_COMMON_SHORT_OPTIONS "r:b:vqh"
/* For the commands that read or write backups (FORMAT.md, "Key prefix"). */
#define CLI_KEY_PREFIX_OPTION \
	{ "key-prefix", required_argument, NULL, CLI_OPT_KEY_PREFIX }

/* Handles one getopt result if it is a common option: returns true. -h
 * prints usage to stdout and exits 0; an unknown option or a missing
 * argument leaves getopt's line and adds a pointer to --help, exit 2. */
bool cli_common_option(int opt, const char *arg, struct cli_common *c,
		       const char *usage);
/* One line on stderr naming what was wrong, a pointer to --help, exit 2. */
_Noreturn void cli_usage_error(const char *usage, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* "ssmbak stack NAME VERB" given a VERB not in verbs[n]: a usage error,
 * with "did you mean 'ssmbak stack VERB NAME'?" when the two words look
 * swapped (NAME is a verb). */
_Noreturn void cli_unknown_verb(const char *usage, const char *name,
				const char *verb, const char *const *verbs,
				size_t n);

/* A PATH argument checked against SSM's name rules (a usage error
 * otherwise), with its leading slash. Caller frees. */
char *cli_path_argument(const char *path, const char *usage);

/* The key prefix in its stored form: --key-prefix, SSMBAK_KEY_PREFIX, or
 * none (""). A bad one is a usage error. Caller frees. */
char *cli_key_prefix(const struct cli_common *c, const char *usage);

/* An argument as a message shows it: control characters escaped and cut
 * to 80 characters with "..." (a 100,000-character PATH is not echoed
 * whole). Points into a static buffer, valid until the next call. */
const char *cli_shown_arg(const char *arg);

/* Whether s is a CloudFormation stack name. */
bool cli_stack_name_is_valid(const char *s);

/* Region, credentials and connections for this command, and the account
 * every bucket must belong to (--bucket-owner, else SSMBAK_BUCKET_OWNER,
 * else the caller's own), or exit with the reason. -v: says which region
 * and credentials (and from where); -vv: a line per request from then on. */
void cli_aws_init(struct aws_ctx *ctx, const struct cli_common *c);

/* The bucket to use: --bucket, SSMBAK_BUCKET, the SSM parameter our stack
 * writes (/newvoll/ssmbak/stacks/NAME/bucket: --stack NAME, else the only
 * stack),
 * else the Python ssmbak's /newvoll/ssmbak/bucketname. *source says which,
 * for -v. NULL with *e set when none is found. */
char *cli_find_bucket(struct aws_ctx *ctx, const struct cli_common *c,
		      const char **source, struct err *e);

/* -v: the bucket's region and how it was found, once S3 has answered a
 * request for the bucket (S3 names another region in its refusal; a
 * request it accepts proves the region it was sent to). */
void cli_log_bucket_region(const struct aws_ctx *ctx, const char *bucket);

/* Not /ssmbak/...: SSM refuses names prefixed with "ssm" (case-insensitive),
 * https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-parameter-name-constraints.html */
#define SSMBAK_STACK_PARAMETER_PREFIX "/newvoll/ssmbak/stacks/"
#define SSMBAK_LEGACY_BUCKET_PARAMETER "/newvoll/ssmbak/bucketname"

#endif
