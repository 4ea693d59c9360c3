"""Signal storm: send COUNT signals to PID, cycling through USR1, USR2, HUP and WINCH, as fast as it can.

    signal_storm.py PID COUNT

Prints ``storm sent=N seconds=T``. Stops early (and says so) if PID disappears.
"""

import os
import signal
import sys
import time

SIGNALS = (signal.SIGUSR1, signal.SIGUSR2, signal.SIGHUP, signal.SIGWINCH)


def main():
    pid, count = int(sys.argv[1]), int(sys.argv[2])
    kill = os.kill
    sent = 0
    started = time.monotonic()
    try:
        for index in range(count):
            kill(pid, SIGNALS[index & 3])
            sent += 1
    except ProcessLookupError:
        print(f"storm target gone after {sent}", flush=True)
    print(f"storm sent={sent} seconds={time.monotonic() - started:.3f}", flush=True)


if __name__ == "__main__":
    main()
