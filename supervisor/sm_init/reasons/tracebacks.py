"""Python's tracebacks and pytest's: parsing them into chains (headerless, indented as a whole,
several processes interleaved), the fatal one, its exception line and the lines its message runs
on to (TensorFlow's, the SageMaker SDK's, Hydra's, logged exceptions'), the traceback the output
ends inside, an exception line alone, pytest's report of a failed test; and ``output_lines``, the
output without a traceback's code and without the tracebacks a process survived.

Imports memo, lines, findings, matchers, launcher_words.
"""

import bisect
import functools
import itertools
import re
from typing import List, NamedTuple, Optional, Sequence, Tuple

from .memo import _cleaned, remembered
from .lines import joined, Line, PROCESS, TB_HEADER
from .findings import Hit
from .matchers import could_match, holds, matching, _multiline, tidy, WHAT
from .launcher_words import LAUNCHER_REPORT, REPORT_FIELD, REPORT_LINES


@remembered
def output_lines(lines: Sequence[Line]) -> List[Line]:
    """``lines`` without those where a known cause is not the job's (``hidden``): what the known
    causes are looked for in."""
    masked = hidden(lines)
    return [line for line in lines if id(line) not in masked] if masked else lines


# Python tracebacks ----------------------------------------------------------------------------

TB_CHAIN = re.compile(r"^(?:During handling of the above exception, another exception occurred"
                      r"|The above exception was the direct cause of the following exception):")
TB_IGNORED = re.compile(r"^Exception ignored in")
TB_FILE = re.compile(r'^\s*File "(.+)", line (\d+)')
BOX = "│╭╰┃┏┗"   # a line inside or closing rich's box: its frames and source lines
# The exception line: a (dotted) name, then ": message" or nothing. ExceptionGroup's top level is
# printed inside its "  | " box.
TB_EXCEPTION = re.compile(r"^(?:  \| )?([A-Za-z_][\w.]*)(?::(?: .*)?)?$")
# An exception's own name starts with a capital and is not all capitals (a log level, "INFO:", is),
# or is a module's lower-case one (socket.timeout); "loss: 0.5" and "INFO: step 3" are log lines.
# A private class keeps its underscore (numpy's _ArrayMemoryError).
EXCEPTION_NAME = re.compile(r"^(?:[A-Za-z_]\w*\.)*(?:_?[A-Z]\w*[a-z]\w*|[a-z_]\w*\.[a-z_]\w*)$")
# A line that is certainly an exception's, standing alone: what a paste or a tail keeps of one.
# CPython's own base class too ("Exception: msg", with its message: the word alone is no exception).
BARE_EXCEPTION = re.compile(r"^(?:(?:[A-Za-z_]\w*\.)*_?[A-Z]\w*(?:Error|Exception|Interrupt|Exit)(?:: .+)?"
                            r"|Exception: .+)$")
# Any other class name is printed with its module when that is not builtins (Lib/traceback.py:
# "pyarrow.lib.ArrowInvalid: msg"): lower-case modules, a CamelCase name, a message. Bounded
# repeats from the line's start only: one short try per line, whatever its length.
DOTTED_EXCEPTION = re.compile(r"^(?:[a-z_][a-z0-9_]{0,60}\.){1,8}_?[A-Z][A-Za-z0-9_]{0,80}: \S")
# An exception whose message began with a newline (a triple-quoted one: Lightning's
# MisconfigurationException), printed by Lib/traceback.py as "Name: " with the message's lines below
# it as they are (indented in the source): python run here. With no traceback above it (a paste of
# only the exception) its line is taken alone only where the name is an exception's (Error,
# Exception) and an indented line follows at once (message() reads them); "Example:" is no such name.
NAME_ABOVE_MESSAGE = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]{0,60}\.){0,8}_?[A-Z][A-Za-z0-9_]{0,80}"
                                r"(?<=Error|ption): ?$")
# botocore's ClientError (botocore/exceptions.py's MSG_TEMPLATE) is raised as a class the client makes
# for the service's error code ("botocore.errorfactory.ResourceLimitExceeded"): its message says it.
CLIENT_ERROR = re.compile(r"^(?:[A-Za-z_]\w*\.)*_?[A-Z]\w*[a-z]\w*: An error occurred \([\w.]{1,100}\) when"
                          r" calling the \w{1,100} operation(?: \(reached max retries: \d+\))?: .+$")
# JAX's traceback filtering (jax/_src/traceback_util.py) re-raises an error with the unfiltered
# trace as its cause, named "UnfilteredStackTrace: <the error's type>: <message>": the error is its.
UNFILTERED = re.compile(r"^(?:[\w.]*\.)?UnfilteredStackTrace: (?=[\w.]+(?:Error|Exception)\b)")
SYNTAX_ERRORS = ("SyntaxError", "IndentationError", "TabError")
UNOPENED = ("  | ",) + SYNTAX_ERRORS   # exception lines that need no header nor code before them
# Exceptions that only say a child failed; its own error is the one to show.
WRAPPERS = ("ChildFailedError", "CalledProcessError", "ProcessRaisedException",
            "ProcessExitedException", "SignalException")
WRAPPER_WORDS = re.compile("|".join(WRAPPERS)).search   # what an error that names one holds at least
CONTINUED = 8      # lines an exception's message may run on for (a terminal or rich wrapped it)
WRAPPED = 60       # characters a line has at least when a terminal or rich wrapped it
LOGGER = re.compile(r"^[a-z][a-z0-9_.-]*: ")   # "wandb: Waiting for W&B process": a line of its own
# libstdc++'s own lines before an abort (vterminate.cc, pure.cc): never a message's wrapped rest.
CXX_RUNTIME = ("terminate called ", "pure virtual method called")
# What can take part in a traceback (parse_tracebacks): its header, a frame, rich's box, code (indented,
# or a raise whose indentation a paste lost), an exception line that needs no header. Lines without
# any of these hold no traceback: no need to parse them.
PART_AT_START = rf'(?:[\s{BOX}]|  \| |raise |{"|".join(SYNTAX_ERRORS)})'   # of TRACEBACK_PART: at a line's start
TRACEBACK_PART = re.compile(rf'Traceback \(most|File "|^{PART_AT_START}', re.M)
PART_AFTER_NEWLINE = re.compile("\n" + PART_AT_START)   # the same, searched from newline to newline
# What can begin one: its header, a frame, rich's box; else it is an exception line (TB_EXCEPTION's
# shape) that makes one. Lines with neither (indented output alone) hold no traceback either.
TRACEBACK_OPEN = re.compile(rf'Traceback \(most|File "|^[{BOX}]', re.M)
# The same and the lines that mark a chain or an "Exception ignored": what parse_tracebacks acts on.
TRACEBACK_LINE = re.compile("|".join([TRACEBACK_PART.pattern, TB_CHAIN.pattern, TB_IGNORED.pattern]), re.M)
QUIET = 8   # lines in a row that do nothing before parse_tracebacks looks ahead for one that can


