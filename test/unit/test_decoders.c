/* The answer decoders against answers of the wrong shape: each case one
 * answer and the one line it must fail with (or succeed), so that an
 * answer which says nothing is never taken for an empty one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/aws.h"
#include "../../lib/http.h"
#include "../../lib/s3.h"
#include "../../lib/ssm.h"
#include "../../lib/ssm_event.h"
#include "unit.h"

static const char *line_of(const struct err *e, int rc, char *line, size_t size)
{
	if (rc == 0)
		return "ok";
	return err_line(e, line, size);
}

static void get_parameters_cases(void)
{
	static const char request[] = "{\"Names\":[\"/a\",\"/b\",\"/a\"]}";
	static const struct {
		const char *answer, *want;
		size_t found, missing;
	} cases[] = {
		{ "{\"Parameters\":[{\"Name\":\"/a\",\"Type\":\"String\",\"Value\":\"1\","
		  "\"Version\":2}],\"InvalidParameters\":[\"/b\"]}", "ok", 1, 1 },
		{ "{\"Parameters\":[{\"Name\":\"/a\",\"Type\":\"String\",\"Value\":\"1\"},"
		  "{\"Name\":\"/b\",\"Type\":\"String\",\"Value\":\"\"}]}", "ok", 2, 0 },
		{ "{}", "SSM GetParameters: the answer has Parameters missing", 0, 0 },
		{ "[]", "SSM GetParameters: the answer is not a JSON object", 0, 0 },
		{ "{\"Parameters\":{}}",
		  "SSM GetParameters: the answer has Parameters that is not a list", 0, 0 },
		{ "{\"Parameters\":[],\"InvalidParameters\":\"/a\"}",
		  "SSM GetParameters: the answer has InvalidParameters that is not a list", 0, 0 },
		{ "{\"Parameters\":[],\"InvalidParameters\":[\"/a\"]}",
		  "SSM GetParameters: the answer accounts for 1 names of the 2 asked for", 0, 0 },
		{ "{\"Parameters\":[],\"InvalidParameters\":[\"/a\",7]}",
		  "SSM GetParameters: entry 1 of the answer's InvalidParameters is not a name",
		  0, 0 },
		{ "{\"Parameters\":[{\"Name\":\"/a\",\"Type\":\"String\"}],"
		  "\"InvalidParameters\":[\"/b\"]}",
		  "SSM GetParameters: entry 0 of the answer's Parameters lacks Name, Type or "
		  "Value or has a member of the wrong type", 0, 0 },
		{ "{\"Parameters\":[{\"Name\":\"/a\",\"Type\":\"String\",\"Value\":\"1\","
		  "\"Version\":\"2\"}],\"InvalidParameters\":[\"/b\"]}",
		  "SSM GetParameters: entry 0 of the answer's Parameters lacks Name, Type or "
		  "Value or has a member of the wrong type", 0, 0 },
		{ "{\"Parameters\":[{\"Name\":\"\",\"Type\":\"String\",\"Value\":\"1\"}],"
		  "\"InvalidParameters\":[\"/b\"]}",
		  "SSM GetParameters: entry 0 of the answer's Parameters lacks Name, Type or "
		  "Value or has a member of the wrong type", 0, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct aws_call call;
		struct err e = { 0 };
		struct ssm_parameter_list found = { 0 }, missing = { 0 };
		char line[ERR_LINE_MAX], label[64];
		aws_call_init(&call, &aws_ssm, "GetParameters", "POST");
		buf_puts(&call.req.body, request);
		buf_puts(&call.resp.body, cases[i].answer);
		int rc = ssm_parse_get_parameters(&call, &found, &missing, &e);
		snprintf(label, sizeof(label), "GetParameters case %zu", i);
		EXPECT_STR(label, cases[i].want, line_of(&e, rc, line, sizeof(line)));
		EXPECT_LONG(label, (long)cases[i].found, (long)found.n);
		EXPECT_LONG(label, (long)cases[i].missing, (long)missing.n);
		ssm_parameter_list_release(&found);
		ssm_parameter_list_release(&missing);
		aws_call_release(&call);
	}
}

static void metadata_carries_no_value(void)
{
	struct aws_call call;
	struct err e = { 0 };
	struct ssm_parameter_list out = { 0 };
	char *next = NULL;
	aws_call_init(&call, &aws_ssm, "DescribeParameters", "POST");
	buf_puts(&call.resp.body, "{\"Parameters\":[{\"Name\":\"/a\",\"Type\":\"String\","
		 "\"Value\":\"not metadata\"}]}");
	EXPECT_LONG("DescribeParameters with a Value", 0,
		    ssm_parse_parameters_page(&call, &out, &next, &e));
	EXPECT_TRUE("the Value is not read", out.n == 1 && !out.items[0].value);
	ssm_parameter_list_release(&out);
	aws_call_release(&call);
}

static void parameters_page_cases(void)
{
	static const struct {
		const char *operation, *answer, *want, *next;
	} cases[] = {
		{ "DescribeParameters", "{\"Parameters\":[{\"Name\":\"/a\",\"Type\":\"String\"}],"
		  "\"NextToken\":\"t\"}", "ok", "t" },
		{ "DescribeParameters", "{\"Parameters\":[],\"NextToken\":\"\"}", "ok", NULL },
		{ "DescribeParameters", "{}",
		  "SSM DescribeParameters: the answer has Parameters missing", NULL },
		{ "DescribeParameters", "{\"Parameters\":[],\"NextToken\":5}",
		  "SSM DescribeParameters: the answer has a NextToken that is not a string", NULL },
		{ "GetParameterHistory", "{\"Parameters\":[{\"Name\":\"/a\",\"Type\":\"String\"}]}",
		  "SSM GetParameterHistory: entry 0 of the answer's Parameters lacks Name, "
		  "Type or Value or has a member of the wrong type", NULL },
		{ "DescribeParameters", "{\"Parameters\":[{\"Name\":\"/a\",\"Type\":\"String\","
		  "\"LastModifiedDate\":1.7E82}]}",
		  "SSM DescribeParameters: entry 0 of the answer's Parameters lacks Name, "
		  "Type or has a member of the wrong type", NULL },
		{ "GetParameterHistory", "{\"Parameters\":[{\"Name\":\"/a\",\"Type\":\"String\","
		  "\"Value\":\"v\",\"LastModifiedDate\":\"yesterday\"}]}",
		  "SSM GetParameterHistory: entry 0 of the answer's Parameters lacks Name, "
		  "Type or Value or has a member of the wrong type", NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct aws_call call;
		struct err e = { 0 };
		struct ssm_parameter_list out = { 0 };
		char line[ERR_LINE_MAX], label[64], *next = NULL;
		aws_call_init(&call, &aws_ssm, cases[i].operation, "POST");
		buf_puts(&call.resp.body, cases[i].answer);
		int rc = ssm_parse_parameters_page(&call, &out, &next, &e);
		snprintf(label, sizeof(label), "parameters page case %zu", i);
		EXPECT_STR(label, cases[i].want, line_of(&e, rc, line, sizeof(line)));
		EXPECT_STR(label, cases[i].next ? cases[i].next : "(none)", next ? next : "(none)");
		if (rc < 0)
			EXPECT_LONG(label, 0, (long)out.n);
		free(next);
		ssm_parameter_list_release(&out);
		aws_call_release(&call);
	}
}

#define VERSION_OK "<Version><Key>k</Key><VersionId>v</VersionId><IsLatest>true</IsLatest>" \
	"<LastModified>2024-06-13T01:54:26.000Z</LastModified><Size>3</Size></Version>"

static void versions_page_cases(void)
{
	static const struct {
		const char *xml, *want;
	} cases[] = {
		{ "<ListVersionsResult>" VERSION_OK "<IsTruncated>false</IsTruncated>"
		  "</ListVersionsResult>", "ok" },
		{ "<ListVersionsResult>" VERSION_OK "</ListVersionsResult>",
		  "S3 ListObjectVersions: the answer has no IsTruncated true or false" },
		{ "<ListVersionsResult><IsTruncated>yes</IsTruncated></ListVersionsResult>",
		  "S3 ListObjectVersions: the answer has no IsTruncated true or false" },
		{ "<ListVersionsResult><IsTruncated>true</IsTruncated></ListVersionsResult>",
		  "S3 ListObjectVersions: the answer is truncated but has no NextKeyMarker" },
		{ "<ListBucketResult/>", "S3 ListObjectVersions: the answer is not a ListVersionsResult" },
		{ "<!DOCTYPE r [<!ENTITY a \"aaaa\">]><ListVersionsResult><IsTruncated>false"
		  "</IsTruncated><Version><Key>&a;</Key></Version></ListVersionsResult>",
		  "S3 ListObjectVersions: the answer is not a ListVersionsResult" },
		{ "<ListVersionsResult><Version><Key>k</Key><VersionId>v</VersionId>"
		  "<LastModified>2024-06-13T01:54:26Z</LastModified><Size>-1</Size></Version>"
		  "<IsTruncated>false</IsTruncated></ListVersionsResult>",
		  "S3 ListObjectVersions: an entry whose Size is not a number" },
		{ "<ListVersionsResult><Version><Key>k</Key><VersionId>v</VersionId>"
		  "<LastModified>2024-06-13T01:54:26Z</LastModified><IsLatest>1</IsLatest>"
		  "</Version><IsTruncated>false</IsTruncated></ListVersionsResult>",
		  "S3 ListObjectVersions: an entry whose IsLatest is not true or false" },
		{ "<ListVersionsResult><Version><Key></Key><VersionId>v</VersionId>"
		  "<LastModified>2024-06-13T01:54:26Z</LastModified></Version>"
		  "<IsTruncated>false</IsTruncated></ListVersionsResult>",
		  "S3 ListObjectVersions: an entry without a Key" },
		{ "<ListVersionsResult><DeleteMarker><Key>k</Key><VersionId>v</VersionId>"
		  "<LastModified>soon</LastModified></DeleteMarker>"
		  "<IsTruncated>false</IsTruncated></ListVersionsResult>",
		  "S3 ListObjectVersions: an entry without a valid LastModified" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct s3_version_list out = { 0 };
		struct err e = { 0 };
		bool truncated;
		char *km, *vm, line[ERR_LINE_MAX], label[64];
		int rc = s3_parse_versions_page(cases[i].xml, strlen(cases[i].xml), &out,
						&truncated, &km, &vm, &e);
		snprintf(label, sizeof(label), "versions page case %zu", i);
		EXPECT_STR(label, cases[i].want, line_of(&e, rc, line, sizeof(line)));
		if (rc < 0)
			EXPECT_TRUE(label, out.n == 0 && !km && !vm);
		free(km);
		free(vm);
		s3_version_list_release(&out);
	}
}

static void endpoint_cases(void)
{
	static const struct {
		const char *endpoint, *path, *origin, *want;
	} cases[] = {
		{ "https://ssm.us-east-1.amazonaws.com", "/", "https://ssm.us-east-1.amazonaws.com", "/" },
		{ "http://127.0.0.1:4566", "/b/k", "http://127.0.0.1:4566", "/b/k" },
		{ "http://h:8080/prefix", "/", "http://h:8080", "/prefix" },
		{ "http://h:8080/prefix", "/b//app/x", "http://h:8080", "/prefix/b//app/x" },
		{ "http://h/a/b", "/bucket/", "http://h", "/a/b/bucket/" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct aws_request req = { 0 };
		char label[64];
		snprintf(label, sizeof(label), "endpoint case %zu", i);
		EXPECT_LONG(label, 0, aws_request_set_target(&req, cases[i].endpoint, cases[i].path));
		EXPECT_STR(label, cases[i].origin, req.origin);
		EXPECT_STR(label, cases[i].want, req.path);
		free(req.origin);
		free(req.path);
	}
}

static void event_cases(void)
{
#define EVENT(detail) "{\"detail-type\":\"Parameter Store Change\"," \
	"\"time\":\"2024-06-13T01:54:26Z\",\"detail\":" detail "}"
	static const struct {
		const char *json, *error;
	} cases[] = {
		{ EVENT("{\"name\":\"/a/b\",\"operation\":\"Update\",\"type\":\"String\"}"), "" },
		{ EVENT("{\"name\":\"/a b\",\"operation\":\"Update\"}"),
		  "event detail.name is not a parameter name: it has characters a "
		  "parameter name cannot have (letters, digits and _ . - / only)" },
		{ EVENT("{\"name\":\"/a//b\",\"operation\":\"Update\"}"),
		  "event detail.name is not a parameter name: it has an empty level (//)" },
		{ EVENT("{\"name\":\"/a\",\"operation\":\"Update\",\"type\":5}"),
		  "event detail.type is not a string" },
		{ EVENT("{\"name\":7,\"operation\":\"Update\"}"),
		  "event lacks time, detail.name or detail.operation" },
	};
#undef EVENT
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ssm_event_batch b;
		struct err e = { 0 };
		char label[64];
		snprintf(label, sizeof(label), "event case %zu", i);
		EXPECT_LONG(label, 0, ssm_event_batch_parse(cases[i].json, strlen(cases[i].json),
							    &b, &e));
		EXPECT_STR(label, cases[i].error, b.items[0].error);
		ssm_event_batch_release(&b);
	}
}

/* The event's own id tells a gap apart from the key's others of that
 * second (FORMAT.md, "Gaps"); an event without one still parses. */
