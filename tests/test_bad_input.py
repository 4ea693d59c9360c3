"""Bad input: one ``sm-init: error:`` line that names the option or variable and the value, the
documented exit code, and nothing started.

Exit codes: 2 for a bad option, value or environment variable (and for no command at all), 127
for a command that is not found, 126 for one that can't be executed. A refused ``train`` also
leaves the failure file, saying the same (SageMaker would show an empty FailureReason otherwise).

``REFUSED`` is the one table of bad input. Each row runs in this process through sm-init's
command-line entry, ``sm_init.__main__.configure(argv, environ)``: the one line is read from fd 2,
where sm-init's own output goes, and the exit code from its SystemExit. Nothing can have started:
``configure`` returns before ``run`` is ever called. A handful of real runs (both modes, through
``start_init``) keep proving what only a process shows for each exit code: one line, nothing
started (a command that would leave a file behind did not), nothing left running.
"""

import os
import re
import sys

import pytest

from helpers.realinit import error_lines
from sm_init import output, plan
from sm_init.__main__ import configure

USAGE, NOT_EXECUTABLE, NOT_FOUND = 2, 126, 127

SECONDS = ["--stop-timeout", "--hook-timeout", "--max-runtime", "--leftover-grace"]
GARBAGE_SECONDS = ["-1", "nan", "inf", "-inf", "1e400", "", "ten", "1e9", "\udcff\udcfe",  # \udcff: a byte not UTF-8
                   "1e-320", "0.0009"]   # under a millisecond: nothing waits that short
NOT_A_BOOLEAN = "is not a boolean"

