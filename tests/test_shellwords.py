"""sm-init splits and quotes commands without shlex (whose ``re`` import costs start-up); these
properties hold it to shlex's own results, for any text."""

import shlex

from hypothesis import given, settings, strategies as st

from sm_init import shellwords

TEXT = st.text(alphabet=st.sampled_from(list("ab \t\n\\'\"$#*-=é")) | st.characters(), max_size=40)


def outcome(function, text):
    try:
        return ("ok", function(text))
    except ValueError as exc:
        return ("error", str(exc))


@settings(max_examples=3000, deadline=None)
@given(text=TEXT)
def test_split_is_shlex_split(text):
    assert outcome(shellwords.split, text) == outcome(shlex.split, text)


@settings(max_examples=2000, deadline=None)
@given(word=TEXT)
def test_quote_is_shlex_quote_and_splits_back(word):
    assert shellwords.quote(word) == shlex.quote(word)
    assert shellwords.split(shellwords.quote(word)) == [word]


def test_the_cases_that_matter():
    for text in ['python3 /opt/program/train.py --lr 0.1', "sh -c 'exit 3'", 'a\\ b "c d" e"f"g', "''", "a\\"]:
        assert outcome(shellwords.split, text) == outcome(shlex.split, text)
