"""Many hosts of one job on this machine: a real sm-init per host, all on loopback (issue 19's scale).

    python tests/helpers/peersim.py --hosts 256 --event fail --victim algo-2 ROOT

runs, inside a PID and network namespace of its own (``unshare --pid --fork --mount-proc --net``,
so that every process it starts dies with it, its port clashes with nothing and the kernel's TCP
counters it reads are the run's alone), one real sm-init per host: not a stand-in, the very
program and wire protocol a job runs, in subreaper mode. Host K gets ROOT/algo-K as its ml root,
with a resourceconfig.json naming it current_host among algo-1..algo-N; every host is told the
coordinator is 127.0.0.1 (``--peer-coordinator``, hosts[0] is still the coordinator's identity).
The trainer of each host is ``sleep`` (a job that works and says nothing); the victim's, for the
``fail`` event, waits on a FIFO and then fails as a Python trainer does (a traceback ending in
``RuntimeError: host two exploded``, exit 1).

Then it measures, and prints one JSON object:
  * joining: seconds from the first start until the coordinator logs that every host joined
    (``sm-init: peers: all N hosts joined``), and what else it said meanwhile (connections it dropped);
  * steady state over ``--steady`` seconds: the coordinator's CPU (utime+stime, as a share of one
    core), its RSS and peak RSS, every host's RSS, TCP segments and data segments per second
    (TcpExt TCPOrigDataSent: one per message sent, in either direction, when each message is one
    write);
  * the event (``fail``: the victim's trainer fails; ``freeze``: SIGSTOP to the victim's sm-init and
    trainer, a frozen host; ``kill``: SIGKILL to both, a host gone with its sockets closed), then
    for every other host the seconds from the event to its exit (pidfds: the kernel's word), its
    exit code and its failure file's first line, and the coordinator's CPU over that window.

tests/test_peers_scale.py runs it with 32 hosts; bench/multihost.py with 256 and more, into
bench/MULTIHOST.md.
"""
import argparse
import json
import os
import resource
import select
import shlex
import shutil
import signal
import subprocess
import sys
import time

FAIL_MESSAGE = "host two exploded"
VERDICT = b"sm-init: peers: stopping:"
WATCH_EVERY = 0.02      # seconds between looks at the logs for the verdict line, after the event
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def namespace_command(argv):
    """The command that runs this module in namespaces of its own, with argv."""
    return ["unshare", "--pid", "--fork", "--mount-proc", "--net", sys.executable, os.path.abspath(__file__)] + argv


def host_names(n):
    return ["algo-%d" % (i + 1) for i in range(n)]


def failing_trainer(fifo):
    script = ('read go < %s; echo "Traceback (most recent call last):" >&2; '
              'echo "  File \\"train.py\\", line 1, in <module>" >&2; '
              'echo "RuntimeError: %s" >&2; exit 1') % (shlex.quote(fifo), FAIL_MESSAGE)
    return "sh -c %s" % shlex.quote(script)


def prepare(root, names, name, job, port, settings, train):
    """ROOT/name as an ml root; the environment that runs sm-init as that host."""
    ml = os.path.join(root, name)
    os.makedirs(os.path.join(ml, "input", "config"), exist_ok=True)
    os.makedirs(os.path.join(ml, "output"), exist_ok=True)
    os.makedirs(os.path.join(root, "no-hooks"), exist_ok=True)
    config = os.path.join(ml, "input", "config", "resourceconfig.json")
    with open(config, "w") as f:
        json.dump({"current_host": name, "hosts": names, "network_interface_name": "lo"}, f)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SM_INIT_")}
    env.update({"TRAINING_JOB_NAME": job, "SM_INIT_PEERS": "on", "SM_INIT_RESOURCE_CONFIG": config,
                "SM_INIT_ML_ROOT": ml, "SM_INIT_PEER_COORDINATOR": "127.0.0.1",
                "SM_INIT_PEER_PORT": str(port), "SM_INIT_HOOKS_DIR": os.path.join(root, "no-hooks"),
                "SM_INIT_TRAIN": train})
    env.update({"SM_INIT_" + k.upper().replace("-", "_"): str(v) for k, v in settings.items()})
    return ml, env


