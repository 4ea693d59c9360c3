"""sm-init's output and the relay of the tree's, over real pipes, FIFOs and terminals.

PID 1 never blocks on a log reader: a stalled stderr (a FIFO nobody reads, as a stalled Docker log
driver) must not hold the stop; the trainer's shared descriptors keep their flags; signals the
kernel raises against sm-init's own writes (SIGPIPE, SIGXFSZ) are not the trainer's. With capture
(the default when the output is not a terminal) the tree's bytes arrive unchanged, a line of the
trainer's is never split by one of sm-init's, and a reader that goes away is the trainer's news too.
Every test runs as PID 1 (unshare) and as subreaper.
"""

import fcntl
import hashlib
import os
import re
import resource
import signal
import threading
import time

import pytest

import psutil

from helpers.children import spew
from helpers.commands import child, probe
from helpers.fifos import stuff, unread_bytes
from helpers.procfs import fd_flags, pending, wait_until
from helpers.realinit import TIMEOUT

SLACK = 1.5          # the test's own delay in seeing sm-init gone, on a loaded 2-core machine


def fill(fd):
    """Wait until the FIFO behind ``fd`` holds what it can (nobody reads it)."""
    def full():
        before = unread_bytes(fd)
        time.sleep(0.05)
        return before >= 4096 and unread_bytes(fd) == before
    wait_until(full, "the stalled FIFO filled up")


# --- a reader that stops reading ------------------------------------------------------------------

@pytest.mark.parametrize("capture", ["--capture", "--no-capture"])
def test_a_stalled_log_reader_never_holds_the_stop(start_init, stalled_fifo, tmp_path, capture):
    path, reader = stalled_fifo
    writer = os.open(path, os.O_WRONLY)
    saved = tmp_path / "saved"
    script = (f'trap "echo saved > {saved}; exit 0" TERM; head -c 300000 /dev/zero >&2 & echo ready;'
              f' while :; do sleep 0.1; done')
    stop_timeout = 4.0
    init = start_init(capture, "-v", "--stop-timeout", str(stop_timeout), "--hooks-dir", str(tmp_path),
                      "--", "sh", "-c", script, stderr=writer)
    os.close(writer)
    init.out.expect(r"^ready$")
    fill(reader)
    for _ in range(50):   # and sm-init has a few more lines to say (-v: one per forwarded signal)
        init.signal(signal.SIGWINCH)
    if capture == "--no-capture":
        # the trainer shares sm-init's stderr (one open file description): its flags must not change
        assert fd_flags(init.pid, 2) & os.O_NONBLOCK == 0
    sent = time.monotonic()
    init.signal(signal.SIGTERM)
    assert init.wait() == 0
    assert init.ended - sent <= stop_timeout + SLACK
    assert saved.read_text() == "saved\n"                 # the trainer's handler ran: nothing lost
    assert init.survivors() == []


SENT = 8000


def test_log_lines_a_blocked_stderr_could_not_take_are_counted_and_reported(start_init, stalled_fifo, tmp_path):
    path, reader = stalled_fifo
    writer = os.open(path, os.O_WRONLY)
    init = start_init("-v", "--stop-timeout", "4", "--", *probe("--exit-on", "TERM=0"), stderr=writer)
    os.close(writer)
    init.out.expect(r"^main ready")
    fcntl.fcntl(reader, fcntl.F_SETPIPE_SZ, 4096)   # a small FIFO: fewer signals overflow sm-init's queue
    stuff(reader)
    rtsig = signal.SIGRTMIN + 2   # realtime signals queue: each one is forwarded and logged (-v)
    for _ in range(SENT):         # ~400 KB of log lines: more than the FIFO and sm-init's queue hold
        init.signal(rtsig)
    init.out.expect(r"^main got SIGRTMIN\+2$")
    wait_until(lambda: not pending(init.pid, rtsig), "sm-init took every signal while stderr was stalled")
    received = bytearray()
    os.set_blocking(reader, True)

    def drain():
        while True:
            data = os.read(reader, 65536)
            if not data:
                return
            received.extend(data)
    threading.Thread(target=drain, daemon=True).start()
    # sm-init says what it dropped once its held lines are out: only then is stderr all the stop's
    # (a stop line logged while lines are still held could be dropped too, and counted with them).
    wait_until(lambda: b"dropped: stderr was not taking them" in received, "the held lines out, the drops reported")
    init.signal(signal.SIGTERM)
    assert init.wait() == 0
    wait_until(lambda: received.rstrip().endswith(b"killed") or "dropped" in received[-200:].decode(),
               "the exit line")
    lines = received.decode().lstrip("-").splitlines()
    assert lines[-1].startswith("sm-init: exit: 0 ")
    forwards = sum(1 for line in lines if "sm-init: forward: SIGRTMIN" in line)
    reported = [int(m.group(1)) for line in lines
                for m in [re.search(r"(\d+) (?:of sm-init's )?log line\(s\) dropped", line)] if m]
    assert reported and all(reported)
    assert forwards + sum(reported) == SENT   # every line written or counted, none twice


