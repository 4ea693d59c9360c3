"""Misbehaving pre-kill hooks (and the odd main child) for the hook, race and descriptor tests.

    misbehaving_hook.py ok TAG            print ``hook TAG ran pid=P``, exit 0
    misbehaving_hook.py fail TAG CODE     print ``hook TAG ran pid=P``, exit CODE
    misbehaving_hook.py hang TAG          ignore SIGTERM, print ``hook TAG hanging pid=P``, never exit
    misbehaving_hook.py daemon TAG        fork a daemon (new session, ignores SIGTERM, keeps stdout open),
                                          print ``hook TAG daemon pid=D``, exit 0
    misbehaving_hook.py spew TAG MB       write MB megabytes to stdout, print ``hook TAG spewed``, exit 0
    misbehaving_hook.py fds TAG [stay]    print ``fds TAG 0,1,2,...`` (this process's open fds); with
                                          ``stay``, wait for SIGTERM and exit 0
"""

import os
import signal
import sys


def say(text):
    os.write(1, (text + "\n").encode())


def open_fds():
    """Open fds, less the one listing /proc/self/fd (gone again by the time it is looked at)."""
    fds = []
    for entry in os.listdir("/proc/self/fd"):
        try:
            os.readlink(f"/proc/self/fd/{entry}")
        except FileNotFoundError:
            continue
        fds.append(int(entry))
    return sorted(fds)


def main():
    what, tag = sys.argv[1], sys.argv[2]
    if what in ("ok", "fail"):
        say(f"hook {tag} ran pid={os.getpid()}")
        sys.exit(0 if what == "ok" else int(sys.argv[3]))
    if what == "hang":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        say(f"hook {tag} hanging pid={os.getpid()}")
        while True:
            signal.pause()
    if what == "daemon":
        pid = os.fork()
        if pid == 0:
            os.setsid()
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            while True:
                signal.pause()
        say(f"hook {tag} daemon pid={pid}")
        os._exit(0)
    if what == "spew":
        line = b"x" * ((1 << 20) - 1) + b"\n"  # long lines: the tests' line matcher stays fast
        for _ in range(int(sys.argv[3])):
            os.write(1, line)
        say(f"hook {tag} spewed")
        sys.exit(0)
    if what == "fds":
        stay = len(sys.argv) > 3 and sys.argv[3] == "stay"
        if stay:
            signal.signal(signal.SIGTERM, lambda *_: os._exit(0))  # before the line the test waits for
        say(f"fds {tag} " + ",".join(map(str, open_fds())))
        if stay:
            # Not signal.pause: a SIGTERM just before it would be handled at the next signal, never.
            # The wakeup fd is made after the listing; a SIGTERM before it runs its handler at once.
            from probe import wait_for_signals, wakeup_fd  # (this folder is the script's sys.path[0])
            wait_for_signals(wakeup_fd())
        sys.exit(0)
    raise SystemExit(f"misbehaving_hook.py: unknown mode {what!r}")


if __name__ == "__main__":
    main()
