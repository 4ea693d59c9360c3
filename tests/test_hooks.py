"""Pre-kill hooks over real processes: when they run, in what order, what they are told, and what
sm-init does when one hangs, fails, is missing, forks a daemon, floods its output or is killed.

Whatever a hook does, sm-init stays on time, the exit code stays the main child's, nothing is left
running (a hook's own children and daemons included), and the next hook runs while there is time.
Every test runs as PID 1 of a fresh PID namespace and as subreaper; the misbehaving hooks are
timed against the stop timeout and recorded for tests/RELIABILITY.md.
"""

import json
import os
import shlex
import signal
import sys
import time

import pytest

from helpers.commands import CHILDREN, child, cmd, hook, probe
from helpers.deadline import assert_on_time, exit_line, finish, stop, wait
from helpers.realinit import find_process

HOOK = os.path.join(CHILDREN, "hook.py")
HOOK_STOP = 3.0


def bad_hook(*args):
    """A --pre-kill value: misbehaving_hook.py (fails, hangs, forks a daemon, ...) as one command line."""
    return cmd(child("misbehaving_hook.py", *args))


def write_hook(path, text, executable=True):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755 if executable else 0o644)


# ---------------------------------------------------------------------------------------------
# Order, environment, and when hooks run

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


def test_pre_kill_from_the_environment_one_command_per_line(start_init, hooks_dir):
    env = {**os.environ, "SM_INIT_PRE_KILL": hook("--name", "first") + "\n\n" + hook("--name", "second") + "\n"}
    init = start_init("--hooks-dir", hooks_dir, "--", *probe("--exit-on", "TERM=0"), env=env)
    init.out.expect(r"^main ready")
    stop(init)
    assert wait(init) == 0
    ran = [line.split()[1] for line in init.out.seen if line.startswith("hook ")]
    assert ran == ["first", "second"]


