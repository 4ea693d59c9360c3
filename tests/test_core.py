"""sm-init's core as a running init: reaping, forwarding, exit codes, the child's start state, the
terminal, --version and --help.

Every test runs twice through the ``start_init`` fixture: sm-init as PID 1 of a fresh PID namespace
and as child subreaper. Children are helpers/children/probe.py (reports every signal, ready-line
handshake) and small scripts beside it.
"""

import os
import re
import signal
import subprocess
import sys

import pytest

from helpers.commands import child, probe, reports, signal_name
from helpers.procfs import proc_status, run_zombies, wait_until
from helpers.realinit import SM_INIT, TtyInit, find_probe

STOP = ["--stop-timeout", "4"]
# Every signal sm-init must forward as is: all catchable ones but SIGCHLD (reaping) and the two
# that start the stop sequence, which have their own tests.
FORWARDED = sorted(set(signal.valid_signals()) - {signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD,
                                                   signal.SIGTERM, signal.SIGINT})


def ready(init, tag="main"):
    return init.out.expect(rf"^{tag} ready pid=(\d+)")


def stop(init, expected=143):
    """SIGTERM to sm-init; the probe must have been started with --exit-on TERM."""
    init.signal(signal.SIGTERM)
    assert init.wait() == expected, init.log.text


# --- reaping -----------------------------------------------------------------------------------

def test_orphans_are_reaped_while_the_main_child_runs(start_init):
    """probe --orphans: 20 double-forked grandchildren exit at once and are adopted by sm-init.

    No zombie may stay below sm-init (PID-1 mode: also none in the namespace's own /proc) while
    the main child still runs.
    """
    init = start_init(*STOP, "--", *probe("--orphans", "20", "--exit-on", "TERM"))
    ready(init)
    wait_until(lambda: not run_zombies(init), "every orphan reaped", timeout=20)
    assert init.log.count("main child exited") == 0
    assert find_probe(init, "main").is_running()
    stop(init)


def test_orphans_are_adopted_by_sm_init_and_reaped(start_init, mode):
    """Orphans report who adopted them: sm-init (PID 1 in the namespace, else its own pid as subreaper)."""
    init = start_init(*STOP, "--", *child("orphan_reporter.py", "5"))
    init.out.expect(r"^reporter ready")
    adopters = {int(init.out.expect(r"^orphan adopted-by=(\d+)").group(1)) for _ in range(5)}
    assert adopters == {1 if mode == "pid1" else init.pid}
    wait_until(lambda: not run_zombies(init), "every adopted orphan reaped", timeout=20)
    assert init.log.count("main child exited") == 0
    init.signal(signal.SIGTERM)
    assert init.wait() == 143  # the reporter dies of the forwarded SIGTERM


# --- forwarding ---------------------------------------------------------------------------------

def test_every_catchable_signal_is_forwarded_once(start_init):
    """Each catchable signal but CHLD/KILL/STOP (TERM/INT: see below), realtime ones included.

    SIGTSTP/SIGTTIN/SIGTTOU stop nothing: sm-init has them blocked and forwards them; the probe
    catches them (and SIGCONT), so each is reported.
    """
    init = start_init("-v", *STOP, "--", *probe("--exit-on", "TERM"))
    ready(init)
    for signum in FORWARDED:
        init.signal(signum)
        init.out.expect(rf"^main got {re.escape(signal_name(signum))}$")
    stop(init)
    for signum in FORWARDED:
        assert init.out.count(rf"^main got {re.escape(signal_name(signum))}$") == 1, signal_name(signum)
    forwarded = [line for line in init.log.seen if "sm-init: forward:" in line and "SIGTERM" not in line]
    assert len(forwarded) == len(FORWARDED), forwarded


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_stop_signal_is_forwarded_once(start_init, stop_signal):
    """TERM/INT start the stop sequence and reach the child once; a second one is not sent again.

    The probe ignores it (reports only), so the stop runs to the SIGKILL sweep: exit 137.
    """
    init = start_init(*STOP, "--", *probe())
    ready(init)
    init.signal(stop_signal)
    init.out.expect(rf"^main got {stop_signal.name}$")
    init.log.expect(rf"sm-init: stop: {stop_signal.name};")
    init.signal(stop_signal)
    init.log.expect(rf"sm-init: stop: {stop_signal.name} again: already stopping")
    assert init.wait() == 137
    assert init.out.count(rf"^main got {stop_signal.name}$") == 1
    assert init.log.seen[-1].startswith("sm-init: exit: 137")
    assert init.ended - init.started < 4 + 30  # the stop timeout, plus a noisy machine's start-up


