"""Fixtures for the end-to-end container tests (see tests/helpers/docker_harness.py).

The session fixture finds or starts a Docker engine, builds the offline base image once and builds
Dockerfile.example. With CI=true a missing engine is an error; locally the tests skip and the
reason is printed at the end of the run.
"""
import pytest

from helpers import docker_harness
from helpers.cluster import Cluster

_state = {}


@pytest.fixture(scope="session")
def harness():
    if "error" in _state:
        kind, message = _state["error"]
        (pytest.skip if kind == "skip" else pytest.fail)(message)
    if "harness" not in _state:
        try:
            _state["harness"] = docker_harness.Harness().setup()
        except docker_harness.EngineUnavailable as e:
            message = "no Docker engine: %s" % e
            if docker_harness.on_ci():
                _state["error"] = ("fail", "CI=true and " + message)
                pytest.fail(_state["error"][1])
            _state["error"] = ("skip", message)
            pytest.skip(message)
        except docker_harness.HarnessError as e:
            _state["error"] = ("fail", "docker harness: %s" % e)
            pytest.fail(_state["error"][1])
    return _state["harness"]


@pytest.fixture
def containers(harness):
    """Start containers of the example image; every one is removed (forced) at teardown and its
    output printed, so a failing test shows what the container said."""
    started = []

    def start(command=None, ml=None, environment=None, **kwargs):
        kwargs.setdefault("network_mode", harness.network_mode)
        volumes = kwargs.pop("volumes", {})
        if ml is not None:
            volumes[str(ml)] = {"bind": "/opt/ml", "mode": "rw"}
        c = harness.client.containers.run(harness.image, command, detach=True, volumes=volumes,
                                          environment=environment or {}, **kwargs)
        started.append(c)
        return c

    yield start
    for c in started:
        try:
            print("----- output of container %s -----\n%s" % (c.short_id, docker_harness.container_logs(c)))
        except Exception as e:
            print("cannot read logs of %s: %s" % (c.short_id, e))
        try:
            c.remove(force=True)
        except Exception as e:
            print("cannot remove %s: %s" % (c.short_id, e))


@pytest.fixture
def cluster(harness, tmp_path):
    """cluster(n, launcher="torchrun", **environment): a job of n hosts of the multi-host image on a
    network of its own (helpers/cluster.py), not started yet; removed with its network at teardown,
    each host's output printed first."""
    image = harness.multihost_image()
    made = []

    def make(n, launcher="torchrun", **environment):
        made.append(Cluster(harness.client, image, tmp_path / ("job%d" % len(made)), n,
                            environment=environment, launcher=launcher))
        return made[-1]

    yield make
    for c in made:
        c.close()


def pytest_terminal_summary(terminalreporter):
    error = _state.get("error")
    if error and error[0] == "skip":
        terminalreporter.write_line("docker tests skipped: %s" % error[1], yellow=True)
    h = _state.get("harness")
    if h is not None and h.timings:
        terminalreporter.write_line("docker harness: engine %.0fs, base image %.0fs, example image %.0fs"
                                    % (h.timings["engine"], h.timings["base_image"], h.timings["example_image"]))
        if "multihost_image" in h.timings:
            terminalreporter.write_line("docker harness: torch base image %.0fs, multi-host image %.0fs"
                                        % (h.timings["torch_base_image"], h.timings["multihost_image"]))
