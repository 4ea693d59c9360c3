"""The inits the bench compares, how each is started, and which measurements it takes part in.

sm-init runs as users get it (a regular install: see bench/run) and in the variants that have rows
of their own: its default signal scope ("sm-init auto", stop rows), SageMaker's path and options on
the command line (start-up rows), the start-up window's polled runs, and --no-capture (the direct
write the relay is held to). Beside it: sm-init's own interpreter as the start-up floor, py-loop
(pyloop.py, the smallest Python PID 1) as the floor for exit lag, tini, tini -g, dumb-init,
catatonit, no init at all, and a relay written in C (bchild relay) for the throughput rows.
"""

import os
import shlex
import subprocess
import sys
from dataclasses import dataclass

from runner import HERE

SM_INIT_STOP_TIMEOUT = 2
# The stop rows compare like with like: `tini -g`'s semantics, the stop to the child's whole group.
SM_INIT_STOP_ARGS = ("--stop-timeout", str(SM_INIT_STOP_TIMEOUT), "--signal-scope", "group")
SM_INIT_OPTIONS = ("--stop-timeout", "30", "-v", "--signal-scope", "child")  # the "options" start-up row

CORE = frozenset({"latency", "startup", "stop", "reap", "idle"})  # the main table's
# The output relay's: throughput and a line's latency through the init, and signal
# forwarding while the init relays; each in a table of its own.
RELAY = frozenset({"throughput", "lines", "capture"})
MEASUREMENTS = CORE | RELAY
STARTUP_ONLY = frozenset({"startup"})
# The floor sm-init's start-up is compared with: its own interpreter, isolated, exec'ing the child.
FLOOR_CODE = "import os, sys; os.execv(sys.argv[1], sys.argv[1:])"
PYLOOP = HERE / "pyloop.py"


@dataclass(frozen=True)
class Init:
    name: str
    pid1_argv: tuple
    subreaper_argv: tuple
    stop_args: tuple = ()
    takes: frozenset = CORE          # the measurements it takes part in
    env: tuple = ()                  # (NAME, VALUE) added to its environment
    child_from_env: bool = False     # the child's program is in env (SM_INIT_TRAIN): argv has its args only
    window: bool = False             # start-up runs also poll for the moment it blocks its signals

    def argv(self, pid1, stopping=False):
        base = self.pid1_argv if pid1 else self.subreaper_argv
        if not base:
            return []
        return [base[0], *(self.stop_args if stopping else ()), *base[1:]]


def interpreter_of(script):
    """The python a console script runs with (its #! line), or None."""
    try:
        with open(script, "rb") as f:
            first = f.readline().decode(errors="replace").strip()
    except OSError:
        return None
    python = first[2:].split()[0] if first.startswith("#!") and len(first) > 2 else ""
    return python if "python" in os.path.basename(python) and os.access(python, os.X_OK) else None


def sm_init_variants(sm_init_path, bchild, ml_root):
    """sm-init's start-up on the other paths users take, each a column of its own in start-up runs."""
    return [
        # SageMaker: `docker run IMAGE train`, configured by SM_INIT_* (the bench's child takes args)
        Init("sm-init train", (sm_init_path, "--", "train"), (sm_init_path, "--", "train"), takes=STARTUP_ONLY,
             env=(("SM_INIT_TRAIN", bchild), ("SM_INIT_ML_ROOT", ml_root)), child_from_env=True),
        Init("sm-init options", (sm_init_path, *SM_INIT_OPTIONS, "--"), (sm_init_path, *SM_INIT_OPTIONS, "--"),
             takes=STARTUP_ONLY),
        # The same as "sm-init", polled: kept apart, the poller's CPU must not blur sm-init's own figure.
        Init("sm-init window", (sm_init_path, "--"), (sm_init_path, "--"), takes=STARTUP_ONLY, window=True),
    ]


def python_inits(python):
    """The Python floors: the bare interpreter exec'ing the child, and the smallest Python init."""
    return [
        Init("python floor", (python, "-I", "-c", FLOOR_CODE), (python, "-I", "-c", FLOOR_CODE),
             takes=STARTUP_ONLY),
        Init("py-loop", (python, "-S", str(PYLOOP)), (python, "-S", str(PYLOOP)),
             takes=frozenset({"latency", "startup", "idle"})),
    ]


def find_inits(sm_init_path, extra=(), bchild="", ml_root=""):
    """The inits to compare; `extra` adds NAME=COMMAND ones for experiments."""
    inits = []
    if sm_init_path:
        # Its output is not a terminal in any run: it relays (capture is on by default).
        inits.append(Init("sm-init", (sm_init_path, "--"), (sm_init_path, "--"),
                          SM_INIT_STOP_ARGS, takes=CORE | RELAY))
        # Its default scope: the tree's main process catches SIGTERM, so it alone hears the stop,
        # and what it leaves behind when it exits gets the rest of the grace (a drain it started).
        inits.append(Init("sm-init auto", (sm_init_path, "--"), (sm_init_path, "--"),
                          ("--stop-timeout", str(SM_INIT_STOP_TIMEOUT)), takes=frozenset({"stop"})))
        inits += sm_init_variants(sm_init_path, bchild, ml_root)
        # The direct write the relay is held to: the child writes into the consumer's pipe itself.
        inits.append(Init("sm-init --no-capture", (sm_init_path, "--no-capture", "--"),
                          (sm_init_path, "--no-capture", "--"), takes=RELAY))
        python = interpreter_of(sm_init_path)
        if python:
            inits += python_inits(python)
        else:
            print(f"bench: no python found in {sm_init_path}'s #! line: no floor rows", file=sys.stderr)
    inits += [
        Init("tini", ("/usr/bin/tini", "--"), ("/usr/bin/tini", "-s", "--"), takes=CORE | {"capture"}),
        Init("tini -g", ("/usr/bin/tini", "-g", "--"), ("/usr/bin/tini", "-s", "-g", "--")),
        Init("dumb-init", ("/usr/bin/dumb-init", "--"), ("/usr/bin/dumb-init", "--")),
        Init("catatonit", ("/usr/bin/catatonit", "--"), ("/usr/bin/catatonit", "--")),
        Init("no init", (), (), takes=CORE | {"throughput", "lines"}),
    ]
    inits.insert(len(inits) - 1, Init("C relay", (bchild, "relay"), (bchild, "relay"), takes=frozenset({"throughput"})))
    for spec in extra:
        name, _, command = spec.partition("=")
        argv = tuple(shlex.split(command))
        inits.insert(len(inits) - 1, Init(name, argv, argv))
    return inits


def init_version(init):
    if not init.pid1_argv:
        return "-"
    exe = init.pid1_argv[0]
    for args in (["--version"], ["-V"]):
        try:
            out = subprocess.run([exe, *args], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            continue
        text = (out.stdout + out.stderr).strip().splitlines()
        if out.returncode == 0 and text:
            return text[0]
    return "unknown"
