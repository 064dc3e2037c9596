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
	bool failed;
	struct err err;
};

/* Every call at once (ListTagsForResource, and GetParameterHistory's
 * pages for the labels); each item says how it went. */
void capture_extras(struct aws_ctx *ctx, struct capture_extra *x, size_t n);
void capture_extra_release(struct capture_extra *x);

#endif
