"""A tail as lines: cleaning (invalid UTF-8, ANSI colours, ``\\r`` progress bars), peeling each
line's prefixes into a ``Line`` (ranks, launchers', log services' and loggers' stamps, docker
compose's service), tracebacks indented as a whole read at their indentation, and the look-ahead
(``_Ahead``, ``PEELED``) that makes a run of lines with nothing to peel at once; ``joined``, the
lines' texts as one.

Imports memo only.
"""

import collections
import functools
import itertools
import operator
import re
from typing import Callable, List, NamedTuple, Optional, Sequence, Tuple

from .memo import remembered


try:
    from re import _parser as _regex_parser   # Python 3.11 and later
except ImportError:   # pragma: no cover
    import sre_parse as _regex_parser
class Line(NamedTuple):
    """One cleaned line of output, its rank prefixes peeled off."""
    stream: str              # "stderr" or "stdout"
    index: int               # position within its stream
    text: str                # without the rank prefixes
    rank: Optional[str]      # the global rank ([rankN]:, mpirun's [job,N]<stderr>:)
    local: Optional[str]     # the local rank (torchrun --tee's [defaultN]:)
    actor: Optional[str] = None   # a Ray worker ("RayWorkerVllm pid=5304")

    @property
    def who(self) -> Optional[str]:
        if self.rank is not None:
            return f"rank {self.rank}"
        if self.local is not None:
            return f"local rank {self.local}"
        return self.actor


TEXT = operator.attrgetter("text")
_new_line = functools.partial(tuple.__new__, Line)   # Line(*fields) without a call in Python: a line each

# Cleaning

ANSI = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)?|[@-Z\\-_])")
REPLACED = re.compile("\ufffd{2,}")                  # a run of undecodable bytes reads as one mark
TRAILING_SPACES = re.compile(" +(?=\n)")          # a line's trailing spaces, before its newline
# A progress bar (tqdm's) left without its newline, the error glued after it: "...6.17it/s]Killed".
BAR = re.compile(r"^.{0,200}?\d+%\|[^|]{0,400}\|[^\[\]]{0,80}\[[^\]]{0,120}\]\s*(?=\S)")
# The SageMaker SDK's status line, left without its newline as a bar is: logs_for_job prints
# secondary_training_status_message ("%Y-%m-%d %H:%M:%S {Status} - {StatusMessage}", a
# DescribeTrainingJob SecondaryStatusTransitions entry) with end='', then a "." each poll without a
# newline, so the job's first line is glued after the dots: "2024-05-14 12:57:17 Training - Training
# image download completed. Training in progress..[FATAL tini (7)] exec train failed: ...". Matched
# behind its stamp (peeled as a log service's): the status (the API's SecondaryStatus values), the
# message, its period and the SDK's dots (two or more: a period inside the message, "ml.p3.2xlarge",
# is no end), then something that is neither a dot nor white space.
SDK_STATUS = re.compile(
    r"(?:Starting|LaunchingMLInstances|PreparingTrainingStack|Downloading|DownloadingTrainingImage|Training"
    r"|Uploading|Stopping|Stopped|MaxRuntimeExceeded|MaxWaitTimeExceeded|Completed|Failed|Interrupted"
    r"|Updating|Restarting|Pending) - [^\n]{0,400}?[^.]\.{2,}(?=[^\s.])")
SDK_STATUS_FIRST = "SLPDTUMCFIR"

