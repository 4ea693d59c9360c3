"""The two command-line parsers agree: ``options.parse_argv`` (no click, sm-init's start-up path)
and click's (``cli.parse_argv``: help, version, errors), built from the one table ``OPTIONS``.

For any command line the fast parser takes, click takes it too and finds the same options and the
same command words, so the same Config follows for any environment; whatever the fast parser
hands over, click either takes or refuses (it is click's to say what is wrong).
"""

import os

import click
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from sm_init import cli, config, options
from sm_init.exitcodes import ConfigError
from sm_init.options import FLAG, OPTIONS

VALUES = st.sampled_from(["3", "0.5", "", "-v", "--", "TERM=QUIT", "child", "x y", "--stop-timeout", "-1"])


@st.composite
def tokens(draw):
    """One token (or an option and its value) of a command line."""
    option = draw(st.sampled_from(OPTIONS))
    kind = draw(st.sampled_from(["spelled", "joined", "short", "word", "dashdash", "odd"]))
    if kind == "spelled":
        if option.kind == FLAG:
            return [draw(st.sampled_from(option.flags + ((option.off,) if option.off else ())))]
        return [option.flags[-1], draw(VALUES)]
    if kind == "joined":
        return [f"{option.flags[-1]}={draw(VALUES)}"]
    if kind == "short":
        return ["-" + "".join(draw(st.lists(st.sampled_from("vqhx"), min_size=1, max_size=3)))]
    if kind == "word":
        return [draw(st.sampled_from(["train", "serve", "python", "train.py", "-", "a b"]))]
    if kind == "dashdash":
        return ["--"]
    return [draw(st.sampled_from(["--bogus", "--stop", "--version", "--help", "-h", "--capture=1",
                                  "--no-capture", "---x", "--verbose=1"]))]


argvs = st.lists(tokens(), max_size=6).map(lambda parts: [word for part in parts for word in part])
environments = st.dictionaries(
    st.sampled_from([option.envvar for option in OPTIONS]),
    st.sampled_from(["1", "0", "true", "maybe", "", "30", "child", "TERM=QUIT INT=0", "sh -c true\nfalse", "/tmp"]),
    max_size=4)


def click_parse(argv):
    """click's result, or the exit code it chose (help and version print; errors are logged)."""
    try:
        return cli.parse_argv(argv)
    except SystemExit as exc:
        return ("exit", exc.code)


def build(given, words, environ):
    try:
        raw = options.merge(given, options.from_environment(environ))
        return config.build(raw, words, dict(environ, PATH=os.environ["PATH"]), interactive=False)
    except ConfigError as exc:
        return ("refused", str(exc))


@settings(max_examples=1500, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(argv=argvs, environ=environments)
def test_the_fast_parser_and_click_agree(argv, environ, capsys):
    fast = options.parse_argv(argv)
    slow = click_parse(argv)
    capsys.readouterr()
    if fast is None:
        return  # click's to take or refuse
    assert slow == fast, argv
    given, words = fast
    assert build(given, words, environ) == build(*slow, environ)


@pytest.mark.parametrize("argv", [["--help"], ["-h"], ["--version"], ["--bogus", "--", "true"],
                                  ["--stop-timeout"], ["--verbose=1", "true"], ["-x", "true"]])
def test_what_the_fast_parser_leaves_to_click(argv, capsys):
    assert options.parse_argv(argv) is None
    assert click_parse(argv)[0] == "exit"


def test_click_is_built_from_the_table():
    command = cli._command()
    declared = {param.name: param for param in command.params if isinstance(param, click.Option)}
    for option in OPTIONS:
        spelled = set(declared[option.name].opts) | set(declared[option.name].secondary_opts)
        assert spelled == set(option.flags) | ({option.off} if option.off else set()), option.name
        assert declared[option.name].envvar is None          # the environment is never click's
    assert set(declared) == {option.name for option in OPTIONS} | {"version"}


@pytest.mark.parametrize("variable", ["SM_INIT_HELP", "SM_INIT_VERSION", "SM_INIT_WORDS"])
def test_no_variable_reaches_click(variable, monkeypatch, capsys):
    monkeypatch.setenv(variable, "1")
    given, words = click_parse(["--", "true"])
    assert (given, words) == ({}, ["true"])
