#include "record.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <jansson.h>

#include "../sigv4.h"
#include "s3.h"
#include "util.h"

void record_release(struct record *r)
{
	ssm_parameter_release(&r->param);
	free(r->extra_ref);
	free(r->tags);
	free(r->gap_id);
	memset(r, 0, sizeof(*r));
}

char *record_key_for_name(const char *name)
{
	char *key = NULL;
	if (asprintf(&key, "%s%s", name[0] == '/' ? "" : "/", name) < 0)
		return NULL;
	return key;
}

/* https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-tagging.html
 * letters, digits, spaces and + - = . _ : / @ */
static bool tag_char_allowed(unsigned char c)
{
	return c < 0x80 && (isalnum(c) || c == ' ' || strchr("+-=._:/@", c));
}

char *record_legacy_description(const char *description)
{
	size_t len = strlen(description);
	char *out = malloc(len + 1);
	size_t w = 0;
	if (!out)
		return NULL;
	for (size_t i = 0; i < len && w < 256; i++)
		if (description[i] &&
		    tag_char_allowed((unsigned char)description[i]))
			out[w++] = description[i];
	out[w] = '\0';
	return out;
}

char *record_meta_encode(const char *s)
{
	return aws_uri_encode(s, false);
}

char *record_meta_decode(const char *s)
{
	return aws_uri_decode(s, false);
}

/* --- writing --- */

struct tag_builder {
	struct buf text;
	bool ok;
};

static void tag_add(struct tag_builder *t, const char *key, const char *value)
{
	if (!value || !t->ok)
		return;
	char *k = aws_uri_encode(key, false), *v = aws_uri_encode(value, false);
	t->ok = k && v &&
		buf_printf(&t->text, "%s%s=%s", t->text.len ? "&" : "", k, v) == 0;
	free(k);
	free(v);
}

static char *build_tagging(const struct record *r)
{
	struct tag_builder t = { BUF_INIT, true };
	char time_text[32], version_text[32];
	snprintf(time_text, sizeof(time_text), "%lld", (long long)r->event_time);
	snprintf(version_text, sizeof(version_text), "%lld", r->param.version);
	tag_add(&t, "ssmbakTime", time_text);
	tag_add(&t, "ssmbakType", r->param.type ? r->param.type : "String");
	if (r->param.description && *r->param.description) {
		char *legacy = record_legacy_description(r->param.description);
		t.ok = t.ok && legacy;
		tag_add(&t, "ssmbakDescription", legacy);
		free(legacy);
	}
	if (r->param.version)
		tag_add(&t, "ssmbakVersion", version_text);
	tag_add(&t, "ssmbakOp", record_op_name(r->op));
	/* Reindex reads only tags: they carry what an index entry needs. */
	if (r->param.last_modified > 0) {
		char modified_text[32];
		snprintf(modified_text, sizeof(modified_text), "%lld",
			 (long long)llround(r->param.last_modified * 1000));
		tag_add(&t, "ssmbakModified", modified_text);
	}
	if (!t.ok) {
		buf_release(&t.text);
		return NULL;
	}
	return buf_detach(&t.text);
}

struct meta_builder {
	struct aws_headers *h;
	size_t bytes;
	bool ok;
};

static void meta_add(struct meta_builder *m, const char *name,
		     const char *value)
{
	if (!value || !*value || !m->ok)
		return;
	char *encoded = record_meta_encode(value);
	m->ok = encoded && aws_headers_add(m->h, name, encoded) == 0;
	if (encoded)
		m->bytes += strlen(name) + strlen(encoded);
	free(encoded);
}


static size_t encoded_len(const char *s)
{
	char *e = s ? record_meta_encode(s) : NULL;
	size_t n = e ? strlen(e) : 0;
	free(e);
	return n;
}

/* The long free-text fields go to a side object when the metadata would
 * pass S3's 2 KB; returns the side object's body or NULL when not needed. */
/* The fields that may not fit S3's 2 KB of metadata, with their metadata
 * names and their names in the side object. */
