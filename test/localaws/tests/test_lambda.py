"""Lambda: functions from a zip run as real processes behind a Runtime API,
invocations, timeouts, crashes, code updates, logs, statistics, and event
source mappings from SQS.

The function under test is lambda_bootstrap.py, zipped as `bootstrap`.
"""
import base64
import io
import json
import os
import time
import urllib.request
import zipfile

import pytest
from botocore.exceptions import ClientError

from conftest import CliError, LocalAws, make_client

HERE = os.path.dirname(os.path.abspath(__file__))
ROLE = "arn:aws:iam::000000000000:role/service-role/test-lambda"


def zip_of(files):
    """{name: (bytes, mode)} -> zip bytes, each file with its Unix mode."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, (data, mode) in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o100000 | mode) << 16
            archive.writestr(info, data)
    return out.getvalue()


def bootstrap_zip(version="v1", mode=0o755):
    with open(os.path.join(HERE, "lambda_bootstrap.py"), encoding="utf-8") as f:
        source = f.read().replace('VERSION = "v1"', f'VERSION = "{version}"')
    return zip_of({"bootstrap": (source.encode(), mode)})


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(check, timeout=10, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


@pytest.fixture(scope="module")
def lam(client):
    return client("lambda")


@pytest.fixture(scope="module")
def logs(client):
    return client("logs")


@pytest.fixture(scope="module")
def sqs(client):
    return client("sqs")


@pytest.fixture
def function(lam, unique):
    """function(**overrides) -> name of a new function; deleted afterwards."""
    created = []

    def create(code=None, **overrides):
        name = unique("fn")
        settings = dict(FunctionName=name, Runtime="provided.al2023", Handler="handler",
                        Role=ROLE, Code={"ZipFile": code or bootstrap_zip()}, Timeout=3)
        settings.update(overrides)
        lam.create_function(**settings)
        created.append(name)
        return name
    yield create
    for name in created:
        try:
            lam.delete_function(FunctionName=name)
        except ClientError:
            pass


def invoke(lam, name, event, **extra):
    answer = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode(), **extra)
    return answer, json.loads(answer["Payload"].read() or b"null")


def log_messages(logs, name):
    """The function's log lines so far ([] before its log group exists)."""
    try:
        events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [e["message"] for e in events]


def stats(control, name):
    return control.get(f"lambda/{name}/stats")


# --- the API ---

