"""sm-init's own exit codes, and the errors that end in them; every other code is the main
child's (or 128+N for signal N)."""

OUTPUT_ERROR = 1      # --help or --version could not be written
USAGE = 2             # a bad option, value or environment variable: nothing started
INTERNAL_ERROR = 70   # a bug in sm-init: logged once, the tree killed (EX_SOFTWARE)
PEER_FAILED = 123     # another host of a multi-host job failed, and the peers' verdict stopped this one
STALLED = 124         # the stall watchdog stopped the job (as timeout(1) says "timed out")
NOT_EXECUTABLE = 126  # as a shell says it
NOT_FOUND = 127


class ConfigError(ValueError):
    """A bad option or environment value: exit 2, nothing started. The message names its source."""
    exit_code = USAGE


class CommandError(Exception):
    """The command can't run (127 not found, 126 not executable): nothing started."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code
