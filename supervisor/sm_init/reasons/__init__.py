"""Why a job failed, in the trainer's own words: the failure file's text from the tails of its output.

Pure: bytes in, text out; no I/O, no clock. Imported only when a job fails.

The text (UTF-8, at most ``limit`` bytes, never a split character) has three parts, most important
first: how the job ended (built by the caller, kept whole when it fits), the most specific error
found in the tails with a hint where one helps, then the last lines of the output, newest last.

Finding the error. The tails are cleaned (invalid UTF-8 replaced, ANSI colours dropped, a ``\\r``
progress bar reduced to what a terminal would last have shown), each line's prefixes are peeled off
(``[rank1]:`` from torch.distributed, ``[default1]:`` from torchrun --tee, ``[1,0]<stderr>:`` from
mpirun --tag-output, Ray's ``(RayWorkerVllm pid=5304)`` and ``(pid=2580)``, Lightning's ``[rank:
0]``, Slurm's ``srun --label`` ``0:``, kubectl's ``[pod/trainer-0/pytorch]``, docker compose's
``scalellm  | `` where it is surely compose's; a logger's header
repeated on each line, vLLM's ``ERROR 01-29 07:44:33 worker_base.py:467]``; the stamp a log service
puts before every line, CloudWatch's, ``docker logs -t``'s, syslog's ``Jan  5 19:26:34 host
prog[7]:``, a logger's ``[2024-01-01 12:00:00,123] [INFO]``, with the indentation a console's column
added to all of them) so that interleaved processes can be told apart, blank lines are dropped (a
gap in the line numbers remembers them), a progress bar left without its newline is peeled off what
was printed after it, and the recognisers in ``TABLE`` run in order; the first that finds something
wins.
The order is the precedence:

1. torchrun's ``ChildFailedError`` summary: the rank it saw fail first ("Root Cause"), its exit
   code or signal, and its own error: the rest of the table run over the summary's traceback (the
   rank's error file, with ``@record``) and the rank's prefixed lines, a known cause in either
   first; for a rank that printed nothing prefixed (killed by SIGSEGV or SIGKILL, or a python that
   could not open the script), the unprefixed report of that (faulthandler's, a shell's, python's);
   with none, the summary's own words: the program its title names ("train.py FAILED"), the rank,
   its exit code or signal.
   It beats everything else: the other ranks' errors (a peer's NCCL timeout, gloo's "Connection
   closed by peer") are consequences, and the agent's own traceback says only that a child failed.
   Unless the rank it names died of such a consequence itself (a peer's connection closed, a
   SIGABRT with no error of its own) while another rank's own exception came first in the output:
   that rank is the one (accelerate over torchrun, whose ranks exit at their own pace).
2. Known causes, each at its earliest line (the first failure): CUDA (XLA, TensorFlow) out of
   memory, disk full, a native crash (segfault and kin, faulthandler's "Fatal Python error", the
   frame of its "Current thread"; where none of those is there, the DataLoader worker's own
   report, "Unexpected bus error encountered in worker"; a DataLoader worker's bus error gets the
   shared memory hint), a
   SIGKILL ("Killed", also glued to a progress bar; Slurm's "OOM Killed", "Out Of Memory", "oom-kill
   event(s)"; the kernel's OOM killer in dmesg, "Out of memory: Killed process 7899 (python)", which
   beats the shell's "Killed" where both are there: it says why; gcc's "fatal error: Killed signal
   terminated program cc1plus", a build's compiler killed), Rust's "memory allocation of N bytes
   failed" (the host's memory, then an abort) and tcmalloc's "large alloc N bytes == (nil)", any
   other CUDA error (the driver's "CUDA_ERROR_ILLEGAL_ADDRESS" in XLA's words, cuDNN's
   "CUDNN_STATUS_..." and TensorFlow's "Could not create cudnn handle" too; the CUDA_CHECK_RETURN
   macro's "Error invalid argument at line 351 in file ops.cu"), NCCL errors and timeouts (with
   NCCL's "Last error:", or the first "NCCL WARN" before it that a failure's return follows, "NCCL
   INFO init.cc:878 -> 2", else its last). NCCL comes last: a collective fails *because* a peer died
   of one of the others. A
   signal counts as a shell, an IDE or a launcher reports it: bash's and dash's words in any of
   glibc's common locales ("已杀死", "Speicherzugriffsfehler"), zsh's ("segmentation fault (core
   dumped)"), fish's ("terminated by signal SIGKILL"), PyCharm's ("interrupted by signal
   9:SIGKILL"). Only output counts: a traceback's code (``raise RuntimeError("CUDA out of
   memory")``, a comment) and the tracebacks a process survived (a caught and logged OOM before the
   KeyError it died of) are not looked at.
3. The final line of a Python traceback, of the last one in a chain ("During handling...", "The
   above exception was the direct cause..."), with the lines its message visibly runs on to (a
   bracket left open, a sentence wrapped before a word in lower case, the indented lines below a
   "Name:" whose message began with a newline, TensorFlow's first root error below its "N root
   error(s) found."; TensorFlow 2's op message below its "Node: 'X'" line (a graph execution error's,
   up to its "[[{{node X}}]]" tag, as "Name: msg" where its "Name: Graph execution error:" is above);
   the SageMaker SDK's FailedStatusError as its "Failure Reason: ...", on its line or
   the next; TensorFlow 1's "NotFoundError (see above for traceback): msg" as "NotFoundError: msg";
   not libstdc++'s "terminate called ..." after it), never another traceback's
   source line (one shown under a frame above, or in a statement's form: interleaved ranks);
   SyntaxError with its file and line; JAX's ``UnfilteredStackTrace: X: msg`` is X's. Where the
   output ends inside the last traceback, before its exception line, the line right above its header
   where a logger wrote it at an error level (logging's message before the traceback of
   ``logger.exception``: "ERROR - trainer - upload failed: ..."). A traceback
   indented as a whole (pip's copy of a build step's output, a markdown paste) is read at its
   indentation: an indented header, or a frame 6 deep or more, says where its block is; one whose
   lines lost their indentation has a frame's code at column 0. A traceback
   may have no header (a tail or a paste that starts inside it, rich's box): an exception line right
   after a frame's code ends it; a line that a frame follows is another thread's log line, not the
   exception. The line right after the last frame and its code is the exception line whatever its
   form (a paste that lost "ValueError: "), unless an exception line soon follows it (not after a
   stack that logging's stack_info or faulthandler printed: no exception ends those). Then pytest's
   report of the first failed test: its last ``E   Name: msg`` line (a chain's last) with the ``E``
   lines below. Within one process (one prefix) the fatal traceback is the last one: earlier ones
   were logged and survived, and "Exception ignored in" tracebacks never kill anything. Across
   processes the first one to complete wins: of several ranks' fatal tracebacks, the one whose last
   line came first in the output, the best witness of which rank failed first that the output holds.
   Unprefixed tracebacks of several processes interleaved line by line are told apart the same way
   (the first exception line to close one of them). A launcher that re-raises its child's failure
   (``CalledProcessError`` chained from the child's own error) gives the child's exception.
4. A C++ exception that ended the process (``terminate called after ... what(): ...``, the what() up
   to a dozen lines below where a terminal wrapped the first; libstdc++'s "pure virtual method
   called" before its terminate), a fatal log line (glog's ``F``, "Check failed: ...", gloo's
   "[libuv.h:596] uv_accept: ..."), then an abort: glibc's own reason for it where it printed one
   (malloc's "double free or corruption (!prev)", "free(): invalid pointer", "*** stack smashing
   detected ***", assert()'s "PROG: FILE:LINE: FUNC: Assertion `EXPR' failed."), else the shell's
   "Aborted". A C++ what() line is no traceback's code: the "Aborted" after it closes no headerless
   traceback.
5. argparse's report of a command line it could not parse (``PROG: error: MESSAGE`` after its
   ``usage:``, exit 2: an argparse message, or any after the usage of that PROG), then a line that
   can only be an exception's, alone (not an "Exception ignored in" traceback's where another such
   line is: CPython's unraisable hook printed it and went on; a paste of just that line, a tail that
   kept only it; a name
   ending in Error or Exception, ``Exception: msg`` itself, a module's class
   ``pyarrow.lib.ArrowInvalid: msg``; botocore's ``ClientError`` message behind any class name,
   ``ResourceLimitExceeded: An error occurred (...) when calling the X operation: ...``; Hydra's
   "Error in call to target 'X':" with the repr of the target's exception below it; an exception
   that a logger reported, TensorFlow's Coordinator's "Error reported to Coordinator: <class 'X'>,
   msg" and its ClusterCoordinator's "... encountered the following error when processing closure:
   X():msg" as "X: msg", the words below a bare "Graph execution error:" as msg; Ray's
   "RayTaskError(Cause): ..." where the paste ends inside the remote traceback below it): the
   child's own words still; argparse's also for a torchrun rank that said nothing else. Then
   launchers' own reports, when nothing of the child's is left, the first one: mpirun's "exited on
   signal 9 (Killed)" (its sentence whole where a terminal wrapped it), Open MPI's "exited with
   non-zero status" box with its "Exit code:", MPI_ABORT, DeepSpeed's "exits with return code = -9",
   torchrun's own "failed (exitcode: -9) local_rank: 4" and its agent's "Received 1 death signal,
   shutting down workers", MPICH's and Intel MPI's "BAD TERMINATION"
   box and its exit code or signal, Slurm's "CANCELLED AT ... DUE TO TIME LIMIT" and srun's "Exited
   with exit code", LSF's and PBS's limits, make's "*** [train] Error 1", docker compose's "exited
   with code 137", the SageMaker toolkit's ExecuteUserScriptError, Open MPI's box for a child it
   could not exec or start or whose daemons it could not start ("ORTE was unable to reliably start
   one or more daemons") or whose child called MPI before MPI_Init ("*** The MPI_Comm_rank() function
   was called before MPI_INIT was invoked."), Ray's "Raylet is terminated ... Termination is
   unexpected." and "The actor is dead because its worker process has died" (and a
   node's missed heartbeats), an IDE's "Process finished with exit code 1", a notebook's dead
   kernel, python's "can't open file" and ``python -m``'s "No module named X", bash's "unbound
   variable" (set -u), a shell that cannot parse a script or run the entry point, Open MPI's "There
   are not enough slots available". A shell's "command not found" (a script survives a missing
   nvidia-smi; bash's in its translations, "未找到命令" and older releases' "python：未找到命令", and dash's
   "train.sh: 15: python: not found")
   only when there is no other report, the last one; then MPICH Hydra's first "[mpiexec@HOST] FUNC
   (FILE:LINE): msg" or "[proxy:0:2@HOST] ..." report ("execvp error on file X ..."); last,
   launchers' wrapper exceptions
   (``ChildFailedError``, ``CalledProcessError``, ...), from a traceback or standing alone.
6. The last resort, when nothing above found anything: a runtime's own error-level log line, the
   first: NCCL's ``NCCL WARN msg`` (NCCL_DEBUG's output alone, no NCCL error after it), c10's and
   glog's ``[E socket.cpp:500] [c10d] msg`` (a paste that ends inside the traceback after it), Ray's
   C++ ``[2024-05-26 11:26:16,798 E 177479 178526] gcs_rpc_client.h:554: msg``, Lua
   torch's ``THCudaCheck FAIL file=... line=70 error=35 : msg`` (a CUDA error, Lua's own after it).

Running out of host memory (MemoryError, numpy's _ArrayMemoryError, std::bad_alloc, Rust's failed
allocation) gets the host memory hint, whichever rule found it.

An error over ``ERROR_MAX`` bytes keeps its start and its end, its middle elided: the end says how
it ended ("returned non-zero exit status 1").

stdout and stderr come separately (the caller cannot know how they interleaved): each recogniser
looks at stderr first, where tracebacks and launchers' logs go, then stdout. The last lines are
stderr's when it has any, else stdout's; blank lines, separator rules and traceback caret lines
(``^^^^``) are left out, they carry nothing in 1 KB.
"""

