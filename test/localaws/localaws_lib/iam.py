"""IAM: users, roles, their inline policies, and policy evaluation.

Who a request's signer is (auth.Principal) becomes an Identity here: the
ARN policies match (aws:PrincipalArn: a role session is its role), its
account, and the identity-based policies that apply to it. Evaluation
follows AWS's logic for one account, and for a resource in another account
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
an explicit Deny anywhere wins; then a resource-based policy that names the
principal, or an identity-based policy, allows (across accounts: both).

Enforcement is opt-in (`localaws --iam`, or LOCALAWS_IAM=1): without it
every signed request is allowed, as before. Who is unrestricted even with
it: a static key pair of LOCALAWS_CREDENTIALS (the account's root user) and
a role session whose role IAM does not know (roles made up by tests).
Enforced: S3 (identity and bucket policies), KMS (key policies) and SSM
(identity policies); the other services allow every signed request.

IAM API: https://docs.aws.amazon.com/IAM/latest/APIReference/welcome.html
Condition operators: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
"""
import json
import re
import secrets
import string
import threading
import urllib.parse

from .errors import AwsError
from .protocols import QUERY_AUTH_ERRORS, QueryService

NAMESPACE = "https://iam.amazonaws.com/doc/2010-05-08/"
NAME = re.compile(r"[\w+=,.@-]{1,64}")


def _ids(prefix, n=17):
    return prefix + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(n))


def as_list(value):
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def load_document(document):
    """A policy as a dict; IAM accepts JSON text (URL-encoded or not)."""
    if isinstance(document, dict):
        return document
    text = document or "{}"
    try:
        return json.loads(text)
    except ValueError:
        try:
            return json.loads(urllib.parse.unquote(text))
        except ValueError:
            raise AwsError("MalformedPolicyDocument", "Syntax errors in policy.", 400)


# --- matching ------------------------------------------------------------------

