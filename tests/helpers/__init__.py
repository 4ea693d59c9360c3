"""What the tests share; each module holds one idea and is imported by name.

    realinit    running the real sm-init (Init, TtyInit, run_on_a_terminal) as PID 1 of a fresh PID
                namespace or as subreaper; its output read as lines; finding and counting a run's
                processes; what a failed test shows of each run (failure_report)
    children/   the programs the tests run under sm-init (probe.py first): scripts, not modules
    commands    their command lines (probe, child, hook, cmd) and what they print (signal names, reports);
                default_signals, the signal state for a program a test starts itself
    procfs      /proc readers (status, signal masks, fd flags, wchan, zombies, children) and wait_until
    fifos       a FIFO nobody reads: filling it, what waits in it
    fuse        a file system that never answers a read: a process stuck in the kernel, SIGKILL or not
    readers     log readers slower than sm-init: SLOW (64 KiB every 0.1 s), a given rate, a pause
    deadline    stopping sm-init as Docker does, and holding it to its stop timeout
    figures     recording what a test measured, for tests/RELIABILITY.md
    tails       failure texts: failing programs' tails, failure files, the rules every text keeps
    launchers   real training launchers (torchrun, accelerate, DeepSpeed): command lines, what
                each rank heard and saved
    wild        the corpus of real failure logs: its cases, their Error lines, whether each is right
    adversarial failure tails built to be slow to judge (test_reasons_text.py, bench/reasons_speed.py)
    world       a model of the world for the real Supervisor loop, on a fake clock
    net         a free port
    hosts       a multi-host job on one machine: N real sm-inits over loopback, trainers told on stdin
    load        a steady HTTP load that stops a server partway (tests/serving, tests/docker)
    docker_harness  a Docker engine, the offline base image, the example image and the multi-host
                image (the example image over a base with torch) (tests/docker)
    cluster     one job on N containers of a docker network, algo-1..algo-N, torchrun across them
                (tests/docker/test_docker_multihost.py; its trainer is children/peer_trainer.py)
    peersim     N hosts of one job on loopback, a real sm-init each, in namespaces of their own:
                the scale of the peers feature (test_peers_scale.py, bench/multihost.py)
    doclinks    the links between the repository's markdown pages, and GitHub's anchors (test_docs.py)

The fixtures (``mode``, ``start_init``, ``hooks_dir``, ``ml``, ``figures``, ``stuck_fuse``) are in
tests/conftest.py.
"""
