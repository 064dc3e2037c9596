#include "reconcile.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "changes.h"
#include "event_match.h"
#include "record.h"
#include "scan.h"
#include "scope.h"
#include "ssm.h"
#include "timeline.h"

/* One recorded change of a key, as the index tells it. */
struct rc_change {
	struct change_entry c;  /* version_id not kept */
	struct tl_entry tl;
	bool handled;           /* a gap this run fills */
};

/* One key of the scope the bucket has. */
struct rc_key {
	char *key;
	struct rc_change *changes;
	size_t n;
	size_t unindexed;
	bool in_ssm;
};

/* A repair about to be written. */
struct rc_write {
	struct record rec;
	struct record_write w;
	size_t finding;
	bool prepared;
};

struct run {
	const struct rc_opts *o;
	struct aws_ctx *ssm, *s3;
	struct rc_report *rep;
	struct scope scope;
	struct rc_key *keys;
	size_t n_keys, cap_keys;
	struct rc_write *writes;
	size_t n_writes, cap_writes;
	bool nomem;
};

static const char *const kind_names[] = { "missed-version", "missed-delete",
					  "gap", "unindexed" };
static const char *const outcome_names[] = { "found", "repaired", "failed",
					     "cannot-repair" };

const char *rc_kind_name(enum rc_kind k)
{
	return kind_names[k];
}

const char *rc_outcome_name(enum rc_outcome o)
{
	return outcome_names[o];
}

void rc_report_release(struct rc_report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->items[i].name);
		free(r->items[i].version_id);
	}
	free(r->items);
	memset(r, 0, sizeof(*r));
}

bool rc_report_complete(const struct rc_report *r)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->items[i].outcome != RC_REPAIRED)
			return false;
	return true;
}

static void *grow(void *items, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return items;
	size_t next = *cap ? *cap * 2 : 64;
	void *p = realloc(items, next * size);
	if (p)
		*cap = next;
	return p;
}

static struct rc_finding *add_finding(struct run *r, enum rc_kind kind,
				      const char *name)
{
	struct rc_report *rep = r->rep;
	struct rc_finding *items = grow(rep->items, &rep->cap, rep->n,
					sizeof(*items));
	char *copy = strdup(name);
	if (!items || !copy) {
		free(copy);
		r->nomem = true;
		return NULL;
	}
	rep->items = items;
	struct rc_finding *f = &rep->items[rep->n++];
	memset(f, 0, sizeof(*f));
	f->kind = kind;
	f->name = copy;
	return f;
}

static long long ms_of(double seconds)
{
	return (long long)llround(seconds * 1000);
}

/* --- the scan: what the bucket holds of each key --- */

static bool is_value(const struct change_entry *c)
{
	return c->op != RECORD_DELETE && c->op != RECORD_GAP;
}

static long version_position(const struct scan_key *k, const char *version_id)
{
	for (size_t i = 0; i < k->n_versions; i++)
		if (strcmp(k->versions[i].version_id, version_id) == 0)
			return (long)i;
	return -1;
}

static bool named_by_an_entry(const struct scan_key *k, const char *version_id)
{
	for (size_t i = 0; i < k->n_changes; i++)
		if (strcmp(k->changes[i].version_id, version_id) == 0)
			return true;
	return false;
}

static void list_unindexed(struct run *r, const struct scan_key *k,
			   struct rc_key *key)
{
	for (size_t i = 0; i < k->n_versions; i++) {
		const struct s3_version *v = &k->versions[i];
		if (named_by_an_entry(k, v->version_id))
			continue;
		key->unindexed++;
		struct rc_finding *f = add_finding(r, RC_UNINDEXED, k->param_key);
		if (!f || !(f->version_id = strdup(v->version_id))) {
			r->nomem = true;
			return;
		}
		f->event_time = (time_t)floor(v->last_modified);
		f->outcome = r->o->repair ? RC_CANNOT : RC_FOUND;
		snprintf(f->reason, sizeof(f->reason),
			 "%s without an index entry: run 'ssmbak reindex' (this "
			 "key is not verified until then)",
			 v->delete_marker ? "a delete marker" : "a version");
	}
}

