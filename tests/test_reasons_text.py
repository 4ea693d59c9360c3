"""The failure text's shape: the 1024-byte limit, characters never split, the ending first, garbage in.

Also how lines are read (rank prefixes, carriage returns, colours) and how interleaved tracebacks
of several processes are told apart, on the lines of real tracebacks.
"""

import random
import re
import sys

import pytest
from hypothesis import given, settings, strategies as st

from helpers.tails import check_text, interleave, run_tails
from sm_init import reasons
from sm_init.reasons import lines as reasons_lines
from sm_init.reasons import matchers as reasons_matchers, memo as reasons_memo, text as reasons_text

ENDING = "Training command `python3 entraîner.py` exited with code 1."   # î: two bytes

# A Python traceback whose message and frames are full of multi-byte characters (2, 3, 4 bytes).
MULTIBYTE = ("".join(f"époque {i} étape {i * 7} perte 0.{i:04d} 損失 🚀\n" for i in range(60))
             + "Traceback (most recent call last):\n"
             + '  File "/opt/ml/code/entraîner.py", line 12, in <module>\n'
             + "    raise ValueError(msg)\n"
             + "ValueError: taux d'apprentissage négatif — 学习率为负 🚫" + "🔥" * 100 + "\n").encode()


def test_every_limit():
    size = len(ENDING.encode())
    error = "\nError: ValueError: taux d'apprentissage négatif — 学习率为负 🚫"
    for limit in range(0, 1100):
        text = check_text(reasons.failure_text(ENDING, b"", MULTIBYTE, limit=limit), limit)
        if limit >= size:
            assert text.startswith(ENDING)                   # whole, and first
        else:
            assert ENDING.startswith(text)                   # cut at a character, nothing else
        if limit >= size + len(error.encode()) + len("…".encode()):
            assert error in text
    text = reasons.failure_text(ENDING, b"", MULTIBYTE)
    assert text.endswith("🔥…")                              # the newest line, cut with a mark
    assert len(text.encode()) > 900                         # whole older lines fill the rest


def test_the_error_line_is_capped_and_marked():
    text = check_text(reasons.failure_text(ENDING, b"", MULTIBYTE))
    error = text.split("\n")[1]
    # Its end is a piece of one long word (a run of 🔥): cut there, marked, the start kept.
    assert error.startswith("Error: ValueError: taux") and error.endswith("🔥…")
    assert len(error.encode()) <= reasons.ERROR_MAX


def test_empty_tails_give_the_ending_alone():
    assert reasons.failure_text(ENDING, b"", b"") == ENDING
    assert reasons.failure_text(ENDING, b"\n\n  \r\n", b" \n\x1b[0m\n") == ENDING
    assert reasons.diagnose(b"", b"") is None


def test_a_long_error_keeps_its_start_and_its_end():
    # Its end says how it ended: its middle is left out, both cuts between words.
    words = " ".join(f"'--hyperparameter-{i}=value-{i}'," for i in range(40))
    error = f"subprocess.CalledProcessError: Command '['python3', {words}]' returned non-zero exit status 1."
    tail = f"Traceback (most recent call last):\n  File \"t.py\", line 1, in <module>\n{error}\n".encode()
    shown = check_text(reasons.failure_text(ENDING, b"", tail)).split("\n")[1]
    head, end = shown.split(" … ")
    assert len(shown.encode()) <= reasons.ERROR_MAX and len(head) > len(end)   # two thirds, one third
    assert ("Error: " + error).startswith(head) and error.endswith(end)
    assert head.endswith(",") and end.endswith("'--hyperparameter-39=value-39',]' returned non-zero exit status 1.")


XLA_ERROR = ("jaxlib.xla_extension.XlaRuntimeError: INTERNAL: Failed to execute XLA Runtime executable: run time"
             " error: custom call 'xla.gpu.custom_call' failed: jaxlib/gpu/prng_kernels.cc:33: operation"
             " gpuGetLastError() failed: no kernel image is available for execution on the device")


