"""Failure reasons from what the programs around a trainer print: shells (in other locales),
IDEs, launchers (Open MPI, MPICH, Ray, torchrun, nccl-tests), JAX's re-raise, and the stamps a log
service puts before every line.

Where the program runs here (bash, dash), it runs: the words are the ones it printed. Where it
cannot (zsh, fish, PyCharm, mpirun, Ray, nccl-tests, CloudWatch), the form is taken from the
program's source, cited beside it. Each form has a near miss that must not be taken for it.
"""

import gettext
import os
import re
import shutil
import subprocess
import sys

import pytest

from helpers.tails import FAILING, check_text, run_tails
from sm_init import reasons

ENDING = "Training command `sh train.sh` exited with code 1."
# The locales whose strsignal() words sm-init knows (glibc's po/ files, Debian's libc-l10n).
LOCALES = ("zh_CN", "zh_TW", "ja", "ko", "de", "fr", "es", "ru", "pt_BR", "it")


def find(text: str, stream: str = "stderr"):
    return reasons.find_error(text, stream)


def known(text: str, stream: str = "stderr"):
    """What a rule that knows the output's form finds: ``find`` less the last resort's guess from
    words alone (error_words.py), which a near miss of a rule may still get."""
    finding = find(text, stream)
    return None if finding is None or finding.name == "error-words" else finding


def assert_not_found_by(text: str, recogniser: str) -> None:
    """A near miss: ``recogniser`` finds nothing in ``text`` (another one may)."""
    finding = find(text)
    assert finding is None or finding.name != recogniser, finding


def translated(locale: str, words: str) -> str:
    """What glibc's strsignal() says in ``locale`` (English where this machine has no translation)."""
    return gettext.translation("libc", "/usr/share/locale", [locale], fallback=True).gettext(words)


# Shells ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("case, recogniser, words", [
    ("killed", "killed", "Killed"),
    ("segfault", "native-crash", "Segmentation fault"),
    ("aborted", "abort", "Aborted"),
])
def test_bash_reports_a_signal_in_its_locale(locale, case, recogniser, words):
    # bash translates its own "line 1:" (bash.mo: "第 1 行：", "Zeile 1:") and prints strsignal()'s
    # word in the locale's language (libc.mo: "已杀死", "Getötet"). LANGUAGE picks the catalogue;
    # C.UTF-8 is the one locale every machine has that does not make gettext ignore LANGUAGE.
    env = dict(os.environ, LC_ALL="C.UTF-8", LANGUAGE=locale)
    run = run_tails(["bash", "-c", f"{sys.executable} {FAILING} {case}; exit $?"], env=env)
    assert run.returncode in (134, 137, 139)
    word = translated(locale, words)
    assert word.encode() in run.stderr, run.stderr[-300:]
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert finding is not None and finding.name == recogniser and word in finding.error, finding
    assert f"{sys.executable} {FAILING} {case}" in finding.error   # the job report, whole


def test_the_known_words_are_glibcs():
    # The table is glibc's translations as this machine has them (where it has them).
    for locale in LOCALES:
        for signal, english in (("SIGKILL", "Killed"), ("SIGSEGV", "Segmentation fault"),
                                ("SIGBUS", "Bus error"), ("SIGABRT", "Aborted"),
                                ("SIGILL", "Illegal instruction")):
            assert translated(locale, english) in reasons.SIGNAL_WORDS[signal], (locale, english)


@pytest.mark.parametrize("line, recogniser", [
    # dash prints strsignal()'s word alone, and a core dump's note after it (bash's own
    # translation of "(core dumped)" where bash prints it).
    ("已杀死", "killed"),
    ("Getötet", "killed"),
    ("Processus arrêté", "killed"),
    ("段错误 (核心已转储)", "native-crash"),
    ("Speicherzugriffsfehler (Speicherabzug geschrieben)", "native-crash"),
    ("Ошибка шины", "native-crash"),
    ("已放弃 (核心已转储)", "abort"),
    ("train.sh: Zeile 3:  7364 Abgebrochen             python3 train.py", "abort"),
    # zsh (Src/signames2.awk's words, lower case, the command after two spaces or more).
    ("zsh: killed     python train.py --epochs 3", "killed"),
    ("zsh: segmentation fault (core dumped)  python train.py", "native-crash"),
    ("[1]  + 14957 bus error  python train.py", "native-crash"),
    ("zsh: abort (core dumped)  python train.py", "abort"),
    # fish (src/proc.rs's "terminated by signal %s (%s)", the job number only beside other jobs).
    ("fish: Job 1, 'python train.py' terminated by signal SIGKILL (Forced quit)", "killed"),
    ("fish: 'python train.py' terminated by signal SIGSEGV (Address boundary error)", "native-crash"),
    ("fish: Process 4242, 'python' from job 1, 'python train.py' terminated by signal SIGABRT (Abort)",
     "abort"),
    # PyCharm's run console: the exit code and the signal with its name.
    ("Process finished with exit code 137 (interrupted by signal 9:SIGKILL)", "killed"),
    ("Process finished with exit code 139 (interrupted by signal 11: SIGSEGV)", "native-crash"),
    ("Process finished with exit code 134 (interrupted by signal 6:SIGABRT)", "abort"),
    # macOS's bash adds the signal's number.
    ("Killed: 9", "killed"),
    ("./train.sh: line 3:  4242 Killed: 9               python train.py", "killed"),
    ("Abort trap: 6", "abort"),
])
def test_signal_reports_of_other_shells_and_ides(line, recogniser):
    finding = find(f"epoch 3 loss 0.25\n{line}\n")
    assert finding is not None and finding.name == recogniser, (line, finding)
    assert finding.error == " ".join(line.split())


@pytest.mark.parametrize("line", [
    "Killed 3 stale workers before the restart",          # English word, but a sentence
    "Speicherzugriffsfehler sind bei CUDA selten",         # a locale's word in prose
    "we got a segmentation fault yesterday, fixed now",    # zsh's word in prose
    "killed 3 zombie processes",                          # zsh's word, no command after two spaces
    "worker terminated by signal SIGTERM (Polite quit request)",   # a signal that is no crash
    "Process finished with exit code 0",                   # success
    "Morto di fame, il processo continua",                 # an Italian word inside a line
])
def test_not_a_signal_report(line):
    assert known(f"epoch 3 loss 0.25\n{line}\n") is None


def bash_runs(script, text, code):
    """What ``bash script`` made of ``text``, run for real: (its stderr, the finding)."""
    script.write_text(text)
    run = run_tails(["bash", str(script)])
    assert run.returncode == code, run.stderr[-300:]
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert finding.name == "launcher-report", finding
    return run.stderr, finding.error


def test_a_harmless_complaint_does_not_beat_a_later_fatal_report(tmp_path):
    # A wrapper script whose first line needs a tool the machine lacks, then runs a python that
    # cannot open its script (exit 2): python's report is the one that explains the exit.
    stderr, error = bash_runs(tmp_path / "train.sh", f"sm-init-test-no-such-tool --query-gpu\n"
                              f"{sys.executable} {tmp_path}/missing.py\n", 2)
    assert b"sm-init-test-no-such-tool: command not found" in stderr
    assert error.endswith(f"can't open file '{tmp_path}/missing.py': [Errno 2] No such file or directory")


def test_a_complaint_alone_is_still_the_report(tmp_path):
    # Nothing else: the last complaint, the one closest to the exit.
    script = tmp_path / "train.sh"
    _stderr, error = bash_runs(script, "sm-init-test-first-tool\nsm-init-test-last-tool\n", 127)
    assert error == f"{script}: line 2: sm-init-test-last-tool: command not found"


def test_bash_running_a_python_file(tmp_path):
    # No #! line: bash runs train.py itself; its imports are "command not found", and the syntax
    # error at the first def is what ended it (bash's parse.y).
    script = tmp_path / "train.py"
    _stderr, error = bash_runs(script, "import os\nimport sys\n\ndef main():\n    pass\n", 2)
    assert error == f"{script}: line 4: syntax error near unexpected token `('"


# Launchers ---------------------------------------------------------------------------------------

# Open MPI's orte/tools/orterun/help-orterun.txt [orterun:non-zero-exit], after the
# [normal-termination-but] note of help-errmgr-base.txt (which is no cause).
OPEN_MPI_NON_ZERO = """\
-------------------------------------------------------
Primary job  terminated normally, but 1 process returned
a non-zero exit code. Per user-direction, the job has been aborted.
-------------------------------------------------------
--------------------------------------------------------------------------
mpirun detected that one or more processes exited with non-zero status, thus causing
the job to be terminated. The first process to do so was:

  Process name: [[29973,1],0]
  Exit code:    1
--------------------------------------------------------------------------
"""


@pytest.mark.parametrize("text, error, hint", [
    (OPEN_MPI_NON_ZERO,
     "mpirun detected that one or more processes exited with non-zero status, thus causing the job to"
     " be terminated. The first process to do so was: Process name: [[29973,1],0]; Exit code: 1", None),
    # ompi/mpi/help-mpi-api.txt's [mpi-abort]: the sentence runs on to its error code.
    ("--------------------------------------------------------------------------\n"
     "MPI_ABORT was invoked on rank 0 in communicator MPI_COMM_WORLD\nwith errorcode 3.\n\n"
     "NOTE: invoking MPI_ABORT causes Open MPI to kill all MPI processes.\n",
     "MPI_ABORT was invoked on rank 0 in communicator MPI_COMM_WORLD with errorcode 3.", None),
    # MPICH's Hydra (ui/mpich/mpiexec.c) when a rank died of a signal.
    ("YOUR APPLICATION TERMINATED WITH THE EXIT STRING: Killed (signal 9)\n"
     "This typically refers to a problem with your application.\n",
     "YOUR APPLICATION TERMINATED WITH THE EXIT STRING: Killed (signal 9)", reasons.HINT_KILLED),
    ("application called MPI_Abort(MPI_COMM_WORLD, 1) - process 0\n",
     "application called MPI_Abort(MPI_COMM_WORLD, 1) - process 0", None),
    # Ray: the GCS's death cause of an actor (gcs_actor_manager), standing alone, and the raylet's
    # memory monitor summary (node_manager.cc).
    ("The actor is dead because its worker process has died. Worker exit type: SYSTEM_ERROR Worker exit"
     " detail: Worker unexpectedly exits with a connection error code 2. End of file.\n",
     "The actor is dead because its worker process has died. Worker exit type: SYSTEM_ERROR Worker exit"
     " detail: Worker unexpectedly exits with a connection error code 2. End of file.", None),
    ("(raylet) node_manager.cc:3040: 1 Workers (tasks / actors) killed due to memory pressure (OOM), 0"
     " Workers crashed due to other reasons at node (ID: 2c82, IP: 172.31.183.172) over the last time"
     " period.\n",
     "raylet: node_manager.cc:3040: 1 Workers (tasks / actors) killed due to memory pressure (OOM), 0"
     " Workers crashed due to other reasons at node (ID: 2c82, IP: 172.31.183.172) over the last time"
     " period.", reasons.HINT_KILLED),
    # PyCharm's run console, no signal: the exit code alone.
    ("step 40 loss 0.1\nProcess finished with exit code 1\n", "Process finished with exit code 1", None),
    # docker compose (v2: "name-1", v1: "name_1"); 137 is 128 + SIGKILL.
    ("trainer-1 exited with code 137\n", "trainer-1 exited with code 137", reasons.HINT_KILLED),
    # Jupyter's notebook (notificationarea.js), VS Code's, Colab's: a kernel that died.
    ("Kernel Restarting\nThe kernel appears to have died. It will restart automatically.\n",
     "The kernel appears to have died. It will restart automatically.", None),
    ("Your session crashed after using all available RAM.\n",
     "Your session crashed after using all available RAM.", reasons.HINT_HOST_MEMORY),
    # Ray's GCS on a node whose raylet stopped answering.
    ("The node with node id: 5ad7 and address: 10.0.0.2 and node name: 10.0.0.2 has been marked dead because the"
     " detector has missed too many heartbeats from it.\n",
     "The node with node id: 5ad7 and address: 10.0.0.2 and node name: 10.0.0.2 has been marked dead because the"
     " detector has missed too many heartbeats from it.", None),
    # Batch systems' limits (LSF's TERM_ reasons, PBS's), make's report of a recipe that failed.
    ("TERM_RUNLIMIT: job killed after reaching LSF run time limit.\nExited with exit code 140.\n",
     "TERM_RUNLIMIT: job killed after reaching LSF run time limit.", None),
    ("=>> PBS: job killed: walltime 3611 exceeded limit 3600\n",
     "=>> PBS: job killed: walltime 3611 exceeded limit 3600", None),
    ("make: *** [Makefile:12: train] Error 1\n", "make: *** [Makefile:12: train] Error 1", None),
    # PyCharm on Windows: an NTSTATUS, negative.
    ("Process finished with exit code -1073741819 (0xC0000005)\n",
     "Process finished with exit code -1073741819 (0xC0000005)", None),
    # A shell or the container runtime that cannot run the entry point.
    ("bash: line 1: ./train.sh: Permission denied\n", "bash: line 1: ./train.sh: Permission denied", None),
    ("exec /usr/local/bin/train: exec format error\n", "exec /usr/local/bin/train: exec format error", None),
])
def test_launcher_reports(text, error, hint):
    finding = find(text)
    assert (finding.name, finding.error, finding.hint) == ("launcher-report", error, hint)


@pytest.mark.parametrize("text, error", [
    # make 4.3 run here: a recipe line through /bin/sh (dash; bash as its SHELL), then one make
    # execs itself (no shell metacharacter), each naming a command that is not there or cannot run.
    ("PATH=. /bin/nvcc -o x\n/bin/sh: 1: /bin/nvcc: not found\nmake: *** [Makefile:2: a] Error 127\n",
     "/bin/sh: 1: /bin/nvcc: not found"),
    ("/bin/bash: line 1: /bin/nvcc: No such file or directory\nmake: *** [Makefile:2: a] Error 127\n",
     "/bin/bash: line 1: /bin/nvcc: No such file or directory"),
    ("/bin/sh: /bin/nvcc: No such file or directory\nmake: *** [Makefile:38: kernel] Error 127\n",
     "/bin/sh: /bin/nvcc: No such file or directory"),
    ("nvcc -o x\nmake: nvcc: No such file or directory\nmake: *** [Makefile:6: c] Error 127\n",
     "make: nvcc: No such file or directory"),
    ("make[1]: ./run: Permission denied\nmake[1]: *** [Makefile:10: e] Error 126\n",
     "make[1]: ./run: Permission denied"),
])
def test_makes_error_127_is_the_command_it_could_not_run(text, error):
    finding = find(text)
    assert (finding.name, finding.error) == ("launcher-report", error), finding


@pytest.mark.parametrize("text", [
    # The recipe's command ran and failed (Error 1): the complaint right above it was survived.
    "./prep.sh: line 3: nvidia-smi: command not found\nmake: *** [Makefile:3: train] Error 1\n",
    # A complaint far above make's line: another command's, not the recipe's that failed.
    "/bin/sh: 1: nvcc: not found\nbuilding\nlinking\nchecking\nmake: *** [Makefile:3: train] Error 127\n",
])
def test_makes_report_stays_where_the_complaint_is_not_its_commands(text):
    finding = find(text)
    assert finding.name == "launcher-report" and finding.error.startswith("make: ***"), finding


# A script with CR LF line ends run by bash (5.2 run here): its blank line's "$'\r'" complaint, then
# what its broken lines made fail (a python given "--lr\r", coreutils' quoted name).
CRLF_RUN = ("train.sh: line 2: $'\\r': command not found\n"
            "Traceback (most recent call last):\n  File \"train.py\", line 3, in <module>\n"
            "    raise RuntimeError()\nRuntimeError\n"
            "train.sh: line 4: --save-dir: command not found\n")


@pytest.mark.parametrize("text, error", [
    (CRLF_RUN, "train.sh: line 2: $'\\r': command not found"),
    ("ls: cannot access '/data'$'\\r': No such file or directory\nValueError: no data\n",
     "ls: cannot access '/data'$'\\r': No such file or directory"),
])
def test_a_crlf_scripts_first_complaint_is_the_cause(text, error):
    finding = find(text)
    assert (finding.name, finding.error) == ("crlf-script", error), finding


def test_a_known_cause_beats_a_crlf_scripts_complaint():
    # The script lived on (python's float("0.1\r") is 0.1) and ran out of GPU memory: that ended it.
    text = CRLF_RUN.replace("    raise RuntimeError()\nRuntimeError\n",
                            "    x.cuda()\ntorch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB\n")
    assert find(text).name == "cuda-oom"


@pytest.mark.parametrize("line", [
    "train.sh: line 2: $'\\t': command not found",           # another control character: no CR LF
    "train.sh: line 2: $'\\r': command not found, it said",   # not the complaint's end
    "{'x\\r': 'command not found'}",                          # a dict's repr, not a complaint
])
def test_not_a_crlf_scripts_complaint(line):
    assert_not_found_by(line + "\nRuntimeError: x\n", "crlf-script")


def test_horovods_report_raised_with_its_fields():
    # horovod/runner/gloo_run.py raises Open MPI's sentence as a RuntimeError, its fields below it.
    text = ("Traceback (most recent call last):\n  File \"/usr/bin/horovodrun\", line 8, in <module>\n"
            "    sys.exit(run_commandline())\n"
            "RuntimeError: Horovod detected that one or more processes exited with non-zero status, thus"
            " causing the job to be terminated. The first process to do so was:\nProcess name: 1\nExit code: 1\n")
    finding = find(text)
    assert finding.name == "python-traceback"
    assert finding.error.endswith("The first process to do so was: Process name: 1; Exit code: 1")


@pytest.mark.parametrize("text", [
    # Open MPI's note that the job was aborted says nothing of which process or how.
    "Primary job  terminated normally, but 1 process returned\na non-zero exit code. Per user-direction,"
    " the job has been aborted.\n",
    "Ray: the actor is healthy; no worker process has died\n",
    "Process finished with exit code 0\n",
])
def test_not_a_launcher_report(text):
    assert known(text) is None


# Slurm (src/slurmd/slurmstepd: the cgroup's OOM count, the step's cancellation; src/srun: a
# task's end), Intel MPI's Hydra box, LSF, PBS, make, Rust.
@pytest.mark.parametrize("text, recogniser, error, hint", [
    ("slurmstepd: error: Detected 1 oom_kill event in StepId=7.0. Some of the step tasks have been OOM"
     " Killed.\nsrun: error: node1: task 0: Out Of Memory\n", "killed",
     "slurmstepd: error: Detected 1 oom_kill event in StepId=7.0. Some of the step tasks have been OOM"
     " Killed.", reasons.HINT_KILLED),
    # Older slurmstepd (task/cgroup's "Detected %u oom-kill event(s) in %ps"), before srun's words.
    ("slurmstepd: error: Detected 1 oom-kill event(s) in StepId=191.batch cgroup. Some of your processes"
     " may have been killed by the cgroup out-of-memory handler.\nsrun: error: n1: task 0: Out Of Memory\n",
     "killed", "slurmstepd: error: Detected 1 oom-kill event(s) in StepId=191.batch cgroup. Some of your"
     " processes may have been killed by the cgroup out-of-memory handler.", reasons.HINT_KILLED),
    ("epoch 3\nsrun: error: node1: tasks 0-3: Killed\n", "killed", "srun: error: node1: tasks 0-3: Killed",
     reasons.HINT_KILLED),
    ("slurmstepd: error: *** JOB 7 ON node1 CANCELLED AT 2024-01-12T19:26:34 DUE TO TIME LIMIT ***\n",
     "launcher-report", "slurmstepd: error: *** JOB 7 ON node1 CANCELLED AT 2024-01-12T19:26:34 DUE TO"
     " TIME LIMIT ***", None),
    ("srun: error: node1: task 1: Exited with exit code 3\n", "launcher-report",
     "srun: error: node1: task 1: Exited with exit code 3", None),
    ("===================================================================================\n"
     "=   BAD TERMINATION OF ONE OF YOUR APPLICATION PROCESSES\n=   RANK 0 PID 5490 RUNNING AT gn59\n"
     "=   KILLED BY SIGNAL: 9 (Killed)\n"
     "===================================================================================\n",
     "launcher-report", "BAD TERMINATION OF ONE OF YOUR APPLICATION PROCESSES; KILLED BY SIGNAL: 9 (Killed)",
     reasons.HINT_KILLED),
    # LSF's and PBS's memory limits, make's report of its recipe's SIGKILL: a kill, the OOM hint.
    ("TERM_MEMLIMIT: job killed after reaching LSF memory usage limit.\nExited with exit code 137.\n", "killed",
     "TERM_MEMLIMIT: job killed after reaching LSF memory usage limit.", reasons.HINT_KILLED),
    ("=>> PBS: job killed: mem 4194304kb exceeded limit 4000000kb\n", "killed",
     "=>> PBS: job killed: mem 4194304kb exceeded limit 4000000kb", reasons.HINT_KILLED),
    ("make: *** [Makefile:3: train] Killed\n", "killed", "make: *** [Makefile:3: train] Killed", reasons.HINT_KILLED),
    # gcc's driver's report of a compiler a signal killed (gcc.c's execute(), strsignal's word; run
    # below): a build's cc1plus that the OOM killer took, before make's "Error 1" and a build
    # script's traceback that says only that the compile failed.
    ("c++: fatal error: Killed signal terminated program cc1plus\ncompilation terminated.\n"
     "make[2]: *** [CMakeFiles/op.dir/op.cpp.o] Error 1\n", "killed",
     "c++: fatal error: Killed signal terminated program cc1plus", reasons.HINT_KILLED),
    ("Traceback (most recent call last):\n  File \"build.py\", line 3, in <module>\n    assert ok\n"
     "AssertionError: Compilation failed. Stopping.\n"
     "g++: fatal error: Killed signal terminated program cc1plus\ncompilation terminated.\n", "killed",
     "g++: fatal error: Killed signal terminated program cc1plus", reasons.HINT_KILLED),
    # Rust's panic (HF tokenizers): std's "thread 'NAME' panicked at FILE:LINE:COL:".
    ("thread '<unnamed>' panicked at src/models/bpe/trainer.rs:526:47:\nattempt to add with overflow\n",
     "fatal-log", "thread '<unnamed>' panicked at src/models/bpe/trainer.rs:526:47:", None),
])
def test_batch_systems_and_schedulers(text, recogniser, error, hint):
    finding = find(text)
    assert (finding.name, finding.error, finding.hint) == (recogniser, error, hint)


