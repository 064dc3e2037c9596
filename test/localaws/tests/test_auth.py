"""SigV4 verification: real clients are accepted, wrong ones refused as AWS does."""
import http.client
import urllib.parse

import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import CliError


def error_of(excinfo):
    return excinfo.value.response["Error"]


def status(excinfo):
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


CALLS = {
    "s3": lambda c: c.list_buckets(),
    "ssm": lambda c: c.describe_parameters(),
    "sts": lambda c: c.get_caller_identity(),
}

# (service, kind of bad credential) -> (HTTP status, AWS error code)
REFUSALS = [
    ("s3", "wrong secret", 403, "SignatureDoesNotMatch"),
    ("ssm", "wrong secret", 400, "InvalidSignatureException"),
    ("sts", "wrong secret", 403, "SignatureDoesNotMatch"),
    ("s3", "unknown key", 403, "InvalidAccessKeyId"),
    ("ssm", "unknown key", 400, "UnrecognizedClientException"),
    ("sts", "unknown key", 403, "InvalidClientTokenId"),
]


@pytest.mark.parametrize("service, kind, http_status, code", REFUSALS)
def test_boto3_with_bad_credentials_is_refused(client, service, kind, http_status, code):
    overrides = {"aws_secret_access_key": "wrong"} if kind == "wrong secret" else \
        {"aws_access_key_id": "AKIDUNKNOWN"}
    with pytest.raises(ClientError) as excinfo:
        CALLS[service](client(service, **overrides))
    assert (status(excinfo), error_of(excinfo)["Code"]) == (http_status, code)


@pytest.mark.parametrize("service", sorted(CALLS))
def test_boto3_with_good_credentials_is_accepted(client, service):
    CALLS[service](client(service))


@pytest.mark.parametrize("args, code", [
    (["s3api", "list-buckets"], "SignatureDoesNotMatch"),
    (["ssm", "describe-parameters"], "InvalidSignatureException"),
    (["sts", "get-caller-identity"], "SignatureDoesNotMatch"),
])
def test_awscli_with_a_wrong_secret_is_refused(aws, args, code):
    with pytest.raises(CliError) as excinfo:
        aws(*args, env={"AWS_SECRET_ACCESS_KEY": "wrong"})
    assert f"({code})" in excinfo.value.stderr


def test_s3_signature_mismatch_shows_the_canonical_request(client):
    with pytest.raises(ClientError) as excinfo:
        client("s3", aws_secret_access_key="wrong").list_buckets()
    error = error_of(excinfo)
    assert error["CanonicalRequest"].startswith("GET\n/\n")
    assert error["StringToSign"].startswith("AWS4-HMAC-SHA256\n")
    assert error["AWSAccessKeyId"] == "test"


def test_other_credentials_from_the_environment_are_accepted(tmp_path):
    from conftest import LocalAws, make_client
    server = LocalAws(env={"LOCALAWS_CREDENTIALS": "AKIAONE:secret1,AKIATWO:secret2",
                           "LOCALAWS_ACCOUNT": "123456789012"})
    try:
        sts = make_client(server.endpoint, "sts", aws_access_key_id="AKIATWO",
                          aws_secret_access_key="secret2")
        assert sts.get_caller_identity()["Account"] == "123456789012"
        with pytest.raises(ClientError):
            make_client(server.endpoint, "sts").get_caller_identity()
    finally:
        server.stop()


@pytest.mark.parametrize("offset, service, code", [
    (20 * 60, "s3", "RequestTimeTooSkewed"),
    (-20 * 60, "s3", "RequestTimeTooSkewed"),
    (20 * 60, "ssm", "InvalidSignatureException"),
    (20 * 60, "sts", "SignatureDoesNotMatch"),
])
def test_clock_skew_over_15_minutes_is_refused(client, clean_control, offset, service, code):
    clean_control.post("clock", {"offset": offset})
    with pytest.raises(ClientError) as excinfo:
        CALLS[service](client(service))
    error = error_of(excinfo)
    assert error["Code"] == code
    if service != "s3":
        assert error["Message"].startswith(
            "Signature expired" if offset > 0 else "Signature not yet current")


def test_skew_under_15_minutes_is_accepted(client, clean_control):
    clean_control.post("clock", {"offset": 14 * 60})
    CALLS["s3"](client("s3"))


def send(endpoint, method, path, headers, body):
    url = urllib.parse.urlsplit(endpoint)
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def signed(endpoint, service, method, path, body=b"", headers=None, signer=SigV4Auth):
    """Headers of a request signed by botocore (test:test, us-east-1)."""
    request = AWSRequest(method=method, url=endpoint + path, data=body, headers=headers or {})
    signer(Credentials("test", "test"), service, "us-east-1").add_auth(request)
    return dict(request.headers.items())


