"""sm-init with a twist, for the fault and descriptor tests.

    patched_sm-init.py fault=MODULE.FUNCTION:N[:EXCEPTION] -- SM-INIT-ARGS...
        Run sm-init in this process with sm_init.MODULE.FUNCTION (or MODULE.CLASS.METHOD) patched to
        raise EXCEPTION (a builtin, default RuntimeError) on its Nth call: an unexpected internal
        error, injected without touching the production code.
    patched_sm-init.py fd=N -- SM-INIT-ARGS...
        Open /dev/null as an inheritable fd N, then exec the real sm-init (found beside python).
"""

import builtins
import importlib
import os
import sys


def inject(spec):
    """``MODULE.NAME[.ATTR]:N[:EXCEPTION]``: raise EXCEPTION (default RuntimeError) on the Nth call."""
    target, nth, *kind = spec.split(":")
    module_name, *path = target.split(".")
    owner = importlib.import_module("sm_init." + module_name)
    for name in path[:-1]:
        owner = getattr(owner, name)
    original = getattr(owner, path[-1])
    exception = getattr(builtins, kind[0] if kind else "RuntimeError")
    calls = 0

    def faulty(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == int(nth):
            raise exception(f"injected fault in {target} (call {calls})")
        return original(*args, **kwargs)

    setattr(owner, path[-1], faulty)


def main():
    spec, separator, *args = sys.argv[1:]
    assert separator == "--", sys.argv
    what, _, value = spec.partition("=")
    if what == "fault":
        inject(value)
        from sm_init.__main__ import main as sm_init_main

        sys.argv = ["sm-init", *args]
        sm_init_main()
    elif what == "fd":
        fd = os.open("/dev/null", os.O_RDONLY)
        os.dup2(fd, int(value), inheritable=True)
        os.close(fd)
        sm_init = os.path.join(os.path.dirname(sys.executable), "sm-init")
        os.execv(sm_init, [sm_init, *args])
    else:
        raise SystemExit(f"patched_sm-init.py: unknown spec {spec!r}")


if __name__ == "__main__":
    main()
