"""The serving layouts of SageMaker containers, as a table: what `serve` runs, when it is ready,
which sm-init setting it needs and what it exits with after a stop.

Every layout serves tests/serving/apps/app.py's model on 127.0.0.1:<port> (sleeping SERVING_SLEEP
seconds per /invocations). Commands are found on PATH as a container would find them (the test
venv's bin comes first: gunicorn, uvicorn; nginx from Debian). The table is shared by the tests
(tests/serving/test_serving.py: sm-init only) and the benchmark (bench/serving.py: sm-init, tini,
dumb-init).
"""

import dataclasses
import os
import sys
from typing import Callable

import nginx

APPS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "apps")

# Enough server capacity for every client connection (tests/helpers/load.py opens 4): a request
# that waits in a listen queue behind busy workers is lost by the server's own graceful stop.
WORKERS = "4"
# gunicorn's default graceful timeout (30 s) is the whole serve stop timeout: keep it below the grace.
GRACEFUL = ["--graceful-timeout", "10"]

GUNICORN_BOOTED = r"Booting worker with pid"
NGINX_WORKER = r"start worker process"


@dataclasses.dataclass(frozen=True)
class Context:
    port: int        # where the layout listens
    dir: str         # this run's own directory (configs, sockets, pid files)
    upstream: str    # "127.0.0.1:PORT" of the server outside the container, for layouts that use one


@dataclasses.dataclass(frozen=True)
class Layout:
    name: str
    command: Callable[[Context], list]   # argv of the serving program (what `serve` means)
    ready: tuple                         # (regex, count): lines on stderr before it serves
    sm_init: tuple = ()                  # sm-init's options for this layout: its documented setting
    dumb_init: tuple = ()                # dumb-init's options for it (same meaning)
    exit_code: int = 0                   # sm-init's exit code after the stop: the main child's status
    upstream: bool = False               # needs the server outside the container
    compare: bool = True                 # run under tini and dumb-init too (bench)


def gunicorn(ctx, *worker_args):
    return ["gunicorn", "--bind", f"127.0.0.1:{ctx.port}", *worker_args, *GRACEFUL,
            "--chdir", APPS, "app:wsgi"]


def gunicorn_sync(ctx):
    return gunicorn(ctx, "--worker-class", "sync", "--workers", WORKERS)


def gunicorn_gthread(ctx):
    return gunicorn(ctx, "--worker-class", "gthread", "--workers", "2", "--threads", "4")


def uvicorn(ctx):
    return ["uvicorn", "--host", "127.0.0.1", "--port", str(ctx.port), "--app-dir", APPS,
            "--timeout-graceful-shutdown", "10", "app:asgi"]


def nginx_alone(ctx):
    return ["nginx", "-c", nginx.write_conf(ctx.dir, ctx.port, ctx.upstream), "-e", "stderr"]


def byoc(ctx):
    socket_path = os.path.join(ctx.dir, "gunicorn.sock")
    conf = nginx.write_conf(ctx.dir, ctx.port, "unix:" + socket_path)
    return [sys.executable, os.path.join(APPS, "byoc_serve.py"), conf, socket_path, APPS]


def serve_script(ctx):
    return [os.path.join(APPS, "serve.sh")]


LAYOUTS = [
    Layout("gunicorn-sync", gunicorn_sync, ((GUNICORN_BOOTED, 4),)),
    Layout("gunicorn-gthread", gunicorn_gthread, ((GUNICORN_BOOTED, 2),)),
    # uvicorn re-raises the SIGTERM it caught once it has shut down: killed by SIGTERM, 128+15.
    Layout("uvicorn", uvicorn, ((r"Application startup complete", 1),), exit_code=143),
    # nginx's graceful stop is SIGQUIT; SIGTERM is its fast stop (requests in flight are cut).
    # --rewrite TERM=QUIT is all it needs: master and workers alike drain on QUIT. The launcher
    # table (docs/launchers.md) also names --signal-scope child: the master alone hears QUIT and tells its workers.
    Layout("nginx", nginx_alone, ((NGINX_WORKER, 2),), sm_init=("--rewrite", "TERM=QUIT"),
           dumb_init=("--rewrite", "15:3"), upstream=True),
    Layout("nginx-child", nginx_alone, ((NGINX_WORKER, 2),),
           sm_init=("--signal-scope", "child", "--rewrite", "TERM=QUIT"), upstream=True, compare=False),
    # AWS's bring-your-own-container serve program (apps/byoc_serve.py), default scope and child.
    Layout("byoc", byoc, ((NGINX_WORKER, 2), (GUNICORN_BOOTED, 4))),
    Layout("byoc-child", byoc, ((NGINX_WORKER, 2), (GUNICORN_BOOTED, 4)),
           sm_init=("--signal-scope", "child"), compare=False),
    Layout("serve-script", serve_script, ((GUNICORN_BOOTED, 4),)),
]

BY_NAME = {layout.name: layout for layout in LAYOUTS}
