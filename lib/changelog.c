#include "changelog.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "s3.h"
#include "scan.h"
#include "timeline.h"

static void row_release(struct change_row *row)
{
	free(row->key);
	change_entry_release(&row->c);
	free(row->value);
}

void change_rows_release(struct change_rows *r)
{
	for (size_t i = 0; i < r->n; i++)
		row_release(&r->items[i]);
	free(r->items);
	memset(r, 0, sizeof(*r));
}

void change_rows_keep(struct change_rows *r, change_row_pred keep, void *user)
{
	size_t k = 0;
	for (size_t i = 0; i < r->n; i++) {
		if (keep(&r->items[i], user))
			r->items[k++] = r->items[i];
		else
			row_release(&r->items[i]);
	}
	r->n = k;
}

static struct change_row *rows_add(struct change_rows *r, const char *key)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct change_row *items = realloc(r->items, cap * sizeof(*items));
		if (!items)
			return NULL;
		r->items = items;
		r->cap = cap;
	}
	struct change_row *row = &r->items[r->n];
	memset(row, 0, sizeof(*row));
	row->key = strdup(key);
	if (!row->key)
		return NULL;
	r->n++;
	return row;
}

/* --- one key --- */

/* The data versions of exactly this key: a delimiter keeps the key's
 * subtree ("/app/x/...") out of the answer, and the listing stops at the
 * first other key ("/app/xa" sorts after every version of "/app/x"). */
static int list_key_versions(struct aws_ctx *ctx, const char *bucket,
			     const char *data_key, struct s3_version_list *out,
			     struct err *e)
{
	char *key_marker = NULL, *version_marker = NULL;
	bool truncated = true, other_key = false;
	int rc = 0;
	for (int page = 0; truncated && !other_key && rc == 0; page++) {
		struct aws_call call = { 0 };
		struct s3_version_list got = { 0 };
		char *next_key = NULL, *next_version = NULL;
		if (page >= S3_MAX_PAGES ||
		    s3_prepare_list_versions(ctx, &call, bucket, data_key, "/",
					     key_marker, version_marker) < 0) {
			err_set(e, ERR_NOMEM, "out of memory or too many pages");
			rc = -1;
		}
		if (rc == 0)
			rc = aws_perform_one(ctx, &call, e);
		if (rc == 0)
			rc = s3_parse_versions_page(call.resp.body.data, call.resp.body.len,
						    &got, &truncated, &next_key,
						    &next_version, e);
		for (size_t i = 0; rc == 0 && i < got.n; i++) {
			if (strcmp(got.items[i].key, data_key) != 0) {
				other_key = true;
				continue;
			}
			struct s3_version *v = NULL;
			if (out->n == out->cap) {
				size_t cap = out->cap ? out->cap * 2 : 64;
				struct s3_version *items =
					realloc(out->items, cap * sizeof(*items));
				if (!items) {
					err_set(e, ERR_NOMEM, "out of memory");
					rc = -1;
					break;
				}
				out->items = items;
				out->cap = cap;
			}
			v = &out->items[out->n++];
			*v = got.items[i];
			memset(&got.items[i], 0, sizeof(got.items[i]));
		}
		s3_version_list_release(&got);
		aws_call_release(&call);
		free(key_marker);
		free(version_marker);
		key_marker = next_key;
		version_marker = next_version;
		if (rc == 0 && truncated && !key_marker) {
			err_set(e, ERR_PARSE, "S3 ListObjectVersions: a truncated "
				"answer without a next marker");
			rc = -1;
		}
	}
	free(key_marker);
	free(version_marker);
	return rc;
}

static bool named_by_entry(const struct change_list *l, const char *vid)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->items[i].version_id && strcmp(l->items[i].version_id, vid) == 0)
			return true;
	return false;
}

/* The versions no entry names: format 1's, a writer's that died between
 * its two writes, a name too long for an entry. Their tags, all at once. */
