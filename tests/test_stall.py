"""The stall watchdog over real hangs, as PID 1 (unshare) and as subreaper.

A real distributed hang (torchrun, 2 ranks on gloo, rank 1 stops calling all_reduce) is caught,
its Python stacks reach the log (py-spy), the pre-kill hook still saves the last checkpoint, and
the failure file says it stalled, for how long, where each rank was and what it said last. A
silent trainer lives while its heartbeat does; a chatty one lives by its output. Without py-spy,
faulthandler's stacks come from the processes that handle --stack-signal, and only those are sent
it. The trainer's own failure file still wins.
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import time

import pytest

from helpers.commands import CHILDREN
from helpers.net import free_port
from helpers.procfs import wait_until
from helpers.realinit import TIMEOUT, run_on_a_terminal, train as start_train
from helpers.tails import check_readable, failure_of

if os.environ.get("CI"):
    import torch  # noqa: F401  (CI: tests/run installs torch; a missing torch fails, never skips)
else:
    pytest.importorskip("torch", reason="tests/run installs torch (the test extra)")

DDP_HANG = os.path.join(CHILDREN, "ddp_hang.py")
BEAT = os.path.join(CHILDREN, "beat.py")
FH_HANG = os.path.join(CHILDREN, "fh_hang.py")
PLAIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"   # no py-spy there
# The trainers run as a person would write them (`python beat.py`), from their directory, with this
# virtual environment's programs (python, torchrun) first on PATH: the failure files then read
# as they would in an image, and docs/failures.md quotes them.
VENV_PATH = os.path.dirname(sys.executable) + ":" + PLAIN_PATH
STALL = 124


def line_of(path, text):
    """The line number of the first line of ``path`` that contains ``text``."""
    with open(path) as f:
        return next(number for number, line in enumerate(f, 1) if text in line)


def train(start_init, ml, trainer, *extra, env=None):
    env = {**os.environ, "PATH": VENV_PATH, **(env or {})}
    return start_train(start_init, ml, trainer, *extra, env=env, cwd=CHILDREN)


# ---------------------------------------------------------------------------------------------
# A real hang: torchrun, rank 1 wanders off, rank 0 waits in all_reduce for ever

SAVE_HOOK = """#!/bin/sh
# A pre-kill hook: saves the newest checkpoint where the model goes, and says why it ran.
set -e
latest=$(ls {checkpoints}/step-*.ckpt | sort | tail -n 1)
mkdir -p {model}
cp "$latest" {model}/last.ckpt
printf '%s\\n' "$SM_INIT_REASON" > {model}/reason
echo "hook: saved $latest (SM_INIT_REASON=$SM_INIT_REASON)" >&2
"""


def test_a_real_distributed_hang_is_caught_with_its_stacks(start_init, ml, tmp_path):
    checkpoints, model = tmp_path / "checkpoints", ml / "model"
    checkpoints.mkdir()
    hook = tmp_path / "save-hook"
    hook.write_text(SAVE_HOOK.format(checkpoints=checkpoints, model=model))
    hook.chmod(0o755)
    torchrun = ["torchrun", "--nproc-per-node", "2", "--master-port", str(free_port()), "ddp_hang.py"]
    # torchrun itself imports torch before it starts a rank, in silence: seconds on a loaded machine
    # (3 s was once too short there), so the watchdog waits longer than that.
    init = train(start_init, ml, torchrun, "--stall-timeout", "8", "--pre-kill", str(hook), "--stop-timeout", "30",
                 env={"CHECKPOINTS": str(checkpoints)})
    assert init.wait(TIMEOUT * 2) == STALL

    # The log: the stall, each rank's stacks by py-spy, the hook with the reason, the exit line.
    init.log.expect(r"^sm-init: stop: no progress for 8s \(--stall-timeout\)")
    init.log.expect(r"^sm-init: stall: taking the stacks of 3 Python process\(es\) with py-spy")
    hang_line = line_of(DDP_HANG, "rank 0 waits here")
    sleep_line = line_of(DDP_HANG, "time.sleep(3600)")
    stacks = init.log.text
    rank0 = re.search(r"stall: stacks of pid (\d+), rank 0 .*by py-spy:\n"
                      r"sm-init: stack: Thread \d+ \(idle\): \"MainThread\"\n"
                      r"sm-init: stack:     all_reduce \(torch/distributed/distributed_c10d\.py:\d+\)\n", stacks)
    assert rank0, stacks
    assert re.search(rf"stack:     train \(ddp_hang\.py:{hang_line}\)", stacks)
    assert re.search(rf"stall: stacks of pid \d+, rank 1 .*by py-spy:\n.*\n"
                     rf"sm-init: stack:     wander_off \(ddp_hang\.py:{sleep_line}\)", stacks)
    assert re.search(r"stack:     SimpleElasticAgent\._invoke_run", stacks)   # the launcher's, in the log
    init.log.expect(r"^hook: saved .*/step-3\.ckpt \(SM_INIT_REASON=stall\)")
    init.log.expect(r"^sm-init: exit: 124 \(stall; ")

    # The hook still saved the last checkpoint.
    assert (model / "last.ckpt").read_text() == "step 3 total 8\n"
    assert (model / "reason").read_text() == "stall\n"

    # The failure file: the ending, where each rank was (not the launcher), the last lines.
    text = check_readable(failure_of(ml))
    print(text)
    assert text.startswith(f"Training command `{shlex.join(torchrun)}` stalled: no output for 8 seconds"
                           " (--stall-timeout 8), so sm-init stopped it (exit code 124).\n")
    where = re.search(r"\nWhere it was: (.*)\n", text).group(1)
    assert re.fullmatch(rf"rank 0 \(pid \d+\) in all_reduce \(distributed_c10d\.py:\d+\) from train \(ddp_hang\.py:{hang_line}\);"
                        rf" rank 1 \(pid \d+\) in wander_off \(ddp_hang\.py:{sleep_line}\)"
                        r" \(stacks by py-spy, in the log\)\.", where), where
    assert "_invoke_run" not in text    # torchrun's agent sleeps in its monitor loop: not news
    # What it said before it hung, not what the stop made it say (torchrun's SignalException).
    last = text.split("\nLast lines of stderr:\n")[1].splitlines()
    assert "rank 1: wandering off, no more all_reduce" in last[-2:] and "rank 0: step 3 done, total 8" in last
    assert "SignalException" not in text and "\nError:" not in text


# ---------------------------------------------------------------------------------------------
# What counts as progress

def test_a_silent_trainer_lives_by_its_heartbeat(start_init, ml, tmp_path):
    heartbeat = tmp_path / "heartbeat"
    init = train(start_init, ml, ["python", "beat.py", "heartbeat", "5", str(heartbeat)],
                 "--stall-timeout", "2", "--heartbeat", str(heartbeat))
    assert init.wait() == 0
    assert init.log.count(r"^sm-init: (stop|stall|warning)") == 0, init.log.text
    assert failure_of(ml) is None


def test_a_heartbeat_that_stops_is_a_stall(start_init, ml, tmp_path):
    heartbeat = tmp_path / "heartbeat"
    init = train(start_init, ml, ["python", "beat.py", "lapse", "1", str(heartbeat)],
                 "--stall-timeout", "2", "--heartbeat", str(heartbeat))
    assert init.wait() == STALL
    init.log.expect(r"^sm-init: stop: no progress for 2s \(--stall-timeout\)")
    init.log.expect(rf"stack:     stop_beating \(beat\.py:{line_of(BEAT, 'time.sleep(3600)')}\)")
    text = check_readable(failure_of(ml))
    print(text)
    assert f"stalled: no output and no touch of {heartbeat} for 2 seconds" in text
    assert re.search(rf"\nWhere it was: pid \d+ \(beat\.py\) in stop_beating \(beat\.py:{line_of(BEAT, 'time.sleep(3600)')}\)"
                     r" \(stacks by py-spy, in the log\)\.$", text), text


def test_a_heartbeat_on_a_file_system_whose_clock_lags_is_progress(start_init, ml, tmp_path):
    """Each touch dates the file 5 s before sm-init's clock: still a change each time, so progress."""
    heartbeat = tmp_path / "heartbeat"
    init = train(start_init, ml, ["python", "beat.py", "lagging", "5", str(heartbeat)],
                 "--stall-timeout", "2", "--heartbeat", str(heartbeat))
    assert init.wait() == 0, init.log.text
    assert init.log.count(r"^sm-init: (stop|stall|warning)") == 0, init.log.text
    assert failure_of(ml) is None


