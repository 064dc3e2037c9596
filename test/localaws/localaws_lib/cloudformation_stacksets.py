"""CloudFormation StackSets with service-managed permissions: one template
deployed as a stack to every account of some organizational units
(organizations.py), in several regions, and to accounts that join those
units later (automatic deployment).

API: https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_CreateStackSet.html,
API_CreateStackInstances.html, API_DescribeStackSet.html, API_ListStackInstances.html,
API_DescribeStackSetOperation.html, API_UpdateStackSet.html, API_DeleteStackInstances.html,
API_DeleteStackSet.html. Guide:
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-manage-auto-deployment.html

A stack instance is an ordinary localaws stack named
StackSet-NAME-<uuid>, in the member account and region, made by
CloudFormation's engine as the StackSets execution role of that account
(so its resources live in that account's namespace: auth.py). The
management account gets no instance, as with service-managed
permissions. Operations run one at a time per stack set, on a background
thread, each instance in turn (no OperationPreferences concurrency);
DescribeStackSetOperation follows them from RUNNING to SUCCEEDED or
FAILED. Automatic deployment adds instances, in the regions the stack
set already deploys to, when an account is created in or moved into a
target unit; an account moved out keeps its stacks (as with
RetainStacksOnAccountRemoval: removal is not emulated).
"""
import hashlib
import threading
import uuid

from .clock import iso_millis
from .errors import AwsError


def validation(message):
    return AwsError("ValidationError", message, 400)


def not_found(name):
    return AwsError("StackSetNotFoundException", f"StackSet {name} not found", 400)


class StackSet:
    def __init__(self, name, account, region, **fields):
        self.name = name
        self.stack_set_id = f"{name}:{uuid.uuid4()}"
        self.arn = f"arn:aws:cloudformation:{region}:{account}:stackset/{self.stack_set_id}"
        self.body = fields["body"]
        self.parameters = fields["parameters"]      # [(key, value, use_previous)] as given
        self.capabilities = fields["capabilities"]
        self.tags = fields["tags"]
        self.description = fields.get("description")
        self.auto_deployment = fields["auto_deployment"]
        self.retain_on_removal = fields["retain_on_removal"]
        self.caller = fields["caller"]
        self.status = "ACTIVE"
        self.ous = []
        self.instances = {}      # (account, region) -> instance dict
        self.operations = {}     # operation id -> operation dict
        self.lock = threading.Lock()   # one operation at a time


