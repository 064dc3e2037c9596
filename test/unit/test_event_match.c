/* Which version each event stands for (lib/event_match.c): the stories of
 * issue 14, one a line. Versions are (number, LastModifiedDate). */
#include <stdio.h>
#include <string.h>

#include "../../lib/event_match.h"
#include "unit.h"

#define E 1718243666

struct match_story {
	const char *name;
	time_t events[6];
	size_t n_events;
	struct em_version versions[6];
	size_t n_versions;
	struct em_recorded recorded[4];
	size_t n_recorded;
	long long want[6]; /* the version each event gets, 0: a gap */
};

static const struct match_story stories[] = {
	{ "event at its version's second", { E }, 1,
	  { { 1, E - 100.5 }, { 2, E + 0.4 } }, 2, { { 0 } }, 0, { 2 } },
	{ "event 1 s before the version's LastModifiedDate (skewed clocks)", { E }, 1,
	  { { 1, E - 100.5 }, { 2, E + 1.2 } }, 2, { { 0 } }, 0, { 2 } },
	{ "event 2 s before", { E }, 1,
	  { { 1, E - 100.5 }, { 2, E + 2.9 } }, 2, { { 0 } }, 0, { 2 } },
	{ "event 2 s after", { E }, 1,
	  { { 1, E - 100.5 }, { 2, E - 2.0 } }, 2, { { 0 } }, 0, { 2 } },
	{ "event 3 s after: the version current then", { E }, 1,
	  { { 1, E - 100.5 }, { 2, E - 3.0 } }, 2, { { 0 } }, 0, { 2 } },
	{ "five updates in one second, one batch", { E, E, E, E, E }, 5,
	  { { 3, E + 0.1 }, { 4, E + 0.2 }, { 5, E + 0.3 }, { 6, E + 0.4 }, { 7, E + 0.5 } }, 5,
	  { { 0 } }, 0, { 3, 4, 5, 6, 7 } },
	{ "five updates in one second, two already recorded", { E, E, E }, 3,
	  { { 3, E + 0.1 }, { 4, E + 0.2 }, { 5, E + 0.3 }, { 6, E + 0.4 }, { 7, E + 0.5 } }, 5,
	  { { 3, E }, { 5, E } }, 2, { 4, 6, 7 } },
	{ "two changes a second apart, the later event first", { E + 1, E }, 2,
	  { { 1, E + 0.9 }, { 2, E + 1.1 } }, 2, { { 0 } }, 0, { 2, 1 } },
	{ "the later one alone, the earlier recorded later", { E + 1 }, 1,
	  { { 1, E + 0.9 }, { 2, E + 1.1 } }, 2, { { 0 } }, 0, { 2 } },
	{ "a create whose parameter was recreated since: a gap", { E }, 1,
	  { { 1, E + 500.0 } }, 1, { { 0 } }, 0, { 0 } },
	{ "a duplicate delivery of a recorded event", { E }, 1,
	  { { 1, E + 0.1 }, { 2, E + 0.6 } }, 2, { { 1, E }, { 2, E } }, 2, { 1 } },
};

void test_event_match(void)
{
	for (size_t s = 0; s < sizeof(stories) / sizeof(stories[0]); s++) {
		const struct match_story *st = &stories[s];
		long out[6];
		event_match(st->events, st->n_events, st->versions, st->n_versions,
			    st->recorded, st->n_recorded, out);
		for (size_t i = 0; i < st->n_events; i++) {
			char name[160];
			snprintf(name, sizeof(name), "%s: event %zu", st->name, i);
			long long got = out[i] < 0 ? 0 : st->versions[out[i]].version;
			EXPECT_LONG(name, (long)st->want[i], (long)got);
		}
	}
	time_t one[] = { E };
	struct em_version two[] = { { 1, E + 0.1 }, { 2, E + 1.5 } };
	EXPECT_TRUE("two versions near one event are ambiguous",
		    event_match_is_ambiguous(one, 1, two, 2));
	EXPECT_TRUE("one version near it is not",
		    !event_match_is_ambiguous(one, 1, two + 1, 1));
}