static int add_unindexed(struct aws_ctx *ctx, const char *bucket,
			 const char *data_key, const char *param_key,
			 const struct s3_version_list *v,
			 const struct change_list *entries,
			 struct change_rows *out, struct err *e)
{
	struct aws_call *calls = calloc(v->n + 1, sizeof(*calls));
	struct aws_call **batch = calloc(v->n + 1, sizeof(*batch));
	size_t *row_of = calloc(v->n + 1, sizeof(*row_of));
	size_t k = 0;
	int rc = calls && batch && row_of ? 0 : -1;
	for (size_t i = 0; rc == 0 && i < v->n; i++) {
		const struct s3_version *x = &v->items[i];
		if (named_by_entry(entries, x->version_id))
			continue;
		struct change_row *row = rows_add(out, param_key);
		if (!row || !(row->c.version_id = strdup(x->version_id))) {
			rc = -1;
			break;
		}
		row->unindexed = true;
		if (x->delete_marker) {
			row->c.op = RECORD_DELETE;
			row->c.event_time = (time_t)floor(x->last_modified);
			continue;
		}
		if (s3_prepare_get_tagging(ctx, &calls[k], bucket, data_key,
					   x->version_id) < 0) {
			aws_call_release(&calls[k]);
			rc = -1;
			break;
		}
		row_of[k] = out->n - 1;
		batch[k] = &calls[k];
		k++;
	}
	if (rc < 0)
		err_set(e, ERR_NOMEM, "out of memory");
	if (rc == 0)
		aws_perform(ctx, batch, k);
	for (size_t i = 0; i < k; i++) {
		struct change_row *row = &out->items[row_of[i]];
		struct record r;
		if (rc == 0 && record_from_tagging_call(&calls[i], row->c.version_id,
							&r, e) < 0) {
			rc = -1;
		} else if (rc == 0) {
			record_entry_fields(&r, &row->c);
			row->c.type = r.param.type;
			row->c.description = r.param.description;
			r.param.type = r.param.description = NULL;
			record_release(&r);
		}
		aws_call_release(&calls[i]);
	}
	free(calls);
	free(batch);
	free(row_of);
	return rc;
}

int changelog_of_key(struct aws_ctx *ctx, const char *bucket,
		     const char *prefix, const char *param_key,
		     struct change_rows *out, struct err *e)
{
	struct change_list entries = { 0 };
	struct s3_version_list versions = { 0 };
	char *data_key = changes_data_key(prefix, param_key);
	int rc = data_key ? 0 : -1;
	if (rc < 0)
		err_set(e, ERR_NOMEM, "out of memory");
	if (rc == 0)
		rc = scan_key_changes(ctx, bucket, prefix, param_key, &entries, e);
	if (rc == 0)
		rc = list_key_versions(ctx, bucket, data_key, &versions, e);
	/* the unindexed first: which versions entries name is read off them */
	if (rc == 0)
		rc = add_unindexed(ctx, bucket, data_key, param_key, &versions,
				   &entries, out, e);
	for (size_t i = 0; rc == 0 && i < entries.n; i++) {
		struct change_row *row = rows_add(out, param_key);
		if (!row) {
			err_set(e, ERR_NOMEM, "out of memory");
			rc = -1;
			break;
		}
		row->c = entries.items[i];
		memset(&entries.items[i], 0, sizeof(entries.items[i]));
	}
	change_list_release(&entries);
	s3_version_list_release(&versions);
	free(data_key);
	return rc;
}

/* --- a window of time --- */

static int add_hour(struct aws_ctx *ctx, const char *bucket, const char *prefix,
		    time_t hour, time_t since, time_t until,
		    changelog_want_fn want, void *user,
		    struct change_rows *out, struct err *e)
{
	char *hour_prefix = changes_log_hour_prefix(prefix, hour);
	struct s3_version_list listed = { 0 };
	int rc = hour_prefix ? 0 : -1;
	if (rc < 0)
		err_set(e, ERR_NOMEM, "out of memory");
	if (rc == 0)
		rc = s3_list_versions(ctx, bucket, hour_prefix, &listed, e);
	for (size_t i = 0; rc == 0 && i < listed.n; i++) {
		char *key = NULL;
		struct change_entry c;
		/* a log entry is written once: its delete markers and older
		 * versions (a writer's retry) add nothing */
		if (listed.items[i].delete_marker || !listed.items[i].is_latest ||
		    changes_parse_log_key(listed.items[i].key, hour_prefix, &key,
					  &c) < 0)
			continue;
		if (c.event_time >= since && c.event_time <= until &&
		    want(key, user)) {
			struct change_row *row = rows_add(out, key);
			if (!row) {
				err_set(e, ERR_NOMEM, "out of memory");
				rc = -1;
			} else {
				row->c = c;
				memset(&c, 0, sizeof(c));
			}
		}
		change_entry_release(&c);
		free(key);
	}
	s3_version_list_release(&listed);
	free(hour_prefix);
	return rc;
}

int changelog_window(struct aws_ctx *ctx, const char *bucket,
		     const char *prefix, time_t since, time_t until,
		     changelog_want_fn want, void *user,
		     struct change_rows *out, struct err *e)
{
	time_t first = since - since % LOG_HOUR_SECONDS;
	for (time_t h = first; h <= until; h += LOG_HOUR_SECONDS)
		if (add_hour(ctx, bucket, prefix, h, since, until, want, user,
			     out, e) < 0)
			return -1;
	return 0;
}

/* --- order and gaps --- */

static struct tl_entry tl_of(const struct change_row *r, size_t order)
{
	return (struct tl_entry){ r->c.event_time, r->c.ssm_version,
				  r->c.op == RECORD_DELETE, order };
}

