"""S3, path-style, driven with boto3 (and raw botocore where the point is
the wire format)."""
import base64
import datetime
import hashlib

import pytest
from botocore.exceptions import ClientError

TRICKY_KEYS = ["/app/db/url", "/a//b", "/x y/z+w", "/ünï/ç", "a%2Fb", "plain", "trailing/",
               "~tilde*'()!$&,;=@:", "//double-leading"]


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def status(excinfo):
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


# --- buckets ------------------------------------------------------------------

def test_bucket_lifecycle(s3, client, unique):
    name = unique("life")
    s3.create_bucket(Bucket=name)
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    head = s3.head_bucket(Bucket=name)
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "us-east-1"
    assert s3.get_bucket_versioning(Bucket=name).get("Status") is None
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
    s3.put_object(Bucket=name, Key="k", Body=b"x")
    with pytest.raises(ClientError) as excinfo:
        s3.delete_bucket(Bucket=name)
    assert error_code(excinfo) == "BucketNotEmpty"
    for version in s3.list_object_versions(Bucket=name).get("Versions", []):
        s3.delete_object(Bucket=name, Key=version["Key"], VersionId=version["VersionId"])
    s3.delete_bucket(Bucket=name)
    with pytest.raises(ClientError) as excinfo:
        s3.head_bucket(Bucket=name)
    assert status(excinfo) == 404


def test_create_bucket_region_rules(client, s3, unique):
    west = client("s3", region_name="eu-west-1")
    name = unique("west")
    west.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert west.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
    with pytest.raises(ClientError) as excinfo:
        west.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert error_code(excinfo) == "BucketAlreadyOwnedByYou"
    with pytest.raises(ClientError) as excinfo:
        west.create_bucket(Bucket=unique("west"))
    assert error_code(excinfo) == "IllegalLocationConstraintException"
    east = unique("east")
    s3.create_bucket(Bucket=east)
    s3.create_bucket(Bucket=east)   # us-east-1 legacy: re-creating your own bucket is a 200
    assert s3.get_bucket_location(Bucket=east).get("LocationConstraint") is None
    with pytest.raises(ClientError) as excinfo:
        s3.create_bucket(Bucket="Bad_Name")
    assert error_code(excinfo) == "InvalidBucketName"


def test_no_such_bucket(s3):
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket="no-such-bucket-anywhere", Key="k")
    assert error_code(excinfo) == "NoSuchBucket"


# --- objects --------------------------------------------------------------------

@pytest.mark.parametrize("key", TRICKY_KEYS)
def test_tricky_keys_round_trip(s3, bucket, key):
    body = key.encode() * 3
    put = s3.put_object(Bucket=bucket, Key=key, Body=body, Tagging="k=v")
    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == body
    assert got["VersionId"] == put["VersionId"]
    assert s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"] == [{"Key": "k", "Value": "v"}]
    listed = s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
    assert [v["Key"] for v in listed] == [key]
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=key)["Contents"]] == [key]


def test_put_get_head_carry_metadata_tags_and_headers(s3, bucket):
    body = b"payload"
    put = s3.put_object(Bucket=bucket, Key="obj", Body=body, ContentType="text/plain",
                        Metadata={"origin": "ssm", "Mixed-Case": "v"}, Tagging="a=1&b=two%20words",
                        ServerSideEncryption="AES256", CacheControl="no-cache")
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    assert put["ServerSideEncryption"] == "AES256"
    for response in (s3.get_object(Bucket=bucket, Key="obj"), s3.head_object(Bucket=bucket, Key="obj")):
        headers = response["ResponseMetadata"]["HTTPHeaders"]
        assert response["Metadata"] == {"origin": "ssm", "mixed-case": "v"}
        assert response["ContentType"] == "text/plain"
        assert response["ContentLength"] == len(body)
        assert response["ETag"] == put["ETag"]
        assert response["VersionId"] == put["VersionId"]
        assert response["CacheControl"] == "no-cache"
        assert headers["x-amz-tagging-count"] == "2"
        assert headers["last-modified"].endswith(" GMT")
        assert headers["x-amz-request-id"]
    tags = s3.get_object_tagging(Bucket=bucket, Key="obj")["TagSet"]
    assert tags == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "two words"}]


