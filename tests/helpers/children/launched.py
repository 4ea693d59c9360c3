"""A small real training job for the launcher tests, run by a launcher or alone (CPU, gloo).

    launched.py [--api plain|accelerate|deepspeed] [--workers N] [--worker-group own|inherit]
                [--save DIR] [--save-seconds S] [--fail-rank R] [--fail-step N]
                [--message TEXT] [--steps N]

One rank per process: torch.distributed when the launcher set WORLD_SIZE > 1 (gloo), with
``--api``'s own wrapper of the model (``plain``: DistributedDataParallel; ``accelerate``:
``Accelerator.prepare``; ``deepspeed``: ``deepspeed.initialize``). Every line starts with
``rank R``:

- ``rank R ready pid=P step=N``: printed once, after the first step (a handshake for the tests);
  with DataLoader workers, ``rank R worker W ready pid=P`` from each worker before;
- ``rank R got SIGNAME`` for every SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 that
  arrives (a worker: ``rank R worker W got SIGNAME``);
- a SIGTERM or SIGINT asks for a stop: the ranks agree on the step to stop at (an all_reduce of
  the request, each step), then each writes its final save: ``DIR/final-rankR.pt``, written for
  ``--save-seconds`` to ``final-rankR.pt.tmp`` and renamed when complete (``rank R saved``), and
  exits 0;
- ``--fail-rank R --fail-step N``: rank R raises ValueError(--message) at step N.

DataLoader workers (``--workers``) report their signals too, then die of a SIGTERM or SIGINT as
a worker does by default; ``--worker-group own`` is the recipe of examples/loader_workers.py
(each worker leads a process group of its own, so a launcher's signal to its rank's group leaves
it to its parent, which ends it when done).
"""

import argparse
import io
import os
import signal
import sys
import time

import torch
import torch.distributed as dist

REPORTED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
STOPS = (signal.SIGTERM, signal.SIGINT)
RANK = int(os.environ.get("RANK", "0"))
WORLD = int(os.environ.get("WORLD_SIZE", "1"))


def say(text):
    # One write per line, straight to fd 1: lines of ranks and workers never mix.
    os.write(1, f"rank {RANK} {text}\n".encode())


def report_signals(requested):
    """Say each signal of REPORTED this process gets; a stop signal is also appended to ``requested``
    (the training loop stops at its next step, after a save)."""
    def on_signal(signum, frame):
        say(f"got {signal.Signals(signum).name}")
        if signum in STOPS:
            requested.append(signum)
    for signum in REPORTED:
        signal.signal(signum, on_signal)


class Numbers(torch.utils.data.Dataset):
    def __len__(self):
        return 64

    def __getitem__(self, index):
        return torch.full((4,), float(index)), torch.tensor([float(index % 3)])


def worker_init(group, then=None):
    """A DataLoader worker_init_fn: reports the worker's signals (``own``: in a process group of
    its own, the recipe), then calls ``then`` (another init function) if given."""
    def init(worker):
        tag = f"worker {worker}"
        if group == "own":
            os.setpgid(0, 0)

        def on_signal(signum, frame):
            say(f"{tag} got {signal.Signals(signum).name}")
            if signum in STOPS:
                signal.signal(signum, signal.SIG_DFL)
                os.kill(os.getpid(), signum)
        for signum in REPORTED:
            signal.signal(signum, on_signal)
        say(f"{tag} ready pid={os.getpid()} pgid={os.getpgid(0)}")
        if then is not None:
            then(worker)
    return init


def make_loader(args):
    if not args.workers:
        return torch.utils.data.DataLoader(Numbers(), batch_size=4)
    return torch.utils.data.DataLoader(Numbers(), batch_size=4, num_workers=args.workers,
                                       persistent_workers=True,
                                       worker_init_fn=worker_init(args.worker_group))


def wrap(args, model, optimizer, loader):
    """The model and loader as --api prepares them, and its learn(loss): backward and step."""
    if args.api == "accelerate":
        from accelerate import Accelerator
        accelerator = Accelerator(cpu=True)
        model, optimizer, loader = accelerator.prepare(model, optimizer, loader)

        def learn(loss):
            accelerator.backward(loss)
            optimizer.step()
            optimizer.zero_grad()
        return model, loader, learn
    if args.api == "deepspeed":
        import deepspeed
        # DeepSpeed's CPU backend compiles its shared-memory allreduce (C++, torch's headers) on
        # first use: minutes on a busy 2-core machine, per fresh machine. gloo does the job here;
        # DeepSpeed keeps this probe's result in one dict so that an edit to it holds.
        deepspeed.ops.__compatible_ops__["deepspeed_shm_comm"] = False
        deepspeed.init_distributed("gloo")
        config = {"train_micro_batch_size_per_gpu": 4, "gradient_accumulation_steps": 1,
                  "steps_per_print": 10 ** 9}
        engine, _, _, _ = deepspeed.initialize(model=model, optimizer=optimizer, config=config)

        def learn(loss):
            engine.backward(loss)
            engine.step()
        return engine, loader, learn
    if WORLD > 1:
        dist.init_process_group("gloo")
        model = torch.nn.parallel.DistributedDataParallel(model)

    def learn(loss):
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return model, loader, learn


def stop_agreed(requested):
    """Whether any rank was asked to stop: every rank stops at the same step, none is left waiting
    in a collective for a peer that stopped."""
    if not (dist.is_available() and dist.is_initialized()):
        return requested
    flag = torch.tensor([1.0 if requested else 0.0])
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return flag.item() > 0


def save(args, model):
    """The final save: written to a .tmp file over args.save_seconds seconds (a slow disk), then renamed."""
    final = os.path.join(args.save, f"final-rank{RANK}.pt")
    buffer = io.BytesIO()
    torch.save({k: v.detach().clone() for k, v in model.state_dict().items()}, buffer)
    data = buffer.getvalue()
    pieces = max(1, round(args.save_seconds / 0.05))
    size = -(-len(data) // pieces)
    with open(final + ".tmp", "wb") as file:
        for start in range(0, pieces * size, size):
            file.write(data[start:start + size])
            file.flush()
            time.sleep(args.save_seconds / pieces)
        os.fsync(file.fileno())
    os.rename(final + ".tmp", final)
    say("saved")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--api", choices=["plain", "accelerate", "deepspeed"], default="plain")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--worker-group", choices=["own", "inherit"], default="inherit")
    parser.add_argument("--save")
    parser.add_argument("--save-seconds", type=float, default=0.0)
    parser.add_argument("--fail-rank", type=int)
    parser.add_argument("--fail-step", type=int, default=1)
    parser.add_argument("--message", default="rank {rank} exploded")
    parser.add_argument("--steps", type=int, help="stop after this many steps (default: never)")
    parser.add_argument("--local_rank", "--local-rank", type=int, help="as DeepSpeed's launcher passes it")
    args = parser.parse_args()

    requested = []
    report_signals(requested)

    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    model, loader, learn = wrap(args, model, optimizer, make_loader(args))
    step = 0
    while True:
        for inputs, targets in loader:
            step += 1
            if args.fail_rank == RANK and step == args.fail_step:
                raise ValueError(args.message.format(rank=RANK))
            loss = torch.nn.functional.mse_loss(model(inputs), targets)
            learn(loss)
            if step == 1:
                say(f"ready pid={os.getpid()} step={step}")
            time.sleep(0.05)
            if stop_agreed(bool(requested)) or step == args.steps:
                if args.save:
                    save(args, model)
                return


if __name__ == "__main__":
    main()
    sys.exit(0)
