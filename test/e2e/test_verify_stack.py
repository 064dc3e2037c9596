"""The deployed stack heals itself: EventBridge loses events (localaws
drops what it held), the schedule rule fires, the same Lambda runs verify
--repair, records what was lost exactly, and publishes the metric the
stack alarms on. Its own localaws: the stack writes SSM parameters."""
import datetime
import subprocess
import time
import urllib.parse

import pytest

from test_stack import LocalAws, client, ok, stack_parameter, static_bin, wait_for  # noqa: F401


@pytest.fixture(scope="module")
def localaws():
    server = LocalAws()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def stack(env, static_bin):
    def runner(*args, timeout=180):
        return subprocess.run([static_bin, "stack", *args], env=env, capture_output=True,
                              text=True, timeout=timeout)
    return runner


def entries(s3, bucket, key):
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=f".ssmbak/changes{key}!")
    out = []
    for obj in listing.get("Contents", []):
        t, version, op, _, _ = obj["Key"].rsplit("!", 1)[1].split(".", 4)
        out.append((int(t), int(version), op))
    return sorted(out)


def repaired(aws, function):
    now = datetime.datetime.now(datetime.timezone.utc)
    points = client(aws.endpoint, "cloudwatch").get_metric_statistics(
        Namespace="ssmbak", MetricName="RepairedChanges",
        Dimensions=[{"Name": "FunctionName", "Value": function}],
        StartTime=now - datetime.timedelta(hours=1), EndTime=now + datetime.timedelta(minutes=1),
        Period=7200, Statistics=["Sum", "SampleCount"])["Datapoints"]
    return points[0] if points else None


def test_the_schedule_repairs_what_eventbridge_dropped(stack, run, aws, ssm, s3, prefix):
    ok(stack("healing", "create"))
    bucket = stack_parameter(ssm, "healing", "bucket")
    function = stack_parameter(ssm, "healing", "lambda")
    events = client(aws.endpoint, "events")
    rules = {r["Name"]: r for r in events.list_rules()["Rules"]}
    schedule, = [r for r in rules.values() if r.get("ScheduleExpression")]
    assert schedule["ScheduleExpression"] == "rate(60 minutes)"
    alarms = client(aws.endpoint, "cloudwatch")
    kept, gone = f"{prefix}/kept", f"{prefix}/gone"
    # An hour ago (the function leaves changes younger than 15 minutes to
    # their events): two creates recorded, then EventBridge lost the rest.
    hour_ago = int(time.time()) - 3600
    aws.clock(fixed=hour_ago - 100, check_skew=False)
    try:
        ssm.put_parameter(Name=kept, Value="one", Type="String")
        ssm.put_parameter(Name=gone, Value="g", Type="String")
        wait_for(lambda: entries(s3, bucket, kept) and entries(s3, bucket, gone),
                 what="the backups of the first values")
    finally:
        aws.clock()
    aws.control("POST", "eventbridge/hold", {})
    try:
        aws.clock(fixed=hour_ago + 0.25, check_skew=False)
        ssm.put_parameter(Name=kept, Value="two", Type="SecureString", Overwrite=True)
        aws.clock(fixed=hour_ago + 10, check_skew=False)
        ssm.delete_parameter(Name=gone)
        aws.clock()
    finally:
        aws.control("POST", "eventbridge/release?order=drop", {})
    assert run("verify", prefix + "/", "-R", "-b", bucket).returncode == 1

    fired = aws.control("POST", "eventbridge/schedule", {"rule": schedule["Name"]})
    assert fired["fired"] == 1
    logs = client(aws.endpoint, "logs")
    try:
        wait_for(lambda: len(entries(s3, bucket, gone)) == 2, seconds=60,
                 what="the scheduled repair")
    except BaseException:
        found = logs.filter_log_events(logGroupName=f"/aws/lambda/{function}")["events"]
        print("\n".join(e["message"] for e in found if "reconcile" in e["message"]
                        or "ERROR" in e["message"])[-3000:])
        print(aws.control("GET", "eventbridge"))
        raise
    wait_for(lambda: repaired(aws, function), what="the metric")
    assert entries(s3, bucket, kept)[-1] == (hour_ago, 2, "Repair")
    assert entries(s3, bucket, gone)[-1][2] == "DeleteNoticed"
    assert repaired(aws, function)["Sum"] >= 2
    out = run("preview", prefix + "/", "@" + str(hour_ago + 5), "-R", "-b", bucket, "--all",
              "--show-secure", "--output", "json")
    assert '"two"' in out.stdout and "SecureString" in out.stdout
    assert run("verify", prefix + "/", "-R", "-b", bucket).returncode == 0
    ok(stack("healing", "delete"))