def test_versions_delete_markers_and_version_ids(s3, bucket):
    v1 = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="k", Body=b"two")["VersionId"]
    assert v1 != v2 and len(v1) == 32
    deleted = s3.delete_object(Bucket=bucket, Key="k")
    assert deleted["DeleteMarker"] is True
    marker = deleted["VersionId"]
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=bucket, Key="k")
    assert error_code(excinfo) == "NoSuchKey"
    headers = excinfo.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amz-delete-marker"] == "true" and headers["x-amz-version-id"] == marker
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=bucket, Key="k", VersionId=marker)
    assert status(excinfo) == 405 and error_code(excinfo) == "MethodNotAllowed"
    with pytest.raises(ClientError) as excinfo:
        s3.head_object(Bucket=bucket, Key="k", VersionId=marker)
    assert status(excinfo) == 405
    assert s3.get_object(Bucket=bucket, Key="k", VersionId=v1)["Body"].read() == b"one"
    listing = s3.list_object_versions(Bucket=bucket)
    assert [(v["VersionId"], v["IsLatest"]) for v in listing["Versions"]] == [(v2, False), (v1, False)]
    assert [(m["VersionId"], m["IsLatest"]) for m in listing["DeleteMarkers"]] == [(marker, True)]
    # Deleting the marker permanently brings v2 back.
    undeleted = s3.delete_object(Bucket=bucket, Key="k", VersionId=marker)
    assert undeleted["DeleteMarker"] is True and undeleted["VersionId"] == marker
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"
    s3.delete_object(Bucket=bucket, Key="k", VersionId=v2)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"one"
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=bucket, Key="k", VersionId=v2)
    assert error_code(excinfo) == "NoSuchVersion"
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=bucket, Key="k", VersionId="garbage")
    assert error_code(excinfo) == "InvalidArgument"


def test_unversioned_and_suspended_buckets_use_the_null_version(s3, unique):
    name = unique("plain")
    s3.create_bucket(Bucket=name)
    first = s3.put_object(Bucket=name, Key="k", Body=b"1")
    assert "VersionId" not in first
    s3.put_object(Bucket=name, Key="k", Body=b"2")
    versions = s3.list_object_versions(Bucket=name)["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [("null", True)]
    assert "DeleteMarker" not in s3.delete_object(Bucket=name, Key="k")
    assert "Versions" not in s3.list_object_versions(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    kept = s3.put_object(Bucket=name, Key="k", Body=b"v")["VersionId"]
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Suspended"})
    s3.put_object(Bucket=name, Key="k", Body=b"n1")
    s3.put_object(Bucket=name, Key="k", Body=b"n2")
    ids = [v["VersionId"] for v in s3.list_object_versions(Bucket=name)["Versions"]]
    assert ids == ["null", kept]
    assert s3.get_object(Bucket=name, Key="k", VersionId="null")["Body"].read() == b"n2"


def test_tagging_on_versions_and_delete_markers(s3, bucket):
    v1 = s3.put_object(Bucket=bucket, Key="t", Body=b"1", Tagging="gen=1")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="t", Body=b"2")["VersionId"]
    s3.put_object_tagging(Bucket=bucket, Key="t", VersionId=v1,
                          Tagging={"TagSet": [{"Key": "gen", "Value": "one"}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="t", VersionId=v1)["TagSet"] == [
        {"Key": "gen", "Value": "one"}]
    got = s3.get_object_tagging(Bucket=bucket, Key="t")
    assert got["TagSet"] == [] and got["VersionId"] == v2
    s3.delete_object_tagging(Bucket=bucket, Key="t", VersionId=v1)
    assert s3.get_object_tagging(Bucket=bucket, Key="t", VersionId=v1)["TagSet"] == []
    marker = s3.delete_object(Bucket=bucket, Key="t")["VersionId"]
    for kwargs in ({}, {"VersionId": marker}):
        with pytest.raises(ClientError) as excinfo:
            s3.get_object_tagging(Bucket=bucket, Key="t", **kwargs)
        assert status(excinfo) == 405 and error_code(excinfo) == "MethodNotAllowed"
    with pytest.raises(ClientError) as excinfo:
        s3.put_object_tagging(Bucket=bucket, Key="t", VersionId=marker,
                              Tagging={"TagSet": [{"Key": "a", "Value": "b"}]})
    assert status(excinfo) == 405


@pytest.mark.parametrize("tagging, code", [
    ("&".join(f"k{i}=v" for i in range(11)), "BadRequest"),
    ("k=v&k=w", "InvalidArgument"),
    ("k%23=v", "InvalidTag"),
    ("k=" + "v" * 257, "InvalidTag"),
    ("k" * 129 + "=v", "InvalidTag"),
    ("aws%3Ak=v", "InvalidTag"),
])
def test_tag_rules_on_put_object(s3, bucket, tagging, code):
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=bucket, Key="bad-tags", Body=b"x", Tagging=tagging)
    assert error_code(excinfo) == code


def test_tag_rules_on_put_object_tagging(s3, bucket):
    s3.put_object(Bucket=bucket, Key="tg", Body=b"x")
    ok = [{"Key": "ünïcode key +-=._:/@", "Value": "v" * 256}]
    s3.put_object_tagging(Bucket=bucket, Key="tg", Tagging={"TagSet": ok})
    assert s3.get_object_tagging(Bucket=bucket, Key="tg")["TagSet"] == ok
    for tag_set, code in [([{"Key": f"k{i}", "Value": ""} for i in range(11)], "BadRequest"),
                          ([{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}], "InvalidTag"),
                          ([{"Key": "a", "Value": "semi;colon"}], "InvalidTag")]:
        with pytest.raises(ClientError) as excinfo:
            s3.put_object_tagging(Bucket=bucket, Key="tg", Tagging={"TagSet": tag_set})
        assert error_code(excinfo) == code


def test_metadata_limit(s3, bucket):
    s3.put_object(Bucket=bucket, Key="m", Body=b"", Metadata={"a": "x" * 2000})
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=bucket, Key="m", Body=b"", Metadata={"a": "x" * 2048})
    assert error_code(excinfo) == "MetadataTooLarge"


def test_content_md5_is_checked(s3, bucket):
    good = base64.b64encode(hashlib.md5(b"body").digest()).decode()
    s3.put_object(Bucket=bucket, Key="md5", Body=b"body", ContentMD5=good)
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=bucket, Key="md5", Body=b"body", ContentMD5=wrong)
    assert error_code(excinfo) == "BadDigest"
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=bucket, Key="md5", Body=b"body", ContentMD5="bm90LW1kNQ==")
    assert error_code(excinfo) == "InvalidDigest"


