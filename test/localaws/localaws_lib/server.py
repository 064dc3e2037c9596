"""HTTP front: one port for every service, routing, and the request pipeline.

HTTP/1.1 with keep-alive (AWS clients reuse connections): every response
carries an exact Content-Length (except 204/304, which have no body), the
body of every request is read in full before answering, and
`Expect: 100-continue` is answered by http.server itself.

Pipeline for a service request (App.handle):
  route -> name the operation -> count it -> fault injection -> SigV4
  verification -> the service's handler -> its protocol's error rendering.
"""
import http.server
import itertools
import logging
import socket
import ssl
import struct
import threading
import time
import urllib.parse
import uuid

from . import auth
from .clock import http_date
from .errors import AwsError
from .faults import SHAPING_KINDS

log = logging.getLogger("localaws.server")

CONTROL_PREFIX = "/_localaws/"
# One count for request arrivals and the writes services make, so a
# service can tell whether a write completed while a request was in
# flight (S3's 409 ConditionalRequestConflict). next() on a count is
# atomic under the GIL.
_SEQUENCE = itertools.count(1)


def next_sequence():
    return next(_SEQUENCE)
DEFAULT_REGION = "us-east-1"


class Response:
    """status, headers (list of pairs), body bytes; `action` drop/reset."""

    def __init__(self, status, headers=None, body=b"", action=None):
        self.status = status
        self.headers = list(headers or [])
        self.body = body
        self.action = action

    def header(self, name):
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


def decode_query(raw_query):
    """Query string -> [(name, value)], each percent-decoded once.

    `+` means a space in a query string (form encoding), as AWS reads it;
    SigV4 clients encode a literal plus as %2B.
    """
    pairs = []
    for part in raw_query.split("&") if raw_query else []:
        if not part:
            continue
        name, _, value = part.partition("=")
        pairs.append((urllib.parse.unquote_plus(name), urllib.parse.unquote_plus(value)))
    return pairs


class Request:
    """What a service sees of an HTTP request."""

    def __init__(self, method, target, headers, body, scheme="http", started=None):
        self.method = method
        # When the request arrived (its head read, its body not yet).
        self.started = next_sequence() if started is None else started
        self.headers = headers            # email.message.Message: case-insensitive
        self.body = body
        self.scheme = scheme
        if "://" in target.split("?", 1)[0]:   # absolute-form request target
            target = "/" + target.split("://", 1)[1].partition("/")[2]
        self.raw_path, _, self.raw_query = target.partition("?")
        # The path is percent-decoded exactly once; `+` stays a plus.
        self.path = urllib.parse.unquote(self.raw_path, errors="surrogateescape")
        self.query_pairs = decode_query(self.raw_query)
        self.query = {}
        for name, value in self.query_pairs:
            self.query.setdefault(name, value)
        self.params = dict(self.query)
        if self._is_form():
            for name, value in urllib.parse.parse_qsl(body.decode("utf-8", "replace"),
                                                      keep_blank_values=True):
                self.params.setdefault(name, value)
        self.action = self.params.get("Action")

    def header(self, name):
        return self.headers.get(name)

    def header_values(self, name):
        return self.headers.get_all(name) or []

    def _is_form(self):
        content_type = (self.header("content-type") or "").lower()
        return self.method == "POST" and content_type.startswith("application/x-www-form-urlencoded")


class Context:
    """Per-request facts a handler may need."""

    def __init__(self, app, request):
        self.app = app
        self.clock = app.clock
        self.events = app.events
        self.credentials = app.credentials
        self.account = app.credentials.account
        self.region = DEFAULT_REGION
        self.principal = None
        self.request_id = str(uuid.uuid4())
        self.request = request
        self.shaping = set()    # answer-shaping fault kinds (faults.SHAPING_KINDS)


