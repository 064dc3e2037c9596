#include "cloudwatch.h"

#include <stdlib.h>
#include <string.h>

#include "http.h"

#define CLOUDWATCH_VERSION "2010-08-01"

/* Endpoint prefix and signing name "monitoring"; the SDKs' service id
 * "CloudWatch" gives AWS_ENDPOINT_URL_CLOUDWATCH. */
const struct aws_service aws_cloudwatch = { "monitoring", "monitoring",
					    "CloudWatch", "CLOUDWATCH",
					    AWS_PROTOCOL_QUERY };

static int add_param(struct buf *b, const char *name, const char *value)
{
	char *v = aws_uri_encode(value, false);
	int rc = v ? buf_printf(b, "&%s=%s", name, v) : -1;
	free(v);
	return rc;
}

int cloudwatch_put_count(struct aws_ctx *ctx, const char *namespace_,
			 const char *metric, const char *dimension,
			 const char *dimension_value, double value, struct err *e)
{
	struct aws_call call;
	bool custom;
	aws_call_init(&call, &aws_cloudwatch, "PutMetricData", "POST");
	call.req.origin = aws_endpoint(ctx, &aws_cloudwatch, &custom);
	call.req.path = strdup("/");
	struct buf *b = &call.req.body;
	int rc = call.req.origin && call.req.path &&
				 buf_puts(b, "Action=PutMetricData&Version="
					     CLOUDWATCH_VERSION) == 0 &&
				 add_param(b, "Namespace", namespace_) == 0 &&
				 add_param(b, "MetricData.member.1.MetricName", metric) == 0 &&
				 buf_printf(b, "&MetricData.member.1.Value=%.17g", value) == 0 &&
				 add_param(b, "MetricData.member.1.Unit", "Count") == 0 &&
				 (!dimension ||
				  (add_param(b, "MetricData.member.1.Dimensions.member.1.Name",
					     dimension) == 0 &&
				   add_param(b, "MetricData.member.1.Dimensions.member.1.Value",
					     dimension_value) == 0)) &&
				 aws_headers_add(&call.req.headers, "Content-Type",
						 "application/x-www-form-urlencoded; "
						 "charset=utf-8") == 0
			 ? 0
			 : -1;
	if (rc < 0)
		err_set(e, ERR_NOMEM, "out of memory");
	else
		rc = aws_perform_one(ctx, &call, e);
	aws_call_release(&call);
	return rc;
}
