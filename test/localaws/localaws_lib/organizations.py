"""AWS Organizations (JSON 1.1): one organization whose management account is
localaws' own account (LOCALAWS_ACCOUNT), with organizational units and
member accounts, as far as StackSets with service-managed permissions need
them.

API reference: https://docs.aws.amazon.com/organizations/latest/APIReference/API_Operations.html
Operations: CreateOrganization, DescribeOrganization, ListRoots,
CreateOrganizationalUnit, ListOrganizationalUnitsForParent, CreateAccount
(done at once: its status is SUCCEEDED in the answer),
DescribeCreateAccountStatus, MoveAccount, ListAccounts,
ListAccountsForParent, ListChildren, DescribeAccount.

A member account is a namespace of localaws (auth.py, ssm.py,
eventbridge.py): requests signed with credentials of a role in it (STS
AssumeRole of arn:aws:iam::MEMBER:role/OrganizationAccountAccessRole, the
role Organizations creates in every account it creates) act in it.
Listeners (StackSets' automatic deployment) hear when an account joins an
organizational unit.
"""
import secrets
import string
import threading

from .errors import AwsError
from .protocols import JSON_AUTH_ERRORS, JsonService, Timestamp

ALNUM = string.ascii_lowercase + string.digits


def random_id(length, alphabet=ALNUM):
    return "".join(secrets.choice(alphabet) for _ in range(length))


def not_in_use():
    return AwsError("AWSOrganizationsNotInUseException",
                    "Your account is not a member of an organization.", 400)


def parent_not_found():
    return AwsError("ParentNotFoundException",
                    "We can't find a root or OU with the ParentId that you specified.", 400)


class Organization:
    def __init__(self, management_account):
        self.id = "o-" + random_id(10)
        self.management = management_account
        self.arn = f"arn:aws:organizations::{management_account}:organization/{self.id}"
        self.root = "r-" + random_id(4)
        self.parents = {self.root: None}        # root or OU id -> parent id
        self.names = {self.root: "Root"}
        self.accounts = {management_account: {
            "Name": "management", "Email": "management@localaws.invalid",
            "JoinedMethod": "CREATED", "Parent": self.root, "Joined": 0}}
        self.create_requests = {}

    def arn_of(self, node):
        if node == self.root:
            return f"arn:aws:organizations::{self.management}:root/{self.id}/{node}"
        if node in self.parents:
            return f"arn:aws:organizations::{self.management}:ou/{self.id}/{node}"
        return f"arn:aws:organizations::{self.management}:account/{self.id}/{node}"

    def descendants(self, node):
        """node and every OU below it."""
        found = [node]
        for child, parent in self.parents.items():
            if parent == node:
                found += self.descendants(child)
        return found

    def accounts_under(self, node):
        nodes = set(self.descendants(node))
        return sorted(a for a, info in self.accounts.items() if info["Parent"] in nodes)


