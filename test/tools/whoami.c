/* Resolves region and credentials exactly as every command does
 * (aws_ctx_init), then asks STS GetCallerIdentity who signed, so the e2e
 * tests can check each credential source end to end.
 *
 * usage: whoami [--profile NAME] [--region REGION] [--calls N]
 *               [--interval-ms MS]
 *
 * out, one "key=value" a line (never a secret or token):
 *   credentials=<where they came from, creds_describe()>
 *   region=<region> (<its source>)
 * then for each call:
 *   access_key_id=<the key that signed>
 *   arn=<the caller's ARN>
 * Errors: one line on stderr, exit status by the documented table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../lib/aws.h"
#include "../../lib/creds.h"
#include "../../lib/err.h"
#include "../../lib/exitcode.h"
#include "../../lib/sts.h"

static int fail(const struct err *e)
{
	char line[ERR_LINE_MAX];
	fprintf(stderr, "whoami: %s\n", err_line(e, line, sizeof(line)));
	return err_exit_code(e);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0)
		;
}

int main(int argc, char **argv)
{
	struct aws_options opts = { 0 };
	long calls = 1, interval_ms = 0;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1]
								 : NULL;
		if (!value) {
			fprintf(stderr, "whoami: %s needs a value\n", arg);
			return EXIT_USAGE;
		}
		if (strcmp(arg, "--profile") == 0)
			opts.profile = value;
		else if (strcmp(arg, "--region") == 0)
			opts.region = value;
		else if (strcmp(arg, "--calls") == 0)
			calls = strtol(value, NULL, 10);
		else if (strcmp(arg, "--interval-ms") == 0)
			interval_ms = strtol(value, NULL, 10);
		else {
			fprintf(stderr, "whoami: unknown option %s\n", arg);
			return EXIT_USAGE;
		}
		i++;
	}

	struct aws_ctx ctx;
	struct err e = { 0 };
	if (aws_ctx_init(&ctx, &opts, &e) < 0)
		return fail(&e);
	printf("credentials=%s\nregion=%s (%s)\n", creds_describe(ctx.creds),
	       ctx.region, ctx.region_source);
	fflush(stdout);
	int status = EXIT_OK;
	for (long i = 0; i < calls && status == EXIT_OK; i++) {
		if (i > 0)
			sleep_ms(interval_ms);
		struct sts_identity id;
		const struct aws_credentials *creds;
		if (sts_get_caller_identity(&ctx, &id, &e) < 0) {
			status = fail(&e);
			break;
		}
		/* The cache holds what signed the call just made. */
		if (creds_get(ctx.creds, &creds, &e) < 0) {
			status = fail(&e);
		} else {
			printf("access_key_id=%s\narn=%s\n",
			       creds->access_key_id, id.arn);
			fflush(stdout);
		}
		sts_identity_release(&id);
	}
	aws_ctx_release(&ctx);
	return status;
}