static int take_key(void *user, const struct scan_key *k, struct err *e)
{
	struct run *r = user;
	if (!scope_admits(&r->scope, k->param_key))
		return 0;
	struct rc_key key = { 0 };
	key.key = strdup(k->param_key);
	key.changes = calloc(k->n_changes + 1, sizeof(*key.changes));
	struct rc_key *keys = grow(r->keys, &r->cap_keys, r->n_keys,
				   sizeof(*keys));
	if (!key.key || !key.changes || !keys) {
		free(key.key);
		free(key.changes);
		err_set(e, ERR_NOMEM, "out of memory reading the bucket");
		return -1;
	}
	r->keys = keys;
	for (size_t i = 0; i < k->n_changes; i++) {
		const struct change_entry *c = &k->changes[i];
		long pos = version_position(k, c->version_id);
		struct rc_change *x = &key.changes[key.n++];
		x->c = *c;
		x->c.version_id = NULL;
		/* FORMAT.md's order: an entry's data version's position, an
		 * entry without one (a gap) older than every write. */
		x->tl = (struct tl_entry){ c->event_time, c->ssm_version,
					   c->op == RECORD_DELETE,
					   pos >= 0 ? (size_t)pos : k->n_versions + i };
	}
	list_unindexed(r, k, &key);
	r->keys[r->n_keys++] = key;
	r->rep->keys++;
	if (r->o->progress && r->rep->keys % 1000 == 0)
		r->o->progress(r->o->progress_user, "keys read", r->rep->keys);
	if (r->nomem) {
		err_set(e, ERR_NOMEM, "out of memory reading the bucket");
		return -1;
	}
	return 0;
}

static int compare_keys(const void *a, const void *b)
{
	return strcmp(((const struct rc_key *)a)->key,
		      ((const struct rc_key *)b)->key);
}

static struct rc_key *find_key(struct run *r, const char *key)
{
	struct rc_key probe = { .key = (char *)key };
	return r->n_keys ? bsearch(&probe, r->keys, r->n_keys, sizeof(*r->keys),
				   compare_keys)
			 : NULL;
}

/* --- what a key's index says --- */

/* Whether the index records exactly this SSM version: its number and its
 * LastModifiedDate (a recreate restarts the numbers at a new date). */
static bool recorded(const struct rc_key *k, long long version,
		     long long modified_ms)
{
	for (size_t i = 0; i < k->n; i++)
		if (is_value(&k->changes[i].c) &&
		    k->changes[i].c.ssm_version == version &&
		    k->changes[i].c.modified_ms == modified_ms)
			return true;
	return false;
}

/* A gap is filled when a value of its version was recorded at its event
 * time: written after it, that record wins its second (FORMAT.md). */
static bool gap_filled(const struct rc_key *k, const struct rc_change *g)
{
	if (g->c.ssm_version <= 0)
		return false;
	for (size_t i = 0; i < k->n; i++)
		if (is_value(&k->changes[i].c) &&
		    k->changes[i].c.ssm_version == g->c.ssm_version &&
		    k->changes[i].c.event_time == g->c.event_time)
			return true;
	return false;
}

static bool has_open_gap(const struct rc_key *k)
{
	for (size_t i = 0; i < k->n; i++)
		if (k->changes[i].c.op == RECORD_GAP && !gap_filled(k, &k->changes[i]))
			return true;
	return false;
}

/* Versions recorded since the key's latest recorded delete skip a number:
 * an event in between was lost even though the current one was not. Costs
 * no request, so a lost middle version is found too. */
static bool has_hole(const struct rc_key *k)
{
	time_t since = 0;
	for (size_t i = 0; i < k->n; i++)
		if (k->changes[i].c.op == RECORD_DELETE &&
		    k->changes[i].c.event_time > since)
			since = k->changes[i].c.event_time;
	long long lo = 0, hi = 0;
	size_t distinct = 0;
	for (size_t i = 0; i < k->n; i++) {
		const struct change_entry *c = &k->changes[i].c;
		if (!is_value(c) || c->ssm_version <= 0 || c->event_time < since)
			continue;
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = is_value(&k->changes[j].c) &&
			       k->changes[j].c.event_time >= since &&
			       k->changes[j].c.ssm_version == c->ssm_version;
		if (seen)
			continue;
		if (!distinct || c->ssm_version < lo)
			lo = c->ssm_version;
		if (!distinct || c->ssm_version > hi)
			hi = c->ssm_version;
		distinct++;
	}
	return distinct && (size_t)(hi - lo + 1) > distinct;
}

