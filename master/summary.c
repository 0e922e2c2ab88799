/*  summary: counters, a log-linear latency histogram (16 sub-buckets per
    power of two: constant memory, ~6% precision), and tables by type and
    by worker (bounded by the number of types and workers, not tasks).
*/
#include "summary.h"
#include "tm_log.h"
#include <czmq.h>
#include <jansson.h>

#define S_SUB_BITS 4
#define S_BUCKETS (64 << S_SUB_BITS)
#define S_STATUS_SLOTS (TM_STATUS_MAX + 1)

typedef struct {
    uint64_t by_status [S_STATUS_SLOTS];
} s_type_counts_t;

struct _summary_t {
    char *job_id;
    uint64_t by_status [S_STATUS_SLOTS];
    uint64_t counters [SUMMARY_COUNTER_COUNT];
    uint64_t done;
    zhashx_t *by_type;          //  type -> s_type_counts_t
    zhashx_t *by_worker;        //  worker id -> uint64_t count
    char *last_type;            //  the type counted last, and its counts
    s_type_counts_t *last_type_counts;
    char *last_worker;          //  the worker counted last, and its count
    uint64_t *last_worker_count;
    uint64_t latency [S_BUCKETS];
    int64_t latency_max_us;
    histogram_t latency_buckets;    //  the same latencies, in /metrics' buckets
    histogram_t duration_buckets;   //  handler time, in /metrics' buckets
    int64_t elapsed_us;
    int exit_status;
    json_t *attached;           //  what others add to the JSON (summary_attach)
};

static void
s_free_item (void **item)
{
    free (*item);
    *item = NULL;
}

summary_t *
summary_new (const char *job_id)
{
    summary_t *self = (summary_t *) zmalloc (sizeof (summary_t));
    self->job_id = strdup (job_id);
    self->by_type = zhashx_new ();
    zhashx_set_destructor (self->by_type, s_free_item);
    self->by_worker = zhashx_new ();
    zhashx_set_destructor (self->by_worker, s_free_item);
    histogram_init (&self->latency_buckets);
    histogram_init (&self->duration_buckets);
    return self;
}

void
summary_attach (summary_t *self, const char *key, json_t *value)
{
    if (!self->attached)
        self->attached = json_object ();
    json_object_set_new (self->attached, key, value);
}

void
summary_destroy (summary_t **self_p)
{
    assert (self_p);
    summary_t *self = *self_p;
    if (self) {
        zhashx_destroy (&self->by_type);
        zhashx_destroy (&self->by_worker);
        json_decref (self->attached);
        free (self->last_type);
        free (self->last_worker);
        free (self->job_id);
        free (self);
        *self_p = NULL;
    }
}

static size_t
s_bucket_of (int64_t value)
{
    uint64_t v = value > 0 ? (uint64_t) value : 0;
    if (v < (1u << S_SUB_BITS))
        return (size_t) v;
    int top = 63 - __builtin_clzll (v);
    uint64_t sub = (v >> (top - S_SUB_BITS)) & ((1u << S_SUB_BITS) - 1);
    return ((size_t) (top - S_SUB_BITS + 1) << S_SUB_BITS) | (size_t) sub;
}

//  The upper bound of the values in bucket.
static int64_t
s_bucket_value (size_t bucket)
{
    if (bucket < (1u << S_SUB_BITS))
        return (int64_t) bucket;
    int top = (int) (bucket >> S_SUB_BITS) + S_SUB_BITS - 1;
    uint64_t sub = bucket & ((1u << S_SUB_BITS) - 1);
    uint64_t low = (1ull << top) | (sub << (top - S_SUB_BITS));
    return (int64_t) (low + (1ull << (top - S_SUB_BITS)) - 1);
}

