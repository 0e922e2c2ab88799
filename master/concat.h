/*  concat: --reduce concat:FILE, every final ok output of a job written into
    FILE in seq order, each once, streamed. At the sink's end of a task's
    path, beside the other reducers (reducer.c hands it what it sees).

    Outputs that complete early wait in memory for the seqs before them, at
    most a window of them: every seq that waits is below waiting_for +
    window. The master issues no seq past that (concat_seq_limit), so a
    task that holds the file back (a long timeout, retries) holds dispatch
    back once a window of seqs is past it.

    --resume: FILE is written again from the top, holding the earlier runs'
    outputs too, as an uninterrupted run would have written it. What was in
    FILE is not trusted (a killed master leaves it torn, or ahead of the
    results file); the results file is. A seq final in an earlier run is
    taken from the results file when the file reaches it: the source (an ops
    struct, so this logic does no I/O but the writes) reads the results on
    until that seq, and outputs it reads on the way wait too if they fall in
    the same window. One further on is passed over, and found later by
    reading the results again from the top: at worst one pass per window of
    seqs. A run writes its results in seq order to within its window (a seq
    is issued only when everything a window before it is final), so one
    pass is the rule: the prefix an earlier run finished is written before
    dispatch starts, the rest as its seqs interleave with this run's.

    It does not decide finality, and reads no results file itself.
*/
#ifndef CONCAT_H_INCLUDED
#define CONCAT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _concat_t concat_t;

//  Where a seq's output comes from.
typedef enum {
    CONCAT_LIVE,                    //  this run: concat_add or concat_skip
    CONCAT_EARLIER_OK,              //  final ok in an earlier run: from the source
    CONCAT_EARLIER_NOT_OK           //  final in an earlier run with no ok output
} concat_origin_t;

//  The earlier runs' outputs (--resume).
typedef struct {
    concat_origin_t (*origin) (void *source, uint64_t seq);
    //  The next ok output of an earlier run, in the results file's order:
    //  1 with *seq and the bytes (borrowed until the next call), 0 at the end.
    int (*next) (void *source, uint64_t *seq, const uint8_t **output, size_t *size);
    //  Back to the first. Returns 0, or -1.
    int (*rewind) (void *source);
    void *source;
} concat_source_t;

//  What it did, for the summary and the tests.
typedef struct {
    uint64_t written_through;       //  every seq up to this one is in the file
    uint64_t from_earlier;          //  outputs read back from the results file
    uint64_t rescans;               //  times the source was read again from the top
    size_t most_waiting;            //  most outputs waiting at once (both kinds)
} concat_stats_t;

//  Opens path, truncated; window bounds what waits (at least 1). Returns NULL with the
//  reason in error if it cannot.
concat_t *concat_new (const char *path, size_t window, char *error, size_t error_size);
void concat_destroy (concat_t **self_p);
//  --resume: takes the earlier runs' outputs from source (borrowed: it
//  must outlive self) and writes what it can now.
void concat_resume (concat_t *self, const concat_source_t *source);
//  The final ok output of seq, of this run.
void concat_add (concat_t *self, uint64_t seq, const uint8_t *output, size_t size);
//  seq (of this run) became final with no ok output: go past it.
void concat_skip (concat_t *self, uint64_t seq);
//  The seq the file waits for next: always one of this run's.
uint64_t concat_waiting_for (concat_t *self);
//  The highest seq the master may issue now (see the top of this file).
uint64_t concat_seq_limit (concat_t *self);
//  Writes what it can, flushes and syncs. Returns 0, or -1 if a write
//  failed or an earlier output was not in the source (logged).
int concat_finish (concat_t *self);
const char *concat_path (concat_t *self);
void concat_stats (concat_t *self, concat_stats_t *stats);

#endif