def test_function_lifecycle(lam, function):
    name = function(MemorySize=256, Description="d", Environment={"Variables": {"AA": "1"}},
                    Architectures=["arm64"])
    got = lam.get_function(FunctionName=name)
    config = got["Configuration"]
    assert (config["State"], config["Runtime"], config["Handler"], config["MemorySize"],
            config["Timeout"], config["Role"], config["Version"], config["PackageType"]) == (
        "Active", "provided.al2023", "handler", 256, 3, ROLE, "$LATEST", "Zip")
    assert config["Environment"] == {"Variables": {"AA": "1"}}
    assert config["Architectures"] == ["arm64"]
    assert config["FunctionArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert config["LastModified"].endswith("+0000") and len(config["CodeSha256"]) == 44
    with urllib.request.urlopen(got["Code"]["Location"]) as response, \
            zipfile.ZipFile(io.BytesIO(response.read())) as archive:
        assert archive.namelist() == ["bootstrap"]
    # By ARN and partial ARN too.
    for ref in (config["FunctionArn"], f"000000000000:function:{name}", f"{name}:$LATEST"):
        assert lam.get_function_configuration(FunctionName=ref)["FunctionName"] == name
    updated = lam.update_function_configuration(FunctionName=name, Timeout=5,
                                                Environment={"Variables": {"BB": "2"}})
    assert updated["LastUpdateStatus"] == "InProgress"
    config = lam.get_function_configuration(FunctionName=name)
    assert (config["Timeout"], config["Environment"], config["LastUpdateStatus"]) == (
        5, {"Variables": {"BB": "2"}}, "Successful")
    with pytest.raises(ClientError) as excinfo:
        lam.update_function_configuration(FunctionName=name, Timeout=6, RevisionId="stale")
    assert error_code(excinfo) == "PreconditionFailedException"
    names = [f["FunctionName"] for page in lam.get_paginator("list_functions").paginate(
        PaginationConfig={"PageSize": 1}) for f in page["Functions"]]
    assert name in names
    lam.delete_function(FunctionName=name)
    with pytest.raises(ClientError) as excinfo:
        lam.get_function(FunctionName=name)
    assert error_code(excinfo) == "ResourceNotFoundException"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


@pytest.mark.parametrize("overrides, code", [
    ({"Runtime": "python3.12"}, "InvalidParameterValueException"),
    ({"Runtime": "provided"}, "InvalidParameterValueException"),
    ({"Handler": None}, "InvalidParameterValueException"),
    ({"Role": "not-a-role"}, "ValidationException"),
    ({"Timeout": 901}, "ValidationException"),
    ({"MemorySize": 10241}, "ValidationException"),
    ({"Environment": {"Variables": {"AWS_REGION": "x"}}}, "InvalidParameterValueException"),
    ({"Environment": {"Variables": {"BIG": "x" * 5000}}}, "InvalidParameterValueException"),
    ({"Environment": {"Variables": {"A": "keys have two characters at least"}}},
     "ValidationException"),
    ({"Code": {"ZipFile": b"not a zip"}}, "InvalidParameterValueException"),
    ({"Code": {"S3Bucket": "no-such-bucket-here", "S3Key": "k"}}, "InvalidParameterValueException"),
])
def test_create_function_refusals(lam, unique, overrides, code):
    settings = dict(FunctionName=unique("bad"), Runtime="provided.al2023", Handler="h",
                    Role=ROLE, Code={"ZipFile": bootstrap_zip()})
    settings.update(overrides)
    settings = {k: v for k, v in settings.items() if v is not None}
    with pytest.raises(ClientError) as excinfo:
        lam.create_function(**settings)
    assert error_code(excinfo) == code


def test_create_twice_is_a_conflict(lam, function):
    name = function()
    with pytest.raises(ClientError) as excinfo:
        function(FunctionName=name)
    assert error_code(excinfo) == "ResourceConflictException"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


def test_code_from_s3_and_the_awscli(aws, s3, bucket, unique, tmp_path):
    key = "code/function.zip"
    s3.put_object(Bucket=bucket, Key=key, Body=bootstrap_zip("from-s3"))
    name = unique("cli")
    created = aws("lambda", "create-function", "--function-name", name, "--runtime",
                  "provided.al2023", "--handler", "h", "--role", ROLE, "--timeout", "5",
                  "--code", f"S3Bucket={bucket},S3Key={key}",
                  "--environment", "Variables={GREETING=hello}")
    assert created["State"] == "Pending" and created["Timeout"] == 5
    out = tmp_path / "out.json"
    answer = aws("lambda", "invoke", "--function-name", name, "--cli-binary-format",
                 "raw-in-base64-out", "--payload", '{"echo": "cli"}', str(out))
    assert answer["StatusCode"] == 200 and answer["ExecutedVersion"] == "$LATEST"
    assert json.loads(out.read_text())["version"] == "from-s3"
    zip_path = tmp_path / "v2.zip"
    zip_path.write_bytes(bootstrap_zip("from-file"))
    aws("lambda", "update-function-code", "--function-name", name, "--zip-file",
        f"fileb://{zip_path}")
    aws("lambda", "wait", "function-updated-v2", "--function-name", name, expect_json=False)
    aws("lambda", "invoke", "--function-name", name, "--cli-binary-format",
        "raw-in-base64-out", "--payload", '{"echo": "cli"}', str(out))
    assert json.loads(out.read_text())["version"] == "from-file"
    aws("lambda", "delete-function", "--function-name", name, expect_json=False)
    with pytest.raises(CliError) as excinfo:
        aws("lambda", "get-function", "--function-name", name)
    assert "(ResourceNotFoundException)" in excinfo.value.stderr


# --- running it ---

def test_invoke_runs_the_bootstrap_with_lambdas_environment(lam, function, control, client):
    name = function(MemorySize=192, Environment={"Variables": {"MY_SETTING": "on"}})
    answer, env = invoke(lam, name, {"env": True})
    assert answer["StatusCode"] == 200 and "FunctionError" not in answer
    assert env["MY_SETTING"] == "on"
    expected = {"AWS_LAMBDA_FUNCTION_NAME": name, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "192",
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "AWS_REGION": "us-east-1",
                "AWS_DEFAULT_REGION": "us-east-1", "_HANDLER": "handler",
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
                "AWS_ENDPOINT_URL": control.base[:-len("/_localaws/")],
                "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand", "TZ": ":UTC"}
    assert {k: env.get(k) for k in expected} == expected
    assert env["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")
    assert env["AWS_ACCESS_KEY_ID"].startswith("ASIA") and env["AWS_SESSION_TOKEN"]
    assert os.path.isfile(os.path.join(env["LAMBDA_TASK_ROOT"], "bootstrap"))
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"].split("/")[3].startswith("[$LATEST]")
    # The temporary credentials are the function role's, and localaws accepts them.
    _, identity = invoke(lam, name, {"whoami": True})
    assert identity["Arn"] == f"arn:aws:sts::000000000000:assumed-role/test-lambda/{name}"


def test_warm_invocations_reuse_the_process_and_stats_record_them(lam, function, control):
    name = function()
    pids = {invoke(lam, name, {"echo": i})[1]["pid"] for i in range(3)}
    assert len(pids) == 1
    found = stats(control, name)
    first, *rest = found["invocations"]
    assert first["cold_start"] and first["init_duration_ms"] > 0
    assert all(not r["cold_start"] and r["init_duration_ms"] is None for r in rest)
    assert all(r["status"] == "response" and r["peak_rss_kb"] > 1000 for r in found["invocations"])
    assert found["processes"][0]["pid"] == pids.pop() and found["processes"][0]["running"]
    assert found["summary"]["invocations"] == 3 and found["summary"]["cold_starts"] == 1


def test_timeout_kills_the_process_and_the_next_invocation_starts_a_new_one(lam, function, control):
    name = function(Timeout=1)
    _, first = invoke(lam, name, {"echo": 1})
    started = time.monotonic()
    answer, error = invoke(lam, name, {"sleep": 5})
    assert time.monotonic() - started < 3
    assert answer["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in error["errorMessage"]
    assert not pid_alive(first["pid"])
    _, again = invoke(lam, name, {"echo": 2})
    assert again["pid"] != first["pid"]
    assert [i["status"] for i in stats(control, name)["invocations"]] == [
        "response", "timeout", "response"]


def test_a_crash_fails_the_invocation_and_the_process_restarts(lam, function):
    name = function()
    answer, error = invoke(lam, name, {"exit": 7})
    assert answer["FunctionError"] == "Unhandled"
    assert error["errorType"] == "Runtime.ExitError"
    assert "exit status 7" in error["errorMessage"]
    assert invoke(lam, name, {"echo": "back"})[1]["echo"] == "back"


def test_function_errors_come_back_as_unhandled(lam, function):
    name = function()
    answer, error = invoke(lam, name, {"fail": "broken"})
    assert answer["FunctionError"] == "Unhandled"
    assert error == {"errorType": "TestError", "errorMessage": "broken"}


@pytest.mark.parametrize("code, error_type", [
    (zip_of({"not-bootstrap": (b"#!/bin/sh\n", 0o755)}), "Runtime.InvalidEntrypoint"),
    (bootstrap_zip(mode=0o644), "Runtime.InvalidEntrypoint"),
])
def test_bad_entrypoints(lam, function, code, error_type):
    name = function(code=code)
    answer, error = invoke(lam, name, {"echo": 1})
    assert answer["FunctionError"] == "Unhandled" and error["errorType"] == error_type


def test_init_error_is_the_invocations_error(lam, function, logs):
    name = function(Environment={"Variables": {"INIT_ERROR": "1"}})
    answer, error = invoke(lam, name, {"echo": 1})
    assert answer["FunctionError"] == "Unhandled"
    assert error == {"errorType": "Runtime.TestInitError", "errorMessage": "on purpose"}
    messages = log_messages(logs, name)
    assert "init failed on purpose" in messages
    assert any(m.startswith("INIT_REPORT") and "Status: error" in m for m in messages)


def test_update_function_code_replaces_the_process(lam, function):
    name = function()
    _, old = invoke(lam, name, {"echo": 1})
    assert old["version"] == "v1"
    lam.update_function_code(FunctionName=name, ZipFile=bootstrap_zip("v2"))
    assert wait_for(lambda: not pid_alive(old["pid"]), timeout=5)
    _, new = invoke(lam, name, {"echo": 2})
    assert new["version"] == "v2" and new["pid"] != old["pid"]


def test_invocation_types_and_payload_checks(lam, function, logs):
    name = function()
    assert lam.invoke(FunctionName=name, InvocationType="DryRun")["StatusCode"] == 204
    marker = f"async-{time.time_ns()}"
    assert lam.invoke(FunctionName=name, InvocationType="Event",
                      Payload=json.dumps({"print": [marker]}))["StatusCode"] == 202
    assert wait_for(lambda: marker in log_messages(logs, name))
    with pytest.raises(ClientError) as excinfo:
        lam.invoke(FunctionName=name, Payload=b"{not json")
    assert error_code(excinfo) == "InvalidRequestContentException"
    with pytest.raises(ClientError) as excinfo:
        lam.invoke(FunctionName=name, Payload=b'"' + b"x" * (6 * 1024 * 1024) + b'"')
    assert error_code(excinfo) == "RequestTooLargeException"


def test_logs_show_the_output_between_start_end_and_report(lam, function, logs, aws):
    name = function()
    answer, _ = invoke(lam, name, {"print": ["first line", "second line"]}, LogType="Tail")
    tail = base64.b64decode(answer["LogResult"]).decode().splitlines()
    assert tail[0].startswith("START RequestId: ") and tail[0].endswith(" Version: $LATEST")
    assert tail[1:3] == ["first line", "second line"]
    assert tail[3].startswith("END RequestId: ")
    assert tail[4].startswith("REPORT RequestId: ")
    streams = logs.describe_log_streams(logGroupName=f"/aws/lambda/{name}")["logStreams"]
    assert len(streams) == 1 and "[$LATEST]" in streams[0]["logStreamName"]
    messages = [e["message"] for e in logs.get_log_events(
        logGroupName=f"/aws/lambda/{name}", logStreamName=streams[0]["logStreamName"],
        startFromHead=True)["events"]]
    assert messages[0].startswith("INIT_START") and messages[1] == "initialised"
    report = messages[-1]
    fields = dict(part.split(": ", 1) for part in report.split("\t")[1:] if part)
    assert set(fields) == {"Duration", "Billed Duration", "Memory Size", "Max Memory Used",
                           "Init Duration"}
    assert fields["Memory Size"] == "128 MB" and fields["Max Memory Used"].endswith(" MB")
    tailed = aws("logs", "tail", f"/aws/lambda/{name}", expect_json=False)
    assert "first line" in tailed and "REPORT RequestId" in tailed


def test_stopping_localaws_stops_every_function_process(tmp_path):
    server = LocalAws()
    try:
        lam = make_client(server.endpoint, "lambda")
        pids = []
        for i in range(2):
            lam.create_function(FunctionName=f"f{i}", Runtime="provided.al2", Handler="h",
                                Role=ROLE, Code={"ZipFile": bootstrap_zip()})
            pids.append(json.loads(lam.invoke(FunctionName=f"f{i}", Payload=b'{"echo": 1}')[
                "Payload"].read())["pid"])
        assert all(pid_alive(pid) for pid in pids)
    finally:
        assert server.stop() == 0
    assert not any(pid_alive(pid) for pid in pids)


# --- event source mappings ---

@pytest.fixture
def queue(sqs, unique):
    """queue(**attributes) -> (url, arn), with a dead-letter queue when asked."""
    def create(max_receive=None, **attributes):
        attributes = {k: str(v) for k, v in attributes.items()}
        dlq = None
        if max_receive:
            dlq = sqs.create_queue(QueueName=unique("dlq"))["QueueUrl"]
            dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
                "Attributes"]["QueueArn"]
            attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": dlq_arn,
                                                      "maxReceiveCount": max_receive})
        url = sqs.create_queue(QueueName=unique("q"), Attributes=attributes)["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        return url, arn, dlq
    return create


@pytest.fixture
def mapping(lam):
    created = []

    def create(**settings):
        uuid = lam.create_event_source_mapping(**settings)["UUID"]
        created.append(uuid)
        return uuid
    yield create
    for uuid in created:
        try:
            lam.delete_event_source_mapping(UUID=uuid)
        except ClientError:
            pass


def queue_counts(sqs, url):
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return (int(attributes["ApproximateNumberOfMessages"]),
            int(attributes["ApproximateNumberOfMessagesNotVisible"]))


def records_logged(logs, name):
    return [json.loads(m) for m in log_messages(logs, name) if m.startswith('{"messageId"')]


def test_sqs_records_reach_the_function_as_lambda_builds_them(lam, sqs, logs, function, queue,
                                                              mapping):
    name = function(Timeout=2)
    url, arn, _ = queue(VisibilityTimeout=2)
    sent = sqs.send_message(QueueUrl=url, MessageBody='{"hello": "world"}', MessageAttributes={
        "kind": {"DataType": "String", "StringValue": "greeting"}})
    uuid = mapping(EventSourceArn=arn, FunctionName=name, BatchSize=10)
    record, = wait_for(lambda: records_logged(logs, name))
    assert set(record) == {"messageId", "receiptHandle", "body", "attributes", "messageAttributes",
                           "md5OfBody", "md5OfMessageAttributes", "eventSource", "eventSourceARN",
                           "awsRegion"}
    assert (record["messageId"], record["body"], record["md5OfBody"], record["eventSource"],
            record["eventSourceARN"], record["awsRegion"]) == (
        sent["MessageId"], '{"hello": "world"}', sent["MD5OfMessageBody"], "aws:sqs", arn,
        "us-east-1")
    assert record["md5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert set(record["attributes"]) == {"ApproximateReceiveCount", "SentTimestamp", "SenderId",
                                         "ApproximateFirstReceiveTimestamp"}
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert record["messageAttributes"] == {"kind": {
        "stringValue": "greeting", "stringListValues": [], "binaryListValues": [],
        "dataType": "String"}}
    assert wait_for(lambda: queue_counts(sqs, url) == (0, 0))
    got = lam.get_event_source_mapping(UUID=uuid)
    assert (got["State"], got["BatchSize"], got["FunctionArn"].endswith(name)) == (
        "Enabled", 10, True)


def test_partial_batch_failures_retry_only_the_failed_then_dead_letter(sqs, logs, function, queue,
                                                                      mapping):
    name = function(Timeout=1)
    url, arn, dlq = queue(max_receive=2, VisibilityTimeout=1)
    sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "ok", "MessageBody": "fine"}, {"Id": "bad", "MessageBody": "please fail"}])
    mapping(EventSourceArn=arn, FunctionName=name, BatchSize=10,
            FunctionResponseTypes=["ReportBatchItemFailures"])
    dead = wait_for(lambda: sqs.receive_message(QueueUrl=dlq, AttributeNames=["All"]).get(
        "Messages"), timeout=15)
    assert [m["Body"] for m in dead] == ["please fail"]
    bodies = [r["body"] for r in records_logged(logs, name)]
    assert bodies.count("fine") == 1 and bodies.count("please fail") == 2
    assert queue_counts(sqs, url) == (0, 0)


