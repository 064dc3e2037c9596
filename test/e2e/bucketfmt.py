"""An independent Python model of the bucket format (FORMAT.md), used to lay
down exact histories in localaws (through its bulk endpoint, so LastModified
is whatever the story needs) and to compute the answer restore must give.

History = a list of writes in write order (the order S3 received them).
Each write: Write(key, kind, event_time, written_at, version, value, ...).
"""
import dataclasses
import json
import urllib.parse
import urllib.request

LEGACY_TAG_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 +-=._:/@")


def legacy_description(text):
    return "".join(c for c in text if c in LEGACY_TAG_CHARS)[:256]


def meta_encode(text):
    return urllib.parse.quote(text, safe="-_.~")


@dataclasses.dataclass
class Write:
    name: str                 # the SSM name ("foo" or "/a/b")
    kind: str                 # "value", "delete" (format 2), "legacy_value", "legacy_delete"
    event_time: int           # seconds; for legacy_delete the marker's time is written_at
    written_at: float         # when S3 received it: LastModified
    version: int = 0
    value: str = ""
    type: str = "String"
    description: str = None
    tier: str = None
    key_id: str = None
    data_type: str = None
    allowed_pattern: str = None

    @property
    def key(self):
        return self.name if self.name.startswith("/") else "/" + self.name


def bulk_objects(writes):
    """The S3 versions each write leaves, in write order."""
    out = []
    for w in writes:
        if w.kind == "legacy_delete":
            out.append({"key": w.key, "delete_marker": True, "last_modified": w.written_at})
            continue
        tags = {"ssmbakTime": str(w.event_time), "ssmbakType": w.type}
        if w.description:
            tags["ssmbakDescription"] = legacy_description(w.description)
        if w.kind == "legacy_value":
            out.append({"key": w.key, "body": w.value, "tags": tags,
                        "last_modified": w.written_at})
            continue
        op = "Delete" if w.kind == "delete" else "Update"
        tags["ssmbakOp"] = op
        if w.version:
            tags["ssmbakVersion"] = str(w.version)
        if w.key != w.name:
            tags["ssmbakName"] = w.name
        meta = {"ssmbak-format": "2", "ssmbak-time": str(w.event_time), "ssmbak-op": op,
                "ssmbak-type": w.type}
        if w.version:
            meta["ssmbak-version"] = str(w.version)
        if w.key != w.name:
            meta["ssmbak-name"] = meta_encode(w.name)
        for field, name in (("description", "ssmbak-description"), ("tier", "ssmbak-tier"),
                            ("key_id", "ssmbak-key-id"), ("data_type", "ssmbak-data-type"),
                            ("allowed_pattern", "ssmbak-allowed-pattern")):
            if getattr(w, field):
                meta[name] = meta_encode(getattr(w, field))
        body = "" if w.kind == "delete" else w.value
        out.append({"key": w.key, "body": body, "tags": tags, "metadata": meta,
                    "last_modified": w.written_at})
        if w.kind == "delete":
            out.append({"key": w.key, "delete_marker": True, "last_modified": w.written_at + 0.2})
    return out


def load(endpoint, bucket, writes, format_marker_since=None):
    """Writes the history (and the format marker) into localaws."""
    objects = bulk_objects(writes)
    if format_marker_since is not None:
        objects.insert(0, {"key": ".ssmbak/format", "last_modified": format_marker_since,
                           "body": json.dumps({"format": 2, "max_delay_seconds": 3600,
                                               "since": format_marker_since})})
    body = json.dumps({"bucket": bucket, "objects": objects}).encode()
    req = urllib.request.Request(f"{endpoint}/_localaws/s3/bulk", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as resp:
        resp.read()


def expected_state(writes, t):
    """The definition: per key, among changes with event time <= t, the latest
    by event time, ties to the higher SSM version, then the later write.
    Returns {name: Write} for keys whose winner holds a value, and the set of
    keys whose winner is a delete."""
    best = {}
    for order, w in enumerate(writes):
        event = w.written_at if w.kind == "legacy_delete" else w.event_time
        event = int(event)
        if event > t:
            continue
        rank = (event, w.version if w.kind != "legacy_delete" else 0, order)
        if w.key not in best or rank > best[w.key][0]:
            best[w.key] = (rank, w)
    values = {w.name: w for _, w in best.values() if w.kind in ("value", "legacy_value")}
    deleted = {w.key for _, w in best.values() if w.kind in ("delete", "legacy_delete")}
    return values, deleted
