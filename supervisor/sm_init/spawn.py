"""Starting a process: its own process group, a clean signal state, the terminal if there is one.

fork + exec by hand rather than subprocess: the child must reset the signal mask sm-init blocked,
restore default dispositions, take its own group, its capture pipes and, on a terminal, the
foreground, all between fork and exec. An exec failure comes back through a close-on-exec pipe as
an errno, so it is reported by the parent instead of surfacing as a mysterious exit code.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from . import signals


def spawn(argv: Sequence[str], env: Mapping[str, str] | None = None, foreground_tty: int | None = None,
          stdout: int | None = None, stderr: int | None = None) -> int:
    """Start ``argv`` as the leader of a new process group; returns its pid, raises OSError.

    ``stdout``/``stderr``: descriptors to put in place of sm-init's own (the capture pipes).
    """
    errors_r, errors_w = os.pipe()  # both close-on-exec (PEP 446)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, reported through the pipe
        try:
            os.setpgid(0, 0)
            if foreground_tty is not None:
                # Still blocking SIGTTOU here: a background group may take the terminal.
                try:
                    os.tcsetpgrp(foreground_tty, os.getpid())
                except OSError:
                    pass  # not our controlling terminal after all: run in the background
            for fd, target in ((stdout, 1), (stderr, 2)):
                if fd is not None:
                    os.dup2(fd, target)  # dup2 leaves the new fd inheritable
            signals.reset_for_exec()
            if env is None:
                os.execvp(argv[0], list(argv))
            os.execvpe(argv[0], list(argv), dict(env))
        except OSError as exc:
            os.write(errors_w, str(exc.errno).encode())
        finally:
            os._exit(127)
    os.close(errors_w)
    try:
        # Also from this side: a signal to the group right after spawn must find the group.
        os.setpgid(pid, pid)
    except OSError:
        pass  # EACCES once the child has exec'd, ESRCH if it is gone: it did it itself
    try:
        report = os.read(errors_r, 32)
    finally:
        os.close(errors_r)
    if report:
        os.waitpid(pid, 0)
        errno = int(report)
        raise OSError(errno, os.strerror(errno), argv[0])
    return pid


def terminal_of_stdin() -> int | None:
    """fd 0 when it is our controlling terminal and we are in its foreground: the child may take
    it then. A job started in the background (``sm-init -- cmd &``) must leave it to the shell.

    As PID 1 of a PID namespace whose session lives outside it (``unshare`` from a shell), both
    groups read as 0: unknown, so the terminal stays where it is. In a container (``docker run
    -it``) PID 1 leads its own session, in the terminal's foreground, and the child gets it.
    """
    try:
        group = os.getpgrp()
        if os.isatty(0) and group != 0 and os.tcgetpgrp(0) == group:
            return 0
    except OSError:  # not our controlling terminal
        pass
    return None
