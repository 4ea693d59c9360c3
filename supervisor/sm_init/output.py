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
someone sent for the trainer.

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
stop go on. When a sink's reader is gone (EPIPE), sm-init closes its end of the stream too, so the
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
import time

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
EXIT_FLUSH = 1.0            # the longest sm-init waits at exit for a slow reader


class Sink:
    """One of sm-init's own outputs (fd 1 or 2), written without ever blocking."""

    def __init__(self, fd: int):
        self.fd = -1                # private, writable; -1: nothing can be written (closed)
        self.kind = "closed"        # pipe | tty | socket | file | closed
        self.queue = bytearray()    # accepted, not yet written
        self.child_line_open = False  # the tree's last byte in the queue did not end a line
        self.held: list[bytes] = []  # log lines waiting for the tree's newline
        self.held_since = 0.0
        self.broken = False         # the reader is gone
        self.waiting_since: float | None = None  # blocked with a queue since
        self.dropped_lines = 0
        self.reported_lines = 0
        self.failed_bytes = 0       # the tree's bytes lost to write errors (EFBIG, ENOSPC, EIO)
        self.reported_bytes = 0
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
        try:
            self.fd = os.open(f"/proc/self/fd/{fd}", os.O_WRONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
        except OSError as exc:
            if exc.errno == errno.ENXIO:  # a pipe whose reader is gone
                self.broken = True
            return
        self.kind = "tty" if os.isatty(self.fd) else "pipe"

    # --- what goes in ---------------------------------------------------------------------

    def log(self, line: bytes, now: float) -> None:
        """One line of sm-init's own (with its newline); never inside a line of the tree's."""
        if self.fd < 0 or self.broken:
            self.dropped_lines += 1
            return
        if len(self.queue) + sum(map(len, self.held)) > QUEUE_LIMIT + LOG_ROOM:
            self.dropped_lines += 1
            return
        if self.child_line_open:
            if not self.held:
                self.held_since = now
            self.held.append(line)
        else:
            self.queue += line
        self.flush(now)

    def take(self, data: bytes, now: float) -> None:
        """Bytes of the tree's (the caller stops reading while ``full``)."""
        if self.held:
            end = data.find(b"\n")
            if end >= 0:
                self.queue += data[:end + 1]
                self._release_held()
                data = data[end + 1:]
        if data:
            self.queue += data
            self.child_line_open = not data.endswith(b"\n")
        elif not self.held:
            self.child_line_open = False
        self.flush(now)

    def _release_held(self) -> None:
        for line in self.held:
            self.queue += line
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
            self.queue += b"\n"
        self._release_held()
        self.flush(now)

    @property
    def full(self) -> bool:
        return len(self.queue) >= QUEUE_LIMIT

    # --- what goes out --------------------------------------------------------------------

    def flush(self, now: float) -> None:
        """Write what the sink takes now; never waits."""
        wrote = False
        while self.queue and not self.broken:
            try:
                if self._socket is not None:
                    import socket
                    written = self._socket.send(self.queue, socket.MSG_DONTWAIT)
                else:
                    written = os.write(self.fd, self.queue)
            except (BlockingIOError, InterruptedError):
                self._wait_for_room(now)
                return
            except BrokenPipeError:
                self.broken = True
                self.queue.clear()
                self.held.clear()
                return
            except OSError:  # EFBIG, ENOSPC, EIO: these bytes can't be written, later ones may
                self.failed_bytes += len(self.queue)
                self.queue.clear()
                return
            del self.queue[:written]
            wrote = True
        self._stop_waiting()
        if wrote:  # it takes lines again: say what it could not take before
            self._report_losses()

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
            self.queue += ("sm-init: warning: " + "; ".join(what) + "\n").encode()
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

    def take_unreported_losses(self) -> str:
        """Losses not yet reported, now reported by the caller (in the exit line)."""
        lines = self.dropped_lines - self.reported_lines
        lost = self.failed_bytes - self.reported_bytes
        self.reported_lines, self.reported_bytes = self.dropped_lines, self.failed_bytes
        what = [f"{lines} log line(s) dropped"] if lines else []
        what += [f"{lost} byte(s) of output lost"] if lost else []
        return ", ".join(what)


class Stream:
    """One stream of the tree (its stdout or stderr) copied from a pipe into a sink."""

    def __init__(self, read_fd: int, sink: Sink):
        self.fd = read_fd
        self.sink = sink
        self.tail = bytearray()
        self.total = 0      # bytes read so far: marks a point in the stream (the stall's stacks)
        self.armed = True   # O_ASYNC on: the tree's next write raises IO_SIGNAL

    @property
    def open(self) -> bool:
        return self.fd >= 0

    def pump(self, now: float, budget: int = TURN) -> tuple[int, bool]:
        """Copy what is readable while the sink takes it: (bytes read, whether more may be waiting)."""
        moved = 0
        while self.open:
            if self.sink.broken:
                self.close()  # the reader is gone: the tree learns it from its own next write
                break
            if self.sink.full:
                return moved, False  # the sink's SIGIO or retry brings us back
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
        return moved, False

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


_sinks = {}


def sink(fd: int) -> Sink:
    """sm-init's sink for fd 1 or 2, opened on first use."""
    if fd not in _sinks:
        _sinks[fd] = Sink(fd)
    return _sinks[fd]


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
        """Flush, copy, release overdue log lines: (bytes read, whether to come back at once)."""
        moved, again = 0, False
        for out in _sinks.values():
            out.flush(now)
        for stream in self.streams:
            if stream is not None:
                read, more = stream.pump(now)
                moved += read
                again = again or more
        for out in _sinks.values():
            out.release_overdue(now)
        return moved, again

    def next_deadline(self) -> float | None:
        times = [t for t in (out.next_deadline() for out in _sinks.values()) if t is not None]
        return min(times) if times else None

    def tails(self) -> tuple[bytes, bytes]:
        return tuple(b"" if stream is None else stream.last() for stream in self.streams)

    def stderr(self) -> Stream | None:
        """The stream the tree's stderr goes to (with 2>&1, its stdout too)."""
        return self.streams[1]


def finish(relay: Relay | None, budget: float = EXIT_FLUSH) -> None:
    """At exit: copy what is buffered or readable now, for at most ``budget`` seconds.

    Never waits for EOF: grandchildren may hold the pipes open for ever.
    """
    deadline = time.monotonic() + max(budget, 0.0)
    while True:
        now = time.monotonic()
        more = relay is not None and relay.pump(now)[1]
        for out in _sinks.values():
            if out.held:  # nothing more will end the tree's line: ours go out now
                out.end_open_line(now)
            out.flush(now)
        waiting = [out for out in _sinks.values() if out.queue and not out.broken and out.fd >= 0]
        if not (waiting or more) or now >= deadline:
            return
        if waiting:
            pipes_only = all(out.kind == "pipe" for out in waiting)
            signal.sigtimedwait((IO_SIGNAL, signal.SIGIO), deadline - now if pipes_only else min(RETRY, deadline - now))
