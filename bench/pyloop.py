"""The smallest Python PID 1 worth the name: a reference floor, not a product.

Blocks every signal, forks the command, then: sigwait -> forward -> reap
everything -> exit with the child. No config, no logs, no stop plan. What
sm-init costs above this line is sm-init's; what this costs above tini is
CPython's. Measure it beside the others with:

    bench/run --extra-init "py-loop=$PWD/bench/out/sm-venv/bin/python -S $PWD/bench/pyloop.py"
"""
import os
import signal
import sys

ALL = set(signal.Signals) - {signal.SIGKILL, signal.SIGSTOP}


def main():
    signal.pthread_sigmask(signal.SIG_BLOCK, ALL)
    child = os.fork()
    if child == 0:
        signal.pthread_sigmask(signal.SIG_SETMASK, ())
        os.execvp(sys.argv[1], sys.argv[1:])
    while True:
        signum = signal.sigwait(ALL)
        if signum != signal.SIGCHLD:
            try:
                os.kill(child, signum)
            except ProcessLookupError:
                pass
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                os._exit(0)
            if pid == 0:
                break
            if pid == child:
                os._exit(os.waitstatus_to_exitcode(status) & 0xFF)


if __name__ == "__main__":
    main()
