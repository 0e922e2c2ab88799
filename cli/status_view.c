/*  status_view: the table. */
#include "status_view.h"
#include "tm_limits.h"
#include "tm_log.h"
#include <jansson.h>
#include <string.h>

//  A string from the wire, fit for a terminal: escaped as the master's log
//  escapes it (control bytes, C1 controls and broken UTF-8 as \xNN), then
//  cut to width, not inside a UTF-8 sequence.
static const char *
s_safe (const char *text, char *buffer, size_t size)
{
    char escaped [TM_LOG_SAFE_BYTES (TM_MAX_ERROR_BYTES)];
    tm_log_safe (text ? text : "", escaped, sizeof escaped);
    size_t length = strlen (escaped);
    if (length >= size) {
        length = size - 1;
        while (length > 0 && ((unsigned char) escaped [length] & 0xc0) == 0x80)
            length--;
    }
    memcpy (buffer, escaped, length);
    buffer [length] = 0;
    return buffer;
}

static const char *
s_str (json_t *object, const char *key, char *buffer, size_t size)
{
    return s_safe (json_string_value (json_object_get (object, key)), buffer, size);
}

static long long
s_int (json_t *object, const char *key)
{
    return (long long) json_integer_value (json_object_get (object, key));
}

static double
s_real (json_t *object, const char *key)
{
    return json_number_value (json_object_get (object, key));
}

static void
s_print_job (json_t *job, FILE *out)
{
    char id [80];
    json_t *total = json_object_get (job, "total");
    json_t *by_status = json_object_get (job, "by_status");
    fprintf (out, "job %s: %lld done", s_str (job, "id", id, sizeof id), s_int (job, "done"));
    if (json_is_integer (total))
        fprintf (out, " of %lld", (long long) json_integer_value (total));
    fprintf (out, " (ok %lld, failed %lld, timeout %lld, no_handler %lld, rejected %lld)\n",
             s_int (by_status, "ok"), s_int (by_status, "failed"), s_int (by_status, "timeout"),
             s_int (by_status, "no_handler"), s_int (by_status, "rejected"));
    fprintf (out, "  in flight %lld, queued %lld; rate now %.0f/s, average %.0f/s; elapsed %.1f s",
             s_int (job, "in_flight"), s_int (job, "queued"), s_real (job, "rate_now"),
             s_real (job, "rate_avg"), s_real (job, "elapsed_s"));
    json_t *eta = json_object_get (job, "eta_s");
    if (json_is_number (eta))
        fprintf (out, "; ETA %.1f s", json_number_value (eta));
    fprintf (out, "\n");
}

//  A duration in microseconds as a person reads it: 812us, 4.1ms, 2.50s.
static const char *
s_duration (long long us, char *buffer, size_t size)
{
    if (us < 1000)
        snprintf (buffer, size, "%lldus", us);
    else
    if (us < 1000000)
        snprintf (buffer, size, "%.1fms", (double) us / 1e3);
    else
        snprintf (buffer, size, "%.2fs", (double) us / 1e6);
    return buffer;
}

static void
s_print_percentiles (json_t *job, FILE *out)
{
    static const struct { const char *key, *name; } quantities [] = {
        { "latency_us", "latency" }, { "queue_wait_us", "queue wait" },
        { "run_time_us", "run time" }
    };
    for (size_t i = 0; i < sizeof quantities / sizeof quantities [0]; i++) {
        json_t *p = json_object_get (job, quantities [i].key);
        char p50 [24], p90 [24], p99 [24], max [24];
        fprintf (out, "  %-10s p50 %s, p90 %s, p99 %s, max %s\n", quantities [i].name,
                 s_duration (s_int (p, "p50"), p50, sizeof p50),
                 s_duration (s_int (p, "p90"), p90, sizeof p90),
                 s_duration (s_int (p, "p99"), p99, sizeof p99),
                 s_duration (s_int (p, "max"), max, sizeof max));
    }
    fprintf (out, "\n");
}

static void
s_print_types (json_t *types, FILE *out)
{
    if (json_object_size (types) == 0)
        return;
    fprintf (out, "%-24s %8s %8s %8s %10s\n", "TYPE", "DONE", "OK", "NOT OK", "BUSY");
    const char *name;
    json_t *type;
    json_object_foreach (types, name, type) {
        char safe [25];
        long long done = s_int (type, "done");
        long long ok = s_int (json_object_get (type, "by_status"), "ok");
        fprintf (out, "%-24s %8lld %8lld %8lld %9.1fs\n", s_safe (name, safe, sizeof safe),
                 done, ok, done - ok, s_real (type, "busy_s"));
    }
    fprintf (out, "\n");
}

