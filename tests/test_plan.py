"""The supervisor's decisions, with a fake clock: the real loop (``run.Supervisor``) over a model
of the world (``world.World``), and the pure functions of ``plan`` from tables.

Nothing here starts a process: the model says when each process exits, whether it heeds SIGTERM,
how long each hook takes, when the tree writes output, and records every signal each process got.
"""

import math
import signal
from types import MappingProxyType

import pytest
from hypothesis import given, settings, strategies as st

from helpers.world import CONT, INF, INT, KILL, QUIT, TERM, World, exited, run
from sm_init import exitcodes, plan
from sm_init.config import Config
from sm_init.plan import Facts, Forward, Phase, State
from sm_init.signals import Received

HUP = signal.SIGHUP


def config(stop_timeout=10.0, hook_timeout=None, **kw):
    hook = plan.default_hook_time(stop_timeout) if hook_timeout is None else hook_timeout
    return Config(argv=("trainer",), stop_timeout=stop_timeout, hook_timeout=hook, **kw)


def phases(supervisor):
    return [(phase.name, round(at, 3)) for phase, at in supervisor.state.entered]


# ---------------------------------------------------------------------------------------------
# The budget

# S, H (default min(30, S/4)) -> hooks_at, kill_at, exit_at, counted from the stop at t=1000
DEADLINES = [
    (120.0, 88.5, 118.5, 119.5),
    (30.0, 21.0, 28.5, 29.5),
    (10.0, 6.0, 8.5, 9.5),
    (3.0, 1.8, 2.55, 2.85),
]


@pytest.mark.parametrize("stop_timeout, hooks_at, kill_at, exit_at", DEADLINES)
def test_stop_deadlines(stop_timeout, hooks_at, kill_at, exit_at):
    d = plan.stop_deadlines(config(stop_timeout), 1000.0)
    assert (d.hooks_at - 1000, d.kill_at - 1000, d.exit_at - 1000) == pytest.approx((hooks_at, kill_at, exit_at))
    assert d.kill_at - d.hooks_at == pytest.approx(plan.default_hook_time(stop_timeout))   # hooks get all of H
    assert d.exit_at < 1000 + stop_timeout                                                  # gone before docker


@pytest.mark.parametrize("stop_timeout", [0.2, 1.0, 3.0, 10.0, 30.0, 120.0, 3600.0])
def test_longest_hook_timeout_still_leaves_time_to_kill(stop_timeout):
    d = plan.stop_deadlines(config(stop_timeout, hook_timeout=plan.longest_hook_time(stop_timeout)), 0.0)
    assert d.hooks_at == pytest.approx(0.0)       # no grace left, but...
    assert d.kill_at < d.exit_at < stop_timeout    # ...time to kill and exit remains


@settings(max_examples=300, deadline=None)
@given(stop_timeout=st.floats(0.01, 8.64e6), fraction=st.floats(0.0, 1.0), now=st.floats(0, 1e6))
def test_deadlines_are_ordered_and_inside_the_budget(stop_timeout, fraction, now):
    cfg = config(stop_timeout, hook_timeout=fraction * plan.longest_hook_time(stop_timeout))
    d = plan.stop_deadlines(cfg, now)
    assert now <= d.hooks_at <= d.kill_at < d.exit_at < now + stop_timeout
    assert d.kill_at - d.hooks_at == pytest.approx(cfg.hook_timeout, rel=1e-6, abs=1e-6)


# ---------------------------------------------------------------------------------------------
# The stop sequence, through the real loop

S10 = config(10.0)  # hooks 6.0, kill 8.5, exit 9.5 after the stop


