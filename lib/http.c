#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/ssl.h>

#include "../sigv4.h"
#include "creds.h"
#include "s3_region.h"
#include "tls.h"
#include "util.h"
#include "xml.h"

/* Adaptive mode limits each service on its own, as each SDK client (one a
 * service) does: SSM throttling must not slow S3 down. */
#define HTTP_MAX_LIMITED_SERVICES 16
struct service_limiter {
	const struct aws_service *service;
	struct retry_limiter limiter;
};

struct http_client {
	CURLM *multi;
	CURL **idle;
	size_t n_idle;
	size_t cap_idle;
	int concurrency;
	int max_attempts;
	enum retry_mode retry_mode;
	bool retry_mode_chosen;   /* by AWS_RETRY_MODE or the profile */
	bool max_attempts_chosen; /* by AWS_MAX_ATTEMPTS or the profile */
	struct retry_quota quota;
	struct service_limiter limiters[HTTP_MAX_LIMITED_SERVICES];
	size_t n_limiters;
	long connect_ms;
	long total_ms;
	struct sigv4_key_cache key_cache;
	http_progress_fn progress;
	void *progress_user;
	http_trace_fn trace;
	void *trace_user;
};

int http_global_init(struct err *e)
{
	static bool done;
	if (done)
		return 0;
	/* Before curl's own init, so that its later request to load the
	 * configuration finds the once-only step already taken. */
	if (!OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_CONFIG, NULL) ||
	    curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		err_set(e, ERR_SYSTEM, "could not initialise TLS and HTTP");
		return -1;
	}
	done = true;
	return 0;
}

static double monotonic_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *nonempty(const char *v)
{
	return v && *v ? v : NULL;
}

int http_client_configure_retries(struct http_client *c, const char *retry_mode,
				  const char *max_attempts, struct err *e)
{
	const char *mode_env = nonempty(getenv("AWS_RETRY_MODE"));
	const char *mode_text = mode_env ? mode_env : nonempty(retry_mode);
	enum retry_mode mode = RETRY_STANDARD;
	if (mode_text && !retry_mode_parse(mode_text, &mode)) {
		err_set(e, ERR_CONFIG,
			"retry mode '%.32s' (from %s) is not standard, legacy "
			"or adaptive", mode_text,
			mode_env ? "AWS_RETRY_MODE" : "retry_mode in the profile");
		return -1;
	}
	const char *attempts_env = nonempty(getenv("AWS_MAX_ATTEMPTS"));
	const char *attempts_text = attempts_env ? attempts_env
						 : nonempty(max_attempts);
	int attempts = retry_default_max_attempts(mode);
	if (attempts_text) {
		char *end;
		long n = strtol(attempts_text, &end, 10);
		if (*end || n < 1 || n > 100) {
			err_set(e, ERR_CONFIG,
				"max attempts '%.32s' (from %s) is not a number "
				"from 1 to 100", attempts_text,
				attempts_env ? "AWS_MAX_ATTEMPTS"
					     : "max_attempts in the profile");
			return -1;
		}
		attempts = (int)n;
	}
	c->retry_mode = mode;
	c->max_attempts = attempts;
	c->retry_mode_chosen = mode_text != NULL;
	c->max_attempts_chosen = attempts_text != NULL;
	return 0;
}

void http_client_prefer_retry_mode(struct http_client *c, enum retry_mode mode)
{
	if (c->retry_mode_chosen)
		return;
	c->retry_mode = mode;
	if (!c->max_attempts_chosen)
		c->max_attempts = retry_default_max_attempts(mode);
}

enum retry_mode http_client_retry_mode(const struct http_client *c)
{
	return c->retry_mode;
}

int http_client_max_attempts(const struct http_client *c)
{
	return c->max_attempts;
}

