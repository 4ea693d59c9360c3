"""Every option, once: the table that both command-line parsers read, and the environment.

``OPTIONS`` is the one definition of sm-init's options. ``cli.py`` builds the click command from
it (help, version and every parse error are click's). ``parse_argv`` here reads the same table
without importing click: it handles well-formed command lines, the common case (SageMaker runs
``sm-init -- train`` and configures everything through ``SM_INIT_*`` variables), and hands
anything else, ``--help`` included, to click. A hypothesis test pins the two parsers together.

The environment is read here for both paths, so its rules can't drift: ``SM_INIT_<NAME>`` for
every option, an empty variable counts as unset, flags take 1/0, true/false, yes/no, on/off (as
click does), ``SM_INIT_REWRITE`` is split on whitespace and ``SM_INIT_PRE_KILL`` one command per
line. The command line wins over the environment. Nothing in the environment can ask for help or
the version: only the command line says what sm-init is asked to be.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .exitcodes import ConfigError
from .records import record

TEXT, MULTI, FLAG = "text", "multi", "flag"


@record
class Option:
    name: str                   # the Config field it feeds (raw, before validation)
    flags: tuple[str, ...]      # command-line spellings; a FLAG's first is "on"
    kind: str                   # TEXT (one value), MULTI (repeatable), FLAG (boolean)
    metavar: str
    help: str
    off: str | None = None   # a FLAG's "off" spelling (--no-capture)
    env_split: str = "words"    # MULTI in the environment: "words" or "lines"

    @property
    def envvar(self) -> str:
        return "SM_INIT_" + self.name.upper()


OPTIONS = (
    Option("train", ("--train",), TEXT, "CMD", "Command for `train` (default: `train` on PATH)."),
    Option("serve", ("--serve",), TEXT, "CMD", "Command for `serve` (default: `serve` on PATH)."),
    Option("signal_scope", ("--signal-scope",), TEXT, "auto|group|child",
           "Where signals go: the main child's process group, or the main child only; auto (default):"
           " the group, but a stop signal the main child handles itself goes to it alone."),
    Option("rewrite", ("--rewrite",), MULTI, "FROM=TO",
           "Rewrite a signal before forwarding, e.g. TERM=QUIT; TO=0 drops it. Repeatable;"
           " env: space-separated."),
    Option("stop_timeout", ("--stop-timeout",), TEXT, "S",
           "Exit within S seconds of a stop (default 120 train, 30 serve, 10 otherwise)."),
    Option("hook_timeout", ("--hook-timeout",), TEXT, "H", "Time for pre-kill hooks (default min(30, S/4))."),
    Option("max_runtime", ("--max-runtime",), TEXT, "S", "Stop the job after S seconds."),
    Option("leftover_grace", ("--leftover-grace",), TEXT, "S",
           "When the main child exits first: SIGTERM to leftovers, SIGKILL after S seconds (default 2)."),
    Option("stall_timeout", ("--stall-timeout",), TEXT, "S",
           "Stop the job when it makes no progress (no output, no heartbeat) for S seconds (default: off)."),
    Option("heartbeat", ("--heartbeat",), TEXT, "PATH",
           "A file the trainer touches to show progress (with --stall-timeout)."),
    Option("stack_signal", ("--stack-signal",), TEXT, "SIG",
           "On a stall where py-spy is missing or can't read the tree: send SIG, one process at a time,"
           " to the tree's Python processes that handle it (faulthandler.register(SIG)) for their stacks."),
    Option("pre_kill", ("--pre-kill",), MULTI, "CMD",
           "Hook run before the final SIGKILL. Repeatable; env: one command per line.", env_split="lines"),
    Option("hooks_dir", ("--hooks-dir",), TEXT, "DIR",
           "Executables run as hooks, in name order (default /etc/sm-init/pre-kill.d)."),
    Option("hooks_on", ("--hooks-on",), TEXT, "stop|failure|always",
           "Run hooks on a stop only, on a stop or a failure (default), or always."),
    Option("ml_root", ("--ml-root",), TEXT, "DIR", "SageMaker's root (default /opt/ml)."),
    Option("peers", ("--peers",), TEXT, "auto|on|off",
           "Multi-host fail-fast: the hosts of one job watch each other and stop together (auto, the"
           " default: in train mode when the resource config lists more than one host)."),
    Option("resource_config", ("--resource-config",), TEXT, "PATH",
           "The hosts of the job (default <ml-root>/input/config/resourceconfig.json)."),
    Option("peer_port", ("--peer-port",), TEXT, "N", "The coordinator's TCP port (default 7779)."),
    Option("peer_coordinator", ("--peer-coordinator",), TEXT, "HOST",
           "The address workers connect to (default: the first host's name)."),
    Option("peer_interface", ("--peer-interface",), TEXT, "NAME",
           "The coordinator listens on this interface only (default: the resource config's"
           " network_interface_name when it exists here, else all)."),
    Option("peer_heartbeat", ("--peer-heartbeat",), TEXT, "S", "Seconds between heartbeats (default 5)."),
    Option("peer_timeout", ("--peer-timeout",), TEXT, "S",
           "A host silent this long is lost (default 60)."),
    Option("peer_join_timeout", ("--peer-join-timeout",), TEXT, "S",
           "A host not started this long is lost; a host that reached no peer at all turns the feature"
           " off instead (default 600)."),
    Option("capture", ("--capture",), FLAG, "",
           "Relay the tree's stdout/stderr through sm-init (default: when they are not terminals).",
           off="--no-capture"),
    Option("verbose", ("-v", "--verbose"), FLAG, "", "Also log every forwarded signal."),
    Option("quiet", ("-q", "--quiet"), FLAG, "", "Log warnings and errors only."),
)
BY_NAME = {option.name: option for option in OPTIONS}
TRUE_WORDS = ("1", "true", "t", "yes", "y", "on")
FALSE_WORDS = ("0", "false", "f", "no", "n", "off")

# Raw values: option name -> (value, where it came from: the flag or the variable, for messages).
Raw = dict[str, tuple[object, str]]


def _spellings() -> dict[str, tuple[Option, object]]:
    """Every command-line spelling -> (option, the value a FLAG spelling sets)."""
    table = {}
    for option in OPTIONS:
        for flag in option.flags:
            table[flag] = (option, True)
        if option.off:
            table[option.off] = (option, False)
    return table


SPELLINGS = _spellings()


def parse_argv(argv: Sequence[str]) -> tuple[Raw, list[str]] | None:
    """(options given, the command's words) for a well-formed command line; None for anything
    else (help, version, a mistake), which click then parses and reports.

    As click does with ``allow_interspersed_args=False``: options end at ``--`` or at the first
    word that is not an option; a value is the next word whatever it looks like; a repeated
    option keeps its last value, a MULTI option all of them.
    """
    given: Raw = {}
    args = list(argv)
    i = 0
    while i < len(args):
        word = args[i]
        if word == "--":
            return given, args[i + 1:]
        if not word.startswith("-") or word == "-":
            return given, args[i:]
        if word.startswith("--"):
            spelling, eq, value = word.partition("=")
            found = SPELLINGS.get(spelling)
            if found is None:
                return None
            option, flag_value = found
            if option.kind == FLAG:
                if eq:
                    return None  # click: "option does not take a value"
                given[option.name] = (flag_value, source_name(option, flag_value))
                i += 1
                continue
            if not eq:
                if i + 1 >= len(args):
                    return None
                value = args[i + 1]
                i += 1
            _set(given, option, value, source_name(option, value))
            i += 1
            continue
        # Short options: only flags have them; "-vq" sets both, as click does.
        for letter in word[1:]:
            found = SPELLINGS.get("-" + letter)
            if found is None or found[0].kind != FLAG:
                return None
            given[found[0].name] = (found[1], source_name(found[0], found[1]))
        i += 1
    return given, []


def source_name(option: Option, value) -> str:
    """How messages name an option from the command line: its long spelling (``--no-capture`` for
    that side of a flag), whichever was typed, as click does."""
    return option.off if option.kind == FLAG and value is False and option.off else option.flags[-1]


def _set(given: Raw, option: Option, value: str, source: str) -> None:
    if option.kind == MULTI:
        before = given.get(option.name, ((), source))[0]
        given[option.name] = (before + (value,), source)
    else:
        given[option.name] = (value, source)


def from_environment(environ: Mapping[str, str]) -> Raw:
    """The ``SM_INIT_*`` values that are set (not empty), checked only for what they are made of."""
    found: Raw = {}
    for option in OPTIONS:
        text = environ.get(option.envvar)
        if not text:
            continue
        if option.kind == FLAG:
            found[option.name] = (parse_flag(option.envvar, text), option.envvar)
        elif option.kind == MULTI:
            parts = text.splitlines() if option.env_split == "lines" else text.split()
            values = tuple(part for part in parts if part.strip())
            if values:
                found[option.name] = (values, option.envvar)
        else:
            found[option.name] = (text, option.envvar)
    return found


def parse_flag(source: str, text: str) -> bool:
    word = text.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigError(f"{source}: {text!r} is not a boolean (use 1/0, true/false, yes/no or on/off)")


def merge(command_line: Raw, environment: Raw) -> Raw:
    """The command line wins, option by option."""
    merged = dict(environment)
    merged.update(command_line)
    return merged