class Chain(NamedTuple):
    group: int          # tracebacks printed at overlapping times (interleaved processes) share one
    final: Line         # the last exception line of the chain: the one that ended it
    error: str
    ignored: bool       # "Exception ignored in ...": printed, and nothing died of it
    inner: Optional[str] = None   # the exception a wrapper at the chain's end re-raised


_new_chain = functools.partial(tuple.__new__, Chain)   # Chain(*fields), as _new_line


class Tracebacks(NamedTuple):
    chains: List[Chain]
    body: frozenset     # positions of header, frame, source, caret and box lines: code, not output


def _is_exception(name: str) -> bool:
    return bool(EXCEPTION_NAME.match(name))


def _is_wrapper(error: str) -> bool:
    return WRAPPER_WORDS(error) is not None and _exception_name(error) in WRAPPERS


@remembered
def parse_tracebacks(lines: Sequence[Line]) -> Tracebacks:
    """Every traceback in lines of one process (one rank prefix), chained ones as one, and which
    lines are a traceback's code rather than output.

    A tail that starts inside a traceback, or a paste of its end, has no header: an exception line
    right after a frame's source line (or rich's box) closes such a headerless one. A line that a
    frame follows is not the exception (another thread's log line printed into the traceback)."""
    chains: List[Chain] = []
    body = set()
    opened: List[Tuple[int, bool, Optional[int]]] = []   # (group, ignored, chain index it continues)
    group = -1
    chain_next = ignored_next = False
    last_file: Optional[Tuple[str, str]] = None
    frame = -2         # the last frame line's position
    shown: dict = {}   # the frames' source lines so far (stripped): where first
    in_code = False    # the line before was a frame, its source, a caret line or rich's box
    last_index = -2
    quiet = 0          # lines in a row that did nothing and lead to nothing (see below)
    numbered = enumerate(lines)
    for position, line in numbered:
        text = line.text
        if not text:
            continue
        was_code, in_code = in_code and line.index == last_index + 1, False
        last_index = line.index
        first = text[0]
        # Cheap tests before each pattern: most lines of a log are none of these.
        if "Traceback (most" in text and TB_HEADER.match(text):
            body.add(position)
            continues = len(chains) - 1 if chain_next and chains else None
            if not opened and continues is None:
                group += 1
            opened.append((chains[continues].group if continues is not None else group,
                           ignored_next, continues))
            chain_next = ignored_next = False
        elif first in "DT" and TB_CHAIN.match(text):
            chain_next = True
        elif first == "E" and TB_IGNORED.match(text):
            ignored_next = True
        elif ('File "' in text and TB_FILE.match(text)) or first in BOX:
            body.add(position)
            in_code = True
            if first not in BOX:
                last_file = TB_FILE.match(text).groups()
                frame = position
        elif was_code and (first.isspace() or position == frame + 1 and lines[frame].text[:1] == "F"
                           and ", in" in lines[frame].text and not _exception_named(text)):
            # A frame's source line, or in a paste that lost all indentation (a traceback's frames,
            # "File ..., line 3, in f", at column 0; not faulthandler's "line 3 in f", which shows no
            # code) the line right after such a frame that is no exception line: its code all the same.
            if position == frame + 1:
                shown.setdefault(text.strip(), position)   # the frame's source line: code seen so far
            body.add(position)   # a frame's source line, its carets
            in_code = True
        elif (first.isalpha() or first in "_ ") and (exception := TB_EXCEPTION.match(text)) and (
                (after_code := position > 0 and lines[position - 1].index == line.index - 1
                 and _code_like(lines[position - 1].text))
                or opened or was_code or text.startswith(UNOPENED)) \
                and _exception_line(lines, position, exception.group(1)) \
                or was_code and _nameless_exception(lines, position):
            # An exception line can only close a traceback: one opened by its header, or a
            # headerless one whose code it follows; a SyntaxError's needs neither.
            if not was_code and after_code:   # (not was_code: the test above made after_code)
                body.add(position - 1)   # its source line, its indentation lost: code all the same
            if opened:
                chain_group, ignored, continues = opened.pop(0)
            else:
                # A script that doesn't compile gets no "Traceback" header, just file, line, caret;
                # a headerless traceback's exception follows its last frame's code.
                continues = len(chains) - 1 if chain_next and chains else None
                if continues is None:
                    group += 1
                    chain_group, ignored = group, ignored_next
                else:
                    chain_group, ignored = chains[continues].group, chains[continues].ignored
            named = exception if first.isalpha() or first in "_ " else None   # TB_EXCEPTION.match(text)
            error = message(lines, position, shown)
            if last_file and named and named.group(1).split(".")[-1] in SYNTAX_ERRORS:
                error += f" ({last_file[0]}, line {last_file[1]})"
            chain = _new_chain((chain_group, line, error, ignored, None))
            if continues is not None:
                before = chains[continues]
                inner = before.inner if _is_wrapper(before.error) else before.error
                if _is_wrapper(error) and inner is not None:
                    # A launcher re-raised its child's failure (accelerate: CalledProcessError from
                    # a RuntimeError holding the child's stderr): the child's exception is the one.
                    chain = chain._replace(inner=inner)
                chains[continues] = chain._replace(ignored=before.ignored)
                # Keep the continued chain last, so that a further chain marker extends it again.
                chains.append(chains.pop(continues))
            else:
                chains.append(chain)
            chain_next = False
        else:
            # Nothing here, and nothing for the next line to follow (no header open, no code): up
            # to the next line that can be part of a traceback (TRACEBACK_LINE) none does anything.
            # After a few such lines in a row, those are passed over (a flood of log lines).
            quiet = 0 if opened or _code_like(text) else quiet + 1
            if quiet >= QUIET:
                ahead = next(matching(lines, TRACEBACK_LINE, position + 1), len(lines))
                next(itertools.islice(numbered, ahead - position - 1, ahead - position - 1), None)
                quiet = 0
            continue
        quiet = 0
    return Tracebacks(chains, frozenset(body))


