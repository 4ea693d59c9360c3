"""Find or start a Docker engine, build the offline base image and the example image.

Used by tests/docker/ (pytest fixtures in tests/docker/conftest.py) and runnable by hand:

    .venv/bin/python tests/helpers/docker_harness.py           # engine + base image + example image
    .venv/bin/python tests/helpers/docker_harness.py --engine  # only find/start the engine
    .venv/bin/python tests/helpers/docker_harness.py --multihost  # also the multi-host image

Nothing here needs an image registry:
  * the engine: ``docker.from_env()``; failing that, as root, ``apt-get install docker.io`` when
    dockerd is missing and start ``dockerd`` in the background (pid file and log under the cache dir),
    trying overlay2, then without iptables/bridge, then vfs;
  * the base image ``sm-init-base:bookworm``: ``debootstrap --variant=minbase`` of Debian bookworm with
    python3 + python3-venv from the host's apt mirror, then ``docker import``; the rootfs tarball is
    cached in ``.cache/docker/`` (gitignored) and the image is reused while it exists;
  * the example image: Dockerfile.example as a user builds it, from this repository (the build
    context; .dockerignore applies) with default build arguments but BASE_IMAGE: sm-init is built
    from the repository's source inside the image; its dependencies and build requirements (click,
    setuptools) are ``pip download``-ed for the base image's python into examples/wheels/
    (gitignored), the folder the Dockerfile installs from instead of an index when it holds wheels.

Environment:
  CI=true                   never skip: every failure to get an engine or an image is an error
  SM_INIT_DOCKER_CACHE      cache dir (default <repo>/.cache/docker)
  SM_INIT_DEBIAN_MIRROR     Debian mirror for debootstrap (default: the host's apt source for bookworm,
                            else http://deb.debian.org/debian)
  SM_INIT_TEST_BASE_IMAGE   use this base image instead of building sm-init-base:bookworm
  SM_INIT_NO_DOCKERD=1      never start dockerd (only use an engine that already answers)
  SM_INIT_TORCH_WHEELS      folder holding the torch CPU wheel for the multi-host image (default /opt/wheels)
  SM_INIT_DOCKERD_ARGS      start dockerd with exactly these extra arguments (e.g. "--storage-driver=vfs
                            --iptables=false --bridge=none") instead of trying the usual list
"""
import contextlib
import fcntl
import hashlib
import glob
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = Path(os.environ.get("SM_INIT_DOCKER_CACHE") or REPO_ROOT / ".cache" / "docker")
BASE_REPO, BASE_TAG = "sm-init-base", "bookworm"
BASE_IMAGE = "%s:%s" % (BASE_REPO, BASE_TAG)
# One tag per checkout: test runs of two checkouts on one engine must not run each other's image.
EXAMPLE_IMAGE = "sm-init-example:test-%s" % hashlib.sha256(str(REPO_ROOT).encode()).hexdigest()[:8]
# Dockerfile.example's default SM_INIT_WHEELS: wheels here are installed instead of an index.
WHEELS_DIR = REPO_ROOT / "examples" / "wheels"
SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
# python3-venv brings ensurepip's wheels; procps gives `ps` for `docker exec ps`.
DEBOOTSTRAP_INCLUDE = ["python3", "python3-venv", "procps"]
DOCKERD_LOG = CACHE_DIR / "dockerd.log"
DOCKERD_PID = CACHE_DIR / "dockerd.pid"
ENGINE_TIMEOUT = 90


class EngineUnavailable(Exception):
    """No Docker engine could be found or started (tests skip locally, fail on CI)."""


class HarnessError(Exception):
    """An engine answers but an image could not be built (always an error)."""


def on_ci():
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes", "on")


def log(msg):
    print("docker_harness: %s" % msg, file=sys.stderr, flush=True)


def is_root():
    return os.geteuid() == 0


