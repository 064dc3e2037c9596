"""ssmbak stack: from nothing to a working backup pipeline, through
localaws' CloudFormation, with the static binary as the Lambda.

The stack writes SSM parameters that every other command reads to find its
bucket, so this module runs its own localaws.
"""
import importlib.util
import json
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
    # --output json: the same answers, as ssmbak(1)'s one JSON schema.
    assert json.loads(ok(stack("demo", "status", "--output", "json", binary=ssmbak_bin)).stdout) \
        == [{"name": "demo", "kind": "stack", "status": "CREATE_COMPLETE",
             "stack_id": cfn.describe_stacks(StackName="demo")["Stacks"][0]["StackId"]}]
    shown = json.loads(ok(stack("demo", "outputs", "--output", "json", binary=ssmbak_bin)).stdout)
    assert {o["name"]: o["value"] for o in shown} == {
        o["OutputKey"]: o["OutputValue"]
        for o in cfn.describe_stacks(StackName="demo")["Stacks"][0]["Outputs"]}
    shown = json.loads(ok(stack("demo", "events", "--output", "json", binary=ssmbak_bin)).stdout)
    assert len(shown) == len(lines)
    assert shown[0]["status"] == "CREATE_IN_PROGRESS" and shown[0]["name"] == "demo"
    assert shown[0]["status_reason"] == "User Initiated"
    assert shown[-1]["type"] == "AWS::CloudFormation::Stack" and "status_reason" not in shown[-1]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", e["event_time"]) for e in shown)
    for verb in ("bucketname", "create"):
        refused = stack("demo", verb, "--output", "json", binary=ssmbak_bin)
        assert refused.returncode == 2 and "--output json goes with" in refused.stderr, verb
    described = cfn.describe_stacks(StackName="demo")["Stacks"][0]
    assert {"Key": "team", "Value": "infra"} in described["Tags"]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in described["Parameters"]}
    assert parameters["Architecture"] == "x86_64" and parameters["RetentionDays"] == "30"
    assert re.fullmatch(r"ssmbak/bootstrap-x86_64-[0-9a-f]{64}\.zip", parameters["CodeKey"])
    assert parameters["CodeBucket"] == f"ssmbak-deploy-000000000000-{REGION}"
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"

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
    result = ok(stack("demo", "update", "--yes", "-p", "LogLevel=DEBUG", binary=str(newer)))
    assert re.search(r"^  Modify  Function +AWS::Lambda::Function +Code, Environment$",
                     result.stdout, re.M), result.stdout
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
    result = stack("demo", "update", "--yes", "-p", "ObjectLockDays=7", binary=str(newer))
    assert result.returncode == 2 and "only when the stack is created" in result.stderr
    # The same binary and parameters again: nothing to do.
    result = ok(stack("demo", "update", "--yes", binary=str(newer)))
    assert "is up to date" in result.stdout
    # No change set is left waiting: the executed ones are all that remain.
    assert {s["ExecutionStatus"] for s in cfn.list_change_sets(StackName="demo")["Summaries"]} \
        == {"EXECUTE_COMPLETE"}

    # --- delete: the stack and everything but the bucket go ---
    queue_url = stack_parameter(ssm, "demo", "queue")
    result = stack("demo", "delete", "--delete-bucket", binary=ssmbak_bin)
    assert result.returncode == 1 and "holds" in result.stderr and "--force" in result.stderr
    assert ok(stack("demo", "status")).stdout == "UPDATE_COMPLETE\n"
    result = ok(stack("demo", "delete", binary=ssmbak_bin))
    assert "DELETE_COMPLETE  demo  AWS::CloudFormation::Stack" in result.stdout
    assert f"its bucket {bucket} is kept" in result.stdout
    # The bucket, its policy, its KMS key, and the two dead-letter queues
    # (changes not yet recorded).
    assert result.stdout.count("DELETE_SKIPPED") == 5
    assert lam.list_functions()["Functions"] == []
    assert lam.list_event_source_mappings()["EventSourceMappings"] == []
    sqs = client(aws.endpoint, "sqs")
    # The dead-letter queues are kept by the stack, and deleted by ssmbak
    # once empty: nothing was left unrecorded.
    assert not [u for u in sqs.list_queues().get("QueueUrls", []) if "/demo-" in u]
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


