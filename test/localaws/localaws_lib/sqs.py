"""SQS standard queues (query API, XML), as botocore 1.29 speaks it.

API reference: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/Welcome.html
Visibility:    https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html
Dead letters:  https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html

Queues are kept per region, in memory. Timers (visibility timeouts,
delays, long polling) run on real time, so a test can shorten them to a
second; timestamps (SentTimestamp, ...) and retention use the emulator
clock, so a test can expire messages with `POST /_localaws/clock
{"advance": s}`. Other services (EventBridge targets, Lambda event source
mappings) use the same queues through `SqsStore` directly.
"""
import base64
import binascii
import hashlib
import json
import re
import secrets
import struct
import threading
import time
import urllib.parse
import uuid
from xml.sax.saxutils import escape

from .errors import AwsError
from .protocols import QUERY_AUTH_ERRORS, QueryService
from .server import Response

NAMESPACE = "http://queue.amazonaws.com/doc/2012-11-05/"
QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
BATCH_ID = re.compile(r"[A-Za-z0-9_-]{1,80}")
MAX_BATCH_ENTRIES = 10
MAX_WAIT_SECONDS = 20
MAX_VISIBILITY = 43200
# "The maximum is 262,144 bytes (256 KiB)" for a message and for a whole batch.
MAX_MESSAGE_BYTES = 262144
DELETE_COOLDOWN = PURGE_COOLDOWN = 60
# Characters a message may hold: #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD
# | #x10000 to #x10FFFF (API_SendMessage.html).
INVALID_CHARS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# name -> (default, minimum, maximum) for the numeric attributes
# (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html).
NUMERIC_ATTRIBUTES = {
    "DelaySeconds": (0, 0, 900),
    "MaximumMessageSize": (MAX_MESSAGE_BYTES, 1024, MAX_MESSAGE_BYTES),
    "MessageRetentionPeriod": (345600, 60, 1209600),
    "ReceiveMessageWaitTimeSeconds": (0, 0, MAX_WAIT_SECONDS),
    "VisibilityTimeout": (30, 0, MAX_VISIBILITY),
}
TEXT_ATTRIBUTES = ("Policy", "RedrivePolicy", "RedriveAllowPolicy", "KmsMasterKeyId",
                   "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled")
COMPUTED_ATTRIBUTES = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                       "ApproximateNumberOfMessagesDelayed", "CreatedTimestamp",
                       "LastModifiedTimestamp", "QueueArn")
MESSAGE_SYSTEM_ATTRIBUTES = ("ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp",
                             "SenderId", "SentTimestamp")


def invalid_value(message):
    return AwsError("InvalidParameterValue", message)


def no_such_queue():
    return AwsError("AWS.SimpleQueueService.NonExistentQueue",
                    "The specified queue does not exist for this wsdl version.")


def attributes_md5(attributes):
    """MD5 of message attributes as SQS computes it: for each name in order,
    4-byte big-endian lengths before name, data type and value, and a
    transport byte (1 string, 2 binary) before the value
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html#sqs-attributes-md5-message-digest-calculation).
    """
    if not attributes:
        return None
    digest = hashlib.md5()

    def field(data):
        digest.update(struct.pack(">I", len(data)) + data)

    for name in sorted(attributes):
        value = attributes[name]
        field(name.encode())
        field(value["DataType"].encode())
        if "BinaryValue" in value:
            digest.update(b"\x02")
            field(value["BinaryValue"])
        else:
            digest.update(b"\x01")
            field(value["StringValue"].encode())
    return digest.hexdigest()


