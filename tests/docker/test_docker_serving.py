"""`docker stop` of Dockerfile.example's serve mode under a steady load: not one request lost.

The same load as tests/serving (helpers/load.py: 4 connections, one POST /invocations every 0.1 s,
each taking 0.3 s in the server: SERVE_INVOCATION_SECONDS) runs from before the stop until the
published port refuses connections; `docker stop -t 30` (an endpoint update's stop) lands halfway
between two requests. Every request sent before it must get a complete 200, and sm-init must pass on
the server's exit 0 before Docker's SIGKILL.
"""
import socket
import threading
import time
import urllib.request

import pytest

from helpers.docker_harness import container_logs, wait_exit, wait_for_log
from helpers.load import run_load

pytestmark = [pytest.mark.docker, pytest.mark.serving, pytest.mark.timeout(900)]

STOP_TIMEOUT = 30  # SageMaker's stop timeout for an endpoint update
SLOW = {"SERVE_INVOCATION_SECONDS": "0.3"}


def start_serving(harness, containers):
    """Start `serve`; return (container, host port). Bridge: 8080 published on 127.0.0.1."""
    if harness.network_mode == "bridge":
        c = containers(["serve"], environment=SLOW, ports={"8080/tcp": ("127.0.0.1", None)})
        wait_for_log(c, r"^serve: listening on port 8080", timeout=60)
        c.reload()
        return c, int(c.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"])
    with socket.socket() as s:  # dockerd without a bridge: host network, a free port of the host
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = containers(["serve"], environment={**SLOW, "SAGEMAKER_BIND_TO_PORT": str(port)})
    wait_for_log(c, r"^serve: listening on port %d" % port, timeout=60)
    return c, port


def wait_ping(port, timeout=30):
    """The published port may need a moment after the server listens."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/ping" % port, timeout=5) as r:
                if r.status == 200:
                    return
        except OSError as e:
            if time.monotonic() > deadline:
                raise AssertionError("/ping on port %d: %s" % (port, e))
        time.sleep(0.1)


def test_docker_stop_under_load(harness, containers):
    c, port = start_serving(harness, containers)
    wait_ping(port)
    stopped = {}

    def docker_stop():
        # docker stop blocks until the container is gone: the load goes on meanwhile.
        def stop():
            c.stop(timeout=STOP_TIMEOUT)
        stopped["thread"] = threading.Thread(target=stop, daemon=True)
        stopped["thread"].start()

    report = run_load(port, docker_stop)
    stopped["thread"].join(STOP_TIMEOUT + 30)
    code = wait_exit(c, 10)
    out = container_logs(c)
    print(report.summary(), "\n".join(report.lines()), out, sep="\n")
    assert report.in_flight, "no request was in flight at the stop: " + report.summary()
    assert len(report.failed_before) == 0, report.summary()
    assert code == 0, out  # not 137: sm-init exited on its own, Docker did not have to SIGKILL it
    assert "serve: received SIGTERM" in out and "sm-init: exit: 0" in out, out
