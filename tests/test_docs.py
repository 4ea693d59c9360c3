"""The documentation holds together: every generated section is what tools/readme-figures makes of
its generated file. These test the repository, not the
package: the sdist leaves this file out (see MANIFEST.in).
"""

import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README_FIGURES = os.path.join(ROOT, "tools", "readme-figures")
GENERATED = ["bench/RESULTS.md", "bench/SERVING.md", "tests/RELIABILITY.md"]
GENERATED_INTO = ["README.md", "docs/benchmarks.md", "docs/serving.md", "docs/reliability.md"]


def test_generated_sections_are_current():
    """README.md's headline table and the generated sections of docs/ are what tools/readme-figures
    makes of bench/RESULTS.md, bench/SERVING.md and tests/RELIABILITY.md: rerun the tool after
    bench/run, bench/serving or tests/reliability.py."""
    result = subprocess.run([README_FIGURES, "--check"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert result.returncode == 0, result.stdout.decode()


def copy_docs(tmp_path):
    for path in GENERATED + GENERATED_INTO:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(os.path.join(ROOT, path), tmp_path / path)
    check = [README_FIGURES, "--check", "--root", str(tmp_path)]
    assert subprocess.run(check, stdout=subprocess.DEVNULL).returncode == 0
    return check


@pytest.mark.parametrize("page, marker, old, new", [
    ("docs/reliability.md", "<!-- BEGIN tests/RELIABILITY.md -->", "Run: ", "Run (edited): "),
    ("README.md", "<!-- BEGIN headline figures -->", "| memory, idle RSS | MiB | ", "| memory, idle RSS | MiB | 1"),
])
def test_generated_check_sees_a_hand_edit(tmp_path, page, marker, old, new):
    """The check above can fail: a figure typed into a page by hand is a difference."""
    check = copy_docs(tmp_path)
    text = (tmp_path / page).read_text()
    begin = text.index(marker)
    (tmp_path / page).write_text(text[:begin] + text[begin:].replace(old, new, 1))
    result = subprocess.run(check, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = result.stdout.decode()
    assert result.returncode == 1, out
    assert "+" + old in out and "-" + new in out and "in %s: run tools/readme-figures" % page in out, out


def test_generated_check_sees_a_new_run(tmp_path):
    """A new bench run that the pages have not followed: its page and the README's headline table are
    both stale, and the tool brings both up to date."""
    check = copy_docs(tmp_path)
    results = tmp_path / "bench" / "RESULTS.md"
    rows = [line for line in results.read_text().splitlines() if line.startswith("| idle RSS |")]
    assert len(rows) == 1
    results.write_text(results.read_text().replace(rows[0], rows[0].replace("| idle RSS | MiB | ", "| idle RSS | MiB | 99", 1)))
    result = subprocess.run(check, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = result.stdout.decode()
    assert result.returncode == 1, out
    assert "README.md, docs/benchmarks.md: run tools/readme-figures" in out, out
    assert subprocess.run(check[:1] + ["--root", str(tmp_path)]).returncode == 0
    assert subprocess.run(check, stdout=subprocess.DEVNULL).returncode == 0
    assert "| memory, idle RSS | MiB | 99" in (tmp_path / "README.md").read_text()
