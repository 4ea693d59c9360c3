"""Multi-host fail-fast, without a process or a socket: the wire format, the coordinator's and a
worker's decisions on a fake clock (peers.py), the resource config (config.py), and what the plan
does with a verdict (plan.py). Real sm-inits over loopback: test_multihost.py.
"""

import json

import pytest

from sm_init import config, exitcodes, peers, plan
from sm_init.exitcodes import ConfigError
from sm_init.signals import signal

HOSTS = ("algo-1", "algo-2", "algo-3")


def settings(me="algo-1", hosts=HOSTS, heartbeat=5.0, timeout=60.0, join_timeout=600.0):
    return peers.Settings(hosts=hosts, me=me, job=peers.job_id("job", hosts), coordinator=hosts[0], port=7779,
                          interface=None, heartbeat=heartbeat, timeout=timeout, join_timeout=join_timeout)


def of(actions, kind):
    return [action for action in actions if isinstance(action, kind)]


def verdicts(actions):
    return [action.text for action in of(actions, peers.Verdict)]


def msg(kind, sender, **fields):
    return peers.Message(kind, sender, **fields)


# --- the wire -------------------------------------------------------------------------------------

def test_a_message_survives_the_round_trip():
    mine = settings()
    message = msg("ended", "algo-2", code=1, error="RuntimeError: été")
    buffer = bytearray(peers.encode(mine, message) + peers.encode(mine, msg("beat", "algo-3")))
    bodies, broken = peers.frames(buffer)
    assert not broken and buffer == b""
    assert [peers.decode(mine, body) for body in bodies] == [message, msg("beat", "algo-3")]


def test_a_verdict_that_escapes_past_the_limit_is_cut_never_refused():
    mine = settings()
    data = peers.encode(mine, msg("verdict", "algo-1", text="\x01" * peers.MAX_TEXT))  # 6 bytes each in JSON
    assert len(data) <= 4 + peers.MAX_MESSAGE
    text = peers.decode(mine, data[4:]).text
    assert text.startswith("\x01") and text.endswith("...")


def test_a_frame_waits_for_its_last_byte():
    data = peers.encode(settings(), msg("beat", "algo-2"))
    buffer = bytearray(data[:-1])
    assert peers.frames(buffer) == ([], False) and len(buffer) == len(data) - 1


@pytest.mark.parametrize("prefix", [b"\0\0\0\0", (peers.MAX_MESSAGE + 1).to_bytes(4, "big"), b"GET / HTTP/1.1"])
def test_a_length_out_of_bounds_breaks_the_stream(prefix):
    assert peers.frames(bytearray(prefix + b"x" * 8)) == ([], True)


def body(**fields):
    data = {"v": 1, "job": peers.job_id("job", HOSTS), "from": "algo-2", "kind": "beat"}
    data.update(fields)
    return json.dumps({key: value for key, value in data.items() if value is not None}).encode()


@pytest.mark.parametrize("raw", [
    b"not json", b"\xff\xfe", b"[1, 2]", b'"beat"', b"[" * 5000,
    body(v=2), body(v=None), body(job="job/0000000000000000"), body(job=None), body(job=7),
    body(**{"from": "algo-9"}), body(**{"from": None}), body(**{"from": ["algo-2"]}),
    body(kind="reboot"), body(kind=None),
    body(kind="ended"), body(kind="ended", code=256), body(kind="ended", code=-1), body(kind="ended", code=True),
    body(kind="ended", code="1"), body(kind="ended", code=1.0),
    body(kind="ended", code=1, error=7), body(kind="ended", code=1, error="x" * (peers.MAX_ERROR + 1)),
    body(kind="stop"), body(kind="stop", host="algo-9"),
    body(kind="verdict"), body(kind="verdict", text=""), body(kind="verdict", text="x" * (peers.MAX_TEXT + 1)),
], ids=lambda raw: raw[:60].decode("utf-8", "replace"))
def test_what_is_not_a_message_of_this_job_is_refused(raw):
    assert peers.decode(settings(), raw) is None


