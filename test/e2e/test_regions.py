"""Other regions and accounts (issue 19): a bucket in another region than
SSM is found from S3's own answer and used there; restore and preview
write and read SSM of --target-region / --target-profile."""
import importlib.util
import json
import pathlib
import time
import uuid

import boto3
import pytest


def _e2e_conftest():
    """This directory's conftest by path (test_stack.py says why)."""
    path = pathlib.Path(__file__).with_name("conftest.py")
    spec = importlib.util.spec_from_file_location("ssmbak_e2e_conftest", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_conftest = _e2e_conftest()
REGION, LocalAws = _conftest.REGION, _conftest.LocalAws


def west_bucket(aws, region="eu-west-1"):
    """A versioned bucket in another region than SSM's."""
    s3 = boto3.client("s3", endpoint_url=aws.endpoint, region_name=region,
                      aws_access_key_id="test", aws_secret_access_key="test")
    name = f"ssmbak-{region}-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def ok(result):
    assert result.returncode == 0, result.stderr
    return result


def test_a_bucket_in_another_region_is_found_and_used(aws, run, ssm, prefix):
    bucket = west_bucket(aws)
    name = f"{prefix}/db/url"
    ssm.put_parameter(Name=name, Value="postgres://before", Type="String")
    backfill = ok(run("backfill", "-b", bucket, prefix + "/", "-R", "--do-it", "-v"))
    assert f"bucket {bucket} is in region eu-west-1, not {REGION}" in backfill.stderr
    between = int(time.time()) + 1
    time.sleep(between + 1.05 - time.time())
    ssm.put_parameter(Name=name, Value="postgres://after", Type="String", Overwrite=True)
    ok(run("backfill", "-b", bucket, prefix + "/", "-R", "--do-it"))

    preview = ok(run("preview", f"{prefix}/", f"@{between}", "-R", "-b", bucket, "-v"))
    assert "postgres://before" in preview.stdout
    assert "x-amz-bucket-region" in preview.stderr and "eu-west-1" in preview.stderr
    ok(run("restore", f"{prefix}/", f"@{between}", "-R", "-b", bucket))
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "postgres://before"
    exported = ok(run("export", f"{prefix}/", f"@{between}", "-R", "-b", bucket,
                      "--format", "json"))
    assert "postgres://before" in exported.stdout
    # restore's own write has no Lambda behind it here: verify finds it
    # missing, --repair records it, in the bucket's region.
    assert "1 missed versions" in run("verify", f"{prefix}/", "-R", "-b", bucket).stderr
    run("verify", f"{prefix}/", "-R", "-b", bucket, "--repair")
    ok(run("verify", f"{prefix}/", "-R", "-b", bucket))


def test_the_region_is_learned_once_a_run(aws, run, ssm, prefix):
    bucket = west_bucket(aws)
    for i in range(5):
        ssm.put_parameter(Name=f"{prefix}/k{i}", Value=f"v{i}", Type="String")
    ok(run("backfill", "-b", bucket, prefix + "/", "-R", "--do-it"))
    aws.reset_counters()
    ok(run("preview", f"{prefix}/", "now", "-R", "-b", bucket))
    # One refused request (the first), then every request in eu-west-1.
    s3 = aws.counters()["s3"]
    assert s3["GetBucketVersioning"] == 2, s3


def test_a_bucket_in_the_ssm_region_costs_no_request_more(aws, run, ssm, s3, bucket, prefix):
    """The common case: no HeadBucket, no second try; -v still names the
    bucket's region."""
    ssm.put_parameter(Name=f"{prefix}/k", Value="v", Type="String")
    ok(run("backfill", "-b", bucket, prefix + "/", "-R", "--do-it"))
    aws.reset_counters()
    ok(run("preview", f"{prefix}/", "now", "-R", "-b", bucket))
    counters = aws.counters()["s3"]
    assert counters["GetBucketVersioning"] == 1 and "HeadBucket" not in counters, counters
    shown = ok(run("preview", f"{prefix}/", "now", "-R", "-b", bucket, "-v")).stderr
    assert f"bucket {bucket}: region {REGION} (the region from AWS_REGION" in shown


# --- restore into another region or account --------------------------------

def ssm_in(endpoint, region, key="test", secret="test"):
    return boto3.client("ssm", endpoint_url=endpoint, region_name=region,
                        aws_access_key_id=key, aws_secret_access_key=secret)


def recorded_at_between(run, ssm, bucket, name, *where):
    """name backed up as "before", then changed to "after"; the time between."""
    ssm.put_parameter(Name=name, Value="before", Type="String")
    ok(run("backfill", "-b", bucket, name, "--do-it", *where))
    between = int(time.time()) + 1
    time.sleep(between + 1.05 - time.time())
    ssm.put_parameter(Name=name, Value="after", Type="String", Overwrite=True)
    ok(run("backfill", "-b", bucket, name, "--do-it", *where))
    return between


def lease_entries(s3, bucket):
    """Every entry any version of the restore lease table ever held."""
    entries = []
    for v in s3.list_object_versions(Bucket=bucket, Prefix=".ssmbak/leases/").get("Versions", []):
        body = s3.get_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])["Body"].read()
        entries += json.loads(body)["leases"]
    return entries


