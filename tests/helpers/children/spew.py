"""Writes N MiB of seeded pseudo-random bytes to stdout and to stderr, in chunks of varying size,
at random between the two, then exits 0. ``chunks`` gives the test the same bytes to compare.

    spew.py SEED MIB
"""

import os
import random
import sys


def chunks(seed, mib):
    """(fd, bytes) in the order they are written."""
    rng = random.Random(seed)
    total = 0
    while total < mib * 1024 * 1024:
        size = rng.choice((1, 17, 512, 4096, 65536, 200_000))
        yield (1 if rng.random() < 0.5 else 2), rng.randbytes(size)
        total += size


def main():
    for fd, chunk in chunks(int(sys.argv[1]), int(sys.argv[2])):
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view):]


if __name__ == "__main__":
    main()
