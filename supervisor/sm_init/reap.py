"""Reaping: collect every child that has exited, whoever started it.

As PID 1, or as a child subreaper, every orphan of the tree becomes sm-init's child, so "no child
left" (ECHILD) means no process of the tree is left: the loop needs no process table scan for it.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from .signals import signal

PR_SET_CHILD_SUBREAPER = 36


def reap_children() -> tuple[list[tuple[int, int]], bool]:
    """([(pid, wait status), ...] of every exited child, whether any child is still there)."""
    exited = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return exited, False
        if pid == 0:
            return exited, True
        exited.append((pid, status))


def any_child_but(skip: set[int]) -> bool:
    """Whether a child other than those in ``skip`` is still there. True when the kernel's list
    can't be read (a kernel without CONFIG_PROC_CHILDREN): the answer that never ends a job early."""
    found = children()
    return True if found is None else bool(found - skip)


def children() -> set[int] | None:
    """This process's children: the kernel's list (/proc/self/task/*/children); None if unreadable."""
    found = set()
    try:
        for task in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{task}/children", "rb") as f:
                found.update(int(word) for word in f.read().split())
    except (OSError, ValueError):
        return None
    return found


def reap_until_none_left(deadline: float, clock: Callable[[], float]) -> bool:
    """After the whole tree was sent SIGKILL: reap until no child is left (True), or until
    ``deadline`` on ``clock`` (False: one is still there, stuck in the kernel). A process with
    SIGKILL pending lives on until the kernel has run its exit: on a busy machine it waits for a
    CPU first. As subreaper every orphan of the tree comes to sm-init, so "no child" is "nothing of
    the tree". Sleeps on SIGCHLD, blocked as every signal is; waitpid itself, no helper of the loop's."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return True
        if pid:
            continue
        left = deadline - clock()
        if left <= 0:
            return False
        signal.sigtimedwait((signal.SIGCHLD,), left)


def become_subreaper() -> bool:
    """Orphans of our tree come to us instead of to the real init. False if the kernel refused."""
    import ctypes  # only here: as PID 1 (the container case) its 3 ms of import are not paid

    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
