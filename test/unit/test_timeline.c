/* Choosing the version for a time: stories one a case, then randomised
 * histories where the windowed plan must agree with knowing everything. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/timeline.h"
#include "unit.h"

static const struct tl_bounds bounds = { 3600, 5 };

/* One entry of a story, newest first as S3 lists them: kind 'v' value,
 * 't' tombstone, 'm' delete marker; lm = LastModified; event and version
 * as the tags would tell. */
struct story_entry {
	char kind;
	double lm;
	time_t event;
	long long version;
};

struct story {
	const char *name;
	struct story_entry entries[8];
	size_t n;
	time_t t;
	long want_winner;
	bool bounded;
};

static void build(const struct story *s, struct tl_entry *out)
{
	bool marker[8];
	long long size[8];
	for (size_t i = 0; i < s->n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].last_modified = s->entries[i].lm;
		out[i].bounded = s->bounded;
		marker[i] = s->entries[i].kind == 'm';
		size[i] = s->entries[i].kind == 'v' ? 4 : 0;
	}
	timeline_classify(out, s->n, marker, size);
}

/* Fetches what the plan asks for: the "tags" come from the story. */
static long answer(const struct story *s, bool exhaustive, size_t *fetched)
{
	struct tl_entry e[8];
	build(s, e);
	*fetched = timeline_plan(e, s->n, s->t, &bounds, exhaustive);
	for (size_t i = 0; i < s->n; i++) {
		if (e[i].needed) {
			e[i].known = true;
			e[i].event_time = s->entries[i].event;
			e[i].ssm_version = s->entries[i].version;
		}
	}
	return timeline_winner(e, s->n, s->t);
}

static const struct story stories[] = {
	{ "value at exactly T counts (inclusive)",
	  { { 'v', 1002, 1000, 2 }, { 'v', 902, 900, 1 } }, 2, 1000, 0, true },
	{ "value one second after T does not",
	  { { 'v', 1003, 1001, 2 }, { 'v', 902, 900, 1 } }, 2, 1000, 1, true },
	{ "nothing at or before T: key left alone",
	  { { 'v', 1003, 1001, 1 } }, 1, 1000, -1, true },
	{ "late write of an older event loses to the newer event",
	  { { 'v', 1500, 800, 1 }, { 'v', 905, 900, 2 } }, 2, 1000, 1, true },
	{ "reordered: newer event written first, older later",
	  { { 'v', 960, 700, 1 }, { 'v', 950, 900, 2 } }, 2, 1000, 1, true },
	{ "delayed write after T of an event before T wins",
	  { { 'v', 1200, 990, 3 }, { 'v', 905, 900, 2 } }, 2, 1000, 0, true },
	{ "deleted: tombstone then its echo marker",
	  { { 'm', 951, 0, 0 }, { 't', 950, 949, 0 }, { 'v', 100, 99, 1 } }, 3, 1000, 1, true },
	{ "deleted then recreated",
	  { { 'v', 980, 979, 1 }, { 'm', 951, 0, 0 }, { 't', 950, 949, 0 }, { 'v', 100, 99, 3 } },
	  4, 1000, 0, true },
	{ "restore to between delete and recreate sees the delete",
	  { { 'v', 980, 979, 1 }, { 'm', 951, 0, 0 }, { 't', 950, 949, 0 }, { 'v', 100, 99, 3 } },
	  4, 960, 2, true },
	{ "late tombstone (delete processed after a recreate) ignores its echo",
	  { { 'm', 1501, 0, 0 }, { 't', 1500, 900, 0 }, { 'v', 960, 950, 1 }, { 'v', 100, 99, 5 } },
	  4, 2000, 2, true },
	{ "format 1 marker: delete at LastModified",
	  { { 'm', 950, 0, 0 }, { 'v', 100, 99, 1 } }, 2, 1000, 0, true },
	{ "format 1 marker after T does not count",
	  { { 'm', 1050, 0, 0 }, { 'v', 100, 99, 1 } }, 2, 1000, 1, true },
	{ "two changes in the same second: higher SSM version wins",
	  { { 'v', 905, 900, 7 }, { 'v', 904, 900, 8 } }, 2, 1000, 1, true },
	{ "duplicate delivery: same event twice, newer write wins the tie",
	  { { 'v', 906, 900, 7 }, { 'v', 905, 900, 7 } }, 2, 1000, 0, true },
	{ "unbounded (format 1 era) late write is still found",
	  { { 'v', 90000, 950, 1 }, { 'v', 905, 900, 0 } }, 2, 1000, 0, false },
};

