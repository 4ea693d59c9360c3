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
        trial = dict(zip(("waves_ms", "waves_left", "waves_cpu_ms"), reap_once(
            bench, init, "reap", [orphans, 100, int(timeout * 1000)], REAP_TOTAL, timeout + 120)))
        trial.update(zip(("burst_ms", "burst_left", "burst_cpu_ms"), reap_once(
            bench, init, "burst", [orphans, int(timeout * 1000)], BURST, timeout + 60,
            ready_s=120, term_timeout_s=10)))
        result[init.name].append(trial)
    return result


def reap_once(bench, init, mode, args, figure, wait_s, ready_s=30, term_timeout_s=5):
    """One run of bchild's MODE under the init: (ms the child measured, from its record FIGURE;
    zombies it saw left; the init's CPU in ms), waiting at most WAIT_S for the child's verdict."""
    run = Run(bench, init, mode, args)
    try:
        run.ready(timeout_s=ready_s)
        cpu0 = cpu_ns(run.pid)
        run.records.wait(REAP_LEFT, 1, wait_s)
        bench.note_memory(init, run.pid)
        ns = run.records.by_kind[figure][0][1]
        return (ns / 1e6 if ns >= 0 else None, run.records.by_kind[REAP_LEFT][0][1],
                (cpu_ns(run.pid) - cpu0) / 1e6 if cpu0 is not None else None)
    finally:
        run.close(term_timeout_s=term_timeout_s)
