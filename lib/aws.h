/* What every AWS call shares: services, credentials, requests, responses
 * and the per-command context. The request layer is in http.c. */
#ifndef SSMBAK_AWS_H
#define SSMBAK_AWS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "err.h"

/* How a service encodes requests and, above all, errors. */
enum aws_protocol {
	AWS_PROTOCOL_JSON,      /* SSM, CloudWatch Logs: X-Amz-Target */
	AWS_PROTOCOL_QUERY,     /* STS, CloudFormation, SQS: Action=... */
	AWS_PROTOCOL_REST_XML,  /* S3 */
	AWS_PROTOCOL_REST_JSON, /* Lambda */
};

struct aws_service {
	const char *id;           /* endpoint prefix: "ssm" */
	const char *signing_name; /* SigV4 service name */
	const char *label;        /* for messages: "SSM" */
	const char *env_suffix;   /* AWS_ENDPOINT_URL_<suffix> */
	enum aws_protocol protocol;
};

extern const struct aws_service aws_s3, aws_ssm, aws_sts, aws_cloudformation,
	aws_sqs, aws_lambda, aws_logs, aws_events, aws_organizations, aws_sso,
	aws_sso_oidc;

struct aws_credentials {
	char *access_key_id;
	char *secret_access_key;
	char *session_token; /* NULL for long-term keys */
	time_t expiration;   /* 0 for never */
	const char *source;  /* where they came from, for -v; static text */
};

void aws_credentials_clear(struct aws_credentials *c);
int aws_credentials_copy(struct aws_credentials *dst,
			 const struct aws_credentials *src);

struct aws_header {
	char *name;
	char *value;
};

struct aws_headers {
	struct aws_header *items;
	size_t n;
	size_t cap;
};

int aws_headers_add(struct aws_headers *h, const char *name, const char *value);
/* Case-insensitive; NULL when absent. */
const char *aws_headers_get(const struct aws_headers *h, const char *name);
void aws_headers_release(struct aws_headers *h);

struct aws_request {
	const struct aws_service *service;
	const char *operation;   /* static text: "PutObject" */
	const char *method;      /* static text */
	char *origin;            /* "https://ssm.us-east-1.amazonaws.com" */
	char *path;              /* percent-encoded, starts with '/' */
	char *query;             /* percent-encoded, or NULL */
	struct aws_headers headers;
	struct buf body;
	char *region;            /* signed for this region; NULL: the context's */
	/* S3: the bucket the request names (NULL for none), and whether the
	 * origin is AWS's own for the region (rebuilt when S3 says the bucket
	 * is elsewhere; a custom endpoint is kept, only the signing region
	 * changes, as botocore does). */
	char *bucket;
	enum { AWS_S3_CUSTOM, AWS_S3_PATH, AWS_S3_VIRTUAL } addressing;
	bool head;               /* HEAD: no response body */
	bool anonymous;          /* sent unsigned (AssumeRoleWithWebIdentity) */
};

struct aws_response {
	long status;
	struct buf body;
	struct aws_headers headers;
};

void aws_request_init(struct aws_request *r, const struct aws_service *svc,
		      const char *operation, const char *method);
void aws_request_release(struct aws_request *r);
void aws_response_init(struct aws_response *r);
void aws_response_release(struct aws_response *r);

struct creds_provider;
struct http_client;

/* One command's view of AWS: region, credentials, connections. */
struct aws_ctx {
	char *region;
	const char *region_source; /* static text, for -v */
	char *profile;             /* NULL: default */
	char *endpoint_url;        /* the profile's endpoint_url, or NULL */
	struct creds_provider *creds;
	struct http_client *http;
	/* Sent as x-amz-expected-bucket-owner on every S3 request that names
	 * a bucket (NULL: not sent), so a bucket of another account is
	 * refused with 403 instead of used:
	 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html */
	char *bucket_owner;
	/* The region of bucket_region_of, learned from S3's answer to a
	 * request for the wrong one (lib/s3_region.h), once a run; NULL
	 * while no answer said otherwise: the bucket is taken to be in
	 * region. bucket_region_source says from which answer, for -v. */
	char *bucket_region;
	char *bucket_region_of;
	char bucket_region_source[96];
};

struct aws_options {
	const char *region;  /* --region, or NULL */
	const char *profile; /* --profile, or NULL */
};

int aws_ctx_init(struct aws_ctx *ctx, const struct aws_options *opts,
		 struct err *e);
void aws_ctx_release(struct aws_ctx *ctx);

/* Base URL for a service: AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL,
 * AWS_ENDPOINT (the Python ssmbak's variable), the profile's endpoint_url,
 * else AWS's own. *custom tells whether it was overridden, which makes S3
 * use path-style addressing. Returns NULL when out of memory. */
char *aws_endpoint(const struct aws_ctx *ctx, const struct aws_service *svc,
		   bool *custom);

/* Sets req's origin and path from an endpoint (what aws_endpoint gave)
 * and the operation's path ("/" or "/BUCKET/KEY", already encoded). An
 * endpoint's own path is a prefix of every request's path, and is signed
 * with it, as botocore joins them: "http://h/pre" + "/" is "/pre",
 * + "/b/k" is "/pre/b/k". -1 when out of memory. */
int aws_request_set_target(struct aws_request *req, const char *endpoint,
			   const char *path);

/* Region names go into host names: letters, digits and dashes only. */
bool aws_region_is_valid(const char *r);
/* The region S3 requests for bucket are signed for and sent to. */
const char *aws_bucket_region(const struct aws_ctx *ctx, const char *bucket);

/* What src learned of its bucket's region, for a second context on the
 * same bucket (the lease's renewal): it need not be told again. */
int aws_ctx_copy_bucket_region(struct aws_ctx *dst, const struct aws_ctx *src);

/* Percent-encodes for a URL path (keep_slash) or a query component. */
char *aws_uri_encode(const char *s, bool keep_slash);
/* Decodes %XX (and '+' as a space when plus_is_space, as HTML forms and
 * S3's encoding-type=url do); a malformed escape stays as it is. Caller
 * frees; NULL when out of memory. */
char *aws_uri_decode(const char *s, bool plus_is_space);

#endif
