"""A 2-rank torch.distributed job (gloo, CPU) in which ranks fail after an all_reduce.

``torchrun --nproc-per-node 2 ddp_fail.py CASE``:
  raise       rank 1 raises ValueError
  raise-all   every rank raises ValueError (none is stopped before it has printed its own)
  raise-slow  rank 1 raises ValueError, then takes 5 s to exit after closing its connections (as
              an accelerate rank's clean-up does): rank 0 dies at once of the closed connection,
              and torchrun's summary names rank 0
  oom         rank 1 raises torch.OutOfMemoryError with the message CUDA's allocator gives (no GPU
              here: the class and the text are PyTorch's, the raise is ours)
  segfault    rank 1 reads address 0 (a real SIGSEGV)
  sigkill     rank 1 gets SIGKILL, as from the OOM killer
"""

import atexit
import ctypes
import os
import signal
import sys
import time

import torch
import torch.distributed as dist

OOM_MESSAGE = (   # as torch 2.x words it (see tests/fixtures/reasons/cuda_oom.txt for the source)
    "CUDA out of memory. Tried to allocate 22.00 MiB. GPU 0 has a total capacity of 23.65 GiB of"
    " which 11.06 MiB is free. Including non-PyTorch memory, this process has 23.60 GiB memory in"
    " use. Of the allocated memory 22.90 GiB is allocated by PyTorch, and 194.87 MiB is reserved by"
    " PyTorch but unallocated. If reserved but unallocated memory is large try setting"
    " PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation.  See documentation"
    " for Memory Management  (https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)")


def fail(case, rank):
    if case == "raise-all":
        # torchrun SIGTERMs the other ranks as soon as one has exited: ignored here, so that every
        # rank gets to print its own traceback, however the two are scheduled.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if case == "raise-slow" and rank == 1:
        atexit.register(time.sleep, 5)                 # runs last: after the group is gone
        atexit.register(dist.destroy_process_group)   # closes rank 0's peer connection
        raise ValueError(f"bad lr on rank {rank}")
    if case == "raise-all" or (case == "raise" and rank == 1):
        raise ValueError(f"bad lr on rank {rank}")
    if rank != 1:
        return
    if case == "oom":
        raise torch.OutOfMemoryError(OOM_MESSAGE)
    if case == "segfault":
        ctypes.string_at(0)
    if case == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)


def main():
    case = sys.argv[1]
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    total = torch.ones(1)
    dist.all_reduce(total)
    print(f"rank {rank}: all_reduce gave {total.item():g}", flush=True)
    fail(case, rank)
    dist.barrier()   # the ranks that didn't fail wait here for the one that did
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
