"""Side-by-side benchmark of sm-init against tini, dumb-init, catatonit and no init.

Run it through ``bench/run`` (installs the anchors, compiles the child, makes the
chart venv). Must run as root: every trial that matters runs the init as PID 1 of
a fresh PID namespace (``unshare --pid --fork --mount-proc``), as in a container.

Method
------
The process under every init is ``bchild`` (bchild.c), a static C program that
only timestamps with CLOCK_MONOTONIC and writes 16-byte records to a per-run
FIFO. CLOCK_MONOTONIC is shared with this harness (``time.monotonic_ns``), so
"harness sent at t0" and "child received at t1" are on one clock and the child
costs the same under every init.

1. Signal latency: ``kill(init, SIGUSR1)`` -> the child's handler. One sample at
   a time, a random 0.5-1.5 ms gap, 2 warm-up samples per batch dropped.
2. Stop time: SIGTERM to the init -> the init's exit (seen through a pidfd), for
   (a) a child that exits at once, (b) main + 8 workers x 8 loaders = 73
   processes, (c) the same where every other worker called setsid, (d) a child
   that ignores SIGTERM, (e) (c)'s tree whose main process dies of SIGTERM (no
   handler, so at most 72 are "warned"). sm-init runs with --stop-timeout 2 --signal-scope group
   (tini -g's semantics); "sm-init auto" with its default scope, under which the
   tree's main process, which catches SIGTERM and exits without stopping its
   workers, alone hears the stop and its workers keep the grace (they hear
   SIGTERM at its end: a drain started by the main process is never cut short);
   a C init that has
   not exited after the cap is recorded as "no exit" (docker would SIGKILL it).
   Each member of a tree reports SIGTERM before exiting, so "warned" counts the
   processes that got a chance to clean up. Both as PID 1 (where the kernel
   SIGKILLs whatever is left when the init exits, so nothing can survive) and in
   subreaper mode (init not PID 1: tini -s, catatonit's automatic subreaper),
   where leftovers really survive: "alive after" counts tree members still alive
   100 ms after the init's exit, found in /proc by the run's FIFO path in argv.
3. Reaping, two ways (see measure_reaping): 10,000 orphans made in waves of
   100 (fork time included), and 10,000 live orphans of the init SIGKILLed at
   once (reaping alone). The child watches the init's /proc/.../children list,
   zombies included, drain.
4. Startup: ``bchild stamp`` puts CLOCK_MONOTONIC in BENCH_T0 and execs the
   init; the child's main() subtracts it. The same run gives "exit lag": the
   child's last timestamp before _exit -> the init's exit. Interleaved with the
   inits, start-up only: the bare-interpreter floor (sm-init's own python,
   ``-I -c``, exec'ing the child), sm-init on SageMaker's path (``-- train``,
   SM_INIT_TRAIN), sm-init with options on the command line, and the PID-1
   start-up window: BENCH_T0 -> sm-init's signals blocked (/proc/PID/status
   sampled every 0.5 ms, in runs of their own; their start-up to the child's
   main() is shown too, to show what the sampling costs).
   py-loop (pyloop.py, the smallest Python init) is the floor for exit lag.
5. Memory and idle: VmHWM of the init, the maximum over every run; context
   switches (voluntary + involuntary, all threads) over an idle window.

The output relay (issue 13), each selectable with --only, in tables of their
own. The init's stdout/stderr are pipes to a consumer (``bchild drain`` or
``bchild lines``, on pipes of the default 64 KiB, as a log driver reads a
container's), so sm-init relays (capture is on by default); ``sm-init
--no-capture`` is the direct write it is held to: the child writes into the
consumer's pipe itself.

6. throughput: ``bchild spew`` writes N MiB as fast as it can, in 64 KiB
   writes (stdout; stdout and stderr alternately), 8 KiB writes (Python's
   buffer on a pipe) and one 64-byte line per write; MiB/s from the child's
   first write to the consumer's last byte, with the init's CPU, context
   switches and page faults per MiB. ``C relay`` (``bchild relay``, a
   read/write loop in C) shows what a relay that copies can reach here.
7. lines: a line stamped just before write() -> its arrival at the consumer's
   read(), one at a time, 0.5-1.5 ms apart.
8. capture: the signal latency of 1., with the init's stdout a pipe to a
   consumer, once with the relay idle and once while the child writes 1000
   lines a second; against tini in the same conditions.

The init gets SETTLE_S (0.25 s) after its child is ready before the first
signal or the child's exit, like a job that has run a while; ``--settle 0``
measures the first instants instead.

Every batch is interleaved: each round runs every init once, in a shuffled
order, so slow drift on a noisy shared machine hits all inits alike.

Why ratios
----------
Absolute microseconds move with the machine, the kernel and the neighbours; the
ratio to tini measured in the same run, same minutes, same cores, does not move
much. The targets of issue 11 are ratios to what bounds each figure from below,
measured in the same run: CPython's own start-up (the floor) for sm-init's,
py-loop for the exit, tini / tini -g for forwarding, reaping and stops; only RSS
is absolute.
"""

import argparse
import collections
import ctypes
import datetime
import json
import os
import platform
import random
import select
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

# Record kinds, as in bchild.c (REAP_DRAIN is sent but not used here).
READY, USR1, TERM, EXIT, REAP_TOTAL, REAP_DRAIN, REAP_LEFT, BURST = range(1, 9)
SPEW_START, SPEW_END, DRAINED, DRAIN_TOTAL, LINE = range(9, 14)
RECORD = struct.Struct("=iiq")
PR_SET_CHILD_SUBREAPER = 36

# Scenario -> (workers, loaders per worker, setsid every Nth worker, main ignores TERM)
STOP_SCENARIOS = {
    "a": ("child exits at once", (0, 0, 0, 0)),
    "b": ("73-process tree", (8, 8, 0, 0)),
    "c": ("tree, 4 workers setsid", (8, 8, 2, 0)),
    "d": ("child ignores SIGTERM", (0, 0, 0, 1)),
    # (c) with a main process that dies of SIGTERM instead of exiting 0 from a handler: what it
    # leaves behind was told nothing, and every init may end it at once (under sm-init's policy,
    # (c)'s setsid workers keep the grace: the main process handled the stop and may have told them)
    "e": ("tree, 4 workers setsid, main dies of SIGTERM", (8, 8, 2, 2)),
}
SM_INIT_STOP_TIMEOUT = 2
# The stop rows compare like with like: `tini -g`'s semantics, the stop to the child's whole group.
SM_INIT_STOP_ARGS = ("--stop-timeout", str(SM_INIT_STOP_TIMEOUT), "--signal-scope", "group")
SM_INIT_OPTIONS = ("--stop-timeout", "30", "-v", "--signal-scope", "child")  # the "options" start-up row
# Time given to an init after its child is ready and before it is signalled or its child
# exits: a job signalled in its first instants is rare, and an init may finish setting up
# after spawning (sm-init imports psutil then). `--settle 0` measures that window.
SETTLE_S = 0.25


# ---------------------------------------------------------------------------
# The inits


CORE = frozenset({"latency", "startup", "stop", "reap", "idle"})  # the main table's
# The output relay's (issue 13): throughput and a line's latency through the init, and signal
# forwarding while the init relays; each in a table of its own.
RELAY = frozenset({"throughput", "lines", "capture"})
MEASUREMENTS = CORE | RELAY
STARTUP_ONLY = frozenset({"startup"})
# The floor sm-init's start-up is compared with: its own interpreter, isolated, exec'ing the child.
FLOOR_CODE = "import os, sys; os.execv(sys.argv[1], sys.argv[1:])"
PYLOOP = HERE / "pyloop.py"