def proc_stat(pid):
    """(CPU seconds, RSS bytes) of pid."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS, int(fields[21]) * PAGE


def peak_rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def run_queue_wait(pid):
    """Seconds pid has spent runnable but waiting for a CPU (/proc/PID/schedstat's second field)."""
    try:
        with open("/proc/%d/schedstat" % pid) as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def tcp_counters():
    """{'InSegs':..., 'OutSegs':..., 'TCPOrigDataSent':...} of this network namespace."""
    found = {}
    for path in ("/proc/net/snmp", "/proc/net/netstat"):
        with open(path) as f:
            lines = f.read().splitlines()
        for head, values in zip(lines[::2], lines[1::2]):
            if head.startswith(("Tcp:", "TcpExt:")):
                found.update(zip(head.split()[1:], map(int, values.split()[1:])))
    return {k: found.get(k, 0) for k in ("InSegs", "OutSegs", "TCPOrigDataSent")}


def established(port):
    """Connections to the coordinator's port, seen from its side (ESTABLISHED, local port = port)."""
    count = 0
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if parts[3] == "01" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                        count += 1
        except FileNotFoundError:
            pass
    return count


def loopback_up():
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)


class VerdictWatch:
    """When each host's log first shows its verdict line: the verdict's arrival, apart from the stop
    that follows (with hundreds of hosts stopping at once on a few cores, the stops queue for CPU)."""

    def __init__(self, logs):
        self.logs = dict(logs)          # name -> path
        self.read = {name: 0 for name in logs}
        self.tails = {name: b"" for name in logs}
        self.seen = {}                  # name -> monotonic time the line was first seen

    def __call__(self):
        for name, path in self.logs.items():
            if name in self.seen:
                continue
            try:
                size = os.stat(path).st_size
            except FileNotFoundError:
                continue
            if size > self.read[name]:
                with open(path, "rb") as f:
                    f.seek(self.read[name])
                    chunk = f.read(size - self.read[name])
                self.read[name] = size
                text = self.tails[name] + chunk
                if VERDICT in text:
                    self.seen[name] = time.monotonic()
                self.tails[name] = text[-len(VERDICT):]


