"""Bad input: one ``sm-init: error:`` line naming the problem, the documented exit code,
and nothing started.

Each case runs through ``start_init`` (as PID 1 under unshare, and plain), with a command that
would leave a file behind had it run; after sm-init exited, that file must not exist and no
process of the run may be alive. Exit codes: 2 for usage and configuration errors, 127 for a
command that is not found, 126 for one that can't be executed.
"""

import os
import shlex
import stat
import sys

import pytest

from helpers.commands import probe
from helpers.realinit import error_lines

USAGE, NOT_EXECUTABLE, NOT_FOUND = 2, 126, 127


@pytest.fixture
def marker(tmp_path):
    """A path, and the argv of a command that creates it: proof that nothing ran if it is absent."""
    path = tmp_path / "ran"
    return path, [sys.executable, "-c", f"open({str(path)!r}, 'w').close()"]


@pytest.fixture
def bare_path(tmp_path):
    """A PATH with an empty directory first and only system directories after it (unshare is in
    /usr/bin): no ``train`` or ``serve`` anywhere on it."""
    empty = tmp_path / "bin"
    empty.mkdir()
    path = os.pathsep.join([str(empty), "/usr/sbin", "/usr/bin", "/sbin", "/bin"])
    for directory in path.split(os.pathsep):
        for word in ("train", "serve"):
            assert not os.path.exists(os.path.join(directory, word)), "this machine has a real " + word
    return path


def check_rejected(init, code, *phrases, marker_path=None):
    assert init.wait() == code, init.log.text
    errors = error_lines(init)
    assert init.log.seen == errors and len(errors) == 1, init.log.seen  # exactly one line, no traceback
    for phrase in phrases:
        assert phrase in errors[0], (phrase, errors[0])
    assert init.out.drain() == []
    assert init.survivors() == []
    if marker_path is not None:
        assert not marker_path.exists(), "the command ran"


def test_unknown_option(start_init, marker):
    path, command = marker
    init = start_init("--no-such-option", "--", *command)
    check_rejected(init, USAGE, "--no-such-option", marker_path=path)


def test_train_with_nothing_configured_and_none_on_path(start_init, bare_path, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("SM_INIT_TRAIN", "SM_INIT_SERVE")}
    env["PATH"] = bare_path
    init = start_init("--ml-root", str(tmp_path), "--", "train", env=env)
    check_rejected(init, USAGE, "train", "--train", "SM_INIT_TRAIN", "PATH")


def test_serve_with_nothing_configured_and_none_on_path(start_init, bare_path):
    env = {k: v for k, v in os.environ.items() if k not in ("SM_INIT_TRAIN", "SM_INIT_SERVE")}
    env["PATH"] = bare_path
    init = start_init("--", "serve", env=env)
    check_rejected(init, USAGE, "serve", "--serve", "SM_INIT_SERVE")


def test_command_not_found(start_init):
    init = start_init("--", "sm-init-test-no-such-command", "arg")
    check_rejected(init, NOT_FOUND, "sm-init-test-no-such-command", "not found")


def test_command_path_not_found(start_init, tmp_path):
    missing = str(tmp_path / "missing")
    init = start_init("--", missing)
    check_rejected(init, NOT_FOUND, missing, "not found")


def test_command_not_executable(start_init, tmp_path, marker):
    path, command = marker
    script = tmp_path / "script"
    script.write_text(f"#!/bin/sh\ntouch {path}\n")
    script.chmod(stat.S_IRUSR | stat.S_IWUSR)
    init = start_init("--", str(script))
    check_rejected(init, NOT_EXECUTABLE, str(script), marker_path=path)


def test_not_executable_on_path(start_init, tmp_path, marker):
    """A non-executable file found on PATH (and nothing executable of that name): 126, not 127."""
    path, command = marker
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "sm-init-test-tool"
    script.write_text(f"#!/bin/sh\ntouch {path}\n")
    script.chmod(0o644)
    env = dict(os.environ, PATH=os.pathsep.join([str(bindir), os.environ["PATH"]]))
    init = start_init("--", "sm-init-test-tool", env=env)
    check_rejected(init, NOT_EXECUTABLE, "sm-init-test-tool", marker_path=path)