# A log service's or a logger's stamp before every line: how the lines were stored, not what the
# program printed. One pattern for them all: a date and time (ISO 8601 as CloudWatch, `docker logs
# -t`, `kubectl logs --timestamps`, journald's short-iso and Python's logging write it, or with
# slashes as Hugging Face's example scripts' logging does, "01/12/2024 19:26:34"; syslog's
# "Jan  5 19:26:34"), then what such services put after it: the CRI log's "stderr F", syslog's
# "host prog[pid]:", a logger's level ("[INFO]", "ERROR -") and DeepSpeed's "[launch.py:434:fn]".
LEVEL = r"(?:DEBUG|INFO|WARN(?:ING)?|ERROR|CRITICAL|FATAL)"
STAMP = re.compile(
    r"(?:\[?(?:\d{4}([-/])\d\d\1\d\d|\d\d/\d\d/\d{4})[T ]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?"
    r"(?:Z|[+-]\d\d:?\d\d)?\]?"
    r"(?: (?:stdout|stderr) [FP])?(?: [\w.-]{1,64} [\w./@-]{1,64}\[\d+\]:)?"
    r"|[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?: [\w.-]{1,64} [\w./@-]{1,64}(?:\[\d+\])?:)?)"
    rf"(?:(?: [|-])? \[?{LEVEL}\]?(?: -|:)?)?(?: \[[\w.]{{1,80}}:\d+:\w{{1,80}}\])?(?:[ \t]|$)")

PREFIXES = (   # (pattern at the start of a line, the Line field its group goes to (None: dropped),
               #  the characters such a line can start with: the cheap test before the pattern)
    (re.compile(r"\[rank(\d+)\]: ?"), "rank", "["),                # torch.distributed excepthook, c10d logs
    (re.compile(r"\[rank: (\d+)\] "), "rank", "["),                # Lightning's rank_zero_* and SIGTERM lines
    # torchrun --tee / --log-dir: "[${role_name}${local_rank}]:" (local_elastic_agent.py), the
    # role "default" unless named ("[trainer0]:"), or a template's "[${rank}]:".
    (re.compile(r"\[(?:[A-Za-z_][\w-]{0,40}?)?(\d+)\]:"), "local", "["),
    # mpirun --tag-output ([1,0]<stderr>:; with the host, as SageMaker's MPI jobs show it,
    # [1,mpirank:0,algo-1]<stderr>:), horovodrun's gloo launcher ([0]<stderr>:; with
    # --prefix-timestamp and horovod.spark's prefix_output_with_timestamp, time.asctime() glued
    # before it: "Mon Jun  7 11:51:57 2021[1]<stderr>:").
    (re.compile(r"(?:[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4})?"
                r"\[(?:\d+,)?(?:mpirank:)?(\d+)(?:,[\w.-]{1,64})?\]<std(?:out|err)>:"), "rank", "[MTWFS"),
    # kubectl logs --prefix: "[pod/trainer-0/pytorch] ".
    (re.compile(r"\[(pod/[\w.-]{1,253})/[\w.-]{1,63}\] ?"), "actor", "["),
    # Ray: a worker's "(RayWorkerVllm pid=5304, ip=10.0.0.2)", its daemons' "(raylet)". The driver
    # prints "(" + "pid=" (a task's or an actor's name before it) + the pid + ", ip=X" off its own
    # node + ") " (worker.py, print_worker_logs), "pid=" left out for the raylet and the autoscaler;
    # log_monitor.py names the pid of a daemon's file: "raylet", "gcs_server", "autoscaler",
    # "runtime_env" (the runtime-env agent's setup logs): "(pid=runtime_env, ip=192.168.1.100) ".
    (re.compile(r"\(((?:\w+ )?pid=(?:\d+|gcs_server|runtime_env)|raylet|gcs_server|autoscaler(?:\.\w+)?)"
                r"(?:, ip=[\d.]+)?\) ?"), "actor", "("),
    # A logger's header repeated on every line of a multi-line message (vLLM's "ERROR 01-29
    # 07:44:33 worker_base.py:467] "): dropped, so that a traceback behind it reads as one.
    (re.compile(LEVEL + r" \d\d-\d\d [\d:]{8} [\w.-]{1,80}:\d+\] "), None, "DIWEC"),
    # absl's Python header (absl/logging/__init__.py, get_absl_log_prefix: "%c%02d%02d %02d:%02d:%02d.%06d
    # %5d %s:%d] ", the level's initial, the thread's id, the file's name): a runner that relays a
    # child's output line by line through absl's logging (AlphaFold's run_docker.py) puts it before each.
    # Dropped as vLLM's; a .py file only: glog's C++ lines ("E1207 ... file.cc:12] msg") are error lines.
    (re.compile(r"[IWE]\d{4} \d\d:\d\d:\d\d\.\d{6} +\d{1,20} [\w.-]{1,120}\.py:\d{1,7}\] "), None, "IWE"),
    # Determined's trial logs: the master's text form (master/internal/db/postgres_trial_logs.go:
    # "[YYYY-MM-DDTHH:MI:SSZ] " the container's id cut to 8, " [rank=N]" where known, " || ", then the
    # line), as `det trial logs` prints it; its web UI's copy puts "%-9s %Ns " before each line
    # (LogViewer.tsx's formatClipboardHeader: "<level>" padded, the "[date time]"), then the same id and
    # " || ". Both off, the rank kept: a traceback behind them keeps its indentation.
    (re.compile(r"(?:<\w{0,10}> {1,12}\[\d{4}-\d\d-\d\d,? \d\d:\d\d:\d\d\] "
                r"|\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z\] (?=[0-9a-f]{8} (?:\[rank=\d{1,6}\] )?\|\|))"
                r"(?:[0-9a-f]{8} (?:\[rank=(\d{1,6})\] )?\|\| ?)?"), "rank", "<["),
    (STAMP, "stamp", "[0123456789JFMASOND"),
    # BuildKit's plain progress (docker build --progress=plain): a RUN step's output as "#N SECONDS "
    # before each line ("#0 381.7 Killed", the step's number and the seconds since it started, to 4
    # digits): dropped, as a log service's stamp.
    (re.compile(r"#\d{1,5} \d{1,7}\.\d{1,4} "), None, "#"),
    # Slurm's `srun --label`: the task's number, right-aligned ("  3: ").
    (re.compile(r" {0,4}(\d{1,5}): "), "rank", " 0123456789"),
)
# The prefixes a line starting with a character can have, in the table's order: one look-up a line.
BY_FIRST = {first: tuple((pattern, field) for pattern, field, firsts in PREFIXES if first in firsts)
            for _pattern, _field, firsts in PREFIXES for first in firsts}


