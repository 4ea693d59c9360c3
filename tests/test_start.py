"""What sm-init is asked to be, and the state it starts in: real sm-init processes.

The environment configures, never redefines: no variable asks for help or the version, flags take
the usual boolean words, the command line wins over the environment. A command line or a hook name
can't forge a log line. sm-init starts with what it depends on (SIGCHLD's default disposition),
leaves a terminal to the shell when started in the background, trains when only its failure
file's folder is writable, and names a missing #! interpreter (in the failure file too). --version
and --help behave like any command-line tool's when stdout fails. (Refused input: test_bad_input.py.)
"""

import fcntl
import os
import signal
import subprocess

import pytest

from helpers.commands import child, probe
from helpers.fifos import stuff
from helpers.procfs import wait_until, wchan
from helpers.realinit import PID_NAMESPACE, SM_INIT, TIMEOUT, require_unshare


def sm_init(*args, env=None, **kwargs):
    """A short run of sm-init (subreaper): (exit code, stdout text, stderr lines)."""
    done = subprocess.run([SM_INIT, *args], env=dict(os.environ, **(env or {})), capture_output=True,
                          timeout=TIMEOUT, **kwargs)
    return done.returncode, done.stdout.decode(), done.stderr.decode().splitlines()


# --- the environment configures, never redefines ------------------------------------------------

@pytest.mark.parametrize("variable", ["SM_INIT_VERSION", "SM_INIT_HELP", "SM_INIT_H"])
def test_no_variable_asks_for_help_or_the_version(variable):
    code, out, _ = sm_init("--", "sh", "-c", "echo RAN; exit 1", env={variable: "1"})
    assert (code, out) == (1, "RAN\n")              # the job ran and failed: never "Completed"


@pytest.mark.parametrize("word, verbose", [("true", True), ("1", True), ("yes", True), ("on", True),
                                           ("false", False), ("0", False), ("no", False), ("off", False)])
def test_flags_take_the_usual_boolean_words_from_the_environment(word, verbose):
    code, _, log = sm_init("--", "sh", "-c", "trap '' USR1; kill -USR1 $PPID; sleep 0.2; exit 0",
                           env={"SM_INIT_VERBOSE": word})
    assert code == 0
    assert any(line.startswith("sm-init: forward: SIGUSR1") for line in log) is verbose


def test_a_bad_boolean_word_names_its_variable():
    code, out, log = sm_init("--", "sh", "-c", "echo RAN", env={"SM_INIT_VERBOSE": "maybe"})
    assert code == 2 and out == ""
    assert log == ["sm-init: error: SM_INIT_VERBOSE: 'maybe' is not a boolean (use 1/0, true/false, yes/no or on/off)"]


@pytest.mark.parametrize("args, env, verbose", [
    (["-v"], {"SM_INIT_QUIET": "1"}, True),      # the command line wins
    (["-q"], {"SM_INIT_VERBOSE": "1"}, False),
    ([], {"SM_INIT_QUIET": "1"}, False),
])
def test_the_command_line_wins_over_the_environment(args, env, verbose):
    code, _, log = sm_init(*args, "--", "sh", "-c", "trap '' USR1; kill -USR1 $PPID; sleep 0.2; exit 0", env=env)
    assert code == 0
    assert any(line.startswith("sm-init: forward: SIGUSR1") for line in log) is verbose
    assert any(line.startswith("sm-init: start:") for line in log) is (verbose or "-q" not in args and not env)


@pytest.mark.parametrize("args, env, named", [
    (["-v", "-q"], {}, "--verbose and --quiet"),
    ([], {"SM_INIT_VERBOSE": "1", "SM_INIT_QUIET": "1"}, "SM_INIT_VERBOSE and SM_INIT_QUIET"),
])
def test_verbose_and_quiet_from_the_same_place_contradict(args, env, named):
    code, out, log = sm_init(*args, "--", "sh", "-c", "echo RAN", env=env)
    assert code == 2 and out == "" and len(log) == 1 and named in log[0]


# --- --version and --help like any command-line tool -------------------------------------------

@pytest.mark.parametrize("option", ["--version", "--help"])
def test_version_and_help_into_a_closed_stdout(option):
    done = subprocess.run([SM_INIT, option], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          preexec_fn=lambda: os.close(1), timeout=TIMEOUT)
    assert done.returncode == 1
    assert done.stderr.decode().splitlines() == ["sm-init: error: cannot write to stdout: Bad file descriptor"]


@pytest.mark.parametrize("option", ["--version", "--help"])
def test_version_and_help_into_a_full_stdout(option):
    with open("/dev/full", "w") as full:
        done = subprocess.run([SM_INIT, option], stdout=full, stderr=subprocess.PIPE, timeout=TIMEOUT)
    assert done.returncode == 1
    assert done.stderr.decode().splitlines() == ["sm-init: error: cannot write to stdout: No space left on device"]


@pytest.mark.parametrize("option", ["--version", "--help"])
def test_version_and_help_into_a_stalled_stdout_can_still_be_stopped(option, stalled_fifo):
    """A reader that never reads: the write blocks, and a SIGTERM still ends sm-init (it blocks
    every signal from its first instant, but it has started nothing here)."""
    path, reader = stalled_fifo
    fcntl.fcntl(reader, fcntl.F_SETPIPE_SZ, 4096)
    stuff(reader)
    writer = os.open(path, os.O_WRONLY)
    init = subprocess.Popen([SM_INIT, option], stdout=writer, stderr=subprocess.PIPE)
    os.close(writer)
    try:
        wait_until(lambda: wchan(init.pid).endswith("pipe_write"), "sm-init blocked in its write")
        init.send_signal(signal.SIGTERM)
        assert init.wait(TIMEOUT) == -signal.SIGTERM
    finally:
        init.kill()
        init.wait(TIMEOUT)


