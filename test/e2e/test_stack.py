"""ssmbak stack: from nothing to a working backup pipeline, through
localaws' CloudFormation, with the static binary as the Lambda.

The stack writes SSM parameters that every other command reads to find its
bucket, so this module runs its own localaws.
"""
import importlib.util
import os
import pathlib
import re
import shutil
import subprocess
import time

import pytest


def _e2e_conftest():
    """This directory's conftest by path: `from conftest import` may find
    test/localaws/tests' when both suites run in one pytest."""
    path = pathlib.Path(__file__).with_name("conftest.py")
    spec = importlib.util.spec_from_file_location("ssmbak_e2e_conftest", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_conftest = _e2e_conftest()
REGION, ROOT, LocalAws, client = (_conftest.REGION, _conftest.ROOT, _conftest.LocalAws,
                                  _conftest.client)

STATIC = ROOT / "build" / "ssmbak-static"
EVENT_LINE = re.compile(r"^\d\d/\d\d/\d\d \d\d:\d\d:\d\d   [A-Z_]+  \S+  AWS::[A-Za-z0-9:]+(  .+)?$")


@pytest.fixture(scope="module")
def localaws():
    server = LocalAws()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def static_bin():
    if not STATIC.exists():
        pytest.fail("build/ssmbak-static is not built: run `make build/ssmbak-static` "
                    "(make check builds it)")
    return str(STATIC)


@pytest.fixture
def stack(env, static_bin):
    """stack("demo", "create", ...) runs the static binary."""
    def runner(*args, binary=static_bin, argv0=None, timeout=180):
        return subprocess.run([argv0 or binary, "stack", *args] if not argv0 else [argv0, *args],
                              executable=binary, env=env, capture_output=True, text=True,
                              timeout=timeout)
    return runner


@pytest.fixture
def cfn(aws):
    return client(aws.endpoint, "cloudformation")


def ok(result):
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def stack_parameter(ssm, stack_name, what):
    return ssm.get_parameter(Name=f"/newvoll/ssmbak/stacks/{stack_name}/{what}")["Parameter"]["Value"]


def wait_for(predicate, seconds=20, what="it"):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"{what} did not happen within {seconds} s")


def versions(s3, bucket, key):
    listed = s3.list_object_versions(Bucket=bucket, Prefix=key)
    return [v for v in listed.get("Versions", []) if v["Key"] == key]


def test_the_binary_documents_the_stack_command_and_its_alias(stack, ssmbak_bin):
    result = ok(stack("--help", binary=ssmbak_bin, argv0="ssmbak-stack"))
    assert result.stdout.startswith("usage: ssmbak stack NAME COMMAND")
    result = stack("demo", "frobnicate", binary=ssmbak_bin)
    assert result.returncode == 2 and "unknown command 'frobnicate'" in result.stderr


def has_interpreter(path):
    """Whether an ELF64 little-endian executable has a PT_INTERP header."""
    data = pathlib.Path(path).read_bytes()
    phoff = int.from_bytes(data[32:40], "little")
    size, count = (int.from_bytes(data[o:o + 2], "little") for o in (54, 56))
    return any(int.from_bytes(data[phoff + i * size:phoff + i * size + 4], "little") == 3
               for i in range(count))


@pytest.fixture
def dynamic_bin(ssmbak_bin):
    for candidate in (ssmbak_bin, str(ROOT / "build" / "san" / "ssmbak")):
        if os.path.exists(candidate) and has_interpreter(candidate):
            return candidate
    pytest.skip("no dynamically linked ssmbak built (make build/san/ssmbak)")


def test_a_binary_lambda_cannot_run_is_refused(stack, dynamic_bin, cfn):
    result = stack("demo", "create", binary=dynamic_bin)
    assert result.returncode == 2, result.stderr
    assert "this binary cannot be the Lambda: it is dynamically linked" in result.stderr
    assert "make static" in result.stderr
    assert cfn.describe_stacks()["Stacks"] == []


