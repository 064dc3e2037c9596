"""S3 conditional writes: PutObject with If-None-Match or If-Match.

https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
and API_PutObject.html (IfMatch, IfNoneMatch):
- If-None-Match: * uploads "only if the object key name does not already
  exist in the bucket specified. Otherwise, Amazon S3 returns a 412
  Precondition Failed error"; a key whose current version is a delete
  marker does not exist, so it may be written again.
- If-Match: ETAG uploads only if the ETag matches: 412 when it does not,
  404 NoSuchKey when there is no current object (or it is a delete marker).
- "If a conflicting operation occurs during the upload S3 returns a 409
  ConditionalRequestConflict response. On a 409 failure you should retry".
- If-None-Match with a value other than *, or both headers at once: 501
  NotImplemented (https://github.com/versity/versitygw/issues/1708, as S3).
This Debian botocore predates the IfNoneMatch/IfMatch members, so the
headers go in through botocore's before-sign event, signed like any other.
"""
import http.client
import urllib.parse

import pytest
from botocore.auth import S3SigV4Auth
from botocore.exceptions import ClientError

from test_auth import signed


@pytest.fixture
def s3(client):
    return client("s3")


def bucket_named(s3, unique, versioning):
    name = unique("cw")
    s3.create_bucket(Bucket=name)
    if versioning:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        if versioning == "Suspended":
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Suspended"})
    return name


def put(s3, bucket, key, body, **conditions):
    """PutObject with If-None-Match / If-Match headers; the response."""
    def add(request, **_):
        for name, value in conditions.items():
            del request.headers[name.replace("_", "-")]
            request.headers[name.replace("_", "-")] = value
    s3.meta.events.register("before-sign.s3.PutObject", add)
    try:
        return s3.put_object(Bucket=bucket, Key=key, Body=body)
    finally:
        s3.meta.events.unregister("before-sign.s3.PutObject", add)


def error_of(call):
    with pytest.raises(ClientError) as raised:
        call()
    return (raised.value.response["ResponseMetadata"]["HTTPStatusCode"],
            raised.value.response["Error"]["Code"], raised.value.response["Error"])


BUCKETS = [None, "Enabled", "Suspended"]


@pytest.mark.parametrize("versioning", BUCKETS)
def test_if_none_match_creates_once(s3, unique, versioning):
    bucket = bucket_named(s3, unique, versioning)
    put(s3, bucket, "lock", b"first", If_None_Match="*")
    status, code, err = error_of(lambda: put(s3, bucket, "lock", b"second", If_None_Match="*"))
    assert (status, code) == (412, "PreconditionFailed")
    assert err.get("Condition") == "If-None-Match"
    assert s3.get_object(Bucket=bucket, Key="lock")["Body"].read() == b"first"


@pytest.mark.parametrize("versioning", BUCKETS)
def test_if_none_match_after_a_delete_writes_again(s3, unique, versioning):
    bucket = bucket_named(s3, unique, versioning)
    put(s3, bucket, "lock", b"first", If_None_Match="*")
    s3.delete_object(Bucket=bucket, Key="lock")
    put(s3, bucket, "lock", b"again", If_None_Match="*")
    assert s3.get_object(Bucket=bucket, Key="lock")["Body"].read() == b"again"


@pytest.mark.parametrize("versioning", BUCKETS)
def test_if_match_replaces_only_the_version_it_names(s3, unique, versioning):
    bucket = bucket_named(s3, unique, versioning)
    etag = s3.put_object(Bucket=bucket, Key="lease", Body=b"one")["ETag"]
    second = put(s3, bucket, "lease", b"two", If_Match=etag)["ETag"]
    status, code, err = error_of(lambda: put(s3, bucket, "lease", b"three", If_Match=etag))
    assert (status, code) == (412, "PreconditionFailed")
    assert err.get("Condition") == "If-Match"
    # The ETag with or without its quotes.
    put(s3, bucket, "lease", b"three", If_Match=second.strip('"'))
    assert s3.get_object(Bucket=bucket, Key="lease")["Body"].read() == b"three"


@pytest.mark.parametrize("versioning", BUCKETS)
def test_if_match_on_a_missing_or_deleted_key_is_no_such_key(s3, unique, versioning):
    bucket = bucket_named(s3, unique, versioning)
    status, code, _ = error_of(lambda: put(s3, bucket, "never", b"x", If_Match='"abc"'))
    assert (status, code) == (404, "NoSuchKey")
    etag = s3.put_object(Bucket=bucket, Key="gone", Body=b"x")["ETag"]
    s3.delete_object(Bucket=bucket, Key="gone")
    status, code, _ = error_of(lambda: put(s3, bucket, "gone", b"y", If_Match=etag))
    assert (status, code) == (404, "NoSuchKey")


def test_unsupported_condition_forms_are_not_implemented(s3, unique):
    bucket = bucket_named(s3, unique, "Enabled")
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["ETag"]
    status, code, _ = error_of(lambda: put(s3, bucket, "k", b"y", If_None_Match=etag))
    assert (status, code) == (501, "NotImplemented")
    status, code, _ = error_of(lambda: put(s3, bucket, "k", b"y", If_None_Match="*",
                                           If_Match=etag))
    assert (status, code) == (501, "NotImplemented")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"x"


def test_a_write_completed_during_the_upload_is_a_conflict(s3, unique, endpoint):
    """The conditional PUT's head arrives, then, before its body is
    complete, another client writes the key: 409, and the other write
    stands."""
    bucket = bucket_named(s3, unique, "Enabled")
    body = b"conditional body"
    path = f"/{bucket}/lock"
    headers = signed(endpoint, "s3", "PUT", path, body, {"If-None-Match": "*"},
                     signer=S3SigV4Auth)
    url = urllib.parse.urlsplit(endpoint)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        connection.putrequest("PUT", path, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders()
        connection.send(body[:4])
        s3.put_object(Bucket=bucket, Key="lock", Body=b"the other writer")
        connection.send(body[4:])
        response = connection.getresponse()
        status, answer = response.status, response.read()
    finally:
        connection.close()
    assert status == 409 and b"<Code>ConditionalRequestConflict</Code>" in answer
    assert s3.get_object(Bucket=bucket, Key="lock")["Body"].read() == b"the other writer"
