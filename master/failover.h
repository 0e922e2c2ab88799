/*  failover: what a worker's heartbeat or its loss means for the leases
    sent to it. Exact, because the master addresses each worker and the
    lease table files every lease under the worker it went to:

    - a heartbeat lists what the worker holds and which of those run; a
      lease sent to it in a frame it has read past (frames to one worker
      arrive in order) that it neither lists nor answered was lost (a
      dropped connection, a result that could not be sent) and goes again
      free of charge; listed ones are kept alive (a task queued at a live
      worker does not expire);
    - a lost worker's leases all go again: the ones its last heartbeat said
      were running are charged an attempt (one of them may be what killed
      it), the rest go free.

    Pure functions of the tables and now_us: no sockets, no clock. The
    master applies the outcome (queue, retry, give up, count).
*/
#ifndef FAILOVER_H_INCLUDED
#define FAILOVER_H_INCLUDED

#include "lease_table.h"
#include "tm_codec.h"
#include <stddef.h>
#include <stdint.h>

//  Seqs to send again: `free_seqs` free of charge, `charged` with an attempt.
typedef struct {
    uint64_t *free_seqs;
    size_t free_count;
    uint64_t *charged;
    size_t charged_count;
    size_t max;                 //  room in each array
} failover_plan_t;

//  A plan with room for max seqs in each list.
void failover_plan_init (failover_plan_t *self, size_t max);
void failover_plan_fini (failover_plan_t *self);

//  Applies heartbeat (from the worker filed as owner; its job is the
//  master's) to that worker's leases: listed ones heard (running or not),
//  unlisted ones of frames up to its last_batch planned as free re-sends.
//  Seqs it lists that were not sent to it change nothing.
void failover_heartbeat (lease_table_t *leases, uint32_t owner, const tm_heartbeat_t *heartbeat,
                         int64_t now_us, int64_t grace_us, failover_plan_t *plan);
//  The worker filed as owner is gone: plans every lease sent to it,
//  charged if its last heartbeat said it was running, else free.
void failover_worker_lost (lease_table_t *leases, uint32_t owner, failover_plan_t *plan);

#endif