# (case id, argv, environment, exit code, phrases the one line must contain: where the value came
# from, and the value as it is shown). Every row runs with PATH as the test's and SM_INIT_ML_ROOT=
# {ml} unless it sets them. Placeholders: {ml} an empty <ml-root>, {file} a plain file, {dir} a
# folder, {missing} a path that does not exist, {bin} a folder holding one script that is not
# executable (sm-init-test-tool), {bare} an empty folder (a PATH with no train or serve).
REFUSED = [
    (f"{option}={value!r}", [option, value, "--", "true"], {}, USAGE, [option, repr(value)])
    for option in SECONDS for value in GARBAGE_SECONDS
] + [
    # seconds: zero, too large, not a number, and a hook time that leaves no time to kill
    ("--stop-timeout=0", ["--stop-timeout", "0", "--", "true"], {}, USAGE, ["--stop-timeout", "'0'"]),
    ("--stop-timeout=1e12", ["--stop-timeout", "1e12", "--", "true"], {}, USAGE, ["--stop-timeout", "'1e12'"]),
    ("--stop-timeout=abc", ["--stop-timeout", "abc", "--", "true"], {}, USAGE, ["--stop-timeout", "'abc'"]),
    ("--stop-timeout=soon", ["--stop-timeout", "soon", "--", "true"], {}, USAGE, ["--stop-timeout", "'soon'"]),
    ("--max-runtime=0", ["--max-runtime", "0", "--", "true"], {}, USAGE, ["--max-runtime", "'0'"]),
    ("--max-runtime=-5", ["--max-runtime", "-5", "--", "true"], {}, USAGE, ["--max-runtime", "'-5'"]),
    ("--max-runtime=1e12", ["--max-runtime", "1e12", "--", "true"], {}, USAGE, ["--max-runtime", "'1e12'"]),
    ("--max-runtime=1h", ["--max-runtime", "1h", "--", "true"], {}, USAGE, ["--max-runtime", "'1h'"]),
    ("--leftover-grace=soon", ["--leftover-grace", "soon", "--", "true"], {}, USAGE,
     ["--leftover-grace", "'soon'"]),
    ("--hook-timeout=stop-timeout", ["--stop-timeout", "4", "--hook-timeout", "4", "--", "true"], {}, USAGE,
     ["--hook-timeout", "4s", "stop timeout of 4s"]),
    ("--hook-timeout=stop-timeout=10", ["--stop-timeout", "10", "--hook-timeout", "10", "--", "true"], {}, USAGE,
     ["--hook-timeout", "10s", "stop timeout of 10s"]),
    ("--hook-timeout just over the limit", ["--stop-timeout", "3", "--hook-timeout", "2.9", "--", "true"], {},
     USAGE, ["--hook-timeout", "2.9s", "at most 2.55s"]),
    ("--hook-timeout over the default stop timeout", ["--hook-timeout", "40", "--", "true"], {}, USAGE,
     ["--hook-timeout", "40s", "stop timeout of 10s"]),
    # words from a list
    ("--signal-scope=bogus", ["--signal-scope", "bogus", "--", "true"], {}, USAGE, ["--signal-scope", "'bogus'"]),
    ("--signal-scope=session", ["--signal-scope", "session", "--", "true"], {}, USAGE,
     ["--signal-scope", "'session'"]),
    ("--signal-scope=empty", ["--signal-scope", "", "--", "true"], {}, USAGE, ["--signal-scope", "''"]),
    ("--hooks-on=never", ["--hooks-on", "never", "--", "true"], {}, USAGE, ["--hooks-on", "'never'"]),
    ("--hooks-on=bogus", ["--hooks-on", "bogus", "--", "true"], {}, USAGE, ["--hooks-on", "'bogus'"]),
    ("--hooks-on=STOP", ["--hooks-on", "STOP", "--", "true"], {}, USAGE, ["--hooks-on", "'STOP'"]),
    ("--hooks-on=empty", ["--hooks-on", "", "--", "true"], {}, USAGE, ["--hooks-on", "''"]),
    # signal rewrites
    ("--rewrite=TERM", ["--rewrite", "TERM", "--", "true"], {}, USAGE, ["--rewrite", "'TERM'"]),
    ("--rewrite==QUIT", ["--rewrite", "=QUIT", "--", "true"], {}, USAGE, ["--rewrite", "'=QUIT'"]),
    ("--rewrite=FOO=TERM", ["--rewrite", "FOO=TERM", "--", "true"], {}, USAGE, ["--rewrite", "'FOO'"]),
    ("--rewrite=TERM=BAR", ["--rewrite", "TERM=BAR", "--", "true"], {}, USAGE, ["--rewrite", "'BAR'"]),
    ("--rewrite=999=TERM", ["--rewrite", "999=TERM", "--", "true"], {}, USAGE, ["--rewrite", "'999'"]),
    ("--rewrite=0=TERM", ["--rewrite", "0=TERM", "--", "true"], {}, USAGE, ["--rewrite", "'0=TERM'"]),
    ("--rewrite=TERM=-1", ["--rewrite", "TERM=-1", "--", "true"], {}, USAGE, ["--rewrite", "'-1'"]),
    ("--rewrite=bytes", ["--rewrite", "TERM=\udcff", "--", "true"], {}, USAGE, ["--rewrite", r"'\udcff'"]),
    # command lines that can't be split
    ("--pre-kill=unbalanced", ["--pre-kill", 'echo "unbalanced', "--", "true"], {}, USAGE,
     ["--pre-kill", 'echo "unbalanced', "No closing quotation"]),
    ("--pre-kill=unterminated", ["--pre-kill", "cp 'unterminated", "--", "true"], {}, USAGE,
     ["--pre-kill", "cp 'unterminated"]),
    ("--pre-kill=empty", ["--pre-kill", "", "--", "true"], {}, USAGE, ["--pre-kill", "empty command"]),
    ("--train=unbalanced", ["--train", "python 'x", "--", "train"], {}, USAGE, ["--train", "python 'x"]),
    ("--train=unbalanced double quote", ["--train", 'python -c "print(1)', "--", "train"], {}, USAGE,
     ["--train", 'python -c "print(1)', "quotation"]),
    ("--train=empty", ["--train", "", "--", "train"], {}, USAGE, ["--train", "empty command"]),
    ("--train=blank", ["--train", "   ", "--", "train"], {}, USAGE, ["--train", "empty command"]),
    ("--serve=blank", ["--serve", "   ", "--", "serve"], {}, USAGE, ["--serve", "empty command"]),
    # folders
    ("--hooks-dir=file", ["--hooks-dir", "{file}", "--", "true"], {}, USAGE, ["--hooks-dir", "'{file}'"]),
    ("--hooks-dir=empty", ["--hooks-dir", "", "--", "true"], {}, USAGE, ["--hooks-dir", "empty path"]),
    ("--ml-root=file", ["--ml-root", "{file}", "--train", "true", "--", "train"], {}, USAGE,
     ["--ml-root", "'{file}'"]),
    ("--ml-root=empty", ["--ml-root", "", "--train", "true", "--", "train"], {}, USAGE, ["--ml-root", "empty path"]),
    # what click refuses
    ("--bogus", ["--bogus", "--", "true"], {}, USAGE, ["'--bogus'"]),
    ("--stop-timeout missing value", ["--stop-timeout"], {}, USAGE, ["'--stop-timeout'", "requires an argument"]),
    ("-v and -q", ["-v", "-q", "--", "true"], {}, USAGE, ["--verbose and --quiet"]),
    # no command, or none configured
    ("no command after --", ["--"], {}, USAGE, ["no command"]),
    ("no arguments at all", [], {}, USAGE, ["no command"]),
    ("train: nothing configured, none on PATH", ["--", "train"], {"PATH": "{bare}"}, USAGE,
     ["train", "--train", "SM_INIT_TRAIN", "{bare}"]),
    ("serve: nothing configured, none on PATH", ["--", "serve"], {"PATH": "{bare}"}, USAGE,
     ["serve", "--serve", "SM_INIT_SERVE", "{bare}"]),
    ("SM_INIT_SERVE empty counts as unset", ["--", "serve"], {"SM_INIT_SERVE": "", "PATH": "{bare}"}, USAGE,
     ["no serve command configured"]),
    # commands that can't run
    ("command not found", ["--", "sm-init-test-no-such-command", "arg"], {}, NOT_FOUND,
     ["sm-init-test-no-such-command", "command not found"]),
    ("command path not found", ["--", "{missing}"], {}, NOT_FOUND, ["{missing}", "command not found"]),
    ("command is a folder", ["--", "{dir}"], {}, NOT_EXECUTABLE, ["{dir}", "is a directory"]),
    ("command not executable", ["--", "{file}"], {}, NOT_EXECUTABLE, ["{file}", "permission denied"]),
    ("command not executable on PATH", ["--", "sm-init-test-tool"], {"PATH": "{bin}:/usr/bin:/bin"},
     NOT_EXECUTABLE, ["{bin}/sm-init-test-tool", "permission denied"]),
    # the same from the environment: the variable is named, not the option
    ("SM_INIT_STOP_TIMEOUT=nan", ["--", "true"], {"SM_INIT_STOP_TIMEOUT": "nan"}, USAGE,
     ["SM_INIT_STOP_TIMEOUT: ", "'nan'"]),
    ("SM_INIT_STOP_TIMEOUT=abc", ["--", "true"], {"SM_INIT_STOP_TIMEOUT": "abc"}, USAGE,
     ["SM_INIT_STOP_TIMEOUT: ", "'abc'"]),
    ("SM_INIT_STOP_TIMEOUT=bytes", ["--", "true"], {"SM_INIT_STOP_TIMEOUT": "\udcff1"}, USAGE,
     ["SM_INIT_STOP_TIMEOUT: ", r"'\udcff1'"]),
    ("SM_INIT_HOOK_TIMEOUT=1e400", ["--", "true"], {"SM_INIT_HOOK_TIMEOUT": "1e400"}, USAGE,
     ["SM_INIT_HOOK_TIMEOUT: ", "'1e400'"]),
    ("SM_INIT_HOOK_TIMEOUT=100", ["--", "true"], {"SM_INIT_HOOK_TIMEOUT": "100"}, USAGE,
     ["SM_INIT_HOOK_TIMEOUT: ", "100s"]),
    ("SM_INIT_MAX_RUNTIME=-5", ["--", "true"], {"SM_INIT_MAX_RUNTIME": "-5"}, USAGE,
     ["SM_INIT_MAX_RUNTIME: ", "'-5'"]),
    ("SM_INIT_MAX_RUNTIME=-1", ["--", "true"], {"SM_INIT_MAX_RUNTIME": "-1"}, USAGE,
     ["SM_INIT_MAX_RUNTIME: ", "'-1'"]),
    ("SM_INIT_LEFTOVER_GRACE=inf", ["--", "true"], {"SM_INIT_LEFTOVER_GRACE": "inf"}, USAGE,
     ["SM_INIT_LEFTOVER_GRACE: ", "'inf'"]),
    ("SM_INIT_LEFTOVER_GRACE=nan", ["--", "true"], {"SM_INIT_LEFTOVER_GRACE": "nan"}, USAGE,
     ["SM_INIT_LEFTOVER_GRACE: ", "'nan'"]),
    ("SM_INIT_SIGNAL_SCOPE=pgrp", ["--", "true"], {"SM_INIT_SIGNAL_SCOPE": "pgrp"}, USAGE,
     ["SM_INIT_SIGNAL_SCOPE: ", "'pgrp'"]),
    ("SM_INIT_SIGNAL_SCOPE=everyone", ["--", "true"], {"SM_INIT_SIGNAL_SCOPE": "everyone"}, USAGE,
     ["SM_INIT_SIGNAL_SCOPE: ", "'everyone'"]),
    ("SM_INIT_HOOKS_ON=sometimes", ["--", "true"], {"SM_INIT_HOOKS_ON": "sometimes"}, USAGE,
     ["SM_INIT_HOOKS_ON: ", "'sometimes'"]),
    ("SM_INIT_HOOKS_ON=never", ["--", "true"], {"SM_INIT_HOOKS_ON": "never"}, USAGE,
     ["SM_INIT_HOOKS_ON: ", "'never'"]),
    ("SM_INIT_REWRITE=TERM", ["--", "true"], {"SM_INIT_REWRITE": "TERM"}, USAGE, ["SM_INIT_REWRITE: ", "'TERM'"]),
    ("SM_INIT_REWRITE=SIGFOO=TERM", ["--", "true"], {"SM_INIT_REWRITE": "SIGFOO=TERM"}, USAGE,
     ["SM_INIT_REWRITE: ", "'SIGFOO'"]),
    ("SM_INIT_REWRITE=USR1=NOPE", ["--", "true"], {"SM_INIT_REWRITE": "USR1=NOPE"}, USAGE,
     ["SM_INIT_REWRITE: ", "'NOPE'"]),
    ("SM_INIT_PRE_KILL=unbalanced", ["--", "true"], {"SM_INIT_PRE_KILL": "save 'it"}, USAGE,
     ["SM_INIT_PRE_KILL: ", "save 'it"]),
    ("SM_INIT_PRE_KILL=bytes", ["--", "true"], {"SM_INIT_PRE_KILL": "save '\udcff"}, USAGE,
     ["SM_INIT_PRE_KILL: ", r"save '\udcff"]),
    ("SM_INIT_TRAIN=unbalanced", ["--", "train"], {"SM_INIT_TRAIN": 'python "x'}, USAGE,
     ["SM_INIT_TRAIN: ", 'python "x']),
    ("SM_INIT_SERVE=unbalanced, training", ["--train", "true", "--", "train"], {"SM_INIT_SERVE": "serve 'x"},
     USAGE, ["SM_INIT_SERVE: ", "serve 'x"]),
    ("SM_INIT_HOOKS_DIR=file", ["--", "true"], {"SM_INIT_HOOKS_DIR": "{file}"}, USAGE,
     ["SM_INIT_HOOKS_DIR: ", "'{file}'"]),
    ("SM_INIT_ML_ROOT=file", ["--train", "true", "--", "train"], {"SM_INIT_ML_ROOT": "{file}"}, USAGE,
     ["SM_INIT_ML_ROOT: ", "'{file}'"]),
    # settings that could do nothing (issue 17): a stack signal no Python process can take and
    # live, a rewrite of a signal sm-init never forwards, a blank path, a duration too small to
    # mean anything, a watchdog that can't see the output it watches
    ("SM_INIT_STACK_SIGNAL=KILL", ["--", "true"], {"SM_INIT_STACK_SIGNAL": "KILL"}, USAGE,
     ["SM_INIT_STACK_SIGNAL: ", "'KILL' (SIGKILL)", "USR2"]),
    ("--stack-signal=STOP", ["--stack-signal", "STOP", "--", "true"], {}, USAGE, ["--stack-signal", "'STOP' (SIGSTOP)"]),
    ("--stack-signal=19", ["--stack-signal", "19", "--", "true"], {}, USAGE, ["--stack-signal", "'19' (SIGSTOP)"]),
    ("--stack-signal=SEGV", ["--stack-signal", "SEGV", "--", "true"], {}, USAGE,
     ["--stack-signal", "'SEGV' (SIGSEGV)", "faulthandler.register refuses it"]),
    ("--stack-signal=SIGABRT", ["--stack-signal", "SIGABRT", "--", "true"], {}, USAGE,
     ["--stack-signal", "'SIGABRT' (SIGABRT)"]),
    ("SM_INIT_STACK_SIGNAL=INT", ["--", "true"], {"SM_INIT_STACK_SIGNAL": "INT"}, USAGE,
     ["SM_INIT_STACK_SIGNAL: ", "'INT' (SIGINT)", "stop signal"]),
    ("--stack-signal=TERM", ["--stack-signal", "TERM", "--", "true"], {}, USAGE, ["--stack-signal", "'TERM' (SIGTERM)"]),
    ("SM_INIT_REWRITE=CHLD=TERM", ["--", "true"], {"SM_INIT_REWRITE": "CHLD=TERM"}, USAGE,
     ["SM_INIT_REWRITE: ", "'CHLD=TERM'", "SIGCHLD is never forwarded"]),
    ("--rewrite=SIGCLD=0", ["--rewrite", "SIGCLD=0", "--", "true"], {}, USAGE, ["--rewrite", "'SIGCLD=0'", "SIGCHLD"]),
    ("--rewrite=KILL=TERM", ["--rewrite", "KILL=TERM", "--", "true"], {}, USAGE,
     ["--rewrite", "'KILL=TERM'", "SIGKILL never reaches sm-init"]),
    ("SM_INIT_REWRITE=STOP=TSTP", ["--", "true"], {"SM_INIT_REWRITE": "USR1=USR2 STOP=TSTP"}, USAGE,
     ["SM_INIT_REWRITE: ", "'STOP=TSTP'", "SIGSTOP"]),
    ("SM_INIT_STACK_SIGNAL without a stall timeout", ["--", "true"], {"SM_INIT_STACK_SIGNAL": "USR2"}, USAGE,
     ["SM_INIT_STACK_SIGNAL: ", "only sent on a stall", "--stall-timeout"]),
    ("--rewrite=TERM=SIGTERM", ["--rewrite", "TERM=SIGTERM", "--", "true"], {}, USAGE,
     ["--rewrite", "'TERM=SIGTERM'", "to itself"]),
    ("SM_INIT_HEARTBEAT=blank", ["--", "true"], {"SM_INIT_HEARTBEAT": " ", "SM_INIT_STALL_TIMEOUT": "60"}, USAGE,
     ["SM_INIT_HEARTBEAT: ", "blank path (' ')"]),
    ("--heartbeat=empty", ["--heartbeat", "", "--stall-timeout", "60", "--", "true"], {}, USAGE,
     ["--heartbeat", "empty path"]),
    ("--hooks-dir=blank", ["--hooks-dir", "\t", "--", "true"], {}, USAGE, ["--hooks-dir", "blank path ('\\t')"]),
    ("SM_INIT_ML_ROOT=blank", ["--train", "true", "--", "train"], {"SM_INIT_ML_ROOT": "  "}, USAGE,
     ["SM_INIT_ML_ROOT: ", "blank path"]),
    ("SM_INIT_STOP_TIMEOUT=1e-320", ["--", "true"], {"SM_INIT_STOP_TIMEOUT": "1e-320"}, USAGE,
     ["SM_INIT_STOP_TIMEOUT: ", "'1e-320'", "less than a millisecond", "at least 0.001 seconds"]),
    ("--hook-timeout=1e-320", ["--hook-timeout", "1e-320", "--", "true"], {}, USAGE,
     ["--hook-timeout", "'1e-320'", "0 or at least 0.001 seconds"]),
    ("--stall-timeout=5e-324", ["--stall-timeout", "5e-324", "--", "true"], {}, USAGE,
     ["--stall-timeout", "'5e-324'", "less than a millisecond"]),
    ("--stall-timeout with --no-capture", ["--no-capture", "--stall-timeout", "60", "--", "true"], {}, USAGE,
     ["--stall-timeout", "with --no-capture", "can't see the job's output", "--heartbeat PATH", "--capture"]),
    ("SM_INIT_STALL_TIMEOUT with SM_INIT_CAPTURE=0", ["--", "true"],
     {"SM_INIT_STALL_TIMEOUT": "60", "SM_INIT_CAPTURE": "0"}, USAGE,
     ["SM_INIT_STALL_TIMEOUT: ", "with SM_INIT_CAPTURE off", "--heartbeat PATH", "--capture"]),
    ("SM_INIT_VERBOSE=lots", ["--", "true"], {"SM_INIT_VERBOSE": "lots"}, USAGE,
     ["SM_INIT_VERBOSE: ", "'lots'", NOT_A_BOOLEAN]),
    ("SM_INIT_QUIET=perhaps", ["--", "true"], {"SM_INIT_QUIET": "perhaps"}, USAGE,
     ["SM_INIT_QUIET: ", "'perhaps'", NOT_A_BOOLEAN]),
    # multi-host (docs/multi-host.md): every peer option is checked, on one host too
    ("--peers=maybe", ["--peers", "maybe", "--", "true"], {}, USAGE, ["--peers", "'maybe'"]),
    ("SM_INIT_PEERS=yes", ["--", "true"], {"SM_INIT_PEERS": "yes"}, USAGE, ["SM_INIT_PEERS: ", "'yes'"]),
    ("--peer-port=0", ["--peer-port", "0", "--", "true"], {}, USAGE, ["--peer-port", "'0'", "TCP port"]),
    ("--peer-port=65536", ["--peer-port", "65536", "--", "true"], {}, USAGE, ["--peer-port", "'65536'"]),
    ("SM_INIT_PEER_PORT=http", ["--", "true"], {"SM_INIT_PEER_PORT": "http"}, USAGE,
     ["SM_INIT_PEER_PORT: ", "'http'"]),
    ("--peer-heartbeat=0", ["--peer-heartbeat", "0", "--", "true"], {}, USAGE, ["--peer-heartbeat", "'0'"]),
    ("--peer-timeout under two heartbeats", ["--peer-heartbeat", "5", "--peer-timeout", "9", "--", "true"], {},
     USAGE, ["--peer-timeout", "9s", "at least two heartbeats", "--peer-heartbeat 5s"]),
    ("--peer-join-timeout=nan", ["--peer-join-timeout", "nan", "--", "true"], {}, USAGE,
     ["--peer-join-timeout", "'nan'"]),
    ("--peer-coordinator=with space", ["--peer-coordinator", "algo 1", "--", "true"], {}, USAGE,
     ["--peer-coordinator", "'algo 1'", "not a host name"]),
    ("--peer-interface=a/b", ["--peer-interface", "a/b", "--", "true"], {}, USAGE,
     ["--peer-interface", "'a/b'", "not an interface name"]),
    ("--resource-config=empty", ["--resource-config", "", "--", "true"], {}, USAGE, ["--resource-config", "empty path"]),
    ("--peers on without a resource config", ["--peers", "on", "--resource-config", "{missing}", "--", "true"], {},
     USAGE, ["--peers on: ", "cannot read {missing}"]),
    ("SM_INIT_PEERS=on, a resource config that is no JSON", ["--", "true"],
     {"SM_INIT_PEERS": "on", "SM_INIT_RESOURCE_CONFIG": "{file}"}, USAGE, ["SM_INIT_PEERS on: ", "{file} is not JSON"]),
]

