/* backup-lambda: the Lambda (custom runtime; the binary is its bootstrap)
 * that records every Parameter Store change in the bucket. Data path per
 * invocation: event -> parse changes -> SSM history of each changed
 * parameter -> the version current at the event -> S3 writes
 * (lib/record.c, FORMAT.md) -> the SQS partial batch response.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "commands.h"
#include "lib/aws.h"
#include "lib/event_match.h"
#include "lib/exitcode.h"
#include "lib/extras.h"
#include "lib/http.h"
#include "lib/lambda_runtime.h"
#include "lib/reconcile_lambda.h"
#include "lib/record.h"
#include "lib/s3.h"
#include "lib/scan.h"
#include "lib/ssm.h"
#include "lib/ssm_event.h"
#include "lib/sts.h"
#include "lib/timeline.h"
#include "lib/util.h"

static const char usage[] =
	"usage: ssmbak backup-lambda\n"
	"       bootstrap   (the same, as AWS Lambda runs it)\n"
	"\n"
	"The AWS Lambda function that records every Parameter Store change in\n"
	"the backup bucket. It runs inside Lambda (runtime provided.al2023) and\n"
	"reads SQS batches of EventBridge \"Parameter Store Change\" events; on an\n"
	"EventBridge schedule's event it runs 'ssmbak verify --repair' over the\n"
	"whole bucket and publishes the CloudWatch metric ssmbak/RepairedChanges.\n"
	"\n"
	"  -h, --help               show this help\n"
	"\n"
	"Environment:\n"
	"  SSMBAK_BUCKET            the versioned backup bucket (required)\n"
	"  SSMBAK_KEY_PREFIX        the key prefix in the bucket (default: none)\n"
	"  SSMBAK_WRITE_RETRY_SECONDS  how long a failed write is retried within\n"
	"                           an invocation (default 20)\n"
	"  SSMBAK_BUCKET_REGION     the bucket's region (default: the function's)\n"
	"  SSMBAK_RECONCILE_MIN_AGE  seconds a change is left to its event before\n"
	"                           the schedule repairs it (default: 900)\n"
	"  LOGLEVEL                 DEBUG, INFO (default), WARNING or ERROR\n"
	"  AWS_LAMBDA_RUNTIME_API   set by Lambda\n"
	"  AWS_REGION, AWS_ACCESS_KEY_ID, ...  set by Lambda\n"
	"\n"
	"Exit status: 1 when the Runtime API is gone, 3 on a bad configuration.\n";

/* Where changes are recorded. */
struct lambda_ctx_view {
	struct aws_ctx *ctx;
	const char *bucket;
	const char *prefix;
};

/* One change to record: one SQS record, or the bare EventBridge event. */
struct change {
	char *message_id; /* SQS messageId, NULL for a bare event */
	char *event_id;   /* EventBridge's event id, NULL when absent */
	char *name;
	enum record_op op;
	time_t event_time;
	char *type;
	bool skipped;     /* nothing to record (and not a failure) */
	const char *skip_reason;
	bool failed;
	struct err err;
	long long deleted_version; /* a delete: the SSM version it removed */
	bool gap;                  /* its value can no longer be read */
	const char *gap_reason;
	const struct ssm_parameter *version; /* in history: the event's */
	struct ssm_parameter_list history;
	struct record rec;
	struct record_write write;
};

static void change_release(struct change *c)
{
	free(c->message_id);
	free(c->event_id);
	free(c->name);
	free(c->type);
	ssm_parameter_list_release(&c->history);
	record_release(&c->rec);
	record_write_release(&c->write);
}

static void change_fail(struct change *c, enum err_kind kind, const char *msg)
{
	c->failed = true;
	err_set(&c->err, kind, "%s", msg);
}

/* --- parse --- */

