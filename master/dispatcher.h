/*  dispatcher: the master's send queue, and sending from it to workers over
    the tasks ROUTER, each worker addressed by its routing id and sent no
    more than its credit window leaves room for (the window minus the
    leases it holds). Batches as large as that room allows (up to
    TM_MAX_BATCH_TASKS and a byte budget, TM_MAX_BATCH_BYTES by default), so a fast worker gets big
    frames and an idle cluster single tasks. Never blocks: a worker whose
    connection is full waits for the next flush; one whose connection is
    gone is marked unreachable until it grants credit again.

    Second step of a task's path: job_reader -> lease_table -> dispatcher ->
    tasks socket -> worker. It does not read the job or handle results.
*/
#ifndef DISPATCHER_H_INCLUDED
#define DISPATCHER_H_INCLUDED

#include "lease_table.h"
#include "worker_table.h"
#include <czmq.h>

typedef struct _dispatcher_t dispatcher_t;

//  tasks, leases and workers are borrowed and must outlive the dispatcher.
dispatcher_t *dispatcher_new (zsock_t *tasks, lease_table_t *leases, worker_table_t *workers,
                              const char *job_id, int64_t lease_grace_us);
void dispatcher_destroy (dispatcher_t **self_p);
//  A batch of more than one task holds under batch_bytes of payload
//  (default TM_MAX_BATCH_BYTES; --max-frame lowers it: TM_BATCH_BYTES).
void dispatcher_set_batch_bytes (dispatcher_t *self, size_t batch_bytes);
//  Queues a lease (new or sent again) for sending; marks it QUEUED.
void dispatcher_enqueue (dispatcher_t *self, lease_t *lease);
//  Queues a lease ahead of every other (a copy lost, a retry whose wait is
//  over): what was sent once goes before what was never sent.
void dispatcher_enqueue_first (dispatcher_t *self, lease_t *lease);
//  Tasks a worker has room for now: its window less what it holds.
size_t dispatcher_room (dispatcher_t *self, const worker_info_t *worker);
//  Tasks all workers together have room for now.
size_t dispatcher_room_total (dispatcher_t *self);
//  Sends as much of the queue as the workers' credit allows. Returns the
//  number of tasks sent.
size_t dispatcher_flush (dispatcher_t *self, int64_t now_us);
//  Sends worker an empty, numbered batch (see Credit.epoch). Returns 0, or
//  -1 if its connection is gone (EHOSTUNREACH) and it is now unreachable.
//  A marker its full connection refused is due again (marker_due).
int dispatcher_send_marker (dispatcher_t *self, worker_info_t *worker);
//  Sends the markers that are due (a task batch sent since counts as one).
void dispatcher_send_due_markers (dispatcher_t *self);
//  Sends worker a copy of lease (SENT to another worker), leaving the lease
//  as it is (--speculate). Returns 0, or -1 if the send failed.
int dispatcher_send_copy (dispatcher_t *self, worker_info_t *worker, const lease_t *lease);
//  Tasks waiting to be sent.
size_t dispatcher_queued (dispatcher_t *self);
//  Tasks sent in total.
uint64_t dispatcher_sent (dispatcher_t *self);

#endif
