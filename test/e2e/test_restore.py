"""preview and restore against localaws: each history in the issue and in
UPSTREAM.md is a story here, with the answer the definition gives."""
import json
import random

import pytest

from bucketfmt import Write, expected_state, load

T0 = 1718243666  # 2024-06-13T01:54:26Z, the seed README's event


def iso(t):
    import datetime
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def value(name, event, written=None, version=1, val=None, **kw):
    return Write(name, "value", event, event + 2 if written is None else written, version,
                 val if val is not None else f"v{version}@{event}", **kw)


def delete(name, event, written=None):
    return Write(name, "delete", event, event + 2 if written is None else written)


@pytest.fixture
def history(aws, bucket):
    def lay(writes):
        load(aws.endpoint, bucket, writes)
    return lay


@pytest.fixture
def preview(run, bucket):
    def go(path, t, *extra, verb="preview"):
        return run(verb, path, t if isinstance(t, str) else iso(t), "-b", bucket, *extra)
    return go


def rows(result):
    assert result.returncode == 0, result.stderr
    return {r["name"]: r for r in json.loads(result.stdout)}


def state(preview, path, t, *extra):
    return rows(preview(path, t, "--all", "--output", "json", *extra))


def test_seed_readme_story(history, preview, ssm, prefix):
    """The seed README's quickstart: put, delete, preview in between, restore."""
    name = f"{prefix}/deep/yay"
    history([value(name, T0, val="hihi"), delete(name, T0 + 120)])
    out = preview(prefix, T0 + 60, "--recursive")
    assert out.returncode == 0, out.stderr
    width = len(name)
    bar = f"+-{'-' * width}-+-------+--------+---------------------------+"
    assert out.stdout == "\n".join([
        bar,
        f"| {'Name'.ljust(width)} | Value | Type   | Modified                  |",
        bar,
        f"| {name} | hihi  | String | 2024-06-13 01:54:26+00:00 |",
        bar, ""])
    restored = preview(prefix, T0 + 60, "--recursive", verb="restore")
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout == out.stdout
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "hihi"
    again = preview(prefix, T0 + 60, "--recursive")
    assert again.returncode == 0 and again.stdout == ""


def test_exact_second_is_inclusive(history, preview, prefix):
    history([value(f"{prefix}/a", T0)])
    assert f"{prefix}/a" in state(preview, prefix + "/", T0)
    assert state(preview, prefix + "/", T0 - 1) == {}


def test_deleted_then_recreated(history, preview, prefix):
    k = f"{prefix}/k"
    history([value(k, T0, version=1, val="first"), delete(k, T0 + 100),
              value(k, T0 + 200, version=1, val="second")])
    assert state(preview, k, T0 + 50)[k]["value"] == "first"
    assert state(preview, k, T0 + 150)[k]["deleted"] is True
    assert state(preview, k, T0 + 250)[k]["value"] == "second"


def test_stale_delete_written_after_newer_backup(history, preview, prefix):
    """A delete processed late (after the recreate was already recorded)
    must not hide the recreate: its time is its event's, not its write's."""
    k = f"{prefix}/k"
    history([value(k, T0, version=3, val="old"),
              value(k, T0 + 200, written=T0 + 201, version=1, val="recreated"),
              delete(k, T0 + 100, written=T0 + 400)])
    assert state(preview, k, T0 + 150)[k]["deleted"] is True
    assert state(preview, k, T0 + 500)[k]["value"] == "recreated"


def test_two_changes_in_the_same_second(history, preview, prefix):
    k = f"{prefix}/k"
    history([value(k, T0, written=T0 + 5, version=6, val="six"),
              value(k, T0, written=T0 + 9, version=5, val="five")])
    assert state(preview, k, T0)[k]["value"] == "six"


