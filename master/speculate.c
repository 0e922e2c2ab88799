/*  speculate: per-type run-time histograms and the straggler scan. */
#include "speculate.h"
#include "tm_log.h"
#include <czmq.h>

#define S_BUCKETS 96                //  4 a power of two, from 1 µs to ~2^24 s

typedef struct {
    uint64_t buckets [S_BUCKETS];
    uint64_t count;
} s_histogram_t;

struct _speculate_t {
    lease_table_t *leases;          //  borrowed
    dispatcher_t *dispatcher;       //  borrowed
    worker_table_t *workers;        //  borrowed
    int64_t min_us;
    bool exec;
    zhashx_t *types;                //  type -> s_histogram_t
    lease_t **scratch;              //  one worker's leases
    size_t scratch_max;
};

static void
s_free_histogram (void **item)
{
    free (*item);
    *item = NULL;
}

speculate_t *
speculate_new (lease_table_t *leases, dispatcher_t *dispatcher, worker_table_t *workers,
               int64_t min_us, bool exec)
{
    speculate_t *self = (speculate_t *) zmalloc (sizeof (speculate_t));
    self->leases = leases;
    self->dispatcher = dispatcher;
    self->workers = workers;
    self->min_us = min_us > 0 ? min_us : SPECULATE_DEFAULT_MIN_US;
    self->exec = exec;
    self->types = zhashx_new ();
    zhashx_set_destructor (self->types, s_free_histogram);
    self->scratch_max = lease_table_capacity (leases);
    self->scratch = (lease_t **) zmalloc (self->scratch_max * sizeof (lease_t *));
    return self;
}

void
speculate_destroy (speculate_t **self_p)
{
    assert (self_p);
    speculate_t *self = *self_p;
    if (self) {
        zhashx_destroy (&self->types);
        free (self->scratch);
        free (self);
        *self_p = NULL;
    }
}

//  Bucket b holds [2^(b/4) * (1 + (b%4)/4) µs ...): within a quarter.
static size_t
s_bucket (int64_t us)
{
    if (us < 1)
        return 0;
    size_t power = 63 - (size_t) __builtin_clzll ((unsigned long long) us);
    size_t quarter = power >= 2 ? (size_t) ((us >> (power - 2)) & 3) : 0;
    size_t bucket = power * 4 + quarter;
    return bucket < S_BUCKETS ? bucket : S_BUCKETS - 1;
}

static int64_t
s_bucket_low (size_t bucket)
{
    int64_t base = 1ll << (bucket / 4);
    return base + base / 4 * (int64_t) (bucket % 4);
}

void
speculate_observe (speculate_t *self, const char *type, int64_t duration_us)
{
    s_histogram_t *histogram = (s_histogram_t *) zhashx_lookup (self->types, type);
    if (!histogram) {
        //  Types are free text: past 1,024 of them, new ones are not timed
        //  (and so never copied).
        if (zhashx_size (self->types) >= 1024)
            return;
        histogram = (s_histogram_t *) zmalloc (sizeof (s_histogram_t));
        zhashx_insert (self->types, type, histogram);
    }
    histogram->buckets [s_bucket (duration_us)]++;
    histogram->count++;
}

int64_t
speculate_median_us (speculate_t *self, const char *type)
{
    s_histogram_t *histogram = (s_histogram_t *) zhashx_lookup (self->types, type);
    if (!histogram || histogram->count < SPECULATE_MIN_SAMPLES)
        return -1;
    uint64_t seen = 0;
    for (size_t b = 0; b < S_BUCKETS; b++) {
        seen += histogram->buckets [b];
        if (seen * 2 >= histogram->count)
            return s_bucket_low (b);
    }
    return -1;
}

//  A worker other than slot with a thread to spare: live, reachable,
//  holding fewer tasks than its threads, a thread idle at its last
//  heartbeat, and heard from since its last copy. NULL if none.
static worker_info_t *
s_idle_worker (speculate_t *self, uint32_t slot)
{
    for (worker_info_t *worker = worker_table_first (self->workers);
         worker; worker = worker_table_next (self->workers))
        if (worker->slot != slot && worker->state == WORKER_LIVE && worker->reachable
        &&  worker->credit > 0
        &&  lease_table_owned_count (self->leases, worker->slot) < worker->threads
        &&  worker->threads_busy < worker->threads && worker->heartbeat_us > worker->copy_sent_us)
            return worker;
    return NULL;
}

//  Copies in flight now, and the cap: a tenth of the workers' credit, at
//  least two.
static void
s_copies (speculate_t *self, size_t *copies, size_t *cap)
{
    size_t credit = 0;
    *copies = 0;
    for (worker_info_t *worker = worker_table_first (self->workers);
         worker; worker = worker_table_next (self->workers)) {
        credit += worker->state == WORKER_LIVE ? worker->credit : 0;
        size_t count = lease_table_owned (self->leases, worker->slot, self->scratch,
                                          self->scratch_max);
        for (size_t i = 0; i < count; i++)
            *copies += self->scratch [i]->copy_owner != 0;
    }
    *cap = credit / 10 > 2 ? credit / 10 : 2;
}

static bool
s_straggler (speculate_t *self, const lease_t *lease, int64_t now_us)
{
    if (!lease->running || lease->copy_owner || (!self->exec && strcmp (lease->type, "exec") == 0))
        return false;
    int64_t median_us = speculate_median_us (self, lease->type);
    int64_t ran_us = now_us - lease->running_since_us;
    return median_us >= 0 && ran_us > self->min_us && ran_us > SPECULATE_FACTOR * median_us;
}

size_t
speculate_tick (speculate_t *self, int64_t now_us)
{
    if (dispatcher_queued (self->dispatcher) > 0)
        return 0;
    size_t copies, cap, sent = 0;
    s_copies (self, &copies, &cap);
    size_t slots = worker_table_slots (self->workers);
    for (uint32_t slot = 1; slot < slots && copies + sent < cap; slot++) {
        if (!worker_table_by_slot (self->workers, slot))
            continue;
        size_t count = lease_table_owned (self->leases, slot, self->scratch, self->scratch_max);
        for (size_t i = 0; i < count && copies + sent < cap; i++) {
            lease_t *lease = self->scratch [i];
            worker_info_t *idle;
            if (!s_straggler (self, lease, now_us) || !(idle = s_idle_worker (self, slot)))
                continue;
            if (dispatcher_send_copy (self->dispatcher, idle, lease) == 0) {
                lease_table_copied (self->leases, lease, idle->slot);
                idle->copy_sent_us = now_us;
                char slow [TM_LOG_SAFE_BYTES (TM_MAX_WORKER_ID_BYTES)];
                char copy [TM_LOG_SAFE_BYTES (TM_MAX_WORKER_ID_BYTES)];
                zsys_info ("speculate: seq %" PRIu64 " ran %.1f s on %s (median %.3f s): a copy "
                           "to %s", lease->seq, (double) (now_us - lease->running_since_us) / 1e6,
                           tm_log_safe (worker_table_by_slot (self->workers, slot)->id, slow,
                                        sizeof slow),
                           (double) speculate_median_us (self, lease->type) / 1e6,
                           tm_log_safe (idle->id, copy, sizeof copy));
                sent++;
            }
        }
    }
    return sent;
}