def run(cmd, timeout=None, env=None, cwd=None):
    """Run cmd, return its output; raise HarnessError with the output tail when it fails."""
    log("$ " + " ".join(str(c) for c in cmd))
    t0 = time.monotonic()
    try:
        proc = subprocess.run([str(c) for c in cmd], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=timeout, env=env, cwd=cwd)
    except FileNotFoundError as e:
        raise HarnessError("cannot run %s: %s" % (cmd[0], e))
    except subprocess.TimeoutExpired as e:
        out = (e.output or b"").decode("utf-8", "replace")
        raise HarnessError("timed out after %ss: %s\n%s" % (timeout, " ".join(map(str, cmd)), out[-4000:]))
    out = proc.stdout.decode("utf-8", "replace")
    if proc.returncode != 0:
        raise HarnessError("exit %d after %.0fs: %s\n%s" % (proc.returncode, time.monotonic() - t0,
                                                             " ".join(map(str, cmd)), out[-4000:]))
    return out


@contextlib.contextmanager
def file_lock(name):
    """Serialise engine start and image builds between concurrent pytest runs."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(CACHE_DIR / ("%s.lock" % name), "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# --------------------------------------------------------------------------------------------------
# engine

def _docker_module():
    try:
        import docker  # noqa: F401
    except ImportError as e:
        raise EngineUnavailable("the python docker SDK is not installed (pip install 'docker>=6'): %s" % e)
    return docker


def try_connect(timeout=120):
    """A pinged docker client, or None with the reason."""
    docker = _docker_module()
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
        return client, None
    except Exception as e:  # docker.errors.DockerException, requests errors, ...
        return None, "%s: %s" % (type(e).__name__, e)


def apt_install(packages):
    if not is_root():
        raise EngineUnavailable("not root: cannot apt-get install %s" % " ".join(packages))
    if not shutil.which("apt-get"):
        raise EngineUnavailable("no apt-get to install %s" % " ".join(packages))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        run(["apt-get", "update"], timeout=600, env=env)
        run(["apt-get", "install", "-y", "--no-install-recommends"] + list(packages), timeout=1200, env=env)
    except HarnessError as e:
        raise EngineUnavailable("apt-get install %s failed: %s" % (" ".join(packages), e))


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _our_dockerd_pid():
    try:
        pid = int(DOCKERD_PID.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _pid_alive(pid) else None


def _wait_for_engine(proc_pid, timeout):
    deadline = time.monotonic() + timeout
    reason = "not started"
    while time.monotonic() < deadline:
        if proc_pid is not None and not _pid_alive(proc_pid):
            return None, "dockerd exited"
        client, reason = try_connect()
        if client is not None:
            return client, None
        time.sleep(0.5)
    return None, "no answer within %ss (%s)" % (timeout, reason)


def _log_tail(n=25):
    try:
        lines = DOCKERD_LOG.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-n:])


def start_dockerd():
    """Start dockerd in the background, trying the configurations this kind of machine may need."""
    dockerd = shutil.which("dockerd") or ("/usr/sbin/dockerd" if os.path.exists("/usr/sbin/dockerd") else None)
    if dockerd is None:
        log("dockerd not found: installing docker.io with apt")
        apt_install(["docker.io"])
        dockerd = shutil.which("dockerd") or "/usr/sbin/dockerd"
        if not os.path.exists(dockerd):
            raise EngineUnavailable("docker.io installed but no dockerd found")
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    attempts = [
        ["--storage-driver=overlay2"],
        ["--storage-driver=overlay2", "--iptables=false", "--bridge=none"],
        ["--storage-driver=vfs"],
        ["--storage-driver=vfs", "--iptables=false", "--bridge=none"],
    ]
    if os.environ.get("SM_INIT_DOCKERD_ARGS"):
        attempts = [os.environ["SM_INIT_DOCKERD_ARGS"].split()]
    errors = []
    for extra in attempts:
        cmd = [dockerd, "--pidfile", str(DOCKERD_PID), "--host", "unix:///var/run/docker.sock"] + extra
        with open(DOCKERD_LOG, "ab") as logf:
            logf.write(("\n=== %s %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), " ".join(cmd))).encode())
            logf.flush()
            log("starting %s (log: %s)" % (" ".join(cmd), DOCKERD_LOG))
            # Own session: dockerd outlives this pytest run and is reused by the next one.
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        client, reason = _wait_for_engine(proc.pid, ENGINE_TIMEOUT)
        if client is not None:
            log("dockerd pid %d answers (%s)" % (proc.pid, " ".join(extra)))
            return client
        errors.append("%s: %s\n%s" % (" ".join(extra), reason, _log_tail()))
        log("dockerd with %s failed: %s" % (" ".join(extra), reason))
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        else:
            proc.wait()
    raise EngineUnavailable("dockerd would not start; tried:\n" + "\n".join(errors))


def get_engine():
    """A pinged docker client: an engine that answers already, else one this function starts."""
    client, reason = try_connect()
    if client is not None:
        return client
    log("no Docker engine answers (%s)" % reason)
    if os.environ.get("SM_INIT_NO_DOCKERD"):
        raise EngineUnavailable("no engine answers (%s) and SM_INIT_NO_DOCKERD is set" % reason)
    if os.environ.get("DOCKER_HOST"):
        raise EngineUnavailable("DOCKER_HOST=%s does not answer: %s" % (os.environ["DOCKER_HOST"], reason))
    if not is_root():
        raise EngineUnavailable("no engine answers (%s) and not root, so none can be started" % reason)
    with file_lock("dockerd"):
        client, _ = try_connect()
        if client is not None:
            return client
        pid = _our_dockerd_pid()
        if pid is not None:
            log("dockerd pid %d from an earlier run is alive: waiting for it" % pid)
            client, reason = _wait_for_engine(pid, ENGINE_TIMEOUT)
            if client is not None:
                return client
            raise EngineUnavailable("dockerd pid %d is alive but does not answer: %s\n%s"
                                    % (pid, reason, _log_tail()))
        return start_dockerd()


def network_mode(client):
    """"bridge" when the engine has its default bridge, else "host" (dockerd ran with --bridge=none)."""
    try:
        if client.networks.list(names=["bridge"]):
            return "bridge"
    except Exception:
        pass
    return "host"


# --------------------------------------------------------------------------------------------------
# base image (offline: debootstrap + docker import)

def _parse_sources():
    """(uri, suites) pairs from the host's apt sources, one-line and deb822 formats."""
    found = []
    for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
        try:
            text = Path(path).read_text(errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            line = re.sub(r"\[[^\]]*\]", " ", line.split("#", 1)[0]).split()
            if len(line) >= 3 and line[0] == "deb":
                found.append((line[1], [line[2]]))
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        try:
            text = Path(path).read_text(errors="replace")
        except OSError:
            continue
        for stanza in re.split(r"\n\s*\n", text):
            fields = {}
            for line in stanza.splitlines():
                if line.startswith("#") or ":" not in line:
                    continue
                key, value = line.split(":", 1)
                fields[key.strip().lower()] = value.split()
            if "deb" in fields.get("types", ["deb"]) and fields.get("uris"):
                for uri in fields["uris"]:
                    found.append((uri, fields.get("suites", [])))
    return found


def debian_mirror():
    if os.environ.get("SM_INIT_DEBIAN_MIRROR"):
        return os.environ["SM_INIT_DEBIAN_MIRROR"]
    for uri, suites in _parse_sources():
        if SUITE in suites and uri.startswith(("http://", "https://", "file:/")):
            return uri
    return DEFAULT_MIRROR


def _rootfs_tarball():
    arch = platform.machine()
    return CACHE_DIR / ("debootstrap-%s-%s-%s.tar.gz" % (SUITE, arch, "-".join(DEBOOTSTRAP_INCLUDE)))


def build_rootfs_tarball(tarball):
    if not is_root():
        raise HarnessError("building the base image needs root (debootstrap); or set SM_INIT_TEST_BASE_IMAGE")
    if not shutil.which("debootstrap"):
        log("debootstrap not found: installing it with apt")
        apt_install(["debootstrap"])
    cmd = ["debootstrap", "--variant=minbase", "--include=" + ",".join(DEBOOTSTRAP_INCLUDE)]
    keyring = "/usr/share/keyrings/debian-archive-keyring.gpg"
    if not os.path.exists(keyring):
        try:
            apt_install(["debian-archive-keyring"])
        except EngineUnavailable as e:
            log("no Debian keyring (%s); debootstrap will try without" % e)
    if os.path.exists(keyring):
        cmd.append("--keyring=" + keyring)
    mirror = debian_mirror()
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="rootfs-", dir=CACHE_DIR))
    root = work / "root"
    try:
        log("debootstrap %s from %s (about a minute)" % (SUITE, mirror))
        run(cmd + [SUITE, root, mirror], timeout=1800)
        for pattern in ("var/cache/apt/archives/*.deb", "var/lib/apt/lists/*", "var/log/*.log",
                        "var/cache/debconf/*-old"):
            for p in glob.glob(str(root / pattern)):
                if os.path.isfile(p):
                    os.unlink(p)
        tmp = tarball.with_name(tarball.name + ".tmp")
        run(["tar", "--numeric-owner", "-C", root, "-czf", tmp, "."], timeout=900)
        os.replace(tmp, tarball)
        log("rootfs tarball %s (%d MB)" % (tarball, tarball.stat().st_size // 2 ** 20))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def image_exists(client, tag):
    import docker
    try:
        client.images.get(tag)
        return True
    except docker.errors.ImageNotFound:
        return False


def ensure_base_image(client):
    """The image to pass as BASE_IMAGE: SM_INIT_TEST_BASE_IMAGE, or sm-init-base:bookworm (built once)."""
    if os.environ.get("SM_INIT_TEST_BASE_IMAGE"):
        return os.environ["SM_INIT_TEST_BASE_IMAGE"]
    with file_lock("base-image"):
        if image_exists(client, BASE_IMAGE):
            return BASE_IMAGE
        tarball = _rootfs_tarball()
        if not tarball.exists():
            build_rootfs_tarball(tarball)
        else:
            log("reusing %s" % tarball)
        log("docker import %s as %s" % (tarball.name, BASE_IMAGE))
        client.api.import_image_from_file(
            str(tarball), repository=BASE_REPO, tag=BASE_TAG,
            changes=['ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
                     'ENV LANG=C.UTF-8', 'CMD ["/bin/bash"]'])
        client.images.get(BASE_IMAGE)
        return BASE_IMAGE


# --------------------------------------------------------------------------------------------------
# example image

def _python_tags(client, base_image):
    """(python "X.Y", machine) inside the base image: the wheels must fit it, not the host."""
    out = client.containers.run(
        base_image, ["python3", "-c", "import platform,sys; print('%d.%d %s' % (sys.version_info[:2] + (platform.machine(),)))"],
        remove=True, network_mode="none")
    pyver, machine = out.decode().split()
    return pyver, machine


def build_requirements():
    """pyproject.toml's [build-system] requires: the image builds sm-init from source."""
    text = (REPO_ROOT / "pyproject.toml").read_text()
    try:
        import tomllib
    except ImportError:  # Python < 3.11: the one list needed, read by hand
        m = re.search(r"^requires\s*=\s*\[(.*?)\]", text.split("[build-system]", 1)[-1], re.M | re.S)
        return re.findall(r"[\"']([^\"']+)[\"']", m.group(1)) if m else []
    return tomllib.loads(text)["build-system"]["requires"]


# What building sm-init reads: its package and metadata files.
SOURCE_FILES = ["supervisor", "setup.cfg", "pyproject.toml", "README.md", "LICENSE", "MANIFEST.in"]


def copy_source(dest):
    """A copy of what building sm-init reads, in dest: pip and setuptools write egg-info and build/
    into the tree they build, and setuptools packs a stale build/lib into later wheels."""
    dest = Path(dest)
    for name in SOURCE_FILES:
        if (REPO_ROOT / name).is_dir():
            shutil.copytree(REPO_ROOT / name, dest / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
        else:
            shutil.copy2(REPO_ROOT / name, dest / name)
    return dest


def pip_download(requirements, cache, pyver, machine):
    """``pip download`` binary wheels of requirements for the container's python and machine (not
    the host's) into cache. When the index cannot be reached the cache serves, if it holds wheels."""
    cache.mkdir(parents=True, exist_ok=True)
    platforms = ["manylinux2014_%s", "manylinux_2_17_%s", "manylinux2010_%s", "manylinux_2_12_%s",
                 "manylinux_2_28_%s", "manylinux1_%s", "linux_%s"]
    cmd = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "-d", cache,
           "--only-binary=:all:", "--python-version", pyver, "--implementation", "cp"]
    for p in platforms:
        cmd += ["--platform", p % machine]
    try:
        run(cmd + list(requirements), timeout=600)
    except HarnessError as e:
        if not list(cache.glob("*.whl")):
            raise
        log("pip download failed, using the cached wheels in %s: %s" % (cache, str(e).splitlines()[0]))


def download_dependency_wheels(dest, pyver, machine):
    """Wheels of what installing sm-init from source needs: its dependencies (click, whatever
    its metadata says now, as pip resolves them) and its build requirements (setuptools), for the
    container's python and machine, not the host's. Cached: when the index cannot be reached, the
    cache serves. Returns the names of the wheels now in dest."""
    cache = CACHE_DIR / ("wheels-cp%s-%s" % (pyver.replace(".", ""), machine))
    # A source folder as a requirement: pip reads its metadata and downloads only what it needs.
    with tempfile.TemporaryDirectory(prefix="sm-init-src-") as src:
        pip_download([copy_source(src)] + build_requirements(), cache, pyver, machine)
    dest.mkdir(parents=True, exist_ok=True)
    for whl in cache.glob("*.whl"):
        if not whl.name.startswith(("sm_init-", "sm-init-")) and not (dest / whl.name).exists():
            shutil.copy2(whl, dest)
    return sorted(p.name for p in dest.glob("*.whl"))


def _dangling(client):
    return {img.id for img in client.images.list(filters={"dangling": True})}


def build_image(client, buildargs, tag, target=None):
    """``docker build -f Dockerfile.example`` from the repository; the build log when it fails.

    Every rebuild untags the previous image of that tag and leaves the first stage untagged: what
    this build left dangling is removed, so that runs do not pile images up."""
    import docker
    dangling_before = _dangling(client)
    log("docker build -f Dockerfile.example %s%s -t %s %s"
        % ("".join("--build-arg %s=%s " % kv for kv in buildargs.items()),
           "--target %s" % target if target else "", tag, REPO_ROOT))
    t0 = time.monotonic()
    try:
        image, _ = client.images.build(path=str(REPO_ROOT), dockerfile="Dockerfile.example", tag=tag,
                                       buildargs=buildargs, target=target, rm=True, forcerm=True,
                                       pull=False)
    except docker.errors.BuildError as e:
        lines = "".join(chunk.get("stream", "") or chunk.get("error", "") for chunk in e.build_log)
        raise HarnessError("docker build failed: %s\n%s" % (e.msg, lines[-6000:]))
    finally:
        for image_id in _dangling(client) - dangling_before:
            try:
                client.images.remove(image_id)
            except docker.errors.APIError as e:
                log("could not remove dangling image %s: %s" % (image_id[:19], e))
    log("built %s in %.0fs" % (tag, time.monotonic() - t0))
    return image


def build_example_image(client, base_image, tag=EXAMPLE_IMAGE):
    """Dockerfile.example with its default build arguments but the base: sm-init from this repository."""
    with file_lock("example-image"):
        pyver, machine = _python_tags(client, base_image)
        wheels = download_dependency_wheels(WHEELS_DIR, pyver, machine)
        log("%s: %s" % (WHEELS_DIR.relative_to(REPO_ROOT), ", ".join(wheels)))
        return build_image(client, {"BASE_IMAGE": base_image}, tag)


# --------------------------------------------------------------------------------------------------
# multi-host image: the example image over a base that holds torch (CPU), for tests/docker's jobs
# that span containers (torchrun on gloo). Built offline too: torch's wheel is read from a folder on
# this machine, its dependencies downloaded (and cached) like sm-init's.

TORCH_VERSION = "2.13.0"
TORCH_WHEELS_DIR = Path(os.environ.get("SM_INIT_TORCH_WHEELS") or "/opt/wheels")
TORCH_BASE_REPO = "sm-init-torch-base"
# Changes to how the torch base is made change this, so that an old image is not taken for it.
TORCH_BASE_RECIPE = "venv /opt/torch, PATH first, v1"
MULTIHOST_IMAGE = "sm-init-multihost:test-%s" % EXAMPLE_IMAGE.rsplit("-", 1)[1]


def torch_wheel(pyver, machine):
    """The torch CPU wheel for the container's python and machine, from SM_INIT_TORCH_WHEELS."""
    pattern = "torch-%s*-cp%s-cp%s-*%s.whl" % (TORCH_VERSION, pyver.replace(".", ""), pyver.replace(".", ""),
                                              machine)
    found = sorted(TORCH_WHEELS_DIR.glob(pattern))
    if not found:
        raise HarnessError("no torch %s wheel (%s) in %s: put one there or name its folder in "
                           "SM_INIT_TORCH_WHEELS" % (TORCH_VERSION, pattern, TORCH_WHEELS_DIR))
    return found[-1]


def wheel_requirements(wheel):
    """The unconditional Requires-Dist of a wheel (extras left out)."""
    import zipfile
    with zipfile.ZipFile(wheel) as z:
        [name] = [n for n in z.namelist() if n.endswith(".dist-info/METADATA") and n.count("/") == 1]
        metadata = z.read(name).decode("utf-8", "replace")
    requirements = []
    for line in metadata.splitlines():
        if line.startswith("Requires-Dist:"):
            req = line.split(":", 1)[1].strip()
            if "extra ==" not in req:
                requirements.append(req.split(";", 1)[0].strip())
    return requirements


def ensure_torch_base_image(client, base_image):
    """base_image plus torch in a venv at /opt/torch, first on PATH (python3 is that venv's).

    Made once per base image and torch wheel (the tag says which) and reused while it exists: a
    container installs the wheels from read-only mounts, without a network, and is committed."""
    pyver, machine = _python_tags(client, base_image)
    wheel = torch_wheel(pyver, machine)
    base_id = client.images.get(base_image).id
    digest = hashlib.sha256(("%s %s %s" % (base_id, wheel.name, TORCH_BASE_RECIPE)).encode()).hexdigest()[:12]
    tag = "%s:%s" % (TORCH_BASE_REPO, digest)
    with file_lock("torch-base-image"):
        if image_exists(client, tag):
            return tag
        deps = CACHE_DIR / ("torch-deps-cp%s-%s" % (pyver.replace(".", ""), machine))
        pip_download(wheel_requirements(wheel), deps, pyver, machine)
        script = ("set -eu; python3 -m venv /opt/torch; "
                  "/opt/torch/bin/pip install --disable-pip-version-check --no-cache-dir --no-index "
                  "--find-links /wheels/torch --find-links /wheels/deps torch==%s; "
                  "/opt/torch/bin/python -c 'import torch.distributed, torch.distributed.run'" % TORCH_VERSION)
        log("installing %s into a container of %s (a minute or two)" % (wheel.name, base_image))
        t0 = time.monotonic()
        container = client.containers.run(
            base_image, ["sh", "-c", script], detach=True, network_mode="none",
            volumes={str(wheel.parent): {"bind": "/wheels/torch", "mode": "ro"},
                     str(deps): {"bind": "/wheels/deps", "mode": "ro"}})
        try:
            code = container.wait(timeout=1200)["StatusCode"]
            if code != 0:
                raise HarnessError("installing torch into %s failed (exit %d):\n%s"
                                   % (base_image, code, container_logs(container)[-4000:]))
            repo, _, image_tag = tag.partition(":")
            container.commit(repository=repo, tag=image_tag, changes=[
                "ENV PATH=/opt/torch/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"])
        finally:
            container.remove(force=True)
        log("%s made in %.0fs" % (tag, time.monotonic() - t0))
        return tag


class Harness:
    """What the docker tests need: a client, the example image's tag, the network mode to use."""

    def __init__(self):
        self.client = None
        self.image = None
        self.base_image = None
        self.network_mode = None
        self.multihost = None
        self.timings = {}

    def setup(self):
        t0 = time.monotonic()
        self.client = get_engine()
        self.network_mode = network_mode(self.client)
        t1 = time.monotonic()
        self.base_image = ensure_base_image(self.client)
        t2 = time.monotonic()
        build_example_image(self.client, self.base_image)
        self.image = EXAMPLE_IMAGE
        t3 = time.monotonic()
        self.timings = {"engine": t1 - t0, "base_image": t2 - t1, "example_image": t3 - t2}
        log("ready: engine %.0fs, base image %.0fs, example image %.0fs, network %s"
            % (t1 - t0, t2 - t1, t3 - t2, self.network_mode))
        return self

    def multihost_image(self):
        """The multi-host image (built on first use): Dockerfile.example, built as for the example
        image but over the torch base, so that torchrun can span containers."""
        if self.multihost is None:
            t0 = time.monotonic()
            torch_base = ensure_torch_base_image(self.client, self.base_image)
            t1 = time.monotonic()
            build_example_image(self.client, torch_base, tag=MULTIHOST_IMAGE)
            self.multihost = MULTIHOST_IMAGE
            self.timings.update(torch_base_image=t1 - t0, multihost_image=time.monotonic() - t1)
        return self.multihost


def main(argv):
    client = get_engine()
    info = client.version()
    print(json.dumps({"engine": info.get("Version"), "api": info.get("ApiVersion"),
                      "network_mode": network_mode(client)}))
    if "--engine" in argv:
        return 0
    h = Harness().setup()
    if "--multihost" in argv:
        h.multihost_image()
    print(json.dumps({"image": h.image, "base_image": h.base_image, "multihost_image": h.multihost,
                      "timings": h.timings}))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (EngineUnavailable, HarnessError) as e:
        print("docker_harness: error: %s" % e, file=sys.stderr)
        sys.exit(1)


# --------------------------------------------------------------------------------------------------
# helpers for the tests

def make_ml_root(root, hyperparameters=None, channels=("training",), current_host="algo-1"):
    """A SageMaker /opt/ml layout under root (to bind-mount at /opt/ml); returns root as a Path."""
    root = Path(root)
    config = root / "input" / "config"
    config.mkdir(parents=True, exist_ok=True)
    for sub in ("model", "output/data", "checkpoints"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for channel in channels:
        (root / "input" / "data" / channel).mkdir(parents=True, exist_ok=True)
        (root / "input" / "data" / channel / "part-0.csv").write_text("1,2,3\n")
    # SageMaker passes every hyperparameter value as a string.
    hp = {k: str(v) for k, v in (hyperparameters or {}).items()}
    (config / "hyperparameters.json").write_text(json.dumps(hp))
    (config / "inputdataconfig.json").write_text(json.dumps(
        {c: {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated", "RecordWrapperType": "None"}
         for c in channels}))
    (config / "resourceconfig.json").write_text(json.dumps(
        {"current_host": current_host, "hosts": [current_host], "network_interface_name": "eth0"}))
    return root


def container_logs(container):
    return container.logs(stdout=True, stderr=True).decode("utf-8", "replace")


def wait_for_log(container, pattern, timeout=60.0, poll=0.2):
    """Wait until a line of the container's output matches pattern (regex); return the match.

    Fails at once if the container exits before the line shows up."""
    rx = re.compile(pattern, re.M)
    deadline = time.monotonic() + timeout
    while True:
        text = container_logs(container)
        m = rx.search(text)
        if m:
            return m
        container.reload()
        if container.status in ("exited", "dead"):
            raise AssertionError("container exited (code %s) before a line matched %r; output:\n%s"
                                 % (container.attrs["State"].get("ExitCode"), pattern, text))
        if time.monotonic() > deadline:
            raise AssertionError("no line matched %r within %ss; output:\n%s" % (pattern, timeout, text))
        time.sleep(poll)


def wait_exit(container, timeout=60):
    """The container's exit code; fails when it is still running after timeout seconds."""
    try:
        result = container.wait(timeout=timeout)
    except Exception as e:  # requests' ReadTimeout / ConnectionError
        raise AssertionError("container still running after %ss (%s); output:\n%s"
                             % (timeout, type(e).__name__, container_logs(container)))
    return result["StatusCode"]


def sm_init_lines(text):
    return [line for line in text.splitlines() if line.startswith("sm-init: ")]
