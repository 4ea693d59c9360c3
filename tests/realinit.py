"""Running the real sm-init over real process trees, as PID 1 and as subreaper.

``init`` starts ``sm-init`` either as PID 1 of a fresh PID namespace (``unshare --pid --fork
--mount-proc``) or as an ordinary process (child subreaper). Every process of a test carries a
marker in its environment, so a test can count what is left after sm-init exited, and teardown
kills only what the test itself started. Output is read by threads into queues: tests wait for
lines (ready handshakes) with generous timeouts, never for sleeps.
"""

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid

import psutil

HERE = os.path.dirname(os.path.abspath(__file__))
PROBE = os.path.join(HERE, "probe.py")
SM_INIT = os.path.join(os.path.dirname(sys.executable), "sm-init")
TIMEOUT = 60.0  # generous: these machines are noisy
MARK = "SM_INIT_TEST_MARK"


def probe(*args):
    """argv of the signal-reporting child."""
    return [sys.executable, PROBE, *args]


def can_unshare():
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"],
                          stderr=subprocess.DEVNULL).returncode == 0


CAN_UNSHARE = can_unshare()


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
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=None):
        """``stdout``/``stderr``: PIPE (read as lines: ``out``, ``log``) or a descriptor of the test's."""
        self.mark = uuid.uuid4().hex
        self.pid1 = pid1
        self.program = os.path.basename(sm_init)  # another init (tini, dumb-init) for comparisons
        environ = dict(os.environ if env is None else env)
        environ[MARK] = self.mark
        prefix = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"] if pid1 else []
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
            return self.process.pid
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            for child in psutil.Process(self.process.pid).children():
                try:
                    # Before its exec, unshare's forked child still is "unshare" (with sm-init in argv).
                    if child.name() != "unshare" and any(self.program in part for part in child.cmdline()):
                        return child.pid
                except psutil.NoSuchProcess:
                    pass
            time.sleep(0.01)
        raise AssertionError("sm-init did not start under unshare")

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