#define LONG_FIELDS(r) { \
	{ "ssmbak-description", "description", (r)->param.description }, \
	{ "ssmbak-allowed-pattern", "allowed_pattern", (r)->param.allowed_pattern }, \
	{ "ssmbak-labels", "labels", (r)->param.labels }, \
	{ "ssmbak-policies", "policies", (r)->param.policies }, \
	{ "ssmbak-tags", "tags", (r)->tags }, \
}
struct long_field {
	const char *meta, *extra;
	const char *value;
};
#define N_LONG_FIELDS 5

static char *extra_body_if_needed(const struct record *r, size_t fixed_bytes)
{
	const struct long_field f[N_LONG_FIELDS] = LONG_FIELDS(r);
	size_t long_bytes = 64;
	for (size_t i = 0; i < N_LONG_FIELDS; i++)
		long_bytes += encoded_len(f[i].value) + strlen(f[i].meta);
	if (fixed_bytes + long_bytes <= RECORD_METADATA_BUDGET)
		return NULL;
	json_t *doc = json_object();
	for (size_t i = 0; i < N_LONG_FIELDS; i++)
		if (f[i].value)
			json_object_set_new(doc, f[i].extra,
					    json_string(f[i].value));
	char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(doc);
	return text;
}

static int build_metadata(const struct record *r, struct aws_headers *meta,
			  char **extra_body)
{
	struct meta_builder m = { meta, 0, true };
	char time_text[32];
	snprintf(time_text, sizeof(time_text), "%lld", (long long)r->event_time);
	meta_add(&m, "ssmbak-format", "3");
	meta_add(&m, "ssmbak-time", time_text);
	meta_add(&m, "ssmbak-op", record_op_name(r->op));
	meta_add(&m, "ssmbak-type", r->param.type);
	char version_text[32], modified_text[48];
	snprintf(version_text, sizeof(version_text), "%lld", r->param.version);
	snprintf(modified_text, sizeof(modified_text), "%.3f",
		 r->param.last_modified);
	if (r->param.version)
		meta_add(&m, "ssmbak-version", version_text);
	if (r->param.last_modified > 0)
		meta_add(&m, "ssmbak-modified", modified_text);
	meta_add(&m, "ssmbak-key-id", r->param.key_id);
	meta_add(&m, "ssmbak-tier", r->param.tier);
	meta_add(&m, "ssmbak-data-type", r->param.data_type);
	meta_add(&m, "ssmbak-user", r->param.last_modified_user);

	*extra_body = m.ok ? extra_body_if_needed(r, m.bytes) : NULL;
	if (*extra_body) {
		char hash[SIGV4_HASH_HEX_LEN + 1];
		sigv4_sha256_hex(*extra_body, strlen(*extra_body), hash);
		meta_add(&m, "ssmbak-extra", hash);
	} else {
		const struct long_field f[N_LONG_FIELDS] = LONG_FIELDS(r);
		for (size_t i = 0; i < N_LONG_FIELDS; i++)
			meta_add(&m, f[i].meta, f[i].value);
	}
	return m.ok ? 0 : -1;
}

static int prepare_extra(struct aws_ctx *ctx, struct record_write *w,
			 const char *extra)
{
	char hash[SIGV4_HASH_HEX_LEN + 1], *extra_key = NULL;
	sigv4_sha256_hex(extra, strlen(extra), hash);
	int rc = asprintf(&extra_key, RECORD_EXTRA_PREFIX "%s", hash) < 0 ||
				 s3_prepare_put_object(ctx, &w->calls[0], w->bucket,
						       extra_key, extra, strlen(extra),
						       NULL, NULL) < 0
			 ? -1
			 : 0;
	w->prepared[0] = true;
	free(extra_key);
	return rc;
}

static int prepare_data(struct aws_ctx *ctx, struct record_write *w,
			const struct record *r, const char *data_key,
			const char *tagging, const struct aws_headers *meta)
{
	w->prepared[1] = true;
	if (r->op == RECORD_DELETE)
		return s3_prepare_delete_object(ctx, &w->calls[1], w->bucket,
						data_key);
	const char *body = r->param.value ? r->param.value : "";
	return s3_prepare_put_object(ctx, &w->calls[1], w->bucket, data_key,
				     body, strlen(body), tagging, meta);
}

