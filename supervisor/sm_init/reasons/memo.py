"""The state of one diagnose call, kept here and nowhere else: ``remembered`` (a function of a
list of lines worked out once per list, the recognisers asking about the same lines in turn) and
``_cleaned`` (each stream's cleaned lines, which tracebacks' logged-error rule reads back). Two
module-level dicts, filled while ``diagnose`` judges a tail and cleared in its ``finally``. They stay
module-level because a recogniser is a function of its lines alone (``Recogniser.find(lines)``, the
table's contract): state passed per call would change every recogniser's signature.

Imports nothing of the package.
"""


_remembered: dict = {}   # (function, id of its argument) -> (the argument, the answer)


def remembered(function):
    """``function(lines)`` worked out once per list of lines: every recogniser asks about the same
    lines (a stream's, a process's) in turn, and a tail must be judged in milliseconds. Keyed by
    the list's identity, the list kept with the answer; ``diagnose`` forgets it all when it is done."""
    def once(lines):
        key = (function, id(lines))
        entry = _remembered.get(key)
        if entry is None or entry[0] is not lines:
            entry = _remembered[key] = (lines, function(lines))
        return entry[1]
    def remember(lines, answer):
        """``answer`` as ``function(lines)``, known already where ``lines`` were made."""
        _remembered[function, id(lines)] = (lines, answer)
    once.__doc__ = function.__doc__
    once.remember = remember
    return once


_cleaned: dict = {}   # the stream's cleaned lines (clean_lines) while a tail is judged: {"stderr": [...]}
