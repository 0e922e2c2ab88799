/*  dispatcher: sends queued tasks to workers over the tasks PUSH socket, in
    batches when the queue is deep and one by one when it is shallow, and
    never blocks: a send that would block leaves the rest queued for the next
    POLLOUT. Second step of a task's path: job_reader -> lease_table ->
    dispatcher -> tasks socket -> worker.

    It does not read the job or handle results; the master decides what to
    queue (new tasks, retries, expired leases).
*/
#ifndef DISPATCHER_H_INCLUDED
#define DISPATCHER_H_INCLUDED

#include "lease_table.h"
#include <czmq.h>

#define DISPATCHER_MAX_BATCH 256

typedef struct _dispatcher_t dispatcher_t;

//  tasks and leases are borrowed and must outlive the dispatcher.
dispatcher_t *dispatcher_new (zsock_t *tasks, lease_table_t *leases,
                              const char *job_id, int64_t lease_grace_us);
void dispatcher_destroy (dispatcher_t **self_p);
//  Queues a lease (new or retried) for sending; marks it QUEUED.
void dispatcher_enqueue (dispatcher_t *self, lease_t *lease);
//  Sends as much of the queue as the socket takes now. workers is how many
//  workers are known to be alive (0 if unknown), to size batches so every
//  worker gets a share. Returns the number of tasks sent.
size_t dispatcher_flush (dispatcher_t *self, int64_t now_us, size_t workers);
//  Tasks waiting to be sent.
size_t dispatcher_queued (dispatcher_t *self);
//  Tasks sent in total.
uint64_t dispatcher_sent (dispatcher_t *self);
//  Frames sent in total: the number of the last one (they count from 1).
uint64_t dispatcher_frames (dispatcher_t *self);

#endif
