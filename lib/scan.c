#include "scan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* Pages kept ahead of the join in one listing before it waits for the
 * other: bounds memory while both listings run at once. */
#define SCAN_AHEAD_ITEMS 1000

struct scan_item {
	char *param_key;
	struct s3_version v;     /* data listing */
	struct change_entry c;   /* index listing */
	size_t page_pos;         /* for a stable sort */
};

struct chain {
	const char *what;        /* for errors */
	bool is_index;
	char *list_prefix;
	char *strip;             /* data: the key prefix; index: the root */
	char *key_marker, *version_marker;
	char *stop_at;           /* the range ends before this parameter key */
	bool done;
	struct scan_item *items;
	size_t n, cap, head;
	struct aws_call call;
	bool in_flight;
};

static void item_release(struct scan_item *it)
{
	free(it->param_key);
	free(it->v.key);
	free(it->v.version_id);
	change_entry_release(&it->c);
}

static void chain_release(struct chain *c)
{
	for (size_t i = c->head; i < c->n; i++)
		item_release(&c->items[i]);
	free(c->items);
	free(c->list_prefix);
	free(c->strip);
	free(c->key_marker);
	free(c->version_marker);
	free(c->stop_at);
	if (c->in_flight)
		aws_call_release(&c->call);
	memset(c, 0, sizeof(*c));
}

static int compare_items(const void *a, const void *b)
{
	const struct scan_item *x = a, *y = b;
	int d = strcmp(x->param_key, y->param_key);
	if (d)
		return d;
	return x->page_pos < y->page_pos ? -1 : x->page_pos > y->page_pos;
}

static int chain_push(struct chain *c, struct scan_item *it)
{
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 1024;
		struct scan_item *items = realloc(c->items, cap * sizeof(*items));
		if (!items)
			return -1;
		c->items = items;
		c->cap = cap;
	}
	c->items[c->n++] = *it;
	return 0;
}

/* One listed object as a chain item; 0 when it is not one (index
 * objects that are not entries: warned about and read around). */
static int item_of(struct chain *c, struct s3_version *v, struct scan_item *it,
		   struct err *e)
{
	memset(it, 0, sizeof(*it));
	if (!c->is_index) {
		size_t len = strlen(c->strip);
		if (strncmp(v->key, c->strip, len) != 0 || v->key[len] != '/') {
			err_set(e, ERR_PARSE, "ListObjectVersions answered key '%s', "
				"outside the prefix it was asked for", v->key);
			return -1;
		}
		it->param_key = strdup(v->key + len);
		it->v = *v;
		v->key = v->version_id = NULL;
		return it->param_key ? 1 : (err_set(e, ERR_NOMEM, "out of memory"), -1);
	}
	/* An entry rewritten (reindex) lists older versions of itself; a
	 * removed one a delete marker. Only the current version counts. */
	if (v->delete_marker || !v->is_latest)
		return 0;
	if (changes_parse_key(v->key, c->strip, &it->param_key, &it->c) < 0) {
		log_msg(LOG_WARN, "%s is not a change index entry: ignored",
			v->key);
		return 0;
	}
	return 1;
}

static int markers_advance(const struct chain *c, const char *key_marker,
			   const char *version_marker, struct err *e)
{
	if (key_marker && c->key_marker && strcmp(key_marker, c->key_marker) == 0 &&
	    strcmp(version_marker ? version_marker : "",
		   c->version_marker ? c->version_marker : "") == 0) {
		err_set(e, ERR_PARSE, "ListObjectVersions of %s repeated its "
			"markers (%s): the listing does not advance", c->what,
			key_marker);
		return -1;
	}
	return 0;
}

/* Takes one answered page into the chain: parsed, sorted by key (a store
 * that lists a key's entries apart still groups), checked to follow what
 * was already joined. */
