"""Runs sm_init.sweep over a real process tree, in a PID namespace of its own (tests/test_sweep.py).

    unshare --pid --fork --mount-proc --kill-child python sweeper.py MODE SCENARIO [OPTIONS]

MODE ``pid1``: this process is PID 1 of the namespace and sweeps with pid1=True. MODE ``subreaper``:
PID 1 forks an ``outsider`` member, then the sweeping process, which registers as child subreaper
and sweeps with pid1=False: the outsider lives in the same namespace but is no descendant of it.
Running the subreaper case in a namespace too keeps every process the sweep could reach, if it were
wrong, inside this test.

Scenarios (the sweeping process builds the tree, sweeps once, then reports):

``tree SIGNAL [--spare] [--continue] [--helper TAG ...]``
    TREE below; ``stopped`` is SIGSTOPped before the sweep. --spare spares main's process group and
    the member ``spared``; --helper spares that member as one of sm-init's own helpers. After the sweep every member gets SIGWINCH, a barrier: members take their
    signals with sigwaitinfo, lowest number first, so a member that prints ``got SIGWINCH`` has
    already printed ``got SIGTERM`` if the sweep sent it one. Then ``stopped``'s state is printed and it gets
    SIGCONT. Members that die are reported as ``TAG exited`` (seen through a pidfd).
``reuse [--no-reuse]``
    A SIGTERM sweep that sees ``victim`` in its listing; right after the listing read its stat,
    ``victim`` is killed and reaped and a ``stranger`` takes its pid (ns_last_pid), spared by
    the sweep's own rules: in the spared group as PID 1, a child of PID 1 (no descendant) in
    subreaper mode. --no-reuse: the pid stays free.
``forky IDLE FORKERS [--spare] [--deadline S | --ticks N]``
    fork_happy.py's tree (SIGTERM ignored, IDLE idle workers, FORKERS forking ones), then a SIGKILL
    sweep with a deadline S seconds away (default 60) or, with --ticks, a clock that counts its own
    calls. --spare spares the tree's main process (the /proc path as PID 1 too). After a sweep with
    the default deadline, waits for the tree to be gone (60 s at most); prints what is left.

Members print ``TAG ready pid=... pgid=...`` and ``TAG got SIGNAME``; the sweeper prints lines
starting with ``sweeper``.
"""

import argparse
import itertools
import os
import select
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fork_happy  # noqa: E402
from probe import wait_for_signals, wakeup_fd  # noqa: E402

from sm_init import reap, sweep  # noqa: E402

# (tag, how, children): how is "group" (stay in the parent's group), "own" (a group of its own),
# "setsid", or "orphan ..." (double fork: the intermediate exits, the member is an orphan).
TREE = ("main", "own", [
    ("group1", "group", []),
    ("setsid1", "setsid", [("deep", "group", [])]),
    ("spared", "own", []),
    ("stopped", "own", []),
    ("orphan", "orphan own", []),
    ("orphan_g", "orphan group", []),
    ("orphan_setsid", "orphan setsid", []),
])
MEMBERS = 9  # in TREE
REPORTED = (signal.SIGTERM, signal.SIGWINCH, signal.SIGHUP)
WAIT_S = 60.0


def say(text):
    os.write(1, (text + "\n").encode())


def become(how):
    if "setsid" in how:
        os.setsid()
    elif "own" in how:
        os.setpgid(0, 0)


def member(tag, how, children, ready_fd, pgid=None):
    """Fork a member (and its subtree); the member reports "tag pid" on ready_fd once set up."""
    orphan = how.startswith("orphan")
    pid = os.fork()
    if pid:
        if orphan:
            os.waitpid(pid, 0)  # the intermediate exits at once: no zombie left behind
        return pid
    if orphan and os.fork():
        os._exit(0)
    if pgid is not None:
        os.setpgid(0, pgid)
    become(how)
    for child in children:
        member(*child, ready_fd)
    serve(tag, ready_fd)


def serve(tag, ready_fd):
    # Blocked and taken with sigwaitinfo, which hands out the lowest pending signal first: a SIGTERM
    # sent before the SIGWINCH barrier is always reported before it. (Python handlers give no such
    # order: seen here, a SIGWINCH sent after a SIGTERM was handled first.)
    signal.pthread_sigmask(signal.SIG_BLOCK, REPORTED)
    say(f"{tag} ready pid={os.getpid()} pgid={os.getpgrp()}")
    os.write(ready_fd, f"{tag} {os.getpid()}\n".encode())
    while True:
        say(f"{tag} got {signal.Signals(signal.sigwaitinfo(REPORTED).si_signo).name}")