@pytest.mark.parametrize("text", [
    "sysctl vm.oom_kill_allocating_task=1 set\n",
    "srun: error: node1: task 0: Completed\n",
    "scheduled maintenance CANCELLED, jobs run as usual\n",
])
def test_not_a_slurm_report(text):
    assert known(text) is None


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")
def test_gcc_reports_its_killed_compiler(tmp_path):
    # g++ run here, its cc1plus (found by its parent's pid) sent SIGKILL: the driver's own words.
    import signal
    import time
    source = tmp_path / "big.cc"
    source.write_text("#include <regex>\n#include <map>\n#include <string>\n"
                      "int main() { std::regex r(\"a+\"); std::map<std::string, int> m; return m.size(); }\n")
    build = subprocess.Popen(["g++", "-O2", "-c", str(source), "-o", str(tmp_path / "big.o")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    child = None
    for _ in range(200):
        children = subprocess.run(["ps", "-o", "pid=,comm=", "--ppid", str(build.pid)],
                                  capture_output=True, text=True).stdout.split()
        if "cc1plus" in children:
            child = int(children[children.index("cc1plus") - 1])
            break
        time.sleep(0.01)
    if child is None:
        build.communicate()
        pytest.skip("cc1plus ended before it could be killed")
    os.kill(child, signal.SIGKILL)
    stdout, stderr = build.communicate()
    assert build.returncode != 0
    finding = reasons.diagnose(stdout, stderr)
    assert (finding.name, finding.error) == ("killed", "g++: fatal error: Killed signal terminated program cc1plus"), stderr


@pytest.mark.parametrize("text", [
    "cc1plus: fatal error: op.h: No such file or directory\ncompilation terminated.\n",   # no signal
    "note: 'fatal error: Killed signal terminated program cc1plus' means more swap\n",     # prose
])
def test_not_gccs_killed_compiler(text):
    assert_not_found_by(text, "killed")


def test_running_out_of_host_memory_in_python():
    # A real MemoryError: the hint is the host's memory, not the GPU's.
    run = run_tails([sys.executable, "-c", "buffers = bytearray(1 << 62)"])
    assert run.returncode == 1
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert (finding.error, finding.hint) == ("MemoryError", reasons.HINT_HOST_MEMORY)


@pytest.mark.parametrize("text, hint", [
    # libstdc++'s verbose terminate handler.
    ("terminate called after throwing an instance of 'std::bad_alloc'\n  what():  std::bad_alloc\n"
     "Aborted (core dumped)\n", reasons.HINT_HOST_MEMORY),
    ("numpy.core._exceptions._ArrayMemoryError: Unable to allocate 8.00 GiB for an array with shape"
     " (1073741824,) and data type float64\n", reasons.HINT_HOST_MEMORY),
    # The GPU's memory has its own hint; an error that names a MemoryError in passing gets none.
    ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB.\n", reasons.HINT_CUDA_OOM),
    ("ValueError: expected MemoryErrorHandler, got None\n", None),
])
def test_the_host_memory_hint(text, hint):
    assert find(text).hint == hint


# NCCL and JAX ------------------------------------------------------------------------------------

NCCL_TESTS_FORMS = [
    # nccl-tests' NCCLCHECK (src/common.h), older and newer.
    ("NCCL failure common.cu:908 'unhandled cuda error'.\n", "nccl",
     "NCCL failure common.cu:908 'unhandled cuda error'."),
    ("host1: Test NCCL failure common.cu:1005 'remote process exited or there was a network error / '\n",
     "nccl", "host1: Test NCCL failure common.cu:1005 'remote process exited or there was a network error / '"),
    # Its CUDACHECK: running out of memory is an OOM, not an NCCL error.
    ("host1: Test CUDA failure common.cu:732 'out of memory'\n", "cuda-oom",
     "host1: Test CUDA failure common.cu:732 'out of memory'"),
    # XLA's status of a failed NCCL call (xla/service/gpu ToStatus: "%s:%d: NCCL operation %s failed:
    # %s"), in its collective's XlaRuntimeError, on one line or where a terminal wrapped the message.
    ("jaxlib.xla_extension.XlaRuntimeError: INTERNAL: custom call 'xla.gpu.all_reduce' failed: "
     "nccl_utils.cc:133: NCCL operation ncclGetUniqueId(&id) failed: Unable to load NCCL library.\n", "nccl",
     "jaxlib.xla_extension.XlaRuntimeError: INTERNAL: custom call 'xla.gpu.all_reduce' failed: "
     "nccl_utils.cc:133: NCCL operation ncclGetUniqueId(&id) failed: Unable to load NCCL library."),
    ("jaxlib.xla_extension.XlaRuntimeError: INTERNAL: custom call 'xla.gpu.all_reduce' failed:\n"
     "external/xla/xla/service/gpu/nccl_utils.cc:133: NCCL operation ncclCommInitRank(&comm, 2, id, 0)"
     " failed: unhandled system error\n", "nccl",
     "external/xla/xla/service/gpu/nccl_utils.cc:133: NCCL operation ncclCommInitRank(&comm, 2, id, 0)"
     " failed: unhandled system error"),
]


@pytest.mark.parametrize("line", [
    "INFO: NCCL operation timing enabled",              # no NCCL call named
    "NCCL operation ncclAllReduce completed in 3 ms",  # a call's name, not XLA's failed call
])
def test_not_xlas_failed_nccl_call(line):
    assert_not_found_by(line + "\nValueError: x\n", "nccl")


def test_nccls_warning_says_what_the_error_does_not():
    # NCCL's debug.cc warns where the failure happened ("host:pid:tid [dev] NCCL WARN ..."), before
    # the error its caller raises, the failure's return going up at INFO level; a warning at
    # start-up came earlier and is not it, nor is another rank's warning.
    text = ("[rank0]:node1:77:77 [0] NCCL WARN NET/Plugin: Failed to find ncclNetPlugin_v6 symbol.\n"
            "[rank0]:node1:77:77 [0] NCCL INFO Using network Socket\n"
            "[rank0]:node1:77:77 [0] NCCL WARN Cuda failure 'peer access is not supported'\n"
            "[rank1]:node1:78:78 [1] NCCL WARN NET/Socket : unknown interface eth9\n"
            "[rank0]:node1:77:77 [0] NCCL INFO transport/p2p.cc:275 -> 1\n"
            "[rank0]:node1:77:77 [0] NCCL INFO init.cc:1234 -> 1\n"
            "[rank0]: torch.distributed.DistBackendError: NCCL error in: ProcessGroupNCCL.cpp:1970,"
            " unhandled cuda error, NCCL version 2.20.5\n")
    finding = find(text)
    assert finding.name == "nccl"
    assert finding.error == ("rank 0: torch.distributed.DistBackendError: NCCL error in: ProcessGroupNCCL.cpp:1970,"
                             " unhandled cuda error, NCCL version 2.20.5; NCCL WARN Cuda failure 'peer access"
                             " is not supported'")



def test_nccls_first_failed_warning_is_the_cause():
    # Two warnings each followed by its failure's return (checks.h's NCCLCHECK: INFO "%s:%d -> %d"):
    # the first is where it failed (an InfiniBand completion error on the proxy thread); the CUDA
    # failure after the communicators were destroyed is its consequence.
    text = ("gpu5:35917:35994 [0] transport/net_ib.cu:788 NCCL WARN NET/IB : Got completion with error 12,"
            " opcode 1, len 0, vendor err 129\n"
            "gpu5:35917:35994 [0] NCCL INFO include/net.h:34 -> 2\n"
            "gpu5:35917:35994 [0] NCCL INFO transport.cu:163 -> 2 [Proxy Thread]\n"
            "gpu5:35917:35917 [0] NCCL INFO Destroyed comm 0x7f24c4001af0 rank 4\n"
            "gpu5:35917:35917 [1] init.cu:194 NCCL WARN Cuda failure 'an illegal memory access was encountered'\n"
            "gpu5:35917:35917 [1] NCCL INFO init.cu:1143 -> 1\n"
            "gpu5: Test NCCL failure common.cu:343 'unhandled cuda error'\n")
    finding = find(text)
    assert (finding.name, finding.error) == ("nccl", "gpu5: Test NCCL failure common.cu:343 'unhandled cuda error';"
                                             " NCCL WARN NET/IB : Got completion with error 12, opcode 1, len 0,"
                                             " vendor err 129")
    # A warning no failure's return follows (a probe's, a start-up notice) is not it: the last one is.
    notice = text.replace("gpu5:35917:35994 [0] NCCL INFO include/net.h:34 -> 2\n", "").replace(
        "gpu5:35917:35994 [0] NCCL INFO transport.cu:163 -> 2 [Proxy Thread]\n", "").replace(
        "gpu5:35917:35917 [1] NCCL INFO init.cu:1143 -> 1\n", "")
    assert find(notice).error.endswith("NCCL WARN Cuda failure 'an illegal memory access was encountered'")


OLD_NCCL_WARN = "gpu1:4242:4250 [0] include/socket.h:185 WARN Call to connect failed : Connection refused\n"


@pytest.mark.parametrize("failure", [
    "NCCL failure allreduce.cu:110 'unhandled system error'\n",   # NCCL's examples' and old nccl-tests' NCCLCHECK
    "RuntimeError: NCCL error in: ProcessGroupNCCL.cpp:272, unhandled system error\n",   # torch's
])
def test_nccl_2_3s_warning_right_above_the_failure(failure):
    # NCCL 2.0 to 2.3 (src/include/debug.h's WARN macro: "\n%s:%d:%d [%d] %s:%d WARN ") put no "NCCL"
    # before WARN and no failure's return after it at WARN level: the line right above the failure.
    finding = find("\n" + OLD_NCCL_WARN + failure)
    assert finding.name == "nccl"
    assert finding.error == failure.strip() + "; NCCL WARN Call to connect failed : Connection refused"


@pytest.mark.parametrize("text", [
    OLD_NCCL_WARN + "step 3 done\nNCCL failure allreduce.cu:110 'unhandled system error'\n",   # not right above
    "[0] train.py:12 WARN lr is high\nNCCL failure allreduce.cu:110 'unhandled system error'\n",  # not NCCL's file
])
def test_not_nccl_2_3s_warning(text):
    assert find(text).error == "NCCL failure allreduce.cu:110 'unhandled system error'"


TORCH_FORMS = [
    # torch 2.4+'s ProcessGroupNCCL.cpp watchdog, behind the rank prefix and glog's header.
    ("[rank0]:[E1010 14:02:23.471445591 ProcessGroupNCCL.cpp:632] [Rank 0] Watchdog caught collective"
     " operation timeout: WorkNCCL(SeqNum=5, OpType=ALLREDUCE, NumelIn=1, NumelOut=1, Timeout(ms)=600000) ran"
     " for 600089 milliseconds before timing out.\n", "nccl",
     "rank 0: [Rank 0] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=5, OpType=ALLREDUCE,"
     " NumelIn=1, NumelOut=1, Timeout(ms)=600000) ran for 600089 milliseconds before timing out."),
    # The watchdog's exception escaping its thread: c10::DistBackendError through std::terminate.
    ("terminate called after throwing an instance of 'c10::DistBackendError'\n  what():  [PG ID 0 PG GUID"
     " 0(default_pg) Rank 1] Process group watchdog thread terminated with exception: [Rank 1] Watchdog"
     " caught collective operation timeout: WorkNCCL(SeqNum=9, OpType=BROADCAST) ran for 1800000"
     " milliseconds before timing out.\nAborted (core dumped)\n", "nccl",
     "[PG ID 0 PG GUID 0(default_pg) Rank 1] Process group watchdog thread terminated with exception: [Rank 1]"
     " Watchdog caught collective operation timeout: WorkNCCL(SeqNum=9, OpType=BROADCAST) ran for 1800000"
     " milliseconds before timing out."),
    # c10/cuda's message (CUDAException.cpp): the error, then torch's advice, which the hint replaces.
    ("RuntimeError: CUDA error: an illegal memory access was encountered\nCUDA kernel errors might be"
     " asynchronously reported at some other API call, so the stacktrace below might be incorrect.\n"
     "For debugging consider passing CUDA_LAUNCH_BLOCKING=1\n"
     "Compile with `TORCH_USE_CUDA_DSA` to enable device-side assertions.\n", "cuda-error",
     "RuntimeError: CUDA error: an illegal memory access was encountered"),
    # torch 2.8+ raises CUDA errors as torch.AcceleratorError.
    ("torch.AcceleratorError: CUDA error: misaligned address\n", "cuda-error",
     "torch.AcceleratorError: CUDA error: misaligned address"),
]


@pytest.mark.parametrize("text, recogniser, error", NCCL_TESTS_FORMS + TORCH_FORMS)
def test_nccl_and_cuda_forms(text, recogniser, error):
    finding = find(text)
    assert (finding.name, finding.error) == (recogniser, error)


def test_not_an_nccl_failure():
    assert known("NCCL failure rate 0.1% across 8 runs\nstep 3 ok\n") is None


def test_jaxs_unfiltered_trace_is_its_error():
    # jax/_src/traceback_util.py: UnfilteredStackTrace(format_exception_only(e) + "\n\n" + advice),
    # printed as the cause of the filtered error; a paste may keep only its first line.
    text = ("jax._src.traceback_util.UnfilteredStackTrace: jax._src.errors.ConcretizationTypeError: Abstract"
            " tracer value encountered where concrete value is expected: Traced<ShapedArray(bool[])>\n"
            "The problem arose with the `bool` function.\n")
    finding = find(text)
    assert finding.name == "exception-line"
    assert finding.error == ("jax._src.errors.ConcretizationTypeError: Abstract tracer value encountered where"
                             " concrete value is expected: Traced<ShapedArray(bool[])>")


# JAX's tracer errors (jax/_src/errors.py: the message, the tracer's _error_repr(), then core.py's
# _origin_msg() on the next line): a paste that starts at the message has the class in its words.
@pytest.mark.parametrize("text, error", [
    ("Attempted boolean conversion of traced array with shape bool[]..\nThe error occurred while tracing the"
     " function step at train.py:41 for jit. This concrete value was not available in Python because it depends"
     " on the value of the argument x.\n",
     "TracerBoolConversionError: Attempted boolean conversion of traced array with shape bool[].."),
    ("The __index__() method was called on traced array with shape int32[].\nWhile tracing the function f at"
     " a.py:3 for jit, this value became a tracer due to JAX operations on these lines:\n",
     "TracerIntegerConversionError: The __index__() method was called on traced array with shape int32[]."),
])
def test_jaxs_tracer_error_without_its_name(text, error):
    finding = find(text)
    assert (finding.name, finding.error) == ("exception-line", error)


@pytest.mark.parametrize("text", [
    "Attempted boolean conversion of traced array with shape bool[]..\n",          # no origin below it
    "Attempted boolean conversion of traced array with shape bool[]..\nstep 3\n"
    "The error occurred while tracing the function f at a.py:3 for jit.\n",      # not right below
    "We tried boolean conversion first.\nThe error occurred while tracing the function f at a.py:3 for jit.\n",
])
def test_not_jaxs_tracer_error(text):
    assert_not_found_by(text, "exception-line")


def test_not_an_unfiltered_trace():
    assert find("jax._src.traceback_util.UnfilteredStackTrace: see the frames above\n") is None


# Log services' stamps ------------------------------------------------------------------------------

TRACEBACK = ['Traceback (most recent call last):',
             '  File "/opt/ml/code/train.py", line 12, in <module>',
             '    raise ValueError("bad lr")  # not CUDA out of memory',
             'ValueError: bad lr']


@pytest.mark.parametrize("stamp", [
    "2024-01-12T19:26:34.787654321Z ",                  # docker logs -t, kubectl logs --timestamps
    "2024-01-12T19:26:34.787654321Z stderr F ",         # a CRI log file (/var/log/pods)
    "2024-01-12T19:26:34.787+08:00\t",                  # CloudWatch, an export
    "2024-01-12T19:26:34+0000 algo-1 python3[4242]: ",   # journalctl -o short-iso
    "Jan 12 19:26:34 algo-1 python3[4242]: ",            # syslog, journalctl's default
    "Jan  2 19:26:34 algo-1 train: ",                    # syslog, a day of one digit
    "[2024-01-12 19:26:34,787] [INFO] ",                 # Python logging, DeepSpeed's format
    "2024-01-12 19:26:34,787 - ERROR - ",                # Python logging, "%(asctime)s - %(levelname)s - "
    "01/12/2024 19:26:34 - ERROR - ",                    # Hugging Face's examples: datefmt="%m/%d/%Y %H:%M:%S"
    "0: ",                                               # srun --label
    "[rank: 1] ",                                       # Lightning
    "[trainer0]:",                                       # torchrun --tee, a named role
    "[1,mpirank:0,algo-1]<stderr>:",                     # mpirun --tag-output with the host
    "[pod/trainer-0/pytorch] ",                          # kubectl logs --prefix
    # Determined: `det trial logs` (master/internal/db/postgres_trial_logs.go's text form), with the rank
    # or without; its web UI's copy (LogViewer.tsx's formatClipboardHeader, "%-9s %21s ") before it.
    "[2021-12-07T10:43:01Z] 087c0ee7 [rank=1] || ",
    "[2021-12-07T10:43:01Z] 087c0ee7 || ",
    "<>        [2021-12-07 10:43:01] 087c0ee7 || ",
    "<info>    [2021-12-07, 10:43:01] 087c0ee7 || ",
    "#8 12.34 ",                                         # BuildKit's plain progress, a RUN step's output
])
def test_a_stamp_before_every_line_is_peeled(stamp):
    # The traceback reads as one behind the stamps: its source line (which names a known cause in
    # a comment) stays code, the exception line closes it.
    text = "".join(stamp + line + "\n" for line in TRACEBACK)
    finding = find(text)
    assert finding is not None and finding.name == "python-traceback", finding
    assert finding.error.endswith("ValueError: bad lr")


@pytest.mark.parametrize("raw, actor", [
    ("(RayWorkerVllm pid=5304, ip=10.0.0.2) x", "RayWorkerVllm pid=5304"),
    ("(raylet) x", "raylet"),
    # A worker with no actor or task name: python/ray/experimental/tqdm_ray.py's "(pid={}) " and
    # "(pid={}, ip={}) ", the form the driver prints its workers' lines in.
    ("(pid=2580) x", "pid=2580"),
    ("(pid=2580, ip=10.0.0.2) x", "pid=2580"),
    ("(raylet, ip=10.0.0.2) x", "raylet"),
    # A daemon's log file relayed by log_monitor.py, its pid the daemon's name (worker.py's
    # print_worker_logs puts "pid=" before it): the runtime-env agent's, the GCS server's.
    ("(pid=runtime_env, ip=192.168.1.100) x", "pid=runtime_env"),
    ("(pid=gcs_server) x", "pid=gcs_server"),
    ("[pod/trainer-0/pytorch] x", "pod/trainer-0"),
])
def test_processes_named_before_every_line(raw, actor):
    assert reasons.split_prefixes(raw) == ("x", None, None, actor)


def test_determineds_prefix_keeps_the_rank():
    assert reasons.split_prefixes("[2021-12-07T10:43:01Z] 087c0ee7 [rank=3] ||     raise x") == (
        "    raise x", "3", None, None)


@pytest.mark.parametrize("raw, text", [
    ("[2021-12-07T10:43:01Z] 087c0ee7 ready", "087c0ee7 ready"),   # no " || ": a stamp, then the line
    ("<b> bold text", "<b> bold text"),                            # a tag, no stamp after it
    ("<info> [2021-12-07] x", "<info> [2021-12-07] x"),            # a date without its time
])
def test_not_determineds_prefix(raw, text):
    assert reasons.split_prefixes(raw)[0] == text


# A name log_monitor.py never gives a pid (a word in parentheses is prose): not Ray's.
@pytest.mark.parametrize("raw", ["(pids=2580) x", "(pid=) x", "(the pid=2580 of it) x",
                                 "(pid=unknown, ip=10.0.0.2) x"])
def test_not_a_ray_workers_name(raw):
    assert reasons.split_prefixes(raw) == (raw, None, None, None)


def _reframed_texts(text: str):
    return [line.text for line in reasons.reframed(reasons.read_lines("stderr", text.encode()))]


def test_a_pastes_markdown_bold_line_is_its_text():
    # A poster's "**Killed**" (CommonMark strong emphasis around the whole line): the shell's word.
    text = "100%|#####| 837/837 [07:11<00:00,  1.94it/s]\ntrain poses bds tensor([1.0])\n**Killed**\n"
    assert _reframed_texts(text)[-1] == "Killed"
    finding = find(text)
    assert finding is not None and finding.error == "Killed", finding


@pytest.mark.parametrize("line", [
    "** Killed **",               # a space inside the stars: no emphasis, no program's word either
    "**Killed** by the watchdog",  # bold words in a sentence: the line is the sentence
    "**",                          # a rule or a glob's stars
])
def test_not_a_bold_line(line):
    text = "epoch 1\n" + line + "\n"
    texts = _reframed_texts(text)
    assert texts[-1] == line, texts
    assert_not_found_by(text, "killed")


def test_a_block_quoted_paste_is_read_without_its_markers():
    # Every line quoted ("> ", CommonMark's block quote): read as the program printed it, the prefixes
    # behind the marker peeled as any line's, a traceback's indentation kept.
    text = "".join("> " + line + "\n" for line in TRACEBACK)
    assert _reframed_texts(text) == [line for line in TRACEBACK if line.strip()]
    assert find(text).error == "ValueError: bad lr"
    stamped = "> 2024-01-12 19:26:34 [ERROR] x\n> y\n"
    assert _reframed_texts(stamped) == ["x", "y"]


def test_a_quote_among_unquoted_lines_stays():
    # A shell's continuation prompt (PS2, "> ") or one quoted line in a log: not a paste's quote.
    text = "$ for f in a b\n> do echo $f\n> done\na\n"
    assert _reframed_texts(text) == ["$ for f in a b", "> do echo $f", "> done", "a"]


def test_the_sagemaker_sdks_status_line_glued_to_the_jobs_first_line():
    # logs_for_job prints secondary_training_status_message ("%Y-%m-%d %H:%M:%S {Status} - {msg}")
    # with end='', then a "." each poll: the container's first line lands after the dots.
    text = ("2024-05-14 12:57:17 Downloading - Downloading the training image\n"
            "2024-05-14 12:57:17 Training - Training image download completed. Training in progress.."
            "[FATAL tini (7)] exec train failed: Permission denied\n")
    assert _reframed_texts(text)[-1] == "[FATAL tini (7)] exec train failed: Permission denied"


@pytest.mark.parametrize("line", [
    # The status line alone, its dots ending the line.
    "2024-05-14 12:57:17 Training - Training image download completed. Training in progress...",
    # A period inside the message ("ml.p3.2xlarge") is no end of it.
    "2024-05-14 12:57:17 Starting - Launching ml.p3.2xlarge instances",
    # Not a SecondaryStatus: a logger's line with dots in it.
    "2024-05-14 12:57:17 Epoch - waiting..done",
    # No stamp before it: not the SDK's line.
    "Training - Training in progress..[FATAL tini (7)] exec train failed",
])
def test_not_the_sagemaker_sdks_glued_status_line(line):
    texts = _reframed_texts(line + "\n")
    assert texts[-1].endswith(line.split(" ", 2)[2] if line[0].isdigit() else line), texts


def test_a_consoles_column_is_not_the_programs_indentation():
    # CloudWatch's console, copied: every message behind its stamp and the same run of spaces.
    lines = ["2024-01-12T19:26:34.787+08:00                " + line.strip() for line in TRACEBACK[1:]]
    read = reasons.read_lines("stderr", "\n".join(lines).encode())
    assert [line.text for line in read] == [line.strip() for line in TRACEBACK[1:]]
    assert find("\n".join(lines)).error == "ValueError: bad lr"


def test_a_kill_behind_buildkits_prefix():
    # docker build --progress=plain (BuildKit: "#N " and the seconds since the step started before
    # each line a RUN step printed), pip killed while it downloads a wheel, then BuildKit's own error.
    text = ("#0 13.62 Collecting torch==2.0.0\n#0 13.67   Downloading torch-2.0.0-cp310-linux_x86_64.whl (1826.5 MB)\n"
            "#0 381.7 Killed\n------\nERROR: failed to solve: executor failed running [/bin/sh -c pip install -e .]:"
            " exit code: 137\n")
    finding = find(text)
    assert (finding.name, finding.error) == ("killed", "Killed"), finding


@pytest.mark.parametrize("raw", [
    "2024-01-12 was the day the run failed",     # a date, no time
    "19:26:34 step 3 loss 0.5",                  # a time alone
    "[INFO] rank 1 ready",                       # a level alone
    "Jan 12 is the deadline",                    # a month and a day, no time
    "step 100: loss 0.25",                       # a number after a word is no srun label
    "#8 [3/5] RUN pip install -e .",             # BuildKit's step title: no seconds
    "#8 DONE 12.3s",                             # its step's end
])
def test_what_is_no_stamp_stays(raw):
    assert reasons.split_prefixes(raw) == (raw, None, None, None)


def test_a_stamped_failure_text_keeps_its_limit():
    text = "".join("2024-01-12T19:26:34.787654321Z " + line + "\n" for line in TRACEBACK * 200)
    check_text(reasons.failure_text(ENDING, b"", text.encode()))


def test_srun_right_aligns_its_labels_and_code_keeps_its_indentation():
    # srun --label pads task numbers to the widest ("%*d: "): " 3: " beside "12: ".
    read = reasons.read_lines("stderr", b" 3: ValueError: x\n12: ValueError: y\n    raise ValueError(x)\n")
    assert [(line.text, line.rank) for line in read] == [
        ("ValueError: x", "3"), ("ValueError: y", "12"), ("    raise ValueError(x)", None)]


# argparse ----------------------------------------------------------------------------------------

def argparse_run(tmp_path, source, *args):
    """A script whose argparse stops it, run for real: (its stderr, the finding)."""
    script = tmp_path / "train.py"
    script.write_text("import argparse\nparser = argparse.ArgumentParser()\n" + source)
    run = run_tails([sys.executable, str(script), *args])
    assert run.returncode == 2, run.stderr[-300:]
    return run.stderr, reasons.diagnose(run.stdout, run.stderr)


@pytest.mark.parametrize("source, args, error", [
    # Lib/argparse.py's own messages after "%(prog)s: error: ": enough alone (a paste of that line).
    ("parser.add_argument('--local_rank', type=int)\nparser.parse_args()\n", ["--local-rank=0"],
     "train.py: error: unrecognized arguments: --local-rank=0"),
    ("parser.add_argument('--dataset_name', '--dataset-name', required=True)\nparser.parse_args()\n", [],
     "train.py: error: the following arguments are required: --dataset_name/--dataset-name"),
    ("parser.add_argument('--mode', choices=['a', 'b'])\nparser.parse_args()\n", ["--mode", "c"],
     "train.py: error: argument --mode: invalid choice: 'c' (choose from a, b)"),
    # A script's own parser.error(): known by the usage line argparse printed before it.
    ("parser.parse_args()\nparser.error('no data under /opt/ml/input')\n", [],
     "train.py: error: no data under /opt/ml/input"),
])
def test_argparse_stops_a_script(tmp_path, source, args, error):
    stderr, finding = argparse_run(tmp_path, source, *args)
    assert stderr.startswith(b"usage: train.py")
    assert (finding.name, finding.error.replace("'a', 'b'", "a, b")) == ("argparse-error", error)
    alone = find(stderr.decode().split("\n", 1)[1])   # the usage lost: argparse's own words still count
    assert (alone.name == "argparse-error") == (error != "train.py: error: no data under /opt/ml/input"), alone
    assert alone.error.replace("'a', 'b'", "a, b") == error   # the script's own words: only a guess from them


def test_argparses_report_beats_the_launchers():
    # torchrun's agent reports the exit code 2 that argparse's exit gave the rank.
    text = ("main.py: error: unrecognized arguments: --local-rank=0\n"
            "main.py: error: unrecognized arguments: --local-rank=1\n"
            "ERROR:torch.distributed.elastic.multiprocessing.api:failed (exitcode: 2) local_rank: 0"
            " (pid: 622) of binary: /usr/bin/python\n")
    finding = find(text)
    assert (finding.name, finding.error) == ("argparse-error",
                                             "main.py: error: unrecognized arguments: --local-rank=0")


def test_argparse_under_torchrun(tmp_path):
    pytest.importorskip("torch", reason="tests/run installs torch (the test extra)")
    from helpers.net import free_port
    script = tmp_path / "train.py"
    script.write_text("import argparse\nparser = argparse.ArgumentParser()\n"
                      "parser.add_argument('--data', required=True)\nparser.parse_args()\n")
    run = run_tails([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "1",
                     "--master-port", str(free_port()), str(script)])
    assert run.returncode == 1 and b"exitcode: 2" in run.stderr, run.stderr[-2000:]
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert finding.error.endswith("train.py: error: the following arguments are required: --data"), finding


@pytest.mark.parametrize("text", [
    "srun: error: Unable to create step for job 7: Invalid generic resource (gres) specification\n",
    "train.py: error: data missing\n",              # no argparse message, no usage printed before it
    "usage: other.py [-h]\ntrain.py: error: data missing\n",   # another program's usage
])
def test_not_argparses_report(text):
    assert_not_found_by(text, "argparse-error")


# Python logging's default line (Lib/logging/__init__.py's BASIC_FORMAT, "%(levelname)s:%(name)s:%(message)s",
# as basicConfig() sets it): python run here, a program that logged why it stopped and exited 1.
def test_loggings_default_error_line_when_nothing_else(tmp_path):
    script = tmp_path / "run.py"
    script.write_text("import logging, sys\nlogging.basicConfig(level=logging.INFO)\n"
                      "log = logging.getLogger('oasislmf.model')\nlog.info('Running model')\n"
                      "log.warning('no cache')\nlog.error('Could not find periods data file: /x/periods.bin')\n"
                      "log.error('Model run failed')\nsys.exit(1)\n")
    run = subprocess.run([sys.executable, str(script)], capture_output=True, check=False)
    assert run.returncode == 1
    assert b"ERROR:oasislmf.model:Could not find periods data file" in run.stderr
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert (finding.name, finding.error) == ("logged-error", "Could not find periods data file: /x/periods.bin")


def test_a_critical_line_of_the_root_logger():
    finding = find("CRITICAL:root:cannot open the database\n")
    assert (finding.name, finding.error) == ("logged-error", "cannot open the database")


@pytest.mark.parametrize("text", [
    "ERROR: Could not find a version that satisfies the requirement foo\n",   # pip's, no logger's name
    "WARNING:root:disk nearly full\nINFO:root:done\n",                      # not an error level
    "ERROR:root:\n",                                                          # no message
    "step 3 ERROR:root:late\n",                                               # not at the line's start
])
def test_not_loggings_default_error_line(text):
    assert_not_found_by(text, "logged-error")


def test_a_traceback_beats_a_logged_error_line():
    finding = find("ERROR:root:retrying\nTraceback (most recent call last):\n  File \"t.py\", line 1, in <module>\n"
                   "    x()\nValueError: bad lr\n")
    assert finding.error == "ValueError: bad lr", finding


# Exceptions in other forms -----------------------------------------------------------------------

PYTEST_TESTS = '''\
def helper(filename):
    raise RuntimeError(f"Dataset scripts are no longer supported, but found {filename}")


def test_chained():
    try:
        helper("logiqa.py")
    except RuntimeError as error:
        raise KeyError("no dataset") from error


def test_lines():
    raise ValueError("first line\\nsecond line")
'''


def pytest_run(tmp_path, *options):
    (tmp_path / "test_data.py").write_text(PYTEST_TESTS)
    run = run_tails([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *options, "test_data.py"],
                    cwd=tmp_path)
    assert run.returncode == 1, run.stdout[-2000:]
    return reasons.diagnose(run.stdout, run.stderr)


@pytest.mark.parametrize("options", [(), ("-q",), ("--tb=short",), ("-k", "chained", "--tb=line")])
def test_pytests_report_of_a_failed_test(tmp_path, options):
    # pytest prints each test's failure behind "E" (a chain's causes first, in the same section);
    # the first failed test's last exception is the one, as Python's own traceback would end.
    finding = pytest_run(tmp_path, *options)
    assert (finding.name, finding.error) == ("pytest-failure", "KeyError: 'no dataset'"), finding


def test_pytests_lines_of_one_message(tmp_path):
    finding = pytest_run(tmp_path, "-k", "lines")
    assert (finding.name, finding.error) == ("pytest-failure", "ValueError: first line second line")


def test_pytests_short_summary_alone(tmp_path):
    # --tb=no prints no "E" lines: the short test summary (_pytest/terminal.py,
    # _get_line_with_reprcrash_message: "FAILED nodeid - msg") is all there is of the failure.
    finding = pytest_run(tmp_path, "--tb=no", "-rfE")
    assert (finding.name, finding.error) == ("pytest-failure", "KeyError: 'no dataset'"), finding


@pytest.mark.parametrize("text, error", [
    # A paste of the summary's first line (a CI's, untrimmed), the exception's module path kept.
    ("FAILED tests/shapes_test.py::test_unpadded_points - jaxlib.xla_extension.XlaRuntimeError: INTERNAL:"
     " ptxas exited with non-zero error code 65280\n",
     "jaxlib.xla_extension.XlaRuntimeError: INTERNAL: ptxas exited with non-zero error code 65280"),
    # A test's parameters may hold " - "; an assert's message is no exception's: the next one is.
    ("FAILED t.py::test_a - assert 1 == 2\nFAILED t.py::test_p[a - b] - KeyError: 'a - b'\n", "KeyError: 'a - b'"),
    # A fixture's error, as pytest 9 here prints it; a collection error names the module's file.
    ("ERROR t.py::test_setup - OSError: fixture broke\n", "OSError: fixture broke"),
    ("ERROR tests/test_io.py - ModuleNotFoundError: No module named 'h5py'\n",
     "ModuleNotFoundError: No module named 'h5py'"),
])
def test_pytests_short_summary_line(text, error):
    finding = find(text)
    assert (finding.name, finding.error) == ("pytest-failure", error)


@pytest.mark.parametrize("text", [
    "FAILED t.py::test_a - assert 1 == 2\n",                 # no exception's name
    "[gw0] [ 50%] FAILED tests/t.py::test_a\n",              # xdist's progress line: no message
    "FAILED to load the model - ValueError: bad shape\n",   # no test's node id
    "ERROR: t.py::test_a - see the log above\n",            # not the summary's form
])
def test_not_pytests_short_summary(text):
    assert_not_found_by(text, "pytest-failure")


@pytest.mark.parametrize("text", [
    "E       assert 0 == 1\nE        +  where 0 = len([])\n",       # an assert's explanation
    "E0612 09:00:00.123 4242 server.cc:87] Lost connection\n",       # glog's error level
    "E   loss: 0.5\n",                                               # no exception's name
])
def test_not_pytests_report(text):
    assert_not_found_by(text, "pytest-failure")


def test_a_message_printed_below_its_exception():
    # str(exception) starting with a newline (Lightning's MisconfigurationException of a triple-quoted
    # message): Python prints "Name: " and the message's lines below, as they are.
    text = ('Traceback (most recent call last):\n  File "train.py", line 9, in <module>\n'
            '    raise MisconfigurationException(message)\n'
            'pytorch_lightning.utilities.debugging.MisconfigurationException: \n'
            '            You requested GPUs: [0]\n            But your machine only has: []\n')
    real = run_tails([sys.executable, "-c", "class MisconfigurationException(Exception): pass\n"
                      "raise MisconfigurationException('''\n    You requested GPUs: [0]\n"
                      "    But your machine only has: []\n''')"])
    assert real.stderr.endswith(b"MisconfigurationException: \n    You requested GPUs: [0]\n"
                                b"    But your machine only has: []\n\n"), real.stderr
    for stderr, name in ((text.encode(), "pytorch_lightning.utilities.debugging."), (real.stderr, "")):
        finding = reasons.diagnose(b"", stderr)
        assert finding.error == (f"{name}MisconfigurationException: You requested GPUs: [0]"
                                 " But your machine only has: []")


# python run here on a message that begins with a newline (Lightning's MisconfigurationException's
# triple-quoted one): "Name: " then the message's indented lines; a paste keeps only those.
def test_a_message_below_its_name_with_no_traceback_above(tmp_path):
    script = tmp_path / "fit.py"
    script.write_text("class MisconfigurationException(Exception):\n    pass\n"
                      "raise MisconfigurationException(\"\"\"\n            You requested GPUs: [0]\n"
                      "            But your machine only has: []\n            \"\"\")\n")
    run = subprocess.run([sys.executable, str(script)], capture_output=True, check=False)
    pasted = run.stderr.decode().split("MisconfigurationException: \n", 1)[1]
    finding = find("pytorch_lightning.utilities.debugging.MisconfigurationException: \n" + pasted)
    assert (finding.name, finding.error) == (
        "exception-line", "pytorch_lightning.utilities.debugging.MisconfigurationException: You requested GPUs:"
                          " [0] But your machine only has: []"), finding


@pytest.mark.parametrize("text", [
    "Example:\n    python train.py --lr 3\n",                    # not an exception's name
    "config.Settings:\n  lr: 3\n",                               # a dotted name that is no exception's
    "ValueError:\n\n    lr must be positive\n",                   # not at once below it
    "ValueError:\nlr must be positive\n",                         # not indented
])
def test_not_a_message_below_a_name_alone(text):
    assert_not_found_by(text, "exception-line")


def test_a_name_with_nothing_below_stays_alone():
    text = ('Traceback (most recent call last):\n  File "train.py", line 9, in <module>\n    main()\n'
            'KeyboardInterrupt:\nstep 4\n')
    assert find(text).error == "KeyboardInterrupt:"


def test_the_line_after_the_last_frame_is_the_exception():
    # A paste that lost "ValueError: ": Python prints the exception line right after the last frame's
    # code (Lib/traceback.py), whatever is left of it is the exception.
    text = ('  File "/env/lib/python3.9/site-packages/accelerate/state.py", line 944, in __init__\n'
            '    raise ValueError(\n'
            'Please make sure to properly initialize your accelerator via `accelerator = Accelerator()`.\n')
    finding = find(text)
    assert (finding.name, finding.error) == (
        "python-traceback",
        "Please make sure to properly initialize your accelerator via `accelerator = Accelerator()`.")


@pytest.mark.parametrize("text", [
    # A line printed into the traceback (a frame follows it), and one before the exception line.
    'Traceback (most recent call last):\n  File "a.py", line 1, in <module>\n    f()\nstep 3 done\n'
    '  File "a.py", line 4, in f\n    raise ValueError("x")\nValueError: x\n',
    'Traceback (most recent call last):\n  File "a.py", line 4, in f\n    raise ValueError("x")\n'
    'step 3 done\nValueError: x\n',
])
def test_a_log_line_in_a_traceback_is_not_its_exception(text):
    assert find(text).error == "ValueError: x"


@pytest.mark.parametrize("text", [
    # logging's stack_info=True: a stack, no exception; faulthandler's dump (frames without a comma
    # before "in", no source lines), the process going on after it.
    'Stack (most recent call last):\n  File "a.py", line 9, in <module>\n    main()\n'
    '  File "a.py", line 4, in main\n    log.warning("slow", stack_info=True)\nstep 3 done\n',
    'Timeout (0:05:00)!\nThread 0x00007f3e (most recent call first):\n  File "a.py", line 4 in main\n'
    '  File "a.py", line 9 in <module>\nstep 3 done\n',
])
def test_a_stack_without_an_exception_has_none(text):
    assert find(text) is None


def test_a_log_line_after_rich_box_is_no_exception():
    assert find("╭─ Error ─╮\n│ failed  │\n╰─────────╯\nsee the log above\n") is None


# botocore/exceptions.py's ClientError.MSG_TEMPLATE, behind the class botocore's client makes for the
# service's code (as boto3 printed it here with botocore.stub's add_client_error).
@pytest.mark.parametrize("line", [
    "botocore.errorfactory.ResourceLimitExceeded: An error occurred (ResourceLimitExceeded) when calling the"
    " CreateTrainingJob operation: The account-level service limit 'ml.p4d.24xlarge for training job usage'"
    " is 0 Instances.",
    "ThrottlingException: An error occurred (ThrottlingException) when calling the DescribeTrainingJob"
    " operation (reached max retries: 4): Rate exceeded",
])
def test_botocores_client_error_alone(line):
    finding = find(f"Creating training-job with name: x\n{line}\n")
    assert (finding.name, finding.error) == ("exception-line", line)


@pytest.mark.parametrize("line", [
    "WARNING: An error occurred (ThrottlingException) when calling the X operation: Rate exceeded",   # a level
    "Retrying in 2s: An error occurred (ThrottlingException) when calling the X operation: Rate exceeded",
])
def test_not_a_client_error(line):
    assert known(f"{line}\nStep 3\nall done\n") is None


CLASSES = """
class ArrowInvalid(ValueError):
    pass
"""


@pytest.mark.parametrize("raise_, line", [
    # CPython's own base class: "Exception: msg" (Lib/traceback.py names builtins' classes bare).
    ("raise Exception('Timed out waiting for tasks to start.')", "Exception: Timed out waiting for tasks to start."),
    # A class of a module other than builtins, named neither Error nor Exception: its module first.
    ("import pyarrow_lib\nraise pyarrow_lib.ArrowInvalid('Column 1 named tokens expected length 8')",
     "pyarrow_lib.ArrowInvalid: Column 1 named tokens expected length 8"),
    ("from pkg import lib\nraise lib.ArrowInvalid('got length 1000')", "pkg.lib.ArrowInvalid: got length 1000"),
])
def test_an_exception_line_alone_as_python_prints_it(tmp_path, raise_, line):
    (tmp_path / "pyarrow_lib.py").write_text(CLASSES)
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "lib.py").write_text(CLASSES)
    run = run_tails([sys.executable, "-c", raise_], cwd=str(tmp_path))
    last = run.stderr.decode().rstrip("\n").splitlines()[-1]
    assert last == line, run.stderr
    # What a paste or a tail keeps of it: the line alone, after a log line.
    finding = find(f"Training started\n{last}\n")
    assert (finding.name, finding.error) == ("exception-line", line), finding


@pytest.mark.parametrize("line", [
    "INFO: Exception: not dotted, a level first",
    "Note: the run continues",
    "e.g. Foo: bar",                       # a space in the dotted part
    "torch.distributed: connected",        # a module's name alone (a logger's)
    "torch.distributed.ELASTIC: restarted",  # all capitals: a level or a constant, no class
    "Exception",                           # the word alone
    "Exception:",                          # no message
    "    pkg.lib.ArrowInvalid: indented",  # not at the line's start
])
def test_not_an_exception_line_alone(line):
    assert known(f"{line}\nStep 3\nall done\n") is None


ROOT_ERRORS = ("tensorflow.python.framework.errors_impl.UnknownError: 2 root error(s) found.\n"
               "  (0) Unknown: Failed to get convolution algorithm.\n\t [[{{node conv3d/Conv3D}}]]\n"
               "  (1) Unknown: Failed to get convolution algorithm.\n0 successful operations.\n"
               "0 derived errors ignored.\n")


def test_tensorflows_first_root_error():
    # TensorFlow's StatusGroup summary as it prints it: the count, then each root error below it.
    text = 'Traceback (most recent call last):\n  File "t.py", line 9, in <module>\n    model.fit(x)\n'
    assert find(text + ROOT_ERRORS).error == ("tensorflow.python.framework.errors_impl.UnknownError: 2 root"
                                             " error(s) found. (0) Unknown: Failed to get convolution algorithm.")


@pytest.mark.parametrize("text", [
    ROOT_ERRORS.replace("  (0) Unknown: Failed to get convolution algorithm.\n", ""),   # no (0) below it
    ROOT_ERRORS.replace("  (0) ", "(0) "),                                              # not indented
    ROOT_ERRORS.replace("root error(s) found.", "root error(s) found, see (0)"),        # no summary line
])
def test_not_tensorflows_first_root_error(text):
    assert "(0) Unknown" not in find(text).error


def test_another_ranks_source_line_is_not_the_message():
    # Two ranks' tracebacks interleaved: the second's "    raise ..." follows the first's exception
    # line, which a terminal could have wrapped before a word in lower case: code, not message.
    frame = '  File "/horovod/torch/mpi_ops.py", line 949, in synchronize\n'
    text = (frame + "    return synchronize(handle)\n" + frame + "    raise HorovodInternalError(e)\n"
            "horovod.common.exceptions.HorovodInternalError: ncclAllReduce failed: unhandled cuda error\n"
            "    return synchronize(handle)\n")
    assert find(text).error == ("horovod.common.exceptions.HorovodInternalError: ncclAllReduce failed:"
                                " unhandled cuda error")
    for code in ("    raise HorovodInternalError(e)\n", "    return synchronize(handle)\n"):
        text = ('  File "/horovod/torch/mpi_ops.py", line 949, in synchronize\n    x = 1\n'
                "horovod.common.exceptions.HorovodInternalError: ncclAllReduce failed: unhandled cuda error\n" + code)
        assert find(text).error.endswith("unhandled cuda error"), code


def test_a_wrapped_message_still_runs_on():
    # The near miss: an indented line that is no source line above and not in a statement's form.
    text = ('Traceback (most recent call last):\n  File "a.py", line 1, in <module>\n    f()\n'
            "ValueError: the Lightning message printed below the exception was very long and\n"
            "    continued on an indented line\n")
    assert find(text).error.endswith("was very long and continued on an indented line")


# Native aborts ---------------------------------------------------------------------------------

NATIVE = r'''
#include <stdexcept>
#include <cstdlib>
#include <cstring>
#include <cassert>
struct Base { Base() { late(); } void late() { call(); } virtual void call() = 0; };
struct Derived : Base { void call() {} };
int main(int argc, char **argv) {
    char *heap = static_cast<char *>(malloc(64));
    char stack[4];
    switch (argv[1][0]) {
    case 'd': free(heap); free(heap); break;              // free(): double free detected in tcache 2
    case 'i': free(heap + 16); break;                     // free(): invalid pointer
    case 's': strcpy(stack, argv[2]); break;              // *** stack smashing detected ***
    case 't': throw std::runtime_error("\"type mismatch! call is<type>() before get<type>()\"");
    case 'a': assert(argc > 5 && "n_completes >= min_completes"); break;   // glibc's assert()
    case 'p': { Derived d; } break;                       // pure virtual method called
    }
    return 0;
}
'''


@pytest.fixture(scope="module")
def native(tmp_path_factory):
    """A C++ program that aborts as asked, built here with g++ (glibc's and libstdc++'s own words)."""
    if not shutil.which("g++"):
        pytest.skip("no g++ on this machine")
    folder = tmp_path_factory.mktemp("native")
    (folder / "abort.cc").write_text(NATIVE)
    subprocess.run(["g++", "-O0", "-fstack-protector-all", "-w", "-o", str(folder / "abort"),
                    str(folder / "abort.cc")], check=True)
    return str(folder / "abort")


@pytest.mark.parametrize("shell", ["bash", "dash"])
@pytest.mark.parametrize("how, recogniser, error", [
    ("d", "abort", "free(): double free detected in tcache 2"),
    ("i", "abort", "free(): invalid pointer"),
    ("s " + "A" * 40, "abort", "*** stack smashing detected ***: terminated"),
    ("t", "cxx-exception", 'std::runtime_error: "type mismatch! call is<type>() before get<type>()"'),
    # glibc's assert/assert.c: "PROG: FILE:LINE: FUNC: Assertion `EXPR' failed." before its abort.
    ("a", "abort", "abort: {native}.cc:16: int main(int, char**): Assertion `argc > 5 && \"n_completes >="
                   " min_completes\"' failed."),
    # libstdc++'s __cxa_pure_virtual, then the terminate handler's "without an active exception".
    ("p", "cxx-exception", "pure virtual method called"),
])
def test_a_native_abort_says_why(native, shell, how, recogniser, error):
    # A shell runs it: glibc's or libstdc++'s message, then bash's "Aborted" job report or dash's
    # "Aborted" alone (which once closed a headerless traceback whose code the what() line seemed).
    if not shutil.which(shell):
        pytest.skip(f"no {shell} on this machine")
    run = run_tails([shell, "-c", f"{native} {how}; exit $?"])
    assert run.returncode == 134 and b"Aborted" in run.stderr, run.stderr
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert (finding.name, finding.error) == (recogniser, error.format(native=native)), finding


@pytest.mark.parametrize("text", [
    # Not glibc's form: no ":LINE" before it, indented (a message's or a test's), not at the end.
    "check: Assertion `x > 0' failed.\nAborted\n",
    "    a.cc:3: f: Assertion `x > 0' failed.\nAborted\n",
    "a.cc:3: f: Assertion `x > 0' failed. Retrying\nAborted\n",
    # libstdc++'s words inside a sentence.
    "a pure virtual method called twice\nAborted\n",
])
def test_not_an_assert_nor_a_pure_virtual_call(text):
    assert find(text).error == "Aborted"


@pytest.mark.parametrize("text, recogniser, error", [
    # macOS's and FreeBSD's assert() (__assert_rtn: "Assertion failed: (%s), function %s, file %s, line
    # %d.", without the function where none is known), then the shell's report of the abort.
    (" Assertion failed: (n < 150e6), function configure, file a/aces_Writer.cpp, line 212.\nAbort trap: 6\n",
     "abort", "Assertion failed: (n < 150e6), function configure, file a/aces_Writer.cpp, line 212."),
    ("Assertion failed: (x), file a.c, line 4.\nAbort trap: 6\n", "abort", "Assertion failed: (x), file a.c, line 4."),
    # musl's (src/exit/assert.c: "Assertion failed: %s (%s: %s: %d)").
    ("Assertion failed: n < 3 (a.c: main: 4)\nAborted (core dumped)\n", "abort", "Assertion failed: n < 3 (a.c: main: 4)"),
    # Google Highway's HWY_ABORT (hwy/abort.cc: "Abort at %s:%d: %s"), then the shell's report.
    ("Abort at gemma-inl.h:608: Assert qkv.Len() == heads * 3\nAborted (core dumped)\n",
     "fatal-log", "Abort at gemma-inl.h:608: Assert qkv.Len() == heads * 3"),
])
def test_an_aborts_reason_in_other_libcs_and_libraries(text, recogniser, error):
    finding = find(text)
    assert (finding.name, finding.error) == (recogniser, error), finding


NON_OK = "F external/xla/xla/service/gpu/autotuning/gemm_fusion_autotuner.cc:1099] Non-OK-status: executable.status()"


NON_OK_PTXAS = ("2021-07-10 19:06:52.915444: F external/org_tensorflow/tensorflow/compiler/xla/service/gpu/"
                "nvptx_compiler.cc:480] ptxas returned an error during compilation of ptx to sass: 'Internal: Failed"
                " to launch ptxas'  If the error message indicates that a file could not be written, please verify"
                " that sufficient filesystem space is provided.\nAborted (core dumped)\n")


def test_xlas_advice_after_ptxas_failed_is_left_out():
    finding = find(NON_OK_PTXAS)
    assert (finding.name, finding.error) == ("fatal-log", "ptxas returned an error during compilation of ptx to sass:"
                                             " 'Internal: Failed to launch ptxas'"), finding


@pytest.mark.parametrize("text, error", [
    # Horovod's stall inspector: the hang's only report, its first sentence.
    ("WARNING: One or more tensors were submitted to be reduced, gathered or broadcasted by subset of ranks and are"
     " waiting for remainder of ranks for more than 60 seconds. This may indicate that different ranks are trying"
     " to submit different tensors or that only subset of ranks is submitting tensors, which will cause deadlock."
     " Stalled ops: HorovodBroadcast_fc1_0 [ready ranks: 44, 90]\n",
     "One or more tensors were submitted to be reduced, gathered or broadcasted by subset of ranks and are waiting"
     " for remainder of ranks for more than 60 seconds."),
    ("Fri Oct 23 17:16:00 2020[0]<stderr>:[2020-10-23 17:16:00.707119: W horovod/common/stall_inspector.cc:105] One"
     " or more tensors were submitted to be reduced, gathered or broadcasted by subset of ranks and are waiting for"
     " remainder of ranks for more than 60 seconds. This may indicate that\nFri Oct 23 17:16:00 2020[0]<stderr>:"
     "Stalled ranks:\nFri Oct 23 17:16:00 2020[0]<stderr>:0: [horovod_allreduce.noname.691941]\n",
     "rank 0: One or more tensors were submitted to be reduced, gathered or broadcasted by subset of ranks and are"
     " waiting for remainder of ranks for more than 60 seconds."),
])
def test_horovods_stall_warning_is_the_hangs_report(text, error):
    finding = find(text)
    assert (finding.name, finding.error) == ("runtime-error-log", error), finding


@pytest.mark.parametrize("text", [
    "One or more tensors were submitted to be reduced by all ranks in 3 seconds.\n",   # no stall
    "Tensors were submitted to be reduced by subset of ranks and are waiting for remainder of ranks\n",
])
def test_not_horovods_stall_warning(text):
    assert_not_found_by(text, "runtime-error-log")


@pytest.mark.parametrize("text, error", [
    # conda's spinner left without its newline, the shell's "Killed" after it (a docker build's RUN).
    ("#11 50.57 Collecting package metadata (repodata.json): ...working... done\n"
     "#11 212.9 Solving environment: ...working... Killed\n", "Solving environment: ...working... Killed"),
    # NCCL's check of two ranks on one device, pasted without its "NCCL WARN".
    ("Duplicate GPU detected : rank 1 and rank 0 both on CUDA device 4f000\n",
     "Duplicate GPU detected : rank 1 and rank 0 both on CUDA device 4f000"),
])
def test_known_causes_in_pasted_forms(text, error):
    assert find(text).error == error, find(text)


@pytest.mark.parametrize("text", [
    "Solving environment: ...working... Killed the old solver\n",     # not at the line's end
    "We fixed the Duplicate GPU detected : rank 1 and rank 0 both on CUDA device check\n",   # prose
])
def test_not_known_causes_in_pasted_forms(text):
    assert known(text) is None


@pytest.mark.parametrize("code, error", [
    ('    assert pg is not None, "Process group is not initialized"', 'assert pg is not None, "Process group is not initialized"'),
    ("    raise ValueError(f'bad lr {lr}')", "raise ValueError(f'bad lr {lr}')"),
])
def test_a_paste_that_ends_at_the_statement_that_raised(code, error):
    text = ('  File "/w/run.py", line 451, in <module>\n    main(args)\n'
            '  File "/w/model_parallel.py", line 211, in __init__\n' + code + "\n")
    finding = find(text)
    assert (finding.name, finding.error) == ("cut-traceback", error), finding


@pytest.mark.parametrize("code", [
    "    main(args)",                       # a call: where the exception came from is below it
    "    assert pg is not None",            # no message of its own
    "    print('assert x, \"y\"')",
])
def test_not_a_statement_that_raised(code):
    text = '  File "/w/run.py", line 451, in <module>\n' + code + "\n"
    assert_not_found_by(text, "cut-traceback")


TORCHRUN_TITLE = ("torch.distributed.elastic.multiprocessing.errors.ChildFailedError: \n" + "=" * 50 + "\n"
                  "tools/train.py FAILED\n" + "-" * 50 + "\nFailures:\n")
FAILURE_1 = ("[1]:\n  time      : 2023-06-14_22:36:10\n  host      : n1\n  rank      : 1 (local_rank: 1)\n"
             "  exitcode  : -7 (pid: 100)\n  error_file: <N/A>\n  traceback : Signal 7 (SIGBUS) received by PID 100\n")
ROOT_0 = ("-" * 50 + "\nRoot Cause (first observed failure):\n[0]:\n  time      : 2023-06-14_22:36:10\n"
          "  host      : n1\n  rank      : 0 (local_rank: 0)\n")


@pytest.mark.parametrize("text, error", [
    # Nothing of the rank's own: its end in the summary's words, its signal named where the
    # traceback field that names it was cut off.
    (TORCHRUN_TITLE + "  <NO_OTHER_FAILURES>\n" + ROOT_0 + "  exitcode  : -6 (pid: 2385922)\n  error_file: <N/A>\n",
     "tools/train.py FAILED: rank 0 failed first (exitcode -6, Signal 6 (SIGABRT)), per torchrun's summary"),
    (TORCHRUN_TITLE + "  <NO_OTHER_FAILURES>\n" + ROOT_0 + "  exitcode  : 1 (pid: 2385922)\n  error_file: <N/A>\n"
     "  traceback : To enable traceback see: https://pytorch.org/docs/stable/elastic/errors.html\n" + "=" * 50 + "\n",
     "tools/train.py FAILED: rank 0 failed first (exitcode 1), per torchrun's summary"),
    # The root cause's fields cut off: the other failure the summary lists.
    (TORCHRUN_TITLE + FAILURE_1 + ROOT_0,
     "tools/train.py FAILED: rank 0 failed first, per torchrun's summary; rank 1: exitcode -7, Signal 7 (SIGBUS)"),
])
def test_torchruns_summary_alone_in_its_own_words(text, error):
    finding = find(text)
    assert (finding.name, finding.error) == ("torchrun-root-cause", error), finding


@pytest.mark.parametrize("text", [
    # TensorFlow's (TSL's) stack trace handler, behind horovodrun's stamp and mpirun's rank.
    "Tue Jun 27 22:49:58 2023[1,3]<stderr>:*** Received signal 7 ***\n"
    "Tue Jun 27 22:49:58 2023[1,3]<stderr>:*** BEGIN MANGLED STACK TRACE ***\n",
    "*** Received signal 11 ***\n*** BEGIN MANGLED STACK TRACE ***\n",
])
def test_tensorflows_report_of_a_crash_signal(text):
    finding = find(text)
    assert finding.name == "native-crash" and "*** Received signal " in finding.error, finding


@pytest.mark.parametrize("text", [
    "*** Received signal 15 ***\n",            # SIGTERM: a stop, no crash
    "*** Received signal 7 *** from the test harness, ignored\n",
])
def test_not_tensorflows_report_of_a_crash_signal(text):
    assert_not_found_by(text, "native-crash")


@pytest.mark.parametrize("spaces", ["", " " * 3, " " * 220, "\t"])
def test_glibcs_heap_check_after_the_spaces_a_wrapped_progress_bar_left(spaces):
    text = ("ValueError: You have to specify either input_ids or inputs_embeds\n"
            "Epoch 2:  89%|########9 | 1905/2142 [22:16<02:46,  1.43it/s, loss=0.487]\n"
            + spaces + "free(): invalid pointer" + " " * 60 + "\nAborted (core dumped)\n")
    finding = find(text)
    assert (finding.name, finding.error) == ("abort", "free(): invalid pointer"), finding


@pytest.mark.parametrize("text, recogniser, error", [
    # TSL's TF_CHECK_OK (LOG(FATAL) << "Non-OK-status: " #val "\nStatus: " << status): the status below.
    (NON_OK + "\nStatus: INTERNAL: ptxas exited with non-zero error code 139, output:\n - Failure occurred when"
     " compiling fusion gemm_fusion_dot.610\nAborted (core dumped)\n", "fatal-log",
     "Non-OK-status: executable.status() status: INTERNAL: ptxas exited with non-zero error code 139, output:"),
    # Older TensorFlow's (TfCheckOpHelperOutOfLine), the status on its own line.
    ("2018-06-16 14:47:07.775019: F tensorflow/core/graph/graph.cc:283] Non-OK-status: status status: Not found:"
     " Op type not registered 'NoOp'\nAbort trap: 6\n", "fatal-log",
     "Non-OK-status: status status: Not found: Op type not registered 'NoOp'"),
    # No status below: the line alone.
    (NON_OK + "\nAborted (core dumped)\n", "fatal-log", "Non-OK-status: executable.status()"),
    (NON_OK + "\nStatus: \nAborted (core dumped)\n", "fatal-log", "Non-OK-status: executable.status()"),
])
def test_a_failed_status_check_with_its_status(text, recogniser, error):
    finding = find(text)
    assert (finding.name, finding.error) == (recogniser, error), finding


@pytest.mark.parametrize("text", [
    "Assertion failed: see the log above\nAborted\n",           # no file nor line
    "step 3: Assertion failed: (x), file a.c, line 4.\nAborted\n",   # not at the line's start
    "Abort at step 3: retrying\nAborted\n",                     # no FILE:LINE
])
def test_not_an_aborts_reason_in_other_forms(text):
    assert find(text).error == "Aborted"


@pytest.mark.parametrize("text, error", [
    # libc++abi's demangling_terminate_handler (cxa_default_handlers.cpp): "terminating due to %s
    # exception of type %s: %s", older "terminating with ...", behind abort_message's "libc++abi: ".
    ("libc++abi: terminating due to uncaught exception of type std::runtime_error: bad locale\nAbort trap: 6\n",
     "std::runtime_error: bad locale"),
    ("libc++abi.dylib: terminating with uncaught exception of type std::runtime_error: a: b\n"
     "[1]    34039 abort      mamba env create\n", "std::runtime_error: a: b"),
    # An exception that is no std::exception: its type alone.
    ("libc++abi: terminating due to uncaught exception of type Foo\nAborted\n", "Foo"),
])
def test_libcxx_terminate(text, error):
    finding = find(text)
    assert (finding.name, finding.error) == ("cxx-exception", error), finding


@pytest.mark.parametrize("text, error", [
    # MPICH's (errutil.c) report of MPI_Init that failed: the head and the innermost message.
    ("Fatal error in MPI_Init: Other MPI error, error stack:\nMPIR_Init_thread(392)...:\n"
     "MPID_Init(139)..........: channel initialization failed\nMPIDI_nem_ckpt_init(149): BLCR kernel module not present\n",
     "Fatal error in MPI_Init: Other MPI error: BLCR kernel module not present"),
    # Intel MPI's, its abort's prefix before it; a segfault of the abort path after it.
    ("Abort(1090959) on node 0 (rank 0 in comm 0): Fatal error in PMPI_Init_thread: Other MPI error, error stack:\n"
     "MPIR_Init_thread(176)........:\nMPID_Init(1538)..............:\n(unknown)(): Other MPI error\n"
     "Segmentation fault (core dumped)\n", "Fatal error in PMPI_Init_thread: Other MPI error"),
])
def test_mpi_init_that_failed(text, error):
    finding = find(text)
    assert (finding.name, finding.error) == ("mpi-init", error), finding


@pytest.mark.parametrize("text", [
    "Fatal error in MPI_Allreduce: Other MPI error, error stack:\nMPIR_Allreduce(1)..: x\nSegmentation fault\n",
    "see 'Fatal error in MPI_Init: Other MPI error' in the FAQ\nSegmentation fault\n",
    "libc++abi: terminating\nAbort trap: 6\n",
])
def test_not_mpi_init_nor_libcxx_terminate(text):
    finding = find(text)
    assert finding is None or finding.name not in ("mpi-init", "cxx-exception"), finding


@pytest.mark.parametrize("text, recogniser, error", [
    # Ray's C++ log at its fatal level (spdlog's "C"), then the stack trace it flushes.
    ("[2022-02-16 12:45:07,907 W 149 199] node_manager.cc:157: Last heartbeat was sent 6901 ms ago.\n"
     "[2022-02-16 12:46:52,789 C 149 149] node_manager.cc:170: This node has been marked as dead.\n"
     "*** StackTrace Information ***\n    ray::SpdLogMessage::Flush()\n    main\n",
     "fatal-log", "node_manager.cc:170: This node has been marked as dead."),
    # glog's FATAL line where Keras's progress line stands before it, without its newline.
    ("23/72 ━━━━━━━━━━━━━━━━━━━━ 2s 56ms/step - loss: 1.3634F0000 00:00:1762145632.630296  135502"
     " device_event_mgr.cc:226] Unexpected Event status: 1\n*** Check failure stack trace: ***\n",
     "fatal-log", "Unexpected Event status: 1"),
    # Ray's monitor in 2018's releases (monitor.py), the GCS's detector's words later.
    ("The node with client ID 1ead has been marked dead because the monitor has missed too many heartbeats from it.\n",
     "launcher-report", "The node with client ID 1ead has been marked dead because the monitor has missed too many"
     " heartbeats from it."),
])
def test_rays_fatal_lines_and_glued_glog(text, recogniser, error):
    finding = find(text)
    assert (finding.name, finding.error) == (recogniser, error), finding


@pytest.mark.parametrize("text", [
    "C 149 149] no file here: x\n",                           # no file:line
    "loss: 1.36F0000 00:00:17 x] not a file\n",               # no file:line after glog's time
])
def test_not_a_fatal_line(text):
    assert_not_found_by(text, "fatal-log")


def test_terminate_is_no_wrapped_message():
    # A long exception line, then libstdc++'s terminate handler (a thread still running at exit):
    # the handler's line starts in lower case but is its own, not the message's rest.
    error = ("RuntimeError: cuda runtime error (39) : uncorrectable ECC error encountered at"
             " /pytorch/aten/src/THC/THCCachingHostAllocator.cpp:265")
    text = f'Traceback (most recent call last):\n  File "t.py", line 3, in <module>\n    f()\n{error}\n'
    assert find(text + "terminate called without an active exception\nAborted\n").error == error
    assert find(text + "pure virtual method called\nAborted\n").error == error


def test_older_glibcs_heap_report():
    # glibc before 2.26: "*** Error in `prog': MESSAGE: ADDRESS ***", a backtrace after it.
    text = ("*** Error in `python': double free or corruption (!prev): 0x0000000001c2c010 ***\n"
            "======= Backtrace: =========\n/lib64/libc.so.6(+0x7c619)[0x7f3f]\nAborted (core dumped)\n")
    assert find(text).error.startswith("*** Error in `python': double free or corruption (!prev)")


@pytest.mark.parametrize("text", [
    "checked for double free or corruption (none found)\nAborted\n",   # not at the line's start
    "malloc(): 64 bytes\nAborted\n",                                  # no message of glibc's
])
def test_not_glibcs_report(text):
    assert find(text).error == "Aborted"


# The CUDA driver's and cuDNN's own names ------------------------------------------------------------

@pytest.mark.parametrize("text, error", [
    # cuda.h's CUresult names as XLA's status line puts them (stream_executor's gpu_driver: "%s: %s",
    # cuGetErrorName then cuGetErrorString).
    ("jaxlib.xla_extension.XlaRuntimeError: INTERNAL: Failed to execute XLA Runtime executable: run time"
     " error: custom call 'xla.gpu.func.launch' failed: Failed to launch CUDA kernel: fusion_1 with block"
     " dimensions: 160x1x1: CUDA_ERROR_ILLEGAL_ADDRESS: an illegal memory access was encountered.\n",
     "jaxlib.xla_extension.XlaRuntimeError: INTERNAL: Failed to execute XLA Runtime executable: run time"
     " error: custom call 'xla.gpu.func.launch' failed: Failed to launch CUDA kernel: fusion_1 with block"
     " dimensions: 160x1x1: CUDA_ERROR_ILLEGAL_ADDRESS: an illegal memory access was encountered."),
    # TensorFlow's cuda_dnn.cc: LOG(ERROR) << "Could not create cudnn handle: " << ToString(status).
    ("2019-01-15 05:01:04.905618: E tensorflow/stream_executor/cuda/cuda_dnn.cc:493] Could not create cudnn"
     " handle: CUDNN_STATUS_INTERNAL_ERROR\n2019-01-15 05:01:04.908191: W tensorflow/core/framework/"
     "op_kernel.cc:1412] OP_REQUIRES failed at conv_ops_fused.cc:801 : Unknown: Failed to get convolution"
     " algorithm.\n", "Could not create cudnn handle: CUDNN_STATUS_INTERNAL_ERROR"),
    # cudnn.h's cudnnStatus_t names anywhere (torch: "cuDNN error: CUDNN_STATUS_...").
    ("cudnn_conv_layer.cpp:53] cudnnConvolutionForward: CUDNN_STATUS_EXECUTION_FAILED\nstep 4\n",
     "cudnn_conv_layer.cpp:53] cudnnConvolutionForward: CUDNN_STATUS_EXECUTION_FAILED"),
])
def test_cuda_drivers_and_cudnns_names(text, error):
    finding = find(text)
    assert (finding.name, finding.error) == ("cuda-error", error)


@pytest.mark.parametrize("line", [
    # TensorFlow at start-up on a host with no GPU: it logs cuInit's failure and runs on the CPU.
    "2022-04-26 11:42:44.023487: E tensorflow/stream_executor/cuda/cuda_driver.cc:271] failed call to cuInit:"
    " CUDA_ERROR_NO_DEVICE: no CUDA-capable device is detected",
    # An allocation its allocator retries smaller; running out for good is the OOM rule's.
    "2019-01-15 05:01:03.1: E tensorflow/stream_executor/cuda/cuda_driver.cc:806] failed to allocate 3.83G"
    " (4111400960 bytes) from device: CUDA_ERROR_OUT_OF_MEMORY: out of memory",
    "CUDA_ERROR_ names the driver's errors",      # no name of one
])
def test_not_a_cuda_drivers_error(line):
    text = f'{line}\nTraceback (most recent call last):\n  File "t.py", line 1, in <module>\nKeyError: \'x\'\n'
    assert find(text).error == "KeyError: 'x'"


# The kernel's OOM killer -----------------------------------------------------------------------

# mm/oom_kill.c's __oom_kill_process (pr_err "%s: Killed process %d (%s) total-vm:%lukB, anon-rss:%lukB,
# file-rss:%lukB, shmem-rss:%lukB, UID:%u pgtables:%lukB oom_score_adj:%hd"), its message "Out of memory"
# or "Memory cgroup out of memory"; dump_oom_summary's "oom-kill:constraint=..."; 4.x's "Killed process".
KILLED_PROCESS = ("Out of memory: Killed process 7899 (python) total-vm:26184840kB, anon-rss:15370088kB,"
                  " file-rss:0kB, shmem-rss:0kB, UID:0 pgtables:38964kB oom_score_adj:0")
SUMMARY = ("oom-kill:constraint=CONSTRAINT_NONE,nodemask=(null),cpuset=/,mems_allowed=0,global_oom,"
           "task_memcg=/init.scope,task=python,pid=7899,uid=0")


@pytest.mark.parametrize("text, error", [
    # dmesg's stamp, dmesg -T's; the summary line before the kill's, the shell's Killed before both.
    (f"[2059991.491436] {SUMMARY}\n[2059991.491542] {KILLED_PROCESS}\n", KILLED_PROCESS),
    (f"Killed\n[Sun Mar 30 08:24:00 2025] {SUMMARY}\n[Sun Mar 30 08:24:00 2025] {KILLED_PROCESS}\n",
     KILLED_PROCESS),
    (f"[ 812.1] {SUMMARY}\n", SUMMARY),
    ("Memory cgroup out of memory: Killed process 629 (onmt_train) total-vm:14119556kB\n",
     "Memory cgroup out of memory: Killed process 629 (onmt_train) total-vm:14119556kB"),
    # Kernels before 4.19 (oom_kill_process): the process chosen, "score %u or sacrifice child", then the
    # one killed, maybe a child of it: the choice, first.
    ("[Thu Mar 14 01:57:54 2019] Out of memory: Kill process 89 (python) score 1031 or sacrifice child\n"
     "[Thu Mar 14 01:57:54 2019] Killed process 91 (python) total-vm:146328kB, anon-rss:0kB\n",
     "Out of memory: Kill process 89 (python) score 1031 or sacrifice child"),
    ("[ 3871.2] Killed process 25315 (python3) total-vm:53312244kB, anon-rss:31451456kB\n",
     "Killed process 25315 (python3) total-vm:53312244kB, anon-rss:31451456kB"),
])
def test_the_kernels_oom_killer(text, error):
    finding = find(text)
    assert (finding.name, finding.error, finding.hint) == ("killed", error, reasons.HINT_KILLED)


@pytest.mark.parametrize("text", [
    "Killed process group cleanup finished\n",                     # no pid and name
    "step 3: Out of memory? Killed process 12 (x) was a test\n",   # neither message of the kernel's
    "see the oom-kill: counters in memory.events\n",                # no summary
    "step 3: Kill process 12 (x) when done\n",                     # not the kernel's choice
])
def test_not_the_kernels_oom_killer(text):
    assert known(text) is None


# A launcher that refused to start, a shell that found no command -------------------------------

@pytest.mark.parametrize("program, mode, error", [
    # help-orterun.txt's boxes for a child it could not exec, or start (mpirun 4.1 run here).
    ("/nonexistent", None, "mpirun was unable to launch the specified application as it could not access or"
                           " execute an executable: Executable: /nonexistent; Node: {node}"),
    # Its error code and name vary under load (-125 "The specified application failed to start", or 1
    # "(null)", seen here with a dozen mpiruns at once): the box's own fields are what it must show.
    ("./garbage", 0o755, "mpirun was unable to start the specified application as it encountered an error:"
                         " Error code: {code} Error name: {name}; Node: {node}"),
])
def test_open_mpi_could_not_start_the_application(tmp_path, program, mode, error):
    if not shutil.which("mpirun"):
        (pytest.fail if os.environ.get("CI") else pytest.skip)("no mpirun (tests/run installs openmpi-bin)")
    if mode is not None:
        (tmp_path / program).write_text("garbage")
        (tmp_path / program).chmod(mode)
    root = ["--allow-run-as-root"] if os.geteuid() == 0 else []
    run = run_tails(["mpirun", *root, "-np", "1", program], cwd=tmp_path)
    assert run.returncode != 0 and b"mpirun was unable to" in run.stdout + run.stderr, run
    finding = reasons.diagnose(run.stdout, run.stderr)
    output = (run.stdout + run.stderr).decode()
    node = output.split("Node: ", 1)[1].split()[0]
    fields = dict(re.findall(r"^\s*Error (code|name): (.+?)\s*$", output, re.M))
    assert (finding.name, finding.error) == ("launcher-report", error.format(node=node, **fields)), finding


def test_bash_set_u_unbound_variable(tmp_path):
    # bash's err_unboundvar (subst.c): "%s: unbound variable", and the script ends (run here).
    (tmp_path / "run.sh").write_text("set -u\necho start\npython train.py --cuda $cuda_cmd\n")
    run = run_tails(["bash", "run.sh"], cwd=tmp_path)
    assert run.returncode == 1, run
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert (finding.name, finding.error) == ("launcher-report", "run.sh: line 3: cuda_cmd: unbound variable")


@pytest.mark.parametrize("module, error", [
    ("src/train", "No module named src/train"),
    ("nonexistent.mod", "Error while finding module specification for 'nonexistent.mod'"
                        " (ModuleNotFoundError: No module named 'nonexistent')"),
])
def test_python_m_finds_no_module(tmp_path, module, error):
    # runpy's _run_module_as_main: "%s: %s" % (sys.executable, error) (python run here).
    run = run_tails([sys.executable, "-m", module], cwd=tmp_path)
    assert run.returncode == 1, run
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert (finding.name, finding.error) == ("launcher-report", f"{sys.executable}: {error}"), finding


@pytest.mark.parametrize("text", [
    "the variable is unbound variable-free\n",               # not at the line's end
    "mpirun was unable to reach the scheduler; retrying\n",  # no such box
    "ModuleNotFoundError-free: No module named x\n",          # not python's own line
    "cpython3: No module named x\n",                          # another program's name
])
def test_not_a_launch_failure(text):
    assert known(text) is None


def test_open_mpi_has_not_enough_slots(tmp_path):
    # Open MPI's help box when more ranks are asked for than the host has slots (run for real).
    if not shutil.which("mpirun"):
        (pytest.fail if os.environ.get("CI") else pytest.skip)("no mpirun (tests/run installs openmpi-bin)")
    root = ["--allow-run-as-root"] if os.geteuid() == 0 else []
    run = run_tails(["mpirun", *root, "-np", "512", "true"], cwd=tmp_path)
    assert run.returncode != 0 and b"not enough slots" in run.stdout + run.stderr, run
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert finding.name == "launcher-report"
    assert finding.error == ("There are not enough slots available in the system to satisfy the 512 slots that"
                             " were requested by the application: true")


def test_open_mpi_refuses_to_run_as_root(tmp_path):
    # A container's user is root: mpirun without --allow-run-as-root says so, and exits 1 (run for real).
    if not shutil.which("mpirun") or os.geteuid() != 0:
        (pytest.fail if os.environ.get("CI") else pytest.skip)("needs mpirun (tests/run installs openmpi-bin), as root")
    env = {key: value for key, value in os.environ.items() if not key.startswith("OMPI_ALLOW_RUN_AS_ROOT")}
    run = run_tails(["mpirun", "-np", "1", "true"], env=env, cwd=tmp_path)
    assert run.returncode == 1 and b"attempt to run as root" in run.stdout + run.stderr, run
    # Whatever a CI harness prints after it (Homebrew's "Error: formula: failed").
    for after in (b"", b"\nError: brewsci/num/brewsci-superlu-dist: failed\n"):
        finding = reasons.diagnose(run.stdout, run.stderr + after)
        assert (finding.name, finding.error) == ("launcher-report", "mpirun has detected an attempt to run as root.")


@pytest.mark.parametrize("text", [
    "See the FAQ: what to do when mpirun has detected an attempt to run as root?\n",   # no full stop after it
    "mpirun has detected an attempt to run as a daemon.\n",
])
def test_not_open_mpis_refusal_to_run_as_root(text):
    assert_not_found_by(text, "launcher-report")


@pytest.mark.parametrize("text, error", [
    # A command's "\" lost (a space after it): bash runs each continuation line as a command of its own.
    ("train.sh: line 5: torchrun: command not found\ntrain.sh: line 6: --do_train: command not found\n"
     "train.sh: line 7: --train_file: command not found\n", "train.sh: line 5: torchrun: command not found"),
    ("run.sh: 5: deepspeed: not found\nrun.sh: 6: --num_gpus: not found\n", "run.sh: 5: deepspeed: not found"),
    # Only options: the last, as for any complaints.
    ("t.sh: 15: t.sh: -u: not found\nt.sh: 19: t.sh: -u: not found\n", "t.sh: 19: t.sh: -u: not found"),
    # A name that only holds a dash is a command.
    ("t.sh: line 2: python: command not found\nt.sh: line 9: my-tool: command not found\n",
     "t.sh: line 9: my-tool: command not found"),
])
def test_an_option_run_as_a_command_is_its_commands_continuation(text, error):
    finding = find(text)
    assert (finding.name, finding.error) == ("launcher-report", error), finding


def test_dash_stops_at_a_substitution_it_cannot_expand(tmp_path):
    # A bash-only expansion under dash (sh script.sh), run here: the script stops there. bash's own
    # complaint of a malformed one fails that command only, and the script goes on: no such report.
    if not shutil.which("dash") or not shutil.which("bash"):
        (pytest.fail if os.environ.get("CI") else pytest.skip)("no dash or bash")
    path = tmp_path / "dist_train.sh"
    path.write_text("echo start\nx=abc\necho ${x:1}\necho never\n")
    run = run_tails(["dash", str(path)], cwd=tmp_path)
    assert run.returncode != 0 and b"never" not in run.stdout, run
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert (finding.name, finding.error) == ("launcher-report", f"{path}: 3: Bad substitution"), finding
    path.write_text("echo start\necho ${x;}\necho after\n")
    run = run_tails(["bash", str(path)], cwd=tmp_path)
    assert run.returncode == 0 and b"after" in run.stdout and b"bad substitution" in run.stderr, run
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert finding is None or finding.name != "launcher-report", finding


def test_pdsh_reports_its_nodes_ssh_error(tmp_path):
    # DeepSpeed's multi-node runner: pdsh over ssh, to a node whose sshd does not answer (run for real:
    # pdsh prefixes ssh's own error with the node, then reports its exit).
    if not shutil.which("pdsh") or not shutil.which("ssh"):
        (pytest.fail if os.environ.get("CI") else pytest.skip)("no pdsh or ssh (tests/run installs them)")
    env = dict(os.environ, PDSH_RCMD_TYPE="ssh",
               PDSH_SSH_ARGS="-p 1 -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null %h")
    run = run_tails(["pdsh", "-w", "127.0.0.2", "true"], env=env, cwd=tmp_path)
    assert b"ssh exited with exit code 255" in run.stderr, run
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert (finding.name, finding.error) == ("launcher-report",
                                             "127.0.0.2: ssh: connect to host 127.0.0.2 port 1: Connection refused")
    # Without ssh's line above it, pdsh's own report.
    alone = b"".join(line for line in run.stderr.splitlines(keepends=True) if b"ssh: connect" not in line)
    assert reasons.diagnose(b"", alone).error.startswith("pdsh@"), alone


@pytest.mark.parametrize("text, error", [
    # Slurm's step daemon could not exec the task's program, then srun reports the task's exit.
    ("slurmstepd: error: execve(): torchrun: No such file or directory\n"
     "srun: error: g1301: task 0: Exited with exit code 2\n"
     "srun: launch/slurm: _step_signal: Terminating StepId=3022331.0\n",
     "slurmstepd: error: execve(): torchrun: No such file or directory"),
    # Fujitsu MPI's launcher.
    ("[fx0426:00065] [10] func:pw.x() [0x40622c]\n[WARN] PLE 0608 plexec One of MPI processes was aborted."
     "(rank=0)(nid=0xff33000e)(CODE=1903,3028255134016143360,256)(DETAIL=N/A)\n",
     "[WARN] PLE 0608 plexec One of MPI processes was aborted.(rank=0)(nid=0xff33000e)"
     "(CODE=1903,3028255134016143360,256)(DETAIL=N/A)"),
    # Open MPI's box for a daemon it has no route to, its fields joined; its help aggregation after it.
    ("ORTE does not know how to route a message to the specified daemon\nlocated on the indicated node:\n\n"
     "  my node:   master\n  target node:  192.168.1.20\n\nThis is usually an internal programming error that"
     " should be\n[master] 3 more processes have sent help message help-errmgr-base.txt / no-path\n",
     "ORTE does not know how to route a message to the specified daemon located on the indicated node: my node:"
     " master target node: 192.168.1.20"),
    # A report's colon announces the rest, however it reads.
    ("Launching horovodrun task function was not successful:\nbash: /opt/conda/bin/python3: No such file or directory\n",
     "Launching horovodrun task function was not successful: bash: /opt/conda/bin/python3: No such file or directory"),
])
def test_a_launchers_report_of_why_its_task_did_not_run(text, error):
    finding = find(text)
    assert (finding.name, finding.error) == ("launcher-report", error), finding


@pytest.mark.parametrize("text, error", [
    # make before 4.3 execs a recipe's command itself: its own "Command not found", then its Error 127;
    # the shell's prompt pasted after it is no part of any report.
    ("nvcc -c -o build/k.so src/k.cu -x cu\nmake: nvcc: Command not found\nMakefile:34: recipe for target"
     " 'build/k.so' failed\nmake: *** [build/k.so] Error 127\nroot@fbecc9ba5bb2:/pytorch_knn_cuda#\n",
     "make: nvcc: Command not found"),
    # A build script under dash that cannot find nvcc: g++'s missing object after it is the build's
    # consequence, not a shell's complaint.
    ("make.sh: 9: make.sh: nvcc: not found\ng++: error: roi_pooling_op.cu.o: No such file or directory\n"
     "make.sh: 24: make.sh: nvcc: not found\ng++: error: psroi_pooling_op.cu.o: No such file or directory\n",
     "make.sh: 24: make.sh: nvcc: not found"),
    # ssh's own error, the launch agent's, with pdsh's node before it or alone.
    ("localhost: ssh: connect to host localhost port 22: Connection refused\n",
     "localhost: ssh: connect to host localhost port 22: Connection refused"),
    ("Traceback (most recent call last):\nssh: connect to host 10.0.0.2 port 22: No route to host\n",
     "ssh: connect to host 10.0.0.2 port 22: No route to host"),
    # Open MPI's report: its sentence, not its box's explanation below it; its fields where they follow.
    ("mpirun has exited due to process rank 0 with PID 0 on node shelob1 exiting\nimproperly. There are three"
     " reasons this could occur:\n\n1. this process did not call \"init\" before exiting, but others in\n",
     "mpirun has exited due to process rank 0 with PID 0 on node shelob1 exiting improperly."),
    ("mpirun detected that one or more processes exited with non-zero status, thus causing\nthe job to be"
     " terminated. The first process to do so was:\n\n  Process name: [[29973,1],0]\n  Exit code:    1\n",
     "mpirun detected that one or more processes exited with non-zero status, thus causing the job to be"
     " terminated. The first process to do so was: Process name: [[29973,1],0]; Exit code: 1"),
    # A report inside a structured log event: its message's sentence.
    ('{"label":"RAY_NODE_REMOVED","message":"The node with node id: ada3a377 and address: 10.0.0.5 has been'
     ' marked dead because the detector has missed too many heartbeats from it. This can happen when a \\t(1)'
     ' raylet crashes","severity":"ERROR"}\n',
     "The node with node id: ada3a377 and address: 10.0.0.5 has been marked dead because the detector has"
     " missed too many heartbeats from it."),
])
def test_reports_as_builds_agents_and_log_services_print_them(text, error):
    finding = find(text)
    assert (finding.name, finding.error) == ("launcher-report", error), finding


@pytest.mark.parametrize("text", [
    "g++: error: roi_pooling_op.cu.o: No such file or directory\n",   # a build's, alone: the build rules'
    "cc1plus: fatal error: torch/extension.h: No such file or directory\n",
])
def test_a_compilers_missing_file_is_no_shells_complaint(text):
    assert_not_found_by(text, "launcher-report")


@pytest.mark.parametrize("text, error", [
    # TensorFlow's and XLA's own error-level log line (the level's letter without glog's digits).
    ("2021-04-20 23:10:23.094910: E external/org_tensorflow/tensorflow/stream_executor/cuda/cuda_dnn.cc:352]"
     " Loaded runtime CuDNN library: 8.0.5 but source was compiled with: 8.1.0.\n",
     "Loaded runtime CuDNN library: 8.0.5 but source was compiled with: 8.1.0."),
    ("E tensorflow/core/common_runtime/executor.cc:512] Executor failed to create kernel.\n",
     "Executor failed to create kernel."),
])
def test_tensorflows_error_level_log_line(text, error):
    finding = find(text)
    assert (finding.name, finding.error) == ("runtime-error-log", error), finding


@pytest.mark.parametrize("text", [
    "E external/tensorflow/cuda_dnn.cc 352 no bracket\n",
    "2021-04-20 23:10:23.094910: W external/tensorflow/cuda_dnn.cc:352] a warning\n",   # a warning
    'E {"x": 1}\n',
])
def test_not_tensorflows_error_level_log_line(text):
    assert_not_found_by(text, "runtime-error-log")


def test_the_known_not_found_words_are_bashs():
    # The table is bash.mo's msgstr as this machine has it (where it has it).
    for locale, words in reasons.COMMAND_NOT_FOUND.items():
        catalogue = gettext.translation("bash", "/usr/share/locale", [locale], fallback=True)
        if isinstance(catalogue, gettext.GNUTranslations):
            assert catalogue.gettext("%s: command not found") == words, locale


@pytest.mark.parametrize("locale", LOCALES)
def test_bash_finds_no_command_in_its_locale(tmp_path, locale):
    env = dict(os.environ, LC_ALL="C.UTF-8", LANGUAGE=locale)
    script = tmp_path / "train.sh"
    script.write_text("echo start\nsm-init-test-no-such-python train.py\n")
    run = run_tails(["bash", str(script)], env=env)
    assert run.returncode == 127
    words = reasons.COMMAND_NOT_FOUND[locale].replace("%s", "sm-init-test-no-such-python")
    if os.path.exists(f"/usr/share/locale/{locale}/LC_MESSAGES/bash.mo"):
        assert words.encode() in run.stderr, run.stderr
    else:   # this machine has no translation: bash spoke English
        assert b"command not found" in run.stderr
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert finding.name == "launcher-report" and finding.error.startswith(str(script)), finding
    assert finding.error.endswith(" ".join(reasons.printable(words).split()))


def test_dash_finds_no_command(tmp_path):
    if not shutil.which("dash"):
        pytest.skip("no dash on this machine")
    script = tmp_path / "train.sh"
    script.write_text("echo start\n-u train.py\n")
    run = run_tails(["dash", str(script)])
    assert run.returncode == 127
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert (finding.name, finding.error) == ("launcher-report", f"{script}: 2: -u: not found")


@pytest.mark.parametrize("text, error", [
    # Older dash names the script twice; a complaint is still only the last one when nothing else.
    ("tool/train.sh: 15: tool/train.sh: -u: not found\ntool/train.sh: 19: tool/train.sh: -u: not found\n",
     "tool/train.sh: 19: tool/train.sh: -u: not found"),
    ("dist_train.sh: 行 10: nvidia-smi: 未找到命令\nepoch 1\nmpirun noticed that process rank 0 with PID 7"
     " on node a exited on signal 9 (Killed).\n",
     "mpirun noticed that process rank 0 with PID 7 on node a exited on signal 9 (Killed)."),
])
def test_a_shells_complaint_in_other_forms(text, error):
    assert find(text).error == error


@pytest.mark.parametrize("text, error", [
    # bash 5.0's and 5.1's po/zh_CN.po: "%s：未找到命令", a full-width colon, "%s：行 %d: " before it.
    ("[INFO] start\ntrain.sh：行 84: torchrun：未找到命令\n", "train.sh：行 84: torchrun：未找到命令"),
    ("[INFO] start\ntrain.sh: 行 84: torchrun：未找到命令\n", "train.sh: 行 84: torchrun：未找到命令"),
])
def test_bashs_older_chinese_catalogue(text, error):
    finding = find(text)
    assert (finding.name, finding.error) == ("launcher-report", error)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("line, errno", [
    ("cat < /nonexistent/sm-init-test/data.tfrecord", "No such file or directory"),   # redir.c
    ("./data.txt", "Permission denied"),   # execute_cmd.c's file_error (no x bit: EACCES, root too)
])
def test_bash_cannot_open_a_file_in_its_locale(tmp_path, locale, line, errno):
    # bash's "%s: line %d: " in its locale, then "%s: %s", the file and glibc's strerror() words.
    env = dict(os.environ, LC_ALL="C.UTF-8", LANGUAGE=locale)
    script = tmp_path / "train.sh"
    script.write_text(f"echo start\n{line}\n")
    (tmp_path / "data.txt").write_text("1\n")
    run = run_tails(["bash", str(script)], env=env, cwd=str(tmp_path))
    assert run.returncode != 0
    words = translated(locale, errno)
    assert words in reasons.STRERROR_WORDS or words == errno, (locale, words)
    assert words.encode() in run.stderr, run.stderr
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert finding.name == "launcher-report" and finding.error.startswith(str(script)), finding
    assert finding.error.endswith(f": {words}"), finding


@pytest.mark.parametrize("text, error", [
    # bash's po/zh_CN.po of 4.1 to 4.4 (and 5.3's " 行 "), 5.0's and 5.1's, 5.2's; zh_TW's, fr's, pt_BR's.
    ("start\ntrain.sh: 行 25: /data/train.tfrecord: 权限不够\n", "train.sh: 行 25: /data/train.tfrecord: 权限不够"),
    ("start\ntrain.sh：行 25: /data/x: 没有那个文件或目录\n", "train.sh：行 25: /data/x: 没有那个文件或目录"),
    ("start\ntrain.sh: 第 25 行：/data/x: 权限不够\n", "train.sh: 第 25 行：/data/x: 权限不够"),
    ("start\ntrain.sh: 第 25 列：/data/x: 沒有此一檔案或目錄\n", "train.sh: 第 25 列：/data/x: 沒有此一檔案或目錄"),
    ("start\ntrain.sh : ligne 25 : /data/x: Permission non accordée\n",
     "train.sh : ligne 25 : /data/x: Permission non accordée"),
    ("start\ntrain.sh, linha 25: /data/x: Permissão negada\n", "train.sh, linha 25: /data/x: Permissão negada"),
])
def test_bashs_translated_file_error_in_its_releases(text, error):
    finding = find(text)
    assert (finding.name, finding.error) == ("launcher-report", error)


@pytest.mark.parametrize("text", [
    "检查数据: /data/train.tfrecord: 权限不够\n",           # no script and line before it
    "train.sh: 行 25: 读取失败，权限不够\n",                 # no ": " before the words (not strerror's)
    "Hinweis: Keine Berechtigung für /data, nutze /tmp\n",   # the words inside a line
])
def test_not_bashs_translated_file_error(text):
    finding = find(text)
    assert finding is None or finding.name != "launcher-report", finding


def test_bashs_translated_file_error_is_only_the_last_resort():
    # A script's complaint that it survives, then the trainer's own traceback: the traceback.
    text = ("train.sh: 行 3: /opt/conf: 没有那个文件或目录\nTraceback (most recent call last):\n"
            "  File \"train.py\", line 2, in <module>\n    main()\nValueError: bad config\n")
    assert find(text).error == "ValueError: bad config"


@pytest.mark.parametrize("text", [
    "提示：未找到命令时请先安装 torchrun\n",           # the words in prose, not at the line's end
    "错误：未找到命令 git，请先安装\n",                # a script's own message, the name after them
])
def test_not_bashs_older_chinese_catalogue(text):
    assert find(text) is None


@pytest.mark.parametrize("text", [
    "checkpoint: not found\n",                      # no script and line before it
    "module foo: 3 shards: not found in cache, downloading\n",
    "Die Datei: Kommando nicht gefunden. Weiter\n",  # the words inside a line
])
def test_not_a_shells_complaint(text):
    assert known(text) is None


# The CUDA_CHECK_RETURN macro of Nsight's CUDA project template, as bitsandbytes' csrc/ops.cuh has
# it: fprintf(stderr, "Error %s at line %d in file %s\n", cudaGetErrorString(s), __LINE__, __FILE__);
# exit(1). Built here with gcc, cudaGetErrorString's words given (no CUDA on this machine).
CUDA_CHECK = r'''
#include <stdio.h>
#include <stdlib.h>
#define CUDA_CHECK_RETURN(words) {                                              \
    fprintf(stderr, "Error %s at line %d in file %s\n", words, __LINE__, __FILE__); \
    exit(1); }
int main(int argc, char **argv) { CUDA_CHECK_RETURN(argv[1]); }
'''


@pytest.mark.parametrize("words, hint", [
    ("operation not supported", reasons.HINT_CUDA),
    ("an illegal memory access was encountered", reasons.HINT_CUDA),
    ("out of memory", reasons.HINT_CUDA_OOM),
])
def test_cuda_check_return(tmp_path, words, hint):
    if not shutil.which("gcc"):
        pytest.skip("no gcc on this machine")
    source = tmp_path / "pythonInterface.c"
    source.write_text(CUDA_CHECK)
    subprocess.run(["gcc", "-o", str(tmp_path / "check"), str(source)], check=True)
    run = run_tails([str(tmp_path / "check"), words])
    # torchrun's agent reports the exit after it: the rank's own words are the cause.
    stderr = run.stderr + (b"ERROR:torch.distributed.elastic.multiprocessing.api:failed (exitcode: 1)"
                           b" local_rank: 0 (pid: 7) of binary: python\n")
    finding = reasons.diagnose(run.stdout, stderr)
    assert (finding.name, finding.error, finding.hint) == ("cuda-error", f"Error {words} at line 7 in file {source}",
                                                           hint)


@pytest.mark.parametrize("line", [
    "Error parsing value at line 3 in file config.yaml",      # no C, C++ or CUDA source
    "step 3: Error invalid argument at line 351 in file ops.cu",   # not the whole line
])
def test_not_cuda_check_return(line):
    assert known(f"{line}\n") is None


# Tracebacks indented as a whole --------------------------------------------------------------------

RAISING_SETUP = """
class MissingCUDAException(Exception):
    pass
def installed_cuda_version():
    raise MissingCUDAException("CUDA_HOME does not exist, unable to compile CUDA op(s)")
installed_cuda_version()
"""


def test_pips_build_step_indents_its_childs_traceback(tmp_path):
    # pip (run here) shows a setup.py's output under "× ... did not run successfully." indented by
    # 6, the frames by 8; "[end of output]" and pip's own lines after it.
    pytest.importorskip("setuptools")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "setup.py").write_text(RAISING_SETUP)
    run = run_tails([sys.executable, "-m", "pip", "download", "--no-deps", "--no-index", "--no-build-isolation",
                     "-d", str(tmp_path / "out"), str(tmp_path / "pkg")])
    assert run.returncode != 0 and b"      Traceback (most recent call last):\n" in run.stderr, run.stderr
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert (finding.name, finding.error) == (
        "python-traceback", "MissingCUDAException: CUDA_HOME does not exist, unable to compile CUDA op(s)")