struct http_client *http_client_new(struct err *e)
{
	if (http_global_init(e) < 0)
		return NULL;
	struct http_client *c = calloc(1, sizeof(*c));
	if (!c || !(c->multi = curl_multi_init())) {
		free(c);
		err_set(e, ERR_NOMEM, "out of memory");
		return NULL;
	}
	c->concurrency = HTTP_DEFAULT_CONCURRENCY;
	retry_quota_init(&c->quota);
	if (http_client_configure_retries(c, NULL, NULL, e) < 0) {
		http_client_free(c);
		return NULL;
	}
	c->connect_ms = 5000;
	c->total_ms = 60000;
	http_client_set_concurrency(c, c->concurrency);
	return c;
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_idle; i++)
		curl_easy_cleanup(c->idle[i]);
	free(c->idle);
	curl_multi_cleanup(c->multi);
	OPENSSL_cleanse(&c->key_cache, sizeof(c->key_cache));
	free(c);
}

void http_client_set_concurrency(struct http_client *c, int n)
{
	c->concurrency = n < 1 ? 1 : n;
	curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
			  (long)c->concurrency);
	curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS,
			  (long)c->concurrency * 2);
}

void http_client_set_max_attempts(struct http_client *c, int n)
{
	c->max_attempts = n < 1 ? 1 : n;
}

void http_client_set_progress(struct http_client *c, http_progress_fn fn,
			      void *user)
{
	c->progress = fn;
	c->progress_user = user;
}

void http_client_set_trace(struct http_client *c, http_trace_fn fn,
			   void *user)
{
	c->trace = fn;
	c->trace_user = user;
}

void http_client_set_timeout(struct http_client *c, long connect_ms,
			     long total_ms)
{
	c->connect_ms = connect_ms;
	c->total_ms = total_ms;
}

void aws_call_init(struct aws_call *call, const struct aws_service *svc,
		   const char *operation, const char *method)
{
	memset(call, 0, sizeof(*call));
	aws_request_init(&call->req, svc, operation, method);
	aws_response_init(&call->resp);
}

void aws_call_release(struct aws_call *call)
{
	aws_request_release(&call->req);
	aws_response_release(&call->resp);
}

void aws_call_reset(struct aws_call *call)
{
	aws_response_release(&call->resp);
	aws_response_init(&call->resp);
	memset(&call->err, 0, sizeof(call->err));
	memset(&call->attempt, 0, sizeof(call->attempt));
	call->attempts = 0;
}

static double random01(void)
{
	unsigned int r;
	if (getrandom(&r, sizeof(r), 0) != sizeof(r))
		r = (unsigned int)rand();
	return (double)r / 4294967296.0;
}

/* The codes AWS's SDKs retry: throttling and transient service errors.
 * https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html */
static const char *const retryable_codes[] = {
	"Throttling", "ThrottlingException", "ThrottledException",
	"RequestThrottledException", "TooManyRequestsException",
	"ProvisionedThroughputExceededException", "TransactionInProgressException",
	"RequestLimitExceeded", "BandwidthLimitExceeded", "LimitExceededException",
	"RequestThrottled", "SlowDown", "PriorRequestNotComplete",
	"EC2ThrottledException", "TooManyUpdates", "RequestTimeout",
	"RequestTimeoutException", "InternalError", "InternalFailure",
	"InternalServerError", "ServiceUnavailable", "IDPCommunicationError",
	"ExpiredToken", "ExpiredTokenException",
};

bool http_is_retryable(long status, const char *code, int curl_code)
{
	switch (curl_code) {
	case CURLE_OK:
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_PARTIAL_FILE:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
	if (status == 429 || status == 500 || status == 502 || status == 503 ||
	    status == 504)
		return true;
	for (size_t i = 0; code && i < sizeof(retryable_codes) /
						sizeof(retryable_codes[0]);
	     i++)
		if (strcmp(code, retryable_codes[i]) == 0)
			return true;
	return false;
}

static size_t on_body(char *data, size_t size, size_t n, void *user)
{
	struct aws_call *call = user;
	return buf_append(&call->resp.body, data, size * n) < 0 ? 0 : size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *user)
{
	struct aws_call *call = user;
	size_t len = size * n;
	if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		/* A new status line (after 100 Continue): start afresh. */
		aws_headers_release(&call->resp.headers);
		return len;
	}
	const char *colon = memchr(data, ':', len);
	if (!colon)
		return len;
	char *name = strndup(data, (size_t)(colon - data));
	const char *v = colon + 1, *end = data + len;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' ||
			   end[-1] == ' ' || end[-1] == '\t'))
		end--;
	char *value = strndup(v, (size_t)(end - v));
	int rc = name && value ? aws_headers_add(&call->resp.headers, name, value)
			       : -1;
	free(name);
	free(value);
	return rc < 0 ? 0 : len;
}

