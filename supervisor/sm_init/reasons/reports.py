"""The reports of a failed child that are not the child's own words: argparse's error, a
launcher's or a shell's report (``launcher_report``: Open MPI, MPICH, DeepSpeed, torchrun's
agent, Slurm, a shell's "command not found", ...), SageMaker's "FailureReason" printed as JSON,
MPICH Hydra's first error line; and a build's: CMake's first error, a compiler's first error where
a build stopped.

Imports lines, findings, hints, text, matchers, launcher_words, tracebacks.
"""

import heapq
import json
import re
from typing import Iterator, Optional, Sequence

from .lines import joined, Line
from .findings import Hit
from .hints import HINT_KILLED
from .text import NOISE
from .matchers import first_line, holds, matching, tidy
from .launcher_words import (COMPILER_FILE_ERROR, COMPLAINT, DAEMONS_NOT_STARTED, INIT_DETAIL_LINES, INIT_FAILED,
    LAUNCHER_REPORT, MPICH_BOX, MPICH_EXIT, NOT_FOUND, NOT_FOUND_ASCII, OPTION_RUN, _translated_complaint,
    REPORT_FIELD, REPORT_LINES, SIGNAL_NINE)
from .tracebacks import _exception_named, output_lines


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


def launcher_report(lines: Sequence[Line]) -> Optional[Hit]:
    """The first launcher's report of a failed child, its sentence whole (a terminal wraps mpirun's)
    with its box's fields; a shell's complaint only when there is nothing else, the last one."""
    complaint = None
    output = output_lines(lines)
    positions: Iterator[int] = matching(output, LAUNCHER_REPORT)
    text = joined(output)[0]
    if holds(text, *(NOT_FOUND_ASCII if text.isascii() else NOT_FOUND)):
        # bash's translated and dash's complaints, which LAUNCHER_REPORT leaves out: in output order.
        positions = heapq.merge(positions, (at for at, line in enumerate(output)
                                            if _translated_complaint(line.text)))
    for position in positions:
        line = output[position]
        if COMPILER_FILE_ERROR.match(line.text):
            continue   # a build's error, not a launcher's nor a shell's: the build rules' business
        if COMPLAINT.search(line.text) or _translated_complaint(line.text):
            if complaint is None or not OPTION_RUN.search(line.text) or OPTION_RUN.search(complaint.text):
                complaint = line
            continue
        hit = _report(lines, line)
        pdsh = PDSH_REPORT.match(line.text) if line.text.startswith("pdsh@") else None
        ssh = _ssh_error(output, position) if DAEMONS_NOT_STARTED.search(line.text) \
            else _ssh_error(output, position, pdsh.group(1) + ": ") if pdsh else None
        if ssh is not None:
            # ssh, the launch agent, said why the daemon did not start, right before the box's rule:
            # its words alone say it (the box, a consequence, is in the last lines).
            return Hit(ssh, tidy(ssh.text))
        if complaint is not None and DAEMONS_NOT_STARTED.search(line.text) \
                and line.stream == complaint.stream and line.index - complaint.index <= 3:
            # The launch agent's shell on the node (ssh's) said why the daemon did not start, right
            # before the box's rule.
            return Hit(complaint, f"{_report(lines, complaint).error} ({hit.error})")
        if complaint is not None and line.stream == complaint.stream and line.index - complaint.index <= 2 \
                and MAKE_NOT_RUN.search(line.text):
            # make's "Error 127" (126) is only the exit status of a recipe's command that could not
            # be found (run): the report right above it, the shell's or make's own, says which.
            return Hit(complaint, tidy(complaint.text))
        return hit
    return complaint and _report(lines, complaint)