static void test_stories(void)
{
	for (size_t i = 0; i < sizeof(stories) / sizeof(stories[0]); i++) {
		size_t fetched;
		EXPECT_LONG(stories[i].name, stories[i].want_winner,
			    answer(&stories[i], false, &fetched));
		char label[256];
		snprintf(label, sizeof(label), "%s (exhaustive)", stories[i].name);
		EXPECT_LONG(label, stories[i].want_winner,
			    answer(&stories[i], true, &fetched));
	}
}

static void test_window_is_small(void)
{
	/* 20 versions an hour and a half apart, T in the middle: only the
	 * versions around T need their tags. */
	struct story s = { "long history", { { 0 } }, 8, 0, 0, true };
	for (size_t i = 0; i < 8; i++) {
		time_t event = 100000 - (time_t)i * 5400;
		s.entries[i] = (struct story_entry){ 'v', (double)event + 2, event,
						     (long long)(8 - i) };
	}
	s.t = 100000 - 3 * 5400 + 60;
	size_t fetched;
	EXPECT_LONG("middle of a long history: right version", 3,
		    answer(&s, false, &fetched));
	EXPECT_TRUE("middle of a long history: at most 2 fetched", fetched <= 2);
}

/* A random history as the writer produces it: events, each written after a
 * delay within the bound; deletes as tombstone + echo marker; sometimes a
 * format 1 marker. Sorted by write time, newest first. */
static size_t random_history(struct story *s, unsigned *seed)
{
	struct story_entry tmp[8];
	size_t n = 0;
	time_t event = 1000;
	long long version = 0;
	while (n < 7) {
		event += rand_r(seed) % 4000;
		int delay = rand_r(seed) % 5 ? rand_r(seed) % 30
					     : rand_r(seed) % 3500;
		int what = rand_r(seed) % 6;
		if (what == 0 && n < 6) {
			tmp[n++] = (struct story_entry){ 't', event + delay, event, 0 };
			tmp[n++] = (struct story_entry){ 'm', event + delay + 0.5, 0, 0 };
		} else if (what == 1) {
			tmp[n++] = (struct story_entry){ 'm', event + delay, event + delay, 0 };
		} else {
			tmp[n++] = (struct story_entry){ 'v', event + delay + 0.25, event,
							 ++version };
		}
	}
	/* newest write first */
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (tmp[j].lm > tmp[i].lm) {
				struct story_entry x = tmp[i];
				tmp[i] = tmp[j];
				tmp[j] = x;
			}
	memcpy(s->entries, tmp, sizeof(tmp));
	s->n = n;
	return n;
}

static void test_random_histories(void)
{
	unsigned seed = 20240613;
	size_t disagreements = 0, fetched_windowed = 0, fetched_all = 0;
	for (int i = 0; i < 20000; i++) {
		struct story s = { "random", { { 0 } }, 0, 0, 0, true };
		random_history(&s, &seed);
		s.t = 1000 + rand_r(&seed) % 30000;
		size_t a, b;
		long windowed = answer(&s, false, &a);
		long all = answer(&s, true, &b);
		fetched_windowed += a;
		fetched_all += b;
		if (windowed != all && disagreements++ == 0)
			fprintf(stderr, "  first disagreement at history %d, T=%lld: "
				"windowed %ld, exhaustive %ld\n", i,
				(long long)s.t, windowed, all);
	}
	EXPECT_LONG("20,000 random histories: windowed == exhaustive", 0,
		    (long)disagreements);
	EXPECT_TRUE("the window fetches fewer tags",
		    fetched_windowed < fetched_all);
}

void test_timeline(void)
{
	test_stories();
	test_window_is_small();
	test_random_histories();
}