@pytest.mark.parametrize("body, counter", [
    ("invalid-response", "invalid_responses"),   # an itemIdentifier not in the batch
    ("crash", "invoke_errors"),                  # the function exits mid-batch
])
def test_invalid_batch_responses_and_function_errors_return_the_whole_batch(
        lam, sqs, logs, function, queue, mapping, control, body, counter):
    name = function(Timeout=1)
    url, arn, _ = queue(VisibilityTimeout=1)
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": body},
                                                  {"Id": "b", "MessageBody": "fine"}])
    uuid = mapping(EventSourceArn=arn, FunctionName=name,
                   FunctionResponseTypes=["ReportBatchItemFailures"])

    def counters():
        return next(m["counters"] for m in control.get("lambda/mappings") if m["UUID"] == uuid)
    assert wait_for(lambda: counters()[counter] >= 2, timeout=10)
    lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    assert counters()["deleted"] == 0
    assert {r["body"] for r in records_logged(logs, name)} >= {body}


def test_a_disabled_mapping_leaves_the_queue_alone(lam, sqs, function, queue, mapping):
    name = function(Timeout=1)
    url, arn, _ = queue(VisibilityTimeout=1)
    uuid = mapping(EventSourceArn=arn, FunctionName=name, Enabled=False)
    assert lam.get_event_source_mapping(UUID=uuid)["State"] == "Disabled"
    sqs.send_message(QueueUrl=url, MessageBody="wait")
    time.sleep(0.5)
    assert queue_counts(sqs, url) == (1, 0)
    assert lam.update_event_source_mapping(UUID=uuid, Enabled=True)["State"] == "Enabling"
    assert wait_for(lambda: queue_counts(sqs, url) == (0, 0))


