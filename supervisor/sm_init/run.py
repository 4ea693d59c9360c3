"""The supervisor: tini's main, in Python.

    become subreaper -> spawn the main child -> loop -> exit

One thread. Every signal stays blocked and is taken with sigtimedwait, whose timeout is the next
deadline: the plan's, the output's (a log line waiting for the trainer's newline), or the peers'
heartbeat (multi-host, peers.py). Nothing else sleeps and nothing polls; even the tree's output
arrives as a signal (SIGIO, see output.py), and so do the peers' messages (peerlink.py).
The exceptions are a log sink that cannot signal room (a terminal, a socket, a description shared
with the trainer: retried every 50 ms) and the flush at exit (plan.exit_flush says how long).
A plain signal is forwarded first (latency); output, or a deadline, is copied first; then, unless
output alone woke it, the loop reaps and lets the plan decide.
This module decides nothing: it waits, reports what it saw to ``plan``, and performs what
``plan`` returns, through a ``System`` (system.py; the tests give it a model of the world).
A multi-host job's peers are driven from here in two calls a turn (peerdriver.py).
"""

from __future__ import annotations


from . import exitcodes, log, plan
from .signals import signal
from .plan import (CheckHeartbeat, DumpStacks, EndDumps, Exit, Facts, FindHooks, Forward, KillHook, Log,
                   StartHook, Summary, Sweep, WriteFailure)

def run(config) -> None:  # never returns: it exits
    """Supervise ``config.argv`` until it and everything it started are gone; never returns."""
    from .system import System
    log.set_level(config.verbosity)
    system = System(config)
    supervisor = Supervisor(config, system)
    code = supervisor.run()
    system.exit(code, plan.exit_flush(config, supervisor.state))


