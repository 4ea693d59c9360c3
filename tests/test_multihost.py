"""Multi-host fail-fast (docs/multi-host.md): real sm-inits of one job on one machine, over loopback.

Two or three hosts, each a real sm-init (PID 1 of its own namespace, or subreaper) over
told_trainer.py, the coordinator on ``lo`` at a free port. What a host's failure, loss, clean exit or
stop does to the others; a port already taken; garbage on the port. Containers on a docker network
are tests/docker's; the 256-host simulation is bench's.
"""

import json
import os
import re
import signal
import socket
import struct

from helpers.commands import hook
from helpers.hosts import expect_joined, start_hosts, write_resource_config
from helpers.net import free_port
from sm_init.peerlink import MAX_PENDING

VERDICT_2 = "first observed failure: algo-2 (exit 1: RuntimeError: algo-2 exploded)"


def test_a_failure_on_one_host_stops_the_others_with_one_verdict(start_init, tmp_path):
    hosts = start_hosts(start_init, tmp_path, 3)
    expect_joined(hosts)
    hosts[1].tell("fail")
    codes = {host.name: host.init.wait() for host in hosts}
    assert codes == {"algo-1": 123, "algo-2": 1, "algo-3": 123}
    for host in hosts:
        text = host.failure()
        assert text.splitlines()[0] == VERDICT_2, (host.name, text)
    assert "This host (algo-1)" in hosts[0].failure().splitlines()[1]
    assert "exited with code 1" in hosts[1].failure().splitlines()[1]
    assert "Error: RuntimeError: algo-2 exploded" in hosts[1].failure()
    for host in (hosts[0], hosts[2]):
        host.init.log.expect("peers: stopping: " + re.escape(VERDICT_2))
        host.init.out.expect(rf"{host.name} got SIGTERM")  # the normal stop: SIGTERM to the trainer
    assert "127.0.0.1" not in hosts[2].failure()


def test_a_failure_that_reads_as_a_consequence_gives_way_to_its_cause(start_init, tmp_path):
    """algo-3's rank dies of a closed connection and that is heard first; algo-2's own error,
    heard within the heartbeat that the coordinator holds such a failure, is the verdict."""
    hosts = start_hosts(start_init, tmp_path, 3, timing=("--peer-heartbeat", "5", "--peer-timeout", "15"),
                        only={"algo-1": ("-v",)})
    expect_joined(hosts)
    hosts[2].tell("peer-died")
    hosts[0].init.log.expect(r"peers: algo-3 \(exit 1: RuntimeError: .*Connection closed by peer .*\): reads as a"
                             r" consequence of another host's failure; its cause has 5s to be heard")
    hosts[1].tell("fail")
    codes = {host.name: host.init.wait() for host in hosts}
    assert codes == {"algo-1": 123, "algo-2": 1, "algo-3": 1}
    hosts[0].init.log.expect(r"peers: also: algo-3 \(exit 1: RuntimeError: .*Connection closed by peer")
    hosts[0].init.log.expect(r"peers: stopping: " + re.escape(VERDICT_2))
    for host in hosts:
        assert host.failure().splitlines()[0] == VERDICT_2, (host.name, host.failure())


def test_a_consequence_with_no_cause_is_the_verdict_a_heartbeat_later_and_its_host_waits_for_it(start_init, tmp_path):
    """With a 3 s heartbeat, the failed host waits longer than its usual 2 s for the verdict: the
    coordinator holds its failure for that heartbeat first."""
    hosts = start_hosts(start_init, tmp_path, 2, timing=("--peer-heartbeat", "3", "--peer-timeout", "9"))
    expect_joined(hosts)
    hosts[1].tell("peer-died")
    assert [host.init.wait() for host in hosts] == [123, 1]
    verdict = ("first observed failure: algo-2 (exit 1: RuntimeError: [pair.cc:553] Connection closed by peer"
               " [127.0.0.1]:8359)")
    for host in hosts:
        assert host.failure().splitlines()[0] == verdict, (host.name, host.failure())


def test_a_verdict_runs_the_pre_kill_hooks_with_its_reason(start_init, tmp_path):
    record = tmp_path / "hook.json"
    hosts = start_hosts(start_init, tmp_path, 2, only={"algo-1": ("--pre-kill", hook("--record", str(record)))})
    expect_joined(hosts)
    hosts[1].tell("fail")
    assert [host.init.wait() for host in hosts] == [123, 1]
    told = json.loads(record.read_text())
    assert told["env"]["SM_INIT_REASON"] == "peer", told


def test_a_lost_host_is_noticed_within_the_peer_timeout(start_init, tmp_path):
    hosts = start_hosts(start_init, tmp_path, 3)
    expect_joined(hosts)
    frozen = hosts[2]
    frozen.init.signal(signal.SIGSTOP)  # its sm-init answers nothing more, its connection stays open
    try:
        for host in hosts[:2]:
            assert host.init.wait() == 123
            first = host.failure().splitlines()[0]
            assert first.startswith("first observed failure: algo-3 lost: silent for "), first
    finally:
        frozen.init.signal(signal.SIGCONT)


