"""The loop's fast path forwards from ``stopplan.forward_table``; it must decide what
``stopplan.on_signal`` decides, for every signal and every rewrite."""

import signal
from types import MappingProxyType

import pytest

from sm_init import signals, stopplan
from sm_init.config import Config
from sm_init.stopplan import Forward, Phase, State

REWRITES = [
    {},
    {signal.SIGUSR1: signal.SIGUSR2, signal.SIGHUP: 0},
    {signal.SIGTERM: signal.SIGQUIT, signal.SIGWINCH: 0, signal.SIGRTMIN: signal.SIGUSR1},
]


@pytest.mark.parametrize("rewrites", REWRITES)
@pytest.mark.parametrize("verbosity", [0, 1])
def test_forward_table_agrees_with_on_signal(rewrites, verbosity):
    config = Config(argv=("trainer",), rewrites=MappingProxyType(rewrites), verbosity=verbosity)
    table = stopplan.forward_table(config)
    running = State(entered=((Phase.RUNNING, 0.0),))
    for signum in sorted(signals.ALL - {signal.SIGCHLD}):
        state, actions = stopplan.on_signal(config, running, signum, now=1.0)
        forwards = [a.signum for a in actions if isinstance(a, Forward)]
        if signum in signals.STOP_SIGNALS:
            assert signum not in table                     # stops go through the stop plan
            assert state.phase == Phase.GRACE
            continue
        assert state == running                            # a plain forward changes nothing else
        assert forwards == ([table[signum]] if table[signum] else []), signals.name(signum)
        assert table[signum] == rewrites.get(signum, signum)


def test_forward_table_leaves_out_sigchld_and_the_stop_signals():
    table = stopplan.forward_table(Config(argv=("trainer",)))
    assert signal.SIGCHLD not in table
    assert not set(table) & {signal.SIGTERM, signal.SIGINT, signal.SIGKILL, signal.SIGSTOP}
    assert signal.SIGUSR1 in table and signal.SIGWINCH in table and signal.SIGRTMAX in table
