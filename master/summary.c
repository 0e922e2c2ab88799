/*  summary: counters, three log-linear histograms (latency, queue wait, run
    time) beside the fixed-bucket ones /metrics reads, capped tables by
    type and by worker, and the throughput buckets. Nothing here grows with
    the number of tasks.
*/
#include "summary.h"
#include "throughput.h"
#include "tm_log.h"
#include <czmq.h>
#include <jansson.h>

#define S_STATUS_SLOTS (TM_STATUS_MAX + 1)
#define S_PRINT_COLUMNS 24          //  throughput columns in the human summary

//  What a type or a worker did.
typedef struct {
    uint64_t by_status [S_STATUS_SLOTS];
    uint64_t done;
    int64_t busy_us;            //  the sum of its run times
} s_counts_t;

//  Counts by name, at most cap names (then SUMMARY_OTHER). Results come in
//  runs of one type from one worker (a batch): the last name is tried
//  before the table.
typedef struct {
    zhashx_t *entries;          //  name -> s_counts_t
    size_t cap;
    char *last_name;
    s_counts_t *last;
} s_table_t;

struct _summary_t {
    char *job_id;
    int64_t start_us;
    uint64_t by_status [S_STATUS_SLOTS];
    uint64_t counters [SUMMARY_COUNTER_COUNT];
    uint64_t done;
    uint64_t no_worker;         //  final results the master ended itself
    s_table_t types;
    s_table_t workers;
    loghist_t percentiles [SUMMARY_QUANTITIES];
    histogram_t buckets [SUMMARY_QUEUE_WAIT];     //  latency and run time in /metrics' buckets
    throughput_t throughput;
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

static void
s_table_init (s_table_t *self, size_t cap)
{
    self->entries = zhashx_new ();
    zhashx_set_destructor (self->entries, s_free_item);
    self->cap = cap;
}

static void
s_table_fini (s_table_t *self)
{
    zhashx_destroy (&self->entries);
    free (self->last_name);
}

static s_counts_t *
s_table_entry (s_table_t *self, const char *name)
{
    if (self->last_name && strcmp (name, self->last_name) == 0)
        return self->last;
    s_counts_t *counts = (s_counts_t *) zhashx_lookup (self->entries, name);
    if (!counts && zhashx_size (self->entries) >= self->cap)
        counts = (s_counts_t *) zhashx_lookup (self->entries, SUMMARY_OTHER);
    if (!counts) {
        counts = (s_counts_t *) zmalloc (sizeof (s_counts_t));
        zhashx_insert (self->entries,
                       zhashx_size (self->entries) >= self->cap ? SUMMARY_OTHER : name, counts);
    }
    free (self->last_name);
    self->last_name = strdup (name);
    self->last = counts;
    return counts;
}

summary_t *
summary_new (const char *job_id, int64_t start_us)
{
    summary_t *self = (summary_t *) zmalloc (sizeof (summary_t));
    self->job_id = strdup (job_id);
    self->start_us = start_us;
    s_table_init (&self->types, SUMMARY_MAX_TYPES);
    s_table_init (&self->workers, SUMMARY_MAX_WORKERS);
    for (int i = 0; i < SUMMARY_QUANTITIES; i++)
        loghist_init (&self->percentiles [i]);
    for (int i = 0; i < SUMMARY_QUEUE_WAIT; i++)
        histogram_init (&self->buckets [i]);
    throughput_init (&self->throughput, start_us);
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
        s_table_fini (&self->types);
        s_table_fini (&self->workers);
        json_decref (self->attached);
        free (self->job_id);
        free (self);
        *self_p = NULL;
    }
}


void
summary_add (summary_t *self, const summary_result_t *result)
{
    tm_status_t status = result->status;
    assert (status >= TM_STATUS_MIN && status <= TM_STATUS_MAX);
    self->done++;
    self->by_status [status]++;
    int64_t run_us = result->worker_id && result->run_us > 0 ? result->run_us : 0;
    s_counts_t *type = s_table_entry (&self->types, result->type);
    type->by_status [status]++;
    type->done++;
    type->busy_us += run_us;
    loghist_add (&self->percentiles [SUMMARY_LATENCY], result->latency_us);
    histogram_add (&self->buckets [SUMMARY_LATENCY], result->latency_us);
    throughput_add (&self->throughput, result->now_us, 1);
    if (!result->worker_id) {
        self->no_worker++;
        return;
    }
    s_counts_t *worker = s_table_entry (&self->workers, result->worker_id);
    worker->by_status [status]++;
    worker->done++;
    worker->busy_us += run_us;
    loghist_add (&self->percentiles [SUMMARY_DURATION], run_us);
    histogram_add (&self->buckets [SUMMARY_DURATION], run_us);
    loghist_add (&self->percentiles [SUMMARY_QUEUE_WAIT], result->wait_us);
}

