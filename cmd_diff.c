/* diff: what differs between a tree at T1 and at T2. Data path: the
 * state at each time, chosen as preview chooses (lib/state) -> join by
 * key -> added, removed, changed and which fields -> print.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "commands.h"
#include "lib/changeshow.h"
#include "lib/cli.h"
#include "lib/cmdargs.h"
#include "lib/exitcode.h"
#include "lib/jsonout.h"
#include "lib/state.h"
#include "lib/table.h"
#include "lib/timefmt.h"
#include "lib/util.h"

static const char usage[] =
	"usage: ssmbak diff PATH T1 [T2] [-R] [--show-secure] [--key-prefix PREFIX]\n"
	"                   [--output table|json] [-b BUCKET] [--stack NAME]\n"
	"                   [-r REGION] [--profile NAME] [-v | -q]\n"
	"\n"
	"Show what differs between the parameters under PATH at T1 and at T2\n"
	"(default: now), as recorded: added, removed, changed and which fields.\n"
	"\n"
	"  -R, --recursive      the whole tree under PATH, not only its direct children\n"
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
	"PATH ending in / is a path; otherwise the key PATH if it was ever backed\n"
	"up, else the path PATH/. TIME is UTC: " TIME_ARG_FORMS ".\n"
	"Exit status: 0 ok, 1 failure, 2 usage error, 3 configuration error.\n";

enum { OPT_SHOW_SECURE = CLI_OPT_FIRST_FREE };

static const struct option longopts[] = {
	CLI_COMMON_LONG_OPTIONS,
	{ "recursive", no_argument, NULL, 'R' },
	{ "show-secure", no_argument, NULL, OPT_SHOW_SECURE },
	CLI_KEY_PREFIX_OPTION,
	{ NULL, 0, NULL, 0 },
};

static const char shortopts[] = "+R" CLI_COMMON_SHORT_OPTIONS;

struct diff_opts {
	struct cli_common common;
	char *path;
	time_t t1, t2;
	bool recursive, show_secure;
};

static void parse(int argc, char **argv, struct diff_opts *o)
{
	static struct cmd_words w;
	cmd_words_split(argc, argv, longopts, shortopts, &w);
	int c;
	opterr = 1;
	while ((c = getopt_long(w.n_opts, w.opts, shortopts, longopts, NULL)) != -1) {
		if (cli_common_option(c, optarg, &o->common, usage))
			continue;
		switch (c) {
		case 'R': o->recursive = true; break;
		case OPT_SHOW_SECURE: o->show_secure = true; break;
		}
	}
	if (optind < w.n_opts)
		cli_usage_error(usage, "unexpected argument '%s'", w.opts[optind]);
	if (w.n_pos < 2)
		cli_usage_error(usage, "PATH and T1 are required");
	if (w.n_pos > 3)
		cli_usage_error(usage, "too many arguments: '%s'",
				cli_shown_arg(w.pos[3]));
	o->path = cli_path_argument(w.pos[0], usage);
	o->t1 = cmd_time_arg("T1", w.pos[1], usage);
	o->t2 = w.n_pos == 3 ? cmd_time_arg("T2", w.pos[2], usage) : time(NULL);
	cmd_words_release(&w);
}

/* --- comparing --- */

/* DIFF_UNKNOWN: one side is a gap (FORMAT.md, "Gaps"): a change was
 * made there whose value was never recorded. */
enum change_kind { DIFF_ADDED, DIFF_REMOVED, DIFF_CHANGED, DIFF_UNKNOWN };
static const char *const kind_names[] = { "added", "removed", "changed",
					  "unknown" };

struct diff_row {
	const char *key;
	enum change_kind kind;
	const struct record *before, *after; /* NULL when absent */
	char fields[160];                    /* "value, description" */
};

static const struct record *live(const struct state_item *it)
{
	return it && !it->deleted && !it->gap ? &it->rec : NULL;
}

