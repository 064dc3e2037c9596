"""Issue 14: what could not be captured is recorded and shown as such,
preview is a diff of what restore will do, summaries count truly, and bad
targets or unwritable output are errors, not silence."""
import json
import subprocess

import pytest

from bucketfmt import Write, load

T0 = 1718243666


def iso(t):
    import datetime
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def value(name, event, version=1, val=None, **kw):
    return Write(name, "value", event, event + 2, version,
                 val if val is not None else f"v{version}@{event}", **kw)


@pytest.fixture
def history(aws, bucket):
    def lay(writes):
        load(aws.endpoint, bucket, writes)
    return lay


@pytest.fixture
def go(run, bucket):
    def call(verb, path, t, *extra):
        return run(verb, path, iso(t), "-b", bucket, *extra)
    return call


def rows(out):
    return {r["name"]: r for r in json.loads(out.stdout)}


def test_a_gap_at_time_is_unknown_not_guessed(history, go, ssm, prefix):
    gap = f"{prefix}/gap"
    fine = f"{prefix}/fine"
    history([value(gap, T0, 1, "before"), Write(gap, "gap", T0 + 10, T0 + 12, 2),
             value(fine, T0, 1, "ok")])
    out = go("preview", prefix + "/", T0 + 20, "--output", "json")
    assert out.returncode == 1
    got = rows(out)
    assert got[gap]["action"] == "unknown" and got[gap]["at_time"]["known"] is False
    assert got[gap]["at_time"]["last_known_event_time"] == "2024-06-13T01:54:26Z"
    assert "value" not in got[gap]
    assert f"{gap}: its value at TIME was not captured" in out.stderr
    assert "--use-last-known" in out.stderr
    restored = go("restore", prefix + "/", T0 + 20)
    assert restored.returncode == 1
    assert "(not captured)" in restored.stdout
    assert ssm.get_parameter(Name=fine)["Parameter"]["Value"] == "ok"    # the others are done
    with pytest.raises(ssm.exceptions.ParameterNotFound):
        ssm.get_parameter(Name=gap)
    assert "not captured 1" in restored.stderr
    last = go("restore", prefix + "/", T0 + 20, "--use-last-known")
    assert last.returncode == 0, last.stderr
    assert ssm.get_parameter(Name=gap)["Parameter"]["Value"] == "before"
    # before the gap, nothing is unknown
    assert go("preview", prefix + "/", T0 + 5).returncode == 0


def test_preview_is_a_diff(history, go, ssm, prefix):
    a, b, c, d = (f"{prefix}/{x}" for x in "abcd")
    history([value(a, T0, 1, "A", description="was"), value(b, T0, 1, "B"),
             Write(c, "delete", T0 + 1, T0 + 3, 1), value(d, T0, 1, "D")])
    ssm.put_parameter(Name=a, Value="A2", Type="String", Description="is")
    ssm.put_parameter(Name=c, Value="C now", Type="String")
    ssm.put_parameter(Name=d, Value="D", Type="String")   # same value: a new version only
    out = go("preview", prefix + "/", T0 + 10, "--output", "json")
    assert out.returncode == 0, out.stderr
    got = rows(out)
    assert (got[a]["action"], got[a]["changes"]) == ("update", ["value", "description"])
    assert (got[a]["now"]["value"], got[a]["at_time"]["value"]) == ("A2", "A")
    assert (got[b]["action"], got[b]["now"]["exists"]) == ("create", False)
    assert (got[c]["action"], got[c]["now"]["value"]) == ("delete", "C now")
    assert d not in got       # same state: not shown, though SSM's version differs
    table = go("preview", prefix + "/", T0 + 10, "--diff")
    lines = table.stdout.splitlines()
    assert lines[1].split("|")[1:7] == [" Name" + " " * (len(a) - 4) + " ", " Action ",
                                        " Changes            ", " Now   ", " At TIME ",
                                        " Modified                  "]
    assert any(a in line and "update" in line and "value, description" in line
               for line in lines)
    # the classic layout is the Python tool's, unchanged
    classic = go("preview", prefix + "/", T0 + 10)
    assert classic.stdout.splitlines()[1].split("|")[1:5] == [
        " Name" + " " * (len(a) - 4) + " ", " Value ", " Type   ",
        " Modified                  "]
    restored = go("restore", prefix + "/", T0 + 10, "--output", "json")
    assert {r["name"]: r["outcome"] for r in json.loads(restored.stdout)} == {
        a: "ok", b: "ok", c: "ok"}
    assert go("preview", prefix + "/", T0 + 10).stdout == ""


def test_prune_deletes_what_did_not_exist_at_time(history, go, ssm, prefix):
    old, new, unrecorded = f"{prefix}/old", f"{prefix}/new", f"{prefix}/never"
    history([value(old, T0, 1, "O"), value(new, T0 + 100, 1, "N")])
    ssm.put_parameter(Name=old, Value="O", Type="String")
    ssm.put_parameter(Name=new, Value="N", Type="String")
    ssm.put_parameter(Name=unrecorded, Value="X", Type="String")
    # without --prune (the Python tool's behaviour), later keys are left alone
    plain = rows(go("preview", prefix + "/", T0 + 10, "--output", "json"))
    assert new not in plain and unrecorded not in plain
    pruned = go("preview", prefix + "/", T0 + 10, "--prune", "--output", "json")
    got = rows(pruned)
    assert {n: r["action"] for n, r in got.items()} == {new: "prune", unrecorded: "prune"}
    done = go("restore", prefix + "/", T0 + 10, "--prune")
    assert done.returncode == 0, done.stderr
    assert [p["Name"] for p in ssm.get_parameters(Names=[old, new, unrecorded])["Parameters"]] \
        == [old]
    assert go("preview", prefix + "/", T0 + 10, "--prune").stdout == ""


