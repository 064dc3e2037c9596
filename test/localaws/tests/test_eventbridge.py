"""EventBridge: event patterns, rules and targets, SSM's "Parameter Store
Change" events delivered to SQS queues, PutEvents, and held (late,
reordered) delivery through the control endpoint."""
import json
import re

import pytest
from botocore.exceptions import ClientError

SSM_EVENT = {
    "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "Parameter Store Change", "source": "aws.ssm", "account": "000000000000",
    "time": "2024-06-13T01:54:26Z", "region": "us-east-1",
    "resources": ["arn:aws:ssm:us-east-1:000000000000:parameter/app/db/url"],
    "detail": {"name": "/app/db/url", "type": "String", "operation": "Update", "size": 12,
               "ip": "10.0.0.7", "tags": ["a", "b"], "nothing": None},
}

# pattern -> whether SSM_EVENT matches it
# (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html)
PATTERNS = [
    ({"source": ["aws.ssm"]}, True),
    ({"source": ["aws.s3", "aws.ssm"]}, True),
    ({"source": ["aws.s3"]}, False),
    ({"source": ["aws.ssm"], "detail-type": ["Parameter Store Change"]}, True),
    ({"source": ["aws.ssm"], "detail-type": ["Parameter Store Changes"]}, False),
    ({"detail": {"operation": ["Create", "Update"]}}, True),
    ({"detail": {"operation": ["Delete"]}}, False),
    ({"detail": {"name": [{"prefix": "/app/"}]}}, True),
    ({"detail": {"name": [{"prefix": "/other/"}]}}, False),
    ({"detail": {"name": [{"prefix": {"equals-ignore-case": "/APP/"}}]}}, True),
    ({"detail": {"name": [{"suffix": "/url"}]}}, True),
    ({"detail": {"name": [{"wildcard": "/app/*/url"}]}}, True),
    ({"detail": {"name": [{"wildcard": "/app/*/host"}]}}, False),
    ({"detail": {"type": [{"equals-ignore-case": "string"}]}}, True),
    ({"detail": {"operation": [{"anything-but": "Delete"}]}}, True),
    ({"detail": {"operation": [{"anything-but": ["Update", "Create"]}]}}, False),
    ({"detail": {"name": [{"anything-but": {"prefix": "/app/"}}]}}, False),
    ({"detail": {"size": [{"numeric": [">", 10, "<=", 12]}]}}, True),
    ({"detail": {"size": [{"numeric": ["<", 10]}]}}, False),
    ({"detail": {"size": [12]}}, True),
    ({"detail": {"size": ["12"]}}, False),               # a string is not the number
    ({"detail": {"ip": [{"cidr": "10.0.0.0/24"}]}}, True),
    ({"detail": {"tags": ["b"]}}, True),                 # any element of an array
    ({"detail": {"description": [{"exists": False}]}}, True),
    ({"detail": {"description": [{"exists": True}]}}, False),
    ({"detail": {"name": [{"exists": True}]}}, True),
    ({"detail": {"description": ["x"]}}, False),         # missing field
    ({"detail": {"nothing": [None]}}, True),
    ({"$or": [{"source": ["aws.s3"]}, {"detail": {"type": ["String"]}}]}, True),
    ({"$or": [{"source": ["aws.s3"]}, {"detail": {"type": ["SecureString"]}}]}, False),
]


@pytest.fixture(scope="module")
def events(client):
    return client("events")


@pytest.fixture(scope="module")
def sqs(client):
    return client("sqs")


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


@pytest.mark.parametrize("pattern, expected", PATTERNS)
def test_event_patterns(events, pattern, expected):
    assert events.test_event_pattern(EventPattern=json.dumps(pattern),
                                     Event=json.dumps(SSM_EVENT))["Result"] is expected


@pytest.mark.parametrize("pattern", [
    "not json", "[]", "{}", '{"source": "aws.ssm"}', '{"source": []}',
    '{"source": [{"prefix": 1}]}', '{"source": [{"unknown-op": "x"}]}',
    '{"detail": {"size": [{"numeric": ["!", 1]}]}}', '{"source": [{"exists": "yes"}]}',
])
def test_invalid_patterns_are_refused(events, unique, pattern):
    with pytest.raises(ClientError) as excinfo:
        events.put_rule(Name=unique("bad"), EventPattern=pattern)
    assert error_code(excinfo) == "InvalidEventPatternException"


