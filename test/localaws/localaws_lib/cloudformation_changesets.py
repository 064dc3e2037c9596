"""CloudFormation change sets: what an update would do, to review before
it runs.

API: https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateChangeSet.html,
API_DescribeChangeSet.html, API_ExecuteChangeSet.html, API_DeleteChangeSet.html,
API_ListChangeSets.html. Guide:
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/using-cfn-updating-stacks-changesets.html

A change set of type UPDATE compares the stack's resources with the new
template resolved against them: a resource only in the template is Add, one
only in the stack is Remove, one whose resolved properties differ is Modify
(Replacement True when an Immutable property changes, as the resource
specification says; Conditional when a property depends on a resource not
made yet). Executing it runs the stack update with exactly the change set's
template, parameters, capabilities, tags and role; the stack's other change
sets are deleted (API_ExecuteChangeSet.html).

Known differences: the change set is computed before CreateChangeSet
answers (AWS moves through CREATE_PENDING and CREATE_IN_PROGRESS first, so
clients must poll either way); ChangeSetType CREATE and IMPORT, nested
change sets and resource-level Details beyond the property names are not
emulated.
"""
import re
import uuid

from .clock import iso_millis
from .errors import AwsError

CHANGE_SET_NAME = re.compile(r"[a-zA-Z][-a-zA-Z0-9]{0,127}")
NO_CHANGES = ("The submitted information didn't contain changes. Submit different "
              "information to create a change set.")


def validation(message):
    return AwsError("ValidationError", message, 400)


class ChangeSet:
    def __init__(self, name, stack, **fields):
        self.name = name
        self.stack = stack
        self.change_set_id = (f"arn:aws:cloudformation:{stack.region}:{stack.account}:"
                              f"changeSet/{name}/{uuid.uuid4()}")
        self.template = fields["template"]
        self.values = fields["values"]
        self.capabilities = fields["capabilities"]
        self.tags = fields["tags"]
        self.role_arn = fields.get("role_arn")
        self.description = fields.get("description")
        self.created = fields["created"]
        self.changes = []
        self.status = "CREATE_COMPLETE"
        self.status_reason = None
        self.execution_status = "AVAILABLE"
        self.caller = fields.get("caller") or {}


def resource_changes(service, stack, template, values):
    """[(action, logical, physical, type, replacement, changed property names)]."""
    from .cloudformation import Env, ResolveError   # one module imports the other
    env = Env(stack, template, values)
    wanted = [name for name in template.resources if env.wanted(name)]
    changes = []
    for logical in template.order(wanted):
        definition = template.resources[logical]
        current = stack.resources.get(logical)
        if current is None or current.physical_id is None:
            changes.append(("Add", logical, None, definition["Type"], None, []))
            continue
        if current.type != definition["Type"]:
            changes.append(("Remove", logical, current.physical_id, current.type, None, []))
            changes.append(("Add", logical, None, definition["Type"], None, []))
            continue
        raw = definition.get("Properties") or {}
        try:
            properties = env.resolve(raw)
            unknown = set()
        except ResolveError:
            properties, unknown = {}, set(raw)
            for key, value in raw.items():
                try:
                    properties[key] = env.resolve(value)
                    unknown.discard(key)
                except ResolveError:
                    pass
        changed = sorted(k for k in set(current.properties) | set(properties) | unknown
                         if k in unknown or current.properties.get(k) != properties.get(k))
        if not changed:
            continue
        immutable = any(template.spec.update_type(current.type, k) == "Immutable"
                        for k in changed)
        replacement = "True" if immutable and not unknown else \
            "Conditional" if immutable else "False"
        changes.append(("Modify", logical, current.physical_id, current.type, replacement,
                        changed))
    for logical, current in stack.resources.items():
        if logical not in wanted and current.status != "DELETE_COMPLETE":
            changes.append(("Remove", logical, current.physical_id, current.type, None, []))
    return changes


def change_shape(change, spec):
    action, logical, physical, type_, replacement, changed = change
    details = [("member", [
        ("Target", [("Attribute", "Properties"), ("Name", name),
                    ("RequiresRecreation", "Always" if spec.update_type(type_, name) ==
                     "Immutable" else "Never")]),
        ("Evaluation", "Static"), ("ChangeSource", "DirectModification")])
        for name in changed]
    resource = [("Action", action), ("LogicalResourceId", logical),
                ("PhysicalResourceId", physical), ("ResourceType", type_)]
    if action == "Modify":
        resource += [("Replacement", replacement), ("Scope", [("member", "Properties")]),
                     ("Details", details)]
    return ("member", [("Type", "Resource"), ("ResourceChange", resource)])