# ssh's own errors (OpenSSH 9 run here against a closed port on loopback: "ssh: connect to host
# 127.0.0.2 port 1: Connection refused"; ssh.c's "ssh: Could not resolve hostname %s: %s",
# sshconnect.c's "Host key verification failed.", its "Permission denied (publickey,password)." and
# "user@host: Permission denied (...)"), the lines Open MPI's rsh agent passes on before its box.
SSH_ERROR = re.compile(r"^(?:ssh: (?:Could not resolve hostname |connect to host |Could not )"
                       r"|Host key verification failed\.$|(?:\S{1,200}@\S{1,200}: )?Permission denied \()")
SSH_LINES = 3   # lines above the box's first that the agent's output may take (its rule, a blank)
# pdsh's report of a node's remote command (pdsh's "%p: %S: %s exited with exit code %d"): ssh's own
# error for that node is above it, behind pdsh's "NODE: " (DeepSpeed's runner, ssh to localhost
# without a key: "localhost: user@localhost: Permission denied (publickey,password).").
PDSH_REPORT = re.compile(r"^pdsh@[\w.-]{1,200}: ([\w.-]{1,200}): \w{1,20} exited with exit code [1-9]")


def _ssh_error(output: Sequence[Line], position: int, node: str = "") -> Optional[Line]:
    """ssh's error in the few lines above ``position`` (a box of daemons not started, pdsh's report),
    its stream's; behind ``node`` (pdsh's prefix of that node's lines) where one is given."""
    box = output[position]
    for above in reversed(output[max(position - SSH_LINES, 0):position]):
        if above.stream == box.stream and box.index - above.index <= SSH_LINES and above.text.startswith(node) \
                and SSH_ERROR.match(above.text[len(node):]):
            return above
    return None


FLYTE_NO_MESSAGE = ". Message: ."
# GNU make's report of a recipe that failed (job.c, child_error: "%s[%s: %s] Error %d%s"), its
# status the one a shell exits with when it cannot find a command (127) or run it (126). make runs a
# recipe line through /bin/sh -c, or execs it itself where the line needs no shell; either prints
# its report of the command first (make 4.3 and dash run here: "/bin/sh: 1: /bin/nvcc: not found",
# or with bash "/bin/bash: line 1: ...: No such file or directory"; make's own "make: nvcc: No such
# file or directory", "make: ./run: Permission denied"), then make's line, "Error 127".
MAKE_NOT_RUN = re.compile(r"^make(?:\[\d+\])?: \*\*\* \[[^\]\n]{0,300}\] Error 12[67]$")


def _init_failed(below: Sequence[Line], name: str) -> str:
    """Open MPI's box for a start-up that failed (INIT_FAILED): "NAME failed" and the call that failed,
    the indented lines below its "developer):" up to the box's rule."""
    error = f"{name} failed"
    detail = []
    for at, line in enumerate(below):
        if line.text.rstrip().endswith("developer):"):
            for after in below[at + 1:at + 3]:
                if not after.text.startswith(" ") or after.text.startswith("---"):
                    break
                detail.append(tidy(after.text))
            break
    return error + (": " + " ".join(detail) if detail else "")


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
    if error.startswith("{"):
        message = _event_message(error)
        if message is not None:
            return Hit(line, message, HINT_KILLED if SIGNAL_NINE.search(message) else None)
    init = INIT_FAILED.search(error)
    if init:
        return Hit(line, _init_failed(lines[position + 1:position + 1 + INIT_DETAIL_LINES], init.group(1)))
    fields = False
    previous = line
    following = lines[position + 1:position + 1 + REPORT_LINES + 2]
    for at, after in enumerate(following):
        more = after.text.strip()
        if REPORT_FIELD.match(after.text):
            error += ("; " if fields else " ") + tidy(more)
            fields, previous = True, after
            continue
        # A terminal wraps a sentence before a word in lower case, on the next line (never past a
        # blank one: torchrun's "failed (exitcode: -9) ..." then its traceback's "raise ..."); a
        # colon announces the rest. An exception's line (a module's lower-case name first) is a line
        # of its own, and so is another report.
        if fields or not more or not (more[:1].islower() or error.endswith(":")) or NOISE.match(more) \
                or _exception_named(more) or (after.index != previous.index + 1 and not error.endswith(":")) \
                or (LAUNCHER_REPORT.search(more) and not error.endswith(":")) \
                or PROMPT.match(more):   # another report ("srun: ..."), the shell's prompt after the output
            break
        end = SENTENCE_END.search(more)
        if end is not None and not (at + 1 < len(following) and REPORT_FIELD.match(following[at + 1].text)):
            # The report's sentence ends there, and what follows explains it (Open MPI's box: "There are
            # three reasons this could occur: 1. ..."), unless the box's fields follow ("Exit code: 1").
            error += " " + tidy(more[:end.start() + 1])
            break
        error += " " + tidy(more)
        previous = after
    if error.endswith(FLYTE_NO_MESSAGE):
        error = error[:-len(FLYTE_NO_MESSAGE) + 1]   # Flyte's report of a container that left no message
    hint = HINT_KILLED if SIGNAL_NINE.search(error) else None
    return Hit(line, error, hint)