const histogram_t *
summary_histogram (summary_t *self, summary_histogram_t which)
{
    assert (which < SUMMARY_QUEUE_WAIT);
    return &self->buckets [which];
}

loghist_summary_t
summary_percentiles (summary_t *self, summary_histogram_t which)
{
    assert (which < SUMMARY_QUANTITIES);
    return loghist_summary (&self->percentiles [which]);
}

int64_t
summary_latency_us (summary_t *self, double q)
{
    return loghist_quantile (&self->percentiles [SUMMARY_LATENCY], q);
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
summary_no_worker (summary_t *self)
{
    return self->no_worker;
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

//  The job's last microsecond: its buckets cover [start, start + elapsed).
static int64_t
s_end_us (summary_t *self)
{
    return self->start_us + (self->elapsed_us > 0 ? self->elapsed_us - 1 : 0);
}

void
summary_finish (summary_t *self, int64_t elapsed_us, int exit_status)
{
    self->elapsed_us = elapsed_us;
    self->exit_status = exit_status;
    throughput_extend (&self->throughput, s_end_us (self));
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

static const char *s_quantity_names [SUMMARY_QUANTITIES] = {
    "latency", "run time", "queue wait"
};

static void
s_print_percentiles (summary_t *self, summary_histogram_t which, FILE *out)
{
    loghist_summary_t p = summary_percentiles (self, which);
    fprintf (out, "  %s: p50=%" PRId64 "us p90=%" PRId64 "us p99=%" PRId64 "us max=%" PRId64
             "us\n", s_quantity_names [which], p.p50, p.p90, p.p99, p.max);
}

static void
s_print_types (summary_t *self, FILE *out)
{
    fprintf (out, "  by type:");
    for (s_counts_t *counts = (s_counts_t *) zhashx_first (self->types.entries);
         counts; counts = (s_counts_t *) zhashx_next (self->types.entries)) {
        char type [TM_LOG_SAFE_BYTES (TM_MAX_TYPE_BYTES)];
        fprintf (out, " %s=%" PRIu64 "/%" PRIu64 " ok (busy %.3f s)",
                 tm_log_safe ((const char *) zhashx_cursor (self->types.entries), type,
                              sizeof type),
                 counts->by_status [TM_STATUS_OK], counts->done, (double) counts->busy_us / 1e6);
    }
    fprintf (out, "\n");
}

static void
s_print_workers (summary_t *self, FILE *out)
{
    fprintf (out, "  workers: %zu", zhashx_size (self->workers.entries));
    for (s_counts_t *counts = (s_counts_t *) zhashx_first (self->workers.entries);
         counts; counts = (s_counts_t *) zhashx_next (self->workers.entries)) {
        char id [TM_LOG_SAFE_BYTES (TM_MAX_WORKER_ID_BYTES)];
        fprintf (out, " %s=%" PRIu64 " (busy %.3f s)",
                 tm_log_safe ((const char *) zhashx_cursor (self->workers.entries), id, sizeof id),
                 counts->done, (double) counts->busy_us / 1e6);
    }
    if (self->no_worker)
        fprintf (out, "; ended by the master: %" PRIu64, self->no_worker);
    fprintf (out, "\n");
}

//  Tasks/s in at most S_PRINT_COLUMNS columns, neighbouring buckets added.
static void
s_print_throughput (summary_t *self, FILE *out)
{
    const throughput_t *t = &self->throughput;
    size_t group = (t->used + S_PRINT_COLUMNS - 1) / S_PRINT_COLUMNS;
    group = group ? group : 1;
    double column_s = (double) (group * (size_t) t->bucket_us) / 1e6;
    fprintf (out, "  throughput (tasks/s, each over %.0f s):", column_s);
    for (size_t first = 0; first < t->used; first += group) {
        uint64_t sum = 0;
        for (size_t i = first; i < first + group && i < t->used; i++)
            sum += t->counts [i];
        fprintf (out, " %.0f", (double) sum / column_s);
    }
    fprintf (out, "\n");
}

void
summary_print (summary_t *self, FILE *out)
{
    fprintf (out, "taskmill: job %s: %" PRIu64 " tasks in %.3f s (%.0f tasks/s)\n",
             self->job_id, self->done, (double) self->elapsed_us / 1e6, s_rate (self));
    fprintf (out, "  status:");
    for (int s = TM_STATUS_MIN; s <= TM_STATUS_MAX; s++)
        if (self->by_status [s])
            fprintf (out, " %s=%" PRIu64, tm_status_name ((tm_status_t) s), self->by_status [s]);
    fprintf (out, "\n");
    s_print_types (self, out);
    s_print_percentiles (self, SUMMARY_LATENCY, out);
    s_print_percentiles (self, SUMMARY_QUEUE_WAIT, out);
    s_print_percentiles (self, SUMMARY_DURATION, out);
    s_print_workers (self, out);
    s_print_throughput (self, out);
    fprintf (out, " ");
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

json_t *
summary_percentiles_json (summary_t *self, summary_histogram_t which)
{
    loghist_summary_t p = summary_percentiles (self, which);
    return json_pack ("{s:I, s:I, s:I, s:I}", "p50", (json_int_t) p.p50,
                      "p90", (json_int_t) p.p90, "p99", (json_int_t) p.p99,
                      "max", (json_int_t) p.max);
}

json_t *
summary_throughput_json (summary_t *self, int64_t now_us)
{
    throughput_extend (&self->throughput, now_us);
    json_t *counts = json_array ();
    for (size_t i = 0; i < self->throughput.used; i++)
        json_array_append_new (counts, json_integer ((json_int_t) self->throughput.counts [i]));
    return json_pack ("{s:I, s:o}", "bucket_s", (json_int_t) (self->throughput.bucket_us / 1000000),
                      "counts", counts);
}

json_t *
summary_types_json (summary_t *self)
{
    json_t *types = json_object ();
    for (s_counts_t *counts = (s_counts_t *) zhashx_first (self->types.entries);
         counts; counts = (s_counts_t *) zhashx_next (self->types.entries))
        json_object_set_new (types, (const char *) zhashx_cursor (self->types.entries),
                             json_pack ("{s:I, s:o, s:f}", "done", (json_int_t) counts->done,
                                        "by_status", s_status_object (counts->by_status),
                                        "busy_s", (double) counts->busy_us / 1e6));
    return types;
}

json_t *
summary_workers_json (summary_t *self)
{
    json_t *workers = json_object ();
    for (s_counts_t *counts = (s_counts_t *) zhashx_first (self->workers.entries);
         counts; counts = (s_counts_t *) zhashx_next (self->workers.entries))
        json_object_set_new (workers, (const char *) zhashx_cursor (self->workers.entries),
                             json_pack ("{s:I, s:I, s:f}", "done", (json_int_t) counts->done,
                                        "not_ok", (json_int_t) (counts->done
                                                     - counts->by_status [TM_STATUS_OK]),
                                        "busy_s", (double) counts->busy_us / 1e6));
    return workers;
}

//  The file keeps its first shape ("by_type": status counts, "workers":
//  done counts) for the scripts that read it; busy time is beside them.
static json_t *
s_tables_json (s_table_t *table, bool by_status, json_t *busy)
{
    json_t *object = json_object ();
    for (s_counts_t *counts = (s_counts_t *) zhashx_first (table->entries);
         counts; counts = (s_counts_t *) zhashx_next (table->entries)) {
        const char *name = (const char *) zhashx_cursor (table->entries);
        json_object_set_new (object, name, by_status ? s_status_object (counts->by_status)
                                                     : json_integer ((json_int_t) counts->done));
        json_object_set_new (busy, name, json_real ((double) counts->busy_us / 1e6));
    }
    return object;
}

static json_t *
s_to_json (summary_t *self)
{
    json_t *root = json_object ();
    json_object_set_new (root, "job_id", json_string (self->job_id));
    json_object_set_new (root, "tasks", json_integer ((json_int_t) self->done));
    json_object_set_new (root, "by_status", s_status_object (self->by_status));
    json_t *busy_by_type = json_object (), *busy_by_worker = json_object ();
    json_object_set_new (root, "by_type", s_tables_json (&self->types, true, busy_by_type));
    json_object_set_new (root, "workers", s_tables_json (&self->workers, false, busy_by_worker));
    json_object_set_new (root, "busy_s", json_pack ("{s:o, s:o}", "by_type", busy_by_type,
                                                    "by_worker", busy_by_worker));
    json_object_set_new (root, "no_worker", json_integer ((json_int_t) self->no_worker));
    for (int c = 0; c < SUMMARY_COUNTER_COUNT; c++)
        json_object_set_new (root, s_counter_names [c], json_integer ((json_int_t) self->counters [c]));
    json_object_set_new (root, "elapsed_s", json_real ((double) self->elapsed_us / 1e6));
    json_object_set_new (root, "tasks_per_s", json_real (s_rate (self)));
    json_object_set_new (root, "latency_us", summary_percentiles_json (self, SUMMARY_LATENCY));
    json_object_set_new (root, "queue_wait_us", summary_percentiles_json (self, SUMMARY_QUEUE_WAIT));
    json_object_set_new (root, "run_time_us", summary_percentiles_json (self, SUMMARY_DURATION));
    json_object_set_new (root, "throughput",
                         summary_throughput_json (self, s_end_us (self)));
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
