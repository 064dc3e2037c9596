#include "s3.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "s3_region.h"
#include "timefmt.h"
#include "xml.h"

void s3_version_list_release(struct s3_version_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].key);
		free(l->items[i].version_id);
	}
	free(l->items);
	memset(l, 0, sizeof(*l));
}

/* https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html */
bool s3_bucket_name_is_valid(const char *b)
{
	size_t len = strlen(b);
	if (len < 3 || len > 63 || !isalnum((unsigned char)b[0]) ||
	    !isalnum((unsigned char)b[len - 1]))
		return false;
	for (const char *p = b; *p; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) ||
		      *p == '-' || *p == '.'))
			return false;
	return strstr(b, "..") == NULL;
}

bool s3_bucket_is_virtual_host_safe(const char *bucket)
{
	return s3_bucket_name_is_valid(bucket) && !strchr(bucket, '.');
}

/* Virtual-hosted style on AWS, path style on a custom endpoint (local
 * emulators and S3-compatible stores do not have per-bucket host names).
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html
 * On AWS the host names the bucket's region, as far as this run knows it
 * (aws_bucket_region). */
static int s3_aim(struct aws_ctx *ctx, struct aws_request *req,
		  const char *bucket, const char *encoded_key,
		  const char *encoded_bucket)
{
	bool custom;
	char *endpoint = aws_endpoint(ctx, &aws_s3, &custom);
	const char *region = aws_bucket_region(ctx, bucket);
	char *path = NULL;
	int rc = -1;
	req->addressing = custom ? AWS_S3_CUSTOM
			  : s3_bucket_is_virtual_host_safe(bucket) ? AWS_S3_VIRTUAL
								   : AWS_S3_PATH;
	if (!endpoint || !(req->region = strdup(region)) ||
	    !(req->bucket = strdup(bucket)))
		goto done;
	if (req->addressing == AWS_S3_VIRTUAL) {
		req->origin = s3_regional_origin(region, bucket);
		rc = req->origin ? asprintf(&req->path, "/%s", encoded_key) : -1;
		goto done;
	}
	if (asprintf(&path, "/%s/%s", encoded_bucket, encoded_key) < 0)
		goto done;
	if (req->addressing == AWS_S3_PATH) {
		free(endpoint);
		endpoint = s3_regional_origin(region, NULL);
	}
	rc = endpoint ? aws_request_set_target(req, endpoint, path) : -1;
done:
	free(path);
	free(endpoint);
	return rc < 0 ? -1 : 0;
}

static int s3_target(struct aws_ctx *ctx, struct aws_request *req,
		     const char *bucket, const char *key)
{
	char *encoded_key = aws_uri_encode(key ? key : "", true);
	char *encoded_bucket = aws_uri_encode(bucket, false);
	int rc = -1;
	if (encoded_key && encoded_bucket)
		rc = s3_aim(ctx, req, bucket, encoded_key, encoded_bucket);
	/* CreateBucket does not take the bucket owner condition. */
	if (rc == 0 && ctx->bucket_owner &&
	    strcmp(req->operation, "CreateBucket") != 0)
		rc = aws_headers_add(&req->headers, "x-amz-expected-bucket-owner",
				     ctx->bucket_owner);
	free(encoded_key);
	free(encoded_bucket);
	return rc;
}

static int set_query(struct aws_request *req, const char *query)
{
	if (!query)
		return 0;
	req->query = strdup(query);
	return req->query ? 0 : -1;
}

static int version_query(struct aws_request *req, const char *base,
			 const char *version_id)
{
	if (!version_id)
		return set_query(req, base);
	char *encoded = aws_uri_encode(version_id, false);
	int rc = encoded && asprintf(&req->query, "%s%sversionId=%s",
				     base ? base : "", base ? "&" : "",
				     encoded) >= 0
			 ? 0
			 : -1;
	free(encoded);
	return rc;
}

int s3_prepare_get_tagging(struct aws_ctx *ctx, struct aws_call *call,
			   const char *bucket, const char *key,
			   const char *version_id)
{
	aws_call_init(call, &aws_s3, "GetObjectTagging", "GET");
	return s3_target(ctx, &call->req, bucket, key) < 0 ||
			       version_query(&call->req, "tagging", version_id) < 0
		       ? -1
		       : 0;
}

