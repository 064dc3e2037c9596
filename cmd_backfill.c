/* ssmbak backfill (alias ssmbak-all): seed the bucket with what backups
 * that start with the stack never saw. The data path, in order: list the
 * parameters -> list the bucket's versions -> choose what is missing ->
 * read the values -> write them as backup-lambda would (FORMAT.md). */
static const char usage[] =
	"usage: ssmbak backfill [PATH]... [-R] [--name-prefix PREFIX]... [--do-it]\n"
	"                       [--all | --missing-only]\n"
	"                       [-r REGION] [--profile NAME] [-b BUCKET | --stack NAME]\n"
	"                       [--key-prefix PREFIX] [--output table|json] [-v | -q]\n"
	"\n"
	"Back up every parameter's current value and metadata into the ssmbak\n"
	"bucket, each with its own last-modified time as the event time. Without\n"
	"--do-it, only show what would be written. Also installed as ssmbak-all.\n"
	"Without PATH or --name-prefix, every parameter.\n"
	"\n"
	"  -R, --recursive      the whole tree under PATH, not only its direct children\n"
	"      --name-prefix PREFIX  also names that begin with PREFIX, with or\n"
	"                       without the leading slash (/app takes /apple too)\n"
	"  -p, --prefix PREFIX  deprecated spelling of --name-prefix\n"
	"      --do-it          write; without it nothing is written\n"
	"      --missing-only   skip parameters whose latest backup already holds\n"
	"                       their current version (the default)\n"
	"      --all            write every parameter chosen, backed up or not\n"
	"      --force          deprecated spelling of --all\n"
	"  -r, --region REGION  AWS region (default: AWS_REGION, the profile's)\n"
	"      --profile NAME   AWS profile from ~/.aws/config\n"
	"      --bucket-owner ACCOUNT  refuse a bucket of another account (default:\n"
	"                       SSMBAK_BUCKET_OWNER, else your own account)\n"
	"  -b, --bucket BUCKET  the bucket (default: SSMBAK_BUCKET, else the stack's)\n"
	"      --stack NAME     the bucket of this ssmbak stack\n"
	"      --key-prefix PREFIX  keys live under PREFIX in the bucket\n"
	"                       (default: SSMBAK_KEY_PREFIX, else none)\n"
	"      --output FORMAT  table (default) or json, on stdout\n"
	"  -v, --verbose        say more on stderr (-vv: why each one is chosen)\n"
	"  -q, --quiet          print only results and errors (no warnings, no\n"
	"                       progress)\n"
	"  -h, --help           show this help\n"
	"\n"
	"PATH ending in / is a path; otherwise the parameter PATH if it exists,\n"
	"else the path PATH/ (as in preview).\n"
	"Exit status: 0 done, 1 a parameter or an AWS call failed, 2 usage\n"
	"error, 3 no credentials, region or bucket.\n";

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "commands.h"
#include "lib/changes.h"
#include "lib/cli.h"
#include "lib/escape.h"
#include "lib/exitcode.h"
#include "lib/extras.h"
#include "lib/record.h"
#include "lib/progress.h"
#include "lib/s3.h"
#include "lib/scope.h"
#include "lib/ssm.h"
#include "lib/ssm_name.h"
#include "lib/table.h"
#include "lib/timefmt.h"
#include "lib/util.h"

/* Parameters read and written per round: bounds the values held in memory
 * and paces the progress counter. */
#define ROUND 250
/* A ParameterStringFilter holds at most 50 values. */
#define FILTER_VALUES_MAX 50

enum outcome { PENDING, WRITTEN, SKIPPED, FAILED };

/* One parameter on its way through the data path. */
struct entry {
	struct ssm_parameter *meta; /* DescribeParameters': no value */
	char *key;
	size_t first, n_versions; /* its versions in the listing, newest first */
	bool write;    /* chosen */
	bool ask;      /* the listing cannot tell: read the tags */
	const char *why;
	enum outcome outcome;
	char *note;    /* why it failed or was skipped */
};

struct backfill {
	struct cli_common common;
	const char **prefixes;    /* what to list: name prefixes and PATHs */
	size_t n_prefixes;
	const char **name_prefixes; /* --name-prefix */
	size_t n_name_prefixes;
	char **paths;             /* PATH arguments, with their leading slash */
	size_t n_paths;
	bool recursive;
	bool do_it, all;
	struct progress progress;
	struct aws_ctx ctx;
	char *bucket;
	struct ssm_parameter_list params;
	struct s3_version_list versions;
	struct entry *entries;
	size_t n;
	size_t written, skipped, failed;
	char *key_prefix;
};

