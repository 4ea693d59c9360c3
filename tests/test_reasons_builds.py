"""A build that stopped on a compiler's error (reports.py's build_error): the compiler's first error,
over the exception a build in Python raised for it. Real builds run here: torch's cpp_extension
(ninja, gcc), ninja run from a script as older torch did, make, setuptools."""

import os
import subprocess
import sys
import textwrap

import pytest

from sm_init import reasons

UNDECLARED = "error: ‘undefined_name’ was not declared in this scope"
BAD_SOURCE = "int f() { return undefined_name; }\n"


def run(tmp_path, *command, **kw) -> bytes:
    """The stderr and stdout of a command that fails, as a terminal would have shown them."""
    done = subprocess.run(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600, **kw)
    assert done.returncode != 0, done.stdout.decode(errors="replace")
    return done.stdout


def found(output: bytes):
    finding = reasons.find_error(output)
    assert finding is not None, output.decode(errors="replace")
    return finding


def test_torchs_cpp_extension_whose_compile_fails(tmp_path):
    # torch.utils.cpp_extension.load: ninja runs g++, then RuntimeError("Error building extension
    # 'x': " + ninja's output), chained from the CalledProcessError of ninja.
    pytest.importorskip("torch")
    (tmp_path / "bad.cpp").write_text(BAD_SOURCE)
    script = ("from torch.utils.cpp_extension import load\n"
              f"load(name='badext', sources=['bad.cpp'], build_directory={str(tmp_path)!r})\n")
    output = run(tmp_path, sys.executable, "-c", script)
    assert b"Error building extension 'badext'" in output and b"ninja: build stopped" in output
    finding = found(output)
    assert finding.name == "build-error" and finding.error.endswith("bad.cpp:1:18: " + UNDECLARED), finding


def test_ninja_run_by_a_script_then_its_calledprocesserror(tmp_path):
    # Older torch printed ninja's output, then raised the CalledProcessError of ninja (and a
    # RuntimeError from it): a paste often ends inside that second traceback.
    (tmp_path / "bad.cpp").write_text(BAD_SOURCE)
    (tmp_path / "build.ninja").write_text("rule cxx\n  command = g++ -c $in -o $out\nbuild bad.o: cxx bad.cpp\n")
    script = "import subprocess\nsubprocess.run(['ninja', '-v'], check=True)\n"
    output = run(tmp_path, sys.executable, "-c", script)
    assert b"CalledProcessError: Command '['ninja', '-v']'" in output
    finding = found(output)
    assert (finding.name, finding.error) == ("build-error", "bad.cpp:1:18: " + UNDECLARED), finding


def test_make_whose_compile_fails(tmp_path):
    (tmp_path / "bad.c").write_text("int f(void) { return undefined_name; }\n")
    (tmp_path / "Makefile").write_text("all:\n\tcc -c bad.c -o bad.o\n")
    output = run(tmp_path, "make")
    assert b"make: *** [Makefile:2: all] Error 1" in output
    finding = found(output)
    assert finding.name == "build-error" and finding.error.startswith("bad.c:1:22: error: "), finding


def test_setuptools_whose_link_fails(tmp_path):
    # The linker's error, not the compiler's: a function declared and never defined.
    (tmp_path / "ext.c").write_text(textwrap.dedent("""\
        #include <Python.h>
        int missing(void);
        static PyModuleDef m = {PyModuleDef_HEAD_INIT, "ext"};
        PyMODINIT_FUNC PyInit_ext(void) { missing(); return PyModule_Create(&m); }
        """))
    (tmp_path / "setup.py").write_text(
        "from setuptools import setup, Extension\n"
        "setup(name='ext', ext_modules=[Extension('ext', ['ext.c'], extra_link_args=['-Wl,--no-undefined'])])\n")
    output = run(tmp_path, sys.executable, "setup.py", "-q", "build_ext", env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert b"error: Command '['gcc', '-shared'" in output and output.endswith(b"returned non-zero exit status 1.\n")
    finding = found(output)
    assert finding.name == "build-error" and "undefined reference to `missing'" in finding.error, finding


@pytest.mark.parametrize("text, shown", [
    # nvcc's driver (CUDA 13.0 run here, -arch=compute_10), then ninja's stop.
    ("nvcc fatal   : Unsupported gpu architecture 'compute_10'\nninja: build stopped: subcommand failed.\n",
     "nvcc fatal : Unsupported gpu architecture 'compute_10'"),
    # nvcc's front end, then older setuptools' (distutils' spawn: "command %r failed with exit code %s").
    ('k.cu(3): error: identifier "y" is undefined\nerror: command \'/usr/local/cuda/bin/nvcc\' failed with exit code 1\n',
     'k.cu(3): error: identifier "y" is undefined'),
    # Of a build's errors, the first; of two builds, the last one's.
    ("a.c:1:1: error: old\nmake: *** [Makefile:2: all] Error 1\nb.c:1:1: error: first\nb.c:2:1: error: second\n"
     "make: *** [Makefile:2: all] Error 1\n", "b.c:1:1: error: first"),
])
def test_a_builds_forms(text, shown):
    finding = found(text.encode())
    assert (finding.name, finding.error) == ("build-error", shown), finding


@pytest.mark.parametrize("text", [
    # A compiler's error with no build that says it stopped: a probe, a log line.
    "x.cpp:2:18: error: nope\nstep 3 loss 0.25\n",
    # A build that stopped with no compiler's error above it (a paste that lost it).
    "[1/2] c++ -c x.cpp\nninja: build stopped: subcommand failed.\n",
    # The build stopped, the job went on and died of something else: that.
    "x.cpp:2:18: error: nope\nninja: build stopped: subcommand failed.\nfalling back to the slow kernel\n"
    'Traceback (most recent call last):\n  File "t.py", line 3, in <module>\nKeyError: \'labels\'\n',
])
def test_not_a_builds_error(text):
    finding = reasons.find_error(text)
    assert finding is None or finding.name != "build-error", finding
