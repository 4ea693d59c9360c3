"""Memory and idle cost: every init idle side by side, its context switches (voluntary +
involuntary, all threads) over a window, and its RSS. The peak (VmHWM) is noted by every
measurement (``Bench.note_memory``): the table shows the maximum over every run.
"""

import time

from runner import Run, kib, proc_status


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
