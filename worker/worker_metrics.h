/*  worker_metrics: a worker's Prometheus text exposition (format 0.0.4),
    what --metrics serves at /metrics, so that a long-lived worker can be
    scraped (and autoscaled on) by itself, master or not.

    Names have the taskmill_worker_ prefix and base units; counters count
    from the worker's start, across jobs and masters. The thread series
    are the heartbeat's fields (threads_total, threads_min, threads_max,
    threads_grown, threads_shrunk) read from the same place, so /metrics
    and `taskmill status` agree. Labels with free text (the worker id, the
    master's endpoint) are on the info series only.

    Pure: it formats the values handed in; the worker counts them.
*/
#ifndef WORKER_METRICS_H_INCLUDED
#define WORKER_METRICS_H_INCLUDED

#include "tm_codec.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

//  What the worker has done and holds now.
typedef struct {
    const char *worker_id;              //  --id
    const char *incarnation;            //  this run's routing id
    const char *master;                 //  the tasks endpoint it dials
    uint64_t by_status [TM_STATUS_MAX + 1];     //  results made, indexed by tm_status_t
    uint64_t received;                  //  tasks taken from masters
    uint64_t results_sent;              //  results handed to the results socket
    uint64_t results_lost;              //  results the socket refused (their tasks go again)
    uint64_t garbage;                   //  malformed frames dropped (tasks, control)
    uint64_t stale;                     //  task frames of a job a newer one replaced
    size_t running;                     //  tasks that threads run now
    size_t queued;                      //  tasks held here waiting for a thread
    size_t threads;                     //  executor threads now
    size_t threads_min, threads_max;    //  an autoscaled pool's bounds (0: a fixed pool)
    uint64_t threads_grown;             //  the pool's growth and shrink events
    uint64_t threads_shrunk;
    uint32_t credit;                    //  the window last granted (0 while draining)
    bool draining;
} worker_metrics_values_t;

typedef struct _worker_metrics_t worker_metrics_t;

worker_metrics_t *worker_metrics_new (void);
void worker_metrics_destroy (worker_metrics_t **self_p);
//  Writes the exposition of values, replacing the last one.
void worker_metrics_update (worker_metrics_t *self, const worker_metrics_values_t *values);
//  The last exposition (borrowed; valid until the next update) and its
//  length in *size.
const char *worker_metrics_text (worker_metrics_t *self, size_t *size);

#endif
