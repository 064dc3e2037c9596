"""Lambda event source mappings from SQS queues: a poller thread each.

How Lambda reads a queue:
  https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html (the event)
  https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
  https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html

The poller receives like ReceiveMessage (the queue's visibility timeout,
its redrive policy), waits up to MaximumBatchingWindowInSeconds to fill a
batch of BatchSize, invokes the function synchronously with the records
Lambda builds, then deletes what succeeded: everything, or with
ReportBatchItemFailures everything not listed in batchItemFailures. A
function error, a timeout or an invalid batch response deletes nothing:
the whole batch comes back after the visibility timeout. One poller, one
batch at a time (AWS runs several pollers and scales concurrency).
"""
import base64
import json
import logging
import threading
import time
import uuid

log = logging.getLogger("localaws.lambda.esm")

LONG_POLL_SECONDS = 20
MISSING_FUNCTION_BACKOFF = 1.0


def message_attribute(value):
    if "BinaryValue" in value:
        shape = {"binaryValue": base64.b64encode(value["BinaryValue"]).decode()}
    else:
        shape = {"stringValue": value["StringValue"]}
    return {**shape, "stringListValues": [], "binaryListValues": [], "dataType": value["DataType"]}


def sqs_event(received, queue):
    """The event Lambda sends for a batch of SQS messages."""
    records = []
    for message in received:
        record = {
            "messageId": message.message_id,
            "receiptHandle": message.receipt_handle,
            "body": message.body,
            "attributes": {key: message.attributes[key] for key in
                           ("ApproximateReceiveCount", "SentTimestamp", "SenderId",
                            "ApproximateFirstReceiveTimestamp", "DeadLetterQueueSourceArn")
                           if key in message.attributes},
            "messageAttributes": {name: message_attribute(value) for name, value
                                  in message.message_attributes.items()},
            "md5OfBody": message.md5,
        }
        if message.attributes_md5:
            record["md5OfMessageAttributes"] = message.attributes_md5
        record.update(eventSource="aws:sqs", eventSourceARN=queue.arn, awsRegion=queue.region)
        records.append(record)
    return {"Records": records}


def failed_ids(payload, ids):
    """The message ids a ReportBatchItemFailures response names, or None
    when the response makes the whole batch a failure: not JSON, an item
    without a string itemIdentifier, or an id not in the batch. An empty
    or null response, or an empty or null list, is complete success."""
    text = payload.strip() if payload else b""
    if not text:
        return set()
    try:
        document = json.loads(text)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return set()
    failures = document.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return None
    out = set()
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or not identifier or identifier not in ids:
            return None
        out.add(identifier)
    return out


class Mapping:
    def __init__(self, service, region, source_arn, function_arn, batch_size, window,
                 response_types, enabled):
        self.service = service
        self.uuid = str(uuid.uuid4())
        self.region = region
        self.source_arn = source_arn
        self.function_arn = function_arn
        self.batch_size = batch_size
        self.window = window
        self.response_types = list(response_types)
        self.enabled = enabled
        self.state = "Creating"
        self.last_modified = service.clock.now()
        self.stopped = threading.Event()     # deleted or localaws stopping
        self.interrupt = threading.Event()   # wake a long poll (disable, delete, update)
        self.counters = {"batches": 0, "messages": 0, "deleted": 0, "invoke_errors": 0,
                         "partial_failures": 0, "invalid_responses": 0}
        self.thread = threading.Thread(target=self._run, name=f"esm-{self.uuid[:8]}", daemon=True)

    def start(self):
        self.thread.start()
        self.state = "Enabled" if self.enabled else "Disabled"

    def update(self, **changes):
        for key, value in changes.items():
            setattr(self, key, value)
        self.last_modified = self.service.clock.now()
        self.state = "Enabled" if self.enabled else "Disabled"
        self.interrupt.set()

    def stop(self):
        self.state = "Deleting"
        self.stopped.set()
        self.interrupt.set()

    def join(self, timeout=None):
        if self.thread.is_alive():
            self.thread.join(timeout)

    def shape(self):
        shape = {"UUID": self.uuid, "BatchSize": self.batch_size,
                 "MaximumBatchingWindowInSeconds": self.window,
                 "EventSourceArn": self.source_arn, "FunctionArn": self.function_arn,
                 "LastModified": self.service.timestamp(self.last_modified),
                 "State": self.state, "StateTransitionReason": "USER_INITIATED",
                 "FunctionResponseTypes": list(self.response_types)}
        return shape

    # --- the poller ---

    def _run(self):
        while not self.stopped.is_set():
            if not self.enabled:
                self.interrupt.wait(0.5)
                self.interrupt.clear()
                continue
            try:
                self._poll_once()
            except Exception:
                log.exception("event source mapping %s", self.uuid)
                self.stopped.wait(MISSING_FUNCTION_BACKOFF)

    def _poll_once(self):
        store = self.service.sqs
        queue = store.by_arn(self.source_arn)
        if queue is None:
            self.stopped.wait(MISSING_FUNCTION_BACKOFF)
            return
        self.interrupt.clear()
        batch = store.receive(queue, min(self.batch_size, 10), LONG_POLL_SECONDS,
                              stop=self.interrupt)
        if not batch:
            return
        deadline = time.monotonic() + self.window
        while len(batch) < self.batch_size and not self.interrupt.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            more = store.receive(queue, min(self.batch_size - len(batch), 10), int(left) or 1,
                                 stop=self.interrupt)
            # A message whose visibility timeout ran out while the batch
            # filled is received again: one record, with the newer handle.
            again = {m.message_id for m in more}
            batch = [m for m in batch if m.message_id not in again] + more
        self._process(queue, batch)

    def _process(self, queue, batch):
        self.counters["batches"] += 1
        self.counters["messages"] += len(batch)
        payload = json.dumps(sqs_event(batch, queue)).encode()
        invocation = self.service.invoke_arn(self.function_arn, payload)
        if invocation is None:                      # the function is gone
            self.counters["invoke_errors"] += 1
            self.stopped.wait(MISSING_FUNCTION_BACKOFF)
            return
        if invocation.outcome != "response":
            self.counters["invoke_errors"] += 1
            return
        done = batch
        if "ReportBatchItemFailures" in self.response_types:
            failed = failed_ids(invocation.result, {m.message_id for m in batch})
            if failed is None:
                self.counters["invalid_responses"] += 1
                return
            if failed:
                self.counters["partial_failures"] += 1
            done = [m for m in batch if m.message_id not in failed]
        for message in done:
            try:
                if self.service.sqs.delete(queue, message.receipt_handle):
                    self.counters["deleted"] += 1
            except Exception:
                log.exception("deleting %s", message.message_id)
