/* A tree's recorded state at a time, with values: what export prints and
 * diff compares. The same choosing as preview (lib/choose, lib/timeline),
 * then the winners' versions read (FORMAT.md, "Reading"). */
#ifndef SSMBAK_STATE_H
#define SSMBAK_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "aws.h"
#include "changes.h"
#include "err.h"
#include "record.h"

struct state_item {
	char *key;               /* the parameter key, "/app/x" */
	struct change_entry win; /* the change that answers for the time */
	bool deleted;            /* it is a delete: the key did not exist */
	bool gap;                /* a change was made but its value never
				  * recorded (FORMAT.md, "Gaps"): unknown */
	struct record rec;       /* the winner's details, its value in
				  * rec.param.value */
};

struct tree_state {
	struct state_item *items; /* in key order */
	size_t n, cap;
	bool key_mode;            /* PATH was one key */
	char *scope;              /* "/app/" or, in key mode, "/app/x" */
};

void tree_state_release(struct tree_state *s);

struct state_query {
	const char *bucket;
	const char *prefix;   /* the key prefix, normalized */
	const char *path;     /* "/app/" or "/app/x" (key, else path) */
	bool recursive;
	time_t time;
};

/* Every key under path that had a change at or before time; deleted ones
 * flagged. Reads each live winner's version (one GetObject, plus its side
 * object when it has one). */
int tree_state_at(struct aws_ctx *ctx, const struct state_query *q,
		  struct tree_state *out, struct err *e);

#endif