@pytest.mark.parametrize("name, world, phases_, exit_", [
    ("trainer saves and exits 0.2 s after TERM: grace ends then, hooks 0.1 s, exit at once",
     dict(signals=[(5.0, TERM)], main=dict(on_term=0.2, exit_code=0), hooks=[0.1]),
     [("RUNNING", 0), ("GRACE", 5.0), ("HOOKS", 5.2), ("KILL", 5.3), ("DONE", 5.3)], (5.3, 0)),
    ("trainer exits 143 on TERM: its code is sm-init's",
     dict(signals=[(5.0, TERM)], main=dict(on_term=0.5, exit_code=143), hooks=[0.1]),
     [("RUNNING", 0), ("GRACE", 5.0), ("HOOKS", 5.5), ("KILL", 5.6), ("DONE", 5.6)], (5.6, 143)),
    ("trainer ignores TERM: full grace, hooks, SIGKILL at once after them, 137",
     dict(signals=[(5.0, TERM)], hooks=[0.1]),
     [("RUNNING", 0), ("GRACE", 5.0), ("HOOKS", 11.0), ("KILL", 11.1), ("DONE", 11.1)], (11.1, 137)),
    ("trainer ignores TERM and the hook hangs: killed at kill_at",
     dict(signals=[(5.0, TERM)], hooks=[INF]),
     [("RUNNING", 0), ("GRACE", 5.0), ("HOOKS", 11.0), ("KILL", 13.5), ("DONE", 13.5)], (13.5, 137)),
    ("nothing can be reaped: sm-init still exits at exit_at, before S",
     dict(signals=[(5.0, TERM)], main=dict(on_kill=INF), hooks=[INF]),
     [("RUNNING", 0), ("GRACE", 5.0), ("HOOKS", 11.0), ("KILL", 13.5), ("DONE", 14.5)], (14.5, 137)),
    ("SIGINT is a stop like SIGTERM",
     dict(signals=[(1.0, INT)], main=dict(on_term=0.0, exit_code=130), hooks=[0.1]),
     [("RUNNING", 0), ("GRACE", 1.0), ("HOOKS", 1.0), ("KILL", 1.1), ("DONE", 1.1)], (1.1, 130)),
])
def test_stop_sequence(name, world, phases_, exit_):
    w = World(**world)
    code, supervisor = run(S10, w)
    assert phases(supervisor) == [(p, pytest.approx(t)) for p, t in phases_], name
    assert (w.now, code) == (pytest.approx(exit_[0]), exit_[1]), name
    assert len(w.hooks_started) == 1                                   # hooks always run on a stop
    stops = w.forwards()
    assert len(stops) == 1 and w.now < stops[0][0] + S10.stop_timeout


@pytest.mark.parametrize("stop_timeout", [3.0, 10.0, 30.0, 120.0])
def test_worst_case_exits_before_the_stop_timeout(stop_timeout):
    """Trainer ignores SIGTERM, hook hangs, nothing can be reaped, stop signal repeated."""
    stop = 50.0
    w = World(main=dict(on_kill=INF), hooks=[INF],
              signals=[(stop, TERM), (stop + 1, TERM), (stop + 2, INT), (stop + stop_timeout / 2, TERM)])
    code, supervisor = run(config(stop_timeout), w)
    d = supervisor.state.deadlines
    assert w.now == pytest.approx(d.exit_at) and stop < w.now < stop + stop_timeout
    assert code == 137                                         # never reaped: "killed"
    assert w.sweeps_of(KILL) == [pytest.approx(d.kill_at)]
    assert [t for t, _, _ in w.hooks_started] == [pytest.approx(d.hooks_at)]
    assert len(w.forwards(TERM)) == 1                          # repeats are not sent again


def test_grace_ends_early_when_everything_is_gone():
    w = World(signals=[(10.0, TERM)], main=dict(on_term=0.05), hooks=[0.0])
    code, _ = run(config(120.0), w)
    assert w.now == pytest.approx(10.05)                       # not 10 + 88.5 (the grace end)
    assert w.sweeps == []                                      # nothing left to kill


def test_other_signals_are_still_forwarded_while_stopping():
    w = World(signals=[(1.0, TERM), (2.0, HUP)], main=dict(on_term=3.0, catches=True))
    run(config(10.0, signal_scope="group"), w)
    assert [(t, s) for t, s, _ in w.forwards()] == [(1.0, TERM), (2.0, HUP)]


