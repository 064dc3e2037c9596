"""SQS standard queues over the query API: queues, messages, visibility,
long polling, dead letters, retention, batches, and the AWS CLI."""
import hashlib
import json
import threading
import time

import pytest
from botocore.exceptions import ClientError

from conftest import CliError


@pytest.fixture(scope="module")
def sqs(client):
    return client("sqs")


@pytest.fixture
def queue(sqs, unique):
    """queue(**attributes) -> url of a fresh queue."""
    def create(**attributes):
        return sqs.create_queue(QueueName=unique("q"),
                                Attributes={k: str(v) for k, v in attributes.items()})["QueueUrl"]
    return create


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def attributes(sqs, url):
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]


def arn_of(sqs, url):
    return attributes(sqs, url)["QueueArn"]


def counts(sqs, url):
    found = attributes(sqs, url)
    return tuple(int(found[k]) for k in ("ApproximateNumberOfMessages",
                                         "ApproximateNumberOfMessagesNotVisible",
                                         "ApproximateNumberOfMessagesDelayed"))


def test_queue_lifecycle(sqs, unique, endpoint):
    name = unique("life")
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "7"})["QueueUrl"]
    assert url == f"{endpoint}/000000000000/{name}"
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url
    # Same attributes: the same queue; different ones: QueueAlreadyExists.
    assert sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "7"})["QueueUrl"] == url
    with pytest.raises(ClientError) as excinfo:
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "8"})
    assert error_code(excinfo) == "QueueAlreadyExists"
    found = attributes(sqs, url)
    assert found["QueueArn"] == f"arn:aws:sqs:us-east-1:000000000000:{name}"
    assert (found["VisibilityTimeout"], found["MessageRetentionPeriod"], found["DelaySeconds"],
            found["MaximumMessageSize"], found["ReceiveMessageWaitTimeSeconds"]) == (
        "7", "345600", "0", "262144", "0")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"MessageRetentionPeriod": "60"})
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["MessageRetentionPeriod"])[
        "Attributes"] == {"MessageRetentionPeriod": "60"}
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName=name)
    # "You must wait 60 seconds after deleting a queue before you can create
    # another with the same name."
    with pytest.raises(ClientError) as excinfo:
        sqs.create_queue(QueueName=name)
    assert error_code(excinfo) == "AWS.SimpleQueueService.QueueDeletedRecently"


@pytest.mark.parametrize("attribute, value, code", [
    ("VisibilityTimeout", "43201", "InvalidAttributeValue"),
    ("MessageRetentionPeriod", "59", "InvalidAttributeValue"),
    ("DelaySeconds", "-1", "InvalidAttributeValue"),
    ("ReceiveMessageWaitTimeSeconds", "21", "InvalidAttributeValue"),
    ("NoSuchAttribute", "1", "InvalidAttributeName"),
    ("RedrivePolicy", '{"deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:none", '
                      '"maxReceiveCount": 3}', "InvalidParameterValue"),
])
def test_attribute_refusals(sqs, unique, attribute, value, code):
    with pytest.raises(ClientError) as excinfo:
        sqs.create_queue(QueueName=unique("bad"), Attributes={attribute: value})
    assert error_code(excinfo) == code


def test_list_queues_pages(sqs, unique):
    stem = unique("list")
    urls = [sqs.create_queue(QueueName=f"{stem}-{i}")["QueueUrl"] for i in range(5)]
    pages = list(sqs.get_paginator("list_queues").paginate(
        QueueNamePrefix=stem, PaginationConfig={"PageSize": 2}))
    assert [len(p["QueueUrls"]) for p in pages] == [2, 2, 1]
    assert [u for p in pages for u in p["QueueUrls"]] == urls
    assert "NextToken" not in sqs.list_queues(QueueNamePrefix=stem)


