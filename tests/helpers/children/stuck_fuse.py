"""A FUSE file system whose one file can be opened and mapped but never read: a read of it waits
for an answer that never comes, as on a network file system whose server went away.

``stuck_fuse.py MOUNTPOINT`` mounts it (root: mount(2) on /dev/fuse, no fusermount), prints
``ready`` (and ``read`` for each READ it takes and never answers) and serves until it is killed; its
end closes /dev/fuse, which aborts the connection: every read still waiting then fails (EIO) and the
processes behind it go on. The mount stays, answering ENOTCONN, until the caller detaches it
(``umount -l``).

The protocol is the kernel's (include/uapi/linux/fuse.h): a request is a 40-byte header and its
arguments, an answer a 16-byte header and its result. Only what an open, an mmap and a read ask
for is answered; READ never is.
"""

import ctypes
import os
import stat
import struct
import sys

IN_HEADER = struct.Struct("<IIQQIIIHH")   # len, opcode, unique, nodeid, uid, gid, pid, extlen, padding
OUT_HEADER = struct.Struct("<IiQ")        # len, error, unique
ATTR = struct.Struct("<QQQQQQIIIIIIIIII")  # ino, size, blocks, a/m/ctime, their nsec, mode, nlink, uid, gid, rdev, blksize, flags
LOOKUP, FORGET, GETATTR, OPEN, READ, RELEASE, FLUSH, INIT, INTERRUPT, BATCH_FORGET = 1, 2, 3, 14, 15, 18, 25, 26, 36, 42
NO_ANSWER = (FORGET, BATCH_FORGET, INTERRUPT)
ROOT, FILE = 1, 2
NAME = b"stuck"
SIZE = 1 << 20
ENOENT, ENOSYS = 2, 38


def attr(node):
    if node == ROOT:
        return ATTR.pack(ROOT, 0, 0, 0, 0, 0, 0, 0, 0, stat.S_IFDIR | 0o755, 2, 0, 0, 0, 4096, 0)
    return ATTR.pack(FILE, SIZE, SIZE // 512, 0, 0, 0, 0, 0, 0, stat.S_IFREG | 0o644, 1, 0, 0, 0, 4096, 0)


def answer(fd, unique, error=0, body=b""):
    os.write(fd, OUT_HEADER.pack(OUT_HEADER.size + len(body), -error, unique) + body)


def serve(fd):
    while True:
        request = os.read(fd, 1 << 21)
        _, opcode, unique, node, *_ = IN_HEADER.unpack_from(request)
        args = request[IN_HEADER.size:]
        if opcode == READ:
            print("read", flush=True)                  # taken: the reader now waits, SIGKILL or not
            continue                                   # READ: the point of it all
        if opcode in NO_ANSWER:
            continue
        if opcode == INIT:
            major, minor, readahead, _ = struct.unpack_from("<IIII", args)
            body = struct.pack("<IIIIHHIIHHII", 7, min(minor, 31), readahead, 0, 16, 12, 1 << 17, 1, 32, 0, 0, 0)
            answer(fd, unique, body=body.ljust(64, b"\0"))
        elif opcode == LOOKUP and node == ROOT and args.rstrip(b"\0") == NAME:
            answer(fd, unique, body=struct.pack("<QQQQII", FILE, 0, 3600, 3600, 0, 0) + attr(FILE))
        elif opcode == LOOKUP:
            answer(fd, unique, ENOENT)
        elif opcode == GETATTR:
            answer(fd, unique, body=struct.pack("<QII", 3600, 0, 0) + attr(node))
        elif opcode == OPEN:
            answer(fd, unique, body=struct.pack("<QII", 1, 0, 0))
        elif opcode in (RELEASE, FLUSH):
            answer(fd, unique)
        else:
            answer(fd, unique, ENOSYS)


def main():
    mountpoint = sys.argv[1]
    libc = ctypes.CDLL(None, use_errno=True)
    # Dies with the test that started it, however that one ends: the waiting reads then fail, and
    # no process of the machine (ps included) is left waiting on this mount.
    libc.prctl(1, 9, 0, 0, 0)   # PR_SET_PDEATHSIG, SIGKILL
    fd = os.open("/dev/fuse", os.O_RDWR)
    options = f"fd={fd},rootmode=40000,user_id=0,group_id=0".encode()
    if libc.mount(b"stuck_fuse", mountpoint.encode(), b"fuse", 2 | 4, options) != 0:   # MS_NOSUID | MS_NODEV
        sys.exit(f"mount: {os.strerror(ctypes.get_errno())}")
    print("ready", flush=True)
    serve(fd)


if __name__ == "__main__":
    main()