@pytest.fixture
def queue(sqs, unique):
    def create():
        url = sqs.create_queue(QueueName=unique("eb"))["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        return url, arn
    return create


@pytest.fixture
def rule(events, unique):
    """rule(pattern, *targets) -> name; targets and rule removed afterwards."""
    created = []

    def create(pattern, *targets):
        name = unique("rule")
        events.put_rule(Name=name, EventPattern=json.dumps(pattern))
        if targets:
            events.put_targets(Rule=name, Targets=list(targets))
        created.append(name)
        return name
    yield create
    for name in created:
        ids = [t["Id"] for t in events.list_targets_by_rule(Rule=name)["Targets"]]
        if ids:
            events.remove_targets(Rule=name, Ids=ids)
        events.delete_rule(Name=name)


def bodies(sqs, url):
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [m["Body"] for m in messages]


def test_rules_and_targets(events, rule, queue):
    _, arn = queue()
    name = rule({"source": ["aws.ssm"]}, {"Id": "q", "Arn": arn})
    described = events.describe_rule(Name=name)
    assert (described["State"], described["EventBusName"], json.loads(described["EventPattern"])) \
        == ("ENABLED", "default", {"source": ["aws.ssm"]})
    assert described["Arn"] == f"arn:aws:events:us-east-1:000000000000:rule/{name}"
    assert events.list_targets_by_rule(Rule=name)["Targets"] == [{"Id": "q", "Arn": arn}]
    with pytest.raises(ClientError) as excinfo:
        events.delete_rule(Name=name)
    assert error_code(excinfo) == "ValidationException"
    assert name in [r["Name"] for r in events.list_rules(NamePrefix=name)["Rules"]]
    failed = events.put_targets(Rule=name, Targets=[{"Id": f"t{i}", "Arn": arn} for i in range(5)])
    assert failed["FailedEntryCount"] == 1        # five targets a rule at most
    with pytest.raises(ClientError) as excinfo:
        events.put_targets(Rule="no-such-rule", Targets=[{"Id": "q", "Arn": arn}])
    assert error_code(excinfo) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as excinfo:
        events.put_rule(Name=name + "-x")
    assert error_code(excinfo) == "ValidationException"


def test_parameter_store_changes_reach_matching_rules_queues(events, sqs, client, rule, queue,
                                                             unique):
    ssm = client("ssm")
    prefix = "/" + unique("eb")
    matching_url, matching_arn = queue()
    other_url, other_arn = queue()
    detail_url, detail_arn = queue()
    rule({"source": ["aws.ssm"], "detail-type": ["Parameter Store Change"],
          "detail": {"name": [{"prefix": prefix + "/"}]}},
         {"Id": "all", "Arn": matching_arn},
         {"Id": "detail", "Arn": detail_arn, "InputPath": "$.detail"})
    rule({"source": ["aws.ssm"], "detail": {"operation": ["Delete"],
                                            "name": [{"prefix": prefix + "/"}]}},
         {"Id": "deletes", "Arn": other_arn})
    ssm.put_parameter(Name=f"{prefix}/a", Value="v", Type="String", Description="d")
    event = json.loads(bodies(sqs, matching_url)[0])
    assert (event["source"], event["detail-type"], event["region"], event["account"]) == (
        "aws.ssm", "Parameter Store Change", "us-east-1", "000000000000")
    assert event["detail"] == {"name": f"{prefix}/a", "type": "String", "operation": "Create",
                               "description": "d"}
    assert json.loads(bodies(sqs, detail_url)[0]) == event["detail"]
    assert bodies(sqs, other_url) == []
    ssm.delete_parameter(Name=f"{prefix}/a")
    assert json.loads(bodies(sqs, other_url)[0])["detail"]["operation"] == "Delete"


def test_disabled_rules_deliver_nothing(events, sqs, rule, queue):
    url, arn = queue()
    name = rule({"source": ["app.orders"]}, {"Id": "q", "Arn": arn})
    events.disable_rule(Name=name)
    events.put_events(Entries=[{"Source": "app.orders", "DetailType": "t", "Detail": "{}"}])
    assert bodies(sqs, url) == []
    events.enable_rule(Name=name)
    events.put_events(Entries=[{"Source": "app.orders", "DetailType": "t", "Detail": "{}"}])
    assert len(bodies(sqs, url)) == 1


def test_put_events(events, sqs, rule, queue):
    url, arn = queue()
    rule({"source": ["app.orders"], "detail": {"total": [{"numeric": [">", 100]}]}},
         {"Id": "q", "Arn": arn}, {"Id": "const", "Arn": arn, "Input": '{"fixed": true}'})
    result = events.put_events(Entries=[
        {"Source": "app.orders", "DetailType": "Order", "Detail": '{"total": 150}',
         "Resources": ["arn:aws:x:::order/1"], "Time": "2024-06-13T01:54:26Z"},
        {"Source": "app.orders", "DetailType": "Order", "Detail": '{"total": 50}'},
        {"Source": "aws.ssm", "DetailType": "Order", "Detail": "{}"},
        {"Source": "app.orders", "DetailType": "Order", "Detail": "[1, 2]"},
    ])
    assert result["FailedEntryCount"] == 2
    assert [sorted(e) for e in result["Entries"]] == [
        ["EventId"], ["EventId"], ["ErrorCode", "ErrorMessage"], ["ErrorCode", "ErrorMessage"]]
    assert [e.get("ErrorCode") for e in result["Entries"][2:]] == [
        "NotAuthorizedForSourceException", "MalformedDetail"]
    got = sorted(bodies(sqs, url))
    assert got[0] == '{"fixed": true}'
    event = json.loads(got[1])
    assert (event["id"], event["time"], event["resources"], event["detail"]) == (
        result["Entries"][0]["EventId"], "2024-06-13T01:54:26Z", ["arn:aws:x:::order/1"],
        {"total": 150})


def test_held_deliveries_are_released_late_and_reversed(events, sqs, rule, queue, control):
    url, arn = queue()
    name = rule({"source": ["app.held"]}, {"Id": "q", "Arn": arn})
    control.post("eventbridge/hold", {"rule": name})
    try:
        for i in range(3):
            events.put_events(Entries=[{"Source": "app.held", "DetailType": "n",
                                        "Detail": json.dumps({"n": i})}])
        assert bodies(sqs, url) == []
        assert control.get("eventbridge")["held"] >= 3
    finally:
        released = control.post("eventbridge/release?order=reverse", {"rule": name})
    assert released["released"] == 3
    order = []
    for _ in range(3):
        message, = sqs.receive_message(QueueUrl=url)["Messages"]
        order.append(json.loads(message["Body"])["detail"]["n"])
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert order == [2, 1, 0]
    events.put_events(Entries=[{"Source": "app.held", "DetailType": "n", "Detail": "{}"}])
    assert len(bodies(sqs, url)) == 1                  # no longer held


def test_awscli_story(aws, queue, unique):
    url, arn = queue()
    name = unique("cli")
    created = aws("events", "put-rule", "--name", name, "--event-pattern",
                  '{"source": ["app.cli"]}')
    assert created["RuleArn"].endswith(f":rule/{name}")
    assert aws("events", "put-targets", "--rule", name, "--targets",
               f"Id=q,Arn={arn}")["FailedEntryCount"] == 0
    assert aws("events", "list-targets-by-rule", "--rule", name)["Targets"] == [
        {"Id": "q", "Arn": arn}]
    sent = aws("events", "put-events", "--entries",
               json.dumps([{"Source": "app.cli", "DetailType": "t", "Detail": '{"a": 1}'}]))
    assert sent["FailedEntryCount"] == 0
    got = aws("sqs", "receive-message", "--queue-url", url)["Messages"][0]
    assert json.loads(got["Body"])["detail"] == {"a": 1}
    aws("events", "remove-targets", "--rule", name, "--ids", "q")
    aws("events", "delete-rule", "--name", name, expect_json=False)


def test_held_deliveries_can_be_dropped(events, sqs, rule, queue, control):
    """EventBridge delivers best effort: release?order=drop loses what was
    held, as an outage would."""
    url, arn = queue()
    name = rule({"source": ["app.lost"]}, {"Id": "q", "Arn": arn})
    control.post("eventbridge/hold", {"rule": name})
    before = control.get("eventbridge")["dropped"]
    try:
        events.put_events(Entries=[{"Source": "app.lost", "DetailType": "n", "Detail": "{}"}])
    finally:
        dropped = control.post("eventbridge/release?order=drop", {"rule": name})
    assert dropped["released"] == 1 and dropped["dropped"] == before + 1
    assert bodies(sqs, url) == []
    events.put_events(Entries=[{"Source": "app.lost", "DetailType": "n", "Detail": "{}"}])
    assert len(bodies(sqs, url)) == 1


def test_a_schedule_rule_fires_a_scheduled_event(events, sqs, queue, control, unique):
    """https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-run-lambda-schedule.html:
    the target gets source aws.events, detail-type "Scheduled Event", the
    rule's ARN in resources and an empty detail."""
    url, arn = queue()
    name = unique("every-hour")
    rule_arn = events.put_rule(Name=name, ScheduleExpression="rate(1 hour)")["RuleArn"]
    events.put_targets(Rule=name, Targets=[{"Id": "q", "Arn": arn}])
    try:
        assert control.post("eventbridge/schedule", {"rule": name})["fired"] == 1
        event = json.loads(bodies(sqs, url)[0])
        assert (event["source"], event["detail-type"], event["resources"], event["detail"]) == (
            "aws.events", "Scheduled Event", [rule_arn], {})
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", event["time"])
        events.disable_rule(Name=name)
        assert control.post("eventbridge/schedule", {"rule": name})["fired"] == 0
    finally:
        events.remove_targets(Rule=name, Ids=["q"])
        events.delete_rule(Name=name)