def test_send_receive_delete(sqs, queue):
    url = queue()
    body = "héllo\r\nwörld <&> \U0001F600"
    sent = sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes={
        "s": {"DataType": "String", "StringValue": "v"},
        "n": {"DataType": "Number", "StringValue": "42"},
        "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}})
    assert sent["MD5OfMessageBody"] == hashlib.md5(body.encode()).hexdigest()
    got, = sqs.receive_message(QueueUrl=url, AttributeNames=["All"],
                               MessageAttributeNames=["All"])["Messages"]
    assert (got["MessageId"], got["Body"], got["MD5OfBody"]) == (
        sent["MessageId"], body, sent["MD5OfMessageBody"])
    assert got["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert got["MessageAttributes"]["b"] == {"BinaryValue": b"\x00\x01", "DataType": "Binary"}
    assert got["MessageAttributes"]["n"] == {"StringValue": "42", "DataType": "Number"}
    assert got["Attributes"]["ApproximateReceiveCount"] == "1"
    assert got["Attributes"]["SenderId"] == "000000000000"
    assert abs(int(got["Attributes"]["SentTimestamp"]) / 1000 - time.time()) < 5
    assert counts(sqs, url) == (0, 1, 0)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got["ReceiptHandle"])
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got["ReceiptHandle"])   # idempotent
    assert counts(sqs, url) == (0, 0, 0)
    with pytest.raises(ClientError) as excinfo:
        sqs.delete_message(QueueUrl=url, ReceiptHandle="garbage")
    assert error_code(excinfo) == "ReceiptHandleIsInvalid"


def test_message_attributes_md5_as_sqs_computes_it(sqs, queue):
    """The digest clients check, vectors from public SQS client tests
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html)."""
    url = queue()
    for attributes, expected in [
            ({"SellerName": {"DataType": "String", "StringValue": "Example Store"}},
             "cd28f3b68aeee4b2eac9c66f2f694b58"),
            ({"ordinal": {"DataType": "Number", "StringValue": "1"},
              "category": {"DataType": "String", "StringValue": "test"}},
             "d21ae90c49061e927f57df5f5d72be1f")]:
        sent = sqs.send_message(QueueUrl=url, MessageBody="m", MessageAttributes=attributes)
        assert sent["MD5OfMessageAttributes"] == expected


def test_visibility_timeout_and_receive_counts(sqs, queue):
    url = queue(VisibilityTimeout=1)
    sqs.send_message(QueueUrl=url, MessageBody="m")
    first, = sqs.receive_message(QueueUrl=url)["Messages"]
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    second, = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=3, AttributeNames=["All"])[
        "Messages"]
    assert second["Attributes"]["ApproximateReceiveCount"] == "2"
    assert second["ReceiptHandle"] != first["ReceiptHandle"]
    # A stale handle "succeeds, but the message might not be deleted".
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    assert counts(sqs, url) == (0, 1, 0)
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"],
                                  VisibilityTimeout=0)
    third, = sqs.receive_message(QueueUrl=url, VisibilityTimeout=30)["Messages"]
    with pytest.raises(ClientError) as excinfo:
        sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"],
                                      VisibilityTimeout=0)
    assert error_code(excinfo) == "AWS.SimpleQueueService.MessageNotInflight"
    sqs.delete_message(QueueUrl=url, ReceiptHandle=third["ReceiptHandle"])
    assert counts(sqs, url) == (0, 0, 0)


def test_long_polling_returns_as_soon_as_a_message_arrives(sqs, queue):
    url = queue()
    found = {}

    def poll():
        started = time.monotonic()
        found["messages"] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10).get("Messages")
        found["waited"] = time.monotonic() - started
    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.3)
    sqs.send_message(QueueUrl=url, MessageBody="wake up")
    poller.join(15)
    assert [m["Body"] for m in found["messages"]] == ["wake up"]
    assert 0.2 < found["waited"] < 3
    started = time.monotonic()
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)
    assert time.monotonic() - started >= 0.9


def test_delay_seconds(sqs, queue):
    url = queue(DelaySeconds=1)
    sqs.send_message(QueueUrl=url, MessageBody="later")
    assert counts(sqs, url) == (0, 0, 1)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=3)["Messages"]
    assert [m["Body"] for m in got] == ["later"]


