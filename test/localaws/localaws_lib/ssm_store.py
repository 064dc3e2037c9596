"""SSM Parameter Store's data: parameters, their versions and labels.

Parameters live per region, as on AWS. A parameter keeps up to 100
versions, oldest first; SecureString values are kept encrypted (see
crypto.py) so neither memory dumps nor the state file hold plaintext.
"""
import threading

MAX_VERSIONS = 100


class ParameterVersion:
    __slots__ = ("version", "value", "type", "description", "key_id", "allowed_pattern",
                 "tier", "data_type", "last_modified", "last_modified_user", "labels",
                 "policies")

    def __init__(self, **fields):
        for name in self.__slots__:
            setattr(self, name, fields.get(name))
        self.labels = list(self.labels or [])
        self.policies = list(self.policies or [])

    def to_json(self):
        return {name: getattr(self, name) for name in self.__slots__}


class Parameter:
    def __init__(self, name, versions=None, tags=None):
        self.name = name
        self.versions = list(versions or [])   # oldest first
        self.tags = dict(tags or {})

    @property
    def latest(self):
        return self.versions[-1]

    def version(self, number):
        for version in self.versions:
            if version.version == number:
                return version
        return None

    def labelled(self, label):
        for version in self.versions:
            if label in version.labels:
                return version
        return None

    def to_json(self):
        return {"name": self.name, "tags": self.tags,
                "versions": [v.to_json() for v in self.versions]}

    @classmethod
    def from_json(cls, data):
        return cls(data["name"], [ParameterVersion(**v) for v in data["versions"]], data.get("tags"))


class SsmStore:
    def __init__(self):
        self.lock = threading.RLock()
        self._regions = {}

    def region(self, region):
        """{name: Parameter} of one region."""
        return self._regions.setdefault(region, {})

    def to_json(self):
        with self.lock:
            return {region: [p.to_json() for p in params.values()]
                    for region, params in self._regions.items()}

    def load_json(self, data):
        with self.lock:
            self._regions = {region: {p["name"]: Parameter.from_json(p) for p in params}
                             for region, params in (data or {}).items()}
