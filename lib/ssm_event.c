#include "ssm_event.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "ssm_name.h"
#include "timefmt.h"

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void parse_eventbridge(json_t *event, struct ssm_event *out)
{
	json_t *detail = json_object_get(event, "detail");
	const char *detail_type =
		json_string_value(json_object_get(event, "detail-type"));
	const char *when = json_string_value(json_object_get(event, "time"));
	const char *name = json_string_value(json_object_get(detail, "name"));
	const char *operation =
		json_string_value(json_object_get(detail, "operation"));
	const char *type = json_string_value(json_object_get(detail, "type"));
	double t;
	if (!detail_type || strcmp(detail_type, "Parameter Store Change") != 0) {
		snprintf(out->error, sizeof(out->error),
			 "not a Parameter Store Change event");
		return;
	}
	if (!when || time_parse_iso8601(when, &t) < 0 || !name || !*name ||
	    !operation || !*operation) {
		snprintf(out->error, sizeof(out->error),
			 "event lacks time, detail.name or detail.operation");
		return;
	}
	json_t *type_member = json_object_get(detail, "type");
	if (type_member && !json_is_string(type_member)) {
		snprintf(out->error, sizeof(out->error),
			 "event detail.type is not a string");
		return;
	}
	/* The name becomes an S3 key and a GetParameterHistory request: it
	 * must be one SSM could have. */
	const char *bad_name = ssm_name_problem(name, SSM_NAME_PARAMETER, NULL);
	if (bad_name) {
		snprintf(out->error, sizeof(out->error),
			 "event detail.name is not a parameter name: it %s",
			 bad_name);
		return;
	}
	out->time = (time_t)floor(t);
	const char *id = json_string_value(json_object_get(event, "id"));
	out->event_id = id && *id ? strdup(id) : NULL;
	out->name = dup_or_null(name);
	out->operation = dup_or_null(operation);
	out->type = dup_or_null(type ? type : "String");
	if (!out->name || !out->operation || !out->type)
		snprintf(out->error, sizeof(out->error), "out of memory");
}

static void parse_sqs_record(json_t *record, struct ssm_event *out)
{
	const char *id = json_string_value(json_object_get(record, "messageId"));
	const char *body = json_string_value(json_object_get(record, "body"));
	out->message_id = strdup(id ? id : "");
	if (!id) {
		snprintf(out->error, sizeof(out->error),
			 "SQS record without messageId");
		return;
	}
	json_t *body_member = json_object_get(record, "body");
	json_t *inner = body ? json_loadb(body, json_string_length(body_member),
					  0, NULL)
			     : NULL;
	if (!json_is_object(inner))
		snprintf(out->error, sizeof(out->error),
			 "SQS record body is not a JSON object");
	else
		parse_eventbridge(inner, out);
	json_decref(inner);
}

int ssm_event_batch_parse(const char *json, size_t len,
			  struct ssm_event_batch *out, struct err *e)
{
	memset(out, 0, sizeof(*out));
	json_t *root = json_loadb(json, len, 0, NULL);
	if (!json_is_object(root)) {
		json_decref(root);
		err_set(e, ERR_PARSE, "the event is not a JSON object");
		return -1;
	}
	json_t *records = json_object_get(root, "Records");
	out->is_sqs = json_is_array(records);
	out->n = out->is_sqs ? json_array_size(records) : 1;
	out->items = calloc(out->n ? out->n : 1, sizeof(*out->items));
	if (!out->items) {
		json_decref(root);
		err_set(e, ERR_NOMEM, "out of memory");
		return -1;
	}
	if (!out->is_sqs)
		parse_eventbridge(root, &out->items[0]);
	for (size_t i = 0; out->is_sqs && i < out->n; i++)
		parse_sqs_record(json_array_get(records, i), &out->items[i]);
	json_decref(root);
	return 0;
}

void ssm_event_batch_release(struct ssm_event_batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free(b->items[i].message_id);
		free(b->items[i].event_id);
		free(b->items[i].name);
		free(b->items[i].operation);
		free(b->items[i].type);
	}
	free(b->items);
	memset(b, 0, sizeof(*b));
}

bool ssm_event_is_scheduled(const char *json, size_t len)
{
	json_t *root = json_loadb(json, len, 0, NULL);
	const char *source = json_string_value(json_object_get(root, "source"));
	const char *detail_type =
		json_string_value(json_object_get(root, "detail-type"));
	bool yes = source && detail_type && strcmp(source, "aws.events") == 0 &&
		   strcmp(detail_type, "Scheduled Event") == 0;
	json_decref(root);
	return yes;
}
