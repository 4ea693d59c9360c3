"""What to run: SageMaker's ``train`` / ``serve`` words, or any command as given.

Resolution happens before anything starts, so a missing or unrunnable program is reported with
the shell's exit codes (127, 126) instead of a failed exec in a child.
"""

import os
import shlex
from typing import List, Optional, Sequence, Tuple

from .exitcodes import NOT_EXECUTABLE, NOT_FOUND

SAGEMAKER_WORDS = ("train", "serve")


class CommandError(Exception):
    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


class ConfigError(ValueError):
    """A bad option or environment value: exit 2, nothing started."""


def split_command(option: str, text: str) -> List[str]:
    """A CMD string split the way a shell splits words; never run through a shell."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise ConfigError(f"{option}: cannot split {text!r}: {exc}") from None
    if not words:
        raise ConfigError(f"{option}: empty command")
    return words


def resolve(words: Sequence[str], train: Optional[str], serve: Optional[str],
            path: Optional[str]) -> Tuple[str, List[str]]:
    """(mode, argv) for the words after ``--``: mode is ``train``, ``serve`` or ``command``."""
    if not words:
        raise ConfigError("no command given: sm-init [OPTIONS] -- COMMAND [ARGS...]")
    word, args = words[0], list(words[1:])
    if word not in SAGEMAKER_WORDS:
        return "command", [word] + args
    configured = train if word == "train" else serve
    if configured is not None:
        return word, split_command(f"--{word}", configured) + args
    if find_program(word, path) is None:
        raise ConfigError(f"{word}: no {word} command configured (--{word} or SM_INIT_{word.upper()})"
                          f" and no executable {word!r} on PATH")
    return word, [word] + args


def find_program(program: str, path: Optional[str]) -> Optional[str]:
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


def check_runnable(argv: Sequence[str], path: Optional[str]) -> None:
    program = find_program(argv[0], path)
    if program is None:
        raise CommandError(f"{argv[0]}: command not found", NOT_FOUND)
    if os.path.isdir(program):
        raise CommandError(f"{program}: is a directory, not a program", NOT_EXECUTABLE)
    if not os.access(program, os.X_OK):
        raise CommandError(f"{program}: permission denied (not an executable file)", NOT_EXECUTABLE)
