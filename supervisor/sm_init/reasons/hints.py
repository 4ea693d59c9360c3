"""The hints a finding carries (``HINT_*``: what to do about a known cause), and ``HOST_MEMORY``,
the errors that get the host memory hint whichever recogniser found them.

Imports nothing of the package.
"""

import re


HINT_CUDA_OOM = ("The GPU ran out of memory: lower the batch size (or use gradient accumulation,"
                 " mixed precision, activation checkpointing), or use an instance type with more"
                 " GPU memory.")
HINT_DISK_FULL = ("A disk is full: write big files under /opt/ml (model, output, checkpoints), which"
                  " is on the training volume (raise VolumeSizeInGB if that filled); /tmp and other"
                  " paths are on the container's small root disk.")
HINT_CRASH = ("A native crash in a library, not a Python error: check that the CUDA, driver and"
              " library versions match; PYTHONFAULTHANDLER=1 logs the Python stack of the crash.")
HINT_KILLED = ("A process got SIGKILL, most often from the kernel's out-of-memory killer: lower host"
               " memory use (batch size, DataLoader workers, data held in memory) or use an"
               " instance type with more memory.")
HINT_SHM = ("Shared memory (/dev/shm) ran out, most often under DataLoader workers: use fewer workers"
            " or smaller batches per worker, or give the container a bigger /dev/shm.")
HINT_HOST_MEMORY = ("The host ran out of memory (RAM, not the GPU's): lower host memory use (batch size,"
                    " DataLoader workers, data held in memory) or use an instance type with more memory.")
# Errors whose hint comes with the exception, whichever recogniser found it: running out of host
# memory in Python (MemoryError, numpy's _ArrayMemoryError), in C++ (std::bad_alloc), in torch.
HOST_MEMORY = re.compile(r"(?:^|[\s:.(])(?:_Array)?MemoryError\b|\bstd::bad_alloc\b"
                         r"|^memory allocation of \d+ bytes failed"                       # Rust's std
                         r"|DefaultCPUAllocator: (?:not enough|can't allocate) memory"    # c10's CPUAllocator
                         r"|after using all available RAM")                              # Colab
HINT_NCCL = ("An NCCL collective failed or timed out: often a peer rank died or hung first (look for"
             " its own error) or the hosts can't reach each other; rerun with NCCL_DEBUG=INFO.")
HINT_CUDA = ("A CUDA error: kernels run asynchronously, so rerun with CUDA_LAUNCH_BLOCKING=1 to see the"
             " operation that failed; a device-side assert is most often an index out of range"
             " (labels, token ids, embeddings).")
