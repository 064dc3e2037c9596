"""CloudFormation (query API, XML): stacks that really create what their
template says, through the other localaws services.

API reference:   https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Operations.html
Template anatomy: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/template-anatomy.html
Intrinsics:      https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html
Stack statuses:  https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/view-stack-events.html

CreateStack, UpdateStack and DeleteStack check what AWS checks before it
answers (template syntax, resource types and GetAtt attributes against
the resource specification (cfnspec.py), Ref/Sub/DependsOn targets,
dependency cycles, parameters, capabilities), then answer at once and
work on a background thread: resources in dependency order, each one's
properties checked against the specification once resolved, events with
AWS's statuses and reasons, rollback on failure, DeletionPolicy Retain.
Resource handlers (handlers below) call the other services' own request
handlers, as the stack's caller: an SQS queue of a stack is an SQS queue
of localaws. IAM roles and policies and CloudWatch alarms are records.
"""
import copy
import functools
import json
import logging
import re
import secrets
import string
import threading
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET
from email.message import Message

import yaml

from . import cfnspec
from .auth import Principal
from .cloudformation_changesets import ChangeSetOperations
from .cloudformation_stacksets import StackSetOperations
from .clock import iso_millis
from .errors import AwsError
from .protocols import QUERY_AUTH_ERRORS, QueryService
from .server import Context, Request

log = logging.getLogger("localaws.cloudformation")

NAMESPACE = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
STACK_NAME = re.compile(r"[a-zA-Z][-a-zA-Z0-9]{0,127}")
MAX_TEMPLATE_BODY = 51200
EVENTS_PAGE = 100
TOP_LEVEL = ("AWSTemplateFormatVersion", "Description", "Metadata", "Parameters", "Rules",
             "Mappings", "Conditions", "Transform", "Resources", "Outputs")
RESOURCE_ATTRIBUTES = ("Type", "Properties", "DependsOn", "Condition", "DeletionPolicy",
                       "UpdateReplacePolicy", "Metadata", "CreationPolicy", "UpdatePolicy")
PSEUDO = ("AWS::AccountId", "AWS::NotificationARNs", "AWS::NoValue", "AWS::Partition",
          "AWS::Region", "AWS::StackId", "AWS::StackName", "AWS::URLSuffix")
PARAMETER_TYPE = re.compile(r"String|Number|List<Number>|CommaDelimitedList")
# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-iam-template.html#using-iam-capabilities
IAM_TYPES = ("AWS::IAM::AccessKey", "AWS::IAM::Group", "AWS::IAM::InstanceProfile",
             "AWS::IAM::ManagedPolicy", "AWS::IAM::Policy", "AWS::IAM::Role", "AWS::IAM::User",
             "AWS::IAM::UserToGroupAddition")
IAM_NAMES = ("RoleName", "UserName", "GroupName", "ManagedPolicyName", "InstanceProfileName")
STABLE_FOR_UPDATE = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE",
                     "IMPORT_COMPLETE", "IMPORT_ROLLBACK_COMPLETE")
REPLACEMENT_REASON = ("Requested update requires the creation of a new physical resource; "
                      "hence creating one.")


def validation(message):
    return AwsError("ValidationError", message, 400)


# --- templates: YAML with the short-form intrinsics -------------------------------

class TemplateLoader(yaml.SafeLoader):
    """YAML as CloudFormation reads it: `!Ref X`, `!GetAtt A.B`, `!Sub ...`;
    dates and times stay strings ("2010-09-09")."""


TemplateLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}


