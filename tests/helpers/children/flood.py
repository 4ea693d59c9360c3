"""A trainer that ignores SIGTERM and floods stderr with numbered records until it is killed,
counting in a shared file each record the kernel took whole.

    flood.py COUNTER RECORD_BYTES

Prints ``ready`` on stdout first. Each record is ``%08d `` + x's + a newline, RECORD_BYTES long
(at most PIPE_BUF: a pipe takes it whole or not at all), written with one blocking write; COUNTER
(8 bytes, mapped shared) holds how many records were written, updated right after each write: a
SIGKILL between a write and its count (a few instructions, against the write's long wait on a
full pipe) would leave it one short.
"""

import mmap
import os
import signal
import sys

counter_path, size = sys.argv[1], int(sys.argv[2])
signal.signal(signal.SIGTERM, signal.SIG_IGN)
with open(counter_path, "r+b") as f:
    counter = mmap.mmap(f.fileno(), 8)
os.write(1, b"ready\n")
n = 0
while True:
    os.write(2, b"%08d " % n + b"x" * (size - 10) + b"\n")
    n += 1
    counter[:8] = n.to_bytes(8, "little")
