"""Failure reasons from recorded output of what can't run here: CUDA out of memory, NCCL errors.

The fixtures under fixtures/reasons carry, in their header, the public reports their message lines
come from and what around them is the fixture's own.
"""

import pytest

from sm_init import reasons
from tails import check_text, fixture

ENDING = "Training command `torchrun --nproc-per-node 8 train.py` exited with code 1."

RECORDED = [
    # fixture, recogniser, where, error (start), hint
    ("cuda_oom.txt", "cuda-oom", "stderr",
     "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 22.00 MiB. GPU 0 has a total"
     " capacity of 23.65 GiB of which 11.06 MiB is free.", reasons.HINT_CUDA_OOM),
    ("cuda_oom_legacy.txt", "cuda-oom", "stderr",
     "RuntimeError: CUDA out of memory. Tried to allocate 512.00 MiB (GPU 0; 15.90 GiB total"
     " capacity;", reasons.HINT_CUDA_OOM),
    ("nccl_unhandled_cuda.txt", "nccl", "stderr [rank 7]",
     "rank 7: torch.distributed.DistBackendError: NCCL error in:"
     " ../torch/csrc/distributed/c10d/NCCLUtils.hpp:275, unhandled cuda error", reasons.HINT_NCCL),
    ("nccl_watchdog_bar.txt", "nccl", "stderr",   # the progress bar before it is not the error
     "[Rank 0] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=96120,"
     " OpType=ALLREDUCE, Timeout(ms)=1800000) ran for 25624887 milliseconds", reasons.HINT_NCCL),
    ("nccl_watchdog_torchrun.txt", "torchrun-root-cause", "stderr (torchrun summary)",
     "rank 1 failed first (killed by SIGABRT): [Rank 1] Watchdog caught collective operation"
     " timeout: WorkNCCL(SeqNum=7753, OpType=_REDUCE_SCATTER_BASE,", reasons.HINT_NCCL),
]


@pytest.mark.parametrize("name, recogniser, source, error, hint", RECORDED,
                         ids=[row[0] for row in RECORDED])
def test_recorded(name, recogniser, source, error, hint):
    stderr = fixture(name)
    finding = reasons.diagnose(b"", stderr)
    assert (finding.name, finding.source, finding.hint) == (recogniser, source, hint)
    assert finding.error.startswith(error), finding.error
    text = check_text(reasons.failure_text(ENDING, b"", stderr))
    assert text.startswith(f"{ENDING}\nError: {error}")
    assert f"\nHint: {hint}\nLast lines of stderr:\n" in text


def test_a_tail_cut_inside_a_traceback_has_no_traceback_line():
    # nccl_unhandled_cuda.txt starts inside rank 7's traceback, its header cut off: the exception
    # line is not taken for a traceback's (nothing says where one began), NCCL still finds it.
    lines = reasons.read_lines("stderr", fixture("nccl_unhandled_cuda.txt"))
    assert reasons.python_traceback(lines) is None
    assert reasons.diagnose(b"", fixture("nccl_unhandled_cuda.txt")).name == "nccl"


def test_a_torchrun_summary_without_the_ranks_lines():
    # Only the summary survived in the tail: the root cause rank and its signal, and the hint that
    # goes with that signal (none for SIGABRT).
    stderr = fixture("nccl_watchdog_torchrun.txt")
    summary = stderr[stderr.index(b"Traceback (most recent call last):"):]
    finding = reasons.diagnose(b"", summary)
    assert finding == reasons.Finding("rank 1 failed first (killed by SIGABRT), per torchrun's summary",
                                      None, "stderr (torchrun summary)", "torchrun-root-cause")