@pytest.mark.parametrize("error, shown", [
    # XLA's context after its error (AppendTracingScopeAndModuleAnnotations): where, not what.
    (XLA_ERROR + "; current tracing scope: custom-call.11; current profiling annotation: XlaModule:"
     "#hlo_module=jit__threefry_split_original,program_id=28#.", XLA_ERROR),
    # Ray's long IDs: their first 8 hexadecimal digits.
    ("RuntimeError: Memory on the node (IP: 10.0.0.2, ID: 708c7baf966d59aa3f08299830c349ca055293ebb1c33d8e72cd3336)"
     " where the task (actor ID: 0dab4ab45f6c947201afac6d01000000, name=Worker.__init__, pid=308) was running"
     " was 12.49GB / 13.15GB (0.950003), which exceeds the memory usage threshold of 0.95.",
     "RuntimeError: Memory on the node (IP: 10.0.0.2, ID: 708c7baf…) where the task (actor ID: 0dab4ab4…,"
     " name=Worker.__init__, pid=308) was running was 12.49GB / 13.15GB (0.950003), which exceeds the memory"
     " usage threshold of 0.95."),
    # Then a call's long argument list, in C's words (XLA quotes the NCCL call that failed): the
    # status after it says why.
    ("RuntimeError: Internal: external/org_tensorflow/tensorflow/compiler/xla/service/gpu/nccl_all_reduce_thunk.cc:162:"
     " NCCL operation ncclAllReduce(send_buffer, recv_buffer, buffer.element_count, datatype, reduce_op, comm,"
     " *cu_stream) failed: invalid usage: while running replica 0 and partition 0 of a replicated computation"
     " (other replicas may have failed as well).",
     "RuntimeError: Internal: external/org_tensorflow/tensorflow/compiler/xla/service/gpu/nccl_all_reduce_thunk.cc:162:"
     " NCCL operation ncclAllReduce(…) failed: invalid usage: while running replica 0 and partition 0 of a"
     " replicated computation (other replicas may have failed as well)."),
])
def test_a_long_error_loses_ids_and_context_before_its_middle(error, shown):
    tail = f"Traceback (most recent call last):\n  File \"t.py\", line 1, in <module>\n{error}\n".encode()
    assert len(("Error: " + error).encode()) > reasons.ERROR_MAX
    assert check_text(reasons.failure_text(ENDING, b"", tail)).split("\n")[1] == "Error: " + shown


@pytest.mark.parametrize("args", [
    "[{'expected': SplitInfo(name='test', num_bytes=49424491, num_examples=11490, dataset_name='cnn_dailymail')",  # a repr
    "dot(f32[216000,384]{1,0} %multiply.51, f32[216000,384]{1,0} %sine.3)",   # HLO operands
    "cuda(x, y)",                                                            # a short one
])
def test_what_is_no_calls_long_argument_list_is_kept_whole(args):
    assert reasons_text.CALL_ARGS.search(args) is None


@pytest.mark.parametrize("message, shown", [
    # TensorFlow 1's node tag below its message: a half-open interval closes the bracket it opened.
    ("InvalidArgumentError (see above for traceback): indices[56,57] = 66 is not in [0, 65)\n"
     "\t [[Node: smi_embedding/embedding_lookup = GatherV2[Taxis=DT_INT32](smi_word_embedding/read)]]\n",
     "InvalidArgumentError: indices[56,57] = 66 is not in [0, 65)"),
    # A bracket still open runs on to the next line, whatever intervals stand before it.
    ("ValueError: expected one of [0, 1,\n  2, 3]\n", "ValueError: expected one of [0, 1, 2, 3]"),
    ("ValueError: lr in (0, 1] but got [2,\n  3]\n", "ValueError: lr in (0, 1] but got [2, 3]"),
])
def test_a_half_open_interval_is_no_open_bracket(message, shown):
    assert reasons.find_error(message).error == shown


def test_an_error_that_fits_keeps_its_ids():
    error = "KeyError: 'actor 0dab4ab45f6c947201afac6d01000000'"
    tail = f"Traceback (most recent call last):\n  File \"t.py\", line 1, in <module>\n{error}\n".encode()
    assert check_text(reasons.failure_text(ENDING, b"", tail)).split("\n")[1] == "Error: " + error


def test_an_ending_over_the_limit_is_cut():
    ending = "Training command `" + "é" * 600 + "` exited with code 1."
    text = check_text(reasons.failure_text(ending, b"", MULTIBYTE))
    assert ending.startswith(text) and len(text.encode()) in (1023, 1024)


def test_an_ending_with_unwritable_characters():
    # A lone surrogate (an undecodable argv byte) or a control character can't go in the file.
    text = check_text(reasons.failure_text("Training command `x\udcff\x1b` exited.", b"", b""))
    assert text == "Training command `x?` exited."


