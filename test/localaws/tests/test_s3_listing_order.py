"""ListObjectVersions' order as S3 gives it, and the fault that lists it as
moto does; GetBucketAcl as S3 answers a new bucket."""
import xml.etree.ElementTree as ET

import pytest

from test_s3 import load

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def raw_pages(s3, **params):
    """Every page's entries in document order: (tag, key, version id, latest)."""
    pages = []

    def keep_body(http_response, **kwargs):
        root = ET.fromstring(http_response.content)
        pages.append([(child.tag[len(NS):], child.find(NS + "Key").text,
                       child.find(NS + "VersionId").text, child.find(NS + "IsLatest").text)
                      for child in root if child.tag in (NS + "Version", NS + "DeleteMarker")])

    s3.meta.events.register("after-call.s3.ListObjectVersions", keep_body)
    try:
        for _ in s3.get_paginator("list_object_versions").paginate(**params):
            pass
    finally:
        s3.meta.events.unregister("after-call.s3.ListObjectVersions", keep_body)
    return pages


@pytest.fixture
def history(s3, bucket, control):
    """Key a: put, delete, put, delete, put (newest); key b: put, delete."""
    loaded = load(control, bucket, [
        {"key": "a", "body": "1"}, {"key": "a", "delete_marker": True}, {"key": "a", "body": "2"},
        {"key": "a", "delete_marker": True}, {"key": "a", "body": "3"},
        {"key": "b", "body": "1"}, {"key": "b", "delete_marker": True}])
    return bucket, loaded


EXPECTED = [("Version", "a", "true"), ("DeleteMarker", "a", "false"), ("Version", "a", "false"),
            ("DeleteMarker", "a", "false"), ("Version", "a", "false"),
            ("DeleteMarker", "b", "true"), ("Version", "b", "false")]


def test_versions_and_markers_are_interleaved_newest_first(s3, history):
    """Each key's versions and delete markers in one list, newest first, as
    the S3 API reference's example shows and S3 does (aws/aws-sdk-java-v2#1620,
    aws/aws-sdk-go-v2#3164; MinIO changed to match in minio/minio#9959)."""
    bucket, loaded = history
    (page,) = raw_pages(s3, Bucket=bucket)
    assert [(tag, key, latest) for tag, key, _, latest in page] == EXPECTED
    ids = [vid for _, _, vid, _ in page]
    loaded = [v["version_id"] for v in loaded]
    assert ids == list(reversed(loaded[:5])) + list(reversed(loaded[5:]))


@pytest.mark.parametrize("page_size", [1, 2, 3])
def test_pages_split_a_key_history_where_the_markers_say(s3, history, page_size):
    bucket, _ = history
    pages = raw_pages(s3, Bucket=bucket, PaginationConfig={"PageSize": page_size})
    assert all(len(p) == page_size for p in pages[:-1])
    assert [(tag, key, latest) for page in pages for tag, key, _, latest in page] == EXPECTED


def test_markers_last_fault_lists_as_moto_does(s3, history, clean_control):
    bucket, _ = history
    clean_control.post("faults", {"service": "s3", "operation": "ListObjectVersions",
                                  "kind": "markers_last"})
    (page,) = raw_pages(s3, Bucket=bucket)
    assert [(tag, key) for tag, key, _, _ in page] == [
        ("Version", "a"), ("Version", "a"), ("Version", "a"), ("Version", "b"),
        ("DeleteMarker", "a"), ("DeleteMarker", "a"), ("DeleteMarker", "b")]
    # boto3 groups by element name, so it cannot tell
    listed = s3.list_object_versions(Bucket=bucket)
    assert len(listed["Versions"]) == 4 and len(listed["DeleteMarkers"]) == 3
    assert clean_control.get("faults")[0]["fired"] == 2


def test_get_bucket_acl_answers_the_owner_with_full_control(s3, bucket, aws):
    """https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketAcl.html"""
    acl = s3.get_bucket_acl(Bucket=bucket)
    owner = acl["Owner"]
    assert owner["ID"] and len(owner["ID"]) == 64
    assert acl["Grants"] == [{"Grantee": {"ID": owner["ID"], "DisplayName": owner["DisplayName"],
                                          "Type": "CanonicalUser"},
                              "Permission": "FULL_CONTROL"}]
    assert aws("s3api", "get-bucket-acl", "--bucket", bucket)["Grants"][0]["Permission"] == \
        "FULL_CONTROL"
