"""sm-init's own output and the relay of the tree's: nothing here ever blocks the loop.

Two rules shape this module. PID 1 never blocks on a peer: a log consumer that stops reading
(Docker's log drivers block by default, a terminal after Ctrl-S) must not freeze signal handling
or a stop. And the trainer shares sm-init's open file descriptions (fds 0-2): a flag set on them,
O_NONBLOCK above all, would change the trainer's own writes.

So sm-init never writes through the fds it shares. Each of its outputs is a ``Sink`` with a private
open file description of the same file: a pipe, FIFO or terminal is opened again through
/proc/self/fd/N, which gives a new description of the same pipe or terminal, made non-blocking
there alone; a socket is written with MSG_DONTWAIT, per call; a regular file or /dev/null never
blocks. What a sink can't take now waits in its bounded queue; a pipe sink that is full asks the
kernel for SIGIO once the reader has made room (O_ASYNC, only while it waits, since a pipe's
reader side raises it on every read), other kinds are retried at a short deadline. The kernel's
notice is ``signals.IO_SIGNAL`` (F_SETSIG), a realtime signal, so it never swallows a SIGIO that
someone sent for the trainer. Where no private description can be had (/proc/self/fd/N refused:
privileges dropped before sm-init, another user's 0600 FIFO; no /proc), the controlling terminal's
/dev/tty serves when it is the one; else sm-init writes through the shared description, left
blocking, after poll says there is room and no more than that room surely takes (``shared``).

Capture (``--capture``, by default when the output is not a terminal): the main child's stdout
and stderr, inherited by its whole tree, are pipes that sm-init reads and copies to its own,
byte for byte and in order within each stream, keeping the last 64 KiB of each for the failure
file. Reads are non-blocking and announced by a signal (O_ASYNC), so the loop still waits in
sigtimedwait alone. The kernel raises that signal at every write to the pipe, and realtime signals
queue: a trainer that writes a line per write(2) cost sm-init one sigtimedwait per line (262,199
for 262,144 writes; 22 ms of CPU per MiB, a third of a direct write's throughput). So a stream
stops asking (``hush``, O_ASYNC off) as soon as one signal has come, and asks again only when a
read finds its pipe empty, then reads once more: a write in between raised no signal.
Alternatives considered and rejected:

* signalfd + epoll: the natural design in C, but CPython has no signalfd; reaching it through
  ctypes costs 2-3 ms of start-up and puts a foreign-function interface in PID 1.
* a relay thread: gives up "one thread" and, under heavy output, holds the GIL for up to the
  switch interval while a signal waits to be forwarded.
* ``signal.set_wakeup_fd`` with Python handlers: loses siginfo, which tells the kernel's SIGPIPE
  against sm-init's own write apart from a SIGPIPE someone sent.

Back-pressure: when a sink can't take more, sm-init stops reading the stream that feeds it, and
the trainer blocks in its write exactly as it would without sm-init; signals, reaping and the
stop go on. What waits in the pipe meanwhile is progress all the same (FIONREAD grows: the stall
watchdog's business). At a verdict (the failure file, a stall) and at exit the pipes are read to
their end at once, into a hold relayed before anything else, so the tails are the tree's last
words whatever the reader's speed (at most HOLD_LIMIT per stream). At exit the rest goes out as
the reader takes it: while it makes progress, or until the stop's exit deadline; what is left is
dropped, counted in the exit line, which is always written last. When a sink's reader is gone (EPIPE), sm-init closes its end of the stream too, so the
trainer gets EPIPE or SIGPIPE as it would have; other write errors (EFBIG, ENOSPC, EIO) drop the
bytes, counted, and the trainer goes on.

sm-init's own lines go to the stderr sink between the child's lines, never inside one: while the
child has an unfinished line out, they wait for its newline, at most ``HOLD`` seconds (a progress
bar may never end its line); then a newline ends the child's line first.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import sys
import time
from collections import deque

from .signals import IO_SIGNAL, signal

# Reads and the queue stay at 64 KiB, a pipe's default size (what a log driver's pipe takes at
# once): glibc serves larger blocks from fresh mmap'd or trimmed memory, so 256 KiB reads and a
# 256 KiB queue cost 150-400 page faults per MiB relayed, half of sm-init's CPU. The backlog
# waits in the 1 MiB capture pipe instead, at no cost.
CHUNK = 64 * 1024           # one read from a relayed stream
QUEUE_LIMIT = 64 * 1024     # a sink holding this much stops taking the tree's output
LOG_ROOM = 64 * 1024        # sm-init's own lines may queue this much beyond that, then drop
TAIL = 64 * 1024            # kept of each stream for the failure reason
TURN = 1024 * 1024          # bytes relayed per stream before the loop looks at signals again
HOLD = 1.0                  # longest wait of a log line for the child's newline
RETRY = 0.05                # retry interval of a full sink that can't raise SIGIO (terminal, socket)
PIPE_SIZE = 1024 * 1024     # asked for the capture pipes: fewer wakeups, bursts don't block
HOLD_LIMIT = 2 * PIPE_SIZE  # read at verdicts, not yet relayed: the oldest beyond this is dropped, counted
EXIT_FLUSH = 1.0            # the longest sm-init waits for a slow reader when it exits before starting anything
SHARED_STEP = 4096          # PIPE_BUF: a write this size into a pipe poll calls writable never waits
TTY_STEP = 256              # n_tty's WAKEUP_CHARS: poll calls a terminal writable with at least this much room
TREE, LINE, NEWLINE = 0, 1, 2  # whose bytes are queued: the tree's, a line of sm-init's, a newline it added


class Sink:
    """One of sm-init's own outputs (fd 1 or 2), written without ever blocking."""

    def __init__(self, fd: int):
        self.fd = -1                # writable; -1: nothing can be written (closed)
        self.kind = "closed"        # pipe | tty | socket | file | shared | closed
        self.name = "stdout" if fd == 1 else "stderr"
        self.queue = bytearray()    # accepted, not yet written
        self.ours = deque()         # (start, end, LINE or NEWLINE): sm-init's bytes in the queue
        self.accepted = 0           # bytes ever queued (``ours`` counts in these)
        self.sent = 0               # bytes ever written
        self.ends_line = True       # the last byte written ended a line
        self.child_line_open = False  # the tree's last byte in the queue did not end a line
        self.held: list[bytes] = []  # log lines waiting for the tree's newline
        self.held_since = 0.0
        self.broken = False         # the reader is gone
        self.waiting_since: float | None = None  # blocked with a queue since
        self.dropped_lines = 0
        self.reported_lines = 0
        self.failed_bytes = 0       # the tree's bytes lost to write errors (EFBIG, ENOSPC, EIO)
        self.reported_bytes = 0
        self.late_bytes = 0         # the tree's bytes the reader did not take in time at exit
        self.reported_late = 0
        self.step = 0               # shared: the most one write may hand over
        self._poll = None
        self._socket = None
        self._open(fd)

    def _open(self, fd: int) -> None:
        try:
            mode = os.fstat(fd).st_mode
        except OSError:
            return
        if stat.S_ISSOCK(mode):
            import socket  # only here: its import is not free and sockets are rare as stdout
            self._socket = socket.socket(fileno=os.dup(fd))
            self.fd, self.kind = self._socket.fileno(), "socket"
            return
        if stat.S_ISREG(mode) or (stat.S_ISCHR(mode) and not os.isatty(fd)):
            self.fd, self.kind = fd, "file"  # a file or /dev/null never makes a writer wait
            return
        flags = os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
        try:
            self.fd = os.open(f"/proc/self/fd/{fd}", flags)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # a pipe whose reader is gone
                self.broken = True
                return
            # EACCES: the pipe, FIFO or terminal belongs to another user (privileges dropped before
            # exec: gosu, setpriv; a rootless engine; a 0600 FIFO of root's); ENOENT: no /proc.
            self._open_shared(fd, flags)
            return
        self.kind = "tty" if os.isatty(self.fd) else "pipe"

    def _open_shared(self, fd: int, flags: int) -> None:
        """No description of our own: the controlling terminal's (/dev/tty is anyone's to open) when
        that is the one, else the shared one, written only as far as poll promises room (``flush``)."""
        if os.isatty(fd):
            try:
                os.tcgetpgrp(fd)  # ENOTTY unless it is our controlling terminal, the one /dev/tty opens
                self.fd, self.kind = os.open("/dev/tty", flags), "tty"
                return
            except OSError:
                pass
        import select  # only here: a rare case
        self.fd = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
        self.kind = "shared"
        self.step = TTY_STEP if os.isatty(fd) else SHARED_STEP
        self._poll = select.poll()
        self._poll.register(self.fd, select.POLLOUT)

    # --- what goes in ---------------------------------------------------------------------

    def _add(self, data: bytes, ours: int = TREE) -> None:
        if ours != TREE:
            self.ours.append((self.accepted, self.accepted + len(data), ours))
        self.queue += data
        self.accepted += len(data)

    def log(self, line: bytes, now: float) -> None:
        """One line of sm-init's own (with its newline); never inside a line of the tree's."""
        if self.fd < 0 or self.broken:
            self.dropped_lines += 1
            return
        # The tree's output stops being read at QUEUE_LIMIT, one read (CHUNK) past it at most:
        # sm-init's lines have LOG_ROOM beyond that, whatever the tree does.
        if len(self.queue) + sum(map(len, self.held)) > QUEUE_LIMIT + CHUNK + LOG_ROOM:
            self.dropped_lines += 1
            return
        if self.child_line_open:
            if not self.held:
                self.held_since = now
            self.held.append(line)
        else:
            self._add(line, LINE)
        self.flush(now)

    def take(self, data: bytes, now: float) -> None:
        """Bytes of the tree's (the caller stops reading while ``full``)."""
        if self.held:
            end = data.find(b"\n")
            if end >= 0:
                self._add(data[:end + 1])
                self._release_held()
                data = data[end + 1:]
        if data:
            self.queue += data
            self.accepted += len(data)
            self.child_line_open = not data.endswith(b"\n")
        elif not self.held:
            self.child_line_open = False
        self.flush(now)

    def _release_held(self) -> None:
        for line in self.held:
            self._add(line, LINE)
        self.held.clear()
        self.child_line_open = False

    def release_overdue(self, now: float) -> None:
        """Log lines that waited HOLD seconds for the tree's newline go out after one of ours."""
        if self.held and now - self.held_since >= HOLD:
            self.end_open_line(now)

    def end_open_line(self, now: float) -> None:
        """The tree's open line will not be ended by the tree (too slow, or its stream is gone):
        if our log lines wait for it, end it and let them out (else the tree's bytes stay exact)."""
        if not self.held:
            return
        if self.child_line_open:
            self._add(b"\n", NEWLINE)
        self._release_held()
        self.flush(now)

    def last_line(self, line: bytes, now: float) -> None:
        """sm-init's exit line, once nothing else will be written: on a line of its own."""
        if self.fd < 0 or self.broken:
            return
        self._release_held()
        if not (self.queue[-1:] == b"\n" if self.queue else self.ends_line):
            line = b"\n" + line
        self._add(line, LINE)
        self.flush(now)

    @property
    def full(self) -> bool:
        return len(self.queue) >= QUEUE_LIMIT

    @property
    def pending(self) -> bool:
        """Bytes wait that could still be written."""
        return bool(self.queue or self.held) and not self.broken and self.fd >= 0

    def give_up(self) -> None:
        """The reader did not take what waits in time: drop it, the tree's bytes and sm-init's lines
        counted apart (a line of ours cut by a partial write counts as dropped)."""
        mine = 0
        for start, end, ours in self.ours:
            mine += end - max(start, self.sent)
            self.dropped_lines += ours == LINE
        self.late_bytes += len(self.queue) - mine
        self.dropped_lines += len(self.held)
        self.queue.clear()
        self.ours.clear()
        self.held.clear()
        self.accepted = self.sent
        self.child_line_open = False
        self._stop_waiting()

    # --- what goes out --------------------------------------------------------------------

    def flush(self, now: float) -> None:
        """Write what the sink takes now; never waits."""
        wrote = False
        while self.queue and not self.broken:
            try:
                if self._socket is not None:
                    import socket
                    written = self._socket.send(self.queue, socket.MSG_DONTWAIT)
                elif self._poll is not None:
                    written = self._write_shared()
                else:
                    written = os.write(self.fd, self.queue)
            except (BlockingIOError, InterruptedError):
                self._wait_for_room(now)
                return
            except BrokenPipeError:
                self.broken = True
                self.queue.clear()
                self.ours.clear()
                self.held.clear()
                self.accepted = self.sent
                return
            except OSError:  # EFBIG, ENOSPC, EIO: these bytes can't be written, later ones may
                self.failed_bytes += len(self.queue)
                self._sent(len(self.queue))
                return
            self._sent(written)
            wrote = True
        self._stop_waiting()
        if wrote:  # it takes lines again: say what it could not take before
            self._report_losses()

    def _sent(self, count: int) -> None:
        if count:
            self.ends_line = self.queue[count - 1] == 10
            del self.queue[:count]
            self.sent += count
            while self.ours and self.ours[0][1] <= self.sent:
                self.ours.popleft()

    def _write_shared(self) -> int:
        """Through the description the trainer shares (none of sm-init's own could be had): its
        O_NONBLOCK would turn the trainer's own writes into EAGAIN, so it stays blocking and sm-init
        writes only after poll says there is room, and no more than that room surely takes (a pipe:
        one page; a terminal: what poll requires). The cost: a write of another process's to the same
        pipe between the two calls can fill it, and then this write waits for the reader."""
        if not self._poll.poll(0):
            raise BlockingIOError
        return os.write(self.fd, self.queue[:self.step])

    def _report_losses(self) -> None:
        lines = self.dropped_lines - self.reported_lines
        lost = self.failed_bytes - self.reported_bytes
        if (lines or lost) and not self.child_line_open:
            self.reported_lines, self.reported_bytes = self.dropped_lines, self.failed_bytes
            what = []
            if lines:
                what.append(f"{lines} of sm-init's log line(s) dropped: stderr was not taking them")
            if lost:
                what.append(f"{lost} byte(s) of the tree's output could not be written")
            self._add(("sm-init: warning: " + "; ".join(what) + "\n").encode(), LINE)
            self.flush(time.monotonic())

    def _wait_for_room(self, now: float) -> None:
        if self.waiting_since is None:
            self.waiting_since = now
            if self.kind == "pipe":
                # The reader's next read (or its close) raises SIGIO; write once more in case it read,
                # or went away, meanwhile: a reader gone before O_ASYNC was on raises nothing, and only
                # this write's EPIPE tells (flush takes it as any other write's).
                set_async(self.fd, True)
                self.flush(now)

    def _stop_waiting(self) -> None:
        if self.waiting_since is not None:
            self.waiting_since = None
            if self.kind == "pipe":
                set_async(self.fd, False)

    def next_deadline(self) -> float | None:
        """When this sink must be looked at again even if no signal comes."""
        times = []
        if self.held:
            times.append(self.held_since + HOLD)
        if self.waiting_since is not None and self.kind != "pipe":
            times.append(time.monotonic() + RETRY)
        return min(times) if times else None

    def take_unreported_losses(self) -> list[str]:
        """Losses not yet reported, now reported by the caller (in the exit line)."""
        lines = self.dropped_lines - self.reported_lines
        lost = self.failed_bytes - self.reported_bytes
        late = self.late_bytes - self.reported_late
        self.reported_lines, self.reported_bytes, self.reported_late = \
            self.dropped_lines, self.failed_bytes, self.late_bytes
        what = [f"{lines} log line(s) dropped"] if lines else []
        what += [f"{lost} byte(s) of output lost"] if lost else []
        what += [f"{late} byte(s) of the tree's output to {self.name} dropped: not read in time"] if late else []
        return what


