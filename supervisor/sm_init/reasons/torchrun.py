"""torchrun's ``ChildFailedError`` summary read: its last "Root Cause" block as a ``RootCause``
(the rank, its exit code or signal, its traceback field, the output before the summary), and
``CONSEQUENCE``, what a rank dies of when a peer died first. The package runs the table over the
rank's lines (``torchrun_root_cause``, in ``__init__``, which has the table).

Imports lines, matchers.
"""

import re
from typing import List, NamedTuple, Optional, Sequence, Tuple

from .lines import Line
from .matchers import matching


# torchrun's summary ------------------------------------------------------------------------------

SUMMARY_TITLE = re.compile(r"^(\S+) FAILED\s*$")   # "train.py FAILED", above Failures and Root Cause
ROOT_CAUSE = re.compile(r"^Root Cause \(first observed failure\):")
RULE = re.compile(r"^={20,}\s*$")
FIELD = re.compile(r"^  (time|host|rank|exitcode|error_file|traceback)\s*: ?(.*)$")
RANKS = re.compile(r"^(\d+) \(local_rank: (\d+)\)")
EXITCODE = re.compile(r"^(-?\d+)(?: \(pid: \d+\))?\s*(?:\((SIG\w+)\))?")
SIGNAL_TRACE = re.compile(r"^Signal \d+ \((SIG\w+)\) received")
# Linux's numbers of the signals a rank dies of (torchrun reports "exitcode: -6" where its summary's
# traceback field, "Signal 6 (SIGABRT) received by PID 7", was cut off).
SIGNAL_NAMES = {1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT", 7: "SIGBUS",
                8: "SIGFPE", 9: "SIGKILL", 11: "SIGSEGV", 13: "SIGPIPE", 15: "SIGTERM"}
FAILURE_ENTRY = re.compile(r"^\[\d+\]:\s*$")   # "[1]:", an entry of the summary's "Failures:" or "Root Cause"
# A rank killed by one of these signals prints nothing through torch's prefixing excepthook; the
# report of its death (faulthandler's, a DataLoader's) comes unprefixed: look there for it.
SIGNAL_CAUSES = {"SIGSEGV": "native-crash", "SIGBUS": "native-crash", "SIGILL": "native-crash",
                 "SIGFPE": "native-crash", "SIGKILL": "killed"}


class RootCause(NamedTuple):
    at: Line                  # the "Root Cause" line
    rank: Optional[str]
    local: Optional[str]
    exit_code: Optional[str]
    signal: Optional[str]     # "SIGSEGV", from the exit code or the traceback field
    trace: List[Line]         # the traceback field (the rank's error file), when it holds one
    before: Sequence[Line]    # the output before the summary
    script: Optional[str] = None   # the program that failed, as the summary's title names it
    other: Optional[dict] = None   # the fields of the first entry under "Failures:" (another rank's)


# What a rank dies of when a peer died first: its connection to the peer closed, a collective
# failed or timed out, an abort with no error of its own.
CONSEQUENCE = re.compile(r"Connection (?:closed|reset) by peer|Broken pipe|DistNetworkError|DistBackendError"
                         r"|NCCL|[Ww]atchdog|[Tt]imed out|[Tt]imeout")


def read_root_cause(lines: Sequence[Line]) -> Optional[RootCause]:
    """The last "Root Cause" block of a torchrun summary in ``lines``, or None."""
    starts = list(matching(lines, ROOT_CAUSE))
    if not starts:
        return None
    start = starts[-1]
    titles = [position for position in matching(lines, SUMMARY_TITLE) if position < start]
    fields, trace, in_trace = {}, [], False
    for line in lines[start + 1:]:
        if RULE.match(line.text):
            break
        field = FIELD.match(line.text)
        if field:
            fields[field.group(1)] = field.group(2).strip()
            in_trace = field.group(1) == "traceback"
            if in_trace:
                trace.append(line._replace(text=field.group(2).strip(), rank=None, local=None))
        elif in_trace:
            # The traceback's own lines follow, indented by two more spaces than the fields.
            trace.append(line._replace(text=line.text[2:], rank=None, local=None))
    ranks = RANKS.match(fields.get("rank", ""))
    exit_code, signame = _ended(fields.get("exitcode", ""), trace[0].text if trace else "")
    if trace and SIGNAL_TRACE.match(trace[0].text):
        trace = []   # the signal and nothing else
    if not signame and exit_code and exit_code.startswith("-"):
        signame = f"signal {exit_code[1:]}"
    return RootCause(lines[start], *(ranks.groups() if ranks else (None, None)), exit_code, signame,
                     trace, lines[:titles[-1] if titles else start],
                     SUMMARY_TITLE.match(lines[titles[-1]].text).group(1) if titles else None,
                     _first_failure(lines[titles[-1] + 1:start]) if titles else None)


def _ended(exitcode: str, traceback: str) -> Tuple[Optional[str], Optional[str]]:
    """An entry's exit code and the signal that ended its rank (from its exitcode and traceback
    fields): the name either field gives, else a negative exit code's signal's (SIGNAL_NAMES)."""
    code = EXITCODE.match(exitcode)
    exit_code, signame = code.groups() if code else (None, None)
    trace = SIGNAL_TRACE.match(traceback)
    signame = signame or (trace.group(1) if trace else None)
    if not signame and exit_code and exit_code.startswith("-"):
        signame = SIGNAL_NAMES.get(int(exit_code[1:]))
    return exit_code, signame


def _first_failure(lines: Sequence[Line]) -> Optional[dict]:
    """The fields of the first entry under the summary's "Failures:" (another rank's), or None."""
    fields: dict = {}
    for line in lines:
        if FAILURE_ENTRY.match(line.text):
            if fields:
                break
            continue
        field = FIELD.match(line.text)
        if field:
            fields[field.group(1)] = field.group(2).strip()
    return fields or None


def summary_words(exit_code: Optional[str], signame: Optional[str]) -> Optional[str]:
    """A rank's end in its summary's own words: "exitcode 1", "exitcode -6, Signal 6 (SIGABRT)"."""
    if exit_code is None:
        return signame
    number = int(exit_code[1:]) if exit_code.startswith("-") and exit_code[1:].isdigit() else None
    if number is not None and signame and signame.startswith("SIG"):
        return f"exitcode {exit_code}, Signal {number} ({signame})"
    return f"exitcode {exit_code}"


def other_failure(cause: RootCause) -> Optional[str]:
    """Where the summary's root cause holds neither exit code nor signal (a paste cut inside it), the
    first other failure it lists, in its words: "rank 1: exitcode -7, Signal 7 (SIGBUS)"."""
    if cause.exit_code or cause.signal or not cause.other:
        return None
    words = summary_words(*_ended(cause.other.get("exitcode", ""), cause.other.get("traceback", "")))
    ranks = RANKS.match(cause.other.get("rank", ""))
    return words and (f"rank {ranks.group(1)}: {words}" if ranks else words)
