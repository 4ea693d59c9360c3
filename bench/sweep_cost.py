"""What one sweep costs: sm-init 0.1.0's psutil sweep against the /proc + pidfd sweep, on idle trees.

    bench/sweep_cost.py [--trials N] [--sizes 73,2000] [--python PY]

Needs root (unshare). Every trial runs in a fresh PID namespace: as PID 1 (``pid1``), or as PID 2
registered as child subreaper (``subreaper``; note that /proc then lists the namespace only, where
a real subreaper lists the whole host). The sweeping process builds a tree like the bench's: a
main process in its own group, 8 workers that called setsid, and loaders under them, every one
ignoring SIGTERM; then it times one call:

- TERM: SIGTERM to everything but main's group (the leftover warning: the /proc walk in both modes);
- KILL: SIGKILL to everything, as the stop's last step. As PID 1 both versions call kill(-1).
  ``new`` is the call sm-init makes (main's group first with one killpg, then the walk);
  ``new, walk only`` leaves the group kill out.

``old`` runs with psutil already imported (sm-init 0.1.0 imported it half a second after start);
its import time is shown apart. The time is the call's own, not the tree's death. Trials are
interleaved; the table shows medians.
"""

import argparse
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import time

PR_SET_CHILD_SUBREAPER = 36
WORKERS = 8
IMPLS = ("old", "new", "new, walk only")


# --- sm-init 0.1.0's sweep (supervisor/sm_init/sweep.py at a5ed9c2), the reference -------------

def old_sweep(signum, pid1, spare_pgid=None):
    if pid1 and spare_pgid is None:
        count = sum(1 for entry in os.listdir("/proc") if entry.isdigit()) - 1
        os.kill(-1, signum)
        return count
    import psutil

    me = psutil.Process()
    signalled = set()
    for _ in range(20 if signum == signal.SIGKILL else 1):
        found = [p for p in psutil.process_iter() if p.pid != me.pid] if pid1 else me.children(recursive=True)
        fresh = [p for p in found if p not in signalled and not old_in_group(p, spare_pgid)]
        if not fresh:
            break
        for process in fresh:
            try:
                process.send_signal(signum)
                signalled.add(process)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
    return len(signalled)


def old_in_group(process, pgid):
    if pgid is None:
        return False
    try:
        return os.getpgid(process.pid) == pgid
    except ProcessLookupError:
        return True


# --- inside the namespace ---------------------------------------------------------------------

def build_tree(size, ready_w):
    """main (own group) -> 8 setsid workers -> loaders: `size` processes in all. Returns main's pid."""
    loaders = (size - 1 - WORKERS) // WORKERS
    extra = (size - 1 - WORKERS) % WORKERS
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # inherited: every member outlives SIGTERM
    main = os.fork()
    if main:
        return main
    os.setpgid(0, 0)
    for index in range(WORKERS):
        if os.fork() == 0:
            os.setsid()
            for _ in range(loaders + (index < extra)):
                if os.fork() == 0:
                    idle(ready_w)
            idle(ready_w)
    idle(ready_w)


def idle(ready_w):
    os.write(ready_w, b".")
    while True:
        signal.pause()


def inner(mode, impl, signame, size):
    if mode == "subreaper" and os.fork():
        _, status = os.wait()
        os._exit(os.waitstatus_to_exitcode(status))
    if mode == "subreaper":
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    import_ms = None
    if impl == "old":
        t0 = time.perf_counter()
        import psutil  # noqa: F401
        import_ms = (time.perf_counter() - t0) * 1000
    from sm_init import sweep

    ready_r, ready_w = os.pipe()
    main = build_tree(size, ready_w)
    seen = 0
    while seen < size:
        seen += len(os.read(ready_r, size))
    signum = signal.Signals["SIG" + signame]
    spare = main if signum == signal.SIGTERM else None
    pid1 = mode == "pid1"
    t0 = time.perf_counter()
    if impl == "old":
        count = old_sweep(signum, pid1, spare)
    else:
        group = main if signum == signal.SIGKILL and impl == "new" else None
        count = sweep.sweep(signum, pid1, time.monotonic() + 60, spare_pgid=spare, group_first=group)
    ms = (time.perf_counter() - t0) * 1000
    print(json.dumps({"ms": ms, "count": count, "import_ms": import_ms}), flush=True)
    os._exit(0)  # PID 1 leaving takes the namespace with it


# --- the driver -------------------------------------------------------------------------------

def trial(python, mode, impl, signame, size):
    argv = ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child", python, os.path.abspath(__file__),
            "--inner", mode, impl, signame, str(size)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"{argv}: {out.stdout}{out.stderr}")
    return json.loads(lines[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--sizes", default="73,2000")
    parser.add_argument("--python", default=sys.executable, help="a python with sm_init and psutil")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--inner", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        mode, impl, signame, size = args.inner
        inner(mode, impl, signame, int(size))
    if os.geteuid() != 0:
        sys.exit("sweep_cost: needs root (unshare --pid)")
    sizes = [int(s) for s in args.sizes.split(",")]
    cases = [(mode, signame, size) for mode in ("pid1", "subreaper") for signame in ("TERM", "KILL")
             for size in sizes]
    rng = random.Random(args.seed)
    results = {(case, impl): [] for case in cases for impl in IMPLS}
    imports = []
    for _ in range(args.trials):
        order = [(case, impl) for case in cases for impl in IMPLS
                 if not (impl == "new, walk only" and case[1] == "TERM")]
        rng.shuffle(order)
        for case, impl in order:
            got = trial(args.python, case[0], impl, case[1], case[2])
            results[case, impl].append(got)
            if got["import_ms"] is not None:
                imports.append(got["import_ms"])
    print(f"sweep cost, median of {args.trials} interleaved trials (ms; processes signalled)\n")
    print("| mode | signal | processes | " + " | ".join(IMPLS) + " | old / new |")
    print("|---|---|---:|" + "---:|" * (len(IMPLS) + 1))
    for case in cases:
        cells, medians = [], {}
        for impl in IMPLS:
            runs = results[case, impl]
            if not runs:
                cells.append("-")
                continue
            medians[impl] = statistics.median(r["ms"] for r in runs)
            cells.append(f"{medians[impl]:.2f} ({statistics.median(r['count'] for r in runs):.0f})")
        ratio = medians["old"] / medians["new"] if medians.get("new") else None
        print(f"| {case[0]} | {case[1]} | {case[2]} | " + " | ".join(cells)
              + (f" | {ratio:.1f}x |" if ratio else " | - |"))
    if imports:
        print(f"\nold: `import psutil` before the sweep, median {statistics.median(imports):.1f} ms "
              "(not in the figures above)")


if __name__ == "__main__":
    main()