/* "https://host:443" signs as "host", like the SDKs, because the port is
 * implied; any other port is part of the host. */
static char *host_of_origin(const char *origin)
{
	const char *p = strstr(origin, "://");
	p = p ? p + 3 : origin;
	size_t len = strcspn(p, "/");
	char *host = strndup(p, len);
	if (!host)
		return NULL;
	size_t hl = strlen(host);
	bool https = strncmp(origin, "https:", 6) == 0;
	const char *default_port = https ? ":443" : ":80";
	size_t pl = strlen(default_port);
	if (hl > pl && strcmp(host + hl - pl, default_port) == 0)
		host[hl - pl] = '\0';
	return host;
}

static void amz_date_now(char out[17])
{
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

static struct curl_slist *slist_add(struct curl_slist *list, bool *ok,
				    const char *name, const char *value)
{
	if (!*ok)
		return list;
	char *line = NULL;
	if (asprintf(&line, "%s: %s", name, value) < 0) {
		*ok = false;
		return list;
	}
	struct curl_slist *next = curl_slist_append(list, line);
	free(line);
	if (!next)
		*ok = false;
	return next ? next : list;
}

/* Builds the header list for one attempt, signed with the credentials of
 * the moment (they may have been refreshed since the last attempt). */
static int sign_attempt(struct http_client *c, struct aws_ctx *ctx,
			struct aws_call *call, struct curl_slist **out)
{
	struct aws_request *req = &call->req;
	const struct aws_credentials *creds = NULL;
	char amz_date[17], payload_hash[SIGV4_HASH_HEX_LEN + 1];
	char *host = host_of_origin(req->origin);
	struct curl_slist *list = NULL;
	bool ok = host != NULL;

	if (!req->anonymous && creds_get(ctx->creds, &creds, &call->err) < 0) {
		free(host);
		return -1;
	}
	amz_date_now(amz_date);
	sigv4_sha256_hex(buf_str(&req->body), req->body.len, payload_hash);

	size_t n = 0;
	struct sigv4_header *sh =
		calloc(req->headers.n + 4, sizeof(struct sigv4_header));
	ok = ok && sh;
	if (ok) {
		sh[n++] = (struct sigv4_header){ "host", host };
		sh[n++] = (struct sigv4_header){ "x-amz-date", amz_date };
		if (req->service->protocol == AWS_PROTOCOL_REST_XML)
			sh[n++] = (struct sigv4_header){ "x-amz-content-sha256",
							 payload_hash };
		if (creds && creds->session_token)
			sh[n++] = (struct sigv4_header){ "x-amz-security-token",
							 creds->session_token };
		for (size_t i = 0; i < req->headers.n; i++)
			sh[n++] = (struct sigv4_header){
				req->headers.items[i].name,
				req->headers.items[i].value
			};
		for (size_t i = 0; i < n; i++)
			list = slist_add(list, &ok, sh[i].name, sh[i].value);
	}
	if (ok && creds) {
		struct sigv4_request sreq = { req->method, req->path, req->query,
					      sh, n, payload_hash };
		struct sigv4_scope scope = { amz_date,
					     req->region ? req->region
							 : ctx->region,
					     req->service->signing_name };
		enum sigv4_path_rule rule =
			req->service->protocol == AWS_PROTOCOL_REST_XML
				? SIGV4_PATH_S3
				: SIGV4_PATH_NORMALIZE_ENCODE;
		char *auth = sigv4_authorization(&sreq, rule, &scope,
						 creds->access_key_id,
						 creds->secret_access_key,
						 &c->key_cache);
		ok = auth != NULL;
		list = slist_add(list, &ok, "Authorization", auth ? auth : "");
		free(auth);
	}
	/* No 100-continue round trip, and no header curl would add unsigned
	 * that changes what S3 stores. */
	list = slist_add(list, &ok, "Expect", "");
	if (ok && !aws_headers_get(&req->headers, "content-type")) {
		struct curl_slist *next = curl_slist_append(list, "Content-Type:");
		ok = next != NULL;
		list = next ? next : list;
	}
	free(sh);
	free(host);
	if (!ok) {
		curl_slist_free_all(list);
		err_set(&call->err, ERR_NOMEM, "out of memory signing request");
		return -1;
	}
	*out = list;
	return 0;
}

static CURL *take_easy(struct http_client *c)
{
	if (c->n_idle) {
		CURL *easy = c->idle[--c->n_idle];
		curl_easy_reset(easy);
		return easy;
	}
	return curl_easy_init();
}

static void give_back_easy(struct http_client *c, CURL *easy)
{
	if (c->n_idle == c->cap_idle) {
		size_t cap = c->cap_idle ? c->cap_idle * 2 : 8;
		CURL **idle = realloc(c->idle, cap * sizeof(*idle));
		if (!idle) {
			curl_easy_cleanup(easy);
			return;
		}
		c->idle = idle;
		c->cap_idle = cap;
	}
	c->idle[c->n_idle++] = easy;
}

static char *request_url(const struct aws_request *req)
{
	char *url = NULL;
	bool has_query = req->query && *req->query;
	if (asprintf(&url, "%s%s%s%s", req->origin, req->path,
		     has_query ? "?" : "", has_query ? req->query : "") < 0)
		return NULL;
	return url;
}

static int configure_easy(struct http_client *c, CURL *easy,
			  struct aws_call *call, struct curl_slist *headers)
{
	struct aws_request *req = &call->req;
	char *url = request_url(req);
	if (!url)
		return -1;
	CURLcode rc = curl_easy_setopt(easy, CURLOPT_URL, url);
	free(url);
	if (rc != CURLE_OK || tls_use_ca_certificates(easy) != CURLE_OK)
		return -1;
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, call);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "ssmbak/" SSMBAK_VERSION);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, call);
	curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, call);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, c->connect_ms);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, c->total_ms);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	if (req->head) {
		curl_easy_setopt(easy, CURLOPT_NOBODY, 1L);
	} else if (strcmp(req->method, "POST") == 0 ||
		   strcmp(req->method, "PUT") == 0) {
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, buf_str(&req->body));
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)req->body.len);
		curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, req->method);
	} else if (strcmp(req->method, "GET") != 0) {
		curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, req->method);
	}
	return 0;
}

