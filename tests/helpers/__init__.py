"""What the tests share; each module holds one idea and is imported by name.

    realinit    running the real sm-init (Init, TtyInit) as PID 1 of a fresh PID namespace or as
                subreaper; its output read as lines; finding and counting a run's processes
    children/   the programs the tests run under sm-init (probe.py first): scripts, not modules
    commands    their command lines (probe, child, hook, cmd) and what they print (signal names, reports)
    procfs      /proc readers (status, signal masks, fd flags, wchan, zombies, children) and wait_until
    fifos       a FIFO nobody reads: filling it, what waits in it
    readers     log readers slower than sm-init: SLOW (64 KiB every 0.1 s), a given rate, a pause
    deadline    stopping sm-init as Docker does, and holding it to its stop timeout
    figures     recording what a test measured, for tests/RELIABILITY.md
    tails       failure texts: failing programs' tails, failure files, the rules every text keeps
    wild        the corpus of real failure logs: its cases, their Error lines, whether each is right
    world       a model of the world for the real Supervisor loop, on a fake clock
    net         a free port
    load        a steady HTTP load that stops a server partway (tests/serving, tests/docker)
    docker_harness  a Docker engine, the offline base image and the example image (tests/docker)
    doclinks    the links between the repository's markdown pages, and GitHub's anchors (test_docs.py)

The fixtures (``mode``, ``start_init``, ``hooks_dir``, ``ml``, ``figures``) are in tests/conftest.py.
"""
