"""Failure texts: run a real failing program and keep the tails of its output, as sm-init keeps
them; read the failure file a run left; the invariants every failure text must hold; and the
recorded outputs under ``tests/fixtures/reasons`` (a header of ``#`` lines saying where the text
comes from, ``---``, the text).
"""

import os
import subprocess
import sys
from typing import NamedTuple

from .commands import CHILDREN

FAILING = os.path.join(CHILDREN, "failing.py")
FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "reasons")
TAIL = 64 * 1024
LIMIT = 1024    # SageMaker's FailureReason: bytes of UTF-8
TIMEOUT = 120   # generous: torch imports slowly on a busy machine


class Run(NamedTuple):
    returncode: int
    stdout: bytes   # the last TAIL bytes
    stderr: bytes


def run_tails(argv, env=None, cwd=None, timeout=TIMEOUT) -> Run:
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd,
                          timeout=timeout)
    return Run(done.returncode, done.stdout[-TAIL:], done.stderr[-TAIL:])


def failing(case, env=None, **kwargs) -> Run:
    """children/failing.py CASE, run by this interpreter."""
    return run_tails([sys.executable, FAILING, case], env=env, **kwargs)


def fixture(name) -> bytes:
    with open(os.path.join(FIXTURES, name), "rb") as file:
        header, separator, body = file.read().partition(b"\n---\n")
    assert separator and header.startswith(b"#"), f"{name}: no source header"
    return body


def failure_of(ml):
    """The bytes of <ml-root>/output/failure, or None when there is no such file."""
    path = ml / "output" / "failure"
    return path.read_bytes() if path.exists() else None


def check_readable(data):
    """A failure file as SageMaker shows it: UTF-8, at most 1024 bytes, one paragraph of printable text."""
    assert data is not None, "no failure file"
    assert len(data) <= LIMIT, f"{len(data)} bytes"
    text = data.decode("utf-8")  # strict: raises on anything that is not UTF-8
    assert text.strip() and all(ch.isprintable() or ch in "\n\t" for ch in text), repr(text)
    return text


def check_text(text, limit=LIMIT):
    """What every failure text must be: valid UTF-8 within the limit, printable, no loose ends."""
    data = text.encode("utf-8")          # strict: a lone surrogate would raise here
    assert len(data) <= limit, f"{len(data)} bytes > {limit}"
    assert data.decode("utf-8") == text
    assert all(ch.isprintable() or ch in "\n\t" for ch in text), repr(text)
    assert text == text.rstrip(), repr(text[-20:])
    return text


def interleave(first, second):
    """Two processes' lines, one by one, aligned so that ``first``'s last line comes just before
    ``second``'s: as two tracebacks printed at once, ``first`` completing first."""
    merged = []
    back_first, back_second = first[::-1], second[::-1]
    for index in range(max(len(first), len(second))):
        merged += back_second[index:index + 1] + back_first[index:index + 1]
    return merged[::-1]