@dataclass(frozen=True)
class Init:
    name: str
    pid1_argv: tuple
    subreaper_argv: tuple
    stop_args: tuple = ()
    takes: frozenset = CORE          # the measurements it takes part in
    env: tuple = ()                  # (NAME, VALUE) added to its environment
    child_from_env: bool = False     # the child's program is in env (SM_INIT_TRAIN): argv has its args only
    window: bool = False             # start-up runs also poll for the moment it blocks its signals

    def argv(self, pid1, stopping=False):
        base = self.pid1_argv if pid1 else self.subreaper_argv
        if not base:
            return []
        return [base[0], *(self.stop_args if stopping else ()), *base[1:]]


def interpreter_of(script):
    """The python a console script runs with (its #! line), or None."""
    try:
        with open(script, "rb") as f:
            first = f.readline().decode(errors="replace").strip()
    except OSError:
        return None
    python = first[2:].split()[0] if first.startswith("#!") and len(first) > 2 else ""
    return python if "python" in os.path.basename(python) and os.access(python, os.X_OK) else None


def sm_init_variants(sm_init_path, bchild, ml_root):
    """sm-init's start-up on the other paths users take, each a column of its own in start-up runs."""
    return [
        # SageMaker: `docker run IMAGE train`, configured by SM_INIT_* (the bench's child takes args)
        Init("sm-init train", (sm_init_path, "--", "train"), (sm_init_path, "--", "train"), takes=STARTUP_ONLY,
             env=(("SM_INIT_TRAIN", bchild), ("SM_INIT_ML_ROOT", ml_root)), child_from_env=True),
        Init("sm-init options", (sm_init_path, *SM_INIT_OPTIONS, "--"), (sm_init_path, *SM_INIT_OPTIONS, "--"),
             takes=STARTUP_ONLY),
        # The same as "sm-init", polled: kept apart, the poller's CPU must not blur sm-init's own figure.
        Init("sm-init window", (sm_init_path, "--"), (sm_init_path, "--"), takes=STARTUP_ONLY, window=True),
    ]


def python_inits(python):
    """The Python floors: the bare interpreter exec'ing the child, and the smallest Python init."""
    return [
        Init("python floor", (python, "-I", "-c", FLOOR_CODE), (python, "-I", "-c", FLOOR_CODE),
             takes=STARTUP_ONLY),
        Init("py-loop", (python, "-S", str(PYLOOP)), (python, "-S", str(PYLOOP)),
             takes=frozenset({"latency", "startup", "idle"})),
    ]


def find_inits(sm_init_path, extra=(), bchild="", ml_root=""):
    """The inits to compare; `extra` adds NAME=COMMAND ones for experiments."""
    inits = []
    if sm_init_path:
        # Its output is not a terminal in any run: it relays (capture is on by default).
        inits.append(Init("sm-init", (sm_init_path, "--"), (sm_init_path, "--"),
                          SM_INIT_STOP_ARGS, takes=CORE | RELAY))
        # Its default scope: the tree's main process catches SIGTERM, so it alone hears the stop,
        # and what it leaves behind when it exits gets the rest of the grace (a drain it started).
        inits.append(Init("sm-init auto", (sm_init_path, "--"), (sm_init_path, "--"),
                          ("--stop-timeout", str(SM_INIT_STOP_TIMEOUT)), takes=frozenset({"stop"})))
        inits += sm_init_variants(sm_init_path, bchild, ml_root)
        # The direct write the relay is held to: the child writes into the consumer's pipe itself.
        inits.append(Init("sm-init --no-capture", (sm_init_path, "--no-capture", "--"),
                          (sm_init_path, "--no-capture", "--"), takes=RELAY))
        python = interpreter_of(sm_init_path)
        if python:
            inits += python_inits(python)
        else:
            print(f"bench: no python found in {sm_init_path}'s #! line: no floor rows", file=sys.stderr)
    inits += [
        Init("tini", ("/usr/bin/tini", "--"), ("/usr/bin/tini", "-s", "--"), takes=CORE | {"capture"}),
        Init("tini -g", ("/usr/bin/tini", "-g", "--"), ("/usr/bin/tini", "-s", "-g", "--")),
        Init("dumb-init", ("/usr/bin/dumb-init", "--"), ("/usr/bin/dumb-init", "--")),
        Init("catatonit", ("/usr/bin/catatonit", "--"), ("/usr/bin/catatonit", "--")),
        Init("no init", (), (), takes=CORE | {"throughput", "lines"}),
    ]
    inits.insert(len(inits) - 1, Init("C relay", (bchild, "relay"), (bchild, "relay"), takes=frozenset({"throughput"})))
    for spec in extra:
        name, _, command = spec.partition("=")
        argv = tuple(shlex.split(command))
        inits.insert(len(inits) - 1, Init(name, argv, argv))
    return inits


