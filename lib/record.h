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
#include "changes.h"

#define RECORD_FORMAT 3
#define RECORD_METADATA_BUDGET 1900 /* bytes; S3's limit is 2 KB */
#define RECORD_PREFIX ".ssmbak/"
#define RECORD_EXTRA_PREFIX ".ssmbak/extra/"

struct record {
	enum record_op op;
	time_t event_time;
	/* name, type, version, last_modified and the metadata fields; value
	 * is NULL for a delete. */
	struct ssm_parameter param;
	/* Set when reading: the side object holding the description and
	 * allowed pattern (FORMAT.md), to fetch before use. */
	char *extra_ref;
	/* The parameter's resource tags at capture time, a JSON object with
	 * sorted keys; NULL when not captured (format 1, older writers). */
	char *tags;
	/* A gap: the id of the event it stands for, so two gaps of one key
	 * in one second are two entries and a redelivery is the same one;
	 * NULL when the event had none. */
	char *gap_id;
};

void record_release(struct record *r);

/* "/app/x" for "/app/x", "/foo" for "foo" (format 1's rule). Caller frees. */
char *record_key_for_name(const char *name);

/* Format 1's lossy description tag: only the characters S3 tags allow,
 * at most 256 of them. Caller frees. */
char *record_legacy_description(const char *description);

/* The S3 writes for one record, in stages that must run in order:
 * 0: the side object (only when the metadata does not fit), 1: the data
 * version (PutObject) or delete marker (DeleteObject), 2: its change index
 * entry, named after the version id stage 1 answered with, 3: the same
 * entry in the time-ordered log (FORMAT.md, "The log"), so a log entry
 * always has its change entry. */
#define RECORD_STAGES 4
struct record_write {
	struct aws_call calls[RECORD_STAGES];
	bool prepared[RECORD_STAGES];
	const char *bucket;    /* borrowed */
	char *prefix;          /* the key prefix */
	char *param_key;       /* "/app/x" */
	struct change_entry entry; /* its version_id set after stage 1 */
	bool indexed;          /* false: the key is too long for an entry */
	struct err err;        /* the first failure, if any */
	bool failed;
	int failed_stage;
};

int record_prepare_write(struct aws_ctx *ctx, const char *bucket,
			 const char *prefix, const struct record *r,
			 struct record_write *w, struct err *e);
void record_write_release(struct record_write *w);
/* Runs every write, all records' stage 0 at once, then stage 1, then 2; a
 * record whose stage failed goes no further. Returns how many failed. */
size_t record_write_all(struct aws_ctx *ctx, struct record_write **writes,
			size_t n);
/* Whether a failed write can be tried again (not a configuration error
 * such as a bucket without versioning, nor out of memory), and makes it
 * ready to go on from the stage that failed: a version S3 already made is
 * not written twice. */
bool record_write_rearm(struct record_write *w);

/* Reading back. From tags (format 1 or 2): event time, type, legacy
 * description, version, op. Returns -1 when ssmbakTime is missing or bad. */
int record_from_tags(const struct aws_headers *tags, struct record *out);
/* What the change index says of a record (its version id aside). */
void record_entry_fields(const struct record *r, struct change_entry *c);
/* The record a finished GetObjectTagging call of version_id holds; -1
 * with *e set when the call failed, the answer is not a Tagging, or the
 * version carries no ssmbak tags. */
int record_from_tagging_call(const struct aws_call *call,
			     const char *version_id, struct record *out,
			     struct err *e);
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
