"""Lambda execution environments: a function's `bootstrap` as a real
process, its Runtime API, its logs, and what one invocation cost.

Runtime API:   https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
Environment:   https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
Lifecycle:     https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html
Log lines:     https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html

An `Environment` is one process: the code unzipped into a private temporary
directory (the zip's file modes kept), started with the variables Lambda
sets, `AWS_LAMBDA_RUNTIME_API` naming a listener on 127.0.0.1 that serves
only this process, and `AWS_ENDPOINT_URL` naming localaws. Its stdout and
stderr become log events of one log stream, a line an event, between
Lambda's START / END / REPORT lines. A `Runner` owns a function's
environment: one invocation at a time, a new environment when the code or
configuration changed, after a timeout (the process is killed), a crash or
an init error.
"""
import base64
import errno
import fcntl
import http.server
import json
import logging
import math
import os
import secrets
import select
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import termios
import threading
import time
import uuid
import zipfile

log = logging.getLogger("localaws.lambda")

API_PREFIX = "/2018-06-01/runtime"
INIT_LIMIT_SECONDS = 10          # "The Init phase is limited to 10 seconds."
MAX_RESPONSE_BYTES = 6 * 1024 * 1024
STOP_GRACE_SECONDS = 2
CREDENTIALS_SECONDS = 12 * 3600
CREDENTIALS_MARGIN = 300         # renew the environment this long before expiry
SAMPLE_SECONDS = 0.05


class Invocation:
    """One request to the function and what became of it."""

    def __init__(self, payload, timeout):
        self.request_id = str(uuid.uuid4())
        self.payload = payload
        self.timeout = timeout
        self.submitted = time.monotonic()
        self.picked = None               # when the runtime took it (/next)
        self.finished = None
        self.outcome = None              # response | error | timeout | crash | init_error
        self.result = b""                # the response, or the error document
        self.error_type = None
        self.cold = False
        self.init_duration_ms = None
        self.log_lines = []              # this invocation's lines, for LogType=Tail

    @property
    def duration_ms(self):
        start = self.picked or self.submitted
        return max(((self.finished or time.monotonic()) - start) * 1000, 0.0)

    def fail(self, outcome, error_type, message):
        self.outcome = outcome
        self.error_type = error_type
        self.result = json.dumps({"errorType": error_type, "errorMessage": message}).encode()
        self.finished = time.monotonic()


