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
import subprocess
import sys
import threading
import time

import pytest

import psutil

from helpers.children import spew
from helpers import readers
from helpers.commands import child, probe
from helpers.fifos import stuff, unread_bytes
from helpers.procfs import fd_flags, pending, wait_until
from helpers.realinit import SM_INIT, TIMEOUT, Init, require_unshare, train

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
            try:
                data = os.read(reader, 65536)
            except OSError:   # EBADF: the fixture closed the FIFO, the test is over (seen once in CI)
                return
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


def test_at_exit_a_log_line_held_for_a_writer_still_alive_goes_out_though_nothing_else_waits(monkeypatch):
    """At exit the tree's line is open and a writer of it still holds the pipe (no EOF to end the
    line): the pipe is empty, nothing is queued, yet finish must not take the quick way out that an
    exit with nothing to write takes: the log line waiting for the newline goes out after one."""
    from types import SimpleNamespace
    from sm_init import output
    stream, tree_write, out_read = _stream_into_pipe()
    monkeypatch.setattr(output, "_sinks", {2: stream.sink})  # finish writes the sinks sm-init opened
    os.write(tree_write, b"step 7 loss=0.1")
    stream.pump(0.0)
    stream.sink.log(b"sm-init: ours\n", 0.0)
    assert stream.sink.held and not stream.sink.queue
    output.finish(SimpleNamespace(streams=[None, stream]), None)
    got = os.read(out_read, 4096)
    os.close(tree_write)
    os.close(stream.sink.fd)
    os.close(out_read)
    assert got == b"step 7 loss=0.1\nsm-init: ours\n"


# --- descriptors sm-init can't reopen, or was given closed ----------------------------------------

