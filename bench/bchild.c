/*
 * bchild: the measured-against process for bench.py. It is never what is
 * measured: it only timestamps (CLOCK_MONOTONIC, the clock Python's
 * time.monotonic_ns reads) and reports fixed-size records to a FIFO, so the
 * harness can time the init that sits between it and the signal sender.
 *
 * Every record is 16 bytes (below PIPE_BUF, so writes from many processes
 * sharing one FIFO never interleave): int32 kind, int32 pid, int64 value.
 *
 * Modes (argv[1]):
 *   stamp CMD...                      put now in BENCH_T0 and exec CMD (the init)
 *   wait FIFO GOFIFO                  READY, wait for a byte on GOFIFO, EXIT, _exit
 *   serve FIFO                        READY, then stamp every SIGUSR1; exit on SIGTERM
 *   tree FIFO TAG WORKERS LOADERS SETSID_EVERY IGNORE
 *                                     a process tree; every member says READY and
 *                                     on SIGTERM says TERM and exits (IGNORE=1:
 *                                     the main process ignores SIGTERM instead;
 *                                     IGNORE=2: it dies of it, saying nothing)
 *   reap FIFO ORPHANS WAVE TIMEOUT_MS  make ORPHANS orphans in waves, then watch
 *                                     the reaper's children list drain
 *   burst FIFO ORPHANS TIMEOUT_MS     hand ORPHANS live orphans to the reaper, then
 *                                     SIGKILL them all at once and watch them drain
 *
 * The output relay (the child writes, a consumer reads what the init passes on):
 *   serve FIFO LINES_PER_S            as serve, and writes LINES_PER_S lines a second to
 *                                     stdout meanwhile (0: none)
 *   spew FIFO GOFIFO BYTES CHUNK STREAMS
 *                                     READY, wait for GOFIFO, SPEW_START, write BYTES in
 *                                     CHUNK-byte writes to stdout (STREAMS=2: alternately to
 *                                     stdout and stderr), SPEW_END; exit on SIGTERM
 *   talk FIFO GOFIFO LINES            READY, wait for GOFIFO, then LINES lines "L <now>\n" to
 *                                     stdout, 0.5-1.5 ms apart; exit on SIGTERM
 *   drain FIFO BYTES [FD]             the consumer: read stdin (and FD) as fast as it can;
 *                                     DRAINED once BYTES have come, DRAIN_TOTAL at EOF
 *   lines FIFO                        the consumer of talk: LINE (arrival - the line's stamp)
 *                                     per line read on stdin, until EOF
 *   relay CMD...                      a reference init, not one to use: runs CMD with its stdout
 *                                     and stderr on pipes of 1 MiB and copies them to its own
 *                                     with read/write, 64 KiB at a time: the floor of a relay
 *                                     that copies (SIGTERM: passed on, then exit)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum {
    REC_READY = 1,      /* value: ns from BENCH_T0 to main(), or -1 */
    REC_USR1 = 2,       /* value: receipt time */
    REC_TERM = 3,       /* value: receipt time */
    REC_EXIT = 4,       /* value: time just before _exit */
    REC_REAP_TOTAL = 5, /* value: first fork -> all orphans reaped (ns), -1 on timeout */
    REC_REAP_DRAIN = 6, /* value: last orphan made -> all reaped (ns), -1 on timeout */
    REC_REAP_LEFT = 7,  /* value: orphans still unreaped at the end */
    REC_BURST = 8,      /* value: SIGKILL of all orphans -> all reaped (ns), -1 on timeout */
    REC_SPEW_START = 9, /* value: time just before the first write */
    REC_SPEW_END = 10,  /* value: time the last write returned */
    REC_DRAINED = 11,   /* value: time the consumer had read BYTES */
    REC_DRAIN_TOTAL = 12, /* value: bytes the consumer read until EOF */
    REC_LINE = 13,      /* value: ns from a line's stamp to its arrival at the consumer */
};

struct record {
    int32_t kind;
    int32_t pid;
    int64_t value;
};

static int out_fd = -1;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Async-signal-safe: a single write(2) of 16 bytes. */
static void emit(int32_t kind, int64_t value)
{
    struct record r = {kind, (int32_t)getpid(), value};
    ssize_t n;
    do {
        n = write(out_fd, &r, sizeof r);
    } while (n < 0 && errno == EINTR);
}

static void open_out(const char *path)
{
    out_fd = open(path, O_WRONLY | O_CLOEXEC);
    if (out_fd < 0) {
        perror("bchild: open fifo");
        _exit(99);
    }
}

static int64_t startup_ns(int64_t t_main)
{
    const char *t0 = getenv("BENCH_T0");
    return t0 ? t_main - strtoll(t0, NULL, 10) : -1;
}