# Values at the edge that are taken: (case id, argv, environment, the Config's field, its value).
ACCEPTED = [
    ("the longest hook timeout that still leaves time to kill",
     ["--stop-timeout", "3", "--hook-timeout", repr(plan.longest_hook_time(3.0)), "--", "true"], {},
     "hook_timeout", plan.longest_hook_time(3.0)),
    ("an empty variable is unset (ENV SM_INIT_STOP_TIMEOUT=)", ["--", "true"], {"SM_INIT_STOP_TIMEOUT": ""},
     "stop_timeout", 10.0),
    ("a millisecond, the shortest duration", ["--stop-timeout", "0.001", "--", "true"], {}, "stop_timeout", 0.001),
    ("a hook timeout of 0 (no hooks)", ["--hook-timeout", "0", "--", "true"], {}, "hook_timeout", 0.0),
    ("--no-capture with a heartbeat: the heartbeat alone is progress",
     ["--no-capture", "--stall-timeout", "60", "--heartbeat", "{missing}", "--", "true"], {}, "heartbeat", "{missing}"),
    ("--capture on the command line wins over SM_INIT_CAPTURE=0 (the watchdog then sees the output)",
     ["--capture", "--", "true"], {"SM_INIT_STALL_TIMEOUT": "60", "SM_INIT_CAPTURE": "0"}, "capture", True),
    ("a stack signal faulthandler can register", ["--stack-signal", "USR2", "--stall-timeout", "60", "--", "true"], {},
     "stack_signal", 12),
    ("a rewrite of a signal sm-init forwards", ["--rewrite", "HUP=TERM", "--", "true"], {}, "rewrites", {1: 15}),
]


