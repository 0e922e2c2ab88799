/*  metrics: the master's Prometheus text exposition (format 0.0.4), what
    /metrics serves. Built once per tick beside the status snapshot, from
    the same tables, and served as is until the next: a scrape costs the
    job a copy, never a pass over the tables.

    Names have the taskmill_ prefix and base units (seconds). No label takes
    free text from the wire or the job (no worker id, no task type), so the
    series are bounded whatever the job: status, reason and state have a
    fixed set of values, job_id one.

    It reads the tables it is given; it does not change them.
*/
#ifndef METRICS_H_INCLUDED
#define METRICS_H_INCLUDED

#include "dispatcher.h"
#include "lease_table.h"
#include "summary.h"
#include "worker_table.h"
#include <stddef.h>
#include <stdint.h>

typedef struct _metrics_t metrics_t;

//  The tables are borrowed and must outlive it.
metrics_t *metrics_new (const char *job_id, summary_t *summary, lease_table_t *leases,
                        dispatcher_t *dispatcher, worker_table_t *workers);
void metrics_destroy (metrics_t **self_p);
//  Builds the text. total: tasks in the job, or -1 while the reader has not
//  reached its end; garbage: malformed frames from workers dropped so far.
void metrics_update (metrics_t *self, int64_t total, uint64_t garbage);
//  The last text (borrowed; valid until the next metrics_update) and its
//  length in *size.
const char *metrics_text (metrics_t *self, size_t *size);

#endif