static void event_id_cases(void)
{
	static const char with_id[] =
		"{\"id\":\"6a7e8feb-b491-4cf7-a9f1-bf3703467718\","
		"\"detail-type\":\"Parameter Store Change\","
		"\"time\":\"2024-06-13T01:54:26Z\","
		"\"detail\":{\"name\":\"/a\",\"operation\":\"Update\"}}";
	static const char without_id[] =
		"{\"detail-type\":\"Parameter Store Change\","
		"\"time\":\"2024-06-13T01:54:26Z\","
		"\"detail\":{\"name\":\"/a\",\"operation\":\"Update\"}}";
	struct ssm_event_batch b;
	struct err e = { 0 };
	EXPECT_LONG("event id parses", 0,
		    ssm_event_batch_parse(with_id, strlen(with_id), &b, &e));
	EXPECT_STR("event id kept", "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
		   b.items[0].event_id);
	ssm_event_batch_release(&b);
	EXPECT_LONG("no event id parses", 0,
		    ssm_event_batch_parse(without_id, strlen(without_id), &b, &e));
	EXPECT_TRUE("no event id is NULL", b.items[0].event_id == NULL);
	ssm_event_batch_release(&b);
}

/* https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-run-lambda-schedule.html */
static void scheduled_event_cases(void)
{
	static const struct {
		const char *json;
		bool scheduled;
	} cases[] = {
		{ "{\"version\":\"0\",\"detail-type\":\"Scheduled Event\","
		  "\"source\":\"aws.events\",\"time\":\"2026-12-02T19:00:00Z\","
		  "\"resources\":[\"arn:aws:events:us-east-1:1:rule/r\"],\"detail\":{}}",
		  true },
		{ "{\"detail-type\":\"Scheduled Event\",\"source\":\"app.fake\"}", false },
		{ "{\"detail-type\":\"Parameter Store Change\",\"source\":\"aws.events\"}",
		  false },
		{ "{\"Records\":[]}", false },
		{ "not json", false },
		{ "[\"Scheduled Event\"]", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char label[64];
		snprintf(label, sizeof(label), "scheduled event case %zu", i);
		EXPECT_TRUE(label, ssm_event_is_scheduled(cases[i].json,
							  strlen(cases[i].json)) ==
					   cases[i].scheduled);
	}
}

void test_decoders(void)
{
	event_id_cases();
	scheduled_event_cases();
	event_cases();
	metadata_carries_no_value();
	get_parameters_cases();
	parameters_page_cases();
	versions_page_cases();
	endpoint_cases();
}
