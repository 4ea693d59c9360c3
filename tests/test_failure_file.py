"""The SageMaker failure file: <ml-root>/output/failure, written by sm-init when a training job fails.

Real trainers under the real sm-init (as PID 1 and as subreaper) for exit codes, signals, a stop,
and a trainer that wrote its own file; an output folder that is a file, turns read-only or is full
(a warning, and the job's code kept; recorded for tests/RELIABILITY.md); a real OOM kill in a
memory-limited cgroup (v1, as on this kind of host, when we may create one); the counter parsing
against real cgroup files and against temporary directories laid out like v1 and v2 cgroups.
"""

import os
import re
import shlex
import signal
import subprocess
import sys
import uuid

import pytest

from helpers.commands import child, cmd, probe
from helpers.procfs import wait_until
from helpers.realinit import MARK, PID_NAMESPACE, SM_INIT, TIMEOUT, marked_processes, require_unshare, train
from helpers.tails import LIMIT, check_readable, failure_of
from sm_init import log, sagemaker


# ---------------------------------------------------------------------------------------------
# Real trainers

def test_exit_1(start_init, ml):
    init = train(start_init, ml, probe("--exit", "1"))
    assert init.wait() == 1
    text = check_readable(failure_of(ml))
    assert "probe.py --exit 1" in text                         # the command
    assert "exited with code 1" in text
    assert "Out of memory" not in text
    init.log.expect(rf"failure file: wrote {ml}/output/failure")


def test_a_programs_own_error_line_of_no_known_form(start_init, ml):
    # No rule knows this output's form: the last resort's guess from words (error_words.py) reaches
    # the file as its Error line, a warning printed after it at exit left out.
    script = ("import sys\nprint('step 10 loss 0.3', flush=True)\n"
              "print('Training failed: the shard index could not be read', file=sys.stderr, flush=True)\n"
              "print('UserWarning: 1 leaked semaphore objects to clean up at shutdown', file=sys.stderr)\n"
              "sys.exit(3)\n")
    init = train(start_init, ml, [sys.executable, "-c", script])
    assert init.wait() == 3
    text = check_readable(failure_of(ml))
    assert "exited with code 3" in text
    assert "\nError: Training failed: the shard index could not be read\n" in text, text


def test_sigkill_without_an_oom_record(start_init, ml):
    init = train(start_init, ml, probe("--kill-self", "KILL"))
    assert init.wait() == 128 + signal.SIGKILL
    text = check_readable(failure_of(ml))
    assert "killed by SIGKILL" in text and "137" in text
    assert "No out-of-memory kill was recorded" in text


def test_other_signal(start_init, ml):
    init = train(start_init, ml, probe("--kill-self", "SEGV"))
    assert init.wait() == 128 + signal.SIGSEGV
    text = check_readable(failure_of(ml))
    assert "killed by SIGSEGV" in text
    assert "out-of-memory" not in text.lower() and "out of memory" not in text.lower()


def test_the_trainers_own_failure_file_is_kept(start_init, ml):
    own = "ValueError: learning rate must be positive (from the trainer) \u2014 \u00e9t\u00e9\n".encode()
    script = f"mkdir -p {shlex.quote(str(ml / 'output'))}; printf '%s' \"$OWN\" > {shlex.quote(str(ml / 'output' / 'failure'))}; exit 4"
    init = train(start_init, ml, ["sh", "-c", script], env={**os.environ, "OWN": own.decode()})
    assert init.wait() == 4
    assert failure_of(ml) == own
    init.log.expect(r"failure file: .*already written by the trainer: kept")


def test_none_on_success(start_init, ml):
    init = train(start_init, ml, probe("--exit", "0"))
    assert init.wait() == 0
    assert failure_of(ml) is None
    assert init.log.count(r"failure file") == 0