def unprivileged_sm_init(tmp_path):
    """An entrypoint that drops privileges before exec'ing sm-init (as gosu or su-exec do)."""
    wrapper = tmp_path / "sm-init"
    wrapper.write_text(f'#!/bin/sh\nexec setpriv --reuid=65534 --regid=65534 --clear-groups {SM_INIT} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


@pytest.mark.parametrize("capture", ["--capture", "--no-capture"])
@pytest.mark.parametrize("sink", ["pipe", "fifo"])
def test_output_reaches_descriptors_sm_init_cannot_reopen(start_init, tmp_path, sink, capture):
    """Run as nobody, sm-init can't reopen root's 0600 pipe or FIFO through /proc/self/fd/N: the
    tree's lines and sm-init's own still reach it (they were lost, the loss report with them)."""
    if sink == "pipe":
        read_end, write_end = os.pipe()
    else:
        path = tmp_path / "log"
        os.mkfifo(path, 0o600)
        read_end = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        write_end = os.open(path, os.O_WRONLY)
        os.set_blocking(read_end, True)
    got = bytearray()
    reader = read_all(read_end, got)
    init = start_init(capture, "--", "sh", "-c", "echo out; echo err >&2", sm_init=unprivileged_sm_init(tmp_path),
                      stdout=write_end, stderr=write_end)
    os.close(write_end)
    assert init.wait() == 0
    reader.join(TIMEOUT)
    lines = got.decode().splitlines()
    assert "out" in lines and "err" in lines
    assert any(line.startswith("sm-init: start: ") for line in lines)  # (--no-capture: maybe after "out")
    assert lines[-1].startswith("sm-init: exit: 0 ")


@pytest.mark.parametrize("closed", [0, 2])
def test_a_descriptor_closed_at_start_is_dev_null_and_sm_init_lines_stay_out_of_stdout(start_init, tmp_path, closed):
    """`sm-init -- cmd 2>&- >out.txt`: the capture pipe took fd 2 and sm-init's lines went into
    out.txt; with stdin closed, the trainer had none. Now fds 0-2 are /dev/null where closed."""
    out = tmp_path / "out.txt"
    fd = os.open(out, os.O_WRONLY | os.O_CREAT, 0o644)
    init = start_init("--", "sh", "-c", "echo tree; readlink /proc/self/fd/0", stdout=fd,
                      stderr=subprocess.DEVNULL, preexec_fn=lambda: os.close(closed))
    os.close(fd)
    assert init.wait() == 0
    assert out.read_text().splitlines() == ["tree", "/dev/null"]


# --- slow readers -----------------------------------------------------------------------------------

LINES = 20000
TRAINER_LINES = ("import sys\n"
                 f"for i in range({LINES}): print('line %06d ' % i + 'x' * 88)\n"
                 "print('RuntimeError: LAST LINE'); sys.exit(1)")


def split_ours(text):
    """(the tree's lines, sm-init's lines) of a relayed output; fails on a line that has sm-init's
    words inside it (one of its lines spliced into one of the tree's)."""
    tree, ours = [], []
    for line in text.splitlines():
        if line.startswith("sm-init: "):
            ours.append(line)
        else:
            assert "sm-init:" not in line, f"a line of sm-init's inside one of the tree's: {line!r}"
            tree.append(line)
    return tree, ours


def test_a_slow_reader_gets_every_byte_in_order_and_the_exit_line_last(start_init):
    """20,000 lines through SLOW (64 KiB every 0.1 s), then the trainer exits 1: nothing lost
    (about 3 s of reading), no line of sm-init's inside one of the trainer's, `exit:` last."""
    read_end, write_end = os.pipe()
    reader = readers.slow(read_end)
    init = start_init("--", sys.executable, "-c", TRAINER_LINES, stdout=write_end, stderr=write_end)
    os.close(write_end)
    assert init.wait() == 1
    reader.join(TIMEOUT)
    text = reader.got.decode()
    tree, ours = split_ours(text)
    assert tree == ["line %06d " % i + "x" * 88 for i in range(LINES)] + ["RuntimeError: LAST LINE"]
    assert text.splitlines()[-1] == ours[-1] and ours[-1].startswith("sm-init: exit: 1 ")
    assert "dropped" not in ours[-1]


RECORD = 4096   # PIPE_BUF: the trainer outruns the reader by far, and each record goes in whole


def test_during_a_stop_what_a_slow_reader_did_not_get_is_counted_in_the_exit_line(start_init, hooks_dir, tmp_path):
    """A trainer that ignores SIGTERM floods stderr; --max-runtime stops it, the kill ends it; a
    2 MB/s reader can't take it all by exit_at. The exit line is last, and the bytes it says were
    dropped are exactly those the trainer wrote and the reader did not get. (A hook that takes its
    whole time puts the kill at kill_at: the reader then has the kill window, 0.3 s, for what the
    1 MiB capture pipe holds.)"""
    hook = os.path.join(hooks_dir, "slow-save")
    with open(hook, "w") as f:
        f.write("#!/bin/sh\nexec sleep 30\n")
    os.chmod(hook, 0o755)
    counter = tmp_path / "counter"
    counter.write_bytes(bytes(8))
    read_end, write_end = os.pipe()
    reader = readers.at_rate(read_end, 2_000_000)
    init = start_init("--max-runtime", "1", "--stop-timeout", "3", "--hooks-dir", hooks_dir, "--",
                      *child("flood.py", str(counter), str(RECORD)), stderr=write_end)
    os.close(write_end)
    init.out.expect(r"^ready$")
    assert init.wait() == 137   # the main child's: killed
    reader.join(TIMEOUT)
    written = int.from_bytes(counter.read_bytes(), "little") * RECORD
    tree, ours = split_ours(reader.got.decode())
    # the records arrive whole and in order; the last may be cut (then sm-init ended its line)
    assert all(line == "%08d " % i + "x" * (RECORD - 10) for i, line in enumerate(tree[:-1]))
    got = sum(len(line) + 1 for line in tree) - (len(tree[-1]) + 1 < RECORD)
    assert reader.got.decode().splitlines()[-1] == ours[-1] and ours[-1].startswith("sm-init: exit: 137 ")
    dropped = re.search(r"(\d+) byte\(s\) of the tree's output to stderr dropped", ours[-1])
    assert dropped, f"nothing counted, though the reader got {got} of {written} bytes: {ours[-1]}"
    # a SIGKILL right after a write and before its count leaves the counter one record short
    assert int(dropped.group(1)) in (written - got, written + RECORD - got)


def test_the_failure_file_has_the_last_words_whatever_the_readers_speed(start_init, ml):
    """20,000 stderr lines, then the real cause, through SLOW: the failure file was built from what
    sm-init had read when the trainer died, about 1 MB before the end."""
    script = ("import sys\n"
              f"for i in range({LINES}): print('noise %06d ' % i + 'x' * 88, file=sys.stderr)\n"
              "raise ValueError('the real cause')")
    read_end, write_end = os.pipe()
    reader = readers.slow(read_end)
    init = train(start_init, ml, [sys.executable, "-c", script], stdout=write_end, stderr=write_end)
    os.close(write_end)
    assert init.wait() == 1
    reader.join(TIMEOUT)
    failure = (ml / "output" / "failure").read_text()
    assert "ValueError: the real cause" in failure
    assert "noise 019999" in failure  # the last lines are the last ones
    assert "ValueError: the real cause" in reader.got.decode()   # and still relayed


def test_a_paused_reader_does_not_make_a_printing_job_stalled(start_init, tmp_path):
    """The trainer's writes wait in the capture pipe while its reader pauses: they are progress all
    the same (it was stalled, exit 124). Once the trainer is done, the reader reads it all."""
    done = tmp_path / "done"
    script = ("import time\n"
              "print('x' * 200000, flush=True)\n"
              "for i in range(12): print('step', i, flush=True); time.sleep(0.3)\n"
              f"open({str(done)!r}, 'w').close()")
    read_end, write_end = os.pipe()
    reader = readers.SlowReader(read_end, every=0, paused=True)
    init = start_init("--stall-timeout", "2", "--", sys.executable, "-c", script, stdout=write_end,
                      stderr=subprocess.DEVNULL)
    os.close(write_end)
    wait_until(lambda: done.exists() or init.process.poll() is not None, "the trainer done (or sm-init gone)")
    reader.resume()
    assert init.wait() == 0
    reader.join(TIMEOUT)
    assert reader.got.decode().splitlines()[1:] == ["step %d" % i for i in range(12)]


def test_a_verdict_reads_the_pipe_to_its_end_and_holds_no_more_than_it_held():
    """The memory bound: at a verdict the stream reads what its pipe holds (at most the pipe's
    size) into its hold, whatever its sink takes; the tail then ends with the tree's last bytes,
    and the hold goes out first when the reader makes room."""
    from sm_init.output import PIPE_SIZE, TAIL
    from sm_init.signals import IO_SIGNAL
    # In a child of one thread: the full sink asks the kernel for IO_SIGNAL (SIGIO once its queue
    # overflows), as in sm-init, and a signal blocked in this thread would go to another one here.
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            signal.pthread_sigmask(signal.SIG_BLOCK, {IO_SIGNAL, signal.SIGIO})
            _drain_a_full_pipe_behind_a_full_sink(PIPE_SIZE, TAIL)
            code = 0
        except BaseException:
            import traceback
            traceback.print_exc()
        finally:
            os._exit(code)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0, "failed (the child's traceback is above)"


def _drain_a_full_pipe_behind_a_full_sink(PIPE_SIZE, TAIL):
    stream, tree_write, out_read = _stream_into_pipe()
    fcntl.fcntl(stream.fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    size = fcntl.fcntl(stream.fd, fcntl.F_GETPIPE_SZ)
    stream.pump(0.0)
    os.set_blocking(tree_write, False)
    written = _fill(tree_write)
    stream.pump(0.0)                 # its sink full (nobody reads it), the pipe full behind it
    assert stream.sink.full and unread_bytes(stream.fd) > 0
    stream.drain()
    assert unread_bytes(stream.fd) == 0
    assert 0 < len(stream.hold) <= size
    assert stream.last() == bytes(written[-TAIL:])
    relayed = bytearray()
    os.set_blocking(out_read, False)
    while len(relayed) < len(written):    # the reader reads: the hold, then nothing else, in order
        try:
            relayed += os.read(out_read, 1 << 20)
        except BlockingIOError:
            pass
        stream.sink.flush(0.0)   # (the relay's pump flushes its sinks first)
        stream.pump(0.0)
    assert relayed == written
    os.close(tree_write)
    os.close(stream.sink.fd)
    os.close(out_read)
    stream.close()

    # Verdicts in a row (a stall, the failure file, the exit) behind a reader that reads nothing:
    # the hold stays within HOLD_LIMIT, the oldest bytes beyond it dropped and counted.
    from sm_init.output import HOLD_LIMIT
    stream, tree_write, out_read = _stream_into_pipe()
    fcntl.fcntl(stream.fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    os.set_blocking(tree_write, False)
    stream.pump(0.0)
    total = bytearray()
    for _ in range(4):
        total += _fill(tree_write)
        stream.pump(0.0)
        stream.drain()
    assert len(stream.hold) == HOLD_LIMIT
    assert stream.last() == bytes(total[-TAIL:]) and stream.hold == total[-HOLD_LIMIT:]
    assert stream.sink.late_bytes == len(total) - HOLD_LIMIT - len(stream.sink.queue) - unread_bytes(out_read)
    for fd in (tree_write, stream.sink.fd, out_read):
        os.close(fd)
    stream.close()


def _fill(fd):
    """What a non-blocking write end took until its pipe was full."""
    written = bytearray()
    try:
        while True:
            block = b"%09d\n" % len(written) * 100
            written += block[:os.write(fd, block)]
    except BlockingIOError:
        return written


@pytest.mark.parametrize("then", ["nothing", "SIGTERM"])
def test_a_reader_that_reads_nothing_at_exit_is_given_up_and_what_it_missed_counted(start_init, stalled_fifo, then):
    """The trainer is done, its stdout's reader reads nothing: sm-init gives it up after 10 s
    (READER_PATIENCE) and counts what it did not write; a SIGTERM meanwhile gives it the stop's
    budget instead (--stop-timeout 2), as Docker's SIGKILL then comes."""
    path, reader = stalled_fifo
    writer = os.open(path, os.O_WRONLY)
    size = 300000
    script = f"import sys; sys.stdout.write('x' * {size - 1} + '\\n')"
    init = start_init("--stop-timeout", "2", "--", sys.executable, "-c", script, stdout=writer)
    os.close(writer)
    init.log.expect(r"main child exited \(exit code 0\)")
    if then == "SIGTERM":
        sent = time.monotonic()
        init.signal(signal.SIGTERM)
    assert init.wait() == 0
    if then == "SIGTERM":
        assert init.ended - sent <= 2 + SLACK
    exit_line = init.log.seen[-1]
    assert exit_line.startswith("sm-init: exit: 0 ")
    dropped = re.search(r"(\d+) byte\(s\) of the tree's output to stdout dropped: not read in time", exit_line)
    assert dropped and int(dropped.group(1)) == size - unread_bytes(reader)


def test_a_terminal_sm_init_cannot_reopen_is_written_through_dev_tty_never_made_non_blocking(mode, tmp_path):
    """As nobody, on root's terminal (`docker run -it` with gosu): /proc/self/fd/N is refused, the
    controlling terminal's /dev/tty is a description of sm-init's own; the shared one, the trainer's
    too, stays blocking, and sm-init's lines reach the terminal."""
    if mode == "pid1":
        require_unshare()
    master, slave = os.openpty()
    trainer = ["sh", "-c", "trap 'exit 0' TERM; echo main ready; while :; do sleep 0.1; done"]  # (nobody's)
    init = Init(["--", *trainer], pid1=(mode == "pid1"), stdin=slave, stdout=slave,
                stderr=slave, session=True, sm_init=unprivileged_sm_init(tmp_path))
    os.close(slave)
    os.set_blocking(master, False)
    seen = bytearray()

    def read_until(pattern):
        def found():
            try:
                seen.extend(os.read(master, 65536))
            except OSError:   # EAGAIN: nothing yet; EIO: the terminal's last holder is gone
                pass
            return re.search(pattern, seen)
        return wait_until(found, f"{pattern!r} on the terminal", timeout=20)
    try:
        # The trainer's own line, whole: sm-init's start line quotes the command, "echo main ready"
        # in it, and may come first; a SIGTERM sent then finds sh before its trap (143, not 0).
        read_until(rb"(?m)^main ready\r?$")
        read_until(rb"sm-init: start: ")
        for fd in (1, 2):
            assert fd_flags(init.pid, fd) & os.O_NONBLOCK == 0
        fds = f"/proc/{init.pid}/fd"
        own = [int(fd) for fd in os.listdir(fds) if os.readlink(f"{fds}/{fd}") == "/dev/tty"]
        assert [fd for fd in own if fd_flags(init.pid, fd) & os.O_NONBLOCK], "no description of its own"
        init.signal(signal.SIGTERM)
        assert init.wait() == 0
        read_until(rb"sm-init: exit: 0 ")
    finally:
        init.cleanup()
        os.close(master)


def test_a_trainer_blocked_behind_a_reader_that_reads_nothing_is_stalled(start_init, stalled_fifo):
    """The choice where the issue left one: a trainer blocked on a full pipe writes nothing, and
    its output's reader reads nothing: the job can't advance, and --stall-timeout stops it (124),
    the bytes the reader never got counted in the exit line."""
    path, reader = stalled_fifo
    writer = os.open(path, os.O_WRONLY)
    script = "import sys; sys.stdout.write('x' * 4_000_000); sys.stdout.flush()"
    init = start_init("--stall-timeout", "1", "--stop-timeout", "2", "--", sys.executable, "-c", script,
                      stdout=writer)
    os.close(writer)
    assert init.wait() == 124
    init.log.expect(r"stop: no progress for 1s")
    assert re.search(r"\d+ byte\(s\) of the tree's output to stdout dropped", init.log.seen[-1]), init.log.seen[-1]