def test_second_sigint_on_a_terminal_ends_grace_but_hooks_still_run():
    w = World(signals=[(5.0, INT), (6.0, INT)], hooks=[0.5])
    code, supervisor = run(config(10.0, interactive=True), w)
    assert [t for t, _, _ in w.forwards(INT)] == [5.0]            # the second is not sent again
    assert [t for t, _, _ in w.hooks_started] == [6.0]           # grace ended at the second Ctrl-C
    assert supervisor.state.deadlines.kill_at == pytest.approx(13.5)
    assert w.sweeps_of(KILL) == [6.5] and (w.now, code) == (6.5, 137)


@pytest.mark.parametrize("interactive, second, hurried", [
    (False, INT, False),   # not a terminal: a second SIGINT is just a repeat
    (True, TERM, False),   # a second SIGTERM never hurries
    (True, INT, True),
])
def test_who_may_hurry_the_grace(interactive, second, hurried):
    cfg = config(10.0, interactive=interactive)
    first = INT if interactive else TERM
    state, _ = plan.on_signal(cfg, plan.started(cfg, 100, 0.0), Received(first), Facts(True), 0.0)
    after, actions = plan.on_signal(cfg, state, Received(second), Facts(True), 1.0)
    assert (after.deadlines.hooks_at == 1.0) is hurried
    assert after.deadlines.kill_at == state.deadlines.kill_at and after.deadlines.exit_at == state.deadlines.exit_at
    assert not [a for a in actions if isinstance(a, Forward)]


# ---------------------------------------------------------------------------------------------
# Rewrites and dropped signals

@pytest.mark.parametrize("rewrites, sent", [
    ({}, TERM),
    ({TERM: QUIT}, QUIT),     # nginx wants QUIT for a graceful stop
])
def test_the_stop_signal_is_rewritten_once_then_followed_by_sigcont(rewrites, sent):
    w = World(signals=[(1.0, TERM)], main=dict(on_term=0.1))
    run(config(10.0, rewrites=MappingProxyType(rewrites)), w)
    assert [(s, g) for _, s, g in w.forwards()] == [(sent, False)]   # auto: it handles the signal itself
    assert [s for _, s in w.main.received] == [sent, CONT]


def test_a_stop_signal_rewritten_to_0_is_dropped_and_starts_no_stop():
    w = World(signals=[(1.0, INT), (2.0, TERM)], main=dict(on_term=0.5, exit_code=0))
    code, supervisor = run(config(10.0, rewrites=MappingProxyType({INT: 0})), w)
    assert [s for _, s in w.main.received] == [TERM, CONT]        # nothing for the SIGINT
    assert supervisor.state.stop_signal == TERM                   # the SIGTERM started a normal stop
    assert phases(supervisor)[1] == ("GRACE", 2.0) and code == 0


# ---------------------------------------------------------------------------------------------
# Who hears the stop, and when

@pytest.mark.parametrize("scope, catches, reach", [
    ("auto", True, "child"),    # a program that handles its own shutdown gets the signal alone
    ("auto", False, "group"),   # one that doesn't: the whole group, so its helpers hear it
    ("group", True, "group"),
    ("child", False, "child"),
])
def test_where_the_stop_signal_goes(scope, catches, reach):
    w = World(signals=[(1.0, TERM)], main=dict(on_term=0.1, catches=catches, dies_of_term=not catches),
              others=[dict(name="helper", on_term=0.1)])
    run(config(10.0, signal_scope=scope), w)
    assert [g for _, _, g in w.forwards()] == [reach == "group"]
    helper = w.procs[1]
    # with the group, or after a main child that died of it: at once; after one that handled it, at
    # the end of the grace (it may have had a plan for its helpers)
    assert helper.heard(TERM) == [1.0 if reach == "group" or not catches else pytest.approx(7.0)]


