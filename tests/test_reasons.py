"""Failure reasons from real programs' output: Python exceptions, a full disk, a segfault, a SIGKILL.

Each test runs a real failing program (tests/helpers/children/failing.py, a shell around it, a
script that doesn't compile), keeps the last 64 KiB of each stream as sm-init does, and checks what
``reasons`` makes of them: the finding (which recogniser, which error line) and the failure text.
"""

import os
import re
import sys

import pytest

from helpers.tails import FAILING, check_text, failing, run_tails
from sm_init import reasons

ENDING = "Training command `python3 train.py` exited with code 1."


def test_exception_after_200k_of_logs():
    run = failing("raise-after-logs")
    assert run.returncode == 1
    assert len(run.stdout) == len(run.stderr) == 64 * 1024     # both tails are cut, mid-line
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert finding == reasons.Finding("ValueError: bad lr: -0.5 (must be positive)", None, "stderr",
                                      "python-traceback")
    text = check_text(reasons.failure_text(ENDING, run.stdout, run.stderr))
    head, error, last = text.split("\n", 2)
    assert head == ENDING
    assert error == "Error: ValueError: bad lr: -0.5 (must be positive)"
    assert last.startswith("Last lines of stderr:\n")
    assert last.endswith("\nValueError: bad lr: -0.5 (must be positive)")
    assert 'in raise_after_logs\n    raise ValueError("bad lr' in last
    assert "\x1b" not in text and "\r" not in text               # colours and bar redraws cleaned
    assert len(text.encode()) > 900                               # the last lines fill the room


def test_progress_bar_shows_its_last_drawing():
    run = failing("raise-after-logs")
    # The tail starts wherever its last 64 KiB do (the traceback's paths move that with the checkout's
    # path): its first line may be the end of a bar or of a log line, so only whole lines are judged.
    lines = reasons.clean_lines(run.stderr)[1:]
    bars = [line for line in lines if "%|" in line]
    assert bars and all(line == "100%|##########| 100/100" for line in bars)
    logs = [line for line in lines if " checkpoint not due; " in line]
    assert logs and all(re.search(r" INFO INFO step \d+ checkpoint", line) for line in logs)


@pytest.mark.parametrize("case, error", [
    ("chained-from", "RuntimeError: could not read the learning rate from hyperparameters.json"),
    ("chained-during", "FileNotFoundError: [Errno 2] No such file or directory:"
                       " '/nonexistent/checkpoint.pt'"),
])
def test_chained_exceptions_report_the_last(case, error):
    run = failing(case)
    assert run.returncode == 1
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert (finding.name, finding.error) == ("python-traceback", error)


def test_logged_and_ignored_tracebacks_are_not_the_fatal_one():
    run = failing("logged-then-fatal")
    assert run.returncode == 1
    assert b"Exception ignored in" in run.stderr and b"ConnectionError: S3 read" in run.stderr
    assert run.stderr.rstrip().endswith(b"OSError: close failed in __del__")
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert finding.error == "AssertionError: loss is nan at step 120"


def test_exception_group():
    run = failing("exception-group")
    assert run.returncode == 1
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert finding.error == "ExceptionGroup: data loading failed (2 sub-exceptions)"


def test_syntax_error_names_file_and_line(tmp_path):
    script = tmp_path / "train.py"
    script.write_text("import os\n\ndef main(:\n    pass\n")
    run = run_tails([sys.executable, str(script)])
    assert run.returncode == 1 and b"Traceback" not in run.stderr   # no header for the main script
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert finding.name == "python-traceback"
    assert finding.error == f"SyntaxError: invalid syntax ({script}, line 3)"


def test_syntax_error_in_an_imported_module(tmp_path):
    (tmp_path / "model.py").write_text("class Net:\n  def forward(self):\n        return 1\n    x = 2\n")
    (tmp_path / "train.py").write_text("print('starting')\nimport model\n")
    run = run_tails([sys.executable, "train.py"], cwd=tmp_path)
    assert run.returncode == 1 and b"Traceback" in run.stderr
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert finding.error.startswith("IndentationError: unindent does not match any outer")
    assert finding.error.endswith(f"({tmp_path / 'model.py'}, line 4)")


def test_disk_full():
    run = failing("disk-full")                       # /dev/full: a real ENOSPC from the kernel
    assert run.returncode == 1
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert finding == reasons.Finding("OSError: [Errno 28] No space left on device",
                                      reasons.HINT_DISK_FULL, "stderr", "disk-full")
    text = check_text(reasons.failure_text(ENDING, run.stdout, run.stderr))
    assert text.startswith(f"{ENDING}\nError: OSError: [Errno 28] No space left on device\n"
                           f"Hint: {reasons.HINT_DISK_FULL}\nLast lines of stderr:\n")


def test_segfault_with_faulthandler():
    run = failing("segfault", env=dict(os.environ, PYTHONFAULTHANDLER="1"))
    assert run.returncode == -11
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert finding.name == "native-crash" and finding.hint == reasons.HINT_CRASH
    # faulthandler lists the innermost frame first: ctypes' string_at, where the NULL was read.
    assert re.fullmatch(r"Fatal Python error: Segmentation fault in string_at \(.+/ctypes/__init__\.py,"
                        r" line \d+\)", finding.error), finding.error


def test_segfault_reported_by_a_shell():
    # "; exit $?": bash forks for a command that isn't its last, and reports how the child died.
    command = f"{sys.executable} {FAILING} segfault; exit $?"
    run = run_tails(["bash", "-c", command])
    assert run.returncode == 139
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert finding.name == "native-crash"
    assert finding.error.startswith("bash: line 1: ")
    assert f"Segmentation fault {sys.executable} {FAILING} segfault" in finding.error


