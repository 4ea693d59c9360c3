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


# --- the multi-host image's torch, found on this machine's disk, never fetched ---------------------

def test_torch_wheel_missing_is_a_harness_error_naming_the_folder(harness, monkeypatch, tmp_path):
    monkeypatch.setattr(harness, "TORCH_WHEELS_DIR", tmp_path)
    (tmp_path / "torch-2.13.0+cpu-cp312-cp312-manylinux_2_28_x86_64.whl").write_bytes(b"")  # another python
    with pytest.raises(harness.HarnessError, match="no torch 2.13.0 wheel .* in %s" % tmp_path):
        harness.torch_wheel("3.11", "x86_64")


def test_torch_wheel_for_the_containers_python_and_machine(harness, monkeypatch, tmp_path):
    monkeypatch.setattr(harness, "TORCH_WHEELS_DIR", tmp_path)
    for name in ("torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_aarch64.whl",
                 "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl",
                 "torch-2.12.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"):
        (tmp_path / name).write_bytes(b"")
    assert harness.torch_wheel("3.11", "x86_64").name == "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"


def test_wheel_requirements_leave_extras_out_and_keep_marked_ones(harness, tmp_path):
    """A requirement behind a marker is downloaded anyway (one wheel too many is harmless offline)."""
    import zipfile
    wheel = tmp_path / "torch-2.13.0-cp311-cp311-linux_x86_64.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("torch/__init__.py", "")
        z.writestr("torch-2.13.0.dist-info/METADATA", "\n".join([
            "Metadata-Version: 2.4", "Name: torch", "Version: 2.13.0", "Requires-Dist: filelock",
            "Requires-Dist: sympy>=1.13.3", "Requires-Dist: setuptools; python_version >= \"3.12\"",
            "Requires-Dist: optree>=0.13.0; extra == \"optree\"", "", "A description: not a field"]))
    assert harness.wheel_requirements(wheel) == ["filelock", "sympy>=1.13.3", "setuptools"]
