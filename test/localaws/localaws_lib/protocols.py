"""What every service has, and the two generic AWS wire protocols.

A service declares how it is reached (see server.Router): its signing name
(the credential scope's service), the X-Amz-Target prefixes it answers, and
the query-API actions it answers. It names the operation of a request,
dispatches it, and renders errors its protocol's way.

JSON 1.1 (SSM): https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html
Query (STS):    https://smithy.io/2.0/aws/protocols/aws-query-protocol.html
"""
import decimal
import json
import uuid

from .errors import AwsError
from .server import Response
from .xmlutil import document


class Service:
    name = None                 # counters key; also the default signing name
    signing_name = None
    target_prefixes = ()        # X-Amz-Target prefixes (JSON protocols)
    query_actions = ()          # Action values (query protocol)
    unsigned_operations = frozenset()
    # kind of AuthFailure -> (code, HTTP status, message); see auth.py.
    AUTH_ERRORS = {}
    SKEW_ERROR = None  # (code, HTTP status) for a request outside 15 minutes

    def operation_name(self, request):
        raise NotImplementedError

    def dispatch(self, request, operation, ctx):
        raise NotImplementedError

    def render_error(self, request, ctx, error):
        raise NotImplementedError

    def throttle_error(self):
        raise NotImplementedError

    def internal_error(self):
        raise NotImplementedError

    def auth_error(self, failure, request, ctx):
        if failure.kind == "skew":
            code, status = self.SKEW_ERROR
            return AwsError(code, skew_message(failure.details), status)
        code, status, message = self.AUTH_ERRORS.get(
            failure.kind, self.AUTH_ERRORS["signature"])
        return AwsError(code, message.format(**failure.details), status)


def new_request_id():
    return str(uuid.uuid4())


class Timestamp:
    """An epoch time for a JSON response, written as AWS writes it.

    AWS's JSON services print timestamps the way Java prints a double:
    `1.718243666351E9`, not `1718243666.351`. Clients must read both
    (https://smithy.io/2.0/aws/protocols/aws-json-1_1-protocol.html: epoch
    seconds, a JSON number), so the emulator sends the form that shows
    up a parser that only expects plain decimals.
    """

    __slots__ = ("epoch",)

    def __init__(self, epoch):
        self.epoch = epoch


def java_double(value):
    """Java's Double.toString: decimal in [1e-3, 1e7), else d.dddE<n>."""
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        return repr(float(value))
    number = decimal.Decimal(repr(float(value))).normalize()
    sign, digits, _ = number.as_tuple()
    text = "".join(map(str, digits))
    mantissa = text[0] + "." + (text[1:] or "0")
    return f"{'-' if sign else ''}{mantissa}E{number.adjusted()}"


def encode_json(payload):
    """json.dumps, with Timestamp values written as Java doubles."""
    replacements = {}

    def default(value):
        if isinstance(value, Timestamp):
            token = f"\x00timestamp{len(replacements)}\x00"
            replacements[json.dumps(token)] = java_double(value.epoch)
            return token
        raise TypeError(f"cannot encode {type(value).__name__}")

    text = json.dumps(payload, default=default)
    for token, number in replacements.items():
        text = text.replace(token, number)
    return text.encode("utf-8")


class JsonService(Service):
    """awsJson1_1: POST /, X-Amz-Target: Prefix.Operation, JSON in and out."""

    content_type = "application/x-amz-json-1.1"
    SKEW_ERROR = ("InvalidSignatureException", 400)
    operations = {}   # operation name -> method name
    required = {}     # operation name -> members that must be present

    def operation_name(self, request):
        target = request.header("x-amz-target") or ""
        return target.partition(".")[2] or "Unknown"

    def dispatch(self, request, operation, ctx):
        method = self.operations.get(operation)
        if method is None:
            raise AwsError("UnknownOperationException", "", 400)
        try:
            params = json.loads(request.body or b"{}")
        except ValueError:
            raise AwsError("SerializationException", "Start of structure or map found where not expected.")
        if not isinstance(params, dict):
            raise AwsError("SerializationException", "Start of structure or map found where not expected.")
        self._check_required(operation, params)
        result = getattr(self, method)(params, ctx)
        return self.json_response(ctx, 200, result)

    def _check_required(self, operation, params):
        """AWS's model validation message for missing required members."""
        missing = [m for m in self.required.get(operation, ()) if params.get(m) is None]
        if missing:
            details = "; ".join(f"Value null at '{m[0].lower() + m[1:]}' failed to satisfy "
                                "constraint: Member must not be null" for m in missing)
            count = len(missing)
            raise AwsError("ValidationException",
                           f"{count} validation error{'s' if count > 1 else ''} detected: {details}")

    def json_response(self, ctx, status, payload):
        return Response(status, [("Content-Type", self.content_type),
                                 ("x-amzn-RequestId", ctx.request_id)],
                        encode_json(payload))

    def render_error(self, request, ctx, error):
        payload = {"__type": error.code}
        if error.message:
            payload["message"] = error.message
        response = self.json_response(ctx, error.status, payload)
        response.headers.extend(error.headers.items())
        return response

    def throttle_error(self):
        return AwsError("ThrottlingException", "Rate exceeded", 400)

    def internal_error(self):
        return AwsError("InternalServerError", "An internal error occurred.", 500, sender=False)


