"""The report: the raw samples summarised into rows, ratios to tini and to the floors, the
targets met or missed, RESULTS.md's markdown and the latency chart; and what the report says about
the run (the machine, the measured commit).
"""

import datetime
import os
import platform
import subprocess
import sys
from pathlib import Path

from inits import SM_INIT_OPTIONS, SM_INIT_STOP_TIMEOUT
from relay import THROUGHPUT_VARIANTS
from runner import REPO
from startup import WINDOW_POLL_S
from stop import STOP_SCENARIOS


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


def paired_exit_lag(raw, names):
    """(init, its exit lag over sm-init's, over py-loop's, rounds): medians of per-round ratios, the
    rounds paired by index (the same minutes, the same neighbours: an A/B of two builds holds where
    each one's p50 swings with the machine); None where either was not measured."""
    lag = raw.get("exit_lag_ms") or {}

    def paired(a, b):
        ratios = [x / y for x, y in zip(lag.get(a, []), lag.get(b, [])) if y]
        return median(ratios) if ratios else None, len(ratios)

    return [(n, paired(n, "sm-init")[0], *paired(n, "py-loop")) for n in names if lag.get(n) and n != "py-loop"]


def targets(rows, raw, startup):
    """sm-init's targets, the relay's apart: a list of (met, text);
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
    check(lambda: peak <= 20, f"peak RSS: {fmt(peak)} MiB (target <= 20 MiB)", peak)
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
    """The relay's targets: the relay >= 0.8x a direct write; forwarding still <= 1.2x tini with it."""
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
    lines = ["", "## The output relay", "",
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
    if has_sm and results["config"].get("extra_inits") and (results["raw"].get("exit_lag_ms") or {}).get("sm-init"):
        lines += ["", "## Exit after the child's exit, paired per round", "",
                  "With --extra-init (another build beside this one): each init's lag over sm-init's and "
                  "over py-loop's in the same round, the median over rounds.", "",
                  "| init | / sm-init | / py-loop | rounds |", "|---|---:|---:|---:|"]
        for name, vs_sm, vs_py, count in paired_exit_lag(results["raw"], names):
            lines.append(f"| {name} | {fmt(vs_sm)}x | {fmt(vs_py)}x | {count} |")
    lines += relay_markdown(results.get("relay") or {}, results["config"])
    lines += ["", "## Targets", ""]
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
