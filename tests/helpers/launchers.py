"""Real training launchers under sm-init: their command lines, what their ranks said, what they saved.

The jobs are tests/helpers/children/launched.py (any launcher, or none) and hf_train.py (an HF
Trainer), run from that folder with this virtual environment's programs first on PATH (as in an
image: `accelerate launch launched.py ...`), on CPU with gloo, offline (no hub), DeepSpeed on its
CPU accelerator. Each rank prints ``rank R ready ...`` once it trained a step, ``rank R got SIG``
for each signal and ``rank R saved`` once its final save is complete (written to a ``.tmp`` file,
then renamed).
"""

import os
import re
import sys

from .commands import CHILDREN
from .net import free_port
from .realinit import train

VENV_BIN = os.path.dirname(sys.executable)
# Launchers start slowly on a busy 2-core machine (torch, then accelerate or DeepSpeed, in each
# rank and in the launcher): up to a minute was seen before the first step.
START = 300


def job_env(tmp_path):
    return {**os.environ,
            "PATH": VENV_BIN + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
            "HF_HOME": str(tmp_path / "hf"),     # no accelerate config of this machine's
            "HF_HUB_OFFLINE": "1", "DS_ACCELERATOR": "cpu", "PYTHONUNBUFFERED": "1",
            "OMP_NUM_THREADS": "1", "TORCH_EXTENSIONS_DIR": str(tmp_path / "extensions")}


def launch(launcher, script, *args):
    """argv of ``script ARGS`` behind ``launcher`` (``python``: none), and its ranks."""
    port = str(free_port())
    if launcher == "python":
        return ["python", script, *args], [0]
    if launcher == "torchrun":
        return ["torchrun", "--nproc-per-node", "2", "--master-port", port, script, *args], [0, 1]
    if launcher == "accelerate":
        return ["accelerate", "launch", script, *args], [0]
    if launcher == "accelerate-multi":
        return ["accelerate", "launch", "--multi_gpu", "--num_processes", "2", "--main_process_port", port,
                script, *args], [0, 1]
    if launcher == "deepspeed":
        return ["deepspeed", "--num_gpus", "2", "--master_port", port, script, *args], [0, 1]
    raise ValueError(launcher)


def start_job(start_init, ml, tmp_path, argv, *sm_init_args):
    """sm-init in train mode over ``argv``, run from the children's folder."""
    return train(start_init, ml, argv, *sm_init_args, env=job_env(tmp_path), cwd=CHILDREN)


def wait_ready(init, ranks, workers=0):
    """Every rank trained a step (and each of its ``workers`` DataLoader workers started)."""
    for rank in ranks:
        for worker in range(workers):
            init.out.expect(rf"^rank {rank} worker {worker} ready ", timeout=START)
        init.out.expect(rf"^rank {rank} ready ", timeout=START)


def signals(init, rank, worker=None):
    """The signals a rank (or one of its workers) reported, in order."""
    who = f"rank {rank}" + (f" worker {worker}" if worker is not None else "")
    return [found.group(1) for line in init.out.seen
            for found in [re.match(rf"{who} got (SIG\w+)$", line)] if found]


def load(path):
    """A saved file, loaded by torch (imported here: the test modules skip without it)."""
    import torch
    return torch.load(path)


def save_of(directory, rank):
    """``complete`` (the final save is there, whole, and loads), ``partial`` (only its .tmp is
    there: the save was cut short) or ``none``."""
    final = os.path.join(directory, f"final-rank{rank}.pt")
    if os.path.exists(final):
        load(final)   # raises on a truncated file
        return "partial" if os.path.exists(final + ".tmp") else "complete"
    return "partial" if os.path.exists(final + ".tmp") else "none"
