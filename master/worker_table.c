/*  worker_table: a hash of worker id -> worker_info_t. The union of held
    seqs is a sorted array, rebuilt only when asked after a change: sweeps
    ask once a second, heartbeats come far more often.
*/
#include "worker_table.h"
#include <czmq.h>

struct _worker_table_t {
    zhashx_t *workers;          //  id -> worker_info_t
    uint64_t *held;             //  sorted union of every worker's held seqs
    size_t held_count;
    size_t held_max;
    bool held_stale;            //  a heartbeat or removal since the last sort
};

static void
s_info_free (void **item)
{
    worker_info_t *worker = (worker_info_t *) *item;
    if (worker) {
        free (worker->held);
        free ((char *) worker->id);
        free (worker);
        *item = NULL;
    }
}

worker_table_t *
worker_table_new (void)
{
    worker_table_t *self = (worker_table_t *) zmalloc (sizeof (worker_table_t));
    self->workers = zhashx_new ();
    zhashx_set_destructor (self->workers, s_info_free);
    return self;
}

void
worker_table_destroy (worker_table_t **self_p)
{
    assert (self_p);
    worker_table_t *self = *self_p;
    if (self) {
        zhashx_destroy (&self->workers);
        free (self->held);
        free (self);
        *self_p = NULL;
    }
}

worker_info_t *
worker_table_seen (worker_table_t *self, const char *id, int64_t now_us)
{
    worker_info_t *worker = (worker_info_t *) zhashx_lookup (self->workers, id);
    if (!worker) {
        worker = (worker_info_t *) zmalloc (sizeof (worker_info_t));
        worker->id = strdup (id);
        assert (worker->id);
        zhashx_insert (self->workers, id, worker);
        zsys_info ("worker joined: %s", id);
    }
    worker->last_seen_us = now_us;
    return worker;
}

void
worker_table_heartbeat (worker_table_t *self, const tm_heartbeat_t *heartbeat,
                        bool this_job, int64_t now_us)
{
    worker_info_t *worker = worker_table_seen (self, heartbeat->worker_id, now_us);
    worker->heartbeat_us = now_us;
    worker->backlog = heartbeat->backlog;
    worker->draining = heartbeat->draining;
    worker->last_batch = heartbeat->last_batch;
    worker->threads = heartbeat->threads_total;
    size_t count = this_job ? heartbeat->held_count : 0;
    worker->held = (uint64_t *) realloc (worker->held, (count + 1) * sizeof (uint64_t));
    assert (worker->held);
    if (count)
        memcpy (worker->held, heartbeat->held_seqs, count * sizeof (uint64_t));
    worker->held_count = count;
    self->held_stale = true;
}

size_t
worker_table_size (worker_table_t *self)
{
    return zhashx_size (self->workers);
}

size_t
worker_table_credit (worker_table_t *self, size_t per_thread, size_t floor)
{
    size_t credit = 0;
    for (worker_info_t *worker = (worker_info_t *) zhashx_first (self->workers);
         worker; worker = (worker_info_t *) zhashx_next (self->workers)) {
        size_t share = worker->threads * per_thread;
        credit += share > floor ? share : floor;
    }
    return credit;
}

worker_info_t *
worker_table_silent (worker_table_t *self, int64_t now_us, int64_t timeout_us)
{
    for (worker_info_t *worker = (worker_info_t *) zhashx_first (self->workers);
         worker; worker = (worker_info_t *) zhashx_next (self->workers))
        if (now_us - worker->last_seen_us > timeout_us)
            return worker;
    return NULL;
}

void
worker_table_remove (worker_table_t *self, worker_info_t *worker)
{
    self->held_stale = true;
    zhashx_delete (self->workers, worker->id);
}

bool
worker_table_horizon (worker_table_t *self, worker_horizon_t *horizon)
{
    *horizon = (worker_horizon_t) { UINT64_MAX, INT64_MAX };
    bool backlog = false;
    for (worker_info_t *worker = (worker_info_t *) zhashx_first (self->workers);
         worker; worker = (worker_info_t *) zhashx_next (self->workers)) {
        if (worker->heartbeat_us == 0)
            return false;
        backlog |= worker->backlog;
        if (worker->heartbeat_us < horizon->heard_us)
            horizon->heard_us = worker->heartbeat_us;
        //  A draining worker has left the tasks socket: no frame reaches it.
        if (!worker->draining && worker->last_batch < horizon->frame)
            horizon->frame = worker->last_batch;
    }
    if (backlog)
        horizon->heard_us = 0;
    return zhashx_size (self->workers) > 0;
}

static int
s_compare_seqs (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

static void
s_sort_held (worker_table_t *self)
{
    size_t total = 0;
    for (worker_info_t *worker = (worker_info_t *) zhashx_first (self->workers);
         worker; worker = (worker_info_t *) zhashx_next (self->workers))
        total += worker->held_count;
    if (total > self->held_max) {
        free (self->held);
        self->held_max = total;
        self->held = (uint64_t *) malloc (total * sizeof (uint64_t));
        assert (self->held);
    }
    self->held_count = 0;
    for (worker_info_t *worker = (worker_info_t *) zhashx_first (self->workers);
         worker; worker = (worker_info_t *) zhashx_next (self->workers))
        if (worker->held_count) {
            memcpy (self->held + self->held_count, worker->held,
                    worker->held_count * sizeof (uint64_t));
            self->held_count += worker->held_count;
        }
    if (self->held_count > 1)
        qsort (self->held, self->held_count, sizeof (uint64_t), s_compare_seqs);
    self->held_stale = false;
}

bool
worker_table_holds (worker_table_t *self, uint64_t seq)
{
    if (self->held_stale)
        s_sort_held (self);
    return self->held_count
        && bsearch (&seq, self->held, self->held_count, sizeof (uint64_t), s_compare_seqs);
}