def test_reordered_late_processing(history, preview, prefix):
    k = f"{prefix}/k"
    history([value(k, T0 + 200, written=T0 + 250, version=2, val="newer"),
              value(k, T0 + 100, written=T0 + 300, version=1, val="older")])
    assert state(preview, k, T0 + 150)[k]["value"] == "older"
    assert state(preview, k, T0 + 260)[k]["value"] == "newer"
    assert state(preview, k, T0 + 400)[k]["value"] == "newer"


def test_key_path_and_recursive(history, preview, prefix):
    names = [f"{prefix}/x", f"{prefix}/xa", f"{prefix}/x/y", f"{prefix}/x/y/z"]
    history([value(n, T0) for n in names])
    t = T0 + 10
    assert set(state(preview, f"{prefix}/x", t)) == {f"{prefix}/x"}
    assert set(state(preview, f"{prefix}/x/", t)) == {f"{prefix}/x/y"}
    assert set(state(preview, f"{prefix}/x/", t, "-R")) == {f"{prefix}/x/y", f"{prefix}/x/y/z"}
    assert set(state(preview, prefix, t)) == {f"{prefix}/x", f"{prefix}/xa"}
    assert set(state(preview, prefix, t, "--recursive")) == set(names)
    assert state(preview, f"{prefix}/x/y/zz", t) == {}
    assert state(preview, prefix[:-1], t, "-R") == {}


def test_names_with_dots_dashes_underscores(history, preview, prefix):
    names = [f"{prefix}/a.b/c-d/e_f", f"{prefix}/a.b/c-d/g.h-i_j"]
    history([value(n, T0) for n in names])
    assert set(state(preview, f"{prefix}/a.b/c-d", T0 + 1)) == set(names)


def test_empty_tree(history, preview, prefix):
    out = preview(f"{prefix}/nothing/", T0)
    assert out.returncode == 0 and out.stdout == ""


def test_old_tool_bucket(history, preview, prefix):
    """Format 1: tags only, deletes as plain markers timed by LastModified,
    and no format marker: every version's tags are read."""
    k = f"{prefix}/k"
    history([Write(k, "legacy_value", T0, T0 + 30, 0, "one", description="a;b,c"),
             Write(k, "legacy_delete", 0, T0 + 100),
             Write(k, "legacy_value", T0 + 200, T0 + 5000, 0, "two")])
    assert state(preview, k, T0 + 50)[k]["value"] == "one"
    assert state(preview, k, T0 + 50)[k]["description"] == "abc"
    assert state(preview, k, T0 + 150)[k]["deleted"] is True
    assert state(preview, k, T0 + 300)[k]["value"] == "two"


def test_top_level_name_without_slash(history, preview, ssm, prefix):
    name = prefix[1:]  # "tXXXX", stored under key "/tXXXX"
    history([value(name, T0, val="bare")])
    restored = preview("/" + name, T0 + 1, verb="restore")
    assert restored.returncode == 0, restored.stderr
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "bare"


def test_restore_puts_back_full_metadata(history, preview, ssm, prefix):
    k = f"{prefix}/secret"
    description = "clé d'accès; «prod» — (rotated)"
    history([value(k, T0, val="s3cr3t", type="SecureString", description=description,
                   tier="Advanced", key_id="alias/aws/ssm", data_type="text",
                   allowed_pattern="^[a-z0-9]+$")])
    table = preview(prefix, T0 + 1)
    assert "s3cr3t" not in table.stdout and "********" in table.stdout
    assert "value" not in rows(preview(prefix, T0 + 1, "--output", "json"))[k]
    shown = rows(preview(prefix, T0 + 1, "--output", "json", "--show-secure"))
    assert shown[k]["value"] == "s3cr3t"
    out = preview(prefix, T0 + 1, verb="restore")
    assert out.returncode == 0, out.stderr
    assert "s3cr3t" not in out.stdout + out.stderr
    got = ssm.get_parameter(Name=k, WithDecryption=True)["Parameter"]
    assert (got["Value"], got["Type"]) == ("s3cr3t", "SecureString")
    meta = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": [k]}])["Parameters"][0]
    assert meta["Description"] == description
    assert meta["Tier"] == "Advanced"
    assert meta["AllowedPattern"] == "^[a-z0-9]+$"


