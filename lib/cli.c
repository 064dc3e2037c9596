#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "changes.h"
#include "creds.h"
#include "escape.h"
#include "exitcode.h"
#include "s3.h"
#include "ssm.h"
#include "sts.h"
#include "tls.h"
#include "ssm_name.h"
#include "util.h"
#include "verbosity.h"

bool cli_stack_name_is_valid(const char *s)
{
	/* [a-zA-Z][-a-zA-Z0-9]{0,127}: CreateStack's StackName
	 * https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html
	 * It also makes a valid tail of the stack's SSM parameter names
	 * (/newvoll/ssmbak/stacks/NAME/...): "ssmbak" is a good stack name even
	 * though no SSM name may begin with "ssm". */
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')) ||
	    strlen(s) > 128)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-'))
			return false;
	return true;
}

void cli_usage_error(const char *usage, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", progname());
	escape_vfprintf(stderr, fmt, ap); /* arguments are echoed */
	fprintf(stderr, " (see '%s --help')\n", progname());
	va_end(ap);
	(void)usage;
	exit(EXIT_USAGE);
}

void cli_unknown_verb(const char *usage, const char *name, const char *verb,
		      const char *const *verbs, size_t n)
{
	const char *shown = cli_shown_arg(verb);
	for (size_t i = 0; i < n; i++)
		if (strcmp(name, verbs[i]) == 0)
			cli_usage_error(usage, "unknown command '%s'; did you "
					"mean '%s %s %s'?", shown, progname(),
					shown, name);
	cli_usage_error(usage, "unknown command '%s'", shown);
}

const char *cli_shown_arg(const char *arg)
{
	static char shown[100];
	const size_t keep = 80;
	if (escape_controls(shown, keep + 1, arg) > keep)
		snprintf(shown + strlen(shown), sizeof(shown) - strlen(shown),
			 "...");
	return shown;
}

bool cli_common_option(int opt, const char *arg, struct cli_common *c,
		       const char *usage)
{
	switch (opt) {
	case 'r':
		c->region = arg;
		return true;
	case CLI_OPT_PROFILE:
		c->profile = arg;
		return true;
	case 'b':
		if (!s3_bucket_name_is_valid(arg))
			cli_usage_error(usage,
					"'%s' is not a valid S3 bucket name", arg);
		c->bucket = arg;
		return true;
	case CLI_OPT_STACK:
		if (!cli_stack_name_is_valid(arg))
			cli_usage_error(usage, "--stack '%s' is not a stack name (a "
					"letter, then letters, digits and -, at most 128)",
					cli_shown_arg(arg));
		c->stack = arg;
		return true;
	case CLI_OPT_BUCKET_OWNER:
		if (!sts_account_id_is_valid(arg))
			cli_usage_error(usage, "--bucket-owner must be a 12-digit "
					       "AWS account id, not '%s'", arg);
		c->bucket_owner = arg;
		return true;
	case CLI_OPT_OUTPUT:
		if (strcmp(arg, "table") == 0)
			c->output = CLI_OUTPUT_TABLE;
		else if (strcmp(arg, "json") == 0)
			c->output = CLI_OUTPUT_JSON;
		else
			cli_usage_error(usage,
					"--output must be table or json, not '%s'",
					arg);
		return true;
	case CLI_OPT_KEY_PREFIX:
		c->key_prefix = arg;
		return true;
	case 'v':
		if (c->quiet)
			cli_usage_error(usage, "-v and -q contradict each other");
		c->verbose++;
		verbosity_set(c->verbose, false);
		return true;
	case 'q':
		if (c->verbose)
			cli_usage_error(usage, "-v and -q contradict each other");
		c->quiet = true;
		verbosity_set(0, true);
		return true;
	case 'h':
		fputs(usage, stdout);
		exit(EXIT_OK);
	case '?':
	case ':':
		/* getopt already named the bad option on stderr */
		fprintf(stderr, "%s: see '%s --help'\n", progname(), progname());
		exit(EXIT_USAGE);
	default:
		return false;
	}
}

char *cli_path_argument(const char *path, const char *usage)
{
	const char *why = ssm_name_problem(path, SSM_NAME_PATH, NULL);
	if (!*path)
		cli_usage_error(usage, "PATH is empty; give a key like /app/db/url "
				       "or a path like /app/");
	if (why)
		cli_usage_error(usage, "PATH '%s' %s", cli_shown_arg(path), why);
	return xasprintf("%s%s", path[0] == '/' ? "" : "/", path);
}

char *cli_key_prefix(const struct cli_common *c, const char *usage)
{
	const char *given = c->key_prefix ? c->key_prefix : getenv("SSMBAK_KEY_PREFIX");
	char *prefix = changes_normalize_prefix(given);
	if (!prefix)
		cli_usage_error(usage, "key prefix '%s' has an empty level or a "
				"character other than letters, digits, _ . - /",
				given);
	if (*prefix)
		log_msg(LOG_INFO, "key prefix %s (from %s)", prefix,
			c->key_prefix ? "--key-prefix" : "SSMBAK_KEY_PREFIX");
	return prefix;
}

void cli_aws_init(struct aws_ctx *ctx, const struct cli_common *c)
{
	struct err e = { 0 };
	verbosity_set(c->verbose, c->quiet);
	struct aws_options opts = { c->region, c->profile };
	if (aws_ctx_init(ctx, &opts, &e) < 0)
		die_err(&e);
	if (c->verbose > 1)
		http_client_set_trace(ctx->http, verbosity_trace_request, NULL);
	log_msg(LOG_INFO, "region %s (from %s)", ctx->region,
		ctx->region_source);
	log_msg(LOG_INFO, "credentials from %s", creds_describe(ctx->creds));
	log_msg(LOG_INFO, "TLS trusts the CA certificates of %s",
		tls_ca_source());
	if (sts_expect_bucket_owner(ctx, c->bucket_owner, &e) < 0)
		die_err(&e);
	log_msg(LOG_INFO, "buckets must belong to account %s", ctx->bucket_owner);
}

