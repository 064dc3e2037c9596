"""Nothing lost under faults: 20% throttling, 10% server errors and dropped
connections on the calls that store and restore a change."""
import json


from bucketfmt import Write, load
from test_pipeline import eventually, iso, pipeline  # noqa: F401  (pipeline: a fixture)

T0 = 1718243666


def storm(aws, calls):
    for service, operation in calls:
        aws.fault(service=service, operation=operation, kind="throttle", rate=0.2)
        aws.fault(service=service, operation=operation, kind="error500", rate=0.1)
        aws.fault(service=service, operation=operation, kind="drop", rate=0.05)


def test_a_thousand_changes_under_faults_are_all_recorded(pipeline, aws, ssm, prefix, run):
    names = [f"{prefix}/storm/p{i:04d}" for i in range(1000)]
    storm(aws, [("ssm", "GetParameterHistory"), ("s3", "PutObject")])
    try:
        for name in names:
            ssm.put_parameter(Name=name, Value=f"value of {name}", Type="String")

        def recorded():
            out = pipeline.s3.get_paginator("list_objects_v2").paginate(
                Bucket=pipeline.bucket, Prefix=f"{prefix}/storm/")
            return sum(page.get("KeyCount", 0) for page in out) == 1000
        eventually(recorded, "1,000 changes in the bucket", timeout=240)
        eventually(pipeline.queue_empty, "the queue to drain", timeout=60)
        fired = sum(f["fired"] for f in aws.control("GET", "faults"))
    finally:
        aws.clear_faults()
    assert fired > 100, "the faults did not bite"
    assert [m for m in pipeline.dead_letters().values() if prefix in m["Body"]] == []
    out = run("preview", f"{prefix}/storm/", "now", "-b", pipeline.bucket, "--all",
              "--output", "json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert sorted(r["name"] for r in rows) == names           # each exactly once
    assert all(r["value"] == f"value of {r['name']}" for r in rows)


def test_restore_under_faults_reports_exactly_and_a_rerun_finishes(aws, ssm, bucket, prefix,
                                                                    run):
    names = [f"{prefix}/r/p{i:03d}" for i in range(200)]
    load(aws.endpoint, bucket, [Write(n, "value", T0, T0 + 2, 1, f"old {n}") for n in names])
    for n in names:
        ssm.put_parameter(Name=n, Value="changed since", Type="String")
    storm(aws, [("ssm", "PutParameter"), ("ssm", "GetParameters"), ("s3", "GetObject")])
    try:
        first = run("restore", f"{prefix}/r/", iso(T0 + 10), "-b", bucket,
                    env_extra={"AWS_MAX_ATTEMPTS": "2"})
    finally:
        aws.clear_faults()
    restored = {n for n in names
                if ssm.get_parameter(Name=n)["Parameter"]["Value"] == f"old {n}"}
    reported = {line.split(": ")[1] for line in first.stderr.splitlines()
                if ": not restored: " in line or ": not read: " in line}
    if first.returncode == 0:
        assert restored == set(names)
    else:
        assert first.returncode == 1
        assert reported and reported == set(names) - restored, first.stderr[-2000:]
        assert "run the same command again" in first.stderr, first.stderr[-500:]
        # the summary's counts are the true ones (issue 14)
        summary = next(line for line in first.stderr.splitlines() if ": written: " in line)
        assert f"0 created, {len(restored)} updated, 0 deleted" in summary, summary
        failed = sum(": not restored: " in line for line in first.stderr.splitlines())
        unread = sum(": not read: " in line for line in first.stderr.splitlines())
        assert f"failed {failed}; not read {unread};" in summary, summary
    again = run("restore", f"{prefix}/r/", iso(T0 + 10), "-b", bucket)
    assert again.returncode == 0, again.stderr
    assert all(ssm.get_parameter(Name=n)["Parameter"]["Value"] == f"old {n}" for n in names)
    assert run("preview", f"{prefix}/r/", iso(T0 + 10), "-b", bucket).stdout == ""
