"""Pre-kill hooks: the last chance to save artifacts, run one at a time before the SIGKILL sweep.

This module finds them and says what each is told; when they run is the plan's decision
(``plan.py``: one at a time, the running one killed with its group at the kill deadline, a
failure logged but never changing sm-init's exit code). Hooks write to sm-init's own stdout and
stderr, not through the relay: they are sm-init's helpers, not the trainer's output.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence

from . import log


def discover(pre_kill: Sequence[tuple[str, ...]], hooks_dir: str) -> list[tuple[str, ...]]:
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
            log.warning(f"hooks: skipping {log.command([path])}: not an executable file")
    return hooks


def hook_environment(base: Mapping[str, str], reason: str, mode: str, exit_code: int | None,
                     kill_at: float, now: float) -> dict[str, str]:
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