@pytest.mark.parametrize("capture", ["--capture", "--no-capture"])
def test_log_lines_go_out_as_soon_as_a_stalled_stderr_makes_room(start_init, stalled_fifo, capture):
    """A line sm-init could not write waits for room, not for sm-init's next line or its exit."""
    path, reader = stalled_fifo
    writer = os.open(path, os.O_WRONLY)
    init = start_init(capture, "-v", "--", *probe("--exit-on", "TERM=0"), stderr=writer)
    os.close(writer)
    init.out.expect(r"^main ready")
    fcntl.fcntl(reader, fcntl.F_SETPIPE_SZ, 4096)
    already = unread_bytes(reader)
    os.read(reader, already)                # sm-init's first lines: an empty FIFO, then a full one
    stuff(reader)
    assert unread_bytes(reader) == 4096
    init.signal(signal.SIGWINCH)            # forwarded and logged (-v): a line that can't go out yet
    init.out.expect(r"^main got SIGWINCH$")
    assert unread_bytes(reader) == 4096     # it did not
    received = bytearray()

    def read_and_look():   # our first read makes the room; nothing else happens meanwhile
        try:
            received.extend(os.read(reader, 65536))
        except BlockingIOError:
            pass
        return b"sm-init: forward: SIGWINCH" in received
    wait_until(read_and_look, "the queued line once there is room")
    init.signal(signal.SIGTERM)
    assert init.wait() == 0


# --- signals the kernel raises against sm-init's own writes ----------------------------------------

def test_sm_init_own_sigpipe_is_not_the_trainers(start_init):
    read_end, write_end = os.pipe()
    init = start_init("-v", "--stop-timeout", "4", "--", *probe("--exit-on", "TERM"), stderr=write_end)
    os.close(write_end)
    init.out.expect(r"^main ready")
    os.read(read_end, 4096)     # sm-init's start line
    os.close(read_end)          # the log reader goes away (`sm-init ... 2>&1 | true`)
    init.signal(signal.SIGUSR1)  # -v: sm-init writes a line: EPIPE, and the kernel's SIGPIPE
    init.out.expect(r"^main got SIGUSR1$")
    init.signal(signal.SIGUSR2)
    init.out.expect(r"^main got SIGUSR2$")
    init.signal(signal.SIGTERM)
    assert init.wait() == 143
    assert init.out.count(r"^main got SIGPIPE") == 0


