"""Reaping: collect every child that has exited, whoever started it.

As PID 1, or as a child subreaper, every orphan of the tree becomes sm-init's child, so "no child
left" (ECHILD) means no process of the tree is left: the loop needs no process table scan for it.
"""

from __future__ import annotations

import os

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
    """Whether a child other than those in ``skip`` is still there: the kernel's list of this
    process's children (/proc/self/task/*/children). True when it can't be read (a kernel without
    CONFIG_PROC_CHILDREN): the answer that never ends a job early."""
    found = set()
    try:
        for task in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{task}/children", "rb") as f:
                found.update(int(word) for word in f.read().split())
    except (OSError, ValueError):
        return True
    return bool(found - skip)


def become_subreaper() -> bool:
    """Orphans of our tree come to us instead of to the real init. False if the kernel refused."""
    import ctypes  # only here: as PID 1 (the container case) its 3 ms of import are not paid

    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
