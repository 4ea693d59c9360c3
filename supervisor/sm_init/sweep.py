"""Signalling every process that is left, including those that escaped the process group.

Which processes: as PID 1, every process of the PID namespace but sm-init; otherwise (child
subreaper) every descendant of sm-init. Orphans are reparented to the nearest subreaper above them
(sm-init, or a descendant that is one) and a process that calls setsid keeps its parent, so both
stay descendants; a process outside the tree never becomes one.

PID 1 with nothing to spare: ``kill(-1, sig)``. The kernel sends it to every process of the
namespace but the caller (PID 1 is the caller), in one walk under the task list lock, and it
queues such a many-process signal on any child being forked meanwhile: no fork slips through.
A process group signalled first (``group_first``, ``killpg``) is reached the same way.

Otherwise the sweep walks /proc, in passes. A pass lists /proc/*/stat once (pid -> parent, group,
state, start time) and visits the targets parents first (depth first from sm-init in subreaper
mode). A visit opens a pidfd, reads /proc/PID/stat again (as PID 1, where only the process group
decides, ``getpgid``), decides on that fresh read, and signals through the pidfd.

Why a pid reaped and reused by a stranger is never signalled: between the listing and the signal
a target may exit, be reaped, and its pid be taken by a process that is not ours. The pidfd pins
whichever process held the pid when it was opened, and ``pidfd_send_signal`` fails with ESRCH once
that process is reaped (a zombie still holds its pid). The stat is read after the open, so a signal
that went out proves its process held the pid from the open to the send, the read included: the
decision was made on the process that got the signal. ``kill(pid)`` after a check could hit a
process that took the pid between the two; a pidfd cannot.

Why a non-descendant is never signalled in subreaper mode: a target is ours if its fresh stat names
sm-init as its parent, or names the parent the walk came from, whose pidfd is still open, and that
pidfd's process is not reaped when checked after the read (signal 0): it then held the parent's pid
during the read, so it was the target's parent. That parent was itself found to be ours the same
way, up to sm-init, whose own pid nobody else can hold. A target whose parent changed meanwhile is
left to the next pass. Only the pidfds of the current path stay open: depth, not tree size.

A signal sent to a listed process cannot reach one forked after the listing (unlike ``kill(-1)``):
SIGKILL sweeps therefore repeat passes until one finds nothing new and nothing moved under it. A
fork bomb racing the sweep dies in a few passes (a process with SIGKILL pending cannot fork); the
deadline is checked before every step, so the sweep returns by it however large or fork-happy the
tree.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from .records import record
from .signals import signal


@record
class Stat:
    """The fields of /proc/PID/stat the sweep needs."""
    ppid: int
    pgrp: int
    state: str
    threads: int
    start: int  # clock ticks after boot: with the pid, it tells two processes apart

    @property
    def gone(self) -> bool:
        """Dead, or a zombie: nothing left to signal. A leader that exited while its other threads
        run shows Z too, with those threads counted: that process is alive."""
        return self.state in "Xx" or (self.state == "Z" and self.threads <= 1)


def read_stat(pid: int) -> Stat | None:
    """/proc/PID/stat, or None once the pid is gone."""
    try:
        fd = os.open(f"/proc/{pid}/stat", os.O_RDONLY)
    except OSError:
        return None
    try:
        data = os.read(fd, 4096)
    except OSError:
        return None
    finally:
        os.close(fd)
    # The command name (field 2) may hold spaces and ')': the fields that follow come after its last ')'.
    fields = data[data.rfind(b")") + 2:].split()
    try:
        return Stat(int(fields[1]), int(fields[2]), fields[0].decode(), int(fields[17]), int(fields[19]))
    except (IndexError, ValueError):
        return None


def process_table(deadline: float, clock: Callable[[], float]) -> dict[int, Stat] | None:
    """Every process in /proc (zombies included), or None if the deadline passed first."""
    table = {}
    for name in os.listdir("/proc"):
        if clock() >= deadline:
            return None
        if name.isdigit():
            stat = read_stat(int(name))
            if stat is not None:
                table[int(name)] = stat
    return table


def children_map(table: dict[int, Stat]) -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for pid, stat in table.items():
        children.setdefault(stat.ppid, []).append(pid)
    return children


def release(path: dict[int, list[int]], parent: int) -> None:
    """One child of ``parent`` visited: close the parent's pidfd after its last child."""
    path[parent][1] -= 1
    if path[parent][1] == 0:
        os.close(path.pop(parent)[0])


