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