int s3_prepare_get_object(struct aws_ctx *ctx, struct aws_call *call,
			  const char *bucket, const char *key,
			  const char *version_id)
{
	aws_call_init(call, &aws_s3, "GetObject", "GET");
	return s3_target(ctx, &call->req, bucket, key) < 0 ||
			       version_query(&call->req, NULL, version_id) < 0
		       ? -1
		       : 0;
}

/* Base64 of the body's MD5, as the Content-MD5 header carries it. */
static void content_md5(const void *body, size_t len, char out[32])
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	EVP_Digest(body, len, digest, &n, EVP_md5(), NULL);
	EVP_EncodeBlock((unsigned char *)out, digest, (int)n);
}

int s3_prepare_put_object(struct aws_ctx *ctx, struct aws_call *call,
			  const char *bucket, const char *key,
			  const void *body, size_t len, const char *tagging,
			  const struct aws_headers *metadata)
{
	aws_call_init(call, &aws_s3, "PutObject", "PUT");
	struct aws_request *req = &call->req;
	char md5[32];
	/* S3 requires Content-MD5 on buckets with Object Lock, and checks the
	 * body against it everywhere. */
	content_md5(body, len, md5);
	if (s3_target(ctx, req, bucket, key) < 0 ||
	    buf_append(&req->body, body, len) < 0 ||
	    aws_headers_add(&req->headers, "Content-Type",
			    "application/octet-stream") < 0 ||
	    aws_headers_add(&req->headers, "Content-MD5", md5) < 0)
		return -1;
	if (tagging && *tagging &&
	    aws_headers_add(&req->headers, "x-amz-tagging", tagging) < 0)
		return -1;
	for (size_t i = 0; metadata && i < metadata->n; i++) {
		char name[160];
		snprintf(name, sizeof(name), "x-amz-meta-%s",
			 metadata->items[i].name);
		if (aws_headers_add(&req->headers, name,
				    metadata->items[i].value) < 0)
			return -1;
	}
	return 0;
}

int s3_prepare_delete_object(struct aws_ctx *ctx, struct aws_call *call,
			     const char *bucket, const char *key)
{
	aws_call_init(call, &aws_s3, "DeleteObject", "DELETE");
	return s3_target(ctx, &call->req, bucket, key);
}

int s3_prepare_bucket_call(struct aws_ctx *ctx, struct aws_call *call,
			   const char *method, const char *operation,
			   const char *bucket, const char *query)
{
	aws_call_init(call, &aws_s3, operation, method);
	call->req.head = strcmp(method, "HEAD") == 0;
	if (s3_target(ctx, &call->req, bucket, NULL) < 0 ||
	    set_query(&call->req, query) < 0)
		return -1;
	return 0;
}

int s3_parse_versioning(const char *xml, size_t len, enum s3_versioning *out,
			struct err *e)
{
	struct xml_doc *doc = xml_parse(xml, len);
	struct xml_node *root = xml_root(doc);
	if (!root || strcmp(xml_name(root), "VersioningConfiguration") != 0) {
		xml_free(doc);
		err_set_answer(e, aws_s3.label, "GetBucketVersioning",
			       "the answer is not a VersioningConfiguration");
		return -1;
	}
	char *status = xml_child_text(root, "Status");
	int rc = 0;
	if (!status)
		*out = S3_VERSIONING_NEVER;
	else if (strcmp(status, "Enabled") == 0)
		*out = S3_VERSIONING_ENABLED;
	else if (strcmp(status, "Suspended") == 0)
		*out = S3_VERSIONING_SUSPENDED;
	else {
		err_set_answer(e, aws_s3.label, "GetBucketVersioning",
			       "the answer's Status is neither Enabled nor "
			       "Suspended");
		rc = -1;
	}
	free(status);
	xml_free(doc);
	return rc;
}

