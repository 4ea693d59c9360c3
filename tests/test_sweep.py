"""The sweep (sm_init/sweep.py) on real process trees, as PID 1 and in subreaper mode.

Each case runs tests/helpers/children/sweeper.py as PID 1 of a fresh PID namespace: it builds the
tree, calls ``sweep.sweep`` once and reports; every member reports the signals it handles (see that
file's docstring for the tree, the SIGWINCH barrier and the forced pid reuse). In subreaper mode the
sweeping process is not PID 1 and an ``outsider`` shares the namespace without being its descendant.
The last test runs the real sm-init over a fork-happy tree that ignores SIGTERM: it must be gone by
its stop deadline.
"""

import re
import signal
import subprocess
import time

import pytest

from helpers.commands import child
from helpers.realinit import PID_NAMESPACE, Lines, require_unshare

SLACK = 1.0  # the test's own delay in seeing a process end, on a noisy 2-core VM
SEEN_SLACK = 3.0  # the same for pytest itself, starved among 2,000 dying processes and the neighbours' load

# tests/helpers/children/sweeper.py's TREE, with --spare: main's group and the member "spared" are spared.
TARGETS = {"setsid1", "deep", "stopped", "orphan", "orphan_setsid"}
SPARED = {"main", "group1", "orphan_g", "spared"}
MEMBERS = TARGETS | SPARED
IDLE, FORKERS = 2000, 30


