"""Failure tails built to be slow to judge: one huge line per pattern prefix, floods of lines.

The tests (test_reasons_text.py) hold the work to linear growth with the tail's size on them; the
bench (bench/reasons_speed.py) measures them against the bound of 50 ms for any 64 KiB tails.
"""

import random
import time

from sm_init import reasons

ENDING = "Training command `python3 train.py` exited with code 1."
TB = (b'Traceback (most recent call last):\n  File "/opt/ml/code/train.py", line 12, in <module>\n'
      b"    main()\n    ^^^^^^\nValueError: bad lr\n")
ADVERSARIAL = {
    # One huge line, each pattern's prefix repeated: a pattern that backtracks is quadratic here.
    "one line of E": b"CUDA out of memory " + b"E" * 65536,
    "one line of ] [": b"] [" * 22000,
    "one line of mpirun notices": b"mpirun noticed that process rank 1 " * 2000,
    "one line of assertions": b"Assertion `" * 6000,
    "one line of can't open": b"can't open file '" * 4000,
    "one line of bars": b"1%|" * 22000 + b"Killed",
    "one line of prefixes": b"[rank1]: " * 7000 + b"ValueError: x\n",
    "one line of brackets": b"ValueError: " + b"(" * 65536 + b"\n",
    "one line of digits": b"1" * 65536 + b" Abortedx",   # '\d+ Aborted' tried from each digit: seconds
    # Floods of lines.
    "a rank per line": b"".join(b"[rank%d]: ValueError: x\n" % i for i in range(4000)),
    "a Ray actor per line": b"".join(b"(RayWorker pid=%d) Traceback (most recent call last):\n" % i
                                     for i in range(2000)),
    "a deep chain": (TB + b"\nDuring handling of the above exception, another exception occurred:\n\n") * 400,
    "headers then exceptions": b"Traceback (most recent call last):\n" * 1000 + b"ValueError: x\n" * 1000,
    "exception lines": b"ValueError: x\n" * 4700,
    "frames": b'  File "a.py", line 1, in f\n    x\n' * 2000 + b"ValueError: x\n",
    "rich's box": "│ x │\n".encode() * 6000 + b"ValueError: x\n",
    "continued messages": b"  x\nValueError: [\n" + b"more [\n" * 8000,
    "terminates": b"terminate called after throwing an instance of 'x'\n" * 1300,
    "root causes": b"Root Cause (first observed failure):\n  rank : 1 (local_rank: 1)\n" * 1000,
    "Killed": b"Killed\n" * 9000,
    "NCCL errors": b"NCCL error\n  Last error:\n" * 2500,
    # The forms of issue 18's holdout3 fixes: argparse's report, pytest's E lines, a message below
    # its "Name:", a line after a frame's code, botocore's message, the kernel's and glibc's, shells'.
    "argparse reports": b"usage: t.py [-h]\nt.py: error: argument --x: bad\n" * 2000,
    "pytest E lines": b"E   ValueError: x\nE   more\n" * 3000,
    "one line of pytest summaries": b"FAILED a.py::t" + b"[a - " * 16000,
    "TensorFlow nodes": b"Node: 'a'\n2 root error(s) found.\n" * 3000,
    "one line of Flyte reports": b"[a] terminated with exit code (1" * 2000,
    "one line of failure reasons": b'"FailureReason": "' + b'a\\"' * 20000,
    "JAX tracer messages": b"Attempted boolean conversion of x\nWhile tracing the function \n" * 1300,
    "pytest summaries": b"FAILED a.py::t - assert x\n" * 2500,
    "messages below names": b'  File "a.py", line 1, in f\n    x\nValueError:\n    more\n' * 1500,
    "lines after frames": b'  File "a.py", line 1, in f\n    x\nno name here\n' * 2000,
    "one line of client errors": b"X: An error occurred (" * 3000,
    "one line of not found": b"t.sh: 1: " + b"a: 1: " * 10000,
    "one line of OOM kills": b"Out of memory: Killed process 1 (" * 2000,
    "one line of heap checks": b"free(): " * 8000,
    # holdout4's: glibc's assert() report, libstdc++'s pure virtual call.
    "one line of glibc asserts": b"a.cc:1: f: Assertion `" * 3000,
    "pure virtual calls": b"pure virtual method called\n" * 2400,
    "one line of module paths": b"a." * 30000 + b"B: x\n",
    "dotted exception lines": b"pkg.lib.ArrowInvalid: x\n" * 2700,
    "Ray workers without names": b"(pid=1) Exception: x\n" * 3000,
    "one line of python -m": b"python3: " * 7000,
    "one line of mpirun boxes": b"mpirun was unable to start " * 2400,
    # holdout5's: a traceback indented as a whole (a header at any depth, a frame 6 deep).
    "indented headers": b"  Traceback (most recent call last):\n" * 1800,
    "indented frames": b'      File "a.py", line 1, in f\n' * 2100 + b"    ValueError: x\n",
    "one line of indented frames": b"      File \"" + b"a" * 65536,
    # Runtimes' own reports: the DataLoader's, Rust's, and the last resort's NCCL and c10 log lines.
    "one line of DataLoader reports": b"ERROR: Unexpected bus error encountered in worker." * 1300,
    "one line of allocations": b"memory allocation of " * 3100,
    "allocations per line": b"memory allocation of 1 bytes\n" * 2200,
    "NCCL warnings": b"h:1:2 [0] NCCL WARN x\n" * 2900,
    "c10 headers per line": b"[E " + b"a" * 150 + b"\n" * 1 + (b"[E1207 1:2 " + b"a" * 150 + b"] \n") * 390,
    "c10 warnings per line": b"[W socket.cpp:464] [c10d] x\n" * 2300,
    # docker compose's service prefix, a table's bars.
    "a service per line": b"".join(b"svc%d | x\n" % (i % 9) for i in range(6500)),
    "one line of bars and words": b"a" * 60 + b" | " * 21000,
    "one line of ORTE boxes": b"ORTE was unable to reliably start " * 1900,
    "failed states": b"FailedStatusError: Encountered unexpected failed state while waiting for J. Final Resource"
                     b" State: F.\nFailure Reason: x:\n" * 500,
    "Hydra targets": b"Error in call to target 'a':\nB(\n" * 2000,
    "see above lines": b"XError (see above for traceback): x\n" * 1700,
    # holdout6's: gcc's killed compiler.
    "one line of killed compilers": b": fatal error: Killed signal terminated program " * 1400,
    "a cut traceback after an error": b"ERROR:root:x\nTraceback (most recent call last):\n"
                                      + b'  File "a.py", line 1, in f\n    x\n' * 2000,
    "one line of coordinators": b"Error reported to Coordinator: <class '" * 1600,
    "coordinators per line": b"Error reported to Coordinator: <class 'a.B'>, x\n" * 1300,
    "one line of closures": b" encountered the following error when processing closure: " * 1100,
    "closures per line": b"/job:w encountered the following error when processing closure: E():x\n" * 900,
    "Ray task errors": b"ray.exceptions.RayTaskError(OutOfMemoryError): x\n" * 1300,
    "one line of death signals": b"Received 1 death signal, shutting down " * 1600,
    "one line of MPI calls": b"*** The MPI_Comm_rank() function was called before " * 1300,
    "one line of raylets": b"Raylet is terminated: " * 3000,
    "one line of CUDA checks": b"THCudaCheck FAIL file=" * 3000,
    "one line of CUDA out of memory": b"THCudaCheck FAIL file= : out of memory" * 2000,
    "terminates without an exception": b"terminate called without an active exception\n" * 2000,
    "TensorFlow nodes and their tag": b"Node: 'a'\nx\n" * 5000 + b"\t [[{{node a}}]]\n",
    "frames one space deep": b' File "a.py", line 1, in f\n x\n' * 2000,
    "syslog carriage returns": b"x#015\n" * 8000,
    "one line of THErrors": b"cuda runtime error (" * 3000,
    "one line of CUDA_CHECKs": b"CUDA error 1 at " * 4000,
    "UCX errors per line": b"[1700554343.440877] [h:7356 :0]   sock.c:323  UCX  ERROR \n" * 1100,
    "Open MPI UCX errors per line": b"[h:07356] pml_ucx.c:424  Error: \n" * 1800,
    "one line of failed ops": b"OP_REQUIRES failed at a.cc:1 : " * 2000,
    "one line of start-up failures": b"It looks like x failed for some reason; your parallel process is" * 1000,
    "Install words per line": b"InstallModule x\n" * 4000,
    "IPython frames per line": b"File a.py:1, in f(x)\n" * 3000,
    "one line of IPython frames": b"File a.py:1, in f(x)" * 3000,
    "IPython frames and sources": b"File a.py:1\n----> 1 x\n" * 3000,
    "one line of large allocs": b"tcmalloc: large alloc 1 bytes == " * 2000,
    "blank lines": b"\n" * 65536,
    # absl's Python header on every line, and lines that start as it and are none (a C++ file: glog's).
    "absl headers per line": b"I1213 13:02:06.025116 140646328219456 run.py:22] x\n" * 1300,
    "glog headers per line": b"I1213 13:02:06.025116 140646328219456 run.cc:22] x\n" * 1300,
    # Determined's prefixes on every line, and lines that start as its web UI's and are none.
    "Determined prefixes per line": b"[2021-12-07T10:43:01Z] 087c0ee7 [rank=1] || x\n" * 1300,
    "Determined copies per line": b"<info>    [2021-12-07 10:43:01] 087c0ee7 || x\n" * 1300,
    "angle brackets per line": b"<>\n" * 22000,
    # Ray's C++ error line with its component, on every line; bash's translated complaint, on every line.
    "Ray components per line": b"[2023-04-12 11:23:25,823 E 946 946] (raylet) a.h:1: x\n" * 1100,
    "translated complaints per line": "t.sh: 行 25: /d/x: 权限不够\n".encode() * 2000,
    "one line of translated lines": "：行 1: ".encode() * 5000 + ": 权限不够".encode(),
    # The SageMaker SDK's status line behind a stamp, its dots to the line's end (no line glued on), on
    # one huge line and on every line; a paste's markdown: bold lines, every line quoted.
    "one line of SDK dots": b"2024-05-14 12:57:17 Training - Training in progress" + b"." * 65000,
    "one line of SDK periods": b"2024-05-14 12:57:17 Training - " + b"a." * 32000,
    "SDK status lines": b"2024-05-14 12:57:17 Training - Training in progress...x\n" * 1200,
    "bold lines": b"**x**\n" * 9000,
    "one bold line": b"**" + b"x" * 65000 + b"**",
    "quoted lines": b"> x\n" * 16000,
    # CMake's error header on every line, and on one huge line, after its configure verdict.
    "CMake errors per line": (b"-- Configuring incomplete, errors occurred!\n"
                              + b"CMake Error at a:1 (f):\n  x\n" * 2500),
    "one line of CMake errors": b"-- Configuring incomplete, errors occurred!\nCMake Error at " + b"a:1 (" * 13000,
    # XLA's failed NCCL call's start, over and over on one line.
    "one line of NCCL operations": b"NCCL operation ncclX" * 3300,
    # A CR LF script's complaint's end, "\\r': ", over and over on one line.
    "one line of CR complaints": b"\\r': " * 13000,
    # Many short lines (64 KiB holds up to 32,768), each cleaned and looked at on its own.
    "a word per line": b"x\n" * 33000,
    "a tab per line": b"\tx\n" * 22000,
    "lines ending in a bracket": b"f(x)\n" * 13200,   # where a locale's "(core dumped)" would stand
    # Lines that start as a prefix would ("[", srun's " 1", a stamp's digit or month, Ray's "(") and are
    # none: each once tried against every prefix its first character can start (main: 145 and 81 ms).
    "a bracket per line": b"[\n" * 33000,
    "a task number per line": b" 1\n" * 22000,
    "a digit per line": b"1\n" * 33000,
    "a month's letter per line": b"D\n" * 33000,
    "a parenthesis per line": b"(\n" * 33000,
    # ... and as long as the shortest prefix their first character can start, still none.
    "a number per line": b"123\n" * 17000,
    "a task number without its colon per line": b" 12\n" * 17000,
    "a bracketed word per line": b"[ab]\n" * 14000,
    # A traceback's end on every line or two: each a chain of its own.
    "exception groups": b"  | ValueError: x\n" * 3700,
    "raises": b"raise x\nValueError: y\n" * 3000,
    # TensorFlow's "Node: 'X'" on every other line, each looking below for its tag and above for
    # its "Graph execution error:" line.
    "tensorflow node lines": b"Node: 'a'\nx\n" * 5000,
    "tensorflow node lines after their error": TB + b"E: Graph execution error:\n" + b"Node: 'a'\nx\n" * 5000,
    # MPICH Hydra's prefix on every line, none a report; "Exception ignored in" tracebacks.
    "hydra prefixes": b"[proxy:0:0@n] f (a.c:1) x\n" * 2600,
    "one line of hydra prefixes": b"[mpiexec@n] f (" * 4000,
    "ignored exceptions": (b"Exception ignored in: <f>\nTraceback (most recent call last):\n"
                           b"  File \"a.py\", line 1, in f\n    g()\nValueError: x\n") * 600,
    # Ray's C++ log line's start, with no file:line after it; on one line and on many.
    "ray stamps per line": b"E 1 1] x\n" * 7000,
    "one line of ray stamps": b"[2024-05-26 11:26:16,798 E 1 1] " * 2000,
    # Launchers' reports whose end is checked after the words: horovodrun's, CircleCI's, Open MPI's.
    "launcher words without their ends": b"Process 1 exit with status code 1" * 2000
    + b"Exited with code exit status " * 2000 + b"ORTE has lost communication with a remote daemo" * 1000,
    # logging's default line's start with no logger's name ended by a colon after it.
    "logging's level without its name": b"ERROR:" + b"a" * 65000,
    "logging's levels on a line": b"ERROR:CRITICAL:" * 4000,
    # A name alone on its line after a huge dotted one, and long dotted names that are none, each
    # with an indented line below.
    "a huge dotted name above a message": b"Ab_." * 16000 + b"ValueError: \n    msg\n",
    "dotted words ending in a colon": (b"a." * 40 + b"Abcdefg" * 12 + b"Error:\n  x\n") * 300,
    # The last resort's error words (error_words.py): on every line, none an exception's; each
    # line a warning that says "failed"; one line of them; a huge line of dotted capitals.
    "error words per line": b"step failed\n" * 6000,
    "warnings with error words": b"WARNING: step failed\n" * 3000,
    "one line of error words": b"failed " * 9400,
    "one line of dotted capitals": b" A." * 21000 + b"Error",
    # A build's stop on every other line, each with a compiler's error; make's stop's start on one line.
    "build stops per line": b"a.c:1:1: error: x\nninja: build stopped: subcommand failed.\n" * 1100,
    "one line of make stops": b"make: *** [" * 6000,
    # Other libcs' assert() reports' starts, on one line and each line; Highway's abort without its message.
    "one line of BSD asserts": b"Assertion failed: (" * 3500,
    "BSD asserts per line": b"Assertion failed: (x), file a.c, line\n" * 1700,
    "Highway aborts without a message": b"Abort at a.h:1:\n" * 4000,
    # BuildKit's step prefix on every line; its start on one line, never with its seconds.
    "BuildKit prefixes per line": b"#1 1.1 x\n" * 7000,
    "one line of BuildKit starts": b"#1 1." * 13000,
    # MPI's start-up failure heads, each with a stack line; libc++abi's terminate without its end.
    "MPI init failures": b"Fatal error in MPI_Init: x, error stack:\nA(1)..: y\n" * 1400,
    "one line of libc++ terminates": b"libc++abi: terminating due to uncaught exception of type " * 1200,
    # Ray's fatal header without its file:line; glog's fatal header's start inside a line.
    "Ray fatal headers per line": b"C 1 1] x\n" * 7000,
    "one line of glued glog starts": b"1F0000 00:00:00.1 1 " * 3200,
    "garbage": random.Random(1).randbytes(65536),
}



