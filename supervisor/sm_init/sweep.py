"""Signalling every process that is left, including those that escaped the process group.

As PID 1 that is ``kill(-1, sig)``: the kernel sends it to every process of the PID namespace but
the caller, in one pass that a concurrent fork cannot slip through. Not PID 1, or with a process
group or a process to spare, it is every process found through the process table: as subreaper,
orphans and processes that called setsid are still our descendants. psutil checks each process's
start time before signalling, so a pid that was reaped and reused by a stranger is never hit.
"""

import os
import signal
import time
from typing import Optional

ROUNDS = 20  # a fork bomb racing the sweep gets this many passes, then the exit deadline decides


def sweep(signum: int, pid1: bool, deadline: float, spare_pgid: Optional[int] = None,
          spare_pid: Optional[int] = None, then_continue: bool = False, clock=time.monotonic) -> int:
    """Send ``signum`` to every process left but the group ``spare_pgid`` and the process
    ``spare_pid`` (SIGCONT after it with ``then_continue``); how many were signalled."""
    if pid1 and spare_pgid is None and spare_pid is None:
        return _sweep_namespace(signum, then_continue)
    return _sweep_processes(signum, pid1, deadline, spare_pgid, spare_pid, then_continue, clock)


def _sweep_namespace(signum: int, then_continue: bool) -> int:
    count = sum(1 for entry in os.listdir("/proc") if entry.isdigit()) - 1
    try:
        os.kill(-1, signum)
        if then_continue:
            os.kill(-1, signal.SIGCONT)
    except ProcessLookupError:
        return 0
    return max(count, 0)


def _sweep_processes(signum, pid1, deadline, spare_pgid, spare_pid, then_continue, clock) -> int:
    import psutil  # only needed here: keeps it out of sm-init's start-up time

    me = psutil.Process()
    signalled = set()
    for _ in range(ROUNDS if signum == signal.SIGKILL else 1):
        if clock() >= deadline:
            break
        found = [p for p in psutil.process_iter() if p.pid != me.pid] if pid1 else me.children(recursive=True)
        fresh = [p for p in found if p not in signalled and p.pid != spare_pid and not _in_group(p, spare_pgid)]
        if not fresh:
            break
        for process in fresh:
            try:
                process.send_signal(signum)
                if then_continue:
                    process.send_signal(signal.SIGCONT)
                signalled.add(process)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
    return len(signalled)


def _in_group(process, pgid: Optional[int]) -> bool:
    if pgid is None:
        return False
    try:
        return os.getpgid(process.pid) == pgid
    except ProcessLookupError:
        return True  # gone already: nothing to signal
