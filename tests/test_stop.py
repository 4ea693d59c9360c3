"""The stop sequence over real process trees, as PID 1 of a PID namespace and as subreaper.

Each test starts the real sm-init with short budgets (--stop-timeout 4-30 s), waits for ready lines,
stops it the way Docker does (SIGTERM to sm-init) and checks what survived, what the hooks saw,
the exit code and that sm-init was gone before its stop timeout. Timing bounds are generous: the
machines are noisy, precise timing belongs to bench/.
"""

import json
import os
import shlex
import signal
import subprocess
import sys
import time
import uuid

import pytest

from realinit import SM_INIT, TIMEOUT, probe

HERE = os.path.dirname(os.path.abspath(__file__))
TREE = os.path.join(HERE, "children", "tree.py")
HOOK = os.path.join(HERE, "children", "hook.py")


def tree(*args):
    return [sys.executable, TREE, *args]


def hook(*args):
    """A --pre-kill value: the test hook as one command line."""
    return shlex.join([sys.executable, HOOK, *args])


def cmd(argv):
    return shlex.join(argv)


@pytest.fixture
def no_hooks_dir(tmp_path):
    """A --hooks-dir that does not exist: the host's /etc/sm-init/pre-kill.d must not leak in."""
    return str(tmp_path / "no-hooks.d")


def stop(init, signum=signal.SIGTERM):
    """Signal sm-init as Docker does; returns the monotonic time it was sent."""
    sent = time.monotonic()
    init.signal(signum)
    return sent


def lines_index(lines, pattern):
    import re
    for index, line in enumerate(lines):
        if re.search(pattern, line):
            return index
    raise AssertionError(f"no line matching {pattern!r} in {lines}")


def wait(init):
    """sm-init's exit code, with every line of both streams read."""
    code = init.wait()
    init.out.drain(2)
    print("\n".join(["sm-init stderr:", *init.log.seen, "stdout:", *init.out.seen]))  # shown on failure
    return code


# Time for this test to notice sm-init's exit on a loaded 2-core machine (load averages of 100+
# were seen): the exit is observed through unshare, a pipe and a Python thread. sm-init's own
# account of its stop (the summary line) is held to the budget itself.
OBSERVED_LATE = 1.0


def stop_time(init):
    """Seconds from the stop to the exit decision, as sm-init reports them on its exit line."""
    import re
    found = re.search(r"grace ([\d.]+)s, hooks ([\d.]+)s .*kill ([\d.]+)s", exit_line(init))
    return sum(float(x) for x in found.groups())


def assert_on_time(init, sent, budget, from_stop=True):
    """sm-init was gone within ``budget`` seconds of the signal: before Docker's SIGKILL."""
    if from_stop:
        own = stop_time(init)
        assert own < budget, f"sm-init took {own:.2f}s by its own clock (budget {budget}s): {init.log.seen}"
    elapsed = init.ended - sent
    assert elapsed < budget + OBSERVED_LATE, \
        f"sm-init exited {elapsed:.2f}s after the stop (budget {budget}s): {init.log.seen}"


def exit_line(init):
    assert init.log.seen and init.log.seen[-1].startswith("sm-init: exit: "), init.log.seen
    return init.log.seen[-1]


# ---------------------------------------------------------------------------------------------
# A trainer that saves on SIGTERM; a trainer that ignores it

def test_checkpointing_trainer_is_followed_at_once_and_the_hook_saves_its_checkpoint(start_init, tmp_path,
                                                                                   no_hooks_dir):
    ml = tmp_path / "ml"
    ml.mkdir()
    ckpt = tmp_path / "ckpt" / "last.ckpt"
    ckpt.parent.mkdir()
    trainer = probe("--exit-on", "TERM=7", "--write", str(ckpt))
    init = start_init("--ml-root", str(ml), "--hooks-dir", no_hooks_dir, "--stop-timeout", "30",
                      "--pre-kill", hook("--copy", str(ckpt), str(ml / "model" / "last.ckpt")),
                      "--train", cmd(trainer), "--", "train")
    init.out.expect(r"^main ready")
    sent = stop(init)
    assert wait(init) == 7                                    # the trainer's own code
    elapsed = init.ended - sent
    assert elapsed < 10, f"sm-init took {elapsed:.1f}s after the trainer exited (grace ends at 21s)"
    assert (ml / "model" / "last.ckpt").read_text() == "saved by main on SIGTERM\n"
    assert init.out.count(r"^main got SIGTERM") == 1
    assert not (ml / "output" / "failure").exists()            # a stop is not a failure
    assert init.survivors() == []
    assert "exit: 7 (SIGTERM" in exit_line(init)


