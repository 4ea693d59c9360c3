"""``sm-init`` and ``python -m sm_init``: the whole life of the init, as a checklist.

    block signals -> fds 0-2 open -> read the configuration -> check the command -> run (never returns)

Before anything else, every signal is blocked: a SIGTERM that arrives while the interpreter is
still loading stays pending and starts the stop sequence once the loop runs, instead of killing
sm-init (or, as PID 1, being dropped by the kernel). Until ``run`` spawns the main child, any
problem is one line and a documented exit code, and nothing is left behind; once it has, sm-init
is no longer allowed to bail: ``run`` turns every error into "kill the tree, exit non-zero".
"""

import os
import sys

from . import exitcodes, signals


def main() -> None:
    signals.block_all()
    open_standard_fds()
    signals.restore_defaults_we_depend_on()
    try:
        config = configure(sys.argv[1:], os.environ)
    except SystemExit as done:  # help, version, or an error already reported
        exit_now(done.code if isinstance(done.code, int) else exitcodes.USAGE)
    except BaseException as exc:  # a bug before anything started: one line, never a traceback
        from . import log
        log.error(f"internal error: {type(exc).__name__}: {exc}")
        exit_now(exitcodes.INTERNAL_ERROR)
    from .run import run
    run(config)


def open_standard_fds() -> None:
    """Fds 0-2 open before sm-init opens anything, /dev/null where one was closed, as inits do: a
    closed fd 2 would be taken by a capture pipe, and sm-init's lines would go into the trainer's
    stdout (or a trainer's own first open() would become its stderr)."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            try:
                null = os.open("/dev/null", os.O_RDWR)  # the lowest free fd: this one
            except OSError:
                return  # no /dev/null: nothing better to put there
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
            else:
                os.set_inheritable(fd, True)  # os.open's descriptors are close-on-exec; this is the tree's too


def configure(argv, environ):
    """A validated Config whose command can run; otherwise one line and SystemExit(code)."""
    from . import command, config, log, options, signals, spawn
    try:
        parsed = options.parse_argv(argv)
        if parsed is None:  # help, version or a mistake: click's to say, with a write that can block
            from .cli import parse_argv
            blocked = signals.unblock_all()  # nothing runs yet: a reader that never reads must not
            try:                               # make sm-init unkillable
                parsed = parse_argv(argv)
            finally:
                signals.set_mask(blocked)
        given, words = parsed
        raw = options.merge(given, options.from_environment(environ))
        result = config.build(raw, words, environ, interactive=spawn.terminal_of_stdin() is not None)
    except exitcodes.ConfigError as exc:
        log.error(str(exc))
        ml_root = training_ml_root(argv, environ)
        if ml_root is not None:
            from . import sagemaker
            sagemaker.note_usage_error(ml_root, str(exc))
        raise SystemExit(exc.exit_code)
    try:
        command.check_runnable(result.argv, environ.get("PATH"))
    except exitcodes.CommandError as exc:
        log.error(str(exc))
        from . import sagemaker
        sagemaker.note_start_failure(result, str(exc))
        raise SystemExit(exc.exit_code)
    return result


def training_ml_root(argv, environ):
    """Where a refused ``train`` leaves its failure file: None when sm-init was not asked to train,
    or when there is no such directory (SageMaker always mounts it; a developer's machine may not)."""
    from . import config, options
    parsed = options.parse_argv(argv)
    if parsed is None or parsed[1][:1] != ["train"]:
        return None
    root = parsed[0].get("ml_root", (environ.get("SM_INIT_ML_ROOT") or config.DEFAULT_ML_ROOT,))[0]
    return root if root and os.path.isdir(root) else None


def exit_now(code: int) -> None:
    """os._exit, after what sm-init has to say reached stderr (never waiting long for it)."""
    import time
    from . import output
    output.finish(None, time.monotonic() + output.EXIT_FLUSH)
    os._exit(code)


if __name__ == "__main__":
    main()