# --- the template on its own, change sets, a service role -------------------------

def test_the_template_command_prints_the_template_it_deploys(stack, ssmbak_bin):
    result = ok(stack("template", binary=ssmbak_bin))
    header, _, body = result.stdout.partition('AWSTemplateFormatVersion: "2010-09-09"\n')
    assert body and all(line.startswith("# ") for line in header.splitlines()), header
    assert "CodeBucket" in header and "CAPABILITY_NAMED_IAM" in header
    assert 'AWSTemplateFormatVersion: "2010-09-09"\n' + body == (ROOT / "template.yaml").read_text()
    # Every parameter is documented where it is declared.
    parameters = re.search(r"^Parameters:\n(.*?)^\S", body, re.M | re.S).group(1)
    declared = re.findall(r"^  (\w+):\n((?:    .*\n|\n)*)", parameters, re.M)
    assert len(declared) > 20
    assert [name for name, block in declared if "    Description:" not in block] == []
    result = stack("demo", "template", binary=ssmbak_bin)
    assert result.returncode == 2 and "template takes no NAME" in result.stderr


def run_on_a_terminal(args, env, answer, timeout=120):
    """Runs with stdin on a pseudo-terminal, typing answer; (exit code,
    stdout, stderr)."""
    import pty
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, env=env, stdin=slave, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    os.close(slave)
    os.write(master, answer.encode())
    try:
        out, err = proc.communicate(timeout=timeout)
    finally:
        os.close(master)
    return proc.returncode, out, err


def test_diff_and_update_review_a_change_set_first(stack, env, cfn, static_bin, aws):
    role = "arn:aws:iam::000000000000:role/ssmbak-deployer"
    result = stack("review", "create", "--role-arn", "not-a-role")
    assert result.returncode == 2 and "is not an IAM role ARN" in result.stderr
    ok(stack("review", "create", "--role-arn", role))
    described = cfn.describe_stacks(StackName="review")["Stacks"][0]
    assert described["RoleARN"] == role
    lam = client(aws.endpoint, "lambda")
    function = ok(stack("review", "lambdaname")).stdout.strip()

    def loglevel():
        return lam.get_function(FunctionName=function)["Configuration"]["Environment"][
            "Variables"]["LOGLEVEL"]

    # diff: what would change, and nothing changes.
    result = ok(stack("review", "diff", "-p", "LogLevel=DEBUG", "-p", "MemorySize=256"))
    assert result.stdout.splitlines()[0] == "Changes to stack review:"
    assert re.search(r"^  Modify  Function +AWS::Lambda::Function +Environment, MemorySize$",
                     result.stdout, re.M), result.stdout
    assert "(replaced)" not in result.stdout
    assert loglevel() == "INFO"
    assert cfn.list_change_sets(StackName="review")["Summaries"] == []
    # A change that replaces a resource says so.
    result = ok(stack("review", "diff", "-p", "ExistingBucket=some-other-bucket"))
    assert re.search(r"^  Remove  Bucket +AWS::S3::Bucket$", result.stdout, re.M), result.stdout

    # update where it cannot ask: refused before anything happens.
    events = len(cfn.describe_stack_events(StackName="review")["StackEvents"])
    result = stack("review", "update", "-p", "LogLevel=DEBUG")
    assert result.returncode == 2
    assert result.stderr.strip().endswith("review the changes with 'ssmbak stack review diff', "
                                          "then run update with --yes")
    assert len(cfn.describe_stack_events(StackName="review")["StackEvents"]) == events

    # update on a terminal: the changes, the question, and no is no.
    args = [static_bin, "stack", "review", "update", "-p", "LogLevel=DEBUG"]
    code, out, err = run_on_a_terminal(args, env, "n\n")
    assert code == 1, err
    assert "Modify  Function" in out and "Deploy these changes to stack review? [y/N]" in err
    assert "not deployed" in err and loglevel() == "INFO"
    assert cfn.list_change_sets(StackName="review")["Summaries"] == []
    # yes deploys exactly that change set, as the stack's role.
    code, out, err = run_on_a_terminal(args, env, "y\n")
    assert code == 0, err
    assert "UPDATE_COMPLETE  review  AWS::CloudFormation::Stack" in out
    assert loglevel() == "DEBUG"
    assert cfn.describe_stacks(StackName="review")["Stacks"][0]["RoleARN"] == role
    result = ok(stack("review", "diff", "-p", "LogLevel=DEBUG"))
    assert "is up to date" in result.stdout
    ok(stack("review", "delete"))