/* An S3 request prepared before this run learned its bucket's region
 * (another of the batch was told it) goes there: signed for it and, on
 * AWS's own endpoints, sent to its host. */
static int aim_at_bucket_region(struct aws_ctx *ctx, struct aws_request *req)
{
	if (!req->bucket || !req->region)
		return 0;
	const char *region = aws_bucket_region(ctx, req->bucket);
	if (strcmp(region, req->region) == 0)
		return 0;
	char *copy = strdup(region);
	char *origin = req->addressing == AWS_S3_CUSTOM
			       ? NULL
			       : s3_regional_origin(region,
						    req->addressing == AWS_S3_VIRTUAL
							    ? req->bucket
							    : NULL);
	if (!copy || (req->addressing != AWS_S3_CUSTOM && !origin)) {
		free(copy);
		free(origin);
		return -1;
	}
	free(req->region);
	req->region = copy;
	if (origin) {
		free(req->origin);
		req->origin = origin;
	}
	return 0;
}

static int start_attempt(struct http_client *c, struct aws_ctx *ctx,
			 struct aws_call *call)
{
	struct curl_slist *headers = NULL;
	if (call->attempts == 0)
		call->attempt.started = monotonic_seconds();
	call->attempts++;
	buf_clear(&call->resp.body);
	aws_headers_release(&call->resp.headers);
	call->resp.status = 0;
	err_clear(&call->err);
	if (aim_at_bucket_region(ctx, &call->req) < 0) {
		err_set(&call->err, ERR_NOMEM, "out of memory");
		err_context(&call->err, call->req.service->label,
			    call->req.operation);
		return -1;
	}
	if (sign_attempt(c, ctx, call, &headers) < 0) {
		err_context(&call->err, call->req.service->label,
			    call->req.operation);
		return -1;
	}
	CURL *easy = take_easy(c);
	if (!easy || configure_easy(c, easy, call, headers) < 0 ||
	    curl_multi_add_handle(c->multi, easy) != CURLM_OK) {
		if (easy)
			curl_easy_cleanup(easy);
		curl_slist_free_all(headers);
		err_set(&call->err, ERR_NOMEM, "could not set up the request");
		err_context(&call->err, call->req.service->label,
			    call->req.operation);
		return -1;
	}
	call->attempt.easy = easy;
	call->attempt.slist = headers;
	call->attempt.active = true;
	return 0;
}