class Router:
    """Which service a request is for, as AWS clients address them.

    X-Amz-Target names JSON-protocol services; a query-API Action (query
    string or form body) names a query service, disambiguated by the SigV4
    credential scope's service name; everything else is S3 (path-style).
    """

    def __init__(self, services, default):
        self.services = {s.name: s for s in services}
        self.by_target_prefix = {p: s for s in services for p in s.target_prefixes}
        self.by_signing_name = {s.signing_name: s for s in services}
        self.by_action = {a: s for s in services for a in s.query_actions}
        self.default = self.services[default]

    def route(self, request):
        # Unsigned REST services (the SSO portal and OIDC) claim their paths.
        for service in self.services.values():
            claims = getattr(service, "claims", None)
            if claims is not None and claims(request):
                return service
        target = request.header("x-amz-target")
        if target:
            service = self.by_target_prefix.get(target.partition(".")[0])
            if service:
                return service
        scope = auth.credential_scope(request)
        scoped = self.by_signing_name.get(scope[2]) if scope else None
        if request.action:
            if scoped is not None and scoped.query_actions:
                return scoped
            if request.action in self.by_action:
                return self.by_action[request.action]
        if scoped is not None and not scoped.target_prefixes and not scoped.query_actions:
            return scoped
        return self.default


class App:
    def __init__(self, *, services, default_service, control, clock, events,
                 credentials, counters, faults, path_prefix=None, iam=None):
        self.router = Router(services, default_service)
        self.iam = iam  # iam.IamStore: identity policies for services without their own
        self.control = control
        self.clock = clock
        self.events = events
        self.credentials = credentials
        self.counters = counters
        self.faults = faults
        self.path_prefix = path_prefix.rstrip("/") if path_prefix else None

    def _strip_path_prefix(self, request):
        """Serve `/PREFIX/rest` as `/rest`, as AWS behind a proxy that
        forwards a path: the signature is still checked on the path as
        received (raw_path), prefix included."""
        if request.path != self.path_prefix and \
                not request.path.startswith(self.path_prefix + "/"):
            return False
        request.path = request.path[len(self.path_prefix):] or "/"
        return True

    def handle(self, request):
        if request.path.startswith(CONTROL_PREFIX):
            return self.control.handle(request)
        if self.path_prefix is not None and not self._strip_path_prefix(request):
            return Response(404, [("Content-Type", "text/plain")],
                            f"not under the path prefix {self.path_prefix}\n".encode())
        service = self.router.route(request)
        ctx = Context(self, request)
        try:
            operation = service.operation_name(request)
        except AwsError:
            operation = "Unknown"
        self.counters.count(service.name, operation)
        fault = self.faults.pick(service.name, operation, request)
        if fault is not None and fault.malformed is not None:
            return fault.malformed.spoil(self._serve(service, operation, request, ctx), request)
        if fault is not None:
            response = self._apply_fault(fault, service, operation, request, ctx)
            if response is not None:
                return response
        return self._serve(service, operation, request, ctx)

    def _apply_fault(self, fault, service, operation, request, ctx):
        """The fault's answer, or None to go on (after a delay)."""
        log.info("fault %s on %s.%s", fault.kind, service.name, operation)
        if fault.kind == "delay":
            time.sleep(fault.delay_ms / 1000.0)
            return None
        if fault.kind in ("drop", "reset"):
            return Response(0, action=fault.kind)
        if fault.kind in SHAPING_KINDS:
            ctx.shaping.add(fault.kind)
            return None
        throttled = fault.kind in ("throttle", "rate_limit")
        error = service.throttle_error() if throttled else service.internal_error()
        return service.render_error(request, ctx, error)

    def _serve(self, service, operation, request, ctx):
        try:
            if operation not in service.unsigned_operations:
                ctx.principal, ctx.region = auth.verify(
                    request, service.signing_name, self.credentials, self.clock)
                ctx.account = ctx.principal.account
                if self.iam is not None:
                    self.iam.authorize_request(service.name, operation, request, ctx)
            return service.dispatch(request, operation, ctx)
        except auth.AuthFailure as failure:
            return service.render_error(request, ctx, service.auth_error(failure, request, ctx))
        except AwsError as error:
            return service.render_error(request, ctx, error)
        except Exception:
            log.exception("%s %s failed", service.name, operation)
            return service.render_error(request, ctx, service.internal_error())


