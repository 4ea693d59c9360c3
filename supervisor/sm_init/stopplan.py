"""The stop sequence as pure decisions: (config, state, event, now) -> (state, actions).

Phases, each entered once, in order::

    RUNNING -> GRACE -> HOOKS -> KILL -> DONE

A stop (SIGTERM, SIGINT, ``--max-runtime``) forwards the stop signal once and fixes three deadlines
on the monotonic clock, counted back from Docker's SIGKILL at ``stop + S``::

    |-- grace --|-- hooks (H) --|-- kill window --|-- exit margin --|
    stop     hooks_at        kill_at           exit_at        stop + S

Grace ends early when every process is gone, hooks end early when the last hook is done, the kill
window ends early when everything is reaped: nothing waits longer than it must.

When the main child exits on its own, leftovers get SIGTERM and the same phases follow, with
``--leftover-grace`` as the grace. Nothing here touches a process or reads a clock: the loop in
``run.py`` performs the actions and feeds back what it saw.
"""

import enum
import os
import signal
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

from . import signals

if TYPE_CHECKING:
    from .config import Config

ACTIVE_STOP = "stop"          # sm-init was asked to stop while the main child ran
MAX_RUNTIME = "max-runtime"   # sm-init stopped the job itself


class Phase(enum.Enum):
    RUNNING = 0
    GRACE = 1
    HOOKS = 2
    KILL = 3
    DONE = 4


def kill_window(stop_timeout: float) -> float:
    """Time kept between the SIGKILL sweep and sm-init's exit, for the kernel to finish the kills."""
    return min(1.0, stop_timeout / 10)


def exit_margin(stop_timeout: float) -> float:
    """How long before Docker's SIGKILL sm-init is gone, whatever is left."""
    return min(0.5, stop_timeout / 20)


def longest_hook_time(stop_timeout: float) -> float:
    return stop_timeout - kill_window(stop_timeout) - exit_margin(stop_timeout)


@dataclass(frozen=True)
class Deadlines:
    hooks_at: float
    kill_at: float
    exit_at: float

    def earliest(self, other: "Deadlines") -> "Deadlines":
        return Deadlines(min(self.hooks_at, other.hooks_at), min(self.kill_at, other.kill_at),
                         min(self.exit_at, other.exit_at))


def stop_deadlines(config: "Config", now: float) -> Deadlines:
    exit_at = now + config.stop_timeout - exit_margin(config.stop_timeout)
    kill_at = exit_at - kill_window(config.stop_timeout)
    return Deadlines(max(now, kill_at - config.hook_timeout), kill_at, exit_at)


def leftover_deadlines(config: "Config", now: float) -> Deadlines:
    hooks_at = now + config.leftover_grace
    kill_at = hooks_at + config.hook_timeout
    return Deadlines(hooks_at, kill_at, kill_at + kill_window(config.stop_timeout))


@dataclass(frozen=True)
class Facts:
    """What the loop saw, fed to ``advance`` after every event."""
    main_alive: bool
    anyone_left: bool      # any process besides sm-init: main child, leftovers, hooks
    hooks_done: bool = False


@dataclass(frozen=True)
class State:
    phase: Phase = Phase.RUNNING
    runtime_ends: Optional[float] = None   # --max-runtime, on the monotonic clock
    deadlines: Optional[Deadlines] = None
    stop_signal: Optional[int] = None      # the first stop signal received, if any
    stop_cause: Optional[str] = None       # ACTIVE_STOP / MAX_RUNTIME when the stop came first
    main_status: Optional[int] = None      # raw wait status once the main child is reaped
    leftovers_warned: bool = False         # leftovers of the exited main child got SIGTERM
    killed: bool = False                   # the SIGKILL sweep has been sent
    entered: Tuple[Tuple[Phase, float], ...] = field(default=())


# Actions: what the loop must do, in order.
@dataclass(frozen=True)
class Forward:
    signum: int