def test_binary_garbage():
    garbage = random.Random(13).randbytes(64 * 1024)
    text = check_text(reasons.failure_text(ENDING, garbage, garbage))
    assert text.startswith(ENDING + "\nLast lines of stderr:\n")
    assert "\ufffd\ufffd" not in text                         # a run of bad bytes is one mark


@settings(max_examples=300, deadline=None)
@given(ending=st.text(st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs"))),
       stdout=st.binary(max_size=3000), stderr=st.binary(max_size=3000),
       limit=st.integers(0, 1500))
def test_any_input(ending, stdout, stderr, limit):
    text = check_text(reasons.failure_text(ending, stdout, stderr, limit=limit), limit)
    if len(ending.strip().encode()) <= limit:
        assert text.startswith(ending.strip())


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(st.sampled_from([
    "Traceback (most recent call last):", '  File "x.py", line 3, in f', "    f()",
    "ValueError: x", "KeyError: 'é'", "", "During handling of the above exception, another"
    " exception occurred:", "[rank1]: Traceback (most recent call last):", "[rank1]: ValueError: y",
    "Killed", "Segmentation fault", "Root Cause (first observed failure):", "  rank      : 1",
    "  traceback : Traceback (most recent call last):", "=" * 40, "\x1b[31mERROR\x1b[0m", "a\rb\r",
    "what():  boom", "terminate called after throwing an instance of 'c10::Error'",
    "Exception ignored in: <x>", "SyntaxError: invalid syntax", "  | ExceptionGroup: g"]),
    max_size=40))
def test_any_arrangement_of_familiar_lines(lines):
    data = "\n".join(lines).encode()
    check_text(reasons.failure_text(ENDING, data, data))


@pytest.mark.parametrize("raw, text, rank, local", [
    ("[rank1]: ValueError: x", "ValueError: x", "1", None),
    ("[rank12]:[E1206 18:44:12.715 ProcessGroupNCCL.cpp:607] boom",
     "[E1206 18:44:12.715 ProcessGroupNCCL.cpp:607] boom", "12", None),
    ("[default3]:[rank11]:   File \"t.py\", line 1", "  File \"t.py\", line 1", "11", "3"),
    ("[default0]:step 5", "step 5", None, "0"),
    ("[1,2]<stderr>:Traceback (most recent call last):", "Traceback (most recent call last):", "2",
     None),
    # horovodrun's and horovod.spark's, with its timestamp (time.asctime()) glued before the rank.
    ("Mon Jun  7 11:51:57 2021[1]<stderr>:  what():  HTTP request failed.", "  what():  HTTP request failed.", "1",
     None),
    ("Tue Jun 15 12:25:59 2021[0]<stdout>:", "", "0", None),
    ("Mon Jun  7 11:51:57 2021 [1]<stderr>:x", "Mon Jun  7 11:51:57 2021 [1]<stderr>:x", None, None),
    ("[INFO] rank 1 ready", "[INFO] rank 1 ready", None, None),
])
def test_rank_prefixes(raw, text, rank, local):
    assert reasons.split_prefixes(raw) == (text, rank, local, None)


# Lines that carry a prefix, that start as one would and are none (too short, or no match), and others.
STARTS = ["[", "[ab]", "[0]:x", "[rank1]: x", "[rank: 2] x", " 1", " 12", " 1: x", "     1: x", "123", "1: x", "(",
          "(pid=1", "(pid=1) x", "D", "Dec  5 19:26:34 x", "Mon Jun  7 11:51:57 2021[1]<stderr>:x", "Mon Jun", "2023-01-01 00:00:00 x", "ERROR 01-29 07:44:33 w.py:1] x",
          "x", "", "\tx", "  x", "1%|x", " \u0661: x", "\u0661"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(STARTS), st.integers(1, 40)), max_size=12))
