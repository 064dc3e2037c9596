/* The Lambda's event -> record, fed hostile input: an SQS batch (or a bare
 * EventBridge event) and the GetParameterHistory page answered for each of
 * its parameters, separated by a NUL byte. Parsed, matched to the versions
 * the events stand for and turned into the records' S3 writes by
 * backup-lambda's own static functions (reached by including the
 * command), with the batch answer Lambda would get. Nothing is sent: what
 * would read the bucket (an ambiguous match, a delete's version) is left
 * out, and those events are skipped. */
#include "../../cmd_backup_lambda.c"
#include "fuzz.h"

enum { EVENT, HISTORY, PARTS };

static void read_history(struct change *c, const char *body, size_t len)
{
	struct aws_call call;
	aws_call_init(&call, &aws_ssm, "GetParameterHistory", "POST");
	call.resp.status = 200;
	buf_append(&call.resp.body, body, len);
	free(take_history_page(c, &call));
	aws_call_release(&call);
}

/* Whether matching the batch's events to versions would read the bucket
 * (match_parameter does when the history alone cannot tell). */
static bool match_needs_the_bucket(struct change *changes, size_t n)
{
	bool needs = false;
	time_t *events = xcalloc(n + 1, sizeof(*events));
	for (size_t i = 0; i < n && !needs; i++) {
		if (!wants_version(&changes[i]))
			continue;
		size_t k = 0;
		for (size_t j = 0; j < n; j++)
			if (wants_version(&changes[j]) &&
			    strcmp(changes[j].name, changes[i].name) == 0)
				events[k++] = changes[j].event_time;
		struct em_version *versions = versions_of(&changes[i]);
		needs = event_match_is_ambiguous(events, k, versions,
						 changes[i].history.n) != 0;
		free(versions);
	}
	free(events);
	return needs;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *part[PARTS];
	size_t len[PARTS];
	fuzz_split(data, size, part, len, PARTS);
	struct aws_ctx ctx = { .region = "us-east-1" };
	struct lambda_ctx_view view = { &ctx, "fuzz-bucket", NULL };
	struct ssm_event_batch batch;
	struct err e = { 0 };
	if (ssm_event_batch_parse(part[EVENT], len[EVENT], &batch, &e) == 0) {
		size_t n = batch.n;
		struct change *changes = xcalloc(n + 1, sizeof(*changes));
		for (size_t i = 0; i < n; i++) {
			change_from_event(&batch.items[i], &changes[i]);
			if (needs_history(&changes[i]))
				read_history(&changes[i], part[HISTORY], len[HISTORY]);
			if (changes[i].op == RECORD_DELETE)
				changes[i].skipped = true;
		}
		if (match_needs_the_bucket(changes, n))
			for (size_t i = 0; i < n; i++)
				changes[i].skipped = true;
		match_versions(&view, changes, n);
		for (size_t i = 0; i < n; i++) {
			struct change *c = &changes[i];
			if (c->failed || c->skipped)
				continue;
			build_record(c);
			if (record_prepare_write(&ctx, view.bucket, view.prefix,
						 &c->rec, &c->write, &e) < 0)
				c->failed = true;
		}
		free(batch_response(changes, n));
		for (size_t i = 0; i < n; i++)
			change_release(&changes[i]);
		free(changes);
		ssm_event_batch_release(&batch);
	}
	free(part[0]);
	return 0;
}
