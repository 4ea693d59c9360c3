"""The validated configuration: built once, before anything starts, then frozen.

Every value arrives as text (command line or ``SM_INIT_*`` environment), is checked here, and a
bad one becomes a ``ConfigError`` naming the option and the value: exit 2, nothing started.
"""

import math
import os
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping, Optional, Sequence, Tuple

from . import command, signals
from .command import ConfigError
from .stopplan import longest_hook_time

SCOPES = ("group", "child")
HOOKS_ON = ("stop", "failure", "always")
DEFAULT_STOP_TIMEOUT = {"train": 120.0, "serve": 30.0, "command": 10.0}
DEFAULT_HOOKS_DIR = "/etc/sm-init/pre-kill.d"
DEFAULT_ML_ROOT = "/opt/ml"
DEFAULT_LEFTOVER_GRACE = 2.0
LONGEST = 100 * 24 * 3600.0  # any duration past 100 days is a typo, and too big for a timespec anyway


@dataclass(frozen=True)
class Config:
    argv: Tuple[str, ...]
    mode: str = "command"                  # train | serve | command
    signal_scope: str = "group"
    rewrites: Mapping[int, int] = field(default_factory=lambda: MappingProxyType({}))
    stop_timeout: float = 10.0
    hook_timeout: float = 2.5
    max_runtime: Optional[float] = None
    leftover_grace: float = DEFAULT_LEFTOVER_GRACE
    pre_kill: Tuple[Tuple[str, ...], ...] = ()
    hooks_dir: str = DEFAULT_HOOKS_DIR
    hooks_on: str = "failure"
    ml_root: str = DEFAULT_ML_ROOT
    verbosity: int = 0
    interactive: bool = False              # stdin is a terminal: the child gets the foreground


@dataclass(frozen=True)
class RawOptions:
    """Option values as text, exactly as click collected them (None: not given)."""
    train: Optional[str] = None
    serve: Optional[str] = None
    signal_scope: Optional[str] = None
    rewrite: Sequence[str] = ()
    stop_timeout: Optional[str] = None
    hook_timeout: Optional[str] = None
    max_runtime: Optional[str] = None
    leftover_grace: Optional[str] = None
    pre_kill: Sequence[str] = ()
    hooks_dir: Optional[str] = None
    hooks_on: Optional[str] = None
    ml_root: Optional[str] = None
    verbosity: int = 0


def parse_seconds(option: str, text: str, allow_zero: bool = False) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{option}: {text!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        lowest = "0 or more" if allow_zero else "more than 0"
        raise ConfigError(f"{option}: {text!r} must be a finite number of seconds, {lowest}")
    if value > LONGEST:
        raise ConfigError(f"{option}: {text!r} is more than {LONGEST:.0f} seconds (100 days)")
    return value


def parse_choice(option: str, text: Optional[str], choices: Sequence[str], default: str) -> str:
    if text is None:
        return default
    if text not in choices:
        raise ConfigError(f"{option}: {text!r} is not one of {', '.join(choices)}")
    return text


def parse_rewrites(texts: Sequence[str]) -> Mapping[int, int]:
    rewrites = {}
    for text in texts:
        try:
            rewrites.update(signals.parse_rewrite(text))
        except signals.BadSignal as exc:
            raise ConfigError(f"--rewrite: {exc}") from None
    return MappingProxyType(rewrites)


def check_directory(option: str, path: str, must_write: bool) -> None:
    """A directory that is missing is fine (nothing to run, or created later); a file is not."""
    if not path:
        raise ConfigError(f"{option}: empty path")
    if os.path.exists(path) and not os.path.isdir(path):
        raise ConfigError(f"{option}: {path!r} is not a directory")
    if must_write and os.path.isdir(path) and not os.access(path, os.W_OK):
        raise ConfigError(f"{option}: {path!r} is not writable")


def build(raw: RawOptions, words: Sequence[str], environ: Mapping[str, str], interactive: bool) -> Config:
    """Validate every option; raises ConfigError. Whether the command can run is checked apart."""
    mode, argv = command.resolve(words, raw.train, raw.serve, environ.get("PATH"))
    for word, text in (("train", raw.train), ("serve", raw.serve)):
        if text is not None:  # the one not run now is just as broken: say so before anything starts
            command.split_command(f"--{word}", text)
    stop_timeout = (parse_seconds("--stop-timeout", raw.stop_timeout) if raw.stop_timeout is not None
                    else DEFAULT_STOP_TIMEOUT[mode])
    hook_timeout = (parse_seconds("--hook-timeout", raw.hook_timeout, allow_zero=True)
                    if raw.hook_timeout is not None else min(30.0, stop_timeout / 4))
    if hook_timeout > longest_hook_time(stop_timeout):
        raise ConfigError(f"--hook-timeout: {hook_timeout:g}s does not fit in --stop-timeout {stop_timeout:g}s"
                          f" (at most {longest_hook_time(stop_timeout):g}s leaves time to kill and exit)")
    max_runtime = None if raw.max_runtime is None else parse_seconds("--max-runtime", raw.max_runtime)
    leftover_grace = (DEFAULT_LEFTOVER_GRACE if raw.leftover_grace is None
                      else parse_seconds("--leftover-grace", raw.leftover_grace, allow_zero=True))
    hooks_dir = DEFAULT_HOOKS_DIR if raw.hooks_dir is None else raw.hooks_dir
    check_directory("--hooks-dir", hooks_dir, must_write=False)
    ml_root = DEFAULT_ML_ROOT if raw.ml_root is None else raw.ml_root
    if mode == "train":
        check_directory("--ml-root", ml_root, must_write=True)
    config = Config(
        argv=tuple(argv),
        mode=mode,
        signal_scope=parse_choice("--signal-scope", raw.signal_scope, SCOPES, "group"),
        rewrites=parse_rewrites(raw.rewrite),
        stop_timeout=stop_timeout,
        hook_timeout=hook_timeout,
        max_runtime=max_runtime,
        leftover_grace=leftover_grace,
        pre_kill=tuple(tuple(command.split_command("--pre-kill", text)) for text in raw.pre_kill),
        hooks_dir=hooks_dir,
        hooks_on=parse_choice("--hooks-on", raw.hooks_on, HOOKS_ON, "failure"),
        ml_root=ml_root,
        verbosity=raw.verbosity,
        interactive=interactive,
    )
    return config