def forward_and_check_grandchild(init, expect_grandchild):
    """USR1 to sm-init; then, as a barrier, USR2 straight to the grandchild (a higher number: had
    USR1 reached it, its handler ran first)."""
    ready(init)
    ready(init, "grandchild")
    init.signal(signal.SIGUSR1)
    init.out.expect(r"^main got SIGUSR1$")
    find_probe(init, "grandchild").send_signal(signal.SIGUSR2)
    init.out.expect(r"^grandchild got SIGUSR2$")
    if expect_grandchild:
        init.out.expect(r"^grandchild got SIGUSR1$", timeout=5)
    else:
        assert init.out.count(r"^grandchild got SIGUSR1$") == 0, init.out.text
    stop(init)


def test_group_scope_reaches_the_grandchild(start_init):
    init = start_init(*STOP, "--", *probe("--group-child", "--exit-on", "TERM"))
    forward_and_check_grandchild(init, expect_grandchild=True)


def test_child_scope_reaches_the_main_child_only(start_init):
    init = start_init("--signal-scope", "child", *STOP, "--", *probe("--group-child", "--exit-on", "TERM"))
    forward_and_check_grandchild(init, expect_grandchild=False)


def test_signal_scope_from_environment(start_init):
    init = start_init(*STOP, "--", *probe("--group-child", "--exit-on", "TERM"),
                      env=dict(os.environ, SM_INIT_SIGNAL_SCOPE="child"))
    forward_and_check_grandchild(init, expect_grandchild=False)


def test_signal_scope_command_line_beats_environment(start_init):
    init = start_init("--signal-scope", "group", *STOP, "--", *probe("--group-child", "--exit-on", "TERM"),
                      env=dict(os.environ, SM_INIT_SIGNAL_SCOPE="child"))
    forward_and_check_grandchild(init, expect_grandchild=True)


def barrier(init):
    """SIGWINCH (28, above USR1/USR2/HUP): once it is reported, anything sent before it was too."""
    init.signal(signal.SIGWINCH)
    init.out.expect(r"^main got SIGWINCH$")


def test_rewrite_maps_a_signal(start_init):
    init = start_init("-v", "--rewrite", "USR1=USR2", *STOP, "--", *probe("--exit-on", "TERM"))
    ready(init)
    init.signal(signal.SIGUSR1)
    init.out.expect(r"^main got SIGUSR2$")
    barrier(init)
    assert init.out.count(r"got SIGUSR1") == 0
    init.log.expect(r"sm-init: forward: SIGUSR1 -> SIGUSR2 to group")
    stop(init)


def test_rewrite_to_zero_drops(start_init):
    init = start_init("-v", "--rewrite", "SIGUSR1=0", *STOP, "--", *probe("--exit-on", "TERM"))
    ready(init)
    init.signal(signal.SIGUSR1)
    barrier(init)
    init.log.expect(r"sm-init: forward: SIGUSR1\b.*dropped")
    assert [line for line in init.out.seen if " got " in line] == ["main got SIGWINCH"]
    stop(init)


def test_rewrite_from_environment_and_numbers(start_init):
    """SM_INIT_REWRITE holds several FROM=TO words; numbers work as well as names."""
    rewrites = f"USR1=USR2 {int(signal.SIGHUP)}=0"
    init = start_init(*STOP, "--", *probe("--exit-on", "TERM"), env=dict(os.environ, SM_INIT_REWRITE=rewrites))
    ready(init)
    init.signal(signal.SIGUSR1)
    init.signal(signal.SIGHUP)
    init.out.expect(r"^main got SIGUSR2$")
    barrier(init)
    assert init.out.count(r"got SIGUSR1|got SIGHUP") == 0, init.out.text
    stop(init)


