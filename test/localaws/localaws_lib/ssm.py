"""SSM Parameter Store (JSON 1.1, X-Amz-Target: AmazonSSM.<Operation>).

API reference: https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_Operations.html
Name rules:    https://docs.aws.amazon.com/systems-manager/latest/userguide/sysman-parameter-name-constraints.html
Every change emits the EventBridge "Parameter Store Change" event
(https://docs.aws.amazon.com/systems-manager/latest/userguide/monitoring-systems-manager-event-examples.html#SSM-Parameter-Store-event-types).
"""
import base64
import json
import re
import threading

from .errors import AwsError
from .protocols import JSON_AUTH_ERRORS, JsonService, Timestamp
from .ssm_store import MAX_VERSIONS, Parameter, ParameterVersion, SsmStore

TYPES = ("String", "StringList", "SecureString")
TIERS = ("Standard", "Advanced", "Intelligent-Tiering")
DATA_TYPES = ("text", "aws:ec2:image", "aws:ssm:integration")
DEFAULT_KEY_ID = "alias/aws/ssm"
# https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html
STANDARD_VALUE_LIMIT, ADVANCED_VALUE_LIMIT = 4096, 8192
STANDARD_PARAMETER_LIMIT, ADVANCED_PARAMETER_LIMIT = 10000, 100000
MAX_NAME_LENGTH = 1011        # 2048 in the model, of which 1037 are reserved
MAX_HIERARCHY_LEVELS = 15
MAX_DESCRIPTION = 1024
MAX_LABELS_PER_VERSION = 10
# https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-policies.html
POLICY_TYPES = ("Expiration", "ExpirationNotification", "NoChangeNotification")
MAX_POLICIES = 10
NAME_CHARACTERS = re.compile(r"[a-zA-Z0-9_.\-/]+")
LABEL = re.compile(r"[a-zA-Z0-9_.\-]{1,100}")
AMI_ID = re.compile(r"ami-[0-9a-f]{8}([0-9a-f]{9})?")
KEY_ID = re.compile(r"alias/[a-zA-Z0-9/_\-]+|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
                    r"|mrk-[0-9a-f]{32}|arn:aws[\w-]*:kms:[a-z0-9-]+:\d{12}:(key/[\w-]+|alias/[\w/_\-]+)")

NAME_RULES = ('Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive). If formed '
              'as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be '
              'formed as a mix of letters, numbers and the following 3 symbols .-_')
PATH_RULES = ('The parameter doesn\'t meet the parameter name requirements. The parameter name must '
              'begin with a forward slash "/". It can\'t be prefixed with \\"aws\\" or \\"ssm\\" '
              '(case-insensitive). It must use only letters, numbers, or the following symbols: . '
              '(period), - (hyphen), _ (underscore). Special characters are not allowed. All '
              'sub-paths, if specified, must use the forward slash symbol "/". Valid example: '
              '/get/parameters2-/by1./path0_.')


def validation(message):
    return AwsError("ValidationException", message)


def constraint(value, field, rule):
    return validation(f"1 validation error detected: Value '{value}' at '{field}' failed to "
                      f"satisfy constraint: {rule}")


def not_found(name=None):
    # AWS answers ParameterNotFound with an empty message.
    return AwsError("ParameterNotFound", "")


def version_not_found(name, selector):
    return AwsError("ParameterVersionNotFound", f"Systems Manager could not find version "
                    f"{selector} of {name}. Verify the version and try again.")


def hierarchy_levels(name):
    return len([part for part in name.split("/") if part]) if name.startswith("/") else 1


def canonical_name(name):
    """The name SSM keeps: a single-level name given with a leading slash
    is that name without it (`/foo` and `foo` are one parameter, `foo`),
    as hashicorp/terraform-provider-aws#49116 and its fix #49119 report;
    a path keeps its slash (a path without one is refused elsewhere)."""
    if name.startswith("/") and "/" not in name[1:]:
        return name[1:]
    return name


def qualified_name(name):
    """`foo` -> `/foo`: the form a single-level name also answers to."""
    return name if name.startswith("/") else "/" + name