static char *dup_if(const char *s, bool *ok)
{
	char *d = s ? strdup(s) : NULL;
	*ok = *ok && (!s || d);
	return d;
}

/* Stage 2, the change index entry, and stage 3, the same entry in the
 * time-ordered log (FORMAT.md, "The log"); a key too long for either is
 * left out (readers take it from the tags; log then misses it, history
 * does not). */
static int prepare_entry(struct aws_ctx *ctx, struct record_write *w)
{
	char *key = changes_entry_key(w->prefix, w->param_key, &w->entry);
	w->indexed = key != NULL;
	if (!key)
		return 0;
	w->prepared[2] = true;
	int rc = s3_prepare_put_object(ctx, &w->calls[2], w->bucket, key, "", 0,
				       NULL, NULL);
	free(key);
	char *log_key = rc == 0 ? changes_log_key(w->prefix, w->param_key, &w->entry)
				: NULL;
	if (log_key) {
		w->prepared[3] = true;
		rc = s3_prepare_put_object(ctx, &w->calls[3], w->bucket, log_key,
					   "", 0, NULL, NULL);
	}
	free(log_key);
	return rc;
}

/* A gap has no version to name (FORMAT.md, "Gaps"): its entry is all,
 * told apart from the key's other gaps of that second by its event. */
static int prepare_gap_entry(struct aws_ctx *ctx, struct record_write *w,
			     const struct record *r)
{
	w->entry.version_id = r->gap_id ? xasprintf(CHANGES_NO_VERSION_ID "%s",
						    r->gap_id)
					: strdup(CHANGES_NO_VERSION_ID);
	return w->entry.version_id ? prepare_entry(ctx, w) : -1;
}

int record_prepare_write(struct aws_ctx *ctx, const char *bucket,
			 const char *prefix, const struct record *r,
			 struct record_write *w, struct err *e)
{
	memset(w, 0, sizeof(*w));
	w->bucket = bucket;
	w->prefix = strdup(prefix ? prefix : "");
	w->param_key = record_key_for_name(r->param.name);
	record_entry_fields(r, &w->entry);
	/* what history and log show without reading the version */
	bool ok = true;
	w->entry.user = dup_if(r->param.last_modified_user, &ok);
	w->entry.type = dup_if(r->param.type, &ok);
	w->entry.labels = dup_if(r->param.labels, &ok);
	w->entry.description = dup_if(r->param.description, &ok);
	char *data_key = w->prefix && w->param_key
				 ? changes_data_key(w->prefix, w->param_key)
				 : NULL;
	char *tagging = data_key ? build_tagging(r) : NULL;
	struct aws_headers meta = { 0 };
	char *extra = NULL;
	int rc = ok && tagging && build_metadata(r, &meta, &extra) == 0 ? 0 : -1;
	if (rc == 0 && r->op == RECORD_GAP)
		rc = prepare_gap_entry(ctx, w, r);
	else if (rc == 0 && extra && r->op != RECORD_DELETE)
		rc = prepare_extra(ctx, w, extra);
	if (rc == 0 && r->op != RECORD_GAP)
		rc = prepare_data(ctx, w, r, data_key, tagging, &meta);
	if (rc < 0)
		err_set(e, ERR_NOMEM, "out of memory preparing the S3 writes");
	free(data_key);
	free(tagging);
	free(extra);
	aws_headers_release(&meta);
	return rc;
}

void record_write_release(struct record_write *w)
{
	for (int s = 0; s < RECORD_STAGES; s++)
		if (w->prepared[s])
			aws_call_release(&w->calls[s]);
	free(w->prefix);
	free(w->param_key);
	change_entry_release(&w->entry);
	memset(w, 0, sizeof(*w));
}

static void write_failed(struct record_write *w, int stage,
			 const struct err *e)
{
	w->failed = true;
	w->failed_stage = stage;
	w->err = *e;
}

/* The index entry names the version S3 just made: the x-amz-version-id
 * of the PutObject or DeleteObject answer. A bucket without versioning
 * answers none, and an entry without it could not be joined. */