class Stream:
    """One stream of the tree (its stdout or stderr) copied from a pipe into a sink."""

    def __init__(self, read_fd: int, sink: Sink):
        self.fd = read_fd
        self.sink = sink
        self.tail = bytearray()
        self.total = 0      # bytes read so far: marks a point in the stream (the stall's stacks)
        self.armed = True   # O_ASYNC on: the tree's next write raises IO_SIGNAL
        self.hold = bytearray()  # read out of turn (``drain``), relayed before anything else
        self.idle = True    # the last pump found the pipe empty: the tree is not writing
        self.unread = 0     # bytes the pipe held when the sink, full, last stopped the reading

    @property
    def open(self) -> bool:
        return self.fd >= 0

    def pump(self, now: float, budget: int = TURN) -> tuple[int, bool]:
        """Copy what is readable while the sink takes it: (bytes the tree wrote since the last look,
        whether more may be waiting)."""
        moved = 0
        self.idle = False
        if self.hold and not self._relay_hold(now):
            return self._waiting(), False
        while self.open:
            if self.sink.broken:
                self.close()  # the reader is gone: the tree learns it from its own next write
                break
            if self.sink.full:
                return moved + self._waiting(moved), False  # the sink's SIGIO or retry brings us back
            if moved >= budget:
                return moved, True
            try:
                data = os.read(self.fd, CHUNK)
            except (BlockingIOError, InterruptedError):
                if self.armed:
                    break
                self.arm(True)  # then read once more: a write before this raised no signal
                continue
            except OSError:
                self.close()
                break
            if not data:  # every writer is gone: nobody will end an open line
                self.close()
                self.sink.end_open_line(now)
                break
            moved += len(data)
            self._keep(data)
            self.sink.take(data, now)
        self.idle, self.unread = True, 0
        return moved, False

    def _relay_hold(self, now: float) -> bool:
        """What ``drain`` read goes first, as the sink takes it: whether all of it went."""
        while self.hold:
            if self.sink.broken:
                self.hold.clear()
            elif self.sink.full:
                return False
            else:
                piece = bytes(self.hold[:CHUNK])
                del self.hold[:CHUNK]
                self.sink.take(piece, now)
        return True

    def _waiting(self, moved: int = 0) -> int:
        """The sink is full and the tree's output waits in the pipe: what the pipe holds beyond what
        it held when last looked is what the tree wrote since (progress, though not yet copied)."""
        if not self.open:
            return 0
        unread = unread_bytes(self.fd)
        grew = unread - self.unread if moved == 0 else 0
        self.unread = unread
        return max(grew, 0)

    def drain(self, close: bool = False) -> None:
        """A verdict is made (a failure, a stall, the exit): read everything the pipe holds now, so
        the tail is the tree's last words whatever the reader's speed; kept in ``hold`` to be relayed
        still. At most what the pipe holds (its size, PIPE_SIZE), not waiting for more; the hold
        never exceeds HOLD_LIMIT."""
        if not self.open:
            return
        want = fcntl.fcntl(self.fd, fcntl.F_GETPIPE_SZ)  # a writer still alive can't keep us reading
        while want > 0:
            try:
                data = os.read(self.fd, want)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self.close()
                break
            if not data:
                break
            want -= len(data)
            self._keep(data)
            self.hold += data
        self.unread = 0
        if close:
            self.close()
        excess = len(self.hold) - HOLD_LIMIT  # verdicts in a row (a stall, then the failure, then the
        if excess > 0:                        # exit) behind a reader that reads nothing
            del self.hold[:excess]
            self.sink.late_bytes += excess

    def give_up(self) -> None:
        """The reader did not take the held bytes in time: dropped, counted as the sink's."""
        self.sink.late_bytes += len(self.hold)
        self.hold.clear()

    def _keep(self, data: bytes) -> None:
        self.total += len(data)
        if len(data) >= TAIL:
            self.tail = bytearray(data[-TAIL:])
        else:
            self.tail += data
            if len(self.tail) > 2 * TAIL:
                del self.tail[:-TAIL]

    def arm(self, on: bool) -> None:
        """Ask for IO_SIGNAL at the tree's writes, or stop asking (F_SETOWN and F_SETSIG stay)."""
        flags = fcntl.fcntl(self.fd, fcntl.F_GETFL)
        fcntl.fcntl(self.fd, fcntl.F_SETFL, flags | os.O_ASYNC if on else flags & ~os.O_ASYNC)
        self.armed = on

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def last(self) -> bytes:
        return bytes(self.tail[-TAIL:])

    def since(self, mark: int) -> tuple[int, bytes]:
        """The bytes from the ``mark``-th on, as far as they are kept: (where they start, bytes)."""
        kept = self.total - len(self.tail)
        start = max(mark, kept)
        return start, bytes(self.tail[start - kept:])