/* --- the pure part: prefixes and choices (test/unit/test_backfill.c) --- */

/* "app" and "/app" name the same keys: the key form of a prefix. */
static char *key_prefix(const char *prefix)
{
	while (*prefix == '/')
		prefix++;
	return xasprintf("/%s", prefix);
}

/* The S3 prefixes to list for these name prefixes (all keys when none):
 * keys have the leading slash, and a prefix inside another is dropped, so
 * no key is listed twice. out has room for max(n, 1); returns the count. */
size_t backfill_key_prefixes(const char *const *prefixes, size_t n,
			     char **out)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		out[k++] = key_prefix(prefixes[i]);
	if (k == 0)
		out[k++] = xstrdup("/");
	size_t kept = 0;
	for (size_t i = 0; i < k; i++) {
		bool inside = false;
		for (size_t j = 0; j < k && !inside; j++) {
			if (i == j || !out[j])
				continue;
			size_t lj = strlen(out[j]);
			/* equal prefixes: keep the first only */
			inside = strncmp(out[i], out[j], lj) == 0 &&
				 (strlen(out[i]) > lj || j < i);
		}
		if (inside) {
			free(out[i]);
			out[i] = NULL;
		}
	}
	for (size_t i = 0; i < k; i++)
		if (out[i])
			out[kept++] = out[i];
	return kept;
}

static time_t floor_seconds(double t)
{
	return (time_t)floor(t);
}

/* What the listing alone says about a parameter whose newest version
 * under its key is `latest` (NULL: none). True: write it, *why says why.
 * False: the listing cannot tell, the tags must. */
bool backfill_listing_decides(const struct ssm_parameter *p,
			      const struct s3_version *latest,
			      const char **why)
{
	if (!latest) {
		*why = "no backup";
		return true;
	}
	if (latest->delete_marker || latest->size == 0) {
		*why = "deleted in the backup";
		return true;
	}
	/* Written before the change happened: cannot hold it. S3 may list
	 * whole seconds, hence the comparison at whole seconds. */
	if (latest->last_modified < (double)floor_seconds(p->last_modified)) {
		*why = "backup older than the last change";
		return true;
	}
	return false;
}

/* Whether a version with these tags holds the parameter's current state:
 * the same SSM version; for format 1, which has none, an event time no
 * earlier than the last change. (One key is one parameter: SSM takes
 * "/foo" for "foo", UPSTREAM.md defect 9.) */
bool backfill_tags_hold(const struct ssm_parameter *p,
			const struct aws_headers *tags)
{
	const char *version = aws_headers_get(tags, "ssmbakVersion");
	const char *when = aws_headers_get(tags, "ssmbakTime");
	const char *op = aws_headers_get(tags, "ssmbakOp");
	char *end;
	if (op && strcmp(op, "Delete") == 0)
		return false;
	if (version) {
		long long v = strtoll(version, &end, 10);
		return *version && !*end && v == p->version;
	}
	if (!when)
		return false;
	long long t = strtoll(when, &end, 10);
	return *when && !*end && t >= (long long)floor_seconds(p->last_modified);
}

/* --- options --- */

enum {
	OPT_DO_IT = CLI_OPT_FIRST_FREE,
	OPT_ALL,
	OPT_FORCE,
	OPT_MISSING_ONLY,
	OPT_NAME_PREFIX,
};

/* Old spellings keep working (scripts, the Python ssmbak-all's -p), with a
 * line saying what replaced them; -q silences it like any warning. */
static void deprecated(const struct backfill *b, const char *old, const char *now)
{
	if (!b->common.quiet)
		fprintf(stderr, "%s: %s is deprecated: use %s\n", progname(), old, now);
}

static void add_name_prefix(struct backfill *b, const char *prefix)
{
	if (!*prefix)
		cli_usage_error(usage, "--name-prefix needs a non-empty prefix");
	if (ssm_name_problem(prefix, SSM_NAME_PREFIX, NULL))
		cli_usage_error(usage, "prefix '%s' %s", cli_shown_arg(prefix),
				ssm_name_problem(prefix, SSM_NAME_PREFIX, NULL));
	b->name_prefixes[b->n_name_prefixes++] = prefix;
	b->prefixes[b->n_prefixes++] = prefix;
}

