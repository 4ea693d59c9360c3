"""A steady load of ``POST /invocations`` that stops a server partway and records every request.

``run_load(port, stop)`` keeps ``connections`` client threads busy at a steady rate (one request
every ``interval`` seconds, handed to whichever thread is idle), calls ``stop()`` once the load has
run ``warmup`` seconds, and goes on sending until the server refuses a connection (it is gone) or
``deadline`` passes. Standard library only: ``http.client`` over threads.

Every request is a new connection (``Connection: close``): each request's fate is then its own
(no idle keep-alive connection that a stopping server may close under the next request), and
"the server refuses connections" is a plain ECONNREFUSED.

When the stop lands
-------------------
The dispatcher (the thread that calls ``run_load``) hands out every send, and it calls ``stop()``
itself, halfway between two sends. A request the kernel has queued on the listening socket but the
server has not accepted yet is lost by every server's graceful stop, whatever the init: gunicorn,
uvicorn and nginx all close their listeners first. Landing the stop half an interval after the
last send gives each request sent before it time to be accepted, so a failure among them is the
stop's doing, not that race. ``Report.last_send_gap`` says how long it really was.

A request counts as *sent before the stop* when its last byte was handed to the kernel before
``stop()`` was called; *in flight at the stop* when it was sent before and answered (or failed)
after.
"""

import collections
import dataclasses
import http.client
import json
import queue
import socket
import threading
import time

PATH = "/invocations"


@dataclasses.dataclass
class Request:
    connection: int
    ident: str
    sent: float = None       # monotonic: the request was written to the socket
    done: float = None       # monotonic: the response was read, or the request failed
    status: int = None
    complete: bool = False   # a 200 whose body is whole and echoes this request's ident
    error: str = None        # refused, reset, closed without response, incomplete body, timeout, ...

    @property
    def ok(self):
        return self.status == 200 and self.complete and self.error is None


@dataclasses.dataclass
class Report:
    requests: list
    stop_at: float           # monotonic: just before stop() was called (inf: the load ended before)
    ended_by: str            # "refused" or "deadline"
    skipped_ticks: int       # sends not made because every connection was busy

    @property
    def last_send_gap(self):
        """Seconds between the last send before the stop and the stop."""
        return self.stop_at - max((r.sent for r in self.before), default=float("nan"))

    @property
    def before(self):
        return [r for r in self.requests if r.sent is not None and r.sent < self.stop_at]

    @property
    def failed_before(self):
        return [r for r in self.before if not r.ok]

    @property
    def in_flight(self):
        return [r for r in self.before if r.done is not None and r.done > self.stop_at]

    @property
    def after(self):
        return [r for r in self.requests if r not in self.before]

    def errors(self, requests):
        return collections.Counter(r.error or f"status {r.status}" for r in requests if not r.ok)

    def summary(self):
        return (f"sent before the stop: {len(self.before)}, failed among them: {len(self.failed_before)} "
                f"{dict(self.errors(self.before))}, in flight at the stop: {len(self.in_flight)}, "
                f"last send {self.last_send_gap * 1000:.0f} ms before the stop; after the stop: "
                f"{len(self.after)} requests, {dict(self.errors(self.after))}; ended by {self.ended_by}")

    def lines(self):
        """One line per request, times relative to the stop (for a failing test's output)."""
        out = []
        for r in self.requests:
            sent = "-" if r.sent is None else f"{r.sent - self.stop_at:+.3f}"
            done = "-" if r.done is None else f"{r.done - self.stop_at:+.3f}"
            out.append(f"{r.ident} sent {sent} done {done} status {r.status} complete {r.complete} "
                       f"error {r.error}")
        return out


def classify(exc):
    """A short name for why a request failed."""
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "closed without response"
    if isinstance(exc, ConnectionResetError):
        return "reset"
    if isinstance(exc, BrokenPipeError):
        return "closed while sending"
    if isinstance(exc, http.client.IncompleteRead):
        return "incomplete body"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timeout"
    return f"{type(exc).__name__}: {exc}"


def send(port, request, timeout):
    """One request on a new connection; fills in the record, never raises."""
    body = json.dumps({"id": request.ident}).encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.connect()
        conn.request("POST", PATH, body=body,
                     headers={"Content-Type": "application/json", "Connection": "close"})
        request.sent = time.monotonic()
        response = conn.getresponse()
        request.status = response.status
        data = response.read()  # raises IncompleteRead when the body is cut short
        request.complete = request.ident.encode() in data
    except Exception as exc:  # every failure is a result to record
        request.error = classify(exc)
    finally:
        request.done = time.monotonic()
        conn.close()


class Connection(threading.Thread):
    """A client thread: sends one request per ticket it is handed, one at a time."""

    def __init__(self, index, port, timeout, on_done):
        super().__init__(daemon=True, name=f"load-{index}")
        self.index = index
        self.port = port
        self.timeout = timeout
        self.on_done = on_done
        self.tickets = queue.Queue()
        self.idle = threading.Event()
        self.idle.set()

    def run(self):
        while True:
            request = self.tickets.get()
            if request is None:
                return
            send(self.port, request, self.timeout)
            self.idle.set()
            self.on_done(request)


def run_load(port, stop, connections=4, interval=0.1, warmup=1.0, deadline=60.0, timeout=45.0):
    """Load the server on 127.0.0.1:port, call stop() after warmup seconds, return a Report."""
    requests = []
    refused = threading.Event()

    def on_done(request):
        if request.error == "refused":
            refused.set()

    threads = [Connection(i, port, timeout, on_done) for i in range(connections)]
    for thread in threads:
        thread.start()
    start = time.monotonic()
    stop_at = None
    last_dispatch = start
    skipped = 0
    tick = 0
    while not refused.is_set():
        if stop_at is not None and time.monotonic() - stop_at > deadline:
            break
        due = start + tick * interval
        if stop_at is None and due - start >= warmup:
            # Halfway between two sends (see the module docstring), also when this thread ran late.
            middle = max(due - interval / 2, last_dispatch + interval / 2)
            refused.wait(max(middle - time.monotonic(), 0))
            stop_at = time.monotonic()
            stop()
        if refused.wait(max(due - time.monotonic(), 0)):
            break
        tick += 1
        idle = [t for t in threads if t.idle.is_set()]
        if not idle:
            skipped += 1
            continue
        thread = min(idle, key=lambda t: (t.index - tick) % connections)  # round robin over the idle
        thread.idle.clear()
        request = Request(thread.index, f"c{thread.index}-r{tick}")
        requests.append(request)
        last_dispatch = time.monotonic()
        thread.tickets.put(request)
    for thread in threads:
        thread.tickets.put(None)
    for thread in threads:
        thread.join(timeout + 5)
    stop_at = float("inf") if stop_at is None else stop_at
    return Report(requests, stop_at, "refused" if refused.is_set() else "deadline", skipped)
