/* history: every recorded change of one key, newest first. Data path:
 * list the key's change index entries and its data versions (two
 * requests up to 1,000 changes) -> tags of the versions no entry names
 * -> gaps -> with --show-values, each version's body -> print.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "lib/changelog.h"
#include "lib/changeshow.h"
#include "lib/cli.h"
#include "lib/cmdargs.h"
#include "lib/exitcode.h"
#include "lib/record.h"
#include "lib/timefmt.h"
#include "lib/util.h"

static const char usage[] =
	"usage: ssmbak history KEY [--since TIME] [--until TIME] [--show-values]\n"
	"                      [--show-secure] [--key-prefix PREFIX]\n"
	"                      [--output table|json] [-b BUCKET] [--stack NAME]\n"
	"                      [-r REGION] [--profile NAME] [-v | -q]\n"
	"\n"
	"Show every recorded change of the parameter KEY, newest first: event\n"
	"time, operation, SSM version, user, type, description and labels, and\n"
	"the versions no change recorded (gaps). Deleted keys too.\n"
	"\n"
	"      --since TIME     only changes at or after TIME\n"
	"      --until TIME     only changes at or before TIME (default: now)\n"
	"      --show-values    show each version's value (reads each version)\n"
	"      --show-secure    show SecureString values (masked otherwise)\n"
	"      --key-prefix PREFIX  keys live under PREFIX in the bucket\n"
	"                       (default: SSMBAK_KEY_PREFIX, else none)\n"
	"      --output FORMAT  table (default) or json\n"
	"  -b, --bucket BUCKET  the backup bucket (default: SSMBAK_BUCKET, the stack's)\n"
	"      --stack NAME     find the bucket of this ssmbak stack\n"
	"  -r, --region REGION  AWS region (default: AWS_REGION, profile)\n"
	"      --profile NAME   AWS profile (default: AWS_PROFILE)\n"
	"      --bucket-owner ACCOUNT  refuse a bucket of another account (default:\n"
	"                       SSMBAK_BUCKET_OWNER, else your own account)\n"
	"  -v, --verbose        say what is done on stderr (-vv: every request)\n"
	"  -q, --quiet          print only results and errors (no warnings, no\n"
	"                       progress)\n"
	"  -h, --help           show this help\n"
	"\n"
	"TIME is UTC: " TIME_ARG_FORMS ".\n"
	"Exit status: 0 ok, 1 failure, 2 usage error, 3 configuration error.\n";

enum { OPT_SINCE = CLI_OPT_FIRST_FREE, OPT_UNTIL, OPT_SHOW_VALUES, OPT_SHOW_SECURE };

static const struct option longopts[] = {
	CLI_COMMON_LONG_OPTIONS,
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "until", required_argument, NULL, OPT_UNTIL },
	{ "show-values", no_argument, NULL, OPT_SHOW_VALUES },
	{ "show-secure", no_argument, NULL, OPT_SHOW_SECURE },
	CLI_KEY_PREFIX_OPTION,
	{ NULL, 0, NULL, 0 },
};

static const char shortopts[] = "+" CLI_COMMON_SHORT_OPTIONS;

struct history_opts {
	struct cli_common common;
	char *key;
	time_t since, until;
	bool show_values, show_secure;
};

static void parse(int argc, char **argv, struct history_opts *o)
{
	/* static: a usage error exits from inside and leaves nothing behind */
	static struct cmd_words w;
	cmd_words_split(argc, argv, longopts, shortopts, &w);
	const char *since = NULL, *until = NULL;
	int c;
	opterr = 1;
	while ((c = getopt_long(w.n_opts, w.opts, shortopts, longopts, NULL)) != -1) {
		if (cli_common_option(c, optarg, &o->common, usage))
			continue;
		switch (c) {
		case OPT_SINCE: since = optarg; break;
		case OPT_UNTIL: until = optarg; break;
		case OPT_SHOW_VALUES: o->show_values = true; break;
		case OPT_SHOW_SECURE: o->show_secure = true; break;
		}
	}
	if (optind < w.n_opts)
		cli_usage_error(usage, "unexpected argument '%s'", w.opts[optind]);
	if (w.n_pos == 0)
		cli_usage_error(usage, "KEY is required");
	if (w.n_pos > 1)
		cli_usage_error(usage, "too many arguments: '%s'",
				cli_shown_arg(w.pos[1]));
	if (w.pos[0][0] && w.pos[0][strlen(w.pos[0]) - 1] == '/')
		cli_usage_error(usage, "KEY '%s' is a path: give one parameter, "
			"or use 'ssmbak log' for a tree", cli_shown_arg(w.pos[0]));
	o->key = cli_path_argument(w.pos[0], usage);
	o->since = since ? cmd_time_arg("--since", since, usage) : 0;
	o->until = until ? cmd_time_arg("--until", until, usage) : time(NULL);
	if (o->since > o->until)
		cli_usage_error(usage, "--since is after --until");
	cmd_words_release(&w);
}

/* The rows in [since, until]; gaps were found on the whole story. */
static bool in_window(const struct change_row *row, void *user)
{
	const struct history_opts *o = user;
	return row->c.event_time >= o->since && row->c.event_time <= o->until;
}

int cmd_history(int argc, char **argv)
{
	struct history_opts o = { 0 };
	struct aws_ctx ctx;
	struct err e = { 0 };
	struct change_rows rows = { 0 };
	const char *source = NULL;
	parse(argc, argv, &o);
	char *prefix = cli_key_prefix(&o.common, usage);
	cli_aws_init(&ctx, &o.common);
	char *bucket = cli_find_bucket(&ctx, &o.common, &source, &e);
	if (!bucket)
		die_err(&e);
	log_msg(LOG_INFO, "bucket %s (from %s)", bucket, source);
	if (changelog_of_key(&ctx, bucket, prefix, o.key, &rows, &e) < 0)
		die_err(&e);
	changelog_order(&rows);
	if (changelog_add_gaps(&rows) < 0)
		die(EXIT_FAILURE_RUN, "out of memory");
	changelog_order(&rows);
	change_rows_keep(&rows, in_window, &o);
	if (changelog_fetch(&ctx, bucket, prefix, &rows, o.show_values, &e) < 0)
		die_err(&e);
	if (!rows.n)
		log_msg(LOG_WARN, "no recorded change of %s in that time", o.key);
	struct changeshow_opts show = { .output = o.common.output,
					.with_values = o.show_values,
					.show_secure = o.show_secure,
					.with_details = true };
	if (changeshow_print(&rows, &show) < 0)
		die(EXIT_FAILURE_RUN, "out of memory (or a value is not UTF-8)");
	change_rows_release(&rows);
	free(bucket);
	free(prefix);
	free(o.key);
	aws_ctx_release(&ctx);
	return EXIT_OK;
}