def test_trainer_ignoring_sigterm_hook_runs_before_the_kill_and_nothing_survives(start_init, tmp_path,
                                                                                no_hooks_dir):
    token = "trainer-" + uuid.uuid4().hex
    record = tmp_path / "hook.json"
    stop_timeout = 8.0  # hooks get 4 s: a Python hook can start slowly on a loaded machine
    init = start_init("--hooks-dir", no_hooks_dir, "--stop-timeout", str(stop_timeout), "--hook-timeout", "4",
                      "--pre-kill", hook("--record", str(record), "--look-for", token),
                      "--", *probe("--tag", token, "--group-child"))
    init.out.expect(rf"^{token} ready pid=(\d+)")
    init.out.expect(r"^grandchild ready")
    sent = stop(init)
    init.out.expect(rf"^{token} got SIGTERM")
    stop(init)                                                 # repeated: neither resent nor a new clock
    stop(init, signal.SIGINT)
    assert wait(init) == 128 + signal.SIGKILL
    assert_on_time(init, sent, stop_timeout)
    assert record.exists(), f"the hook wrote no record: {init.log.seen}"
    seen = json.loads(record.read_text())
    assert seen["alive"], "the trainer was already gone when the hook ran: the hook did not run before the kill"
    assert "SM_INIT_EXIT_CODE" not in seen["env"]              # not known yet: the trainer still ran
    log = init.log.seen
    assert lines_index(log, r"hooks: running") < lines_index(log, r"kill: SIGKILL")
    assert init.out.count(rf"^{token} got SIGTERM") == 1       # sent once
    assert init.out.count(r"^grandchild got SIGTERM") == 1     # the whole group got it
    assert init.out.count(r"got SIGINT") == 0                  # the repeat was not sent
    assert init.log.count(r"already stopping") == 2
    assert init.survivors() == []


# ---------------------------------------------------------------------------------------------
# Launchers whose workers leave the group: torchrun, horovod, an sshd an MPI host started

@pytest.mark.parametrize("launcher_on_term, code", [("exit=0", 0), ("ignore", 128 + signal.SIGKILL)])
def test_setsid_workers_and_a_double_forked_daemon_are_all_gone(start_init, no_hooks_dir, launcher_on_term,
                                                                code):
    stop_timeout = 8.0  # the launcher gets ~5 s to exit on SIGTERM, even on a loaded machine
    init = start_init("--hooks-dir", no_hooks_dir, "--stop-timeout", str(stop_timeout), "--",
                      *tree("--on-term", launcher_on_term,
                            "--worker", "setsid,rank0,ignore", "--worker", "setsid,rank1,exit",
                            "--worker", "daemon,sshd,ignore", "--worker", "group,loader,ignore"))
    init.out.expect(r"^tree ready")
    for tag in ("rank0", "rank1", "sshd", "loader"):
        init.out.expect(rf"^{tag} ready")
    sent = stop(init)
    assert wait(init) == code
    assert_on_time(init, sent, stop_timeout)
    assert init.survivors() == []
    assert init.out.count(r"^loader got SIGTERM") == 1          # the group signal reached it, once
    if launcher_on_term == "exit=0":
        # the launcher died without stopping its workers: sm-init warned those the group signal missed
        assert init.out.count(r"^rank0 got SIGTERM") == 1
        assert init.out.count(r"^sshd got SIGTERM") == 1
    assert "killed" in exit_line(init)


# ---------------------------------------------------------------------------------------------
# Hooks that hang, fail, or are missing

