"""No request lost when a serving container stops: every common serving layout, under load, with
sm-init as PID 1 in serve mode and its defaults (or the layout's documented setting).

A steady load (helpers/load.py: 4 connections, one POST /invocations every 0.1 s, 0.3 s each) runs
from before the stop until the server refuses connections; SIGTERM goes to sm-init as `docker stop`
sends it. Each test shows that requests were in flight at the stop, and asserts that every request
sent before it got a complete 200, that sm-init exited with the main child's status before its stop
timeout, and that nothing of the tree is left. A failing test prints every request and the stop
lines of sm-init and the servers (nginx names each signal it receives).
"""

import os
import shutil
import sys

import pytest

from helpers.realinit import CAN_UNSHARE
from layouts import LAYOUTS, NGINX_WORKER, Layout, nginx_alone
from trial import STOP_TIMEOUT, run_trial

pytestmark = [pytest.mark.serving, pytest.mark.pid1]

TOOLS = ["nginx", "gunicorn", "uvicorn"]


@pytest.fixture(scope="module", autouse=True)
def tools():
    """nginx comes from Debian (tests/run installs it as root), gunicorn and uvicorn from the
    test extra: they sit beside this python."""
    path = os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]
    missing = [tool for tool in TOOLS if not shutil.which(tool, path=path)]
    problems = []
    if missing:
        problems.append(f"missing {', '.join(missing)} (tests/run installs them)")
    if not CAN_UNSHARE:
        problems.append("needs root and unshare --pid for a PID namespace")
    if problems:
        if os.environ.get("CI"):
            pytest.fail("CI: " + "; ".join(problems))
        pytest.skip("; ".join(problems))


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda layout: layout.name)
def test_no_request_lost(layout, tmp_path):
    outcome = run_trial(layout, "sm-init", str(tmp_path))
    print(outcome.text())  # pytest shows it when the test fails
    report = outcome.report
    assert report.in_flight, f"no request was in flight at the stop: {report.summary()}"
    assert len(report.failed_before) == 0, (f"{layout.name}: requests sent before the stop failed: "
                                      f"{report.summary()}\n" + "\n".join(outcome.stop_lines()))
    assert outcome.exit_code == layout.exit_code, "\n".join(outcome.stop_lines())
    assert outcome.stop_seconds < STOP_TIMEOUT
    assert outcome.survivors == 0


def test_a_fast_stop_is_seen(tmp_path):
    """The load client sees lost requests: nginx given SIGTERM (its fast stop) cuts those in flight."""
    layout = Layout("nginx-sigterm", nginx_alone, ((NGINX_WORKER, 2),), sm_init=("--signal-scope", "child"),
                    upstream=True)
    outcome = run_trial(layout, "sm-init", str(tmp_path))
    print(outcome.text())
    report = outcome.report
    failed = {r.ident for r in report.failed_before}
    assert failed, report.summary()
    assert failed <= {r.ident for r in report.in_flight}, report.summary()  # none before it was sent
    assert set(report.errors(report.failed_before)) <= {"closed without response", "reset"}, report.summary()
    assert any("signal 15 (SIGTERM) received" in line for line in outcome.stop_lines())
