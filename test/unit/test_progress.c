/* Progress and verbosity lines: when an update is shown, how it looks on a
 * terminal and under TERM=dumb, and what -vv and a PATH that matched
 * nothing print. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/progress.h"
#include "../../lib/scope.h"
#include "../../lib/verbosity.h"
#include "unit.h"

static void test_due(void)
{
	static const struct {
		bool plain, shown, final;
		double since;
		bool want;
	} cases[] = {
		{ false, false, false, 0.0, true },   /* the first at once */
		{ false, true, false, 0.1, false },   /* then at most 4 a second */
		{ false, true, false, 0.25, true },
		{ false, true, true, 0.1, false },    /* a terminal clears it anyway */
		{ true, true, false, 0.5, false },    /* dumb: one a second */
		{ true, true, false, 1.0, true },
		{ true, true, true, 0.1, true },      /* dumb: the final count stays */
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct progress p;
		progress_init_to(&p, "x", stderr, cases[i].plain);
		p.shown = cases[i].shown;
		p.last = 100.0;
		char label[48];
		snprintf(label, sizeof(label), "progress_due case %zu", i);
		EXPECT_TRUE(label, progress_due(&p, 100.0 + cases[i].since,
						cases[i].final) == cases[i].want);
	}
	struct progress off;
	progress_init_to(&off, "x", NULL, false);
	EXPECT_TRUE("no terminal: never", !progress_due(&off, 1e9, true));
}

static char *shown(bool plain, size_t updates)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	struct progress p;
	progress_init_to(&p, "writing", out, plain);
	for (size_t i = 1; i <= updates; i++)
		progress_count(&p, i, updates);
	progress_end(&p);
	fclose(out);
	return text;
}

static void test_looks(void)
{
	char *term = shown(false, 1000);
	EXPECT_TRUE("terminal: repainted", strncmp(term, "\r", 1) == 0);
	EXPECT_TRUE("terminal: cleared at the end",
		    strlen(term) >= 4 &&
			    strcmp(term + strlen(term) - 4, "\r\033[K") == 0);
	EXPECT_TRUE("terminal: 1,000 calls in a moment, one update",
		    strstr(term, "writing 1/1000") && !strstr(term, "2/1000"));
	free(term);
	char *dumb = shown(true, 1000);
	EXPECT_TRUE("dumb: no \\r", !strchr(dumb, '\r'));
	EXPECT_TRUE("dumb: no escape", !strchr(dumb, '\033'));
	EXPECT_TRUE("dumb: first and final lines",
		    strstr(dumb, "writing 1/1000\n") &&
			    strstr(dumb, "writing 1000/1000\n"));
	free(dumb);
}

static void test_request_lines(void)
{
	static const struct {
		struct http_call_report r;
		const char *want;
	} cases[] = {
		{ { "SSM", "GetParameter", 200, 0, 0.0123, false },
		  "SSM GetParameter: HTTP 200, 12 ms" },
		{ { "S3", "GetObject", 503, 2, 1.5, true },
		  "S3 GetObject: HTTP 503, 1500 ms, 2 retries, failed" },
		{ { "S3", "PutObject", 200, 1, 0.2, false },
		  "S3 PutObject: HTTP 200, 200 ms, 1 retry" },
		{ { "STS", "AssumeRole", 0, 0, 0.004, true },
		  "STS AssumeRole: no answer, 4 ms, failed" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char line[200];
		verbosity_request_line(line, sizeof(line), &cases[i].r);
		EXPECT_STR("request line", cases[i].want, line);
	}
}

static void test_no_keys_line(void)
{
	struct scope s;
	char line[400];
	scope_init(&s, "/apq", false);
	verbosity_no_keys_line(line, sizeof(line), &s, "b1", "");
	EXPECT_STR("no keys, one level",
		   "no backed-up key directly under /apq/ in s3://b1: check "
		   "PATH, or add -R for the whole tree", line);
	scope_release(&s);
	scope_init(&s, "/apq/", true);
	verbosity_no_keys_line(line, sizeof(line), &s, "b1", "team/");
	EXPECT_STR("no keys, recursive, key prefix",
		   "no backed-up key under /apq/ in s3://b1 (key prefix team/): "
		   "check PATH and --key-prefix", line);
	scope_release(&s);
}

void test_progress(void)
{
	test_due();
	test_looks();
	test_request_lines();
	test_no_keys_line();
}
