"""Signal names, the rewrite map, and the blocked-and-waited-for signal model.

sm-init installs no signal handlers: every signal stays blocked and is collected with
sigtimedwait, so a signal is handled in the main loop, in order, never in the middle of other
work. sigtimedwait also gives the sender (siginfo), which tells apart three kinds of arrival:

* a signal someone sent (``kill``, Docker, a terminal): forward it or start the stop;
* a signal the kernel raised against sm-init's own system call: SIGPIPE for a write to a pipe
  nobody reads, SIGXFSZ for a write past RLIMIT_FSIZE. The kernel sends those as if sm-init had
  sent them to itself (SI_USER from its own pid). They are sm-init's business, never the trainer's;
* ``IO_SIGNAL`` from the kernel (a POLL_* code): a descriptor of the output relay became readable
  or writable. It is a realtime signal, set with F_SETSIG, because realtime signals queue: a plain
  SIGIO from the kernel would swallow a SIGIO that someone sent for the trainer while ours was
  pending. The same signal sent by a person (SI_USER, SI_QUEUE) is forwarded like any other; when
  the realtime queue overflows, the kernel falls back to SIGIO with SI_KERNEL, which counts too.
"""

from __future__ import annotations

import os

try:
    # The C module that the standard library's `signal` wraps in enums: the same functions and
    # constants, without the ~3 ms that importing enum (and building those enums) adds to every
    # start of sm-init (bench/FINDINGS.md). sm-init's other modules take it from here.
    import _signal as signal
except ImportError:  # pragma: no cover - another Python implementation
    import signal

from .records import record

UNCATCHABLE = frozenset({signal.SIGKILL, signal.SIGSTOP})
ALL = frozenset(signal.valid_signals()) - UNCATCHABLE
STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})
# faulthandler dumps on these by itself (faulthandler.enable) and the process then dies of them;
# faulthandler.register refuses them.
FAULTHANDLER_FATAL = frozenset({signal.SIGSEGV, signal.SIGFPE, signal.SIGABRT, signal.SIGBUS, signal.SIGILL})
IO_SIGNAL = signal.SIGRTMAX
SI_USER = 0


class BadSignal(ValueError):
    pass


@record
class Received:
    """One signal taken from the kernel's queue, with who sent it."""
    signum: int
    self_caused: bool = False   # the kernel's answer to one of sm-init's own calls (SIGPIPE, SIGXFSZ)
    io: bool = False            # SIGIO for a descriptor of the output relay


def parse_signal(text: str) -> int:
    """``TERM``, ``SIGTERM``, ``sigterm`` or ``15`` -> 15. ``0`` is allowed (it means: drop)."""
    word = text.strip().upper()
    if word.isdigit():
        number = int(word)
        if number == 0 or number in signal.valid_signals():
            return number
        raise BadSignal(f"{text!r} is not a signal number on this system")
    name = word if word.startswith("SIG") else "SIG" + word
    try:
        return NUMBERS[name]
    except KeyError:
        raise BadSignal(f"{text!r} is not a signal name") from None


ALIASES = ("SIGIOT", "SIGPOLL", "SIGCLD")  # other names of SIGABRT, SIGIO, SIGCHLD
NUMBERS = {key: value for key, value in vars(signal).items()
           if key.startswith("SIG") and not key.startswith("SIG_") and isinstance(value, int)}
NAMES = {value: key for key, value in NUMBERS.items() if key not in ALIASES}


def name(signum: int) -> str:
    """SIGTERM; SIGRTMIN+3 for the realtime signals that have no name of their own."""
    if signum in NAMES:
        return NAMES[signum]
    if signal.SIGRTMIN < signum < signal.SIGRTMAX:
        return f"SIGRTMIN+{signum - signal.SIGRTMIN}"
    return f"signal {signum}"


def parse_rewrite(text: str) -> dict:
    """``TERM=QUIT`` -> {15: 3}."""
    source, sep, target = text.partition("=")
    if not sep or not source.strip() or not target.strip():
        raise BadSignal(f"{text!r} is not FROM=TO")
    from_sig = parse_signal(source)
    if from_sig == 0:
        raise BadSignal(f"{text!r}: 0 can only be a target")
    if from_sig in UNCATCHABLE:
        raise BadSignal(f"{text!r}: {name(from_sig)} never reaches sm-init (no process can catch it): nothing to rewrite")
    if from_sig == signal.SIGCHLD:
        raise BadSignal(f"{text!r}: SIGCHLD is never forwarded (sm-init reaps on it): nothing to rewrite")
    to_sig = parse_signal(target)
    if to_sig == from_sig:
        raise BadSignal(f"{text!r} rewrites {name(from_sig)} to itself: nothing to rewrite")
    return {from_sig: to_sig}


def block_all() -> None:
    signal.pthread_sigmask(signal.SIG_BLOCK, ALL)


def unblock_all() -> set:
    """Unblock every signal; returns the mask before, for ``set_mask``."""
    return signal.pthread_sigmask(signal.SIG_SETMASK, ())


def set_mask(mask) -> None:
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)


def restore_defaults_we_depend_on() -> None:
    """An inherited SIGCHLD = SIG_IGN makes the kernel reap children itself: sm-init would never
    see its main child's exit status. Every other inherited disposition is harmless while the
    signal is blocked (blocked signals are queued even when ignored) and is reset in children."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)


def wait_for_signal(timeout: float | None, me: int) -> Received | None:
    """The next pending signal, or None once ``timeout`` seconds have passed (None: wait forever)."""
    info = signal.sigwaitinfo(ALL) if timeout is None else signal.sigtimedwait(ALL, max(timeout, 0.0))
    if info is None:
        return None
    return received(info, me)


def received(info, me: int) -> Received:
    signum = info.si_signo
    if signum in (IO_SIGNAL, signal.SIGIO) and info.si_code > 0:  # POLL_* or SI_KERNEL: never a person
        return Received(signum, io=True)
    return Received(signum, self_caused=info.si_code == SI_USER and info.si_pid == me)


def take_more_io(me: int):
    """After one I/O signal: take the others already queued (one per write of the tree: the relay
    reads everything at once anyway). Returns a signal that is not I/O, taken meanwhile, or None."""
    while True:
        info = signal.sigtimedwait((IO_SIGNAL, signal.SIGIO), 0)
        if info is None:
            return None
        got = received(info, me)
        if not got.io:
            return got


def reset_for_exec() -> None:
    """In a fresh child: default dispositions and an empty mask, so nothing of sm-init's leaks."""
    for signum in ALL:
        try:
            signal.signal(signum, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    signal.pthread_sigmask(signal.SIG_SETMASK, ())


def send(pid: int, signum: int, group: bool) -> bool:
    """Signal a pid or a process group; False when it no longer exists."""
    try:
        if group:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)
        return True
    except ProcessLookupError:
        return False
    except OSError:  # EAGAIN: the realtime queue is full (a storm); EPERM: a setuid process. Not ours to die of
        return False


def catches(pid: int, signum: int) -> bool:
    """Whether ``pid`` has a handler for ``signum`` (its SigCgt mask): it means to act on it itself.

    Only asked of the main child before it is reaped, so the pid cannot name another process.
    """
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"SigCgt:"):
                    return bool(int(line.split()[1], 16) >> (signum - 1) & 1)
    except (OSError, ValueError, IndexError):
        pass
    return False
