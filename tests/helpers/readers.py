"""Log readers slower than sm-init: the issue's SLOW (64 KiB every 0.1 s, a log driver behind a
throttled service), one at a given rate, and one that pauses until told to read.

Each reads a pipe on a thread into ``got`` until EOF; a test waits for it with ``join``.
"""

import os
import threading


class SlowReader:
    """Reads ``chunk`` bytes, then waits ``every`` seconds, until EOF; paused until ``resume`` when
    started with ``paused=True``."""

    def __init__(self, fd, chunk=65536, every=0.1, paused=False):
        self.fd, self.chunk, self.every = fd, chunk, every
        self.got = bytearray()
        self._go = threading.Event()
        self._done = threading.Event()
        if not paused:
            self._go.set()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        self._go.wait()
        try:
            while data := os.read(self.fd, self.chunk):
                self.got.extend(data)
                self._done.wait(self.every)   # a pause, cut short only when the test gives up
        finally:
            os.close(self.fd)

    def resume(self):
        self._go.set()

    def join(self, timeout):
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._done.set()
            self._go.set()
            raise AssertionError(f"the reader did not reach EOF within {timeout}s ({len(self.got)} bytes read)")


def slow(fd):
    """The issue's SLOW: 64 KiB every 0.1 s (about 640 KB/s)."""
    return SlowReader(fd)


def at_rate(fd, bytes_per_second, chunk=65536):
    return SlowReader(fd, chunk, chunk / bytes_per_second)
