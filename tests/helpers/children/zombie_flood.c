/* The spawner for the zombie flood (tests/test_floods_and_storms.py): fork N children that block
 * reading fd R, then exit, so the N become orphans of the nearest subreaper (sm-init). They all
 * exit at once when the last write end of R's pipe closes. C because forking 10,000 times from
 * Python takes tens of seconds on a small VM (page tables and copy-on-write of the interpreter);
 * zombie_flood.py falls back to Python when no C compiler is there.
 *
 *     zombie_flood N R
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: zombie_flood N FD\n");
        return 2;
    }
    int n = atoi(argv[1]), fd = atoi(argv[2]);
    signal(SIGUSR1, SIG_IGN); /* the flood child's trigger reaches its whole group */
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("zombie_flood: fork");
            return 1;
        }
        if (pid == 0) {
            char byte;
            while (read(fd, &byte, 1) > 0) {
            }
            _exit(0);
        }
    }
    return 0;
}
