"""The validated configuration: built once, before anything starts, then frozen.

Every value arrives as text from the command line or an ``SM_INIT_*`` variable (``options.py``),
is checked here, and a bad one becomes a ``ConfigError`` that names where it came from
(``--stop-timeout: ...`` or ``SM_INIT_STOP_TIMEOUT: ...``) and the value: exit 2, nothing started.
"""

from __future__ import annotations

import math
import os
from collections import namedtuple
from types import MappingProxyType
from collections.abc import Mapping, Sequence

from . import command, signals
from .exitcodes import ConfigError
from .options import Raw
from .plan import default_hook_time, longest_hook_time

SCOPES = ("auto", "group", "child")
HOOKS_ON = ("stop", "failure", "always")
DEFAULT_STOP_TIMEOUT = {"train": 120.0, "serve": 30.0, "command": 10.0}
DEFAULT_HOOKS_DIR = "/etc/sm-init/pre-kill.d"
DEFAULT_ML_ROOT = "/opt/ml"
DEFAULT_LEFTOVER_GRACE = 2.0
LONGEST = 100 * 24 * 3600.0  # any duration past 100 days is a typo, and too big for a timespec anyway
SHORTEST = 0.001             # nor is one under a millisecond (1e-320 included) meant: no wait is that short

Config = namedtuple("Config", [
    "argv",             # the command to run, resolved
    "mode",             # train | serve | command
    "signal_scope",     # auto | group | child
    "rewrites",         # {signal: signal it is sent as (0: dropped)}
    "stop_timeout",     # S: gone within S seconds of a stop
    "hook_timeout",     # H: the hooks' share of S
    "max_runtime",      # seconds, or None
    "leftover_grace",   # seconds the leftovers get when the main child exits first
    "stall_timeout",    # seconds without progress before the stall watchdog stops the job, or None
    "heartbeat",        # a file whose modification counts as progress, or None
    "stack_signal",     # sent for faulthandler stacks on a stall, or None
    "pre_kill",         # hook commands, each a tuple of words
    "hooks_dir",
    "hooks_on",         # stop | failure | always
    "ml_root",
    "capture",          # relay the tree's output: None = when not a terminal, True, False
    "verbosity",        # -1 quiet, 0 normal, 1 verbose
    "interactive",      # stdin is our terminal and we are in its foreground: the child gets it
    "peers",            # peers.Settings when the hosts of a multi-host job watch each other, else None
], defaults=(
    "command", "auto", MappingProxyType({}), 10.0, 2.5, None, DEFAULT_LEFTOVER_GRACE, None, None, None, (),
    DEFAULT_HOOKS_DIR, "failure", DEFAULT_ML_ROOT, None, 0, False, None,
))