import bisect
import functools
import gc
import heapq
import itertools
import re
from typing import Callable, Iterator, List, NamedTuple, Optional, Sequence, Tuple

from .memo import _cleaned, _remembered, remembered
from .lines import (BAR, clean_lines, ELISION, ERROR_MAX, joined, LIMIT, Line, lines_of, PREFIXES, printable,
    PROCESS, read_lines, reframed, split_prefixes, TB_HEADER)
from .findings import Finding, Hit, Recogniser
from .hints import (HINT_CRASH, HINT_CUDA, HINT_CUDA_OOM, HINT_DISK_FULL, HINT_HOST_MEMORY, HINT_KILLED,
    HINT_NCCL, HINT_SHM, HOST_MEMORY)
from .text import elide, _fit_lines, _last_lines, NOISE, _size, truncate
from .matchers import could_match, first_line, holds, matching, _multiline, tidy, WHAT


def earliest(pattern: str) -> Callable[[Sequence[Line]], Optional[Hit]]:
    """A matcher: the first line of output (not a traceback's code) that matches ``pattern``,
    shown tidied."""
    regex = re.compile(pattern, re.M)

    def find(lines: Sequence[Line]) -> Optional[Hit]:
        line = first_line(output_lines(lines), regex)
        return None if line is None else Hit(line, tidy(line.text))
    return find


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


def _unbalanced(text: str) -> bool:
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
# inside it): the message line right above the header, at a logger's error level, is the error. The
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
    exception line: the logger's own line above the header (see LOGGED_LEVEL)."""
    if not lines or not _code_like(lines[-1].text) and not TB_FILE.match(lines[-1].text):
        return None   # the output does not end inside a traceback's frames
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
    if not frames or before.index != lines[header].index - 1 or PROCESS(before) != PROCESS(lines[header]):
        return None
    error = _logged_error(before)
    if error is None or LAUNCHER_REPORT.search(error):
        return None   # a launcher's report logged before its own traceback: that rule reads it
    return Hit(before, tidy(error))


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
    if not (botocore or dotted or see_above or logged or ray or could_match(BARE_EXCEPTION, text)):
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
        if position in dotted and _is_wrapper(text) == wrappers:
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


# argparse's report of a command line it could not parse (Lib/argparse.py: error() prints the usage,
# then exits 2 with "%(prog)s: error: %(message)s"): the process's own last words, no traceback. A
# message of argparse's own (its _() strings: "unrecognized arguments: %s", "argument %s: ...") is
# enough; any other (a script's own parser.error()) needs the "usage: PROG" printed before it.
ARGPARSE_ERROR = re.compile(r"^([^\s:][^:\n]{0,100}): error: (?P<own>(?:unrecognized arguments|the"
                            r" following arguments are required|ambiguous option|unexpected option string): "
                            r"|one of the arguments .{1,300} is required$|argument [^:\n]{1,200}: )?")
ARGPARSE_USAGE = re.compile(r"^usage: (\S+)")
USAGE_LINES = 40   # lines argparse's usage may take (it wraps a long one) before its error


def argparse_error(lines: Sequence[Line]) -> Optional[Hit]:
    """The first report of argparse's that a command line could not be parsed."""
    lines = output_lines(lines)
    if not holds(joined(lines)[0], ": error: "):
        return None
    usage = {}   # per process: the program whose usage it printed last, and where
    for position, line in enumerate(lines):
        text = line.text
        if text.startswith("usage: "):
            usage[(line.rank, line.local, line.actor)] = (ARGPARSE_USAGE.match(text).group(1), position)
            continue
        match = ARGPARSE_ERROR.match(text) if ": error: " in text else None
        if match is None:
            continue
        prog, at = usage.get((line.rank, line.local, line.actor), (None, 0))
        if match.group("own") is not None or (prog == match.group(1) and position - at <= USAGE_LINES):
            return Hit(line, tidy(text))
    return None


# pytest's report of a failed test (_pytest/_code/code.py: each line of the exception as Python would
# print it behind "E" and the spaces that align it with the source line, the failing source line
# behind ">"; --tb=short and --tb=line too), in a section a "____ test_name ____" rule opens per
# test. Within a test the last such exception is its failure (a chain's last), of the tests the
# first one's.
PYTEST_E = re.compile(r"E {1,40}(?=\S)")
PYTEST_SECTION = re.compile(r"^_{3,} \S.{0,300} _{3,}$")
PYTEST_ANY = re.compile(r"\nE ")   # whether a tail has an "E" line after its first: re's literal search


def pytest_failure(lines: Sequence[Line]) -> Optional[Hit]:
    """The first failed test's exception, as pytest reported it, with its "E" lines below it."""
    lines = output_lines(lines)
    text, _starts = joined(lines)
    if not (text.startswith("E ") or PYTEST_ANY.search(text)):
        return None
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
        return None
    error = lines[found].text[PYTEST_E.match(lines[found].text).end():]
    previous = lines[found]
    for after in lines[found + 1:found + 1 + CONTINUED]:
        if after.index != previous.index + 1 or after.rank != previous.rank or not PYTEST_E.match(after.text):
            break
        error += " " + after.text[1:].strip()
        previous = after
    return Hit(lines[found], error)


# C++ exceptions, fatal log lines ------------------------------------------------------------------

# The closing quote may be lost (a paste, a line cut): the type still ends at the first space.
TERMINATE = re.compile(r"terminate called after throwing an instance of '([^'\s]+)'?")
WHAT_DISTANCE = 12   # lines between "terminate called" and its what(): a terminal may wrap the first


# libstdc++'s __cxa_pure_virtual (libsupc++/pure.cc) writes "pure virtual method called" and calls
# std::terminate (whose handler then says "terminate called without an active exception"): the cause.
PURE_VIRTUAL = earliest(r"^pure virtual method called$")


def cxx_exception(lines: Sequence[Line]) -> Optional[Hit]:
    return earlier(_terminate(lines), PURE_VIRTUAL(lines))


def _terminate(lines: Sequence[Line]) -> Optional[Hit]:
    for position in matching(lines, TERMINATE):
        line = lines[position]
        match = TERMINATE.search(line.text)
        for after in lines[position + 1:position + 1 + WHAT_DISTANCE]:
            if WHAT.match(after.text) and after.rank == line.rank:
                return Hit(line, f"{match.group(1)}: {tidy(after.text)}")
        return Hit(line, tidy(line.text))
    return None