# syslog's escape of a control character (rsyslog's $EscapeControlCharactersOnReceive, on by default:
# the character as 3 octal digits behind $ControlCharacterEscapePrefix, "#"), a log service's
# rendering of a carriage return at a line's end ("#015"): taken off as the "\r" it stands for.
SYSLOG_CR = re.compile(r"#015$", re.M)


def clean_lines(tail: bytes) -> List[str]:
    """The tail as a reader of a terminal would see it, one string per line."""
    text = tail.decode("utf-8", "replace")
    if "#015\n" in text:
        text = SYSLOG_CR.sub("", text)
    if "\x1b" in text:
        text = ANSI.sub("", text)
    if "\ufffd\ufffd" not in text and text.replace("\n", "").isprintable():
        # Most tails need nothing but their lines' trailing spaces cut, the only white space a
        # printable line can have ("\r" is not printable): one pass for all the lines.
        if " \n" in text:
            text = TRAILING_SPACES.sub("", text)
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if lines:
            lines[-1] = lines[-1].rstrip(" ")
        return lines
    if "\r" not in text:
        # Without a carriage return a line's cleaning is its characters' alone: the whole tail at once.
        last_empty = text == "" or text.endswith("\n")   # the split's last line, popped below
        text = printable(text, keep="\t\n")
        if "\ufffd\ufffd" in text:
            text = REPLACED.sub("\ufffd", text)
        lines = text.split("\n")
        if last_empty:
            lines.pop()
        return list(map(str.rstrip, lines))
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    # Most lines need nothing but their trailing spaces cut ("\r" is not printable).
    return [line.rstrip() if line.isprintable() and "\ufffd\ufffd" not in line else _clean_line(line)
            for line in lines]


def _clean_line(line: str) -> str:
    line = line.rstrip("\r")
    if "\r" in line:
        # A carriage return sends the cursor back: a progress bar (tqdm) redraws its line many
        # times; what stays on screen is the last drawing.
        drawn = [part for part in line.split("\r") if part.strip()]
        line = drawn[-1] if drawn else ""
    line = printable(line)
    return (REPLACED.sub("\ufffd", line) if "\ufffd\ufffd" in line else line).rstrip()