static void change_from_event(const struct ssm_event *ev, struct change *c)
{
	c->message_id = ev->message_id ? xstrdup(ev->message_id) : NULL;
	c->event_id = ev->event_id ? xstrdup(ev->event_id) : NULL;
	if (ev->error[0]) {
		change_fail(c, ERR_PARSE, ev->error);
		return;
	}
	c->event_time = ev->time;
	c->name = xstrdup(ev->name);
	c->type = xstrdup(ev->type);
	/* Only SSM's own operations: the index's Backfill, Gap and Repair are
	 * ours, never an event's. */
	if (record_op_parse(ev->operation, &c->op) < 0 ||
	    c->op == RECORD_BACKFILL || c->op == RECORD_GAP ||
	    c->op == RECORD_REPAIR) {
		c->skipped = true;
		c->skip_reason = "operation not recorded";
		free(c->type);
		c->type = xstrdup(ev->operation);
	}
}

/* --- read SSM: the version current at the event --- */

static bool needs_history(const struct change *c)
{
	return !c->failed && !c->skipped && c->op != RECORD_DELETE;
}

static int prepare_history_page(struct aws_ctx *ctx, struct aws_call *call,
				const char *name, const char *next_token)
{
	json_t *body = json_pack("{s:s, s:b, s:i}", "Name", name,
				 "WithDecryption", 1, "MaxResults", 50);
	if (next_token)
		json_object_set_new(body, "NextToken", json_string(next_token));
	int rc = ssm_prepare(ctx, call, "GetParameterHistory", body);
	json_decref(body);
	return rc;
}

/* Reads one answer page into the change; returns the next token (caller
 * frees) or NULL at the end. */
static char *take_history_page(struct change *c, struct aws_call *call)
{
	if (call->err.kind != ERR_NONE) {
		if (strcmp(call->err.code, "ParameterNotFound") == 0) {
			c->gap = true;
			c->gap_reason = "the parameter was deleted before its value "
					"could be read";
		} else {
			c->failed = true;
			c->err = call->err;
		}
		return NULL;
	}
	struct err e = { 0 };
	char *token = NULL;
	if (ssm_parse_parameters_page(call, &c->history, &token, &e) < 0) {
		c->failed = true;
		c->err = e;
	}
	return token;
}

/* Histories of all changed parameters, their first pages all at once. */
static void read_histories(struct aws_ctx *ctx, struct change *changes,
			   size_t n)
{
	struct aws_call *calls = xcalloc(n + 1, sizeof(*calls));
	struct aws_call **batch = xcalloc(n + 1, sizeof(*batch));
	size_t *owner = xcalloc(n + 1, sizeof(*owner));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (!needs_history(&changes[i]))
			continue;
		if (prepare_history_page(ctx, &calls[k], changes[i].name, NULL) < 0)
			die(EXIT_FAILURE_RUN, "out of memory");
		owner[k] = i;
		batch[k] = &calls[k];
		k++;
	}
	aws_perform(ctx, batch, k);
	for (size_t j = 0; j < k; j++) {
		struct change *c = &changes[owner[j]];
		char *token = take_history_page(c, &calls[j]);
		aws_call_release(&calls[j]);
		/* More than 50 versions: the rest, one page after the other. */
		while (token) {
			struct aws_call next;
			if (prepare_history_page(ctx, &next, c->name, token) < 0)
				die(EXIT_FAILURE_RUN, "out of memory");
			aws_perform_one(ctx, &next, NULL);
			char *previous = token;
			token = take_history_page(c, &next);
			aws_call_release(&next);
			if (token && !ssm_token_progresses(previous, token,
							   c->history.n)) {
				free(token);
				token = NULL;
				change_fail(c, ERR_PARSE,
					    "SSM GetParameterHistory: the answer "
					    "repeats its NextToken or passes 100 "
					    "versions");
			}
			free(previous);
		}
	}
	free(calls);
	free(batch);
	free(owner);
}

/* --- which version each event stands for --- */

