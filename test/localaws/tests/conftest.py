"""Fixtures: a localaws process for the session, and real AWS clients for it.

Clients are the real ones (boto3, /usr/bin/aws), pointed at the emulator
with endpoint_url; tests never speak HTTP by hand except where the point is
a malformed or unusual request.
"""
import json
import os
import subprocess
import tempfile
import urllib.request
import uuid

import boto3
import pytest
from botocore.config import Config

HERE = os.path.dirname(os.path.abspath(__file__))
LOCALAWS = os.path.join(os.path.dirname(HERE), "localaws")
AWS_CLI = "/usr/bin/aws"
REGION = "us-east-1"


class LocalAws:
    """A running localaws process; stop() terminates and reaps it."""

    def __init__(self, *args, env=None):
        self.process = subprocess.Popen(
            [LOCALAWS, "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, **(env or {})})
        line = self.process.stdout.readline().strip()
        if not line.startswith("localaws listening on "):
            self.stop()
            raise RuntimeError(f"localaws did not start: {line!r} {self.process.stderr.read()}")
        self.endpoint = line.rsplit(" ", 1)[1]

    def stop(self):
        """SIGTERM, then wait; returns the exit code."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for stream in (self.process.stdout, self.process.stderr):
            stream.close()
        return self.process.returncode


@pytest.fixture(scope="session")
def localaws():
    server = LocalAws()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def endpoint(localaws):
    return localaws.endpoint


def make_client(endpoint, service, *, retries=1, verify=None, **overrides):
    settings = dict(endpoint_url=endpoint, region_name=REGION,
                    aws_access_key_id="test", aws_secret_access_key="test",
                    config=Config(retries={"total_max_attempts": retries, "mode": "standard"}))
    if verify is not None:
        settings["verify"] = verify
    settings.update(overrides)
    return boto3.client(service, **settings)


@pytest.fixture(scope="session")
def client(endpoint):
    """client("s3", aws_secret_access_key="wrong", ...) -> a boto3 client."""
    return lambda service, **overrides: make_client(endpoint, service, **overrides)


@pytest.fixture(scope="session")
def s3(client):
    return client("s3")


@pytest.fixture(scope="session")
def ssm(client):
    return client("ssm")


@pytest.fixture(scope="session")
def sts(client):
    return client("sts")


class Control:
    """JSON calls to the /_localaws/ control endpoint."""

    def __init__(self, endpoint):
        self.base = endpoint + "/_localaws/"

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def get(self, path):
        return self.call("GET", path)

    def post(self, path, body):
        return self.call("POST", path, body)

    def delete(self, path):
        return self.call("DELETE", path)


@pytest.fixture(scope="session")
def control(endpoint):
    return Control(endpoint)


@pytest.fixture
def clean_control(control):
    """Faults and clock reset after the test, whatever it did."""
    try:
        yield control
    finally:
        control.delete("faults")
        control.post("clock", {})


@pytest.fixture(scope="session")
def cli_env(tmp_path_factory):
    """Environment for /usr/bin/aws: static test keys, no user config."""
    home = tmp_path_factory.mktemp("awscli")
    empty = home / "empty"
    empty.write_text("")
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
               AWS_DEFAULT_REGION=REGION, AWS_CONFIG_FILE=str(empty),
               AWS_SHARED_CREDENTIALS_FILE=str(empty), AWS_PAGER="", HOME=str(home),
               AWS_MAX_ATTEMPTS="1")
    return env


@pytest.fixture(scope="session")
def aws(endpoint, cli_env):
    """aws("ssm", "get-parameter", "--name", "x") -> parsed JSON output.

    Raises CliError (with .stderr) when the CLI exits non-zero.
    """
    def run(*args, env=None, expect_json=True):
        result = subprocess.run([AWS_CLI, "--endpoint-url", endpoint, "--output", "json", *args],
                                capture_output=True, text=True, env={**cli_env, **(env or {})},
                                timeout=60)
        if result.returncode != 0:
            raise CliError(result.returncode, result.stderr)
        if not expect_json:
            return result.stdout
        return json.loads(result.stdout) if result.stdout.strip() else {}
    return run


class CliError(Exception):
    def __init__(self, code, stderr):
        super().__init__(f"aws exited {code}: {stderr}")
        self.code = code
        self.stderr = stderr


@pytest.fixture
def unique():
    """unique("name") -> a name no other test uses."""
    return lambda stem="t": f"{stem}-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def bucket(s3, unique):
    """A fresh versioned bucket."""
    name = unique("bkt")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


@pytest.fixture
def tmpdir_path():
    with tempfile.TemporaryDirectory() as path:
        yield path
