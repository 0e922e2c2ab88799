/*  fuzz_job_reader: libFuzzer target for the job reader, every format with
    and without --skip-invalid. The first byte of an input chooses: bit 0
    the format (jsonl or lines), bit 1 skip_invalid, bit 2 a default type
    (jsonl lines may then leave it out), bit 3 a short line limit (so the
    too-long path is reached); the rest is the job file. Each task read is
    touched through its fields, so a sanitizer sees any view that points
    outside the reader's buffers, and job_reader_validate runs over the same
    input (it parses in two halves on two threads).

    Built by CMake when clang is installed (tests/fuzz/CMakeLists.txt); the
    seed corpus also replays as tests/unit/test_fuzz_corpus.c in every build.
*/
#ifndef _GNU_SOURCE
#define _GNU_SOURCE     //  memfd_create
#endif
#include "job_reader.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define S_SHORT_LINE_BYTES 64

static size_t
s_read_all (const char *path, const job_reader_config_t *config)
{
    char error [512];
    size_t sum = 0;
    job_reader_t *reader = job_reader_new (path, config, error, sizeof error);
    if (!reader)
        return 0;
    job_entry_t entry;
    job_reader_status_t status;
    //  Bounded: a skipped line is one step too, and the input is finite.
    for (int steps = 0; steps < 1000000; steps++) {
        status = job_reader_next (reader, &entry);
        if (status == JOB_READER_OK) {
            sum += strlen (entry.id) + strlen (entry.type) + entry.timeout_ms + entry.max_attempts;
            for (size_t at = 0; at < entry.payload_size; at++)
                sum += entry.payload [at];
        }
        else
        if (status == JOB_READER_SKIPPED)
            sum += strlen (job_reader_error (reader));
        else
            break;
    }
    sum += strlen (job_reader_error (reader)) + job_reader_count (reader);
    job_reader_destroy (&reader);
    return sum;
}

static size_t
s_validate (const char *path, const job_reader_config_t *config)
{
    char error [512];
    job_reader_t *reader = job_reader_new (path, config, error, sizeof error);
    if (!reader)
        return 0;
    size_t sum = (size_t) job_reader_validate (reader) + strlen (job_reader_error (reader));
    job_reader_destroy (&reader);
    return sum;
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t mode = data [0];
    job_reader_config_t config = {
        .format = (mode & 1) ? JOB_FORMAT_LINES : JOB_FORMAT_JSONL,
        .default_type = (mode & 1) || (mode & 4) ? "echo" : NULL,
        .default_timeout_ms = 1000,
        .default_retries = 2,
        .max_line_bytes = (mode & 8) ? S_SHORT_LINE_BYTES : 0,
        .skip_invalid = (mode & 2) != 0
    };
    //  A regular file the reader can stat, seek and map, in memory.
    int fd = memfd_create ("fuzz_job", 0);
    if (fd == -1)
        return 0;
    if (write (fd, data + 1, size - 1) != (ssize_t) (size - 1)) {
        close (fd);
        return 0;
    }
    char path [64];
    snprintf (path, sizeof path, "/proc/self/fd/%d", fd);
    volatile size_t sum = s_read_all (path, &config) + s_validate (path, &config);
    (void) sum;
    close (fd);
    return 0;
}