class Message:
    __slots__ = ("id", "body", "md5", "attributes", "attributes_md5", "sent_ms", "sender_id",
                 "receive_count", "first_receive_ms", "visible_at", "receipt", "source_arn")

    def __init__(self, body, attributes, sent_ms, sender_id, visible_at):
        self.id = str(uuid.uuid4())
        self.body = body
        self.md5 = hashlib.md5(body.encode()).hexdigest()
        self.attributes = attributes or {}
        self.attributes_md5 = attributes_md5(self.attributes)
        self.sent_ms = sent_ms
        self.sender_id = sender_id
        self.receive_count = 0
        self.first_receive_ms = None
        self.visible_at = visible_at     # time.monotonic() from which it can be received
        self.receipt = None              # the latest receipt handle
        self.source_arn = None           # set when moved to a dead-letter queue

    def system_attributes(self):
        attributes = {"ApproximateReceiveCount": str(self.receive_count),
                      "SentTimestamp": str(self.sent_ms), "SenderId": self.sender_id,
                      "ApproximateFirstReceiveTimestamp": str(self.first_receive_ms or 0)}
        if self.source_arn:
            attributes["DeadLetterQueueSourceArn"] = self.source_arn
        return attributes


class Received:
    """A message as one receive saw it (a snapshot, safe outside the lock)."""

    def __init__(self, message, receipt):
        self.message_id = message.id
        self.receipt_handle = receipt
        self.body = message.body
        self.md5 = message.md5
        self.message_attributes = dict(message.attributes)
        self.attributes_md5 = message.attributes_md5
        self.attributes = message.system_attributes()


class Queue:
    def __init__(self, name, region, account, created):
        self.name = name
        self.region = region
        self.account = account
        self.arn = f"arn:aws:sqs:{region}:{account}:{name}"
        self.created = created
        self.modified = created
        self.attributes = {name: str(spec[0]) for name, spec in NUMERIC_ATTRIBUTES.items()}
        self.attributes["SqsManagedSseEnabled"] = "true"
        self.tags = {}
        self.messages = []               # send order
        self.last_purge = None

    def number(self, name):
        return int(self.attributes[name])

    def redrive(self):
        """(dead-letter queue ARN, maxReceiveCount) or None."""
        text = self.attributes.get("RedrivePolicy")
        if not text:
            return None
        policy = json.loads(text)
        return policy["deadLetterTargetArn"], int(policy["maxReceiveCount"])


