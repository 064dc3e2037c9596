/* The AWS request layer over libcurl: signs each attempt, sends many
 * requests at once over reused connections, retries what AWS says to retry
 * with exponential backoff and full jitter, and turns error answers into one
 * struct err. */
#ifndef SSMBAK_HTTP_H
#define SSMBAK_HTTP_H

#include <stddef.h>

#include "aws.h"
#include "retry.h"

/* Private to http.c; in the call so a batch needs no side tables. */
struct http_attempt {
	void *easy;
	void *slist;
	double not_before; /* monotonic seconds: backoff until then */
	double started;    /* monotonic seconds: the first attempt began */
	int retry_cost;    /* quota tokens the last retry took */
	bool active;
	bool done;
	bool redirected; /* sent again to the bucket's region (once) */
};

struct aws_call {
	struct aws_request req;
	struct aws_response resp;
	struct err err;       /* set when the call finally failed */
	int attempts;
	void *user;
	struct http_attempt attempt;
};

struct http_client;

/* Requests in flight at once in a batch (and connections per host). */
#define HTTP_DEFAULT_CONCURRENCY 16

struct http_client *http_client_new(struct err *e);
void http_client_free(struct http_client *c);
void http_client_set_concurrency(struct http_client *c, int n);
void http_client_set_max_attempts(struct http_client *c, int n);
/* The retry mode and attempts, as the SDKs read them: AWS_RETRY_MODE, else
 * the profile's retry_mode, else standard; AWS_MAX_ATTEMPTS, else the
 * profile's max_attempts, else the mode's default (3; legacy 5). NULL for
 * an unset profile setting. -1 with an ERR_CONFIG line for a value that is
 * not a mode or a number from 1 to 100. */
int http_client_configure_retries(struct http_client *c, const char *retry_mode,
				  const char *max_attempts, struct err *e);
/* A command's own default mode, used unless AWS_RETRY_MODE or the profile
 * chose one (restore writes SSM, 3 PutParameter a second by default: only
 * adaptive mode's client-side rate limit gets 1,000 writes through). */
void http_client_prefer_retry_mode(struct http_client *c, enum retry_mode mode);
enum retry_mode http_client_retry_mode(const struct http_client *c);
int http_client_max_attempts(const struct http_client *c);
/* Total seconds a single attempt may take (connect included). */
void http_client_set_timeout(struct http_client *c, long connect_ms,
			     long total_ms);

/* Told after each call of a batch ends: done of total. */
typedef void (*http_progress_fn)(size_t done, size_t total, void *user);
/* NULL fn: no reports. */
void http_client_set_progress(struct http_client *c, http_progress_fn fn,
			      void *user);

/* One finished call, as -vv shows it: never a value, never a header. */
struct http_call_report {
	const char *service;   /* "SSM" */
	const char *operation; /* "GetParameter" */
	long status;           /* the last answer's HTTP status; 0: none */
	int retries;           /* attempts after the first */
	double seconds;        /* from the first attempt to the end */
	bool failed;
};
typedef void (*http_trace_fn)(const struct http_call_report *r, void *user);
/* Told once per call when it ends, after its last attempt; NULL: no
 * reports. */
void http_client_set_trace(struct http_client *c, http_trace_fn fn,
			   void *user);

void aws_call_init(struct aws_call *call, const struct aws_service *svc,
		   const char *operation, const char *method);
void aws_call_release(struct aws_call *call);
/* Makes a finished call ready to run again as it was prepared (each
 * attempt is signed anew). */
void aws_call_reset(struct aws_call *call);

/* Runs every call to its end, concurrently. Returns how many failed; each
 * failed call has its err set. A 2xx answer is success. */
size_t aws_perform(struct aws_ctx *ctx, struct aws_call **calls, size_t n);
/* One call; 0 on success, -1 with *e set (a copy of call->err). */
int aws_perform_one(struct aws_ctx *ctx, struct aws_call *call, struct err *e);

/* Exposed for tests: whether an answer (status + error code) or a curl
 * failure is worth another try (the backoff is retry_backoff_seconds). */
bool http_is_retryable(long status, const char *code, int curl_code);
/* Decodes an AWS error answer into *e (code, message, request id). */
void http_decode_error(const struct aws_request *req,
		       const struct aws_response *resp, struct err *e);

/* Once per process, before any thread; idempotent. Loads no OpenSSL
 * configuration file: the binary must not depend on the build machine's. */
int http_global_init(struct err *e);

#endif