# --- one event, one line --------------------------------------------------------------------------

def test_a_newline_in_the_command_cannot_forge_a_log_line():
    code, _, log = sm_init("--", "sh", "-c", "exit 3 #\nsm-init: exit: 0 (forged)")
    assert code == 3
    exits = [line for line in log if line.startswith("sm-init: exit:")]
    assert exits == [exits[-1]] and exits[0].startswith("sm-init: exit: 3 ")
    assert any("$'exit 3 #\\nsm-init: exit: 0 (forged)'" in line for line in log if line.startswith("sm-init: start:"))


def test_a_hook_file_name_cannot_forge_a_log_line(tmp_path):
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    hook = hooks / "10-save\nsm-init: exit: 0 (forged)"
    hook.write_text("#!/bin/sh\nexit 0\n")
    hook.chmod(0o755)
    code, _, log = sm_init("--hooks-dir", str(hooks), "--", "sh", "-c", "exit 3")
    assert code == 3
    assert [line for line in log if line.startswith("sm-init: exit:")] == [log[-1]]
    assert any("10-save\\nsm-init: exit: 0 (forged)" in line for line in log)


# --- the state it starts in -----------------------------------------------------------------------

def test_an_inherited_sigchld_ignore_does_not_hide_the_main_childs_exit(start_init):
    """A parent that ignores SIGCHLD: the kernel would reap sm-init's children itself."""
    def ignore_sigchld():
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    init = start_init("--", "sh", "-c", "sleep 0.5; exit 3", preexec_fn=ignore_sigchld)
    assert init.wait(timeout=10) == 3
    assert init.ended - init.started < 5
    init.log.expect(r"main child exited \(exit code 3\)")


@pytest.mark.parametrize("pid1", [False, True])
def test_a_background_job_leaves_the_terminal_to_the_shell(pid1):
    if pid1:
        require_unshare()
    master, slave = os.openpty()
    prefix = PID_NAMESPACE if pid1 else []
    try:
        done = subprocess.run(["setsid", "--ctty", *child("background_job.py"), *prefix, SM_INIT,
                               "--stop-timeout", "4", "--", *probe("--tty", "--exit-on", "TERM")],
                              stdin=slave, capture_output=True, timeout=TIMEOUT)
    finally:
        os.close(slave)
        os.close(master)
    out = done.stdout.decode()
    assert "leader foreground kept=True" in out, (out, done.stderr.decode())
    assert "main tty foreground=False" in out
    assert done.returncode == 143


# --- train mode ---------------------------------------------------------------------------------

@pytest.fixture
def ro_ml_root(tmp_path):
    """<ml-root> on a read-only bind mount, its output/ a writable mount (root ignores permission
    bits, not EROFS); None where bind mounts can't be made."""
    root, writable = tmp_path / "ml", tmp_path / "writable-output"
    (root / "output").mkdir(parents=True)
    writable.mkdir()
    steps = [["mount", "--bind", str(root), str(root)], ["mount", "-o", "remount,bind,ro", str(root)],
             ["mount", "--bind", str(writable), str(root / "output")]]
    done = []
    for step in steps:
        if subprocess.run(step, capture_output=True).returncode != 0:
            break
        done.append(step)
    try:
        if len(done) != len(steps):
            if os.environ.get("CI"):
                pytest.fail("CI: cannot make read-only bind mounts as this user")
            pytest.skip("needs root for bind mounts")
        yield root, writable
    finally:
        for target in ([str(root / "output")] if len(done) == 3 else []) + ([str(root)] if done else []):
            subprocess.run(["umount", target], check=True)


def test_train_runs_when_only_the_output_folder_is_writable(ro_ml_root):
    root, writable = ro_ml_root
    code, out, log = sm_init("--ml-root", str(root), "--train", "sh -c 'echo RAN; exit 4'", "--", "train")
    assert (code, out) == (4, "RAN\n")
    assert (writable / "failure").read_text().startswith("Training command `sh -c 'echo RAN; exit 4'` exited with code 4")


def test_train_runs_with_a_warning_when_no_failure_file_can_be_written(ro_ml_root):
    root, writable = ro_ml_root
    subprocess.run(["umount", str(root / "output")], check=True)
    try:
        assert not os.access(root / "output", os.W_OK)         # the read-only one is back in sight
        code, out, log = sm_init("--ml-root", str(root), "--train", "sh -c 'echo RAN; exit 4'", "--", "train")
    finally:  # as the fixture left it, for its teardown
        subprocess.run(["mount", "--bind", str(writable), str(root / "output")], check=True)
    assert (code, out) == (4, "RAN\n")
    assert any("warning: failure file:" in line and "not writable" in line for line in log), log


def test_a_missing_interpreter_is_named_not_the_script(tmp_path):
    script = tmp_path / "train.py"
    script.write_text("#!/usr/bin/python9.99\nprint('never')\n")
    script.chmod(0o755)
    code, out, log = sm_init("--ml-root", str(tmp_path), "--train", str(script), "--", "train")
    assert code == 127 and out == ""
    assert "/usr/bin/python9.99" in log[0] and "interpreter" in log[0]
    failure = (tmp_path / "output" / "failure").read_text()
    assert "/usr/bin/python9.99" in failure and "interpreter" in failure
