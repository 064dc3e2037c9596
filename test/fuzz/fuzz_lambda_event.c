/* The Lambda's event -> record, fed hostile input: an SQS batch (or a bare
 * EventBridge event) and the GetParameterHistory page answered for each of
 * its parameters, separated by a NUL byte. Parsed, matched to the version
 * current at the event and turned into the record's S3 writes by
 * backup-lambda's own static functions (reached by including the
 * command), with the batch answer Lambda would get. Nothing is sent. */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *part[PARTS];
	size_t len[PARTS];
	fuzz_split(data, size, part, len, PARTS);
	struct aws_ctx ctx = { .region = "us-east-1" };
	struct ssm_event_batch batch;
	struct err e = { 0 };
	if (ssm_event_batch_parse(part[EVENT], len[EVENT], &batch, &e) == 0) {
		struct change *changes = xcalloc(batch.n + 1, sizeof(*changes));
		for (size_t i = 0; i < batch.n; i++) {
			struct change *c = &changes[i];
			change_from_event(&batch.items[i], c);
			if (needs_history(c))
				read_history(c, part[HISTORY], len[HISTORY]);
			if (!c->failed && !c->skipped)
				build_record(c);
			if (!c->failed && !c->skipped &&
			    record_prepare_write(&ctx, "fuzz-bucket", NULL, &c->rec,
						 &c->write, &e) < 0)
				c->failed = true;
		}
		free(batch_response(changes, batch.n));
		for (size_t i = 0; i < batch.n; i++)
			change_release(&changes[i]);
		free(changes);
		ssm_event_batch_release(&batch);
	}
	free(part[0]);
	return 0;
}