static char *parameter_value(struct aws_ctx *ctx, const char *name,
			     struct err *e)
{
	struct ssm_parameter p;
	if (ssm_get_parameter(ctx, name, &p, e) < 0)
		return NULL;
	char *value = p.value ? strdup(p.value) : NULL;
	ssm_parameter_release(&p);
	return value;
}

/* The stacks' parameters are /newvoll/ssmbak/stacks/NAME/bucket: one stack
 * found is the answer, several need --stack. */
static char *bucket_of_only_stack(struct aws_ctx *ctx, struct err *e,
				  bool *found_any)
{
	struct ssm_parameter_list found = { 0 };
	json_t *filters = json_pack("[{s:s, s:s, s:[s]}]", "Key", "Path",
				    "Option", "Recursive", "Values",
				    SSMBAK_STACK_PARAMETER_PREFIX);
	int rc = ssm_describe_parameters(ctx, filters, &found, e);
	json_decref(filters);
	char *bucket = NULL;
	const char *only = NULL;
	size_t stacks = 0;
	struct buf names = BUF_INIT;
	const size_t prefix_len = strlen(SSMBAK_STACK_PARAMETER_PREFIX);
	const size_t suffix_len = strlen("/bucket");
	for (size_t i = 0; rc == 0 && i < found.n; i++) {
		const char *name = found.items[i].name;
		size_t len = strlen(name);
		/* The answer is not trusted to hold only names under the path
		 * asked for: PREFIX + STACK + /bucket, STACK not empty. */
		if (len > prefix_len + suffix_len &&
		    strncmp(name, SSMBAK_STACK_PARAMETER_PREFIX, prefix_len) == 0 &&
		    strcmp(name + len - suffix_len, "/bucket") == 0) {
			stacks++;
			only = name;
			buf_printf(&names, "%s%.*s", stacks > 1 ? ", " : "",
				   (int)(len - suffix_len - prefix_len),
				   name + prefix_len);
		}
	}
	*found_any = stacks > 0;
	if (stacks == 1)
		bucket = parameter_value(ctx, only, e);
	else if (stacks > 1)
		err_set(e, ERR_CONFIG,
			"several ssmbak stacks in this region (%s): choose one "
			"with --stack NAME or --bucket BUCKET",
			buf_str(&names));
	buf_release(&names);
	ssm_parameter_list_release(&found);
	return bucket;
}

static char *find_bucket(struct aws_ctx *ctx, const struct cli_common *c,
			 const char **source, struct err *e)
{
	const char *env = getenv("SSMBAK_BUCKET");
	char *bucket = NULL;
	if (c->bucket) {
		*source = "--bucket";
		return strdup(c->bucket);
	}
	if (env && *env) {
		*source = "SSMBAK_BUCKET";
		return strdup(env);
	}
	if (c->stack) {
		char *name = NULL;
		if (asprintf(&name, SSMBAK_STACK_PARAMETER_PREFIX "%s/bucket",
			     c->stack) < 0)
			return NULL;
		bucket = parameter_value(ctx, name, e);
		*source = "the stack's SSM parameter";
		if (!bucket && strcmp(e->code, "ParameterNotFound") == 0)
			err_set(e, ERR_CONFIG,
				"no ssmbak stack '%s' in %s (no parameter %s); "
				"check --stack and --region", c->stack,
				ctx->region, name);
		free(name);
		return bucket;
	}
	bool found_stack = false;
	bucket = bucket_of_only_stack(ctx, e, &found_stack);
	if (bucket || found_stack) {
		*source = "the stack's SSM parameter";
		return bucket;
	}
	if (e->kind != ERR_NONE)
		return NULL;
	bucket = parameter_value(ctx, SSMBAK_LEGACY_BUCKET_PARAMETER, e);
	*source = SSMBAK_LEGACY_BUCKET_PARAMETER;
	if (!bucket && strcmp(e->code, "ParameterNotFound") == 0)
		err_set(e, ERR_CONFIG,
			"no bucket: give --bucket or SSMBAK_BUCKET, or create "
			"the stack with 'ssmbak stack NAME create' (no ssmbak "
			"stack found in %s)", ctx->region);
	return bucket;
}

char *cli_find_bucket(struct aws_ctx *ctx, const struct cli_common *c,
		      const char **source, struct err *e)
{
	char *bucket = find_bucket(ctx, c, source, e);
	/* What SSM or the environment holds is not taken on trust; the value
	 * itself is not shown (it is a parameter's value). */
	if (bucket && !s3_bucket_name_is_valid(bucket)) {
		err_set(e, ERR_CONFIG, "%s does not hold an S3 bucket name",
			*source);
		free(bucket);
		return NULL;
	}
	return bucket;
}

void cli_log_bucket_region(const struct aws_ctx *ctx, const char *bucket)
{
	const char *region = aws_bucket_region(ctx, bucket);
	if (region != ctx->region)
		log_msg(LOG_INFO, "bucket %s: region %s (from %s)", bucket,
			region, ctx->bucket_region_source);
	else
		log_msg(LOG_INFO, "bucket %s: region %s (the region from %s: S3 "
			"answered requests signed for it)", bucket, region,
			ctx->region_source);
}