static void parse_options(struct backfill *b, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "prefix", required_argument, NULL, 'p' },
		{ "name-prefix", required_argument, NULL, OPT_NAME_PREFIX },
		{ "recursive", no_argument, NULL, 'R' },
		{ "do-it", no_argument, NULL, OPT_DO_IT },
		{ "all", no_argument, NULL, OPT_ALL },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "missing-only", no_argument, NULL, OPT_MISSING_ONLY },
		CLI_COMMON_LONG_OPTIONS,
		CLI_KEY_PREFIX_OPTION,
		{ NULL, 0, NULL, 0 },
	};
	bool missing_only = false, old_prefix = false, old_force = false;
	int opt;
	b->prefixes = xcalloc((size_t)argc, sizeof(*b->prefixes));
	b->name_prefixes = xcalloc((size_t)argc, sizeof(*b->name_prefixes));
	b->paths = xcalloc((size_t)argc, sizeof(*b->paths));
	while ((opt = getopt_long(argc, argv, "p:R" CLI_COMMON_SHORT_OPTIONS,
				  longopts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			old_prefix = true;
			add_name_prefix(b, optarg);
			break;
		case OPT_NAME_PREFIX:
			add_name_prefix(b, optarg);
			break;
		case 'R':
			b->recursive = true;
			break;
		case OPT_DO_IT:
			b->do_it = true;
			break;
		case OPT_FORCE:
			old_force = true;
			b->all = true;
			break;
		case OPT_ALL:
			b->all = true;
			break;
		case OPT_MISSING_ONLY:
			missing_only = true;
			break;
		default:
			cli_common_option(opt, optarg, &b->common, usage);
		}
	}
	for (; optind < argc; optind++) {
		b->paths[b->n_paths] = cli_path_argument(argv[optind], usage);
		b->prefixes[b->n_prefixes++] = b->paths[b->n_paths++];
	}
	if (b->recursive && !b->n_paths)
		cli_usage_error(usage, "-R goes with a PATH");
	if (b->all && missing_only)
		cli_usage_error(usage,
				"--all and --missing-only exclude each other");
	if (old_prefix)
		deprecated(b, "-p/--prefix", "PATH [-R] or --name-prefix");
	if (old_force)
		deprecated(b, "--force", "--all");
}

/* --- list: the parameters --- */

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct ssm_parameter *)a)->name,
		      ((const struct ssm_parameter *)b)->name);
}

/* DescribeParameters wants one Name filter per request, so many prefixes
 * take several requests. SSM's Name filter ignores a leading slash, but
 * ask for both forms anyway: the keys do not tell them apart either. */
static void list_parameters(struct backfill *b)
{
	struct err e = { 0 };
	json_t *values = json_array();
	for (size_t i = 0; i < b->n_prefixes; i++) {
		const char *bare = b->prefixes[i];
		while (*bare == '/')
			bare++;
		if (!*bare) { /* "/": everything */
			json_array_clear(values);
			break;
		}
		char *slashed = xasprintf("/%s", bare);
		json_array_append_new(values, json_string(slashed));
		free(slashed);
		/* a name without a slash has no further slash in it */
		if (!strchr(bare, '/'))
			json_array_append_new(values, json_string(bare));
	}
	size_t n_values = json_array_size(values);
	for (size_t at = 0; at < n_values || (at == 0 && n_values == 0);
	     at += FILTER_VALUES_MAX) {
		json_t *filters = NULL;
		if (n_values) {
			json_t *part = json_array();
			size_t end = at + FILTER_VALUES_MAX < n_values
					     ? at + FILTER_VALUES_MAX
					     : n_values;
			for (size_t j = at; j < end; j++)
				json_array_append(part, json_array_get(values, j));
			filters = json_pack("[{s:s, s:s, s:o}]", "Key", "Name",
					    "Option", "BeginsWith", "Values", part);
		}
		int rc = ssm_describe_parameters(&b->ctx, filters, &b->params, &e);
		json_decref(filters);
		if (rc < 0)
			die_err(&e);
		if (n_values == 0)
			break;
	}
	json_decref(values);

	/* AWS does not promise an order; several requests may overlap. */
	if (b->params.n)
		qsort(b->params.items, b->params.n, sizeof(*b->params.items),
		      by_name);
	size_t kept = 0;
	for (size_t i = 0; i < b->params.n; i++) {
		if (kept && strcmp(b->params.items[kept - 1].name,
				   b->params.items[i].name) == 0) {
			ssm_parameter_release(&b->params.items[i]);
			continue;
		}
		b->params.items[kept++] = b->params.items[i];
	}
	b->params.n = kept;
	log_msg(LOG_INFO, "%zu parameters listed", b->params.n);
}

struct keyed {
	char *key;
	size_t at;
};

static int keyed_cmp(const void *a, const void *b)
{
	return strcmp(((const struct keyed *)a)->key, ((const struct keyed *)b)->key);
}