static int newest_first(const void *a, const void *b)
{
	const struct change_row *x = a, *y = b;
	struct tl_entry tx = tl_of(x, 0), ty = tl_of(y, 0);
	if (timeline_later(&tx, &ty))
		return -1;
	if (timeline_later(&ty, &tx))
		return 1;
	return strcmp(x->key, y->key);
}

void changelog_order(struct change_rows *r)
{
	if (r->n) /* items is NULL while there are none */
		qsort(r->items, r->n, sizeof(*r->items), newest_first);
}

/* Walks each key oldest to newest: a version more than one above the
 * last one recorded, or above 1 right after a delete, left versions out.
 * The first change a key has tells nothing (backups began later). */
int changelog_add_gaps(struct change_rows *r)
{
	size_t n = r->n;
	for (size_t i = n; i-- > 0;) {
		const struct change_row *row = &r->items[i];
		if (row->gap || !row->c.ssm_version)
			continue;
		/* the key's change before this one: the next older row */
		const struct change_row *before = NULL;
		for (size_t j = i + 1; j < n && !before; j++)
			if (!r->items[j].gap && strcmp(r->items[j].key, row->key) == 0)
				before = &r->items[j];
		if (!before || (before->c.op != RECORD_DELETE && !before->c.ssm_version))
			continue;
		long long expect = before->c.op == RECORD_DELETE ? 1
					: before->c.ssm_version + 1;
		if (row->c.op == RECORD_DELETE || row->c.ssm_version <= expect)
			continue;
		struct change_row *gap = rows_add(r, row->key);
		if (!gap)
			return -1;
		row = &r->items[i]; /* rows_add may have moved them */
		gap->gap = true;
		gap->gap_from = expect;
		gap->gap_to = row->c.ssm_version - 1;
		gap->c.event_time = row->c.event_time;
		gap->c.ssm_version = gap->gap_to;
	}
	return 0;
}

/* --- reading versions --- */

static bool needs_fetch(const struct change_row *row, bool values)
{
	/* a recorded gap (FORMAT.md, "Gaps") has no version to read */
	return !row->gap && row->c.op != RECORD_DELETE && row->c.op != RECORD_GAP &&
	       row->c.version_id && (values || row->c.partial);
}

static void take(char **slot, char **from)
{
	if (*from) {
		free(*slot);
		*slot = *from;
		*from = NULL;
	}
}

static int adopt_version(struct change_row *row, const struct aws_call *call,
			 bool values, struct err *e)
{
	struct record r;
	/* a version the bucket's retention rule expired: its entry still
	 * tells what changed, only the value is gone */
	if (call->err.kind != ERR_NONE && strcmp(call->err.code, "NoSuchVersion") == 0)
		return 0;
	if (call->err.kind != ERR_NONE) {
		*e = call->err;
		return -1;
	}
	if (record_from_metadata(&call->resp, &r) == 1) {
		take(&row->c.user, &r.param.last_modified_user);
		take(&row->c.type, &r.param.type);
		take(&row->c.labels, &r.param.labels);
		if (!r.extra_ref)
			take(&row->c.description, &r.param.description);
		record_release(&r);
	}
	if (values && !(row->value = strndup(call->resp.body.data ? call->resp.body.data : "",
					     call->resp.body.len))) {
		err_set(e, ERR_NOMEM, "out of memory");
		return -1;
	}
	return 0;
}

int changelog_fetch(struct aws_ctx *ctx, const char *bucket,
		    const char *prefix, struct change_rows *r, bool values,
		    struct err *e)
{
	struct aws_call *calls = calloc(r->n + 1, sizeof(*calls));
	struct aws_call **batch = calloc(r->n + 1, sizeof(*batch));
	size_t *row_of = calloc(r->n + 1, sizeof(*row_of));
	size_t k = 0;
	int rc = calls && batch && row_of ? 0 : -1;
	for (size_t i = 0; rc == 0 && i < r->n; i++) {
		if (!needs_fetch(&r->items[i], values))
			continue;
		char *data_key = changes_data_key(prefix, r->items[i].key);
		rc = data_key ? s3_prepare_get_object(ctx, &calls[k], bucket, data_key,
						      r->items[i].c.version_id)
			      : -1;
		free(data_key);
		if (rc < 0) {
			aws_call_release(&calls[k]);
			break;
		}
		row_of[k] = i;
		batch[k] = &calls[k];
		k++;
	}
	if (rc < 0)
		err_set(e, ERR_NOMEM, "out of memory");
	else
		aws_perform(ctx, batch, k);
	for (size_t i = 0; i < k; i++) {
		if (rc == 0)
			rc = adopt_version(&r->items[row_of[i]], &calls[i], values, e);
		aws_call_release(&calls[i]);
	}
	free(calls);
	free(batch);
	free(row_of);
	return rc;
}
