/* The bucket format (FORMAT.md): how one change of a parameter becomes S3
 * writes, and how a stored version reads back. Writers: backup-lambda and
 * backfill; reader: preview/restore. */
#ifndef SSMBAK_RECORD_H
#define SSMBAK_RECORD_H

#include <stdbool.h>
#include <time.h>

#include "aws.h"
#include "http.h"
#include "s3.h"
#include "ssm.h"

#define RECORD_FORMAT 2
/* FORMAT.md, "Bounds that make restore fast". */
#define RECORD_MAX_DELAY_SECONDS 3600
#define RECORD_CLOCK_SKEW_SECONDS 5
/* A write this late (or later) goes through the late index; the margin
 * covers the time the write itself may take with retries. */
#define RECORD_LATE_AFTER_SECONDS (RECORD_MAX_DELAY_SECONDS - 600)
#define RECORD_METADATA_BUDGET 1900 /* bytes; S3's limit is 2 KB */
#define RECORD_PREFIX ".ssmbak/"
#define RECORD_LATE_PREFIX ".ssmbak/late"
#define RECORD_EXTRA_PREFIX ".ssmbak/extra/"
#define RECORD_FORMAT_MARKER ".ssmbak/format"
#define RECORD_UNBOUNDED_PREFIX ".ssmbak/unbounded/"

enum record_op { RECORD_CREATE, RECORD_UPDATE, RECORD_DELETE, RECORD_BACKFILL };

struct record {
	enum record_op op;
	time_t event_time;
	/* name, type, version, last_modified and the metadata fields; value
	 * is NULL for a delete. */
	struct ssm_parameter param;
	/* Set when reading: the side object holding the description and
	 * allowed pattern (FORMAT.md), to fetch before use. */
	char *extra_ref;
};

void record_release(struct record *r);
const char *record_op_name(enum record_op op);
int record_op_parse(const char *s, enum record_op *op);

/* "/app/x" for "/app/x", "/foo" for "foo" (format 1's rule). Caller frees. */
char *record_key_for_name(const char *name);

/* Format 1's lossy description tag: only the characters S3 tags allow,
 * at most 256 of them. Caller frees. */
char *record_legacy_description(const char *description);

/* The S3 writes for one record, in stages that must run in order:
 * 0: side object and late-index marker, 1: the version (value or
 * tombstone), 2: the delete marker (deletes only). */
#define RECORD_STAGES 3
struct record_write {
	struct aws_call calls[RECORD_STAGES][2];
	size_t n[RECORD_STAGES];
	struct err err;  /* the first failure, if any */
	bool failed;
	int failed_stage;
};

int record_prepare_write(struct aws_ctx *ctx, const char *bucket,
			 const struct record *r, time_t now,
			 struct record_write *w, struct err *e);
void record_write_release(struct record_write *w);
/* Runs every write, all records' stage 0 at once, then stage 1, then 2; a
 * record whose stage failed goes no further. Returns how many failed. */
size_t record_write_all(struct aws_ctx *ctx, struct record_write **writes,
			size_t n);

/* A run of writes whose event times may lie long before the writes
 * (a backfill): announced before its first write, closed after its last,
 * so that restore knows which write times carry no delay bound. FORMAT.md,
 * "Backfill runs". */
struct record_run {
	time_t start;
	char id[17];
};

struct record_interval {
	double start;
	double end; /* INFINITY while the run is not closed */
};

void record_run_begin(struct record_run *run, time_t now);
/* .ssmbak/unbounded/START/ID and .ssmbak/unbounded/START/ID/END */
char *record_run_open_key(const struct record_run *run);
char *record_run_closed_key(const struct record_run *run, time_t end);
/* The runs found in a listing of RECORD_UNBOUNDED_PREFIX; -1 out of
 * memory. */
int record_intervals_from_listing(const struct s3_version_list *listing,
				  struct record_interval **out, size_t *n);
bool record_in_intervals(const struct record_interval *intervals, size_t n,
			 double when);

/* Reading back. From tags (format 1 or 2): event time, type, legacy
 * description, version, op. Returns -1 when ssmbakTime is missing or bad. */
int record_from_tags(const struct aws_headers *tags, struct record *out);
/* From a GetObject answer's format 2 metadata; returns 1 when present, 0
 * when the object has none (format 1), -1 when it is malformed. The body
 * is not read here. */
int record_from_metadata(const struct aws_response *resp, struct record *out);

/* Fills description and allowed pattern from a side object's body. */
int record_apply_extra(struct record *r, const char *json, size_t len);

/* Encodes/decodes metadata values (percent-encoded UTF-8). */
char *record_meta_encode(const char *s);
char *record_meta_decode(const char *s);

#endif