int s3_require_versioning(struct aws_ctx *ctx, const char *bucket,
			  struct err *e)
{
	struct aws_call call = { 0 };
	enum s3_versioning status = S3_VERSIONING_NEVER;
	if (s3_prepare_bucket_call(ctx, &call, "GET", "GetBucketVersioning",
				   bucket, "versioning") < 0) {
		aws_call_release(&call);
		err_set(e, ERR_NOMEM, "out of memory");
		return -1;
	}
	int rc = aws_perform_one(ctx, &call, e);
	if (rc == 0)
		rc = s3_parse_versioning(buf_str(&call.resp.body),
					 call.resp.body.len, &status, e);
	aws_call_release(&call);
	if (rc < 0 && strcmp(e->code, "NoSuchBucket") == 0) {
		err_clear(e);
		err_set(e, ERR_CONFIG, "bucket %s does not exist (S3 NoSuchBucket; "
			"check --bucket and --region)", bucket);
		return -1;
	}
	if (rc < 0 || status == S3_VERSIONING_ENABLED)
		return rc;
	err_set(e, ERR_CONFIG,
		"bucket %s: versioning is %s, but ssmbak keeps every change as "
		"a version; enable it: aws s3api put-bucket-versioning --bucket "
		"%s --versioning-configuration Status=Enabled",
		bucket, status == S3_VERSIONING_SUSPENDED ? "Suspended"
							  : "not enabled",
		bucket);
	return -1;
}

const char *s3_metadata(const struct aws_response *resp, const char *name)
{
	char header[160];
	snprintf(header, sizeof(header), "x-amz-meta-%s", name);
	return aws_headers_get(&resp->headers, header);
}

static char *decoded_child(struct xml_node *node, const char *name)
{
	char *raw = xml_child_text(node, name);
	if (!raw)
		return NULL;
	/* encoding-type=url answers encode keys as HTML forms do ('+' for
	 * space), which is how botocore decodes them (unquote_plus). */
	char *decoded = aws_uri_decode(raw, true);
	free(raw);
	return decoded;
}

/* "true" or "false", as S3 writes xs:boolean; absent is *absent. */
static int parse_boolean(const char *text, bool *out)
{
	if (!text)
		return 0;
	if (strcmp(text, "true") == 0 || strcmp(text, "false") == 0) {
		*out = text[0] == 't';
		return 0;
	}
	return -1;
}

/* A non-negative decimal integer, all of it. */
static int parse_size(const char *text, long long *out)
{
	char *end;
	if (!text)
		return 0;
	errno = 0;
	long long n = strtoll(text, &end, 10);
	if (!isdigit((unsigned char)text[0]) || *end || errno || n < 0)
		return -1;
	*out = n;
	return 0;
}

/* Reads one Version or DeleteMarker; NULL on success, else what was
 * wrong with it. */
static const char *push_version(struct s3_version_list *out,
				struct xml_node *node, bool delete_marker)
{
	if (out->n == out->cap) {
		size_t cap = out->cap ? out->cap * 2 : 256;
		struct s3_version *items =
			realloc(out->items, cap * sizeof(*items));
		if (!items)
			return "out of memory";
		out->items = items;
		out->cap = cap;
	}
	struct s3_version *v = &out->items[out->n];
	memset(v, 0, sizeof(*v));
	v->delete_marker = delete_marker;
	v->key = decoded_child(node, "Key");
	v->version_id = xml_child_text(node, "VersionId");
	char *latest = xml_child_text(node, "IsLatest");
	char *modified = xml_child_text(node, "LastModified");
	char *size = xml_child_text(node, "Size");
	const char *why =
		!v->key || !*v->key ? "an entry without a Key"
		: !v->version_id || !*v->version_id ? "an entry without a VersionId"
		: !modified || time_parse_iso8601(modified, &v->last_modified) < 0
			? "an entry without a valid LastModified"
		: parse_boolean(latest, &v->is_latest) < 0
			? "an entry whose IsLatest is not true or false"
		: parse_size(size, &v->size) < 0
			? "an entry whose Size is not a number"
			: NULL;
	free(latest);
	free(modified);
	free(size);
	if (why) {
		free(v->key);
		free(v->version_id);
		return why;
	}
	out->n++;
	return NULL;
}

