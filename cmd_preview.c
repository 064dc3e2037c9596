/* preview and restore: one engine, two verbs. Data path:
 * list versions -> choose per key (lib/timeline) -> fetch tags and bodies
 * of the chosen -> compare with SSM now -> print, and for restore apply.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "commands.h"
#include "lib/choose.h"
#include "lib/cli.h"
#include "lib/creds.h"
#include "lib/escape.h"
#include "lib/exitcode.h"
#include "lib/extras.h"
#include "lib/jsonout.h"
#include "lib/lease.h"
#include "lib/progress.h"
#include "lib/record.h"
#include "lib/s3.h"
#include "lib/ssm.h"
#include "lib/ssm_name.h"
#include "lib/table.h"
#include "lib/timefmt.h"
#include "lib/scan.h"
#include "lib/scope.h"
#include "lib/timeline.h"
#include "lib/util.h"
#include "lib/verbosity.h"

#define OPTIONS_TEXT \
	"  -R, --recursive      the whole tree under PATH, not only its direct children\n" \
	"      --all            show every key's state at TIME, changed or not\n" \
	"      --show-secure    show SecureString values (masked otherwise)\n" \
	"      --diff           one row per change: the action, what changes, the\n" \
	"                       value now and at TIME (default: the Python tool's\n" \
	"                       columns)\n" \
	"      --prune          also delete what did not exist at TIME under PATH\n" \
	"      --use-last-known where the change in force at TIME was not captured\n" \
	"                       (a gap), use the last value captured before it\n" \
	"      --recreate       delete and create again what SSM cannot put back\n" \
	"                       otherwise (Advanced tier to Standard); its SSM\n" \
	"                       history restarts\n" \
	"      --to NEWPATH     restore under NEWPATH instead of in place (no deletes)\n" \
	"      --key-prefix PREFIX  keys live under PREFIX in the bucket\n" \
	"                       (default: SSMBAK_KEY_PREFIX, else none)\n" \
	"      --output FORMAT  table (default) or json\n" \
	"  -b, --bucket BUCKET  the backup bucket (default: SSMBAK_BUCKET, the stack's)\n" \
	"      --stack NAME     find the bucket of this ssmbak stack\n" \
	"  -r, --region REGION  AWS region (default: AWS_REGION, profile)\n" \
	"      --profile NAME   AWS profile (default: AWS_PROFILE)\n" \
	"      --target-region REGION  the SSM compared with and restored to is\n" \
	"                       REGION's (default: -r's); the bucket is read as\n" \
	"                       -r and --profile say\n" \
	"      --target-profile NAME  that SSM is reached with this profile's\n" \
	"                       credentials (another account; default: --profile's)\n" \
	"      --bucket-owner ACCOUNT  refuse a bucket of another account (default:\n" \
	"                       SSMBAK_BUCKET_OWNER, else your own account)\n" \
	"  -v, --verbose        say what is done on stderr (-vv: every request)\n" \
	"  -q, --quiet          print only results and errors (no warnings, no\n" \
	"                       progress)\n" \
	"  -h, --help           show this help\n" \
	"\n" \
	"PATH ending in / is a path; otherwise the key PATH if it was ever backed\n" \
	"up, else the path PATH/.\n" TIME_ARG_HELP \
	"Exit status: 0 ok, 1 failure, 2 usage error, 3 configuration error.\n"

static const char preview_usage[] =
	"usage: ssmbak preview PATH TIME [-R] [--all] [--show-secure] [--diff] [--prune]\n"
	"                      [--use-last-known] [--recreate] [--to NEWPATH]\n"
	"                      [--key-prefix PREFIX]\n"
	"                      [--output table|json] [-b BUCKET]\n"
	"                      [--stack NAME] [-r REGION] [--profile NAME]\n"
	"                      [--target-region REGION] [--target-profile NAME] [-v | -q]\n"
	"\n"
	"Show what 'ssmbak restore' would change to put PATH back as it was at TIME.\n"
	"\n" OPTIONS_TEXT;

static const char restore_usage[] =
	"usage: ssmbak restore PATH TIME [-R] [--all] [--show-secure] [--diff] [--prune]\n"
	"                      [--use-last-known] [--recreate] [--to NEWPATH] [--force]\n"
	"                      [--key-prefix PREFIX] [--output table|json] [-b BUCKET]\n"
	"                      [--stack NAME] [-r REGION] [--profile NAME]\n"
	"                      [--target-region REGION] [--target-profile NAME] [-v | -q]\n"
	"\n"
	"Put PATH back as it was at TIME: the parameters 'ssmbak preview' shows\n"
	"are written or deleted. Safe to run again after a partial failure.\n"
	"One restore at a time per bucket, key prefix and overlapping PATH (NEWPATH\n"
	"with --to): another one refuses, naming this one's holder.\n"
	"\n"
	"      --force          take over the lease of an overlapping restore\n"
	OPTIONS_TEXT;

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
	bool diff;
	bool prune;
	bool use_last_known;
	bool recreate;
	const char *to;
	const char *target_region;  /* NULL: SSM of -r's region */
	const char *target_profile; /* NULL: SSM with -r's credentials */
	bool force;
	bool apply;
	const char *usage;
};

enum action { ACTION_NONE, ACTION_CREATE, ACTION_UPDATE, ACTION_DELETE,
	      ACTION_UNKNOWN, ACTION_RECREATE };
/* What an update changes, as bits. */
enum change_field {
	CHANGE_VALUE = 1, CHANGE_TYPE = 2, CHANGE_DESCRIPTION = 4, CHANGE_TIER = 8,
	CHANGE_DATA_TYPE = 16, CHANGE_PATTERN = 32, CHANGE_KEY = 64,
};
enum outcome { OUTCOME_NONE, OUTCOME_OK, OUTCOME_FAILED, OUTCOME_NOT_ATTEMPTED };

/* One key of the bucket within scope, from listing to result. */
struct key_state {
	char *key;                  /* the parameter key, "/app/x" */
	bool has_winner;            /* a change at or before TIME */
	struct change_entry win;    /* that change */
	bool latest_is_winner;      /* nothing recorded after it */
	double win_s3_modified;
	bool deleted;               /* the winner is a delete */
	bool gap;                   /* the change in force at TIME was not
				     * captured (FORMAT.md, "Gaps") */
	bool has_last_known;        /* a captured change before the gap */
	time_t last_known_time;
	bool from_last_known;       /* --use-last-known took it */
	bool prune;                 /* not there at TIME: --prune deletes it */
	bool needs_body;            /* compare or show: read its version */
	bool needs_now;             /* show: read the value SSM holds now */
	unsigned changes;           /* change_field bits */
	long long put_version;      /* the version PutParameter answered */
	enum outcome outcome;
	struct record rec;          /* the winner's details */
	bool have_details;          /* rec filled from metadata or tags */
	bool have_metadata;
	char *value;                /* the winner's body */
	char *target;               /* the SSM name to restore to */
	const struct ssm_parameter *current; /* SSM now, or NULL */
	enum action action;
	bool failed;
	struct err *err;            /* when failed; most keys never need one */
};

struct candidate;
/* A key whose unindexed versions' tags are still to be read. */
struct pending {
	size_t key;                 /* index into keys */
	struct candidate *c;
	size_t n;
};

struct restore_run {
	struct restore_opts *opts;
	struct aws_ctx ctx;         /* the bucket's side */
	/* --target-region/--target-profile: SSM's side, when it is not ctx */
	struct aws_ctx target;
	struct aws_ctx *ssm;        /* where SSM is read and written */
	char *bucket;
	char *prefix;               /* the key prefix */
	struct scope scope;
	struct key_state *keys;
	size_t n_keys, cap_keys;
	struct pending *pending;
	size_t n_pending, cap_pending, pending_tags;
	struct ssm_parameter_list current;
	size_t described;           /* current[0..described) came with metadata */
	size_t sorted;              /* current[0..sorted) is in name order */
};

