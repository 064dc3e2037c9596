/* The fields an index entry carries beside what choosing needs, and the
 * time-ordered log (FORMAT.md, "What an entry tells", "The log"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/changes.h"
#include "unit.h"

static struct change_entry sample(void)
{
	return (struct change_entry){
		.event_time = 1718243666, .ssm_version = 3, .op = RECORD_UPDATE,
		.modified_ms = 1718243666123LL, .version_id = (char *)"v.1",
		.user = (char *)"arn:aws:iam::123456789012:user/alice",
		.type = (char *)"SecureString", .labels = (char *)"live,blue",
		.description = (char *)"the db, 100% ours",
	};
}

static void test_fields_round_trip(void)
{
	struct change_entry c = sample();
	char *key = changes_entry_key("", "/app/db", &c);
	EXPECT_STR("entry key with fields",
		   ".ssmbak/changes/app/db!1718243666.3.Update.1718243666123.v.1"
		   ",t=SecureString"
		   ",u=arn%3Aaws%3Aiam%3A%3A123456789012%3Auser%2Falice"
		   ",l=live%2Cblue,d=the%20db%2C%20100%25%20ours", key);
	char *param = NULL;
	struct change_entry back;
	EXPECT_LONG("parses", 0,
		    changes_parse_key(key, ".ssmbak/changes", &param, &back));
	EXPECT_STR("version id stops at the fields", "v.1", back.version_id);
	EXPECT_STR("user", c.user, back.user);
	EXPECT_STR("type", c.type, back.type);
	EXPECT_STR("labels", c.labels, back.labels);
	EXPECT_STR("description", c.description, back.description);
	EXPECT_TRUE("complete", !back.partial);
	free(param);
	change_entry_release(&back);
	free(key);
}

static void test_old_entries_still_parse(void)
{
	char *param = NULL;
	struct change_entry back;
	EXPECT_LONG("an entry without fields", 0,
		    changes_parse_key(".ssmbak/changes/x!5.2.Create.5000.abc",
				      ".ssmbak/changes", &param, &back));
	EXPECT_STR("its version id", "abc", back.version_id);
	EXPECT_TRUE("no user", back.user == NULL);
	free(param);
	change_entry_release(&back);
	EXPECT_LONG("an unknown field is skipped", 0,
		    changes_parse_key(".ssmbak/changes/x!5.2.Create.5000.abc,z=1,p",
				      ".ssmbak/changes", &param, &back));
	EXPECT_TRUE("partial flag", back.partial);
	free(param);
	change_entry_release(&back);
	EXPECT_LONG("a field without '='", -1,
		    changes_parse_key(".ssmbak/changes/x!5.2.Create.5000.abc,zz",
				      ".ssmbak/changes", &param, &back));
	EXPECT_LONG("Label is an op", 0,
		    changes_parse_key(".ssmbak/changes/x!5.2.Label.5000.abc",
				      ".ssmbak/changes", &param, &back));
	EXPECT_LONG("its op", RECORD_LABEL, back.op);
	free(param);
	change_entry_release(&back);
}

static void test_long_fields_are_left_out(void)
{
	struct change_entry c = sample();
	char description[1025];
	memset(description, 'd', sizeof(description) - 1);
	description[sizeof(description) - 1] = '\0';
	c.description = description;
	char *key = changes_entry_key("", "/app/db", &c);
	char *param = NULL;
	struct change_entry back;
	EXPECT_TRUE("fits", key && strlen(key) <= S3_KEY_MAX);
	EXPECT_LONG("parses", 0,
		    changes_parse_key(key, ".ssmbak/changes", &param, &back));
	EXPECT_TRUE("no description", back.description == NULL);
	EXPECT_STR("the user stays", c.user, back.user);
	EXPECT_TRUE("marked partial", back.partial);
	free(param);
	change_entry_release(&back);
	free(key);
}

static void test_log_keys(void)
{
	struct change_entry c = sample();
	c.labels = c.description = NULL;
	char *hour = changes_log_hour_prefix("123/eu", 1718243666);
	EXPECT_STR("hour prefix", ".ssmbak/log@123/eu/2024061301/", hour);
	char *key = changes_log_key("123/eu", "/app/db", &c);
	EXPECT_STR("log key",
		   ".ssmbak/log@123/eu/2024061301/1718243666/app/db!1718243666.3."
		   "Update.1718243666123.v.1,t=SecureString,u=arn%3Aaws%3Aiam%3A%3A"
		   "123456789012%3Auser%2Falice", key);
	char *param = NULL;
	struct change_entry back;
	EXPECT_LONG("parses", 0, changes_parse_log_key(key, hour, &param, &back));
	EXPECT_STR("its key", "/app/db", param);
	EXPECT_LONG("its time", 1718243666, (long)back.event_time);
	free(param);
	change_entry_release(&back);
	EXPECT_LONG("sorting time must match the entry's", -1,
		    changes_parse_log_key(".ssmbak/log@123/eu/2024061301/1718243667"
					  "/app/db!1718243666.3.Update.1.v",
					  hour, &param, &back));
	free(key);
	free(hour);
}

void test_changes(void)
{
	test_fields_round_trip();
	test_old_entries_still_parse();
	test_long_fields_are_left_out();
	test_log_keys();
}
