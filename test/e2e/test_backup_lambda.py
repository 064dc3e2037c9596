"""backup-lambda driven through a stand-in Runtime API, against localaws:
what it stores for each kind of change, and that restore then answers
right however late, reordered or repeated the events came."""
import datetime
import json
import subprocess
import time
import urllib.parse
import xml.etree.ElementTree as ET

import pytest

from runtime_api import RuntimeApi, sqs_batch

DAY_AGO = int(time.time()) - 86400


@pytest.fixture
def lam(ssmbak_bin, env, bucket):
    """Starts the function (test_dispatch.py checks that "bootstrap" as
    argv[0] is the same command)."""
    api = RuntimeApi()
    proc = subprocess.Popen([ssmbak_bin, "backup-lambda"],
                            env={**env, "AWS_LAMBDA_RUNTIME_API": api.address,
                                 "SSMBAK_BUCKET": bucket, "LOGLEVEL": "INFO",
                                 "SSMBAK_WRITE_RETRY_SECONDS": "5"},
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


def events_for(aws, name_prefix):
    found = aws.control("GET", "events")
    return [e for e in found if e["detail"]["name"].lstrip("/").startswith(name_prefix.lstrip("/"))]


def versions(s3, bucket, key):
    """(LastModified, "v" or "m", entry) oldest first, in S3's own order:
    LastModified has whole seconds only, so writes within one second tie,
    and boto3 splits versions from delete markers; the raw listing keeps a
    key's versions and markers interleaved, newest first."""
    raw = []

    def keep_body(http_response, **kwargs):
        raw.append(http_response.content)

    s3.meta.events.register("after-call.s3.ListObjectVersions", keep_body)
    try:
        s3.list_object_versions(Bucket=bucket, Prefix=key)
    finally:
        s3.meta.events.unregister("after-call.s3.ListObjectVersions", keep_body)
    ns = "{http://s3.amazonaws.com/doc/2006-03-01/}"
    items = []
    for child in ET.fromstring(raw[0]):
        kind = {ns + "Version": "v", ns + "DeleteMarker": "m"}.get(child.tag)
        if kind is None or child.find(ns + "Key").text != key:
            continue
        entry = {"Key": key, "VersionId": child.find(ns + "VersionId").text,
                 "LastModified": datetime.datetime.strptime(
                     child.find(ns + "LastModified").text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                         tzinfo=datetime.timezone.utc)}
        items.append((entry["LastModified"], kind, entry))
    return list(reversed(items))


def tags_of(s3, bucket, key, version_id):
    t = s3.get_object_tagging(Bucket=bucket, Key=key, VersionId=version_id)["TagSet"]
    return {x["Key"]: x["Value"] for x in t}


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def preview_all(run, bucket, path, t):
    out = run("preview", path, iso(t), "-b", bucket, "--all", "--output", "json", "-R",
              "--show-secure")
    assert out.returncode == 0, out.stderr
    return {r["name"]: r for r in json.loads(out.stdout)}


def test_create_update_delete_are_recorded(lam, aws, ssm, s3, bucket, prefix, run):
    name = f"{prefix}/app/url"
    changes = [lambda: ssm.put_parameter(Name=name, Value="one", Type="String",
                                         Description="first"),
               lambda: ssm.put_parameter(Name=name, Value="two", Type="String", Overwrite=True),
               lambda: ssm.delete_parameter(Name=name)]
    for change in changes:  # each processed as soon as it happens
        change()
        event = events_for(aws, prefix)[-1]
        kind, answer = lam.invoke(sqs_batch([event]))
        assert (kind, answer) == ("response", {"batchItemFailures": []})
    events = events_for(aws, prefix)
    assert [e["detail"]["operation"] for e in events] == ["Create", "Update", "Delete"]
    vs = versions(s3, bucket, name)
    # FORMAT.md: a delete is a delete marker (no empty "tombstone" body a
    # format 1 reader would take for a value) plus its change index entry.
    assert [k for _, k, _ in vs] == ["v", "v", "m"]
    # LastModified has whole seconds: the versions are told apart by their tags
    bodies = sorted((tags_of(s3, bucket, name, v["VersionId"])["ssmbakVersion"],
                     s3.get_object(Bucket=bucket, Key=name, VersionId=v["VersionId"])["Body"].read())
                    for _, k, v in vs if k == "v")
    assert [b for _, b in bodies] == [b"one", b"two"]
    first = next(tags_of(s3, bucket, name, v["VersionId"]) for _, k, v in vs
                 if k == "v" and tags_of(s3, bucket, name, v["VersionId"])["ssmbakVersion"] == "1")
    assert first["ssmbakType"] == "String" and first["ssmbakVersion"] == "1"
    assert first["ssmbakDescription"] == "first" and first["ssmbakOp"] == "Create"
    entries = s3.list_objects_v2(Bucket=bucket, Prefix=f".ssmbak/changes{name}!")["Contents"]
    ops = sorted(e["Key"].rsplit("!", 1)[1].split(".")[2] for e in entries)
    assert ops == ["Create", "Delete", "Update"]


def test_values_are_those_at_the_event_even_late_and_reversed(lam, aws, ssm, bucket, prefix, run):
    """The old tool's defect 1: two quick updates processed late stored the
    newer value twice. Each event must store its own version."""
    name = f"{prefix}/k"
    aws.clock(fixed=DAY_AGO, check_skew=False)
    ssm.put_parameter(Name=name, Value="first", Type="String")
    aws.clock(fixed=DAY_AGO + 10, check_skew=False)
    ssm.put_parameter(Name=name, Value="second", Type="String", Overwrite=True)
    aws.clock(fixed=DAY_AGO + 20, check_skew=False)
    ssm.put_parameter(Name=name, Value="third", Type="String", Overwrite=True)
    aws.clock()
    events = events_for(aws, prefix)
    for event in reversed(events):  # late, and in reverse order
        assert lam.invoke(sqs_batch([event]))[1] == {"batchItemFailures": []}
    lam.invoke(sqs_batch([events[1]]))  # and one delivered twice
    assert preview_all(run, bucket, prefix, DAY_AGO + 5)[name]["value"] == "first"
    assert preview_all(run, bucket, prefix, DAY_AGO + 15)[name]["value"] == "second"
    assert preview_all(run, bucket, prefix, DAY_AGO + 25)[name]["value"] == "third"
    assert preview_all(run, bucket, prefix, DAY_AGO - 5) == {}


def test_delete_keeps_its_event_time(lam, aws, ssm, bucket, prefix, run):
    """The old tool's defect 2: a delete processed late was timed at its
    processing. Here it keeps the event's time, and a recreate after it is
    not hidden by the late delete marker."""
    name = f"{prefix}/k"
    aws.clock(fixed=DAY_AGO, check_skew=False)
    ssm.put_parameter(Name=name, Value="before", Type="String")
    create, = events_for(aws, prefix)
    lam.invoke(sqs_batch([create]))
    aws.clock(fixed=DAY_AGO + 100, check_skew=False)
    ssm.delete_parameter(Name=name)
    aws.clock(fixed=DAY_AGO + 200, check_skew=False)
    ssm.put_parameter(Name=name, Value="after", Type="String")
    aws.clock()
    _, delete, recreate = events_for(aws, prefix)
    lam.invoke(sqs_batch([recreate]))
    lam.invoke(sqs_batch([delete]))  # the delete arrives last
    assert preview_all(run, bucket, prefix, DAY_AGO + 50)[name]["value"] == "before"
    assert preview_all(run, bucket, prefix, DAY_AGO + 150)[name]["deleted"] is True
    assert preview_all(run, bucket, prefix, DAY_AGO + 250)[name]["value"] == "after"


def test_parameter_deleted_before_processing_is_skipped_not_failed(lam, aws, ssm, s3, bucket, prefix):
    name = f"{prefix}/gone"
    ssm.put_parameter(Name=name, Value="x", Type="String")
    ssm.delete_parameter(Name=name)
    create, delete = events_for(aws, prefix)
    assert lam.invoke(sqs_batch([create]))[1] == {"batchItemFailures": []}
    assert lam.invoke(sqs_batch([delete]))[1] == {"batchItemFailures": []}
    assert [k for _, k, _ in versions(s3, bucket, name)] == ["m"]


def test_every_type_and_odd_names_round_trip(lam, aws, ssm, s3, bucket, prefix, run):
    big = "x" * 8000
    cases = [
        (f"{prefix}/s", "plain", "String", {}),
        (f"{prefix}/list", "a,b,c", "StringList", {}),
        (f"{prefix}/secret", "pa55 w0rd ", "SecureString", {"KeyId": "alias/aws/ssm"}),
        (f"{prefix}/advanced", big, "String", {"Tier": "Advanced"}),
        (f"{prefix}/desc", "v", "String",
         {"Description": "Ünïcödé, punctuation; (parens) & \"quotes\" — 100%"}),
        (prefix.lstrip("/") + "-top", "no slash", "String", {}),
    ]
    for name, value, kind, extra in cases:
        ssm.put_parameter(Name=name, Value=value, Type=kind, **extra)
    events = events_for(aws, prefix.lstrip("/"))
    assert lam.invoke(sqs_batch(events))[1] == {"batchItemFailures": []}
    for name, value, kind, extra in cases:
        key = name if name.startswith("/") else "/" + name
        (lm, _, v), = versions(s3, bucket, key)
        obj = s3.get_object(Bucket=bucket, Key=key, VersionId=v["VersionId"])
        assert obj["Body"].read().decode() == value
        meta = obj["Metadata"]
        assert meta["ssmbak-format"] == "3" and meta["ssmbak-type"] == kind
        if "Description" in extra:
            assert urllib.parse.unquote(meta["ssmbak-description"]) == extra["Description"]
    for name, *_ in cases:
        ssm.delete_parameter(Name=name)
    restored = run("restore", "/", "now", "-b", bucket, "-R")
    assert restored.returncode == 0, restored.stderr
    assert "pa55" not in restored.stdout
    for name, value, kind, extra in cases:
        got = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
        assert (got["Value"], got["Type"]) == (value, kind)
    meta = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Values": [f"{prefix}/desc", f"{prefix}/advanced"]}])
    by_name = {p["Name"]: p for p in meta["Parameters"]}
    assert by_name[f"{prefix}/desc"]["Description"] == cases[4][3]["Description"]
    assert by_name[f"{prefix}/advanced"]["Tier"] == "Advanced"


def test_failed_writes_go_back_to_sqs(lam, aws, ssm, s3, bucket, prefix):
    names = [f"{prefix}/f{i}" for i in range(3)]
    for n in names:
        ssm.put_parameter(Name=n, Value="v", Type="String")
    events = events_for(aws, prefix)
    ids = [f"msg-{i}" for i in range(3)]
    aws.fault(service="s3", operation="PutObject", kind="error500", rate=1.0)
    kind, answer = lam.invoke(sqs_batch(events, ids))
    assert kind == "response"
    assert sorted(f["itemIdentifier"] for f in answer["batchItemFailures"]) == ids
    aws.clear_faults()
    aws.fault(service="s3", operation="PutObject", kind="throttle", rate=0.5)
    kind, answer = lam.invoke(sqs_batch(events, ids))
    aws.clear_faults()
    retry = [events[ids.index(f["itemIdentifier"])] for f in answer["batchItemFailures"]]
    if retry:
        assert lam.invoke(sqs_batch(retry))[1] == {"batchItemFailures": []}
    for n in names:
        assert len(versions(s3, bucket, n)) >= 1


def test_poison_message_fails_alone(lam, aws, ssm, prefix):
    ssm.put_parameter(Name=f"{prefix}/ok", Value="v", Type="String")
    good, = events_for(aws, prefix)
    kind, answer = lam.invoke(sqs_batch([good, "not json at all", {"detail-type": "x"}],
                                        ["good", "poison", "odd"]))
    assert sorted(f["itemIdentifier"] for f in answer["batchItemFailures"]) == ["odd", "poison"]


def test_other_operations_are_acknowledged(lam, aws, ssm, s3, bucket, prefix):
    name = f"{prefix}/labelled"
    ssm.put_parameter(Name=name, Value="v", Type="String")
    ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["prod"])
    events = events_for(aws, prefix)
    assert [e["detail"]["operation"] for e in events] == ["Create", "LabelParameterVersion"]
    assert lam.invoke(sqs_batch(events))[1] == {"batchItemFailures": []}
    assert len(versions(s3, bucket, name)) == 1