class Hosts:
    """The running sm-inits: pid, pidfd and exit of each, reaped by this process (PID 1 here)."""

    def __init__(self):
        self.procs = {}       # name -> Popen
        self.exits = {}       # name -> (monotonic time, exit code)
        self.by_fd = {}
        self.usage = {}       # name -> resource usage at its exit (wait4)
        self.poller = select.poll()

    def start(self, name, sm_init, ml, env):
        with open(os.path.join(ml, "sm-init.log"), "wb") as log:
            proc = subprocess.Popen([sm_init, "--", "train"], env=env, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT, cwd=ml)
        fd = os.pidfd_open(proc.pid)
        self.procs[name], self.by_fd[fd] = proc, name
        self.poller.register(fd, select.POLLIN)

    def children_of(self, pid):
        try:
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                return [int(p) for p in f.read().split()]
        except OSError:
            return []

    def wait(self, names, deadline, watch=None):
        """Record each exit as the kernel reports it, until every one of names has exited or the
        deadline (monotonic) passed; everything else that ends here is reaped too. ``watch``: called
        every WATCH_EVERY seconds meanwhile."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or (names and all(n in self.exits for n in names)):
                return
            self.poll(min(left, WATCH_EVERY if watch else 1.0))
            if watch:
                watch()

    def poll(self, seconds):
        """Wait up to seconds for exits; record those that came."""
        for fd, _ in self.poller.poll(seconds * 1000):
            name = self.by_fd.pop(fd)
            self.poller.unregister(fd)
            os.close(fd)
            when = time.monotonic()
            proc = self.procs[name]
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            self.exits[name] = (when, proc.returncode)
            self.usage[name] = usage
        self.reap_orphans()

    def reap_orphans(self):
        """Reap what was reparented to this PID 1 (a killed host's trainer), never a host."""
        known = {p.pid for p in self.procs.values()}
        while True:
            try:
                found = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return
            if found is None or found.si_pid in known:
                return
            os.waitpid(found.si_pid, 0)


def first_line(ml):
    try:
        with open(os.path.join(ml, "output", "failure"), encoding="utf-8", errors="replace") as f:
            return f.readline().rstrip("\n")
    except FileNotFoundError:
        return None


def log_lines(ml, prefix="sm-init: peers:"):
    try:
        with open(os.path.join(ml, "sm-init.log"), encoding="utf-8", errors="replace") as f:
            return [line.rstrip("\n") for line in f if line.startswith(prefix)]
    except FileNotFoundError:
        return []


def simulate(args):
    loopback_up()
    names = host_names(args.hosts)
    job = "sim-%d" % os.getpid()
    settings = {"peer_heartbeat": args.heartbeat, "peer_timeout": args.peer_timeout,
                "peer_join_timeout": args.join_timeout, "stop_timeout": args.stop_timeout}
    fifo = os.path.join(args.root, "fail.fifo")
    os.mkfifo(fifo)
    hosts, mls = Hosts(), {}
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))   # a pidfd per host
    t_start = time.monotonic()
    for name in names:
        train = failing_trainer(fifo) if (args.event == "fail" and name == args.victim) else "sleep 100000"
        ml, env = prepare(args.root, names, name, job, args.port, settings, train)
        mls[name] = ml
        hosts.start(name, args.sm_init, ml, env)
    started = time.monotonic() - t_start
    coordinator = hosts.procs[names[0]].pid
    result = {"hosts": args.hosts, "event": args.event, "victim": args.victim, "settings": settings,
              "start_seconds": round(started, 2)}

    # Joining: the coordinator says when every host has said hello (a TCP connection alone is not
    # a join: the coordinator may close one that has not said hello yet, and the worker retries).
    all_joined = "sm-init: peers: all %d hosts joined" % args.hosts
    deadline = time.monotonic() + args.join_wait
    while (all_joined not in log_lines(mls[names[0]]) and time.monotonic() < deadline
           and not hosts.exits):
        hosts.poll(0.2)
    result["join_seconds"] = round(time.monotonic() - t_start, 2)
    result["connected"] = established(args.port)
    result["coordinator_join_log"] = [line for line in log_lines(mls[names[0]]) if "joined" not in line][:10]
    if all_joined not in log_lines(mls[names[0]]) or hosts.exits:
        result["error"] = "not every host joined in %s s (%d of %d workers connected); exits: %s" % (
            args.join_wait, result["connected"], args.hosts - 1, {n: c for n, (_, c) in hosts.exits.items()})
        result["coordinator_log"] = log_lines(mls[names[0]], "sm-init:")[-20:]
        return result

    # Steady state.
    cpu0, _ = proc_stat(coordinator)
    tcp0, t0 = tcp_counters(), time.monotonic()
    hosts.wait([], t0 + args.steady)
    cpu1, rss = proc_stat(coordinator)
    tcp1, t1 = tcp_counters(), time.monotonic()
    rss_all = [proc_stat(p.pid)[1] for p in hosts.procs.values()]
    span = t1 - t0
    result["steady"] = {
        "seconds": round(span, 2),
        "coordinator_cpu_share": round((cpu1 - cpu0) / span, 4),
        "coordinator_rss_mib": round(rss / 2 ** 20, 1),
        "coordinator_peak_rss_mib": round(peak_rss(coordinator) / 2 ** 20, 1),
        "host_rss_mib_max": round(max(rss_all) / 2 ** 20, 1),
        "host_rss_mib_sum": round(sum(rss_all) / 2 ** 20, 1),
        "segments_per_second": round((tcp1["InSegs"] - tcp0["InSegs"]) / span, 1),
        "data_segments_per_second": round((tcp1["TCPOrigDataSent"] - tcp0["TCPOrigDataSent"]) / span, 1),
    }
    if any(n in hosts.exits for n in names):
        result["error"] = "a host exited during the steady state: %s" % {n: c for n, (_, c) in hosts.exits.items()}
        return result

    # The event.
    victim = hosts.procs[args.victim]
    cpu_before, _ = proc_stat(coordinator) if args.victim != names[0] else (0.0, 0)
    t_event = time.monotonic()
    if args.event == "fail":
        with open(fifo, "w") as f:
            f.write("go\n")
    else:
        sig = signal.SIGSTOP if args.event == "freeze" else signal.SIGKILL
        for pid in hosts.children_of(victim.pid) + [victim.pid]:
            os.kill(pid, sig)
    others = [n for n in names if n != args.victim]
    verdicts = VerdictWatch({n: os.path.join(mls[n], "sm-init.log") for n in others})
    waits = {}

    def watch():
        verdicts()
        if coordinator_watched and names[0] not in hosts.exits:
            waits["last"] = run_queue_wait(coordinator)
    coordinator_watched = args.victim != names[0]
    wait_before = run_queue_wait(coordinator)
    hosts.wait(others, t_event + args.exit_wait, watch)
    verdicts()
    if coordinator_watched and "last" in waits:
        # Time the coordinator spent runnable but not running, from the event to (about) its exit:
        # what the machine's load, not the coordinator's own work, added to its times.
        result["coordinator_run_queue_wait_after_event"] = round(waits["last"] - wait_before, 3)
    watch = verdicts
    heard = sorted(when - t_event for when in watch.seen.values())
    result["verdict_seen"] = len(heard)
    result["to_every_verdict"] = round(heard[-1], 3) if len(heard) == len(others) else None
    result["to_median_verdict"] = round(heard[len(heard) // 2], 3) if heard else None
    if names[0] in hosts.usage and args.victim != names[0]:
        usage = hosts.usage[names[0]]
        result["coordinator_cpu_after_event"] = round(usage.ru_utime + usage.ru_stime - cpu_before, 3)
        result["coordinator_peak_rss_mib"] = round(usage.ru_maxrss / 1024, 1)
    ends = {}
    for name in others:
        if name in hosts.exits:
            when, code = hosts.exits[name]
            ends[name] = {"seconds": round(when - t_event, 3), "code": code, "failure": first_line(mls[name])}
        else:
            ends[name] = {"seconds": None, "code": None, "failure": first_line(mls[name])}
    times = [e["seconds"] for e in ends.values() if e["seconds"] is not None]
    result["ended"] = len(times)
    result["to_every_exit"] = max(times) if len(times) == len(others) else None
    result["to_first_exit"] = min(times) if times else None
    result["codes"] = sorted({e["code"] for e in ends.values()}, key=str)
    result["failure_lines"] = sorted({e["failure"] for e in ends.values()}, key=str)
    result["verdict_lines"] = sorted({line.split(" t=")[0] for name in others[:3] for line in log_lines(mls[name])
                                      if line.startswith("sm-init: peers: stopping:")})
    result["coordinator_log"] = log_lines(mls[names[0]])[-10:]
    if times:
        slowest = max((e["seconds"], n) for n, e in ends.items() if e["seconds"] is not None)[1]
        result["slowest"] = {"host": slowest, "seconds": ends[slowest]["seconds"],
                             "log": log_lines(mls[slowest], "sm-init:")[-12:]}
    result["load_average"] = [round(x, 1) for x in os.getloadavg()]
    return result


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("root", help="an empty folder for the hosts' ml roots and logs")
    p.add_argument("--hosts", type=int, default=32)
    p.add_argument("--event", choices=["fail", "freeze", "kill"], default="fail")
    p.add_argument("--victim", default="algo-2")
    p.add_argument("--sm-init", default=shutil.which("sm-init", path=os.path.dirname(sys.executable)) or "sm-init")
    p.add_argument("--port", type=int, default=7779)
    p.add_argument("--heartbeat", type=float, default=1)
    p.add_argument("--peer-timeout", type=float, default=5)
    p.add_argument("--join-timeout", type=float, default=120)
    p.add_argument("--stop-timeout", type=float, default=10)
    p.add_argument("--steady", type=float, default=10, help="seconds of steady state measured")
    p.add_argument("--join-wait", type=float, default=180, help="give up when not every host joined by then")
    p.add_argument("--exit-wait", type=float, default=120, help="give up on exits after this")
    return p.parse_args(argv)


def main(argv):
    args = parse(argv)
    if os.getpid() != 1:
        print("peersim: run me through namespace_command() (PID 1 of a namespace of my own)", file=sys.stderr)
        return 2
    result = simulate(args)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