def init_version(init):
    if not init.pid1_argv:
        return "-"
    exe = init.pid1_argv[0]
    for args in (["--version"], ["-V"]):
        try:
            out = subprocess.run([exe, *args], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            continue
        text = (out.stdout + out.stderr).strip().splitlines()
        if out.returncode == 0 and text:
            return text[0]
    return "unknown"


# ---------------------------------------------------------------------------
# Plumbing: the FIFO the child reports on, and one init + child running


class Records:
    """The non-blocking read end of a run's FIFO, parsed into records by kind."""

    def __init__(self, path):
        self.path = str(path)
        os.mkfifo(self.path)
        self.fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
        self.poller = select.poll()
        self.poller.register(self.fd, select.POLLIN)
        self.buf = b""
        self.by_kind = collections.defaultdict(list)

    def pump(self, timeout_s):
        if not self.poller.poll(max(0, int(timeout_s * 1000))):
            return
        try:
            data = os.read(self.fd, 1 << 16)
        except BlockingIOError:
            return
        if not data:  # every writer gone: poll would spin on HUP
            time.sleep(0.001)
            return
        self.buf += data
        whole = len(self.buf) - len(self.buf) % RECORD.size
        for kind, pid, value in RECORD.iter_unpack(self.buf[:whole]):
            self.by_kind[kind].append((pid, value))
        self.buf = self.buf[whole:]

    def wait(self, kind, count, timeout_s):
        deadline = time.monotonic() + timeout_s
        while len(self.by_kind[kind]) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{len(self.by_kind[kind])}/{count} records of kind {kind}")
            self.pump(min(left, 0.2))
        return self.by_kind[kind]

    def drain(self):
        for _ in range(1000):
            before = sum(map(len, self.by_kind.values()))
            self.pump(0)
            if sum(map(len, self.by_kind.values())) == before:
                return

    def close(self):
        os.close(self.fd)
        os.unlink(self.path)


def children_of(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def proc_status(pid):
    """Fields of /proc/PID/status, context switches summed over threads."""
    fields = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields[key] = value.strip()
        switches = 0
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.split(":")[0].endswith("ctxt_switches"):
                        switches += int(line.split()[-1])
        fields["switches"] = switches
    except OSError:
        pass
    return fields


def kib(fields, key):
    value = fields.get(key, "")
    return int(value.split()[0]) if value else None


def minor_faults(pid):
    """Page faults of the process so far (its heap's churn: fresh pages are faulted in and zeroed)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rpartition(")")[2].split()[7])
    except (OSError, ValueError, IndexError):
        return None


def cpu_ns(pid):
    """CPU time of the init's main thread, in ns (schedstat: finer than clock ticks)."""
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


class Bench:
    """Shared state: paths, the child binary, logs, our live children."""

    def __init__(self, bchild, out):
        self.bchild = str(bchild)
        self.out = out
        self.tmp = Path(tempfile.mkdtemp(prefix="smbench-"))
        (out / "logs").mkdir(parents=True, exist_ok=True)
        self.logs = {}
        self.live = set()
        self.runs = 0
        self.peak_kib = collections.defaultdict(int)
        self.settle = SETTLE_S

    def log(self, init):
        return self.log_named(init.name)

    def log_named(self, name):
        if name not in self.logs:
            path = self.out / "logs" / (name.replace(" ", "_") + ".log")
            self.logs[name] = open(path, "w")
        return self.logs[name]

    def note_memory(self, init, pid):
        hwm = kib(proc_status(pid), "VmHWM")
        if hwm:
            self.peak_kib[init.name] = max(self.peak_kib[init.name], hwm)

    def reap_strays(self):
        """Orphans that fell to us (we are a subreaper) and are not a live Popen."""
        for pid in children_of(os.getpid()):
            if pid not in self.live:
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass


GO_MODES = ("wait", "spew", "talk")  # bchild modes that wait for the harness's go (their first arg)


class Run:
    """One init with one bchild under it; PID 1 of a new namespace when pid1."""

    def __init__(self, bench, init, mode, args, pid1=True, stopping=False, stdout=None, stderr=None):
        """stdout, stderr: the init's (fds), by default the init's log file."""
        bench.runs += 1
        self.bench, self.init, self.pid1 = bench, init, pid1
        self.records = Records(bench.tmp / f"run{bench.runs}.fifo")
        self.go_path = None
        if mode in GO_MODES:
            self.go_path = str(bench.tmp / f"run{bench.runs}.go")
            os.mkfifo(self.go_path)
            args = [self.go_path, *args]
        argv = ["unshare", "--pid", "--fork", "--mount-proc"] if pid1 else []
        argv += [bench.bchild, "stamp", *init.argv(pid1, stopping),
                 *([] if init.child_from_env else [bench.bchild]), mode, self.records.path, *map(str, args)]
        log = bench.log(init)
        log.write(f"--- run {bench.runs}: {' '.join(argv)}\n")
        log.flush()
        env = dict(os.environ, **dict(init.env)) if init.env else None
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log if stdout is None else stdout,
                                     stderr=log if stderr is None else stderr, env=env)
        bench.live.add(self.proc.pid)
        self.pid = self.pidfd = None
        self.exit_ns = None

    def ready(self, count=1, timeout_s=30):
        """Wait for COUNT ready records, then find the init and hold a pidfd to it."""
        recs = self.records.wait(READY, count, timeout_s)
        self.pid = self.proc.pid
        if self.pid1:
            deadline = time.monotonic() + 5
            while not children_of(self.proc.pid):
                if time.monotonic() > deadline:
                    raise RuntimeError("no init under unshare")
                time.sleep(0.001)
            self.pid = children_of(self.proc.pid)[0]
        self.pidfd = os.pidfd_open(self.pid)
        return [value for _, value in recs if value >= 0]

    def send(self, sig):
        try:
            signal.pidfd_send_signal(self.pidfd, sig)
        except ProcessLookupError:
            pass

    def wait_exit(self, timeout_s):
        """True once the init has exited; records when the harness saw it."""
        if self.exit_ns is not None:
            return True
        poller = select.poll()
        poller.register(self.pidfd, select.POLLIN)
        if poller.poll(max(0, int(timeout_s * 1000))):
            self.exit_ns = time.monotonic_ns()
            return True
        return False

    def go(self):
        fd = os.open(self.go_path, os.O_WRONLY | os.O_NONBLOCK)
        os.write(fd, b"g")
        os.close(fd)

    def survivors(self):
        """Our tree members still alive (not zombies), wherever they were reparented."""
        found = []
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
                if argv[0] != self.bench.bchild.encode() or self.records.path.encode() not in argv:
                    continue
                with open(f"/proc/{name}/stat") as f:
                    state = f.read().rpartition(")")[2].split()[0]
            except (OSError, IndexError):
                continue
            if state not in "ZX":
                found.append(int(name))
        return found

    def close(self, term_timeout_s=5):
        """Stop the init if it still runs, then leave nothing of this run behind."""
        if self.pidfd is not None and not self.wait_exit(0):
            self.send(signal.SIGTERM)
            if not self.wait_exit(term_timeout_s):
                self.send(signal.SIGKILL)
                self.wait_exit(5)
        if self.pidfd is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.bench.live.discard(self.proc.pid)
        for pid in self.survivors():
            kill_if_ours(pid, self.bench.bchild, self.records.path)
        deadline = time.monotonic() + 5
        while self.survivors() and time.monotonic() < deadline:
            self.bench.reap_strays()
            time.sleep(0.01)
        self.bench.reap_strays()
        if self.pidfd is not None:
            os.close(self.pidfd)
        self.records.close()
        if self.go_path:
            os.unlink(self.go_path)


def kill_if_ours(pid, bchild, tag):
    """SIGKILL pid through a pidfd, after checking again that it is one of ours."""
    try:
        fd = os.pidfd_open(pid)
    except OSError:
        return
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
        if argv[0] == bchild.encode() and tag.encode() in argv:
            signal.pidfd_send_signal(fd, signal.SIGKILL)
    except OSError:
        pass
    finally:
        os.close(fd)


class Consumer:
    """The reader of an init's output, as a log driver reads a container's: a bchild (drain or
    lines) on pipes of the kernel's default size, 64 KiB; Docker's log pipes are no bigger."""

    def __init__(self, bench, mode, args, streams=1):
        bench.runs += 1
        self.records = Records(bench.tmp / f"consumer{bench.runs}.fifo")
        pipes = [os.pipe() for _ in range(streams)]
        self.write_ends = [w for _, w in pipes]
        reads = [r for r, _ in pipes]
        argv = [bench.bchild, mode, self.records.path, *map(str, args), *map(str, reads[1:])]
        log = bench.log_named("consumer")
        log.write(f"--- run {bench.runs}: {' '.join(argv)}\n")
        log.flush()
        self.proc = subprocess.Popen(argv, stdin=reads[0], stdout=subprocess.DEVNULL, stderr=log,
                                     pass_fds=reads[1:])
        for fd in reads:
            os.close(fd)

    def started(self):
        """The init holds the write ends now: ours would keep the consumer from its EOF."""
        for fd in self.write_ends:
            os.close(fd)
        self.write_ends = []

    def close(self):
        """After the init is gone: the consumer reads to EOF; its total, or None."""
        self.started()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.records.drain()
        self.records.close()
        totals = self.records.by_kind[DRAIN_TOTAL]
        return totals[0][1] if totals else None


def rounds(inits, n, rng):
    """Yield (round, init) so each round runs every init once, shuffled."""
    for r in range(n):
        order = list(inits)
        rng.shuffle(order)
        for init in order:
            yield r, init


# ---------------------------------------------------------------------------
# Measurements, one function each


def measure_latency(bench, inits, n_rounds, per_round, rng):
    """kill(init, SIGUSR1) -> child's handler timestamp, in microseconds."""
    samples = {i.name: [] for i in inits}
    lost = collections.Counter()
    for _, init in rounds(inits, n_rounds, rng):
        run = Run(bench, init, "serve", [])
        try:
            run.ready()
            time.sleep(bench.settle)
            samples[init.name] += signal_samples(run, per_round, rng, lost)
            bench.note_memory(init, run.pid)
        finally:
            run.close()
    return samples, dict(lost)


def signal_samples(run, count, rng, lost, warmup=2):
    """COUNT samples of kill(init, SIGUSR1) -> the child's handler (us), one at a time, 0.5-1.5 ms
    apart; signals with no receipt within 1 s count in lost."""
    samples = []
    got = run.records.by_kind[USR1]
    for k in range(count + warmup):
        before = len(got)
        t0 = time.monotonic_ns()
        run.send(signal.SIGUSR1)
        try:
            run.records.wait(USR1, before + 1, 1.0)
        except TimeoutError:
            lost[run.init.name] += 1
            continue
        if k >= warmup:
            samples.append((got[before][1] - t0) / 1000)
        time.sleep(rng.uniform(0.0005, 0.0015))
    return samples


# The window closes once both are blocked: unshare's forked child blocks SIGINT and SIGTERM before
# it execs (the mask survives exec), SIGUSR1 only sm-init's own block.
WINDOW_BITS = (1 << (signal.SIGTERM - 1)) | (1 << (signal.SIGUSR1 - 1))


WINDOW_POLL_S = 0.0005


def poll_blocked(run, timeout_s=10):
    """ns from BENCH_T0 (bchild's stamp, just before it execs the init) until sm-init's signals are
    blocked, or None: /proc/PID/status is sampled every WINDOW_POLL_S, and the moment is taken
    halfway between the last read that showed them unblocked and the first that showed them
    blocked. Sampling, not spinning: a spinning poller inflated the window by half (34.6 ms
    against 22 ms at 0.2 ms and 17-27 ms at 0.5 ms, one machine, one hour); at 0.5 ms the same
    runs' start-up to the child's main() was 1-7% above the unsampled one (6-14% at 0.2 ms)."""
    deadline = time.monotonic() + timeout_s
    pid, before = None, None
    while time.monotonic() < deadline:
        if pid is None:
            found = children_of(run.proc.pid) if run.pid1 else [run.proc.pid]
            pid = found[0] if found else None
            continue
        try:
            with open(f"/proc/{pid}/status", "rb") as f:
                status = f.read()
        except OSError:
            return None
        seen = time.monotonic_ns()
        blocked = int(status.partition(b"SigBlk:")[2].split(maxsplit=1)[0], 16)
        if blocked & WINDOW_BITS == WINDOW_BITS:
            t0 = bench_t0(pid)
            return None if t0 is None or before is None else (before + seen) // 2 - t0
        before = seen
        time.sleep(WINDOW_POLL_S)
    return None


def bench_t0(pid):
    """BENCH_T0 from the environment bchild's stamp gave the init."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = dict(v.partition(b"=")[::2] for v in f.read().split(b"\0") if v)
        return int(env[b"BENCH_T0"])
    except (OSError, KeyError, ValueError):
        return None


def measure_startup_and_exit(bench, inits, trials, rng):
    """exec(init) -> child's main(), and child's _exit -> init's exit, in ms; for window inits,
    exec -> signals blocked."""
    startup = {i.name: [] for i in inits}
    exit_lag = {i.name: [] for i in inits}
    window = {i.name: [] for i in inits if i.window}
    codes = {i.name: collections.Counter() for i in inits}
    for _, init in rounds(inits, trials, rng):
        run = Run(bench, init, "wait", [])
        try:
            if init.window:
                ns = poll_blocked(run)
                if ns is not None:
                    window[init.name].append(ns / 1e6)
            startup[init.name] += [v / 1e6 for v in run.ready()]
            time.sleep(bench.settle)
            run.go()
            if run.wait_exit(10):
                run.records.wait(EXIT, 1, 5)
                child_exit = run.records.by_kind[EXIT][0][1]
                exit_lag[init.name].append((run.exit_ns - child_exit) / 1e6)
        finally:
            run.close()
            codes[init.name][run.proc.returncode] += 1
    return startup, exit_lag, window, {k: dict(v) for k, v in codes.items()}


def stop_once(bench, init, scenario, pid1, cap_s):
    """One SIGTERM -> exit trial; returns a dict of what happened."""
    workers, loaders, setsid_every, ignore = STOP_SCENARIOS[scenario][1]
    members = 1 + workers + workers * loaders
    run = Run(bench, init, "tree", ["tag", workers, loaders, setsid_every, ignore],
              pid1=pid1, stopping=True)
    try:
        run.ready(members)
        time.sleep(bench.settle)
        bench.note_memory(init, run.pid)
        t0 = time.monotonic_ns()
        run.send(signal.SIGTERM)
        exited = run.wait_exit(cap_s)
        if not exited:
            run.send(signal.SIGKILL)
            run.wait_exit(5)
        run.proc.wait(timeout=10)
        time.sleep(0.1)
        alive = len(run.survivors())
        run.records.drain()
        return {
            "stop_ms": (run.exit_ns - t0) / 1e6 if exited else None,
            "members": members,
            "warned": len(run.records.by_kind[TERM]),
            "alive_after": alive,
            "exit_code": run.proc.returncode,
        }
    finally:
        run.close()


def measure_stop(bench, inits, trials, cap_s, rng):
    """Every scenario, as PID 1 and in subreaper mode; trials interleaved."""
    result = {mode: {s: {i.name: [] for i in inits} for s in STOP_SCENARIOS}
              for mode in ("pid1", "subreaper")}
    for _, init in rounds(inits, trials, rng):
        for scenario in STOP_SCENARIOS:
            for mode in ("pid1", "subreaper"):
                trial = stop_once(bench, init, scenario, mode == "pid1", cap_s)
                result[mode][scenario][init.name].append(trial)
    return result


def measure_reaping(bench, inits, trials, orphans, timeout_s, rng):
    """Orphans -> all reaped, two ways; time, rate, init CPU, zombies left.

    "waves": the child makes `orphans` orphans, 100 at a time (a spawner forks
    100 children that exit at once, then exits), so the figure includes fork
    time, equal for every init: the stream a real tree produces.
    "burst": `orphans` live orphans already belong to the init; one SIGKILL to
    their group makes them all zombies at once: reaping alone, the throughput.
    """
    result = {i.name: [] for i in inits}
    for _, init in rounds(inits, trials, rng):
        # With no init the child is PID 1 and never reaps: waiting is pointless.
        timeout = 1.0 if not init.pid1_argv else timeout_s
        trial = {}
        run = Run(bench, init, "reap", [orphans, 100, int(timeout * 1000)])
        try:
            run.ready()
            cpu0 = cpu_ns(run.pid)
            run.records.wait(REAP_LEFT, 1, timeout + 120)
            bench.note_memory(init, run.pid)
            total = run.records.by_kind[REAP_TOTAL][0][1]
            trial["waves_ms"] = total / 1e6 if total >= 0 else None
            trial["waves_left"] = run.records.by_kind[REAP_LEFT][0][1]
            trial["waves_cpu_ms"] = (cpu_ns(run.pid) - cpu0) / 1e6 if cpu0 is not None else None
        finally:
            run.close()
        run = Run(bench, init, "burst", [orphans, int(timeout * 1000)])
        try:
            run.ready(timeout_s=120)
            cpu0 = cpu_ns(run.pid)
            run.records.wait(REAP_LEFT, 1, timeout + 60)
            bench.note_memory(init, run.pid)
            burst = run.records.by_kind[BURST][0][1]
            trial["burst_ms"] = burst / 1e6 if burst >= 0 else None
            trial["burst_left"] = run.records.by_kind[REAP_LEFT][0][1]
            trial["burst_cpu_ms"] = (cpu_ns(run.pid) - cpu0) / 1e6 if cpu0 is not None else None
        finally:
            run.close(term_timeout_s=10)
        result[init.name].append(trial)
    return result


def measure_idle(bench, inits, window_s):
    """All inits idle side by side: context switches per second, RSS."""
    runs = [Run(bench, init, "serve", []) for init in inits]
    result = {}
    try:
        for run in runs:
            run.ready()
        time.sleep(1.0)
        before = {run.init.name: proc_status(run.pid) for run in runs}
        time.sleep(window_s)
        for run in runs:
            after = proc_status(run.pid)
            bench.note_memory(run.init, run.pid)
            switches = after["switches"] - before[run.init.name]["switches"]
            result[run.init.name] = {
                "switches": switches,
                "window_s": window_s,
                "wakeups_per_s": switches / window_s,
                "rss_kib": kib(after, "VmRSS"),
                "threads": int(after.get("Threads", "1")),
            }
    finally:
        for run in runs:
            run.close()
    return result


def throughput_once(bench, init, size, chunk, streams, timeout_s=120):
    """The child writes SIZE bytes as fast as it can (CHUNK per write; streams=2: alternately to
    stdout and stderr) into a consumer that reads as fast as it can: one trial's figures."""
    consumer = Consumer(bench, "drain", [size], streams)
    out = consumer.write_ends
    run = Run(bench, init, "spew", [size, chunk, streams], stdout=out[0], stderr=out[1] if streams == 2 else None)
    consumer.started()
    trial = {}
    try:
        run.ready()
        time.sleep(bench.settle)
        before, cpu0, faults0 = proc_status(run.pid), cpu_ns(run.pid), minor_faults(run.pid)
        run.go()
        consumer.records.wait(DRAINED, 1, timeout_s)
        run.records.wait(SPEW_START, 1, 5)
        after, cpu1, faults1 = proc_status(run.pid), cpu_ns(run.pid), minor_faults(run.pid)
        bench.note_memory(init, run.pid)
        seconds = (consumer.records.by_kind[DRAINED][0][1] - run.records.by_kind[SPEW_START][0][1]) / 1e9
        mib = size / 2**20
        trial = {"mib_s": mib / seconds, "seconds": seconds}
        if init.pid1_argv:  # with no init the "init" is the writer itself
            trial["cpu_ms_per_mib"] = (cpu1 - cpu0) / 1e6 / mib if None not in (cpu0, cpu1) else None
            trial["switches_per_mib"] = (after["switches"] - before["switches"]) / mib \
                if "switches" in after and "switches" in before else None
            trial["faults_per_mib"] = (faults1 - faults0) / mib if None not in (faults0, faults1) else None
    finally:
        run.close()
        trial["consumer_total"] = consumer.close()
    if trial.get("mib_s") and (trial["consumer_total"] or 0) < size:
        raise RuntimeError(f"{init.name}: the consumer got {trial['consumer_total']} of {size} bytes")
    return trial


# How the child writes: (key, label, streams, bytes per write, MiB per trial, MiB in --quick runs).
# 64 KiB writes are a bulk copy at memory speed; 8 KiB is Python's buffer when stdout is a pipe;
# a line per write is print(..., flush=True), or stderr, which Python flushes at every newline.
THROUGHPUT_VARIANTS = (
    ("bulk", "stdout, 64 KiB writes", 1, 64 * 1024, 256, 64),
    ("bulk2", "stdout + stderr, 64 KiB writes", 2, 64 * 1024, 256, 64),
    ("block", "stdout, 8 KiB writes", 1, 8 * 1024, 128, 32),
    ("lines", "stdout, a 64-byte line per write", 1, 64, 32, 8),
)


def measure_throughput(bench, inits, trials, quick, rng):
    """{variant: {init: [trial]}}: every variant through each init, in every round."""
    result = {v[0]: {i.name: [] for i in inits} for v in THROUGHPUT_VARIANTS}
    for _, init in rounds(inits, trials, rng):
        for key, _, streams, chunk, mib, quick_mib in rng.sample(THROUGHPUT_VARIANTS, len(THROUGHPUT_VARIANTS)):
            size = (quick_mib if quick else mib) * 2**20
            result[key][init.name].append(throughput_once(bench, init, size, chunk, streams))
    return result


def measure_lines(bench, inits, n_rounds, per_round, rng, warmup=2):
    """A short line's trip: the child's stamp just before write() -> the consumer's read() (us)."""
    samples = {i.name: [] for i in inits}
    for _, init in rounds(inits, n_rounds, rng):
        consumer = Consumer(bench, "lines", [])
        run = Run(bench, init, "talk", [per_round + warmup], stdout=consumer.write_ends[0])
        consumer.started()
        try:
            run.ready()
            time.sleep(bench.settle)
            run.go()
            lines = consumer.records.wait(LINE, per_round + warmup, 60)
            samples[init.name] += [ns / 1000 for _, ns in lines[warmup:per_round + warmup]]
        finally:
            run.close()
            consumer.close()
    return samples


def measure_capture_latency(bench, inits, n_rounds, per_round, rates, rng):
    """Signal latency (as measure_latency) with the init's stdout a pipe to a consumer, while
    the child writes RATE lines a second to it (0: the relay idle); {rate: {init: [us]}}."""
    samples = {rate: {i.name: [] for i in inits} for rate in rates}
    lost = collections.Counter()
    for _, init in rounds(inits, n_rounds, rng):
        for rate in rng.sample(list(rates), len(rates)):
            consumer = Consumer(bench, "drain", [0])
            run = Run(bench, init, "serve", [rate], stdout=consumer.write_ends[0])
            consumer.started()
            try:
                run.ready()
                time.sleep(bench.settle)
                samples[rate][init.name] += signal_samples(run, per_round, rng, lost)
            finally:
                run.close()
                consumer.close()
    return samples, dict(lost)


# ---------------------------------------------------------------------------
# Summary, ratios, targets, output


def percentile(values, q):
    if not values:
        return None
    s = sorted(values)
    pos = (len(s) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def median(values):
    return percentile(values, 50)


def summarize(raw, inits, orphans):
    """Rows of (key, label, unit, {init: value}, compare); None is shown as '-'.

    compare is False for counts (warned, alive, zombies): a ratio of counts
    against tini means nothing, the counts themselves are the result."""
    names = [i.name for i in inits]
    rows = []

    def row(key, label, unit, fn, source, compare=True):
        rows.append((key, label, unit, {n: fn(source[n]) for n in names if n in source}, compare))

    lat = raw["latency_us"]
    row("latency_p50_us", "signal latency p50", "us", lambda v: percentile(v, 50), lat)
    row("latency_p99_us", "signal latency p99", "us", lambda v: percentile(v, 99), lat)
    row("latency_max_us", "signal latency max", "us", lambda v: max(v) if v else None, lat)
    row("startup_p50_ms", "startup p50 (exec -> child main)", "ms", median, raw["startup_ms"])
    row("startup_max_ms", "startup max", "ms", lambda v: max(v) if v else None, raw["startup_ms"])
    row("exit_lag_p50_ms", "exit after child's exit p50", "ms", median, raw["exit_lag_ms"])
    for mode, where in (("pid1", "PID 1"), ("subreaper", "subreaper")):
        for s, (label, _) in STOP_SCENARIOS.items():
            trials = raw["stop"][mode][s]
            row(f"stop_{mode}_{s}_ms", f"stop ({s}) {label}, {where}", "ms",
                lambda t: median([x["stop_ms"] for x in t if x["stop_ms"] is not None])
                if t and all(x["stop_ms"] is not None for x in t) else None, trials)
            if STOP_SCENARIOS[s][1][0]:  # trees: how many were warned / survived
                row(f"warned_{mode}_{s}", f"  warned by SIGTERM ({s}), {where}", "of 73",
                    lambda t: max(x["warned"] for x in t) if t else None, trials, False)
            if mode == "subreaper":
                row(f"alive_{mode}_{s}", f"  alive after exit ({s}), {where}", "procs",
                    lambda t: max(x["alive_after"] for x in t) if t else None, trials, False)
    reap = raw["reap"]

    def med(field):
        return lambda t: median([x[field] for x in t]) if t and all(x[field] for x in t) else None

    def rate(field):
        return lambda t: orphans / (med(field)(t) / 1000) if med(field)(t) else None

    # With no init the "init" is the child itself, busy forking: no CPU floor.
    busy = {k: v for k, v in reap.items() if k != "no init"}
    row("reap_waves_ms", f"reap {orphans} orphans made in waves of 100", "ms", med("waves_ms"), reap)
    row("reap_waves_rate", "  rate, waves (fork-bound)", "orphans/s", rate("waves_ms"), reap)
    row("reap_waves_cpu_ms", "  init CPU, waves", "ms", med("waves_cpu_ms"), busy)
    row("reap_burst_ms", f"reap {orphans} orphans killed at once", "ms", med("burst_ms"), reap)
    row("reap_rate", "  rate, burst (reaper-bound)", "orphans/s", rate("burst_ms"), reap)
    row("reap_burst_cpu_ms", "  init CPU, burst", "ms", med("burst_cpu_ms"), busy)
    row("zombies_left", "zombies left (both)", "procs",
        lambda t: max(max(x["waves_left"], x["burst_left"]) for x in t) if t else None, reap, False)
    row("peak_rss_mib", "peak RSS (VmHWM, max of all runs)", "MiB",
        lambda k: k / 1024 if k else None, raw["peak_kib"])
    row("idle_rss_mib", "idle RSS", "MiB",
        lambda d: d["rss_kib"] / 1024 if d.get("rss_kib") else None, raw["idle"])
    row("idle_wakeups_per_s", "idle wakeups", "/s", lambda d: d["wakeups_per_s"], raw["idle"])
    return rows


def ratios(rows, base="tini"):
    out = {}
    for key, _, _, values, compare in rows:
        if compare:
            b = values.get(base)
            out[key] = {n: (v / b if v is not None and b else None) for n, v in values.items()}
    return out


# The start-up table: (key, init, raw figure, label); ratios are to the first row, the floor.
STARTUP_ROWS = (
    ("floor", "python floor", "startup_ms", "bare interpreter floor: sm-init's python -I -c, exec of the child"),
    ("command", "sm-init", "startup_ms", "sm-init -- CHILD"),
    ("sagemaker", "sm-init train", "startup_ms", "sm-init -- train (SageMaker's path: SM_INIT_TRAIN, SM_INIT_ML_ROOT)"),
    ("options", "sm-init options", "startup_ms", "sm-init " + " ".join(SM_INIT_OPTIONS) + " -- CHILD"),
    ("window", "sm-init window", "window_ms", "PID-1 start-up window: exec -> sm-init's signals blocked"),
    ("sampled", "sm-init window", "startup_ms", "sm-init -- CHILD in the window's runs (what sampling costs)"),
    ("py_loop", "py-loop", "startup_ms", "py-loop (python -S bench/pyloop.py)"),
)


def startup_table(raw):
    """Start-up figures against the bare-interpreter floor of the same run, one dict per row."""
    table = []
    for key, name, figure, label in STARTUP_ROWS:
        values = raw.get(figure, {}).get(name, [])
        table.append({"key": key, "label": label, "n": len(values),
                      "p50_ms": median(values), "max_ms": max(values) if values else None})
    floor = table[0]["p50_ms"]
    for entry in table:
        entry["vs_floor"] = entry["p50_ms"] / floor if entry["p50_ms"] is not None and floor else None
    return table


def paired_ratio(trials_a, trials_b, field):
    """Median over rounds of b/a for one field (times: a's rate against b's), rounds paired by index."""
    pairs = [(a[field], b[field]) for a, b in zip(trials_a, trials_b) if a.get(field) and b.get(field)]
    return median([b / a for a, b in pairs]) if pairs else None, len(pairs)


def targets(rows, raw, startup):
    """Issue 11's targets for sm-init, and issue 5's it did not supersede: a list of (met, text);
    met is None when not measured."""
    v = {key: values for key, _, _, values, _ in rows}
    sm = "sm-init"
    if not raw["config_has_sm_init"]:
        return [(None, "sm-init was not measured (not installed)")]
    out = []

    def check(ok, text, *values):
        out.append((None if any(x is None for x in values) else ok(), text))

    def ratio(key, what, limit, base="tini", op="<="):
        a, b = v[key].get(sm), v[key].get(base)
        r = a / b if a is not None and b else None
        check(lambda: r <= limit, f"{what}: sm-init {fmt(a)} vs {base} {fmt(b)} = {fmt(r)}x (target {op} {limit}x)",
              a, b)

    by_key = {entry["key"]: entry for entry in startup}
    floor = by_key["floor"]["p50_ms"]
    for key, what, limit in (("sagemaker", "start-up p50, SageMaker's path (-- train, SM_INIT_*)", 2.0),
                             ("options", "start-up p50, options on the command line", 3.0),
                             ("window", "PID-1 start-up window p50 (exec -> signals blocked)", 1.2)):
        ms, r = by_key[key]["p50_ms"], by_key[key]["vs_floor"]
        check(lambda: r <= limit, f"{what}: {fmt(ms)} ms vs the bare interpreter {fmt(floor)} ms = {fmt(r)}x "
              f"(target <= {limit}x)", ms, floor)
    for mode, where in (("pid1", "PID 1"), ("subreaper", "subreaper")):
        for s_ in ("b", "c", "e"):
            ratio(f"stop_{mode}_{s_}_ms", f"stop ({s_}) {STOP_SCENARIOS[s_][0]}, {where} (ms)", 2.0, base="tini -g")
    ratio("exit_lag_p50_ms", "exit after the main child's exit, p50 (ms)", 1.3, base="py-loop")
    rss = v["idle_rss_mib"].get(sm)
    check(lambda: rss <= 12, f"idle RSS: {fmt(rss)} MiB (target <= 12 MiB)", rss)
    reap = raw["reap"]
    r, rounds_ = paired_ratio(reap.get(sm, []), reap.get("tini", []), "burst_ms")
    left = v["zombies_left"].get(sm)
    check(lambda: r >= 1.0 and left == 0, f"reaping rate (burst): sm-init / tini = {fmt(r)}x, median of "
          f"{rounds_} paired round(s); zombies left {fmt(left)} (target >= 1.0x, 0 left)", r, left)
    ratio("latency_p50_us", "signal latency p50 (us)", 1.2)
    ratio("latency_p99_us", "signal latency p99 (us)", 1.2)
    w = v["idle_wakeups_per_s"].get(sm)
    check(lambda: w <= 0.2, f"idle wakeups: {fmt(w)}/s, tini {fmt(v['idle_wakeups_per_s'].get('tini'))}/s "
          f"(target: no periodic wakeups, <= 0.2/s)", w)
    alive, slow = [], []
    for mode in ("pid1", "subreaper"):
        for s_ in STOP_SCENARIOS:
            for x in raw["stop"][mode][s_].get(sm, []):
                alive.append(x["alive_after"])
                if x["stop_ms"] is None:
                    slow.append(f"({s_}) {mode}")
    worst = max(alive) if alive else None
    check(lambda: worst == 0, f"processes alive after sm-init's exit, every stop scenario, PID 1 "
          f"and subreaper: max {fmt(worst)} (target 0)", worst)
    if slow:
        out.append((False, "sm-init did not exit within the stop cap in: " + ", ".join(slow)))
    peak = v["peak_rss_mib"].get(sm)
    check(lambda: peak <= 20, f"peak RSS: {fmt(peak)} MiB (issue 5, target <= 20 MiB)", peak)
    return out


# The output relay's tables: the relay (sm-init, capture on by default), the direct write it is held
# to (sm-init --no-capture: the child writes into the consumer's pipe itself), and the floor.
RELAY_COLUMNS = ("sm-init", "sm-init --no-capture", "no init")
THROUGHPUT_COLUMNS = RELAY_COLUMNS + ("C relay",)  # and what a relay that copies can do at best
CAPTURE_COLUMNS = ("sm-init", "sm-init --no-capture", "tini")


def relay_rows(raw):
    """{section: [(key, label, unit, {init: value})]} of what was measured; sections left out
    when not measured."""
    sections = {}
    throughput = raw.get("throughput") or {}
    if throughput:
        rows = []

        def field(variant, name, what):
            trials = throughput[variant].get(name, [])
            values = [t[what] for t in trials if t.get(what) is not None]
            return median(values) if values and len(values) == len(trials) else None

        for key, label, *_ in THROUGHPUT_VARIANTS:
            if key not in throughput:
                continue
            for what, text, unit in (("mib_s", label, "MiB/s"),
                                     ("cpu_ms_per_mib", "  init CPU", "ms/MiB"),
                                     ("switches_per_mib", "  init context switches", "/MiB"),
                                     ("faults_per_mib", "  init page faults", "/MiB")):
                rows.append((f"throughput_{key}_{what}", text, unit,
                             {n: field(key, n, what) for n in THROUGHPUT_COLUMNS if n in throughput[key]}))
        sections["throughput"] = rows
    lines = raw.get("line_us") or {}
    if lines:
        sections["lines"] = [(f"line_{key}_us", label, "us", {n: fn(v) for n, v in lines.items()})
                             for key, label, fn in (("p50", "p50", lambda v: percentile(v, 50)),
                                                    ("p99", "p99", lambda v: percentile(v, 99)),
                                                    ("max", "max", lambda v: max(v) if v else None))]
    capture = raw.get("capture_us") or {}
    if capture:
        rows = []
        for r in sorted(capture):
            where = "relay idle" if r == 0 else f"child writes {r} lines/s"
            for q in (50, 99):
                rows.append((f"capture_{r}_p{q}_us", f"p{q}, {where}", "us",
                             {n: percentile(v, q) for n, v in capture[r].items()}))
        sections["capture"] = rows
    return sections


def relay_targets(sections):
    """Issue 13's: the relay >= 0.8x a direct write; forwarding still <= 1.2x tini with it."""
    out = []
    for key, label, _, values in sections.get("throughput", []):
        if key.endswith("_mib_s"):
            a, b = values.get("sm-init"), values.get("sm-init --no-capture")
            r = a / b if a is not None and b else None
            out.append((None if r is None else r >= 0.8, f"relay throughput, {label}: sm-init {fmt(a)} MiB/s vs "
                        f"--no-capture (a direct write) {fmt(b)} MiB/s = {fmt(r)}x (target >= 0.8x)"))
    for key, label, _, values in sections.get("capture", []):
        a, b = values.get("sm-init"), values.get("tini")
        r = a / b if a is not None and b else None
        out.append((None if r is None else r <= 1.2, f"signal latency {label}, sm-init relaying (us): "
                    f"{fmt(a)} vs tini {fmt(b)} = {fmt(r)}x (target <= 1.2x)"))
    return out


RELAY_TEXT = {
    "throughput": ("Relay throughput", "From the child's first write to the moment the consumer has read "
                   "every byte (64-byte lines; {sizes} MiB per trial in the rows below; median of {trials} "
                   "trial(s)). The consumer (bchild drain) reads 1 MiB at a time from pipes of the default "
                   "size (64 KiB), as a log driver would. CPU, context switches and page faults are the "
                   "init's own, per MiB relayed. \"C relay\" (`bchild relay`: read/write in C, 64 KiB at a "
                   "time, 1 MiB pipes) is a reference: what a relay that copies can reach on this machine.",
                   ("sm-init", "sm-init --no-capture")),
    "lines": ("A line's latency", "A short line (\"L <time>\\n\") from the child's stamp just before "
              "write() to its arrival at the consumer's read(); one at a time, 0.5-1.5 ms apart, {line_n} "
              "per init.", ("sm-init", "sm-init --no-capture")),
    "capture": ("Signal forwarding while relaying", "kill(init, SIGUSR1) -> the child's handler as in the main "
                "table, with the init's stdout a pipe to a consumer; \"lines/s\": the child writes a steady "
                "stream of lines to its stdout meanwhile.", ("sm-init", "tini")),
}


def relay_markdown(sections, cfg):
    """The relay's sections of RESULTS.md: a table each, with the ratio the targets use."""
    if not sections:
        return []
    lines = ["", "## The output relay (issue 13)", "",
             "sm-init's stdout and stderr are pipes in these runs, so it relays the child's output "
             "(capture is on by default when they are not terminals); `--no-capture` lets the child "
             "write into the consumer's pipe itself. PID 1, interleaved rounds."]
    names = {"sm-init": "sm-init (relay)", "sm-init --no-capture": "sm-init --no-capture (direct)"}
    for section, rows in sections.items():
        title, text, (top, bottom) = RELAY_TEXT[section]
        columns = {"capture": CAPTURE_COLUMNS, "throughput": THROUGHPUT_COLUMNS}.get(section, RELAY_COLUMNS)
        lines += ["", f"### {title}", "",
                  text.format(sizes="/".join(str(v[5] if cfg["quick"] else v[4]) for v in THROUGHPUT_VARIANTS),
                              trials=cfg["throughput_trials"],
                              line_n=cfg["line_rounds"] * cfg["lines_per_round"]), "",
                  "| | unit | " + " | ".join(names.get(n, n) for n in columns) + f" | {top} / {bottom} |",
                  "|---|---|" + "---:|" * (len(columns) + 1)]
        for _, label, unit, values in rows:
            a, b = values.get(top), values.get(bottom)
            r = f"{a / b:.2f}x" if a is not None and b and unit in ("MiB/s", "us") else "-"
            lines.append(f"| {label} | {unit} | " + " | ".join(fmt(values.get(n)) for n in columns) + f" | {r} |")
    return lines


def source_revision():
    """The commit of the measured tree, '+changes' when supervisor/ differs from it."""
    def git(*args):
        try:
            return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True,
                                  timeout=10).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""
    head = git("rev-parse", "--short", "HEAD")
    if not head:
        return "unknown"
    return head + ("+changes" if git("status", "--porcelain", "--", "supervisor") else "")


def machine_info():
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "loadavg_at_start": os.getloadavg()[0],
    }


