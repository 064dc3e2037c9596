#include "sqs.h"

#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "xml.h"

#define SQS_VERSION "2012-11-05"

static int prepare(struct aws_ctx *ctx, struct aws_call *call, const char *action,
		   const char *queue_url)
{
	bool custom;
	aws_call_init(call, &aws_sqs, action, "POST");
	call->req.origin = aws_endpoint(ctx, &aws_sqs, &custom);
	call->req.path = strdup("/");
	char *url = aws_uri_encode(queue_url, false);
	int rc = call->req.origin && call->req.path && url &&
				 buf_printf(&call->req.body,
					    "Action=%s&Version=" SQS_VERSION
					    "&QueueUrl=%s",
					    action, url) == 0 &&
				 aws_headers_add(&call->req.headers, "Content-Type",
						 "application/x-www-form-urlencoded; "
						 "charset=utf-8") == 0
			 ? 0
			 : -1;
	free(url);
	return rc;
}

/* <Attribute><Name>N</Name><Value>V</Value></Attribute>: V as a number. */
static long attribute(struct xml_doc *doc, const char *name)
{
	struct xml_node *result = xml_find(xml_root(doc), "GetQueueAttributesResult");
	for (struct xml_node *a = result ? xml_child(result, "Attribute") : NULL; a;
	     a = xml_next(a, "Attribute")) {
		char *key = xml_child_text(a, "Name");
		char *value = xml_child_text(a, "Value");
		long n = key && value && strcmp(key, name) == 0 ? strtol(value, NULL, 10)
							      : -1;
		free(key);
		free(value);
		if (n >= 0)
			return n;
	}
	return -1;
}

int sqs_queue_messages(struct aws_ctx *ctx, const char *queue_url, long *count,
		       struct err *e)
{
	struct aws_call call;
	int rc = -1;
	if (prepare(ctx, &call, "GetQueueAttributes", queue_url) < 0 ||
	    buf_puts(&call.req.body, "&AttributeName.1=ApproximateNumberOfMessages"
				     "&AttributeName.2=ApproximateNumberOfMessagesNotVisible") < 0) {
		err_set(e, ERR_NOMEM, "out of memory");
	} else if (aws_perform_one(ctx, &call, e) == 0) {
		struct xml_doc *doc = xml_parse(buf_str(&call.resp.body),
						call.resp.body.len);
		long visible = attribute(doc, "ApproximateNumberOfMessages");
		long hidden = attribute(doc, "ApproximateNumberOfMessagesNotVisible");
		xml_free(doc);
		if (visible < 0 || hidden < 0) {
			err_set(e, ERR_PARSE, "GetQueueAttributes answered no message counts");
			err_context(e, aws_sqs.label, "GetQueueAttributes");
		} else {
			*count = visible + hidden;
			rc = 0;
		}
	}
	aws_call_release(&call);
	return rc;
}

int sqs_delete_queue(struct aws_ctx *ctx, const char *queue_url, struct err *e)
{
	struct aws_call call;
	int rc = -1;
	if (prepare(ctx, &call, "DeleteQueue", queue_url) < 0) {
		err_set(e, ERR_NOMEM, "out of memory");
	} else {
		rc = aws_perform_one(ctx, &call, e);
		if (rc < 0 && strstr(e->code, "NonExistentQueue"))
			rc = 0;
	}
	aws_call_release(&call);
	return rc;
}
