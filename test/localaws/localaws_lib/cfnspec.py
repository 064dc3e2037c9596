"""The CloudFormation resource specification, as CloudFormation checks it.

The file is the npm package @aws-cdk/cfnspec's spec/specification.json
(pinned in test/cfnspec/package-lock.json; `npm ci --prefix test/cfnspec`
installs it); LOCALAWS_CFNSPEC names another copy. Format:
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cfn-resource-specification-format.html

Properties are checked once their intrinsics are resolved, when a
resource is provisioned, and reported as the resource registry reports
them: "Properties validation failed for resource Queue with message:
#: extraneous key [Retention] is not permitted" (a CREATE_FAILED event;
seen in https://github.com/aws/aws-cdk/issues/28984).
"""
import json
import os
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
DEFAULT_PATH = os.path.join(ROOT, "test", "cfnspec", "node_modules", "@aws-cdk", "cfnspec",
                            "spec", "specification.json")


class SpecMissing(Exception):
    pass


class Spec:
    def __init__(self, data):
        self.version = data.get("ResourceSpecificationVersion", "?")
        self.resource_types = data["ResourceTypes"]
        self.property_types = data["PropertyTypes"]

    # --- what the template may name ---

    def has_type(self, type_name):
        return type_name in self.resource_types

    def attributes(self, type_name):
        return set(self.resource_types.get(type_name, {}).get("Attributes", {}))

    def update_type(self, type_name, prop):
        """Mutable, Immutable (replacement) or Conditional."""
        spec = self.resource_types.get(type_name, {}).get("Properties", {}).get(prop, {})
        return spec.get("UpdateType", "Mutable")

    # --- property values ---

    def check_properties(self, type_name, properties):
        """Messages, `#/Path: ...` as the registry's schema validation words them."""
        errors = []
        spec = self.resource_types[type_name].get("Properties", {})
        self._structure("#", properties, spec, type_name, errors)
        return errors

    def _property_type(self, owner, name):
        if name == "Tag":
            return "Tag", self.property_types["Tag"]
        prefix = owner.split(".")[0]
        full = f"{prefix}.{name}"
        return full, self.property_types.get(full)

    def _structure(self, path, value, spec, owner, errors):
        if not isinstance(value, dict):
            errors.append(f"{path}: expected type: JSONObject, found: {json_type(value)}")
            return
        for key in value:
            if key not in spec:
                errors.append(f"{path}: extraneous key [{key}] is not permitted")
        for key, prop in spec.items():
            if prop.get("Required") and key not in value:
                errors.append(f"{path}: required key [{key}] not found")
        for key, item in value.items():
            if key in spec:
                self._value(f"{path}/{key}", item, spec[key], owner, errors)

    def _value(self, path, value, prop, owner, errors):
        if "PrimitiveType" in prop:
            self._primitive(path, value, prop["PrimitiveType"], errors)
        elif prop.get("Type") in ("List", "Map"):
            if prop["Type"] == "List" and not isinstance(value, list):
                errors.append(f"{path}: expected type: JSONArray, found: {json_type(value)}")
                return
            if prop["Type"] == "Map" and not isinstance(value, dict):
                errors.append(f"{path}: expected type: JSONObject, found: {json_type(value)}")
                return
            items = enumerate(value) if isinstance(value, list) else value.items()
            for index, item in items:
                here = f"{path}/{index}"
                if "PrimitiveItemType" in prop:
                    self._primitive(here, item, prop["PrimitiveItemType"], errors)
                elif "ItemType" in prop:
                    self._named(here, item, prop["ItemType"], owner, errors)
        elif "Type" in prop:
            self._named(path, value, prop["Type"], owner, errors)

    def _named(self, path, value, name, owner, errors):
        full, spec = self._property_type(owner, name)
        if spec is None:
            return
        if "Properties" in spec:
            self._structure(path, value, spec["Properties"], full, errors)
        else:
            self._value(path, value, spec, full, errors)

    @staticmethod
    def _primitive(path, value, primitive, errors):
        """CloudFormation passes strings that read as the type ("180", "true")."""
        ok = True
        if primitive == "String":
            ok = isinstance(value, (str, int, float, bool))
        elif primitive in ("Integer", "Long"):
            ok = not isinstance(value, bool) and _is_int(value)
        elif primitive == "Double":
            ok = not isinstance(value, bool) and _is_number(value)
        elif primitive == "Boolean":
            ok = isinstance(value, bool) or value in ("true", "false", "True", "False")
        elif primitive == "Json":
            ok = isinstance(value, (dict, list, str))
        if not ok:
            errors.append(f"{path}: expected type: {primitive}, found: {json_type(value)}")


def _is_int(value):
    try:
        return float(value) == int(float(value)) and not isinstance(value, (list, dict))
    except (TypeError, ValueError):
        return False


def _is_number(value):
    try:
        float(value)
        return not isinstance(value, (list, dict))
    except (TypeError, ValueError):
        return False


def json_type(value):
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, (int, float)):
        return "Number"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "JSONArray"
    if isinstance(value, dict):
        return "JSONObject"
    return "Null"


_cache = {}
_lock = threading.Lock()


def load(path=None):
    """The specification (read once); SpecMissing when it is not installed."""
    path = path or os.environ.get("LOCALAWS_CFNSPEC") or DEFAULT_PATH
    with _lock:
        if path not in _cache:
            try:
                with open(path, encoding="utf-8") as f:
                    _cache[path] = Spec(json.load(f))
            except OSError as error:
                raise SpecMissing(f"localaws needs the CloudFormation resource specification at "
                                  f"{path} (npm ci --prefix test/cfnspec): {error.strerror}")
        return _cache[path]
