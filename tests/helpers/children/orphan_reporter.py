"""Makes N orphans (double fork) that report who adopted them, then exit at once.

    orphan_reporter.py N

Each orphan waits until its parent (the intermediate child, which exits right away) is gone,
prints ``orphan adopted-by=<ppid>`` and exits: it is then a zombie of whoever adopted it, which
must reap it. The main process prints ``reporter ready`` and lives until it is signalled.
"""

import os
import sys
import time


def main():
    count = int(sys.argv[1])
    for _ in range(count):
        if os.fork() == 0:
            parent = os.getpid()
            if os.fork() == 0:
                while os.getppid() == parent:  # the intermediate child exits at once
                    time.sleep(0.001)
                os.write(1, f"orphan adopted-by={os.getppid()}\n".encode())
                os._exit(0)
            os._exit(0)
    for _ in range(count):
        os.wait()
    os.write(1, f"reporter ready pid={os.getpid()}\n".encode())
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
