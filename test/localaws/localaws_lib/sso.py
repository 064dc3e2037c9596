"""IAM Identity Center: the SSO portal's GetRoleCredentials and SSO OIDC's
RegisterClient and CreateToken (refresh_token grant), both restJson1 and
unsigned: the bearer token (portal) or the client secret (OIDC) is the
credential.

Portal:  https://docs.aws.amazon.com/singlesignon/latest/PortalAPIReference/API_GetRoleCredentials.html
OIDC:    https://docs.aws.amazon.com/singlesignon/latest/OIDCAPIReference/API_CreateToken.html

`aws sso login` (a browser and a device code) is played by the control
route POST /_localaws/sso/login {"expires_in": S?}, which answers what
the CLI writes to its token cache: accessToken, expiresAt, refreshToken,
clientId, clientSecret, registrationExpiresAt.
"""
import json
import re
import secrets
import threading

from .clock import iso_seconds
from .errors import AwsError
from .protocols import Service
from .server import Response

ACCOUNT_ID = re.compile(r"\d{12}")
TOKEN_SECONDS = 3600
REGISTRATION_SECONDS = 90 * 86400


def portal_unauthorized():
    return AwsError("UnauthorizedException", "Session token not found or invalid", 401)


class SsoStore:
    """Access tokens, refresh tokens and registered clients, on the emulator clock."""

    def __init__(self, clock):
        self.clock = clock
        self._lock = threading.Lock()
        self.access = {}     # access token -> expiry (epoch)
        self.refresh = {}    # refresh token -> client id
        self.clients = {}    # client id -> (secret, expiry)

    def register(self, name):
        client_id, secret = "client-" + secrets.token_urlsafe(12), secrets.token_urlsafe(32)
        expires = self.clock.now() + REGISTRATION_SECONDS
        with self._lock:
            self.clients[client_id] = (secret, expires)
        return client_id, secret, expires

    def issue(self, client_id, seconds=TOKEN_SECONDS):
        access, refresh = "aoa" + secrets.token_urlsafe(40), "aor" + secrets.token_urlsafe(40)
        with self._lock:
            self.access[access] = self.clock.now() + seconds
            self.refresh[refresh] = client_id
        return access, refresh

    def valid_access(self, token):
        with self._lock:
            expiry = self.access.get(token)
        return expiry is not None and self.clock.now() < expiry

    def client_ok(self, client_id, secret):
        with self._lock:
            known = self.clients.get(client_id)
        return known is not None and secrets.compare_digest(known[0], secret or "") and \
            self.clock.now() < known[1]

    def take_refresh(self, token, client_id):
        """A refresh token is used once: CreateToken answers a new one."""
        with self._lock:
            if self.refresh.get(token) != client_id:
                return False
            del self.refresh[token]
            return True

    def login(self, body, query):
        """Control route: what `aws sso login` leaves in the token cache."""
        client_id, secret, registration = self.register("localaws-login")
        seconds = int(body.get("expires_in", TOKEN_SECONDS))
        access, refresh = self.issue(client_id, seconds)
        return {"accessToken": access, "expiresAt": iso_seconds(self.clock.now() + seconds),
                "refreshToken": refresh, "clientId": client_id, "clientSecret": secret,
                "registrationExpiresAt": iso_seconds(registration)}


class RestJsonService(Service):
    """restJson1 without SigV4: errors as x-amzn-ErrorType plus a JSON body."""

    routes = {}   # (method, path) -> operation

    def claims(self, request):
        """Its paths, unsigned: a signed `POST /token` is S3's bucket `token`."""
        return (request.method, request.path) in self.routes and \
            request.header("authorization") is None and "X-Amz-Signature" not in request.query

    def operation_name(self, request):
        return self.routes.get((request.method, request.path), "Unknown")

    def json_response(self, ctx, status, payload, headers=()):
        return Response(status, [("Content-Type", "application/json"),
                                 ("x-amzn-RequestId", ctx.request_id), *headers],
                        json.dumps(payload).encode("utf-8"))

    def render_error(self, request, ctx, error):
        return self.json_response(ctx, error.status, self.error_body(error),
                                  [("x-amzn-ErrorType", error.code), *error.headers.items()])

    def error_body(self, error):
        return {"message": error.message}

    def throttle_error(self):
        return AwsError("TooManyRequestsException", "Rate exceeded", 429)

    def internal_error(self):
        return AwsError("InternalServerException", "An internal error occurred.", 500, sender=False)

    def dispatch(self, request, operation, ctx):
        method = getattr(self, self.operations[operation])
        return self.json_response(ctx, 200, method(request, ctx))