static int prepare_index_entry(struct aws_ctx *ctx, struct record_write *w)
{
	struct err e = { 0 };
	const char *vid = aws_headers_get(&w->calls[1].resp.headers,
					  "x-amz-version-id");
	if (!vid || !*vid || strcmp(vid, "null") == 0) {
		err_set(&e, ERR_CONFIG,
			"S3 answered without a version id: versioning is not "
			"enabled on bucket %s", w->bucket);
		write_failed(w, 1, &e);
		return -1;
	}
	free(w->entry.version_id);
	w->entry.version_id = strdup(vid);
	int rc = w->entry.version_id ? prepare_entry(ctx, w) : -1;
	if (rc < 0) {
		err_set(&e, ERR_NOMEM, "out of memory");
		write_failed(w, 2, &e);
	}
	return rc;
}

static size_t run_stage(struct aws_ctx *ctx, struct record_write **writes,
			size_t n, int stage, struct aws_call **batch)
{
	size_t k = 0, failed = 0;
	for (size_t i = 0; i < n; i++)
		if (!writes[i]->failed && writes[i]->prepared[stage])
			batch[k++] = &writes[i]->calls[stage];
	aws_perform(ctx, batch, k);
	for (size_t i = 0; i < n; i++) {
		struct record_write *w = writes[i];
		if (w->failed || !w->prepared[stage])
			continue;
		if (w->calls[stage].err.kind != ERR_NONE) {
			write_failed(w, stage, &w->calls[stage].err);
			failed++;

		} else if (stage == 1 && prepare_index_entry(ctx, w) < 0) {
			failed++;
		}
	}
	return failed;
}

bool record_write_rearm(struct record_write *w)
{
	if (!w->failed || !w->err.retryable)
		return false;
	for (int s = 0; s < RECORD_STAGES; s++)
		if (w->prepared[s] && s >= w->failed_stage)
			aws_call_reset(&w->calls[s]);
	/* Stages before the failed one are done: not run again. */
	for (int s = 0; s < w->failed_stage; s++)
		if (w->prepared[s]) {
			aws_call_release(&w->calls[s]);
			w->prepared[s] = false;
		}
	w->failed = false;
	memset(&w->err, 0, sizeof(w->err));
	return true;
}

size_t record_write_all(struct aws_ctx *ctx, struct record_write **writes,
			size_t n)
{
	struct aws_call **batch = calloc(n + 1, sizeof(*batch));
	size_t failed = 0;
	if (!batch) {
		for (size_t i = 0; i < n; i++) {
			writes[i]->failed = true;
			err_set(&writes[i]->err, ERR_NOMEM, "out of memory");
		}
		return n;
	}
	for (int stage = 0; stage < RECORD_STAGES; stage++)
		failed += run_stage(ctx, writes, n, stage, batch);
	free(batch);
	return failed;
}

/* --- reading --- */

static int parse_long_long(const char *s, long long *out)
{
	char *end;
	if (!s || !*s)
		return -1;
	long long v = strtoll(s, &end, 10);
	if (*end)
		return -1;
	*out = v;
	return 0;
}

int record_from_tags(const struct aws_headers *tags, struct record *out)
{
	long long t, version = 0;
	memset(out, 0, sizeof(*out));
	if (parse_long_long(aws_headers_get(tags, "ssmbakTime"), &t) < 0)
		return -1;
	out->event_time = (time_t)t;
	const char *type = aws_headers_get(tags, "ssmbakType");
	const char *description = aws_headers_get(tags, "ssmbakDescription");
	const char *op = aws_headers_get(tags, "ssmbakOp");
	long long modified_ms;
	if (parse_long_long(aws_headers_get(tags, "ssmbakVersion"), &version) == 0)
		out->param.version = version;
	out->op = RECORD_UPDATE;
	if (op)
		record_op_parse(op, &out->op);
	bool ok = true;
	out->param.type = type ? strdup(type) : NULL;
	out->param.description = description ? strdup(description) : NULL;
	if (parse_long_long(aws_headers_get(tags, "ssmbakModified"),
			    &modified_ms) == 0)
		out->param.last_modified = (double)modified_ms / 1000;
	ok = (!type || out->param.type) &&
	     (!description || out->param.description);
	if (!ok) {
		record_release(out);
		return -1;
	}
	return 0;
}