def test_another_host_list_is_another_job():
    assert peers.job_id("job", HOSTS) != peers.job_id("job", HOSTS[:2])
    assert peers.job_id("job", HOSTS) == peers.job_id("job", tuple(reversed(HOSTS)))
    assert peers.job_id("job", HOSTS) != peers.job_id("other", HOSTS)


# --- the coordinator ---------------------------------------------------------------------------------

def coordinator(now=0.0, joined=HOSTS[1:], **kwargs):
    board = peers.Coordinator(settings(**kwargs), now)
    for host in joined:
        board.on_hello(host, now)
    return board


def test_a_failure_is_the_verdict_broadcast_to_every_host():
    board = coordinator()
    actions = board.on_message(msg("ended", "algo-2", code=1, error="RuntimeError: host two exploded"), 3.0)
    text = "first observed failure: algo-2 (exit 1: RuntimeError: host two exploded)"
    assert verdicts(actions) == [text]
    assert of(actions, peers.Broadcast) == [peers.Broadcast(msg("verdict", "algo-1", text=text))]


def test_the_first_failure_heard_is_the_verdict_and_later_ones_are_only_noted():
    board = coordinator()
    board.on_message(msg("ended", "algo-3", code=137), 5.0)
    later = board.on_message(msg("ended", "algo-2", code=1, error="RuntimeError: x"), 5.1)
    assert board.verdict == "first observed failure: algo-3 (exit 137)"
    assert verdicts(later) == [] and of(later, peers.Broadcast) == []


def test_a_clean_exit_is_no_failure_and_its_close_no_loss():
    board = coordinator()
    assert verdicts(board.on_message(msg("ended", "algo-2", code=0), 1.0)) == []
    assert board.on_closed("algo-2", "connection closed", 1.1) == []
    assert verdicts(board.tick(200.0)) == ["first observed failure: algo-3 lost: silent for 200 s"]


def test_a_closed_connection_of_a_joined_host_is_a_loss_at_once():
    assert verdicts(coordinator().on_closed("algo-3", "connection closed", 2.0)) \
        == ["first observed failure: algo-3 lost: connection closed"]


@pytest.mark.parametrize("now, lost", [(64.9, False), (65.0, True)])
def test_silence_is_a_loss_after_the_timeout_at_a_heartbeat(now, lost):
    board = coordinator()
    ticks = []
    for beat in range(1, 14):  # every 5 s; algo-2 keeps beating, algo-3 is silent after its hello
        if 5.0 * beat > now:
            break
        board.on_message(msg("beat", "algo-2"), 5.0 * beat)
        ticks += board.tick(5.0 * beat)
    assert verdicts(ticks) == (["first observed failure: algo-3 lost: silent for 65 s"] if lost else [])


def test_a_host_that_never_started_is_lost_only_after_the_join_timeout():
    board = coordinator(joined=("algo-2",), join_timeout=600.0)
    for t in range(5, 600, 5):
        board.on_message(msg("beat", "algo-2"), float(t))
        assert verdicts(board.tick(float(t))) == []
    board.on_message(msg("beat", "algo-2"), 605.0)
    assert verdicts(board.tick(605.0)) == ["first observed failure: algo-3 lost: not started within 600 s"]


def test_the_verdict_names_the_hosts_already_silent():
    board = coordinator()
    board.on_message(msg("beat", "algo-2"), 30.0)
    actions = board.on_message(msg("ended", "algo-2", code=1), 31.0)
    assert verdicts(actions) == ["first observed failure: algo-2 (exit 1); also: algo-3 silent for 31 s"]


def test_a_stop_signal_anywhere_stops_every_host_and_no_verdict_follows():
    board = coordinator()
    actions = board.on_message(msg("stop", "algo-3", host="algo-3"), 1.0)
    assert of(actions, peers.PeerStop) == [peers.PeerStop("algo-3")]
    assert of(actions, peers.Broadcast) == [peers.Broadcast(msg("stop", "algo-1", host="algo-3"))]
    assert verdicts(board.on_message(msg("ended", "algo-2", code=1), 1.5)) == []  # a consequence of the stop
    assert verdicts(board.on_closed("algo-2", "connection closed", 1.6) + board.tick(100.0)) == []