def test_a_graceful_shutdown_the_main_child_started_is_left_alone_until_the_grace_ends():
    """AWS's serve layout: serve handles TERM, sends nginx QUIT (its drain), exits; nginx drains."""
    w = World(signals=[(1.0, TERM)], main=dict(on_term=0.01, exit_code=0),
              others=[dict(name="nginx", dies_at=3.0, on_term=0.0)])       # drains until 3.0
    code, _ = run(config(30.0), w)
    nginx = w.procs[1]
    assert nginx.heard() == []                     # no SIGTERM from sm-init: nothing cut its drain short
    assert [s for _, s in nginx.received] == [CONT]   # SIGCONT resumes, it ends nothing
    assert code == 0 and w.now == pytest.approx(3.0)


def test_leftovers_still_there_at_the_end_of_the_grace_are_warned_and_get_the_hook_time():
    w = World(signals=[(1.0, TERM)], main=dict(on_term=0.01, exit_code=0),
              others=[dict(name="slow", on_term=1.0), dict(name="daemon", in_group=False)])
    code, supervisor = run(config(10.0), w)
    d = supervisor.state.deadlines
    slow, daemon = w.procs[1], w.procs[2]
    assert slow.heard(TERM) == [pytest.approx(d.hooks_at)] == daemon.heard(TERM)
    assert slow.heard(CONT) == [1.0, pytest.approx(d.hooks_at)]    # with the stop (its group), and with the warning
    assert w.sweeps_of(KILL) == [pytest.approx(d.kill_at)]          # the daemon ignores it: the hook time was theirs
    assert code == 0


def test_when_the_main_child_dies_of_the_stop_signal_the_rest_hear_it_at_once():
    """The AWS training toolkit: no handler, dies of SIGTERM; the user's script is left."""
    w = World(signals=[(1.0, TERM)], main=dict(catches=False, dies_of_term=True),
              others=[dict(name="script", in_group=True, on_term=0.5, exit_code=0)])
    code, _ = run(config(10.0, signal_scope="child"), w)
    script = w.procs[1]
    assert script.heard(TERM) == [1.0]                              # a moment after its parent died
    assert code == 128 + TERM


def test_nobody_gets_the_stop_twice():
    w = World(signals=[(1.0, TERM)], main=dict(catches=False, dies_of_term=True),
              others=[dict(name="worker", in_group=True), dict(name="setsid", in_group=False)])
    run(config(10.0, signal_scope="group"), w)
    for proc in w.procs:
        assert len(proc.heard(TERM)) == 1, proc.name
    assert w.sweeps[0][1][1] == 100                                # the group was spared: it had heard


def test_a_main_child_still_running_at_the_end_of_the_grace_is_not_signalled_again():
    w = World(signals=[(1.0, TERM)], others=[dict(name="setsid", in_group=False)])
    code, supervisor = run(config(10.0, signal_scope="child"), w)
    assert len(w.main.heard(TERM)) == 1
    assert w.procs[1].heard(TERM) == [pytest.approx(supervisor.state.deadlines.hooks_at)]
    assert code == 137


# ---------------------------------------------------------------------------------------------
# --max-runtime

def test_max_runtime_stops_the_job():
    w = World(main=dict(on_term=0.5, exit_code=143), hooks=[0.1])
    code, supervisor = run(config(10.0, max_runtime=60.0), w)
    assert [t for t, _, _ in w.forwards(TERM)] == [60.0]
    assert supervisor.state.stop_cause == plan.MAX_RUNTIME
    assert [t for t, _, _ in w.hooks_started] == [60.5] and w.hooks_started[0][2]["SM_INIT_REASON"] == "max-runtime"
    assert (w.now, code) == (pytest.approx(60.6), 143)
    assert "--max-runtime 60s reached" in w.texts()
    assert [f.reason for f in w.failures] == []                    # not train mode


def test_max_runtime_writes_the_failure_file_in_train_mode_unless_the_trainer_exits_0():
    for code_after, failures in ((143, 1), (0, 0)):
        w = World(main=dict(on_term=0.5, exit_code=code_after))
        code, _ = run(config(10.0, max_runtime=5.0, mode="train"), w)
        assert code == code_after and len(w.failures) == failures