/* Marks keep[] for the keys PATH's scope admits: lib/scope's rules, as
 * preview applies them. keys are in key order; those outside PATH's string
 * prefix are never shown to the scope, whose first key decides key mode.
 * A PATH that admits nothing is said, as every command says it (a typo
 * must not look like "nothing to back up"). */
static void admit_path(const char *path, bool recursive, const struct keyed *keys,
		       size_t n, bool *keep)
{
	struct scope sc;
	if (scope_init(&sc, path, recursive) < 0)
		die(EXIT_FAILURE_RUN, "out of memory");
	size_t len = strlen(path), admitted = 0;
	for (size_t i = 0; i < n; i++) {
		if (strncmp(keys[i].key, path, len) == 0 && scope_admits(&sc, keys[i].key)) {
			keep[keys[i].at] = true;
			admitted++;
		}
	}
	if (!admitted)
		log_msg(LOG_WARN, "no parameter %s %s in SSM: check PATH%s",
			recursive ? "under" : "directly under", sc.prefix,
			recursive ? "" : ", or add -R for the whole tree");
	scope_release(&sc);
}

/* DescribeParameters' BeginsWith filter over-selects for PATHs (/a/x also
 * lists /a/xa, and a path's grandchildren without -R): keep what a PATH
 * admits or a --name-prefix begins. Nothing to do without PATHs. */
static void keep_in_scope(struct backfill *b)
{
	if (!b->n_paths)
		return;
	size_t n = b->params.n;
	struct keyed *keys = xcalloc(n ? n : 1, sizeof(*keys));
	bool *keep = xcalloc(n ? n : 1, sizeof(*keep));
	for (size_t i = 0; i < n; i++) {
		keys[i].key = record_key_for_name(b->params.items[i].name);
		if (!keys[i].key)
			die(EXIT_FAILURE_RUN, "out of memory");
		keys[i].at = i;
		for (size_t j = 0; j < b->n_name_prefixes && !keep[i]; j++) {
			char *begins = key_prefix(b->name_prefixes[j]);
			keep[i] = strncmp(keys[i].key, begins, strlen(begins)) == 0;
			free(begins);
		}
	}
	if (n)
		qsort(keys, n, sizeof(*keys), keyed_cmp);
	for (size_t p = 0; p < b->n_paths; p++)
		admit_path(b->paths[p], b->recursive, keys, n, keep);
	size_t kept = 0;
	for (size_t i = 0; i < n; i++) {
		if (keep[i])
			b->params.items[kept++] = b->params.items[i];
		else
			ssm_parameter_release(&b->params.items[i]);
	}
	b->params.n = kept;
	for (size_t i = 0; i < n; i++)
		free(keys[i].key);
	free(keys);
	free(keep);
	log_msg(LOG_INFO, "%zu parameters in scope", kept);
}

static int by_key(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : strcmp(x->meta->name, y->meta->name);
}

static void make_entries(struct backfill *b)
{
	b->n = b->params.n;
	b->entries = xcalloc(b->n, sizeof(*b->entries));
	for (size_t i = 0; i < b->n; i++) {
		b->entries[i].meta = &b->params.items[i];
		char *param_key = record_key_for_name(b->params.items[i].name);
		b->entries[i].key = param_key
					    ? changes_data_key(b->key_prefix, param_key)
					    : NULL;
		free(param_key);
		if (!b->entries[i].key)
			die(EXIT_FAILURE_RUN, "out of memory");
	}
	/* Key order: the bucket's order. */
	qsort(b->entries, b->n, sizeof(*b->entries), by_key);
}

/* --- list: the bucket, once per prefix --- */

struct key_span {
	const char *key;
	size_t first, n;
};

static int span_cmp(const void *a, const void *b)
{
	return strcmp(((const struct key_span *)a)->key,
		      ((const struct key_span *)b)->key);
}