def test_restore_into_another_region(aws, run, prefix):
    bucket = west_bucket(aws)
    west, east2 = ssm_in(aws.endpoint, "eu-west-1"), ssm_in(aws.endpoint, "us-east-2")
    name = f"{prefix}/db/url"
    between = recorded_at_between(run, west, bucket, name, "-r", "eu-west-1")
    where = ("-R", "-b", bucket, "-r", "eu-west-1", "--target-region", "us-east-2")

    preview = ok(run("preview", f"{prefix}/", f"@{between}", *where, "--output", "json", "-v"))
    rows = json.loads(preview.stdout)
    # us-east-2 has no such parameter yet: restore would create it there.
    assert [(r["name"], r["action"]) for r in rows] == [(name, "create")], rows
    assert "SSM: region us-east-2" in preview.stderr
    ok(run("restore", f"{prefix}/", f"@{between}", *where))
    assert east2.get_parameter(Name=name)["Parameter"]["Value"] == "before"
    assert west.get_parameter(Name=name)["Parameter"]["Value"] == "after"
    # The bucket's restore log says where the writes went.
    west_s3 = boto3.client("s3", endpoint_url=aws.endpoint, region_name="eu-west-1",
                           aws_access_key_id="test", aws_secret_access_key="test")
    assert [e.get("target_region") for e in lease_entries(west_s3, bucket)] == ["us-east-2"]


SECOND = "111111111111"


@pytest.fixture(scope="module")
def two_accounts():
    """A localaws of its own that knows a second account's root keys."""
    server = LocalAws(env={"LOCALAWS_CREDENTIALS": f"test:test,second:secret2:{SECOND}"})
    try:
        yield server
    finally:
        server.stop()


def test_restore_into_another_account_with_target_profile(two_accounts, run, env, prefix):
    endpoint = two_accounts.endpoint
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION,
                      aws_access_key_id="test", aws_secret_access_key="test")
    bucket = f"ssmbak-acct-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    home = env["HOME"]
    with open(f"{home}/config", "w") as f:
        f.write("[profile second]\nregion = us-east-1\n")
    with open(f"{home}/credentials", "w") as f:
        f.write("[second]\naws_access_key_id = second\naws_secret_access_key = secret2\n")
    mine, theirs = ssm_in(endpoint, REGION), ssm_in(endpoint, REGION, "second", "secret2")
    name = f"{prefix}/db/url"
    extra = {"AWS_ENDPOINT_URL": endpoint}

    def cmd(*args):
        return run(*args, env_extra=extra)
    between = recorded_at_between(cmd, mine, bucket, name)
    where = ("-R", "-b", bucket, "--target-profile", "second")
    preview = ok(cmd("preview", f"{prefix}/", f"@{between}", *where, "--output", "json"))
    assert [r["action"] for r in json.loads(preview.stdout)] == ["create"]
    ok(cmd("restore", f"{prefix}/", f"@{between}", *where))
    # Written in the second account, signed with its keys; ours untouched.
    written = theirs.get_parameter(Name=name)["Parameter"]
    assert written["Value"] == "before"
    desc = theirs.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [name]}])
    assert desc["Parameters"][0]["LastModifiedUser"] == f"arn:aws:iam::{SECOND}:root"
    assert mine.get_parameter(Name=name)["Parameter"]["Value"] == "after"
    holders = [e.get("target_holder") for e in lease_entries(s3, bucket)]
    assert holders == [f"arn:aws:iam::{SECOND}:root"], holders


@pytest.mark.parametrize("args, code, says", [
    (("--target-region", "Not_A_Region"), 2, "--target-region 'Not_A_Region' is not a region name"),
    (("--target-region", ""), 2, "--target-region '' is not a region name"),
    (("--target-profile", ""), 2, "--target-profile is empty"),
    (("--target-profile", "nosuch"), 3, "nosuch"),
])
@pytest.mark.parametrize("verb", ["preview", "restore"])
def test_bad_target_values_are_one_line_errors(run, bucket, verb, args, code, says):
    out = run(verb, "/app/", "now", "-b", bucket, *args)
    assert out.returncode == code, out.stderr
    assert says in out.stderr and out.stderr.count("\n") == 1, out.stderr


def test_a_regional_endpoint_of_another_region_is_told_apart(aws, run, prefix):
    """S3's 301 PermanentRedirect, from an S3 endpoint URL that names a
    region (curl resolves *.localhost to 127.0.0.1): the URL given is
    kept, as botocore keeps an endpoint_url, and the error says which
    region the bucket wants; that region's URL works."""
    bucket = west_bucket(aws)
    port = aws.endpoint.rsplit(":", 1)[1]
    wrong = run("preview", f"{prefix}/", "now", "-b", bucket,
                env_extra={"AWS_ENDPOINT_URL_S3": f"http://s3.us-east-1.localhost:{port}"})
    assert wrong.returncode == 1
    assert "PermanentRedirect" in wrong.stderr and "the bucket is in eu-west-1" in wrong.stderr
    assert wrong.stderr.count("\n") == 1, wrong.stderr
    right = run("preview", f"{prefix}/", "now", "-b", bucket, "-v",
                env_extra={"AWS_ENDPOINT_URL_S3": f"http://s3.eu-west-1.localhost:{port}"})
    assert right.returncode == 0, right.stderr
    assert "region eu-west-1 (from x-amz-bucket-region of S3's 400 answer" in right.stderr


def test_a_code_bucket_in_another_region_is_refused(aws, env):
    """Lambda takes its code only from a bucket of its own region: S3
    answering for the bucket from eu-west-1 makes it no code bucket."""
    import subprocess
    bucket = west_bucket(aws)
    # The stack uploads the static binary as the Lambda's code.
    out = subprocess.run([_conftest.built("build/ssmbak-static"), "stack", "demo", "create",
                          "--code-bucket", bucket], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 1, out.stderr
    assert f"the code bucket {bucket} is in region eu-west-1, not {REGION}" in out.stderr
    assert out.stderr.count("\n") == 1, out.stderr
