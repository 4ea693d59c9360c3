"""The repository's front doors: the commands and documents a newcomer meets first.

``examples/run`` returns sm-init's exit code and, however it ends, leaves no process and no
temporary folder behind; CONTRIBUTING.md's module map names every module of the package (the
documentation's links and generated sections: test_docs.py). These test the repository, not
the package: the sdist leaves this file out (see MANIFEST.in).
"""

import os
import re
import signal
import subprocess
import uuid

from helpers.commands import default_signals
from helpers.realinit import MARK, TIMEOUT, Lines, marked_processes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES_RUN = os.path.join(ROOT, "examples", "run")


def start_example(tmp_path, *args):
    """examples/run with its temporary folder under tmp_path and a marker on every process it starts."""
    mark = uuid.uuid4().hex
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = dict(os.environ, TMPDIR=str(tmp), **{MARK: mark})
    # As a person starts it from a shell: its traps must work however this test run was started.
    process = subprocess.Popen([EXAMPLES_RUN, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, env=env, preexec_fn=default_signals)
    return process, Lines(process.stdout), mark, tmp


def finish(process, lines):
    try:
        return process.wait(TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        lines.drain()


def test_examples_run_exits_with_sm_init_code(tmp_path):
    """The stop is a SIGTERM the trainer handles: sm-init exits 128+15, and so does the script."""
    process, lines, mark, tmp = start_example(tmp_path)
    code = finish(process, lines)
    assert code == 143, lines.text
    assert "== sm-init exited with 143" in lines.seen, lines.text
    assert any("hook save-checkpoint: copied" in line for line in lines.seen), lines.text
    assert os.listdir(tmp) == [], "examples/run left %s behind" % os.listdir(tmp)
    assert marked_processes(mark) == []


def test_examples_run_cleans_up_when_interrupted(tmp_path):
    """Ctrl-C partway (here SIGINT to the script alone, before its own stop): the trap stops sm-init,
    which stops the trainer, and removes the temporary folder; the script exits 130."""
    process, lines, mark, tmp = start_example(tmp_path, "1000")  # never stops by itself
    try:
        lines.expect(r"^train: step 1/100 done")
        assert len(os.listdir(tmp)) == 1 and marked_processes(mark), "nothing running to clean up"
        process.send_signal(signal.SIGINT)
    finally:
        code = finish(process, lines)
    assert code == 130, lines.text
    assert any(line.startswith("== cleaning up: SIGTERM to") for line in lines.seen), lines.text
    assert any(line.startswith("sm-init: exit:") for line in lines.seen), lines.text
    assert os.listdir(tmp) == [], "examples/run left %s behind" % os.listdir(tmp)
    assert marked_processes(mark) == []


def test_contributing_maps_every_module():
    """Every module of the package has its line in CONTRIBUTING.md's module map."""
    with open(os.path.join(ROOT, "CONTRIBUTING.md")) as f:
        text = f.read()
    package = os.path.join(ROOT, "supervisor", "sm_init")
    # A subpackage's modules by their own names, on the lines below its folder's ("reasons/").
    modules = sorted(os.path.relpath(os.path.join(folder, name), package)
                     for folder, _dirs, names in os.walk(package) for name in names if name.endswith(".py"))
    assert modules
    missing = [path for path in modules
               if not re.search(r"^\s+%s\s" % re.escape(os.path.basename(path)), text, re.M)
               or (os.path.dirname(path) and not re.search(r"^\s+%s/\s" % re.escape(os.path.dirname(path)), text, re.M))]
    assert missing == [], "CONTRIBUTING.md's module map does not name %s" % missing
