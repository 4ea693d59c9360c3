"""A model of the world for the real ``Supervisor``: a fake clock and a tree that behaves as told.

``World`` has the methods of ``sm_init.system.System``; ``run(config, world)`` runs the real loop of
``sm_init.run.Supervisor`` against it, so the tests that use it check the loop that runs in a
container, not a copy of it. Time only moves when the loop waits: ``wait(timeout)`` jumps the
clock to the next thing that happens in the world (a signal arrives, a process dies, the tree
writes) or to the timeout, whichever is first.

Every signal a process receives is recorded (``Proc.received``), so tests can ask who heard what
and when; signalling a process that was already reaped fails the test at once, as it would be a
signal to a stranger that reused the pid.
"""

import math
import signal
from typing import List, Optional, Tuple

from sm_init.plan import NORMAL
from sm_init.run import Supervisor
from sm_init.signals import IO_SIGNAL, Received

INF = math.inf
TERM, INT, KILL, CONT, QUIT = signal.SIGTERM, signal.SIGINT, signal.SIGKILL, signal.SIGCONT, signal.SIGQUIT
ENDING = (TERM, INT, QUIT, signal.SIGHUP)  # signals the model's processes treat as "please stop"


def exited(code: int) -> int:
    """A raw wait status for a normal exit with ``code``."""
    return code << 8


class Proc:
    """One process of the model.

    on_term: seconds from a stop signal (TERM, INT, QUIT, HUP) to its exit (INF: ignores them);
    on_kill: seconds from SIGKILL to death (INF: unkillable, D state); exit_code: what it exits with
    when it stops on its own or on a stop signal (it handled it); dies_of_term: the stop signal kills
    it (default action) instead: it never handles it.
    """

    def __init__(self, name, pid, pgid, on_term=INF, on_kill=0.0, dies_at=INF, exit_code=0, dies_of_term=False,
                 catches=True, world=None):
        self.name, self.pid, self.pgid = name, pid, pgid
        self.on_term, self.on_kill, self.exit_code = on_term, on_kill, exit_code
        self.dies_of_term, self.catches = dies_of_term, catches
        self.dies_at, self.status = dies_at, exited(exit_code)
        self.received: List[Tuple[float, int]] = []
        self.zombie = False
        self.reaped = False

    def signal(self, signum: int, now: float) -> None:
        self.received.append((now, signum))
        if signum == KILL:
            self._die_at(now + self.on_kill, signum)
        elif signum in ENDING:
            if self.dies_of_term:
                self._die_at(now, signum)
            elif self.on_term < INF:
                self._die_at(now + self.on_term, None)

    def _die_at(self, when: float, signum: Optional[int]) -> None:
        if when < self.dies_at:
            self.dies_at = when
            self.status = signum if signum is not None else exited(self.exit_code)

    def heard(self, *signums) -> List[float]:
        return [t for t, s in self.received if s in (signums or ENDING)]