static void fail_key(struct key_state *k, const struct err *e)
{
	if (k->failed)
		return;
	k->failed = true;
	k->err = xmalloc(sizeof(*k->err));
	*k->err = *e;
}

/* --- arguments --- */

enum { OPT_ALL = CLI_OPT_FIRST_FREE, OPT_SHOW_SECURE, OPT_TO, OPT_DIFF,
       OPT_PRUNE, OPT_USE_LAST_KNOWN, OPT_FORCE, OPT_RECREATE,
       OPT_TARGET_REGION, OPT_TARGET_PROFILE };

static const struct option longopts[] = {
	CLI_COMMON_LONG_OPTIONS,
	{ "recursive", no_argument, NULL, 'R' },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "show-secure", no_argument, NULL, OPT_SHOW_SECURE },
	{ "to", required_argument, NULL, OPT_TO },
	{ "diff", no_argument, NULL, OPT_DIFF },
	{ "prune", no_argument, NULL, OPT_PRUNE },
	{ "use-last-known", no_argument, NULL, OPT_USE_LAST_KNOWN },
	{ "recreate", no_argument, NULL, OPT_RECREATE },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "target-region", required_argument, NULL, OPT_TARGET_REGION },
	{ "target-profile", required_argument, NULL, OPT_TARGET_PROFILE },
	CLI_KEY_PREFIX_OPTION,
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
		case OPT_DIFF: o->diff = true; break;
		case OPT_PRUNE: o->prune = true; break;
		case OPT_USE_LAST_KNOWN: o->use_last_known = true; break;
		case OPT_RECREATE: o->recreate = true; break;
		case OPT_TARGET_REGION:
			if (!aws_region_is_valid(optarg))
				cli_usage_error(o->usage, "--target-region '%s' is "
						"not a region name (like eu-west-1)",
						cli_shown_arg(optarg));
			o->target_region = optarg;
			break;
		case OPT_TARGET_PROFILE:
			if (!*optarg)
				cli_usage_error(o->usage, "--target-profile is empty: "
						"give a profile name of ~/.aws/config");
			o->target_profile = optarg;
			break;
		case OPT_FORCE:
			if (!o->apply)
				cli_usage_error(o->usage, "--force is for restore: "
						"preview takes no lease");
			o->force = true;
			break;
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
	o->path = cli_path_argument(positional[0], o->usage);
	struct err e = { 0 };
	if (time_parse_arg(positional[1], time(NULL), &o->time, &e) < 0)
		cli_usage_error(o->usage, "%s", e.message);
	if (o->to) {
		if (ssm_name_problem(o->to, SSM_NAME_PATH, NULL))
			cli_usage_error(o->usage, "--to '%s' is not a parameter "
					"path: it %s", cli_shown_arg(o->to),
					ssm_name_problem(o->to, SSM_NAME_PATH, NULL));
		o->to = cli_path_argument(o->to, o->usage);
	}
	free(args);
	free(positional);
	args = positional = NULL;
}

/* --- choosing: the scan's callback, one key at a time --- */

/* The latest captured change at or before t, passing over gaps. */
static long last_known(const struct candidate *c, const struct tl_entry *tl,
		       size_t n, time_t t)
{
	struct tl_entry *known = xcalloc(n + 1, sizeof(*known));
	for (size_t i = 0; i < n; i++) {
		known[i] = tl[i];
		if (c[i].c.op == RECORD_GAP)
			known[i].event_time = t + 1;
	}
	long w = timeline_winner(known, n, t);
	free(known);
	return w;
}

static void take_winner(struct restore_run *r, struct key_state *k,
			struct candidate *c, size_t n)
{
	struct tl_entry *tl = xcalloc(n + 1, sizeof(*tl));
	for (size_t i = 0; i < n; i++)
		tl[i] = c[i].tl;
	long w = timeline_winner(tl, n, r->opts->time);
	long latest = timeline_latest(tl, n);
	if (w >= 0 && c[w].c.op == RECORD_GAP) {
		long known = last_known(c, tl, n, r->opts->time);
		k->gap = true;
		k->has_last_known = known >= 0;
		k->last_known_time = known >= 0 ? c[known].c.event_time : 0;
		if (r->opts->use_last_known && known >= 0) {
			k->from_last_known = true;
			w = known;
		}
	}
	free(tl);
	if (w < 0)
		return;
	k->has_winner = true;
	k->latest_is_winner = latest == w;
	k->deleted = c[w].c.op == RECORD_DELETE;
	k->win = c[w].c;
	memset(&c[w].c, 0, sizeof(c[w].c));
	k->win_s3_modified = c[w].s3_modified;
	if (c[w].needs_tags) {
		k->rec = c[w].tags;
		memset(&c[w].tags, 0, sizeof(c[w].tags));
		k->have_details = true;
	}
}

/* A key the bucket holds changes of, none at or before TIME. */
static bool created_after(const struct key_state *k)
{
	return !k->has_winner && !k->failed;
}

/* Whether the change in force is a gap that --use-last-known did not
 * replace: nothing is known to restore. */
static bool unknown_at_time(const struct key_state *k)
{
	return k->gap && !k->from_last_known;
}

static struct key_state *add_key(struct restore_run *r, const char *key)
{
	if (r->n_keys == r->cap_keys) {
		r->cap_keys = r->cap_keys ? r->cap_keys * 2 : 256;
		r->keys = xrealloc(r->keys, r->cap_keys * sizeof(*r->keys));
	}
	struct key_state *k = &r->keys[r->n_keys++];
	memset(k, 0, sizeof(*k));
	k->key = xstrdup(key);
	return k;
}

/* Tags of the unindexed versions of the keys set aside, all at once;
 * then each of those keys chooses. */
static void settle_pending(struct restore_run *r)
{
	size_t total = 0, n = 0;
	for (size_t i = 0; i < r->n_pending; i++)
		for (size_t j = 0; j < r->pending[i].n; j++)
			total += r->pending[i].c[j].needs_tags;
	struct aws_call *calls = xcalloc(total + 1, sizeof(*calls));
	struct aws_call **batch = xcalloc(total + 1, sizeof(*batch));
	for (size_t i = 0; i < r->n_pending; i++) {
		struct pending *p = &r->pending[i];
		char *data_key = changes_data_key(r->prefix, r->keys[p->key].key);
		for (size_t j = 0; j < p->n; j++) {
			if (!p->c[j].needs_tags)
				continue;
			if (s3_prepare_get_tagging(&r->ctx, &calls[n], r->bucket,
						   data_key, p->c[j].c.version_id) < 0)
				die(EXIT_FAILURE_RUN, "out of memory");
			batch[n] = &calls[n];
			n++;
		}
		free(data_key);
	}
	aws_perform(&r->ctx, batch, n);
	n = 0;
	for (size_t i = 0; i < r->n_pending; i++) {
		struct pending *p = &r->pending[i];
		struct key_state *k = &r->keys[p->key];
		for (size_t j = 0; j < p->n; j++) {
			struct candidate *x = &p->c[j];
			if (!x->needs_tags)
				continue;
			struct aws_call *call = &calls[n++];
			struct err e = { 0 };
			if (record_from_tagging_call(call, x->c.version_id, &x->tags,
						     &e) < 0) {
				fail_key(k, &e);
			} else {
				record_entry_fields(&x->tags, &x->c);
				x->tl.event_time = x->c.event_time;
				x->tl.ssm_version = x->c.ssm_version;
				x->tl.is_delete = x->c.op == RECORD_DELETE;
			}
			aws_call_release(call);
		}
		if (!k->failed)
			take_winner(r, k, p->c, p->n);
		candidates_free(p->c, p->n);
	}
	free(calls);
	free(batch);
	r->n_pending = 0;
}

/* A tree read in one pass: keys with unindexed versions wait in pending
 * until this many tags are due, so memory stays bounded. */
