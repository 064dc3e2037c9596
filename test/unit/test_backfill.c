/* backfill's pure part: which prefixes to list, and whether a listing
 * entry or a version's tags show a parameter as already backed up. */
#include <stdlib.h>
#include <string.h>

#include "../../lib/s3.h"
#include "../../lib/ssm.h"
#include "unit.h"

/* cmd_backfill.c */
size_t backfill_key_prefixes(const char *const *prefixes, size_t n,
			     char **out);
bool backfill_listing_decides(const struct ssm_parameter *p,
			      const struct s3_version *latest,
			      const char **why);
bool backfill_tags_hold(const struct ssm_parameter *p,
			const struct aws_headers *tags);

static void key_prefixes(void)
{
	static const struct {
		const char *name;
		const char *in[4];
		size_t n;
		const char *want; /* the kept prefixes, space-separated */
	} cases[] = {
		{ "none: every key", { NULL }, 0, "/" },
		{ "slash added", { "app" }, 1, "/app" },
		{ "slash kept", { "/app" }, 1, "/app" },
		{ "nested dropped", { "/app", "/app/db" }, 2, "/app" },
		{ "nested first dropped", { "/app/db", "app" }, 2, "/app" },
		{ "same twice once", { "/app", "app" }, 2, "/app" },
		{ "siblings kept", { "/a/x", "/a/y", "/b" }, 3, "/a/x /a/y /b" },
		{ "root swallows all", { "/app", "/" , "x" }, 3, "/" },
		{ "string prefix, not path", { "/ab", "/a" }, 2, "/a" },
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		char *out[4] = { 0 };
		size_t k = backfill_key_prefixes(cases[c].in, cases[c].n, out);
		char got[128] = "";
		for (size_t i = 0; i < k; i++) {
			strcat(got, i ? " " : "");
			strcat(got, out[i]);
			free(out[i]);
		}
		EXPECT_STR(cases[c].name, cases[c].want, got);
	}
}

static void listing(void)
{
	/* changed at 1000.700: a version written at 1000.000 (S3 lists
	 * whole seconds) may hold it, one at 999.999 cannot */
	struct ssm_parameter p = { .name = "/a", .version = 3,
				   .last_modified = 1000.7 };
	static const struct {
		const char *name;
		bool present, marker;
		long long size;
		double modified;
		bool decides;
		const char *why;
	} cases[] = {
		{ "no version", false, false, 0, 0, true, "no backup" },
		{ "delete marker", true, true, 0, 2000, true,
		  "deleted in the backup" },
		{ "tombstone", true, false, 0, 2000, true,
		  "deleted in the backup" },
		{ "written before the change", true, false, 5, 999.999, true,
		  "backup older than the last change" },
		{ "same second: ask", true, false, 5, 1000.0, false, NULL },
		{ "later: ask", true, false, 5, 1500.0, false, NULL },
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct s3_version v = { .key = "/a", .version_id = "v",
					.last_modified = cases[c].modified,
					.size = cases[c].size,
					.is_latest = true,
					.delete_marker = cases[c].marker };
		const char *why = NULL;
		bool decides = backfill_listing_decides(
			&p, cases[c].present ? &v : NULL, &why);
		EXPECT_TRUE(cases[c].name, decides == cases[c].decides);
		if (cases[c].why)
			EXPECT_STR(cases[c].name, cases[c].why, why);
	}
}

static void tags(void)
{
	struct ssm_parameter p = { .name = "/app/x", .version = 3,
				   .last_modified = 1000.7 };
	static const struct {
		const char *name;
		const char *pairs; /* k=v&k=v */
		bool holds;
	} cases[] = {
		{ "format 3, same version", "ssmbakTime=1000&ssmbakVersion=3&ssmbakOp=Update", true },
		{ "format 3, other version", "ssmbakTime=1000&ssmbakVersion=2&ssmbakOp=Update", false },
		{ "format 3, a delete", "ssmbakTime=1000&ssmbakVersion=3&ssmbakOp=Delete", false },
		{ "format 3, bad version", "ssmbakTime=1000&ssmbakVersion=3x", false },
		{ "format 1, at the change", "ssmbakTime=1000&ssmbakType=String", true },
		{ "format 1, after", "ssmbakTime=1200", true },
		{ "format 1, before", "ssmbakTime=999", false },
		{ "no tags", "", false },
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct aws_headers h = { 0 };
		char *text = strdup(cases[c].pairs), *save = NULL;
		for (char *kv = strtok_r(text, "&", &save); kv;
		     kv = strtok_r(NULL, "&", &save)) {
			char *eq = strchr(kv, '=');
			*eq = '\0';
			aws_headers_add(&h, kv, eq + 1);
		}
		EXPECT_TRUE(cases[c].name, backfill_tags_hold(&p, &h) == cases[c].holds);
		aws_headers_release(&h);
		free(text);
	}
}

void test_backfill(void)
{
	key_prefixes();
	listing();
	tags();
}