class StackSetOperations:
    """The StackSet actions of CloudFormationService (a mixin: it runs
    instances with the service's own stack engine)."""

    STACK_SET_ACTIONS = {
        "CreateStackSet": "create_stack_set", "DescribeStackSet": "describe_stack_set",
        "ListStackSets": "list_stack_sets", "UpdateStackSet": "update_stack_set",
        "DeleteStackSet": "delete_stack_set", "CreateStackInstances": "create_stack_instances",
        "DeleteStackInstances": "delete_stack_instances",
        "ListStackInstances": "list_stack_instances",
        "DescribeStackSetOperation": "describe_stack_set_operation",
    }

    def _stack_sets(self):
        if not hasattr(self.store, "stack_sets"):
            self.store.stack_sets = {}       # name -> StackSet
        return self.store.stack_sets

    def attach_organizations(self, organizations):
        self.organizations = organizations
        organizations.listeners.append(self._account_joined)

    def _stack_set(self, params):
        name = params.get("StackSetName", "")
        with self.store.lock:
            found = self._stack_sets().get(name.split(":")[0] if ":" in name else name)
        if found is None or found.status == "DELETED":
            raise not_found(name)
        return found

    def _check_management(self, ctx):
        organizations = getattr(self, "organizations", None)
        if organizations is None or organizations.organization is None:
            raise validation("StackSets with SERVICE_MANAGED permissions need AWS "
                             "Organizations: this account is not in an organization")
        if ctx.account != organizations.organization.management:
            raise validation("You must be logged in as the management account of the "
                             "organization (or pass CallAs DELEGATED_ADMIN as a registered "
                             "delegated administrator)")

    # --- stack sets ---

    def create_stack_set(self, params, ctx):
        name = params.get("StackSetName", "")
        if params.get("PermissionModel") != "SERVICE_MANAGED":
            raise validation("localaws emulates SERVICE_MANAGED stack sets only")
        self._check_management(ctx)
        template = self._template(params)
        capabilities = self._members(params, "Capabilities")
        self._check_capabilities(template, capabilities)
        given = self._given_parameters(params)
        unknown = [key for key, _, _ in given if key not in template.parameters]
        if unknown:
            raise validation(f"Parameters: [{', '.join(unknown)}] do not exist in the template")
        enabled = params.get("AutoDeployment.Enabled") == "true"
        with self.store.lock:
            existing = self._stack_sets().get(name)
            if existing is not None and existing.status != "DELETED":
                raise AwsError("NameAlreadyExistsException", f"StackSet {name} already exists",
                               400)
            stack_set = StackSet(
                name, ctx.account, ctx.region, body=template.body, parameters=given,
                capabilities=capabilities,
                tags=[[t.get("Key", ""), t.get("Value", "")]
                      for t in self._members(params, "Tags")],
                description=params.get("Description"), auto_deployment=enabled,
                retain_on_removal=params.get("AutoDeployment.RetainStacksOnAccountRemoval")
                == "true", caller=self._caller(ctx))
            self._stack_sets()[name] = stack_set
        self.app = ctx.app
        self.changed()
        return [("StackSetId", stack_set.stack_set_id)]

    def _stack_set_shape(self, s):
        return [("StackSetName", s.name), ("StackSetId", s.stack_set_id),
                ("Description", s.description), ("Status", s.status),
                ("TemplateBody", s.body),
                ("Parameters", [("member", [("ParameterKey", k), ("ParameterValue", v)])
                                for k, v, _ in s.parameters]),
                ("Capabilities", [("member", c) for c in s.capabilities]),
                ("Tags", [("member", [("Key", k), ("Value", v)]) for k, v in s.tags]),
                ("StackSetARN", s.arn), ("PermissionModel", "SERVICE_MANAGED"),
                ("AutoDeployment", [("Enabled", s.auto_deployment),
                                    ("RetainStacksOnAccountRemoval", s.retain_on_removal)]),
                ("OrganizationalUnitIds", [("member", ou) for ou in s.ous])]

    def describe_stack_set(self, params, ctx):
        stack_set = self._stack_set(params)
        with self.store.lock:
            return [("StackSet", self._stack_set_shape(stack_set))]

    def list_stack_sets(self, params, ctx):
        with self.store.lock:
            return [("Summaries", [("member", [
                ("StackSetName", s.name), ("StackSetId", s.stack_set_id),
                ("Description", s.description), ("Status", s.status),
                ("PermissionModel", "SERVICE_MANAGED"),
                ("AutoDeployment", [("Enabled", s.auto_deployment),
                                    ("RetainStacksOnAccountRemoval", s.retain_on_removal)])])
                for s in self._stack_sets().values()
                if params.get("Status") in (None, s.status)])]

    def update_stack_set(self, params, ctx):
        stack_set = self._stack_set(params)
        self._check_management(ctx)
        if params.get("UsePreviousTemplate") == "true":
            body = stack_set.body
            template = self._template({"TemplateBody": body})
        else:
            template = self._template(params)
        capabilities = self._members(params, "Capabilities")
        self._check_capabilities(template, capabilities)
        previous = {k: v for k, v, _ in stack_set.parameters}
        given = [(k, previous.get(k, "") if use_previous else v, False)
                 for k, v, use_previous in self._given_parameters(params)]
        with self.store.lock:
            stack_set.body, stack_set.parameters = template.body, given
            stack_set.capabilities = capabilities
            for instance in stack_set.instances.values():
                instance["status"] = "OUTDATED"
        targets = list(stack_set.instances)
        return [("OperationId", self._run(ctx, stack_set, "UPDATE", params, self._update_instance,
                                          targets))]

    def delete_stack_set(self, params, ctx):
        stack_set = self._stack_set(params)
        with self.store.lock:
            if stack_set.instances:
                raise AwsError("StackSetNotEmptyException", "StackSet is not empty", 400)
            if any(o["status"] == "RUNNING" for o in stack_set.operations.values()):
                raise AwsError("OperationInProgressException", "Another Operation on StackSet "
                               f"{stack_set.stack_set_id} is in progress", 400)
            stack_set.status = "DELETED"
            del self._stack_sets()[stack_set.name]
        self.changed()
        return []

    # --- instances ---

    def _targets(self, params):
        ous = self._members(params, "DeploymentTargets.OrganizationalUnitIds")
        regions = self._members(params, "Regions")
        if self._members(params, "Accounts") or \
                self._members(params, "DeploymentTargets.Accounts"):
            raise validation("StackSets with SERVICE_MANAGED permissions deploy to "
                             "DeploymentTargets OrganizationalUnitIds")
        if not ous or not regions:
            raise validation("DeploymentTargets.OrganizationalUnitIds and Regions are required")
        accounts = self.organizations.member_accounts(ous)
        return ous, regions, accounts

    def create_stack_instances(self, params, ctx):
        stack_set = self._stack_set(params)
        self._check_management(ctx)
        ous, regions, accounts = self._targets(params)
        overrides = [(p.get("ParameterKey"), p.get("ParameterValue", ""),
                      p.get("UsePreviousValue") == "true")
                     for p in self._members(params, "ParameterOverrides")]
        with self.store.lock:
            for ou in ous:
                if ou not in stack_set.ous:
                    stack_set.ous.append(ou)
            targets = []
            for account, parent in accounts.items():
                for region in regions:
                    key = (account, region)
                    instance = stack_set.instances.setdefault(key, {
                        "account": account, "region": region, "stack_id": None,
                        "ou": next(ou for ou in ous if ou in
                                   self.organizations.ancestors(parent)),
                        "status": "OUTDATED", "detailed": "PENDING", "reason": None,
                        "overrides": [], "operation": None})
                    if overrides:
                        instance["overrides"] = overrides
                    targets.append(key)
        self.app = ctx.app
        return [("OperationId", self._run(ctx, stack_set, "CREATE", params,
                                          self._create_instance, targets))]

    def delete_stack_instances(self, params, ctx):
        stack_set = self._stack_set(params)
        self._check_management(ctx)
        if params.get("RetainStacks") not in ("true", "false"):
            raise validation("RetainStacks is required")
        ous, regions, accounts = self._targets(params)
        retain = params.get("RetainStacks") == "true"
        with self.store.lock:
            targets = [key for key in stack_set.instances
                       if key[0] in accounts and key[1] in regions]
        return [("OperationId", self._run(
            ctx, stack_set, "DELETE", params,
            lambda s, key, op: self._delete_instance(s, key, op, retain), targets,
            after=lambda: self._forget_ous(stack_set, ous)))]

    def _forget_ous(self, stack_set, ous):
        with self.store.lock:
            remaining = {i["ou"] for i in stack_set.instances.values()}
            stack_set.ous = [ou for ou in stack_set.ous if ou not in ous or ou in remaining]

    def list_stack_instances(self, params, ctx):
        stack_set = self._stack_set(params)
        with self.store.lock:
            return [("Summaries", [("member", [
                ("StackSetId", stack_set.stack_set_id), ("Region", i["region"]),
                ("Account", i["account"]), ("StackId", i["stack_id"]),
                ("Status", i["status"]), ("StatusReason", i["reason"]),
                ("StackInstanceStatus", [("DetailedStatus", i["detailed"])]),
                ("OrganizationalUnitId", i["ou"]), ("DriftStatus", "NOT_CHECKED"),
                ("LastOperationId", i["operation"])])
                for _, i in sorted(stack_set.instances.items())])]

    def describe_stack_set_operation(self, params, ctx):
        stack_set = self._stack_set(params)
        with self.store.lock:
            operation = stack_set.operations.get(params.get("OperationId", ""))
            if operation is None:
                raise AwsError("OperationNotFoundException", "The specified operation ID "
                               "does not exist", 400)
            pairs = [("OperationId", operation["id"]), ("StackSetId", stack_set.stack_set_id),
                     ("Action", operation["action"]), ("Status", operation["status"]),
                     ("StatusReason", operation.get("reason")),
                     ("CreationTimestamp", iso_millis(operation["created"]))]
            if operation.get("ended") is not None:
                pairs.append(("EndTimestamp", iso_millis(operation["ended"])))
            return [("StackSetOperation", pairs)]

    # --- running operations ---

    def _run(self, ctx, stack_set, action, params, work, targets, after=None):
        with self.store.lock:
            if any(o["status"] == "RUNNING" for o in stack_set.operations.values()):
                raise AwsError("OperationInProgressException", "Another Operation on StackSet "
                               f"{stack_set.stack_set_id} is in progress", 400)
            operation = {"id": params.get("OperationId") or str(uuid.uuid4()),
                         "action": action, "status": "RUNNING", "created": self.clock.now()}
            stack_set.operations[operation["id"]] = operation
            for key in targets:
                if key in stack_set.instances:
                    stack_set.instances[key]["detailed"] = "PENDING"
        self.changed()
        app = ctx.app

        def run():
            failed = 0
            for key in targets:
                try:
                    ok = work(stack_set, key, operation["id"])
                except Exception as error:  # a localaws bug must not leave it RUNNING
                    ok = False
                    with self.store.lock:
                        if key in stack_set.instances:
                            stack_set.instances[key]["reason"] = f"localaws: {error}"
                failed += not ok
            if after:
                after()
            with self.store.lock:
                operation["status"] = "FAILED" if failed else "SUCCEEDED"
                if failed:
                    operation["reason"] = f"{failed} of {len(targets)} stack instances failed"
                operation["ended"] = self.clock.now()
            self.changed()
        self.app = app
        thread = threading.Thread(target=run, name=f"stackset-{stack_set.name}", daemon=True)
        self.threads = [t for t in self.threads if t.is_alive()] + [thread]
        thread.start()
        return operation["id"]

    def _instance_values(self, stack_set, instance, template):
        given = dict((k, (v, p)) for k, v, p in stack_set.parameters)
        for key, value, use_previous in instance["overrides"]:
            given[key] = (value, use_previous)
        previous = None
        if instance["stack_id"]:
            previous = self.store.stacks[instance["stack_id"]].parameters
        return template.resolve_parameters([(k, v, p) for k, (v, p) in given.items()], previous)

    def _execution_caller(self, stack_set, account):
        """The StackSets execution role in the member account
        (stacksets-orgs-activate-trusted-access.html)."""
        role = "stacksets-exec-" + hashlib.md5(stack_set.stack_set_id.encode()).hexdigest()
        caller = dict(stack_set.caller)
        caller.update(arn=f"arn:aws:sts::{account}:assumed-role/{role}/{stack_set.name}",
                      user_id=f"AROASTACKSETSEXEC:{stack_set.name}", account=account,
                      access_key=None)
        return caller

    def _settle(self, stack, instance, operation_id, success):
        with self.store.lock:
            instance["operation"] = operation_id
            if stack.status == success:
                instance.update(status="CURRENT", detailed="SUCCEEDED", reason=None)
                return True
            instance.update(status="OUTDATED", detailed="FAILED",
                            reason=stack.reason or f"the stack ended in {stack.status}")
            return False

    def _create_instance(self, stack_set, key, operation_id):
        from .cloudformation import Stack, Template
        instance = stack_set.instances[key]
        if instance["stack_id"] is not None:
            stack = self.store.stacks[instance["stack_id"]]
            if stack.deleted is None and stack.status != "ROLLBACK_COMPLETE":
                return self._update_instance(stack_set, key, operation_id)
        template = Template(stack_set.body, self._spec())
        with self.store.lock:
            instance["detailed"] = "RUNNING"
        account, region = key
        try:
            stack = Stack(f"StackSet-{stack_set.name}-{uuid.uuid4()}", region, account)
            values = self._instance_values(stack_set, dict(instance, stack_id=None), template)
        except AwsError as error:
            with self.store.lock:
                instance.update(status="OUTDATED", detailed="FAILED", reason=error.message,
                                operation=operation_id)
            return False
        with self.store.lock:
            stack.created = self.clock.now()
            stack.body, stack.parameters = template.body, values
            stack.capabilities, stack.tags = stack_set.capabilities, stack_set.tags
            stack.caller = self._execution_caller(stack_set, account)
            self.store.stacks[stack.stack_id] = stack
            instance["stack_id"] = stack.stack_id
            self._stack_event(stack, "CREATE_IN_PROGRESS", "User Initiated")
        self._create(self.app, stack, template, "ROLLBACK")
        return self._settle(stack, instance, operation_id, "CREATE_COMPLETE")

    def _update_instance(self, stack_set, key, operation_id):
        from .cloudformation import Template
        instance = stack_set.instances[key]
        stack = self.store.stacks[instance["stack_id"]]
        template = Template(stack_set.body, self._spec())
        with self.store.lock:
            instance["detailed"] = "RUNNING"
        values = self._instance_values(stack_set, instance, template)
        if template.body == stack.body and values == stack.parameters:
            return self._settle(stack, instance, operation_id, stack.status)
        with self.store.lock:
            stack.caller = self._execution_caller(stack_set, key[0])
            self._stack_event(stack, "UPDATE_IN_PROGRESS", "User Initiated")
        self._update(self.app, stack, template, values, stack_set.capabilities, stack_set.tags)
        return self._settle(stack, instance, operation_id, "UPDATE_COMPLETE")

    def _delete_instance(self, stack_set, key, operation_id, retain):
        instance = stack_set.instances[key]
        stack = self.store.stacks.get(instance["stack_id"]) if instance["stack_id"] else None
        if stack is not None and stack.deleted is None and not retain:
            with self.store.lock:
                instance["detailed"] = "RUNNING"
                stack.caller = self._execution_caller(stack_set, key[0])
                self._stack_event(stack, "DELETE_IN_PROGRESS", "User Initiated")
            self._delete(self.app, stack, set())
            if stack.status != "DELETE_COMPLETE":
                return self._settle(stack, instance, operation_id, "DELETE_COMPLETE")
        with self.store.lock:
            del stack_set.instances[key]
        return True

    # --- automatic deployment ---

    def _account_joined(self, account, parent):
        """organizations.py: an account was created in or moved to parent."""
        chain = set(self.organizations.ancestors(parent))
        with self.store.lock:
            sets = [s for s in self._stack_sets().values()
                    if s.auto_deployment and s.status == "ACTIVE" and chain & set(s.ous)]
        for stack_set in sets:
            with self.store.lock:
                regions = sorted({r for _, r in stack_set.instances})
                ou = next(o for o in stack_set.ous if o in chain)
                targets = []
                for region in regions:
                    if (account, region) not in stack_set.instances:
                        stack_set.instances[(account, region)] = {
                            "account": account, "region": region, "stack_id": None, "ou": ou,
                            "status": "OUTDATED", "detailed": "PENDING", "reason": None,
                            "overrides": next((i["overrides"] for i in
                                               stack_set.instances.values()
                                               if i["region"] == region), []),
                            "operation": None}
                        targets.append((account, region))
            if targets:
                self._run_when_free(stack_set, targets)

    def _run_when_free(self, stack_set, targets):
        """Automatic deployment queues behind a running operation."""
        def wait_then_run():
            while True:
                with self.store.lock:
                    busy = any(o["status"] == "RUNNING" for o in stack_set.operations.values())
                if not busy:
                    break
                threading.Event().wait(0.1)
            ctx = type("AutoDeployment", (), {"app": self.app})()
            self._run(ctx, stack_set, "CREATE", {}, self._create_instance, targets)
        threading.Thread(target=wait_then_run, daemon=True).start()
