"""S3 replication: what a bucket's replication configuration copies to the
destination, as documented in
https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-what-is-isnot-replicated.html
and https://docs.aws.amazon.com/AmazonS3/latest/userguide/delete-marker-replication.html
"""
import pytest
from botocore.exceptions import ClientError

ROLE = "arn:aws:iam::000000000000:role/replication"


def rule(destination, delete_markers="Enabled", prefix=""):
    return {"ID": "all", "Status": "Enabled", "Priority": 1, "Filter": {"Prefix": prefix},
            "DeleteMarkerReplication": {"Status": delete_markers},
            "Destination": {"Bucket": f"arn:aws:s3:::{destination}"}}


@pytest.fixture
def pair(client, s3, unique):
    """(source client, source bucket, replica client, replica bucket):
    versioned buckets in us-east-1 and eu-west-1."""
    west = client("s3", region_name="eu-west-1")
    source, replica = unique("source"), unique("replica")
    s3.create_bucket(Bucket=source)
    west.create_bucket(Bucket=replica,
                       CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    for c, b in ((s3, source), (west, replica)):
        c.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    return s3, source, west, replica


def versions(c, bucket):
    listed = c.list_object_versions(Bucket=bucket)
    return sorted([(v["Key"], v["VersionId"], v["LastModified"]) for v in listed.get("Versions", [])]), \
        sorted([(m["Key"], m["VersionId"]) for m in listed.get("DeleteMarkers", [])])


def test_the_configuration_needs_versioning_and_a_destination(client, s3, unique, pair):
    plain = unique("plain")
    s3.create_bucket(Bucket=plain)
    _, source, _, replica = pair
    with pytest.raises(ClientError) as excinfo:
        s3.put_bucket_replication(Bucket=plain, ReplicationConfiguration={
            "Role": ROLE, "Rules": [rule(replica)]})
    assert "Versioning must be 'Enabled'" in str(excinfo.value)
    with pytest.raises(ClientError) as excinfo:
        s3.put_bucket_replication(Bucket=source, ReplicationConfiguration={
            "Role": ROLE, "Rules": [rule("no-such-bucket-anywhere")]})
    assert "Destination bucket must exist" in str(excinfo.value)
    with pytest.raises(ClientError) as excinfo:
        s3.get_bucket_replication(Bucket=source)
    assert excinfo.value.response["Error"]["Code"] == "ReplicationConfigurationNotFoundError"
    s3.put_bucket_replication(Bucket=source, ReplicationConfiguration={
        "Role": ROLE, "Rules": [rule(replica)]})
    got = s3.get_bucket_replication(Bucket=source)["ReplicationConfiguration"]
    assert got["Role"] == ROLE
    assert got["Rules"][0]["Destination"]["Bucket"] == f"arn:aws:s3:::{replica}"
    assert got["Rules"][0]["DeleteMarkerReplication"]["Status"] == "Enabled"


def test_versions_tags_metadata_and_delete_markers_are_replicated(pair):
    s3, source, west, replica = pair
    s3.put_object(Bucket=source, Key="/before", Body=b"not replicated")
    s3.put_bucket_replication(Bucket=source, ReplicationConfiguration={
        "Role": ROLE, "Rules": [rule(replica)]})
    first = s3.put_object(Bucket=source, Key="/app/x", Body=b"one", Tagging="ssmbakTime=1",
                          Metadata={"ssmbak-op": "Create"})
    s3.put_object(Bucket=source, Key="/app/x", Body=b"two", Tagging="ssmbakTime=2")
    s3.put_object_tagging(Bucket=source, Key="/app/x", VersionId=first["VersionId"],
                          Tagging={"TagSet": [{"Key": "ssmbakTime", "Value": "9"}]})
    s3.delete_object(Bucket=source, Key="/app/x")
    source_versions, source_markers = versions(s3, source)
    replica_versions, replica_markers = versions(west, replica)
    # Same ids and times; what was there before the configuration stays behind.
    assert replica_versions == [v for v in source_versions if v[0] != "/before"]
    assert replica_markers == source_markers and len(replica_markers) == 1
    got = west.get_object(Bucket=replica, Key="/app/x", VersionId=first["VersionId"])
    assert got["Body"].read() == b"one" and got["Metadata"] == {"ssmbak-op": "Create"}
    assert got["ReplicationStatus"] == "REPLICA"
    assert s3.head_object(Bucket=source, Key="/app/x", VersionId=first["VersionId"])[
        "ReplicationStatus"] == "COMPLETED"
    assert west.get_object_tagging(Bucket=replica, Key="/app/x", VersionId=first["VersionId"])[
        "TagSet"] == [{"Key": "ssmbakTime", "Value": "9"}]


def test_delete_markers_only_with_delete_marker_replication(pair):
    s3, source, west, replica = pair
    s3.put_bucket_replication(Bucket=source, ReplicationConfiguration={
        "Role": ROLE, "Rules": [rule(replica, delete_markers="Disabled")]})
    put = s3.put_object(Bucket=source, Key="/k", Body=b"v")
    s3.delete_object(Bucket=source, Key="/k")
    assert versions(west, replica)[1] == []
    assert west.get_object(Bucket=replica, Key="/k")["Body"].read() == b"v"
    # A version-specific delete is never replicated.
    s3.delete_object(Bucket=source, Key="/k", VersionId=put["VersionId"])
    assert [v[1] for v in versions(west, replica)[0]] == [put["VersionId"]]


def test_a_rule_applies_to_its_prefix(pair):
    s3, source, west, replica = pair
    s3.put_bucket_replication(Bucket=source, ReplicationConfiguration={
        "Role": ROLE, "Rules": [rule(replica, prefix="/app/")]})
    s3.put_object(Bucket=source, Key="/app/in", Body=b"1")
    s3.put_object(Bucket=source, Key="/other", Body=b"2")
    assert [v[0] for v in versions(west, replica)[0]] == ["/app/in"]
