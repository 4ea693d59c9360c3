"""The shared runner: the FIFO the child reports on, one init with its child running, the reader
of its output, the rounds that interleave the inits; and the /proc readers every measurement uses.

The process under every init is ``bchild`` (bchild.c), a static C program that only timestamps with
CLOCK_MONOTONIC and writes 16-byte records to a per-run FIFO. CLOCK_MONOTONIC is shared with this
harness (``time.monotonic_ns``), so "harness sent at t0" and "child received at t1" are on one clock
and the child costs the same under every init.

Every batch is interleaved (``rounds``): each round runs every init once, in a shuffled order, so
slow drift on a noisy shared machine hits all inits alike. The init gets SETTLE_S (0.25 s) after
its child is ready before the first signal or the child's exit, like a job that has run a while;
``--settle 0`` measures the first instants instead.
"""

import collections
import os
import select
import signal
import struct
import subprocess
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

# Record kinds, as in bchild.c (REAP_DRAIN is sent but not used here).
READY, USR1, TERM, EXIT, REAP_TOTAL, REAP_DRAIN, REAP_LEFT, BURST = range(1, 9)
SPEW_START, SPEW_END, DRAINED, DRAIN_TOTAL, LINE = range(9, 14)
RECORD = struct.Struct("=iiq")
PR_SET_CHILD_SUBREAPER = 36
# Time given to an init after its child is ready and before it is signalled or its child
# exits: a job signalled in its first instants is rare, and an init may finish setting up
# after spawning (sm-init imports psutil then). `--settle 0` measures that window.
SETTLE_S = 0.25


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
