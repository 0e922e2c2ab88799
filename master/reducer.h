/*  reducer: the aggregate a job computes from its results (--reduce), at the
    sink's end of a task's path: it sees each task's final ok result exactly
    once (a duplicate never counts twice), in completion order.

      sum          numeric outputs added: integers exactly (an overflow is
                   reported, and the sum goes on as a double), decimals as
                   doubles; outputs that are not numbers are counted
      count-words  word-count objects ({"word": n, ...}, what the wordfreq
                   plugin outputs) merged into totals; at most max_words
                   distinct words are kept, the rest counted as dropped
      concat:FILE  outputs written to FILE in seq order, streamed: results
                   that come early wait in memory, bounded by the master's
                   window, never the whole job (concat.h)

    --resume: sum and count-words add up the ok results the results file
    already holds before the run goes on; concat writes FILE again from the
    top, reading the earlier outputs back from the results file as the seq
    order reaches them (concat.h says how memory stays bounded).

    It does not decide finality (outcome does) or write results.
*/
#ifndef REDUCER_H_INCLUDED
#define REDUCER_H_INCLUDED

#include "concat.h"
#include "resume_set.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define REDUCER_DEFAULT_MAX_WORDS 1000000
#define REDUCER_TOP_WORDS 20        //  printed in the human summary

typedef enum {
    REDUCER_NONE,
    REDUCER_SUM,
    REDUCER_COUNT_WORDS,
    REDUCER_CONCAT
} reducer_kind_t;

typedef struct _reducer_t reducer_t;

//  Parses a --reduce value (none, sum, count-words, concat[:FILE]) into
//  *kind and the concat file (default "concat.out"). Returns 0, or -1.
int reducer_parse (const char *text, reducer_kind_t *kind, const char **path);
//  A reducer of kind; concat opens path (truncated) and lets window
//  outputs wait. Returns NULL with the reason in error if it cannot.
reducer_t *reducer_new (reducer_kind_t kind, const char *path, size_t max_words, size_t window,
                        char *error, size_t error_size);
void reducer_destroy (reducer_t **self_p);
//  The final ok output of seq.
void reducer_add (reducer_t *self, uint64_t seq, const uint8_t *output, size_t size);
//  seq became final with no ok output (failed, skipped, already final on
//  --resume): concat goes past it.
void reducer_skip (reducer_t *self, uint64_t seq);
//  concat: the seq the file waits for next (0 for other kinds). The master
//  skips it once it is final with no ok output (a task it gave up on).
uint64_t reducer_waiting_for (reducer_t *self);
//  The highest seq the master may issue now: concat's bound on what waits
//  in memory; UINT64_MAX for other kinds.
uint64_t reducer_seq_limit (reducer_t *self);
//  --resume, before this run writes a result: takes in the results already
//  in the results file at path, which resume (borrowed: it must outlive
//  self) says are final. Returns 0, or -1 with error.
int reducer_replay (reducer_t *self, const char *path, resume_set_t *resume, char *error,
                    size_t error_size);
//  Writes what concat holds in order and flushes it. Returns 0, or -1.
int reducer_finish (reducer_t *self);
//  The reducer's value for the --summary JSON (the caller owns it), NULL for none.
json_t *reducer_json (reducer_t *self);
//  One or a few lines for the human summary.
void reducer_print (reducer_t *self, FILE *out);

#endif