def test_directory_as_command(start_init, tmp_path):
    init = start_init("--", str(tmp_path))
    check_rejected(init, NOT_EXECUTABLE, str(tmp_path))


@pytest.mark.parametrize("rewrite, named", [("FOO=TERM", "FOO"), ("TERM=BAR", "BAR"), ("TERM", "TERM"),
                                            ("999=TERM", "999"), ("0=TERM", "0")])
def test_bad_rewrite(start_init, marker, rewrite, named):
    path, command = marker
    init = start_init("--rewrite", rewrite, "--", *command)
    check_rejected(init, USAGE, "--rewrite", named, marker_path=path)


def test_bad_rewrite_from_environment(start_init, marker):
    path, command = marker
    init = start_init("--", *command, env=dict(os.environ, SM_INIT_REWRITE="USR1=NOPE"))
    check_rejected(init, USAGE, "SM_INIT_REWRITE:", "NOPE", marker_path=path)   # names where it came from


def test_bad_scope(start_init, marker):
    path, command = marker
    init = start_init("--signal-scope", "session", "--", *command)
    check_rejected(init, USAGE, "--signal-scope", "session", marker_path=path)


def test_bad_scope_from_environment(start_init, marker):
    path, command = marker
    init = start_init("--", *command, env=dict(os.environ, SM_INIT_SIGNAL_SCOPE="everyone"))
    check_rejected(init, USAGE, "SM_INIT_SIGNAL_SCOPE:", "everyone", marker_path=path)


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_train(start_init, tmp_path, text):
    init = start_init("--train", text, "--ml-root", str(tmp_path), "--", "train")
    check_rejected(init, USAGE, "--train", "empty")


def test_empty_serve_variable_counts_as_unset(start_init, bare_path):
    """An empty SM_INIT_SERVE is as if unset (click's rule for every SM_INIT_* variable), unlike an
    empty --serve: with no ``serve`` on PATH that is the nothing-configured error."""
    init = start_init("--", "serve", env=dict(os.environ, SM_INIT_SERVE="", PATH=bare_path))
    check_rejected(init, USAGE, "no serve command configured")


def test_unbalanced_quotes(start_init, tmp_path, marker):
    path, command = marker
    text = f"{command[0]} -c \"open('{path}', 'w').close()"  # the closing double quote is missing
    init = start_init("--train", text, "--ml-root", str(tmp_path), "--", "train")
    check_rejected(init, USAGE, "--train", "quotation", marker_path=path)


def test_no_command(start_init):
    init = start_init("--")
    check_rejected(init, USAGE, "no command")


def test_bad_stop_timeout(start_init, marker):
    path, command = marker
    init = start_init("--stop-timeout", "soon", "--", *command)
    check_rejected(init, USAGE, "--stop-timeout", "soon", marker_path=path)


# ---------------------------------------------------------------------------------------------
# Garbage in every option and variable

@pytest.fixture(scope="module")
def plain_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("plain") / "a-file"
    path.write_text("not a directory\n")
    return str(path)


TIMES = ["--stop-timeout", "--hook-timeout", "--max-runtime", "--leftover-grace"]
GARBAGE_SECONDS = ["-1", "nan", "inf", "-inf", "1e400", "", "ten", "1e9", b"\xff\xfe"]
# (case id, option named in the message, args before --, env, value shown in the message)
BAD = [(f"{opt}={val!r}", opt, [opt.encode(), val] if isinstance(val, bytes) else [opt, val], {},
        val.decode("utf-8", "surrogateescape") if isinstance(val, bytes) else val)
       for opt in TIMES for val in GARBAGE_SECONDS]