def validate_name(raw):
    """The parameter name PutParameter stores, or ValidationException.

    AWS strips spaces at either end; a name is a bare word (`foo`, also
    given as `/foo`) or a path starting with `/`, of at most 15 levels,
    made of letters, digits and `_.-`, and not prefixed with aws or ssm
    (case-insensitive). `a/b` (a path without its slash) is refused.
    """
    name = (raw or "").strip(" ")
    if not name:
        raise constraint(raw, "name", "Member must have length greater than or equal to 1")
    if len(name) > MAX_NAME_LENGTH:
        raise validation(f"Parameter name exceeds the maximum length of {MAX_NAME_LENGTH} characters.")
    if not NAME_CHARACTERS.fullmatch(name):
        raise validation(NAME_RULES)
    parts = name[1:].split("/") if name.startswith("/") else [name]
    if any(not part for part in parts) or (not name.startswith("/") and "/" in name):
        raise validation(NAME_RULES)
    if parts[0].lower().startswith(("aws", "ssm")):
        raise validation(NAME_RULES)
    if len(parts) > MAX_HIERARCHY_LEVELS:
        raise AwsError("HierarchyLevelLimitExceededException",
                       "A hierarchy can have a maximum of 15 levels. For more information, see "
                       "Requirements and constraints for parameter names in the AWS Systems "
                       "Manager User Guide.")
    return canonical_name(name)


def validate_path(raw):
    """GetParametersByPath's Path (and the Path filter): `/`-rooted."""
    path = raw or ""
    if not path.startswith("/") or not NAME_CHARACTERS.fullmatch(path) or "//" in path:
        raise validation(PATH_RULES)
    if hierarchy_levels(path) > MAX_HIERARCHY_LEVELS:
        raise AwsError("HierarchyLevelLimitExceededException",
                       "A hierarchy can have a maximum of 15 levels.")
    return path


def under_path(name, path, recursive):
    """Is `name` below `path`? Names without a leading slash are root-level."""
    if not name.startswith("/"):
        return path == "/"
    prefix = path.rstrip("/") + "/"
    if not name.startswith(prefix):
        return False
    return recursive or "/" not in name[len(prefix):]


def max_results(params, limit):
    value = params.get("MaxResults")
    if value is None:
        return limit
    if not isinstance(value, int) or value < 1:
        raise constraint(value, "maxResults", "Member must have value greater than or equal to 1")
    if value > limit:
        raise constraint(value, "maxResults", f"Member must have value less than or equal to {limit}")
    return value


def paginate(items, key, params, limit):
    """One page of `items` (sorted by `key`) after NextToken; (page, token)."""
    size = max_results(params, limit)
    token = params.get("NextToken")
    if token:
        try:
            after = json.loads(base64.urlsafe_b64decode(token.encode()))["after"]
        except (ValueError, KeyError, TypeError):
            raise AwsError("InvalidNextToken", "The specified token isn't valid.")
        items = [item for item in items if key(item) > after]
    page = items[:size]
    next_token = None
    if len(items) > size:
        next_token = base64.urlsafe_b64encode(json.dumps({"after": key(page[-1])}).encode()).decode()
    return page, next_token


def value_size(value):
    return len(value.encode("utf-8"))