def test_lines_of_looks_ahead_as_it_reads_line_by_line(runs):
    # Runs of lines that hold no prefix are made at once (PEELED's search): the same lines as read one by one.
    cleaned = [line for line, times in runs for _ in range(times)]
    ahead = reasons_lines.lines_of("stderr", cleaned)
    plain, reasons_lines.PLAIN = reasons_lines.PLAIN, len(cleaned) + 1   # no look ahead
    try:
        assert ahead == reasons_lines.lines_of("stderr", cleaned)
    finally:
        reasons_lines.PLAIN = plain


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 3), st.lists(st.tuples(st.sampled_from(STARTS), st.integers(1, 40)), max_size=12))
def test_stream_lines_remember_what_joined_makes(blank, runs):
    # A flood's text is _Ahead's join (blank lines at the start cut off it): the same as joined makes.
    cleaned = [""] * blank + [line for line, times in runs for _ in range(times)]
    try:
        lines = reasons_lines.stream_lines("stderr", cleaned)
        remembered = reasons_lines.joined(lines)
        reasons_memo._remembered.clear()
        assert lines == reasons_lines.lines_of("stderr", cleaned)
        assert remembered == reasons_lines.joined(lines)
    finally:
        reasons_memo._remembered.clear()


def test_a_flood_has_its_text_from_the_look_ahead():
    assert reasons_lines._lines_of("stderr", ["", "", *["x"] * 40])[1] == ("\n".join(["x"] * 40), ["x"] * 40)
    assert reasons_lines._lines_of("stderr", ["", "x", "", *["x"] * 40])[1] is None   # a blank line among them
    assert reasons_lines._lines_of("stderr", ["[rank0]: x", *["x"] * 40])[1] is None   # a line peeled


ANCHORED = [r"^x", r"^\s*x", r"^x$", r"^(?:x|\(y)\b", r"^\s*(?=[x(])(?:x|\(y)\s*\(", r"^(?<=\n)x", r"^\s+$",
            r"^[^\n]*y$", r"^(x)\1", r"^x|y", r"^x\n?", r"^(?i:X)"]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(ANCHORED), st.lists(st.sampled_from(["x", " x", "xx", "(y", "y", "x (", " ", "\ty", "x\n"]),
                                           max_size=30), st.integers(0, 5))
def test_an_anchored_search_from_newline_to_newline_finds_what_re_finds(pattern, texts, start):
    # matching searches a pattern that starts with "^" as "\n" and its rest: the same lines as re's own search.
    regex = re.compile(pattern)
    lines = [reasons_lines.Line("stderr", index, text, None, None) for index, text in enumerate(texts)]
    try:
        found = list(reasons_matchers.matching(lines, regex, start))
        reasons_memo._remembered.clear()
        reasons_matchers._after_newlines[regex] = None   # re's own search
        assert found == list(reasons_matchers.matching(lines, regex, start))
    finally:
        reasons_memo._remembered.clear()
        reasons_matchers._after_newlines.pop(regex, None)


def test_a_prefix_seen_alone_as_among_lines():
    # PEELED holds a prefix's own pattern only where it matches a line among others as it does alone.
    parse = reasons_lines._regex_parser.parse
    assert all(reasons_lines._as_among(parse(pattern.pattern)) for pattern, _f, _c in reasons_lines.PREFIXES)
    for pattern in (r"x(?!y)", r"x\Z", r"\Ax", r"(a)?(?(1)b|c)", r"(?:x|(?!y)z)"):
        assert not reasons_lines._as_among(parse(pattern))


@pytest.mark.parametrize("raw, shown", [
    (b"\r 10%|#         | 1/10\r 50%|#####     | 5/10\r100%|##########| 10/10\r\n", "100%|##########| 10/10"),
    (b"\x1b[1;31mERROR\x1b[0m disk\r\n", "ERROR disk"),
    (b"\x1b]0;title\x07done\n", "done"),
    (b"ok\x00\x08\x85\xe2\x80\x8b!\n", "ok\ufffd!"),   # C0, an undecodable byte, a zero-width space
    (b"loss \xff\xfe\xfd 0.5\n", "loss \ufffd 0.5"),
])
def test_cleaning(raw, shown):
    assert reasons.clean_lines(raw) == [shown]


# Interleaved tracebacks of several processes -------------------------------------------------

def traceback_lines(code):
    run = run_tails([sys.executable, "-c", code])
    assert run.returncode == 1
    return run.stderr.decode().splitlines()


@pytest.fixture(scope="module")
def two_tracebacks():
    """Two real tracebacks: a short one (1 frame) and a longer one (3 frames; -c shows no source)."""
    short = traceback_lines("raise ValueError('bad lr on rank 1')")
    long = traceback_lines("def load():\n    open('/nonexistent/shard-0')\n"
                           "def main():\n    load()\nmain()")
    assert short[-1] == "ValueError: bad lr on rank 1"
    assert long[-1].startswith("FileNotFoundError: [Errno 2]")
    return short, long


