/*  outcome: what becomes of a task when something is heard of it: a result
    (final, or a retry), a lost copy (sent again, free or charged), an
    expired lease. The retry policy (attempts, backoff with a spread) and
    finality (the results line, the summary, the lease freed) live here and
    nowhere else. Third step of a task's path: sink -> master -> outcome ->
    results writer.

    It does not find lost copies (failover does) or send (the dispatcher
    does, from the queue this fills). Time comes in as now_us.
*/
#ifndef OUTCOME_H_INCLUDED
#define OUTCOME_H_INCLUDED

#include "dispatcher.h"
#include "lease_table.h"
#include "results_writer.h"
#include "summary.h"
#include "tm_codec.h"
#include <stdbool.h>
#include <stdint.h>

#define OUTCOME_FREE_RESENDS 2          //  copies lost unseen running sent again free; then charged
#define OUTCOME_BACKOFF_MAX_US 30000000 //  the longest a retry waits, before its spread
#define OUTCOME_SPREAD_US 400000        //  a copy lost unseen a second time waits up to this

typedef struct _outcome_t outcome_t;

//  Everything is borrowed and must outlive it. job_id: results of other
//  jobs are stale; retry_backoff_ms: the first retry's wait; seed: the
//  spread's (any number).
outcome_t *outcome_new (lease_table_t *leases, dispatcher_t *dispatcher,
                        results_writer_t *writer, summary_t *summary, const char *job_id,
                        uint32_t retry_backoff_ms, uint64_t seed);
void outcome_destroy (outcome_t **self_p);
//  A result from a worker: final if ok or its attempts are spent, else
//  retried; a duplicate, stale or unknown one is counted and dropped.
void outcome_result (outcome_t *self, const tm_result_t *result, int64_t now_us);
//  The copy of seq in flight was lost (failover): sent again free of charge,
//  ahead of the queue (the second time after a spread wait, to part it
//  from what it was sent with), or, if charged (or lost unseen too often),
//  as a retry; FAILED when its attempts are spent.
void outcome_lost (outcome_t *self, uint64_t seq, bool charged, int64_t now_us);
//  Leases ended by now_us: a retry whose wait is over is queued, an
//  expired lease is retried or ends TIMEOUT.
void outcome_expire (outcome_t *self, int64_t now_us);
//  How long attempt waits: base * 2^(attempt-2), capped, plus a spread of
//  up to twice that.
int64_t outcome_backoff_us (outcome_t *self, uint32_t attempt);
//  True once the results writer failed for good (logged once): the run
//  must stop with exit 3.
bool outcome_output_failed (outcome_t *self);

#endif
