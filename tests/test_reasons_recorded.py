"""Failure reasons from recorded output of what can't run here: CUDA out of memory, NCCL errors.

The fixtures under fixtures/reasons carry, in their header, where their text comes from: the
``h200_*`` ones are whole, unedited stderr of real programs run for this project on a lent H200
GPU; the others take their message lines from public reports (cited) in frames of their own.
"""

import os

import pytest

from helpers import wild
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
    assert finding == reasons.Finding("train.py FAILED: rank 1 failed first (exitcode -6, Signal 6 (SIGABRT)), per"
                                      " torchrun's summary", None, "stderr (torchrun summary)",
                                      "torchrun-root-cause")


# Issue 18's list, item by item, on the real logs of the corpus (tests/fixtures/reasons/wild: each
# one's sidecar names its thread), each of which the recognisers got wrong before: which one finds
# what, and the words the Error line must hold.
ISSUE_18 = [
    # item, corpus case, recogniser, in the error
    ("'Killed' alone", "killed_alone_lte", "killed", "Killed"),
    ("'Killed' glued to a bar", "killed_glued_to_bar_landmark", "killed", "Killed"),
    ("mpirun's signal 9", "mpirun_signal9_only_nas", "launcher-report", "exited on signal 9 (Killed)."),
    ("mpiexec's, wrapped", "mpiexec_signal6_wrapped_adda", "launcher-report", "exited on signal 6 (Aborted)."),
    ("DeepSpeed's -9", "deepspeed_launcher_minus9_dschat", "launcher-report", "exits with return code = -9"),
    ("ExecuteUserScriptError", "sagemaker_containers_executeuserscripterror_only", "launcher-report",
     "ExecuteUserScriptError: Command \"/usr/bin/python -m rnn"),
    ("can't open file", "torchrun_cant_open_file_r1v", "launcher-report", "can't open file"),
    ("unhandled system error", "nccl_unhandled_system_error_slowfast", "nccl", "unhandled system error"),
    ("any CUDA error", "cuda_no_kernel_image_moss", "cuda-error",
     "CUDA error: no kernel image is available for execution on the device"),
    ("a device-side assert", "cuda_device_assert_nanogpt", "cuda-error", "CUDA error: device-side assert triggered"),
    ("Process group watchdog", "nccl_watchdog_cxx_timeout_megatron", "nccl",
     "Process group watchdog thread terminated with exception"),
    ("Ray's prefix", "ray_actor_prefix_nccl_watchdog_vllm", "cuda-error", "RayWorkerVllm pid=5304: "),
    ("rich's box, wrapped", "accelerate_rich_calledprocesserror_wrapped", "wrapper-traceback",
     "returned non-zero exit status 1."),
    ("a tail cut mid-traceback", "transformers_trainer_keyerror_loss", "python-traceback", "KeyError: 'loss'"),
    ("a known cause in prose", "ray_train_actor_died_mid_traceback", "python-traceback", "ActorDiedError"),
    ("Fatal Python error after a bar", "faulthandler_none_dealloc_after_bar_swift", "native-crash",
     "Fatal Python error: none_dealloc"),
    ("a long error's end", "accelerate_calledprocesserror_long_command", "wrapper-traceback",
     "returned non-zero exit status 1."),
]


@pytest.mark.parametrize("item, name, recogniser, words", ISSUE_18, ids=[row[0] for row in ISSUE_18])
def test_issue_18_on_real_logs(item, name, recogniser, words):
    case = next(case for case in wild.cases() if case.name == name)
    stderr = case.log[-wild.TAIL:]
    finding = reasons.diagnose(b"", stderr)
    assert finding.name == recogniser and words in finding.error, finding
    error, wrong = wild.judge(case)
    assert wrong is None, (error, wrong)
    assert not reasons.BAR.search(error) and "CUDA_LAUNCH_BLOCKING" not in error


# Lines of public reports with no whole log in the corpus, in frames of their own (cited).
CITED = [
    # https://github.com/pytorch/pytorch/issues/13519 (torch 1.0's wording)
    ("nccl", "RuntimeError: NCCL Error 3: internal error\n", "NCCL Error 3: internal error"),
    # https://github.com/NVIDIA/nccl/issues/1092: 2.18 reports network errors so
    ("nccl", "[rank3]: ncclSystemError: System call (e.g. socket, malloc) or external library call failed"
             " or device error.\n", "rank 3: ncclSystemError: System call"),
    # wild/cxx_bad_alloc_painter.log's two lines, with another thread's lines between the terminate
    # and its what() (as a terminal or a second process puts them)
    ("cxx-exception", "terminate called after throwing an instance of 'std::bad_alloc'\n"
                      + "".join(f"epoch 3 step {i}: loss 0.{i}\n" for i in range(6))
                      + "  what():  std::bad_alloc\nAborted (core dumped)\n",
     "std::bad_alloc: std::bad_alloc"),
]


@pytest.mark.parametrize("recogniser, text, words", CITED, ids=[row[2][:30] for row in CITED])
def test_cited_lines(recogniser, text, words):
    finding = reasons.find_error(text)
    assert finding.name == recogniser and words in finding.error, finding


# Real failing jobs behind accelerate and DeepSpeed under sm-init (fixtures/reasons/launchers, its
# README says how they were recorded): the tails hold the tree's lines, not sm-init's own.
LAUNCHERS = os.path.join(os.path.dirname(wild.WILD), "launchers")


def launched(run):
    """(stdout, stderr) of a recorded run as sm-init's tails hold them."""
    with open(os.path.join(LAUNCHERS, run + ".stdout"), "rb") as f:
        stdout = f.read()
    with open(os.path.join(LAUNCHERS, run + ".stderr"), "rb") as f:
        stderr = b"".join(line for line in f if not line.startswith(b"sm-init: "))
    return stdout[-wild.TAIL:], stderr[-wild.TAIL:]


def test_accelerate_one_process_gives_the_trainers_exception_not_the_launchers_reraise():
    # Issue 21, item 4: accelerate re-raises the child's failure as CalledProcessError from a
    # RuntimeError holding the child's stderr; the failure file sm-init wrote then named that.
    with open(os.path.join(LAUNCHERS, "accelerate_single-1.failure")) as f:
        recorded = f.read()
    assert "Error: subprocess.CalledProcessError" in recorded and "ValueError" not in recorded
    finding = reasons.diagnose(*launched("accelerate_single-1"))
    assert (finding.name, finding.error) == ("python-traceback", "ValueError: rank 0 exploded")


RUNS = sorted(name[:-len(".stderr")] for name in os.listdir(LAUNCHERS)
              if name.endswith(".stderr") and not name.startswith("accelerate_single"))


@pytest.mark.parametrize("run", RUNS)
def test_ranks_behind_accelerate_and_deepspeed(run):
    # Rank 1 raised; rank 0 died of the closed connection or was stopped: rank 1's ValueError.
    finding = reasons.diagnose(*launched(run))
    assert finding.error.endswith("rank 1: ValueError: rank 1 exploded") or \
        finding.error == "rank 1 failed first (exit code 1): ValueError: rank 1 exploded", finding
