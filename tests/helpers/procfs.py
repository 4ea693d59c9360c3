"""What the kernel says about a process, read from /proc, and waiting until it says something.

Every reader takes a host pid. Where a test polls for a state (``process_state``, ``blocks``), a
process that is gone reads as "not in that state"; elsewhere a missing process is an error.
"""

import os
import re
import time

TIMEOUT = 60.0  # generous: these machines are noisy
O_CLOEXEC = 0o2000000  # not in os on every Python: the fdinfo flags word, octal


def wait_until(condition, what, timeout=TIMEOUT, interval=0.02):
    """Poll ``condition`` until it is truthy and return that value; fail naming ``what`` and the
    last value after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what} (last: {value!r})")
        time.sleep(interval)


def proc_status(pid):
    """/proc/PID/status as a dict of strings (``{"SigBlk": "0000000000000000", ...}``)."""
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def process_state(pid, proc="/proc"):
    """The state letter of /proc/PID/stat (R, S, D, T, Z, ...); None once the process is gone.

    The command name in parentheses may hold spaces and parentheses itself: split after the last.
    """
    try:
        with open(f"{proc}/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return None


def rss_kib(pid):
    return int(proc_status(pid)["VmRSS"].split()[0])


def children_of(pid):
    """The pids whose parent is ``pid`` (its own thread's list: sm-init has one thread)."""
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def zombies_among(pids):
    return sum(1 for pid in pids if process_state(pid) == "Z")


def zombies_in_namespace(init_pid):
    """Zombies of the PID namespace whose PID 1 is ``init_pid``, read from the namespace's own /proc.

    ``unshare --mount-proc`` mounts a proc for the new namespace in a new mount namespace; the host
    sees it through /proc/<pid>/root/proc. A zombie has no environment, so a run's marker cannot
    name it: the namespace itself is the run's boundary.
    """
    proc = f"/proc/{init_pid}/root/proc"
    return [int(entry) for entry in os.listdir(proc) if entry.isdigit() and process_state(entry, proc) == "Z"]


def zombie_descendants(pid):
    """Zombies below ``pid`` on the host (in PID-1 mode every process of the namespace is below it)."""
    import psutil
    try:
        below = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [process.pid for process in below if process_state(process.pid) == "Z"]


def run_zombies(init):
    """Every zombie of this run that sm-init should have reaped."""
    zombies = zombie_descendants(init.pid)
    if init.pid1:
        zombies += [f"ns:{pid}" for pid in zombies_in_namespace(init.pid)]
    return zombies


def signal_mask(pid, field):
    """A signal set of /proc/PID/status (SigBlk, SigIgn, SigPnd, ShdPnd) as an int."""
    return int(proc_status(pid)[field], 16)


def has(mask, signum):
    return bool(mask >> (signum - 1) & 1)


def blocks(pid, *signums):
    """Does the process block all of these signals (not yet started, or gone: no)?

    A process inside sigtimedwait counts: while it waits the kernel shows the waited signals as
    unblocked in SigBlk, though they are queued for the wait and never delivered to a handler."""
    try:
        mask = signal_mask(pid, "SigBlk")
        if all(has(mask, signum) for signum in signums):
            return True
        return wchan(pid).startswith("do_sigtimedwait")
    except (FileNotFoundError, ProcessLookupError):
        return False


def wchan(pid):
    """Where in the kernel the process sleeps (``anon_pipe_write``, ``do_sigtimedwait``, ...)."""
    with open(f"/proc/{pid}/wchan") as f:
        return f.read()


def pending(pid, signum):
    """Is an instance of ``signum`` still queued for the process (not yet taken by sigtimedwait)?"""
    return any(has(signal_mask(pid, field), signum) for field in ("SigPnd", "ShdPnd"))


def fd_flags(pid, fd):
    """The open-file flags of a process's fd (O_NONBLOCK, O_CLOEXEC, ...); None once it is closed."""
    try:
        with open(f"/proc/{pid}/fdinfo/{fd}") as f:
            return int(re.search(r"^flags:\s+(\d+)", f.read(), re.M).group(1), 8)
    except FileNotFoundError:
        return None
