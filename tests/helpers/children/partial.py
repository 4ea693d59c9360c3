"""Writes an unfinished line to stderr, says ``ready`` on stdout, and finishes the line only after
it got SIGUSR1 (which sm-init -v logs while the line is still open); then writes its last words
and exits 0 at once.

    partial.py
"""

import os
import signal

signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
os.write(2, b"partial-start")
os.write(1, b"ready\n")
signal.sigwait({signal.SIGUSR1})
os.write(2, b"-end\n")
os.write(1, b"last words\n")