@remembered
def _no_traceback(lines: Sequence[Line]) -> bool:
    """Whether parse_tracebacks surely finds nothing in ``lines``: two or three searches of their text."""
    text = joined(lines)[0]
    # TRACEBACK_PART.search(text), at C speed: its words with str's search, its line starts from
    # newline to newline (re's search tries its ^ at every character).
    part = ("Traceback (most" in text or 'File "' in text or TRACEBACK_PART.match(text)
            or PART_AFTER_NEWLINE.search(text))
    return not part or not (TRACEBACK_OPEN.search(text) or _multiline(TB_EXCEPTION).search(text))


def _exception_named(text: str) -> bool:
    """Whether ``text`` has TB_EXCEPTION's shape with a name like an exception's."""
    named = TB_EXCEPTION.match(text)
    return bool(named) and _is_exception(named.group(1))


def _code_like(text: str) -> bool:
    """A line that reads as a traceback's source line though no frame was seen before it: indented,
    or a ``raise`` whose indentation a paste lost. C++'s indented ``what():`` is no code."""
    return (text[:1].isspace() and not WHAT.match(text)) or text.startswith("raise ")


def _nameless_exception(lines: Sequence[Line], position: int) -> bool:
    """Whether the unindented line at ``position``, right after a frame and its code, is the
    exception line whatever its form: Python prints it there (Lib/traceback.py: the frames, then
    format_exception_only), and a paste that lost its "ValueError: " keeps only the message. Not
    when a frame follows (a line printed into the traceback) or an exception line soon does."""
    for at in range(position + 1, min(position + 3, len(lines))):
        if lines[at].text.startswith('  File "') and TB_FILE.match(lines[at].text):
            return False   # a frame follows: a line printed into the traceback (the commonest answer)
    for at in range(position - 1, max(-1, position - 4), -1):
        text = lines[at].text
        if 'File "' in text and TB_FILE.match(text):
            if ", in " not in text:
                return False   # faulthandler's frame ('line 3 in f'): its dump has no exception line
            break
        if not text[:1].isspace():
            return False   # rich's box, a caret line's neighbour: no frame's code
    else:
        return False
    for line in lines[position + 1:position + 1 + CONTINUED]:
        text = line.text
        if "Traceback (most" in text or TB_CHAIN.match(text):
            break
        named = not text[:1].isspace() and TB_EXCEPTION.match(text)
        if named and _is_exception(named.group(1)):
            return False
    while at > 0 and (lines[at - 1].text[:1].isspace() or TB_FILE.match(lines[at - 1].text)):
        at -= 1   # back to the line before the frames
    # logging's stack_info prints a stack and no exception after it.
    return not (at > 0 and lines[at - 1].text.startswith("Stack (most recent call last)"))


def _exception_line(lines: Sequence[Line], position: int, name: str) -> bool:
    """Whether the line at ``position``, of TB_EXCEPTION's shape with ``name``, can be an exception's:
    a name like an exception's, and no frame of the same traceback after it (then it was a line
    printed into the traceback)."""
    if not _is_exception(name):
        return False
    for after in lines[position + 1:position + 3]:
        if after.text.startswith("  ") and 'File "' in after.text and TB_FILE.match(after.text):
            return False
        if after.text.strip():
            break
    return True


# TensorFlow 2's graph execution error (tensorflow/python/framework/error_interpolation.py,
# interpolate_graph: "Graph execution error:", a blank line, for each node tagged "Detected at node
# 'X' defined at (most recent call last):", its frames, "Node: 'X'"; then the op's message, which
# its tag "\t [[{{node X}}]]" ends). A paste or tail that starts in the frames shows "Node: 'X'" as
# its exception line: the op's own words are the lines below it, up to the tag; the exception's
# class is the "Name: Graph execution error:" line above, where the output still has it.
TF_NODE = re.compile(r"^Node: '[^'\n]{1,300}'$")
TF_NODE_TAG = "[[{{node "
TF_GRAPH_ERROR = re.compile(r"^(?:[A-Za-z_]\w{0,80}\.){0,8}(_?[A-Z]\w{0,80}): Graph execution error:$")
TF_NODE_BACK = 120   # lines above "Node: 'X'" its "Name: Graph execution error:" may be (frames)


def _tf_node_error(lines: Sequence[Line], position: int, text: str) -> str:
    """The op's message below TensorFlow's "Node: 'X'" line at ``position``, with the exception's
    class where the output still has it; ``text`` itself where no "[[{{node" tag closes the message."""
    here = lines[position]
    said, previous = [], here
    for after in lines[position + 1:position + 1 + CONTINUED]:
        more = after.text.strip()
        if not more or after.rank != here.rank or after.index != previous.index + 1:
            return text
        if more.startswith(TF_NODE_TAG):
            break
        said.append(more)
        previous = after
    else:
        return text
    if not said:
        return text
    for before in reversed(lines[max(0, position - TF_NODE_BACK):position]):
        if before.rank == here.rank and before.text.endswith(GRAPH_EXECUTION):
            found = TF_GRAPH_ERROR.match(before.text.strip())
            if found:
                return f"{found.group(1)}: {' '.join(said)}"
            break
    return " ".join(said)


