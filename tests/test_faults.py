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
from helpers.fuse import READS_STUCK
from helpers.procfs import pending, wait_until
from helpers.realinit import find_process


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


KILL_TIME = 1.0  # system.KILL_TIME: the SIGKILL sweep and the reaping of its dead, after an internal error
# A trainer that exits 0 on SIGUSR1, leaving its child, a reader of the stuck file, to sm-init
# (whose leftover sweep, sweep.sweep:1, then raises): argv READS_STUCK FILE.
LEAVES_A_STUCK_READER = """
import os, signal, subprocess, sys
signal.signal(signal.SIGUSR1, lambda *_: os._exit(0))
reader = subprocess.Popen([sys.executable, "-c", *sys.argv[1:]])
print(f"main ready reader={reader.pid}", flush=True)
while True:
    signal.pause()
"""


def test_after_an_internal_fault_sm_init_exits_once_the_killed_are_gone_a_process_the_kernel_keeps_named(
        start_init, stuck_fuse, hooks_dir):
    """SIGKILL sent is not a process ended: the killed process lives on, holding its memory, until
    the kernel has run its exit, on a loaded machine once it gets a CPU (the fresh-clone run saw
    sm-init exit 70 while the escaped child it had killed was still there, running). sm-init
    reaps its tree before it exits, within its kill time. The order made certain: a process the
    kernel keeps (its read of a file system that never answers is not ended by SIGKILL, which stays
    pending) holds sm-init that long, is named, and is left; let go, it dies at once."""
    stuck_file = str(stuck_fuse.path / "stuck")
    run = start_init(*patched_sm_init("fault=sweep.sweep:1", "--stop-timeout", "3", "--hooks-dir", hooks_dir, "--",
                                      sys.executable, "-c", LEAVES_A_STUCK_READER, READS_STUCK, stuck_file),
                     sm_init=sys.executable)
    reader = run.out.expect(r"^main ready reader=(\d+)").group(1)   # its pid as sm-init sees it
    host_pid = find_process(run, "-c", READS_STUCK, stuck_file).pid
    stuck_fuse.read_taken()   # the handshake: from now on SIGKILL can't end the read
    sent = time.monotonic()
    run.signal(USR1)
    run.log.expect(r"^sm-init: error: internal error: RuntimeError: injected fault in sweep\.sweep")
    run.log.expect(rf"^sm-init: warning: 1 process\(es\) still there {KILL_TIME:g}s after SIGKILL \(stuck in the"
                   rf" kernel\): pid {reader}; exiting without them$", timeout=KILL_TIME + 3 + OBSERVED_LATE)
    assert pending(host_pid, signal.SIGKILL)   # killed, and kept by the kernel: the premise
    stuck_fuse.abort()
    code = run.wait()
    assert code == 70, run.log.text
    assert run.ended - sent >= KILL_TIME
    run.log.expect(r"^sm-init: exit: 70 \(internal error; every process killed\)$")
    assert run.log.count(r"^sm-init: error: ") == 1, run.log.text
    wait_until(lambda: run.survivors() == [], "the reader gone once the file system let go")
