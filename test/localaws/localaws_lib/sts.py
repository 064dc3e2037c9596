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
MFA_CODE = re.compile(r"\d{6}")
MFA_SERIAL = re.compile(r"[\w+=/:,.@-]{9,256}")
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

    def __init__(self):
        self.mfa_codes = {}   # role ARN -> the one code its MFA device shows

    def require_mfa(self, body, query):
        """Control route POST /_localaws/sts/mfa {"role_arn", "code"}: the
        role's trust policy asks for aws:MultiFactorAuthPresent, and the
        device shows `code`."""
        self.mfa_codes[body["role_arn"]] = str(body["code"])
        return {"role_arn": body["role_arn"]}

    def _check_mfa(self, params):
        """SerialNumber and TokenCode as AssumeRole validates them
        (API_AssumeRole.html: TokenCode is 6 digits, with SerialNumber)."""
        serial, code = params.get("SerialNumber"), params.get("TokenCode")
        if code is not None and not MFA_CODE.fullmatch(code):
            raise validation_error(
                f"1 validation error detected: Value '{code}' at 'tokenCode' failed to satisfy "
                "constraint: Member must satisfy regular expression pattern: [\\d]*")
        if code is not None and not serial:
            raise validation_error("SerialNumber is required with TokenCode")
        if serial is not None and not MFA_SERIAL.fullmatch(serial):
            raise validation_error(f"{serial} is not a valid MFA device serial number")
        wanted = self.mfa_codes.get(params.get("RoleArn", ""))
        if wanted is None:
            return
        if code is None:
            raise AwsError("AccessDenied", "User is not authorized to perform: sts:AssumeRole "
                           f"on resource: {params.get('RoleArn', '')}", 403)
        if code != wanted:
            raise AwsError("AccessDenied", "MultiFactorAuthentication failed with invalid MFA "
                           "one time pass code. ", 403)

    def assume_role(self, params, ctx):
        self._check_mfa(params)
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
