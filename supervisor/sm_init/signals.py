"""Signal names, the rewrite map, and the blocked-and-waited-for signal model.

sm-init installs no signal handlers: every signal is blocked and collected with sigtimedwait, so a
signal is handled in the main loop, in order, never in the middle of other work.
"""

import os
import signal
from typing import Dict, Optional

ALL = frozenset(signal.valid_signals()) - {signal.SIGKILL, signal.SIGSTOP}
STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})


class BadSignal(ValueError):
    pass


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
        return int(signal.Signals[name])
    except KeyError:
        raise BadSignal(f"{text!r} is not a signal name") from None


def name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def parse_rewrite(text: str) -> Dict[int, int]:
    """``TERM=QUIT`` -> {15: 3}."""
    source, sep, target = text.partition("=")
    if not sep or not source.strip() or not target.strip():
        raise BadSignal(f"{text!r} is not FROM=TO")
    from_sig = parse_signal(source)
    if from_sig == 0:
        raise BadSignal(f"{text!r}: 0 can only be a target")
    return {from_sig: parse_signal(target)}


def block_all() -> None:
    signal.pthread_sigmask(signal.SIG_BLOCK, ALL)


def wait_for_signal(timeout: Optional[float]) -> Optional[int]:
    """The next pending signal, or None once ``timeout`` seconds have passed (None: wait forever)."""
    if timeout is None:
        return signal.sigwait(ALL)
    info = signal.sigtimedwait(ALL, max(timeout, 0.0))
    return None if info is None else info.si_signo


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