@pytest.mark.parametrize("queue_attributes, settings, code", [
    ({"VisibilityTimeout": 1}, {}, "InvalidParameterValueException"),   # timeout 3 > 1
    ({}, {"BatchSize": 11}, "InvalidParameterValueException"),          # > 10 needs a window
    ({}, {"BatchSize": 10001, "MaximumBatchingWindowInSeconds": 1}, "InvalidParameterValueException"),
    ({}, {"FunctionResponseTypes": ["Nope"]}, "ValidationException"),
])
def test_mapping_refusals(lam, function, queue, queue_attributes, settings, code):
    name = function()
    _, arn, _ = queue(**queue_attributes)
    with pytest.raises(ClientError) as excinfo:
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, **settings)
    assert error_code(excinfo) == code


def test_mapping_api(lam, function, queue, mapping):
    name = function()
    _, arn, _ = queue()
    uuid = mapping(EventSourceArn=arn, FunctionName=name, BatchSize=50,
                   MaximumBatchingWindowInSeconds=2)
    with pytest.raises(ClientError) as excinfo:
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name)
    assert error_code(excinfo) == "ResourceConflictException"
    listed = lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [uuid]
    assert lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"][0][
        "MaximumBatchingWindowInSeconds"] == 2
    assert lam.update_event_source_mapping(UUID=uuid, BatchSize=5)["BatchSize"] == 5
    assert lam.delete_event_source_mapping(UUID=uuid)["State"] == "Deleting"
    with pytest.raises(ClientError) as excinfo:
        lam.get_event_source_mapping(UUID=uuid)
    assert error_code(excinfo) == "ResourceNotFoundException"