def test_rewrite_term_to_quit_still_stops(start_init):
    """TERM=QUIT (nginx): the child sees QUIT, never TERM, and sm-init still runs its stop sequence."""
    init = start_init("--rewrite", "TERM=QUIT", *STOP, "--", *probe("--exit-on", "QUIT"))
    ready(init)
    init.signal(signal.SIGTERM)
    init.out.expect(r"^main got SIGQUIT$")
    assert init.wait() == 128 + signal.SIGQUIT
    init.log.expect(r"sm-init: stop: SIGTERM;")
    assert init.out.count(r"got SIGTERM") == 0


# --- exit codes ---------------------------------------------------------------------------------

@pytest.mark.parametrize("code", [0, 1, 2, 255])
def test_exit_code_passes_through(start_init, code):
    init = start_init(*STOP, "--", *probe("--exit", str(code)))
    assert init.wait() == code
    assert init.log.seen[-1].startswith(f"sm-init: exit: {code} ")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL, signal.SIGSEGV], ids=lambda s: s.name)
def test_killed_child_gives_128_plus_n(start_init, signum):
    init = start_init(*STOP, "--", *probe("--kill-self", signum.name[3:]))
    assert init.wait() == 128 + signum
    init.log.expect(rf"main child exited \(killed by {signum.name}\)")
    assert init.log.seen[-1].startswith(f"sm-init: exit: {128 + signum} ")


# --- the child's start state ---------------------------------------------------------------------

STATUS_CHILD = ["grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status"]


def clean_mask_lines(init):
    """grep exec'd directly by sm-init: what it reports is exactly what it inherited.

    (probe --status can't show it: the Python interpreter ignores SIGPIPE and SIGXFSZ itself.)
    """
    assert init.wait() == 0, init.log.text
    fields = dict(line.split(":\t") for line in init.out.drain())
    assert fields == {"SigBlk": "0000000000000000", "SigIgn": "0000000000000000"}


def test_child_signal_mask_and_ignored_set_are_clean(start_init):
    init = start_init("--", *STATUS_CHILD)
    clean_mask_lines(init)


PYTHON_OWN_IGNORED = (1 << (signal.SIGPIPE - 1)) | (1 << (signal.SIGXFSZ - 1))  # set by every interpreter


def start_with_inherited_signal_state(start_init, *args):
    """sm-init started like under nohup and a wrapper that blocks signals: SIGHUP ignored, SIGUSR2 and
    SIGRTMIN blocked (both survive fork/exec and unshare). The test thread's own mask and
    dispositions are changed only while the fixture forks."""
    old_hup = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR2, signal.SIGRTMIN})
    try:
        return start_init(*args)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        signal.signal(signal.SIGHUP, old_hup)


def test_child_state_is_clean_even_when_sm_init_inherited_ignored_and_blocked_signals(start_init):
    """Neither what sm-init inherited nor what it blocks itself reaches its child.

    First with a long-lived probe, to check the precondition on sm-init while it runs (probe
    --status: SigIgn is exactly what the Python interpreter ignores by itself); then with grep,
    exec'd directly, for all zeros.
    """
    init = start_with_inherited_signal_state(start_init, *STOP, "--", *probe("--status", "--exit-on", "TERM"))
    match = init.out.expect(r"^main status SigBlk=([0-9a-f]+) SigIgn=([0-9a-f]+)$")
    ready(init)
    inherited = proc_status(init.pid)
    assert int(inherited["SigIgn"], 16) & (1 << (signal.SIGHUP - 1)), inherited  # the precondition
    assert int(match.group(1), 16) == 0
    assert int(match.group(2), 16) == PYTHON_OWN_IGNORED
    stop(init)

    init = start_with_inherited_signal_state(start_init, "--", *STATUS_CHILD)
    clean_mask_lines(init)