def message(lines: Sequence[Line], position: int, shown: Optional[dict] = None) -> str:
    """The exception line's text, with the lines its message visibly runs on to: a bracket still
    open, or a long line cut before a word in lower case (a terminal or rich wrapped it). Advice
    printed after a finished sentence ("CUDA kernel errors might be ...") and a logger's line
    ("wandb: ...") stay out."""
    text = lines[position].text.strip().lstrip("| ")
    if "UnfilteredStackTrace" in text:
        text = UNFILTERED.sub("", text, count=1)
    if text.startswith("Node: '") and TF_NODE.match(text):
        return _tf_node_error(lines, position, text)
    previous = lines[position]
    if text.endswith(" root error(s) found.") and position + 1 < len(lines):
        first = ROOT_ERROR.match(lines[position + 1].text)
        if first and lines[position + 1].index == previous.index + 1:
            return f"{text} {first.group(1)}"   # the summary says only how many: the first says what
    if not text.endswith(":") and len(previous.text) < WRAPPED and not _unbalanced(text):
        return text   # nothing below can continue it (the loop below would stop at its first line)
    fields = False
    # "Name:" and nothing after it: str(exception) began with a newline (a triple-quoted message,
    # Lightning's MisconfigurationException), and Python printed its lines below, as they are.
    below = text.endswith(":") and " " not in text
    for after in lines[position + 1:position + 1 + CONTINUED]:
        more = after.text.strip()
        if not more or after.rank != previous.rank or after.index != previous.index + 1:
            break
        if below and after.text[:1].isspace() and not more.startswith('File "'):
            if _source_line(lines, position, after.text, shown):
                break   # another traceback's code (another process's, interleaved), not the message
            text += " " + more
            previous = after
            continue
        below = False
        if (text.endswith(":") or fields) and REPORT_FIELD.match(after.text):
            # A launcher's report raised as an exception, its fields below it (Horovod's gloo_run:
            # "... The first process to do so was:" / "Process name: 0" / "Exit code: 1").
            text += ("; " if fields else " ") + more
            fields, previous = True, after
            continue
        if fields or not (_unbalanced(text) or (len(previous.text) >= WRAPPED and text[-1:] not in ".:!?"
                                                 and more[:1].islower())) \
                or LOGGER.match(more) or more.startswith(CXX_RUNTIME):
            break
        if after.text[:1].isspace() and _source_line(lines, position, after.text, shown):
            break   # another traceback's code (another process's, interleaved), not the message
        text += " " + more
        previous = after
    return text


# The SageMaker SDK's waiter exception (sagemaker-core's exceptions.py, FailedStatusError.fmt: "Encountered
# unexpected failed state while waiting for {resource_type}. Final Resource State: {status}. Failure
# Reason: {reason}"): the reason, the resource's own FailureReason, says what went wrong.
FAILED_STATUS = re.compile(r"^((?:[\w.]{1,200}\.)?FailedStatusError): Encountered unexpected failed state while"
                           r" waiting for (\w{1,100})\. Final Resource State: (\w{1,100})\.(?: Failure Reason: (.+))?$")
FAILURE_REASON = "Failure Reason: "


def _failure_reason(lines: Sequence[Line], position: int, failed: "re.Match") -> str:
    """FailedStatusError's message as its reason: on its line, or on the next where a paste broke it
    before "Failure Reason:"; a reason ending in a colon goes on to the lines below (an S3 key)."""
    name, resource, status, reason = failed.groups()
    previous = lines[position]
    below = lines[position + 1:position + 1 + CONTINUED]
    if reason is None:
        if not below or below[0].index != previous.index + 1 or not below[0].text.startswith(FAILURE_REASON):
            return failed.group(0)
        reason, previous, below = below[0].text[len(FAILURE_REASON):], below[0], below[1:]
    for after in below[:REPORT_LINES]:
        if not reason.endswith(":") and not (len(previous.text) >= WRAPPED and after.text[:1].islower()) \
                or after.index != previous.index + 1 or not after.text.strip():
            break
        reason += " " + after.text.strip()
        previous = after
    return f"{name}: {resource} {status}: {reason.strip()}"


# TensorFlow 1's OpError (tensorflow/python/framework/errors_impl.py of 1.x, __str__: the message, the
# op's stack, then "\n%s (see above for traceback): %s\n" % (type(self).__name__, self.message)): the
# last line of its report names the class and the message, as "Name: message" does.
SEE_ABOVE_WORDS = " (see above for traceback): "
SEE_ABOVE = re.compile(r"^(_?[A-Z]\w{0,80}(?:Error|Exception)) \(see above for traceback\):(?= \S)")

# Exceptions that a logger reported, not a traceback, each in its producer's words. TensorFlow 1's
# Coordinator (tensorflow/python/training/coordinator.py, request_stop: logging.info("Error reported
# to Coordinator: %s, %s", type(ex), str(ex))): the class's repr, then its message ("2 root error(s)
# found.", the first below it). TensorFlow 2's ClusterCoordinator worker (cluster_coordinator.py,
# _process_closure: logging.error("/job:worker/task:%d encountered the following error when
# processing closure: %r:%s", ..., e, e)): an OpError's repr ("UnavailableError()"), then its message;
# where that is error_interpolation's "Graph execution error:" and a line of its own words below it
# (no "Detected at node" block), those words.
COORDINATOR_WORDS = "Error reported to Coordinator: <class '"
COORDINATOR = re.compile(r"Error reported to Coordinator: <class '((?:[A-Za-z_]\w{0,80}\.){0,8}_?[A-Z]\w{0,80})'>,"
                         r" (?=\S)")
CLOSURE_WORDS = " encountered the following error when processing "
CLOSURE = re.compile(r" encountered the following error when processing (?:resource )?closure:"
                     r" (_?[A-Z]\w{0,80})\(\):(?=\S)")
GRAPH_EXECUTION = "Graph execution error:"
# Ray's dual exception (python/ray/exceptions.py, RayTaskError.as_instanceof_cause: a class named
# f"RayTaskError({cause_cls.__name__})"): its line names the remote task's exception in brackets, and
# the remote traceback follows it as its message (frames, then the cause's own line).
RAY_TASK_ERROR = re.compile(r"^(?:[A-Za-z_]\w{0,60}\.){0,4}RayTaskError\(_?[A-Z]\w{0,80}\): \S")


def _logged_exception(lines: Sequence[Line], position: int) -> Optional[str]:
    """The exception a logger reported on the line at ``position`` (see COORDINATOR), as "Name: msg"."""
    text = lines[position].text
    if COORDINATOR_WORDS in text:
        reported = COORDINATOR.search(text)
        if reported:
            rest = message(lines, position)   # with the first root error below, where there is one
            return f"{reported.group(1)}: {rest[rest.index(COORDINATOR_WORDS) + len(reported.group(0)):]}"
    if CLOSURE_WORDS in text:
        reported = CLOSURE.search(text)
        if reported:
            said = text[reported.end():].strip()
            below = lines[position + 1] if position + 1 < len(lines) else None
            if (said == GRAPH_EXECUTION and below is not None and below.index <= lines[position].index + 2
                    and PROCESS(below) == PROCESS(lines[position]) and not below.text.startswith("Detected at")):
                said = below.text.strip()
            return f"{reported.group(1)}: {said}"
    return None


