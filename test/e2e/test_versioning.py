"""Every command that reads or writes the bucket's history checks first
that the bucket keeps versions (issue 14, "Versioning is checked"): on a
bucket whose versioning was never enabled, or is Suspended, a recorded
delete would remove the only copy and a restore would answer from nothing.
That is a configuration error: one line naming the bucket and the fix,
exit 3, and nothing written anywhere.
https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketVersioning.html
"""
import subprocess
import uuid

import pytest

from runtime_api import RuntimeApi

FIX = "aws s3api put-bucket-versioning --bucket {bucket} --versioning-configuration Status=Enabled"

COMMANDS = [
    ("preview", ["preview", "{prefix}/", "now"]),
    ("restore", ["restore", "{prefix}/", "now"]),
    ("backfill", ["backfill", "{prefix}/", "-R", "--do-it"]),
    ("reindex", ["reindex", "{prefix}/", "-R"]),
]


@pytest.fixture(params=["never", "Suspended"])
def misconfigured(request, s3):
    """A bucket with versioning never enabled, or enabled then suspended."""
    name = f"ssmbak-unversioned-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    if request.param == "Suspended":
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Suspended"})
    return name, request.param


def objects(s3, bucket):
    listing = s3.list_object_versions(Bucket=bucket)
    return listing.get("Versions", []) + listing.get("DeleteMarkers", [])


@pytest.mark.parametrize("name,argv", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_command_refuses_a_bucket_without_versioning(run, ssm, s3, prefix, misconfigured,
                                                     name, argv):
    bucket, state = misconfigured
    ssm.put_parameter(Name=f"{prefix}/a", Value="now", Type="String")
    args = [a.format(prefix=prefix) for a in argv] + ["-b", bucket]
    out = run(*args)
    assert out.returncode == 3, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert bucket in lines[0]
    assert ("Suspended" if state == "Suspended" else "not enabled") in lines[0]
    assert FIX.format(bucket=bucket) in lines[0]
    assert out.stdout == ""
    assert objects(s3, bucket) == []
    assert ssm.get_parameter(Name=f"{prefix}/a")["Parameter"]["Value"] == "now"


def test_enabled_bucket_passes_the_check(run, ssm, bucket, prefix):
    ssm.put_parameter(Name=f"{prefix}/a", Value="v", Type="String")
    assert run("backfill", prefix + "/", "-R", "--do-it", "-b", bucket).returncode == 0
    assert run("preview", f"{prefix}/", "now", "-b", bucket).returncode == 0


def test_lambda_reports_an_unversioned_bucket_as_init_error(ssmbak_bin, env, misconfigured):
    """The function fails its init through the Runtime API, so Lambda
    retries nothing into the bucket and the queue's messages end in the
    dead-letter queue, whose alarm fires."""
    bucket, state = misconfigured
    api = RuntimeApi()
    try:
        out = subprocess.run([ssmbak_bin, "backup-lambda"], capture_output=True, text=True,
                             env={**env, "AWS_LAMBDA_RUNTIME_API": api.address,
                                  "SSMBAK_BUCKET": bucket}, timeout=30)
    finally:
        api.stop()
    assert out.returncode == 3, out.stderr
    assert api.init_error["errorType"] == "Runtime.ConfigurationError"
    message = api.init_error["errorMessage"]
    assert bucket in message and FIX.format(bucket=bucket) in message
    assert ("Suspended" if state == "Suspended" else "not enabled") in message
