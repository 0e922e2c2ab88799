/*  status: the master's status snapshot, as JSON, built once per tick and
    served as is to every admin request until the next (asking often must
    not slow the job). What `taskmill status` shows, and what /api/status
    will serve: the job's progress and rates, every worker incarnation the
    master knows, the last failures, every drop and duplicate counter;
    for the dashboard also latency percentiles and the rate over the last
    two minutes.

    It reads the tables it is given; it does not change them.
*/
#ifndef STATUS_H_INCLUDED
#define STATUS_H_INCLUDED

#include "dispatcher.h"
#include "lease_table.h"
#include "summary.h"
#include "tm_codec.h"
#include "worker_table.h"
#include <stdint.h>

#define STATUS_FAILURES 20          //  the last failures kept
#define STATUS_RATE_HISTORY 120     //  rate samples kept (about one a second)
#define STATUS_RUNNING 10           //  the longest-running tasks listed

typedef struct _status_t status_t;

//  The tables are borrowed and must outlive it.
status_t *status_new (const char *job_id, summary_t *summary, lease_table_t *leases,
                      dispatcher_t *dispatcher, worker_table_t *workers, int64_t start_us);
void status_destroy (status_t **self_p);
//  Remembers a task that ended not ok (the last STATUS_FAILURES are kept).
void status_failure (status_t *self, const lease_t *lease, tm_status_t status,
                     const char *error, const char *worker_id);
//  Builds the snapshot. total: tasks in the job, or -1 while the reader has
//  not reached its end; garbage: frames dropped so far outside the sink.
void status_update (status_t *self, int64_t now_us, int64_t total, uint64_t garbage);
//  The last snapshot (borrowed; valid until the next status_update).
const char *status_json (status_t *self);

#endif