def test_range_get(s3, bucket):
    s3.put_object(Bucket=bucket, Key="r", Body=b"0123456789")
    got = s3.get_object(Bucket=bucket, Key="r", Range="bytes=2-4")
    assert got["Body"].read() == b"234" and got["ContentRange"] == "bytes 2-4/10"
    assert s3.get_object(Bucket=bucket, Key="r", Range="bytes=-3")["Body"].read() == b"789"


def test_last_modified_is_whole_seconds_from_the_emulator_clock(s3, bucket, clean_control):
    """S3 keeps LastModified to the second: listings print `.000Z`
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html,
    response example), the Last-Modified header is RFC 1123."""
    clean_control.post("clock", {"fixed": "2024-06-13T01:54:26.750Z", "check_skew": False})
    s3.put_object(Bucket=bucket, Key="when", Body=b"x")
    second = datetime.datetime(2024, 6, 13, 1, 54, 26, tzinfo=datetime.timezone.utc)
    raw = []

    def keep_body(http_response, **kwargs):
        raw.append(http_response.content)

    for operation in ("ListObjectVersions", "ListObjectsV2", "ListObjects"):
        s3.meta.events.register(f"after-call.s3.{operation}", keep_body)
    try:
        assert s3.list_object_versions(Bucket=bucket, Prefix="when")["Versions"][0][
            "LastModified"] == second
        assert s3.list_objects_v2(Bucket=bucket, Prefix="when")["Contents"][0][
            "LastModified"] == second
        assert s3.list_objects(Bucket=bucket, Prefix="when")["Contents"][0][
            "LastModified"] == second
    finally:
        for operation in ("ListObjectVersions", "ListObjectsV2", "ListObjects"):
            s3.meta.events.unregister(f"after-call.s3.{operation}", keep_body)
    assert all(b"<LastModified>2024-06-13T01:54:26.000Z</LastModified>" in body for body in raw)
    for call in (s3.head_object, s3.get_object):
        answer = call(Bucket=bucket, Key="when")
        assert answer["LastModified"] == second
        assert answer["ResponseMetadata"]["HTTPHeaders"]["last-modified"] == \
            "Thu, 13 Jun 2024 01:54:26 GMT"


