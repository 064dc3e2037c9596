/* export: a tree's recorded state at TIME in a format other tools read.
 * Data path: choose per key as preview does (lib/state) -> names ->
 * refuse SecureStrings unless asked -> write.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "lib/cli.h"
#include "lib/cmdargs.h"
#include "lib/exitcode.h"
#include "lib/export_fmt.h"
#include "lib/state.h"
#include "lib/timefmt.h"
#include "lib/util.h"

static const char usage[] =
	"usage: ssmbak export PATH TIME --format json|yaml|dotenv|shell|tfvars [-R]\n"
	"                     [--show-secure] [--key-prefix PREFIX] [-b BUCKET]\n"
	"                     [--stack NAME] [-r REGION] [--profile NAME] [-v | -q]\n"
	"\n"
	"Write the parameters under PATH as they were at TIME, for other tools.\n"
	"Names are taken below PATH; dotenv and shell upper-case them and turn\n"
	"every other character into '_' (see man ssmbak-export).\n"
	"\n"
	"      --format FORMAT  json, yaml, dotenv, shell or tfvars (required)\n"
	"  -R, --recursive      the whole tree under PATH, not only its direct children\n"
	"      --show-secure    write SecureString values; without it a tree\n"
	"                       holding any is refused (exit 2)\n"
	"      --key-prefix PREFIX  keys live under PREFIX in the bucket\n"
	"                       (default: SSMBAK_KEY_PREFIX, else none)\n"
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
	"PATH ending in / is a path; otherwise the key PATH if it was ever backed\n"
	"up, else the path PATH/. TIME is UTC: " TIME_ARG_FORMS ".\n"
	"Exit status: 0 ok, 1 failure, 2 usage error (or SecureStrings without\n"
	"--show-secure), 3 configuration error.\n";

enum { OPT_FORMAT = CLI_OPT_FIRST_FREE, OPT_SHOW_SECURE };

static const struct option longopts[] = {
	CLI_COMMON_LONG_OPTIONS,
	{ "recursive", no_argument, NULL, 'R' },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "show-secure", no_argument, NULL, OPT_SHOW_SECURE },
	CLI_KEY_PREFIX_OPTION,
	{ NULL, 0, NULL, 0 },
};

static const char shortopts[] = "+R" CLI_COMMON_SHORT_OPTIONS;

struct export_opts {
	struct cli_common common;
	char *path;
	time_t time;
	bool recursive, show_secure;
	enum export_format format;
};

static void parse(int argc, char **argv, struct export_opts *o)
{
	static struct cmd_words w;
	cmd_words_split(argc, argv, longopts, shortopts, &w);
	const char *format = NULL;
	int c;
	opterr = 1;
	while ((c = getopt_long(w.n_opts, w.opts, shortopts, longopts, NULL)) != -1) {
		if (cli_common_option(c, optarg, &o->common, usage))
			continue;
		switch (c) {
		case 'R': o->recursive = true; break;
		case OPT_FORMAT: format = optarg; break;
		case OPT_SHOW_SECURE: o->show_secure = true; break;
		}
	}
	if (optind < w.n_opts)
		cli_usage_error(usage, "unexpected argument '%s'", w.opts[optind]);
	if (w.n_pos < 2)
		cli_usage_error(usage, "PATH and TIME are required");
	if (w.n_pos > 2)
		cli_usage_error(usage, "too many arguments: '%s'",
				cli_shown_arg(w.pos[2]));
	if (!format)
		cli_usage_error(usage, "--format is required: json, yaml, dotenv, "
				       "shell or tfvars");
	if (export_format_parse(format, &o->format) < 0)
		cli_usage_error(usage, "--format '%s' is not one of json, yaml, "
			"dotenv, shell, tfvars", cli_shown_arg(format));
	o->path = cli_path_argument(w.pos[0], usage);
	o->time = cmd_time_arg("TIME", w.pos[1], usage);
	cmd_words_release(&w);
}

/* Refuses, before anything is written, a tree holding SecureStrings
 * when their values were not asked for: an explicit choice either way. */
static void check_secure(const struct tree_state *s, const struct export_opts *o)
{
	size_t secure = 0;
	const char *first = NULL;
	for (size_t i = 0; i < s->n; i++)
		if (!s->items[i].deleted && s->items[i].rec.param.type &&
		    strcmp(s->items[i].rec.param.type, "SecureString") == 0) {
			first = first ? first : s->items[i].key;
			secure++;
		}
	if (secure && !o->show_secure)
		die(EXIT_USAGE, "%s holds %zu SecureString parameter%s (%s%s): "
		    "give --show-secure to export their values", o->path, secure,
		    secure == 1 ? "" : "s", first, secure > 1 ? ", ..." : "");
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct export_pair *)a)->name,
		      ((const struct export_pair *)b)->name);
}

int cmd_export(int argc, char **argv)
{
	struct export_opts o = { 0 };
	struct aws_ctx ctx;
	struct err e = { 0 };
	struct tree_state s;
	const char *source = NULL;
	parse(argc, argv, &o);
	char *prefix = cli_key_prefix(&o.common, usage);
	cli_aws_init(&ctx, &o.common);
	char *bucket = cli_find_bucket(&ctx, &o.common, &source, &e);
	if (!bucket)
		die_err(&e);
	log_msg(LOG_INFO, "bucket %s (from %s)", bucket, source);
	struct state_query q = { bucket, prefix, o.path, o.recursive, o.time };
	if (tree_state_at(&ctx, &q, &s, &e) < 0)
		die_err(&e);
	for (size_t i = 0; i < s.n; i++)
		if (s.items[i].gap)
			die(EXIT_FAILURE_RUN, "%s: its value at that time was never "
			    "recorded (a gap: the change was read too late); export "
			    "a time after its next recorded change", s.items[i].key);
	check_secure(&s, &o);
	struct export_pair *pairs = xcalloc(s.n + 1, sizeof(*pairs));
	size_t n = 0;
	for (size_t i = 0; i < s.n; i++) {
		if (s.items[i].deleted)
			continue;
		char *relative = export_relative_name(s.items[i].key, s.scope, s.key_mode);
		char *name = relative ? export_variable_name(relative, o.format) : NULL;
		if (!name)
			die(EXIT_FAILURE_RUN, "out of memory");
		free(relative);
		pairs[n++] = (struct export_pair){ name, s.items[i].rec.param.value };
	}
	qsort(pairs, n, sizeof(*pairs), by_name);
	for (size_t i = 1; i < n; i++)
		if (strcmp(pairs[i - 1].name, pairs[i].name) == 0)
			die(EXIT_FAILURE_RUN, "two parameters under %s both become "
			    "%s: export them from separate paths", o.path,
			    pairs[i].name);
	if (export_write(stdout, o.format, pairs, n) < 0)
		die(EXIT_FAILURE_RUN, "out of memory (or a value is not UTF-8)");
	for (size_t i = 0; i < n; i++)
		free((char *)pairs[i].name);
	free(pairs);
	tree_state_release(&s);
	free(bucket);
	free(prefix);
	free(o.path);
	aws_ctx_release(&ctx);
	return EXIT_OK;
}