def test_core_dump_reported_by_a_shell(tmp_path):
    command = f"ulimit -c unlimited; {sys.executable} {FAILING} segfault; exit $?"
    run = run_tails(["bash", "-c", command], cwd=tmp_path)   # a core file, if any, lands there
    assert run.returncode == 139
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert finding.name == "native-crash" and "Segmentation fault" in finding.error


@pytest.mark.parametrize("shell, error", [
    ("bash", "Killed {python} {failing} killed"),   # bash: line 1: PID Killed COMMAND
    ("dash", "Killed"),                              # dash (Debian's sh): just "Killed"
])
def test_killed_reported_by_a_shell(shell, error):
    command = f"{sys.executable} {FAILING} killed; exit $?"
    run = run_tails([shell, "-c", command])
    assert run.returncode == 137
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert finding.name == "killed" and finding.hint == reasons.HINT_KILLED
    assert finding.error.endswith(error.format(python=sys.executable, failing=FAILING))
    text = check_text(reasons.failure_text("Training command `sh` exited with code 137.",
                                           run.stdout, run.stderr))
    assert f"\nHint: {reasons.HINT_KILLED}\nLast lines of stderr:\n" in text


def test_stdout_only():
    # A trainer that logs everything to stdout and fails with exit(1): no error, its last lines.
    run = run_tails([sys.executable, "-c",
                     "import sys\nfor i in range(3000): print(f'step {i} ok')\nsys.exit(1)"])
    assert run.returncode == 1 and run.stderr == b""
    assert reasons.diagnose(run.stdout, run.stderr) is None
    text = check_text(reasons.failure_text(ENDING, run.stdout, run.stderr))
    assert text.startswith(f"{ENDING}\nLast lines of stdout:\n")
    assert text.endswith("\nstep 2998 ok\nstep 2999 ok")


@pytest.mark.parametrize("shell", ["bash", "dash"])
@pytest.mark.parametrize("case, recogniser, words", [
    ("killed-mid-bar", "killed", "Killed"),
    ("segfault-mid-bar", "native-crash", "Segmentation fault"),
])
def test_a_shells_report_glued_to_an_unfinished_progress_bar(shell, case, recogniser, words):
    # The bar has no newline: the shell's "Killed" (dash) or "bash: line 1: PID Killed ..." lands
    # on its line, "...6.17it/s]Killed". The bar is not the error, and "Killed" is not too short.
    run = run_tails([shell, "-c", f"{sys.executable} {FAILING} {case}; exit $?"])
    assert run.returncode in (137, 139)
    assert re.search(rb"it/s\](?:bash: line 1: +\d+ )?" + words.encode(), run.stderr), run.stderr[-300:]
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert finding.name == recogniser and words in finding.error and "it/s" not in finding.error, finding
    text = check_text(reasons.failure_text("Training command `sh` exited with code 137.", run.stdout, run.stderr))
    assert f"\nError: {finding.error}\nHint: " in text


def test_faulthandler_names_the_thread_that_crashed():
    # A newer thread is listed first; the main thread, which crashed, is the "Current thread".
    run = failing("segfault-beside-a-thread", env=dict(os.environ, PYTHONFAULTHANDLER="1"))
    assert run.returncode == -11
    dump = run.stderr.decode()
    assert dump.index("in idle_worker") < dump.index("Current thread") < dump.index("in crash_here")
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert finding.name == "native-crash"
    assert re.fullmatch(r"Fatal Python error: Segmentation fault in string_at \(.+/ctypes/__init__\.py,"
                        r" line \d+\)", finding.error), finding.error


@pytest.mark.parametrize("case, recogniser, error", [
    # The source line shown in the traceback names CUDA OOM and a full disk in a comment.
    ("known-cause-in-code", "python-traceback", "ValueError: bad shard index 7"),
    # The source line says ENOSPC first; the exception line is the one to show.
    ("enospc-raised", "disk-full", "OSError: [Errno 28] no room for checkpoint step-300.pt"),
    # A CUDA OOM caught and logged with its traceback, the batch skipped; the job died of the KeyError.
    ("logged-oom-then-keyerror", "python-traceback", "KeyError: 'labels'"),
])
def test_known_causes_count_only_in_output_the_job_died_of(case, recogniser, error):
    run = failing(case)
    assert run.returncode == 1
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert (finding.name, finding.error) == (recogniser, error)


def test_a_long_error_keeps_how_it_ended():
    run = failing("long-called-process-error")
    assert run.returncode == 1
    text = check_text(reasons.failure_text(ENDING, run.stdout, run.stderr))
    error = text.split("\n")[1]
    assert len(error.encode()) <= reasons.ERROR_MAX
    assert error.startswith("Error: subprocess.CalledProcessError: Command '['sh', '-c', 'exit 1', 'sh', ")
    assert " … " in error and error.endswith("=value-59']' returned non-zero exit status 1."), error


@pytest.mark.parametrize("code, error", [
    # The traceback's "[Previous line repeated 996 more times]" is part of its frames.
    ("def f(n):\n    return f(n + 1)\nf(0)", "RecursionError: maximum recursion depth exceeded"),
    # A thread's exception printed by threading's excepthook, then the main thread's exit.
    ("import threading\ndef w():\n    raise MemoryError('pinned buffer')\n"
     "t = threading.Thread(target=w)\nt.start()\nt.join()\nraise SystemExit(3)", "MemoryError: pinned buffer"),
])
def test_pythons_own_fatal_forms(code, error):
    run = run_tails([sys.executable, "-c", code])
    assert run.returncode in (1, 3)
    assert reasons.diagnose(run.stdout, run.stderr).error == error
