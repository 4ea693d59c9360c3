"""Races: a SIGTERM at the worst moments, and sm-init still on time with the right exit code.

Before and while the main child is spawned, in the instant the main child exits (both orders),
during the grace sm-init gives leftovers, during the hooks that follow a failure, twice in one
stop, and a main child that exits in the middle of the grace. Real processes as PID 1 and as
subreaper; every run is timed against its deadline and recorded for tests/RELIABILITY.md.
"""

import os
import re
import signal
import time

import pytest

from helpers.commands import child, cmd, probe
from helpers.deadline import EXIT_LINE, finish
from helpers.procfs import blocks, wait_until

RACE_STOP = 3.0


# As PID 1 there is no such test: the kernel drops a SIGTERM sent to PID 1 before it blocks the
# signal (no handler yet), so nothing would happen to see.
@pytest.mark.parametrize("mode", ["subreaper"], indirect=True)
def test_race_sigterm_right_after_exec(start_init, mode, figures, hooks_dir):
    """SIGTERM right after exec, before sm-init may have blocked signals: it dies of it having
    started nothing, or it has blocked it already and runs the stop."""
    run = start_init("--stop-timeout", str(RACE_STOP), "--hooks-dir", hooks_dir, "--",
                     *probe("--exit-on", "TERM=0"))
    sent = time.monotonic()
    os.kill(run.process.pid, signal.SIGTERM)
    code = finish(run, sent, RACE_STOP, "SIGTERM at spawn", figures)
    # -15: killed before it blocked signals (finish saw nothing left); 0: the probe's handler
    # exited; 143: the forwarded SIGTERM came before the probe's handler was installed.
    assert code in (-15, 0, 143), run.log.text
    if code != -15:
        assert re.match(EXIT_LINE, run.log.seen[-1]), run.log.text


@pytest.mark.parametrize("delay", [0.0, 0.002, 0.01, 0.05])
def test_race_sigterm_while_the_child_is_spawned(start_init, figures, hooks_dir, delay):
    """SIGTERM as soon as sm-init blocks it, plus a delay that lands before, during or just after
    the spawn: the stop runs, on time."""
    run = start_init("--stop-timeout", str(RACE_STOP), "--hooks-dir", hooks_dir, "--",
                     *probe("--exit-on", "TERM=0"))
    pid = run.pid
    # SIGUSR1 too, not just SIGTERM: unshare's forked child (before it execs sm-init, already PID 1)
    # briefly blocks SIGINT and SIGTERM, and a SIGTERM that waits there is dropped by the kernel
    # once unblocked, PID 1 having no handler for it.
    wait_until(lambda: blocks(pid, signal.SIGTERM, signal.SIGUSR1), "sm-init blocks its signals", interval=0.0005)
    if delay == 0.0:
        # until then a SIGTERM kills sm-init (subreaper) or, as PID 1, is dropped by the kernel
        figures("start_block_window", seconds=round(time.monotonic() - run.started, 4))
    if delay:
        time.sleep(delay)  # the race itself, not synchronisation
    sent = time.monotonic()
    run.signal(signal.SIGTERM)
    code = finish(run, sent, RACE_STOP, "SIGTERM at spawn", figures)
    # 0: the probe's handler exited; 143: the forwarded SIGTERM came before it was installed.
    assert code in (0, 143), run.log.text
    assert re.match(EXIT_LINE, run.log.seen[-1]), run.log.text


@pytest.mark.parametrize("order", ["term-then-exit", "exit-then-term"])
def test_race_sigterm_in_the_same_instant_the_child_exits(start_init, figures, hooks_dir, order):
    """The main child's exit and SIGTERM arrive together, in both orders: the child's code wins."""
    run = start_init("--stop-timeout", str(RACE_STOP), "--hooks-dir", hooks_dir,
                     "--pre-kill", cmd(child("misbehaving_hook.py", "ok", "race")), "--",
                     *child("exit_race.py", order, "3"))
    run.out.expect(r"^race ready pid=")
    sent = time.monotonic()
    run.signal(signal.SIGUSR1)
    code = finish(run, sent, RACE_STOP, f"SIGTERM as the child exits ({order})", figures)
    # term-then-exit: the forwarded SIGTERM may still catch the child before its _exit(3)
    assert code in ((3, 143) if order == "term-then-exit" else (3,)), run.log.text
    how = "exit code 3" if code == 3 else "killed by SIGTERM"
    assert re.match(rf"{EXIT_LINE}.*main child {how}\)", run.log.seen[-1]), run.log.text


