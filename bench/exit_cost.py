"""How long the kernel takes to finish a process after it calls _exit, by what it imported.

An init's "exit after the main child's exit" includes its own exit_group(): the
kernel frees every page the process touched before the parent (docker, or
the kernel's namespace teardown) sees it gone. Prints the median of 30
os._exit() -> pidfd-readable times for a few interpreter footprints.
Run with the interpreter sm-init uses: bench/out/sm-venv/bin/python bench/exit_cost.py
"""
import os
import select
import statistics
import subprocess
import sys
import time

TEMPLATE = ("import os, sys, time{imports}\n"
            "os.write(int(sys.argv[1]), str(time.monotonic_ns()).encode()); os._exit(0)")


def exit_time_ms(argv):
    r, w = os.pipe()
    proc = subprocess.Popen(argv + [str(w)], pass_fds=(w,))
    os.close(w)
    pidfd = os.pidfd_open(proc.pid)
    before_exit = int(os.read(r, 64))
    select.select([pidfd], [], [])
    seen = time.monotonic_ns()
    proc.wait()
    os.close(pidfd)
    os.close(r)
    return (seen - before_exit) / 1e6


def main():
    cases = [
        ("python -S -I, nothing imported", ["-S", "-I"], ""),
        ("python, nothing imported", [], ""),
        ("+ click", [], "; import click"),
        ("+ sm-init's start-up imports", [], "; import sm_init.cli, sm_init.run"),
        ("+ 50 MB touched", [], "; b = bytearray(50 << 20)"),
    ]
    for label, flags, imports in cases:
        argv = [sys.executable, *flags, "-c", TEMPLATE.format(imports=imports)]
        times = [exit_time_ms(argv) for _ in range(30)]
        print(f"{label:34s} _exit -> gone: p50 {statistics.median(times):.2f} ms")


if __name__ == "__main__":
    main()
