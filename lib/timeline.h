/* The pure heart of restore: one key's recorded changes, which of them
 * could be the answer for a time T (so only those need their tags
 * fetched), and, once known, which one is. FORMAT.md, "Choosing the version
 * for a time" and "Bounds that make restore fast". No I/O here. */
#ifndef SSMBAK_TIMELINE_H
#define SSMBAK_TIMELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

enum tl_kind {
	TL_VALUE,      /* a version holding a value */
	TL_TOMBSTONE,  /* a size-0 version: a delete at its event time */
	TL_MARKER,     /* a delete marker of format 1: a delete at LastModified */
	TL_ECHO,       /* a delete marker repeating the tombstone below it */
};

struct tl_entry {
	enum tl_kind kind;
	double last_modified;
	size_t order;       /* position in S3's listing, 0 = newest */
	bool bounded;       /* written under the delay bound (format 2 era) */
	bool known;         /* event_time and ssm_version are known */
	time_t event_time;
	long long ssm_version;
	bool needed;        /* set by timeline_plan: fetch its details */
};

struct tl_bounds {
	time_t max_delay;   /* RECORD_MAX_DELAY_SECONDS */
	time_t clock_skew;  /* RECORD_CLOCK_SKEW_SECONDS */
};

/* entries[] come newest first, as S3 lists one key's versions; is_marker
 * and size tell the kinds apart. */
void timeline_classify(struct tl_entry *entries, size_t n,
		       const bool *is_marker, const long long *sizes);
/* Marks the entries whose details must be fetched to answer for T: every
 * one that could still be the latest change at or before T. With
 * exhaustive, every entry not yet known. Returns how many are needed. */
size_t timeline_plan(struct tl_entry *entries, size_t n, time_t t,
		     const struct tl_bounds *b, bool exhaustive);
/* The winner among known entries with event_time <= t: latest event time,
 * then higher SSM version, then newer in S3's order. -1 when no change is
 * at or before t. Entries left unknown by the plan cannot win. */
long timeline_winner(const struct tl_entry *entries, size_t n, time_t t);

#endif