# glog's FATAL level (TensorFlow, XLA, c10): "F tensorflow/core/...cc:659] Check failed: ...", and
# gloo's enforce ("[.../gloo/transport/uv/libuv.h:596] uv_accept: invalid argument"): the line
# before the abort it causes.
FATAL_LOG = re.compile(r"^(?:\[?\d{4}-\d\d-\d\d[ T][\d:.]+:? )?F(?:\d{4} [\d:.]{1,40})? *(?:\d+ )?"
                       r"[\w./-]{1,160}\.(?:cc|cpp|h|hpp):\d+\] \S|Check failed: "
                       r"|^\[[\w./-]{1,300}\.(?:cc|cpp|h|hpp):\d+\] \S")
# Rust's panic (HF tokenizers, safetensors): "thread 'main' panicked at src/x.rs:2:5:". Apart from
# FATAL_LOG: one more alternative there costs every position; alone, its words are looked for first.
RUST_PANIC = re.compile(r"^thread '[^'\n]{1,100}' panicked at ")


def fatal_log(lines: Sequence[Line]) -> Optional[Hit]:
    output = output_lines(lines)
    line = earlier_line(first_line(output, FATAL_LOG), first_line(output, RUST_PANIC))
    return None if line is None else Hit(line, tidy(line.text))


# NCCL and CUDA -----------------------------------------------------------------------------------

# nccl-tests' NCCLCHECK and CUDACHECK (src/common.h): "Test NCCL failure common.cu:908 'unhandled
# cuda error / ...'" (older: "NCCL failure common.cu:908 '...'").
# Alternatives that share a start share a branch: a position tries few of them.
NCCL = re.compile(r"NCCL (?:error|Error \d|failure \S+:\d+ '|watchdog thread terminated with exception)"
                  r"|CUDA failure \S+:\d+ '(?!out of memory)|\bnccl[A-Z]\w{0,40}Error\b"
                  r"|Watchdog caught collective operation timeout"
                  r"|unhandled system error|Process group watchdog thread terminated with exception"
                  r"|^\[E(?:\d{4} [\d:.]+)? *(?:\d+ )?ProcessGroupNCCL\.cpp")
NCCL_LAST_ERROR = re.compile(r"^\s*Last error:\s*$")
# NCCL's own warning (debug.cc: "host:pid:tid [dev] NCCL WARN msg"), printed where the failure
# happened, before the error that its caller reports: the last one before it says what went wrong
# (the failure's return travels up at INFO level, "init.cc:1234 -> 1"; a warning at start-up, a
# missing net plugin, comes earlier and is harmless).
NCCL_WARN = re.compile(r"\bNCCL WARN (\S.*)$")
NCCL_WARN_DISTANCE = 50   # lines between NCCL's warning and the error it led to
# A failure's return going up at INFO level (NCCL's checks.h, NCCLCHECK: INFO(NCCL_ALL, "%s:%d -> %d",
# __FILE__, __LINE__, res)), right after the warning where it failed.
NCCL_RETURN = re.compile(r"NCCL INFO [\w./-]{1,200}:\d{1,6} -> \d{1,3}(?: \[[\w ]{1,40}\])?$")
NCCL_DEBUG_ADVICE = re.compile(r" \(run with NCCL_DEBUG=\w+ for details\)")   # the hint says it
# Any CUDA error but running out of memory (its own recogniser, its own hint).
CUDA_ERROR = re.compile(r"CUDA error: (?!out of memory)\S|\bcuda(?:Error\w+|ErrorIllegalAddress)\b"
                        r"|Assertion `[^`]{0,1000}` failed\.|device-side assert triggered")
# The driver's own names too (cuda.h's CUresult, "CUDA_ERROR_ILLEGAL_ADDRESS", as XLA's status lines
# put them; not TensorFlow's cuInit at start-up, which falls back to the CPU, nor an allocation that
# TensorFlow's and XLA's allocators retry smaller) and cuDNN's (cudnn.h's cudnnStatus_t,
# "CUDNN_STATUS_..."; TensorFlow's cuda_dnn.cc: "Could not create cudnn handle: ...", lower case in
# older ones). And the CUDA_CHECK_RETURN macro of Nsight's CUDA project template, which bitsandbytes'
# csrc/ops.cuh and many kernels copy: fprintf(stderr, "Error %s at line %d in file %s\n",
# cudaGetErrorString(...), __LINE__, __FILE__), then exit(1); the file a C, C++ or CUDA source, the
# whole line its ("out of memory" gets the OOM's hint). Looked for only in a tail that holds one of
# their literals: no cost elsewhere.
CUDA_NAMES = re.compile(r"CUDA_ERROR_(?<!cuInit: CUDA_ERROR_)(?!OUT_OF_MEMORY\b)[A-Z]{2}[A-Z_]{0,60}\b"
                        r"|CUDNN_STATUS_[A-Z]{2}[A-Z_]{0,60}|[Cc]ould not create cudnn handle"
                        r"|Error (?<![^\n]Error )[^\n]{1,200} at line \d+ in file "
                        r"[^\n]{1,300}\.(?:cu|cuh|c|cc|cpp|h|hpp)$", re.M)


def _may_name_cuda(text: str) -> bool:
    """Whether ``text`` holds a literal that every match of CUDA_NAMES holds: a few scans at C speed."""
    return holds(text, "CUDA_ERROR_", "CUDNN_STATUS_", "cudnn handle", " in file ")


# torch's advice after every CUDA error; the hint says what to do, the error line has no room for it.
CUDA_ADVICE = re.compile(r"\s*(?:CUDA kernel errors might be asynchronously reported.{0,200}?incorrect\."
                         r"|For debugging consider passing CUDA_LAUNCH_BLOCKING=1\.?"
                         r"|Compile with `TORCH_USE_CUDA_DSA` to enable device-side assertions\.)")


def nccl_error(lines: Sequence[Line]) -> Optional[Hit]:
    """The first NCCL error, with NCCL's own "Last error:" line when it follows (the real reason)."""
    hit = earliest(NCCL.pattern)(lines)
    if hit is None:
        return None
    error = _without_advice(NCCL_DEBUG_ADVICE.sub("", hit.error))
    position = lines.index(hit.line)
    after = [line for line in lines[position + 1:position + 6] if line.rank == hit.line.rank]
    for marker, detail in zip(after, after[1:]):
        if NCCL_LAST_ERROR.match(marker.text) and detail.text.strip():
            error += f"; last error: {tidy(detail.text)}"
            return hit._replace(error=error)
    window = [line for line in lines[max(0, position - NCCL_WARN_DISTANCE):position] if line.rank == hit.line.rank]
    # A warning that its failure's return follows ("NCCL INFO init.cc:878 -> 2") reports a failure:
    # the first such is where it failed, later ones its consequences. Else (a start-up notice, a
    # probe's) the last warning before the error.
    failed = [line for line, after in zip(window, window[1:])
              if "NCCL WARN" in line.text and " -> " in after.text and NCCL_RETURN.search(after.text)]
    before = failed[:1] or [line for line in window if "NCCL WARN" in line.text][-1:]
    warnings = (NCCL_WARN.search(line.text) for line in before)
    warning = next((found for found in warnings if found), None)
    if warning and warning.group(1) not in error:
        error += f"; NCCL WARN {tidy(warning.group(1))}"
    return hit._replace(error=error)


def cuda_error(lines: Sequence[Line]) -> Optional[Hit]:
    """The first CUDA error (an illegal address, a device-side assert, no kernel image, ...)."""
    hit = earliest(CUDA_ERROR.pattern)(lines)
    text = joined(output_lines(lines))[0]
    if _may_name_cuda(text):
        hit = earlier(hit, earliest(CUDA_NAMES.pattern)(lines))
        if hit is not None and hit.error.startswith("Error out of memory at line "):
            hit = hit._replace(hint=HINT_CUDA_OOM)
    return hit and hit._replace(error=_without_advice(hit.error))


def _without_advice(error: str) -> str:
    return CUDA_ADVICE.sub("", error).strip()


# Crashes and kills: how a shell, an IDE or a launcher reports a signal --------------------------

# strsignal()'s words, which bash and dash print for a child that a signal ended: English, and
# glibc's translations in common locales (po/zh_CN.po, zh_TW, ja, ko, de, fr, es, ru, pt_BR, it; as
# Debian's libc-l10n 2.36 has them). A word of a locale counts only where a shell puts it: alone on
# its line (dash), after the pid of bash's job report, after a progress bar; never in prose.
SIGNAL_WORDS = {
    "SIGKILL": ("Killed", "已杀死", "強制結束", "強制終了", "죽었음", "Getötet", "Processus arrêté",
                "Terminado (killed)", "Убито", "Morto", "Ucciso"),
    "SIGSEGV": ("Segmentation fault", "段错误", "程式記憶體區段錯誤", "세그멘테이션 오류", "Speicherzugriffsfehler",
                "Erreur de segmentation", "Violación de segmento", "Ошибка сегментирования",
                "Falha de segmentação", "Errore di segmentazione"),
    "SIGBUS": ("Bus error", "总线错误", "匯流排錯誤", "バスエラー", "버스 오류", "Bus-Zugriffsfehler", "Erreur du bus",
               "Error del bus", "Ошибка шины", "Erro no barramento", "Errore di bus"),
    "SIGILL": ("Illegal instruction", "非法指令", "無效指令", "명령어가 잘못됨", "Ungültiger Maschinenbefehl",
               "Instruction non permise", "Instrucción ilegal", "Недопустимая инструкция",
               "Instrução ilegal", "Istruzione non consentita"),
    "SIGFPE": ("Floating point exception", "浮点数例外", "浮點數例外", "浮動小数点例外", "부동 소수점 예외",
               "Gleitkomma-Ausnahme", "Exception en point flottant", "Excepción de coma flotante",
               "Исключение в операции с плавающей точкой", "Exceção de ponto flutuante",
               "Eccezione in virgola mobile"),
    "SIGABRT": ("Aborted", "已放弃", "中止", "중지됨", "Abgebrochen", "Abandon", "Abortado", "Аварийный останов",
                "Annullato"),
}
# zsh's own words (Src/signames2.awk's msg table), lower case, before the command it ran:
# "zsh: segmentation fault (core dumped)  python train.py", "[1]  + 14957 killed     python ...".
ZSH_WORDS = {"SIGKILL": "killed", "SIGSEGV": "segmentation fault", "SIGBUS": "bus error",
             "SIGILL": "illegal hardware instruction", "SIGFPE": "floating point exception",
             "SIGABRT": "abort"}
