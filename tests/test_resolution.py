"""Which command runs: ``train`` / ``serve`` / anything else, its ARGS, options against the
environment, PATH, and CMD strings split like a shell's words but never run by a shell.

The child is helpers/children/report.py, which prints its argv as JSON. Every run goes through
``start_init`` (PID 1 and subreaper).
"""

import os
import shlex
import sys

import pytest

from helpers.commands import CHILDREN, child, reports

REPORT = os.path.join(CHILDREN, "report.py")


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SM_INIT_")}
    env.update(extra)
    return env


def command_text(*args):
    """A CMD string running report.py with ``args``, quoted for shlex."""
    return shlex.join(child("report.py", *args))


def finished_report(init):
    assert init.wait() == 0, init.log.text
    init.out.drain()
    [report] = reports(init.out)
    return report


def started_mode(init):
    return init.log.expect(r"sm-init: start: (\w+) mode, ").group(1)


@pytest.fixture
def bindir(tmp_path):
    """A directory put first on PATH; ``install(name, tag)`` puts an executable there that reports."""
    directory = tmp_path / "bin"
    directory.mkdir()
    return directory


def install(directory, name, tag):
    program = directory / name
    program.write_text(f"#!{sys.executable}\nimport sys\nsys.argv.insert(1, {tag!r})\n"
                       f"exec(compile(open({REPORT!r}).read(), {REPORT!r}, 'exec'))\n")
    program.chmod(0o755)
    return program


def path_env(directory, **extra):
    return clean_env(PATH=os.pathsep.join([str(directory), os.environ["PATH"]]), **extra)


# --- train --------------------------------------------------------------------------------------

def test_train_option(start_init, tmp_path):
    init = start_init("--train", command_text("opt"), "--ml-root", str(tmp_path), "--", "train",
                      env=clean_env())
    assert finished_report(init)["argv"] == ["opt"]
    assert started_mode(init) == "train"


def test_train_args_are_appended(start_init, tmp_path):
    init = start_init("--train", command_text("opt", "--lr=0.1"), "--ml-root", str(tmp_path),
                      "--", "train", "--epochs", "3", "a b", "", env=clean_env())
    assert finished_report(init)["argv"] == ["opt", "--lr=0.1", "--epochs", "3", "a b", ""]


def test_train_from_environment(start_init, tmp_path):
    init = start_init("--ml-root", str(tmp_path), "--", "train", "x",
                      env=clean_env(SM_INIT_TRAIN=command_text("env")))
    assert finished_report(init)["argv"] == ["env", "x"]
    assert started_mode(init) == "train"


def test_train_command_line_beats_environment(start_init, tmp_path):
    init = start_init("--train", command_text("opt"), "--ml-root", str(tmp_path), "--", "train",
                      env=clean_env(SM_INIT_TRAIN=command_text("env")))
    assert finished_report(init)["argv"] == ["opt"]


def test_train_from_path(start_init, tmp_path, bindir):
    program = install(bindir, "train", "path")
    init = start_init("--ml-root", str(tmp_path), "--", "train", "--epochs", "2", env=path_env(bindir))
    report = finished_report(init)
    assert report["argv"] == ["path", "--epochs", "2"]
    assert report["argv0"] == str(program)
    assert started_mode(init) == "train"


def test_configured_train_beats_train_on_path(start_init, tmp_path, bindir):
    install(bindir, "train", "path")
    init = start_init("--ml-root", str(tmp_path), "--", "train",
                      env=path_env(bindir, SM_INIT_TRAIN=command_text("env")))
    assert finished_report(init)["argv"] == ["env"]


# --- serve --------------------------------------------------------------------------------------

def test_serve_option_and_args(start_init):
    init = start_init("--serve", command_text("opt"), "--", "serve", "--port", "8080", env=clean_env())
    assert finished_report(init)["argv"] == ["opt", "--port", "8080"]
    assert started_mode(init) == "serve"


def test_serve_from_environment(start_init):
    init = start_init("--", "serve", env=clean_env(SM_INIT_SERVE=command_text("env")))
    assert finished_report(init)["argv"] == ["env"]


