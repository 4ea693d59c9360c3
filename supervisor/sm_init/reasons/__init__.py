"""Why a job failed, in the trainer's own words: the failure file's text from the tails of its output.

Pure: bytes in, text out; no I/O, no clock. Imported only when a job fails.

The text (UTF-8, at most ``limit`` bytes, never a split character) has three parts, most important
first: how the job ended (built by the caller, kept whole when it fits), the most specific error
found in the tails with a hint where one helps, then the last lines of the output, newest last.

Finding the error. The tails are cleaned (invalid UTF-8 replaced, ANSI colours dropped, a ``\\r``
progress bar reduced to what a terminal would last have shown), each line's prefixes are peeled off
(``[rank1]:`` from torch.distributed, ``[default1]:`` from torchrun --tee, ``[1,0]<stderr>:`` from
mpirun --tag-output, horovodrun's ``[1]<stderr>:`` with its ``time.asctime()`` stamp glued before it
where it has one, Ray's ``(RayWorkerVllm pid=5304)``, ``(pid=2580)`` and a daemon's
``(pid=runtime_env, ip=192.168.1.100)``, Lightning's ``[rank: 0]``, Slurm's ``srun --label``
``0:``, kubectl's ``[pod/trainer-0/pytorch]``, Determined's
``[2021-12-07T10:43:01Z] 087c0ee7 [rank=1] || `` (its web UI's copy ``<info>    [...] 087c0ee7 || ``
too), docker compose's
``scalellm  | `` where it is surely compose's; a logger's header
repeated on each line, vLLM's ``ERROR 01-29 07:44:33 worker_base.py:467]``, absl's (Python's)
``I1213 13:02:06.025453 140646328219456 run_docker.py:222]``; the stamp a log service
puts before every line, CloudWatch's, ``docker logs -t``'s, BuildKit's ``#8 12.34 ``, syslog's ``Jan  5 19:26:34 host
prog[7]:``, a logger's ``[2024-01-01 12:00:00,123] [INFO]``, with the indentation a console's column
added to all of them) so that interleaved processes can be told apart, blank lines are dropped (a
gap in the line numbers remembers them), a progress bar left without its newline is peeled off what
was printed after it (and so is the SageMaker SDK's status line with its dots, "2024-05-14 12:57:17
Training - Training in progress..", which logs_for_job prints without one), a paste's markdown
is taken off (a block quote's ``> `` where every line has it, ``**Killed**``'s bold around a whole
line), and the recognisers in ``TABLE`` run in order; the first that finds something wins.
The order is the precedence:

1. torchrun's ``ChildFailedError`` summary: the rank it saw fail first ("Root Cause"), its exit
   code or signal, and its own error: the rest of the table run over the summary's traceback (the
   rank's error file, with ``@record``) and the rank's prefixed lines, a known cause in either
   first; for a rank that printed nothing prefixed (killed by SIGSEGV or SIGKILL, or a python that
   could not open the script), the unprefixed report of that (faulthandler's, a shell's, python's);
   with none, the summary's own words: the program its title names ("train.py FAILED"), the rank,
   its end as the summary says it ("exitcode 1", "exitcode -6, Signal 6 (SIGABRT)", the signal named
   from the exit code where the field that names it was cut off), or, where the root cause's fields
   were cut off altogether, the first other failure it lists ("rank 1: exitcode -7, Signal 7
   (SIGBUS)").
   It beats everything else: the other ranks' errors (a peer's NCCL timeout, gloo's "Connection
   closed by peer") are consequences, and the agent's own traceback says only that a child failed.
   Unless the rank it names died of such a consequence itself (a peer's connection closed, a
   SIGABRT with no error of its own) while another rank's own exception came first in the output:
   that rank is the one (accelerate over torchrun, whose ranks exit at their own pace).
2. Known causes, each at its earliest line (the first failure): CUDA (XLA, TensorFlow) out of
   memory (old torch's "THCudaCheck FAIL ... error=2 : out of memory" too, its THError "cuda
   runtime error (2) : out of memory" where there is one), disk full, MPI's start-up that failed
   (MPICH's and Intel MPI's "Fatal error in MPI_Init: Other MPI error, error stack:", with the
   stack's innermost message: its abort path may crash after it), a native crash (segfault and
   kin, TensorFlow's "*** Received signal 7 ***", faulthandler's "Fatal Python error", the
   frame of its "Current thread"; where none of those is there, the DataLoader worker's own
   report, "Unexpected bus error encountered in worker"; a DataLoader worker's bus error gets the
   shared memory hint), a
   SIGKILL ("Killed", also glued to a progress bar or to a status line left without its newline,
   conda's "Solving environment: ...working... Killed"; Slurm's "OOM Killed", "Out Of Memory", "oom-kill
   event(s)"; the kernel's OOM killer in dmesg, "Out of memory: Killed process 7899 (python)", which
   beats the shell's "Killed" where both are there: it says why; kernels before 4.19's choice before
   it, "Out of memory: Kill process 7899 (python) score 974 or sacrifice child", first; gcc's "fatal error: Killed signal
   terminated program cc1plus", a build's compiler killed), Rust's "memory allocation of N bytes
   failed" (the host's memory, then an abort) and tcmalloc's "large alloc N bytes == (nil)", any
   other CUDA error (the driver's "CUDA_ERROR_ILLEGAL_ADDRESS" in XLA's words, cuDNN's
   "CUDNN_STATUS_..." and TensorFlow's "Could not create cudnn handle" too; the CUDA_CHECK_RETURN
   macro's "Error invalid argument at line 351 in file ops.cu"; the CUDA_CHECK of llama.cpp and many
   C++ projects, "CUDA error 217 at ggml-cuda.cu:6292: msg"), NCCL errors and timeouts (XLA's
   "NCCL operation ncclGetUniqueId(&id) failed: msg" too, and init.cc's "Duplicate GPU detected :
   rank 1 and rank 0 both on CUDA device 4f000" pasted without its "NCCL WARN"; with
   NCCL's "Last error:", or the first "NCCL WARN" before it that a failure's return follows, "NCCL
   INFO init.cc:878 -> 2", else its last; NCCL 2.0 to 2.3's "[0] socket.h:185 WARN msg" only on the
   line right above it). NCCL comes after the others: a collective fails *because* a peer died of one
   of them. Last, a script with CR LF line ends, bash's first complaint of a name ending in a carriage
   return ("train.sh: line 12: $'\\r': command not found"): what its script did next is broken. A
   signal counts as a shell, an IDE or a launcher reports it: bash's and dash's words in any of
   glibc's common locales ("已杀死", "Speicherzugriffsfehler"), zsh's ("segmentation fault (core
   dumped)"), fish's ("terminated by signal SIGKILL"), PyCharm's ("interrupted by signal
   9:SIGKILL"). Only output counts: a traceback's code (``raise RuntimeError("CUDA out of
   memory")``, a comment) and the tracebacks a process survived (a caught and logged OOM before the
   KeyError it died of) are not looked at.
3. A CMake configure step that says it failed ("-- Configuring incomplete, errors occurred!"): its
   first "CMake Error at FILE:N (COMMAND):" with its indented message (a traceback before it is a
   probe's that cmake outlived). A build that says it stopped (ninja's "ninja: build stopped:
   subcommand failed.", make's "make: *** [all] Error 1", setuptools' "error: command 'gcc' failed
   with exit code 1"): the compiler's first error above that ("x.cpp:2:18: error: msg", nvcc's
   "nvcc fatal   : msg", the linker's "undefined reference to"), over the exception a build in
   Python raised for it (torch's cpp_extension's CalledProcessError of ninja, its RuntimeError
   "Error building extension"), unless another exception came after the build stopped.
   Then the final line of a Python traceback, of the last one in a chain ("During handling...", "The
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
   ``logger.exception``: "ERROR - trainer - upload failed: ..."); where it ends at the last frame's
   code and that code raises (``assert pg is not None, "Process group is not initialized"``, ``raise
   X(...)``), that statement; or where TensorFlow's failed
   kernel logged its status a few lines above the header ("OP_REQUIRES failed at
   collective_ops.cc:713 : Invalid argument: msg", at warning level), that status. IPython's
   traceback ("File PATH:N, in FUNC(ARGS)" frames, their numbered source with "---->" at the current
   line): the exception line after its last frame's source. A traceback
   indented as a whole (pip's copy of a build step's output, a markdown paste) is read at its
   indentation: an indented header, or a frame 6 deep or more, says where its block is; one whose
   lines lost their indentation has a frame's code at column 0 (or one space deep with its frame,
   as a log service renders every line, syslog's "#015" at their ends taken off as a "\r"). A traceback
   may have no header (a tail or a paste that starts inside it, rich's box): an exception line right
   after a frame's code ends it; a line that a frame follows is another thread's log line, not the
   exception. The line right after the last frame and its code is the exception line whatever its
   form (a paste that lost "ValueError: "), unless an exception line soon follows it (not after a
   stack that logging's stack_info or faulthandler printed: no exception ends those). Then pytest's
   report of the first failed test: its last ``E   Name: msg`` line (a chain's last) with the ``E``
   lines below; where it has none (a paste of the summary), the first exception its short test
   summary names, "FAILED tests/t.py::test_x - Name: msg" ("ERROR ..." for a fixture's). Within
   one process (one prefix) the fatal traceback is the last one: earlier ones were logged and
   survived, and "Exception ignored in" tracebacks never kill anything. Across processes the first
   one to complete wins: of several ranks' fatal tracebacks, the one whose last line came first in
   the output, the best witness of which rank failed first that the output holds.
   Unprefixed tracebacks of several processes interleaved line by line are told apart the same way
   (the first exception line to close one of them). A launcher that re-raises its child's failure
   (``CalledProcessError`` chained from the child's own error) gives the child's exception.
4. A C++ exception that ended the process (``terminate called after ... what(): ...``, the what() up
   to a dozen lines below where a terminal wrapped the first; libstdc++'s "pure virtual method
   called" before its terminate; libc++'s "libc++abi: terminating due to uncaught exception of type
   T: what"), a fatal log line (glog's ``F``, its whole header found anywhere on a line a progress
   line was printed onto, "Check failed: ...", gloo's "[libuv.h:596] uv_accept: ...", Google
   Highway's "Abort at FILE:LINE: msg", Ray's C++ log line at its fatal level, "C"; TSL's failed
   TF_CHECK_OK, "Non-OK-status: X", with the "Status: msg" its newer form prints on the next line;
   XLA's "ptxas returned an error ..." without its advice after it), then an abort:
   glibc's own reason for it where it printed one (malloc's "double free or corruption (!prev)",
   "free(): invalid pointer", "*** stack smashing detected ***", assert()'s "PROG: FILE:LINE: FUNC:
   Assertion `EXPR' failed."; the BSDs', macOS's and musl's assert(), "Assertion failed: (EXPR),
   function F, file FILE, line N."; glibc's after the spaces a progress bar wider than the terminal
   left on its line), else the shell's "Aborted". A C++ what() line is no traceback's code: the "Aborted" after it closes no headerless
   traceback.
5. argparse's report of a command line it could not parse (``PROG: error: MESSAGE`` after its
   ``usage:``, exit 2: an argparse message, or any after the usage of that PROG), then a line that
   can only be an exception's, alone (not an "Exception ignored in" traceback's where another such
   line is: CPython's unraisable hook printed it and went on; a paste of just that line, a tail that
   kept only it; a name
   ending in Error or Exception, ``Exception: msg`` itself, a module's class
   ``pyarrow.lib.ArrowInvalid: msg``, or such a name with nothing after its colon and its message's
   indented lines at once below it, ``pkg.MisconfigurationException: `` as python prints a message
   that began with a newline; botocore's ``ClientError`` message behind any class name,
   ``ResourceLimitExceeded: An error occurred (...) when calling the X operation: ...``; Hydra's
   "Error in call to target 'X':" with the repr of the target's exception below it; an exception
   that a logger reported, TensorFlow's Coordinator's "Error reported to Coordinator: <class 'X'>,
   msg" and its ClusterCoordinator's "... encountered the following error when processing closure:
   X():msg" as "X: msg", the words below a bare "Graph execution error:" as msg; TensorFlow's
   "Node: 'X'" with its "N root error(s) found." list below it (a paste that starts there) as the
   first root error, or with the op's message below it, up to its "[[{{node X}}]]" tag (the same
   node's), as that message; JAX's tracer errors pasted without their name ("Attempted boolean conversion
   of traced array ..." with its "The error occurred while tracing the function ..." right below) as
   "TracerBoolConversionError: ..."; Ray's
   "RayTaskError(Cause): ..." where the paste ends inside the remote traceback below it): the
   child's own words still; argparse's also for a torchrun rank that said nothing else. Then
   SageMaker's own reason, a Describe* response's ``"FailureReason": "..."`` printed as JSON one
   member a line (the AWS CLI's, a Step Functions state's output). Then libstdc++'s "terminate
   called without an active exception" (or "recursively"): no reason of its own, but the child's
   end, over a launcher's report of its exit. Then Open MPI's report of an MPI error made fatal in a
   rank ("*** An error occurred in X" ... "*** MPI_ERRORS_ARE_FATAL"): it says only where; the first
   error line of the component that failed, above it, says why (the TCP BTL's "[node][[job,vpid],rank]
   [file.c:N:func] msg", UCX's), shown from the file on. Then
   launchers' own reports, when nothing of the child's is left, the first one: mpirun's "exited on
   signal 9 (Killed)" (its sentence whole where a terminal wrapped it), Open MPI's "exited with
   non-zero status" box with its "Exit code:", MPI_ABORT, DeepSpeed's "exits with return code = -9",
   torchrun's own "failed (exitcode: -9) local_rank: 4" and its agent's "Received 1 death signal,
   shutting down workers", MPICH's and Intel MPI's "BAD TERMINATION"
   box and its exit code or signal, Slurm's "CANCELLED AT ... DUE TO TIME LIMIT" and srun's "Exited
   with exit code", LSF's and PBS's limits, make's "*** [train] Error 1" (its "Error 127" or 126,
   the status of a command the recipe's shell or make could not find or run, as the report of that
   right above it: "/bin/sh: 1: nvcc: not found"), docker compose's "exited
   with code 137", CircleCI's step report ("Exited with code exit status 137" alone on its line),
   horovodrun's "Process 0 exit with status code 137.", Flyte's "[pod-0] terminated with exit code
   (137). Reason [Error].", horovodrun's
   "Launching horovodrun task function was not successful:" with the host's output below it (ssh's
   "Connection refused"), the SageMaker toolkit's ExecuteUserScriptError (and its InstallModuleError,
   InstallRequirementsError), Open MPI's box for its own start-up that failed ("It looks like MPI_INIT
   failed for some reason", with the call below, "ompi_mpi_init: ompi_rte_init failed"), for a child
   it could not exec or start or whose daemons it could not start ("ORTE was unable to reliably start
   one or more daemons"; its out-of-band TCP box before it, "A process or daemon was unable to
   complete a TCP connection", says why, and is the first; so does ssh's own error right above it,
   "ssh: connect to host node2 port 22: Connection refused", shown alone) or whose daemon it lost ("ORTE has lost
   communication with a remote daemon.", PRRTE's "PRTE ...") or whose child called MPI before
   MPI_Init ("*** The MPI_Comm_rank() function
   was called before MPI_INIT was invoked."), Ray's "Raylet is terminated ... Termination is
   unexpected." and "The actor is dead because its worker process has died" (and a
   node's missed heartbeats), an IDE's "Process finished with exit code 1", a notebook's dead
   kernel, python's "can't open file" and ``python -m``'s "No module named X", bash's "unbound
   variable" (set -u), a shell that cannot parse a script or run the entry point, Open MPI's "There
   are not enough slots available" and its refusal to run as root ("mpirun has detected an attempt
   to run as root."), its box for a daemon it has no route to ("ORTE does not know how to route a
   message to the specified daemon"), Slurm's step daemon that could not exec the task ("slurmstepd:
   error: execve(): torchrun: No such file or directory", before srun's report of its exit), pdsh's
   report of a node's ssh ("pdsh@h: node1: ssh exited with exit code 255", ssh's own error for that
   node above it, "node1: ssh: connect to host node1 port 22: Connection refused", shown instead),
   Fujitsu MPI's "plexec One of MPI processes was aborted", dash's "Bad substitution" (a bash script
   run with sh), a report inside a structured log event printed as one JSON object (its "message", up
   to the end of the report's sentence). A report's sentence runs on to the next lines a terminal
   wrapped, never into another report nor a shell's prompt, and ends where a sentence ends inside
   such a line (Open MPI's box explains it after that), unless the box's fields follow ("Exit code:
   1"). A shell's "command not found" (a script survives a missing
   nvidia-smi; bash's in its translations, "未找到命令" and older releases' "python：未找到命令", and dash's
   "train.sh: 15: python: not found") and bash's report of a file its script cannot open or run
   ("train.sh: line 25: X: Permission denied", in its translations "train.sh: 行 25: X: 权限不够")
   and make's own ("make: nvcc: Command not found", before 4.3), and ssh's "ssh: connect to host H
   port 22: msg" (a script may survive a probe of a host), only when there is no other report, the
   last one (not a compiler driver's "g++: error: x.o: No such file or directory": a build's; not an option's, "train.sh: line 6: --do_train:
   command not found", after another: a command's continuation lines run as commands of their own,
   the command's complaint above them); then MPICH Hydra's first "[mpiexec@HOST] FUNC
   (FILE:LINE): msg" or "[proxy:0:2@HOST] ..." report ("execvp error on file X ..."); last,
   launchers' wrapper exceptions
   (``ChildFailedError``, ``CalledProcessError``, ...), from a traceback or standing alone.
6. The last resort, when nothing above found anything: a runtime's own error-level log line, the
   first: NCCL's ``NCCL WARN msg`` (NCCL_DEBUG's output alone, no NCCL error after it), c10's and
   glog's ``[E socket.cpp:500] [c10d] msg`` (a paste that ends inside the traceback after it),
   TensorFlow's and XLA's own "2021-04-20 23:10:23.094910: E file.cc:352] msg", Ray's
   C++ ``[2024-05-26 11:26:16,798 E 177479 178526] (raylet) gcs_rpc_client.h:554: msg`` (the
   component optional; the Error line from it on, "raylet: gcs_rpc_client.h:554: msg"), Lua
   torch's ``THCudaCheck FAIL file=... line=70 error=35 : msg`` (a CUDA error, Lua's own after it)
   and that error, THError's ``cuda runtime error (35) : msg at FILE:LINE`` as Lua prints it; UCX's
   ``[time] [host:pid:0]  sock.c:323  UCX  ERROR msg`` and Open MPI's UCX layer's ``[host:pid]
   pml_ucx.c:424  Error: msg`` above MPI's MPI_ERRORS_ARE_FATAL box (shown from the file on);
   Horovod's stall warning, a hang's only report ("One or more tensors were submitted to be reduced,
   gathered or broadcasted by subset of ranks and are waiting for remainder of ranks for more than 60
   seconds.").
   After all of them, Python logging's default line at an error level (basicConfig's
   ``ERROR:root:msg``, ``CRITICAL:pkg.mod:msg``), the first: its message.
7. Where no rule above knows the output's form (a program's own error line, a launcher or a CI
   service nobody wrote a rule for): the last line naming an exception class, else the last line
   with an error's plain words ("failed", "fatal", "exit code", "could not", "not found", "doesn't
   support", ...), not a
   warning's, a metric's or a traceback's code; one inside a box drawn with rules (Open MPI's help
   messages) as the box's first line (error_words.py). A guess from words alone, so the last.

Running out of host memory (MemoryError, numpy's _ArrayMemoryError, std::bad_alloc, Rust's failed
allocation) gets the host memory hint, whichever rule found it.

An error over ``ERROR_MAX`` bytes keeps its start and its end, its middle elided: the end says how
it ended ("returned non-zero exit status 1"). Before its middle, it loses what says nothing to a
reader: long hexadecimal IDs but their first 8 digits, XLA's "; current tracing scope: ..." context;
then a call's long argument list in C's words ("ncclAllReduce(…) failed: invalid usage").

stdout and stderr come separately (the caller cannot know how they interleaved): each recogniser
looks at stderr first, where tracebacks and launchers' logs go, then stdout. The last lines are
stderr's when it has any, else stdout's; blank lines, separator rules and traceback caret lines
(``^^^^``) are left out, they carry nothing in 1 KB.
"""

