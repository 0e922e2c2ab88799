/*  bench_job_reader: what reading a job file costs the master, per line:
    job_reader_next over a whole file (the run's pass, and what
    master_check_job did before anything was sent), and job_reader_validate
    (the validation pass it can make instead).
    Wall clock on a shared machine is noisy: it runs each pass REPS times
    and prints every figure, then the minimum and the median.

    Not part of the CMake build (like tests/fuzz). To build and run:
      cc -O2 -g -Icommon -Imaster tests/bench/bench_job_reader.c \
          build/master/libmaster_core.a build/common/libtm_common.a \
          build/proto/libtm_proto.a \
          $(pkg-config --cflags --libs libczmq libzmq libprotobuf-c jansson \
            libcrypto simdjson) -lstdc++ -lm -o /tmp/bench_job_reader
      /tmp/bench_job_reader jobs.jsonl 5

    A noop job like the one in issue 8 (1,000,000 lines, 105 MiB):
      python3 -c 'import sys; p = "abcdefghijklmnopqrstuvwxyz" * 3
      for i in range (1, 1000001): sys.stdout.write (
          "{\"id\": \"t%d\", \"type\": \"noop\", \"payload\": \"%s\"}\n"
          % (i, p [i % 26:i % 26 + 64]))' > /tmp/noop1m.jsonl

    Usage: bench_job_reader FILE [REPS [next|validate|both]]
    (defaults 5, both).
*/
#include "job_reader.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t
s_now_ns (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000000000 + now.tv_nsec;
}

static job_reader_config_t
s_config (void)
{
    job_reader_config_t config;
    memset (&config, 0, sizeof config);
    config.format = JOB_FORMAT_JSONL;
    config.default_type = "noop";
    config.default_timeout_ms = 60000;
    config.default_retries = 2;
    return config;
}

//  One run's pass: every task read, and a checksum so nothing is optimised
//  away. Returns the lines read, or 0 on error.
static uint64_t
s_next_pass (const char *path)
{
    job_reader_config_t config = s_config ();
    char error [256];
    job_reader_t *reader = job_reader_new (path, &config, error, sizeof error);
    if (!reader) {
        fprintf (stderr, "bench_job_reader: %s\n", error);
        return 0;
    }
    job_entry_t entry;
    job_reader_status_t status;
    uint64_t sum = 0;
    uint64_t lines = 0;
    while ((status = job_reader_next (reader, &entry)) == JOB_READER_OK) {
        sum += entry.payload_size + (uint8_t) entry.id [0] + entry.timeout_ms;
        lines = entry.line;
    }
    if (status == JOB_READER_ERROR) {
        fprintf (stderr, "bench_job_reader: %s\n", job_reader_error (reader));
        lines = 0;
    }
    job_reader_destroy (&reader);
    if (sum == 42)
        fprintf (stderr, "(checksum)\n");
    return lines;
}

//  master_check_job's pass over a regular file.
static uint64_t
s_validate_pass (const char *path)
{
    job_reader_config_t config = s_config ();
    char error [256];
    job_reader_t *reader = job_reader_new (path, &config, error, sizeof error);
    if (!reader) {
        fprintf (stderr, "bench_job_reader: %s\n", error);
        return 0;
    }
    uint64_t tasks = 0;
    if (job_reader_validate (reader) == 0)
        tasks = job_reader_count (reader);
    else
        fprintf (stderr, "bench_job_reader: %s\n", job_reader_error (reader));
    job_reader_destroy (&reader);
    return tasks;
}

static int
s_compare (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

static int
s_measure (const char *name, uint64_t (*pass) (const char *), const char *path, int reps)
{
    double ns_per_line [64];
    printf ("%-9s ns/line:", name);
    for (int rep = 0; rep < reps; rep++) {
        int64_t start = s_now_ns ();
        uint64_t lines = pass (path);
        int64_t elapsed = s_now_ns () - start;
        if (lines == 0)
            return -1;
        ns_per_line [rep] = (double) elapsed / (double) lines;
        printf (" %.0f", ns_per_line [rep]);
        fflush (stdout);
    }
    qsort (ns_per_line, (size_t) reps, sizeof ns_per_line [0], s_compare);
    printf ("  (min %.0f, median %.0f)\n", ns_per_line [0], ns_per_line [reps / 2]);
    return 0;
}

int
main (int argc, char *argv [])
{
    if (argc < 2) {
        fprintf (stderr, "usage: bench_job_reader FILE [REPS [next|validate|both]]\n");
        return 2;
    }
    const char *path = argv [1];
    int reps = argc > 2 ? atoi (argv [2]) : 5;
    const char *what = argc > 3 ? argv [3] : "both";
    if (reps < 1 || reps > 64)
        reps = 5;
    if (strcmp (what, "validate") != 0 && s_measure ("next", s_next_pass, path, reps))
        return 1;
    if (strcmp (what, "next") != 0 && s_measure ("validate", s_validate_pass, path, reps))
        return 1;
    return 0;
}