class SsoPortalService(RestJsonService):
    name = "sso"
    signing_name = "awsssoportal"
    routes = {("GET", "/federation/credentials"): "GetRoleCredentials"}
    operations = {"GetRoleCredentials": "get_role_credentials"}
    unsigned_operations = frozenset(operations)

    def __init__(self, store):
        self.store = store

    def get_role_credentials(self, request, ctx):
        token = request.header("x-amz-sso_bearer_token")
        if not token or not self.store.valid_access(token):
            raise portal_unauthorized()
        account = request.params.get("account_id", "")
        role = request.params.get("role_name", "")
        if not ACCOUNT_ID.fullmatch(account) or not role:
            raise AwsError("InvalidRequestException", "Invalid account_id or role_name", 400)
        session = "localaws-sso-user"
        arn = f"arn:aws:sts::{account}:assumed-role/AWSReservedSSO_{role}/{session}"
        issued = ctx.credentials.issue(arn, f"AROASSO:{session}", TOKEN_SECONDS)
        expiration_ms = int((ctx.clock.now() + TOKEN_SECONDS) * 1000)
        return {"roleCredentials": {
            "accessKeyId": issued["AccessKeyId"], "secretAccessKey": issued["SecretAccessKey"],
            "sessionToken": issued["SessionToken"], "expiration": expiration_ms}}


class SsoOidcService(RestJsonService):
    name = "sso-oidc"
    signing_name = "sso-oauth"
    routes = {("POST", "/token"): "CreateToken", ("POST", "/client/register"): "RegisterClient"}
    operations = {"CreateToken": "create_token", "RegisterClient": "register_client"}
    unsigned_operations = frozenset(operations)

    def __init__(self, store):
        self.store = store

    def error_body(self, error):
        # OAuth 2.0's error members (RFC 6749 section 5.2), as SSO OIDC sends them.
        return {"error": error.fields.get("error", "invalid_request"),
                "error_description": error.message}

    @staticmethod
    def _params(request):
        try:
            params = json.loads(request.body or b"{}")
        except ValueError:
            params = None
        if not isinstance(params, dict):
            raise AwsError("InvalidRequestException", "Malformed request body", 400)
        return params

    def register_client(self, request, ctx):
        params = self._params(request)
        if not params.get("clientName") or params.get("clientType") != "public":
            raise AwsError("InvalidRequestException", "clientName and clientType public are required",
                           400, fields={"error": "invalid_request"})
        client_id, secret, expires = self.store.register(params["clientName"])
        return {"clientId": client_id, "clientSecret": secret,
                "clientIdIssuedAt": int(ctx.clock.now()), "clientSecretExpiresAt": int(expires)}

    def create_token(self, request, ctx):
        params = self._params(request)
        if params.get("grantType") != "refresh_token":
            raise AwsError("UnsupportedGrantTypeException", "Unsupported grant type", 400,
                           fields={"error": "unsupported_grant_type"})
        client_id = params.get("clientId")
        if not self.store.client_ok(client_id, params.get("clientSecret")):
            raise AwsError("InvalidClientException", "Invalid client provided", 401,
                           fields={"error": "invalid_client"})
        if not self.store.take_refresh(params.get("refreshToken") or "", client_id):
            raise AwsError("InvalidGrantException", "Invalid refresh token provided", 400,
                           fields={"error": "invalid_grant"})
        access, refresh = self.store.issue(client_id)
        return {"accessToken": access, "tokenType": "Bearer", "expiresIn": TOKEN_SECONDS,
                "refreshToken": refresh}
