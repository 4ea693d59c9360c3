"""Native code's last words: a C++ exception that ended the process (``terminate called ...
what(): ...``), a fatal log line (glog's ``F``, "Check failed", Rust's panic), and the last
resort: a runtime's own error-level log line (NCCL's WARN, c10's and glog's ``E``, Ray's C++
log, Lua torch's THCudaCheck and THError, UCX's and Open MPI's UCX layer's), then after all of
them Python logging's default line at an error level (``logged_error``).

Imports lines, findings, hints, matchers, tracebacks, causes.
"""

import bisect
import re
from typing import Optional, Sequence

from .lines import joined, Line
from .findings import Hit
from .hints import HINT_CUDA, HINT_NCCL
from .matchers import first_line, holds, matching, tidy, WHAT
from .tracebacks import output_lines
from .causes import earlier, earlier_line, earliest, NCCL_WARN


# C++ exceptions, fatal log lines ------------------------------------------------------------------

# The closing quote may be lost (a paste, a line cut): the type still ends at the first space.
TERMINATE = re.compile(r"terminate called after throwing an instance of '([^'\s]+)'?")
WHAT_DISTANCE = 12   # lines between "terminate called" and its what(): a terminal may wrap the first


# libstdc++'s __cxa_pure_virtual (libsupc++/pure.cc) writes "pure virtual method called" and calls
# std::terminate (whose handler then says "terminate called without an active exception"): the cause.
PURE_VIRTUAL = earliest(r"^pure virtual method called$")
# The same handler (libsupc++/vterminate.cc, __verbose_terminate_handler) where no exception is
# active (std::terminate called directly, a joinable std::thread destroyed, a rethrow with none):
# "terminate called without an active exception", then abort(); no what() follows. Where it
# recursed, "terminate called recursively". No reason of its own: a consequence of anything found
# before the launchers' reports (an exception's line alone above it), but the process's own end
# over a launcher's wrapper after it, which only reports its exit.
bare_terminate = earliest(r"^terminate called (?:without an active exception|recursively)$")


# MPI's start-up that failed, as MPICH and Intel MPI report it (src/mpi/errhan/errutil.c: "Fatal
# error in %s: %s, error stack:" then a line a call, "FUNC(LINE)....: msg", the innermost last;
# Intel MPI puts "Abort(N) on node 0 (rank 0 in comm 0): " before it), for MPI_Init or
# MPI_Init_thread (PMPI_ when a profiling layer is there): nothing ran before it, and what crashed
# after it is its abort path. The head with the innermost message that says more than its class.
MPI_INIT_FATAL = re.compile(r"Fatal error in P?MPI_Init(?:_thread)?: ([^,\n]{1,200}), error stack:$")
MPI_STACK = re.compile(r"^(?:\w{1,100}|\(unknown\))\(\d{0,7}\)\.*: ?(.*)$")
MPI_STACK_LINES = 40


def mpi_init_error(lines: Sequence[Line]) -> Optional[Hit]:
    """The first report of MPI's start-up that failed: "Fatal error in MPI_Init: class", with the
    innermost message of its error stack where that says more."""
    output = output_lines(lines)
    if not holds(joined(output)[0], "Fatal error in "):
        return None
    for position in matching(output, MPI_INIT_FATAL):
        line = output[position]
        match = MPI_INIT_FATAL.search(line.text)
        error = line.text[line.text.index("Fatal error in "):match.end()].removesuffix(", error stack:")
        inner = None
        for below in output[position + 1:position + 1 + MPI_STACK_LINES]:
            frame = MPI_STACK.match(below.text)
            if frame is None:
                break
            inner = frame.group(1).strip() or inner
        if inner and inner != match.group(1):
            error += ": " + inner
        return Hit(line, tidy(error))
    return None


# libc++'s (LLVM's, macOS's) terminate handler (libcxxabi/src/cxa_default_handlers.cpp,
# demangling_terminate_handler: abort_message("terminating due to %s exception of type %s: %s",
# "uncaught" or "unexpected", the type, what()), older releases "terminating with ..."; abort_message
# puts "libc++abi: " before it, macOS's older "libc++abi.dylib: "): the type and its what().
LIBCXXABI = re.compile(r"^libc\+\+abi(?:\.dylib)?: terminating (?:due to|with) (?:uncaught|unexpected) exception"
                       r" of type ([^\n]{1,300}?)(?:: (.+))?$")