# Auth failures as the JSON services answer them: the codes are AWS's common
# errors (https://docs.aws.amazon.com/systems-manager/latest/APIReference/CommonErrors.html);
# a bad signature is a 400 `{"__type":"InvalidSignatureException","message":...}`
# as clients report it (e.g. https://github.com/smithy545/aws-apps-scripts/issues/12,
# https://github.com/teralytics/prometheus-ecs-discovery/issues/7).
JSON_AUTH_ERRORS = {
    "missing": ("MissingAuthenticationTokenException", 400, "Missing Authentication Token"),
    "malformed": ("IncompleteSignatureException", 400,
                  "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters."),
    "missing_date": ("IncompleteSignatureException", 400,
                     "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."),
    "unknown_key": ("UnrecognizedClientException", 400, "The security token included in the request is invalid."),
    "bad_token": ("UnrecognizedClientException", 400, "The security token included in the request is invalid."),
    "expired_token": ("ExpiredTokenException", 400, "The security token included in the request is expired"),
    "scope_date": ("InvalidSignatureException", 400,
                   "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                   "'{scope_date}' != '{stamp:.8}', from '{stamp}'."),
    "scope_service": ("InvalidSignatureException", 400,
                      "Credential should be scoped to correct service: '{expected}'. "),
    "signature": ("InvalidSignatureException", 400,
                  "The request signature we calculated does not match the signature you provided. "
                  "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."),
}


def skew_message(details):
    """The JSON/query services' text for a request outside the 15 min window."""
    from .clock import amz_date
    stamp, now = details["stamp"], details["server_time"]
    if details["early"]:
        return (f"Signature expired: {stamp} is now earlier than {amz_date(now - 900)} "
                f"({amz_date(now)} - 15 min.)")
    return (f"Signature not yet current: {stamp} is still later than {amz_date(now + 900)} "
            f"({amz_date(now)} + 15 min.)")


class QueryService(Service):
    """awsQuery: form-encoded Action=...&Version=..., XML responses."""

    namespace = None
    SKEW_ERROR = ("SignatureDoesNotMatch", 403)
    actions = {}      # Action -> method name

    def operation_name(self, request):
        return request.action or "Unknown"

    def dispatch(self, request, operation, ctx):
        method = self.actions.get(operation)
        if method is None:
            raise AwsError("InvalidAction", f"Could not find operation {operation} for version "
                           f"{request.params.get('Version', '')}", 400)
        result_pairs = getattr(self, method)(request.params, ctx)
        body = document(f"{operation}Response", [
            (f"{operation}Result", result_pairs),
            ("ResponseMetadata", [("RequestId", ctx.request_id)]),
        ], self.namespace)
        return Response(200, [("Content-Type", "text/xml"),
                              ("x-amzn-RequestId", ctx.request_id)], body)

    def render_error(self, request, ctx, error):
        body = document("ErrorResponse", [
            ("Error", [("Type", "Sender" if error.sender else "Receiver"),
                       ("Code", error.code), ("Message", error.message)]),
            ("RequestId", ctx.request_id),
        ], self.namespace)
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", ctx.request_id)]
        headers.extend(error.headers.items())
        return Response(error.status, headers, body)

    def throttle_error(self):
        # Query services (STS, CloudFormation) answer "Throttling"; botocore
        # retries it like ThrottlingException.
        return AwsError("Throttling", "Rate exceeded", 400)

    def internal_error(self):
        return AwsError("InternalFailure", "The request processing has failed because of an "
                        "unknown error, exception or failure.", 500, sender=False)


QUERY_AUTH_ERRORS = {
    "missing": ("MissingAuthenticationToken", 403, "Request is missing Authentication Token"),
    "malformed": ("IncompleteSignature", 400,
                  "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters."),
    "missing_date": ("IncompleteSignature", 400,
                     "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."),
    "unknown_key": ("InvalidClientTokenId", 403, "The security token included in the request is invalid."),
    "bad_token": ("InvalidClientTokenId", 403, "The security token included in the request is invalid."),
    "expired_token": ("ExpiredToken", 403, "The security token included in the request is expired"),
    "scope_date": ("SignatureDoesNotMatch", 403,
                   "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
                   "'{scope_date}' != '{stamp:.8}', from '{stamp}'."),
    "scope_service": ("SignatureDoesNotMatch", 403,
                      "Credential should be scoped to correct service: '{expected}'. "),
    "signature": ("SignatureDoesNotMatch", 403,
                  "The request signature we calculated does not match the signature you provided. "
                  "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."),
}