def read_ready(read_fd, count):
    """{tag: pid} of `count` members, as they report on the ready pipe."""
    pids, buf = {}, b""
    deadline = time.monotonic() + WAIT_S
    while len(pids) < count:
        if not select.select([read_fd], [], [], max(deadline - time.monotonic(), 0))[0]:
            raise SystemExit(f"sweeper: only {sorted(pids)} ready")
        buf += os.read(read_fd, 4096)
        *lines, buf = buf.split(b"\n")
        for line in lines:
            tag, pid = line.decode().split()
            pids[tag] = int(pid)
    return pids


def wait_state(pid, states):
    deadline = time.monotonic() + WAIT_S
    while sweep.read_stat(pid).state not in states:
        if time.monotonic() > deadline:
            raise SystemExit(f"sweeper: {pid} never reached state {states}")
        time.sleep(0.001)


def report_exits(pids, count):
    """Print ``TAG exited`` for each member whose pidfd turns readable, until `count` did (or WAIT_S)."""
    fds = {os.pidfd_open(pid): tag for tag, pid in pids.items()}
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN)
    deadline = time.monotonic() + WAIT_S
    while len(pids) - len(fds) < count and time.monotonic() < deadline:
        for fd, _ in poller.poll(max(int((deadline - time.monotonic()) * 1000), 0)):
            say(f"{fds.pop(fd)} exited")
            poller.unregister(fd)
            os.close(fd)


# --- scenarios ------------------------------------------------------------------------------------


def tree(args, pid1, outsider):
    ready_r, ready_w = os.pipe()
    main_pid = member(*TREE, ready_w)
    pids = read_ready(ready_r, MEMBERS)
    if outsider:
        pids["outsider"] = outsider
    os.kill(pids["stopped"], signal.SIGSTOP)
    wait_state(pids["stopped"], "T")
    signum = signal.Signals["SIG" + args.signal]
    spare_pgid, spare_pid = (main_pid, pids["spared"]) if args.spare else (None, None)
    count = sweep.sweep(signum, pid1, time.monotonic() + WAIT_S, spare_pgid=spare_pgid,
                        spare_pid=spare_pid, then_continue=args.cont,
                        spare_pids=frozenset(pids[tag] for tag in args.helpers))
    say(f"sweeper count={count}")
    if signum == signal.SIGKILL:
        report_exits(pids, count)  # dying takes a moment; the barrier below checks the others
    for tag, pid in pids.items():
        if tag != "stopped":
            try:
                os.kill(pid, signal.SIGWINCH)
            except ProcessLookupError:
                pass
    state = sweep.read_stat(pids["stopped"])
    say(f"sweeper stopped state={state.state if state and not state.gone else 'gone'}")
    try:
        os.kill(pids["stopped"], signal.SIGWINCH)
        os.kill(pids["stopped"], signal.SIGCONT)
    except ProcessLookupError:
        pass
    say("sweeper done")


def reuse(args, pid1, ask_stranger):
    """The pid-reuse race, forced: see the module docstring."""
    ready_r, ready_w = os.pipe()
    keeper = member("keeper", "own", [], ready_w)        # the spared group, as PID 1
    bystander = member("bystander", "own", [], ready_w)  # an ordinary target
    victim = member("victim", "own", [], ready_w)
    read_ready(ready_r, 3)
    real_read_stat = sweep.read_stat
    stranger = []

    def read_stat(pid):
        stat = real_read_stat(pid)
        if pid == victim and not stranger:  # the listing just read the victim
            os.kill(victim, signal.SIGKILL)
            os.waitpid(victim, 0)
            say(f"sweeper victim {victim} reaped")
            if args.no_reuse:
                stranger.append(None)
            else:
                stranger.append(ask_stranger(victim, keeper))
                say(f"sweeper stranger pid={stranger[0]} {'reused' if stranger[0] == victim else 'NOT reused'}")
        return stat

    sweep.read_stat = read_stat
    count = sweep.sweep(signal.SIGTERM, pid1, time.monotonic() + WAIT_S, spare_pgid=keeper if pid1 else None)
    sweep.read_stat = real_read_stat
    say(f"sweeper count={count}")
    for pid in (keeper, bystander, *stranger):
        if pid:
            os.kill(pid, signal.SIGWINCH)
    say("sweeper done")


def make_stranger(pid, pgid):
    """Fork a member that gets `pid` (the namespace's last pid set just below it), in group `pgid`."""
    with open("/proc/sys/kernel/ns_last_pid", "w") as f:
        f.write(str(pid - 1))
    ready_r, ready_w = os.pipe()
    child = member("stranger", "group", [], ready_w, pgid=pgid)
    read_ready(ready_r, 1)
    os.close(ready_r)
    os.close(ready_w)
    return child