def test_the_coordinators_own_stop_is_broadcast_and_not_a_stop_of_its_own_twice():
    board = coordinator()
    actions = board.own_stop(1.0)
    assert actions == [peers.Broadcast(msg("stop", "algo-1", host="algo-1"))]
    assert board.own_stop(2.0) == []


def test_the_coordinators_own_failure_is_the_verdict():
    actions, awaiting = coordinator().own_ended(2, "ValueError: bad lr", 4.0)
    assert verdicts(actions) == ["first observed failure: algo-1 (exit 2: ValueError: bad lr)"] and not awaiting


GLOO = ("rank 0 failed first (exit code 1): RuntimeError: [../third_party/gloo/gloo/transport/tcp/pair.cc:553]"
        " Connection closed by peer [172.18.0.3]:8359")
CONSEQUENCE = f"first observed failure: algo-3 (exit 1: {GLOO})"
CAUSE = "first observed failure: algo-2 (exit 1: RuntimeError: host two exploded)"


@pytest.mark.parametrize("error, expected", [
    (GLOO, True),
    ("RuntimeError: [pair.cc:598] Connection reset by peer", True),
    ("torch.distributed.DistBackendError: NCCL error in: ProcessGroupNCCL.cpp:1970, remote process exited", True),
    ("[Rank 1] Watchdog caught collective operation timeout: WorkNCCL(SeqNum=7) ran for 600000 milliseconds", True),
    ("RuntimeError: host two exploded", False),
    ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB", False),
    ("", False),
    (None, False),
])
def test_what_reads_as_a_consequence_of_a_peers_failure(error, expected):
    assert peers.consequence(error) is expected


def test_a_consequence_heard_first_gives_way_to_its_cause_heard_within_the_heartbeat():
    """Seen in CI: algo-3's torchrun reported its rank's gloo error before algo-2's reported the
    raise that caused it."""
    board = coordinator()
    held = board.on_message(msg("ended", "algo-3", code=1, error=GLOO), 3.0)
    assert verdicts(held) == [] and of(held, peers.Broadcast) == []
    assert board.next_wakeup() == 5.0 and board.tick(4.9) == []  # held until 3 + one heartbeat
    actions = board.on_message(msg("ended", "algo-2", code=1, error="RuntimeError: host two exploded"), 4.9)
    assert verdicts(actions) == [CAUSE]
    assert of(actions, peers.Broadcast) == [peers.Broadcast(msg("verdict", "algo-1", text=CAUSE))]
    assert verdicts(board.tick(8.0)) == [] and board.next_wakeup() == 10.0


def test_a_consequence_with_no_cause_heard_is_the_verdict_a_heartbeat_later():
    board = coordinator()
    board.on_message(msg("ended", "algo-3", code=1, error=GLOO), 3.0)
    later = board.on_message(msg("ended", "algo-2", code=1, error="RuntimeError: [pair.cc:598] Timed out"), 3.5)
    assert verdicts(later) == []  # another consequence: only noted
    assert board.next_wakeup() == 5.0 and verdicts(board.tick(5.0)) == []  # the heartbeat's tick, before the hold ends
    assert board.next_wakeup() == 8.0
    actions = board.tick(8.0)
    assert verdicts(actions) == [CONSEQUENCE]
    assert peers.Broadcast(msg("verdict", "algo-1", text=CONSEQUENCE)) in actions


def test_a_loss_heard_while_a_consequence_is_held_is_the_verdict():
    board = coordinator()
    board.on_message(msg("ended", "algo-3", code=1, error=GLOO), 3.0)
    assert verdicts(board.on_closed("algo-2", "connection closed", 3.2)) \
        == ["first observed failure: algo-2 lost: connection closed"]


