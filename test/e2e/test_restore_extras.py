"""restore puts back what SSM keeps beside the value: the parameter's
tags (added and removed to match), the labels of the restored version
(on the version restore creates: SSM cannot give a label an older
version number back) and its policies (FORMAT.md, "Tags, labels,
policies, user"; man ssmbak-restore)."""
import datetime
import json

import pytest

from test_history import Recorder, lam, put  # noqa: F401  (lam is a fixture)

T0 = 1781258400


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


@pytest.fixture
def rec(lam, aws, ssm, prefix):  # noqa: F811
    yield Recorder(lam, aws, ssm, prefix)
    aws.clock()


def tags_of(ssm, name):
    return {t["Key"]: t["Value"] for t in
            ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"]}


POLICY = [{"Type": "Expiration", "Version": "1.0",
           "Attributes": {"Timestamp": "2030-01-01T00:00:00.000Z"}}]


def test_a_deleted_parameter_comes_back_with_tags_labels_and_policies(rec, run, ssm, bucket,
                                                                      prefix):
    name = f"{prefix}/db"
    rec.at(T0, put(name, "one", Type="String", Tier="Advanced", Policies=json.dumps(POLICY),
                   Tags=[{"Key": "team", "Value": "a"}, {"Key": "cost", "Value": "7"}]))
    rec.at(T0 + 10, lambda s: s.label_parameter_version(Name=name, ParameterVersion=1,
                                                        Labels=["live", "blue"]))
    rec.at(T0 + 20, lambda s: s.delete_parameter(Name=name))
    shown = run("preview", name, iso(T0 + 15), "-b", bucket, "--output", "json")
    (row,) = json.loads(shown.stdout)
    assert json.loads(row["at_time"]["tags"]) == {"team": "a", "cost": "7"}
    assert row["at_time"]["labels"] == "live,blue"
    assert [json.loads(p) for p in json.loads(row["at_time"]["policies"])] == POLICY
    out = run("restore", name, iso(T0 + 15), "-b", bucket)
    assert out.returncode == 0, out.stderr
    (version,) = ssm.get_parameter_history(Name=name)["Parameters"]
    assert version["Value"] == "one" and version["Version"] == 1
    assert sorted(version["Labels"]) == ["blue", "live"]
    assert [json.loads(p["PolicyText"]) for p in version["Policies"]] == POLICY
    assert tags_of(ssm, name) == {"team": "a", "cost": "7"}


def test_tags_are_made_to_match_and_labels_go_on_the_new_version(rec, run, ssm, bucket, prefix):
    name = f"{prefix}/api"
    rec.at(T0, put(name, "one", Type="String", Tags=[{"Key": "team", "Value": "a"}]))
    rec.at(T0 + 10, lambda s: s.label_parameter_version(Name=name, ParameterVersion=1,
                                                        Labels=["live"]))

    def drift(s):
        s.add_tags_to_resource(ResourceType="Parameter", ResourceId=name,
                               Tags=[{"Key": "team", "Value": "b"}, {"Key": "extra", "Value": "x"}])
        s.put_parameter(Name=name, Value="two", Overwrite=True)
    rec.at(T0 + 20, drift)
    out = run("restore", name, iso(T0 + 15), "-b", bucket)
    assert out.returncode == 0, out.stderr
    history = ssm.get_parameter_history(Name=name)["Parameters"]
    assert [(v["Version"], v["Value"], v["Labels"]) for v in history] == \
        [(1, "one", []), (2, "two", []), (3, "one", ["live"])]
    assert tags_of(ssm, name) == {"team": "a"}


def test_fifty_long_tags_pass_the_metadata_limit_and_come_back(rec, run, ssm, s3, bucket, prefix):
    """50 tags of 128-character keys and 256-character values pass S3's
    2 KB of metadata: they go to the side object (FORMAT.md, ".ssmbak/
    extra") and restore still puts every one back."""
    name = f"{prefix}/many"
    tags = [{"Key": f"k{i:02d}" + "k" * 125, "Value": f"v{i:02d}" + "v" * 253} for i in range(50)]
    rec.at(T0, put(name, "one", Type="String", Tags=tags))
    rec.at(T0 + 10, lambda s: s.delete_parameter(Name=name))
    (version,) = s3.list_object_versions(Bucket=bucket, Prefix=name)["Versions"]
    meta = s3.get_object(Bucket=bucket, Key=name, VersionId=version["VersionId"])["Metadata"]
    assert "ssmbak-tags" not in meta and meta["ssmbak-extra"]
    side = json.loads(s3.get_object(Bucket=bucket,
                                    Key=".ssmbak/extra/" + meta["ssmbak-extra"])["Body"].read())
    assert json.loads(side["tags"]) == {t["Key"]: t["Value"] for t in tags}
    out = run("restore", name, iso(T0 + 5), "-b", bucket)
    assert out.returncode == 0, out.stderr
    assert tags_of(ssm, name) == {t["Key"]: t["Value"] for t in tags}