def test_a_worker_that_loses_the_coordinator_decides_for_itself(start_init, tmp_path):
    hosts = start_hosts(start_init, tmp_path, 2)
    expect_joined(hosts)
    hosts[0].init.signal(signal.SIGSTOP)
    try:
        assert hosts[1].init.wait() == 123
        first = hosts[1].failure().splitlines()[0]
        assert first.startswith("first observed failure: lost contact with algo-1 (silent for "), first
    finally:
        hosts[0].init.signal(signal.SIGCONT)


def test_a_host_that_exits_0_early_is_no_failure(start_init, tmp_path):
    hosts = start_hosts(start_init, tmp_path, 3)
    expect_joined(hosts)
    assert hosts[1].exit(0) == 0
    hosts[0].init.log.expect(r"peers: algo-2 finished \(exit 0\); the others go on")
    assert [hosts[2].exit(0), hosts[0].exit(0)] == [0, 0]
    assert all(host.no_verdict() for host in hosts)


def test_when_the_coordinators_job_exits_0_first_the_others_go_on_unwatched(start_init, tmp_path):
    hosts = start_hosts(start_init, tmp_path, 2)
    expect_joined(hosts)
    assert hosts[0].exit(0) == 0
    hosts[1].init.log.expect(r"peers: algo-1 finished \(exit 0\): this host goes on unwatched")
    assert hosts[1].exit(0) == 0 and hosts[1].no_verdict()


def test_a_stop_of_every_host_gives_no_verdict(start_init, tmp_path):
    hosts = start_hosts(start_init, tmp_path, 3)
    expect_joined(hosts)
    pids = [host.init.pid for host in hosts]
    for pid in pids:  # as StopTrainingJob does: nearly at once; a host the others' stop ended first is gone
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for host in hosts:
        assert host.init.wait() == 143 and host.no_verdict()


def test_a_stop_of_one_host_stops_every_host_without_a_verdict(start_init, tmp_path):
    hosts = start_hosts(start_init, tmp_path, 3)
    expect_joined(hosts)
    hosts[2].init.signal(signal.SIGTERM)
    for host in hosts:
        assert host.init.wait() == 143 and host.no_verdict()
    hosts[0].init.log.expect(r"stop: the whole job stops \(a stop signal reached algo-3\)")