def _short_form(name):
    long_name = name if name in ("Ref", "Condition") else f"Fn::{name}"

    def construct(loader, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if name == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {long_name: value}
    return construct


for _name in ("Ref", "GetAtt", "Sub", "If", "Equals", "Not", "And", "Or", "Join", "Select",
              "Split", "FindInMap", "Base64", "GetAZs", "ImportValue", "Cidr", "Condition"):
    TemplateLoader.add_constructor(f"!{_name}", _short_form(_name))


def parse_template(body):
    try:
        template = yaml.load(body, Loader=TemplateLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as error:
        raise validation(f"Template format error: YAML not well-formed. {error}")
    if not isinstance(template, dict):
        raise validation("Template format error: JSON not well-formed.")
    return template


def intrinsic(value):
    """(name, argument) of a one-key intrinsic mapping, else None."""
    if isinstance(value, dict) and len(value) == 1:
        (key, arg), = value.items()
        if key == "Ref" or key.startswith("Fn::") or key == "Condition":
            return key, arg
    return None


KNOWN_FUNCTIONS = ("Fn::GetAtt", "Fn::Sub", "Fn::If", "Fn::Equals", "Fn::Not", "Fn::And",
                   "Fn::Or", "Fn::Join", "Fn::Select", "Fn::Split", "Fn::FindInMap",
                   "Fn::Base64", "Fn::GetAZs", "Fn::ImportValue", "Fn::Cidr")
SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def sub_names(text):
    """The ${...} names of an Fn::Sub string, ${!Literal} excepted."""
    return [m.group(1).strip() for m in SUB_VARIABLE.finditer(text)
            if not m.group(1).startswith("!")]


def references(value, found=None):
    """Every (kind, name[, attribute]) a value refers to: Ref, GetAtt, condition."""
    found = [] if found is None else found
    fn = intrinsic(value)
    if fn:
        key, arg = fn
        if key == "Ref":
            found.append(("ref", arg))
        elif key == "Fn::GetAtt":
            parts = arg if isinstance(arg, list) else str(arg).split(".", 1)
            found.append(("getatt", parts[0], parts[1] if len(parts) > 1 else ""))
        elif key == "Fn::Sub":
            text, variables = (arg + [{}])[:2] if isinstance(arg, list) else (arg, {})
            for name in sub_names(text if isinstance(text, str) else ""):
                if name in (variables or {}):
                    continue
                if "." in name and name not in PSEUDO:
                    found.append(("getatt",) + tuple(name.split(".", 1)))
                else:
                    found.append(("ref", name))
            references(variables, found)
        elif key == "Condition":
            found.append(("condition", arg))
        else:
            if key not in KNOWN_FUNCTIONS:
                found.append(("function", key))
            if key == "Fn::If" and isinstance(arg, list) and arg:
                found.append(("condition", arg[0]))
                arg = arg[1:]
            references(arg, found)
    elif isinstance(value, dict):
        for item in value.values():
            references(item, found)
    elif isinstance(value, list):
        for item in value:
            references(item, found)
    return found


class Template:
    """A checked template: what CreateStack refuses before it answers."""

    def __init__(self, body, spec):
        if len(body.encode()) > MAX_TEMPLATE_BODY:
            raise validation("1 validation error detected: Value at 'templateBody' failed to "
                             f"satisfy constraint: Member must have length less than or equal "
                             f"to {MAX_TEMPLATE_BODY}")
        self.body = body
        self.data = parse_template(body)
        self.spec = spec
        for key in self.data:
            if key not in TOP_LEVEL:
                raise validation(f"Template format error: Invalid template property or "
                                 f"properties [{key}]")
        if self.data.get("Transform"):
            raise validation("Template format error: transforms are not emulated by localaws")
        self.resources = self.data.get("Resources") or {}
        if not isinstance(self.resources, dict) or not self.resources:
            raise validation("Template format error: At least one Resources member must be defined.")
        self.parameters = self.data.get("Parameters") or {}
        self.conditions = self.data.get("Conditions") or {}
        self.mappings = self.data.get("Mappings") or {}
        self.outputs = self.data.get("Outputs") or {}
        self.description = self.data.get("Description")
        self._check()
        self.dependencies = self._dependencies()
        self._check_cycles()

    def _check(self):
        for name, spec in self.parameters.items():
            kind = str((spec or {}).get("Type", ""))
            if not PARAMETER_TYPE.fullmatch(kind):
                raise validation(f"Template format error: Unrecognized parameter type: {kind}")
        unknown = []
        for logical, resource in self.resources.items():
            if not isinstance(resource, dict) or "Type" not in resource:
                raise validation(f"Template format error: [/Resources/{logical}] Every Resources "
                                 "object must contain a Type member.")
            for key in resource:
                if key not in RESOURCE_ATTRIBUTES:
                    raise validation(f"Invalid template resource property '{key}'")
            if not self.spec.has_type(resource["Type"]):
                unknown.append(resource["Type"])
        if unknown:
            raise validation(f"Template format error: Unrecognized resource types: "
                             f"[{', '.join(dict.fromkeys(unknown))}]")
        for logical, resource in self.resources.items():
            condition = resource.get("Condition")
            if condition is not None and condition not in self.conditions:
                raise validation(f"Template format error: Unresolved dependencies [{condition}]. "
                                 "Cannot reference resources in the Conditions block of the "
                                 "template" if condition in self.resources else
                                 f"Template error: unresolved condition dependency {condition} "
                                 f"in Fn::If")
            depends = resource.get("DependsOn", [])
            for dep in depends if isinstance(depends, list) else [depends]:
                if dep not in self.resources:
                    raise validation(f"Template format error: Unresolved resource dependencies "
                                     f"[{dep}] in the Resources block of the template")
            self._check_references(resource.get("Properties") or {}, "Resources")
        for name, condition in self.conditions.items():
            for ref in references(condition):
                if ref[0] == "ref" and ref[1] not in self.parameters and ref[1] not in PSEUDO:
                    raise validation(f"Template format error: Unresolved dependencies [{ref[1]}]. "
                                     "Cannot reference resources in the Conditions block of the "
                                     "template")
                if ref[0] == "getatt":
                    raise validation("Template error: Cannot use Fn::GetAtt in Conditions")
                if ref[0] == "condition" and ref[1] not in self.conditions:
                    raise validation(f"Template error: unresolved condition dependency {ref[1]} "
                                     "in Fn::Condition")
        for name, output in self.outputs.items():
            if not isinstance(output, dict) or "Value" not in output:
                raise validation(f"Template format error: Every Outputs member must contain a "
                                 f"Value object, the Output '{name}' does not contain one")
            self._check_references(output, "Outputs")

    def _check_references(self, value, block):
        for ref in references(value):
            if ref[0] == "ref":
                if ref[1] not in self.parameters and ref[1] not in self.resources \
                        and ref[1] not in PSEUDO:
                    raise validation(f"Template format error: Unresolved resource dependencies "
                                     f"[{ref[1]}] in the {block} block of the template")
            elif ref[0] == "getatt":
                resource = self.resources.get(ref[1])
                if resource is None:
                    raise validation(f"Template error: instance of Fn::GetAtt references "
                                     f"undefined resource {ref[1]}")
                if ref[2] not in self.spec.attributes(resource["Type"]):
                    raise validation(f"Template error: resource {ref[1]} does not support "
                                     f"attribute type {ref[2]} in Fn::GetAtt")
            elif ref[0] == "condition" and ref[1] not in self.conditions:
                raise validation(f"Template error: unresolved condition dependency {ref[1]} "
                                 "in Fn::If")
            elif ref[0] == "function":
                raise validation(f"Template format error: Encountered unsupported function: "
                                 f"{ref[1]} Supported functions are: [{', '.join(KNOWN_FUNCTIONS)}"
                                 ", Ref, Condition]")

    def _dependencies(self):
        deps = {}
        for logical, resource in self.resources.items():
            found = set()
            depends = resource.get("DependsOn", [])
            found.update(depends if isinstance(depends, list) else [depends])
            for ref in references(resource.get("Properties") or {}):
                if ref[0] in ("ref", "getatt") and ref[1] in self.resources:
                    found.add(ref[1])
            deps[logical] = found
        return deps

    def _check_cycles(self):
        state = {}

        def visit(name, trail):
            if state.get(name) == "done":
                return
            if state.get(name) == "active":
                cycle = trail[trail.index(name):]
                raise validation(f"Circular dependency between resources: [{', '.join(cycle)}]")
            state[name] = "active"
            for dep in sorted(self.dependencies[name]):
                visit(dep, trail + [name])
            state[name] = "done"
        for name in self.resources:
            visit(name, [])

    def order(self, names):
        """names in an order where each comes after what it depends on."""
        placed, out = set(), []
        wanted = set(names)

        def place(name):
            if name in placed:
                return
            placed.add(name)
            for dep in sorted(self.dependencies.get(name, ())):
                if dep in wanted:
                    place(dep)
            out.append(name)
        for name in self.resources:
            if name in wanted:
                place(name)
        return out

    def needs_capability(self):
        """None, CAPABILITY_IAM or CAPABILITY_NAMED_IAM."""
        needed = None
        for resource in self.resources.values():
            if resource["Type"] in IAM_TYPES:
                needed = needed or "CAPABILITY_IAM"
                if any(k in (resource.get("Properties") or {}) for k in IAM_NAMES):
                    needed = "CAPABILITY_NAMED_IAM"
        return needed

    # --- parameters ---

    def resolve_parameters(self, given, previous=None):
        """Values for every parameter, or AWS's ValidationError.

        given: [(key, value, use_previous)]; previous: the stack's values."""
        unknown = [key for key, _, _ in given if key not in self.parameters]
        if unknown:
            raise validation(f"Parameters: [{', '.join(unknown)}] do not exist in the template")
        supplied = {key: (value, use_previous) for key, value, use_previous in given}
        values, missing = {}, []
        for name, spec in self.parameters.items():
            spec = spec or {}
            if name in supplied:
                value, use_previous = supplied[name]
                if use_previous:
                    if previous is None or name not in previous:
                        raise validation(f"Invalid input for parameter key {name}. Cannot "
                                         "specify usePreviousValue as true for a parameter key "
                                         "not in the previous template")
                    value = previous[name]
            elif "Default" in spec:
                value = scalar_text(spec["Default"])
            else:
                missing.append(name)
                continue
            check_parameter(name, spec, value)
            values[name] = value
        if missing:
            raise validation(f"Parameters: [{', '.join(missing)}] must have values")
        return values


def scalar_text(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ",".join(scalar_text(v) for v in value)
    return str(value)


def check_parameter(name, spec, value):
    """The checks of https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/parameters-section-structure.html"""
    kind = spec.get("Type", "String")
    items = value.split(",") if kind in ("List<Number>", "CommaDelimitedList") else [value]
    for item in items:
        if kind in ("Number", "List<Number>"):
            try:
                number = float(item)
            except ValueError:
                raise validation(f"Parameter '{name}' must be a number")
            if "MinValue" in spec and number < float(spec["MinValue"]):
                raise validation(f"Parameter '{name}' must be a number not less than "
                                 f"{spec['MinValue']}")
            if "MaxValue" in spec and number > float(spec["MaxValue"]):
                raise validation(f"Parameter '{name}' must be a number not greater than "
                                 f"{spec['MaxValue']}")
        if "AllowedValues" in spec and item not in [scalar_text(v) for v in spec["AllowedValues"]]:
            raise validation(f"Parameter '{name}' must be one of AllowedValues")
        if "AllowedPattern" in spec and not re.fullmatch(spec["AllowedPattern"], item):
            raise validation(f"Parameter '{name}' must match pattern {spec['AllowedPattern']}")
        if "MinLength" in spec and len(item) < int(spec["MinLength"]):
            raise validation(f"Parameter '{name}' must contain at least {spec['MinLength']} "
                             "characters")
        if "MaxLength" in spec and len(item) > int(spec["MaxLength"]):
            raise validation(f"Parameter '{name}' must contain at most {spec['MaxLength']} "
                             "characters")


# --- intrinsic functions, resolved ----------------------------------------------

NO_VALUE = object()


class ResolveError(Exception):
    pass


class Env:
    """What a template's intrinsics read: parameters, conditions, resources."""

    def __init__(self, stack, template, parameters):
        self.stack = stack
        self.template = template
        self.parameters = parameters
        self.conditions = {}
        for name in template.conditions:
            self.condition(name)

    def condition(self, name):
        if name not in self.conditions:
            if name not in self.template.conditions:
                raise ResolveError(f"unresolved condition {name}")
            self.conditions[name] = None   # a cycle would read None
            self.conditions[name] = bool(self.resolve(self.template.conditions[name]))
        return self.conditions[name]

    def wanted(self, logical):
        condition = self.template.resources[logical].get("Condition")
        return condition is None or self.condition(condition)

    def pseudo(self, name):
        stack = self.stack
        return {"AWS::AccountId": stack.account, "AWS::Region": stack.region,
                "AWS::StackName": stack.name, "AWS::StackId": stack.stack_id,
                "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com",
                "AWS::NotificationARNs": [], "AWS::NoValue": NO_VALUE}[name]

    def ref(self, name):
        if name in PSEUDO:
            return self.pseudo(name)
        if name in self.parameters:
            kind = (self.template.parameters.get(name) or {}).get("Type", "String")
            value = self.parameters[name]
            return value.split(",") if kind in ("List<Number>", "CommaDelimitedList") else value
        resource = self.stack.resources.get(name)
        if resource is None or resource.physical_id is None:
            raise ResolveError(f"resource {name} is not created")
        return resource.physical_id

    def getatt(self, name, attribute):
        resource = self.stack.resources.get(name)
        if resource is None or attribute not in resource.attributes:
            raise ResolveError(f"no attribute {attribute} of {name}")
        return resource.attributes[attribute]

    def resolve(self, value):
        fn = intrinsic(value)
        if fn:
            method = getattr(self, "fn_" + fn[0].replace("Fn::", "").lower(), None)
            if method is None:
                raise ResolveError(f"unsupported function {fn[0]}")
            return method(fn[1])
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                resolved = self.resolve(item)
                if resolved is not NO_VALUE:
                    out[key] = resolved
            return out
        if isinstance(value, list):
            return [r for r in (self.resolve(v) for v in value) if r is not NO_VALUE]
        return value

    def text(self, value):
        resolved = self.resolve(value)
        if isinstance(resolved, (list, dict)):
            raise ResolveError("a list or object where a string was expected")
        return scalar_text(resolved)

    def fn_ref(self, arg):
        return self.ref(self.text(arg))

    def fn_condition(self, arg):
        return self.condition(arg)

    def fn_getatt(self, arg):
        parts = arg if isinstance(arg, list) else str(arg).split(".", 1)
        return self.getatt(self.text(parts[0]), self.text(parts[1]))

    def fn_sub(self, arg):
        text, variables = (arg + [{}])[:2] if isinstance(arg, list) else (arg, {})
        values = {k: self.text(v) for k, v in (variables or {}).items()}

        def replace(match):
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            name = name.strip()
            if name in values:
                return values[name]
            if "." in name and name not in PSEUDO:
                return scalar_text(self.getatt(*name.split(".", 1)))
            return scalar_text(self.ref(name))
        return SUB_VARIABLE.sub(replace, text)

    def fn_if(self, arg):
        return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])

    def fn_equals(self, arg):
        left, right = (self.resolve(a) for a in arg)
        return scalar_text(left) == scalar_text(right)

    def fn_not(self, arg):
        return not self.resolve(arg[0])

    def fn_and(self, arg):
        return all(self.resolve(a) for a in arg)

    def fn_or(self, arg):
        return any(self.resolve(a) for a in arg)

    def fn_join(self, arg):
        items = self.resolve(arg[1])
        return self.text(arg[0]).join(scalar_text(i) for i in items)

    def fn_select(self, arg):
        items = self.resolve(arg[1])
        return items[int(self.text(arg[0]))]

    def fn_split(self, arg):
        return self.text(arg[1]).split(self.text(arg[0]))

    def fn_findinmap(self, arg):
        name, first, second = (self.text(a) for a in arg)
        try:
            return copy.deepcopy(self.template.mappings[name][first][second])
        except KeyError:
            raise ResolveError(f"Fn::FindInMap: no {name}/{first}/{second}")

    def fn_base64(self, arg):
        import base64
        return base64.b64encode(self.text(arg).encode()).decode()

    def fn_getazs(self, arg):
        return [f"{self.stack.region}{zone}" for zone in "abc"]

    def fn_importvalue(self, arg):
        raise ResolveError(f"No export named {self.text(arg)} found.")

    def fn_cidr(self, arg):
        raise ResolveError("Fn::Cidr is not emulated by localaws")


# --- stacks ------------------------------------------------------------------------

class Resource:
    def __init__(self, logical_id, type_, **fields):
        self.logical_id = logical_id
        self.type = type_
        self.physical_id = fields.get("physical_id")
        self.status = fields.get("status")
        self.reason = fields.get("reason")
        self.properties = fields.get("properties") or {}
        self.attributes = fields.get("attributes") or {}
        self.timestamp = fields.get("timestamp")
        self.deletion_policy = fields.get("deletion_policy") or "Delete"
        self.update_replace_policy = fields.get("update_replace_policy") or "Delete"


class Stack:
    def __init__(self, name, region, account, stack_id=None):
        self.name = name
        self.region = region
        self.account = account
        self.stack_id = stack_id or \
            f"arn:aws:cloudformation:{region}:{account}:stack/{name}/{uuid.uuid4()}"
        self.status = None
        self.reason = None
        self.created = None
        self.updated = None
        self.deleted = None
        self.body = None
        self.parameters = {}
        self.capabilities = []
        self.tags = []
        self.outputs = []
        self.resources = {}
        self.events = []
        self.disable_rollback = False
        self.caller = {}
        self.role_arn = None

    @property
    def busy(self):
        return (self.status or "").endswith("_IN_PROGRESS")


class StackStore:
    """Every stack, in memory like the services its resources live in."""

    def __init__(self):
        self.lock = threading.RLock()
        self.stacks = {}   # stack id -> Stack (deleted ones too)

    def live(self, region, name):
        for stack in self.stacks.values():
            if stack.region == region and stack.name == name and stack.deleted is None:
                return stack
        return None


# --- calling the other services ----------------------------------------------------

class Caller:
    """Requests to the other services as the stack's caller made them:
    through each service's dispatch, so their checks and locks apply."""

    def __init__(self, app, stack):
        self.app = app
        self.stack = stack
        caller = stack.caller
        self.principal = Principal(caller.get("arn"), caller.get("user_id"),
                                   caller.get("account", stack.account), caller.get("access_key"))

    def _request(self, method, target, headers, body):
        message = Message()
        message["Host"] = self.stack.caller.get("host") or "127.0.0.1"
        for key, value in headers.items():
            message[key] = value
        return Request(method, target, message, body, self.stack.caller.get("scheme") or "http")

    def _dispatch(self, service_name, request, operation):
        service = self.app.router.services[service_name]
        ctx = Context(self.app, request)
        ctx.principal, ctx.region = self.principal, self.stack.region
        ctx.account = self.principal.account
        return service.dispatch(request, operation, ctx)

    def json(self, service_name, operation, params):
        service = self.app.router.services[service_name]
        request = self._request("POST", "/", {
            "X-Amz-Target": f"{service.target_prefixes[0]}.{operation}",
            "Content-Type": service.content_type}, json.dumps(params).encode())
        response = self._dispatch(service_name, request, operation)
        return json.loads(response.body or b"{}")

    def query(self, service_name, action, params):
        body = urllib.parse.urlencode({"Action": action, **params}).encode()
        request = self._request("POST", "/", {
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}, body)
        response = self._dispatch(service_name, request, action)
        root = ET.fromstring(response.body)
        for element in root.iter():
            element.tag = element.tag.rpartition("}")[2]
        return root

    def rest(self, service_name, method, path, body=b"", headers=None):
        service = self.app.router.services[service_name]
        request = self._request(method, path, headers or {}, body)
        return self._dispatch(service_name, request, service.operation_name(request))

    def rest_json(self, service_name, method, path, params=None):
        body = json.dumps(params).encode() if params is not None else b""
        response = self.rest(service_name, method, path, body,
                             {"Content-Type": "application/json"} if params is not None else {})
        return json.loads(response.body) if response.body else {}


class HandlerError(Exception):
    """A resource handler's failure, worded as the registry words it."""

    def __init__(self, message, code="GeneralServiceException"):
        super().__init__(message)
        self.message = message
        self.code = code


def handler_message(error):
    """`Resource handler returned message: "..." (RequestToken: ..., HandlerErrorCode: ...)`."""
    token = uuid.uuid4()
    if isinstance(error, AwsError):
        codes = {"ParameterAlreadyExists": "AlreadyExists", "ResourceConflictException":
                 "AlreadyExists", "BucketAlreadyOwnedByYou": "AlreadyExists",
                 "BucketAlreadyExists": "AlreadyExists", "NoSuchBucket": "NotFound",
                 "ResourceNotFoundException": "NotFound", "ParameterNotFound": "NotFound"}
        code = codes.get(error.code, "InvalidRequest" if error.status < 500
                         else "GeneralServiceException")
        return (f'Resource handler returned message: "{error.message} (Status Code: '
                f'{error.status}, Error Code: {error.code})" (RequestToken: {token}, '
                f'HandlerErrorCode: {code})')
    return (f'Resource handler returned message: "{error.message}" (RequestToken: {token}, '
            f'HandlerErrorCode: {error.code})')


# --- the service ---------------------------------------------------------------------

@functools.lru_cache(maxsize=32)
def template_summary(body):
    """(Description, names of NoEcho parameters) of a stored template."""
    try:
        data = parse_template(body)
    except AwsError:
        return None, frozenset()
    parameters = data.get("Parameters") or {}
    return data.get("Description"), frozenset(k for k, v in parameters.items()
                                              if (v or {}).get("NoEcho"))


def members(params, prefix):
    """Query-API lists: Parameters.member.1.ParameterKey -> [{"ParameterKey": ...}];
    Capabilities.member.1 -> ["CAPABILITY_IAM"]."""
    found = {}
    pattern = re.compile(re.escape(prefix) + r"\.member\.(\d+)(?:\.(.+))?")
    for key, value in params.items():
        match = pattern.fullmatch(key)
        if match:
            index, field = int(match.group(1)), match.group(2)
            if field is None:
                found[index] = value
            else:
                found.setdefault(index, {})[field] = value
    return [found[i] for i in sorted(found)]


# https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-iam-servicerole.html
ROLE_ARN = re.compile(r"arn:aws[\w-]*:iam::(\d{12}):role/(?:[\w+=,.@-]+/)*([\w+=,.@-]{1,64})")


class CloudFormationService(ChangeSetOperations, StackSetOperations, QueryService):
    name = signing_name = "cloudformation"
    namespace = NAMESPACE
    AUTH_ERRORS = QUERY_AUTH_ERRORS
    actions = {
        "CreateStack": "create_stack", "UpdateStack": "update_stack",
        "DeleteStack": "delete_stack", "DescribeStacks": "describe_stacks",
        "DescribeStackEvents": "describe_stack_events",
        "DescribeStackResources": "describe_stack_resources",
        "DescribeStackResource": "describe_stack_resource",
        "ListStackResources": "list_stack_resources", "GetTemplate": "get_template",
        "ValidateTemplate": "validate_template",
        **ChangeSetOperations.CHANGE_SET_ACTIONS,
        **StackSetOperations.STACK_SET_ACTIONS,
    }
    query_actions = tuple(actions)

    def __init__(self, clock, changed):
        self.clock = clock
        self.changed = changed
        self.store = StackStore()
        self.threads = []

    # --- lookups ---

    def _spec(self):
        try:
            return cfnspec.load()
        except cfnspec.SpecMissing as error:
            raise AwsError("InternalFailure", str(error), 500, sender=False)

    def _find(self, ctx, name_or_id):
        """A live stack by name, or any stack (deleted too) by id."""
        with self.store.lock:
            if name_or_id.startswith("arn:"):
                stack = self.store.stacks.get(name_or_id)
            else:
                stack = self.store.live(ctx.region, name_or_id)
        if stack is None:
            raise validation(f"Stack with id {name_or_id} does not exist")
        return stack

    # --- operations ---

    def create_stack(self, params, ctx):
        """https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStack.html"""
        name = params.get("StackName", "")
        if not STACK_NAME.fullmatch(name):
            raise validation(f"1 validation error detected: Value '{name}' at 'stackName' failed "
                             "to satisfy constraint: Member must satisfy regular expression "
                             "pattern: [a-zA-Z][-a-zA-Z0-9]*")
        template = self._template(params)
        given = self._given_parameters(params)
        values = template.resolve_parameters(given)
        capabilities = members(params, "Capabilities")
        self._check_capabilities(template, capabilities)
        on_failure = params.get("OnFailure") or (
            "DO_NOTHING" if params.get("DisableRollback") == "true" else "ROLLBACK")
        if on_failure not in ("ROLLBACK", "DELETE", "DO_NOTHING"):
            raise validation(f"1 validation error detected: Value '{on_failure}' at 'onFailure' "
                             "failed to satisfy constraint: Member must satisfy enum value set: "
                             "[DO_NOTHING, ROLLBACK, DELETE]")
        with self.store.lock:
            if self.store.live(ctx.region, name) is not None:
                raise AwsError("AlreadyExistsException", f"Stack [{name}] already exists", 400)
            stack = Stack(name, ctx.region, ctx.account)
            stack.created = self.clock.now()
            stack.body = template.body
            stack.parameters = values
            stack.capabilities = capabilities
            stack.tags = [[t.get("Key", ""), t.get("Value", "")] for t in members(params, "Tags")]
            stack.role_arn = self._role_arn(params, None)
            stack.caller = self._caller(ctx, stack.role_arn)
            self._check_conditions(stack, template, values)
            self._stack_event(stack, "CREATE_IN_PROGRESS", "User Initiated")
            self.store.stacks[stack.stack_id] = stack
        self.changed()
        self._start(ctx, self._create, stack, template, on_failure)
        return [("StackId", stack.stack_id)]

    def update_stack(self, params, ctx):
        """https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_UpdateStack.html"""
        stack = self._find(ctx, params.get("StackName", ""))
        if stack.deleted is not None:
            raise validation(f"Stack with id {params.get('StackName')} does not exist")
        if stack.status not in STABLE_FOR_UPDATE:
            raise validation(f"Stack:{stack.stack_id} is in {stack.status} state and can not be "
                             "updated.")
        template = self._template_for_update(params, stack)
        given = self._given_parameters(params)
        values = template.resolve_parameters(given, stack.parameters)
        role_arn = self._role_arn(params, stack)
        capabilities = members(params, "Capabilities")
        self._check_capabilities(template, capabilities)
        tags = [[t.get("Key", ""), t.get("Value", "")] for t in members(params, "Tags")] \
            or stack.tags
        self._check_conditions(stack, template, values)
        with self.store.lock:
            if template.body == stack.body and values == stack.parameters and tags == stack.tags:
                raise validation("No updates are to be performed.")
            stack.role_arn = role_arn
            stack.caller = self._caller(ctx, role_arn)
            self._stack_event(stack, "UPDATE_IN_PROGRESS", "User Initiated")
        self.changed()
        self._start(ctx, self._update, stack, template, values, capabilities, tags)
        return [("StackId", stack.stack_id)]

    def delete_stack(self, params, ctx):
        """Deleting a stack that does not exist succeeds (API_DeleteStack.html)."""
        name = params.get("StackName", "")
        try:
            stack = self._find(ctx, name)
        except AwsError:
            return []
        with self.store.lock:
            if stack.deleted is not None or stack.status == "DELETE_IN_PROGRESS":
                return []
            if stack.busy:
                raise validation(f"Stack [{stack.name}] cannot be deleted while in status "
                                 f"{stack.status}")
            retain = set(members(params, "RetainResources"))
            stack.role_arn = self._role_arn(params, stack)
            stack.caller = self._caller(ctx, stack.role_arn)
            self._stack_event(stack, "DELETE_IN_PROGRESS", "User Initiated")
        self.changed()
        self._start(ctx, self._delete, stack, retain)
        return []

    def describe_stacks(self, params, ctx):
        name = params.get("StackName")
        if name:
            stacks = [self._find(ctx, name)]
        else:
            with self.store.lock:
                stacks = [s for s in self.store.stacks.values()
                          if s.region == ctx.region and s.deleted is None]
        with self.store.lock:
            return [("Stacks", [("member", self._stack_shape(s)) for s in stacks])]

    def describe_stack_events(self, params, ctx):
        stack = self._find(ctx, params.get("StackName", ""))
        start = int(params.get("NextToken") or 0)
        with self.store.lock:
            events = list(reversed(stack.events))
        page = events[start:start + EVENTS_PAGE]
        pairs = [("StackEvents", [("member", self._event_shape(stack, e)) for e in page])]
        if start + EVENTS_PAGE < len(events):
            pairs.append(("NextToken", str(start + EVENTS_PAGE)))
        return pairs

    def describe_stack_resources(self, params, ctx):
        stack = self._find(ctx, params.get("StackName", ""))
        logical = params.get("LogicalResourceId")
        with self.store.lock:
            resources = [r for r in stack.resources.values()
                         if logical is None or r.logical_id == logical]
            return [("StackResources", [("member", self._resource_shape(stack, r))
                                        for r in resources])]

    def describe_stack_resource(self, params, ctx):
        stack = self._find(ctx, params.get("StackName", ""))
        logical = params.get("LogicalResourceId", "")
        with self.store.lock:
            resource = stack.resources.get(logical)
            if resource is None:
                raise validation(f"Resource {logical} does not exist for stack {stack.name}")
            shape = self._resource_shape(stack, resource)
            shape.insert(-1, ("LastUpdatedTimestamp", iso_millis(resource.timestamp)))
            return [("StackResourceDetail", [p for p in shape if p[0] != "Timestamp"])]

    def list_stack_resources(self, params, ctx):
        stack = self._find(ctx, params.get("StackName", ""))
        with self.store.lock:
            summaries = [("member", [("LogicalResourceId", r.logical_id),
                                     ("PhysicalResourceId", r.physical_id),
                                     ("ResourceType", r.type),
                                     ("LastUpdatedTimestamp", iso_millis(r.timestamp)),
                                     ("ResourceStatus", r.status),
                                     ("ResourceStatusReason", r.reason or None),
                                     ("DriftInformation", [("StackResourceDriftStatus",
                                                            "NOT_CHECKED")])])
                         for r in stack.resources.values()]
        return [("StackResourceSummaries", summaries)]

    def get_template(self, params, ctx):
        stack = self._find(ctx, params.get("StackName", ""))
        return [("TemplateBody", stack.body),
                ("StagesAvailable", [("member", "Original"), ("member", "Processed")])]

    def validate_template(self, params, ctx):
        template = self._template(params)
        parameters = []
        for name, spec in template.parameters.items():
            spec = spec or {}
            parameters.append(("member", [
                ("ParameterKey", name),
                ("DefaultValue", scalar_text(spec["Default"]) if "Default" in spec else None),
                ("NoEcho", bool(spec.get("NoEcho", False))),
                ("Description", spec.get("Description"))]))
        pairs = [("Parameters", parameters), ("Description", template.description)]
        needed = template.needs_capability()
        if needed:
            pairs += [("Capabilities", [("member", needed)]),
                      ("CapabilitiesReason", "The following resource(s) require capabilities: "
                       f"[{', '.join(sorted({r['Type'] for r in template.resources.values() if r['Type'] in IAM_TYPES}))}]")]
        return pairs

    # --- request pieces ---

    def _template_for_update(self, params, stack):
        if params.get("UsePreviousTemplate") == "true":
            return Template(stack.body, self._spec())
        return self._template(params)

    @staticmethod
    def _members(params, prefix):
        return members(params, prefix)

    @staticmethod
    def _role_arn(params, stack):
        """RoleARN given, else the one the stack was last given: CloudFormation
        keeps using a stack's service role (using-iam-servicerole.html)."""
        role_arn = params.get("RoleARN")
        if role_arn is None:
            return stack.role_arn if stack is not None else None
        if not ROLE_ARN.fullmatch(role_arn):
            raise validation(f"Role {role_arn} is invalid or cannot be assumed")
        return role_arn

    def _template(self, params):
        body = params.get("TemplateBody")
        if body is None:
            if params.get("TemplateURL"):
                raise validation("TemplateURL is not emulated by localaws: send TemplateBody")
            raise validation("Either Template URL or Template Body must be specified.")
        return Template(body, self._spec())

    @staticmethod
    def _given_parameters(params):
        given = []
        for item in members(params, "Parameters"):
            key = item.get("ParameterKey")
            if key is None:
                raise validation("Parameter key must be specified")
            given.append((key, item.get("ParameterValue", ""),
                          item.get("UsePreviousValue") == "true"))
        return given

    @staticmethod
    def _check_capabilities(template, capabilities):
        needed = template.needs_capability()
        if needed == "CAPABILITY_IAM" and not ({"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"}
                                               & set(capabilities)):
            raise AwsError("InsufficientCapabilitiesException",
                           "Requires capabilities : [CAPABILITY_IAM]", 400)
        if needed == "CAPABILITY_NAMED_IAM" and "CAPABILITY_NAMED_IAM" not in capabilities:
            raise AwsError("InsufficientCapabilitiesException",
                           "Requires capabilities : [CAPABILITY_NAMED_IAM]", 400)

    @staticmethod
    def _check_conditions(stack, template, values):
        try:
            Env(stack, template, values)
        except (ResolveError, LookupError, TypeError, ValueError) as error:
            raise validation(f"Template error: {error}")

    @staticmethod
    def _caller(ctx, role_arn=None):
        """Who the stack's resource handlers act as: the caller, or the
        stack's service role, as a session CloudFormation assumed."""
        principal = ctx.principal
        caller = {"arn": principal.arn, "user_id": principal.user_id,
                  "account": principal.account, "access_key": principal.access_key,
                  "host": ctx.request.header("host"), "scheme": ctx.request.scheme}
        match = ROLE_ARN.fullmatch(role_arn or "")
        if match:
            caller.update(arn=f"arn:aws:sts::{match.group(1)}:assumed-role/{match.group(2)}/"
                          "AWSCloudFormation", user_id=f"AROA{match.group(2)[:17].upper()}:"
                          "AWSCloudFormation", account=match.group(1))
        return caller

    # --- shapes ---

    def _stack_shape(self, stack):
        description, no_echo = template_summary(stack.body)
        parameters = [("member", [("ParameterKey", k),
                                  ("ParameterValue", "****" if k in no_echo else v)])
                      for k, v in stack.parameters.items()]
        pairs = [("StackId", stack.stack_id), ("StackName", stack.name),
                 ("Description", description),
                 ("Parameters", parameters), ("CreationTime", iso_millis(stack.created))]
        if stack.deleted is not None:
            pairs.append(("DeletionTime", iso_millis(stack.deleted)))
        if stack.updated is not None:
            pairs.append(("LastUpdatedTime", iso_millis(stack.updated)))
        if stack.role_arn:
            pairs.append(("RoleARN", stack.role_arn))
        pairs += [("RollbackConfiguration", []), ("StackStatus", stack.status),
                  ("StackStatusReason", stack.reason or None),
                  ("DisableRollback", stack.disable_rollback), ("NotificationARNs", []),
                  ("Capabilities", [("member", c) for c in stack.capabilities])]
        if stack.outputs:
            pairs.append(("Outputs", [("member", [("OutputKey", o["key"]),
                                                  ("OutputValue", o["value"]),
                                                  ("Description", o.get("description"))])
                                      for o in stack.outputs]))
        pairs += [("Tags", [("member", [("Key", k), ("Value", v)]) for k, v in stack.tags]),
                  ("EnableTerminationProtection", False),
                  ("DriftInformation", [("StackDriftStatus", "NOT_CHECKED")])]
        return pairs

    @staticmethod
    def _event_shape(stack, event):
        return [("StackId", stack.stack_id), ("EventId", event["id"]),
                ("StackName", stack.name), ("LogicalResourceId", event["logical_id"]),
                ("PhysicalResourceId", event.get("physical_id") or ""),
                ("ResourceType", event["type"]), ("Timestamp", iso_millis(event["timestamp"])),
                ("ResourceStatus", event["status"]),
                ("ResourceStatusReason", event.get("reason") or None),
                ("ResourceProperties", event.get("properties"))]

    @staticmethod
    def _resource_shape(stack, resource):
        return [("StackName", stack.name), ("StackId", stack.stack_id),
                ("LogicalResourceId", resource.logical_id),
                ("PhysicalResourceId", resource.physical_id),
                ("ResourceType", resource.type), ("Timestamp", iso_millis(resource.timestamp)),
                ("ResourceStatus", resource.status),
                ("ResourceStatusReason", resource.reason or None),
                ("DriftInformation", [("StackResourceDriftStatus", "NOT_CHECKED")])]

    # --- events ---

    def _event(self, stack, logical_id, type_, status, reason=None, physical_id=None,
               properties=None):
        with self.store.lock:
            stack.events.append({
                "id": str(uuid.uuid4()), "logical_id": logical_id, "type": type_,
                "status": status, "reason": reason, "physical_id": physical_id,
                "timestamp": self.clock.now(),
                "properties": json.dumps(properties) if properties is not None else None})
        self.changed()

    def _stack_event(self, stack, status, reason=None):
        with self.store.lock:
            stack.status = status
            # The rollback's later steps keep the reason it started for.
            if reason is not None or "ROLLBACK" not in status:
                stack.reason = reason
            if status.startswith("UPDATE_") or status.startswith("DELETE_"):
                if status == "DELETE_COMPLETE":
                    stack.deleted = self.clock.now()
                elif status.startswith("UPDATE_"):
                    stack.updated = self.clock.now()
        self._event(stack, stack.name, "AWS::CloudFormation::Stack", status, reason,
                    stack.stack_id)

    def _resource_event(self, stack, resource, status, reason=None, properties=None):
        with self.store.lock:
            resource.status = status
            resource.reason = reason
            resource.timestamp = self.clock.now()
        self._event(stack, resource.logical_id, resource.type, status, reason,
                    resource.physical_id or "", properties)

    # --- the background work ---

    def _start(self, ctx, work, stack, *args):
        app = ctx.app

        def run():
            try:
                work(app, stack, *args)
            except Exception as error:  # a localaws bug must not leave the stack moving
                log.exception("stack %s: %s failed", stack.name, work.__name__)
                with self.store.lock:
                    status = stack.status.replace("_IN_PROGRESS", "_FAILED") \
                        if stack.busy else stack.status
                self._stack_event(stack, status, f"localaws internal error: {error}")
        thread = threading.Thread(target=run, name=f"cfn-{stack.name}", daemon=True)
        self.threads = [t for t in self.threads if t.is_alive()] + [thread]
        thread.start()

    @staticmethod
    def _provision(env, template, logical, resource):
        """The resource's properties resolved and checked; raises HandlerError."""
        definition = template.resources[logical]
        try:
            properties = env.resolve(definition.get("Properties") or {})
        except ResolveError as error:
            raise HandlerError(f"Template error: {error}", "InvalidRequest")
        errors = template.spec.check_properties(resource.type, properties)
        if errors:
            raise HandlerError(
                f"Properties validation failed for resource {logical} with message: "
                + " ".join(errors), "InvalidRequest")
        return properties

    def _create_one(self, caller, stack, env, template, logical):
        definition = template.resources[logical]
        resource = Resource(logical, definition["Type"],
                            deletion_policy=definition.get("DeletionPolicy"),
                            update_replace_policy=definition.get("UpdateReplacePolicy"))
        with self.store.lock:
            stack.resources[logical] = resource
        self._resource_event(stack, resource, "CREATE_IN_PROGRESS")
        try:
            properties = self._provision(env, template, logical, resource)
            handler = HANDLERS[resource.type]
            physical_id, attributes = handler.create(Call(caller, stack, logical, properties))
            with self.store.lock:
                resource.physical_id = physical_id
                resource.properties = properties
            self._resource_event(stack, resource, "CREATE_IN_PROGRESS",
                                 "Resource creation Initiated")
            with self.store.lock:
                resource.attributes = attributes
            self._resource_event(stack, resource, "CREATE_COMPLETE")
            return None
        except (HandlerError, AwsError) as error:
            reason = error.message if isinstance(error, HandlerError) and \
                error.message.startswith(("Properties validation", "Template error")) \
                else handler_message(error)
            self._resource_event(stack, resource, "CREATE_FAILED", reason)
            return reason

    def _delete_one(self, caller, stack, resource, policy):
        """DELETE_SKIPPED for Retain; True when it is gone (or kept)."""
        if policy == "Retain":
            self._resource_event(stack, resource, "DELETE_SKIPPED")
            return True
        if resource.physical_id is None:
            self._resource_event(stack, resource, "DELETE_COMPLETE")
            return True
        self._resource_event(stack, resource, "DELETE_IN_PROGRESS")
        try:
            HANDLERS[resource.type].delete(Call(caller, stack, resource.logical_id,
                                                resource.properties, resource.physical_id,
                                                resource.attributes))
        except (HandlerError, AwsError) as error:
            self._resource_event(stack, resource, "DELETE_FAILED", handler_message(error))
            return False
        self._resource_event(stack, resource, "DELETE_COMPLETE")
        return True

    def _outputs(self, env, template):
        outputs = []
        for key, output in template.outputs.items():
            condition = output.get("Condition")
            if condition is not None and not env.condition(condition):
                continue
            outputs.append({"key": key, "value": env.text(output["Value"]),
                            "description": output.get("Description")})
        return outputs

    def _create(self, app, stack, template, on_failure):
        caller = Caller(app, stack)
        env = Env(stack, template, stack.parameters)
        wanted = [name for name in template.resources if env.wanted(name)]
        failed = None
        for logical in template.order(wanted):
            failed = self._create_one(caller, stack, env, template, logical)
            if failed is not None:
                failed = logical
                break
        if failed is None:
            try:
                outputs = self._outputs(env, template)
            except ResolveError as error:
                failed, outputs = None, None
                self._stack_event(stack, "ROLLBACK_IN_PROGRESS", f"Outputs: {error}")
            if outputs is not None:
                with self.store.lock:
                    stack.outputs = outputs
                self._stack_event(stack, "CREATE_COMPLETE")
                return
        else:
            if on_failure == "DO_NOTHING":
                self._stack_event(stack, "CREATE_FAILED",
                                  f"The following resource(s) failed to create: [{failed}]. ")
                return
            self._stack_event(stack, "ROLLBACK_IN_PROGRESS",
                              f"The following resource(s) failed to create: [{failed}]. "
                              "Rollback requested by user.")
        ok = True
        for logical in reversed(template.order(list(stack.resources))):
            resource = stack.resources[logical]
            if resource.status == "CREATE_FAILED" or resource.physical_id is None:
                continue
            ok = self._delete_one(caller, stack, resource, resource.deletion_policy) and ok
        self._stack_event(stack, "ROLLBACK_COMPLETE" if ok else "ROLLBACK_FAILED")
        if ok and on_failure == "DELETE":
            self._stack_event(stack, "DELETE_IN_PROGRESS", "User Initiated")
            self._stack_event(stack, "DELETE_COMPLETE")

    def _update(self, app, stack, template, values, capabilities, tags):
        caller = Caller(app, stack)
        old = {"body": stack.body, "parameters": stack.parameters,
               "capabilities": stack.capabilities, "tags": stack.tags,
               "outputs": stack.outputs,
               "resources": {k: copy.deepcopy(r) for k, r in stack.resources.items()}}
        old_template = Template(stack.body, template.spec)
        with self.store.lock:
            stack.body, stack.parameters = template.body, values
            stack.capabilities, stack.tags = capabilities, tags
        env = Env(stack, template, values)
        wanted = [name for name in template.resources if env.wanted(name)]
        journal, cleanup, failed = [], [], None
        for logical in template.order(wanted):
            current = stack.resources.get(logical)
            definition = template.resources[logical]
            if current is None or current.type != definition["Type"]:
                if current is not None:
                    cleanup.append(copy.deepcopy(current))
                reason = self._create_one(caller, stack, env, template, logical)
                journal.append(("created", logical, current))
                if reason is not None:
                    failed = logical
                    break
                continue
            try:
                properties = self._provision(env, template, logical, current)
            except HandlerError as error:
                self._resource_event(stack, current, "UPDATE_FAILED", error.message)
                failed = logical
                break
            with self.store.lock:
                current.deletion_policy = definition.get("DeletionPolicy") or "Delete"
                current.update_replace_policy = definition.get("UpdateReplacePolicy") or "Delete"
            if properties == current.properties:
                continue
            handler = HANDLERS[current.type]
            replace = handler.needs_replacement(template.spec, current.type,
                                                current.properties, properties)
            previous = copy.deepcopy(current)
            try:
                if replace:
                    self._resource_event(stack, current, "UPDATE_IN_PROGRESS", REPLACEMENT_REASON)
                    physical_id, attributes = handler.create(
                        Call(caller, stack, logical, properties))
                    with self.store.lock:
                        current.physical_id, current.attributes = physical_id, attributes
                        current.properties = properties
                    self._resource_event(stack, current, "UPDATE_IN_PROGRESS",
                                         "Resource creation Initiated")
                    cleanup.append(previous)
                    journal.append(("replaced", logical, previous))
                else:
                    self._resource_event(stack, current, "UPDATE_IN_PROGRESS")
                    attributes = handler.update(
                        Call(caller, stack, logical, properties, current.physical_id,
                             current.attributes), current.properties)
                    with self.store.lock:
                        current.attributes, current.properties = attributes, properties
                    journal.append(("updated", logical, previous))
                self._resource_event(stack, current, "UPDATE_COMPLETE")
            except (HandlerError, AwsError) as error:
                self._resource_event(stack, current, "UPDATE_FAILED", handler_message(error))
                failed = logical
                break
        if failed is None:
            try:
                outputs = self._outputs(env, template)
            except ResolveError as error:
                outputs = None
                failed = f"Outputs ({error})"
        if failed is None:
            removed = [stack.resources[name] for name in
                       reversed(old_template.order(list(stack.resources)))
                       if name not in wanted]
            with self.store.lock:
                stack.outputs = outputs
            self._stack_event(stack, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
            for resource in cleanup:
                self._delete_one(caller, stack, resource, resource.update_replace_policy)
            for resource in removed:
                if self._delete_one(caller, stack, resource, resource.deletion_policy):
                    with self.store.lock:
                        stack.resources.pop(resource.logical_id, None)
            self._stack_event(stack, "UPDATE_COMPLETE")
            return
        self._rollback_update(caller, stack, old, old_template, journal, failed)

    def _rollback_update(self, caller, stack, old, old_template, journal, failed):
        self._stack_event(stack, "UPDATE_ROLLBACK_IN_PROGRESS",
                          f"The following resource(s) failed to update: [{failed}]. ")
        env = Env(stack, old_template, old["parameters"])
        cleanup = []
        for action, logical, previous in reversed(journal):
            current = stack.resources.get(logical)
            if action == "created":
                if current is not None and current.physical_id is not None:
                    cleanup.append(current)
                with self.store.lock:
                    if previous is None:
                        stack.resources.pop(logical, None)
                    else:
                        stack.resources[logical] = previous
                continue
            if action == "replaced":
                cleanup.append(copy.deepcopy(current))
                with self.store.lock:
                    stack.resources[logical] = previous
                self._resource_event(stack, previous, "UPDATE_COMPLETE")
                continue
            self._resource_event(stack, current, "UPDATE_IN_PROGRESS")
            try:
                attributes = HANDLERS[current.type].update(
                    Call(caller, stack, logical, previous.properties, current.physical_id,
                         current.attributes), current.properties)
                with self.store.lock:
                    current.attributes, current.properties = attributes, previous.properties
                self._resource_event(stack, current, "UPDATE_COMPLETE")
            except (HandlerError, AwsError) as error:
                self._resource_event(stack, current, "UPDATE_FAILED", handler_message(error))
        failed_resource = stack.resources.get(failed)
        if failed_resource is not None and failed_resource.status == "UPDATE_FAILED":
            self._resource_event(stack, failed_resource, "UPDATE_COMPLETE")
        with self.store.lock:
            stack.body, stack.parameters = old["body"], old["parameters"]
            stack.capabilities, stack.tags = old["capabilities"], old["tags"]
            stack.outputs = old["outputs"]
        del env
        self._stack_event(stack, "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
        for resource in cleanup:
            self._delete_one(caller, stack, resource, "Delete")
        self._stack_event(stack, "UPDATE_ROLLBACK_COMPLETE")

    def _delete(self, app, stack, retain):
        caller = Caller(app, stack)
        template = Template(stack.body, self._spec())
        failed = []
        for logical in reversed(template.order(list(stack.resources))):
            resource = stack.resources[logical]
            if resource.status == "DELETE_COMPLETE":
                continue
            policy = "Retain" if logical in retain else resource.deletion_policy
            if not self._delete_one(caller, stack, resource, policy):
                failed.append(logical)
        if failed:
            self._stack_event(stack, "DELETE_FAILED", "The following resource(s) failed to "
                              f"delete: [{', '.join(failed)}]. ")
            return
        self._stack_event(stack, "DELETE_COMPLETE")


# --- resource handlers -------------------------------------------------------------

NAME_CHARACTERS = string.ascii_uppercase + string.digits


def physical_name(stack_name, logical_id, max_length, lowercase=False):
    """`stack-LogicalId-1A2B3C4D5E6F7` as CloudFormation names what the
    template leaves unnamed, both parts cut to fit max_length.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-name.html"""
    suffix = "".join(secrets.choice(NAME_CHARACTERS) for _ in range(13))
    budget = max_length - len(suffix) - 2
    stack_part, logical_part = stack_name, logical_id
    if len(stack_part) + len(logical_part) > budget:
        logical_part = logical_part[:max(budget // 2, budget - len(stack_part))]
        stack_part = stack_part[:budget - len(logical_part)]
    name = f"{stack_part}-{logical_part}-{suffix}"
    return name.lower() if lowercase else name


class Call:
    """One handler call: the caller, the stack, the resolved properties."""

    def __init__(self, caller, stack, logical_id, properties, physical_id=None, attributes=None):
        self.caller = caller
        self.stack = stack
        self.logical_id = logical_id
        self.properties = properties
        self.physical_id = physical_id
        self.attributes = attributes or {}

    @property
    def region(self):
        return self.stack.region

    @property
    def account(self):
        return self.stack.account

    def name(self, prop, max_length, lowercase=False):
        given = self.properties.get(prop) if prop else None
        return str(given) if given else physical_name(self.stack.name, self.logical_id,
                                                      max_length, lowercase)


def flag(value):
    return "true" if value in (True, "true", "True") else "false"


class Handler:
    """Create/update/delete of one resource type. create returns
    (physical id: what Ref gives, attributes: what GetAtt gives)."""

    def create(self, call):
        raise NotImplementedError

    def update(self, call, old_properties):
        """In place; returns the attributes."""
        return call.attributes

    def delete(self, call):
        pass

    @staticmethod
    def needs_replacement(spec, type_name, old, new):
        changed = {k for k in set(old) | set(new) if old.get(k) != new.get(k)}
        return any(spec.update_type(type_name, k) == "Immutable" for k in changed)


class Record(Handler):
    """A resource localaws keeps as a record: IAM, alarms, policies."""

    def __init__(self, name_prop=None, max_length=64, attributes=None):
        self.name_prop = name_prop
        self.max_length = max_length
        self.make_attributes = attributes or (lambda call, name: {})

    def create(self, call):
        name = call.name(self.name_prop, self.max_length)
        return name, self.make_attributes(call, name)

    def update(self, call, old_properties):
        return self.make_attributes(call, call.physical_id)


def check_policy_document(document, what):
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            raise HandlerError(f"{what} is not valid JSON", "InvalidRequest")
    if not isinstance(document, dict) or not isinstance(document.get("Statement"), (list, dict)):
        raise HandlerError(f"{what} must have a Statement", "InvalidRequest")


def _policy_text(document):
    return document if isinstance(document, str) else json.dumps(document)


class IamRole(Record):
    """A role of localaws' IAM (iam.py), with its inline Policies: the
    credentials of its sessions (a Lambda's) are held to them."""

    def __init__(self):
        super().__init__("RoleName", 64, self._attributes)

    def create(self, call):
        check_policy_document(call.properties.get("AssumeRolePolicyDocument"),
                              "AssumeRolePolicyDocument")
        for policy in call.properties.get("Policies") or []:
            check_policy_document(policy.get("PolicyDocument"), "PolicyDocument")
        name, attributes = super().create(call)
        call.caller.query("iam", "CreateRole", {
            "RoleName": name, "Path": call.properties.get("Path") or "/",
            "AssumeRolePolicyDocument": _policy_text(
                call.properties["AssumeRolePolicyDocument"])})
        self._put_policies(call, name, [])
        return name, attributes

    @staticmethod
    def _put_policies(call, name, old_policies):
        new = {p["PolicyName"]: p["PolicyDocument"] for p in call.properties.get("Policies") or []}
        for old in old_policies:
            if old["PolicyName"] not in new:
                call.caller.query("iam", "DeleteRolePolicy", {"RoleName": name,
                                                              "PolicyName": old["PolicyName"]})
        for policy_name, document in new.items():
            call.caller.query("iam", "PutRolePolicy", {
                "RoleName": name, "PolicyName": policy_name,
                "PolicyDocument": _policy_text(document)})

    def update(self, call, old_properties):
        self._put_policies(call, call.physical_id, old_properties.get("Policies") or [])
        return super().update(call, old_properties)

    def delete(self, call):
        try:
            call.caller.query("iam", "DeleteRole", {"RoleName": call.physical_id})
        except AwsError as error:
            if error.code != "NoSuchEntity":
                raise

    @staticmethod
    def _attributes(call, name):
        path = call.properties.get("Path") or "/"
        role_id = call.attributes.get("RoleId") or \
            "AROA" + "".join(secrets.choice(NAME_CHARACTERS) for _ in range(17))
        return {"Arn": f"arn:aws:iam::{call.account}:role{path}{name}", "RoleId": role_id}


class IamPolicy(Record):
    def __init__(self):
        super().__init__(None, 64)

    def create(self, call):
        check_policy_document(call.properties.get("PolicyDocument"), "PolicyDocument")
        if not any(call.properties.get(k) for k in ("Roles", "Users", "Groups")):
            raise HandlerError("At least one of [Groups,Roles,Users] must be non-empty.",
                               "InvalidRequest")
        created = super().create(call)
        self._attach(call, call.properties)
        return created

    @staticmethod
    def _attach(call, props, delete=False):
        """The policy inline in each of its roles and users, as IAM keeps
        an AWS::IAM::Policy (PutRolePolicy/PutUserPolicy)."""
        for kind, key in (("Role", "Roles"), ("User", "Users")):
            for entity in props.get(key) or []:
                params = {f"{kind}Name": entity, "PolicyName": props["PolicyName"]}
                try:
                    if delete:
                        call.caller.query("iam", f"Delete{kind}Policy", params)
                    else:
                        call.caller.query("iam", f"Put{kind}Policy", {
                            **params, "PolicyDocument": _policy_text(props["PolicyDocument"])})
                except AwsError as error:
                    if not delete or error.code != "NoSuchEntity":
                        raise

    def update(self, call, old_properties):
        self._attach(call, old_properties, delete=True)
        self._attach(call, call.properties)
        return super().update(call, old_properties)

    def delete(self, call):
        self._attach(call, call.properties, delete=True)


class Alarm(Record):
    OPERATORS = ("GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold",
                 "LessThanOrEqualToThreshold", "LessThanLowerOrGreaterThanUpperThreshold",
                 "LessThanLowerThreshold", "GreaterThanUpperThreshold")
    STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")

    def __init__(self):
        super().__init__("AlarmName", 255, lambda call, name: {
            "Arn": f"arn:aws:cloudwatch:{call.region}:{call.account}:alarm:{name}"})

    def create(self, call):
        """https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html"""
        props = call.properties
        if props.get("ComparisonOperator") not in self.OPERATORS:
            raise HandlerError(f"Invalid ComparisonOperator {props.get('ComparisonOperator')}",
                               "InvalidRequest")
        if "Statistic" in props and props["Statistic"] not in self.STATISTICS:
            raise HandlerError(f"Invalid Statistic {props['Statistic']}", "InvalidRequest")
        if "Metrics" not in props and not (props.get("MetricName") and props.get("Namespace")):
            raise HandlerError("MetricName and Namespace are required without Metrics",
                               "InvalidRequest")
        return super().create(call)


class S3Bucket(Handler):
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-s3-bucket.html
    Versioning is S3's; encryption, public access block, lifecycle and
    Object Lock settings are checked and kept with the resource."""

    def create(self, call):
        name = call.name("BucketName", 63, lowercase=True)
        self._check(call.properties)
        body = b""
        if call.region != "us-east-1":
            body = (f'<CreateBucketConfiguration><LocationConstraint>{call.region}'
                    '</LocationConstraint></CreateBucketConfiguration>').encode()
        call.caller.rest("s3", "PUT", f"/{name}", body)
        self._versioning(call, name, call.properties)
        self._encryption(call, name, call.properties)
        bucket_replication(call, name, call.properties.get("ReplicationConfiguration"))
        return name, self._attributes(call, name)

    @staticmethod
    def _encryption(call, name, props):
        """BucketEncryption through PutBucketEncryption: S3's own default
        encryption (SSE-KMS objects then need kms:Decrypt)."""
        rules = (props.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration")
        if not rules:
            call.caller.rest("s3", "DELETE", f"/{name}?encryption")
            return
        rule = rules[0]
        default = rule.get("ServerSideEncryptionByDefault") or {}
        key = default.get("KMSMasterKeyID")
        body = ("<ServerSideEncryptionConfiguration><Rule><ApplyServerSideEncryptionByDefault>"
                f"<SSEAlgorithm>{default.get('SSEAlgorithm')}</SSEAlgorithm>"
                + (f"<KMSMasterKeyID>{key}</KMSMasterKeyID>" if key else "")
                + "</ApplyServerSideEncryptionByDefault>"
                f"<BucketKeyEnabled>{flag(rule.get('BucketKeyEnabled'))}</BucketKeyEnabled>"
                "</Rule></ServerSideEncryptionConfiguration>").encode()
        call.caller.rest("s3", "PUT", f"/{name}?encryption", body)

    @staticmethod
    def _check(props):
        for rule in (props.get("BucketEncryption") or {}).get(
                "ServerSideEncryptionConfiguration", []):
            default = rule.get("ServerSideEncryptionByDefault") or {}
            algorithm = default.get("SSEAlgorithm")
            if algorithm not in ("AES256", "aws:kms", "aws:kms:dsse"):
                raise HandlerError(f"Invalid SSEAlgorithm {algorithm}", "InvalidRequest")
            if default.get("KMSMasterKeyID") and algorithm == "AES256":
                raise HandlerError("KMSMasterKeyID is only allowed with aws:kms",
                                   "InvalidRequest")
        lock = props.get("ObjectLockConfiguration")
        if lock:
            if flag(props.get("ObjectLockEnabled")) != "true":
                raise HandlerError("ObjectLockConfiguration needs ObjectLockEnabled: true",
                                   "InvalidRequest")
            retention = (lock.get("Rule") or {}).get("DefaultRetention") or {}
            if retention and retention.get("Mode") not in ("GOVERNANCE", "COMPLIANCE"):
                raise HandlerError(f"Invalid Object Lock mode {retention.get('Mode')}",
                                   "InvalidRequest")
            if retention and ("Days" in retention) == ("Years" in retention):
                raise HandlerError("DefaultRetention takes Days or Years", "InvalidRequest")

    @staticmethod
    def _versioning(call, name, props):
        status = (props.get("VersioningConfiguration") or {}).get("Status")
        if status:
            body = (f'<VersioningConfiguration><Status>{status}</Status>'
                    '</VersioningConfiguration>').encode()
            call.caller.rest("s3", "PUT", f"/{name}?versioning", body)

    @staticmethod
    def _attributes(call, name):
        region = call.region
        return {"Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com",
                "RegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
                "DualStackDomainName": f"{name}.s3.dualstack.{region}.amazonaws.com",
                "WebsiteURL": f"http://{name}.s3-website-{region}.amazonaws.com"}

    def update(self, call, old_properties):
        self._check(call.properties)
        if call.properties.get("VersioningConfiguration") != \
                old_properties.get("VersioningConfiguration"):
            self._versioning(call, call.physical_id, call.properties)
        if call.properties.get("BucketEncryption") != old_properties.get("BucketEncryption"):
            self._encryption(call, call.physical_id, call.properties)
        if call.properties.get("ReplicationConfiguration") != \
                old_properties.get("ReplicationConfiguration"):
            bucket_replication(call, call.physical_id,
                               call.properties.get("ReplicationConfiguration"))
        return call.attributes

    def delete(self, call):
        try:
            call.caller.rest("s3", "DELETE", f"/{call.physical_id}")
        except AwsError as error:
            if error.code != "NoSuchBucket":
                raise


def bucket_replication(call, name, configuration):
    """AWS::S3::Bucket ReplicationConfiguration through S3's PutBucketReplication
    (aws-properties-s3-bucket-replicationconfiguration.html); None removes it."""
    if not configuration:
        call.caller.rest("s3", "DELETE", f"/{name}?replication")
        return
    root = ET.Element("ReplicationConfiguration")
    ET.SubElement(root, "Role").text = str(configuration.get("Role", ""))
    for rule in configuration.get("Rules") or []:
        element = ET.SubElement(root, "Rule")
        if rule.get("Id"):
            ET.SubElement(element, "ID").text = str(rule["Id"])
        if "Priority" in rule:
            ET.SubElement(element, "Priority").text = str(rule["Priority"])
        if "Filter" in rule:
            ET.SubElement(ET.SubElement(element, "Filter"), "Prefix").text = \
                str((rule["Filter"] or {}).get("Prefix", ""))
        elif "Prefix" in rule:
            ET.SubElement(element, "Prefix").text = str(rule["Prefix"])
        ET.SubElement(element, "Status").text = str(rule.get("Status", ""))
        if "DeleteMarkerReplication" in rule:
            ET.SubElement(ET.SubElement(element, "DeleteMarkerReplication"), "Status").text = \
                str(rule["DeleteMarkerReplication"].get("Status", "Disabled"))
        ET.SubElement(ET.SubElement(element, "Destination"), "Bucket").text = \
            str((rule.get("Destination") or {}).get("Bucket", ""))
    call.caller.rest("s3", "PUT", f"/{name}?replication", ET.tostring(root))


class LogsMetricFilter(Record):
    """A record (localaws' Logs has no metric filters) on a log group that
    must exist (aws-resource-logs-metricfilter.html)."""

    def __init__(self):
        super().__init__("FilterName", 512)

    def create(self, call):
        group = call.properties["LogGroupName"]
        found = call.caller.json("logs", "DescribeLogGroups", {"logGroupNamePrefix": group})
        if not any(g["logGroupName"] == group for g in found.get("logGroups", [])):
            raise HandlerError(f"The specified log group does not exist: {group}", "NotFound")
        return super().create(call)


class S3BucketPolicy(Handler):
    """PutBucketPolicy: localaws' S3 evaluates it (with --iam)."""

    def create(self, call):
        check_policy_document(call.properties.get("PolicyDocument"), "PolicyDocument")
        bucket = call.properties["Bucket"]
        call.caller.rest("s3", "PUT", f"/{bucket}?policy",
                         _policy_text(call.properties["PolicyDocument"]).encode())
        return bucket, {}

    def update(self, call, old_properties):
        check_policy_document(call.properties.get("PolicyDocument"), "PolicyDocument")
        call.caller.rest("s3", "PUT", f"/{call.physical_id}?policy",
                         _policy_text(call.properties["PolicyDocument"]).encode())
        return {}

    def delete(self, call):
        try:
            call.caller.rest("s3", "DELETE", f"/{call.physical_id}?policy")
        except AwsError as error:
            if error.code != "NoSuchBucket":
                raise


class KmsKey(Handler):
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-kms-key.html
    Ref is the key id; deleting schedules the deletion (PendingWindowInDays,
    default 30), as CloudFormation does."""

    def create(self, call):
        props = call.properties
        check_policy_document(props.get("KeyPolicy"), "KeyPolicy")
        params = {"Policy": _policy_text(props["KeyPolicy"]),
                  "Description": props.get("Description", "")}
        for key in ("KeySpec", "KeyUsage"):
            if key in props:
                params[key] = props[key]
        metadata = call.caller.json("kms", "CreateKey", params)["KeyMetadata"]
        if flag(props.get("EnableKeyRotation")) == "true":
            call.caller.json("kms", "EnableKeyRotation", {"KeyId": metadata["KeyId"]})
        return metadata["KeyId"], {"Arn": metadata["Arn"], "KeyId": metadata["KeyId"]}

    def update(self, call, old_properties):
        props = call.properties
        if props.get("KeyPolicy") != old_properties.get("KeyPolicy"):
            check_policy_document(props.get("KeyPolicy"), "KeyPolicy")
            call.caller.json("kms", "PutKeyPolicy", {"KeyId": call.physical_id,
                                                     "PolicyName": "default",
                                                     "Policy": _policy_text(props["KeyPolicy"])})
        if flag(props.get("EnableKeyRotation")) == "true":
            call.caller.json("kms", "EnableKeyRotation", {"KeyId": call.physical_id})
        return call.attributes

    def delete(self, call):
        try:
            call.caller.json("kms", "ScheduleKeyDeletion", {
                "KeyId": call.physical_id,
                "PendingWindowInDays": int(call.properties.get("PendingWindowInDays", 30))})
        except AwsError as error:
            if error.code not in ("NotFoundException", "KMSInvalidStateException"):
                raise


class KmsAlias(Handler):
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-kms-alias.html
    Ref is the alias name."""

    def create(self, call):
        name = call.properties["AliasName"]
        call.caller.json("kms", "CreateAlias", {"AliasName": name,
                                                "TargetKeyId": call.properties["TargetKeyId"]})
        return name, {}

    def update(self, call, old_properties):
        call.caller.json("kms", "DeleteAlias", {"AliasName": call.physical_id})
        call.caller.json("kms", "CreateAlias", {"AliasName": call.physical_id,
                                                "TargetKeyId": call.properties["TargetKeyId"]})
        return {}

    def delete(self, call):
        try:
            call.caller.json("kms", "DeleteAlias", {"AliasName": call.physical_id})
        except AwsError as error:
            if error.code != "NotFoundException":
                raise


class SqsQueue(Handler):
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-sqs-queue.html
    Ref is the queue URL."""
    ATTRIBUTES = ("DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod",
                  "ReceiveMessageWaitTimeSeconds", "VisibilityTimeout", "RedrivePolicy",
                  "RedriveAllowPolicy", "KmsMasterKeyId", "KmsDataKeyReusePeriodSeconds",
                  "SqsManagedSseEnabled", "FifoQueue", "ContentBasedDeduplication")

    @classmethod
    def _attribute_params(cls, props, start=1):
        params, index = {}, start
        for name in cls.ATTRIBUTES:
            if name not in props:
                continue
            value = props[name]
            if isinstance(value, (dict, list)):
                value = json.dumps(value, separators=(",", ":"))
            elif isinstance(value, bool):
                value = flag(value)
            params[f"Attribute.{index}.Name"] = name
            params[f"Attribute.{index}.Value"] = str(value)
            index += 1
        return params

    def create(self, call):
        name = call.name("QueueName", 80)
        params = {"QueueName": name, **self._attribute_params(call.properties)}
        for index, tag in enumerate(call.properties.get("Tags") or [], 1):
            params[f"Tag.{index}.Key"], params[f"Tag.{index}.Value"] = tag["Key"], tag["Value"]
        url = call.caller.query("sqs", "CreateQueue", params).findtext(".//QueueUrl")
        return url, self._attributes(call, url, name)

    def _attributes(self, call, url, name):
        root = call.caller.query("sqs", "GetQueueAttributes",
                                 {"QueueUrl": url, "AttributeName.1": "QueueArn"})
        arn = next((a.findtext("Value") for a in root.iter("Attribute")
                    if a.findtext("Name") == "QueueArn"), None) or \
            f"arn:aws:sqs:{call.region}:{call.account}:{name}"
        return {"Arn": arn, "QueueName": name, "QueueUrl": url}

    def update(self, call, old_properties):
        params = self._attribute_params(call.properties)
        if params:
            call.caller.query("sqs", "SetQueueAttributes", {"QueueUrl": call.physical_id,
                                                            **params})
        return call.attributes

    def delete(self, call):
        try:
            call.caller.query("sqs", "DeleteQueue", {"QueueUrl": call.physical_id})
        except AwsError as error:
            if "NonExistentQueue" not in error.code:
                raise


class SqsQueuePolicy(Handler):
    def _apply(self, call, urls, policy):
        for url in urls:
            call.caller.query("sqs", "SetQueueAttributes", {
                "QueueUrl": url, "Attribute.1.Name": "Policy", "Attribute.1.Value": policy})

    def create(self, call):
        document = call.properties["PolicyDocument"]
        check_policy_document(document, "PolicyDocument")
        self._apply(call, call.properties["Queues"], json.dumps(document))
        return physical_name(call.stack.name, call.logical_id, 128), {}

    def update(self, call, old_properties):
        gone = [q for q in old_properties.get("Queues", []) if q not in call.properties["Queues"]]
        self.delete(Call(call.caller, call.stack, call.logical_id, {"Queues": gone}))
        return self.create(call)[1]

    def delete(self, call):
        for url in call.properties.get("Queues", []):
            try:
                self._apply(call, [url], "")
            except AwsError as error:
                if "NonExistentQueue" not in error.code:
                    raise


class EventsRule(Handler):
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-events-rule.html
    Ref is the rule's name."""

    def _put(self, call, name):
        props = call.properties
        params = {"Name": name, "State": props.get("State", "ENABLED")}
        if "EventPattern" in props:
            pattern = props["EventPattern"]
            params["EventPattern"] = pattern if isinstance(pattern, str) else json.dumps(pattern)
        for key in ("ScheduleExpression", "Description", "RoleArn", "EventBusName"):
            if key in props:
                params[key] = props[key]
        arn = call.caller.json("events", "PutRule", params)["RuleArn"]
        targets = props.get("Targets") or []
        if targets:
            result = call.caller.json("events", "PutTargets", {"Rule": name, "Targets": targets})
            if result.get("FailedEntryCount"):
                raise HandlerError(json.dumps(result["FailedEntries"]), "InvalidRequest")
        return arn

    def create(self, call):
        name = call.name("Name", 64)
        return name, {"Arn": self._put(call, name)}

    def update(self, call, old_properties):
        new_ids = {t["Id"] for t in call.properties.get("Targets") or []}
        gone = [t["Id"] for t in old_properties.get("Targets") or [] if t["Id"] not in new_ids]
        if gone:
            call.caller.json("events", "RemoveTargets", {"Rule": call.physical_id, "Ids": gone})
        return {"Arn": self._put(call, call.physical_id)}

    def delete(self, call):
        ids = [t["Id"] for t in call.properties.get("Targets") or []]
        try:
            if ids:
                call.caller.json("events", "RemoveTargets", {"Rule": call.physical_id,
                                                             "Ids": ids})
            call.caller.json("events", "DeleteRule", {"Name": call.physical_id})
        except AwsError as error:
            if error.code != "ResourceNotFoundException":
                raise


class LogGroup(Handler):
    def create(self, call):
        name = call.name("LogGroupName", 512)
        call.caller.json("logs", "CreateLogGroup", {"logGroupName": name})
        self._retention(call, name)
        return name, {"Arn": f"arn:aws:logs:{call.region}:{call.account}:log-group:{name}:*"}

    @staticmethod
    def _retention(call, name):
        days = call.properties.get("RetentionInDays")
        if days is not None:
            call.caller.json("logs", "PutRetentionPolicy", {"logGroupName": name,
                                                            "retentionInDays": int(days)})
        else:
            call.caller.json("logs", "DeleteRetentionPolicy", {"logGroupName": name})

    def update(self, call, old_properties):
        self._retention(call, call.physical_id)
        return call.attributes

    def delete(self, call):
        try:
            call.caller.json("logs", "DeleteLogGroup", {"logGroupName": call.physical_id})
        except AwsError as error:
            if error.code != "ResourceNotFoundException":
                raise


class SsmParameter(Handler):
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-ssm-parameter.html
    Ref is the name; CloudFormation cannot make SecureString parameters."""

    def _put(self, call, name, overwrite):
        props = call.properties
        if props.get("Type") == "SecureString":
            raise HandlerError("SecureString parameter type is not supported by "
                               "CloudFormation", "InvalidRequest")
        params = {"Name": name, "Value": str(props["Value"]), "Type": props["Type"],
                  "Overwrite": overwrite}
        for key in ("Description", "Tier", "AllowedPattern", "DataType", "Policies"):
            if key in props:
                params[key] = props[key]
        if props.get("Tags") and not overwrite:
            params["Tags"] = [{"Key": k, "Value": v} for k, v in props["Tags"].items()]
        try:
            call.caller.json("ssm", "PutParameter", params)
        except AwsError as error:
            if error.code == "ParameterAlreadyExists":
                raise HandlerError(f"Resource of type 'AWS::SSM::Parameter' with identifier "
                                   f"'{name}' already exists.", "AlreadyExists")
            raise

    def create(self, call):
        name = call.properties.get("Name") or \
            f"CFN-{call.logical_id}-" + "".join(secrets.choice(string.ascii_letters +
                                                               string.digits)
                                                for _ in range(12))
        self._put(call, name, False)
        return name, {"Type": call.properties["Type"], "Value": str(call.properties["Value"])}

    def update(self, call, old_properties):
        self._put(call, call.physical_id, True)
        return {"Type": call.properties["Type"], "Value": str(call.properties["Value"])}

    def delete(self, call):
        try:
            call.caller.json("ssm", "DeleteParameter", {"Name": call.physical_id})
        except AwsError as error:
            if error.code != "ParameterNotFound":
                raise


LAMBDA_API = "/2015-03-31"


class LambdaFunction(Handler):
    """https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-lambda-function.html
    CloudFormation waits until the function is Active."""
    CONFIGURATION = ("Runtime", "Role", "Handler", "Description", "Timeout", "MemorySize",
                     "Environment", "Architectures", "PackageType", "Layers", "TracingConfig",
                     "EphemeralStorage", "KmsKeyArn", "DeadLetterConfig", "VpcConfig")
    WAIT_SECONDS = 60

    def _configuration(self, props, updating=False):
        params = {k: props[k] for k in self.CONFIGURATION if k in props
                  and not (updating and k in ("Architectures", "PackageType"))}
        for key in ("Timeout", "MemorySize"):
            if key in params:
                params[key] = int(params[key])
        return params

    def create(self, call):
        name = call.name("FunctionName", 64)
        params = {"FunctionName": name, "Code": call.properties["Code"],
                  **self._configuration(call.properties)}
        if call.properties.get("Tags"):
            params["Tags"] = {t["Key"]: t["Value"] for t in call.properties["Tags"]}
        created = call.caller.rest_json("lambda", "POST", f"{LAMBDA_API}/functions", params)
        self._wait(call, name)
        return name, {"Arn": created["FunctionArn"]}

    def _wait(self, call, name):
        deadline = time.monotonic() + self.WAIT_SECONDS
        while True:
            got = call.caller.rest_json("lambda", "GET", f"{LAMBDA_API}/functions/{name}")
            configuration = got.get("Configuration", got)
            state = configuration.get("State", "Active")
            update = configuration.get("LastUpdateStatus", "Successful")
            if state == "Failed" or update == "Failed":
                raise HandlerError(configuration.get("StateReason") or
                                   configuration.get("LastUpdateStatusReason") or
                                   "the function failed", "NotStabilized")
            if state == "Active" and update != "InProgress":
                return
            if time.monotonic() > deadline:
                raise HandlerError(f"function {name} is still {state}", "NotStabilized")
            time.sleep(0.1)

    def update(self, call, old_properties):
        """Code and architecture through UpdateFunctionCode, the rest through
        UpdateFunctionConfiguration (API_UpdateFunctionCode.html)."""
        name = call.physical_id
        new, old = call.properties, old_properties
        if new.get("Code") != old.get("Code") or \
                new.get("Architectures") != old.get("Architectures"):
            code = dict(new["Code"])
            if "Architectures" in new:
                code["Architectures"] = new["Architectures"]
            call.caller.rest_json("lambda", "PUT", f"{LAMBDA_API}/functions/{name}/code", code)
            self._wait(call, name)
        configuration = self._configuration(new, updating=True)
        if configuration != self._configuration(old, updating=True):
            call.caller.rest_json("lambda", "PUT",
                                  f"{LAMBDA_API}/functions/{name}/configuration", configuration)
            self._wait(call, name)
        return call.attributes

    def delete(self, call):
        try:
            call.caller.rest("lambda", "DELETE", f"{LAMBDA_API}/functions/{call.physical_id}")
        except AwsError as error:
            if error.code != "ResourceNotFoundException":
                raise


class LambdaEventSourceMapping(Handler):
    """Ref is the mapping's UUID."""
    FIELDS = ("EventSourceArn", "FunctionName", "BatchSize", "MaximumBatchingWindowInSeconds",
              "FunctionResponseTypes", "Enabled", "FilterCriteria", "ScalingConfig",
              "StartingPosition")

    def _params(self, props, creating):
        params = {k: props[k] for k in self.FIELDS if k in props}
        for key in ("BatchSize", "MaximumBatchingWindowInSeconds"):
            if key in params:
                params[key] = int(params[key])
        if "Enabled" in params:
            params["Enabled"] = flag(params["Enabled"]) == "true"
        if not creating:
            params.pop("EventSourceArn", None)
            params.pop("StartingPosition", None)
        return params

    def create(self, call):
        created = call.caller.rest_json("lambda", "POST", f"{LAMBDA_API}/event-source-mappings/",
                                        self._params(call.properties, True))
        return created["UUID"], {"Id": created["UUID"]}

    def update(self, call, old_properties):
        call.caller.rest_json("lambda", "PUT",
                              f"{LAMBDA_API}/event-source-mappings/{call.physical_id}",
                              self._params(call.properties, False))
        return call.attributes

    def delete(self, call):
        try:
            call.caller.rest("lambda", "DELETE",
                             f"{LAMBDA_API}/event-source-mappings/{call.physical_id}")
        except AwsError as error:
            if error.code != "ResourceNotFoundException":
                raise


class LambdaPermission(Handler):
    """A record (localaws' Lambda keeps no resource policies) of a function
    that must exist."""

    def create(self, call):
        function = urllib.parse.quote(str(call.properties["FunctionName"]), safe="")
        call.caller.rest_json("lambda", "GET", f"{LAMBDA_API}/functions/{function}")
        return physical_name(call.stack.name, call.logical_id, 100), {}

    def update(self, call, old_properties):
        return self.create(call)[1]


HANDLERS = {
    "AWS::S3::Bucket": S3Bucket(),
    "AWS::S3::BucketPolicy": S3BucketPolicy(),
    "AWS::SQS::Queue": SqsQueue(),
    "AWS::SQS::QueuePolicy": SqsQueuePolicy(),
    "AWS::Events::Rule": EventsRule(),
    "AWS::IAM::Role": IamRole(),
    "AWS::IAM::Policy": IamPolicy(),
    "AWS::CloudWatch::Alarm": Alarm(),
    "AWS::Logs::LogGroup": LogGroup(),
    "AWS::Logs::MetricFilter": LogsMetricFilter(),
    "AWS::SSM::Parameter": SsmParameter(),
    "AWS::Lambda::Function": LambdaFunction(),
    "AWS::Lambda::EventSourceMapping": LambdaEventSourceMapping(),
    "AWS::Lambda::Permission": LambdaPermission(),
    "AWS::KMS::Key": KmsKey(),
    "AWS::KMS::Alias": KmsAlias(),
}


class UnsupportedType(Handler):
    """A type the specification knows and localaws does not make."""

    def __init__(self, type_name):
        self.type_name = type_name

    def create(self, call):
        raise HandlerError(f"localaws does not emulate {self.type_name}", "InvalidRequest")


class _Handlers(dict):
    def __missing__(self, key):
        return UnsupportedType(key)


HANDLERS = _Handlers(HANDLERS)
