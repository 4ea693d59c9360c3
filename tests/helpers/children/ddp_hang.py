"""A 2-rank torch.distributed job (gloo, CPU) that hangs for real: rank 1 stops calling all_reduce.

``CHECKPOINTS=DIR torchrun --nproc-per-node 2 ddp_hang.py``: both ranks run ``STEPS`` steps (an
all_reduce each), rank 0 saving a checkpoint into DIR after each; then rank 1 wanders off
(sleeps for ever, as a rank stuck in a data loader or a dead peer would) while rank 0 blocks in the
next all_reduce, waiting for it. Neither prints anything after that: the stall watchdog's case.

Until the process group is up, each rank says it is alive twice a second: importing torch takes
seconds of silence on a busy machine, and that is not the stall under test.

Lines go out in one write each (``say``): torchrun runs the ranks with ``python -u``, where
``print`` writes the text and its newline in two system calls, and two ranks' lines then merge
in the shared pipe ("rank 0: step 3rank 1: step 3"), as they would on any terminal.
"""

import os
import sys
import threading
import time

STEPS = 3


def say(text):
    sys.stderr.write(text + "\n")


def keep_saying_alive(rank, done):
    while not done.wait(0.5):
        say(f"rank {rank}: starting")


def wander_off(rank):
    say(f"rank {rank}: wandering off, no more all_reduce")
    while True:
        time.sleep(3600)


def train(rank, checkpoints, dist, torch):
    total = torch.ones(1)
    for step in range(1, STEPS + 1):
        dist.all_reduce(total)
        if rank == 0:
            path = os.path.join(checkpoints, f"step-{step}.ckpt")
            with open(path + ".tmp", "w") as f:
                f.write(f"step {step} total {total.item():g}\n")
            os.replace(path + ".tmp", path)
        say(f"rank {rank}: step {step} done, total {total.item():g}")
    if rank == 1:
        wander_off(rank)
    dist.all_reduce(total)   # rank 0 waits here for ever


def main():
    rank = int(os.environ["RANK"])
    done = threading.Event()
    threading.Thread(target=keep_saying_alive, args=(rank, done), daemon=True).start()
    import torch
    import torch.distributed as dist
    dist.init_process_group("gloo")
    done.set()
    train(rank, os.environ["CHECKPOINTS"], dist, torch)


if __name__ == "__main__":
    main()
