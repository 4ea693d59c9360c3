"""The stop plan's pure decisions, driven from tables with a fake clock.

``stopplan`` never reads a clock or touches a process: every test here feeds it events at chosen
times and checks the phases, actions and deadlines it returns. ``Sim`` plays the loop of
``run.py`` against a tiny model of the process tree (when the main child dies, how long a hook
takes, whether SIGKILL can reap), jumping the fake clock to the next wakeup or world event.
"""

import math
import os
import signal

import pytest
from hypothesis import given, settings, strategies as st

from sm_init import stopplan
from sm_init.config import Config, RawOptions, build
from sm_init.stopplan import Exit, Facts, Forward, Log, Phase, RunHooks, State, Sweep

TERM, INT, KILL, HUP, QUIT = (signal.SIGTERM, signal.SIGINT, signal.SIGKILL, signal.SIGHUP,
                              signal.SIGQUIT)


def exited(code):
    """A raw wait status for a normal exit with ``code``."""
    return code << 8


def killed_by(signum):
    return int(signum)


def config(stop_timeout=10.0, hook_timeout=None, **kw):
    hook = min(30.0, stop_timeout / 4) if hook_timeout is None else hook_timeout
    return Config(argv=("trainer",), stop_timeout=stop_timeout, hook_timeout=hook, **kw)


def running(at=0.0, runtime_ends=None):
    return State(runtime_ends=runtime_ends, entered=((Phase.RUNNING, at),))


def of(actions, kind):
    return [a for a in actions if isinstance(a, kind)]


def texts(actions):
    return " | ".join(a.text for a in of(actions, Log))


# ---------------------------------------------------------------------------------------------
# Budget: defaults and deadlines

def built(words=("true",), tmp=None, **options):
    raw = RawOptions(**{k: (None if v is None else str(v)) for k, v in options.items()})
    return build(raw, list(words), {"PATH": os.environ.get("PATH", os.defpath)}, False)


@pytest.mark.parametrize("words, options, stop_timeout, hook_timeout", [
    (["true"], {}, 10.0, 2.5),                               # docker's default for any command
    (["train"], {"train": "true"}, 120.0, 30.0),             # StopTrainingJob: SIGKILL after 120 s
    (["serve"], {"serve": "true"}, 30.0, 7.5),               # endpoint updates: 30 s
    (["true"], {"stop_timeout": "3"}, 3.0, 0.75),
    (["true"], {"stop_timeout": "200"}, 200.0, 30.0),        # hooks capped at 30 s
])
def test_default_budgets(tmp_path, words, options, stop_timeout, hook_timeout):
    if words == ["train"]:
        options["ml_root"] = str(tmp_path)
    cfg = built(words, **options)
    assert (cfg.stop_timeout, cfg.hook_timeout) == (stop_timeout, hook_timeout)


# S, H (default min(30, S/4)) -> hooks_at, kill_at, exit_at, counted from the stop at t=1000
DEADLINES = [
    (120.0, 88.5, 118.5, 119.5),
    (30.0, 21.0, 28.5, 29.5),
    (10.0, 6.0, 8.5, 9.5),
    (3.0, 1.8, 2.55, 2.85),
]


@pytest.mark.parametrize("stop_timeout, hooks_at, kill_at, exit_at", DEADLINES)
def test_stop_deadlines(stop_timeout, hooks_at, kill_at, exit_at):
    cfg = config(stop_timeout)
    state, actions = stopplan.on_signal(cfg, running(), TERM, 1000.0)
    d = state.deadlines
    assert (d.hooks_at - 1000, d.kill_at - 1000, d.exit_at - 1000) == pytest.approx((hooks_at, kill_at, exit_at))
    assert d.kill_at - d.hooks_at == pytest.approx(cfg.hook_timeout)   # hooks get all of H
    assert d.exit_at < 1000 + stop_timeout                             # gone before docker's SIGKILL
    assert state.phase == Phase.GRACE and state.stop_cause == stopplan.ACTIVE_STOP
    assert of(actions, Forward) == [Forward(TERM)]
    assert f"exit by +{exit_at:.1f}s" in texts(actions)                  # the deadline is logged


