"""A process tree shaped like a launcher (torchrun, mpirun, a trainer with helpers).

    tree.py [--worker HOW,TAG,ON_TERM]... [--on-term exit[=CODE]|ignore] [--exit CODE] [--tag TAG]

Each ``--worker`` is started before the tree says it is ready: HOW is ``group`` (a plain child in
the tree's process group), ``setsid`` (a child in a new session, as torchrun and horovod start
their workers) or ``daemon`` (double fork + setsid: an orphan in its own session, like an sshd
an MPI host started). ON_TERM is ``exit`` (default action, after reporting) or ``ignore``.

Every process prints ``<tag> ready pid=... pgid=... sid=...`` once its handlers are installed and
``<tag> got SIGNAME`` for each signal. The tree prints ``<tag> ready`` only after every worker is
ready (each holds a pipe's write end until then), so a test that saw it knows every signal will
be reported. With ``--exit`` the tree then exits at once, leaving its workers behind.
"""

import argparse
import os
import signal
import sys

from probe import wait_for_signals, wakeup_fd  # (this folder is the script's sys.path[0])

HERE = os.path.abspath(__file__)
REPORTED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


def say(text):
    try:
        os.write(1, (text + "\n").encode())
    except OSError:
        pass


def install(tag, on_term, code):
    def handler(signum, frame):
        say(f"{tag} got {signal.Signals(signum).name}")
        if signum == signal.SIGTERM and on_term == "exit":
            os._exit(code)

    for signum in REPORTED:
        signal.signal(signum, handler)


def ready(tag):
    say(f"{tag} ready pid={os.getpid()} pgid={os.getpgid(0)} sid={os.getsid(0)}")


def worker(tag, on_term, ready_fd):
    wakeup = wakeup_fd()  # its own: not the tree's (the tree makes its own after forking us)
    install(tag, on_term, 128 + signal.SIGTERM)
    ready(tag)
    os.close(ready_fd)
    wait_for_signals(wakeup)  # not time.sleep: a SIGTERM sent the moment the tree says ready is heard


def reap():
    """The workers that exited (setsid and group ones are ours), without waiting."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def start(how, tag, on_term, ready_w):
    """Fork a worker; only the worker itself keeps ``ready_w`` open until it is ready."""
    pid = os.fork()
    if pid:
        if how == "daemon":
            os.waitpid(pid, 0)  # the intermediate child exits at once: the worker is an orphan
        return
    try:
        if how in ("setsid", "daemon"):
            os.setsid()
        if how == "daemon" and os.fork():
            os._exit(0)
        worker(tag, on_term, ready_w)
    finally:
        os._exit(0)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tag", default="tree")
    parser.add_argument("--worker", action="append", default=[])
    parser.add_argument("--on-term", default="ignore")
    parser.add_argument("--exit", type=int)
    args = parser.parse_args()
    action, _, code = args.on_term.partition("=")
    install(args.tag, action, int(code) if code else 128 + signal.SIGTERM)
    ready_r, ready_w = os.pipe()
    for spec in args.worker:
        how, tag, on_term = (spec.split(",") + ["exit"])[:3]
        start(how, tag, on_term, ready_w)
    os.close(ready_w)
    while os.read(ready_r, 1):  # EOF once every worker closed its end: all ready
        pass
    ready(args.tag)
    if args.exit is not None:
        os._exit(args.exit)
    # Not os.wait() either: a signal that lands just before it would be reported only when a worker
    # exits (see probe.wait_for_signals). SIGCHLD wakes the wait instead, and the workers that exited
    # are reaped then.
    wakeup = wakeup_fd()
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    reap()
    wait_for_signals(wakeup, reap)


if __name__ == "__main__":
    sys.exit(main())
