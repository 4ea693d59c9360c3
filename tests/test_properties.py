"""Properties of the supervisor for any timings and event orders: the real loop over random worlds.

Each example builds a random configuration and a random world (``world.World``: a main child that
exits on its own or on the stop signal after some delay, or never, or dies of the signal; others
in its group or their own session that do or don't heed SIGTERM; hooks that take any time or
hang; SIGKILL that reaps at once, later or never (D state); signals of any kind at any time;
output, or silence, for the stall watchdog) and runs the real ``run.Supervisor`` over it. Checked:

- every schedule ends (one exit) no later than its deadline: the first stop + S less the exit
  margin, or, when the main child exited first, its exit + leftover grace + hook time + kill window;
- the exit code is the main child's (137 if never reaped, 124 after a stall);
- phases are entered once each, in order, and the last is DONE;
- no process is signalled after it was reaped (the model fails the test at once);
- no process gets a stop signal twice, and every process the final SIGKILL finds had been told to
  stop before it (at the same instant at the latest, with no hook time).
"""

import signal
from types import MappingProxyType
from typing import Dict, List

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from helpers.figures import record
from helpers.world import INF, INT, KILL, QUIT, TERM, World, run
from sm_init import exitcodes, plan
from sm_init.config import Config
from sm_init.plan import Facts, Phase
from sm_init.signals import Received

pytestmark = pytest.mark.figures  # tests/reliability.py reports how many examples each property ran

EPS = 1e-6
EXTERNAL = [TERM, INT, signal.SIGHUP, signal.SIGUSR1, signal.SIGWINCH]
STOPPING = (TERM, INT, QUIT)
COUNTS: Dict[str, List[int]] = {}


def counted(name, events=0):
    entry = COUNTS.setdefault(name, [0, 0])
    entry[0] += 1
    entry[1] += events


@pytest.fixture(scope="module", autouse=True)
def record_counts():
    yield
    for name, (examples, events) in COUNTS.items():
        record("property", property=name, examples=examples, events=events)


configs = st.builds(
    lambda stop, hook_share, runtime, grace, scope, hooks_on, interactive, rewrite, verbosity, stall, mode: Config(
        argv=("trainer",), mode=mode, stop_timeout=stop, hook_timeout=hook_share * plan.longest_hook_time(stop),
        max_runtime=runtime, leftover_grace=grace, signal_scope=scope, hooks_on=hooks_on,
        interactive=interactive, rewrites=MappingProxyType(rewrite), verbosity=verbosity, stall_timeout=stall),
    stop=st.floats(0.05, 300),
    hook_share=st.floats(0, 1),
    runtime=st.none() | st.floats(0.01, 100),
    grace=st.floats(0, 30),
    scope=st.sampled_from(["auto", "group", "child"]),
    hooks_on=st.sampled_from(["stop", "failure", "always"]),
    interactive=st.booleans(),
    rewrite=st.sampled_from([{}, {TERM: QUIT}, {TERM: 0}, {signal.SIGHUP: 0}, {INT: TERM}, {INT: 0}]),
    verbosity=st.sampled_from([0, 1]),
    stall=st.none() | st.floats(0.5, 60),
    mode=st.sampled_from(["train", "serve", "command"]),
)
delays = st.one_of(st.just(INF), st.just(0.0), st.floats(0, 50))
kill_delays = st.one_of(st.just(0.0), st.floats(0, 2), st.just(INF))


def process(draw, in_group=None):
    spec = dict(on_term=draw(delays), on_kill=draw(kill_delays), dies_of_term=draw(st.booleans()),
                dies_at=draw(st.one_of(st.just(INF), st.floats(0, 100))), exit_code=draw(st.integers(0, 255)),
                catches=draw(st.booleans()))
    if in_group is not None:
        spec["in_group"] = in_group
    return spec


@st.composite
def worlds(draw):
    others = [process(draw, in_group=draw(st.booleans())) for _ in range(draw(st.integers(0, 3)))]
    return World(main=process(draw), others=others,
                 signals=draw(st.lists(st.tuples(st.floats(0, 200), st.sampled_from(EXTERNAL)), max_size=8)),
                 hooks=draw(st.lists(delays, max_size=3)),
                 outputs=draw(st.lists(st.floats(0, 150), max_size=10)),
                 dumps=draw(st.none() | st.lists(st.one_of(st.floats(0, 20), st.just(INF)), max_size=2)),
                 pid1=draw(st.booleans()))


def first_stop(config, supervisor, world_signals):
    """When the stop began (a signal, --max-runtime or a stall), if one did while the main child ran."""
    entered = dict((phase, at) for phase, at in supervisor.state.entered)
    if supervisor.state.stop_cause is None:
        return None
    return entered[Phase.GRACE]


