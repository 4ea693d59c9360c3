"""Dockerfile.example installs the sm-init of its build context; a package index only serves it when
the builder names a version.

The session's image is built from this repository with default build arguments but the base
(see tests/helpers/docker_harness.py); the first test looks inside it. The others build the first
stage again with an SM_INIT_SPEC; nothing in these builds can reach an index, so what installs
comes from the context.
"""
import hashlib
import json
import re
import subprocess
import sys

import pytest

from helpers import docker_harness
from helpers.docker_harness import EXAMPLE_IMAGE, REPO_ROOT, WHEELS_DIR, HarnessError, container_logs, wait_exit

pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]

PACKAGE = REPO_ROOT / "supervisor" / "sm_init"
STAGE_TAG = EXAMPLE_IMAGE + "-first-stage"
# Run by the image's sm-init venv: its modules' digests, where pip installed sm-init from, what else
# is installed.
INSPECT = r"""
import hashlib, importlib.metadata as md, json, pathlib, sm_init
top = pathlib.Path(sm_init.__file__).parent
for p in sorted(top.rglob("*.py")):
    print("module", p.relative_to(top).as_posix(), hashlib.sha256(p.read_bytes()).hexdigest())
print("direct_url", json.dumps(json.loads(md.distribution("sm-init").read_text("direct_url.json") or "null")))
for d in md.distributions():
    print("dist", d.metadata["Name"].lower(), d.version)
"""


def source_version():
    return re.search(r'__version__ = "([^"]+)"', (PACKAGE / "__init__.py").read_text()).group(1)


def inspect(client, image):
    """(module digests, direct_url, {dist: version}) of the sm-init venv in image."""
    out = client.containers.run(image, ["-c", INSPECT], entrypoint=["/opt/sm-init/venv/bin/python"],
                                remove=True, network_mode="none").decode()
    modules, dists, direct_url = {}, {}, None
    for line in out.splitlines():
        kind, rest = line.split(" ", 1)
        if kind == "module":
            name, digest = rest.split()
            modules[name] = digest
        elif kind == "dist":
            name, version = rest.split()
            dists[name] = version
        elif kind == "direct_url":
            direct_url = json.loads(rest)
    return modules, direct_url, dists


@pytest.fixture
def first_stage(harness):
    """build(**build_args): Dockerfile.example's first stage (sm-init's venv) on the test base."""
    def build(**build_args):
        return docker_harness.build_image(harness.client, dict(BASE_IMAGE=harness.base_image, **build_args),
                                          STAGE_TAG, target="sm-init")
    yield build
    try:
        harness.client.images.remove(STAGE_TAG)
    except Exception:
        pass


def test_image_runs_the_sm_init_of_the_build_context(harness):
    """Default build: every module of the checkout, byte for byte, installed from the copied source
    (pip's record of a local folder), with sm-init's dependencies and nothing else."""
    modules, direct_url, dists = inspect(harness.client, harness.image)
    here = {p.relative_to(PACKAGE).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in PACKAGE.rglob("*.py")}
    assert modules == here
    assert direct_url == {"url": "file:///tmp/sm-init-src", "dir_info": {}}
    assert dists["sm-init"] == source_version()
    assert set(dists) - {"pip", "setuptools"} == {"sm-init", "click"}


def test_a_bare_name_from_an_index_is_refused(first_stage):
    with pytest.raises(HarnessError) as failed:
        first_stage(SM_INIT_SPEC="sm-init")
    assert "SM_INIT_SPEC=sm-init: name a version too (sm-init==0.1.0) or give a URL" in str(failed.value)


def build_wheel(dest, work):
    """sm-init's wheel into dest, built from a copy of the source (see copy_source)."""
    src = docker_harness.copy_source(work / "src")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--disable-pip-version-check", "--no-deps",
                    "-w", str(dest), str(src)], check=True, stdout=subprocess.DEVNULL)


def test_a_pinned_version_installs_from_the_wheel_folder(harness, first_stage, tmp_path):
    """SM_INIT_SPEC=sm-init==VERSION with the wheel in examples/wheels: installed by name, offline."""
    version = source_version()
    build_wheel(WHEELS_DIR, tmp_path)
    wheel = WHEELS_DIR / ("sm_init-%s-py3-none-any.whl" % version)
    assert wheel.exists(), sorted(p.name for p in WHEELS_DIR.iterdir())
    try:
        first_stage(SM_INIT_SPEC="sm-init==%s" % version)
    finally:
        wheel.unlink()
    modules, direct_url, dists = inspect(harness.client, STAGE_TAG)
    assert direct_url is None, "installed from %s, not by name" % direct_url
    assert dists["sm-init"] == version
    assert sorted(modules) == sorted(p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py"))
    c = harness.client.containers.run(STAGE_TAG, ["--version"], entrypoint=["/opt/sm-init/venv/bin/sm-init"],
                                      detach=True, network_mode="none")
    try:
        assert wait_exit(c, 60) == 0
        assert container_logs(c).strip() == "sm-init %s" % version
    finally:
        c.remove(force=True)
