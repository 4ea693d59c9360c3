"""A training loop whose DataLoader worker dies: ``loader_fail.py sigkill|segfault|sigbus``.

The worker process gets a real SIGKILL (as from the OOM killer), reads address 0 (a real
SIGSEGV) or gets a SIGBUS (what touching a page of a full /dev/shm gives) while loading the first
item; the main process then fails the way torch makes it fail.
"""

import ctypes
import os
import signal
import sys

import torch
from torch.utils.data import DataLoader, Dataset


class Shards(Dataset):
    def __len__(self):
        return 64

    def __getitem__(self, index):
        if index == 0:   # before any batch is in flight: nothing else can fail first
            if sys.argv[1] == "sigkill":
                os.kill(os.getpid(), signal.SIGKILL)
            if sys.argv[1] == "sigbus":
                os.kill(os.getpid(), signal.SIGBUS)
            ctypes.string_at(0)
        return torch.full((4,), float(index))


for step, batch in enumerate(DataLoader(Shards(), batch_size=2, num_workers=1)):
    print(f"step {step} mean {batch.mean().item():.1f}", flush=True)