def glob(pattern, value, ignore_case=False):
    """IAM's wildcards: `*` any run of characters, `?` one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL) \
        is not None


def arn_like(pattern, value):
    """ArnLike: the six colon-separated parts matched one by one."""
    pattern_parts, value_parts = pattern.split(":", 5), value.split(":", 5)
    if len(pattern_parts) != 6 or len(value_parts) != 6:
        return glob(pattern, value)
    return all(glob(p, v) for p, v in zip(pattern_parts, value_parts))


def action_matches(patterns, action):
    return any(glob(p, action, ignore_case=True) for p in as_list(patterns))


def resource_matches(patterns, resource):
    return any(p == "*" or arn_like(p, resource) for p in as_list(patterns))


def principal_matches(element, identity):
    """A resource policy's Principal: "*", {"AWS": ...} (an account id or
    its root ARN names the account; a user or role ARN names itself and,
    for a role, its sessions), {"Service": ...} (never a signer here)."""
    if element == "*":
        return True
    if not isinstance(element, dict):
        return False
    for entry in as_list(element.get("AWS")):
        if entry == "*" or entry in (identity.account, f"arn:aws:iam::{identity.account}:root"):
            return True
        if entry in (identity.principal_arn, identity.arn):
            return True
    return False


def names_account_only(element, identity):
    """True when the match was only through the account (delegation to
    IAM), not the principal itself."""
    if element == "*" or not isinstance(element, dict):
        return False
    entries = as_list(element.get("AWS"))
    direct = any(e in (identity.principal_arn, identity.arn) for e in entries)
    return not direct and any(e in (identity.account, f"arn:aws:iam::{identity.account}:root")
                              for e in entries)


def _operator(name):
    """(base operator, IfExists, set qualifier) of a condition operator."""
    qualifier = None
    if ":" in name:
        qualifier, name = name.split(":", 1)
    if_exists = name.endswith("IfExists")
    return (name[:-len("IfExists")] if if_exists else name), if_exists, qualifier


def _compare(base, wanted, actual):
    if base in ("StringEquals", "StringNotEquals"):
        return actual == wanted
    if base in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        return actual.lower() == wanted.lower()
    if base in ("StringLike", "StringNotLike"):
        return glob(wanted, actual)
    if base in ("ArnEquals", "ArnNotEquals"):
        return actual == wanted
    if base in ("ArnLike", "ArnNotLike"):
        return arn_like(wanted, actual)
    if base == "Bool":
        return str(actual).lower() == str(wanted).lower()
    if base.startswith("Numeric"):
        a, w = float(actual), float(wanted)
        return {"NumericEquals": a == w, "NumericNotEquals": a == w, "NumericLessThan": a < w,
                "NumericLessThanEquals": a <= w, "NumericGreaterThan": a > w,
                "NumericGreaterThanEquals": a >= w}[base]
    raise AwsError("MalformedPolicyDocument", f"Unsupported condition operator {base}", 400)


def condition_holds(operator, key, wanted_values, context):
    base, if_exists, qualifier = _operator(operator)
    present = key.lower() in context
    if base == "Null":
        return (not present) == (str(as_list(wanted_values)[0]).lower() == "true")
    if not present:
        # A missing key: negated operators hold, others fail, unless IfExists.
        return if_exists or "Not" in base
    actual_values = as_list(context[key.lower()])
    negated = "Not" in base
    wanted_values = [str(w) for w in as_list(wanted_values)]

    def one(actual):
        hit = any(_compare(base, w, str(actual)) for w in wanted_values)
        return not hit if negated else hit
    if qualifier == "ForAllValues":
        return all(one(a) for a in actual_values)
    return any(one(a) for a in actual_values)


def conditions_hold(condition, context):
    for operator, pairs in (condition or {}).items():
        for key, wanted in pairs.items():
            if not condition_holds(operator, key, wanted, context):
                return False
    return True


def statement_applies(statement, action, resource, context, identity=None):
    if "Action" in statement and not action_matches(statement["Action"], action):
        return False
    if "NotAction" in statement and action_matches(statement["NotAction"], action):
        return False
    if "Resource" in statement and not resource_matches(statement["Resource"], resource):
        return False
    if "NotResource" in statement and resource_matches(statement["NotResource"], resource):
        return False
    if identity is not None:
        if "Principal" in statement and not principal_matches(statement["Principal"], identity):
            return False
        if "NotPrincipal" in statement and principal_matches(statement["NotPrincipal"], identity):
            return False
    return conditions_hold(statement.get("Condition"), context)


def statements(document):
    return as_list(load_document(document).get("Statement"))


def evaluate(documents, action, resource, context, identity=None):
    """("Deny" | "Allow" | None, the Allow statements that matched)."""
    allowed = []
    for document in documents:
        for statement in statements(document):
            if not statement_applies(statement, action, resource, context, identity):
                continue
            if statement.get("Effect") == "Deny":
                return "Deny", []
            if statement.get("Effect") == "Allow":
                allowed.append(statement)
    return ("Allow" if allowed else None), allowed


class Denied(Exception):
    """Why an action was refused, worded as AWS's AccessDenied messages:
    `User: ARN is not authorized to perform: ACTION on resource: RESOURCE
    because ...` (https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html)."""

    REASONS = {
        "identity": "because no identity-based policy allows the {action} action",
        "resource": "because no resource-based policy allows the {action} action",
        "explicit_identity": "with an explicit deny in an identity-based policy",
        "explicit_resource": "with an explicit deny in a resource-based policy",
    }

    def __init__(self, identity, action, resource, reason):
        self.message = (f"User: {identity.arn} is not authorized to perform: {action} on "
                        f"resource: {resource} " + self.REASONS[reason].format(action=action))
        super().__init__(self.message)


# --- who signed ----------------------------------------------------------------

class Identity:
    def __init__(self, arn, principal_arn, account, policies, unrestricted):
        self.arn = arn                        # as GetCallerIdentity says (sessions too)
        self.principal_arn = principal_arn    # aws:PrincipalArn
        self.account = account
        self.policies = policies              # identity-based policy documents
        self.unrestricted = unrestricted      # root, or a role IAM does not know

    def context(self):
        return {"aws:principalarn": self.principal_arn, "aws:principalaccount": self.account}


ASSUMED_ROLE = re.compile(r"arn:(aws[\w-]*):sts::(\d{12}):assumed-role/([^/]+)/(.+)")


class IamStore:
    """Users, their access keys, roles; each with inline policies."""

    def __init__(self, account, credentials, enforce):
        self.account = account
        self.credentials = credentials
        self.enforce = enforce
        self.lock = threading.RLock()
        # "ACCOUNT NAME" -> {"arn", "id", "path", ("trust",) "policies": {name: doc}}:
        # each account has its own users and roles (an organization's members)
        self.users = {}
        self.roles = {}

    def identity(self, principal):
        """The Identity of a signer (auth.Principal); None: not signed."""
        if principal is None:
            return None
        arn = principal.arn
        match = ASSUMED_ROLE.fullmatch(arn or "")
        with self.lock:
            if match:
                role = self.roles.get(f"{match.group(2)} {match.group(3)}")
                if role is None:
                    return Identity(arn, f"arn:{match.group(1)}:iam::{match.group(2)}:role/"
                                    f"{match.group(3)}", match.group(2), [], True)
                return Identity(arn, role["arn"], match.group(2),
                                list(role["policies"].values()), False)
            for user in self.users.values():
                if user["arn"] == arn:
                    return Identity(arn, arn, principal.account,
                                    list(user["policies"].values()), False)
        return Identity(arn, arn, principal.account, [], True)

    def authorize(self, principal, action, resource, context=None, resource_policy=None,
                  resource_account=None):
        """None, or Denied: identity-based policies and an optional
        resource-based policy (bucket policy) for one action."""
        if not self.enforce:
            return
        identity = self.identity(principal)
        if identity is None:
            return
        full = {**identity.context(), **{k.lower(): v for k, v in (context or {}).items()}}
        resource_account = resource_account or self.account
        resource_documents = [resource_policy] if resource_policy else []
        by_resource, _ = evaluate(resource_documents, action, resource, full, identity)
        if by_resource == "Deny":
            raise Denied(identity, action, resource, "explicit_resource")
        by_identity, _ = evaluate(identity.policies, action, resource, full)
        if by_identity == "Deny":
            raise Denied(identity, action, resource, "explicit_identity")
        identity_allows = identity.unrestricted or by_identity == "Allow"
        if identity.account != resource_account:
            if by_resource == "Allow" and identity_allows:
                return
            raise Denied(identity, action, resource,
                         "resource" if identity_allows else "identity")
        if identity_allows or by_resource == "Allow":
            return
        raise Denied(identity, action, resource, "identity")

    def authorize_with_key_policy(self, principal, action, resource, key_policy, context=None):
        """KMS: the key policy must allow, directly or by naming the account
        (then an identity-based policy must allow too).
        https://docs.aws.amazon.com/kms/latest/developerguide/control-access.html"""
        if not self.enforce:
            return
        identity = self.identity(principal)
        if identity is None:
            return
        full = {**identity.context(), **{k.lower(): v for k, v in (context or {}).items()}}
        verdict, allowed = evaluate([key_policy], action, resource, full, identity)
        if verdict == "Deny":
            raise Denied(identity, action, resource, "explicit_resource")
        by_identity, _ = evaluate(identity.policies, action, resource, full)
        if by_identity == "Deny":
            raise Denied(identity, action, resource, "explicit_identity")
        if verdict is None:
            raise Denied(identity, action, resource, "resource")
        direct = any(not names_account_only(s.get("Principal"), identity) for s in allowed)
        if direct or identity.unrestricted or by_identity == "Allow":
            return
        raise Denied(identity, action, resource, "identity")

    def authorize_request(self, service_name, operation, request, ctx):
        """The identity-based check of services that have no resource
        policies of their own here (SSM); AccessDeniedException as SSM
        answers it."""
        if not self.enforce or service_name != "ssm":
            return
        try:
            params = json.loads(request.body or b"{}")
        except ValueError:
            return  # the service answers SerializationException
        if not isinstance(params, dict):
            return
        try:
            for resource in ssm_resources(operation, params, ctx.region, self.account):
                self.authorize(ctx.principal, f"ssm:{operation}", resource)
        except Denied as denied:
            raise AwsError("AccessDeniedException", denied.message, 400)

    # --- state ---

    def to_json(self):
        with self.lock:
            return {"users": self.users, "roles": self.roles}

    def load_json(self, data):
        with self.lock:
            self.users = dict((data or {}).get("users", {}))
            self.roles = dict((data or {}).get("roles", {}))
            for user in self.users.values():
                for key, secret in user.get("keys", {}).items():
                    self.credentials.add_long_term(key, secret, user["arn"], user["id"])