def test_a_port_already_taken_turns_the_feature_off_with_one_line(start_init, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ml = tmp_path / "algo-1"
        ml.mkdir()
        write_resource_config(ml, ["algo-1", "algo-2"], "algo-1")
        from helpers.commands import child, cmd
        import subprocess
        init = start_init("--ml-root", str(ml), "--hooks-dir", str(ml / "no-hooks.d"), "--peer-port", str(port),
                          "--train", cmd(child("told_trainer.py", "algo-1")), "--", "train", stdin=subprocess.PIPE)
        init.out.expect("algo-1 ready")
        init.log.expect(rf"peers: cannot listen on port {port} on lo: .*; multi-host fail-fast is off, the job runs on")
        init.process.stdin.write(b"exit 0\n")
        init.process.stdin.flush()
        assert init.wait() == 0
        assert init.log.count("peers:") == 1


def frame(body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + body


def test_garbage_on_the_port_is_dropped_and_counted(start_init, tmp_path):
    port = free_port()
    hosts = start_hosts(start_init, tmp_path, 2, port=port)
    expect_joined(hosts)
    garbage = [b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",                                   # a length of 1.2 GB
               frame(b'{"v":1,"job":"another/0","from":"algo-2","kind":"ended","code":1}'),  # another job
               frame(b"\xff\xfe not json"),
               frame(b'{"v":1,"job":"peers-test","from":"algo-1","kind":"verdict","text":"x"}')]
    for data in garbage:
        with socket.create_connection(("127.0.0.1", port)) as stranger:
            stranger.sendall(data)
            stranger.shutdown(socket.SHUT_WR)
            stranger.recv(1)  # the coordinator closes it: read its end, no sleep
    hosts[0].init.log.expect(r"peers: dropped a message from 127\.0\.0\.1:\d+: .* \(further drops are counted\)")
    assert [host.exit(0) for host in hosts] == [0, 0]
    hosts[0].init.log.expect(r"peers: 4 message\(s\) dropped")
    assert hosts[0].init.log.count("first observed failure") == 0


def test_a_missing_interface_turns_the_feature_off_with_one_line(start_init, tmp_path):
    hosts = start_hosts(start_init, tmp_path, 2, "--peer-interface", "no-such-if0")
    hosts[0].init.log.expect(r"peers: cannot listen on port \d+ on no-such-if0: .*; multi-host fail-fast is off,"
                             r" the job runs on")
    assert hosts[0].exit(0) == 0
    assert hosts[0].init.log.count("peers:") == 1
    assert hosts[1].exit(0) == 0 and hosts[1].no_verdict()  # no coordinator: no verdict before its join timeout


def test_without_an_interface_the_coordinator_listens_on_every_address(start_init, tmp_path):
    port = free_port()
    hosts = start_hosts(start_init, tmp_path, 2, port=port, interface=None)
    expect_joined(hosts)  # algo-2 came through 127.0.0.1
    if socket.has_ipv6:
        try:
            stranger = socket.create_connection(("::1", port))
        except OSError:  # no IPv6 loopback on this machine: the IPv4 fallback is what listens
            stranger = None
        if stranger is not None:
            with stranger:
                stranger.sendall(b"garbage!")
                stranger.recv(1)
            hosts[0].init.log.expect(r"peers: dropped a message from ::1")
    hosts[1].tell("fail")
    assert [host.init.wait() for host in hosts] == [123, 1]


def test_a_bug_in_the_peers_part_turns_the_feature_off_and_the_job_runs_on(start_init, tmp_path):
    hosts = start_hosts(start_init, tmp_path, 2, faults={"algo-1": "peers.Coordinator.on_message:2"})
    expect_joined(hosts)
    hosts[0].init.log.expect(r"peers: internal error: RuntimeError: injected fault in peers.Coordinator.on_message"
                             r" \(call 2\); multi-host fail-fast is off, the job runs on")
    # Its worker can't tell a bug from a crash: the coordinator's connection closed, it judges for itself.
    hosts[1].init.log.expect(r"peers: stopping: first observed failure: lost contact with algo-1 \(connection closed\)")
    assert hosts[1].init.wait() == 123
    assert hosts[0].exit(0) == 0  # the coordinator's own job ran on


def test_a_coordinators_name_is_looked_up_off_the_loop(start_init, tmp_path):
    hosts = start_hosts(start_init, tmp_path, 2, "--peer-coordinator", "localhost", interface=None)
    expect_joined(hosts)
    hosts[0].tell("fail")
    assert [host.init.wait() for host in hosts] == [1, 123]
    assert hosts[1].failure().startswith("first observed failure: algo-1 (exit 1: RuntimeError: algo-1 exploded)")


def test_a_name_that_does_not_resolve_is_retried_and_the_job_runs_on(start_init, tmp_path):
    hosts = start_hosts(start_init, tmp_path, 2, "-v", "--peer-coordinator", "no-such-host.invalid")
    hosts[1].init.log.expect(r"peers: no-such-host\.invalid:\d+: cannot resolve no-such-host\.invalid: .*; retrying")
    assert [hosts[1].exit(0), hosts[0].exit(0)] == [0, 0]
    assert all(host.no_verdict() for host in hosts)


def test_hosts_that_never_reach_each_other_turn_the_feature_off_and_run_on(start_init, tmp_path):
    nobody = str(free_port())  # a blocked network, as the worker sees it: nothing answers there
    hosts = start_hosts(start_init, tmp_path, 2, "--peer-join-timeout", "2", only={"algo-2": ("--peer-port", nobody)})
    hosts[0].init.log.expect(r"peers: no host joined within 2 s \(a blocked network or port\?\);"
                             r" multi-host fail-fast is off, the job runs on")
    hosts[1].init.log.expect(rf"peers: algo-1 not reached at 127\.0\.0\.1:{nobody} within 2 s \(last: .*\);"
                             r" multi-host fail-fast is off, the job runs on")
    assert [host.exit(0) for host in hosts] == [0, 0]
    assert all(host.no_verdict() for host in hosts)
    assert [host.init.log.count("peers:") for host in hosts] == [2, 1]  # "coordinating ...", then that line


def test_connections_that_say_nothing_are_bounded(start_init, tmp_path):
    port = free_port()
    hosts = start_hosts(start_init, tmp_path, 2, port=port)
    expect_joined(hosts)
    silent = [socket.create_connection(("127.0.0.1", port)) for _ in range(MAX_PENDING + 1)]
    try:
        silent[0].settimeout(60)
        assert silent[0].recv(1) == b""  # the oldest was closed when one more came
        hosts[0].init.log.expect(r"peers: dropped a message from 127\.0\.0\.1:\d+: too many connections")
        hosts[1].tell("fail")  # the job's own connection still counts
        assert [host.init.wait() for host in hosts] == [123, 1]
    finally:
        for sock in silent:
            sock.close()


def test_joining_waits_for_no_heartbeat(start_init, tmp_path):
    """A hello that arrives before the accepted socket asks for its signal is read at once, not at the
    next heartbeat (a minute here): the joins are seen well within it."""
    hosts = start_hosts(start_init, tmp_path, 3, timing=("--peer-heartbeat", "60", "--peer-timeout", "120"))
    hosts[0].init.log.expect(r"peers: all 3 hosts joined", timeout=30)
    for host in hosts[1:]:
        host.init.log.expect(r"peers: joined algo-1", timeout=30)
    hosts[2].tell("fail")
    assert [host.init.wait() for host in hosts] == [123, 123, 1]