def test_signal_after_max_runtime_is_a_repeat():
    w = World(signals=[(61.0, TERM)])
    run(config(10.0, max_runtime=60.0), w)
    assert [t for t, _, _ in w.forwards(TERM)] == [60.0] and w.now < 70.0


# ---------------------------------------------------------------------------------------------
# The main child exits first

def test_main_exits_alone_nothing_left_exits_at_once():
    w = World(main=dict(dies_at=3.0, exit_code=0))
    code, _ = run(config(10.0), w)
    assert (w.now, code) == (3.0, 0) and w.sweeps == [] and w.hooks_started == []


def test_leftovers_get_sigterm_then_sigkill_after_the_leftover_grace():
    w = World(main=dict(dies_at=3.0, exit_code=0), others=[dict(name="loader")])
    code, _ = run(config(10.0, leftover_grace=2.0), w)
    assert w.sweeps_of(TERM) == [3.0] and w.sweeps_of(KILL) == [5.0]
    assert (w.now, code) == (5.0, 0) and w.hooks_started == []     # exit 0: hooks on failure only


def test_leftovers_that_obey_sigterm_end_the_grace_and_a_failure_runs_the_hooks():
    w = World(main=dict(dies_at=3.0, exit_code=4), others=[dict(name="loader", on_term=0.0)], hooks=[0.1])
    code, _ = run(config(10.0, leftover_grace=2.0), w)
    assert w.sweeps_of(TERM) == [3.0] and [t for t, _, _ in w.hooks_started] == [3.0]
    assert w.hooks_started[0][2]["SM_INIT_REASON"] == "failure" and w.hooks_started[0][2]["SM_INIT_EXIT_CODE"] == 4
    assert (w.now, code) == (pytest.approx(3.1), 4)


@pytest.mark.parametrize("status, code", [
    (exited(0), 0), (exited(1), 1), (exited(255), 255),
    (KILL, 137), (TERM, 143), (signal.SIGSEGV, 139), (None, 137),
])
def test_exit_codes(status, code):
    state = State() if status is None else State(main_status=status)
    assert plan.exit_code(state) == code
    assert plan.exit_code(state._replace(stop_cause=plan.STALL)) == exitcodes.STALLED


# hooks_on x what happened -> hooks run?
@pytest.mark.parametrize("hooks_on, world, ran", [
    ("stop", dict(signals=[(1.0, TERM)], main=dict(on_term=0.1)), True),
    ("stop", dict(main=dict(dies_at=1.0, exit_code=1)), False),
    ("failure", dict(signals=[(1.0, TERM)], main=dict(on_term=0.1)), True),
    ("failure", dict(main=dict(dies_at=1.0, exit_code=1)), True),
    ("failure", dict(main=dict(dies_at=1.0, exit_code=0)), False),
    ("always", dict(main=dict(dies_at=1.0, exit_code=0)), True),
])
def test_hooks_on(hooks_on, world, ran):
    w = World(hooks=[0.1], **world)
    run(config(10.0, hooks_on=hooks_on), w)
    assert bool(w.hooks_started) is ran


def test_hooks_run_one_at_a_time_and_a_failed_start_is_counted():
    w = World(signals=[(1.0, TERM)], main=dict(on_term=0.0), hooks=[0.5, "fail", 0.25])
    code, supervisor = run(config(10.0), w)
    assert [(round(t, 3), argv) for t, argv, _ in w.hooks_started] == [(1.0, ("hook0",)), (1.5, ("hook2",))]
    assert supervisor.state.hooks.failed == 1 and w.now == pytest.approx(1.75)
    assert "hook1: No such file or directory" in w.texts()


# ---------------------------------------------------------------------------------------------
# A stop during the cleanup after the main child exited