def test_sm_init_own_sigxfsz_is_not_the_trainers(start_init, tmp_path):
    log = tmp_path / "log"
    log.write_bytes(b"x" * 4096)          # already over the limit set below
    fd = os.open(log, os.O_WRONLY | os.O_APPEND)

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, resource.RLIM_INFINITY))
    # (no .pyc written by the probe: past the limit, the kernel's SIGXFSZ would kill it, rightly)
    init = start_init("-v", "--stop-timeout", "4", "--", *probe("--exit-on", "TERM"), stderr=fd,
                      preexec_fn=small_files, env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    os.close(fd)
    init.out.expect(r"^main ready")
    init.signal(signal.SIGUSR1)           # sm-init's log write: EFBIG, and the kernel's SIGXFSZ
    init.out.expect(r"^main got SIGUSR1$")
    init.signal(signal.SIGTERM)
    assert init.wait() == 143
    assert init.out.count(r"^main got SIGXFSZ") == 0
    assert log.stat().st_size == 4096


# --- the relay ----------------------------------------------------------------------------------

def read_all(fd, into):
    """Read ``fd`` to EOF into the bytearray ``into``, on a thread (a full pipe must not block the other)."""
    def read():
        for data in iter(lambda: os.read(fd, 1 << 20), b""):
            into.extend(data)
        os.close(fd)
    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def test_tens_of_megabytes_on_both_streams_arrive_byte_for_byte(start_init):
    seed, mib = 7, 24
    (out_r, out_w), (err_r, err_w) = os.pipe(), os.pipe()
    init = start_init("-q", "--", *child("spew.py", str(seed), str(mib)), stdout=out_w, stderr=err_w)
    os.close(out_w)
    os.close(err_w)
    got = {"out": bytearray(), "err": bytearray()}
    readers = [read_all(out_r, got["out"]), read_all(err_r, got["err"])]
    assert init.wait() == 0
    for reader in readers:
        reader.join(TIMEOUT)
    want = {"out": hashlib.sha256(), "err": hashlib.sha256()}
    sizes = {"out": 0, "err": 0}
    for fd, chunk in spew.chunks(seed, mib):
        name = "out" if fd == 1 else "err"
        want[name].update(chunk)
        sizes[name] += len(chunk)
    assert len(got["out"]) == sizes["out"] and len(got["err"]) == sizes["err"]
    assert hashlib.sha256(got["out"]).hexdigest() == want["out"].hexdigest()
    assert hashlib.sha256(got["err"]).hexdigest() == want["err"].hexdigest()


def test_a_line_of_the_trainers_is_never_split_by_one_of_sm_inits(start_init):
    err_r, err_w = os.pipe()
    init = start_init("-v", "--", *child("partial.py"), stderr=err_w)
    os.close(err_w)
    raw = bytearray()
    reader = read_all(err_r, raw)
    init.out.expect(r"^ready$")
    # passed on promptly, before its newline
    wait_until(lambda: b"partial-start" in raw, "the unfinished line relayed")
    init.signal(signal.SIGUSR1)   # -v logs the forward while the trainer's line is open
    init.out.expect(r"^last words$")
    assert init.wait() == 0
    reader.join(TIMEOUT)
    lines = raw.decode().splitlines()
    assert "partial-start-end" in lines
    forward = next(i for i, line in enumerate(lines) if line.startswith("sm-init: forward: SIGUSR1"))
    assert forward > lines.index("partial-start-end")   # it waited for the trainer's newline
    assert lines[-1].startswith("sm-init: exit: 0 ")


def test_a_reader_that_goes_away_is_the_trainers_news_as_without_sm_init(start_init):
    """`sm-init -- yes | head -1`: the pipe's reader is gone, yes dies of SIGPIPE, sm-init says 141."""
    read_end, write_end = os.pipe()
    init = start_init("--", "yes", stdout=write_end)
    os.close(write_end)
    assert os.read(read_end, 2) == b"y\n"
    os.close(read_end)   # head -1 exits
    assert init.wait() == 128 + signal.SIGPIPE
    init.log.expect(r"main child exited \(killed by SIGPIPE\)")
    assert init.survivors() == []


@pytest.mark.parametrize("capture, relayed", [(None, True), ("--no-capture", False), ("--capture", True)])
def test_who_writes_where(start_init, capture, relayed):
    """Pipes as stdout and stderr: the tree writes into sm-init's capture pipes by default."""
    args = [capture] if capture else []
    init = start_init(*args, "--", *probe("--exit-on", "TERM"))
    init.out.expect(r"^main ready")
    pid = wait_until(lambda: psutil.Process(init.pid).children(), "the main child")[0].pid
    for fd in (1, 2):
        same = os.readlink(f"/proc/{pid}/fd/{fd}") == os.readlink(f"/proc/{init.pid}/fd/{fd}")
        assert same is not relayed
    init.signal(signal.SIGTERM)
    assert init.wait() == 143


def test_on_a_terminal_the_trainer_keeps_it(start_init):
    master, slave = os.openpty()
    try:
        init = start_init("--", *probe("--exit-on", "TERM"), stdout=slave, stderr=slave)
        main = wait_until(lambda: psutil.Process(init.pid).children(), "the main child")[0]
        wait_until(lambda: main.cmdline()[-3:] == ["probe.py", "--exit-on", "TERM"][-3:] or
                   main.cmdline()[-2:] == ["--exit-on", "TERM"], "the probe exec'd")
        assert os.readlink(f"/proc/{main.pid}/fd/1") == os.ttyname(slave)
        assert os.readlink(f"/proc/{main.pid}/fd/2") == os.ttyname(slave)
        init.signal(signal.SIGTERM)
        assert init.wait() == 143
    finally:
        os.close(slave)
        os.close(master)


def _stream_into_pipe():
    """A relayed stream whose sink is a real pipe: (stream, tree's write end, reader of the sink)."""
    from sm_init.output import Sink, Stream
    tree_read, tree_write = os.pipe()
    out_read, out_write = os.pipe()
    os.set_blocking(tree_read, False)
    stream = Stream(tree_read, Sink(out_write))
    os.close(out_write)  # the sink writes through its own description
    return stream, tree_write, out_read


@pytest.mark.parametrize("ours", [False, True], ids=["nothing-held", "log-line-held"])
def test_a_stream_that_ends_inside_a_line_releases_the_held_log_lines_and_nothing_else(ours):
    """The tree's last line has no newline and its stream ends: a log line of ours that waited
    for that newline goes out at once after one we add; with none waiting, the bytes stay exact."""
    stream, tree_write, out_read = _stream_into_pipe()
    os.write(tree_write, b"step 7 loss=0.1")
    stream.pump(0.0)
    if ours:
        stream.sink.log(b"sm-init: ours\n", 0.0)
        assert stream.sink.held, "a log line must wait while the tree's line is open"
    os.close(tree_write)
    stream.pump(0.1)  # EOF, long before HOLD
    assert not stream.open and not stream.sink.held
    got = os.read(out_read, 4096)
    os.close(stream.sink.fd)
    os.close(out_read)
    assert got == (b"step 7 loss=0.1\nsm-init: ours\n" if ours else b"step 7 loss=0.1")
