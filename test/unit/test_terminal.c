/* What reaches a terminal: lib/escape.c's escapes and widths, lib/table.c's
 * alignment, lib/harden.c's start-up limits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../lib/escape.h"
#include "../../lib/harden.h"
#include "../../lib/table.h"
#include "unit.h"

static void test_escapes(void)
{
	static const struct {
		const char *name, *in, *want;
	} cases[] = {
		{ "plain text", "/app/db/url", "/app/db/url" },
		{ "ESC of a colour code", "\x1b[31mred\x1b[0m", "\\x1b[31mred\\x1b[0m" },
		{ "newline", "a\nb", "a\\nb" },
		{ "carriage return", "ok\rFAKE", "ok\\rFAKE" },
		{ "tab", "a\tb", "a\\tb" },
		{ "a backslash stays (escaping escaped text changes nothing)",
		  "C:\\x \\n", "C:\\x \\n" },
		{ "other C0 controls", "\x07\x08", "\\x07\\x08" },
		{ "DEL", "\x7f", "\\x7f" },
		{ "C1 control (CSI, U+009B)", "\xc2\x9b" "2J", "\\u009b2J" },
		{ "right-to-left override", "abc\xe2\x80\xae" "def", "abc\\u202edef" },
		{ "not UTF-8", "\xff\xfe", "\\xff\\xfe" },
		{ "overlong slash", "\xc0\xaf", "\\xc0\\xaf" },
		{ "truncated sequence", "\xe6\x97", "\\xe6\\x97" },
		{ "UTF-8 passes", "gr\xc3\xbc\xc3\x9f \xe6\x97\xa5\xe6\x9c\xac",
		  "gr\xc3\xbc\xc3\x9f \xe6\x97\xa5\xe6\x9c\xac" },
		{ "emoji passes", "\xf0\x9f\x94\x91", "\xf0\x9f\x94\x91" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = escape_dup(cases[i].in);
		EXPECT_STR(cases[i].name, cases[i].want, got);
		char *twice = got ? escape_dup(got) : NULL;
		EXPECT_STR(cases[i].name, cases[i].want, twice);
		free(twice);
		free(got);
	}
	struct buf b = BUF_INIT;
	escape_append(&b, "a\0b", 3);
	EXPECT_STR("NUL inside a counted string", "a\\x00b", buf_str(&b));
	buf_release(&b);
}

static void test_widths(void)
{
	static const struct {
		const char *name, *text;
		long want;
	} cases[] = {
		{ "ASCII", "abc", 3 },
		{ "Latin-1 letters", "gr\xc3\xbc\xc3\x9f", 4 },
		{ "CJK is two columns each", "\xe6\x97\xa5\xe6\x9c\xac", 4 },
		{ "fullwidth A", "\xef\xbc\xa1", 2 },
		{ "combining acute adds nothing", "e\xcc\x81", 1 },
		{ "zero width space", "a\xe2\x80\x8b" "b", 2 },
		{ "Hangul syllable", "\xea\xb0\x80", 2 },
		{ "emoji", "\xf0\x9f\x94\x91", 2 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		EXPECT_LONG(cases[i].name, cases[i].want,
			    (long)display_width(cases[i].text, strlen(cases[i].text)));
}

/* Every line of a printed table has the same number of columns. */
static char *print_table(const char *const *cells, size_t rows)
{
	static const char *const headers[] = { "Name", "Value" };
	struct table *t = table_new(headers, 2);
	for (size_t r = 0; r < rows; r++)
		table_add_row(t, cells + 2 * r);
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);
	table_print(t, out, TABLE_WRAP);
	fclose(out);
	table_free(t);
	return text;
}

static void test_table_alignment(void)
{
	static const char *const cells[] = {
		"/tab", "a\tb",
		"/cjk", "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e",
		"/combining", "cafe\xcc\x81",
		"/esc", "\x1b[31mred\x1b[0m",
		"/newline", "one\ntwo",
		"/wide-wrap", "\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5"
			      "\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5"
			      "\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5"
			      "\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5\xe6\x97\xa5"
			      "\xe6\x97\xa5",
	};
	char *text = print_table(cells, sizeof(cells) / sizeof(cells[0]) / 2);
	EXPECT_TRUE("no ESC reaches the terminal", strchr(text, 0x1b) == NULL);
	EXPECT_TRUE("no tab reaches the terminal", strchr(text, '\t') == NULL);
	EXPECT_TRUE("the tab shows as \\t", strstr(text, "| a\\tb ") != NULL);
	EXPECT_TRUE("a newline in a value shows as \\n", strstr(text, "one\\ntwo") != NULL);
	size_t first = 0, lines = 0;
	bool aligned = true;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		size_t w = display_width(line, strlen(line));
		if (lines++ == 0)
			first = w;
		else if (w != first)
			aligned = false;
	}
	EXPECT_TRUE("every line is as wide as the first", aligned);
	EXPECT_LONG("21 wide characters wrap at 40 columns: 20 + 1", 11, (long)lines);
	free(text);
}

static void test_hardening(void)
{
	/* In a child: the unit runner itself stays dumpable. */
	pid_t pid = fork();
	if (pid == 0) {
		struct err e = { 0 };
		struct rlimit core;
		if (harden_process(&e) < 0 || getrlimit(RLIMIT_CORE, &core) < 0)
			_exit(3);
		_exit(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0 ? 1 :
		      core.rlim_cur != 0 || core.rlim_max != 0 ? 2 : 0);
	}
	int status = -1;
	waitpid(pid, &status, 0);
	EXPECT_LONG("after harden_process: not dumpable, core size 0", 0,
		    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

void test_terminal(void)
{
	test_escapes();
	test_widths();
	test_table_alignment();
	test_hardening();
}