def test_a_stop_heard_while_a_consequence_is_held_gives_the_held_verdict():
    """The failure was heard before the stop: the verdict, as any failure heard before a stop."""
    board = coordinator()
    board.on_message(msg("ended", "algo-3", code=1, error=GLOO), 3.0)
    actions = board.on_message(msg("stop", "algo-2", host="algo-2"), 3.5)
    assert verdicts(actions) == [CONSEQUENCE] and of(actions, peers.PeerStop) == []
    assert verdicts(board.tick(8.0)) == []


def test_the_coordinators_own_consequence_awaits_a_workers_cause():
    board = coordinator()
    actions, awaiting = board.own_ended(1, GLOO, 3.0)
    assert verdicts(actions) == [] and awaiting
    assert verdicts(board.on_message(msg("ended", "algo-2", code=1, error="RuntimeError: host two exploded"), 3.4)) \
        == [CAUSE]


def test_the_coordinators_own_consequence_is_the_verdict_when_no_cause_comes():
    board = coordinator()
    board.own_ended(1, GLOO, 3.0)
    assert verdicts(board.tick(8.0)) == [f"first observed failure: algo-1 (exit 1: {GLOO})"]


def test_the_coordinators_clean_exit_releases_the_workers():
    actions, _ = coordinator().own_ended(0, None, 4.0)
    assert of(actions, peers.Broadcast) == [peers.Broadcast(msg("done", "algo-1"))] and verdicts(actions) == []


def test_a_late_joiner_hears_the_verdict():
    board = coordinator(joined=("algo-2",))
    board.on_message(msg("ended", "algo-2", code=1), 1.0)
    actions = board.on_hello("algo-3", 2.0)
    assert peers.Send("algo-3", msg("verdict", "algo-1", text=board.verdict)) in actions


def test_a_late_joiner_hears_of_the_stop():
    board = coordinator(joined=("algo-2",))
    board.on_message(msg("stop", "algo-2", host="algo-2"), 1.0)
    assert peers.Send("algo-3", msg("stop", "algo-1", host="algo-2")) in board.on_hello("algo-3", 2.0)


@pytest.mark.parametrize("make", [lambda: coordinator(), lambda: worker()])
def test_the_first_dropped_message_is_said_and_the_rest_only_counted(make):
    board = make()
    first, = board.on_dropped("from 10.0.0.9:4242: not a message of this job")
    assert first == peers.Note("peers: dropped a message from 10.0.0.9:4242: not a message of this job"
                               " (further drops are counted)", peers.WARNING)
    later, = board.on_dropped("from 10.0.0.9:4243: not a message of this job")
    assert later == peers.Note("peers: dropped a message from 10.0.0.9:4243: not a message of this job",
                               peers.VERBOSE)
    assert verdicts([first, later]) == [] and board.watching  # a drop is never a decision


def test_one_tick_per_heartbeat_whatever_the_messages():
    board = coordinator()
    assert board.next_wakeup() == 5.0
    for t in (1.0, 2.0, 3.0):
        board.on_message(msg("beat", "algo-2"), t)
        assert board.tick(t) == [] and board.next_wakeup() == 5.0
    assert of(board.tick(5.0), peers.Broadcast) == [peers.Broadcast(msg("beat", "algo-1"))]
    assert board.next_wakeup() == 10.0


# --- a worker -----------------------------------------------------------------------------------

def worker(now=0.0, joined=True, **kwargs):
    board = peers.Worker(settings(me="algo-2", **kwargs), now)
    assert of(board.start(now), peers.Connect) == [peers.Connect()]
    if joined:
        assert board.on_connected(now) == [peers.Send("algo-1", msg("hello", "algo-2"))]
        board.on_message(msg("beat", "algo-1"), now)
    return board


def test_a_worker_retries_until_the_coordinator_answers():
    board = worker(joined=False)
    assert verdicts(board.on_closed("algo-1", "Connection refused", 0.1)) == []
    assert board.next_wakeup() == 1.1
    assert of(board.tick(1.1), peers.Connect) == [peers.Connect()]


@pytest.mark.parametrize("event", [lambda board: board.on_closed("algo-1", "Connection refused", 31.0),
                                   lambda board: board.tick(30.0)])