static int chain_take_page(struct chain *c, const char *joined_up_to,
			   struct err *e)
{
	struct s3_version_list page = { 0 };
	bool truncated = false;
	char *key_marker = NULL, *version_marker = NULL;
	int rc = -1;
	if (c->call.err.kind != ERR_NONE) {
		*e = c->call.err;
		goto done;
	}
	if (s3_parse_versions_page(buf_str(&c->call.resp.body),
				   c->call.resp.body.len, &page, &truncated,
				   &key_marker, &version_marker, e) < 0 ||
	    (truncated && markers_advance(c, key_marker, version_marker, e) < 0))
		goto done;
	size_t first = c->n;
	for (size_t i = 0; i < page.n; i++) {
		struct scan_item it;
		int got = item_of(c, &page.items[i], &it, e);
		if (got < 0)
			goto done;
		it.page_pos = i;
		if (got && chain_push(c, &it) < 0) {
			item_release(&it);
			err_set(e, ERR_NOMEM, "out of memory");
			goto done;
		}
	}
	if (c->n > first) /* an empty page: items may still be NULL */
		qsort(c->items + first, c->n - first, sizeof(*c->items),
		      compare_items);
	bool past_the_range = false;
	while (c->stop_at && c->n > first &&
	       strcmp(c->items[c->n - 1].param_key, c->stop_at) >= 0) {
		item_release(&c->items[--c->n]);
		past_the_range = true;
	}
	if (c->n > first && joined_up_to &&
	    strcmp(c->items[first].param_key, joined_up_to) <= 0) {
		err_set(e, ERR_PARSE, "ListObjectVersions of %s is not in key "
			"order: %s came after %s", c->what,
			c->items[first].param_key, joined_up_to);
		goto done;
	}
	free(c->key_marker);
	free(c->version_marker);
	c->key_marker = key_marker;
	c->version_marker = version_marker;
	key_marker = version_marker = NULL;
	c->done = !truncated || past_the_range;
	rc = 0;
done:
	free(key_marker);
	free(version_marker);
	s3_version_list_release(&page);
	aws_call_release(&c->call);
	c->in_flight = false;
	return rc;
}

static const char *chain_last(const struct chain *c)
{
	return c->n > c->head ? c->items[c->n - 1].param_key : NULL;
}

/* Keys below the frontier are complete in every listing. NULL: no limit
 * (every listing is done); "" with *none: nothing can be joined yet. */
static const char *frontier(struct chain *chains, size_t n, bool *none)
{
	const char *f = NULL;
	*none = false;
	for (size_t i = 0; i < n; i++) {
		if (chains[i].done)
			continue;
		const char *last = chain_last(&chains[i]);
		if (!last) {
			*none = true;
			return NULL;
		}
		if (!f || strcmp(last, f) < 0)
			f = last;
	}
	return f;
}

int scan_check_versions(const char *key, const struct s3_version *v, size_t n,
			struct err *e)
{
	size_t latest = 0;
	for (size_t i = 0; i < n; i++) {
		latest += v[i].is_latest;
		if (v[i].is_latest && i != 0) {
			err_set(e, ERR_PARSE, "ListObjectVersions contradicts "
				"itself for %s: IsLatest on a version that is not "
				"listed first", key);
			return -1;
		}
		if (i && v[i].last_modified > v[i - 1].last_modified) {
			err_set(e, ERR_PARSE, "ListObjectVersions contradicts "
				"itself for %s: versions are not listed newest "
				"first", key);
			return -1;
		}
	}
	if (latest > 1) {
		err_set(e, ERR_PARSE, "ListObjectVersions contradicts itself for "
			"%s: %zu versions are IsLatest", key, latest);
		return -1;
	}
	return 0;
}

/* Joins every key both listings hold completely; returns the count of
 * keys handed to fn, or -1. */
static int join_ready(struct chain *data, struct chain *index, scan_fn fn,
		      void *user, char **joined_up_to, struct err *e)
{
	struct chain *both = data; /* data then index: adjacent in the array */
	bool none;
	const char *limit = frontier(both, 2, &none);
	if (none)
		return 0;
	char *limit_copy = limit ? strdup(limit) : NULL;
	int rc = 0;
	struct s3_version *versions = NULL;
	struct change_entry *changes = NULL;
	for (;;) {
		const char *key = NULL;
		if (data->head < data->n)
			key = data->items[data->head].param_key;
		if (index->head < index->n &&
		    (!key || strcmp(index->items[index->head].param_key, key) < 0))
			key = index->items[index->head].param_key;
		if (!key || (limit_copy && strcmp(key, limit_copy) >= 0))
			break;
		char *k = strdup(key);
		size_t dv = data->head, ic = index->head;
		while (dv < data->n && strcmp(data->items[dv].param_key, k) == 0)
			dv++;
		while (ic < index->n && strcmp(index->items[ic].param_key, k) == 0)
			ic++;
		size_t nv = dv - data->head, nc = ic - index->head;
		versions = realloc(versions, (nv + 1) * sizeof(*versions));
		changes = realloc(changes, (nc + 1) * sizeof(*changes));
		if (!k || !versions || !changes) {
			free(k);
			err_set(e, ERR_NOMEM, "out of memory");
			rc = -1;
			break;
		}
		for (size_t i = 0; i < nv; i++)
			versions[i] = data->items[data->head + i].v;
		for (size_t i = 0; i < nc; i++)
			changes[i] = index->items[index->head + i].c;
		struct scan_key sk = { k, versions, nv, changes, nc };
		if (scan_check_versions(k, versions, nv, e) < 0 ||
		    fn(user, &sk, e) < 0) {
			free(k);
			rc = -1;
			break;
		}
		for (; data->head < dv; data->head++)
			item_release(&data->items[data->head]);
		for (; index->head < ic; index->head++)
			item_release(&index->items[index->head]);
		free(*joined_up_to);
		*joined_up_to = k;
		rc++;
	}
	free(versions);
	free(changes);
	free(limit_copy);
	return rc;
}

