"""ssmbak backfill (ssmbak-all) against localaws: what it lists, what it
writes (byte for byte, FORMAT.md), what a rerun skips, how it survives
throttling and errors, and how many requests it spends."""
import hashlib
import json
import pathlib
import re
import subprocess
import time

import pytest

from bucketfmt import Write, legacy_description, load, meta_encode
from conftest import run_with_stderr_on_a_terminal

ROOT = pathlib.Path(__file__).resolve().parents[2]
MAN = ROOT / "man" / "ssmbak-backfill.1"
LATE_AFTER = 3000  # lib/record.h RECORD_LATE_AFTER_SECONDS

# --- setting up SSM --------------------------------------------------------------


def kinds(prefix):
    """One of each kind of parameter, as PutParameter arguments, keyed by a
    short label; every field backfill must carry over is used somewhere."""
    bare = prefix.lstrip("/")
    return {
        "string": dict(Name=f"{prefix}/app/db/url", Type="String", Value="postgres://db:5432/x"),
        "list": dict(Name=f"{prefix}/app/hosts", Type="StringList", Value="a.example,b.example"),
        "secure": dict(Name=f"{prefix}/app/db/password", Type="SecureString",
                       Value="s3cr3t-Pa55", Description="db password"),
        "secure_key": dict(Name=f"{prefix}/app/api/token", Type="SecureString",
                           Value="tok-9f8e7d", KeyId="alias/ssmbak-test"),
        "advanced": dict(Name=f"{prefix}/big/blob", Type="String", Tier="Advanced",
                         Value="x" * 6000),
        "ami": dict(Name=f"{prefix}/ami/base", Type="String", DataType="aws:ec2:image",
                    Value="ami-0123456789abcdef0"),
        "pattern": dict(Name=f"{prefix}/app/port", Type="String", Value="8080",
                        AllowedPattern="^[0-9]+$"),
        "unicode": dict(Name=f"{prefix}/app/greeting", Type="String", Value="Grüße, 世界 ✓",
                        Description="Ünïcödé — 日本語 ✓ & more=yes"),
        "spaces": dict(Name=f"{prefix}/app/padded", Type="String", Value="  padded value\n\n",
                       Description=" leading and trailing "),
        "top": dict(Name=f"{bare}-top", Type="String", Value="top-level, no slash"),
        "deep": dict(Name=f"{prefix}/" + "/".join(f"l{i}" for i in range(13)), Type="String",
                     Value="deep"),
        "long_description": dict(Name=f"{prefix}/app/long", Type="String", Value="long",
                                 Description="é" * 1024, AllowedPattern="^l.*$"),
    }


def many(prefix, n):
    """n parameters across nested paths, cycling through the kinds."""
    out = []
    for i in range(n):
        base = f"{prefix}/svc{i % 5}/env{i % 3}/p{i:04d}"
        k = i % 8
        if k == 0:
            out.append(dict(Name=base, Type="String", Value=f"value {i}"))
        elif k == 1:
            out.append(dict(Name=base, Type="StringList", Value=f"a{i},b{i}"))
        elif k == 2:
            out.append(dict(Name=base, Type="SecureString", Value=f"secret-{i}-xyzzy"))
        elif k == 3:
            out.append(dict(Name=base, Type="SecureString", Value=f"secret-{i}-plugh",
                            KeyId="alias/ssmbak-test", Description=f"key {i}"))
        elif k == 4:
            out.append(dict(Name=base, Type="String", Tier="Advanced", Value=f"adv {i}"))
        elif k == 5:
            out.append(dict(Name=base, Type="String", Value=f"{i}", AllowedPattern="^[0-9]+$",
                            Description=f"ünïcode {i} ✓"))
        elif k == 6:
            out.append(dict(Name=f"{prefix.lstrip('/')}-top{i:04d}", Type="String",
                            Value=f"top {i}"))
        else:
            out.append(dict(Name=base, Type="String", DataType="aws:ec2:image",
                            Value=f"ami-{i:08x}"))
    return out


def put_all(ssm, params):
    for p in params:
        ssm.put_parameter(**p, Overwrite=False)
    # aws:ec2:image values are validated after PutParameter answers: the
    # parameter exists once that is done (API_PutParameter.html, DataType).
    for p in params:
        if p.get("DataType") == "aws:ec2:image":
            wait_until_readable(ssm, p["Name"])
    return params