static void list_backups(struct backfill *b)
{
	struct err e = { 0 };
	size_t n_prefixes = b->n_prefixes ? b->n_prefixes : 1;
	char **prefixes = xcalloc(n_prefixes, sizeof(*prefixes));
	n_prefixes = backfill_key_prefixes(b->prefixes, b->n_prefixes, prefixes);
	for (size_t i = 0; i < n_prefixes; i++) {
		char *listed = changes_data_key(b->key_prefix, prefixes[i]);
		int rc = s3_list_versions(&b->ctx, b->bucket, listed, &b->versions,
					  &e);
		free(listed);
		if (rc < 0) {
			if (strcmp(e.code, "NoSuchBucket") == 0)
				die(EXIT_CONFIG, "bucket %s does not exist (check "
				    "--bucket and --region)", b->bucket);
			die_err(&e);
		}
		free(prefixes[i]);
	}
	free(prefixes);
	log_msg(LOG_INFO, "%zu versions in the bucket under the prefixes",
		b->versions.n);

	/* A key's versions are adjacent, newest first (S3's order). */
	struct key_span *spans = xcalloc(b->versions.n, sizeof(*spans));
	size_t n_spans = 0;
	for (size_t i = 0; i < b->versions.n; i++) {
		const char *key = b->versions.items[i].key;
		if (n_spans && strcmp(spans[n_spans - 1].key, key) == 0)
			spans[n_spans - 1].n++;
		else
			spans[n_spans++] = (struct key_span){ key, i, 1 };
	}
	qsort(spans, n_spans, sizeof(*spans), span_cmp);
	for (size_t i = 0; i < b->n; i++) {
		struct key_span probe = { b->entries[i].key, 0, 0 };
		struct key_span *hit = n_spans ? bsearch(&probe, spans, n_spans,
							 sizeof(*spans), span_cmp)
					       : NULL;
		if (hit) {
			b->entries[i].first = hit->first;
			b->entries[i].n_versions = hit->n;
		}
	}
	free(spans);
}

/* --- choose --- */

static const struct s3_version *latest_of(const struct backfill *b,
					  const struct entry *en)
{
	return en->n_versions ? &b->versions.items[en->first] : NULL;
}

static void choose_by_listing(struct backfill *b)
{
	for (size_t i = 0; i < b->n; i++) {
		struct entry *en = &b->entries[i];
		if (b->all) {
			en->write = true;
			en->why = "--all";
		} else if (backfill_listing_decides(en->meta, latest_of(b, en),
						    &en->why)) {
			en->write = true;
		} else {
			en->ask = true;
		}
	}
}

static void progress(struct backfill *b, const char *what, size_t done,
		     size_t total)
{
	b->progress.what = what;
	progress_count(&b->progress, done, total);
}

/* One question to the bucket: the tags of one version. */
struct question {
	struct aws_call call;
	struct entry *entry;
};

static size_t ask_questions(struct backfill *b, struct question *q)
{
	size_t n = 0;
	for (size_t i = 0; i < b->n; i++) {
		struct entry *en = &b->entries[i];
		if (!en->ask)
			continue;
		const struct s3_version *v = latest_of(b, en);
		if (!v || v->delete_marker)
			continue;
		if (s3_prepare_get_tagging(&b->ctx, &q[n].call, b->bucket, en->key,
					   v->version_id) < 0)
			die(EXIT_FAILURE_RUN, "out of memory");
		q[n++].entry = en;
	}
	return n;
}

static void choose_by_tags(struct backfill *b)
{
	size_t n_max = 0;
	for (size_t i = 0; i < b->n; i++)
		n_max += b->entries[i].ask;
	if (!n_max)
		return;
	struct question *q = xcalloc(n_max, sizeof(*q));
	struct aws_call **calls = xcalloc(n_max, sizeof(*calls));
	size_t n = ask_questions(b, q);
	for (size_t i = 0; i < n; i++)
		calls[i] = &q[i].call;
	for (size_t at = 0; at < n; at += ROUND * 4) {
		progress(b, "checking backups", at, n);
		aws_perform(&b->ctx, calls + at,
			    n - at < ROUND * 4 ? n - at : ROUND * 4);
	}
	progress_end(&b->progress);

	for (size_t i = 0; i < n; i++) {
		struct entry *en = q[i].entry;
		struct aws_call *c = &q[i].call;
		bool holds = false;
		if (c->err.kind != ERR_NONE) {
			char line[ERR_LINE_MAX];
			/* Unknown is as good as missing: a second copy of a
			 * version harms no restore. */
			log_msg(LOG_INFO, "%s: %s; writing it", en->meta->name,
				err_line(&c->err, line, sizeof(line)));
		} else {
			struct aws_headers tags = { 0 };
			struct err e = { 0 };
			holds = s3_parse_tagging(&c->resp, &tags, &e) == 0 &&
				backfill_tags_hold(en->meta, &tags);
			aws_headers_release(&tags);
		}
		if (holds)
			en->ask = false; /* settled: backed up */
		aws_call_release(c);
	}
	for (size_t i = 0; i < b->n; i++) {
		struct entry *en = &b->entries[i];
		if (en->ask) {
			en->ask = false;
			en->write = true;
			en->why = "backup holds another version";
		} else if (!en->write) {
			en->why = "backed up";
		}
	}
	free(calls);
	free(q);
}

