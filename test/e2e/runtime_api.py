"""A stand-in for the Lambda Runtime API (only what a custom runtime uses),
so backup-lambda can be driven event by event and its answers read.
https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html"""
import http.server
import json
import queue
import socket
import threading
import time
import uuid


class RuntimeApi:
    def __init__(self, function_timeout=30):
        self.function_timeout = function_timeout   # seconds, as the stack's Lambda
        self.events = queue.Queue()
        self.answers = {}          # request id -> ("response"|"error", body)
        self.init_error = None
        self.answered = threading.Condition()
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                # Headers and body go out as two small writes; without this
                # the second waits for the client's delayed ACK (Nagle's
                # algorithm): about 40 ms on every call.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, *args):
                pass

            def reply(self, status, body=b"", headers=()):
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path != "/2018-06-01/runtime/invocation/next":
                    return self.reply(404)
                request_id, event = api.events.get()
                if request_id is None:  # shutting down: no more events
                    return self.reply(500)
                # As Lambda: the moment the invocation times out, in epoch
                # milliseconds (its start plus the function's timeout).
                deadline = int((time.time() + api.function_timeout) * 1000)
                self.reply(200, json.dumps(event).encode(), [
                    ("Lambda-Runtime-Aws-Request-Id", request_id),
                    ("Lambda-Runtime-Deadline-Ms", str(deadline))])

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                parts = self.path.split("/")
                with api.answered:
                    if self.path == "/2018-06-01/runtime/init/error":
                        api.init_error = json.loads(body)
                    elif len(parts) == 6 and parts[5] in ("response", "error"):
                        api.answers[parts[4]] = (parts[5], json.loads(body))
                    else:
                        return self.reply(404)
                    api.answered.notify_all()
                self.reply(202, b'{"status":"OK"}')

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def invoke(self, event, timeout=None):
        """Hands one event to the function and waits for its answer (a
        little past the function's deadline by default)."""
        timeout = self.function_timeout + 5 if timeout is None else timeout
        request_id = str(uuid.uuid4())
        self.events.put((request_id, event))
        with self.answered:
            if not self.answered.wait_for(lambda: request_id in self.answers, timeout):
                raise TimeoutError("the function did not answer")
            return self.answers[request_id]

    def stop(self):
        self.events.put((None, None))
        self.server.shutdown()
        self.server.server_close()


def sqs_batch(events, ids=None):
    """An SQS event as Lambda delivers it, one record per EventBridge event."""
    records = []
    for i, event in enumerate(events):
        body = event if isinstance(event, str) else json.dumps(event)
        records.append({"messageId": ids[i] if ids else str(uuid.uuid4()), "body": body,
                        "eventSource": "aws:sqs", "receiptHandle": "rh", "attributes": {},
                        "messageAttributes": {}, "md5OfBody": "", "awsRegion": "us-east-1",
                        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:q"})
    return {"Records": records}
