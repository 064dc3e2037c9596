/* The request layer's pure parts: what is retried, how long to wait, and
 * how an error answer becomes one line. */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/http.h"
#include "unit.h"

static void test_retryable(void)
{
	static const struct {
		long status;
		const char *code;
		int curl_code;
		bool want;
	} cases[] = {
		{ 400, "ThrottlingException", CURLE_OK, true },
		{ 400, "Throttling", CURLE_OK, true },
		{ 503, "SlowDown", CURLE_OK, true },
		{ 400, "TooManyUpdates", CURLE_OK, true },
		{ 500, "InternalError", CURLE_OK, true },
		{ 500, "InternalServerError", CURLE_OK, true },
		{ 502, "", CURLE_OK, true },
		{ 504, "", CURLE_OK, true },
		{ 429, "", CURLE_OK, true },
		{ 400, "ExpiredToken", CURLE_OK, true },
		{ 0, NULL, CURLE_RECV_ERROR, true },
		{ 0, NULL, CURLE_SEND_ERROR, true },
		{ 0, NULL, CURLE_GOT_NOTHING, true },
		{ 0, NULL, CURLE_COULDNT_CONNECT, true },
		{ 0, NULL, CURLE_OPERATION_TIMEDOUT, true },
		{ 0, NULL, CURLE_PEER_FAILED_VERIFICATION, false },
		{ 400, "ParameterNotFound", CURLE_OK, false },
		{ 400, "ValidationException", CURLE_OK, false },
		{ 403, "AccessDenied", CURLE_OK, false },
		{ 404, "NoSuchKey", CURLE_OK, false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char label[128];
		snprintf(label, sizeof(label), "retry %ld %s curl %d", cases[i].status,
			 cases[i].code ? cases[i].code : "-", cases[i].curl_code);
		EXPECT_TRUE(label, http_is_retryable(cases[i].status, cases[i].code,
						     cases[i].curl_code) == cases[i].want);
	}
}

/* Standard mode: t = random * min(base * 2^(retry-1), 20 s), base 0.1 s, or
 * 0.5 s after throttling (the SDK reference's 20 s cap; the JavaScript v3
 * SDK's base delays). */
static void test_backoff(void)
{
	static const struct {
		enum retry_mode mode;
		int retry;
		bool throttled;
		double random01, want;
	} cases[] = {
		{ RETRY_STANDARD, 1, false, 0.0, 0.0 },  /* full jitter: may not wait */
		{ RETRY_STANDARD, 1, false, 1.0, 0.1 },  /* base 100 ms */
		{ RETRY_STANDARD, 2, false, 0.5, 0.1 },
		{ RETRY_STANDARD, 3, false, 1.0, 0.4 },
		{ RETRY_STANDARD, 1, true, 1.0, 0.5 },   /* throttled: base 500 ms */
		{ RETRY_STANDARD, 2, true, 0.5, 0.5 },
		{ RETRY_STANDARD, 6, true, 1.0, 16.0 },
		{ RETRY_STANDARD, 7, true, 1.0, 20.0 },  /* max backoff 20 s */
		{ RETRY_STANDARD, 40, false, 0.5, 10.0 },
		{ RETRY_ADAPTIVE, 2, true, 0.25, 0.25 }, /* as standard */
		{ RETRY_LEGACY, 1, true, 1.0, 0.1 },     /* no throttling base */
		{ RETRY_LEGACY, 3, false, 1.0, 0.4 },
		{ RETRY_LEGACY, 30, false, 1.0, 20.0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char label[96];
		snprintf(label, sizeof(label), "backoff %s retry %d%s random %.2f",
			 retry_mode_name(cases[i].mode), cases[i].retry,
			 cases[i].throttled ? " throttled" : "", cases[i].random01);
		double got = retry_backoff_seconds(cases[i].mode, cases[i].retry,
						   cases[i].throttled, cases[i].random01);
		EXPECT_TRUE(label, got > cases[i].want - 1e-9 && got < cases[i].want + 1e-9);
	}
}

static void test_retry_modes(void)
{
	static const struct {
		const char *text;
		bool ok;
		enum retry_mode mode;
		int attempts;
	} cases[] = {
		{ "standard", true, RETRY_STANDARD, 3 },
		{ "adaptive", true, RETRY_ADAPTIVE, 3 },
		{ "legacy", true, RETRY_LEGACY, 5 },
		{ "Standard", false, RETRY_STANDARD, 0 },
		{ "", false, RETRY_STANDARD, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum retry_mode mode = RETRY_STANDARD;
		char label[64];
		snprintf(label, sizeof(label), "retry mode '%s'", cases[i].text);
		EXPECT_TRUE(label, retry_mode_parse(cases[i].text, &mode) == cases[i].ok);
		if (cases[i].ok)
			EXPECT_LONG(label, cases[i].attempts, retry_default_max_attempts(mode));
	}
}

/* 500 tokens; a retry takes 5, 10 after a timeout; a success gives back
 * what its retry took, or 1 when it needed none. */
static void test_retry_quota(void)
{
	struct retry_quota q;
	retry_quota_init(&q);
	EXPECT_LONG("quota starts full", 500, q.tokens);
	EXPECT_LONG("a retry costs 5", 5, retry_quota_take(&q, false));
	EXPECT_LONG("after a timeout 10", 10, retry_quota_take(&q, true));
	EXPECT_LONG("left", 485, q.tokens);
	retry_quota_success(&q, 10);
	EXPECT_LONG("the retry's cost comes back", 495, q.tokens);
	retry_quota_success(&q, 0);
	retry_quota_success(&q, 0);
	EXPECT_LONG("one for a success without retry", 497, q.tokens);
	for (int i = 0; i < 10; i++)
		retry_quota_success(&q, 0);
	EXPECT_LONG("never above 500", 500, q.tokens);
	int retries = 0;
	while (retry_quota_take(&q, false))
		retries++;
	EXPECT_LONG("100 retries empty it", 100, retries);
	EXPECT_LONG("then none", 0, retry_quota_take(&q, true));
	retry_quota_success(&q, 0);
	EXPECT_LONG("still not enough for a retry", 0, retry_quota_take(&q, false));
}

/* Adaptive mode: off until throttled; then the rate drops to 0.7 of what
 * was being sent and grows back along the cubic curve. */
static void test_retry_limiter(void)
{
	struct retry_limiter l;
	double t = 1000.0;
	retry_limiter_init(&l, t);
	EXPECT_TRUE("no limit before throttling", retry_limiter_acquire(&l, t) == 0);
	for (int i = 0; i < 200; i++) {     /* 100 answers a second for 2 s */
		t += 0.01;
		retry_limiter_update(&l, false, t);
	}
	EXPECT_TRUE("measures about 100 a second",
		    l.measured_rate > 90 && l.measured_rate < 110);
	retry_limiter_update(&l, true, t);
	EXPECT_TRUE("enabled by a throttle", l.enabled);
	EXPECT_TRUE("multiplicative decrease to 0.7",
		    l.fill_rate > 0.7 * 90 && l.fill_rate < 0.7 * 110);
	int started = 0;
	double wait = 0;
	for (int i = 0; i < 1000 && (wait = retry_limiter_acquire(&l, t)) == 0; i++)
		started++;
	EXPECT_TRUE("a burst of at most one second's rate", started >= 1 &&
							    started <= (int)l.capacity + 1);
	EXPECT_TRUE("then a wait of about one token",
		    wait > 0 && wait <= 1.0 / l.fill_rate + 1e-9);
	double low = l.fill_rate;
	for (int i = 0; i < 300; i++) {
		t += 0.01;
		retry_limiter_update(&l, false, t);
	}
	EXPECT_TRUE("recovers after throttling stops", l.fill_rate > low);
	struct retry_limiter slow;
	retry_limiter_init(&slow, 0);
	retry_limiter_update(&slow, true, 0.1);
	EXPECT_TRUE("never below half a request a second", slow.fill_rate >= 0.5);
	EXPECT_TRUE("throttling codes", retry_is_throttling(400, "ThrottlingException") &&
					    retry_is_throttling(503, "SlowDown") &&
					    retry_is_throttling(429, "") &&
					    !retry_is_throttling(500, "InternalError"));
}

/* AWS_RETRY_MODE / AWS_MAX_ATTEMPTS win over the profile's retry_mode /
 * max_attempts; each defaults as the SDKs do. */
static void test_retry_configuration(void)
{
	static const struct {
		const char *env_mode, *env_attempts, *profile_mode, *profile_attempts;
		int rc;
		enum retry_mode mode;
		int attempts;
		const char *message_part;
	} cases[] = {
		{ NULL, NULL, NULL, NULL, 0, RETRY_STANDARD, 3, NULL },
		{ NULL, NULL, "legacy", NULL, 0, RETRY_LEGACY, 5, NULL },
		{ NULL, NULL, "adaptive", "7", 0, RETRY_ADAPTIVE, 7, NULL },
		{ "standard", NULL, "legacy", NULL, 0, RETRY_STANDARD, 3, NULL },
		{ NULL, "2", NULL, "9", 0, RETRY_STANDARD, 2, NULL },
		{ "fast", NULL, NULL, NULL, -1, 0, 0, "'fast' (from AWS_RETRY_MODE)" },
		{ NULL, NULL, "fast", NULL, -1, 0, 0, "(from retry_mode in the profile)" },
		{ NULL, "0", NULL, NULL, -1, 0, 0, "'0' (from AWS_MAX_ATTEMPTS)" },
		{ NULL, NULL, NULL, "x", -1, 0, 0, "'x' (from max_attempts in the profile)" },
	};
	char *saved_mode = getenv("AWS_RETRY_MODE") ? strdup(getenv("AWS_RETRY_MODE")) : NULL;
	char *saved_attempts =
		getenv("AWS_MAX_ATTEMPTS") ? strdup(getenv("AWS_MAX_ATTEMPTS")) : NULL;
	unsetenv("AWS_RETRY_MODE");
	unsetenv("AWS_MAX_ATTEMPTS");
	struct err e = { 0 };
	struct http_client *c = http_client_new(&e);
	EXPECT_TRUE("a client", c != NULL);
	for (size_t i = 0; c && i < sizeof(cases) / sizeof(cases[0]); i++) {
		char label[96];
		snprintf(label, sizeof(label), "retry configuration case %zu", i);
		if (cases[i].env_mode)
			setenv("AWS_RETRY_MODE", cases[i].env_mode, 1);
		if (cases[i].env_attempts)
			setenv("AWS_MAX_ATTEMPTS", cases[i].env_attempts, 1);
		err_clear(&e);
		int rc = http_client_configure_retries(c, cases[i].profile_mode,
						       cases[i].profile_attempts, &e);
		EXPECT_LONG(label, cases[i].rc, rc);
		if (rc == 0) {
			EXPECT_STR(label, retry_mode_name(cases[i].mode),
				   retry_mode_name(http_client_retry_mode(c)));
			EXPECT_LONG(label, cases[i].attempts, http_client_max_attempts(c));
		}
		if (cases[i].message_part)
			EXPECT_TRUE(label, e.kind == ERR_CONFIG &&
						   strstr(e.message, cases[i].message_part));
		unsetenv("AWS_RETRY_MODE");
		unsetenv("AWS_MAX_ATTEMPTS");
	}
	http_client_free(c);
	if (saved_mode)
		setenv("AWS_RETRY_MODE", saved_mode, 1);
	if (saved_attempts)
		setenv("AWS_MAX_ATTEMPTS", saved_attempts, 1);
	free(saved_mode);
	free(saved_attempts);
}

static void decode(const struct aws_service *svc, long status, const char *body,
		   const char *header, const char *value, char *line, size_t size)
{
	struct aws_call call;
	struct err e = { 0 };
	aws_call_init(&call, svc, "GetParameter", "POST");
	call.resp.status = status;
	buf_puts(&call.resp.body, body);
	if (header)
		aws_headers_add(&call.resp.headers, header, value);
	http_decode_error(&call.req, &call.resp, &e);
	err_line(&e, line, size);
	aws_call_release(&call);
}

static void test_error_lines(void)
{
	char line[ERR_LINE_MAX];
	decode(&aws_ssm, 400,
	       "{\"__type\":\"com.amazonaws.ssm#ParameterNotFound\",\"message\":\"gone\"}",
	       "x-amzn-RequestId", "r-1", line, sizeof(line));
	EXPECT_STR("SSM JSON error", "SSM GetParameter: ParameterNotFound: gone (request id r-1)",
		   line);
	decode(&aws_s3, 503,
	       "<Error><Code>SlowDown</Code><Message>Reduce your rate</Message>"
	       "<RequestId>r-2</RequestId></Error>",
	       NULL, NULL, line, sizeof(line));
	EXPECT_STR("S3 XML error", "S3 GetParameter: SlowDown: Reduce your rate (request id r-2)",
		   line);
	decode(&aws_sts, 403,
	       "<ErrorResponse><Error><Type>Sender</Type><Code>ExpiredToken</Code>"
	       "<Message>expired</Message></Error><RequestId>r-3</RequestId></ErrorResponse>",
	       NULL, NULL, line, sizeof(line));
	EXPECT_STR("query API error", "STS GetParameter: ExpiredToken: expired (request id r-3)",
		   line);
	decode(&aws_s3, 404, "", NULL, NULL, line, sizeof(line));
	EXPECT_STR("HEAD without a body", "S3 GetParameter: NotFound: HTTP status 404", line);
	decode(&aws_lambda, 404, "{\"Message\":\"no such function\"}", "x-amzn-ErrorType",
	       "ResourceNotFoundException:http://internal.amazon.com/", line, sizeof(line));
	EXPECT_STR("REST-JSON error from the header",
		   "Lambda GetParameter: ResourceNotFoundException: no such function", line);
	decode(&aws_ssm, 400, "{\"__type\":\"ValidationException\",\"message\":\"1 validation "
	       "error detected: Value 'hunter2' at 'value' failed to satisfy constraint\"}",
	       NULL, NULL, line, sizeof(line));
	EXPECT_TRUE("a quoted value never reaches the line", strstr(line, "hunter2") == NULL);
	EXPECT_TRUE("the rest of the message stays", strstr(line, "Value '***' at 'value'") != NULL);
	/* A SecureString of 4 KB quoted in an error: the message is longer
	 * than a line holds, so masking must come before the cut. */
	char secret[4097], body[4400];
	memset(secret, 'S', sizeof(secret) - 1);
	secret[sizeof(secret) - 1] = '\0';
	snprintf(body, sizeof(body), "{\"__type\":\"ValidationException\",\"message\":"
		 "\"1 validation error detected: Value '%s' at 'value' failed to satisfy "
		 "constraint: Member must have length less than or equal to 4096\"}", secret);
	decode(&aws_ssm, 400, body, NULL, NULL, line, sizeof(line));
	EXPECT_TRUE("a long quoted value: none of it reaches the line",
		    strstr(line, "SSSS") == NULL);
	EXPECT_TRUE("a long quoted value: the constraint stays",
		    strstr(line, "Value '***' at 'value' failed") != NULL);
	snprintf(body, sizeof(body), "<Error><Code>InvalidArgument</Code><Message>Value '%s' "
		 "at 'x' is bad</Message></Error>", secret);
	decode(&aws_s3, 400, body, NULL, NULL, line, sizeof(line));
	EXPECT_TRUE("a long quoted value in XML: none of it reaches the line",
		    strstr(line, "SSSS") == NULL);
	decode(&aws_ssm, 400, "{\"__type\":\"ValidationException\",\"message\":"
	       "\"Value 'hunter2 and no end\"}", NULL, NULL, line, sizeof(line));
	EXPECT_TRUE("a quote that never closes is masked to the end",
		    strstr(line, "hunter2") == NULL && strstr(line, "no end") == NULL);
	decode(&aws_ssm, 500, "not json", NULL, NULL, line, sizeof(line));
	EXPECT_STR("garbage answer", "SSM GetParameter: InternalError: HTTP status 500", line);
}

static void test_uri_decode(void)
{
	static const struct {
		const char *in;
		bool plus;
		const char *want;
	} cases[] = {
		{ "%2Fapp%2Fx", false, "/app/x" },
		{ "a+b%2Bc", true, "a b+c" },
		{ "a+b%2Bc", false, "a+b+c" },
		{ "%C3%BCn%C3%AF", false, "\xc3\xbcn\xc3\xaf" },
		{ "100%", false, "100%" },
		{ "%zz%4", false, "%zz%4" },
		{ "", true, "" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = aws_uri_decode(cases[i].in, cases[i].plus);
		char label[96];
		snprintf(label, sizeof(label), "decode '%s'%s", cases[i].in,
			 cases[i].plus ? " (form)" : "");
		EXPECT_STR(label, cases[i].want, got);
		free(got);
	}
}

void test_http(void)
{
	test_uri_decode();
	test_retryable();
	test_backoff();
	test_retry_modes();
	test_retry_quota();
	test_retry_limiter();
	test_retry_configuration();
	test_error_lines();
}
