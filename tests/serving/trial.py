"""One trial: a serving layout under an init as PID 1 of a fresh PID namespace, loaded, stopped.

``run_trial(layout, "sm-init", directory)`` starts the layout (sm-init in serve mode maps `serve` to
the layout's command; tini and dumb-init cannot map `serve`, so they get the command itself), waits
for its ready lines and a 200 on /ping, runs the steady load of helpers/load.py, sends SIGTERM to
the init the way `docker stop` does, halfway between two requests, and returns what happened: every
request, the init's exit code and the seconds from the stop to the init's exit.
"""

import dataclasses
import http.client
import os
import re
import shlex
import shutil
import signal
import sys
import threading
import time

from helpers.load import run_load
from helpers.net import free_port
from helpers.realinit import SM_INIT, TIMEOUT, Init

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "apps"))
from app import Upstream  # noqa: E402
from layouts import Context  # noqa: E402

# The serve default of sm-init's --stop-timeout, and Docker's -t for an endpoint update.
STOP_TIMEOUT = 30.0
# Lines worth showing beside the counts: what each init and nginx said about the stop.
STOP_LINES = re.compile(r"^sm-init: (stop|kill|exit|hooks|warning)|signal \d+ \(SIG\w+\) received|"
                        r"gracefully shutting down|exiting|Handling signal|Shutting down|Finished server")


def sm_init_argv(layout, argv, ctx, program):
    hooks_dir = os.path.join(ctx.dir, "no-hooks.d")  # the host's /etc/sm-init/pre-kill.d stays out
    return program, ["--hooks-dir", hooks_dir, *layout.sm_init, "--serve", shlex.join(argv), "--", "serve"]


def tini_argv(layout, argv, ctx, program):
    return program, ["--", *argv]


def dumb_init_argv(layout, argv, ctx, program):
    return program, [*layout.dumb_init, "--", *argv]


# init name -> (how it runs a layout's command, its default program)
INITS = {
    "sm-init": (sm_init_argv, SM_INIT),
    "tini": (tini_argv, "tini"),
    "dumb-init": (dumb_init_argv, "dumb-init"),
}


@dataclasses.dataclass
class Outcome:
    layout: str
    init: str
    report: object        # load.Report
    exit_code: int
    stop_seconds: float   # SIGTERM to the init -> the init's exit (seen through unshare)
    survivors: int        # processes of the run alive after the init's exit
    log: list             # the init's stderr then stdout: its own lines and the servers'

    def stop_lines(self):
        return [line for line in self.log if STOP_LINES.search(line)]

    def text(self):
        return "\n".join([f"{self.layout} under {self.init}: exit {self.exit_code}, stop "
                          f"{self.stop_seconds:.2f} s, survivors {self.survivors}",
                          self.report.summary(), "--- stop lines:", *self.stop_lines(),
                          "--- requests (times from the stop):", *self.report.lines(),
                          "--- output:", *self.log])


def server_env(ctx):
    env = dict(os.environ)
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "/usr/bin:/bin")
    env["PYTHONUNBUFFERED"] = "1"
    env["SAGEMAKER_BIND_TO_PORT"] = str(ctx.port)
    for name in list(env):
        if name.startswith("SM_INIT_"):  # the runner's own settings must not change the init's
            del env[name]
    return env


def ping(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/ping")
        return conn.getresponse().status
    except OSError:
        return None
    finally:
        conn.close()


def wait_ready(init, layout, port):
    for pattern, count in layout.ready:
        for _ in range(count):
            init.log.expect(pattern)
    deadline = time.monotonic() + TIMEOUT
    while ping(port) != 200:
        if init.process.poll() is not None:
            raise AssertionError(f"{layout.name}: the init exited ({init.process.returncode}) before "
                                 f"/ping answered:\n{init.log.text}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{layout.name}: /ping never answered 200:\n{init.log.text}")
        time.sleep(0.05)  # polling a port that is not open yet: there is no line to wait for


def run_trial(layout, init_name, directory, program=None, **load_options):
    """Run one trial; returns an Outcome. Everything it started is gone when it returns."""
    make_argv, default_program = INITS[init_name]
    program = shutil.which(program or default_program) or program or default_program
    upstream = Upstream() if layout.upstream else None
    ctx = Context(free_port(), directory, f"127.0.0.1:{upstream.port}" if upstream else "")
    os.makedirs(directory, exist_ok=True)
    program, args = make_argv(layout, layout.command(ctx), ctx, program)
    init = Init(args, pid1=True, env=server_env(ctx), sm_init=program)
    try:
        wait_ready(init, layout, ctx.port)
        pid = init.pid  # looked up now: stop() must only send the signal
        waiter = threading.Thread(target=init.wait, args=(STOP_TIMEOUT + TIMEOUT,), daemon=True)
        waiter.start()
        report = run_load(ctx.port, lambda: os.kill(pid, signal.SIGTERM), **load_options)
        waiter.join(STOP_TIMEOUT + TIMEOUT)
        init.out.drain(2)
        return Outcome(layout.name, init_name, report, init.returncode,
                       (init.ended or float("nan")) - report.stop_at, len(init.survivors()),
                       init.log.seen + init.out.seen)
    finally:
        init.cleanup()
        if upstream:
            upstream.close()
