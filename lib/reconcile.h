/* Verifying the bucket against SSM, and repairing what the events missed
 * (FORMAT.md, "Repairs"). Used by `ssmbak verify` and by backup-lambda's
 * scheduled reconcile. Data path: one scan of the tree (data versions
 * joined with the index) -> DescribeParameters (50 a page) -> the history
 * of each parameter whose current version the bucket lacks -> findings ->
 * with repair, one record each (lib/record.c). Never prints: the caller
 * reports the findings, which never hold a value. */
#ifndef SSMBAK_RECONCILE_H
#define SSMBAK_RECONCILE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "aws.h"
#include "err.h"

enum rc_kind {
	RC_MISSED_VERSION, /* a version SSM has that the bucket lacks */
	RC_MISSED_DELETE,  /* the bucket says it exists, SSM no longer has it */
	RC_GAP,            /* an index entry of op Gap (value not captured) */
	RC_UNINDEXED,      /* a data version or marker no entry names */
};

enum rc_outcome {
	RC_FOUND,     /* listed only (no --repair) */
	RC_REPAIRED,  /* recorded now */
	RC_FAILED,    /* the write failed: reason says why */
	RC_CANNOT,    /* repair cannot fix it: reason says what can */
};

struct rc_finding {
	enum rc_kind kind;
	char *name;           /* SSM's name, or the key when SSM has none */
	long long version;    /* SSM version; 0 when not known */
	time_t event_time;    /* the (recorded or to be recorded) event time */
	double last_modified; /* SSM's LastModifiedDate; 0 when not known */
	char *version_id;     /* RC_UNINDEXED: the S3 version */
	enum rc_outcome outcome;
	char reason[200];
};

struct rc_report {
	struct rc_finding *items;
	size_t n, cap;
	size_t keys;          /* keys of the scope the bucket has */
	size_t parameters;    /* parameters of the scope SSM has */
	size_t histories;     /* GetParameterHistory calls made */
	size_t repaired_versions, repaired_deletes, filled_gaps, failed;
};

void rc_report_release(struct rc_report *r);
/* Whether the bucket is complete for the scope: nothing is left that is
 * not repaired. */
bool rc_report_complete(const struct rc_report *r);
const char *rc_kind_name(enum rc_kind k);
const char *rc_outcome_name(enum rc_outcome o);

struct rc_opts {
	const char *bucket;
	const char *prefix;   /* the key prefix, normalized */
	const char *path;     /* "/", "/app/", "/app/x" (scope.h's rules) */
	bool recursive;
	bool repair;
	time_t now;           /* when a missed delete is noticed */
	/* Changes younger than this many seconds are left alone: their
	 * events may still be on their way (the scheduled reconcile). */
	long min_age;
	/* Called now and then, for progress on a terminal; may be NULL. */
	void (*progress)(void *user, const char *phase, size_t done);
	void *progress_user;
};

/* ssm: the context for SSM calls; s3: the bucket's (another region's,
 * for an organization's central bucket). -1 with *e set when the scan or
 * SSM's listing failed (nothing is written then); a failed repair write
 * is a finding with outcome RC_FAILED, not an error. */
int reconcile_run(struct aws_ctx *ssm, struct aws_ctx *s3,
		  const struct rc_opts *o, struct rc_report *out, struct err *e);

#endif
