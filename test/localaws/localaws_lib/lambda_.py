"""Lambda (REST-JSON, /2015-03-31/..., signing name `lambda`): functions
from a zip, run for real (lambda_sandbox), and event source mappings from
SQS (lambda_esm).

API reference: https://docs.aws.amazon.com/lambda/latest/api/API_Operations.html
Quotas:        https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html

Only OS-only runtimes run (provided.al2023, provided.al2): the zip's
`bootstrap` is the process. Functions, their processes and mappings live
in memory; localaws stopping stops every process it started.
"""
import base64
import hashlib
import json
import logging
import re
import secrets
import string
import threading
import time
import urllib.parse
import uuid

from .errors import AwsError
from .lambda_esm import Mapping
from .lambda_sandbox import Runner, log_tail
from .protocols import JSON_AUTH_ERRORS, Service, Timestamp, encode_json
from .server import Response

log = logging.getLogger("localaws.lambda")

API = "/2015-03-31"
RUNTIMES = ("provided.al2023", "provided.al2")
DEPRECATED_RUNTIMES = ("provided", "go1.x", "python2.7", "python3.6", "nodejs12.x")
ARCHITECTURES = ("x86_64", "arm64")
FUNCTION_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
FUNCTION_REF = re.compile(
    r"(?:arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z]{2}(?:-gov)?-[a-z]+-\d):(?P<account>\d{12}):"
    r"function:|(?P<account2>\d{12}):function:)?(?P<name>[a-zA-Z0-9_-]{1,64})"
    r"(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9_-]{1,128}))?")
ROLE_ARN = re.compile(r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?(?P<path>[a-zA-Z_0-9+=,.@\-/]*/)?"
                      r"(?P<name>[a-zA-Z_0-9+=,.@\-]+)")
ENV_KEY = re.compile(r"[a-zA-Z]([a-zA-Z0-9_])+")
# Set by Lambda, refused in a function's configuration
# (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime).
RESERVED_VARIABLES = ("_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION",
                      "AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME",
                      "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
                      "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME",
                      "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID",
                      "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_LAMBDA_RUNTIME_API",
                      "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR")
MAX_ENVIRONMENT_BYTES = 4096
MAX_ZIP_BYTES = 50 * 1024 * 1024          # direct upload
MAX_UNZIPPED_BYTES = 250 * 1024 * 1024
MAX_SYNC_PAYLOAD = 6 * 1024 * 1024
MAX_ASYNC_PAYLOAD = 256 * 1024

ROUTES = [(method, re.compile(API + pattern), operation) for method, pattern, operation in [
    ("POST", r"/functions/?", "CreateFunction"),
    ("GET", r"/functions/?", "ListFunctions"),
    ("GET", r"/functions/(?P<name>[^/]+)/?", "GetFunction"),
    ("DELETE", r"/functions/(?P<name>[^/]+)/?", "DeleteFunction"),
    ("GET", r"/functions/(?P<name>[^/]+)/configuration/?", "GetFunctionConfiguration"),
    ("PUT", r"/functions/(?P<name>[^/]+)/configuration/?", "UpdateFunctionConfiguration"),
    ("PUT", r"/functions/(?P<name>[^/]+)/code/?", "UpdateFunctionCode"),
    ("POST", r"/functions/(?P<name>[^/]+)/invocations/?", "Invoke"),
    ("POST", r"/event-source-mappings/?", "CreateEventSourceMapping"),
    ("GET", r"/event-source-mappings/?", "ListEventSourceMappings"),
    ("GET", r"/event-source-mappings/(?P<mapping_id>[^/]+)/?", "GetEventSourceMapping"),
    ("PUT", r"/event-source-mappings/(?P<mapping_id>[^/]+)/?", "UpdateEventSourceMapping"),
    ("DELETE", r"/event-source-mappings/(?P<mapping_id>[^/]+)/?", "DeleteEventSourceMapping"),
]]


def invalid(message):
    return AwsError("InvalidParameterValueException", message)


def constraint(value, field, rule):
    return AwsError("ValidationException", f"1 validation error detected: Value '{value}' at "
                    f"'{field}' failed to satisfy constraint: {rule}")


