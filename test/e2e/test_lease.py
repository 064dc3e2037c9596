"""One restore at a time per bucket, key prefix and overlapping PATH
(issue 14; FORMAT.md, "Leases"). A restore keeps its lease in
.ssmbak/leases/restores, written only with S3 conditional writes; a slow
restore is made with a delay on SSM PutParameter, so another can try its
luck while the first holds the lease."""
import json
import os
import socket
import subprocess
import time

import pytest

TABLE = ".ssmbak/leases/restores"
ARN = "arn:aws:iam::000000000000:root"  # localaws: the test keys are the account's


@pytest.fixture
def tree(run, ssm, bucket, prefix):
    """/PREFIX/a/{1,2} and /PREFIX/b/1 backed up, then changed in SSM, so
    a restore to now has puts to make. Returns the backed-up values."""
    values = {f"{prefix}/a/1": "alpha-one-SECRETVALUE", f"{prefix}/a/2": "alpha-two",
              f"{prefix}/b/1": "beta-one"}
    for name, v in values.items():
        ssm.put_parameter(Name=name, Value=v, Type="SecureString" if "SECRET" in v else "String")
    done = run("backfill", "--name-prefix", prefix, "--do-it", "-b", bucket)
    assert done.returncode == 0, done.stderr
    time.sleep(1.1)  # the restore's TIME "now" is after the backfill's second
    for name in values:
        ssm.put_parameter(Name=name, Value="changed", Type="String", Overwrite=True)
    return values


def table(s3, bucket):
    try:
        body = s3.get_object(Bucket=bucket, Key=TABLE)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return json.loads(body)


def holders(s3, bucket):
    t = table(s3, bucket)
    return [] if t is None else t["leases"]


def slow_puts(aws, ms=2500):
    aws.fault(service="ssm", operation="PutParameter", kind="delay", delay_ms=ms)


def start(ssmbak_bin, env, *args, env_extra=None):
    return subprocess.Popen([ssmbak_bin, *args], env={**env, **(env_extra or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_lease(s3, bucket, timeout=20):
    until = time.time() + timeout
    while time.time() < until:
        if holders(s3, bucket):
            return holders(s3, bucket)
        time.sleep(0.05)
    raise AssertionError("no restore took the lease")


def finish(process):
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


def test_two_overlapping_restores_at_once_one_refuses_naming_the_holder(
        ssmbak_bin, env, aws, s3, ssm, bucket, prefix, tree):
    slow_puts(aws)
    both = [start(ssmbak_bin, env, "restore", f"{prefix}/", "now", "-R", "-b", bucket),
            start(ssmbak_bin, env, "restore", f"{prefix}/a/", "now", "-b", bucket)]
    results = [finish(p) for p in both]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 1], results
    winner = both[[code for code, _, _ in results].index(0)]
    _, _, refused = results[[code for code, _, _ in results].index(1)]
    line, = refused.strip().splitlines()
    assert "overlaps the restore of " + ARN in line
    assert f"pid {winner.pid}" in line and f"host {os.uname().nodename}" in line
    assert "--force" in line
    assert holders(s3, bucket) == []


def test_a_lease_names_who_when_what_and_holds_no_value(
        ssmbak_bin, env, aws, s3, ssm, bucket, prefix, tree):
    slow_puts(aws)
    before = time.time()
    holder = start(ssmbak_bin, env, "restore", f"{prefix}/a/", "now", "-b", bucket)
    lease, = wait_for_lease(s3, bucket)
    code, _, err = finish(holder)
    assert code == 0, err
    assert lease["holder"] == ARN and lease["pid"] == holder.pid
    assert lease["host"] == os.uname().nodename
    assert lease["path"] == f"{prefix}/a/" and lease["scope"] == f"{prefix}/a"
    assert lease["key_prefix"] == "" and lease["command"] == "restore"
    assert before - 2 <= lease["acquired"] <= time.time() + 2
    assert lease["expires"] == lease["acquired"] + 900
    assert abs(lease["time"] - before) < 5
    # No version of the table ever held a value (or any part of one).
    versions = s3.list_object_versions(Bucket=bucket, Prefix=".ssmbak/leases/")
    assert len(versions.get("Versions", [])) >= 2  # taken, given back
    for v in versions["Versions"]:
        body = s3.get_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])["Body"].read()
        for value in tree.values():
            assert value.encode() not in body
        assert b"SECRETVALUE" not in body