def parse_seconds(source: str, text: str, allow_zero: bool = False) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{source}: {text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        lowest = "0 or more" if allow_zero else "more than 0"
        raise ConfigError(f"{source}: {text!r} must be a finite number of seconds, {lowest}")
    if value > LONGEST:
        raise ConfigError(f"{source}: {text!r} is more than {LONGEST:.0f} seconds (100 days)")
    if 0 < value < SHORTEST:
        lowest = "0 or at least" if allow_zero else "at least"
        raise ConfigError(f"{source}: {text!r} is less than a millisecond: must be {lowest} {SHORTEST:g} seconds")
    return value


def parse_choice(source: str, text: str, choices: Sequence[str]) -> str:
    if text not in choices:
        raise ConfigError(f"{source}: {text!r} is not one of {', '.join(choices)}")
    return text


def parse_rewrites(source: str, texts: Sequence[str]) -> Mapping[int, int]:
    rewrites = {}
    for text in texts:
        try:
            rewrites.update(signals.parse_rewrite(text))
        except signals.BadSignal as exc:
            raise ConfigError(f"{source}: {exc}") from None
    return MappingProxyType(rewrites)


def parse_stack_signal(source: str, text: str | None) -> int | None:
    """A signal the tree's Python processes can handle with faulthandler.register and live on."""
    if text is None:
        return None
    try:
        signum = signals.parse_signal(text)
    except signals.BadSignal as exc:
        raise ConfigError(f"{source}: {exc}") from None
    if signum == 0:
        raise ConfigError(f"{source}: {text!r} is not a signal")
    why = None
    if signum in signals.UNCATCHABLE:
        why = "no process can handle it, so none would ever be sent it"
    elif signum in signals.FAULTHANDLER_FATAL:
        why = "faulthandler.register refuses it, and a process that dumps on it dies"
    elif signum in signals.STOP_SIGNALS:
        why = "it is a stop signal: a process that handles it stops (Python's SIGINT is KeyboardInterrupt)"
    if why:
        raise ConfigError(f"{source}: {text!r} ({signals.name(signum)}) can't be a stack signal: {why};"
                          f" use one the job leaves alone, e.g. USR2")
    return signum


def parse_path(source: str, text: str) -> str:
    """A file name as given; empty or only blanks is a mistake (an unset ENV line, a stray space)."""
    if not text.strip():
        raise ConfigError(f"{source}: {'empty' if not text else 'blank'} path ({text!r})")
    return text


def check_directory(source: str, path: str) -> None:
    """A directory that is missing is fine (nothing to run, or created later); a file is not."""
    parse_path(source, path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise ConfigError(f"{source}: {path!r} is not a directory")


class _Values:
    """Raw values with their defaults; ``source(name)`` says where one came from, for messages."""

    def __init__(self, raw: Raw):
        self._raw = raw

    def get(self, name: str, default=None):
        return self._raw[name][0] if name in self._raw else default

    def source(self, name: str) -> str:
        return self._raw[name][1] if name in self._raw else "--" + name.replace("_", "-")

    def seconds(self, name: str, default, allow_zero: bool = False):
        text = self.get(name)
        return default if text is None else parse_seconds(self.source(name), text, allow_zero)

    def choice(self, name: str, choices: Sequence[str], default: str) -> str:
        text = self.get(name)
        return default if text is None else parse_choice(self.source(name), text, choices)


def verbosity(values: _Values) -> int:
    """-v and -q together are a contradiction, unless the command line overrides the environment."""
    verbose, quiet = values.get("verbose", False), values.get("quiet", False)
    if verbose and quiet:
        from_command_line = [name for name in ("verbose", "quiet") if values.source(name).startswith("-")]
        if len(from_command_line) != 1:
            raise ConfigError(f"{values.source('verbose')} and {values.source('quiet')} contradict each other")
        return 1 if from_command_line == ["verbose"] else -1
    return 1 if verbose else -1 if quiet else 0


def build(raw: Raw, words: Sequence[str], environ: Mapping[str, str], interactive: bool) -> Config:
    """Validate every option; raises ConfigError. Whether the command can run is checked apart."""
    values = _Values(raw)
    train, serve = values.get("train"), values.get("serve")
    mode, argv = command.resolve(words, train, serve, environ.get("PATH"),
                                 values.source("train"), values.source("serve"))
    for name, text in (("train", train), ("serve", serve)):
        if text is not None:  # the one not run now is just as broken: say so before anything starts
            command.split_command(values.source(name), text)
    stop_timeout = values.seconds("stop_timeout", DEFAULT_STOP_TIMEOUT[mode])
    hook_timeout = values.seconds("hook_timeout", default_hook_time(stop_timeout), allow_zero=True)
    if hook_timeout > longest_hook_time(stop_timeout):
        raise ConfigError(f"{values.source('hook_timeout')}: {hook_timeout:g}s does not fit in a stop timeout"
                          f" of {stop_timeout:g}s (at most {longest_hook_time(stop_timeout):g}s leaves time"
                          f" to kill and exit)")
    heartbeat = values.get("heartbeat")
    if heartbeat is not None:
        parse_path(values.source("heartbeat"), heartbeat)
    stall_timeout = values.seconds("stall_timeout", None)
    if heartbeat is not None and stall_timeout is None:
        raise ConfigError(f"{values.source('heartbeat')}: a heartbeat needs --stall-timeout (SM_INIT_STALL_TIMEOUT)")
    stack_signal = parse_stack_signal(values.source("stack_signal"), values.get("stack_signal"))
    if stack_signal is not None and stall_timeout is None:
        raise ConfigError(f"{values.source('stack_signal')}: a stack signal is only sent on a stall:"
                          f" it needs --stall-timeout (SM_INIT_STALL_TIMEOUT)")
    capture = values.get("capture")
    if stall_timeout is not None and capture is False and heartbeat is None:
        # The tree writes straight to sm-init's stdout and stderr: no byte would count as progress.
        off = values.source("capture")
        off = off if off.startswith("-") else f"{off} off"
        raise ConfigError(f"{values.source('stall_timeout')}: with {off} sm-init can't see the job's output, so a job"
                          f" that prints would be stopped as stalled: add --heartbeat PATH (SM_INIT_HEARTBEAT),"
                          f" a file the job touches, or use --capture")
    hooks_dir = values.get("hooks_dir", DEFAULT_HOOKS_DIR)
    check_directory(values.source("hooks_dir"), hooks_dir)
    ml_root = values.get("ml_root", DEFAULT_ML_ROOT)
    check_directory(values.source("ml_root"), ml_root)
    return Config(
        argv=tuple(argv),
        mode=mode,
        signal_scope=values.choice("signal_scope", SCOPES, "auto"),
        rewrites=parse_rewrites(values.source("rewrite"), values.get("rewrite", ())),
        stop_timeout=stop_timeout,
        hook_timeout=hook_timeout,
        max_runtime=values.seconds("max_runtime", None),
        leftover_grace=values.seconds("leftover_grace", DEFAULT_LEFTOVER_GRACE, allow_zero=True),
        stall_timeout=stall_timeout,
        heartbeat=heartbeat,
        stack_signal=stack_signal,
        pre_kill=tuple(tuple(command.split_command(values.source("pre_kill"), text))
                       for text in values.get("pre_kill", ())),
        hooks_dir=hooks_dir,
        hooks_on=values.choice("hooks_on", HOOKS_ON, "failure"),
        ml_root=ml_root,
        capture=capture,
        verbosity=verbosity(values),
        interactive=interactive,
        peers=peer_settings(values, mode, ml_root, environ),
    )


# --- multi-host ------------------------------------------------------------------------------

PEERS = ("auto", "on", "off")
DEFAULT_PEER_PORT = 7779          # beside the toolkit's torchrun 7777 and torch's 29500, clashing with neither
DEFAULT_PEER_HEARTBEAT = 5.0
DEFAULT_PEER_TIMEOUT = 60.0       # 12 missed heartbeats: a GC pause or a slow checkpoint is not a loss
DEFAULT_PEER_JOIN_TIMEOUT = 600.0  # instances of one job start minutes apart (image pull, health checks)
RESOURCE_CONFIG = os.path.join("input", "config", "resourceconfig.json")
MAX_HOSTS = 10000
MAX_HOST_NAME = 253


class NotMultiHost(Exception):
    """The resource config can't be used: with --peers auto, a warning and the feature off."""


def peer_settings(values: _Values, mode: str, ml_root: str, environ: Mapping[str, str]):
    """The peers' settings, None when the feature is off; every option checked whether or not it is
    used (a typo in SM_INIT_PEER_PORT is an error on a one-host job too)."""
    wanted = values.choice("peers", PEERS, "auto")
    port_text = values.get("peer_port")
    port = DEFAULT_PEER_PORT if port_text is None else parse_port(values.source("peer_port"), port_text)
    heartbeat = values.seconds("peer_heartbeat", DEFAULT_PEER_HEARTBEAT)
    timeout = values.seconds("peer_timeout", max(DEFAULT_PEER_TIMEOUT, 2 * heartbeat))
    if timeout < 2 * heartbeat:
        raise ConfigError(f"{values.source('peer_timeout')}: {timeout:g}s must be at least two heartbeats"
                          f" ({values.source('peer_heartbeat')} {heartbeat:g}s)")
    join_timeout = values.seconds("peer_join_timeout", DEFAULT_PEER_JOIN_TIMEOUT)
    coordinator = values.get("peer_coordinator")
    if coordinator is not None:
        parse_host_name(values.source("peer_coordinator"), coordinator)
    interface = values.get("peer_interface")
    if interface is not None and not _interface_name(interface):
        raise ConfigError(f"{values.source('peer_interface')}: {interface!r} is not an interface name")
    path = values.get("resource_config")
    if path == "":
        raise ConfigError(f"{values.source('resource_config')}: empty path")
    path = path or os.path.join(ml_root, RESOURCE_CONFIG)
    if wanted == "off" or (wanted == "auto" and mode != "train"):
        return None
    try:
        hosts, me, config_interface = read_resource_config(path)
    except NotMultiHost as exc:
        if wanted == "on":
            raise ConfigError(f"{values.source('peers')} on: {exc}") from None
        if not isinstance(exc.__cause__, FileNotFoundError):  # a one-host job has no file: no news
            from . import log
            log.warning(f"peers: {exc}; multi-host fail-fast is off")
        return None
    if len(hosts) < 2:  # one host has no peer to watch, whatever --peers says
        return None
    from . import peers  # a one-host job never gets here: it never imports them (start-up time)
    if interface is None and config_interface is not None:
        from .peerlink import interface_exists
        interface = config_interface if interface_exists(config_interface) else None
    return peers.Settings(hosts=hosts, me=me, job=peers.job_id(environ.get("TRAINING_JOB_NAME", ""), hosts),
                          coordinator=coordinator or hosts[0], port=port, interface=interface,
                          heartbeat=heartbeat, timeout=timeout, join_timeout=join_timeout)


def parse_port(source: str, text: str) -> int:
    if not text.strip().isdigit() or not 1 <= int(text) <= 65535:
        raise ConfigError(f"{source}: {text!r} is not a TCP port (1 to 65535)")
    return int(text)


def parse_host_name(source: str, text) -> str:
    if not isinstance(text, str) or not text or len(text) > MAX_HOST_NAME \
            or not text.isprintable() or any(c.isspace() for c in text):
        raise ConfigError(f"{source}: {text!r} is not a host name")
    return text


def _interface_name(text: str) -> bool:
    return 0 < len(text) < 16 and text.isprintable() and "/" not in text and not any(c.isspace() for c in text)


def read_resource_config(path: str) -> tuple[tuple[str, ...], str, str | None]:
    """(hosts in the file's order, current_host, network_interface_name or None); NotMultiHost with
    the reason, naming the file, when it can't be used."""
    try:
        with open(path, "rb") as f:
            data = f.read(1 << 20)
    except OSError as exc:
        raise NotMultiHost(f"cannot read {path}: {exc.strerror}") from exc
    import json  # only where there is a file (start-up time)
    try:
        config = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise NotMultiHost(f"{path} is not JSON") from None
    if not isinstance(config, dict):
        raise NotMultiHost(f"{path} is not a JSON object")
    hosts, me, interface = config.get("hosts"), config.get("current_host"), config.get("network_interface_name")
    if not isinstance(hosts, list) or not hosts or len(hosts) > MAX_HOSTS:
        raise NotMultiHost(f"{path}: hosts is not a list of 1 to {MAX_HOSTS} names")
    try:
        hosts = tuple(parse_host_name("hosts", host) for host in hosts)
        me = parse_host_name("current_host", me)
    except ConfigError as exc:
        raise NotMultiHost(f"{path}: {exc}") from None
    if len(set(hosts)) != len(hosts):
        twice = sorted({host for host in hosts if hosts.count(host) > 1})[0]
        raise NotMultiHost(f"{path}: host {twice!r} is listed twice")
    if me not in hosts:
        raise NotMultiHost(f"{path}: current_host {me!r} is not one of its hosts")
    if interface is not None and (not isinstance(interface, str) or not _interface_name(interface)):
        raise NotMultiHost(f"{path}: network_interface_name {interface!r} is not an interface name")
    return hosts, me, interface
