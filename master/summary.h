/*  summary: the aggregate of a job: counts by status and by type, retries,
    drops, elapsed time and rate; latency, queue wait and run time
    percentiles; per-type and per-worker counts and busy time; throughput
    over time. Fed by the master for each final result; printed for humans
    at the end, written as JSON with --summary, and read by the status
    snapshot and /metrics while the job runs.

    Bounded whatever the job: types and worker ids are free text, so past
    SUMMARY_MAX_TYPES types (SUMMARY_MAX_WORKERS workers) the rest are
    counted together as "other"; percentiles come from log-linear
    histograms (loghist.h: within 6.25%), throughput from a fixed number of
    buckets (throughput.h).
*/
#ifndef SUMMARY_H_INCLUDED
#define SUMMARY_H_INCLUDED

#include "histogram.h"
#include "loghist.h"
#include "tm_codec.h"
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#define SUMMARY_MAX_TYPES 32
#define SUMMARY_MAX_WORKERS 256
#define SUMMARY_OTHER "other"       //  where the types (workers) past the cap go

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

//  The durations measured for each final result.
typedef enum {
    SUMMARY_LATENCY,            //  first send to final result, every final result
    SUMMARY_DURATION,           //  run time: the handler's (duration_us), results from workers
    SUMMARY_QUEUE_WAIT,         //  read from the job to final result, less the run time (last:
                                //  it has no fixed buckets)
    SUMMARY_QUANTITIES
} summary_histogram_t;

//  One final result.
typedef struct {
    const char *type;
    tm_status_t status;
    const char *worker_id;      //  NULL: the master ended it (no worker's result)
    int64_t latency_us;         //  first send to now
    int64_t run_us;             //  the handler's time; only with a worker_id
    int64_t wait_us;            //  queue wait; only with a worker_id
    int64_t now_us;             //  monotonic: when it became final (throughput)
} summary_result_t;

typedef struct _summary_t summary_t;

//  start_us: monotonic, the job's start (throughput's second 0).
summary_t *summary_new (const char *job_id, int64_t start_us);
void summary_destroy (summary_t **self_p);
//  Records one final result.
void summary_add (summary_t *self, const summary_result_t *result);
void summary_count (summary_t *self, summary_counter_t counter, uint64_t amount);
uint64_t summary_counter (summary_t *self, summary_counter_t counter);
//  Final results so far, and how many of them were not ok.
uint64_t summary_done (summary_t *self);
uint64_t summary_not_ok (summary_t *self);
//  Final results so far that ended with status.
uint64_t summary_by_status (summary_t *self, tm_status_t status);
//  Latency at quantile q (0..1) in microseconds, within 6.25% above.
int64_t summary_latency_us (summary_t *self, double q);
//  Percentiles of a quantity, within 6.25% above.
loghist_summary_t summary_percentiles (summary_t *self, summary_histogram_t which);
//  Fixed-bucket histogram of latency or run time (borrowed; /metrics, the
//  dashboard; queue wait has none).
const histogram_t *summary_histogram (summary_t *self, summary_histogram_t which);

//  JSON pieces the status snapshot shares with the summary file (new
//  references): {"p50","p90","p99","max"} of which; {"bucket_s", "counts"}
//  of the buckets brought up to now_us; {type: {"done", "by_status",
//  "busy_s"}}; {worker: {"done", "not_ok", "busy_s"}}.
json_t *summary_percentiles_json (summary_t *self, summary_histogram_t which);
json_t *summary_throughput_json (summary_t *self, int64_t now_us);
json_t *summary_types_json (summary_t *self);
json_t *summary_workers_json (summary_t *self);
//  Final results the master ended itself (a spent lease, a lost worker):
//  they have no worker, no run time and no queue wait.
uint64_t summary_no_worker (summary_t *self);

//  Freezes elapsed time and the exit status for reporting.
void summary_finish (summary_t *self, int64_t elapsed_us, int exit_status);
//  Human summary (stderr by convention).
void summary_print (summary_t *self, FILE *out);
//  Adds value (taken over) to the JSON summary under key, e.g. "reduce".
void summary_attach (summary_t *self, const char *key, json_t *value);
//  JSON summary to path. Returns 0, or -1 after logging.
int summary_write_json (summary_t *self, const char *path);

#endif
