"""The figures tests record for tests/RELIABILITY.md (rendered by tests/reliability.py).

A test records through the ``figures`` fixture (conftest.py), or ``record(name, mode, **values)``:
one JSON line appended to the file named by ``$SM_INIT_FIGURES``, nothing at all when that is
unset (a plain pytest run writes nothing).
"""

import json
import os

FIGURES_ENV = "SM_INIT_FIGURES"


def record(name, mode=None, **values):
    """One figure set from one test (``mode``: pid1 / subreaper / None)."""
    path = os.environ.get(FIGURES_ENV)
    if not path:
        return
    entry = {"name": name, "mode": mode, **values}
    with open(path, "a") as f:
        f.write(json.dumps(entry, sort_keys=True) + "\n")


def load(path):
    """Every figure set recorded in ``path`` (none when it does not exist)."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]
