#include "reconcile_lambda.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cloudwatch.h"
#include "reconcile.h"
#include "util.h"

static long min_age(void)
{
	const char *s = getenv("SSMBAK_RECONCILE_MIN_AGE");
	char *end = NULL;
	long v = s && *s ? strtol(s, &end, 10) : -1;
	return v >= 0 && end && !*end ? v : RECONCILE_DEFAULT_MIN_AGE;
}

static void log_findings(const struct rc_report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct rc_finding *f = &r->items[i];
		log_msg(f->outcome == RC_REPAIRED ? LOG_WARN : LOG_ERROR,
			"reconcile: %s %s version %lld, event %lld: %s%s%s",
			f->name, rc_kind_name(f->kind), f->version,
			(long long)f->event_time, rc_outcome_name(f->outcome),
			f->reason[0] ? ": " : "", f->reason);
	}
}

/* What the alarm watches: every repair means an event was lost. */
static int publish(struct aws_ctx *ctx, const struct rc_report *r, struct err *e)
{
	const char *function = getenv("AWS_LAMBDA_FUNCTION_NAME");
	double repaired = (double)(r->repaired_versions + r->repaired_deletes +
				   r->filled_gaps);
	return cloudwatch_put_count(ctx, RECONCILE_METRIC_NAMESPACE,
				    RECONCILE_METRIC_NAME,
				    function && *function ? "FunctionName" : NULL,
				    function, repaired, e);
}

void reconcile_lambda_handle(struct lambda_runtime *rt,
			     const struct lambda_invocation *inv,
			     struct aws_ctx *ssm, struct aws_ctx *s3,
			     const char *bucket, const char *prefix)
{
	struct rc_opts o = { .bucket = bucket, .prefix = prefix, .path = "/",
			     .recursive = true, .repair = true, .now = time(NULL),
			     .min_age = min_age() };
	struct rc_report report;
	struct err e = { 0 }, answer = { 0 };
	char line[ERR_LINE_MAX];
	int rc = reconcile_run(ssm, s3, &o, &report, &e);
	if (rc == 0) {
		log_findings(&report);
		log_msg(LOG_INFO, "reconcile: %zu keys, %zu parameters, %zu histories "
				  "read: repaired %zu versions, %zu deletes, %zu gaps; "
				  "%zu failed, %zu left",
			report.keys, report.parameters, report.histories,
			report.repaired_versions, report.repaired_deletes,
			report.filled_gaps, report.failed,
			report.n - report.repaired_versions - report.repaired_deletes -
				report.filled_gaps);
		rc = publish(ssm, &report, &e);
	}
	if (rc < 0) {
		err_line(&e, line, sizeof(line));
		log_msg(LOG_ERROR, "reconcile failed: %s", line);
		rc = lambda_fail(rt, inv->request_id, "ReconcileFailed", line, &answer);
	} else if (report.failed) {
		snprintf(line, sizeof(line), "%zu repairs failed (logged)",
			 report.failed);
		rc = lambda_fail(rt, inv->request_id, "ReconcileFailed", line, &answer);
	} else {
		rc = lambda_respond(rt, inv->request_id, "{}", &answer);
	}
	if (rc < 0)
		log_msg(LOG_ERROR, "could not answer %s: %s", inv->request_id,
			answer.message);
	rc_report_release(&report);
}
