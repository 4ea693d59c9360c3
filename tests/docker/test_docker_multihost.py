"""One job on several hosts (issue 19): real containers on a docker network, torchrun across them on
gloo, sm-init PID 1 in each, the peers feature at its default (`auto`: on, since resourceconfig.json
lists more than one host). Each case makes something happen to one host and checks how every host
ends: when, with which exit code, what its failure file says, what its pre-kill hook saved.

Short peer settings keep the set quick: a heartbeat of 1 s, a peer timeout of 5 s, a stop timeout
of 20 s. The process group's own timeout is 600 s (children/peer_trainer.py): a host that ends
sooner was ended by sm-init, not by gloo. The contract's bound for a silent host is the peer
timeout plus the stop, so that is what the cases hold the hosts to (never a figure tighter than the
stop timeout); how long it really took is recorded for tests/RELIABILITY.md (`figures`).
"""
import re
import threading
import time

import pytest

from helpers.cluster import assert_culprit, now, trainer_time

pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]

HEARTBEAT, PEER_TIMEOUT, JOIN_TIMEOUT, STOP_TIMEOUT = 1, 5, 90, 20
PEERS = {"SM_INIT_PEER_HEARTBEAT": str(HEARTBEAT), "SM_INIT_PEER_TIMEOUT": str(PEER_TIMEOUT),
         "SM_INIT_PEER_JOIN_TIMEOUT": str(JOIN_TIMEOUT), "SM_INIT_STOP_TIMEOUT": str(STOP_TIMEOUT)}
# A silent host is noticed a peer timeout (and at most one heartbeat) after it went silent; then
# every host runs its stop, which ends within the stop timeout.
SILENT_BOUND = PEER_TIMEOUT + HEARTBEAT + STOP_TIMEOUT
PEER_FAILED = 123
# Torch's import and the rendezvous take a while on a loaded 2-core machine.
START_TIMEOUT = 300
STEP_LINE = r"^trainer: %s rank \d+ step %d done"


def training(cluster, step=3):
    """Wait until every host has done `step` steps together (an all_reduce each)."""
    for host in cluster:
        host.expect(STEP_LINE % (re.escape(host.name), step), START_TIMEOUT)


def last_step(host):
    steps = re.findall(r"^trainer: \S+ rank \d+ step (\d+) done", host.logs(), re.M)
    return int(steps[-1]) if steps else 0


def stopping_lines(host):
    return [line for line in host.peer_lines() if line.startswith("sm-init: peers: stopping:")]


def assert_no_verdict(cluster):
    """No verdict anywhere, while the feature was on (at its default: `auto`, several hosts) and
    every host had joined: nothing happened because nothing was wrong."""
    assert "sm-init: peers: all %d hosts joined" % cluster.n in cluster["algo-1"].sm_init_lines(), \
        "the coordinator never saw every host join:\n%s" % "\n".join(cluster["algo-1"].sm_init_lines())
    for host in cluster:
        assert not stopping_lines(host), "%s: a verdict:\n%s" % (host.name, "\n".join(host.peer_lines()))
        assert host.failure() is None, "%s: a failure file:\n%s" % (host.name, host.failure())


def assert_stopped_by_verdict(host, culprit_pattern, saved_from=None):
    """host ended through a peer verdict matching culprit_pattern: log line, failure file, exit code,
    and (saved_from: the last step it had done before the event) the hook's copy of its checkpoint."""
    lines = stopping_lines(host)
    assert lines and re.search(culprit_pattern, lines[0]), \
        "%s: no `peers: stopping:` line matching %r:\n%s" % (host.name, culprit_pattern, "\n".join(host.sm_init_lines()))
    assert_culprit(host.failure(), culprit_pattern)
    code = host.exit_code(5)
    assert code == PEER_FAILED, "%s exited %s, not %d (stopped by a peer verdict)" % (host.name, code, PEER_FAILED)
    if saved_from is not None:
        saved = host.saved_checkpoint()
        assert saved is not None, "%s: the hook saved no checkpoint into /opt/ml/model" % host.name
        assert saved["step"] >= saved_from, "%s: hook saved step %s, the trainer had done %d" % (
            host.name, saved["step"], saved_from)


def record(figures, case, cluster, seconds, event):
    figures("multihost", case=case, hosts=cluster.n, event=event, seconds=max(seconds.values()),
            per_host={k: round(v, 2) for k, v in seconds.items()},
            peer_timeout=PEER_TIMEOUT, heartbeat=HEARTBEAT, stop_timeout=STOP_TIMEOUT)