static struct retry_limiter *limiter_for(struct http_client *c,
					 const struct aws_service *service)
{
	for (size_t i = 0; i < c->n_limiters; i++)
		if (c->limiters[i].service == service)
			return &c->limiters[i].limiter;
	size_t at = c->n_limiters < HTTP_MAX_LIMITED_SERVICES
			    ? c->n_limiters++
			    : HTTP_MAX_LIMITED_SERVICES - 1;
	c->limiters[at].service = service;
	retry_limiter_init(&c->limiters[at].limiter, monotonic_seconds());
	return &c->limiters[at].limiter;
}

/* What the retry mode learns from an answer: adaptive mode adjusts its
 * sending rate to every answer; a success gives the retry quota back what
 * the call's last retry took (or one token when it needed none). */
static void note_answer(struct http_client *c, struct aws_call *call, bool ok,
			bool throttled)
{
	if (c->retry_mode == RETRY_ADAPTIVE)
		retry_limiter_update(limiter_for(c, call->req.service), throttled,
				     monotonic_seconds());
	if (ok && c->retry_mode != RETRY_LEGACY)
		retry_quota_success(&c->quota, call->attempt.retry_cost);
}

/* Standard and adaptive modes retry only while the quota pays for it
 * (5 tokens, 10 after a timeout); legacy mode has no quota. */
static bool pay_for_retry(struct http_client *c, struct aws_call *call,
			  CURLcode result)
{
	if (c->retry_mode == RETRY_LEGACY)
		return true;
	call->attempt.retry_cost =
		retry_quota_take(&c->quota, result == CURLE_OPERATION_TIMEDOUT);
	return call->attempt.retry_cost > 0;
}

/* S3 refused the request for its region and named the bucket's: this run
 * sends every request for the bucket there from now on. Once a call: a
 * second refusal (a bucket that moved twice, or a server that names the
 * region it was asked for) is the error it says. CreateBucket's refusals
 * are about where to create, not where a bucket is. */
static bool learn_bucket_region(struct aws_ctx *ctx, struct aws_call *call)
{
	struct aws_request *req = &call->req;
	char region[S3_REGION_MAX + 1];
	if (!req->bucket || !req->region || call->attempt.redirected ||
	    strcmp(req->operation, "CreateBucket") == 0 ||
	    !s3_region_hint(call->resp.status, &call->resp.headers,
			    buf_str(&call->resp.body), call->resp.body.len,
			    region) ||
	    strcmp(region, req->region) == 0)
		return false;
	call->attempt.redirected = true;
	if (strcmp(aws_bucket_region(ctx, req->bucket), region) == 0)
		return true; /* another call of the batch learned it first */
	char *copy = strdup(region), *of = strdup(req->bucket);
	if (!copy || !of) {
		free(copy);
		free(of);
		return false;
	}
	free(ctx->bucket_region);
	free(ctx->bucket_region_of);
	ctx->bucket_region = copy;
	ctx->bucket_region_of = of;
	snprintf(ctx->bucket_region_source, sizeof(ctx->bucket_region_source),
		 "%s of S3's %ld answer to %s",
		 aws_headers_get(&call->resp.headers, "x-amz-bucket-region")
			 ? "x-amz-bucket-region"
			 : "the Region",
		 call->resp.status, req->operation);
	log_msg(LOG_INFO, "bucket %s is in region %s, not %s (from %s): its "
		"requests go there", of, copy, req->region,
		ctx->bucket_region_source);
	return true;
}