static void
s_print_running (json_t *running, FILE *out)
{
    if (json_array_size (running) == 0)
        return;
    fprintf (out, "\nlongest running:\n");
    size_t index;
    json_t *task;
    json_array_foreach (running, index, task) {
        char id [40], type [24], worker [40];
        fprintf (out, "  %7.1fs seq %lld id %s (%s) on %s\n", s_real (task, "running_s"),
                 s_int (task, "seq"), s_str (task, "id", id, sizeof id),
                 s_str (task, "type", type, sizeof type),
                 s_str (task, "worker", worker, sizeof worker));
    }
}

//  An autoscaled pool's bounds and its growth and shrink events
//  ("1-8 +3 -2"), or "fixed".
static const char *
s_pool (json_t *worker, char *buffer, size_t size)
{
    if (s_int (worker, "threads_max") == 0)
        snprintf (buffer, size, "fixed");
    else
        snprintf (buffer, size, "%lld-%lld +%lld -%lld", s_int (worker, "threads_min"),
                  s_int (worker, "threads_max"), s_int (worker, "threads_grown"),
                  s_int (worker, "threads_shrunk"));
    return buffer;
}

static void
s_print_workers (json_t *workers, FILE *out)
{
    fprintf (out, "%-24s %-16s %-16s %7s %7s %-16s %6s %6s %8s %7s %6s %s\n", "WORKER",
             "INCARNATION", "HOST", "PID", "THREADS", "POOL", "CREDIT", "HELD", "DONE", "FAILED",
             "HEARD", "STATE");
    size_t index;
    json_t *worker;
    json_array_foreach (workers, index, worker) {
        char id [25], incarnation [17], host [17], state [12], threads [16], pool [48];
        snprintf (threads, sizeof threads, "%lld/%lld", s_int (worker, "threads_busy"),
                  s_int (worker, "threads"));
        fprintf (out, "%-24s %-16s %-16s %7lld %7s %-16s %6lld %6lld %8lld %7lld %5.1fs %s\n",
                 s_str (worker, "id", id, sizeof id),
                 s_str (worker, "incarnation", incarnation, sizeof incarnation),
                 s_str (worker, "host", host, sizeof host), s_int (worker, "pid"), threads,
                 s_pool (worker, pool, sizeof pool), s_int (worker, "credit"),
                 s_int (worker, "held"), s_int (worker, "done"), s_int (worker, "failed"),
                 s_real (worker, "last_heard_s"), s_str (worker, "state", state, sizeof state));
    }
}

static void
s_print_failures (json_t *failures, FILE *out)
{
    if (json_array_size (failures) == 0)
        return;
    fprintf (out, "\nlast failures:\n");
    size_t index;
    json_t *failure;
    json_array_foreach (failures, index, failure) {
        char id [40], type [24], status [16], error [120], worker [40];
        fprintf (out, "  seq %lld id %s (%s): %s on %s: %s\n", s_int (failure, "seq"),
                 s_str (failure, "id", id, sizeof id), s_str (failure, "type", type, sizeof type),
                 s_str (failure, "status", status, sizeof status),
                 s_str (failure, "worker", worker, sizeof worker),
                 s_str (failure, "error", error, sizeof error));
    }
}

static void
s_print_counters (json_t *counters, FILE *out)
{
    fprintf (out, "\n");
    const char *key;
    json_t *value;
    const char *separator = "";
    json_object_foreach (counters, key, value) {
        fprintf (out, "%s%s=%lld", separator, key, (long long) json_integer_value (value));
        separator = " ";
    }
    fprintf (out, "\n");
}

int
status_view_print (const char *json, FILE *out)
{
    json_t *root = json_loads (json, 0, NULL);
    if (!root || !json_is_object (json_object_get (root, "job"))) {
        json_decref (root);
        return -1;
    }
    json_t *job = json_object_get (root, "job");
    s_print_job (job, out);
    s_print_percentiles (job, out);
    s_print_types (json_object_get (job, "by_type"), out);
    s_print_workers (json_object_get (root, "workers"), out);
    s_print_running (json_object_get (job, "running"), out);
    s_print_failures (json_object_get (root, "failures"), out);
    s_print_counters (json_object_get (root, "counters"), out);
    json_decref (root);
    return 0;
}