def source(phrases):
    """The option or variable whose value a row's line refuses (not an unknown option), if any."""
    named = re.fullmatch(r"(--[a-z-]+|SM_INIT_[A-Z_]+)(: )?", phrases[0])
    return named and named.group(1)


@pytest.fixture
def places(tmp_path):
    """What the placeholders of the tables stand for."""
    found = {"ml": tmp_path / "ml", "file": tmp_path / "a-file", "dir": tmp_path / "a-folder",
             "missing": tmp_path / "missing", "bin": tmp_path / "bin", "bare": tmp_path / "bare"}
    for name in ("ml", "dir", "bin", "bare"):
        found[name].mkdir()
    found["file"].write_text("not a program, nor a folder\n")
    tool = found["bin"] / "sm-init-test-tool"
    tool.write_text("#!/bin/sh\nexit 0\n")
    tool.chmod(0o644)
    return {name: str(path) for name, path in found.items()}


@pytest.fixture
def sm_init_entry(capfd, monkeypatch, places):
    """configure(argv, environ) as sm-init's main calls it: (Config or exit code, stdout, stderr lines).

    sm-init opens its stderr sink once per process, on the fd 2 of that moment: it is opened afresh
    here, on the fd 2 capfd gives the test (a file, which sm-init writes directly)."""
    def fill(text):
        for name, value in places.items():
            text = text.replace("{" + name + "}", value)
        return text

    def run(argv, environment):
        environ = {"PATH": os.environ["PATH"], "SM_INIT_ML_ROOT": places["ml"]}
        environ.update({name: fill(value) for name, value in environment.items()})
        monkeypatch.setattr(output, "_sinks", {})
        capfd.readouterr()
        try:
            result = configure([fill(word) for word in argv], environ)
        except SystemExit as done:
            result = done.code
        out, err = capfd.readouterr()
        return result, out, err.splitlines()
    run.fill = fill
    return run