static void choose(struct backfill *b)
{
	choose_by_listing(b);
	choose_by_tags(b);
	for (size_t i = 0; i < b->n; i++) {
		struct entry *en = &b->entries[i];
		if (!en->write) {
			en->outcome = SKIPPED;
			b->skipped++;
		}
		log_msg(LOG_DEBUG, "%s: %s: %s", en->meta->name,
			en->write ? "write" : "skip", en->why);
	}
}

/* --- show --- */

static void print_json(const struct backfill *b, enum outcome shown)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < b->n; i++) {
		const struct entry *en = &b->entries[i];
		const struct ssm_parameter *p = en->meta;
		if (en->outcome != shown)
			continue;
		char modified[32];
		time_format_iso(floor_seconds(p->last_modified), modified);
		/* event_time as in preview (ssmbak(1), JSON OUTPUT);
		 * last_modified, the first name, stays for scripts. */
		json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:s}", "name",
				      p->name, "type",
				      p->type ? p->type : "String", "version",
				      (json_int_t)p->version, "event_time",
				      modified, "last_modified", modified);
		if (p->description && *p->description)
			json_object_set_new(o, "description",
					    json_string(p->description));
		json_array_append_new(arr, o);
	}
	char *text = json_dumps(arr, JSON_INDENT(2));
	if (!text)
		die(EXIT_FAILURE_RUN, "out of memory");
	puts(text);
	free(text);
	json_decref(arr);
}

/* No values: the listing never shows a secret. */
static void print_table(const struct backfill *b, enum outcome shown)
{
	static const char *const headers[] = { "Name", "Type", "Version",
					       "Modified", "Description" };
	bool described = false;
	for (size_t i = 0; i < b->n; i++)
		if (b->entries[i].outcome == shown &&
		    b->entries[i].meta->description &&
		    *b->entries[i].meta->description)
			described = true;
	struct table *t = table_new(headers, described ? 5 : 4);
	if (!t)
		die(EXIT_FAILURE_RUN, "out of memory");
	for (size_t i = 0; i < b->n; i++) {
		const struct entry *en = &b->entries[i];
		const struct ssm_parameter *p = en->meta;
		if (en->outcome != shown)
			continue;
		char version[32], modified[32];
		snprintf(version, sizeof(version), "%lld", p->version);
		time_format_table(floor_seconds(p->last_modified), modified);
		const char *cells[] = { p->name, p->type, version, modified,
					p->description };
		if (table_add_row(t, cells) < 0)
			die(EXIT_FAILURE_RUN, "out of memory");
	}
	table_print(t, stdout, TABLE_WRAP);
	table_free(t);
}

static void show(const struct backfill *b, enum outcome shown)
{
	if (b->common.output == CLI_OUTPUT_JSON)
		print_json(b, shown);
	else
		print_table(b, shown);
	fflush(stdout);
}

/* --- write --- */

static void fail(struct backfill *b, struct entry *en, const struct err *e)
{
	char line[ERR_LINE_MAX];
	en->outcome = FAILED;
	en->note = xstrdup(err_line(e, line, sizeof(line)));
	b->failed++;
}

static void skip_deleted(struct backfill *b, struct entry *en)
{
	en->outcome = SKIPPED;
	en->note = xstrdup("deleted during the run, skipped");
	b->skipped++;
}

/* The value as of the version DescribeParameters saw, with its metadata;
 * when the parameter changed since, the newest version from its history
 * (which carries value and metadata together). Returns 0, or -1 with the
 * entry settled (skipped or failed). */
static int current_state(struct backfill *b, struct entry *en,
			 const struct ssm_parameter *got,
			 struct ssm_parameter *out)
{
	struct err e = { 0 };
	if (got->version == en->meta->version) {
		if (ssm_parameter_copy(out, en->meta) < 0 ||
		    !(out->value = strdup(got->value ? got->value : "")))
			die(EXIT_FAILURE_RUN, "out of memory");
		return 0;
	}
	struct ssm_parameter_list history = { 0 };
	int rc = ssm_get_parameter_history(&b->ctx, en->meta->name, &history, &e);
	if (rc == 0 && history.n) {
		struct ssm_parameter *newest = &history.items[0];
		for (size_t i = 1; i < history.n; i++)
			if (history.items[i].version > newest->version)
				newest = &history.items[i];
		/* The listing shows what was written: the new metadata. */
		struct ssm_parameter *shown = en->meta;
		char *value = newest->value;
		newest->value = NULL;
		ssm_parameter_release(shown);
		if (ssm_parameter_copy(shown, newest) < 0)
			die(EXIT_FAILURE_RUN, "out of memory");
		newest->value = value;
		if (ssm_parameter_copy(out, newest) < 0)
			die(EXIT_FAILURE_RUN, "out of memory");
		log_msg(LOG_INFO, "%s changed during the run: version %lld",
			shown->name, out->version);
	} else if (rc == 0 || strcmp(e.code, "ParameterNotFound") == 0) {
		skip_deleted(b, en);
		rc = -1;
	} else {
		fail(b, en, &e);
	}
	ssm_parameter_list_release(&history);
	return rc;
}

