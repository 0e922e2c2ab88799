/*  worker_metrics: one buffer, rewritten in place at each update. */
#include "worker_metrics.h"
#include "tm_prom.h"
#include <czmq.h>

struct _worker_metrics_t {
    tm_json_buf_t text;
};

worker_metrics_t *
worker_metrics_new (void)
{
    worker_metrics_t *self = (worker_metrics_t *) zmalloc (sizeof (worker_metrics_t));
    tm_json_buf_init (&self->text);
    return self;
}

void
worker_metrics_destroy (worker_metrics_t **self_p)
{
    assert (self_p);
    worker_metrics_t *self = *self_p;
    if (!self)
        return;
    tm_json_buf_fini (&self->text);
    free (self);
    *self_p = NULL;
}

//  One series without labels: its header and its sample.
static void
s_series (tm_json_buf_t *text, const char *name, const char *type, const char *help,
          uint64_t value)
{
    tm_prom_header (text, name, type, help);
    tm_json_buf_printf (text, "%s %" PRIu64 "\n", name, value);
}

static void
s_info (tm_json_buf_t *text, const worker_metrics_values_t *values)
{
    tm_prom_header (text, "taskmill_worker_info", "gauge",
                    "This worker (always 1): its id, this run's incarnation (routing id) "
                    "and the master's tasks endpoint it dials.");
    tm_json_buf_printf (text, "taskmill_worker_info{worker_id=\"");
    tm_prom_label_value (text, values->worker_id);
    tm_json_buf_printf (text, "\",incarnation=\"");
    tm_prom_label_value (text, values->incarnation);
    tm_json_buf_printf (text, "\",master=\"");
    tm_prom_label_value (text, values->master);
    tm_json_buf_printf (text, "\"} 1\n");
}

static void
s_tasks (tm_json_buf_t *text, const worker_metrics_values_t *values)
{
    tm_prom_header (text, "taskmill_worker_tasks_total", "counter",
                    "Tasks this worker ran to a result since it started, by status.");
    for (int status = TM_STATUS_MIN; status <= TM_STATUS_MAX; status++)
        tm_json_buf_printf (text, "taskmill_worker_tasks_total{status=\"%s\"} %" PRIu64 "\n",
                            tm_status_name ((tm_status_t) status), values->by_status [status]);
    s_series (text, "taskmill_worker_tasks_received_total", "counter",
              "Tasks taken from masters since the worker started.", values->received);
    s_series (text, "taskmill_worker_results_sent_total", "counter",
              "Results handed to the results socket.", values->results_sent);
    s_series (text, "taskmill_worker_results_lost_total", "counter",
              "Results the results socket refused; the master sends their tasks again.",
              values->results_lost);
    tm_prom_header (text, "taskmill_worker_frames_dropped_total", "counter",
                    "Frames dropped unread: garbage (malformed, on the tasks or control "
                    "socket), stale (tasks of a job a newer one replaced).");
    tm_json_buf_printf (text,
                        "taskmill_worker_frames_dropped_total{reason=\"garbage\"} %" PRIu64 "\n"
                        "taskmill_worker_frames_dropped_total{reason=\"stale\"} %" PRIu64 "\n",
                        values->garbage, values->stale);
    s_series (text, "taskmill_worker_tasks_running", "gauge",
              "Tasks the executor threads run now.", values->running);
    s_series (text, "taskmill_worker_tasks_queued", "gauge",
              "Tasks held here waiting for a thread.", values->queued);
    s_series (text, "taskmill_worker_credit_window", "gauge",
              "The credit last granted: tasks the master may have outstanding here "
              "(0 while draining).", values->credit);
    s_series (text, "taskmill_worker_draining", "gauge",
              "1 while the worker drains (takes no more tasks, then exits), else 0.",
              values->draining ? 1 : 0);
}

static void
s_threads (tm_json_buf_t *text, const worker_metrics_values_t *values)
{
    s_series (text, "taskmill_worker_threads", "gauge",
              "Executor threads in the pool now.", values->threads);
    s_series (text, "taskmill_worker_threads_min", "gauge",
              "The autoscaled pool's least threads (--min-threads); 0 for a fixed pool.",
              values->threads_min);
    s_series (text, "taskmill_worker_threads_max", "gauge",
              "The autoscaled pool's most threads (--max-threads); 0 for a fixed pool.",
              values->threads_max);
    s_series (text, "taskmill_worker_threads_grown_total", "counter",
              "Times the autoscaled pool grew.", values->threads_grown);
    s_series (text, "taskmill_worker_threads_shrunk_total", "counter",
              "Times the autoscaled pool shrank (one thread each).", values->threads_shrunk);
}

void
worker_metrics_update (worker_metrics_t *self, const worker_metrics_values_t *values)
{
    tm_json_buf_reset (&self->text);
    s_info (&self->text, values);
    s_tasks (&self->text, values);
    s_threads (&self->text, values);
}

const char *
worker_metrics_text (worker_metrics_t *self, size_t *size)
{
    *size = self->text.size;
    return self->text.data;
}
