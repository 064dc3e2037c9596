/* Pure: which SSM version each "Parameter Store Change" event of one
 * parameter stands for. EventBridge stamps the event (whole seconds) and
 * SSM the version (LastModifiedDate, milliseconds) with separate clocks,
 * and several versions can share a second; so an event's candidates are
 * the versions within EVENT_MATCH_TOLERANCE seconds either side, and the
 * events of a batch (and the versions the bucket already holds) share
 * them out one each. No I/O. */
#ifndef SSMBAK_EVENT_MATCH_H
#define SSMBAK_EVENT_MATCH_H

#include <stddef.h>
#include <time.h>

#define EVENT_MATCH_TOLERANCE 2

struct em_version {
	long long version;
	double last_modified;
};

struct em_recorded {
	long long version;
	time_t event_time;
};

/* out[i]: the index into versions of event i's version, or -1 when no
 * version of the history can be its (the value was not captured). */
void event_match(const time_t *events, size_t n_events,
		 const struct em_version *versions, size_t n_versions,
		 const struct em_recorded *recorded, size_t n_recorded, long *out);
/* Whether any event has more than one candidate: only then does the
 * bucket's record of the parameter need reading. */
int event_match_is_ambiguous(const time_t *events, size_t n_events,
			     const struct em_version *versions, size_t n_versions);

#endif
