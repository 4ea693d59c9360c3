"""``sm-init`` and ``python -m sm_init``: block every signal first, then parse, then run.

Signals are blocked before click is even imported: a SIGTERM that arrives while the interpreter
is still loading stays pending and starts the stop sequence once the loop runs, instead of killing
sm-init (or, as PID 1, being dropped by the kernel).
"""

import os

from . import exitcodes, log, signals


def main() -> None:
    signals.block_all()
    try:
        from .cli import main as cli_main

        cli_main()  # never returns: it exits with the child's code or an error's
    except BaseException as exc:  # a bug before anything started: one line, never a traceback
        log.error(f"internal error: {type(exc).__name__}: {exc}")
        os._exit(exitcodes.INTERNAL_ERROR)


if __name__ == "__main__":
    main()
