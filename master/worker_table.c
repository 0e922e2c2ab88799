/*  worker_table: a hash of routing id -> worker_info_t, and an array of
    slot -> entry. Slots are reused after an entry is forgotten, so the
    lease table's per-owner arrays stay as small as the largest cluster.
*/
#include "worker_table.h"
#include <czmq.h>

#define S_MAX_WORKERS 65536         //  entries at most: a flood of fake ids is refused

struct _worker_table_t {
    zhashx_t *workers;              //  incarnation -> worker_info_t
    worker_info_t **slots;          //  slot -> entry (NULL: free); slot 0 unused
    size_t slot_count;
    size_t live;
};

static void
s_info_free (void **item)
{
    free (*item);
    *item = NULL;
}

worker_table_t *
worker_table_new (void)
{
    worker_table_t *self = (worker_table_t *) zmalloc (sizeof (worker_table_t));
    self->workers = zhashx_new ();
    zhashx_set_destructor (self->workers, s_info_free);
    self->slot_count = 16;
    self->slots = (worker_info_t **) zmalloc (self->slot_count * sizeof (worker_info_t *));
    return self;
}

void
worker_table_destroy (worker_table_t **self_p)
{
    assert (self_p);
    worker_table_t *self = *self_p;
    if (self) {
        zhashx_destroy (&self->workers);
        free (self->slots);
        free (self);
        *self_p = NULL;
    }
}

static uint32_t
s_free_slot (worker_table_t *self)
{
    for (size_t slot = 1; slot < self->slot_count; slot++)
        if (!self->slots [slot])
            return (uint32_t) slot;
    size_t slot = self->slot_count;
    self->slot_count *= 2;
    self->slots = (worker_info_t **) realloc (self->slots,
                                              self->slot_count * sizeof (worker_info_t *));
    assert (self->slots);
    memset (self->slots + slot, 0, (self->slot_count - slot) * sizeof (worker_info_t *));
    return (uint32_t) slot;
}

static worker_info_t *
s_add (worker_table_t *self, const char *incarnation, const char *id, int64_t now_us)
{
    worker_info_t *worker = (worker_info_t *) zmalloc (sizeof (worker_info_t));
    snprintf (worker->incarnation, sizeof worker->incarnation, "%s", incarnation);
    snprintf (worker->id, sizeof worker->id, "%s", id);
    worker->slot = s_free_slot (self);
    worker->state = WORKER_LIVE;
    worker->joined_us = now_us;
    worker->fd = -1;
    self->slots [worker->slot] = worker;
    zhashx_insert (self->workers, worker->incarnation, worker);
    self->live++;
    return worker;
}

//  The LIVE or DRAINING entry with worker id id, other than except.
static worker_info_t *
s_by_id (worker_table_t *self, const char *id, worker_info_t *except)
{
    for (worker_info_t *worker = (worker_info_t *) zhashx_first (self->workers);
         worker; worker = (worker_info_t *) zhashx_next (self->workers))
        if (worker != except && worker->state != WORKER_LOST && strcmp (worker->id, id) == 0)
            return worker;
    return NULL;
}

static void
s_set_state (worker_table_t *self, worker_info_t *worker, worker_state_t state)
{
    self->live -= worker->state == WORKER_LIVE;
    worker->state = state;
    self->live += state == WORKER_LIVE;
}

worker_credit_t
worker_table_credit (worker_table_t *self, const char *incarnation, const tm_credit_t *credit,
                     int fd, int64_t now_us, worker_info_t **worker_p,
                     worker_info_t **replaced)
{
    *replaced = NULL;
    worker_credit_t outcome = WORKER_CREDIT_KNOWN;
    worker_info_t *worker = (worker_info_t *) zhashx_lookup (self->workers, incarnation);
    if (!worker) {
        if (zhashx_size (self->workers) >= S_MAX_WORKERS) {
            *worker_p = NULL;
            return WORKER_CREDIT_REFUSED;
        }
        worker = s_add (self, incarnation, credit->worker_id, now_us);
        *replaced = s_by_id (self, credit->worker_id, worker);
        if (*replaced)
            (*replaced)->replaced = true;
        outcome = WORKER_CREDIT_NEW;
    }
    *worker_p = worker;
    if (worker->state == WORKER_LOST)
        return outcome;     //  only a heartbeat brings it back
    worker->credit = credit->credit;
    worker->threads = credit->threads;
    if (credit->epoch > worker->epoch) {
        if (outcome == WORKER_CREDIT_KNOWN && worker->epoch)
            outcome = WORKER_CREDIT_RECONNECTED;
        worker->epoch = credit->epoch;
    }
    worker->stamp = credit->stamp;
    worker->reachable = true;
    worker->fd = fd;
    worker->last_heard_us = now_us;
    if (credit->draining && worker->state == WORKER_LIVE)
        s_set_state (self, worker, WORKER_DRAINING);
    return outcome;
}