def printable(text: str, keep: str = "\t") -> str:
    """What a reader can see: odd spaces as spaces; controls, format and unassigned characters gone."""
    if text.isprintable():
        return text
    # Each character the text has decided once, not each of its places: a line of binary is 64 KiB.
    table = {ord(ch): ch if ch in keep else " " if ch.isspace() else None
             for ch in set(text) if not ch.isprintable()}
    return text.translate(table)


def split_prefixes(raw: str) -> Tuple[str, Optional[str], Optional[str], Optional[str]]:
    """``[default1]:[rank1]: ValueError: x`` -> ("ValueError: x", "1", "1", None)."""
    return _peel(raw)[:4]


def _peel(raw: str) -> Tuple[str, Optional[str], Optional[str], Optional[str], bool]:
    """The line without its prefixes, what they said, and whether a log service's stamp was there."""
    found = None   # what the prefixes said, made at the first that says something
    at = 0
    # Peeled by position, never by copying what is left: a line of a thousand prefixes stays linear.
    while at < len(raw) and raw[at] in BY_FIRST:
        for pattern, field in BY_FIRST[raw[at]]:
            match = pattern.match(raw, at)
            if match and match.end() > at:
                if field:
                    found = found or {"rank": None, "local": None, "actor": None, "stamp": None}
                    found[field] = match.group(1) if field != "stamp" else match.group(0)
                at = match.end()
                break
        else:
            break
    if found is None:
        return raw[at:], None, None, None, False
    return raw[at:], found["rank"], found["local"], found["actor"], found["stamp"] is not None


def read_lines(stream: str, tail: bytes) -> List[Line]:
    return lines_of(stream, clean_lines(tail))


def lines_of(stream: str, cleaned: Sequence[str]) -> List[Line]:
    """A stream's cleaned lines (``clean_lines``), their prefixes peeled off, blank ones dropped."""
    return _lines_of(stream, cleaned)[0]


def stream_lines(stream: str, cleaned: Sequence[str]) -> List[Line]:
    """``lines_of``, and ``joined``'s answer for them remembered where their texts are the cleaned lines
    as they are (a flood that _Ahead made): the text _Ahead joined, the starts from the cleaned lines'
    lengths (no pass over the Lines). For ``diagnose``, whose end forgets what was remembered."""
    lines, texts = _lines_of(stream, cleaned)
    if texts is not None:
        joined.remember(lines, (texts[0], _starts(texts[1])))
    return lines