def test_a_heartbeat_touched_once_an_hour_ahead_then_left_is_a_stall(start_init, ml, tmp_path):
    """One touch dated an hour ahead of sm-init's clock, then nothing: no change, so no progress."""
    heartbeat = tmp_path / "heartbeat"
    init = train(start_init, ml, ["python", "beat.py", "ahead", "0", str(heartbeat)],
                 "--stall-timeout", "2", "--heartbeat", str(heartbeat), "--stop-timeout", "10")
    init.out.expect(r"^touched$")
    assert os.stat(heartbeat).st_mtime > time.time() + 3000     # the premise: dated ahead
    assert init.wait() == STALL
    init.log.expect(r"^sm-init: stop: no progress for 2s \(--stall-timeout\)")
    assert f"stalled: no output and no touch of {heartbeat} for 2 seconds" in check_readable(failure_of(ml))


PRINTING = """
import os, sys, time
for i in range(15):
    print("step", i, "on a terminal:", os.isatty(1), flush=True)
    if len(sys.argv) > 1:   # a heartbeat to touch
        with open(sys.argv[1], "a"):
            os.utime(sys.argv[1])
    time.sleep(0.2)
"""


def test_a_job_printing_to_a_terminal_is_watched_through_sm_init(start_init):
    """docker run -it (or script -qec) of an image that sets SM_INIT_STALL_TIMEOUT: output on a
    terminal is not captured by default, so the watchdog saw none and stopped a printing job.
    With a stall timeout the terminal is captured too: the job's lines reach it, and it lives."""
    code, seen = run_on_a_terminal(start_init, "--", sys.executable, "-c", PRINTING,
                                   env={**os.environ, "SM_INIT_STALL_TIMEOUT": "1"})
    assert code == 0, seen
    assert [line for line in seen.splitlines() if line.startswith("step ")] == \
        [f"step {i} on a terminal: False" for i in range(15)], seen
    assert "sm-init: stall: the job's output goes to the terminal through sm-init" in seen
    assert "no progress" not in seen