def test_restore_deletes_in_batches_of_ten(history, preview, ssm, aws, prefix):
    names = [f"{prefix}/d{i:02d}" for i in range(25)]
    history([value(n, T0) for n in names] + [delete(n, T0 + 100) for n in names])
    for n in names:
        ssm.put_parameter(Name=n, Value="still here", Type="String")
    aws.reset_counters()
    out = preview(prefix, T0 + 200, verb="restore")
    assert out.returncode == 0, out.stderr
    deleted = [row for row in out.stdout.splitlines() if row.rstrip("|").rstrip().endswith("| yes")]
    assert len(deleted) == 25, out.stdout
    assert aws.counters()["ssm"]["DeleteParameters"] == 3
    left = ssm.get_parameters(Names=names[:10])["InvalidParameters"]
    assert sorted(left) == names[:10]


def test_partial_failure_is_reported_and_rerun_finishes(history, preview, ssm, aws, run, bucket, prefix):
    names = [f"{prefix}/p{i}" for i in range(6)]
    history([value(n, T0, val=f"value-{n[-1]}") for n in names])
    aws.fault(service="ssm", operation="PutParameter", kind="error500", rate=1.0)
    failed = run("restore", prefix, iso(T0 + 1), "-b", bucket, env_extra={"AWS_MAX_ATTEMPTS": "2"})
    assert failed.returncode == 1
    assert failed.stdout == ""
    for n in names:
        assert f"{n}: not restored: SSM PutParameter: InternalServerError" in failed.stderr
    assert "run the same command again" in failed.stderr
    assert all("value-" not in line for line in failed.stderr.splitlines())
    aws.clear_faults()
    done = run("restore", prefix, iso(T0 + 1), "-b", bucket)
    assert done.returncode == 0, done.stderr
    assert sorted(p["Name"] for p in ssm.get_parameters(Names=names)["Parameters"]) == names


def test_restore_to_another_path(history, preview, ssm, prefix):
    history([value(f"{prefix}/app/a", T0, val="A"), value(f"{prefix}/app/b/c", T0, val="C"),
             delete(f"{prefix}/app/gone", T0 + 5)])
    ssm.put_parameter(Name=f"{prefix}/app/gone", Value="live", Type="String")
    out = preview(f"{prefix}/app", T0 + 10, "-R", "--to", f"{prefix}/copy", verb="restore")
    assert out.returncode == 0, out.stderr
    assert ssm.get_parameter(Name=f"{prefix}/copy/a")["Parameter"]["Value"] == "A"
    assert ssm.get_parameter(Name=f"{prefix}/copy/b/c")["Parameter"]["Value"] == "C"
    assert ssm.get_parameter(Name=f"{prefix}/app/gone")["Parameter"]["Value"] == "live"


@pytest.mark.parametrize("bad, message", [
    (["/a", "yesterday"], "is not a time"),
    (["/a", "2999-01-01T00:00:00"], "in the future"),
    (["/a b", "now"], "characters a parameter name cannot have"),
    (["/a"], "PATH and TIME are required"),
    (["/a", "now", "extra"], "too many arguments"),
    (["/a", "now", "--output", "yaml"], "--output must be table or json"),
])
def test_bad_input_is_one_line_and_exit_2(run, bad, message):
    out = run("preview", *bad, "-b", "some-bucket")
    assert out.returncode == 2
    assert out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert message in out.stderr