def wait_until_readable(ssm, name, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return ssm.get_parameter(Name=name)
        except ssm.exceptions.ParameterNotFound:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def described(ssm, names):
    """DescribeParameters' view (what backfill copies) of these names."""
    out = {}
    for i in range(0, len(names), 50):
        chunk = names[i:i + 50]
        for page in ssm.get_paginator("describe_parameters").paginate(
                ParameterFilters=[{"Key": "Name", "Option": "Equals", "Values": chunk}]):
            for p in page["Parameters"]:
                out[p["Name"]] = p
    return out


def key_of(name):
    return name if name.startswith("/") else "/" + name


# --- reading the bucket ----------------------------------------------------------


def versions(s3, bucket, prefix=""):
    """[(key, version_id, is_latest, size or None for a delete marker)]"""
    out = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        for v in page.get("Versions", []):
            out.append((v["Key"], v["VersionId"], v["IsLatest"], v["Size"]))
        for m in page.get("DeleteMarkers", []):
            out.append((m["Key"], m["VersionId"], m["IsLatest"], None))
    return out


def version_count(s3, bucket, prefix="/"):
    return len(versions(s3, bucket, prefix))


def keys(s3, bucket, prefix="/"):
    return {k for k, _, _, _ in versions(s3, bucket, prefix)}


def tags_of(s3, bucket, key, version_id=None):
    kw = {"VersionId": version_id} if version_id else {}
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket, Key=key, **kw)["TagSet"]}


# --- the model of what backfill writes (FORMAT.md) --------------------------------


