/* export's names and quoting (man ssmbak-export, NAMES and FORMATS), and
 * the gaps history and log show (lib/changelog), one case a line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/changelog.h"
#include "../../lib/export_fmt.h"
#include "unit.h"

static const struct {
	const char *relative;
	enum export_format format;
	const char *want;
} names[] = {
	{ "db-url", EXPORT_DOTENV, "DB_URL" },
	{ "db-url", EXPORT_SHELL, "DB_URL" },
	{ "db-url", EXPORT_TFVARS, "db-url" },
	{ "db-url", EXPORT_JSON, "db-url" },
	{ "nested/feature.flags", EXPORT_DOTENV, "NESTED_FEATURE_FLAGS" },
	{ "nested/feature.flags", EXPORT_TFVARS, "nested_feature_flags" },
	{ "nested/feature.flags", EXPORT_YAML, "nested/feature.flags" },
	{ "9lives", EXPORT_SHELL, "_9LIVES" },
	{ "9lives", EXPORT_TFVARS, "_9lives" },
	{ "9lives", EXPORT_JSON, "9lives" },
};

static void test_names(void)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *got = export_variable_name(names[i].relative, names[i].format);
		EXPECT_STR(names[i].relative, names[i].want, got);
		free(got);
	}
	char *r = export_relative_name("/app/db/url", "/app/", 0);
	EXPECT_STR("below the path", "db/url", r);
	free(r);
	r = export_relative_name("/app/db/url", "/app/db/url", 1);
	EXPECT_STR("a key: its last level", "url", r);
	free(r);
}

static char *written(enum export_format f, const char *name, const char *value)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	struct export_pair p = { name, value };
	if (!out || export_write(out, f, &p, 1) < 0) {
		if (out)
			fclose(out);
		free(text);
		return NULL;
	}
	fclose(out);
	return text;
}

static const struct {
	enum export_format format;
	const char *value, *want;
} quoting[] = {
	{ EXPORT_DOTENV, "a\"b$c`d!e\\f\ng", "N=\"a\\\"b\\$c\\`d\\!e\\\\f\\ng\"\n" },
	{ EXPORT_SHELL, "it's $HOME", "export N='it'\\''s $HOME'\n" },
	{ EXPORT_TFVARS, "${x} %{y} $z \"q\"\t", "N = \"$${x} %%{y} $z \\\"q\\\"\\t\"\n" },
	{ EXPORT_YAML, "a: b\n", "\"N\": \"a: b\\n\"\n" },
};

static void test_quoting(void)
{
	for (size_t i = 0; i < sizeof(quoting) / sizeof(quoting[0]); i++) {
		char *got = written(quoting[i].format, "N", quoting[i].value);
		EXPECT_STR(quoting[i].want, quoting[i].want, got);
		free(got);
	}
}

/* rows newest first, as changelog_order leaves them */
static const struct {
	const char *name;
	struct { char op; long long version; } changes[5];
	size_t n;
	long long gap_from, gap_to; /* 0: no gap */
} gap_cases[] = {
	{ "consecutive versions", { { 'u', 3 }, { 'u', 2 }, { 'c', 1 } }, 3, 0, 0 },
	{ "a version left out", { { 'u', 4 }, { 'u', 2 }, { 'c', 1 } }, 3, 3, 3 },
	{ "the first recorded says nothing", { { 'u', 7 } }, 1, 0, 0 },
	{ "a recreate starts at 1", { { 'c', 1 }, { 'd', 5 }, { 'u', 5 } }, 3, 0, 0 },
	{ "a recreate's first event lost", { { 'u', 2 }, { 'd', 5 }, { 'u', 5 } }, 3, 1, 1 },
	{ "a label repeats its version", { { 'l', 2 }, { 'u', 2 }, { 'c', 1 } }, 3, 0, 0 },
};

static void test_gaps(void)
{
	for (size_t i = 0; i < sizeof(gap_cases) / sizeof(gap_cases[0]); i++) {
		struct change_rows r = { 0 };
		r.items = calloc(gap_cases[i].n, sizeof(*r.items));
		r.n = r.cap = gap_cases[i].n;
		for (size_t j = 0; j < r.n; j++) {
			char op = gap_cases[i].changes[j].op;
			r.items[j].key = strdup("/k");
			r.items[j].c.event_time = (time_t)(100 - j);
			r.items[j].c.ssm_version = gap_cases[i].changes[j].version;
			r.items[j].c.op = op == 'd' ? RECORD_DELETE : op == 'c' ? RECORD_CREATE
				       : op == 'l' ? RECORD_LABEL : RECORD_UPDATE;
		}
		EXPECT_LONG(gap_cases[i].name, 0, changelog_add_gaps(&r));
		long long from = 0, to = 0;
		size_t gaps = 0;
		for (size_t j = 0; j < r.n; j++)
			if (r.items[j].gap) {
				gaps++;
				from = r.items[j].gap_from;
				to = r.items[j].gap_to;
			}
		EXPECT_LONG(gap_cases[i].name, gap_cases[i].gap_from ? 1 : 0, (long)gaps);
		EXPECT_LONG(gap_cases[i].name, (long)gap_cases[i].gap_from, (long)from);
		EXPECT_LONG(gap_cases[i].name, (long)gap_cases[i].gap_to, (long)to);
		change_rows_release(&r);
	}
}

void test_export_fmt(void)
{
	test_names();
	test_quoting();
	test_gaps();
}
