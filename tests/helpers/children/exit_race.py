"""A main child that exits in the same instant sm-init gets SIGTERM.

    exit_race.py term-then-exit CODE   on SIGUSR1: SIGTERM to sm-init, then exit CODE at once
    exit_race.py exit-then-term CODE   on SIGUSR1: exit CODE; a helper that sees the exit (pipe
                                       EOF) sends SIGTERM to sm-init that same moment

sm-init is this process's parent (PID 1 in its namespace, or the subreaper). Prints ``race ready
pid=...`` first.
"""

import os
import signal
import sys


def main():
    order, code = sys.argv[1], int(sys.argv[2])
    init = os.getppid()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
    if order == "exit-then-term":
        read_end, write_end = os.pipe()
        if os.fork() == 0:
            os.close(write_end)
            os.read(read_end, 1)  # EOF: our parent, the main child, is gone
            os.kill(init, signal.SIGTERM)
            os._exit(0)
        os.close(read_end)
    os.write(1, f"race ready pid={os.getpid()}\n".encode())
    signal.sigwait({signal.SIGUSR1})
    if order == "term-then-exit":
        os.kill(init, signal.SIGTERM)
    os._exit(code)


if __name__ == "__main__":
    main()
