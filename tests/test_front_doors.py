"""The repository's front doors: the commands and documents a newcomer meets first.

``examples/run`` returns sm-init's exit code and, however it ends, leaves no process and no
temporary folder behind; README.md's generated sections match the files they are generated from;
CONTRIBUTING.md's module map names every module of the package. These test the repository, not
the package: the sdist leaves this file out (see MANIFEST.in).
"""

import os
import re
import shutil
import signal
import subprocess
import uuid

from helpers.commands import default_signals
from helpers.realinit import MARK, TIMEOUT, Lines, marked_processes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLES_RUN = os.path.join(ROOT, "examples", "run")
README_FIGURES = os.path.join(ROOT, "tools", "readme-figures")


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


def test_readme_figures_are_current():
    """README.md's generated sections are what tools/readme-figures makes of bench/RESULTS.md,
    bench/SERVING.md and tests/RELIABILITY.md: rerun the tool after bench/run, bench/serving or
    tests/reliability.py."""
    result = subprocess.run([README_FIGURES, "--check"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert result.returncode == 0, result.stdout.decode()


def test_readme_figures_check_sees_a_hand_edit(tmp_path):
    """The check above can fail: a figure typed into the README by hand is a difference."""
    for path in ["README.md", "bench/RESULTS.md", "bench/SERVING.md", "tests/RELIABILITY.md"]:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(os.path.join(ROOT, path), tmp_path / path)
    check = [README_FIGURES, "--check", "--root", str(tmp_path)]
    assert subprocess.run(check, stdout=subprocess.DEVNULL).returncode == 0
    readme = (tmp_path / "README.md").read_text()
    begin = readme.index("<!-- BEGIN tests/RELIABILITY.md -->")
    (tmp_path / "README.md").write_text(readme[:begin] + readme[begin:].replace("Run: ", "Run (edited): ", 1))
    result = subprocess.run(check, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert result.returncode == 1
    assert "+Run: " in result.stdout.decode() and "-Run (edited): " in result.stdout.decode()


def test_contributing_maps_every_module():
    """Every module of the package has its line in CONTRIBUTING.md's module map."""
    with open(os.path.join(ROOT, "CONTRIBUTING.md")) as f:
        text = f.read()
    package = os.path.join(ROOT, "supervisor", "sm_init")
    modules = sorted(name for name in os.listdir(package) if name.endswith(".py"))
    assert modules
    missing = [name for name in modules if not re.search(r"^\s+%s\s" % re.escape(name), text, re.M)]
    assert missing == [], "CONTRIBUTING.md's module map does not name %s" % missing
