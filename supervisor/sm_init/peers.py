"""One job, many hosts: the wire format and the peers' state, as decisions without I/O.

The sm-inits of a multi-host job (SageMaker's algo-1..algo-N) watch each other, and the only thing
they can ever do about it is stop the whole job, with one verdict on every host. Stopping is
monotonic, so no consensus is needed: in a partition both sides stop, which is right.

A star, as mpirun/orted, Ray's GCS and Slurm do it: hosts[0] coordinates and listens; every other
host (a worker) holds one TCP connection to it, reconnecting until it is first answered (at most
the join timeout). Heartbeats go both ways at the application level every ``heartbeat`` seconds
(TCP keepalive would take minutes, and a frozen host's kernel still answers it).

What each side decides, here, from events and a clock the caller passes (tests use a fake one):

* the coordinator keeps one row per host: not started, joined, finished (its job exited 0), stopping
  (a stop signal reached it), failed, lost. The first failure it *hears* of is the verdict; it is
  ordered by arrival, never by comparing clocks (a silent loss is noticed a timeout late, so the
  crash it caused may be heard first: "first observed", and the hosts already silent are added).
  One exception: a failure whose error reads as a consequence of a peer's (``consequence``: its
  connection to a peer closed, a collective failed or timed out) is held for one heartbeat, and a
  failure heard meanwhile that does not read so (or a loss) is the verdict instead. The ranks on
  every other host die of the raise on one host within the launchers' monitor intervals, and which
  launcher reports first is a race;
* a worker answers each of the coordinator's beats with its own, tells the coordinator how its job
  ended, or that a stop signal reached it, and takes the coordinator's verdict; a worker that loses
  the coordinator (silent for the peer timeout, or its connection closed) decides for itself.

Not started is not lost (until the join timeout); a clean exit is not a failure; a stop of the whole
job is not a failure: a stop signal on one host is passed to every host as a stop, and no verdict
follows it. ``Coordinator`` and ``Worker`` return actions (``Send``, ``Broadcast``, ``Connect``,
``Verdict``, ``PeerStop``, ``Note``) that peerdriver.py performs, on ``peerlink.Link`` or through the plan.

Cost at N hosts: the coordinator handles each message in O(1); once per heartbeat it sends N-1
beats and looks at N rows for silence (O(N) per heartbeat, never per message); the loop's next
deadline is one number, the next tick. A worker wakes once per heartbeat, for the coordinator's beat.

Messages: a 4-byte big-endian length, then a UTF-8 JSON object of at most ``MAX_MESSAGE`` bytes:
``{"v": 1, "job": ID, "from": HOST, "kind": KIND, ...}``, every field checked (``decode``).
"""

from __future__ import annotations

import json

from .records import record

VERSION = 1
MAX_MESSAGE = 4096        # bytes of JSON; a longer frame is not read: the connection is dropped
MAX_ERROR = 300           # characters of a failed host's Error: line carried in a message
MAX_TEXT = 900            # characters of a verdict (the failure file holds 1024 bytes)
KINDS = ("hello", "beat", "ended", "stop", "verdict", "done")
RETRY = 1.0               # a worker's next connection attempt, while the coordinator is not there yet
SILENT_AFTER = 2          # heartbeats missed before a host counts as "silent" in a verdict's "also"

NOT_STARTED, JOINED, FINISHED, STOPPING, FAILED, LOST = (
    "not started", "joined", "finished", "stopping", "failed", "lost")


@record
class Settings:
    """The validated peer settings (config.py builds them from the options and resourceconfig.json)."""
    hosts: tuple[str, ...]
    me: str
    job: str                 # the job id: TRAINING_JOB_NAME and the sorted host list, hashed
    coordinator: str         # the address workers connect to
    port: int
    interface: str | None    # the coordinator listens on this interface's address (None: all)
    heartbeat: float
    timeout: float
    join_timeout: float

    @property
    def leader(self) -> str:
        return self.hosts[0]

    @property
    def coordinating(self) -> bool:
        return self.me == self.hosts[0]


def job_id(name: str, hosts) -> str:
    import hashlib
    digest = hashlib.sha256("\n".join(sorted(hosts)).encode("utf-8")).hexdigest()[:16]
    return f"{name[:128]}/{digest}"


# --- the wire ------------------------------------------------------------------------------------

