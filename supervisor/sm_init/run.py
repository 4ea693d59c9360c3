"""The supervisor: tini's main, in Python.

    block signals -> become subreaper -> spawn the main child -> loop -> exit

One thread. Every signal stays blocked and is taken with sigtimedwait, whose timeout is the next
deadline of the stop plan: nothing else sleeps and nothing polls. Each wakeup forwards the signal
first (latency), then reaps, then lets ``stopplan.advance`` decide; this module only performs
what was decided.
"""

import errno
import os
import signal
import time
from typing import Dict, NoReturn, Optional

from . import exitcodes, hooks, log, reap, sagemaker, signals, spawn, stopplan, sweep
from .config import Config
from .stopplan import Exit, Facts, Forward, Log, Phase, RunHooks, State, Sweep

def run(config: Config) -> NoReturn:
    """Supervise ``config.argv`` until it and everything it started are gone; never returns."""
    log.set_level(config.verbosity)
    signals.block_all()
    supervisor = Supervisor(config, pid1=os.getpid() == 1)
    try:
        code = supervisor.start()
        if code is None:
            code = supervisor.loop()
    except BaseException as exc:  # PID 1 must never die by accident
        code = supervisor.fail(exc)
    exit_now(code)


def exit_now(code: int) -> NoReturn:
    # os._exit: no interpreter teardown (milliseconds in the stop-time budget), no atexit surprises.
    os._exit(code)