def cxx_exception(lines: Sequence[Line]) -> Optional[Hit]:
    return earlier(_terminate(lines), PURE_VIRTUAL(lines), _libcxxabi(lines))


def _libcxxabi(lines: Sequence[Line]) -> Optional[Hit]:
    if not holds(joined(lines)[0], "libc++abi"):
        return None
    line = first_line(lines, LIBCXXABI)
    if line is None:
        return None
    kind, what = LIBCXXABI.match(line.text).groups()
    return Hit(line, tidy(f"{kind}: {what}" if what else kind))


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
# Google Highway's HWY_ABORT and HWY_ASSERT (hwy/abort.cc, Abort: "Abort at %s:%d: %s\n", then abort();
# gemma.cpp's, JPEG XL's and others' checks), and projects that copied it: the reason for the abort.
HWY_ABORT = re.compile(r"^Abort at [^\n:]{1,300}:\d{1,7}: \S")
# glog's (absl's) whole FATAL header, its date, time, thread and file:line, where a progress line
# printed without its newline (Keras's "23/72 ━━━━ 2s 56ms/step - loss: 1.36") stands before it:
# found anywhere on its line.
FATAL_GLUED = re.compile(r"F\d{4} [\d:.]{8,40} +\d{1,10} [\w./-]{1,160}\.(?:cc|cpp|h|hpp):\d{1,7}\] \S")
# Ray's C++ log line at its fatal level (RAY_LOG(FATAL), RAY_CHECK: spdlog's critical, "C"; the
# pattern as RAY_ERROR_LOG's below): the raylet's or the GCS's last words before its stack trace.
RAY_FATAL_LOG = re.compile(r"^(?:\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} )?C \d{1,10} \d{1,10}\] "
                           r"(?:\([\w.-]{1,80}\) )?[\w./-]{1,160}\.(?:cpp|cc|h|hpp|c):\d{1,7}: \S")


# XLA's advice after ptxas's failure (nvptx_compiler.cc: "ptxas returned an error during compilation of
# ptx to sass: '%s'  If the error message indicates that a file could not be written, please verify
# that sufficient filesystem space is provided."): the status before it says what failed.
PTXAS_ADVICE = ("If the error message indicates that a file could not be written, please verify that sufficient"
                " filesystem space is provided.")
# TensorFlow's, XLA's and TSL's TF_CHECK_OK that failed: LOG(FATAL) of "Non-OK-status: EXPR status: MSG"
# (TfCheckOpHelperOutOfLine), newer TSL with "\nStatus: MSG": the status is on the next line, and it
# is what says why.
NON_OK_STATUS = re.compile(r"Non-OK-status: [^\n]{1,300}$")
STATUS_BELOW = "Status: "


def fatal_log(lines: Sequence[Line]) -> Optional[Hit]:
    output = output_lines(lines)
    text = joined(output)[0]
    line = earlier_line(first_line(output, FATAL_LOG), first_line(output, RUST_PANIC),
                        first_line(output, HWY_ABORT) if holds(text, "Abort at ") else None,
                        first_line(output, RAY_FATAL_LOG) if holds(text, " C ", "\nC ") or text.startswith("C ") else None,
                        first_line(output, FATAL_GLUED))
    if line is None:
        return None
    error = tidy(ray_message(line.text))
    if error.endswith(PTXAS_ADVICE):
        error = error[:-len(PTXAS_ADVICE)].rstrip()
    if NON_OK_STATUS.search(error) and " status: " not in error:
        below = next((other for other in output if other.index > line.index), None)
        if below is not None and below.text.startswith(STATUS_BELOW) and below.text[len(STATUS_BELOW):].strip():
            error += " status: " + tidy(below.text[len(STATUS_BELOW):])
    return Hit(line, error)


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
# THError's message itself ("cuda runtime error (%d) : %s", TH/THGeneral.c's _THError adding " at
# %s:%d"), which Lua's interpreter prints as its own uncaught error (lua.c's l_message: "luajit:
# init.lua:383: cuda runtime error (35) : msg at .../THCGeneral.c:16", then "stack traceback:"); in
# PyTorch before 1.0 a RuntimeError's message, which a traceback's rule reads first.
THC_ERROR = re.compile(r"cuda runtime error \(\d{1,5}\) : \S")
# UCX's own log line at error level (ucs/debug/log.c: "[%lu.%06lu] [%s:%-5d:%d] %16s:%-4u %-4s %-5s
# msg", the time, host:pid:thread, file:line, "UCX", the level) and Open MPI's UCX layer's
# (opal/mca/common/ucx: MCA_COMMON_UCX_ERROR, opal_output's "[host:pid] " then "FILE:LINE", two
# spaces in newer ones, "Error: msg"), printed before MPI's MPI_ERRORS_ARE_FATAL box: shown from the
# file on.
UCX_ERROR = re.compile(r"^\[\d{1,12}\.\d{1,9}\] \[[^\]\n]{1,200}\] {0,40}([\w./-]{1,160}:\d{1,6} {1,4}"
                       r"UCX {1,4}ERROR {1,8}\S.*)"
                       r"|^\[[\w.-]{1,200}:\d{1,7}\] ([\w-]{1,80}\.c:\d{1,6} {1,2}Error: \S.*)", re.M)
