"""What the recognisers are built from: ``tidy`` (an error line as shown), ``first_line`` and
``matching`` (one search over the joined lines, not one a line), and the prefilter: the literals
every match of a pattern must hold, read from the pattern by Python's own regular expression
parser (``could_match``), and ``holds``, so that a tail without them needs no search.

Imports lines only.
"""

import bisect
import re
from typing import Iterator, Optional, Sequence

from .lines import BAR, joined, Line, _regex_parser


# c10d's (glog's) log line header; a progress bar without a newline may stand before it. The bounded
# path keeps the search linear on a long line (an unbounded one backtracks at every E, W, I, F).
GLOG = re.compile(r"\[?[EWIF](?:\d{4} [\d:.]{1,40})? *(?:\d+ )?[\w./-]{1,160}\.(?:cpp|cc|hpp|h|py):\d+\] ")
# Python logging's and DeepSpeed's header: "[2023-04-14 13:11:27,885] [ERROR] [launch.py:434:sigkill_handler] ".
LOG_HEADER = re.compile(r"^\[\d{4}-\d\d-\d\d [\d:,.]+\] \[[A-Z]+\] (?:\[[\w.]+:\d+:\w+\] )?")
TIDY_MAX = 4096   # characters of a line looked at for an error: far more than the file shows
WHAT = re.compile(r"^\s*what\(\):\s*")


def tidy(text: str) -> str:
    """An error line as shown: without log headers, C++'s what(), and runs of spaces."""
    text = LOG_HEADER.sub("", BAR.sub("", text[:TIDY_MAX], count=1), count=1)
    header = GLOG.search(text)
    if header:
        text = text[header.end():]
    text = WHAT.sub("", text.strip())
    return re.sub(r"\s{2,}", " ", text).strip()


def first_line(lines: Sequence[Line], regex: "re.Pattern") -> Optional[Line]:
    """The first of ``lines`` whose text ``regex`` finds something in."""
    position = next(matching(lines, regex), None)
    return None if position is None else lines[position]


def matching(lines: Sequence[Line], regex: "re.Pattern", start: int = 0) -> Iterator[int]:
    """The positions (from ``start``) of the lines whose text ``regex`` finds something in, in order.

    One search over the lines joined (``^`` and ``$`` at each line's ends), not one per line: 64
    KiB of short lines are judged by a dozen recognisers in milliseconds; none at all where the
    text lacks what every match holds (``could_match``). A match that runs over a line break
    (``\\s*``) is checked again on its own line."""
    text, starts = joined(lines)
    if not could_match(regex, text):
        return
    search = _multiline(regex).search
    at = starts[start] if start < len(starts) else len(text)
    after_newline = _after_newline(regex)
    while at < len(text):
        if after_newline is None:
            match = search(text, at)
            found = match and match.start()
        else:   # the pattern's "^" a newline, searched from the one before ``at`` (a line's start)
            match = _multiline(regex).match(text) if at == 0 else None
            found = 0 if match else None
            if match is None:
                match = after_newline(text, at - 1 if at else 0)
                found = match and match.start() + 1
        if match is None:
            return
        position = bisect.bisect_right(starts, found) - 1
        if regex.search(lines[position].text):
            yield position
        at = starts[position + 1] if position + 1 < len(starts) else len(text)


# A search over 64 KiB that cannot skip at C speed to where a match may start costs milliseconds;
# a text that lacks the literals every match must hold needs no search. What those are is read from
# the pattern itself (Python's own parser of regular expressions), so that a pattern stays as written.
REQUIRED_MAX = 24   # literals to look for at the most: past that, the search itself is as cheap
_required: dict = {}   # pattern -> what a match holds (``_literals``), None when nothing is known
_multilines: dict = {}   # pattern -> the same pattern with re.M


def could_match(regex: "re.Pattern", text: str) -> bool:
    """False when ``text`` lacks what every match of ``regex`` holds: no search can find one."""
    if regex not in _required:
        _required[regex] = _required_of(regex)
    need = _required[regex]
    return need is None or _holds(need, text)


def _required_of(regex: "re.Pattern"):
    if regex.flags & re.IGNORECASE:
        return None
    try:
        need = _literals(_regex_parser.parse(regex.pattern, regex.flags))
    except Exception:   # pragma: no cover  (another Python's parser: no prefilter, same answers)
        return None
    return need if _count(need) <= REQUIRED_MAX else None


def _literals(items):
    """What every match of the parsed pattern ``items`` holds: a string, ("all", [parts]) or
    ("any", [parts]) of those; None when nothing is known (a class, an optional part)."""
    parts, run = [], ""
    for op, value in items:
        if op == _regex_parser.LITERAL:
            run += chr(value)
            continue
        if run:
            parts.append(run)
            run = ""
        part = None
        if op == _regex_parser.SUBPATTERN and not value[1] & re.IGNORECASE:
            part = _literals(value[-1])
        elif op == _regex_parser.BRANCH:
            alternatives = [_literals(alternative) for alternative in value[1]]
            part = None if None in alternatives else ("any", alternatives)
        elif op in (_regex_parser.MAX_REPEAT, _regex_parser.MIN_REPEAT) and value[0] >= 1:
            part = _literals(value[2])
        if part is not None:
            parts.append(part)
    if run:
        parts.append(run)
    return None if not parts else parts[0] if len(parts) == 1 else ("all", parts)


def _count(need) -> int:
    return 0 if need is None else 1 if isinstance(need, str) else sum(_count(part) for part in need[1])


def _holds(need, text: str) -> bool:
    if isinstance(need, str):
        return need in text
    kind, parts = need
    return (all if kind == "all" else any)(_holds(part, text) for part in parts)


def _multiline(regex: "re.Pattern") -> "re.Pattern":
    if regex.flags & re.M:
        return regex
    if regex not in _multilines:
        _multilines[regex] = re.compile(regex.pattern, regex.flags | re.M)
    return _multilines[regex]


# A pattern that starts with "^" (re.M) can match only at a line's start: re's search tries it at
# every character, a search of "\n" and the rest from newline to newline only where a line starts.
_after_newlines: dict = {}   # pattern -> the search of "\n" and the rest, None where that cannot be


def _after_newline(regex: "re.Pattern"):
    if regex not in _after_newlines:
        _after_newlines[regex] = _after_newline_of(regex)
    return _after_newlines[regex]


def _after_newline_of(regex: "re.Pattern"):
    """The search for "\n" then what follows ``regex``'s leading "^", where "^" starts every match
    (not one branch's) and the rest reads the same after a newline: a str pattern, no verbose mode."""
    pattern = regex.pattern
    if not isinstance(pattern, str) or not pattern.startswith("^") or regex.flags & re.VERBOSE:
        return None
    try:
        parsed = _regex_parser.parse(pattern, regex.flags)
        if not parsed.data or parsed.data[0] != (_regex_parser.AT, _regex_parser.AT_BEGINNING):
            return None
        return re.compile(r"\n(?:%s)" % pattern[1:], regex.flags | re.M).search
    except Exception:   # pragma: no cover  (a pattern that does not stand in a group: re's own search)
        return None


_literal_searches: dict = {}   # literal -> its compiled search


def holds(text: str, *literals: str) -> bool:
    """Whether ``text`` holds any of ``literals``: re's literal search, cheaper than ``in`` on the
    repetitive text of a huge line (the prefilter of the rules that a tail rarely needs)."""
    for literal in literals:
        search = _literal_searches.get(literal)
        if search is None:
            search = _literal_searches[literal] = re.compile(re.escape(literal)).search
        if search(text):
            return True
    return False
