"""Every decision of the supervisor, as pure functions: (config, state, event, now) -> (state, actions).

Nothing here touches a process, reads a clock or writes a line: ``run.py`` waits, reports what
it saw as events and facts, and performs the actions returned, in order. The whole job is one
record, ``State``, that only these functions change.

Phases, each entered once, in order::

    RUNNING -> GRACE -> HOOKS -> KILL -> DONE

A stop (SIGTERM, SIGINT, ``--max-runtime``, the stall watchdog) forwards the stop signal once and
fixes three deadlines on the monotonic clock, counted back from Docker's SIGKILL at ``stop + S``::

    |-- grace --|-- hooks (H) --|-- kill window --|-- exit margin --|
    stop     hooks_at        kill_at           exit_at        stop + S

Grace ends early when every process is gone, hooks end early when the last hook is done, the kill
window ends early when everything is reaped: nothing waits longer than it must.

Who hears the stop, and when. Every process gets one warning before the final SIGKILL, and none
gets a second: a graceful shutdown the main child started is its own, and a second signal turns
nginx's drain into a fast stop or makes a launcher bail out. So:

* at the stop: the scope's target (``auto``: the main child alone when it catches the signal, as a
  program that handles its own shutdown does; otherwise its process group), then SIGCONT where
  plain signals go, so a stopped process can act on it;
* the main child then dies of a signal (it never handled the stop): whoever has not heard it gets
  SIGTERM at once;
* the main child exits on its own (it handled the stop): its leftovers finish what it started,
  for the rest of the grace; whoever is still there at the end of the grace, and has not heard the
  stop, gets SIGTERM then, and the hook time (at least) before the SIGKILL;
* no stop: the main child just exited, and the leftovers get SIGTERM at once, then
  ``--leftover-grace`` before the same phases follow.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from . import exitcodes, signals
from .records import record
from .signals import signal

ACTIVE_STOP = "stop"          # sm-init was asked to stop while the main child ran
MAX_RUNTIME = "max-runtime"   # sm-init stopped the job itself: --max-runtime
STALL = "stall"               # sm-init stopped the job itself: the stall watchdog
PEER = "peer"                 # another host failed: the peers' verdict stops this one (peers.py)
PEER_STOP = "peer-stop"       # a stop signal reached another host: the whole job stops, no verdict
PEER_WAIT = 2.0               # at most this long for the verdict, after telling the peers of a failure
                              # (and after the coordinator's hold of a consequence: a heartbeat)
DUMP_TIME = 10.0              # at most this long for the stacks of a stalled tree, before the stop signal
READER_PATIENCE = 10.0        # at exit with no stop pressing, a log reader that takes nothing this long is given up


class Phase(int):
    """A phase of the job, in order: an int that knows its name (enum's import costs start-up)."""
    NAMES = ("RUNNING", "GRACE", "HOOKS", "KILL", "DONE")
    __slots__ = ()

    @property
    def name(self) -> str:
        return self.NAMES[self]

    @property
    def value(self) -> int:
        return int(self)

    def __repr__(self) -> str:
        return f"Phase.{self.name}"


Phase.RUNNING, Phase.GRACE, Phase.HOOKS, Phase.KILL, Phase.DONE = map(Phase, range(len(Phase.NAMES)))


# --- the budget ------------------------------------------------------------------------------

def kill_window(stop_timeout: float) -> float:
    """Time kept between the SIGKILL sweep and sm-init's exit, for the kernel to finish the kills."""
    return min(1.0, stop_timeout / 10)


def exit_margin(stop_timeout: float) -> float:
    """How long before Docker's SIGKILL sm-init is gone, whatever is left."""
    return min(0.5, stop_timeout / 20)


def longest_hook_time(stop_timeout: float) -> float:
    return stop_timeout - kill_window(stop_timeout) - exit_margin(stop_timeout)


def default_hook_time(stop_timeout: float) -> float:
    return min(30.0, stop_timeout / 4)


@record
class Deadlines:
    hooks_at: float
    kill_at: float
    exit_at: float

    def earliest(self, other: "Deadlines") -> "Deadlines":
        return Deadlines(min(self.hooks_at, other.hooks_at), min(self.kill_at, other.kill_at),
                         min(self.exit_at, other.exit_at))


def stop_deadlines(config, now: float) -> Deadlines:
    exit_at = now + config.stop_timeout - exit_margin(config.stop_timeout)
    kill_at = exit_at - kill_window(config.stop_timeout)
    return Deadlines(max(now, kill_at - config.hook_timeout), kill_at, exit_at)


def leftover_deadlines(config, now: float) -> Deadlines:
    hooks_at = now + config.leftover_grace
    kill_at = hooks_at + config.hook_timeout
    return Deadlines(hooks_at, kill_at, kill_at + kill_window(config.stop_timeout))


# --- the record --------------------------------------------------------------------------------

@record
class Hooks:
    """The pre-kill hooks: found, run one at a time, the running one killed at the deadline."""
    pending: tuple[tuple[str, ...], ...] = ()
    running: tuple[int, tuple[str, ...]] | None = None   # (pid, argv)
    failed: int = 0
    found: bool = False


@record
class State:
    phase: Phase = Phase.RUNNING
    entered: tuple[tuple[Phase, float], ...] = ()
    main_pid: int = 0
    main_status: int | None = None      # raw wait status once the main child is reaped
    runtime_ends: float | None = None   # --max-runtime, on the monotonic clock
    deadlines: Deadlines | None = None
    stop_signal: int | None = None      # the first stop signal (or SIGTERM for our own stops)
    stop_cause: str | None = None       # ACTIVE_STOP / MAX_RUNTIME / STALL when the stop came first
    stop_reach: str | None = None       # "group" / "child": where the stop signal went
    stop_sent: bool = True                 # False while a stalled tree's stacks are taken
    dumps_until: float = 0.0               # the stop signal waits for the stacks until then at most
    warned: bool = False                   # the leftovers got their SIGTERM
    warned_late: bool = False              # ... at the end of the grace: the hook time is theirs
    killed: bool = False                   # the SIGKILL sweep has been sent
    killed_main: bool = False              # ... while the main child was still there
    killed_count: int = 0
    hooks: Hooks = Hooks()
    progress_at: float = 0.0               # the tree's last output or heartbeat
    heartbeat_checked: float = float("-inf")  # when the heartbeat file was last looked at
    heartbeat_seen: object = None          # ... and what it was like then (None: there was none)
    recheck: bool = False                  # the world just changed: look again before sleeping
    verdict: str | None = None             # the peers' verdict ("first observed failure: ..."), once heard
    verdict_until: float | None = None     # this host told its failure: the exit waits this long for the verdict

    @property
    def main_alive(self) -> bool:
        return self.main_status is None


@record
class Facts:
    """What the loop knows when it asks: whether anyone is left, (asked only when needed) whether
    the main child catches a signal, and whether stacks of a stalled tree are still coming."""
    anyone_left: bool
    catches: Callable[[int], bool] = lambda signum: False
    stacks_coming: bool = False


# --- actions: what the loop must do, in order ------------------------------------------------

@record
class Forward:
    signum: int
    group: bool


@record
class Sweep:
    """``signum`` to every process left (PID 1: the namespace; else every descendant), but the main
    child's group (``spare_group``) or the main child itself (``spare_main``); SIGCONT after it.
    ``group_first``: kill the main child's group with one killpg first (its pid, the group's id,
    can't have been reused: it is not reaped yet)."""
    signum: int
    deadline: float
    spare_group: bool = False
    spare_main: bool = False
    then_continue: bool = False
    group_first: bool = False


@record
class FindHooks:
    """List the hooks; the loop answers with ``on_hooks_found``."""


@record
class StartHook:
    """Spawn a hook; the loop answers with ``on_hook_started`` or ``on_hook_failed``."""
    argv: tuple[str, ...]
    reason: str
    exit_code: int | None
    kill_at: float


@record
class KillHook:
    pid: int


@record
class CheckHeartbeat:
    """Look at the heartbeat file; the loop answers with ``on_heartbeat``."""


@record
class DumpStacks:
    """Start taking the stacks of the tree's Python processes, all of it done by ``until``; the loop
    then tells whether they are still coming (``Facts.stacks_coming``)."""
    until: float


@record
class EndDumps:
    """The stacks' window is over: the dumpers still at it are killed before the stop goes out."""


@record
class WriteFailure:
    code: int
    reason: str             # exit | failure | max-runtime | stall | peer | SIGTERM ...
    signalled: bool         # a signal killed the main child (its wait status says so)
    killed_by_init: bool    # ... and it was sm-init's own SIGKILL sweep
    stalled_for: float | None
    verdict: str | None = None   # the peers' verdict: the failure file's first line


@record
class Log:
    text: str
    level: int = 0          # ERROR, WARNING, NORMAL, VERBOSE


@record
class Summary:
    """The exit line, always the last: the loop adds what only it knows (log lines it dropped)."""
    text: str


@record
class Exit:
    code: int


ERROR, WARNING, NORMAL, VERBOSE = -2, -1, 0, 1
Action = object
Result = tuple[State, list[Action]]


# --- forwarding ------------------------------------------------------------------------------

def forward_target(config, signum: int) -> int:
    return config.rewrites.get(signum, signum)


def plain_scope_is_group(config) -> bool:
    """Signals other than the stop go to the group unless the scope is ``child``."""
    return config.signal_scope != "child"


def forward_table(config) -> dict:
    """Every signal that is simply forwarded while the main child lives -> what is sent (0: drop).

    The loop looks signals up here before anything else: forwarding latency is a dict lookup. A
    stop signal rewritten to 0 is dropped like any other: it starts no stop.
    """
    table = {}
    for signum in signals.ALL - {signal.SIGCHLD}:
        target = forward_target(config, signum)
        if signum not in signals.STOP_SIGNALS or target == 0:
            table[signum] = target
    return table


def forward_text(config, signum: int, target: int) -> str:
    sent = signals.name(target) if target else "nothing (dropped by --rewrite)"
    scope = "group" if plain_scope_is_group(config) else "child"
    return f"forward: {signals.name(signum)} -> {sent} to {scope}"


def on_signal(config, state: State, got: signals.Received, facts: Facts, now: float) -> Result:
    """A signal that is not a plain forward (those never get here while the main child lives)."""
    signum = got.signum
    if got.self_caused:
        # The kernel's answer to a write of sm-init's (SIGPIPE, SIGXFSZ): the output counts what it
        # lost; a log line about it would be one more write to the same stream, and one more signal.
        return state, []
    if signum == signal.SIGCHLD:
        return state, []
    target = forward_target(config, signum)
    if signum in signals.STOP_SIGNALS and target != 0:
        return _on_stop(config, state, signum, facts, now, ACTIVE_STOP)
    if not state.main_alive:
        return state, [Log(f"{signals.name(signum)} received after the main child exited; not forwarded",
                           VERBOSE)]
    actions: list[Action] = [Forward(target, plain_scope_is_group(config))] if target else []
    if config.verbosity > 0:
        actions.append(Log(forward_text(config, signum, target), VERBOSE))
    return state, actions


def _stop_reach(config, target: int, facts: Facts) -> str:
    if config.signal_scope in ("group", "child"):
        return config.signal_scope
    return "child" if facts.catches(target) else "group"


def _stop_text(config, signum: int, cause: str) -> str:
    if cause == MAX_RUNTIME:
        return f"--max-runtime {config.max_runtime:g}s reached"
    if cause == STALL:
        return f"no progress for {config.stall_timeout:g}s (--stall-timeout)"
    if cause == PEER:
        return "the peers' verdict"
    return signals.name(signum)


def _on_stop(config, state: State, signum: int, facts: Facts, now: float, cause: str,
             what: str | None = None) -> Result:
    what = what or _stop_text(config, signum, cause)
    if state.stop_signal is not None:
        # A repeated stop neither restarts the clock nor is sent again (mpirun calls that "jammed").
        # On a terminal, a second Ctrl-C means "hurry": grace ends now; hooks still run.
        if config.interactive and signum == signal.SIGINT and state.phase == Phase.GRACE:
            hurried = state.deadlines._replace(hooks_at=now)
            return state._replace(deadlines=hurried), [Log("stop: second SIGINT: grace ends now")]
        return state, [Log(f"stop: {what} again: already stopping, ignored")]
    deadlines = stop_deadlines(config, now)
    if state.phase != Phase.RUNNING:
        # The main child already exited and cleanup runs: only tighten its deadlines.
        tighter = state.deadlines.earliest(deadlines)
        return (state._replace(stop_signal=signum, deadlines=tighter),
                [Log(f"stop: {what} during cleanup: exit within {config.stop_timeout:g}s")])
    state = _enter(state._replace(stop_signal=signum, stop_cause=cause, deadlines=deadlines), Phase.GRACE, now)
    actions: list[Action] = [Log(
        f"stop: {what}; grace until +{deadlines.hooks_at - now:.1f}s, hooks until +{deadlines.kill_at - now:.1f}s,"
        f" exit by +{deadlines.exit_at - now:.1f}s (stop timeout {config.stop_timeout:g}s)")]
    if cause == STALL:
        # The stacks first: the stop signal changes them (handlers run, processes exit).
        until = now + min(DUMP_TIME, (deadlines.hooks_at - now) / 2)
        return state._replace(stop_sent=False, dumps_until=until), actions + [DumpStacks(until)]
    return _send_stop(config, state, facts, actions)


def _send_stop(config, state: State, facts: Facts, actions: list[Action]) -> Result:
    if not state.main_alive:  # reaped while its stacks were taken: its pid may name another process now
        return state._replace(stop_sent=True), actions
    target = forward_target(config, state.stop_signal)
    if target == 0:  # sm-init's own stop, and --rewrite drops SIGTERM: the main child is never sent it
        return (state._replace(stop_reach="child", stop_sent=True),
                actions + [Log(f"stop: {signals.name(state.stop_signal)} is dropped by --rewrite: nothing sent"
                               f" to the main child")])
    reach = _stop_reach(config, target, facts)
    group = reach == "group"
    # SIGCONT wherever plain signals go: a forwarded SIGTSTP stopped the whole group, and a trainer
    # waiting for a stopped child would never act on its SIGTERM. It resumes, it never ends anything.
    actions = actions + [Forward(target, group), Forward(signal.SIGCONT, plain_scope_is_group(config))]
    if config.verbosity > 0:  # no log text built that nobody reads
        whom = "the main child's process group" if group else "the main child"
        why = " (it handles that signal itself)" if config.signal_scope == "auto" and not group else ""
        actions.append(Log(f"stop: {signals.name(target)} to {whom}{why}, SIGCONT after it", VERBOSE))
    return state._replace(stop_reach=reach, stop_sent=True), actions


# --- other events ----------------------------------------------------------------------------

def started(config, main_pid: int, now: float) -> State:
    """The job as it starts; with a heartbeat, the loop looks at once at what the file is like
    (``recheck``): a change from then on is progress."""
    runtime_ends = None if config.max_runtime is None else now + config.max_runtime
    return State(main_pid=main_pid, runtime_ends=runtime_ends, entered=((Phase.RUNNING, now),), progress_at=now,
                 recheck=config.heartbeat is not None)


def on_exit(config, state: State, pid: int, status: int, now: float) -> Result:
    """A child was reaped: the main child, a hook, or another (an orphan, a stack dumper: nothing to do)."""
    if pid == state.main_pid and state.main_alive:
        return state._replace(main_status=status), []
    running = state.hooks.running
    if running is not None and running[0] == pid:
        argv = running[1]
        hooks = state.hooks._replace(running=None, failed=state.hooks.failed + (status != 0))
        state = state._replace(hooks=hooks)
        if status != 0:
            note = Log(f"hooks: {_command(argv)} failed ({describe_status(status)})", WARNING)
        else:
            note = Log(f"hooks: {_command(argv)} done", VERBOSE)
        state, actions = _start_next_hook(config, state, now)
        return state, [note] + actions
    return state, []


def on_verdict(config, state: State, text: str, facts: Facts, now: float) -> Result:
    """The peers' verdict (another host failed, or this one lost the coordinator): this host's job
    stops as for any stop, unless it is already ending; the failure file will say it either way."""
    if state.verdict is not None:
        return state, []
    state = state._replace(verdict=text, verdict_until=None)
    if state.phase != Phase.RUNNING or not state.main_alive or state.stop_signal is not None:
        return state._replace(recheck=True), [Log(f"peers: {text}")]
    state, actions = _on_stop(config, state, signal.SIGTERM, facts, now, PEER)
    return state, [Log(f"peers: stopping: {text}")] + actions


def on_peer_stop(config, state: State, host: str, facts: Facts, now: float) -> Result:
    """A stop signal reached ``host``: the whole job is being stopped, so this host stops too (a
    stop, not a failure: no verdict, no failure file)."""
    if state.phase != Phase.RUNNING or not state.main_alive or state.stop_signal is not None:
        return state, []
    return _on_stop(config, state, signal.SIGTERM, facts, now, PEER_STOP,
                    f"the whole job stops (a stop signal reached {host})")


def peer_error(config, state: State) -> str | None:
    """What the peers are told of a job sm-init stopped itself (None: the trainer's own Error: line)."""
    if state.stop_cause == STALL:
        return f"stalled: no progress for {config.stall_timeout:g}s"
    if state.stop_cause == MAX_RUNTIME:
        return f"--max-runtime {config.max_runtime:g}s reached"
    return None


def await_verdict(state: State, until: float) -> State:
    """This host told the coordinator its job failed: its exit may wait for the verdict until then."""
    return state if state.verdict is not None else state._replace(verdict_until=until)


def on_progress(state: State, now: float) -> State:
    """The tree wrote output: it is alive, as far as the stall watchdog can tell."""
    return state._replace(progress_at=now) if state.phase == Phase.RUNNING else state


def on_heartbeat(state: State, seen, now: float) -> State:
    """The heartbeat file looked like ``seen`` (its identity, size and times, as the loop reads
    them; None: there is none). Progress is a change since the last look, in any direction, dated
    when it was seen. The file's times come from its file system's clock, which need not agree
    with sm-init's (an NFS server that lags, a touch dated an hour ahead): they are only ever
    compared with themselves, never with the clock. The first look is what the file was like at
    the start, not progress."""
    if state.heartbeat_checked != float("-inf") and seen != state.heartbeat_seen:
        state = on_progress(state, now)
    return state._replace(heartbeat_seen=seen, heartbeat_checked=now)


def on_hooks_found(config, state: State, hooks, now: float) -> Result:
    state = state._replace(hooks=Hooks(pending=tuple(tuple(h) for h in hooks), found=True))
    actions = [Log(f"hooks: {len(hooks)} hook(s), {max(0.0, state.deadlines.kill_at - now):.1f}s until the kill")]
    state, more = _start_next_hook(config, state, now)
    return state, actions + more


def on_hook_started(state: State, argv, pid: int, now: float) -> Result:
    state = state._replace(hooks=state.hooks._replace(running=(pid, tuple(argv))))
    return state, [Log(f"hooks: running {_command(argv)} (pid {pid},"
                       f" {max(0.0, state.deadlines.kill_at - now):.1f}s left)")]


def on_hook_failed(config, state: State, argv, problem: str, now: float) -> Result:
    state = state._replace(hooks=state.hooks._replace(failed=state.hooks.failed + 1))
    note = Log(f"hooks: {_command(argv)}: {problem}", WARNING)
    state, actions = _start_next_hook(config, state, now)
    return state, [note] + actions


def on_swept(state: State, signum: int, count: int, pid1: bool) -> Result:
    if signum == signal.SIGKILL:
        where = "the whole PID namespace" if pid1 else "every descendant"
        return (state._replace(killed_count=state.killed_count + count),
                [Log(f"kill: SIGKILL to {count} process(es) left ({where})")])
    if count == 0:
        return state._replace(warned_late=False), []  # nobody to wait for
    return state, [Log(f"kill: {signals.name(signum)} to {count} process(es) that had not heard the stop")]


def _start_next_hook(config, state: State, now: float) -> Result:
    hooks = state.hooks
    if hooks.running is not None or not hooks.pending or now >= state.deadlines.kill_at:
        return state, []
    argv, rest = hooks.pending[0], hooks.pending[1:]
    state = state._replace(hooks=hooks._replace(pending=rest), recheck=True)
    code = None if state.main_alive else exit_code(state)
    return state, [StartHook(argv, reason(state), code, state.deadlines.kill_at)]


def _leave_hooks(state: State) -> Result:
    """The kill deadline came, or the hooks are done: the running one dies, the rest never start."""
    hooks, actions = state.hooks, []
    if hooks.running is not None:
        pid, argv = hooks.running
        actions += [Log(f"hooks: {_command(argv)} still running at the kill deadline: killed", WARNING),
                    KillHook(pid)]
        hooks = hooks._replace(running=None, failed=hooks.failed + 1)
    if hooks.pending:
        actions.append(Log(f"hooks: {len(hooks.pending)} hook(s) not run: no time left", WARNING))
        hooks = hooks._replace(pending=())
    return state._replace(hooks=hooks), actions


# --- time passes -------------------------------------------------------------------------------

def advance(config, state: State, facts: Facts, now: float) -> Result:
    """Move through as many steps as the facts and the clock allow.

    After an action that changes the world (a sweep, a hook, a dump) it stops and asks the loop to
    look again at once, so the next step is decided on what is true after it.
    """
    actions: list[Action] = []
    state = state._replace(recheck=False)
    while True:
        before = state
        state, step = _step(config, state, facts, now)
        actions += step
        if state == before and not step:
            return state, actions
        if any(isinstance(a, (Sweep, StartHook, KillHook, DumpStacks, FindHooks, CheckHeartbeat, Exit))
               for a in step):
            return state._replace(recheck=not any(isinstance(a, Exit) for a in step)), actions


def _step(config, state: State, facts: Facts, now: float) -> Result:
    phase, d = state.phase, state.deadlines
    if phase == Phase.RUNNING:
        return _running(config, state, facts, now)
    if phase == Phase.GRACE:
        if not state.stop_sent:
            if state.main_alive and facts.stacks_coming and now < state.dumps_until:
                return state, []
            return _send_stop(config, state, facts, [EndDumps()])
        if not state.warned and facts.anyone_left and _warn_now(state, now):
            late = state.stop_cause is not None and now >= d.hooks_at
            return state._replace(warned=True, warned_late=late), [_warning_sweep(state)]
        if facts.anyone_left and now < d.hooks_at:
            return state, []
        if not hooks_wanted(config, state):
            return _enter(state, Phase.KILL, now), []
        return _enter(state, Phase.HOOKS, now), [FindHooks()]
    if phase == Phase.HOOKS:
        busy = state.hooks.running is not None or state.hooks.pending or not state.hooks.found
        if (busy or (state.warned_late and facts.anyone_left)) and now < d.kill_at:
            return state, []
        state, actions = _leave_hooks(state)
        return _enter(state, Phase.KILL, now), actions
    if phase == Phase.KILL:
        if facts.anyone_left and not state.killed:
            return (state._replace(killed=True, killed_main=state.main_alive),
                    [Sweep(signal.SIGKILL, d.exit_at, group_first=state.main_alive)])
        if facts.anyone_left and now < d.exit_at:
            return state, []
        if _awaiting_verdict(state, now):
            return state, []
        state = _enter(state, Phase.DONE, now)
        code = exit_code(state)
        return state, _failure(config, state, code) + [Summary(summary(state, code, now)), Exit(code)]
    return state, []


def _running(config, state: State, facts: Facts, now: float) -> Result:
    if state.main_alive:
        if state.runtime_ends is not None and now >= state.runtime_ends:
            return _on_stop(config, state, signal.SIGTERM, facts, now, MAX_RUNTIME)
        if config.heartbeat is not None and state.heartbeat_checked == float("-inf"):
            return state, [CheckHeartbeat()]      # the first look, at the start: the loop answers with on_heartbeat
        stalls_at = None if config.stall_timeout is None else state.progress_at + config.stall_timeout
        if stalls_at is not None and now >= stalls_at:
            # Looked at only when the time is up (an idle sm-init does not wake up to poll): a job
            # whose heartbeat stops is stalled S to 2S after its last touch, never sooner than S.
            if config.heartbeat is not None and state.heartbeat_checked < stalls_at:
                return state, [CheckHeartbeat()]
            return _on_stop(config, state, signal.SIGTERM, facts, now, STALL)
        return state, []
    state = state._replace(deadlines=leftover_deadlines(config, now))
    return _enter(state, Phase.GRACE, now), [Log(f"main child exited ({describe_status(state.main_status)})")]


def _warn_now(state: State, now: float) -> bool:
    """Is it time for the leftovers' SIGTERM? (see the module docstring: who hears the stop)"""
    if state.stop_cause is None or state.stop_reach is None:
        return not state.main_alive           # the main child exited before anyone heard of a stop
    if not state.main_alive and os.WIFSIGNALED(state.main_status):
        return True                           # it died of a signal: it never handled the stop
    return now >= state.deadlines.hooks_at    # it handles the stop: theirs until the grace ends


def _warning_sweep(state: State) -> Sweep:
    reached = state.stop_cause is not None
    return Sweep(signal.SIGTERM, state.deadlines.kill_at, then_continue=True,
                 spare_group=reached and state.stop_reach == "group",
                 spare_main=reached and state.main_alive)


def next_wakeup(config, state: State) -> float | None:
    """The monotonic time at which ``advance`` must run even if no signal arrives."""
    if state.recheck:
        return float("-inf")
    if state.phase == Phase.RUNNING:
        times = [state.runtime_ends]
        if config.stall_timeout is not None and state.main_alive:
            times.append(state.progress_at + config.stall_timeout)
        times = [t for t in times if t is not None]
        return min(times) if times else None
    d = state.deadlines
    if state.phase == Phase.GRACE:
        return state.dumps_until if not state.stop_sent else d.hooks_at
    if state.phase == Phase.KILL and _awaiting_verdict(state, float("-inf")):
        # Without a stop, exit_at may be past while the verdict is awaited: wake for the verdict's end.
        return min(d.exit_at, state.verdict_until) if state.stop_signal is not None else state.verdict_until
    return {Phase.HOOKS: d.kill_at, Phase.KILL: d.exit_at}.get(state.phase)


def _awaiting_verdict(state: State, now: float) -> bool:
    """The verdict may still come, and there is time for it: never past a stop's exit deadline."""
    if state.verdict is not None or state.verdict_until is None or now >= state.verdict_until:
        return False
    return state.stop_signal is None or now < state.deadlines.exit_at


# --- how it ended --------------------------------------------------------------------------------

def _enter(state: State, phase: Phase, now: float) -> State:
    return state._replace(phase=phase, entered=state.entered + ((phase, now),))


def hooks_wanted(config, state: State) -> bool:
    if state.stop_cause is not None:
        return True
    return config.hooks_on == "always" or (config.hooks_on == "failure" and exit_code(state) != 0)


def exit_code(state: State) -> int:
    """The main child's code, 128+N for signal N; 137 when it could not even be reaped; 124 for a
    stall, whatever the main child did after it (a hung job must not count as Completed)."""
    if state.stop_cause == STALL:
        return exitcodes.STALLED
    if state.stop_cause == PEER:
        return exitcodes.PEER_FAILED
    if state.main_status is None:
        return 128 + signal.SIGKILL
    code = os.waitstatus_to_exitcode(state.main_status)
    return code if code >= 0 else 128 - code


def reason(state: State) -> str:
    """What the hooks are told in SM_INIT_REASON."""
    if state.stop_cause in (MAX_RUNTIME, STALL, PEER, PEER_STOP):
        return state.stop_cause
    if state.stop_cause is not None:
        return signals.name(state.stop_signal)
    return "exit" if exit_code(state) == 0 else "failure"


def _failure(config, state: State, code: int) -> list[Action]:
    """Train mode writes the failure file when the job failed on its own (or sm-init stopped it)."""
    if config.mode != "train" or code == 0 or state.stop_cause in (ACTIVE_STOP, PEER_STOP):
        return []
    signalled = state.main_status is not None and os.WIFSIGNALED(state.main_status)
    stalled = config.stall_timeout if state.stop_cause == STALL else None
    return [WriteFailure(code, reason(state), signalled, state.killed_main, stalled, state.verdict)]


def capture_wanted(config) -> bool | None:
    """Whether the tree's output goes through sm-init: as --capture/--no-capture say; unset, when
    it is not a terminal (None), but always with a stall timeout: the watchdog must see the
    output to tell a printing job from a hung one (config.py refuses --no-capture without a
    --heartbeat there)."""
    if config.capture is None and config.stall_timeout is not None:
        return True
    return config.capture


@record
class Flush:
    """How the last of the output goes out at exit (``output.finish``)."""
    until: float | None   # the tree's output dropped (counted) if not written by then; None: no limit
    last_line: float      # seconds after ``until`` for the exit line
    patience: float       # a reader that takes nothing this long is given up on
    stop_window: float    # a stop signal during the flush: ``until`` becomes this long from then


def exit_flush(config, state: State) -> Flush:
    """During a stop, Docker's SIGKILL is coming: the tree's output may be written until exit_at,
    the exit line in half the exit margin after it. With none, nothing presses: the output goes out
    as long as the reader reads, however slowly; one that reads nothing for READER_PATIENCE seconds
    is given up, and a stop signal meanwhile brings back the stop's budget."""
    margin = exit_margin(config.stop_timeout)
    pressed = state.stop_signal is not None and state.deadlines is not None
    return Flush(state.deadlines.exit_at if pressed else None, margin / 2, READER_PATIENCE,
                 config.stop_timeout - margin)


def describe_status(status: int | None) -> str:
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


def summary(state: State, code: int, now: float) -> str:
    spent = phase_durations(state, now)
    return (f"exit: {code} ({reason(state)}; main child {describe_status(state.main_status)});"
            f" grace {spent[Phase.GRACE]:.3f}s, hooks {spent[Phase.HOOKS]:.3f}s ({state.hooks.failed} failed),"
            f" kill {spent[Phase.KILL]:.3f}s, {state.killed_count} process(es) killed")


def _command(argv) -> str:
    from .log import command  # quoting is the log's business; imported late, plan stays pure
    return command(argv)
