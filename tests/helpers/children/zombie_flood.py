"""The zombie flood's main child: on SIGUSR1, create N orphans at once and let them all exit together.

    zombie_flood.py N [BINARY]

Prints ``flood ready pid=...``, waits for SIGUSR1 (sm-init forwards it), has a spawner fork N
children blocked on a pipe and exit (so the N are orphans of sm-init, alive), prints ``flood alive
N``, closes the pipe's last write end so all N exit at once, and prints ``flood released at=T``
(CLOCK_MONOTONIC, shared with the test). Then it waits for SIGTERM. BINARY is the compiled
zombie_flood.c; without it the spawner is a Python fork loop (slower, same result).
"""

import gc
import os
import signal
import subprocess
import sys
import time


def spawn_python(count, read_end, write_end):
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGUSR1, signal.SIG_IGN)  # the trigger reaches the whole group
        gc.disable()
        gc.freeze()  # children touch fewer pages: fork + copy-on-write is the slow part
        fork, close, read, _exit = os.fork, os.close, os.read, os._exit
        for _ in range(count):
            if fork() == 0:
                close(write_end)
                while read(read_end, 1):
                    pass
                _exit(0)
        _exit(0)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def main():
    count = int(sys.argv[1])
    binary = sys.argv[2] if len(sys.argv) > 2 else None
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    os.write(1, f"flood ready pid={os.getpid()}\n".encode())
    signal.sigwait({signal.SIGUSR1})
    read_end, write_end = os.pipe()
    if binary:
        code = subprocess.run([binary, str(count), str(read_end)], pass_fds=(read_end,),
                              stdin=subprocess.DEVNULL).returncode
    else:
        code = spawn_python(count, read_end, write_end)
    os.close(read_end)
    if code != 0:
        os.write(1, f"flood spawner failed {code}\n".encode())
        sys.exit(1)
    os.write(1, f"flood alive {count}\n".encode())
    signal.sigwait({signal.SIGUSR1})
    released = time.monotonic()
    os.close(write_end)
    os.write(1, f"flood released at={released:.6f}\n".encode())
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGUSR1})
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
