"""A failing training job in Dockerfile.example's image: what `docker logs` and the failure file show.

The same job runs twice in the same image: once as SageMaker runs it (sm-init as PID 1, its output
relayed), once with the trainer itself as the entrypoint (no sm-init). `docker logs` of the first,
less sm-init's own lines and the pre-kill hook's, must be the second's byte for byte, stream by
stream; /opt/ml/output/failure (a host directory) must hold the exception in the trainer's words.
"""
import re

import pytest

from helpers.docker_harness import make_ml_root, wait_exit

pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]

HYPERPARAMETERS = {"steps": 10, "step_seconds": 0.05, "fail_at_step": 4, "log_lines": 40}
OWN_LINE = re.compile(rb"^(?:sm-init: |hook save-checkpoint: ).*\n", re.M)   # sm-init's and its hook's
PIDS = re.compile(rb"pid=\d+ pgid=\d+")   # the one line that differs: the trainer is PID 1 without sm-init


def run_job(containers, ml, **kwargs):
    c = containers(["train"], ml=ml, **kwargs)
    code = wait_exit(c, 120)
    return code, c.logs(stdout=True, stderr=False), c.logs(stdout=False, stderr=True)


def test_a_failing_job_logs_unchanged_and_the_failure_file_holds_the_exception(containers, tmp_path):
    ml = make_ml_root(tmp_path / "ml", HYPERPARAMETERS)
    code, stdout, stderr = run_job(containers, ml)
    plain = make_ml_root(tmp_path / "plain", HYPERPARAMETERS)
    plain_code, plain_stdout, plain_stderr = run_job(containers, plain,
                                                     entrypoint=["python3", "/opt/program/train.py"])
    assert code == plain_code == 1

    # The trainer's output, unchanged: sm-init's lines (and its hook's) come between whole lines.
    assert PIDS.sub(b"pid=N", stdout) == PIDS.sub(b"pid=N", plain_stdout)
    assert OWN_LINE.sub(b"", stderr) == plain_stderr
    assert b"train: step 4 detail 37: loss=0.0244 \xe2\x80\x94 ok\n" in stdout        # UTF-8 as written
    assert plain_stderr.endswith(b"RuntimeError: simulated failure at step 4 (fail_at_step)\n")
    assert len(stdout) > 4 * 26 * 40
    assert re.search(rb"^sm-init: exit: 1 ", stderr, re.M)

    # The failure file, written by sm-init (PID 1 in the container) into the mounted /opt/ml.
    reason = (ml / "output" / "failure").read_bytes()
    assert len(reason) <= 1024
    text = reason.decode("utf-8")
    print(text)
    assert text.startswith("Training command `python3 /opt/program/train.py` exited with code 1.\n"
                           "Error: RuntimeError: simulated failure at step 4 (fail_at_step)\n"
                           "Last lines of stderr:\n")
    assert text.endswith('    raise RuntimeError("simulated failure at step %d (fail_at_step)" % step)\n'
                         "RuntimeError: simulated failure at step 4 (fail_at_step)")
    assert not (plain / "output" / "failure").exists()     # without sm-init, nobody writes it