def test_a_worker_that_never_reaches_the_coordinator_turns_the_feature_off(event):
    board = worker(joined=False, join_timeout=30.0)
    assert verdicts(board.on_closed("algo-1", "Connection refused", 29.0)) == []
    actions = event(board)
    assert verdicts(actions) == [] and board.next_wakeup() is None
    (note,) = of(actions, peers.Note)
    assert note.level == peers.WARNING and note.text.startswith("peers: algo-1 not reached at algo-1:7779 within 30 s")
    assert note.text.endswith("multi-host fail-fast is off, the job runs on")
    assert board.on_closed("algo-1", "Connection refused", 40.0) == [] and board.tick(100.0) == []  # no more attempts


def test_a_coordinator_that_no_host_ever_joined_turns_the_feature_off():
    board = coordinator(joined=(), join_timeout=600.0)
    actions = []
    for t in range(5, 700, 5):
        actions += board.tick(float(t))
    assert verdicts(actions) == []
    assert [note.text for note in of(actions, peers.Note)] == [
        "peers: no host joined within 600 s (a blocked network or port?); multi-host fail-fast is off, the job runs on"]


@pytest.mark.parametrize("event, how", [
    (lambda board: board.on_closed("algo-1", "Connection reset by peer", 10.0), "connection closed"),
    (lambda board: board.tick(65.0), "silent for 65 s"),
])
def test_a_worker_that_loses_the_coordinator_decides_for_itself(event, how):
    board = worker()
    for t in range(5, 60, 5):  # nothing from the coordinator: no verdict before the timeout
        assert board.tick(float(t)) == []
    assert verdicts(event(board)) == [f"first observed failure: lost contact with algo-1 ({how})"]


def test_a_worker_answers_each_beat_and_wakes_only_for_the_coordinators_silence():
    board = worker(timeout=60.0)
    assert board.on_message(msg("beat", "algo-1"), 5.0) == [peers.Send("algo-1", msg("beat", "algo-2"))]
    assert board.next_wakeup() == 65.0
    assert board.tick(64.9) == []
    assert verdicts(board.tick(65.0)) == ["first observed failure: lost contact with algo-1 (silent for 60 s)"]


def test_a_worker_takes_the_coordinators_verdict_once():
    board = worker()
    assert verdicts(board.on_message(msg("verdict", "algo-1", text="first observed failure: algo-3 (exit 1)"), 1.0)) \
        == ["first observed failure: algo-3 (exit 1)"]
    assert verdicts(board.on_message(msg("verdict", "algo-1", text="another"), 1.1) + board.tick(100.0)) == []


def test_a_worker_tells_its_failure_and_awaits_the_verdict():
    actions, awaiting = worker().own_ended(1, "RuntimeError: x", 2.0)
    assert actions == [peers.Send("algo-1", msg("ended", "algo-2", code=1, error="RuntimeError: x"))] and awaiting
    actions, awaiting = worker().own_ended(0, None, 2.0)
    assert actions == [peers.Send("algo-1", msg("ended", "algo-2", code=0))] and not awaiting


def test_a_worker_whose_job_ended_gives_no_verdict_of_its_own():
    board = worker()
    board.own_ended(0, None, 2.0)
    assert verdicts(board.on_closed("algo-1", "connection closed", 3.0) + board.tick(200.0)) == []


def test_after_the_coordinators_clean_exit_a_worker_goes_on_unwatched():
    board = worker()
    board.on_message(msg("done", "algo-1"), 1.0)
    assert verdicts(board.on_closed("algo-1", "connection closed", 1.1) + board.tick(500.0)) == []
    assert board.next_wakeup() is None  # nothing due: the loop sleeps until its own deadlines


@pytest.mark.parametrize("end", [
    lambda board: board.own_ended(0, None, 1.0),
    lambda board: board.own_ended(1, "x", 1.0),
    lambda board: board.on_message(msg("verdict", "algo-1", text="first observed failure: algo-3 (exit 1)"), 1.0),
    lambda board: board.on_message(msg("stop", "algo-1", host="algo-3"), 1.0),
    lambda board: board.own_stop(1.0),
])
def test_a_worker_that_no_longer_watches_has_no_deadline(end):
    board = worker(timeout=60.0)
    end(board)
    assert board.next_wakeup() is None