static void chain_compact(struct chain *c)
{
	if (c->head == 0) /* nothing to move; items may still be NULL */
		return;
	memmove(c->items, c->items + c->head, (c->n - c->head) * sizeof(*c->items));
	c->n -= c->head;
	c->head = 0;
}

/* Whether the chain's next page is wanted now: it is not far ahead of
 * the join, or it holds the join back. */
static bool wants_page(const struct chain *c, const char *limit)
{
	if (c->done)
		return false;
	const char *last = chain_last(c);
	return c->n - c->head < SCAN_AHEAD_ITEMS || !last || !limit ||
	       strcmp(last, limit) <= 0;
}

/* A tree listed in a few key ranges at once, each a pair of listings
 * (data versions, change index) joined on its own. */
#define SCAN_MAX_RANGES 4

struct range {
	struct chain c[2];
	char *joined_up_to;
};

static void range_release(struct range *r)
{
	chain_release(&r->c[0]);
	chain_release(&r->c[1]);
	free(r->joined_up_to);
}

static bool range_busy(const struct range *r)
{
	return !r->c[0].done || !r->c[1].done || r->c[0].head < r->c[0].n ||
	       r->c[1].head < r->c[1].n;
}

/* The next page of every listing that wants one, all ranges at once. */
static int fetch_pages(struct aws_ctx *ctx, const char *bucket,
		       struct range *ranges, size_t n, const char *delimiter,
		       struct err *e)
{
	struct aws_call *batch[2 * SCAN_MAX_RANGES];
	size_t k = 0;
	for (size_t r = 0; r < n; r++) {
		bool none;
		const char *limit = frontier(ranges[r].c, 2, &none);
		for (size_t i = 0; i < 2; i++) {
			struct chain *c = &ranges[r].c[i];
			if (!wants_page(c, none ? NULL : limit))
				continue;
			c->in_flight = true;
			if (s3_prepare_list_versions(ctx, &c->call, bucket,
						     c->list_prefix, delimiter,
						     c->key_marker,
						     c->version_marker) < 0) {
				err_set(e, ERR_NOMEM, "out of memory");
				return -1;
			}
			batch[k++] = &c->call;
		}
	}
	aws_perform(ctx, batch, k);
	int rc = 0;
	for (size_t r = 0; r < n; r++)
		for (size_t i = 0; i < 2; i++) {
			struct chain *c = &ranges[r].c[i];
			struct err ignored = { 0 };
			if (c->in_flight &&
			    chain_take_page(c, ranges[r].joined_up_to,
					    rc < 0 ? &ignored : e) < 0)
				rc = -1;
		}
	return rc;
}

static int range_init(struct range *r, const struct scan_opts *o,
		      const char *start, const char *stop)
{
	memset(r, 0, sizeof(*r));
	struct chain *data = &r->c[0], *index = &r->c[1];
	data->what = "the data versions";
	index->what = "the change index";
	index->is_index = true;
	data->strip = strdup(o->prefix);
	data->list_prefix = changes_data_key(o->prefix, o->path);
	index->strip = changes_root(o->prefix);
	if (index->strip)
		index->list_prefix = changes_data_key(index->strip, o->path);
	if (!data->strip || !data->list_prefix || !index->list_prefix)
		return -1;
	/* A range starts after the subtree prefix itself ("/app/m/"), which
	 * no key can be, and so lists everything from that subtree on. */
	if (start) {
		data->key_marker = changes_data_key(o->prefix, start);
		index->key_marker = changes_data_key(index->strip, start);
		if (!data->key_marker || !index->key_marker)
			return -1;
	}
	if (stop) {
		data->stop_at = strdup(stop);
		index->stop_at = strdup(stop);
		if (!data->stop_at || !index->stop_at)
			return -1;
	}
	return 0;
}

/* Where to cut the tree: one listing of its top level (delimiter '/'),
 * whose subtrees become up to SCAN_MAX_RANGES ranges of about as many
 * subtrees each. *n is 0 when there is nothing to cut. */
