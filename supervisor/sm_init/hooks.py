"""Pre-kill hooks: the last chance to save artifacts, run one at a time before the SIGKILL sweep.

Each hook runs in its own process group with the stop's facts in its environment. The loop keeps
reaping and forwarding while hooks run; a hook still running at the kill deadline dies with its
group, and a hook that fails is logged but never changes sm-init's exit code.
"""

import os
import signal
import time
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from . import log, signals, spawn
from .stopplan import describe_status


def discover(pre_kill: Sequence[Tuple[str, ...]], hooks_dir: str) -> List[Tuple[str, ...]]:
    """``--pre-kill`` commands first, then the executables of ``--hooks-dir`` in name order."""
    hooks = [tuple(argv) for argv in pre_kill]
    try:
        names = sorted(os.listdir(hooks_dir))
    except (FileNotFoundError, NotADirectoryError):
        return hooks
    except OSError as exc:
        log.warning(f"hooks: cannot list {hooks_dir}: {exc.strerror}")
        return hooks
    for name in names:
        path = os.path.join(hooks_dir, name)
        if name.startswith("."):
            continue
        if os.path.isfile(path) and os.access(path, os.X_OK):
            hooks.append((path,))
        else:
            log.warning(f"hooks: skipping {path}: not an executable file")
    return hooks


def hook_environment(base: Mapping[str, str], reason: str, mode: str, exit_code: Optional[int],
                     kill_at: float, now: float) -> Dict[str, str]:
    """What a hook is told: why, in which mode, the exit code if known, and when it will be killed."""
    env = dict(base)
    time_left = max(0.0, kill_at - now)
    env.update(SM_INIT_REASON=reason, SM_INIT_MODE=mode,
               SM_INIT_DEADLINE=f"{time.time() + time_left:.3f}", SM_INIT_TIME_LEFT=f"{time_left:.3f}")
    if exit_code is None:
        env.pop("SM_INIT_EXIT_CODE", None)
    else:
        env["SM_INIT_EXIT_CODE"] = str(exit_code)
    return env


class HookRunner:
    """Runs the hooks one after another; the loop reports each exit and the deadline."""

    def __init__(self, hooks: Sequence[Tuple[str, ...]], environment, kill_at: float):
        self._pending = list(hooks)
        self._environment = environment   # now -> the environment for the next hook
        self._kill_at = kill_at
        self._running: Optional[Tuple[int, Tuple[str, ...]]] = None
        self.failed = 0

    @property
    def done(self) -> bool:
        return self._running is None and not self._pending

    def owns(self, pid: int) -> bool:
        return self._running is not None and self._running[0] == pid

    def start_next(self, now: float) -> None:
        while self._running is None and self._pending and now < self._kill_at:
            argv = self._pending.pop(0)
            try:
                pid = spawn.spawn(argv, env=self._environment(now))
            except OSError as exc:
                self.failed += 1
                log.warning(f"hooks: {' '.join(argv)}: {exc.strerror}")
                continue
            log.info(f"hooks: running {' '.join(argv)} (pid {pid}, {self._kill_at - now:.1f}s left)")
            self._running = (pid, argv)

    def on_exit(self, status: int, now: float) -> None:
        _, argv = self._running
        self._running = None
        if status != 0:
            self.failed += 1
            log.warning(f"hooks: {' '.join(argv)} failed ({describe_status(status)})")
        else:
            log.verbose(f"hooks: {' '.join(argv)} done")
        self.start_next(now)

    def cancel(self) -> None:
        """The kill deadline came: the running hook dies with its group, the rest never start."""
        if self._running is not None:
            pid, argv = self._running
            log.warning(f"hooks: {' '.join(argv)} still running at the kill deadline: killed")
            signals.send(pid, signal.SIGKILL, group=True)
            self._running = None
            self.failed += 1
        if self._pending:
            log.warning(f"hooks: {len(self._pending)} hook(s) not run: no time left")
            self._pending = []
