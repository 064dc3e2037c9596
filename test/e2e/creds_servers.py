"""Stand-ins for the two metadata services credentials come from, on
127.0.0.1 (localaws plays STS; these are not its job):

- Imds: EC2 instance metadata, IMDSv2 only (a GET without the session
  token from PUT /latest/api/token is refused, as on an instance with
  HttpTokens=required).
  https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-retrieval.html
- ContainerEndpoint: the ECS/EKS container credentials endpoint, checking
  the Authorization header when given a token.
  https://docs.aws.amazon.com/sdkref/latest/guide/feature-container-credentials.html

Both serve credentials from a callable, so each fetch can hand out new
ones, and record every request. Use as context managers: they stop what
they start.

temporary_credentials() gets real temporary credentials from localaws'
STS; every secret handed out is remembered in SECRETS so that tests can
check none is ever printed.
"""
import datetime
import http.server
import json
import secrets
import threading

import boto3

SECRETS = set()


def remember(*values):
    SECRETS.update(v for v in values if v)
    return values[0] if len(values) == 1 else values


def iso(moment):
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def in_seconds(seconds):
    """An ISO 8601 time `seconds` from now (negative: in the past)."""
    return iso(datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds))


def temporary_credentials(endpoint, role="arn:aws:iam::123456789012:role/fixture",
                          session="fixture", key="test", secret="test", expires_in=None):
    """AssumeRole at localaws: {AccessKeyId, SecretAccessKey, Token, Expiration}.
    expires_in overrides the Expiration announced (not the real one)."""
    sts = boto3.client("sts", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id=key, aws_secret_access_key=secret)
    c = sts.assume_role(RoleArn=role, RoleSessionName=session, DurationSeconds=900)["Credentials"]
    remember(c["SecretAccessKey"], c["SessionToken"])
    return {"AccessKeyId": c["AccessKeyId"], "SecretAccessKey": c["SecretAccessKey"],
            "Token": c["SessionToken"],
            "Expiration": in_seconds(expires_in) if expires_in is not None else iso(c["Expiration"])}


class _Server:
    """A ThreadingHTTPServer on 127.0.0.1:0 running in a thread."""

    def __init__(self):
        self.requests = []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _dispatch(self):
                owner.requests.append((self.command, self.path, dict(self.headers)))
                status, body, content_type = owner.answer(self.command, self.path, self.headers)
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = _dispatch

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def answer(self, method, path, headers):
        raise NotImplementedError


class Imds(_Server):
    ROLES = "/latest/meta-data/iam/security-credentials/"

    def __init__(self, credentials, region="eu-central-1", role="ssmbak-instance-role"):
        super().__init__()
        self.credentials = credentials
        self.region = region
        self.role = role
        self.token = remember("imds-" + secrets.token_hex(16))

    def answer(self, method, path, headers):
        if method == "PUT" and path == "/latest/api/token":
            if not headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                return 400, "missing TTL", "text/plain"
            return 200, self.token, "text/plain"
        if method != "GET":
            return 405, "", "text/plain"
        if headers.get("X-aws-ec2-metadata-token") != self.token:
            return 401, "", "text/plain"
        if path == "/latest/meta-data/placement/region":
            return 200, self.region, "text/plain"
        if path == self.ROLES:
            return (200, self.role + "\n", "text/plain") if self.role else (404, "", "text/plain")
        if self.role and path == self.ROLES + self.role:
            c = self.credentials()
            return 200, {"Code": "Success", "LastUpdated": in_seconds(0), "Type": "AWS-HMAC",
                         **c}, "application/json"
        return 404, "", "text/plain"

    def paths(self):
        return [(method, path) for method, path, _ in self.requests]


class ContainerEndpoint(_Server):
    def __init__(self, credentials, token=None):
        super().__init__()
        self.credentials = credentials
        self.token = remember(token) if token else None

    def answer(self, method, path, headers):
        if self.token and headers.get("Authorization") != self.token:
            return 403, {"code": "AccessDenied", "message": "bad token"}, "application/json"
        return 200, self.credentials(), "application/json"