#define PENDING_TAGS_MAX 2000

static int choose_key(void *user, const struct scan_key *sk, struct err *e)
{
	struct restore_run *r = user;
	if (!scope_admits(&r->scope, sk->param_key))
		return 0;
	size_t n;
	struct candidate *c = candidates_of(sk, &n);
	if (!c)
		die(EXIT_FAILURE_RUN, "out of memory");
	struct key_state *k = add_key(r, sk->param_key);
	size_t tags = 0;
	for (size_t i = 0; i < n; i++)
		tags += c[i].needs_tags;
	if (!tags) {
		take_winner(r, k, c, n);
		candidates_free(c, n);
		return 0;
	}
	if (r->n_pending == r->cap_pending) {
		r->cap_pending = r->cap_pending ? r->cap_pending * 2 : 64;
		r->pending = xrealloc(r->pending, r->cap_pending * sizeof(*r->pending));
	}
	r->pending[r->n_pending++] = (struct pending){ r->n_keys - 1, c, n };
	r->pending_tags += tags;
	if (r->pending_tags >= PENDING_TAGS_MAX) {
		settle_pending(r);
		r->pending_tags = 0;
	}
	(void)e;
	return 0;
}

static void scan_scope(struct restore_run *r)
{
	struct err e = { 0 };
	if (scope_init(&r->scope, r->opts->path, r->opts->recursive) < 0)
		die(EXIT_FAILURE_RUN, "out of memory");
	struct scan_opts so = { r->bucket, r->prefix, r->opts->path,
				scope_one_level(&r->scope),
				scope_is_path(r->opts->path) && r->opts->recursive };
	if (scan_tree(&r->ctx, &so, choose_key, r, &e) < 0)
		die_err(&e);
	settle_pending(r);
}

/* --- fetching what comparing needs --- */

struct fetch {
	struct aws_call call;
	struct key_state *k;
};

static struct fetch *fetches_new(size_t n)
{
	return xcalloc(n + 1, sizeof(struct fetch));
}

/* A phase's fetches all go to one service: SSM's are signed with the
 * target's credentials for its region, S3's with the command's. */