@pytest.mark.parametrize("stop_timeout", [0.2, 1.0, 3.0, 10.0, 30.0, 120.0, 3600.0])
def test_longest_hook_timeout_still_leaves_time_to_kill(stop_timeout):
    cfg = config(stop_timeout, hook_timeout=stopplan.longest_hook_time(stop_timeout))
    d = stopplan.stop_deadlines(cfg, 0.0)
    assert d.hooks_at == pytest.approx(0.0)       # no grace left, but...
    assert d.kill_at < d.exit_at < stop_timeout    # ...time to kill and exit remains


@settings(max_examples=300, deadline=None)
@given(stop_timeout=st.floats(0.01, 8.64e6), fraction=st.floats(0.0, 1.0), now=st.floats(0, 1e6))
def test_deadlines_are_ordered_and_inside_the_budget(stop_timeout, fraction, now):
    cfg = config(stop_timeout, hook_timeout=fraction * stopplan.longest_hook_time(stop_timeout))
    d = stopplan.stop_deadlines(cfg, now)
    assert now <= d.hooks_at <= d.kill_at < d.exit_at < now + stop_timeout
    assert d.kill_at - d.hooks_at == pytest.approx(cfg.hook_timeout, rel=1e-6, abs=1e-6)


# ---------------------------------------------------------------------------------------------
# A fake loop over a model of the tree

class Sim:
    """Plays run.py's loop with a fake clock.

    main_exit_at: when the main child exits on its own (None: it doesn't).
    term_exit_after: how long after a forwarded stop signal the main child exits with term_code
                     (None: it ignores the signal).
    leftovers: other processes besides the main child; leftovers_obey_term: they die on SIGTERM.
    hook_takes: how long the hooks take (None: they hang).
    unreapable: SIGKILL does not make processes go away (D state).
    """

    def __init__(self, cfg, *, main_exit_at=None, main_code=0, term_exit_after=None, term_code=143,
                 leftovers=False, leftovers_obey_term=True, hook_takes=0.1, unreapable=False,
                 signals=(), runtime_ends=None):
        self.cfg = cfg
        self.now = 0.0
        self.state = running(0.0, runtime_ends)
        self.main_exit_at, self.main_status = main_exit_at, exited(main_code)
        self.term_exit_after, self.term_code = term_exit_after, term_code
        self.leftovers, self.leftovers_obey_term = leftovers, leftovers_obey_term
        self.hook_takes, self.unreapable = hook_takes, unreapable
        self.signals = sorted(signals)
        self.main_alive = True
        self.hook_done_at = None
        self.hooks_started = None
        self.hooks_cancelled = False
        self.actions = []        # (time, action)
        self.exit = None         # (time, code)

    def facts(self):
        hooks_running = self.hooks_started is not None and not self.hooks_done() and not self.hooks_cancelled
        anyone = self.main_alive or self.leftovers or hooks_running
        return Facts(self.main_alive, anyone, self.hooks_done())

    def hooks_done(self):
        return self.hook_done_at is not None and self.now >= self.hook_done_at

    def perform(self, actions):
        for action in actions:
            self.actions.append((self.now, action))
            if isinstance(action, Forward):
                if action.signum in (TERM, INT) and self.term_exit_after is not None and self.main_alive:
                    self.main_exit_at = self.now + self.term_exit_after
                    self.main_status = exited(self.term_code)
            elif isinstance(action, Sweep):
                if action.signum == KILL and not self.unreapable:
                    self.die(killed_by(KILL))
                elif action.signum == TERM and self.leftovers_obey_term:
                    self.leftovers = False
            elif isinstance(action, RunHooks):
                self.hooks_started = self.now
                takes = self.hook_takes
                self.hook_done_at = math.inf if takes is None else self.now + takes
            elif isinstance(action, Exit):
                self.exit = (self.now, action.code)

    def die(self, status):
        if self.main_alive:
            self.main_alive = False
            self.state = stopplan.on_main_exit(self.state, status)
        self.leftovers = False
        if not self.hooks_done():
            self.hooks_cancelled = True

    def next_time(self):
        times = [t for t, _ in self.signals]
        wake = stopplan.next_wakeup(self.state)
        if wake is not None:
            times.append(wake)
        if self.main_alive and self.main_exit_at is not None:
            times.append(self.main_exit_at)
        if self.hook_done_at is not None and self.hook_done_at > self.now:
            times.append(self.hook_done_at)
        return max(min(times), self.now) if times else None

    def run(self, limit=1e7):
        self.advance()
        while self.exit is None:
            at = self.next_time()
            assert at is not None and at < limit, f"nothing to wake the loop: {self.state}"
            self.now = at
            while self.signals and self.signals[0][0] <= self.now:
                _, signum = self.signals.pop(0)
                self.state, actions = stopplan.on_signal(self.cfg, self.state, signum, self.now)
                self.perform(actions)
            if self.main_alive and self.main_exit_at is not None and self.now >= self.main_exit_at:
                self.main_alive = False
                self.state = stopplan.on_main_exit(self.state, self.main_status)
            self.advance()
        return self

    def advance(self):
        for _ in range(10):  # as the loop does after a sweep or a hook start: look again at once
            phase = self.state.phase
            self.state, actions = stopplan.advance(self.cfg, self.state, self.facts(), self.now)
            if phase == Phase.HOOKS and self.state.phase != Phase.HOOKS and not self.hooks_done():
                self.hooks_cancelled = True
            self.perform(actions)
            if not any(isinstance(a, (Sweep, RunHooks)) for a in actions):
                return

    # what happened
    def phases(self):
        return [(phase.name, round(at, 3)) for phase, at in self.state.entered]

    def sent(self, kind):
        return [(round(t, 3), a.signum) for t, a in self.actions if isinstance(a, kind)]

    def hooks_at(self):
        return [round(t, 3) for t, a in self.actions if isinstance(a, RunHooks)]


