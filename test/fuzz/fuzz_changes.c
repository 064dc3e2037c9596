/* Keys listed from the bucket: change index entries and log entries
 * (FORMAT.md, "The change index", "What an entry tells", "The log"). A
 * parsed entry must print back to a key that parses the same. */
#include <stdio.h>

#include "../../lib/changes.h"
#include "fuzz.h"

static void round_trip(const char *param_key, const struct change_entry *c)
{
	char *key = changes_entry_key("", param_key, c);
	char *again = NULL;
	struct change_entry back;
	if (key && changes_parse_key(key, CHANGES_ROOT, &again, &back) == 0) {
		if (back.event_time != c->event_time || back.op != c->op ||
		    strcmp(back.version_id, c->version_id) != 0)
			abort();
		change_entry_release(&back);
		free(again);
	}
	free(key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_text(data, size);
	if (!text)
		return 0;
	char *param = NULL;
	struct change_entry c;
	if (changes_parse_key(text, CHANGES_ROOT, &param, &c) == 0) {
		round_trip(param, &c);
		change_entry_release(&c);
		free(param);
	}
	char *hour = changes_log_hour_prefix("", 1718240400);
	if (hour && changes_parse_log_key(text, hour, &param, &c) == 0) {
		change_entry_release(&c);
		free(param);
	}
	free(hour);
	free(text);
	return 0;
}
