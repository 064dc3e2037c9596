/* preview and restore: one engine, two verbs. Data path:
 * list versions -> choose per key (lib/timeline) -> fetch tags and bodies
 * of the chosen -> compare with SSM now -> print, and for restore apply.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "commands.h"
#include "lib/cli.h"
#include "lib/escape.h"
#include "lib/exitcode.h"
#include "lib/record.h"
#include "lib/s3.h"
#include "lib/ssm.h"
#include "lib/table.h"
#include "lib/timefmt.h"
#include "lib/timeline.h"
#include "lib/util.h"

#define OPTIONS_TEXT \
	"  -R, --recursive      the whole tree under PATH, not only its direct children\n" \
	"      --all            show every key's state at TIME, changed or not\n" \
	"      --show-secure    show SecureString values (masked otherwise)\n" \
	"      --to NEWPATH     restore under NEWPATH instead of in place (no deletes)\n" \
	"      --exhaustive     read every version's tags, not only those near TIME\n" \
	"      --output FORMAT  table (default) or json\n" \
	"  -b, --bucket BUCKET  the backup bucket (default: SSMBAK_BUCKET, the stack's)\n" \
	"      --stack NAME     find the bucket of this ssmbak stack\n" \
	"  -r, --region REGION  AWS region (default: AWS_REGION, profile)\n" \
	"      --profile NAME   AWS profile (default: AWS_PROFILE)\n" \
	"      --bucket-owner ACCOUNT  refuse a bucket of another account (default:\n" \
	"                       SSMBAK_BUCKET_OWNER, else your own account)\n" \
	"  -v, --verbose        say what is done on stderr (-vv: every request)\n" \
	"  -h, --help           show this help\n" \
	"\n" \
	"PATH ending in / is a path; otherwise the key PATH if it was ever backed\n" \
	"up, else the path PATH/. TIME is UTC: " TIME_ARG_FORMS ".\n" \
	"Exit status: 0 ok, 1 failure, 2 usage error, 3 configuration error.\n"

static const char preview_usage[] =
	"usage: ssmbak preview PATH TIME [-R] [--all] [--show-secure] [--to NEWPATH]\n"
	"                      [--exhaustive] [--output table|json] [-b BUCKET]\n"
	"                      [--stack NAME] [-r REGION] [--profile NAME] [-v]\n"
	"\n"
	"Show what 'ssmbak restore' would change to put PATH back as it was at TIME.\n"
	"\n" OPTIONS_TEXT;

static const char restore_usage[] =
	"usage: ssmbak restore PATH TIME [-R] [--all] [--show-secure] [--to NEWPATH]\n"
	"                      [--exhaustive] [--output table|json] [-b BUCKET]\n"
	"                      [--stack NAME] [-r REGION] [--profile NAME] [-v]\n"
	"\n"
	"Put PATH back as it was at TIME: the parameters 'ssmbak preview' shows\n"
	"are written or deleted. Safe to run again after a partial failure.\n"
	"\n" OPTIONS_TEXT;

#define SECURE_MASK "********"
/* SSM allows few PutParameter calls a second; more in flight only
 * collects throttling errors. */
#define SSM_WRITE_CONCURRENCY 4

struct restore_opts {
	struct cli_common common;
	const char *path;
	time_t time;
	bool recursive;
	bool all;
	bool show_secure;
	bool exhaustive;
	const char *to;
	bool apply;
	const char *usage;
};

enum action { ACTION_NONE, ACTION_PUT, ACTION_DELETE };

/* One key of the bucket within scope, from listing to result. */
struct key_state {
	const char *key;            /* borrowed from the listing */
	struct s3_version *versions; /* borrowed, newest first */
	size_t n;
	struct tl_entry *entries;
	bool late;                  /* in the late index: read exhaustively */
	long winner;
	struct record rec;          /* the winner's details */
	bool have_details;          /* rec filled from metadata or tags */
	bool have_metadata;
	char *value;                /* the winner's body */
	bool deleted;               /* the winner is a delete */
	char *target;               /* the SSM name to restore to */
	const struct ssm_parameter *current; /* SSM now, or NULL */
	enum action action;
	bool failed;
	struct err err;
};

struct restore_run {
	struct restore_opts *opts;
	struct aws_ctx ctx;
	char *bucket;
	struct s3_version_list listing;
	struct key_state *keys;
	size_t n_keys;
	bool have_format_marker;
	struct record_interval *unbounded; /* backfill runs */
	size_t n_unbounded;
	double since;
	time_t max_delay;
	struct ssm_parameter_list current;
};

/* --- arguments --- */

static bool ssm_name_chars(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || strchr("_.-/", *s)))
			return false;
	return true;
}

static char *normalized_path(const char *path, const char *usage)
{
	if (!*path)
		cli_usage_error(usage, "PATH is empty; give a key like /app/db/url "
				       "or a path like /app/");
	if (!ssm_name_chars(path))
		cli_usage_error(usage,
				"PATH '%s' has characters a parameter name cannot "
				"have (letters, digits and _ . - / only)", path);
	if (strstr(path, "//"))
		cli_usage_error(usage, "PATH '%s' has an empty level (//)", path);
	return xasprintf("%s%s", path[0] == '/' ? "" : "/", path);
}

enum { OPT_ALL = CLI_OPT_FIRST_FREE, OPT_SHOW_SECURE, OPT_TO, OPT_EXHAUSTIVE };

