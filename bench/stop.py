"""Stop time: SIGTERM to the init -> the init's exit (seen through a pidfd).

Scenarios: (a) a child that exits at once, (b) main + 8 workers x 8 loaders = 73 processes, (c) the
same where every other worker called setsid, (d) a child that ignores SIGTERM, (e) (c)'s tree whose
main process dies of SIGTERM (no handler, so at most 72 are "warned"). sm-init runs with
--stop-timeout 2 --signal-scope group (tini -g's semantics); "sm-init auto" with its default scope,
under which the tree's main process, which catches SIGTERM and exits without stopping its workers,
alone hears the stop and its workers keep the grace (they hear SIGTERM at its end: a drain started
by the main process is never cut short); a C init that has not exited after the cap is recorded as
"no exit" (docker would SIGKILL it).

Each member of a tree reports SIGTERM before exiting, so "warned" counts the processes that got a
chance to clean up. Both as PID 1 (where the kernel SIGKILLs whatever is left when the init exits,
so nothing can survive) and in subreaper mode (init not PID 1: tini -s, catatonit's automatic
subreaper), where leftovers really survive: "alive after" counts tree members still alive 100 ms
after the init's exit, found in /proc by the run's FIFO path in argv.
"""

import signal
import time

from runner import TERM, Run, rounds

# Scenario -> (workers, loaders per worker, setsid every Nth worker, main ignores TERM)
STOP_SCENARIOS = {
    "a": ("child exits at once", (0, 0, 0, 0)),
    "b": ("73-process tree", (8, 8, 0, 0)),
    "c": ("tree, 4 workers setsid", (8, 8, 2, 0)),
    "d": ("child ignores SIGTERM", (0, 0, 0, 1)),
    # (c) with a main process that dies of SIGTERM instead of exiting 0 from a handler: what it
    # leaves behind was told nothing, and every init may end it at once (under sm-init's policy,
    # (c)'s setsid workers keep the grace: the main process handled the stop and may have told them)
    "e": ("tree, 4 workers setsid, main dies of SIGTERM", (8, 8, 2, 2)),
}


def stop_once(bench, init, scenario, pid1, cap_s):
    """One SIGTERM -> exit trial; returns a dict of what happened."""
    workers, loaders, setsid_every, ignore = STOP_SCENARIOS[scenario][1]
    members = 1 + workers + workers * loaders
    run = Run(bench, init, "tree", ["tag", workers, loaders, setsid_every, ignore],
              pid1=pid1, stopping=True)
    try:
        run.ready(members)
        time.sleep(bench.settle)
        bench.note_memory(init, run.pid)
        t0 = time.monotonic_ns()
        run.send(signal.SIGTERM)
        exited = run.wait_exit(cap_s)
        if not exited:
            run.send(signal.SIGKILL)
            run.wait_exit(5)
        run.proc.wait(timeout=10)
        time.sleep(0.1)
        alive = len(run.survivors())
        run.records.drain()
        return {
            "stop_ms": (run.exit_ns - t0) / 1e6 if exited else None,
            "members": members,
            "warned": len(run.records.by_kind[TERM]),
            "alive_after": alive,
            "exit_code": run.proc.returncode,
        }
    finally:
        run.close()


def measure_stop(bench, inits, trials, cap_s, rng):
    """Every scenario, as PID 1 and in subreaper mode; trials interleaved."""
    result = {mode: {s: {i.name: [] for i in inits} for s in STOP_SCENARIOS}
              for mode in ("pid1", "subreaper")}
    for _, init in rounds(inits, trials, rng):
        for scenario in STOP_SCENARIOS:
            for mode in ("pid1", "subreaper"):
                trial = stop_once(bench, init, scenario, mode == "pid1", cap_s)
                result[mode][scenario][init.name].append(trial)
    return result