def test_hanging_hook_is_killed_with_its_group_and_sm_init_is_on_time(start_init, no_hooks_dir):
    stop_timeout = 8.0  # the trainer gets 3.8 s to exit, the hook 3 s to start and hang: loaded machines
    init = start_init("--hooks-dir", no_hooks_dir, "--stop-timeout", str(stop_timeout), "--hook-timeout", "3",
                      "--pre-kill", hook("--name", "slow", "--hang-child"),
                      "--pre-kill", hook("--name", "never"),
                      "--", *probe("--exit-on", "TERM=0"))
    init.out.expect(r"^main ready")
    sent = stop(init)
    init.out.expect(r"^hook slow hanging")
    assert wait(init) == 0                                    # the hook never changes the exit code
    assert_on_time(init, sent, stop_timeout)
    init.log.expect(r"hooks: .*--name slow --hang-child still running at the kill deadline: killed")
    init.log.expect(r"hooks: 1 hook\(s\) not run: no time left")
    assert init.out.count(r"^hook never ran") == 0
    assert init.survivors() == []                              # the hook's own child too
    assert "(1 failed)" in exit_line(init)


def test_failing_hook_is_logged_and_the_next_one_still_runs(start_init, no_hooks_dir):
    init = start_init("--hooks-dir", no_hooks_dir, "--stop-timeout", "10",
                      "--pre-kill", hook("--name", "bad", "--exit", "3"),
                      "--pre-kill", hook("--name", "good"),
                      "--", *probe("--exit-on", "TERM=0"))
    init.out.expect(r"^main ready")
    sent = stop(init)
    assert wait(init) == 0
    assert_on_time(init, sent, 8)
    init.log.expect(r"warning: hooks: .*--name bad --exit 3 failed \(exit code 3\)")
    init.out.expect(r"^hook good ran")
    assert "exit: 0 " in exit_line(init) and "(1 failed)" in exit_line(init)


def test_missing_hook_is_logged_and_sm_init_is_on_time(start_init, no_hooks_dir):
    init = start_init("--hooks-dir", no_hooks_dir, "--stop-timeout", "10",
                      "--pre-kill", "/nonexistent/save-artifacts --now",
                      "--pre-kill", hook("--name", "after"),
                      "--", *probe("--exit-on", "TERM=5"))
    init.out.expect(r"^main ready")
    sent = stop(init)
    assert wait(init) == 5
    assert_on_time(init, sent, 8)
    init.log.expect(r"warning: hooks: /nonexistent/save-artifacts --now: No such file or directory")
    init.out.expect(r"^hook after ran")
    assert "(1 failed)" in exit_line(init)


def write_hook(path, text, executable=True):
    path.write_text(text)
    path.chmod(0o755 if executable else 0o644)


def test_hooks_dir_runs_executables_in_name_order_after_pre_kill(start_init, tmp_path):
    hooks_d = tmp_path / "pre-kill.d"
    hooks_d.mkdir()
    for name in ("20-b", "10-a", "3-c"):
        write_hook(hooks_d / name, f"#!/bin/sh\nexec {shlex.quote(sys.executable)} {HOOK} --name {name}\n")
    write_hook(hooks_d / "15-not-executable", "#!/bin/sh\necho hook not-executable ran\n", executable=False)
    (hooks_d / "12-folder").mkdir()
    init = start_init("--hooks-dir", str(hooks_d), "--stop-timeout", "10",
                      "--pre-kill", hook("--name", "cli"), "--", *probe("--exit-on", "TERM=0"))
    init.out.expect(r"^main ready")
    stop(init)
    assert wait(init) == 0
    ran = [line.split()[1] for line in init.out.seen if line.startswith("hook ")]
    assert ran == ["cli", "10-a", "20-b", "3-c"]               # --pre-kill first, then by name
    init.log.expect(r"warning: hooks: skipping .*15-not-executable: not an executable file")
    init.log.expect(r"warning: hooks: skipping .*12-folder: not an executable file")


def test_pre_kill_from_the_environment_one_command_per_line(start_init, no_hooks_dir):
    env = {**os.environ, "SM_INIT_PRE_KILL": hook("--name", "first") + "\n\n" + hook("--name", "second") + "\n"}
    init = start_init("--hooks-dir", no_hooks_dir, "--", *probe("--exit-on", "TERM=0"), env=env)
    init.out.expect(r"^main ready")
    stop(init)
    assert wait(init) == 0
    ran = [line.split()[1] for line in init.out.seen if line.startswith("hook ")]
    assert ran == ["first", "second"]