def _lines_of(stream: str, cleaned: Sequence[str]) -> Tuple[List[Line], Optional[Tuple[str, Sequence[str]]]]:
    """``lines_of``'s lines, and where each line's text is its cleaned line as it is (no blank one left
    out but at the start) and _Ahead joined them: their text joined and those cleaned lines (else None)."""
    lines = []
    same = True    # whether each line made so far has its cleaned line's text as it is
    stamped = []   # (position in lines, its indentation) of the lines behind a log service's stamp
    plain = 0      # lines in a row with nothing to peel (see below)
    wait = PLAIN   # how many before a look ahead: twice as many after each that made few lines
    misses = 0     # lines in a row that _peel gave back whole: after PLAIN, ANY_PREFIX asked first
    if cleaned and cleaned[0][:1] == ">":
        cleaned = _unquoted(cleaned)   # a paste quoted as a whole: its lines' own prefixes peeled below
    ahead = _Ahead(stream, cleaned)
    numbered = enumerate(cleaned)
    for index, raw in numbered:
        if not raw:
            continue
        if "%|" in raw:
            # What a shell or a crash printed after a bar left without its newline starts the line.
            raw = BAR.sub("", raw, count=1)
            same = False
        first = raw[0]
        # An indented line (a traceback's frames and code) has a prefix only if it is srun's
        # right-aligned task number: its digits are a few characters in.
        if first in BY_FIRST and len(raw) >= SHORTEST[first] and (
                first != " " or raw[:6].lstrip(" ")[:1].isdigit()) and (misses < PLAIN or ANY_PREFIX[first](raw)):
            text, rank, local, actor, stamp = _peel(raw)
            if len(text) == len(raw):   # nothing peeled (what is left of a line is its end)
                misses += 1
            else:
                misses = 0
                same = False
            if stamp and text[:1] in SDK_STATUS_FIRST and " - " in text and (sdk := SDK_STATUS.match(text)):
                # The SageMaker SDK's status line and its dots, what the job printed next glued on.
                text = text[sdk.end():]
            if text.strip():   # a blank line says nothing; the gap in the index says it was there
                if stamp:
                    stamped.append((len(lines), len(text) - len(text.lstrip())))
                lines.append(_new_line((stream, index, text, rank, local, actor)))
        else:   # most lines: no prefix can start with their first character (and a cleaned line
            # that is not empty ends in a character that is not white space)
            lines.append(_new_line((stream, index, raw, None, None, None)))
            plain += 1
            if plain >= wait:
                # A flood of such lines: up to the next that may carry a prefix or a bar, made at once.
                end = ahead.plain_lines(index + 1, lines)
                next(itertools.islice(numbered, end - index - 1, end - index - 1), None)
                wait = PLAIN if end - index > wait else wait * 2
                plain = 0
            continue
        plain = 0
    if stamped:
        # A console that shows the stamps in a column pads every message alike (CloudWatch's, copied):
        # the indentation all stamped lines share is the column's, not the program's.
        column = min(indent for _position, indent in stamped)
        for position, _indent in stamped:
            lines[position] = lines[position]._replace(text=lines[position].text[column:])
    # Every cleaned line made a line of its own, its text as it is, but blank ones at the start (a tail
    # cut right after a newline): those are each a newline at the start of _Ahead's text.
    blank = len(cleaned) - len(lines)
    if not same or ahead.whole is None or blank and any(cleaned[:blank]):
        return lines, None
    return lines, (ahead.whole[blank:], cleaned[blank:] if blank else cleaned)


def reframed(lines: List[Line]) -> List[Line]:
    """A stream's lines (``lines_of``) with what only the whole stream shows undone: docker compose's
    service prefixes, a traceback's indentation as a whole. A few literal searches of the lines'
    text, which the recognisers then use (``joined``): most tails hold none, and come back as they
    are; else a new list, its lines changed."""
    text = joined(lines)[0]
    if text[:2] == "**" or "\n**" in text:   # a line that starts so: a traceback's "**kwargs" does not
        lines = _unbolded(lines)
        text = joined(lines)[0]
    services = " | " in text and SERVICE_ANYWHERE.search("\n" + text)
    indented = any(literal in text for literal in INDENTED_LITERALS)
    if not (services or indented):
        return lines
    lines = list(lines)   # a new list: what was worked out for the old one is not its
    if services:
        _peel_services(lines)
    if indented:
        _dedent_tracebacks(lines)
    return lines


# Markdown a poster left in a paste (CommonMark): a block quote's "> " before every line (the marker
# ">" and one optional space), the whole stream quoted, and strong emphasis around a whole line,
# "**Killed**" (no program prints a line so: the "**" opens where a word follows and closes where one
# ends). Each taken off; what the quote hid is peeled as any line's prefixes.
BOLD_LINE = re.compile(r"\*\*([^\s*](?:[^*]{0,400}[^\s*])?)\*\*")


def _unquoted(cleaned: Sequence[str]) -> Sequence[str]:
    """A stream's cleaned lines without a block quote's markers, where every line that is not blank
    has one; else as they are."""
    if not all(not line or line[0] == ">" and line[1:2] in ("", " ") for line in cleaned):
        return cleaned
    return [line[2:] if line[1:2] == " " else line[1:] for line in cleaned]


def _unbolded(lines: Sequence[Line]) -> List[Line]:
    """``lines`` with a whole line's bold taken off."""
    return [line._replace(text=match.group(1))
            if line.text[:2] == "**" and (match := BOLD_LINE.fullmatch(line.text)) else line for line in lines]


