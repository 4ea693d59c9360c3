"""A trainer for the stall watchdog's notion of progress: ``beat.py HOW SECONDS [HEARTBEAT]``.

  heartbeat  prints nothing, touches HEARTBEAT ten times a second for SECONDS, then exits 0
  lapse      prints nothing, touches HEARTBEAT ten times a second for SECONDS, then hangs
             (silently) in ``stop_beating``
  lagging    as ``heartbeat``, on a file system whose clock lags 5 s: each touch dates HEARTBEAT
             5 s before this machine's clock
  ahead      prints nothing, touches HEARTBEAT once, dated an hour ahead (a file system clock
             that runs ahead), prints "touched" and hangs silently in ``stop_beating``
  chatty     no heartbeat: redraws a progress bar (``\\r``, no newline) ten times a second for
             SECONDS, then ends the line and exits 0
  own-file   writes HEARTBEAT as its own failure file (the path given), then hangs silently
"""

import os
import sys
import time


def touch(path, skew=None):
    """Touch ``path``; ``skew``: date it that many seconds off this machine's clock, as a file
    system with a clock of its own (an NFS server) would."""
    with open(path, "a"):
        os.utime(path, None if skew is None else (time.time() + skew,) * 2)


def beat(path, seconds, skew=None):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        touch(path, skew)
        time.sleep(0.1)


def stop_beating():
    while True:
        time.sleep(3600)


def chatty(seconds):
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        done = (time.monotonic() - start) / seconds
        sys.stdout.write(f"\r{done:4.0%}|{'#' * int(done * 20):20s}|")
        sys.stdout.flush()
        time.sleep(0.1)
    sys.stdout.write("\rdone\n")


def own_file(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("trainer: the data loader lost its S3 connection; waiting for it")
    stop_beating()


def main():
    how, seconds = sys.argv[1], float(sys.argv[2])
    if how == "heartbeat":
        beat(sys.argv[3], seconds)
    elif how == "lapse":
        beat(sys.argv[3], seconds)
        stop_beating()
    elif how == "lagging":
        beat(sys.argv[3], seconds, skew=-5.0)
    elif how == "ahead":
        touch(sys.argv[3], skew=3600.0)
        print("touched", flush=True)
        stop_beating()
    elif how == "chatty":
        chatty(seconds)
    elif how == "own-file":
        own_file(sys.argv[3])


if __name__ == "__main__":
    main()