RUNTIME_ERROR_LOG = re.compile(r"\n(?:\[E(?:\d{4} [\d:.]{1,40})?|E\d{4} [\d:.]{1,40}"
                               # TensorFlow's and XLA's own (its logging.cc: "%Y-%m-%d %H:%M:%S.%f: E
                               # file.cc:352] msg", the level's letter without glog's digits)
                               r"|(?:\d{4}-\d\d-\d\d [\d:.]{1,20}: )?E(?= )) *(?:\d+ )?"
                               r"[\w./-]{1,160}\.(?:cpp|cc|h|hpp|c):\d+\] \S")
# Ray's C++ log line (src/ray/util/logging.cc: spdlog's pattern "[%Y-%m-%d %H:%M:%S,%e %L %P %t] %v",
# %L the level's letter, and RayLog's message starts "file.h:554: "; on the console and in the driver's
# stderr, the pattern "[%Y-%m-%d %H:%M:%S,%e %L %P %t] (" + app_name_without_path + ") %v", the
# component the file name of the program, "(raylet)", "(gcs_server)"): at error level, E; its stamp may
# be peeled off with the other lines' ("E 177479 178526] file.h:554: msg").
RAY_ERROR_LOG = re.compile(r"\n(?:\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} )?E \d{1,10} \d{1,10}\] "
                           r"(?:\([\w.-]{1,80}\) )?[\w./-]{1,160}\.(?:cpp|cc|h|hpp|c):\d{1,7}: \S")
# What the Error line shows of such a line (any level: RAY_CHECK's fatal one too, logging.h's
# RAY_LOG(FATAL) << " Check failed: " #condition, spdlog's "C"): the component and the message,
# without the stamp, the level and the ids ("raylet: file.h:533: msg").
RAY_HEADER = re.compile(r"(?:\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} )?[A-Z] \d{1,10} \d{1,10}\] "
                        r"(?:\(([\w.-]{1,80})\) )?(?=[\w./-]{1,160}\.(?:cpp|cc|h|hpp|c):\d{1,7}:  ?\S)")


def ray_message(text: str) -> str:
    """``text`` without the header of Ray's C++ log line it starts with (RAY_HEADER), if it does."""
    if text[1:2] != " " and text[:1] != "[":
        return text
    header = RAY_HEADER.match(text)
    if header is None:
        return text
    return (f"{header.group(1)}: " if header.group(1) else "") + text[header.end():]


def runtime_error_log(lines: Sequence[Line]) -> Optional[Hit]:
    """The first NCCL warning, cutorch's failed CUDA check or its error, UCX's error or c10's
    (glog's) error-level line in output that holds nothing else."""
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
    if holds(text, "cuda runtime error ("):
        line = first_line(output, THC_ERROR)
        if line is not None:
            found.append(Hit(line, tidy(line.text), HINT_CUDA))
    found.append(_ucx_error(output, text))
    if holds(text, HOROVOD_STALL_WORDS):
        line = first_line(output, HOROVOD_STALL)
        if line is not None:
            found.append(Hit(line, HOROVOD_STALL.search(line.text).group(0)))
    if holds(text, "] "):
        match = RUNTIME_ERROR_LOG.search("\n" + text)
        if match is not None:
            line = output[bisect.bisect_right(starts, match.start()) - 1]
            found.append(Hit(line, tidy(line.text)))
    if holds(text, " E ", "\nE ") or text.startswith("E "):
        match = RAY_ERROR_LOG.search("\n" + text)
        if match is not None:
            line = output[bisect.bisect_right(starts, match.start()) - 1]
            found.append(Hit(line, tidy(ray_message(line.text))))
    return earlier(*found)


