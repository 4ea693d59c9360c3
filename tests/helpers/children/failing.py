"""A trainer that fails in one of several ways, for the failure-reason tests: ``failing.py CASE``.

Each case writes the kind of output a real training script does (logs on both streams, progress
bars with carriage returns, colours) and then fails for real: the exception, the crash, the full
disk are the interpreter's and the kernel's own.
"""

import ctypes
import errno
import logging
import os
import signal
import subprocess
import sys
import threading
import time

log = logging.getLogger("train")


def chatter(total_bytes):
    """About ``total_bytes`` of training logs: stdout prints, stderr logging, a tqdm-like bar."""
    written = step = 0
    while written < total_bytes:
        step += 1
        line = f"epoch 1 step {step:6d} loss {1.0 / step:.6f} lr 0.001 tokens/s 51234.5\n"
        sys.stdout.write(line)
        message = f"\x1b[32mINFO\x1b[0m step {step} checkpoint not due; grad norm {step % 7 / 3:.3f}"
        log.info(message)
        if step % 50 == 0:
            sys.stderr.write("".join(f"\r{pct:3d}%|{'#' * (pct // 10):10s}| {pct}/100"
                                     for pct in range(0, 101, 20)) + "\n")
        written += len(line) + len(message) + 1
    sys.stdout.flush()


def raise_after_logs():
    chatter(200 * 1024)
    raise ValueError("bad lr: -0.5 (must be positive)")


def chained_from():
    chatter(4 * 1024)
    config = {}
    try:
        config["lr"]
    except KeyError as exc:
        raise RuntimeError("could not read the learning rate from hyperparameters.json") from exc


def chained_during():
    chatter(4 * 1024)
    try:
        1 / 0
    except ZeroDivisionError:
        open("/nonexistent/checkpoint.pt")


def logged_then_fatal():
    """A retried error logged with its traceback, the fatal one, then an ignored one at exit."""
    try:
        raise ConnectionError("S3 read timed out, retrying")
    except ConnectionError:
        log.exception("download failed (attempt 1 of 3)")
    chatter(2 * 1024)

    class Closer:
        def __del__(self):
            raise OSError("close failed in __del__")
    sys.modules[__name__].closer = Closer()   # destroyed at interpreter exit, after the traceback
    raise AssertionError("loss is nan at step 120")


def disk_full():
    chatter(2 * 1024)
    with open("/dev/full", "w") as checkpoint:   # the kernel answers every write with ENOSPC
        checkpoint.write("x" * 100000)


def cuda_oom():
    """The stderr of a real CUDA out-of-memory error, replayed: recorded on an NVIDIA H200 with torch
    2.11 (tests/fixtures/reasons/h200_cuda_oom.txt says how); the message is the one PyTorch's
    CUDA caching allocator raises (c10/cuda/CUDACachingAllocator.cpp, "CUDA out of memory. Tried to
    allocate ..."). No GPU here: the text is real, the failure is replayed, exit 1 as Python's."""
    chatter(2 * 1024)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures", "reasons",
                        "h200_cuda_oom.txt")
    with open(path, "rb") as f:
        recorded = f.read().partition(b"\n---\n")[2]
    sys.stderr.flush()
    os.write(2, recorded)
    sys.exit(1)


def segfault():
    chatter(2 * 1024)
    ctypes.string_at(0)


def exception_group():
    chatter(1024)
    raise ExceptionGroup("data loading failed", [ValueError("shard 3 is empty"), OSError("shard 7")])


def killed():
    chatter(2 * 1024)
    os.kill(os.getpid(), signal.SIGKILL)


def aborted():
    chatter(2 * 1024)
    os.abort()


def unfinished_bar():
    """A tqdm bar on stderr, redrawn and left without its newline: what a shell says next is glued."""
    chatter(1024)
    for done in range(0, 217, 24):
        sys.stderr.write(f"\r {done * 100 // 1063:2d}%|{'#' * (done // 54):20s}| {done}/1063"
                         f" [00:27<02:17,  6.17it/s]")
    sys.stderr.flush()


def killed_mid_bar():
    unfinished_bar()
    os.kill(os.getpid(), signal.SIGKILL)


def segfault_mid_bar():
    unfinished_bar()
    ctypes.string_at(0)


def idle_worker(ready):
    ready.set()
    time.sleep(3600)


def crash_here():
    ctypes.string_at(0)


def segfault_beside_a_thread():
    """The main thread crashes while a newer thread sleeps: faulthandler lists the newer thread
    first, and marks the main one "Current thread"."""
    chatter(1024)
    ready = threading.Event()
    threading.Thread(target=idle_worker, args=(ready,), daemon=True).start()
    ready.wait()
    crash_here()


def known_cause_in_code():
    """The traceback's source lines name known causes; the exception is a plain ValueError."""
    chatter(1024)
    shard = 7
    raise ValueError(f"bad shard index {shard}")  # not the CUDA out of memory seen on 8 GPUs (No space left on device either)


def enospc_raised():
    """An OSError raised with errno.ENOSPC: its source line says ENOSPC before the exception does."""
    chatter(1024)
    raise OSError(errno.ENOSPC, "no room for checkpoint step-300.pt")


def logged_oom_then_keyerror():
    """A CUDA out-of-memory error caught and logged (the batch skipped), then the fatal KeyError."""
    try:
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 15.90 GiB total capacity)")
    except RuntimeError:
        log.exception("batch 17 skipped")
    chatter(2 * 1024)
    batch = {"input_ids": [1, 2, 3]}
    return batch["labels"]


def long_called_process_error():
    """A subprocess with 60 arguments fails: the CalledProcessError's end says how."""
    chatter(1024)
    subprocess.run(["sh", "-c", "exit 1", "sh"] + [f"--hyperparameter-{i}=value-{i}" for i in range(60)],
                   check=True)


CASES = {function.__name__.replace("_", "-"): function for function in (
    raise_after_logs, chained_from, chained_during, logged_then_fatal, disk_full, cuda_oom, segfault,
    exception_group, killed, aborted, killed_mid_bar, segfault_mid_bar, segfault_beside_a_thread,
    known_cause_in_code, enospc_raised, logged_oom_then_keyerror, long_called_process_error)}

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    CASES[sys.argv[1]]()
