#include "aws.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../sigv4.h"
#include "config.h"
#include "creds.h"
#include "http.h"
#include "tls.h"
#include "imds.h"

const struct aws_service aws_s3 = { "s3", "s3", "S3", "S3",
				    AWS_PROTOCOL_REST_XML };
const struct aws_service aws_ssm = { "ssm", "ssm", "SSM", "SSM",
				     AWS_PROTOCOL_JSON };
const struct aws_service aws_sts = { "sts", "sts", "STS", "STS",
				     AWS_PROTOCOL_QUERY };
const struct aws_service aws_cloudformation = {
	"cloudformation", "cloudformation", "CloudFormation", "CLOUDFORMATION",
	AWS_PROTOCOL_QUERY
};
const struct aws_service aws_sqs = { "sqs", "sqs", "SQS", "SQS",
				     AWS_PROTOCOL_QUERY };
const struct aws_service aws_lambda = { "lambda", "lambda", "Lambda", "LAMBDA",
					AWS_PROTOCOL_REST_JSON };
const struct aws_service aws_logs = { "logs", "logs", "CloudWatch Logs",
				      "CLOUDWATCH_LOGS", AWS_PROTOCOL_JSON };
const struct aws_service aws_events = { "events", "events", "EventBridge",
					"EVENTBRIDGE", AWS_PROTOCOL_JSON };
/* IAM Identity Center's portal and OIDC: portal.sso.REGION.amazonaws.com,
 * oidc.REGION.amazonaws.com; AWS_ENDPOINT_URL_SSO and _SSO_OIDC, as
 * botocore names them from the service ids "SSO" and "SSO OIDC". */
const struct aws_service aws_sso = { "portal.sso", "awsssoportal", "SSO",
				     "SSO", AWS_PROTOCOL_REST_JSON };
const struct aws_service aws_sso_oidc = { "oidc", "sso-oauth", "SSO OIDC",
					  "SSO_OIDC", AWS_PROTOCOL_REST_JSON };
const struct aws_service aws_organizations = {
	"organizations", "organizations", "Organizations", "ORGANIZATIONS",
	AWS_PROTOCOL_JSON
};

int aws_headers_add(struct aws_headers *h, const char *name, const char *value)
{
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 8;
		struct aws_header *items = realloc(h->items, cap * sizeof(*items));
		if (!items)
			return -1;
		h->items = items;
		h->cap = cap;
	}
	char *n = strdup(name), *v = strdup(value);
	if (!n || !v) {
		free(n);
		free(v);
		return -1;
	}
	h->items[h->n++] = (struct aws_header){ n, v };
	return 0;
}

const char *aws_headers_get(const struct aws_headers *h, const char *name)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcasecmp(h->items[i].name, name) == 0)
			return h->items[i].value;
	return NULL;
}

void aws_headers_release(struct aws_headers *h)
{
	for (size_t i = 0; i < h->n; i++) {
		free(h->items[i].name);
		free(h->items[i].value);
	}
	free(h->items);
	memset(h, 0, sizeof(*h));
}

void aws_request_init(struct aws_request *r, const struct aws_service *svc,
		      const char *operation, const char *method)
{
	memset(r, 0, sizeof(*r));
	r->service = svc;
	r->operation = operation;
	r->method = method;
	buf_init(&r->body, 0);
}

void aws_request_release(struct aws_request *r)
{
	free(r->origin);
	free(r->path);
	free(r->query);
	free(r->region);
	free(r->bucket);
	aws_headers_release(&r->headers);
	/* Request bodies carry parameter values: wipe before freeing. */
	if (r->body.data)
		memset(r->body.data, 0, r->body.cap);
	buf_release(&r->body);
	r->origin = r->path = r->query = r->region = r->bucket = NULL;
}

void aws_response_init(struct aws_response *r)
{
	memset(r, 0, sizeof(*r));
	buf_init(&r->body, 0);
}

