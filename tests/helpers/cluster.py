"""One training job on N containers, as SageMaker runs a multi-host job (tests/docker/test_docker_multihost.py).

Every host is a container of the multi-host image (docker_harness.MULTIHOST_IMAGE: Dockerfile.example
over a base with torch) on a docker network of the job's own, reachable by the other hosts as
``algo-1``..``algo-N`` (network aliases, as SageMaker's hosts are), with sm-init as PID 1 and
``train`` as its command. Each host gets its own /opt/ml (a folder under the test's tmp_path) with a
resourceconfig.json naming it ``current_host``, and ``TRAINING_JOB_NAME``. The trainer
(children/peer_trainer.py) is mounted read-only at /opt/mh and started by torchrun across the
hosts (gloo, static rendezvous: ``--nnodes N --node_rank K --master_addr algo-1``) or alone (a
launcher-free env:// job).

Times: the trainer stamps its lines with the wall clock, the test stamps its events (``now()``)
and Docker its containers' ends (State.FinishedAt): the containers share the host's clock, so
``seconds_to_exit`` is the time from an event to a host's end as the kernel saw it, free of the
test's own polling delays.
"""

import datetime
import json
import re
import time
import uuid
from pathlib import Path

from helpers.docker_harness import container_logs, make_ml_root, sm_init_lines, wait_exit, wait_for_log

TRAINER_DIR = Path(__file__).resolve().parent / "children"
TRAINER = "/opt/mh/peer_trainer.py"
MASTER_PORT = 29500
# A culprit is a host name, never an address.
IP_ADDRESS = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")


def now():
    """The wall clock, comparable with the trainer's ``t=`` stamps and Docker's FinishedAt."""
    return time.time()


def torchrun_command(n, rank):
    return ("torchrun --nnodes %d --node_rank %d --nproc_per_node 1 --master_addr algo-1 --master_port %d %s"
            % (n, rank, MASTER_PORT, TRAINER))


def _docker_time(text):
    """Docker's RFC 3339 time with nanoseconds ('2026-12-07T03:10:11.123456789Z') as epoch seconds."""
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$", text)
    if not m:
        raise ValueError("unexpected docker time %r" % text)
    whole = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return whole.timestamp() + float("0." + (m.group(2) or "0"))


class Host:
    """One host of the job: its name (algo-K), its container, its /opt/ml on this machine."""

    def __init__(self, name, rank, ml):
        self.name, self.rank, self.ml = name, rank, ml
        self.container = None

    def logs(self):
        return container_logs(self.container)

    def expect(self, pattern, timeout=120):
        """Wait for a line of this host's output matching pattern (regex); the match."""
        return wait_for_log(self.container, pattern, timeout=timeout, poll=0.25)

    def exit_code(self, timeout):
        return wait_exit(self.container, timeout)

    def finished_at(self):
        self.container.reload()
        return _docker_time(self.container.attrs["State"]["FinishedAt"])

    def started_at(self):
        self.container.reload()
        return _docker_time(self.container.attrs["State"]["StartedAt"])

    def status(self):
        self.container.reload()
        return self.container.status

    def failure(self):
        """The failure file's text, or None."""
        path = self.ml / "output" / "failure"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else None

    def saved_checkpoint(self):
        """What the pre-kill hook copied into /opt/ml/model (None when nothing)."""
        path = self.ml / "model" / "last-checkpoint.json"
        return json.loads(path.read_text()) if path.exists() else None

    def sm_init_lines(self):
        return sm_init_lines(self.logs())

    def peer_lines(self):
        return [line for line in self.sm_init_lines() if line.startswith("sm-init: peers:")]


