"""End to end: Dockerfile.example's image run the way SageMaker runs it (`docker run IMAGE train|serve`,
`docker stop -t T`), driven through the docker SDK. Readiness always comes from the container's output.
"""
import json
import socket
import time
import urllib.request

import pytest

from helpers.docker_harness import container_logs, make_ml_root, sm_init_lines, wait_exit, wait_for_log

# The session fixture may have to install and start dockerd and debootstrap the base image: allow for
# it; every wait inside a test has its own, much shorter, limit.
pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]


def docker_stop(container, timeout):
    """`docker stop -t TIMEOUT`: (seconds it took, the container's exit code, its output)."""
    t0 = time.monotonic()
    container.stop(timeout=timeout)
    elapsed = time.monotonic() - t0
    return elapsed, wait_exit(container, 10), container_logs(container)


def assert_in_order(text, *patterns):
    """Each substring appears in text, after the previous one."""
    pos = 0
    for p in patterns:
        i = text.find(p, pos)
        assert i >= 0, "%r not found (in order) in output:\n%s" % (p, text)
        pos = i + len(p)


def streams(container):
    """(stdout, stderr): sm-init and the hook write on stderr, the example programs on stdout. The two
    are separate pipes, so order is only asserted within one of them."""
    return (container.logs(stdout=True, stderr=False).decode("utf-8", "replace"),
            container.logs(stdout=False, stderr=True).decode("utf-8", "replace"))


def assert_exit_line(text, code):
    lines = sm_init_lines(text)
    assert lines, "no sm-init line in output:\n%s" % text
    assert lines[-1].startswith("sm-init: exit: %d" % code), \
        "last sm-init line is not `sm-init: exit: %d`:\n%s" % (code, "\n".join(lines))


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def test_image_layout(containers):
    """Nothing under /opt/ml in the image; sm-init is on PATH but its packages stay out of the trainer's python."""
    probe = ("import importlib.util, os, shutil; "
             "print('opt_ml', os.path.exists('/opt/ml')); "
             "print('sm_init', os.path.realpath(shutil.which('sm-init'))); "
             "print('click', importlib.util.find_spec('click') is not None); "
             "print('hooks', sorted(os.listdir('/etc/sm-init/pre-kill.d')))")
    c = containers(["python3", "-c", probe])
    assert wait_exit(c, 60) == 0
    out = container_logs(c)
    assert "opt_ml False" in out
    assert "sm_init /opt/sm-init/venv/bin/sm-init" in out
    assert "click False" in out
    assert "hooks ['10-save-checkpoint']" in out
    assert_exit_line(out, 0)


def test_train_completes(containers, tmp_path):
    ml = make_ml_root(tmp_path / "ml", {"epochs": 3, "step_seconds": 0.2})
    c = containers(["train"], ml=ml)
    assert wait_exit(c, 120) == 0
    out = container_logs(c)
    stdout, _ = streams(c)
    assert "host=algo-1 channels=training" in stdout
    assert "sm-init: start: train" in out
    assert_in_order(stdout, "train: step 3/3 done", "train: completed")
    assert_exit_line(out, 0)
    assert read_json(ml / "model" / "model.json") == {"steps": 3, "state": 6}
    assert (ml / "checkpoints" / "ckpt-000003.json").exists()
    assert not (ml / "output" / "failure").exists()
    # no stop, no failure: the pre-kill hook does not run by default
    assert not (ml / "model" / "last-checkpoint.json").exists()


def test_train_stop_partway(containers, tmp_path):
    """`docker stop -t T` in the middle: sm-init forwards SIGTERM, the trainer saves and exits, the hook
    copies the checkpoint, and sm-init exits long before Docker's SIGKILL."""
    T = 30
    ml = make_ml_root(tmp_path / "ml", {"steps": 1000, "step_seconds": 0.3})
    c = containers(["train"], ml=ml)
    wait_for_log(c, r"^train: step 3/1000 done", timeout=60)
    elapsed, code, out = docker_stop(c, T)
    assert elapsed < T - 5, "took %.1fs to stop (docker's SIGKILL at %ss)" % (elapsed, T)
    assert code == 143, "exit code %s (137 would be Docker's SIGKILL):\n%s" % (code, out)
    stdout, stderr = streams(c)
    assert_in_order(stdout, "train: received SIGTERM", "train: checkpoint", "train: stopped by SIGTERM")
    assert_in_order(stderr, "sm-init: start: train", "sm-init: stop: SIGTERM", "sm-init: hooks:",
                    "hook save-checkpoint: copied", "sm-init: exit: 143")
    assert_exit_line(out, 143)
    saved = read_json(ml / "model" / "last-checkpoint.json")
    assert saved["final"] is True and saved["step"] >= 3
    assert not (ml / "model" / "model.json").exists()
    assert not (ml / "output" / "failure").exists(), "a stop is not a failure"