def test_existing_bucket_adopts_a_bucket_and_its_history(stack, ssm, s3, cfn, prefix):
    ok(stack("first", "create"))
    bucket = stack_parameter(ssm, "first", "bucket")
    name = f"{prefix}/kept"
    ssm.put_parameter(Name=name, Value="from-the-first-stack", Type="String")
    wait_for(lambda: versions(s3, bucket, name), what="the first stack's backup")
    ok(stack("first", "delete"))
    ssm.put_parameter(Name=name, Value="changed-without-a-stack", Type="String", Overwrite=True)

    ok(stack("second", "create", "-p", f"ExistingBucket={bucket}"))
    assert ok(stack("second", "bucketname")).stdout == bucket + "\n"
    assert "Bucket" not in {r["LogicalResourceId"] for r in
                            cfn.describe_stack_resources(StackName="second")["StackResources"]}
    ssm.put_parameter(Name=name, Value="from-the-second-stack", Type="String", Overwrite=True)
    wait_for(lambda: len(versions(s3, bucket, name)) == 2, what="the second stack's backup")
    # One history in one bucket: the first stack's change is still there.
    bodies = [s3.get_object(Bucket=bucket, Key=name, VersionId=v["VersionId"])["Body"].read()
              for v in versions(s3, bucket, name)]
    assert bodies == [b"from-the-second-stack", b"from-the-first-stack"]
    ok(stack("second", "delete"))
    assert s3.head_bucket(Bucket=bucket)


def test_a_replica_in_another_region_restores(stack, run, aws, ssm, s3, prefix):
    west = boto3_client_in(aws, "s3", "eu-west-1")
    replica = f"ssmbak-replica-{int(time.time() * 1000) % 10 ** 10}"
    west.create_bucket(Bucket=replica, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    west.put_bucket_versioning(Bucket=replica, VersioningConfiguration={"Status": "Enabled"})
    ok(stack("dr", "create", "-p", f"ReplicaBucketArn=arn:aws:s3:::{replica}"))
    bucket = stack_parameter(ssm, "dr", "bucket")
    assert s3.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"]["Rules"][0][
        "Destination"]["Bucket"] == f"arn:aws:s3:::{replica}"
    name = f"{prefix}/db/url"
    ssm.put_parameter(Name=name, Value="postgres://before", Type="String",
                      Description="the primary's value")
    wait_for(lambda: versions(west, replica, name), what="the replica of the backup")
    between = int(time.time()) + 1
    time.sleep(between + 1.05 - time.time())
    ssm.delete_parameter(Name=name)
    wait_for(lambda: west.list_object_versions(Bucket=replica, Prefix=name).get("DeleteMarkers"),
             what="the replicated delete")
    # Every version and the bookkeeping beside it, with the same ids and times.
    source = s3.list_object_versions(Bucket=bucket)
    copied = west.list_object_versions(Bucket=replica)
    for kind in ("Versions", "DeleteMarkers"):
        assert sorted((v["Key"], v["VersionId"], v["LastModified"]) for v in copied[kind]) == \
            sorted((v["Key"], v["VersionId"], v["LastModified"]) for v in source[kind])
    # The primary region is gone: bring the parameter back in the replica's region.
    result = ok(run("preview", f"{prefix}/", f"@{between}", "-R", "-b", replica, "-r", "eu-west-1"))
    assert "postgres://before" in result.stdout
    ok(run("restore", f"{prefix}/", f"@{between}", "-R", "-b", replica, "-r", "eu-west-1"))
    restored = boto3_client_in(aws, "ssm", "eu-west-1").get_parameter(Name=name)["Parameter"]
    assert restored["Value"] == "postgres://before"
    ok(stack("dr", "delete"))


