"""sm-init's own exit codes; every other code is the main child's (or 128+N for signal N)."""

USAGE = 2             # a bad option, value or environment variable: nothing started
INTERNAL_ERROR = 70   # a bug in sm-init: logged once, the tree killed (EX_SOFTWARE)
NOT_EXECUTABLE = 126  # as a shell says it
NOT_FOUND = 127
