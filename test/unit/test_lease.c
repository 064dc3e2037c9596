/* The restore lease's pure part (FORMAT.md, "Leases"): scopes, overlap,
 * the table's key, expiry, and the JSON body, one case a line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/lease.h"
#include "unit.h"

static void test_scopes(void)
{
	static const struct {
		const char *path, *scope;
	} cases[] = {
		{ "/", "" },
		{ "/app/", "/app" },
		{ "/app", "/app" },
		{ "/app/db/", "/app/db" },
		{ "app/x", "/app/x" },
		{ "bare", "/bare" },
		{ "/app//", "/app" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = lease_scope(cases[i].path);
		EXPECT_STR(cases[i].path, cases[i].scope, got);
		free(got);
	}
}

static void test_overlap(void)
{
	static const struct {
		const char *a, *b;
		bool overlap;
	} cases[] = {
		{ "/app", "/app", true },
		{ "/app", "/app/db", true },
		{ "/app/db", "/app", true },
		{ "/app/db/url", "/app", true },
		{ "/app", "/apple", false },
		{ "/apple", "/app", false },
		{ "/app/db", "/app/dbx", false },
		{ "/app/x", "/app/y", false },
		{ "", "/anything", true },
		{ "/anything", "", true },
		{ "", "", true },
		{ "/a/b/c", "/a/b/c/d/e", true },
		{ "/a/b", "/b/a", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char name[64];
		snprintf(name, sizeof(name), "'%s' vs '%s'", cases[i].a,
			 cases[i].b);
		EXPECT_TRUE(name, lease_scopes_overlap(cases[i].a, cases[i].b) ==
					  cases[i].overlap);
	}
}

static void test_keys(void)
{
	static const struct {
		const char *prefix, *key;
	} cases[] = {
		{ NULL, ".ssmbak/leases/restores" },
		{ "", ".ssmbak/leases/restores" },
		{ "123456789012/us-east-1",
		  ".ssmbak/leases/restores@123456789012/us-east-1" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = lease_key(cases[i].prefix);
		EXPECT_STR(cases[i].key, cases[i].key, got);
		free(got);
	}
}

static json_t *entry(const char *id, const char *path, long long now,
		     long long seconds)
{
	struct lease_holder h = { id, "arn:aws:iam::000000000000:user/ops",
				  "host1", 4242, path, NULL, 1718243666,
				  "", NULL, NULL };
	return lease_entry_new(&h, now, seconds);
}

static void test_expiry_and_conflicts(void)
{
	struct lease_table t = { 0 };
	EXPECT_LONG("add a", 0, lease_table_add(&t, entry("a", "/app/", 1000, 900)));
	EXPECT_LONG("add b", 0, lease_table_add(&t, entry("b", "/other/", 1000, 60)));
	EXPECT_TRUE("a live before its end", !lease_entry_expired(&t.items[0], 1899));
	EXPECT_TRUE("a expired at its end", lease_entry_expired(&t.items[0], 1900));
	EXPECT_LONG("key below a conflicts with a", 0,
		    lease_table_conflict(&t, "/app/db", "me", 1500));
	EXPECT_LONG("the root conflicts with the first live", 0,
		    lease_table_conflict(&t, "", "me", 1500));
	EXPECT_LONG("own entry is no conflict", -1,
		    lease_table_conflict(&t, "/app/db", "a", 1500));
	EXPECT_LONG("a sibling is no conflict", -1,
		    lease_table_conflict(&t, "/apple", "me", 1500));
	EXPECT_LONG("an expired lease is no conflict", -1,
		    lease_table_conflict(&t, "/other/x", "me", 1060));
	EXPECT_LONG("b live before", 1,
		    lease_table_conflict(&t, "/other/x", "me", 1059));
	EXPECT_LONG("one expired dropped", 1,
		    (long)lease_table_drop_expired(&t, 1060));
	EXPECT_LONG("a stays", 0, lease_table_find(&t, "a"));
	EXPECT_LONG("b gone", -1, lease_table_find(&t, "b"));
	EXPECT_LONG("renew", 0, lease_entry_set_expires(&t.items[0], 5000));
	EXPECT_TRUE("renewed a live later", !lease_entry_expired(&t.items[0], 4999));
	lease_table_remove_at(&t, 0);
	EXPECT_LONG("empty", 0, (long)t.n);
	lease_table_release(&t);
}

static bool none_alive(long pid)
{
	(void)pid;
	return false;
}

static bool all_alive(long pid)
{
	(void)pid;
	return true;
}

static void test_abandoned(void)
{
	struct lease_table t = { 0 };
	lease_table_add(&t, entry("a", "/app/", 1000, 900));
	const char *ops = "arn:aws:iam::000000000000:user/ops";
	const struct lease_entry *le = &t.items[0];
	EXPECT_TRUE("same holder and host, process gone",
		    lease_entry_abandoned(le, "me", ops, "host1", 1, none_alive));
	EXPECT_TRUE("process alive",
		    !lease_entry_abandoned(le, "me", ops, "host1", 1, all_alive));
	EXPECT_TRUE("its pid is ours now (reused): not our lease, so gone",
		    lease_entry_abandoned(le, "me", ops, "host1", 4242, all_alive));
	EXPECT_TRUE("another host's pid says nothing here",
		    !lease_entry_abandoned(le, "me", ops, "host2", 1, none_alive));
	EXPECT_TRUE("another holder's lease is not ours to judge",
		    !lease_entry_abandoned(le, "me", "arn:aws:iam::1:user/x",
					   "host1", 1, none_alive));
	EXPECT_TRUE("our own entry is never abandoned",
		    !lease_entry_abandoned(le, "a", ops, "host1", 1, none_alive));
	lease_table_release(&t);
	struct lease_holder h = { "b", "unknown", "host1", 7, "/x/", NULL, 0, "",
				  NULL, NULL };
	lease_table_add(&t, lease_entry_new(&h, 1000, 900));
	EXPECT_TRUE("an unknown holder may be anyone",
		    !lease_entry_abandoned(&t.items[0], "me", "unknown", "host1", 1,
					   none_alive));
	lease_table_release(&t);
}

static void test_body_round_trip(void)
{
	struct lease_table t = { 0 };
	lease_table_add(&t, entry("a", "/app/", 1000, 900));
	char *body = lease_table_dump(&t);
	EXPECT_TRUE("body", body != NULL);
	struct lease_table back = { 0 };
	struct err e = { 0 };
	EXPECT_LONG("parse", 0, lease_table_parse(body, strlen(body), &back, &e));
	EXPECT_LONG("one entry", 1, (long)back.n);
	if (back.n == 1) {
		EXPECT_STR("id", "a", back.items[0].id);
		EXPECT_STR("scope", "/app", back.items[0].scope);
		EXPECT_LONG("expires", 1900, (long)back.items[0].expires);
		json_t *j = back.items[0].json;
		EXPECT_STR("holder", "arn:aws:iam::000000000000:user/ops",
			   json_string_value(json_object_get(j, "holder")));
		EXPECT_STR("path", "/app/",
			   json_string_value(json_object_get(j, "path")));
		EXPECT_LONG("time", 1718243666,
			    (long)json_integer_value(json_object_get(j, "time")));
		EXPECT_LONG("pid", 4242,
			    (long)json_integer_value(json_object_get(j, "pid")));
		char line[512];
		lease_entry_describe(&back.items[0], line, sizeof(line));
		EXPECT_STR("described",
			   "arn:aws:iam::000000000000:user/ops (host host1, pid "
			   "4242) since 1970-01-01T00:16:40Z, restoring /app/ to "
			   "2024-06-13T01:54:26Z; its lease ends "
			   "1970-01-01T00:31:40Z unless renewed",
			   line);
	}
	free(body);
	lease_table_release(&back);
	lease_table_release(&t);

	/* A field a later version adds survives a rewrite. */
	const char *future = "{\"format\":1,\"leases\":[{\"id\":\"x\",\"scope\":"
			     "\"/a\",\"expires\":5,\"colour\":\"blue\"}]}";
	EXPECT_LONG("future parses", 0,
		    lease_table_parse(future, strlen(future), &back, &e));
	body = lease_table_dump(&back);
	EXPECT_TRUE("unknown field kept", body && strstr(body, "\"colour\":\"blue\""));
	free(body);
	lease_table_release(&back);

	static const char *const bad[] = {
		"", "[]", "{\"leases\":{}}", "{\"leases\":[{\"id\":\"x\"}]}",
		"{\"leases\":[{\"id\":\"x\",\"scope\":\"/a\",\"expires\":\"soon\"}]}",
		"{\"leases\":[1]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err_clear(&e);
		EXPECT_LONG(bad[i], -1,
			    lease_table_parse(bad[i], strlen(bad[i]), &back, &e));
		EXPECT_LONG(bad[i], ERR_PARSE, e.kind);
		EXPECT_LONG(bad[i], 0, (long)back.n);
	}
}