class SqsStore:
    """All queues, one lock; `changed` wakes long polls."""

    def __init__(self, clock):
        self.clock = clock
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.queues = {}                 # (region, name) -> Queue
        self.deleted = {}                # (region, name) -> emulator time of deletion

    # --- lookups ---

    def by_arn(self, arn):
        parts = (arn or "").split(":")
        if len(parts) != 6 or parts[:3] != ["arn", "aws", "sqs"]:
            return None
        return self.queues.get((parts[3], parts[5]))

    def by_url(self, region, url):
        path = urllib.parse.urlparse(url or "").path.strip("/").split("/")
        if len(path) != 2:
            return None
        return self.queues.get((region, path[1]))

    def now_ms(self):
        return int(self.clock.now() * 1000)

    # --- messages ---

    def send(self, queue, body, attributes=None, sender_id="", delay=None):
        with self.lock:
            delay = queue.number("DelaySeconds") if delay is None else delay
            message = Message(body, attributes, self.now_ms(), sender_id, time.monotonic() + delay)
            queue.messages.append(message)
            self.changed.notify_all()
            return message

    def receive(self, queue, max_messages=1, wait_seconds=0, visibility=None, stop=None):
        """Up to max_messages visible messages, waiting up to wait_seconds
        for the first (long polling); each becomes invisible for the
        visibility timeout and counts a receive. A message already received
        maxReceiveCount times moves to the dead-letter queue instead."""
        deadline = time.monotonic() + wait_seconds
        with self.lock:
            while True:
                if self.queues.get((queue.region, queue.name)) is not queue:
                    raise no_such_queue()
                taken = self._take(queue, max_messages, visibility)
                now = time.monotonic()
                if taken or now >= deadline or (stop is not None and stop.is_set()):
                    return taken
                upcoming = [m.visible_at for m in queue.messages if m.visible_at > now]
                timeout = min([deadline - now, 0.5] + [t - now for t in upcoming])
                self.changed.wait(max(timeout, 0.001))

    def _take(self, queue, max_messages, visibility):
        self._expire(queue)
        now = time.monotonic()
        visibility = queue.number("VisibilityTimeout") if visibility is None else visibility
        redrive = queue.redrive()
        taken = []
        for message in list(queue.messages):
            if len(taken) >= max_messages:
                break
            if message.visible_at > now:
                continue
            if redrive and message.receive_count >= redrive[1]:
                dead_letter = self.by_arn(redrive[0])
                if dead_letter is not None:
                    # "When the ReceiveCount for a message exceeds the
                    # maxReceiveCount for a queue, Amazon SQS moves the
                    # message to a dead-letter queue" (with its message id,
                    # body, attributes and original SentTimestamp).
                    queue.messages.remove(message)
                    message.visible_at = now
                    message.receipt = None
                    message.source_arn = queue.arn
                    dead_letter.messages.append(message)
                    self.changed.notify_all()
                    continue
            message.receive_count += 1
            if message.first_receive_ms is None:
                message.first_receive_ms = self.now_ms()
            message.visible_at = now + visibility
            message.receipt = self._receipt(queue, message)
            taken.append(Received(message, message.receipt))
        return taken

    def _expire(self, queue):
        """Drop messages older than the retention period (emulator clock)."""
        oldest = self.now_ms() - queue.number("MessageRetentionPeriod") * 1000
        queue.messages = [m for m in queue.messages if m.sent_ms > oldest]

    @staticmethod
    def _receipt(queue, message):
        raw = f"{queue.arn}\n{message.id}\n{secrets.token_hex(16)}".encode()
        return base64.urlsafe_b64encode(raw).decode()

    def _message_for(self, queue, receipt):
        """The message a receipt handle names (None once deleted), or
        ReceiptHandleIsInvalid for a handle this queue never gave out."""
        try:
            arn, message_id, _ = base64.urlsafe_b64decode(receipt.encode()).decode().split("\n")
        except (ValueError, binascii.Error, UnicodeDecodeError):
            arn = message_id = None
        if arn != queue.arn:
            raise AwsError("ReceiptHandleIsInvalid",
                           f'The input receipt handle "{receipt}" is not a valid receipt handle.')
        return next((m for m in queue.messages if m.id == message_id), None)

    def delete(self, queue, receipt):
        """Deletes the message if the handle is its latest one. A stale
        handle "succeeds, but the message might not be deleted"
        (API_DeleteMessage.html); a deleted message deletes again fine."""
        with self.lock:
            message = self._message_for(queue, receipt)
            if message is not None and message.receipt == receipt:
                queue.messages.remove(message)
                self.changed.notify_all()
                return True
            return False

    def change_visibility(self, queue, receipt, timeout):
        with self.lock:
            message = self._message_for(queue, receipt)
            now = time.monotonic()
            if message is None or message.receipt != receipt or message.visible_at <= now:
                raise AwsError("AWS.SimpleQueueService.MessageNotInflight",
                               "Message does not exist or is not available for visibility "
                               "timeout change.")
            message.visible_at = now + timeout
            self.changed.notify_all()

    def counts(self, queue):
        """(visible, in flight, delayed) messages."""
        with self.lock:
            self._expire(queue)
            now = time.monotonic()
            visible = sum(1 for m in queue.messages if m.visible_at <= now)
            in_flight = sum(1 for m in queue.messages if m.visible_at > now and m.receive_count)
            delayed = len(queue.messages) - visible - in_flight
            return visible, in_flight, delayed


def indexed(params, prefix):
    """Query-API lists: `Prefix.N` or `Prefix.N.Field...` -> [value or {field: value}]."""
    items = {}
    for key, value in params.items():
        if not key.startswith(prefix + "."):
            continue
        index, _, field = key[len(prefix) + 1:].partition(".")
        if index.isdigit():
            if field:
                items.setdefault(int(index), {})[field] = value
            else:
                items[int(index)] = value
    return [items[i] for i in sorted(items)]


def element(tag, value):
    """As xmlutil.element, but a carriage return survives XML parsing
    (`&#13;`), as SQS writes it: bodies may hold any of #x9, #xA, #xD."""
    if value is None:
        return ""
    if isinstance(value, list):
        return f"<{tag}>{''.join(element(t, v) for t, v in value)}</{tag}>"
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<{tag}>{escape(str(value), {chr(13): '&#13;'})}</{tag}>"