void
summary_add (summary_t *self, const char *type, tm_status_t status,
             const char *worker_id, int64_t latency_us)
{
    assert (status >= TM_STATUS_MIN && status <= TM_STATUS_MAX);
    self->done++;
    self->by_status [status]++;
    //  Results come in runs of one type from one worker (a batch): the
    //  last key is tried before the tables.
    if (!self->last_type || strcmp (type, self->last_type) != 0) {
        s_type_counts_t *counts = (s_type_counts_t *) zhashx_lookup (self->by_type, type);
        if (!counts) {
            counts = (s_type_counts_t *) zmalloc (sizeof (s_type_counts_t));
            zhashx_insert (self->by_type, type, counts);
        }
        free (self->last_type);
        self->last_type = strdup (type);
        self->last_type_counts = counts;
    }
    self->last_type_counts->by_status [status]++;
    if (worker_id && (!self->last_worker || strcmp (worker_id, self->last_worker) != 0)) {
        uint64_t *count = (uint64_t *) zhashx_lookup (self->by_worker, worker_id);
        if (!count) {
            count = (uint64_t *) zmalloc (sizeof (uint64_t));
            zhashx_insert (self->by_worker, worker_id, count);
        }
        free (self->last_worker);
        self->last_worker = strdup (worker_id);
        self->last_worker_count = count;
    }
    if (worker_id)
        (*self->last_worker_count)++;
    self->latency [s_bucket_of (latency_us)]++;
    if (latency_us > self->latency_max_us)
        self->latency_max_us = latency_us;
    histogram_add (&self->latency_buckets, latency_us);
}

void
summary_add_duration (summary_t *self, int64_t duration_us)
{
    histogram_add (&self->duration_buckets, duration_us);
}

const histogram_t *
summary_histogram (summary_t *self, summary_histogram_t which)
{
    return which == SUMMARY_LATENCY ? &self->latency_buckets : &self->duration_buckets;
}

void
summary_count (summary_t *self, summary_counter_t counter, uint64_t amount)
{
    self->counters [counter] += amount;
}

uint64_t
summary_counter (summary_t *self, summary_counter_t counter)
{
    return self->counters [counter];
}

uint64_t
summary_done (summary_t *self)
{
    return self->done;
}

uint64_t
summary_by_status (summary_t *self, tm_status_t status)
{
    return (unsigned) status < S_STATUS_SLOTS ? self->by_status [status] : 0;
}

uint64_t
summary_not_ok (summary_t *self)
{
    return self->done - self->by_status [TM_STATUS_OK];
}

int64_t
summary_latency_us (summary_t *self, double q)
{
    uint64_t total = 0;
    for (size_t i = 0; i < S_BUCKETS; i++)
        total += self->latency [i];
    if (total == 0)
        return 0;
    uint64_t rank = (uint64_t) (q * (double) total);
    if (rank >= total)
        rank = total - 1;
    uint64_t seen = 0;
    for (size_t i = 0; i < S_BUCKETS; i++) {
        seen += self->latency [i];
        if (seen > rank) {
            int64_t value = s_bucket_value (i);
            return value < self->latency_max_us ? value : self->latency_max_us;
        }
    }
    return self->latency_max_us;
}

void
summary_finish (summary_t *self, int64_t elapsed_us, int exit_status)
{
    self->elapsed_us = elapsed_us;
    self->exit_status = exit_status;
}

static double
s_rate (summary_t *self)
{
    return self->elapsed_us > 0 ? (double) self->done * 1e6 / (double) self->elapsed_us : 0;
}

static const char *s_counter_names [SUMMARY_COUNTER_COUNT] = {
    "retries", "duplicates_dropped", "stale_dropped", "unknown_seq_dropped",
    "garbage_dropped", "leases_expired", "reissued", "resumed_skipped", "invalid_skipped",
    "speculative_launched", "speculative_won", "handshakes_failed"
};

