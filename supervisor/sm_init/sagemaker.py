"""SageMaker specifics: the failure file a person reads, and the OOM killer's record.

``<ml-root>/output/failure`` is what DescribeTrainingJob shows as FailureReason (its first 1024
characters). The trainer's own file wins: sm-init writes only when there is none. Whether the
kernel's OOM killer struck is read from the memory cgroup's counter (v2 ``memory.events``
``oom_kill``, v1 ``memory.oom_control`` ``oom_kill``), compared with its value at start.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from . import log, signals
from .records import record

FAILURE_LIMIT = 1024
# Bytes of the training command in the failure file, its middle elided beyond: 40 hyperparameters
# would fill the 1024 by themselves, and how the job ended and its error must always fit.
COMMAND_MAX = 256
PATH_MAX = 128    # of a heartbeat file's name, the same way
CGROUP_ROOT = "/sys/fs/cgroup"


@record
class MemoryCgroup:
    counter_file: str      # where the oom_kill counter lives
    limit_file: str


def find_memory_cgroup(proc_cgroup: str, root: str = CGROUP_ROOT) -> MemoryCgroup | None:
    """The memory cgroup of this process, from the text of /proc/self/cgroup."""
    candidates = []
    for line in proc_cgroup.splitlines():
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        path = path.lstrip("/")
        if hierarchy == "0" and controllers == "":
            for base in (os.path.join(root, path), root):
                candidates.append(MemoryCgroup(os.path.join(base, "memory.events"),
                                               os.path.join(base, "memory.max")))
        elif "memory" in controllers.split(","):
            for base in (os.path.join(root, "memory", path), os.path.join(root, "memory")):
                candidates.append(MemoryCgroup(os.path.join(base, "memory.oom_control"),
                                               os.path.join(base, "memory.limit_in_bytes")))
    for cgroup in candidates:
        if os.path.isfile(cgroup.counter_file):
            return cgroup
    return None


def read_oom_kills(cgroup: MemoryCgroup | None) -> int | None:
    text = None if cgroup is None else _read(cgroup.counter_file)
    for line in (text or "").splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill" and value.strip().isdigit():
            return int(value)
    return None


def read_memory_limit(cgroup: MemoryCgroup | None) -> int | None:
    """Bytes, or None when unlimited or unknown (v1 says "unlimited" with a huge number)."""
    text = (None if cgroup is None else _read(cgroup.limit_file)) or ""
    if not text.strip().isdigit() or int(text) >= 1 << 60:
        return None
    return int(text)


def current_memory_cgroup() -> MemoryCgroup | None:
    text = _read("/proc/self/cgroup")
    return None if text is None else find_memory_cgroup(text)


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def human_bytes(count: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if count < 1024 or unit == "GiB":
            return f"{count:.0f} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024
    return str(count)  # pragma: no cover


def ending(argv: Sequence[str], exit_code: int, oom_kills: int, memory_limit: int | None,
           max_runtime: float | None = None, killed_by_init: bool = False,
           signalled: bool | None = None, stalled_for: float | None = None,
           heartbeat: str | None = None, where: str | None = None, peer: str | None = None) -> str:
    """How the job ended, for a person: what ran, how it ended, and what that means.

    ``signalled``: whether the wait status says a signal killed it (a trainer may also exit 130 on
    its own); None when unknown, and then a code over 128 is taken for a signal. ``where``: the
    stall's stacks in a line (stacks.py), ``heartbeat``: the file whose touch counted as progress.
    ``peer``: this host's name, when the peers' verdict stopped its job (the verdict comes first).
    """
    command = log.command(argv, COMMAND_MAX)
    if peer is not None:
        return (f"This host ({peer}): training command `{command}` was stopped by sm-init because of that"
                f" (exit code {exit_code}).")
    if stalled_for is not None:
        beat = f" and no touch of {log.elide(log.escape(heartbeat), PATH_MAX)}" if heartbeat else ""
        text = (f"Training command `{command}` stalled: no output{beat} for {stalled_for:g} seconds"
                f" (--stall-timeout {stalled_for:g}), so sm-init stopped it (exit code {exit_code}).")
        if where:
            # File and program names in it are the trainer's: a newline in one must not forge a
            # line of this file (an "Error:" of its own), so they are escaped as the log escapes them.
            text += f"\nWhere it was: {log.escape(where)}."
        return text
    if signalled is None:
        signalled = exit_code > 128
    if signalled:
        signum = exit_code - 128
        ended = f"was killed by {signals.name(signum)} (signal {signum}, exit code {exit_code})"
    else:
        ended = f"exited with code {exit_code}"
    text = f"Training command `{command}` {ended}."
    if max_runtime is not None:
        text += f" sm-init stopped it after --max-runtime {max_runtime:g} seconds."
    if oom_kills > 0:
        limit = f" (memory limit {human_bytes(memory_limit)})" if memory_limit else ""
        text += (f" Out of memory: the kernel's OOM killer killed {oom_kills} process(es) in this"
                 f" container{limit}. Use an instance type with more memory, or lower the batch size.")
    elif signalled and exit_code == 128 + 9 and killed_by_init:
        text += (" It was still running at the end of the stop timeout, so sm-init killed it;"
                 " no out-of-memory kill was recorded in this container.")
    elif signalled and exit_code == 128 + 9:
        text += (" No out-of-memory kill was recorded in this container: the SIGKILL came from a"
                 " process (a launcher, a watchdog or a person), not the kernel's OOM killer.")
    return text


def failure_text(ending_text: str, stdout_tail: bytes, stderr_tail: bytes) -> str:
    """The failure file: how it ended, the error in the trainer's own words, its last lines; within
    SageMaker's 1024 bytes. (reasons is imported only here: only a failed job pays for it.)"""
    from . import reasons
    return reasons.failure_text(ending_text, stdout_tail, stderr_tail, FAILURE_LIMIT)


