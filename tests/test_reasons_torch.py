"""Failure reasons from real torch jobs on CPU: torchrun with 2 ranks on gloo, a DataLoader worker.

torchrun's summary names the rank that failed first; the ranks' own tracebacks come prefixed
``[rankN]:``. Each job runs once per module (torchrun takes seconds on a busy machine).
"""

import os
import re
import sys

import pytest

from helpers.commands import CHILDREN
from helpers.net import free_port
from helpers.tails import check_text, interleave, run_tails
from sm_init import reasons

if os.environ.get("CI"):
    import torch  # noqa: F401  (CI: tests/run installs torch; a missing torch fails, never skips)
else:
    pytest.importorskip("torch", reason="tests/run installs torch (the test extra)")

DDP_FAIL = os.path.join(CHILDREN, "ddp_fail.py")
LOADER_FAIL = os.path.join(CHILDREN, "loader_fail.py")
ROOT_RANK = re.compile(rb"Root Cause \(first observed failure\):\n\[0\]:\n.*\n.*\n  rank      : (\d+)")


def torchrun(case, **env):
    argv = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
            "--master-port", str(free_port()), DDP_FAIL, case]
    run = run_tails(argv, env=dict(os.environ, **env))
    assert run.returncode == 1, run.stderr[-3000:].decode(errors="replace")
    assert b"ChildFailedError" in run.stderr            # the agent's own traceback is there too
    return run


@pytest.fixture(scope="module")
def jobs():
    """torchrun CASE, run the first time a test asks for it."""
    done = {}

    def job(case, **env):
        key = (case, tuple(sorted(env.items())))
        if key not in done:
            done[key] = torchrun(case, **env)
        return done[key]
    return job


ENDING = "Training command `torchrun --nproc-per-node 2 ddp_fail.py` exited with code 1."
# A rank that raised sometimes dies of SIGABRT on its way out ("terminate called without an active
# exception": gloo's threads at interpreter exit, about 1 run in 20 here); torchrun then reports
# the signal, and so does the failure text, before the rank's own error.
RAISED = r"\((?:exit code 1|killed by SIGABRT)\)"


def test_rank_1_raises(jobs):
    run = jobs("raise")
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert (finding.hint, finding.source, finding.name) == (None, "stderr (torchrun summary)",
                                                            "torchrun-root-cause")
    assert re.fullmatch(f"rank 1 failed first {RAISED}: ValueError: bad lr on rank 1", finding.error)
    text = check_text(reasons.failure_text(ENDING, run.stdout, run.stderr))
    assert text.startswith(f"{ENDING}\nError: {finding.error}\nLast lines of stderr:\n")
    # The summary's last line, which torchrun words after how the rank ended.
    if "SIGABRT" in finding.error:
        assert re.search(r"traceback : Signal 6 \(SIGABRT\) received by PID \d+\Z", text), text[-300:]
    else:
        assert text.endswith("traceback : To enable traceback see:"
                             " https://pytorch.org/docs/stable/elastic/errors.html"), text[-300:]


def test_both_ranks_raise_the_root_cause_wins(jobs):
    run = jobs("raise-all")
    root = ROOT_RANK.search(run.stderr).group(1).decode()
    assert re.search(rb"\[rank0\]: ValueError: bad lr on rank 0\n", run.stderr)
    assert re.search(rb"\[rank1\]: ValueError: bad lr on rank 1\n", run.stderr)
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert re.fullmatch(f"rank {root} failed first {RAISED}: ValueError: bad lr on rank {root}",
                        finding.error), finding.error


@pytest.mark.parametrize("first", ["0", "1"])
def test_interleaved_ranks_without_a_summary_first_to_complete_wins(jobs, first):
    # The ranks' own lines, line by line interleaved, the summary gone (a tail cut before it, or a
    # launcher that prints none): the rank whose traceback completes first is the one reported.
    run = jobs("raise-all")
    lines = run.stderr.decode().splitlines()
    ranks = {rank: [line for line in lines if line.startswith(f"[rank{rank}]: ")] for rank in "01"}
    other = "1" if first == "0" else "0"
    merged = interleave(ranks[first], ranks[other])
    assert merged.index(f"[rank{first}]: ValueError: bad lr on rank {first}") < merged.index(
        f"[rank{other}]: ValueError: bad lr on rank {other}")
    finding = reasons.find_error("\n".join(merged) + "\n")
    assert finding == reasons.Finding(f"rank {first}: ValueError: bad lr on rank {first}", None,
                                      f"stderr [rank {first}]", "python-traceback")


def test_rank_1_out_of_gpu_memory(jobs):
    run = jobs("oom")
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert finding.name == "torchrun-root-cause" and finding.hint == reasons.HINT_CUDA_OOM
    assert re.match(f"rank 1 failed first {RAISED}: torch.OutOfMemoryError: CUDA out of memory."
                    r" Tried to allocate 22\.00 MiB\.", finding.error), finding.error


