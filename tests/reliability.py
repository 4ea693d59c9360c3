"""Reliability figures: recorded by the tests that measure, rendered as tests/RELIABILITY.md.

    python tests/reliability.py [PYTEST ARGS...]

runs the tests marked ``figures`` (every test that asks for the ``figures`` fixture, and the
properties of test_properties.py; or the given pytest arguments) with recording on, then writes
tests/RELIABILITY.md from what that run measured: nothing in it is typed by hand.
docs/reliability.md holds a copy of it (tools/readme-figures).

Tests record through helpers/figures.py: one JSON line per figure set, in the file named by
``$SM_INIT_FIGURES``, which this script sets for its run.
"""

import os
import platform
import sys
import time
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUTPUT = os.path.join(HERE, "RELIABILITY.md")
DEFAULT_TESTS = [HERE, "-m", "figures"]

sys.path.insert(0, HERE)
from helpers.figures import FIGURES_ENV, load  # noqa: E402


class Outcomes:
    """A pytest plugin object: counts passed / failed / skipped tests of the run."""

    def __init__(self):
        self.counts = defaultdict(int)
        self.failed = []
        self.started = time.monotonic()
        self.duration = 0.0

    def pytest_runtest_logreport(self, report):
        if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
            self.counts[report.outcome] += 1
            if report.outcome == "failed":
                self.failed.append(report.nodeid)

    def pytest_sessionfinish(self, session, exitstatus):
        self.duration = time.monotonic() - self.started


def _by(entries, name):
    return [e for e in entries if e["name"] == name]


def _modes(entries):
    return ", ".join(sorted({e["mode"] for e in entries if e.get("mode")})) or "-"


def _seconds(value):
    return f"{value:.2f} s"


