"""Single-level names (`foo`) with and without their slash. SSM keeps
`/foo` as `foo` (one parameter; a path without its slash is refused:
hashicorp/terraform-provider-aws#49116, #49119, #49339), and the bucket
keeps it under the key `/foo` (FORMAT.md). Backfill, preview/restore of
`foo` and restore --to onto a single-level name."""
import json

import pytest

from bucketfmt import Write, load

T0 = 1718243666


def iso(t):
    import datetime
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


@pytest.fixture
def bare(prefix):
    return prefix.lstrip("/") + "-single"


def rows(result):
    assert result.returncode == 0, result.stderr
    return {r["name"]: r for r in json.loads(result.stdout)}


@pytest.mark.parametrize("given", ["bare", "slashed"])
def test_backfill_writes_one_key_whichever_name_was_given(run, ssm, s3, bucket, bare, given):
    name = bare if given == "bare" else "/" + bare
    ssm.put_parameter(Name=name, Value="v1", Type="String")
    out = run("backfill", "-b", bucket, "--name-prefix", name, "--do-it")
    assert out.returncode == 0, out.stderr
    listed = s3.list_object_versions(Bucket=bucket, Prefix="/" + bare)
    assert [(v["Key"], v["IsLatest"]) for v in listed.get("Versions", [])] == [("/" + bare, True)]
    assert s3.get_object(Bucket=bucket, Key="/" + bare)["Body"].read() == b"v1"
    again = run("backfill", "-b", bucket, "--name-prefix", "/" + bare, "--do-it")
    assert "written 0, skipped 1" in again.stderr, again.stderr


@pytest.mark.parametrize("path", ["bare", "slashed"])
@pytest.mark.parametrize("recorded", ["foo", "/foo"])
def test_preview_and_restore_of_a_single_level_name(run, aws, ssm, bucket, bare, path,
                                                    recorded):
    """Whatever name the bucket recorded (`foo` from SSM's events, `/foo`
    from an older writer) and whichever form is asked, restore puts back
    the one parameter `foo`."""
    name = bare if recorded == "foo" else "/" + bare
    load(aws.endpoint, bucket, [Write(name, "value", T0, T0 + 2, 1, "then"),
                                Write(name, "value", T0 + 100, T0 + 102, 2, "later")])
    ssm.put_parameter(Name=bare, Value="now", Type="String")
    asked = bare if path == "bare" else "/" + bare
    shown = rows(run("preview", asked, iso(T0 + 50), "-b", bucket, "--output", "json"))
    assert [(r["value"], r["type"]) for r in shown.values()] == [("then", "String")]
    restored = run("restore", asked, iso(T0 + 50), "-b", bucket)
    assert restored.returncode == 0, restored.stderr
    assert ssm.get_parameter(Name=bare)["Parameter"]["Value"] == "then"
    history = ssm.get_parameter_history(Name=bare)["Parameters"]
    assert [h["Name"] for h in history] == [bare, bare]        # one parameter, two versions
    assert run("preview", asked, iso(T0 + 50), "-b", bucket).stdout == ""


@pytest.mark.parametrize("to", ["bare", "slashed"])
def test_restore_to_a_single_level_name(run, aws, ssm, bucket, prefix, bare, to):
    source = f"{prefix}/app/url"
    load(aws.endpoint, bucket, [Write(source, "value", T0, T0 + 2, 1, "postgres://old")])
    target = bare if to == "bare" else "/" + bare
    out = run("restore", source, iso(T0 + 10), "-b", bucket, "--to", target)
    assert out.returncode == 0, out.stderr
    got = ssm.get_parameter(Name=bare)["Parameter"]
    assert (got["Value"], got["Version"]) == ("postgres://old", 1)
    assert ssm.describe_parameters(ParameterFilters=[
        {"Key": "Name", "Values": [bare]}])["Parameters"][0]["Name"] == bare
    again = run("preview", source, iso(T0 + 10), "-b", bucket, "--to", target)
    assert again.returncode == 0 and again.stdout == "", again.stdout + again.stderr
    with pytest.raises(ssm.exceptions.ParameterNotFound):      # nothing written in place
        ssm.get_parameter(Name=source)