def test_a_restore_of_another_tree_runs_alongside(
        ssmbak_bin, env, run, aws, s3, ssm, bucket, prefix, tree):
    slow_puts(aws, 3000)
    holder = start(ssmbak_bin, env, "restore", f"{prefix}/a/", "now", "-b", bucket)
    wait_for_lease(s3, bucket)
    other = run("restore", f"{prefix}/b/", "now", "-b", bucket)
    assert other.returncode == 0, other.stderr
    assert ssm.get_parameter(Name=f"{prefix}/b/1")["Parameter"]["Value"] == "beta-one"
    # A name that shares a prefix with the tree but not a level: /PREFIX/ab.
    ssm.put_parameter(Name=f"{prefix}/ab", Value="x", Type="String")
    assert run("restore", f"{prefix}/ab", "now", "-b", bucket).returncode == 0
    # Preview takes no lease and is never refused.
    assert run("preview", f"{prefix}/a/", "now", "-b", bucket).returncode == 0
    code, _, err = finish(holder)
    assert code == 0, err
    assert holders(s3, bucket) == []


@pytest.mark.parametrize("argv", [["{p}/", "-R"], ["{p}/a/1"], ["/", "-R"],
                                  ["{p}/b/", "--to", "{p}/a/copy/"]],
                         ids=["parent", "key inside", "root", "to inside"])
def test_overlapping_forms_refuse(ssmbak_bin, env, run, aws, s3, bucket, prefix, tree, argv):
    slow_puts(aws, 3000)
    holder = start(ssmbak_bin, env, "restore", f"{prefix}/a/", "now", "-b", bucket)
    wait_for_lease(s3, bucket)
    out = run("restore", *[a.format(p=prefix) for a in argv[:1]], "now",
              *[a.format(p=prefix) for a in argv[1:]], "-b", bucket)
    assert out.returncode == 1, out.stderr
    assert "overlaps the restore of" in out.stderr and len(out.stderr.splitlines()) == 1
    assert out.stdout == ""
    finish(holder)


def test_force_takes_over(ssmbak_bin, env, run, aws, s3, ssm, bucket, prefix, tree):
    slow_puts(aws, 3000)
    holder = start(ssmbak_bin, env, "restore", f"{prefix}/a/", "now", "-b", bucket)
    first, = wait_for_lease(s3, bucket)
    forced = run("restore", f"{prefix}/", "now", "-R", "--force", "-b", bucket)
    assert forced.returncode == 0, forced.stderr
    assert f"--force: taking over the restore lease of {ARN}" in forced.stderr
    assert f"pid {holder.pid}" in forced.stderr
    code, _, err = finish(holder)
    assert code == 0, err
    assert holders(s3, bucket) == []
    assert run("preview", f"{prefix}/", "now", "-R", "--force", "-b", bucket).returncode == 2


def plant(s3, bucket, expires_in, holder="arn:aws:iam::000000000000:user/gone",
          path=None, prefix="/", host="elsewhere", pid=99999):
    """A lease left by another restore, on S3's clock."""
    now = int(time.time())
    entry = {"id": "0" * 32, "command": "restore", "holder": holder, "host": host,
             "pid": pid, "path": path or prefix, "scope": (path or prefix).rstrip("/"),
             "key_prefix": "", "time": now - 3600, "acquired": now - 7200,
             "expires": now + expires_in}
    s3.put_object(Bucket=bucket, Key=TABLE, Body=json.dumps({"format": 1, "leases": [entry]}))


def test_a_live_lease_refuses_with_its_holder(run, s3, ssm, bucket, prefix, tree):
    plant(s3, bucket, 600, path=f"{prefix}/")
    out = run("restore", f"{prefix}/a/1", "now", "-b", bucket)
    assert out.returncode == 1
    line, = out.stderr.strip().splitlines()
    assert f"{prefix}/a/1 overlaps the restore of arn:aws:iam::000000000000:user/gone " \
           "(host elsewhere, pid 99999)" in line
    assert f"restoring {prefix}/ to " in line and "its lease ends" in line
    assert ssm.get_parameter(Name=f"{prefix}/a/1")["Parameter"]["Value"] == "changed"
    assert len(holders(s3, bucket)) == 1


def test_an_expired_lease_is_taken_over(run, s3, ssm, bucket, prefix, tree):
    plant(s3, bucket, -5, path=f"{prefix}/")
    out = run("restore", f"{prefix}/a/", "now", "-b", bucket)
    assert out.returncode == 0, out.stderr
    assert ssm.get_parameter(Name=f"{prefix}/a/2")["Parameter"]["Value"] == "alpha-two"
    assert holders(s3, bucket) == []


def dead_pid():
    """The pid of a process that has just ended."""
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_a_lease_left_on_this_host_by_a_gone_process_is_removed(run, s3, ssm, bucket, prefix,
                                                                tree):
    """A restore that could not give its lease back (S3 failed every try)
    must not block "run the same command again" for 15 minutes: the next
    restore of the same holder on the same host sees the process is gone."""
    plant(s3, bucket, 600, holder=ARN, path=f"{prefix}/", host=socket.gethostname(),
          pid=dead_pid())
    out = run("restore", f"{prefix}/a/", "now", "-b", bucket)
    assert out.returncode == 0, out.stderr
    assert f"removing the restore lease of {ARN} (host {socket.gethostname()}" in out.stderr
    assert "its process on this host is gone" in out.stderr
    assert ssm.get_parameter(Name=f"{prefix}/a/2")["Parameter"]["Value"] == "alpha-two"
    assert holders(s3, bucket) == []