@pytest.mark.parametrize("case, argv, environment, code, phrases", REFUSED, ids=[row[0] for row in REFUSED])
def test_refused_with_one_line(sm_init_entry, places, figures, case, argv, environment, code, phrases):
    result, out, lines = sm_init_entry(argv, environment)
    figures("bad_input", case=case, where="in-process", source=source(phrases), code=result, expected=code,
            lines=len(lines), traceback=any("Traceback" in line for line in lines))
    assert result == code, lines
    assert len(lines) == 1 and lines[0].startswith("sm-init: error: "), lines
    for phrase in phrases:
        assert sm_init_entry.fill(phrase) in lines[0], (phrase, lines[0])
    assert out == ""
    failure = os.path.join(places["ml"], "output", "failure")
    words = argv[argv.index("--") + 1:] if "--" in argv else []
    if words[:1] == ["train"] and "--ml-root" not in argv and "SM_INIT_ML_ROOT" not in environment:
        with open(failure) as f:       # refused `train` under an <ml-root>: the failure file says why
            assert f.read().startswith("sm-init refused to start the training job: " + phrases[0].rstrip(": "))
    else:
        assert not os.path.exists(failure)


@pytest.mark.parametrize("case, argv, environment, field, value", ACCEPTED, ids=[row[0] for row in ACCEPTED])
def test_taken_at_the_edge(sm_init_entry, case, argv, environment, field, value):
    config, out, lines = sm_init_entry(argv, environment)
    assert (lines, out) == ([], "")
    assert getattr(config, field) == (sm_init_entry.fill(value) if isinstance(value, str) else value)


