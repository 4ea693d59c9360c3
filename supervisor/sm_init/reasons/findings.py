"""What the recognisers are and return: ``Recogniser`` (a name, a matcher, a hint), ``Hit`` (the
line and the error text), and ``Finding``, what ``diagnose`` answers.

Imports lines only.
"""

from typing import Callable, NamedTuple, Optional, Sequence

from .lines import Line


class Finding(NamedTuple):
    error: str               # one line, for a person: what went wrong
    hint: Optional[str]      # what to do about it, when the cause is known
    source: str              # where it was found: "stderr", "stderr [rank 1]", "stderr (torchrun summary)"
    name: str                # the recogniser that found it (a TABLE entry's name)


class Hit(NamedTuple):
    """What a recogniser found: the line it is on and the error text to show."""
    line: Line
    error: str
    hint: Optional[str] = None   # overrides the recogniser's hint (torchrun: the signal's)


class Recogniser(NamedTuple):
    name: str
    find: Callable[[Sequence[Line]], Optional[Hit]]   # over one stream's lines, oldest first
    hint: Optional[str] = None
