"""The AWS CLI against localaws, as the AWS CLI reference examples use it.

https://awscli.amazonaws.com/v2/documentation/api/latest/reference/ssm/index.html
https://awscli.amazonaws.com/v2/documentation/api/latest/reference/s3api/index.html
"""
import pytest

from conftest import CliError


def test_ssm_parameter_story(aws, unique):
    root = "/" + unique("cli")
    put = aws("ssm", "put-parameter", "--name", f"{root}/db/url", "--value", "postgres://a",
              "--type", "String", "--description", "database")
    assert put == {"Version": 1, "Tier": "Standard"}
    aws("ssm", "put-parameter", "--name", f"{root}/db/password", "--value", "s3cr3t",
        "--type", "SecureString")
    got = aws("ssm", "get-parameter", "--name", f"{root}/db/password", "--with-decryption")
    assert got["Parameter"]["Value"] == "s3cr3t" and got["Parameter"]["Version"] == 1
    aws("ssm", "put-parameter", "--name", f"{root}/db/url", "--value", "postgres://b",
        "--type", "String", "--overwrite")
    old = aws("ssm", "get-parameter", "--name", f"{root}/db/url:1")["Parameter"]
    assert (old["Value"], old["Selector"]) == ("postgres://a", ":1")
    for i in range(2):
        aws("ssm", "put-parameter", "--name", f"{root}/many/p{i:02d}", "--value", str(i),
            "--type", "String")
    listed = aws("ssm", "get-parameters-by-path", "--path", root, "--recursive",
                 "--with-decryption", "--page-size", "1")
    assert [p["Name"] for p in listed["Parameters"]] == [
        f"{root}/db/password", f"{root}/db/url", f"{root}/many/p00", f"{root}/many/p01"]
    assert listed["Parameters"][0]["Value"] == "s3cr3t"
    history = aws("ssm", "get-parameter-history", "--name", f"{root}/db/url")["Parameters"]
    assert [h["Value"] for h in history] == ["postgres://a", "postgres://b"]
    aws("ssm", "delete-parameter", "--name", f"{root}/db/url")
    with pytest.raises(CliError) as excinfo:
        aws("ssm", "get-parameter", "--name", f"{root}/db/url")
    assert "(ParameterNotFound)" in excinfo.value.stderr


def test_s3api_versioned_backup_story(aws, unique, tmp_path):
    bucket = unique("cli-bucket")
    assert aws("s3api", "create-bucket", "--bucket", bucket) == {"Location": f"/{bucket}"}
    aws("s3api", "put-bucket-versioning", "--bucket", bucket,
        "--versioning-configuration", "Status=Enabled")
    first, second = tmp_path / "v1", tmp_path / "v2"
    first.write_text("value one")
    second.write_text("value two")
    v1 = aws("s3api", "put-object", "--bucket", bucket, "--key", "/app/db/url", "--body", str(first),
             "--tagging", "ssmbak-type=String&ssmbak-version=1")["VersionId"]
    v2 = aws("s3api", "put-object", "--bucket", bucket, "--key", "/app/db/url", "--body", str(second),
             "--tagging", "ssmbak-type=String&ssmbak-version=2")["VersionId"]
    versions = aws("s3api", "list-object-versions", "--bucket", bucket, "--prefix", "/app/")
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in versions["Versions"]] == [
        ("/app/db/url", v2, True), ("/app/db/url", v1, False)]
    out = tmp_path / "out"
    meta = aws("s3api", "get-object", "--bucket", bucket, "--key", "/app/db/url",
               "--version-id", v1, str(out))
    assert out.read_text() == "value one" and meta["VersionId"] == v1 and meta["TagCount"] == 2
    tags = aws("s3api", "get-object-tagging", "--bucket", bucket, "--key", "/app/db/url",
               "--version-id", v1)
    assert tags == {"VersionId": v1, "TagSet": [{"Key": "ssmbak-type", "Value": "String"},
                                                {"Key": "ssmbak-version", "Value": "1"}]}
    deleted = aws("s3api", "delete-object", "--bucket", bucket, "--key", "/app/db/url")
    assert deleted["DeleteMarker"] is True
    versions = aws("s3api", "list-object-versions", "--bucket", bucket)
    assert versions["DeleteMarkers"][0]["VersionId"] == deleted["VersionId"]
    assert versions["DeleteMarkers"][0]["IsLatest"] is True
    with pytest.raises(CliError) as excinfo:
        aws("s3api", "get-object", "--bucket", bucket, "--key", "/app/db/url", str(out))
    assert "(NoSuchKey)" in excinfo.value.stderr


