"""A silent hang with faulthandler's stacks on SIGUSR1: ``fh_hang.py``.

The trainer registers ``faulthandler.register(SIGUSR1, all_threads=True)`` and starts two Python
children: a helper that registers it too, and a bystander that blocks SIGUSR1 instead (it does not
handle it: sm-init must never send it; a blocked signal stays pending, so the bystander can tell).
When both children are ready it says so, and all three hang in named functions, silently. On
SIGTERM the bystander reports the signals pending for it and exits.
"""

import faulthandler
import os
import signal
import subprocess
import sys
import time


def wait_in_trainer():
    while True:
        time.sleep(3600)


def wait_in_helper():
    while True:
        time.sleep(3600)


def bystander():
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})

    def report(signum, frame):
        pending = sorted(signal.Signals(s).name for s in signal.sigpending())
        print(f"bystander: pending at the stop: {pending}", file=sys.stderr, flush=True)
        os._exit(0)
    signal.signal(signal.SIGTERM, report)
    print("bystander: ready", flush=True)
    while True:
        time.sleep(3600)


def main():
    role = sys.argv[1] if len(sys.argv) > 1 else "trainer"
    if role == "bystander":
        bystander()
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    if role == "helper":
        print("helper: ready", flush=True)
        wait_in_helper()
    children = [subprocess.Popen([sys.executable, __file__, which], stdout=subprocess.PIPE)
                for which in ("helper", "bystander")]
    for child in children:
        sys.stdout.write(child.stdout.readline().decode())
    print("trainer: children ready, going quiet", flush=True)
    wait_in_trainer()


if __name__ == "__main__":
    main()
