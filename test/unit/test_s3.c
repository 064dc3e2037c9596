/* S3 answers decoded without a server: GetBucketVersioning's three states
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketVersioning.html:
 * a bucket whose versioning was never enabled answers a configuration
 * without Status). */
#include <string.h>

#include "../../lib/s3.h"
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

void test_s3(void)
{
	test_versioning_answers();
}