static void run_fetches(struct restore_run *r, struct fetch *f, size_t n)
{
	struct aws_call **calls = xcalloc(n + 1, sizeof(*calls));
	for (size_t i = 0; i < n; i++)
		calls[i] = &f[i].call;
	aws_perform(n && f[0].call.req.service == &aws_ssm ? r->ssm : &r->ctx,
		    calls, n);
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

static void adopt_object(struct fetch *f)
{
	struct key_state *k = f->k;
	struct record rec;
	if (f->call.err.kind != ERR_NONE) {
		fail_key(k, &f->call.err);
		return;
	}
	int found = record_from_metadata(&f->call.resp, &rec);
	if (found < 0) {
		struct err e = { 0 };
		err_set(&e, ERR_PARSE, "version %s has malformed ssmbak metadata",
			k->win.version_id);
		fail_key(k, &e);
		return;
	}
	free(k->value);
	k->value = buf_detach(&f->call.resp.body);
	if (found) {
		record_release(&k->rec);
		k->rec = rec;
		k->have_details = true;
		k->have_metadata = true;
	}
}

/* Requests of one phase go out in chunks of this many: answers (bodies,
 * headers) are held only for a chunk, so memory grows with the keys in
 * scope, not with the requests a phase makes. */
#define FETCH_CHUNK 256

typedef bool (*fetch_wanted_fn)(const struct key_state *k);
typedef int (*fetch_prepare_fn)(struct restore_run *r, struct key_state *k,
				struct aws_call *call);

/* One request for each key that wants one, FETCH_CHUNK at once. */
static void fetch_each(struct restore_run *r, fetch_wanted_fn wanted,
		       fetch_prepare_fn prepare, void (*settle)(struct fetch *))
{
	size_t n = 0;
	struct fetch *f = fetches_new(FETCH_CHUNK);
	for (size_t i = 0; i <= r->n_keys; i++) {
		struct key_state *k = i < r->n_keys ? &r->keys[i] : NULL;
		if (k && !k->failed && wanted(k)) {
			if (prepare(r, k, &f[n].call) < 0)
				die(EXIT_FAILURE_RUN, "out of memory");
			f[n++].k = k;
		}
		if (n == FETCH_CHUNK || (!k && n)) {
			run_and_settle(r, f, n, settle);
			f = fetches_new(FETCH_CHUNK);
			n = 0;
		}
	}
	free(f);
}

static bool wants_body(const struct key_state *k)
{
	return k->needs_body;
}

static int prepare_body(struct restore_run *r, struct key_state *k,
			struct aws_call *call)
{
	char *data_key = changes_data_key(r->prefix, k->key);
	int rc = s3_prepare_get_object(&r->ctx, call, r->bucket, data_key,
				       k->win.version_id);
	free(data_key);
	return rc;
}

static void fetch_bodies(struct restore_run *r)
{
	fetch_each(r, wants_body, prepare_body, adopt_object);
}

static void adopt_tags(struct fetch *f)
{
	struct key_state *k = f->k;
	struct err e = { 0 };
	struct record rec;
	if (record_from_tagging_call(&f->call, k->win.version_id, &rec, &e) < 0) {
		fail_key(k, &e);
		return;
	}
	record_release(&k->rec);
	k->rec = rec;
	k->have_details = true;
}

/* Format 1 versions carry type and description only in their tags: read
 * for a winner the index chose, whose object had no metadata. */
static bool wants_winner_tags(const struct key_state *k)
{
	return k->needs_body && !k->have_details;
}

static int prepare_winner_tags(struct restore_run *r, struct key_state *k,
			       struct aws_call *call)
{
	char *data_key = changes_data_key(r->prefix, k->key);
	int rc = s3_prepare_get_tagging(&r->ctx, call, r->bucket, data_key,
					k->win.version_id);
	free(data_key);
	return rc;
}

static void fetch_winner_tags(struct restore_run *r)
{
	fetch_each(r, wants_winner_tags, prepare_winner_tags, adopt_tags);
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

static bool wants_extra(const struct key_state *k)
{
	return k->needs_body && k->rec.extra_ref;
}

static int prepare_extra(struct restore_run *r, struct key_state *k,
			 struct aws_call *call)
{
	char *key = xasprintf(RECORD_EXTRA_PREFIX "%s", k->rec.extra_ref);
	int rc = s3_prepare_get_object(&r->ctx, call, r->bucket, key, NULL);
	free(key);
	return rc;
}

static void fetch_extras(struct restore_run *r)
{
	fetch_each(r, wants_extra, prepare_extra, adopt_extra);
}

/* --- SSM now --- */

/* --to names must be names SSM takes, before anything is written. */
static void check_targets(const struct restore_run *r)
{
	for (size_t i = 0; r->opts->to && i < r->n_keys; i++) {
		const char *why = ssm_name_problem(r->keys[i].target,
						   SSM_NAME_PARAMETER, r->ssm->region);
		if (why)
			cli_usage_error(r->opts->usage, "--to makes the name '%s' of "
					"%s, which %s", cli_shown_arg(r->keys[i].target),
					r->keys[i].key, why);
	}
}

/* SSM keeps a single-level name without its slash: "/foo" and "foo" are
 * one parameter (UPSTREAM.md, defect 9). */
static const char *canonical_name(const char *name)
{
	return name[0] == '/' && !strchr(name + 1, '/') ? name + 1 : name;
}

static char *target_name(const struct restore_run *r, const struct key_state *k)
{
	if (!r->opts->to)
		return xstrdup(canonical_name(k->key));
	const char *to = r->opts->to;
	if (r->scope.key_mode && !scope_is_path(to))
		return xstrdup(to);
	if (r->scope.key_mode) /* like cp FILE DIR/: the key's own name in it */
		return xasprintf("%s%s", to, strrchr(k->key, '/') + 1);
	const char *rest = k->key + strlen(r->scope.prefix);
	return xasprintf("%s%s%s", to, to[strlen(to) - 1] == '/' ? "" : "/",
			 rest);
}

static int compare_current(const void *a, const void *b)
{
	return strcmp(canonical_name(((const struct ssm_parameter *)a)->name),
		      canonical_name(((const struct ssm_parameter *)b)->name));
}

/* SSM now, by name: what DescribeParameters listed is sorted (a binary
 * search each, not a scan: 100,000 keys would take 10^10 comparisons);
 * the few GetParameters found beyond the path filter follow it. */
static void sort_current(struct restore_run *r)
{
	if (r->current.n) /* nothing listed: items may still be NULL */
		qsort(r->current.items, r->current.n,
		      sizeof(*r->current.items), compare_current);
	r->sorted = r->current.n;
}

static struct ssm_parameter *find_current(const struct restore_run *r,
					  const char *name)
{
	struct ssm_parameter probe = { .name = (char *)name };
	struct ssm_parameter *hit = r->sorted
		? bsearch(&probe, r->current.items, r->sorted,
			  sizeof(*r->current.items), compare_current)
		: NULL;
	for (size_t i = r->sorted; !hit && i < r->current.n; i++)
		if (compare_current(&probe, &r->current.items[i]) == 0)
			hit = &r->current.items[i];
	return hit;
}

static void fail_keys_with_target(struct restore_run *r, const char *target,
				  const struct err *e)
{
	for (size_t i = 0; i < r->n_keys; i++)
		if (r->keys[i].target && strcmp(canonical_name(r->keys[i].target),
						canonical_name(target)) == 0)
			fail_key(&r->keys[i], e);
}

/* The filter that names the scope's parameters in SSM: the one name in
 * key mode, else the path (recursively; the scope is cut here), none for
 * the whole store. */
static json_t *scope_filter(const struct restore_run *r)
{
	const char *scope = r->opts->to ? r->opts->to : r->scope.prefix;
	if (r->scope.key_mode)
		return json_pack("[{s:s, s:s, s:[s]}]", "Key", "Name", "Option",
				 "Equals", "Values", scope);
	if (strcmp(scope, "/") == 0)
		return NULL;
	char *path = xstrdup(scope);
	if (strlen(path) > 1 && path[strlen(path) - 1] == '/')
		path[strlen(path) - 1] = '\0';
	json_t *f = json_pack("[{s:s, s:s, s:[s]}]", "Key", "Path", "Option",
			      "Recursive", "Values", path);
	free(path);
	return f;
}

/* Every parameter of the scope with its version, date and metadata (no
 * values): DescribeParameters, 50 a page. */
static void describe_current(struct restore_run *r)
{
	struct err e = { 0 };
	json_t *filters = scope_filter(r);
	if (ssm_describe_parameters(r->ssm, filters, &r->current, &e) < 0)
		die_err(&e);
	json_decref(filters);
}

/* Whether SSM holds exactly the recorded state, from versions alone: any
 * change of value, type, description, key, tier or pattern makes a new
 * SSM version, and a recreate restarts the count at a new date. */
static bool same_as_recorded(const struct restore_run *r,
			     const struct key_state *k,
			     const struct ssm_parameter *cur)
{
	if (r->opts->to)
		return false;
	if (k->win.ssm_version > 0 && k->win.modified_ms > 0)
		return cur->version == k->win.ssm_version &&
		       llround(cur->last_modified * 1000) == k->win.modified_ms;
	/* Format 1 recorded no version, but its Lambda read the value after
	 * the event: a current version made no later than the second of the
	 * key's latest recorded event is the one it read (FORMAT.md,
	 * "Reading"). */
	return k->latest_is_winner &&
	       floor(cur->last_modified) <= (double)k->win.event_time;
}

/* Parameters SSM holds under the scope that the bucket never recorded:
 * with --prune they did not exist at TIME either. */
static int compare_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void add_unrecorded_current(struct restore_run *r)
{
	if (r->opts->to)
		return;
	size_t n = r->n_keys;
	const char **recorded = xcalloc(n + 1, sizeof(*recorded));
	for (size_t j = 0; j < n; j++)
		recorded[j] = canonical_name(r->keys[j].target);
	qsort(recorded, n, sizeof(*recorded), compare_names);
	/* add_key may move r->keys: what was recorded is copied out first. */
	char **missing = xcalloc(r->current.n + 1, sizeof(*missing));
	size_t m = 0;
	for (size_t i = 0; i < r->current.n; i++) {
		const char *name = canonical_name(r->current.items[i].name);
		if (!bsearch(&name, recorded, n, sizeof(*recorded), compare_names))
			missing[m++] = record_key_for_name(name);
	}
	free(recorded);
	for (size_t i = 0; i < m; i++) {
		if (!missing[i])
			die(EXIT_FAILURE_RUN, "out of memory");
		if (scope_admits(&r->scope, missing[i])) {
			struct key_state *k = add_key(r, missing[i]);
			k->target = xstrdup(canonical_name(missing[i]));
		}
		free(missing[i]);
	}
	free(missing);
}

static void plan_fetches(struct restore_run *r)
{
	if (r->opts->prune)
		add_unrecorded_current(r);
	for (size_t i = 0; i < r->n_keys; i++) {
		struct key_state *k = &r->keys[i];
		if (k->failed)
			continue;
		k->current = find_current(r, k->target);
		if (created_after(k)) {
			k->prune = r->opts->prune && k->current;
			k->action = k->prune ? ACTION_DELETE : ACTION_NONE;
		} else if (unknown_at_time(k)) {
			k->action = ACTION_UNKNOWN;
		} else if (k->deleted) {
			k->action = k->current && !r->opts->to ? ACTION_DELETE
							       : ACTION_NONE;
		} else {
			k->needs_body = r->opts->all || !k->current ||
					!same_as_recorded(r, k, k->current);
		}
		/* What SSM holds now is shown beside each change. */
		k->needs_now = k->current && k->action != ACTION_NONE &&
			       (r->opts->diff ||
				r->opts->common.output == CLI_OUTPUT_JSON);
	}
}

static void merge_value(struct restore_run *r, struct ssm_parameter *got,
			bool *added)
{
	struct ssm_parameter *cur = find_current(r, got->name);
	if (cur) {
		free(cur->value);
		cur->value = got->value;
		got->value = NULL;
		return;
	}
	/* Not under the path filter, yet there (UPSTREAM.md, defect 8). */
	struct ssm_parameter *p = ssm_parameter_list_add(&r->current);
	if (!p)
		die(EXIT_FAILURE_RUN, "out of memory");
	*p = *got;
	memset(got, 0, sizeof(*got));
	*added = true;
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

/* Description, tier, KMS key and pattern of the parameters GetParameters
 * found outside the path filter: DescribeParameters by name, 50 a call. */
static void read_missing_metadata(struct restore_run *r)
{
	size_t from = r->described;
	for (; from < r->current.n; from += 50) {
		size_t to = from + 50 < r->current.n ? from + 50 : r->current.n;
		json_t *values = json_array();
		for (size_t i = from; i < to; i++)
			json_array_append_new(values,
					      json_string(r->current.items[i].name));
		json_t *filters = json_pack("[{s:s, s:s, s:o}]", "Key", "Name",
					    "Option", "Equals", "Values", values);
		struct ssm_parameter_list meta = { 0 };
		struct err e = { 0 };
		if (ssm_describe_parameters(r->ssm, filters, &meta, &e) < 0) {
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

/* Values of the keys to compare, and a second look at the ones the path
 * filter did not show: GetParameters, 10 names a call, all at once. A
 * failed call fails its keys only. */
static void take_values(struct restore_run *r, struct fetch *f,
			struct key_state **asked, size_t n, bool *added)
{
	struct err e = f->call.err;
	struct ssm_parameter_list got = { 0 };
	if (e.kind == ERR_NONE)
		ssm_parse_get_parameters(&f->call, &got, NULL, &e);
	for (size_t i = 0; e.kind != ERR_NONE && i < n; i++)
		fail_key(asked[i], &e);
	for (size_t i = 0; e.kind == ERR_NONE && i < got.n; i++)
		merge_value(r, &got.items[i], added);
	ssm_parameter_list_release(&got);
}

static void read_current_values(struct restore_run *r)
{
	struct key_state **asked = xcalloc(r->n_keys + 1, sizeof(*asked));
	size_t n = 0;
	for (size_t i = 0; i < r->n_keys; i++)
		if (!r->keys[i].failed &&
		    (r->keys[i].needs_body || r->keys[i].needs_now))
			asked[n++] = &r->keys[i];
	const size_t per_call = SSM_GET_PARAMETERS_MAX;
	bool added = false;
	struct fetch *f = fetches_new(FETCH_CHUNK);
	for (size_t from = 0; from < n; from += per_call * FETCH_CHUNK) {
		size_t calls = 0;
		for (size_t c = from; c < n && calls < FETCH_CHUNK; c += per_call) {
			const char *names[SSM_GET_PARAMETERS_MAX];
			size_t count = 0;
			for (size_t i = c; i < n && count < per_call; i++)
				names[count++] = asked[i]->target;
			if (ssm_prepare_get_parameters(r->ssm, &f[calls++].call, names,
						       count) < 0)
				die(EXIT_FAILURE_RUN, "out of memory");
		}
		run_fetches(r, f, calls);
		for (size_t c = 0; c < calls; c++) {
			size_t first = from + c * per_call;
			size_t count = n - first < per_call ? n - first : per_call;
			take_values(r, &f[c], asked + first, count, &added);
			aws_call_release(&f[c].call);
		}
	}
	free(f);
	free(asked);
	if (added)
		read_missing_metadata(r);
	for (size_t i = 0; i < r->n_keys; i++)
		if (r->keys[i].target)
			r->keys[i].current = find_current(r, r->keys[i].target);
}

/* --- what changes --- */

static bool same_text(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

/* What restore would change: only what the backup recorded can differ
 * (format 1 recorded no tier, key or pattern, and a description with
 * characters dropped). */
static unsigned changes_of(const struct key_state *k,
			   const struct ssm_parameter *cur)
{
	const struct ssm_parameter *rec = &k->rec.param;
	unsigned c = 0;
	if (!same_text(k->value, cur->value))
		c |= CHANGE_VALUE;
	if (!same_text(rec->type, cur->type))
		c |= CHANGE_TYPE;
	if (!k->have_metadata) {
		char *legacy = cur->description
				       ? record_legacy_description(cur->description)
				       : NULL;
		if (!same_text(rec->description, legacy))
			c |= CHANGE_DESCRIPTION;
		free(legacy);
		return c;
	}
	if (!same_text(rec->description, cur->description))
		c |= CHANGE_DESCRIPTION;
	if (rec->tier && !same_text(rec->tier, cur->tier))
		c |= CHANGE_TIER;
	if (rec->data_type && !same_text(rec->data_type, cur->data_type))
		c |= CHANGE_DATA_TYPE;
	if (!same_text(rec->allowed_pattern, cur->allowed_pattern))
		c |= CHANGE_PATTERN;
	if (rec->key_id && cur->key_id && !same_text(rec->key_id, cur->key_id))
		c |= CHANGE_KEY;
	return c;
}

/* SSM never takes a parameter from the Advanced tier back to Standard
 * ("You can't downgrade a parameter from the advanced-parameter tier":
 * PutParameter's ValidationException): only deleting it and creating it
 * again does. */
static bool needs_recreate(const struct key_state *k)
{
	return (k->changes & CHANGE_TIER) && same_text(k->rec.param.tier, "Standard") &&
	       same_text(k->current->tier, "Advanced");
}

static void decide_actions(struct restore_run *r)
{
	for (size_t i = 0; i < r->n_keys; i++) {
		struct key_state *k = &r->keys[i];
		if (k->failed || !k->has_winner || k->deleted || !k->needs_body)
			continue;
		if (!k->value) {
			struct err e = { 0 };
			err_set(&e, ERR_PARSE, "the chosen version of %s was not read",
				k->key);
			fail_key(k, &e);
			continue;
		}
		if (!k->current) {
			k->action = ACTION_CREATE;
			continue;
		}
		k->changes = changes_of(k, k->current);
		k->action = k->changes ? ACTION_UPDATE : ACTION_NONE;
		if (k->action == ACTION_UPDATE && needs_recreate(k))
			k->action = ACTION_RECREATE;
	}
}

/* --- applying --- */

/* What PutParameter (Overwrite) is told so that SSM ends as recorded: it
 * keeps a Description or AllowedPattern it is not given, so one the
 * record lacks is sent empty, which removes it (test/localaws/README.md,
 * "PutParameter with Overwrite"). Format 1 recorded a lossy description
 * (UPSTREAM.md, defect 3): it is what preview shows, so it is what restore
 * writes. A parameter created again starts from nothing. */
static void restore_parameter_for(struct key_state *k, struct ssm_parameter *p)
{
	*p = k->rec.param;
	p->name = k->target;
	p->value = k->value;
	const struct ssm_parameter *cur = k->current;
	if (!cur || k->action == ACTION_RECREATE)
		return;
	if (!p->description && cur->description && *cur->description)
		p->description = (char *)"";
	if (!p->allowed_pattern && cur->allowed_pattern && *cur->allowed_pattern)
		p->allowed_pattern = (char *)"";
}

static void settle_write(struct key_state *k, const struct err *e)
{
	if (e->kind != ERR_NONE) {
		fail_key(k, e);
		k->outcome = OUTCOME_FAILED;
	} else {
		k->outcome = OUTCOME_OK;
	}
}

/* PutParameter answers the version it made (or, for aws:ec2:image, will
 * make once the value is validated). */
static void settle_put(struct fetch *f)
{
	settle_write(f->k, &f->call.err);
	json_t *root = NULL;
	if (f->call.err.kind == ERR_NONE &&
	    ssm_parse_answer(&f->call, &root, &(struct err){ 0 }) == 0) {
		json_t *v = json_object_get(root, "Version");
		f->k->put_version = json_is_integer(v) ? json_integer_value(v) : 0;
	}
	json_decref(root);
}

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Until its write answers, every key restore means to change is "not
 * attempted": what a summary says of a run stopped early. */
static void mark_not_attempted(struct restore_run *r)
{
	for (size_t i = 0; i < r->n_keys; i++) {
		struct key_state *k = &r->keys[i];
		if (!k->failed && k->action != ACTION_NONE &&
		    k->action != ACTION_UNKNOWN)
			k->outcome = OUTCOME_NOT_ATTEMPTED;
	}
}

/* The recorded tags and labels of what was just written (lib/extras). */
static void apply_extras(struct restore_run *r)
{
	struct extras_target *t = xcalloc(r->n_keys + 1, sizeof(*t));
	struct key_state **of = xcalloc(r->n_keys + 1, sizeof(*of));
	size_t n = 0;
	for (size_t i = 0; i < r->n_keys; i++) {
		struct key_state *k = &r->keys[i];
		if (k->failed || (k->action != ACTION_CREATE &&
				  k->action != ACTION_UPDATE))
			continue;
		of[n] = k;
		t[n++] = (struct extras_target){ .name = k->target,
						 .tags = k->rec.tags,
						 .labels = k->rec.param.labels };
	}
	extras_restore(r->ssm, t, n);
	for (size_t i = 0; i < n; i++)
		if (t[i].failed)
			settle_write(of[i], &t[i].err);
	free(t);
	free(of);
}

static void apply_puts(struct restore_run *r)
{
	struct fetch *f = fetches_new(r->n_keys);
	size_t n = 0;
	for (size_t i = 0; i < r->n_keys; i++) {
		struct key_state *k = &r->keys[i];
		if (k->failed || (k->action != ACTION_CREATE &&
				  k->action != ACTION_UPDATE &&
				  k->action != ACTION_RECREATE))
			continue;
		struct ssm_parameter p;
		restore_parameter_for(k, &p);
		if (ssm_prepare_put_parameter(r->ssm, &f[n].call, &p) < 0) {
			struct err e = { 0 };
			err_set(&e, ERR_INPUT, "the stored value of %s is not "
					       "valid UTF-8 text", k->key);
			settle_write(k, &e);
			aws_call_release(&f[n].call);
			continue;
		}
		f[n++].k = k;
	}
	http_client_set_concurrency(r->ssm->http, SSM_WRITE_CONCURRENCY);
	http_client_prefer_retry_mode(r->ssm->http, RETRY_ADAPTIVE);
	struct progress writing;
	progress_attach(&writing, r->ssm->http, "writing");
	run_and_settle(r, f, n, settle_put);
	progress_detach(&writing, r->ssm->http);
	apply_extras(r);
}

/* A parameter that cannot be put back in place (needs_recreate) is
 * deleted first, with --recreate; without it, it is reported. */
static void prepare_recreates(struct restore_run *r)
{
	struct key_state **batch = xcalloc(r->n_keys + 1, sizeof(*batch));
	size_t n = 0;
	for (size_t i = 0; i < r->n_keys; i++) {
		struct key_state *k = &r->keys[i];
		if (k->failed || k->action != ACTION_RECREATE)
			continue;
		if (!r->opts->recreate) {
			struct err e = { 0 };
			err_set(&e, ERR_INPUT, "its tier is Advanced now and SSM cannot "
				"make it Standard again in place: --recreate deletes it "
				"and creates it again (its SSM history restarts)");
			settle_write(k, &e);
			continue;
		}
		batch[n++] = k;
	}
	for (size_t c = 0; c < n; c += SSM_DELETE_PARAMETERS_MAX) {
		const char *names[SSM_DELETE_PARAMETERS_MAX];
		size_t count = 0;
		for (size_t i = c; i < n && count < SSM_DELETE_PARAMETERS_MAX; i++)
			names[count++] = batch[i]->target;
		struct aws_call call;
		struct err e = { 0 };
		if (ssm_prepare_delete_parameters(r->ssm, &call, names, count) < 0)
			die(EXIT_FAILURE_RUN, "out of memory");
		if (aws_perform_one(r->ssm, &call, &e) < 0)
			for (size_t i = c; i < c + count; i++)
				settle_write(batch[i], &e);
		aws_call_release(&call);
	}
	for (size_t i = 0; i < n; i++)
		if (!batch[i]->failed)
			log_msg(LOG_WARN, "%s: deleted to be created again: SSM's own "
				"history of it restarts", batch[i]->target);
	free(batch);
}

/* aws:ec2:image values are validated after PutParameter answers; the
 * version it promised appears only if the value passes
 * (https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-ec2-aliases.html).
 * Restore counts such a key as done only once SSM shows that version. */
#define ASYNC_CONFIRM_SECONDS 30

/* SSMBAK_CONFIRM_SECONDS: how long to wait for such a version. */
static double confirm_seconds(void)
{
	const char *text = getenv("SSMBAK_CONFIRM_SECONDS");
	char *end;
	double s = text ? strtod(text, &end) : -1;
	return text && !*end && s >= 0 && s <= 3600 ? s : ASYNC_CONFIRM_SECONDS;
}

static bool awaits_confirmation(const struct key_state *k)
{
	return k->outcome == OUTCOME_OK && k->put_version &&
	       same_text(k->rec.param.data_type, "aws:ec2:image");
}

static void confirm_async_puts(struct restore_run *r)
{
	double limit = confirm_seconds();
	double give_up = now_seconds() + limit;
	for (double wait = 0.1;; wait = wait * 2 > 2 ? 2 : wait * 2) {
		size_t waiting = 0;
		for (size_t i = 0; i < r->n_keys; i++) {
			struct key_state *k = &r->keys[i];
			if (!awaits_confirmation(k))
				continue;
			struct ssm_parameter now = { 0 };
			struct err e = { 0 };
			if (ssm_get_parameter(r->ssm, k->target, &now, &e) == 0 &&
			    now.version >= k->put_version)
				k->put_version = 0; /* confirmed */
			else
				waiting++;
			ssm_parameter_release(&now);
		}
		if (!waiting)
			return;
		if (now_seconds() + wait > give_up)
			break;
		struct timespec pause = { (time_t)wait, (long)((wait - (long)wait) * 1e9) };
		nanosleep(&pause, NULL);
	}
	for (size_t i = 0; i < r->n_keys; i++) {
		struct key_state *k = &r->keys[i];
		if (!awaits_confirmation(k))
			continue;
		struct err e = { 0 };
		err_set(&e, ERR_AWS, "SSM did not make version %lld within %.0f s: its "
			"aws:ec2:image value was not accepted (the Parameter Store Change "
			"event says why)", k->put_version, limit);
		settle_write(k, &e);
	}
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
		if (ssm_prepare_delete_parameters(r->ssm, &f[c].call, names,
						  count) < 0)
			die(EXIT_FAILURE_RUN, "out of memory");
	}
	run_fetches(r, f, n_calls);
	/* A name SSM reports as invalid is already gone: what the restore
	 * wanted. A failed call fails every name it carried. */
	for (size_t c = 0; c < n_calls; c++) {
		for (size_t i = c * SSM_DELETE_PARAMETERS_MAX;
		     i < n && i < (c + 1) * SSM_DELETE_PARAMETERS_MAX; i++)
			settle_write(batch[i], &f[c].call.err);
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
	/* JSON also lists what restore tried and failed, with its reason. */
	if (k->failed)
		return r->opts->common.output == CLI_OUTPUT_JSON &&
		       k->outcome == OUTCOME_FAILED;
	if (k->action != ACTION_NONE)
		return true;
	return r->opts->all && k->has_winner;
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

#define NOT_CAPTURED "(not captured)"

/* The value at TIME as a cell: masked, empty for a delete. */
static const char *value_at_time(const struct restore_run *r,
				 const struct key_state *k)
{
	if (unknown_at_time(k))
		return NOT_CAPTURED;
	if (k->deleted || !k->has_winner)
		return "";
	return is_secure(k) && !r->opts->show_secure ? SECURE_MASK : k->value;
}

static const char *value_now(const struct restore_run *r,
			     const struct key_state *k)
{
	if (!k->current)
		return "";
	if (same_text(k->current->type, "SecureString") && !r->opts->show_secure)
		return SECURE_MASK;
	return k->current->value ? k->current->value : "";
}

/* The Python tool's columns (its users' scripts read them): Name, Value,
 * Type, Modified, and Description / Deleted when any row has one. */
static void print_classic_table(struct restore_run *r, struct key_state **rows,
				size_t n)
{
	bool any_description = false, any_deleted = false;
	for (size_t i = 0; i < n; i++) {
		bool gone = rows[i]->deleted || rows[i]->prune;
		any_description |= rows[i]->rec.param.description &&
				   *rows[i]->rec.param.description && !gone;
		any_deleted |= gone;
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
		char modified[32] = "";
		bool gone = k->deleted || k->prune;
		if (k->has_winner)
			time_format_table(k->win.event_time, modified);
		const char *type = k->has_winner ? k->rec.param.type
						 : k->current ? k->current->type : "";
		const char *cells[6] = { k->target, value_at_time(r, k), type,
					 modified };
		size_t c = 4;
		if (any_description)
			cells[c++] = gone ? "" : k->rec.param.description;
		if (any_deleted)
			cells[c++] = gone ? "yes" : "";
		if (table_add_row(t, cells) < 0)
			die(EXIT_FAILURE_RUN, "out of memory");
	}
	if (!t || table_print(t, stdout, TABLE_WRAP) < 0)
		die(EXIT_FAILURE_RUN, "out of memory");
	table_free(t);
}

static const char *action_name(const struct key_state *k)
{
	switch (k->action) {
	case ACTION_CREATE: return "create";
	case ACTION_UPDATE: return "update";
	case ACTION_DELETE: return k->prune ? "prune" : "delete";
	case ACTION_UNKNOWN: return "unknown";
	case ACTION_RECREATE: return "recreate";
	case ACTION_NONE: break;
	}
	return "none";
}

static const struct {
	unsigned bit;
	const char *name;
} change_names[] = {
	{ CHANGE_VALUE, "value" }, { CHANGE_TYPE, "type" },
	{ CHANGE_DESCRIPTION, "description" }, { CHANGE_TIER, "tier" },
	{ CHANGE_DATA_TYPE, "data_type" }, { CHANGE_PATTERN, "allowed_pattern" },
	{ CHANGE_KEY, "key_id" },
};

static void changes_text(const struct key_state *k, char *out, size_t size)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof(change_names) / sizeof(change_names[0]); i++)
		if ((k->changes & change_names[i].bit) && used < size)
			used += (size_t)snprintf(out + used, size - used, "%s%s",
						 used ? ", " : "", change_names[i].name);
}

/* --diff: what restore does to each key, and SSM now beside TIME. */
static void print_diff_table(struct restore_run *r, struct key_state **rows,
			     size_t n)
{
	const char *headers[] = { "Name", "Action", "Changes", "Now", "At TIME",
				  "Modified" };
	struct table *t = table_new(headers, 6);
	for (size_t i = 0; t && i < n; i++) {
		struct key_state *k = rows[i];
		char modified[32] = "", what[128];
		if (k->has_winner)
			time_format_table(k->win.event_time, modified);
		changes_text(k, what, sizeof(what));
		if (unknown_at_time(k) && k->has_last_known) {
			char last[32];
			time_format_table(k->last_known_time, last);
			snprintf(what, sizeof(what), "last known %s", last);
		}
		const char *cells[6] = { k->target, action_name(k), what,
					 value_now(r, k), value_at_time(r, k),
					 modified };
		if (table_add_row(t, cells) < 0)
			die(EXIT_FAILURE_RUN, "out of memory");
	}
	if (!t || table_print(t, stdout, TABLE_WRAP) < 0)
		die(EXIT_FAILURE_RUN, "out of memory");
	table_free(t);
}

static json_t *state_at_time(const struct restore_run *r,
			     const struct key_state *k)
{
	const struct ssm_parameter *p = &k->rec.param;
	json_t *o = json_object();
	json_object_set_new(o, "known", json_boolean(!unknown_at_time(k)));
	json_object_set_new(o, "exists", json_boolean(k->has_winner && !k->deleted &&
						       !unknown_at_time(k)));
	if (k->has_winner) {
		char when[32];
		time_format_iso(k->win.event_time, when);
		json_set_string_if(o, "event_time", when);
	}
	if (k->has_last_known && unknown_at_time(k)) {
		char when[32];
		time_format_iso(k->last_known_time, when);
		json_set_string_if(o, "last_known_event_time", when);
	}
	if (!k->has_winner || k->deleted || unknown_at_time(k))
		return o;
	if (!is_secure(k) || r->opts->show_secure)
		json_set_string_if(o, "value", k->value);
	json_set_string_if(o, "type", p->type);
	json_set_string_if(o, "description", p->description);
	if (p->version)
		json_object_set_new(o, "version", json_integer(p->version));
	json_set_string_if(o, "key_id", p->key_id);
	json_set_string_if(o, "tier", p->tier);
	json_set_string_if(o, "data_type", p->data_type);
	json_set_string_if(o, "allowed_pattern", p->allowed_pattern);
	/* what restore puts back beside the version (lib/extras) */
	json_set_string_if(o, "user", p->last_modified_user);
	json_set_string_if(o, "labels", p->labels);
	json_set_string_if(o, "policies", p->policies);
	json_set_string_if(o, "tags", k->rec.tags);
	return o;
}

static json_t *state_now(const struct restore_run *r, const struct key_state *k)
{
	const struct ssm_parameter *c = k->current;
	json_t *o = json_object();
	json_object_set_new(o, "exists", json_boolean(c != NULL));
	if (!c)
		return o;
	if (c->value && (!same_text(c->type, "SecureString") || r->opts->show_secure))
		json_set_string_if(o, "value", c->value);
	json_set_string_if(o, "type", c->type);
	json_set_string_if(o, "description", c->description);
	if (c->version)
		json_object_set_new(o, "version", json_integer(c->version));
	json_set_string_if(o, "tier", c->tier);
	return o;
}

static const char *outcome_name(enum outcome o)
{
	return o == OUTCOME_OK ? "ok" : o == OUTCOME_FAILED ? "failed"
				 : "not attempted";
}

/* One object per key: the state at TIME flat (the first round's fields,
 * for scripts), then action, changes, at_time, now and, for restore, the
 * outcome. */
static json_t *json_row(const struct restore_run *r, const struct key_state *k)
{
	json_t *o = json_object();
	json_set_string_if(o, "name", k->target);
	json_t *at = state_at_time(r, k);
	const char *flat[] = { "value", "type", "description", "version", "key_id",
			       "tier", "data_type", "allowed_pattern", "event_time" };
	for (size_t i = 0; i < sizeof(flat) / sizeof(flat[0]); i++)
		if (json_object_get(at, flat[i]))
			json_object_set(o, flat[i], json_object_get(at, flat[i]));
	json_object_set_new(o, "deleted", json_boolean(k->deleted || k->prune));
	json_object_set_new(o, "changed", json_boolean(k->action != ACTION_NONE));
	json_set_string_if(o, "action", action_name(k));
	json_t *changes = json_array();
	for (size_t i = 0; i < sizeof(change_names) / sizeof(change_names[0]); i++)
		if (k->changes & change_names[i].bit)
			json_array_append_new(changes, json_string(change_names[i].name));
	json_object_set_new(o, "changes", changes);
	json_object_set_new(o, "at_time", at);
	json_object_set_new(o, "now", state_now(r, k));
	if (r->opts->apply && k->action != ACTION_NONE &&
	    k->action != ACTION_UNKNOWN) {
		json_set_string_if(o, "outcome", outcome_name(k->outcome));
		if (k->outcome == OUTCOME_FAILED) {
			char line[ERR_LINE_MAX];
			json_set_string_if(o, "reason", err_line(k->err, line, sizeof(line)));
		}
	}
	return o;
}

/* A JSON array, written one row at a time: a whole tree's array in
 * memory would outweigh everything else restore holds. */
static void print_json(struct restore_run *r, struct key_state **rows,
		       size_t n)
{
	fputs("[", stdout);
	for (size_t i = 0; i < n; i++) {
		json_t *row = json_row(r, rows[i]);
		char *text = json_dumps(row, JSON_INDENT(2) | JSON_ENSURE_ASCII);
		if (!text)
			die(EXIT_FAILURE_RUN, "out of memory (or a value is not UTF-8)");
		fprintf(stdout, "%s\n  ", i ? "," : "");
		for (const char *c = text; *c; c++) {
			fputc(*c, stdout);
			if (*c == '\n')
				fputs("  ", stdout);
		}
		explicit_bzero(text, strlen(text));
		free(text);
		json_decref(row);
	}
	fputs(n ? "\n]\n" : "]\n", stdout);
}

static void report_failures(struct restore_run *r)
{
	for (size_t i = 0; i < r->n_keys; i++) {
		struct key_state *k = &r->keys[i];
		if (!k->failed)
			continue;
		char line[ERR_LINE_MAX];
		escape_fprintf(stderr, "%s: %s: %s: %s\n", progname(),
			k->target ? k->target : k->key,
			k->outcome == OUTCOME_FAILED ? "not restored" : "not read",
			err_line(k->err, line, sizeof(line)));
	}
	for (size_t i = 0; i < r->n_keys && !r->opts->apply && !r->opts->recreate; i++)
		if (r->keys[i].action == ACTION_RECREATE)
			escape_fprintf(stderr, "%s: %s: its tier is Advanced now: restore "
				       "needs --recreate to make it Standard again\n",
				       progname(), r->keys[i].target);
	for (size_t i = 0; i < r->n_keys; i++) {
		struct key_state *k = &r->keys[i];
		if (k->action != ACTION_UNKNOWN)
			continue;
		char last[32] = "none";
		if (k->has_last_known)
			time_format_iso(k->last_known_time, last);
		escape_fprintf(stderr, "%s: %s: its value at TIME was not captured (a gap "
				"in the backup; last captured value: %s)\n",
			progname(), k->target, last);
	}
}

struct tally {
	size_t created, updated, deleted, failed, unread, unknown, not_attempted;
};

static struct tally count_outcomes(const struct restore_run *r)
{
	struct tally t = { 0 };
	for (size_t i = 0; i < r->n_keys; i++) {
		const struct key_state *k = &r->keys[i];
		if (k->action == ACTION_UNKNOWN)
			t.unknown++;
		else if (k->failed && k->outcome != OUTCOME_FAILED)
			t.unread++;
		else if (k->outcome == OUTCOME_FAILED)
			t.failed++;
		else if (k->outcome == OUTCOME_NOT_ATTEMPTED)
			t.not_attempted++;
		else if (k->outcome == OUTCOME_OK)
			*(k->action == ACTION_CREATE ? &t.created
			  : k->action == ACTION_DELETE ? &t.deleted : &t.updated) += 1;
	}
	return t;
}

/* One line with the true counts, whenever something was not done. */
static void print_summary(const struct restore_run *r)
{
	struct tally t = count_outcomes(r);
	if (!t.failed && !t.unread && !t.unknown && !t.not_attempted)
		return;
	if (r->opts->apply)
		fprintf(stderr, "%s: written: %zu created, %zu updated, %zu deleted; "
				"failed %zu; not read %zu; not captured %zu; not "
				"attempted %zu%s\n",
			progname(), t.created, t.updated, t.deleted, t.failed, t.unread,
			t.unknown, t.not_attempted,
			t.failed || t.unread || t.not_attempted
				? ": run the same command again to finish" : "");
	else
		fprintf(stderr, "%s: the preview is incomplete: %zu parameters not "
				"read, %zu not captured at TIME\n",
			progname(), t.unread, t.unknown);
	if (t.unknown)
		fprintf(stderr, "%s: --use-last-known restores the last value "
				"captured before each gap\n", progname());
}

static void print_results(struct restore_run *r)
{
	size_t n;
	struct key_state **rows = shown_rows(r, &n);
	if (r->opts->common.output == CLI_OUTPUT_JSON)
		print_json(r, rows, n);
	else if (r->opts->diff && n)
		print_diff_table(r, rows, n);
	else
		print_classic_table(r, rows, n);
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
		free(k->key);
		free(k->err);
		change_entry_release(&k->win);
		record_release(&k->rec);
		if (k->value)
			explicit_bzero(k->value, strlen(k->value));
		free(k->value);
		free(k->target);
	}
	free(r->keys);
	free(r->pending);
	scope_release(&r->scope);
	free(r->prefix);
	ssm_parameter_list_release(&r->current);
	free(r->bucket);
	if (r->ssm == &r->target)
		aws_ctx_release(&r->target);
	aws_ctx_release(&r->ctx);
}

static bool any_not_done(const struct restore_run *r)
{
	for (size_t i = 0; i < r->n_keys; i++)
		if (r->keys[i].failed || r->keys[i].action == ACTION_UNKNOWN)
			return true;
	return false;
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

/* Released however restore ends: a failure that exits from deep inside
 * must not leave its lease to expire. */
static struct lease *held_lease;

static void release_held_lease(void)
{
	struct err e = { 0 };
	char line[ERR_LINE_MAX];
	if (lease_release(held_lease, &e) < 0)
		fprintf(stderr, "%s: the restore lease was not released (it "
			"expires by itself): %s\n", progname(),
			err_line(&e, line, sizeof(line)));
	held_lease = NULL;
}

/* SSM's side: the command's own context, or one of its own for
 * --target-region (default: -r's region) and --target-profile (default:
 * -r's credentials). The bucket is read with the command's. */
static void open_target(struct restore_run *r)
{
	const struct restore_opts *o = r->opts;
	struct err e = { 0 };
	r->ssm = &r->ctx;
	if (!o->target_region && !o->target_profile)
		return;
	struct aws_options opts = {
		o->target_region ? o->target_region : r->ctx.region,
		o->target_profile ? o->target_profile : o->common.profile
	};
	if (aws_ctx_init(&r->target, &opts, &e) < 0)
		die_err(&e);
	r->ssm = &r->target;
	if (o->common.verbose > 1)
		http_client_set_trace(r->target.http, verbosity_trace_request, NULL);
	log_msg(LOG_INFO, "SSM: region %s, credentials from %s (the target)",
		r->target.region, creds_describe(r->target.creds));
}

static int run(struct restore_opts *o)
{
	struct restore_run r = { .opts = o };
	struct err e = { 0 };
	const char *bucket_source = NULL;
	r.prefix = cli_key_prefix(&o->common, o->usage);
	cli_aws_init(&r.ctx, &o->common);
	open_target(&r);
	r.bucket = cli_find_bucket(&r.ctx, &o->common, &bucket_source, &e);
	if (!r.bucket)
		die_err(&e);
	log_msg(LOG_INFO, "bucket %s (from %s)", r.bucket, bucket_source);
	if (s3_require_versioning(&r.ctx, r.bucket, &e) < 0)
		die_err(&e);
	cli_log_bucket_region(&r.ctx, r.bucket);
	struct aws_options lease_aws = { o->common.region, o->common.profile };
	struct lease_request lr = { r.bucket, r.prefix, o->path, o->to,
				    o->time, o->force, &lease_aws,
				    r.ssm == &r.target ? &r.target : NULL };
	if (o->apply && lease_acquire(&r.ctx, &lr, &held_lease, &e) < 0)
		die_err(&e);
	atexit(release_held_lease);

	scan_scope(&r);
	log_msg(LOG_INFO, "%s %s: %zu keys", r.scope.key_mode ? "key" : "path",
		r.scope.prefix, r.n_keys);
	verbosity_warn_if_no_keys(r.n_keys, &r.scope, r.bucket, r.prefix);
	struct progress reading;
	progress_attach(&reading, r.ctx.http, "reading");
	for (size_t i = 0; i < r.n_keys; i++)
		r.keys[i].target = target_name(&r, &r.keys[i]);
	check_targets(&r);
	describe_current(&r);
	r.described = r.current.n;
	sort_current(&r);
	plan_fetches(&r);
	fetch_bodies(&r);
	fetch_winner_tags(&r);
	fetch_extras(&r);
	read_current_values(&r);
	decide_actions(&r);
	progress_detach(&reading, r.ctx.http);

	if (o->apply) {
		mark_not_attempted(&r);
		prepare_recreates(&r);
		apply_puts(&r);
		confirm_async_puts(&r);
		apply_deletes(&r);
	}
	print_results(&r);
	bool written = results_written();
	report_failures(&r);
	print_summary(&r);
	int rc = any_not_done(&r) || !written ? EXIT_FAILURE_RUN : EXIT_OK;
	release_held_lease();
	release_run(&r);
	free((char *)o->path);
	free((char *)o->to);
	return rc;
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
