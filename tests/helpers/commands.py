"""The command lines of the programs the tests run under sm-init: the scripts of helpers/children/.

Each runs by this interpreter; its docstring says what it prints. ``probe.py`` is the main child of most tests: a ready line, then one line per signal it gets.
The others each play one part: ``tree.py`` (a launcher and its workers: group, setsid, daemon),
``hook.py`` (a pre-kill hook that records what it was told), ``misbehaving_hook.py`` (hooks that
fail, hang, fork daemons, flood their output), ``report.py`` (prints its argv, cwd, stdin and
environment as JSON), the flood and storm makers, the failing and hanging trainers of the failure
file and stall tests, ``sweeper.py`` (the sweep alone, in a namespace of its own) and
``patched_sm-init.py`` (sm-init with an injected fault or an extra inherited fd).

The folder is no package on purpose (no __init__.py): py-spy names a frame's file after its
package, and the stall tests and docs/failures.md read the names it gives (``beat.py:30``).
"""

import json
import os
import shlex
import signal
import sys

from .children.probe import signal_name  # noqa: F401  (the name probe.py reports a signal by)

CHILDREN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "children")


def child(name, *args):
    """argv of a script of helpers/children/."""
    return [sys.executable, os.path.join(CHILDREN, name), *args]


def probe(*args):
    """argv of the signal-reporting child."""
    return child("probe.py", *args)


def cmd(argv):
    """One command line (a --pre-kill or --train value) that sm-init splits back into ``argv``."""
    return shlex.join(argv)


def reports(lines):
    """The JSON objects report.py printed (``lines``: the run's stdout as ``Lines``)."""
    return [json.loads(line[len("report "):]) for line in lines.seen if line.startswith("report {")]


def patched_sm_init(spec, *sm_init_args):
    """The arguments that make this interpreter run sm-init through patched_sm-init.py SPEC (fault=...
    or fd=...): ``start_init(*patched_sm_init(spec, ...), sm_init=sys.executable)``."""
    return [os.path.join(CHILDREN, "patched_sm-init.py"), spec, "--", *sm_init_args]


def hook(*args):
    """A --pre-kill value: hook.py (reports and records what it was told) as one command line."""
    return cmd(child("hook.py", *args))


def default_signals():
    """Popen's ``preexec_fn`` for a program a test runs itself (not under sm-init, which resets
    its child): every disposition default and nothing blocked, as a shell's foreground job starts.
    The test run may have inherited otherwise: ``nohup tests/run &`` and a non-interactive shell's
    background job (some CI runners) start with SIGINT and SIGQUIT ignored, an ignored signal stays
    ignored across exec, and a shell script can't even trap a signal ignored on entry."""
    for signum in signal.valid_signals() - {signal.SIGKILL, signal.SIGSTOP}:
        try:
            signal.signal(signum, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    signal.pthread_sigmask(signal.SIG_SETMASK, ())