# The words the English patterns below (KILLED, CRASH, ABORTED) do not know: other locales', zsh's.
WORD_SIGNAL = {word: signal for signal, words in SIGNAL_WORDS.items() for word in words[1:]}
WORD_SIGNAL.update({word: signal for signal, word in ZSH_WORDS.items()})
_WORDS = "|".join(re.escape(word) for word in sorted(WORD_SIGNAL, key=len, reverse=True))
# Each form is found by a search that skips what cannot match at C speed (a literal; a digit and a
# space), then checked where it stands: a 64 KiB tail of anything else costs a millisecond or two.
# bash's job report in any locale ("x.sh: line 1: 7364 Getötet   cmd", "第 1 行：7364 已杀死") and
# zsh's ("[1]  + 14957 killed     cmd", "14957 segmentation fault (core dumped)  cmd"): the pid, the
# word, then spaces or the line's end.
_FIRST = re.escape("".join(sorted({word[0] for word in WORD_SIGNAL})))   # one test before the words
SIGNAL_AFTER_PID = re.compile(rf"[0-9] (?=[{_FIRST}])({_WORDS})(?: \(core dumped\))?(?=[ \t(（]|$)", re.M)
# zsh's report of a foreground job: "zsh: segmentation fault (core dumped)  python train.py".
SIGNAL_ZSH = re.compile(rf"zsh: ({'|'.join(ZSH_WORDS.values())})(?: \(core dumped\))?(?=  +\S| *$)", re.M)
# fish's ("fish: Job 1, 'python train.py' terminated by signal SIGSEGV (Address boundary error)")
# and PyCharm's ("Process finished with exit code 137 (interrupted by signal 9:SIGKILL)").
SIGNAL_NAMED = re.compile(r"by signal (?:\d+: ?)?(SIG(?:KILL|SEGV|BUS|ILL|FPE|ABRT))\b")
# A locale's word alone on its line (a shell; a paste that kept only the word; what a progress bar
# left without its newline was peeled off), the shell's "(core dumped)" in its language after it
# ("段错误 (核心已转储)"). Looked up in a set, the line's text whole: no search at all.
ALONE = frozenset(word for words in SIGNAL_WORDS.values() for word in words[1:])
CORE = re.compile(r"[ \t]*[(（][^()（）]{1,40}[)）]$")
# A line that can be one of these words and its "(core dumped)": where CORE is tried (a line ending
# in a bracket is common, one of these words before it is not). Anchored at the line's start (not
# tried at each E of a line of them), the words' first characters tested before the words.
_ALONE_FIRST = re.escape("".join(sorted({word[0] for word in ALONE})))
CLOSED = re.compile(rf"^\s*(?=[{_ALONE_FIRST}])(?:{'|'.join(map(re.escape, ALONE))})\s*[(（][^()（）]{{1,40}}[)）]$",
                    re.M)


@remembered
def signal_reports(lines: Sequence[Line]) -> dict:
    """The first report of a death by each signal in ``lines`` (output, not code): {"SIGKILL": line}."""
    output = output_lines(lines)
    text, starts = joined(output)
    found: dict = {}

    def report(signal: str, line: Line) -> None:
        if signal not in found or line.index < found[signal].index:
            found[signal] = line

    for pattern in (SIGNAL_AFTER_PID, SIGNAL_ZSH, SIGNAL_NAMED):
        for match in pattern.finditer(text):
            signal = WORD_SIGNAL.get(match.group(1), match.group(1))
            report(signal, output[bisect.bisect_right(starts, match.start()) - 1])
    texts = text.split("\n")
    for word in ALONE.intersection(texts):
        report(WORD_SIGNAL[word], output[texts.index(word)])
    for position in matching(output, CLOSED):
        line = output[position]
        word = CORE.sub("", line.text).strip()
        if word in ALONE:
            report(WORD_SIGNAL[word], line)
    return found


def signal_hit(lines: Sequence[Line], *signals: str) -> Optional[Hit]:
    """The earliest report of a death by one of ``signals``, tidied."""
    reported = [line for signal, line in signal_reports(lines).items() if signal in signals]
    if not reported:
        return None
    line = min(reported, key=lambda line: line.index)
    return Hit(line, tidy(line.text))


def earlier_line(*lines: Optional[Line]) -> Optional[Line]:
    """Of lines of one stream, the earliest."""
    return min((line for line in lines if line is not None), key=lambda line: line.index, default=None)


def earlier(*hits: Optional[Hit]) -> Optional[Hit]:
    """Of hits on lines of one stream, the one on the earliest line."""
    return min((hit for hit in hits if hit is not None), key=lambda hit: hit.line.index, default=None)


# bash's job report in English (and dash's "Killed" alone, after a progress bar), torch's words.
# Slurm's (slurmstepd's cgroup "Detected 1 oom_kill event in StepId=7.0. Some of the step tasks
# have been OOM Killed.", srun's "srun: error: node1: task 0: Out Of Memory" and "...: Killed").
# macOS's bash adds the signal's number ("Killed: 9", "Abort trap: 6").
KILLED = earliest(r"(?:^|\])Killed(?:: 9)?$|^(?:\S+: )?(?:line \d+: )?[ \t]*\d+ Killed(?:: 9)?(?:[ \t]|$)"
                  r"|killed by signal: Killed")
# A scheduler's or batch system's memory limit: Slurm's cgroup count and srun's task report, LSF's,
# PBS's; make's report of its recipe's SIGKILL; gcc's driver's of a compiler it ran that got SIGKILL
# (gcc.c's execute(): "%s signal terminated program %s" with strsignal's "Killed", a fatal error;
# g++ 12 run here, its cc1plus killed: "g++: fatal error: Killed signal terminated program cc1plus").
# Apart from the above, every alternative starting with a literal: a search skips at C speed to the
# few characters that can start one.
KILLED_BY_LIMIT = earliest(r"oom[-_]kill event(?:s|\(s\))? in |: tasks? [\d,-]+: (?:Killed|Out Of Memory)$"
                           r"|TERM_MEMLIMIT: job killed|PBS: job killed: v?mem "
                           r"|make(?:\[\d+\])?: \*\*\* [^\n]{0,300}\] Killed$"
                           r"|: fatal error: Killed signal terminated program [\w.+-]{1,100}$")
ABORTED = earliest(r"^(?:Fatal Python error: )?Aborted\b|\bAbort(?:ed \(core dumped\)| trap: 6)|(?<!\d)\d+ Aborted\b"
                   r"|SIGABRT")

# glibc's own message before the abort it calls: its heap checks (malloc/malloc.c's malloc_printerr:
# "double free or corruption (!prev)", "free(): invalid pointer", "malloc(): corrupted top size",
# "munmap_chunk(): invalid pointer", ...) and __fortify_fail's "*** stack smashing detected ***:
# terminated" (older glibc: "*** Error in `python': double free or corruption (!prev): 0x... ***").
# The strings as libc.so.6 holds them; each alternative starts at the line's start with a literal.
GLIBC_ABORT = earliest(r"^(?:\*\*\* Error in `[^`\n]{0,300}': )?(?:(?:free|malloc|realloc|munmap_chunk|mremap_chunk"
                       r"|malloc_consolidate|tcache_thread_shutdown)\(\): [a-z]|double free or corruption \("
                       r"|corrupted (?:double-linked list|size vs\. prev_size)|invalid fastbin entry \(free\))"
                       r"|^\*\*\* (?:stack smashing|buffer overflow) detected \*\*\*")

# The kernel's OOM killer as dmesg prints it (mm/oom_kill.c: __oom_kill_process's "%s: Killed process
# %d (%s) total-vm:...", its message "Out of memory" or "Memory cgroup out of memory"; older kernels'
# "Killed process %d (%s)" alone on the line; dump_oom_summary's "oom-kill:constraint=..."), behind
# dmesg's "[12345.678901] " or -T's "[Sun Mar 30 08:24:00 2025] ": it says why a process got SIGKILL.
KERNEL_OOM = (("Killed process ", re.compile(r"(?:Out of memory|Memory cgroup out of memory): Killed process"
                                              r" \d+ \(|^(?:\[[^\]]{1,40}\] ?)?Killed process \d+ \(")),
              ("oom-kill:constraint=", re.compile(r"oom-kill:constraint=")))