def test_bare_eventbridge_event(lam, aws, ssm, s3, bucket, prefix):
    ssm.put_parameter(Name=f"{prefix}/bare", Value="v", Type="String")
    event, = events_for(aws, prefix)
    assert lam.invoke(event) == ("response", {})
    assert len(versions(s3, bucket, f"{prefix}/bare")) == 1


def test_missing_bucket_is_an_init_error(ssmbak_bin, env):
    api = RuntimeApi()
    try:
        out = subprocess.run([ssmbak_bin, "backup-lambda"], capture_output=True, text=True,
                             env={**env, "AWS_LAMBDA_RUNTIME_API": api.address}, timeout=30)
    finally:
        api.stop()
    assert out.returncode == 3
    assert "SSMBAK_BUCKET" in out.stderr
    assert api.init_error["errorType"] == "Runtime.ConfigurationError"


def format1_reader(s3, bucket, prefix, t):
    """The Python ssmbak's restore rule (UPSTREAM.md): per key, the version
    with the latest ssmbakTime at or before t, delete markers by their
    LastModified. Returns {key: value, or None for deleted}."""
    best = {}
    listing = s3.list_object_versions(Bucket=bucket, Prefix=prefix)
    for v in listing.get("Versions", []):
        tags = tags_of(s3, bucket, v["Key"], v["VersionId"])
        when = int(tags["ssmbakTime"])
        if when <= t and (v["Key"] not in best or when > best[v["Key"]][0]):
            body = s3.get_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])
            best[v["Key"]] = (when, body["Body"].read().decode())
    for m in listing.get("DeleteMarkers", []):
        when = int(m["LastModified"].timestamp())
        if when <= t and (m["Key"] not in best or when > best[m["Key"]][0]):
            best[m["Key"]] = (when, None)
    return {k: v for k, (_, v) in best.items()}


