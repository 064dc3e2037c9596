"""The whole backup path inside localaws, as AWS runs it:

  aws ssm put-parameter -> EventBridge rule -> SQS queue (+ dead-letter
  queue) -> Lambda event source mapping -> the binary as the function's
  `bootstrap` process -> versions in the bucket

and `ssmbak preview` answering right for the times between the changes,
however late, reordered, repeated or failing the delivery was.
"""
import io
import json
import os
import subprocess
import time
import urllib.parse
import uuid
import zipfile

import pytest

from conftest import AWS_CLI, REGION, client

ROLE = "arn:aws:iam::000000000000:role/ssmbak-backup"
VISIBILITY = 2          # the queue's visibility timeout, >= the function's timeout
MAX_RECEIVE = 5
DEADLINE = 30           # seconds a change may take to reach the bucket, faults included
SANITIZER_REPORTS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def eventually(check, what, timeout=DEADLINE):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what} (last: {result!r})")
        time.sleep(0.05)


def bootstrap_zip(binary):
    """The binary as Lambda wants it: `bootstrap`, mode 0755, in a zip."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o100755 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        with open(binary, "rb") as f:
            archive.writestr(info, f.read())
    return out.getvalue()


class Pipeline:
    """The stack's resources in localaws, and the clients to look at them."""

    def __init__(self, localaws, binary):
        self.localaws = localaws
        endpoint = localaws.endpoint
        self.s3, self.sqs, self.events, self.lam, self.logs = (
            client(endpoint, service) for service in ("s3", "sqs", "events", "lambda", "logs"))
        self.name = f"ssmbak-{uuid.uuid4().hex[:8]}"
        self.bucket = self.name + "-backup"
        for bucket in (self.bucket, self.name + "-code"):
            self.s3.create_bucket(Bucket=bucket)
            self.s3.put_bucket_versioning(Bucket=bucket,
                                          VersioningConfiguration={"Status": "Enabled"})
        # The stack uploads the zip to S3 and points the function at it.
        self.s3.put_object(Bucket=self.name + "-code", Key="ssmbak.zip", Body=bootstrap_zip(binary))
        self.dlq = self.sqs.create_queue(QueueName=self.name + "-dlq")["QueueUrl"]
        self.queue = self.sqs.create_queue(QueueName=self.name, Attributes={
            "VisibilityTimeout": str(VISIBILITY),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": self.arn(self.dlq),
                                         "maxReceiveCount": MAX_RECEIVE})})["QueueUrl"]
        self.events.put_rule(Name=self.name, EventPattern=json.dumps(
            {"source": ["aws.ssm"], "detail-type": ["Parameter Store Change"]}))
        self.events.put_targets(Rule=self.name, Targets=[{"Id": "queue",
                                                          "Arn": self.arn(self.queue)}])
        self.variables = {"SSMBAK_BUCKET": self.bucket, "LOGLEVEL": "INFO"}
        self.lam.create_function(
            FunctionName=self.name, Runtime="provided.al2023", Handler="bootstrap", Role=ROLE,
            Code={"S3Bucket": self.name + "-code", "S3Key": "ssmbak.zip"}, Timeout=VISIBILITY,
            MemorySize=128, Environment={"Variables": self.variables})
        self.mapping = self.lam.create_event_source_mapping(
            EventSourceArn=self.arn(self.queue), FunctionName=self.name, BatchSize=10,
            FunctionResponseTypes=["ReportBatchItemFailures"])["UUID"]

    def arn(self, url):
        return self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]

    @property
    def log_group(self):
        return f"/aws/lambda/{self.name}"

    def log_messages(self):
        pages = self.logs.get_paginator("filter_log_events").paginate(logGroupName=self.log_group)
        return [e["message"] for page in pages for e in page["events"]]

    def stats(self):
        return self.localaws.control("GET", f"lambda/{self.name}/stats")

    def versions(self, key):
        """[(kind, version)] of a key, oldest first; kind "v" or "m" (marker)."""
        out = self.s3.list_object_versions(Bucket=self.bucket, Prefix=key)
        found = [("v", v) for v in out.get("Versions", []) if v["Key"] == key]
        found += [("m", m) for m in out.get("DeleteMarkers", []) if m["Key"] == key]
        return sorted(found, key=lambda kv: kv[1]["LastModified"])

    def tags(self, key, version_id):
        tags = self.s3.get_object_tagging(Bucket=self.bucket, Key=key, VersionId=version_id)
        return {t["Key"]: t["Value"] for t in tags["TagSet"]}

    def dead_letters(self):
        """Bodies in the dead-letter queue, left there (received with visibility 0)."""
        found = {}
        for _ in range(3):
            for m in self.sqs.receive_message(QueueUrl=self.dlq, MaxNumberOfMessages=10,
                                              VisibilityTimeout=0).get("Messages", []):
                found[m["MessageId"]] = m
        return found

    def queue_empty(self):
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["All"])[
            "Attributes"]
        return attributes["ApproximateNumberOfMessages"] == "0" and \
            attributes["ApproximateNumberOfMessagesNotVisible"] == "0"

    def hold(self):
        self.localaws.control("POST", "eventbridge/hold", {"rule": self.name})

    def release(self, order="fifo"):
        return self.localaws.control("POST", f"eventbridge/release?order={order}",
                                     {"rule": self.name})["released"]

    def close(self):
        """Tear down; the function's process exits on its own first, so a
        sanitizer build prints its leak report into the log group."""
        self.lam.delete_event_source_mapping(UUID=self.mapping)
        self.lam.delete_function(FunctionName=self.name)
        reports = [m for m in self.log_messages() if any(r in m for r in SANITIZER_REPORTS)]
        self.events.remove_targets(Rule=self.name, Ids=["queue"])
        self.events.delete_rule(Name=self.name)
        for url in (self.queue, self.dlq):
            self.sqs.delete_queue(QueueUrl=url)
        assert reports == []


