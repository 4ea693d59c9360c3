"""Properties of the pure stop plan (supervisor/stopplan.py), for any timings and event orders.

``Loop`` plays run.py's loop against a random world: a main child that exits on its own or on the
stop signal after some delay (or never), leftovers that do or don't heed SIGTERM, hooks that take
any time or hang, SIGKILL that reaps at once, later or (D state) never, and signals of any kind
arriving at any time. The loop wakes exactly as run.py's does: at the next world event or at
``stopplan.next_wakeup``, whichever is first, and at once after a sweep or a hook start. At every
step it checks:

- every schedule ends (one ``Exit``) no later than its deadline: the first stop + S, or, when the
  main child exited first, its exit + leftover grace + hook time + kill window;
- deadlines stay ordered: hooks <= kill <= exit <= stop + S;
- a reaped main child is never signalled again, and nothing happens after ``Exit``;
- phases are entered once each, in order; the exit code is the main child's (137 if never reaped).
"""

import math
import signal
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Dict, List, Optional

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import reliability
from sm_init import stopplan
from sm_init.config import Config
from sm_init.stopplan import Exit, Facts, Forward, Log, Phase, RunHooks, State, Sweep

INF = math.inf
EPS = 1e-6
TERM, INT, KILL = signal.SIGTERM, signal.SIGINT, signal.SIGKILL
EXTERNAL = [signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGQUIT, signal.SIGWINCH]
COUNTS: Dict[str, List[int]] = {}


def counted(name, events=0):
    entry = COUNTS.setdefault(name, [0, 0])
    entry[0] += 1
    entry[1] += events


@pytest.fixture(scope="module", autouse=True)
def record_counts():
    yield
    for name, (examples, events) in COUNTS.items():
        reliability.record("property", property=name, examples=examples, events=events)


# --- the world -----------------------------------------------------------------------------------

@dataclass
class Proc:
    name: str
    on_term: float = INF          # delay from SIGTERM to death (INF: ignores it)
    on_kill: float = 0.0          # delay from SIGKILL to death (INF: unkillable, D state)
    dies_at: float = INF
    reaped: bool = False
    in_main_group: bool = False
    status: int = 0               # raw wait status when it dies

    def signal(self, signum, now):
        delay = self.on_kill if signum == KILL else self.on_term if signum in (TERM, INT, signal.SIGQUIT) else INF
        if now + delay < self.dies_at:
            self.dies_at = now + delay
            self.status = signum if signum == KILL else self.status


@dataclass
class World:
    main: Proc
    others: List[Proc]
    hook_durations: List[float]
    hook_kill_delay: float
    signals: List[tuple]                      # (time, signum), sorted
    hooks: List[Proc] = field(default_factory=list)
    pending_hooks: List[float] = field(default_factory=list)
    running_hook: Optional[Proc] = None
    hooks_started: bool = False

    def alive(self):
        return [p for p in [self.main, *self.others, *self.hooks] if not p.reaped]

    def next_event(self, now):
        times = [p.dies_at for p in self.alive() if p.dies_at >= now]
        times += [t for t, _ in self.signals]
        return min(times, default=INF)


def status_of_exit(code):
    return code << 8


configs = st.builds(
    lambda stop, hook_share, runtime, grace, scope, hooks_on, interactive, rewrite, verbosity: Config(
        argv=("trainer",), stop_timeout=stop,
        hook_timeout=hook_share * stopplan.longest_hook_time(stop),
        max_runtime=runtime, leftover_grace=grace, signal_scope=scope, hooks_on=hooks_on,
        interactive=interactive, rewrites=MappingProxyType(rewrite), verbosity=verbosity),
    stop=st.floats(0.05, 300),
    hook_share=st.floats(0, 1),
    runtime=st.none() | st.floats(0.01, 100),
    grace=st.floats(0, 30),
    scope=st.sampled_from(["group", "child"]),
    hooks_on=st.sampled_from(["stop", "failure", "always"]),
    interactive=st.booleans(),
    rewrite=st.sampled_from([{}, {TERM: signal.SIGQUIT}, {TERM: 0}, {signal.SIGHUP: 0}, {INT: TERM}]),
    verbosity=st.sampled_from([0, 1]),
)
delays = st.one_of(st.just(INF), st.just(0.0), st.floats(0, 50))
kill_delays = st.one_of(st.just(0.0), st.floats(0, 2), st.just(INF))


