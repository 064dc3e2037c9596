/* backup-lambda's scheduled reconcile (template.yaml, "Reconcile"): on an
 * EventBridge schedule's event, verify --repair over the whole tree
 * (lib/reconcile.c), a log line per repair (names, never values), and the
 * CloudWatch metric of what it repaired, which alarms when not 0: events
 * were lost. */
#ifndef SSMBAK_RECONCILE_LAMBDA_H
#define SSMBAK_RECONCILE_LAMBDA_H

#include "aws.h"
#include "lambda_runtime.h"

#define RECONCILE_METRIC_NAMESPACE "ssmbak"
#define RECONCILE_METRIC_NAME "RepairedChanges"
/* Changes younger than this are left to their events, which may still be
 * on their way (SQS retries them for up to 5 visibility timeouts);
 * SSMBAK_RECONCILE_MIN_AGE overrides it. */
#define RECONCILE_DEFAULT_MIN_AGE 900

void reconcile_lambda_handle(struct lambda_runtime *rt,
			     const struct lambda_invocation *inv,
			     struct aws_ctx *ssm, struct aws_ctx *s3,
			     const char *bucket, const char *prefix);

#endif
