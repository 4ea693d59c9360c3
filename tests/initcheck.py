"""Helpers for the core tests (test_core, test_bad_input, test_resolution): no fixtures here.

Zombies, finding a process of a run by its tag, waiting for a condition with a deadline, and
running sm-init with a pty as its controlling terminal (the ``start_init`` fixture gives pipes).
"""

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import psutil

from realinit import MARK, SM_INIT, TIMEOUT, Lines, marked_processes

HERE = os.path.dirname(os.path.abspath(__file__))
CHILDREN = os.path.join(HERE, "children")
PID_NAMESPACE = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"]

# Every signal sm-init must forward as is: all catchable ones but SIGCHLD (reaping) and the two
# that start the stop sequence, which have their own tests.
FORWARDED = sorted(set(signal.valid_signals()) - {signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD,
                                                   signal.SIGTERM, signal.SIGINT})


def child(name, *args):
    """argv of a script under tests/children/."""
    return [sys.executable, os.path.join(CHILDREN, name), *args]


def signal_name(signum):
    """The name tests/probe.py reports: SIGTERM, or SIGRTMIN+3 for unnamed realtime signals."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"SIGRTMIN+{signum - signal.SIGRTMIN}"


def wait_until(condition, what, timeout=TIMEOUT):
    """Poll ``condition`` until it is truthy; fail naming ``what`` and the last value after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what} (last: {value!r})")
        time.sleep(0.02)


def zombie_descendants(pid):
    """Zombies below ``pid`` on the host (in PID-1 mode every process of the namespace is below it)."""
    try:
        below = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    zombies = []
    for process in below:
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                zombies.append(process.pid)
        except psutil.NoSuchProcess:
            pass
    return zombies


def zombies_in_namespace(init_pid):
    """Zombies of the PID namespace whose PID 1 is ``init_pid``, read from the namespace's own /proc.

    ``unshare --mount-proc`` mounts a proc for the new namespace in a new mount namespace; the host
    sees it through /proc/<pid>/root/proc. A zombie has no environment, so the run's marker cannot
    name it: the namespace itself is the run's boundary.
    """
    proc = f"/proc/{init_pid}/root/proc"
    zombies = []
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            with open(f"{proc}/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        state = stat.rsplit(")", 1)[1].split()[0]
        if state == "Z":
            zombies.append(int(entry))
    return zombies


def run_zombies(init):
    """Every zombie of this run that sm-init should have reaped."""
    zombies = zombie_descendants(init.pid)
    if init.pid1:
        zombies += [f"ns:{pid}" for pid in zombies_in_namespace(init.pid)]
    return zombies


def tagged_process(init, tag):
    """The live probe of this run tagged ``tag`` (no --tag: ``main``), as a host psutil.Process."""
    def find():
        for process in init.survivors():
            try:
                cmdline = process.cmdline()
            except psutil.NoSuchProcess:
                continue
            if not any(part.endswith("probe.py") for part in cmdline):
                continue
            given = cmdline[cmdline.index("--tag") + 1] if "--tag" in cmdline else "main"
            if given == tag:
                return process
        return None
    return wait_until(find, f"a process tagged {tag}")


def proc_status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def reports(lines):
    """The JSON objects printed by children/report.py."""
    return [json.loads(line[len("report "):]) for line in lines.seen if line.startswith("report {")]


def error_lines(init):
    return [line for line in init.log.seen if line.startswith("sm-init: error:")]


class TtyInit:
    """sm-init in a new session whose controlling terminal (and stdin) is a fresh pty.

    ``setsid --ctty`` makes the pty the session's controlling terminal before exec; stdout and
    stderr stay pipes so the lines can be read as with ``start_init``. In PID-1 mode ``unshare``
    is the session leader and sm-init, PID 1 of the namespace, is in its session.
    """

    def __init__(self, args, pid1):
        self.mark = uuid.uuid4().hex
        self.pid1 = pid1
        self.master, slave = os.openpty()
        environ = dict(os.environ, **{MARK: self.mark})
        # PID 1 leads its own session with the terminal, as in `docker run -it`.
        prefix = ["setsid", "--ctty"] + (PID_NAMESPACE + ["setsid", "--ctty"] if pid1 else [])
        self.process = subprocess.Popen(prefix + [SM_INIT, *args], env=environ, stdin=slave,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        os.close(slave)
        self.out = Lines(self.process.stdout)
        self.log = Lines(self.process.stderr)

    @property
    def pid(self):
        if not self.pid1:
            return self.process.pid
        def find():
            for process in psutil.Process(self.process.pid).children():
                if any("sm-init" in part for part in process.cmdline()):
                    return process.pid
            return None
        return wait_until(find, "sm-init under unshare")

    def type(self, data):
        os.write(self.master, data)

    def wait(self, timeout=TIMEOUT):
        code = self.process.wait(timeout)
        self.log.drain(timeout=2)
        return code

    def cleanup(self):
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(TIMEOUT)
        for process in marked_processes(self.mark):
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        os.close(self.master)