def test_a_put_and_a_delete_in_one_second_end_deleted(lam, aws, ssm, s3, bucket, prefix, run):
    """Issue 13, wrong answer 3: the put was recorded, then the delete of
    the same second; the delete names the version it deleted and wins the
    tie, so the parameter stays deleted at every later time."""
    name = f"{prefix}/k"
    aws.clock(fixed=DAY_AGO, check_skew=False)
    ssm.put_parameter(Name=name, Value="short", Type="String")
    ssm.delete_parameter(Name=name)
    aws.clock()
    create, delete = events_for(aws, prefix)
    assert lam.invoke(sqs_batch([create]))[1] == {"batchItemFailures": []}
    assert lam.invoke(sqs_batch([delete]))[1] == {"batchItemFailures": []}
    assert preview_all(run, bucket, prefix, DAY_AGO)[name]["deleted"] is True
    assert preview_all(run, bucket, prefix, DAY_AGO + 3600)[name]["deleted"] is True
    restored = run("restore", prefix + "/", iso(DAY_AGO + 60), "-b", bucket)
    assert restored.returncode == 0, restored.stderr
    with pytest.raises(ssm.exceptions.ParameterNotFound):
        ssm.get_parameter(Name=name)


def test_a_put_and_a_delete_in_one_batch_end_deleted(lam, aws, ssm, s3, bucket, prefix, run):
    """The same in one SQS batch: the delete sees the put written before it."""
    name = f"{prefix}/k"
    aws.clock(fixed=DAY_AGO, check_skew=False)
    ssm.put_parameter(Name=name, Value="short", Type="String")
    ssm.delete_parameter(Name=name)
    aws.clock()
    assert lam.invoke(sqs_batch(events_for(aws, prefix)))[1] == {"batchItemFailures": []}
    assert preview_all(run, bucket, prefix, DAY_AGO)[name]["deleted"] is True


