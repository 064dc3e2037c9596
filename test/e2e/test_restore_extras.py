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


@pytest.fixture
def iam_aws():
    from conftest import LocalAws
    server = LocalAws("--iam")
    try:
        yield server
    finally:
        server.stop()


def test_a_role_without_list_tags_still_backs_up_the_value(iam_aws, ssmbak_bin, tmp_path):
    """A principal from before tags were recorded (no ssm:ListTagsForResource):
    the value is written, its tags are "not recorded" (restore leaves the
    tags alone) and a WARN line says why (FORMAT.md, ssmbak-tags)."""
    import subprocess
    import uuid
    from conftest import client
    ssm, s3, iam = (client(iam_aws.endpoint, s) for s in ("ssm", "s3", "iam"))
    bucket = f"b-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    name = f"/t{uuid.uuid4().hex[:8]}/p"
    ssm.put_parameter(Name=name, Value="v", Type="String", Tags=[{"Key": "k", "Value": "v"}])
    user = f"u-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["ssm:DescribeParameters", "ssm:GetParameters",
                                           "ssm:GetParameterHistory", "s3:*"],
             "Resource": "*"}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "AWS_ENDPOINT_URL": iam_aws.endpoint,
           "AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
           "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
           "AWS_CONFIG_FILE": str(home / "c"), "AWS_SHARED_CREDENTIALS_FILE": str(home / "k")}
    out = subprocess.run([ssmbak_bin, "backfill", "--name-prefix", name.rsplit("/", 1)[0], "--do-it",
                          "-b", bucket], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"{name}: tags not recorded: ssm:ListTagsForResource was denied" in out.stderr
    meta = s3.get_object(Bucket=bucket, Key=name)["Metadata"]
    assert "ssmbak-tags" not in meta and meta["ssmbak-op"] == "Backfill"