def test_template_parameters_are_checked(stack, cfn, ssmbak_bin):
    result = stack("demo", "create", "-p", "Retention=3", binary=ssmbak_bin)
    assert result.returncode == 2 and "the template has no parameter 'Retention'" in result.stderr
    result = stack("demo", "create", "-p", "CodeKey=x", binary=ssmbak_bin)
    assert result.returncode == 2 and "CodeKey is set by ssmbak" in result.stderr
    # What only CloudFormation knows comes back as its error, and no stack is left.
    result = stack("demo", "create", "-p", "LogLevel=LOUD")
    assert result.returncode == 1, result.stderr
    assert "Parameter 'LogLevel' must be one of AllowedValues" in result.stderr
    result = stack("demo", "create", "-p", "RetentionDays=-1")
    assert result.returncode == 1
    assert "Parameter 'RetentionDays' must be a number not less than 0" in result.stderr
    assert cfn.describe_stacks()["Stacks"] == []


def test_a_failed_create_rolls_back_and_says_why(stack, aws, ssm, cfn):
    # The Python tool's parameter is already there: LegacyParameters cannot write it.
    ssm.put_parameter(Name="/newvoll/ssmbak/bucketname", Value="old-bucket", Type="String",
                      Overwrite=True)
    try:
        result = stack("clash", "create", "-p", "LegacyParameters=true")
        assert result.returncode == 1, result.stdout + result.stderr
        assert "ROLLBACK_COMPLETE" in result.stderr
        assert "LegacyBucketParameter (AWS::SSM::Parameter)" in result.stderr
        assert "already exists" in result.stderr
        assert "ssmbak stack clash delete" in result.stderr
        lines = result.stdout.splitlines()
        assert all(EVENT_LINE.match(line) for line in lines), lines
        assert re.search(r"CREATE_FAILED  LegacyBucketParameter  AWS::SSM::Parameter  "
                         r"Resource handler returned message: .*already exists", result.stdout)
        assert "ROLLBACK_IN_PROGRESS  clash  AWS::CloudFormation::Stack  The following " \
               "resource(s) failed to create: [LegacyBucketParameter]." in result.stdout
        assert lines[-1].split()[2:4] == ["ROLLBACK_COMPLETE", "clash"]
        # Everything it made is gone but the bucket, which is kept.
        resources = {r["LogicalResourceId"]: r["ResourceStatus"] for r in
                     cfn.describe_stack_resources(StackName="clash")["StackResources"]}
        assert resources["Bucket"] == "DELETE_SKIPPED"
        assert resources["Queue"] == "DELETE_COMPLETE"
        assert client(aws.endpoint, "lambda").list_functions()["Functions"] == []
        assert ssm.get_parameter(Name="/newvoll/ssmbak/bucketname")["Parameter"]["Value"] == \
            "old-bucket"
        assert ok(stack("clash", "status")).stdout.startswith("ROLLBACK_COMPLETE")
        result = stack("clash", "create")
        assert result.returncode == 1 and "already exists" in result.stderr
        ok(stack("clash", "delete"))
        assert stack("clash", "status").returncode == 1
    finally:
        ssm.delete_parameter(Name="/newvoll/ssmbak/bucketname")