@pytest.mark.parametrize("watched", [True, False], ids=["its-heartbeat", "another-file"])
def test_with_no_capture_the_terminal_stays_the_jobs_and_only_the_heartbeat_counts(start_init, tmp_path, watched):
    """--no-capture with --heartbeat: the job writes to the terminal itself, which sm-init does not
    see; the heartbeat it touches keeps it alive, and printing alone would not."""
    touched, watched_file = tmp_path / "touched", tmp_path / ("touched" if watched else "never-touched")
    code, seen = run_on_a_terminal(start_init, "--no-capture", "--stall-timeout", "1", "--heartbeat",
                                   str(watched_file), "--", sys.executable, "-c", PRINTING, str(touched))
    assert "step 0 on a terminal: True" in seen, seen
    if watched:
        assert code == 0 and "no progress" not in seen, seen
        assert "step 14 on a terminal: True" in seen
    else:
        assert code == STALL and "sm-init: stop: no progress for 1s (--stall-timeout)" in seen, seen


DEEP_THREADS = """
import threading, time
def deep_in_the_model(depth):
    if depth:
        return deep_in_the_model(depth - 1)
    time.sleep(3600)
for _ in range(40):
    threading.Thread(target=deep_in_the_model, args=(60,), daemon=True).start()
print("ready", flush=True)
time.sleep(3600)
"""