def lambda_time(epoch):
    """FunctionConfiguration.LastModified: `2024-06-13T01:54:26.123+0000`."""
    millis = int(round((epoch - int(epoch)) * 1000)) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(epoch))) + f".{millis:03d}+0000"


class Services:
    """What an execution environment needs from the rest of localaws."""

    def __init__(self, clock, logs, credentials):
        self.clock = clock
        self.logs = logs
        self.credentials = credentials
        self.endpoint = None             # set once the server has its port
        self.ca_bundle = None


class Function:
    def __init__(self, name, region, account):
        self.name = name
        self.region = region
        self.account = account
        self.arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
        self.role_id = "AROA" + "".join(secrets.choice(string.ascii_uppercase + string.digits)
                                        for _ in range(17))
        self.revision = 0
        self.revision_id = None
        self.tags = {}
        self.state = "Pending"
        self.update_status = "Successful"

    def configure(self, params, code=None):
        """Applies CreateFunction/UpdateFunction* fields (validated already)."""
        for key, attribute in (("Runtime", "runtime"), ("Role", "role"), ("Handler", "handler"),
                               ("Description", "description"), ("Timeout", "timeout"),
                               ("MemorySize", "memory"), ("Architectures", "architectures")):
            if key in params:
                setattr(self, attribute, params[key])
        if "Environment" in params:
            self.variables = dict((params["Environment"] or {}).get("Variables") or {})
        if code is not None:
            self.code = code
            self.code_sha256 = base64.b64encode(hashlib.sha256(code).digest()).decode()
        self.revision += 1
        self.revision_id = str(uuid.uuid4())
        self.modified = time.time()

    @property
    def log_group(self):
        return f"/aws/lambda/{self.name}"

    def snapshot(self):
        role = ROLE_ARN.fullmatch(self.role)
        role_name = role.group("name") if role else "role"
        return {"name": self.name, "arn": self.arn, "region": self.region,
                "runtime": self.runtime, "handler": self.handler, "memory": self.memory,
                "variables": dict(self.variables), "code": self.code,
                "log_group": self.log_group,
                "assumed_role_arn": f"arn:aws:sts::{self.account}:assumed-role/{role_name}/{self.name}",
                "assumed_role_id": f"{self.role_id}:{self.name}"}

    def configuration(self, state=None, update_status=None):
        shape = {"FunctionName": self.name, "FunctionArn": self.arn, "Runtime": self.runtime,
                 "Role": self.role, "Handler": self.handler, "CodeSize": len(self.code),
                 "Description": self.description or "", "Timeout": self.timeout,
                 "MemorySize": self.memory, "LastModified": lambda_time(self.modified),
                 "CodeSha256": self.code_sha256, "Version": "$LATEST",
                 "TracingConfig": {"Mode": "PassThrough"}, "RevisionId": self.revision_id,
                 "State": state or self.state, "LastUpdateStatus": update_status or self.update_status,
                 "PackageType": "Zip", "Architectures": list(self.architectures),
                 "EphemeralStorage": {"Size": 512},
                 "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"}}
        if (state or self.state) == "Pending":
            shape.update(StateReason="The function is being created.", StateReasonCode="Creating")
        if (update_status or self.update_status) == "InProgress":
            shape.update(LastUpdateStatusReason="The function is being created.",
                         LastUpdateStatusReasonCode="Creating")
        if self.variables:
            shape["Environment"] = {"Variables": dict(self.variables)}
        return shape