def boto3_client_in(aws, service, region):
    import boto3
    return boto3.client(service, endpoint_url=aws.endpoint, region_name=region,
                        aws_access_key_id="test", aws_secret_access_key="test")


# --- an organization: one pipeline per account and region, one central bucket ------

def in_account(aws, account, service, region):
    """A client acting in a member account, through the role Organizations
    creates in every account it creates."""
    sts = boto3_client_in(aws, "sts", "us-east-1")
    credentials = sts.assume_role(
        RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
        RoleSessionName="e2e")["Credentials"]
    import boto3
    return boto3.client(service, endpoint_url=aws.endpoint, region_name=region,
                        aws_access_key_id=credentials["AccessKeyId"],
                        aws_secret_access_key=credentials["SecretAccessKey"],
                        aws_session_token=credentials["SessionToken"])


def test_an_organization_backs_up_every_account_and_region_into_one_bucket(
        stack, aws, s3, cfn, prefix, ssmbak_bin, static_bin, tmp_path):
    result = stack("org", "create", "--org-units", "ou-nothing", "--regions", "us-east-1",
                   binary=ssmbak_bin)
    assert result.returncode == 2 and "is not an organizational unit id" in result.stderr
    result = stack("org", "create", "--org-units", "ou-abcd-12345678", binary=ssmbak_bin)
    assert result.returncode == 2 and "--org-units needs --regions" in result.stderr
    result = stack("org", "create", "--org-units", "ou-abcd-12345678", "--regions", "us-east-1")
    assert result.returncode == 3 and "in no AWS organization" in result.stderr
    assert cfn.describe_stacks()["Stacks"] == []

    organizations = boto3_client_in(aws, "organizations", "us-east-1")
    organization = organizations.create_organization(FeatureSet="ALL")["Organization"]["Id"]
    root = organizations.list_roots()["Roots"][0]["Id"]
    ou = organizations.create_organizational_unit(ParentId=root, Name="workloads")[
        "OrganizationalUnit"]["Id"]
    accounts = []
    for name in ("alpha", "beta"):
        created = organizations.create_account(Email=f"{name}@example.com", AccountName=name)
        account = created["CreateAccountStatus"]["AccountId"]
        organizations.move_account(AccountId=account, SourceParentId=root,
                                   DestinationParentId=ou)
        accounts.append(account)
    regions = ["us-east-1", "eu-west-1"]

    result = ok(stack("org", "create", "--org-units", ou, "--regions", ",".join(regions)))
    assert "StackSet org: deploying to us-east-1: SUCCEEDED" in result.stdout
    assert "StackSet org: deploying to eu-west-1: SUCCEEDED" in result.stdout
    central = cfn.describe_stacks(StackName="org")["Stacks"][0]
    bucket = {o["OutputKey"]: o["OutputValue"] for o in central["Outputs"]}["BucketName"]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in central["Parameters"]}
    assert parameters["OrganizationId"] == organization and parameters["OrgPipelineName"] == "org"
    # The code is shared with the organization in each region.
    for region in regions:
        policy = boto3_client_in(aws, "s3", region).get_bucket_policy(
            Bucket=f"ssmbak-deploy-000000000000-{region}")["Policy"]
        assert organization in policy and "s3:GetObject" in policy

    status = ok(stack("org", "status", binary=ssmbak_bin)).stdout.splitlines()
    assert status[0] == "CREATE_COMPLETE" and status[1] == "StackSet org: 4 stack instances"
    assert sorted(tuple(line.split()[:4]) for line in status[2:]) == sorted(
        (a, r, "CURRENT", "SUCCEEDED") for a in accounts for r in regions)
    shown = json.loads(ok(stack("org", "status", "--output", "json", binary=ssmbak_bin)).stdout)
    assert [(o["kind"], o["status"]) for o in shown[:1]] == [("stack", "CREATE_COMPLETE")]
    assert sorted((o["kind"], o["account"], o["region"], o["status"], o["detailed_status"])
                  for o in shown[1:]) == sorted(
        ("stack_instance", a, r, "CURRENT", "SUCCEEDED") for a in accounts for r in regions)

    # A change in each account and region lands in the central bucket under
    # that account's and region's prefix, and nowhere else.
    for account in accounts:
        for region in regions:
            in_account(aws, account, "ssm", region).put_parameter(
                Name=f"{prefix}/where", Value=f"{account} {region}", Type="String")
    for account in accounts:
        for region in regions:
            key = f"{account}/{region}{prefix}/where"
            listed = wait_for(lambda: versions(s3, bucket, key), seconds=30,
                              what=f"the backup of {account} {region}")
            body = s3.get_object(Bucket=bucket, Key=key, VersionId=listed[0]["VersionId"])
            assert body["Body"].read() == f"{account} {region}".encode()
    keys = {v["Key"] for v in s3.list_object_versions(Bucket=bucket).get("Versions", [])
            if v["Key"].endswith(f"{prefix}/where") and not v["Key"].startswith(".ssmbak/")}
    assert keys == {f"{a}/{r}{prefix}/where" for a in accounts for r in regions}

    # update: the central stack (its change set), then every account's stack.
    newer = tmp_path / "ssmbak"
    shutil.copy(static_bin, newer)
    with open(newer, "ab") as f:
        f.write(b"\0a newer build\0")
    os.chmod(newer, 0o755)
    result = ok(stack("org", "update", "--yes", "-p", "LogLevel=DEBUG", binary=str(newer)))
    assert "StackSet org: updating 4 stack instances" in result.stdout
    assert "StackSet org: updating every account's stack: SUCCEEDED" in result.stdout
    for account in accounts:
        for region in regions:
            functions = in_account(aws, account, "lambda", region).list_functions()["Functions"]
            assert [f["Environment"]["Variables"]["LOGLEVEL"] for f in functions] == ["DEBUG"]
            assert functions[0]["Environment"]["Variables"]["SSMBAK_KEY_PREFIX"] == \
                f"{account}/{region}/"

    result = ok(stack("org", "delete"))
    assert "StackSet org is deleted" in result.stdout
    result = stack("org", "status", binary=ssmbak_bin)
    assert result.returncode == 1 and "no stack 'org'" in result.stderr
    assert s3.head_bucket(Bucket=bucket)