class ChangeSetOperations:
    """The change-set actions of CloudFormationService (a mixin: it uses the
    service's store, template checks and update engine)."""

    CHANGE_SET_ACTIONS = {
        "CreateChangeSet": "create_change_set", "DescribeChangeSet": "describe_change_set",
        "ExecuteChangeSet": "execute_change_set", "DeleteChangeSet": "delete_change_set",
        "ListChangeSets": "list_change_sets",
    }

    def _change_sets(self):
        if not hasattr(self.store, "change_sets"):
            self.store.change_sets = {}    # change set id -> ChangeSet
        return self.store.change_sets

    def _find_change_set(self, params, ctx):
        name = params.get("ChangeSetName", "")
        with self.store.lock:
            sets = self._change_sets()
            if name.startswith("arn:"):
                found = sets.get(name)
            else:
                stack = self._find(ctx, params.get("StackName", ""))
                found = next((c for c in sets.values()
                              if c.stack is stack and c.name == name), None)
        if found is None:
            raise AwsError("ChangeSetNotFound", f"ChangeSet [{name}] does not exist", 404)
        return found

    def create_change_set(self, params, ctx):
        name = params.get("ChangeSetName", "")
        if not CHANGE_SET_NAME.fullmatch(name):
            raise validation(f"1 validation error detected: Value '{name}' at 'changeSetName' "
                             "failed to satisfy constraint: Member must satisfy regular "
                             "expression pattern: [a-zA-Z][-a-zA-Z0-9]*")
        kind = params.get("ChangeSetType") or "UPDATE"
        if kind != "UPDATE":
            raise validation(f"ChangeSetType {kind} is not emulated by localaws (UPDATE only)")
        stack = self._find(ctx, params.get("StackName", ""))
        if stack.deleted is not None:
            raise validation(f"Stack [{stack.name}] does not exist")
        if stack.busy:
            raise validation(f"Stack:{stack.stack_id} is in {stack.status} state and can not "
                             "be updated.")
        template = self._template_for_update(params, stack)
        values = template.resolve_parameters(self._given_parameters(params), stack.parameters)
        capabilities = self._members(params, "Capabilities")
        self._check_capabilities(template, capabilities)
        tags = [[t.get("Key", ""), t.get("Value", "")]
                for t in self._members(params, "Tags")] or stack.tags
        role_arn = self._role_arn(params, stack)
        self._check_conditions(stack, template, values)
        with self.store.lock:
            if any(c.stack is stack and c.name == name for c in self._change_sets().values()):
                raise AwsError("AlreadyExistsException", f"ChangeSet {name} already exists", 400)
            change_set = ChangeSet(name, stack, template=template, values=values,
                                   capabilities=capabilities, tags=tags, role_arn=role_arn,
                                   description=params.get("Description"),
                                   created=self.clock.now(), caller=self._caller(ctx, role_arn))
            if template.body == stack.body and values == stack.parameters and \
                    tags == stack.tags:
                change_set.status, change_set.status_reason = "FAILED", NO_CHANGES
                change_set.execution_status = "UNAVAILABLE"
            else:
                change_set.changes = resource_changes(self, stack, template, values)
            self._change_sets()[change_set.change_set_id] = change_set
        self.changed()
        return [("Id", change_set.change_set_id), ("StackId", stack.stack_id)]

    def describe_change_set(self, params, ctx):
        change_set = self._find_change_set(params, ctx)
        stack = change_set.stack
        spec = change_set.template.spec
        with self.store.lock:
            return [
                ("ChangeSetName", change_set.name), ("ChangeSetId", change_set.change_set_id),
                ("StackId", stack.stack_id), ("StackName", stack.name),
                ("Description", change_set.description),
                ("Parameters", [("member", [("ParameterKey", k), ("ParameterValue", v)])
                                for k, v in change_set.values.items()]),
                ("CreationTime", iso_millis(change_set.created)),
                ("ExecutionStatus", change_set.execution_status),
                ("Status", change_set.status), ("StatusReason", change_set.status_reason),
                ("Capabilities", [("member", c) for c in change_set.capabilities]),
                ("Tags", [("member", [("Key", k), ("Value", v)]) for k, v in change_set.tags]),
                ("Changes", [change_shape(c, spec) for c in change_set.changes]),
                ("IncludeNestedStacks", False)]

    def list_change_sets(self, params, ctx):
        stack = self._find(ctx, params.get("StackName", ""))
        with self.store.lock:
            summaries = [("member", [
                ("StackId", stack.stack_id), ("StackName", stack.name),
                ("ChangeSetId", c.change_set_id), ("ChangeSetName", c.name),
                ("ExecutionStatus", c.execution_status), ("Status", c.status),
                ("StatusReason", c.status_reason), ("CreationTime", iso_millis(c.created)),
                ("Description", c.description)])
                for c in self._change_sets().values() if c.stack is stack]
        return [("Summaries", summaries)]

    def delete_change_set(self, params, ctx):
        change_set = self._find_change_set(params, ctx)
        with self.store.lock:
            if change_set.execution_status == "EXECUTE_IN_PROGRESS":
                raise AwsError("InvalidChangeSetStatus", f"Cannot delete ChangeSet "
                               f"{change_set.change_set_id} in status EXECUTE_IN_PROGRESS", 400)
            self._change_sets().pop(change_set.change_set_id, None)
        self.changed()
        return []

    def execute_change_set(self, params, ctx):
        change_set = self._find_change_set(params, ctx)
        stack = change_set.stack
        with self.store.lock:
            if change_set.execution_status != "AVAILABLE":
                raise AwsError("InvalidChangeSetStatus", f"ChangeSet [{change_set.change_set_id}] "
                               f"cannot be executed in its current execution status of "
                               f"[{change_set.execution_status}]", 400)
            if stack.busy:
                raise validation(f"Stack:{stack.stack_id} is in {stack.status} state and can "
                                 "not be updated.")
            # "CloudFormation deletes all other change sets associated with
            # the stack because they aren't valid for the updated stack."
            for other in [c for c in self._change_sets().values()
                          if c.stack is stack and c is not change_set]:
                del self._change_sets()[other.change_set_id]
            change_set.execution_status = "EXECUTE_COMPLETE"
            stack.caller = change_set.caller
            stack.role_arn = change_set.role_arn
            self._stack_event(stack, "UPDATE_IN_PROGRESS", "User Initiated")
        self.changed()
        self._start(ctx, self._update, stack, change_set.template, change_set.values,
                    change_set.capabilities, change_set.tags)
        return []
