"""Hardening (issue 6): floods, storms, races, failing hooks, internal faults, fds and bad input.

Every test runs sm-init for real through the ``start_init`` fixture, as PID 1 of a fresh PID
namespace and as child subreaper. Children are tests/probe.py and tests/children/hard_*.py. Each
test records its figures with ``figures(...)`` (tests/reliability.py): ``python tests/reliability.py``
turns them into tests/RELIABILITY.md. Deadlines are checked against the stop timeout with a
little slack for the test's own observation delay on a loaded machine, never to the millisecond.
"""

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

import psutil
import pytest

import reliability

HERE = os.path.dirname(os.path.abspath(__file__))
CHILDREN = os.path.join(HERE, "children")
SM_INIT = os.path.join(os.path.dirname(sys.executable), "sm-init")
TIMEOUT = 60.0
SLACK = 1.0          # the test's own delay between sm-init's exit and seeing it, on a noisy 2-core VM
O_CLOEXEC = 0o2000000
EXIT_LINE = r"^sm-init: exit: (\d+) "


def probe(*args):
    return [sys.executable, os.path.join(HERE, "probe.py"), *args]


def child(name, *args):
    return [sys.executable, os.path.join(CHILDREN, name), *args]


def cmd(argv):
    """A --pre-kill CMD string."""
    return shlex.join(argv)


@pytest.fixture
def figures(mode, request):
    """figures(name, **values): record this test's figures for RELIABILITY.md."""
    def add(name, **values):
        reliability.record(name, mode, test=request.node.name, **values)
    return add


@pytest.fixture
def hooks_dir(tmp_path):
    """An empty hooks dir: the machine's own /etc/sm-init/pre-kill.d must not join the tests."""
    path = tmp_path / "pre-kill.d"
    path.mkdir()
    return str(path)


# --- /proc helpers ---------------------------------------------------------------------------------

def proc_status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def rss_kib(pid):
    return int(proc_status(pid)["VmRSS"].split()[0])


