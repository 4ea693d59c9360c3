"""The peers' sockets: the thin I/O part of peers.py, driven from the loop by peerdriver.py (through system.py).

Every socket is non-blocking, with O_ASYNC and F_SETSIG ``signals.IO_SIGNAL``: a connection, a
message, a close or room to write wakes the loop's one sigtimedwait like the tree's output does (no
thread, no polling). What became ready is then asked of an epoll set with a zero timeout: one system
call however many hosts there are, and only the ready sockets are read.

The coordinator listens (one socket) and accepts; a connection counts for a host once its first
message, a hello of this job from a worker, passed ``peers.decode``. A worker holds one connection.
Anything else (bytes that are no message, another job's, a frame over ``peers.MAX_MESSAGE``, a
stranger's connection beyond ``MAX_PENDING``) is dropped, counted, and never reaches a decision.

A worker looks the coordinator's name up in a forked child (``Lookup``): ``getaddrinfo`` may wait
seconds on a resolver, and PID 1 never waits on anything but its one sigtimedwait. The child writes
the address into a pipe that signals like the sockets, and exits; the loop reaps it like any other
child. A literal address (``127.0.0.1``) needs no lookup at all.
"""

from __future__ import annotations

import errno
import json
import os
import select
import socket

from . import peers, signals
from .output import set_async

MAX_PENDING = 64              # connections not yet identified by a hello; the oldest is closed beyond
MAX_QUEUED = 64 * 1024        # bytes waiting for a peer that does not read; more is dropped (it is silent)
READ_SIZE = 64 * 1024
SIOCGIFADDR = 0x8915


class Problem(Exception):
    """The feature can't run here (port taken, interface missing): one log line, and it is off."""


class Connection:
    def __init__(self, sock: socket.socket, where: str, connecting: bool = False):
        self.sock = sock
        self.fd = sock.fileno()
        self.where = where              # address, for logs only (never a culprit's name)
        self.host: str | None = None    # the peer's name once its hello (or the coordinator's answer) came
        self.inbox = bytearray()
        self.outbox = bytearray()
        self.connecting = connecting