@dataclass(frozen=True)
class Sweep:
    """Send ``signum`` to every process left (PID 1: the namespace; else every descendant).

    ``spare_group``: skip the main child's process group, which the stop signal already reached.
    """
    signum: int
    spare_group: bool = False


@dataclass(frozen=True)
class RunHooks:
    kill_at: float


@dataclass(frozen=True)
class Log:
    text: str
    verbose: bool = False


@dataclass(frozen=True)
class Exit:
    code: int


Action = object


def forward_target(config: "Config", signum: int) -> int:
    return config.rewrites.get(signum, signum)


def forward_table(config: "Config") -> Dict[int, int]:
    """Every signal that is simply forwarded while the main child lives -> what is sent (0: drop).

    The loop looks signals up here before anything else: forwarding latency is a dict lookup.
    """
    plain = signals.ALL - signals.STOP_SIGNALS - {signal.SIGCHLD}
    return {signum: forward_target(config, signum) for signum in plain}


def on_signal(config: "Config", state: State, signum: int, now: float) -> Tuple[State, List[Action]]:
    if signum in signals.STOP_SIGNALS:
        return _on_stop(config, state, signum, now, cause=ACTIVE_STOP)
    if state.main_status is not None:
        return state, [Log(f"{signals.name(signum)} received after the main child exited; not forwarded",
                           verbose=True)]
    return state, _forward(config, signum)


def _forward(config: "Config", signum: int) -> List[Action]:
    target = forward_target(config, signum)
    actions: List[Action] = [Forward(target)] if target else []
    if config.verbosity > 0:  # no log text built that nobody reads
        actions.append(Log(forward_text(config, signum, target), verbose=True))
    return actions


def forward_text(config: "Config", signum: int, target: int) -> str:
    sent = signals.name(target) if target else "nothing (dropped by --rewrite)"
    return f"forward: {signals.name(signum)} -> {sent} to {config.signal_scope}"


def _on_stop(config: "Config", state: State, signum: int, now: float,
             cause: str) -> Tuple[State, List[Action]]:
    what = f"--max-runtime {config.max_runtime:g}s reached" if cause == MAX_RUNTIME else signals.name(signum)
    if state.stop_signal is not None:
        # A repeated stop neither restarts the clock nor is sent again (mpirun calls that "jammed").
        # On a terminal, a second Ctrl-C means "hurry": grace ends now; hooks still run.
        if config.interactive and signum == signal.SIGINT and state.phase == Phase.GRACE:
            hurried = replace(state.deadlines, hooks_at=now)
            return replace(state, deadlines=hurried), [Log("stop: second SIGINT: grace ends now")]
        return state, [Log(f"stop: {what} again: already stopping, ignored")]
    deadlines = stop_deadlines(config, now)
    if state.phase != Phase.RUNNING:
        # The main child already exited and cleanup runs: only tighten its deadlines.
        tighter = state.deadlines.earliest(deadlines)
        return (replace(state, stop_signal=signum, deadlines=tighter),
                [Log(f"stop: {what} during cleanup: exit within {config.stop_timeout:g}s")])
    state = replace(state, stop_signal=signum, stop_cause=cause, deadlines=deadlines)
    state = _enter(state, Phase.GRACE, now)
    actions: List[Action] = [Log(
        f"stop: {what}; grace until +{deadlines.hooks_at - now:.1f}s, hooks until +{deadlines.kill_at - now:.1f}s,"
        f" exit by +{deadlines.exit_at - now:.1f}s (stop timeout {config.stop_timeout:g}s)")]
    actions += _forward(config, signum)
    return state, actions


def on_main_exit(state: State, status: int) -> State:
    return replace(state, main_status=status)


def _enter(state: State, phase: Phase, now: float) -> State:
    return replace(state, phase=phase, entered=state.entered + ((phase, now),))


def stop_reached_group(config: "Config", state: State) -> bool:
    """Did the stop signal go to the main child's process group while the child was alive?"""
    return (state.stop_cause is not None and config.signal_scope == "group"
            and forward_target(config, state.stop_signal) != 0)