def test_stop_during_cleanup_tightens_deadlines_and_is_not_forwarded():
    cfg = config(10.0, leftover_grace=100.0)
    state = plan.started(cfg, 100, 0.0)._replace(main_status=exited(1))
    state, _ = plan.advance(cfg, state, Facts(True), 5.0)
    assert state.phase == Phase.GRACE and state.deadlines.hooks_at == 105.0
    state, actions = plan.on_signal(cfg, state, Received(TERM), Facts(True), 6.0)
    assert not [a for a in actions if isinstance(a, Forward)]      # nobody to forward to
    assert state.deadlines == plan.Deadlines(12.0, 14.5, 15.5) and state.stop_cause is None
    again, _ = plan.on_signal(cfg, state, Received(TERM), Facts(True), 7.0)
    assert again == state


def test_stop_during_cleanup_exits_within_the_stop_timeout():
    w = World(main=dict(dies_at=1.0, exit_code=2), others=[dict(on_kill=INF)], hooks=[INF], signals=[(2.0, TERM)])
    code, _ = run(config(3.0, leftover_grace=1000.0, hook_timeout=0.5), w)
    assert 2.0 < w.now < 5.0 and code == 2


# ---------------------------------------------------------------------------------------------
# The stall watchdog

def test_output_keeps_a_job_alive_and_silence_stops_it():
    outputs = [i * 1.0 for i in range(1, 20)]
    w = World(outputs=outputs, main=dict(on_term=0.1, exit_code=0))
    code, supervisor = run(config(10.0, stall_timeout=5.0, mode="train"), w)
    assert supervisor.state.stop_cause == plan.STALL
    assert [t for t, _, _ in w.forwards(TERM)] == [pytest.approx(24.0)]    # 5 s after the last output
    assert code == exitcodes.STALLED                                        # not 0: a hung job failed
    assert [f.stalled_for for f in w.failures] == [5.0]
    assert "no progress for 5s" in w.texts()


def test_a_heartbeat_keeps_a_silent_job_alive():
    w = World(heartbeats=[i * 2.0 for i in range(1, 30)], signals=[(61.0, TERM)], main=dict(on_term=0.1))
    code, supervisor = run(config(10.0, stall_timeout=5.0, heartbeat="/hb"), w)
    assert supervisor.state.stop_cause == plan.ACTIVE_STOP and code == 0   # stopped by the SIGTERM, not a stall


def test_a_heartbeat_that_stops_is_a_stall_s_after_sm_init_last_saw_it_change():
    # Looked at the start (no file), then when S is up (t=5: touched since: progress then), then
    # at t=10: unchanged since t=5, a stall. Between S and 2S after the last touch, never sooner.
    w = World(heartbeats=[1.0, 2.0, 3.0], main=dict(on_term=0.1))
    code, _ = run(config(10.0, stall_timeout=5.0, heartbeat="/hb"), w)
    assert [t for t, _, _ in w.forwards(TERM)] == [pytest.approx(10.0)] and code == exitcodes.STALLED


def test_a_heartbeat_file_that_was_there_before_the_start_is_no_progress():
    w = World(heartbeats=[-100.0], main=dict(on_term=0.1))
    code, _ = run(config(10.0, stall_timeout=5.0, heartbeat="/hb"), w)
    assert [t for t, _, _ in w.forwards(TERM)] == [pytest.approx(5.0)] and code == exitcodes.STALLED


HB = config(10.0, stall_timeout=5.0, heartbeat="/hb")
NOW = 1000.0


def stamp(mtime, size=0, inode=7, ctime=None):
    """What the loop reads of a heartbeat file (system.heartbeat_stamp's fields), times in seconds."""
    return (1, inode, size, int(mtime * 1e9), int((mtime if ctime is None else ctime) * 1e9))