# ---------------------------------------------------------------------------------------------
# The stop sequence

# (scenario, expected phase timeline, exit (time, code))
S10 = config(10.0)  # hooks 6.0, kill 8.5, exit 9.5 after the stop


@pytest.mark.parametrize("name, sim, phases, exit_", [
    ("trainer saves and exits 0.2 s after TERM: grace ends then, hooks 0.1 s, exit at once",
     dict(signals=[(5.0, TERM)], term_exit_after=0.2, term_code=0),
     [("RUNNING", 0), ("GRACE", 5.0), ("HOOKS", 5.2), ("KILL", 5.3), ("DONE", 5.3)], (5.3, 0)),
    ("trainer exits 143 on TERM: its code is sm-init's",
     dict(signals=[(5.0, TERM)], term_exit_after=0.5, term_code=143),
     [("RUNNING", 0), ("GRACE", 5.0), ("HOOKS", 5.5), ("KILL", 5.6), ("DONE", 5.6)], (5.6, 143)),
    ("trainer ignores TERM: full grace, hooks, SIGKILL at the kill deadline, 137",
     dict(signals=[(5.0, TERM)]),
     [("RUNNING", 0), ("GRACE", 5.0), ("HOOKS", 11.0), ("KILL", 11.1), ("DONE", 11.1)], (11.1, 137)),
    ("trainer ignores TERM and the hook hangs: killed at kill_at",
     dict(signals=[(5.0, TERM)], hook_takes=None),
     [("RUNNING", 0), ("GRACE", 5.0), ("HOOKS", 11.0), ("KILL", 13.5), ("DONE", 13.5)], (13.5, 137)),
    ("nothing can be reaped: sm-init still exits at exit_at, before S",
     dict(signals=[(5.0, TERM)], hook_takes=None, unreapable=True),
     [("RUNNING", 0), ("GRACE", 5.0), ("HOOKS", 11.0), ("KILL", 13.5), ("DONE", 14.5)], (14.5, 137)),
    ("trainer exits but a leftover ignores everything until SIGKILL",
     dict(signals=[(5.0, TERM)], term_exit_after=0.1, term_code=1, leftovers=True,
          leftovers_obey_term=False),
     [("RUNNING", 0), ("GRACE", 5.0), ("HOOKS", 11.0), ("KILL", 11.1), ("DONE", 11.1)], (11.1, 1)),
    ("SIGINT is a stop like SIGTERM",
     dict(signals=[(1.0, INT)], term_exit_after=0.0, term_code=130),
     [("RUNNING", 0), ("GRACE", 1.0), ("HOOKS", 1.0), ("KILL", 1.1), ("DONE", 1.1)], (1.1, 130)),
])
def test_stop_sequence(name, sim, phases, exit_):
    s = Sim(S10, **sim).run()
    assert s.phases() == [(p, pytest.approx(t)) for p, t in phases], name
    assert s.exit == (pytest.approx(exit_[0]), exit_[1]), name
    assert s.exit[0] < s.sent(Forward)[0][0] + S10.stop_timeout
    assert len(s.hooks_at()) == 1                                       # hooks always run on a stop


