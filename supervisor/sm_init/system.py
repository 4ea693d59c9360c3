"""The operating system as the loop sees it: the one boundary ``run.py`` acts through.

Everything the supervisor does to the world goes through a ``System``: wait for a signal, copy the
tree's output, reap, signal, sweep, spawn, read a file's age, write the failure file. The tests
give the real ``Supervisor`` a model of the world with the same methods, so the loop that runs in
a container is the loop the property tests drive.
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Sequence

from . import log, output, plan, reap, signals, spawn, sweep
from .signals import signal

KILL_TIME = 1.0  # after an internal error: the SIGKILL sweep and the reaping of its dead, together


class System:
    """The real one: this process, its children, its PID namespace."""

    def __init__(self, config):
        self.config = config
        self.me = os.getpid()
        self.pid1 = self.me == 1
        self.relay: output.Relay | None = None
        self.memory = None
        self.oom_baseline = 0
        self.dumps = None      # stacks.Dumps once a stall asked for stacks
        self.stall_tails: tuple[bytes, bytes] | None = None  # the output as it was when it stalled
        self.taken: signals.Received | None = None  # a signal taken while draining I/O signals
        self.link = None       # peerlink.Link of a multi-host job
        self.last_line: str | None = None  # the exit line: written after everything else

    # --- start ---------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Become subreaper, note the OOM count, open the capture pipes: all before the spawn."""
        config = self.config
        if not self.pid1 and not reap.become_subreaper():
            log.warning("cannot register as child subreaper: orphans of the tree go to the real init")
        if config.mode == "train":
            from . import sagemaker
            self.memory = sagemaker.current_memory_cgroup()
            self.oom_baseline = sagemaker.read_oom_kills(self.memory) or 0
            problem = sagemaker.failure_file_problem(config.ml_root)
            if problem:
                log.warning(f"failure file: {problem}; the job runs, but a failure would have no reason")
        capture = plan.capture_wanted(config)
        if capture and config.capture is None and any(os.isatty(fd) for fd in (1, 2)):
            log.info("stall: the job's output goes to the terminal through sm-init, so that the watchdog"
                     " sees it (the job writes to a pipe; --no-capture with --heartbeat leaves it the terminal)")
        if capture is not False:
            self.relay = output.Relay(capture)

    def spawn_main(self, argv: Sequence[str]) -> int:
        relay = self.relay
        out, err = relay.child_fds if relay is not None else (None, None)
        try:
            return spawn.spawn(argv, foreground_tty=0 if self.config.interactive else None, stdout=out, stderr=err)
        finally:
            if relay is not None:
                relay.spawned()

    def spawn_hook(self, argv: Sequence[str], env) -> int:
        return spawn.spawn(argv, env=env)  # sm-init's own stdout/stderr, not the relay

    # --- the loop ------------------------------------------------------------------------------

    @staticmethod
    def clock() -> float:
        return time.monotonic()

    def wait(self, timeout: float | None) -> signals.Received | None:
        if self.taken is not None:
            got, self.taken = self.taken, None
            return got
        got = signals.wait_for_signal(timeout, self.me)
        if got is not None and got.io:
            if self.relay is not None:
                self.relay.hush()  # first: while the queue drains, the tree's writes add no more
            self.taken = signals.take_more_io(self.me)
        return got

    def pump(self, now: float) -> tuple[int, bool]:
        """Copy the tree's output: (bytes seen, whether to come back at once)."""
        moved, again = (0, False) if self.relay is None else self.relay.pump(now)
        if self.dumps is not None:
            self.dumps.collect(now)
        if self.relay is None:
            output.sink(2).flush(now)  # it made room (the I/O signal): the lines queued for it go out
        return moved, again

    def io_deadline(self) -> float | None:
        relay = self.relay.next_deadline() if self.relay is not None else output.sink(2).next_deadline()
        dumps = None if self.dumps is None else self.dumps.next_deadline()
        return min((t for t in (relay, dumps) if t is not None), default=None)

    # --- the peers (multi-host): imported only when the feature is on ---------------------------

    def open_peers(self) -> str | None:
        """Listen (the coordinator) or get ready to connect; what went wrong, or None."""
        from . import peerlink
        link = peerlink.Link(self.config.peers)
        try:
            link.open()
        except peerlink.Problem as problem:
            link.close()
            return str(problem)
        self.link = link
        return None

    def close_peers(self) -> None:
        link, self.link = self.link, None
        if link is not None:
            try:
                link.close()
            except OSError:
                pass

    def peer_events(self) -> list:
        return self.link.take_events()

    def peer_pending(self) -> bool:
        """Events the link noted outside ``peer_events`` (a connect refused at once, a send that
        failed): the loop must take them before it sleeps."""
        return self.link is not None and bool(self.link.events)

    def peer_send(self, host: str, data: bytes) -> None:
        self.link.send(host, data)

    def peer_broadcast(self, data: bytes) -> None:
        self.link.broadcast(data)

    def peer_connect(self) -> None:
        self.link.connect()

    def peer_drops(self) -> int:
        return 0 if self.link is None else self.link.dropped

    def error_line(self) -> str | None:
        """The Error: line the failure file would have (the reasons package), for the peers' verdict."""
        from . import reasons
        out, err = self.relay.tails() if self.relay is not None else (b"", b"")
        finding = reasons.diagnose(out, err)
        return None if finding is None else finding.error

    @staticmethod
    def log(level: int, text: str) -> None:
        {plan.ERROR: log.error, plan.WARNING: log.warning, plan.NORMAL: log.info, plan.VERBOSE: log.verbose}[level](text)

    def reap(self) -> tuple[list[tuple[int, int]], bool]:
        """Every exited child, and whether one of the job's is left: sm-init's own helpers (the
        stack dumpers, the lister) are killed at the end of their window and never keep a stop
        waiting, even one stuck in the kernel after its SIGKILL."""
        exited, anyone = reap.reap_children()
        helpers = self.dumps.helpers if self.dumps is not None else None
        if helpers:
            for pid, _ in exited:
                helpers.discard(pid)
            if anyone and helpers:
                anyone = reap.any_child_but(helpers)
        return exited, anyone

    @staticmethod
    def send(pid: int, signum: int, group: bool) -> bool:
        return signals.send(pid, signum, group)

    @staticmethod
    def catches(pid: int, signum: int) -> bool:
        return signals.catches(pid, signum)

    def sweep(self, signum: int, deadline: float, spare_pgid: int | None, spare_pid: int | None,
              then_continue: bool, group_first: int | None) -> int:
        # A helper of sm-init's still there (killed, not yet reaped) is not a leftover to warn.
        helpers = frozenset(self.dumps.helpers) if self.dumps is not None and signum != signal.SIGKILL else frozenset()
        return sweep.sweep(signum, self.pid1, deadline, spare_pgid=spare_pgid, spare_pid=spare_pid,
                           then_continue=then_continue, group_first=group_first, spare_pids=helpers)

    # Hooks, stacks and the failure file are for the end of a job: imported then, not at start-up.

    def find_hooks(self) -> list[tuple[str, ...]]:
        from . import hooks
        return hooks.discover(self.config.pre_kill, self.config.hooks_dir)

    def hook_environment(self, reason: str, exit_code: int | None, kill_at: float, now: float):
        from . import hooks
        return hooks.hook_environment(os.environ, reason, self.config.mode, exit_code, kill_at, now)

    @staticmethod
    def heartbeat_stamp(path: str) -> tuple[int, ...] | None:
        """What the heartbeat file is like: which file (a new one replaced it), its size, its
        modification and change times; None when it can't be read. Compared only with the last
        look (plan.on_heartbeat), never with a clock."""
        try:
            found = os.stat(path)
        except OSError:
            return None
        return found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns, found.st_ctime_ns

    def start_dumps(self, until: float) -> None:
        """The stall: keep the output as it was (the failure file tells what the job did before it
        hung, not what the stop made it say), then start taking the stacks, done by ``until``."""
        from . import stacks
        if self.relay is not None:
            self.relay.drain()  # what it wrote last, even if its reader left it in the pipes
            self.stall_tails = self.relay.tails()
        self.dumps = stacks.Dumps(self.config.stack_signal, self.pid1, until, self._stderr_count)
        self.dumps.start(self.clock())

    def end_dumps(self) -> None:
        if self.dumps is not None:
            self.dumps.end(self.clock())

    def stacks_coming(self) -> bool:
        return self.dumps is not None and self.dumps.coming(self.clock())

    def _stderr_count(self) -> int:
        stream = self.relay.stderr() if self.relay is not None else None
        return 0 if stream is None else stream.total

    def _stderr_since(self, mark: int) -> tuple[int, bytes]:
        stream = self.relay.stderr() if self.relay is not None else None
        return (mark, b"") if stream is None else stream.since(mark)

    # --- the end -------------------------------------------------------------------------------

    def write_failure(self, action) -> None:
        from . import sagemaker
        config = self.config
        oom_kills = (sagemaker.read_oom_kills(self.memory) or 0) - self.oom_baseline
        stalled_for = action.stalled_for
        stalled = stalled_for is not None
        ending = sagemaker.ending(config.argv, action.code, oom_kills, sagemaker.read_memory_limit(self.memory),
                                  max_runtime=config.max_runtime if action.reason == "max-runtime" else None,
                                  killed_by_init=action.killed_by_init, signalled=action.signalled,
                                  stalled_for=stalled_for, heartbeat=config.heartbeat,
                                  where=self.dumps.where(self._stderr_since) if stalled and self.dumps else None,
                                  peer=config.peers.me if action.reason == plan.PEER else None)
        if action.verdict:  # whichever host's file the platform shows, it starts with the job's verdict
            ending = f"{action.verdict}\n{ending}"
        if stalled and self.stall_tails is not None:
            out_tail, err_tail = self.stall_tails
        elif self.relay is not None:
            self.relay.drain()  # the tree's last words, even if its reader left them in the pipes
            out_tail, err_tail = self.relay.tails()
        else:
            out_tail, err_tail = b"", b""
        ok, what = sagemaker.write_failure(config.ml_root, sagemaker.failure_text(ending, out_tail, err_tail))
        (log.info if ok else log.warning)(f"failure file: {what}")

    def last_words(self, text: str) -> None:
        """The exit line: said once the rest of the output is out, or given up (``exit``)."""
        self.last_line = text

    @staticmethod
    def unreported_losses() -> str:
        """``; 3 log line(s) dropped`` and the like: what the log or the tree's output lost unsaid."""
        losses = [what for fd in (1, 2) if fd in output.sinks() for what in output.sink(fd).take_unreported_losses()]
        return f"; {', '.join(losses)}" if losses else ""

    def note_start_failure(self, problem: str) -> None:
        from . import sagemaker
        sagemaker.note_start_failure(self.config, problem)

    def kill_everything(self, main_group: int | None) -> None:
        """After an internal error: everything, within a second (the group first while it is ours),
        and the dead reaped in that second, as a stop's kill window does: sm-init exits once its
        tree is gone, never while a process it killed still holds its memory (SIGKILL sent is not
        yet a process ended). One the kernel keeps (stuck in it) is named, and left."""
        deadline = time.monotonic() + KILL_TIME
        sweep.sweep(signal.SIGKILL, self.pid1, deadline, group_first=main_group)
        if not reap.reap_until_none_left(deadline, time.monotonic):
            left = sorted(reap.children() or ())
            named = f": pid {', '.join(map(str, left[:10]))}{', ...' if len(left) > 10 else ''}" if left else ""
            log.warning(f"{len(left) or 'some'} process(es) still there {KILL_TIME:g}s after SIGKILL"
                        f" (stuck in the kernel){named}; exiting without them")

    def exit(self, code: int, flush: plan.Flush):
        """The rest of the tree's output, then the exit line, last, then the exit."""
        until = flush.until
        try:
            self.close_peers()
            try:
                until = output.finish(self.relay, flush.until, flush.patience, flush.stop_window)
            finally:  # the exit line even when the relay failed (an internal error's exit)
                if self.last_line is not None:
                    log.last(self.last_line + self.unreported_losses())
                    output.finish(None, None if until is None else until + flush.last_line, flush.patience)
        finally:
            os._exit(code)  # whatever the flush met: the code, and no interpreter teardown


def describe_spawn_error(argv: Sequence[str], exc: OSError) -> tuple[str, int]:
    """What to say when exec failed, and the shell's exit code for it: what the check before start
    would have said (a missing #! interpreter named), else the kernel's reason."""
    from . import command, exitcodes
    try:
        command.check_runnable(argv, os.environ.get("PATH"))
    except exitcodes.CommandError as problem:
        return str(problem), problem.exit_code
    code = exitcodes.NOT_FOUND if exc.errno == errno.ENOENT else exitcodes.NOT_EXECUTABLE
    return f"{log.command([argv[0]])}: {exc.strerror}", code
