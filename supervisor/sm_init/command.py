"""What to run: SageMaker's ``train`` / ``serve`` words, or any command as given.

Resolution happens before anything starts, so a missing or unrunnable program is reported with
the shell's exit codes (127, 126) instead of a failed exec in a child.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from . import shellwords
from .exitcodes import NOT_EXECUTABLE, NOT_FOUND, CommandError, ConfigError

SAGEMAKER_WORDS = ("train", "serve")


def split_command(source: str, text: str) -> list[str]:
    """A CMD string split the way a shell splits words; never run through a shell."""
    try:
        words = shellwords.split(text)
    except ValueError as exc:
        raise ConfigError(f"{source}: cannot split {text!r}: {exc}") from None
    if not words:
        raise ConfigError(f"{source}: empty command")
    return words


def resolve(words: Sequence[str], train: str | None, serve: str | None, path: str | None,
            train_source: str = "--train", serve_source: str = "--serve") -> tuple[str, list[str]]:
    """(mode, argv) for the words after ``--``: mode is ``train``, ``serve`` or ``command``."""
    if not words:
        raise ConfigError("no command given: sm-init [OPTIONS] -- COMMAND [ARGS...]")
    word, args = words[0], list(words[1:])
    if word not in SAGEMAKER_WORDS:
        return "command", [word] + args
    configured = train if word == "train" else serve
    if configured is not None:
        return word, split_command(train_source if word == "train" else serve_source, configured) + args
    if find_program(word, path) is None:
        raise ConfigError(f"{word}: no {word} command configured (--{word} or SM_INIT_{word.upper()})"
                          f" and no executable {word!r} on PATH ({path or os.defpath})")
    return word, [word] + args


def find_program(program: str, path: str | None) -> str | None:
    """The file exec would run, executable or not; None when there is none."""
    if "/" in program:
        return program if os.path.exists(program) else None
    first_match = None
    for directory in (path or os.defpath).split(os.pathsep):
        candidate = os.path.join(directory or ".", program)
        if os.path.isfile(candidate):
            if os.access(candidate, os.X_OK):
                return candidate
            first_match = first_match or candidate
    return first_match


def check_runnable(argv: Sequence[str], path: str | None) -> None:
    program = find_program(argv[0], path)
    if program is None:
        raise CommandError(f"{argv[0]}: command not found", NOT_FOUND)
    if os.path.isdir(program):
        raise CommandError(f"{program}: is a directory, not a program", NOT_EXECUTABLE)
    if not os.access(program, os.X_OK):
        raise CommandError(f"{program}: permission denied (not an executable file)", NOT_EXECUTABLE)
    interpreter = missing_interpreter(program)
    if interpreter is not None:
        raise CommandError(f"{program}: its interpreter {interpreter} (from its #! line) is not found", NOT_FOUND)


def missing_interpreter(program: str) -> str | None:
    """The #! interpreter of a script when it does not exist: exec then fails with ENOENT, which
    would blame the script itself."""
    try:
        with open(program, "rb") as f:
            first = f.readline(256)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    words = first[2:].split()
    if not words:
        return None
    interpreter = os.fsdecode(words[0])
    return None if os.path.exists(interpreter) else interpreter
