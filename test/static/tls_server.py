#!/usr/bin/python3
"""A throwaway HTTPS server on 127.0.0.1 for test/static/run.sh.

Usage: tls_server.py CERT KEY PORTFILE REQUESTLOG [LIFETIME_SECONDS]

Answers every request with 200 and the body "ssmbak-static-ok", writes the
port it got to PORTFILE once listening, appends one line per request to
REQUESTLOG, and stops by itself after LIFETIME_SECONDS (default 120) in
case the script that started it dies before stopping it.
"""
import http.server
import os
import ssl
import sys
import threading

BODY = b"ssmbak-static-ok\n"


def main():
    cert, key, portfile, requestlog = sys.argv[1:5]
    lifetime = float(sys.argv[5]) if len(sys.argv) > 5 else 120.0

    class Handler(http.server.BaseHTTPRequestHandler):
        def answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            with open(requestlog, "a", encoding="utf-8") as f:
                f.write(f"{self.command} {self.path} "
                        f"host={self.headers.get('Host')}\n")
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(BODY)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = answer

        def log_message(self, fmt, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    timer = threading.Timer(lifetime, server.shutdown)
    timer.daemon = True
    timer.start()
    with open(portfile + ".tmp", "w", encoding="utf-8") as f:
        f.write(str(server.server_address[1]))
    # Renamed into place so the reader never sees a half-written port.
    os.rename(portfile + ".tmp", portfile)
    server.serve_forever()


if __name__ == "__main__":
    main()