def test_a_stop_from_the_coordinator_stops_the_worker_without_a_verdict():
    board = worker()
    assert board.on_message(msg("stop", "algo-1", host="algo-3"), 1.0) == [peers.PeerStop("algo-3")]
    assert verdicts(board.on_closed("algo-1", "connection closed", 1.1)) == []


# --- the resource config -------------------------------------------------------------------------

def resource_config(tmp_path, text):
    path = tmp_path / "resourceconfig.json"
    path.write_text(text if isinstance(text, str) else json.dumps(text))
    return str(path)


@pytest.mark.parametrize("content, problem", [
    ("{", "is not JSON"),
    ([], "is not a JSON object"),
    ({"current_host": "algo-1"}, "hosts is not a list"),
    ({"current_host": "algo-1", "hosts": []}, "hosts is not a list"),
    ({"current_host": "algo-9", "hosts": ["algo-1", "algo-2"]}, "current_host 'algo-9' is not one of its hosts"),
    ({"current_host": "algo-1", "hosts": ["algo-1", "algo-2", "algo-1"]}, "host 'algo-1' is listed twice"),
    ({"current_host": "algo-1", "hosts": ["algo-1", 2]}, "hosts: 2 is not a host name"),
    ({"current_host": "algo-1", "hosts": ["algo-1", "algo 2"]}, "is not a host name"),
    ({"current_host": "algo-1", "hosts": ["algo-1", "algo-2"], "network_interface_name": "../x"},
     "is not an interface name"),
])
def test_a_resource_config_that_cant_be_used(tmp_path, capfd, content, problem):
    path = resource_config(tmp_path, content)
    with pytest.raises(config.NotMultiHost, match=problem):
        config.read_resource_config(path)
    raw = {"peers": ("on", "--peers"), "resource_config": (path, "--resource-config")}
    with pytest.raises(ConfigError, match=f"--peers on: .*{problem}"):
        config.peer_settings(config._Values(raw), "train", str(tmp_path), {})
    raw["peers"] = ("auto", "--peers")  # auto: one warning line, and the job runs without it
    assert config.peer_settings(config._Values(raw), "train", str(tmp_path), {}) is None
    lines = capfd.readouterr().err.splitlines()
    assert len(lines) == 1 and "multi-host fail-fast is off" in lines[0] and problem in lines[0]


def test_auto_is_on_for_several_hosts_in_train_mode_only(tmp_path, capfd):
    path = resource_config(tmp_path, {"current_host": "algo-2", "hosts": ["algo-1", "algo-2"],
                                      "network_interface_name": "no-such-if0"})
    raw = {"resource_config": (path, "SM_INIT_RESOURCE_CONFIG")}
    found = config.peer_settings(config._Values(raw), "train", str(tmp_path), {"TRAINING_JOB_NAME": "j"})
    assert (found.hosts, found.me, found.coordinator, found.port, found.interface) == \
        (("algo-1", "algo-2"), "algo-2", "algo-1", 7779, None)  # a missing interface: all of them
    assert (found.heartbeat, found.timeout, found.join_timeout) == (5.0, 60.0, 600.0)
    slow = dict(raw, peer_heartbeat=("40", "--peer-heartbeat"))
    assert config.peer_settings(config._Values(slow), "train", str(tmp_path), {}).timeout == 80.0
    assert config.peer_settings(config._Values(raw), "serve", str(tmp_path), {}) is None
    forced = dict(raw, peers=("on", "--peers"))  # on: whatever the mode
    assert config.peer_settings(config._Values(forced), "serve", str(tmp_path), {}).me == "algo-2"
    off = dict(raw, peers=("off", "--peers"))
    assert config.peer_settings(config._Values(off), "train", str(tmp_path), {}) is None
    one = resource_config(tmp_path, {"current_host": "algo-1", "hosts": ["algo-1"]})
    for wanted in ("auto", "on"):
        raw_one = {"resource_config": (one, "x"), "peers": (wanted, "--peers")}
        assert config.peer_settings(config._Values(raw_one), "train", str(tmp_path), {}) is None
    missing = {"resource_config": (str(tmp_path / "missing.json"), "x")}
    assert config.peer_settings(config._Values(missing), "train", str(tmp_path), {}) is None
    assert capfd.readouterr().err == ""  # no file, one host: nothing to say


