#include "state.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "choose.h"
#include "scope.h"
#include "s3.h"
#include "scan.h"
#include "timeline.h"

void tree_state_release(struct tree_state *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->items[i].key);
		change_entry_release(&s->items[i].win);
		record_release(&s->items[i].rec);
	}
	free(s->items);
	free(s->scope);
	memset(s, 0, sizeof(*s));
}

struct state_run {
	struct aws_ctx *ctx;
	const struct state_query *q;
	struct tree_state *out;
	struct scope scope;
};

static int nomem(struct err *e)
{
	err_set(e, ERR_NOMEM, "out of memory");
	return -1;
}

/* The tags of a key's unindexed versions, all at once (format 1 and the
 * rest FORMAT.md names): they decide as their index entries would. */
static int read_tags(struct state_run *r, const char *param_key,
		     struct candidate *c, size_t n, struct err *e)
{
	struct aws_call *calls = calloc(n + 1, sizeof(*calls));
	struct aws_call **batch = calloc(n + 1, sizeof(*batch));
	size_t *of = calloc(n + 1, sizeof(*of)), k = 0;
	char *data_key = changes_data_key(r->q->prefix, param_key);
	int rc = calls && batch && of && data_key ? 0 : nomem(e);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (!c[i].needs_tags)
			continue;
		if (s3_prepare_get_tagging(r->ctx, &calls[k], r->q->bucket, data_key,
					   c[i].c.version_id) < 0) {
			aws_call_release(&calls[k]);
			rc = nomem(e);
			break;
		}
		of[k] = i;
		batch[k] = &calls[k];
		k++;
	}
	if (rc == 0)
		aws_perform(r->ctx, batch, k);
	for (size_t j = 0; j < k; j++) {
		struct candidate *x = &c[of[j]];
		if (rc == 0 && record_from_tagging_call(&calls[j], x->c.version_id,
							&x->tags, e) < 0) {
			rc = -1;
		} else if (rc == 0) {
			record_entry_fields(&x->tags, &x->c);
			x->tl.event_time = x->c.event_time;
			x->tl.ssm_version = x->c.ssm_version;
			x->tl.is_delete = x->c.op == RECORD_DELETE;
		}
		aws_call_release(&calls[j]);
	}
	free(calls);
	free(batch);
	free(of);
	free(data_key);
	return rc;
}

static int choose_key(void *user, const struct scan_key *sk, struct err *e)
{
	struct state_run *r = user;
	struct tree_state *s = r->out;
	if (!scope_admits(&r->scope, sk->param_key))
		return 0;
	size_t n;
	struct candidate *c = candidates_of(sk, &n);
	if (!c)
		return nomem(e);
	int rc = read_tags(r, sk->param_key, c, n, e);
	struct tl_entry *tl = rc == 0 ? calloc(n + 1, sizeof(*tl)) : NULL;
	if (rc == 0 && !tl)
		rc = nomem(e);
	for (size_t i = 0; rc == 0 && i < n; i++)
		tl[i] = c[i].tl;
	long w = rc == 0 ? timeline_winner(tl, n, r->q->time) : -1;
	free(tl);
	if (w >= 0) {
		if (s->n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 64;
			struct state_item *items = realloc(s->items, cap * sizeof(*items));
			if (!items) {
				candidates_free(c, n);
				return nomem(e);
			}
			s->items = items;
			s->cap = cap;
		}
		struct state_item *it = &s->items[s->n];
		memset(it, 0, sizeof(*it));
		if (!(it->key = strdup(sk->param_key))) {
			candidates_free(c, n);
			return nomem(e);
		}
		s->n++;
		it->win = c[w].c;
		memset(&c[w].c, 0, sizeof(c[w].c));
		it->deleted = it->win.op == RECORD_DELETE;
		it->gap = it->win.op == RECORD_GAP;
		it->rec = c[w].tags; /* format 1: what its tags said */
		memset(&c[w].tags, 0, sizeof(c[w].tags));
	}
	candidates_free(c, n);
	return rc;
}

/* The winners' versions: body and metadata; then the side objects. */
static int read_versions(struct aws_ctx *ctx, const struct state_query *q,
			 struct tree_state *s, bool extras, struct err *e)
{
	struct aws_call *calls = calloc(s->n + 1, sizeof(*calls));
	struct aws_call **batch = calloc(s->n + 1, sizeof(*batch));
	size_t *of = calloc(s->n + 1, sizeof(*of)), k = 0;
	int rc = calls && batch && of ? 0 : nomem(e);
	for (size_t i = 0; rc == 0 && i < s->n; i++) {
		struct state_item *it = &s->items[i];
		if (it->deleted || it->gap || (extras && !it->rec.extra_ref))
			continue;
		char *key = extras ? NULL : changes_data_key(q->prefix, it->key);
		if (extras && asprintf(&key, RECORD_EXTRA_PREFIX "%s",
				       it->rec.extra_ref) < 0)
			key = NULL;
		if (!key || s3_prepare_get_object(ctx, &calls[k], q->bucket, key,
						  extras ? NULL : it->win.version_id) < 0) {
			free(key);
			aws_call_release(&calls[k]);
			rc = nomem(e);
			break;
		}
		free(key);
		of[k] = i;
		batch[k] = &calls[k];
		k++;
	}
	if (rc == 0)
		aws_perform(ctx, batch, k);
	for (size_t j = 0; j < k; j++) {
		struct state_item *it = &s->items[of[j]];
		struct aws_call *call = &calls[j];
		struct record rec;
		int found = 0;
		if (rc == 0 && call->err.kind != ERR_NONE) {
			*e = call->err;
			rc = -1;
		} else if (rc == 0 && extras) {
			if (record_apply_extra(&it->rec, call->resp.body.data ? call->resp.body.data : "",
					       call->resp.body.len) < 0) {
				err_set(e, ERR_PARSE, "side object %s of %s is not "
					"ssmbak's", it->rec.extra_ref, it->key);
				rc = -1;
			}
		} else if (rc == 0 && (found = record_from_metadata(&call->resp, &rec)) < 0) {
			err_set(e, ERR_PARSE, "version %s of %s has malformed ssmbak "
				"metadata", it->win.version_id, it->key);
			rc = -1;
		} else if (rc == 0) {
			if (found) {
				record_release(&it->rec);
				it->rec = rec;
			}
			free(it->rec.param.value);
			it->rec.param.value = strndup(call->resp.body.data ? call->resp.body.data : "",
						      call->resp.body.len);
			if (!it->rec.param.value)
				rc = nomem(e);
		}
		aws_call_release(call);
	}
	free(calls);
	free(batch);
	free(of);
	return rc;
}

int tree_state_at(struct aws_ctx *ctx, const struct state_query *q,
		  struct tree_state *out, struct err *e)
{
	struct state_run r = { ctx, q, out, { 0 } };
	memset(out, 0, sizeof(*out));
	if (scope_init(&r.scope, q->path, q->recursive) < 0) {
		scope_release(&r.scope);
		return nomem(e);
	}
	/* one listing order (no split): diff merges two states by key */
	struct scan_opts so = { .bucket = q->bucket, .prefix = q->prefix,
				.path = q->path,
				.one_level = scope_one_level(&r.scope) };
	int rc = scan_tree(ctx, &so, choose_key, &r, e);
	out->key_mode = r.scope.key_mode;
	out->scope = strdup(r.scope.prefix);
	scope_release(&r.scope);
	if (rc == 0 && !out->scope)
		rc = nomem(e);
	if (rc == 0)
		rc = read_versions(ctx, q, out, false, e);
	return rc == 0 ? read_versions(ctx, q, out, true, e) : -1;
}
