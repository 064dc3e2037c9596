/* log: the tree's changelog, newest first. Data path: list the log's
 * hours in the window (FORMAT.md, "The log": one listing an hour, however
 * long the tree's history) -> keep PATH's keys -> gaps -> print. Values
 * are never read.
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
#include "lib/scope.h"
#include "lib/timefmt.h"
#include "lib/util.h"

static const char usage[] =
	"usage: ssmbak log PATH [-R] [--since TIME] [--until TIME]\n"
	"                  [--key-prefix PREFIX] [--output table|json] [-b BUCKET]\n"
	"                  [--stack NAME] [-r REGION] [--profile NAME] [-v | -q]\n"
	"\n"
	"Show every change under PATH in a time window, newest first: time, name,\n"
	"operation, SSM version and user, deletes and gaps included; never values.\n"
	"\n"
	"  -R, --recursive      the whole tree under PATH, not only its direct children\n"
	"      --since TIME     from TIME (default: 24 hours before --until)\n"
	"      --until TIME     up to TIME (default: now)\n"
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
	"PATH ending in / is a path; otherwise the key PATH if it changed in the\n"
	"window, else the path PATH/. TIME is UTC: " TIME_ARG_FORMS ".\n"
	"Exit status: 0 ok, 1 failure, 2 usage error, 3 configuration error.\n";

#define DEFAULT_WINDOW_SECONDS (24 * 3600)

enum { OPT_SINCE = CLI_OPT_FIRST_FREE, OPT_UNTIL };

static const struct option longopts[] = {
	CLI_COMMON_LONG_OPTIONS,
	{ "recursive", no_argument, NULL, 'R' },
	{ "since", required_argument, NULL, OPT_SINCE },
	{ "until", required_argument, NULL, OPT_UNTIL },
	CLI_KEY_PREFIX_OPTION,
	{ NULL, 0, NULL, 0 },
};

static const char shortopts[] = "+R" CLI_COMMON_SHORT_OPTIONS;

struct log_opts {
	struct cli_common common;
	char *path;
	bool recursive;
	time_t since, until;
};

static void parse(int argc, char **argv, struct log_opts *o)
{
	static struct cmd_words w;
	cmd_words_split(argc, argv, longopts, shortopts, &w);
	const char *since = NULL, *until = NULL;
	int c;
	opterr = 1;
	while ((c = getopt_long(w.n_opts, w.opts, shortopts, longopts, NULL)) != -1) {
		if (cli_common_option(c, optarg, &o->common, usage))
			continue;
		switch (c) {
		case 'R': o->recursive = true; break;
		case OPT_SINCE: since = optarg; break;
		case OPT_UNTIL: until = optarg; break;
		}
	}
	if (optind < w.n_opts)
		cli_usage_error(usage, "unexpected argument '%s'", w.opts[optind]);
	if (w.n_pos == 0)
		cli_usage_error(usage, "PATH is required");
	if (w.n_pos > 1)
		cli_usage_error(usage, "too many arguments: '%s'",
				cli_shown_arg(w.pos[1]));
	o->path = cli_path_argument(w.pos[0], usage);
	o->until = until ? cmd_time_arg("--until", until, usage) : time(NULL);
	o->since = since ? cmd_time_arg("--since", since, usage)
			 : o->until - DEFAULT_WINDOW_SECONDS;
	if (o->since > o->until)
		cli_usage_error(usage, "--since is after --until");
	cmd_words_release(&w);
}

/* The key PATH or anything below PATH/: which of the two PATH means is
 * decided once the window's changes are known. */
static bool under_path(const char *key, void *user)
{
	const char *path = user;
	size_t len = strlen(path);
	return strncmp(key, path, len) == 0 &&
	       (key[len] == '\0' || path[len - 1] == '/' || key[len] == '/');
}

static int by_key(const void *a, const void *b)
{
	return strcmp(((const struct change_row *)a)->key,
		      ((const struct change_row *)b)->key);
}

static bool admitted(const struct change_row *row, void *user)
{
	return scope_admits(user, row->key);
}

/* Which keys PATH means (lib/scope): the first key in key order decides
 * whether PATH is a key. */
static void keep_scope(struct change_rows *r, const struct log_opts *o)
{
	struct scope sc;
	if (scope_init(&sc, o->path, o->recursive) < 0)
		die(EXIT_FAILURE_RUN, "out of memory");
	if (r->n) /* items is NULL while there are none */
		qsort(r->items, r->n, sizeof(*r->items), by_key);
	change_rows_keep(r, admitted, &sc);
	scope_release(&sc);
}

int cmd_log(int argc, char **argv)
{
	struct log_opts o = { 0 };
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
	if (changelog_window(&ctx, bucket, prefix, o.since, o.until, under_path,
			     o.path, &rows, &e) < 0)
		die_err(&e);
	keep_scope(&rows, &o);
	changelog_order(&rows);
	if (changelog_add_gaps(&rows) < 0)
		die(EXIT_FAILURE_RUN, "out of memory");
	changelog_order(&rows);
	struct changeshow_opts show = { .output = o.common.output,
					.with_names = true };
	if (changeshow_print(&rows, &show) < 0)
		die(EXIT_FAILURE_RUN, "out of memory");
	change_rows_release(&rows);
	free(bucket);
	free(prefix);
	free(o.path);
	aws_ctx_release(&ctx);
	return EXIT_OK;
}