static const struct option longopts[] = {
	CLI_COMMON_LONG_OPTIONS,
	{ "recursive", no_argument, NULL, 'R' },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "show-secure", no_argument, NULL, OPT_SHOW_SECURE },
	{ "to", required_argument, NULL, OPT_TO },
	{ "exhaustive", no_argument, NULL, OPT_EXHAUSTIVE },
	{ NULL, 0, NULL, 0 },
};

static const char shortopts[] = "+R" CLI_COMMON_SHORT_OPTIONS;

/* Options only: parse_command_line has taken PATH and TIME out. */
static void parse_args(int argc, char **argv, struct restore_opts *o)
{
	int c;
	opterr = 1;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (cli_common_option(c, optarg, &o->common, o->usage))
			continue;
		switch (c) {
		case 'R': o->recursive = true; break;
		case OPT_ALL: o->all = true; break;
		case OPT_SHOW_SECURE: o->show_secure = true; break;
		case OPT_TO: o->to = optarg; break;
		case OPT_EXHAUSTIVE: o->exhaustive = true; break;
		}
	}
}

/* Whether the option word arg consumes the next word as its value, read
 * off the same tables getopt uses: "--region" (or an abbreviation of it),
 * "-r", or a cluster ending in one, "-vr". */
static bool option_takes_next_word(const char *arg)
{
	if (arg[1] == '-') {
		const char *name = arg + 2;
		if (strchr(name, '='))
			return false;
		for (const struct option *opt = longopts; opt->name; opt++)
			if (strncmp(opt->name, name, strlen(name)) == 0)
				return opt->has_arg == required_argument;
		return false;
	}
	for (const char *p = arg + 1; *p; p++) {
		const char *spec = strchr(shortopts + 1, *p);
		if (spec && spec[1] == ':')
			return p[1] == '\0';
	}
	return false;
}

/* getopt cannot tell "-90m" (a TIME) from an option, and the Python tool
 * took "PATH TIME --recursive": so the words are split here into options
 * and the two arguments, and getopt sees only the options. */
static void parse_command_line(int argc, char **argv, struct restore_opts *o)
{
	/* Static so that a usage error, which exits from deep inside, leaves
	 * nothing unreachable behind. */
	static char **args, **positional;
	args = xcalloc((size_t)argc + 1, sizeof(*args));
	positional = xcalloc((size_t)argc + 1, sizeof(*positional));
	int n_args = 0, n_positional = 0;
	args[n_args++] = (char *)progname();
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			while (++i < argc)
				positional[n_positional++] = argv[i];
		} else if (argv[i][0] == '-' && argv[i][1] &&
			   !(argv[i][1] >= '0' && argv[i][1] <= '9')) {
			args[n_args++] = argv[i];
			if (option_takes_next_word(argv[i]) && i + 1 < argc)
				args[n_args++] = argv[++i];
		} else {
			positional[n_positional++] = argv[i];
		}
	}
	parse_args(n_args, args, o);
	if (optind < n_args)
		cli_usage_error(o->usage, "unexpected argument '%s'",
				args[optind]);
	if (n_positional != 2)
		cli_usage_error(o->usage, n_positional < 2
					  ? "PATH and TIME are required"
					  : "too many arguments: '%s'",
				n_positional > 2 ? positional[2] : "");
	o->path = normalized_path(positional[0], o->usage);
	struct err e = { 0 };
	if (time_parse_arg(positional[1], time(NULL), &o->time, &e) < 0)
		cli_usage_error(o->usage, "%s", e.message);
	if (o->to) {
		if (!ssm_name_chars(o->to) || !*o->to || strstr(o->to, "//"))
			cli_usage_error(o->usage,
					"--to '%s' is not a parameter path", o->to);
		o->to = normalized_path(o->to, o->usage);
	}
	free(args);
	free(positional);
	args = positional = NULL;
}

/* --- scope: which keys PATH means --- */

static bool is_path_arg(const char *path)
{
	return path[strlen(path) - 1] == '/';
}

static size_t count_slashes(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += *s == '/';
	return n;
}

/* PATH "/a/x" means the key /a/x when one was ever backed up, else the
 * path /a/x/ (and never /a/xa). */
static char *scope_prefix(const struct restore_opts *o,
			  const struct s3_version_list *listing, bool *key_mode)
{
	*key_mode = false;
	if (is_path_arg(o->path))
		return xstrdup(o->path);
	for (size_t i = 0; i < listing->n; i++)
		if (strcmp(listing->items[i].key, o->path) == 0) {
			*key_mode = true;
			return xstrdup(o->path);
		}
	return xasprintf("%s/", o->path);
}

static bool in_scope(const char *key, const char *prefix, bool key_mode,
		     bool recursive)
{
	if (key_mode)
		return strcmp(key, prefix) == 0;
	if (strncmp(key, prefix, strlen(prefix)) != 0 || !key[strlen(prefix)])
		return false;
	return recursive || count_slashes(key) == count_slashes(prefix);
}

/* --- the format marker and the late index --- */

