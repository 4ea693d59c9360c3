"""Internal faults: an exception anywhere in sm-init after the start is logged once, the whole tree
is killed, and sm-init exits 70 within its stop timeout.

patched_sm-init.py runs the real sm-init with one function patched to raise on its Nth call (the
production code is unchanged); the signals sent to sm-init walk it into that function. Real
processes as PID 1 and as subreaper, recorded for tests/RELIABILITY.md.
"""

import signal
import sys
import time

import pytest

from helpers.commands import patched_sm_init, probe
from helpers.deadline import OBSERVED_LATE


USR1, TERM = signal.SIGUSR1, signal.SIGTERM
TREE = probe("--group-child", "--setsid-child")  # a main child with one of its group and one escaped
FAULTS = {
    # where it raises: (signals sent to sm-init, each after the main child reported the one before; main child)
    "spawn.spawn:1": ((), probe()),
    "reap.reap_children:1": ((USR1,), TREE),
    "reap.reap_children:2": ((USR1, USR1), TREE),
    "signals.send:1": ((USR1,), TREE),
    "plan.on_signal:1:MemoryError": ((TERM,), TREE),
    "hooks.discover:1": ((TERM,), TREE),
    "sweep.sweep:1": ((USR1,), probe("--setsid-child", "--exit-on", "USR1=0")),
    "plan.summary:1:KeyboardInterrupt": ((TERM,), probe("--exit-on", "TERM=0")),
}


@pytest.mark.parametrize("where", list(FAULTS))
def test_internal_fault_is_logged_once_the_tree_killed_exit_70(start_init, figures, hooks_dir, where):
    """An exception injected into sm-init (patched_sm-init.py patches one function to raise on its Nth
    call; the production code is unchanged): one error line, every process killed, exit 70."""
    triggers, main = FAULTS[where]
    stop_timeout = 3.0
    run = start_init(*patched_sm_init(f"fault={where}", "--stop-timeout", str(stop_timeout),
                                      "--hooks-dir", hooks_dir, "--", *main), sm_init=sys.executable)
    sent = time.monotonic()
    if triggers:
        run.out.expect(r"^main ready")
        if "--setsid-child" in main:
            run.out.expect(r"^escaped ready")
        if "--group-child" in main:
            run.out.expect(r"^grandchild ready")
    for index, trigger in enumerate(triggers):
        if index:
            run.out.expect(rf"^main got {signal.Signals(triggers[index - 1]).name}")
        sent = time.monotonic()
        run.signal(trigger)
    run.log.expect(r"^sm-init: error: internal error: \w+: ")
    code = run.wait()
    elapsed = run.ended - sent
    left = run.survivors()
    errors = run.log.count(r"^sm-init: error: ")
    figures("injected internal fault", where=where, code=code, error_lines=errors, left=len(left),
            elapsed=round(elapsed, 3), limit=stop_timeout)
    assert code == 70, run.log.text
    assert errors == 1, run.log.text
    assert not left, [p.cmdline() for p in left]
    assert "Traceback" not in run.log.text
    assert elapsed <= stop_timeout + OBSERVED_LATE
    if where.startswith("spawn."):
        assert run.out.drain() == []
