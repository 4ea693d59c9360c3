"""The loop's fast path forwards from ``plan.forward_table``; it must decide what
``plan.on_signal`` decides, for every signal and every rewrite."""

import signal
from types import MappingProxyType

import pytest

from sm_init import plan, signals
from sm_init.config import Config
from sm_init.plan import Facts, Forward, Phase
from sm_init.signals import Received

REWRITES = [
    {},
    {signal.SIGUSR1: signal.SIGUSR2, signal.SIGHUP: 0},
    {signal.SIGTERM: signal.SIGQUIT, signal.SIGWINCH: 0, signal.SIGRTMIN: signal.SIGUSR1},
    {signal.SIGINT: 0},
]


@pytest.mark.parametrize("rewrites", REWRITES)
@pytest.mark.parametrize("verbosity", [0, 1])
@pytest.mark.parametrize("scope", ["auto", "group", "child"])
def test_forward_table_agrees_with_on_signal(rewrites, verbosity, scope):
    config = Config(argv=("trainer",), rewrites=MappingProxyType(rewrites), verbosity=verbosity,
                    signal_scope=scope)
    table = plan.forward_table(config)
    running = plan.started(config, 100, 0.0)
    for signum in sorted(signals.ALL - {signal.SIGCHLD}):
        state, actions = plan.on_signal(config, running, Received(signum), Facts(True), now=1.0)
        forwards = [a for a in actions if isinstance(a, Forward)]
        if signum in signals.STOP_SIGNALS and rewrites.get(signum) != 0:
            assert signum not in table                     # stops go through the stop plan
            assert state.phase == Phase.GRACE
            continue
        assert state == running                            # a plain forward (or a drop) changes nothing else
        group = scope != "child"
        assert forwards == ([Forward(table[signum], group)] if table[signum] else []), signals.name(signum)
        assert table[signum] == rewrites.get(signum, signum)


def test_forward_table_leaves_out_sigchld_and_the_stop_signals():
    table = plan.forward_table(Config(argv=("trainer",)))
    assert signal.SIGCHLD not in table
    assert not set(table) & {signal.SIGTERM, signal.SIGINT, signal.SIGKILL, signal.SIGSTOP}
    assert signal.SIGUSR1 in table and signal.SIGWINCH in table and signal.SIGRTMAX in table


def test_a_stop_signal_rewritten_to_0_is_dropped_like_any_other():
    table = plan.forward_table(Config(argv=("trainer",), rewrites=MappingProxyType({signal.SIGINT: 0})))
    assert table[signal.SIGINT] == 0 and signal.SIGTERM not in table
