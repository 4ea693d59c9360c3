"""A session leader with a terminal that starts sm-init as a background job, as `sm-init ... &`
in an interactive shell does, and then checks it still owns the terminal's foreground.

    setsid --ctty background_job.py SM_INIT ARGS...      (stdin: the terminal)

Prints ``leader foreground kept=True|False`` once sm-init's child said it is ready (a line on
stdout matching `ready`), then ends sm-init with SIGTERM and exits with its code. Under
``unshare --fork`` the SIGTERM goes to unshare's child, sm-init.
"""

import os
import signal
import subprocess
import sys


def main():
    signal.signal(signal.SIGTTOU, signal.SIG_IGN)  # as an interactive shell does
    init = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, preexec_fn=os.setpgrp)  # a background job
    for line in init.stdout:
        os.write(1, line)
        if b"ready" in line:
            break
    kept = os.tcgetpgrp(0) == os.getpgrp()
    os.write(1, f"leader foreground kept={kept}\n".encode())
    target = init.pid
    if os.path.basename(sys.argv[1]) == "unshare":
        with open(f"/proc/{init.pid}/task/{init.pid}/children") as f:
            target = int(f.read().split()[0])
    os.kill(target, signal.SIGTERM)
    for line in init.stdout:
        os.write(1, line)
    sys.exit(init.wait())


if __name__ == "__main__":
    main()
