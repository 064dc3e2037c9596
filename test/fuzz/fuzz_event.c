/* What Lambda hands backup-lambda: SQS batches of EventBridge events. */
#include "../../lib/ssm_event.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ssm_event_batch batch;
	struct err e = { 0 };
	if (ssm_event_batch_parse((const char *)data, size, &batch, &e) == 0)
		ssm_event_batch_release(&batch);
	return 0;
}
