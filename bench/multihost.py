#!/usr/bin/env python3
"""The peers feature at scale (issue 19): hundreds of hosts of one job on this machine.

    bench/multihost.py [--hosts 256] [--cases fail,freeze,kill,coordinator] [--heartbeat 1]
                       [--peer-timeout 5] [--steady 20] [--out bench/MULTIHOST.md]

Needs root (namespaces). Not run by CI: tests/test_peers_scale.py runs the same simulation with 32
hosts. Each case is one run of tests/helpers/peersim.py: in a PID and network namespace of its
own, one *real* sm-init per host (the program and wire protocol a job runs, not a stand-in: at
~15-20 MB each, 256 fit this machine's 24 GiB with room to spare, which the run checks), workers
connecting to the coordinator on 127.0.0.1, the trainer of each host a silent ``sleep``. A run
starts every host, waits until the coordinator holds a connection from every worker, measures
a steady state (coordinator CPU and memory, TCP segments per second in the namespace), then
makes one thing happen and times every other host's exit:

  fail         algo-2's trainer fails (a traceback, exit 1): its sm-init reports, the coordinator
               broadcasts, every host stops
  freeze       algo-2's sm-init and trainer get SIGSTOP: silence, noticed a peer timeout later
  kill         algo-2's sm-init and trainer get SIGKILL: sockets closed by the kernel
  coordinator  algo-1 (the coordinator) frozen: every worker decides for itself

Writes the table to --out (bench/MULTIHOST.md) and every run's JSON to bench/out/multihost.json.
Loopback has no network latency and every host shares 2 cores here: the times are the protocol's
and the loop's, plus this machine's scheduling under 256 processes waking at once.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))
from helpers import peersim  # noqa: E402

CASES = {
    "fail": ("fail", "algo-2", "algo-2's trainer fails (exit 1)"),
    "freeze": ("freeze", "algo-2", "algo-2 frozen (SIGSTOP)"),
    "kill": ("kill", "algo-2", "algo-2 killed (SIGKILL)"),
    "coordinator": ("freeze", "algo-1", "the coordinator (algo-1) frozen"),
}


def sm_init_path():
    for candidate in (os.path.join(ROOT, ".venv", "bin", "sm-init"), os.path.join(os.path.dirname(sys.executable), "sm-init")):
        if os.access(candidate, os.X_OK):
            return candidate
    sys.exit("bench/multihost.py: no sm-init next to %s nor in .venv (run tools/venv)" % sys.executable)


def run_case(case, args, sm_init):
    event, victim, _ = CASES[case]
    with tempfile.TemporaryDirectory(prefix="multihost-") as root:
        argv = [root, "--hosts", str(args.hosts), "--event", event, "--victim", victim, "--sm-init", sm_init,
                "--heartbeat", str(args.heartbeat), "--peer-timeout", str(args.peer_timeout),
                "--stop-timeout", str(args.stop_timeout), "--steady", str(args.steady),
                "--join-wait", "600", "--exit-wait", str(args.peer_timeout + args.stop_timeout + 120)]
        t0 = time.monotonic()
        out = subprocess.run(peersim.namespace_command(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if out.returncode != 0:
            return {"case": case, "error": "exit %d: %s" % (out.returncode, out.stderr.decode(errors="replace")[-2000:])}
        result = json.loads(out.stdout)
        result.update(case=case, wall_seconds=round(time.monotonic() - t0, 1))
        return result


def fmt(value, unit="", digits=2):
    return "-" if value is None else ("%.*f%s" % (digits, value, unit))


def render(results, args):
    lines = ["# Multi-host: the peers feature at scale", "",
             "Produced by `bench/multihost.py` (do not edit by hand; rerun it). Each row is one run of",
             "`tests/helpers/peersim.py`: %d real sm-inits, one per host, on loopback in a PID and network"
             % args.hosts,
             "namespace of their own, every worker connected to the coordinator (algo-1) on 127.0.0.1, each",
             "host's trainer a silent `sleep`. Settings: heartbeat %s s, peer timeout %s s, stop timeout %s s."
             % (args.heartbeat, args.peer_timeout, args.stop_timeout), "",
             "Machine: %s %s, %d CPU(s), Python %s (shared with other work while it ran: times include"
             % (platform.system(), platform.release(), os.cpu_count(), platform.python_version()),
             "its scheduling). Run %s." % time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "",
             "## From the event to every host's exit", "",
             "The verdict columns: when each host's log first showed `sm-init: peers: stopping:` (its logs",
             "looked at every %g s), the protocol's part. The exit columns: each host's end, seen through a"
             % peersim.WATCH_EVERY,
             "pidfd, which adds every host's own stop; here hundreds of hosts stop at once on %d cores, so"
             % os.cpu_count(),
             "their stops queue for CPU (on a real job each host has its own machine).", "",
             "The coordinator's CPU: what it used from the event to its exit; its wait for a CPU: how long",
             "it was runnable but not running meanwhile (/proc/PID/schedstat), i.e. what the load added.",
             "",
             "| case | hosts | every host joined | verdict, median host | verdict, every host | first exit | every exit"
             " | coordinator CPU after the event | its wait for a CPU | load (1 min) | exit codes | failure file (first line) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        if "error" in r:
            lines.append("| %s | %d | run failed: %s | | | | | | | | | |" % (CASES[r["case"]][2], args.hosts,
                                                                  r["error"].replace("\n", " ")[:200]))
            continue
        failures = "; ".join("`%s`" % f for f in r.get("failure_lines", []) if f) or "none"
        lines.append("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            CASES[r["case"]][2], r["hosts"], fmt(r["join_seconds"], " s", 1), fmt(r.get("to_median_verdict"), " s"),
            fmt(r.get("to_every_verdict"), " s"), fmt(r.get("to_first_exit"), " s"),
            fmt(r.get("to_every_exit"), " s"), fmt(r.get("coordinator_cpu_after_event"), " s", 3),
            fmt(r.get("coordinator_run_queue_wait_after_event"), " s"), fmt((r.get("load_average") or [None])[0], "", 1),
            ", ".join(map(str, r.get("codes", []))), failures))
    said = [(r["case"], line) for r in results for line in r.get("coordinator_join_log", [])
            if "coordinating" not in line]
    if said:
        lines += ["", "What the coordinator said while the hosts joined (beyond its first line):", ""]
        lines += ["- %s: `%s`" % (case, line) for case, line in said]
    steady = [r for r in results if "steady" in r]
    if steady:
        lines += ["", "## Steady state (every host joined, nothing happening)", "",
                  "| case's run | seconds | coordinator CPU (share of a core) | coordinator RSS (peak) |"
                  " one host's RSS (max) | all hosts' RSS | TCP segments/s | data segments/s |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in steady:
            s = r["steady"]
            lines.append("| %s | %s | %s | %s MiB (%s MiB) | %s MiB | %s MiB | %s | %s |" % (
                r["case"], s["seconds"], fmt(s["coordinator_cpu_share"] * 100, " %", 2), s["coordinator_rss_mib"],
                s["coordinator_peak_rss_mib"], s["host_rss_mib_max"], s["host_rss_mib_sum"],
                s["segments_per_second"], s["data_segments_per_second"]))
        lines += ["", "Data segments per second count each message once, whichever way it goes (the kernel's",
                  "TcpExt TCPOrigDataSent in the run's own network namespace: one per write on a connection",
                  "that is not backed up). With N hosts and heartbeat H both ways, the expectation is",
                  "2(N-1)/H; the measured figure is what the table shows."]
    return "\n".join(lines) + "\n"


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hosts", type=int, default=256)
    p.add_argument("--cases", default="fail,freeze,kill,coordinator")
    p.add_argument("--heartbeat", type=float, default=1)
    p.add_argument("--peer-timeout", type=float, default=5)
    p.add_argument("--stop-timeout", type=float, default=10)
    p.add_argument("--steady", type=float, default=20)
    p.add_argument("--out", default=os.path.join(HERE, "MULTIHOST.md"))
    args = p.parse_args(argv)
    if os.geteuid() != 0:
        sys.exit("bench/multihost.py: needs root (unshare --pid --net)")
    sm_init = sm_init_path()
    results = []
    for case in args.cases.split(","):
        print("multihost: %s, %d hosts ..." % (case, args.hosts), file=sys.stderr, flush=True)
        results.append(run_case(case, args, sm_init))
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    os.makedirs(os.path.join(HERE, "out"), exist_ok=True)
    with open(os.path.join(HERE, "out", "multihost.json"), "w") as f:
        json.dump(results, f, indent=1)
    with open(args.out, "w") as f:
        f.write(render(results, args))
    print("multihost: wrote %s" % args.out, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