class OrganizationsService(JsonService):
    name = signing_name = "organizations"
    target_prefixes = ("AWSOrganizationsV20161128",)
    AUTH_ERRORS = JSON_AUTH_ERRORS
    operations = {
        "CreateOrganization": "create_organization",
        "DescribeOrganization": "describe_organization", "ListRoots": "list_roots",
        "CreateOrganizationalUnit": "create_organizational_unit",
        "ListOrganizationalUnitsForParent": "list_organizational_units_for_parent",
        "CreateAccount": "create_account",
        "DescribeCreateAccountStatus": "describe_create_account_status",
        "MoveAccount": "move_account", "ListAccounts": "list_accounts",
        "ListAccountsForParent": "list_accounts_for_parent", "ListChildren": "list_children",
        "DescribeAccount": "describe_account",
    }
    required = {"CreateOrganizationalUnit": ("ParentId", "Name"),
                "ListOrganizationalUnitsForParent": ("ParentId",),
                "CreateAccount": ("Email", "AccountName"),
                "MoveAccount": ("AccountId", "SourceParentId", "DestinationParentId"),
                "ListAccountsForParent": ("ParentId",), "ListChildren": ("ParentId", "ChildType"),
                "DescribeAccount": ("AccountId",)}

    def __init__(self, clock, account):
        self.clock = clock
        self.account = account
        self.lock = threading.RLock()
        self.organization = None
        self.listeners = []      # callback(account id, parent id) when an account joins a parent

    # --- for the other services ---

    def member_accounts(self, parent_ids):
        """{account: parent id} of the accounts in these roots/OUs (and the OUs
        below them), the management account excepted, as service-managed
        StackSets deploy (stacksets-orgs-manage-auto-deployment.html)."""
        with self.lock:
            org = self._org()
            found = {}
            for parent in parent_ids:
                if parent not in org.parents:
                    raise AwsError("ValidationError", f"OrganizationalUnitIds [{parent}] do not "
                                   "exist in the organization", 400)
                for account in org.accounts_under(parent):
                    if account != org.management:
                        found[account] = org.accounts[account]["Parent"]
            return found

    def ancestors(self, node):
        with self.lock:
            org = self._org()
            chain = []
            while node is not None:
                chain.append(node)
                node = org.parents.get(node)
            return chain

    def organization_id(self):
        with self.lock:
            return self._org().id

    # --- operations ---

    def _org(self):
        if self.organization is None:
            raise not_in_use()
        return self.organization

    def _shape(self):
        org = self._org()
        return {"Id": org.id, "Arn": org.arn, "FeatureSet": "ALL",
                "MasterAccountArn": f"arn:aws:organizations::{org.management}:account/"
                                    f"{org.id}/{org.management}",
                "MasterAccountId": org.management,
                "MasterAccountEmail": org.accounts[org.management]["Email"],
                "AvailablePolicyTypes": []}

    def _management_only(self, ctx):
        if ctx.account != self._org().management:
            raise AwsError("AccessDeniedException", "You don't have permissions to access this "
                           "resource.", 400)

    def create_organization(self, params, ctx):
        with self.lock:
            if self.organization is not None:
                raise AwsError("AlreadyInOrganizationException", "The AWS account is already a "
                               "member of an organization.", 400)
            self.organization = Organization(ctx.account)
            self.organization.accounts[ctx.account]["Joined"] = self.clock.now()
            return {"Organization": self._shape()}

    def describe_organization(self, params, ctx):
        with self.lock:
            org = self._org()
            if ctx.account not in org.accounts:
                raise not_in_use()
            return {"Organization": self._shape()}

    def list_roots(self, params, ctx):
        with self.lock:
            org = self._org()
            self._management_only(ctx)
            return {"Roots": [{"Id": org.root, "Arn": org.arn_of(org.root), "Name": "Root",
                               "PolicyTypes": []}]}

    def _ou_shape(self, org, ou):
        return {"Id": ou, "Arn": org.arn_of(ou), "Name": org.names[ou]}

    def create_organizational_unit(self, params, ctx):
        with self.lock:
            org = self._org()
            self._management_only(ctx)
            parent = params["ParentId"]
            if parent not in org.parents:
                raise parent_not_found()
            ou = f"ou-{org.root[2:]}-{random_id(8)}"
            org.parents[ou], org.names[ou] = parent, params["Name"]
            return {"OrganizationalUnit": self._ou_shape(org, ou)}

    def list_organizational_units_for_parent(self, params, ctx):
        with self.lock:
            org = self._org()
            self._management_only(ctx)
            if params["ParentId"] not in org.parents:
                raise parent_not_found()
            return {"OrganizationalUnits": [self._ou_shape(org, ou) for ou, parent in
                                            org.parents.items() if parent == params["ParentId"]]}

    def _account_shape(self, org, account):
        info = org.accounts[account]
        return {"Id": account, "Arn": org.arn_of(account), "Email": info["Email"],
                "Name": info["Name"], "Status": "ACTIVE", "JoinedMethod": info["JoinedMethod"],
                "JoinedTimestamp": Timestamp(info["Joined"])}

    def create_account(self, params, ctx):
        with self.lock:
            org = self._org()
            self._management_only(ctx)
            account = random_id(12, string.digits)
            org.accounts[account] = {"Name": params["AccountName"], "Email": params["Email"],
                                     "JoinedMethod": "CREATED", "Parent": org.root,
                                     "Joined": self.clock.now()}
            request_id = "car-" + random_id(32)
            status = {"Id": request_id, "AccountName": params["AccountName"],
                      "State": "SUCCEEDED", "AccountId": account,
                      "RequestedTimestamp": Timestamp(self.clock.now()),
                      "CompletedTimestamp": Timestamp(self.clock.now())}
            org.create_requests[request_id] = status
        self._joined(account, org.root)
        return {"CreateAccountStatus": status}

    def describe_create_account_status(self, params, ctx):
        with self.lock:
            status = self._org().create_requests.get(params.get("CreateAccountRequestId"))
            if status is None:
                raise AwsError("CreateAccountStatusNotFoundException", "We can't find an create "
                               "account request with the CreateAccountRequestId that you "
                               "specified.", 400)
            return {"CreateAccountStatus": status}

    def move_account(self, params, ctx):
        account, source, destination = (params["AccountId"], params["SourceParentId"],
                                        params["DestinationParentId"])
        with self.lock:
            org = self._org()
            self._management_only(ctx)
            if account not in org.accounts:
                raise AwsError("AccountNotFoundException", "You specified an account that "
                               "doesn't exist.", 400)
            if destination not in org.parents:
                raise AwsError("DestinationParentNotFoundException", "We can't find the "
                               "destination container (a root or OU) with the ParentId that "
                               "you specified.", 400)
            if org.accounts[account]["Parent"] != source:
                raise AwsError("SourceParentNotFoundException", "We can't find a source root or "
                               "OU with the ParentId that you specified.", 400)
            org.accounts[account]["Parent"] = destination
        self._joined(account, destination)
        return {}

    def _joined(self, account, parent):
        for listener in list(self.listeners):
            listener(account, parent)

    def list_accounts(self, params, ctx):
        with self.lock:
            org = self._org()
            self._management_only(ctx)
            return {"Accounts": [self._account_shape(org, a) for a in sorted(org.accounts)]}

    def list_accounts_for_parent(self, params, ctx):
        with self.lock:
            org = self._org()
            self._management_only(ctx)
            if params["ParentId"] not in org.parents:
                raise parent_not_found()
            return {"Accounts": [self._account_shape(org, a) for a, info in
                                 sorted(org.accounts.items())
                                 if info["Parent"] == params["ParentId"]]}

    def list_children(self, params, ctx):
        with self.lock:
            org = self._org()
            self._management_only(ctx)
            parent, kind = params["ParentId"], params["ChildType"]
            if parent not in org.parents:
                raise parent_not_found()
            if kind == "ACCOUNT":
                ids = [a for a, info in sorted(org.accounts.items()) if info["Parent"] == parent]
            elif kind == "ORGANIZATIONAL_UNIT":
                ids = [ou for ou, p in org.parents.items() if p == parent]
            else:
                raise AwsError("InvalidInputException", "You provided a value that does not "
                               "match the required pattern.", 400)
            return {"Children": [{"Id": i, "Type": kind} for i in ids]}

    def describe_account(self, params, ctx):
        with self.lock:
            org = self._org()
            if params["AccountId"] not in org.accounts:
                raise AwsError("AccountNotFoundException", "You specified an account that "
                               "doesn't exist.", 400)
            return {"Account": self._account_shape(org, params["AccountId"])}