static struct em_version *versions_of(const struct change *c)
{
	struct em_version *v = xcalloc(c->history.n + 1, sizeof(*v));
	for (size_t i = 0; i < c->history.n; i++)
		v[i] = (struct em_version){ c->history.items[i].version,
					    c->history.items[i].last_modified };
	return v;
}

static bool wants_version(const struct change *c)
{
	return !c->failed && !c->skipped && !c->gap && c->op != RECORD_DELETE;
}

/* What the bucket already holds of the parameter, read only when some
 * event of it could stand for more than one version. */
static struct em_recorded *recorded_versions(struct lambda_ctx_view *v,
					     const char *name, size_t *n,
					     struct err *e)
{
	struct change_list recorded = { 0 };
	char *key = record_key_for_name(name);
	struct em_recorded *out = NULL;
	*n = 0;
	if (scan_key_changes(v->ctx, v->bucket, v->prefix, key, &recorded, e) == 0) {
		out = xcalloc(recorded.n + 1, sizeof(*out));
		for (size_t i = 0; i < recorded.n; i++)
			if (recorded.items[i].op != RECORD_DELETE &&
			    recorded.items[i].op != RECORD_GAP)
				out[(*n)++] = (struct em_recorded){
					recorded.items[i].ssm_version,
					recorded.items[i].event_time };
	}
	free(key);
	change_list_release(&recorded);
	return out;
}

/* The events of one parameter in this batch share out its versions
 * (lib/event_match.c); one that finds none is a gap. */
static void match_parameter(struct lambda_ctx_view *v, struct change **group,
			    size_t n)
{
	const struct change *first = group[0];
	struct em_version *versions = versions_of(first);
	time_t *events = xcalloc(n + 1, sizeof(*events));
	long *chosen = xcalloc(n + 1, sizeof(*chosen));
	for (size_t i = 0; i < n; i++)
		events[i] = group[i]->event_time;
	struct em_recorded *recorded = NULL;
	size_t n_recorded = 0;
	if (event_match_is_ambiguous(events, n, versions, first->history.n)) {
		struct err e = { 0 };
		recorded = recorded_versions(v, first->name, &n_recorded, &e);
		if (!recorded) {
			for (size_t i = 0; i < n; i++) {
				group[i]->failed = true;
				group[i]->err = e;
			}
			goto done;
		}
	}
	event_match(events, n, versions, first->history.n, recorded, n_recorded,
		    chosen);
	for (size_t i = 0; i < n; i++) {
		if (chosen[i] >= 0) {
			group[i]->version = &group[i]->history.items[chosen[i]];
		} else {
			group[i]->gap = true;
			group[i]->gap_reason = "its version is no longer in SSM's history "
					       "(deleted and recreated, or 100 newer "
					       "versions, since)";
		}
	}
done:
	free(recorded);
	free(versions);
	free(events);
	free(chosen);
}

static void match_versions(struct lambda_ctx_view *v, struct change *changes,
			   size_t n)
{
	struct change **group = xcalloc(n + 1, sizeof(*group));
	bool *done = xcalloc(n + 1, sizeof(*done));
	for (size_t i = 0; i < n; i++) {
		if (done[i] || !wants_version(&changes[i]))
			continue;
		size_t k = 0;
		for (size_t j = i; j < n; j++)
			if (!done[j] && wants_version(&changes[j]) &&
			    strcmp(changes[j].name, changes[i].name) == 0) {
				group[k++] = &changes[j];
				done[j] = true;
			}
		match_parameter(v, group, k);
	}
	free(group);
	free(done);
}