def test_stacks_larger_than_a_pipe_reach_the_log_whole(start_init, ml):
    """py-spy's dump of 40 threads 60 frames deep is far more than a pipe holds: sm-init reads it
    as it comes (py-spy would wait on the full pipe, and its JSON end cut short), then stops."""
    init = train(start_init, ml, ["python", "-c", DEEP_THREADS], "--stall-timeout", "2")
    assert init.wait() == STALL
    init.log.expect(r"^sm-init: stall: stacks of pid \d+ .* by py-spy:$")
    assert init.log.count(r"stack:     deep_in_the_model \(<string>:5\)") >= 40 * 60, init.log.text[-3000:]
    assert init.log.count(r"py-spy could not read") == 0, init.log.text[-3000:]


def test_output_is_progress_even_without_a_newline(start_init, ml):
    init = train(start_init, ml, ["python", "beat.py", "chatty", "5"], "--stall-timeout", "2")
    assert init.wait() == 0
    assert init.out.drain()[-1].endswith("\rdone")
    assert init.log.count(r"^sm-init: (stop|stall|warning)") == 0, init.log.text


def test_the_trainers_own_failure_file_wins_over_a_stall(start_init, ml):
    own = ml / "output" / "failure"
    init = train(start_init, ml, ["python", "beat.py", "own-file", "0", str(own)], "--stall-timeout", "2")
    assert init.wait() == STALL
    assert own.read_text() == "trainer: the data loader lost its S3 connection; waiting for it"
    init.log.expect(r"failure file: .*already written by the trainer: kept")


def test_a_file_name_cannot_forge_lines_of_the_failure_file(start_init, ml, tmp_path):
    """A hung script whose name holds a newline and an ``Error:``: "Where it was" names it escaped,
    as the log does, and the file's only lines are its own."""
    script = tmp_path / "x\nError: forged by a file name.py"
    script.write_text("import time\nprint('ready', flush=True)\ntime.sleep(3600)\n")
    init = train(start_init, ml, ["python", str(script)], "--stall-timeout", "2")
    init.out.expect(r"^ready$")
    assert init.wait() == STALL
    text = check_readable(failure_of(ml))
    print(text)
    assert not re.search(r"^Error: forged", text, re.M), text
    where = re.search(r"\nWhere it was: (.*)\n", text).group(1)
    assert "x\\nError: forged by a file name.py" in where, where
    assert text.splitlines()[0].startswith("Training command `python $'")   # the command, escaped too


# ---------------------------------------------------------------------------------------------
# Without py-spy: faulthandler