def _python_traceback(tmp_path) -> str:
    """Python's own traceback (run here) of a ModuleNotFoundError two frames deep."""
    (tmp_path / "helpers.py").write_text("from utilts import *\n")
    run = run_tails([sys.executable, "-c", "import helpers"], cwd=str(tmp_path))
    text = run.stderr.decode()
    assert text.startswith("Traceback (most recent call last):\n  File ") and \
        text.endswith("ModuleNotFoundError: No module named 'utilts'\n"), text
    return text


@pytest.mark.parametrize("indent, header", [(2, True), (4, True), (8, True), (4, False), (8, False)])
def test_a_traceback_indented_as_a_whole(tmp_path, indent, header):
    # A paste indented as a whole (markdown's code block: 4), with its header or without (a
    # debugger's report: "Exception has occurred: ..." above the frames); a log line after it.
    # Without the header a frame says where the block is only 6 deep or more.
    lines = _python_traceback(tmp_path).splitlines()[0 if header else 1:]
    text = "Exception has occurred: ModuleNotFoundError\n" + "".join(
        " " * indent + line + "\n" for line in lines) + "Press any key to continue\n"
    finding = find(text)
    assert (finding.name, finding.error) == ("python-traceback", "ModuleNotFoundError: No module named 'utilts'")


