/* ssmbak reindex: writes the change index entries that versions lack (a
 * bucket the Python tool wrote, a writer that died between its two
 * writes), so that restore chooses from the index alone. Data path: scan
 * the tree (data versions joined with the index) -> each key's unindexed
 * versions -> their tags -> one entry each (FORMAT.md, "The change index").
 */
static const char usage[] =
	"usage: ssmbak reindex [PATH] [-R] [--dry-run] [-b BUCKET] [--stack NAME]\n"
	"                      [--key-prefix PREFIX] [-r REGION] [--profile NAME]\n"
	"                      [-v | -q]\n"
	"\n"
	"Write the change index entries of every version under PATH that has none\n"
	"(buckets of the Python ssmbak, interrupted writes), reading each such\n"
	"version's tags once. Safe to run again: indexed versions are skipped.\n"
	"Without PATH, the whole bucket.\n"
	"\n"
	"  -R, --recursive      the whole tree under PATH, not only its direct children\n"
	"      --dry-run        count what would be written; write nothing\n"
	"  -b, --bucket BUCKET  the backup bucket (default: SSMBAK_BUCKET, the stack's)\n"
	"      --stack NAME     find the bucket of this ssmbak stack\n"
	"      --key-prefix PREFIX  keys live under PREFIX in the bucket\n"
	"                       (default: SSMBAK_KEY_PREFIX, else none)\n"
	"  -r, --region REGION  AWS region (default: AWS_REGION, profile)\n"
	"      --profile NAME   AWS profile (default: AWS_PROFILE)\n"
	"      --bucket-owner ACCOUNT  refuse a bucket of another account (default:\n"
	"                       SSMBAK_BUCKET_OWNER, else your own account)\n"
	"  -v, --verbose        say what is done on stderr\n"
	"  -q, --quiet          print only results and errors (no warnings, no\n"
	"                       progress)\n"
	"  -h, --help           show this help\n"
	"\n"
	"PATH ending in / is a path; otherwise the key PATH if it was ever backed\n"
	"up, else the path PATH/.\n"
	"Exit status: 0 ok, 1 failure, 2 usage error, 3 configuration error.\n";

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "lib/changes.h"
#include "lib/cli.h"
#include "lib/escape.h"
#include "lib/exitcode.h"
#include "lib/progress.h"
#include "lib/record.h"
#include "lib/s3.h"
#include "lib/scan.h"
#include "lib/scope.h"
#include "lib/util.h"

/* Unindexed versions waiting for their tags and writes: bounds memory
 * and keeps each batch of requests large. */
#define REINDEX_BATCH 500

/* One version without an entry. */
struct missing {
	struct change_entry entry;  /* filled from tags, or a marker's time */
	bool is_marker;
	bool failed;
	struct aws_call call;
	bool prepared;
};

/* A key whose versions lack entries. */
struct key_work {
	char *key;
	struct missing *missing;
	size_t n_missing;
};

struct reindex {
	struct cli_common common;
	const char *path;
	bool recursive;
	bool dry_run;
	struct progress progress;
	struct aws_ctx ctx;
	char *bucket;
	char *prefix;
	struct scope scope;
	struct key_work *work;
	size_t n_work, cap_work, pending;
	size_t keys, versions, indexed, written, failed, too_long;
};

/* --- arguments --- */

enum { OPT_DRY_RUN = CLI_OPT_FIRST_FREE };

static void parse_args(struct reindex *r, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONG_OPTIONS,
		CLI_KEY_PREFIX_OPTION,
		{ "recursive", no_argument, NULL, 'R' },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "R" CLI_COMMON_SHORT_OPTIONS, longopts,
				NULL)) != -1) {
		if (cli_common_option(c, optarg, &r->common, usage))
			continue;
		if (c == 'R')
			r->recursive = true;
		else if (c == OPT_DRY_RUN)
			r->dry_run = true;
	}
	if (argc - optind > 1)
		cli_usage_error(usage, "too many arguments: '%s'",
				cli_shown_arg(argv[optind + 1]));
	if (optind < argc) {
		r->path = cli_path_argument(argv[optind], usage);
	} else {
		r->path = xstrdup("/");
		r->recursive = true;
	}
}

/* --- the scan: what each key lacks --- */