def send(pidfd: int, signum: int) -> bool | None:
    """True: sent; False: the pidfd's process is reaped (its pid may be another's now); None: not
    permitted (a descendant that took another user's id, when sm-init is not root). Signal 0
    sends nothing: not False means the process still holds its pid."""
    try:
        signal.pidfd_send_signal(pidfd, signum)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return None


class Sweep:
    """One sweep over its passes: whom it signalled, whom it found to be ours."""

    def __init__(self, signum: int, pid1: bool, spare_pgid: int | None, spare_pid: int | None,
                 then_continue: bool, group_first: int | None, spare_pids: frozenset[int] = frozenset()):
        self.signum = signum
        self.pid1 = pid1
        self.spare_pgid = spare_pgid
        self.spare_pid = spare_pid
        self.spare_pids = spare_pids
        self.then_continue = continued(signum, then_continue)
        self.group_first = group_first
        self.me = os.getpid()
        self.passes = 0
        self.ours: set[int] = set()                   # pids found to be ours (signalled or spared)
        self.signalled: set[tuple[int, int]] = set()  # (pid, start time)

    def one_pass(self, deadline: float, clock: Callable[[], float]) -> tuple[int, bool]:
        """(processes newly signalled, whether the tree moved under the listing: look again)."""
        table = process_table(deadline, clock)
        if table is None:
            return 0, False
        self.passes += 1
        counted = self.count_group_kill(table) if self.passes == 1 else 0
        if self.pid1:
            return counted + self.visit_all(table, deadline, clock), False
        # A parent of ours reaped during the listing: its children were listed under it, out of the
        # walk's reach; they hang under their new parent in the next listing.
        moved = any(s.ppid in self.ours and s.ppid not in table for s in table.values())
        signalled, unsettled = self.walk(table, deadline, clock)
        return counted + signalled, moved or unsettled

    def count_group_kill(self, table: dict[int, Stat]) -> int:
        """Members of the group signalled first that died of it already: counted, not visited."""
        if not self.group_first:
            return 0
        dead = [(pid, s.start) for pid, s in table.items() if s.pgrp == self.group_first and s.gone]
        self.signalled.update(dead)
        return len(dead)

    def visit_all(self, table: dict[int, Stat], deadline: float, clock: Callable[[], float]) -> int:
        """PID 1 with spares: every process of the namespace, in any order."""
        signalled = 0
        for pid, stat in table.items():
            if pid == self.me or stat.gone or (pid, stat.start) in self.signalled:
                continue
            if clock() >= deadline:
                break
            pidfd, outcome = self.visit(pid, None, None, stat)
            if pidfd is not None:
                os.close(pidfd)
            signalled += outcome is True
        return signalled

    def walk(self, table: dict[int, Stat], deadline: float, clock: Callable[[], float]) -> tuple[int, bool]:
        """Subreaper: depth first from sm-init, holding the pidfds of the current path only."""
        children = children_map(table)
        signalled, unsettled = 0, False
        stack: list[tuple[int, int | None]] = [(pid, None) for pid in reversed(children.get(self.me, []))]
        path: dict[int, list[int]] = {}  # parent pid -> [its pidfd, its children not visited yet]
        try:
            while stack:
                pid, parent = stack.pop()
                try:
                    stat, below = table[pid], children.get(pid, [])
                    # A zombie's children went to a new parent; a signalled process is only a way down.
                    if stat.gone or ((pid, stat.start) in self.signalled and not below):
                        continue
                    if clock() >= deadline:
                        break
                    pidfd, outcome = self.visit(pid, parent, None if parent is None else path[parent][0], stat)
                    signalled += outcome is True
                    unsettled = unsettled or outcome is None
                    if pidfd is not None and below:
                        path[pid] = [pidfd, len(below)]
                        stack += [(child, pid) for child in reversed(below)]
                    elif pidfd is not None:
                        os.close(pidfd)
                finally:
                    if parent is not None:
                        release(path, parent)
        finally:
            for pidfd, _ in path.values():
                os.close(pidfd)
        return signalled, unsettled

    def visit(self, pid: int, parent: int | None, parent_fd: int | None,
              listed: Stat) -> tuple[int | None, bool | None]:
        """Open, read, decide, signal: (its pidfd if it is ours, else None;
        True: signalled, False: not to be, None: its parent changed, look again)."""
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            return None, False  # gone already
        except OSError:
            return None, None  # out of file descriptors, say: try again in the next pass
        stat = self.fresh(pid, listed)  # after the open: see the module docstring
        if stat is None or not (self.pid1 or self.parent_is_ours(stat.ppid, parent, parent_fd)):
            os.close(pidfd)
            return None, None if stat is not None else False
        self.ours.add(pid)
        if not self.wanted(pid, stat):
            return pidfd, False  # the children of a spared process are ours all the same
        sent = send(pidfd, self.signum)
        if sent is False:
            os.close(pidfd)
            return None, False  # reaped since the open: whoever holds the pid now gets nothing
        if sent:
            self.signalled.add((pid, stat.start))
            if self.then_continue:
                send(pidfd, signal.SIGCONT)
        return pidfd, bool(sent)  # not permitted: not signalled, and no reason to look again

    def fresh(self, pid: int, listed: Stat) -> Stat | None:
        """What the decision needs, read after the pidfd was opened. As PID 1 that is only the group
        (every process of the namespace is a target): getpgid, a fraction of a stat read."""
        if not self.pid1:
            return read_stat(pid)
        try:
            return listed._replace(pgrp=os.getpgid(pid))
        except ProcessLookupError:
            return None

    def wanted(self, pid: int, stat: Stat) -> bool:
        return not (stat.gone or pid == self.spare_pid or stat.pgrp == self.spare_pgid or pid in self.spare_pids
                    or (pid, stat.start) in self.signalled)

    def parent_is_ours(self, ppid: int, parent: int | None, parent_fd: int | None) -> bool:
        if ppid == self.me:
            return True
        return ppid == parent and parent_fd is not None and send(parent_fd, 0) is not False