def test_a_traceback_that_lost_its_indentation(tmp_path):
    # A paste that lost every line's indentation: a frame's code at column 0 is its code, not the
    # exception (Python prints no frame at column 0).
    text = "".join(line.strip() + "\n" for line in _python_traceback(tmp_path).splitlines())
    finding = find(text)
    assert (finding.name, finding.error) == ("python-traceback", "ModuleNotFoundError: No module named 'utilts'")


@pytest.mark.parametrize("text, error", [
    # Only the header indented (a paste's first line): its frames at 2 are read as they are.
    ('   Traceback (most recent call last):\n  File "a.py", line 2, in <module>\n    f()\nValueError: x\n',
     "ValueError: x"),
    # An indented header with nothing deeper after it: no block, the exception line alone counts.
    ("  Traceback (most recent call last):\nloss: 0.5\nValueError: x\n", "ValueError: x"),
    # faulthandler's frames at column 0 ("line 3 in f", no comma): no code after them; srun's report.
    ('Current thread 0x00007fed4e792740 (most recent call first):\nFile "a.py", line 3 in f\n'
     "srun: error: node1: task 0: Segmentation fault\n", "srun: error: node1: task 0: Segmentation fault"),
])
def test_not_a_traceback_indented_as_a_whole(text, error):
    assert find(text).error == error