def test_the_errors_alarm_counts_the_records_that_fail(stack, aws, ssm, prefix):
    """A failed record is a batch item failure: Lambda's Errors metric does
    not count it, the template's metric filter does. Its pattern matches
    the line the function logs for it, and not the other lines."""
    pattern = re.search(r"FilterPattern: '(.+)'", (ROOT / "template.yaml").read_text()).group(1)
    ok(stack("alarmed", "create"))
    function = stack_parameter(ssm, "alarmed", "lambda")
    logs = client(aws.endpoint, "logs")
    group = f"/aws/lambda/{function}"
    ssm.put_parameter(Name=f"{prefix}/fine", Value="v", Type="String")
    wait_for(lambda: any(f"{prefix}/fine" in e["message"] for e in
                         logs.filter_log_events(logGroupName=group)["events"]),
             what="the log of a recorded change")
    assert logs.filter_log_events(logGroupName=group, filterPattern=pattern)["events"] == []
    aws.fault(service="s3", operation="PutObject", kind="error500")
    try:
        ssm.put_parameter(Name=f"{prefix}/broken", Value="v", Type="String")
        matched = wait_for(lambda: logs.filter_log_events(
            logGroupName=group, filterPattern=pattern)["events"], seconds=60,
            what="a failed record's log line")
    finally:
        aws.clear_faults()
    assert all(f"{prefix}/broken" in e["message"] for e in matched), matched
    # A dead-letter queue that holds a change outlives the stack, and says so.
    sqs = client(aws.endpoint, "sqs")
    dlq = stack_parameter(ssm, "alarmed", "dlq")
    sqs.send_message(QueueUrl=dlq, MessageBody="{}")
    result = ok(stack("alarmed", "delete"))
    assert f"Kept the queue {dlq}: 1 change not yet recorded" in result.stdout
    assert dlq in sqs.list_queues()["QueueUrls"]
    sqs.delete_queue(QueueUrl=dlq)