def test_inherited_ignored_sighup_is_still_forwarded(start_init):
    """A SIGHUP ignored when sm-init started is blocked by it and so still waited for and forwarded."""
    old_hup = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        init = start_init(*STOP, "--", *probe("--exit-on", "TERM"))
    finally:
        signal.signal(signal.SIGHUP, old_hup)
    ready(init)
    init.signal(signal.SIGHUP)
    init.out.expect(r"^main got SIGHUP$")
    stop(init)


def test_child_leads_its_own_process_group(start_init):
    init = start_init(*STOP, "--", *probe("--exit-on", "TERM"))
    match = init.out.expect(r"^main ready pid=(\d+) pgid=(\d+)")
    assert match.group(1) == match.group(2)
    stop(init)


def test_stdio_cwd_and_environment_are_inherited(start_init, tmp_path):
    stdin_file = tmp_path / "stdin.txt"
    stdin_file.write_text("from stdin\n")
    workdir = tmp_path / "work dir"
    workdir.mkdir()
    env = dict(os.environ, REPORT_ENV="SM_TEST_VALUE,PATH", REPORT_STDIN="1", SM_TEST_VALUE="a b $c")
    with open(stdin_file) as stdin:
        init = start_init("--", *child("report.py"), env=env, stdin=stdin, cwd=str(workdir))
        assert init.wait() == 0, init.log.text
    init.out.drain()
    [report] = reports(init.out)
    assert report["stdin"] == "from stdin\n"
    assert report["cwd"] == str(workdir)
    assert report["env"] == {"SM_TEST_VALUE": "a b $c", "PATH": os.environ["PATH"]}
    assert "report on stderr" in init.log.seen  # the child's stderr is sm-init's stderr


# --- terminal -----------------------------------------------------------------------------------

@pytest.fixture
def start_on_tty(mode):
    runs = []

    def start(*args):
        run = TtyInit(list(args), pid1=(mode == "pid1"))
        runs.append(run)
        return run

    yield start
    for run in runs:
        run.cleanup()


def test_child_gets_the_terminal_foreground_and_ctrl_c(start_on_tty):
    """With a pty as controlling terminal and stdin, the child's group becomes the foreground group.

    Ctrl-C (the pty's interrupt character) then sends SIGINT to the child's group only: sm-init is
    not in it, so it does not start a stop and logs nothing about it; the child gets exactly one
    SIGINT (sm-init does not forward a second). Barrier: SIGUSR1 to sm-init afterwards; had sm-init
    received the SIGINT too (at the same moment as the child), it would have handled it first
    (sigwait returns the lowest pending signal) and logged ``stop:`` before ``forward: SIGUSR1``.
    """
    init = start_on_tty("-v", *STOP, "--", *probe("--tty", "--exit-on", "TERM"))
    init.out.expect(r"^main tty foreground=True$")
    init.out.expect(r"^main ready")
    init.log.expect(r"sm-init: start: ")
    init.type(b"\x03")
    init.out.expect(r"^main got SIGINT$")
    os.kill(init.pid, signal.SIGUSR1)
    init.out.expect(r"^main got SIGUSR1$")
    init.log.expect(r"sm-init: forward: SIGUSR1")
    assert init.log.count(r"sm-init: stop:") == 0, init.log.text
    os.kill(init.pid, signal.SIGTERM)
    assert init.wait() == 143
    assert init.out.count(r"^main got SIGINT$") == 1


def test_without_a_terminal_the_child_has_no_foreground(start_init):
    """Contrast: stdin is not a terminal, so nothing is handed over (tcgetpgrp fails: ENOTTY)."""
    init = start_init(*STOP, "--", *probe("--tty", "--exit", "0"))
    assert init.out.expect(r"^main tty foreground=(.*)$").group(1) != "True"
    assert init.wait() == 0


# --- version and help ---------------------------------------------------------------------------

def test_python_m_version():
    result = subprocess.run([sys.executable, "-m", "sm_init", "--version"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0
    assert result.stdout.startswith("sm-init ")
    from sm_init import __version__
    assert __version__ in result.stdout


def test_help_exits_zero():
    result = subprocess.run([SM_INIT, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "--signal-scope" in result.stdout and "--rewrite" in result.stdout
    assert result.stderr == ""
