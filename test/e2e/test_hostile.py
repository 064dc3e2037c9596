"""Hostile and malformed answers, through localaws' `malformed` faults: never
crash, never loop, never accept garbage. Each failure is one line naming the
service, the operation and what was wrong, exit 1, and nothing half-done.

Each case is a bug measured on main before this file existed: an
out-of-bounds read, an endless listing, an answer that said nothing taken
for an empty one, a hanging credential_process, a PATH sent for the server
to refuse, a path prefix left out of the signature, an error printed raw.
"""
import json
import os
import re
import subprocess
import time
import uuid

import pytest

from bucketfmt import Write, load
from conftest import LocalAws, client

T0 = 1718243666  # 2024-06-13T01:54:26Z
WHEN = "2024-06-13T02:00:00"


def malformed(aws, service, operation, mutation, **extra):
    aws.fault(service=service, operation=operation, kind="malformed", mutation=mutation, **extra)


def one_line(out):
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    return lines[0]


def backed_up(aws, bucket, ssm, prefix, n):
    """n parameters, in the bucket and in SSM with the same values: a
    restore of WHEN has nothing to do."""
    names = [f"{prefix}/p{i:02d}" for i in range(n)]
    load(aws.endpoint, bucket, [Write(name, "value", T0, T0 + 2, 1, f"value-{name}")
                                for name in names])
    for name in names:
        ssm.put_parameter(Name=name, Value=f"value-{name}", Type="String")
    aws.reset_counters()
    return names


# --- bucket discovery: a name in the answer shorter than the path asked for


def test_a_stack_name_outside_the_stack_path_is_not_read_out_of_bounds(aws, run):
    # DescribeParameters(Path=/newvoll/ssmbak/stacks/) answering /x/bucket: on
    # main, a negative %.*s precision read past the name (ASan).
    malformed(aws, "ssm", "DescribeParameters", "body",
              body='{"Parameters": [{"Name": "/x/bucket", "Type": "String"}]}')
    out = run("preview", "/a/", "now")
    assert out.returncode == 3, out.stderr
    assert "no bucket" in one_line(out)
    assert "AddressSanitizer" not in out.stderr


def test_a_bucket_parameter_that_is_no_bucket_name_is_refused_unshown(aws, ssm, run):
    name = "/newvoll/ssmbak/stacks/hostile/bucket"
    ssm.put_parameter(Name=name, Value="../../evil?x=1", Type="String")
    try:
        out = run("preview", "/a/", "now", "--stack", "hostile")
        assert out.returncode == 3
        assert one_line(out).endswith("the stack's SSM parameter does not hold an S3 bucket name")
        assert "evil" not in out.stderr
        assert "GetParameter" in aws.counters()["ssm"] and "s3" not in aws.counters()
    finally:
        ssm.delete_parameter(Name=name)


# --- pagination that never ends


def test_a_repeated_next_key_marker_stops_the_listing(aws, bucket, ssm, prefix, run):
    backed_up(aws, bucket, ssm, prefix, 2)
    malformed(aws, "s3", "ListObjectVersions", "repeat_token")
    out = run("preview", prefix + "/", WHEN, "-b", bucket, timeout=60)
    assert out.returncode == 1
    line = one_line(out)
    assert re.search(r"ListObjectVersions.*(never end|does not advance)", line), line
    # the data listing and the change index: two pages each at most
    assert aws.counters()["s3"]["ListObjectVersions"] <= 4


def test_a_repeated_next_token_stops_describe_parameters(aws, bucket, ssm, prefix, run):
    ssm.put_parameter(Name=f"{prefix}/a", Value="v", Type="String")
    malformed(aws, "ssm", "DescribeParameters", "repeat_token")
    out = run("backfill", "-b", bucket, "--name-prefix", prefix, timeout=60)
    assert out.returncode == 1
    line = one_line(out)
    assert "SSM DescribeParameters: " in line and "NextToken" in line
    assert aws.counters()["ssm"]["DescribeParameters"] == 2


# --- an answer that says nothing is not an empty answer


