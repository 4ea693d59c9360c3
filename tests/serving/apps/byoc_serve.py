#!/usr/bin/env python3
"""AWS's "bring your own container" serve program, the layout most SageMaker users copy.

    byoc_serve.py NGINX_CONF GUNICORN_SOCKET APP_DIR

Written for these tests after the amazon-sagemaker-examples sample (scikit_bring_your_own,
container/decision_trees/serve), keeping what matters to an init: nginx and gunicorn started as
plain children (same process group, same session), nginx proxying the port to gunicorn over a unix
socket; on SIGTERM, SIGQUIT to nginx (its graceful stop) and SIGTERM to gunicorn (its graceful
stop), then exit 0 at once, without waiting for either; when either server exits, the same, then
exit. The sample's gevent workers are sync workers here (MODEL_SERVER_WORKERS, default 4): the
signals and processes are the same, and no extra dependency.
"""

import os
import signal
import subprocess
import sys

WORKERS = os.environ.get("MODEL_SERVER_WORKERS", "4")


def stop(nginx, gunicorn):
    for process, signum in ((nginx, signal.SIGQUIT), (gunicorn, signal.SIGTERM)):
        try:
            os.kill(process.pid, signum)
        except OSError:
            pass


def main(nginx_conf, socket_path, app_dir):
    print(f"serve: starting nginx and gunicorn with {WORKERS} workers", flush=True)
    nginx = subprocess.Popen(["nginx", "-c", nginx_conf, "-e", "stderr"])
    gunicorn = subprocess.Popen(["gunicorn", "--bind", "unix:" + socket_path, "--workers", WORKERS,
                                 "--graceful-timeout", "10", "--chdir", app_dir, "app:wsgi"])

    def on_sigterm(signum, frame):
        stop(nginx, gunicorn)
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_sigterm)
    servers = {nginx.pid, gunicorn.pid}
    while os.wait()[0] not in servers:
        pass
    stop(nginx, gunicorn)
    print("serve: a server exited, exiting", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
