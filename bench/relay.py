"""The output relay, each selectable with --only, in tables of their own.

The init's stdout/stderr are pipes to a consumer (``bchild drain`` or ``bchild lines``, on pipes of
the default 64 KiB, as a log driver reads a container's), so sm-init relays (capture is on by
default); ``sm-init --no-capture`` is the direct write it is held to: the child writes into the
consumer's pipe itself.

- throughput: ``bchild spew`` writes N MiB as fast as it can, in 64 KiB writes (stdout; stdout and
  stderr alternately), 8 KiB writes (Python's buffer on a pipe) and one 64-byte line per write;
  MiB/s from the child's first write to the consumer's last byte, with the init's CPU, context
  switches and page faults per MiB. ``C relay`` (``bchild relay``, a read/write loop in C) shows
  what a relay that copies can reach here.
- lines: a line stamped just before write() -> its arrival at the consumer's read(), one at a time,
  0.5-1.5 ms apart.
- capture: the signal latency of latency.py, with the init's stdout a pipe to a consumer, once with
  the relay idle and once while the child writes 1000 lines a second; against tini in the same
  conditions.
"""

import collections
import time

from latency import signal_samples
from runner import DRAINED, LINE, SPEW_START, Consumer, Run, cpu_ns, minor_faults, proc_status, rounds


def throughput_once(bench, init, size, chunk, streams, timeout_s=120):
    """The child writes SIZE bytes as fast as it can (CHUNK per write; streams=2: alternately to
    stdout and stderr) into a consumer that reads as fast as it can: one trial's figures."""
    consumer = Consumer(bench, "drain", [size], streams)
    out = consumer.write_ends
    run = Run(bench, init, "spew", [size, chunk, streams], stdout=out[0], stderr=out[1] if streams == 2 else None)
    consumer.started()
    trial = {}
    try:
        run.ready()
        time.sleep(bench.settle)
        before, cpu0, faults0 = proc_status(run.pid), cpu_ns(run.pid), minor_faults(run.pid)
        run.go()
        consumer.records.wait(DRAINED, 1, timeout_s)
        run.records.wait(SPEW_START, 1, 5)
        after, cpu1, faults1 = proc_status(run.pid), cpu_ns(run.pid), minor_faults(run.pid)
        bench.note_memory(init, run.pid)
        seconds = (consumer.records.by_kind[DRAINED][0][1] - run.records.by_kind[SPEW_START][0][1]) / 1e9
        mib = size / 2**20
        trial = {"mib_s": mib / seconds, "seconds": seconds}
        if init.pid1_argv:  # with no init the "init" is the writer itself
            trial["cpu_ms_per_mib"] = (cpu1 - cpu0) / 1e6 / mib if None not in (cpu0, cpu1) else None
            trial["switches_per_mib"] = (after["switches"] - before["switches"]) / mib \
                if "switches" in after and "switches" in before else None
            trial["faults_per_mib"] = (faults1 - faults0) / mib if None not in (faults0, faults1) else None
    finally:
        run.close()
        trial["consumer_total"] = consumer.close()
    if trial.get("mib_s") and (trial["consumer_total"] or 0) < size:
        raise RuntimeError(f"{init.name}: the consumer got {trial['consumer_total']} of {size} bytes")
    return trial


# How the child writes: (key, label, streams, bytes per write, MiB per trial, MiB in --quick runs).
# 64 KiB writes are a bulk copy at memory speed; 8 KiB is Python's buffer when stdout is a pipe;
# a line per write is print(..., flush=True), or stderr, which Python flushes at every newline.
THROUGHPUT_VARIANTS = (
    ("bulk", "stdout, 64 KiB writes", 1, 64 * 1024, 256, 64),
    ("bulk2", "stdout + stderr, 64 KiB writes", 2, 64 * 1024, 256, 64),
    ("block", "stdout, 8 KiB writes", 1, 8 * 1024, 128, 32),
    ("lines", "stdout, a 64-byte line per write", 1, 64, 32, 8),
)


def measure_throughput(bench, inits, trials, quick, rng):
    """{variant: {init: [trial]}}: every variant through each init, in every round."""
    result = {v[0]: {i.name: [] for i in inits} for v in THROUGHPUT_VARIANTS}
    for _, init in rounds(inits, trials, rng):
        for key, _, streams, chunk, mib, quick_mib in rng.sample(THROUGHPUT_VARIANTS, len(THROUGHPUT_VARIANTS)):
            size = (quick_mib if quick else mib) * 2**20
            result[key][init.name].append(throughput_once(bench, init, size, chunk, streams))
    return result


def measure_lines(bench, inits, n_rounds, per_round, rng, warmup=2):
    """A short line's trip: the child's stamp just before write() -> the consumer's read() (us)."""
    samples = {i.name: [] for i in inits}
    for _, init in rounds(inits, n_rounds, rng):
        consumer = Consumer(bench, "lines", [])
        run = Run(bench, init, "talk", [per_round + warmup], stdout=consumer.write_ends[0])
        consumer.started()
        try:
            run.ready()
            time.sleep(bench.settle)
            run.go()
            lines = consumer.records.wait(LINE, per_round + warmup, 60)
            samples[init.name] += [ns / 1000 for _, ns in lines[warmup:per_round + warmup]]
        finally:
            run.close()
            consumer.close()
    return samples


def measure_capture_latency(bench, inits, n_rounds, per_round, rates, rng):
    """Signal latency (as measure_latency) with the init's stdout a pipe to a consumer, while
    the child writes RATE lines a second to it (0: the relay idle); {rate: {init: [us]}}."""
    samples = {rate: {i.name: [] for i in inits} for rate in rates}
    lost = collections.Counter()
    for _, init in rounds(inits, n_rounds, rng):
        for rate in rng.sample(list(rates), len(rates)):
            consumer = Consumer(bench, "drain", [0])
            run = Run(bench, init, "serve", [rate], stdout=consumer.write_ends[0])
            consumer.started()
            try:
                run.ready()
                time.sleep(bench.settle)
                samples[rate][init.name] += signal_samples(run, per_round, rng, lost)
            finally:
                run.close()
                consumer.close()
    return samples, dict(lost)
