"""The model behind every serving layout, three ways: a WSGI app (gunicorn), an ASGI app (uvicorn)
and a plain threaded HTTP server (the upstream that stands for a service outside the container).

``GET /ping`` answers ``{}`` at once. ``POST /invocations`` takes SERVING_SLEEP seconds (default
0.3: a model's inference time, long enough for requests to be in flight when the stop lands), then
answers 200 with the request body echoed back, so the client can tell a whole, right answer.
"""

import asyncio
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SLEEP = float(os.environ.get("SERVING_SLEEP", "0.3"))
REASONS = {200: "OK", 404: "Not Found"}


def answer(path, body):
    """(status, body bytes) for a request that has already waited its inference time."""
    if path == "/ping":
        return 200, b"{}"
    if path == "/invocations":
        return 200, json.dumps({"echo": body.decode("utf-8", "replace"), "pid": os.getpid()}).encode()
    return 404, b'{"error": "not found"}'


def wsgi(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    if environ["PATH_INFO"] == "/invocations":
        time.sleep(SLEEP)
    status, data = answer(environ["PATH_INFO"], body)
    start_response(f"{status} {REASONS[status]}",
                   [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


async def asgi(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    if scope["path"] == "/invocations":
        await asyncio.sleep(SLEEP)
    status, data = answer(scope["path"], body)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})


class _Handler(BaseHTTPRequestHandler):
    def _serve(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path == "/invocations":
            time.sleep(SLEEP)
        status, data = answer(self.path, body)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _serve

    def log_message(self, fmt, *args):
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a proxy that stopped fast hangs up on requests in flight: the client side counts those


class Upstream:
    """The model served from this process, in threads: a service outside the container."""

    def __init__(self):
        self.server = _Server(("127.0.0.1", 0), _Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
