/* The S3 calls ssmbak makes, as request builders (prepare: fill a call for
 * aws_perform, so many run at once) and answer decoders (parse). */
#ifndef SSMBAK_S3_H
#define SSMBAK_S3_H

#include <stdbool.h>
#include <stddef.h>

#include "aws.h"
#include "http.h"

struct s3_version {
	char *key;
	char *version_id;
	double last_modified; /* Unix seconds, millisecond precision */
	long long size;
	bool is_latest;
	bool delete_marker;
};

struct s3_version_list {
	struct s3_version *items;
	size_t n;
	size_t cap;
};

void s3_version_list_release(struct s3_version_list *l);

/* Pages a listing may take before the server is taken for one that never
 * ends it: 100,000 pages of 1,000 is 100 million versions, far beyond
 * what a parameter store's backup holds (100,000 parameters of at most
 * 100 versions each is 10 million). */
#define S3_MAX_PAGES 100000

/* Every version and delete marker under prefix, in S3's order (by key,
 * newest first within a key), all pages. */
int s3_list_versions(struct aws_ctx *ctx, const char *bucket,
		     const char *prefix, struct s3_version_list *out,
		     struct err *e);
/* One ListObjectVersions page: delimiter (may be NULL) and the markers
 * of the page before (NULL for the first). */
int s3_prepare_list_versions(struct aws_ctx *ctx, struct aws_call *call,
			     const char *bucket, const char *prefix,
			     const char *delimiter, const char *key_marker,
			     const char *version_marker);
/* The CommonPrefixes of a page listed with a delimiter, decoded and in
 * S3's order. Caller frees each and the array. */
int s3_parse_common_prefixes(const char *xml, size_t len, char ***out,
			     size_t *n, struct err *e);
/* One page; *truncated and the next markers tell whether to go on. An
 * answer of the wrong shape fails and adds nothing to out. Exposed for
 * tests of the XML decoding. */
int s3_parse_versions_page(const char *xml, size_t len,
			   struct s3_version_list *out, bool *truncated,
			   char **next_key_marker, char **next_version_marker,
			   struct err *e);

/* Tags as name/value pairs. */
int s3_prepare_get_tagging(struct aws_ctx *ctx, struct aws_call *call,
			   const char *bucket, const char *key,
			   const char *version_id);
int s3_parse_tagging(const struct aws_response *resp, struct aws_headers *tags,
		     struct err *e);

int s3_prepare_get_object(struct aws_ctx *ctx, struct aws_call *call,
			  const char *bucket, const char *key,
			  const char *version_id);
/* tagging: already URL-encoded "k=v&k2=v2" or NULL; metadata: names
 * without the x-amz-meta- prefix, values already header-safe. */
int s3_prepare_put_object(struct aws_ctx *ctx, struct aws_call *call,
			  const char *bucket, const char *key,
			  const void *body, size_t len, const char *tagging,
			  const struct aws_headers *metadata);
int s3_prepare_delete_object(struct aws_ctx *ctx, struct aws_call *call,
			     const char *bucket, const char *key);
int s3_prepare_bucket_call(struct aws_ctx *ctx, struct aws_call *call,
			   const char *method, const char *operation,
			   const char *bucket, const char *query);

/* GetBucketVersioning's Status: S3_VERSIONING_NEVER when the answer has
 * no Status (a bucket whose versioning was never enabled answers an empty
 * VersioningConfiguration), else Enabled or Suspended.
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketVersioning.html */
enum s3_versioning {
	S3_VERSIONING_NEVER,
	S3_VERSIONING_ENABLED,
	S3_VERSIONING_SUSPENDED,
};

int s3_parse_versioning(const char *xml, size_t len, enum s3_versioning *out,
			struct err *e);
/* The bucket format needs every change kept (FORMAT.md, "The bucket"):
 * a bucket whose versioning is not Enabled is ERR_CONFIG, with a message
 * naming the bucket and the command that fixes it; so is a bucket that
 * does not exist. */
int s3_require_versioning(struct aws_ctx *ctx, const char *bucket,
			  struct err *e);

/* Looks up a user metadata value of a GetObject/HeadObject answer by its
 * name without the x-amz-meta- prefix. */
const char *s3_metadata(const struct aws_response *resp, const char *name);

/* Bucket names that can be a host name label: no dots, DNS-safe. */
bool s3_bucket_is_virtual_host_safe(const char *bucket);
bool s3_bucket_name_is_valid(const char *bucket);

#endif
