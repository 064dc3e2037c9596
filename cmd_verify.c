/* ssmbak verify: whether the bucket holds every change SSM made under
 * PATH, and with --repair records what the events missed. Data path and
 * rules: lib/reconcile.c (FORMAT.md, "Repairs"). */
static const char usage[] =
	"usage: ssmbak verify [PATH] [-R] [--repair] [--min-age SECONDS]\n"
	"                     [--output table|json] [-b BUCKET] [--stack NAME]\n"
	"                     [--key-prefix PREFIX] [-r REGION] [--profile NAME] [-v | -q]\n"
	"\n"
	"Compare SSM's parameters under PATH with the bucket's change index and\n"
	"list what the bucket lacks: versions SSM has that were never recorded\n"
	"(missed changes), parameters SSM no longer has whose delete was never\n"
	"recorded (missed deletes), gaps (changes whose value was not captured)\n"
	"and versions without an index entry (run 'ssmbak reindex'). Without\n"
	"PATH, the whole bucket. Values are never shown.\n"
	"\n"
	"  -R, --recursive      the whole tree under PATH, not only its direct children\n"
	"      --repair         record each missed version from SSM's history (its\n"
	"                       exact time, to the second) and each missed delete (at\n"
	"                       the time noticed, marked approximate); fill the gaps\n"
	"                       that name a version SSM's history still has\n"
	"      --min-age SECONDS  leave alone changes younger than SECONDS, whose\n"
	"                       events may still be on their way (default: 0)\n"
	"      --output FORMAT  table (default) or json\n"
	"  -b, --bucket BUCKET  the backup bucket (default: SSMBAK_BUCKET, the stack's)\n"
	"      --stack NAME     find the bucket of this ssmbak stack\n"
	"      --key-prefix PREFIX  keys live under PREFIX in the bucket\n"
	"                       (default: SSMBAK_KEY_PREFIX, else none)\n"
	"  -r, --region REGION  AWS region (default: AWS_REGION, profile)\n"
	"      --profile NAME   AWS profile (default: AWS_PROFILE)\n"
	"  -v, --verbose        say what is done on stderr\n"
	"  -q, --quiet          print only results and errors (no warnings, no\n"
	"                       progress)\n"
	"  -h, --help           show this help\n"
	"\n"
	"PATH ending in / is a path; otherwise the key PATH if it was ever backed\n"
	"up, else the path PATH/.\n"
	"Exit status: 0 the bucket is complete for PATH (after --repair: everything\n"
	"found was repaired), 1 something is missing or failed (listed), 2 usage\n"
	"error, 3 configuration error.\n";

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "commands.h"
#include "lib/cli.h"
#include "lib/exitcode.h"
#include "lib/progress.h"
#include "lib/reconcile.h"
#include "lib/table.h"
#include "lib/timefmt.h"
#include "lib/util.h"

struct verify {
	struct cli_common common;
	char *path;
	bool recursive;
	bool repair;
	long min_age;
};

enum { OPT_REPAIR = CLI_OPT_FIRST_FREE, OPT_MIN_AGE };

static long parse_seconds(const char *arg)
{
	char *end = NULL;
	errno = 0;
	long v = strtol(arg, &end, 10);
	if (errno || !end || end == arg || *end || v < 0)
		cli_usage_error(usage, "--min-age wants a number of seconds, not "
				"'%s'", cli_shown_arg(arg));
	return v;
}

static void parse_args(struct verify *v, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONG_OPTIONS,
		CLI_KEY_PREFIX_OPTION,
		{ "recursive", no_argument, NULL, 'R' },
		{ "repair", no_argument, NULL, OPT_REPAIR },
		{ "min-age", required_argument, NULL, OPT_MIN_AGE },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "R" CLI_COMMON_SHORT_OPTIONS, longopts,
				NULL)) != -1) {
		if (cli_common_option(c, optarg, &v->common, usage))
			continue;
		if (c == 'R')
			v->recursive = true;
		else if (c == OPT_REPAIR)
			v->repair = true;
		else if (c == OPT_MIN_AGE)
			v->min_age = parse_seconds(optarg);
	}
	if (argc - optind > 1)
		cli_usage_error(usage, "too many arguments: '%s'",
				cli_shown_arg(argv[optind + 1]));
	if (optind < argc) {
		v->path = cli_path_argument(argv[optind], usage);
	} else {
		v->path = xstrdup("/");
		v->recursive = true;
	}
}

/* lib/progress decides whether and how often (a terminal, not -q). */
static void show_progress(void *user, const char *phase, size_t done)
{
	progress_show(user, "%zu %s", done, phase);
}

/* --- output --- */