class Link:
    def __init__(self, settings: peers.Settings):
        self.settings = settings
        self.hosts = frozenset(settings.hosts)   # a message's sender checked in O(1), whatever N
        self.epoll = select.epoll()
        self.listener: socket.socket | None = None
        self.connections: dict[int, Connection] = {}   # fd -> connection
        self.by_host: dict[str, Connection] = {}
        self.pending: list[int] = []                   # fds of unidentified connections, oldest first
        self.dropped = 0
        self.events: list = []
        self.lookup: Lookup | None = None

    # --- opening --------------------------------------------------------------------------------

    def open(self) -> None:
        """The coordinator's listening socket; raises Problem. A worker opens nothing yet."""
        if not self.settings.coordinating:
            return
        port, interface = self.settings.port, self.settings.interface
        try:
            if interface is not None:
                sock = _listen(socket.AF_INET, (interface_address(interface), port))
            else:
                try:
                    sock = _listen(socket.AF_INET6, ("::", port))
                except OSError as exc:
                    if exc.errno not in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL):
                        raise
                    sock = _listen(socket.AF_INET, ("0.0.0.0", port))
        except OSError as exc:
            where = f" on {interface}" if interface else ""
            raise Problem(f"cannot listen on port {port}{where}: {exc.strerror or exc}") from None
        self.listener = sock
        self.epoll.register(sock.fileno(), select.EPOLLIN)

    def connect(self) -> None:
        """A worker's attempt; its outcome comes as an event (connected / closed). A name is looked
        up first, in a child (``Lookup``); an address is connected to at once."""
        self._drop_all()
        host, port = self.settings.coordinator, self.settings.port
        family = literal_family(host)
        if family is not None:
            self._connect(family, (host, port))
            return
        try:
            self.lookup = Lookup(host, port)
        except OSError as exc:
            self.events.append(("closed", self.settings.leader, f"cannot look {host} up: {exc.strerror}"))
            return
        self.epoll.register(self.lookup.fd, select.EPOLLIN)

    def _looked_up(self) -> None:
        lookup, self.lookup = self.lookup, None
        self.epoll.unregister(lookup.fd)
        answer = lookup.answer()
        if isinstance(answer, str):
            self.events.append(("closed", self.settings.leader, f"cannot resolve {self.settings.coordinator}: {answer}"))
        else:
            self._connect(*answer)

    def _connect(self, family: int, address) -> None:
        host, port = self.settings.coordinator, self.settings.port
        try:
            sock = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
        except OSError as exc:
            self.events.append(("closed", self.settings.leader, exc.strerror or str(exc)))
            return
        _no_delay(sock)
        set_async(sock.fileno(), True)
        connection = Connection(sock, f"{host}:{port}", connecting=True)
        connection.host = self.settings.leader
        self._add(connection, select.EPOLLOUT | select.EPOLLIN)
        self.by_host[connection.host] = connection
        code = sock.connect_ex(address)
        if code not in (0, errno.EINPROGRESS):
            self._close(connection, os.strerror(code))

    # --- the loop's side -------------------------------------------------------------------------

    def take_events(self) -> list:
        """What happened since the last call: ("connected",), ("hello", host), ("message", Message),
        ("closed", host or None, problem), ("dropped", why) ; read from the ready sockets only."""
        for fd, mask in self.epoll.poll(0):
            if self.listener is not None and fd == self.listener.fileno():
                self._accept()
                continue
            if self.lookup is not None and fd == self.lookup.fd:
                self._looked_up()
                continue
            connection = self.connections.get(fd)
            if connection is None:
                continue
            if connection.connecting:
                self._finish_connect(connection)
                continue
            if mask & (select.EPOLLIN | select.EPOLLHUP | select.EPOLLERR):
                self._read(connection)
            if fd in self.connections and mask & select.EPOLLOUT:
                self._flush(connection)
        events, self.events = self.events, []
        return events

    def send(self, host: str, data: bytes) -> None:
        connection = self.by_host.get(host)
        if connection is not None and not connection.connecting:
            self._queue(connection, data)

    def broadcast(self, data: bytes) -> None:
        for connection in list(self.by_host.values()):
            if not connection.connecting:
                self._queue(connection, data)

    def close(self) -> None:
        """At exit: what peers sent is read first, so the close is a FIN that lets them read the last
        message (a close over unread data is a reset, and a reset may discard it)."""
        for connection in list(self.connections.values()):
            try:
                while connection.sock.recv(READ_SIZE):
                    pass
            except OSError:
                pass
            try:
                connection.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            connection.sock.close()
        if self.listener is not None:
            self.listener.close()
        if self.lookup is not None:
            os.close(self.lookup.fd)

    # --- inside ----------------------------------------------------------------------------------

    def _add(self, connection: Connection, mask: int) -> None:
        self.connections[connection.fd] = connection
        self.epoll.register(connection.fd, mask)

    def _accept(self) -> None:
        while True:
            try:
                sock, address = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:      # ECONNABORTED, EMFILE: that one is gone, the listener is fine
                return
            sock.setblocking(False)
            _no_delay(sock)
            set_async(sock.fileno(), True)
            connection = Connection(sock, f"{address[0]}:{address[1]}")
            self._add(connection, select.EPOLLIN)
            self.pending.append(connection.fd)
            if len(self.pending) > MAX_PENDING:
                oldest = self.connections.get(self.pending[0])
                self._drop(oldest, "too many connections that said nothing of this job")
            if connection.fd in self.connections:
                # What arrived before O_ASYNC was on raised no signal: read it now (epoll, level-
                # triggered, would also report it at the next wakeup, but that may be a heartbeat away).
                self._read(connection)

    def _finish_connect(self, connection: Connection) -> None:
        code = connection.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if code:
            self._close(connection, os.strerror(code))
            return
        connection.connecting = False
        self.epoll.modify(connection.fd, select.EPOLLIN)
        self.events.append(("connected",))

    def _read(self, connection: Connection) -> None:
        while True:
            try:
                data = connection.sock.recv(READ_SIZE)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                self._close(connection, exc.strerror or str(exc))
                return
            if not data:
                self._close(connection, "connection closed")
                return
            connection.inbox += data
            bodies, broken = peers.frames(connection.inbox)
            for body in bodies:
                if not self._take(connection, body):
                    return
            if broken:
                self._drop(connection, "a frame that is no message of sm-init's (length out of bounds)")
                return

    def _take(self, connection: Connection, body: bytes) -> bool:
        """One frame: an event, or a drop. False when the connection was dropped for it."""
        message = peers.decode(self.settings, body, self.hosts)
        if message is None:
            self._count(connection, "not a message of this job")
            if connection.host is None:  # a stranger: nothing it says will be of this job
                self._drop(connection, None)
                return False
            return True
        if connection.host is None:
            me = self.settings.me
            if message.kind != "hello" or message.sender == me or message.sender in self.by_host:
                self._drop(connection, f"a first message that is no hello of a worker ({message.sender})")
                return False
            connection.host = message.sender
            self.by_host[message.sender] = connection
            self.pending.remove(connection.fd)
            self.events.append(("hello", message.sender))
            return True
        if message.sender != connection.host:
            self._count(connection, f"{message.sender} speaking on {connection.host}'s connection")
            return True
        self.events.append(("message", message))
        return True

    def _queue(self, connection: Connection, data: bytes) -> None:
        if len(connection.outbox) + len(data) > MAX_QUEUED:
            return  # it has not read for thousands of heartbeats: the timeout speaks for it
        connection.outbox += data
        self._flush(connection)

    def _flush(self, connection: Connection) -> None:
        while connection.outbox:
            try:
                sent = connection.sock.send(connection.outbox, socket.MSG_NOSIGNAL)
            except (BlockingIOError, InterruptedError):
                self.epoll.modify(connection.fd, select.EPOLLIN | select.EPOLLOUT)
                return
            except OSError as exc:
                self._close(connection, exc.strerror or str(exc))
                return
            del connection.outbox[:sent]
        self.epoll.modify(connection.fd, select.EPOLLIN)

    def _count(self, connection: Connection, why: str) -> None:
        self.dropped += 1
        self.events.append(("dropped", f"from {connection.where}: {why}"))

    def _drop(self, connection: Connection, why: str | None) -> None:
        """A connection that broke the protocol: counted, closed, never a decision (a host's own
        connection dropped so counts as closed: its next words are lost anyway)."""
        if why is not None:
            self._count(connection, why)
        self._close(connection, "dropped: it broke the protocol")

    def _close(self, connection: Connection, problem: str) -> None:
        if connection.fd not in self.connections:
            return
        del self.connections[connection.fd]
        try:
            self.epoll.unregister(connection.fd)
        except (OSError, ValueError):
            pass
        connection.sock.close()
        if connection.fd in self.pending:
            self.pending.remove(connection.fd)
        if connection.host is not None and self.by_host.get(connection.host) is connection:
            del self.by_host[connection.host]
            self.events.append(("closed", connection.host, problem))

    def _drop_all(self) -> None:
        for connection in list(self.connections.values()):
            connection.host = None
            self._close(connection, "")