def sweep(signum: int, pid1: bool, deadline: float, spare_pgid: int | None = None,
          spare_pid: int | None = None, then_continue: bool = False,
          clock: Callable[[], float] = time.monotonic, group_first: int | None = None,
          spare_pids: frozenset[int] = frozenset()) -> int:
    """Send ``signum`` to every process left (PID 1: every process of the PID namespace but itself;
    otherwise: every descendant of sm-init, orphans reparented to it included), except the process
    group ``spare_pgid`` and the process ``spare_pid``; with ``then_continue``, follow each signal
    with SIGCONT (a stopped process can't act on SIGTERM). Returns how many processes were
    signalled. Never returns later than ``deadline`` (on ``clock``), however large or fork-happy
    the tree.

    ``group_first``: a process group to signal with one ``killpg`` before the walk (fork-proof, and
    the processes that use the CPU stop at once). The caller vouches that the id is its own group's:
    the main child's group while the main child is not reaped (its pid, the group's id, stays taken).
    ``spare_pids``: sm-init's own helpers, never the tree's leftovers.
    """
    if clock() >= deadline:
        return 0
    if pid1 and spare_pgid is None and spare_pid is None and not spare_pids:
        return kill_namespace(signum, then_continue)
    if group_first:  # never 0: killpg(0) is the caller's own group
        kill_group(group_first, signum, then_continue)
    run = Sweep(signum, pid1, spare_pgid, spare_pid, then_continue, group_first, spare_pids)
    total = 0
    while clock() < deadline:
        signalled, unsettled = run.one_pass(deadline, clock)
        total += signalled
        # Other signals are a warning, sent once; SIGKILL must reach processes forked meanwhile.
        if signum != signal.SIGKILL or not (signalled or unsettled):
            break
    return total


def continued(signum: int, then_continue: bool) -> bool:
    return then_continue and signum not in (signal.SIGKILL, signal.SIGCONT)


def kill_group(pgid: int, signum: int, then_continue: bool = False) -> None:
    try:
        os.killpg(pgid, signum)
        if continued(signum, then_continue):
            os.killpg(pgid, signal.SIGCONT)
    except (ProcessLookupError, PermissionError):
        pass  # nobody left in it, or nobody it may signal


def kill_namespace(signum: int, then_continue: bool = False) -> int:
    """PID 1 only: ``kill(-1)``; how many processes there were (unreaped zombies included)."""
    count = count_processes() - 1
    try:
        os.kill(-1, signum)
        if continued(signum, then_continue):
            os.kill(-1, signal.SIGCONT)
    except (ProcessLookupError, PermissionError):
        return 0  # nobody else left, or nobody it may signal
    return max(count, 0)


def count_processes() -> int:
    """Processes in this PID namespace's /proc, the caller and unreaped zombies included."""
    return sum(1 for entry in os.listdir("/proc") if entry.isdigit())