def test_redrive_to_the_dead_letter_queue_after_max_receive_count(sqs, queue):
    dlq = queue()
    url = queue(RedrivePolicy=json.dumps({"deadLetterTargetArn": arn_of(sqs, dlq),
                                          "maxReceiveCount": 2}))
    sent = sqs.send_message(QueueUrl=url, MessageBody="poison")
    for _ in range(2):
        assert len(sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"]) == 1
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    dead, = sqs.receive_message(QueueUrl=dlq, AttributeNames=["All"])["Messages"]
    assert (dead["MessageId"], dead["Body"]) == (sent["MessageId"], "poison")
    assert dead["Attributes"]["ApproximateReceiveCount"] == "3"
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [url]


def test_retention_expires_messages_by_the_emulator_clock(sqs, queue, clean_control):
    url = queue(MessageRetentionPeriod=60)
    sqs.send_message(QueueUrl=url, MessageBody="old")
    clean_control.post("clock", {"advance": 61})
    assert counts(sqs, url) == (0, 0, 0)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)


def test_batches(sqs, queue):
    url = queue()
    result = sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "a", "MessageBody": "one"},
        {"Id": "b", "MessageBody": "two", "DelaySeconds": 0},
        {"Id": "c", "MessageBody": "bad \x01 character"}])
    assert sorted(e["Id"] for e in result["Successful"]) == ["a", "b"]
    assert [(f["Id"], f["Code"], f["SenderFault"]) for f in result["Failed"]] == [
        ("c", "InvalidMessageContents", True)]
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in got) == ["one", "two"]
    deleted = sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
        + [{"Id": "x", "ReceiptHandle": "garbage"}])
    assert len(deleted["Successful"]) == 2 and deleted["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    for entries, code in [
            ([{"Id": str(i), "MessageBody": "m"} for i in range(11)],
             "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"),
            ([{"Id": "same", "MessageBody": "m"}] * 2,
             "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"),
            ([{"Id": "bad id!", "MessageBody": "m"}], "AWS.SimpleQueueService.InvalidBatchEntryId"),
            ([{"Id": str(i), "MessageBody": "x" * 30000} for i in range(10)],
             "AWS.SimpleQueueService.BatchRequestTooLong")]:
        with pytest.raises(ClientError) as excinfo:
            sqs.send_message_batch(QueueUrl=url, Entries=entries)
        assert error_code(excinfo) == code


@pytest.mark.parametrize("call, code", [
    (lambda sqs, url: sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=11),
     "InvalidParameterValue"),
    (lambda sqs, url: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=21), "InvalidParameterValue"),
    (lambda sqs, url: sqs.send_message(QueueUrl=url, MessageBody="x" * 262145),
     "InvalidParameterValue"),
    (lambda sqs, url: sqs.send_message(QueueUrl=url + "-missing", MessageBody="x"),
     "AWS.SimpleQueueService.NonExistentQueue"),
])
def test_message_refusals(sqs, queue, call, code):
    url = queue()
    with pytest.raises(ClientError) as excinfo:
        call(sqs, url)
    assert error_code(excinfo) == code


def test_purge_once_a_minute(sqs, queue):
    url = queue()
    sqs.send_message(QueueUrl=url, MessageBody="m")
    sqs.purge_queue(QueueUrl=url)
    assert counts(sqs, url) == (0, 0, 0)
    with pytest.raises(ClientError) as excinfo:
        sqs.purge_queue(QueueUrl=url)
    assert error_code(excinfo) == "AWS.SimpleQueueService.PurgeQueueInProgress"


def test_awscli_story(aws, unique):
    name = unique("cli")
    url = aws("sqs", "create-queue", "--queue-name", name,
              "--attributes", "VisibilityTimeout=5")["QueueUrl"]
    sent = aws("sqs", "send-message", "--queue-url", url, "--message-body", '{"k": "v"}')
    got = aws("sqs", "receive-message", "--queue-url", url, "--attribute-names", "All",
              "--wait-time-seconds", "1")["Messages"][0]
    assert got["MessageId"] == sent["MessageId"] and got["Body"] == '{"k": "v"}'
    aws("sqs", "delete-message", "--queue-url", url, "--receipt-handle", got["ReceiptHandle"],
        expect_json=False)
    assert aws("sqs", "get-queue-attributes", "--queue-url", url, "--attribute-names",
               "ApproximateNumberOfMessages")["Attributes"] == {"ApproximateNumberOfMessages": "0"}
    aws("sqs", "delete-queue", "--queue-url", url, expect_json=False)
    with pytest.raises(CliError) as excinfo:
        aws("sqs", "get-queue-url", "--queue-name", name)
    assert "NonExistentQueue" in excinfo.value.stderr