class Supervisor:
    def __init__(self, config: Config, pid1: bool):
        self.config = config
        self.pid1 = pid1
        self.main_pid = 0
        self.state = State()
        self.hooks: Optional[hooks.HookRunner] = None
        self.killed = 0
        self.killed_main = False   # the SIGKILL sweep found the main child still running
        self.main_alive = True
        self.anyone_left = True
        self.look_again = False
        self.forwards: Dict[int, int] = {}
        self.memory: Optional[sagemaker.MemoryCgroup] = None
        self.oom_baseline = 0

    def start(self) -> Optional[int]:
        """Become subreaper, note the OOM count, spawn the main child; an exit code if it can't start."""
        config = self.config
        if not self.pid1 and not reap.become_subreaper():
            log.warning("cannot register as child subreaper: orphans of the tree go to the real init")
        if config.mode == "train":
            self.memory = sagemaker.current_memory_cgroup()
            self.oom_baseline = sagemaker.read_oom_kills(self.memory) or 0
        try:
            self.main_pid = spawn.spawn(config.argv, foreground_tty=0 if config.interactive else None)
        except OSError as exc:
            log.error(f"{config.argv[0]}: {exc.strerror}")
            sagemaker.note_start_failure(config, f"{config.argv[0]}: {exc.strerror}")
            return exitcodes.NOT_FOUND if exc.errno == errno.ENOENT else exitcodes.NOT_EXECUTABLE
        now = time.monotonic()
        runtime_ends = None if config.max_runtime is None else now + config.max_runtime
        self.state = State(runtime_ends=runtime_ends, entered=((Phase.RUNNING, now),))
        log.info(f"start: {config.mode} mode, {' '.join(config.argv)} as pid {self.main_pid}"
                 f" ({'PID 1' if self.pid1 else 'subreaper'}; signals to its {self.config.signal_scope},"
                 f" stop timeout {config.stop_timeout:g}s)")
        return None

    def loop(self) -> int:
        """Until the stop plan says Exit: wait, forward, reap, advance."""
        self.forwards = stopplan.forward_table(self.config)
        while True:
            signum = signals.wait_for_signal(self.timeout())
            if signum is not None and not self.forward_at_once(signum) and signum != signal.SIGCHLD:
                now = time.monotonic()
                self.state, actions = stopplan.on_signal(self.config, self.state, signum, now)
                self.perform(actions, now)
            self.reap()
            code = self.advance(time.monotonic())
            if code is not None:
                return code

    def timeout(self) -> Optional[float]:
        """Seconds until the next deadline; None: nothing is due, sleep until a signal."""
        if self.look_again:  # a sweep or a hook start changed the world: look before sleeping
            return 0.0
        wake = stopplan.next_wakeup(self.state)
        return None if wake is None else wake - time.monotonic()

    def forward_at_once(self, signum: int) -> bool:
        """The hot path: a plain forward, as stopplan.on_signal decides it, before anything else."""
        target = self.forwards.get(signum) if self.main_alive else None
        if target is None:
            return False
        if target:
            self.forward(target)
        if self.config.verbosity > 0:
            log.verbose(stopplan.forward_text(self.config, signum, target))
        return True

    def reap(self) -> None:
        exited, self.anyone_left = reap.reap_children()
        for pid, status in exited:
            if pid == self.main_pid:
                self.main_alive = False
                self.state = stopplan.on_main_exit(self.state, status)
            elif self.hooks is not None and self.hooks.owns(pid):
                self.hooks.on_exit(status, time.monotonic())

    def advance(self, now: float) -> Optional[int]:
        """Let the stop plan move on; the exit code once it says Exit."""
        facts = Facts(self.main_alive, self.anyone_left, self.hooks is not None and self.hooks.done)
        phase = self.state.phase
        self.state, actions = stopplan.advance(self.config, self.state, facts, now)
        if phase == Phase.HOOKS and self.state.phase != Phase.HOOKS and self.hooks is not None:
            self.hooks.cancel()
        code = self.perform(actions, now)
        if code is not None:
            return self.finish(code, now)
        self.look_again = any(isinstance(action, (Sweep, RunHooks)) for action in actions)
        return None

    def perform(self, actions, now: float) -> Optional[int]:
        for action in actions:
            if isinstance(action, Forward):
                self.forward(action.signum)
            elif isinstance(action, Log):
                (log.verbose if action.verbose else log.info)(action.text)
            elif isinstance(action, Sweep):
                self.sweep(action.signum, action.spare_group)
            elif isinstance(action, RunHooks):
                self.run_hooks(action.kill_at, now)
            elif isinstance(action, Exit):
                return action.code
        return None

    def forward(self, signum: int) -> None:
        signals.send(self.main_pid, signum, group=self.config.signal_scope == "group")

    def sweep(self, signum: int, spare_group: bool = False) -> None:
        # SIGKILL: done by the exit deadline. SIGTERM to leftovers: done before the SIGKILL is due
        # (not the hooks' start: with --leftover-grace 0 the warning would never go out).
        deadlines = self.state.deadlines
        deadline = deadlines.exit_at if signum == signal.SIGKILL else deadlines.kill_at
        count = sweep.sweep(signum, self.pid1, deadline, self.main_pid if spare_group else None,
                            group_first=self.main_group_if_pinned(signum))
        if signum == signal.SIGKILL:
            self.killed += count
            self.killed_main = self.killed_main or self.state.main_status is None
            log.info(f"kill: SIGKILL to {count} process(es) left"
                     f" ({'the whole PID namespace' if self.pid1 else 'every descendant'})")
        else:
            spared = " outside the main child's group" if spare_group else ""
            log.info(f"kill: {signals.name(signum)} to {count} leftover process(es){spared}")

    def run_hooks(self, kill_at: float, now: float) -> None:
        config, state = self.config, self.state
        found = hooks.discover(config.pre_kill, config.hooks_dir)
        code = None if state.main_status is None else stopplan.exit_code(state)
        reason = self.reason()

        def environment(at: float):
            return hooks.hook_environment(os.environ, reason, config.mode, code, kill_at, at)

        log.info(f"hooks: {len(found)} hook(s), {kill_at - now:.1f}s until the kill")
        self.hooks = hooks.HookRunner(found, environment, kill_at)
        self.hooks.start_next(now)

    def reason(self) -> str:
        state = self.state
        if state.stop_cause == stopplan.MAX_RUNTIME:
            return "max-runtime"
        if state.stop_cause is not None:
            return signals.name(state.stop_signal)
        return "exit" if stopplan.exit_code(state) == 0 else "failure"

    def finish(self, code: int, now: float) -> int:
        state, config = self.state, self.config
        if config.mode == "train" and code != 0 and state.stop_cause != stopplan.ACTIVE_STOP:
            self.write_failure(code)
        spent = stopplan.phase_durations(state, now)
        hook_failures = 0 if self.hooks is None else self.hooks.failed
        log.info(f"exit: {code} ({self.reason()}; main child {stopplan.describe_status(state.main_status)});"
                 f" grace {spent[Phase.GRACE]:.3f}s, hooks {spent[Phase.HOOKS]:.3f}s"
                 f" ({hook_failures} failed), kill {spent[Phase.KILL]:.3f}s, {self.killed} process(es) killed")
        return code

    def write_failure(self, code: int) -> None:
        config = self.config
        oom_kills = (sagemaker.read_oom_kills(self.memory) or 0) - self.oom_baseline
        max_runtime = config.max_runtime if self.state.stop_cause == stopplan.MAX_RUNTIME else None
        reason = sagemaker.failure_reason(config.argv, code, oom_kills, sagemaker.read_memory_limit(self.memory),
                                          max_runtime, killed_by_init=self.killed_main,
                                          signalled=self.signalled())
        ok, what = sagemaker.write_failure(config.ml_root, reason)
        (log.info if ok else log.warning)(f"failure file: {what}")

    def signalled(self) -> Optional[bool]:
        status = self.state.main_status
        return None if status is None else os.WIFSIGNALED(status)

    def fail(self, exc: BaseException) -> int:
        """An unexpected error: log it once, kill the tree, exit non-zero. Nothing runs unsupervised."""
        log.error(f"internal error: {type(exc).__name__}: {exc}; killing every process and exiting")
        try:
            sweep.sweep(signal.SIGKILL, self.pid1, self.fail_deadline(),
                        group_first=self.main_group_if_pinned(signal.SIGKILL))
        except BaseException as again:
            log.error(f"internal error while killing the tree: {type(again).__name__}: {again}")
        log.info(f"exit: {exitcodes.INTERNAL_ERROR} (internal error; every process killed)")
        return exitcodes.INTERNAL_ERROR

    def main_group_if_pinned(self, signum: int) -> Optional[int]:
        """For SIGKILL: the main child's group, while the main child is unreaped (its pid, the
        group's id, cannot be reused): one killpg stops the whole group at once, before the walk."""
        return self.main_pid if signum == signal.SIGKILL and self.main_pid and self.main_alive else None

    def fail_deadline(self) -> float:
        """The stop's exit deadline if one runs, else one kill window from now."""
        if self.state.deadlines is not None:
            return self.state.deadlines.exit_at
        return time.monotonic() + stopplan.kill_window(self.config.stop_timeout)
