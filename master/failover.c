/*  failover: heartbeat reconciliation and worker loss. */
#include "failover.h"
#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void
failover_plan_init (failover_plan_t *self, size_t max)
{
    self->free_seqs = (uint64_t *) malloc ((max + 1) * sizeof (uint64_t));
    self->charged = (uint64_t *) malloc ((max + 1) * sizeof (uint64_t));
    assert (self->free_seqs && self->charged);
    self->free_count = self->charged_count = 0;
    self->max = max;
}

void
failover_plan_fini (failover_plan_t *self)
{
    free (self->free_seqs);
    free (self->charged);
    self->free_seqs = self->charged = NULL;
}

static int
s_compare_seqs (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y ? -1 : x > y;
}

static bool
s_listed (const uint64_t *sorted, size_t count, uint64_t seq)
{
    return count && bsearch (&seq, sorted, count, sizeof (uint64_t), s_compare_seqs);
}

void
failover_heartbeat (lease_table_t *leases, uint32_t owner, const tm_heartbeat_t *heartbeat,
                    int64_t now_us, int64_t grace_us, failover_plan_t *plan)
{
    plan->free_count = plan->charged_count = 0;
    size_t owned_count = lease_table_owned_count (leases, owner);
    if (owned_count == 0)
        return;
    //  Sorted copies, so each owned lease is one binary search: a worker
    //  may list thousands of seqs once a second.
    size_t held_count = heartbeat->held_count, running_count = heartbeat->running_count;
    uint64_t *sorted = (uint64_t *) malloc ((held_count + running_count + 1) * sizeof (uint64_t));
    lease_t **owned = (lease_t **) malloc (owned_count * sizeof (lease_t *));
    assert (sorted && owned);
    uint64_t *held = sorted, *running = sorted + held_count;
    if (held_count)
        memcpy (held, heartbeat->held_seqs, held_count * sizeof (uint64_t));
    if (running_count)
        memcpy (running, heartbeat->running_seqs, running_count * sizeof (uint64_t));
    qsort (held, held_count, sizeof (uint64_t), s_compare_seqs);
    qsort (running, running_count, sizeof (uint64_t), s_compare_seqs);
    owned_count = lease_table_owned (leases, owner, owned, owned_count);
    for (size_t i = 0; i < owned_count; i++) {
        lease_t *lease = owned [i];
        if (s_listed (held, held_count, lease->seq))
            lease_table_heard (leases, lease, s_listed (running, running_count, lease->seq),
                               now_us, grace_us);
        else
        if (lease->frame <= heartbeat->last_batch && plan->free_count < plan->max)
            plan->free_seqs [plan->free_count++] = lease->seq;
    }
    free (owned);
    free (sorted);
}

void
failover_worker_lost (lease_table_t *leases, uint32_t owner, failover_plan_t *plan)
{
    plan->free_count = plan->charged_count = 0;
    size_t owned_count = lease_table_owned_count (leases, owner);
    if (owned_count == 0)
        return;
    lease_t **owned = (lease_t **) malloc (owned_count * sizeof (lease_t *));
    assert (owned);
    owned_count = lease_table_owned (leases, owner, owned, owned_count);
    for (size_t i = 0; i < owned_count; i++) {
        if (owned [i]->running && plan->charged_count < plan->max)
            plan->charged [plan->charged_count++] = owned [i]->seq;
        else
        if (!owned [i]->running && plan->free_count < plan->max)
            plan->free_seqs [plan->free_count++] = owned [i]->seq;
    }
    free (owned);
}