def test_a_format1_reader_never_sees_an_empty_value(lam, aws, ssm, s3, bucket, prefix, run):
    """FORMAT.md, "Deletes": no body-less version, so the Python tool's
    rule reads a format 3 bucket as we do (its own defect aside: a delete
    at its write time), and never takes a delete for the value ""."""
    name = f"{prefix}/k"
    steps = [(0, lambda: ssm.put_parameter(Name=name, Value="one", Type="String")),
             (10, lambda: ssm.put_parameter(Name=name, Value="two", Type="String",
                                            Overwrite=True)),
             (20, lambda: ssm.delete_parameter(Name=name)),
             (30, lambda: ssm.put_parameter(Name=name, Value="three", Type="String"))]
    base = int(time.time()) - 100
    for offset, change in steps:
        aws.clock(fixed=base + offset, check_skew=False)
        change()
        assert lam.invoke(sqs_batch([events_for(aws, prefix)[-1]]))[1] == \
            {"batchItemFailures": []}
    aws.clock()
    for t in range(base - 1, int(time.time()) + 2, 5):
        theirs = format1_reader(s3, bucket, prefix, t)
        assert "" not in theirs.values(), t
        ours = preview_all(run, bucket, prefix, t)
        ours = {k: (None if r["deleted"] else r["value"]) for k, r in ours.items()}
        if t < base + 20 or t >= base + 30:   # away from the delete, whose time differs
            assert theirs == ours, t


