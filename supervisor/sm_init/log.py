"""One line per event on stderr, prefixed ``sm-init:``; never blocking, never forgeable.

Lines go to the stderr sink of ``output``, which never blocks and never puts a line of sm-init's
inside a line of the trainer's. Whatever a line quotes (a command, a file name) can't break it in
two: control characters are escaped, so a newline in a command can't forge an ``sm-init:`` line.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from . import output, shellwords

QUIET, NORMAL, VERBOSE = -1, 0, 1
_level = NORMAL
LONGEST = 4000  # bytes: a line under PIPE_BUF is written whole, never interleaved with the trainer's
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def set_level(level: int) -> None:
    global _level
    _level = level


def escape(text: str) -> str:
    """Control characters as visible escapes: what is logged stays on its line."""
    if text.isprintable():
        return text
    return "".join(_ESCAPES.get(c, f"\\x{ord(c):02x}" if ord(c) < 256 else f"\\u{ord(c):04x}")
                   if not c.isprintable() and c != " " else c for c in text)


def command(argv: Sequence[str], limit: int | None = None) -> str:
    """A command line as a shell would quote it, on one line: ``sh -c $'exit 3\\n...'``; over
    ``limit`` bytes, its middle elided (the program and how it ends say the most)."""
    text = " ".join(_quote(word) for word in argv)
    return text if limit is None else elide(text, limit)


ELISION = " … "


def elide(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` bytes of UTF-8: its head and its end, `` … `` between them,
    each cut at a space where one is near (a whole word reads better), never inside a character."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    room = limit - len(ELISION.encode())
    if room <= 0:
        return data[:max(0, limit)].decode("utf-8", "ignore")
    head = data[:room - room // 2].decode("utf-8", "ignore")
    tail = data[len(data) - room // 2:].decode("utf-8", "ignore") if room // 2 else ""
    space = head.rfind(" ")
    if space > len(head) * 3 // 4:
        head = head[:space]
    space = tail.find(" ")
    if 0 <= space < len(tail) // 4:
        tail = tail[space + 1:]
    return head + ELISION + tail


def _quote(word: str) -> str:
    # Linux argv is bytes: a non-UTF-8 byte arrives as a surrogate escape; show it as U+FFFD.
    word = word.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if word.isprintable():
        return shellwords.quote(word)
    # bash's ANSI-C quoting: unambiguous, and a shell reads it back as the same word.
    return "$'" + escape(word.replace("\\", "\\\\").replace("'", "\\'")) + "'"


def _line(text: str) -> bytes:
    data = ("sm-init: " + escape(text)).encode("utf-8", "backslashreplace")
    if len(data) > LONGEST:
        data = data[:LONGEST - 3] + b"..."
    return data + b"\n"


def _write(text: str) -> None:
    output.sink(2).log(_line(text), time.monotonic())


def last(text: str) -> None:
    """The exit line: after everything the tree and sm-init wrote, on a line of its own."""
    if _level >= NORMAL:
        output.sink(2).last_line(_line(text), time.monotonic())


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
