"""A child for sm-init's tests: reports each signal it receives, on stdout, one line each.

    probe.py [--tag T] [--exit-on SIG[=CODE]]... [--exit CODE | --kill-self SIG] [--orphans N]
             [--group-child] [--setsid-child] [--status] [--tty] [--write FILE]...

Every line starts with the tag (default ``main``). After setting up it prints ``<tag> ready pid=...
pgid=... sid=...``: tests wait for that line instead of sleeping. Every catchable signal but SIGCHLD
is reported as ``<tag> got SIGNAME`` and otherwise ignored, unless listed in --exit-on, which
reports and then exits with CODE (default 128+N).
"""

import argparse
import os
import resource
import select
import signal
import subprocess
import sys

HERE = os.path.abspath(__file__)


def say(tag, text):
    os.write(1, f"{tag} {text}\n".encode())


def wakeup_fd():
    """Call before the handlers are installed; ``wait_for_signals`` then reads what this returns."""
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
    return read_fd


def wait_for_signals(read_fd, woken=None):
    """Wait for ever; each signal's Python handler runs as it comes, then ``woken()``.

    Never time.sleep() or signal.pause(): CPython's C handler only notes a signal, and the Python
    handler runs at the next bytecode. A signal that lands after the interpreter's last look and
    before the process sleeps in the kernel (a few microseconds, in which a loaded machine may
    preempt it) is then noted, but nothing wakes the sleep: the handler ran an hour late, when
    time.sleep(3600) ended. Seen in test_stop.py as a worker that never reported the SIGTERM
    sm-init sent it right after its ready line. The C handler also writes a byte to the wakeup fd,
    and select() returns on it whenever it was written."""
    while True:
        select.select([read_fd], [], [])
        os.read(read_fd, 4096)  # the handlers ran: in select's EINTR retry, or once it returned
        if woken is not None:
            woken()


def signal_name(signum):
    """SIGTERM, or SIGRTMIN+3 for the realtime signals Python has no name for."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"SIGRTMIN+{signum - signal.SIGRTMIN}"


def parse_exit_on(text):
    name, _, code = text.partition("=")
    signum = signal.Signals["SIG" + name.upper().removeprefix("SIG")]
    return signum, int(code) if code else 128 + signum


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tag", default="main")
    parser.add_argument("--exit-on", action="append", default=[], type=parse_exit_on)
    parser.add_argument("--exit", type=int, help="exit with this code right after ready")
    parser.add_argument("--kill-self", help="die by this signal right after ready")
    parser.add_argument("--orphans", type=int, default=0, help="double-fork N children that exit at once")
    parser.add_argument("--group-child", action="store_true", help="a probe child in this process group")
    parser.add_argument("--setsid-child", action="store_true", help="a probe child in a new session")
    parser.add_argument("--status", action="store_true", help="print SigBlk and SigIgn of /proc/self/status")
    parser.add_argument("--write", action="append", default=[], help="write FILE on the first stop signal")
    parser.add_argument("--tty", action="store_true", help="print whether our group is stdin's foreground group")
    args = parser.parse_args()
    tag = args.tag
    exits = dict(args.exit_on)

    names = {signum: signal_name(signum) for signum in signal.valid_signals()}
    arrived, reporting = [], []

    def on_signal(signum, frame):
        # Python runs a handler between two bytecodes, another handler's too: under a flood each
        # report would start inside the previous one until the recursion limit (seen with 8000
        # forwarded realtime signals). A nested call only queues; the outermost one reports.
        arrived.append(signum)
        if reporting:
            return
        reporting.append(True)
        while arrived:
            report(arrived.pop(0))
        reporting.clear()

    def report(signum):
        name = names[signum]
        say(tag, f"got {name}")
        if signum in exits:
            for path in args.write:
                with open(path + ".tmp", "w") as f:
                    f.write(f"saved by {tag} on {name}\n")
                os.rename(path + ".tmp", path)
            os._exit(exits[signum])

    if args.status:
        with open("/proc/self/status") as f:
            fields = dict(line.split(":\t", 1) for line in f if ":\t" in line)
        say(tag, f"status SigBlk={fields['SigBlk'].strip()} SigIgn={fields['SigIgn'].strip()}")
    if args.tty:
        try:
            foreground = os.tcgetpgrp(0) == os.getpgrp()
        except OSError as exc:
            foreground = f"error {exc.errno}"
        say(tag, f"tty foreground={foreground}")
    wakeup = wakeup_fd()
    for signum in signal.valid_signals():
        if signum not in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD):
            try:
                signal.signal(signum, on_signal)
            except (OSError, ValueError):
                pass
    children = []
    for _ in range(args.orphans):
        if os.fork() == 0:
            if os.fork() == 0:
                os._exit(0)
            os._exit(0)
    for _ in range(args.orphans):
        os.wait()  # our own intermediate children; their children are orphans now
    if args.group_child:
        children.append(subprocess.Popen([sys.executable, HERE, "--tag", "grandchild"]
                                         + [f"--exit-on={n.name}" for n in exits]))
    if args.setsid_child:
        children.append(subprocess.Popen([sys.executable, HERE, "--tag", "escaped"], start_new_session=True))
    say(tag, f"ready pid={os.getpid()} pgid={os.getpgid(0)} sid={os.getsid(0)}")
    if args.exit is not None:
        sys.stdout.flush()
        os._exit(args.exit)
    if args.kill_self:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file from --kill-self SEGV
        if args.kill_self not in ("KILL", "STOP"):  # those two can't be caught, nor set
            signal.signal(signal.Signals["SIG" + args.kill_self], signal.SIG_DFL)
        os.kill(os.getpid(), signal.Signals["SIG" + args.kill_self])
    wait_for_signals(wakeup)


if __name__ == "__main__":
    main()