@pytest.mark.parametrize("text", [
    # A frame 6 deep after a line as deep (a message's own indented lines), or with no comma.
    '      details:\n      File "a.py", line 3, in f\n        f()\n    ValueError: x\n',
    '  log:\n      File "a.py", line 3 in f\n    ValueError: x\n',
])
def test_an_indented_frame_opens_no_block_after_its_own_depth(text):
    assert_not_found_by(text, "python-traceback")


# Runtimes' own reports ------------------------------------------------------------------------------

DATALOADER_SIGNAL = """
import os, signal, sys
from torch.utils.data import DataLoader, Dataset
class Faulting(Dataset):
    def __len__(self):
        return 4
    def __getitem__(self, index):
        os.kill(os.getpid(), getattr(signal, sys.argv[1]))
for batch in DataLoader(Faulting(), num_workers=1):
    pass
"""


@pytest.mark.parametrize("signal, words, hint", [
    ("SIGBUS", "ERROR: Unexpected bus error encountered in worker. This might be caused by insufficient"
               " shared memory (shm).", reasons.HINT_SHM),
    ("SIGSEGV", "ERROR: Unexpected segmentation fault encountered in worker.", reasons.HINT_CRASH),
])
def test_a_dataloader_workers_own_signal_report(tmp_path, signal, words, hint):
    # torch/csrc/DataLoader.cpp's handlers in the worker (torch run here): its report first, then the
    # main process's RuntimeError, which names the signal and is shown (test_reasons_torch.py); a
    # paste that kept only the worker's report: that is the crash.
    pytest.importorskip("torch")
    (tmp_path / "load.py").write_text(DATALOADER_SIGNAL)
    run = run_tails([sys.executable, str(tmp_path / "load.py"), signal])
    assert run.returncode != 0 and words.encode() in run.stderr, run.stderr[-500:]
    assert reasons.diagnose(run.stdout, run.stderr).error.startswith("RuntimeError: DataLoader worker (pid ")
    last = run.stderr[:run.stderr.index(words.encode()) + len(words)] + b"\n"
    finding = reasons.diagnose(b"", b"Starting training...\n" + last)
    assert (finding.name, finding.error, finding.hint) == ("native-crash", words, hint)


RUST_ALLOC = """
fn main() {
    let size: usize = std::env::args().nth(1).unwrap().parse().unwrap();
    let buffer: Vec<u8> = Vec::with_capacity(size);
    println!("{}", buffer.capacity());
}
"""


def test_rusts_allocation_failure(tmp_path):
    # Rust's default_alloc_error_hook (library/std/src/alloc.rs): "memory allocation of N bytes
    # failed", then abort(); built here with rustc, run by bash under `ulimit -v`.
    if not shutil.which("rustc"):
        pytest.skip("no rustc on this machine")
    (tmp_path / "alloc.rs").write_text(RUST_ALLOC)
    subprocess.run(["rustc", "-O", "-o", str(tmp_path / "alloc"), str(tmp_path / "alloc.rs")], check=True)
    env = dict(os.environ, RUST_BACKTRACE="0")
    run = run_tails(["bash", "-c", f"echo step 1; (ulimit -v 200000; {tmp_path / 'alloc'} 2097152000)"], env=env)
    assert run.returncode == 134 and b"memory allocation of 2097152000 bytes failed\n" in run.stderr, run
    # DeepSpeed's launcher reports the dead rank after it; the allocation says why.
    stderr = run.stderr + b"[launch.py:428:sigkill_handler] Killing subprocess 62215\n"
    finding = reasons.diagnose(run.stdout, stderr)
    assert (finding.name, finding.error, finding.hint) == (
        "host-oom", "memory allocation of 2097152000 bytes failed", reasons.HINT_HOST_MEMORY)


@pytest.mark.parametrize("text", [
    "pool: memory allocation of 64 bytes failed\n",                    # not the line's start
    "memory allocation of 64 bytes failed, retrying with a smaller pool\n",   # not the line's end
    "Unexpected bus error encountered in the config: retrying\n",      # not the DataLoader's
])
def test_not_a_runtimes_own_report(text):
    assert known(text) is None


# NCCL's warnings as NCCL_DEBUG=INFO prints them (src/include/debug.h, ncclDebugLog): the first WARN
# is where it failed, INFO lines carry the failure up ("init.cc:878 -> 2").
NCCL_DEBUG = ("node1:376586:377441 [2] NCCL INFO Channel 00 : 0[3000] -> 1[3000] [send] via NET/IB/0\n"
              "node1:376586:377441 [2] ibvwrap.c:130 NCCL WARN Call to ibv_create_qp failed\n"
              "node1:376586:377443 [4] NCCL INFO init.cc:878 -> 2\n"
              "node1:376586:377443 [4] transport/net.cc:560 NCCL WARN Connection closed by peer\n"
              "node1:376586:377442 [3] NCCL INFO group.cc:72 -> 2 [Async thread]\n")