def no_such_entity(kind, name):
    return AwsError("NoSuchEntity", f"The {kind} with name {name} cannot be found.", 404)


class IamService(QueryService):
    """The IAM calls tests need to make principals: users with access keys,
    roles, inline policies. IAM is global: any region's scope is accepted."""

    name = signing_name = "iam"
    namespace = NAMESPACE
    AUTH_ERRORS = QUERY_AUTH_ERRORS
    actions = {
        "CreateUser": "create_user", "GetUser": "get_user", "DeleteUser": "delete_user",
        "CreateAccessKey": "create_access_key",
        "PutUserPolicy": "put_user_policy", "DeleteUserPolicy": "delete_user_policy",
        "CreateRole": "create_role", "GetRole": "get_role", "DeleteRole": "delete_role",
        "PutRolePolicy": "put_role_policy", "GetRolePolicy": "get_role_policy",
        "DeleteRolePolicy": "delete_role_policy",
    }
    query_actions = tuple(actions)

    def __init__(self, store, changed):
        self.store = store
        self.changed = changed

    @staticmethod
    def _name(params, key):
        value = params.get(key, "")
        if not NAME.fullmatch(value):
            raise AwsError("ValidationError", f"1 validation error detected: Value '{value}' at "
                           f"'{key[0].lower() + key[1:]}' failed to satisfy constraint: Member "
                           "must satisfy regular expression pattern: [\\w+=,.@-]+", 400)
        return value

    @staticmethod
    def _path(params):
        path = params.get("Path") or "/"
        if not (path.startswith("/") and path.endswith("/")):
            raise AwsError("ValidationError", "The specified value for path is invalid.", 400)
        return path

    def _user_pairs(self, user, name):
        return [("Path", user["path"]), ("UserName", name), ("UserId", user["id"]),
                ("Arn", user["arn"])]

    def create_user(self, params, ctx):
        name, path = self._name(params, "UserName"), self._path(params)
        with self.store.lock:
            if f"{ctx.account} {name}" in self.store.users:
                raise AwsError("EntityAlreadyExists", f"User with name {name} already exists.", 409)
            user = self.store.users[f"{ctx.account} {name}"] = {
                "arn": f"arn:aws:iam::{ctx.account}:user{path}{name}", "id": _ids("AIDA"),
                "path": path, "policies": {}, "keys": {}}
        self.changed()
        return [("User", self._user_pairs(user, name))]

    def _user(self, name, ctx):
        user = self.store.users.get(f"{ctx.account} {name}")
        if user is None:
            raise no_such_entity("user", name)
        return user

    def get_user(self, params, ctx):
        name = params.get("UserName")
        with self.store.lock:
            return [("User", self._user_pairs(self._user(name, ctx), name))]

    def delete_user(self, params, ctx):
        with self.store.lock:
            user = self._user(params.get("UserName"), ctx)
            for key in user.get("keys", {}):
                self.store.credentials.remove_long_term(key)
            del self.store.users[f"{ctx.account} {params['UserName']}"]
        self.changed()
        return []

    def create_access_key(self, params, ctx):
        name = params.get("UserName")
        key = _ids("AKIA", 16)
        secret = secrets.token_urlsafe(30)[:40]
        with self.store.lock:
            user = self._user(name, ctx)
            user.setdefault("keys", {})[key] = secret
            self.store.credentials.add_long_term(key, secret, user["arn"], user["id"])
        self.changed()
        return [("AccessKey", [("UserName", name), ("AccessKeyId", key), ("Status", "Active"),
                               ("SecretAccessKey", secret)])]

    def _put_policy(self, entity, params):
        name = self._name(params, "PolicyName")
        document = load_document(params.get("PolicyDocument"))
        if not isinstance(document.get("Statement"), (list, dict)):
            raise AwsError("MalformedPolicyDocument", "Syntax errors in policy.", 400)
        entity["policies"][name] = document
        self.changed()
        return []

    def put_user_policy(self, params, ctx):
        with self.store.lock:
            return self._put_policy(self._user(params.get("UserName"), ctx), params)

    def delete_user_policy(self, params, ctx):
        with self.store.lock:
            self._user(params.get("UserName"), ctx)["policies"].pop(params.get("PolicyName"), None)
        self.changed()
        return []

    def _role(self, name, ctx):
        role = self.store.roles.get(f"{ctx.account} {name}")
        if role is None:
            raise no_such_entity("role", name)
        return role

    def _role_pairs(self, role, name):
        return [("Path", role["path"]), ("RoleName", name), ("RoleId", role["id"]),
                ("Arn", role["arn"]),
                ("AssumeRolePolicyDocument", urllib.parse.quote(json.dumps(role["trust"])))]

    def create_role(self, params, ctx):
        name, path = self._name(params, "RoleName"), self._path(params)
        trust = load_document(params.get("AssumeRolePolicyDocument"))
        with self.store.lock:
            if f"{ctx.account} {name}" in self.store.roles:
                raise AwsError("EntityAlreadyExists", f"Role with name {name} already exists.", 409)
            role = self.store.roles[f"{ctx.account} {name}"] = {
                "arn": f"arn:aws:iam::{ctx.account}:role{path}{name}", "id": _ids("AROA"),
                "path": path, "trust": trust, "policies": {}}
        self.changed()
        return [("Role", self._role_pairs(role, name))]

    def get_role(self, params, ctx):
        name = params.get("RoleName")
        with self.store.lock:
            return [("Role", self._role_pairs(self._role(name, ctx), name))]

    def delete_role(self, params, ctx):
        with self.store.lock:
            self._role(params.get("RoleName"), ctx)
            del self.store.roles[f"{ctx.account} {params['RoleName']}"]
        self.changed()
        return []

    def put_role_policy(self, params, ctx):
        with self.store.lock:
            return self._put_policy(self._role(params.get("RoleName"), ctx), params)

    def get_role_policy(self, params, ctx):
        name, policy = params.get("RoleName"), params.get("PolicyName")
        with self.store.lock:
            document = self._role(name, ctx)["policies"].get(policy)
        if document is None:
            raise AwsError("NoSuchEntity", f"The role policy with name {policy} cannot be found.",
                           404)
        return [("RoleName", name), ("PolicyName", policy),
                ("PolicyDocument", urllib.parse.quote(json.dumps(document)))]

    def delete_role_policy(self, params, ctx):
        with self.store.lock:
            self._role(params.get("RoleName"), ctx)["policies"].pop(params.get("PolicyName"), None)
        self.changed()
        return []


# --- SSM's resources (identity-based policies only) -------------------------------

def ssm_resources(operation, params, region, account):
    """The parameter ARNs an SSM call acts on ("*" for listings).
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssystemsmanager.html"""
    def arn(name):
        if name.startswith("arn:"):
            return name
        name = name.split(":", 1)[0]  # name:version and name:label act on name
        return f"arn:aws:ssm:{region}:{account}:parameter{'' if name.startswith('/') else '/'}{name}"
    if "Names" in params and isinstance(params["Names"], list):
        return [arn(n) for n in params["Names"]]
    for key in ("Name", "Path"):
        if isinstance(params.get(key), str):
            return [arn(params[key])]
    return ["*"]

