"""A large restore against SSM's real rate limits: localaws' rate_limit
fault throttles every SSM operation at AWS's default rates (PutParameter 3
a second, GetParameters 40: test/localaws/localaws_lib/ratelimit.py), sped
up by SCALE so the test takes under a minute and a half; the request layer's
retry modes (lib/retry.c) must slow the restore down, not fail it."""
import time

import pytest

from bucketfmt import Write, load

T0 = 1718243666
N = 1000
# PutParameter at 3 x 10 = 30 a second: 1,000 writes need at least 33 s.
SCALE = 10


def iso(t):
    import datetime
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def stored(ssm, prefix):
    found = {}
    for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=prefix, Recursive=True):
        found.update({p["Name"]: p["Value"] for p in page["Parameters"]})
    return found


def test_restore_1000_parameters_through_ssm_throttling(aws, run, ssm, bucket, prefix):
    """By default (no AWS_RETRY_MODE, no retry_mode) restore writes in
    adaptive mode: it slows down to the rate SSM allows."""
    names = [f"{prefix}/svc{i % 10}/p{i:04d}" for i in range(N)]
    load(aws.endpoint, bucket, [Write(n, "value", T0, T0 + 2, 1, f"value of {n}")
                                for n in names])
    aws.fault(service="ssm", kind="rate_limit", scale=SCALE)
    start = time.monotonic()
    try:
        out = run("restore", prefix + "/", iso(T0 + 10), "-b", bucket, "-R",
                  timeout=300)
    finally:
        took = time.monotonic() - start
        throttled = sum(f["fired"] for f in aws.control("GET", "faults"))
        aws.clear_faults()
    print(f"\nrestored {N} parameters in {took:.1f} s, {throttled} requests throttled, "
          f"{aws.counters()['ssm'].get('PutParameter', 0)} PutParameter calls")
    assert out.returncode == 0, out.stderr[-3000:]
    assert throttled > 0, "the rate limit did not bite"
    assert stored(ssm, prefix) == {n: f"value of {n}" for n in names}
    assert took < 90


def test_standard_mode_gives_up_when_the_retry_quota_is_spent(aws, run, ssm, bucket, prefix):
    """Standard mode, asked for, fails fast once its 500-token quota is spent
    (5 a retry): each parameter not written is named, exit 1, and a rerun
    (adaptive by default) finishes."""
    names = [f"{prefix}/p{i:04d}" for i in range(300)]
    load(aws.endpoint, bucket, [Write(n, "value", T0, T0 + 2, 1, f"v {n}") for n in names])
    aws.fault(service="ssm", operation="PutParameter", kind="rate_limit", scale=SCALE)
    try:
        first = run("restore", prefix + "/", iso(T0 + 10), "-b", bucket,
                    env_extra={"AWS_RETRY_MODE": "standard"}, timeout=300)
        put_calls = aws.counters()["ssm"]["PutParameter"]
        again = run("restore", prefix + "/", iso(T0 + 10), "-b", bucket, timeout=300)
    finally:
        aws.clear_faults()
    assert first.returncode == 1
    failed = {line.split(": ")[1] for line in first.stderr.splitlines()
              if ": not restored: SSM PutParameter: ThrottlingException: Rate exceeded" in line}
    assert failed and len(failed) < len(names), first.stderr[-2000:]
    # retries only while the quota pays: 500 tokens and one back for each
    # success without a retry, 5 a retry
    assert put_calls <= len(names) + (500 + len(names)) // 5 + 1, put_calls
    assert again.returncode == 0, again.stderr[-2000:]
    assert stored(ssm, prefix) == {n: f"v {n}" for n in names}
