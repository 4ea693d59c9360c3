"""A trainer with a process whose memory map is locked: reading that process's /proc/PID/cmdline or
environ waits, as it does behind a process stuck in the kernel (``ps`` hangs the same way).

``mmap_locked.py FILE``, FILE on stuck_fuse.py's mount. The launcher (this process) starts a
bystander (a Python process that sleeps), then the locked process, and prints
``ready launcher=L bystander=B locked=P reader=R``.

The locked process (``mmap_locked.py --locked FILE``) maps FILE; a child of its own, the reader,
reads that page through /proc/PID/mem, which holds the locked process's mmap lock while the read
waits for the file system, forever. The locked process then maps a page of its own: that asks
for the lock to change the map and queues behind the reader (wchan rwsem_down_write_slowpath);
from then on every new reader of the lock, the kernel's /proc/PID/cmdline included, waits too.
Aborting the file system's connection ends all of it.
"""

import ctypes
import mmap
import os
import subprocess
import sys
import time

READ_PAGE = "import os, sys; os.pread(os.open(f'/proc/{sys.argv[1]}/mem', os.O_RDONLY), 1, int(sys.argv[2]))"
SLEEP = "import time; print('up', flush=True); time.sleep(3600)"
TIMEOUT = 60.0


def wait_for(task, where):
    """Until the task sleeps in the kernel function ``where``."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        with open(f"{task}/wchan") as f:
            if f.read() == where:
                return
        if time.monotonic() > deadline:
            sys.exit(f"mmap_locked: {task} never waited in {where}")
        time.sleep(0.01)


def locked(path):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    fd = os.open(path, os.O_RDONLY)
    address = libc.mmap(None, mmap.PAGESIZE, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
    reader = subprocess.Popen([sys.executable, "-c", READ_PAGE, str(os.getpid()), str(address)])
    wait_for(f"/proc/{reader.pid}", "request_wait_answer")   # FUSE's: the read went out, no answer
    print(f"locked={os.getpid()} reader={reader.pid}", flush=True)
    mmap.mmap(-1, mmap.PAGESIZE)   # waits for the lock the reader holds, forever: the writer


def launcher(path):
    bystander = subprocess.Popen([sys.executable, "-c", SLEEP], stdout=subprocess.PIPE)
    assert bystander.stdout.readline() == b"up\n"
    stuck = subprocess.Popen([sys.executable, __file__, "--locked", path], stdout=subprocess.PIPE)
    said = stuck.stdout.readline().decode().strip()
    print(f"ready launcher={os.getpid()} bystander={bystander.pid} {said}", flush=True)
    time.sleep(3600)


if __name__ == "__main__":
    if sys.argv[1] == "--locked":
        locked(sys.argv[2])
    else:
        launcher(sys.argv[1])