static void read_format_marker(struct restore_run *r)
{
	struct aws_call call;
	struct err e = { 0 };
	if (s3_prepare_get_object(&r->ctx, &call, r->bucket,
				  RECORD_FORMAT_MARKER, NULL) < 0)
		die(EXIT_FAILURE_RUN, "out of memory");
	int rc = aws_perform_one(&r->ctx, &call, &e);
	r->max_delay = RECORD_MAX_DELAY_SECONDS;
	if (rc < 0 && (strcmp(e.code, "NoSuchKey") == 0 ||
		       strcmp(e.code, "NotFound") == 0)) {
		log_msg(LOG_INFO, "no %s in the bucket: every version's tags "
				  "are read (format 1 bucket)",
			RECORD_FORMAT_MARKER);
	} else if (rc < 0) {
		die_err(&e);
	} else {
		json_t *doc = json_loadb(buf_str(&call.resp.body),
					 call.resp.body.len, 0, NULL);
		json_t *since = json_object_get(doc, "since");
		json_t *delay = json_object_get(doc, "max_delay_seconds");
		if (json_is_number(since) && json_is_integer(delay) &&
		    json_integer_value(delay) > 0) {
			r->have_format_marker = true;
			r->since = json_number_value(since);
			r->max_delay = (time_t)json_integer_value(delay);
		} else {
			log_msg(LOG_WARN, "%s is not readable: reading every "
					  "version's tags", RECORD_FORMAT_MARKER);
		}
		json_decref(doc);
	}
	aws_call_release(&call);
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Keys whose versions may have been written later than the delay bound. */
static char **read_late_index(struct restore_run *r, const char *prefix,
			      size_t *n)
{
	struct s3_version_list late = { 0 };
	struct err e = { 0 };
	char *late_prefix = xasprintf(RECORD_LATE_PREFIX "%s", prefix);
	if (s3_list_versions(&r->ctx, r->bucket, late_prefix, &late, &e) < 0)
		die_err(&e);
	char **keys = xcalloc(late.n + 1, sizeof(*keys));
	*n = 0;
	for (size_t i = 0; i < late.n; i++) {
		const char *key = late.items[i].key + strlen(RECORD_LATE_PREFIX);
		if (*n == 0 || strcmp(keys[*n - 1], key) != 0)
			keys[(*n)++] = xstrdup(key);
	}
	qsort(keys, *n, sizeof(*keys), compare_strings);
	s3_version_list_release(&late);
	free(late_prefix);
	return keys;
}

/* Backfill runs: versions written during one may be far later than their
 * events (FORMAT.md, "Backfill runs"). */
static void read_backfill_runs(struct restore_run *r)
{
	struct s3_version_list runs = { 0 };
	struct err e = { 0 };
	if (s3_list_versions(&r->ctx, r->bucket, RECORD_UNBOUNDED_PREFIX, &runs,
			     &e) < 0)
		die_err(&e);
	if (record_intervals_from_listing(&runs, &r->unbounded,
					  &r->n_unbounded) < 0)
		die(EXIT_FAILURE_RUN, "out of memory");
	s3_version_list_release(&runs);
}

/* --- per key: which versions to read --- */

static void group_keys(struct restore_run *r, const char *prefix,
		       bool key_mode, char **late, size_t n_late)
{
	struct s3_version_list *l = &r->listing;
	r->keys = xcalloc(l->n + 1, sizeof(*r->keys));
	for (size_t i = 0; i < l->n;) {
		size_t j = i;
		while (j < l->n && strcmp(l->items[j].key, l->items[i].key) == 0)
			j++;
		if (in_scope(l->items[i].key, prefix, key_mode,
			     r->opts->recursive)) {
			struct key_state *k = &r->keys[r->n_keys++];
			k->key = l->items[i].key;
			k->versions = &l->items[i];
			k->n = j - i;
			k->winner = -1;
			k->late = bsearch(&k->key, late, n_late, sizeof(*late),
					  compare_strings) != NULL;
		}
		i = j;
	}
}

static void plan_key(struct restore_run *r, struct key_state *k)
{
	bool *marker = xcalloc(k->n, sizeof(*marker));
	long long *size = xcalloc(k->n, sizeof(*size));
	k->entries = xcalloc(k->n, sizeof(*k->entries));
	for (size_t i = 0; i < k->n; i++) {
		marker[i] = k->versions[i].delete_marker;
		size[i] = k->versions[i].size;
		k->entries[i].last_modified = k->versions[i].last_modified;
		double lm = k->versions[i].last_modified;
		k->entries[i].bounded =
			r->have_format_marker && !k->late && lm >= r->since &&
			!record_in_intervals(r->unbounded, r->n_unbounded, lm);
	}
	timeline_classify(k->entries, k->n, marker, size);
	struct tl_bounds bounds = { r->max_delay, RECORD_CLOCK_SKEW_SECONDS };
	timeline_plan(k->entries, k->n, r->opts->time, &bounds,
		      r->opts->exhaustive);
	free(marker);
	free(size);
}

/* --- fetching --- */

struct fetch {
	struct aws_call call;
	struct key_state *k;
	size_t entry;
};

static struct fetch *fetches_new(size_t n)
{
	return xcalloc(n + 1, sizeof(struct fetch));
}

static void run_fetches(struct restore_run *r, struct fetch *f, size_t n)
{
	struct aws_call **calls = xcalloc(n + 1, sizeof(*calls));
	for (size_t i = 0; i < n; i++)
		calls[i] = &f[i].call;
	aws_perform(&r->ctx, calls, n);
	free(calls);
}

/* Runs a phase's fetches at once, hands each answer to settle, and frees
 * them all. */
static void run_and_settle(struct restore_run *r, struct fetch *f, size_t n,
			   void (*settle)(struct fetch *))
{
	run_fetches(r, f, n);
	for (size_t i = 0; i < n; i++) {
		settle(&f[i]);
		aws_call_release(&f[i].call);
	}
	free(f);
}

static void fail_key(struct key_state *k, const struct err *e)
{
	if (k->failed)
		return;
	k->failed = true;
	k->err = *e;
}

/* The record a GetObjectTagging answer holds; -1 (the key failed) when
 * the call failed or the version carries no ssmbak tags. */
static int record_of_tags(struct fetch *f, struct record *rec)
{
	struct key_state *k = f->k;
	struct aws_headers tags = { 0 };
	struct err e = { 0 };
	if (f->call.err.kind != ERR_NONE) {
		fail_key(k, &f->call.err);
		return -1;
	}
	int rc = s3_parse_tagging(&f->call.resp, &tags, &e);
	if (rc == 0 && record_from_tags(&tags, rec) < 0) {
		err_set(&e, ERR_PARSE,
			"version %s has no ssmbakTime tag: not written by ssmbak",
			k->versions[f->entry].version_id);
		rc = -1;
	}
	aws_headers_release(&tags);
	if (rc < 0)
		fail_key(k, &e);
	return rc;
}

static void learn_event(struct tl_entry *entry, const struct record *rec)
{
	entry->known = true;
	entry->event_time = rec->event_time;
	entry->ssm_version = rec->param.version;
}

static void learn_from_tags(struct fetch *f)
{
	struct record rec;
	if (record_of_tags(f, &rec) < 0)
		return;
	learn_event(&f->k->entries[f->entry], &rec);
	record_release(&rec);
}

/* Tags of every version the plan needs, for the keys where more than one
 * version could be the answer. */
static void fetch_tags_of_contested(struct restore_run *r)
{
	size_t total = 0, n = 0;
	for (size_t i = 0; i < r->n_keys; i++)
		for (size_t j = 0; j < r->keys[i].n; j++)
			total += r->keys[i].entries[j].needed;
	struct fetch *f = fetches_new(total);
	for (size_t i = 0; i < r->n_keys; i++) {
		struct key_state *k = &r->keys[i];
		size_t needed = 0;
		for (size_t j = 0; j < k->n; j++)
			needed += k->entries[j].needed;
		if (needed < 2)
			continue;
		for (size_t j = 0; j < k->n; j++) {
			if (!k->entries[j].needed)
				continue;
			if (s3_prepare_get_tagging(&r->ctx, &f[n].call, r->bucket,
						   k->key,
						   k->versions[j].version_id) < 0)
				die(EXIT_FAILURE_RUN, "out of memory");
			f[n].k = k;
			f[n++].entry = j;
			k->entries[j].needed = false;
		}
	}
	run_and_settle(r, f, n, learn_from_tags);
}

static void adopt_object(struct fetch *f)
{
	struct key_state *k = f->k;
	struct tl_entry *entry = &k->entries[f->entry];
	struct record rec;
	if (f->call.err.kind != ERR_NONE) {
		fail_key(k, &f->call.err);
		return;
	}
	int found = record_from_metadata(&f->call.resp, &rec);
	if (found < 0) {
		struct err e = { 0 };
		err_set(&e, ERR_PARSE, "version %s has malformed ssmbak metadata",
			k->versions[f->entry].version_id);
		fail_key(k, &e);
		return;
	}
	free(k->value);
	k->value = buf_detach(&f->call.resp.body);
	if (found) {
		learn_event(entry, &rec);
		record_release(&k->rec);
		k->rec = rec;
		k->have_details = true;
		k->have_metadata = true;
	}
}

/* The bodies (and format 2 metadata) of: each key's only candidate, and
 * the winners of contested keys that hold a value. */
static void fetch_objects(struct restore_run *r)
{
	struct fetch *f = fetches_new(r->n_keys);
	size_t n = 0;
	for (size_t i = 0; i < r->n_keys; i++) {
		struct key_state *k = &r->keys[i];
		long pick = -1;
		if (k->failed)
			continue;
		for (size_t j = 0; j < k->n && pick < 0; j++)
			if (k->entries[j].needed)
				pick = (long)j;
		if (pick < 0) {
			pick = timeline_winner(k->entries, k->n, r->opts->time);
			if (pick < 0 || k->entries[pick].kind != TL_VALUE)
				continue;
		}
		k->entries[pick].needed = false;
		if (s3_prepare_get_object(&r->ctx, &f[n].call, r->bucket, k->key,
					  k->versions[pick].version_id) < 0)
			die(EXIT_FAILURE_RUN, "out of memory");
		f[n].k = k;
		f[n++].entry = (size_t)pick;
	}
	run_and_settle(r, f, n, adopt_object);
}

static void adopt_tags(struct fetch *f)
{
	struct record rec;
	if (record_of_tags(f, &rec) < 0)
		return;
	struct key_state *k = f->k;
	learn_event(&k->entries[f->entry], &rec);
	record_release(&k->rec);
	k->rec = rec;
	k->have_details = true;
}

/* Format 1 versions have no metadata: their time, type and description
 * are in the tags. Fetched for each key's chosen version lacking details. */
static void fetch_tags_of_chosen(struct restore_run *r)
{
	struct fetch *f = fetches_new(r->n_keys);
	size_t n = 0;
	for (size_t i = 0; i < r->n_keys; i++) {
		struct key_state *k = &r->keys[i];
		if (k->failed || k->have_details)
			continue;
		long pick = -1;
		for (size_t j = 0; j < k->n && pick < 0; j++)
			if (k->entries[j].kind != TL_ECHO &&
			    k->entries[j].kind != TL_MARKER &&
			    !k->entries[j].known && k->value)
				pick = (long)j;
		if (pick < 0)
			pick = timeline_winner(k->entries, k->n, r->opts->time);
		if (pick < 0 || k->entries[pick].kind == TL_MARKER)
			continue;
		if (s3_prepare_get_tagging(&r->ctx, &f[n].call, r->bucket, k->key,
					   k->versions[pick].version_id) < 0)
			die(EXIT_FAILURE_RUN, "out of memory");
		f[n].k = k;
		f[n++].entry = (size_t)pick;
	}
	run_and_settle(r, f, n, adopt_tags);
}

/* A contested key's winner may have been chosen from tags alone (a
 * tombstone); its details then come from the tags of that version. */
static void settle_winners(struct restore_run *r)
{
	for (size_t i = 0; i < r->n_keys; i++) {
		struct key_state *k = &r->keys[i];
		if (k->failed)
			continue;
		k->winner = timeline_winner(k->entries, k->n, r->opts->time);
		if (k->winner < 0)
			continue;
		enum tl_kind kind = k->entries[k->winner].kind;
		k->deleted = kind != TL_VALUE;
		if (!k->deleted && !k->value) {
			struct err e = { 0 };
			err_set(&e, ERR_PARSE, "the chosen version of %s was not "
					       "read", k->key);
			fail_key(k, &e);
		}
	}
}

static void adopt_extra(struct fetch *f)
{
	struct err e = { 0 };
	if (f->call.err.kind != ERR_NONE) {
		fail_key(f->k, &f->call.err);
	} else if (record_apply_extra(&f->k->rec, buf_str(&f->call.resp.body),
				      f->call.resp.body.len) < 0) {
		err_set(&e, ERR_PARSE, "side object %s%s is not readable",
			RECORD_EXTRA_PREFIX, f->k->rec.extra_ref);
		fail_key(f->k, &e);
	}
}

static void fetch_extras(struct restore_run *r)
{
	struct fetch *f = fetches_new(r->n_keys);
	size_t n = 0;
	for (size_t i = 0; i < r->n_keys; i++) {
		struct key_state *k = &r->keys[i];
		if (k->failed || k->winner < 0 || k->deleted || !k->rec.extra_ref)
			continue;
		char *key = xasprintf(RECORD_EXTRA_PREFIX "%s", k->rec.extra_ref);
		if (s3_prepare_get_object(&r->ctx, &f[n].call, r->bucket, key,
					  NULL) < 0)
			die(EXIT_FAILURE_RUN, "out of memory");
		free(key);
		f[n++].k = k;
	}
	run_and_settle(r, f, n, adopt_extra);
}

/* --- SSM now --- */

static char *target_name(const struct restore_run *r, const struct key_state *k,
			 const char *prefix, bool key_mode)
{
	const char *name = k->rec.param.name ? k->rec.param.name : k->key;
	if (!r->opts->to)
		return xstrdup(name);
	if (key_mode)
		return xstrdup(r->opts->to);
	const char *rest = k->key + strlen(prefix);
	const char *to = r->opts->to;
	return xasprintf("%s%s%s", to, to[strlen(to) - 1] == '/' ? "" : "/",
			 rest);
}

static const struct ssm_parameter *find_current(const struct restore_run *r,
						const char *name)
{
	for (size_t i = 0; i < r->current.n; i++)
		if (strcmp(r->current.items[i].name, name) == 0)
			return &r->current.items[i];
	return NULL;
}

static void fail_keys_with_target(struct restore_run *r, const char *target,
				  const struct err *e)
{
	for (size_t i = 0; i < r->n_keys; i++)
		if (r->keys[i].target && strcmp(r->keys[i].target, target) == 0)
			fail_key(&r->keys[i], e);
}

/* Values through GetParameters, 10 names a call, all at once. A failed
 * call fails its keys only. */
static void read_current_values(struct restore_run *r)
{
	struct key_state **asked = xcalloc(r->n_keys + 1, sizeof(*asked));
	size_t n = 0;
	for (size_t i = 0; i < r->n_keys; i++)
		if (!r->keys[i].failed && r->keys[i].winner >= 0)
			asked[n++] = &r->keys[i];
	size_t n_calls = (n + SSM_GET_PARAMETERS_MAX - 1) / SSM_GET_PARAMETERS_MAX;
	struct fetch *f = fetches_new(n_calls);
	for (size_t c = 0; c < n_calls; c++) {
		const char *names[SSM_GET_PARAMETERS_MAX];
		size_t count = 0;
		for (size_t i = c * SSM_GET_PARAMETERS_MAX;
		     i < n && count < SSM_GET_PARAMETERS_MAX; i++)
			names[count++] = asked[i]->target;
		if (ssm_prepare_get_parameters(&r->ctx, &f[c].call, names, count) < 0)
			die(EXIT_FAILURE_RUN, "out of memory");
	}
	run_fetches(r, f, n_calls);
	for (size_t c = 0; c < n_calls; c++) {
		struct err e = f[c].call.err;
		if (e.kind == ERR_NONE)
			ssm_parse_get_parameters(&f[c].call, &r->current, NULL, &e);
		for (size_t i = c * SSM_GET_PARAMETERS_MAX;
		     e.kind != ERR_NONE && i < n &&
		     i < (c + 1) * SSM_GET_PARAMETERS_MAX; i++)
			fail_key(asked[i], &e);
		aws_call_release(&f[c].call);
	}
	free(f);
	free(asked);
}

static void take_metadata(struct ssm_parameter *cur, struct ssm_parameter *m)
{
#define TAKE(field) do { free(cur->field); cur->field = m->field; m->field = NULL; } while (0)
	TAKE(description);
	TAKE(key_id);
	TAKE(tier);
	TAKE(allowed_pattern);
	if (!cur->data_type)
		TAKE(data_type);
#undef TAKE
}

/* Description, tier, KMS key and pattern through DescribeParameters, 50
 * names a call (GetParameters does not give them). */
static void read_current_metadata(struct restore_run *r)
{
	for (size_t from = 0; from < r->current.n; from += 50) {
		size_t to = from + 50 < r->current.n ? from + 50 : r->current.n;
		json_t *values = json_array();
		for (size_t i = from; i < to; i++)
			json_array_append_new(values,
					      json_string(r->current.items[i].name));
		json_t *filters = json_pack("[{s:s, s:s, s:o}]", "Key", "Name",
					    "Option", "Equals", "Values", values);
		struct ssm_parameter_list meta = { 0 };
		struct err e = { 0 };
		if (ssm_describe_parameters(&r->ctx, filters, &meta, &e) < 0) {
			for (size_t i = from; i < to; i++)
				fail_keys_with_target(r, r->current.items[i].name, &e);
		}
		for (size_t i = 0; i < meta.n; i++) {
			struct ssm_parameter *cur = (struct ssm_parameter *)
				find_current(r, meta.items[i].name);
			if (cur)
				take_metadata(cur, &meta.items[i]);
		}
		ssm_parameter_list_release(&meta);
		json_decref(filters);
	}
}

/* --- what changes --- */

static bool same_text(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

/* Only what the backup recorded can differ: format 1 recorded no tier,
 * key or pattern, and a description with characters dropped. */
static bool differs(const struct key_state *k, const struct ssm_parameter *cur)
{
	const struct ssm_parameter *rec = &k->rec.param;
	if (!same_text(k->value, cur->value) || !same_text(rec->type, cur->type))
		return true;
	if (!k->have_metadata) {
		char *legacy = cur->description
				       ? record_legacy_description(cur->description)
				       : NULL;
		bool d = !same_text(rec->description, legacy);
		free(legacy);
		return d;
	}
	return !same_text(rec->description, cur->description) ||
	       (rec->tier && !same_text(rec->tier, cur->tier)) ||
	       (rec->data_type && !same_text(rec->data_type, cur->data_type)) ||
	       !same_text(rec->allowed_pattern, cur->allowed_pattern) ||
	       (rec->key_id && cur->key_id && !same_text(rec->key_id, cur->key_id));
}

static void decide_actions(struct restore_run *r)
{
	for (size_t i = 0; i < r->n_keys; i++) {
		struct key_state *k = &r->keys[i];
		if (k->failed || k->winner < 0)
			continue;
		k->current = find_current(r, k->target);
		if (k->deleted)
			k->action = k->current && !r->opts->to ? ACTION_DELETE
							       : ACTION_NONE;
		else
			k->action = !k->current || differs(k, k->current)
					    ? ACTION_PUT
					    : ACTION_NONE;
	}
}

/* --- applying --- */

static bool stderr_is_terminal(void)
{
	return isatty(STDERR_FILENO);
}

static void restore_parameter_for(struct key_state *k, struct ssm_parameter *p)
{
	memset(p, 0, sizeof(*p));
	*p = k->rec.param;
	p->name = k->target;
	p->value = k->value;
	if (!k->have_metadata) {
		/* Format 1's description lost characters: putting it back
		 * would damage the real one, so it is left as it is. */
		p->description = k->current ? k->current->description : NULL;
	}
}

static void fail_on_error(struct fetch *f)
{
	if (f->call.err.kind != ERR_NONE)
		fail_key(f->k, &f->call.err);
}

/* A counter on stderr while writing, only when someone watches it. */
static void show_progress(size_t done, size_t total, void *what)
{
	fprintf(stderr, "\r%s: %s %zu/%zu\033[K", progname(), (const char *)what,
		done, total);
	if (done == total)
		fputs("\r\033[K", stderr);
}

static void apply_puts(struct restore_run *r)
{
	struct fetch *f = fetches_new(r->n_keys);
	size_t n = 0;
	for (size_t i = 0; i < r->n_keys; i++) {
		struct key_state *k = &r->keys[i];
		if (k->failed || k->action != ACTION_PUT)
			continue;
		struct ssm_parameter p;
		restore_parameter_for(k, &p);
		if (ssm_prepare_put_parameter(&r->ctx, &f[n].call, &p) < 0) {
			struct err e = { 0 };
			err_set(&e, ERR_INPUT, "the stored value of %s is not "
					       "valid UTF-8 text", k->key);
			fail_key(k, &e);
			aws_call_release(&f[n].call);
			continue;
		}
		f[n++].k = k;
	}
	http_client_set_concurrency(r->ctx.http, SSM_WRITE_CONCURRENCY);
	if (stderr_is_terminal())
		http_client_set_progress(r->ctx.http, show_progress, "writing");
	run_and_settle(r, f, n, fail_on_error);
	http_client_set_progress(r->ctx.http, NULL, NULL);
}

static void apply_deletes(struct restore_run *r)
{
	struct key_state **batch = xcalloc(r->n_keys + 1, sizeof(*batch));
	size_t n = 0;
	for (size_t i = 0; i < r->n_keys; i++)
		if (!r->keys[i].failed && r->keys[i].action == ACTION_DELETE)
			batch[n++] = &r->keys[i];
	size_t n_calls = (n + SSM_DELETE_PARAMETERS_MAX - 1) /
			 SSM_DELETE_PARAMETERS_MAX;
	struct fetch *f = fetches_new(n_calls);
	for (size_t c = 0; c < n_calls; c++) {
		const char *names[SSM_DELETE_PARAMETERS_MAX];
		size_t count = 0;
		for (size_t i = c * SSM_DELETE_PARAMETERS_MAX;
		     i < n && count < SSM_DELETE_PARAMETERS_MAX; i++)
			names[count++] = batch[i]->target;
		if (ssm_prepare_delete_parameters(&r->ctx, &f[c].call, names,
						  count) < 0)
			die(EXIT_FAILURE_RUN, "out of memory");
	}
	run_fetches(r, f, n_calls);
	/* A name SSM reports as invalid is already gone: what the restore
	 * wanted. A failed call fails every name it carried. */
	for (size_t c = 0; c < n_calls; c++) {
		for (size_t i = c * SSM_DELETE_PARAMETERS_MAX;
		     i < n && i < (c + 1) * SSM_DELETE_PARAMETERS_MAX; i++)
			if (f[c].call.err.kind != ERR_NONE)
				fail_key(batch[i], &f[c].call.err);
		aws_call_release(&f[c].call);
	}
	free(f);
	free(batch);
}

/* --- output --- */

static bool is_secure(const struct key_state *k)
{
	return same_text(k->rec.param.type, "SecureString");
}

static bool row_shown(const struct restore_run *r, const struct key_state *k)
{
	if (k->failed || k->winner < 0)
		return false;
	return r->opts->all || k->action != ACTION_NONE;
}

static int compare_rows(const void *a, const void *b)
{
	const struct key_state *x = *(const struct key_state *const *)a;
	const struct key_state *y = *(const struct key_state *const *)b;
	return strcmp(x->target, y->target);
}

static struct key_state **shown_rows(struct restore_run *r, size_t *n)
{
	struct key_state **rows = xcalloc(r->n_keys + 1, sizeof(*rows));
	*n = 0;
	for (size_t i = 0; i < r->n_keys; i++)
		if (row_shown(r, &r->keys[i]))
			rows[(*n)++] = &r->keys[i];
	qsort(rows, *n, sizeof(*rows), compare_rows);
	return rows;
}

static void print_table(struct restore_run *r, struct key_state **rows,
			size_t n)
{
	bool any_description = false, any_deleted = false;
	for (size_t i = 0; i < n; i++) {
		any_description |= rows[i]->rec.param.description &&
				   *rows[i]->rec.param.description && !rows[i]->deleted;
		any_deleted |= rows[i]->deleted;
	}
	const char *headers[6] = { "Name", "Value", "Type", "Modified" };
	size_t columns = 4;
	if (any_description)
		headers[columns++] = "Description";
	if (any_deleted)
		headers[columns++] = "Deleted";
	struct table *t = table_new(headers, columns);
	for (size_t i = 0; t && i < n; i++) {
		struct key_state *k = rows[i];
		char modified[32];
		time_format_table(k->entries[k->winner].event_time, modified);
		const char *value = k->deleted ? ""
				    : is_secure(k) && !r->opts->show_secure
					    ? SECURE_MASK
					    : k->value;
		const char *cells[6] = { k->target, value, k->rec.param.type,
					 modified };
		size_t c = 4;
		if (any_description)
			cells[c++] = k->deleted ? "" : k->rec.param.description;
		if (any_deleted)
			cells[c++] = k->deleted ? "True" : "";
		if (table_add_row(t, cells) < 0)
			die(EXIT_FAILURE_RUN, "out of memory");
	}
	if (!t || table_print(t, stdout, TABLE_WRAP) < 0)
		die(EXIT_FAILURE_RUN, "out of memory");
	table_free(t);
}

static const char *action_name(enum action a)
{
	return a == ACTION_PUT ? "put" : a == ACTION_DELETE ? "delete" : "none";
}

static void set_string(json_t *obj, const char *key, const char *value)
{
	if (value)
		json_object_set_new(obj, key, json_string(value));
}

static void print_json(struct restore_run *r, struct key_state **rows,
		       size_t n)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		struct key_state *k = rows[i];
		const struct ssm_parameter *p = &k->rec.param;
		char when[32];
		time_format_iso(k->entries[k->winner].event_time, when);
		json_t *o = json_object();
		set_string(o, "name", k->target);
		if (!k->deleted && (!is_secure(k) || r->opts->show_secure))
			set_string(o, "value", k->value);
		set_string(o, "type", p->type);
		set_string(o, "description", p->description);
		json_object_set_new(o, "deleted", json_boolean(k->deleted));
		set_string(o, "event_time", when);
		if (p->version)
			json_object_set_new(o, "version", json_integer(p->version));
		set_string(o, "key_id", p->key_id);
		set_string(o, "tier", p->tier);
		set_string(o, "data_type", p->data_type);
		set_string(o, "allowed_pattern", p->allowed_pattern);
		json_object_set_new(o, "changed",
				    json_boolean(k->action != ACTION_NONE));
		set_string(o, "action", action_name(k->action));
		json_array_append_new(arr, o);
	}
	char *text = json_dumps(arr, JSON_INDENT(2) | JSON_ENSURE_ASCII);
	if (!text)
		die(EXIT_FAILURE_RUN, "out of memory (or a value is not UTF-8)");
	puts(text);
	free(text);
	json_decref(arr);
}

