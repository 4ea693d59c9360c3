"""Start-up and exit lag.

``bchild stamp`` puts CLOCK_MONOTONIC in BENCH_T0 and execs the init; the child's main() subtracts
it. The same run gives "exit lag": the child's last timestamp before _exit -> the init's exit.
Interleaved with the inits, start-up only: the bare-interpreter floor (sm-init's own python,
``-I -c``, exec'ing the child), sm-init on SageMaker's path (``-- train``, SM_INIT_TRAIN), sm-init
with options on the command line, and the PID-1 start-up window: BENCH_T0 -> sm-init's signals
blocked (/proc/PID/status sampled every 0.5 ms, in runs of their own; their start-up to the child's
main() is shown too, to show what the sampling costs). py-loop (pyloop.py, the smallest Python
init) is the floor for exit lag.
"""

import collections
import signal
import time

from runner import EXIT, Run, children_of, rounds


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
