/* The pure heart of restore: which of one key's recorded changes answers
 * for a time T. FORMAT.md, "Choosing the version for a time". No I/O. */
#ifndef SSMBAK_TIMELINE_H
#define SSMBAK_TIMELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct tl_entry {
	time_t event_time;
	long long ssm_version; /* 0: not recorded */
	bool is_delete;
	/* Position of its data version or delete marker among the key's, 0
	 * the newest in S3's order: decides only what nothing else can. */
	size_t order;
};

/* Whether a is the later change of the two: the later event second; in
 * the same second a delete beats a create or update of the same or a lower
 * SSM version, otherwise the higher version wins; then the newer write. */
bool timeline_later(const struct tl_entry *a, const struct tl_entry *b);
/* The latest change with event_time <= t; -1 when none is. */
long timeline_winner(const struct tl_entry *entries, size_t n, time_t t);
/* The latest change of all. -1 when n is 0. */
long timeline_latest(const struct tl_entry *entries, size_t n);

#endif