@pytest.mark.parametrize("who", ["live process", "other holder", "other host"])
def test_a_lease_whose_process_may_live_still_refuses(run, s3, ssm, bucket, prefix, tree, who):
    holder = "arn:aws:iam::000000000000:user/other" if who == "other holder" else ARN
    host = "elsewhere" if who == "other host" else socket.gethostname()
    pid = os.getpid() if who == "live process" else dead_pid()
    plant(s3, bucket, 600, holder=holder, path=f"{prefix}/", host=host, pid=pid)
    out = run("restore", f"{prefix}/a/", "now", "-b", bucket)
    assert out.returncode == 1, out.stderr
    assert "overlaps the restore of" in out.stderr
    assert ssm.get_parameter(Name=f"{prefix}/a/2")["Parameter"]["Value"] == "changed"
    assert len(holders(s3, bucket)) == 1


def test_a_restore_that_fails_halfway_gives_its_lease_back(run, aws, s3, ssm, bucket, prefix,
                                                          tree):
    aws.fault(service="ssm", operation="PutParameter", kind="error500")
    failed = run("restore", f"{prefix}/a/", "now", "-b", bucket)
    assert failed.returncode == 1
    assert "not restored" in failed.stderr
    assert holders(s3, bucket) == []
    aws.clear_faults()
    # One that dies before writing (the listing fails for good) too.
    aws.fault(service="s3", operation="ListObjectVersions", kind="error500")
    died = run("restore", f"{prefix}/a/", "now", "-b", bucket)
    assert died.returncode == 1
    assert holders(s3, bucket) == []
    aws.clear_faults()
    assert run("restore", f"{prefix}/a/", "now", "-b", bucket).returncode == 0


def test_a_fault_on_the_lease_table_outlasts_the_usual_retries(run, aws, s3, ssm, bucket,
                                                               prefix, tree):
    # The lease table is the first object a restore reads: with two
    # attempts a request, three failing reads stopped the whole restore.
    aws.fault(service="s3", operation="GetObject", kind="error500", count=3)
    aws.fault(service="s3", operation="PutObject", kind="throttle", count=2)
    done = run("restore", f"{prefix}/a/", "now", "-b", bucket, env_extra={"AWS_MAX_ATTEMPTS": "2"})
    aws.clear_faults()
    assert done.returncode == 0, done.stderr
    assert "could not take the restore lease" in done.stderr
    assert ssm.get_parameter(Name=f"{prefix}/a/2")["Parameter"]["Value"] == "alpha-two"
    assert holders(s3, bucket) == []


def test_a_refused_lease_table_is_not_retried(run, aws, s3, ssm, bucket, prefix, tree):
    denied = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>"
              "<Message>Access Denied</Message><RequestId>1</RequestId></Error>")
    aws.fault(service="s3", operation="GetObject", kind="malformed", mutation="body",
              body=denied, status=403)
    started = time.time()
    done = run("restore", f"{prefix}/a/", "now", "-b", bucket)
    aws.clear_faults()
    assert done.returncode != 0
    assert "could not take the restore lease" not in done.stderr
    assert time.time() - started < 5
    assert ssm.get_parameter(Name=f"{prefix}/a/2")["Parameter"]["Value"] == "changed"


def test_a_long_restore_renews_its_lease(ssmbak_bin, env, run, aws, s3, bucket, prefix, tree):
    """With 5-second leases, renewed every second, a restore that runs for
    about 9 seconds (its puts run at once, each 9 s) still holds its lease
    at second 6."""
    aws.fault(service="ssm", operation="PutParameter", kind="delay", delay_ms=9000)
    short = {"SSMBAK_LEASE_SECONDS": "5"}
    holder = start(ssmbak_bin, env, "restore", f"{prefix}/a/", "now", "-b", bucket,
                   env_extra=short)
    first, = wait_for_lease(s3, bucket)
    assert first["expires"] - first["acquired"] == 5
    time.sleep(6)
    renewed, = holders(s3, bucket)
    assert renewed["expires"] > first["expires"]
    out = run("restore", f"{prefix}/a/", "now", "-b", bucket, env_extra=short)
    assert out.returncode == 1 and "overlaps the restore of" in out.stderr
    code, _, err = finish(holder)
    assert code == 0, err
    assert holders(s3, bucket) == []


def test_leases_of_other_key_prefixes_do_not_overlap(run, s3, ssm, bucket, prefix, tree):
    plant(s3, bucket, 600, path="/")
    out = run("restore", f"{prefix}/a/", "now", "-b", bucket, "--key-prefix", "acct/us-east-1")
    assert "overlaps the restore" not in out.stderr
    assert out.returncode == 0, out.stderr
    assert len(holders(s3, bucket)) == 1