def test_s3_body_not_matching_x_amz_content_sha256_is_refused(endpoint, s3, unique):
    name = unique("sha")
    s3.create_bucket(Bucket=name)
    headers = signed(endpoint, "s3", "PUT", f"/{name}/k", b"signed body", signer=S3SigV4Auth)
    code, body = send(endpoint, "PUT", f"/{name}/k", headers, b"other body!")
    assert code == 400 and b"<Code>XAmzContentSHA256Mismatch</Code>" in body
    headers = signed(endpoint, "s3", "PUT", f"/{name}/k", b"signed body", signer=S3SigV4Auth)
    assert send(endpoint, "PUT", f"/{name}/k", headers, b"signed body")[0] == 200


def test_s3_unsigned_payload_is_accepted(endpoint, s3, unique):
    name = unique("unsigned")
    s3.create_bucket(Bucket=name)
    headers = signed(endpoint, "s3", "PUT", f"/{name}/k", b"data", signer=_UnsignedPayloadSigner)
    assert headers["X-Amz-Content-SHA256"] == "UNSIGNED-PAYLOAD"
    assert send(endpoint, "PUT", f"/{name}/k", headers, b"data")[0] == 200
    assert s3.get_object(Bucket=name, Key="k")["Body"].read() == b"data"


class _UnsignedPayloadSigner(S3SigV4Auth):
    def payload(self, request):
        return "UNSIGNED-PAYLOAD"


def test_signed_user_agent_header_is_verified_too(endpoint):
    """botocore never signs User-Agent; another client may, and AWS checks it."""
    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    headers = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "ssmbak/1"}
    request = AWSRequest(method="POST", url=endpoint + "/", data=body, headers=headers)
    signer = SigV4Auth(Credentials("test", "test"), "sts", "us-east-1")
    signer.headers_to_sign = lambda req: _all_headers(req)
    signer.add_auth(request)
    sent = dict(request.headers.items())
    assert "user-agent" in sent["Authorization"]
    assert send(endpoint, "POST", "/", sent, body)[0] == 200
    sent["User-Agent"] = "tampered/1"
    assert send(endpoint, "POST", "/", sent, body)[0] == 403


def _all_headers(request):
    from botocore.awsrequest import HTTPHeaders
    headers = HTTPHeaders()
    for name, value in request.headers.items():
        headers[name.lower()] = value
    headers["host"] = request.url.split("/")[2]
    return headers


@pytest.mark.parametrize("service, path, headers, body, http_status, code", [
    ("s3", "/", {}, b"", 403, b"<Code>AccessDenied</Code>"),
    ("ssm", "/", {"X-Amz-Target": "AmazonSSM.DescribeParameters",
                  "Content-Type": "application/x-amz-json-1.1"}, b"{}",
     400, b"MissingAuthenticationTokenException"),
    ("sts", "/", {"Content-Type": "application/x-www-form-urlencoded"},
     b"Action=GetCallerIdentity&Version=2011-06-15", 403, b"<Code>MissingAuthenticationToken</Code>"),
])
def test_missing_authorization(endpoint, service, path, headers, body, http_status, code):
    got_status, got_body = send(endpoint, "POST" if body else "GET", path, headers, body)
    assert got_status == http_status and code in got_body


def test_tampered_ssm_body_is_refused(endpoint):
    headers = {"X-Amz-Target": "AmazonSSM.DescribeParameters",
               "Content-Type": "application/x-amz-json-1.1"}
    sent = signed(endpoint, "ssm", "POST", "/", b"{}", headers)
    assert send(endpoint, "POST", "/", sent, b"{}")[0] == 200
    code, body = send(endpoint, "POST", "/", sent, b'{"MaxResults": 1}')
    assert code == 400 and b"InvalidSignatureException" in body


def test_request_signed_for_another_service_is_refused(endpoint):
    headers = {"X-Amz-Target": "AmazonSSM.DescribeParameters",
               "Content-Type": "application/x-amz-json-1.1"}
    sent = signed(endpoint, "s3", "POST", "/", b"{}", headers)
    code, body = send(endpoint, "POST", "/", sent, b"{}")
    assert code == 400 and b"Credential should be scoped to correct service" in body


def test_keys_with_reserved_characters_are_signed_on_the_raw_path(endpoint, s3, unique):
    """The canonical URI for S3 is the path as sent: no normalisation."""
    name = unique("raw")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="/./a/../b//c", Body=b"x")
    assert s3.get_object(Bucket=name, Key="/./a/../b//c")["Body"].read() == b"x"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=name)["Contents"]] == ["/./a/../b//c"]
