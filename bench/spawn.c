/* Benchmark helper (built by bench/cnibench.py): execs programs and reports
 * the wall time of each exec, from vfork to reaped exit, with no interpreter
 * in the loop.
 *
 *   spawn N EXE [EXE ...]
 *
 * Runs the EXEs in turn (A B A B ..., the order reversed every other round),
 * N rounds; each child gets this program's environment, the bytes this program
 * read from its stdin as its stdin, and /dev/null as stdout and stderr. Prints
 * one line per exec: "<exe index> <nanoseconds> <exit status>".
 * (Peak RSS is taken elsewhere: wait4's ru_maxrss also counts the address
 * space the child had before execve, i.e. its parent's.) */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static char input[65536];

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: spawn N EXE [EXE ...]\n");
        return 2;
    }
    int rounds = atoi(argv[1]);
    int nexe = argc - 2;
    size_t len = 0;
    ssize_t r;
    while (len < sizeof input && (r = read(0, input + len, sizeof input - len)) > 0) len += (size_t)r;
    int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
    if (devnull < 0) return 1;

    for (int k = 0; k < rounds; k++) {
        for (int e = 0; e < nexe; e++) {
            int idx = (k % 2 == 0) ? e : nexe - 1 - e;
            int p[2];
            if (pipe2(p, O_CLOEXEC) != 0) return 1;
            if (write(p[1], input, len) != (ssize_t)len) return 1;
            close(p[1]);
            long long t0 = now_ns();
            pid_t pid = vfork();
            if (pid == 0) {
                dup2(p[0], 0);
                dup2(devnull, 1);
                dup2(devnull, 2);
                char *av[] = {argv[2 + idx], NULL};
                execve(argv[2 + idx], av, environ);
                _exit(127);
            }
            int status;
            if (pid < 0 || waitpid(pid, &status, 0) != pid) return 1;
            long long t1 = now_ns();
            close(p[0]);
            printf("%d %lld %d\n", idx, t1 - t0,
                   WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        }
    }
    return 0;
}
