"""Reports what it was started with, as JSON on one line, then exits 0.

    report.py [ARGS...]

``report {"argv": [...], "cwd": ..., "env": {...}, "stdin": ...}``: argv without the script
itself; env only the variables named in REPORT_ENV (comma-separated); stdin read to EOF when
REPORT_STDIN is set. It also writes ``report on stderr`` to stderr.
"""

import json
import os
import sys


def main():
    names = [name for name in os.environ.get("REPORT_ENV", "").split(",") if name]
    report = {
        "argv0": sys.argv[0],
        "argv": sys.argv[1:],
        "cwd": os.getcwd(),
        "env": {name: os.environ.get(name) for name in names},
        "stdin": sys.stdin.read() if os.environ.get("REPORT_STDIN") else None,
    }
    sys.stdout.write("report " + json.dumps(report) + "\n")
    sys.stdout.flush()
    sys.stderr.write("report on stderr\n")
    sys.stderr.flush()


if __name__ == "__main__":
    main()
