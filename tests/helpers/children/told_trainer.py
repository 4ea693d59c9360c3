"""A trainer of one host of a multi-host job, for the peers' tests: told what to do on stdin.

    told_trainer.py HOST

Prints ``HOST ready``, then reads commands, one a line: ``fail`` raises RuntimeError("HOST
exploded") (a traceback on stderr, exit 1), ``peer-died`` raises what a rank raises when a peer died
first (gloo's "Connection closed by peer"), ``exit CODE`` exits with CODE. SIGTERM is reported
(``HOST got SIGTERM``) and ends it with 143. End of stdin: it waits for a signal.

Never a blocking read of stdin: a SIGTERM that lands after the interpreter's last look and before
the read sleeps in the kernel is noted, and nothing wakes the read (probe.wait_for_signals says
why). Seen once in CI as a trainer still in its read of stdin a minute after sm-init sent SIGTERM.
stdin is read when select() says it has something, select() woken by the wakeup fd too.
"""

import os
import select
import signal
import sys

from probe import wait_for_signals, wakeup_fd  # (this folder is the script's sys.path[0])


def main():
    host = sys.argv[1]

    def stop(signum, frame):
        print(f"{host} got SIGTERM", flush=True)
        sys.exit(143)

    wakeup = wakeup_fd()  # before the handler: a SIGTERM from here on wakes the select below
    signal.signal(signal.SIGTERM, stop)
    print(f"{host} ready", flush=True)
    stdin, pending = sys.stdin.fileno(), b""
    while True:
        readable, _, _ = select.select([stdin, wakeup], [], [])
        if wakeup in readable:
            os.read(wakeup, 4096)  # the handlers ran: in select's EINTR retry, or once it returned
        if stdin not in readable:
            continue
        data = os.read(stdin, 4096)
        if not data:
            break
        pending += data
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            words = line.decode().split()
            if words == ["fail"]:
                raise RuntimeError(f"{host} exploded")
            if words == ["peer-died"]:
                raise RuntimeError("[pair.cc:553] Connection closed by peer [127.0.0.1]:8359")
            if words[:1] == ["exit"]:
                sys.exit(int(words[1]))
    wait_for_signals(wakeup)


if __name__ == "__main__":
    main()
