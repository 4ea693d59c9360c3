"""The peers in the loop: the link's events to the board, the board's actions performed.

peers.py decides (the board: a ``Coordinator`` or a ``Worker``) and peerlink.py holds the sockets;
this is the thin part between them that the loop calls, twice a turn: ``exchange`` when the link or
a deadline woke it (what the peers sent, then the heartbeat when it is due), ``tell`` after the
reaping (a stop signal that reached this host, or how its job ended). It decides nothing itself.
What concerns this host's job (a verdict, a stop signal that reached another host, the wait for the
coordinator's verdict) goes to the plan as any other event does, through the loop's ``apply``, at
its place among the board's actions: a host's log reads in the order things happened.

A bug here must not harm a healthy job: it is logged once and the feature turns off (the driver
stays, doing nothing), while the loop's own errors still end in its outer guard (kill the tree,
exit 70). Only a multi-host job imports this module (and json, through peers.py).
"""

from __future__ import annotations

from . import peers, plan


def start(config, system, loop) -> Driver | None:
    """Listen (the coordinator) or connect (a worker); None where it can't (a port taken, an
    interface missing): one line, and the job runs on without the feature."""
    problem = system.open_peers()
    if problem is not None:
        system.log(plan.WARNING, f"peers: {problem}; multi-host fail-fast is off, the job runs on")
        return None
    now = system.clock()
    driver = Driver(config, system, loop, peers.board(config.peers, now))
    driver.guarded(driver.begin, now)
    return driver


class Driver:
    """One multi-host job's peers, as the loop (run.Supervisor) drives them. Of the loop it uses
    ``state``, ``facts()`` and ``apply(result, now)`` alone: the plan hears of the peers there only."""

    def __init__(self, config, system, loop, board):
        self.config = config
        self.system = system
        self.loop = loop
        self.board = board      # None once a bug turned the feature off
        self.told_stop = self.told_end = False

    # --- the loop's side -------------------------------------------------------------------------

    def begin(self, now: float) -> None:
        """The board's first actions: the coordinator says what it watches, a worker connects."""
        self.perform(self.board.start(now), now)

    def pending(self) -> bool:
        """The link has news of its own doing (a refused connect): the loop must not sleep."""
        return self.board is not None and self.system.peer_pending()

    def next_wakeup(self) -> float | None:
        return None if self.board is None else self.board.next_wakeup()

    def exchange(self) -> bool:
        """Take what the peers sent, and the heartbeat when it is due; whether the plan changed."""
        if self.board is None:
            return False
        before = self.loop.state
        self.guarded(self._exchange)
        return self.loop.state is not before

    def tell(self) -> None:
        """Tell the coordinator of this host's stop signal, or of how its job ended (before the
        stop that follows: the leftovers' grace, hooks and kill come after)."""
        if self.board is not None:
            self.guarded(self._tell)

    def say_drops(self) -> None:
        """At the exit: how many messages were dropped in all (the first one was said when it came)."""
        drops = self.system.peer_drops() if self.board is not None else 0
        if drops:
            self.system.log(plan.NORMAL, f"peers: {drops} message(s) dropped (malformed, oversized or not of this job)")

    # --- inside ----------------------------------------------------------------------------------

    def guarded(self, step, *args) -> None:
        try:
            step(*args)
        except Exception as exc:
            self.turn_off(exc)

    def turn_off(self, exc: Exception) -> None:
        """A bug in the peers' part: logged once, the feature off, the link closed."""
        self.board = None
        self.system.log(plan.ERROR, f"peers: internal error: {type(exc).__name__}: {exc}; multi-host fail-fast is"
                                    f" off, the job runs on")
        self.system.close_peers()

    def _exchange(self) -> None:
        board, now = self.board, self.system.clock()
        for event in self.system.peer_events():
            kind = event[0]
            if kind == "connected":
                actions = board.on_connected(now)
            elif kind == "hello":
                actions = board.on_hello(event[1], now)
            elif kind == "message":
                actions = board.on_message(event[1], now)
            elif kind == "closed":
                actions = board.on_closed(event[1], event[2], now)
            else:  # dropped
                actions = board.on_dropped(event[1])
            self.perform(actions, now)
        self.perform(board.tick(now), now)

    def _tell(self) -> None:
        loop, now = self.loop, self.system.clock()
        state = loop.state
        if not self.told_stop and state.stop_cause == plan.ACTIVE_STOP:
            self.told_stop = True
            self.perform(self.board.own_stop(now), now)
        if not self.told_end and not state.main_alive:
            self.told_end = True
            code, error = plan.exit_code(state), plan.peer_error(self.config, state)
            if code != 0 and error is None and state.stop_cause is None:
                error = self.system.error_line()
            actions, awaiting = self.board.own_ended(code, error, now)
            if awaiting:  # a plan result like any other, with nothing to perform; the coordinator may
                # hold a failure that reads as a consequence for a heartbeat, waiting for its cause
                until = now + self.config.peers.heartbeat + plan.PEER_WAIT
                loop.apply((plan.await_verdict(loop.state, until), []), now)
            self.perform(actions, now)

    def perform(self, actions, now: float) -> None:
        system, settings, loop = self.system, self.config.peers, self.loop
        for action in actions:
            if isinstance(action, peers.Send):
                system.peer_send(action.host, peers.encode(settings, action.message))
            elif isinstance(action, peers.Broadcast):
                system.peer_broadcast(peers.encode(settings, action.message))
            elif isinstance(action, peers.Connect):
                system.peer_connect()
            elif isinstance(action, peers.Verdict):
                loop.apply(plan.on_verdict(self.config, loop.state, action.text, loop.facts(), now), now)
            elif isinstance(action, peers.PeerStop):
                loop.apply(plan.on_peer_stop(self.config, loop.state, action.host, loop.facts(), now), now)
            elif isinstance(action, peers.Note):
                system.log(action.level, action.text)