/* Refused again after going to the bucket's region: a custom S3 endpoint
 * (AWS_ENDPOINT_URL_S3, ...) is one region's and is never changed, so
 * the message says which region the bucket wants. */
static void explain_kept_endpoint(struct aws_call *call)
{
	struct err *e = &call->err;
	size_t len = strlen(e->message);
	if (!call->attempt.redirected || call->req.addressing != AWS_S3_CUSTOM ||
	    call->resp.status != 301)
		return;
	snprintf(e->message + len, sizeof(e->message) - len,
		 " (the bucket is in %s: the S3 endpoint URL given is kept, so "
		 "give that region's)", call->req.region);
}

/* Settles one finished attempt: success, a retry to schedule, or failure.
 * Returns true when the call needs another try. */
static bool settle_attempt(struct http_client *c, struct aws_ctx *ctx,
			   struct aws_call *call, CURLcode result)
{
	CURL *easy = call->attempt.easy;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &call->resp.status);
	curl_multi_remove_handle(c->multi, easy);
	give_back_easy(c, easy);
	curl_slist_free_all(call->attempt.slist);
	call->attempt.easy = NULL;
	call->attempt.slist = NULL;
	call->attempt.active = false;

	bool retry;
	if (result != CURLE_OK) {
		err_set(&call->err, ERR_NETWORK, "%s (%s)",
			curl_easy_strerror(result), call->req.origin);
		err_context(&call->err, call->req.service->label,
			    call->req.operation);
		retry = http_is_retryable(0, NULL, (int)result);
	} else if (call->resp.status >= 200 && call->resp.status < 300) {
		note_answer(c, call, true, false);
		return false;
	} else if (learn_bucket_region(ctx, call)) {
		/* Not a retry: no backoff, no quota, no attempt counted. */
		call->attempts--;
		return true;
	} else {
		http_decode_error(&call->req, &call->resp, &call->err);
		explain_kept_endpoint(call);
		retry = http_is_retryable(call->resp.status, call->err.code, 0);
		if (strncmp(call->err.code, "ExpiredToken", 12) == 0)
			creds_invalidate(ctx->creds);
	}
	note_answer(c, call, false,
		    result == CURLE_OK &&
			    retry_is_throttling(call->resp.status, call->err.code));
	call->err.retryable = retry;
	return retry && call->attempts < c->max_attempts &&
	       pay_for_retry(c, call, result);
}

struct batch {
	struct aws_call **calls;
	size_t n;
	size_t next_new;
	struct aws_call **retries;
	size_t n_retries;
	int running;
	size_t finished;
	size_t failed;
	double limiter_due; /* adaptive mode: no start before (0: none) */
};

static void finish_call(struct http_client *c, struct batch *b,
			struct aws_call *call, bool failed)
{
	call->attempt.done = true;
	b->finished++;
	if (failed)
		b->failed++;
	if (c->trace) {
		struct http_call_report r = {
			call->req.service->label, call->req.operation,
			call->resp.status,
			call->attempts > 0 ? call->attempts - 1 : 0,
			monotonic_seconds() - call->attempt.started, failed,
		};
		c->trace(&r, c->trace_user);
	}
	if (c->progress)
		c->progress(b->finished, b->n, c->progress_user);
}

/* The next call whose turn it is (a retry past its backoff first, else a
 * new one), left in place; NULL when none. *at is its retry slot, or
 * n_retries for a new call. */
static struct aws_call *peek_ready(const struct batch *b, double now,
				   size_t *at)
{
	for (size_t i = 0; i < b->n_retries; i++) {
		if (b->retries[i]->attempt.not_before <= now) {
			*at = i;
			return b->retries[i];
		}
	}
	*at = b->n_retries;
	return b->next_new < b->n ? b->calls[b->next_new] : NULL;
}

static void take_ready(struct batch *b, size_t at)
{
	if (at < b->n_retries)
		b->retries[at] = b->retries[--b->n_retries];
	else
		b->next_new++;
}

