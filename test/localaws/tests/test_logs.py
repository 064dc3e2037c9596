"""CloudWatch Logs: groups, streams, events, filters, retention, pagination
and `aws logs tail`."""
import time

import pytest
from botocore.exceptions import ClientError


@pytest.fixture(scope="module")
def logs(client):
    return client("logs")


@pytest.fixture
def group(logs, unique):
    name = "/test/" + unique("group")
    logs.create_log_group(logGroupName=name)
    yield name
    try:
        logs.delete_log_group(logGroupName=name)
    except ClientError:
        pass


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def now_ms():
    return int(time.time() * 1000)


def put(logs, group, stream, messages, start=None):
    start = now_ms() if start is None else start
    try:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=[
        {"timestamp": start + i, "message": m} for i, m in enumerate(messages)])


def test_log_groups(logs, unique):
    stem = "/test/" + unique("groups")
    for i in range(3):
        logs.create_log_group(logGroupName=f"{stem}/{i}")
    with pytest.raises(ClientError) as excinfo:
        logs.create_log_group(logGroupName=f"{stem}/0")
    assert error_code(excinfo) == "ResourceAlreadyExistsException"
    pages = list(logs.get_paginator("describe_log_groups").paginate(
        logGroupNamePrefix=stem, PaginationConfig={"PageSize": 2}))
    assert [[g["logGroupName"] for g in p["logGroups"]] for p in pages] == [
        [f"{stem}/0", f"{stem}/1"], [f"{stem}/2"]]
    first = pages[0]["logGroups"][0]
    assert first["arn"] == f"arn:aws:logs:us-east-1:000000000000:log-group:{stem}/0:*"
    assert "retentionInDays" not in first
    logs.put_retention_policy(logGroupName=f"{stem}/0", retentionInDays=14)
    assert logs.describe_log_groups(logGroupNamePrefix=f"{stem}/0")["logGroups"][0][
        "retentionInDays"] == 14
    with pytest.raises(ClientError) as excinfo:
        logs.put_retention_policy(logGroupName=f"{stem}/0", retentionInDays=2)
    assert error_code(excinfo) == "InvalidParameterException"
    for i in range(3):
        logs.delete_log_group(logGroupName=f"{stem}/{i}")
    with pytest.raises(ClientError) as excinfo:
        logs.delete_log_group(logGroupName=f"{stem}/0")
    assert error_code(excinfo) == "ResourceNotFoundException"
    assert logs.describe_log_groups(logGroupNamePrefix=stem)["logGroups"] == []


def test_streams_and_get_log_events_pages(logs, group):
    put(logs, group, "b-stream", [f"line {i}" for i in range(5)])
    put(logs, group, "a-stream", ["other"], start=now_ms() + 100)
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["a-stream", "b-stream"]
    assert streams[1]["lastEventTimestamp"] - streams[1]["firstEventTimestamp"] == 4
    newest = logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime",
                                       descending=True)["logStreams"]
    assert newest[0]["logStreamName"] == "a-stream"
    with pytest.raises(ClientError) as excinfo:
        logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime",
                                  logStreamNamePrefix="a")
    assert error_code(excinfo) == "InvalidParameterException"
    # Forward pages until the token comes back unchanged (the end).
    pages, token = [], None
    while True:
        page = logs.get_log_events(logGroupName=group, logStreamName="b-stream", limit=2,
                                   startFromHead=True, **({"nextToken": token} if token else {}))
        pages.append([e["message"] for e in page["events"]])
        if page["nextForwardToken"] == token:
            break
        token = page["nextForwardToken"]
    assert pages == [["line 0", "line 1"], ["line 2", "line 3"], ["line 4"], []]
    latest = logs.get_log_events(logGroupName=group, logStreamName="b-stream", limit=2)
    assert [e["message"] for e in latest["events"]] == ["line 3", "line 4"]
    before = logs.get_log_events(logGroupName=group, logStreamName="b-stream", limit=2,
                                 nextToken=latest["nextBackwardToken"])
    assert [e["message"] for e in before["events"]] == ["line 1", "line 2"]
    with pytest.raises(ClientError) as excinfo:
        logs.put_log_events(logGroupName=group, logStreamName="b-stream", logEvents=[
            {"timestamp": now_ms(), "message": "x"}, {"timestamp": now_ms() - 10, "message": "y"}])
    assert error_code(excinfo) == "InvalidParameterException"


def test_filter_log_events(logs, group):
    start = now_ms()
    put(logs, group, "one", ["ERROR disk full", "INFO all good", "ERROR net down"], start)
    put(logs, group, "two", ["WARN slow", "ERROR disk slow"], start + 1)
    everything = logs.filter_log_events(logGroupName=group)["events"]
    assert [e["message"] for e in everything] == [
        "ERROR disk full", "INFO all good", "WARN slow", "ERROR net down", "ERROR disk slow"]
    assert {e["logStreamName"] for e in everything} == {"one", "two"}
    assert all(e["eventId"] and e["ingestionTime"] >= e["timestamp"] - 1000 for e in everything)

    def messages(**filters):
        return [e["message"] for page in logs.get_paginator("filter_log_events").paginate(
            logGroupName=group, PaginationConfig={"PageSize": 2}, **filters)
            for e in page["events"]]
    assert messages(filterPattern="ERROR disk") == ["ERROR disk full", "ERROR disk slow"]
    assert messages(filterPattern='"disk full"') == ["ERROR disk full"]
    assert messages(filterPattern="?WARN ?INFO") == ["INFO all good", "WARN slow"]
    assert messages(filterPattern="ERROR -disk") == ["ERROR net down"]
    assert messages(logStreamNames=["two"]) == ["WARN slow", "ERROR disk slow"]
    assert messages(logStreamNamePrefix="on", startTime=start + 1) == [
        "INFO all good", "ERROR net down"]


def test_retention_hides_old_events(logs, group):
    day = 86400 * 1000
    put(logs, group, "s", ["old"], start=now_ms() - 2 * day)
    put(logs, group, "s", ["new"])
    logs.put_retention_policy(logGroupName=group, retentionInDays=1)
    assert [e["message"] for e in logs.filter_log_events(logGroupName=group)["events"]] == ["new"]
    logs.delete_retention_policy(logGroupName=group)
    assert len(logs.filter_log_events(logGroupName=group)["events"]) == 2


def test_aws_logs_tail(aws, logs, group):
    put(logs, group, "tailed", ["first event", "second event"])
    put(logs, group, "old", ["an hour ago"], start=now_ms() - 3600 * 1000)
    out = aws("logs", "tail", group, "--format", "short", expect_json=False).splitlines()
    assert [line.split(" ", 1)[1] for line in out] == ["first event", "second event"]
    detailed = aws("logs", "tail", group, "--since", "2h", expect_json=False).splitlines()
    assert [line.split(" ", 2)[1:] for line in detailed] == [
        ["old", "an hour ago"], ["tailed", "first event"], ["tailed", "second event"]]
    assert aws("logs", "tail", group, "--filter-pattern", "second", expect_json=False).count(
        "\n") == 1
