"""stacks.py's reading of real dumps: py-spy's JSON and its refusals, faulthandler's text, the tree's
Python processes and their ranks; then the failure file's "where it was" from tables (grouping,
the ranks before their launcher, the 1024-byte budget) and the route's ptrace check.
"""

import os
import signal
import subprocess
import sys

import pytest

from helpers.realinit import TIMEOUT
from sm_init import stacks
from sm_init.stacks import Frame, Process, Thread

PYSPY = stacks.find_pyspy()   # the test extra installs it: never a skip

# The worker says "ready" once the main thread is inside join (its frame says so): the dumps then
# find it there, never still on its way.
THREADS = """
import faulthandler, signal, sys, threading, time
def in_join(frame):
    while frame is not None and frame.f_code.co_name != "join":  # not start(): threading.py too
        frame = frame.f_back
    return frame is not None
def spin_in_worker(main):
    while not in_join(sys._current_frames()[main]):
        time.sleep(0.001)
    print("ready", flush=True)
    while True:
        time.sleep(0.01)
def main():
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    worker = threading.Thread(target=spin_in_worker, args=(threading.get_ident(),), name="worker", daemon=True)
    worker.start()
    worker.join()
main()
"""


@pytest.fixture
def threaded(tmp_path):
    """A real Python process whose main thread only joins a worker thread."""
    script = tmp_path / "threads.py"
    script.write_text(THREADS)
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout.readline() == b"ready\n"
    yield process, str(script)
    process.kill()
    process.wait(TIMEOUT)