def test_race_sigterm_during_the_leftover_grace(start_init, figures, hooks_dir):
    """The main child exited; a leftover that ignores SIGTERM holds the grace; a SIGTERM then
    shortens everything to the stop timeout and the main child's code is kept."""
    run = start_init("--stop-timeout", str(RACE_STOP), "--leftover-grace", "30", "--hook-timeout", "1",
                     "--hooks-dir", hooks_dir, "--", *probe("--setsid-child", "--exit-on", "USR1=0"))
    run.out.expect(r"^main ready")
    run.out.expect(r"^escaped ready")
    run.signal(signal.SIGUSR1)
    run.out.expect(r"^escaped got SIGTERM")  # the leftover SIGTERM: grace has begun
    sent = time.monotonic()
    run.signal(signal.SIGTERM)
    finish(run, sent, RACE_STOP, "SIGTERM during the leftover grace", figures, code=0)
    run.log.expect(r"^sm-init: stop: SIGTERM during cleanup")


def test_race_sigterm_during_failure_hooks(start_init, figures, hooks_dir):
    """The main child failed and a hook runs; a SIGTERM shortens the hook's time to the stop timeout."""
    run = start_init("--stop-timeout", str(RACE_STOP), "--hook-timeout", "2", "--hooks-dir", hooks_dir,
                     "--pre-kill", cmd(child("misbehaving_hook.py", "hang", "slow")), "--", *probe("--exit", "3"))
    run.out.expect(r"^hook slow hanging pid=")
    sent = time.monotonic()
    run.signal(signal.SIGTERM)
    finish(run, sent, RACE_STOP, "SIGTERM during failure hooks", figures, code=3)
    run.log.expect(r"^sm-init: stop: SIGTERM during cleanup")
    run.log.expect(r"still running at the kill deadline: killed")


@pytest.mark.parametrize("when", ["grace", "hooks"])
def test_race_second_sigterm_changes_nothing(start_init, figures, hooks_dir, when):
    """A second SIGTERM during grace or hooks is logged and ignored: not forwarded again, the clock
    not restarted."""
    if when == "grace":
        main, hook, code = probe(), child("misbehaving_hook.py", "ok", "late"), 128 + signal.SIGKILL
    else:
        main, hook, code = probe("--exit-on", "TERM=0"), child("misbehaving_hook.py", "hang", "slow"), 0
    run = start_init("--stop-timeout", str(RACE_STOP), "--hook-timeout", "1", "--hooks-dir", hooks_dir,
                     "--pre-kill", cmd(hook), "--", *main)
    run.out.expect(r"^main ready")
    sent = time.monotonic()
    run.signal(signal.SIGTERM)
    run.out.expect(r"^main got SIGTERM")
    if when == "hooks":
        run.out.expect(r"^hook slow hanging pid=")
    run.signal(signal.SIGTERM)
    run.log.expect(r"^sm-init: stop: SIGTERM again: already stopping, ignored")
    finish(run, sent, RACE_STOP, f"second SIGTERM during {when}", figures, code=code)
    assert run.out.count(r"^main got SIGTERM") == 1


def test_race_child_exits_during_grace(start_init, figures, hooks_dir):
    """The child ignores SIGTERM, then exits on its own mid-grace: the grace ends at once, the hook
    runs, and the child's own code is the exit code."""
    stop_timeout = 6.0
    run = start_init("--stop-timeout", str(stop_timeout), "--hook-timeout", "1", "--hooks-dir", hooks_dir,
                     "--pre-kill", cmd(child("misbehaving_hook.py", "ok", "after")), "--",
                     *probe("--exit-on", "USR1=5"))
    run.out.expect(r"^main ready")
    sent = time.monotonic()
    run.signal(signal.SIGTERM)
    run.out.expect(r"^main got SIGTERM")
    run.signal(signal.SIGUSR1)
    run.out.expect(r"^hook after ran")
    finish(run, sent, stop_timeout, "child exits during grace", figures, code=5)
    # the grace would have lasted until about 4.1 s: it ended when the child did
    assert run.ended - sent < 3.5, run.log.text
