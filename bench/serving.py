"""Serving benchmark: requests lost and stop time when a serving container stops, per layout, under
sm-init, tini and dumb-init.

Run it through ``bench/serving`` (installs nginx, tini, dumb-init and the test venv with gunicorn
and uvicorn). Must run as root: every init runs as PID 1 of a fresh PID namespace
(``unshare --pid --fork --mount-proc``), as in a container.

Method
------
The layouts, the load and the trial are the serving tests' own (tests/serving: layouts.py,
load.py, trial.py): a layout serves a model that takes 0.3 s per POST /invocations; 4 client
connections send one request every 0.1 s, each on a new connection; after 1 s, SIGTERM goes to the
init (as ``docker stop`` sends it) halfway between two requests, and the load goes on until the
port refuses connections. Per trial: requests sent before the stop, how many of them did not get a
complete 200, and the stop time (SIGTERM to the init's exit, seen through unshare).

sm-init runs in serve mode (``--serve CMD -- serve``) with its defaults plus the layout's
documented setting (the "sm-init options" column). tini and dumb-init cannot map ``serve``: they
get the layout's command itself, with their defaults (tini signals its child; dumb-init, its
child's process group), and dumb-init gets ``--rewrite 15:3`` where sm-init gets
``--rewrite TERM=QUIT``. tini has no rewrite. Rows sm-init alone runs (the same program with
another sm-init setting) show "-" for the others.

Every round runs each (layout, init) once, in a shuffled order, so slow drift on a shared machine
hits every init alike. Cells give medians over the trials, and how many trials lost a request when
some did and some did not.
"""

import argparse
import json
import os
import random
import shlex
import statistics
import subprocess
import sys
import tempfile
from importlib import metadata

from report import machine_info

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path[:0] = [os.path.join(REPO, "tests"), os.path.join(REPO, "tests", "serving")]

from layouts import LAYOUTS  # noqa: E402
from trial import INITS, run_trial  # noqa: E402

INIT_NAMES = ["sm-init", "tini", "dumb-init"]


def runs_for(layouts):
    return [(layout, init) for layout in layouts for init in INIT_NAMES
            if init == "sm-init" or layout.compare]


def measure(layouts, trials, sm_init, out):
    """{(layout name, init): [trial dicts]}, interleaved rounds."""
    results = {}
    pairs = runs_for(layouts)
    with tempfile.TemporaryDirectory(prefix="sm-init-serving-") as tmp:
        for round_index in range(trials):
            random.shuffle(pairs)
            for layout, init in pairs:
                directory = os.path.join(tmp, f"{layout.name}-{init}-{round_index}")
                outcome = run_trial(layout, init, directory, program=sm_init if init == "sm-init" else None)
                report = outcome.report
                trial = {"sent_before": len(report.before), "failed": len(report.failed_before),
                         "in_flight": len(report.in_flight), "errors": dict(report.errors(report.before)),
                         "stop_s": outcome.stop_seconds, "exit_code": outcome.exit_code,
                         "last_send_gap_s": report.last_send_gap}
                results.setdefault((layout.name, init), []).append(trial)
                print(f"round {round_index + 1}/{trials} {layout.name:17} {init:9} "
                      f"failed {trial['failed']}/{trial['sent_before']} stop {trial['stop_s']:.3f}s "
                      f"exit {trial['exit_code']}", file=sys.stderr, flush=True)
    with open(os.path.join(out, "serving.json"), "w") as f:
        json.dump({f"{name} | {init}": trials for (name, init), trials in results.items()}, f, indent=1)
    return results


def cell(trials):
    """'failed / sent' and the stop time, medians over the trials."""
    if not trials:
        return "-", "-"
    failed = statistics.median(t["failed"] for t in trials)
    sent = statistics.median(t["sent_before"] for t in trials)
    lossy = sum(1 for t in trials if t["failed"])
    note = f" ({lossy} of {len(trials)} trials)" if 0 < lossy < len(trials) else ""
    return f"{failed:g} / {sent:g}{note}", f"{statistics.median(t['stop_s'] for t in trials):.2f}"


def version(argv):
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        return (done.stdout or done.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


def table(results, layouts, trials, sm_init, command):
    m = machine_info()
    commit = version(["git", "-C", REPO, "rev-parse", "--short", "HEAD"])
    lines = [
        "# sm-init serving bench results",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, kernel {m['kernel']}, Python {m['python']}, "
        f"{m['date']}, 1-minute load {m['loadavg_at_start']:.2f} at the end of the run.",
        f"Command: `{command}`. Versions: {version([sm_init, '--version'])} "
        f"(commit {commit}); {version(['tini', '--version'])}; {version(['dumb-init', '--version'])}; "
        f"{version(['nginx', '-v'])}; gunicorn {metadata.version('gunicorn')}; "
        f"uvicorn {metadata.version('uvicorn')}.",
        "",
        "Method: see the docstring of bench/serving.py. Each init is PID 1 of a fresh PID namespace; "
        "4 connections send a POST /invocations (0.3 s each) every 0.1 s; SIGTERM goes to the init "
        "after 1 s, between two requests. \"lost\" = requests sent before the stop that did not get a "
        "complete 200 / requests sent before the stop; \"stop\" = SIGTERM to the init's exit, in "
        "seconds. Medians over %d trials. dumb-init gets `--rewrite 15:3` in the nginx row; tini has "
        "no rewrite. \"-\": a row for sm-init alone (the same program as the row above it, another "
        "sm-init setting)." % trials,
        "",
        "| layout | sm-init options | sm-init lost | stop | tini lost | stop | dumb-init lost | stop |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for layout in layouts:
        cells = [c for init in INIT_NAMES for c in cell(results.get((layout.name, init), []))]
        options = " ".join(layout.sm_init) or "(defaults)"
        lines.append(f"| {layout.name} | `{options}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--only", help="comma-separated layout names (default: all)")
    parser.add_argument("--sm-init", default=INITS["sm-init"][1], help="the sm-init to measure")
    parser.add_argument("--output", default=os.path.join(HERE, "SERVING.md"), help="the markdown table")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench/serving.py: needs root (unshare --pid)")
    layouts = LAYOUTS
    if args.only:
        names = args.only.split(",")
        layouts = [layout for layout in LAYOUTS if layout.name in names]
    out = os.path.join(HERE, "out")
    os.makedirs(out, exist_ok=True)
    results = measure(layouts, args.trials, args.sm_init, out)
    text = table(results, layouts, args.trials, args.sm_init, shlex.join(["bench/serving", *sys.argv[1:]]))
    with open(args.output, "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