# Hydra's instantiate() (hydra/_internal/instantiate/_instantiate2.py, _call_target: "Error in call to
# target '{target}':\n{repr(e)}", then "full_key: ..."; raised as InstantiationException, whose str()
# alone Hydra prints without HYDRA_FULL_ERROR, as hydra-core 1.3 run here shows): the target's own
# exception is the repr on the next line.
HYDRA_TARGET = re.compile(r"Error in call to target '[^'\n]{1,300}':$")   # its literal first: a fast search
HYDRA_TRIES = 4
EXCEPTION_REPR = re.compile(r"^(?:[A-Za-z_]\w*\.){0,8}_?[A-Z]\w{0,80}\(.*\)$")


def _hydra_error(lines: Sequence[Line], position: int, text: str) -> str:
    """Hydra's report with the repr of the target's exception below it, when that follows."""
    after = lines[position + 1] if position + 1 < len(lines) else None
    if after is None or after.index != lines[position].index + 1 or not EXCEPTION_REPR.match(after.text):
        return text
    return f"{text} {after.text.strip()}"


def hydra_error(lines: Sequence[Line]) -> Optional[Hit]:
    """The first of Hydra's reports that instantiating a target failed, printed without a traceback."""
    output = output_lines(lines)
    if not holds(joined(output)[0], "Error in call to target '"):
        return None
    # The first few: Hydra reports once; a flood of such lines without a repr below is none of its.
    for position in itertools.islice(matching(output, HYDRA_TARGET), HYDRA_TRIES):
        if not output[position].text.startswith("Error in call to target '"):
            continue
        error = _hydra_error(output, position, output[position].text.strip())
        if error != output[position].text.strip():
            return Hit(output[position], error)
    return None


def reworded(lines: Sequence[Line], line: Line, error: str) -> str:
    """The exception that ``message`` read on ``line`` (of ``lines``), in the words that say what went
    wrong where its form is known to hide them: FailedStatusError's reason, the repr below Hydra's
    report, TensorFlow 1's summary line as "Name: msg". Asked of the error to show, not of every
    exception a tail holds."""
    if "Final Resource State: " in error:
        failed = FAILED_STATUS.match(error)
        if failed:
            return _failure_reason(lines, lines.index(line), failed)
    if error.endswith("':") and ": Error in call to target '" in error and HYDRA_TARGET.search(error):
        return _hydra_error(lines, lines.index(line), error)
    if SEE_ABOVE_WORDS in error:
        return SEE_ABOVE.sub(r"\1:", error, count=1)
    return error


# TensorFlow's StatusGroup summary (tensorflow/core/platform/status.cc, as_summary_status): "N root
# error(s) found." then each root error indented, "  (0) Unknown: Failed to get convolution ...".
ROOT_ERROR = re.compile(r"^\s{1,8}(\(0\) \S.*)$")
ROOT_ERRORS = re.compile(r"^\d{1,4} root error\(s\) found\.$")


# A traceback's source line (Lib/traceback.py prints it indented by four spaces, stripped) in the
# form only code has: a statement's keyword first.
SOURCE_FORM = re.compile(r"^ {4}(?:raise|return|yield|await|assert)\b")


def _source_line(lines: Sequence[Line], position: int, text: str, shown: Optional[dict]) -> bool:
    """Whether ``text``, a line below the exception line at ``position``, is a traceback's source
    line: in the form of one, or the very line shown under a frame above (``shown``: the source
    lines seen so far, where; worked out here when the caller has not)."""
    if SOURCE_FORM.match(text):
        return True
    return (source_lines(lines) if shown is None else shown).get(text.strip(), position) < position


@remembered
def source_lines(lines: Sequence[Line]) -> dict:
    """The source lines shown under the frames of tracebacks in ``lines``, stripped: where first."""
    shown: dict = {}
    for position in range(1, len(lines)):
        if 'File "' in lines[position - 1].text and TB_FILE.match(lines[position - 1].text):
            shown.setdefault(lines[position].text.strip(), position)
    return shown


# A half-open interval closes the bracket it opened with the other kind (TensorFlow's "indices[56,57] =
# 66 is not in [0, 65)"): not a bracket left open.
HALF_OPEN = re.compile(r"\[[^\[\]()\n]{0,60}\)|\([^\[\]()\n]{0,60}\]")


def _unbalanced(text: str) -> bool:
    if "[" not in text and "(" not in text:
        return False
    if ")" in text or "]" in text:
        text = HALF_OPEN.sub("", text)   # each interval's pair of brackets, whatever their kinds
    return ("[" in text and text.count("[") > text.count("]")) or ("(" in text and text.count("(") > text.count(")"))


def traceback_chains(lines: Sequence[Line]) -> List[Chain]:
    return parse_tracebacks(lines).chains


@remembered
def fatal_traceback(lines: Sequence[Line]) -> Optional[Chain]:
    """The traceback that ended one process: its last group, first to complete within it."""
    chains = [chain for chain in traceback_chains(lines) if not chain.ignored]
    real = [chain for chain in chains if not _is_wrapper(chain.error) or chain.inner]
    chains = real or chains
    if not chains:
        return None
    last_group = max(chain.group for chain in chains)
    return min((chain for chain in chains if chain.group == last_group), key=lambda c: c.final.index)


def _exception_name(error: str) -> str:
    return error.split(":", 1)[0].split(".")[-1].strip()


@remembered
def by_process(lines: Sequence[Line]) -> List[List[Line]]:
    """Lines grouped by their rank prefixes (unprefixed lines form one group), in output order."""
    if len(set(map(PROCESS, lines))) == 1:   # one process (no prefixes at all, most often)
        return [lines]
    groups = {}
    for line in lines:
        groups.setdefault((line.rank, line.local, line.actor), []).append(line)
    return list(groups.values())


def python_traceback(lines: Sequence[Line], wrappers: bool = False) -> Optional[Hit]:
    """The fatal traceback's last line; of several processes', the one that completed first. A
    launcher's wrapper exception (a child failed) only with ``wrappers``: the table asks for those
    after the launchers' own reports."""
    if _no_traceback(lines):
        return None
    fatal = [chain for group in by_process(lines) for chain in [fatal_traceback(group)] if chain]
    real = [chain for chain in fatal if not _is_wrapper(chain.error) or chain.inner]
    fatal = real or (fatal if wrappers else [])
    if not fatal:
        return None
    first = min(fatal, key=lambda chain: chain.final.index)
    return Hit(first.final, first.inner or reworded(lines, first.final, first.error))


def wrapper_traceback(lines: Sequence[Line]) -> Optional[Hit]:
    """A launcher's wrapper exception: from a traceback, else its line alone."""
    return python_traceback(lines, wrappers=True) or bare_exception(lines, wrappers=True)


