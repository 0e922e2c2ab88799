/*  results_writer: appends one JSON line per final result to the results
    file (or stdout), buffered, flushed and synced in batches. The last step
    of a task's path: sink -> master -> results_writer -> results file.

    It does not decide finality or dedup: the master calls it once per seq.
*/
#ifndef RESULTS_WRITER_H_INCLUDED
#define RESULTS_WRITER_H_INCLUDED

#include "lease_table.h"
#include "tm_codec.h"

typedef struct _results_writer_t results_writer_t;

//  Opens path for appending (NULL or "-": stdout). Returns NULL after
//  logging if it cannot.
results_writer_t *results_writer_new (const char *path);
//  Flushes, syncs and closes.
void results_writer_destroy (results_writer_t **self_p);
//  Writes the line for a final result of lease. Returns 0, or -1 on I/O error.
int results_writer_write (results_writer_t *self, const lease_t *lease,
                          const tm_result_t *result);
//  Writes a final line the master made itself (lease spent, no result).
int results_writer_write_status (results_writer_t *self, const lease_t *lease,
                                 tm_status_t status, const char *error);
//  Writes buffered lines to the file and, if sync, fdatasyncs a regular
//  file (when anything was written since the last sync). Returns 0, or -1.
int results_writer_flush (results_writer_t *self, bool sync);

#endif
