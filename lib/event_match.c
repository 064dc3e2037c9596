#include "event_match.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

static long long distance(const struct em_version *v, time_t event)
{
	long long d = (long long)floor(v->last_modified) - (long long)event;
	return d < 0 ? -d : d;
}

static bool candidate(const struct em_version *v, time_t event)
{
	return distance(v, event) <= EVENT_MATCH_TOLERANCE;
}

int event_match_is_ambiguous(const time_t *events, size_t n_events,
			     const struct em_version *versions, size_t n_versions)
{
	for (size_t i = 0; i < n_events; i++) {
		size_t n = 0;
		for (size_t j = 0; j < n_versions; j++)
			n += candidate(&versions[j], events[i]);
		if (n > 1)
			return 1;
	}
	return 0;
}

static bool already_recorded(const struct em_version *v,
			     const struct em_recorded *recorded, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (recorded[i].version == v->version && candidate(v, recorded[i].event_time))
			return true;
	return false;
}

/* The version current at the event when none lies near it: the highest
 * made at or before its second. */
static long current_at(time_t event, const struct em_version *versions, size_t n)
{
	long best = -1;
	for (size_t j = 0; j < n; j++)
		if ((time_t)floor(versions[j].last_modified) <= event &&
		    (best < 0 || versions[j].version > versions[best].version))
			best = (long)j;
	return best;
}

/* Among the candidates of the event, the nearest in time, then the lowest
 * version; those taken only when every candidate is. */
static long pick(time_t event, const struct em_version *versions, size_t n,
		 const bool *taken)
{
	long best = -1;
	bool best_taken = true;
	for (size_t j = 0; j < n; j++) {
		if (!candidate(&versions[j], event))
			continue;
		bool better = best < 0 || (best_taken && !taken[j]) ||
			      (best_taken == taken[j] &&
			       (distance(&versions[j], event) < distance(&versions[best], event) ||
				(distance(&versions[j], event) == distance(&versions[best], event) &&
				 versions[j].version < versions[best].version)));
		if (better) {
			best = (long)j;
			best_taken = taken[j];
		}
	}
	return best;
}

void event_match(const time_t *events, size_t n_events,
		 const struct em_version *versions, size_t n_versions,
		 const struct em_recorded *recorded, size_t n_recorded, long *out)
{
	bool *taken = calloc(n_versions + 1, sizeof(*taken));
	size_t *order = calloc(n_events + 1, sizeof(*order));
	if (!taken || !order) {
		/* Without room to share, each event takes its nearest version. */
		for (size_t i = 0; i < n_events; i++)
			out[i] = current_at(events[i], versions, n_versions);
		free(taken);
		free(order);
		return;
	}
	for (size_t j = 0; j < n_versions; j++)
		taken[j] = already_recorded(&versions[j], recorded, n_recorded);
	/* Events in time order (stable): earlier events take earlier versions. */
	for (size_t i = 0; i < n_events; i++) {
		size_t k = i;
		while (k > 0 && events[order[k - 1]] > events[i]) {
			order[k] = order[k - 1];
			k--;
		}
		order[k] = i;
	}
	for (size_t k = 0; k < n_events; k++) {
		size_t i = order[k];
		long j = pick(events[i], versions, n_versions, taken);
		if (j < 0)
			j = current_at(events[i], versions, n_versions);
		else
			taken[j] = true;
		out[i] = j;
	}
	free(taken);
	free(order);
}