DMESG_STAMP = re.compile(r"^\[[^\]]{1,40}\] ?")


def kernel_oom(lines: Sequence[Line]) -> Optional[Hit]:
    """The kernel's line that it killed a process, else its summary line; without dmesg's stamp."""
    output = output_lines(lines)
    text = joined(output)[0]
    for literal, pattern in KERNEL_OOM:
        if not holds(text, literal):   # the lines holding the literal, the pattern then: one scan of most tails
            continue
        for line in output:
            if literal in line.text and pattern.search(line.text):
                return Hit(line, DMESG_STAMP.sub("", tidy(line.text), count=1))
    return None


def killed(lines: Sequence[Line]) -> Optional[Hit]:
    """The kernel's report of its OOM kill where the output holds it (it says why), else the first
    report of a SIGKILL."""
    return kernel_oom(lines) or earlier(KILLED(lines), KILLED_BY_LIMIT(lines), signal_hit(lines, "SIGKILL"))


GLIBC_LITERALS = ("(): ", "corrupt", "invalid fastbin entry", "*** ")   # one of them in every message

# glibc's assert() (assert/assert.c, __assert_fail_base: "%s%s%s:%u: %s%sAssertion `%s' failed.\n",
# the program's name and ": ", the file, the line, the function and ": ", the expression), then
# abort(): "python: .../aio.cpp:125: int f(long): Assertion `n >= m' failed." The literal found
# first, then the line's end and the ":LINE" before it; never a regex over the line's length.
ASSERT_LITERAL = re.compile(r": Assertion `")
ASSERT_WHERE = re.compile(r":\d{1,9}(?:: |$)")


def glibc_assert(lines: Sequence[Line]) -> Optional[Hit]:
    """The first line of glibc's assert() report: the cause of the abort that follows it."""
    output = output_lines(lines)
    for position in matching(output, ASSERT_LITERAL):
        text = output[position].text.rstrip()
        at = text.find(": Assertion `")
        if text.endswith("' failed.") and text[:1] not in " \t" and ASSERT_WHERE.search(text, 0, at):
            return Hit(output[position], tidy(text))
    return None


# Rust's default allocation error hook (library/std/src/alloc.rs, default_alloc_error_hook: "memory
# allocation of {} bytes failed", then abort(); a program built here with rustc under `ulimit -v`
# prints it so): the host ran out of memory in a Rust library (HF tokenizers, safetensors, polars).
RUST_ALLOC = re.compile(r"^memory allocation of \d{1,20} bytes failed$")
# gperftools' tcmalloc reports every large allocation (src/tcmalloc.cc, ReportLargeAlloc: "tcmalloc:
# large alloc %llu bytes == %p @ " and the stack's addresses); one whose result is NULL, printf's
# "(nil)", failed: the host's memory (or its limit) ran out. Shown without the addresses.
TCMALLOC_FAILED = re.compile(r"tcmalloc: large alloc \d{1,20} bytes == \(nil\)")


def rust_alloc_failed(lines: Sequence[Line]) -> Optional[Hit]:
    """The first report of Rust's or tcmalloc's that an allocation failed: the host ran out of memory."""
    output = output_lines(lines)
    text = joined(output)[0]
    found = []
    if holds(text, "memory allocation of "):
        line = first_line(output, RUST_ALLOC)
        found.append(line and Hit(line, tidy(line.text)))
    if holds(text, "tcmalloc: large alloc "):
        line = first_line(output, TCMALLOC_FAILED)
        found.append(line and Hit(line, TCMALLOC_FAILED.search(line.text).group(0)))
    return earlier(*found)


def aborted(lines: Sequence[Line]) -> Optional[Hit]:
    """glibc's reason for an abort where it printed one (its heap checks, assert()), else the first
    report of the abort."""
    text = joined(output_lines(lines))[0]
    glibc = GLIBC_ABORT(lines) if holds(text, *GLIBC_LITERALS) else None
    glibc = earlier(glibc, glibc_assert(lines) if holds(text, ": Assertion `") else None)
    return glibc or earlier(ABORTED(lines), signal_hit(lines, "SIGABRT"))


# A signal's name in prose ("crashed due to SIGSEGV or other errors") is not a crash: the name
# counts where a report of one puts it. The English words count anywhere (a log line's end,
# a launcher's sentence): no program writes "Segmentation fault" in passing.
CRASH = (r"Segmentation fault|Bus error|Illegal instruction|Floating point exception"
         r"|(?:received|caught|got|signal:?|\*\*\*|\()[ \t]*SIG(?:SEGV|BUS|ILL|FPE)\b"
         r"|\bSIG(?:SEGV|BUS|ILL|FPE)\b\)?[ \t]*(?:received|caught|\(@)")
CRASH_SIGNALS = ("SIGSEGV", "SIGBUS", "SIGILL", "SIGFPE")
SHARED_MEMORY = re.compile(r"shared memory|\bshm\b")
# faulthandler's "Fatal Python error: X" is the interpreter's death whatever X is (a refcount bug's
# "none_dealloc"), but an abort after an exception is the exception's (the generic rules').
FAULTHANDLER = re.compile(r"(?:^|\])Fatal Python error: (?!Aborted\b)(.+)$")
FAULT_THREAD = re.compile(r"^(?:Current thread 0x[0-9a-fA-F]+|Stack) \(most recent call first\):")
FAULT_FRAME = re.compile(r'^\s*File "(.+)", line (\d+) in (.+)$')
CRASH_LINE = re.compile(CRASH)
FAULT_DUMP = 200   # lines a faulthandler dump may take (a thread per line of a big pool, frames)


# torch's DataLoader worker's own handlers (torch/csrc/DataLoader.cpp, run here): "ERROR: Unexpected bus
# error encountered in worker. This might be caused by insufficient shared memory (shm).", "...
# segmentation fault ...", "... floating-point exception ...". The main process's RuntimeError after
# it names the signal and the worker: this counts only where a paste kept nothing else.
WORKER_SIGNAL = earliest(r"^ERROR: Unexpected (?:bus error|segmentation fault|floating-point exception)"
                         r" encountered in worker\.")


def native_crash(lines: Sequence[Line]) -> Optional[Hit]:
    """A segfault and kin: faulthandler's report with the innermost Python frame of the thread
    that crashed ("Current thread", not the first one listed), a shell's line; the DataLoader
    worker's own report where there is none of those."""
    hit = earlier(_crash_line(lines), signal_hit(lines, *CRASH_SIGNALS))
    if hit is None and holds(joined(lines)[0], " encountered in worker."):
        hit = WORKER_SIGNAL(lines)
    if hit is not None and SHARED_MEMORY.search(hit.error):
        # torch's DataLoader: "... is killed by signal: Bus error. It is possible that dataloader's
        # workers are out of shared memory."
        hit = hit._replace(hint=HINT_SHM)
    return hit


def _crash_line(lines: Sequence[Line]) -> Optional[Hit]:
    output = output_lines(lines)
    line = earlier_line(first_line(output, FAULTHANDLER), first_line(output, CRASH_LINE))
    if line is None:
        return None
    fatal = FAULTHANDLER.search(line.text)
    error = tidy(line.text[fatal.start():].lstrip("]")) if fatal else tidy(line.text)
    if fatal:
        position = lines.index(line)
        dump = [after for after in lines[position + 1:position + 1 + FAULT_DUMP]
                if after.rank == line.rank]
        start = next((at for at, after in enumerate(dump) if FAULT_THREAD.match(after.text)), None)
        frame = next((FAULT_FRAME.match(after.text) for after in dump[start + 1:start + 4]
                      if FAULT_FRAME.match(after.text)), None) if start is not None else None
        if frame:
            path, number, function = frame.groups()
            error += f" in {function} ({path}, line {number})"
    return Hit(line, error)


# Launchers' own reports ----------------------------------------------------------------------------

# What a launcher or wrapper says when its child failed, when nothing of the child's own is in the
# tail: Open MPI's (orte/tools/orterun/help-orterun.txt: "exited on signal", the "exited with
# non-zero status" box and its fields, "exiting improperly"; MPI_ABORT), MPICH's Hydra (its "BAD
# TERMINATION" box, "YOUR APPLICATION TERMINATED WITH THE EXIT STRING: Killed (signal 9)",
# "application called MPI_Abort"), DeepSpeed's launcher, torchrun's own line, the SageMaker training
# toolkit, Ray's reports of a dead worker or actor, an IDE's "Process finished with exit code", a
# shell (a command not found, a script it cannot parse), python.
# bash's "%s: command not found" (execute_cmd.c) in the locales whose signal words are known, as
# bash.mo's msgstr has it (Debian's bash 5.2; the line number before it is translated too, and
# differs between versions: "第 10 行：", "行 10:"); dash's "%s: %d: %s: not found" (exec.c's
# "%s: not found" after its script and line; older ones name the script twice).
COMMAND_NOT_FOUND = {"zh_CN": "%s: 未找到命令", "zh_TW": "%s：指令找不到", "ja": "%s: コマンドが見つかりません",
                     "ko": "%s: 명령어를 찾을 수 없음", "de": "%s: Kommando nicht gefunden.",
                     "fr": "%s\xa0: commande introuvable", "es": "%s: orden no encontrada",
                     "ru": "%s: команда не найдена", "pt_BR": "%s: comando não encontrado",
                     "it": "%s: comando non trovato"}
