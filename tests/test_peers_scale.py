"""The peers feature at scale, small: 32 hosts of one job on loopback, a real sm-init each
(helpers/peersim.py, in a PID and network namespace of its own; bench/multihost.py runs the same at
256 hosts and more). One host fails, or freezes, or dies: every other host ends, by the verdict,
within its bound, and names the host.

Speed is the bench's business: the bounds here are the contract's (a report travels at once, a
silent host is noticed a peer timeout later, then the stop), never tighter than the stop timeout.
"""
import json
import os
import shutil
import subprocess

import pytest

from helpers import peersim
from helpers.realinit import SM_INIT

HOSTS = 32
HEARTBEAT, PEER_TIMEOUT, STOP_TIMEOUT = 1, 5, 5
PEER_FAILED = 123

pytestmark = pytest.mark.timeout(600)


def simulate(tmp_path, event, victim="algo-2"):
    if os.geteuid() != 0 or not shutil.which("unshare"):
        if os.environ.get("CI", "").lower() in ("1", "true", "yes", "on"):
            pytest.fail("CI=true: the simulation needs root and unshare")
        pytest.skip("the simulation needs root and unshare (namespaces of its own)")
    argv = [str(tmp_path), "--hosts", str(HOSTS), "--event", event, "--victim", victim, "--sm-init", SM_INIT,
            "--heartbeat", str(HEARTBEAT), "--peer-timeout", str(PEER_TIMEOUT), "--stop-timeout", str(STOP_TIMEOUT),
            "--steady", "3", "--join-wait", "120", "--exit-wait", "120"]
    out = subprocess.run(peersim.namespace_command(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=400)
    assert out.returncode == 0, out.stderr.decode(errors="replace")
    result = json.loads(out.stdout)
    assert "error" not in result, json.dumps(result, indent=1)
    return result


def assert_every_host_stopped(result, within, culprit):
    assert result["ended"] == HOSTS - 1, json.dumps(result, indent=1)
    assert result["to_every_exit"] <= within, "the last host ended %.1f s after the event (bound %s s): %s" % (
        result["to_every_exit"], within, json.dumps(result.get("slowest"), indent=1))
    assert result["codes"] == [PEER_FAILED], result["codes"]
    for line in result["failure_lines"]:
        assert line is not None and culprit in line, result["failure_lines"]


def test_a_failing_host_stops_every_host(tmp_path, figures):
    result = simulate(tmp_path, "fail")
    assert_every_host_stopped(result, STOP_TIMEOUT + HEARTBEAT,
                              "first observed failure: algo-2 (exit 1: RuntimeError: host two exploded)")
    figures("multihost_scale", **result)


def test_a_frozen_host_is_lost(tmp_path, figures):
    result = simulate(tmp_path, "freeze")
    assert_every_host_stopped(result, PEER_TIMEOUT + HEARTBEAT + STOP_TIMEOUT, "algo-2 lost: silent for")
    figures("multihost_scale", **result)


def test_a_frozen_coordinator_is_lost_contact(tmp_path, figures):
    result = simulate(tmp_path, "freeze", victim="algo-1")
    assert_every_host_stopped(result, PEER_TIMEOUT + HEARTBEAT + STOP_TIMEOUT, "lost contact with algo-1")
    figures("multihost_scale", **result)


def test_a_killed_host_is_named(tmp_path, figures):
    """Gone with its sockets closed (SIGKILL): noticed at once or a peer timeout later, never later."""
    result = simulate(tmp_path, "kill")
    assert_every_host_stopped(result, PEER_TIMEOUT + HEARTBEAT + STOP_TIMEOUT, "algo-2")
    figures("multihost_scale", **result)