def unread_bytes(fd: int) -> int:
    """Bytes waiting in the pipe behind ``fd`` (FIONREAD)."""
    import termios  # not at start-up, nor at exit: only a full sink asks
    return int.from_bytes(fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"), sys.byteorder)


_sinks = {}


def sink(fd: int) -> Sink:
    """sm-init's sink for fd 1 or 2, opened on first use."""
    if fd not in _sinks:
        _sinks[fd] = Sink(fd)
    return _sinks[fd]


def sinks() -> dict:
    """The sinks opened so far, by fd."""
    return _sinks


def set_async(fd: int, on: bool) -> None:
    """Ask the kernel for IO_SIGNAL when ``fd`` is ready (or stop asking)."""
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    if on:
        fcntl.fcntl(fd, fcntl.F_SETOWN, os.getpid())
        fcntl.fcntl(fd, fcntl.F_SETSIG, IO_SIGNAL)
    fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_ASYNC if on else flags & ~os.O_ASYNC)


def _same_file(a: int, b: int) -> bool:
    try:
        sa, sb = os.fstat(a), os.fstat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def should_capture(fd: int, capture: bool | None) -> bool:
    """By default a stream is captured when it is not a terminal; --capture/--no-capture decide."""
    try:
        os.fstat(fd)
    except OSError:
        return False  # closed: the child inherits it closed, as it would without sm-init
    return (not os.isatty(fd)) if capture is None else capture


