"""history, log, diff and export through localaws, on histories the
backup Lambda recorded: who changed what and when, deletes, recreates,
gaps, labels moved between versions, tags and policies
(FORMAT.md, "What an entry tells", "The log", "Tags, labels, policies,
user"; man ssmbak-history, -log, -diff, -export)."""
import datetime
import json
import subprocess

import pytest
from runtime_api import RuntimeApi, sqs_batch

T0 = 1781258400          # 2026-06-12T10:00:00Z, an hour's start
CALLER = "arn:aws:iam::000000000000:root"


def isoz(t):
    return iso(t) + "Z"


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


@pytest.fixture
def lam(ssmbak_bin, env, bucket):
    api = RuntimeApi()
    proc = subprocess.Popen([ssmbak_bin, "backup-lambda"],
                            env={**env, "AWS_LAMBDA_RUNTIME_API": api.address,
                                 "SSMBAK_BUCKET": bucket, "LOGLEVEL": "INFO"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    api.proc = proc
    try:
        yield api
    finally:
        api.stop()
        try:
            _, api.log = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, api.log = proc.communicate()
        assert "ERROR: AddressSanitizer" not in api.log
        assert "runtime error:" not in api.log


class Recorder:
    """Makes SSM changes at chosen emulator times and has the Lambda record
    each one as it happens (or not: a change never recorded is a gap)."""

    def __init__(self, lam, aws, ssm, prefix):
        self.lam, self.aws, self.ssm, self.prefix = lam, aws, ssm, prefix
        self.seen = 0

    def _events(self):
        found = self.aws.control("GET", "events")
        return [e for e in found
                if e["detail"]["name"].lstrip("/").startswith(self.prefix.lstrip("/"))]

    def at(self, t, change, record=True):
        """record: True now, False never, "later" with the next change."""
        self.aws.clock(fixed=t, check_skew=False)
        change(self.ssm)
        if record == "later":
            return
        events = self._events()
        new, self.seen = events[self.seen:], len(events)
        if record and new:
            assert self.lam.invoke(sqs_batch(new))[1] == {"batchItemFailures": []}


@pytest.fixture
def rec(lam, aws, ssm, prefix):
    yield Recorder(lam, aws, ssm, prefix)
    aws.clock()


def put(name, value, **kw):
    return lambda ssm: ssm.put_parameter(Name=name, Value=value, **kw)


def story(rec, name):
    """One key's life: created with tags, updated, labelled, the label
    moved to the next version, deleted, recreated as a SecureString, an
    update the Lambda never saw (a gap), one more update."""
    rec.at(T0, put(name, "one", Type="String", Description="first",
                   Tags=[{"Key": "team", "Value": "a"}]))
    rec.at(T0 + 10, put(name, "two", Overwrite=True))
    rec.at(T0 + 20, lambda ssm: ssm.label_parameter_version(Name=name, ParameterVersion=2,
                                                            Labels=["live"]))
    rec.at(T0 + 30, put(name, "three", Overwrite=True, Description="third"))
    rec.at(T0 + 40, lambda ssm: ssm.label_parameter_version(Name=name, ParameterVersion=3,
                                                            Labels=["live"]))
    rec.at(T0 + 50, lambda ssm: ssm.delete_parameter(Name=name))
    rec.at(T0 + 60, put(name, "again", Type="SecureString"))
    rec.at(T0 + 70, put(name, "unseen", Overwrite=True), record=False)
    rec.at(T0 + 80, put(name, "last", Overwrite=True))


def json_out(run, *args, env_extra=None):
    out = run(*args, "--output", "json", env_extra=env_extra)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_history_tells_every_change_newest_first(rec, run, bucket, prefix):
    name = f"{prefix}/db/url"
    story(rec, name)
    rows = json_out(run, "history", name, "-b", bucket)
    got = [(r["operation"], r.get("version") or r.get("missing_versions"), r["event_time"])
           for r in rows]
    assert got == [("Update", 3, isoz(T0 + 80)), ("(gap)", [2, 2], isoz(T0 + 80)),
                   ("Create", 1, isoz(T0 + 60)), ("Delete", 3, isoz(T0 + 50)),
                   ("Label", 3, isoz(T0 + 40)), ("Update", 3, isoz(T0 + 30)),
                   ("Label", 2, isoz(T0 + 20)), ("Update", 2, isoz(T0 + 10)),
                   ("Create", 1, isoz(T0))]
    changes = [r for r in rows if r["operation"] not in ("(gap)", "Delete")]
    assert {r["user"] for r in changes} == {CALLER}
    assert [r["type"] for r in changes] == ["SecureString"] * 2 + ["String"] * 5
    assert [r.get("description") for r in changes][2:] == ["third", "third", "first", "first",
                                                           "first"]
    # the label moved: on v2 when it was put there, on v3 afterwards
    assert [r["labels"] for r in changes] == [[], [], ["live"], [], ["live"], [], []]
    assert all("value" not in r for r in rows)


def test_history_values_only_when_asked_and_masked(rec, run, bucket, prefix):
    name = f"{prefix}/k"
    story(rec, name)
    table = run("history", name, "-b", bucket, "--show-values")
    assert table.returncode == 0, table.stderr
    assert "********" in table.stdout and "last" not in table.stdout.replace("Label", "")
    assert "three" in table.stdout
    plain = run("history", name, "-b", bucket)
    assert "three" not in plain.stdout and "Value" not in plain.stdout
    shown = json_out(run, "history", name, "-b", bucket, "--show-values", "--show-secure")
    assert [r.get("value") for r in shown if r["operation"] in ("Update", "Create")] == \
        ["last", "again", "three", "two", "one"]
    masked = json_out(run, "history", name, "-b", bucket, "--show-values")
    assert [r.get("value") for r in masked if r["operation"] in ("Update", "Create")] == \
        [None, None, "three", "two", "one"]


def test_history_window_and_cost(rec, run, aws, bucket, prefix):
    name = f"{prefix}/w"
    story(rec, name)
    aws.reset_counters()
    rows = json_out(run, "history", name, "-b", bucket, "--since", iso(T0 + 30),
                    "--until", iso(T0 + 50))
    assert [r["operation"] for r in rows] == ["Delete", "Label", "Update"]
    s3 = aws.counters()["s3"]
    assert s3 == {"ListObjectVersions": 2}, s3


def test_history_of_a_key_never_recorded_is_empty(run, bucket, prefix):
    assert json_out(run, "history", f"{prefix}/none", "-b", bucket) == []


def test_history_refuses_a_path(run, bucket, prefix):
    out = run("history", f"{prefix}/", "-b", bucket)
    assert out.returncode == 2 and "is a path" in out.stderr


def test_log_tells_the_trees_changes_without_values(rec, run, aws, bucket, prefix):
    story(rec, f"{prefix}/app/db")
    rec.at(T0 + 90, put(f"{prefix}/app/api", "secret-ish", Type="String"))
    rec.at(T0 + 95, put(f"{prefix}/other", "elsewhere", Type="String"))
    aws.reset_counters()
    rows = json_out(run, "log", f"{prefix}/app/", "-b", bucket, "--since", iso(T0),
                    "--until", iso(T0 + 100))
    assert [(r["name"].rsplit("/", 1)[1], r["operation"]) for r in rows] == [
        ("api", "Create"), ("db", "Update"), ("db", "(gap)"), ("db", "Create"),
        ("db", "Delete"), ("db", "Label"), ("db", "Update"), ("db", "Label"),
        ("db", "Update"), ("db", "Create")]
    assert {r.get("user") for r in rows if not r["gap"] and r["operation"] != "Delete"} == {CALLER}
    # one hour in the window: one listing, however long the history
    assert aws.counters()["s3"] == {"ListObjectVersions": 1}
    table = run("log", f"{prefix}/app/", "-b", bucket, "--since", iso(T0), "--until",
                iso(T0 + 100))
    assert table.returncode == 0, table.stderr
    for value in ("one", "two", "three", "again", "last", "secret-ish"):
        assert value not in table.stdout.split()
    one_level = json_out(run, "log", f"{prefix}/", "-b", bucket, "--since", iso(T0),
                         "--until", iso(T0 + 100))
    assert [r["name"] for r in one_level] == [f"{prefix}/other"]
    key = json_out(run, "log", f"{prefix}/app/db", "-b", bucket, "--since", iso(T0 + 45),
                   "--until", iso(T0 + 55))
    assert [r["operation"] for r in key] == ["Delete"]


def test_log_reads_only_the_hours_of_the_window(rec, run, aws, bucket, prefix):
    for h in range(5):
        rec.at(T0 + h * 3600 + 5, put(f"{prefix}/k", f"v{h}", Type="String", Overwrite=True))
    aws.reset_counters()
    rows = json_out(run, "log", f"{prefix}/", "-b", bucket, "--since", iso(T0 + 3600),
                    "--until", iso(T0 + 3 * 3600 - 1))
    assert [r["version"] for r in rows] == [3, 2]
    assert aws.counters()["s3"] == {"ListObjectVersions": 2}


def test_export_formats_and_names(rec, run, bucket, prefix):
    rec.at(T0, put(f"{prefix}/app/db-url", "postgres://x?a=1&b='2'", Type="String"))
    rec.at(T0 + 1, put(f"{prefix}/app/feature.flags", "a,b", Type="StringList"))
    rec.at(T0 + 2, put(f"{prefix}/app/nested/9lives", 'say "$HOME"\nnow', Type="String"))
    rec.at(T0 + 3, put(f"{prefix}/app/later", "after", Type="String"))

    def export(fmt, *extra):
        out = run("export", f"{prefix}/app/", iso(T0 + 2), "-R", "--format", fmt, "-b", bucket,
                  *extra)
        assert out.returncode == 0, out.stderr
        return out.stdout

    assert json.loads(export("json")) == {"db-url": "postgres://x?a=1&b='2'",
                                          "feature.flags": "a,b",
                                          "nested/9lives": 'say "$HOME"\nnow'}
    assert export("dotenv") == ('DB_URL="postgres://x?a=1&b=\'2\'"\n'
                                'FEATURE_FLAGS="a,b"\n'
                                'NESTED_9LIVES="say \\"\\$HOME\\"\\nnow"\n')
    assert export("shell") == ("export DB_URL='postgres://x?a=1&b='\\''2'\\'''\n"
                               "export FEATURE_FLAGS='a,b'\n"
                               "export NESTED_9LIVES='say \"$HOME\"\nnow'\n")
    assert export("tfvars") == ('db-url = "postgres://x?a=1&b=\'2\'"\n'
                                'feature_flags = "a,b"\n'
                                'nested_9lives = "say \\"$HOME\\"\\nnow"\n')
    assert export("yaml") == ('"db-url": "postgres://x?a=1&b=\'2\'"\n'
                              '"feature.flags": "a,b"\n'
                              '"nested/9lives": "say \\"$HOME\\"\\nnow"\n')
    sourced = subprocess.run(["/bin/sh", "-c", export("shell") + 'printf %s "$DB_URL"'],
                             capture_output=True, text=True)
    assert sourced.stdout == "postgres://x?a=1&b='2'"
    one = run("export", f"{prefix}/app/db-url", "now", "--format", "dotenv", "-b", bucket)
    assert one.stdout == 'DB_URL="postgres://x?a=1&b=\'2\'"\n'


def test_export_refuses_secure_strings_unless_asked(rec, run, bucket, prefix):
    rec.at(T0, put(f"{prefix}/s/plain", "p", Type="String"))
    rec.at(T0 + 1, put(f"{prefix}/s/secret", "hunter2", Type="SecureString"))
    out = run("export", f"{prefix}/s/", "now", "--format", "dotenv", "-b", bucket)
    assert out.returncode == 2 and out.stdout == ""
    assert "SecureString" in out.stderr and "--show-secure" in out.stderr
    assert "hunter2" not in out.stderr
    ok = run("export", f"{prefix}/s/", "now", "--format", "dotenv", "-b", bucket,
             "--show-secure")
    assert ok.returncode == 0 and ok.stdout == 'PLAIN="p"\nSECRET="hunter2"\n'
    before = run("export", f"{prefix}/s/", iso(T0), "--format", "json", "-b", bucket)
    assert json.loads(before.stdout) == {"plain": "p"}


def test_export_refuses_bad_formats(run, bucket, prefix):
    out = run("export", f"{prefix}/", "now", "--format", "xml", "-b", bucket)
    assert out.returncode == 2 and "--format" in out.stderr
    out = run("export", f"{prefix}/", "now", "-b", bucket)
    assert out.returncode == 2 and "--format is required" in out.stderr


def test_diff_added_removed_changed_and_which_fields(rec, run, bucket, prefix, ssm):
    base = f"{prefix}/d"
    rec.at(T0, put(f"{base}/kept", "same", Type="String"))
    rec.at(T0, put(f"{base}/changed", "old", Type="String", Description="before"))
    rec.at(T0, put(f"{base}/removed", "bye", Type="String"))
    rec.at(T0, put(f"{base}/secret", "s1", Type="SecureString"))
    rec.at(T0 + 10, put(f"{base}/changed", "new", Overwrite=True, Description="after"))
    rec.at(T0 + 10, lambda s: s.delete_parameter(Name=f"{base}/removed"))
    rec.at(T0 + 10, put(f"{base}/added", "hi", Type="String"))
    rec.at(T0 + 10, put(f"{base}/secret", "s2", Overwrite=True))
    rows = json_out(run, "diff", f"{base}/", iso(T0), iso(T0 + 10), "-b", bucket)
    by_name = {r["name"].rsplit("/", 1)[1]: r for r in rows}
    assert sorted(by_name) == ["added", "changed", "removed", "secret"]
    assert by_name["added"]["change"] == "added" and by_name["added"]["before"] is None
    assert by_name["added"]["after"]["value"] == "hi"
    assert by_name["removed"]["change"] == "removed" and by_name["removed"]["after"] is None
    assert by_name["changed"]["fields"] == ["value", "description"]
    assert (by_name["changed"]["before"]["value"], by_name["changed"]["after"]["value"]) == \
        ("old", "new")
    assert by_name["secret"]["fields"] == ["value"]
    assert "value" not in by_name["secret"]["before"]
    table = run("diff", f"{base}/", iso(T0), iso(T0 + 10), "-b", bucket)
    assert "s1" not in table.stdout and "s2" not in table.stdout and "********" in table.stdout
    shown = json_out(run, "diff", f"{base}/", iso(T0), iso(T0 + 10), "-b", bucket,
                     "--show-secure")
    assert {r["name"].rsplit("/", 1)[1]: r for r in shown}["secret"]["after"]["value"] == "s2"
    assert json_out(run, "diff", f"{base}/", iso(T0 + 10), "-b", bucket) == []


def test_tags_and_policies_are_recorded_and_diffed(rec, run, bucket, prefix, s3):
    name = f"{prefix}/t/p"
    policy = json.dumps([{"Type": "Expiration", "Version": "1.0",
                          "Attributes": {"Timestamp": "2030-01-01T00:00:00.000Z"}}])
    rec.at(T0, put(name, "v", Type="String", Tags=[{"Key": "team", "Value": "a"}]))

    def retag(ssm):
        ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId=name,
                                 Tags=[{"Key": "team", "Value": "b"}])
        ssm.put_parameter(Name=name, Value="v2", Overwrite=True, Tier="Advanced",
                          Policies=policy)
    rec.at(T0 + 10, retag)
    versions = s3.list_object_versions(Bucket=bucket, Prefix=name)["Versions"]
    metas = sorted((s3.get_object(Bucket=bucket, Key=name, VersionId=v["VersionId"])["Metadata"]
                    for v in versions), key=lambda m: m["ssmbak-time"])
    assert [json.loads(urldecode(m["ssmbak-tags"])) for m in metas] == [{"team": "a"},
                                                                         {"team": "b"}]
    assert "ssmbak-policies" not in metas[0]
    assert [json.loads(p) for p in json.loads(urldecode(metas[1]["ssmbak-policies"]))] == \
        json.loads(policy)
    assert urldecode(metas[1]["ssmbak-user"]) == CALLER
    (row,) = json_out(run, "diff", name, iso(T0), iso(T0 + 10), "-b", bucket)
    assert row["fields"] == ["value", "tier", "tags", "policies"]


def urldecode(s):
    import urllib.parse
    return urllib.parse.unquote(s)


def test_changes_recorded_as_gaps_are_shown_and_never_guessed(rec, run, bucket, prefix):
    """A put and an update the Lambda reads only after the delete are
    recorded as gaps (FORMAT.md, "Gaps"): history and log show them,
    export refuses a time inside them, diff says unknown."""
    name = f"{prefix}/g/k"
    rec.at(T0, put(f"{prefix}/g/other", "o", Type="String"))
    rec.at(T0 + 5, put(name, "first-s3cr3t", Type="String"), record="later")
    rec.at(T0 + 10, put(name, "second-s3cr3t", Type="String", Overwrite=True), record="later")
    rec.at(T0 + 20, lambda ssm: ssm.delete_parameter(Name=name))
    rows = json_out(run, "history", name, "-b", bucket, "--show-values")
    assert [(r["operation"], r["event_time"]) for r in rows] == [
        ("Delete", isoz(T0 + 20)), ("Gap", isoz(T0 + 10)), ("Gap", isoz(T0 + 5))]
    assert all("value" not in r for r in rows)
    logged = json_out(run, "log", f"{prefix}/g/", "-b", bucket, "--since", iso(T0),
                      "--until", iso(T0 + 30))
    assert [r["operation"] for r in logged] == ["Delete", "Gap", "Gap", "Create"]
    out = run("export", f"{prefix}/g/", iso(T0 + 15), "--format", "json", "-b", bucket)
    assert out.returncode == 1 and out.stdout == ""
    assert f"{name}: its value at that time was never recorded" in out.stderr
    assert "s3cr3t" not in out.stderr
    (row,) = json_out(run, "diff", f"{prefix}/g/", iso(T0 + 1), iso(T0 + 15), "-b", bucket)
    assert (row["name"], row["change"], row["after"]) == (name, "unknown", None)
    assert json_out(run, "diff", f"{prefix}/g/", iso(T0 + 1), iso(T0 + 25), "-b", bucket) == []


def test_backfill_records_user_tags_and_labels(run, ssm, s3, bucket, prefix):
    """backfill reads what GetParameters does not answer: the version's
    labels (GetParameterHistory) and the parameter's tags."""
    name = f"{prefix}/bf/p"
    ssm.put_parameter(Name=name, Value="a", Type="String", Tags=[{"Key": "team", "Value": "x"}])
    ssm.put_parameter(Name=name, Value="b", Overwrite=True)
    ssm.label_parameter_version(Name=name, ParameterVersion=2, Labels=["live"])
    out = run("backfill", "--name-prefix", f"{prefix}/bf", "--do-it", "-b", bucket)
    assert out.returncode == 0, out.stderr
    meta = s3.get_object(Bucket=bucket, Key=name)["Metadata"]
    assert urldecode(meta["ssmbak-user"]) == CALLER
    assert json.loads(urldecode(meta["ssmbak-tags"])) == {"team": "x"}
    assert meta["ssmbak-labels"] == "live"
    (row,) = json_out(run, "history", name, "-b", bucket)
    assert (row["operation"], row["version"], row["labels"], row["user"]) == \
        ("Backfill", 2, ["live"], CALLER)


def test_history_of_a_format_1_key_reads_its_tags(aws, run, bucket, prefix):
    """Versions no index entry names (the Python tool's) are read from
    their tags; its delete marker is a delete at its LastModified."""
    from bucketfmt import Write, load
    name = f"{prefix}/old"
    load(aws.endpoint, bucket, [
        Write(name, "legacy_value", T0, T0 + 1, value="a", description="old one"),
        Write(name, "legacy_delete", 0, T0 + 50),
        Write(name, "value", T0 + 60, T0 + 61, 1, "b")])
    rows = json_out(run, "history", name, "-b", bucket)
    assert [(r["operation"], r["event_time"], r.get("description")) for r in rows] == [
        ("Update", isoz(T0 + 60), None), ("Delete", isoz(T0 + 50), None),
        ("Update", isoz(T0), "old one")]


def test_history_and_log_under_a_key_prefix(run, ssm, bucket, prefix):
    name = f"{prefix}/kp/p"
    ssm.put_parameter(Name=name, Value="a", Type="String")
    out = run("backfill", "--name-prefix", f"{prefix}/kp", "--do-it", "-b", bucket,
              "--key-prefix", "123456789012/us-east-1")
    assert out.returncode == 0, out.stderr
    assert json_out(run, "history", name, "-b", bucket) == []
    (row,) = json_out(run, "history", name, "-b", bucket, "--key-prefix",
                      "/123456789012/us-east-1/")
    assert row["operation"] == "Backfill"
    (logged,) = json_out(run, "log", f"{prefix}/", "-R", "-b", bucket,
                         env_extra={"SSMBAK_KEY_PREFIX": "123456789012/us-east-1"})
    assert (logged["name"], logged["operation"]) == (name, "Backfill")