def test_delete_objects(s3, bucket):
    ids = {key: s3.put_object(Bucket=bucket, Key=key, Body=b"x")["VersionId"] for key in ("d1", "d2")}
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [
        {"Key": "d1"}, {"Key": "d2", "VersionId": ids["d2"]}]})
    deleted = {d["Key"]: d for d in result["Deleted"]}
    assert deleted["d1"]["DeleteMarker"] is True and deleted["d1"]["DeleteMarkerVersionId"]
    assert deleted["d2"]["VersionId"] == ids["d2"] and "DeleteMarker" not in deleted["d2"]
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Quiet": True, "Objects": [{"Key": "d1"}]})
    assert "Deleted" not in quiet
    versions = s3.list_object_versions(Bucket=bucket)
    assert [m["Key"] for m in versions["DeleteMarkers"]] == ["d1", "d1"]
    assert [v["Key"] for v in versions["Versions"]] == ["d1"]


# --- listings -----------------------------------------------------------------------

def load(control, bucket, objects):
    return control.post("s3/bulk", {"bucket": bucket, "objects": objects})["versions"]


def test_list_object_versions_pages_2500_versions_by_1000(s3, bucket, control):
    objects = [{"key": f"/app/k{i // 5:04d}", "body": f"v{i}", "tags": {"n": str(i)},
                "last_modified": 1700000000 + i} for i in range(2500)]
    for i in range(0, 2500, 7):
        objects[i]["delete_marker"] = True
    loaded = load(control, bucket, objects)
    first = s3.list_object_versions(Bucket=bucket)
    assert first["IsTruncated"] is True and first["MaxKeys"] == 1000
    assert len(first.get("Versions", [])) + len(first.get("DeleteMarkers", [])) == 1000
    assert first["NextKeyMarker"] and first["NextVersionIdMarker"]
    pages = list(s3.get_paginator("list_object_versions").paginate(Bucket=bucket))
    assert len(pages) == 3
    listed = []
    for page in pages:
        entries = page.get("Versions", []) + page.get("DeleteMarkers", [])
        entries.sort(key=lambda e: (e["Key"], -e["LastModified"].timestamp()))
        listed += entries
    # S3's order: keys ascending, each key's versions newest first.
    expected = []
    for index in range(500):
        expected += list(reversed(loaded[index * 5:index * 5 + 5]))
    assert [e["VersionId"] for e in listed] == [v["version_id"] for v in expected]
    latest = [e for e in listed if e["IsLatest"]]
    assert len(latest) == 500


def test_list_object_versions_pages_by_1000_with_prefix_and_delimiter(s3, bucket, control):
    objects = [{"key": f"/app/k{i // 5:04d}", "body": "x"} for i in range(2500)]
    objects += [{"key": f"/app/deep/{i}", "body": "x"} for i in range(30)]
    objects += [{"key": f"/other/{i}", "body": "x"} for i in range(30)]
    load(control, bucket, objects)
    pages = list(s3.get_paginator("list_object_versions").paginate(
        Bucket=bucket, Prefix="/app/", Delimiter="/"))
    assert [len(p.get("Versions", [])) + len(p.get("CommonPrefixes", [])) for p in pages] == \
        [1000, 1000, 501]
    assert [p["IsTruncated"] for p in pages] == [True, True, False]
    assert pages[0]["NextKeyMarker"] == pages[0]["Versions"][-1]["Key"]
    assert pages[0]["NextVersionIdMarker"] == pages[0]["Versions"][-1]["VersionId"]
    prefixes = [c["Prefix"] for p in pages for c in p.get("CommonPrefixes", [])]
    assert prefixes == ["/app/deep/"]
    keys = [v["Key"] for p in pages for v in p.get("Versions", [])]
    assert len(keys) == 2500 and set(keys) == {f"/app/k{i:04d}" for i in range(500)}


