"""An independent Python model of the bucket format (FORMAT.md), used to lay
down exact histories in localaws (through its bulk endpoint, so LastModified
is whatever the story needs) and to compute the answer restore must give.

History = a list of writes in write order (the order S3 received them).
Each write: Write(name, kind, event_time, written_at, version, value, ...).
Kinds:
  value             format 3: data version, then its change index entry
  delete            format 3: delete marker, then its entry (version = the
                    SSM version it deleted)
  value_unindexed   format 3 data version whose writer died before the entry
  delete_unindexed  format 3 delete marker whose writer died before the entry
  legacy_value      format 1 (the Python tool): tags only
  legacy_delete     format 1: a bare delete marker
  gap               format 3: a change whose value was not captured: an
                    index entry naming no version (FORMAT.md, "Gaps")
"""
import dataclasses
import datetime
import json
import math
import urllib.parse
import urllib.request

LEGACY_TAG_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 +-=._:/@")
INDEX_ROOT = ".ssmbak/changes"


def legacy_description(text):
    return "".join(c for c in text if c in LEGACY_TAG_CHARS)[:256]


def meta_encode(text):
    return urllib.parse.quote(text, safe="-_.~")


def index_root(prefix=""):
    return INDEX_ROOT + ("@" + prefix if prefix else "")


def entry_key(param_key, event_time, version, op, modified_ms, version_id, prefix=""):
    """FORMAT.md, "The change index"."""
    vid = urllib.parse.quote(version_id, safe="-_.~")
    return f"{index_root(prefix)}{param_key}!{event_time}.{version}.{op}.{modified_ms}.{vid}"


def log_key(param_key, event_time, version, op, modified_ms, version_id, prefix=""):
    """FORMAT.md, "The log": the entry after its root, under its hour."""
    hour = datetime.datetime.fromtimestamp(event_time, datetime.timezone.utc).strftime("%Y%m%d%H")
    entry = entry_key(param_key, event_time, version, op, modified_ms, version_id)
    root = ".ssmbak/log" + ("@" + prefix if prefix else "")
    return f"{root}/{hour}/{event_time:010d}{entry[len(INDEX_ROOT):]}"


@dataclasses.dataclass
class Write:
    name: str                 # the SSM name ("foo" or "/a/b")
    kind: str                 # see the module docstring
    event_time: int           # seconds; for deletes without an entry the marker's time is written_at
    written_at: float         # when S3 received it: LastModified
    version: int = 0
    value: str = ""
    type: str = "String"
    description: str = None
    tier: str = None
    key_id: str = None
    data_type: str = None
    allowed_pattern: str = None
    modified: float = None    # SSM LastModifiedDate (default: the event time)

    @property
    def key(self):
        return self.name if self.name.startswith("/") else "/" + self.name

    @property
    def is_delete(self):
        return self.kind in ("delete", "delete_unindexed", "legacy_delete")

    @property
    def indexed(self):
        return self.kind in ("value", "delete", "gap")

    @property
    def modified_ms(self):
        if self.is_delete or self.kind == "gap":
            return 0
        return round((self.modified if self.modified is not None else self.event_time) * 1000)


def data_object(w, prefix=""):
    """The S3 version one write leaves (before its index entry)."""
    key = prefix + w.key
    if w.is_delete:
        return {"key": key, "delete_marker": True, "last_modified": w.written_at}
    tags = {"ssmbakTime": str(w.event_time), "ssmbakType": w.type}
    if w.description:
        tags["ssmbakDescription"] = legacy_description(w.description)
    if w.kind == "legacy_value":
        return {"key": key, "body": w.value, "tags": tags, "last_modified": w.written_at}
    op = "Update"
    tags["ssmbakOp"] = op
    if w.version:
        tags["ssmbakVersion"] = str(w.version)
    tags["ssmbakModified"] = str(w.modified_ms)
    meta = {"ssmbak-format": "3", "ssmbak-time": str(w.event_time), "ssmbak-op": op,
            "ssmbak-type": w.type, "ssmbak-modified": "%.3f" % (w.modified_ms / 1000)}
    if w.version:
        meta["ssmbak-version"] = str(w.version)
    for field, name in (("description", "ssmbak-description"), ("tier", "ssmbak-tier"),
                        ("key_id", "ssmbak-key-id"), ("data_type", "ssmbak-data-type"),
                        ("allowed_pattern", "ssmbak-allowed-pattern")):
        if getattr(w, field):
            meta[name] = meta_encode(getattr(w, field))
    return {"key": key, "body": w.value, "tags": tags, "metadata": meta,
            "last_modified": w.written_at}


def bulk(endpoint, bucket, objects):
    body = json.dumps({"bucket": bucket, "objects": objects}).encode()
    req = urllib.request.Request(f"{endpoint}/_localaws/s3/bulk", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=300) as resp:
        return json.loads(resp.read() or b"null")


def load(endpoint, bucket, writes, prefix="", log=False):
    """Writes the history into localaws: data versions in write order, then
    the index entries of the indexed ones (named after the version ids S3
    gave), and with log their log entries too."""
    data = [w for w in writes if w.kind != "gap"]
    loaded = bulk(endpoint, bucket, [data_object(w, prefix) for w in data]) if data else None
    version_ids = iter(v["version_id"] for v in (loaded or {}).get("versions", []))
    entries = []
    for w in writes:
        vid = "-" if w.kind == "gap" else next(version_ids)
        if not w.indexed:
            continue
        op = "Gap" if w.kind == "gap" else "Delete" if w.is_delete else "Update"
        entries.append({"key": entry_key(w.key, w.event_time, w.version, op, w.modified_ms,
                                         vid, prefix),
                        "body": "", "last_modified": w.written_at + 0.1})
        if log:
            entries.append({"key": log_key(w.key, w.event_time, w.version, op, w.modified_ms,
                                           vid, prefix),
                            "body": "", "last_modified": w.written_at + 0.2})
    if entries:
        bulk(endpoint, bucket, entries)


def event_of(w):
    """The event time and SSM version choosing sees for a write."""
    if w.kind in ("delete_unindexed", "legacy_delete"):
        return int(math.floor(w.written_at)), 0
    return int(w.event_time), w.version


def rank(w, order):
    event, version = event_of(w)
    return (event, version, w.is_delete, order)


def expected_state(writes, t):
    """The definition (FORMAT.md, "Choosing the version for a time"): per
    key, among changes with event time <= t, the latest by event time; in
    the same second a delete beats a write of the same or a lower SSM
    version, otherwise the higher version wins; then the later write.
    Returns {name: Write} for keys whose winner holds a value, and the set of
    keys whose winner is a delete."""
    best = {}
    for order, w in enumerate(writes):
        if event_of(w)[0] > t:
            continue
        r = rank(w, order)
        if w.key not in best or r > best[w.key][0]:
            best[w.key] = (r, w)
    values = {w.name: w for _, w in best.values() if not w.is_delete}
    deleted = {w.key for _, w in best.values() if w.is_delete}
    return values, deleted
