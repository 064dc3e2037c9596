/* S3 answers decoded without a server: GetBucketVersioning's three states
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketVersioning.html:
 * a bucket whose versioning was never enabled answers a configuration
 * without Status). */
#include <stdlib.h>
#include <string.h>

#include "../../lib/s3.h"
#include "../../lib/s3_region.h"
#include "unit.h"

#define NS "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\""

static void test_versioning_answers(void)
{
	static const struct {
		const char *name;
		const char *xml;
		int rc;
		enum s3_versioning want;
	} cases[] = {
		{ "never enabled", "<VersioningConfiguration " NS "/>", 0,
		  S3_VERSIONING_NEVER },
		{ "enabled", "<VersioningConfiguration " NS "><Status>Enabled"
			     "</Status></VersioningConfiguration>", 0,
		  S3_VERSIONING_ENABLED },
		{ "suspended", "<VersioningConfiguration " NS "><Status>Suspended"
			       "</Status><MfaDelete>Disabled</MfaDelete>"
			       "</VersioningConfiguration>", 0,
		  S3_VERSIONING_SUSPENDED },
		{ "unknown status", "<VersioningConfiguration><Status>On</Status>"
				    "</VersioningConfiguration>", -1,
		  S3_VERSIONING_NEVER },
		{ "another document", "<Error><Code>x</Code></Error>", -1,
		  S3_VERSIONING_NEVER },
		{ "not xml", "versioning", -1, S3_VERSIONING_NEVER },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct err e = { 0 };
		enum s3_versioning got = S3_VERSIONING_NEVER;
		int rc = s3_parse_versioning(cases[i].xml, strlen(cases[i].xml),
					     &got, &e);
		EXPECT_LONG(cases[i].name, cases[i].rc, rc);
		if (rc == 0)
			EXPECT_LONG(cases[i].name, cases[i].want, got);
		else
			EXPECT_LONG(cases[i].name, ERR_PARSE, e.kind);
	}
}

/* Which answers name the bucket's region (lib/s3_region.h): S3's
 * refusals for the region, by header or by body. */
static void test_region_hints(void)
{
	static const struct {
		const char *name;
		long status;
		const char *header; /* x-amz-bucket-region, or NULL */
		const char *body;
		const char *want;   /* NULL: no hint */
	} cases[] = {
		{ "HeadBucket 301, bare", 301, "eu-west-1", "", "eu-west-1" },
		{ "HeadBucket 400, bare", 400, "eu-west-1", "", "eu-west-1" },
		{ "403 names it too", 403, "ap-south-1", "", "ap-south-1" },
		{ "PermanentRedirect with header", 301, "eu-west-1",
		  "<Error><Code>PermanentRedirect</Code><Bucket>b</Bucket>"
		  "<Endpoint>b.s3.eu-west-1.amazonaws.com</Endpoint></Error>",
		  "eu-west-1" },
		{ "PermanentRedirect, Region in the body", 301, NULL,
		  "<Error><Code>PermanentRedirect</Code><Region>eu-west-2"
		  "</Region></Error>", "eu-west-2" },
		{ "AuthorizationHeaderMalformed", 400, NULL,
		  "<Error><Code>AuthorizationHeaderMalformed</Code><Message>the "
		  "region 'us-east-1' is wrong; expecting 'eu-west-1'</Message>"
		  "<Region>eu-west-1</Region></Error>", "eu-west-1" },
		{ "another code's Region", 400, NULL,
		  "<Error><Code>InvalidRequest</Code><Region>eu-west-1</Region>"
		  "</Error>", NULL },
		{ "PermanentRedirect without a region", 301, NULL,
		  "<Error><Code>PermanentRedirect</Code></Error>", NULL },
		{ "success", 200, "eu-west-1", "", NULL },
		{ "not found", 404, "eu-west-1", "", NULL },
		{ "a host name is no region", 301, "evil.example/x", "", NULL },
		{ "too long", 400, NULL,
		  "<Error><Code>AuthorizationHeaderMalformed</Code><Region>"
		  "a-region-name-much-longer-than-any-1</Region></Error>", NULL },
		{ "not xml", 400, NULL, "<Error", NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct aws_headers h = { 0 };
		if (cases[i].header)
			aws_headers_add(&h, "X-Amz-Bucket-Region", cases[i].header);
		char got[S3_REGION_MAX + 1] = "";
		bool found = s3_region_hint(cases[i].status, &h, cases[i].body,
					    strlen(cases[i].body), got);
		EXPECT_LONG(cases[i].name, cases[i].want != NULL, found);
		if (found && cases[i].want)
			EXPECT_STR(cases[i].name, cases[i].want, got);
		aws_headers_release(&h);
	}
}

static void test_regional_origins(void)
{
	char *a = s3_regional_origin("eu-west-1", "bkt");
	char *b = s3_regional_origin("eu-west-1", NULL);
	char *c = s3_regional_origin("cn-north-1", "bkt");
	EXPECT_STR("virtual-hosted", "https://bkt.s3.eu-west-1.amazonaws.com", a);
	EXPECT_STR("path style", "https://s3.eu-west-1.amazonaws.com", b);
	EXPECT_STR("China", "https://bkt.s3.cn-north-1.amazonaws.com.cn", c);
	free(a);
	free(b);
	free(c);
}

void test_s3(void)
{
	test_versioning_answers();
	test_region_hints();
	test_regional_origins();
}