def test_get_parameters_answering_nothing_rewrites_nothing(aws, bucket, ssm, prefix, run):
    names = backed_up(aws, bucket, ssm, prefix, 30)
    calm = run("restore", prefix + "/", WHEN, "-b", bucket)
    assert calm.returncode == 0 and calm.stdout == "", calm.stderr
    malformed(aws, "ssm", "GetParameters", "body", body="{}")
    aws.reset_counters()
    out = run("restore", prefix + "/", WHEN, "-b", bucket)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "SSM GetParameters: the answer has Parameters missing" in out.stderr
    assert "PutParameter" not in aws.counters()["ssm"]
    assert "DeleteParameters" not in aws.counters()["ssm"]
    for name in names:
        assert ssm.get_parameter(Name=name)["Parameter"]["Version"] == 1


def test_backfill_does_not_take_an_empty_answer_for_deleted_parameters(aws, bucket, ssm,
                                                                       prefix, run):
    for i in range(30):
        ssm.put_parameter(Name=f"{prefix}/p{i:02d}", Value="v", Type="String")
    malformed(aws, "ssm", "GetParameters", "body", body="{}")
    out = run("backfill", "-b", bucket, "--name-prefix", prefix, "--do-it")
    assert out.returncode == 1, out.stderr
    assert "skipped 0, failed 30" in out.stderr
    assert "SSM GetParameters: the answer has Parameters missing" in out.stderr


@pytest.mark.parametrize("mutation, extra, says", [
    ("truncate", {}, "SSM GetParameters: the answer is not a JSON object"),
    ("wrong_types", {"members": ["Parameters"]},
     "SSM GetParameters: the answer has Parameters that is not a list"),
    ("body", {"body": '{"Parameters": [{"Name": 7, "Type": "String", "Value": "x"}]}'},
     "SSM GetParameters: entry 0 of the answer's Parameters"),
    ("body", {"body": '{"Parameters": [], "InvalidParameters": []}'},
     "SSM GetParameters: the answer accounts for 0 names of the 3 asked for"),
])
def test_a_get_parameters_answer_of_the_wrong_shape_fails_its_keys(aws, bucket, ssm, prefix,
                                                                   run, mutation, extra, says):
    backed_up(aws, bucket, ssm, prefix, 3)
    malformed(aws, "ssm", "GetParameters", mutation, **extra)
    out = run("restore", prefix + "/", WHEN, "-b", bucket)
    assert out.returncode == 1, out.stderr
    assert says in out.stderr
    assert "PutParameter" not in aws.counters()["ssm"]


def test_a_time_past_any_calendar_is_not_taken_for_one(aws, bucket, ssm, prefix, run):
    # Found by fuzz_backfill_answers: a LastModifiedDate of 1.7E82 overflowed
    # the conversion to time_t (UBSan).
    malformed(aws, "ssm", "DescribeParameters", "body",
              body='{"Parameters": [{"Name": "%s/a", "Type": "String", "Version": 1, '
                   '"LastModifiedDate": 1.7E82}]}' % prefix)
    out = run("backfill", "-b", bucket, "--name-prefix", prefix)
    assert out.returncode == 1
    assert "SSM DescribeParameters: entry 0 of the answer's Parameters" in one_line(out)


@pytest.mark.parametrize("mutation, extra, says", [
    ("wrong_types", {"members": ["IsTruncated"]}, "no IsTruncated true or false"),
    ("wrong_types", {"members": ["Size"]}, "Size is not a number"),
    ("wrong_types", {"members": ["Key"]}, "an entry without a Key"),
    ("truncate", {}, "not a ListVersionsResult"),
])
def test_a_listing_of_the_wrong_shape_fails(aws, bucket, ssm, prefix, run, mutation, extra, says):
    backed_up(aws, bucket, ssm, prefix, 2)
    malformed(aws, "s3", "ListObjectVersions", mutation, **extra)
    out = run("preview", prefix + "/", WHEN, "-b", bucket)
    assert out.returncode == 1
    line = one_line(out)
    assert line.startswith("ssmbak preview: S3 ListObjectVersions: ") and says in line


