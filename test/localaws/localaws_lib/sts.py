"""STS (query API, XML): GetCallerIdentity, AssumeRole, AssumeRoleWithWebIdentity.

API reference: https://docs.aws.amazon.com/STS/latest/APIReference/welcome.html
Issued credentials are accepted by every service until their Expiration
(emulator clock), then refused with the service's ExpiredToken error.
"""
import re
import secrets
import string

from .errors import AwsError
from .protocols import QUERY_AUTH_ERRORS, QueryService

NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
# https://docs.aws.amazon.com/STS/latest/APIReference/API_AssumeRole.html
ROLE_ARN = re.compile(r"arn:aws[\w-]*:iam::(\d{12}):role/((?:[\w+=,.@-]+/)*)([\w+=,.@-]{1,64})")
SESSION_NAME = re.compile(r"[\w+=,.@-]{2,64}")
MIN_DURATION, MAX_DURATION, DEFAULT_DURATION = 900, 43200, 3600


def validation_error(message):
    return AwsError("ValidationError", message, 400)


def role_id():
    return "AROA" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(17))


class StsService(QueryService):
    name = signing_name = "sts"
    namespace = NAMESPACE
    AUTH_ERRORS = QUERY_AUTH_ERRORS
    actions = {
        "GetCallerIdentity": "get_caller_identity",
        "AssumeRole": "assume_role",
        "AssumeRoleWithWebIdentity": "assume_role_with_web_identity",
    }
    query_actions = tuple(actions)
    # AssumeRoleWithWebIdentity is called without AWS credentials: the web
    # identity token is the credential.
    unsigned_operations = frozenset({"AssumeRoleWithWebIdentity"})

    def get_caller_identity(self, params, ctx):
        principal = ctx.principal
        return [("Arn", principal.arn), ("UserId", principal.user_id),
                ("Account", principal.account)]

    def assume_role(self, params, ctx):
        credentials, user = self._issue(params, ctx)
        return [("Credentials", credentials), ("AssumedRoleUser", user),
                ("PackedPolicySize", None)]

    def assume_role_with_web_identity(self, params, ctx):
        token = params.get("WebIdentityToken", "")
        if not token:
            raise validation_error("1 validation error detected: Value null at 'webIdentityToken' "
                                   "failed to satisfy constraint: Member must not be null")
        if token == "invalid":
            raise AwsError("InvalidIdentityToken", "Couldn't retrieve verification key from your "
                           "identity provider,  please reference AssumeRoleWithWebIdentity "
                           "documentation for requirements", 400)
        credentials, user = self._issue(params, ctx)
        return [("Credentials", credentials),
                ("SubjectFromWebIdentityToken", "localaws-subject"),
                ("AssumedRoleUser", user),
                ("Provider", params.get("ProviderId") or "localaws"),
                ("Audience", "localaws")]

    def _issue(self, params, ctx):
        role_arn = params.get("RoleArn", "")
        session = params.get("RoleSessionName", "")
        match = ROLE_ARN.fullmatch(role_arn)
        if not match:
            raise validation_error(f"{role_arn} is invalid")
        if not SESSION_NAME.fullmatch(session):
            raise validation_error(
                f"1 validation error detected: Value '{session}' at 'roleSessionName' failed to "
                "satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*")
        duration = self._duration(params)
        account, role_name = match.group(1), match.group(3)
        assumed_arn = f"arn:aws:sts::{account}:assumed-role/{role_name}/{session}"
        assumed_id = f"{role_id()}:{session}"
        issued = ctx.credentials.issue(assumed_arn, assumed_id, duration)
        credentials = [(key, issued[key]) for key in
                       ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")]
        return credentials, [("AssumedRoleId", assumed_id), ("Arn", assumed_arn)]

    @staticmethod
    def _duration(params):
        raw = params.get("DurationSeconds")
        if raw in (None, ""):
            return DEFAULT_DURATION
        duration = int(raw)
        if duration < MIN_DURATION:
            raise validation_error(
                f"1 validation error detected: Value '{duration}' at 'durationSeconds' failed to "
                f"satisfy constraint: Member must have value greater than or equal to {MIN_DURATION}")
        if duration > MAX_DURATION:
            raise validation_error(
                f"1 validation error detected: Value '{duration}' at 'durationSeconds' failed to "
                f"satisfy constraint: Member must have value less than or equal to {MAX_DURATION}")
        return duration