static void on_usr1(int sig)
{
    (void)sig;
    emit(REC_USR1, now_ns());
}

static void on_term(int sig)
{
    (void)sig;
    emit(REC_TERM, now_ns());
    _exit(0);
}

static void handle(int sig, void (*fn)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

/* An init may hand us a blocked or ignored signal set; start clean. */
static void clean_signals(void)
{
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int s = 1; s < NSIG; s++)
        if (s != SIGKILL && s != SIGSTOP)
            signal(s, SIG_DFL);
}

static void pause_forever(void)
{
    for (;;)
        pause();
}

static int mode_stamp(char **argv)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%lld", (long long)now_ns());
    setenv("BENCH_T0", buf, 1);
    execvp(argv[0], argv);
    perror("bchild: exec");
    return 127;
}

static int mode_wait(const char *fifo, const char *gofifo)
{
    int64_t t_main = now_ns();
    clean_signals();
    open_out(fifo);
    /* O_NONBLOCK so the open does not wait for the writer; poll then waits
     * (a FIFO reports no HUP until a writer has come and gone). */
    int go = open(gofifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    emit(REC_READY, startup_ns(t_main));
    struct pollfd p = {go, POLLIN, 0};
    while (poll(&p, 1, -1) < 0 && errno == EINTR)
        ;
    emit(REC_EXIT, now_ns());
    _exit(0);
}

/* Write all of buf to fd, a blocking pipe: a signal handler may cut a write short. */
static void write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("bchild: write");
            _exit(98);
        }
        buf += n;
        len -= (size_t)n;
    }
}