# ---------------------------------------------------------------------------------------------
# Real processes: one line, nothing started, nothing left running

@pytest.fixture
def marker(tmp_path):
    """A path, and the argv of a command that creates it: proof that nothing ran if it is absent."""
    path = tmp_path / "ran"
    return path, [sys.executable, "-c", f"open({str(path)!r}, 'w').close()"]


def check_refused(init, figures, case, code, *phrases, marker_path=None):
    """The run ended with ``code`` after exactly one error line holding ``phrases``, nothing on
    stdout, nothing started, nothing left running; recorded for tests/RELIABILITY.md."""
    actual = init.wait()
    started = marker_path is not None and marker_path.exists()
    left = init.survivors()
    figures("bad_input", case=case, where="real", source=source(phrases), code=actual, expected=code,
            lines=len(init.log.seen), traceback="Traceback" in init.log.text, started=started, left=len(left))
    assert actual == code, init.log.text
    errors = error_lines(init)
    assert init.log.seen == errors and len(errors) == 1, init.log.seen
    for phrase in phrases:
        assert phrase in errors[0], (phrase, errors[0])
    assert init.out.drain() == []
    assert left == []
    assert not started, "the command ran"


def test_a_bad_option_refused_by_click(start_init, figures, marker):
    path, command = marker
    init = start_init("--no-such-option", "--", *command)
    check_refused(init, figures, "--no-such-option", USAGE, "'--no-such-option'", marker_path=path)


