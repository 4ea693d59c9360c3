"""The Python stacks of a stalled tree: where each process was when it stopped making progress.

Two routes, chosen when the stall watchdog fires, before the stop signal changes what the stacks
show (handlers run, processes exit):

* py-spy (``py-spy dump --json --nonblocking --pid N``), when it is installed (on PATH or beside
  sm-init's python) and may read the tree's memory. It never stops or signals the trainer. It needs
  ptrace access (process_vm_readv): root in the container is enough where the kernel's Yama
  ``ptrace_scope`` is 0 or absent; with Yama 1 or 2 (Ubuntu hosts) only CAP_SYS_PTRACE lets it read
  a process that is not its own descendant (``docker run --cap-add SYS_PTRACE``); with 3 nothing
  can, and a seccomp profile may refuse process_vm_readv itself (Docker before 19.03). Yama and
  the capability are read before choosing: where py-spy can't work, faulthandler goes first.
  ``--json`` rather than py-spy's text: the text shortens paths to their package part, and the
  full path is what tells the trainer's own code from a library's.
* faulthandler, with ``--stack-signal SIG``: the tree's Python processes that handle SIG, as
  ``faulthandler.register(SIG, all_threads=True)`` makes them, get it and write their stacks to
  their own stderr (relayed: into the log). Processes that don't handle SIG are never sent it: its
  default action could kill them. faulthandler writes from the signal handler in many small
  writes (a frame line is seven): two processes dumping into one pipe at once interleave within
  lines (seen here in 3 runs out of 5), so they are signalled one at a time, ``STAGGER`` apart,
  through pidfds opened after the check (a pid reused meanwhile is never signalled).

Which processes: the tree's Python processes (PID 1: the namespace; a subreaper: its descendants),
launchers before ranks before their workers (breadth first), at most ``MOST``. A forked child lists
them: a process's command line and environment are read from its memory under its mmap lock, and
a process stuck in the kernel can hold that lock for good (a hung tree is when that happens). The
read then waits in the child, which is killed after ``LIST_TIME``; the loop never waits on it, and
the processes listed before the stuck one are dumped.

What the failure file says (``where``): for a distributed job, the ranks (``RANK`` and the like in
their environment) and not their launcher (torchrun's agent sleeps in its monitor loop; its
children are what hang) nor their workers; otherwise every process, top first. For each, the
innermost frame of its main thread (or, when the main thread only waits for another thread, that
thread's) and the innermost frame of the user's own code when that is another. Processes stopped
at the same place are named together: eight ranks hung in one all_reduce read as one line, and
the odd one out comes first.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Container, Iterator, Sequence

from . import log, output, signals, spawn, sweep
from .records import record
from .signals import signal

MOST = 16                 # processes dumped at most: a node's ranks and their launcher, not a fork bomb
LIST_TIME = 2.0           # seconds for listing them (milliseconds, unless the kernel makes a read wait)
STAGGER = 0.1             # seconds between two processes' faulthandler signals
FAULTHANDLER_WAIT = 1.0   # seconds for the last one to write its stacks
TEXT_LIMIT = 8 * 1024 * 1024  # kept of one dumper's output: py-spy's JSON takes ~250 bytes a frame
REMARK_LIMIT = 400            # of what py-spy said besides its JSON, in the log
WHERE_LIMIT = 420         # bytes of the failure file's "where it was": the last lines need room too
CAP_SYS_PTRACE = 19
RANK_VARIABLES = ("RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK")   # torchrun/accelerate, Open MPI, MPICH
LIBRARY = re.compile(r"/(?:site|dist)-packages/|/lib/python\d[\d.]*t?/|^<frozen ")
THREAD_WAITS = ("threading.py", "queue.py")   # a thread whose innermost frame is here waits for another
# faulthandler's format (Python/traceback.c): a header per thread, newest thread first (the main
# thread is the oldest: last), a blank line between threads, frames innermost first.
FH_THREAD = re.compile(r"^(?:(Current thread)|Thread) (0x[0-9a-fA-F]+).*\(most recent call first\):$|^Stack \(most recent call first\):$")
FH_FRAME = re.compile(r'^  File "(.*)", line (\d+|\?\?\?) in (.*)$')


@record
class Process:
    pid: int
    parent: int
    depth: int              # 1: a child of sm-init (or, as PID 1, of nobody in the namespace)
    argv: tuple[str, ...]
    start: int              # its start time (/proc/PID/stat): tells a reused pid apart
    rank: str | None


@record
class Frame:
    function: str
    path: str               # as the process knows it: tells the user's code from a library's
    shown: str              # as shown in the log (py-spy's short name)
    line: str


@record
class Thread:
    ident: str              # the OS thread id (py-spy), the thread state's address (faulthandler)
    name: str               # Python's name for it (py-spy only)
    state: str              # py-spy's idle / active / active+gil; faulthandler: "" or "current"
    main: bool
    frames: tuple[Frame, ...]   # innermost first


# --- the tree --------------------------------------------------------------------------------

def listing(pid1: bool, me: int, skip: Container[int] = ()) -> Iterator[int | Process]:
    """The tree's Python processes, breadth first, at most ``MOST``: PID 1 sees the namespace; a
    subreaper its descendants only. Each candidate's pid comes before the reads that can wait:
    its command line and environment are read from its memory under its mmap lock, which a
    process stuck in the kernel can hold for good (``ps`` hangs there too). /proc/PID/stat and
    the executable's link take no such lock; they are read first, for every process."""
    table = sweep.process_table(float("inf"), time.monotonic)
    depths: dict[int, int | None] = {}

    def depth(pid: int) -> int | None:
        """1 for sm-init's children (PID 1: processes whose parent is outside the tree), None
        when ``pid`` does not descend from sm-init."""
        chain, found = [], None
        while pid not in depths:
            if pid in chain or pid not in table:
                found = 0 if pid1 else None
                break
            chain.append(pid)
            parent = table[pid].ppid
            if parent == me:
                found = 0
                break
            pid = parent
        else:
            found = depths[pid]
        for step, member in enumerate(reversed(chain)):
            depths[member] = None if found is None else found + step + 1
        return depths.get(chain[0]) if chain else found

    levels = ((depth(pid), pid) for pid in table if pid != me and pid not in skip)
    found = 0
    for level, pid in sorted((level, pid) for level, pid in levels if level is not None):
        if found == MOST:
            return
        executable = _executable(pid)
        if executable is not None and not executable.startswith("python"):
            continue
        yield pid
        argv = _read_argv(pid)
        if argv and (executable is not None or os.path.basename(argv[0]).startswith("python")):
            found += 1
            yield Process(pid, table[pid].ppid, level, argv, table[pid].start, _read_rank(pid))


