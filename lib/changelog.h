/* The changes themselves, as history and log show them: one key's every
 * recorded change (the change index, and the versions it does not name),
 * or every change of a time window (the log, FORMAT.md "The log"), with
 * the SSM versions no change recorded ("gaps"). */
#ifndef SSMBAK_CHANGELOG_H
#define SSMBAK_CHANGELOG_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "aws.h"
#include "changes.h"
#include "err.h"

struct change_row {
	char *key;              /* the parameter key, "/app/x" */
	struct change_entry c;
	/* A gap: SSM versions gap_from..gap_to of the key were made without
	 * a recorded change (c.event_time is that of the change after it). */
	bool gap;
	long long gap_from, gap_to;
	bool unindexed;         /* read from its version's tags */
	char *value;            /* when asked for (history --show-values) */
};

struct change_rows {
	struct change_row *items;
	size_t n, cap;
};

void change_rows_release(struct change_rows *r);
/* Keeps the rows keep says yes to, in their order; frees the others. */
typedef bool (*change_row_pred)(const struct change_row *row, void *user);
void change_rows_keep(struct change_rows *r, change_row_pred keep, void *user);

/* Every recorded change of one key: its index entries, and the versions
 * no entry names (their tags read; a format 1 delete marker is a delete
 * at its LastModified). Two listings for up to 1,000 changes. */
int changelog_of_key(struct aws_ctx *ctx, const char *bucket,
		     const char *prefix, const char *param_key,
		     struct change_rows *out, struct err *e);

/* Every change whose event time is in [since, until] and for which want
 * says yes, from the log's hours in that window only. */
typedef bool (*changelog_want_fn)(const char *param_key, void *user);
int changelog_window(struct aws_ctx *ctx, const char *bucket,
		     const char *prefix, time_t since, time_t until,
		     changelog_want_fn want, void *user,
		     struct change_rows *out, struct err *e);

/* Newest first (FORMAT.md's order of changes: event second, then a
 * delete over its version, then the SSM version), then adds a gap row
 * wherever a key's version jumps: v3 after v1, or v2 as the first after a
 * delete (a recreate starts at 1). Pure. */
void changelog_order(struct change_rows *r);
int changelog_add_gaps(struct change_rows *r);

/* Reads each row's version for what the index entry left out (a partial
 * entry) and, when values, its body; rows that are deletes or gaps are
 * left alone. One GetObject a row, all at once. */
int changelog_fetch(struct aws_ctx *ctx, const char *bucket,
		    const char *prefix, struct change_rows *r, bool values,
		    struct err *e);

#endif
