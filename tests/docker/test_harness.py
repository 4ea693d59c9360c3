"""tests/helpers/docker_harness.py: which commands it would run to get a Docker engine.

pytest-subprocess answers for apt-get and dockerd, so nothing here runs for real and no engine is
needed (these tests carry no docker marker): missing engine -> install docker.io and start dockerd,
dockerd's fallback configurations, and when it must give up instead.
"""

import pytest

from helpers import docker_harness


@pytest.fixture
def harness(monkeypatch, tmp_path):
    """docker_harness with its cache dir in tmp_path and no real engine to talk to."""
    monkeypatch.setattr(docker_harness, "CACHE_DIR", tmp_path)
    monkeypatch.setattr(docker_harness, "DOCKERD_LOG", tmp_path / "dockerd.log")
    monkeypatch.setattr(docker_harness, "DOCKERD_PID", tmp_path / "dockerd.pid")
    for name in ("SM_INIT_NO_DOCKERD", "DOCKER_HOST"):
        monkeypatch.delenv(name, raising=False)
    return docker_harness


def no_dockerd_until_installed(monkeypatch, harness, fp):
    """shutil.which finds dockerd only once `apt-get install` has run (as fp saw it)."""
    real_which = harness.shutil.which

    def which(name, *args, **kwargs):
        if name == "dockerd":
            installed = fp.call_count(["apt-get", "install", fp.any()]) > 0
            return "/usr/sbin/dockerd" if installed else None
        return real_which(name, *args, **kwargs)

    monkeypatch.setattr(harness.shutil, "which", which)
    real_exists = harness.os.path.exists
    monkeypatch.setattr(harness.os.path, "exists",
                        lambda p: which("dockerd") is not None if p == "/usr/sbin/dockerd" else real_exists(p))


def test_missing_engine_installs_docker_io_and_starts_dockerd(harness, fp, monkeypatch):
    no_dockerd_until_installed(monkeypatch, harness, fp)
    monkeypatch.setattr(harness, "is_root", lambda: True)
    monkeypatch.setattr(harness, "try_connect", lambda timeout=120: (None, "no socket"))
    engine = object()
    monkeypatch.setattr(harness, "_wait_for_engine", lambda pid, timeout: (engine, None))
    fp.register(["apt-get", "update"])
    fp.register(["apt-get", "install", "-y", "--no-install-recommends", "docker.io"])
    fp.register(["/usr/sbin/dockerd", fp.any()])

    assert harness.get_engine() is engine

    assert fp.call_count(["apt-get", "update"]) == 1
    assert fp.call_count(["apt-get", "install", "-y", "--no-install-recommends", "docker.io"]) == 1
    [dockerd] = [call for call in fp.calls if call[0] == "/usr/sbin/dockerd"]
    assert list(dockerd) == ["/usr/sbin/dockerd", "--pidfile", str(harness.DOCKERD_PID),
                             "--host", "unix:///var/run/docker.sock", "--storage-driver=overlay2"]


def test_dockerd_falls_back_through_its_configurations(harness, fp, monkeypatch):
    """overlay2 first; when a dockerd does not answer, it is stopped and the next configuration tried."""
    monkeypatch.setattr(harness.shutil, "which", lambda name, *a, **k: "/usr/sbin/dockerd")
    answers = iter([(None, "dockerd exited"), (None, "dockerd exited"), ("engine", None)])
    monkeypatch.setattr(harness, "_wait_for_engine", lambda pid, timeout: next(answers))
    fp.register(["/usr/sbin/dockerd", fp.any()], occurrences=3)

    assert harness.start_dockerd() == "engine"

    tried = [list(call[5:]) for call in fp.calls]
    assert tried == [["--storage-driver=overlay2"],
                     ["--storage-driver=overlay2", "--iptables=false", "--bridge=none"],
                     ["--storage-driver=vfs"]]
    assert fp.call_count(["apt-get", fp.any()]) == 0


def test_engine_that_answers_needs_nothing(harness, fp, monkeypatch):
    monkeypatch.setattr(harness, "try_connect", lambda timeout=120: ("engine", None))
    assert harness.get_engine() == "engine"
    assert list(fp.calls) == []


@pytest.mark.parametrize("setting", [{"SM_INIT_NO_DOCKERD": "1"}, {"DOCKER_HOST": "tcp://127.0.0.1:1"},
                                     {"root": False}])
def test_engine_is_never_installed_or_started_when_not_allowed(harness, fp, monkeypatch, setting):
    """SM_INIT_NO_DOCKERD, a DOCKER_HOST that does not answer, or not root: give up, run nothing."""
    monkeypatch.setattr(harness, "try_connect", lambda timeout=120: (None, "no socket"))
    monkeypatch.setattr(harness, "is_root", lambda: setting.get("root", True))
    for name, value in setting.items():
        if name != "root":
            monkeypatch.setenv(name, value)
    with pytest.raises(harness.EngineUnavailable):
        harness.get_engine()
    assert list(fp.calls) == []


def test_apt_install_needs_root_and_runs_nothing_without_it(harness, fp, monkeypatch):
    monkeypatch.setattr(harness, "is_root", lambda: False)
    with pytest.raises(harness.EngineUnavailable, match="not root"):
        harness.apt_install(["docker.io"])
    assert list(fp.calls) == []


def test_apt_failure_is_engine_unavailable(harness, fp, monkeypatch):
    monkeypatch.setattr(harness, "is_root", lambda: True)
    monkeypatch.setattr(harness.shutil, "which", lambda name, *a, **k: "/usr/bin/" + name)
    fp.register(["apt-get", "update"], returncode=100, stdout="E: could not resolve mirror")
    with pytest.raises(harness.EngineUnavailable, match="could not resolve"):
        harness.apt_install(["docker.io"])
    assert fp.call_count(["apt-get", "install", fp.any()]) == 0
