/*  spawn_baseline.c - the floor for tests/bench/bench.py's W4 (exec tasks):
    runs `sh -c COMMAND` COUNT times with PARALLEL in flight, with
    posix_spawn and nothing else (no pipes, no output captured, no
    timeouts), so it shows what process creation alone costs on this
    machine. taskmill's exec handler does more per command (captures
    stdout, enforces the task's timeout), as does xargs (reads its input).

    Not part of the test suite. Build (bench.py does this):

        cc -O2 -o spawn_baseline spawn_baseline.c

    Usage: spawn_baseline COUNT PARALLEL [COMMAND]   (COMMAND default "true")
    Prints one line of key=value pairs, e.g.
        spawn_baseline commands=2000 parallel=2 elapsed_s=5.2 commands_per_s=384.6
    Exit status: 0 every command exited 0, 2 bad usage, 3 otherwise.
*/

#define _GNU_SOURCE
#include <errno.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static int64_t
s_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static long
s_arg (const char *text, const char *what)
{
    char *end;
    errno = 0;
    long value = strtol (text, &end, 10);
    if (errno || *end || value < 1) {
        fprintf (stderr, "spawn_baseline: bad %s: %s\n", what, text);
        exit (2);
    }
    return value;
}

//  Waits for one child; returns 0 if it exited 0, -1 otherwise.
static int
s_reap_one (void)
{
    int status;
    while (waitpid (-1, &status, 0) == -1) {
        if (errno != EINTR) {
            perror ("spawn_baseline: waitpid");
            exit (3);
        }
    }
    return WIFEXITED (status) && WEXITSTATUS (status) == 0 ? 0 : -1;
}

int
main (int argc, char *argv [])
{
    if (argc < 3 || argc > 4) {
        fprintf (stderr, "Usage: spawn_baseline COUNT PARALLEL [COMMAND]\n");
        return 2;
    }
    long count = s_arg (argv [1], "count");
    long parallel = s_arg (argv [2], "parallel");
    char *command = argc == 4 ? argv [3] : "true";
    char *child_argv [] = { "sh", "-c", command, NULL };
    long started = 0, running = 0, failed = 0;
    int64_t start_us = s_now_us ();
    while (started < count || running > 0) {
        if (started < count && running < parallel) {
            pid_t pid;
            int rc = posix_spawnp (&pid, "sh", NULL, NULL, child_argv, environ);
            if (rc != 0) {
                fprintf (stderr, "spawn_baseline: posix_spawnp: %s\n", strerror (rc));
                return 3;
            }
            started++;
            running++;
            continue;
        }
        if (s_reap_one () == -1)
            failed++;
        running--;
    }
    double elapsed_s = (double) (s_now_us () - start_us) / 1e6;
    printf ("spawn_baseline commands=%ld parallel=%ld failed=%ld elapsed_s=%.6f commands_per_s=%.1f\n",
            count, parallel, failed, elapsed_s, (double) count / elapsed_s);
    return failed ? 3 : 0;
}
