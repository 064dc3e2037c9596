/* Reading what Lambda hands backup-lambda: an SQS batch whose records carry
 * EventBridge "Parameter Store Change" events, or one bare EventBridge
 * event. Pure parsing, no I/O.
 * https://docs.aws.amazon.com/systems-manager/latest/userguide/monitoring-eventbridge-events.html
 * https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html */
#ifndef SSMBAK_SSM_EVENT_H
#define SSMBAK_SSM_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "err.h"

struct ssm_event {
	char *message_id; /* SQS messageId; NULL for a bare event */
	char *event_id;   /* EventBridge's id of the event; NULL when absent */
	char *name;
	char *operation;  /* Create, Update, Delete, LabelParameterVersion, ... */
	char *type;       /* String, StringList, SecureString */
	time_t time;      /* the event's time, whole seconds */
	char error[160];  /* set when this record is not a usable event */
};

struct ssm_event_batch {
	struct ssm_event *items;
	size_t n;
	bool is_sqs; /* answer with batchItemFailures */
};

/* -1 with *e set when the input is not a JSON object at all; otherwise 0,
 * each record parsed or carrying its own error. */
int ssm_event_batch_parse(const char *json, size_t len,
			  struct ssm_event_batch *out, struct err *e);
void ssm_event_batch_release(struct ssm_event_batch *b);

/* Whether Lambda was handed an EventBridge schedule's event (source
 * aws.events, detail-type "Scheduled Event"): the stack's reconcile.
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-run-lambda-schedule.html */
bool ssm_event_is_scheduled(const char *json, size_t len);

#endif
