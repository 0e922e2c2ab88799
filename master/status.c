/*  status: the snapshot, built with jansson (it escapes what peers sent:
    worker ids and errors are data, never markup or terminal codes).
*/
#include "status.h"
#include <czmq.h>
#include <jansson.h>

#define S_RATE_SPAN_US 1000000      //  "rate now" is over at least this

typedef struct {
    uint64_t seq;
    char id [TM_MAX_ID_BYTES + 1];
    char type [TM_MAX_TYPE_BYTES + 1];
    tm_status_t status;
    char error [256];
    char worker [TM_MAX_WORKER_ID_BYTES + 1];
} s_failure_t;

struct _status_t {
    char *job_id;
    summary_t *summary;             //  borrowed
    lease_table_t *leases;          //  borrowed
    dispatcher_t *dispatcher;       //  borrowed
    worker_table_t *workers;        //  borrowed
    int64_t start_us;
    s_failure_t failures [STATUS_FAILURES];     //  a ring
    size_t failures_next;
    uint64_t failures_total;
    int64_t sample_us;              //  the rate's last sample
    uint64_t sample_done;
    double rate_now;
    uint32_t history [STATUS_RATE_HISTORY];     //  rate_now samples (tasks/s), a ring
    size_t history_next;
    size_t history_count;
    char *json;                     //  the last snapshot
};

status_t *
status_new (const char *job_id, summary_t *summary, lease_table_t *leases,
            dispatcher_t *dispatcher, worker_table_t *workers, int64_t start_us)
{
    status_t *self = (status_t *) zmalloc (sizeof (status_t));
    self->job_id = strdup (job_id);
    self->summary = summary;
    self->leases = leases;
    self->dispatcher = dispatcher;
    self->workers = workers;
    self->start_us = self->sample_us = start_us;
    self->json = strdup ("{}");
    return self;
}

void
status_destroy (status_t **self_p)
{
    assert (self_p);
    status_t *self = *self_p;
    if (self) {
        free (self->json);
        free (self->job_id);
        free (self);
        *self_p = NULL;
    }
}

void
status_failure (status_t *self, const lease_t *lease, tm_status_t status, const char *error,
                const char *worker_id)
{
    s_failure_t *failure = &self->failures [self->failures_next];
    self->failures_next = (self->failures_next + 1) % STATUS_FAILURES;
    self->failures_total++;
    failure->seq = lease->seq;
    snprintf (failure->id, sizeof failure->id, "%s", lease->id);
    snprintf (failure->type, sizeof failure->type, "%s", lease->type);
    failure->status = status;
    snprintf (failure->error, sizeof failure->error, "%s", error ? error : "");
    snprintf (failure->worker, sizeof failure->worker, "%s", worker_id ? worker_id : "");
}

static const char *
s_state_name (worker_state_t state)
{
    return state == WORKER_LIVE ? "live" : state == WORKER_DRAINING ? "draining" : "lost";
}

static json_t *
s_workers (status_t *self, int64_t now_us)
{
    json_t *list = json_array ();
    for (worker_info_t *worker = worker_table_first (self->workers);
         worker; worker = worker_table_next (self->workers))
        json_array_append_new (list, json_pack (
            "{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:s, s:I, s:I, s:I, s:I}",
            "id", worker->id, "incarnation", worker->incarnation, "host", worker->host,
            "pid", (json_int_t) worker->pid, "threads_busy", (json_int_t) worker->threads_busy,
            "threads", (json_int_t) worker->threads, "credit", (json_int_t) worker->credit,
            "held", (json_int_t) lease_table_owned_count (self->leases, worker->slot),
            "done", (json_int_t) worker->done, "failed", (json_int_t) worker->failed,
            "last_heard_s", (double) (now_us - worker->last_heard_us) / 1e6,
            "state", s_state_name (worker->state),
            "threads_min", (json_int_t) worker->threads_min,
            "threads_max", (json_int_t) worker->threads_max,
            "threads_grown", (json_int_t) worker->threads_grown,
            "threads_shrunk", (json_int_t) worker->threads_shrunk));
    return list;
}