static void build_record(struct change *c)
{
	c->rec.op = c->op;
	c->rec.event_time = c->event_time;
	if (c->op == RECORD_DELETE) {
		c->rec.param.name = xstrdup(c->name);
		c->rec.param.type = xstrdup(c->type);
		c->rec.param.version = c->deleted_version;
		return;
	}
	if (c->gap) {
		/* FORMAT.md, "Gaps": recorded as not captured, never guessed. */
		c->rec.op = RECORD_GAP;
		c->rec.gap_id = c->event_id ? xstrdup(c->event_id) : NULL;
		c->rec.param.name = xstrdup(c->name);
		c->rec.param.type = xstrdup(c->type);
		return;
	}
	if (ssm_parameter_copy(&c->rec.param, c->version) < 0)
		die(EXIT_FAILURE_RUN, "out of memory");
	free(c->rec.param.name);
	c->rec.param.name = xstrdup(c->name);
}

/* The parameter's resource tags, read at capture time: no event tells
 * when they change (FORMAT.md, "Tags, labels, policies, user"). */
static void read_tags(struct aws_ctx *ctx, struct change *changes, size_t n)
{
	struct capture_extra *x = xcalloc(n + 1, sizeof(*x));
	struct change **owner = xcalloc(n + 1, sizeof(*owner));
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (needs_history(&changes[i])) {
			owner[k] = &changes[i];
			x[k++].name = changes[i].name;
		}
	capture_extras(ctx, x, k);
	for (size_t i = 0; i < k; i++) {
		if (x[i].failed) {
			owner[i]->failed = true;
			owner[i]->err = x[i].err;
		}
		if (x[i].tags_denied)
			log_msg(LOG_WARN, "%s: tags not recorded: the role may not "
				"call ssm:ListTagsForResource (update the stack)",
				owner[i]->name);
		owner[i]->rec.tags = x[i].tags;
		x[i].tags = NULL;
		capture_extra_release(&x[i]);
	}
	free(x);
	free(owner);
}

/* --- deletes: which version they deleted --- */

static struct tl_entry tl_of_change(const struct change_entry *c, size_t order)
{
	return (struct tl_entry){ c->event_time, c->ssm_version,
				  c->op == RECORD_DELETE, order };
}

/* A delete event names no version, but the same-second rule (FORMAT.md)
 * needs the one it deleted: the latest change recorded at or before the
 * delete, in the index or earlier in this batch. */
static void find_deleted_version(struct lambda_ctx_view *v, struct change *d,
				 struct change *changes, size_t n)
{
	struct change_list recorded = { 0 };
	struct err e = { 0 };
	char *key = record_key_for_name(d->name);
	if (scan_key_changes(v->ctx, v->bucket, v->prefix, key, &recorded, &e) < 0) {
		d->failed = true;
		d->err = e;
		free(key);
		change_list_release(&recorded);
		return;
	}
	size_t total = recorded.n + n;
	struct tl_entry *entries = xcalloc(total + 1, sizeof(*entries));
	long long *versions = xcalloc(total + 1, sizeof(*versions));
	size_t k = 0;
	for (size_t i = 0; i < recorded.n; i++) {
		entries[k] = tl_of_change(&recorded.items[i], SIZE_MAX / 2);
		versions[k++] = recorded.items[i].ssm_version;
	}
	for (size_t i = 0; i < n && &changes[i] != d; i++) {
		const struct change *c = &changes[i];
		if (c->failed || c->skipped || !c->name ||
		    strcmp(c->name, d->name) != 0)
			continue;
		entries[k] = (struct tl_entry){ c->event_time, c->rec.param.version,
						c->op == RECORD_DELETE, 0 };
		versions[k++] = c->rec.param.version;
	}
	long w = timeline_winner(entries, k, d->event_time);
	d->deleted_version = w >= 0 ? versions[w] : 0;
	free(entries);
	free(versions);
	free(key);
	change_list_release(&recorded);
}

/* --- write --- */

static int compare_names(const void *a, const void *b)
{
	const struct change *x = *(struct change *const *)a;
	const struct change *y = *(struct change *const *)b;
	int d = strcmp(x->name, y->name);
	return d ? d : (x < y ? -1 : x > y);
}

/* Changes of one key are written one after the other, in event order;
 * different keys all at once. */