def judged_once(tail: bytes) -> float:
    """CPU seconds for one failure text of ``tail`` (at most its last 64 KiB) as both streams."""
    tail = tail[-64 * 1024:]
    start = time.process_time()
    text = reasons.failure_text(ENDING, tail, tail)
    took = time.process_time() - start
    assert len(text.encode()) <= reasons.LIMIT
    return took


def judged_in(tail: bytes) -> float:
    """CPU seconds for the failure text of ``tail`` (at most its last 64 KiB) as both streams, the best of 5."""
    return min(judged_once(tail) for _ in range(5))


def growth(tail: bytes) -> tuple:
    """(16 KiB's seconds, 64 KiB's seconds) for the end of ``tail``, each the best of 7 rounds that
    take the two sizes in turn, so that a burst of load on the machine slows both alike."""
    small, large = tail[-16 * 1024:], tail[-64 * 1024:]
    rounds = [(judged_once(small), judged_once(large)) for _ in range(7)]
    return min(took for took, _ in rounds), min(took for _, took in rounds)


def grows_linearly(tail: bytes) -> tuple:
    """Whether the work for 64 KiB of ``tail`` stays under 8 times that for 16 KiB (linear: 4 times;
    a quadratic step: 16), and the two figures. Past the bound, it is measured once more: a
    quadratic step is past it every time, a burst of load on a shared machine seldom twice."""
    for _ in range(2):
        small, large = growth(tail)
        if large < 8 * max(small, 0.001):
            return True, small, large
    return False, small, large