# docker compose's prefix before each line of a service's output (compose v2's pkg/formatter/logs.go:
# the name padded to the longest one's width, then " |", then " " and the line; v1 the same), its own
# lines unprefixed ("scalellm exited with code 137"). A word, spaces, a bar is also a table's row: the
# prefix counts where compose's own line names the service, or where two lines or more have it with
# the bar in one column.
SERVICE = re.compile(r"([A-Za-z0-9][\w.-]{0,62}) +\| ")
# One search of the tail before a test of each line: from a line's start, a newline its literal first.
SERVICE_ANYWHERE = re.compile(r"\n[A-Za-z0-9][\w.-]{0,62} +\| ")
SERVICE_EXIT = re.compile(r"^([A-Za-z0-9][\w.-]{0,62}) exited with code -?\d+$")


def _peel_services(lines: List[Line]) -> None:
    """docker compose's service prefixes off ``lines``, in place: the service as the line's actor."""
    found = [(position, match.group(1), match.end()) for position, line in enumerate(lines)
             if line.actor is None and (match := SERVICE.match(line.text))]
    if not found:
        return
    columns = collections.Counter((name, end) for _position, name, end in found)
    exits = {match.group(1) for line in lines if "exited with code" in line.text
             for match in [SERVICE_EXIT.match(line.text)] if match}
    for position, name, end in found:
        if columns[name, end] > 1 or name in exits:
            line = lines[position]
            text, rank, local = line.text[end:], line.rank, line.local
            if text[:1] in BY_FIRST:   # what the service's line has behind it is peeled as any line's
                peeled = _peel(text)
                if peeled[0]:
                    text, rank, local = peeled[:3]
            lines[position] = _new_line((line.stream, line.index, text, rank, local, name))


# A traceback indented as a whole: pip's report of a build step that failed indents the child's
# output under its "╰─> [N lines of output]" (pip run here on a setup.py that raises: "      Traceback
# (most recent call last):", the frames at 8, the exception line at 6), and a markdown paste indents
# every line by 4 (a debugger's report pasted so has no header: its frames at 6). Python prints the
# header and the exception line at one indentation, the frames 2 deeper (Lib/traceback.py): an
# indented header, or a frame 6 or more deep after a line less deep that is no traceback's, says
# where the block is; its lines, as long as they are that deep, are read without that indentation.
# A log service's rendering that put one space before every line (frames and their code alike: a
# frame at one space, which Python never prints, with its code as deep right below it) is a traceback
# that lost its indentation, one space deep: read without that space, as a paste that lost it.
INDENTED_LITERALS = (" Traceback (most recent call last)", "\tTraceback (most recent call last)",
                     '      File "', '\n File "')
INDENTED_FRAME = re.compile(r'^ {6,}File "[^"\n]{1,4096}", line \d+, in ')
FLAT_FRAME = re.compile(r'^ File "[^"\n]{1,4096}", line \d+, in ')


def _dedent_tracebacks(lines: List[Line]) -> None:
    """The blocks of ``lines`` that hold a traceback indented as a whole, in place, without that
    indentation (``INDENTED_LITERALS``)."""
    end = 0
    for position, line in enumerate(lines):
        text = line.text
        if position < end or text[:1] not in " \t":
            continue
        body = text.lstrip(" \t")
        indent = len(text) - len(body)
        if body.startswith("Traceback (most") and TB_HEADER.match(body):
            depth = indent
        elif INDENTED_FRAME.match(text) and position > 0 and not _in_traceback(lines[position - 1], indent):
            depth = indent - 2
        elif indent == 1 and FLAT_FRAME.match(text) and _flat_code(lines, position):
            depth = 1   # its code right below it as deep: every line one space deep
        else:
            continue
        end = position + 1
        while end < len(lines) and PROCESS(lines[end]) == PROCESS(line) \
                and len(lines[end].text) > depth and lines[end].text[:depth].isspace():
            end += 1
        for at in range(position, end):
            lines[at] = lines[at]._replace(text=lines[at].text[depth:])


