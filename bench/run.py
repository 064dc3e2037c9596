#!/usr/bin/python3
"""make bench: measures ssmbak against localaws and prints a table; the
same figures go to bench/results.json. A figure that could not be measured
is left out, never zero.

  Lambda: cold start (process start to its first Runtime API request), peak
          RSS, CPU per event over 10-record batches.
  preview/restore: 1,000 parameters x 20 versions, TIME in the middle of the
          history; requests by operation, wall, CPU, peak RSS; and the same
          preview done the Python ssmbak's way (list, then every version's
          tags one request at a time, boto3) side by side.
  growth: preview at 100, 1,000 and 10,000 parameters.
  shapes (bucket format 3, the change index): 10,000 parameters x 20
          versions, changes 2 h apart, 60 s apart, and in bursts of 20
          within one second; and a format 1 bucket (the Python tool's)
          before and after `ssmbak reindex`. TIME is where 10 keys differ
          from SSM now; preview, restore and preview --all, each with its
          requests by operation, wall, CPU and peak RSS, beside the Python
          algorithm's request count (one GetObjectTagging per version).
  backfill: 1,000 parameters.
  history/log (bench/changes.py): one key with 1,000 changes; 10,000 keys
          x 20 versions, one hour with 50 changes.
"""
import argparse
import datetime
import json
import os
import pathlib
import platform
import subprocess
import sys
import time
import uuid

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "test" / "e2e"))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

from bucketfmt import Write, load  # noqa: E402
from runtime_api import RuntimeApi, sqs_batch  # noqa: E402

REGION = "us-east-1"
T0 = 1718243666
STEP = 7200  # two hours between versions


class LocalAws:
    def __init__(self):
        self.proc = subprocess.Popen([str(ROOT / "test/localaws/localaws"), "--port", "0"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("localaws listening on "):
            raise SystemExit(f"localaws did not start: {line!r}")
        self.endpoint = line.rsplit(" ", 1)[1]

    def control(self, method, path, body=None):
        import urllib.request
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.endpoint}/_localaws/{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=600) as resp:
            text = resp.read().decode()
            return json.loads(text) if text else None

    def client(self, service):
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id="test", aws_secret_access_key="test",
                            config=Config(retries={"max_attempts": 10, "mode": "standard"}))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def env_for(aws):
    return {"PATH": os.environ["PATH"], "HOME": "/nonexistent", "AWS_ENDPOINT_URL": aws.endpoint,
            "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}


def run_measured(argv, env):
    """Runs a command; returns (stdout, wall s, CPU s, peak RSS KiB).

    The peak comes from GNU time, which forks the command from its own
    small process: Linux carries a parent's peak RSS into the rusage of a
    child it forks, so a child of this (large) Python would report Python's.
    """
    report = f"/tmp/ssmbak-bench-{os.getpid()}.time"
    start = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", report, *argv], env=env,
                          capture_output=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:3])} failed ({proc.returncode}): "
                         f"{proc.stderr.decode()[-2000:]}")
    with open(report) as f:
        rss, user, system = f.read().split()[-3:]
    os.unlink(report)
    return proc.stdout, wall, float(user) + float(system), int(rss)