/* Adaptive mode: whether the call's service's rate limiter lets one more
 * attempt start now (else when it will, in b->limiter_due). */
static bool limiter_allows(struct http_client *c, struct batch *b,
			   const struct aws_call *call, double now)
{
	if (c->retry_mode != RETRY_ADAPTIVE)
		return true;
	double wait = retry_limiter_acquire(limiter_for(c, call->req.service),
					    now);
	b->limiter_due = wait > 0 ? now + wait : 0;
	return wait <= 0;
}

static void start_ready(struct http_client *c, struct aws_ctx *ctx,
			struct batch *b)
{
	double now = monotonic_seconds();
	struct aws_call *call;
	size_t at;
	b->limiter_due = 0;
	while (b->running < c->concurrency && (call = peek_ready(b, now, &at)) &&
	       limiter_allows(c, b, call, now)) {
		take_ready(b, at);
		if (start_attempt(c, ctx, call) < 0)
			finish_call(c, b, call, true);
		else
			b->running++;
	}
}

static void collect_done(struct http_client *c, struct aws_ctx *ctx,
			 struct batch *b)
{
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(c->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		struct aws_call *call = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &call);
		CURLcode result = msg->data.result;
		b->running--;
		bool redirected = call->attempt.redirected;
		if (settle_attempt(c, ctx, call, result)) {
			/* Sent to the bucket's region at once; a retry
			 * waits out its backoff. */
			double backoff = retry_backoff_seconds(
				c->retry_mode, call->attempts,
				retry_is_throttling(call->resp.status,
						    call->err.code),
				random01());
			call->attempt.not_before =
				call->attempt.redirected != redirected
					? 0
					: monotonic_seconds() + backoff;
			b->retries[b->n_retries++] = call;
		} else {
			finish_call(c, b, call, call->err.kind != ERR_NONE);
		}
	}
}

static int wait_ms(const struct batch *b)
{
	if (b->n_retries == 0 && b->limiter_due == 0)
		return 1000;
	double now = monotonic_seconds(), soonest = 1.0;
	for (size_t i = 0; i < b->n_retries; i++) {
		double due = b->retries[i]->attempt.not_before - now;
		if (due < soonest)
			soonest = due;
	}
	if (b->limiter_due > 0 && b->limiter_due - now < soonest)
		soonest = b->limiter_due - now;
	return soonest <= 0 ? 0 : (int)(soonest * 1000) + 1;
}

size_t aws_perform(struct aws_ctx *ctx, struct aws_call **calls, size_t n)
{
	struct http_client *c = ctx->http;
	struct batch b = { .calls = calls, .n = n };
	b.retries = calloc(n ? n : 1, sizeof(*b.retries));
	if (!b.retries) {
		for (size_t i = 0; i < n; i++)
			err_set(&calls[i]->err, ERR_NOMEM, "out of memory");
		return n;
	}
	for (size_t i = 0; i < n; i++) {
		calls[i]->attempts = 0;
		calls[i]->attempt = (struct http_attempt){ 0 };
	}
	while (b.finished < n) {
		start_ready(c, ctx, &b);
		if (b.finished == n)
			break;
		int still_running = 0;
		curl_multi_perform(c->multi, &still_running);
		collect_done(c, ctx, &b);
		if (b.finished < n &&
		    (b.running > 0 || b.n_retries > 0 || b.limiter_due > 0))
			curl_multi_poll(c->multi, NULL, 0, wait_ms(&b), NULL);
	}
	free(b.retries);
	return b.failed;
}

int aws_perform_one(struct aws_ctx *ctx, struct aws_call *call, struct err *e)
{
	struct aws_call *calls[] = { call };
	if (aws_perform(ctx, calls, 1) == 0)
		return 0;
	if (e)
		*e = call->err;
	return -1;
}

/* AWS error messages may quote the rejected input ("Value '...' at
 * 'value' failed to satisfy constraint"); a parameter value must never reach
 * a log, so quoted values are masked. This runs on the whole message,
 * before it is cut to fit a line: a quote whose end was cut off would
 * otherwise keep its first few hundred characters. A quote that never
 * closes is masked to the end. */
