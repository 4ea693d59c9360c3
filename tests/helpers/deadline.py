"""Was sm-init gone in time, and what did it say at exit.

A test signals sm-init the way Docker does (``stop``: the moment it was sent), waits, and holds
sm-init to its stop timeout twice: by sm-init's own account on its exit line (the phases it
reports), and as the test saw it, which includes the test's own delay in noticing the exit
through unshare, a pipe and a reader thread on a loaded machine (``OBSERVED_LATE``).
"""

import re
import signal
import time

# The test's own delay in seeing sm-init gone, on a loaded 2-core machine (load averages of 100+
# were seen): never a claim about sm-init, which is held to the budget by its own clock as well.
OBSERVED_LATE = 1.0
EXIT_LINE = r"^sm-init: exit: (\d+) "


def stop(init, signum=signal.SIGTERM):
    """Signal sm-init as Docker does; returns the monotonic time it was sent."""
    sent = time.monotonic()
    init.signal(signum)
    return sent


def wait(init):
    """sm-init's exit code, with every line of both streams read (and shown if the test fails)."""
    code = init.wait()
    init.out.drain(2)
    print("\n".join(["sm-init stderr:", *init.log.seen, "stdout:", *init.out.seen]))
    return code


def exit_line(init):
    """sm-init's last line, which must be its exit line."""
    assert init.log.seen and re.match(EXIT_LINE, init.log.seen[-1]), init.log.seen
    return init.log.seen[-1]


def stop_time(init):
    """Seconds from the stop to the exit decision, as sm-init reports them on its exit line."""
    found = re.search(r"grace ([\d.]+)s, hooks ([\d.]+)s .*kill ([\d.]+)s", exit_line(init))
    return sum(float(x) for x in found.groups())


def assert_on_time(init, sent, budget, from_stop=True):
    """sm-init was gone within ``budget`` seconds of the signal sent at ``sent``: before Docker's
    SIGKILL. ``from_stop``: its own account counts from that signal too (not when the stop began
    before it, as after the main child exited)."""
    if from_stop:
        own = stop_time(init)
        assert own < budget, f"sm-init took {own:.2f}s by its own clock (budget {budget}s): {init.log.seen}"
    elapsed = init.ended - sent
    assert elapsed < budget + OBSERVED_LATE, \
        f"sm-init exited {elapsed:.2f}s after the stop (budget {budget}s): {init.log.seen}"


def finish(init, since, limit, scenario, figures, code=None):
    """Wait for sm-init; check that it was gone within ``limit`` seconds of ``since``, its exit code,
    that nothing of the run is left and that nothing raised; record it all as a figure set."""
    actual = init.wait()
    elapsed = init.ended - since
    left = init.survivors()
    figures(scenario, elapsed=round(elapsed, 3), limit=limit, code=actual, left=len(left))
    assert not left, f"{scenario}: left running: {[p.cmdline() for p in left]}"
    assert elapsed <= limit + OBSERVED_LATE, f"{scenario}: took {elapsed:.2f}s, deadline {limit}s\n{init.log.text}"
    if code is not None:
        assert actual == code, f"{scenario}: exit {actual}, wanted {code}\n{init.log.text}"
    assert "Traceback" not in init.log.text
    return actual