# Other releases' msgstr for it where they differ: bash 5.0's and 5.1's po/zh_CN.po, a full-width colon
# ("%s：未找到命令"; "%s：行 %d: " before it; 4.x and 5.2 have "%s: 未找到命令").
COMMAND_NOT_FOUND_OLDER = ("%s：未找到命令",)
# As the cleaned line ends (an odd space is a space).
NOT_FOUND_WORDS = tuple(printable(words.replace("%s", "")).lstrip()
                        for words in (*COMMAND_NOT_FOUND.values(), *COMMAND_NOT_FOUND_OLDER))
# dash's form; tried only on a line that ends so.
DASH_NOT_FOUND = re.compile(r": \d+: (?:[^:\n]{1,300}: )?[^:\n]{1,300}: not found$")
# Whether a tail holds any of them: a test for each (a search at C speed), apart from
# LAUNCHER_REPORT, whose every position each alternative more would cost.
NOT_FOUND = NOT_FOUND_WORDS + (": not found",)
NOT_FOUND_ASCII = tuple(words for words in NOT_FOUND if words.isascii())   # all an ASCII tail can hold


def _not_found(text: str) -> bool:
    """A shell's complaint that it found no command, in the forms LAUNCHER_REPORT leaves out."""
    return text.endswith(NOT_FOUND_WORDS) or (text.endswith(": not found") and bool(DASH_NOT_FOUND.search(text)))


# Every alternative starts with a literal, and those sharing a first character share a branch: a
# line is skipped at C speed up to the characters that can start one, and each of those tries few.
LAUNCHER_REPORT = re.compile(
    r"noticed that process rank \d+ [^.]{0,300}exited on"          # Open MPI
    r"|ex(?:ited on signal \d+|ited due to process rank \d+"         # Open MPI
    r"|ited with code [1-9]\d*"                                       # docker compose
    r"|its with return code = -?\d+)"                                # DeepSpeed
    r"|detected that one or more processes exited with non-zero"     # Open MPI, Horovod
    r"|MPI_ABORT was invoked on rank|called MPI_Abort\("              # Open MPI, MPICH
    r"|T(?:ERMINATED WITH THE EXIT STRING:"                          # MPICH
    r"|he actor (?:is dead because its \w+(?: process)? has died|died unexpectedly)"     # Ray
    r"|he kernel appears to have died|he Kernel crashed while executing code"   # Jupyter, VS Code
    r"|ERM_[A-Z]+: job killed)"                                       # LSF ("TERM_RUNLIMIT: ...")
    r"|has been marked dead because the detector has missed too many heartbeats"   # Ray's node
    r"|make(?:\[\d+\])?: \*\*\* \[[^\]\n]{0,300}\] Error \d+"             # make
    r"|was unable to find the specified executable"                  # Open MPI
    # Open MPI's boxes for a child it could not exec or start (help-orterun.txt, mpirun 4.1 run here:
    # "... as it could not access or execute an executable:", "... as it encountered an error:").
    r"|mpirun was unable to (?:launch|start) the specified application as it"
    # python -m NAME with no such module (runpy: "%s: %s" % (sys.executable, error), python run here);
    # the name first, then what may not precede it: a branch that starts with a literal keeps re's
    # first-character skip for the whole pattern.
    r"|python(?<=(?<![\w-])python)[\d.]{0,5}: (?:No module named |Error while finding module specification for )"
    r"|There are not enough slots available in the system to satisfy"   # Open MPI (mpirun -np 64)
    r"|BAD TERMINATION OF ONE OF YOUR APPLICATION PROCESSES"         # MPICH
    r"|failed \(exitcode: -?\d+\) local_rank: \d+"                   # torchrun
    # torchrun's agent told to stop (torch/distributed/elastic/agent/server/api.py, run(): a
    # SignalException logged as "Received %s death signal, shutting down workers", the signal's
    # number, or its enum's name on a Python before 3.11; torchrun run here, sent SIGHUP).
    r"|Received (?:\d{1,2}|Signals\.SIG[A-Z]{2,6}) death signal, shutting down workers"
    # Open MPI's report of an MPI call before MPI_Init, then its abort (libmpi 4.1 called so here).
    r"|\*\*\* The \w{1,60}\(\) function was called before MPI_INIT was invoked"
    # Ray's node daemon died (dashboard/agent.py's report_raylet_error_logs: "Raylet is terminated. "
    # then "Termination is unexpected. Possible reasons include: ..." where raylet.out holds no
    # SIGTERM; the driver's worker.py prints it, older ones with "ip=..., id=..." first).
    r"|Raylet is terminated(?:\.|: ip=[\w.:-]{1,60}, id=\w{1,64}\.) Termination is unexpected"
    r"|ExecuteUserScriptError"                                       # SageMaker training toolkit
    r"|P(?:rocess finished with exit code -?[1-9]"                    # PyCharm
    r"|BS: job killed: )"                                             # PBS ("walltime 3611 exceeded ...")
    r"|Your session crashed"                                         # Colab
    # Slurm: the scheduler ended the job ("*** JOB 7 ON node1 CANCELLED AT 2024-01-12T19:26:34 DUE
    # TO TIME LIMIT ***", also PREEMPTION, NODE FAILURE), srun's "task 0: Exited with exit code 1".
    r"|CANCELLED AT \S+ DUE TO|: tasks? [\d,-]+: Exited with exit code \d+"
    r"|A(?: worker died or was killed while executing"                # Ray
    r"|n ORTE daemon has unexpectedly failed after launch)"          # Open MPI (help-errmgr-base.txt)
    # Open MPI's box for daemons it could not start on the other nodes (help-errmgr-base.txt's
    # [failed-daemon-launch]; mpirun 4.1 run here with an rsh agent that fails).
    r"|ORTE was unable to reliably start one or more daemons"
    r"|Workers \(tasks / actors\) killed due to memory pressure"     # Ray
    r"|can't open file '[^']{0,4096}': \[Errno \d+\]"                 # python
    # A shell: a command it cannot find or run, and its parser giving up on a script (bash's parse.y:
    # "syntax error near unexpected token `('", dash's "Syntax error: "(" unexpected"): the
    # script ends there.
    # bash's set -u ("run.sh: line 126: cuda_cmd: unbound variable", subst.c's err_unboundvar): it exits.
    r"|: (?:command not found$|No such file or directory$|Permission denied$|unbound variable$"
    r"|syntax error near unexpected"
    r" token|[Ss]yntax error: |cannot execute binary file|exec format error)")
DAEMONS_NOT_STARTED = re.compile(r"ORTE was unable to reliably start|An ORTE daemon has unexpectedly failed")
STARTUP = re.compile(r"can't open file|command not found|No such file or directory")
# A shell's complaint that a script survives (a missing nvidia-smi on its first line): only when no
# launcher reported anything else; then the last one, closest to the exit it may explain.
COMPLAINT = re.compile(r": (?:command not found|No such file or directory|Permission denied)$")
SIGNAL_NINE = re.compile(r"signal 9\b|return code = -9\b|exitcode: -9\b|\(Killed\)|EXIT CODE: 9\b|SIGNAL: 9\b"
                         r"|memory pressure \(OOM\)|Killed \(signal 9\)|code 137\b")
MPICH_BOX = re.compile(r"^=+\s+")   # the left edge of MPICH's box
# MPICH's "=   EXIT CODE: 9"; Intel MPI's "=   KILLED BY SIGNAL: 9 (Killed)".
MPICH_EXIT = re.compile(r"^=\s+(?:EXIT CODE: -?\d+|KILLED BY SIGNAL: \d+(?: \([^)]{1,40}\))?)\s*$")
# The fields of Open MPI's boxes ("  Process name: [[29973,1],0]", "  Exit code:    1").
REPORT_FIELD = re.compile(r"^\s{0,4}(?:Process name|Exit code|Executable|Node|Error name):\s+\S")
REPORT_LINES = 4     # lines a wrapped report's sentence may run on for


def launcher_report(lines: Sequence[Line]) -> Optional[Hit]:
    """The first launcher's report of a failed child, its sentence whole (a terminal wraps mpirun's)
    with its box's fields; a shell's complaint only when there is nothing else, the last one."""
    complaint = None
    output = output_lines(lines)
    positions: Iterator[int] = matching(output, LAUNCHER_REPORT)
    text = joined(output)[0]
    if holds(text, *(NOT_FOUND_ASCII if text.isascii() else NOT_FOUND)):
        # bash's translated and dash's complaints, which LAUNCHER_REPORT leaves out: in output order.
        positions = heapq.merge(positions, (at for at, line in enumerate(output) if _not_found(line.text)))
    for position in positions:
        line = output[position]
        if COMPLAINT.search(line.text) or _not_found(line.text):
            complaint = line
            continue
        hit = _report(lines, line)
        if complaint is not None and DAEMONS_NOT_STARTED.search(line.text) \
                and line.stream == complaint.stream and line.index - complaint.index <= 3:
            # The launch agent's shell on the node (ssh's) said why the daemon did not start, right
            # before the box's rule.
            return Hit(complaint, f"{_report(lines, complaint).error} ({hit.error})")
        return hit
    return complaint and _report(lines, complaint)


