"""A pre-kill hook for the tests: reports what it saw, optionally copies, fails or hangs.

    hook.py [--name N] [--record FILE] [--look-for TOKEN] [--copy SRC DST] [--exit CODE]
            [--hang] [--hang-child]

Prints ``hook <name> ran`` first. ``--record`` writes (temp + rename) a JSON object: the hook's
name, its SM_INIT_* environment, its pid/pgid, the wall time, and with ``--look-for`` the pids of
processes whose command line contains TOKEN (to prove what was still alive when it ran).
``--copy`` copies SRC to DST (creating DST's folder). ``--hang`` never returns; ``--hang-child``
first starts a child in the hook's group that also hangs (to show the group is killed).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time


def alive_with(token):
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if token.encode() in cmdline and state != "Z":
            found.append(int(entry))
    return found


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", default="hook")
    parser.add_argument("--record")
    parser.add_argument("--look-for")
    parser.add_argument("--copy", nargs=2)
    parser.add_argument("--exit", type=int, default=0)
    parser.add_argument("--hang", action="store_true")
    parser.add_argument("--hang-child", action="store_true")
    args = parser.parse_args()
    os.write(1, f"hook {args.name} ran pid={os.getpid()} pgid={os.getpgid(0)}\n".encode())
    if args.copy:
        os.makedirs(os.path.dirname(args.copy[1]), exist_ok=True)
        shutil.copy(args.copy[0], args.copy[1])
    if args.record:
        record = {
            "name": args.name,
            "pid": os.getpid(),
            "pgid": os.getpgid(0),
            "time": time.time(),
            "env": {k: v for k, v in os.environ.items() if k.startswith("SM_INIT_")},
            "alive": alive_with(args.look_for) if args.look_for else None,
        }
        with open(args.record + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(args.record + ".tmp", args.record)
    if args.hang_child:
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)", "hook-child"])
    if args.hang or args.hang_child:
        os.write(1, f"hook {args.name} hanging\n".encode())
        while True:
            time.sleep(3600)
    return args.exit


if __name__ == "__main__":
    sys.exit(main())