/* GetParameters, ten names a call, all calls of the round at once. */
static void read_values(struct backfill *b, struct entry **round, size_t n,
			struct ssm_parameter *state, bool *have)
{
	const size_t per_call = SSM_GET_PARAMETERS_MAX;
	size_t n_calls = (n + per_call - 1) / per_call;
	struct aws_call *calls = xcalloc(n_calls, sizeof(*calls));
	struct aws_call **ptrs = xcalloc(n_calls, sizeof(*ptrs));
	for (size_t c = 0; c < n_calls; c++) {
		const char *names[SSM_GET_PARAMETERS_MAX];
		size_t k = 0;
		for (size_t i = c * per_call; i < n && k < per_call; i++)
			names[k++] = round[i]->meta->name;
		if (ssm_prepare_get_parameters(&b->ctx, &calls[c], names, k) < 0)
			die(EXIT_FAILURE_RUN, "out of memory");
		ptrs[c] = &calls[c];
	}
	aws_perform(&b->ctx, ptrs, n_calls);

	for (size_t c = 0; c < n_calls; c++) {
		size_t from = c * per_call;
		size_t to = from + per_call < n ? from + per_call : n;
		struct ssm_parameter_list found = { 0 }, missing = { 0 };
		struct err e = calls[c].err;
		if (e.kind == ERR_NONE)
			ssm_parse_get_parameters(&calls[c], &found, &missing, &e);
		for (size_t i = from; i < to; i++) {
			struct entry *en = round[i];
			const struct ssm_parameter *got = NULL;
			for (size_t j = 0; !e.kind && j < found.n && !got; j++)
				if (!strcmp(found.items[j].name, en->meta->name))
					got = &found.items[j];
			if (e.kind != ERR_NONE) {
				fail(b, en, &e);
			} else if (got) {
				have[i] = current_state(b, en, got, &state[i]) == 0;
			} else {
				/* InvalidParameters, or not in the answer at all */
				skip_deleted(b, en);
			}
		}
		ssm_parameter_list_release(&found);
		ssm_parameter_list_release(&missing);
		aws_call_release(&calls[c]);
	}
	free(ptrs);
	free(calls);
}

/* Tags and the version's labels, which neither GetParameters nor
 * DescribeParameters answer; *tags[i] is the caller's. */
static void read_extras(struct backfill *b, struct entry **round, size_t n,
			struct ssm_parameter *state, bool *have, char **tags)
{
	struct capture_extra *x = xcalloc(n + 1, sizeof(*x));
	for (size_t i = 0; i < n; i++)
		x[i] = (struct capture_extra){ .name = state[i].name,
					       .version = state[i].version };
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (have[i])
			x[k++] = x[i];
	capture_extras(&b->ctx, x, k);
	for (size_t i = 0, j = 0; i < n; i++) {
		if (!have[i])
			continue;
		struct capture_extra *got = &x[j++];
		if (got->gone) {
			have[i] = false;
			skip_deleted(b, round[i]);
		} else if (got->failed) {
			have[i] = false;
			fail(b, round[i], &got->err);
		}
		if (got->tags_denied)
			log_msg(LOG_WARN, "%s: tags not recorded: "
				"ssm:ListTagsForResource was denied",
				state[i].name);
		free(state[i].labels);
		state[i].labels = got->labels;
		tags[i] = got->tags;
		got->labels = got->tags = NULL;
	}
	free(x);
}