# --- the plan ---------------------------------------------------------------------------------------

CONFIG = config.Config(argv=("train",), mode="train", stop_timeout=120.0, hook_timeout=30.0)
FACTS = plan.Facts(anyone_left=True)
VERDICT = "first observed failure: algo-2 (exit 1: RuntimeError: x)"


def test_a_verdict_stops_a_running_job_and_ends_in_123_with_the_verdict_in_the_failure_file():
    state = plan.started(CONFIG, 100, 0.0)
    state, actions = plan.on_verdict(CONFIG, state, VERDICT, FACTS, 1.0)
    assert state.stop_cause == plan.PEER and state.phase == plan.Phase.GRACE
    assert plan.reason(state) == "peer"  # what the hooks are told (SM_INIT_REASON)
    assert actions[0] == plan.Log(f"peers: stopping: {VERDICT}")
    assert plan.Forward(signal.SIGTERM, True) in actions
    state, actions = finish(state._replace(main_status=143 << 8), 2.0)
    (failure,) = of(actions, plan.WriteFailure)
    assert failure.verdict == VERDICT and failure.code == exitcodes.PEER_FAILED == 123
    assert of(actions, plan.Exit) == [plan.Exit(123)]


def finish(state, now):
    """Advance with nobody left (no hooks found) until the plan stops moving: (state, last actions)."""
    gone = plan.Facts(anyone_left=False)
    for _ in range(20):
        state, actions = plan.advance(CONFIG, state, gone, now)
        if of(actions, plan.FindHooks):
            state, more = plan.on_hooks_found(CONFIG, state, [], now)
            actions += more
        if of(actions, plan.Exit) or not state.recheck:
            return state, actions
    raise AssertionError(f"the plan did not settle: {state}")


def test_a_failed_host_keeps_its_own_code_and_waits_a_little_for_the_verdict():
    state = plan.started(CONFIG, 100, 0.0)._replace(main_status=1 << 8)
    state = plan.await_verdict(state, 0.0 + plan.PEER_WAIT)
    state, actions = finish(state, 0.0)
    assert of(actions, plan.Exit) == [] and plan.next_wakeup(CONFIG, state) == plan.PEER_WAIT
    state, actions = plan.on_verdict(CONFIG, state, VERDICT, FACTS, 0.5)
    state, actions = finish(state, 0.5)
    (failure,) = of(actions, plan.WriteFailure)
    assert failure.verdict == VERDICT and of(actions, plan.Exit) == [plan.Exit(1)]


def test_without_a_verdict_a_failed_host_exits_when_the_wait_is_over():
    state = plan.started(CONFIG, 100, 0.0)._replace(main_status=1 << 8)
    state = plan.await_verdict(state, plan.PEER_WAIT)
    state, actions = finish(state, 0.0)
    assert of(actions, plan.Exit) == []
    state, actions = finish(state, plan.PEER_WAIT)
    assert of(actions, plan.Exit) == [plan.Exit(1)] and of(actions, plan.WriteFailure)[0].verdict is None


def test_a_peer_stop_is_a_stop_no_failure():
    state = plan.started(CONFIG, 100, 0.0)
    state, actions = plan.on_peer_stop(CONFIG, state, "algo-3", FACTS, 1.0)
    assert state.stop_cause == plan.PEER_STOP and plan.Forward(signal.SIGTERM, True) in actions
    assert plan.reason(state) == "peer-stop"
    state, actions = finish(state._replace(main_status=143 << 8), 2.0)
    assert of(actions, plan.Exit) == [plan.Exit(143)] and of(actions, plan.WriteFailure) == []