def test_to_with_a_single_key_gets_a_valid_name(history, go, ssm, prefix):
    k = f"{prefix}/app/db"
    history([value(k, T0, 1, "V")])
    done = go("restore", k, T0 + 1, "--to", f"{prefix}/copy/")
    assert done.returncode == 0, done.stderr
    assert ssm.get_parameter(Name=f"{prefix}/copy/db")["Parameter"]["Value"] == "V"
    too_deep = "/".join(["", *["l"] * 15])
    bad = go("restore", k, T0 + 1, "--to", too_deep + "/")
    assert bad.returncode == 2
    assert "--to makes the name" in bad.stderr and len(bad.stderr.splitlines()) == 1


def test_output_that_cannot_be_written_is_a_failure(history, ssmbak_bin, env, bucket, prefix):
    history([value(f"{prefix}/k", T0, 1, "V")])
    with open("/dev/full", "w") as full:
        out = subprocess.run([ssmbak_bin, "preview", prefix + "/", iso(T0 + 1), "-b", bucket,
                              "--all"], stdout=full, stderr=subprocess.PIPE, env=env, text=True)
    assert out.returncode == 1
    assert "could not be written to standard output" in out.stderr


# --- restores converge (issue 14, case 3) -----------------------------------------


def converges(go, path, t, *extra):
    done = go("restore", path, t, *extra)
    assert done.returncode == 0, done.stderr
    again = go("preview", path, t, *extra)
    assert again.returncode == 0 and again.stdout == "", again.stdout
    return done


def test_a_description_added_since_is_removed(history, go, ssm, prefix):
    k = f"{prefix}/k"
    history([value(k, T0, 1, "v")])
    ssm.put_parameter(Name=k, Value="v", Type="String", Description="added since")
    converges(go, k, T0 + 1)
    described, = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Values": [k]}])["Parameters"]
    assert "Description" not in described or described["Description"] == ""
    versions = len(ssm.get_parameter_history(Name=k)["Parameters"])
    converges(go, k, T0 + 1)        # a rerun writes no further version
    assert len(ssm.get_parameter_history(Name=k)["Parameters"]) == versions


def test_an_allowed_pattern_added_since_is_removed(history, go, ssm, prefix):
    k = f"{prefix}/k"
    history([value(k, T0, 1, "free text")])
    ssm.put_parameter(Name=k, Value="123", Type="String", AllowedPattern="^[0-9]+$")
    converges(go, k, T0 + 1)
    assert ssm.get_parameter(Name=k)["Parameter"]["Value"] == "free text"


def test_back_to_standard_needs_recreate(history, go, ssm, prefix):
    k = f"{prefix}/k"
    history([value(k, T0, 1, "v", tier="Standard")])
    ssm.put_parameter(Name=k, Value="w", Type="String", Tier="Advanced")
    shown = go("preview", k, T0 + 1, "--output", "json")
    assert json.loads(shown.stdout)[0]["action"] == "recreate"
    assert "needs --recreate" in shown.stderr
    refused = go("restore", k, T0 + 1)
    assert refused.returncode == 1
    assert "--recreate" in refused.stderr
    assert ssm.get_parameter(Name=k)["Parameter"]["Value"] == "w"   # nothing written
    done = converges(go, k, T0 + 1, "--recreate")
    assert "history of it restarts" in done.stderr
    described, = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Values": [k]}])["Parameters"]
    assert (described["Tier"], ssm.get_parameter(Name=k)["Parameter"]["Value"]) == \
        ("Standard", "v")


def test_an_ec2_image_value_counts_only_once_ssm_accepts_it(history, run, bucket, ssm, aws,
                                                            prefix):
    good, bad = f"{prefix}/ami", f"{prefix}/bad"
    history([value(good, T0, 1, "ami-0123456789abcdef0", data_type="aws:ec2:image"),
             value(bad, T0, 1, "not-an-ami", data_type="aws:ec2:image")])
    aws.control("POST", "ssm/validation", {"delay_ms": 500})
    try:
        out = run("restore", prefix + "/", iso(T0 + 1), "-b", bucket, "--output", "json",
                  env_extra={"SSMBAK_CONFIRM_SECONDS": "5"})
    finally:
        aws.control("POST", "ssm/validation", {"delay_ms": 50})
    assert out.returncode == 1
    outcomes = {r["name"]: r["outcome"] for r in json.loads(out.stdout)}
    assert outcomes == {good: "ok", bad: "failed"}
    assert "was not accepted" in out.stderr
    assert ssm.get_parameter(Name=good)["Parameter"]["Value"] == "ami-0123456789abcdef0"