# --- issue 14: gaps and which version an event stands for -----------------------


def entries_of(s3, bucket, key):
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=f".ssmbak/changes{key}!")
    out = []
    for obj in listing.get("Contents", []):
        t, version, op, modified, vid = obj["Key"].rsplit("!", 1)[1].split(".", 4)
        out.append((int(t), int(version), op, urllib.parse.unquote(vid)))
    return sorted(out)


def test_changes_deleted_before_capture_are_gaps_not_lost(lam, aws, ssm, s3, bucket, prefix,
                                                         run):
    """Issue 14, case 1: put, update, then delete, all before the Lambda
    reads them: the two changes are recorded as gaps (a WARN line each,
    never a value), the messages are acknowledged, and a restore to between
    them says "not captured" and exits 1 instead of an older value."""
    name = f"{prefix}/k"
    aws.clock(fixed=DAY_AGO, check_skew=False)
    ssm.put_parameter(Name=name, Value="first-s3cr3t", Type="String")
    aws.clock(fixed=DAY_AGO + 10, check_skew=False)
    ssm.put_parameter(Name=name, Value="second-s3cr3t", Type="String", Overwrite=True)
    aws.clock(fixed=DAY_AGO + 20, check_skew=False)
    ssm.delete_parameter(Name=name)
    aws.clock()
    for event in events_for(aws, prefix):
        assert lam.invoke(sqs_batch([event]))[1] == {"batchItemFailures": []}
    assert [(t - DAY_AGO, op) for t, _, op, _ in entries_of(s3, bucket, name)] == [
        (0, "Gap"), (10, "Gap"), (20, "Delete")]
    out = run("preview", prefix + "/", iso(DAY_AGO + 15), "-b", bucket, "--output", "json")
    assert out.returncode == 1
    row, = json.loads(out.stdout)
    assert row["action"] == "unknown" and "last_known_event_time" not in row["at_time"]
    assert preview_all(run, bucket, prefix, DAY_AGO + 25)[name]["deleted"] is True
    lam.stop()
    log = lam.proc.communicate(timeout=30)[1]
    lam.log = log
    assert log.count("not captured, recorded as a gap") == 2
    assert "s3cr3t" not in log


