"""GetBucketVersioning in each of a bucket's three states, as S3 answers
(https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketVersioning.html:
"If the versioning state has never been set on a bucket, it has no
versioning state; a GetBucketVersioning request does not return a
versioning state value"; once enabled a bucket is Enabled or Suspended,
never back to unversioned, per
https://docs.aws.amazon.com/AmazonS3/latest/userguide/Versioning.html)."""
import uuid

import pytest
import xml.etree.ElementTree as ET


@pytest.fixture
def s3(client):
    return client("s3")


def raw_versioning(s3, bucket):
    """The XML document itself, not boto3's reading of it."""
    captured = {}

    def keep(http_response, **_):
        captured["body"] = http_response.content
    s3.meta.events.register("after-call.s3.GetBucketVersioning",
                            lambda http_response, **kw: keep(http_response))
    s3.get_bucket_versioning(Bucket=bucket)
    return ET.fromstring(captured["body"])


def test_never_enabled_is_an_empty_configuration(s3):
    name = f"v-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    root = raw_versioning(s3, name)
    assert root.tag.endswith("VersioningConfiguration")
    assert list(root) == []
    assert "Status" not in s3.get_bucket_versioning(Bucket=name)


@pytest.mark.parametrize("states", [["Enabled"], ["Enabled", "Suspended"],
                                    ["Enabled", "Suspended", "Enabled"]])
def test_status_after_each_change(s3, states):
    name = f"v-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    for state in states:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": state})
    root = raw_versioning(s3, name)
    status = [child.text for child in root if child.tag.endswith("Status")]
    assert status == [states[-1]]
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == states[-1]
