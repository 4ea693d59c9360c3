"""Bad input (issue 2): one ``sm-init: error:`` line naming the problem, the documented exit code,
and nothing started.

Each case runs through ``start_init`` (as PID 1 under unshare, and plain), with a command that
would leave a file behind had it run; after sm-init exited, that file must not exist and no
process of the run may be alive. Exit codes: 2 for usage and configuration errors, 127 for a
command that is not found, 126 for one that can't be executed.
"""

import os
import stat
import sys

import pytest

from initcheck import error_lines

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