def test_awscli_pages_list_object_versions(aws, control, unique):
    bucket = unique("cli-pages")
    control.post("s3/bulk", {"bucket": bucket, "objects": [
        {"key": f"k{i:03d}", "body": "x"} for i in range(25)]})
    listed = aws("s3api", "list-object-versions", "--bucket", bucket, "--page-size", "10")
    assert len(listed["Versions"]) == 25


def test_the_other_ssm_operations(aws, unique):
    root = "/" + unique("cli-more")
    for name in ("a", "b"):
        aws("ssm", "put-parameter", "--name", f"{root}/{name}", "--value", name, "--type", "String")
    got = aws("ssm", "get-parameters", "--names", f"{root}/a", f"{root}/missing")
    assert [p["Name"] for p in got["Parameters"]] == [f"{root}/a"]
    assert got["InvalidParameters"] == [f"{root}/missing"]
    labelled = aws("ssm", "label-parameter-version", "--name", f"{root}/a", "--labels", "live")
    assert labelled == {"InvalidLabels": [], "ParameterVersion": 1}
    described = aws("ssm", "describe-parameters", "--parameter-filters",
                    f"Key=Path,Option=Recursive,Values={root}")
    assert [p["Name"] for p in described["Parameters"]] == [f"{root}/a", f"{root}/b"]
    deleted = aws("ssm", "delete-parameters", "--names", f"{root}/a", f"{root}/b", f"{root}/c")
    assert deleted == {"DeletedParameters": [f"{root}/a", f"{root}/b"],
                       "InvalidParameters": [f"{root}/c"]}


def test_the_other_s3api_operations(aws, unique, tmp_path):
    bucket = unique("cli-more")
    aws("s3api", "create-bucket", "--bucket", bucket)
    assert bucket in [b["Name"] for b in aws("s3api", "list-buckets")["Buckets"]]
    aws("s3api", "head-bucket", "--bucket", bucket)
    assert aws("s3api", "get-bucket-versioning", "--bucket", bucket) == {}
    body = tmp_path / "body"
    body.write_text("x y")
    aws("s3api", "put-object", "--bucket", bucket, "--key", "/x y/z+w", "--body", str(body),
        "--metadata", "origin=cli")
    head = aws("s3api", "head-object", "--bucket", bucket, "--key", "/x y/z+w")
    assert head["ContentLength"] == 3 and head["Metadata"] == {"origin": "cli"}
    aws("s3api", "put-object-tagging", "--bucket", bucket, "--key", "/x y/z+w",
        "--tagging", "TagSet=[{Key=k,Value=v}]")
    assert aws("s3api", "get-object-tagging", "--bucket", bucket, "--key", "/x y/z+w")["TagSet"] == [
        {"Key": "k", "Value": "v"}]
    aws("s3api", "delete-object-tagging", "--bucket", bucket, "--key", "/x y/z+w")
    listed = aws("s3api", "list-objects-v2", "--bucket", bucket, "--prefix", "/x y/")
    assert [o["Key"] for o in listed["Contents"]] == ["/x y/z+w"]
    deleted = aws("s3api", "delete-objects", "--bucket", bucket,
                  "--delete", "Objects=[{Key=/x y/z+w}]")
    assert [d["Key"] for d in deleted["Deleted"]] == ["/x y/z+w"]
    aws("s3api", "delete-bucket", "--bucket", bucket)


def test_awscli_web_identity_without_signing(aws):
    result = aws("sts", "assume-role-with-web-identity", "--no-sign-request",
                 "--role-arn", "arn:aws:iam::000000000000:role/ci", "--role-session-name", "ci",
                 "--web-identity-token", "header.payload.signature")
    assert result["AssumedRoleUser"]["Arn"] == "arn:aws:sts::000000000000:assumed-role/ci/ci"