class Relay:
    """The capture pipes of the main child and the streams that copy them to sm-init's outputs."""

    def __init__(self, capture: bool | None):
        self.streams: list[Stream | None] = [None, None]   # the tree's stdout, stderr
        self.child_fds: list[int | None] = [None, None]    # write ends, for the child only
        out, err = should_capture(1, capture), should_capture(2, capture)
        if out and err and _same_file(1, 2):
            # One file behind both (2>&1): one pipe keeps the tree's own interleaving of the two.
            read_fd, write_fd = self._pipe()
            self.streams[1] = Stream(read_fd, sink(2))
            self.child_fds = [write_fd, write_fd]
            return
        for index, wanted in ((0, out), (1, err)):
            if wanted:
                read_fd, write_fd = self._pipe()
                self.streams[index] = Stream(read_fd, sink(index + 1))
                self.child_fds[index] = write_fd

    @staticmethod
    def _pipe() -> tuple[int, int]:
        read_fd, write_fd = os.pipe()  # both close-on-exec; the child dup2s the write end
        try:
            fcntl.fcntl(read_fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
        except OSError:
            pass  # over the user's pipe budget: the default size works, with more wakeups
        os.set_blocking(read_fd, False)
        set_async(read_fd, True)
        return read_fd, write_fd

    def hush(self) -> None:
        """An I/O signal came and ``pump`` follows: the tree's writes until it finds a pipe empty
        need no signal each. A stream left unread (its sink full) is asked again when it is read."""
        for stream in self.streams:
            if stream is not None and stream.open and stream.armed:
                stream.arm(False)

    def spawned(self) -> None:
        """The child holds the write ends now; ours would keep the pipes from ever reaching EOF."""
        for fd in set(fd for fd in self.child_fds if fd is not None):
            os.close(fd)
        self.child_fds = [None, None]

    def pump(self, now: float) -> tuple[int, bool]:
        """Flush, copy, release overdue log lines: (bytes the tree wrote, whether to come back at once)."""
        moved, again = 0, False
        for out in _sinks.values():
            out.flush(now)
        for stream in self.streams:
            if stream is not None:
                read, more = stream.pump(now)
                moved += read
                again = again or more
        for out in _sinks.values():
            # A line left open while the tree is still writing (the sink full, the reader slow) is
            # not a progress bar: its end is in the pipe, and ours wait for it, however long.
            if all(stream.idle for stream in self.streams if stream is not None and stream.sink is out):
                out.release_overdue(now)
        return moved, again

    def drain(self) -> None:
        """A verdict: every stream's pipe read to the end now (see ``Stream.drain``)."""
        for stream in self.streams:
            if stream is not None:
                stream.drain()

    def next_deadline(self) -> float | None:
        times = [t for t in (out.next_deadline() for out in _sinks.values()) if t is not None]
        return min(times) if times else None

    def tails(self) -> tuple[bytes, bytes]:
        return tuple(b"" if stream is None else stream.last() for stream in self.streams)

    def stderr(self) -> Stream | None:
        """The stream the tree's stderr goes to (with 2>&1, its stdout too)."""
        return self.streams[1]


def finish(relay: Relay | None, until: float | None, patience: float = EXIT_FLUSH,
           stop_window: float | None = None) -> float | None:
    """At exit, the tree gone: relay the rest of what it wrote and what sm-init said; returns
    ``until`` (a stop signal that came meanwhile may have set it).

    The pipes are read to the end at once, never waiting for EOF (grandchildren may hold them open)
    and no more than they hold (a writer still alive can't keep sm-init here). Then each sink is
    written as its reader takes it: until ``until`` when a stop is pressing (Docker's SIGKILL is
    coming); with none (``until`` None), for as long as the reader makes progress, and given up
    after ``patience`` seconds in which it took nothing. What a sink is given up with is dropped,
    counted (``take_unreported_losses``), for the exit line to say. A stop signal that comes while
    nothing presses sets ``until`` to ``stop_window`` from then.
    """
    streams = [] if relay is None else [stream for stream in relay.streams if stream is not None]
    for stream in streams:
        stream.drain(close=True)
    if not any(stream.hold for stream in streams) and not any(out.pending for out in _sinks.values()):
        # The common exit: the loop relayed everything before the tree's exit was reaped, and the
        # reader kept up. Nothing to write, so nothing to wait for: the loop below would find no
        # sink waiting after one pass, and sm-init's exit is on Docker's clock (bench: exit lag).
        return until
    now = time.monotonic()
    progress = {out: (out.sent, now) for out in _sinks.values()}
    while True:
        now = time.monotonic()
        for stream in streams:
            if not stream.pump(now)[1] and not stream.hold:
                stream.sink.end_open_line(now)  # nothing more will end the tree's line: ours go out
        for out in _sinks.values():
            out.flush(now)
        waiting = [out for out in _sinks.values()
                   if out.pending or any(s.hold and s.sink is out and not out.broken for s in streams)]
        if not waiting:
            return until
        for out in waiting:
            if out.sent != progress.setdefault(out, (out.sent, now))[0]:
                progress[out] = (out.sent, now)
        late = [out for out in waiting
                if (until is not None and now >= until) or now - progress[out][1] >= patience]
        for out in late:
            for stream in streams:
                if stream.sink is out:
                    stream.give_up()
            out.give_up()
        if late:
            continue
        deadline = min(progress[out][1] + patience for out in waiting)
        if until is not None:
            deadline = min(deadline, until)
        if not all(out.kind == "pipe" for out in waiting):
            deadline = min(deadline, now + RETRY)
        got = signal.sigtimedwait((IO_SIGNAL, signal.SIGIO, signal.SIGTERM, signal.SIGINT), max(0.0, deadline - now))
        if got is not None and got.si_signo in (signal.SIGTERM, signal.SIGINT) and until is None \
                and stop_window is not None:
            until = time.monotonic() + stop_window