@pytest.mark.parametrize("mutation", ["reset_after_headers", "oversize_header"])
def test_a_broken_connection_is_one_line(aws, bucket, ssm, prefix, run, mutation):
    backed_up(aws, bucket, ssm, prefix, 2)
    malformed(aws, "s3", "ListObjectVersions", mutation)
    out = run("preview", prefix + "/", WHEN, "-b", bucket, env_extra={"AWS_MAX_ATTEMPTS": "2"})
    assert out.returncode == 1
    assert one_line(out).startswith("ssmbak preview: S3 ListObjectVersions: ")


def test_a_repeated_next_token_stops_the_stack_events(aws, run):
    cfn = client(aws.endpoint, "cloudformation")
    name = f"hostile-{uuid.uuid4().hex[:8]}"
    cfn.create_stack(StackName=name, TemplateBody=json.dumps({"Resources": {"P": {
        "Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": "x"}}}}))
    cfn.get_waiter("stack_create_complete").wait(
        StackName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
    try:
        malformed(aws, "cloudformation", "DescribeStackEvents", "repeat_token")
        out = run("stack", name, "events", timeout=60)
        assert out.returncode == 1
        assert one_line(out) == ("ssmbak stack: CloudFormation DescribeStackEvents: the answer "
                                 "repeats the NextToken it was asked with: the listing would "
                                 "never end")
    finally:
        aws.clear_faults()
        cfn.delete_stack(StackName=name)


# --- errors from the server are printed on one line, escaped


def test_control_characters_in_an_xml_error_are_escaped(aws, bucket, run):
    # XML 1.0 cannot carry ESC or BEL; newlines and tabs it can, and the
    # request id header can carry the rest.
    malformed(aws, "s3", "ListObjectVersions", "body", status=403,
              body="<Error><Code>Bad\nCode</Code><Message>line one\nline two\ttab</Message>"
                   "<RequestId>ignored</RequestId></Error>",
              headers={"x-amz-request-id": "id\x1b[2J\x1b]0;owned\x07"})
    out = run("preview", "/a/", WHEN, "-b", bucket)
    assert out.returncode == 1
    line = one_line(out)
    assert "\x1b" not in out.stderr and "\x07" not in out.stderr and "\t" not in out.stderr
    assert line == ("ssmbak preview: S3 ListObjectVersions: Bad\\nCode: line one\\nline two"
                    "\\ttab (request id id\\x1b[2J\\x1b]0;owned\\x07)")


def test_control_characters_in_a_json_error_and_request_id_are_escaped(aws, bucket, ssm, prefix,
                                                                       run):
    backed_up(aws, bucket, ssm, prefix, 1)
    malformed(aws, "ssm", "GetParameters", "body", status=400,
              body='{"__type": "Evil\\u001b[31m", "message": "a\\nb"}',
              headers={"x-amzn-RequestId": "rid\x1b[0m"})
    out = run("restore", prefix + "/", WHEN, "-b", bucket)
    assert out.returncode == 1
    assert "\x1b" not in out.stderr
    assert "Evil\\x1b[31m: a\\nb (request id rid\\x1b[0m)" in out.stderr
    assert all(line.startswith(("ssmbak restore: ", f"{prefix}/"))
               for line in out.stderr.strip().splitlines()), out.stderr


# --- names checked before any request


@pytest.mark.parametrize("args", [
    ["preview", "/" + "a" * 100000, "now"],
    ["restore", "/a/" + "b/" * 15, "now"],
    ["restore", "/a/", "now", "--to", "/b/" + "c" * 2000],
    ["backfill", "--name-prefix", "/" + "x" * 5000],
    ["backfill", "--name-prefix", "/app/\x1b[2J"],
])
def test_names_past_ssm_limits_are_usage_errors_before_any_request(aws, run, args):
    out = run(*args, "-b", "some-bucket")
    assert out.returncode == 2, out.stderr
    line = one_line(out)
    assert len(line) < 300 and "\x1b" not in line
    assert aws.counters() == {}


# --- an endpoint URL with a path


def test_an_endpoint_with_a_path_prefix_is_signed_with_it(run, tmp_path):
    server = LocalAws("--path-prefix", "/gateway/aws")
    try:
        endpoint = server.endpoint + "/gateway/aws"
        s3 = client(endpoint, "s3")
        s3.create_bucket(Bucket="prefixed-bucket")
        s3.put_bucket_versioning(Bucket="prefixed-bucket",
                                 VersioningConfiguration={"Status": "Enabled"})
        client(endpoint, "ssm").put_parameter(Name="/pre/x", Value="old", Type="String")
        load(server.endpoint, "prefixed-bucket", [Write("/pre/x", "value", T0, T0 + 2, 1, "new")])
        env = {"AWS_ENDPOINT_URL": endpoint}
        out = run("restore", "/pre/", WHEN, "-b", "prefixed-bucket", env_extra=env)
        assert out.returncode == 0, out.stderr
        assert client(endpoint, "ssm").get_parameter(Name="/pre/x")["Parameter"]["Value"] == "new"
        assert server.control("GET", "counters")["ssm"]["PutParameter"] == 2
    finally:
        server.stop()


# --- credential_process that hangs, or leaves something holding its stdout


def process_gone(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1].startswith("Z")
    except FileNotFoundError:
        return True


def eventually_gone(pid, seconds=5):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process_gone(pid):
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def profile(env, tmp_path):
    """profile(command) -> env for a default profile whose credentials come
    from credential_process = command."""
    def make(command):
        with open(env["AWS_CONFIG_FILE"], "w") as f:
            f.write(f"[default]\nregion = us-east-1\ncredential_process = {command}\n")
        return {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""}
    return make


CREDS_JSON = '{"Version": 1, "AccessKeyId": "test", "SecretAccessKey": "test"}'


def test_a_credential_process_that_hangs_is_killed_with_its_group(bucket, run, profile, tmp_path):
    pidfile = tmp_path / "pid"
    script = tmp_path / "hang.sh"
    script.write_text(f"#!/bin/sh\nsleep 1000 &\necho $! > {pidfile}\nwait\n")
    script.chmod(0o755)
    started = time.monotonic()
    out = run("preview", "/a/", WHEN, "-b", bucket, timeout=30,
              env_extra={**profile(str(script)), "SSMBAK_CREDENTIAL_PROCESS_TIMEOUT": "2"})
    took = time.monotonic() - started
    assert out.returncode == 3, out.stderr
    assert "did not finish within 2 seconds" in one_line(out)
    assert 2 <= took < 10
    assert eventually_gone(int(pidfile.read_text()))


def test_a_credential_process_leaving_a_child_on_its_stdout_does_not_hang(bucket, run, profile,
                                                                          tmp_path):
    pidfile = tmp_path / "pid"
    script = tmp_path / "leave.sh"
    script.write_text(f"#!/bin/sh\nsleep 1000 &\necho $! > {pidfile}\necho '{CREDS_JSON}'\n")
    script.chmod(0o755)
    started = time.monotonic()
    out = run("preview", "/a/", WHEN, "-b", bucket, timeout=30, env_extra=profile(str(script)))
    assert out.returncode == 0, out.stderr
    assert time.monotonic() - started < 10
    assert eventually_gone(int(pidfile.read_text()))


def test_interrupting_ssmbak_kills_the_credential_process_group(bucket, ssmbak_bin, env, profile,
                                                                tmp_path):
    pidfile = tmp_path / "pid"
    script = tmp_path / "hang.sh"
    script.write_text(f"#!/bin/sh\nsleep 1000 &\necho $! > {pidfile}\nwait\n")
    script.chmod(0o755)
    proc = subprocess.Popen([ssmbak_bin, "preview", "/a/", WHEN, "-b", bucket],
                            env={**env, **profile(str(script))},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not (pidfile.exists() and pidfile.read_text().strip()):
            assert time.monotonic() < deadline, "the credential_process never started"
            time.sleep(0.05)
        proc.terminate()
        assert proc.wait(timeout=10) == -15
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert eventually_gone(int(pidfile.read_text()))
