"""Network odds and ends for tests that start servers or torch.distributed rendezvous."""

import socket


def free_port():
    """A TCP port of 127.0.0.1 that nothing listens on right now (the kernel's pick)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
