"""A main child that counts signals instead of printing each (a storm would flood its stdout).

Prints ``counter ready pid=...``. Counts USR1, USR2, HUP and WINCH; on SIGPWR prints ``counter
usr1=A usr2=B hup=C winch=D``; reports SIGTERM as ``counter got SIGTERM`` and keeps running, so a
stop goes through grace, hooks and the SIGKILL sweep.
"""

import os
import signal

from probe import wait_for_signals, wakeup_fd  # (this folder is the script's sys.path[0])

COUNTED = {signal.SIGUSR1: "usr1", signal.SIGUSR2: "usr2", signal.SIGHUP: "hup", signal.SIGWINCH: "winch"}


def main():
    counts = dict.fromkeys(COUNTED.values(), 0)

    def count(signum, frame):
        counts[COUNTED[signum]] += 1

    def report(signum, frame):
        os.write(1, ("counter " + " ".join(f"{k}={v}" for k, v in counts.items()) + "\n").encode())

    def term(signum, frame):
        os.write(1, b"counter got SIGTERM\n")

    wakeup = wakeup_fd()
    for signum in COUNTED:
        signal.signal(signum, count)
    signal.signal(signal.SIGPWR, report)
    signal.signal(signal.SIGTERM, term)
    os.write(1, f"counter ready pid={os.getpid()}\n".encode())
    wait_for_signals(wakeup)  # not signal.pause: a SIGPWR just before it would be reported at the next signal


if __name__ == "__main__":
    main()
