/*  results_writer: appends one JSON line per final result to the results
    file (or stdout), buffered, flushed and synced in batches. The last step
    of a task's path: sink -> master -> results_writer -> results file.

    It does not decide finality or dedup: the master calls it once per seq.

    A write error never leaves a torn line before later lines, and never
    drops a buffered line silently. On a short or failed write(2) to a
    regular file the writer cuts the file back to the end of the last whole
    line and keeps every line not wholly written; on a pipe or terminal,
    where bytes cannot be taken back, it keeps exactly the bytes not taken.
    EINTR is retried at once. A transient error (ENOSPC, EDQUOT, EAGAIN, or
    a write that takes nothing) puts the writer in
    RESULTS_WRITER_RETRYING: lines are held, in order, and written at the
    next flush. It becomes RESULTS_WRITER_FAILED if the error lasts
    RESULTS_WRITER_RETRY_MS, if the held lines pass
    RESULTS_WRITER_HOLD_MAX_BYTES, on any other error (EIO, EBADF, EFBIG...,
    fdatasync failing) or if the file cannot be cut back. FAILED is final:
    nothing more is written, the held lines are dropped (logged), and a
    regular file ends at a whole line (unless the cut itself failed: then
    the torn line is the last one, which --resume cuts off).
*/
#ifndef RESULTS_WRITER_H_INCLUDED
#define RESULTS_WRITER_H_INCLUDED

#include "lease_table.h"
#include "tm_codec.h"
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

//  How long a transient write error may last before it is fatal.
#define RESULTS_WRITER_RETRY_MS 30000
//  How much a writer holds while it retries before that is fatal.
#define RESULTS_WRITER_HOLD_MAX_BYTES (64 * 1024 * 1024)

typedef struct _results_writer_t results_writer_t;

typedef enum {
    RESULTS_WRITER_OK,          //  every line handed over so far is written
    RESULTS_WRITER_RETRYING,    //  a transient error: lines held for the next flush
    RESULTS_WRITER_FAILED,      //  fatal and final: nothing more will be written
} results_writer_state_t;

//  The I/O the writer does on its fd, so that tests can make it fail with
//  no mocks: each is the libc call of that name (ctx aside); now_us is a
//  monotonic clock for the retry limit. writev may be NULL: then large
//  outputs are copied into the buffer like any other.
struct iovec;
typedef struct {
    ssize_t (*write) (void *ctx, int fd, const void *data, size_t size);
    off_t (*lseek) (void *ctx, int fd, off_t offset, int whence);
    int (*ftruncate) (void *ctx, int fd, off_t size);
    int (*fdatasync) (void *ctx, int fd);
    int64_t (*now_us) (void *ctx);
    void *ctx;                  //  passed to each
    ssize_t (*writev) (void *ctx, int fd, const struct iovec *iov, int count);
} results_writer_ops_t;

//  Opens path for appending (NULL or "-": stdout). Returns NULL after
//  logging if it cannot.
results_writer_t *results_writer_new (const char *path);
//  Flushes, syncs and closes; logs an error if lines were still unwritten.
void results_writer_destroy (results_writer_t **self_p);
//  Writes the line for a final result of lease. Returns 0 when the line is
//  written or held for a retry, or -1 (errno set) when the writer is FAILED.
int results_writer_write (results_writer_t *self, const lease_t *lease,
                          const tm_result_t *result);
//  Writes a final line the master made itself (lease spent, no result).
//  Returns as results_writer_write.
int results_writer_write_status (results_writer_t *self, const lease_t *lease,
                                 tm_status_t status, const char *error);
//  Writes buffered lines (retrying held ones) and, if sync, fdatasyncs a
//  regular file (when anything was written since the last sync). Returns 0
//  if every line is written (and synced, if sync), or -1 with errno set:
//  then results_writer_state tells a retry to come from a fatal error.
int results_writer_flush (results_writer_t *self, bool sync);
//  Where the writer stands after its last call.
results_writer_state_t results_writer_state (results_writer_t *self);
//  Replaces the writer's I/O (copied); for tests.
void results_writer_set_ops (results_writer_t *self, const results_writer_ops_t *ops);
//  How long a transient error may last (default RESULTS_WRITER_RETRY_MS;
//  0: the first error is fatal).
void results_writer_set_retry_ms (results_writer_t *self, uint32_t retry_ms);
//  How much may be held while retrying (default RESULTS_WRITER_HOLD_MAX_BYTES).
void results_writer_set_hold_max_bytes (results_writer_t *self, size_t hold_max_bytes);

#endif
