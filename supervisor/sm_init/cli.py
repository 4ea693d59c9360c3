"""The command line through click: help, version, and every parse error, from ``options.OPTIONS``.

``options.parse_argv`` handles well-formed command lines without importing click; whatever it
does not take (``--help``, ``--version``, a mistake) comes here, so click stays the one place that
says what sm-init's options are and what is wrong with a command line. The environment is never
click's business (``options.from_environment``): no variable can ask for help or the version.
"""

import os
import sys
from typing import List, Sequence, Tuple

import click

from . import __version__, exitcodes
from .options import FLAG, MULTI, OPTIONS, Raw, source_name


def _click_option(option):
    help_text = f"{option.help} [env: {option.envvar}]"
    if option.kind == FLAG:
        flags = option.flags if option.off is None else (f"{option.flags[-1]}/{option.off}",)
        return click.option(*flags, option.name, is_flag=True, default=None, help=help_text)
    return click.option(*option.flags, option.name, metavar=option.metavar, default=None,
                        multiple=option.kind == MULTI, help=help_text)


def _command() -> click.Command:
    def collect(words, **values) -> Tuple[Raw, List[str]]:
        ctx = click.get_current_context()
        given: Raw = {}
        for option in OPTIONS:
            value = values[option.name]
            if ctx.get_parameter_source(option.name) != click.core.ParameterSource.COMMANDLINE:
                continue
            if option.kind == MULTI:
                value = tuple(value)
            given[option.name] = (value, source_name(option, value))
        return given, list(words)

    decorators = [_click_option(option) for option in reversed(OPTIONS)]
    command = collect
    for decorate in decorators:
        command = decorate(command)
    command = click.version_option(__version__, prog_name="sm-init", message="%(prog)s %(version)s")(command)
    command = click.argument("words", nargs=-1, type=click.UNPROCESSED, metavar="-- COMMAND [ARGS]...")(command)
    return click.command(
        context_settings=dict(help_option_names=["-h", "--help"], allow_interspersed_args=False,
                              max_content_width=100),
        help="Run COMMAND as a container's init: `train` and `serve` map to the configured commands.",
    )(command)


def parse_argv(argv: Sequence[str]) -> Tuple[Raw, List[str]]:
    """The command line as click reads it; help, version and errors end the process here."""
    try:
        result = _command().main(args=list(argv), prog_name="sm-init", standalone_mode=False)
    except click.ClickException as exc:
        from . import log
        log.error(exc.format_message())
        raise SystemExit(exitcodes.USAGE)
    except OSError as exc:  # --help or --version into a closed or full stdout
        from . import log
        log.error(f"cannot write to stdout: {exc.strerror or exc}")
        raise SystemExit(exitcodes.OUTPUT_ERROR)
    if not isinstance(result, tuple):  # --help, --version: click printed them
        try:
            if sys.stdout is None:  # fd 1 was closed when sm-init started: click printed nothing
                raise OSError(9, os.strerror(9))
            sys.stdout.flush()
        except OSError as exc:
            from . import log
            log.error(f"cannot write to stdout: {exc.strerror or exc}")
            raise SystemExit(exitcodes.OUTPUT_ERROR)
        raise SystemExit(result or 0)
    return result