void aws_response_release(struct aws_response *r)
{
	if (r->body.data)
		memset(r->body.data, 0, r->body.cap);
	buf_release(&r->body);
	aws_headers_release(&r->headers);
	r->status = 0;
}

char *aws_uri_encode(const char *s, bool keep_slash)
{
	return sigv4_uri_encode(s, strlen(s), keep_slash);
}

char *aws_uri_decode(const char *s, bool plus_is_space)
{
	char *out = strdup(s);
	if (!out)
		return NULL;
	/* '+' first: a "%2B" must still decode to a plus. */
	for (char *p = out; plus_is_space && *p; p++)
		if (*p == '+')
			*p = ' ';
	out[sigv4_percent_decode(out, strlen(out))] = '\0';
	return out;
}

static const char *nonempty_env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

bool aws_region_is_valid(const char *r)
{
	if (!*r || strlen(r) > 32)
		return false;
	for (; *r; r++)
		if (!(islower((unsigned char)*r) || isdigit((unsigned char)*r) ||
		      *r == '-'))
			return false;
	return true;
}

/* --region, AWS_REGION, AWS_DEFAULT_REGION, the profile's region, then
 * the instance's own region from IMDS (as the SDKs do on EC2). */
static int resolve_region(struct aws_ctx *ctx, const struct aws_options *opts,
			  const struct config *cfg, struct err *e)
{
	static const struct {
		const char *env;
		const char *source;
	} envs[] = { { "AWS_REGION", "AWS_REGION" },
		     { "AWS_DEFAULT_REGION", "AWS_DEFAULT_REGION" } };
	const char *region = opts->region;
	char *from_imds = NULL;
	ctx->region_source = "--region";
	for (size_t i = 0; !region && i < 2; i++) {
		region = nonempty_env(envs[i].env);
		ctx->region_source = envs[i].source;
	}
	if (!region) {
		region = config_get(cfg, ctx->profile ? ctx->profile
						      : "default", "region");
		ctx->region_source = "profile";
	}
	if (!region && !imds_disabled()) {
		struct err ignored;
		if (imds_region(&from_imds, &ignored) == 0 && *from_imds)
			region = from_imds;
		ctx->region_source = "instance metadata";
	}
	if (!region) {
		err_set(e, ERR_CONFIG,
			"no region: give --region, set AWS_REGION, or set "
			"region in your profile in ~/.aws/config");
		return -1;
	}
	int rc = -1;
	if (!aws_region_is_valid(region))
		err_set(e, ERR_CONFIG,
			"region '%.64s' (from %s) is not a region name (like "
			"us-east-1)", region, ctx->region_source);
	else if (!(ctx->region = strdup(region)))
		err_set(e, ERR_NOMEM, "out of memory");
	else
		rc = 0;
	free(from_imds);
	return rc;
}

int aws_ctx_init(struct aws_ctx *ctx, const struct aws_options *opts,
		 struct err *e)
{
	memset(ctx, 0, sizeof(*ctx));
	struct config cfg;
	const char *profile = opts->profile ? opts->profile
					    : nonempty_env("AWS_PROFILE");
	if (profile && !(ctx->profile = strdup(profile))) {
		err_set(e, ERR_NOMEM, "out of memory");
		return -1;
	}
	if (config_load(&cfg, e) < 0)
		goto fail;
	const char *endpoint_url = config_get(
		&cfg, profile ? profile : "default", "endpoint_url");
	tls_use_profile_bundle(
		config_get(&cfg, profile ? profile : "default", "ca_bundle"));
	if ((profile && config_require_profile(&cfg, profile, e) < 0) ||
	    resolve_region(ctx, opts, &cfg, e) < 0)
		goto fail_cfg;
	if (endpoint_url && *endpoint_url &&
	    !(ctx->endpoint_url = strdup(endpoint_url))) {
		err_set(e, ERR_NOMEM, "out of memory");
		goto fail_cfg;
	}
	ctx->creds = creds_chain_new(&cfg, ctx->profile, opts->profile != NULL,
				     ctx->region, ctx->endpoint_url, e);
	if (!ctx->creds || !(ctx->http = http_client_new(e)) ||
	    http_client_configure_retries(
		    ctx->http,
		    config_get(&cfg, profile ? profile : "default", "retry_mode"),
		    config_get(&cfg, profile ? profile : "default", "max_attempts"),
		    e) < 0)
		goto fail_cfg;
	config_release(&cfg);
	return 0;
fail_cfg:
	config_release(&cfg);
fail:
	aws_ctx_release(ctx);
	return -1;
}

