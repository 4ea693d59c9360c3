"""The corpora of real failure logs (tests/fixtures/reasons/wild, its README says the format, and
tests/fixtures/reasons/holdout to holdout18, the same format, held out from the tuning):
the cases, the failure file's ``Error:`` line for each, and whether it names the labelled root cause.

Shared by tests/test_reasons_wild.py and tools/reasons-corpus (the pass rate and the failures).
"""

import json
import os
import re
from typing import List, NamedTuple, Optional

from sm_init import sagemaker

REASONS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "fixtures", "reasons")
WILD = os.path.join(REASONS, "wild")
# Collected after the recognisers were tuned until every wild case passed: the honest measurement.
HOLDOUT = os.path.join(REASONS, "holdout")
# Collected after holdout's misses were being fixed (so holdout was tuned on too).
HOLDOUT2 = os.path.join(REASONS, "holdout2")
# The corpora, oldest first: each held-out set was collected after the one before it was tuned on,
# so the last is the blind measure now (holdout3 to holdout18 are only ever named here).
CORPORA = {"wild": WILD, "holdout": HOLDOUT, "holdout2": HOLDOUT2,
           **{name: os.path.join(REASONS, name)
              for name in ("holdout3", "holdout4", "holdout5", "holdout6", "holdout7",
                           "holdout8", "holdout9", "holdout10", "holdout11",
                           "holdout12", "holdout13", "holdout14", "holdout15",
                           "holdout16", "holdout17", "holdout18")}}
TAIL = 64 * 1024   # what sm-init keeps of each stream
# How the job ended, as sm-init would say it for a plain failure; the corpus judges what follows.
ENDING = sagemaker.ending(["python3", "train.py"], 1, 0, None)
KEYS = {"source", "framework", "streams", "exit", "expect", "reject", "why"}


class Case(NamedTuple):
    name: str
    log: bytes
    source: str
    framework: str
    streams: str            # stderr, stdout, both or unknown: only "stdout" is fed as stdout
    expect: List[List[str]]  # alternatives: every substring of one must be in the Error line
    reject: List[str]       # none of these may be in it
    why: str
    folder: str = WILD      # the corpus it belongs to (its sidecar is there)


def cases(folder: str = WILD) -> List[Case]:
    """Every case of the corpus in ``folder`` (one of CORPORA or another folder of that format)."""
    found = []
    for entry in sorted(os.listdir(folder)):
        if not entry.endswith(".json"):
            continue
        name = entry[:-len(".json")]
        with open(os.path.join(folder, entry)) as f:
            side = json.load(f)
        with open(os.path.join(folder, name + ".log"), "rb") as f:
            log = f.read()
        found.append(Case(name, log, side["source"], side["framework"], side["streams"],
                          side["expect"], side.get("reject", []), side["why"], folder))
    return found


def thread(source: str) -> str:
    """The thread a source URL names: a GitHub issue or pull request is its repository and number
    (the owner left out, so a repository that moved, microsoft/ to deepspeedai/, is one thread)."""
    found = re.match(r"https://github\.com/[^/]+/([^/]+)/(?:issues|pull)/(\d+)", source)
    return f"{found.group(1).lower()}#{found.group(2)}" if found else source


def failure_text(case: Case) -> str:
    """The failure file's text for this log, fed as the stream its sidecar names."""
    tail = case.log[-TAIL:]
    if case.streams == "stdout":
        return sagemaker.failure_text(ENDING, tail, b"")
    return sagemaker.failure_text(ENDING, b"", tail)


def error_line(text: str) -> Optional[str]:
    """What follows ``Error: `` in a failure text, or None when it has no such line. Only the
    text's own line counts: a log line "Error: ..." among the last lines is not sm-init's."""
    head = text.split("\nLast lines of ", 1)[0]
    for line in head.split("\n")[1:]:
        if line.startswith("Error: "):
            return line[len("Error: "):]
    return None


def verdict(case: Case, error: Optional[str]) -> Optional[str]:
    """None when ``error`` names the labelled root cause, else what is wrong with it."""
    if error is None:
        return "no Error line"
    if not any(all(part in error for part in alternative) for alternative in case.expect):
        return "wrong or incomplete: expected " + " | ".join(
            " + ".join(repr(part) for part in alternative) for alternative in case.expect)
    rejected = [part for part in case.reject if part in error]
    if rejected:
        return f"shows what it should not: {rejected!r}"
    return None


def judge(case: Case):
    """(the Error line or None, None when right else what is wrong)."""
    error = error_line(failure_text(case))
    return error, verdict(case, error)