def test_a_rank_raises_every_host_names_it(cluster, figures):
    """(a) A rank on algo-2 raises: every host ends within seconds, and every failure file names
    algo-2 and its error, never the consequence on the others (gloo's 'Connection closed by peer
    [address]')."""
    c = cluster(3, MH_FAIL_AT="algo-2=8", **PEERS).start_all()
    algo2 = c["algo-2"]
    algo2.expect(r"^trainer: algo-2 rank 1 raising", START_TIMEOUT)
    event = trainer_time(algo2, "raising")
    seconds = c.seconds_to_exit(event, timeout=STOP_TIMEOUT + 60)
    record(figures, "a rank raises on algo-2", c, seconds, "the raise")
    # The error as sm-init reads it from torchrun's output ("rank 1 failed first (exit code 1): ...").
    verdict = r"first observed failure: algo-2 \(exit 1: .*RuntimeError: host two exploded\)$"
    for host in c:
        assert seconds[host.name] <= STOP_TIMEOUT, "%s ended %.1f s after the raise" % (host.name, seconds[host.name])
        assert_culprit(host.failure(), "^" + verdict)
    assert algo2.exit_code(5) == 1, "the host that failed exits with its own code"
    for host in c.others("algo-2"):
        # Its own job may have failed first (gloo saw algo-2's sockets close): then its own code,
        # and the verdict as it heard it, with nothing left to stop (seen once in CI).
        code = host.exit_code(5)
        assert code in (PEER_FAILED, 1), host.name
        told = stopping_lines(host) if code == PEER_FAILED else host.peer_lines()
        assert any(re.search(verdict, line) for line in told), host.peer_lines()


def test_b_killed_host_is_named(cluster, figures):
    """(b) algo-2's container is killed: every other host ends, naming algo-2 as the first observed
    failure (its connections closed; the others' gloo errors are the consequence)."""
    c = cluster(3, **PEERS).start_all()
    training(c)
    event = now()
    c["algo-2"].container.kill()
    survivors = c.others("algo-2")
    seconds = c.seconds_to_exit(event, survivors, timeout=SILENT_BOUND + 60)
    record(figures, "algo-2's container killed", c, seconds, "docker kill")
    for host in survivors:
        assert seconds[host.name] <= SILENT_BOUND, "%s ended %.1f s after the kill" % (host.name, seconds[host.name])
        assert_culprit(host.failure(), r"first observed failure: algo-2\b")


@pytest.mark.parametrize("how", ["pause", "disconnect"])
def test_c_d_silent_host_is_named_lost(cluster, figures, how):
    """(c) algo-2 frozen (`docker pause`), (d) algo-2 cut off (`docker network disconnect`): nothing
    closes, gloo would wait 600 s (30 min by default); every other host ends within the peer timeout
    plus its stop, the hook having saved its last checkpoint, with a verdict naming algo-2 lost."""
    c = cluster(2, **PEERS).start_all()
    training(c)
    algo1, algo2 = c["algo-1"], c["algo-2"]
    done = last_step(algo1)
    event = now()
    if how == "pause":
        algo2.container.pause()
    else:
        c.disconnect(algo2)
    seconds = c.seconds_to_exit(event, [algo1], timeout=SILENT_BOUND + 60)
    assert seconds["algo-1"] <= SILENT_BOUND, "algo-1 ended %.1f s after algo-2 went silent" % seconds["algo-1"]
    assert_stopped_by_verdict(algo1, r"algo-2 lost: silent for \d+ s", saved_from=done)
    if how == "disconnect":
        # algo-2 runs on, alone: it loses the coordinator and decides for itself.
        seconds.update(c.seconds_to_exit(event, [algo2], timeout=SILENT_BOUND + 60))
        assert seconds["algo-2"] <= SILENT_BOUND, "algo-2 ended %.1f s after it was cut off" % seconds["algo-2"]
        assert_stopped_by_verdict(algo2, r"lost contact with algo-1", saved_from=last_step(algo2))
    record(figures, "algo-2 %s" % {"pause": "frozen", "disconnect": "cut off"}[how], c, seconds,
           "docker %s" % ("pause" if how == "pause" else "network disconnect"))


def test_e_coordinator_lost(cluster, figures):
    """(e) The coordinator (algo-1) frozen: each worker decides for itself, 'lost contact with
    algo-1', within the peer timeout plus its stop, with its checkpoint saved."""
    c = cluster(3, **PEERS).start_all()
    training(c)
    workers = c.others("algo-1")
    done = {h.name: last_step(h) for h in workers}
    event = now()
    c["algo-1"].container.pause()
    seconds = c.seconds_to_exit(event, workers, timeout=SILENT_BOUND + 60)
    record(figures, "the coordinator (algo-1) frozen", c, seconds, "docker pause")
    for host in workers:
        assert seconds[host.name] <= SILENT_BOUND, "%s ended %.1f s after algo-1 froze" % (host.name, seconds[host.name])
        assert_stopped_by_verdict(host, r"lost contact with algo-1", saved_from=done[host.name])