class SsmService(JsonService):
    name = signing_name = "ssm"
    target_prefixes = ("AmazonSSM",)
    AUTH_ERRORS = JSON_AUTH_ERRORS
    operations = {
        "PutParameter": "put_parameter", "GetParameter": "get_parameter",
        "GetParameters": "get_parameters", "GetParametersByPath": "get_parameters_by_path",
        "GetParameterHistory": "get_parameter_history",
        "DescribeParameters": "describe_parameters", "DeleteParameter": "delete_parameter",
        "DeleteParameters": "delete_parameters", "LabelParameterVersion": "label_parameter_version",
    }
    # Required members, from each operation's Request Parameters section.
    required = {
        "PutParameter": ("Name", "Value"), "GetParameter": ("Name",), "GetParameters": ("Names",),
        "GetParametersByPath": ("Path",), "GetParameterHistory": ("Name",),
        "DeleteParameter": ("Name",), "DeleteParameters": ("Names",),
        "LabelParameterVersion": ("Name", "Labels"),
    }

    # How long the asynchronous aws:ec2:image validation takes (AWS does
    # not say); POST /_localaws/ssm/validation {"delay_ms": N} changes it.
    ami_validation_seconds = 0.05

    def __init__(self, cipher, changed):
        self.cipher = cipher
        self.changed = changed
        self.store = SsmStore()

    def set_validation_delay(self, body, query):
        """Control route: {"delay_ms": N} for the aws:ec2:image validation."""
        self.ami_validation_seconds = float(body["delay_ms"]) / 1000.0
        return {"delay_ms": body["delay_ms"]}

    def bulk_load(self, body, query):
        """Control route POST /_localaws/ssm/bulk: {"region": R, "parameters":
        [{"name", "value", "type", "version", "last_modified" (epoch),
        "description"?}]} sets each parameter to that one version, without
        events: a bench lays down 10,000 parameters in one request."""
        region = body.get("region", "us-east-1")
        with self.store.lock:
            table = self.store.region(region)
            for spec in body.get("parameters", []):
                kind = spec.get("type", "String")
                value = spec["value"]
                stored = self.cipher.encrypt(value) if kind == "SecureString" else value
                version = ParameterVersion(
                    version=int(spec.get("version", 1)), value=stored, type=kind,
                    description=spec.get("description"), tier="Standard", data_type="text",
                    last_modified=round(float(spec["last_modified"]), 3),
                    last_modified_user=f"arn:aws:iam::{self.account_for_bulk}:root")
                name = canonical_name(spec["name"])
                table[name] = Parameter(name, [version])
        self.changed()
        return {"loaded": len(body.get("parameters", []))}

    account_for_bulk = "000000000000"

    def dispatch(self, request, operation, ctx):
        with self.store.lock:
            return super().dispatch(request, operation, ctx)

    # --- shapes ---

    @staticmethod
    def arn(ctx, name):
        return f"arn:aws:ssm:{ctx.region}:{ctx.account}:parameter/{name.lstrip('/')}"

    def _value(self, version, decrypt):
        if version.type == "SecureString" and decrypt:
            return self.cipher.decrypt(version.value)
        return version.value

    def _parameter_shape(self, ctx, param, version, decrypt, selector=None, name=None):
        """The Parameter structure of GetParameter(s)/GetParametersByPath."""
        shape = {"Name": name or param.name, "Type": version.type,
                 "Value": self._value(version, decrypt), "Version": version.version}
        if selector:
            shape["Selector"] = selector
        shape.update({"LastModifiedDate": Timestamp(version.last_modified),
                      "ARN": self.arn(ctx, param.name), "DataType": version.data_type})
        return shape

    def _history_shape(self, param, version, decrypt):
        shape = {"Name": param.name, "Type": version.type}
        if version.key_id:
            shape["KeyId"] = version.key_id
        shape.update({"LastModifiedDate": Timestamp(version.last_modified),
                      "LastModifiedUser": version.last_modified_user})
        if version.description:
            shape["Description"] = version.description
        shape["Value"] = self._value(version, decrypt)
        if version.allowed_pattern:
            shape["AllowedPattern"] = version.allowed_pattern
        shape.update({"Version": version.version, "Labels": list(version.labels),
                      "Tier": version.tier, "Policies": list(version.policies),
                      "DataType": version.data_type})
        return shape

    def _metadata_shape(self, ctx, param):
        version = param.latest
        shape = {"Name": param.name, "ARN": self.arn(ctx, param.name), "Type": version.type}
        if version.key_id:
            shape["KeyId"] = version.key_id
        shape.update({"LastModifiedDate": Timestamp(version.last_modified),
                      "LastModifiedUser": version.last_modified_user})
        if version.description:
            shape["Description"] = version.description
        if version.allowed_pattern:
            shape["AllowedPattern"] = version.allowed_pattern
        shape.update({"Version": version.version, "Tier": version.tier,
                      "Policies": list(version.policies), "DataType": version.data_type})
        return shape

    def _emit(self, ctx, param, version, operation):
        """The "Parameter Store Change" event; the detail has name, type,
        operation and, when set, description, for every operation
        (AWS's examples; the same record for LabelParameterVersion in
        https://hackage.haskell.org/package/hal-1.1/docs/AWS-Lambda-Events-EventBridge-Detail-SSM-ParameterStoreChange.html).
        """
        detail = {"name": param.name, "type": version.type, "operation": operation}
        if version.description:
            detail["description"] = version.description
        if version.data_type == "aws:ec2:image":
            detail["dataType"] = version.data_type
        ctx.events.emit(source="aws.ssm", detail_type="Parameter Store Change", detail=detail,
                        resources=[self.arn(ctx, param.name)], account=ctx.account,
                        region=ctx.region)

    # --- lookups ---

    def _parameters(self, ctx):
        """The parameters of the caller's region; a member account of the
        organization (organizations.py) has its own."""
        if ctx.account == ctx.credentials.account:
            return self.store.region(ctx.region)
        return self.store.region(f"{ctx.account}/{ctx.region}")

    def _split_selector(self, ctx, raw):
        """`name`, `name:version`, `name:label` or an ARN -> (name, selector)."""
        name = raw or ""
        if name.startswith("arn:"):
            parts = name.split(":", 5)
            if len(parts) < 6 or not parts[5].startswith("parameter/"):
                raise validation(f"Invalid parameter ARN: {raw}")
            name = parts[5][len("parameter"):]
        name, colon, selector = name.partition(":")
        if colon and (not selector or ":" in selector):
            raise validation(f"Parameter {raw} has an invalid selector.")
        return canonical_name(name.strip(" ")), (selector if colon else None)

    @staticmethod
    def _asked_name(raw, param):
        """The Name GetParameter(s) answer with: the name as asked (`/foo`
        stays `/foo` although the parameter is `foo`), per
        hashicorp/terraform-provider-aws#49339 ("The Name on
        types.Parameter always preserves the leading slash"); an ARN or a
        selector does not change it."""
        asked = (raw or "").strip(" ").partition(":")[0]
        return asked if canonical_name(asked) == param.name else param.name

    def _find(self, ctx, raw):
        """(Parameter, version, selector) for a name with optional selector."""
        name, selector = self._split_selector(ctx, raw)
        param = self._parameters(ctx).get(name)
        if param is None:
            raise not_found(name)
        if selector is None:
            return param, param.latest, None
        if selector.isdigit():
            version = param.version(int(selector))
        else:
            version = param.labelled(selector)
        if version is None:
            raise version_not_found(name, selector)
        return param, version, ":" + selector

    # --- operations ---

    def put_parameter(self, params, ctx):
        """https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html"""
        name = validate_name(params.get("Name"))
        value = self._required_value(params)
        table = self._parameters(ctx)
        existing = table.get(name)
        self._check_overwrite(params, existing)
        previous = existing.latest if existing else None
        fields = self._version_fields(params, value, previous)
        if existing is None:
            self._check_parameter_limit(table, fields["tier"])
        if fields["data_type"] == "aws:ec2:image":
            return self._put_after_validation(params, ctx, name, value, fields)
        version = self._store_version(params, ctx, name, value, fields)
        return {"Version": version.version, "Tier": version.tier}

    def _store_version(self, params, ctx, name, value, fields):
        """Append the new version (creating the parameter) and emit its event."""
        table = self._parameters(ctx)
        existing = table.get(name)
        previous = existing.latest if existing else None
        param = existing or Parameter(name, tags={t["Key"]: t["Value"] for t in params.get("Tags") or []})
        self._make_room(param)
        stored = self.cipher.encrypt(value) if fields["type"] == "SecureString" else value
        version = ParameterVersion(
            version=(previous.version + 1) if previous else 1, value=stored,
            last_modified=round(ctx.clock.now(), 3), last_modified_user=ctx.principal.arn,
            **fields)
        param.versions.append(version)
        table[name] = param
        self.changed()
        self._emit(ctx, param, version, "Update" if existing else "Create")
        return version

    def _put_after_validation(self, params, ctx, name, value, fields):
        """aws:ec2:image: PutParameter answers 200 with the version it will
        make, and the value is validated asynchronously: until then the
        parameter is unchanged (GetParameter answers the old version, or
        ParameterNotFound for a create); an invalid AMI id makes nothing and
        only a "Parameter Store Change" event with `exception` tells
        (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html,
        DataType; https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-ec2-aliases.html).
        """
        existing = self._parameters(ctx).get(name)
        promised = existing.latest.version + 1 if existing else 1

        def validate():
            with self.store.lock:
                if AMI_ID.fullmatch(value):
                    self._store_version(params, ctx, name, value, fields)
                    return
                detail = {"exception": "Unable to Describe Resource", "dataType": "aws:ec2:image",
                          "name": name, "type": fields["type"],
                          "operation": "Update" if existing else "Create"}
                ctx.events.emit(source="aws.ssm", detail_type="Parameter Store Change",
                                detail=detail, resources=[self.arn(ctx, name)],
                                account=ctx.account, region=ctx.region)

        timer = threading.Timer(self.ami_validation_seconds, validate)
        timer.daemon = True
        timer.start()
        return {"Version": promised, "Tier": fields["tier"]}

    @staticmethod
    def _required_value(params):
        value = params.get("Value")
        if value is None:
            raise constraint("null", "value", "Member must not be null")
        if value == "":
            raise constraint("", "value", "Member must have length greater than or equal to 1")
        return value

    @staticmethod
    def _check_overwrite(params, existing):
        if existing and not params.get("Overwrite"):
            raise AwsError("ParameterAlreadyExists", "The parameter already exists. To overwrite "
                           "this value, set the overwrite option in the request to true.")
        if params.get("Tags") and params.get("Overwrite"):
            raise validation("Invalid request: tags and overwrite can't be used together. To create "
                             "a parameter with tags, please remove overwrite flag. To update tags "
                             "for an existing parameter, please use AddTagsToResource or "
                             "RemoveTagsFromResource.")

    def _version_fields(self, params, value, previous):
        """The new version's attributes. With Overwrite, a member left out
        keeps the previous version's: Description, AllowedPattern, KeyId
        (of a SecureString), Tier, DataType and Policies ("All existing
        policies are preserved until you send new policies or an empty
        policy", API_PutParameter.html, Policies). An empty Description or
        AllowedPattern (both "Minimum length of 0") removes it; "[]"
        removes the policies."""
        type_ = self._type(params, previous)
        pattern = params.get("AllowedPattern", previous.allowed_pattern if previous else None)
        self._check_pattern(value, pattern)
        policies = self._policies(params, previous)
        return {"type": type_, "description": self._description(params, previous),
                "key_id": self._key_id(params, type_, previous),
                "data_type": self._data_type(params, type_, value, previous),
                "allowed_pattern": pattern, "policies": policies,
                "tier": self._tier(params, value, previous, bool(policies))}

    @staticmethod
    def _policies(params, previous):
        """Policies, a JSON array of {Type, Version, Attributes}, as the
        ParameterInlinePolicy list answers show them (PolicyStatus Pending:
        localaws never enforces them)."""
        text = params.get("Policies")
        if text is None:
            return list(previous.policies) if previous else []
        if not text.strip():
            return []
        try:
            policies = json.loads(text)
        except ValueError:
            policies = None
        if not isinstance(policies, list) or not all(
                isinstance(p, dict) and isinstance(p.get("Type"), str)
                and isinstance(p.get("Attributes", {}), dict) for p in policies):
            raise AwsError("InvalidPolicyAttributeException",
                           "A policy attribute or its value is invalid.")
        for policy in policies:
            if policy["Type"] not in POLICY_TYPES:
                raise AwsError("InvalidPolicyTypeException",
                               "The policy type isn't supported. Parameter Store supports the "
                               "following policy types: Expiration, ExpirationNotification, "
                               "and NoChangeNotification.")
        if len(policies) > MAX_POLICIES:
            raise AwsError("PoliciesLimitExceededException",
                           "You specified more than the maximum number of allowed policies for "
                           "the parameter. The maximum is 10.")
        types = [p["Type"] for p in policies]
        if len(set(types)) != len(types):
            raise AwsError("IncompatiblePolicyException",
                           "There is a conflict in the policies specified for this parameter. "
                           "You can't, for example, specify two Expiration policies for a "
                           "parameter. Review your policies, and try again.")
        return [{"PolicyText": json.dumps(p, separators=(",", ":")), "PolicyType": p["Type"],
                 "PolicyStatus": "Pending"} for p in policies]

    @staticmethod
    def _type(params, previous):
        type_ = params.get("Type") or (previous.type if previous else None)
        if type_ is None:
            raise validation("A parameter type is required when you create a parameter.")
        if type_ not in TYPES:
            raise constraint(type_, "type", "Member must satisfy enum value set: "
                             "[SecureString, StringList, String]")
        return type_

    @staticmethod
    def _description(params, previous):
        description = params.get("Description", previous.description if previous else None)
        if description is not None and len(description) > MAX_DESCRIPTION:
            raise constraint(description, "description",
                             f"Member must have length less than or equal to {MAX_DESCRIPTION}")
        return description

    @staticmethod
    def _key_id(params, type_, previous):
        key_id = params.get("KeyId")
        if type_ != "SecureString":
            if key_id:
                raise validation("KeyId is required for SecureString type parameter only.")
            return None
        if not key_id:
            keep = previous and previous.type == "SecureString"
            return previous.key_id if keep else DEFAULT_KEY_ID
        if not KEY_ID.fullmatch(key_id):
            raise AwsError("InvalidKeyId", f"Invalid KeyId: {key_id}")
        return key_id

    @staticmethod
    def _data_type(params, type_, value, previous):
        data_type = params.get("DataType") or (previous.data_type if previous else "text")
        if data_type not in DATA_TYPES:
            raise validation(f"The following data type is not supported: {data_type} "
                             "(Data type names are all lowercase.)")
        if data_type == "aws:ec2:image":
            if type_ != "String":
                raise AwsError("UnsupportedParameterType", "The aws:ec2:image data type is "
                               "supported only for String parameters.")
        return data_type

    @staticmethod
    def _check_pattern(value, pattern):
        if not pattern:
            return
        try:
            matched = re.fullmatch(pattern, value) is not None
        except re.error:
            raise validation(f"The AllowedPattern {pattern} is not a valid regular expression.")
        if not matched:
            raise AwsError("ParameterPatternMismatchException",
                           f"Parameter value, cannot be validated against allowedPattern: {pattern}")

    @staticmethod
    def _tier(params, value, previous, has_policies=False):
        """Resolve Tier: left out, the previous version's (Standard for a
        new parameter); Intelligent-Tiering picks Standard when the value
        fits 4 KB, there are no policies and the parameter is not Advanced
        already (https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html:
        an advanced parameter can never become standard again, only be
        deleted and created anew)."""
        requested = params.get("Tier") or (previous.tier if previous else "Standard")
        if requested not in TIERS:
            raise constraint(requested, "tier", "Member must satisfy enum value set: "
                             "[Standard, Advanced, Intelligent-Tiering]")
        size = value_size(value)
        if requested == "Intelligent-Tiering":
            fits = (size <= STANDARD_VALUE_LIMIT and not has_policies
                    and not (previous and previous.tier == "Advanced"))
            requested = "Standard" if fits else "Advanced"
        if requested == "Standard" and has_policies and not (previous and previous.tier == "Advanced"):
            raise validation("Standard tier parameters don't support parameter policies. To "
                             "attach policies, use the advanced-parameter tier.")
        if requested == "Standard":
            if previous and previous.tier == "Advanced":
                raise validation("This parameter uses the advanced-parameter tier. You can't "
                                 "downgrade a parameter from the advanced-parameter tier to the "
                                 "standard-parameter tier. If necessary, you can delete the "
                                 "advanced parameter and recreate it as a standard parameter.")
            if size > STANDARD_VALUE_LIMIT:
                raise validation("Standard tier parameters support a maximum parameter value of "
                                 "4096 characters. To create a larger parameter value, upgrade the "
                                 "parameter to use the advanced-parameter tier. For more "
                                 "information, see https://docs.aws.amazon.com/systems-manager/"
                                 "latest/userguide/parameter-store-advanced-parameters.html")
        if requested == "Advanced" and size > ADVANCED_VALUE_LIMIT:
            raise constraint("***", "value", f"Member must have length less than or equal to "
                             f"{ADVANCED_VALUE_LIMIT}")
        return requested

    @staticmethod
    def _check_parameter_limit(table, tier):
        limit = STANDARD_PARAMETER_LIMIT if tier == "Standard" else ADVANCED_PARAMETER_LIMIT
        if sum(1 for p in table.values() if p.latest.tier == tier) >= limit:
            raise AwsError("ParameterLimitExceeded", "You have exceeded the number of parameters "
                           "for this AWS account. Delete unnecessary parameters and try again.")

    @staticmethod
    def _make_room(param):
        """Keep at most 100 versions: drop the oldest unless it has a label."""
        if len(param.versions) < MAX_VERSIONS:
            return
        oldest = param.versions[0]
        if oldest.labels:
            raise AwsError("ParameterMaxVersionLimitExceeded", f"You attempted to create a new "
                           f"version of {param.name} by calling the PutParameter API with the "
                           f"overwrite flag. Version {oldest.version}, the oldest version, can't be "
                           "deleted because it has a label associated with it. Move the label to "
                           "another version of the parameter, and try again.")
        del param.versions[0]

    def get_parameter(self, params, ctx):
        param, version, selector = self._find(ctx, params.get("Name"))
        decrypt = bool(params.get("WithDecryption"))
        name = self._asked_name(params.get("Name"), param)
        return {"Parameter": self._parameter_shape(ctx, param, version, decrypt, selector, name)}

    def get_parameters(self, params, ctx):
        names = params.get("Names") or []
        if len(names) > 10:
            raise constraint("[" + ", ".join(names) + "]", "names",
                             "Member must have length less than or equal to 10")
        decrypt = bool(params.get("WithDecryption"))
        found, invalid = [], []
        for raw in dict.fromkeys(names):
            try:
                param, version, selector = self._find(ctx, raw)
            except AwsError as error:
                if error.code not in ("ParameterNotFound", "ParameterVersionNotFound"):
                    raise
                invalid.append(raw)
                continue
            found.append(self._parameter_shape(ctx, param, version, decrypt, selector,
                                               self._asked_name(raw, param)))
        return {"Parameters": found, "InvalidParameters": invalid}

    def get_parameters_by_path(self, params, ctx):
        """https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParametersByPath.html"""
        path = validate_path(params.get("Path"))
        recursive = bool(params.get("Recursive"))
        decrypt = bool(params.get("WithDecryption"))
        filters = ParameterFilters(params.get("ParameterFilters") or [], BY_PATH_FILTER_KEYS)
        matches = []
        for name in sorted(self._parameters(ctx)):
            param = self._parameters(ctx)[name]
            if not under_path(name, path, recursive):
                continue
            version = filters.select_version(param)
            if version is not None:
                matches.append((param, version))
        page, token = paginate(matches, lambda item: item[0].name, params, 10)
        result = {"Parameters": [self._parameter_shape(ctx, p, v, decrypt) for p, v in page]}
        if token:
            result["NextToken"] = token
        return result

    def get_parameter_history(self, params, ctx):
        """https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameterHistory.html"""
        name, _ = self._split_selector(ctx, params.get("Name"))
        param = self._parameters(ctx).get(name)
        if param is None:
            raise not_found(name)
        decrypt = bool(params.get("WithDecryption"))
        page, token = paginate(list(param.versions), lambda v: v.version, params, 50)
        result = {"Parameters": [self._history_shape(param, v, decrypt) for v in page]}
        if token:
            result["NextToken"] = token
        return result

    def describe_parameters(self, params, ctx):
        """https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeParameters.html"""
        if params.get("Filters") and params.get("ParameterFilters"):
            raise validation("You can use either Filters or ParameterFilters in a single request.")
        if params.get("Filters"):
            filters = ParameterFilters(legacy_filters(params["Filters"]), LEGACY_FILTER_KEYS)
        else:
            filters = ParameterFilters(params.get("ParameterFilters") or [], DESCRIBE_FILTER_KEYS)
        table = self._parameters(ctx)
        matches = [table[name] for name in sorted(table) if filters.select_version(table[name])]
        page, token = paginate(matches, lambda p: p.name, params, 50)
        result = {"Parameters": [self._metadata_shape(ctx, p) for p in page]}
        if token:
            result["NextToken"] = token
        return result

    def delete_parameter(self, params, ctx):
        name = canonical_name((params.get("Name") or "").strip(" "))
        param = self._parameters(ctx).pop(name, None)
        if param is None:
            raise not_found(name)
        self.changed()
        self._emit(ctx, param, param.latest, "Delete")
        return {}

    def delete_parameters(self, params, ctx):
        names = params.get("Names") or []
        if len(names) > 10:
            raise constraint("[" + ", ".join(names) + "]", "names",
                             "Member must have length less than or equal to 10")
        deleted, invalid = [], []
        for raw in dict.fromkeys(names):
            param = self._parameters(ctx).pop(canonical_name(raw.strip(" ")), None)
            if param is None:
                invalid.append(raw)
                continue
            deleted.append(raw)
            self._emit(ctx, param, param.latest, "Delete")
        if deleted:
            self.changed()
        return {"DeletedParameters": deleted, "InvalidParameters": invalid}

    def label_parameter_version(self, params, ctx):
        """https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_LabelParameterVersion.html"""
        name = canonical_name((params.get("Name") or "").strip(" "))
        param = self._parameters(ctx).get(name)
        if param is None:
            raise not_found(name)
        number = params.get("ParameterVersion")
        version = param.latest if number is None else param.version(number)
        if version is None:
            raise version_not_found(name, number)
        labels = params.get("Labels") or []
        valid = [label for label in dict.fromkeys(labels) if self._label_ok(label)]
        invalid = [label for label in labels if not self._label_ok(label)]
        if len(set(version.labels) | set(valid)) > MAX_LABELS_PER_VERSION:
            raise AwsError("ParameterVersionLabelLimitExceeded", "A parameter version can have "
                           "maximum 10 labels.Move one or more labels to another version and try again.")
        for label in valid:
            holder = param.labelled(label)
            if holder is not None and holder is not version:
                holder.labels.remove(label)
            if label not in version.labels:
                version.labels.append(label)
        if valid:
            self.changed()
            self._emit(ctx, param, version, "LabelParameterVersion")
        return {"InvalidLabels": invalid, "ParameterVersion": version.version}

    @staticmethod
    def _label_ok(label):
        """Labels: up to 100 of [a-zA-Z0-9_.-], not starting with a digit, aws or ssm."""
        return (isinstance(label, str) and LABEL.fullmatch(label) is not None
                and not label[0].isdigit() and not label.lower().startswith(("aws", "ssm")))