def decode_aws_chunked(body):
    """The payload of an `aws-chunked` body (streaming SigV4 uploads).

    Format: hex-size[;chunk-signature=...]CRLF data CRLF ... 0...CRLF
    [trailers] CRLF (https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html).
    Chunk signatures are not verified.
    """
    out, pos = bytearray(), 0
    while True:
        line_end = body.index(b"\r\n", pos)
        size = int(body[pos:line_end].split(b";", 1)[0], 16)
        pos = line_end + 2
        if size == 0:
            return bytes(out)
        out += body[pos:pos + size]
        pos += size + 2


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "localaws"

    def setup(self):
        super().setup()
        # Small request/response exchanges on a kept-alive connection stall
        # on Nagle + delayed ACK without this.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if isinstance(self.connection, ssl.SSLSocket):
            self.connection.do_handshake()

    def log_message(self, fmt, *args):
        log.debug("%s " + fmt, self.address_string(), *args)

    def _handle(self):
        started = next_sequence()
        try:
            body = self._read_body()
        except (ValueError, OSError):
            self.close_connection = True
            return
        scheme = "https" if isinstance(self.connection, ssl.SSLSocket) else "http"
        request = Request(self.command, self.path, self.headers, body, scheme, started)
        response = self.server.app.handle(request)
        if response.action == "drop":
            self.close_connection = True
            return
        if response.action == "reset":
            self._reset_connection()
            return
        if response.action in ("slow_drip", "reset_after_headers"):
            self._write_badly(response)
            return
        self._write(response)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _handle

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            body = self._read_chunked()
        else:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if len(body) != length:
                raise ValueError("short body")
        encoding = (self.headers.get("Content-Encoding") or "").lower()
        streaming = (self.headers.get("x-amz-content-sha256") or "").startswith("STREAMING-")
        if "aws-chunked" in encoding or streaming:
            body = decode_aws_chunked(body)
        return body

    def _read_chunked(self):
        out = bytearray()
        while True:
            size = int(self.rfile.readline().split(b";", 1)[0].strip(), 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return bytes(out)
            out += self.rfile.read(size)
            self.rfile.readline()

    def _write(self, response):
        self.send_response_only(response.status)
        names = {name.lower() for name, _ in response.headers}
        for name, value in response.headers:
            if name.lower() == "content-length" and self.command != "HEAD":
                continue
            self.send_header(name, value)
        if "date" not in names:
            self.send_header("Date", http_date(self.server.app.clock.now()))
        no_body = response.status in (204, 304) or response.status < 200
        if not no_body and (self.command != "HEAD" or "content-length" not in names):
            self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        elif (self.headers.get("Connection") or "").lower() == "keep-alive":
            self.send_header("Connection", "keep-alive")
        if self.command != "HEAD" and not no_body:
            # One write for head and body: one TCP segment for small answers.
            self._headers_buffer.append(b"\r\n" + response.body)
            self.flush_headers()
        else:
            self.end_headers()
        self.wfile.flush()

    def _write_badly(self, response):
        """A malformed fault's ways of sending: the head, then the body one
        byte every drip_ms (slow_drip) or a TCP RST (reset_after_headers)."""
        self.send_response_only(response.status)
        for name, value in response.headers:
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.flush()
        if response.action == "reset_after_headers":
            self._reset_connection()
            return
        self.close_connection = True
        try:
            for i in range(len(response.body)):
                time.sleep(response.drip_ms / 1000.0)
                self.wfile.write(response.body[i:i + 1])
                self.wfile.flush()
        except OSError:
            pass

    def _reset_connection(self):
        """Abort with a TCP RST: SO_LINGER on, zero timeout, then close."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # socketserver's default backlog of 5 drops the SYNs of a client opening
    # many connections at once (ssmbak opens 16), which then wait for TCP's
    # retransmission; AWS's endpoints accept them all.
    request_queue_size = 128

    def __init__(self, address, app, tls_context=None):
        super().__init__(address, Handler)
        self.app = app
        if tls_context is not None:
            self.socket = tls_context.wrap_socket(self.socket, server_side=True,
                                                  do_handshake_on_connect=False)

    def handle_error(self, request, client_address):
        log.debug("connection from %s ended badly", client_address, exc_info=True)


def tls_context(cert_file, key_file):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context


def serve_in_thread(server):
    thread = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    thread.start()
    return thread
