/* What ssmbak keeps beside a value (FORMAT.md, "Tags, labels, policies,
 * user"): reading it from SSM at capture time, and putting it back on
 * restore. */
#ifndef SSMBAK_EXTRAS_H
#define SSMBAK_EXTRAS_H

#include <stdbool.h>
#include <stddef.h>

#include "aws.h"
#include "err.h"
#include "http.h"

/* One parameter to capture: its resource tags always, and the labels of
 * one version when version is not 0 (a writer that has no history at
 * hand: backfill). */
struct capture_extra {
	const char *name;  /* borrowed */
	long long version;
	char *tags;        /* out: JSON object, sorted keys */
	char *labels;      /* out: joined by ',', NULL for none */
	bool gone;         /* the parameter no longer exists */
	/* ListTagsForResource was denied (a role from before tags were
	 * recorded): tags stay NULL, "not recorded", and the rest is kept:
	 * a value is never lost for its tags. */
	bool tags_denied;
	bool failed;
	struct err err;
};

/* Every call at once (ListTagsForResource, and GetParameterHistory's
 * pages for the labels); each item says how it went. */
void capture_extras(struct aws_ctx *ctx, struct capture_extra *x, size_t n);
void capture_extra_release(struct capture_extra *x);

/* Restore: one parameter restore has just written (PutParameter), to get
 * the recorded tags and labels back. NULL recorded fields were not
 * recorded (an older writer) and are left alone. */
struct extras_target {
	const char *name;    /* borrowed */
	const char *tags;    /* recorded: JSON object */
	const char *labels;  /* recorded: joined by ',' */
	bool failed;
	struct err err;
};

/* Tags: ListTagsForResource, then AddTagsToResource for the missing or
 * different ones and RemoveTagsFromResource for the others. Labels:
 * LabelParameterVersion on the newest version, the one restore made
 * (SSM moves a label that another version holds). All at once a stage. */
void extras_restore(struct aws_ctx *ctx, struct extras_target *t, size_t n);

#endif
