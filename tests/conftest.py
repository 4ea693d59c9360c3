"""Fixtures for every test: the mode matrix, the real sm-init, and a clean place to run it.

``mode`` runs a test twice: sm-init as PID 1 of a fresh PID namespace (``pid1``) and as child
subreaper (``subreaper``); ``start_init`` starts the real sm-init in that mode and cleans up after.
The machinery, and everything else tests share, is in the ``helpers`` package beside this file
(tests/docker has a conftest of its own, so tests never import from a conftest).
"""

import os

import pytest

from helpers import figures as recorded
from helpers.fuse import StuckFuse
from helpers.realinit import SM_INIT, Init, failure_report, require_unshare

MODES = ["pid1", "subreaper"]


@pytest.fixture(params=MODES)
def mode(request):
    if request.param == "pid1":
        require_unshare()
    return request.param


@pytest.fixture
def start_init(mode, request):
    """start_init(*sm_init_args, env=None, sm_init=SM_INIT, ...) -> Init, in the mode under test;
    every run is cleaned up after the test (see ``Init`` for the other keywords), and shown by a
    failed test's report."""
    runs = request.node.sm_init_runs = []

    def start(*args, **kwargs):
        kwargs.setdefault("sm_init", SM_INIT)
        run = Init(list(args), pid1=(mode == "pid1"), **kwargs)
        runs.append(run)
        return run

    yield start
    for run in runs:
        run.cleanup()


@pytest.fixture
def stalled_fifo(tmp_path):
    """A FIFO with a reader that never reads (a stalled log driver): (path, that reader's fd)."""
    path = tmp_path / "stalled"
    os.mkfifo(path)
    fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    yield path, fd
    os.close(fd)


@pytest.fixture
def hooks_dir(tmp_path):
    """An empty --hooks-dir: the machine's own /etc/sm-init/pre-kill.d must not join the tests."""
    path = tmp_path / "pre-kill.d"
    path.mkdir()
    return str(path)


@pytest.fixture
def stuck_fuse(tmp_path):
    """A StuckFuse mounted at tmp_path/mnt. Ask for it after start_init: it is torn down first, and
    nothing of the test is left waiting (the cleanup reads every process's environment)."""
    if not os.path.exists("/dev/fuse"):
        if os.environ.get("CI"):
            pytest.fail("/dev/fuse is missing: CI runs every test")
        pytest.skip("no /dev/fuse here")
    (tmp_path / "mnt").mkdir()
    fuse = StuckFuse(tmp_path / "mnt")
    yield fuse
    fuse.abort()


@pytest.fixture
def ml(tmp_path):
    """An empty <ml-root> (SageMaker's /opt/ml) for train mode."""
    root = tmp_path / "ml"
    root.mkdir()
    return root


@pytest.fixture
def figures(request):
    """figures(name, **values): record what this test measured for tests/RELIABILITY.md (with the
    test's mode, when it has one)."""
    mode = request.getfixturevalue("mode") if "mode" in request.fixturenames else None

    def add(name, **values):
        recorded.record(name, mode, test=request.node.name, **values)
    return add


def pytest_collection_modifyitems(items):
    """A test that records figures carries the ``figures`` marker: tests/reliability.py runs those."""
    for item in items:
        if "figures" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.figures)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test shows each sm-init run it started (``failure_report``), while its processes
    still live: the report is made before the fixtures' cleanup."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        for number, run in enumerate(getattr(item, "sm_init_runs", ()), 1):
            try:
                text = failure_report(run)
            except Exception as exc:  # a report must never hide the failure it reports
                text = f"no report: {type(exc).__name__}: {exc}"
            report.sections.append((f"sm-init run {number}", text))