import gc
from typing import Optional, Sequence, Tuple

from .memo import _cleaned, _remembered
from .lines import (BAR, clean_lines, Line, lines_of, PREFIXES, printable, read_lines, reframed, split_prefixes,
    stream_lines)
from .findings import Finding, Hit, Recogniser
from .hints import (HINT_CRASH, HINT_CUDA, HINT_CUDA_OOM, HINT_DISK_FULL, HINT_HOST_MEMORY, HINT_KILLED,
    HINT_NCCL, HINT_SHM, HOST_MEMORY)
from .text import elide, ELISION, ERROR_MAX, _fit_lines, _last_lines, LIMIT, _size, truncate
from .launcher_words import COMMAND_NOT_FOUND, STRERROR_WORDS, _not_found, STARTUP
from .tracebacks import (bare_exception, by_process, cut_traceback, fatal_traceback, hydra_error, ipython_traceback,
    _is_wrapper, pytest_failure, python_traceback, wrapper_traceback)
from .causes import (aborted, crlf_script, cuda_error, cuda_oom, earlier, earliest, killed, native_crash, nccl_error,
    rust_alloc_failed, SIGNAL_WORDS)
from .native import (bare_terminate, cxx_exception, fatal_log, logged_error, mpi_fatal_error, mpi_init_error,
    runtime_error_log)