def test_train_ignoring_sigterm(containers, tmp_path):
    """A trainer that ignores SIGTERM: sm-init's stop timeout (6 s) still ends the container before
    Docker's (20 s), after the hook saved the newest checkpoint."""
    T, S = 20, 6
    ml = make_ml_root(tmp_path / "ml", {"steps": 1000, "step_seconds": 0.3, "ignore_sigterm": "true"})
    c = containers(["train"], ml=ml, environment={"SM_INIT_STOP_TIMEOUT": str(S)})
    wait_for_log(c, r"^train: step 2/1000 done", timeout=60)
    elapsed, code, out = docker_stop(c, T)
    assert elapsed < S + 3, "took %.1fs; sm-init's stop timeout is %ss, Docker's %ss" % (elapsed, S, T)
    stdout, stderr = streams(c)
    assert "train: received SIGTERM, ignoring it" in stdout
    assert_in_order(stderr, "sm-init: stop: SIGTERM", "sm-init: hooks:", "hook save-checkpoint: copied",
                    "sm-init: kill:", "sm-init: exit: %d" % code)
    # sm-init's SIGKILL of the trainer: 128+9, reported by sm-init itself in its last line.
    assert code == 137
    assert_exit_line(out, 137)
    saved = read_json(ml / "model" / "last-checkpoint.json")
    assert saved["step"] >= 2


def test_train_failure(containers, tmp_path):
    ml = make_ml_root(tmp_path / "ml", {"steps": 10, "step_seconds": 0.2, "fail_at_step": 2})
    c = containers(["train"], ml=ml)
    code = wait_exit(c, 120)
    out = container_logs(c)
    assert code == 1, out
    assert_exit_line(out, 1)
    failure = ml / "output" / "failure"
    assert failure.exists(), "no %s:\n%s" % (failure, out)
    reason = failure.read_bytes().decode("utf-8")  # must be UTF-8
    assert reason.strip(), "empty failure file"
    assert "1" in reason, "failure reason does not give the exit code: %r" % reason
    # a failure runs the pre-kill hooks too (default --hooks-on failure)
    assert "hook save-checkpoint: copied ckpt-000001.json" in out
    assert read_json(ml / "model" / "last-checkpoint.json")["step"] == 1


def _serve_endpoint(harness, containers):
    """Start `serve`; return (container, base URL). Bridge: port 8080 published on 127.0.0.1."""
    if harness.network_mode == "bridge":
        c = containers(["serve"], ports={"8080/tcp": ("127.0.0.1", None)})
        wait_for_log(c, r"^serve: listening on port 8080", timeout=60)
        c.reload()
        host_port = int(c.attrs["NetworkSettings"]["Ports"]["8080/tcp"][0]["HostPort"])
    else:  # dockerd without a bridge: host network, SAGEMAKER_BIND_TO_PORT picks a free port
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            host_port = s.getsockname()[1]
        c = containers(["serve"], environment={"SAGEMAKER_BIND_TO_PORT": str(host_port)})
        wait_for_log(c, r"^serve: listening on port %d" % host_port, timeout=60)
    return c, "http://127.0.0.1:%d" % host_port


def _http(url, data=None, timeout=10, attempts=50):
    last = None
    for _ in range(attempts):  # the published port may need a moment after the server listens
        try:
            req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"} if data else {})
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, r.read()
        except (ConnectionError, urllib.error.URLError) as e:
            last = e
            time.sleep(0.2)
    raise AssertionError("%s: %s" % (url, last))


def test_serve(harness, containers):
    c, base = _serve_endpoint(harness, containers)
    status, _ = _http(base + "/ping")
    assert status == 200
    status, body = _http(base + "/invocations", data=b'{"x": [1, 2, 3]}')
    assert status == 200
    reply = json.loads(body)
    assert reply["echo"] == '{"x": [1, 2, 3]}' and reply["received_bytes"] == 16
    T = 30
    elapsed, code, out = docker_stop(c, T)
    assert elapsed < 10, "serve took %.1fs to stop" % elapsed
    assert code == 0, out  # the server exits 0 on SIGTERM; sm-init passes it on
    stdout, stderr = streams(c)
    assert_in_order(stdout, "serve: listening", "serve: received SIGTERM", "serve: stopped cleanly")
    assert_in_order(stderr, "sm-init: start: serve", "sm-init: stop: SIGTERM", "sm-init: exit: 0")
    assert_exit_line(out, 0)


# Reads /proc inside the container. `docker top` cannot be used: it lists the container's cgroup, and
# an exited task leaves its cgroup at exit, so zombies never show there.
_PS = r"""
import os
for pid in os.listdir('/proc'):
    if pid.isdigit():
        try:
            with open('/proc/%s/stat' % pid) as f:
                stat = f.read()
        except OSError:
            continue
        comm_end = stat.rindex(')')
        fields = stat[comm_end + 2:].split()
        print(pid, fields[0], fields[1], stat[stat.index('(') + 1:comm_end])
"""