# c10's log line (c10/util/logging_is_not_google_glog.h), at error level; torch here prints the newer
# form with the time at INFO level ("[I1207 16:21:21.373965645 TCPStoreLibUvBackend.cpp:1266] [c10d] ...").
C10D_LOG = ("[W socket.cpp:464] [c10d] The server socket has failed to bind to 0.0.0.0:29500 (errno: 98 -"
            " Address already in use).\n"
            "{E} [c10d] The server socket has failed to listen on any local network address.\n"
            "Traceback (most recent call last):\n  File \"/usr/local/bin/torchrun\", line 8, in <module>\n"
            "    sys.exit(main())\n")


@pytest.mark.parametrize("text, error, hint", [
    (NCCL_DEBUG, "NCCL WARN Call to ibv_create_qp failed", reasons.HINT_NCCL),
    (C10D_LOG.format(E="[E socket.cpp:500]"),
     "[c10d] The server socket has failed to listen on any local network address.", None),
    (C10D_LOG.format(E="[E1207 16:21:21.373965645 socket.cpp:500]"),
     "[c10d] The server socket has failed to listen on any local network address.", None),
    ("E1207 16:21:21.373965 12345 coordination_service.cc:512] Barrier timed out\nstep 3\n",
     "Barrier timed out", None),
])
def test_a_runtimes_error_log_line_as_the_last_resort(text, error, hint):
    finding = find(text)
    assert (finding.name, finding.error, finding.hint) == ("runtime-error-log", error, hint)


@pytest.mark.parametrize("text, name", [
    # Anything else found comes first: an NCCL error after the warning, the exception a traceback
    # ends with, a launcher's report.
    (NCCL_DEBUG + "RuntimeError: NCCL error in: ProcessGroupNCCL.cpp:1191, unhandled system error\n", "nccl"),
    (C10D_LOG.format(E="[E socket.cpp:500]") + "torch.distributed.DistNetworkError: The server socket has"
     " failed to listen on any local network address.\n", "python-traceback"),
    (NCCL_DEBUG + "srun: error: node1: task 0: Exited with exit code 1\n", "launcher-report"),
])
def test_the_last_resort_comes_last(text, name):
    assert find(text).name == name


@pytest.mark.parametrize("text", [
    "node1:376586:377441 [2] NCCL INFO Call to connect returned Connection refused, retrying\n",
    C10D_LOG.format(E="[I1207 16:21:21.373965645 socket.cpp:500]"),     # info and warning levels
    "see [E socket.cpp:500] in the log\n",                               # not the line's start
])
def test_not_a_runtimes_error_log_line(text):
    assert_not_found_by(text, "runtime-error-log")


# docker compose ------------------------------------------------------------------------------------

def compose(name: str, width: int, output: bytes) -> str:
    """``output`` as docker compose shows a service's lines (compose v2's pkg/formatter/logs.go:
    fmt.Sprintf("%-"+width+"s |", name), then " " and the line)."""
    return "".join(f"{name:<{width}} | {line}\n" for line in output.decode().splitlines())


@pytest.mark.parametrize("exit_line", [True, False])
def test_docker_composes_service_prefix_is_peeled(tmp_path, exit_line):
    # bash's report of its child's SIGKILL (run here), behind compose's prefix: the known cause beats
    # compose's own "exited with code 137"; without that line, two prefixed lines in one column.
    script = tmp_path / "entrypoint.sh"
    script.write_text(f"echo starting\n{sys.executable} {FAILING} killed\n")
    run = run_tails(["bash", str(script)])
    assert run.returncode == 137 and b" Killed " in run.stderr, run
    text = compose("scalellm", 17, run.stdout + run.stderr) + ("scalellm exited with code 137\n" if exit_line else "")
    finding = find(text)
    assert finding.name == "killed" and finding.source == "stderr [scalellm]", finding
    assert finding.error.startswith(f"scalellm: {script}: line 2: ") and " Killed " in finding.error


@pytest.mark.parametrize("text, error", [
    # A table's row alone, rows whose bars are in different columns: no service's prefix.
    ("epoch | Killed\nValueError: x\n", "ValueError: x"),
    ("step | 3\nlr   | Killed\nValueError: x\n", "ValueError: x"),
])
def test_not_a_services_prefix(text, error):
    assert find(text).error == error


def test_an_exception_line_is_no_shell_reports_wrapped_rest(tmp_path):
    # dash's "not found" (run here), then a process pool's remote traceback (python run here) whose
    # paste stops at its opening quotes: the exception line is a line of its own.
    if not shutil.which("dash"):
        pytest.skip("no dash on this machine")
    pool = ("import concurrent.futures as f\ndef g(): raise ValueError('nms build failed')\n"
            "f.ProcessPoolExecutor(1).submit(g).result()\n")
    (tmp_path / "pool.py").write_text(pool)
    run = run_tails(["dash", "-c", f"sm-init-test-no-nvcc -c x.cu; {sys.executable} {tmp_path / 'pool.py'}"])
    head = run.stderr.split(b'"""\n')[0] + b'"""\n'
    assert head.endswith(b'sm-init-test-no-nvcc: not found\nconcurrent.futures.process._RemoteTraceback: \n"""\n'), head
    finding = reasons.diagnose(b"", head)
    assert (finding.name, finding.error) == ("launcher-report", "dash: 1: sm-init-test-no-nvcc: not found")


# Open MPI's help-errmgr-base.txt [failed-daemon-launch], mpirun 4.1 run here: its rsh agent (ssh's
# stand-in, a shell) starting the daemon on a node, where there is no such daemon, or failing outright.
@pytest.mark.parametrize("agent, error", [
    ("#!/bin/sh\nshift\nexec bash -c \"$*\"\n",
     "bash: line 1: sm-init-test-no-orted: command not found (ORTE was unable to reliably start one or more"
     " daemons.)"),
    ("#!/bin/sh\nexit 255\n", "ORTE was unable to reliably start one or more daemons."),
])
def test_open_mpi_could_not_start_its_daemons(tmp_path, agent, error):
    if not shutil.which("mpirun"):
        (pytest.fail if os.environ.get("CI") else pytest.skip)("no mpirun (tests/run installs openmpi-bin)")
    (tmp_path / "agent.sh").write_text(agent)
    (tmp_path / "agent.sh").chmod(0o755)
    root = ["--allow-run-as-root"] if os.geteuid() == 0 else []
    run = run_tails(["mpirun", *root, "-H", "sm-init-test-node", "-np", "1", "--mca", "plm_rsh_agent",
                     str(tmp_path / "agent.sh"), "--mca", "orte_launch_agent", "sm-init-test-no-orted", "true"],
                    cwd=tmp_path)
    assert run.returncode != 0 and b"ORTE was unable to reliably start" in run.stdout + run.stderr, run
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert (finding.name, finding.error) == ("launcher-report", error)


def test_open_mpi_whose_ssh_could_not_reach_a_node(tmp_path):
    # The real ssh as its agent (OpenSSH run here), told to a closed port on a loopback address that
    # mpirun takes for another node: ssh's own error says why, right above the box.
    if not shutil.which("mpirun") or not shutil.which("ssh"):
        (pytest.fail if os.environ.get("CI") else pytest.skip)("no mpirun or ssh (tests/run installs them)")
    root = ["--allow-run-as-root"] if os.geteuid() == 0 else []
    run = run_tails(["mpirun", *root, "-H", "127.0.0.2", "-np", "1", "--mca", "plm_rsh_agent", "ssh",
                     "--mca", "plm_rsh_args", "-p 1 -o BatchMode=yes", "true"], cwd=tmp_path)
    assert run.returncode != 0 and b"ORTE was unable to reliably start" in run.stdout + run.stderr, run
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert (finding.name, finding.error) == ("launcher-report", "ssh: connect to host 127.0.0.2 port 1: Connection refused")


@pytest.mark.parametrize("above, error", [
    ("ssh: Could not resolve hostname localhost:3: Name or service not known\n",
     "ssh: Could not resolve hostname localhost:3: Name or service not known"),
    ("Host key verification failed.\n", "Host key verification failed."),
    ("ubuntu@node2: Permission denied (publickey).\n", "ubuntu@node2: Permission denied (publickey)."),
    # Far above the box (a script's probe of a host): the box alone.
    ("ssh: connect to host node9 port 22: Connection timed out\nepoch 1\nepoch 2\nepoch 3\n",
     "ORTE was unable to reliably start one or more daemons."),
    # Not ssh's words.
    ("rsync: connect to host node2 port 873: Connection refused\n", "ORTE was unable to reliably start one or more daemons."),
])
def test_ssh_above_the_daemon_box(above, error):
    text = above + "-" * 74 + "\nORTE was unable to reliably start one or more daemons.\nThis usually is caused by:\n"
    assert find(text).error == error


@pytest.mark.parametrize("text, error", [
    # A complaint the script survived, long before the box: the box alone.
    ("bash: nvidia-smi: command not found\nepoch 1\nepoch 2\nepoch 3\n" + "-" * 74 +
     "\nORTE was unable to reliably start one or more daemons.\nThis usually is caused by:\n",
     "ORTE was unable to reliably start one or more daemons."),
])
def test_a_complaint_long_before_the_daemon_box_is_not_its_reason(text, error):
    assert find(text).error == error


# Open MPI's out-of-band TCP component's box (oob_tcp_connection.c), then the daemons box it explains.
OOB_TCP_BOX = ("-" * 60 + "\nA process or daemon was unable to complete a TCP connection\nto another process:\n"
               "  Local host:    node1\n  Remote host:   node2\n"
               "This is usually caused by a firewall on the remote host. Please\n" + "-" * 60 + "\n")
DAEMONS_BOX = "-" * 74 + "\nORTE was unable to reliably start one or more daemons.\nThis usually is caused by:\n"


def test_a_tcp_connection_box_before_the_daemon_box_is_its_reason():
    finding = find(OOB_TCP_BOX + DAEMONS_BOX)
    assert (finding.name, finding.error) == ("launcher-report", "A process or daemon was unable to complete a"
                                             " TCP connection to another process: Local host: node1")


def test_the_daemon_box_without_a_tcp_box_is_its_own():
    # Near miss: the daemons box alone, or with a firewall's words that are not Open MPI's box.
    for text in (DAEMONS_BOX, "a process was unable to connect: check the firewall\n" + DAEMONS_BOX):
        assert find(text).error == "ORTE was unable to reliably start one or more daemons.", text


# cmake 3.25 run here on a CMakeLists.txt whose probe imports a missing module, then writes where it
# cannot: the probe's traceback, then the CMake error, then its verdict on the configure step.
CMAKE_RUN = ("Traceback (most recent call last):\n  File \"<string>\", line 1, in <module>\n"
             "ModuleNotFoundError: No module named 'mxnet'\n-- probe done\n"
             "CMake Error at CMakeLists.txt:5 (file):\n"
             "  file failed to open for writing (No such file or directory):\n\n    /proc/nope/metadata.json\n\n\n")


@pytest.mark.parametrize("indent", ["", "    "])   # as cmake prints it, and as pip's build output shows it
def test_a_failed_cmake_configure_is_its_first_cmake_error(indent):
    text = "".join(indent + line + "\n" for line in (CMAKE_RUN + "-- Configuring incomplete, errors occurred!\n"
                                                       ).splitlines())
    finding = find(text)
    assert (finding.name, finding.error) == (
        "cmake-error", "CMake Error at CMakeLists.txt:5 (file): file failed to open for writing (No such file or"
                       " directory):"), finding


def test_a_cmake_error_without_cmakes_verdict_is_not_the_failure():
    # Near miss: no "Configuring incomplete": the traceback after it is another process's end.
    finding = find(CMAKE_RUN + "Traceback (most recent call last):\n  File \"t.py\", line 1, in <module>\n"
                   "    x()\nValueError: bad lr\n")
    assert finding.error == "ValueError: bad lr", finding


def test_not_open_mpis_daemon_box():
    assert known("the orted daemons were unable to reliably start: retrying\n") is None


# Open MPI's box for a daemon lost after it started (help-errmgr-base.txt's [node-died], and later
# releases' "with a remote daemon." with the daemons' names below; PRRTE's "PRTE ..." in Open MPI 5).
LOST_DAEMON_BOX = ("-" * 74 + "\nORTE has lost communication with a remote daemon.\n\n"
                   "  HNP daemon   : [[64112,0],0] on node head\n  Remote daemon: [[64112,0],1] on node node2\n\n"
                   "This is usually due to either a failure of the TCP network\nconnection to the node, or possibly"
                   " an internal failure of\nthe daemon itself. We cannot recover from this failure, and\n"
                   "therefore will terminate the job.\n" + "-" * 74 + "\n")


@pytest.mark.parametrize("text, error", [
    (LOST_DAEMON_BOX, "ORTE has lost communication with a remote daemon."),
    (LOST_DAEMON_BOX.replace("ORTE", "PRTE"), "PRTE has lost communication with a remote daemon."),
    ("ORTE has lost communication with its daemon located on node:\n\n  hostname:  node7\n\nThis is usually"
     " due to either a failure of the TCP network\n", "ORTE has lost communication with its daemon located on node:"
                                                       " hostname: node7"),
    ("mpiexec: Forwarding signal 20 to job\n" + LOST_DAEMON_BOX, "ORTE has lost communication with a remote daemon."),
])
def test_open_mpis_lost_daemon_box(text, error):
    finding = find(text)
    assert (finding.name, finding.error) == ("launcher-report", error), finding


@pytest.mark.parametrize("text", [
    "we lost communication with a remote daemon, retrying\n",
    "ORTE has lost communication with a remote daemonset\n",
])
def test_not_open_mpis_lost_daemon_box(text):
    assert_not_found_by(text, "launcher-report")


# horovodrun's gloo launcher (horovod/runner/gloo_run.py, _exec_command) for a rank whose command
# failed, then its own traceback cut before its RuntimeError (a paste's end).
HOROVOD_GLOO_EXIT = ("Process 0 exit with status code 137.\nTraceback (most recent call last):\n"
                     "  File \"/usr/bin/horovodrun\", line 8, in <module>\n    sys.exit(run_commandline())\n")


def test_horovods_gloo_report_of_a_rank():
    finding = find(HOROVOD_GLOO_EXIT)
    assert (finding.name, finding.error) == ("launcher-report", "Process 0 exit with status code 137."), finding
    assert finding.hint == reasons.HINT_KILLED


@pytest.mark.parametrize("text", [
    "Process 0 exit with status code 0.\n",                      # no failure
    "the process exit with status code 137 was logged\n",        # prose
    "Process 0 exit with status code 137. retrying\n",           # not the line's end
])
def test_not_horovods_gloo_report(text):
    assert_not_found_by(text, "launcher-report")


# CircleCI's report of a step whose command failed, a line of its own, as its users paste it
# ("Exited with code exit status 137" and "CircleCI received exit code 137"; older "Exited with code 137").
@pytest.mark.parametrize("text, error", [
    ("+ docker-compose exec web supervisorctl restart all\nExited with code 137\n\nHint: Exit code 137 typically"
     " means the process is killed because it was running out of memory\n", "Exited with code 137"),
    ("+ ./run.sh\n\nExited with code exit status 137\nCircleCI received exit code 137\n",
     "Exited with code exit status 137"),
    ("+ ./run.sh\nCircleCI received exit code 137\n", "CircleCI received exit code 137"),
])
def test_circlecis_report_of_a_failed_step(text, error):
    finding = find(text)
    assert (finding.name, finding.error, finding.hint) == ("launcher-report", error, reasons.HINT_KILLED), finding


@pytest.mark.parametrize("text", [
    "Exited with code 0\n",                                      # success
    "the step Exited with code 137 yesterday\n",                 # not the whole line
    "Exited with code 137 (retrying)\n",
])
def test_not_circlecis_report(text):
    assert_not_found_by(text, "launcher-report")


def test_a_traceback_beats_circlecis_report():
    finding = find("Traceback (most recent call last):\n  File \"t.py\", line 1, in <module>\n    x()\n"
                   "ValueError: bad lr\n\nExited with code exit status 1\n")
    assert finding.error == "ValueError: bad lr", finding


# The SageMaker SDK's waiter exception (sagemaker-core's exceptions.py: FailedStatusError's fmt, the
# resource's FailureReason last), as python run here prints it from a module of that name.
SAGEMAKER_EXCEPTIONS = '''
class FailedStatusError(Exception):
    fmt = ("Encountered unexpected failed state while waiting for {resource_type}. Final Resource State:"
           " {status}. Failure Reason: {reason}")
    def __init__(self, **kwargs):
        Exception.__init__(self, self.fmt.format(**kwargs))
'''
REASON = "ClientError: Data download failed:Failed to download data. S3 key: s3://b/k//x has an illegal char"


@pytest.mark.parametrize("broken", [False, True])
def test_sagemakers_failed_status_says_its_reason(tmp_path, broken):
    # The reason on the line, or on the next where a paste broke the line before "Failure Reason:".
    (tmp_path / "sm_exceptions.py").write_text(SAGEMAKER_EXCEPTIONS)
    run = run_tails([sys.executable, "-c", "import sm_exceptions\nraise sm_exceptions.FailedStatusError("
                     f"resource_type='TrainingJob', status='Failed', reason={REASON!r})"], cwd=str(tmp_path))
    last = run.stderr.decode().rstrip("\n").splitlines()[-1]
    assert last.startswith("sm_exceptions.FailedStatusError: Encountered unexpected failed state"), run.stderr
    stderr = run.stderr.decode().replace(" Failure Reason: ", "\nFailure Reason: ") if broken else run.stderr.decode()
    for text in (stderr, last.replace(" Failure Reason: ", "\nFailure Reason: ") if broken else last):
        finding = find(text + "\n")
        assert finding.error == f"sm_exceptions.FailedStatusError: TrainingJob Failed: {REASON}", finding


@pytest.mark.parametrize("text, error", [
    # No reason at all: the line as it is; a reason that is not the next line's.
    ("FailedStatusError: Encountered unexpected failed state while waiting for Endpoint. Final Resource"
     " State: Failed.\n",
     "FailedStatusError: Encountered unexpected failed state while waiting for Endpoint. Final Resource"
     " State: Failed."),
    ("FailedStatusError: Encountered unexpected failed state while waiting for Endpoint. Final Resource"
     " State: Failed.\nstep 3\nFailure Reason: x\n",
     "FailedStatusError: Encountered unexpected failed state while waiting for Endpoint. Final Resource"
     " State: Failed."),
])
def test_a_failed_status_without_its_reason(text, error):
    assert find(text).error == error


# Hydra's instantiate() (_instantiate2.py's _call_target), as hydra-core 1.3.8 printed it here for a
# target whose __init__ raised, without HYDRA_FULL_ERROR (its exception's str() alone) and with it.
HYDRA_SHORT = ("Error executing job with overrides: ['+x=1']\n"
               "Error in call to target 'mylib.Trainer':\n"
               "MisconfigurationException('No supported gpu backend found!')\n"
               "full_key: trainer\n\n"
               "Set the environment variable HYDRA_FULL_ERROR=1 for a complete stack trace.\n")
HYDRA_FULL = ('Traceback (most recent call last):\n'
              '  File "/env/hydra/_internal/instantiate/_instantiate2.py", line 138, in _call_target\n'
              '    raise InstantiationException(_with_full_key(msg, full_key)) from e\n'
              "hydra.errors.InstantiationException: Error in call to target 'mylib.Trainer':\n"
              "MisconfigurationException('No supported gpu backend found!')\n"
              "full_key: trainer\n")
HYDRA_ERROR = "Error in call to target 'mylib.Trainer': MisconfigurationException('No supported gpu backend found!')"


@pytest.mark.parametrize("text, recogniser, error", [
    (HYDRA_SHORT, "hydra-error", HYDRA_ERROR),
    (HYDRA_FULL, "python-traceback", "hydra.errors.InstantiationException: " + HYDRA_ERROR),
])
def test_hydras_failed_instantiation(text, recogniser, error):
    finding = find(text)
    assert (finding.name, finding.error) == (recogniser, error)


HYDRA_APP = """
import hydra
from hydra.utils import instantiate
class MisconfigurationException(Exception):
    pass
class Trainer:
    def __init__(self, accelerator):
        raise MisconfigurationException("No supported gpu backend found!")
@hydra.main(version_base=None, config_path=None)
def main(cfg):
    instantiate({"_target_": "__main__.Trainer", "accelerator": "gpu"})
main()
"""