def document(root, pairs):
    body = "".join(element(tag, value) for tag, value in pairs)
    head = '<?xml version="1.0" encoding="UTF-8"?>\n'
    return f'{head}<{root} xmlns="{NAMESPACE}">{body}</{root}>'.encode()


class SqsService(QueryService):
    name = signing_name = "sqs"
    namespace = NAMESPACE
    AUTH_ERRORS = QUERY_AUTH_ERRORS
    actions = {
        "CreateQueue": "create_queue", "GetQueueUrl": "get_queue_url",
        "GetQueueAttributes": "get_queue_attributes", "SetQueueAttributes": "set_queue_attributes",
        "SendMessage": "send_message", "SendMessageBatch": "send_message_batch",
        "ReceiveMessage": "receive_message", "DeleteMessage": "delete_message",
        "DeleteMessageBatch": "delete_message_batch",
        "ChangeMessageVisibility": "change_message_visibility",
        "ChangeMessageVisibilityBatch": "change_message_visibility_batch",
        "PurgeQueue": "purge_queue", "DeleteQueue": "delete_queue", "ListQueues": "list_queues",
        "ListDeadLetterSourceQueues": "list_dead_letter_source_queues",
        "TagQueue": "tag_queue", "UntagQueue": "untag_queue", "ListQueueTags": "list_queue_tags",
    }
    query_actions = tuple(actions)

    def __init__(self, clock):
        self.clock = clock
        self.store = SqsStore(clock)

    def dispatch(self, request, operation, ctx):
        method = self.actions.get(operation)
        if method is None:
            raise AwsError("InvalidAction", f"The action {operation} is not valid for this endpoint.")
        result = getattr(self, method)(request.params, ctx)
        pairs = [("ResponseMetadata", [("RequestId", ctx.request_id)])]
        if result is not None:
            pairs.insert(0, (f"{operation}Result", result))
        return Response(200, [("Content-Type", "text/xml"), ("x-amzn-RequestId", ctx.request_id)],
                        document(f"{operation}Response", pairs))

    # --- helpers ---

    @staticmethod
    def url(ctx, queue):
        request = ctx.request
        host = request.header("host") or "127.0.0.1"
        return f"{request.scheme}://{host}/{queue.account}/{queue.name}"

    def _queue(self, params, ctx):
        url = params.get("QueueUrl") or ctx.request.path
        queue = self.store.by_url(ctx.region, url)
        if queue is None:
            raise no_such_queue()
        return queue

    def _validate_attributes(self, attributes):
        out = {}
        for name, value in attributes.items():
            if name in NUMERIC_ATTRIBUTES:
                _, low, high = NUMERIC_ATTRIBUTES[name]
                if not re.fullmatch(r"-?\d+", value or "") or not low <= int(value) <= high:
                    raise AwsError("InvalidAttributeValue",
                                   f"Invalid value for the parameter {name}.")
                out[name] = str(int(value))
            elif name == "RedrivePolicy":
                out[name] = self._redrive_policy(value)
            elif name in TEXT_ATTRIBUTES:
                out[name] = value
            else:
                raise AwsError("InvalidAttributeName", f"Unknown Attribute {name}.")
        return out

    def _redrive_policy(self, text):
        if not text:
            return ""

        def invalid(reason):
            return invalid_value(f"Value {text} for parameter RedrivePolicy is invalid. "
                                 f"Reason: {reason}")
        try:
            policy = json.loads(text)
        except ValueError:
            raise invalid("Redrive policy is not a valid JSON map.")
        if not isinstance(policy, dict) or "deadLetterTargetArn" not in policy \
                or "maxReceiveCount" not in policy:
            raise invalid("Redrive policy must contain deadLetterTargetArn and maxReceiveCount.")
        try:
            count = int(policy["maxReceiveCount"])
        except (TypeError, ValueError):
            count = 0
        if not 1 <= count <= 1000:
            raise invalid(f"Invalid value for maxReceiveCount: {policy['maxReceiveCount']}, "
                          "valid values are from 1 to 1000 both inclusive.")
        if self.store.by_arn(policy["deadLetterTargetArn"]) is None:
            raise invalid("Dead-letter target does not exist.")
        return json.dumps({"deadLetterTargetArn": policy["deadLetterTargetArn"],
                           "maxReceiveCount": count}, separators=(",", ":"))

    @staticmethod
    def _pairs(mapping):
        return {item["Name"]: item.get("Value", "") for item in mapping}

    @staticmethod
    def _message_attributes(entry, prefix="MessageAttribute"):
        """{name: {DataType, StringValue | BinaryValue (bytes)}} from the query form."""
        out = {}
        for item in indexed(entry, prefix):
            name = item.get("Name", "")
            data_type = item.get("Value.DataType", "")
            if not name or not data_type:
                raise invalid_value(f"The message attribute '{name}' must contain non-empty "
                                    "message attribute value and type.")
            if not re.fullmatch(r"(String|Number|Binary)(\.[^\s]+)?", data_type):
                raise invalid_value(f"The type of message attribute '{name}' is invalid. You must "
                                    "use only the following supported type prefixes: Binary, "
                                    "Number, String.")
            value = {"DataType": data_type}
            if data_type.startswith("Binary"):
                value["BinaryValue"] = base64.b64decode(item.get("Value.BinaryValue", ""))
            else:
                value["StringValue"] = item.get("Value.StringValue", "")
            out[name] = value
        if len(out) > 10:
            raise invalid_value("Number of message attributes [{}] exceeds the allowed maximum "
                                "[10].".format(len(out)))
        return out

    def _check_message(self, queue, body, attributes):
        if not body:
            raise AwsError("MissingParameter", "The request must contain the parameter MessageBody.")
        if INVALID_CHARS.search(body):
            raise AwsError("InvalidMessageContents",
                           "Invalid characters found. Valid unicode characters are #x9 | #xA | "
                           "#xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF")
        size = len(body.encode()) + sum(
            len(name.encode()) + len(v["DataType"].encode())
            + len(v.get("BinaryValue") or v.get("StringValue", "").encode())
            for name, v in attributes.items())
        limit = queue.number("MaximumMessageSize")
        if size > limit:
            raise invalid_value("One or more parameters are invalid. Reason: Message must be "
                                f"shorter than {limit} bytes.")
        return size

    def _delay(self, value):
        if value in (None, ""):
            return None
        if not value.lstrip("-").isdigit() or not 0 <= int(value) <= 900:
            raise invalid_value(f"Value {value} for parameter DelaySeconds is invalid. "
                                "Reason: DelaySeconds must be >= 0 and <= 900.")
        return int(value)

    @staticmethod
    def _attribute_pairs(attributes):
        pairs = []
        for name, value in attributes.items():
            if "BinaryValue" in value:
                inner = [("BinaryValue", base64.b64encode(value["BinaryValue"]).decode())]
            else:
                inner = [("StringValue", value["StringValue"])]
            pairs.append(("MessageAttribute", [("Name", name),
                                               ("Value", inner + [("DataType", value["DataType"])])]))
        return pairs

    # --- queues ---

    def create_queue(self, params, ctx):
        """https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html"""
        name = params.get("QueueName", "")
        attributes = self._pairs(indexed(params, "Attribute"))
        if name.endswith(".fifo") or attributes.get("FifoQueue") == "true":
            raise invalid_value("FIFO queues are not emulated by localaws.")
        if not QUEUE_NAME.fullmatch(name):
            raise invalid_value("Can only include alphanumeric characters, hyphens, or "
                                "underscores. 1 to 80 in length")
        with self.store.lock:
            attributes = self._validate_attributes(attributes)
            tags = {t.get("Key"): t.get("Value", "") for t in indexed(params, "Tag")}
            key = (ctx.region, name)
            existing = self.store.queues.get(key)
            if existing is not None:
                for attribute, value in attributes.items():
                    if existing.attributes.get(attribute, "") != value:
                        raise AwsError("QueueAlreadyExists", "A queue already exists with the same "
                                       f"name and a different value for attribute {attribute}")
                return [("QueueUrl", self.url(ctx, existing))]
            deleted = self.store.deleted.get(key)
            if deleted is not None and self.clock.now() - deleted < DELETE_COOLDOWN:
                raise AwsError("AWS.SimpleQueueService.QueueDeletedRecently",
                               "You must wait 60 seconds after deleting a queue before you can "
                               "create another with the same name.")
            queue = Queue(name, ctx.region, ctx.account, int(self.clock.now()))
            queue.attributes.update(attributes)
            queue.tags = tags
            self.store.queues[key] = queue
        return [("QueueUrl", self.url(ctx, queue))]

    def get_queue_url(self, params, ctx):
        queue = self.store.queues.get((ctx.region, params.get("QueueName", "")))
        if queue is None:
            raise no_such_queue()
        return [("QueueUrl", self.url(ctx, queue))]

    def get_queue_attributes(self, params, ctx):
        queue = self._queue(params, ctx)
        wanted = indexed(params, "AttributeName") or []
        visible, in_flight, delayed = self.store.counts(queue)
        computed = {"ApproximateNumberOfMessages": visible,
                    "ApproximateNumberOfMessagesNotVisible": in_flight,
                    "ApproximateNumberOfMessagesDelayed": delayed,
                    "CreatedTimestamp": queue.created, "LastModifiedTimestamp": queue.modified,
                    "QueueArn": queue.arn}
        everything = {**{k: v for k, v in queue.attributes.items() if v != ""},
                      **{k: str(v) for k, v in computed.items()}}
        if "All" in wanted:
            names = list(everything)
        else:
            for name in wanted:
                if name not in everything and name not in NUMERIC_ATTRIBUTES \
                        and name not in TEXT_ATTRIBUTES:
                    raise AwsError("InvalidAttributeName", f"Unknown Attribute {name}.")
            names = [n for n in wanted if n in everything]
        return [("Attribute", [("Name", n), ("Value", everything[n])]) for n in names]

    def set_queue_attributes(self, params, ctx):
        queue = self._queue(params, ctx)
        with self.store.lock:
            attributes = self._validate_attributes(self._pairs(indexed(params, "Attribute")))
            queue.attributes.update(attributes)
            queue.modified = int(self.clock.now())
            self.store.changed.notify_all()
        return None

    def delete_queue(self, params, ctx):
        queue = self._queue(params, ctx)
        with self.store.lock:
            del self.store.queues[(queue.region, queue.name)]
            self.store.deleted[(queue.region, queue.name)] = self.clock.now()
            self.store.changed.notify_all()
        return None

    def purge_queue(self, params, ctx):
        """Only one purge a minute per queue (API_PurgeQueue.html)."""
        queue = self._queue(params, ctx)
        with self.store.lock:
            now = self.clock.now()
            if queue.last_purge is not None and now - queue.last_purge < PURGE_COOLDOWN:
                raise AwsError("AWS.SimpleQueueService.PurgeQueueInProgress",
                               f"Only one PurgeQueue operation on {queue.name} is allowed every "
                               "60 seconds.", 403)
            queue.last_purge = now
            queue.messages.clear()
        return None

    def list_queues(self, params, ctx):
        """Without MaxResults: up to 1000 and no token (API_ListQueues.html)."""
        prefix = params.get("QueueNamePrefix", "")
        with self.store.lock:
            names = sorted(name for (region, name) in self.store.queues
                           if region == ctx.region and name.startswith(prefix))
        return self._page(params, ctx, names, "QueueUrl")

    def list_dead_letter_source_queues(self, params, ctx):
        target = self._queue(params, ctx)
        with self.store.lock:
            names = sorted(q.name for q in self.store.queues.values()
                           if q.region == ctx.region and (q.redrive() or ("",))[0] == target.arn)
        return self._page(params, ctx, names, "QueueUrl")

    def _page(self, params, ctx, names, tag):
        limit = params.get("MaxResults")
        start = 0
        if params.get("NextToken"):
            try:
                start = int(base64.b64decode(params["NextToken"]).decode())
            except (ValueError, binascii.Error):
                raise invalid_value("Invalid NextToken value.")
        size = int(limit) if limit else 1000
        if not 1 <= size <= 1000:
            raise invalid_value(f"Value {limit} for parameter MaxResults is invalid. "
                                "Reason: MaxResults must be between 1 and 1000.")
        page = names[start:start + size]
        pairs = [(tag, self.url(ctx, self.store.queues[(ctx.region, n)])) for n in page]
        if limit and start + size < len(names):
            pairs.append(("NextToken", base64.b64encode(str(start + size).encode()).decode()))
        return pairs

    def tag_queue(self, params, ctx):
        queue = self._queue(params, ctx)
        queue.tags.update({t.get("Key"): t.get("Value", "") for t in indexed(params, "Tag")})
        return None

    def untag_queue(self, params, ctx):
        queue = self._queue(params, ctx)
        for key in indexed(params, "TagKey"):
            queue.tags.pop(key, None)
        return None

    def list_queue_tags(self, params, ctx):
        queue = self._queue(params, ctx)
        return [("Tag", [("Key", k), ("Value", v)]) for k, v in sorted(queue.tags.items())]

    # --- messages ---

    def send_message(self, params, ctx):
        queue = self._queue(params, ctx)
        body = params.get("MessageBody", "")
        attributes = self._message_attributes(params)
        self._check_message(queue, body, attributes)
        message = self.store.send(queue, body, attributes, ctx.principal.user_id,
                                  self._delay(params.get("DelaySeconds")))
        return [("MD5OfMessageBody", message.md5),
                ("MD5OfMessageAttributes", message.attributes_md5),
                ("MessageId", message.id)]

    def _batch_entries(self, params, prefix):
        entries = indexed(params, prefix)
        if not entries:
            raise AwsError("AWS.SimpleQueueService.EmptyBatchRequest",
                           "There should be at least one " + prefix + " in the request.")
        if len(entries) > MAX_BATCH_ENTRIES:
            raise AwsError("AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
                           f"Maximum number of entries per request are {MAX_BATCH_ENTRIES}. You "
                           f"have sent {len(entries)}.")
        ids = [e.get("Id", "") for e in entries]
        for entry_id in ids:
            if not BATCH_ID.fullmatch(entry_id):
                raise AwsError("AWS.SimpleQueueService.InvalidBatchEntryId",
                               "A batch entry id can only contain alphanumeric characters, "
                               "hyphens and underscores. It can be at most 80 letters long.")
        if len(set(ids)) != len(ids):
            raise AwsError("AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
                           "Id " + next(i for i in ids if ids.count(i) > 1) + " repeated.")
        return entries

    @staticmethod
    def _failed(entry_id, error):
        return ("BatchResultErrorEntry", [("Id", entry_id), ("SenderFault", True),
                                          ("Code", error.code), ("Message", error.message)])

    def send_message_batch(self, params, ctx):
        queue = self._queue(params, ctx)
        entries = self._batch_entries(params, "SendMessageBatchRequestEntry")
        checked, total = [], 0
        for entry in entries:
            try:
                attributes = self._message_attributes(entry)
                total += self._check_message(queue, entry.get("MessageBody", ""), attributes)
                checked.append((entry, attributes, self._delay(entry.get("DelaySeconds")), None))
            except AwsError as error:
                checked.append((entry, None, None, error))
        if total > MAX_MESSAGE_BYTES:
            raise AwsError("AWS.SimpleQueueService.BatchRequestTooLong",
                           f"Batch requests cannot be longer than {MAX_MESSAGE_BYTES} bytes. "
                           f"You have sent {total} bytes.")
        pairs = []
        for entry, attributes, delay, error in checked:
            if error is not None:
                pairs.append(self._failed(entry["Id"], error))
                continue
            message = self.store.send(queue, entry["MessageBody"], attributes,
                                      ctx.principal.user_id, delay)
            pairs.append(("SendMessageBatchResultEntry", [
                ("Id", entry["Id"]), ("MessageId", message.id),
                ("MD5OfMessageBody", message.md5),
                ("MD5OfMessageAttributes", message.attributes_md5)]))
        return pairs

    def receive_message(self, params, ctx):
        """https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html"""
        queue = self._queue(params, ctx)
        count = params.get("MaxNumberOfMessages") or "1"
        if not count.isdigit() or not 1 <= int(count) <= 10:
            raise invalid_value(f"Value {count} for parameter MaxNumberOfMessages is invalid. "
                                "Reason: Must be between 1 and 10, if provided.")
        wait = params.get("WaitTimeSeconds")
        wait = queue.number("ReceiveMessageWaitTimeSeconds") if wait in (None, "") else wait
        if not str(wait).isdigit() or not 0 <= int(wait) <= MAX_WAIT_SECONDS:
            raise invalid_value(f"Value {wait} for parameter WaitTimeSeconds is invalid. "
                                "Reason: Must be >= 0 and <= 20, if provided.")
        visibility = params.get("VisibilityTimeout")
        if visibility not in (None, ""):
            if not visibility.isdigit() or int(visibility) > MAX_VISIBILITY:
                raise invalid_value(f"Value {visibility} for parameter VisibilityTimeout is "
                                    "invalid. Reason: Must be >= 0 and <= 43200, if provided.")
            visibility = int(visibility)
        else:
            visibility = None
        wanted = set(indexed(params, "AttributeName"))
        wanted_user = indexed(params, "MessageAttributeName")
        taken = self.store.receive(queue, int(count), int(wait), visibility)
        return [("Message", self._message_pairs(m, wanted, wanted_user)) for m in taken]

    def _message_pairs(self, received, wanted, wanted_user):
        pairs = [("MessageId", received.message_id), ("ReceiptHandle", received.receipt_handle),
                 ("MD5OfBody", received.md5), ("Body", received.body)]
        for name, value in received.attributes.items():
            if "All" in wanted or name in wanted:
                pairs.append(("Attribute", [("Name", name), ("Value", value)]))
        chosen = {name: value for name, value in received.message_attributes.items()
                  if any(w in ("All", ".*") or w == name
                         or (w.endswith(".*") and name.startswith(w[:-1])) for w in wanted_user)}
        if chosen:
            pairs.append(("MD5OfMessageAttributes", attributes_md5(chosen)))
            pairs += self._attribute_pairs(chosen)
        return pairs

    def delete_message(self, params, ctx):
        queue = self._queue(params, ctx)
        self.store.delete(queue, params.get("ReceiptHandle", ""))
        return None

    def delete_message_batch(self, params, ctx):
        queue = self._queue(params, ctx)
        pairs = []
        for entry in self._batch_entries(params, "DeleteMessageBatchRequestEntry"):
            try:
                self.store.delete(queue, entry.get("ReceiptHandle", ""))
                pairs.append(("DeleteMessageBatchResultEntry", [("Id", entry["Id"])]))
            except AwsError as error:
                pairs.append(self._failed(entry["Id"], error))
        return pairs

    @staticmethod
    def _visibility(value):
        if not str(value).isdigit() or int(value) > MAX_VISIBILITY:
            raise invalid_value(f"Value {value} for parameter VisibilityTimeout is invalid. "
                                "Reason: Must be >= 0 and <= 43200, if provided.")
        return int(value)

    def change_message_visibility(self, params, ctx):
        queue = self._queue(params, ctx)
        self.store.change_visibility(queue, params.get("ReceiptHandle", ""),
                                     self._visibility(params.get("VisibilityTimeout", "")))
        return None

    def change_message_visibility_batch(self, params, ctx):
        queue = self._queue(params, ctx)
        pairs = []
        for entry in self._batch_entries(params, "ChangeMessageVisibilityBatchRequestEntry"):
            try:
                self.store.change_visibility(queue, entry.get("ReceiptHandle", ""),
                                             self._visibility(entry.get("VisibilityTimeout", "")))
                pairs.append(("ChangeMessageVisibilityBatchResultEntry", [("Id", entry["Id"])]))
            except AwsError as error:
                pairs.append(self._failed(entry["Id"], error))
        return pairs
