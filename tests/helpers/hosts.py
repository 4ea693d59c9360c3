"""A multi-host job on one machine: N real sm-inits over loopback, each with its own <ml-root>.

Each host gets a resourceconfig.json of its own (``current_host`` algo-K), the coordinator listens on
``lo`` at a free port, the workers connect to 127.0.0.1. Each host's trainer is told_trainer.py,
told what to do through its stdin (``Host.tell``): no sleeps, no files to poll.
"""

import json
import os

from .commands import child, cmd, patched_sm_init
from .net import free_port

FAST = ("--peer-heartbeat", "0.5", "--peer-timeout", "3")


class Host:
    def __init__(self, name, init, ml):
        self.name, self.init, self.ml = name, init, ml

    def tell(self, line):
        self.init.process.stdin.write(f"{line}\n".encode())
        self.init.process.stdin.flush()

    def exit(self, code=0):
        """Its trainer exits with ``code``; sm-init's exit code."""
        self.tell(f"exit {code}")
        return self.init.wait()

    def no_verdict(self):
        """No verdict reached this host: none in its log, no failure file."""
        return self.failure() is None and self.init.log.count("first observed failure") == 0

    def failure(self):
        path = self.ml / "output" / "failure"
        return path.read_text() if path.exists() else None


def write_resource_config(ml, hosts, me, interface="lo"):
    folder = ml / "input" / "config"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "resourceconfig.json"
    config = {"current_host": me, "hosts": list(hosts)}
    if interface is not None:
        config["network_interface_name"] = interface
    path.write_text(json.dumps(config))
    return path


def start_hosts(start_init, tmp_path, count, *extra, port=None, timing=FAST, trainer=None, interface="lo",
                faults=None, only=None):
    """``count`` hosts (algo-1 coordinates), each ready (its trainer said so). ``trainer(name)``:
    another argv for a host's trainer; ``faults``: {host: patched_sm-init.py fault spec}; ``only``:
    {host: more options for that host alone}."""
    import subprocess
    import sys
    names = [f"algo-{index}" for index in range(1, count + 1)]
    port = port or free_port()
    hosts = []
    for name in names:
        ml = tmp_path / name
        ml.mkdir()
        write_resource_config(ml, names, name, interface)
        argv = trainer(name) if trainer else child("told_trainer.py", name)
        args = ["--ml-root", str(ml), "--hooks-dir", str(ml / "no-hooks.d"), "--peer-coordinator", "127.0.0.1",
                "--peer-port", str(port), *timing, *extra, *(only or {}).get(name, ()), "--train", cmd(argv), "--", "train"]
        fault = (faults or {}).get(name)
        patched = dict(sm_init=sys.executable) if fault else {}
        init = start_init(*(patched_sm_init(f"fault={fault}", *args) if fault else args), stdin=subprocess.PIPE,
                          env={**os.environ, "TRAINING_JOB_NAME": "peers-test"}, **patched)
        hosts.append(Host(name, init, ml))
    for host in hosts:
        host.init.out.expect(rf"^{host.name} ready")
    return hosts


def expect_joined(hosts):
    hosts[0].init.log.expect(rf"peers: all {len(hosts)} hosts joined")
    for host in hosts[1:]:
        host.init.log.expect(r"peers: joined algo-1")