def _report(lines: Sequence[Line], line: Line) -> Hit:
    position = lines.index(line)
    error = MPICH_BOX.sub("", tidy(line.text), count=1)   # "=   BAD TERMINATION ..."
    if error.startswith("BAD TERMINATION"):
        # MPICH Hydra's box: the code the rank exited with is a few lines below, "=   EXIT CODE: 9".
        code = next((after for after in lines[position + 1:position + 1 + REPORT_LINES]
                     if MPICH_EXIT.match(after.text)), None)
        error += f"; {code.text.lstrip('= ')}" if code else ""
        return Hit(line, error, HINT_KILLED if SIGNAL_NINE.search(error) else None)
    if "Raylet is terminated" in error:
        return Hit(line, error)   # the raylet's own log lines follow its colon: not its words
    fields = False
    previous = line
    for after in lines[position + 1:position + 1 + REPORT_LINES + 2]:
        more = after.text.strip()
        if REPORT_FIELD.match(after.text):
            error += ("; " if fields else " ") + tidy(more)
            fields, previous = True, after
            continue
        # A terminal wraps a sentence before a word in lower case, on the next line (never past a
        # blank one: torchrun's "failed (exitcode: -9) ..." then its traceback's "raise ..."); a
        # colon announces the rest. An exception's line (a module's lower-case name first) is a line
        # of its own.
        if fields or not more or not (more[:1].islower() or error.endswith(":")) or NOISE.match(more) \
                or _exception_named(more) or (after.index != previous.index + 1 and not error.endswith(":")):
            break
        error += " " + tidy(more)
        previous = after
    hint = HINT_KILLED if SIGNAL_NINE.search(error) else None
    return Hit(line, error, hint)


# torchrun's summary ------------------------------------------------------------------------------

SUMMARY_TITLE = re.compile(r"^(\S+) FAILED\s*$")   # "train.py FAILED", above Failures and Root Cause
ROOT_CAUSE = re.compile(r"^Root Cause \(first observed failure\):")
RULE = re.compile(r"^={20,}\s*$")
FIELD = re.compile(r"^  (time|host|rank|exitcode|error_file|traceback)\s*: ?(.*)$")
RANKS = re.compile(r"^(\d+) \(local_rank: (\d+)\)")
EXITCODE = re.compile(r"^(-?\d+)(?: \(pid: \d+\))?\s*(?:\((SIG\w+)\))?")
SIGNAL_TRACE = re.compile(r"^Signal \d+ \((SIG\w+)\) received")
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


def torchrun_root_cause(lines: Sequence[Line]) -> Optional[Hit]:
    """The rank torchrun saw fail first, with its own error where the output holds it."""
    cause = read_root_cause(lines)
    if cause is None:
        return None
    how = (f"killed by {cause.signal}" if cause.signal
           else f"exit code {cause.exit_code}" if cause.exit_code else "")
    head = f"rank {cause.rank} failed first" if cause.rank is not None else "a rank failed first"
    head += f" ({how})" if how else ""
    found = _rank_error(cause)
    if _a_consequence(cause, found):
        earlier = _earlier_rank(cause)
        if earlier is not None:
            rank, recogniser, hit = earlier
            named = f"rank {cause.rank}" + (f", {how}" if how else "")
            return Hit(cause.at, f"rank {rank} failed first: {hit.error} (torchrun's summary names"
                                 f" {named}, which died of it)", hit.hint or recogniser.hint)
    if found is None:
        # Nothing of the rank's own: the summary's title names the program, as the summary does
        # ("train.py FAILED"), so that the line says what failed, not only where.
        signal_cause = _recogniser(SIGNAL_CAUSES.get(cause.signal or ""))
        title = f"{cause.script} FAILED: " if cause.script else ""
        return Hit(cause.at, f"{title}{head}, per torchrun's summary", signal_cause and signal_cause.hint)
    recogniser, hit = found
    return Hit(cause.at, f"{head}: {hit.error}", hit.hint or recogniser.hint)


# What a rank dies of when a peer died first: its connection to the peer closed, a collective
# failed or timed out, an abort with no error of its own.
CONSEQUENCE = re.compile(r"Connection (?:closed|reset) by peer|Broken pipe|DistNetworkError|DistBackendError"
                         r"|NCCL|[Ww]atchdog|[Tt]imed out|[Tt]imeout")


def _a_consequence(cause: RootCause, found: Optional[Tuple[Recogniser, Hit]]) -> bool:
    if found is None:
        return cause.signal == "SIGABRT"
    return bool(CONSEQUENCE.search(found[1].error))


def _earlier_rank(cause: RootCause) -> Optional[Tuple[str, Recogniser, Hit]]:
    """Another rank whose own exception, not a consequence, completed in the output before the
    named rank's did: (its rank, the recogniser, its error)."""
    groups = [group for group in by_process(cause.before) if group[0].rank is not None]
    fatal = {group[0].rank: (group, chain) for group in groups for chain in [fatal_traceback(group)] if chain}
    named = fatal.get(cause.rank)
    others = [(group, chain) for rank, (group, chain) in fatal.items() if rank != cause.rank
              and not CONSEQUENCE.search(chain.error) and not _is_wrapper(chain.error)
              and (named is None or chain.final.index < named[1].final.index)]
    if not others:
        return None
    group, chain = min(others, key=lambda item: item[1].final.index)
    for recogniser in RANK_TABLE:
        hit = recogniser.find(group)
        if hit is not None:
            return group[0].rank, recogniser, hit
    return None


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
    code = EXITCODE.match(fields.get("exitcode", ""))
    exit_code, signame = code.groups() if code else (None, None)
    if trace and SIGNAL_TRACE.match(trace[0].text):
        signame = signame or SIGNAL_TRACE.match(trace[0].text).group(1)
        trace = []   # the signal and nothing else
    if not signame and exit_code and exit_code.startswith("-"):
        signame = f"signal {exit_code[1:]}"
    return RootCause(lines[start], *(ranks.groups() if ranks else (None, None)), exit_code, signame,
                     trace, lines[:titles[-1] if titles else start],
                     SUMMARY_TITLE.match(lines[titles[-1]].text).group(1) if titles else None)


def _rank_error(cause: RootCause) -> Optional[Tuple[Recogniser, Hit]]:
    """The failed rank's own error: its error file's traceback, its prefixed lines, its signal's."""
    own = [line for line in cause.before
           if (cause.rank is not None and line.rank == cause.rank)
           or (line.rank is None and cause.local is not None and line.local == cause.local)]
    # A known cause in the rank's own lines beats a plain traceback in its error file.
    for recogniser in RANK_TABLE:
        for source in (cause.trace, own):
            hit = recogniser.find(source)
            if hit is not None:
                return recogniser, hit
    hit = ARGPARSE.find(own)   # argparse stopped the rank before it ran anything (exit code 2)
    if hit is not None:
        return ARGPARSE, hit
    unprefixed = [line for line in cause.before if line.rank is None and line.local is None]
    signal_cause = _recogniser(SIGNAL_CAUSES.get(cause.signal or ""))
    if signal_cause is not None:
        hit = signal_cause.find(unprefixed)
        if hit is not None:
            return signal_cause, hit
    elif not own:
        # Nothing prefixed at all: the rank died before torch could prefix anything (python could
        # not open the script, argparse stopped it: exit code 2), and said so unprefixed.
        hit = ARGPARSE.find(unprefixed)
        if hit is not None:
            return ARGPARSE, hit
        hit = REPORT.find(unprefixed)
        if hit is not None and (STARTUP.search(hit.error) or _not_found(hit.error)):
            return REPORT, hit
    return None


def _recogniser(name: Optional[str]) -> Optional[Recogniser]:
    return next((recogniser for recogniser in RANK_TABLE if recogniser.name == name), None)


# ---------------------------------------------------------------------------------------------
# The table

KNOWN_CAUSES = (
    Recogniser("cuda-oom",
               earliest(r"C(?:UDA (?:out of memory|error: out of memory|failure [^'\n]{0,80}'out of memory')"
                        r"|uda failure [^'\n]{0,80}'out of memory')"
                        r"|RESOURCE_EXHAUSTED: Out of memory|Resource exhausted: (?:OOM|Out\b)"
                        r"|OOM when allocating tensor"),
               HINT_CUDA_OOM),
    Recogniser("disk-full",
               earliest(r"No space left on device|\[Errno 28\]|\bENOSPC\b|Disk quota exceeded"),
               HINT_DISK_FULL),
    Recogniser("native-crash", native_crash, HINT_CRASH),
    # A shell's "Killed" may follow a progress bar left without its newline ("6.17it/s]Killed").
    Recogniser("killed", killed,
               HINT_KILLED),
    Recogniser("host-oom", rust_alloc_failed, HINT_HOST_MEMORY),
    Recogniser("cuda-error", cuda_error, HINT_CUDA),
    Recogniser("nccl", nccl_error, HINT_NCCL),
)

GENERIC = (
    Recogniser("python-traceback", python_traceback),
    Recogniser("cut-traceback", cut_traceback),
    Recogniser("pytest-failure", pytest_failure),
    Recogniser("cxx-exception", cxx_exception),
    Recogniser("fatal-log", fatal_log),
    Recogniser("abort", aborted),
)

REPORT = Recogniser("launcher-report", launcher_report)
ARGPARSE = Recogniser("argparse-error", argparse_error)