def pyspy_dump(pid):
    assert PYSPY is not None, "py-spy is in the test extra (setup.cfg)"
    done = subprocess.run([PYSPY, "dump", "--json", "--nonblocking", "--pid", str(pid)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=TIMEOUT)
    return done.stdout.decode()


def test_py_spy_json_of_a_real_process(threaded):
    process, script = threaded
    threads, remark = stacks.parse_pyspy(pyspy_dump(process.pid))
    assert remark == ""
    main = next(t for t in threads if t.main)
    assert (main.name, main.ident) == ("MainThread", str(process.pid))
    assert [f.function for f in main.frames][-3:] == ["Thread.join", "main", "<module>"]
    assert main.frames[0].path.endswith("/threading.py") and stacks.is_library(main.frames[0])
    assert main.frames[-2].path == script and not stacks.is_library(main.frames[-2])
    # The main thread only waits for the worker: the worker is where things happen.
    relevant = stacks.relevant_thread(threads)
    assert relevant.name == "worker"
    assert stacks.place(relevant) == "spin_in_worker (threads.py:12)"
    lines = stacks.render(threads)
    assert lines[0] == f'Thread {process.pid} (idle): "MainThread"'   # the main thread first
    assert lines[1].startswith("    Thread.") and " (threading.py:" in lines[1]


def test_py_spy_refusing_is_no_stack():
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        threads, remark = stacks.parse_pyspy(pyspy_dump(sleeper.pid))
    finally:
        sleeper.kill()
        sleeper.wait(TIMEOUT)
    assert threads is None and remark   # not a Python process: py-spy says why, in words


def test_faulthandler_text_of_a_real_process(threaded):
    process, script = threaded
    process.send_signal(signal.SIGUSR1)
    text = b""
    while not text.endswith(b" in <module>\n"):   # the main thread's outermost frame: the dump's end
        text += os.read(process.stderr.fileno(), 65536)
    threads = stacks.with_main_last(stacks.parse_faulthandler(text.decode()))
    assert len(threads) == 2
    worker, main = threads            # newest thread first: the main thread is the last
    assert main.main and not worker.main
    assert [f.function for f in main.frames][-3:] == ["join", "main", "<module>"]
    assert (main.state, worker.state) == ("current", "")      # the handler ran in the main thread
    assert main.frames[-2] == Frame("main", script, "threads.py", "17")   # worker.join()
    assert [f.function for f in worker.frames] == ["spin_in_worker", "run", "_bootstrap_inner", "_bootstrap"]
    assert stacks.place(stacks.relevant_thread(threads)) == "spin_in_worker (threads.py:12)"


def test_the_trees_python_processes_breadth_first_with_their_ranks(tmp_path):
    """Under this process: a launcher (no rank), two ranks, a worker of rank 1, and a shell."""
    script = tmp_path / "tree.py"
    script.write_text(
        "import os, subprocess, sys\n"
        "if sys.argv[1] == 'launcher':\n"
        "    kids = [subprocess.Popen([sys.executable, __file__, 'rank'], env={**os.environ, 'RANK': str(r)},"
        " stdout=subprocess.PIPE) for r in (0, 1)]\n"
        "    for kid in kids: sys.stdout.buffer.write(kid.stdout.readline())\n"
        "    print('ready', flush=True)\n"
        "elif sys.argv[1] == 'rank' and os.environ['RANK'] == '1':\n"
        "    worker = subprocess.Popen([sys.executable, __file__, 'worker'], stdout=subprocess.PIPE)\n"
        "    worker.stdout.readline()\n"
        "    print('up', flush=True)\n"
        "else:\n"
        "    print('up', flush=True)\n"
        "sys.stdin.read()\n")
    launcher = subprocess.Popen([sys.executable, str(script), "launcher"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE)
    shell = subprocess.Popen(["sh", "-c", "read x"], stdin=subprocess.PIPE)
    try:
        while launcher.stdout.readline() != b"ready\n":
            pass
        found = [p for p in stacks.python_processes(False, os.getpid()) if str(script) in " ".join(p.argv)]
        items = list(stacks.listing(False, os.getpid()))
    finally:
        for process in (launcher, shell):
            process.kill()
            process.wait(TIMEOUT)
    assert [(p.depth, p.argv[-1], p.rank) for p in found] == [
        (1, "launcher", None), (2, "rank", "0"), (2, "rank", "1"), (3, "worker", "1")]
    # Each process's pid comes before the reads that can wait (its command line, its environment):
    # a lister stuck in one of them has named the process it is stuck on.
    listed = [i for i, item in enumerate(items) if isinstance(item, stacks.Process)]
    assert listed and all(items[i - 1] == items[i].pid for i in listed)
    assert shell.pid not in items   # not Python (its executable says so): never announced, never read
    assert [p.pid for p in stacks.focus(found)] == [found[1].pid, found[2].pid]   # the ranks alone
    assert stacks.program(found[0].argv) == "tree.py"


# ---------------------------------------------------------------------------------------------
# "Where it was", from tables

SITE = "/usr/local/lib/python3.11/site-packages/torch/distributed/distributed_c10d.py"


def rank(number, pid, parent=1, depth=2):
    return Process(pid, parent, depth, ("python3", "-u", "train.py"), 0, str(number))


def stopped_in(*frames, main=True):
    return [Thread("1", "MainThread", "idle", main, tuple(Frame(f, path, os.path.basename(path), str(line))
                                                           for f, path, line in frames))]


IN_ALL_REDUCE = stopped_in(("all_reduce", SITE, 3252), ("step", "/opt/ml/code/train.py", 40),
                           ("main", "/opt/ml/code/train.py", 80))
IN_LOADER = stopped_in(("_next_data", "/usr/local/lib/python3.11/site-packages/torch/utils/data/dataloader.py", 1450),
                       ("step", "/opt/ml/code/train.py", 37))
LAUNCHER = Process(10, 1, 1, ("python3", "/usr/local/bin/torchrun", "train.py"), 0, None)
IN_MONITOR = stopped_in(("_invoke_run", "/usr/local/lib/python3.11/site-packages/torch/x/api.py", 923))


def test_seven_ranks_in_one_all_reduce_and_the_odd_one_first():
    dumped = [(LAUNCHER, IN_MONITOR)] + [(rank(r, 20 + r, 10), IN_LOADER if r == 5 else IN_ALL_REDUCE)
                                         for r in range(8)]
    assert stacks.where(dumped) == (
        "rank 5 (pid 25) in _next_data (dataloader.py:1450) from step (train.py:37);"
        " ranks 0, 1, 2, 3, 4, 6, 7 in all_reduce (distributed_c10d.py:3252) from step (train.py:40)")


def test_without_ranks_every_process_top_first():
    main = Process(2, 1, 1, ("python3", "train.py"), 0, None)
    workers = [Process(3 + i, 2, 2, ("python3", "train.py"), 0, None) for i in range(2)]
    waiting = stopped_in(("poll", "/usr/lib/python3.11/multiprocessing/connection.py", 257))
    dumped = [(main, IN_ALL_REDUCE)] + [(w, waiting) for w in workers]
    assert stacks.where(dumped) == ("pid 2 (train.py) in all_reduce (distributed_c10d.py:3252) from step (train.py:40);"
                                    " pids 3, 4 in poll (connection.py:257)")


def test_where_keeps_within_its_budget():
    dumped = [(rank(r, 100 + r), stopped_in((f"function_number_{r}", "/opt/ml/code/train.py", r)))
              for r in range(16)]
    text = stacks.where(dumped)
    assert len(text.encode()) <= stacks.WHERE_LIMIT
    assert text.startswith("rank 0 (pid 100) in function_number_0 (train.py:0); rank 1 ")
    assert text.endswith(" other place(s)")


def test_no_frames_no_where():
    assert stacks.where([(rank(0, 5), [])]) is None


@pytest.mark.parametrize("yama, capabilities, problem", [
    (None, 0, None),                                # no Yama (this kernel): root may read its tree
    (0, 0, None),
    (1, 0, "Yama ptrace_scope is 1 and sm-init lacks CAP_SYS_PTRACE"),
    (1, 1 << stacks.CAP_SYS_PTRACE, None),
    (2, 1 << stacks.CAP_SYS_PTRACE, None),
    (2, 0, "Yama ptrace_scope is 2 and sm-init lacks CAP_SYS_PTRACE"),
    (3, ~0, "Yama ptrace_scope is 3: no process may read another's memory"),
])
def test_when_py_spy_can_read_the_tree(yama, capabilities, problem):
    found = stacks.ptrace_problem(yama, capabilities)
    assert (found is None) == (problem is None) and (problem is None or problem in found)


@pytest.mark.parametrize("argv, name", [
    (("/usr/bin/python3", "-u", "/opt/ml/code/train.py", "--lr", "1"), "train.py"),
    (("python", "-X", "faulthandler", "-m", "torch.distributed.run", "x.py"), "torch.distributed.run"),
    (("python3", "-c", "pass"), "python -c"),
    (("/opt/conda/bin/deepspeed", "train.py"), "deepspeed"),
])
def test_program_names(argv, name):
    assert stacks.program(argv) == name


def test_a_dump_cut_short_is_no_stack_and_no_flood(threaded):
    """py-spy's JSON cut anywhere (a dumper killed, a limit reached) gives no threads: never the
    frame list inside it read as a dump, and what py-spy said is cut to a line's worth."""
    process, _ = threaded
    text = pyspy_dump(process.pid)
    for cut in (len(text) // 3, len(text) // 2, len(text) - 3):
        threads, remark = stacks.parse_pyspy(text[:cut])
        assert threads is None and remark == text[:cut].strip()