def hooks_wanted(config: "Config", state: State) -> bool:
    if state.stop_cause is not None:
        return True
    code = exit_code(state)
    return config.hooks_on == "always" or (config.hooks_on == "failure" and code != 0)


def exit_code(state: State) -> int:
    """The main child's code, 128+N for signal N; 137 when it could not even be reaped."""
    if state.main_status is None:
        return 128 + signal.SIGKILL
    code = os.waitstatus_to_exitcode(state.main_status)
    return code if code >= 0 else 128 - code


def advance(config: "Config", state: State, facts: Facts, now: float) -> Tuple[State, List[Action]]:
    """Move through as many phases as the facts and the clock allow."""
    actions: List[Action] = []
    while True:
        before = state
        state, step = _step(config, state, facts, now)
        actions += step
        if state == before and not step:
            return state, actions
        if step and isinstance(step[-1], (Sweep, RunHooks, Exit)):
            # A sweep or a hook changes the world: the loop looks again before the next step.
            return state, actions


def _step(config: "Config", state: State, facts: Facts, now: float) -> Tuple[State, List[Action]]:
    phase, d = state.phase, state.deadlines
    if phase == Phase.RUNNING:
        if facts.main_alive:
            if state.runtime_ends is not None and now >= state.runtime_ends:
                return _on_stop(config, state, signal.SIGTERM, now, cause=MAX_RUNTIME)
            return state, []
        state = replace(state, deadlines=leftover_deadlines(config, now))
        return _enter(state, Phase.GRACE, now), [Log(f"main child exited ({describe_status(state.main_status)})")]
    if phase == Phase.GRACE:
        if state.main_status is not None and facts.anyone_left and not state.leftovers_warned:
            # Nobody else will warn them now: daemons, orphans, processes in other sessions. Those
            # the stop signal reached are spared: a second SIGTERM can break a checkpoint save.
            spare = stop_reached_group(config, state)
            return replace(state, leftovers_warned=True), [Sweep(signal.SIGTERM, spare_group=spare)]
        if facts.anyone_left and now < d.hooks_at:
            return state, []
        if not hooks_wanted(config, state):
            return _enter(state, Phase.KILL, now), []
        state = _enter(state, Phase.HOOKS, now)
        return state, [RunHooks(d.kill_at)]
    if phase == Phase.HOOKS:
        if not facts.hooks_done and now < d.kill_at:
            return state, []
        return _enter(state, Phase.KILL, now), []
    if phase == Phase.KILL:
        if facts.anyone_left and not state.killed:
            return replace(state, killed=True), [Sweep(signal.SIGKILL)]
        if facts.anyone_left and now < d.exit_at:
            return state, []
        state = _enter(state, Phase.DONE, now)
        return state, [Exit(exit_code(state))]
    return state, []


def next_wakeup(state: State) -> Optional[float]:
    """The monotonic time at which ``advance`` must run even if no signal arrives."""
    if state.phase == Phase.RUNNING:
        return state.runtime_ends
    d = state.deadlines
    return {Phase.GRACE: d.hooks_at, Phase.HOOKS: d.kill_at, Phase.KILL: d.exit_at}.get(state.phase)


def describe_status(status: Optional[int]) -> str:
    if status is None:
        return "not reaped"
    if os.WIFSIGNALED(status):
        return f"killed by {signals.name(os.WTERMSIG(status))}"
    return f"exit code {os.WEXITSTATUS(status)}"


def phase_durations(state: State, now: float) -> dict:
    """Seconds spent in grace, hooks and kill, for the summary line."""
    marks = list(state.entered) + [(None, now)]
    spent = {Phase.GRACE: 0.0, Phase.HOOKS: 0.0, Phase.KILL: 0.0}
    for (phase, start), (_, end) in zip(marks, marks[1:]):
        if phase in spent:
            spent[phase] += end - start
    return spent