@pytest.mark.parametrize("stop_timeout", [3.0, 10.0, 30.0, 120.0])
def test_worst_case_exits_before_the_stop_timeout(stop_timeout):
    """Trainer ignores SIGTERM, hook hangs, nothing can be reaped, stop signal repeated."""
    stop = 50.0
    s = Sim(config(stop_timeout), hook_takes=None, unreapable=True,
            signals=[(stop, TERM), (stop + 1, TERM), (stop + 2, INT), (stop + stop_timeout / 2, TERM)]).run()
    d = s.state.deadlines
    assert s.exit[0] == pytest.approx(d.exit_at)
    assert stop < s.exit[0] < stop + stop_timeout
    assert s.exit[1] == 137                                   # never reaped: "killed"
    assert s.sent(Sweep) == [(pytest.approx(d.kill_at), KILL)]
    assert s.hooks_at() == [pytest.approx(d.hooks_at)]


def test_grace_ends_early_when_everything_is_gone():
    s = Sim(config(120.0), signals=[(10.0, TERM)], term_exit_after=0.05, hook_takes=0.0).run()
    assert s.exit[0] == pytest.approx(10.05)                  # not 10 + 88.5 (the grace end)
    assert s.sent(Sweep) == []                                # nothing left to kill


def test_repeated_stop_signal_neither_restarts_the_clock_nor_is_resent():
    cfg = config(10.0)
    state, first = stopplan.on_signal(cfg, running(), TERM, 100.0)
    for signum, at in [(TERM, 101.0), (INT, 102.0), (TERM, 105.0)]:
        again, actions = stopplan.on_signal(cfg, state, signum, at)
        assert again == state                                  # same deadlines, same phase
        assert of(actions, Forward) == []
        assert "already stopping" in texts(actions)
    assert of(first, Forward) == [Forward(TERM)]


def test_other_signals_are_still_forwarded_while_stopping():
    cfg = config(10.0)
    state, _ = stopplan.on_signal(cfg, running(), TERM, 100.0)
    after, actions = stopplan.on_signal(cfg, state, HUP, 101.0)
    assert after == state and of(actions, Forward) == [Forward(HUP)]


def test_second_sigint_on_a_terminal_ends_grace_but_hooks_still_run():
    cfg = config(10.0, interactive=True)
    s = Sim(cfg, signals=[(5.0, INT), (6.0, INT)], hook_takes=0.5).run()
    assert s.sent(Forward) == [(5.0, INT)]                    # the second is not sent again
    assert s.hooks_at() == [6.0]                              # grace ended at the second Ctrl-C
    assert s.state.deadlines.kill_at == pytest.approx(13.5)   # the rest of the clock is unchanged
    assert s.sent(Sweep) == [(6.5, KILL)]
    assert s.exit == (6.5, 137)