@pytest.mark.parametrize("skew", [-2, -1, 0, 1, 2])
def test_an_event_stamped_near_its_version_stores_that_version(lam, aws, ssm, s3, bucket,
                                                              prefix, run, skew):
    """Issue 14, case 2: EventBridge's clock and SSM's differ by a second or
    two either way; the event still stores its own version, not the one
    before."""
    name = f"{prefix}/k"
    aws.clock(fixed=DAY_AGO, check_skew=False)
    ssm.put_parameter(Name=name, Value="old", Type="String")
    aws.clock(fixed=DAY_AGO + 100, check_skew=False)
    ssm.put_parameter(Name=name, Value="new", Type="String", Overwrite=True)
    aws.clock()
    create, update = events_for(aws, prefix)
    update["time"] = iso(DAY_AGO + 100 + skew) + "Z"
    assert lam.invoke(sqs_batch([create, update]))[1] == {"batchItemFailures": []}
    assert [(t - DAY_AGO, v) for t, v, _, _ in entries_of(s3, bucket, name)] == [
        (0, 1), (100 + skew, 2)]


def test_five_updates_in_one_second_are_five_versions(lam, aws, ssm, s3, bucket, prefix):
    name = f"{prefix}/k"
    aws.clock(fixed=DAY_AGO, check_skew=False)
    ssm.put_parameter(Name=name, Value="v1", Type="String")
    for i in range(2, 7):
        ssm.put_parameter(Name=name, Value=f"v{i}", Type="String", Overwrite=True)
    aws.clock()
    events = events_for(aws, prefix)
    assert lam.invoke(sqs_batch(events[:3]))[1] == {"batchItemFailures": []}
    assert lam.invoke(sqs_batch(events[3:]))[1] == {"batchItemFailures": []}
    assert sorted(v for _, v, _, _ in entries_of(s3, bucket, name)) == [1, 2, 3, 4, 5, 6]
    bodies = set()
    for t, v, op, vid in entries_of(s3, bucket, name):
        bodies.add(s3.get_object(Bucket=bucket, Key=name, VersionId=vid)["Body"].read())
    assert bodies == {f"v{i}".encode() for i in range(1, 7)}


def test_a_create_update_and_delete_in_one_second(lam, aws, ssm, s3, bucket, prefix, run):
    name = f"{prefix}/k"
    aws.clock(fixed=DAY_AGO, check_skew=False)
    ssm.put_parameter(Name=name, Value="one", Type="String")
    ssm.put_parameter(Name=name, Value="two", Type="String", Overwrite=True)
    ssm.delete_parameter(Name=name)
    aws.clock()
    assert lam.invoke(sqs_batch(events_for(aws, prefix)))[1] == {"batchItemFailures": []}
    assert preview_all(run, bucket, prefix, DAY_AGO)[name]["deleted"] is True


def test_a_failed_write_is_retried_inside_the_invocation(lam, aws, ssm, s3, bucket, prefix):
    """Issue 14: the Lambda keeps the value and tries the write again
    within the invocation, instead of handing the message back to SQS (for
    the queue's visibility timeout, while a delete could make it a gap)."""
    name = f"{prefix}/k"
    ssm.put_parameter(Name=name, Value="v", Type="String")
    # more failures than the request layer's own 5 attempts absorb
    aws.fault(service="s3", operation="PutObject", kind="error500", count=8)
    start = time.monotonic()
    assert lam.invoke(sqs_batch(events_for(aws, prefix)))[1] == {"batchItemFailures": []}
    took = time.monotonic() - start
    assert [op for _, _, op, _ in entries_of(s3, bucket, name)] == ["Create"]
    print(f"\nwindow with 8 failed writes: {took:.2f} s inside the invocation "
          "(before: a message back to SQS, 180 s visibility timeout)")
    assert took < 30
