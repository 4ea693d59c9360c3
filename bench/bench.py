"""Side-by-side benchmark of sm-init against tini, dumb-init, catatonit and no init.

Run it through ``bench/run`` (installs the anchors, compiles the child, makes the
chart venv). Must run as root: every trial that matters runs the init as PID 1 of
a fresh PID namespace (``unshare --pid --fork --mount-proc``), as in a container.

Method
------
One module per measurement, each with its method in its docstring; this file only
runs them in order and writes the results:

- inits.py: the inits compared, and which measurements each takes part in
- runner.py: the child (bchild.c) and its FIFO of records, one init with its child
  running, the interleaved rounds, the settle time, the /proc readers
- latency.py: 1. signal latency, ``kill(init, SIGUSR1)`` -> the child's handler
- stop.py: 2. stop time, SIGTERM -> the init's exit, five scenarios, PID 1 and
  subreaper, with the processes warned and those left alive
- reaping.py: 3. reaping 10,000 orphans, in waves and in a burst
- startup.py: 4. start-up against the bare interpreter, exit lag, the PID-1
  start-up window
- memory.py: 5. memory and idle wakeups
- relay.py: 6.-8. the output relay: throughput, a line's latency, signal
  forwarding while relaying
- report.py: the rows, the ratios, the targets, RESULTS.md and the chart

Why ratios
----------
Absolute microseconds move with the machine, the kernel and the neighbours; the
ratio to tini measured in the same run, same minutes, same cores, does not move
much. The targets are ratios to what bounds each figure from below, measured in
the same run: CPython's own start-up (the floor) for sm-init's, py-loop for the
exit, tini / tini -g for forwarding, reaping and stops; only RSS is absolute.
"""

import argparse
import ctypes
import json
import os
import random
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path

from inits import CORE, MEASUREMENTS, RELAY, STARTUP_ONLY, find_inits, init_version
from latency import measure_latency
from memory import measure_idle
from reaping import measure_reaping
from relay import measure_capture_latency, measure_lines, measure_throughput
from report import (chart, machine_info, markdown, ratios, relay_rows, relay_targets, source_revision,
                    startup_table, summarize, targets)
from runner import HERE, PR_SET_CHILD_SUBREAPER, REPO, SETTLE_S, Bench
from startup import measure_startup_and_exit
from stop import STOP_SCENARIOS, measure_stop


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
    parser.add_argument("--inits", default="", metavar="NAME,...",
                        help="measure only these inits (by name, extra ones too), e.g. one row's init and its "
                        "floor: --only startup --inits sm-init,py-loop (default: all)")
    parser.add_argument("--startup-trials", type=int, default=None, metavar="N",
                        help="rounds of start-up and exit lag (default 20, 5 with --quick): a noisy row wants more")
    parser.add_argument("--command", default="bench/run", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.startup_trials is not None and args.startup_trials < 1:
        sys.exit("bench: --startup-trials: at least 1")
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
    chosen = set(filter(None, args.inits.split(",")))
    if chosen:
        unknown = chosen - {init.name for init in inits}
        if unknown:
            shutil.rmtree(ml_root, ignore_errors=True)
            sys.exit(f"bench: --inits: no init named {', '.join(sorted(unknown))} "
                     f"(there are: {', '.join(init.name for init in inits)})")
        inits = [init for init in inits if init.name in chosen]

    q = args.quick
    cfg = {
        "quick": q,
        "latency_rounds": 2 if q else 12,
        "latency_per_round": 50 if q else 100,
        "startup_trials": args.startup_trials or (5 if q else 20),
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
        "extra_inits": [spec.partition("=")[0] for spec in args.extra_init],
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
    command = args.command + (" --quick" if q else "") + "".join(
        f" {flag} {shlex.quote(value)}" for flag, value in (("--only", args.only), ("--inits", args.inits),
                                                         *(("--extra-init", spec) for spec in args.extra_init))
        if value) + (f" --startup-trials {args.startup_trials}" if args.startup_trials else "")

    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    md = markdown(results, rows, verdicts, table_inits, command)
    (out / "results.md").write_text(md)
    if not q and only == MEASUREMENTS and args.settle == SETTLE_S and not chosen and args.startup_trials is None:
        (HERE / "RESULTS.md").write_text(md)
    if raw["latency_us"]:
        chart(raw["latency_us"], out / "latency.png")
    print(md)
    print(f"bench: done in {results['elapsed_s']} s; results in {out}", file=sys.stderr)
    shutil.rmtree(bench.tmp, ignore_errors=True)
    shutil.rmtree(ml_root, ignore_errors=True)


if __name__ == "__main__":
    main()