/* Sleep until an absolute CLOCK_MONOTONIC time, through signal handlers. */
static void sleep_until(int64_t t)
{
    struct timespec ts = {t / 1000000000, t % 1000000000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* A steady trickle of log lines, as a trainer prints: the relay busy while a signal comes. */
static void talk_steadily(int lines_per_s)
{
    char line[96];
    int64_t gap = 1000000000 / lines_per_s, next = now_ns();
    for (long n = 0;; n++) {
        next += gap;
        sleep_until(next);
        int len = snprintf(line, sizeof line, "step %ld: loss 0.%06ld, %d lines/s of steady log output\n",
                           n, n % 1000000, lines_per_s);
        write_all(1, line, (size_t)len);
    }
}

static int mode_serve(const char *fifo, int lines_per_s)
{
    int64_t t_main = now_ns();
    clean_signals();
    open_out(fifo);
    handle(SIGUSR1, on_usr1);
    handle(SIGTERM, on_term);
    emit(REC_READY, startup_ns(t_main));
    if (lines_per_s > 0)
        talk_steadily(lines_per_s);
    pause_forever();
    return 0;
}

/* READY, then block until the harness writes a byte on GOFIFO. */
static void ready_then_go(const char *gofifo)
{
    int go = open(gofifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    emit(REC_READY, -1);
    struct pollfd p = {go, POLLIN, 0};
    while (poll(&p, 1, -1) < 0 && errno == EINTR)
        ;
    close(go);
}

static int mode_spew(const char *fifo, const char *gofifo, long long bytes, int chunk, int streams)
{
    clean_signals();
    open_out(fifo);
    handle(SIGTERM, on_term);
    char *buf = malloc((size_t)chunk);
    if (!buf) {
        perror("bchild: malloc");
        return 97;
    }
    /* Lines of 64 bytes: what the relay copies looks like a log, not one endless line. */
    for (int i = 0; i < chunk; i++)
        buf[i] = i % 64 == 63 ? '\n' : (char)('a' + i % 26);
    ready_then_go(gofifo);
    emit(REC_SPEW_START, now_ns());
    for (long long left = bytes, k = 0; left > 0; k++) {
        size_t n = left < chunk ? (size_t)left : (size_t)chunk;
        write_all(streams == 2 && k % 2 ? 2 : 1, buf, n);
        left -= (long long)n;
    }
    emit(REC_SPEW_END, now_ns());
    pause_forever();
    return 0;
}

static int mode_talk(const char *fifo, const char *gofifo, int lines)
{
    clean_signals();
    open_out(fifo);
    handle(SIGTERM, on_term);
    ready_then_go(gofifo);
    unsigned seed = (unsigned)getpid();
    char line[48];
    for (int i = 0; i < lines; i++) {
        int len = snprintf(line, sizeof line, "L %lld\n", (long long)now_ns());
        write_all(1, line, (size_t)len);
        /* 0.5-1.5 ms apart, as the signal samples: each line meets an idle relay. */
        sleep_until(now_ns() + 500000 + (int64_t)(rand_r(&seed) % 1000000));
    }
    pause_forever();
    return 0;
}

static int mode_drain(const char *fifo, long long bytes, int fd2)
{
    static char buf[1 << 20];
    open_out(fifo);
    int streams = fd2 >= 0 ? 2 : 1;
    struct pollfd p[2] = {{0, POLLIN, 0}, {fd2, POLLIN, 0}};
    long long got = 0;
    bool drained = bytes <= 0;
    int open_fds = streams;
    while (open_fds > 0) {
        while (poll(p, (nfds_t)streams, -1) < 0 && errno == EINTR)
            ;
        for (int i = 0; i < streams; i++) {
            if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(p[i].fd, buf, sizeof buf);
            if (n <= 0) {
                if (n < 0 && errno == EINTR)
                    continue;
                p[i].fd = -1; /* poll ignores a negative fd */
                open_fds--;
                continue;
            }
            got += n;
            if (!drained && got >= bytes) {
                drained = true;
                emit(REC_DRAINED, now_ns());
            }
        }
    }
    emit(REC_DRAIN_TOTAL, got);
    return 0;
}

static int mode_lines(const char *fifo)
{
    static char buf[1 << 16];
    open_out(fifo);
    size_t have = 0;
    for (;;) {
        ssize_t n = read(0, buf + have, sizeof buf - 1 - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return 0;
        int64_t arrived = now_ns();
        have += (size_t)n;
        buf[have] = '\0';
        char *line = buf, *end;
        while ((end = strchr(line, '\n')) != NULL) {
            if (line[0] == 'L' && line[1] == ' ')
                emit(REC_LINE, arrived - strtoll(line + 2, NULL, 10));
            line = end + 1;
        }
        have = (size_t)(buf + have - line);
        memmove(buf, line, have);
        if (have == sizeof buf - 1)
            have = 0; /* a line longer than the buffer is nobody's stamp */
    }
}

static int mode_tree(const char *fifo, int workers, int loaders, int setsid_every, int ignore)
{
    int64_t t_main = now_ns();
    clean_signals();
    open_out(fifo);
    handle(SIGTERM, on_term);
    for (int w = 0; w < workers; w++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("bchild: fork worker");
            continue;
        }
        if (pid > 0)
            continue;
        if (setsid_every > 0 && w % setsid_every == 0)
            setsid();
        for (int l = 0; l < loaders; l++) {
            pid_t lp = fork();
            if (lp == 0) {
                emit(REC_READY, -1);
                pause_forever();
            }
        }
        emit(REC_READY, -1);
        pause_forever();
    }
    if (ignore)
        signal(SIGTERM, ignore == 2 ? SIG_DFL : SIG_IGN);
    emit(REC_READY, startup_ns(t_main));
    pause_forever();
    return 0;
}

/* Children of our reaper (or of ourselves when we are PID 1 with no init),
 * zombies included: /proc/PID/task/TID/children lists a child until its
 * parent reaps it. Returns -1 when the list cannot be read. */
static long count_children(pid_t reaper)
{
    static char buf[1 << 20];
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/children", reaper, reaper);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    long count = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < n; i++)
            count += buf[i] == ' ';
    close(fd);
    return count;
}

static long wait_drained(pid_t reaper, long baseline, int64_t deadline);

static int mode_reap(const char *fifo, int orphans, int wave, int timeout_ms)
{
    clean_signals();
    open_out(fifo);
    handle(SIGTERM, on_term);
    /* As PID 1 with no init we are the reaper and never reap: the floor. */
    pid_t reaper = getpid() == 1 ? 1 : getppid();
    long baseline = reaper == 1 && getpid() == 1 ? 0 : 1;
    emit(REC_READY, -1);

    int64_t t_first = now_ns();
    for (int made = 0; made < orphans; made += wave) {
        pid_t spawner = fork();
        if (spawner == 0) {
            int n = orphans - made < wave ? orphans - made : wave;
            for (int i = 0; i < n; i++)
                if (fork() == 0)
                    _exit(0);
            _exit(0); /* our children become the reaper's orphans */
        }
        if (spawner > 0)
            while (waitpid(spawner, NULL, 0) < 0 && errno == EINTR)
                ;
    }
    int64_t t_last = now_ns();
    long left = wait_drained(reaper, baseline, t_last + (int64_t)timeout_ms * 1000000);
    int64_t t_done = now_ns();
    emit(REC_REAP_TOTAL, left == 0 ? t_done - t_first : -1);
    emit(REC_REAP_DRAIN, left == 0 ? t_done - t_last : -1);
    emit(REC_REAP_LEFT, left);
    pause_forever();
    return 0;
}

/* Poll the reaper's children list until only `baseline` remain or the deadline passes. */
static long wait_drained(pid_t reaper, long baseline, int64_t deadline)
{
    for (;;) {
        long left = count_children(reaper) - baseline;
        if (left <= 0 || now_ns() > deadline)
            return left < 0 ? 0 : left;
        /* Reading the list takes the tasklist lock that reaping needs: poll gently. */
        struct timespec nap = {0, 2000000};
        nanosleep(&nap, NULL);
    }
}

/* Reaping alone, without fork time in the figure: the orphans already belong to
 * the reaper, alive, in one process group; one kill(-pgid, SIGKILL) makes
 * them all zombies at once. */
static int mode_burst(const char *fifo, int orphans, int timeout_ms)
{
    clean_signals();
    open_out(fifo);
    handle(SIGTERM, on_term);
    pid_t reaper = getpid() == 1 ? 1 : getppid();
    long baseline = getpid() == 1 ? 0 : 1;
    pid_t spawner = fork();
    if (spawner == 0) {
        setpgid(0, 0);
        for (int i = 0; i < orphans; i++)
            if (fork() == 0)
                pause_forever();
        _exit(0);
    }
    /* The kernel reparents the spawner's children as it exits, before its
     * parent can reap it: past this wait every orphan is the reaper's. */
    while (waitpid(spawner, NULL, 0) < 0 && errno == EINTR)
        ;
    emit(REC_READY, -1);
    int64_t t0 = now_ns();
    kill(-spawner, SIGKILL);
    long left = wait_drained(reaper, baseline, t0 + (int64_t)timeout_ms * 1000000);
    emit(REC_BURST, left == 0 ? now_ns() - t0 : -1);
    emit(REC_REAP_LEFT, left);
    pause_forever();
    return 0;
}

static pid_t relay_child;

static void on_term_relay(int sig)
{
    (void)sig;
    kill(relay_child, SIGTERM);
    _exit(0);
}

static int mode_relay(char **argv)
{
    static char buf[1 << 16];
    int pipes[2][2];
    for (int i = 0; i < 2; i++) {
        if (pipe2(pipes[i], O_CLOEXEC) < 0) {
            perror("bchild: pipe");
            return 96;
        }
        fcntl(pipes[i][0], F_SETPIPE_SZ, 1 << 20); /* as sm-init's capture pipes */
    }
    handle(SIGTERM, on_term_relay);
    relay_child = fork();
    if (relay_child == 0) {
        clean_signals();
        dup2(pipes[0][1], 1); /* dup2 clears close-on-exec on the copies */
        dup2(pipes[1][1], 2);
        execvp(argv[0], argv);
        perror("bchild: exec");
        _exit(127);
    }
    struct pollfd p[2] = {{pipes[0][0], POLLIN, 0}, {pipes[1][0], POLLIN, 0}};
    close(pipes[0][1]);
    close(pipes[1][1]);
    int open_fds = 2;
    while (open_fds > 0) {
        while (poll(p, 2, -1) < 0 && errno == EINTR)
            ;
        for (int i = 0; i < 2; i++) {
            if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t n = read(p[i].fd, buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                p[i].fd = -1;
                open_fds--;
                continue;
            }
            write_all(i + 1, buf, (size_t)n);
        }
    }
    int status;
    while (waitpid(relay_child, &status, 0) < 0 && errno == EINTR)
        ;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && strcmp(argv[1], "stamp") == 0)
        return mode_stamp(argv + 2);
    if (argc == 4 && strcmp(argv[1], "wait") == 0)
        return mode_wait(argv[2], argv[3]);
    if ((argc == 3 || argc == 4) && strcmp(argv[1], "serve") == 0)
        return mode_serve(argv[2], argc == 4 ? atoi(argv[3]) : 0);
    if (argc == 7 && strcmp(argv[1], "spew") == 0)
        return mode_spew(argv[2], argv[3], atoll(argv[4]), atoi(argv[5]), atoi(argv[6]));
    if (argc == 5 && strcmp(argv[1], "talk") == 0)
        return mode_talk(argv[2], argv[3], atoi(argv[4]));
    if ((argc == 4 || argc == 5) && strcmp(argv[1], "drain") == 0)
        return mode_drain(argv[2], atoll(argv[3]), argc == 5 ? atoi(argv[4]) : -1);
    if (argc == 3 && strcmp(argv[1], "lines") == 0)
        return mode_lines(argv[2]);
    if (argc >= 3 && strcmp(argv[1], "relay") == 0)
        return mode_relay(argv + 2);
    if (argc == 8 && strcmp(argv[1], "tree") == 0)
        return mode_tree(argv[2], atoi(argv[4]), atoi(argv[5]), atoi(argv[6]), atoi(argv[7]));
    if (argc == 5 && strcmp(argv[1], "burst") == 0)
        return mode_burst(argv[2], atoi(argv[3]), atoi(argv[4]));
    if (argc == 6 && strcmp(argv[1], "reap") == 0)
        return mode_reap(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
    fprintf(stderr, "usage: see the comment at the top of bchild.c\n");
    return 2;
}