def test_a_bad_value_from_the_environment(start_init, figures, marker):
    path, command = marker
    init = start_init("--", *command, env=dict(os.environ, SM_INIT_STOP_TIMEOUT="nan"))
    check_refused(init, figures, "SM_INIT_STOP_TIMEOUT=nan", USAGE, "SM_INIT_STOP_TIMEOUT: ", "'nan'",
                  marker_path=path)


def test_command_not_found(start_init, figures):
    init = start_init("--", "sm-init-test-no-such-command", "arg")
    check_refused(init, figures, "command not found", NOT_FOUND, "sm-init-test-no-such-command", "not found")


def test_command_not_executable(start_init, figures, tmp_path, marker):
    path, _ = marker
    script = tmp_path / "script"
    script.write_text(f"#!/bin/sh\ntouch {path}\n")
    script.chmod(0o600)
    init = start_init("--", str(script))
    check_refused(init, figures, "command not executable", NOT_EXECUTABLE, str(script), marker_path=path)


def test_train_with_nothing_configured_leaves_a_failure_file(start_init, figures, ml, tmp_path):
    """`train` with no --train, no SM_INIT_TRAIN and no `train` on PATH: one line, exit 2, and the
    failure file says what was missing and that nothing was run."""
    bare = tmp_path / "bin"
    bare.mkdir()
    # unshare is found on this PATH, sm-init by its full path: no `train` anywhere on it
    env = {k: v for k, v in os.environ.items() if k not in ("SM_INIT_TRAIN", "SM_INIT_SERVE")}
    env["PATH"] = f"{bare}:/usr/sbin:/usr/bin:/sbin:/bin"
    for directory in env["PATH"].split(":"):
        assert not os.path.exists(os.path.join(directory, "train")), "this machine has a real train"
    init = start_init("--ml-root", str(ml), "--", "train", env=env)
    check_refused(init, figures, "train: nothing configured", USAGE, "train", "--train", "SM_INIT_TRAIN", str(bare))
    text = (ml / "output" / "failure").read_text()
    assert text.startswith("sm-init refused to start the training job: ")
    assert "SM_INIT_TRAIN" in text and "--train" in text and str(bare) in text and "Nothing was run" in text