@pytest.fixture
def sweeper():
    """sweeper(*args) -> Lines of its stdout; the namespace is torn down after the test."""
    require_unshare("sweep tests")
    runs = []

    def start(*args):
        process = subprocess.Popen(PID_NAMESPACE + child("sweeper.py", *args),
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        runs.append(process)
        return Lines(process.stdout)

    yield start
    for process in runs:
        process.kill()  # --kill-child: PID 1 of the namespace dies, and the kernel kills the rest
        process.wait(60)


def got(out, signame):
    """Tags of the members that reported `signame`, in the lines seen so far."""
    return {m.group(1) for m in (re.match(rf"^(\w+) got {signame}$", line) for line in out.seen) if m}


def exited(out):
    return {m.group(1) for m in (re.match(r"^(\w+) exited$", line) for line in out.seen) if m}


def reported(out):
    """key=value pairs of the sweeper's lines, as strings."""
    found = {}
    for line in out.seen:
        if line.startswith("sweeper "):
            found.update(re.findall(r"(\w+)=(\S+)", line))
    return found


def barrier(out, tags):
    for tag in sorted(tags):
        out.expect(rf"^{tag} got SIGWINCH$")


@pytest.mark.parametrize("then_continue", [False, True], ids=["plain", "then-continue"])
def test_sigterm_reaches_every_process_but_the_spared(sweeper, mode, then_continue):
    """setsid'd members, orphans (one setsid'd) and a deeper grandchild get SIGTERM; main's group
    (an orphan of it included) and the spared pid don't; the outsider never does. A stopped member
    acts on it only once continued: at once with then_continue, else when the test sends SIGCONT."""
    out = sweeper(mode, "tree", "TERM", "--spare", *(["--continue"] if then_continue else []))
    count = int(out.expect(r"^sweeper count=(\d+)").group(1))
    barrier(out, MEMBERS - {"stopped"} | ({"outsider"} if mode == "subreaper" else set()))
    state = out.expect(r"^sweeper stopped state=(\S+)").group(1)
    out.expect(r"^stopped got SIGWINCH$")  # after the sweeper's SIGCONT
    out.expect(r"^sweeper done")
    assert count == len(TARGETS)
    assert got(out, "SIGTERM") == TARGETS, out.text
    if then_continue:
        assert state != "T", out.text
    else:
        assert state == "T", out.text  # SIGTERM stays pending while it is stopped
        assert out.seen.index("stopped got SIGTERM") > out.seen.index("sweeper stopped state=T")


def test_pid1_without_spares_is_kill_minus_one(sweeper):
    """kill(-1) as PID 1: every process of the namespace gets it, the stopped one woken, PID 1 itself not."""
    out = sweeper("pid1", "tree", "TERM", "--continue")
    count = int(out.expect(r"^sweeper count=(\d+)").group(1))
    barrier(out, MEMBERS)
    out.expect(r"^sweeper done")
    assert count == len(MEMBERS)
    assert got(out, "SIGTERM") == MEMBERS, out.text
    assert "sweeper got SIGTERM" not in out.seen


def test_sm_inits_own_helpers_are_never_warned(sweeper, mode):
    """A helper of sm-init's (a stack dumper killed at the end of its window, not reaped yet) is
    spared by the stop's warning: as PID 1 the sweep then walks the namespace instead of kill(-1)."""
    out = sweeper(mode, "tree", "TERM", "--continue", "--helper", "deep", "--helper", "orphan")
    count = int(out.expect(r"^sweeper count=(\d+)").group(1))
    barrier(out, MEMBERS | ({"outsider"} if mode == "subreaper" else set()))
    out.expect(r"^sweeper done")
    assert count == len(MEMBERS) - 2
    assert got(out, "SIGTERM") == MEMBERS - {"deep", "orphan"}, out.text


@pytest.mark.parametrize("spare", [False, True], ids=["all", "spared"])
def test_sigkill_kills_targets_only(sweeper, mode, spare):
    out = sweeper(mode, "tree", "KILL", *(["--spare"] if spare else []))
    count = int(out.expect(r"^sweeper count=(\d+)").group(1))
    killed = TARGETS if spare else MEMBERS
    for tag in sorted(killed):
        out.expect(rf"^{tag} exited$")
    barrier(out, (MEMBERS - killed) | ({"outsider"} if mode == "subreaper" else set()))
    out.expect(r"^sweeper done")
    assert count == len(killed)
    assert exited(out) == killed, out.text


@pytest.mark.parametrize("reuse", [True, False], ids=["reused", "exited"])
def test_a_pid_reused_after_the_listing_is_not_signalled(sweeper, mode, reuse):
    """The victim is listed, then killed and reaped, and (reused) a stranger takes its very pid:
    as PID 1 a member of the spared group, in subreaper mode a child of PID 1 (no descendant). The
    sweep decides on what it reads after opening the pidfd, so the stranger gets nothing; a
    decision on the listing would have sent it SIGTERM. (exited): the pid stays free; nothing to
    signal, not counted."""
    out = sweeper(mode, "reuse", *([] if reuse else ["--no-reuse"]))
    victim = out.expect(r"^sweeper victim (\d+) reaped").group(1)
    if reuse:
        stranger = out.expect(r"^sweeper stranger pid=(\d+)").group(1)
        assert stranger == victim, f"the namespace did not hand out pid {victim} again: {out.text}"
    count = int(out.expect(r"^sweeper count=(\d+)").group(1))
    barrier(out, {"keeper", "bystander"} | ({"stranger"} if reuse else set()))
    out.expect(r"^sweeper done")
    warned = {"bystander"} if mode == "pid1" else {"bystander", "keeper"}
    assert got(out, "SIGTERM") == warned, out.text
    assert count == len(warned)


@pytest.mark.parametrize("spare", [False, True], ids=["all", "spared-main"])
def test_fork_happy_tree_is_killed_entirely(sweeper, mode, spare):
    """2,000 idle workers and 30 that keep forking (orphans among their children): one SIGKILL
    sweep leaves nothing alive but the spared main (as PID 1 with a spare: the /proc path, not
    kill(-1)), and never the outsider."""
    out = sweeper(mode, "forky", str(IDLE), str(FORKERS), *(["--spare"] if spare else []))
    out.expect(r"^sweeper left=", timeout=180)
    found = reported(out)
    assert int(found["left"]) == 0, out.text
    assert int(found["count"]) >= IDLE + FORKERS + (0 if spare else 1), out.text
    assert found["spared_alive"] == str(spare)
    assert found["outsider_alive"] == str(mode == "subreaper")


def test_fork_happy_tree_sweep_stops_at_its_deadline_clock(sweeper, mode):
    """A clock that counts its own readings, the deadline at reading 3,000 (the listing of 2,000+
    processes alone takes most of them): the sweep returns right after the first reading at or past
    the deadline, with most of the tree still alive."""
    out = sweeper(mode, "forky", str(IDLE), str(FORKERS), "--spare", "--ticks", "3000")
    out.expect(r"^sweeper left=", timeout=180)
    found = reported(out)
    assert int(found["after_deadline"]) in (1, 2), out.text  # one in the pass, one in the pass loop
    assert int(found["readings"]) <= 3000 + 2
    assert int(found["count"]) < IDLE
    assert int(found["left"]) > 0


def test_fork_happy_tree_sweep_returns_by_its_deadline(sweeper, mode):
    """50 ms on the monotonic clock for 2,000+ processes: the sweep returns by then (SLACK: this
    machine's scheduling; the return path after the last deadline check is microseconds)."""
    out = sweeper(mode, "forky", str(IDLE), str(FORKERS), "--deadline", "0.05")
    out.expect(r"^sweeper left=", timeout=180)
    found = reported(out)
    assert float(found["late_by"]) <= SLACK, out.text


@pytest.mark.parametrize("stop_timeout", [10.0])
def test_stop_of_a_fork_happy_tree_ignoring_sigterm_ends_by_the_deadline(start_init, mode, stop_timeout):
    """The trainer ignores SIGTERM, with 2,000 idle workers and 30 forking ones (all ignore it):
    grace, no hooks, the SIGKILL sweep, and sm-init is gone within the stop timeout, nothing left.
    (Before: a psutil walk of the whole table per pass, up to 20 passes, no deadline: 11-20 s.)
    sm-init's own clock (the phases of its exit line) must end within the stop timeout; seen from
    here, SEEN_SLACK more (this process waking up late on a busy machine: one run here saw 11.5 s
    against 9.2 s on sm-init's clock, the 1-minute load above 100)."""
    run = start_init("--stop-timeout", f"{stop_timeout:g}", "--hook-timeout", "0", "--",
                     *child("fork_happy.py", str(IDLE), str(FORKERS)))
    run.out.expect(r"^main ready", timeout=180)
    sent = time.monotonic()
    run.signal(signal.SIGTERM)
    code = run.wait(timeout=stop_timeout + 60)
    elapsed = run.ended - sent
    left = run.survivors()
    phases = run.log.expect(r"^sm-init: exit: .* grace ([\d.]+)s, hooks ([\d.]+)s .* kill ([\d.]+)s")
    spent = sum(float(seconds) for seconds in phases.groups())
    assert spent <= stop_timeout, run.log.text
    assert elapsed <= stop_timeout + SEEN_SLACK, f"sm-init took {elapsed:.1f}s; log: {run.log.text}"
    assert code == 128 + signal.SIGKILL, run.log.text
    run.log.expect(r"^sm-init: kill: SIGKILL to \d+ process")
    assert not left, f"{len(left)} left"