def test_rank_1_segfaults(jobs):
    run = jobs("segfault", PYTHONFAULTHANDLER="1")
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert finding.name == "torchrun-root-cause" and finding.hint == reasons.HINT_CRASH
    # faulthandler writes to fd 2 itself, unprefixed: found through the signal torchrun reports.
    assert re.fullmatch(r"rank 1 failed first \(killed by SIGSEGV\): Fatal Python error:"
                        r" Segmentation fault in string_at \(.+\)", finding.error), finding.error


def test_rank_1_killed(jobs):
    run = jobs("sigkill")
    finding = reasons.diagnose(run.stdout, run.stderr)
    # Nothing of rank 1's own: the summary's title names the program that failed, as torchrun does.
    assert finding == reasons.Finding(f"{DDP_FAIL} FAILED: rank 1 failed first (exitcode -9, Signal 9 (SIGKILL)),"
                                      " per torchrun's summary", reasons.HINT_KILLED,
                                      "stderr (torchrun summary)", "torchrun-root-cause")
    assert re.search(rb"\n" + re.escape(DDP_FAIL.encode()) + rb" FAILED\n", run.stderr)


@pytest.mark.parametrize("case, recogniser, error", [
    ("sigkill", "killed", r"RuntimeError: DataLoader worker \(pid \d+\) is killed by signal: Killed\."),
    ("segfault", "native-crash",
     r"RuntimeError: DataLoader worker \(pid \d+\) is killed by signal: Segmentation fault\."),
])
def test_dataloader_worker_dies(case, recogniser, error):
    run = run_tails([sys.executable, LOADER_FAIL, case])
    assert run.returncode == 1
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert finding.name == recogniser and re.fullmatch(error, finding.error), finding
    check_text(reasons.failure_text("Training command `python3 train.py` exited with code 1.",
                                    run.stdout, run.stderr))


def test_a_dataloader_worker_out_of_shared_memory():
    # SIGBUS in a worker is what touching a page of a full /dev/shm gives: torch's worker handler
    # says so ("insufficient shared memory (shm)"), and so does the main process's RuntimeError;
    # the hint is about /dev/shm, not about CUDA and driver versions.
    run = run_tails([sys.executable, LOADER_FAIL, "sigbus"])
    assert run.returncode == 1
    assert b"ERROR: Unexpected bus error encountered in worker" in run.stderr
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert finding.name == "native-crash" and finding.hint == reasons.HINT_SHM, finding
    assert re.fullmatch(r"RuntimeError: DataLoader worker \(pid \d+\) is killed by signal: Bus error\. It is"
                        r" possible that dataloader's workers are out of shared memory\. Please try to raise"
                        r" your shared memory limit\.", finding.error), finding.error


def test_torch_running_out_of_host_memory():
    # c10's CPUAllocator refuses 64 TiB: the hint is the host's memory, not the GPU's.
    run = run_tails([sys.executable, "-c", "import torch; torch.empty(1 << 46, dtype=torch.uint8)"])
    assert run.returncode == 1
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert "DefaultCPUAllocator" in finding.error and finding.hint == reasons.HINT_HOST_MEMORY, finding


def test_a_rank_that_died_of_the_consequence_is_not_the_root_cause(jobs):
    # Issue 21 (accelerate over torchrun): rank 1 raises and takes seconds to exit after closing
    # its connections; rank 0 dies at once of the connection reset, so torchrun's "Root Cause"
    # names rank 0. Rank 1's own exception came first in the output: it is the one.
    run = jobs("raise-slow")
    assert ROOT_RANK.search(run.stderr).group(1) == b"0", run.stderr[-2000:].decode(errors="replace")
    assert re.search(rb"\[rank0\]: RuntimeError: .*Connection (reset|closed) by peer", run.stderr)
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert finding.name == "torchrun-root-cause"
    assert re.fullmatch(r"rank 1 failed first: ValueError: bad lr on rank 1 \(torchrun's summary names rank 0,"
                        r" exit code 1, which died of it\)", finding.error), finding.error


def test_ranks_that_cannot_open_the_script(tmp_path):
    # Python's own words (exit code 2) come unprefixed, before torch could prefix anything.
    missing = tmp_path / "no-such-train.py"
    argv = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
            "--master-port", str(free_port()), str(missing)]
    run = run_tails(argv)
    assert run.returncode == 1
    finding = reasons.diagnose(run.stdout, run.stderr)
    assert finding.name == "torchrun-root-cause"
    assert re.fullmatch(rf"rank [01] failed first \(exit code 2\): .*python\S*: can't open file '{missing}':"
                        r" \[Errno 2\] No such file or directory", finding.error), finding.error
