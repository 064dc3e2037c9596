/* Server text on an error line: control characters escaped visibly, the
 * line one line, truncation never cutting an escape in half. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/err.h"
#include "../../lib/escape.h"
#include "unit.h"

static void test_table(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "plain text", "plain text" },
		{ "", "" },
		{ "two\nlines", "two\\nlines" },
		{ "cr\rtab\t", "cr\\rtab\\t" },
		{ "\x1b[31mred", "\\x1b[31mred" },
		{ "nul-less \x01\x1f\x7f", "nul-less \\x01\\x1f\\x7f" },
		{ "csi \xc2\x9b" "2J", "csi \\u009b2J" },
		{ "caf\xc3\xa9 stays", "caf\xc3\xa9 stays" },
		{ "nbsp \xc2\xa0 stays", "nbsp \xc2\xa0 stays" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[64], label[96];
		size_t need = escape_controls(out, sizeof(out), cases[i].in);
		snprintf(label, sizeof(label), "escape case %zu", i);
		EXPECT_STR(label, cases[i].want, out);
		EXPECT_LONG(label, (long)strlen(cases[i].want), (long)need);
		char *dup = escape_controls_dup(cases[i].in);
		EXPECT_STR(label, cases[i].want, dup);
		free(dup);
	}
}

static void test_truncation(void)
{
	char out[6];
	EXPECT_LONG("needed length is the whole", 9,
		    (long)escape_controls(out, sizeof(out), "ab\x1b" "cde"));
	EXPECT_STR("an escape that does not fit is left out", "ab", out);
	EXPECT_LONG("size 0 writes nothing", 2,
		    (long)escape_controls(NULL, 0, "\n"));
}

static void test_error_line(void)
{
	struct err e = { 0 };
	char line[ERR_LINE_MAX];
	err_set_aws(&e, "SSM", "GetParameters", 400, "Bad\nCode",
		    "first\nsecond\x1b]0;title\x07", "id\r\n1");
	err_line(&e, line, sizeof(line));
	EXPECT_STR("hostile code, message and request id stay on one line",
		   "SSM GetParameters: Bad\\nCode: first\\nsecond\\x1b]0;title\\x07 "
		   "(request id id\\r\\n1)",
		   line);
	EXPECT_TRUE("no newline", !strchr(line, '\n'));
	char small[20];
	err_line(&e, small, sizeof(small));
	EXPECT_STR("truncated", "SSM GetParameters: ", small);
}

void test_escape(void)
{
	test_table();
	test_truncation();
	test_error_line();
}