def random_history(rng, prefix, keys=12, kinds=("", "_unindexed", "legacy_")):
    """Creates, updates, deletes and recreates of a few keys (some nested),
    same-second collisions, and writes delayed and reordered by up to an
    hour; each write of a random flavour: format 3, format 3 whose writer
    died before the index entry, or format 1 (the Python tool)."""
    writes = []
    for k in range(keys):
        name = f"{prefix}/r/k{k}" if k % 4 else f"{prefix}/r/sub/k{k}"
        t, version = T0, 0
        for _ in range(rng.randint(1, 9)):
            t += rng.choice([0, 1, rng.randint(1, 3000)])
            delay = rng.choice([0, 1, 2, rng.randint(0, 3500)])
            flavour = rng.choice(kinds)
            if rng.random() < 0.25 and version:
                kind = "legacy_delete" if flavour == "legacy_" else "delete" + flavour
                writes.append(Write(name, kind, t, t + delay, version))
                version = 0
            else:
                version += 1
                kind = "legacy_value" if flavour == "legacy_" else "value" + flavour
                writes.append(Write(name, kind, t, t + delay + 0.3,
                                    0 if flavour == "legacy_" else version,
                                    f"v{version}@{t}"))
    writes.sort(key=lambda w: w.written_at)
    return writes


@pytest.mark.parametrize("seed", range(25))
@pytest.mark.parametrize("kinds", [("",), ("legacy_",), ("", "_unindexed", "legacy_")],
                         ids=["format3", "format1", "mixed"])
def test_random_histories_match_the_definition(history, preview, prefix, seed, kinds):
    """FORMAT.md's rule implemented directly (bucketfmt.expected_state)
    against preview, for random TIMEs, paths and -R."""
    rng = random.Random(seed)
    writes = random_history(rng, prefix, kinds=kinds)
    history(writes)
    last = max(w.written_at for w in writes)
    for _ in range(6):
        t = rng.randint(T0 - 100, int(last) + 100)
        want_values, want_deleted = expected_state(writes, t)
        recursive = rng.random() < 0.5
        got = state(preview, f"{prefix}/r/", t, *(("-R",) if recursive else ()))
        def scoped(names):
            return {n for n in names if recursive or "/sub/" not in n}
        assert {n for n, r in got.items() if not r["deleted"]} == scoped(want_values), t
        assert {n for n, r in got.items() if r["deleted"]} == scoped(want_deleted), t
        for n in scoped(want_values):
            assert got[n]["value"] == want_values[n].value, (t, n)


def test_requests_grow_with_keys_not_history(history, preview, aws, prefix):
    """200 keys x 20 versions two hours apart, TIME in the middle: at most 3
    S3 requests per key (the Python tool makes one per version: 21)."""
    writes = []
    for k in range(200):
        for v in range(1, 21):
            writes.append(value(f"{prefix}/big/k{k:03d}", T0 + v * 7200, version=v))
    writes.sort(key=lambda w: w.written_at)
    history(writes)
    aws.reset_counters()
    out = state(preview, f"{prefix}/big/", T0 + 10 * 7200 + 60)
    assert len(out) == 200
    assert all(r["value"] == f"v10@{T0 + 10 * 7200}" for r in out.values())
    s3_requests = sum(aws.counters()["s3"].values())
    assert s3_requests / 200 <= 3, aws.counters()


def test_progress_counter_only_on_a_terminal(history, aws, ssm, ssmbak_bin, env, bucket, prefix):
    import subprocess
    from conftest import run_with_stderr_on_a_terminal
    names = [f"{prefix}/p/k{i}" for i in range(12)]
    history([value(n, T0) for n in names])
    args = [ssmbak_bin, "restore", f"{prefix}/p/", iso(T0 + 1), "-b", bucket]
    code, seen = run_with_stderr_on_a_terminal(args, env)
    assert code == 0
    assert b"writing 1/12" in seen and seen.endswith(b"\r\x1b[K")  # lib/progress
    for n in names:  # something to restore again
        ssm.put_parameter(Name=n, Value="changed", Type="String", Overwrite=True)
    piped = subprocess.run(args, env=env, capture_output=True, text=True)
    assert piped.returncode == 0 and piped.stdout.count(f"{prefix}/p/k") == 12
    assert "writing" not in piped.stderr


@pytest.mark.parametrize("spelling", [["--region", "us-east-1"], ["--reg", "us-east-1"],
                                      ["--region=us-east-1"], ["-r", "us-east-1"],
                                      ["-rus-east-1"], ["-vr", "us-east-1"]])