def _flat_code(lines: List[Line], position: int) -> bool:
    """Whether the line below the frame at ``position`` is its code one space deep, as the frame."""
    if position + 1 >= len(lines) or PROCESS(lines[position + 1]) != PROCESS(lines[position]):
        return False
    below = lines[position + 1].text
    return below[:1] == " " and not below[1:2].isspace() and below[1:2] != "" and not below.startswith(' File "')


def _in_traceback(line: Line, indent: int) -> bool:
    """Whether ``line``, before a frame ``indent`` deep, is already of a traceback: as deep as the
    frame (code), or a header or a frame itself."""
    body = line.text.lstrip(" \t")
    return len(line.text) - len(body) >= indent or body.startswith(("Traceback (most", 'File "'))


def _any_of(patterns: Sequence["re.Pattern"]) -> Callable[[str], object]:
    """Whether any of ``patterns`` matches at a line's start, in one match: their alternation, the one
    with a back reference first (its groups keep their numbers); each in turn where that cannot be."""
    referring = [pattern for pattern in patterns if re.search(r"\\\d|\(\?P=|\(\?\(", pattern.pattern)]
    if len(referring) > 1 or len({pattern.flags for pattern in patterns}) > 1:   # pragma: no cover
        return lambda raw: any(pattern.match(raw) for pattern in patterns)
    ordered = referring + [pattern for pattern in patterns if pattern not in referring]
    return re.compile("|".join(f"(?:{pattern.pattern})" for pattern in ordered), patterns[0].flags).match


# Per first character, whether any prefix can start a line there: one match, not one a prefix.
ANY_PREFIX = {first: _any_of([pattern for pattern, _field in prefixes]) for first, prefixes in BY_FIRST.items()}

PLAIN = 16   # lines in a row with nothing to peel: then lines_of looks ahead (_Ahead)
# Per first character, the fewest characters a line needs to hold a prefix that starts with it (their
# shortest match, as Python's own parser of regular expressions reads the patterns): a shorter line
# holds none ("[", " 1"), and a flood of such lines is made at once.
SHORTEST = {first: min(_regex_parser.parse(pattern.pattern, pattern.flags).getwidth()[0]
                       for pattern, _field in prefixes) for first, prefixes in BY_FIRST.items()}


def _prefix_starts() -> "re.Pattern":
    """PEELED: the newline before each line that may carry a prefix, in one search of a stream's lines
    joined. A line whose first character can start a prefix, as long as SHORTEST asks for it, then one
    of the prefixes' own patterns (re.M: its "$" a line's end); where a pattern could match a line alone
    and not among others (``_as_among``), or be renumbered in an alternation (a second one with a back
    reference), a line as long as its shortest match instead. A line the search passes holds no prefix:
    lines_of's loop would make it as it is, and _Ahead makes a run of them at once."""
    exact, referring = [], []
    for pattern, _field, firsts in PREFIXES:
        parsed = _regex_parser.parse(pattern.pattern, pattern.flags)
        refers = re.search(r"\\\d|\(\?P=|\(\?\(", pattern.pattern)
        if pattern.flags != re.compile("").flags or pattern.groupindex or not _as_among(parsed) or (
                refers and referring):
            exact.append(r"[%s][^\n]{%d}" % (re.escape("".join(sorted(firsts))), max(parsed.getwidth()[0] - 1, 0)))
        else:
            (referring if refers else exact).append(f"(?:{pattern.pattern})")
    # lines_of peels an indented line only where a digit (str.isdigit's) stands within five spaces.
    by_shortest = itertools.groupby(sorted((SHORTEST[first], first) for first in BY_FIRST if first != " "),
                                    operator.itemgetter(0))
    long_enough = [r"[%s][^\n]{%d}" % (re.escape("".join(first for _shortest, first in firsts)), max(shortest - 1, 0))
                   for shortest, firsts in by_shortest]
    if " " in BY_FIRST:
        long_enough.append(r" (?= {0,4}(?:\d|[^\x00-\x7f]))[^\n]{%d}" % max(SHORTEST[" "] - 1, 0))
    long_enough = "|".join(long_enough)
    try:
        return re.compile(r"\n(?=%s)(?:%s)" % (long_enough, "|".join(referring + exact)), re.M)
    except re.error:   # pragma: no cover  (patterns that cannot stand side by side: the lengths alone)
        return re.compile(r"\n(?:%s)" % long_enough)


