"""A trainer whose output directory turns read-only under it (a read-only bind mount), then fails.

    readonly_output.py DIR CODE

Bind-mounts DIR read-only over itself, prints ``trainer readonly DIR``, exits CODE. Needs root.
"""

import os
import subprocess
import sys


def main():
    path, code = sys.argv[1], int(sys.argv[2])
    subprocess.run(["mount", "--bind", path, path], check=True)
    subprocess.run(["mount", "-o", "remount,bind,ro", path], check=True)
    try:
        open(os.path.join(path, "probe"), "w").close()
    except OSError as exc:
        os.write(1, f"trainer readonly {path} ({exc.strerror})\n".encode())
    else:
        os.write(1, f"trainer still writable {path}\n".encode())
    sys.exit(code)


if __name__ == "__main__":
    main()