class LogPump:
    """Copies a pipe into log events, a line an event. `drain()` takes
    whatever is in the pipe right now, so lines a process wrote before it
    called the Runtime API are logged before the next START/END line."""

    def __init__(self, fd, emit):
        self.fd = fd
        self.emit = emit
        self.lock = threading.Lock()
        self.partial = b""
        self.eof = False
        os.set_blocking(fd, False)
        self.thread = threading.Thread(target=self._loop, name="lambda-logs", daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.eof:
            try:
                ready, _, _ = select.select([self.fd], [], [], 0.2)
            except (OSError, ValueError):
                return
            if ready:
                self.drain()

    def pending(self):
        try:
            return struct.unpack("i", fcntl.ioctl(self.fd, termios.FIONREAD, b"\0\0\0\0"))[0]
        except OSError:
            return 0

    def drain(self, flush=False):
        with self.lock:
            if self.fd is None:
                return
            while not self.eof:
                try:
                    chunk = os.read(self.fd, 65536)
                except BlockingIOError:
                    break
                except OSError:
                    chunk = b""
                if not chunk:
                    self.eof = True
                    break
                self.partial += chunk
            *lines, self.partial = self.partial.split(b"\n")
            if (flush or self.eof) and self.partial:
                lines.append(self.partial)
                self.partial = b""
            lines = [line.rstrip(b"\r").decode("utf-8", "replace") for line in lines]
            lines = [line for line in lines if line]
            if lines:
                self.emit(lines)

    def finish(self, timeout=5):
        """After the process is gone: the last lines, then the pipe closes."""
        self.thread.join(timeout)
        self.drain(flush=True)
        with self.lock:
            self.fd = None


def read_status_kb(pid, field):
    """A `kB` field of /proc/PID/status (VmHWM: peak resident set), or None."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def extract(zip_bytes, directory):
    """Unzips keeping each file's Unix mode (a zip made without one gives
    0644: a `bootstrap` must be executable in the zip, as on AWS)."""
    import io
    with zipfile.ZipFile(io.BytesIO(zip_bytes)) as archive:
        for info in archive.infolist():
            target = os.path.realpath(os.path.join(directory, info.filename))
            if not target.startswith(os.path.realpath(directory) + os.sep):
                continue
            if info.is_dir():
                os.makedirs(target, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with archive.open(info) as source, open(target, "wb") as out:
                shutil.copyfileobj(source, out)
            mode = (info.external_attr >> 16) & 0o7777
            os.chmod(target, mode or 0o644)


class RuntimeApiHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "localaws-lambda-runtime"

    def log_message(self, fmt, *args):
        log.debug("runtime api: " + fmt, *args)

    def setup(self):
        super().setup()
        # Head and body go out as one segment, at once: without this a warm
        # invocation waits ~40 ms on Nagle and the runtime's delayed ACK.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def reply(self, status, payload=None, headers=(), raw=None):
        body = raw if raw is not None else (b"" if payload is None else json.dumps(payload).encode())
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self._headers_buffer.append(b"\r\n" + body)
        self.flush_headers()
        self.wfile.flush()

    def read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            body = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(body)
                body += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self):
        if self.path != API_PREFIX + "/invocation/next":
            return self.reply(404, {"errorType": "NotFound", "errorMessage": self.path})
        self.server.environment.next_invocation(self)

    def do_POST(self):
        body = self.read_body()
        parts = self.path[len(API_PREFIX):].strip("/").split("/") \
            if self.path.startswith(API_PREFIX + "/") else []
        environment = self.server.environment
        if parts == ["init", "error"]:
            return environment.init_error(self, body)
        if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            return environment.answer(self, parts[1], parts[2], body)
        self.reply(404, {"errorType": "NotFound", "errorMessage": self.path})


class RuntimeApiServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, environment):
        super().__init__(("127.0.0.1", 0), RuntimeApiHandler)
        self.environment = environment

    def handle_error(self, request, client_address):
        log.debug("runtime api connection ended badly", exc_info=True)


class Environment:
    """One execution environment: a process, its Runtime API, its log stream."""

    def __init__(self, config, services, revision):
        self.config = config             # a snapshot of the function (lambda_.Function.snapshot)
        self.services = services         # lambda_.Services: clock, logs, credentials, endpoint
        self.revision = revision
        self.cond = threading.Condition()
        self.pending = None
        self.current = None
        self.closing = False
        self.exit_status = None
        self.init_failure = None         # (error type, message) before the first /next
        self.started = None
        self.first_next = None
        self.peak_rss_kb = 0
        self.process = None
        self.pump = None
        self.invocations = 0
        self.directory = tempfile.mkdtemp(prefix="localaws-lambda-")
        self.task_root = os.path.join(self.directory, "task")
        os.makedirs(os.path.join(self.directory, "runtime"))
        day = time.strftime("%Y/%m/%d", time.gmtime(services.clock.now()))
        self.stream = f"{day}/[$LATEST]{uuid.uuid4().hex}"
        self.server = RuntimeApiServer(self)
        self.api_address = f"127.0.0.1:{self.server.server_address[1]}"
        self.server_thread = threading.Thread(target=self.server.serve_forever,
                                              kwargs={"poll_interval": 0.2},
                                              name="lambda-runtime-api", daemon=True)
        self.server_thread.start()
        self.credentials = None
        self.collecting = None           # the invocation whose log lines these are

    # --- logs ---

    def log_lines(self, lines):
        self.services.logs.put(self.config["region"], self.config["log_group"], self.stream, lines)
        collecting = self.collecting
        if collecting is not None:
            collecting.log_lines.extend(lines)

    def sync_logs(self, flush=False):
        if self.pump is not None:
            self.pump.drain(flush)

    # --- start ---

    def environment_variables(self):
        c = self.config
        credentials = self.credentials
        variables = {
            "PATH": "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
            "LANG": "en_US.UTF-8", "TZ": ":UTC",
            "LD_LIBRARY_PATH": (f"/lib64:/usr/lib64:{self.directory}/runtime:"
                                f"{self.directory}/runtime/lib:{self.task_root}:"
                                f"{self.task_root}/lib:/opt/lib"),
            # As LocalStack does: the AWS SDKs and ssmbak read it, so the code
            # under test needs no path of its own for the emulator.
            "AWS_ENDPOINT_URL": self.services.endpoint,
        }
        if self.services.ca_bundle:
            variables["AWS_CA_BUNDLE"] = self.services.ca_bundle
        variables.update(c["variables"])
        variables.update({
            "_HANDLER": c["handler"] or "",
            "AWS_REGION": c["region"], "AWS_DEFAULT_REGION": c["region"],
            "AWS_LAMBDA_FUNCTION_NAME": c["name"],
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(c["memory"]),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": c["log_group"],
            "AWS_LAMBDA_LOG_STREAM_NAME": self.stream,
            "AWS_LAMBDA_RUNTIME_API": self.api_address,
            "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": credentials["SessionToken"],
            "LAMBDA_TASK_ROOT": self.task_root,
            "LAMBDA_RUNTIME_DIR": os.path.join(self.directory, "runtime"),
        })
        return variables

    def start(self):
        """Unzip, issue the role's credentials, spawn `bootstrap`. A failure
        to start becomes the init error of the first invocation."""
        c = self.config
        self.services.logs.ensure_stream(c["region"], c["log_group"], self.stream)
        self.credentials = self.services.credentials.issue(
            c["assumed_role_arn"], c["assumed_role_id"], CREDENTIALS_SECONDS)
        self.credentials_expire = self.services.clock.now() + CREDENTIALS_SECONDS
        self.log_lines([f"INIT_START Runtime Version: {c['runtime'].replace('.', ':')}.localaws\t"
                        f"Runtime Version ARN: arn:aws:lambda:{c['region']}::runtime:localaws"])
        os.makedirs(self.task_root)
        try:
            extract(c["code"], self.task_root)
        except (zipfile.BadZipFile, OSError) as error:
            return self._cannot_start("Runtime.InvalidEntrypoint", f"could not unzip: {error}")
        bootstrap = os.path.join(self.task_root, "bootstrap")
        if not os.path.isfile(bootstrap):
            return self._cannot_start("Runtime.InvalidEntrypoint",
                                      "Couldn't find valid bootstrap(s): [/var/task/bootstrap "
                                      "/opt/bootstrap]")
        self.started = time.monotonic()
        try:
            self.process = subprocess.Popen(
                [bootstrap], cwd=self.task_root, env=self.environment_variables(),
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                start_new_session=True, close_fds=True)
        except OSError as error:
            reason = {errno.EACCES: "permission denied",
                      errno.ENOEXEC: "exec format error"}.get(error.errno, error.strerror)
            return self._cannot_start("Runtime.InvalidEntrypoint",
                                      f"fork/exec /var/task/bootstrap: {reason}")
        self.pump = LogPump(self.process.stdout.fileno(), self.log_lines)
        threading.Thread(target=self._watch, name="lambda-process", daemon=True).start()
        threading.Thread(target=self._sample, name="lambda-rss", daemon=True).start()

    def _cannot_start(self, error_type, message):
        with self.cond:
            self.init_failure = (error_type, message)
            self.exit_status = "not started"
            self.cond.notify_all()

    def _watch(self):
        code = self.process.wait()
        with self.cond:
            self.exit_status = (f"signal: {signal.Signals(-code).name.lower().removeprefix('sig')}"
                                if code < 0 else f"exit status {code}")
            self.cond.notify_all()

    def _sample(self):
        """Peak RSS while the process lives (VmHWM is already a high-water mark;
        sampling keeps the last value should the process die)."""
        while self.exit_status is None:
            self.sample_rss()
            time.sleep(SAMPLE_SECONDS)

    def sample_rss(self):
        if self.process is not None:
            peak = read_status_kb(self.process.pid, "VmHWM")
            if peak and peak > self.peak_rss_kb:
                self.peak_rss_kb = peak

    @property
    def pid(self):
        return self.process.pid if self.process else None

    @property
    def init_duration_ms(self):
        if self.started is None or self.first_next is None:
            return None
        return (self.first_next - self.started) * 1000

    def usable(self, revision):
        return (self.exit_status is None and not self.closing and self.revision == revision
                and self.services.clock.now() < self.credentials_expire - CREDENTIALS_MARGIN)

    # --- Runtime API ---

    def next_invocation(self, handler):
        with self.cond:
            if self.first_next is None:
                self.first_next = time.monotonic()
                self.cond.notify_all()
            while self.pending is None and not self.closing:
                self.cond.wait(0.5)
            if self.closing:
                invocation = None
            else:
                invocation, self.pending = self.pending, None
                invocation.picked = time.monotonic()
                self.current = invocation
                self.cond.notify_all()
        if invocation is None:
            # Shutting down: the runtime loop ends, and a sanitizer build
            # gets to print its leak report into the log.
            return handler.reply(500, {"errorType": "Runtime.ShuttingDown",
                                       "errorMessage": "the execution environment is shutting down"})
        self.sync_logs()
        self.collecting = invocation
        self.log_lines([f"START RequestId: {invocation.request_id} Version: $LATEST"])
        deadline_ms = int((time.time() + invocation.timeout) * 1000)
        c = self.config
        trace = (f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};"
                 f"Parent={secrets.token_hex(8)};Sampled=0")
        handler.reply(200, raw=invocation.payload, headers=[
            ("Lambda-Runtime-Aws-Request-Id", invocation.request_id),
            ("Lambda-Runtime-Deadline-Ms", str(deadline_ms)),
            ("Lambda-Runtime-Invoked-Function-Arn", c["arn"]),
            ("Lambda-Runtime-Trace-Id", trace)])

    def answer(self, handler, request_id, kind, body):
        with self.cond:
            invocation = self.current
            if invocation is None or invocation.request_id != request_id:
                known = False
            else:
                known = True
                if kind == "response" and len(body) > MAX_RESPONSE_BYTES:
                    invocation.fail("error", "Function.ResponseSizeTooLarge",
                                    f"Response payload size ({len(body)} bytes) exceeded maximum "
                                    f"allowed payload size ({MAX_RESPONSE_BYTES} bytes).")
                else:
                    invocation.outcome = kind
                    invocation.result = body
                    if kind == "error":
                        invocation.error_type = handler.headers.get(
                            "Lambda-Runtime-Function-Error-Type") or "Unhandled"
                    invocation.finished = time.monotonic()
                self.current = None
                self.cond.notify_all()
        if not known:
            return handler.reply(400, {"errorType": "InvalidRequestID",
                                       "errorMessage": "Invalid request ID"})
        if invocation.error_type == "Function.ResponseSizeTooLarge":
            return handler.reply(413, {"errorType": "RequestEntityTooLarge",
                                       "errorMessage": "Exceeded maximum allowed payload size "
                                                       f"({MAX_RESPONSE_BYTES} bytes)."})
        handler.reply(202, {"status": "OK"})

    def init_error(self, handler, body):
        try:
            document = json.loads(body or b"{}")
        except ValueError:
            document = {}
        error_type = handler.headers.get("Lambda-Runtime-Function-Error-Type") \
            or document.get("errorType") or "Runtime.Unknown"
        with self.cond:
            self.init_failure = (error_type, document.get("errorMessage", ""))
            self.cond.notify_all()
        handler.reply(202, {"status": "OK"})

    # --- one invocation ---

    def run(self, invocation):
        """Hands the invocation to the runtime; returns once it has an outcome."""
        with self.cond:
            invocation.cold = self.invocations == 0
            self.invocations += 1
            self.pending = invocation
            self.cond.notify_all()
            while invocation.outcome is None:
                now = time.monotonic()
                if invocation.picked is None:
                    if self.init_failure is not None and self.first_next is None:
                        error_type, message = self.init_failure
                        invocation.fail("init_error", error_type, message)
                        break
                    if self.exit_status is not None:
                        invocation.fail("crash", "Runtime.ExitError",
                                        f"RequestId: {invocation.request_id} Error: Runtime "
                                        f"exited with error: {self.exit_status}")
                        break
                    deadline = (self.started + INIT_LIMIT_SECONDS if self.first_next is None
                                else invocation.submitted + invocation.timeout)
                else:
                    if self.exit_status is not None:
                        invocation.fail("crash", "Runtime.ExitError",
                                        f"RequestId: {invocation.request_id} Error: Runtime "
                                        f"exited with error: {self.exit_status}")
                        break
                    deadline = invocation.picked + invocation.timeout
                if now >= deadline:
                    invocation.fail("timeout", "Sandbox.Timedout",
                                    f"RequestId: {invocation.request_id} Error: Task timed out "
                                    f"after {invocation.timeout:.2f} seconds")
                    break
                self.cond.wait(min(deadline - now, 0.5))
            if self.pending is invocation:
                self.pending = None
            if self.current is invocation:
                self.current = None
        invocation.init_duration_ms = self.init_duration_ms if invocation.cold else None
        self.sample_rss()
        if invocation.outcome in ("timeout", "crash", "init_error"):
            self.kill()
        self._report(invocation)
        return invocation

    def _report(self, invocation):
        self.sync_logs(flush=True)
        rid = invocation.request_id
        lines = []
        if invocation.outcome == "timeout":
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.services.clock.now()))
            lines.append(f"{stamp}Z {rid} Task timed out after {invocation.timeout:.2f} seconds")
        elif invocation.outcome in ("crash", "init_error"):
            error = json.loads(invocation.result)
            if invocation.outcome == "init_error" and invocation.picked is None:
                lines.append(f"INIT_REPORT Init Duration: {invocation.duration_ms:.2f} ms\t"
                             f"Phase: init\tStatus: error\tError Type: {invocation.error_type}")
                lines.append(f"START RequestId: {rid} Version: $LATEST")
            lines.append(f"RequestId: {rid} Error: {error['errorMessage']}\n{invocation.error_type}"
                         if invocation.outcome == "crash" else
                         f"Error: {error['errorMessage']} {invocation.error_type}")
        lines.append(f"END RequestId: {rid}")
        report = (f"REPORT RequestId: {rid}\tDuration: {invocation.duration_ms:.2f} ms\t"
                  f"Billed Duration: {max(math.ceil(invocation.duration_ms), 1)} ms\t"
                  f"Memory Size: {self.config['memory']} MB\t"
                  f"Max Memory Used: {math.ceil(self.peak_rss_kb / 1024)} MB\t")
        if invocation.init_duration_ms is not None:
            report += f"Init Duration: {invocation.init_duration_ms:.2f} ms\t"
        if invocation.outcome in ("timeout", "crash", "init_error"):
            report += f"Status: {'timeout' if invocation.outcome == 'timeout' else 'error'}\t"
            if invocation.outcome != "timeout":
                report += f"Error Type: {invocation.error_type}\t"
        lines.append(report)
        self.collecting = None
        self.services.logs.put(self.config["region"], self.config["log_group"], self.stream, lines)
        invocation.log_lines.extend(lines)

    # --- stop ---

    def kill(self):
        """SIGKILL the process group (a timeout, a crash, localaws stopping)."""
        if self.process is not None and self.process.poll() is None:
            self.sample_rss()
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._reap()

    def stop(self):
        """Graceful: the pending /next answers 500, the runtime exits on its
        own (running its atexit and sanitizer reports); then SIGKILL."""
        with self.cond:
            self.closing = True
            self.cond.notify_all()
        if self.process is not None:
            try:
                self.process.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                pass
        self.kill()
        self.server.shutdown()
        self.server.server_close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def _reap(self):
        if self.process is None:
            return
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            log.error("process %s did not die", self.process.pid)
        with self.cond:
            self.closing = True
            self.cond.notify_all()
        if self.pump is not None:
            self.pump.finish()
        try:
            self.process.stdout.close()
        except OSError:
            pass

    def describe(self):
        return {"pid": self.pid, "log_stream": self.stream, "revision": self.revision,
                "init_duration_ms": self.init_duration_ms, "peak_rss_kb": self.peak_rss_kb,
                "invocations": self.invocations,
                "exit_status": self.exit_status if self.exit_status != "not started" else None,
                "running": self.exit_status is None}


class Runner:
    """A function's environment and its invocation history (for the stats)."""

    def __init__(self, function, services):
        self.function = function         # lambda_.Function: read at each start and invoke
        self.services = services
        self.lock = threading.Lock()     # one invocation at a time
        self.environment = None
        self.history = []                # invocation records
        self.processes = []              # environments' descriptions, oldest first
        self.closed = False

    def invoke(self, payload):
        with self.lock:
            if self.closed:
                raise RuntimeError("function deleted")
            function = self.function
            environment = self.environment
            if environment is None or not environment.usable(function.revision):
                if environment is not None:
                    environment.stop()
                environment = self.environment = Environment(
                    function.snapshot(), self.services, function.revision)
                self.processes.append(environment)
                environment.start()
            invocation = environment.run(Invocation(payload, function.timeout))
            self._record(environment, invocation)
            if invocation.outcome in ("timeout", "crash", "init_error") \
                    or environment.revision != self.function.revision:
                environment.stop()
                self.environment = None
            return invocation

    def _record(self, environment, invocation):
        self.history.append({
            "request_id": invocation.request_id, "status": invocation.outcome,
            "error_type": invocation.error_type, "cold_start": invocation.cold,
            "duration_ms": round(invocation.duration_ms, 3),
            "billed_duration_ms": max(math.ceil(invocation.duration_ms), 1),
            "init_duration_ms": (None if invocation.init_duration_ms is None
                                 else round(invocation.init_duration_ms, 3)),
            "peak_rss_kb": environment.peak_rss_kb,
            "max_memory_used_mb": math.ceil(environment.peak_rss_kb / 1024),
            "pid": environment.pid, "log_stream": environment.stream})

    def retire(self):
        """The code or configuration changed: an idle process goes now, a busy
        one after its invocation (Runner.invoke checks the revision)."""
        if self.lock.acquire(blocking=False):
            try:
                if self.environment is not None:
                    self.environment.stop()
                    self.environment = None
            finally:
                self.lock.release()

    def shutdown(self, graceful=True):
        """Function deleted or localaws stopping: every process goes."""
        self.closed = True
        environment = self.environment
        if environment is not None:
            if graceful:
                environment.stop()
            else:
                environment.kill()
                environment.stop()
            self.environment = None

    def stats(self):
        processes = [e.describe() for e in self.processes]
        inits = [p["init_duration_ms"] for p in processes if p["init_duration_ms"] is not None]
        peaks = [p["peak_rss_kb"] for p in processes if p["peak_rss_kb"]]
        return {"invocations": list(self.history), "processes": processes,
                "summary": {"invocations": len(self.history),
                            "cold_starts": sum(1 for h in self.history if h["cold_start"]),
                            "errors": sum(1 for h in self.history if h["status"] != "response"),
                            "max_init_duration_ms": round(max(inits), 3) if inits else None,
                            "max_peak_rss_kb": max(peaks) if peaks else None}}


def log_tail(invocation):
    """X-Amz-Log-Result: the last 4 KB of the invocation's log, base64."""
    text = "\n".join(invocation.log_lines) + "\n"
    return base64.b64encode(text.encode()[-4096:]).decode()