def expected_object(meta, value):
    """(body, tags, metadata, extra) for a parameter with DescribeParameters'
    metadata and this value; extra is the side object's JSON or None."""
    name = meta["Name"]
    key = key_of(name)
    modified = meta["LastModifiedDate"].timestamp()
    event = str(int(modified // 1))
    tags = {"ssmbakTime": event, "ssmbakType": meta["Type"], "ssmbakVersion": str(meta["Version"]),
            "ssmbakModified": str(round(modified * 1000)),
            "ssmbakOp": "Backfill"}
    description = meta.get("Description")
    if description:
        tags["ssmbakDescription"] = legacy_description(description)
    md = {"ssmbak-format": "3", "ssmbak-time": event, "ssmbak-op": "Backfill",
          "ssmbak-type": meta["Type"], "ssmbak-version": str(meta["Version"]),
          "ssmbak-modified": f"{modified:.3f}", "ssmbak-tier": meta["Tier"],
          "ssmbak-data-type": meta_encode(meta["DataType"])}
    # FORMAT.md, "Tags, labels, policies, user": who made the version,
    # and the tags the parameter has (the test data has none).
    md["ssmbak-user"] = meta_encode(meta["LastModifiedUser"])
    if meta.get("KeyId"):
        md["ssmbak-key-id"] = meta_encode(meta["KeyId"])
    pattern = meta.get("AllowedPattern")
    extra = None
    # The test data keeps free text either far below or far above S3's
    # 2 KB of metadata, so which side of the line is plain.
    if len(meta_encode(description or "")) + len(meta_encode(pattern or "")) > 1000:
        extra = {k: v for k, v in (("description", description),
                                   ("allowed_pattern", pattern)) if v}
        extra["tags"] = "{}"
    else:
        md["ssmbak-tags"] = meta_encode("{}")
        if description:
            md["ssmbak-description"] = meta_encode(description)
        if pattern:
            md["ssmbak-allowed-pattern"] = meta_encode(pattern)
    return value.encode("utf-8"), tags, md, extra


def assert_stored_exactly(s3, bucket, meta, value):
    key = key_of(meta["Name"])
    body, tags, md, extra = expected_object(meta, value)
    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == body, key
    got_md = dict(got["Metadata"])
    if extra is not None:
        ref = got_md.pop("ssmbak-extra")
        side = s3.get_object(Bucket=bucket, Key=f".ssmbak/extra/{ref}")["Body"].read()
        assert hashlib.sha256(side).hexdigest() == ref
        assert json.loads(side) == extra
    assert got_md == md, key
    assert tags_of(s3, bucket, key) == tags, key


# --- running ---------------------------------------------------------------------


@pytest.fixture
def backfill(run, bucket):
    def go(*args, env_extra=None, timeout=300):
        return run("backfill", "-b", bucket, *args, env_extra=env_extra, timeout=timeout)
    return go


def summary(result):
    """The last summary line's numbers: listed, written, skipped, failed."""
    m = re.findall(r"listed (\d+), written (\d+), skipped (\d+), failed (\d+)", result.stderr)
    assert m, result.stderr
    return tuple(int(x) for x in m[-1])


def failures(result):
    """{name: reason} from the 'failed: NAME: reason' lines."""
    out = {}
    for line in result.stderr.splitlines():
        m = re.match(r"ssmbak backfill: failed: (\S+): (.*)$", line)
        if m and m.group(1) != ".ssmbak/format":  # the marker may fail too
            out[m.group(1)] = m.group(2)
    return out


def table_names(stdout):
    """The Name column of the box table; a cell wrapped over several lines
    continues on lines whose Type cell is empty."""
    names = []
    for line in stdout.splitlines():
        if not line.startswith("| ") or line.startswith("| Name "):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if cells[1]:
            names.append(cells[0])
        elif cells[0]:
            names[-1] += cells[0]
    return names


# --- the command line ------------------------------------------------------------


def usage_synopsis(text):
    lines = []
    for line in text.splitlines():
        if not line.strip():
            break
        lines.append(line)
    return " ".join(" ".join(lines).split()).removeprefix("usage: ")


def man_synopsis():
    text = subprocess.run(["mandoc", "-T", "ascii", str(MAN)], capture_output=True, text=True,
                          check=True).stdout
    plain = re.sub(r".\x08", "", text)
    section = plain.split("\nSYNOPSIS\n", 1)[1].split("\nDESCRIPTION\n", 1)[0]
    return " ".join(section.split())


def test_help_is_the_man_synopsis(run):
    out = run("backfill", "--help")
    assert out.returncode == 0 and out.stderr == ""
    assert out.stdout.startswith("usage: ssmbak backfill ")
    assert usage_synopsis(out.stdout) == man_synopsis()


def test_man_page_passes_mandoc_lint():
    out = subprocess.run(["mandoc", "-T", "lint", "-W", "warning", str(MAN)],
                         capture_output=True, text=True)
    assert (out.returncode, out.stdout, out.stderr) == (0, "", "")


@pytest.mark.parametrize("args, message", [
    (["--frobnicate"], "unrecognized option"),
    (["-p"], "requires an argument"),
    (["--all", "--missing-only"], "exclude each other"),
    (["-R"], "-R goes with a PATH"),
    (["/has space/"], "ssmbak backfill"),
    (["-p", ""], "non-empty prefix"),
    (["--output", "yaml"], "--output must be table or json"),
    (["-b", "Not_A_Bucket"], "not a valid S3 bucket name"),
])
def test_bad_options_are_one_line_and_a_pointer_to_help(run, args, message):
    """lib/cli's convention for every command: what was wrong, then where
    the usage is (getopt's own line comes first for unknown options)."""
    out = run("backfill", *args)
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.splitlines()
    assert message in lines[0]
    assert lines[-1].endswith("see 'ssmbak backfill --help')") or \
        lines[-1] == "ssmbak backfill: see 'ssmbak backfill --help'"
    assert len(lines) <= 2


def test_no_bucket_no_region_no_credentials_exit_3(run, env, bucket):
    no_bucket = run("backfill")
    assert no_bucket.returncode == 3, no_bucket.stderr
    assert no_bucket.stderr.count("\n") == 1 and "no bucket" in no_bucket.stderr
    no_region = run("backfill", "-b", bucket, env_extra={"AWS_REGION": ""})
    assert no_region.returncode == 3, no_region.stderr
    assert no_region.stderr.count("\n") == 1 and "region" in no_region.stderr
    no_creds = run("backfill", "-b", bucket,
                   env_extra={"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""})
    assert no_creds.returncode == 3, no_creds.stderr
    assert no_creds.stderr.count("\n") == 1 and "credentials" in no_creds.stderr
    missing = run("backfill", "-b", "no-such-bucket-here")
    assert missing.returncode == 3 and "does not exist" in missing.stderr


def test_alias_ssmbak_all(run, bucket, ssm, prefix, tmp_path):
    put_all(ssm, [dict(Name=f"{prefix}/a", Type="String", Value="1")])
    out = run("-p", prefix, "-b", bucket, argv0="ssmbak-all")
    assert out.returncode == 0, out.stderr
    assert table_names(out.stdout) == [f"{prefix}/a"]
    assert "ssmbak-all: dry run" in out.stderr
    # The Python tool's -p still works, and says what replaced it.
    assert "ssmbak-all: -p/--prefix is deprecated: use PATH [-R] or --name-prefix" in out.stderr
    quiet = run("-p", prefix, "-b", bucket, "-q", argv0="ssmbak-all")
    assert "deprecated" not in quiet.stderr


def test_force_is_the_deprecated_spelling_of_all(backfill, ssm, prefix):
    put_all(ssm, [dict(Name=f"{prefix}/a", Type="String", Value="1")])
    assert backfill("--name-prefix", prefix, "--do-it").returncode == 0
    for spelling in ("--all", "--force"):
        out = backfill("--name-prefix", prefix, spelling)
        assert out.returncode == 0, out.stderr
        assert table_names(out.stdout) == [f"{prefix}/a"], spelling
    assert "--force is deprecated: use --all" in out.stderr


def test_paths_follow_previews_rules(backfill, ssm, prefix):
    """PATH is what preview means by it (lib/scope): a path's direct
    children, the tree with -R, a key when one exists, never /a for /ab."""
    put_all(ssm, [dict(Name=n, Type="String", Value="v") for n in (
        f"{prefix}/a/x", f"{prefix}/a/y/z", f"{prefix}/ab", f"{prefix}/k", f"{prefix}/k/child")])
    for args, expected in [
        ([f"{prefix}/a/"], [f"{prefix}/a/x"]),
        ([f"{prefix}/a/", "-R"], [f"{prefix}/a/x", f"{prefix}/a/y/z"]),
        ([f"{prefix}/a", "-R"], [f"{prefix}/a/x", f"{prefix}/a/y/z"]),
        ([f"{prefix}/a"], [f"{prefix}/a/x"]),
        ([f"{prefix}/k"], [f"{prefix}/k"]),
        ([f"{prefix}/k/"], [f"{prefix}/k/child"]),
        ([f"{prefix}/a/", f"{prefix}/k"], [f"{prefix}/a/x", f"{prefix}/k"]),
        ([f"{prefix}/a/", "--name-prefix", f"{prefix}/k"],
         [f"{prefix}/a/x", f"{prefix}/k", f"{prefix}/k/child"]),
        ([f"{prefix}/nothing/", "-R"], []),
    ]:
        out = backfill(*args)
        assert out.returncode == 0, (args, out.stderr)
        assert sorted(table_names(out.stdout)) == expected, args
        assert ("no parameter " in out.stderr) == (expected == []), (args, out.stderr)
    out = backfill(f"{prefix}/b/")
    assert f"ssmbak backfill: no parameter directly under {prefix}/b/ in SSM: check PATH, " \
        "or add -R for the whole tree" in out.stderr.splitlines()


# --- dry run ---------------------------------------------------------------------


def test_dry_run_lists_without_values_and_writes_nothing(backfill, ssm, s3, aws, bucket, prefix):
    params = put_all(ssm, list(kinds(prefix).values()))
    aws.reset_counters()
    out = backfill("--name-prefix", prefix)
    assert out.returncode == 0, out.stderr
    names = sorted(p["Name"] for p in params)
    assert sorted(table_names(out.stdout)) == names
    header = out.stdout.splitlines()[1]
    assert [c.strip() for c in header.strip("|").split("|")] == [
        "Name", "Type", "Version", "Modified", "Description"]
    shown = " ".join(p["Name"] + " " + p.get("Description", "") for p in params)
    for p in params:  # no value, secret or not, anywhere
        value = p["Value"].strip()
        if value not in shown:
            assert value not in out.stdout + out.stderr, p["Name"]
    assert out.stderr.rstrip("\n").splitlines()[-1] == \
        "ssmbak backfill: dry run: nothing was written; add --do-it to write"
    assert f"would write {len(params)}," in out.stderr
    assert versions(s3, bucket) == []
    s3_ops = aws.counters().get("s3", {})
    assert set(s3_ops) == {"GetBucketVersioning", "ListObjectVersions"}, s3_ops
    assert "GetParameters" not in aws.counters()["ssm"]


def stamp(meta):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ",
                         time.gmtime(int(meta["LastModifiedDate"].timestamp())))


def test_dry_run_json(backfill, ssm, prefix):
    params = put_all(ssm, [kinds(prefix)["secure"], kinds(prefix)["unicode"]])
    out = backfill("--name-prefix", prefix, "--output", "json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    meta = described(ssm, [p["Name"] for p in params])
    assert sorted(rows, key=lambda r: r["name"]) == sorted([
        {"name": m["Name"], "type": m["Type"], "version": m["Version"],
         # the time backfill records as the event's: the version's own
         "event_time": stamp(m), "last_modified": stamp(m),
         **({"description": m["Description"]} if m.get("Description") else {})}
        for m in meta.values()], key=lambda r: r["name"])
    assert "s3cr3t" not in out.stdout


# --- what is written --------------------------------------------------------------


def test_every_kind_is_stored_exactly_as_format_md_says(backfill, ssm, s3, bucket, prefix):
    params = put_all(ssm, list(kinds(prefix).values()) + many(prefix, 300))
    out = backfill("--name-prefix", prefix, "--do-it")
    assert out.returncode == 0, out.stderr
    assert summary(out) == (len(params), len(params), 0, 0)
    assert sorted(table_names(out.stdout)) == sorted(p["Name"] for p in params)
    meta = described(ssm, [p["Name"] for p in params])
    for p in params:
        assert_stored_exactly(s3, bucket, meta[p["Name"]], p["Value"])
    assert version_count(s3, bucket, "/") == len(params)
    # FORMAT.md, "The change index": one entry per version written.
    assert version_count(s3, bucket, ".ssmbak/changes/") == len(params)
    for text in (out.stdout, out.stderr):
        assert "s3cr3t" not in text and "secret-" not in text


def test_prefixes_select_names_with_and_without_slash(backfill, ssm, s3, bucket, prefix):
    bare = prefix.lstrip("/")
    put_all(ssm, [dict(Name=n, Type="String", Value="v") for n in (
        f"{prefix}/a/x", f"{prefix}/a/y/z", f"{prefix}/ab", f"{prefix}/b/x", f"{prefix}/c/x",
        f"{bare}-top", f"{prefix}x")])
    out = backfill("--name-prefix", f"{prefix}/a", "--name-prefix", f"{bare}/b",
                   "--name-prefix", f"{prefix}/a/y", "--name-prefix", f"{bare}-", "--do-it")
    assert out.returncode == 0, out.stderr
    assert keys(s3, bucket) == {f"{prefix}/a/x", f"{prefix}/a/y/z", f"{prefix}/ab",
                                f"{prefix}/b/x", f"/{bare}-top"}
    assert summary(out) == (5, 5, 0, 0)


def test_nothing_under_the_prefix(backfill, prefix):
    out = backfill("--name-prefix", prefix + "/nothing", "--do-it")
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""
    assert summary(out) == (0, 0, 0, 0)


def test_verbose_says_why_but_never_a_value(backfill, ssm, prefix):
    params = put_all(ssm, [kinds(prefix)["secure"], kinds(prefix)["secure_key"]])
    assert backfill("--name-prefix", prefix, "--do-it").returncode == 0
    ssm.put_parameter(Name=params[0]["Name"], Value="n3w-s3cr3t", Overwrite=True)
    out = backfill("--name-prefix", prefix, "--do-it", "-vv")
    assert out.returncode == 0, out.stderr
    assert f"{params[0]['Name']}: write: backup holds another version" in out.stderr
    assert f"{params[1]['Name']}: skip: backed up" in out.stderr
    for secret in ("n3w-s3cr3t", "s3cr3t-Pa55", "tok-9f8e7d"):
        assert secret not in out.stderr + out.stdout


def test_everything_when_no_prefix(backfill, ssm, s3, bucket, prefix):
    put_all(ssm, [dict(Name=f"{prefix}/everything", Type="String", Value="v")])
    out = backfill("--do-it")
    assert out.returncode == 0, out.stderr
    listed = summary(out)[0]
    all_names = [p["Name"] for page in ssm.get_paginator("describe_parameters").paginate()
                 for p in page["Parameters"]]
    assert listed == len(all_names)
    assert f"{prefix}/everything" in keys(s3, bucket)


# --- reruns -----------------------------------------------------------------------


def test_rerun_writes_no_duplicates_all_writes_again(backfill, ssm, s3, aws, bucket, prefix):
    params = put_all(ssm, many(prefix, 120))
    first = backfill("--name-prefix", prefix, "--do-it")
    assert first.returncode == 0, first.stderr
    assert version_count(s3, bucket) == 120
    aws.reset_counters()
    again = backfill("--name-prefix", prefix, "--do-it")
    assert again.returncode == 0, again.stderr
    assert summary(again) == (120, 0, 120, 0)
    assert again.stdout == ""
    assert version_count(s3, bucket) == 120
    # Deciding took one tag read a parameter and no value was read.
    counts = aws.counters()
    assert counts["s3"].get("GetObjectTagging") == 120
    assert "PutObject" not in counts["s3"] and "GetParameters" not in counts["ssm"]
    explicit = backfill("--name-prefix", prefix, "--do-it", "--missing-only")
    assert summary(explicit) == (120, 0, 120, 0)
    forced = backfill("--name-prefix", prefix, "--do-it", "--all")
    assert forced.returncode == 0, forced.stderr
    assert summary(forced) == (120, 120, 0, 0)
    assert version_count(s3, bucket) == 240
    assert len(params) == 120


def test_changed_parameter_is_written_on_rerun(backfill, ssm, s3, bucket, prefix):
    params = put_all(ssm, many(prefix, 40))
    assert backfill("--name-prefix", prefix, "--do-it").returncode == 0
    changed = params[8]["Name"]  # a String
    ssm.put_parameter(Name=changed, Value="changed value", Overwrite=True)
    dry = backfill("--name-prefix", prefix)
    assert table_names(dry.stdout) == [changed]
    again = backfill("--name-prefix", prefix, "--do-it")
    assert summary(again) == (40, 1, 39, 0)
    assert s3.get_object(Bucket=bucket, Key=key_of(changed))["Body"].read() == b"changed value"
    assert tags_of(s3, bucket, key_of(changed))["ssmbakVersion"] == "2"
    assert version_count(s3, bucket) == 41


def test_rerun_rewrites_what_the_bucket_shows_deleted(backfill, ssm, s3, bucket, prefix):
    names = [p["Name"] for p in put_all(ssm, many(prefix, 6))]
    assert backfill("--name-prefix", prefix, "--do-it").returncode == 0
    s3.delete_object(Bucket=bucket, Key=key_of(names[0]))           # a delete marker
    s3.put_object(Bucket=bucket, Key=key_of(names[1]), Body=b"",     # a tombstone
                  Tagging="ssmbakTime=1&ssmbakOp=Delete")
    again = backfill("--name-prefix", prefix, "--do-it")
    assert summary(again) == (6, 2, 4, 0)
    assert sorted(table_names(again.stdout)) == sorted(names[:2])


def test_format_1_backups_count_when_not_older_than_the_change(backfill, ssm, s3, aws, bucket,
                                                                 prefix):
    """The Python tool's versions have no SSM version: their event time
    decides. One is as new as the change, one older (written late)."""
    put_all(ssm, [dict(Name=f"{prefix}/f1/same", Type="String", Value="a"),
                  dict(Name=f"{prefix}/f1/stale", Type="String", Value="b")])
    meta = described(ssm, [f"{prefix}/f1/same", f"{prefix}/f1/stale"])
    lm = {n: int(m["LastModifiedDate"].timestamp()) for n, m in meta.items()}
    now = time.time()
    load(aws.endpoint, bucket, [
        Write(f"{prefix}/f1/same", "legacy_value", lm[f"{prefix}/f1/same"], now + 1, value="a"),
        Write(f"{prefix}/f1/stale", "legacy_value", lm[f"{prefix}/f1/stale"] - 30, now + 1,
              value="old"),
    ])
    out = backfill("--name-prefix", prefix, "--do-it")
    assert out.returncode == 0, out.stderr
    assert table_names(out.stdout) == [f"{prefix}/f1/stale"]


def test_foo_and_slash_foo_are_one_parameter_and_one_key(backfill, ssm, s3, bucket, prefix):
    """SSM keeps a single-level name given with a leading slash as the name
    without it (hashicorp/terraform-provider-aws#49116, #49119): `foo` and
    `/foo` are one parameter, so one key and one version per change."""
    bare = prefix.lstrip("/") + "-shared"
    put_all(ssm, [dict(Name=bare, Type="String", Value="no slash")])
    ssm.put_parameter(Name="/" + bare, Type="String", Value="slash", Overwrite=True)
    first = backfill("--name-prefix", bare, "--do-it")
    assert summary(first) == (1, 1, 0, 0)
    assert table_names(first.stdout) == [bare]
    assert version_count(s3, bucket, "/" + bare) == 1
    assert s3.get_object(Bucket=bucket, Key="/" + bare)["Body"].read() == b"slash"
    again = backfill("--name-prefix", "/" + bare, "--do-it")
    assert summary(again) == (1, 0, 1, 0)
    ssm.put_parameter(Name=bare, Value="no slash 2", Overwrite=True)
    third = backfill("--name-prefix", "/" + bare, "--do-it")
    assert table_names(third.stdout) == [bare]
    assert version_count(s3, bucket, "/" + bare) == 2


def test_a_failed_index_write_fails_the_parameter(backfill, run, ssm, s3, aws, bucket, prefix):
    """The data version is written, its change index entry is not: the
    parameter is reported failed (exit 1), and restore still reads the
    version from its tags (FORMAT.md, "Reading")."""
    put_all(ssm, [dict(Name=f"{prefix}/x", Type="String", Value="v")])
    aws.fault(service="s3", operation="PutObject", kind="error500", count=1, after=1)
    out = backfill("--name-prefix", prefix, "--do-it", env_extra={"AWS_MAX_ATTEMPTS": "1"})
    assert out.returncode == 1
    assert f"failed: {prefix}/x: S3 PutObject: InternalError" in out.stderr
    assert version_count(s3, bucket, prefix) == 1
    assert version_count(s3, bucket, ".ssmbak/changes" + prefix) == 0
    got = run("preview", prefix + "/", "now", "-b", bucket, "--all", "--output", "json")
    assert got.returncode == 0, got.stderr
    assert [r["value"] for r in json.loads(got.stdout)] == ["v"]


# --- old parameters and restore ----------------------------------------------------


def test_old_parameters_restore_to_before_the_backfill(backfill, run, ssm, s3, aws, bucket,
                                                         prefix):
    """Parameters last changed two days ago: the versions carry that time,
    and preview at a time between the change and the backfill sees them."""
    aws.clock(offset=-2 * 86400, check_skew=False)
    params = put_all(ssm, [dict(Name=f"{prefix}/old/a", Type="String", Value="A"),
                           dict(Name=f"{prefix}/old/b", Type="SecureString", Value="B-secret"),
                           dict(Name=f"{prefix.lstrip('/')}-oldtop", Type="String", Value="T")])
    aws.clock()
    meta = described(ssm, [p["Name"] for p in params])
    out = backfill("--name-prefix", prefix, "--name-prefix", prefix.lstrip("/") + "-old", "--do-it")
    assert out.returncode == 0, out.stderr
    for p in params:
        m = meta[p["Name"]]
        assert time.time() - m["LastModifiedDate"].timestamp() > 86400
        assert_stored_exactly(s3, bucket, m, p["Value"])
    then = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 86400))
    preview = run("preview", prefix + "/old/", then, "-b", bucket, "--all", "--show-secure",
                  "--output", "json")
    assert preview.returncode == 0, preview.stderr
    got = {r["name"]: r.get("value") for r in json.loads(preview.stdout)}
    assert got == {f"{prefix}/old/a": "A", f"{prefix}/old/b": "B-secret"}
    before = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 3 * 86400))
    empty = run("preview", prefix + "/old/", before, "-b", bucket, "--all", "--output", "json")
    assert empty.returncode == 0 and json.loads(empty.stdout) == []


