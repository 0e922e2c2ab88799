/*  metrics: the master's series, written with tm_prom into one buffer
    rewritten in place each tick.
*/
#include "metrics.h"
#include "tm_prom.h"
#include <czmq.h>

struct _metrics_t {
    char *job_id;
    summary_t *summary;             //  borrowed
    lease_table_t *leases;          //  borrowed
    dispatcher_t *dispatcher;       //  borrowed
    worker_table_t *workers;        //  borrowed
    tm_json_buf_t text;             //  the last exposition
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
    tm_json_buf_init (&self->text);
    return self;
}

void
metrics_destroy (metrics_t **self_p)
{
    assert (self_p);
    metrics_t *self = *self_p;
    if (self) {
        tm_json_buf_fini (&self->text);
        free (self->job_id);
        free (self);
        *self_p = NULL;
    }
}

static void
s_job (metrics_t *self, int64_t total)
{
    tm_json_buf_t *text = &self->text;
    tm_prom_header (text, "taskmill_job_info", "gauge", "The job this master runs (always 1).");
    tm_json_buf_printf (text, "taskmill_job_info{job_id=\"");
    tm_prom_label_value (text, self->job_id);
    tm_json_buf_printf (text, "\"} 1\n");
    if (total >= 0) {
        tm_prom_header (text, "taskmill_job_tasks", "gauge",
                        "Tasks in the job; present once the master has read all its input.");
        tm_json_buf_printf (text, "taskmill_job_tasks %" PRId64 "\n", total);
    }
}

static void
s_counters (metrics_t *self, uint64_t garbage)
{
    tm_json_buf_t *text = &self->text;
    tm_prom_header (text, "taskmill_tasks_total", "counter",
                    "Tasks that reached their final result, by status.");
    for (int status = TM_STATUS_MIN; status <= TM_STATUS_MAX; status++)
        tm_json_buf_printf (text, "taskmill_tasks_total{status=\"%s\"} %" PRIu64 "\n",
                            tm_status_name ((tm_status_t) status),
                            summary_by_status (self->summary, (tm_status_t) status));
    tm_prom_header (text, "taskmill_task_retries_total", "counter",
                    "Attempts sent again after a failure, an expired lease or a lost worker.");
    tm_json_buf_printf (text, "taskmill_task_retries_total %" PRIu64 "\n",
                        summary_counter (self->summary, SUMMARY_RETRIES));
    tm_prom_header (text, "taskmill_leases_expired_total", "counter",
                    "Leases that ran out before any result came.");
    tm_json_buf_printf (text, "taskmill_leases_expired_total %" PRIu64 "\n",
                        summary_counter (self->summary, SUMMARY_LEASES_EXPIRED));
    tm_prom_header (text, "taskmill_results_dropped_total", "counter",
                    "What workers sent that was dropped: duplicate (a task already final), stale "
                    "(another job's), unknown_seq (never issued), garbage (malformed frames).");
    tm_json_buf_printf (text,
                        "taskmill_results_dropped_total{reason=\"duplicate\"} %" PRIu64 "\n"
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
    tm_json_buf_t *text = &self->text;
    //  As the status counts them: open is read and not final, queued is at
    //  the master (new or waiting to retry), the rest are at workers.
    size_t open = lease_table_size (self->leases);
    size_t queued = dispatcher_queued (self->dispatcher);
    queued = queued < open ? queued : open;
    tm_prom_header (text, "taskmill_tasks_in_flight", "gauge",
                    "Tasks sent to workers and not final yet.");
    tm_json_buf_printf (text, "taskmill_tasks_in_flight %zu\n", open - queued);
    tm_prom_header (text, "taskmill_tasks_queued", "gauge",
                    "Tasks read from the job and waiting at the master to be sent or retried.");
    tm_json_buf_printf (text, "taskmill_tasks_queued %zu\n", queued);
    size_t by_state [3] = { 0, 0, 0 };
    for (worker_info_t *worker = worker_table_first (self->workers);
         worker; worker = worker_table_next (self->workers)) {
        assert ((size_t) worker->state < sizeof by_state / sizeof by_state [0]);
        by_state [worker->state]++;
    }
    tm_prom_header (text, "taskmill_workers", "gauge",
                    "Worker incarnations the master knows, by state (lost ones for a minute).");
    tm_json_buf_printf (text, "taskmill_workers{state=\"live\"} %zu\n"
                              "taskmill_workers{state=\"draining\"} %zu\n"
                              "taskmill_workers{state=\"lost\"} %zu\n",
                        by_state [WORKER_LIVE], by_state [WORKER_DRAINING], by_state [WORKER_LOST]);
}

static void
s_histogram (metrics_t *self, const char *name, const char *help, const histogram_t *histogram)
{
    tm_json_buf_t *text = &self->text;
    tm_prom_header (text, name, "histogram", help);
    for (size_t i = 0; i < HISTOGRAM_BOUNDS; i++)
        tm_json_buf_printf (text, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name,
                            (double) histogram_bound_us (i) / 1e6,
                            histogram_cumulative (histogram, i));
    tm_json_buf_printf (text, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, histogram->count);
    tm_json_buf_printf (text, "%s_sum %.6f\n", name, (double) histogram->sum_us / 1e6);
    tm_json_buf_printf (text, "%s_count %" PRIu64 "\n", name, histogram->count);
}

void
metrics_update (metrics_t *self, int64_t total, uint64_t garbage)
{
    tm_json_buf_reset (&self->text);
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
    *size = self->text.size;
    return self->text.data;
}