def forky(args, pid1, outsider):
    pid = os.fork()
    if pid == 0:
        fork_happy.start(args.idle, args.forkers)
        say(f"main ready pid={os.getpid()}")
        fork_happy.idle()
    wait_for_tree(args.idle + args.forkers + 1)
    say("sweeper tree ready")
    readings = []
    if args.ticks:
        ticks = itertools.count()
        deadline = args.ticks

        def clock():
            readings.append(next(ticks))
            return readings[-1]
    else:
        deadline = time.monotonic() + args.deadline

        def clock():
            readings.append(time.monotonic())
            return readings[-1]

    spare = pid if args.spare else None
    started = time.monotonic()
    count = sweep.sweep(signal.SIGKILL, pid1, deadline, spare_pid=spare, clock=clock)
    returned = time.monotonic()
    late = 0.0 if args.ticks else returned - deadline
    after = sum(1 for reading in readings if reading >= deadline)
    say(f"sweeper count={count} took={returned - started:.4f} readings={len(readings)}"
        f" after_deadline={after} late_by={late:.4f}")
    # A sweep cut short by its deadline leaves the tree to the namespace's end.
    left = wait_gone(spare) if not args.ticks and args.deadline >= WAIT_S else len(live_descendants(spare))
    say(f"sweeper left={left} spared_alive={spare is not None and alive(spare)}"
        f" outsider_alive={outsider is not None and alive(outsider)}")
    say("sweeper done")


def wait_for_tree(count):
    """Until the sweeping process has `count` live descendants (fork_happy's main, workers, forkers)."""
    deadline = time.monotonic() + WAIT_S
    while len(live_descendants()) < count:
        if time.monotonic() > deadline:
            raise SystemExit("sweeper: the tree never came up")
        time.sleep(0.01)


def live_descendants(spare=None):
    """Live processes below this one (zombies are not), but `spare`."""
    table = sweep.process_table(float("inf"), time.monotonic)
    children = sweep.children_map(table)
    found, level = [], children.get(os.getpid(), [])
    while level:
        found += level
        level = [child for parent in level for child in children.get(parent, ())]
    return [pid for pid in found if not table[pid].gone and pid != spare]


def alive(pid):
    stat = sweep.read_stat(pid)
    return stat is not None and not stat.gone


def wait_gone(spare):
    """Reap until nothing but `spare` is left, or WAIT_S; how many live processes are left."""
    deadline = time.monotonic() + WAIT_S
    while True:
        reap.reap_children()
        left = live_descendants(spare)
        if not left or time.monotonic() > deadline:
            return len(left)
        time.sleep(0.01)


SCENARIOS = {"tree": tree, "reuse": reuse, "forky": forky}


def parse():
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["pid1", "subreaper"])
    sub = parser.add_subparsers(dest="scenario", required=True)
    p = sub.add_parser("tree")
    p.add_argument("signal", choices=["TERM", "KILL"])
    p.add_argument("--spare", action="store_true")
    p.add_argument("--continue", dest="cont", action="store_true")
    p.add_argument("--helper", dest="helpers", action="append", default=[],
                   help="a member spared as sm-init's own helper (spare_pids)")
    p = sub.add_parser("reuse")
    p.add_argument("--no-reuse", action="store_true")
    p = sub.add_parser("forky")
    p.add_argument("idle", type=int)
    p.add_argument("forkers", type=int)
    p.add_argument("--spare", action="store_true")
    p.add_argument("--deadline", type=float, default=WAIT_S)
    p.add_argument("--ticks", type=int)
    return parser.parse_args()


def main():
    args = parse()
    if os.getpid() != 1:
        raise SystemExit("sweeper: run me as PID 1 of a new PID namespace (unshare --pid --fork --mount-proc)")
    signal.signal(signal.SIGTERM, lambda signum, frame: say("sweeper got SIGTERM"))
    if args.mode == "pid1":
        SCENARIOS[args.scenario](args, True, make_stranger if args.scenario == "reuse" else None)
        wait_for_signals(wakeup_fd())  # not signal.pause(): a SIGTERM just before it is heard
    serve_outsider_and_strangers(args)


def serve_outsider_and_strangers(args):
    """PID 1 in subreaper mode: the outsider, the sweeping process, and strangers on request."""
    ready_r, ready_w = os.pipe()
    outsider = member("outsider", "own", [], ready_w)
    read_ready(ready_r, 1)
    request_r, request_w = os.pipe()
    answer_r, answer_w = os.pipe()
    if os.fork() == 0:
        reap.become_subreaper()

        def ask_stranger(pid, pgid):
            os.write(request_w, f"{pid}\n".encode())
            return int(os.read(answer_r, 64))

        SCENARIOS[args.scenario](args, False, ask_stranger if args.scenario == "reuse" else outsider)
        wait_for_signals(wakeup_fd())  # not signal.pause(): a SIGTERM just before it is heard
    os.close(request_w)
    while True:
        line = os.read(request_r, 64)
        if not line:
            break
        stranger = make_stranger(int(line), 0)  # its own group: only "no descendant" spares it
        os.write(answer_w, f"{stranger}\n".encode())
    wait_for_signals(wakeup_fd())


if __name__ == "__main__":
    main()