def _zombie_samples(container, samples=12, interval=0.5):
    """Processes in the container a few times over: [{pid: (state, ppid, comm)}, ...]."""
    seen = []
    for _ in range(samples):
        code, out = container.exec_run(["python3", "-c", _PS])
        assert code == 0, out
        procs = {}
        for line in out.decode().splitlines():
            pid, state, ppid, comm = line.split(" ", 3)
            procs[pid] = (state, ppid, comm)
        seen.append(procs)
        time.sleep(interval)
    return seen


def _lasting_zombies(samples):
    """Zombies seen in two samples in a row: a reaper would have collected them in between."""
    lasting = set()
    for a, b in zip(samples, samples[1:]):
        lasting |= {pid for pid, (state, _, _) in a.items() if state == "Z" and b.get(pid, ("",))[0] == "Z"}
    return lasting


def test_orphans_reaped(harness, containers, tmp_path):
    """The trainer double-forks children that exit as orphans of PID 1, and leaves a daemon in its own
    session that ignores SIGTERM: no zombie lasts, and the stop still ends everything on time."""
    hp = {"steps": 1000, "step_seconds": 0.3, "orphans": 3, "orphan_seconds": 0.2, "daemon": "true"}
    ml = make_ml_root(tmp_path / "ml", hp)
    c = containers(["train"], ml=ml, environment={"SM_INIT_STOP_TIMEOUT": "10"})
    wait_for_log(c, r"^train: step 3/1000 done", timeout=60)
    samples = _zombie_samples(c)
    assert len(samples[-1]) >= 3, "expected sm-init, the trainer and the daemon: %s" % samples[-1]
    assert not _lasting_zombies(samples), "zombies in the container: %s" % samples
    T = 30
    elapsed, code, out = docker_stop(c, T)
    assert elapsed < 15, "took %.1fs to stop (sm-init's stop timeout 10s, Docker's %ss)" % (elapsed, T)
    assert code == 143, out
    stdout, stderr = streams(c)
    assert "train: left a daemon behind" in stdout
    assert_in_order(stderr, "sm-init: stop: SIGTERM", "sm-init: kill:", "sm-init: exit: 143")
    assert_exit_line(out, 143)


def test_orphans_control_without_init(harness, tmp_path):
    """The zombie check detects zombies: the same trainer as PID 1 (no sm-init) leaves them lasting."""
    hp = {"steps": 1000, "step_seconds": 0.3, "orphans": 3, "orphan_seconds": 0.1}
    ml = make_ml_root(tmp_path / "ml", hp)
    c = harness.client.containers.run(harness.image, [], entrypoint=["python3", "/opt/program/train.py"],
                                      detach=True, network_mode=harness.network_mode,
                                      volumes={str(ml): {"bind": "/opt/ml", "mode": "rw"}})
    try:
        wait_for_log(c, r"^train: step 2/1000 done", timeout=60)
        samples = _zombie_samples(c, samples=4)
        assert _lasting_zombies(samples), "no lasting zombie without an init: %s" % samples
    finally:
        c.remove(force=True)


def test_interactive_ctrl_c(harness, containers, tmp_path):
    """`docker run -it IMAGE train`, then Ctrl-C: the byte 0x03 typed into the tty reaches the trainer
    as SIGINT, it saves and exits 130, and so does the container."""
    ml = make_ml_root(tmp_path / "ml", {"steps": 1000, "step_seconds": 0.3})
    c = containers(["train"], ml=ml, tty=True, stdin_open=True)
    wait_for_log(c, r"^train: step 2/1000 done", timeout=60)
    sock = harness.client.api.attach_socket(c.id, params={"stdin": 1, "stream": 1})
    raw = getattr(sock, "_sock", sock)
    try:
        raw.sendall(b"\x03")
        code = wait_exit(c, 30)
    finally:
        try:
            raw.close()
        except OSError:
            pass
    out = container_logs(c)
    assert "train: received SIGINT" in out, out
    assert code == 130, out
    assert_exit_line(out, 130)
    assert read_json(ml / "model" / "last-checkpoint.json")["final"] is True


def test_local_mode_tty_stop(containers, tmp_path):
    """SageMaker SDK local mode runs compose with `tty: true`: a stop must behave as without a tty."""
    ml = make_ml_root(tmp_path / "ml", {"steps": 1000, "step_seconds": 0.3})
    c = containers(["train"], ml=ml, tty=True)
    wait_for_log(c, r"^train: step 2/1000 done", timeout=60)
    elapsed, code, out = docker_stop(c, 30)
    assert elapsed < 25, "took %.1fs to stop" % elapsed
    assert code == 143, out
    assert "train: received SIGTERM" in out
    assert_exit_line(out, 143)
    assert read_json(ml / "model" / "last-checkpoint.json")["final"] is True
    assert not (ml / "output" / "failure").exists()


def test_train_command_not_found(containers, tmp_path):
    ml = make_ml_root(tmp_path / "ml")
    c = containers(["train"], ml=ml, environment={"SM_INIT_TRAIN": "no-such-trainer --epochs 1"})
    code = wait_exit(c, 60)
    out = container_logs(c)
    assert code == 127, out
    assert "sm-init: error: no-such-trainer: command not found" in out
