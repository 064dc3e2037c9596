"""S3 replication: a bucket's replication configuration and what it copies.

What S3 replicates, as documented in
https://docs.aws.amazon.com/AmazonS3/latest/userguide/replication-what-is-isnot-replicated.html
and https://docs.aws.amazon.com/AmazonS3/latest/userguide/delete-marker-replication.html:

- objects written after the configuration was added (not the ones before:
  that takes S3 Batch Replication), with their version id, body, metadata,
  tags and last-modified time; the source version then reports
  x-amz-replication-status COMPLETED, the replica REPLICA;
- later tag changes of a replicated version;
- delete markers made by a DeleteObject without a version id, only when the
  matching rule has DeleteMarkerReplication Enabled;
- never a version-specific delete (DeleteObject with versionId), and never
  what arrives as a replica (no chains back to the source).

Rules apply by Filter Prefix (a Tag filter is not emulated); the enabled
rule with the highest Priority wins. The configuration itself follows
https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketReplication.html:
both buckets versioned, the destination existing, a Role ARN given.

Known difference: S3 replicates asynchronously (usually within seconds,
15 minutes with Replication Time Control); localaws copies before the
write answers, so a test sees the replica at once.
"""
import copy

from .errors import AwsError
from .s3_store import ObjectVersion

STATUS_HEADER = "x-amz-replication-status"
BUCKET_ARN_PREFIX = "arn:aws:s3:::"


def invalid_request(message):
    return AwsError("InvalidRequest", message, 400)


def child_text(element, tag, default=None):
    found = element.find(tag)
    return default if found is None or found.text is None else found.text


def parse_configuration(root):
    """A ReplicationConfiguration XML body -> {"role": ..., "rules": [...]}."""
    if root.tag != "ReplicationConfiguration":
        raise AwsError("MalformedXML", "The XML you provided was not well-formed or did not "
                       "validate against our published schema", 400)
    role = child_text(root, "Role", "")
    if not role.startswith("arn:"):
        raise invalid_request("Role must be an IAM role ARN")
    rules = []
    for rule in root.findall("Rule"):
        destination = rule.find("Destination")
        bucket_arn = child_text(destination, "Bucket", "") if destination is not None else ""
        if not bucket_arn.startswith(BUCKET_ARN_PREFIX):
            raise invalid_request("Destination bucket must be an S3 bucket ARN")
        filter_ = rule.find("Filter")
        prefix = child_text(rule, "Prefix")
        if filter_ is not None:
            prefix = child_text(filter_, "Prefix", "")
            if filter_.find("Tag") is not None or filter_.find("And") is not None:
                raise AwsError("NotImplemented", "localaws does not emulate tag filters of "
                               "replication rules", 501)
        markers = rule.find("DeleteMarkerReplication")
        if filter_ is not None and markers is None:
            raise invalid_request("DeleteMarkerReplication must be specified for this version "
                                  "of Cross Region Replication configuration schema.")
        rules.append({
            "id": child_text(rule, "ID", ""),
            "status": child_text(rule, "Status", ""),
            "priority": int(child_text(rule, "Priority", "0") or 0),
            "prefix": prefix or "",
            "filtered": filter_ is not None,
            "delete_markers": markers is not None and
            child_text(markers, "Status", "Disabled") == "Enabled",
            "destination": bucket_arn[len(BUCKET_ARN_PREFIX):],
        })
    if not rules:
        raise AwsError("MalformedXML", "The XML you provided was not well-formed or did not "
                       "validate against our published schema", 400)
    for rule in rules:
        if rule["status"] not in ("Enabled", "Disabled"):
            raise AwsError("MalformedXML", "Rule Status must be Enabled or Disabled", 400)
    return {"role": role, "rules": rules}


def check_buckets(store, source, configuration):
    if source.versioning != "Enabled":
        raise invalid_request("Versioning must be 'Enabled' on the bucket to apply a "
                              "replication configuration")
    for rule in configuration["rules"]:
        target = store.buckets.get(rule["destination"])
        if target is None:
            raise invalid_request("Destination bucket must exist.")
        if target.versioning != "Enabled":
            raise invalid_request("Destination bucket must have versioning enabled.")


def configuration_pairs(configuration):
    """GetBucketReplication's body."""
    rules = []
    for rule in configuration["rules"]:
        pairs = [("ID", rule["id"]), ("Priority", rule["priority"])]
        if rule["filtered"]:
            pairs.append(("Filter", [("Prefix", rule["prefix"])]))
        else:
            pairs.append(("Prefix", rule["prefix"]))
        pairs.append(("Status", rule["status"]))
        if rule["filtered"]:
            pairs.append(("DeleteMarkerReplication",
                          [("Status", "Enabled" if rule["delete_markers"] else "Disabled")]))
        pairs.append(("Destination", [("Bucket", BUCKET_ARN_PREFIX + rule["destination"])]))
        rules.append(("Rule", pairs))
    return [("Role", configuration["role"])] + rules


def _rule_for(bucket, key):
    configuration = getattr(bucket, "replication", None)
    if not configuration:
        return None
    matching = [r for r in configuration["rules"]
                if r["status"] == "Enabled" and key.startswith(r["prefix"])]
    return max(matching, key=lambda r: r["priority"]) if matching else None


def _is_replica(version):
    return version.headers.get(STATUS_HEADER) == "REPLICA"


def _target(store, rule):
    target = store.buckets.get(rule["destination"])
    return target if target is not None and target.versioning == "Enabled" else None


def replicate_version(store, bucket, version):
    """After a write: the same version (id, body, metadata, tags, time) in
    the destination."""
    rule = _rule_for(bucket, version.key)
    if rule is None or _is_replica(version) or version.version_id == "null":
        return
    target = _target(store, rule)
    if target is None:
        version.headers[STATUS_HEADER] = "FAILED"
        return
    headers = dict(version.headers)
    headers[STATUS_HEADER] = "REPLICA"
    target.add(ObjectVersion(version.key, version.version_id, version.last_modified,
                             body=version.body, metadata=version.metadata,
                             content_type=version.content_type, tags=copy.copy(version.tags),
                             sse=version.sse, headers=headers, etag=version.etag))
    version.headers[STATUS_HEADER] = "COMPLETED"


def replicate_delete_marker(store, bucket, marker):
    rule = _rule_for(bucket, marker.key)
    if rule is None or not rule["delete_markers"]:
        return
    target = _target(store, rule)
    if target is not None:
        target.add(ObjectVersion(marker.key, marker.version_id, marker.last_modified,
                                 delete_marker=True))


def replicate_tags(store, bucket, version):
    """A tag change of a replicated version reaches its replica."""
    if version.headers.get(STATUS_HEADER) != "COMPLETED":
        return
    rule = _rule_for(bucket, version.key)
    target = _target(store, rule) if rule else None
    replica = target.find(version.key, version.version_id) if target else None
    if replica is not None:
        replica.tags = copy.copy(version.tags)