# An error logged with its traceback (Lib/logging/__init__.py: Formatter.format() writes the record's
# message, then "\n" and formatException()'s traceback: logger.exception(msg), logger.error(msg,
# exc_info=True)), the traceback cut before its exception line (the output, or its paste, ends
# inside it, or right after its header: a paste cut in its first frame, a process killed as it wrote
# it): the message line right above the header, at a logger's error level, is the error. The
# level in what was peeled off as the line's stamp ("2018-10-26 04:33:21,672 ERROR - "), or at the
# line's start (logging's default "ERROR:root:msg", "[2018-01-10:23:52:25:ERROR] msg").
LOGGED_LEVEL = re.compile(r"(?<![A-Za-z])(?:ERROR|CRITICAL|FATAL)(?![A-Za-z])")
LOGGED_AT_START = re.compile(r"^(?:\[[\w:.,/ -]{1,60}[:\s|])?(?:ERROR|CRITICAL|FATAL)"
                             r"(?:\] ?|:(?:[\w.]{1,80}:)?| - | \| )")


def _logged_error(line: Line) -> Optional[str]:
    """The message of ``line`` where a logger wrote it at an error level, else None."""
    text = line.text
    start = LOGGED_AT_START.match(text)
    if start:
        return text[start.end():].strip() or None
    cleaned = _cleaned.get(line.stream)
    raw = cleaned[line.index] if cleaned is not None and line.index < len(cleaned) else ""
    if len(raw) > len(text) and raw.endswith(text) and LOGGED_LEVEL.search(raw, 0, len(raw) - len(text)):
        return text.strip() or None
    return None


def cut_traceback(lines: Sequence[Line]) -> Optional[Hit]:
    """An error logged with its traceback where the output ends inside that traceback, before its
    exception line: the logger's own line above the header (see LOGGED_LEVEL); where it ends at the
    last frame's code and that code raises (an assert with its message, a raise), the statement."""
    if not lines or not _code_like(lines[-1].text) and not TB_FILE.match(lines[-1].text) and (
            not lines[-1].text.startswith("Traceback (most")):
        return None   # the output does not end inside a traceback (its frames, or right after its header)
    return _logged_above(lines) or _raising_statement(lines)


def _logged_above(lines: Sequence[Line]) -> Optional[Hit]:
    """cut_traceback's logger's line above the header (or TensorFlow's failed op's status)."""
    text, starts = joined(lines)
    at = text.rfind("Traceback (most")
    if at < 0:
        return None
    header = bisect.bisect_right(starts, at) - 1
    if header < 1 or not TB_HEADER.match(lines[header].text):
        return None
    frames = 0
    for line in lines[header + 1:]:
        if PROCESS(line) != PROCESS(lines[header]):
            return None
        if line.text.startswith("  File \"") and TB_FILE.match(line.text):
            frames += 1
        elif not _code_like(line.text):
            return None   # an exception line, or a line that is no frame's: not cut
    before = lines[header - 1]
    if not frames and header != len(lines) - 1:
        return None   # frames, or the header as the output's last line (cut right after it)
    op_failed = _op_failed(lines, header)
    if op_failed is not None:
        return op_failed
    if before.index != lines[header].index - 1 or PROCESS(before) != PROCESS(lines[header]):
        return None
    error = _logged_error(before)
    if error is None or LAUNCHER_REPORT.search(error):
        return None   # a launcher's report logged before its own traceback: that rule reads it
    return Hit(before, tidy(error))


# The statement a traceback's last frame shows, where the output ends there (a paste cut before the
# exception line): an assert with its message, a raise of an exception it constructs. The exception
# came from it (the last frame is where it was raised), in the words its program gave it.
RAISING = re.compile(r"^\s+(assert \S.{0,400}?, *[rbuf]{0,2}[\"'].{1,400}[\"']\)?|raise [A-Z]\w{0,80}(?:\.\w{1,80})*\(.{1,400}\))\s*$")


def _raising_statement(lines: Sequence[Line]) -> Optional[Hit]:
    code, frame = lines[-1], lines[-2] if len(lines) > 1 else None
    if frame is None or not frame.text.lstrip().startswith('File "') or not TB_FILE.match(frame.text) \
            or frame.index != code.index - 1 or PROCESS(frame) != PROCESS(code):
        return None
    statement = RAISING.match(code.text)
    return Hit(code, tidy(statement.group(1))) if statement else None


# TensorFlow's kernel that failed logs its status at warning level before the session raises it
# (tensorflow/core/framework/op_kernel.cc, CtxFailureWithWarning: LOG(WARNING) << "OP_REQUIRES failed
# at " << io::Basename(file) << ":" << line << " : " << s): where the traceback is cut, the op's
# status is what its exception line would have said. Only a few lines above the header (TensorFlow's
# own advice may be between): an op that failed earlier and was survived (an iterator's end of
# sequence) is no cause.
OP_FAILED = re.compile(r"OP_REQUIRES failed at [\w.-]{1,160}:\d{1,7} : (\S.*)")
OP_FAILED_DISTANCE = 3


def _op_failed(lines: Sequence[Line], header: int) -> Optional[Hit]:
    for line in reversed(lines[max(0, header - OP_FAILED_DISTANCE):header]):
        if "OP_REQUIRES failed at " in line.text and PROCESS(line) == PROCESS(lines[header]):
            found = OP_FAILED.search(line.text)
            if found:
                return Hit(line, tidy(found.group(1)))
    return None


# IPython's traceback (IPython/core/ultratb.py, IPython 8 and 9, run here): a frame is "File
# PATH:LINE" (", in FUNC(ARGS)" after it but for a script's or a cell's top level), its source lines
# numbered below it ("      3 def g(x):", the current one "----> 4     raise ..."), a blank line after
# each frame, then the exception's line, "ValueError: boom", whatever its class's name (a
# BrokenProcessPool too); its header, "ValueError    Traceback (most recent call last)", above the
# first frame. The line after the last frame's numbered source is the exception's.
IPYTHON_FRAME = re.compile(r"^File [^\n]{1,500}:\d{1,7}(?:, in [^\n]{1,300})?$", re.M)
IPYTHON_SOURCE = re.compile(r"^(?:-{1,8}> | {1,12})\d{1,7}(?: |$)")