static void key_work_release(struct key_work *w)
{
	free(w->key);
	for (size_t i = 0; i < w->n_missing; i++) {
		change_entry_release(&w->missing[i].entry);
		if (w->missing[i].prepared)
			aws_call_release(&w->missing[i].call);
	}
	free(w->missing);
	memset(w, 0, sizeof(*w));
}

static bool named_by_an_entry(const struct scan_key *k, const char *version_id)
{
	for (size_t i = 0; i < k->n_changes; i++)
		if (strcmp(k->changes[i].version_id, version_id) == 0)
			return true;
	return false;
}

static void flush(struct reindex *r);

static int take_key(void *user, const struct scan_key *k, struct err *e)
{
	struct reindex *r = user;
	(void)e;
	if (!scope_admits(&r->scope, k->param_key))
		return 0;
	r->keys++;
	r->versions += k->n_versions;
	struct key_work w = { 0 };
	for (size_t i = 0; i < k->n_versions; i++) {
		const struct s3_version *v = &k->versions[i];
		if (named_by_an_entry(k, v->version_id)) {
			r->indexed++;
			continue;
		}
		if (!w.missing)
			w.missing = xcalloc(k->n_versions, sizeof(*w.missing));
		struct missing *m = &w.missing[w.n_missing++];
		m->entry.version_id = xstrdup(v->version_id);
		m->is_marker = v->delete_marker;
		if (m->is_marker) {
			/* FORMAT.md, "Deletes": a marker without an entry is
			 * a delete at its LastModified, of version 0; its
			 * entry says the same, so no answer changes. */
			m->entry.op = RECORD_DELETE;
			m->entry.event_time = (time_t)floor(v->last_modified);
		}
	}
	if (!w.n_missing)
		return 0;
	w.key = xstrdup(k->param_key);
	if (r->n_work == r->cap_work) {
		r->cap_work = r->cap_work ? r->cap_work * 2 : 64;
		r->work = xrealloc(r->work, r->cap_work * sizeof(*r->work));
	}
	r->work[r->n_work++] = w;
	r->pending += w.n_missing;
	if (r->pending >= REINDEX_BATCH)
		flush(r);
	return 0;
}

/* --- reading tags and writing entries --- */

static void report_failure(struct reindex *r, const struct key_work *w,
			   const struct missing *m, const struct err *e)
{
	char line[ERR_LINE_MAX];
	escape_fprintf(stderr, "%s: %s version %s: not indexed: %s\n", progname(),
		w->key, m->entry.version_id, err_line(e, line, sizeof(line)));
	r->failed++;
}

static void run_calls(struct reindex *r, bool (*wanted)(const struct missing *))
{
	size_t n = 0, k = 0;
	for (size_t i = 0; i < r->n_work; i++)
		for (size_t j = 0; j < r->work[i].n_missing; j++)
			n += wanted(&r->work[i].missing[j]);
	struct aws_call **batch = xcalloc(n + 1, sizeof(*batch));
	for (size_t i = 0; i < r->n_work; i++)
		for (size_t j = 0; j < r->work[i].n_missing; j++)
			if (wanted(&r->work[i].missing[j]))
				batch[k++] = &r->work[i].missing[j].call;
	aws_perform(&r->ctx, batch, k);
	free(batch);
}

static bool is_prepared(const struct missing *m)
{
	return m->prepared;
}

static void release_call(struct missing *m)
{
	if (m->prepared)
		aws_call_release(&m->call);
	m->prepared = false;
}

static void read_tags(struct reindex *r)
{
	for (size_t i = 0; i < r->n_work; i++) {
		struct key_work *w = &r->work[i];
		char *data_key = changes_data_key(r->prefix, w->key);
		for (size_t j = 0; j < w->n_missing; j++) {
			struct missing *m = &w->missing[j];
			if (m->is_marker)
				continue;
			m->prepared = true;
			if (s3_prepare_get_tagging(&r->ctx, &m->call, r->bucket, data_key,
						   m->entry.version_id) < 0)
				die(EXIT_FAILURE_RUN, "out of memory");
		}
		free(data_key);
	}
	run_calls(r, is_prepared);
	for (size_t i = 0; i < r->n_work; i++) {
		struct key_work *w = &r->work[i];
		for (size_t j = 0; j < w->n_missing; j++) {
			struct missing *m = &w->missing[j];
			if (!m->prepared)
				continue;
			struct record rec;
			struct err e = { 0 };
			if (record_from_tagging_call(&m->call, m->entry.version_id, &rec,
						     &e) == 0) {
				/* a data version is never a delete (format 1's
				 * tags carry no op: an update) */
				if (rec.op == RECORD_DELETE)
					rec.op = RECORD_UPDATE;
				record_entry_fields(&rec, &m->entry);
				record_release(&rec);
			} else {
				m->failed = true;
				report_failure(r, w, m, &e);
			}
			release_call(m);
		}
	}
}