@pytest.mark.parametrize("trainer_exits", [True, False])
def test_hook_environment(start_init, tmp_path, no_hooks_dir, trainer_exits):
    ml = tmp_path / "ml"
    ml.mkdir()
    record = tmp_path / "hook.json"
    stop_timeout, hook_timeout = 10.0, 3.0
    trainer = probe("--exit-on", "TERM=7") if trainer_exits else probe()
    init = start_init("--ml-root", str(ml), "--hooks-dir", no_hooks_dir, "--stop-timeout", str(stop_timeout),
                      "--hook-timeout", str(hook_timeout), "--pre-kill", hook("--record", str(record)),
                      "--train", cmd(trainer), "--", "train")
    init.out.expect(r"^main ready")
    sent_wall = time.time()
    stop(init)
    wait(init)
    assert record.exists(), f"the hook wrote no record: {init.log.seen}"
    seen = json.loads(record.read_text())
    env = seen["env"]
    assert env["SM_INIT_REASON"] == "SIGTERM"
    assert env["SM_INIT_MODE"] == "train"
    if trainer_exits:
        assert env["SM_INIT_EXIT_CODE"] == "7"
    else:
        assert "SM_INIT_EXIT_CODE" not in env
    deadline, time_left = float(env["SM_INIT_DEADLINE"]), float(env["SM_INIT_TIME_LEFT"])
    # the deadline is the kill: after the hook started, before docker's SIGKILL
    assert seen["time"] - 1 <= deadline < sent_wall + stop_timeout
    assert 0 < time_left <= stop_timeout
    if not trainer_exits:
        assert time_left <= hook_timeout + 0.5                 # the grace used up everything but H
    else:
        assert time_left > hook_timeout                        # grace ended early: the hook gets its time
    assert abs((deadline - time_left) - seen["time"]) < 2       # both tell the same moment
    assert seen["pgid"] == seen["pid"]                         # its own process group


# ---------------------------------------------------------------------------------------------
# The main child exits first

@pytest.mark.parametrize("stubborn", [False, True])
def test_leftovers_after_the_main_child_exits(start_init, no_hooks_dir, stubborn):
    leftover_grace = 1.0 if stubborn else 30.0
    workers = ["--worker", "setsid,uploader,exit", "--worker", "group,loader,exit"]
    if stubborn:
        workers += ["--worker", "daemon,sshd,ignore"]
    init = start_init("--hooks-dir", no_hooks_dir, "--leftover-grace", str(leftover_grace), "--",
                      *tree(*workers, "--exit", "5"))
    init.out.expect(r"^tree ready")
    ready = time.monotonic()
    assert wait(init) == 5                                    # the main child's code
    assert init.out.count(r"^uploader got SIGTERM") == 1
    assert init.out.count(r"^loader got SIGTERM") == 1
    assert init.survivors() == []
    elapsed = init.ended - ready
    if stubborn:
        assert init.out.count(r"^sshd got SIGTERM") == 1
        init.log.expect(r"kill: SIGKILL to [1-9]\d* process")
        assert 0.5 < elapsed < 20, "SIGKILL must come after --leftover-grace, not before"
    else:
        assert elapsed < leftover_grace / 2, "everything obeyed SIGTERM: no need to wait out the grace"
        assert init.log.count(r"kill: SIGKILL") == 0
    assert exit_line(init).startswith("sm-init: exit: 5 (failure; main child exit code 5)")


def test_stop_during_the_leftover_grace_keeps_the_budget(start_init, no_hooks_dir):
    init = start_init("--hooks-dir", no_hooks_dir, "--leftover-grace", "60", "--stop-timeout", "4", "--",
                      *tree("--worker", "setsid,stubborn,ignore", "--exit", "3"))
    init.out.expect(r"^tree ready")
    init.out.expect(r"^stubborn got SIGTERM")
    sent = stop(init)
    assert wait(init) == 3
    assert_on_time(init, sent, 4, from_stop=False)   # its grace began when the main child exited
    init.log.expect(r"stop: SIGTERM during cleanup")
    assert init.survivors() == []


# ---------------------------------------------------------------------------------------------
# --max-runtime and --hooks-on