# A shell's prompt (bash's default "user@host:path#" or "$"), pasted after the output.
PROMPT = re.compile(r"^[\w.-]{1,64}@[\w.-]{1,253}:\S{0,400}[#$](?: |$)")
# A sentence ends inside a wrapped line, and another begins.
SENTENCE_END = re.compile(r"\.\s+(?=[A-Z])")


def _event_message(text: str) -> Optional[str]:
    """The "message" of a structured log event printed as one JSON object (Ray's GCS events:
    {"label":"RAY_NODE_REMOVED","message":"The node ... has been marked dead ...",...}), or None."""
    try:
        event = json.loads(text)
    except ValueError:
        return None
    message = event.get("message") if isinstance(event, dict) else None
    if not isinstance(message, str) or not message.strip():
        return None
    message = " ".join(message.split())
    report = LAUNCHER_REPORT.search(message)
    end = SENTENCE_END.search(message, report.end()) if report else None
    return tidy(message[:end.start() + 1] if end else message)   # the report's sentence: the rest explains it


# CMake's configure step that failed: cmake prints each error as "CMake Error at FILE:LINE (COMMAND):"
# with its message indented below it, goes on configuring, then ends with "-- Configuring incomplete,
# errors occurred!" (cmake 3.25 run here). A traceback printed before that came from a probe cmake ran
# and outlived (execute_process(COMMAND python -c "import mxnet") for an optional framework): the
# first CMake error is what failed.
CMAKE_INCOMPLETE = "-- Configuring incomplete, errors occurred!"
CMAKE_ERROR = re.compile(r"^(\s*)CMake Error at [^\n]{1,400}:\d{1,7} \(\w{1,100}\):$")


def cmake_error(lines: Sequence[Line]) -> Optional[Hit]:
    """The first CMake error of a configure step that says it did not complete, with its message."""
    text = joined(lines)[0]
    if CMAKE_INCOMPLETE not in text or "CMake Error at " not in text:
        return None
    for position, line in enumerate(lines):
        found = "CMake Error at " in line.text and CMAKE_ERROR.match(line.text)
        if found:
            error, indent, previous = line.text.strip(), len(found.group(1)), line
            for after in lines[position + 1:position + 1 + REPORT_LINES]:
                if after.index != previous.index + 1 or len(after.text) - len(after.text.lstrip()) <= indent:
                    break
                error += " " + after.text.strip()
                previous = after
            return Hit(line, tidy(error))
    return None