def latest_exit(config, supervisor, world):
    state = supervisor.state
    entered = dict((phase, at) for phase, at in state.entered)
    bounds = []
    if state.stop_cause is not None:
        bounds.append(entered[Phase.GRACE] + config.stop_timeout - plan.exit_margin(config.stop_timeout))
    else:
        main_exit = entered[Phase.GRACE]
        bounds.append(main_exit + config.leftover_grace + config.hook_timeout + plan.kill_window(config.stop_timeout))
        stops = [t for t, s in world.signals_sent if s in (TERM, INT) and config.rewrites.get(s, s) != 0
                 and t >= main_exit]
        if stops:
            bounds.append(stops[0] + config.stop_timeout - plan.exit_margin(config.stop_timeout))
    return min(bounds)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=configs, world=worlds())
def test_every_schedule_ends_in_time_and_never_signals_a_reaped_process(config, world):
    world.signals_sent = list(world.signals)
    code, supervisor = run(config, world)
    counted("the real loop over a model: deadlines, order, no signal after reap", world.wakeups)
    if world.forever:  # no stop, no exit, no stall: the job simply runs
        assert config.max_runtime is None and config.stall_timeout is None
        assert supervisor.state.phase == Phase.RUNNING
        return
    state = supervisor.state
    assert "internal error" not in world.texts(), world.texts()
    assert world.now <= latest_exit(config, supervisor, world) + EPS, (world.now, state)
    phases = [phase.value for phase, _ in state.entered]
    assert phases == sorted(set(phases)) and phases[-1] == Phase.DONE.value, phases
    assert code == plan.exit_code(state)
    if state.stop_cause == plan.STALL:
        assert code == exitcodes.STALLED
    elif state.main_status is None:
        assert code == 137
    if world.now < state.deadlines.exit_at - EPS:
        assert not [p for p in world.procs if not p.reaped], "left before the exit deadline with processes there"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(config=configs, world=worlds())
def test_nobody_is_told_to_stop_twice_and_everyone_is_told_before_the_sigkill(config, world):
    run(config, world)
    if world.forever:
        return
    assert "internal error" not in world.texts(), world.texts()
    counted("one stop signal per process, always before the SIGKILL", len(world.procs))
    kills = world.sweeps_of(KILL)
    own_stop_dropped = world.supervisor.state.stop_cause in (plan.MAX_RUNTIME, plan.STALL) and \
        config.rewrites.get(TERM, TERM) == 0
    for proc in world.procs:
        if proc.name.startswith(("hook", "dumper")) or (proc is world.main and own_stop_dropped):
            continue  # helpers of sm-init's; a main child that --rewrite says must never get SIGTERM
        told = proc.heard(*STOPPING)
        assert len(told) <= 1, (proc.name, proc.received)
        killed_at = [t for t, s in proc.received if s == KILL]
        if killed_at and kills and proc.dies_at >= killed_at[0] and not proc.dies_of_term:
            assert told and told[0] <= killed_at[0] + EPS, (proc.name, proc.received)


@settings(max_examples=300, deadline=None)
@given(config=configs, now=st.floats(0, 1e6), later=st.floats(0, 1e4))
def test_deadlines_are_ordered_for_any_timings(config, now, later):
    """hooks <= kill <= exit <= stop + S for a stop, for leftovers, and for a stop during cleanup."""
    counted("deadlines ordered (stop, leftovers, stop during cleanup)", 3)
    stop = plan.stop_deadlines(config, now)
    assert now - EPS <= stop.hooks_at <= stop.kill_at <= stop.exit_at <= now + config.stop_timeout + EPS
    leftover = plan.leftover_deadlines(config, now)
    assert now <= leftover.hooks_at <= leftover.kill_at <= leftover.exit_at
    both = leftover.earliest(plan.stop_deadlines(config, now + later))
    assert both.hooks_at <= both.kill_at <= both.exit_at <= now + later + config.stop_timeout + EPS


@settings(max_examples=300, deadline=None)
@given(config=configs, signums=st.lists(st.sampled_from(EXTERNAL), min_size=1, max_size=20),
       times=st.lists(st.floats(0, 100), min_size=20, max_size=20))
def test_after_the_main_child_is_reaped_no_signal_is_forwarded(config, signums, times):
    """Straight on_signal: once the main child was reaped, no signal of any kind yields a Forward."""
    counted("no forward after the main child is reaped", len(signums))
    state = plan.started(config, 100, 0.0)._replace(main_status=1 << 8)
    state, _ = plan.advance(config, state, Facts(True), 0.0)
    for signum, now in zip(signums, sorted(times)):
        state, actions = plan.on_signal(config, state, Received(signum), Facts(True), now)
        assert not [a for a in actions if isinstance(a, plan.Forward)], (signum, actions)