BAD += [
    ("--stop-timeout=0", "--stop-timeout", ["--stop-timeout", "0"], {}, "0"),
    ("--max-runtime=0", "--max-runtime", ["--max-runtime", "0"], {}, "0"),
    ("--hook-timeout>stop", "--hook-timeout", ["--stop-timeout", "4", "--hook-timeout", "4"], {}, "4"),
    ("--signal-scope=bogus", "--signal-scope", ["--signal-scope", "bogus"], {}, "bogus"),
    ("--signal-scope=empty", "--signal-scope", ["--signal-scope", ""], {}, "''"),
    ("--hooks-on=never", "--hooks-on", ["--hooks-on", "never"], {}, "never"),
    ("--rewrite=TERM", "--rewrite", ["--rewrite", "TERM"], {}, "TERM"),
    ("--rewrite==QUIT", "--rewrite", ["--rewrite", "=QUIT"], {}, "=QUIT"),
    ("--rewrite=FOO=TERM", "--rewrite", ["--rewrite", "FOO=TERM"], {}, "FOO"),
    ("--rewrite=TERM=BAR", "--rewrite", ["--rewrite", "TERM=BAR"], {}, "BAR"),
    ("--rewrite=999=TERM", "--rewrite", ["--rewrite", "999=TERM"], {}, "999"),
    ("--rewrite=0=TERM", "--rewrite", ["--rewrite", "0=TERM"], {}, "0=TERM"),
    ("--rewrite=TERM=-1", "--rewrite", ["--rewrite", "TERM=-1"], {}, "-1"),
    ("--rewrite=bytes", "--rewrite", [b"--rewrite", b"TERM=\xff"], {}, "\udcff"),
    ("--pre-kill=unbalanced", "--pre-kill", ["--pre-kill", 'echo "unbalanced'], {}, 'echo "unbalanced'),
    ("--pre-kill=empty", "--pre-kill", ["--pre-kill", ""], {}, "empty command"),
    ("--train=unbalanced", "--train", ["--train", "python 'x"], {}, "python 'x"),
    ("--serve=empty", "--serve", ["--serve", "   "], {}, "empty command"),
    ("SM_INIT_SERVE=unbalanced, training", "SM_INIT_SERVE", ["--ml-root", "{tmp}"], {"SM_INIT_SERVE": "serve 'x"},
     "serve 'x"),
    ("--hooks-dir=file", "--hooks-dir", ["--hooks-dir", "{file}"], {}, "{file}"),
    ("--hooks-dir=empty", "--hooks-dir", ["--hooks-dir", ""], {}, "empty path"),
    ("--ml-root=file", "--ml-root", ["--ml-root", "{file}"], {}, "{file}"),
    ("--ml-root=empty", "--ml-root", ["--ml-root", ""], {}, "empty path"),
    ("--bogus", "--bogus", ["--bogus"], {}, "--bogus"),
    ("--stop-timeout missing value", "--stop-timeout", ["--stop-timeout"], {}, "--stop-timeout"),
    ("SM_INIT_STOP_TIMEOUT=nan", "SM_INIT_STOP_TIMEOUT", [], {"SM_INIT_STOP_TIMEOUT": "nan"}, "nan"),
    ("SM_INIT_HOOK_TIMEOUT=1e400", "SM_INIT_HOOK_TIMEOUT", [], {"SM_INIT_HOOK_TIMEOUT": "1e400"}, "1e400"),
    ("SM_INIT_MAX_RUNTIME=-5", "SM_INIT_MAX_RUNTIME", [], {"SM_INIT_MAX_RUNTIME": "-5"}, "-5"),
    ("SM_INIT_LEFTOVER_GRACE=inf", "SM_INIT_LEFTOVER_GRACE", [], {"SM_INIT_LEFTOVER_GRACE": "inf"}, "inf"),
    ("SM_INIT_STOP_TIMEOUT=bytes", "SM_INIT_STOP_TIMEOUT", [], {b"SM_INIT_STOP_TIMEOUT": b"\xff1"}, "\udcff1"),
    ("SM_INIT_SIGNAL_SCOPE=pgrp", "SM_INIT_SIGNAL_SCOPE", [], {"SM_INIT_SIGNAL_SCOPE": "pgrp"}, "pgrp"),
    ("SM_INIT_HOOKS_ON=sometimes", "SM_INIT_HOOKS_ON", [], {"SM_INIT_HOOKS_ON": "sometimes"}, "sometimes"),
    ("SM_INIT_REWRITE=TERM", "SM_INIT_REWRITE", [], {"SM_INIT_REWRITE": "TERM"}, "TERM"),
    ("SM_INIT_REWRITE=SIGFOO=TERM", "SM_INIT_REWRITE", [], {"SM_INIT_REWRITE": "SIGFOO=TERM"}, "SIGFOO"),
    ("SM_INIT_PRE_KILL=unbalanced", "SM_INIT_PRE_KILL", [], {"SM_INIT_PRE_KILL": "save 'it"}, "save 'it"),
    ("SM_INIT_PRE_KILL=bytes", "SM_INIT_PRE_KILL", [], {b"SM_INIT_PRE_KILL": b"save '\xff"}, "\udcff"),
    ("SM_INIT_TRAIN=unbalanced", "SM_INIT_TRAIN", [], {"SM_INIT_TRAIN": 'python "x'}, 'python "x'),
    ("SM_INIT_HOOKS_DIR=file", "SM_INIT_HOOKS_DIR", [], {"SM_INIT_HOOKS_DIR": "{file}"}, "{file}"),
    ("SM_INIT_ML_ROOT=file", "SM_INIT_ML_ROOT", [], {"SM_INIT_ML_ROOT": "{file}"}, "{file}"),
    ("SM_INIT_VERBOSE=lots", "SM_INIT_VERBOSE", [], {"SM_INIT_VERBOSE": "lots"}, "lots"),
    ("SM_INIT_QUIET=perhaps", "SM_INIT_QUIET", [], {"SM_INIT_QUIET": "perhaps"}, "perhaps"),
]
# The option's name as the message may give it: the option itself, or the variable it came from.
ALIASES = {"SM_INIT_" + o[2:].upper().replace("-", "_"): o for o in
           TIMES + ["--signal-scope", "--hooks-on", "--rewrite", "--pre-kill", "--train", "--serve",
                    "--hooks-dir", "--ml-root"]}