class Cluster:
    """The job's network and hosts. ``start(host)`` starts one; ``close()`` removes everything
    (prints each host's output first, so that a failing test shows what every host said)."""

    def __init__(self, client, image, root, n, environment=None, launcher="torchrun", job=None):
        self.client, self.image, self.n = client, image, n
        self.job = job or "mh-%s" % uuid.uuid4().hex[:10]
        self.names = ["algo-%d" % (i + 1) for i in range(n)]
        self.environment = dict(environment or {})
        self.launcher = launcher
        self.network = client.networks.create(self.job, driver="bridge", labels={"sm-init-test": "multihost"})
        self.hosts = []
        for rank, name in enumerate(self.names):
            ml = make_ml_root(Path(root) / name, current_host=name)
            (ml / "input" / "config" / "resourceconfig.json").write_text(json.dumps(
                {"current_host": name, "hosts": self.names, "network_interface_name": "eth0"}))
            self.hosts.append(Host(name, rank, ml))

    def __getitem__(self, name):
        return next(h for h in self.hosts if h.name == name)

    def __iter__(self):
        return iter(self.hosts)

    def disconnect(self, host):
        """Cut host off the job's network (`docker network disconnect`): no FIN, no RST, silence."""
        self.network.disconnect(host.container, force=True)

    def others(self, *names):
        return [h for h in self.hosts if h.name not in names]

    def start(self, host, environment=None):
        api = self.client.api
        train = torchrun_command(self.n, host.rank) if self.launcher == "torchrun" else "python3 %s" % TRAINER
        env = {"TRAINING_JOB_NAME": self.job, "SM_INIT_TRAIN": train, "PYTHONUNBUFFERED": "1"}
        env.update(self.environment)
        env.update(environment or {})
        host_config = api.create_host_config(
            network_mode=self.network.name,
            binds={str(host.ml): {"bind": "/opt/ml", "mode": "rw"},
                   str(TRAINER_DIR): {"bind": "/opt/mh", "mode": "ro"}})
        networking = api.create_networking_config(
            {self.network.name: api.create_endpoint_config(aliases=[host.name])})
        created = api.create_container(self.image, ["train"], hostname=host.name, environment=env,
                                       host_config=host_config, networking_config=networking,
                                       name="%s-%s" % (self.job, host.name),
                                       labels={"sm-init-test": "multihost"})
        api.start(created["Id"])
        host.container = self.client.containers.get(created["Id"])
        return host

    def start_all(self, environment=None):
        for host in self.hosts:
            self.start(host, environment)
        return self

    def expect_all(self, pattern, timeout=180):
        for host in self.hosts:
            host.expect(pattern, timeout)

    def seconds_to_exit(self, since, hosts=None, timeout=120):
        """{host name: seconds from `since` (wall clock) to its container's end}, waiting for each."""
        found = {}
        for host in hosts if hosts is not None else self.hosts:
            host.exit_code(timeout)
            found[host.name] = host.finished_at() - since
        return found

    def close(self):
        for host in self.hosts:
            if host.container is None:
                continue
            try:
                print("----- %s (%s) -----\n%s" % (host.name, host.container.short_id, host.logs()))
            except Exception as e:
                print("cannot read the logs of %s: %s" % (host.name, e))
            try:
                if host.status() == "paused":
                    host.container.unpause()
                host.container.remove(force=True)
            except Exception as e:
                print("cannot remove %s: %s" % (host.name, e))
        try:
            self.network.remove()
        except Exception as e:
            print("cannot remove network %s: %s" % (self.job, e))


def first_line(text):
    return (text or "").split("\n", 1)[0]


def assert_culprit(text, pattern):
    """The failure file's first line matches pattern and names no address as the culprit."""
    line = first_line(text)
    assert re.search(pattern, line), "failure file's first line %r does not match %r; whole file:\n%s" % (
        line, pattern, text)
    assert not IP_ADDRESS.search(line), "an address in the verdict: %r" % line


def trainer_time(host, what):
    """The wall-clock stamp of the trainer's line `... rank R <what> t=...` on host."""
    m = re.search(r"^trainer: %s rank \d+ %s t=([0-9.]+)$" % (re.escape(host.name), re.escape(what)),
                  host.logs(), re.M)
    assert m, "%s never said %r:\n%s" % (host.name, what, host.logs())
    return float(m.group(1))

