#include "timeline.h"

bool timeline_later(const struct tl_entry *a, const struct tl_entry *b)
{
	if (a->event_time != b->event_time)
		return a->event_time > b->event_time;
	/* (version, is_delete) in lexical order: a delete of version d
	 * beats a write of version v exactly when v <= d. */
	if (a->ssm_version != b->ssm_version)
		return a->ssm_version > b->ssm_version;
	if (a->is_delete != b->is_delete)
		return a->is_delete;
	return a->order < b->order;
}

long timeline_winner(const struct tl_entry *entries, size_t n, time_t t)
{
	long best = -1;
	for (size_t i = 0; i < n; i++)
		if (entries[i].event_time <= t &&
		    (best < 0 || timeline_later(&entries[i], &entries[best])))
			best = (long)i;
	return best;
}

long timeline_latest(const struct tl_entry *entries, size_t n)
{
	long best = -1;
	for (size_t i = 0; i < n; i++)
		if (best < 0 || timeline_later(&entries[i], &entries[best]))
			best = (long)i;
	return best;
}