class Lookup:
    """``getaddrinfo`` in a forked child: the answer (or the resolver's complaint) comes through a
    pipe, in one write of less than PIPE_BUF bytes. The child takes no signal of sm-init's (it
    unblocks them: a stop's SIGTERM to leftovers ends it) and exits without any of sm-init's cleanup."""

    def __init__(self, host: str, port: int):
        read_end, write_end = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        set_async(read_end, True)  # before the fork: an answer written at once still raises the signal
        try:
            pid = os.fork()
        except OSError:
            os.close(read_end)
            os.close(write_end)
            raise
        if pid == 0:  # the child: nothing here may return into sm-init
            try:
                signals.reset_for_exec()
                os.close(read_end)
                try:
                    family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
                    answer = [family, list(address[:2])]
                except (OSError, UnicodeError) as exc:
                    answer = getattr(exc, "strerror", None) or str(exc)
                os.write(write_end, json.dumps(answer).encode()[:512])
            finally:
                os._exit(0)
        os.close(write_end)
        self.pid, self.fd = pid, read_end

    def answer(self):
        """(family, address) or the problem, as text; the pipe is closed."""
        try:
            data = os.read(self.fd, 1024)
        except OSError as exc:
            data = json.dumps(exc.strerror).encode()
        finally:
            os.close(self.fd)
        try:
            answer = json.loads(data) if data else "the lookup ended without an answer"
        except ValueError:
            return "the lookup's answer is garbled"
        if isinstance(answer, list):
            return answer[0], tuple(answer[1])
        return str(answer)


def literal_family(host: str) -> int | None:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, host)
            return family
        except OSError:
            pass
    return None


def _no_delay(sock: socket.socket) -> None:
    """Each message is one small write that must go now: Nagle would hold a second one (a stop after
    a hello, a verdict after a beat) until the first is acknowledged."""
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass


def _listen(family: int, address) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        set_async(sock.fileno(), True)  # before listen: a worker that connects at once raises the signal
        sock.bind(address)
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    return sock


def interface_address(name: str) -> str:
    """The IPv4 address of interface ``name`` (SIOCGIFADDR: no privilege needed); OSError if it has none."""
    import fcntl
    import struct
    socket.if_nametoindex(name)  # OSError (ENODEV) when there is no such interface
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        answer = fcntl.ioctl(probe.fileno(), SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
    return socket.inet_ntoa(answer[20:24])


def interface_exists(name: str) -> bool:
    try:
        socket.if_nametoindex(name)
        return True
    except OSError:
        return False