@pytest.mark.parametrize("winner", ["short", "long"])
def test_unprefixed_interleaved_tracebacks_first_to_complete_wins(two_tracebacks, winner):
    short, long = two_tracebacks
    first, second = (short, long) if winner == "short" else (long, short)
    merged = interleave(first, second)
    headers = [i for i, line in enumerate(merged) if line == "Traceback (most recent call last):"]
    ends = [merged.index(first[-1]), merged.index(second[-1])]
    assert len(headers) == 2 and max(headers) < min(ends) and ends[0] < ends[1]
    finding = reasons.find_error("\n".join(merged) + "\n")
    assert (finding.name, finding.error) == ("python-traceback", first[-1])


def test_sequential_tracebacks_of_one_process_the_last_wins(two_tracebacks):
    short, long = two_tracebacks
    # One process: a traceback logged (it went on), then the fatal one.
    finding = reasons.find_error("\n".join(short + ["step 2 ok"] + long) + "\n")
    assert finding.error == long[-1]


@pytest.fixture(scope="module")
def file_traceback(tmp_path_factory):
    """A real traceback of a script file: frames with their source lines and carets."""
    script = tmp_path_factory.mktemp("tb") / "train.py"
    script.write_text("import json\n\ndef load(path):\n    return json.loads(open(path).read())['lr']\n\n"
                      "def main():\n    config = load('/nonexistent/config.json')\n\nmain()\n")
    run = run_tails([sys.executable, str(script)])
    lines = run.stderr.decode().splitlines()
    assert lines[-1].startswith("FileNotFoundError: [Errno 2]") and any("^^^" in line for line in lines)
    return lines


def test_a_tail_cut_inside_a_traceback(file_traceback):
    # The header and some frames cut off (64 KiB kept of a long log, a paste of the end): the
    # exception line after the last frame's code still ends a traceback.
    for cut in range(1, len(file_traceback) - 1):
        finding = reasons.find_error("\n".join(["step 9 ok"] + file_traceback[cut:]) + "\n")
        assert (finding.name, finding.error) == ("python-traceback", file_traceback[-1]), cut


@pytest.mark.parametrize("after", [
    "wandb: Waiting for W&B process to finish... (failed 1).",   # a logger's line at exit
    "exiting: saving nothing",                                     # a short error is whole
    "CUDA kernel errors might be asynchronously reported at some other API call",
])
def test_what_follows_the_exception_is_not_its_message(file_traceback, after):
    finding = reasons.find_error("\n".join(file_traceback + [after]) + "\n")
    assert finding.error == file_traceback[-1]


RICH = """\
╭───────────────────── Traceback (most recent call last) ──────────────────────╮
│ /opt/ml/code/train.py:41 in main                                             │
│                                                                              │
│   40 │   # retried: No space left on device on the last run                  │
│ ❱ 41 │   raise ValueError(f"bad shard index {shard}: expected one of {ids}") │
╰──────────────────────────────────────────────────────────────────────────────╯
ValueError: bad shard index 7: expected one of [0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11,
12, 13]
"""


def test_riches_boxed_traceback():
    # As rich prints one (accelerate installs it: huggingface/accelerate#613; boxes pasted in
    # bitsandbytes-foundation/bitsandbytes#758): the box is the traceback's code, its source line's
    # comment names a known cause that is not the job's, and the message wraps below the box.
    finding = reasons.find_error(RICH)
    assert (finding.name, finding.error) == (
        "python-traceback", "ValueError: bad shard index 7: expected one of [0, 1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13]")


def test_a_log_line_inside_a_traceback_is_not_its_exception(file_traceback):
    # Another thread's unindented log line printed into a traceback, anywhere in it (seen in 2
    # runs of 12 with a logging thread): never taken for the exception.
    long = file_traceback
    for at in range(1, len(long)):
        for log in ("INFO: step 298 loss=0.1", "loss: 0.25", "WARNING:root:slow step"):
            lines = long[:at] + [log] + long[at:]
            finding = reasons.find_error("\n".join(lines) + "\n")
            assert finding.error == long[-1], (at, log, finding)


def test_known_cause_beats_a_traceback(two_tracebacks):
    short, _ = two_tracebacks
    lines = ["RuntimeError: CUDA error: out of memory (caught, retrying with batch 8)"] + short
    finding = reasons.find_error("\n".join(lines) + "\n")
    assert finding.name == "cuda-oom" and finding.hint == reasons.HINT_CUDA_OOM


