"""File descriptors: the main child and the hooks get what sm-init inherited, nothing of its own.

sm-init is started with an extra inherited fd 5 (patched_sm-init.py opens it, then execs the real
sm-init); the child and a hook list their open fds, and every fd sm-init opened itself must be
close-on-exec. Real processes as PID 1 and as subreaper, recorded for tests/RELIABILITY.md.
"""

import os
import signal
import sys
import time

from helpers.commands import child, cmd, patched_sm_init
from helpers.deadline import finish
from helpers.procfs import O_CLOEXEC, fd_flags


def test_only_inherited_fds_reach_the_child_and_hooks(start_init, figures, hooks_dir):
    """sm-init started with an extra inherited fd 5: the child and a hook see 0, 1, 2 and 5 only,
    and every fd sm-init opened itself is close-on-exec."""
    run = start_init(*patched_sm_init("fd=5", "--stop-timeout", "4", "--hooks-dir", hooks_dir,
                                      "--pre-kill", cmd(child("misbehaving_hook.py", "fds", "hook")), "--",
                                      *child("misbehaving_hook.py", "fds", "main", "stay")),
                     sm_init=sys.executable)
    child_fds = run.out.expect(r"^fds main ([\d,]+)$").group(1)
    pid = run.pid
    own, not_cloexec = [], []
    for entry in os.listdir(f"/proc/{pid}/fd"):
        fd = int(entry)
        if fd in (0, 1, 2, 5):
            continue
        flags = fd_flags(pid, fd)
        if flags is None:  # closed since the listing
            continue
        own.append(fd)
        if not flags & O_CLOEXEC:
            not_cloexec.append((fd, os.readlink(f"/proc/{pid}/fd/{fd}")))
    sent = time.monotonic()
    run.signal(signal.SIGTERM)
    hook_fds = run.out.expect(r"^fds hook ([\d,]+)$").group(1)
    finish(run, sent, 4.0, "stop with an inherited fd", figures, code=0)
    figures("file_descriptors", child_fds=child_fds, hook_fds=hook_fds, sm_init_fds=len(own),
            not_cloexec=len(not_cloexec))
    assert child_fds == "0,1,2,5"
    assert hook_fds == "0,1,2,5"
    assert not not_cloexec, not_cloexec
