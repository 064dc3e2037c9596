#!/usr/bin/python3
"""The cost of history and log (issue 17), against localaws, counted by
its request counters: history of one key with 1,000 recorded changes
(goal <= 2 requests), log of a 10,000-key tree with 20 versions each over
one hour holding 50 changes (goal <= 60 requests). bench/run.py calls
these; run alone, this prints the two figures."""
import datetime
import json
import os
import pathlib
import subprocess
import sys
import time
import uuid

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "test" / "e2e"))
sys.path.insert(0, str(ROOT / "bench"))

from bucketfmt import Write, load  # noqa: E402

T0 = 1718240400   # an hour's start
# the bucket's account, given so the count is the command's own requests
# (without it: one STS GetCallerIdentity more a run)
ACCOUNT = "000000000000"
STEP = 7200


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def total(counters):
    return sum(n for ops in counters.values() for n in ops.values())


def measured(ssmbak, aws, env, args):
    aws.control("DELETE", "counters")
    start = time.perf_counter()
    out = subprocess.run([ssmbak, *args], env=env, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - start
    return json.loads(out.stdout), aws.control("GET", "counters"), wall


def new_bucket(aws):
    s3 = aws.client("s3")
    bucket = f"bench-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return bucket


def bench_history(ssmbak, aws, env, changes=1000):
    bucket = new_bucket(aws)
    key = "/bench/history/key"
    load(aws.endpoint, bucket, [Write(key, "value", T0 + i * 60, T0 + i * 60 + 1, i + 1,
                                      f"value {i}") for i in range(changes)], log=True)
    rows, counters, wall = measured(ssmbak, aws, env, ["history", key, "-b", bucket,
                                                       "--bucket-owner", ACCOUNT,
                                                       "--output", "json"])
    if len(rows) != changes:
        raise SystemExit(f"history of {changes} changes showed {len(rows)} rows")
    return {"requests": total(counters), "wall_s": wall,
            "by_operation": {f"{s}:{o}": n for s, ops in counters.items() for o, n in ops.items()}}


def bench_log(ssmbak, aws, env, keys=10000, versions=20, in_window=50):
    """versions - 1 of every key two hours apart; the last one of in_window
    keys inside the window's hour, the others' an hour after it."""
    bucket = new_bucket(aws)
    window = T0 + (versions + 2) * STEP
    writes = []
    for v in range(1, versions):
        for k in range(keys):
            writes.append(Write(f"/bench/log/k{k:05d}", "value", T0 + v * STEP,
                                T0 + v * STEP + 1, v, f"v{v}"))
    for k in range(keys):
        t = window + k * 60 if k < in_window else window + 3600 + k % 3000
        writes.append(Write(f"/bench/log/k{k:05d}", "value", t, t + 1, versions, "last"))
    for start in range(0, len(writes), 50000):
        load(aws.endpoint, bucket, writes[start:start + 50000], log=True)
    rows, counters, wall = measured(ssmbak, aws, env, [
        "log", "/bench/log/", "-b", bucket, "--bucket-owner", ACCOUNT, "--since", iso(window),
        "--until",
        iso(window + 3599), "--output", "json"])
    if len(rows) != in_window:
        raise SystemExit(f"log of {in_window} changes showed {len(rows)} rows")
    return {"requests": total(counters), "wall_s": wall,
            "by_operation": {f"{s}:{o}": n for s, ops in counters.items() for o, n in ops.items()}}


def main():
    from run import LocalAws, env_for  # noqa: E402
    ssmbak = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "ssmbak"))
    aws = LocalAws()
    try:
        env = env_for(aws)
        h = bench_history(ssmbak, aws, env)
        print(f"history of 1 key x 1000 changes: {h['requests']} requests (goal <= 2), "
              f"{h['wall_s']:.2f} s: {json.dumps(h['by_operation'])}")
        g = bench_log(ssmbak, aws, env)
        print(f"log of 10000 keys x 20 versions, 1 hour with 50 changes: {g['requests']} "
              f"requests (goal <= 60), {g['wall_s']:.2f} s: {json.dumps(g['by_operation'])}")
    finally:
        aws.stop()


if __name__ == "__main__":
    main()