# (case, what the last look saw, what this one sees, progress?) - the file's times are the file
# system's clock, here anywhere from an hour behind sm-init's clock (NOW) to an hour ahead of it.
HEARTBEAT_LOOKS = [
    ("touched, on a file system whose clock lags 5 s", stamp(NOW - 20), stamp(NOW - 5), True),
    ("touched, on a file system whose clock runs an hour ahead", stamp(NOW + 3590), stamp(NOW + 3600), True),
    ("set back in time (a clock corrected, touch -d)", stamp(NOW), stamp(NOW - 3600), True),
    ("untouched since a touch dated an hour ahead", stamp(NOW + 3600), stamp(NOW + 3600), False),
    ("untouched since a touch 5 s ago by sm-init's clock", stamp(NOW - 5), stamp(NOW - 5), False),
    ("same times, written to (a coarse file system clock)", stamp(NOW, size=10), stamp(NOW, size=20), True),
    ("same times, a new file put in its place", stamp(NOW, inode=7), stamp(NOW, inode=8), True),
    ("same mtime, its change time moved (utime to a fixed date)", stamp(NOW), stamp(NOW, ctime=NOW + 1), True),
    ("created", None, stamp(NOW - 3600), True),
    ("removed", stamp(NOW), None, True),
    ("still missing", None, None, False),
]


@pytest.mark.parametrize("case, before, after, progress", HEARTBEAT_LOOKS, ids=[row[0] for row in HEARTBEAT_LOOKS])
def test_heartbeat_progress_is_a_change_in_any_direction(case, before, after, progress):
    state = plan.started(HB, 100, 0.0)._replace(heartbeat_checked=NOW - 5.0, heartbeat_seen=before)
    state = plan.on_heartbeat(state, after, NOW)
    assert state.progress_at == (NOW if progress else 0.0)
    assert (state.heartbeat_seen, state.heartbeat_checked) == (after, NOW)


@pytest.mark.parametrize("seen", [None, stamp(NOW + 3600), stamp(NOW - 3600)], ids=["none", "ahead", "behind"])
def test_the_first_look_at_the_heartbeat_is_at_the_start_and_no_progress(seen):
    state = plan.started(HB, 100, 0.0)
    assert plan.next_wakeup(HB, state) == -math.inf            # looked at once, not when S is up
    state, actions = plan.advance(HB, state, Facts(True), 0.01)
    assert [type(a) for a in actions] == [plan.CheckHeartbeat]
    state = plan.on_heartbeat(state, seen, 0.01)
    assert state.progress_at == 0.0 and state.heartbeat_seen == seen
    state, actions = plan.advance(HB, state, Facts(True), 0.02)
    assert actions == [] and plan.next_wakeup(HB, state) == 5.0


@pytest.mark.parametrize("capture, stall_timeout, heartbeat, wanted", [
    (None, None, None, None),     # the default: what is not a terminal
    (None, 60.0, None, True),     # a watchdog must see the output: a terminal too
    (None, 60.0, "/hb", True),    # ... and output counts besides the heartbeat
    (True, None, None, True),
    (False, None, None, False),
    (False, 60.0, "/hb", False),  # the heartbeat alone is progress (without one: refused, config.py)
    (True, 60.0, None, True),
])
def test_what_is_captured(capture, stall_timeout, heartbeat, wanted):
    cfg = config(10.0, capture=capture, stall_timeout=stall_timeout, heartbeat=heartbeat)
    assert plan.capture_wanted(cfg) is wanted


def test_without_a_heartbeat_nothing_is_looked_at():
    cfg = config(10.0, stall_timeout=5.0)
    state = plan.started(cfg, 100, 0.0)
    assert plan.next_wakeup(cfg, state) == 5.0 and plan.advance(cfg, state, Facts(True), 1.0)[1] == []


def test_a_stall_takes_the_stacks_before_the_stop_signal():
    w = World(main=dict(on_term=0.1), dumps=[0.7, 1.2])
    run(config(30.0, stall_timeout=5.0), w)
    dumpers = [p for p in w.procs if p.name == "dumper"]
    assert [t for t, _, _ in w.forwards(TERM)] == [pytest.approx(6.2)]      # after the slower dumper
    assert all(p.reaped for p in dumpers)
    assert w.hooks_started == [] or w.hooks_started[0][2]["SM_INIT_REASON"] == "stall"


