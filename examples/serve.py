#!/usr/bin/env python3
"""Example SageMaker inference server bundled with Dockerfile.example (stdlib only).

GET /ping answers 200; POST /invocations answers a JSON echo of the request, after
SERVE_INVOCATION_SECONDS seconds (default 0: set it to stand for a model's inference time, as the
tests do to have requests in flight when a stop lands). Listens on 8080, or on
SAGEMAKER_BIND_TO_PORT when set (inference pipelines). On SIGTERM (or SIGINT) it stops accepting,
lets requests in flight finish, and exits 0.
"""
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


INVOCATION_SECONDS = float(os.environ.get("SERVE_INVOCATION_SECONDS") or 0)


def log(msg):
    # One write per line: with PYTHONUNBUFFERED=1 print writes the text and its newline apart,
    # and another thread or process can write in between.
    sys.stdout.write("serve: " + msg + "\n")
    sys.stdout.flush()


class Handler(BaseHTTPRequestHandler):
    server_version = "sm-init-example/1"

    def _send(self, code, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else body.encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/ping":
            self._send(200, b"{}")
        else:
            self._send(404, json.dumps({"error": "not found"}))

    def do_POST(self):
        if self.path != "/invocations":
            self._send(404, json.dumps({"error": "not found"}))
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        time.sleep(INVOCATION_SECONDS)
        reply = {"received_bytes": len(body),
                 "content_type": self.headers.get("Content-Type", ""),
                 "echo": body.decode("utf-8", "replace")}
        self._send(200, json.dumps(reply))

    def log_message(self, fmt, *args):
        log("%s %s" % (self.address_string(), fmt % args))


def main():
    port = int(os.environ.get("SAGEMAKER_BIND_TO_PORT") or 8080)
    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    server.daemon_threads = False
    server.block_on_close = True
    stopping = []

    def on_signal(signum, frame):
        if stopping:
            return
        stopping.append(signum)
        log("received %s, shutting down" % signal.Signals(signum).name)
        # shutdown() waits for serve_forever to return: call it from another thread.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log("listening on port %d pid=%d" % (port, os.getpid()))
    server.serve_forever(poll_interval=0.2)
    server.server_close()
    log("stopped cleanly")
    return 0


if __name__ == "__main__":
    sys.exit(main())