def test_hydra_run_here(tmp_path):
    # hydra-core is in the test extra (setup.cfg), so this runs everywhere the suite does.
    (tmp_path / "run.py").write_text(HYDRA_APP)
    run = run_tails([sys.executable, str(tmp_path / "run.py")], cwd=str(tmp_path),
                    env={k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"})
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert (finding.name, finding.error) == (
        "hydra-error", "Error in call to target '__main__.Trainer': MisconfigurationException('No supported gpu"
        " backend found!')"), run.stderr


@pytest.mark.parametrize("text", [
    "Error in call to target 'mylib.Trainer':\nretrying with defaults\n",   # no repr below it
    "Error in call to target 'mylib.Trainer':\nstep 3\nValueErrorish('x')\n",
])
def test_not_hydras_failed_instantiation(text):
    assert known(text) is None


# TensorFlow 1's OpError.__str__ (tensorflow/python/framework/errors_impl.py of 1.x): the message, the
# op's stack, then "\n%s (see above for traceback): %s\n" % (type(self).__name__, self.message); a
# class of that form raised by python here.
TF1_ERRORS = '''
import traceback
class NotFoundError(Exception):
    def __init__(self, message):
        Exception.__init__(self, message)
        self.message = message
    def __str__(self):
        output = ["%s\\n\\nCaused by op %r, defined at:\\n" % (self.message, "save/RestoreV2")]
        output.extend(traceback.format_list([("train.py", 52, "<module>", "saver.restore(sess, path)")]))
        output.append("\\n%s (see above for traceback): %s\\n" % (type(self).__name__, self.message))
        return "".join(output)
'''
TF1_MESSAGE = "Unsuccessful TensorSliceReader constructor: Failed to find any matching files for ./ckpt"


def test_tensorflow_1s_see_above_line(tmp_path):
    (tmp_path / "errors_impl.py").write_text(TF1_ERRORS)
    run = run_tails([sys.executable, "-c", f"import errors_impl\nraise errors_impl.NotFoundError({TF1_MESSAGE!r})"],
                    cwd=str(tmp_path))
    last = run.stderr.decode().rstrip("\n").splitlines()[-1]
    assert last == f"NotFoundError (see above for traceback): {TF1_MESSAGE}", run.stderr
    # The whole report (the exception line first, the op's stack, the summary), and a paste of its end.
    for text in (run.stderr.decode(), f"INFO:tensorflow:Restoring parameters from ./ckpt\n{last}\n"):
        finding = find(text)
        assert finding.error.endswith(f"NotFoundError: {TF1_MESSAGE}"), finding


@pytest.mark.parametrize("text", [
    "see the log (see above for traceback): x\n",          # no class's name
    "Error (see above for traceback): x\n",                # the word alone
    "NotFoundError (see above for traceback):\n",          # no message
])
def test_not_tensorflow_1s_see_above_line(text):
    finding = find(text)
    assert finding is None or "(see above for traceback)" in finding.error, finding


# Python's logging (Lib/logging/__init__.py: Formatter.format() writes the message, then "\n" and the
# traceback, for logger.exception() and exc_info=True), run here; the output cut inside the traceback
# (a paste that ends there, a process killed while it printed): the logged line is the error.
LOGGED = """
import logging, sys
logging.basicConfig(format=sys.argv[1], level=logging.INFO)
log = logging.getLogger("container_support.training")
def download():
    raise OSError("An error occurred (403) when calling the HeadObject operation: Forbidden")
try:
    log.info("starting train task")
    download()
except Exception as e:
    log.exception("uncaught exception during training: %s", e)
    sys.exit(1)
"""


@pytest.mark.parametrize("form", ["%(asctime)s %(levelname)s - %(name)s - %(message)s",
                                  "[%(asctime)s:%(levelname)s] %(message)s",
                                  "%(levelname)s:%(name)s:%(message)s"])
def test_an_error_logged_before_its_cut_traceback(tmp_path, form):
    (tmp_path / "train.py").write_text(LOGGED)
    run = run_tails([sys.executable, "train.py", form], cwd=str(tmp_path))
    whole = run.stderr.decode()
    assert whole.rstrip().endswith("Forbidden") and "Traceback (most recent call last):" in whole, whole
    # Whole: the traceback's exception line, as ever.
    assert find(whole).name == "python-traceback"
    cut = whole[:whole.rindex("\n", 0, whole.rindex("OSError: An error"))]   # up to the last frame's code
    finding = find(cut)
    assert finding.name == "cut-traceback", (cut, finding)
    assert finding.error.endswith("uncaught exception during training: An error occurred (403) when calling"
                                  " the HeadObject operation: Forbidden"), finding
    assert "ERROR" not in finding.error and "INFO" not in finding.error
    # Cut right after the header (a paste that ends in the first frame's line, which its copier left
    # out), here behind docker compose v1's prefix (compose/cli/log_printer.py build_log_prefix: the
    # container's name_without_project, "{service}_{number}", padded, then " | ").
    header = whole[:whole.index("\n", whole.index("Traceback (most recent call last):")) + 1]
    composed = "".join(f"algo-1-GGF0S_1  | {line}\n" for line in header.splitlines())
    for text in (header, composed):
        finding = find(text)
        assert finding.name == "cut-traceback", (text, finding)
        assert finding.error.endswith("the HeadObject operation: Forbidden"), finding


@pytest.mark.parametrize("above", [
    "INFO:root:retrying the download",                 # not an error level
    "Process Process-3:",                              # multiprocessing's line above a child's traceback
    "Exception in thread Thread-1:",                   # threading's
    "step 3: the ERROR rate is 0.2",                   # the word in a message, not a level
])
@pytest.mark.parametrize("frames", ["  File \"train.py\", line 9, in <module>\n    download()\n", ""])
def test_not_an_error_logged_before_its_cut_traceback(above, frames):
    text = f"epoch 1\n{above}\nTraceback (most recent call last):\n{frames}"
    assert_not_found_by(text, "cut-traceback")


def test_not_a_cut_traceback_whose_header_is_not_the_last_line():
    # The header, no frame, then more output: not a traceback cut (it is none Python printed).
    text = ("2018-10-08 05:34:27,433 ERROR - root - the download failed\nTraceback (most recent call last):\n"
            "epoch 2\n")
    assert_not_found_by(text, "cut-traceback")


# Exceptions a logger reported, no traceback: TensorFlow 1's Coordinator (coordinator.py, request_stop:
# logging.info("Error reported to Coordinator: %s, %s", type(ex), str(ex))) and TensorFlow 2's
# ClusterCoordinator worker (cluster_coordinator.py, _process_closure: logging.error("/job:worker/task:%d
# encountered the following error when processing closure: %r:%s", ..., e, e); an OpError's repr
# names no args (errors_impl.py's OpError.__init__: super().__init__()), error_interpolation's
# message starts "Graph execution error:" and a blank line).
# Their calls, run here with classes of TensorFlow's names.
LOGGED_TF = """
import logging, sys
logging.basicConfig(format=sys.argv[1], level=logging.INFO)
log = logging.getLogger("tensorflow")
class OpError(Exception):   # errors_impl.py: super().__init__() with no args, so its repr is "Name()"
    def __init__(self, message):
        super().__init__()
        self.message = message
    def __str__(self):
        return self.message
UnknownError = type("UnknownError", (OpError,), {"__module__": "tensorflow.python.framework.errors_impl"})
UnavailableError = type("UnavailableError", (OpError,), {"__module__": "tensorflow.python.framework.errors_impl"})
try:
    raise (UnknownError if sys.argv[2] == "coordinator" else UnavailableError)(sys.argv[3])
except OpError as ex:
    if sys.argv[2] == "coordinator":
        log.info("Error reported to Coordinator: %s, %s", type(ex), str(ex))
    else:
        log.error("/job:%s/task:%d encountered the following error when processing closure: %r:%s",
                  "worker", 2, ex, ex)
sys.exit(1)
"""
COORDINATED = ("2 root error(s) found.\n  (0) Unknown: Failed to get convolution algorithm.\n\t [[node conv0]]\n"
               "  (1) Unknown: Failed to get convolution algorithm.\n0 successful operations.\n")


ABSL = "%(levelname).1s0426 23:04:32.326952 %(thread)d %(filename)s:%(lineno)d] %(message)s"   # absl's header


@pytest.mark.parametrize("form", ["%(levelname)s:%(name)s:%(message)s", ABSL])
@pytest.mark.parametrize("kind, said, error", [
    ("coordinator", COORDINATED, "tensorflow.python.framework.errors_impl.UnknownError: 2 root error(s) found."
                                 " (0) Unknown: Failed to get convolution algorithm."),
    ("closure", "Graph execution error:\n\nSocket closed\nAdditional GRPC error information from remote target"
                " /job:ps/replica:0/task:0/device:CPU:0:\n", "UnavailableError: Socket closed"),
    ("closure", "Socket closed", "UnavailableError: Socket closed"),
])
def test_a_tensorflow_error_a_logger_reported(tmp_path, form, kind, said, error):
    (tmp_path / "train.py").write_text(LOGGED_TF)
    run = run_tails([sys.executable, "train.py", form, kind, said], cwd=str(tmp_path))
    assert b"Traceback" not in run.stderr and (b"Error reported to" in run.stderr or b"closure: " in run.stderr)
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert (finding.name, finding.error) == ("exception-line", error), run.stderr


@pytest.mark.parametrize("text", [
    "INFO:tensorflow:Error reported to Coordinator: Stop requested\n",          # no class: older TF, no name
    "WARNING:root:Got error reported to coordinator: End of sequence\n",        # a script's own words
    "ERROR:tensorflow:/job:worker/task:2 encountered the following error when processing closure: retry\n",
])
def test_not_a_tensorflow_error_a_logger_reported(text):
    assert_not_found_by(text, "exception-line")


# A runner that relays a child's output through absl's logging, a line at a time, stripped (AlphaFold's
# run_docker.py: logging.info(line.strip()) for each line of the container's): absl's header before
# every line of the child's traceback (ABSL, the form of absl/logging/__init__.py's get_absl_log_prefix,
# its thread's id "%5d"), run here; the header peeled, the child's exception line is the error.
RELAY = """
import logging, subprocess, sys
logging.basicConfig(format=sys.argv[1], level=logging.INFO)
child = subprocess.run([sys.executable, "-c", "import numpy_like\\n"], capture_output=True, text=True)
for line in child.stderr.splitlines():
    logging.info(line.strip())
sys.exit(1)
"""


@pytest.mark.parametrize("form", [ABSL, ABSL.replace("%(thread)d", "%(process)5d")])
def test_a_childs_traceback_relayed_behind_absls_header(tmp_path, form):
    (tmp_path / "run_docker.py").write_text(RELAY)
    run = run_tails([sys.executable, "run_docker.py", form], cwd=str(tmp_path))
    assert b"run_docker.py:6] Traceback (most recent call last):" in run.stderr, run.stderr
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert finding.error == "ModuleNotFoundError: No module named 'numpy_like'", (run.stderr, finding)


def test_not_absls_header_on_glogs_cxx_error_line():
    # glog's C++ error line has the same header with a C++ file: it is the error, not a prefix to drop.
    text = ("I1213 13:02:06.025116 140646328219456 run_docker.py:222] starting\n"
            "E1213 13:02:06.025453 140646328219456 cusolver_kernels.cc:44] cusolverDnCreate failed\n")
    finding = find(text)
    assert (finding.name, finding.error) == ("runtime-error-log", "cusolverDnCreate failed"), finding


# Ray's dual exception (python/ray/exceptions.py, as_instanceof_cause: a class named
# f"RayTaskError({cause_cls.__name__})", its str() the task's title and its remote traceback), raised
# by python here; a paste that ends inside the remote traceback keeps only its line.
RAY_TASK = """
class OutOfMemoryError(Exception):
    pass
RayTaskError = type("RayTaskError(OutOfMemoryError)", (OutOfMemoryError,), {"__module__": "ray.exceptions"})
def get():
    raise RayTaskError('ray::Runner.run() (pid=118848, ip=10.0.0.7)\\n  File "/w/main.py", line 94, in run\\n'
                       '    trainer.fit()\\n  File "/w/trainer.py", line 657, in fit\\n    out = ray.get(o)\\n'
                       'ray.exceptions.OutOfMemoryError: Task was killed due to the node running low on memory.')
get()
"""


def test_rays_task_error_names_its_cause(tmp_path):
    (tmp_path / "train.py").write_text(RAY_TASK)
    run = run_tails([sys.executable, "train.py"], cwd=str(tmp_path))
    whole = run.stderr.decode()
    line = "ray.exceptions.RayTaskError(OutOfMemoryError): ray::Runner.run() (pid=118848, ip=10.0.0.7)"
    assert line in whole, whole
    assert find(whole).error.endswith("Task was killed due to the node running low on memory.")   # whole: its end
    cut = whole[:whole.index("    trainer.fit()")]   # the paste ends inside the remote traceback
    finding = find(cut)
    assert (finding.name, finding.error) == ("exception-line", line), cut


@pytest.mark.parametrize("text", [
    "see ray.exceptions.RayTaskError(OutOfMemoryError): the docs say why\n",     # prose, not at the start
    "RayTaskError(oom): x\n",                                                  # no class's name in brackets
])
def test_not_rays_task_error(text):
    finding = known(text)
    assert finding is None or "RayTaskError" not in finding.error, finding


def test_torchrun_told_to_stop(tmp_path):
    # torchrun run here, its agent sent SIGHUP (a closed terminal): the agent's SignalException,
    # logged by api.py's run() as "Received 1 death signal, shutting down workers" before it re-raises.
    pytest.importorskip("torch")
    import signal
    import time
    (tmp_path / "train.py").write_text("import time\nprint('ready', flush=True)\ntime.sleep(60)\n")
    agent = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=1", "train.py"],
                             cwd=str(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert agent.stdout.readline().strip() == b"ready"
        time.sleep(0.5)   # the agent's monitor loop runs (its handlers are in place)
        agent.send_signal(signal.SIGHUP)
        stdout, stderr = agent.communicate(timeout=60)
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
    assert b"death signal, shutting down workers" in stderr, stderr[-2000:]
    finding = reasons.diagnose(stdout, stderr)
    assert (finding.name, finding.error) == ("launcher-report", "Received 1 death signal, shutting down workers"), finding


@pytest.mark.parametrize("text", [
    "Received SIGTERM, shutting down the data server\n",            # another program's words
    "INFO: Received 3 messages, shutting down workers\n",             # no death signal
])
def test_not_torchrun_told_to_stop(text):
    assert find(text) is None


MPI_BEFORE_INIT = """
import ctypes, ctypes.util
mpi = ctypes.CDLL(ctypes.util.find_library("mpi") or "libmpi.so.40")
world = ctypes.c_void_p.in_dll(mpi, "ompi_mpi_comm_world")
rank = ctypes.c_int()
mpi.MPI_Comm_rank(ctypes.byref(world), ctypes.byref(rank))
"""


def test_open_mpi_called_before_its_init():
    # libmpi (Open MPI 4.1) called here before MPI_Init: its own report, then a local abort.
    import ctypes.util
    if not (ctypes.util.find_library("mpi") or os.path.exists("/usr/lib/x86_64-linux-gnu/libmpi.so.40")):
        (pytest.fail if os.environ.get("CI") else pytest.skip)("no libmpi (tests/run installs openmpi-bin)")
    run = run_tails([sys.executable, "-c", MPI_BEFORE_INIT])
    assert run.returncode != 0
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert (finding.name, finding.error) == (
        "launcher-report", "*** The MPI_Comm_rank() function was called before MPI_INIT was invoked."), run.stderr


@pytest.mark.parametrize("text", [
    "*** The setup() function was called before the config was read.\n",    # no MPI_INIT
    "note: The MPI_Comm_rank() function was called before MPI_INIT was invoked in v1\n",   # no '*** '
])
def test_not_open_mpi_called_before_its_init(text):
    assert find(text) is None


# Ray's dashboard agent's report of its raylet's death (dashboard/agent.py, report_raylet_error_logs:
# "Raylet is terminated. " + "Termination is unexpected. Possible reasons include: ..." and the last
# lines of raylet.out after "Last N lines of the Raylet logs:"), as the driver prints it; Ray 2.0's
# worker.py names the node first ("Raylet is terminated: ip=..., id=... Termination is unexpected.").
RAYLET_DEATH = ("Termination is unexpected. Possible reasons include: (1) SIGKILL by the user or system OOM killer,"
                " (2) Invalid memory access from Raylet causing SIGSEGV or SIGBUS, (3) Other termination signals."
                " Last 20 lines of the Raylet logs:")


@pytest.mark.parametrize("text, error", [
    (f"(raylet) Raylet is terminated. {RAYLET_DEATH}\n    [state-dump] NodeManager: 3 total\n",
     f"raylet: Raylet is terminated. {RAYLET_DEATH}"),   # the driver's "(raylet)" prefix names the process
    ("2022-11-02 02:42:14,808 WARNING worker.py:1849 -- Raylet is terminated: ip=10.0.0.1, id=6ad3."
     f" {RAYLET_DEATH}\n    [state-dump] NodeManager: 3 total\n",
     f"worker.py:1849 -- Raylet is terminated: ip=10.0.0.1, id=6ad3. {RAYLET_DEATH}"),
])
def test_rays_raylet_died(text, error):
    finding = find(text)
    assert (finding.name, finding.error) == ("launcher-report", error)


@pytest.mark.parametrize("text", [
    "(raylet) Raylet is terminated. Termination is graceful.\n",      # a stop it was asked for
    "the docs: 'Raylet is terminated' means the node is gone\n",      # the words in prose
])
def test_not_rays_raylet_died(text):
    assert known(text) is None


# Lua torch's cutorch and PyTorch before 1.0: THCGeneral's __THCudaCheck prints "THCudaCheck FAIL
# file=%s line=%i error=%i : %s" (cudaGetErrorString's words), then THError raises "cuda runtime error
# (%d) : %s": Lua prints its own error and a stack traceback, PyTorch a RuntimeError.
THC_FAIL = ("THCudaCheck FAIL file=/torch/extra/cutorch/lib/THC/THCGeneral.c line=70 error=35 : CUDA driver"
            " version is insufficient for CUDA runtime version")


def test_lua_torchs_cuda_check():
    text = (f"{THC_FAIL}\n/torch/install/bin/luajit: /torch/share/lua/5.1/trepl/init.lua:389: loop or previous"
            " error loading module 'cunn'\nstack traceback:\n\t[C]: in function 'error'\n\tmain.lua:11: in main"
            " chunk\n")
    finding = find(text)
    assert (finding.name, finding.error, finding.hint) == ("runtime-error-log", THC_FAIL, reasons.HINT_CUDA)
    # PyTorch before 1.0 raises it: the RuntimeError, as ever.
    raised = (f"{THC_FAIL}\nTraceback (most recent call last):\n  File \"t.py\", line 3, in <module>\n"
              "    torch.cuda.init()\nRuntimeError: cuda runtime error (35) : CUDA driver version is insufficient"
              " for CUDA runtime version at /pytorch/aten/src/THC/THCGeneral.cpp:74\n")
    assert find(raised).error.startswith("RuntimeError: cuda runtime error (35)")


@pytest.mark.parametrize("text", [
    "grep 'THCudaCheck FAIL' old.log | wc -l\n",                         # the words, no report
    "THCudaCheck FAIL file=a.c line=70 error=35 :\n",                    # no message
])
def test_not_lua_torchs_cuda_check(text):
    assert find(text) is None


# cutorch's out of memory (error 2, cudaErrorMemoryAllocation, "out of memory"): the cause, over the
# segfault that followed it (holdout10 A), THError's RuntimeError where PyTorch raised it.
THC_OOM = ("THCudaCheck FAIL file=/opt/conda/pytorch/work/torch/lib/THC/generic/THCStorage.c line=82 error=2 :"
           " out of memory")


def test_lua_torchs_out_of_memory_over_the_crash_after_it():
    finding = find(f"loading model\n{THC_OOM}\nSegmentation fault (core dumped)\n")
    assert (finding.name, finding.error, finding.hint) == ("cuda-oom", THC_OOM, reasons.HINT_CUDA_OOM)
    raised = (f"{THC_OOM}\nTraceback (most recent call last):\n  File \"t.py\", line 3, in <module>\n"
              "    loss.backward()\nRuntimeError: cuda runtime error (2) : out of memory at"
              " /pytorch/torch/lib/THC/generic/THCStorage.cu:58\nSegmentation fault (core dumped)\n")
    finding = find(raised)
    assert finding.name == "cuda-oom"
    assert finding.error.startswith("RuntimeError: cuda runtime error (2) : out of memory at ")


@pytest.mark.parametrize("text", [
    # THCudaCheckWarn's: a warning the process went on from.
    "THCudaCheckWarn FAIL file=a.c line=82 error=2 : out of memory\nSegmentation fault (core dumped)\n",
    # another CUDA error: the crash after it stays the reason.
    "THCudaCheck FAIL file=a.c line=70 error=35 : CUDA driver version is insufficient\n"
    "Segmentation fault (core dumped)\n",
])
def test_not_lua_torchs_out_of_memory(text):
    assert find(text).name != "cuda-oom"


# libstdc++'s verbose terminate handler with no active exception (vterminate.cc): no what(), but the
# child's own end, over the SageMaker toolkit's wrapper that reports its exit (holdout10 A).
def test_terminate_without_an_exception_over_the_toolkits_wrapper():
    text = ("[Epoch 1] Validation: accuracy=0.81\nterminate called without an active exception\n"
            "2020-12-03 03:58:54,540 sagemaker-training-toolkit ERROR    ExecuteUserScriptError:\n"
            "Command \"/usr/local/bin/python3.6 sentiment.py --epochs 2\"\n")
    finding = find(text)
    assert (finding.name, finding.error) == ("bare-terminate", "terminate called without an active exception")


@pytest.mark.parametrize("text, error", [
    # an exception's line alone above it: the terminate is its consequence at teardown.
    ("RuntimeError: cuda runtime error (39) : uncorrectable ECC error encountered\n"
     "terminate called without an active exception\n",
     "RuntimeError: cuda runtime error (39) : uncorrectable ECC error encountered"),
    # the words quoted in a line of prose: not the handler's line.
    ("see why terminate called without an active exception appears\n"
     "sagemaker-training-toolkit ERROR    ExecuteUserScriptError:\nCommand \"python t.py\"\n", None),
])
def test_not_terminate_without_an_exception(text, error):
    finding = find(text)
    assert finding.name != "bare-terminate"
    if error is not None:
        assert finding.error == error


# A log service's rendering (holdout10 F): one space before every line, frames and code alike, and
# rsyslog's escape of a carriage return at a line's end ("#015": $EscapeControlCharactersOnReceive,
# 3 octal digits behind "#").
FLAT = (' Traceback (most recent call last):#015\n File "/opt/t.py", line 3, in <module>#015\n main()#015\n'
        ' File "/opt/pkg/__init__.py", line 1635, in _get#015\n with open(path, "rb") as stream:#015\n'
        " FileNotFoundError: [Errno 2] No such file or directory: '/opt/METADATA'#015\n"
        " wandb: Waiting for W&B process to finish... (failed 1).#015\n")


@pytest.mark.parametrize("text", [
    FLAT,
    FLAT.split("\n", 1)[1],                                          # a tail without the header
    FLAT.split("\n", 1)[1].replace("#015", ""),                      # without the escapes
    FLAT.replace("#015", "\r"),                                      # the carriage returns themselves
])
def test_a_traceback_every_line_one_space_deep(text):
    finding = find(text)
    assert (finding.name, finding.error) == (
        "python-traceback", "FileNotFoundError: [Errno 2] No such file or directory: '/opt/METADATA'")


def test_syslogs_carriage_return_only_at_a_lines_end():
    assert reasons.clean_lines(b"step #015\nitem #0151\na#015b#015\n") == ["step", "item #0151", "a#015b"]


@pytest.mark.parametrize("text", [
    ' File "/opt/t.py", line 3, in <module>\n\n KeyError: 3\n',             # no code below the frame
    ' File "/opt/t.py", line 3, in <module>\n File "/opt/u.py", line 4, in f\n',   # frames alone
])
def test_not_a_traceback_one_space_deep(text):
    assert known(text) is None


# gperftools' tcmalloc (src/tcmalloc.cc, ReportLargeAlloc: "tcmalloc: large alloc %llu bytes == %p @ "
# and the stack's addresses, for every large allocation): "(nil)", printf's NULL, is one that failed.
@pytest.mark.parametrize("text", [
    "tcmalloc: large alloc 377396076847104 bytes == (nil) @  0x7fefdec9d680 0x7fefdecbe824\n"
    "Unhandled exception:\n    @     0x7fedeedb9b62  (unknown)\n",
    ">>> jnp.sqrt(2)\ntcmalloc: large alloc 377396076847104 bytes == (nil) @ \n",
])
def test_tcmallocs_failed_allocation(text):
    finding = find(text)
    assert (finding.name, finding.error, finding.hint) == (
        "host-oom", "tcmalloc: large alloc 377396076847104 bytes == (nil)", reasons.HINT_HOST_MEMORY)


@pytest.mark.parametrize("text", [
    "tcmalloc: large alloc 1073741824 bytes == 0x55d1c2a6e000 @  0x7f0e 0x7f0f\n",   # it succeeded
    "tcmalloc: large alloc bytes == (nil)\n",                                        # no size
])
def test_not_tcmallocs_failed_allocation(text):
    assert find(text) is None


# TensorFlow 2's graph execution error (tensorflow/python/framework/error_interpolation.py,
# interpolate_graph and _build_node_error_message): "Detected at node 'X' defined at ...", the
# node's frames, "Node: 'X'", then the op's message up to its "[[{{node X}}]]" tag.
TF_FRAMES = ("  File \"train.py\", line 9, in <module>\n      model.fit(ds)\n"
             "  File \"loss.py\", line 22, in __call__\n      loss = tf.nn.sparse_softmax(labels, logits)\n")
TF_NODE = ("Node: 'Loss/Sparse'\nReceived a label value of 10 which is outside the valid range of [0, 10).\n"
           "\t [[{{node Loss/Sparse}}]] [Op:__inference_train_function_812]\n")


def test_tensorflow_graph_execution_error_below_its_node_line():
    # A paste that starts in the frames: the op's message, not "Node: 'X'".
    assert find(TF_FRAMES + TF_NODE).error == (
        "Received a label value of 10 which is outside the valid range of [0, 10).")
    # The whole report: the exception's class from its "Graph execution error:" line.
    whole = ("Traceback (most recent call last):\n" + TF_FRAMES
             + "tensorflow.python.framework.errors_impl.InvalidArgumentError: Graph execution error:\n\n"
             "Detected at node 'Loss/Sparse' defined at (most recent call last):\n" + TF_FRAMES + TF_NODE)
    assert find(whole).error == (
        "InvalidArgumentError: Received a label value of 10 which is outside the valid range of [0, 10).")


# Several root errors (tensorflow/core/platform/status.cc, as_summary_status: "N root error(s) found.",
# then each indented, "  (0) msg") as the op's message below "Node: 'X'".
TF_ROOT_ERRORS = ("Node: 'stem/conv2d/Conv2D'\n2 root error(s) found.\n  (0) UNIMPLEMENTED: DNN library is not found.\n"
                  "\t [[{{node stem/conv2d/Conv2D}}]]\n  (1) UNIMPLEMENTED: DNN library is not found.\n"
                  "\t [[{{node stem/conv2d/Conv2D}}]]\n0 successful operations.\n0 derived errors ignored.\n")


def test_tensorflow_root_errors_below_a_node_line_alone():
    # A paste that starts at "Node:": no exception line nor frame above it, the first root error.
    finding = find(TF_ROOT_ERRORS)
    assert (finding.name, finding.error) == (
        "exception-line", "2 root error(s) found. (0) UNIMPLEMENTED: DNN library is not found.")


@pytest.mark.parametrize("text", [
    TF_ROOT_ERRORS.replace("2 root error(s) found.\n", ""),                  # no root errors' list
    TF_ROOT_ERRORS.replace("2 root error(s) found.\n", "2 root error(s) found.\nstep 3\n"),   # not right below
    "Node: 'a'\n\n2 root error(s) found.\n  (0) UNIMPLEMENTED: x\n",         # a blank line between
])
def test_not_tensorflow_root_errors_below_a_node_line(text):
    assert known(text) is None


# TensorFlow 2's op message below "Node: 'X'" closed by its tag naming the same node ("\t [[{{node
# X}}]]", errors.h's FormatNodeNameForError; eager execution's " [Op:NAME]" after it): a paste that
# starts at "Node:" (holdout10 E).
TF_NODE_ALONE = ("Node: 'sparse_categorical_crossentropy/SparseSoftmaxCrossEntropyWithLogits'\n"
                 "logits and labels must have the same first dimension, got logits shape [32,27] and labels"
                 " shape [960]\n\t [[{{node sparse_categorical_crossentropy/SparseSoftmaxCrossEntropyWithLogits}}]]"
                 " [Op:__inference_train_function_18376]\n")


def test_tensorflow_op_message_below_a_node_line_alone():
    finding = find(TF_NODE_ALONE)
    assert (finding.name, finding.error) == (
        "exception-line", "logits and labels must have the same first dimension, got logits shape [32,27] and"
        " labels shape [960]")


@pytest.mark.parametrize("text", [
    TF_NODE_ALONE.replace("{{node sparse_categorical_crossentropy/", "{{node other/"),   # another node's tag
    TF_NODE_ALONE.replace("\n\t [[", "\nstep 3\n\n\t [["),                       # a blank line first
    TF_NODE_ALONE.replace("\nlogits and", "\n\t [[{{node x}}]]\nlogits and"),       # no message
    TF_NODE_ALONE.replace("\nlogits and", "\n  logits and"),                           # indented: not the op's
])
def test_not_tensorflow_op_message_below_a_node_line(text):
    assert find(text) is None


def test_not_a_tensorflow_node_message():
    # No "[[{{node" tag below: a line that only looks like TensorFlow's stays what it was.
    text = TF_FRAMES + "Node: 'Loss/Sparse'\nsome later log line\n"
    assert find(text).error == "Node: 'Loss/Sparse'"


# CPython's unraisable hook (Python/errors.c, PyErr_WriteUnraisable: "Exception ignored in: <obj>",
# the traceback, the exception's line) prints an error it cannot raise, a __del__ failing on an
# object whose __init__ failed, and goes on: the exception line before it is the cause.
IGNORED = ("Exception ignored in: <function CPUAdam.__del__ at 0x7f>\nTraceback (most recent call last):\n"
           "  File \"/opt/ds/cpu_adam.py\", line 102, in __del__\n    self.ds_opt_adam.destroy_adam(self.opt_id)\n"
           "AttributeError: 'CPUAdam' object has no attribute 'ds_opt_adam'\n")


def test_an_ignored_exception_is_not_the_cause_when_another_exception_line_is():
    text = "[rank1]: ImportError: /root/cpu_adam.so: cannot open shared object file: No such file or directory\n"
    assert find(text + IGNORED).error == (
        "rank 1: ImportError: /root/cpu_adam.so: cannot open shared object file: No such file or directory")


def test_an_ignored_exception_alone_is_still_shown():
    # Nothing else in the output: the ignored traceback's line is all there is to show.
    assert find("loading the optimizer\n" + IGNORED).error == (
        "AttributeError: 'CPUAdam' object has no attribute 'ds_opt_adam'")


# MPICH's Hydra (src/pm/hydra: HYDU_error_printf after HYDU_dump_prefix, "[mpiexec@HOST] FUNC
# (FILE:LINE): msg"; each caller on the way up reports again): the first report is the cause.
@pytest.mark.parametrize("text, error", [
    ("[proxy:0:2@gpu-2-4.local] HYDU_create_process (./utils/launch/launch.c:69): execvp error on file"
     " train (No such file or directory)\n",
     "[proxy:0:2@gpu-2-4.local] HYDU_create_process (./utils/launch/launch.c:69): execvp error on file"
     " train (No such file or directory)"),
    ("[mpiexec@node1] match_arg (utils/args/args.c:163): unrecognized argument pmi_args\n"
     "[mpiexec@node1] HYDU_parse_array (utils/args/args.c:178): argument matching returned error\n"
     "[mpiexec@node1] parse_args (ui/mpich/utils.c:1642): error parsing input array\n",
     "[mpiexec@node1] match_arg (utils/args/args.c:163): unrecognized argument pmi_args"),
])
def test_mpich_hydras_first_report(text, error):
    finding = find(text)
    assert (finding.name, finding.error) == ("mpich-hydra", error)


def test_mpich_hydras_cleanup_does_not_beat_its_bad_termination_box():
    text = ("[proxy:0:0@n1] HYD_pmcd_pmip_control_cmd_cb (pm/pmiserv/pmip_cb.c:883): assert (!closed) failed\n"
            "=" * 40 + "\n=   BAD TERMINATION OF ONE OF YOUR APPLICATION PROCESSES\n=   PID 1 RUNNING AT n1\n"
            "=   EXIT CODE: 9\n" + "=" * 40 + "\n")
    assert find(text).name == "launcher-report"


@pytest.mark.parametrize("text", [
    "[mpiexec@node1] Launch arguments: /usr/bin/hydra_pmi_proxy --control-port n1:4000\n",   # debug output
    "[proxy:0:0@n1] got pmi command (from 4): init\n",                                        # -verbose's
    "[worker@node1] main (train.c:12): starting\n",                                           # not Hydra's
])
def test_not_mpich_hydras_report(text):
    assert_not_found_by(text, "mpich-hydra")


# torchrun's agent (torch/distributed/elastic/multiprocessing/api.py, _poll: logger.error("failed
# (exitcode: %s) local_rank: %s (pid: %s) of binary: %s")): a terminal wraps its line onto the next
# one, never past a blank line; a line after blank ones (a traceback's "raise ...") is not its words.
TORCHRUN_FAILED = ("ERROR:torch.distributed.elastic.multiprocessing.api:failed (exitcode: -9) local_rank: 3"
                   " (pid: 4077) of binary: /opt/conda/envs/train/bin/python")


def test_a_launchers_report_is_not_continued_past_blank_lines():
    finding = find(TORCHRUN_FAILED + "\n\n\nraise ChildFailedError(\n")
    assert (finding.name, finding.error) == ("launcher-report", TORCHRUN_FAILED)


def test_a_launchers_report_wrapped_onto_the_next_line_is_still_joined():
    cut = TORCHRUN_FAILED.index("of binary")
    finding = find(TORCHRUN_FAILED[:cut] + "\n" + TORCHRUN_FAILED[cut:] + "\n")
    assert (finding.name, finding.error) == ("launcher-report", TORCHRUN_FAILED)


# horovodrun's task server that would not start (horovod/run/run.py, _launch_task_servers: "Launching
# horovodrun task function was not successful:\n{host_output}", then os._exit; "horovod task" in
# horovod/runner/driver/driver_service.py): the host's output below it says why.
HOROVOD_TASK = ("Attempted to launch horovod task servers.\nWaiting for the hosts to acknowledge.\n"
                "Launching horovodrun task function was not successful:\n"
                "ssh: connect to host 10.0.0.7 port 12345: Connection refused\n")


@pytest.mark.parametrize("text", [HOROVOD_TASK, HOROVOD_TASK.replace("horovodrun task", "horovod task")])
def test_horovodruns_task_function_report(text):
    finding = find(text)
    assert finding.name == "launcher-report"
    assert finding.error.endswith("task function was not successful: ssh: connect to host 10.0.0.7 port 12345:"
                                  " Connection refused")


# Flyte's report of a task's pod (flyteplugins' go/tasks/pluginmachinery/flytek8s/pod_helper.go,
# DemystifyFailure: "\r\n[%v] terminated with exit code (%v). Reason [%v]. Message: \n%v.", the
# container's termination message below; an empty one leaves "." alone): 137 is a SIGKILL.
FLYTE = ("[1/1] currentAttempt done. Last Error: USER::Pod failed. No message received from kubernetes.\n"
         "[a8f3-n0-0] terminated with exit code (137). Reason [Error]. Message: \n.\n")


def test_flytes_report_of_a_killed_container():
    finding = find(FLYTE)
    assert (finding.name, finding.error) == ("launcher-report", "[a8f3-n0-0] terminated with exit code (137)."
                                                                " Reason [Error].")
    assert finding.hint == reasons.HINT_KILLED


def test_flytes_report_gives_way_to_the_containers_own_words():
    finding = find(FLYTE.replace("\n.\n", "\nValueError: bad lr.\n"))
    assert (finding.name, finding.error) == ("exception-line", "ValueError: bad lr.")


@pytest.mark.parametrize("text", [
    "[a8f3-n0-0] terminated with ExitCode 0.\n",                                  # it succeeded
    "worker terminated with exit code (137). Reason [Error].\n",                   # no container in brackets
    "Launching horovodrun task function.\nall 4 hosts reached\n",   # no failure
])
def test_not_flytes_nor_horovodruns_report(text):
    assert_not_found_by(text, "launcher-report")


# SageMaker's reason for a failed job (botocore's data/sagemaker/2017-07-24/service-2.json,
# DescribeTrainingJobResponse's FailureReason) as the AWS CLI's describe-training-job prints it: JSON,
# one member a line, indented by four; the string's escapes and newlines undone.
DESCRIBED = ('{\n    "TrainingJobName": "xgb-2024-01-05",\n    "TrainingJobStatus": "Failed",\n'
             '    "SecondaryStatus": "Failed",\n    "FailureReason": "AlgorithmError: ExecuteUserScriptError:\\n'
             'Command \\"/usr/bin/python3 train.py\\"\\nValueError: bad lr, exit code: 1",\n}\n')


def test_sagemakers_failure_reason_in_json():
    finding = find(DESCRIBED)
    assert (finding.name, finding.error) == (
        "failure-reason", 'FailureReason: AlgorithmError: ExecuteUserScriptError: Command "/usr/bin/python3'
                          ' train.py" ValueError: bad lr, exit code: 1')


@pytest.mark.parametrize("text", [
    'the "FailureReason": "x" field is empty when the job succeeds\n',              # prose
    '    "FailureReason": null,\n',                                                # no string
    '    "FailureReason": "",\n',                                                  # an empty one
    '{"TrainingJobStatus": "Failed", "FailureReason": "AlgorithmError: x"}\n',   # not one member a line
])
def test_not_sagemakers_failure_reason_in_json(text):
    assert_not_found_by(text, "failure-reason")


# Ray's C++ log line (src/ray/util/logging.cc: spdlog's "[%Y-%m-%d %H:%M:%S,%e %L %P %t] %v", RayLog's
# message "file.h:554: msg"; on the console and the driver's stderr the pattern has the program's file
# name after the ids, "[...%t] (" + app_name_without_path + ") %v"): at error level (E), the last
# resort, as c10's. The Error line shows the component and the message, not the stamp and the ids.
RAY_E = ("[2024-05-26 11:26:16,798 E 1774 1785] gcs_rpc_client.h:554: Failed to connect to GCS within 60"
         " seconds. GCS may have been killed.")
RAY_MESSAGE = "gcs_rpc_client.h:554: Failed to connect to GCS within 60 seconds. GCS may have been killed."


@pytest.mark.parametrize("text, shown", [
    (RAY_E + "\n", RAY_MESSAGE),
    ("2024-05-26 11:25:02,149 WARNING worker.py:1419 -- SIGTERM handler is not set.\n" + RAY_E + "\n", RAY_MESSAGE),
    (RAY_E.replace("] gcs_rpc", "] (raylet) gcs_rpc") + "\n", "raylet: " + RAY_MESSAGE),
    ("[2024-05-26 11:26:16,798 I 1774 1785] (gcs_server) gcs_server.cc:88: started\n"
     + RAY_E.replace("] gcs_rpc", "] (gcs_server) gcs_rpc") + "\n", "gcs_server: " + RAY_MESSAGE),
])
def test_rays_cxx_error_log_line(text, shown):
    finding = find(text)
    assert finding.name == "runtime-error-log" and finding.error == shown, finding


def test_rays_cxx_check_failed_shows_its_message_without_the_header():
    # RAY_CHECK (src/ray/util/logging.h): RAY_LOG(FATAL) << " Check failed: " #condition " ", spdlog's
    # level letter for FATAL "C"; the line the fatal rule finds, shown from the file name on.
    text = ("[2022-09-08 17:16:31,380 C 46829 46957] (raylet) gcs_rpc_client.h:537:  Check failed: ok()"
            " Failed to connect to GCS within 60 seconds\n")
    finding = find(text)
    assert finding.error == "raylet: gcs_rpc_client.h:537: Check failed: ok() Failed to connect to GCS within 60 seconds"


@pytest.mark.parametrize("text", [
    RAY_E.replace(" E ", " I ") + "\n",                                   # info level
    RAY_E.replace(" E ", " W ") + "\n",                                   # a warning
    "[2024-05-26 11:26:16,798 E 1774 1785] Failed to connect to GCS\n",   # no file:line
    "[2024-05-26 11:26:16,798 E 1774 1785] (raylet) Failed to connect to GCS\n",   # the component, no file
    "[2024-05-26 11:26:16,798 E 1774 1785] (raylet) (gcs) gcs_rpc_client.h:554: Failed\n",   # two of them
])
def test_not_rays_cxx_error_log_line(text):
    assert_not_found_by(text, "runtime-error-log")


# A program's own CUDA check (llama.cpp's ggml-cuda CUDA_CHECK and the many C and C++ projects that
# copy it: fprintf(stderr, "CUDA error %d at %s:%d: %s\n", err, __FILE__, __LINE__,
# cudaGetErrorString(err)), then exit(1): a CUDA error, its message the Error line's.
CUDA_CHECK_LINE = "CUDA error 217 at ggml-cuda.cu:6292: peer access is not supported between these two devices"


def test_a_programs_cuda_check_is_a_cuda_error():
    finding = find("llama_new_context_with_model: kv self size  = 1280.00 MB\n" + CUDA_CHECK_LINE + "\n")
    assert finding.name == "cuda-error" and finding.error == CUDA_CHECK_LINE, finding
    assert finding.hint == reasons.HINT_CUDA


def test_a_programs_cuda_check_out_of_memory_gets_the_oom_hint():
    finding = find("CUDA error 2 at ggml-cuda.cu:7036: out of memory\n")
    assert finding.hint == reasons.HINT_CUDA_OOM, finding


@pytest.mark.parametrize("text", [
    "CUDA error 217 occurred while loading ggml-cuda.cu\n",         # no FILE:LINE after "at"
    "CUDA error at ggml-cuda.cu:6292: peer access\n",               # no number
    "Retrying after CUDA error 217 at ggml-cuda.cu: peer access\n",   # no line number
])
def test_not_a_programs_cuda_check(text):
    assert_not_found_by(text, "cuda-error")


# Lua torch's THError (TH/THGeneral.c's _THError: the message, then " at %s:%d"), cutorch's CUDA
# check's "cuda runtime error (%d) : %s", which Lua's interpreter prints as its uncaught error with
# its own "stack traceback:": the last resort, as the THCudaCheck FAIL line before it, a CUDA error.
LUA_THC = ("/usr/local/bin/luajit: /usr/local/share/lua/5.1/trepl/init.lua:383: cuda runtime error (35) :"
           " CUDA driver version is insufficient for CUDA runtime version at /tmp/cutorch/lib/THC/THCGeneral.c:16")


def test_lua_torchs_cuda_runtime_error():
    text = (LUA_THC + "\nstack traceback:\n\t[C]: in function 'error'\n"
            "\t/usr/local/share/lua/5.1/trepl/init.lua:383: in function 'require'\n\teval.lua:58: in main chunk\n")
    finding = find(text)
    assert finding.name == "runtime-error-log" and finding.error == LUA_THC, finding
    assert finding.hint == reasons.HINT_CUDA


@pytest.mark.parametrize("text", [
    "checking for a cuda runtime error: none\n",                     # words, no THError's form
    "cuda runtime error (35): CUDA driver version is insufficient\n",   # not THError's " : "
])
def test_not_lua_torchs_cuda_runtime_error(text):
    assert_not_found_by(text, "runtime-error-log")


# UCX's own error-level log line (ucs/debug/log.c: "[time] [host:pid:thread] file:line UCX ERROR
# msg") and Open MPI's UCX layer's (opal/mca/common/ucx's MCA_COMMON_UCX_ERROR through opal_output:
# "[host:pid] pml_ucx.c:424  Error: msg"), above MPI's MPI_ERRORS_ARE_FATAL box: the last resort,
# the first of them, shown from the file on.
UCX_LINE = ("[1700554343.440877] [node-1:7356 :0]            sock.c:323  UCX  ERROR   connect(fd=48,"
            " dest_addr=172.17.0.1:42887) failed: Connection refused")
OMPI_UCX_LINE = "[node-1.cluster:07356] pml_ucx.c:424  Error: ucp_ep_create(proc=3) failed: Destination is unreachable"
MPI_FATAL_BOX = ("[node-1:07356] *** An error occurred in MPI_Allgather\n"
                 "[node-1:07356] *** on communicator MPI_COMM_WORLD\n"
                 "[node-1:07356] *** MPI_ERR_OTHER: known error not in list\n"
                 "[node-1:07356] *** MPI_ERRORS_ARE_FATAL (processes in this communicator will now abort,\n")


@pytest.mark.parametrize("text, shown", [
    (UCX_LINE + "\n" + OMPI_UCX_LINE + "\n" + MPI_FATAL_BOX,
     "sock.c:323 UCX ERROR connect(fd=48, dest_addr=172.17.0.1:42887) failed: Connection refused"),
    (OMPI_UCX_LINE + "\n" + MPI_FATAL_BOX,
     "pml_ucx.c:424 Error: ucp_ep_create(proc=3) failed: Destination is unreachable"),
])
def test_ucx_error_lines(text, shown):
    # Above MPI's fatal error box: the component's error, over mpirun's report after the box too.
    finding = find(text + MPIRUN_ABORT_REPORT)
    assert finding.name == "mpi-fatal-error" and finding.error == shown, finding
    # Without the box, the last resort: the same line.
    alone = find(text.replace(MPI_FATAL_BOX, ""))
    assert alone.name == "runtime-error-log" and alone.error == shown, alone


# Open MPI's TCP BTL's BTL_ERROR (opal/mca/btl/base/btl_base_error.h: "[node][[job,vpid],rank][file.c:
# line:function] msg") above the fatal error box of the rank it made fail, then PRRTE's report.
BTL_LINE = ("[balthasar][[59259,1],0][btl_tcp_endpoint.c:857:mca_btl_tcp_endpoint_start_connect] peer: melchior"
            " Unable to connect to the peer 192.168.68.53 on port 1024: No route to host")
MPIRUN_ABORT_REPORT = ("-" * 74 + "\nprterun has exited due to process rank 0 with PID 0 on node balthasar calling\n"
                       '"abort". This may have caused other processes in the application to be\n' + "-" * 74 + "\n")


@pytest.mark.parametrize("text", [
    BTL_LINE + "\n" + MPI_FATAL_BOX + MPIRUN_ABORT_REPORT,
    "[balthasar.local:04334] SET DYLD_LIBRARY_PATH=/opt/homebrew/lib\n" + BTL_LINE + "\n\n" + MPI_FATAL_BOX,
])
def test_an_mpi_components_error_above_its_fatal_error_box(text):
    finding = find(text)
    assert (finding.name, finding.error) == ("mpi-fatal-error", "btl_tcp_endpoint.c:857: peer: melchior Unable to"
                                             " connect to the peer 192.168.68.53 on port 1024: No route to host"), finding


@pytest.mark.parametrize("text", [
    MPI_FATAL_BOX + BTL_LINE + "\n" + MPIRUN_ABORT_REPORT,                 # the component's line after the box
    BTL_LINE.replace("[[59259,1],0]", "[59259,1,0]") + "\n" + MPI_FATAL_BOX + MPIRUN_ABORT_REPORT,  # no OMPI name
    BTL_LINE.replace(".c:857:", ".py:857:") + "\n" + MPI_FATAL_BOX + MPIRUN_ABORT_REPORT,  # not a C file
    BTL_LINE + "\n" + MPIRUN_ABORT_REPORT,                                  # no fatal error box
])
def test_not_an_mpi_components_error_above_its_fatal_error_box(text):
    assert_not_found_by(text, "mpi-fatal-error")


@pytest.mark.parametrize("text", [
    UCX_LINE.replace("UCX  ERROR", "UCX  WARN ") + "\n",             # a warning
    UCX_LINE.replace("UCX  ERROR", "UCX  DIAG ") + "\n",             # a diagnostic
    "[node-1:07356] pml_ucx.c:424 ucp_ep_create(proc=3) done\n",     # verbose, no Error
    "[node-1:07356] see Error: pml_ucx.c:424 unreachable\n",         # Error not after FILE:LINE
])
def test_not_ucx_error_lines(text):
    assert_not_found_by(text, "runtime-error-log")


# TensorFlow's failed kernel logs its status at warning level (op_kernel.cc's CtxFailureWithWarning:
# "OP_REQUIRES failed at " << io::Basename(file) << ":" << line << " : " << status) before the session
# raises it: where the traceback after it is cut before its exception line, the op's status.
OP_FAILED = ("2022-07-25 11:57:07.269536: W tensorflow/core/framework/op_kernel.cc:1767] OP_REQUIRES failed"
             " at collective_ops.cc:713 : Invalid argument: Shape mismatch in the collective instance 244.")
SESSION_FRAMES = ('Traceback (most recent call last):\n'
                  '  File "/usr/lib/python3.7/site-packages/tensorflow/python/client/session.py", line 1375, in _do_call\n'
                  '    return fn(*args)\n'
                  '  File "/usr/lib/python3.7/site-packages/tensorflow/python/client/session.py", line 1360, in _run_fn\n'
                  '    target_list, run_metadata)\n')


@pytest.mark.parametrize("between", ["", "The error could be from a previous operation. Restart your program to reset.\n"])
def test_tensorflows_failed_op_above_a_cut_traceback(between):
    finding = find(OP_FAILED + "\n" + between + SESSION_FRAMES)
    assert finding.name == "cut-traceback", finding
    assert finding.error == "Invalid argument: Shape mismatch in the collective instance 244.", finding


@pytest.mark.parametrize("text", [
    # the traceback whole: its exception line is the error
    OP_FAILED + "\n" + SESSION_FRAMES + "tensorflow.python.framework.errors_impl.InvalidArgumentError: x\n",
    # an op that failed long before (an iterator's end, survived), then a cut traceback
    OP_FAILED + "\n" + "step 1\nstep 2\nstep 3\nstep 4\n" + SESSION_FRAMES,
])
def test_not_tensorflows_failed_op_above_a_cut_traceback(text):
    finding = known(text)
    assert finding is None or "Shape mismatch" not in finding.error, finding


# Open MPI's box for its own start-up that failed inside the process (help-mpi-runtime.txt's
# [mpi_init:startup:internal-failure]; orte's, opal's and shmem's help files have the same text with
# their call's name): the call below "developer):" is the detail, MPI's abort box after it is not.
def init_failed_box(name, call):
    return ("--------------------------------------------------------------------------\n"
            f"It looks like {name} failed for some reason; your parallel process is\n"
            "likely to abort.  There are many reasons that a parallel process can\n"
            f"fail during {name}; some of which are due to configuration or environment\n"
            "problems.  This failure appears to be an internal failure; here's some\n"
            "additional information (which may only be relevant to an Open MPI\n"
            "developer):\n\n"
            f"  {call}\n"
            '  --> Returned "(null)" (-43) instead of "Success" (0)\n'
            "--------------------------------------------------------------------------\n")


@pytest.mark.parametrize("name, call", [
    ("MPI_INIT", "ompi_mpi_init: ompi_rte_init failed"),
    ("orte_init", "orte_ess_init failed"),
])
def test_open_mpis_start_up_failed_box(name, call):
    text = (init_failed_box(name, call) + "*** An error occurred in MPI_Init_thread\n*** on a NULL communicator\n"
            "*** MPI_ERRORS_ARE_FATAL (processes in this communicator will now abort,\n"
            "[host:11455] Local abort before MPI_INIT completed completed successfully\n")
    finding = find(text)
    assert finding.name == "launcher-report", finding
    assert finding.error == f'{name} failed: {call} --> Returned "(null)" (-43) instead of "Success" (0)'


@pytest.mark.parametrize("text", [
    "It looks like the download failed for some reason; retrying\n",         # not Open MPI's sentence
    "It looks like MPI_INIT failed for some reason, your parallel process\n",   # another sentence
])
def test_not_open_mpis_start_up_failed_box(text):
    assert_not_found_by(text, "launcher-report")


# SageMaker's training toolkit's errors for a subprocess that failed (sagemaker-containers' and
# sagemaker-training's _errors.py: InstallModuleError, InstallRequirementsError, ExecuteUserScriptError,
# each a _CalledProcessError whose str() is 'Name:\nCommand "cmd"'), logged at ERROR: the report, the
# command its next line.
@pytest.mark.parametrize("name", ["InstallModuleError", "InstallRequirementsError", "ExecuteUserScriptError"])
def test_sagemaker_toolkits_subprocess_errors(name):
    text = ("2019-12-03 09:59:11,037 sagemaker-containers INFO     Installing module with the following command:\n"
            "/usr/bin/python -m pip install -U . -r requirements.txt\n"
            f"2019-12-03 09:59:11,038 sagemaker-containers ERROR    {name}:\n"
            'Command "/usr/bin/python -m pip install -U . -r requirements.txt"\n')
    finding = find(text)
    assert finding.name == "launcher-report", finding
    assert finding.error.endswith(f'{name}: Command "/usr/bin/python -m pip install -U . -r requirements.txt"')


@pytest.mark.parametrize("text", [
    "2019-12-03 09:59:11,037 sagemaker-containers INFO     Installing module with pip\n",
    "Install module error handling: on\n",      # not the class's name
])
def test_not_sagemaker_toolkits_subprocess_errors(text):
    assert_not_found_by(text, "launcher-report")


# IPython's traceback (IPython/core/ultratb.py; IPython 9.19 run here on a script): "File PATH:LINE"
# frames (", in FUNC(ARGS)" but at the top level), their numbered source lines ("----> 4" the current
# one), a blank line after each; the line after the last frame's source is the exception's, a name
# that ends in neither Error nor Exception too. Here a paste that starts inside it, without its header.
IPYTHON_RUN = ("File /tmp/ipy_t.py:2, in f(x)\n"
               "      1 def f(x):\n"
               "----> 2     return g(x)\n\n"
               "File /tmp/ipy_t.py:4, in g(x)\n"
               "      3 def g(x):\n"
               '----> 4     raise ValueError("boom")\n\n')
BROKEN_POOL = ("BrokenProcessPool: A process in the process pool was terminated abruptly while the future was"
               " running or pending")


@pytest.mark.parametrize("text, shown", [
    (IPYTHON_RUN + "ValueError: boom\n", "ValueError: boom"),
    ("File ~/envs/lib/python3.8/concurrent/futures/_base.py:389, in Future.__get_result(self)\n"
     "    387 if self._exception:\n    388     try:\n--> 389         raise self._exception\n"
     "    390     finally:\n\n" + BROKEN_POOL + "\n", BROKEN_POOL),
])
def test_ipythons_traceback(text, shown):
    finding = find(text)
    assert finding.error == shown, finding


@pytest.mark.parametrize("text", [
    "File /data/train.csv:12\nrow 12 has 3 columns\nDone: 11 rows\n",   # no numbered source below it
    IPYTHON_RUN.replace("----> 4", "---->4") + "Done\n",               # not IPython's numbering
    IPYTHON_RUN + "    indented log line\n",                            # no exception line at column 0
])
def test_not_ipythons_traceback(text):
    assert_not_found_by(text, "ipython-traceback")
