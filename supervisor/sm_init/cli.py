"""The command line: turn arguments and ``SM_INIT_*`` variables into a Config, then run it.

Every problem found here is one line on stderr and a documented exit code, before anything starts:
2 for a bad option or value, 127 for a command that is not found, 126 for one that can't run.
"""

import os
import sys
from typing import List, Optional

import click

from . import __version__, command, config, exitcodes, log, sagemaker, spawn
from .command import CommandError, ConfigError


class CommandText(click.ParamType):
    """A command line as one string; in the environment, one command per line."""
    name = "CMD"

    def split_envvar_value(self, rv: str) -> List[str]:
        return [line for line in rv.splitlines() if line.strip()]


SECONDS = click.STRING  # validated in config.parse_seconds, with the option named in the message


@click.command(context_settings=dict(auto_envvar_prefix="SM_INIT", help_option_names=["-h", "--help"],
                                     allow_interspersed_args=False, max_content_width=100))
@click.option("--train", metavar="CMD", help="Command for `train` (default: `train` on PATH).")
@click.option("--serve", metavar="CMD", help="Command for `serve` (default: `serve` on PATH).")
@click.option("--signal-scope", metavar="group|child",
              help="Forward signals to the main child's process group (default) or the main child only.")
@click.option("--rewrite", metavar="FROM=TO", multiple=True,
              help="Rewrite a signal before forwarding, e.g. TERM=QUIT; TO=0 drops it. Repeatable.")
@click.option("--stop-timeout", type=SECONDS, metavar="S",
              help="Exit within S seconds of a stop (default 120 train, 30 serve, 10 otherwise).")
@click.option("--hook-timeout", type=SECONDS, metavar="H", help="Time for pre-kill hooks (default min(30, S/4)).")
@click.option("--max-runtime", type=SECONDS, metavar="S", help="Stop the job after S seconds.")
@click.option("--leftover-grace", type=SECONDS, metavar="S",
              help="When the main child exits first: SIGTERM to leftovers, SIGKILL after S seconds (default 2).")
@click.option("--pre-kill", type=CommandText(), multiple=True,
              help="Hook run before the final SIGKILL. Repeatable; env: one command per line.")
@click.option("--hooks-dir", metavar="DIR", help=f"Executables run as hooks, in name order "
                                                 f"(default {config.DEFAULT_HOOKS_DIR}).")
@click.option("--hooks-on", metavar="stop|failure|always",
              help="Run hooks on a stop only, on a stop or a failure (default), or always.")
@click.option("--ml-root", metavar="DIR", help=f"SageMaker's root (default {config.DEFAULT_ML_ROOT}).")
@click.option("-v", "--verbose", count=True, help="Also log every forwarded signal.")
@click.option("-q", "--quiet", is_flag=True, help="Log warnings and errors only.")
@click.version_option(__version__, prog_name="sm-init", message="%(prog)s %(version)s")
@click.argument("words", nargs=-1, type=click.UNPROCESSED, metavar="-- COMMAND [ARGS]...")
def cli(words, verbose, quiet, **options) -> config.Config:
    """Run COMMAND as a container's init: `train` and `serve` map to the configured commands."""
    raw = config.RawOptions(rewrite=options.pop("rewrite"), pre_kill=options.pop("pre_kill"),
                            verbosity=log.QUIET if quiet else min(verbose, 1), **options)
    interactive = spawn.terminal_of_stdin() is not None
    try:
        return config.build(raw, words, os.environ, interactive)
    except ConfigError as exc:
        raise ConfigError(name_the_source(str(exc), click.get_current_context())) from None


def name_the_source(message: str, ctx: click.Context) -> str:
    """``--stop-timeout: ...`` becomes ``SM_INIT_STOP_TIMEOUT: ...`` when the value came from there."""
    option, colon, rest = message.partition(":")
    name = option[2:].replace("-", "_") if option.startswith("--") else ""
    if colon and name in ctx.params and ctx.get_parameter_source(name) == click.core.ParameterSource.ENVIRONMENT:
        return f"SM_INIT_{name.upper()}{colon}{rest}"
    return message


def parse(argv: Optional[List[str]] = None) -> config.Config:
    """A validated Config, or exit with one line and a documented code."""
    try:
        result = cli.main(args=argv, prog_name="sm-init", standalone_mode=False)
    except click.ClickException as exc:
        fail(exc.format_message(), exitcodes.USAGE)
    except ConfigError as exc:
        fail(str(exc), exitcodes.USAGE)
    if not isinstance(result, config.Config):  # --help, --version: click printed and returned a code
        sys.stdout.flush()
        os._exit(result or 0)
    try:
        command.check_runnable(result.argv, os.environ.get("PATH"))
    except CommandError as exc:
        log.error(str(exc))
        sagemaker.note_start_failure(result, str(exc))
        os._exit(exc.exit_code)
    return result


def fail(message: str, code: int):
    log.error(message)
    os._exit(code)


def main(argv: Optional[List[str]] = None):
    from .run import run

    run(parse(argv))