def test_list_object_versions_interleaves_markers_in_order(endpoint, s3, bucket, control):
    """The raw XML keeps Version and DeleteMarker entries in one ordered list."""
    load(control, bucket, [{"key": "a", "body": "1"}, {"key": "a", "delete_marker": True},
                           {"key": "a", "body": "2"}, {"key": "b", "delete_marker": True}])
    seen = []

    def keep_body(http_response, **kwargs):
        seen.append(http_response.content)

    s3.meta.events.register("after-call.s3.ListObjectVersions", keep_body)
    try:
        s3.list_object_versions(Bucket=bucket)
    finally:
        s3.meta.events.unregister("after-call.s3.ListObjectVersions", keep_body)
    xml = seen[0].decode()
    order = [chunk.split(">", 1)[0] for chunk in xml.split("<")[1:]
             if chunk.startswith(("Version>", "DeleteMarker>"))]
    assert order == ["Version", "DeleteMarker", "Version", "DeleteMarker"]


def test_list_object_versions_markers_prefix_and_delimiter(s3, bucket, control):
    keys = ["/app/a/1", "/app/a/2", "/app/b", "/app/c/1", "/other/x", "/app/d"]
    for key in keys:
        load(control, bucket, [{"key": key, "body": "1"}, {"key": key, "body": "2"}])
    top = s3.list_object_versions(Bucket=bucket, Prefix="/app/", Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["/app/a/", "/app/c/"]
    assert sorted({v["Key"] for v in top["Versions"]}) == ["/app/b", "/app/d"]
    # Page one entry at a time: a CommonPrefix counts as one entry.
    entries, key_marker, version_marker = [], None, None
    while True:
        kwargs = {"Bucket": bucket, "Prefix": "/app/", "Delimiter": "/", "MaxKeys": 1}
        if key_marker:
            kwargs["KeyMarker"] = key_marker
        if version_marker:
            kwargs["VersionIdMarker"] = version_marker
        page = s3.list_object_versions(**kwargs)
        entries += [p["Prefix"] for p in page.get("CommonPrefixes", [])]
        entries += [v["Key"] for v in page.get("Versions", [])]
        if not page["IsTruncated"]:
            break
        key_marker, version_marker = page["NextKeyMarker"], page.get("NextVersionIdMarker")
    assert entries == ["/app/a/", "/app/b", "/app/b", "/app/c/", "/app/d", "/app/d"]
    for markers in ({"VersionIdMarker": "null"}, {"KeyMarker": "/app/b", "VersionIdMarker": "bad"}):
        with pytest.raises(ClientError) as excinfo:
            s3.list_object_versions(Bucket=bucket, **markers)
        assert error_code(excinfo) == "InvalidArgument"


def test_list_object_versions_url_encoding(s3, bucket, control):
    load(control, bucket, [{"key": "/x y/z+w", "body": "1"}, {"key": "/ünï/ç", "body": "1"}])
    raw = s3.list_object_versions(Bucket=bucket, EncodingType="url", Delimiter="/", Prefix="/")
    assert raw["EncodingType"] == "url"
    assert [p["Prefix"] for p in raw["CommonPrefixes"]] == ["/x+y/", "/%C3%BCn%C3%AF/"]
    deep = s3.list_object_versions(Bucket=bucket, EncodingType="url", Prefix="/x y/")
    assert [v["Key"] for v in deep["Versions"]] == ["/x+y/z%2Bw"]


def test_list_objects_v2_pages_and_hides_deleted_keys(s3, bucket, control):
    objects = [{"key": f"p/{i:04d}", "body": "x"} for i in range(2100)]
    objects += [{"key": "p/0005", "delete_marker": True}, {"key": "q/1", "body": "x"}]
    load(control, bucket, objects)
    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="p/"))
    assert [page["KeyCount"] for page in pages] == [1000, 1000, 99]
    keys = [o["Key"] for page in pages for o in page["Contents"]]
    assert "p/0005" not in keys and len(keys) == 2099 and keys == sorted(keys)
    after = s3.list_objects_v2(Bucket=bucket, StartAfter="p/2097")
    assert [o["Key"] for o in after["Contents"]] == ["p/2098", "p/2099", "q/1"]
    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["p/", "q/"]
    assert top["KeyCount"] == 2
    v1 = s3.list_objects(Bucket=bucket, Prefix="q/")
    assert [o["Key"] for o in v1["Contents"]] == ["q/1"]


