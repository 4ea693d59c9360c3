#!/usr/bin/env python3
"""Example SageMaker trainer bundled with Dockerfile.example (stdlib only).

It trains nothing real: each step sleeps, then writes a checkpoint into /opt/ml/checkpoints with
write-to-temp-then-rename, so a checkpoint file is never seen half written. On SIGTERM or SIGINT it
saves a final checkpoint and exits with 128+signal. When every step is done it writes the model into
/opt/ml/model and exits 0.

Hyperparameters (/opt/ml/input/config/hyperparameters.json; SageMaker passes every value as a string):
  epochs / steps        number of steps (default 5; "steps" wins over "epochs")
  step_seconds          seconds per step (default 1)
  ignore_sigterm        "true": log SIGTERM and keep going (as a stuck trainer would)
  fail_at_step          step number at which to fail: an uncaught RuntimeError, exit 1 (0 = never;
                        "fail": "true" = step 1)
  log_lines             per step, this many more log lines (default 0): on stdout, every third on stderr
  orphans               per step, double-fork this many children that outlive their parent and exit
                        soon after: sm-init, as PID 1, has to reap them
  orphan_seconds        how long each orphan lives (default 0.5)
  daemon                "true": also leave one process in its own session that never exits and
                        ignores SIGTERM (like a daemonised server); the final sweep must kill it
"""
import json
import os
import signal
import sys
import time

ML_ROOT = os.environ.get("SM_ML_ROOT", "/opt/ml")
CONFIG_DIR = os.path.join(ML_ROOT, "input", "config")
CHECKPOINT_DIR = os.path.join(ML_ROOT, "checkpoints")
MODEL_DIR = os.path.join(ML_ROOT, "model")


def log(msg):
    # One write per line: with PYTHONUNBUFFERED=1 print writes the text and its newline apart,
    # and another thread or process can write in between.
    sys.stdout.write("train: " + msg + "\n")
    sys.stdout.flush()


def truthy(value):
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def load_json(name):
    path = os.path.join(CONFIG_DIR, name)
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def write_atomic(path, data):
    """Write JSON to path.tmp, fsync, rename: readers see the old file or the new one, never half."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save_checkpoint(step, state, final=False):
    path = os.path.join(CHECKPOINT_DIR, "ckpt-%06d.json" % step)
    write_atomic(path, {"step": step, "state": state, "final": final, "time": time.time()})
    log("checkpoint %s%s" % (path, " (final)" if final else ""))


def default_signals():
    """In a forked child: drop the trainer's handlers (a group signal reaches the children too)."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, signal.SIG_DFL)


def spawn_orphan(seconds):
    """Double fork: the grandchild is reparented to PID 1 and exits later as PID 1's zombie."""
    pid = os.fork()
    if pid == 0:
        try:
            default_signals()
            if os.fork() == 0:
                time.sleep(seconds)
            os._exit(0)
        except BaseException:
            os._exit(1)
    os.waitpid(pid, 0)


def spawn_daemon():
    pid = os.fork()
    if pid == 0:
        try:
            default_signals()
            os.setsid()
            if os.fork() == 0:
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                while True:
                    time.sleep(3600)
            os._exit(0)
        except BaseException:
            os._exit(1)
    os.waitpid(pid, 0)
    log("left a daemon behind (own session, ignores SIGTERM)")


class Stop(Exception):
    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def main():
    hp = load_json("hyperparameters.json")
    channels = load_json("inputdataconfig.json")
    resources = load_json("resourceconfig.json")
    steps = int(hp.get("steps", hp.get("epochs", 5)))
    step_seconds = float(hp.get("step_seconds", 1))
    ignore_sigterm = truthy(hp.get("ignore_sigterm", "false"))
    fail_at = int(hp.get("fail_at_step", 1 if truthy(hp.get("fail", "false")) else 0))
    orphans = int(hp.get("orphans", 0))
    log_lines = int(hp.get("log_lines", 0))
    orphan_seconds = float(hp.get("orphan_seconds", 0.5))

    def on_signal(signum, frame):
        name = signal.Signals(signum).name
        if signum == signal.SIGTERM and ignore_sigterm:
            log("received %s, ignoring it (ignore_sigterm)" % name)
            return
        log("received %s" % name)
        raise Stop(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    log("started pid=%d pgid=%d steps=%d step_seconds=%s host=%s channels=%s"
        % (os.getpid(), os.getpgrp(), steps, step_seconds,
           resources.get("current_host", "?"), ",".join(sorted(channels)) or "-"))
    if truthy(hp.get("daemon", "false")):
        spawn_daemon()

    state = 0
    done = 0  # last step whose state is complete
    try:
        for step in range(1, steps + 1):
            time.sleep(step_seconds)
            state += step
            for _ in range(orphans):
                spawn_orphan(orphan_seconds)
            for line in range(log_lines):
                print("train: step %d detail %d: loss=%.4f \u2014 ok" % (step, line, 1.0 / (step + line)),
                      file=sys.stderr if line % 3 == 2 else sys.stdout, flush=True)
            if fail_at and step >= fail_at:
                log("failing at step %d as asked (fail_at_step)" % step)
                raise RuntimeError("simulated failure at step %d (fail_at_step)" % step)
            done = step
            save_checkpoint(step, state)
            log("step %d/%d done" % (step, steps))
    except Stop as stop:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        save_checkpoint(done, state, final=True)
        log("stopped by %s after step %d, exiting" % (signal.Signals(stop.signum).name, done))
        return 128 + stop.signum

    write_atomic(os.path.join(MODEL_DIR, "model.json"), {"steps": steps, "state": state})
    log("completed, model written to %s" % os.path.join(MODEL_DIR, "model.json"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