def test_none_on_a_stop_even_with_a_non_zero_exit(start_init, ml):
    init = train(start_init, ml, probe("--exit-on", "TERM=1"), "--stop-timeout", "10")
    init.out.expect(r"^main ready")
    init.signal(signal.SIGTERM)
    assert init.wait() == 1
    assert failure_of(ml) is None                              # StopTrainingJob is not a failure
    assert init.log.count(r"failure file") == 0


def test_max_runtime_is_named(start_init, ml):
    init = train(start_init, ml, probe("--exit-on", "TERM"), "--max-runtime", "1", "--stop-timeout", "5")
    assert init.wait() == 128 + signal.SIGTERM
    text = check_readable(failure_of(ml))
    assert "--max-runtime 1 seconds" in text
    assert "exited with code 143" in text                      # the probe exits 143 itself: no signal death


def test_max_runtime_with_a_trainer_that_ignores_sigterm_names_sm_inits_own_kill(start_init, ml):
    init = train(start_init, ml, probe(), "--max-runtime", "1", "--stop-timeout", "3")
    assert init.wait() == 128 + signal.SIGKILL
    text = check_readable(failure_of(ml))
    assert "--max-runtime 1 seconds" in text
    assert "sm-init killed it" in text
    assert "a launcher, a watchdog or a person" not in text    # the SIGKILL was sm-init's own


def test_none_in_command_mode(start_init, tmp_path):
    init = start_init("--ml-root", str(tmp_path), "--", *probe("--exit", "1"))
    assert init.wait() == 1
    assert not (tmp_path / "output").exists()


def test_a_very_long_command_line_is_elided_in_its_middle_never_inside_a_character(start_init, ml):
    tag = "\u00e9\u20ac\U0001F600-" * 400                          # 2-, 3- and 4-byte characters
    init = train(start_init, ml, probe("--tag", tag, "--exit", "1"))
    assert init.wait() == 1
    text = check_readable(failure_of(ml))                      # strict UTF-8: no split character
    command = re.match(r"Training command `(.*?)` exited with code 1\.", text).group(1)
    assert len(command.encode()) <= sagemaker.COMMAND_MAX
    head, tail = command.split(" … ")
    assert head.startswith(" ".join(probe()[:2]))
    assert tail.endswith("\U0001F600-' --exit 1")


def test_a_training_command_over_a_kilobyte_keeps_how_it_ended_and_the_error(start_init, ml, tmp_path):
    """40 hyperparameters make a command of about 1.3 KB: its middle is elided, and the file still
    says how the job ended, the trainer's error and the command's two ends."""
    script = tmp_path / "train.py"
    script.write_text("import sys\nraise ValueError('bad lr: ' + sys.argv[-1])\n")
    hyperparameters = [f"--hyperparameter-number-{i}=value-{i:04d}" for i in range(40)]
    trainer = [sys.executable, str(script), *hyperparameters, "-0.5"]
    assert len(shlex.join(trainer)) > 1200
    init = train(start_init, ml, trainer)
    assert init.wait() == 1
    text = check_readable(failure_of(ml))
    command, rest = re.fullmatch(r"Training command `(.*?)` (exited with code 1\.\nError: .*)", text, re.S).groups()
    assert len(command.encode()) <= sagemaker.COMMAND_MAX
    assert command.startswith(f"{sys.executable} {script} ")
    assert " … " in command and command.endswith(" --hyperparameter-number-39=value-0039 -0.5")
    assert rest.startswith("exited with code 1.\nError: ValueError: bad lr: -0.5\nLast lines of stderr:\n")