def test_f_late_host_is_not_lost(cluster, figures):
    """(f) algo-2 starts four peer timeouts after algo-1 (well inside the join timeout): it was not
    started, not lost. No verdict; the job trains and completes on both."""
    late = 4 * PEER_TIMEOUT
    c = cluster(2, MH_STEPS="15", **PEERS)
    algo1, algo2 = c["algo-1"], c["algo-2"]
    c.start(algo1)
    # sm-init is up and coordinating; torchrun waits in its rendezvous for algo-2.
    algo1.expect(r"^sm-init: peers: coordinating 2 hosts", START_TIMEOUT)
    time.sleep(late)        # the scenario: algo-2's instance comes up late
    c.start(algo2)
    assert algo1.exit_code(START_TIMEOUT) == 0, "algo-1 did not complete"
    assert algo2.exit_code(60) == 0, "algo-2 did not complete"
    waited = algo2.started_at() - algo1.started_at()
    assert waited > late, "algo-2 started only %.1f s after algo-1" % waited
    assert_no_verdict(c)
    figures("multihost", case="algo-2 started late", hosts=2, event="start of algo-2",
            late=round(waited, 1), seconds=None, peer_timeout=PEER_TIMEOUT, heartbeat=HEARTBEAT,
            stop_timeout=STOP_TIMEOUT)


def test_g_host_exiting_0_early_is_no_failure(cluster, figures):
    """(g) algo-2's job ends with 0 while algo-1's goes on: not a failure. algo-1 trains on for
    well past a peer timeout and completes; no verdict anywhere.

    Launched without torchrun: torchrun's agent holds a host whose workers succeeded in an exit
    barrier until every host's are done (300 s), so under it no host ever ends early. Here each
    host runs the trainer itself (env:// rendezvous on algo-1), both leave the process group after
    3 steps, and algo-2 ends at step 5."""
    c = cluster(2, launcher="direct", MH_COLLECTIVE_STEPS="3", MH_STEPS="algo-1=80,algo-2=5", **PEERS)
    c.start_all()
    algo1, algo2 = c["algo-1"], c["algo-2"]
    assert algo2.exit_code(START_TIMEOUT) == 0
    ended = algo2.finished_at()
    assert algo1.exit_code(120) == 0, "algo-1 did not complete"
    ran_on = algo1.finished_at() - ended
    assert ran_on > PEER_TIMEOUT + 2 * HEARTBEAT, "algo-1 ended %.1f s after algo-2" % ran_on
    assert "completed" in algo1.logs().rsplit("trainer: algo-1", 1)[-1]
    assert_no_verdict(c)
    figures("multihost", case="algo-2 exits 0 early", hosts=2, event="algo-2's exit 0",
            ran_on=round(ran_on, 1), seconds=None, peer_timeout=PEER_TIMEOUT, heartbeat=HEARTBEAT,
            stop_timeout=STOP_TIMEOUT)


def test_h_docker_stop_on_every_host(cluster, figures):
    """(h) StopTrainingJob: `docker stop` on every host at once (SageMaker's SIGTERM everywhere). A
    clean stop: each host ends by its own stop sequence, no peer verdict, no failure file."""
    docker_timeout = STOP_TIMEOUT + 10
    c = cluster(3, **PEERS).start_all()
    training(c)
    event = now()
    stoppers = [threading.Thread(target=h.container.stop, kwargs={"timeout": docker_timeout}) for h in c]
    for t in stoppers:
        t.start()
    for t in stoppers:
        t.join(docker_timeout + 30)
    seconds = c.seconds_to_exit(event, timeout=30)
    record(figures, "docker stop on every host", c, seconds, "docker stop")
    for host in c:
        assert seconds[host.name] < STOP_TIMEOUT, "%s took %.1f s" % (host.name, seconds[host.name])
        code = host.exit_code(5)
        assert code not in (PEER_FAILED, 137), "%s exited %s" % (host.name, code)
        assert host.sm_init_lines()[-1].startswith("sm-init: exit:"), host.name
    assert_no_verdict(c)
    for host in c:
        assert host.saved_checkpoint() is not None, "%s: the hook saved nothing on the stop" % host.name