def test_stacks_that_take_too_long_do_not_hold_the_stop():
    w = World(main=dict(on_term=0.1), dumps=[INF])
    code, supervisor = run(config(10.0, stall_timeout=5.0), w)
    # at most min(DUMP_TIME, half the grace) after the stall; the dumper killed just before
    assert [t for t, _, _ in w.forwards(TERM)] == [pytest.approx(5.0 + (6.0 / 2))]
    dumper = next(p for p in w.procs if p.name == "dumper")
    assert dumper.heard(KILL) == [pytest.approx(8.0)] and dumper.heard(TERM) == []
    # the job is done when the main child is: 0.1 s after the stop, not at the end of the grace
    assert w.exited == (pytest.approx(8.1), exitcodes.STALLED) and supervisor.state.killed_count == 0


def test_a_dumper_stuck_after_its_sigkill_is_no_leftover():
    """A py-spy in uninterruptible sleep outlives its SIGKILL: the stop never waits on it, never
    warns it, never counts it."""
    w = World(main=dict(on_term=0.1), dumps=[(INF, INF)])
    code, supervisor = run(config(10.0, stall_timeout=5.0), w)
    assert w.exited == (pytest.approx(8.1), exitcodes.STALLED)
    assert w.sweeps == [] and "process(es) that had not heard the stop" not in w.texts()


# ---------------------------------------------------------------------------------------------
# Small pure pieces

def test_phase_durations_for_the_summary_line():
    w = World(signals=[(5.0, TERM)], hooks=[1.0])
    _, supervisor = run(S10, w)
    spent = plan.phase_durations(supervisor.state, w.now)
    assert spent[Phase.GRACE] == pytest.approx(6.0) and spent[Phase.HOOKS] == pytest.approx(1.0)
    assert spent[Phase.KILL] == pytest.approx(0.0)
    assert w.lines[-1][2].startswith("exit: 137 (SIGTERM; main child killed by SIGKILL); grace 6.000s, hooks 1.000s")


@pytest.mark.parametrize("status, text", [
    (exited(3), "exit code 3"), (KILL, "killed by SIGKILL"), (None, "not reaped"),
])
def test_describe_status(status, text):
    assert plan.describe_status(status) == text


def test_a_command_that_cannot_start_exits_127_without_a_loop():
    w = World(spawn_error=2)
    code, supervisor = run(config(10.0), w)
    assert code == exitcodes.NOT_FOUND and w.wakeups == 0 and w.start_failures


def test_with_no_stop_the_last_output_waits_for_the_reader_as_long_as_it_reads():
    flush = plan.exit_flush(config(10.0), State())
    assert flush.until is None and flush.patience == plan.READER_PATIENCE
    assert flush.stop_window == 10.0 - plan.exit_margin(10.0)   # a stop signal meanwhile: the stop's budget


def test_during_a_stop_the_last_output_ends_at_exit_at_and_the_exit_line_inside_the_margin():
    cfg = config(2.0)
    state = State(stop_signal=TERM, deadlines=plan.stop_deadlines(cfg, 100.0))
    flush = plan.exit_flush(cfg, state)
    assert flush.until == state.deadlines.exit_at
    assert math.isclose(flush.until + flush.last_line, 100.0 + 2.0 - 0.05)   # before Docker's SIGKILL at +2


def test_hooks_found_at_the_kill_deadline_say_no_time_is_left_not_a_negative_one():
    # --hook-timeout 0 puts the hooks' start at the kill deadline; the clock may have passed it.
    cfg = config(10.0, hook_timeout=0.0)
    state = plan.started(cfg, 100, 0.0)._replace(deadlines=plan.stop_deadlines(cfg, 0.0))
    _, actions = plan.on_hooks_found(cfg, state, [], state.deadlines.kill_at + 0.01)
    assert actions[0].text == "hooks: 0 hook(s), 0.0s until the kill"