worker_info_t *
worker_table_heartbeat (worker_table_t *self, const tm_heartbeat_t *heartbeat, int64_t now_us)
{
    worker_info_t *worker = (worker_info_t *) zhashx_lookup (self->workers,
                                                             heartbeat->incarnation);
    if (!worker || worker->replaced)
        return NULL;
    if (worker->state == WORKER_LOST) {
        s_set_state (self, worker, WORKER_LIVE);
        worker->revived = true;
    }
    if (heartbeat->draining && worker->state == WORKER_LIVE)
        s_set_state (self, worker, WORKER_DRAINING);
    snprintf (worker->host, sizeof worker->host, "%s", heartbeat->host);
    worker->pid = heartbeat->pid;
    worker->threads = heartbeat->threads_total;
    worker->threads_busy = heartbeat->threads_busy;
    worker->threads_min = heartbeat->threads_min;
    worker->threads_max = heartbeat->threads_max;
    worker->threads_grown = heartbeat->threads_grown;
    worker->threads_shrunk = heartbeat->threads_shrunk;
    worker->heartbeat_seen = true;
    worker->last_heard_us = now_us;
    worker->heartbeat_us = now_us;
    return worker;
}

worker_info_t *
worker_table_by_slot (worker_table_t *self, uint32_t slot)
{
    return slot < self->slot_count ? self->slots [slot] : NULL;
}

size_t
worker_table_slots (worker_table_t *self)
{
    return self->slot_count;
}

worker_info_t *
worker_table_by_fd (worker_table_t *self, int fd)
{
    for (worker_info_t *worker = (worker_info_t *) zhashx_first (self->workers);
         worker; worker = (worker_info_t *) zhashx_next (self->workers))
        if (worker->state != WORKER_LOST && worker->fd == fd)
            return worker;
    return NULL;
}

worker_info_t *
worker_table_silent (worker_table_t *self, int64_t now_us, int64_t timeout_us)
{
    for (worker_info_t *worker = (worker_info_t *) zhashx_first (self->workers);
         worker; worker = (worker_info_t *) zhashx_next (self->workers))
        if (worker->state != WORKER_LOST && now_us - worker->last_heard_us > timeout_us)
            return worker;
    return NULL;
}

void
worker_table_lose (worker_table_t *self, worker_info_t *worker, int64_t now_us)
{
    s_set_state (self, worker, WORKER_LOST);
    worker->lost_us = now_us;
    worker->reachable = false;
    worker->credit = 0;
}

void
worker_table_forget (worker_table_t *self, int64_t now_us, int64_t keep_us)
{
    //  zhashx cannot delete under its own cursor: find one, delete, look again.
    while (true) {
        worker_info_t *stale = NULL;
        for (worker_info_t *worker = (worker_info_t *) zhashx_first (self->workers);
             worker && !stale; worker = (worker_info_t *) zhashx_next (self->workers))
            if (worker->state == WORKER_LOST && now_us - worker->lost_us > keep_us)
                stale = worker;
        if (!stale)
            return;
        self->slots [stale->slot] = NULL;
        zhashx_delete (self->workers, stale->incarnation);
    }
}

size_t
worker_table_live (worker_table_t *self)
{
    return self->live;
}

size_t
worker_table_size (worker_table_t *self)
{
    return zhashx_size (self->workers);
}

worker_info_t *
worker_table_first (worker_table_t *self)
{
    return (worker_info_t *) zhashx_first (self->workers);
}

worker_info_t *
worker_table_next (worker_table_t *self)
{
    return (worker_info_t *) zhashx_next (self->workers);
}