static long latest_change(const struct rc_key *k)
{
	struct tl_entry *tl = calloc(k->n + 1, sizeof(*tl));
	if (!tl)
		return -2;
	for (size_t i = 0; i < k->n; i++)
		tl[i] = k->changes[i].tl;
	long w = timeline_latest(tl, k->n);
	free(tl);
	return w;
}

/* --- SSM --- */

static bool in_scope(const struct run *r, const char *key)
{
	const struct scope *s = &r->scope;
	if (s->key_mode)
		return strcmp(key, s->prefix) == 0;
	size_t len = strlen(s->prefix);
	if (strncmp(key, s->prefix, len) != 0 || !key[len])
		return false;
	return s->recursive || !strchr(key + len, '/');
}

/* The scope as a DescribeParameters filter: the one name in key mode,
 * else the path (recursively or one level), none for the whole store (a
 * name without a leading slash is in no path). */
static json_t *scope_filter(const struct run *r)
{
	const struct scope *s = &r->scope;
	if (s->key_mode)
		return json_pack("[{s:s, s:s, s:[s]}]", "Key", "Name", "Option",
				 "Equals", "Values", s->prefix);
	if (strcmp(s->prefix, "/") == 0)
		return NULL;
	char *path = strdup(s->prefix);
	if (!path)
		return NULL;
	if (strlen(path) > 1 && path[strlen(path) - 1] == '/')
		path[strlen(path) - 1] = '\0';
	json_t *f = json_pack("[{s:s, s:s, s:[s]}]", "Key", "Path", "Option",
			      s->recursive ? "Recursive" : "OneLevel", "Values",
			      path);
	free(path);
	return f;
}

static bool old_enough(const struct run *r, time_t t)
{
	return r->o->now - t >= r->o->min_age;
}

static struct rc_write *add_write(struct run *r, size_t finding)
{
	struct rc_write *w = grow(r->writes, &r->cap_writes, r->n_writes,
				  sizeof(*w));
	if (!w) {
		r->nomem = true;
		return NULL;
	}
	r->writes = w;
	struct rc_write *x = &r->writes[r->n_writes++];
	memset(x, 0, sizeof(*x));
	x->finding = finding;
	return x;
}

/* An open gap this version fills: the same SSM version, made within the
 * clock tolerance of the gap's event (lib/event_match.h), so not a version
 * of the same number after a recreate. */
static struct rc_change *gap_for(struct rc_key *k, const struct ssm_parameter *h)
{
	if (!k)
		return NULL;
	for (size_t i = 0; i < k->n; i++) {
		struct rc_change *g = &k->changes[i];
		double skew = fabs((double)g->c.event_time - floor(h->last_modified));
		if (g->c.op == RECORD_GAP && !g->handled && !gap_filled(k, g) &&
		    g->c.ssm_version == h->version && skew <= EVENT_MATCH_TOLERANCE)
			return g;
	}
	return NULL;
}

/* One version of the history: recorded, a gap to fill, or missed. */
static void judge_version(struct run *r, struct rc_key *k, const char *name,
			  const struct ssm_parameter *h)
{
	struct rc_change *gap = gap_for(k, h);
	if (!gap && k && recorded(k, h->version, ms_of(h->last_modified)))
		return;
	if (!old_enough(r, (time_t)floor(h->last_modified)))
		return;
	struct rc_finding *f = add_finding(r, gap ? RC_GAP : RC_MISSED_VERSION, name);
	if (!f)
		return;
	f->version = h->version;
	f->last_modified = h->last_modified;
	/* EventBridge stamps whole seconds; a filled gap keeps its own. */
	f->event_time = gap ? gap->c.event_time : (time_t)floor(h->last_modified);
	if (gap) {
		gap->handled = true;
		snprintf(f->reason, sizeof(f->reason), "SSM's history still has "
			 "version %lld: %s", h->version,
			 r->o->repair ? "filled" : "--repair fills it");
	}
	if (!r->o->repair)
		return;
	struct rc_write *w = add_write(r, r->rep->n - 1);
	if (!w)
		return;
	w->rec.op = RECORD_REPAIR;
	w->rec.event_time = f->event_time;
	if (ssm_parameter_copy(&w->rec.param, h) < 0) {
		r->nomem = true;
		return;
	}
	free(w->rec.param.name);
	w->rec.param.name = strdup(name);
	if (!w->rec.param.name)
		r->nomem = true;
}