def children_of(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def zombies_among(pids):
    count = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    count += 1
        except (FileNotFoundError, ProcessLookupError):
            pass
    return count


def wait_until(condition, what, timeout=TIMEOUT, interval=0.005):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        time.sleep(interval)


def blocks_signals(pid):
    """sm-init has blocked its signals. SIGUSR1 too, not just SIGTERM: unshare's forked child
    (before it execs sm-init, already PID 1) briefly blocks SIGINT and SIGTERM, and a SIGTERM that
    waits there is dropped by the kernel once unblocked, PID 1 having no handler for it."""
    wanted = (1 << (signal.SIGTERM - 1)) | (1 << (signal.SIGUSR1 - 1))
    try:
        return int(proc_status(pid)["SigBlk"], 16) & wanted == wanted
    except (FileNotFoundError, ProcessLookupError, KeyError):
        return False


def run_process(run, script, *args):
    """The host view of a live process of this run (its env marker) running ``python SCRIPT ARGS``."""
    for process in run.survivors():
        try:
            argv = process.cmdline()
            if len(argv) >= 2 and os.path.basename(argv[1]) == script and argv[2:] == list(args):
                return process
        except psutil.NoSuchProcess:
            pass
    raise AssertionError(f"no live process of this run runs {script} {' '.join(args)}")


def finish(run, since, limit, scenario, figures, code=None):
    """Wait for sm-init; check the deadline, the code and that nothing is left; record it all."""
    actual = run.wait()
    elapsed = run.ended - since
    left = run.survivors()
    figures(scenario, elapsed=round(elapsed, 3), limit=limit, code=actual, left=len(left))
    assert not left, f"{scenario}: left running: {[p.cmdline() for p in left]}"
    assert elapsed <= limit + SLACK, f"{scenario}: took {elapsed:.2f}s, deadline {limit}s\n{run.log.text}"
    if code is not None:
        assert actual == code, f"{scenario}: exit {actual}, wanted {code}\n{run.log.text}"
    assert "Traceback" not in run.log.text
    return actual


def stop_line(run):
    return run.log.expect(r"^sm-init: stop: SIGTERM; ", timeout=TIMEOUT)


# --- zombie flood -------------------------------------------------------------------------------

FLOOD = 10_000


@pytest.fixture(scope="session")
def flood_spawner(tmp_path_factory):
    """hard_flood.c compiled, or None (then hard_flood.py forks from Python: same test, slower)."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if not compiler:
        return None
    binary = str(tmp_path_factory.mktemp("flood") / "hard_flood")
    result = subprocess.run([compiler, "-O2", "-o", binary, os.path.join(CHILDREN, "hard_flood.c")],
                            capture_output=True, text=True)
    return binary if result.returncode == 0 else None


def test_zombie_flood_of_10000_orphans_is_reaped_and_memory_stays_flat(start_init, figures, flood_spawner,
                                                                        hooks_dir):
    """10,000 orphans adopted by sm-init exit at once: all reaped within seconds, none left a zombie.

    The orphans are alive children of sm-init first (counted), then exit together when the last
    write end of their pipe closes. The drain time (release to the last one reaped) bounds how
    long any of them stayed a zombie. sm-init's resident memory is compared before and after.
    """
    run = start_init("--stop-timeout", "5", "--hooks-dir", hooks_dir, "--",
                     *child("hard_flood.py", str(FLOOD), *([flood_spawner] if flood_spawner else [])))
    run.out.expect(r"^flood ready pid=")
    pid = run.pid
    rss_before = rss_kib(pid)
    run.signal(signal.SIGUSR1)
    run.out.expect(rf"^flood alive {FLOOD}$", timeout=300)
    wait_until(lambda: len(children_of(pid)) >= FLOOD + 1, "every orphan adopted by sm-init", timeout=60)
    adopted = len(children_of(pid)) - 1
    run.signal(signal.SIGUSR1)  # the orphans ignore it; the flood child releases them
    released = float(run.out.expect(r"^flood released at=([\d.]+)").group(1))
    wait_until(lambda: len(children_of(pid)) <= 1, "every orphan reaped", timeout=120, interval=0.002)
    drained = time.monotonic() - released
    left = children_of(pid)
    zombies = zombies_among(left)
    rss_after = rss_kib(pid)
    run.signal(signal.SIGTERM)
    code = run.wait()
    figures("zombie_flood", orphans=adopted, reaped=adopted - (len(left) - 1), zombies_left=zombies,
            drain_seconds=round(drained, 3), rss_before_kib=rss_before, rss_after_kib=rss_after,
            spawner="c" if flood_spawner else "python")
    assert adopted == FLOOD
    assert zombies == 0 and len(left) == 1, f"left below sm-init: {left}"
    assert drained < 30, f"10,000 orphans took {drained:.1f}s to be reaped"
    assert rss_after - rss_before < 10 * 1024, f"sm-init grew from {rss_before} KiB to {rss_after} KiB"
    assert code == 128 + signal.SIGTERM, run.log.text
    assert run.survivors() == []


# --- signal storm -------------------------------------------------------------------------------

STORM = 100_000
COUNTS = r"^counter usr1=(\d+) usr2=(\d+) hup=(\d+) winch=(\d+)$"


def test_signal_storm_then_a_full_stop_on_time(start_init, figures, hooks_dir):
    """100,000 USR1/USR2/HUP/WINCH at sm-init from a helper; then a USR1 still arrives and SIGTERM
    runs grace, the hook and the SIGKILL sweep within the stop timeout."""
    stop_timeout = 5.0
    run = start_init("--stop-timeout", str(stop_timeout), "--hook-timeout", "1.5", "--hooks-dir", hooks_dir,
                     "--pre-kill", cmd(child("hard_hook.py", "ok", "storm")), "--", *child("hard_counter.py"))
    run.out.expect(r"^counter ready pid=")
    pid = run.pid
    storm = subprocess.run(child("hard_storm.py", str(pid), str(STORM)), capture_output=True, text=True,
                           timeout=TIMEOUT)
    sent, seconds = re.search(r"storm sent=(\d+) seconds=([\d.]+)", storm.stdout).groups()
    survived = run.process.poll() is None and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    # PWR is higher than every storm signal: when it arrives, nothing of the storm is still pending.
    run.signal(signal.SIGPWR)
    before = [int(n) for n in run.out.expect(COUNTS).groups()]
    run.signal(signal.SIGUSR1)
    run.signal(signal.SIGPWR)
    after = [int(n) for n in run.out.expect(COUNTS).groups()]
    final_forwarded = after[0] == before[0] + 1

    stopped = time.monotonic()
    run.signal(signal.SIGTERM)
    run.out.expect(r"^counter got SIGTERM$")
    run.out.expect(r"^hook storm ran pid=")
    code = finish(run, stopped, stop_timeout, "stop after a signal storm", figures, code=128 + signal.SIGKILL)
    figures("signal_storm", sent=int(sent), send_seconds=float(seconds), survived=survived,
            child_counted=sum(before), final_forwarded=final_forwarded, stop_seconds=round(run.ended - stopped, 3),
            stop_timeout=stop_timeout)
    assert int(sent) == STORM and survived
    assert final_forwarded, (before, after)
    assert sum(before) > 0
    assert run.log.count(r"^sm-init: kill: SIGKILL") == 1
    assert code == 137


# --- races --------------------------------------------------------------------------------------

RACE_STOP = 3.0


@pytest.mark.parametrize("delay", [None, 0.0, 0.002, 0.01, 0.05])
def test_race_sigterm_before_and_while_the_child_is_spawned(start_init, mode, figures, hooks_dir, delay):
    """SIGTERM as early as it can matter: right after exec (delay None, subreaper only: sm-init may
    not have blocked signals yet and dies of it, having started nothing), or as soon as sm-init
    blocks SIGTERM plus a delay that lands before, during or just after the spawn."""
    if delay is None and mode == "pid1":
        pytest.skip("as PID 1 the kernel drops a SIGTERM sent before sm-init blocks it (no handler yet)")
    run = start_init("--stop-timeout", str(RACE_STOP), "--hooks-dir", hooks_dir, "--",
                     *probe("--exit-on", "TERM=0"))
    if delay is None:
        sent = time.monotonic()
        os.kill(run.process.pid, signal.SIGTERM)
    else:
        pid = run.pid
        wait_until(lambda: blocks_signals(pid), "sm-init blocks its signals", interval=0.0005)
        if delay == 0.0:
            # until then a SIGTERM kills sm-init (subreaper) or, as PID 1, is dropped by the kernel
            figures("start_block_window", seconds=round(time.monotonic() - run.started, 4))
        if delay:
            time.sleep(delay)  # the race itself, not synchronisation
        sent = time.monotonic()
        run.signal(signal.SIGTERM)
    code = finish(run, sent, RACE_STOP, "SIGTERM at spawn", figures)
    # -15: killed before it blocked signals (nothing started); 0: the probe's handler exited;
    # 143: the forwarded SIGTERM came before the probe's handler was installed.
    assert code in ((-15, 0, 143) if delay is None else (0, 143)), run.log.text
    if code != -15:
        assert re.match(EXIT_LINE, run.log.seen[-1]), run.log.text


@pytest.mark.parametrize("order", ["term-then-exit", "exit-then-term"])
def test_race_sigterm_in_the_same_instant_the_child_exits(start_init, figures, hooks_dir, order):
    """The main child's exit and SIGTERM arrive together, in both orders: the child's code wins."""
    run = start_init("--stop-timeout", str(RACE_STOP), "--hooks-dir", hooks_dir,
                     "--pre-kill", cmd(child("hard_hook.py", "ok", "race")), "--",
                     *child("hard_exit_race.py", order, "3"))
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
                     "--pre-kill", cmd(child("hard_hook.py", "hang", "slow")), "--", *probe("--exit", "3"))
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
        main, hook, code = probe(), child("hard_hook.py", "ok", "late"), 128 + signal.SIGKILL
    else:
        main, hook, code = probe("--exit-on", "TERM=0"), child("hard_hook.py", "hang", "slow"), 0
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
                     "--pre-kill", cmd(child("hard_hook.py", "ok", "after")), "--",
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


def test_race_hook_killed_by_sigkill(start_init, figures, hooks_dir):
    """A hook dies of SIGKILL from outside: logged as failed, the next hook still runs, code kept."""
    run = start_init("--stop-timeout", str(RACE_STOP), "--hook-timeout", "2", "--hooks-dir", hooks_dir,
                     "--pre-kill", cmd(child("hard_hook.py", "hang", "victim")),
                     "--pre-kill", cmd(child("hard_hook.py", "ok", "next")), "--", *probe("--exit-on", "TERM=7"))
    run.out.expect(r"^main ready")
    sent = time.monotonic()
    run.signal(signal.SIGTERM)
    run.out.expect(r"^hook victim hanging pid=")
    run_process(run, "hard_hook.py", "hang", "victim").kill()
    run.out.expect(r"^hook next ran")
    finish(run, sent, RACE_STOP, "hook killed by SIGKILL", figures, code=7)
    run.log.expect(r"hooks: .*hang victim failed \(killed by SIGKILL\)")


# --- hooks that misbehave -----------------------------------------------------------------------

HOOK_STOP = 3.0


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
        (tmp_path / "pre-kill.d" / "10-plain").write_text("#!/bin/sh\necho never\n")
        logged = r"hooks: skipping .*10-plain: not an executable file"
    elif case == "non-zero":
        pre_kill, logged = [cmd(child("hard_hook.py", "fail", "bad", "3"))], r"hooks: .*failed \(exit code 3\)"
    elif case == "hanging":
        pre_kill, logged = [cmd(child("hard_hook.py", "hang", "bad"))], r"still running at the kill deadline"
    elif case == "daemon":
        pre_kill, seen = [cmd(child("hard_hook.py", "daemon", "bad"))], r"^hook bad daemon pid="
    elif case == "megabytes":
        pre_kill, seen = [cmd(child("hard_hook.py", "spew", "bad", "16"))], r"^hook bad spewed$"
    hooks = [arg for text in pre_kill for arg in ("--pre-kill", text)]
    if case != "hanging":
        hooks += ["--pre-kill", cmd(child("hard_hook.py", "ok", "after"))]
    run = start_init("--stop-timeout", str(HOOK_STOP), "--hook-timeout", "1.5", "--hooks-dir", hooks_dir, *hooks,
                     "--", *probe("--exit-on", "TERM=7"))
    run.out.expect(r"^main ready")
    sent = time.monotonic()
    run.signal(signal.SIGTERM)
    if seen:
        run.out.expect(seen)
    if case == "daemon":
        daemon = run_process(run, "hard_hook.py", "daemon", "bad")
    if case != "hanging":
        run.out.expect(r"^hook after ran")
    finish(run, sent, HOOK_STOP, f"hook: {case}", figures, code=7)
    if logged:
        run.log.expect(logged)
    if case == "daemon":
        assert not daemon.is_running() or daemon.status() == psutil.STATUS_ZOMBIE
        run.log.expect(r"^sm-init: kill: SIGKILL to [1-9]")


# --- internal faults ----------------------------------------------------------------------------

USR1, TERM = signal.SIGUSR1, signal.SIGTERM
TREE = probe("--group-child", "--setsid-child")
FAULTS = {
    # where it raises: (signals sent to sm-init, each after the main child reported the one before; main child)
    "spawn.spawn:1": ((), probe()),
    "reap.reap_children:1": ((USR1,), TREE),
    "reap.reap_children:2": ((USR1, USR1), TREE),
    "signals.send:1": ((USR1,), TREE),
    "plan.on_signal:1:MemoryError": ((TERM,), TREE),
    "hooks.discover:1": ((TERM,), TREE),
    "sweep.sweep:1": ((USR1,), probe("--setsid-child", "--exit-on", "USR1=0")),
    "plan.summary:1:KeyboardInterrupt": ((TERM,), probe("--exit-on", "TERM=0")),
}


@pytest.mark.parametrize("where", list(FAULTS))
def test_internal_fault_is_logged_once_the_tree_killed_exit_70(start_init, figures, hooks_dir, monkeypatch, where):
    """An exception injected into sm-init (hard_sm-init.py patches one function to raise on its Nth
    call; the production code is unchanged): one error line, every process killed, exit 70."""
    triggers, main = FAULTS[where]
    monkeypatch.setitem(start_init.__globals__, "SM_INIT", sys.executable)
    stop_timeout = 3.0
    run = start_init(os.path.join(CHILDREN, "hard_sm-init.py"), f"fault={where}", "--",
                     "--stop-timeout", str(stop_timeout), "--hooks-dir", hooks_dir, "--", *main)
    sent = time.monotonic()
    if triggers:
        run.out.expect(r"^main ready")
        if "--setsid-child" in main:
            run.out.expect(r"^escaped ready")
        if "--group-child" in main:
            run.out.expect(r"^grandchild ready")
    for index, trigger in enumerate(triggers):
        if index:
            run.out.expect(rf"^main got {signal.Signals(triggers[index - 1]).name}")
        sent = time.monotonic()
        run.signal(trigger)
    run.log.expect(r"^sm-init: error: internal error: \w+: ")
    code = run.wait()
    elapsed = run.ended - sent
    left = run.survivors()
    errors = run.log.count(r"^sm-init: error: ")
    figures("injected internal fault", where=where, code=code, error_lines=errors, left=len(left),
            elapsed=round(elapsed, 3), limit=stop_timeout)
    assert code == 70, run.log.text
    assert errors == 1, run.log.text
    assert not left, [p.cmdline() for p in left]
    assert "Traceback" not in run.log.text
    assert elapsed <= stop_timeout + SLACK
    if where.startswith("spawn."):
        assert run.out.drain() == []


# --- file descriptors ---------------------------------------------------------------------------

def test_only_inherited_fds_reach_the_child_and_hooks(start_init, figures, hooks_dir, monkeypatch):
    """sm-init started with an extra inherited fd 5: the child and a hook see 0, 1, 2 and 5 only,
    and every fd sm-init opened itself is close-on-exec."""
    monkeypatch.setitem(start_init.__globals__, "SM_INIT", sys.executable)
    run = start_init(os.path.join(CHILDREN, "hard_sm-init.py"), "fd=5", "--",
                     "--stop-timeout", "4", "--hooks-dir", hooks_dir,
                     "--pre-kill", cmd(child("hard_hook.py", "fds", "hook")), "--",
                     *child("hard_hook.py", "fds", "main", "stay"))
    child_fds = run.out.expect(r"^fds main ([\d,]+)$").group(1)
    pid = run.pid
    own, not_cloexec = [], []
    for entry in os.listdir(f"/proc/{pid}/fd"):
        fd = int(entry)
        if fd in (0, 1, 2, 5):
            continue
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                flags = int(re.search(r"^flags:\s+(\d+)", f.read(), re.M).group(1), 8)
        except FileNotFoundError:
            continue
        own.append(fd)
        if not flags & O_CLOEXEC:
            not_cloexec.append((fd, os.readlink(f"/proc/{pid}/fd/{fd}")))
    sent = time.monotonic()
    run.signal(signal.SIGTERM)
    hook_fds = run.out.expect(r"^fds hook ([\d,]+)$").group(1)
    finish(run, sent, 4.0, "stop with an inherited fd", figures, code=0)
    figures("file_descriptors", child_fds=child_fds, hook_fds=hook_fds, sm_init_fds=len(own),
            not_cloexec=len(not_cloexec))
    assert child_fds == "0,1,2,5"
    assert hook_fds == "0,1,2,5"
    assert not not_cloexec, not_cloexec


# --- bad input ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def readonly_dir(tmp_path_factory):
    """A directory on a read-only bind mount (root ignores permission bits, not EROFS)."""
    path = tmp_path_factory.mktemp("readonly")
    mounted = (subprocess.run(["mount", "--bind", str(path), str(path)], capture_output=True).returncode == 0
               and subprocess.run(["mount", "-o", "remount,bind,ro", str(path)], capture_output=True).returncode == 0)
    yield str(path) if mounted else None
    if mounted:
        subprocess.run(["umount", str(path)], check=True)


@pytest.fixture(scope="module")
def plain_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("plain") / "a-file"
    path.write_text("not a directory\n")
    return str(path)


TIMES = ["--stop-timeout", "--hook-timeout", "--max-runtime", "--leftover-grace"]
GARBAGE_SECONDS = ["-1", "nan", "inf", "-inf", "1e400", "", "ten", "1e9", b"\xff\xfe"]
# (case id, option named in the message, args before --, env, value shown in the message)
BAD = [(f"{opt}={val!r}", opt, [opt.encode(), val] if isinstance(val, bytes) else [opt, val], {},
        val.decode("utf-8", "surrogateescape") if isinstance(val, bytes) else val)
       for opt in TIMES for val in GARBAGE_SECONDS]
BAD += [
    ("--stop-timeout=0", "--stop-timeout", ["--stop-timeout", "0"], {}, "0"),
    ("--max-runtime=0", "--max-runtime", ["--max-runtime", "0"], {}, "0"),
    ("--hook-timeout>stop", "--hook-timeout", ["--stop-timeout", "4", "--hook-timeout", "4"], {}, "4"),
    ("--signal-scope=bogus", "--signal-scope", ["--signal-scope", "bogus"], {}, "bogus"),
    ("--signal-scope=empty", "--signal-scope", ["--signal-scope", ""], {}, "''"),
    ("--hooks-on=never", "--hooks-on", ["--hooks-on", "never"], {}, "never"),
    ("--rewrite=TERM", "--rewrite", ["--rewrite", "TERM"], {}, "TERM"),
    ("--rewrite==QUIT", "--rewrite", ["--rewrite", "=QUIT"], {}, "=QUIT"),
    ("--rewrite=FOO=TERM", "--rewrite", ["--rewrite", "FOO=TERM"], {}, "FOO"),
    ("--rewrite=TERM=BAR", "--rewrite", ["--rewrite", "TERM=BAR"], {}, "BAR"),
    ("--rewrite=999=TERM", "--rewrite", ["--rewrite", "999=TERM"], {}, "999"),
    ("--rewrite=0=TERM", "--rewrite", ["--rewrite", "0=TERM"], {}, "0=TERM"),
    ("--rewrite=TERM=-1", "--rewrite", ["--rewrite", "TERM=-1"], {}, "-1"),
    ("--rewrite=bytes", "--rewrite", [b"--rewrite", b"TERM=\xff"], {}, "\udcff"),
    ("--pre-kill=unbalanced", "--pre-kill", ["--pre-kill", 'echo "unbalanced'], {}, 'echo "unbalanced'),
    ("--pre-kill=empty", "--pre-kill", ["--pre-kill", ""], {}, "empty command"),
    ("--train=unbalanced", "--train", ["--train", "python 'x"], {}, "python 'x"),
    ("--serve=empty", "--serve", ["--serve", "   "], {}, "empty command"),
    ("SM_INIT_SERVE=unbalanced, training", "SM_INIT_SERVE", ["--ml-root", "{tmp}"], {"SM_INIT_SERVE": "serve 'x"},
     "serve 'x"),
    ("--hooks-dir=file", "--hooks-dir", ["--hooks-dir", "{file}"], {}, "{file}"),
    ("--hooks-dir=empty", "--hooks-dir", ["--hooks-dir", ""], {}, "empty path"),
    ("--ml-root=file", "--ml-root", ["--ml-root", "{file}"], {}, "{file}"),
    ("--ml-root=empty", "--ml-root", ["--ml-root", ""], {}, "empty path"),
    ("--bogus", "--bogus", ["--bogus"], {}, "--bogus"),
    ("--stop-timeout missing value", "--stop-timeout", ["--stop-timeout"], {}, "--stop-timeout"),
    ("SM_INIT_STOP_TIMEOUT=nan", "SM_INIT_STOP_TIMEOUT", [], {"SM_INIT_STOP_TIMEOUT": "nan"}, "nan"),
    ("SM_INIT_HOOK_TIMEOUT=1e400", "SM_INIT_HOOK_TIMEOUT", [], {"SM_INIT_HOOK_TIMEOUT": "1e400"}, "1e400"),
    ("SM_INIT_MAX_RUNTIME=-5", "SM_INIT_MAX_RUNTIME", [], {"SM_INIT_MAX_RUNTIME": "-5"}, "-5"),
    ("SM_INIT_LEFTOVER_GRACE=inf", "SM_INIT_LEFTOVER_GRACE", [], {"SM_INIT_LEFTOVER_GRACE": "inf"}, "inf"),
    ("SM_INIT_STOP_TIMEOUT=bytes", "SM_INIT_STOP_TIMEOUT", [], {b"SM_INIT_STOP_TIMEOUT": b"\xff1"}, "\udcff1"),
    ("SM_INIT_SIGNAL_SCOPE=pgrp", "SM_INIT_SIGNAL_SCOPE", [], {"SM_INIT_SIGNAL_SCOPE": "pgrp"}, "pgrp"),
    ("SM_INIT_HOOKS_ON=sometimes", "SM_INIT_HOOKS_ON", [], {"SM_INIT_HOOKS_ON": "sometimes"}, "sometimes"),
    ("SM_INIT_REWRITE=TERM", "SM_INIT_REWRITE", [], {"SM_INIT_REWRITE": "TERM"}, "TERM"),
    ("SM_INIT_REWRITE=SIGFOO=TERM", "SM_INIT_REWRITE", [], {"SM_INIT_REWRITE": "SIGFOO=TERM"}, "SIGFOO"),
    ("SM_INIT_PRE_KILL=unbalanced", "SM_INIT_PRE_KILL", [], {"SM_INIT_PRE_KILL": "save 'it"}, "save 'it"),
    ("SM_INIT_PRE_KILL=bytes", "SM_INIT_PRE_KILL", [], {b"SM_INIT_PRE_KILL": b"save '\xff"}, "\udcff"),
    ("SM_INIT_TRAIN=unbalanced", "SM_INIT_TRAIN", [], {"SM_INIT_TRAIN": 'python "x'}, 'python "x'),
    ("SM_INIT_HOOKS_DIR=file", "SM_INIT_HOOKS_DIR", [], {"SM_INIT_HOOKS_DIR": "{file}"}, "{file}"),
    ("SM_INIT_ML_ROOT=file", "SM_INIT_ML_ROOT", [], {"SM_INIT_ML_ROOT": "{file}"}, "{file}"),
    ("SM_INIT_VERBOSE=lots", "SM_INIT_VERBOSE", [], {"SM_INIT_VERBOSE": "lots"}, "lots"),
    ("SM_INIT_QUIET=perhaps", "SM_INIT_QUIET", [], {"SM_INIT_QUIET": "perhaps"}, "perhaps"),
]
# The option's name as the message may give it: the option itself, or the variable it came from.
ALIASES = {"SM_INIT_" + o[2:].upper().replace("-", "_"): o for o in
           TIMES + ["--signal-scope", "--hooks-on", "--rewrite", "--pre-kill", "--train", "--serve",
                    "--hooks-dir", "--ml-root"]}
ALIASES.update(SM_INIT_VERBOSE="--verbose", SM_INIT_QUIET="--quiet")


def shown(value):
    """How a value may appear in the one line: as is, or as Python's repr (non-UTF-8 escaped)."""
    return {value, repr(value)[1:-1], value.encode("utf-8", "backslashreplace").decode(),
            repr(value).encode("utf-8", "backslashreplace").decode()[1:-1]}


@pytest.mark.parametrize("case,option,args,env,value", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused_with_one_line(start_init, figures, tmp_path, plain_file, readonly_dir,
                                            case, option, args, env, value):
    """Garbage in any option or variable: one line naming the option and the value, exit 2,
    nothing started, no traceback."""
    if "{readonly}" in repr(args) + repr(env) and readonly_dir is None:
        pytest.skip("no read-only bind mount here (needs root and mount)")

    def fill(text):
        if isinstance(text, bytes):
            return text
        return (text.replace("{file}", plain_file).replace("{readonly}", readonly_dir or "")
                .replace("{tmp}", str(tmp_path)))

    marker = tmp_path / "started"
    starts = shlex.join(["touch", str(marker)])
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SM_INIT_")}
    environ.update({k: fill(v) for k, v in env.items()})
    args = [fill(a) for a in args]
    given = {ALIASES.get(option, option)}
    # sane commands for train and serve unless the case is about them (the command line beats env)
    args = [a for name in ("--train", "--serve") if name not in given for a in (name, starts)] + args
    lower = case.lower()
    word = ("train" if "training" in lower else "serve" if "serve" in lower
            else "train" if ("train" in lower or "ml" in lower) else None)
    words = ["--", word] if word else ["--", "touch", str(marker)]
    if case.endswith("missing value"):
        words = []  # the option is the last word
    run = start_init(*args, *words, env=environ)
    code = run.wait()
    lines = [line for line in run.log.seen if line.strip()]
    text = "\n".join(lines)
    value = fill(value)
    names = {option, ALIASES.get(option, option)}
    started = marker.exists() or bool(run.out.drain())
    figures("bad_input", case=case, option=ALIASES.get(option, option), code=code, expected=2, lines=len(lines),
            traceback="Traceback" in text, started=started)
    assert "Traceback" not in text
    assert code == 2, text
    assert len(lines) == 1, text
    assert any(name in text for name in names), f"{text!r} does not name {names}"
    assert any(v in text for v in shown(value)), f"{text!r} does not show {value!r}"
    assert not started


def test_empty_environment_value_means_unset(start_init, hooks_dir):
    """``ENV SM_INIT_STOP_TIMEOUT=`` (empty) is no value at all: the default applies, as with click."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SM_INIT_")}
    environ["SM_INIT_STOP_TIMEOUT"] = ""
    run = start_init("--hooks-dir", hooks_dir, "--", *probe("--exit", "0"), env=environ)
    assert run.wait() == 0, run.log.text
    run.log.expect(r"^sm-init: start: .*stop timeout 10s\)")


# --- runtime condition: the failure file cannot be written ----------------------------------------

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
def test_unwritable_failure_file_is_a_warning_and_the_code_is_kept(start_init, figures, tmp_path, hooks_dir,
                                                                   mode, how):
    """The trainer fails with 3 and <ml-root>/output/failure cannot be written: a warning, exit 3."""
    ml_root = tmp_path / "ml"
    output = ml_root / "output"
    ml_root.mkdir()
    trainer = probe("--exit", "3")
    mounted = False
    if how == "output-is-a-file":
        output.write_text("a file where a directory should be\n")
    elif how == "output-turns-read-only":
        output.mkdir()
        trainer = child("hard_ro_output.py", str(output), "3")
        mounted = mode == "subreaper"  # as PID 1 the mount stays inside the namespace's own mount table
    else:
        output.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "sm-init-full", str(output)], check=True)
        mounted = True
        fill_up(str(output))
    try:
        run = start_init("--stop-timeout", "4", "--hooks-dir", hooks_dir, "--ml-root", str(ml_root),
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
