"""The Python stacks of a stalled tree: where each process was when it stopped making progress.

Two routes, tried in this order when the stall watchdog fires, before the stop signal changes
what the stacks show:

* py-spy (``py-spy dump --pid N``), when it is installed (on PATH or beside sm-init's python).
  It reads another process's memory, so it needs ptrace permission over the tree: root in the
  container is enough where the kernel's Yama policy is 0; elsewhere add CAP_SYS_PTRACE
  (``docker run --cap-add SYS_PTRACE``). It never stops or signals the trainer (``--nonblocking``).
* faulthandler, when ``--stack-signal SIG`` is set: the tree's Python processes that handle SIG,
  as ``faulthandler.register(SIG, all_threads=True)`` makes them, get it and write their stacks
  to their own stderr (relayed, so they reach the log and the failure file's last lines).
  Processes that don't handle SIG are never sent it: its default action could kill them.

The dumpers are children of sm-init: their output comes back through pipes read without
blocking, and the loop reaps them like any other child.
"""

import os
import re
import shutil
import sys
from typing import Dict, List, Optional, Tuple

from . import log, signals, spawn

MOST = 8                   # processes dumped at most: the ranks of one node, not a whole fork bomb
FAULTHANDLER_WAIT = 2.0    # seconds for processes to write their stacks after the signal
PYSPY_FRAME = re.compile(r"^\s+(\S+) \((.+):(\d+)\)$")


def python_processes(pid1: bool, me: int) -> List[Tuple[int, str]]:
    """(pid, command line) of the tree's Python processes: PID 1 sees the namespace; a subreaper
    its descendants only."""
    parents: Dict[int, int] = {}
    names: Dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        pid = int(entry)
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                parents[pid] = int(f.read().rsplit(b")", 1)[1].split()[1])
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                names[pid] = " ".join(os.fsdecode(w) for w in f.read().split(b"\0") if w)
        except (OSError, IndexError, ValueError):
            continue
    def descends(pid: int) -> bool:
        seen = set()
        while pid in parents and pid not in seen:
            seen.add(pid)
            if parents[pid] == me:
                return True
            pid = parents[pid]
        return False
    found = []
    for pid in sorted(names):
        if not (pid1 or descends(pid)):
            continue
        argv0 = names[pid].split(" ", 1)[0]
        if "python" in os.path.basename(argv0) or names[pid].split(" ", 1)[0].endswith(("torchrun", "accelerate")):
            found.append((pid, names[pid]))
    return found[:MOST]


def find_pyspy() -> Optional[str]:
    beside = os.path.join(os.path.dirname(sys.executable), "py-spy")
    return beside if os.access(beside, os.X_OK) else shutil.which("py-spy")


class Dumps:
    """Stack dumps under way and what they said."""

    def __init__(self, stack_signal: Optional[int] = None):
        self.stack_signal = stack_signal
        self.readers: Dict[int, int] = {}       # dumper pid -> read end of its output pipe
        self.texts: Dict[int, bytearray] = {}   # dumper pid -> what it wrote
        self.targets: Dict[int, Tuple[int, str]] = {}  # dumper pid -> (dumped pid, command)
        self.logged = set()

    def start(self, main_pid: int, pid1: bool) -> Tuple[List[int], float]:
        """Start dumping: (dumper pids to wait for, or [] and how long the tree needs to write)."""
        targets = python_processes(pid1, os.getpid())
        pyspy = find_pyspy()
        if not targets:
            log.warning("stall: no Python process in the tree to take stacks from")
            return [], 0.0
        if pyspy is not None:
            started = [pid for pid in (self._pyspy(pyspy, target) for target in targets) if pid]
            if started:
                log.info(f"stall: taking the stacks of {len(started)} Python process(es) with py-spy")
                return started, 0.0
        if self.stack_signal is not None:
            sent = [pid for pid, _ in targets if signals.catches(pid, self.stack_signal)
                    and signals.send(pid, self.stack_signal, group=False)]
            log.info(f"stall: {signals.name(self.stack_signal)} to {len(sent)} Python process(es) that handle it"
                     f" (faulthandler): their stacks follow on their stderr")
            return [], FAULTHANDLER_WAIT if sent else 0.0
        log.warning("stall: no stacks: py-spy is not installed and --stack-signal is not set")
        return [], 0.0

    def _pyspy(self, pyspy: str, target: Tuple[int, str]) -> Optional[int]:
        read_fd, write_fd = os.pipe()
        try:
            pid = spawn.spawn([pyspy, "dump", "--nonblocking", "--pid", str(target[0])], env=os.environ,
                              stdout=write_fd, stderr=write_fd)
        except OSError as exc:
            log.warning(f"stall: py-spy: {exc.strerror}")
            os.close(read_fd)
            return None
        finally:
            os.close(write_fd)
        os.set_blocking(read_fd, False)
        self.readers[pid] = read_fd
        self.texts[pid] = bytearray()
        self.targets[pid] = target
        return pid

    def collect(self) -> None:
        """Read what the dumpers wrote; log each dump whole once its dumper is done (EOF)."""
        for pid, fd in list(self.readers.items()):
            while True:
                try:
                    data = os.read(fd, 65536)
                except BlockingIOError:
                    break
                except OSError:
                    data = b""
                if not data:
                    os.close(fd)
                    del self.readers[pid]
                    self._log(pid)
                    break
                self.texts[pid] += data[: max(0, 256 * 1024 - len(self.texts[pid]))]

    def _log(self, pid: int) -> None:
        target, command = self.targets[pid]
        text = self.texts[pid].decode("utf-8", "replace").rstrip()
        log.info(f"stall: stack of pid {target} ({command}):")
        for line in text.splitlines():
            log.info("stack: " + line)

    def summary(self) -> Optional[str]:
        """Where each dumped process was, innermost frame first, for the failure file."""
        places = []
        for pid, text in self.texts.items():
            target, command = self.targets[pid]
            frames = [m.groups() for m in map(PYSPY_FRAME.match, text.decode("utf-8", "replace").splitlines()) if m]
            if frames:
                places.append(f"pid {target} `{command[:60]}` in {describe_frames(frames)}")
        return "; ".join(places) if places else None


def describe_frames(frames: List[Tuple[str, str, str]]) -> str:
    """``all_reduce (distributed_c10d.py:2050) from main (train.py:30)``: the innermost frame, and the
    innermost one of the user's own code when that is another."""
    def show(frame):
        function, path, line = frame
        return f"{function} ({os.path.basename(path)}:{line})"
    first = frames[0]
    own = next((f for f in frames if "site-packages" not in f[1] and "/lib/python" not in f[1]), None)
    return show(first) if own is None or own == first else f"{show(first)} from {show(own)}"