static int split_points(struct aws_ctx *ctx, const struct scan_opts *o,
			char **points, size_t *n, struct err *e)
{
	struct aws_call call;
	char **prefixes = NULL;
	size_t m = 0;
	*n = 0;
	char *list_prefix = changes_data_key(o->prefix, o->path);
	int rc = list_prefix ? s3_prepare_list_versions(ctx, &call, o->bucket,
							list_prefix, "/", NULL, NULL)
			     : -1;
	free(list_prefix);
	if (rc < 0) {
		aws_call_release(&call);
		err_set(e, ERR_NOMEM, "out of memory");
		return -1;
	}
	rc = aws_perform_one(ctx, &call, e);
	if (rc == 0)
		rc = s3_parse_common_prefixes(buf_str(&call.resp.body),
					      call.resp.body.len, &prefixes, &m, e);
	aws_call_release(&call);
	size_t strip = strlen(o->prefix);
	for (size_t j = 1; rc == 0 && m >= 2 && j < SCAN_MAX_RANGES && j < m; j++) {
		const char *cut = prefixes[j * m / (m < SCAN_MAX_RANGES ? m : SCAN_MAX_RANGES)];
		if (strlen(cut) > strip && (!*n || strcmp(points[*n - 1], cut + strip) < 0))
			points[(*n)++] = strdup(cut + strip);
	}
	for (size_t i = 0; i < m; i++)
		free(prefixes[i]);
	free(prefixes);
	return rc;
}

int scan_tree(struct aws_ctx *ctx, const struct scan_opts *o, scan_fn fn,
	      void *user, struct err *e)
{
	struct range ranges[SCAN_MAX_RANGES];
	char *points[SCAN_MAX_RANGES] = { 0 };
	size_t n_points = 0, n = 0;
	int rc = -1;
	if (o->split && split_points(ctx, o, points, &n_points, e) < 0)
		return -1;
	for (size_t i = 0; i <= n_points; i++, n++)
		if (range_init(&ranges[i], o, i ? points[i - 1] : NULL,
			       i < n_points ? points[i] : NULL) < 0) {
			n++;
			err_set(e, ERR_NOMEM, "out of memory");
			goto done;
		}
	const char *delimiter = o->one_level ? "/" : NULL;
	for (;;) {
		bool busy = false, listing = false;
		for (size_t i = 0; i < n; i++) {
			busy |= range_busy(&ranges[i]);
			listing |= !ranges[i].c[0].done || !ranges[i].c[1].done;
		}
		if (!busy)
			break;
		if (listing && fetch_pages(ctx, o->bucket, ranges, n, delimiter, e) < 0)
			goto done;
		for (size_t i = 0; i < n; i++) {
			if (join_ready(&ranges[i].c[0], &ranges[i].c[1], fn, user,
				       &ranges[i].joined_up_to, e) < 0)
				goto done;
			chain_compact(&ranges[i].c[0]);
			chain_compact(&ranges[i].c[1]);
		}
	}
	rc = 0;
done:
	for (size_t i = 0; i < n; i++)
		range_release(&ranges[i]);
	for (size_t i = 0; i < n_points; i++)
		free(points[i]);
	return rc;
}

/* --- one key's entries --- */

void change_list_release(struct change_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		change_entry_release(&l->items[i]);
	free(l->items);
	memset(l, 0, sizeof(*l));
}

static int list_push(struct change_list *l, struct change_entry *c)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct change_entry *items = realloc(l->items, cap * sizeof(*items));
		if (!items)
			return -1;
		l->items = items;
		l->cap = cap;
	}
	l->items[l->n++] = *c;
	memset(c, 0, sizeof(*c));
	return 0;
}

int scan_key_changes(struct aws_ctx *ctx, const char *bucket,
		     const char *prefix, const char *param_key,
		     struct change_list *out, struct err *e)
{
	struct chain c = { .what = "the change index", .is_index = true };
	int rc = -1;
	c.strip = changes_root(prefix);
	if (c.strip && asprintf(&c.list_prefix, "%s%s%c", c.strip, param_key,
				CHANGES_SEPARATOR) < 0)
		c.list_prefix = NULL;
	if (!c.list_prefix) {
		err_set(e, ERR_NOMEM, "out of memory");
		goto done;
	}
	while (!c.done) {
		c.in_flight = true;
		if (s3_prepare_list_versions(ctx, &c.call, bucket, c.list_prefix,
					     NULL, c.key_marker,
					     c.version_marker) < 0) {
			err_set(e, ERR_NOMEM, "out of memory");
			goto done;
		}
		aws_perform_one(ctx, &c.call, NULL);
		if (chain_take_page(&c, NULL, e) < 0)
			goto done;
		for (; c.head < c.n; c.head++) {
			if (list_push(out, &c.items[c.head].c) < 0) {
				err_set(e, ERR_NOMEM, "out of memory");
				goto done;
			}
			item_release(&c.items[c.head]);
		}
		chain_compact(&c);
	}
	rc = 0;
done:
	chain_release(&c);
	return rc;
}
