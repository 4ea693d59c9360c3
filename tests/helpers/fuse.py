"""A file system whose one file is never read: a process reading it waits in the kernel, where
even SIGKILL can't end it (children/stuck_fuse.py), until the test lets go (``abort``)."""

import ctypes
import os
import subprocess
import sys

from .commands import CHILDREN
from .procfs import TIMEOUT

STUCK_FUSE = os.path.join(CHILDREN, "stuck_fuse.py")
# A reader of the stuck file: it waits for FUSE's answer; once the server took the request
# (``read_taken``), a SIGKILL stays pending, the process alive (D), until the connection ends.
READS_STUCK = "import os, sys; os.read(os.open(sys.argv[1], os.O_RDONLY), 1)"


class StuckFuse:
    """stuck_fuse.py mounted at ``path``: a read of ``path / "stuck"`` waits until ``abort()``."""

    def __init__(self, path):
        self.path = path
        self.server = subprocess.Popen([sys.executable, STUCK_FUSE, str(path)], stdout=subprocess.PIPE)
        assert self.server.stdout.readline() == b"ready\n"

    def read_taken(self):
        """Until the server has taken a READ: until then a SIGKILL ends the read (the request is
        withdrawn); from then on the reader waits for the answer, SIGKILL or not."""
        assert self.server.stdout.readline() == b"read\n"

    def abort(self):
        """The server's end closes /dev/fuse: the waiting reads fail, their processes go on."""
        if self.server.poll() is None:
            self.server.kill()
            self.server.wait(TIMEOUT)
        ctypes.CDLL(None).umount2(str(self.path).encode(), 2)   # MNT_DETACH