void aws_ctx_release(struct aws_ctx *ctx)
{
	http_client_free(ctx->http);
	creds_provider_free(ctx->creds);
	free(ctx->region);
	free(ctx->profile);
	free(ctx->endpoint_url);
	free(ctx->bucket_owner);
	free(ctx->bucket_region);
	free(ctx->bucket_region_of);
	memset(ctx, 0, sizeof(*ctx));
}

static char *trimmed_endpoint(const char *url)
{
	size_t len = strlen(url);
	while (len && url[len - 1] == '/')
		len--;
	return strndup(url, len);
}

int aws_request_set_target(struct aws_request *req, const char *endpoint,
			   const char *path)
{
	const char *authority = strstr(endpoint, "://");
	authority = authority ? authority + 3 : endpoint;
	const char *prefix = authority + strcspn(authority, "/?#");
	size_t prefix_len = strcspn(prefix, "?#");
	/* aws_endpoint trimmed the trailing slashes already. */
	while (prefix_len && prefix[prefix_len - 1] == '/')
		prefix_len--;
	free(req->origin);
	free(req->path);
	req->path = NULL;
	req->origin = strndup(endpoint, (size_t)(prefix - endpoint));
	if (!req->origin)
		return -1;
	if (prefix_len == 0)
		req->path = strdup(path);
	else if (strcmp(path, "/") == 0)
		req->path = strndup(prefix, prefix_len);
	else if (asprintf(&req->path, "%.*s%s", (int)prefix_len, prefix,
			  path) < 0)
		req->path = NULL;
	return req->path ? 0 : -1;
}

char *aws_endpoint(const struct aws_ctx *ctx, const struct aws_service *svc,
		   bool *custom)
{
	char name[64];
	snprintf(name, sizeof(name), "AWS_ENDPOINT_URL_%s", svc->env_suffix);
	const char *url = nonempty_env(name);
	if (!url)
		url = nonempty_env("AWS_ENDPOINT_URL");
	if (!url)
		url = nonempty_env("AWS_ENDPOINT");
	if (!url)
		url = ctx->endpoint_url;
	if (url) {
		*custom = true;
		return trimmed_endpoint(url);
	}
	*custom = false;
	const char *suffix = strncmp(ctx->region, "cn-", 3) == 0
				     ? "amazonaws.com.cn"
				     : "amazonaws.com";
	char *out = NULL;
	if (asprintf(&out, "https://%s.%s.%s", svc->id, ctx->region, suffix) < 0)
		return NULL;
	return out;
}

const char *aws_bucket_region(const struct aws_ctx *ctx, const char *bucket)
{
	if (ctx->bucket_region && bucket &&
	    strcmp(bucket, ctx->bucket_region_of) == 0)
		return ctx->bucket_region;
	return ctx->region;
}

int aws_ctx_copy_bucket_region(struct aws_ctx *dst, const struct aws_ctx *src)
{
	if (!src->bucket_region)
		return 0;
	free(dst->bucket_region);
	free(dst->bucket_region_of);
	dst->bucket_region = strdup(src->bucket_region);
	dst->bucket_region_of = strdup(src->bucket_region_of);
	memcpy(dst->bucket_region_source, src->bucket_region_source,
	       sizeof(dst->bucket_region_source));
	return dst->bucket_region && dst->bucket_region_of ? 0 : -1;
}
