"""The last resort's last (error_words.py): where no rule knows the output's form, the last line
that says in plain words that something went wrong; the lines that say no such thing."""

import sys

import pytest

from sm_init import reasons
from sm_init.reasons.error_words import LOOKED_AT

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from helpers.adversarial import ADVERSARIAL  # noqa: E402  (the tests' helpers)

SEMAPHORES = ("/usr/lib/python3.10/multiprocessing/resource_tracker.py:224: UserWarning: resource_tracker:"
              " There appear to be 1 leaked semaphore objects to clean up at shutdown\n")
RULE = "-" * 40 + "\n"


def find(text: str):
    return reasons.find_error(text)


@pytest.mark.parametrize("text, shown", [
    # A program's own report of how it ended, a warning printed at exit after it.
    ("step 10 loss 0.3\n❌ Training failed with exit code -9\n" + SEMAPHORES,
     "❌ Training failed with exit code -9"),
    # A line naming an exception class beats a later line with error words only.
    ("[worker 3] step 9: DataValidationError('shard 3 is corrupt')\nupload failed: retrying in 5 s\n",
     "[worker 3] step 9: DataValidationError('shard 3 is corrupt')"),
    # Of several, the last.
    ("fetch failed for shard 1\nfetch failed for shard 2\nepoch 3\n", "fetch failed for shard 2"),
    ("ok\nsaving the checkpoint failed: disk is read-only\nexiting\n", "saving the checkpoint failed: disk is read-only"),
    # A CI runner's step report.
    ("Run python train.py\nError: Process completed with exit code 2.\n", "Error: Process completed with exit code 2."),
    # Inside a box drawn with rules, the box's first line; a rule above only is no box.
    (RULE + "The job manager could not start the task.\nIt reported that the task image\nwas missing, and"
     " gave up: exit code 3\n" + RULE, "The job manager could not start the task."),
    ("epoch 3\n" + RULE + "summary\nthe upload could not finish\n", "the upload could not finish"),
    # A refusal in plain words, pasted without its exception's name (accelerate's check).
    ("Using RTX 4000 series doesn't support faster communication broadband via P2P or IB. Please set"
     " `NCCL_P2P_DISABLE=\"1\"`.\n", "Using RTX 4000 series doesn't support faster communication broadband via"
     " P2P or IB. Please set `NCCL_P2P_DISABLE=\"1\"`."),
])
def test_an_error_line_of_no_known_form(text, shown):
    finding = find(text)
    assert (finding.name, finding.error) == ("error-words", shown), finding


@pytest.mark.parametrize("text", [
    "step 3\nUserWarning: the fused kernel failed to load, using the slow one\n",   # a warning
    "WARNING: retry failed\n",
    "INFO: 3 uploads failed, retrying\n",                # a log line below error level
    "val error: 0.25\n",                                 # a metric
    "epoch 3: 0 errors\n",                               # a count
    "Process finished with exit code 0\n",               # a success
    "See the logs for detailed error information\n",     # a pointer elsewhere
    "    raise ValueError('failed')\n",                  # a traceback's code
    "step 1\n╭─ Error ─────╮\n",                         # rich's box-drawing
    "step 3 loss 0.25\nsaved checkpoint-3\n",            # no error's words at all
    "WARNING: this GPU does not support bf16, using fp16\n",   # a warning's
    # Open MPI's count of the help messages it aggregated, and how to see them all.
    "[node1] 3 more processes have sent help message help-errmgr-base.txt / no-path\n"
    '[node1] Set MCA parameter "orte_base_help_aggregate" to 0 to see all help / error messages\n',
])
def test_not_an_error_line(text):
    assert find(text) is None


def test_a_known_form_beats_it():
    # A traceback's exception, then a line with error words after it: the traceback says why.
    text = 'Traceback (most recent call last):\n  File "t.py", line 1, in <module>\nKeyError: 3\nupload failed\n'
    assert (find(text).name, find(text).error) == ("python-traceback", "KeyError: 3")


def test_the_lines_judged_are_bounded():
    # The last LOOKED_AT lines with error words are judged a tier, no more: an error line above a
    # flood of warnings that say "failed" is found within the bound, not past it.
    within = "x failed\n" + "WARNING: y failed\n" * (LOOKED_AT - 1)
    past = "x failed\n" + "WARNING: y failed\n" * LOOKED_AT
    assert find(within).error == "x failed"
    assert find(past) is None


@pytest.mark.parametrize("name, shown", [
    ("error words per line", "step failed"), ("warnings with error words", None),
    ("one line of error words", "failed " * 8), ("one line of dotted capitals", " A." * 8)])
def test_its_adversarial_inputs_reach_it(name, shown):
    # test_reasons_text.py holds every ADVERSARIAL input to linear growth, bench/reasons_speed.py to
    # the bound of 50 ms: these get that far, past every other rule.
    finding = reasons.find_error(ADVERSARIAL[name][-64 * 1024:])
    if shown is None:
        assert finding is None
    else:
        assert finding.name == "error-words" and shown.strip() in finding.error, finding