def test_max_runtime_stops_the_job(start_init, tmp_path, no_hooks_dir):
    record = tmp_path / "hook.json"
    init = start_init("--hooks-dir", no_hooks_dir, "--max-runtime", "1", "--stop-timeout", "5",
                      "--pre-kill", hook("--record", str(record)), "--", *probe("--exit-on", "TERM=0"))
    init.out.expect(r"^main ready")
    init.out.expect(r"^main got SIGTERM")
    assert wait(init) == 0
    assert init.ended - init.started < 15
    init.log.expect(r"stop: --max-runtime 1s reached")
    assert json.loads(record.read_text())["env"]["SM_INIT_REASON"] == "max-runtime"


@pytest.mark.parametrize("hooks_on, how, runs, reason", [
    ("stop", "stop", True, "SIGTERM"),
    ("stop", "exit 1", False, None),
    ("failure", "exit 1", True, "failure"),
    ("failure", "exit 0", False, None),
    ("always", "exit 0", True, "exit"),
    ("always", "stop", True, "SIGTERM"),
])
def test_hooks_on(start_init, tmp_path, no_hooks_dir, hooks_on, how, runs, reason):
    record = tmp_path / "hook.json"
    child = probe("--exit-on", "TERM=0") if how == "stop" else probe("--exit", how.split()[1])
    init = start_init("--hooks-dir", no_hooks_dir, "--hooks-on", hooks_on,
                      "--pre-kill", hook("--record", str(record)), "--", *child)
    init.out.expect(r"^main ready")
    if how == "stop":
        stop(init)
    code = wait(init)
    assert code == (0 if how == "stop" else int(how.split()[1]))
    assert record.exists() is runs
    if runs:
        assert json.loads(record.read_text())["env"]["SM_INIT_REASON"] == reason


# ---------------------------------------------------------------------------------------------
# Bad values: one line, exit 2, nothing started

BAD_VALUES = [
    (["--stop-timeout", "0"], "--stop-timeout"),
    (["--stop-timeout", "-1"], "--stop-timeout"),
    (["--stop-timeout", "nan"], "--stop-timeout"),
    (["--stop-timeout", "inf"], "--stop-timeout"),
    (["--stop-timeout", "abc"], "--stop-timeout"),
    (["--stop-timeout", "1e12"], "--stop-timeout"),
    (["--stop-timeout", ""], "--stop-timeout"),
    (["--stop-timeout", "10", "--hook-timeout", "10"], "--hook-timeout"),
    (["--stop-timeout", "3", "--hook-timeout", "2.9"], "--hook-timeout"),
    (["--hook-timeout", "40"], "--hook-timeout"),                 # default S is 10 for a command
    (["--hook-timeout", "-1"], "--hook-timeout"),
    (["--hook-timeout", "nan"], "--hook-timeout"),
    (["--max-runtime", "0"], "--max-runtime"),
    (["--max-runtime", "-5"], "--max-runtime"),
    (["--max-runtime", "inf"], "--max-runtime"),
    (["--max-runtime", "1e12"], "--max-runtime"),
    (["--max-runtime", "1h"], "--max-runtime"),
    (["--leftover-grace", "-1"], "--leftover-grace"),
    (["--leftover-grace", "nan"], "--leftover-grace"),
    (["--leftover-grace", "inf"], "--leftover-grace"),
    (["--leftover-grace", "soon"], "--leftover-grace"),
    (["--hooks-on", "bogus"], "--hooks-on"),
    (["--hooks-on", ""], "--hooks-on"),
    (["--hooks-on", "STOP"], "--hooks-on"),
    (["--pre-kill", ""], "--pre-kill"),
    (["--pre-kill", "cp 'unterminated"], "--pre-kill"),
]


def run_bad(args, tmp_path, env=None, words=None):
    started = tmp_path / "started"
    words = words or ["touch", str(started)]
    done = subprocess.run([SM_INIT, "--hooks-dir", str(tmp_path / "none"), *args, "--", *words],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT)
    lines = done.stderr.decode().splitlines()
    assert done.returncode == 2, (done.returncode, lines)
    assert len(lines) == 1 and lines[0].startswith("sm-init: error: "), lines
    assert done.stdout == b""
    assert not started.exists(), "the command ran"
    return lines[0]