static void write_round(struct backfill *b, struct entry **round, size_t n)
{
	struct ssm_parameter *state = xcalloc(n, sizeof(*state));
	bool *have = xcalloc(n, sizeof(*have));
	struct record_write *writes = xcalloc(n, sizeof(*writes));
	struct record_write **ptrs = xcalloc(n, sizeof(*ptrs));
	struct entry **owners = xcalloc(n, sizeof(*owners));
	size_t k = 0;
	char **tags = xcalloc(n + 1, sizeof(*tags));
	read_values(b, round, n, state, have);
	read_extras(b, round, n, state, have, tags);
	for (size_t i = 0; i < n; i++) {
		if (!have[i])
			continue;
		/* The event time is the change's own time, not now: a restore
		 * to before this backfill sees the parameter as it was. */
		struct record r = {
			.op = RECORD_BACKFILL,
			.event_time = floor_seconds(state[i].last_modified),
			.param = state[i],
			.tags = tags[i],
		};
		struct err e = { 0 };
		if (record_prepare_write(&b->ctx, b->bucket, b->key_prefix, &r, &writes[k],
					 &e) < 0) {
			record_write_release(&writes[k]);
			fail(b, round[i], &e);
			continue;
		}
		ptrs[k] = &writes[k];
		owners[k++] = round[i];
	}
	record_write_all(&b->ctx, ptrs, k);
	for (size_t i = 0; i < k; i++) {
		if (writes[i].failed) {
			fail(b, owners[i], &writes[i].err);
		} else {
			owners[i]->outcome = WRITTEN;
			b->written++;
		}
		record_write_release(&writes[i]);
	}
	for (size_t i = 0; i < n; i++) {
		ssm_parameter_release(&state[i]);
		free(tags[i]);
	}
	free(tags);
	free(owners);
	free(ptrs);
	free(writes);
	free(have);
	free(state);
}

static void write_chosen(struct backfill *b)
{
	size_t total = 0, done = 0;
	for (size_t i = 0; i < b->n; i++)
		total += b->entries[i].write;
	if (!total)
		return;
	struct entry **round = xcalloc(ROUND, sizeof(*round));
	size_t i = 0;
	while (i < b->n) {
		size_t k = 0;
		for (; i < b->n && k < ROUND; i++)
			if (b->entries[i].write)
				round[k++] = &b->entries[i];
		progress(b, "written", done, total);
		if (k)
			write_round(b, round, k);
		done += k;
	}
	progress_end(&b->progress);
	free(round);
}

/* --- report --- */

static void report(const struct backfill *b)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->entries[i].outcome == SKIPPED && b->entries[i].note)
			escape_fprintf(stderr, "%s: %s: %s\n", progname(),
				b->entries[i].meta->name, b->entries[i].note);
	for (size_t i = 0; i < b->n; i++)
		if (b->entries[i].outcome == FAILED)
			escape_fprintf(stderr, "%s: failed: %s: %s\n", progname(),
				b->entries[i].meta->name, b->entries[i].note);
	fprintf(stderr, "%s: listed %zu, written %zu, skipped %zu, failed %zu\n",
		progname(), b->n, b->written, b->skipped, b->failed);
}

static void backfill_release(struct backfill *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->entries[i].key);
		free(b->entries[i].note);
	}
	free(b->entries);
	free(b->prefixes);
	free(b->name_prefixes);
	for (size_t i = 0; i < b->n_paths; i++)
		free(b->paths[i]);
	free(b->paths);
	free(b->bucket);
	free(b->key_prefix);
	ssm_parameter_list_release(&b->params);
	s3_version_list_release(&b->versions);
	aws_ctx_release(&b->ctx);
}

int cmd_backfill(int argc, char **argv)
{
	struct backfill b = { 0 };
	struct err e = { 0 };
	const char *source = NULL;

	parse_options(&b, argc, argv);
	b.key_prefix = cli_key_prefix(&b.common, usage);
	cli_aws_init(&b.ctx, &b.common);
	b.bucket = cli_find_bucket(&b.ctx, &b.common, &source, &e);
	if (!b.bucket)
		die_err(&e);
	log_msg(LOG_INFO, "bucket %s (from %s)", b.bucket, source);
	if (s3_require_versioning(&b.ctx, b.bucket, &e) < 0)
		die_err(&e);
	cli_log_bucket_region(&b.ctx, b.bucket);
	progress_init(&b.progress, "");

	list_parameters(&b);
	keep_in_scope(&b);
	make_entries(&b);
	if (!b.all)
		list_backups(&b);
	choose(&b);

	if (!b.do_it) {
		size_t chosen = b.n - b.skipped;
		show(&b, PENDING);
		fprintf(stderr,
			"%s: listed %zu, would write %zu, skipped %zu (backed up)\n"
			"%s: dry run: nothing was written; add --do-it to write\n",
			progname(), b.n, chosen, b.skipped, progname());
		backfill_release(&b);
		return EXIT_OK;
	}
	write_chosen(&b);
	show(&b, WRITTEN);
	report(&b);
	int rc = b.failed ? EXIT_FAILURE_RUN : EXIT_OK;
	backfill_release(&b);
	return rc;
}
