"""The last resort's last: where no recogniser knows the output's form, the last line that says in
plain words that something went wrong.

A program's own error line ("❌ Training failed with exit code -9"), a launcher or a CI service
nobody wrote a rule for ("Exited with code 137"), an exception line in a form no traceback rule
reads: what such output ends with is almost always what an engineer reads first. Two tiers, the
last line of the first that has one:

1. a line naming an exception class (``FileNotFoundError: [Errno 2] ...``, ``MisconfigurationException('...')``,
   ``E RuntimeError: ...``): the most specific words a line can have;
2. any other line with an error's words: error, fatal, failed, killed, aborted, terminated, an exit
   code or status, cannot, could not, unable to, not found, no such file, permission denied, lost
   communication, timed out.

Not an error's line: a warning's, an info or debug log line, a metric (``error_rate: 0.3``, ``0
errors``), a success ("Process finished with exit code 0"), a traceback's frame or its code (``raise RuntimeError(...)``, pytest's ``> raise``), a
Lua frame (``in function 'error'``), a line of box-drawing, a pointer elsewhere ("Check the logs for
detailed error information"). A line inside a box drawn with rules (Open MPI's help messages, whose
first sentence says what happened and whose later lines explain it) is shown as the box's first line.

Found from the end by the words' literal text (``str.rfind``, at C speed: a tail with none costs a
millisecond), each line it lands on then judged by the patterns; at most ``LOOKED_AT`` such lines a
tier, so that a flood of warnings that say "failed" costs no more than a hundred lines.

Imports lines, findings, matchers, tracebacks.
"""

import bisect
import re
from typing import Optional, Sequence, Tuple

from .lines import joined, Line
from .findings import Hit
from .matchers import tidy, TIDY_MAX
from .tracebacks import output_lines

# An exception's class, dotted or not, where a name can start (the line's start, after a space, a
# colon or a bracket) and followed by what follows one: its message, a repr's bracket, the line's end.
EXCEPTION_WORD = re.compile(r"(?:^|[\s:(])(?:[A-Za-z_]\w{0,100}\.){0,20}_?[A-Z]\w{0,100}?(?:Error|Exception)(?:: |:$|\(|$)")
ERROR_WORDS = re.compile(
    r"\b(?:[A-Z]\w{0,100}?)?(?:Error|Exception)\b|\bERROR\b|\berror\b|\b(?:FATAL|[Ff]atal)\b"
    r"|\b(?:[Ff]ailed|FAILED|[Ff]ailure)\b|\bexit(?:ed)? (?:with )?(?:(?:exit|status) )?(?:code|status)\b"
    r"|\bstatus code\b|\b[Kk]illed\b|\bAborted\b|\bterminated\b|core dumped"
    r"|\b(?:[Cc]annot|can't|[Cc]ould not|[Uu]nable to)\b|\bnot found\b|No such file|Permission denied"
    r"|\blost communication\b|\b[Tt]imed out\b|\b(?:doesn't|does not|don't|do not) support\b")
# What every match of ERROR_WORDS (EXCEPTION_WORD: the first two) holds, looked for from the end.
EXCEPTION_LITERALS = ("Error", "Exception")
ERROR_LITERALS = EXCEPTION_LITERALS + (
    "ERROR", "error", "FATAL", "Fatal", "fatal", "Failed", "failed", "FAILED", "Failure", "failure",
    "exit", "status code", "Killed", "killed", "Aborted", "terminated", "core dumped", "Cannot", "cannot",
    "can't", "Could not", "could not", "Unable to", "unable to", "not found", "No such file",
    "Permission denied", "lost communication", "Timed out", "timed out", "doesn't support", "does not support",
    "don't support", "do not support")
NOT_AN_ERROR = re.compile(
    r"\b(?:WARN(?:ING)?|INFO|DEBUG)\b|[Ww]arnings?\b"             # below error level, UserWarning
    r"|(?i:\berror[\w ]{0,20}[=:]\s*[-+]?\d)|\b(?:0|[Nn]o) errors?\b"   # a metric, a count
    r"|\b(?:code|status)\s*[:=]?\s*\(?0\)?(?![\w.])"                # success: "exit code 0"
    r"|^\s*File \"|^Traceback \(most recent"                       # a traceback's frame, its header
    r"|^\s*(?:>\s*)?(?:\d+\s+)?(?:raise|if|elif|return|except|assert|def|print)\b"   # code
    r"|\bin function\b"                                            # a Lua frame
    r"|[╭╰│─]{2}"                                                  # box-drawing (rich's)
    r"|^\s*(?:Check|See|For more|Refer to|Please (?:check|see|refer))\b"   # a pointer elsewhere
    # Open MPI's count of the help messages it aggregated (orte_show_help: "%d more process%s sent help
    # message %s / %s", then "Set MCA parameter \"orte_base_help_aggregate\" to 0 to see all help / error
    # messages"): its bookkeeping, the message itself above.
    r"|\bsent help message\b|orte_base_help_aggregate")
RULE = re.compile(r"^\s*([-=*#_~])\1{15,}\s*$")   # a box's top or bottom
BOX_MAX = 40   # lines looked up for a box's top: Open MPI's longest help message is shorter
LOOKED_AT = 100   # lines judged a tier at most, the last ones with its words
WINDOW = 120   # characters either side of a word judged with it: a class name's length


def error_words(lines: Sequence[Line]) -> Optional[Hit]:
    """The last line naming an exception, else the last with an error's words (a box's first line
    for one inside a box)."""
    output = output_lines(lines)
    text, starts = joined(output)
    position = _last(text, starts, EXCEPTION_LITERALS, EXCEPTION_WORD)
    if position is None:
        position = _last(text, starts, ERROR_LITERALS, ERROR_WORDS)
    if position is None:
        return None
    line = output[_box_start(output, position)]
    return Hit(line, tidy(line.text))


def _last(text: str, starts: Sequence[int], literals: Tuple[str, ...], words: "re.Pattern") -> Optional[int]:
    """The last line (its position) where ``words`` match around one of ``literals`` and that is no
    error's line by NOT_AN_ERROR; at most LOOKED_AT lines judged."""
    found = {literal: text.rfind(literal) for literal in literals}
    for _ in range(LOOKED_AT):
        at = max(found.values())
        if at < 0:
            return None
        position = bisect.bisect_right(starts, at) - 1
        start = starts[position]
        stop = starts[position + 1] - 1 if position + 1 < len(starts) else len(text)
        line = text[start:stop]
        if not NOT_AN_ERROR.search(line[:TIDY_MAX]) and _words_at(line, words, found, start):
            return position
        for literal, where in found.items():   # the line judged: the words before it
            if where >= start:
                found[literal] = text.rfind(literal, 0, start)
    return None


def _words_at(line: str, words: "re.Pattern", found: dict, start: int) -> bool:
    """Whether ``words`` match in ``line`` around one of the literals found in it."""
    for at in found.values():
        if at >= start:
            at -= start
            if words.search(line[max(at - WINDOW, 0):at + WINDOW]):
                return True
    return False


def _box_start(lines: Sequence[Line], position: int) -> int:
    """The first line of the box drawn with rules (one above, one below) that ``position`` is
    inside, else ``position``."""
    top = next((above for above in range(position - 1, max(position - BOX_MAX, -1), -1)
                if RULE.match(lines[above].text)), None)
    if top is None:
        return position
    below = range(position + 1, min(top + 1 + BOX_MAX, len(lines)))
    return top + 1 if any(RULE.match(lines[after].text) for after in below) else position