@pytest.mark.parametrize("how", ["program", "interpreter"])
def test_a_training_command_with_an_undecodable_byte_that_cannot_start(ml, tmp_path, how):
    """A byte that is not UTF-8 in the missing program's name (or its #! interpreter's): 127, one
    line, and a failure file that names it escaped, as the log does (it was an internal error, 70)."""
    if how == "program":
        trainer = b"/nonexist\xff/prog"
    else:
        script = tmp_path / "train"
        script.write_bytes(b"#!/nonexist\xff/python\nprint('never')\n")
        script.chmod(0o755)
        trainer = os.fsencode(script)
    env = {**os.environ, "SM_INIT_TRAIN": os.fsdecode(trainer)}
    result = subprocess.run([SM_INIT, "--ml-root", str(ml), "--", "train"], env=env,
                            stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
    assert result.returncode == 127, result.stderr
    lines = result.stderr.decode().splitlines()
    errors = [line for line in lines if line.startswith("sm-init: error: ")]
    assert len(errors) == 1 and "\\udcff" in errors[0] and "internal error" not in errors[0], lines
    text = check_readable(failure_of(ml))
    assert text.startswith("sm-init could not start the training command `")
    assert "/nonexist\\udcff/" in text and "not found" in text


def test_a_command_line_that_is_not_utf8(start_init, ml):
    """Linux argv is bytes: a trainer started with a Latin-1 path must still get a readable file."""
    bad = os.fsdecode(b"caf\xe9.yaml")                         # surrogate-escaped, as Python sees argv
    init = train(start_init, ml, probe("--tag", bad, "--exit", "1"))
    assert init.wait() == 1                                    # the trainer's code, not an internal error
    text = check_readable(failure_of(ml))
    assert "exited with code 1" in text and "caf" in text


# ---------------------------------------------------------------------------------------------
# A failure file that cannot be written: a warning, and the job's own exit code

def fill_up(directory):
    """Fill the filesystem of ``directory`` until a write fails."""
    with open(os.path.join(directory, "filler"), "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass


@pytest.mark.parametrize("how", ["output-is-a-file", "output-turns-read-only", "output-is-full"])
def test_unwritable_failure_file_is_a_warning_and_the_code_is_kept(start_init, figures, ml, hooks_dir, mode, how):
    """The trainer fails with 3 and <ml-root>/output/failure cannot be written: a warning, exit 3."""
    output = ml / "output"
    trainer = probe("--exit", "3")
    mounted = False
    if how == "output-is-a-file":
        output.write_text("a file where a directory should be\n")
    elif how == "output-turns-read-only":
        output.mkdir()
        trainer = child("readonly_output.py", str(output), "3")
        mounted = mode == "subreaper"  # as PID 1 the mount stays inside the namespace's own mount table
    else:
        output.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "sm-init-full", str(output)], check=True)
        mounted = True
        fill_up(str(output))
    try:
        run = start_init("--stop-timeout", "4", "--hooks-dir", hooks_dir, "--ml-root", str(ml),
                         "--train", cmd(trainer), "--", "train")
        code = run.wait()
        failure_left = (output / "failure").exists() if output.is_dir() else False
    finally:
        if mounted:
            subprocess.run(["umount", str(output)], capture_output=True)
    warned = run.log.count(r"^sm-init: warning: failure file: cannot write") == 1
    figures("failure_file_unwritable", case=how, code=code, expected=3, warned=warned)
    if how == "output-turns-read-only":
        run.out.expect(r"^trainer readonly ")
    assert code == 3, run.log.text
    assert warned, run.log.text
    assert re.match(r"^sm-init: exit: 3 ", run.log.seen[-1]), run.log.text
    assert "Traceback" not in run.log.text
    assert not failure_left  # a full disk leaves no empty, half-written reason behind


# ---------------------------------------------------------------------------------------------
# A real OOM kill in a memory-limited cgroup (v1 here; v2 hosts would need their own variant)

def own_memory_cgroup_v1():
    """The directory of this process's v1 memory cgroup, or None (with the reason)."""
    if os.geteuid() != 0:
        return None, "needs root to create a memory cgroup"
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            if "memory" in controllers.split(","):
                directory = os.path.join("/sys/fs/cgroup/memory", path.lstrip("/"))
                if os.path.isfile(os.path.join(directory, "memory.oom_control")):
                    return directory, None
                return None, f"{directory} has no memory.oom_control"
    return None, "no cgroup v1 memory controller (cgroup v2 host)"


