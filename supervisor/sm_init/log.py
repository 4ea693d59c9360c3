"""One line per event on stderr, prefixed ``sm-init:``.

Lines go straight to fd 2 with one write each: no buffering to lose on ``os._exit`` and no
interleaving inside a line when the trainer writes to the same stream.
"""

import os

QUIET, NORMAL, VERBOSE = -1, 0, 1
_level = NORMAL


def set_level(level: int) -> None:
    global _level
    _level = level


def _write(text: str) -> None:
    data = ("sm-init: " + text + "\n").encode("utf-8", "backslashreplace")
    try:
        os.write(2, data)
    except OSError:
        pass  # stderr closed or a full pipe nobody reads: the init goes on regardless


def info(text: str) -> None:
    if _level >= NORMAL:
        _write(text)


def verbose(text: str) -> None:
    if _level >= VERBOSE:
        _write(text)


def warning(text: str) -> None:
    _write("warning: " + text)


def error(text: str) -> None:
    _write("error: " + text)