static int read_history(struct run *r, const struct ssm_parameter *p,
			struct rc_key *k, struct err *e)
{
	struct ssm_parameter_list history = { 0 };
	struct err he = { 0 };
	r->rep->histories++;
	if (ssm_get_parameter_history(r->ssm, p->name, &history, &he) < 0) {
		ssm_parameter_list_release(&history);
		/* Deleted since DescribeParameters: the next run sees it. */
		if (strcmp(he.code, "ParameterNotFound") == 0)
			return 0;
		*e = he;
		return -1;
	}
	for (size_t i = 0; i < history.n && !r->nomem; i++)
		judge_version(r, k, p->name, &history.items[i]);
	ssm_parameter_list_release(&history);
	return 0;
}

static bool needs_history(const struct rc_key *k, const struct ssm_parameter *p)
{
	if (!k)
		return true;
	if (k->unindexed)
		return false; /* listed: reindex first */
	return !recorded(k, p->version, ms_of(p->last_modified)) || has_hole(k) ||
	       has_open_gap(k);
}

static int check_ssm(struct run *r, struct err *e)
{
	struct ssm_parameter_list current = { 0 };
	json_t *filters = scope_filter(r);
	int rc = ssm_describe_parameters(r->ssm, filters, &current, e);
	json_decref(filters);
	for (size_t i = 0; rc == 0 && i < current.n && !r->nomem; i++) {
		const struct ssm_parameter *p = &current.items[i];
		char *key = record_key_for_name(p->name);
		if (!key) {
			r->nomem = true;
			break;
		}
		if (in_scope(r, key)) {
			struct rc_key *k = find_key(r, key);
			r->rep->parameters++;
			if (k)
				k->in_ssm = true;
			if (needs_history(k, p))
				rc = read_history(r, p, k, e);
			if (r->o->progress && r->rep->parameters % 1000 == 0)
				r->o->progress(r->o->progress_user,
					       "parameters compared",
					       r->rep->parameters);
		}
		free(key);
	}
	ssm_parameter_list_release(&current);
	return rc;
}

/* --- what SSM no longer has, and gaps left open --- */

static void judge_missing(struct run *r, struct rc_key *k)
{
	if (k->in_ssm || k->unindexed)
		return;
	long w = latest_change(k);
	if (w == -2) {
		r->nomem = true;
		return;
	}
	if (w < 0 || k->changes[w].c.op == RECORD_DELETE ||
	    !old_enough(r, k->changes[w].c.event_time))
		return;
	struct rc_finding *f = add_finding(r, RC_MISSED_DELETE, k->key);
	if (!f)
		return;
	f->version = k->changes[w].c.ssm_version;
	/* Noticed now, not seen happen: never before the change it ends. */
	f->event_time = r->o->now > k->changes[w].c.event_time
				? r->o->now
				: k->changes[w].c.event_time;
	snprintf(f->reason, sizeof(f->reason), "deleted at an unknown time "
		 "after %lld; recorded as noticed (approximate)",
		 (long long)k->changes[w].c.event_time);
	if (!r->o->repair)
		return;
	struct rc_write *x = add_write(r, r->rep->n - 1);
	if (!x)
		return;
	x->rec.op = RECORD_DELETE;
	x->rec.event_time = f->event_time;
	x->rec.param.version = f->version;
	x->rec.param.name = strdup(k->key);
	if (!x->rec.param.name)
		r->nomem = true;
}

static void list_open_gaps(struct run *r, struct rc_key *k)
{
	for (size_t i = 0; i < k->n && !r->nomem; i++) {
		struct rc_change *g = &k->changes[i];
		if (g->c.op != RECORD_GAP || g->handled || gap_filled(k, g))
			continue;
		struct rc_finding *f = add_finding(r, RC_GAP, k->key);
		if (!f)
			return;
		f->version = g->c.ssm_version;
		f->event_time = g->c.event_time;
		f->outcome = r->o->repair ? RC_CANNOT : RC_FOUND;
		snprintf(f->reason, sizeof(f->reason), "%s: its value is lost",
			 g->c.ssm_version > 0 ? "SSM's history no longer has this "
						"version"
					      : "the version is not known");
	}
}

/* --- repair --- */

static int compare_writes(const void *a, const void *b)
{
	const struct rc_write *x = a, *y = b;
	int d = strcmp(x->w.param_key, y->w.param_key);
	return d ? d : (x->finding > y->finding) - (x->finding < y->finding);
}