@pytest.fixture
def memory_cgroup():
    """A fresh child cgroup limited to 64 MiB; removed afterwards."""
    parent, why = own_memory_cgroup_v1()
    if parent is None:
        pytest.skip(why)
    path = os.path.join(parent, f"sm-init-test-{uuid.uuid4().hex[:12]}")
    try:
        os.mkdir(path)
        with open(os.path.join(path, "memory.limit_in_bytes"), "w") as f:
            f.write(str(64 << 20))
    except OSError as exc:
        if os.path.isdir(path):
            os.rmdir(path)
        pytest.skip(f"cannot create a limited memory cgroup under {parent}: {exc}")
    yield path
    with open(os.path.join(path, "cgroup.procs")) as f:
        for pid in f.read().split():
            try:
                os.kill(int(pid), signal.SIGKILL)  # only what this test started can be in it
            except ProcessLookupError:
                pass

    def removed():  # the killed processes leave the cgroup when they are reaped, a moment later
        try:
            os.rmdir(path)
        except OSError:
            return False
        return True
    wait_until(removed, f"{path} removed", timeout=10, interval=0.05)


def run_in_cgroup(cgroup, mode, args, env=None):
    """sm-init (as PID 1 or subreaper) started inside ``cgroup``; returns (code, stderr)."""
    if mode == "pid1":
        require_unshare()
    mark = uuid.uuid4().hex
    environ = dict(os.environ if env is None else env, **{MARK: mark})
    prefix = PID_NAMESPACE if mode == "pid1" else []
    wrapper = ["sh", "-c", 'echo $$ > "$0"/cgroup.procs && exec "$@"', cgroup, *prefix, SM_INIT, *args]
    try:
        done = subprocess.run(wrapper, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=TIMEOUT)
    finally:
        for process in marked_processes(mark):
            process.kill()
    return done.returncode, done.stderr.decode("utf-8", "replace")


ALLOCATE = [sys.executable, "-c", "data = b'x' * (500 << 20); print(len(data))"]


@pytest.mark.parametrize("mode", ["pid1", "subreaper"])
def test_a_real_oom_kill(memory_cgroup, ml, mode):
    code, log = run_in_cgroup(memory_cgroup, mode, ["--ml-root", str(ml), "--hooks-dir", str(ml / "none"),
                                                    "--train", shlex.join(ALLOCATE), "--", "train"])
    with open(os.path.join(memory_cgroup, "memory.oom_control")) as f:
        assert "oom_kill 1" in f.read(), "the kernel did not OOM-kill the trainer: the test proves nothing"
    assert code == 128 + signal.SIGKILL, log
    text = check_readable(failure_of(ml))
    assert "killed by SIGKILL" in text
    assert "Out of memory" in text and "1 process(es)" in text
    assert "(memory limit 64.0 MiB)" in text
    assert "No out-of-memory kill was recorded" not in text


def test_an_oom_kill_before_sm_init_started_is_not_blamed(memory_cgroup, ml):
    """The counter is compared with its value at start: an old OOM kill is not this job's."""
    earlier = subprocess.run(["sh", "-c", 'echo $$ > "$0"/cgroup.procs && exec "$@"', memory_cgroup, *ALLOCATE],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=TIMEOUT)
    assert earlier.returncode == -signal.SIGKILL
    code, log = run_in_cgroup(memory_cgroup, "subreaper", ["--ml-root", str(ml), "--hooks-dir", str(ml / "none"),
                                                           "--train", shlex.join(probe("--kill-self", "KILL")),
                                                           "--", "train"])
    assert code == 128 + signal.SIGKILL, log
    text = check_readable(failure_of(ml))
    assert "No out-of-memory kill was recorded" in text and "Out of memory" not in text


# ---------------------------------------------------------------------------------------------
# Parsing the cgroup files