# A build that stopped on a compiler's error: ninja's "ninja: build stopped: subcommand failed." (ninja
# 1.11 run here), make's "make: *** [Makefile:12: all] Error 1" (GNU make 4.3), setuptools'
# "error: command '/usr/bin/gcc' failed with exit code 1" (84 run here: "error: Command '['gcc', ...]'
# returned non-zero exit status 1."). What failed is the compiler's first error
# above it, in the compiler's words (each run here): gcc's and clang's "FILE:LINE:COL: error: msg"
# ("fatal error:" too), nvcc's front end's "FILE(LINE): error: msg", nvcc's driver's "nvcc fatal   :
# msg", the linker's "FILE:(.text+0x5): undefined reference to `f'" and "ld: cannot find -lx". Over the
# wrapper a build in Python raises (torch.utils.cpp_extension's CalledProcessError of ninja, its
# RuntimeError "Error building extension 'x': [1/2] c++ ...", which holds ninja's output in newer
# torch), unless another exception came after the build stopped: the job went on, and died of that.
BUILD_STOPPED = re.compile(r"^(?:ninja: build stopped: subcommand failed\.|g?make(?:\[\d+\])?: \*\*\* \[[^\]\n]{0,300}\]"
                           r" Error \d+|error: command '[^'\n]{1,300}' failed with exit (?:code|status) \d+"
                           r"|error: Command '\[[^\n]{1,8000}\]' returned non-zero exit status \d+)")
COMPILER_ERROR = re.compile(r"^(?:\S[^\n]{0,300}?:\d{1,7}(?::\d{1,7})?: (?:fatal )?error: \S"
                            r"|\S[^\n]{0,300}?\(\d{1,7}\): (?:catastrophic )?error: \S"
                            r"|nvcc fatal\s*: \S|[\w.+-]{1,40}: fatal error: \S"
                            r"|\S[^\n]{0,300}?: undefined reference to |(?:\S{0,300}/)?ld(?:\.\w+)?: cannot find )")
# A build's own wrapper: the exception a build in Python raises for it, naming the tool.
BUILD_WRAPPER = re.compile(r"\bninja\b|\bmake\b|Error building extension|failed with exit (?:code|status)")
EXCEPTION_LINE = re.compile(r"^(?:[A-Za-z_]\w*\.)*_?[A-Z]\w*(?:Error|Exception)(?::|$)")


def build_error(lines: Sequence[Line]) -> Optional[Hit]:
    """A build's first compiler error above where the build said it stopped (its last stop), when
    no exception but the build's wrapper came after that."""
    output = output_lines(lines)
    if not holds(joined(output)[0], "ninja: build stopped", "*** [", "error: command '", "error: Command '"):
        return None
    stops = list(matching(output, BUILD_STOPPED))
    if not stops:
        return None
    stop = stops[-1]
    if any(EXCEPTION_LINE.match(line.text) and not BUILD_WRAPPER.search(line.text) for line in output[stop + 1:]):
        return None
    start = stops[-2] + 1 if len(stops) > 1 else 0
    line = first_line(output[start:stop], COMPILER_ERROR)
    return None if line is None else Hit(line, tidy(line.text))


# SageMaker's own reason for a failed job (botocore's data/sagemaker/2017-07-24/service-2.json:
# DescribeTrainingJobResponse's FailureReason, "If the training job failed, the reason it failed", a
# string of at most 1024 characters; DescribeProcessingJob's and DescribeTransformJob's alike) as
# JSON prints it one member a line (the AWS CLI's describe-training-job, a Step Functions state's
# output, json.dumps(indent=4)): only a line that holds that key and a JSON string, nothing else.
FAILURE_REASON_JSON = re.compile(r'^\s{0,40}"FailureReason": ("(?:[^"\\\n]|\\.){1,2048}"),?$')


def failure_reason_json(lines: Sequence[Line]) -> Optional[Hit]:
    """The first "FailureReason" member of a SageMaker Describe* response printed as JSON."""
    output = output_lines(lines)
    if not holds(joined(output)[0], '"FailureReason": "'):
        return None
    for position in matching(output, FAILURE_REASON_JSON):
        try:
            reason = json.loads(FAILURE_REASON_JSON.match(output[position].text).group(1))
        except ValueError:
            continue
        if reason.strip():
            return Hit(output[position], "FailureReason: " + " ".join(reason.split()))   # its newlines too
    return None


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