from .error_words import error_words
from .reports import argparse_error, build_error, cmake_error, failure_reason_json, hydra_report, launcher_report
from .torchrun import CONSEQUENCE, other_failure, read_root_cause, RootCause, SIGNAL_CAUSES, summary_words


# torchrun's summary (read in torchrun.py): the table run over the failed rank's own lines ----------

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
        # ("train.py FAILED"), so that the line says what failed, not only where; the rank's end in
        # the summary's own words ("exitcode -6, Signal 6 (SIGABRT)"), or another failure it lists
        # where the root cause's fields were cut off.
        signal_cause = _recogniser(SIGNAL_CAUSES.get(cause.signal or ""))
        title = f"{cause.script} FAILED: " if cause.script else ""
        words = summary_words(cause.exit_code, cause.signal)
        head = (f"rank {cause.rank} failed first" if cause.rank is not None else "a rank failed first") + (
            f" ({words})" if words else "")
        other = other_failure(cause)
        return Hit(cause.at, f"{title}{head}, per torchrun's summary" + (f"; {other}" if other else ""),
                   signal_cause and signal_cause.hint)
    recogniser, hit = found
    return Hit(cause.at, f"{head}: {hit.error}", hit.hint or recogniser.hint)


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
               cuda_oom(r"C(?:UDA (?:out of memory|error: out of memory|failure [^'\n]{0,80}'out of memory')"
                        r"|uda failure [^'\n]{0,80}'out of memory')"
                        r"|RESOURCE_EXHAUSTED: Out of memory|Resource exhausted: (?:OOM|Out\b)"
                        r"|OOM when allocating tensor"),
               HINT_CUDA_OOM),
    Recogniser("disk-full",
               earliest(r"No space left on device|\[Errno 28\]|\bENOSPC\b|Disk quota exceeded"),
               HINT_DISK_FULL),
    # MPI's start-up that failed: what crashed after it is its abort path.
    Recogniser("mpi-init", mpi_init_error),
    Recogniser("native-crash", native_crash, HINT_CRASH),
    # A shell's "Killed" may follow a progress bar left without its newline ("6.17it/s]Killed").
    Recogniser("killed", killed,
               HINT_KILLED),
    Recogniser("host-oom", rust_alloc_failed, HINT_HOST_MEMORY),
    Recogniser("cuda-error", cuda_error, HINT_CUDA),
    Recogniser("nccl", nccl_error, HINT_NCCL),
    # A script with CR LF line ends: its later errors are consequences.
    Recogniser("crlf-script", crlf_script),
)

