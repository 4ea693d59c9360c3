"""Failure files end to end: real failing programs under the real sm-init in train mode (PID 1 and
subreaper), the tree's output relayed, the failure file read back from a temporary --ml-root.

Each file must give, within SageMaker's 1024 bytes of UTF-8: how the job ended, the error in the
trainer's own words, and its last lines. (the reasons package's own tests check the recognisers on tails;
these check that the tails sm-init keeps while relaying are the ones that reach the file.)
"""

import os
import re
import shlex
import sys

import pytest

from helpers.commands import CHILDREN
from helpers.net import free_port
from helpers.realinit import TIMEOUT, train as start_train
from helpers.tails import check_readable, failure_of

if os.environ.get("CI"):
    import torch  # noqa: F401  (CI: tests/run installs torch; a missing torch fails, never skips)
else:
    pytest.importorskip("torch", reason="tests/run installs torch (the test extra)")


# As a person would write them (`python failing.py ...`), from their directory, this virtual
# environment's python and torchrun first on PATH: the files read as in an image (docs/failures.md quotes them).
PATH = os.path.dirname(sys.executable) + ":" + os.environ.get("PATH", "/usr/bin:/bin")


def train(start_init, ml, trainer):
    init = start_train(start_init, ml, trainer, env={**os.environ, "PATH": PATH}, cwd=CHILDREN)
    code = init.wait(TIMEOUT * 2)
    init.out.drain()
    text = check_readable(failure_of(ml))
    print(text)
    return code, text, init


def parts(text):
    """(ending, error, hint or None, last lines header, last lines)."""
    match = re.fullmatch(r"(.*?)\nError: (.*?)(?:\nHint: (.*?))?\n(Last lines of std(?:out|err)):\n(.*)", text, re.S)
    assert match, text
    return match.groups()


def test_a_python_exception_after_200_kb_of_logs(start_init, ml):
    code, text, init = train(start_init, ml, ["python", "failing.py", "raise-after-logs"])
    assert code == 1
    ending, error, hint, header, last = parts(text)
    assert ending == "Training command `python failing.py raise-after-logs` exited with code 1."
    assert (error, hint, header) == ("ValueError: bad lr: -0.5 (must be positive)", None, "Last lines of stderr")
    assert last.endswith('    raise ValueError("bad lr: -0.5 (must be positive)")\n'
                         "ValueError: bad lr: -0.5 (must be positive)")
    assert re.search(r"INFO step \d+ checkpoint not due", last)      # the logs before it, colours gone
    assert sum(len(line) + 1 for line in init.out.seen) > 100 * 1024   # the 200 KB went by (half on stdout)


def test_a_cuda_out_of_memory_message(start_init, ml):
    code, text, _ = train(start_init, ml, ["python", "failing.py", "cuda-oom"])
    assert code == 1
    ending, error, hint, header, last = parts(text)
    assert ending.endswith("failing.py cuda-oom` exited with code 1.")
    assert error.startswith("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 400.00 GiB. GPU 0 has a"
                            " total capacity of 139.80 GiB")
    assert hint.startswith("The GPU ran out of memory: lower the batch size")
    assert last.startswith("epoch 1 step") or "INFO step" in last
    assert "torch.OutOfMemoryError: CUDA out of memory." in last.splitlines()[-1]


def test_a_full_disk(start_init, ml):
    code, text, _ = train(start_init, ml, ["python", "failing.py", "disk-full"])
    assert code == 1
    _, error, hint, header, last = parts(text)
    assert error == "OSError: [Errno 28] No space left on device"
    assert hint.startswith("A disk is full")
    assert last.endswith('    checkpoint.write("x" * 100000)\nOSError: [Errno 28] No space left on device')


def test_a_torchrun_job_whose_rank_1_raises(start_init, ml):
    torchrun = ["torchrun", "--nproc-per-node", "2", "--master-port", str(free_port()), "ddp_fail.py", "raise"]
    code, text, _ = train(start_init, ml, torchrun)
    assert code == 1
    ending, error, hint, header, last = parts(text)
    assert ending == f"Training command `{shlex.join(torchrun)}` exited with code 1."
    # A rank that raised sometimes dies of SIGABRT on its way out (gloo's threads at exit): see
    # test_reasons_torch.py.
    assert re.fullmatch(r"rank 1 failed first \((?:exit code 1|killed by SIGABRT)\): ValueError: bad lr on rank 1", error)
    assert header == "Last lines of stderr"
    # torchrun's summary ends with the root cause's traceback line: a link, or the signal it died of
    assert re.search(r"traceback : (To enable traceback see: https://pytorch\.org/docs/stable/elastic/errors\.html"
                     r"|Signal 6 \(SIGABRT\) received by PID \d+)\Z", last), last[-300:]
