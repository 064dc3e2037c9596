"""S3's data model: buckets, keys, object versions, and listing order.

Versioning semantics follow
https://docs.aws.amazon.com/AmazonS3/latest/userguide/Versioning.html:
an unversioned bucket keeps one `null` version per key; with versioning
Enabled every write adds a version with a fresh id and a delete adds a
delete marker; Suspended writes and deletes replace the `null` version.
Versions of a key are kept newest first, keys in UTF-8 binary order (the
order S3 lists them in; Python's code point order is the same).
"""
import base64
import bisect
import hashlib
import secrets
import threading

VERSION_ID_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._")
VERSION_ID_LENGTH = 32
NULL_VERSION = "null"


def new_version_id():
    """An opaque id shaped like S3's (32 URL-safe characters)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(24)).decode().replace("-", ".")


def looks_like_version_id(value):
    return value == NULL_VERSION or (
        len(value) == VERSION_ID_LENGTH and all(c in VERSION_ID_ALPHABET for c in value))


class ObjectVersion:
    __slots__ = ("key", "version_id", "body", "etag", "last_modified", "metadata",
                 "content_type", "tags", "delete_marker", "sse", "headers",
                 "kms_key_arn", "bucket_key", "data_key")

    def __init__(self, key, version_id, last_modified, body=b"", metadata=None,
                 content_type="binary/octet-stream", tags=None, delete_marker=False,
                 sse="AES256", headers=None, etag=None, kms_key_arn=None, bucket_key=False,
                 data_key=None):
        self.key = key
        self.version_id = version_id
        self.last_modified = last_modified
        self.body = body
        self.etag = etag or f'"{hashlib.md5(body).hexdigest()}"'
        self.metadata = dict(metadata or {})
        self.content_type = content_type
        self.tags = list(tags or [])          # [(key, value)] in the order given
        self.delete_marker = delete_marker
        self.sse = sse
        self.headers = dict(headers or {})    # Cache-Control, Content-Encoding...
        self.kms_key_arn = kms_key_arn        # SSE-KMS: the key, and the data key
        self.bucket_key = bucket_key          # KMS encrypted (a KMS ciphertext blob)
        self.data_key = data_key

    @property
    def size(self):
        return len(self.body)

    def to_json(self):
        data = {name: getattr(self, name) for name in self.__slots__ if name != "body"}
        data["body"] = base64.b64encode(self.body).decode("ascii")
        return data

    @classmethod
    def from_json(cls, data):
        data = dict(data)
        data["body"] = base64.b64decode(data["body"])
        data["tags"] = [tuple(pair) for pair in data.get("tags", [])]
        return cls(**data)


class Bucket:
    def __init__(self, name, region, created, versioning=None, owner=None):
        self.name = name
        self.owner = owner              # the account that created it
        self.encryption = None          # default encryption rule (dict) or None
        self.region = region
        self.created = created
        self.versioning = versioning    # None (never enabled), "Enabled", "Suspended"
        self.objects = {}               # key -> [ObjectVersion], newest first
        self.keys = []                  # sorted keys
        self.replication = None         # s3_replication.parse_configuration's, or None
        self.policy = None              # the bucket policy's JSON text, or None

    @property
    def ever_versioned(self):
        return self.versioning is not None

    def is_empty(self):
        return not self.objects

    def versions(self, key):
        return self.objects.get(key, [])

    def latest(self, key):
        versions = self.objects.get(key)
        return versions[0] if versions else None

    def find(self, key, version_id):
        for version in self.objects.get(key, []):
            if version.version_id == version_id:
                return version
        return None

    def add(self, version):
        """Store a new version as the latest; replaces `null` unless Enabled."""
        if self.versioning != "Enabled":
            version.version_id = NULL_VERSION
            self._remove(version.key, NULL_VERSION)
        elif not version.version_id or version.version_id == NULL_VERSION:
            version.version_id = new_version_id()
        versions = self.objects.get(version.key)
        if versions is None:
            versions = self.objects[version.key] = []
            bisect.insort(self.keys, version.key)
        versions.insert(0, version)
        return version

    def remove_version(self, key, version_id):
        """Permanently delete one version; the removed version or None."""
        return self._remove(key, version_id)

    def _remove(self, key, version_id):
        versions = self.objects.get(key)
        if not versions:
            return None
        for index, version in enumerate(versions):
            if version.version_id == version_id:
                del versions[index]
                if not versions:
                    del self.objects[key]
                    del self.keys[bisect.bisect_left(self.keys, key)]
                return version
        return None

    def key_index(self, start):
        """Index of the first key >= start."""
        return bisect.bisect_left(self.keys, start)

    def to_json(self):
        return {"name": self.name, "region": self.region, "created": self.created,
                "versioning": self.versioning, "replication": self.replication,
                "owner": self.owner, "policy": self.policy, "encryption": self.encryption,
                "objects": {key: [v.to_json() for v in reversed(versions)]
                            for key, versions in self.objects.items()}}

    @classmethod
    def from_json(cls, data):
        bucket = cls(data["name"], data["region"], data["created"], data["versioning"],
                     data.get("owner"))
        bucket.replication = data.get("replication")
        bucket.policy, bucket.encryption = data.get("policy"), data.get("encryption")
        for key, versions in data["objects"].items():
            bucket.objects[key] = [ObjectVersion.from_json(v) for v in reversed(versions)]
        bucket.keys = sorted(bucket.objects)
        return bucket


class S3Store:
    def __init__(self):
        self.lock = threading.RLock()
        self.buckets = {}

    def to_json(self):
        with self.lock:
            return {name: bucket.to_json() for name, bucket in self.buckets.items()}

    def load_json(self, data):
        with self.lock:
            self.buckets = {name: Bucket.from_json(b) for name, b in (data or {}).items()}


def prefix_upper_bound(prefix):
    """The smallest string greater than every string starting with prefix."""
    return prefix + "\U0010ffff"


def common_prefix(key, prefix, delimiter):
    """The CommonPrefix `key` rolls up into, or None."""
    if not delimiter:
        return None
    index = key.find(delimiter, len(prefix))
    return key[:index + len(delimiter)] if index >= 0 else None


def walk_versions(bucket, prefix, delimiter, key_marker, version_id_marker, max_keys):
    """ListObjectVersions' entries after the markers, in S3's order.

    Returns (entries, truncated) where an entry is ("prefix", cp) or
    ("version", ObjectVersion, is_latest). A CommonPrefix counts as one
    entry toward max-keys.
    https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html
    """
    entries = []
    index = bucket.key_index(max(prefix, key_marker))
    while index < len(bucket.keys):
        key = bucket.keys[index]
        if not key.startswith(prefix):
            break
        cp = common_prefix(key, prefix, delimiter)
        if cp is not None:
            index = bucket.key_index(prefix_upper_bound(cp))
            if key_marker and cp <= key_marker:
                continue
            if len(entries) == max_keys:
                return entries, True
            entries.append(("prefix", cp))
            continue
        index += 1
        versions = bucket.objects[key]
        start = 0
        if key == key_marker:
            if not version_id_marker:
                continue
            ids = [v.version_id for v in versions]
            start = ids.index(version_id_marker) + 1 if version_id_marker in ids else len(ids)
        for position in range(start, len(versions)):
            if len(entries) == max_keys:
                return entries, True
            entries.append(("version", versions[position], position == 0))
    return entries, False


def walk_objects(bucket, prefix, delimiter, after, max_keys):
    """ListObjects(V2)' entries: live keys (latest not a delete marker).

    Returns (entries, truncated); an entry is ("prefix", cp) or
    ("object", ObjectVersion).
    """
    entries = []
    index = bucket.key_index(prefix)
    if after:
        index = max(index, bisect.bisect_right(bucket.keys, after))
    while index < len(bucket.keys):
        key = bucket.keys[index]
        if not key.startswith(prefix):
            break
        cp = common_prefix(key, prefix, delimiter)
        if cp is not None:
            next_index = bucket.key_index(prefix_upper_bound(cp))
            live = any(not bucket.objects[k][0].delete_marker
                       for k in bucket.keys[index:next_index])
            index = next_index
            if not live or (after and cp <= after):
                continue
            if len(entries) == max_keys:
                return entries, True
            entries.append(("prefix", cp))
            continue
        index += 1
        latest = bucket.objects[key][0]
        if latest.delete_marker:
            continue
        if len(entries) == max_keys:
            return entries, True
        entries.append(("object", latest))
    return entries, False