def fmt(value):
    if value is None:
        return "-"
    if isinstance(value, int) or abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def shown_path(path):
    """A path under the repo relative to it: the table must not name this machine's folders."""
    try:
        return str(Path(path).resolve().relative_to(REPO))
    except ValueError:
        return path


def markdown(results, rows, verdicts, inits, command):
    m = results["machine"]
    names = [i.name for i in inits]
    has_sm = "sm-init" in names
    lines = [
        "# sm-init bench results",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, kernel {m['kernel']}, Python {m['python']}, "
        f"{m['date']}, 1-minute load {m['loadavg_at_start']:.2f} at start (other work, and this "
        "bench's own bursts of 10,000 processes, count in it).",
        f"Command: `{command}`. Versions: "
        + "; ".join(f"{n}: {results['versions'][n]}" for n in names if n != "no init") + "."
        + (f" sm-init measured: `{shown_path(results['config']['sm_init'])}`, built from commit "
           f"{results['revision']}." if has_sm else ""),
        "",
        "Method: see the docstring of bench/bench.py. Every init runs as PID 1 of a fresh PID "
        "namespace unless the row says subreaper; each init gets "
        f"{results['config']['settle_s']:g} s after its child is ready before the signal or the "
        "child's exit; sm-init runs with "
        f"--stop-timeout {SM_INIT_STOP_TIMEOUT} --signal-scope group in the stop rows (tini -g's "
        "semantics), \"sm-init auto\" with its default scope (the tree's main process catches "
        "SIGTERM, so it alone hears the stop, and the workers it leaves behind keep the grace); "
        "'-' in a stop row means the "
        f"init did not exit within {results['config']['stop_cap_s']} s of SIGTERM (docker "
        "would SIGKILL it). \"warned\" = tree members that ran their SIGTERM handler before they "
        "died (out of 73); \"alive after\" = tree members alive 100 ms after the init exited.",
        "",
        "| metric | unit | " + " | ".join(names) + (" | sm-init / tini |" if has_sm else ""),
        "|---|---|" + "---:|" * len(names) + ("---:|" if has_sm else ""),
    ]
    rat = results["ratios_vs_tini"]
    for key, label, unit, values, _ in rows:
        cells = [fmt(values.get(n)) for n in names]
        line = f"| {label} | {unit} | " + " | ".join(cells) + " |"
        if has_sm:
            r = rat.get(key, {}).get("sm-init")
            line += f" {r:.2f}x |" if r is not None else " - |"
        lines.append(line)
    startup = results.get("startup_vs_floor") or []
    if has_sm and any(entry["n"] for entry in startup):
        lines += ["", "## Start-up against the bare interpreter", "",
                  "From bchild's stamp (just before it execs the init) to the child's main(), PID 1, "
                  "interleaved with the rows above; the window row samples SigBlk in /proc/PID/status "
                  f"every {WINDOW_POLL_S * 1000:g} ms (in runs of its own, so the sampling does not blur the others).",
                  "",
                  "| start-up | p50 ms | max ms | runs | / floor |", "|---|---:|---:|---:|---:|"]
        for entry in startup:
            lines.append(f"| {entry['label']} | {fmt(entry['p50_ms'])} | {fmt(entry['max_ms'])} | {entry['n']} | "
                         + (f"{entry['vs_floor']:.2f}x |" if entry["vs_floor"] is not None else "- |"))
    lines += relay_markdown(results.get("relay") or {}, results["config"])
    lines += ["", "## Targets (issue 11, issue 13's for the relay; issue 5's where not superseded)", ""]
    for met, text in verdicts:
        tag = "met" if met else ("not measured" if met is None else "MISSED")
        lines.append(f"- **{tag}**: {text}")
    lost = results["raw"].get("latency_lost")
    if lost:
        lines += ["", f"Signals lost (no receipt within 1 s): {lost}"]
    lost = results["raw"].get("capture_lost")
    if lost:
        lines += ["", f"Signals lost while relaying (no receipt within 1 s): {lost}"]
    lines.append("")
    return "\n".join(lines)