def test_option_spellings_around_the_arguments(run, bucket, spelling):
    """Options before or after PATH TIME, in every spelling getopt takes,
    beside a relative TIME that looks like an option."""
    for args in ([*spelling, "/nothing/", "-1d"], ["/nothing/", "-1d", *spelling]):
        out = run("preview", *args, "-b", bucket, "-v")
        assert out.returncode == 0, (args, out.stderr)
        assert "region us-east-1 (from --region)" in out.stderr, (args, out.stderr)


def test_writer_died_between_data_and_index(history, preview, prefix):
    """A data version without its index entry is read from its tags."""
    k = f"{prefix}/k"
    history([value(k, T0, version=1, val="one"),
             Write(k, "value_unindexed", T0 + 10, T0 + 12, 2, "two"),
             Write(k, "delete_unindexed", T0 + 20, T0 + 30)])
    assert state(preview, k, T0 + 5)[k]["value"] == "one"
    assert state(preview, k, T0 + 15)[k]["value"] == "two"
    # an unindexed delete marker is a delete at its LastModified (format 1)
    assert state(preview, k, T0 + 25)[k]["value"] == "two"
    assert state(preview, k, T0 + 30)[k]["deleted"] is True


# --- reindex -------------------------------------------------------------------------


def summary_line(result):
    return result.stderr.strip().splitlines()[-1]


def test_reindex_makes_an_old_tool_bucket_cheap_and_keeps_every_answer(
        history, preview, run, aws, bucket, prefix):
    rng = random.Random(11)
    writes = random_history(rng, prefix, keys=20, kinds=("legacy_", "_unindexed"))
    history(writes)
    last = int(max(w.written_at for w in writes)) + 100
    times = [rng.randint(T0 - 100, last) for _ in range(5)]
    before = [state(preview, f"{prefix}/r/", t, "-R") for t in times]
    aws.reset_counters()
    state(preview, f"{prefix}/r/", last, "-R")
    tags_before = aws.counters()["s3"].get("GetObjectTagging", 0)

    dry = run("reindex", f"{prefix}/", "-R", "--dry-run", "-b", bucket)
    assert dry.returncode == 0, dry.stderr
    n_data = sum(1 for w in writes if not w.indexed)
    assert f"{n_data} to write (dry run" in summary_line(dry)
    assert aws.counters()["s3"].get("PutObject", 0) == 0

    done = run("reindex", f"{prefix}/", "-R", "-b", bucket)
    assert done.returncode == 0, done.stderr
    assert f"0 indexed already, {n_data} written, 0 failed" in summary_line(done)
    again = run("reindex", f"{prefix}/", "-R", "-b", bucket)
    assert again.returncode == 0, again.stderr
    assert f"{n_data} indexed already, 0 written, 0 failed" in summary_line(again)

    after = [state(preview, f"{prefix}/r/", t, "-R") for t in times]
    for t, b, a in zip(times, before, after):
        for name in sorted(set(b) | set(a)):
            assert b.get(name) == a.get(name), (t, name)
    aws.reset_counters()
    preview(f"{prefix}/r/", last, "-R", "--output", "json")
    counts = aws.counters()["s3"]
    # choosing reads no tags any more; only winners without metadata that
    # differ from SSM need theirs (here: all, SSM is empty)
    assert counts.get("GetObjectTagging", 0) < tags_before
    assert counts.get("GetObjectTagging", 0) <= counts.get("GetObject", 0)


def test_reindex_reports_a_version_without_ssmbak_tags(run, aws, s3, bucket, prefix):
    s3.put_object(Bucket=bucket, Key=f"{prefix}/stray", Body=b"x")
    out = run("reindex", f"{prefix}/", "-b", bucket)
    assert out.returncode == 1
    assert f"{prefix}/stray version" in out.stderr and "no ssmbakTime tag" in out.stderr