static bool same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* The fields a restore would carry over (FORMAT.md's metadata); tags,
 * labels and policies only where both sides recorded them. */
static void changed_fields(const struct record *a, const struct record *b,
			   char *out, size_t size)
{
	const struct ssm_parameter *x = &a->param, *y = &b->param;
	const struct {
		const char *name;
		const char *before, *after;
		bool compare;
	} f[] = {
		{ "value", x->value, y->value, true },
		{ "type", x->type, y->type, true },
		{ "description", x->description, y->description, true },
		{ "tier", x->tier, y->tier, true },
		{ "data_type", x->data_type, y->data_type, true },
		{ "allowed_pattern", x->allowed_pattern, y->allowed_pattern, true },
		{ "key_id", x->key_id, y->key_id, true },
		{ "tags", a->tags, b->tags, a->tags && b->tags },
		{ "labels", x->labels, y->labels, true },
		{ "policies", x->policies, y->policies, true },
	};
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (f[i].compare && !same(f[i].before, f[i].after))
			used += (size_t)snprintf(out + used, used < size ? size - used : 0,
						 "%s%s", used ? ", " : "", f[i].name);
}

static bool add_row(struct diff_row *rows, size_t *n, const char *key,
		    const struct state_item *a, const struct state_item *b)
{
	const struct record *before = live(a), *after = live(b);
	struct diff_row *r = &rows[*n];
	memset(r, 0, sizeof(*r));
	r->key = key;
	r->before = before;
	r->after = after;
	if ((a && a->gap) || (b && b->gap)) {
		r->kind = DIFF_UNKNOWN;
		r->before = a && a->gap ? NULL : before;
		r->after = b && b->gap ? NULL : after;
		(*n)++;
		return true;
	}
	if (!before && !after)
		return false;
	if (!before) {
		r->kind = DIFF_ADDED;
	} else if (!after) {
		r->kind = DIFF_REMOVED;
	} else {
		r->kind = DIFF_CHANGED;
		changed_fields(before, after, r->fields, sizeof(r->fields));
		if (!r->fields[0])
			return false;
	}
	(*n)++;
	return true;
}

/* Both states are in key order: one merge. */
static struct diff_row *compare(const struct tree_state *a,
				const struct tree_state *b, size_t *n)
{
	struct diff_row *rows = xcalloc(a->n + b->n + 1, sizeof(*rows));
	size_t i = 0, j = 0;
	*n = 0;
	while (i < a->n || j < b->n) {
		int d = i == a->n ? 1 : j == b->n ? -1
				      : strcmp(a->items[i].key, b->items[j].key);
		if (d < 0) {
			add_row(rows, n, a->items[i].key, &a->items[i], NULL);
			i++;
		} else if (d > 0) {
			add_row(rows, n, b->items[j].key, NULL, &b->items[j]);
			j++;
		} else {
			add_row(rows, n, a->items[i].key, &a->items[i], &b->items[j]);
			i++;
			j++;
		}
	}
	return rows;
}

/* --- printing --- */

static bool secure(const struct record *r)
{
	return r && same(r->param.type, "SecureString");
}

static const char *shown(const struct diff_row *r, const struct record *side,
			 bool show_secure)
{
	if (!side)
		return NULL;
	if ((secure(r->before) || secure(r->after)) && !show_secure)
		return SECURE_MASK;
	return side->param.value;
}

static void print_table(const struct diff_row *rows, size_t n, bool show_secure)
{
	const char *headers[] = { "Name", "Change", "Fields", "Before", "After" };
	struct table *t = table_new(headers, 5);
	for (size_t i = 0; t && i < n; i++) {
		const struct diff_row *r = &rows[i];
		const char *cells[] = { r->key, kind_names[r->kind], r->fields,
					shown(r, r->before, show_secure),
					shown(r, r->after, show_secure) };
		if (table_add_row(t, cells) < 0)
			die(EXIT_FAILURE_RUN, "out of memory");
	}
	if (!t || table_print(t, stdout, TABLE_WRAP) < 0)
		die(EXIT_FAILURE_RUN, "out of memory");
	table_free(t);
}

static json_t *side_json(const struct diff_row *r, const struct record *side,
			 bool show_secure)
{
	if (!side)
		return json_null();
	const struct ssm_parameter *p = &side->param;
	json_t *o = json_object();
	const char *value = shown(r, side, show_secure);
	/* JSON leaves a masked value out rather than printing the mask */
	if (value && strcmp(value, SECURE_MASK) != 0)
		json_object_set_new(o, "value", json_string(value));
	const char *fields[][2] = {
		{ "type", p->type }, { "description", p->description },
		{ "tier", p->tier }, { "data_type", p->data_type },
		{ "allowed_pattern", p->allowed_pattern }, { "key_id", p->key_id },
		{ "labels", p->labels }, { "policies", p->policies },
		{ "tags", side->tags },
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (fields[i][1])
			json_object_set_new(o, fields[i][0], json_string(fields[i][1]));
	if (p->version)
		json_object_set_new(o, "version", json_integer(p->version));
	return o;
}

static void print_json(const struct diff_row *rows, size_t n, bool show_secure)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct diff_row *r = &rows[i];
		json_t *fields = json_array();
		for (const char *p = r->fields; *p;) {
			size_t len = strcspn(p, ",");
			json_array_append_new(fields, json_stringn(p, len));
			p += len;
			p += strspn(p, ", ");
		}
		json_array_append_new(arr, json_pack("{s:s, s:s, s:o, s:o, s:o}",
			"name", r->key, "change", kind_names[r->kind], "fields", fields,
			"before", side_json(r, r->before, show_secure),
			"after", side_json(r, r->after, show_secure)));
	}
	if (json_print_array(arr) < 0)
		die(EXIT_FAILURE_RUN, "out of memory (or a value is not UTF-8)");
}

int cmd_diff(int argc, char **argv)
{
	struct diff_opts o = { 0 };
	struct aws_ctx ctx;
	struct err e = { 0 };
	struct tree_state a, b;
	const char *source = NULL;
	parse(argc, argv, &o);
	char *prefix = cli_key_prefix(&o.common, usage);
	cli_aws_init(&ctx, &o.common);
	char *bucket = cli_find_bucket(&ctx, &o.common, &source, &e);
	if (!bucket)
		die_err(&e);
	log_msg(LOG_INFO, "bucket %s (from %s)", bucket, source);
	struct state_query q = { bucket, prefix, o.path, o.recursive, o.t1 };
	if (tree_state_at(&ctx, &q, &a, &e) < 0)
		die_err(&e);
	q.time = o.t2;
	if (tree_state_at(&ctx, &q, &b, &e) < 0)
		die_err(&e);
	size_t n;
	struct diff_row *rows = compare(&a, &b, &n);
	if (o.common.output == CLI_OUTPUT_JSON)
		print_json(rows, n, o.show_secure);
	else
		print_table(rows, n, o.show_secure);
	free(rows);
	tree_state_release(&a);
	tree_state_release(&b);
	free(bucket);
	free(prefix);
	free(o.path);
	aws_ctx_release(&ctx);
	return EXIT_OK;
}