def test_v1_counter_and_limit_from_this_hosts_real_files():
    parent, why = own_memory_cgroup_v1()
    if parent is None:
        pytest.skip(why)
    with open("/proc/self/cgroup") as f:
        found = sagemaker.find_memory_cgroup(f.read())
    assert found == sagemaker.MemoryCgroup(os.path.join(parent, "memory.oom_control"),
                                           os.path.join(parent, "memory.limit_in_bytes"))
    with open(found.counter_file) as f:
        real = dict(line.split() for line in f)
    assert sagemaker.read_oom_kills(found) == int(real["oom_kill"])
    with open(found.limit_file) as f:
        limit = int(f.read())
    assert sagemaker.read_memory_limit(found) == (None if limit >= 1 << 60 else limit)


V1_OOM_CONTROL = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"
V2_EVENTS = "low 0\nhigh 0\nmax 17\noom 2\noom_kill 2\noom_group_kill 0\n"


def lay_out(root, files):
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.mark.parametrize("proc_cgroup, files, counter, kills, limit", [
    # v2, the process's own cgroup visible under the mount (host, or a container with cgroupns=host)
    ("0::/system.slice/docker-abc.scope\n",
     {"system.slice/docker-abc.scope/memory.events": V2_EVENTS,
      "system.slice/docker-abc.scope/memory.max": "68719476736\n", "memory.events": "oom_kill 99\n"},
     "system.slice/docker-abc.scope/memory.events", 2, 64 << 30),
    # v2 inside a container with its own cgroup namespace: /proc says "/", the mount is the container
    ("0::/\n", {"memory.events": V2_EVENTS, "memory.max": "max\n"}, "memory.events", 2, None),
    # v2, path not visible under the mount (a private mount of the container's cgroup): fall back
    ("0::/kubepods/pod1/ctr\n", {"memory.events": V2_EVENTS, "memory.max": "1073741824\n"},
     "memory.events", 2, 1 << 30),
    # v1 (hybrid, as on this host): the memory line wins over the empty unified hierarchy
    ("9:name=systemd:/\n4:memory:/docker/abc\n1:cpu:/\n0::/\n",
     {"memory/docker/abc/memory.oom_control": V1_OOM_CONTROL,
      "memory/docker/abc/memory.limit_in_bytes": "67108864\n"},
     "memory/docker/abc/memory.oom_control", 3, 64 << 20),
    # v1 unlimited: a huge number means no limit
    ("4:memory:/docker/abc\n",
     {"memory/memory.oom_control": V1_OOM_CONTROL, "memory/memory.limit_in_bytes": "9223372036854771712\n"},
     "memory/memory.oom_control", 3, None),
    # v1 co-mounted controllers
    ("3:cpu,cpuacct,memory:/job\n",
     {"memory/job/memory.oom_control": V1_OOM_CONTROL, "memory/job/memory.limit_in_bytes": "1048576\n"},
     "memory/job/memory.oom_control", 3, 1 << 20),
    # an old v1 kernel without the oom_kill line: no record, not a crash
    ("4:memory:/\n", {"memory/memory.oom_control": "oom_kill_disable 0\nunder_oom 0\n",
                      "memory/memory.limit_in_bytes": "1048576\n"}, "memory/memory.oom_control", None, 1 << 20),
])
def test_cgroup_parsing(tmp_path, proc_cgroup, files, counter, kills, limit):
    lay_out(tmp_path, files)
    found = sagemaker.find_memory_cgroup(proc_cgroup, root=str(tmp_path))
    assert found is not None and found.counter_file == str(tmp_path / counter)
    assert sagemaker.read_oom_kills(found) == kills
    assert sagemaker.read_memory_limit(found) == limit


def test_no_memory_cgroup_at_all(tmp_path):
    assert sagemaker.find_memory_cgroup("0::/\n", root=str(tmp_path)) is None
    assert sagemaker.read_oom_kills(None) is None and sagemaker.read_memory_limit(None) is None