def _as_among(items) -> bool:
    """Whether a parsed pattern that matches a line alone also matches it among other lines, after a
    newline and before one, with re.M: nothing that sees a line's end other than "$" or a boundary
    (a negative assertion, \\A or \\Z, a conditional group)."""
    for op, value in items:
        if op in (_regex_parser.ASSERT_NOT, _regex_parser.GROUPREF_EXISTS) or op == _regex_parser.AT and value in (
                _regex_parser.AT_BEGINNING_STRING, _regex_parser.AT_END_STRING):
            return False
        parts = [value]
        while parts:
            part = parts.pop()
            if isinstance(part, _regex_parser.SubPattern):
                if not _as_among(part):
                    return False
            elif isinstance(part, (tuple, list)):
                parts.extend(part)
    return True


# The start of a line that may carry a prefix: lines_of's look ahead, one search that skips from
# newline to newline (a bar, "%|", is looked for on its own).
PEELED = _prefix_starts()


class _Ahead:
    """A stream's cleaned lines joined (when first needed), for lines_of to make the runs of lines
    that carry no prefix and no bar (PEELED and "%|" find none in them) in one step each, at C speed."""

    def __init__(self, stream: str, cleaned: Sequence[str]):
        self.stream, self.cleaned, self.whole = stream, cleaned, None
        self.known = (0, 0)   # a line's index and where it starts in ``whole``

    def plain_lines(self, start: int, lines: List[Line]) -> int:
        """The lines from ``start`` (not the first) up to the next that PEELED or "%|" finds something in,
        made and put at the end of ``lines``; that next line's index (past the last line: none)."""
        cleaned = self.cleaned
        if self.whole is None:
            self.whole = "\n".join(cleaned)
        known, at = self.known
        at += sum(map(len, cleaned[known:start])) + start - known   # and a newline after each
        found = PEELED.search(self.whole, at - 1)   # from the newline before line ``start``
        bar = self.whole.find("%|", at)
        there = min(found.start() + 1 if found else len(self.whole) + 1, bar if bar >= 0 else len(self.whole) + 1)
        if there > len(self.whole):
            end = len(cleaned)
        else:
            end = start + self.whole.count("\n", at, there)
            self.known = (end, self.whole.rfind("\n", 0, there) + 1)
        between = cleaned[start:end]
        # Each Line as _new_line makes it, with tuple.__new__ called by map itself (not through partial).
        lines.extend(map(tuple.__new__, itertools.repeat(Line), itertools.compress(zip(   # a blank line: none
            itertools.repeat(self.stream), range(start, end), between, *[itertools.repeat(None)] * 3), between)))
        return end


@remembered
def joined(lines: Sequence[Line]) -> Tuple[str, List[int]]:
    """The lines' texts joined by newlines, and where each starts."""
    texts = list(map(TEXT, lines))
    return "\n".join(texts), _starts(texts)


def _starts(texts: Sequence[str]) -> List[int]:
    """Where each of ``texts`` starts in them joined by newlines."""
    # The start of line i: the lengths of those before it, and a newline after each of them (a length
    # and 1 is a small int, made by no one: one int made a line, not two).
    starts = list(itertools.accumulate(map(operator.add, map(len, texts), itertools.repeat(1)), initial=0))
    starts.pop()   # where a line after the last would start
    return starts

# The plain header, an ExceptionGroup's, and rich's boxed one ("╭──── Traceback (most recent call
# last) ────╮").
TB_HEADER = re.compile(r"^(?:  \+ Exception Group )?(?:[╭┌][─━ ]*)?Traceback \(most recent call last\):?"
                       r"(?:[─━ ]*[╮┐])?\s*$")
PROCESS = operator.attrgetter("rank", "local", "actor")   # the prefixes that tell processes apart
