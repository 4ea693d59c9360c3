"""Fixtures that run the real sm-init over real process trees, as PID 1 and as subreaper.

The machinery lives in ``realinit.py`` (test modules import it from there: ``tests/docker`` has a
conftest of its own, so ``from conftest import`` would be ambiguous).
"""

import os

import pytest

from realinit import CAN_UNSHARE, SM_INIT, Init  # noqa: F401  (SM_INIT: tests may patch it here)


MODES = ["pid1", "subreaper"]


@pytest.fixture(params=MODES)
def mode(request):
    if request.param == "pid1" and not CAN_UNSHARE:
        if os.environ.get("CI"):
            pytest.fail("CI: unshare --pid --fork --mount-proc is not available; PID-1 tests must run")
        pytest.skip("needs root and unshare --pid for a PID namespace")
    return request.param


@pytest.fixture
def start_init(mode):
    """start_init(*sm_init_args, env=None) -> Init, in the mode under test; cleaned up after."""
    runs = []

    def start(*args, **kwargs):
        run = Init(list(args), pid1=(mode == "pid1"), sm_init=SM_INIT, **kwargs)
        runs.append(run)
        return run

    yield start
    for run in runs:
        run.cleanup()
