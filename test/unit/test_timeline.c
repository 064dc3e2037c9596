/* Choosing the version for a time (FORMAT.md, "Choosing the version for a
 * time"), one story a line, and the change index's key grammar. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/changes.h"
#include "../../lib/timeline.h"
#include "unit.h"

/* One change of a story, newest write first: 'w' write, 'd' delete. */
struct story_change {
	char kind;
	time_t event;
	long long version;
};

struct story {
	const char *name;
	struct story_change changes[6];
	size_t n;
	time_t t;
	long want; /* index into changes[], -1 none */
};

static const struct story stories[] = {
	{ "one write, at its second", { { 'w', 100, 1 } }, 1, 100, 0 },
	{ "one write, before it", { { 'w', 100, 1 } }, 1, 99, -1 },
	{ "later event wins over later write (reordered queue)",
	  { { 'w', 100, 1 }, { 'w', 200, 2 } }, 2, 300, 1 },
	{ "delete then recreate", { { 'w', 300, 1 }, { 'd', 200, 3 }, { 'w', 100, 3 } },
	  3, 250, 1 },
	{ "recreated", { { 'w', 300, 1 }, { 'd', 200, 3 }, { 'w', 100, 3 } }, 3, 300, 0 },
	{ "same second: delete beats the version it deleted",
	  { { 'd', 100, 4 }, { 'w', 100, 4 } }, 2, 100, 0 },
	{ "same second: delete written first still wins",
	  { { 'w', 100, 4 }, { 'd', 100, 4 } }, 2, 100, 1 },
	{ "same second: delete beats a lower version",
	  { { 'w', 100, 2 }, { 'd', 100, 4 } }, 2, 100, 1 },
	{ "same second: a higher version beats the delete",
	  { { 'd', 100, 4 }, { 'w', 100, 5 } }, 2, 100, 1 },
	{ "same second: higher version wins whatever the write order",
	  { { 'w', 100, 2 }, { 'w', 100, 3 } }, 2, 100, 1 },
	{ "same second and version: the newer write",
	  { { 'w', 100, 3 }, { 'w', 100, 3 } }, 2, 100, 0 },
	{ "format 1 delete marker (version 0) beats format 1 value of its second",
	  { { 'w', 100, 0 }, { 'd', 100, 0 } }, 2, 100, 1 },
};

static long winner_of(const struct story *s, time_t t)
{
	struct tl_entry e[6];
	for (size_t i = 0; i < s->n; i++)
		e[i] = (struct tl_entry){ s->changes[i].event, s->changes[i].version,
					  s->changes[i].kind == 'd', i };
	return timeline_winner(e, s->n, t);
}

static void test_stories(void)
{
	for (size_t i = 0; i < sizeof(stories) / sizeof(stories[0]); i++)
		EXPECT_LONG(stories[i].name, stories[i].want,
			    winner_of(&stories[i], stories[i].t));
}

static void test_latest_is_winner_at_the_end(void)
{
	const struct story *s = &stories[3];
	struct tl_entry e[6];
	for (size_t i = 0; i < s->n; i++)
		e[i] = (struct tl_entry){ s->changes[i].event, s->changes[i].version,
					  s->changes[i].kind == 'd', i };
	EXPECT_LONG("latest = winner at the end of time", winner_of(s, 1L << 40),
		    timeline_latest(e, s->n));
}

/* --- the change index's key grammar --- */

static void test_entry_keys(void)
{
	struct change_entry c = { .event_time = 1718243666, .ssm_version = 3,
				  .op = RECORD_UPDATE,
				  .modified_ms = 1718243666123LL,
				  .version_id = (char *)"3/L4kq+tJl.cp_X" };
	char *key = changes_entry_key("", "/app/db/url", &c);
	EXPECT_STR("entry key, empty prefix",
		   ".ssmbak/changes/app/db/url!1718243666.3.Update.1718243666123."
		   "3%2FL4kq%2BtJl.cp_X", key);
	char *param = NULL;
	struct change_entry back;
	EXPECT_LONG("parses back", 0,
		    changes_parse_key(key, ".ssmbak/changes", &param, &back));
	EXPECT_STR("param key", "/app/db/url", param);
	EXPECT_STR("version id", "3/L4kq+tJl.cp_X", back.version_id);
	EXPECT_LONG("event time", 1718243666, (long)back.event_time);
	EXPECT_LONG("ssm version", 3, (long)back.ssm_version);
	EXPECT_LONG("op", RECORD_UPDATE, back.op);
	EXPECT_LONG("modified", 1718243666123LL, (long)back.modified_ms);
	free(param);
	change_entry_release(&back);
	free(key);

	c.op = RECORD_DELETE;
	key = changes_entry_key("123/us-east-1", "/x", &c);
	EXPECT_STR("entry key under a prefix",
		   ".ssmbak/changes@123/us-east-1/x!1718243666.3.Delete."
		   "1718243666123.3%2FL4kq%2BtJl.cp_X", key);
	EXPECT_LONG("an empty-prefix root does not read it", -1,
		    changes_parse_key(key, ".ssmbak/changes", &param, &back));
	free(key);

	char long_name[1100];
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[0] = '/';
	long_name[sizeof(long_name) - 1] = '\0';
	EXPECT_TRUE("a key past 1,024 bytes has no entry",
		    changes_entry_key("", long_name, &c) == NULL);
}