@pytest.fixture(scope="module")
def sm_init_without_pyspy(tmp_path_factory):
    """sm-init run by a python with no py-spy beside it: a virtual environment of its own (no pip),
    which sees this one's packages (sm-init, click, psutil; py-spy is a program, not a package)."""
    root = tmp_path_factory.mktemp("no-pyspy")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=TIMEOUT)
    python = root / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    # An "import" line of a .pth file runs: addsitedir also reads the .pth files there (the editable install).
    with open(os.path.join(purelib, "this-venv.pth"), "w") as f:
        f.write(f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n")
    program = root / "bin" / "sm-init"
    program.write_text(f"#!{python}\nimport sys\nfrom sm_init.__main__ import main\nsys.exit(main())\n")
    program.chmod(0o755)
    assert not os.path.exists(root / "bin" / "py-spy") and shutil.which("py-spy", path=PLAIN_PATH) is None
    return str(program)


@pytest.fixture
def start_without_pyspy(start_init, sm_init_without_pyspy):
    """start_init, with that sm-init and a PATH without py-spy."""
    def start(*args, env, cwd):
        # Its python (and nothing of this environment's bin) first on PATH: no py-spy anywhere.
        path = os.path.dirname(sm_init_without_pyspy) + ":" + PLAIN_PATH
        return start_init(*args, sm_init=sm_init_without_pyspy, env={**env, "PATH": path}, cwd=cwd)
    return start


def test_faulthandler_stacks_from_the_processes_that_handle_the_signal(start_without_pyspy, ml):
    init = train(start_without_pyspy, ml, ["python", "fh_hang.py"], "--stall-timeout", "2", "--stack-signal", "USR1")
    init.out.expect(r"^trainer: children ready, going quiet$")
    assert init.wait() == STALL
    init.log.expect(r"^sm-init: stall: SIGUSR1 to 2 Python process\(es\) that handle it, one at a time"
                    r" \(faulthandler\): their stacks follow on their stderr; 1 that don't handle it are not sent it$")
    # The bystander blocks SIGUSR1: had it been sent, it would be pending there.
    init.log.expect(r"^bystander: pending at the stop: \[\]$")
    # Each process's dump whole, one after the other: never two interleaved within a line.
    log = init.log.text
    dumps = re.findall(r"Current thread 0x[0-9a-f]+ \(most recent call first\):\n"
                       r"  File \"(.*)\", line (\d+) in (\w+)\n", log)
    assert sorted(function for _, _, function in dumps) == ["wait_in_helper", "wait_in_trainer"], log
    assert all(path == FH_HANG for path, _, _ in dumps)
    for line in init.log.seen:
        if line.startswith("  File "):
            assert re.fullmatch(r'  File ".*", line \d+ in [\w<>]+', line), line
    text = check_readable(failure_of(ml))
    print(text)
    trainer_line = line_of(FH_HANG, "def wait_in_trainer") + 2
    helper_line = line_of(FH_HANG, "def wait_in_helper") + 2
    where = re.search(r"\nWhere it was: (.*)\n", text).group(1)
    assert re.fullmatch(rf"pid \d+ \(fh_hang\.py\) in wait_in_trainer \(fh_hang\.py:{trainer_line}\);"
                        rf" pid \d+ \(fh_hang\.py\) in wait_in_helper \(fh_hang\.py:{helper_line}\)"
                        r" \(stacks by faulthandler, in the log\)\.", where), where
    assert text.endswith("Last lines of stdout:\nhelper: ready\nbystander: ready\ntrainer: children ready, going quiet")


def test_without_py_spy_or_a_stack_signal_the_stall_still_stops(start_without_pyspy, ml):
    init = train(start_without_pyspy, ml, ["python", "fh_hang.py"], "--stall-timeout", "2")
    assert init.wait() == STALL
    init.log.expect(r"stall: no stacks: py-spy is not installed \(pip install py-spy\) and --stack-signal is not set")
    assert "(most recent call first)" not in init.log.text       # nobody was sent SIGUSR1
    text = check_readable(failure_of(ml))
    assert "stalled: no output for 2 seconds" in text and "Where it was" not in text


# ---------------------------------------------------------------------------------------------
# A py-spy that fails or hangs: the stacks fall back to faulthandler, the stop never waits on it

REFUSED_PYSPY = "#!/bin/sh\necho 'Error: Operation not permitted (os error 1)' >&2\nexit 1\n"
HANGING_PYSPY = "#!/bin/sh\nexec sleep 1000\n"


@pytest.fixture
def start_with_fake_pyspy(start_init, sm_init_without_pyspy, tmp_path):
    """start(script, *args, env, cwd): start_init with sm-init of a python that has no py-spy
    beside it, and ``script`` as the py-spy first on PATH (seccomp refusing it, a py-spy that hangs)."""
    def start(script, *args, env, cwd):
        fake = tmp_path / "fake-bin"
        fake.mkdir()
        (fake / "py-spy").write_text(script)
        (fake / "py-spy").chmod(0o755)
        path = f"{fake}:{os.path.dirname(sm_init_without_pyspy)}:{PLAIN_PATH}"
        return start_init(*args, sm_init=sm_init_without_pyspy, env={**env, "PATH": path}, cwd=cwd)
    return start


def test_a_py_spy_that_fails_at_run_time_falls_back_to_the_stack_signal(start_with_fake_pyspy, ml):
    """py-spy is there, but every dump is refused (seccomp, an unsupported Python): the processes
    that handle --stack-signal still give their stacks, within the dump window."""
    start = lambda *args, **kw: start_with_fake_pyspy(REFUSED_PYSPY, *args, **kw)
    init = train(start, ml, ["python", "fh_hang.py"], "--stall-timeout", "2", "--stack-signal", "USR1")
    init.out.expect(r"^trainer: children ready, going quiet$")
    assert init.wait() == STALL
    init.log.expect(r"^sm-init: stall: taking the stacks of 3 Python process\(es\) with py-spy$")
    for _ in range(3):
        init.log.expect(r"^sm-init: warning: stall: py-spy could not read pid \d+ .*: Error: Operation not permitted")
    log = init.log.text
    assert len(re.findall(r"^sm-init: stall: SIGUSR1 to \d Python process\(es\) that handle it, one at a time"
                          r" \(faulthandler, py-spy failed on them\)", log, re.MULTILINE)) >= 1, log
    init.log.expect(r"^bystander: pending at the stop: \[\]$")      # never sent: it does not handle it
    dumps = re.findall(r"Current thread 0x[0-9a-f]+ \(most recent call first\):\n"
                       r"  File \"(.*)\", line (\d+) in (\w+)\n", log)
    assert sorted(function for _, _, function in dumps) == ["wait_in_helper", "wait_in_trainer"], log
    text = check_readable(failure_of(ml))
    print(text)
    assert re.search(r"\nWhere it was: pid \d+ \(fh_hang\.py\) in wait_in_\w+ .*"
                     r" \(stacks by faulthandler, in the log\)\.\n", text), text


def test_a_py_spy_that_hangs_leaves_time_for_the_stack_signal(start_with_fake_pyspy, ml):
    """With --stack-signal, py-spy's window ends early enough for faulthandler after it: the
    stacks still come, by the signal, before the stop (the window is 10 s: train's grace is long)."""
    start = lambda *args, **kw: start_with_fake_pyspy(HANGING_PYSPY, *args, **kw)
    init = train(start, ml, ["python", "fh_hang.py"], "--stall-timeout", "2", "--stack-signal", "USR1")
    init.out.expect(r"^trainer: children ready, going quiet$")
    assert init.wait() == STALL
    for _ in range(3):
        init.log.expect(r"^sm-init: warning: stall: py-spy could not read pid \d+ .*: still running after \d+\.\ds: killed$")
    init.log.expect(r"^bystander: pending at the stop: \[\]$")
    log = init.log.text
    dumps = re.findall(r"Current thread 0x[0-9a-f]+ \(most recent call first\):\n"
                       r"  File \"(.*)\", line (\d+) in (\w+)\n", log)
    assert sorted(function for _, _, function in dumps) == ["wait_in_helper", "wait_in_trainer"], log
    assert "had not heard the stop" not in log
    assert "(stacks by faulthandler, in the log)." in check_readable(failure_of(ml))


SAVES_ON_TERM = """
import signal, sys, time
def save(signum, frame):
    print("trainer: saved", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, save)
print("trainer: ready, going quiet", flush=True)
while True:
    time.sleep(3600)
"""


def test_a_py_spy_that_hangs_is_killed_at_the_end_of_its_window_and_holds_nothing(start_with_fake_pyspy, ml):
    """The trainer saves and exits 0 on the stop, once the stacks' window is over: the stop then
    ends with it, not at the end of the grace, and the hung py-spy is killed, never warned as a
    leftover of the job. Stop timeout 60: the grace is 43.5 s, the window 10 s."""
    start = lambda *args, **kw: start_with_fake_pyspy(HANGING_PYSPY, *args, **kw)
    init = train(start, ml, ["python", "-c", SAVES_ON_TERM], "--stall-timeout", "1", "--stop-timeout", "60")
    init.out.expect(r"^trainer: ready, going quiet$")
    assert init.wait(TIMEOUT * 2) == STALL
    init.log.expect(r"^sm-init: stall: taking the stacks of 1 Python process\(es\) with py-spy$")
    init.log.expect(r"^sm-init: warning: stall: py-spy could not read pid \d+ .*: still running after \d+\.\ds: killed$")
    init.out.expect(r"^trainer: saved$")
    exit_line = init.log.expect(r"^sm-init: exit: 124 \(stall; main child exit code 0\); grace ([\d.]+)s")
    assert "had not heard the stop" not in init.log.text and "SIGKILL to" not in init.log.text, init.log.text
    assert float(exit_line.group(1)) < 43.5 - 10, init.log.text   # ended with the trainer, not the grace
    assert init.survivors() == []


# ---------------------------------------------------------------------------------------------
# A process stuck in the kernel: its command line can't be read, and nothing of sm-init waits on it

MMAP_LOCKED = os.path.join(CHILDREN, "mmap_locked.py")
LIST_TIME = 2.0   # stacks.LIST_TIME
SLACK = 3.0       # the test's own delay in seeing a line, on a loaded 2-core machine


def test_a_process_stuck_in_the_kernel_holds_neither_the_stacks_of_the_others_nor_the_stop(start_init, stuck_fuse):
    """Listing the tree reads each Python process's command line, which the kernel reads from that
    process's memory under its mmap lock. A process stuck in the kernel keeps that lock (here a
    read of its memory waits on a file system that never answers, and its own mmap queues behind
    it): the read waits in sm-init's lister, killed after LIST_TIME, and the processes listed
    before it still get their stacks taken; the stop keeps its deadlines."""
    init = start_init("--stall-timeout", "1", "--stop-timeout", "10", "--hook-timeout", "0", "--",
                      sys.executable, MMAP_LOCKED, str(stuck_fuse.path / "stuck"), env={**os.environ, "PATH": VENV_PATH})
    pids = dict(pair.split("=") for pair in init.out.expect(r"^ready .*").group(0).split()[1:])
    proc = f"/proc/{init.pid}/root/proc" if init.pid1 else "/proc"
    with pytest.raises(subprocess.TimeoutExpired):   # the premise: the kernel does not answer
        subprocess.run(["cat", f"{proc}/{pids['locked']}/cmdline"], timeout=1, stdout=subprocess.DEVNULL)
    init.log.expect(r"^sm-init: stop: no progress for 1s \(--stall-timeout\)")
    stalled = time.monotonic()
    listed = 2 if int(pids["bystander"]) < int(pids["locked"]) else 1   # breadth first, then by pid
    init.log.expect(rf"^sm-init: warning: stall: the kernel did not answer a read of pid {pids['locked']}'s"
                    rf" command line or environment within {LIST_TIME:.1f}s \(.*\): stacks of the {listed} Python"
                    r" process\(es\) listed before it$")
    assert time.monotonic() - stalled < LIST_TIME + SLACK
    init.log.expect(rf"^sm-init: stall: taking the stacks of {listed} Python process\(es\) with py-spy$")
    init.log.expect(rf"^sm-init: stall: stacks of pid {pids['launcher']} .*by py-spy:$")
    init.log.expect(r"^sm-init: exit: 124 \(stall; main child killed by SIGTERM\)")
    assert time.monotonic() - stalled < 10 + SLACK       # by its deadline, the stuck ones still there
    assert f"stacks of pid {pids['locked']} " not in init.log.text
    stuck_fuse.abort()
    assert init.wait() == STALL
    wait_until(lambda: init.survivors() == [], "the stuck processes gone once the file system let go")