@pytest.fixture(scope="module")
def pipeline(localaws, ssmbak_bin):
    built = Pipeline(localaws, ssmbak_bin)
    try:
        yield built
    finally:
        localaws.clear_faults()
        localaws.clock()
        built.close()


@pytest.fixture
def cli(aws, tmp_path):
    """cli("ssm", "put-parameter", ...) -> stdout of /usr/bin/aws (no user config)."""
    empty = tmp_path / "empty"
    empty.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION=REGION,
               AWS_CONFIG_FILE=str(empty), AWS_SHARED_CREDENTIALS_FILE=str(empty), AWS_PAGER="",
               HOME=str(tmp_path))

    def run(*args):
        out = subprocess.run([AWS_CLI, "--endpoint-url", aws.endpoint, *args], env=env,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return out.stdout
    return run


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))


def preview_all(run, bucket, path, t):
    out = run("preview", path, iso(t), "-b", bucket, "--all", "--output", "json", "-R",
              "--show-secure")
    assert out.returncode == 0, out.stderr
    return {r["name"]: r for r in json.loads(out.stdout)}


def at(aws, t):
    """Changes made from now on happen at t (their SSM time and event time)."""
    aws.clock(fixed=t, check_skew=False)


def events_for(aws, prefix):
    return [e for e in aws.control("GET", "events")
            if e["detail"]["name"].lstrip("/").startswith(prefix.lstrip("/"))]


def story(aws, ssm, name, t0):
    """one at t0, two at t0+10, three at t0+20; what preview must say between."""
    values = ["one", "two", "three"]
    for step, value in enumerate(values):
        at(aws, t0 + 10 * step)
        ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=step > 0)
    aws.clock()
    return [(t0 - 5, None)] + [(t0 + 10 * step + 5, v) for step, v in enumerate(values)]


def check_story(run, bucket, prefix, name, expectations):
    for t, expected in expectations:
        found = preview_all(run, bucket, prefix, t)
        assert found.get(name, {}).get("value") == expected, (t, found)


