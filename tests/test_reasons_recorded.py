"""Failure reasons from recorded output of what can't run here: CUDA out of memory, NCCL errors.

The fixtures under fixtures/reasons carry, in their header, where their text comes from: the
``h200_*`` ones are whole, unedited stderr of real programs run for this project on a lent H200
GPU; the others take their message lines from public reports (cited) in frames of their own.
"""

import pytest

from helpers.tails import check_text, fixture
from sm_init import reasons

ENDING = "Training command `torchrun --nproc-per-node 8 train.py` exited with code 1."

RECORDED = [
    # fixture, recogniser, where, error (start), hint
    ("cuda_oom.txt", "cuda-oom", "stderr",
     "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 22.00 MiB. GPU 0 has a total"
     " capacity of 23.65 GiB of which 11.06 MiB is free.", reasons.HINT_CUDA_OOM),
    ("cuda_oom_legacy.txt", "cuda-oom", "stderr",
     "RuntimeError: CUDA out of memory. Tried to allocate 512.00 MiB (GPU 0; 15.90 GiB total"
     " capacity;", reasons.HINT_CUDA_OOM),
    ("h200_cuda_oom.txt", "cuda-oom", "stderr",
     "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 400.00 GiB. GPU 0 has a total"
     " capacity of 139.80 GiB of which 139.29 GiB is free.", reasons.HINT_CUDA_OOM),
    ("h200_torchrun_oom.txt", "torchrun-root-cause", "stderr (torchrun summary)",
     "rank 1 failed first (exit code 1): torch.OutOfMemoryError: CUDA out of memory. Tried to"
     " allocate 400.00 GiB.", reasons.HINT_CUDA_OOM),
    ("h200_nccl_duplicate_gpu.txt", "torchrun-root-cause", "stderr (torchrun summary)",
     "rank 0 failed first (exit code 1): torch.distributed.DistBackendError: NCCL error in:"
     " /pytorch/torch/csrc/distributed/c10d/NCCLUtils.cpp:93, invalid usage, NCCL version 2.28.9;"
     " last error: Duplicate GPU detected : rank 0 and rank 1 both on CUDA device 60",
     reasons.HINT_NCCL),
    ("nccl_unhandled_cuda.txt", "nccl", "stderr [rank 7]",
     "rank 7: torch.distributed.DistBackendError: NCCL error in:"
     " ../torch/csrc/distributed/c10d/NCCLUtils.hpp:275, unhandled cuda error, NCCL version 2.20.5;"
     " last error: Cuda failure 1 'invalid argument'", reasons.HINT_NCCL),
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


def test_a_tail_cut_inside_a_traceback_still_ends_in_its_exception():
    # nccl_unhandled_cuda.txt starts inside rank 7's traceback, its header cut off: the exception
    # line after the last frame's code ends it (its message runs on, wrapped, to the NCCL error's
    # kind), and NCCL, a known cause, is still what the file shows.
    lines = reasons.read_lines("stderr", fixture("nccl_unhandled_cuda.txt"))
    hit = reasons.python_traceback(lines)
    assert hit.error.startswith("torch.distributed.DistBackendError: NCCL error in:")
    assert hit.error.endswith("ncclUnhandledCudaError: Call to CUDA function failed.")
    assert reasons.diagnose(b"", fixture("nccl_unhandled_cuda.txt")).name == "nccl"


def test_a_torchrun_summary_without_the_ranks_lines():
    # Only the summary survived in the tail: the root cause rank and its signal, and the hint that
    # goes with that signal (none for SIGABRT).
    stderr = fixture("nccl_watchdog_torchrun.txt")
    summary = stderr[stderr.index(b"Traceback (most recent call last):"):]
    finding = reasons.diagnose(b"", summary)
    assert finding == reasons.Finding("rank 1 failed first (killed by SIGABRT), per torchrun's summary",
                                      None, "stderr (torchrun summary)", "torchrun-root-cause")
