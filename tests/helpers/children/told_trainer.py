"""A trainer of one host of a multi-host job, for the peers' tests: told what to do on stdin.

    told_trainer.py HOST

Prints ``HOST ready``, then reads commands, one a line: ``fail`` raises RuntimeError("HOST
exploded") (a traceback on stderr, exit 1), ``exit CODE`` exits with CODE. SIGTERM is reported
(``HOST got SIGTERM``) and ends it with 143. End of stdin: it waits for a signal.
"""

import signal
import sys

from probe import wait_for_signals, wakeup_fd  # (this folder is the script's sys.path[0])


def main():
    host = sys.argv[1]

    def stop(signum, frame):
        print(f"{host} got SIGTERM", flush=True)
        sys.exit(143)

    signal.signal(signal.SIGTERM, stop)
    print(f"{host} ready", flush=True)
    for line in sys.stdin:
        words = line.split()
        if words == ["fail"]:
            raise RuntimeError(f"{host} exploded")
        if words[:1] == ["exit"]:
            sys.exit(int(words[1]))
    wait_for_signals(wakeup_fd())  # not signal.pause(): a SIGTERM just before it is heard


if __name__ == "__main__":
    main()
