"""Other regions and accounts (issue 19): a bucket in another region than
SSM is found from S3's own answer and used there; restore and preview
write and read SSM of --target-region / --target-profile."""
import time
import uuid

import boto3
import pytest

from conftest import REGION


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
    backfill = ok(run("backfill", "-b", bucket, "-p", prefix + "/", "--do-it", "-v"))
    assert f"bucket {bucket} is in region eu-west-1, not {REGION}" in backfill.stderr
    between = int(time.time()) + 1
    time.sleep(between + 1.05 - time.time())
    ssm.put_parameter(Name=name, Value="postgres://after", Type="String", Overwrite=True)
    ok(run("backfill", "-b", bucket, "-p", prefix + "/", "--do-it"))

    preview = ok(run("preview", f"{prefix}/", f"@{between}", "-R", "-b", bucket, "-v"))
    assert "postgres://before" in preview.stdout
    assert "x-amz-bucket-region" in preview.stderr and "eu-west-1" in preview.stderr
    ok(run("restore", f"{prefix}/", f"@{between}", "-R", "-b", bucket))
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "postgres://before"
    # restore's own write has no Lambda behind it here: verify finds it
    # missing, --repair records it, in the bucket's region.
    assert "1 missed versions" in run("verify", f"{prefix}/", "-R", "-b", bucket).stderr
    run("verify", f"{prefix}/", "-R", "-b", bucket, "--repair")
    ok(run("verify", f"{prefix}/", "-R", "-b", bucket))


def test_the_region_is_learned_once_a_run(aws, run, ssm, prefix):
    bucket = west_bucket(aws)
    for i in range(5):
        ssm.put_parameter(Name=f"{prefix}/k{i}", Value=f"v{i}", Type="String")
    ok(run("backfill", "-b", bucket, "-p", prefix + "/", "--do-it"))
    aws.reset_counters()
    ok(run("preview", f"{prefix}/", "now", "-R", "-b", bucket))
    # One refused request (the first), then every request in eu-west-1.
    s3 = aws.counters()["s3"]
    assert s3["GetBucketVersioning"] == 2, s3


def test_a_bucket_in_the_ssm_region_costs_no_request_more(aws, run, ssm, s3, bucket, prefix):
    ssm.put_parameter(Name=f"{prefix}/k", Value="v", Type="String")
    ok(run("backfill", "-b", bucket, "-p", prefix + "/", "--do-it"))
    aws.reset_counters()
    ok(run("preview", f"{prefix}/", "now", "-R", "-b", bucket))
    counters = aws.counters()["s3"]
    assert counters["GetBucketVersioning"] == 1 and "HeadBucket" not in counters, counters