# --- ParameterFilters -----------------------------------------------------------
# https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_ParameterStringFilter.html:
# DescribeParameters takes every key but Label; GetParametersByPath only Type,
# KeyId and Label. Options are Equals and BeginsWith, plus Contains for Name;
# Path takes Recursive or OneLevel; Label only Equals.

BY_PATH_FILTER_KEYS = ("Type", "KeyId", "Label")
DESCRIBE_FILTER_KEYS = ("Name", "Path", "Type", "KeyId", "Tier", "DataType", "tag")
LEGACY_FILTER_KEYS = ("Name", "Type", "KeyId")
OPTIONS = {"Name": ("Equals", "BeginsWith", "Contains"), "Path": ("Recursive", "OneLevel"),
           "Label": ("Equals",)}
DEFAULT_OPTIONS = ("Equals", "BeginsWith")
STRING_TESTS = {"Equals": lambda field, value: field == value,
                "BeginsWith": lambda field, value: field is not None and field.startswith(value),
                "Contains": lambda field, value: field is not None and value in field}


def legacy_filters(filters):
    """DescribeParameters' old Filters: Name matches as BeginsWith."""
    converted = []
    for item in filters:
        option = "BeginsWith" if item.get("Key") == "Name" else "Equals"
        converted.append({"Key": item.get("Key"), "Option": option, "Values": item.get("Values", [])})
    return converted