def test_changes_reach_the_bucket_through_the_pipeline(pipeline, aws, cli, prefix, run):
    name = f"{prefix}/app/url"
    secret = f"value-{uuid.uuid4().hex}"
    t0 = int(time.time()) - 300
    at(aws, t0)
    cli("ssm", "put-parameter", "--name", name, "--value", secret, "--type", "String",
        "--description", "first")
    at(aws, t0 + 10)
    cli("ssm", "put-parameter", "--name", name, "--value", secret + "-2", "--type", "String",
        "--overwrite")
    at(aws, t0 + 20)
    cli("ssm", "delete-parameter", "--name", name)
    aws.clock()
    kinds = eventually(lambda: [k for k, _ in pipeline.versions(name)] == ["v", "v", "m"]
                       and pipeline.versions(name), "two versions and a delete marker")
    bodies = [pipeline.s3.get_object(Bucket=pipeline.bucket, Key=name, VersionId=v["VersionId"])
              for k, v in kinds if k == "v"]
    assert [b["Body"].read().decode() for b in bodies] == [secret, secret + "-2"]
    assert [(b["Metadata"]["ssmbak-format"], b["Metadata"]["ssmbak-op"],
             b["Metadata"]["ssmbak-time"]) for b in bodies] == [
        ("3", "Create", str(t0)), ("3", "Update", str(t0 + 10))]
    # FORMAT.md, "The change index": one entry per change, naming its version;
    # the delete names the SSM version it deleted.
    by_vid = {v["VersionId"]: k for k, v in kinds}
    entries = eventually(lambda: len(index_entries(pipeline, name)) == 3
                         and index_entries(pipeline, name), "three index entries")
    assert sorted((e[0], e[1], e[2], by_vid[e[4]]) for e in entries) == [
        (t0, 1, "Create", "v"), (t0 + 10, 2, "Update", "v"), (t0 + 20, 2, "Delete", "m")]
    first = pipeline.tags(name, kinds[0][1]["VersionId"])
    assert (first["ssmbakTime"], first["ssmbakType"], first["ssmbakVersion"], first["ssmbakOp"],
            first["ssmbakDescription"]) == (str(t0), "String", "1", "Create", "first")
    for t, expected in [(t0 + 5, secret), (t0 + 15, secret + "-2")]:
        assert preview_all(run, pipeline.bucket, prefix, t)[name]["value"] == expected
    assert preview_all(run, pipeline.bucket, prefix, t0 + 25)[name]["deleted"] is True
    assert eventually(pipeline.queue_empty, "the queue to drain")

    tail = cli("logs", "tail", pipeline.log_group, "--since", "1d", "--format", "short")
    assert f"{name} Create String version 1" in tail and "stored" in tail
    assert "REPORT RequestId:" in tail
    assert secret not in tail


def index_entries(pipeline, key):
    """(event time, SSM version, op, modified ms, version id) of a key's
    change index entries."""
    out = []
    listing = pipeline.s3.list_objects_v2(Bucket=pipeline.bucket,
                                          Prefix=f".ssmbak/changes{key}!")
    for obj in listing.get("Contents", []):
        t, version, op, modified, vid = obj["Key"].rsplit("!", 1)[1].split(".", 4)
        vid = vid.split(",", 1)[0]  # FORMAT.md, "What an entry tells": fields follow
        out.append((int(t), int(version), op, int(modified), urllib.parse.unquote(vid)))
    return out


def test_late_reordered_and_duplicate_delivery(pipeline, aws, ssm, prefix, run):
    name = f"{prefix}/late"
    pipeline.hold()
    try:
        expectations = story(aws, ssm, name, int(time.time()) - 7200)   # two hours late
    finally:
        released = pipeline.release(order="reverse")
    assert released == 3
    eventually(lambda: len(pipeline.versions(name)) == 3, "the reversed changes")
    # The update delivered once more, after everything else.
    update = next(e for e in events_for(aws, prefix) if e["detail"]["operation"] == "Update")
    pipeline.sqs.send_message(QueueUrl=pipeline.queue, MessageBody=json.dumps(update))
    eventually(lambda: len(pipeline.versions(name)) == 4, "the duplicate")
    assert eventually(pipeline.queue_empty, "the queue to drain")
    check_story(run, pipeline.bucket, prefix, name, expectations)


def test_parameter_deleted_before_processing(pipeline, aws, ssm, prefix, run):
    name = f"{prefix}/gone"
    t0 = int(time.time()) - 100
    pipeline.hold()
    try:
        at(aws, t0)
        ssm.put_parameter(Name=name, Value="short-lived", Type="String")
        at(aws, t0 + 10)
        ssm.delete_parameter(Name=name)
        aws.clock()
    finally:
        pipeline.release()
    # the create could not be read any more: a gap (issue 14), then the delete
    eventually(lambda: [k for k, _ in pipeline.versions(name)] == ["m"]
               and sorted(e[2] for e in index_entries(pipeline, name)) == ["Delete", "Gap"],
               "a gap, a delete marker and its entry")
    assert eventually(pipeline.queue_empty, "the queue to drain")
    assert not any(name in m["Body"] for m in pipeline.dead_letters().values())
    assert preview_all(run, pipeline.bucket, prefix, t0 + 15)[name]["deleted"] is True
    between = run("preview", prefix + "/", iso(t0 + 5), "-b", pipeline.bucket, "-R")
    assert between.returncode == 1 and "(not captured)" in between.stdout