def test_stderr_before_stdout(two_tracebacks):
    short, long = two_tracebacks
    out, err = ("\n".join(long) + "\n").encode(), ("\n".join(short) + "\n").encode()
    assert reasons.diagnose(out, err).error == short[-1]
    assert reasons.diagnose(out, b"").source == "stdout"
    text = reasons.failure_text(ENDING, out, err)
    assert "\nLast lines of stderr:\n" in text and long[-1] not in text


@pytest.mark.parametrize("line", [
    # One 64 KiB line after a known error's start: every E/W/I/F could start a log header; a
    # pattern that backtracked over the whole line at each would take seconds here.
    b"CUDA out of memory " + b"E" * 65000,
    b"CUDA out of memory " + b"[E1234 1:1 " * 6000,
    b"ncclA" * 13000 + b"Error",
    b'  File "' + b"a" * 65000,
    b"terminate called after throwing an instance of '" + b"x" * 65000,
])
def test_a_huge_line(line):
    text = check_text(reasons.failure_text(ENDING, b"", line + b"\n"))
    assert text.startswith(ENDING + "\n")


# Speed. The bound (any 64 KiB tails judged in under 50 ms) is a figure for the bench:
# bench/reasons_speed.py measures these inputs against it. What a test can hold on a loaded machine
# is the shape: the work grows linearly with the tail, so no input hides a quadratic step.

from helpers.adversarial import ADVERSARIAL, grows_linearly  # noqa: E402  (shared with bench/reasons_speed.py)


@pytest.mark.parametrize("name", ADVERSARIAL)
def test_the_work_grows_linearly_with_the_tail(name):
    # Load slows both sizes alike: a quadratic step would make 64 KiB take 16 times 16 KiB's time.
    linear, small, large = grows_linearly(ADVERSARIAL[name] * 2)
    assert linear, f"{name}: 16 KiB {small * 1000:.1f} ms, 64 KiB {large * 1000:.1f} ms"


FAMILIAR = [line.encode() for line in [
    "Traceback (most recent call last):", '  File "x.py", line 3, in f', "    f()", "    ^^^",
    "ValueError: x", "KeyError: 'é'", "", "During handling of the above exception, another"
    " exception occurred:", "Killed", "Segmentation fault", "Root Cause (first observed failure):",
    "  rank      : 1 (local_rank: 1)", "  exitcode  : -9 (pid: 3)", "=" * 40, "x FAILED",
    "\x1b[31mERROR\x1b[0m", " 20%|####| 216/1063 [00:27<02:17,  6.17it/s]", "what():  boom",
    "terminate called after throwing an instance of 'c10::Error'", "Exception ignored in: <x>",
    "RuntimeError: CUDA error: an illegal memory access was encountered", "NCCL error in: x",
    "mpirun noticed that process rank 0 with PID 1 on node h exited on", "signal 9 (Killed).",
    "│ x │", "╰────╯", "CalledProcessError: Command '['a',", "'b']' returned non-zero", "exit status 1.",
    "Fatal Python error: Segmentation fault", "Current thread 0x1 (most recent call first):"]]
PREFIX = [b"", b"[rank0]: ", b"[rank1]: ", b"[default1]:", b"(Actor pid=7) ", b"[1,3]<stderr>:"]


@settings(max_examples=25, deadline=None)
@given(lines=st.lists(st.tuples(st.sampled_from(PREFIX), st.sampled_from(FAMILIAR)), min_size=1, max_size=60))
def test_any_familiar_lines_are_judged_in_linear_time(lines):
    arrangement = b"".join(prefix + line + b"\n" for prefix, line in lines)
    tail = arrangement * (64 * 1024 // len(arrangement) + 1)
    linear, small, large = grows_linearly(tail)
    assert linear, f"16 KiB {small * 1000:.1f} ms, 64 KiB {large * 1000:.1f} ms of {lines!r}"



def test_the_childs_exception_alone_beats_its_launchers_report():
    # A paste of the child's last line and torchrun's report of it (OFA-Sys/Chinese-CLIP#279).
    finding = reasons.find_error("EOFError: Ran out of input\nERROR:torch.distributed.elastic.multiprocessing"
                                 ".api:failed (exitcode: 1) local_rank: 0 (pid: 27316) of binary: python\n")
    assert (finding.name, finding.error) == ("exception-line", "EOFError: Ran out of input")