class World:
    """What the loop sees. Configure it, then ``run(config, world)``."""

    def __init__(self, main: Optional[dict] = None, others=(), signals=(), hooks=(), outputs=(),
                 heartbeats=(), pid1=True, spawn_error: Optional[int] = None, dumps=None):
        self.now = 0.0
        self.pid1 = pid1
        self.spawn_error = spawn_error
        self.main = Proc("main", 100, 100, **(main or {}))
        self.procs: List[Proc] = [self.main]
        for index, spec in enumerate(others):
            spec = dict(spec)
            in_group = spec.pop("in_group", True)
            pid = 200 + index
            self.procs.append(Proc(spec.pop("name", f"other{index}"), pid, 100 if in_group else pid, **spec))
        self.signals = sorted(signals)           # (time, signum) sent to sm-init
        self.hook_plan = list(hooks)              # per hook: seconds it takes (INF: hangs), or "fail"
        self.outputs = sorted(outputs)            # times the tree writes output
        self.heartbeats = sorted(heartbeats)      # times the heartbeat file is touched
        self.dump_plan = dumps                    # None: no stacks route; else per dumper the seconds it
                                                  # takes, or (seconds, seconds from SIGKILL to death)
        self.lines: List[Tuple[float, int, str]] = []
        self.sweeps: List[Tuple[float, object]] = []
        self.sends: List[Tuple[float, int, int, bool]] = []   # (time, pid, signal, to its group)
        self.hooks_started: List[Tuple[float, Tuple[str, ...], dict]] = []
        self.failures: List[object] = []
        self.start_failures: List[str] = []
        self.output_seen = 0
        self.exited: Optional[Tuple[float, int]] = None
        self.next_pid = 300
        self.wakeups = 0
        self.forever = False

    # --- System: start -----------------------------------------------------------------------

    def prepare(self) -> None:
        pass

    def spawn_main(self, argv) -> int:
        if self.spawn_error is not None:
            import os
            raise OSError(self.spawn_error, os.strerror(self.spawn_error), argv[0])
        return self.main.pid

    def spawn_hook(self, argv, env) -> int:
        index = int(argv[0][len("hook"):])
        takes = self.hook_plan[index]
        if takes == "fail":
            raise OSError(2, "No such file or directory", argv[0])
        self.hooks_started.append((self.now, tuple(argv), env))
        self.next_pid += 1
        hook = Proc(f"hook{index}", self.next_pid, self.next_pid, dies_at=self.now + takes)
        self.procs.append(hook)
        return hook.pid

    # --- System: the loop --------------------------------------------------------------------

    def clock(self) -> float:
        return self.now

    def _next_event(self) -> float:
        times = [p.dies_at for p in self.procs if not p.zombie]
        times += [t for t, _ in self.signals[:1]] + self.outputs[:1]
        return min(times, default=INF)

    def wait(self, timeout: Optional[float]) -> Optional[Received]:
        self.wakeups += 1
        assert self.wakeups < 100_000, "the loop does not end"
        event = self._next_event()
        until = INF if timeout is None else self.now + timeout
        if min(event, until) == INF:
            # Nothing will ever happen: the job simply runs. The loop's guard catches this like any
            # error (kill the tree, exit 70); ``forever`` tells the test it was this.
            self.forever = True
            raise RuntimeError("the loop waits for ever: nothing will happen in this world")
        self.now = max(self.now, min(event, until))
        if self.signals and self.signals[0][0] <= self.now:
            return Received(self.signals.pop(0)[1])
        dead = [p for p in self.procs if not p.zombie and p.dies_at <= self.now]
        if dead:
            for p in dead:
                p.zombie = True
            return Received(signal.SIGCHLD)
        if self.outputs and self.outputs[0] <= self.now:
            return Received(IO_SIGNAL, io=True)
        return None

    def pump(self, now: float) -> Tuple[int, bool]:
        moved = 0
        while self.outputs and self.outputs[0] <= now:
            self.outputs.pop(0)
            moved += 100
        self.output_seen += moved
        return moved, False

    def io_deadline(self) -> Optional[float]:
        return None

    def reap(self):
        """As System.reap: sm-init's helpers (the dumpers) never count as anyone left."""
        exited_now = [(p.pid, p.status) for p in self.procs if p.zombie and not p.reaped]
        for p in self.procs:
            if p.zombie:
                p.reaped = True
        return exited_now, any(not p.reaped and p.name != "dumper" for p in self.procs)

    def _proc(self, pid: int) -> Proc:
        return next(p for p in self.procs if p.pid == pid)

    def send(self, pid: int, signum: int, group: bool) -> bool:
        self.sends.append((self.now, pid, signum, group))
        if group:  # a reaped process has left its group: killpg can't reach it
            targets = [p for p in self.procs if p.pgid == pid and not p.reaped]
        else:
            targets = [p for p in self.procs if p.pid == pid]
            assert not any(p.reaped for p in targets), f"signal {signum} sent to pid {pid}, already reaped"
        for p in targets:
            if not p.zombie:
                p.signal(signum, self.now)
        return bool(targets)

    def catches(self, pid: int, signum: int) -> bool:
        proc = self._proc(pid)
        assert not proc.reaped, "asked whether a reaped process catches a signal"
        return proc.catches

    def sweep(self, signum, deadline, spare_pgid, spare_pid, then_continue, group_first=None) -> int:
        self.sweeps.append((self.now, (signum, spare_pgid, spare_pid, then_continue)))
        if group_first is not None:
            assert not self._proc(group_first).reaped, "group_first names a reaped main child's group"
        count = 0
        for p in self.procs:
            if p.zombie or p.pgid == spare_pgid or p.pid == spare_pid:
                continue
            p.signal(signum, self.now)
            if then_continue:
                p.signal(CONT, self.now)
            count += 1
        return count

    def find_hooks(self):
        return [(f"hook{i}",) for i in range(len(self.hook_plan))]

    def hook_environment(self, reason, exit_code, kill_at, now):
        return {"SM_INIT_REASON": reason, "SM_INIT_EXIT_CODE": exit_code, "kill_at": kill_at}

    def heartbeat_stamp(self, path: str) -> Optional[int]:
        """The file as the loop sees it: here, how many times it was touched (None: not yet)."""
        past = [t for t in self.heartbeats if t <= self.now]
        return None if not past else len(past)

    def start_dumps(self, until: float) -> None:
        for plan in self.dump_plan or ():
            takes, on_kill = plan if isinstance(plan, tuple) else (plan, 0.0)
            self.next_pid += 1
            self.procs.append(Proc("dumper", self.next_pid, self.next_pid, dies_at=self.now + takes, on_kill=on_kill))

    def end_dumps(self) -> None:
        for p in self.procs:
            if p.name == "dumper" and not p.zombie:
                p.signal(KILL, self.now)

    def stacks_coming(self) -> bool:
        return any(p.name == "dumper" and self.now < p.dies_at for p in self.procs)

    def log(self, level: int, text: str) -> None:
        self.lines.append((self.now, level, text))

    def write_failure(self, action) -> None:
        self.failures.append(action)

    def note_start_failure(self, problem: str) -> None:
        self.start_failures.append(problem)

    def last_words(self, text: str) -> None:
        self.log(NORMAL, text)

    def kill_everything(self, main_group=None) -> None:
        self.sweep(KILL, INF, None, None, False, main_group)

    # --- what happened -------------------------------------------------------------------------

    def texts(self) -> str:
        return "\n".join(text for _, _, text in self.lines)

    def forwards(self, signum: Optional[int] = None) -> List[Tuple[float, int, bool]]:
        """(time, signal, to the group) of what was sent to the main child (SIGCONT left out)."""
        return [(t, s, g) for t, pid, s, g in self.sends
                if pid == self.main.pid and s != CONT and (signum is None or s == signum)]

    def sweeps_of(self, signum: int) -> List[float]:
        return [t for t, (s, *_) in self.sweeps if s == signum]


def run(config, world: World) -> Tuple[int, Supervisor]:
    """The real loop over the model; (exit code, the supervisor, for its final state)."""
    supervisor = world.supervisor = Supervisor(config, world)
    code = supervisor.run()
    world.exited = (world.now, code)
    return code, supervisor
