"""Running the real sm-init over real process trees, as PID 1 and as subreaper.

``Init`` starts ``sm-init`` either as PID 1 of a fresh PID namespace (``unshare --pid --fork
--mount-proc``) or as an ordinary process (child subreaper); ``TtyInit`` does the same with a pty
as its controlling terminal. Every process of a test carries a marker in its environment, so a
test can count what is left after sm-init exited and find a process of its run, and teardown kills
only what the test itself started. Output is read by threads into queues: tests wait for lines
(ready handshakes) with generous timeouts, never for sleeps.
"""

import os
import queue
import re
import shlex
import shutil
import stat
import subprocess
import sys
import threading
import time
import uuid

import psutil
import pytest

from .procfs import TIMEOUT, proc_status, process_state, wait_until, wchan

SM_INIT = os.path.join(os.path.dirname(sys.executable), "sm-init")
MARK = "SM_INIT_TEST_MARK"
# --kill-child: when unshare dies, the kernel kills its child, PID 1 of the namespace, and with it
# every process of the namespace: a test's teardown leaves nothing behind.
PID_NAMESPACE = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"]


def can_unshare():
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"],
                          stderr=subprocess.DEVNULL).returncode == 0


CAN_UNSHARE = can_unshare()


def require_unshare(what="PID-1 tests"):
    """Skip the test where no PID namespace can be had; with CI=true, fail it instead."""
    if CAN_UNSHARE:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI: unshare --pid --fork --mount-proc is not available; {what} must run")
    pytest.skip("needs root and unshare --pid for a PID namespace")


def marked_processes(mark):
    """Processes whose environment carries this test's marker (zombies excluded)."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                continue
            if process.environ().get(MARK) == mark:
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
    return found


class Lines:
    """Lines of a stream, read by a thread.

    ``expect`` returns the first line not yet matched by an earlier ``expect`` that matches the
    pattern, waiting for more lines if needed: processes that run side by side may print in any order.
    """

    def __init__(self, stream):
        self.seen = []
        self._matched = set()
        self._scanned = {}  # pattern -> lines already tried against it (a line never changes)
        self._closed = False
        self._queue = queue.Queue()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream):
        for raw in iter(stream.readline, b""):
            self._queue.put(raw.decode("utf-8", "replace").rstrip("\n"))
        self._queue.put(None)

    def _search(self, pattern):
        start = self._scanned.get(pattern, 0)
        for index in range(start, len(self.seen)):
            if index not in self._matched:
                match = re.search(pattern, self.seen[index])
                if match:
                    self._matched.add(index)
                    self._scanned[pattern] = index + 1
                    return match
        self._scanned[pattern] = len(self.seen)
        return None

    def expect(self, pattern, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            match = self._search(pattern)
            if match:
                return match
            if self._closed:
                raise AssertionError(f"stream closed before a line matching {pattern!r}; seen: {self.seen}")
            try:
                line = self._queue.get(timeout=max(deadline - time.monotonic(), 0.001))
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r} within {timeout}s; seen: {self.seen}")
            if line is None:
                self._closed = True
            else:
                self.seen.append(line)

    def drain(self, timeout=5.0):
        """Every line until the stream closes (or timeout: grandchildren may hold the pipe)."""
        try:
            self.expect(r"(?!)", timeout)
        except AssertionError:
            pass
        return self.seen

    def count(self, pattern):
        return sum(1 for line in self.seen if re.search(pattern, line))

    @property
    def text(self):
        return "\n".join(self.seen)


class Init:
    """One sm-init run."""

    def __init__(self, args, pid1, env=None, stdin=subprocess.DEVNULL, cwd=None, sm_init=SM_INIT,
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=None, session=False):
        """``stdout``/``stderr``: PIPE (read as lines: ``out``, ``log``) or a descriptor of the test's.
        ``session``: sm-init leads a new session whose controlling terminal is ``stdin``."""
        self.mark = uuid.uuid4().hex
        self.pid1 = pid1
        self.program = os.path.basename(sm_init)  # another init (tini, dumb-init) for comparisons
        environ = dict(os.environ if env is None else env)
        environ[MARK] = self.mark
        new_session = ["setsid", "--ctty"] if session else []
        prefix = new_session + (PID_NAMESPACE + new_session if pid1 else [])
        self.started = time.monotonic()
        self.process = subprocess.Popen(prefix + [sm_init, *args], env=environ, stdin=stdin, cwd=cwd,
                                        stdout=stdout, stderr=stderr, preexec_fn=preexec_fn)
        self.out = Lines(self.process.stdout) if stdout == subprocess.PIPE else None
        self.log = Lines(self.process.stderr) if stderr == subprocess.PIPE else None
        self.returncode = None
        self.ended = None

    @property
    def pid(self):
        """Host pid of sm-init (or the init given) itself (in PID-1 mode, the child of unshare)."""
        if not self.pid1:
            return self.process.pid  # setsid, when there, execs sm-init in its own process

        def find():
            for child in psutil.Process(self.process.pid).children():
                try:
                    # Until its last exec, unshare's forked child is still unshare (or setsid), with
                    # sm-init among its arguments.
                    if child.name() not in ("unshare", "setsid") and \
                            any(self.program in part for part in child.cmdline()):
                        return child.pid
                except psutil.NoSuchProcess:
                    pass
            return None
        return wait_until(find, f"{self.program} started under unshare", interval=0.01)

    def signal(self, signum):
        os.kill(self.pid, signum)

    def wait(self, timeout=TIMEOUT):
        """sm-init's exit code (for PID 1: unshare passes it on)."""
        self.returncode = self.process.wait(timeout)
        self.ended = time.monotonic()
        if self.log is not None:
            self.log.drain(timeout=2)
        return self.returncode

    def survivors(self):
        return marked_processes(self.mark)

    def cleanup(self):
        if self.process.poll() is None:
            self.process.kill()  # with --kill-child, unshare's death SIGKILLs the namespace
            self.process.wait(TIMEOUT)
        for process in self.survivors():
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass


class TtyInit(Init):
    """sm-init in a new session whose controlling terminal (and stdin) is a fresh pty.

    ``setsid --ctty`` makes the pty the session's controlling terminal before exec; stdout and
    stderr stay pipes, read as lines as with ``Init``. In PID-1 mode PID 1 leads its own session
    with the terminal, as in `docker run -it`.
    """

    def __init__(self, args, pid1):
        self.master, slave = os.openpty()
        try:
            super().__init__(args, pid1, stdin=slave, session=True)
        finally:
            os.close(slave)

    def type(self, data):
        os.write(self.master, data)

    def cleanup(self):
        super().cleanup()
        os.close(self.master)


def run_on_a_terminal(start, *args, env=None):
    """Run sm-init (``start``: the start_init fixture) with a fresh pty as its stdout and stderr,
    as `docker run -it` or `script` give it, until it exits: (exit code, what the terminal showed,
    CRLF as LF). A thread reads the pty meanwhile: a full one would hold its writers."""
    master, slave = os.openpty()
    got = []

    def read():
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:   # EIO: no writer left
                return
            if not data:
                return
            got.append(data)
    reader = threading.Thread(target=read, daemon=True)
    reader.start()   # while this process holds the slave open, a read waits rather than fails
    try:
        init = start(*args, stdout=slave, stderr=slave, env=env)
        os.close(slave)
        slave = None
        code = init.wait()
        reader.join(TIMEOUT)
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    return code, b"".join(got).decode("utf-8", "replace").replace("\r\n", "\n")


# What a failed test shows of each run (tests/conftest.py): enough to see who held what, short
# enough to read. A run's processes may be many (floods, storms): the first few say enough.
REPORT_LINES, REPORT_WIDTH, REPORT_PROCESSES, REPORT_FDS = 40, 300, 10, 16