GENERIC = (
    # A configure step cmake says failed: a traceback before it was a probe's that cmake outlived.
    Recogniser("cmake-error", cmake_error),
    # A build that stopped on a compiler's error, over the exception the build's wrapper raised.
    Recogniser("build-error", build_error),
    Recogniser("python-traceback", python_traceback),
    Recogniser("cut-traceback", cut_traceback),
    Recogniser("ipython-traceback", ipython_traceback),
    Recogniser("pytest-failure", pytest_failure),
    Recogniser("cxx-exception", cxx_exception),
    Recogniser("fatal-log", fatal_log),
    Recogniser("abort", aborted),
)

REPORT = Recogniser("launcher-report", launcher_report)
ARGPARSE = Recogniser("argparse-error", argparse_error)

LAUNCHERS = (
    ARGPARSE,
    Recogniser("exception-line", bare_exception),
    Recogniser("hydra-error", hydra_error),
    Recogniser("failure-reason", failure_reason_json),
    # libstdc++'s terminate without an exception: no reason of its own, but the child's end.
    Recogniser("bare-terminate", bare_terminate),
    # Open MPI's fatal MPI error in a rank: the component's error above it, over mpirun's report.
    Recogniser("mpi-fatal-error", mpi_fatal_error),
    REPORT,
    Recogniser("mpich-hydra", hydra_report),
    Recogniser("wrapper-traceback", wrapper_traceback),
    Recogniser("runtime-error-log", runtime_error_log),
    Recogniser("logged-error", logged_error),
    # Where no rule knows the output's form: the last line that says something went wrong.
    Recogniser("error-words", error_words),
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
        streams = list(map(reframed, [stream_lines("stderr", stderr), stream_lines("stdout", stdout)]))
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