@pytest.mark.parametrize("interactive, second, hurried", [
    (False, INT, False),   # not a terminal: a second SIGINT is just a repeat
    (True, TERM, False),   # a second SIGTERM never hurries
    (True, INT, True),
])
def test_who_may_hurry_the_grace(interactive, second, hurried):
    cfg = config(10.0, interactive=interactive)
    state, _ = stopplan.on_signal(cfg, running(), INT if interactive else TERM, 0.0)
    after, actions = stopplan.on_signal(cfg, state, second, 1.0)
    assert (after.deadlines.hooks_at == 1.0) is hurried
    assert after.deadlines.kill_at == state.deadlines.kill_at
    assert after.deadlines.exit_at == state.deadlines.exit_at
    assert of(actions, Forward) == []


def test_second_sigint_during_hooks_changes_nothing():
    cfg = config(10.0, interactive=True)
    state, _ = stopplan.on_signal(cfg, running(), INT, 0.0)
    state, actions = stopplan.advance(cfg, state, Facts(True, True), 6.0)
    assert state.phase == Phase.HOOKS and of(actions, RunHooks)
    after, actions = stopplan.on_signal(cfg, state, INT, 7.0)
    assert after == state and of(actions, Forward) == []


@pytest.mark.parametrize("rewrites, forwarded", [
    ({}, [Forward(TERM)]),
    ({TERM: QUIT}, [Forward(QUIT)]),     # nginx wants QUIT for a graceful stop
    ({TERM: 0}, []),                     # dropped, but the stop plan still runs
])
def test_the_stop_signal_is_rewritten_once(rewrites, forwarded):
    cfg = config(10.0, rewrites=rewrites)
    state, actions = stopplan.on_signal(cfg, running(), TERM, 0.0)
    assert of(actions, Forward) == forwarded
    assert state.phase == Phase.GRACE and state.deadlines.exit_at == pytest.approx(9.5)


# ---------------------------------------------------------------------------------------------
# --max-runtime

def test_max_runtime_stops_the_job():
    cfg = config(10.0, max_runtime=60.0)
    assert stopplan.next_wakeup(running(0.0, runtime_ends=60.0)) == 60.0
    s = Sim(cfg, runtime_ends=60.0, term_exit_after=0.5, term_code=143).run()
    assert s.sent(Forward) == [(60.0, TERM)]
    assert s.state.stop_cause == stopplan.MAX_RUNTIME
    assert s.hooks_at() == [60.5]
    assert s.exit == (pytest.approx(60.6), 143)
    assert "--max-runtime 60s reached" in texts(a for _, a in s.actions)


def test_max_runtime_not_reached_does_nothing():
    cfg = config(10.0, max_runtime=60.0)
    state, actions = stopplan.advance(cfg, running(0.0, runtime_ends=60.0), Facts(True, True), 59.9)
    assert state.phase == Phase.RUNNING and actions == []


def test_signal_after_max_runtime_is_a_repeat():
    cfg = config(10.0, max_runtime=60.0)
    s = Sim(cfg, runtime_ends=60.0, signals=[(61.0, TERM)]).run()
    assert s.sent(Forward) == [(60.0, TERM)]
    assert s.exit[0] < 70.0


# ---------------------------------------------------------------------------------------------
# The main child exits first

def test_main_exits_alone_nothing_left_exits_at_once():
    s = Sim(config(10.0), main_exit_at=3.0, main_code=0).run()
    assert s.exit == (3.0, 0)
    assert s.sent(Sweep) == [] and s.hooks_at() == []