def chart(samples, path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("bench: matplotlib not available, no chart", file=sys.stderr)
        return False
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    for name, values in samples.items():
        if not values:
            continue
        s = sorted(values)
        ax1.plot(s, [(i + 1) / len(s) for i in range(len(s))], label=name, lw=1.5)
    ax1.set_xscale("log")
    ax1.set_xlabel("kill(init, SIGUSR1) -> child's handler (us, log)")
    ax1.set_ylabel("fraction of samples")
    ax1.set_title("Signal forwarding latency, CDF")
    ax1.grid(True, which="both", alpha=0.3)
    ax1.legend()
    names = [n for n, v in samples.items() if v]
    ax2.boxplot([samples[n] for n in names], showfliers=False)
    ax2.set_xticks(range(1, len(names) + 1), names, rotation=20)
    ax2.set_ylabel("us")
    ax2.set_title("box p25-p75, whiskers 1.5 IQR, outliers not drawn")
    ax2.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bchild", required=True, help="the compiled bench/bchild.c")
    parser.add_argument("--sm-init", default=None, help="sm-init executable (default: repo .venv)")
    parser.add_argument("--quick", action="store_true", help="few samples: a smoke run")
    parser.add_argument("--out", default=str(HERE / "out"))
    parser.add_argument("--only", default="", help="comma list: " + ",".join(sorted(CORE)) + " and the "
                        "relay's " + ",".join(sorted(RELAY)) + " (default: all)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--settle", type=float, default=SETTLE_S,
                        help="seconds between the child's ready and the signal or its exit")
    parser.add_argument("--extra-init", action="append", default=[], metavar="NAME=COMMAND",
                        help="also measure this init (experiments; the child is appended)")
    parser.add_argument("--command", default="bench/run", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if os.geteuid() != 0:
        sys.exit("bench: needs root (unshare --pid, and signals to namespace inits)")
    sm_init = args.sm_init
    if sm_init is None:
        sm_init = str(REPO / ".venv" / "bin" / "sm-init")
        if not os.access(sm_init, os.X_OK):
            sm_init = shutil.which("sm-init")
    if sm_init and not os.access(sm_init, os.X_OK):
        sys.exit(f"bench: {sm_init} is not executable")
    if not sm_init:
        print("bench: sm-init not found, measuring the others only", file=sys.stderr)
    ml_root = tempfile.mkdtemp(prefix="smbench-ml-")  # train mode wants a writable <ml-root>
    inits = find_inits(sm_init, args.extra_init, args.bchild, ml_root)

    q = args.quick
    cfg = {
        "quick": q,
        "latency_rounds": 2 if q else 12,
        "latency_per_round": 50 if q else 100,
        "startup_trials": 5 if q else 20,
        "stop_trials": 1 if q else 3,
        "stop_cap_s": 3,
        "reap_trials": 1 if q else 5,
        "orphans": 10000,
        "reap_timeout_s": 30,
        "idle_window_s": 3 if q else 10,
        "throughput_trials": 2 if q else 5,
        "line_rounds": 2 if q else 6,
        "lines_per_round": 100 if q else 200,
        "capture_rounds": 2 if q else 6,
        "capture_per_round": 50 if q else 100,
        "capture_rates": [0, 1000],
        "sm_init": sm_init,
        "settle_s": args.settle,
        "seed": args.seed,
    }
    only = set(filter(None, args.only.split(","))) or set(MEASUREMENTS)
    if only - MEASUREMENTS:
        sys.exit(f"bench: --only: no measurement named {', '.join(sorted(only - MEASUREMENTS))}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    rng = random.Random(args.seed)
    bench = Bench(args.bchild, out)
    bench.settle = args.settle

    results = {"machine": machine_info(), "config": cfg, "revision": source_revision(),
               "versions": {i.name: init_version(i) for i in inits}}
    raw = results["raw"] = {"latency_us": {}, "startup_ms": {}, "exit_lag_ms": {}, "window_ms": {},
                            "stop": {m: {s: {} for s in STOP_SCENARIOS} for m in ("pid1", "subreaper")},
                            "reap": {}, "idle": {}, "throughput": {}, "line_us": {}, "capture_us": {}}
    started = time.monotonic()

    def step(name):
        print(f"bench: {name} ... ({time.monotonic() - started:.0f} s)", file=sys.stderr, flush=True)

    def taking(what):
        return [init for init in inits if what in init.takes]

    if "latency" in only:
        step("signal latency")
        raw["latency_us"], raw["latency_lost"] = measure_latency(
            bench, taking("latency"), cfg["latency_rounds"], cfg["latency_per_round"], rng)
    if "startup" in only:
        step("startup and exit lag")
        raw["startup_ms"], raw["exit_lag_ms"], raw["window_ms"], raw["startup_exit_codes"] = \
            measure_startup_and_exit(bench, taking("startup"), cfg["startup_trials"], rng)
    if "stop" in only:
        step("stop time")
        raw["stop"] = measure_stop(bench, taking("stop"), cfg["stop_trials"], cfg["stop_cap_s"], rng)
    if "reap" in only:
        step("reaping")
        raw["reap"] = measure_reaping(bench, taking("reap"), cfg["reap_trials"], cfg["orphans"],
                                      cfg["reap_timeout_s"], rng)
    if "idle" in only:
        step("idle cost")
        raw["idle"] = measure_idle(bench, taking("idle"), cfg["idle_window_s"])
    if "throughput" in only:
        step("relay throughput")
        raw["throughput"] = measure_throughput(bench, taking("throughput"), cfg["throughput_trials"], q, rng)
    if "lines" in only:
        step("a line's latency through the relay")
        raw["line_us"] = measure_lines(bench, taking("lines"), cfg["line_rounds"], cfg["lines_per_round"], rng)
    if "capture" in only:
        step("signal latency while relaying")
        raw["capture_us"], raw["capture_lost"] = measure_capture_latency(
            bench, taking("capture"), cfg["capture_rounds"], cfg["capture_per_round"], cfg["capture_rates"], rng)
    raw["peak_kib"] = dict(bench.peak_kib)
    results["elapsed_s"] = round(time.monotonic() - started, 1)

    # The others have tables of their own (start-up, the relay).
    table_inits = [init for init in inits if init.takes & (CORE - STARTUP_ONLY)]
    rows = summarize(raw, table_inits, cfg["orphans"])
    results["startup_vs_floor"] = startup_table(raw)
    results["summary"] = {key: values for key, _, _, values, _ in rows}
    results["ratios_vs_tini"] = ratios(rows)
    raw["config_has_sm_init"] = bool(sm_init)
    results["relay"] = relay_rows(raw)
    verdicts = targets(rows, raw, results["startup_vs_floor"]) + relay_targets(results["relay"])
    results["targets"] = [{"met": met, "text": text} for met, text in verdicts]
    command = args.command + (" --quick" if q else "")

    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    md = markdown(results, rows, verdicts, table_inits, command)
    (out / "results.md").write_text(md)
    if not q and only == MEASUREMENTS and args.settle == SETTLE_S:
        (HERE / "RESULTS.md").write_text(md)
    if raw["latency_us"]:
        chart(raw["latency_us"], out / "latency.png")
    print(md)
    print(f"bench: done in {results['elapsed_s']} s; results in {out}", file=sys.stderr)
    shutil.rmtree(bench.tmp, ignore_errors=True)
    shutil.rmtree(ml_root, ignore_errors=True)


if __name__ == "__main__":
    main()
