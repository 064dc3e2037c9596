/* CloudWatch metrics: the one call ssmbak makes (query protocol).
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html */
#ifndef SSMBAK_CLOUDWATCH_H
#define SSMBAK_CLOUDWATCH_H

#include "aws.h"
#include "err.h"

extern const struct aws_service aws_cloudwatch;

/* One datapoint of unit Count, now, with one dimension (name=value, or
 * none when dimension is NULL). */
int cloudwatch_put_count(struct aws_ctx *ctx, const char *namespace_,
			 const char *metric, const char *dimension,
			 const char *dimension_value, double value, struct err *e);

#endif