/* Every key's repairs one after the other, in history order (the newer
 * write wins a second's tie, FORMAT.md); different keys all at once. */
static void write_repairs(struct run *r, struct err *e)
{
	size_t ok = 0;
	for (size_t i = 0; i < r->n_writes; i++) {
		struct rc_write *x = &r->writes[i];
		if (record_prepare_write(r->s3, r->o->bucket, r->o->prefix, &x->rec,
					 &x->w, e) < 0) {
			r->nomem = true;
			break;
		}
		x->prepared = true;
		ok++;
		/* FORMAT.md, "Repairs": a delete noticed, not seen. */
		if (x->rec.op == RECORD_DELETE)
			x->w.entry.approximate = true;
	}
	if (r->nomem)
		return;
	qsort(r->writes, r->n_writes, sizeof(*r->writes), compare_writes);
	struct record_write **round = calloc(r->n_writes + 1, sizeof(*round));
	bool *done = calloc(r->n_writes + 1, sizeof(*done));
	if (!round || !done) {
		free(round);
		free(done);
		r->nomem = true;
		return;
	}
	for (size_t left = r->n_writes; left > 0;) {
		size_t k = 0;
		const char *last = NULL;
		for (size_t i = 0; i < r->n_writes; i++) {
			if (done[i] || (last && strcmp(last, r->writes[i].w.param_key) == 0))
				continue;
			last = r->writes[i].w.param_key;
			round[k++] = &r->writes[i].w;
			done[i] = true;
		}
		record_write_all(r->s3, round, k);
		left -= k;
	}
	free(round);
	free(done);
	for (size_t i = 0; i < r->n_writes; i++) {
		struct rc_write *x = &r->writes[i];
		struct rc_finding *f = &r->rep->items[x->finding];
		if (x->w.failed) {
			char line[ERR_LINE_MAX];
			f->outcome = RC_FAILED;
			snprintf(f->reason, sizeof(f->reason), "%s",
				 err_line(&x->w.err, line, sizeof(line)));
			r->rep->failed++;
			continue;
		}
		f->outcome = RC_REPAIRED;
		if (f->kind == RC_MISSED_DELETE)
			r->rep->repaired_deletes++;
		else if (f->kind == RC_GAP)
			r->rep->filled_gaps++;
		else
			r->rep->repaired_versions++;
	}
}

static void run_release(struct run *r)
{
	for (size_t i = 0; i < r->n_keys; i++) {
		free(r->keys[i].key);
		free(r->keys[i].changes);
	}
	free(r->keys);
	for (size_t i = 0; i < r->n_writes; i++) {
		record_release(&r->writes[i].rec);
		if (r->writes[i].prepared)
			record_write_release(&r->writes[i].w);
	}
	free(r->writes);
	scope_release(&r->scope);
}

int reconcile_run(struct aws_ctx *ssm, struct aws_ctx *s3,
		  const struct rc_opts *o, struct rc_report *out, struct err *e)
{
	struct run r = { .o = o, .ssm = ssm, .s3 = s3, .rep = out };
	memset(out, 0, sizeof(*out));
	int rc = scope_init(&r.scope, o->path, o->recursive);
	if (rc < 0)
		err_set(e, ERR_NOMEM, "out of memory");
	struct scan_opts so = { o->bucket, o->prefix, o->path,
				scope_one_level(&r.scope),
				scope_is_path(o->path) && o->recursive };
	if (rc == 0)
		rc = scan_tree(s3, &so, take_key, &r, e);
	if (rc == 0 && r.n_keys) /* nothing recorded: keys is still NULL */
		qsort(r.keys, r.n_keys, sizeof(*r.keys), compare_keys);
	if (rc == 0)
		rc = check_ssm(&r, e);
	for (size_t i = 0; rc == 0 && i < r.n_keys && !r.nomem; i++) {
		judge_missing(&r, &r.keys[i]);
		list_open_gaps(&r, &r.keys[i]);
	}
	if (rc == 0 && !r.nomem && o->repair && r.n_writes) {
		if (o->progress)
			o->progress(o->progress_user, "repairs to write", r.n_writes);
		write_repairs(&r, e);
	}
	if (rc == 0 && r.nomem) {
		err_set(e, ERR_NOMEM, "out of memory verifying the bucket");
		rc = -1;
	}
	run_release(&r);
	return rc;
}
