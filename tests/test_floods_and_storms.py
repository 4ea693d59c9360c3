"""Floods and storms: 10,000 orphans that exit at once, and 100,000 signals at sm-init.

sm-init reaps every orphan within seconds with flat memory, and after a storm of signals it still
forwards the next one and runs the whole stop on time. Real processes as PID 1 and as subreaper;
each test records its figures for tests/RELIABILITY.md.
"""

import os
import re
import shutil
import signal
import subprocess
import time

import psutil
import pytest

from helpers.commands import CHILDREN, child, cmd
from helpers.deadline import finish
from helpers.procfs import TIMEOUT, children_of, rss_kib, wait_until, zombies_among

FLOOD = 10_000
STORM = 100_000
COUNTS = r"^counter usr1=(\d+) usr2=(\d+) hup=(\d+) winch=(\d+)$"


@pytest.fixture(scope="session")
def flood_spawner(tmp_path_factory):
    """zombie_flood.c compiled, or None (then zombie_flood.py forks from Python: same test, slower)."""
    compiler = shutil.which("cc") or shutil.which("gcc")
    if not compiler:
        return None
    binary = str(tmp_path_factory.mktemp("flood") / "zombie_flood")
    result = subprocess.run([compiler, "-O2", "-o", binary, os.path.join(CHILDREN, "zombie_flood.c")],
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
                     *child("zombie_flood.py", str(FLOOD), *([flood_spawner] if flood_spawner else [])))
    run.out.expect(r"^flood ready pid=")
    pid = run.pid
    rss_before = rss_kib(pid)
    run.signal(signal.SIGUSR1)
    run.out.expect(rf"^flood alive {FLOOD}$", timeout=300)
    wait_until(lambda: len(children_of(pid)) >= FLOOD + 1, "every orphan adopted by sm-init", timeout=60,
               interval=0.005)
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


def test_signal_storm_then_a_full_stop_on_time(start_init, figures, hooks_dir):
    """100,000 USR1/USR2/HUP/WINCH at sm-init from a helper; then a USR1 still arrives and SIGTERM
    runs grace, the hook and the SIGKILL sweep within the stop timeout."""
    stop_timeout = 5.0
    run = start_init("--stop-timeout", str(stop_timeout), "--hook-timeout", "1.5", "--hooks-dir", hooks_dir,
                     "--pre-kill", cmd(child("misbehaving_hook.py", "ok", "storm")), "--",
                     *child("signal_counter.py"))
    run.out.expect(r"^counter ready pid=")
    pid = run.pid
    storm = subprocess.run(child("signal_storm.py", str(pid), str(STORM)), capture_output=True, text=True,
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
    finish(run, stopped, stop_timeout, "stop after a signal storm", figures, code=128 + signal.SIGKILL)
    figures("signal_storm", sent=int(sent), send_seconds=float(seconds), survived=survived,
            child_counted=sum(before), final_forwarded=final_forwarded, stop_seconds=round(run.ended - stopped, 3),
            stop_timeout=stop_timeout)
    assert int(sent) == STORM and survived
    assert final_forwarded, (before, after)
    assert sum(before) > 0
    assert run.log.count(r"^sm-init: kill: SIGKILL") == 1
