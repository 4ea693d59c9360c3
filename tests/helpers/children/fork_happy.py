"""A trainer that ignores SIGTERM, with idle workers and workers that keep forking.

    fork_happy.py IDLE FORKERS

SIGTERM is ignored before anything is forked, so every process of the tree ignores it: only
SIGKILL ends them, and a stop has to go all the way to the SIGKILL sweep. IDLE workers wait in
pause(). Each of the FORKERS loops forever: it forks a child that lives up to 20 ms (one in five
double-forks first, so its grandchild is an orphan of the init) and reaps what exited, keeping up
to 8 children at a time. Prints ``main ready pid=... idle=... forkers=...`` once everything is
forked. Also imported by sweeper.py, which calls ``start``.
"""

import gc
import os
import random
import signal
import sys
import time

LIVE_CHILDREN = 8  # per forker


def idle():
    while True:
        signal.pause()


def forker(seed):
    rng = random.Random(seed)
    live = 0
    while True:
        if live < LIVE_CHILDREN:
            if os.fork() == 0:
                if rng.random() < 0.2 and os.fork():
                    os._exit(0)  # the grandchild goes on as an orphan
                time.sleep(rng.random() * 0.02)
                os._exit(0)
            live += 1
        try:
            while live and os.waitpid(-1, os.WNOHANG)[0]:
                live -= 1
        except ChildProcessError:
            live = 0
        time.sleep(0.001)


def start(idle_count, forkers):
    """Fork the workers from the calling process; returns when every one exists."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    gc.freeze()  # the children touch fewer pages: copy-on-write is most of a fork's cost here
    for _ in range(idle_count):
        if os.fork() == 0:
            idle()
    for seed in range(forkers):
        if os.fork() == 0:
            forker(seed)


def main():
    idle_count, forkers = int(sys.argv[1]), int(sys.argv[2])
    start(idle_count, forkers)
    os.write(1, f"main ready pid={os.getpid()} idle={idle_count} forkers={forkers}\n".encode())
    idle()


if __name__ == "__main__":
    main()
