"""What a user downloads: the wheel holds sm_init/ and its metadata, nothing else; the sdist builds
that wheel, carries the tests that test the package, and they run from it.

Built the way a release is (``python -m build``: the sdist, then the wheel from the unpacked sdist),
from a copy of the files git knows (so a stray file in the working tree neither ships nor hides a
missing one). This file tests the repository, not the package: the sdist leaves it out.
"""

import os
import subprocess
import sys
import tarfile
import zipfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join("supervisor", "sm_init")
# Files of tests/ that check the repository rather than the package (MANIFEST.in leaves them out).
REPOSITORY_CHECKS = ("tests/docker/", "tests/helpers/docker_harness.py", "tests/helpers/doclinks.py",
                     "tests/test_packaging.py", "tests/test_front_doors.py", "tests/test_docs.py", "tests/run",
                     "tests/helpers/cluster.py", "tests/helpers/children/peer_trainer.py")
SDIST_METADATA = {"LICENSE", "MANIFEST.in", "PKG-INFO", "README.md", "pyproject.toml", "setup.cfg"}

pytestmark = pytest.mark.timeout(600)


def source_files():
    """Paths (relative, '/'-separated) that git tracks or would track in the working tree."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=ROOT, stdout=subprocess.PIPE, check=True).stdout.decode()
    return sorted(p for p in out.split("\0") if p and os.path.isfile(os.path.join(ROOT, p)))


def run(cmd, **kwargs):
    result = subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kwargs)
    assert result.returncode == 0, "%s exited %d:\n%s" % (cmd, result.returncode, result.stdout.decode()[-6000:])
    return result.stdout.decode()


@pytest.fixture(scope="module")
def dists(tmp_path_factory):
    """(sdist, wheel, version) built from a copy of the source files."""
    base = tmp_path_factory.mktemp("dist")
    src, out = base / "src", base / "out"
    for path in source_files():
        (src / path).parent.mkdir(parents=True, exist_ok=True)
        (src / path).write_bytes(open(os.path.join(ROOT, path), "rb").read())
    run([sys.executable, "-m", "build", "--outdir", out, src])
    sdists, wheels = sorted(out.glob("*.tar.gz")), sorted(out.glob("*.whl"))
    assert len(sdists) == 1 and len(wheels) == 1, os.listdir(out)
    version = wheels[0].name.split("-")[1]
    return sdists[0], wheels[0], version


def package_modules():
    """The package's modules, subpackages' too, as paths relative to it ("reasons/lines.py")."""
    top = os.path.join(ROOT, PACKAGE)
    return sorted(os.path.relpath(os.path.join(folder, name), top).replace(os.sep, "/")
                  for folder, _dirs, names in os.walk(top) for name in names if name.endswith(".py"))


def test_wheel_holds_the_package_and_its_metadata_only(dists):
    _, wheel, version = dists
    info = "sm_init-%s.dist-info/" % version
    script = "sm_init-%s.data/scripts/sm-init" % version
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        metadata = z.read(info + "METADATA").decode()
        license_text = z.read(info + "licenses/LICENSE")
        command = z.read(script).decode()
    assert {n for n in names if not n.startswith(info)} == {"sm_init/" + m for m in package_modules()} | {script}
    assert {n[len(info):] for n in names if n.startswith(info)} == {
        "METADATA", "WHEEL", "RECORD", "top_level.txt", "licenses/LICENSE"}
    assert license_text == open(os.path.join(ROOT, "LICENSE"), "rb").read()
    assert "License-Expression: Apache-2.0" in metadata.splitlines()
    requires = {line for line in metadata.splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line}
    assert requires == {"Requires-Dist: click>=8.0"}      # a PID 1 carries nothing it does not use
    assert command.startswith("#!python") and "from sm_init.__main__ import main" in command


def test_sdist_holds_the_package_metadata_and_the_package_tests(dists):
    sdist, _, version = dists
    top = "sm_init-%s/" % version
    with tarfile.open(sdist) as t:
        files = {m.name[len(top):] for m in t.getmembers() if m.isfile()}
    egg_info = {f for f in files if f.startswith("supervisor/sm_init.egg-info/")}
    package_tests = {p for p in source_files() if p.startswith("tests/") and not p.startswith(REPOSITORY_CHECKS)}
    command = PACKAGE.rsplit("/", 1)[0] + "/sm-init"
    assert files - egg_info == (SDIST_METADATA | {PACKAGE + "/" + m for m in package_modules()} | package_tests
                                | {command})
    assert {"tests/conftest.py", "tests/helpers/realinit.py", "tests/helpers/children/probe.py",
            "tests/test_plan.py"} <= package_tests


def test_the_sdist_tests_run_from_the_unpacked_sdist(dists, tmp_path):
    """Some of the shipped tests, run from the unpacked sdist against sm-init installed from the wheel
    that was built out of it. Its dependencies (click, and psutil, pytest, ... for the tests) come from this test run's
    environment through a path file, so no package index is needed; sm_init and the sm-init command
    come from the wheel alone (a path file adds a folder to sys.path without reading the path files
    in it, so the editable install of the repository stays out)."""
    sdist, wheel, version = dists
    with tarfile.open(sdist) as t:
        t.extractall(tmp_path)
    unpacked = tmp_path / ("sm_init-%s" % version)
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", python, "install", "--disable-pip-version-check",
         "--no-deps", "--no-index", wheel])
    site = run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]).strip()
    deps = [p for p in sys.path if p.endswith("site-packages") and os.path.isdir(os.path.join(p, "click"))]
    assert deps, "click not found on %s" % sys.path
    with open(os.path.join(site, "test-dependencies.pth"), "w") as f:
        f.write(deps[0] + "\n")

    where = run([python, "-c", "import sm_init; print(sm_init.__file__)"], cwd=unpacked).strip()
    assert where == os.path.join(site, "sm_init", "__init__.py")
    assert os.path.exists(venv / "bin" / "sm-init")

    pytest_cmd = [python, "-m", "pytest", "-p", "no:cacheprovider", "-q"]
    collected = run(pytest_cmd + ["--collect-only", "tests"], cwd=unpacked)  # every shipped module imports
    assert " tests collected" in collected.splitlines()[-1], collected
    # The pure stop plan, and real sm-init processes (reaping, exit codes) as PID 1 and subreaper.
    out = run(pytest_cmd + ["-ra", "tests/test_plan.py", "tests/test_core.py", "-k",
                            "test_plan or orphans or exit_code_passes_through"], cwd=unpacked)
    assert " passed" in out.splitlines()[-1], out