def render(entries, outcomes=None):
    """The Markdown text of RELIABILITY.md."""
    lines = ["# Reliability figures", "",
             "Produced by `python tests/reliability.py` from a real run of the tests that measure (marked",
             "`figures`: floods and storms, races, hooks, faults, descriptors, the failure file, bad input,",
             "multi-host jobs) and of the stop plan's properties: real processes, sm-init as PID 1 of a fresh",
             "PID namespace and as child subreaper, and in containers. Do not edit by hand; rerun the script.", ""]
    machine = f"{platform.system()} {platform.release()}, {os.cpu_count()} CPU(s), Python {platform.python_version()}"
    lines.append(f"Machine: {machine}.")
    if outcomes is not None:
        c = outcomes.counts
        lines.append(f"Run: {c['passed']} passed, {c['failed']} failed, {c['skipped']} skipped"
                     f" in {outcomes.duration:.0f} s ({time.strftime('%Y-%m-%d', time.gmtime())}).")
        for nodeid in outcomes.failed:
            lines.append(f"- FAILED: `{nodeid}`")
    lines.append("")

    flood = _by(entries, "zombie_flood")
    if flood:
        lines += ["## Zombie flood", "",
                  "A child creates N orphans (their parent exits), then all of them exit at once.", "",
                  "| mode | orphans | reaped | zombies left | all reaped after release | sm-init RSS before -> after |",
                  "|---|---:|---:|---:|---:|---|"]
        for e in flood:
            lines.append(f"| {e['mode']} | {e['orphans']:,} | {e['reaped']:,} | {e['zombies_left']} |"
                         f" {_seconds(e['drain_seconds'])} | {e['rss_before_kib'] / 1024:.1f} MiB ->"
                         f" {e['rss_after_kib'] / 1024:.1f} MiB ({e['rss_after_kib'] - e['rss_before_kib']:+d} KiB) |")
        lines.append("")

    storm = _by(entries, "signal_storm")
    if storm:
        lines += ["## Signal storm", "",
                  "A helper sends USR1, USR2, HUP and WINCH in turn at sm-init as fast as it can while the child runs;"
                  " then a final USR1 must reach the child, and a SIGTERM must run the whole stop (grace, hook,"
                  " SIGKILL sweep) within the stop timeout. Standard signals that arrive while one of the same"
                  " kind is pending merge in the kernel, so the child counts fewer than were sent.", "",
                  "| mode | signals sent | in | rate | sm-init survived | child counted | final USR1 arrived |"
                  " stop after the storm |",
                  "|---|---:|---:|---:|---|---:|---|---|"]
        for e in storm:
            lines.append(f"| {e['mode']} | {e['sent']:,} | {_seconds(e['send_seconds'])} |"
                         f" {e['sent'] / max(e['send_seconds'], 1e-9):,.0f}/s | {'yes' if e['survived'] else 'NO'} |"
                         f" {e['child_counted']:,} | {'yes' if e['final_forwarded'] else 'NO'} |"
                         f" {_seconds(e['stop_seconds'])} of {e['stop_timeout']:g} s, hook ran |")
        lines.append("")

    timed = [e for e in entries if "elapsed" in e and "limit" in e]
    if timed:
        held = sum(1 for e in timed if e["elapsed"] <= e["limit"])
        lines += ["## Deadlines", "",
                  f"{held} of {len(timed)} timed runs (races, failing hooks, storms, faults) ended within their"
                  f" deadline, timed by the test from its signal to seeing sm-init gone (its own"
                  f" scheduling delay included, on a shared machine); nothing was left running after any of"
                  f" them.", "",
                  "| scenario | modes | runs | worst time / deadline | exit codes | processes left |",
                  "|---|---|---:|---|---|---:|"]
        groups = defaultdict(list)
        for e in timed:
            groups[e["name"]].append(e)
        for name, group in groups.items():
            worst = max(group, key=lambda e: e["elapsed"] / e["limit"])
            codes = ", ".join(str(c) for c in sorted({e.get("code") for e in group if e.get("code") is not None}))
            left = sum(e.get("left", 0) for e in group)
            lines.append(f"| {name} | {_modes(group)} | {len(group)} | {worst['elapsed']:.2f} s / {worst['limit']:g} s"
                         f" | {codes or '-'} | {left} |")
        lines.append("")
        if any(e.get("code") == -15 for e in timed):
            lines += ["Exit code -15: sm-init itself died of a SIGTERM sent before it had blocked signals"
                      " (subreaper only; nothing had been started yet).", ""]

    window = _by(entries, "start_block_window")
    if window:
        lines += ["## Start-up window", "",
                  "Time from starting sm-init until it blocks SIGTERM (seen from outside, polling"
                  " /proc/PID/status). A SIGTERM before that kills sm-init as subreaper (nothing started yet)"
                  " and, as PID 1, is dropped by the kernel: PID 1 gets only the signals it handles or blocks.", ""]
        for e in window:
            lines.append(f"- {e['mode']}: {e['seconds'] * 1000:.0f} ms")
        lines.append("")

    faults = _by(entries, "injected internal fault")
    if faults:
        once = sum(1 for e in faults if e["error_lines"] == 1)
        lines += ["## Internal faults", "",
                  f"{len(faults)} runs with an exception injected into sm-init ({len({e['where'] for e in faults})}"
                  f" places, both modes): logged once in {once}, exit code"
                  f" {', '.join(str(c) for c in sorted({e['code'] for e in faults}))},"
                  f" {sum(e['left'] for e in faults)} processes left behind.", ""]

    fds = _by(entries, "file_descriptors")
    if fds:
        lines += ["## File descriptors", ""]
        for e in fds:
            lines.append(f"- {e['mode']}: sm-init had {e['sm_init_fds']} fd(s) of its own beyond 0-2 and the"
                         f" inherited one, {e['not_cloexec']} without close-on-exec; the child saw"
                         f" {e['child_fds']}, a hook saw {e['hook_fds']}.")
        lines.append("")

    bad = _by(entries, "bad_input")
    if bad:
        def refused(e):
            return (e["code"] == e["expected"] and e["lines"] == 1 and not e["traceback"] and not e.get("started")
                    and not e.get("left"))
        inside = [e for e in bad if e.get("where") == "in-process"]
        real = [e for e in bad if e.get("where") == "real"]
        sources = sorted({e["source"] for e in bad if e.get("source")})
        codes = ", ".join(str(c) for c in sorted({e["expected"] for e in bad}))
        lines += ["## Bad input", "",
                  f"{len(inside)} cases of bad input (garbage in {len(sources)} options and environment variables,"
                  f" commands that can't run, no command at all), each through sm-init's own command-line entry"
                  f" in the test's process: {sum(map(refused, inside))} refused with one line naming the option or"
                  f" variable and the value, and the documented exit code ({codes});"
                  f" {sum(1 for e in bad if e['traceback'])} tracebacks. {len(real)} real runs"
                  f" ({len({e['case'] for e in real})} cases, {_modes(real)}): {sum(map(refused, real))} refused"
                  f" the same way, with nothing started and nothing left running.", "",
                  "Options and variables covered: " + ", ".join(f"`{o}`" for o in sources) + ".", ""]

    runtime = _by(entries, "failure_file_unwritable")
    if runtime:
        lines += ["## Unwritable failure file", "",
                  f"{len(runtime)} runs where `<ml-root>/output/failure` could not be written"
                  f" ({', '.join(sorted({e['case'] for e in runtime}))}): a warning was logged in"
                  f" {sum(1 for e in runtime if e['warned'])}, and the job's exit code was kept in"
                  f" {sum(1 for e in runtime if e['code'] == e['expected'])}.", ""]

    hosts = _by(entries, "multihost")
    if hosts:
        e0 = hosts[0]
        lines += ["## One job, many hosts", "",
                  "Real containers on a docker network, torchrun across them on gloo (process group timeout",
                  "600 s), sm-init PID 1 in each (tests/docker/test_docker_multihost.py). Peer heartbeat"
                  f" {e0['heartbeat']} s, peer timeout {e0['peer_timeout']} s, stop timeout {e0['stop_timeout']} s."
                  " Time from the event to each host's end (Docker's FinishedAt).", "",
                  "| case | hosts | from | to every host's exit | each host |", "|---|---:|---|---:|---|"]
        for e in hosts:
            if e.get("seconds") is not None:
                each = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(e["per_host"].items()))
                lines.append(f"| {e['case']} | {e['hosts']} | {e['event']} | {_seconds(e['seconds'])} | {each} |")
            elif "late" in e:
                lines.append(f"| {e['case']} | {e['hosts']} | {e['event']} | no verdict | algo-2 started"
                             f" {e['late']:.1f} s after algo-1; both completed |")
            else:
                lines.append(f"| {e['case']} | {e['hosts']} | {e['event']} | no verdict | algo-1 trained on"
                             f" {e['ran_on']:.1f} s and completed |")
        lines.append("")

    scale = _by(entries, "multihost_scale")
    if scale:
        s0 = scale[0]["settings"]
        lines += ["## Many hosts on one machine", "",
                  f"{scale[0]['hosts']} real sm-inits on loopback, one per host, in namespaces of their own"
                  " (tests/test_peers_scale.py; bench/MULTIHOST.md has 256). Heartbeat"
                  f" {s0['peer_heartbeat']:g} s, peer timeout {s0['peer_timeout']:g} s, stop timeout"
                  f" {s0['stop_timeout']:g} s.", "",
                  "| event | on | to every host's exit | coordinator CPU (steady) | data segments/s |",
                  "|---|---|---:|---:|---:|"]
        for e in scale:
            lines.append(f"| {e['event']} | {e['victim']} | {_seconds(e['to_every_exit'])} |"
                         f" {e['steady']['coordinator_cpu_share'] * 100:.1f} % | {e['steady']['data_segments_per_second']:g} |")
        lines.append("")

    props = _by(entries, "property")
    if props:
        lines += ["## Stop plan properties (hypothesis)", "",
                  "| property | examples | events fed |", "|---|---:|---:|"]
        for e in props:
            lines.append(f"| {e['property']} | {e['examples']:,} | {e.get('events', 0):,} |")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main(argv=None):
    import tempfile

    import pytest

    args = list(sys.argv[1:] if argv is None else argv) or DEFAULT_TESTS
    with tempfile.TemporaryDirectory() as tmp:
        figures = os.path.join(tmp, "figures.jsonl")
        os.environ[FIGURES_ENV] = figures
        outcomes = Outcomes()
        code = pytest.main(["-q", "-p", "no:cacheprovider", *args], plugins=[outcomes])
        entries = load(figures)
    with open(OUTPUT, "w") as f:
        f.write(render(entries, outcomes))
    print(f"wrote {os.path.relpath(OUTPUT, ROOT)} ({len(entries)} figure sets)")
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