def test_max_keys_above_1000_is_capped(s3, bucket):
    s3.put_object(Bucket=bucket, Key="one", Body=b"")
    assert s3.list_object_versions(Bucket=bucket, MaxKeys=5000)["MaxKeys"] == 1000


def test_a_bucket_answers_only_its_own_region(endpoint, client, unique, control):
    name = unique("region")
    west = client("s3", region_name="eu-west-1")
    west.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    west.put_object(Bucket=name, Key="k", Body=b"x")
    # boto3 signed for us-east-1 is told the right region and retries there.
    control.delete("counters")
    assert client("s3").get_object(Bucket=name, Key="k")["Body"].read() == b"x"
    assert control.get("counters")["s3"]["GetObject"] == 2
    from test_auth import send, signed
    from botocore.auth import S3SigV4Auth
    headers = signed(endpoint, "s3", "GET", f"/{name}/k", signer=S3SigV4Auth)
    status_code, body = send(endpoint, "GET", f"/{name}/k", headers, b"")
    assert status_code == 400 and b"<Region>eu-west-1</Region>" in body
    assert b"<Code>AuthorizationHeaderMalformed</Code>" in body


def test_a_request_sent_to_another_regions_endpoint_is_redirected(endpoint, client, unique):
    """S3's 301 PermanentRedirect: the bucket's region in x-amz-bucket-region,
    its endpoint in the body; a HEAD gets the bare 301 with the header."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    import http.client
    import urllib.parse
    name = unique("moved")
    client("s3", region_name="eu-west-1").create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    port = urllib.parse.urlsplit(endpoint).port
    for method, path in (("GET", f"/{name}?versioning"), ("HEAD", f"/{name}")):
        host = f"s3.us-east-1.amazonaws.com:{port}"
        request = AWSRequest(method=method, url=f"http://{host}{path}", headers={"Host": host})
        S3SigV4Auth(Credentials("test", "test"), "s3", "us-east-1").add_auth(request)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.request(method, path, headers=dict(request.headers.items()))
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        assert response.status == 301, (method, body)
        assert response.getheader("x-amz-bucket-region") == "eu-west-1"
        if method == "GET":
            assert b"<Code>PermanentRedirect</Code>" in body
            assert b"<Endpoint>s3.eu-west-1.amazonaws.com</Endpoint>" in body
            assert f"<Bucket>{name}</Bucket>".encode() in body
        else:
            assert body == b""


def regional(client_, port):
    """boto3 as it talks to AWS: each request to the signing region's own
    endpoint (the Host names it), here all on localaws's one port. Returns
    the HTTP statuses boto3 saw, in order."""
    seen = []

    def to_region(request, region_name, **_):
        # After a redirect botocore signs for the region in the request's
        # signing context, not the client's.
        region = request.context.get("signing", {}).get("region", region_name)
        request.headers["Host"] = f"s3.{region}.amazonaws.com:{port}"

    def note(response, **_):
        if response and response[0] is not None:
            seen.append(response[0].status_code)
    client_.meta.events.register("before-sign.s3", to_region)
    client_.meta.events.register("needs-retry.s3", note)
    return seen


def test_boto3_follows_the_permanent_redirect_to_the_buckets_region(endpoint, client, unique):
    import urllib.parse
    port = urllib.parse.urlsplit(endpoint).port
    name = unique("follow")
    west = client("s3", region_name="eu-west-1")
    west.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    west.put_object(Bucket=name, Key="k", Body=b"x")
    east = client("s3")
    seen = regional(east, port)
    assert east.get_object(Bucket=name, Key="k")["Body"].read() == b"x"
    # 301 at us-east-1's endpoint, then 200 at eu-west-1's: what boto3 does on AWS.
    assert seen == [301, 200], seen
    head = east.head_bucket(Bucket=name)
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "eu-west-1"


def test_boto3_head_bucket_learns_the_region_from_the_bare_400(client, unique):
    """Signed for the wrong region on one endpoint for all: HeadBucket's
    400 has no body, only x-amz-bucket-region, and boto3 retries there."""
    name = unique("headregion")
    client("s3", region_name="ap-south-1").create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": "ap-south-1"})
    head = client("s3").head_bucket(Bucket=name)
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "ap-south-1"