def test_two_gaps_of_one_key_in_one_second_are_two_entries(pipeline, aws, ssm, prefix, run):
    """The soak's 1,000 changes in a few seconds: updates of one key in
    one second, all deleted before their events are read, were one entry
    (same key, second, op and version 0) and counted as lost."""
    name = f"{prefix}/twice"
    t0 = int(time.time()) - 100
    pipeline.hold()
    try:
        at(aws, t0)
        ssm.put_parameter(Name=name, Value="one", Type="String")
        at(aws, t0 + 10)
        ssm.put_parameter(Name=name, Value="two", Type="String", Overwrite=True)
        ssm.put_parameter(Name=name, Value="three", Type="String", Overwrite=True)
        at(aws, t0 + 20)
        ssm.delete_parameter(Name=name)
        aws.clock()
    finally:
        pipeline.release()
    eventually(lambda: sorted(e[2] for e in index_entries(pipeline, name))
               == ["Delete", "Gap", "Gap", "Gap"], "three gaps and the delete")
    assert eventually(pipeline.queue_empty, "the queue to drain")
    # A redelivered event is the same gap, not one more.
    update = next(e for e in events_for(aws, prefix) if e["detail"]["operation"] == "Update")
    pipeline.sqs.send_message(QueueUrl=pipeline.queue, MessageBody=json.dumps(update))
    assert eventually(pipeline.queue_empty, "the redelivery to drain")
    time.sleep(1)
    assert sorted(e[2] for e in index_entries(pipeline, name)) == ["Delete", "Gap", "Gap", "Gap"]
    between = run("preview", prefix + "/", iso(t0 + 15), "-b", pipeline.bucket, "-R")
    assert between.returncode == 1 and "(not captured)" in between.stdout


def test_failing_s3_and_ssm_lose_nothing(pipeline, aws, ssm, prefix, run):
    """30% throttling and 10% errors on the two calls that store a change:
    failed records come back through SQS until stored, or land in the
    dead-letter queue, from where a redrive stores them."""
    variables = {**pipeline.variables, "AWS_MAX_ATTEMPTS": "2"}   # fail fast, retry via SQS
    pipeline.lam.update_function_configuration(FunctionName=pipeline.name,
                                               Environment={"Variables": variables})
    try:
        for service, operation in (("ssm", "GetParameterHistory"), ("s3", "PutObject")):
            aws.fault(service=service, operation=operation, kind="error500", count=2)
            aws.fault(service=service, operation=operation, kind="throttle", rate=0.3)
            aws.fault(service=service, operation=operation, kind="error500", rate=0.1)
        names = [f"{prefix}/faulty/{i}" for i in range(4)]
        t0 = int(time.time()) - 600
        for step in range(3):
            at(aws, t0 + 10 * step)
            for name in names:
                ssm.put_parameter(Name=name, Value=f"{name}@{step}", Type="String",
                                  Overwrite=step > 0)
        aws.clock()

        def stored():
            # A record retried after its data version was written leaves an
            # orphan version: count the changes the index holds, once each.
            return sum(len({e[0] for e in index_entries(pipeline, n)}) for n in names)

        def dead():
            return [m for m in pipeline.dead_letters().values() if prefix in m["Body"]]
        eventually(lambda: stored() + len(dead()) == 12, "every change stored or dead-lettered",
                   timeout=60)
        failed_lines = [m for m in pipeline.log_messages() if prefix in m and ": failed: " in m]
        assert failed_lines, "no record failed: the faults did not bite"
    finally:
        aws.clear_faults()
        pipeline.lam.update_function_configuration(
            FunctionName=pipeline.name, Environment={"Variables": pipeline.variables})
    for message in dead():                      # the redrive
        pipeline.sqs.send_message(QueueUrl=pipeline.queue, MessageBody=message["Body"])
        pipeline.sqs.delete_message(QueueUrl=pipeline.dlq, ReceiptHandle=message["ReceiptHandle"])
    eventually(lambda: stored() == 12, "every change stored")
    for step in range(3):
        found = preview_all(run, pipeline.bucket, prefix, t0 + 10 * step + 5)
        assert {n: found[n]["value"] for n in names} == {n: f"{n}@{step}" for n in names}