@pytest.mark.parametrize("args, option", BAD_VALUES, ids=[" ".join(a) for a, _ in BAD_VALUES])
def test_bad_values_are_refused_before_anything_starts(tmp_path, args, option):
    line = run_bad(args, tmp_path)
    assert option in line
    value = args[-1]
    if value and option != "--pre-kill":
        assert repr(value) in line or value in line           # the offending value is named


@pytest.mark.parametrize("variable, value", [
    ("SM_INIT_STOP_TIMEOUT", "abc"), ("SM_INIT_HOOK_TIMEOUT", "100"), ("SM_INIT_MAX_RUNTIME", "-1"),
    ("SM_INIT_LEFTOVER_GRACE", "nan"), ("SM_INIT_HOOKS_ON", "never"),
])
def test_bad_values_from_the_environment(tmp_path, variable, value):
    line = run_bad([], tmp_path, env={**os.environ, variable: value})
    assert line.startswith(f"sm-init: error: {variable}: ")     # names where the bad value came from
    assert value in line


def test_hooks_dir_that_is_a_file(tmp_path):
    a_file = tmp_path / "hooks"
    a_file.write_text("")
    assert "--hooks-dir" in run_bad(["--hooks-dir", str(a_file)], tmp_path)


def test_ml_root_that_is_a_file_in_train_mode(tmp_path):
    a_file = tmp_path / "ml"
    a_file.write_text("")
    started = tmp_path / "started"
    line = run_bad(["--ml-root", str(a_file), "--train", f"touch {started}"], tmp_path, words=["train"])
    assert "--ml-root" in line


def test_a_good_hook_timeout_at_the_limit_is_accepted(tmp_path):
    from sm_init.plan import longest_hook_time
    hook_timeout = longest_hook_time(3.0)
    done = subprocess.run([SM_INIT, "--hooks-dir", str(tmp_path / "none"), "--stop-timeout", "3",
                           "--hook-timeout", repr(hook_timeout), "--", "true"],
                          stderr=subprocess.PIPE, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr


# ---------------------------------------------------------------------------------------------
# A stopped trainer, and a stop signal that --rewrite drops

def test_a_trainer_stopped_by_sigtstp_still_saves_on_a_stop(start_init, no_hooks_dir, tmp_path):
    """A forwarded SIGTSTP stops the trainer and the child it waits for (the default action); the
    stop's SIGCONT lets them go on, so the trainer acts on its SIGTERM (as systemd does) instead of
    sleeping through the grace into the SIGKILL."""
    saved = tmp_path / "checkpoint"
    trainer = f'trap "echo saved > {saved}; exit 0" TERM; echo ready; while :; do sleep 0.1; done'
    init = start_init("--hooks-dir", no_hooks_dir, "--stop-timeout", "20", "--", "sh", "-c", trainer)
    init.out.expect(r"^ready$")
    init.signal(signal.SIGTSTP)
    shell = next(p for p in init.survivors() if p.cmdline()[:2] == ["sh", "-c"])
    wait_for_state(shell.pid, "T")
    sent = stop(init)
    assert wait(init) == 0
    assert init.ended - sent < 5                 # long before the grace ends (at about 12 s)
    assert saved.read_text() == "saved\n"


def test_a_stop_signal_rewritten_to_0_starts_no_stop(start_init, no_hooks_dir):
    init = start_init("--hooks-dir", no_hooks_dir, "--stop-timeout", "4", "--rewrite", "INT=0", "--",
                      *probe("--exit-on", "TERM=0"))
    init.out.expect(r"^main ready")
    init.signal(signal.SIGINT)                 # dropped: nothing forwarded, nothing starts
    init.signal(signal.SIGUSR1)                # a barrier: forwarded after the SIGINT was handled
    init.out.expect(r"^main got SIGUSR1$")
    assert init.out.count(r"^main got SIGINT") == 0
    assert init.log.count(r"^sm-init: stop:") == 0
    sent = stop(init)                          # the next stop signal starts a normal stop
    assert wait(init) == 0
    assert init.ended - sent < 4
    init.out.expect(r"^main got SIGTERM$")
    init.log.expect(r"^sm-init: stop: SIGTERM; grace until")
    assert "killed" not in exit_line(init).split(";")[1]


def wait_for_state(pid, state):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == state:
                return
        time.sleep(0.01)
    raise AssertionError(f"pid {pid} never reached state {state}")
