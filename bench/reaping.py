"""Reaping, two ways: 10,000 orphans made in waves of 100 (fork time included), and 10,000 live
orphans of the init SIGKILLed at once (reaping alone). The child watches the init's
/proc/.../children list, zombies included, drain.
"""

from runner import BURST, REAP_LEFT, REAP_TOTAL, Run, cpu_ns, rounds


def measure_reaping(bench, inits, trials, orphans, timeout_s, rng):
    """Orphans -> all reaped, two ways; time, rate, init CPU, zombies left.

    "waves": the child makes `orphans` orphans, 100 at a time (a spawner forks
    100 children that exit at once, then exits), so the figure includes fork
    time, equal for every init: the stream a real tree produces.
    "burst": `orphans` live orphans already belong to the init; one SIGKILL to
    their group makes them all zombies at once: reaping alone, the throughput.
    """
    result = {i.name: [] for i in inits}
    for _, init in rounds(inits, trials, rng):
        # With no init the child is PID 1 and never reaps: waiting is pointless.
        timeout = 1.0 if not init.pid1_argv else timeout_s
        trial = {}
        run = Run(bench, init, "reap", [orphans, 100, int(timeout * 1000)])
        try:
            run.ready()
            cpu0 = cpu_ns(run.pid)
            run.records.wait(REAP_LEFT, 1, timeout + 120)
            bench.note_memory(init, run.pid)
            total = run.records.by_kind[REAP_TOTAL][0][1]
            trial["waves_ms"] = total / 1e6 if total >= 0 else None
            trial["waves_left"] = run.records.by_kind[REAP_LEFT][0][1]
            trial["waves_cpu_ms"] = (cpu_ns(run.pid) - cpu0) / 1e6 if cpu0 is not None else None
        finally:
            run.close()
        run = Run(bench, init, "burst", [orphans, int(timeout * 1000)])
        try:
            run.ready(timeout_s=120)
            cpu0 = cpu_ns(run.pid)
            run.records.wait(REAP_LEFT, 1, timeout + 60)
            bench.note_memory(init, run.pid)
            burst = run.records.by_kind[BURST][0][1]
            trial["burst_ms"] = burst / 1e6 if burst >= 0 else None
            trial["burst_left"] = run.records.by_kind[REAP_LEFT][0][1]
            trial["burst_cpu_ms"] = (cpu_ns(run.pid) - cpu0) / 1e6 if cpu0 is not None else None
        finally:
            run.close(term_timeout_s=10)
        result[init.name].append(trial)
    return result