void record_entry_fields(const struct record *r, struct change_entry *c)
{
	c->event_time = r->event_time;
	c->ssm_version = r->param.version;
	c->op = r->op;
	c->modified_ms = (long long)llround(r->param.last_modified * 1000);
}

int record_from_tagging_call(const struct aws_call *call,
			     const char *version_id, struct record *out,
			     struct err *e)
{
	struct aws_headers tags = { 0 };
	int rc = -1;
	memset(out, 0, sizeof(*out));
	if (call->err.kind != ERR_NONE) {
		*e = call->err;
	} else if (s3_parse_tagging(&call->resp, &tags, e) == 0) {
		rc = record_from_tags(&tags, out);
		if (rc < 0)
			err_set(e, ERR_PARSE, "version %s has no ssmbakTime tag: not "
				"written by ssmbak", version_id);
	}
	aws_headers_release(&tags);
	return rc;
}

static int meta_string(const struct aws_response *resp, const char *name,
		       char **out)
{
	const char *v = s3_metadata(resp, name);
	*out = NULL;
	if (!v)
		return 0;
	*out = record_meta_decode(v);
	return *out ? 0 : -1;
}

int record_from_metadata(const struct aws_response *resp, struct record *out)
{
	memset(out, 0, sizeof(*out));
	if (!s3_metadata(resp, "ssmbak-format"))
		return 0;
	long long t = 0, version = 0;
	char *op = NULL, *modified = NULL;
	struct ssm_parameter *p = &out->param;
	int rc = parse_long_long(s3_metadata(resp, "ssmbak-time"), &t);
	rc |= meta_string(resp, "ssmbak-op", &op);
	rc |= meta_string(resp, "ssmbak-type", &p->type);
	rc |= meta_string(resp, "ssmbak-modified", &modified);
	rc |= meta_string(resp, "ssmbak-description", &p->description);
	rc |= meta_string(resp, "ssmbak-key-id", &p->key_id);
	rc |= meta_string(resp, "ssmbak-tier", &p->tier);
	rc |= meta_string(resp, "ssmbak-data-type", &p->data_type);
	rc |= meta_string(resp, "ssmbak-allowed-pattern", &p->allowed_pattern);
	rc |= meta_string(resp, "ssmbak-extra", &out->extra_ref);
	rc |= meta_string(resp, "ssmbak-user", &p->last_modified_user);
	rc |= meta_string(resp, "ssmbak-labels", &p->labels);
	rc |= meta_string(resp, "ssmbak-policies", &p->policies);
	rc |= meta_string(resp, "ssmbak-tags", &out->tags);
	if (parse_long_long(s3_metadata(resp, "ssmbak-version"), &version) == 0)
		p->version = version;
	out->event_time = (time_t)t;
	out->op = RECORD_UPDATE;
	if (rc == 0 && op && record_op_parse(op, &out->op) < 0)
		rc = -1;
	if (modified)
		p->last_modified = strtod(modified, NULL);
	free(op);
	free(modified);
	if (rc != 0) {
		record_release(out);
		return -1;
	}
	return 1;
}

static int take_extra(json_t *doc, const char *name, char **slot)
{
	const char *v = json_string_value(json_object_get(doc, name));
	free(*slot);
	*slot = v ? strdup(v) : NULL;
	return v && !*slot ? -1 : 0;
}

int record_apply_extra(struct record *r, const char *json, size_t len)
{
	json_t *doc = json_loadb(json, len, 0, NULL);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return -1;
	}
	int rc = take_extra(doc, "description", &r->param.description);
	rc |= take_extra(doc, "allowed_pattern", &r->param.allowed_pattern);
	/* side objects of older writers have only the two above */
	rc |= take_extra(doc, "labels", &r->param.labels);
	rc |= take_extra(doc, "policies", &r->param.policies);
	rc |= take_extra(doc, "tags", &r->tags);
	json_decref(doc);
	return rc ? -1 : 0;
}