@st.composite
def worlds(draw):
    main = Proc("main", on_term=draw(delays), on_kill=draw(kill_delays), in_main_group=True,
                dies_at=draw(st.one_of(st.just(INF), st.floats(0, 100))),
                status=status_of_exit(draw(st.integers(0, 255))))
    others = [Proc(f"other{i}", on_term=draw(delays), on_kill=draw(kill_delays),
                   in_main_group=draw(st.booleans()), dies_at=draw(st.one_of(st.just(INF), st.floats(0, 100))))
              for i in range(draw(st.integers(0, 3)))]
    times = draw(st.lists(st.tuples(st.floats(0, 200), st.sampled_from(EXTERNAL)), max_size=8))
    return World(main=main, others=others, hook_durations=draw(st.lists(delays, max_size=3)),
                 hook_kill_delay=draw(kill_delays), signals=sorted(times))


# --- the loop, as run.py runs it ------------------------------------------------------------------

class Loop:
    def __init__(self, config: Config, world: World):
        self.config, self.world = config, world
        self.now = 0.0
        runtime_ends = None if config.max_runtime is None else config.max_runtime
        self.state = State(runtime_ends=runtime_ends, entered=((Phase.RUNNING, 0.0),))
        self.main_alive = True
        self.stopped_at: Optional[float] = None      # the first stop (signal or --max-runtime)
        self.main_exit_at: Optional[float] = None    # the main child reaped before any stop
        self.exit: Optional[tuple] = None
        self.run_hooks = 0
        self.kill_at = INF
        self.events = 0

    def check_deadlines(self):
        d = self.state.deadlines
        if d is None:
            return
        assert d.hooks_at <= d.kill_at + EPS <= d.exit_at + 2 * EPS, d
        if self.stopped_at is not None:
            assert d.exit_at <= self.stopped_at + self.config.stop_timeout + EPS, (d, self.stopped_at)

    def note_stop(self, before: State):
        if before.stop_signal is None and self.state.stop_signal is not None:
            self.stopped_at = self.now

    def perform(self, actions):
        world = self.world
        for action in actions:
            assert self.exit is None, f"{action} after Exit"
            if isinstance(action, Forward):
                assert not world.main.reaped, f"{action}: the main child was already reaped"
                targets = [world.main] + ([p for p in world.others if p.in_main_group]
                                          if self.config.signal_scope == "group" else [])
                for process in targets:
                    if not process.reaped:
                        process.signal(action.signum, self.now)
            elif isinstance(action, Sweep):
                for process in world.alive():
                    if action.spare_group and process.in_main_group:
                        continue
                    process.signal(action.signum, self.now)
            elif isinstance(action, RunHooks):
                self.run_hooks += 1
                assert self.run_hooks == 1, "hooks started twice"
                assert action.kill_at <= self.state.deadlines.exit_at + EPS
                world.hooks_started = True
                world.pending_hooks = list(world.hook_durations)
                self.start_next_hook(action.kill_at)
                self.kill_at = action.kill_at
            elif isinstance(action, Exit):
                self.exit = (self.now, action.code)
            else:
                assert isinstance(action, Log), action

    def start_next_hook(self, kill_at):
        world = self.world
        if world.running_hook is None and world.pending_hooks and self.now < kill_at:
            duration = world.pending_hooks.pop(0)
            hook = Proc(f"hook{len(world.hooks)}", on_kill=world.hook_kill_delay, dies_at=self.now + duration)
            world.hooks.append(hook)
            world.running_hook = hook

    def hooks_done(self):
        return self.world.hooks_started and self.world.running_hook is None and not self.world.pending_hooks

    def cancel_hooks(self):
        world = self.world
        if world.running_hook is not None:
            world.running_hook.signal(KILL, self.now)
            world.running_hook = None
        world.pending_hooks = []

    def run(self, max_steps=2000):
        world, look_again = self.world, False
        for _ in range(max_steps):
            wake = stopplan.next_wakeup(self.state)
            event = world.next_event(self.now)
            at = self.now if look_again else min(event, INF if wake is None else max(wake, self.now))
            if at == INF:
                return  # nothing will ever happen again: the job simply runs
            self.now = at
            self.events += 1
            signum = None
            if world.signals and world.signals[0][0] <= self.now:
                signum = world.signals.pop(0)[1]
            if signum is not None:
                before = self.state
                self.state, actions = stopplan.on_signal(self.config, self.state, signum, self.now)
                self.note_stop(before)
                self.check_deadlines()
                self.perform(actions)
            for process in world.alive():          # reap
                if process.dies_at <= self.now:
                    process.reaped = True
                    if process is world.main:
                        self.main_alive = False
                        self.state = stopplan.on_main_exit(self.state, process.status)
                        if self.stopped_at is None and self.main_exit_at is None:
                            self.main_exit_at = self.now
                    elif process is world.running_hook:
                        world.running_hook = None
                        self.start_next_hook(self.kill_at)
            facts = Facts(self.main_alive, bool(world.alive()), self.hooks_done())
            phase, before = self.state.phase, self.state
            self.state, actions = stopplan.advance(self.config, self.state, facts, self.now)
            self.note_stop(before)
            self.check_deadlines()
            if phase == Phase.HOOKS and self.state.phase != Phase.HOOKS:
                self.cancel_hooks()
            self.perform(actions)
            if self.exit is not None:
                return
            look_again = any(isinstance(a, (Sweep, RunHooks)) for a in actions)
        raise AssertionError(f"no end after {max_steps} wakeups: {self.state}")


