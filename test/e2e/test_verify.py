"""ssmbak verify [--repair] against localaws: the events the function never
got (dropped: simply never handed to it) are found from SSM, and repaired
exactly as SSM's history has them; missed deletes, recreates, gaps SSM can
still fill, unindexed versions; a rerun finds nothing; the cost in requests."""
import datetime
import json
import re
import subprocess
import time
import urllib.parse

import pytest

from conftest import LocalAws
from runtime_api import RuntimeApi, sqs_batch
from test_backup_lambda import entries_of, events_for, iso, preview_all

DAY_AGO = int(time.time()) - 86400
FUNCTION = "ssmbak-verify-test"


@pytest.fixture(scope="module")
def localaws():
    """A store of this module's own: the scheduled reconcile covers every
    parameter of the account, and the whole session's thousands would
    outlast the function's deadline."""
    server = LocalAws()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def lam(ssmbak_bin, env, bucket):
    api = RuntimeApi()
    proc = subprocess.Popen([ssmbak_bin, "backup-lambda"],
                            env={**env, "AWS_LAMBDA_RUNTIME_API": api.address,
                                 "SSMBAK_BUCKET": bucket, "LOGLEVEL": "INFO",
                                 "SSMBAK_RECONCILE_MIN_AGE": "0",
                                 "AWS_LAMBDA_FUNCTION_NAME": FUNCTION},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    api.proc = proc
    try:
        yield api
    finally:
        api.stop()
        try:
            _, api.log = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, api.log = proc.communicate()
        assert "ERROR: AddressSanitizer" not in api.log
        assert "runtime error:" not in api.log


def at(aws, t):
    aws.clock(fixed=t, check_skew=False)


def deliver(lam, aws, prefix, keep):
    """Hands the function the events whose index (in order) keep names; the
    others are dropped, as EventBridge may."""
    for i, event in enumerate(events_for(aws, prefix)):
        if i in keep:
            assert lam.invoke(sqs_batch([event]))[1] == {"batchItemFailures": []}


def live(lam, aws, prefix, t, change, dropped=False):
    """Makes one change at time t; the function gets its event at once,
    unless it is dropped."""
    at(aws, t)
    change()
    aws.clock()
    if not dropped:
        event = events_for(aws, prefix)[-1]
        assert lam.invoke(sqs_batch([event]))[1] == {"batchItemFailures": []}


def verify(run, bucket, prefix, *extra):
    out = run("verify", prefix + "/", "-R", "-b", bucket, "--output", "json", *extra)
    assert out.returncode in (0, 1), out.stderr
    return out.returncode, json.loads(out.stdout), out.stderr


def problems(found):
    return sorted((f["problem"], f["name"], f["version"]) for f in found)


def test_dropped_events_are_found_and_repaired_exactly(lam, aws, ssm, s3, bucket, prefix, run):
    a, b = f"{prefix}/app/a", f"{prefix}/app/b"
    at(aws, DAY_AGO)
    ssm.put_parameter(Name=a, Value="one", Type="String", Description="first")
    at(aws, DAY_AGO + 10.6)
    ssm.put_parameter(Name=a, Value="two", Type="SecureString", Overwrite=True)
    at(aws, DAY_AGO + 20.2)
    ssm.put_parameter(Name=a, Value="three", Type="String", Overwrite=True,
                      Description="third")
    at(aws, DAY_AGO + 30)
    ssm.put_parameter(Name=b, Value="bee", Type="StringList")
    aws.clock()
    deliver(lam, aws, prefix, keep={0})  # a's create only

    rc, found, err = verify(run, bucket, prefix)
    assert rc == 1
    assert problems(found) == [("missed-version", a, 2), ("missed-version", a, 3),
                               ("missed-version", b, 1)]
    assert {f["outcome"] for f in found} == {"found"}
    assert "the bucket is not complete" in err
    assert "two" not in json.dumps(found) + err  # never a value

    rc, found, err = verify(run, bucket, prefix, "--repair")
    assert rc == 0, err
    assert {f["outcome"] for f in found} == {"repaired"}
    # Each at its LastModifiedDate, floored to EventBridge's whole seconds.
    assert [(t - DAY_AGO, v, op) for t, v, op, _ in entries_of(s3, bucket, a)] == [
        (0, 1, "Create"), (10, 2, "Repair"), (20, 3, "Repair")]
    assert [(t - DAY_AGO, v, op) for t, v, op, _ in entries_of(s3, bucket, b)] == [
        (30, 1, "Repair")]

    # preview then answers as SSM was, type and description included.
    at5, at15, at25 = (preview_all(run, bucket, prefix, DAY_AGO + d) for d in (5, 15, 25))
    assert (at5[a]["value"], at5[a]["description"]) == ("one", "first")
    assert (at15[a]["value"], at15[a]["type"]) == ("two", "SecureString")
    assert (at25[a]["value"], at25[a]["description"]) == ("three", "third")
    assert b not in at25
    at35 = preview_all(run, bucket, prefix, DAY_AGO + 35)
    assert at35[b]["value"] == "bee" and at35[b]["type"] == "StringList"

    # Idempotent.
    rc, found, _ = verify(run, bucket, prefix, "--repair")
    assert (rc, found) == (0, [])


def test_a_lost_middle_version_is_found_without_a_history_of_everything(
        lam, aws, ssm, s3, bucket, prefix, run):
    """v1 and v3 reached the bucket, v2 did not: the index skips a number,
    so verify reads that one history (and no other)."""
    name, other = f"{prefix}/k", f"{prefix}/other"
    for i, v in enumerate(["a", "b", "c"]):
        at(aws, DAY_AGO + 10 * i)
        ssm.put_parameter(Name=name, Value=v, Type="String", Overwrite=i > 0)
    at(aws, DAY_AGO + 40)
    ssm.put_parameter(Name=other, Value="o", Type="String")
    aws.clock()
    deliver(lam, aws, prefix, keep={0, 2, 3})
    aws.reset_counters()
    rc, found, _ = verify(run, bucket, prefix, "--repair")
    assert rc == 0 and problems(found) == [("missed-version", name, 2)]
    assert aws.counters()["ssm"].get("GetParameterHistory") == 1
    assert preview_all(run, bucket, prefix, DAY_AGO + 15)[name]["value"] == "b"


def test_a_missed_delete_is_recorded_as_noticed(lam, aws, ssm, s3, bucket, prefix, run):
    name = f"{prefix}/gone"
    live(lam, aws, prefix, DAY_AGO, lambda: ssm.put_parameter(Name=name, Value="x",
                                                              Type="String"))
    live(lam, aws, prefix, DAY_AGO + 10, lambda: ssm.delete_parameter(Name=name),
         dropped=True)
    rc, found, _ = verify(run, bucket, prefix)
    assert rc == 1 and problems(found) == [("missed-delete", name, 1)]
    before = int(time.time())
    rc, found, _ = verify(run, bucket, prefix, "--repair")
    assert rc == 0 and found[0]["outcome"] == "repaired"
    (t0, _, op0, _), (t1, v1, op1, _) = entries_of(s3, bucket, name)
    assert (t0, op0) == (DAY_AGO, "Create")
    # The time it was noticed, marked approximate in the index's op name.
    assert op1 == "DeleteNoticed" and v1 == 1 and before <= t1 <= int(time.time())
    time.sleep(1)
    assert preview_all(run, bucket, prefix, int(time.time()))[name]["deleted"] is True
    assert preview_all(run, bucket, prefix, DAY_AGO + 5)[name]["value"] == "x"
    # A marker S3 and format 1 readers see, too.
    listing = s3.list_object_versions(Bucket=bucket, Prefix=name)
    assert [m["IsLatest"] for m in listing.get("DeleteMarkers", [])] == [True]
    assert verify(run, bucket, prefix, "--repair")[:2] == (0, [])


def test_a_recreate_with_its_version_reset(lam, aws, ssm, s3, bucket, prefix, run):
    """Recorded: v1, v2. Lost: the delete and the new v1. The new v1 shares
    a number with a recorded version but not its date: it is missed."""
    name = f"{prefix}/re"
    live(lam, aws, prefix, DAY_AGO, lambda: ssm.put_parameter(Name=name, Value="old1",
                                                              Type="String"))
    live(lam, aws, prefix, DAY_AGO + 10, lambda: ssm.put_parameter(
        Name=name, Value="old2", Type="String", Overwrite=True))
    live(lam, aws, prefix, DAY_AGO + 20, lambda: ssm.delete_parameter(Name=name),
         dropped=True)
    live(lam, aws, prefix, DAY_AGO + 30, lambda: ssm.put_parameter(
        Name=name, Value="new1", Type="String"), dropped=True)
    rc, found, _ = verify(run, bucket, prefix)
    assert rc == 1 and problems(found) == [("missed-version", name, 1)]
    assert found[0]["time_epoch"] == DAY_AGO + 30
    assert verify(run, bucket, prefix, "--repair")[0] == 0
    assert preview_all(run, bucket, prefix, DAY_AGO + 15)[name]["value"] == "old2"
    assert preview_all(run, bucket, prefix, DAY_AGO + 35)[name]["value"] == "new1"
    assert verify(run, bucket, prefix)[:2] == (0, [])


def put_gap(s3, bucket, key, t, version):
    """An index entry of op Gap, as backup-lambda writes one (FORMAT.md)."""
    s3.put_object(Bucket=bucket, Key=f".ssmbak/changes{key}!{t}.{version}.Gap.0.-", Body=b"")


def test_a_gap_is_filled_when_ssm_still_has_its_version(lam, aws, ssm, s3, bucket, prefix, run):
    name, lost = f"{prefix}/g", f"{prefix}/lost"
    at(aws, DAY_AGO)
    ssm.put_parameter(Name=name, Value="v1", Type="String")
    at(aws, DAY_AGO + 10)
    ssm.put_parameter(Name=name, Value="v2", Type="String", Overwrite=True)
    at(aws, DAY_AGO + 20)
    ssm.put_parameter(Name=name, Value="v3", Type="String", Overwrite=True)
    aws.clock()
    deliver(lam, aws, prefix, keep={0, 2})
    put_gap(s3, bucket, name, DAY_AGO + 11, 2)      # SSM has v2, made 1 s before
    put_gap(s3, bucket, lost, DAY_AGO + 11, 4)      # SSM never had it
    out = run("preview", prefix + "/", iso(DAY_AGO + 15), "-b", bucket, "-R")
    assert out.returncode == 1  # unknown at that time

    rc, found, _ = verify(run, bucket, prefix)
    assert rc == 1
    # lost existed (its gap says so) and SSM no longer has it: its delete
    # was missed too.
    assert problems(found) == [("gap", name, 2), ("gap", lost, 4),
                               ("missed-delete", lost, 4)]
    rc, found, _ = verify(run, bucket, prefix, "--repair")
    assert rc == 1  # the lost value stays lost
    outcome = {(f["problem"], f["name"]): f["outcome"] for f in found}
    assert outcome == {("gap", name): "repaired", ("gap", lost): "cannot-repair",
                       ("missed-delete", lost): "repaired"}
    # The fill keeps the gap's second and wins it.
    assert (DAY_AGO + 11, 2, "Repair") in [e[:3] for e in entries_of(s3, bucket, name)]
    assert preview_all(run, bucket, name, DAY_AGO + 15)[name]["value"] == "v2"
    rc, found, _ = verify(run, bucket, prefix, "--repair")
    assert problems(found) == [("gap", lost, 4)]


def test_unindexed_versions_are_listed_for_reindex(aws, ssm, s3, bucket, prefix, run):
    name = f"{prefix}/py"
    ssm.put_parameter(Name=name, Value="x", Type="String")
    s3.put_object(Bucket=bucket, Key=name, Body=b"x", Tagging="ssmbakTime=1&ssmbakType=String")
    rc, found, _ = verify(run, bucket, prefix, "--repair")
    assert rc == 1
    assert [(f["problem"], f["outcome"]) for f in found] == [("unindexed", "cannot-repair")]
    assert "reindex" in found[0]["detail"]
    assert run("reindex", prefix + "/", "-R", "-b", bucket).returncode == 0
    # Reindexed (a format 1 record has no version): its version is missed.
    rc, found, _ = verify(run, bucket, prefix)
    assert problems(found) == [("missed-version", name, 1)]


def test_cost_and_table(aws, ssm, s3, bucket, prefix, run):
    """120 parameters backed up by backfill, then 3 changed behind its back:
    3 pages of DescribeParameters, 3 histories, and the listings."""
    for i in range(120):
        ssm.put_parameter(Name=f"{prefix}/p{i:03d}", Value=f"v{i}", Type="String")
    assert run("backfill", prefix + "/", "-R", "-b", bucket, "--do-it").returncode == 0
    for i in (5, 50, 105):
        ssm.put_parameter(Name=f"{prefix}/p{i:03d}", Value="changed", Type="String",
                          Overwrite=True)
    aws.reset_counters()
    out = run("verify", prefix + "/", "-R", "-b", bucket)
    assert out.returncode == 1
    counts = aws.counters()
    assert counts["ssm"] == {"DescribeParameters": 3, "GetParameterHistory": 3}
    assert set(counts["s3"]) <= {"ListObjectVersions", "ListObjectsV2"}
    assert out.stdout.count("missed-version") == 3 and "changed" not in out.stdout
    assert "120 parameters in SSM" in out.stderr


def test_usage_errors(run):
    assert run("verify", "--min-age", "soon").returncode == 2
    assert run("verify", "/a", "/b").returncode == 2


def test_min_age_leaves_recent_changes_to_their_events(aws, ssm, bucket, prefix, run):
    ssm.put_parameter(Name=f"{prefix}/new", Value="x", Type="String")
    assert verify(run, bucket, prefix, "--min-age", "3600", "--repair")[:2] == (0, [])
    assert verify(run, bucket, prefix)[0] == 1


def scheduled_event():
    """What an EventBridge schedule rule hands its target.
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-run-lambda-schedule.html"""
    return {"version": "0", "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
            "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "000000000000", "time": iso(int(time.time())) + "Z",
            "region": "us-east-1", "resources": [
                "arn:aws:events:us-east-1:000000000000:rule/ssmbak-reconcile"],
            "detail": {}}


def repaired_metric(aws):
    cloudwatch = aws_client(aws, "cloudwatch")
    now = datetime.datetime.now(datetime.timezone.utc)
    points = cloudwatch.get_metric_statistics(
        Namespace="ssmbak", MetricName="RepairedChanges",
        Dimensions=[{"Name": "FunctionName", "Value": FUNCTION}],
        StartTime=now - datetime.timedelta(minutes=10), EndTime=now + datetime.timedelta(minutes=1),
        Period=3600, Statistics=["Sum", "SampleCount"])["Datapoints"]
    return sum(p["Sum"] for p in points), sum(p["SampleCount"] for p in points)


def aws_client(aws, service):
    from conftest import client
    return client(aws.endpoint, service)


def test_the_scheduled_event_reconciles_and_publishes_the_metric(lam, aws, ssm, s3, bucket,
                                                                 prefix, run):
    kept, gone = f"{prefix}/kept", f"{prefix}/gone"
    live(lam, aws, prefix, DAY_AGO, lambda: ssm.put_parameter(Name=kept, Value="1",
                                                              Type="String"))
    live(lam, aws, prefix, DAY_AGO + 5, lambda: ssm.put_parameter(Name=gone, Value="g",
                                                                  Type="String"))
    live(lam, aws, prefix, DAY_AGO + 10, lambda: ssm.put_parameter(
        Name=kept, Value="2", Type="String", Overwrite=True), dropped=True)
    live(lam, aws, prefix, DAY_AGO + 20, lambda: ssm.delete_parameter(Name=gone), dropped=True)
    before = repaired_metric(aws)
    assert lam.invoke(scheduled_event()) == ("response", {})
    assert [e[2] for e in entries_of(s3, bucket, kept)] == ["Create", "Repair"]
    assert [e[2] for e in entries_of(s3, bucket, gone)] == ["Create", "DeleteNoticed"]
    # The whole store is reconciled (other tests' parameters too): the
    # metric counts every repair the log names.
    after = repaired_metric(aws)
    repaired = after[0] - before[0]
    assert repaired >= 2 and after[1] - before[1] == 1
    assert verify(run, bucket, prefix)[:2] == (0, [])
    # Nothing left: the next run repairs nothing and says so.
    assert lam.invoke(scheduled_event()) == ("response", {})
    again = repaired_metric(aws)
    assert (again[0] - after[0], again[1] - after[1]) == (0, 1)
    lam.stop()
    lam.log = lam.proc.communicate(timeout=30)[1]
    assert "reconcile: " + kept + " missed-version version 2" in lam.log
    assert len(re.findall(r"reconcile: \S+ (?:missed-version|missed-delete|gap) .*: repaired",
                          lam.log)) == repaired
    assert '"2"' not in lam.log and "=2" not in lam.log