static void mask_quoted_values(const char *msg, char *out, size_t size)
{
	struct buf masked = BUF_INIT;
	const char *p = msg, *hit;
	while ((hit = strstr(p, "alue '"))) {
		const char *end = strstr(hit + 6, "' at '");
		buf_append(&masked, p, (size_t)(hit + 6 - p));
		buf_puts(&masked, "***");
		p = end ? end : hit + strlen(hit);
	}
	buf_puts(&masked, p);
	snprintf(out, size, "%s", buf_str(&masked));
	buf_release(&masked);
}

static const char *request_id_of(const struct aws_response *resp)
{
	const char *id = aws_headers_get(&resp->headers, "x-amz-request-id");
	if (!id)
		id = aws_headers_get(&resp->headers, "x-amzn-requestid");
	return id ? id : "";
}

static void decode_json_error(const struct aws_response *resp, char *code,
			      size_t code_size, char **message)
{
	json_t *root = json_loadb(buf_str(&resp->body), resp->body.len, 0, NULL);
	const char *type = json_string_value(json_object_get(root, "__type"));
	if (!type)
		type = json_string_value(json_object_get(root, "code"));
	if (!type)
		type = aws_headers_get(&resp->headers, "x-amzn-errortype");
	if (type) {
		/* "com.amazonaws.ssm#ParameterNotFound" or "Name:uri" */
		const char *hash = strrchr(type, '#');
		const char *start = hash ? hash + 1 : type;
		snprintf(code, code_size, "%.*s", (int)strcspn(start, ":"),
			 start);
	}
	const char *msg = json_string_value(json_object_get(root, "message"));
	if (!msg)
		msg = json_string_value(json_object_get(root, "Message"));
	if (!msg)
		msg = json_string_value(json_object_get(root, "errorMessage"));
	if (msg)
		*message = strdup(msg);
	json_decref(root);
}

static void decode_xml_error(const struct aws_response *resp, char *code,
			     size_t code_size, char **message, char *request_id,
			     size_t request_id_size)
{
	struct xml_doc *doc = xml_parse(buf_str(&resp->body), resp->body.len);
	if (!doc)
		return;
	xml_copy_first(doc, "Code", code, code_size);
	/* The message is no longer than the body that holds it. */
	if ((*message = calloc(1, resp->body.len + 1)))
		xml_copy_first(doc, "Message", *message, resp->body.len + 1);
	if (!request_id[0])
		xml_copy_first(doc, "RequestId", request_id, request_id_size);
	xml_free(doc);
}

static const char *code_for_bare_status(long status)
{
	switch (status) {
	case 301: return "PermanentRedirect";
	case 400: return "BadRequest";
	case 403: return "Forbidden";
	case 404: return "NotFound";
	case 405: return "MethodNotAllowed";
	case 409: return "Conflict";
	case 412: return "PreconditionFailed";
	case 429: return "TooManyRequests";
	case 500: return "InternalError";
	case 503: return "ServiceUnavailable";
	default: return "";
	}
}

void http_decode_error(const struct aws_request *req,
		       const struct aws_response *resp, struct err *e)
{
	char code[64] = "", message[512] = "", request_id[80];
	char *full = NULL; /* the whole message, masked before it is cut */
	snprintf(request_id, sizeof(request_id), "%s", request_id_of(resp));

	if (resp->body.len && (req->service->protocol == AWS_PROTOCOL_JSON ||
			       req->service->protocol == AWS_PROTOCOL_REST_JSON))
		decode_json_error(resp, code, sizeof(code), &full);
	else if (resp->body.len)
		decode_xml_error(resp, code, sizeof(code), &full, request_id,
				 sizeof(request_id));
	if (!code[0])
		snprintf(code, sizeof(code), "%s",
			 code_for_bare_status(resp->status));
	if (full && full[0])
		mask_quoted_values(full, message, sizeof(message));
	else
		snprintf(message, sizeof(message), "HTTP status %ld",
			 resp->status);
	free(full);
	err_set_aws(e, req->service->label, req->operation, resp->status, code,
		    message, request_id);
}