static void print_table(const struct rc_report *r)
{
	static const char *const headers[] = { "PROBLEM", "NAME", "VERSION",
					       "TIME", "OUTCOME", "DETAIL" };
	struct table *t = table_new(headers, 6);
	for (size_t i = 0; t && i < r->n; i++) {
		const struct rc_finding *f = &r->items[i];
		char version[32] = "", when[32] = "";
		if (f->version > 0)
			snprintf(version, sizeof(version), "%lld", f->version);
		if (f->event_time > 0)
			time_format_table(f->event_time, when);
		const char *cells[] = { rc_kind_name(f->kind), f->name, version, when,
					rc_outcome_name(f->outcome), f->reason };
		if (table_add_row(t, cells) < 0)
			die(EXIT_FAILURE_RUN, "out of memory");
	}
	if (!t || (r->n && table_print(t, stdout, TABLE_WRAP) < 0))
		die(EXIT_FAILURE_RUN, "out of memory");
	table_free(t);
}

static void print_json(const struct rc_report *r)
{
	json_t *list = json_array();
	for (size_t i = 0; list && i < r->n; i++) {
		const struct rc_finding *f = &r->items[i];
		char when[32];
		time_format_iso(f->event_time, when);
		json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:I, s:s, s:s}", "problem",
				      rc_kind_name(f->kind), "name", f->name,
				      "version", (json_int_t)f->version, "time", when,
				      "time_epoch", (json_int_t)f->event_time,
				      "outcome", rc_outcome_name(f->outcome),
				      "detail", f->reason);
		if (o && f->last_modified > 0)
			json_object_set_new(o, "last_modified",
					    json_real(f->last_modified));
		if (o && f->version_id)
			json_object_set_new(o, "version_id", json_string(f->version_id));
		if (!o || json_array_append_new(list, o) < 0)
			die(EXIT_FAILURE_RUN, "out of memory");
	}
	if (!list || json_dumpf(list, stdout, JSON_INDENT(2)) < 0)
		die(EXIT_FAILURE_RUN, "out of memory");
	fputc('\n', stdout);
	json_decref(list);
}

static void print_summary(const struct verify *v, const struct rc_report *r)
{
	size_t counts[4] = { 0 };
	for (size_t i = 0; i < r->n; i++)
		counts[r->items[i].kind]++;
	fprintf(stderr, "%s: %zu keys in the bucket, %zu parameters in SSM, %zu "
			"histories read: %zu missed versions, %zu missed deletes, "
			"%zu gaps, %zu unindexed",
		progname(), r->keys, r->parameters, r->histories,
		counts[RC_MISSED_VERSION], counts[RC_MISSED_DELETE], counts[RC_GAP],
		counts[RC_UNINDEXED]);
	if (v->repair)
		fprintf(stderr, "; repaired %zu versions, %zu deletes, %zu gaps, "
				"%zu failed",
			r->repaired_versions, r->repaired_deletes, r->filled_gaps,
			r->failed);
	fputs(rc_report_complete(r) ? "; the bucket is complete\n"
				    : "; the bucket is not complete\n", stderr);
}

/* A full disk or a closed pipe is a failure to say, not a success. */
static bool results_written(void)
{
	if (fflush(stdout) == 0 && !ferror(stdout))
		return true;
	fprintf(stderr, "%s: the results could not be written to standard "
			"output: %s\n", progname(), strerror(errno ? errno : EIO));
	return false;
}

int cmd_verify(int argc, char **argv)
{
	struct verify v = { 0 };
	struct aws_ctx ctx = { 0 };
	struct err e = { 0 };
	const char *source = NULL;
	parse_args(&v, argc, argv);
	char *prefix = cli_key_prefix(&v.common, usage);
	cli_aws_init(&ctx, &v.common);
	char *bucket = cli_find_bucket(&ctx, &v.common, &source, &e);
	if (!bucket)
		die_err(&e);
	log_msg(LOG_INFO, "bucket %s (from %s)", bucket, source);
	struct progress progress;
	progress_init(&progress, "");
	struct rc_opts o = {
		.bucket = bucket, .prefix = prefix, .path = v.path,
		.recursive = v.recursive, .repair = v.repair, .now = time(NULL),
		.min_age = v.min_age, .progress = show_progress,
		.progress_user = &progress,
	};
	struct rc_report report;
	int rc = reconcile_run(&ctx, &ctx, &o, &report, &e);
	progress_end(&progress);
	if (rc < 0)
		die_err(&e);
	if (v.common.output == CLI_OUTPUT_JSON)
		print_json(&report);
	else
		print_table(&report);
	print_summary(&v, &report);
	int status = rc_report_complete(&report) && results_written()
			     ? EXIT_OK
			     : EXIT_FAILURE_RUN;
	rc_report_release(&report);
	free(bucket);
	free(prefix);
	free(v.path);
	aws_ctx_release(&ctx);
	return status;
}