void
summary_print (summary_t *self, FILE *out)
{
    fprintf (out, "taskmill: job %s: %" PRIu64 " tasks in %.3f s (%.0f tasks/s)\n",
             self->job_id, self->done, (double) self->elapsed_us / 1e6, s_rate (self));
    fprintf (out, "  status:");
    for (int s = TM_STATUS_MIN; s <= TM_STATUS_MAX; s++)
        if (self->by_status [s])
            fprintf (out, " %s=%" PRIu64, tm_status_name ((tm_status_t) s), self->by_status [s]);
    fprintf (out, "\n  by type:");
    for (s_type_counts_t *counts = (s_type_counts_t *) zhashx_first (self->by_type);
         counts; counts = (s_type_counts_t *) zhashx_next (self->by_type)) {
        uint64_t total = 0;
        for (int s = TM_STATUS_MIN; s <= TM_STATUS_MAX; s++)
            total += counts->by_status [s];
        fprintf (out, " %s=%" PRIu64 "/%" PRIu64 " ok",
                 (const char *) zhashx_cursor (self->by_type),
                 counts->by_status [TM_STATUS_OK], total);
    }
    fprintf (out, "\n  latency: p50=%" PRId64 "us p90=%" PRId64 "us p99=%" PRId64 "us max=%" PRId64 "us\n",
             summary_latency_us (self, 0.50), summary_latency_us (self, 0.90),
             summary_latency_us (self, 0.99), self->latency_max_us);
    fprintf (out, "  workers: %zu", zhashx_size (self->by_worker));
    char id [TM_LOG_SAFE_BYTES (TM_MAX_WORKER_ID_BYTES)];
    for (uint64_t *count = (uint64_t *) zhashx_first (self->by_worker);
         count; count = (uint64_t *) zhashx_next (self->by_worker))
        fprintf (out, " %s=%" PRIu64, tm_log_safe ((const char *) zhashx_cursor (self->by_worker),
                                                   id, sizeof id), *count);
    fprintf (out, "\n ");
    for (int c = 0; c < SUMMARY_COUNTER_COUNT; c++)
        fprintf (out, " %s=%" PRIu64, s_counter_names [c], self->counters [c]);
    fprintf (out, "\n");
}

static json_t *
s_status_object (const uint64_t *by_status)
{
    json_t *object = json_object ();
    for (int s = TM_STATUS_MIN; s <= TM_STATUS_MAX; s++)
        json_object_set_new (object, tm_status_name ((tm_status_t) s),
                             json_integer ((json_int_t) by_status [s]));
    return object;
}

static json_t *
s_to_json (summary_t *self)
{
    json_t *root = json_object ();
    json_object_set_new (root, "job_id", json_string (self->job_id));
    json_object_set_new (root, "tasks", json_integer ((json_int_t) self->done));
    json_object_set_new (root, "by_status", s_status_object (self->by_status));
    json_t *types = json_object ();
    for (s_type_counts_t *counts = (s_type_counts_t *) zhashx_first (self->by_type);
         counts; counts = (s_type_counts_t *) zhashx_next (self->by_type))
        json_object_set_new (types, (const char *) zhashx_cursor (self->by_type),
                             s_status_object (counts->by_status));
    json_object_set_new (root, "by_type", types);
    for (int c = 0; c < SUMMARY_COUNTER_COUNT; c++)
        json_object_set_new (root, s_counter_names [c], json_integer ((json_int_t) self->counters [c]));
    json_object_set_new (root, "elapsed_s", json_real ((double) self->elapsed_us / 1e6));
    json_object_set_new (root, "tasks_per_s", json_real (s_rate (self)));
    json_t *latency = json_object ();
    json_object_set_new (latency, "p50", json_integer (summary_latency_us (self, 0.50)));
    json_object_set_new (latency, "p90", json_integer (summary_latency_us (self, 0.90)));
    json_object_set_new (latency, "p99", json_integer (summary_latency_us (self, 0.99)));
    json_object_set_new (latency, "max", json_integer (self->latency_max_us));
    json_object_set_new (root, "latency_us", latency);
    json_t *workers = json_object ();
    for (uint64_t *count = (uint64_t *) zhashx_first (self->by_worker);
         count; count = (uint64_t *) zhashx_next (self->by_worker))
        json_object_set_new (workers, (const char *) zhashx_cursor (self->by_worker),
                             json_integer ((json_int_t) *count));
    json_object_set_new (root, "workers", workers);
    json_object_set_new (root, "exit_status", json_integer (self->exit_status));
    return root;
}

int
summary_write_json (summary_t *self, const char *path)
{
    json_t *root = s_to_json (self);
    if (self->attached)
        json_object_update (root, self->attached);
    int rc = json_dump_file (root, path, JSON_INDENT (2) | JSON_SORT_KEYS);
    json_decref (root);
    if (rc != 0)
        zsys_error ("cannot write summary to %s", path);
    return rc == 0 ? 0 : -1;
}