static json_t *
s_failures (status_t *self)
{
    json_t *list = json_array ();
    size_t count = self->failures_total < STATUS_FAILURES
                 ? (size_t) self->failures_total : STATUS_FAILURES;
    //  Newest first.
    for (size_t i = 1; i <= count; i++) {
        const s_failure_t *failure =
            &self->failures [(self->failures_next + STATUS_FAILURES - i) % STATUS_FAILURES];
        json_array_append_new (list, json_pack (
            "{s:I, s:s, s:s, s:s, s:s, s:s}", "seq", (json_int_t) failure->seq,
            "id", failure->id, "type", failure->type,
            "status", tm_status_name (failure->status), "error", failure->error,
            "worker", failure->worker));
    }
    return list;
}

static json_t *
s_counters (status_t *self, uint64_t garbage)
{
    static const struct { const char *name; summary_counter_t counter; } names [] = {
        { "retries", SUMMARY_RETRIES }, { "duplicates_dropped", SUMMARY_DUPLICATES },
        { "stale_dropped", SUMMARY_STALE }, { "unknown_seq_dropped", SUMMARY_UNKNOWN_SEQ },
        { "leases_expired", SUMMARY_LEASES_EXPIRED }, { "reissued", SUMMARY_REISSUED },
        { "resumed_skipped", SUMMARY_RESUMED }, { "invalid_skipped", SUMMARY_INVALID_SKIPPED },
        { "handshakes_failed", SUMMARY_HANDSHAKES_FAILED },
    };
    json_t *counters = json_object ();
    for (size_t i = 0; i < sizeof names / sizeof names [0]; i++)
        json_object_set_new (counters, names [i].name,
                             json_integer ((json_int_t) summary_counter (self->summary,
                                                                         names [i].counter)));
    json_object_set_new (counters, "garbage_dropped", json_integer ((json_int_t) garbage));
    json_object_set_new (counters, "failures", json_integer ((json_int_t) self->failures_total));
    return counters;
}

static void
s_sample_rate (status_t *self, int64_t now_us, uint64_t done)
{
    if (now_us - self->sample_us < S_RATE_SPAN_US)
        return;
    self->rate_now = (double) (done - self->sample_done) * 1e6 / (double) (now_us - self->sample_us);
    self->sample_us = now_us;
    self->sample_done = done;
    self->history [self->history_next] = (uint32_t) (self->rate_now + 0.5);
    self->history_next = (self->history_next + 1) % STATUS_RATE_HISTORY;
    if (self->history_count < STATUS_RATE_HISTORY)
        self->history_count++;
}

//  The rate samples, oldest first.
static json_t *
s_rate_history (status_t *self)
{
    json_t *list = json_array ();
    for (size_t i = self->history_count; i > 0; i--)
        json_array_append_new (list, json_integer (self->history [
            (self->history_next + STATUS_RATE_HISTORY - i) % STATUS_RATE_HISTORY]));
    return list;
}

//  The latency histogram in /metrics' buckets, not cumulative (the
//  dashboard draws it): le_us has the bounds, counts one more (+Inf).
static json_t *
s_latency_histogram (status_t *self)
{
    const histogram_t *histogram = summary_histogram (self->summary, SUMMARY_LATENCY);
    json_t *bounds = json_array (), *counts = json_array ();
    for (size_t i = 0; i <= HISTOGRAM_BOUNDS; i++) {
        if (i < HISTOGRAM_BOUNDS)
            json_array_append_new (bounds, json_integer (histogram_bound_us (i)));
        json_array_append_new (counts, json_integer ((json_int_t) histogram->counts [i]));
    }
    return json_pack ("{s:o, s:o}", "le_us", bounds, "counts", counts);
}

