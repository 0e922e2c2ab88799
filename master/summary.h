/*  summary: the aggregate of a job: counts by status and by type, retries,
    drops, elapsed time and rate, latency percentiles, per-worker counts.
    Fed by the master for each final result; printed for humans at the end
    and written as JSON with --summary.
*/
#ifndef SUMMARY_H_INCLUDED
#define SUMMARY_H_INCLUDED

#include "histogram.h"
#include "tm_codec.h"
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
    SUMMARY_RETRIES,            //  attempts sent again after a failure or expiry
    SUMMARY_DUPLICATES,         //  results for a seq already final
    SUMMARY_STALE,              //  results from another job (an earlier master run)
    SUMMARY_UNKNOWN_SEQ,        //  results for a seq this master never issued
    SUMMARY_GARBAGE,            //  frames the sink dropped as malformed
    SUMMARY_LEASES_EXPIRED,     //  leases that ran out before a result came
    SUMMARY_REISSUED,           //  queued tasks of a lost worker sent again, uncharged
    SUMMARY_RESUMED,            //  tasks skipped as final in an earlier run (--resume)
    SUMMARY_INVALID_SKIPPED,    //  malformed job lines skipped, not run (--skip-invalid)
    SUMMARY_SPECULATIVE_LAUNCHED,   //  --speculate: copies of stragglers sent
    SUMMARY_SPECULATIVE_WON,    //  ... whose result came first
    SUMMARY_HANDSHAKES_FAILED,  //  tasks-socket peers refused or broken at the handshake (junk)
    SUMMARY_COUNTER_COUNT
} summary_counter_t;

typedef enum {
    SUMMARY_LATENCY,            //  first send to final result, every final result
    SUMMARY_DURATION            //  handler time (duration_us) of final results from workers
} summary_histogram_t;

typedef struct _summary_t summary_t;

summary_t *summary_new (const char *job_id);
void summary_destroy (summary_t **self_p);
//  Records one final result. latency_us: from first send to final result.
void summary_add (summary_t *self, const char *type, tm_status_t status,
                  const char *worker_id, int64_t latency_us);
//  Records the handler time of a final result a worker sent.
void summary_add_duration (summary_t *self, int64_t duration_us);
void summary_count (summary_t *self, summary_counter_t counter, uint64_t amount);
uint64_t summary_counter (summary_t *self, summary_counter_t counter);
//  Final results so far, and how many of them were not ok.
uint64_t summary_done (summary_t *self);
uint64_t summary_not_ok (summary_t *self);
//  Final results so far that ended with status.
uint64_t summary_by_status (summary_t *self, tm_status_t status);
//  Latency at quantile q (0..1) in microseconds, within ~6%.
int64_t summary_latency_us (summary_t *self, double q);
//  Fixed-bucket histogram of latency or handler time (borrowed; /metrics).
const histogram_t *summary_histogram (summary_t *self, summary_histogram_t which);
//  Freezes elapsed time and the exit status for reporting.
void summary_finish (summary_t *self, int64_t elapsed_us, int exit_status);
//  Human summary (stderr by convention).
void summary_print (summary_t *self, FILE *out);
//  Adds value (taken over) to the JSON summary under key, e.g. "reduce".
void summary_attach (summary_t *self, const char *key, json_t *value);
//  JSON summary to path. Returns 0, or -1 after logging.
int summary_write_json (summary_t *self, const char *path);

#endif