static size_t report_failures(struct restore_run *r)
{
	size_t failed = 0;
	for (size_t i = 0; i < r->n_keys; i++) {
		struct key_state *k = &r->keys[i];
		if (!k->failed)
			continue;
		char line[ERR_LINE_MAX];
		escape_fprintf(stderr, "%s: %s: not %s: %s\n", progname(),
			k->target ? k->target : k->key,
			r->opts->apply ? "restored" : "read",
			err_line(&k->err, line, sizeof(line)));
		failed++;
	}
	return failed;
}

static void print_results(struct restore_run *r)
{
	size_t n;
	struct key_state **rows = shown_rows(r, &n);
	if (r->opts->common.output == CLI_OUTPUT_JSON)
		print_json(r, rows, n);
	else
		print_table(r, rows, n);
	if (n == 0)
		log_msg(LOG_INFO, "nothing to %s at %s",
			r->opts->apply ? "restore" : "change", r->opts->path);
	free(rows);
}

/* --- the run --- */

static void release_run(struct restore_run *r)
{
	for (size_t i = 0; i < r->n_keys; i++) {
		struct key_state *k = &r->keys[i];
		free(k->entries);
		record_release(&k->rec);
		if (k->value)
			memset(k->value, 0, strlen(k->value));
		free(k->value);
		free(k->target);
	}
	free(r->keys);
	free(r->unbounded);
	s3_version_list_release(&r->listing);
	ssm_parameter_list_release(&r->current);
	free(r->bucket);
	aws_ctx_release(&r->ctx);
}

