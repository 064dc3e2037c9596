"""backup-lambda driven through a stand-in Runtime API, against localaws:
what it stores for each kind of change, and that restore then answers
right however late, reordered or repeated the events came."""
import datetime
import json
import subprocess
import time
import urllib.parse

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
                                 "SSMBAK_BUCKET": bucket, "LOGLEVEL": "INFO"},
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
    out = s3.list_object_versions(Bucket=bucket, Prefix=key)
    items = [(v["LastModified"], "v", v) for v in out.get("Versions", []) if v["Key"] == key]
    items += [(m["LastModified"], "m", m) for m in out.get("DeleteMarkers", []) if m["Key"] == key]
    return sorted(items, key=lambda x: x[0])


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
    bodies = [s3.get_object(Bucket=bucket, Key=name, VersionId=v["VersionId"])["Body"].read()
              for _, k, v in vs if k == "v"]
    assert bodies == [b"one", b"two"]
    first = tags_of(s3, bucket, name, vs[0][2]["VersionId"])
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


def test_label_changes_are_recorded(lam, aws, ssm, s3, bucket, prefix):
    """A LabelParameterVersion event records the version current at the
    event with its labels (FORMAT.md, "Labels")."""
    name = f"{prefix}/labelled"
    ssm.put_parameter(Name=name, Value="v", Type="String")
    assert lam.invoke(sqs_batch(events_for(aws, prefix)))[1] == {"batchItemFailures": []}
    ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["prod"])
    events = events_for(aws, prefix)
    assert [e["detail"]["operation"] for e in events] == ["Create", "LabelParameterVersion"]
    assert lam.invoke(sqs_batch(events[1:]))[1] == {"batchItemFailures": []}
    vs = versions(s3, bucket, name)
    assert len(vs) == 2
    metas = {m["ssmbak-op"]: m for m in
             (s3.get_object(Bucket=bucket, Key=name, VersionId=v["VersionId"])["Metadata"]
              for _, _, v in vs)}
    assert sorted(metas) == ["Create", "Label"]
    assert metas["Label"]["ssmbak-labels"] == "prod" and "ssmbak-labels" not in metas["Create"]
    assert metas["Label"]["ssmbak-version"] == "1"


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