/* A failed write is tried again inside the invocation, where the value
 * is still at hand, rather than handed back to SQS for its visibility
 * timeout (during which a delete could make it a gap): with backoff, for as
 * long as the invocation leaves time to answer. */
#define RETRY_FIRST_MS 500
#define RETRY_MAX_MS 8000
#define RETRY_MARGIN_MS 5000
/* How long an invocation goes on trying (SSMBAK_WRITE_RETRY_SECONDS):
 * past that, SQS redelivers the record later. */
#define RETRY_DEFAULT_SECONDS 20

static long long retry_budget_ms(void)
{
	const char *text = getenv("SSMBAK_WRITE_RETRY_SECONDS");
	char *end;
	long seconds = text ? strtol(text, &end, 10) : -1;
	if (!text || *end || seconds < 0 || seconds > 3600)
		seconds = RETRY_DEFAULT_SECONDS;
	return seconds * 1000LL;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void retry_failed_writes(struct lambda_ctx_view *v, struct change **todo,
				size_t m, long long deadline_ms)
{
	struct record_write **again = xcalloc(m + 1, sizeof(*again));
	long long give_up = now_ms() + retry_budget_ms();
	if (deadline_ms - RETRY_MARGIN_MS < give_up)
		give_up = deadline_ms - RETRY_MARGIN_MS;
	for (long long wait = RETRY_FIRST_MS;; wait = wait * 2 > RETRY_MAX_MS
							 ? RETRY_MAX_MS : wait * 2) {
		size_t k = 0;
		if (now_ms() + wait > give_up)
			break;
		for (size_t i = 0; i < m; i++)
			if (record_write_rearm(&todo[i]->write))
				again[k++] = &todo[i]->write;
		if (!k)
			break;
		struct timespec pause = { wait / 1000, (wait % 1000) * 1000000 };
		nanosleep(&pause, NULL);
		log_msg(LOG_INFO, "trying %zu failed writes again", k);
		record_write_all(v->ctx, again, k);
	}
	free(again);
}

static void write_records(struct lambda_ctx_view *v, struct change *changes,
			  size_t n, long long deadline_ms)
{
	struct change **todo = xcalloc(n + 1, sizeof(*todo));
	bool *written = xcalloc(n + 1, sizeof(*written));
	struct record_write **round = xcalloc(n + 1, sizeof(*round));
	size_t m = 0;
	for (size_t i = 0; i < n; i++)
		if (!changes[i].failed && !changes[i].skipped)
			todo[m++] = &changes[i];
	qsort(todo, m, sizeof(*todo), compare_names);
	for (size_t i = 0; i < m; i++) {
		struct err e = { 0 };
		if (record_prepare_write(v->ctx, v->bucket, v->prefix, &todo[i]->rec,
					 &todo[i]->write, &e) < 0)
			die_err(&e);
	}
	/* Each round takes the next change of every key. */
	for (size_t left = m; left > 0;) {
		size_t k = 0;
		const char *last = NULL;
		for (size_t i = 0; i < m; i++) {
			if (written[i] || (last && strcmp(last, todo[i]->name) == 0))
				continue;
			last = todo[i]->name;
			round[k++] = &todo[i]->write;
			written[i] = true;
		}
		record_write_all(v->ctx, round, k);
		left -= k;
	}
	retry_failed_writes(v, todo, m, deadline_ms);
	for (size_t i = 0; i < m; i++)
		if (todo[i]->write.failed) {
			todo[i]->failed = true;
			todo[i]->err = todo[i]->write.err;
		}
	free(todo);
	free(written);
	free(round);
}

/* --- report --- */

static void log_change(const struct change *c)
{
	char line[ERR_LINE_MAX];
	const char *name = c->name ? c->name : "(unparsed)";
	if (c->failed) {
		log_msg(LOG_ERROR, "%s %s: failed: %s", name,
			c->message_id ? c->message_id : "",
			err_line(&c->err, line, sizeof(line)));
	} else if (c->skipped) {
		log_msg(LOG_INFO, "%s %s: skipped: %s", name,
			c->type ? c->type : "", c->skip_reason);
	} else if (c->gap) {
		log_msg(LOG_WARN, "%s %s, event %lld: not captured, recorded as a "
				  "gap: %s", name, record_op_name(c->op),
			(long long)c->event_time, c->gap_reason);
	} else if (c->op == RECORD_DELETE) {
		log_msg(LOG_INFO, "%s Delete %s, event %lld: stored", name,
			c->rec.param.type ? c->rec.param.type : "",
			(long long)c->event_time);
	} else {
		size_t size = c->rec.param.value ? strlen(c->rec.param.value) : 0;
		log_msg(LOG_INFO, "%s %s %s version %lld, %zu bytes, event %lld: "
				  "stored", name, record_op_name(c->op),
			c->rec.param.type ? c->rec.param.type : "",
			c->rec.param.version, size, (long long)c->event_time);
	}
}

/* SQS retries exactly the records listed.
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html */
static char *batch_response(const struct change *changes, size_t n)
{
	json_t *failures = json_array();
	for (size_t i = 0; i < n; i++)
		if (changes[i].failed)
			json_array_append_new(
				failures, json_pack("{s:s}", "itemIdentifier",
						    changes[i].message_id));
	json_t *doc = json_pack("{s:o}", "batchItemFailures", failures);
	char *text = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	if (!text)
		die(EXIT_FAILURE_RUN, "out of memory");
	return text;
}

/* --- the loop --- */

struct lambda {
	struct lambda_runtime *rt;
	struct aws_ctx ctx;
	struct aws_ctx bucket_ctx; /* the bucket's region: an organization's
				    * central bucket may be in another */
	struct lambda_ctx_view view;
};

static void handle(struct lambda *l, struct lambda_invocation *inv)
{
	struct err e = { 0 };
	struct ssm_event_batch events;
	if (ssm_event_is_scheduled(buf_str(&inv->event), inv->event.len)) {
		reconcile_lambda_handle(l->rt, inv, &l->ctx, l->view.ctx,
					l->view.bucket, l->view.prefix);
		return;
	}
	if (ssm_event_batch_parse(buf_str(&inv->event), inv->event.len, &events,
				  &e) < 0) {
		log_msg(LOG_ERROR, "event %s: %s", inv->request_id, e.message);
		lambda_fail(l->rt, inv->request_id, "InvalidEvent", e.message, &e);
		return;
	}
	size_t n = events.n;
	bool batch = events.is_sqs;
	struct change *changes = xcalloc(n + 1, sizeof(*changes));
	for (size_t i = 0; i < n; i++)
		change_from_event(&events.items[i], &changes[i]);
	ssm_event_batch_release(&events);

	read_histories(&l->ctx, changes, n);
	match_versions(&l->view, changes, n);
	for (size_t i = 0; i < n; i++) {
		struct change *c = &changes[i];
		if (!c->failed && !c->skipped && c->op == RECORD_DELETE)
			find_deleted_version(&l->view, c, changes, n);
		if (!c->failed && !c->skipped)
			build_record(c);
	}
	read_tags(&l->ctx, changes, n);
	write_records(&l->view, changes, n, inv->deadline_ms);

	for (size_t i = 0; i < n; i++)
		log_change(&changes[i]);
	int rc;
	if (batch) {
		char *answer = batch_response(changes, n);
		rc = lambda_respond(l->rt, inv->request_id, answer, &e);
		free(answer);
	} else if (changes[0].failed) {
		char line[ERR_LINE_MAX];
		rc = lambda_fail(l->rt, inv->request_id, "BackupFailed",
				 err_line(&changes[0].err, line, sizeof(line)), &e);
	} else {
		rc = lambda_respond(l->rt, inv->request_id, "{}", &e);
	}
	if (rc < 0)
		log_msg(LOG_ERROR, "could not answer %s: %s", inv->request_id,
			e.message);
	for (size_t i = 0; i < n; i++)
		change_release(&changes[i]);
	free(changes);
}

/* A configuration Lambda cannot run with: told to Lambda, then exit. */
static _Noreturn void init_failure(struct lambda *l, const struct err *e)
{
	char line[ERR_LINE_MAX];
	struct err ignored = { 0 };
	err_line(e, line, sizeof(line));
	lambda_init_error(l->rt, "Runtime.ConfigurationError", line, &ignored);
	die(EXIT_CONFIG, "%s", line);
}

int cmd_backup_lambda(int argc, char **argv)
{
	if (argc > 1 && (strcmp(argv[1], "-h") == 0 ||
			 strcmp(argv[1], "--help") == 0)) {
		fputs(usage, stdout);
		return EXIT_OK;
	}
	if (argc > 1)
		die_usage("backup-lambda takes no arguments, not '%s'", argv[1]);
	log_set_level(LOG_INFO);
	log_set_level_name(getenv("LOGLEVEL"));

	struct lambda l = { 0 };
	struct err e = { 0 };
	l.rt = lambda_runtime_new(getenv("AWS_LAMBDA_RUNTIME_API"), &e);
	if (!l.rt)
		die_err(&e);
	l.view.ctx = &l.bucket_ctx;
	l.view.bucket = getenv("SSMBAK_BUCKET");
	if (!l.view.bucket || !*l.view.bucket) {
		err_set(&e, ERR_CONFIG, "SSMBAK_BUCKET is not set: the function "
					"needs the backup bucket's name");
		init_failure(&l, &e);
	}
	char *prefix = changes_normalize_prefix(getenv("SSMBAK_KEY_PREFIX"));
	if (!prefix) {
		err_set(&e, ERR_CONFIG, "SSMBAK_KEY_PREFIX '%s' is not a key prefix "
			"(letters, digits, _ . - and / between levels)",
			getenv("SSMBAK_KEY_PREFIX"));
		init_failure(&l, &e);
	}
	l.view.prefix = prefix;
	struct aws_options opts = { NULL, NULL };
	const char *bucket_region = getenv("SSMBAK_BUCKET_REGION");
	struct aws_options bucket_opts = {
		bucket_region && *bucket_region ? bucket_region : NULL, NULL
	};
	if (aws_ctx_init(&l.ctx, &opts, &e) < 0 ||
	    aws_ctx_init(&l.bucket_ctx, &bucket_opts, &e) < 0 ||
	    s3_require_versioning(&l.bucket_ctx, l.view.bucket, &e) < 0 ||
	    sts_expect_bucket_owner(&l.bucket_ctx, NULL, &e) < 0)
		init_failure(&l, &e);
	/* Short backoffs (0.1 s doubling): an invocation lives seconds, and
	 * retry_failed_writes waits longer where its deadline allows. */
	http_client_prefer_retry_mode(l.ctx.http, RETRY_LEGACY);
	http_client_prefer_retry_mode(l.bucket_ctx.http, RETRY_LEGACY);

	for (;;) {
		struct lambda_invocation inv;
		if (lambda_next(l.rt, &inv, &e) < 0) {
			lambda_invocation_release(&inv);
			break;
		}
		handle(&l, &inv);
		lambda_invocation_release(&inv);
	}
	/* The Runtime API went away: Lambda is shutting this sandbox down. */
	char line[ERR_LINE_MAX];
	log_msg(LOG_ERROR, "%s", err_line(&e, line, sizeof(line)));
	aws_ctx_release(&l.ctx);
	aws_ctx_release(&l.bucket_ctx);
	lambda_runtime_free(l.rt);
	free(prefix);
	return EXIT_FAILURE_RUN;
}
