/*  worker_table: what the master knows of each worker, from its heartbeats
    and results: when it was last heard from, how many threads it runs, and
    the seqs of this job it said it holds, in the order it runs them.

    The master sends over PUSH and cannot see which worker took a frame;
    heartbeats are how it learns. From them this table answers the two
    questions failover needs: which workers fell silent, and whether a task
    in flight is held by any worker still alive.

    It does not resend or charge tasks: the master decides that.
*/
#ifndef WORKER_TABLE_H_INCLUDED
#define WORKER_TABLE_H_INCLUDED

#include "tm_codec.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *id;             //  owned by the table
    int64_t last_seen_us;       //  last heartbeat or result
    int64_t heartbeat_us;       //  last heartbeat (0: none yet)
    bool backlog;               //  its last heartbeat said tasks wait unread
    bool draining;              //  ... that it takes no more tasks
    uint64_t last_batch;        //  ... the highest frame number it has read
    size_t threads;             //  executor threads, from its heartbeat
    uint64_t *held;             //  seqs of this job it holds, in run order
    size_t held_count;
} worker_info_t;

typedef struct _worker_table_t worker_table_t;

worker_table_t *worker_table_new (void);
void worker_table_destroy (worker_table_t **self_p);
//  Notes a message from worker id; adds it if new. Returns its entry.
worker_info_t *worker_table_seen (worker_table_t *self, const char *id, int64_t now_us);
//  Records a heartbeat; its held seqs count only if this_job.
void worker_table_heartbeat (worker_table_t *self, const tm_heartbeat_t *heartbeat,
                             bool this_job, int64_t now_us);
size_t worker_table_size (worker_table_t *self);
//  Sum over workers of max(floor, threads * per_thread).
size_t worker_table_credit (worker_table_t *self, size_t per_thread, size_t floor);
//  A worker silent for longer than timeout_us, or NULL. The caller removes
//  it with worker_table_remove before asking again.
worker_info_t *worker_table_silent (worker_table_t *self, int64_t now_us, int64_t timeout_us);
void worker_table_remove (worker_table_t *self, worker_info_t *worker);
//  How far the live workers account for what was sent: a task sent in a
//  frame numbered up to `frame` (each connection delivers in order), or
//  sent well before `heard_us` (each has reported since), is held by one of
//  them or done, or else lost.
typedef struct {
    uint64_t frame;             //  the lowest last_batch of workers taking tasks
    int64_t heard_us;           //  the oldest last heartbeat; 0 when one had
                                //  tasks unread, which time cannot account for
} worker_horizon_t;

//  False when nothing can be said: no workers, or one never sent a heartbeat.
bool worker_table_horizon (worker_table_t *self, worker_horizon_t *horizon);
//  Whether a live worker's last heartbeat lists seq. Valid until the next
//  heartbeat or removal.
bool worker_table_holds (worker_table_t *self, uint64_t seq);

#endif