def test_serve_command_line_beats_environment(start_init):
    init = start_init("--serve", command_text("opt"), "--", "serve",
                      env=clean_env(SM_INIT_SERVE=command_text("env")))
    assert finished_report(init)["argv"] == ["opt"]


def test_serve_from_path(start_init, bindir):
    program = install(bindir, "serve", "path")
    init = start_init("--", "serve", env=path_env(bindir))
    report = finished_report(init)
    assert report["argv"] == ["path"]
    assert report["argv0"] == str(program)
    assert started_mode(init) == "serve"


def test_train_setting_does_not_apply_to_serve(start_init, bindir):
    install(bindir, "serve", "path")
    init = start_init("--train", command_text("train-opt"), "--", "serve",
                      env=path_env(bindir, SM_INIT_TRAIN=command_text("train-env")))
    assert finished_report(init)["argv"] == ["path"]


# --- passthrough --------------------------------------------------------------------------------

def test_other_commands_run_as_given(start_init):
    init = start_init("--train", command_text("never"), "--", *child("report.py", "a", "train", "b c"),
                      env=clean_env())
    assert finished_report(init)["argv"] == ["a", "train", "b c"]
    assert started_mode(init) == "command"


def test_other_commands_are_looked_up_on_path(start_init, bindir):
    program = install(bindir, "sm-init-test-tool", "tool")
    init = start_init("--", "sm-init-test-tool", "x", env=path_env(bindir))
    report = finished_report(init)
    assert report["argv"] == ["tool", "x"]
    assert report["argv0"] == str(program)


def test_options_after_the_command_belong_to_it(start_init):
    init = start_init("--", *child("report.py", "--train", "-v", "--"), env=clean_env())
    assert finished_report(init)["argv"] == ["--train", "-v", "--"]


# --- CMD splitting: shlex, never a shell ---------------------------------------------------------

LITERAL = ["$HOME", ";", "echo", "hi", "|", "cat", "*", "`id`", "a b", "c'd", "&&", ">", "out"]


def test_cmd_is_split_like_a_shell_but_never_run_by_one(start_init, tmp_path):
    """$HOME, ;, |, *, backquotes, > reach argv literally: no expansion, no second command, no file."""
    text = command_text() + " '$HOME' ';' echo hi '|' cat '*' '`id`' \"a b\" \"c'd\" '&&' '>' out"
    init = start_init("--train", text, "--ml-root", str(tmp_path), "--", "train", "$HOME",
                      env=clean_env(), cwd=str(tmp_path))
    report = finished_report(init)
    assert report["argv"] == LITERAL + ["$HOME"]
    assert init.out.count(r"^hi$") == 0
    assert not (tmp_path / "out").exists()


def test_cmd_from_environment_is_not_run_by_a_shell(start_init, tmp_path):
    text = command_text() + " '$HOME' ';' echo hi '|' cat '*' '`id`' \"a b\" \"c'd\" '&&' '>' out"
    init = start_init("--", "serve", env=clean_env(SM_INIT_SERVE=text), cwd=str(tmp_path))
    assert finished_report(init)["argv"] == LITERAL
    assert not (tmp_path / "out").exists()


def test_unquoted_shell_syntax_is_just_words(start_init, tmp_path):
    text = command_text() + " $HOME;echo hi>out"
    init = start_init("--serve", text, "--", "serve", env=clean_env(), cwd=str(tmp_path))
    assert finished_report(init)["argv"] == ["$HOME;echo", "hi>out"]
    assert not (tmp_path / "out").exists()


# --- every option from SM_INIT_<OPTION>; the command line wins -----------------------------------

def stop_timeout_in_start_line(init):
    return init.log.expect(r"sm-init: start: .* stop timeout ([\d.]+)s\)").group(1)


def test_option_from_environment(start_init):
    init = start_init("--", *child("report.py"), env=clean_env(SM_INIT_STOP_TIMEOUT="7"))
    finished_report(init)
    assert stop_timeout_in_start_line(init) == "7"


def test_option_command_line_beats_environment(start_init):
    init = start_init("--stop-timeout", "5", "--", *child("report.py"), env=clean_env(SM_INIT_STOP_TIMEOUT="7"))
    finished_report(init)
    assert stop_timeout_in_start_line(init) == "5"
