"""A shell's word rules, as ``shlex.split`` and ``shlex.quote`` apply them, without ``re``.

shlex imports re, whose import alone costs about 4 ms of sm-init's start-up on every container
start (bench/FINDINGS.md); SageMaker's path always splits SM_INIT_TRAIN and quotes it in the
start line. The rules here are shlex's POSIX mode with whitespace splitting and no comments, and a
hypothesis test (tests/test_shellwords.py) holds them to shlex's own results.
"""

from __future__ import annotations

WHITESPACE = " \t\r\n"
SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-")


def split(text: str) -> list[str]:
    """Words as ``shlex.split(text)`` finds them; ValueError with shlex's message when unbalanced."""
    words: list[str] = []
    word: list[str] = []
    in_word = False   # a word has begun (quotes alone make an empty one)
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in WHITESPACE:
            if in_word:
                words.append("".join(word))
                word, in_word = [], False
        elif c == "\\":
            if i + 1 == n:
                raise ValueError("No escaped character")
            i += 1
            word.append(text[i])
            in_word = True
        elif c == "'":
            end = text.find("'", i + 1)
            if end < 0:
                raise ValueError("No closing quotation")
            word.append(text[i + 1:end])
            i, in_word = end, True
        elif c == '"':
            i += 1
            while True:
                if i == n:
                    raise ValueError("No closing quotation")
                c = text[i]
                if c == '"':
                    break
                if c == "\\":
                    if i + 1 == n:
                        raise ValueError("No escaped character")
                    # Inside double quotes only the quote and the backslash itself are escaped.
                    i += 1
                    word.append(text[i] if text[i] in '"\\' else "\\" + text[i])
                else:
                    word.append(c)
                i += 1
            in_word = True
        else:
            word.append(c)
            in_word = True
        i += 1
    if in_word:
        words.append("".join(word))
    return words


def quote(word: str) -> str:
    """``shlex.quote``: the word as is when it needs no quoting, else in single quotes."""
    if not word:
        return "''"
    if all(c in SAFE for c in word):
        return word
    return "'" + word.replace("'", "'\"'\"'") + "'"