class Supervisor:
    def __init__(self, config, system):
        self.config = config
        self.system = system
        self.state = plan.State()
        self.forwards = plan.forward_table(config)
        self.plain_group = plan.plain_scope_is_group(config)
        self.anyone_left = True
        self.again = False   # output is still waiting to be copied: don't sleep
        self.peers = None    # peerdriver.Driver of a multi-host job

    def run(self) -> int:
        """The exit code; PID 1 must never die by accident, so every error ends here too."""
        try:
            code = self.start()
            return self.loop() if code is None else code
        except BaseException as exc:
            return self.fail(exc)

    def start(self) -> int | None:
        """Spawn the main child; an exit code if it can't start."""
        config, system = self.config, self.system
        system.prepare()
        try:
            pid = system.spawn_main(config.argv)
        except OSError as exc:
            from .system import describe_spawn_error
            problem, code = describe_spawn_error(config.argv, exc)
            system.log(plan.ERROR, problem)
            system.note_start_failure(problem)
            return code
        self.state = plan.started(config, pid, system.clock())
        system.log(plan.NORMAL, f"start: {config.mode} mode, {log.command(config.argv)} as pid {pid}"
                   f" ({'PID 1' if system.pid1 else 'subreaper'}; signals to the {config.signal_scope} scope,"
                   f" stop timeout {config.stop_timeout:g}s)")
        self.open_peers()
        return None

    def open_peers(self) -> None:
        """Multi-host: the peers' driver (peerdriver.py), imported only by a job that has peers."""
        if self.config.peers is not None:
            from . import peerdriver
            self.peers = peerdriver.start(self.config, self.system, self)

    def loop(self) -> int:
        """Until the plan says Exit: wait, forward, copy output, reap, advance."""
        system = self.system
        while True:
            got = system.wait(self.timeout())
            if got is None or got.io or got.signum == signal.SIGCHLD:
                # Output first: what an exiting child wrote goes out before sm-init says it exited.
                self.copy_output()
                if not self.exchange() and got is not None and got.io:
                    continue  # the tree wrote (or a reader made room): nothing else changed
            elif not self.forward_at_once(got):
                now = system.clock()
                code = self.apply(plan.on_signal(self.config, self.state, got, self.facts(), now), now)
                if code is not None:
                    return code
            self.reap()
            self.tell_peers()
            now = system.clock()
            code = self.apply(plan.advance(self.config, self.state, self.facts(), now), now)
            if code is not None:
                return code

    def timeout(self) -> float | None:
        """Seconds until the next deadline; None: nothing is due, sleep until a signal."""
        if self.again or (self.peers is not None and self.peers.pending()):
            return 0.0  # output still to copy, or the peers' link has news of its own doing (a refused connect)
        peer_tick = None if self.peers is None else self.peers.next_wakeup()
        times = [t for t in (plan.next_wakeup(self.config, self.state), self.system.io_deadline(), peer_tick)
                 if t is not None]
        return None if not times else max(0.0, min(times) - self.system.clock())

    def forward_at_once(self, got) -> bool:
        """The hot path: a plain forward, as the plan's table says, before anything else."""
        target = self.forwards.get(got.signum)
        if target is None or got.self_caused or self.state.main_status is not None:
            return False
        if target:
            self.system.send(self.state.main_pid, target, self.plain_group)
        if self.config.verbosity > 0:
            self.system.log(plan.VERBOSE, plan.forward_text(self.config, got.signum, target))
        return True

    def facts(self) -> Facts:
        main_pid, catches = self.state.main_pid, self.system.catches
        return Facts(self.anyone_left, lambda signum: catches(main_pid, signum), self.system.stacks_coming())

    def copy_output(self) -> None:
        now = self.system.clock()
        moved, self.again = self.system.pump(now)
        if moved:
            self.state = plan.on_progress(self.state, now)

    def reap(self) -> None:
        exited, self.anyone_left = self.system.reap()
        for pid, status in exited:
            now = self.system.clock()
            self.apply(plan.on_exit(self.config, self.state, pid, status, now), now)

    def exchange(self) -> bool:
        """The peers' messages and heartbeat (peerdriver.py); whether the plan changed."""
        return self.peers is not None and self.peers.exchange()

    def tell_peers(self) -> None:
        if self.peers is not None:
            self.peers.tell()

    # --- performing ------------------------------------------------------------------------------

    def apply(self, result, now: float) -> int | None:
        """Take the plan's new state and perform its actions, in order; the code once it says Exit."""
        self.state, actions = result
        for action in actions:
            code = self.perform(action, now)
            if code is not None:
                return code
        return None

    def perform(self, action, now: float) -> int | None:
        system, config, state = self.system, self.config, self.state
        if isinstance(action, Forward):
            system.send(state.main_pid, action.signum, action.group)
        elif isinstance(action, Log):
            system.log(action.level, action.text)
        elif isinstance(action, Sweep):
            main = state.main_pid
            count = system.sweep(action.signum, action.deadline, main if action.spare_group else None,
                                 main if action.spare_main else None, action.then_continue,
                                 main if action.group_first else None)
            return self.apply(plan.on_swept(state, action.signum, count, system.pid1), now)
        elif isinstance(action, FindHooks):
            return self.apply(plan.on_hooks_found(config, state, system.find_hooks(), now), now)
        elif isinstance(action, StartHook):
            env = system.hook_environment(action.reason, action.exit_code, action.kill_at, now)
            try:
                pid = system.spawn_hook(action.argv, env)
            except OSError as exc:
                return self.apply(plan.on_hook_failed(config, state, action.argv, exc.strerror, now), now)
            return self.apply(plan.on_hook_started(state, action.argv, pid, now), now)
        elif isinstance(action, KillHook):
            system.send(action.pid, signal.SIGKILL, True)  # the hook and whatever it started
        elif isinstance(action, CheckHeartbeat):
            self.state = plan.on_heartbeat(state, system.heartbeat_stamp(config.heartbeat), now)
        elif isinstance(action, DumpStacks):
            system.start_dumps(action.until)
        elif isinstance(action, EndDumps):
            system.end_dumps()
        elif isinstance(action, WriteFailure):
            system.write_failure(action)
        elif isinstance(action, Summary):
            if self.peers is not None:
                self.peers.say_drops()
            system.last_words(action.text)
        elif isinstance(action, Exit):
            return action.code
        return None

    def fail(self, exc: BaseException) -> int:
        """An unexpected error: log it once, kill the tree, exit non-zero. Nothing runs unsupervised."""
        system = self.system
        system.log(plan.ERROR, f"internal error: {type(exc).__name__}: {exc}; killing every process and exiting")
        try:
            system.kill_everything(self.state.main_pid if self.state.main_pid and self.state.main_alive else None)
        except BaseException as again:
            system.log(plan.ERROR, f"internal error while killing the tree: {type(again).__name__}: {again}")
        system.last_words(f"exit: {exitcodes.INTERNAL_ERROR} (internal error; every process killed)")
        return exitcodes.INTERNAL_ERROR