ALIASES.update(SM_INIT_VERBOSE="--verbose", SM_INIT_QUIET="--quiet")


def shown(value):
    """How a value may appear in the one line: as is, or as Python's repr (non-UTF-8 escaped)."""
    return {value, repr(value)[1:-1], value.encode("utf-8", "backslashreplace").decode(),
            repr(value).encode("utf-8", "backslashreplace").decode()[1:-1]}


@pytest.mark.parametrize("case,option,args,env,value", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused_with_one_line(start_init, figures, tmp_path, plain_file,
                                            case, option, args, env, value):
    """Garbage in any option or variable: one line naming the option and the value, exit 2,
    nothing started, no traceback."""
    def fill(text):
        if isinstance(text, bytes):
            return text
        return text.replace("{file}", plain_file).replace("{tmp}", str(tmp_path))

    marker = tmp_path / "started"
    starts = shlex.join(["touch", str(marker)])
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SM_INIT_")}
    environ.update({k: fill(v) for k, v in env.items()})
    args = [fill(a) for a in args]
    given = {ALIASES.get(option, option)}
    # sane commands for train and serve unless the case is about them (the command line beats env)
    args = [a for name in ("--train", "--serve") if name not in given for a in (name, starts)] + args
    lower = case.lower()
    word = ("train" if "training" in lower else "serve" if "serve" in lower
            else "train" if ("train" in lower or "ml" in lower) else None)
    words = ["--", word] if word else ["--", "touch", str(marker)]
    if case.endswith("missing value"):
        words = []  # the option is the last word
    run = start_init(*args, *words, env=environ)
    code = run.wait()
    lines = [line for line in run.log.seen if line.strip()]
    text = "\n".join(lines)
    value = fill(value)
    names = {option, ALIASES.get(option, option)}
    started = marker.exists() or bool(run.out.drain())
    figures("bad_input", case=case, option=ALIASES.get(option, option), code=code, expected=2, lines=len(lines),
            traceback="Traceback" in text, started=started)
    assert "Traceback" not in text
    assert code == 2, text
    assert len(lines) == 1, text
    assert any(name in text for name in names), f"{text!r} does not name {names}"
    assert any(v in text for v in shown(value)), f"{text!r} does not show {value!r}"
    assert not started


def test_empty_environment_value_means_unset(start_init, hooks_dir):
    """``ENV SM_INIT_STOP_TIMEOUT=`` (empty) is no value at all: the default applies, as with click."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SM_INIT_")}
    environ["SM_INIT_STOP_TIMEOUT"] = ""
    run = start_init("--hooks-dir", hooks_dir, "--", *probe("--exit", "0"), env=environ)
    assert run.wait() == 0, run.log.text
    run.log.expect(r"^sm-init: start: .*stop timeout 10s\)")