class LambdaService(Service):
    name = signing_name = "lambda"
    SKEW_ERROR = ("InvalidSignatureException", 403)
    # Lambda answers every authentication failure with a 403.
    AUTH_ERRORS = {kind: (code, 403, message) for kind, (code, _, message) in JSON_AUTH_ERRORS.items()}

    def __init__(self, clock, logs, credentials, s3_store, sqs_store):
        self.clock = clock
        self.services = Services(clock, logs, credentials)
        self.s3 = s3_store
        self.sqs = sqs_store
        self.lock = threading.RLock()
        self.functions = {}              # (region, name) -> Function
        self.runners = {}                # (region, name) -> Runner
        self.mappings = {}               # uuid -> Mapping
        self.closed = False

    @staticmethod
    def timestamp(epoch):
        return Timestamp(epoch)

    # --- Service interface ---

    def operation_name(self, request):
        for method, pattern, operation in ROUTES:
            if request.method == method and pattern.fullmatch(request.path):
                return operation
        return "Unknown"

    def dispatch(self, request, operation, ctx):
        for method, pattern, name in ROUTES:
            match = pattern.fullmatch(request.path)
            if name == operation and request.method == method and match:
                break
        else:
            raise AwsError("UnknownOperationException", "Unknown operation", 404)
        if operation == "Invoke":
            return self.invoke(request, ctx, match.group("name"))
        body = {}
        if request.method in ("POST", "PUT") and request.body.strip():
            try:
                body = json.loads(request.body)
            except ValueError:
                raise AwsError("InvalidRequestContentException", "Could not parse request body "
                               "into json: Unexpected character")
        status, payload = getattr(self, _snake(operation))(body, request, ctx, **match.groupdict())
        return self.json_response(ctx, status, payload)

    def json_response(self, ctx, status, payload):
        body = b"" if payload is None else encode_json(payload)
        return Response(status, [("Content-Type", "application/json"),
                                 ("x-amzn-RequestId", ctx.request_id)], body)

    def render_error(self, request, ctx, error):
        # REST-JSON: the code in x-amzn-ErrorType, {"Type", "message"} in the body.
        payload = {"Type": "User" if error.sender else "Service", "message": error.message}
        response = self.json_response(ctx, error.status, payload)
        response.headers.append(("x-amzn-ErrorType", error.code))
        response.headers.extend(error.headers.items())
        return response

    def throttle_error(self):
        return AwsError("TooManyRequestsException", "Rate Exceeded.", 429,
                        headers={"Retry-After": "1"})

    def internal_error(self):
        return AwsError("ServiceException", "An internal error occurred.", 500, sender=False)

    # --- lookups ---

    def _function(self, ref, ctx):
        match = FUNCTION_REF.fullmatch(urllib.parse.unquote(ref or ""))
        if not match:
            raise constraint(ref, "functionName", "Member must satisfy regular expression pattern: "
                             "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?"
                             "(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?")
        region = match.group("region") or ctx.region
        function = self.functions.get((region, match.group("name")))
        qualifier = match.group("qualifier") or ctx.request.query.get("Qualifier")
        if function is None or qualifier not in (None, "", "$LATEST"):
            arn = f"arn:aws:lambda:{region}:{ctx.account}:function:{match.group('name')}"
            raise AwsError("ResourceNotFoundException",
                           f"Function not found: {arn}" + (f":{qualifier}" if qualifier else ""),
                           404)
        return function

    def _mapping(self, mapping_id):
        mapping = self.mappings.get(mapping_id)
        if mapping is None or mapping.stopped.is_set():
            raise AwsError("ResourceNotFoundException", "The resource you requested does not "
                           "exist.", 404)
        return mapping

    # --- validation ---

    def _validate_configuration(self, params, creating):
        if creating or "Runtime" in params:
            runtime = params.get("Runtime")
            if creating and (not runtime or not params.get("Handler")):
                raise invalid("Runtime and Handler are mandatory parameters for functions "
                              "created with deployment packages.")
            if runtime in DEPRECATED_RUNTIMES:
                raise invalid(f"The runtime parameter of {runtime} is no longer supported for "
                              "creating or updating AWS Lambda functions. We recommend you use a "
                              "supported runtime while creating or updating functions.")
            if runtime not in RUNTIMES:
                raise invalid(f"Value {runtime} at 'runtime' is not run by localaws: only the "
                              f"OS-only runtimes {', '.join(RUNTIMES)} are emulated.")
        if creating or "Role" in params:
            role = params.get("Role") or ""
            if not ROLE_ARN.fullmatch(role):
                raise constraint(role, "role", "Member must satisfy regular expression pattern: "
                                 "arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+")
        if "Timeout" in params and not (isinstance(params["Timeout"], int)
                                        and 1 <= params["Timeout"] <= 900):
            raise constraint(params["Timeout"], "timeout",
                             "Member must have value less than or equal to 900")
        if "MemorySize" in params and not (isinstance(params["MemorySize"], int)
                                           and 128 <= params["MemorySize"] <= 10240):
            raise constraint(params["MemorySize"], "memorySize",
                             "Member must have value less than or equal to 10240")
        architectures = params.get("Architectures")
        if architectures is not None and (len(architectures) != 1
                                          or architectures[0] not in ARCHITECTURES):
            raise constraint(architectures, "architectures",
                             "Member must satisfy enum value set: [x86_64, arm64]")
        variables = (params.get("Environment") or {}).get("Variables") or {}
        reserved = [key for key in variables if key in RESERVED_VARIABLES]
        if reserved:
            raise invalid("Lambda was unable to configure your environment variables because the "
                          "environment variables you have provided contains reserved keys that "
                          "are currently not supported for modification. Reserved keys used in "
                          f"this request: {', '.join(reserved)}")
        for key in variables:
            if not ENV_KEY.fullmatch(key):
                raise constraint(key, "environment.variables",
                                 "Member must satisfy regular expression pattern: "
                                 "[a-zA-Z]([a-zA-Z0-9_])+")
        size = len(json.dumps(variables, separators=(",", ":")).encode())
        if size > MAX_ENVIRONMENT_BYTES:
            raise invalid("Lambda was unable to configure your environment variables because the "
                          "environment variables you have provided exceeded the 4KB limit. "
                          f"String measured: {json.dumps(variables)}")

    def _code(self, code, ctx):
        """The zip, from ZipFile (base64 on the wire) or from localaws' S3."""
        if code.get("ZipFile"):
            try:
                data = base64.b64decode(code["ZipFile"], validate=True)
            except ValueError:
                raise invalid("Could not unzip uploaded file. Please check your file, then try "
                              "to upload again.")
            if len(data) > MAX_ZIP_BYTES:
                raise AwsError("RequestEntityTooLargeException", "Request must be smaller than "
                               f"{MAX_ZIP_BYTES} bytes for the CreateFunction operation", 413)
        elif code.get("S3Bucket") and code.get("S3Key"):
            data = self._s3_code(code, ctx)
        elif code.get("ImageUri"):
            raise invalid("Container images are not emulated by localaws.")
        else:
            raise invalid("Please provide a source for function code.")
        self._check_zip(data)
        return data

    def _s3_code(self, code, ctx):
        def s3_error(error_code, message):
            return invalid(f"Error occurred while GetObject. S3 Error Code: {error_code}. "
                           f"S3 Error Message: {message}")
        with self.s3.lock:
            bucket = self.s3.buckets.get(code["S3Bucket"])
            if bucket is None:
                raise s3_error("NoSuchBucket", "The specified bucket does not exist")
            if bucket.region != ctx.region:
                raise s3_error("PermanentRedirect", f"The bucket is in this region: "
                               f"{bucket.region}. Please use this region to retry the request")
            version_id = code.get("S3ObjectVersion")
            version = bucket.find(code["S3Key"], version_id) if version_id \
                else bucket.latest(code["S3Key"])
            if version is None or version.delete_marker:
                raise s3_error("NoSuchKey", "The specified key does not exist.")
            return version.body

    @staticmethod
    def _check_zip(data):
        import io
        import zipfile
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                total = sum(info.file_size for info in archive.infolist())
        except zipfile.BadZipFile:
            raise invalid("Could not unzip uploaded file. Please check your file, then try to "
                          "upload again.")
        if total > MAX_UNZIPPED_BYTES:
            raise invalid(f"Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes")

    def _check_revision(self, function, params):
        revision = params.get("RevisionId")
        if revision and revision != function.revision_id:
            raise AwsError("PreconditionFailedException", "The Revision Id provided does not match "
                           "the latest Revision Id. Call the GetFunction/GetAlias API to retrieve "
                           "the latest Revision Id", 412)

    # --- functions ---

    def create_function(self, params, request, ctx):
        name = params.get("FunctionName", "")
        match = FUNCTION_REF.fullmatch(name)
        if not match or match.group("qualifier"):
            raise constraint(name, "functionName", "Member must satisfy regular expression "
                             "pattern: [a-zA-Z0-9-_]+")
        name = match.group("name")
        if params.get("PackageType", "Zip") != "Zip":
            raise invalid("Container images are not emulated by localaws.")
        self._validate_configuration(params, creating=True)
        code = self._code(params.get("Code") or {}, ctx)
        with self.lock:
            if (ctx.region, name) in self.functions:
                raise AwsError("ResourceConflictException", f"Function already exist: {name}", 409)
            function = Function(name, ctx.region, ctx.account)
            function.description, function.timeout, function.memory = "", 3, 128
            function.architectures, function.variables = ["x86_64"], {}
            function.configure(params, code)
            function.tags = dict(params.get("Tags") or {})
            self.functions[(ctx.region, name)] = function
            self.runners[(ctx.region, name)] = Runner(function, self.services)
        # The function is Pending in this answer, Active from the next call on
        # (https://docs.aws.amazon.com/lambda/latest/dg/functions-states.html).
        shape = function.configuration(state="Pending")
        function.state = "Active"
        return 201, shape

    def get_function(self, params, request, ctx, name):
        function = self._function(name, ctx)
        location = f"{self.services.endpoint}/_localaws/lambda/{function.name}/code"
        return 200, {"Configuration": function.configuration(),
                     "Code": {"RepositoryType": "S3", "Location": location},
                     "Tags": dict(function.tags)}

    def get_function_configuration(self, params, request, ctx, name):
        return 200, self._function(name, ctx).configuration()

    def list_functions(self, params, request, ctx):
        limit = int(request.query.get("MaxItems") or 50)
        if not 1 <= limit <= 10000:
            raise constraint(limit, "maxItems", "Member must have value less than or equal to 10000")
        marker = request.query.get("Marker") or ""
        with self.lock:
            # An account lists its own functions (member accounts: auth.py).
            functions = sorted((f for (region, _), f in self.functions.items()
                                if region == ctx.region and f.account == ctx.account),
                               key=lambda f: f.name)
        start = int(marker) if marker.isdigit() else 0
        out = {"Functions": [f.configuration() for f in functions[start:start + min(limit, 50)]]}
        if start + min(limit, 50) < len(functions):
            out["NextMarker"] = str(start + min(limit, 50))
        return 200, out

    def delete_function(self, params, request, ctx, name):
        with self.lock:
            function = self._function(name, ctx)
            del self.functions[(function.region, function.name)]
            runner = self.runners.pop((function.region, function.name))
        runner.shutdown()
        return 204, None

    def update_function_code(self, params, request, ctx, name):
        function = self._function(name, ctx)
        self._check_revision(function, params)
        code = self._code(params, ctx)
        if params.get("Architectures"):
            self._validate_configuration({"Architectures": params["Architectures"]}, False)
        if params.get("DryRun"):
            return 200, function.configuration()
        with self.lock:
            function.configure({k: params[k] for k in ("Architectures",) if k in params}, code)
        self.runners[(function.region, function.name)].retire()
        # LastUpdateStatus is InProgress in this answer, Successful after.
        return 200, function.configuration(update_status="InProgress")

    def update_function_configuration(self, params, request, ctx, name):
        function = self._function(name, ctx)
        self._check_revision(function, params)
        self._validate_configuration(params, creating=False)
        with self.lock:
            function.configure(params)
        self.runners[(function.region, function.name)].retire()
        return 200, function.configuration(update_status="InProgress")

    # --- invoke ---

    def invoke(self, request, ctx, name):
        """https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html"""
        function = self._function(name, ctx)
        kind = request.header("x-amz-invocation-type") or "RequestResponse"
        if kind not in ("RequestResponse", "Event", "DryRun"):
            raise constraint(kind, "invocationType", "Member must satisfy enum value set: "
                             "[Event, RequestResponse, DryRun]")
        payload = request.body or b"{}"
        limit = MAX_SYNC_PAYLOAD if kind == "RequestResponse" else MAX_ASYNC_PAYLOAD
        if len(payload) > limit:
            raise AwsError("RequestTooLargeException", f"Request must be smaller than {limit} "
                           "bytes for the InvokeFunction operation", 413)
        try:
            json.loads(payload)
        except ValueError as error:
            raise AwsError("InvalidRequestContentException",
                           f"Could not parse request body into json: {error}")
        headers = [("x-amzn-RequestId", ctx.request_id), ("X-Amz-Executed-Version", "$LATEST")]
        if kind == "DryRun":
            return Response(204, headers)
        runner = self.runners[(function.region, function.name)]
        if kind == "Event":
            threading.Thread(target=self._invoke_quietly, args=(runner, payload),
                             name="lambda-async", daemon=True).start()
            return Response(202, headers)
        invocation = runner.invoke(payload)
        headers.append(("Content-Type", "application/json"))
        if invocation.outcome != "response":
            headers.append(("X-Amz-Function-Error", "Unhandled"))
        if (request.header("x-amz-log-type") or "None") == "Tail":
            headers.append(("X-Amz-Log-Result", log_tail(invocation)))
        return Response(200, headers, invocation.result)

    @staticmethod
    def _invoke_quietly(runner, payload):
        try:
            runner.invoke(payload)
        except Exception:
            log.exception("asynchronous invocation failed")

    def invoke_arn(self, arn, payload):
        """For event source mappings and EventBridge: None if the function is gone."""
        match = FUNCTION_REF.fullmatch(arn)
        runner = self.runners.get((match.group("region"), match.group("name"))) if match else None
        if runner is None:
            return None
        try:
            return runner.invoke(payload)
        except RuntimeError:
            return None

    def invoke_event(self, arn, payload):
        """An EventBridge target: an asynchronous invocation."""
        match = FUNCTION_REF.fullmatch(arn)
        runner = self.runners.get((match.group("region"), match.group("name"))) if match else None
        if runner is None:
            raise LookupError(f"no function {arn}")
        threading.Thread(target=self._invoke_quietly, args=(runner, payload.encode()),
                         name="lambda-async", daemon=True).start()

    # --- event source mappings ---

    def _check_mapping(self, function, queue, batch_size, window):
        """https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html: the
        function's timeout must not exceed the queue's visibility timeout."""
        if not 1 <= batch_size <= 10000:
            raise invalid(f"BatchSize {batch_size} is out of range: it must be between 1 and "
                          "10000 for a standard SQS queue.")
        if not 0 <= window <= 300:
            raise constraint(window, "maximumBatchingWindowInSeconds",
                             "Member must have value less than or equal to 300")
        if batch_size > 10 and window < 1:
            raise invalid("Maximum batch window in seconds must be greater than 0 if maximum "
                          "batch size is greater than 10")
        visibility = queue.number("VisibilityTimeout")
        if visibility < function.timeout:
            raise invalid(f"Queue visibility timeout: {visibility} seconds is less than Function "
                          f"timeout: {function.timeout} seconds")

    def _queue(self, arn):
        queue = self.sqs.by_arn(arn)
        if queue is None:
            raise invalid("Error occurred while ReceiveMessage. SQS Error Code: "
                          "AWS.SimpleQueueService.NonExistentQueue. SQS Error Message: The "
                          "specified queue does not exist for this wsdl version.")
        return queue

    @staticmethod
    def _response_types(params):
        types = params.get("FunctionResponseTypes") or []
        for value in types:
            if value != "ReportBatchItemFailures":
                raise constraint(types, "functionResponseTypes",
                                 "Member must satisfy enum value set: [ReportBatchItemFailures]")
        return types

    def create_event_source_mapping(self, params, request, ctx):
        source = params.get("EventSourceArn") or ""
        if not source.startswith("arn:aws:sqs:"):
            raise invalid("Only SQS queues are emulated as event sources by localaws.")
        function = self._function(params.get("FunctionName"), ctx)
        queue = self._queue(source)
        batch_size = params.get("BatchSize", 10)
        window = params.get("MaximumBatchingWindowInSeconds", 0)
        self._check_mapping(function, queue, batch_size, window)
        with self.lock:
            for other in self.mappings.values():
                if other.source_arn == source and other.function_arn == function.arn \
                        and not other.stopped.is_set():
                    raise AwsError("ResourceConflictException", "An event source mapping with "
                                   f"SQS arn (\" {source} \") and function (\" {function.name} \") "
                                   "already exists. Please update or delete the existing mapping "
                                   f"with UUID {other.uuid}", 409)
            mapping = Mapping(self, ctx.region, source, function.arn, batch_size, window,
                              self._response_types(params), params.get("Enabled", True))
            self.mappings[mapping.uuid] = mapping
        shape = mapping.shape()          # "Creating" in this answer
        mapping.start()
        return 202, shape

    def get_event_source_mapping(self, params, request, ctx, mapping_id):
        return 200, self._mapping(mapping_id).shape()

    def list_event_source_mappings(self, params, request, ctx):
        source = request.query.get("EventSourceArn")
        function_ref = request.query.get("FunctionName")
        function_arn = self._function(function_ref, ctx).arn if function_ref else None
        limit = min(int(request.query.get("MaxItems") or 100), 100)
        start = int(request.query.get("Marker") or 0)
        with self.lock:
            mappings = [m for m in self.mappings.values() if not m.stopped.is_set()
                        and m.region == ctx.region
                        and (source is None or m.source_arn == source)
                        and (function_arn is None or m.function_arn == function_arn)]
        mappings.sort(key=lambda m: m.uuid)
        out = {"EventSourceMappings": [m.shape() for m in mappings[start:start + limit]]}
        if start + limit < len(mappings):
            out["NextMarker"] = str(start + limit)
        return 200, out

    def update_event_source_mapping(self, params, request, ctx, mapping_id):
        mapping = self._mapping(mapping_id)
        changes = {}
        function = self._function(params.get("FunctionName") or mapping.function_arn, ctx)
        changes["function_arn"] = function.arn
        for key, attribute in (("BatchSize", "batch_size"),
                               ("MaximumBatchingWindowInSeconds", "window"),
                               ("Enabled", "enabled")):
            if key in params:
                changes[attribute] = params[key]
        if "FunctionResponseTypes" in params:
            changes["response_types"] = self._response_types(params)
        self._check_mapping(function, self._queue(mapping.source_arn),
                            changes.get("batch_size", mapping.batch_size),
                            changes.get("window", mapping.window))
        mapping.update(**changes)
        shape = mapping.shape()
        shape["State"] = "Updating" if "enabled" not in changes else \
            ("Enabling" if changes["enabled"] else "Disabling")
        return 202, shape

    def delete_event_source_mapping(self, params, request, ctx, mapping_id):
        mapping = self._mapping(mapping_id)
        mapping.stop()
        shape = mapping.shape()
        with self.lock:
            self.mappings.pop(mapping_id, None)
        return 202, shape

    # --- control endpoint and shutdown ---

    def control_stats(self, body, query, name):
        runner = next((r for (_, n), r in self.runners.items() if n == name), None)
        if runner is None:
            from .control import ControlError
            raise ControlError(404, f"no function {name}")
        return {"function": name, **runner.stats()}

    def control_code(self, body, query, name):
        function = next((f for (_, n), f in self.functions.items() if n == name), None)
        if function is None:
            from .control import ControlError
            raise ControlError(404, f"no function {name}")
        return Response(200, [("Content-Type", "application/zip")], function.code)

    def control_mappings(self, body, query):
        return [{**m.shape(), "LastModified": m.last_modified, "counters": dict(m.counters)}
                for m in self.mappings.values()]

    def shutdown(self):
        """Stops every poller and every process localaws started."""
        self.closed = True
        mappings = list(self.mappings.values())
        for mapping in mappings:
            mapping.stop()
        runners = list(self.runners.values())
        stoppers = [threading.Thread(target=r.shutdown, daemon=True) for r in runners]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join(15)
        for mapping in mappings:
            mapping.join(5)


def _snake(name):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