MAX_FILTER_VALUES = 50


class ParameterFilters:
    def __init__(self, filters, allowed_keys):
        self.filters = []
        for number, item in enumerate(filters, 1):
            self._check_value_count(number, item.get("Values") or [])
            key = item.get("Key", "")
            base = "tag" if key.startswith("tag:") else key
            if base not in allowed_keys:
                raise AwsError("InvalidFilterKey", f"The following filter key is not valid: {key}. "
                               f"Valid filter keys include: [{', '.join(allowed_keys)}].")
            options = OPTIONS.get(base, DEFAULT_OPTIONS)
            option = item.get("Option") or ("OneLevel" if base == "Path" else "Equals")
            if option not in options:
                raise AwsError("InvalidFilterOption", f"The filter option '{option}' is not valid "
                               f"for key '{key}'. Valid options include: [{', '.join(options)}].")
            values = item.get("Values") or []
            if base == "Path":
                values = [validate_path(v) for v in values]
            if base != "tag" and not values:
                raise AwsError("InvalidFilterValue", f"The filter value is required for key '{key}'.")
            self.filters.append((key, base, option, values))

    @staticmethod
    def _check_value_count(number, values):
        """ParameterStringFilter.Values holds 1 to 50 items
        (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_ParameterStringFilter.html);
        the model's constraint answers in the usual validation wording."""
        if len(values) > MAX_FILTER_VALUES:
            raise constraint("[" + ", ".join(map(str, values)) + "]",
                             f"parameterFilters.{number}.member.values",
                             f"Member must have length less than or equal to {MAX_FILTER_VALUES}")

    def select_version(self, param):
        """The version of `param` the filters select (latest, or labelled), or None."""
        version = param.latest
        for key, base, option, values in self.filters:
            if base == "Label":
                labelled = [param.labelled(v) for v in values]
                labelled = [v for v in labelled if v is not None]
                if not labelled:
                    return None
                version = labelled[0]
            elif not self._matches(param, version, key, base, option, values):
                return None
        return version

    @staticmethod
    def _matches(param, version, key, base, option, values):
        if base == "Path":
            return any(under_path(param.name, v, option == "Recursive") for v in values)
        if base == "tag":
            tag = key[len("tag:"):]
            if tag not in param.tags:
                return False
            field = param.tags[tag]
            return not values or any(STRING_TESTS[option](field, v) for v in values)
        if base == "Name":
            # A single-level name answers to `foo` and `/foo` alike (it is
            # one parameter; DescribeParameters names it `foo`:
            # hashicorp/terraform-provider-aws#49339).
            forms = {param.name, qualified_name(param.name)}
            return any(STRING_TESTS[option](form, v) for form in forms for v in values)
        field = {"Type": version.type, "KeyId": version.key_id,
                 "Tier": version.tier, "DataType": version.data_type}[base]
        return any(STRING_TESTS[option](field, v) for v in values)
