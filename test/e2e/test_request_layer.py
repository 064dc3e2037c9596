"""The request layer against a server that throttles, fails, drops and
resets: retried with backoff until AWS_MAX_ATTEMPTS, then one clear line."""
import json

import pytest

from bucketfmt import Write, load

T0 = 1718243666


@pytest.fixture
def tree(aws, bucket, prefix):
    load(aws.endpoint, bucket, [Write(f"{prefix}/k{i}", "value", T0, T0 + 2, 1, f"v{i}")
                                for i in range(30)])
    return prefix


def preview(run, bucket, prefix, **env):
    return run("preview", prefix + "/", "2024-06-13T02:00:00", "-b", bucket, "--all",
               "--output", "json", env_extra=env)


@pytest.mark.parametrize("operation, kind", [
    ("ListObjectVersions", "reset"), ("ListObjectVersions", "drop"),
    ("ListObjectVersions", "throttle"), ("GetObject", "error500"), ("GetObject", "reset"),
    ("GetObject", "throttle"), ("GetObject", "drop")])
def test_transient_faults_are_retried(aws, run, bucket, tree, operation, kind):
    # Two failures, at worst on one request: its third try (the standard
    # retry mode's default of 3 attempts) gets through.
    aws.fault(service="s3", operation=operation, kind=kind, count=2)
    out = preview(run, bucket, tree)
    assert out.returncode == 0, out.stderr
    assert len(json.loads(out.stdout)) == 30
    assert aws.control("GET", "faults")[0]["fired"] == 2


def test_throttling_storm_on_every_request_still_finishes(aws, run, bucket, tree):
    aws.fault(service="*", operation="*", kind="throttle", rate=0.3)
    out = preview(run, bucket, tree, AWS_MAX_ATTEMPTS="10")
    assert out.returncode == 0, out.stderr
    assert {r["value"] for r in json.loads(out.stdout)} == {f"v{i}" for i in range(30)}


@pytest.mark.parametrize("kind, message", [
    ("reset", "S3 ListObjectVersions: "), ("error500", "S3 ListObjectVersions: InternalError")])
def test_exhausted_retries_give_one_line_and_exit_1(aws, run, bucket, tree, kind, message):
    aws.fault(service="s3", operation="ListObjectVersions", kind=kind)
    out = preview(run, bucket, tree, AWS_MAX_ATTEMPTS="2")
    assert out.returncode == 1
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], out.stderr
    # Two listings at once (the data versions and the change index), each
    # tried twice; curl itself tries once more when a reused connection
    # turns out dead.
    attempts = aws.counters()["s3"]["ListObjectVersions"]
    assert attempts == 4 or (kind == "reset" and 4 <= attempts <= 6), attempts


def test_wrong_secret_is_refused_with_aws_message(aws, run, bucket, tree):
    out = preview(run, bucket, tree, AWS_SECRET_ACCESS_KEY="wrong")
    assert out.returncode == 1
    assert "SignatureDoesNotMatch" in out.stderr
    assert "wrong" not in out.stderr


def test_connections_are_reused(aws, ssmbak_bin, env, bucket, tree, tmp_path):
    """About 35 requests over at most 16 connections (the pool), not one
    connection a request: counted from the connect() calls strace sees."""
    import shutil
    import subprocess
    strace = shutil.which("strace")
    if not strace:
        pytest.fail("strace is not installed (deps/install-packages installs it)")
    with open(ssmbak_bin, "rb") as f:
        if f.read(4) != b"\x7fELF":
            pytest.skip("SSMBAK_BIN is a wrapper script")
    trace = tmp_path / "trace"
    out = subprocess.run([strace, "-f", "-e", "trace=connect", "-o", str(trace), ssmbak_bin,
                          "preview", tree + "/", "2024-06-13T02:00:00", "-b", bucket, "--all",
                          "--output", "json"],
                         env={**env, "ASAN_OPTIONS": "detect_leaks=0"},  # LSan cannot run under ptrace
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    port = aws.endpoint.rsplit(":", 1)[1]
    connects = [l for l in trace.read_text().splitlines() if f"htons({port})" in l]
    requests = sum(n for ops in aws.counters().values() for n in ops.values())
    assert requests >= 33
    assert 1 <= len(connects) <= 16, (len(connects), requests)