//  The tasks a heartbeat said run, longest first: STATUS_RUNNING steps
//  whatever the window.
static json_t *
s_running (status_t *self, int64_t now_us)
{
    const lease_t *leases [STATUS_RUNNING];
    size_t count = lease_table_longest_running (self->leases, leases, STATUS_RUNNING);
    json_t *list = json_array ();
    for (size_t i = 0; i < count; i++) {
        const worker_info_t *worker = worker_table_by_slot (self->workers, leases [i]->owner);
        json_array_append_new (list, json_pack (
            "{s:I, s:s, s:s, s:I, s:s, s:f}", "seq", (json_int_t) leases [i]->seq,
            "id", leases [i]->id, "type", leases [i]->type,
            "attempt", (json_int_t) leases [i]->attempt, "worker", worker ? worker->id : "",
            "running_s", (double) (now_us - leases [i]->running_since_us) / 1e6));
    }
    return list;
}

//  The report's parts: percentiles, tables by type and worker, throughput.
static void
s_report (status_t *self, json_t *job, int64_t now_us)
{
    json_object_set_new (job, "latency_us", summary_percentiles_json (self->summary,
                                                                      SUMMARY_LATENCY));
    json_object_set_new (job, "queue_wait_us", summary_percentiles_json (self->summary,
                                                                         SUMMARY_QUEUE_WAIT));
    json_object_set_new (job, "run_time_us", summary_percentiles_json (self->summary,
                                                                       SUMMARY_DURATION));
    json_object_set_new (job, "latency_histogram", s_latency_histogram (self));
    json_object_set_new (job, "by_type", summary_types_json (self->summary));
    json_object_set_new (job, "by_worker", summary_workers_json (self->summary));
    json_object_set_new (job, "no_worker", json_integer ((json_int_t)
                                                         summary_no_worker (self->summary)));
    json_object_set_new (job, "throughput", summary_throughput_json (self->summary, now_us));
    json_object_set_new (job, "running", s_running (self, now_us));
}

static json_t *
s_job (status_t *self, int64_t now_us, int64_t total)
{
    uint64_t done = summary_done (self->summary);
    s_sample_rate (self, now_us, done);
    double elapsed_s = (double) (now_us - self->start_us) / 1e6;
    json_t *by_status = json_object ();
    for (int status = TM_STATUS_MIN; status <= TM_STATUS_MAX; status++)
        json_object_set_new (by_status, tm_status_name ((tm_status_t) status),
                             json_integer ((json_int_t) summary_by_status (self->summary,
                                                                           (tm_status_t) status)));
    json_t *eta = json_null ();
    if (total >= 0 && self->rate_now > 0)
        eta = json_real ((double) ((uint64_t) total - done) / self->rate_now);
    //  Open: read and not final; queued: at the master, not yet sent (or
    //  waiting to retry); the rest are at workers.
    size_t open = lease_table_size (self->leases);
    size_t queued = dispatcher_queued (self->dispatcher);
    queued = queued < open ? queued : open;
    json_t *job = json_pack ("{s:s, s:o, s:I, s:o, s:I, s:I, s:I, s:f, s:f, s:f, s:o, s:o}",
                             "id", self->job_id,
                             "total", total >= 0 ? json_integer (total) : json_null (),
                             "done", (json_int_t) done, "by_status", by_status,
                             "open", (json_int_t) open, "queued", (json_int_t) queued,
                             "in_flight", (json_int_t) (open - queued),
                             "elapsed_s", elapsed_s, "rate_now", self->rate_now,
                             "rate_avg", elapsed_s > 0 ? (double) done / elapsed_s : 0.0,
                             "eta_s", eta, "rate_history", s_rate_history (self));
    s_report (self, job, now_us);
    return job;
}

void
status_update (status_t *self, int64_t now_us, int64_t total, uint64_t garbage)
{
    json_t *root = json_pack ("{s:o, s:o, s:o, s:o}", "job", s_job (self, now_us, total),
                              "workers", s_workers (self, now_us),
                              "failures", s_failures (self),
                              "counters", s_counters (self, garbage));
    char *json = json_dumps (root, JSON_COMPACT);
    json_decref (root);
    if (json) {
        free (self->json);
        self->json = json;
    }
}

const char *
status_json (status_t *self)
{
    return self->json;
}
