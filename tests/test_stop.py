"""The stop sequence over real process trees, as PID 1 of a PID namespace and as subreaper.

Each test starts the real sm-init with short budgets (--stop-timeout 4-30 s), waits for ready lines,
stops it the way Docker does (SIGTERM to sm-init) and checks what survived, what the hook saw, the
exit code and that sm-init was gone before its stop timeout: trainers that save or ignore SIGTERM,
launchers whose workers left the group, leftovers after the main child exited, --max-runtime, a
stopped trainer, a stop signal --rewrite drops. Timing bounds are generous: the machines are
noisy, precise timing belongs to bench/. The hooks themselves have their own file, test_hooks.py.
"""

import json
import re
import signal
import time
import uuid

import pytest

from helpers.commands import child, cmd, hook, probe
from helpers.deadline import assert_on_time, exit_line, stop, wait
from helpers.procfs import process_state, wait_until


def tree(*args):
    """argv of tree.py: a launcher and its workers."""
    return child("tree.py", *args)


def lines_index(lines, pattern):
    for index, line in enumerate(lines):
        if re.search(pattern, line):
            return index
    raise AssertionError(f"no line matching {pattern!r} in {lines}")


# ---------------------------------------------------------------------------------------------
# A trainer that saves on SIGTERM; a trainer that ignores it

def test_checkpointing_trainer_is_followed_at_once_and_the_hook_saves_its_checkpoint(start_init, tmp_path, ml,
                                                                                   hooks_dir):
    ckpt = tmp_path / "ckpt" / "last.ckpt"
    ckpt.parent.mkdir()
    trainer = probe("--exit-on", "TERM=7", "--write", str(ckpt))
    init = start_init("--ml-root", str(ml), "--hooks-dir", hooks_dir, "--stop-timeout", "30",
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
                                                                                hooks_dir):
    token = "trainer-" + uuid.uuid4().hex
    record = tmp_path / "hook.json"
    stop_timeout = 8.0  # hooks get 4 s: a Python hook can start slowly on a loaded machine
    init = start_init("--hooks-dir", hooks_dir, "--stop-timeout", str(stop_timeout), "--hook-timeout", "4",
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
def test_setsid_workers_and_a_double_forked_daemon_are_all_gone(start_init, hooks_dir, launcher_on_term,
                                                                code):
    stop_timeout = 8.0  # the launcher gets ~5 s to exit on SIGTERM, even on a loaded machine
    init = start_init("--hooks-dir", hooks_dir, "--stop-timeout", str(stop_timeout), "--",
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
# The main child exits first

@pytest.mark.parametrize("stubborn", [False, True])
def test_leftovers_after_the_main_child_exits(start_init, hooks_dir, stubborn):
    leftover_grace = 1.0 if stubborn else 30.0
    workers = ["--worker", "setsid,uploader,exit", "--worker", "group,loader,exit"]
    if stubborn:
        workers += ["--worker", "daemon,sshd,ignore"]
    init = start_init("--hooks-dir", hooks_dir, "--leftover-grace", str(leftover_grace), "--",
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


def test_stop_during_the_leftover_grace_keeps_the_budget(start_init, hooks_dir):
    init = start_init("--hooks-dir", hooks_dir, "--leftover-grace", "60", "--stop-timeout", "4", "--",
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

def test_max_runtime_stops_the_job(start_init, tmp_path, hooks_dir):
    record = tmp_path / "hook.json"
    init = start_init("--hooks-dir", hooks_dir, "--max-runtime", "1", "--stop-timeout", "5",
                      "--pre-kill", hook("--record", str(record)), "--", *probe("--exit-on", "TERM=0"))
    init.out.expect(r"^main ready")
    init.out.expect(r"^main got SIGTERM")
    assert wait(init) == 0
    assert init.ended - init.started < 15
    init.log.expect(r"stop: --max-runtime 1s reached")
    assert json.loads(record.read_text())["env"]["SM_INIT_REASON"] == "max-runtime"


# ---------------------------------------------------------------------------------------------
# A stopped trainer, and a stop signal that --rewrite drops

def test_a_trainer_stopped_by_sigtstp_still_saves_on_a_stop(start_init, hooks_dir, tmp_path):
    """A forwarded SIGTSTP stops the trainer and the child it waits for (the default action); the
    stop's SIGCONT lets them go on, so the trainer acts on its SIGTERM (as systemd does) instead of
    sleeping through the grace into the SIGKILL."""
    saved = tmp_path / "checkpoint"
    trainer = f'trap "echo saved > {saved}; exit 0" TERM; echo ready; while :; do sleep 0.1; done'
    init = start_init("--hooks-dir", hooks_dir, "--stop-timeout", "20", "--", "sh", "-c", trainer)
    init.out.expect(r"^ready$")
    init.signal(signal.SIGTSTP)
    shell = next(p for p in init.survivors() if p.cmdline()[:2] == ["sh", "-c"])
    # The TSTP stopped the shell, or the child it is forking: dash forks with vfork, and a child
    # stopped before its exec holds the shell in the kernel (state D) until it goes on.
    wait_until(lambda: "T" in [process_state(p) for p in [shell.pid, *(c.pid for c in shell.children())]],
               f"the shell {shell.pid} or a child of it stopped")
    sent = stop(init)
    assert wait(init) == 0
    assert init.ended - sent < 5                 # long before the grace ends (at about 12 s)
    assert saved.read_text() == "saved\n"


def test_a_stop_signal_rewritten_to_0_starts_no_stop(start_init, hooks_dir):
    init = start_init("-v", "--hooks-dir", hooks_dir, "--stop-timeout", "4", "--rewrite", "INT=0", "--",
                      *probe("--exit-on", "TERM=0"))
    init.out.expect(r"^main ready")
    init.signal(signal.SIGINT)                 # dropped: nothing forwarded, nothing starts
    init.signal(signal.SIGUSR1)                # a barrier: handled after the SIGINT (sigwait takes the lowest)
    # sm-init's own account of both signals before anything is counted: the child's output and
    # sm-init's log are two pipes read by two threads, so the child's line proves nothing about what
    # the log reader has seen yet. A stop the SIGINT started would be logged between these two lines.
    init.log.expect(r"^sm-init: forward: SIGINT -> nothing \(dropped by --rewrite\)")
    init.log.expect(r"^sm-init: forward: SIGUSR1 -> SIGUSR1 to ")
    init.out.expect(r"^main got SIGUSR1$")
    assert init.out.count(r"^main got SIGINT") == 0
    assert init.log.count(r"^sm-init: stop:") == 0, init.log.text
    sent = stop(init)                          # the next stop signal starts a normal stop
    assert wait(init) == 0
    assert init.ended - sent < 4
    init.out.expect(r"^main got SIGTERM$")
    init.log.expect(r"^sm-init: stop: SIGTERM; grace until")
    assert "killed" not in exit_line(init).split(";")[1]