static void write_entries(struct reindex *r)
{
	for (size_t i = 0; i < r->n_work; i++) {
		struct key_work *w = &r->work[i];
		for (size_t j = 0; j < w->n_missing; j++) {
			struct missing *m = &w->missing[j];
			if (m->failed)
				continue;
			char *key = changes_entry_key(r->prefix, w->key, &m->entry);
			if (!key) {
				r->too_long++;
				continue;
			}
			m->prepared = true;
			if (s3_prepare_put_object(&r->ctx, &m->call, r->bucket, key, "",
						  0, NULL, NULL) < 0)
				die(EXIT_FAILURE_RUN, "out of memory");
			free(key);
		}
	}
	run_calls(r, is_prepared);
	for (size_t i = 0; i < r->n_work; i++) {
		struct key_work *w = &r->work[i];
		for (size_t j = 0; j < w->n_missing; j++) {
			struct missing *m = &w->missing[j];
			if (!m->prepared)
				continue;
			if (m->call.err.kind != ERR_NONE)
				report_failure(r, w, m, &m->call.err);
			else
				r->written++;
			release_call(m);
		}
	}
}

static void show_progress(struct reindex *r)
{
	if (!r->dry_run)
		progress_show(&r->progress, "%zu keys, %zu entries written",
			      r->keys, r->written);
}

static void flush(struct reindex *r)
{
	if (!r->dry_run) {
		read_tags(r);
		write_entries(r);
	} else {
		for (size_t i = 0; i < r->n_work; i++)
			r->written += r->work[i].n_missing;
	}
	for (size_t i = 0; i < r->n_work; i++)
		key_work_release(&r->work[i]);
	r->n_work = 0;
	r->pending = 0;
	show_progress(r);
}

static void reindex_release(struct reindex *r)
{
	for (size_t i = 0; i < r->n_work; i++)
		key_work_release(&r->work[i]);
	free(r->work);
	scope_release(&r->scope);
	free(r->prefix);
	free(r->bucket);
	free((char *)r->path);
	aws_ctx_release(&r->ctx);
}

int cmd_reindex(int argc, char **argv)
{
	struct reindex r = { 0 };
	struct err e = { 0 };
	const char *source = NULL;
	parse_args(&r, argc, argv);
	progress_init(&r.progress, "");
	r.prefix = cli_key_prefix(&r.common, usage);
	cli_aws_init(&r.ctx, &r.common);
	r.bucket = cli_find_bucket(&r.ctx, &r.common, &source, &e);
	if (!r.bucket)
		die_err(&e);
	log_msg(LOG_INFO, "bucket %s (from %s)", r.bucket, source);
	if (s3_require_versioning(&r.ctx, r.bucket, &e) < 0)
		die_err(&e);
	cli_log_bucket_region(&r.ctx, r.bucket);
	if (scope_init(&r.scope, r.path, r.recursive) < 0)
		die(EXIT_FAILURE_RUN, "out of memory");
	struct scan_opts so = { r.bucket, r.prefix, r.path, scope_one_level(&r.scope),
				scope_is_path(r.path) && r.recursive };
	if (scan_tree(&r.ctx, &so, take_key, &r, &e) < 0)
		die_err(&e);
	flush(&r);
	progress_end(&r.progress);
	fprintf(stderr, "%s: %zu keys, %zu versions: %zu indexed already, %zu %s, "
			"%zu failed%s\n",
		progname(), r.keys, r.versions, r.indexed, r.written,
		r.dry_run ? "to write (dry run: nothing written)" : "written",
		r.failed, r.too_long ? ", some names too long for an entry (read "
				       "from their tags)" : "");
	int rc = r.failed ? EXIT_FAILURE_RUN : EXIT_OK;
	reindex_release(&r);
	return rc;
}