def python_processes(pid1: bool, me: int) -> list[Process]:
    return [item for item in listing(pid1, me) if isinstance(item, Process)]


def _executable(pid: int) -> str | None:
    """The name of the process's executable (a ``#!/usr/bin/env python3`` script's is python's);
    None when it can't be read (a kernel thread, a zombie, no ptrace access)."""
    try:
        return os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    except OSError:
        return None


def _read_argv(pid: int) -> tuple[str, ...]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return tuple(os.fsdecode(word) for word in f.read().split(b"\0") if word)
    except OSError:
        return ()


def _read_rank(pid: int) -> str | None:
    """The process's distributed rank, from the environment it was started with."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            environ = f.read().split(b"\0")
    except OSError:
        return None
    values = dict(item.split(b"=", 1) for item in environ if b"=" in item)
    for name in RANK_VARIABLES:
        value = values.get(name.encode())
        if value is not None and value.isdigit():
            return value.decode()
    return None


def list_in_child(pid1: bool) -> tuple[int, int, int]:
    """Fork a process that writes ``listing`` to a pipe, a JSON value a line: (its pid, a pidfd of
    it, the pipe's read end). A read that waits holds that process, never sm-init's loop."""
    read_fd, write_fd = os.pipe()
    me = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: signals stay blocked as they were; SIGKILL ends it, even mid-read
        try:
            os.close(read_fd)
            for item in listing(pid1, me, skip=(os.getpid(),)):
                os.write(write_fd, json.dumps(item).encode() + b"\n")
        finally:
            os._exit(0)
    os.close(write_fd)
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        os.kill(pid, signal.SIGKILL)   # not reaped yet: the pid is still the child's
        os.close(read_fd)
        raise
    return pid, pidfd, read_fd


def program(argv: Sequence[str]) -> str:
    """``train.py`` for ``/usr/bin/python3 -u /opt/program/train.py --lr 1``; a module's name for
    ``python -m``; else the program's own name."""
    if not os.path.basename(argv[0]).startswith("python"):
        return os.path.basename(argv[0])
    words = iter(argv[1:])
    for word in words:
        if word in ("-m",):
            return next(words, "python")
        if word in ("-X", "-W", "-c"):
            if word == "-c":
                return "python -c"
            next(words, None)
            continue
        if not word.startswith("-"):
            return os.path.basename(word)
    return "python"


# --- which route -----------------------------------------------------------------------------

def find_pyspy(path: str | None = None) -> str | None:
    """py-spy beside sm-init's python (pip installs it there, and an image's PATH may not name that
    directory), else on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "py-spy")
    if os.access(beside, os.X_OK):
        return beside
    return shutil.which("py-spy", path=path)


def ptrace_problem(yama: int | None, capabilities: int) -> str | None:
    """Why py-spy can't read the tree's memory here (None: it can, as far as can be told)."""
    if yama is None or yama == 0:
        return None
    if yama >= 3:
        return "the kernel's Yama ptrace_scope is 3: no process may read another's memory"
    if not capabilities >> CAP_SYS_PTRACE & 1:
        return (f"the kernel's Yama ptrace_scope is {yama} and sm-init lacks CAP_SYS_PTRACE"
                f" (docker run --cap-add SYS_PTRACE)")
    return None


def read_ptrace_settings() -> tuple[int | None, int]:
    """(Yama's ptrace_scope or None, this process's effective capabilities)."""
    yama, capabilities = None, 0
    try:
        with open("/proc/sys/kernel/yama/ptrace_scope") as f:
            yama = int(f.read())
    except (OSError, ValueError):
        pass
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    capabilities = int(line.split()[1], 16)
    except (OSError, ValueError, IndexError):
        pass
    return yama, capabilities


# --- reading what the dumpers said ------------------------------------------------------------

def parse_pyspy(text: str) -> tuple[list[Thread] | None, str]:
    """py-spy's JSON (a list of threads) and whatever it said besides; None when there is no JSON
    (py-spy failed: the text says why)."""
    for opening in re.finditer(r"^\[", text, re.MULTILINE):   # the list starts a line: a "[" inside
        start = opening.start()                                # it (a frame list) is not a dump
        try:
            data, end = json.JSONDecoder().raw_decode(text, start)
        except ValueError:
            continue   # cut short, or not JSON
        if isinstance(data, list):
            threads = [_pyspy_thread(item) for item in data if isinstance(item, dict)]
            return threads, (text[:start] + text[end:]).strip()
    return None, text.strip()


def _pyspy_thread(item: dict) -> Thread:
    frames = tuple(Frame(str(f.get("name", "?")), str(f.get("filename", "")),
                         str(f.get("short_filename") or f.get("filename", "?")), str(f.get("line", "?")))
                   for f in item.get("frames", ()) if isinstance(f, dict))
    state = "idle" if not item.get("active") else "active+gil" if item.get("owns_gil") else "active"
    ident = str(item.get("os_thread_id") or item.get("thread_id") or "?")
    name = str(item.get("thread_name") or "")
    # The main thread's OS id is the pid; its name says so too unless the program renamed it.
    main = item.get("thread_name") == "MainThread" or (item.get("pid") is not None
                                                      and item.get("os_thread_id") == item.get("pid"))
    return Thread(ident, name, state, main, frames)


def parse_faulthandler(text: str) -> list[Thread]:
    """The threads of faulthandler dumps in ``text``, in order; within one process's dump the
    last thread is the main one (the oldest), which the caller decides (see ``split_dumps``)."""
    threads: list[Thread] = []
    for line in text.splitlines():
        header = FH_THREAD.match(line)
        if header:
            threads.append(Thread(header.group(2) or "?", "", "current" if header.group(1) else "", False, ()))
            continue
        frame = FH_FRAME.match(line)
        if frame and threads:
            path, number, function = frame.groups()
            last = threads[-1]
            threads[-1] = last._replace(frames=last.frames + (Frame(function, path, os.path.basename(path), number),))
    return threads


def with_main_last(threads: list[Thread]) -> list[Thread]:
    """One process's faulthandler dump: its last thread is the main thread."""
    return [t._replace(main=i == len(threads) - 1) for i, t in enumerate(threads)]


def render(threads: Sequence[Thread]) -> list[str]:
    """The stacks for the log, as py-spy lays them out, main thread first."""
    lines = []
    for thread in sorted(threads, key=lambda t: not t.main):
        state = f" ({thread.state})" if thread.state else ""
        name = f' "{thread.name}"' if thread.name else ""
        lines.append(f"Thread {thread.ident}{state}:{name}")
        lines += [f"    {f.function} ({f.shown}:{f.line})" for f in thread.frames]
    return lines


# --- the failure file's "where" ---------------------------------------------------------------

def is_library(frame: Frame) -> bool:
    return bool(LIBRARY.search(frame.path))


def relevant_thread(threads: Sequence[Thread]) -> Thread | None:
    """The main thread, unless it only waits for another thread (join, Event.wait, a queue):
    then the first thread that does something else."""
    ordered = sorted((t for t in threads if t.frames), key=lambda t: not t.main)
    for thread in ordered:
        innermost = thread.frames[0]
        if not (is_library(innermost) and os.path.basename(innermost.path) in THREAD_WAITS):
            return thread
    return ordered[0] if ordered else None


def place(thread: Thread) -> str:
    """``all_reduce (distributed_c10d.py:3252) from main (hang.py:12)``: the innermost frame, and
    the innermost one of the user's own code when that is another."""
    def show(frame: Frame) -> str:
        return f"{frame.function} ({os.path.basename(frame.path) or frame.shown}:{frame.line})"
    first = thread.frames[0]
    own = next((f for f in thread.frames if not is_library(f)), None)
    return show(first) if own is None or own == first else f"{show(first)} from {show(own)}"


def focus(processes: Sequence[Process]) -> list[Process]:
    """The processes the failure file names: the ranks themselves when there are ranks (not their
    launcher, not their workers, which inherit the rank), else all of them."""
    by_pid = {p.pid: p for p in processes}
    ranks = [p for p in processes if p.rank is not None
             and (p.parent not in by_pid or by_pid[p.parent].rank != p.rank)]
    return ranks or list(processes)


def where(dumped: Sequence[tuple[Process, list[Thread]]], limit: int = WHERE_LIMIT) -> str | None:
    """Where the processes that matter were, grouped by place, the smallest group first."""
    wanted = {p.pid for p in focus([p for p, _ in dumped])}
    groups: dict[str, list[Process]] = {}
    for process, threads in dumped:
        thread = relevant_thread(threads)
        if process.pid in wanted and thread is not None:
            groups.setdefault(place(thread), []).append(process)
    if not groups:
        return None
    order = sorted(groups.items(), key=lambda item: (min(p.depth for p in item[1]), len(item[1]),
                                                     _rank_key(item[1][0])))
    parts: list[str] = []
    for index, (at, members) in enumerate(order):
        part = f"{_name(members)} in {at}"
        rest = len(order) - index - 1
        more = f"; and {rest} other place(s)" if rest else ""
        if len("; ".join(parts + [part]).encode()) + len(more.encode()) > limit:
            return "; ".join(parts) + f"; and {len(order) - index} other place(s)" if parts else None
        parts.append(part)
    return "; ".join(parts)


def _rank_key(process: Process) -> tuple[int, int]:
    return (int(process.rank) if process.rank is not None else -1, process.pid)


def _name(members: Sequence[Process]) -> str:
    members = sorted(members, key=_rank_key)
    if len(members) == 1:
        p = members[0]
        return f"rank {p.rank} (pid {p.pid})" if p.rank is not None else f"pid {p.pid} ({program(p.argv)})"
    if all(p.rank is not None for p in members):
        return "ranks " + ", ".join(p.rank for p in members)
    return "pids " + ", ".join(str(p.pid) for p in members)


# --- the dumps under way -----------------------------------------------------------------------

def _drain(fd: int, into: bytearray) -> bool:
    """Read what the non-blocking pipe ``fd`` holds into ``into``, kept up to ``TEXT_LIMIT``;
    True once its writers are gone (or it failed): nothing more will come."""
    while True:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return False
        except OSError:
            return True
        if not data:
            return True
        into += data[: max(0, TEXT_LIMIT - len(into))]


class Dumps:
    """Stacks being taken, all of it by ``until``: first the tree's Python processes are listed,
    in a child (``list_in_child``) given ``LIST_TIME`` at most; then py-spy dumps them, or
    faulthandler makes them write their own stacks. What they said is logged as it comes.

    Any py-spy failure (refused, crashed, no JSON, or still running at the end of its window)
    sends that process to the faulthandler route, when ``--stack-signal`` is set: py-spy's window
    then ends early enough for it. sm-init's own helpers (the lister, the dumpers) are killed at
    the end of their window and are never the job's (``helpers``: System leaves them out of
    "anyone left" and of the stop's warnings)."""

    def __init__(self, stack_signal: int | None, pid1: bool, until: float, count_stderr: Callable[[], int]):
        self.stack_signal = stack_signal
        self.pid1 = pid1
        self.until = until
        self.count_stderr = count_stderr
        self.helpers: set[int] = set()                     # the lister and the dumpers, until reaped
        self.lister: tuple[int, int, int] | None = None   # (pid, pidfd, read end) while it lists
        self.listing_since = 0.0
        self.listed_by = 0.0                               # ... killed then if it has not finished
        self.listing = bytearray()                         # its output, not yet a whole line
        self.listed: list[Process] = []
        self.reading: int | None = None                    # the pid it was reading when last heard of
        self.readers: dict[int, int] = {}            # py-spy pid -> read end of its output pipe
        self.texts: dict[int, bytearray] = {}        # py-spy pid -> what it wrote
        self.targets: dict[int, Process] = {}        # py-spy pid -> the process it dumps
        self.pyspy_since = 0.0
        self.pyspy_by = until                        # ... killed then if it has not finished
        self.dumped: list[tuple[Process, list[Thread]]] = []
        self.queue: list[tuple[int, Process]] = []   # faulthandler: (pidfd, process) not yet signalled
        self.next_at: float | None = None            # ... when the next one is signalled
        self.sent_at: float | None = None            # ... when the last one was
        self.written_at: float | None = None         # ... when the last one has written its stacks
        self.marks: list[tuple[Process, int]] = []   # faulthandler: (process, stderr bytes when signalled)

    def start(self, now: float) -> None:
        """List the tree, in a child: its output wakes the loop like the tree's (SIGIO)."""
        try:
            pid, pidfd, read_fd = list_in_child(self.pid1)
        except OSError as exc:
            log.warning(f"stall: no stacks: cannot start a process to list the tree's: {exc.strerror}")
            return
        os.set_blocking(read_fd, False)
        output.set_async(read_fd, True)
        self.helpers.add(pid)
        self.lister = (pid, pidfd, read_fd)
        self.listing_since = now
        self.listed_by = min(now + LIST_TIME, self.until)

    def coming(self, now: float) -> bool:
        """Are stacks still on their way (and is there time left for them)?"""
        return now < self.until and (self.lister is not None or bool(self.readers) or bool(self.queue)
                                     or self.written_at is not None)

    def next_deadline(self) -> float | None:
        if self.lister is not None:
            return self.listed_by
        times = (self.pyspy_by if self.readers else None, self.next_at, self.written_at)
        return min((t for t in times if t is not None), default=None)

    def _read_listing(self, now: float) -> None:
        pid, pidfd, fd = self.lister
        ended = _drain(fd, self.listing)
        *lines, rest = self.listing.split(b"\n")
        self.listing = bytearray(rest)
        for line in lines:
            try:
                item = json.loads(line)
                if isinstance(item, int):
                    self.reading = item
                else:
                    self.listed.append(Process(item[0], item[1], item[2], tuple(item[3]), item[4], item[5]))
            except (ValueError, TypeError, IndexError):
                continue   # not the lister's (a line cut by TEXT_LIMIT)
        if not ended and now < self.listed_by:
            return
        if not ended:
            sweep.send(pidfd, signal.SIGKILL)   # its read waits killably: it ends (sm-init reaps it)
            took = self.listed_by - self.listing_since
            read = "a read" if self.reading is None else f"a read of pid {self.reading}'s command line or environment"
            log.warning(f"stall: the kernel did not answer {read} within {took:.1f}s (a process stuck in the"
                        f" kernel holds its memory map; ps would hang on it too): "
                        + (f"stacks of the {len(self.listed)} Python process(es) listed before it"
                           if self.listed else "no stacks"))
        os.close(pidfd)
        os.close(fd)
        self.lister = None
        if now < self.until and (ended or self.listed):
            self._dump(self.listed, now)

    def _dump(self, targets: list[Process], now: float) -> None:
        """Start dumping ``targets``: py-spy, or faulthandler through the stack signal."""
        if not targets:
            log.warning("stall: no Python process in the tree to take stacks from")
            return
        pyspy = find_pyspy()
        problem = None if pyspy is None else ptrace_problem(*read_ptrace_settings())
        if pyspy is not None and (problem is None or self.stack_signal is None):
            if problem is not None:
                log.warning(f"stall: py-spy will likely be refused: {problem}; or set --stack-signal")
            if self.stack_signal is not None:
                # Time for the faulthandler route after it, for each process py-spy fails on.
                spare = min(FAULTHANDLER_WAIT + STAGGER * len(targets), (self.until - now) / 2)
                self.pyspy_by = self.until - spare
            self.pyspy_since = now
            failed = [target for target in targets if not self._pyspy(pyspy, target)]
            if len(failed) < len(targets):
                log.info(f"stall: taking the stacks of {len(targets) - len(failed)} Python process(es) with py-spy")
            self._signal_route(failed, now, "py-spy could not start for them" if len(failed) < len(targets) else "")
            return
        if self.stack_signal is not None:
            if problem is not None:
                log.info(f"stall: not py-spy: {problem}")
            self._signal_route(targets, now)
            return
        log.warning("stall: no stacks: py-spy is not installed (pip install py-spy) and --stack-signal is not set")

    def _signal_route(self, targets: list[Process], now: float, why: str = "") -> None:
        """faulthandler: the stack signal to those of ``targets`` that handle it, one at a time."""
        if not targets or self.stack_signal is None or now >= self.until:
            return
        opened = [item for item in map(self._open_if_catches, targets) if item is not None]
        skipped = len(targets) - len(opened)
        log.info(f"stall: {signals.name(self.stack_signal)} to {len(opened)} Python process(es) that handle it,"
                 f" one at a time (faulthandler{', ' + why if why else ''}): their stacks follow on their stderr"
                 + (f"; {skipped} that don't handle it are not sent it" if skipped else ""))
        self.queue += opened
        if opened and self.next_at is None:
            self.next_at = now if self.sent_at is None else max(now, self.sent_at + STAGGER)
            self.send_due(now)

    def _pyspy(self, pyspy: str, target: Process) -> int | None:
        read_fd, write_fd = os.pipe()
        try:
            pid = spawn.spawn([pyspy, "dump", "--json", "--nonblocking", "--pid", str(target.pid)], env=os.environ,
                              stdout=write_fd, stderr=write_fd)
        except OSError as exc:
            log.warning(f"stall: py-spy: {exc.strerror}")
            os.close(read_fd)
            return None
        finally:
            os.close(write_fd)
        os.set_blocking(read_fd, False)
        output.set_async(read_fd, True)  # its writes wake the loop: a dump larger than the pipe must not wait
        self.helpers.add(pid)
        self.readers[pid] = read_fd
        self.texts[pid] = bytearray()
        self.targets[pid] = target
        return pid

    def _open_if_catches(self, target: Process) -> tuple[int, Process] | None:
        """A pidfd of ``target`` when it handles the stack signal; the pid is checked again after
        the pidfd is open, so the pidfd holds the process that was looked at."""
        try:
            pidfd = os.pidfd_open(target.pid)
        except OSError:
            return None
        same = sweep.read_stat(target.pid)
        if same is None or same.start != target.start or not signals.catches(target.pid, self.stack_signal):
            os.close(pidfd)
            return None
        return pidfd, target

    def send_due(self, now: float) -> None:
        """faulthandler: the next process's signal, once the previous one had ``STAGGER`` seconds;
        after the last, ``FAULTHANDLER_WAIT`` for it to write."""
        if self.written_at is not None and now >= self.written_at:
            self.written_at = None
        if self.next_at is None or now < self.next_at or not self.queue:
            return
        pidfd, target = self.queue.pop(0)
        self.marks.append((target, self.count_stderr()))
        try:
            sweep.send(pidfd, self.stack_signal)   # False: it exited meanwhile, and nobody else got it
        finally:
            os.close(pidfd)
        self.sent_at = now
        self.next_at = now + STAGGER if self.queue else None
        self.written_at = None if self.queue else now + FAULTHANDLER_WAIT

    def collect(self, now: float = 0.0) -> None:
        """Read what the lister and the dumpers wrote; log each dump once its dumper is done (EOF),
        kill the dumpers still at it when their window ends; send the next faulthandler signal
        when it is due."""
        if self.lister is not None:
            self._read_listing(now)
        failed = []
        for pid, fd in list(self.readers.items()):
            ended = _drain(fd, self.texts[pid])
            if not ended and now < self.pyspy_by:
                continue
            if not ended:
                if pid in self.helpers:   # not reaped: its pid, and its group's id, are still its own
                    signals.send(pid, signal.SIGKILL, group=True)
                self.texts[pid] += (f"\nstill running after {max(0.0, now - self.pyspy_since):.1f}s: killed"
                                    .encode())
            os.close(fd)
            del self.readers[pid]
            if not self._log(pid):
                failed.append(self.targets[pid])
        self._signal_route(failed, now, "py-spy failed on them")
        self.send_due(now)

    def end(self, now: float) -> None:
        """The window is over (the stop signal goes out now): what came is logged, every helper
        still at it is killed, no more signals are sent for stacks."""
        for pidfd, _ in self.queue:
            os.close(pidfd)
        self.queue, self.next_at, self.written_at = [], None, None
        self.until = min(self.until, now)
        self.listed_by = min(self.listed_by, now)
        self.pyspy_by = min(self.pyspy_by, now)
        self.collect(now)

    def _log(self, pid: int) -> bool:
        """Log what py-spy said of its process; False when it gave no stacks."""
        target = self.targets[pid]
        threads, remark = parse_pyspy(self.texts[pid].decode("utf-8", "replace"))
        who = f"pid {target.pid}" + (f", rank {target.rank}" if target.rank is not None else "")
        remark = remark if len(remark) <= REMARK_LIMIT else remark[:REMARK_LIMIT] + " [...]"
        if threads is None:
            log.warning(f"stall: py-spy could not read {who} ({log.command(target.argv)}): {remark or 'no output'}")
            return False
        self.dumped.append((target, threads))
        log.info(f"stall: stacks of {who} ({log.command(target.argv)}), by py-spy:")
        for line in render(threads) + (remark.splitlines() if remark else []):
            log.info("stack: " + line)
        return True

    def where(self, stderr_since: Callable[[int], tuple[int, bytes]]) -> str | None:
        """Where the processes that matter were, for the failure file. ``stderr_since(n)``: the
        tree's stderr from its n-th byte on, as far as it is still kept: (where that starts, bytes)."""
        dumped = list(self.dumped)
        routes = ["py-spy"] if dumped else []
        if self.marks:
            # faulthandler: each process's dump lies between its signal and the next one's.
            ends = [mark for _, mark in self.marks[1:]] + [None]
            base, after = stderr_since(self.marks[0][1])
            for (target, start), end in zip(self.marks, ends):
                if start < base:
                    continue  # no longer kept
                piece = after[start - base: None if end is None else end - base]
                threads = with_main_last(parse_faulthandler(piece.decode("utf-8", "replace")))
                if threads:
                    dumped.append((target, threads))
            routes += ["faulthandler"] if len(dumped) > len(self.dumped) else []
        found = where(dumped)
        if found is None:
            return None
        return f"{found} (stacks by {' and '.join(routes)}, in the log)"
