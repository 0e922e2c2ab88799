/*  metrics: one text buffer, rewritten in place each tick (it grows to the
    exposition's size once and stays there).
*/
#include "metrics.h"
#include <czmq.h>
#include <stdarg.h>

#define S_INITIAL_CAPACITY 8192

struct _metrics_t {
    char *job_id;
    summary_t *summary;             //  borrowed
    lease_table_t *leases;          //  borrowed
    dispatcher_t *dispatcher;       //  borrowed
    worker_table_t *workers;        //  borrowed
    char *text;                     //  the last exposition
    size_t size;                    //  its length
    size_t capacity;
};

metrics_t *
metrics_new (const char *job_id, summary_t *summary, lease_table_t *leases,
             dispatcher_t *dispatcher, worker_table_t *workers)
{
    metrics_t *self = (metrics_t *) zmalloc (sizeof (metrics_t));
    self->job_id = strdup (job_id);
    self->summary = summary;
    self->leases = leases;
    self->dispatcher = dispatcher;
    self->workers = workers;
    self->capacity = S_INITIAL_CAPACITY;
    self->text = (char *) zmalloc (self->capacity);
    return self;
}

void
metrics_destroy (metrics_t **self_p)
{
    assert (self_p);
    metrics_t *self = *self_p;
    if (self) {
        free (self->text);
        free (self->job_id);
        free (self);
        *self_p = NULL;
    }
}

static void
s_append (metrics_t *self, const char *format, ...)
{
    while (true) {
        va_list args;
        va_start (args, format);
        int length = vsnprintf (self->text + self->size, self->capacity - self->size, format, args);
        va_end (args);
        assert (length >= 0);
        if ((size_t) length < self->capacity - self->size) {
            self->size += (size_t) length;
            return;
        }
        self->capacity *= 2;
        self->text = (char *) realloc (self->text, self->capacity);
        assert (self->text);
    }
}

static void
s_header (metrics_t *self, const char *name, const char *type, const char *help)
{
    s_append (self, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

//  A label value as the text format wants it: backslash, quote and newline
//  escaped. Ours are hex and names, but the rule costs nothing.
static void
s_append_label_value (metrics_t *self, const char *value)
{
    for (const char *c = value; *c; c++) {
        if (*c == '\\' || *c == '"')
            s_append (self, "\\%c", *c);
        else
        if (*c == '\n')
            s_append (self, "\\n");
        else
            s_append (self, "%c", *c);
    }
}

static void
s_job (metrics_t *self, int64_t total)
{
    s_header (self, "taskmill_job_info", "gauge", "The job this master runs (always 1).");
    s_append (self, "taskmill_job_info{job_id=\"");
    s_append_label_value (self, self->job_id);
    s_append (self, "\"} 1\n");
    if (total >= 0) {
        s_header (self, "taskmill_job_tasks", "gauge",
                  "Tasks in the job; present once the master has read all its input.");
        s_append (self, "taskmill_job_tasks %" PRId64 "\n", total);
    }
}

static void
s_counters (metrics_t *self, uint64_t garbage)
{
    s_header (self, "taskmill_tasks_total", "counter",
              "Tasks that reached their final result, by status.");
    for (int status = TM_STATUS_MIN; status <= TM_STATUS_MAX; status++)
        s_append (self, "taskmill_tasks_total{status=\"%s\"} %" PRIu64 "\n",
                  tm_status_name ((tm_status_t) status),
                  summary_by_status (self->summary, (tm_status_t) status));
    s_header (self, "taskmill_task_retries_total", "counter",
              "Attempts sent again after a failure, an expired lease or a lost worker.");
    s_append (self, "taskmill_task_retries_total %" PRIu64 "\n",
              summary_counter (self->summary, SUMMARY_RETRIES));
    s_header (self, "taskmill_leases_expired_total", "counter",
              "Leases that ran out before any result came.");
    s_append (self, "taskmill_leases_expired_total %" PRIu64 "\n",
              summary_counter (self->summary, SUMMARY_LEASES_EXPIRED));
    s_header (self, "taskmill_results_dropped_total", "counter",
              "What workers sent that was dropped: duplicate (a task already final), stale "
              "(another job's), unknown_seq (never issued), garbage (malformed frames).");
    s_append (self, "taskmill_results_dropped_total{reason=\"duplicate\"} %" PRIu64 "\n"
                    "taskmill_results_dropped_total{reason=\"stale\"} %" PRIu64 "\n"
                    "taskmill_results_dropped_total{reason=\"unknown_seq\"} %" PRIu64 "\n"
                    "taskmill_results_dropped_total{reason=\"garbage\"} %" PRIu64 "\n",
              summary_counter (self->summary, SUMMARY_DUPLICATES),
              summary_counter (self->summary, SUMMARY_STALE),
              summary_counter (self->summary, SUMMARY_UNKNOWN_SEQ), garbage);
}

static void
s_gauges (metrics_t *self)
{
    //  As the status counts them: open is read and not final, queued is at
    //  the master (new or waiting to retry), the rest are at workers.
    size_t open = lease_table_size (self->leases);
    size_t queued = dispatcher_queued (self->dispatcher);
    queued = queued < open ? queued : open;
    s_header (self, "taskmill_tasks_in_flight", "gauge",
              "Tasks sent to workers and not final yet.");
    s_append (self, "taskmill_tasks_in_flight %zu\n", open - queued);
    s_header (self, "taskmill_tasks_queued", "gauge",
              "Tasks read from the job and waiting at the master to be sent or retried.");
    s_append (self, "taskmill_tasks_queued %zu\n", queued);
    size_t by_state [3] = { 0, 0, 0 };
    for (worker_info_t *worker = worker_table_first (self->workers);
         worker; worker = worker_table_next (self->workers)) {
        assert ((size_t) worker->state < sizeof by_state / sizeof by_state [0]);
        by_state [worker->state]++;
    }
    s_header (self, "taskmill_workers", "gauge",
              "Worker incarnations the master knows, by state (lost ones for a minute).");
    s_append (self, "taskmill_workers{state=\"live\"} %zu\n"
                    "taskmill_workers{state=\"draining\"} %zu\n"
                    "taskmill_workers{state=\"lost\"} %zu\n",
              by_state [WORKER_LIVE], by_state [WORKER_DRAINING], by_state [WORKER_LOST]);
}

static void
s_histogram (metrics_t *self, const char *name, const char *help, const histogram_t *histogram)
{
    s_header (self, name, "histogram", help);
    for (size_t i = 0; i < HISTOGRAM_BOUNDS; i++)
        s_append (self, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name,
                  (double) histogram_bound_us (i) / 1e6, histogram_cumulative (histogram, i));
    s_append (self, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, histogram->count);
    s_append (self, "%s_sum %.6f\n", name, (double) histogram->sum_us / 1e6);
    s_append (self, "%s_count %" PRIu64 "\n", name, histogram->count);
}

void
metrics_update (metrics_t *self, int64_t total, uint64_t garbage)
{
    self->size = 0;
    self->text [0] = 0;
    s_job (self, total);
    s_counters (self, garbage);
    s_gauges (self);
    s_histogram (self, "taskmill_task_duration_seconds",
                 "Handler time of final results from workers, as the worker measured it.",
                 summary_histogram (self->summary, SUMMARY_DURATION));
    s_histogram (self, "taskmill_task_latency_seconds",
                 "Time from a task's first send to its final result.",
                 summary_histogram (self->summary, SUMMARY_LATENCY));
}

const char *
metrics_text (metrics_t *self, size_t *size)
{
    *size = self->size;
    return self->text;
}