def latest_exit(config: Config, loop: Loop) -> float:
    """When the schedule must have ended by."""
    bounds = []
    if loop.stopped_at is not None:
        bounds.append(loop.stopped_at + config.stop_timeout - stopplan.exit_margin(config.stop_timeout))
    if loop.main_exit_at is not None:
        bounds.append(loop.main_exit_at + config.leftover_grace + config.hook_timeout
                      + stopplan.kill_window(config.stop_timeout))
    return min(bounds)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=configs, world=worlds())
def test_every_schedule_ends_in_time_and_never_signals_a_reaped_child(config, world):
    loop = Loop(config, world)
    loop.run()
    counted("loop model: deadlines, order, no signal after reap", loop.events)
    if loop.stopped_at is None and loop.main_exit_at is None:
        assert loop.exit is None  # no stop and the child still runs: nothing to end
        return
    assert loop.exit is not None, "a stop or the main child's exit must end the schedule"
    ended, code = loop.exit
    assert ended <= latest_exit(config, loop) + EPS, (ended, latest_exit(config, loop), loop.state)
    phases = [phase.value for phase, _ in loop.state.entered]
    assert phases == sorted(set(phases)) and phases[-1] == Phase.DONE.value, phases
    expected = 137 if loop.state.main_status is None else stopplan.exit_code(loop.state)
    assert code == expected
    if loop.state.main_status is not None:
        assert world.main.reaped
    if ended < loop.state.deadlines.exit_at - EPS:
        assert not world.alive(), "left before the exit deadline with processes still there"


@settings(max_examples=400, deadline=None)
@given(config=configs, now=st.floats(0, 1e6), later=st.floats(0, 1e4))
def test_deadlines_are_ordered_for_any_timings(config, now, later):
    """hooks <= kill <= exit <= stop + S for a stop, for leftovers, and for a stop during cleanup."""
    counted("deadlines ordered (stop, leftovers, stop during cleanup)", 3)
    stop = stopplan.stop_deadlines(config, now)
    assert now - EPS <= stop.hooks_at <= stop.kill_at <= stop.exit_at <= now + config.stop_timeout + EPS
    assert stop.kill_at - stop.hooks_at <= config.hook_timeout + EPS
    leftover = stopplan.leftover_deadlines(config, now)
    assert now <= leftover.hooks_at <= leftover.kill_at <= leftover.exit_at
    both = leftover.earliest(stopplan.stop_deadlines(config, now + later))
    assert both.hooks_at <= both.kill_at <= both.exit_at <= now + later + config.stop_timeout + EPS


@settings(max_examples=300, deadline=None)
@given(config=configs, signums=st.lists(st.sampled_from(EXTERNAL), min_size=1, max_size=20),
       times=st.lists(st.floats(0, 100), min_size=20, max_size=20))
def test_after_the_main_child_is_reaped_no_signal_is_forwarded(config, signums, times):
    """Straight on_signal: once on_main_exit ran, no signal of any kind yields a Forward."""
    counted("no forward after the main child is reaped", len(signums))
    state = stopplan.on_main_exit(State(entered=((Phase.RUNNING, 0.0),)), status_of_exit(1))
    state, _ = stopplan.advance(config, state, Facts(False, True), 0.0)
    for signum, now in zip(signums, sorted(times)):
        state, actions = stopplan.on_signal(config, state, signum, now)
        assert not [a for a in actions if isinstance(a, Forward)], (signum, actions)
