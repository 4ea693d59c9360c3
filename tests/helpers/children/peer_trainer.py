"""One rank of a multi-host torch.distributed job (gloo, CPU), as a SageMaker host runs it.

Run in the multi-host image (tests/helpers/cluster.py) on every host of a job, under torchrun
(``torchrun --nnodes N --node_rank K ... peer_trainer.py``, rank and world from torchrun) or alone
(no RANK in the environment: the rank is this host's place in resourceconfig.json's ``hosts``,
the master ``hosts[0]``, as a launcher-free env:// job does). Each step is one all_reduce across
every host, then ``MH_STEP_SECONDS`` of "work"; local rank 0 then writes a checkpoint into
``/opt/ml/checkpoints`` (write to a temp file, then rename: a reader never sees half of one), which
the example image's pre-kill hook copies into /opt/ml/model when the host is stopped.

What it does is set per host by the environment (a value ``algo-2=4,algo-3=9`` holds one number
per host; a host not named gets none):
  MH_STEPS             steps in all (default 100000), then exit 0
  MH_STEP_SECONDS      seconds per step (default 0.2)
  MH_FAIL_AT           raise RuntimeError(MH_FAIL_MESSAGE) at this step on this host
  MH_FAIL_MESSAGE      default "host two exploded"
  MH_COLLECTIVE_STEPS  after this many steps, leave the process group and go on alone (the steps
                       after it need no other host: a host may then finish first and exit 0)
  MH_GLOO_TIMEOUT      the process group's timeout in seconds (default 600: long, so that a silent
                       peer is noticed by sm-init, never by gloo)

Every line goes out in one write, with the host, the rank and the wall clock (epoch seconds: the
containers share the host's clock, so a test can measure from the moment of an event):
``trainer: algo-2 rank 1 step 5 done t=1765076000.123``, ``trainer: algo-2 rank 1 raising t=...``.
"""

import json
import os
import sys
import time

ML_ROOT = os.environ.get("SM_ML_ROOT", "/opt/ml")
CHECKPOINTS = os.path.join(ML_ROOT, "checkpoints")


def resource_config():
    with open(os.path.join(ML_ROOT, "input", "config", "resourceconfig.json"), encoding="utf-8") as f:
        return json.load(f)


def per_host(name, host, default=None):
    """MH_<name> for this host: a plain number for every host, or ``algo-2=4,algo-3=9``."""
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if "=" not in value:
        return float(value)
    for item in value.split(","):
        key, _, number = item.partition("=")
        if key.strip() == host:
            return float(number)
    return default


def say(host, rank, text):
    sys.stdout.write("trainer: %s rank %d %s t=%.3f\n" % (host, rank, text, time.time()))
    sys.stdout.flush()


def save_checkpoint(step, total):
    os.makedirs(CHECKPOINTS, exist_ok=True)
    path = os.path.join(CHECKPOINTS, "ckpt-%06d.json" % step)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump({"step": step, "total": total, "final": False, "time": time.time()}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(path + ".tmp", path)


def main():
    config = resource_config()
    host, hosts = config["current_host"], config["hosts"]
    if "RANK" not in os.environ:
        os.environ.update(RANK=str(hosts.index(host)), WORLD_SIZE=str(len(hosts)), LOCAL_RANK="0",
                          MASTER_ADDR=hosts[0], MASTER_PORT=os.environ.get("MASTER_PORT", "29500"))
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    steps = int(per_host("MH_STEPS", host, 100000))
    step_seconds = per_host("MH_STEP_SECONDS", host, 0.2)
    fail_at = per_host("MH_FAIL_AT", host)
    collective_steps = per_host("MH_COLLECTIVE_STEPS", host)
    message = os.environ.get("MH_FAIL_MESSAGE", "host two exploded")
    say(host, rank, "starting")

    import datetime
    import torch
    import torch.distributed as dist
    timeout = datetime.timedelta(seconds=per_host("MH_GLOO_TIMEOUT", host, 600))
    dist.init_process_group("gloo", timeout=timeout)
    world = dist.get_world_size()
    say(host, rank, "joined a world of %d" % world)
    grouped = True
    total = 0.0
    for step in range(1, steps + 1):
        if fail_at is not None and step == int(fail_at):
            say(host, rank, "raising")
            raise RuntimeError(message)
        if grouped:
            value = torch.ones(1)
            dist.all_reduce(value)
            assert value.item() == world, value.item()
        total += 1.0
        time.sleep(step_seconds)
        if local_rank == 0:
            save_checkpoint(step, total)
        say(host, rank, "step %d done" % step)
        if grouped and collective_steps is not None and step == int(collective_steps):
            dist.destroy_process_group()
            grouped = False
            say(host, rank, "left the process group")
    say(host, rank, "completed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