def test_leftovers_get_sigterm_then_sigkill_after_the_leftover_grace():
    cfg = config(10.0, leftover_grace=2.0)
    s = Sim(cfg, main_exit_at=3.0, main_code=0, leftovers=True, leftovers_obey_term=False).run()
    assert s.sent(Sweep) == [(3.0, TERM), (5.0, KILL)]
    assert s.exit == (5.0, 0)                                  # the main child's code
    assert s.hooks_at() == []                                  # exit 0, hooks on failure only


def test_leftovers_that_obey_sigterm_end_the_grace():
    cfg = config(10.0, leftover_grace=2.0)
    s = Sim(cfg, main_exit_at=3.0, main_code=4, leftovers=True, leftovers_obey_term=True).run()
    assert s.sent(Sweep) == [(3.0, TERM)]
    assert s.hooks_at() == [3.0]                               # failure: hooks, at once
    assert s.exit == (pytest.approx(3.1), 4)


@pytest.mark.parametrize("scope, stop, spare", [
    ("group", True, True),    # the stop signal already reached the group: a second one could break a save
    ("child", True, False),   # only the main child got it: its group has not been warned
    ("group", False, False),  # no stop: the main child just exited, nobody was warned
])
def test_leftovers_of_a_stopped_main_child_get_sigterm_once(scope, stop, spare):
    cfg = config(10.0, signal_scope=scope)
    s = Sim(cfg, signals=[(1.0, TERM)] if stop else [], main_exit_at=None if stop else 1.5,
            term_exit_after=0.5, leftovers=True, leftovers_obey_term=False).run()
    terms = [a for _, a in s.actions if isinstance(a, Sweep) and a.signum == TERM]
    assert terms == [Sweep(TERM, spare_group=spare)]
    assert s.sent(Sweep)[0] == (1.5, TERM)                     # as soon as the main child is gone


@pytest.mark.parametrize("status, code", [
    (exited(0), 0), (exited(1), 1), (exited(255), 255),
    (killed_by(KILL), 137), (killed_by(TERM), 143), (killed_by(signal.SIGSEGV), 139), (None, 137),
])
def test_exit_codes(status, code):
    state = State() if status is None else stopplan.on_main_exit(State(), status)
    assert stopplan.exit_code(state) == code


# hooks_on x what happened -> hooks run?
@pytest.mark.parametrize("hooks_on, sim, run", [
    ("stop", dict(signals=[(1.0, TERM)], term_exit_after=0.1, term_code=0), True),
    ("stop", dict(main_exit_at=1.0, main_code=1), False),
    ("stop", dict(main_exit_at=1.0, main_code=0), False),
    ("failure", dict(signals=[(1.0, TERM)], term_exit_after=0.1, term_code=0), True),
    ("failure", dict(main_exit_at=1.0, main_code=1), True),
    ("failure", dict(main_exit_at=1.0, main_code=0), False),
    ("always", dict(signals=[(1.0, TERM)], term_exit_after=0.1, term_code=0), True),
    ("always", dict(main_exit_at=1.0, main_code=1), True),
    ("always", dict(main_exit_at=1.0, main_code=0), True),
    ("failure", dict(runtime_ends=1.0, term_exit_after=0.1, term_code=0), True),
    ("stop", dict(runtime_ends=1.0, term_exit_after=0.1, term_code=0), True),
])
def test_hooks_on(hooks_on, sim, run):
    max_runtime = sim.get("runtime_ends")
    s = Sim(config(10.0, hooks_on=hooks_on, max_runtime=max_runtime), **sim).run()
    assert bool(s.hooks_at()) is run
    assert s.exit is not None


# ---------------------------------------------------------------------------------------------
# A stop during the cleanup after the main child exited