def note_start_failure(config, problem: str) -> None:
    """The training command could not even start: say so in the failure file too (train mode)."""
    if config.mode != "train":
        return
    # The problem names a file (a path, a #! interpreter) that may hold any byte: escaped as the log
    # line escapes it, or an undecodable one could not be written at all.
    reason = truncate_utf8(f"sm-init could not start the training command `{log.command(config.argv, COMMAND_MAX)}`:"
                           f" {log.escape(problem)}. Check SM_INIT_TRAIN (or --train) and the image's PATH.",
                           FAILURE_LIMIT)
    ok, what = write_failure(config.ml_root, reason)
    (log.info if ok else log.warning)(f"failure file: {what}")


def note_usage_error(ml_root: str, problem: str) -> None:
    """``train`` was refused before it started (a bad option or variable, nothing configured):
    SageMaker would show an empty FailureReason, so the failure file says what sm-init said."""
    reason = truncate_utf8(f"sm-init refused to start the training job: {log.escape(problem)}. Nothing was run;"
                           f" fix the image's SM_INIT_* variables (or sm-init's options).", FAILURE_LIMIT)
    ok, what = write_failure(ml_root, reason)
    if not ok:  # written: the one error line already said it all
        log.warning(f"failure file: {what}")


def failure_file_problem(ml_root: str) -> str | None:
    """Why a failure file could not be written under ``ml_root``, if that is known now."""
    output = os.path.join(ml_root, "output")
    for path in (output, ml_root):
        if os.path.isdir(path):
            return None if os.access(path, os.W_OK) else f"{path} is not writable"
        if os.path.exists(path):
            return f"{path} is not a directory"
    return None


def truncate_utf8(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", "ignore")


def write_failure(ml_root: str, reason: str) -> tuple[bool, str]:
    """Write the failure file unless the trainer already did: (no problem, what happened)."""
    output = os.path.join(ml_root, "output")
    path = os.path.join(output, "failure")
    try:
        os.makedirs(output, exist_ok=True)
    except FileExistsError:  # exist_ok covers a directory only: this is a file
        return False, f"cannot write {path}: {output} is not a directory"
    except OSError as exc:
        return False, f"cannot write {path}: {exc.strerror}"
    try:
        # O_EXCL: the first writer wins, as with AWS's own toolkit.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    except FileExistsError:
        return True, f"{path} already written by the trainer: kept"
    except OSError as exc:
        return False, f"cannot write {path}: {exc.strerror}"
    try:
        os.write(fd, reason.encode("utf-8"))
    except OSError as exc:  # a full disk: no half-written reason left behind
        try:
            os.unlink(path)
        except OSError:
            pass
        return False, f"cannot write {path}: {exc.strerror}"
    finally:
        os.close(fd)
    return True, f"wrote {path}"
