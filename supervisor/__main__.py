"""``sm-init`` and ``python -m sm_init``: block every signal first, then parse, then run.

Signals are blocked before click is even imported: a SIGTERM that arrives while the interpreter
is still loading stays pending and starts the stop sequence once the loop runs, instead of killing
sm-init (or, as PID 1, being dropped by the kernel).
"""

from . import signals


def main() -> None:
    signals.block_all()
    from .cli import main as cli_main

    cli_main()


if __name__ == "__main__":
    main()
