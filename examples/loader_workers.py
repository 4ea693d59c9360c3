#!/usr/bin/env python3
"""DataLoader workers that survive a launcher's stop, so the final save happens (needs torch).

    torchrun --nproc-per-node 2 loader_workers.py [--model-dir DIR] [--workers N]

torchrun (and `accelerate launch --multi_gpu`, which runs torchrun) stops each rank with a signal to
the rank's whole process group. DataLoader workers are in that group: they die of the SIGTERM at
once, and the rank, still training, then dies of "RuntimeError: DataLoader worker (pid N) is killed
by signal: Terminated" before its final save begins. The recipe is one line in ``worker_init_fn``:
each worker leads a process group of its own, so the group signal reaches the rank alone. The rank
saves, and its DataLoader ends the workers as usual when training ends (as does sm-init's final
sweep, if anything is left). Without a launcher (`python loader_workers.py`) sm-init's default
scope signals the trainer alone anyway: no recipe needed there.

On SIGTERM or SIGINT every rank stops at the same step (an all_reduce of the request, so no rank
waits in a collective for one that stopped), writes DIR/model-rankR.pt via a temporary file and a
rename (never seen half written) and exits 0. DIR: --model-dir, else $SM_MODEL_DIR, else
/opt/ml/model. It trains a tiny linear model on CPU (gloo) until stopped.
"""

import argparse
import os
import signal
import sys
import time

import torch
import torch.distributed as dist


def say(line):
    # One write per line: with PYTHONUNBUFFERED=1 print writes the text and its newline apart, and
    # the ranks share the pipe, so another rank's line can land in between.
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def own_process_group(worker_id):
    """worker_init_fn: this DataLoader worker leaves its rank's process group for one of its own."""
    os.setpgid(0, 0)


class Numbers(torch.utils.data.Dataset):
    def __len__(self):
        return 1024

    def __getitem__(self, index):
        return torch.full((4,), float(index % 7)), torch.tensor([float(index % 3)])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default=os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    stop = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.append(signum))
    signal.signal(signal.SIGINT, lambda signum, frame: stop.append(signum))

    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    if distributed:
        dist.init_process_group("gloo")
    rank = dist.get_rank() if distributed else 0
    model = torch.nn.Linear(4, 1)
    if distributed:
        model = torch.nn.parallel.DistributedDataParallel(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    loader = torch.utils.data.DataLoader(Numbers(), batch_size=8, num_workers=args.workers,
                                         worker_init_fn=own_process_group)
    step = 0
    while True:
        for inputs, targets in loader:
            loss = torch.nn.functional.mse_loss(model(inputs), targets)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            step += 1
            if step == 1:
                say(f"rank {rank}: training, {args.workers} DataLoader workers")
            time.sleep(0.05)
            stopping = torch.tensor([1.0 if stop else 0.0])
            if distributed:
                dist.all_reduce(stopping, op=dist.ReduceOp.MAX)
            if stopping.item():
                break
        else:
            continue
        break

    os.makedirs(args.model_dir, exist_ok=True)
    path = os.path.join(args.model_dir, f"model-rank{rank}.pt")
    torch.save({"step": step, "model": model.state_dict()}, path + ".tmp")
    os.rename(path + ".tmp", path)
    say(f"rank {rank}: stopped at step {step}, saved {path}")
    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
