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

static void test_backoff(void)
{
	EXPECT_TRUE("full jitter: no wait at random 0", http_backoff_seconds(1, 0.0) == 0.0);
	EXPECT_TRUE("first retry waits at most 0.1 s", http_backoff_seconds(1, 0.999) < 0.1);
	EXPECT_TRUE("the cap doubles", http_backoff_seconds(3, 0.999) > 0.39 &&
					       http_backoff_seconds(3, 0.999) < 0.4);
	EXPECT_TRUE("capped at 20 s", http_backoff_seconds(30, 0.999) <= 20.0);
	EXPECT_TRUE("and reaches it", http_backoff_seconds(30, 0.999) > 19.9);
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
	test_error_lines();
}