# The child's own words first, even as a line alone; then what a launcher says of it.
# The last resort, when nothing above found anything: a runtime's own error-level log line, the first.
# NCCL's warning (src/include/debug.h: WARN() is ncclDebugLog at NCCL_LOG_WARN, "host:pid:tid [dev]
# file.cc:N NCCL WARN msg"; a failure's return then travels up at INFO level, "init.cc:878 -> 2", and
# probes that may fail are downgraded to INFO by ncclDebugNoWarn): the first is where it failed.
# c10's log line at error level (c10/util/logging_is_not_google_glog.h, CAFFE2_SEVERITY_PREFIX "FEWIV":
# "[E socket.cpp:500] [c10d] msg", newer torch with the time, as torch printed it here at INFO level:
# "[I1207 16:21:21.373965645 TCPStoreLibUvBackend.cpp:1266] [c10d] msg"; glog's "E1207 16:21:21.373965
# 12345 file.cc:12] msg"). Sought from a line's start: a newline, the literal, before each try.
# Lua torch's cutorch and PyTorch before 1.0 (THCGeneral's __THCudaCheck: fprintf(stderr, "THCudaCheck
# FAIL file=%s line=%i error=%i : %s\n", ..., cudaGetErrorString(err)), then THError's "cuda runtime
# error (%d) : %s", which PyTorch raises as a RuntimeError and Lua prints as its own error): the CUDA
# error where nothing else says it.
THC_CHECK = re.compile(r"THCudaCheck FAIL file=[^\n]{1,300}? line=\d{1,9} error=\d{1,5} : \S")
RUNTIME_ERROR_LOG = re.compile(r"\n(?:\[E(?:\d{4} [\d:.]{1,40})?|E\d{4} [\d:.]{1,40}) *(?:\d+ )?"
                               r"[\w./-]{1,160}\.(?:cpp|cc|h|hpp|c):\d+\] \S")
# Ray's C++ log line (src/ray/util/logging.cc: spdlog's pattern "[%Y-%m-%d %H:%M:%S,%e %L %P %t] %v",
# %L the level's letter, and RayLog's message starts "file.h:554: "): at error level, E; its stamp
# may be peeled off with the other lines' ("E 177479 178526] file.h:554: msg").
RAY_ERROR_LOG = re.compile(r"\n(?:\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} )?E \d{1,10} \d{1,10}\] "
                           r"[\w./-]{1,160}\.(?:cpp|cc|h|hpp|c):\d{1,7}: \S")


def runtime_error_log(lines: Sequence[Line]) -> Optional[Hit]:
    """The first NCCL warning, cutorch's failed CUDA check or c10's (glog's) error-level line in
    output that holds nothing else."""
    output = output_lines(lines)
    text, starts = joined(output)
    found = []
    if holds(text, "NCCL WARN "):
        line = first_line(output, NCCL_WARN)
        if line is not None:
            found.append(Hit(line, f"NCCL WARN {tidy(NCCL_WARN.search(line.text).group(1))}", HINT_NCCL))
    if holds(text, "THCudaCheck FAIL "):
        line = first_line(output, THC_CHECK)
        if line is not None:
            found.append(Hit(line, tidy(line.text), HINT_CUDA))
    if holds(text, "] "):
        match = RUNTIME_ERROR_LOG.search("\n" + text)
        if match is not None:
            line = output[bisect.bisect_right(starts, match.start()) - 1]
            found.append(Hit(line, tidy(line.text)))
    if holds(text, " E ", "\nE ") or text.startswith("E "):
        match = RAY_ERROR_LOG.search("\n" + text)
        if match is not None:
            line = output[bisect.bisect_right(starts, match.start()) - 1]
            found.append(Hit(line, tidy(line.text)))
    return earlier(*found)


# MPICH's Hydra (src/pm/hydra, HYDU_ERR_POP and the HYDU_ERR_* macros: HYDU_error_printf, which
# prints HYDU_dump_prefix's "[mpiexec@HOST] " or "[proxy:PGID:ID@HOST] ", then "FUNC (FILE:LINE): ",
# then the message): each function on the way back up reports again ("callback returned error
# status", "demux engine error waiting for event"), so the first line is the cause: an execvp that
# failed ("execvp error on file X (No such file or directory)"), "unrecognized argument X". Below the
# launchers' known reports: the cleanup after a rank's death ("assert (!closed) failed") comes before
# MPICH's BAD TERMINATION box.
HYDRA_REPORT = re.compile(r"^\[(?:mpiexec|proxy:\d{1,9}:\d{1,9})@[^\]\s]{1,255}\] \w{1,80}"
                          r" \([^()\s]{1,300}:\d{1,7}\): \S")


def hydra_report(lines: Sequence[Line]) -> Optional[Hit]:
    """The first of MPICH Hydra's error reports (see HYDRA_REPORT)."""
    output = output_lines(lines)
    if not holds(joined(output)[0], "[mpiexec@", "[proxy:"):
        return None
    line = first_line(output, HYDRA_REPORT)
    return None if line is None else Hit(line, tidy(line.text))


LAUNCHERS = (
    ARGPARSE,
    Recogniser("exception-line", bare_exception),
    Recogniser("hydra-error", hydra_error),
    REPORT,
    Recogniser("mpich-hydra", hydra_report),
    Recogniser("wrapper-traceback", wrapper_traceback),
    Recogniser("runtime-error-log", runtime_error_log),
)

RANK_TABLE = KNOWN_CAUSES + GENERIC   # what is looked for in the failed rank's own lines

TABLE = (Recogniser("torchrun-root-cause", torchrun_root_cause),) + RANK_TABLE + LAUNCHERS


# ---------------------------------------------------------------------------------------------
# Diagnosis

def diagnose(stdout_tail: bytes, stderr_tail: bytes) -> Optional[Finding]:
    """The most specific error in the two tails, or None."""
    return _diagnose(clean_lines(stdout_tail), clean_lines(stderr_tail))


def _diagnose(stdout: Sequence[str], stderr: Sequence[str]) -> Optional[Finding]:
    """``diagnose`` of the tails' cleaned lines (``clean_lines``)."""
    # Judging 64 KiB of short lines makes some 100,000 objects (a Line a line, and more), and keeps
    # long lists of them: Python's cyclic collector, run every 700 new objects, goes over those lists
    # again and again (a third of the time, on a word a line). It waits until the answer is found.
    collecting = gc.isenabled()
    gc.disable()
    try:
        streams = list(map(reframed, [lines_of("stderr", stderr), lines_of("stdout", stdout)]))
        _cleaned.update(stderr=stderr, stdout=stdout)
        for recogniser in TABLE:
            for lines in streams:
                hit = recogniser.find(lines)
                if hit is not None:
                    return _finding(recogniser, hit)
        return None
    finally:
        _remembered.clear()   # what was worked out holds the tails' lines: not kept past the answer
        _cleaned.clear()
        if collecting:
            gc.enable()


def find_error(text, stream: str = "stderr") -> Optional[Finding]:
    """The most specific error in one stream's text (str or bytes)."""
    data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else text
    if stream == "stdout":
        return diagnose(data, b"")
    return diagnose(b"", data)


def _finding(recogniser: Recogniser, hit: Hit) -> Finding:
    where = hit.line.stream
    if recogniser.name == "torchrun-root-cause":
        where += " (torchrun summary)"
    elif hit.line.who:
        where += f" [{hit.line.who}]"
    error = hit.error
    if hit.line.who and recogniser.name != "torchrun-root-cause":
        error = f"{hit.line.who}: {error}"
    hint = hit.hint or recogniser.hint or (HINT_HOST_MEMORY if HOST_MEMORY.search(hit.error) else None)
    return Finding(error, hint, where, recogniser.name)


def failure_text(ending: str, stdout_tail: bytes, stderr_tail: bytes, limit: int = LIMIT) -> str:
    """The failure file's text: UTF-8, at most ``limit`` bytes (never a split character).

    1. ``ending``: how the job ended, built by the caller; always kept whole when it fits.
    2. the most specific error found in the tails, with a hint where one helps;
    3. then the last lines of the output, as many as fit (newest last), marked as such.
    """
    ending = printable(ending.encode("utf-8", "replace").decode("utf-8"), keep="\t\n")
    parts = [truncate(ending.strip(), limit)]
    room = limit - _size(parts[0])
    stdout, stderr = clean_lines(stdout_tail), clean_lines(stderr_tail)   # once for both uses
    finding = _diagnose(stdout, stderr)
    if finding is not None:
        error = "\nError: " + elide(finding.error, min(room, ERROR_MAX) - len("\nError: "))
        # Whole (however short: "Killed"), or a few words at least when cut; else nothing.
        if finding.error in error or _size(error) > len("\nError: ") + 8 + len(ELISION.encode()):
            parts.append(error)
            room -= _size(error)
        if finding.hint and _size("\nHint: " + finding.hint) <= room:
            parts.append("\nHint: " + finding.hint)
            room -= _size(parts[-1])
    # Each line shown takes a byte at least (its newline): no more than ``room`` of them fit.
    stream, lines = _last_lines(stdout, stderr, max(room, 1))
    if lines:
        parts.append(_fit_lines(f"\nLast lines of {stream}:", lines, room))
    return "".join(parts)