def peak_rss_kb(pid):
    """VmHWM of a running process: its own peak, whoever its parent is."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def seed_history(aws, bucket, prefix, keys, versions):
    writes = []
    for v in range(1, versions + 1):
        for k in range(keys):
            writes.append(Write(f"{prefix}/k{k:05d}", "value", T0 + v * STEP, T0 + v * STEP + 2,
                                v, f"value {v} of key {k}"))
    load_big(aws, bucket, writes)


def middle(versions):
    return T0 + (versions // 2) * STEP + 60


def counters(aws):
    return aws.control("GET", "counters")


def bench_preview(ssmbak, aws, keys, versions):
    bucket = f"bench-{uuid.uuid4().hex[:10]}"
    prefix = f"/bench{keys}"
    seed_history(aws, bucket, prefix, keys, versions)
    aws.control("DELETE", "counters")
    out, wall, cpu, rss = run_measured(
        [ssmbak, "preview", prefix + "/", iso(middle(versions)), "-b", bucket, "--output", "json"],
        env_for(aws))
    rows = json.loads(out)
    if len(rows) != keys:
        raise SystemExit(f"preview of {keys} keys showed {len(rows)} rows")
    c = counters(aws)
    return {"bucket": bucket, "prefix": prefix, "wall_s": wall, "cpu_s": cpu, "peak_rss_kb": rss,
            "requests": {f"{svc}:{op}": n for svc, ops in c.items() for op, n in ops.items()},
            "s3_requests": sum(c.get("s3", {}).values())}


def full_scan(aws, bucket, prefix, t):
    """The Python ssmbak's restore: list every version, then fetch each one's
    tags, one request at a time, then the chosen bodies."""
    s3 = aws.client("s3")
    start = time.perf_counter()
    best = {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for v in page.get("Versions", []):
            tags = s3.get_object_tagging(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])
            when = int({x["Key"]: x["Value"] for x in tags["TagSet"]}["ssmbakTime"])
            if when <= t and (v["Key"] not in best or when > best[v["Key"]][0]):
                best[v["Key"]] = (when, v["VersionId"])
    for key, (_, version) in best.items():
        s3.get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read()
    return time.perf_counter() - start


def bench_restore(ssmbak, aws, bucket, prefix, keys, versions):
    ssm = aws.client("ssm")
    for k in range(keys):  # SSM holds something else now: every key changes
        ssm.put_parameter(Name=f"{prefix}/k{k:05d}", Value="changed since", Type="String",
                          Overwrite=True)
    aws.control("DELETE", "counters")
    _, wall, cpu, rss = run_measured(
        [ssmbak, "restore", prefix + "/", iso(middle(versions)), "-b", bucket, "--output", "json"],
        env_for(aws))
    c = counters(aws)
    return {"wall_s": wall, "cpu_s": cpu, "peak_rss_kb": rss,
            "requests": {f"{svc}:{op}": n for svc, ops in c.items() for op, n in ops.items()}}


SHAPES = {"2h": 7200, "60s": 60, "burst": 0}
DIFFERING = 10


def shape_writes(prefix, keys, versions, step, kind="value"):
    """Version v of key k at base + v * step (step 0: all 20 in one second);
    the last DIFFERING keys make their last version one step (or second)
    after TIME. Returns the writes, TIME, and SSM's state now: every key at
    its last version, with the version and date the bucket recorded."""
    base = T0
    gap = step or 1
    t = base + versions * step
    writes, now = [], []
    for k in range(keys):
        late = k >= keys - DIFFERING
        name = f"{prefix}/k{k:05d}"
        for v in range(1, versions + 1):
            event = base + v * step + (gap if late and v == versions else 0)
            w = Write(name, kind, event, event + 2, v if kind == "value" else 0,
                      f"value {v} of key {k}", modified=event + 0.123)
            writes.append(w)
        now.append({"name": name, "value": f"value {versions} of key {k}", "type": "String",
                    "version": versions, "last_modified": writes[-1].event_time + 0.123})
    writes.sort(key=lambda w: w.written_at)
    return writes, t, now


def load_big(aws, bucket, writes):
    for start in range(0, len(writes), 50000):
        load(aws.endpoint, bucket, writes[start:start + 50000])


def measured(ssmbak, aws, argv):
    aws.control("DELETE", "counters")
    out, wall, cpu, rss = run_measured([ssmbak, *argv], env_for(aws))
    c = counters(aws)
    requests = {f"{svc}:{op}": n for svc, ops in c.items() for op, n in ops.items()}
    return out, {"wall_s": wall, "cpu_s": cpu, "peak_rss_kb": rss, "requests": requests,
                 "total_requests": sum(requests.values()),
                 "s3_requests": sum(n for op, n in requests.items() if op.startswith("s3:")),
                 "s3_get_object": requests.get("s3:GetObject", 0)}


def bench_shape(ssmbak, aws, name, keys, versions, step, kind="value", reindex=False):
    bucket = f"bench-{uuid.uuid4().hex[:10]}"
    prefix = f"/shape{uuid.uuid4().hex[:6]}"
    writes, t, now = shape_writes(prefix, keys, versions, step, kind)
    load_big(aws, bucket, writes)
    aws.control("POST", "ssm/bulk", {"region": REGION, "parameters": now})
    out = {"keys": keys, "versions": keys * versions,
           "python_algorithm_requests": keys * versions + keys + -(-keys * versions // 1000)}
    if reindex:
        _, out["reindex"] = measured(ssmbak, aws, ["reindex", prefix + "/", "-b", bucket])
    common = [prefix + "/", iso(t), "-b", bucket, "--output", "json"]
    rows, out["preview"] = measured(ssmbak, aws, ["preview", *common])
    changed = json.loads(rows)
    if len(changed) != DIFFERING:
        raise SystemExit(f"{name}: preview showed {len(changed)} rows, not {DIFFERING}")
    rows, out["preview_all"] = measured(ssmbak, aws, ["preview", *common, "--all"])
    if len(json.loads(rows)) != keys:
        raise SystemExit(f"{name}: preview --all showed {len(json.loads(rows))} rows")
    _, out["restore"] = measured(ssmbak, aws, ["restore", *common])
    # the figures issue 13 sets for reading: GetObject <= 10 + unindexed
    # versions, all requests <= 2 * versions / 1000 + keys / 50 + 20 (and
    # each unindexed version's tags); restore adds its 10 writes
    unindexed = 0 if kind == "value" or reindex else keys * versions
    out["bound_get_object"] = DIFFERING + unindexed
    out["bound_requests"] = 2 * keys * versions / 1000 + keys / 50 + 20 + unindexed
    out["bound_s3_all"] = 1.05 * keys + unindexed
    return out


def bench_verify(ssmbak, aws, keys, missed=10):
    """Issue 18: verify of a complete bucket, then of one whose last
    `missed` keys have a version SSM made behind its back, with --repair.
    Goal: DescribeParameters <= keys / 50, GetParameterHistory = missed,
    plus the two listings."""
    bucket = f"bench-{uuid.uuid4().hex[:10]}"
    prefix = f"/verify{uuid.uuid4().hex[:6]}"
    writes, _, now = shape_writes(prefix, keys, 20, STEP)
    load_big(aws, bucket, writes)
    aws.control("POST", "ssm/bulk", {"region": REGION, "parameters": now})
    argv = ["verify", prefix + "/", "-R", "-b", bucket, "--output", "json"]
    out = {"keys": keys, "versions": keys * 20, "missed": missed,
           "bound_describe": -(-keys // 50), "bound_history": missed}
    _, out["complete"] = measured(ssmbak, aws, argv)
    later = time.time() - 60
    for p in now[-missed:]:
        p.update(version=21, value=p["value"] + " (changed)", last_modified=later)
    aws.control("POST", "ssm/bulk", {"region": REGION, "parameters": now[-missed:]})
    found, out["repair"] = measured(ssmbak, aws, [*argv, "--repair"])
    repaired = [f for f in json.loads(found) if f["outcome"] == "repaired"]
    if len(repaired) != missed:
        raise SystemExit(f"verify --repair repaired {len(repaired)}, not {missed}")
    return out


def bench_backfill(ssmbak, aws, count):
    ssm = aws.client("ssm")
    prefix = f"/bf{uuid.uuid4().hex[:6]}"
    for i in range(count):
        ssm.put_parameter(Name=f"{prefix}/p{i:05d}", Value=f"v{i}", Type="String")
    bucket = f"bench-{uuid.uuid4().hex[:10]}"
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    aws.control("DELETE", "counters")
    _, wall, cpu, rss = run_measured([ssmbak, "backfill", "--name-prefix", prefix, "--do-it", "-b", bucket],
                                     env_for(aws))
    c = counters(aws)
    total = sum(n for ops in c.values() for n in ops.values())
    return {"wall_s": wall, "cpu_s": cpu, "requests_per_param": total / count,
            "requests": {f"{svc}:{op}": n for svc, ops in c.items() for op, n in ops.items()}}


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_lambda(ssmbak, aws, batches=30):
    """The function as Lambda runs it, against a stand-in Runtime API."""
    ssm, s3 = aws.client("ssm"), aws.client("s3")
    bucket = f"bench-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    prefix = f"/lam{uuid.uuid4().hex[:6]}"
    aws.control("DELETE", "events")
    for i in range(10):
        ssm.put_parameter(Name=f"{prefix}/p{i}", Value=f"value {i}", Type="String")
    events = [e for e in aws.control("GET", "events") if e["detail"]["name"].startswith(prefix)]
    api = RuntimeApi()
    first_next = {}
    original_get = api.events.get

    def timed_get(*a, **kw):
        first_next.setdefault("t", time.perf_counter())
        return original_get(*a, **kw)
    api.events.get = timed_get
    env = {**env_for(aws), "AWS_LAMBDA_RUNTIME_API": api.address, "SSMBAK_BUCKET": bucket,
           "LOGLEVEL": "WARNING"}
    start = time.perf_counter()
    proc = subprocess.Popen(["bootstrap"], executable=ssmbak, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while "t" not in first_next and time.perf_counter() - start < 10:
        time.sleep(0.0002)
    cold_ms = (first_next["t"] - start) * 1000 if "t" in first_next else None
    api.invoke(sqs_batch(events))  # warm: the first batch opens connections
    cpu_before = proc_cpu_seconds(proc.pid)
    for _ in range(batches):
        kind, answer = api.invoke(sqs_batch(events))
        if answer != {"batchItemFailures": []}:
            raise SystemExit(f"lambda batch failed: {answer}")
    cpu = proc_cpu_seconds(proc.pid) - cpu_before
    rss = peak_rss_kb(proc.pid)
    api.stop()
    proc.wait(timeout=30)
    return {"cold_start_ms": cold_ms, "peak_rss_kb": rss,
            "event_cpu_ms": cpu * 1000 / (batches * 10)}


def machine():
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                  if line.startswith("model name")), platform.processor())
    return {"nproc": os.cpu_count(), "cpu_model": model}


def row(name, value, goal=""):
    if value is None:
        value = "not measured"
    elif isinstance(value, float):
        value = f"{value:.3f}"
    print(f"  {name:<44} {value:>14}  {goal}")


class _Done(Exception):
    """--only: the part asked for has run."""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=str(ROOT / "ssmbak"), type=lambda p: os.path.abspath(p))
    parser.add_argument("--out", default=str(ROOT / "bench" / "results.json"))
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument("--shape-keys", type=int, default=10000)
    parser.add_argument("--format1-keys", type=int, default=2000)
    parser.add_argument("--only", choices=["verify"], help="run one part only")
    args = parser.parse_args()
    aws = LocalAws()
    results = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               **machine(), "static_binary_bytes": os.path.getsize(args.binary)}
    try:
        if args.only == "verify":
            results["verify"] = bench_verify(args.binary, aws, args.shape_keys)
            raise _Done
        lam = bench_lambda(args.binary, aws)
        if lam["cold_start_ms"] is not None:
            results["lambda_cold_start_ms"] = lam["cold_start_ms"]
        results["lambda_peak_rss_kb"] = lam["peak_rss_kb"]
        results["lambda_event_cpu_ms"] = lam["event_cpu_ms"]

        versions = 20
        main_run = bench_preview(args.binary, aws, 1000, versions)
        results.update({
            "preview_keys": 1000, "preview_versions_per_key": versions,
            "preview_requests": main_run["requests"],
            "preview_s3_requests_per_key": main_run["s3_requests"] / 1000,
            "preview_wall_s": main_run["wall_s"], "preview_cpu_s": main_run["cpu_s"],
            "preview_peak_rss_kb": main_run["peak_rss_kb"]})
        scan = full_scan(aws, main_run["bucket"], main_run["prefix"] + "/", middle(versions))
        results["full_scan_wall_s"] = scan
        results["preview_speedup_vs_full_scan"] = scan / main_run["wall_s"]
        restore = bench_restore(args.binary, aws, main_run["bucket"], main_run["prefix"], 1000,
                                versions)
        results.update({"restore_wall_s": restore["wall_s"], "restore_cpu_s": restore["cpu_s"],
                        "restore_peak_rss_kb": restore["peak_rss_kb"],
                        "restore_requests": restore["requests"]})
        growth = {}
        for size in [int(s) for s in args.sizes.split(",")]:
            r = main_run if size == 1000 else bench_preview(args.binary, aws, size, versions)
            growth[str(size)] = {"requests": sum(r["requests"].values()),
                                 "s3_requests_per_key": r["s3_requests"] / size,
                                 "wall_s": r["wall_s"]}
        results["preview_growth"] = growth
        shapes = {}
        for name, step in SHAPES.items():
            shapes[name] = bench_shape(args.binary, aws, name, args.shape_keys, 20, step)
        shapes["format1"] = bench_shape(args.binary, aws, "format1", args.format1_keys, 20,
                                        7200, kind="legacy_value")
        shapes["format1_reindexed"] = bench_shape(args.binary, aws, "format1_reindexed",
                                                  args.format1_keys, 20, 7200,
                                                  kind="legacy_value", reindex=True)
        results["shapes"] = shapes
        import changes  # bench/changes.py
        hist = changes.bench_history(args.binary, aws, env_for(aws))
        log = changes.bench_log(args.binary, aws, env_for(aws))
        results.update({"history_1000_requests": hist["requests"],
                        "history_1000_wall_s": hist["wall_s"],
                        "log_10000x20_hour_requests": log["requests"],
                        "log_10000x20_hour_wall_s": log["wall_s"]})
        results["verify"] = bench_verify(args.binary, aws, args.shape_keys)
        bf = bench_backfill(args.binary, aws, 1000)
        results.update({"backfill_requests_per_param": bf["requests_per_param"],
                        "backfill_wall_s": bf["wall_s"], "backfill_requests": bf["requests"]})
    except _Done:
        pass
    finally:
        aws.stop()

    print(f"ssmbak bench, {results['date']}, {results['nproc']} x {results['cpu_model']}")
    row("static binary (bytes)", results["static_binary_bytes"], "goal <= 8 MB")
    row("lambda cold start (ms)", results.get("lambda_cold_start_ms"), "goal <= 10 (Python: ~282)")
    row("lambda peak RSS (KiB)", results.get("lambda_peak_rss_kb"), "goal <= 16384 (Python: ~86000)")
    row("lambda CPU per event (ms)", results.get("lambda_event_cpu_ms"))
    row("preview 1000x20: S3 requests per key", results.get("preview_s3_requests_per_key"),
        "goal <= 3 (Python: 21)")
    row("preview 1000x20: wall (s)", results.get("preview_wall_s"))
    row("preview 1000x20: CPU (s)", results.get("preview_cpu_s"))
    row("preview 1000x20: peak RSS (KiB)", results.get("preview_peak_rss_kb"))
    row("full scan, one request at a time (s)", results.get("full_scan_wall_s"))
    row("preview speedup vs full scan", results.get("preview_speedup_vs_full_scan"), "goal >= 20")
    row("restore 1000x20: wall (s)", results.get("restore_wall_s"))
    row("restore 1000x20: CPU (s)", results.get("restore_cpu_s"))
    row("restore 1000x20: peak RSS (KiB)", results.get("restore_peak_rss_kb"))
    for size, g in results.get("preview_growth", {}).items():
        row(f"preview {size}x20: requests / wall (s)", f"{g['requests']} / {g['wall_s']:.2f}")
    for name, sh in results.get("shapes", {}).items():
        for verb in ("preview", "preview_all", "restore", "reindex"):
            if verb not in sh:
                continue
            m = sh[verb]
            goal = ""
            writes = DIFFERING if verb == "restore" else 0
            if verb in ("preview", "restore"):
                goal = (f"goal GetObject <= {sh['bound_get_object']}, "
                        f"all <= {sh['bound_requests'] + writes:.0f}")
            elif verb == "preview_all":
                goal = f"goal S3 <= {sh['bound_s3_all']:.0f}"
            row(f"{name} {sh['keys']}x20 {verb}: all / S3 / GetObject",
                f"{m['total_requests']} / {m['s3_requests']} / {m['s3_get_object']}", goal)
            row(f"{name} {sh['keys']}x20 {verb}: wall / CPU (s), RSS (KiB)",
                f"{m['wall_s']:.2f} / {m['cpu_s']:.2f}, {m['peak_rss_kb']}")
        row(f"{name}: the Python algorithm's requests", sh["python_algorithm_requests"])
    v = results.get("verify")
    if v:
        for run_name in ("complete", "repair"):
            m = v[run_name]
            r = m["requests"]
            row(f"verify {v['keys']}x20 {run_name}: DescribeParameters / GetParameterHistory / S3",
                f"{r.get('ssm:DescribeParameters', 0)} / {r.get('ssm:GetParameterHistory', 0)}"
                f" / {m['s3_requests']}",
                f"goal <= {v['bound_describe']} / "
                f"{v['bound_history'] if run_name == 'repair' else 0} / the listings"
                + (" + 2 writes each" if run_name == "repair" else ""))
            row(f"verify {v['keys']}x20 {run_name}: wall / CPU (s), RSS (KiB)",
                f"{m['wall_s']:.2f} / {m['cpu_s']:.2f}, {m['peak_rss_kb']}")
    row("backfill 1000: requests per parameter", results.get("backfill_requests_per_param"),
        "goal <= 2.3 (a version and its index entry)")
    row("backfill 1000: wall (s)", results.get("backfill_wall_s"))
    row("history 1 key x 1000 changes: requests", results.get("history_1000_requests"),
        "goal <= 2")
    row("log 10000x20, 1 hour of 50 changes: requests",
        results.get("log_10000x20_hour_requests"), "goal <= 60")
    print("  preview requests by operation: " + json.dumps(results.get("preview_requests")))
    pathlib.Path(args.out).write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"  written to {os.path.relpath(args.out, ROOT)}")


if __name__ == "__main__":
    main()