@pytest.mark.parametrize("code, kills, limit, words", [
    (1, 0, None, ["exited with code 1"]),
    (137, 0, None, ["killed by SIGKILL (signal 9, exit code 137)", "No out-of-memory kill was recorded"]),
    (137, 2, 64 << 20, ["Out of memory", "killed 2 process(es)", "memory limit 64.0 MiB"]),
    (1, 1, 3 << 30, ["exited with code 1", "Out of memory", "memory limit 3.0 GiB"]),
    (137, 1, None, ["Out of memory"]),
])
def test_failure_reason_words(code, kills, limit, words):
    text = sagemaker.ending(["python", "train.py", "--lr", "0.1"], code, kills, limit)
    assert text.startswith("Training command `python train.py --lr 0.1` ")
    for word in words:
        assert word in text
    if kills == 0:
        assert "Out of memory" not in text


def test_a_long_command_is_elided_within_its_bytes_at_every_limit():
    argv = ["python", "entraîner.py"] + [f"--étape-{i}=😀€é" for i in range(60)]
    whole = log.command(argv)
    for limit in range(0, len(whole.encode()) + 2):
        shown = log.command(argv, limit)
        assert len(shown.encode()) <= limit, (limit, shown)     # encodes strictly: nothing split
        if limit >= len(whole.encode()):
            assert shown == whole
        elif limit >= 60:
            head, tail = shown.split(" … ")
            assert whole.startswith(head) and whole.endswith(tail) and tail.endswith("=😀€é'")


def test_failure_reason_of_a_non_utf8_argv_is_utf8():
    text = sagemaker.ending(["python", os.fsdecode(b"caf\xe9.py")], 1, 0, None)
    assert "caf\ufffd.py" in text
    text.encode("utf-8")  # strict


def test_failure_reason_when_sm_init_sent_the_sigkill():
    text = sagemaker.ending(["train"], 137, 0, None, max_runtime=60, killed_by_init=True)
    assert "sm-init stopped it after --max-runtime 60 seconds" in text
    assert "still running at the end of the stop timeout, so sm-init killed it" in text
    assert "a launcher, a watchdog or a person" not in text
    oom = sagemaker.ending(["train"], 137, 1, 1 << 30, killed_by_init=True)
    assert "Out of memory" in oom and "sm-init killed it" not in oom


def test_exit_130_is_not_taken_for_a_sigint_death(start_init, ml):
    """The wait status decides: a trainer that exits 130 itself is not "killed by SIGINT"."""
    exits = train(start_init, ml, ["sh", "-c", "exit 130"])
    assert exits.wait() == 130
    assert "exited with code 130" in check_readable(failure_of(ml))
    (ml / "output" / "failure").unlink()
    dies = train(start_init, ml, ["sh", "-c", "kill -INT $$"])
    assert dies.wait() == 130
    assert "was killed by SIGINT (signal 2, exit code 130)" in check_readable(failure_of(ml))


@pytest.mark.parametrize("trainer, code, words", [
    ("no-such-trainer --epochs 3", 127, "no-such-trainer: command not found"),
    ("/etc/passwd", 126, "permission denied"),
])
def test_a_training_command_that_cannot_start_leaves_a_failure_file(ml, trainer, code, words):
    """Nothing starts (exit 126/127), but FailureReason still says why, instead of nothing."""
    result = subprocess.run([SM_INIT, "--ml-root", str(ml), "--train", trainer, "--", "train"],
                            stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
    assert result.returncode == code
    first = result.stderr.decode().splitlines()[0]
    assert first.startswith("sm-init: error: ") and words in first
    text = check_readable(failure_of(ml))
    assert text.startswith("sm-init could not start the training command") and words in text


def test_no_failure_file_when_a_plain_command_cannot_start(ml):
    result = subprocess.run([SM_INIT, "--ml-root", str(ml), "--", "no-such-program"],
                            stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
    assert result.returncode == 127
    assert failure_of(ml) is None
