"""The failure file's text around the error: its limits (``LIMIT``, ``ERROR_MAX``, ``LINE_MAX``),
the last lines of the output (rules and carets left out), as many as fit the room left, and cutting
UTF-8 at a character boundary (``truncate``) or in its middle (``elide``).

Imports lines only.
"""

import itertools
import re
from typing import List, Optional, Sequence, Tuple

from .lines import clean_lines


LIMIT = 1024
ERROR_MAX = 300   # bytes of the error line (a CUDA OOM message runs to 500): its start and its end
LINE_MAX = 200    # bytes of one last line: a progress bar or a dumped tensor says no more after that
ELLIPSIS = "…"
ELISION = " … "   # an error's middle left out

NOISE = re.compile(r"^\s*(?:[=\-*_#~+]{3,}|[\^~]+)\s*$")   # rules, traceback carets


def last_lines(stdout_tail: bytes, stderr_tail: bytes) -> Tuple[str, List[str]]:
    """(stream, its last meaningful lines, oldest first): stderr's when it has any, else stdout's."""
    return _last_lines(clean_lines(stdout_tail), clean_lines(stderr_tail))


def _last_lines(stdout: Sequence[str], stderr: Sequence[str],
                most: Optional[int] = None) -> Tuple[str, List[str]]:
    """``last_lines`` of the tails' cleaned lines (``clean_lines``); the newest ``most`` of them."""
    for stream, cleaned in (("stderr", stderr), ("stdout", stdout)):
        # Cleaned lines end in a character that is not white space: only empty ones are blank.
        # Newest first, and no further than ``most``: 1 KB shows few of 64 KiB's lines.
        lines = list(itertools.islice(itertools.filterfalse(NOISE.match, filter(None, reversed(cleaned))), most))
        if lines:
            lines.reverse()
            return stream, lines
    return "", []


def _fit_lines(header: str, lines: Sequence[str], room: int) -> str:
    """The header and as many of the newest lines as fit in ``room`` bytes, or nothing."""
    room -= _size(header)
    kept: List[str] = []
    for line in reversed(lines):
        shown = "\n" + truncate(line, LINE_MAX, ELLIPSIS)
        if _size(shown) > room:
            if not kept and room > 40:   # the newest line, cut, beats no line at all
                kept.append(truncate(shown, room, ELLIPSIS))
            break
        kept.append(shown)
        room -= _size(shown)
    return header + "".join(reversed(kept)) if kept else ""


# What a long error can lose before its middle does, saying nothing to a reader of 1 KB: a long
# hexadecimal ID (Ray's node, actor and worker IDs, 32 to 56 digits) but its first 8 digits, and
# XLA's context after a runtime error (xla's AppendTracingScopeAndModuleAnnotations: "; current
# tracing scope: X; current profiling annotation: Y", where it failed, not what).
LONG_ID = re.compile(r"\b([0-9a-f]{8})[0-9a-f]{16,}\b")
XLA_CONTEXT = re.compile(r"; current (?:tracing scope|profiling annotation): .*$")
# Then a call's long argument list, as a runtime quotes the call that failed (XLA's "NCCL operation
# ncclAllReduce(send_buffer, recv_buffer, buffer.element_count, datatype, reduce_op, comm,
# *cu_stream) failed: invalid usage"): the call's name says which, its status after it says why.
# Only a call in C's words, every argument an expression of names (not a repr's "name='test'", an
# HLO operand's shape): "f(a, b.c, *d)".
ARG = r"[*&]?[A-Za-z_][\w.\->]{0,60}"
CALL_ARGS = re.compile(r"\b([A-Za-z_]\w{0,80})\((?=[^()\n]{40,400}\))(?:%s, ){2,}%s\)" % (ARG, ARG))


def elide(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` UTF-8 bytes: its start and its end with `` … `` between, for an
    error's end says how it ended ("returned non-zero exit status 1"); two thirds go to the start.
    Where it is too long, long IDs and XLA's context go first (``LONG_ID``, ``XLA_CONTEXT``), then
    a call's long argument list (``CALL_ARGS``)."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    shorter = LONG_ID.sub(r"\1" + ELLIPSIS, XLA_CONTEXT.sub("", text, count=1))
    if shorter == text:
        shorter = CALL_ARGS.sub(r"\1(" + ELLIPSIS + ")", text)
    if shorter != text:
        return elide(shorter, limit)
    room = limit - _size(ELISION)
    if room < 24:   # too little for both ends to say anything
        return truncate(text, max(0, limit), ELLIPSIS)
    end = room // 3
    head = data[:room - end].decode("utf-8", "ignore")
    tail = data[len(data) - end:].decode("utf-8", "ignore")
    # Whole words at both cuts where a space is near: "... this process has 5 … s.pytorch.org/..."
    # reads worse than "... this process has … pytorch.org/...".
    space = head.rfind(" ")
    if space > len(head) * 3 // 4:
        head = head[:space]
    space = tail.find(" ")
    if space < 0:   # the end is a piece of one long word (a URL): it says nothing, the start more
        return truncate(text, limit, ELLIPSIS)
    if space < len(tail) // 4:
        tail = tail[space + 1:]
    return head.rstrip() + ELISION + tail.lstrip()


def truncate(text: str, limit: int, mark: str = "") -> str:
    """``text`` in at most ``limit`` UTF-8 bytes, cut at a character boundary, ``mark`` ending a cut."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    room = max(0, limit - _size(mark))
    cut = data[:room].decode("utf-8", "ignore").rstrip()
    return cut + mark if _size(cut + mark) <= limit else cut


def _size(text: str) -> int:
    return len(text.encode("utf-8"))