int s3_parse_versions_page(const char *xml, size_t len,
			   struct s3_version_list *out, bool *truncated,
			   char **next_key_marker, char **next_version_marker,
			   struct err *e)
{
	static const char op[] = "ListObjectVersions";
	struct xml_doc *doc = xml_parse(xml, len);
	struct xml_node *root = xml_root(doc);
	size_t had = out->n;
	const char *why = NULL;
	*next_key_marker = *next_version_marker = NULL;
	*truncated = false;
	if (!root || strcmp(xml_name(root), "ListVersionsResult") != 0)
		why = "the answer is not a ListVersionsResult";
	/* Versions and delete markers are interleaved in S3's order. */
	for (struct xml_node *n = xml_child(root, NULL); n && !why;
	     n = xml_next(n, NULL)) {
		bool version = strcmp(xml_name(n), "Version") == 0;
		bool marker = strcmp(xml_name(n), "DeleteMarker") == 0;
		if (version || marker)
			why = push_version(out, n, marker);
	}
	/* IsTruncated is always there: without it the answer does not say
	 * whether the listing is complete. */
	char *flag = why ? NULL : xml_child_text(root, "IsTruncated");
	if (!why && (!flag || parse_boolean(flag, truncated) < 0))
		why = "the answer has no IsTruncated true or false";
	free(flag);
	if (!why && *truncated) {
		*next_key_marker = decoded_child(root, "NextKeyMarker");
		*next_version_marker = xml_child_text(root, "NextVersionIdMarker");
		if (!*next_key_marker || !**next_key_marker)
			why = "the answer is truncated but has no NextKeyMarker";
	}
	xml_free(doc);
	if (why) {
		while (out->n > had) {
			out->n--;
			free(out->items[out->n].key);
			free(out->items[out->n].version_id);
		}
		free(*next_key_marker);
		free(*next_version_marker);
		*next_key_marker = *next_version_marker = NULL;
		err_set_answer(e, aws_s3.label, op, "%s", why);
		return -1;
	}
	return 0;
}

static char *list_query(const char *prefix, const char *delimiter,
			const char *key_marker, const char *version_marker)
{
	char *p = aws_uri_encode(prefix ? prefix : "", false);
	char *d = delimiter ? aws_uri_encode(delimiter, false) : NULL;
	char *k = key_marker ? aws_uri_encode(key_marker, false) : NULL;
	char *v = version_marker ? aws_uri_encode(version_marker, false) : NULL;
	char *q = NULL;
	/* Query parameters in the canonical (sorted) order. */
	if (p && (!delimiter || d) && (!key_marker || k) &&
	    (!version_marker || v) &&
	    asprintf(&q, "versions%s%s&encoding-type=url%s%s&max-keys=1000&prefix=%s%s%s",
		     d ? "&delimiter=" : "", d ? d : "",
		     k ? "&key-marker=" : "", k ? k : "", p,
		     v ? "&version-id-marker=" : "", v ? v : "") < 0)
		q = NULL;
	free(p);
	free(d);
	free(k);
	free(v);
	return q;
}

int s3_parse_common_prefixes(const char *xml, size_t len, char ***out,
			     size_t *n, struct err *e)
{
	struct xml_doc *doc = xml_parse(xml, len);
	struct xml_node *root = xml_root(doc);
	*out = NULL;
	*n = 0;
	if (!root || strcmp(xml_name(root), "ListVersionsResult") != 0) {
		xml_free(doc);
		err_set_answer(e, aws_s3.label, "ListObjectVersions",
			       "the answer is not a ListVersionsResult");
		return -1;
	}
	size_t count = 0;
	for (struct xml_node *c = xml_child(root, "CommonPrefixes"); c;
	     c = xml_next(c, "CommonPrefixes"))
		count++;
	*out = calloc(count + 1, sizeof(**out));
	int rc = *out ? 0 : -1;
	for (struct xml_node *c = xml_child(root, "CommonPrefixes"); c && rc == 0;
	     c = xml_next(c, "CommonPrefixes")) {
		char *prefix = decoded_child(c, "Prefix");
		if (!prefix)
			rc = -1;
		else
			(*out)[(*n)++] = prefix;
	}
	xml_free(doc);
	if (rc < 0) {
		for (size_t i = 0; *out && i < *n; i++)
			free((*out)[i]);
		free(*out);
		*out = NULL;
		*n = 0;
		err_set_answer(e, aws_s3.label, "ListObjectVersions",
			       "a CommonPrefixes entry has no Prefix");
	}
	return rc;
}

