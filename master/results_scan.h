/*  results_scan: reads a results file back, one result at a time (seq,
    whether ok, the output decoded from "output" or "output_b64"), for
    --resume: the reducers rebuild their state from what an earlier run
    wrote. It reads only the bytes the file held when opened, so results
    this run appends are not read back; it can start again from the top,
    as concat does when an output it needs was passed over.

    It is not the resume set (which seqs are final) and writes nothing.
*/
#ifndef RESULTS_SCAN_H_INCLUDED
#define RESULTS_SCAN_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _results_scan_t results_scan_t;

//  One result line. output is borrowed until the next call.
typedef struct {
    uint64_t seq;
    bool ok;                        //  status "ok"
    const uint8_t *output;
    size_t output_size;
} results_scan_record_t;

//  Opens the results file at path; call before this run writes to it. A
//  missing file reads as empty. Returns NULL with the reason in error.
results_scan_t *results_scan_new (const char *path, char *error, size_t error_size);
void results_scan_destroy (results_scan_t **self_p);
//  The next result: 1, or 0 at the end. Lines that are not results (the
//  resume set refused those already) and torn lines are passed over.
int results_scan_next (results_scan_t *self, results_scan_record_t *record);
//  Starts again at the first line. Returns 0, or -1 if the file cannot seek.
int results_scan_rewind (results_scan_t *self);
//  How many times the scan has started from the top (1 once opened).
uint64_t results_scan_passes (results_scan_t *self);

#endif
