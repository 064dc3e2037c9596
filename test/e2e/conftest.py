"""Shared fixtures for the end-to-end tests: the binary under test, a
running localaws, real AWS clients pointed at it, and a fresh bucket.

The binary is $SSMBAK_BIN (make check sets it to the sanitizer build),
else ./ssmbak. Every process started here is stopped here.
"""
import json
import os
import pathlib
import subprocess
import urllib.request
import uuid

import boto3
import pytest
from botocore.config import Config

ROOT = pathlib.Path(__file__).resolve().parents[2]
LOCALAWS = ROOT / "test" / "localaws" / "localaws"
AWS_CLI = "/usr/bin/aws"
REGION = "us-east-1"


def built(path):
    p = ROOT / path
    if not p.exists():
        pytest.fail(f"{path} is not built: run `make check` (or `make {path}`)")
    return str(p)


@pytest.fixture(scope="session")
def sigv4_sign():
    return built("build/sigv4-sign")


@pytest.fixture(scope="session")
def ssmbak_bin():
    return os.environ.get("SSMBAK_BIN") or built("ssmbak")


class LocalAws:
    """A localaws process on 127.0.0.1; stop() terminates and reaps it."""

    def __init__(self, *args, env=None):
        self.process = subprocess.Popen(
            [str(LOCALAWS), "--port", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env={**os.environ, **(env or {})})
        line = self.process.stdout.readline().strip()
        if not line.startswith("localaws listening on "):
            self.stop()
            raise RuntimeError(f"localaws did not start: {line!r}")
        self.endpoint = line.rsplit(" ", 1)[1]

    def control(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.endpoint}/_localaws/{path}", data=data,
                                     method=method, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            text = resp.read().decode()
            return json.loads(text) if text else None

    def counters(self):
        return self.control("GET", "counters")

    def reset_counters(self):
        self.control("DELETE", "counters")

    def fault(self, **spec):
        self.control("POST", "faults", spec)

    def clear_faults(self):
        self.control("DELETE", "faults")

    def clock(self, **spec):
        return self.control("POST", "clock", spec)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()
        return self.process.returncode


@pytest.fixture(scope="session")
def localaws():
    server = LocalAws()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def aws(localaws):
    """Per test: no faults left over, real clock, counters at zero."""
    localaws.clear_faults()
    localaws.clock()
    localaws.reset_counters()
    yield localaws
    localaws.clear_faults()
    localaws.clock()


def client(endpoint, service, retries=3):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id="test", aws_secret_access_key="test",
                        config=Config(retries={"max_attempts": retries, "mode": "standard"}))


@pytest.fixture
def ssm(aws):
    return client(aws.endpoint, "ssm")


@pytest.fixture
def s3(aws):
    return client(aws.endpoint, "s3")


@pytest.fixture
def bucket(s3):
    """A fresh versioned bucket."""
    name = f"ssmbak-test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


@pytest.fixture
def prefix():
    """A parameter path no other test uses."""
    return f"/t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def env(aws, tmp_path):
    """Environment for the binary: localaws, test keys, no ~/.aws."""
    home = tmp_path / "home"
    home.mkdir()
    keep = {k: v for k, v in os.environ.items()
            if k in ("PATH", "LANG", "LC_ALL", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")}
    return {**keep, "HOME": str(home), "AWS_ENDPOINT_URL": aws.endpoint,
            "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": str(home / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials")}


@pytest.fixture
def run(ssmbak_bin, env):
    """run("preview", "/a", "now", env_extra={...}) -> CompletedProcess."""
    def runner(*args, env_extra=None, argv0=None, timeout=120, input=None):
        cmd = [ssmbak_bin, *args]
        return subprocess.run(cmd, env={**env, **(env_extra or {})}, capture_output=True,
                              text=True, timeout=timeout, input=input,
                              executable=ssmbak_bin if argv0 else None) if not argv0 else \
            subprocess.run([argv0, *args], executable=ssmbak_bin, env={**env, **(env_extra or {})},
                           capture_output=True, text=True, timeout=timeout, input=input)
    return runner


def run_with_stderr_on_a_terminal(args, env, timeout=60):
    """Runs a command whose stderr is a pseudo-terminal; returns (exit code,
    bytes written to stderr). stdout is discarded."""
    import pty
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    seen = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # EIO once the child closed its end
            break
        if not chunk:
            break
        seen += chunk
    os.close(master)
    return proc.wait(timeout=timeout), seen


# Tests that need the binary itself: it is deployed as a Lambda's bootstrap,
# or called by another name (argv[0]). Under `make valgrind` SSMBAK_BIN is a
# wrapper script, which can be neither; those paths run under the sanitizer
# build in `make check`, and the Lambda's code under valgrind through
# test_backup_lambda.py.
NEEDS_REAL_BINARY_MODULES = {"test_pipeline.py", "test_stack.py", "test_demo.py",
                             "test_verify_stack.py"}
NEEDS_REAL_BINARY_TESTS = {"test_alias_ssmbak_all",
                           "test_a_thousand_changes_under_faults_are_all_recorded"}


def is_elf(path):
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


def pytest_collection_modifyitems(config, items):
    binary = os.environ.get("SSMBAK_BIN")
    if not binary or is_elf(binary):
        return
    skip = pytest.mark.skip(reason="needs the binary itself, not the wrapper SSMBAK_BIN names")
    for item in items:
        if item.fspath.basename in NEEDS_REAL_BINARY_MODULES or \
                item.name.split("[")[0] in NEEDS_REAL_BINARY_TESTS:
            item.add_marker(skip)