static void test_settings(void)
{
	EXPECT_LONG("default", LEASE_DEFAULT_SECONDS, (long)lease_seconds(NULL));
	EXPECT_LONG("empty", LEASE_DEFAULT_SECONDS, (long)lease_seconds(""));
	EXPECT_LONG("set", 60, (long)lease_seconds("60"));
	EXPECT_LONG("too short", LEASE_DEFAULT_SECONDS, (long)lease_seconds("4"));
	EXPECT_LONG("too long", LEASE_DEFAULT_SECONDS, (long)lease_seconds("86401"));
	EXPECT_LONG("junk", LEASE_DEFAULT_SECONDS, (long)lease_seconds("60s"));
	EXPECT_LONG("http date", 1718243666,
		    (long)lease_http_date("Thu, 13 Jun 2024 01:54:26 GMT"));
	EXPECT_LONG("not a date", -1, (long)lease_http_date("yesterday"));
	EXPECT_LONG("no date", -1, (long)lease_http_date(NULL));
}

/* Where a restore writes, when that is another region or account than
 * the bucket's command line: recorded; otherwise no field at all. */
static void test_target_fields(void)
{
	struct lease_holder same = { "a", "arn:aws:iam::000000000000:root", "h",
				     1, "/x/", NULL, 0, "", NULL, NULL };
	struct lease_holder other = same;
	other.target_region = "us-east-2";
	other.target_holder = "arn:aws:iam::111111111111:root";
	json_t *a = lease_entry_new(&same, 1000, 900);
	json_t *b = lease_entry_new(&other, 1000, 900);
	EXPECT_TRUE("no target: no target_region",
		    !json_object_get(a, "target_region"));
	EXPECT_TRUE("no target: no target_holder",
		    !json_object_get(a, "target_holder"));
	EXPECT_STR("target_region", "us-east-2",
		   json_string_value(json_object_get(b, "target_region")));
	EXPECT_STR("target_holder", "arn:aws:iam::111111111111:root",
		   json_string_value(json_object_get(b, "target_holder")));
	json_decref(a);
	json_decref(b);
}

void test_lease(void)
{
	test_target_fields();
	test_scopes();
	test_overlap();
	test_keys();
	test_expiry_and_conflicts();
	test_abandoned();
	test_body_round_trip();
	test_settings();
}