def test_a_large_tree_is_listed_in_ranges_and_answers_the_same(history, preview, aws, prefix):
    """Five subtrees of 300 keys: -R lists the top level once, then four key
    ranges at once (each a data and an index listing of one page) instead
    of one chain of pages; the answer is the definition's."""
    writes = [value(f"{prefix}/t/{sub}/k{i:03d}", T0 + i, version=1, val=f"{sub}{i}")
              for sub in "abcde" for i in range(300)]
    writes += [value(f"{prefix}/t/top", T0, version=1, val="top")]
    history(writes)
    aws.reset_counters()
    got = state(preview, f"{prefix}/t/", T0 + 1000, "-R")
    assert {n: r["value"] for n, r in got.items()} == {w.name: w.value for w in writes}
    lists = aws.counters()["s3"]["ListObjectVersions"]
    # 1 top-level listing + 4 ranges x 2 listings, one page each; one chain
    # of 1,501 versions would be 2 listings x 2 pages
    assert lists == 9, lists


def test_old_tool_winner_keeps_its_own_type_and_description(history, preview, ssm, prefix):
    """Issue 13, wrong answer 1: on a format 1 key with a delete marker
    followed by two versions, the winner's type and description are its
    own, not another version's (a SecureString must not become a String,
    nor the reverse)."""
    k = f"{prefix}/k"
    history([Write(k, "legacy_value", T0, T0 + 1, 0, "A", type="SecureString",
                   description="secret one"),
             Write(k, "legacy_delete", T0 + 100, T0 + 100),
             Write(k, "legacy_value", T0 + 110, T0 + 111, 0, "new", description="B"),
             Write(k, "legacy_value", T0 + 210, T0 + 211, 0, "newer", description="C")])
    got = state(preview, k, T0 + 150, "--show-secure")[k]
    assert (got["value"], got["type"], got["description"]) == ("new", "String", "B")
    got = state(preview, k, T0 + 50, "--show-secure")[k]
    assert (got["value"], got["type"], got["description"]) == ("A", "SecureString",
                                                                "secret one")
    assert preview(k, T0 + 150, verb="restore").returncode == 0
    p = ssm.get_parameter(Name=k)["Parameter"]
    assert (p["Value"], p["Type"]) == ("new", "String")
    described, = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Values": [k]}])["Parameters"]
    assert described["Description"] == "B"


def test_old_tool_restore_writes_the_recorded_description(history, preview, ssm, prefix):
    """Issue 13, wrong answer 2: restore writes what preview shows, the
    recorded (format 1) description included, so a rerun has nothing to do."""
    k = f"{prefix}/k"
    history([Write(k, "legacy_value", T0, T0 + 1, 0, "v", description="as recorded")])
    ssm.put_parameter(Name=k, Value="v", Type="String", Description="changed since")
    shown = state(preview, k, T0 + 5)[k]
    assert (shown["action"], shown["description"]) == ("update", "as recorded")
    restored = preview(k, T0 + 5, verb="restore")
    assert restored.returncode == 0, restored.stderr
    described, = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Values": [k]}])["Parameters"]
    assert described["Description"] == "as recorded"
    again = preview(k, T0 + 5)
    assert again.returncode == 0 and again.stdout == "", again.stdout


def test_a_listing_that_contradicts_itself_is_an_error_not_an_answer(history, preview, aws,
                                                                       prefix):
    """Issue 21: a store that lists a page's versions first and its delete
    markers after (moto does) puts a key's entries out of LastModified
    order; ssmbak says so and exits 1 instead of answering from it."""
    k = f"{prefix}/k"
    history([value(k, T0, version=1, val="one", written=T0 + 1),
             delete(k, T0 + 100, written=T0 + 101),
             value(k, T0 + 200, version=1, val="two", written=T0 + 201)])
    assert state(preview, k, T0 + 300)[k]["value"] == "two"
    aws.fault(service="s3", operation="ListObjectVersions", kind="markers_last")
    out = preview(k, T0 + 300, "--all", "--output", "json")
    assert out.returncode == 1
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "contradicts itself" in lines[0], out.stderr
