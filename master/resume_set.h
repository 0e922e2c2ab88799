/*  resume_set: the seqs already final in an existing results file, for
    --resume. Read once before a run; the master then skips those seqs as it
    reads the job again, so a run killed part way and started again with
    --resume writes every task exactly once across both runs.

    Seqs are job line order, so the job must be the same file. Two bits per
    seq up to the highest seen, final and ok (2.5 MB for 10 million tasks).
*/
#ifndef RESUME_SET_H_INCLUDED
#define RESUME_SET_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _resume_set_t resume_set_t;

//  Reads the results file at path (a missing file is an empty set). A torn
//  last line (no newline, as a crash leaves it) is cut off the file so that
//  appending starts on a fresh line. Returns NULL and writes a message into
//  error if a complete line is not a result or the file cannot be read or cut.
resume_set_t *resume_set_load (const char *path, char *error, size_t error_size);
void resume_set_destroy (resume_set_t **self_p);
//  True if seq was already final.
bool resume_set_has (resume_set_t *self, uint64_t seq);
//  True if seq was already final with status ok (its first line, if twice).
bool resume_set_ok (resume_set_t *self, uint64_t seq);
//  Distinct seqs final, and how many of those did not end ok.
uint64_t resume_set_count (resume_set_t *self);
uint64_t resume_set_not_ok (resume_set_t *self);

#endif
