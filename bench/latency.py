"""Signal latency: ``kill(init, SIGUSR1)`` -> the child's handler, in microseconds.

One sample at a time, a random 0.5-1.5 ms gap, 2 warm-up samples per batch dropped; a signal with no
receipt within 1 s counts as lost. The relay's "forwarding while relaying" rows (relay.py) take the
same samples with the init's output flowing.
"""

import collections
import signal
import time

from runner import USR1, Run, rounds


def measure_latency(bench, inits, n_rounds, per_round, rng):
    """kill(init, SIGUSR1) -> child's handler timestamp, in microseconds."""
    samples = {i.name: [] for i in inits}
    lost = collections.Counter()
    for _, init in rounds(inits, n_rounds, rng):
        run = Run(bench, init, "serve", [])
        try:
            run.ready()
            time.sleep(bench.settle)
            samples[init.name] += signal_samples(run, per_round, rng, lost)
            bench.note_memory(init, run.pid)
        finally:
            run.close()
    return samples, dict(lost)


def signal_samples(run, count, rng, lost, warmup=2):
    """COUNT samples of kill(init, SIGUSR1) -> the child's handler (us), one at a time, 0.5-1.5 ms
    apart; signals with no receipt within 1 s count in lost."""
    samples = []
    got = run.records.by_kind[USR1]
    for k in range(count + warmup):
        before = len(got)
        t0 = time.monotonic_ns()
        run.send(signal.SIGUSR1)
        try:
            run.records.wait(USR1, before + 1, 1.0)
        except TimeoutError:
            lost[run.init.name] += 1
            continue
        if k >= warmup:
            samples.append((got[before][1] - t0) / 1000)
        time.sleep(rng.uniform(0.0005, 0.0015))
    return samples