def ipython_traceback(lines: Sequence[Line]) -> Optional[Hit]:
    """The exception line after the last frame of IPython's traceback (IPYTHON_FRAME)."""
    output = lines
    text, starts = joined(output)
    if not (text.startswith("File ") or holds(text, "\nFile ")):
        return None
    last, at = None, len(text)
    while last is None and at > 0:   # the last frame: from the end, each line that starts "File "
        at = text.rfind("\nFile ", 0, at) + 1
        if IPYTHON_FRAME.match(text, at):
            last = bisect.bisect_right(starts, at) - 1
        at -= 1
    if last is None or last + 1 >= len(output) or not IPYTHON_SOURCE.match(output[last + 1].text):
        return None
    at, current = last + 1, False
    while at < len(output) and IPYTHON_SOURCE.match(output[at].text) and PROCESS(output[at]) == PROCESS(output[last]):
        current = current or output[at].text.startswith("-")
        at += 1
    if not current or at >= len(output) or PROCESS(output[at]) != PROCESS(output[last]) \
            or not _exception_named(output[at].text):
        return None   # no "---->" line: no IPython frame; no exception's shape after it
    return Hit(output[at], tidy(output[at].text))


@remembered
def hidden(lines: Sequence[Line]) -> frozenset:
    """Lines where a known cause is not the job's (their ids): a traceback's code (``raise
    RuntimeError("CUDA out of memory")``, a comment) and the tracebacks a process printed and
    survived (logged, or "Exception ignored"), their exception lines and all."""
    if _no_traceback(lines):
        return frozenset()
    found: set = set()
    for group in by_process(lines):
        parsed = parse_tracebacks(group)
        if not parsed.chains and not parsed.body:
            continue
        found.update(map(id, map(group.__getitem__, parsed.body)))
        fatal = fatal_traceback(group)
        for chain in parsed.chains:
            if chain.ignored or (fatal is not None and chain.group != fatal.group):
                found.add(id(chain.final))
    return frozenset(found)


@remembered
def ignored_exceptions(lines: Sequence[Line]) -> frozenset:
    """The exception lines of "Exception ignored in" tracebacks (their ids): CPython's unraisable
    hook (Python/errors.c, PyErr_WriteUnraisable) prints them for an error it cannot raise (a
    __del__ failing on a half-built object) and goes on: nothing died of them."""
    if "Exception ignored in" not in joined(lines)[0]:
        return frozenset()
    return frozenset(id(chain.final) for group in by_process(lines)
                     for chain in parse_tracebacks(group).chains if chain.ignored)


def bare_exception(lines: Sequence[Line], wrappers: bool = False) -> Optional[Hit]:
    """The last line that can only be an exception's, with no traceback around it (a paste, a
    tail that kept only the end); a launcher's wrapper exception only with ``wrappers``. An
    "Exception ignored in" traceback's exception line only where no other exception line is."""
    ignored = ignored_exceptions(lines)
    found = _bare_exception(lines, wrappers, frozenset())
    if found is None or id(found.line) not in ignored:
        return found
    return _bare_exception(lines, wrappers, ignored) or found


def _message_below(lines: Sequence[Line], position: int) -> bool:
    """Whether the line after ``position`` follows it at once, indented, with words: the message of
    an exception line that ends at its colon (NAME_ABOVE_MESSAGE)."""
    if position + 1 >= len(lines):
        return False
    here, after = lines[position], lines[position + 1]
    return after.index == here.index + 1 and after.rank == here.rank and after.text[:1].isspace() \
        and bool(after.text.strip()) and not after.text.lstrip().startswith('File "')


def _bare_exception(lines: Sequence[Line], wrappers: bool, skipped: frozenset) -> Optional[Hit]:
    """bare_exception's search, past the lines in ``skipped`` (their ids)."""
    text = joined(lines)[0]
    botocore = could_match(CLIENT_ERROR, text)   # botocore's words at all: one test of the tail
    dotted = {at for at in matching(lines, DOTTED_EXCEPTION)   # JAX's re-raise names no error alone
              if _is_exception(lines[at].text.partition(":")[0])
              and "UnfilteredStackTrace" not in lines[at].text}
    see_above = SEE_ABOVE_WORDS in text
    logged = COORDINATOR_WORDS in text or CLOSURE_WORDS in text
    ray = "RayTaskError(" in text
    listed = "Node: '" in text and " root error(s) found." in text
    tagged = frozenset(TF_TAGGED.findall(text)) if "Node: '" in text and TF_NODE_TAG in text else frozenset()
    nodes = listed or bool(tagged)
    traced = "tracing the function " in text
    above = {at for at in matching(lines, NAME_ABOVE_MESSAGE) if _message_below(lines, at)} \
        if holds(text, "Error:\n", "ption:\n", "Error: \n", "ption: \n") else ()   # a line ends so
    if not (botocore or dotted or see_above or logged or ray or nodes or traced or above
            or could_match(BARE_EXCEPTION, text)):
        return None   # none has the words
    for position in range(len(lines) - 1, -1, -1):
        text = lines[position].text
        if skipped and id(lines[position]) in skipped:
            continue
        if logged and not wrappers and "ed " in text:
            error = _logged_exception(lines, position)
            if error is not None:
                return Hit(lines[position], error)
        if ray and not wrappers and "RayTaskError(" in text and RAY_TASK_ERROR.match(text):
            return Hit(lines[position], text.strip())
        if nodes and not wrappers and text.startswith("Node: '") and (
                listed and _tf_root_errors(lines, position) or tagged and _tf_node_tagged(lines, position, tagged)):
            return Hit(lines[position], message(lines, position))
        if traced and not wrappers and text.startswith(JAX_TRACER_STARTS):
            error = _jax_tracer_error(lines, position)
            if error is not None:
                return Hit(lines[position], error)
        if (position in dotted or position in above) and _is_wrapper(text) == wrappers:
            return Hit(lines[position], reworded(lines, lines[position], message(lines, position)))
        client = botocore and "An error occurred (" in text and CLIENT_ERROR.match(text)
        if not (client or "Error" in text or "Exception" in text or "Interrupt" in text or "Exit" in text):
            continue
        if "UnfilteredStackTrace: " in text:
            text = UNFILTERED.sub("", text, count=1)
        if see_above and SEE_ABOVE_WORDS in text and SEE_ABOVE.match(text):
            text = SEE_ABOVE.sub(r"\1:", text, count=1)
        if (client or BARE_EXCEPTION.match(text)) and _is_wrapper(text) == wrappers:
            return Hit(lines[position], reworded(lines, lines[position], message(lines, position)))
    return None