int s3_prepare_list_versions(struct aws_ctx *ctx, struct aws_call *call,
			     const char *bucket, const char *prefix,
			     const char *delimiter, const char *key_marker,
			     const char *version_marker)
{
	char *query = list_query(prefix, delimiter, key_marker, version_marker);
	int rc = query ? s3_prepare_bucket_call(ctx, call, "GET",
						"ListObjectVersions", bucket, query)
		       : (aws_call_init(call, &aws_s3, "ListObjectVersions", "GET"), -1);
	free(query);
	return rc;
}

/* Markers only ever move forward (S3 lists keys in binary order, and a
 * key's versions newest first): a marker pair not after the one before it
 * would list the same pages forever. */
static bool markers_progress(const char *prev_key, const char *prev_version,
			     const char *key, const char *version)
{
	if (!prev_key)
		return true;
	int order = strcmp(key, prev_key);
	return order > 0 ||
	       (order == 0 && strcmp(version ? version : "",
				     prev_version ? prev_version : "") != 0);
}

int s3_list_versions(struct aws_ctx *ctx, const char *bucket,
		     const char *prefix, struct s3_version_list *out,
		     struct err *e)
{
	char *key_marker = NULL, *version_marker = NULL;
	char *prev_key = NULL, *prev_version = NULL;
	bool truncated = true;
	int rc = 0;
	for (int page = 0; truncated && rc == 0; page++) {
		struct aws_call call = { 0 }; /* released even when never prepared */
		if (page >= S3_MAX_PAGES) {
			err_set_answer(e, aws_s3.label, "ListObjectVersions",
				       "more than %d pages of answers: giving up",
				       S3_MAX_PAGES);
			rc = -1;
			break;
		}
		rc = s3_prepare_list_versions(ctx, &call, bucket, prefix, NULL,
					      key_marker, version_marker);
		if (rc < 0) {
			err_set(e, ERR_NOMEM, "out of memory");
			aws_call_release(&call);
			break;
		}
		free(prev_key);
		free(prev_version);
		prev_key = key_marker;
		prev_version = version_marker;
		key_marker = version_marker = NULL;
		rc = aws_perform_one(ctx, &call, e);
		if (rc == 0)
			rc = s3_parse_versions_page(buf_str(&call.resp.body),
						    call.resp.body.len, out,
						    &truncated, &key_marker,
						    &version_marker, e);
		if (rc == 0 && truncated &&
		    !markers_progress(prev_key, prev_version, key_marker,
				      version_marker)) {
			err_set_answer(e, aws_s3.label, "ListObjectVersions",
				       "the answer's NextKeyMarker and "
				       "NextVersionIdMarker do not move past "
				       "the page before: the listing would "
				       "never end");
			rc = -1;
		}
		aws_call_release(&call);
	}
	free(key_marker);
	free(version_marker);
	free(prev_key);
	free(prev_version);
	return rc;
}

int s3_parse_tagging(const struct aws_response *resp, struct aws_headers *tags,
		     struct err *e)
{
	static const char op[] = "GetObjectTagging";
	struct xml_doc *doc = xml_parse(buf_str(&resp->body), resp->body.len);
	struct xml_node *root = xml_root(doc);
	struct xml_node *set = xml_child(root, "TagSet");
	if (!root || strcmp(xml_name(root), "Tagging") != 0 || !set) {
		xml_free(doc);
		err_set_answer(e, aws_s3.label, op,
			       "the answer is not a Tagging with a TagSet");
		return -1;
	}
	int rc = 0;
	const char *why = NULL;
	size_t had = tags->n;
	for (struct xml_node *t = xml_child(set, "Tag"); t && rc == 0;
	     t = xml_next(t, "Tag")) {
		char *k = xml_child_text(t, "Key");
		char *v = xml_child_text(t, "Value");
		if (!k || !*k || !v)
			why = "the answer has a Tag without Key or Value";
		else if (aws_headers_add(tags, k, v) < 0)
			why = "out of memory";
		rc = why ? -1 : 0;
		free(k);
		free(v);
	}
	xml_free(doc);
	if (rc < 0) {
		while (tags->n > had) {
			tags->n--;
			free(tags->items[tags->n].name);
			free(tags->items[tags->n].value);
		}
		err_set_answer(e, aws_s3.label, op, "%s", why);
	}
	return rc;
}