@pytest.mark.parametrize("trainer_exits", [True, False])
def test_hook_environment(start_init, tmp_path, ml, hooks_dir, trainer_exits):
    record = tmp_path / "hook.json"
    stop_timeout, hook_timeout = 10.0, 3.0
    trainer = probe("--exit-on", "TERM=7") if trainer_exits else probe()
    init = start_init("--ml-root", str(ml), "--hooks-dir", hooks_dir, "--stop-timeout", str(stop_timeout),
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


@pytest.mark.parametrize("hooks_on, how, runs, reason", [
    ("stop", "stop", True, "SIGTERM"),
    ("stop", "exit 1", False, None),
    ("failure", "exit 1", True, "failure"),
    ("failure", "exit 0", False, None),
    ("always", "exit 0", True, "exit"),
    ("always", "stop", True, "SIGTERM"),
])
def test_hooks_on(start_init, tmp_path, hooks_dir, hooks_on, how, runs, reason):
    record = tmp_path / "hook.json"
    main = probe("--exit-on", "TERM=0") if how == "stop" else probe("--exit", how.split()[1])
    init = start_init("--hooks-dir", hooks_dir, "--hooks-on", hooks_on,
                      "--pre-kill", hook("--record", str(record)), "--", *main)
    init.out.expect(r"^main ready")
    if how == "stop":
        stop(init)
    code = wait(init)
    assert code == (0 if how == "stop" else int(how.split()[1]))
    assert record.exists() is runs
    if runs:
        assert json.loads(record.read_text())["env"]["SM_INIT_REASON"] == reason


# ---------------------------------------------------------------------------------------------
# Hooks that hang, fail, are missing or misbehave otherwise

def test_hanging_hook_is_killed_with_its_group_and_sm_init_is_on_time(start_init, hooks_dir):
    stop_timeout = 8.0  # the trainer gets 3.8 s to exit, the hook 3 s to start and hang: loaded machines
    init = start_init("--hooks-dir", hooks_dir, "--stop-timeout", str(stop_timeout), "--hook-timeout", "3",
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


@pytest.mark.parametrize("bad, code, logged", [
    (hook("--name", "bad", "--exit", "3"), 0, r"warning: hooks: .*--name bad --exit 3 failed \(exit code 3\)"),
    ("/nonexistent/save-artifacts --now", 5,
     r"warning: hooks: /nonexistent/save-artifacts --now: No such file or directory"),
], ids=["failing", "missing"])
def test_a_failed_hook_is_logged_and_the_next_one_still_runs(start_init, hooks_dir, bad, code, logged):
    init = start_init("--hooks-dir", hooks_dir, "--stop-timeout", "10",
                      "--pre-kill", bad, "--pre-kill", hook("--name", "after"),
                      "--", *probe("--exit-on", f"TERM={code}"))
    init.out.expect(r"^main ready")
    sent = stop(init)
    assert wait(init) == code                                 # the main child's, whatever the hook did
    assert_on_time(init, sent, 8)
    init.log.expect(logged)
    init.out.expect(r"^hook after ran")
    assert f"exit: {code} " in exit_line(init) and "(1 failed)" in exit_line(init)


@pytest.mark.parametrize("case", ["missing", "not-executable", "not-executable-in-dir", "non-zero", "hanging",
                                  "daemon", "megabytes"])
def test_misbehaving_hook(start_init, figures, hooks_dir, tmp_path, case):
    """Each bad hook: sm-init stays on time, the exit code stays the child's, nothing is left
    (a hook's daemon included), and the hook after it runs when there is time."""
    pre_kill, logged, seen = [], None, None
    if case == "missing":
        pre_kill, logged = [str(tmp_path / "no-such-hook")], r"hooks: .*no-such-hook: No such file"
    elif case == "not-executable":
        path = tmp_path / "plain.sh"
        path.write_text("#!/bin/sh\necho never\n")
        pre_kill, logged = [str(path)], r"hooks: .*plain\.sh: Permission denied"
    elif case == "not-executable-in-dir":
        write_hook(os.path.join(hooks_dir, "10-plain"), "#!/bin/sh\necho never\n", executable=False)
        logged = r"hooks: skipping .*10-plain: not an executable file"
    elif case == "non-zero":
        pre_kill, logged = [bad_hook("fail", "bad", "3")], r"hooks: .*failed \(exit code 3\)"
    elif case == "hanging":
        pre_kill, logged = [bad_hook("hang", "bad")], r"still running at the kill deadline"
    elif case == "daemon":
        pre_kill, seen = [bad_hook("daemon", "bad")], r"^hook bad daemon pid="
    elif case == "megabytes":
        pre_kill, seen = [bad_hook("spew", "bad", "16")], r"^hook bad spewed$"
    hooks = [arg for text in pre_kill for arg in ("--pre-kill", text)]
    if case != "hanging":
        hooks += ["--pre-kill", bad_hook("ok", "after")]
    run = start_init("--stop-timeout", str(HOOK_STOP), "--hook-timeout", "1.5", "--hooks-dir", hooks_dir, *hooks,
                     "--", *probe("--exit-on", "TERM=7"))
    run.out.expect(r"^main ready")
    sent = time.monotonic()
    run.signal(signal.SIGTERM)
    if seen:
        run.out.expect(seen)
    if case != "hanging":
        run.out.expect(r"^hook after ran")
    finish(run, sent, HOOK_STOP, f"hook: {case}", figures, code=7)
    if logged:
        run.log.expect(logged)
    if case == "daemon":
        # The hook forked it and exited; finish() found nothing of the run left, and this says why
        # (looking it up after its "pid=" line raced the sweep, which may come at once).
        run.log.expect(r"^sm-init: kill: SIGKILL to [1-9]")


def test_hook_killed_by_sigkill_from_outside(start_init, figures, hooks_dir):
    """A hook dies of SIGKILL from outside: logged as failed, the next hook still runs, code kept."""
    run = start_init("--stop-timeout", str(HOOK_STOP), "--hook-timeout", "2", "--hooks-dir", hooks_dir,
                     "--pre-kill", bad_hook("hang", "victim"), "--pre-kill", bad_hook("ok", "next"),
                     "--", *probe("--exit-on", "TERM=7"))
    run.out.expect(r"^main ready")
    sent = time.monotonic()
    run.signal(signal.SIGTERM)
    run.out.expect(r"^hook victim hanging pid=")
    find_process(run, "misbehaving_hook.py", "hang", "victim").kill()
    run.out.expect(r"^hook next ran")
    finish(run, sent, HOOK_STOP, "hook killed by SIGKILL", figures, code=7)
    run.log.expect(r"hooks: .*hang victim failed \(killed by SIGKILL\)")