def failure_report(init):
    """A run as a failed test shows it: the tails of sm-init's log and of the child's output, and each
    process of the run still alive: where it waits in the kernel, its signal sets (sm-init's SigBlk
    reads empty while it sits in sigtimedwait) and the pipes it holds open."""
    def clip(text):
        return text if len(text) <= REPORT_WIDTH else text[:REPORT_WIDTH] + f"... ({len(text)} chars)"

    def tail(name, lines):
        if lines is None:
            return [f"{name}: not a pipe of the test's"]
        lines.drain(timeout=0.5)  # what the reader thread has not handed over yet
        seen = lines.seen
        shown = f" (the last {REPORT_LINES} of {len(seen)} lines)" if len(seen) > REPORT_LINES else ""
        return [f"{name}{shown}:", *("  " + clip(line) for line in seen[-REPORT_LINES:])]

    code = init.process.poll()
    text = [f"{init.program} as {'PID 1' if init.pid1 else 'subreaper'}, "
            + ("still running" if code is None else f"exit code {code}")]
    text += tail("its log (stderr)", init.log) + tail("the child's output (stdout)", init.out)
    alive = init.survivors()
    text.append(f"processes of the run alive: {len(alive)}"
                + (f" (the first {REPORT_PROCESSES})" if len(alive) > REPORT_PROCESSES else ""))
    for process in sorted(alive, key=lambda p: p.pid)[:REPORT_PROCESSES]:
        try:
            where = f"{process_state(process.pid)}, in {wchan(process.pid) or 'no wait'}"
            text += ["  " + clip(f"pid {process.pid} ({where}): {' '.join(process.cmdline())}"),
                     "    " + " ".join(f"{field}={value}" for field, value in proc_status(process.pid).items()
                                       if field in ("SigBlk", "SigIgn", "SigCgt", "SigPnd", "ShdPnd")),
                     "    pipes: " + (" ".join(open_pipes(process.pid)) or "none")]
        except (OSError, psutil.NoSuchProcess):
            text.append(f"  pid {process.pid}: gone while this was written")
    return "\n".join(text)


def open_pipes(pid):
    """``fd=pipe:[inode]`` for each pipe (or FIFO) the process holds, the first REPORT_FDS of them."""
    pipes = []
    for fd in sorted(os.listdir(f"/proc/{pid}/fd"), key=int):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("pipe:") or stat.S_ISFIFO(os.stat(f"/proc/{pid}/fd/{fd}").st_mode):
                pipes.append(f"{fd}={target}")
        except OSError:  # closed meanwhile
            continue
    more = len(pipes) - REPORT_FDS
    return pipes[:REPORT_FDS] + ([f"and {more} more"] if more > 0 else [])


def find_process(init, script, *args):
    """The live process of this run (by its marker) that runs ``python SCRIPT ARGS``."""
    for process in init.survivors():
        try:
            argv = process.cmdline()
        except psutil.NoSuchProcess:
            continue
        if len(argv) >= 2 and os.path.basename(argv[1]) == script and argv[2:] == list(args):
            return process
    raise AssertionError(f"no live process of this run runs {script} {' '.join(args)}")


def find_probe(init, tag="main"):
    """The live probe of this run tagged ``tag`` (no --tag: ``main``), waited for."""
    def find():
        for process in init.survivors():
            try:
                argv = process.cmdline()
            except psutil.NoSuchProcess:
                continue
            if len(argv) >= 2 and os.path.basename(argv[1]) == "probe.py":
                if (argv[argv.index("--tag") + 1] if "--tag" in argv else "main") == tag:
                    return process
        return None
    return wait_until(find, f"a probe tagged {tag}")


def error_lines(init):
    return [line for line in init.log.seen if line.startswith("sm-init: error:")]


def train(start_init, ml, trainer, *extra, **kwargs):
    """sm-init in train mode over ``trainer`` (an argv) with ``ml`` as --ml-root and no hooks."""
    return start_init("--ml-root", str(ml), "--hooks-dir", str(ml / "no-hooks.d"), *extra,
                      "--train", shlex.join(trainer), "--", "train", **kwargs)
