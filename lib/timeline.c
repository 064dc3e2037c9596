#include "timeline.h"

#include <math.h>
#include <stdint.h>

/* Below any event time, without overflow when compared or offset. */
#define TL_BEFORE_EVERYTHING ((time_t)(INT64_MIN / 4))

void timeline_classify(struct tl_entry *entries, size_t n,
		       const bool *is_marker, const long long *sizes)
{
	for (size_t i = 0; i < n; i++) {
		struct tl_entry *e = &entries[i];
		e->order = i;
		if (!is_marker[i]) {
			e->kind = sizes[i] == 0 ? TL_TOMBSTONE : TL_VALUE;
			continue;
		}
		/* The writer puts a tombstone, then deletes: the marker's
		 * next older entry is that tombstone. */
		bool echoes = i + 1 < n && !is_marker[i + 1] && sizes[i + 1] == 0;
		e->kind = echoes ? TL_ECHO : TL_MARKER;
		if (e->kind == TL_MARKER) {
			e->known = true;
			e->event_time = (time_t)floor(e->last_modified);
			e->ssm_version = 0;
		}
	}
}

/* Earliest and latest event time an entry can have. */
static void event_range(const struct tl_entry *e, const struct tl_bounds *b,
			time_t *lo, time_t *hi)
{
	if (e->known) {
		*lo = *hi = e->event_time;
		return;
	}
	time_t lm = (time_t)floor(e->last_modified);
	*hi = lm + b->clock_skew;
	*lo = e->bounded ? lm - b->max_delay : TL_BEFORE_EVERYTHING;
}

size_t timeline_plan(struct tl_entry *entries, size_t n, time_t t,
		     const struct tl_bounds *b, bool exhaustive)
{
	/* The best event time some certain candidate guarantees. */
	time_t floor_of_best = TL_BEFORE_EVERYTHING;
	for (size_t i = 0; i < n; i++) {
		time_t lo, hi;
		if (entries[i].kind == TL_ECHO)
			continue;
		event_range(&entries[i], b, &lo, &hi);
		if (hi <= t && lo > floor_of_best)
			floor_of_best = lo;
	}
	size_t needed = 0;
	for (size_t i = 0; i < n; i++) {
		struct tl_entry *e = &entries[i];
		time_t lo, hi;
		e->needed = false;
		if (e->kind == TL_ECHO || e->known)
			continue;
		event_range(e, b, &lo, &hi);
		bool could_win = lo <= t && hi >= floor_of_best;
		e->needed = exhaustive || could_win;
		needed += e->needed;
	}
	return needed;
}

static bool beats(const struct tl_entry *a, const struct tl_entry *b)
{
	if (a->event_time != b->event_time)
		return a->event_time > b->event_time;
	if (a->ssm_version != b->ssm_version)
		return a->ssm_version > b->ssm_version;
	return a->order < b->order;
}

long timeline_winner(const struct tl_entry *entries, size_t n, time_t t)
{
	long best = -1;
	for (size_t i = 0; i < n; i++) {
		const struct tl_entry *e = &entries[i];
		if (e->kind == TL_ECHO || !e->known || e->event_time > t)
			continue;
		if (best < 0 || beats(e, &entries[best]))
			best = (long)i;
	}
	return best;
}