/* FORMAT.md, "Repairs": Repair is an op of its own (readers take it for an
 * Update); DeleteNoticed reads as a Delete, marked approximate. */
static void test_repair_entry_keys(void)
{
	struct change_entry c = { .event_time = 100, .ssm_version = 2,
				  .op = RECORD_REPAIR, .modified_ms = 100250,
				  .version_id = (char *)"v1" };
	char *key = changes_entry_key("", "/x", &c), *param = NULL;
	struct change_entry back;
	EXPECT_STR("repair key", ".ssmbak/changes/x!100.2.Repair.100250.v1", key);
	EXPECT_LONG("repair parses", 0,
		    changes_parse_key(key, ".ssmbak/changes", &param, &back));
	EXPECT_LONG("repair op", RECORD_REPAIR, back.op);
	EXPECT_TRUE("a repair is exact", !back.approximate);
	free(param);
	change_entry_release(&back);
	free(key);

	c = (struct change_entry){ .event_time = 200, .ssm_version = 2,
				 .op = RECORD_DELETE,
				 .version_id = (char *)"m1",
				 .approximate = true };
	key = changes_entry_key("", "/x", &c);
	EXPECT_STR("noticed delete key", ".ssmbak/changes/x!200.2.DeleteNoticed.0.m1", key);
	EXPECT_LONG("noticed delete parses", 0,
		    changes_parse_key(key, ".ssmbak/changes", &param, &back));
	EXPECT_LONG("it is a delete", RECORD_DELETE, back.op);
	EXPECT_TRUE("marked approximate", back.approximate);
	free(param);
	change_entry_release(&back);
	free(key);
	c.approximate = false;
	key = changes_entry_key("", "/x", &c);
	EXPECT_STR("a seen delete stays Delete", ".ssmbak/changes/x!200.2.Delete.0.m1", key);
	free(key);
}

static const struct {
	const char *name, *key;
} bad_keys[] = {
	{ "no separator", ".ssmbak/changes/app/x" },
	{ "no parameter key", ".ssmbak/changes/!1.1.Update.1.v" },
	{ "unknown op", ".ssmbak/changes/x!1.1.Rename.1.v" },
	{ "op names are exact", ".ssmbak/changes/x!1.1.DeleteNoticedX.1.v" },
	{ "missing field", ".ssmbak/changes/x!1.1.Update.v" },
	{ "empty version id", ".ssmbak/changes/x!1.1.Update.1." },
	{ "slash in version id", ".ssmbak/changes/x!1.1.Update.1.a/b" },
	{ "not under the root", ".ssmbak/other/x!1.1.Update.1.v" },
	{ "number too long", ".ssmbak/changes/x!1234567890123456789.1.Update.1.v" },
};

static void test_bad_entry_keys(void)
{
	for (size_t i = 0; i < sizeof(bad_keys) / sizeof(bad_keys[0]); i++) {
		char *param = NULL;
		struct change_entry e;
		EXPECT_LONG(bad_keys[i].name, -1,
			    changes_parse_key(bad_keys[i].key, ".ssmbak/changes",
					      &param, &e));
	}
}

static const struct {
	const char *given, *want;
} prefixes[] = {
	{ "", "" },
	{ "123/us-east-1/", "123/us-east-1" },
	{ "/123/us-east-1", "123/us-east-1" },
	{ "a//b", NULL },
	{ "a b", NULL },
	{ "a!b", NULL },
};

static void test_prefixes(void)
{
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		char *got = changes_normalize_prefix(prefixes[i].given);
		char name[64];
		snprintf(name, sizeof(name), "prefix '%s'", prefixes[i].given);
		if (prefixes[i].want)
			EXPECT_STR(name, prefixes[i].want, got);
		else
			EXPECT_TRUE(name, got == NULL);
		free(got);
	}
	char *k = changes_data_key("123/us-east-1", "/app/x");
	EXPECT_STR("data key under a prefix", "123/us-east-1/app/x", k);
	free(k);
}

/* The separator must sort before every name character, so that the index
 * and the data versions list in the same key order. */
static void test_separator_sorts_first(void)
{
	static const char name_chars[] =
		"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/";
	bool ok = true;
	for (const char *c = name_chars; *c; c++)
		ok &= CHANGES_SEPARATOR < *c;
	EXPECT_TRUE("separator sorts before every name character", ok);
}

void test_timeline(void)
{
	test_stories();
	test_latest_is_winner_at_the_end();
	test_entry_keys();
	test_repair_entry_keys();
	test_bad_entry_keys();
	test_prefixes();
	test_separator_sorts_first();
}