@record
class Message:
    kind: str
    sender: str
    code: int | None = None      # ended: the host's exit code
    error: str | None = None     # ended: its Error: line, when one was found
    host: str | None = None      # stop: where the stop signal arrived
    text: str | None = None      # verdict


def encode(settings: Settings, message: Message) -> bytes:
    """The frame of ``message``. A verdict or an error line whose JSON outgrows MAX_MESSAGE (escaped
    control characters take 6 bytes each) is cut until it fits: a message is never refused here."""
    body = {"v": VERSION, "job": settings.job, "from": message.sender, "kind": message.kind}
    for key in ("code", "error", "host", "text"):
        value = getattr(message, key)
        if value is not None:
            body[key] = value
    while True:
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace")
        if len(data) <= MAX_MESSAGE:
            return len(data).to_bytes(4, "big") + data
        key = "text" if "text" in body else "error"
        body[key] = body[key][:len(body[key]) // 2] + "..."


def frames(buffer: bytearray) -> tuple[list[bytes], bool]:
    """Cut the complete frames off the front of ``buffer``: (their bodies, whether the stream is
    broken: a length of 0 or over ``MAX_MESSAGE``, after which nothing can be trusted)."""
    bodies = []
    while len(buffer) >= 4:
        size = int.from_bytes(buffer[:4], "big")
        if size == 0 or size > MAX_MESSAGE:
            return bodies, True
        if len(buffer) < 4 + size:
            break
        bodies.append(bytes(buffer[4:4 + size]))
        del buffer[:4 + size]
    return bodies, False


def decode(settings: Settings, body: bytes, hosts: frozenset | None = None) -> Message | None:
    """The message in ``body``, or None: not JSON, another job, an unknown host or kind, a field of
    the wrong type or size. Nothing from the network is trusted before it passes here. ``hosts``:
    the settings' hosts as a set (the link keeps one: a coordinator of N hosts must not pay O(N) per
    message)."""
    hosts = frozenset(settings.hosts) if hosts is None else hosts
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("v") != VERSION or data.get("job") != settings.job:
        return None
    kind, sender = data.get("kind"), data.get("from")
    if kind not in KINDS or not isinstance(sender, str) or sender not in hosts:
        return None
    code, error, host, text = (data.get(key) for key in ("code", "error", "host", "text"))
    if kind == "ended":
        if type(code) is not int or not 0 <= code <= 255:
            return None
        if error is not None and (not isinstance(error, str) or len(error) > MAX_ERROR):
            return None
    elif kind == "stop":
        if not isinstance(host, str) or host not in hosts:
            return None
    elif kind == "verdict":
        if not isinstance(text, str) or not text or len(text) > MAX_TEXT:
            return None
    return Message(kind, sender, code if kind == "ended" else None, error if kind == "ended" else None,
                   host if kind == "stop" else None, text if kind == "verdict" else None)


# --- actions ---------------------------------------------------------------------------------------

@record
class Send:
    host: str            # the worker's name, or the coordinator's (from a worker)
    message: Message


@record
class Broadcast:
    message: Message     # to every connected worker


@record
class Connect:
    """A worker: open the connection to the coordinator (the link answers connected or failed)."""


@record
class Verdict:
    text: str            # "first observed failure: ...": stop this host's job, say it in the failure file


@record
class PeerStop:
    host: str            # a stop signal reached that host: stop this host's job too, no verdict


@record
class Note:
    text: str
    level: int = 0       # plan.WARNING, NORMAL, VERBOSE


WARNING, NORMAL, VERBOSE = -1, 0, 1


def describe_failure(host: str, code: int, error: str | None) -> str:
    """``algo-2 (exit 1: RuntimeError: host two exploded)``."""
    return f"{host} (exit {code}: {error})" if error else f"{host} (exit {code})"


def consequence(error: str | None) -> bool:
    """Whether a host's ``Error:`` line reads as what its ranks died of because a peer died first
    (reasons.torchrun's CONSEQUENCE: a connection closed or reset by the peer, a collective that failed
    or timed out). Imported here, at a failure, not at the start: only a failing job pays for it."""
    if not error:
        return False
    from .reasons.torchrun import CONSEQUENCE
    return bool(CONSEQUENCE.search(error))


def seconds(value: float) -> str:
    return f"{value:.0f} s"


class _Side:
    """What both sides share: the settings, the verdict once given, the next tick."""

    def __init__(self, settings: Settings, now: float):
        self.settings = settings
        self.started = now
        self.verdict: str | None = None
        self.stopping = False          # a stop signal reached some host: no verdict from here on
        self.next_tick = now + settings.heartbeat
        self.ended = False             # this host's job ended (told)
        self.off = False               # nobody could be reached: the feature turned itself off
        self.drop_said = False         # the first dropped message was said

    @property
    def watching(self) -> bool:
        """Whether a failure or a loss still leads to a verdict: not once one was given, a stop is
        under way, this host's own job has ended (it is on its way out), or the feature is off."""
        return self.verdict is None and not self.stopping and not self.ended and not self.off

    def turn_off(self, why: str) -> list:
        """Never harm a healthy job: when no peer could be reached at all, the network (a firewall,
        a port filtered) is as likely as every other host missing. One line, and the job runs on."""
        self.off = True
        return [Note(f"peers: {why}; multi-host fail-fast is off, the job runs on", WARNING)]

    def on_dropped(self, why: str) -> list:
        """A message the link dropped (not of this job, malformed): never a decision. The first one
        is said; the rest are counted, and the link totals them at the exit."""
        first, self.drop_said = not self.drop_said, True
        return [Note(f"peers: dropped a message {why}" + (" (further drops are counted)" if first else ""),
                     WARNING if first else VERBOSE)]

    def next_wakeup(self) -> float:
        return self.next_tick

    def message(self, kind: str, **fields) -> Message:
        return Message(kind, self.settings.me, **fields)


class Coordinator(_Side):
    """hosts[0]: one row per host, the verdict, the broadcast."""

    def __init__(self, settings: Settings, now: float):
        super().__init__(settings, now)
        self.status = {host: NOT_STARTED for host in settings.hosts[1:]}
        self.heard = {host: now for host in settings.hosts[1:]}
        self.joined = 0
        self.stopped_at = settings.me  # where the stop signal arrived, once one did
        self.held: tuple[str, float] | None = None  # a consequence waiting for its cause: (what, until)

    def start(self, now: float) -> list:
        return [Note(f"peers: coordinating {len(self.settings.hosts)} hosts on port {self.settings.port}"
                     f" (heartbeat {self.settings.heartbeat:g}s, peer timeout {self.settings.timeout:g}s,"
                     f" join timeout {self.settings.join_timeout:g}s)")]

    # events from the link

    def on_hello(self, host: str, now: float) -> list:
        """A worker's connection said hello: joined (a host that was already lost stays lost)."""
        self.heard[host] = now
        actions = []
        if self.status[host] == NOT_STARTED:
            self.status[host] = JOINED
            self.joined += 1
            actions.append(Note(f"peers: {host} joined", VERBOSE))
            if self.joined == len(self.status):
                actions.append(Note(f"peers: all {len(self.settings.hosts)} hosts joined"))
        actions.append(Send(host, self.message("beat")))  # the answer: the worker knows it got through
        if self.verdict is not None:
            actions.append(Send(host, self.message("verdict", text=self.verdict)))
        elif self.stopping:
            actions.append(Send(host, self.message("stop", host=self.stopped_at)))
        return actions

    def on_message(self, message: Message, now: float) -> list:
        host = message.sender
        self.heard[host] = now
        if message.kind == "ended":
            return self._ended(host, message.code, message.error, now)
        if message.kind == "stop":
            return self._stop(host, now)
        return []   # beat (a hello again, a verdict, a done: a worker never sends those; harmless)

    def on_closed(self, host: str, problem: str, now: float) -> list:
        """A joined worker's connection ended without a word of how its job ended: it is lost
        (whatever the socket said: ``problem`` is a worker's)."""
        if self.status[host] != JOINED:
            return []
        return self._failure(host, LOST, f"{host} lost: connection closed", now)

    def tick(self, now: float) -> list:
        """Once per heartbeat: beats to everyone, and who has been silent too long. And, when it is
        due, the held consequence: no cause was heard within its heartbeat."""
        actions = self._give(self.held[0], now) if self.held is not None and now >= self.held[1] else []
        if now < self.next_tick:
            return actions
        self.next_tick = max(self.next_tick + self.settings.heartbeat, now)
        actions.append(Broadcast(self.message("beat")))
        if not self.watching:
            return actions
        if self.joined == 0 and now - self.started > self.settings.join_timeout:
            return actions + self.turn_off(f"no host joined within {seconds(self.settings.join_timeout)}"
                                           f" (a blocked network or port?)")
        for host, status in self.status.items():
            silent = now - self.heard[host]
            if status == JOINED and silent > self.settings.timeout:
                actions += self._failure(host, LOST, f"{host} lost: silent for {seconds(silent)}", now)
            elif status == NOT_STARTED and now - self.started > self.settings.join_timeout:
                actions += self._failure(host, LOST, f"{host} lost: not started within"
                                                     f" {seconds(self.settings.join_timeout)}", now)
            if not self.watching:
                break
        return actions

    # events of this host

    def own_ended(self, code: int, error: str | None, now: float) -> tuple[list, bool]:
        """This host's job ended: (actions, whether a verdict may still come: only when its failure
        is held, as a consequence)."""
        if self.off:
            actions = []
        elif code == 0:
            actions = [Broadcast(self.message("done")),
                       Note(f"peers: {self.settings.me} finished (exit 0): the other hosts go on unwatched")]
        else:
            actions = self._failure(self.settings.me, FAILED, describe_failure(self.settings.me, code, error), now,
                                    consequence(error))
        self.ended = True
        return actions, self.held is not None

    def own_stop(self, now: float) -> list:
        return self._stop(self.settings.me, now)

    def next_wakeup(self) -> float:
        return self.next_tick if self.held is None else min(self.next_tick, self.held[1])

    # decisions

    def _ended(self, host: str, code: int, error: str | None, now: float) -> list:
        if code == 0:
            if self.status[host] in (NOT_STARTED, JOINED):
                self.status[host] = FINISHED
                return [Note(f"peers: {host} finished (exit 0); the others go on")]
            return []
        return self._failure(host, FAILED, describe_failure(host, code, error), now, consequence(error))

    def _stop(self, host: str, now: float) -> list:
        if host != self.settings.me:
            self.status[host] = STOPPING
        if self.held is not None:  # heard before the stop: the verdict, as any failure heard before one
            return self._give(self.held[0], now)
        if self.stopping or self.verdict is not None:
            return []
        self.stopping, self.stopped_at = True, host
        actions: list = [Broadcast(self.message("stop", host=host))]
        if host != self.settings.me:
            actions.append(PeerStop(host))
        return actions

    def _failure(self, host: str, status: str, what: str, now: float, consequence: bool = False) -> list:
        """A failure or a loss heard: the verdict, or held when it reads as a consequence of a peer's
        (a held one gives way to the first failure that does not; a loss never does)."""
        if host != self.settings.me and self.status[host] in (FAILED, LOST, FINISHED, STOPPING):
            return []
        if host != self.settings.me:
            self.status[host] = status
        if self.held is not None and not consequence:
            return [Note(f"peers: also: {self.held[0]}", VERBOSE)] + self._give(what, now)
        if self.held is not None or not self.watching:
            return [Note(f"peers: also: {what}", VERBOSE)]
        if consequence:
            self.held = (what, now + self.settings.heartbeat)
            return [Note(f"peers: {what}: reads as a consequence of another host's failure;"
                         f" its cause has {self.settings.heartbeat:g}s to be heard", VERBOSE)]
        return self._give(what, now)

    def _give(self, what: str, now: float) -> list:
        """The verdict: ``what``, and the hosts already silent, to every host."""
        self.held = None
        silent = [f"{other} silent for {seconds(now - self.heard[other])}"
                  for other, state in self.status.items()
                  if state == JOINED
                  and now - self.heard[other] > SILENT_AFTER * self.settings.heartbeat]
        text = f"first observed failure: {what}"
        if silent:
            text += "; also: " + ", ".join(silent)
        self.verdict = text = _cut(text)
        return [Broadcast(self.message("verdict", text=text)), Verdict(text)]


class Worker(_Side):
    """hosts[1:]: one connection to the coordinator, its verdict, or its loss."""

    def __init__(self, settings: Settings, now: float):
        super().__init__(settings, now)
        self.joined = False          # the coordinator answered once
        self.connected = False
        self.heard = now
        self.leader_done = False     # the coordinator's job exited 0: nobody watches any more
        self.retry_at: float | None = None

    def start(self, now: float) -> list:
        return [Note(f"peers: {self.settings.me} of {len(self.settings.hosts)} hosts, coordinator"
                     f" {self.settings.leader} at {self.settings.coordinator}:{self.settings.port}", VERBOSE),
                Connect()]

    @property
    def watching(self) -> bool:
        return super().watching and not self.leader_done

    def next_wakeup(self) -> float | None:
        """A worker keeps no beat of its own: it answers the coordinator's, so its only deadlines are
        the next connection attempt and the coordinator's silence (one wakeup per heartbeat, the beat)."""
        if not self.watching:
            return None   # no verdict can come of a silence, nor of a connection: nothing is due
        if self.retry_at is not None:
            return self.retry_at
        if not self.joined:
            return self.started + self.settings.join_timeout
        return self.heard + self.settings.timeout

    def on_connected(self, now: float) -> list:
        self.connected = True
        self.retry_at = None
        actions = [Send(self.settings.leader, self.message("hello"))]
        if self.stopping:      # a stop reached this host while it was not connected
            actions.append(Send(self.settings.leader, self.message("stop", host=self.settings.me)))
        return actions

    def on_message(self, message: Message, now: float) -> list:
        if message.sender != self.settings.leader:
            return []
        self.heard = now
        actions = []
        if not self.joined:
            self.joined = True
            actions.append(Note(f"peers: joined {self.settings.leader}"))
        if message.kind == "beat" and self.connected:
            actions.append(Send(self.settings.leader, self.message("beat")))  # the answer is this host's beat
        elif message.kind == "verdict" and self.verdict is None and not self.leader_done:
            self.verdict = message.text
            actions.append(Verdict(message.text))
        elif message.kind == "stop" and self.watching:
            self.stopping = True
            if message.host != self.settings.me:
                actions.append(PeerStop(message.host))
        elif message.kind == "done" and self.watching:
            self.leader_done = True
            actions.append(Note(f"peers: {self.settings.leader} finished (exit 0): this host goes on unwatched"))
        return actions

    def on_closed(self, host: str, problem: str, now: float) -> list:
        """The connection to the coordinator (``host``) ended, or an attempt failed: retry until first
        answered, else it is lost."""
        was_connected, self.connected = self.connected, False
        if not self.watching:
            return []
        if not self.joined:
            if now - self.started > self.settings.join_timeout:
                return self._unreached(problem)
            self.retry_at = now + min(RETRY, self.settings.heartbeat)
            return [Note(f"peers: {self.settings.coordinator}:{self.settings.port}: {problem}; retrying", VERBOSE)]
        return self._lost("connection closed" if was_connected else problem)

    def tick(self, now: float) -> list:
        if not self.watching:
            return []
        silent = now - self.heard
        if self.joined and silent >= self.settings.timeout:
            return self._lost(f"silent for {seconds(silent)}")
        if not self.joined and now - self.started >= self.settings.join_timeout:
            return self._unreached("no answer")
        if self.retry_at is not None and now >= self.retry_at:
            self.retry_at = None
            return [Connect()]
        return []

    def own_ended(self, code: int, error: str | None, now: float) -> tuple[list, bool]:
        """This host's job ended: tell the coordinator; (actions, whether its verdict may still come)."""
        awaiting = code != 0 and self.watching and self.connected
        self.ended = True
        if not self.connected:
            return [], False
        fields = {"code": min(max(code, 0), 255)}
        if code != 0 and error:
            fields["error"] = error[:MAX_ERROR]
        return [Send(self.settings.leader, self.message("ended", **fields))], awaiting

    def own_stop(self, now: float) -> list:
        if self.stopping or self.verdict is not None:
            return []
        self.stopping = True
        return [Send(self.settings.leader, self.message("stop", host=self.settings.me))] if self.connected else []

    def _unreached(self, problem: str) -> list:
        return self.turn_off(f"{self.settings.leader} not reached at {self.settings.coordinator}:{self.settings.port}"
                             f" within {seconds(self.settings.join_timeout)} (last: {problem})")

    def _lost(self, how: str) -> list:
        self.verdict = text = f"first observed failure: lost contact with {self.settings.leader} ({how})"
        return [Verdict(text)]


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT - 3] + "..."


def board(settings: Settings, now: float):
    return Coordinator(settings, now) if settings.coordinating else Worker(settings, now)
