"""HTTP/1.1 framing: keep-alive with exact lengths, 100-continue, chunked bodies."""
import http.client
import urllib.parse

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


def sign_s3(endpoint, method, path, body=b"", headers=None):
    request = AWSRequest(method=method, url=endpoint + path, data=body, headers=headers or {})
    S3SigV4Auth(Credentials("test", "test"), "s3", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def connect(endpoint):
    url = urllib.parse.urlsplit(endpoint)
    return http.client.HTTPConnection(url.hostname, url.port, timeout=10)


def test_one_connection_carries_many_exchanges(endpoint, s3, bucket):
    """Bodies, HEAD, 204 and errors all keep the connection in step."""
    s3.put_object(Bucket=bucket, Key="k", Body=b"0123456789")
    connection = connect(endpoint)
    try:
        exchanges = [("GET", f"/{bucket}/k", 200, b"0123456789"),
                     ("HEAD", f"/{bucket}/k", 200, b""),
                     ("GET", f"/{bucket}/missing", 404, None),
                     ("HEAD", f"/{bucket}/missing", 404, b""),
                     ("DELETE", f"/{bucket}/gone", 204, b""),
                     ("GET", f"/{bucket}/k", 200, b"0123456789")]
        for method, path, expected_status, expected_body in exchanges:
            connection.request(method, path, headers=sign_s3(endpoint, method, path))
            response = connection.getresponse()
            body = response.read()
            assert response.status == expected_status, (method, path)
            if expected_body is not None:
                assert body == expected_body, (method, path)
            if method == "HEAD" and expected_status == 200:
                assert response.getheader("Content-Length") == "10"
            assert response.getheader("x-amz-request-id")
        assert connection.sock is not None   # never closed by the server
    finally:
        connection.close()


def test_expect_100_continue_upload(s3, bucket):
    """botocore sends large S3 uploads with Expect: 100-continue."""
    body = bytes(range(256)) * 8192   # 2 MiB
    s3.put_object(Bucket=bucket, Key="big", Body=body)
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == body


def test_chunked_transfer_encoding_request_body(endpoint, s3, bucket):
    body = b"chunked payload"
    headers = sign_s3(endpoint, "PUT", f"/{bucket}/chunked", body)
    connection = connect(endpoint)
    try:
        connection.putrequest("PUT", f"/{bucket}/chunked", skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders()
        for piece in (body[:5], body[5:]):
            connection.send(b"%x\r\n%s\r\n" % (len(piece), piece))
        connection.send(b"0\r\n\r\n")
        assert connection.getresponse().status == 200
    finally:
        connection.close()
    assert s3.get_object(Bucket=bucket, Key="chunked")["Body"].read() == body


def test_aws_chunked_streaming_upload(endpoint, s3, bucket):
    """STREAMING-UNSIGNED-PAYLOAD-TRAILER bodies are decoded (aws-chunked)."""
    payload = b"streamed value"
    encoded = b"%x\r\n%s\r\n0\r\n\r\n" % (len(payload), payload)
    headers = {"X-Amz-Content-SHA256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
               "Content-Encoding": "aws-chunked",
               "X-Amz-Decoded-Content-Length": str(len(payload))}
    request = AWSRequest(method="PUT", url=f"{endpoint}/{bucket}/stream", data=encoded, headers=headers)
    signer = S3SigV4Auth(Credentials("test", "test"), "s3", "us-east-1")
    signer.payload = lambda req: "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    signer.add_auth(request)
    connection = connect(endpoint)
    try:
        connection.request("PUT", f"/{bucket}/stream", body=encoded, headers=dict(request.headers.items()))
        assert connection.getresponse().status == 200
    finally:
        connection.close()
    got = s3.get_object(Bucket=bucket, Key="stream")
    assert got["Body"].read() == payload
    assert "ContentEncoding" not in got