def test_stop_during_cleanup_tightens_deadlines_and_is_not_forwarded():
    cfg = config(10.0, leftover_grace=100.0)
    state = stopplan.on_main_exit(running(), exited(1))
    state, actions = stopplan.advance(cfg, state, Facts(False, True), 5.0)
    assert state.phase == Phase.GRACE and state.deadlines.hooks_at == 105.0
    state, actions = stopplan.on_signal(cfg, state, TERM, 6.0)
    assert of(actions, Forward) == []                         # nobody to forward to
    assert state.deadlines == stopplan.Deadlines(12.0, 14.5, 15.5)
    assert state.stop_cause is None                           # the failure was not caused by the stop
    assert stopplan.next_wakeup(state) == 12.0
    # and a second stop changes nothing more
    again, actions = stopplan.on_signal(cfg, state, TERM, 7.0)
    assert again == state


def test_stop_during_cleanup_never_loosens_deadlines():
    cfg = config(10.0, leftover_grace=0.5, hook_timeout=0.5)
    state = stopplan.on_main_exit(running(), exited(1))
    state, _ = stopplan.advance(cfg, state, Facts(False, True), 5.0)
    before = state.deadlines
    state, _ = stopplan.on_signal(cfg, state, TERM, 5.1)
    assert state.deadlines == before


def test_stop_during_cleanup_exits_within_the_stop_timeout():
    cfg = config(3.0, leftover_grace=1000.0, hook_timeout=0.5)
    s = Sim(cfg, main_exit_at=1.0, main_code=2, leftovers=True, leftovers_obey_term=False,
            hook_takes=None, unreapable=True, signals=[(2.0, TERM)]).run()
    assert 2.0 < s.exit[0] < 2.0 + 3.0
    assert s.exit[1] == 2


# ---------------------------------------------------------------------------------------------
# Properties over random event sequences

@settings(max_examples=300, deadline=None)
@given(stop_timeout=st.sampled_from([1.0, 3.0, 10.0, 30.0, 120.0]),
       stop_at=st.floats(0.0, 100.0),
       repeats=st.lists(st.tuples(st.floats(0.0, 200.0), st.sampled_from([TERM, INT])), max_size=4),
       term_exit_after=st.one_of(st.none(), st.floats(0.0, 200.0)),
       hook_takes=st.one_of(st.none(), st.floats(0.0, 100.0)),
       leftovers=st.booleans(), unreapable=st.booleans(), interactive=st.booleans())
def test_any_stop_ends_before_the_budget(stop_timeout, stop_at, repeats, term_exit_after, hook_takes,
                                         leftovers, unreapable, interactive):
    cfg = config(stop_timeout, interactive=interactive)
    signals_ = [(stop_at, TERM)] + [(stop_at + dt, sig) for dt, sig in repeats]
    s = Sim(cfg, signals=signals_, term_exit_after=term_exit_after, hook_takes=hook_takes,
            leftovers=leftovers, unreapable=unreapable).run()
    assert s.exit[0] < stop_at + stop_timeout
    assert len([a for _, a in s.actions if isinstance(a, Forward)]) == 1
    assert len(s.hooks_at()) == 1
    sweeps = [signum for _, signum in s.sent(Sweep)]
    assert sweeps.count(KILL) <= 1 and sweeps.count(TERM) <= 1
    assert sweeps.count(TERM) == 0 or sweeps.index(TERM) == 0      # SIGTERM to leftovers comes first
    order = [phase for phase, _ in s.state.entered]
    assert order == sorted(order, key=lambda p: p.value) and len(set(order)) == len(order)
    assert order[-1] == Phase.DONE


def test_phase_durations_for_the_summary_line():
    s = Sim(S10, signals=[(5.0, TERM)], hook_takes=1.0).run()
    spent = stopplan.phase_durations(s.state, s.exit[0])
    assert spent[Phase.GRACE] == pytest.approx(6.0)
    assert spent[Phase.HOOKS] == pytest.approx(1.0)
    assert spent[Phase.KILL] == pytest.approx(0.0)


@pytest.mark.parametrize("status, text", [
    (exited(3), "exit code 3"), (killed_by(KILL), "killed by SIGKILL"), (None, "not reaped"),
])
def test_describe_status(status, text):
    assert stopplan.describe_status(status) == text