# Open MPI's report, in a rank's own output, of an MPI error its error handler makes fatal
# (ompi/errhandler/errhandler_predefined.c: "[host:pid] *** An error occurred in X", "*** reported by
# process [...]", "*** on communicator ...", the error class, "*** MPI_ERRORS_ARE_FATAL (processes in
# this communicator will now abort,"): it says only where. The component that failed logged why
# above it, the first of its lines the first failure: the TCP BTL's BTL_ERROR
# (opal/mca/btl/base/btl_base_error.h: "[%s]%s[%s:%d:%s] " of the node, OMPI_NAME_PRINT's
# "[[job,vpid],rank]", the file, line and function, then the message) or UCX's (UCX_ERROR). Shown
# from the file on, as UCX's.
MPI_FATAL = re.compile(r"\*\*\* An error occurred in ")
BTL_ERROR = re.compile(r"^\[[\w.-]{1,200}\]\[\[\d{1,10},\d{1,10}\],\d{1,10}\]\[([\w./-]{1,160}\.c:\d{1,6}):\w{1,120}\] (\S.*)")


def mpi_fatal_error(lines: Sequence[Line]) -> Optional[Hit]:
    """The first error line of an MPI component before the first report of an MPI error made
    fatal, or None."""
    output = output_lines(lines)
    text = joined(output)[0]
    if not holds(text, "*** An error occurred in "):
        return None
    report = first_line(output, MPI_FATAL)
    found = []
    if holds(text, "]["):
        line = first_line(output, BTL_ERROR)
        if line is not None:
            btl = BTL_ERROR.match(line.text)
            found.append(Hit(line, tidy(f"{btl.group(1)}: {btl.group(2)}")))
    found.append(_ucx_error(output, text))
    hit = earlier(*found)
    return hit if hit is not None and hit.line.index < report.index else None


# Horovod's stall inspector (horovod/common/stall_inspector.cc, older operations.cc: "One or more
# tensors were submitted to be reduced, gathered or broadcasted by subset of ranks and are waiting
# for remainder of ranks for more than %d seconds. ...", at warning level): a hang, the job's only
# report of it. Its first sentence.
HOROVOD_STALL_WORDS = "One or more tensors were submitted to be "
HOROVOD_STALL = re.compile(r"One or more tensors were submitted to be [\w, ]{1,80} by (?:a )?subset of ranks and"
                           r" are waiting for (?:the )?remainder of ranks for more than \d{1,9} seconds\.")


def _ucx_error(output: Sequence[Line], text: str) -> Optional[Hit]:
    """UCX's first error line (UCX_ERROR) in ``output`` (``text``, joined), from the file on."""
    if not holds(text, "UCX  ERROR ", " Error: "):
        return None
    line = first_line(output, UCX_ERROR)
    if line is None:
        return None
    match = UCX_ERROR.search(line.text)
    return Hit(line, tidy(match.group(1) or match.group(2)))


# Python logging's default line (Lib/logging/__init__.py: BASIC_FORMAT "%(levelname)s:%(name)s:%(message)s",
# what logging.basicConfig() sets and logging.error() without a handler uses: "ERROR:root:msg",
# "CRITICAL:oasislmf.model:msg", python run here) at an error level: a program that logged why it
# stopped and exited. The logger's name is a dotted one; pip's "ERROR: msg" has a space, no name.
BASIC_LOGGED = re.compile(r"^(?:ERROR|CRITICAL):[\w.-]{1,200}:(?=\s*\S)", re.M)


def logged_error(lines: Sequence[Line]) -> Optional[Hit]:
    """The first error logged in logging's default format, in output that holds nothing else: its
    message."""
    output = output_lines(lines)
    if not holds(joined(output)[0], "ERROR:", "CRITICAL:"):
        return None
    line = first_line(output, BASIC_LOGGED)
    if line is None:
        return None
    return Hit(line, tidy(line.text[BASIC_LOGGED.match(line.text).end():]))