def test_a_poison_message_is_dead_lettered_without_blocking_others(pipeline, aws, ssm, prefix):
    poison = f"poison {prefix} not an event"
    pipeline.sqs.send_message(QueueUrl=pipeline.queue, MessageBody=poison)
    name = f"{prefix}/after-poison"
    ssm.put_parameter(Name=name, Value="fine", Type="String")
    eventually(lambda: pipeline.versions(name), "the good change", timeout=VISIBILITY + 3)
    dead = eventually(lambda: [m for m in pipeline.dead_letters().values() if m["Body"] == poison],
                      "the poison in the dead-letter queue",
                      timeout=VISIBILITY * (MAX_RECEIVE + 2) + 5)
    assert len(dead) == 1
    attributes = pipeline.sqs.receive_message(QueueUrl=pipeline.dlq, AttributeNames=["All"],
                                              VisibilityTimeout=0)["Messages"]
    assert any(int(m["Attributes"]["ApproximateReceiveCount"]) > MAX_RECEIVE for m in attributes
               if m["Body"] == poison)


def test_every_kind_of_parameter(pipeline, aws, ssm, prefix, run):
    top = prefix.lstrip("/") + "-top"
    cases = [
        (f"{prefix}/secure", "pa55 w0rd ", "SecureString", {}),
        (f"{prefix}/list", "a,b,c", "StringList", {}),
        (f"{prefix}/advanced", "x" * 8192, "String", {"Tier": "Advanced"}),
        (f"{prefix}/described", "v", "String",
         {"Description": "Ünïcödé, punctuation; (parens) & \"quotes\" — 100% <ok>?"}),
        (top, "no leading slash", "String", {}),
    ]
    for name, value, kind, extra in cases:
        ssm.put_parameter(Name=name, Value=value, Type=kind, **extra)
    for name, value, kind, extra in cases:
        key = name if name.startswith("/") else "/" + name
        (_, version), = eventually(lambda: pipeline.versions(key), f"{name} stored")
        got = pipeline.s3.get_object(Bucket=pipeline.bucket, Key=key, VersionId=version["VersionId"])
        assert got["Body"].read().decode() == value
        meta = got["Metadata"]
        assert meta["ssmbak-type"] == kind
        if "Description" in extra:
            assert urllib.parse.unquote(meta["ssmbak-description"]) == extra["Description"]
        if "Tier" in extra:
            assert meta["ssmbak-tier"] == "Advanced"
    found = preview_all(run, pipeline.bucket, prefix, int(time.time()))
    for name, value, kind, extra in cases[:4]:
        assert (found[name]["value"], found[name]["type"]) == (value, kind)
    assert found[cases[3][0]]["description"] == cases[3][3]["Description"]
    alone = preview_all(run, pipeline.bucket, "/" + top, int(time.time()))
    assert [(r["value"], r["type"]) for r in alone.values()] == [("no leading slash", "String")]


def test_the_function_process_is_measured(pipeline, aws):
    stats = pipeline.stats()
    cold = [i for i in stats["invocations"] if i["cold_start"]]
    assert cold and all(i["init_duration_ms"] > 0 for i in cold)
    assert stats["summary"]["max_peak_rss_kb"] > 0
    assert all(p["init_duration_ms"] is None or p["init_duration_ms"] < 10000
               for p in stats["processes"])
    reports = [m for m in pipeline.log_messages() if m.startswith("REPORT RequestId:")]
    assert len(reports) == len(stats["invocations"])
    print(f"\nbootstrap: {len(stats['processes'])} processes, "
          f"{stats['summary']['invocations']} invocations, init "
          f"{[round(p['init_duration_ms'], 1) for p in stats['processes'] if p['init_duration_ms']]}"
          f" ms, peak RSS {[p['peak_rss_kb'] for p in stats['processes']]} kB")