# JAX's errors for a tracer used where a concrete value is needed (jax/_src/errors.py: each message the
# tracer's _error_repr(), then its _origin_msg(), which core.py starts with a newline: "The error
# occurred while tracing the function f at a.py:3 for jit." or "While tracing the function f ...,
# this value became a tracer due to JAX operations on these lines:"): a paste that starts at the
# message, its class's name not kept, is named by the message's own words.
JAX_TRACER_ERRORS = {"Attempted boolean conversion of ": "TracerBoolConversionError",
                     "The numpy.ndarray conversion method __array__() was called on ": "TracerArrayConversionError",
                     "The __index__() method was called on ": "TracerIntegerConversionError"}
JAX_TRACER_STARTS = tuple(JAX_TRACER_ERRORS)
JAX_ORIGIN = ("The error occurred while tracing the function ", "While tracing the function ")


def _jax_tracer_error(lines: Sequence[Line], position: int) -> Optional[str]:
    """"Name: msg" for a JAX tracer error's message at ``position`` with its origin on the next line."""
    here = lines[position]
    below = lines[position + 1] if position + 1 < len(lines) else None
    if below is None or below.index != here.index + 1 or PROCESS(below) != PROCESS(here) \
            or not below.text.startswith(JAX_ORIGIN):
        return None
    text = here.text.strip()
    return f"{next(name for start, name in JAX_TRACER_ERRORS.items() if text.startswith(start))}: {text}"


def _tf_root_errors(lines: Sequence[Line], position: int) -> bool:
    """Whether the line at ``position`` is TensorFlow's "Node: 'X'" with its op's message below it a
    list of root errors (status.cc, as_summary_status: "N root error(s) found.", then "  (0) msg"),
    a paste that starts at "Node:" (the exception's line above it not kept)."""
    below = lines[position + 1:position + 3]
    return (TF_NODE.match(lines[position].text) is not None and len(below) == 2
            and all(line.rank == lines[position].rank for line in below)
            and below[0].index == lines[position].index + 1 and below[1].index == below[0].index + 1
            and ROOT_ERRORS.match(below[0].text.strip()) is not None and ROOT_ERROR.match(below[1].text) is not None)


# The nodes a tail's tags name: a "Node: 'X'" line is looked at below only where one names X.
TF_TAGGED = re.compile(r"\[\[\{\{node ([^}\n]{1,300})\}\}\]\]")


def _tf_node_tagged(lines: Sequence[Line], position: int, tagged: frozenset) -> bool:
    """Whether the line at ``position`` is TensorFlow's "Node: 'X'" with its op's message below it
    from its lines' starts and the op's tag after it naming the same node (errors::AttachDef's
    "\t [[...]]" around FormatNodeNameForError's "{{node X}}", TensorFlow's own form: a paste that
    starts at "Node:")."""
    here = lines[position]
    name = here.text[len("Node: '"):-1]
    if name not in tagged or TF_NODE.match(here.text) is None:
        return False
    tag = f"{TF_NODE_TAG}{name}}}}}]]"   # "[[{{node X}}]]"
    previous = here
    for after in lines[position + 1:position + 1 + CONTINUED]:
        more = after.text.strip()
        if not more or after.rank != here.rank or after.index != previous.index + 1:
            return False
        if more.startswith(TF_NODE_TAG):
            return previous is not here and more.startswith(tag)
        if more != after.text.rstrip() or more.startswith("Node: '"):
            return False   # the op's message starts its lines ("  (0) msg" is a root errors' list's)
        previous = after
    return False


# pytest's report of a failed test (_pytest/_code/code.py: each line of the exception as Python would
# print it behind "E" and the spaces that align it with the source line, the failing source line
# behind ">"; --tb=short and --tb=line too), in a section a "____ test_name ____" rule opens per
# test. Within a test the last such exception is its failure (a chain's last), of the tests the
# first one's.
PYTEST_E = re.compile(r"E {1,40}(?=\S)")
PYTEST_SECTION = re.compile(r"^_{3,} \S.{0,300} _{3,}$")
PYTEST_ANY = re.compile(r"\nE ")   # whether a tail has an "E" line after its first: re's literal search


# Its short test summary (_pytest/terminal.py, _get_line_with_reprcrash_message: "FAILED nodeid - msg",
# "ERROR nodeid - msg" for a fixture's or collection's error, msg the exception's first line, "..."
# where the terminal was too narrow; a test's parameters in brackets may hold " - "): the first one
# whose message is an exception's, where no "E" line says more (a paste or a tail of the summary).
PYTEST_SUMMARY = re.compile(r"^(?:FAILED|ERROR) [^\s\[]{0,300}?(?:::|\.py)[^\s\[]{0,300}(?:\[[^\n]{0,300}?\])?"
                            r" - (\S.*)$")


def pytest_failure(lines: Sequence[Line]) -> Optional[Hit]:
    """The first failed test's exception, as pytest reported it, with its "E" lines below it; else
    the first exception its short test summary names."""
    lines = output_lines(lines)
    text, _starts = joined(lines)
    if not (text.startswith("E ") or PYTEST_ANY.search(text)):
        return _pytest_summary(lines)
    section, found = 0, None   # the section of the candidate found, the candidate
    for position, line in enumerate(lines):
        if line.text.startswith("_") and PYTEST_SECTION.match(line.text):
            if found is not None:
                break
            section += 1
            continue
        report = PYTEST_E.match(line.text) if line.text.startswith("E ") else None
        exception = report and TB_EXCEPTION.match(line.text[report.end():])
        if exception and _is_exception(exception.group(1)):
            found = position
    if found is None:
        return _pytest_summary(lines)
    error = lines[found].text[PYTEST_E.match(lines[found].text).end():]
    previous = lines[found]
    for after in lines[found + 1:found + 1 + CONTINUED]:
        if after.index != previous.index + 1 or after.rank != previous.rank or not PYTEST_E.match(after.text):
            break
        error += " " + after.text[1:].strip()
        previous = after
    return Hit(lines[found], error)


def _pytest_summary(lines: Sequence[Line]) -> Optional[Hit]:
    for position in matching(lines, PYTEST_SUMMARY):
        error = PYTEST_SUMMARY.match(lines[position].text).group(1)
        exception = TB_EXCEPTION.match(error)
        if exception and _is_exception(exception.group(1)):
            return Hit(lines[position], error)
    return None