def test_create_back_up_restore_update_delete(stack, run, aws, ssm, s3, cfn, static_bin,
                                              ssmbak_bin, prefix, tmp_path):
    # --- create: events as they arrive, then the summary ---
    result = ok(stack("demo", "create", "-p", "RetentionDays=30", "--tags", "team=infra"))
    events, _, summary = result.stdout.partition("\n\n")
    lines = events.splitlines()
    assert all(EVENT_LINE.match(line) for line in lines), lines
    assert lines[0].endswith("CREATE_IN_PROGRESS  demo  AWS::CloudFormation::Stack  User Initiated")
    assert lines[-1].endswith("CREATE_COMPLETE  demo  AWS::CloudFormation::Stack")
    bucket = stack_parameter(ssm, "demo", "bucket")
    function = stack_parameter(ssm, "demo", "lambda")
    assert re.fullmatch(r"demo-bucket-[a-z0-9]{13}", bucket)
    assert re.fullmatch(r"demo-Function-[A-Z0-9]{13}", function)
    assert f"Lambda     {function}" in summary and f"bucket     {bucket}" in summary
    assert f"log group  /aws/lambda/{function}" in summary
    assert "ssmbak backfill --do-it" in summary
    # What only reads runs with the test build (the sanitizer build in make check).
    assert ok(stack("demo", "bucketname", binary=ssmbak_bin)).stdout == bucket + "\n"
    assert ok(stack("demo", "lambdaname", binary=ssmbak_bin)).stdout == function + "\n"
    assert ok(stack("demo", "region", binary=ssmbak_bin)).stdout == REGION + "\n"
    assert ok(stack("demo", "status", binary=ssmbak_bin)).stdout == "CREATE_COMPLETE\n"
    assert ok(stack("demo", "events", binary=ssmbak_bin)).stdout == events + "\n"
    outputs = ok(stack("demo", "outputs", binary=ssmbak_bin)).stdout
    assert re.search(r"^QueueUrl +http://127\.0\.0\.1:\d+/000000000000/demo-Queue-", outputs, re.M)
    assert stack_parameter(ssm, "demo", "queue").endswith(
        re.search(r"demo-Queue-\w+", outputs).group(0))
    assert "/demo-DeadLetterQueue-" in stack_parameter(ssm, "demo", "dlq")
    described = cfn.describe_stacks(StackName="demo")["Stacks"][0]
    assert {"Key": "team", "Value": "infra"} in described["Tags"]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}
    assert parameters["Architecture"] == "x86_64" and parameters["RetentionDays"] == "30"
    assert re.fullmatch(r"ssmbak/bootstrap-x86_64-[0-9a-f]{64}\.zip", parameters["CodeKey"])
    assert parameters["CodeBucket"] == f"ssmbak-deploy-000000000000-{REGION}"
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    marker = s3.get_object(Bucket=bucket, Key=".ssmbak/format")["Body"].read()
    assert b'"format": 2' in marker and b'"max_delay_seconds": 3600' in marker

    # The code is this very binary, zipped as an executable bootstrap.
    zipped = tmp_path / "code.zip"
    zipped.write_bytes(s3.get_object(Bucket=parameters["CodeBucket"],
                                     Key=parameters["CodeKey"])["Body"].read())
    listing = subprocess.run(["unzip", "-Z", str(zipped)], capture_output=True, text=True).stdout
    assert re.search(r"^-rwxr-xr-x .* bootstrap$", listing, re.M), listing
    subprocess.run(["unzip", "-q", str(zipped), "-d", str(tmp_path / "code")], check=True)
    assert (tmp_path / "code" / "bootstrap").read_bytes() == pathlib.Path(static_bin).read_bytes()

    # --- a change is backed up by the deployed bootstrap within seconds ---
    name = f"{prefix}/db/url"
    ssm.put_parameter(Name=name, Value="postgres://one", Type="String")
    wait_for(lambda: versions(s3, bucket, name), what="the backup of the first value")
    before_change = int(time.time()) + 1
    time.sleep(before_change + 1.05 - time.time())
    ssm.put_parameter(Name=name, Value="postgres://two", Type="String", Overwrite=True)
    wait_for(lambda: len(versions(s3, bucket, name)) == 2, what="the backup of the second value")

    # preview and restore find the bucket on their own.
    result = ok(run("preview", f"{prefix}/", f"@{before_change}", "-R"))
    assert "postgres://one" in result.stdout
    ok(run("restore", f"{prefix}/", f"@{before_change}", "-R"))
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "postgres://one"

    # --- update from a new binary replaces the code ---
    lam = client(aws.endpoint, "lambda")
    old_sha = lam.get_function(FunctionName=function)["Configuration"]["CodeSha256"]
    newer = tmp_path / "ssmbak"
    shutil.copy(static_bin, newer)
    with open(newer, "ab") as f:
        f.write(b"\0another build\0")
    os.chmod(newer, 0o755)
    result = ok(stack("demo", "update", "-p", "LogLevel=DEBUG", binary=str(newer)))
    assert re.search(r"UPDATE_IN_PROGRESS  Function  AWS::Lambda::Function$", result.stdout, re.M)
    assert "UPDATE_COMPLETE  demo  AWS::CloudFormation::Stack" in result.stdout
    assert "Stack demo: UPDATE_COMPLETE" in result.stdout
    configuration = lam.get_function(FunctionName=function)["Configuration"]
    assert configuration["CodeSha256"] != old_sha
    assert configuration["Environment"]["Variables"]["LOGLEVEL"] == "DEBUG"
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in
                  cfn.describe_stacks(StackName="demo")["Stacks"][0]["Parameters"]}
    assert parameters["RetentionDays"] == "30", "parameters not given keep their values"
    # The new code backs up too.
    ssm.put_parameter(Name=name, Value="postgres://three", Type="String", Overwrite=True)
    wait_for(lambda: len(versions(s3, bucket, name)) == 4, what="a backup by the new code")
    # Object Lock cannot be turned on later: the bucket would be replaced.
    result = stack("demo", "update", "-p", "ObjectLockDays=7", binary=str(newer))
    assert result.returncode == 2 and "only when the stack is created" in result.stderr
    # The same binary and parameters again: nothing to do.
    result = ok(stack("demo", "update", binary=str(newer)))
    assert "is up to date" in result.stdout

    # --- delete: the stack and everything but the bucket go ---
    queue_url = stack_parameter(ssm, "demo", "queue")
    result = stack("demo", "delete", "--delete-bucket", binary=ssmbak_bin)
    assert result.returncode == 1 and "holds" in result.stderr and "--force" in result.stderr
    assert ok(stack("demo", "status")).stdout == "UPDATE_COMPLETE\n"
    result = ok(stack("demo", "delete", binary=ssmbak_bin))
    assert "DELETE_COMPLETE  demo  AWS::CloudFormation::Stack" in result.stdout
    assert f"its bucket {bucket} is kept" in result.stdout
    assert result.stdout.count("DELETE_SKIPPED") == 3    # the bucket, its policy, its key
    assert lam.list_functions()["Functions"] == []
    assert lam.list_event_source_mappings()["EventSourceMappings"] == []
    sqs = client(aws.endpoint, "sqs")
    assert queue_url not in sqs.list_queues().get("QueueUrls", [])
    assert client(aws.endpoint, "events").list_rules()["Rules"] == []
    assert ssm.get_parameters_by_path(Path="/newvoll/ssmbak/stacks", Recursive=True)["Parameters"] == []
    assert len(versions(s3, bucket, name)) == 4
    assert stack("demo", "status").returncode == 1
    result = run("preview", f"{prefix}/", "now")
    assert result.returncode == 3, "no stack left: no bucket to find"


def test_delete_bucket_force_removes_the_backups(stack, ssm, s3, prefix, ssmbak_bin):
    ok(stack("gone", "create"))
    bucket = stack_parameter(ssm, "gone", "bucket")
    ssm.put_parameter(Name=f"{prefix}/x", Value="v", Type="String")
    wait_for(lambda: versions(s3, bucket, f"{prefix}/x"), what="the backup")
    result = stack("gone", "delete", "--delete-bucket")
    assert result.returncode == 1 and "not deleted" in result.stderr
    result = ok(stack("gone", "delete", "--delete-bucket", "--force", binary=ssmbak_bin))
    assert f"Deleted the bucket {bucket}." in result.stdout
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_the_template_writes_where_the_commands_look():
    """lib/cli.h's prefix and the template's parameter names agree."""
    prefix = re.search(r'#define SSMBAK_STACK_PARAMETER_PREFIX "([^"]+)"',
                       (ROOT / "lib" / "cli.h").read_text()).group(1)
    template = (ROOT / "template.yaml").read_text()
    for what in ("bucket", "lambda", "queue", "dlq"):
        assert f'Name: !Sub "{prefix}${{AWS::StackName}}/{what}"' in template
