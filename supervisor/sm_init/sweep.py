"""Signalling every process that is left, including those that escaped the process group.

As PID 1 that is ``kill(-1, sig)``: the kernel sends it to every process of the PID namespace but
the caller, in one pass that a concurrent fork cannot slip through. Not PID 1, it is every
descendant, found through the process table: as subreaper, orphans and processes that called
setsid are still our descendants. psutil checks each process's start time before signalling, so a
pid that was reaped and reused by a stranger is never hit.
"""

import os
import signal
from typing import Optional

ROUNDS = 20  # a fork bomb racing the sweep gets this many passes, then the exit deadline decides


def prepare() -> None:
    """Import psutil ahead of time, so that a stop never waits for the import (50+ ms)."""
    import psutil  # noqa: F401


def sweep(signum: int, pid1: bool, spare_pgid: Optional[int] = None) -> int:
    """Send ``signum`` to every process left but those of ``spare_pgid``; how many were signalled."""
    if pid1 and spare_pgid is None:
        return _sweep_namespace(signum)
    return _sweep_processes(signum, pid1, spare_pgid)


def _sweep_namespace(signum: int) -> int:
    count = sum(1 for entry in os.listdir("/proc") if entry.isdigit()) - 1
    try:
        os.kill(-1, signum)
    except ProcessLookupError:
        return 0
    return max(count, 0)


def _sweep_processes(signum: int, pid1: bool, spare_pgid: Optional[int]) -> int:
    import psutil  # only needed here: keeps it out of sm-init's start-up time

    me = psutil.Process()
    signalled = set()
    for _ in range(ROUNDS if signum == signal.SIGKILL else 1):
        found = [p for p in psutil.process_iter() if p.pid != me.pid] if pid1 else me.children(recursive=True)
        fresh = [p for p in found if p not in signalled and not _in_group(p, spare_pgid)]
        if not fresh:
            break
        for process in fresh:
            try:
                process.send_signal(signum)
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