# --- changes during the run ---------------------------------------------------------


def test_deleted_or_changed_during_the_run(ssmbak_bin, env, ssm, s3, aws, bucket, prefix):
    """The bucket listing is slowed down; meanwhile one parameter is
    deleted and one changed. The deleted one is reported and skipped, the
    changed one written as it is now."""
    names = [p["Name"] for p in put_all(ssm, many(prefix, 30))]
    gone, changed = names[3], names[4]
    aws.fault(service="s3", operation="ListObjectVersions", kind="delay", delay_ms=1500, count=1)
    proc = subprocess.Popen([ssmbak_bin, "backfill", "--name-prefix", prefix, "-b", bucket, "--do-it",
                             "--output", "json"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 30
        while aws.counters().get("s3", {}).get("ListObjectVersions", 0) < 1:
            assert time.time() < deadline and proc.poll() is None
            time.sleep(0.02)
        ssm.delete_parameter(Name=gone)
        ssm.put_parameter(Name=changed, Value="new value", Type="String", Overwrite=True,
                          Description="changed while running")
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, stderr
    assert f"ssmbak backfill: {gone}: deleted during the run, skipped\n" in stderr
    assert re.search(r"listed 30, written 29, skipped 1, failed 0", stderr)
    assert key_of(gone) not in keys(s3, bucket)
    got = s3.get_object(Bucket=bucket, Key=key_of(changed))
    assert got["Body"].read() == b"new value"
    assert got["Metadata"]["ssmbak-version"] == "2"
    assert got["Metadata"]["ssmbak-description"] == meta_encode("changed while running")
    shown = {r["name"]: r for r in json.loads(stdout)}
    assert gone not in shown and len(shown) == 29
    assert (shown[changed]["version"], shown[changed]["description"]) == \
        (2, "changed while running")


# --- faults -----------------------------------------------------------------------


@pytest.mark.parametrize("service, operation, kind", [
    ("s3", "PutObject", "throttle"),
    ("s3", "PutObject", "error500"),
    ("ssm", "GetParameters", "throttle"),
    ("ssm", "GetParameters", "error500"),
])
def test_transient_faults_are_retried(backfill, ssm, s3, aws, bucket, prefix, service,
                                      operation, kind):
    put_all(ssm, many(prefix, 80))
    # Six failures, wherever they fall: at worst all on one request,
    # which its seventh try gets through.
    aws.fault(service=service, operation=operation, kind=kind, count=6)
    out = backfill("--name-prefix", prefix, "--do-it", env_extra={"AWS_MAX_ATTEMPTS": "7"})
    assert out.returncode == 0, out.stderr
    assert summary(out) == (80, 80, 0, 0)
    assert version_count(s3, bucket) == 80
    assert aws.control("GET", "faults")[0]["fired"] == 6


@pytest.mark.parametrize("service, operation, kind, reason", [
    ("s3", "PutObject", "error500", "S3 PutObject: InternalError"),
    ("s3", "PutObject", "throttle", "S3 PutObject: SlowDown"),
    ("ssm", "GetParameters", "error500", "SSM GetParameters: InternalServerError"),
    ("ssm", "GetParameters", "throttle", "SSM GetParameters: ThrottlingException"),
])
def test_lasting_faults_give_the_exact_failure_list_and_a_rerun_finishes(
        backfill, ssm, s3, aws, bucket, prefix, service, operation, kind, reason):
    params = put_all(ssm, many(prefix, 60))
    names = {p["Name"] for p in params}
    # S3: past the format marker and the run's announcement, the versions
    after = 2 if service == "s3" else 0
    aws.fault(service=service, operation=operation, kind=kind, count=4, after=after)
    out = backfill("--name-prefix", prefix, "--do-it", env_extra={"AWS_MAX_ATTEMPTS": "1"})
    stored = {k for k in keys(s3, bucket)}
    missing = {n for n in names if key_of(n) not in stored}
    failed = failures(out)
    assert len(missing) >= 3 * (10 if service == "ssm" else 1), missing
    assert out.returncode == 1
    assert set(failed) == missing
    assert all(r.startswith(reason) for r in failed.values()), failed
    assert summary(out) == (60, 60 - len(missing), 0, len(missing))
    for p in params:
        if p["Type"] == "SecureString":
            assert p["Value"] not in out.stderr
    aws.clear_faults()
    again = backfill("--name-prefix", prefix, "--do-it")
    assert again.returncode == 0, again.stderr
    assert summary(again) == (60, len(missing), 60 - len(missing), 0)
    assert version_count(s3, bucket) == 60


# --- the terminal -----------------------------------------------------------------


def test_progress_only_on_a_terminal(ssmbak_bin, env, backfill, ssm, bucket, prefix):
    put_all(ssm, many(prefix, 20))
    plain = backfill("--name-prefix", prefix, "--do-it", "--force")
    assert "\r" not in plain.stderr
    code, seen = run_with_stderr_on_a_terminal(
        [ssmbak_bin, "backfill", "--name-prefix", prefix, "-b", bucket, "--do-it", "--all"], env)
    assert code == 0
    assert b"\rssmbak backfill: written 0/20" in seen
    assert b"listed 20, written 20, skipped 0, failed 0" in seen


# --- cost -------------------------------------------------------------------------


def test_requests_per_parameter_for_1000_on_an_empty_bucket(backfill, ssm, aws, s3, bucket,
                                                              prefix):
    put_all(ssm, many(prefix, 1000))
    aws.reset_counters()
    out = backfill("--name-prefix", prefix, "--do-it")
    assert out.returncode == 0, out.stderr
    assert summary(out) == (1000, 1000, 0, 0)
    counts = aws.counters()
    total = sum(n for ops in counts.values() for n in ops.values())
    print(f"\n1,000 parameters, empty bucket: {total} requests, "
          f"{total / 1000:.3f} per parameter: {json.dumps(counts, sort_keys=True)}")
    # three writes a parameter: its version, its change index entry and
    # its log entry; and two reads SSM answers nowhere else: its tags
    # (ListTagsForResource) and its version's labels (GetParameterHistory)
    assert total / 1000 <= 5.2, counts
    assert counts["ssm"]["GetParameters"] == 100
    assert counts["ssm"]["ListTagsForResource"] == 1000
    assert counts["ssm"]["GetParameterHistory"] == 1000
    assert counts["s3"]["PutObject"] == 3000


def test_old_parameters_cost_no_more(backfill, ssm, aws, s3, bucket, prefix):
    """Parameters last changed long ago (the usual case for a backfill)
    cost what new ones cost: the change index holds their event times."""
    aws.clock(offset=-7 * 86400, check_skew=False)
    put_all(ssm, many(prefix, 200))
    aws.clock()
    aws.reset_counters()
    out = backfill("--name-prefix", prefix, "--do-it")
    assert out.returncode == 0, out.stderr
    counts = aws.counters()
    total = sum(n for ops in counts.values() for n in ops.values())
    print(f"\n200 old parameters, empty bucket: {total / 200:.3f} requests each: "
          f"{json.dumps(counts, sort_keys=True)}")
    assert counts["s3"]["PutObject"] == 3 * 200
    assert total / 200 <= 5.3, counts