static int run(struct restore_opts *o)
{
	struct restore_run r = { .opts = o };
	struct err e = { 0 };
	const char *bucket_source = NULL;
	cli_aws_init(&r.ctx, &o->common);
	r.bucket = cli_find_bucket(&r.ctx, &o->common, &bucket_source, &e);
	if (!r.bucket)
		die_err(&e);
	log_msg(LOG_INFO, "bucket %s (from %s)", r.bucket, bucket_source);

	read_format_marker(&r);
	read_backfill_runs(&r);
	if (s3_list_versions(&r.ctx, r.bucket, o->path, &r.listing, &e) < 0)
		die_err(&e);
	bool key_mode;
	char *prefix = scope_prefix(o, &r.listing, &key_mode);
	size_t n_late = 0;
	char **late = read_late_index(&r, prefix, &n_late);
	group_keys(&r, prefix, key_mode, late, n_late);
	log_msg(LOG_INFO, "%s %s: %zu keys, %zu versions listed",
		key_mode ? "key" : "path", prefix, r.n_keys, r.listing.n);

	for (size_t i = 0; i < r.n_keys; i++)
		plan_key(&r, &r.keys[i]);
	fetch_tags_of_contested(&r);
	fetch_objects(&r);
	fetch_tags_of_chosen(&r);
	settle_winners(&r);
	fetch_extras(&r);
	for (size_t i = 0; i < r.n_keys; i++)
		r.keys[i].target = target_name(&r, &r.keys[i], prefix, key_mode);
	read_current_values(&r);
	read_current_metadata(&r);
	decide_actions(&r);

	if (o->apply) {
		apply_puts(&r);
		apply_deletes(&r);
	}
	print_results(&r);
	size_t failed = report_failures(&r);
	if (failed && o->apply)
		fprintf(stderr,
			"%s: %zu of %zu parameters not restored, the others "
			"were; run the same command again to finish\n",
			progname(), failed, r.n_keys);
	else if (failed)
		fprintf(stderr, "%s: %zu of %zu parameters could not be read; "
				"the preview is incomplete\n",
			progname(), failed, r.n_keys);
	for (size_t i = 0; i < n_late; i++)
		free(late[i]);
	free(late);
	free(prefix);
	release_run(&r);
	free((char *)o->path);
	free((char *)o->to);
	return failed ? EXIT_FAILURE_RUN : EXIT_OK;
}

int cmd_preview(int argc, char **argv)
{
	struct restore_opts o = { .usage = preview_usage };
	parse_command_line(argc, argv, &o);
	return run(&o);
}

int cmd_restore(int argc, char **argv)
{
	struct restore_opts o = { .usage = restore_usage, .apply = true };
	parse_command_line(argc, argv, &o);
	return run(&o);
}
