/*  test_metrics: the Prometheus exposition the master serves on /metrics:
    every series has its # HELP and # TYPE, counters and gauges read the
    tables, histogram buckets are cumulative and end in +Inf == _count, and
    the text is rebuilt in place from the tables each time. (promtool
    checks the real thing in tests/process/test_http.py.)
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "dispatcher.h"
#include "lease_table.h"
#include "metrics.h"
#include "summary.h"
#include "tm_socket.h"
#include "worker_table.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    zsock_t *router;
    lease_table_t *leases;
    worker_table_t *workers;
    dispatcher_t *dispatcher;
    summary_t *summary;
    metrics_t *metrics;
} s_rig_t;

static void
s_rig_new (s_rig_t *rig)
{
    rig->router = tm_socket_tasks_router ("tcp://127.0.0.1:*", NULL, NULL);
    assert_non_null (rig->router);
    rig->leases = lease_table_new (64);
    rig->workers = worker_table_new ();
    rig->dispatcher = dispatcher_new (rig->router, rig->leases, rig->workers, "J1", 0);
    rig->summary = summary_new ("J1", 0);
    rig->metrics = metrics_new ("J1", rig->summary, rig->leases, rig->dispatcher, rig->workers);
}

static void
s_rig_destroy (s_rig_t *rig)
{
    metrics_destroy (&rig->metrics);
    assert_null (rig->metrics);
    summary_destroy (&rig->summary);
    dispatcher_destroy (&rig->dispatcher);
    worker_table_destroy (&rig->workers);
    lease_table_destroy (&rig->leases);
    zsock_destroy (&rig->router);
}

//  The value of the sample line that starts with series (name and labels).
static double
s_value (const char *text, const char *series)
{
    size_t length = strlen (series);
    for (const char *line = text; *line; ) {
        const char *end = strchr (line, '\n');
        assert_non_null (end);
        if (strncmp (line, series, length) == 0 && line [length] == ' ')
            return strtod (line + length + 1, NULL);
        line = end + 1;
    }
    fail_msg ("no series %s in:\n%s", series, text);
    return -1;
}

//  A result of worker (NULL: none) final latency_us after its first send, run_us of it running.
static void
s_add (s_rig_t *rig, tm_status_t status, const char *worker, int64_t latency_us, int64_t run_us)
{
    summary_add (rig->summary, &(summary_result_t) {
        .type = "echo", .status = status, .worker_id = worker, .latency_us = latency_us,
        .run_us = run_us });
}

static const char *
s_update (s_rig_t *rig, int64_t total, uint64_t garbage)
{
    metrics_update (rig->metrics, total, garbage);
    size_t size;
    const char *text = metrics_text (rig->metrics, &size);
    assert_int_equal (strlen (text), size);
    assert_true (size > 0 && text [size - 1] == '\n');
    return text;
}

static void
every_series_has_help_and_type_before_it (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    const char *text = s_update (&rig, 10, 0);
    char typed [64][80];
    size_t types = 0;
    for (const char *line = text; *line; ) {
        const char *end = strchr (line, '\n');
        char buffer [256];
        snprintf (buffer, sizeof buffer, "%.*s", (int) (end - line), line);
        char name [80];
        if (strncmp (buffer, "# TYPE ", 7) == 0) {
            assert_int_equal (sscanf (buffer + 7, "%79s", name), 1);
            assert_true (types < 64);
            snprintf (typed [types++], sizeof typed [0], "%s", name);
        }
        else
        if (buffer [0] != '#') {
            assert_int_equal (strncmp (buffer, "taskmill_", 9), 0);
            size_t span = strcspn (buffer, "{ ");
            bool found = false;
            for (size_t i = 0; i < types && !found; i++) {
                size_t typed_length = strlen (typed [i]);
                found = strncmp (buffer, typed [i], typed_length) == 0
                     && (span == typed_length
                         || strncmp (buffer + typed_length, "_bucket", 7) == 0
                         || strncmp (buffer + typed_length, "_sum", 4) == 0
                         || strncmp (buffer + typed_length, "_count", 6) == 0);
            }
            if (!found)
                fail_msg ("no # TYPE before %s", buffer);
        }
        line = end + 1;
    }
    assert_non_null (strstr (text, "# HELP taskmill_tasks_total "));
    assert_non_null (strstr (text, "taskmill_job_info{job_id=\"J1\"} 1\n"));
    assert_int_equal (s_value (text, "taskmill_job_tasks"), 10);
    s_rig_destroy (&rig);
}

static void
counters_read_the_summary (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    s_add (&rig, TM_STATUS_OK, "w", 300, 0);
    s_add (&rig, TM_STATUS_OK, "w", 300, 0);
    s_add (&rig, TM_STATUS_TIMEOUT, NULL, 9000000, 0);
    summary_count (rig.summary, SUMMARY_RETRIES, 4);
    summary_count (rig.summary, SUMMARY_LEASES_EXPIRED, 3);
    summary_count (rig.summary, SUMMARY_DUPLICATES, 2);
    summary_count (rig.summary, SUMMARY_STALE, 5);
    summary_count (rig.summary, SUMMARY_UNKNOWN_SEQ, 6);
    const char *text = s_update (&rig, -1, 7);
    assert_int_equal (s_value (text, "taskmill_tasks_total{status=\"ok\"}"), 2);
    assert_int_equal (s_value (text, "taskmill_tasks_total{status=\"timeout\"}"), 1);
    assert_int_equal (s_value (text, "taskmill_tasks_total{status=\"failed\"}"), 0);
    assert_int_equal (s_value (text, "taskmill_task_retries_total"), 4);
    assert_int_equal (s_value (text, "taskmill_leases_expired_total"), 3);
    assert_int_equal (s_value (text, "taskmill_results_dropped_total{reason=\"duplicate\"}"), 2);
    assert_int_equal (s_value (text, "taskmill_results_dropped_total{reason=\"stale\"}"), 5);
    assert_int_equal (s_value (text, "taskmill_results_dropped_total{reason=\"unknown_seq\"}"), 6);
    assert_int_equal (s_value (text, "taskmill_results_dropped_total{reason=\"garbage\"}"), 7);
    //  Total unknown: no taskmill_job_tasks at all.
    assert_null (strstr (text, "taskmill_job_tasks"));
    s_rig_destroy (&rig);
}

static void
gauges_read_the_queue_and_the_workers (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    for (int i = 0; i < 3; i++)
        dispatcher_enqueue (rig.dispatcher, lease_table_issue (rig.leases, "t", "echo",
                                                               (const uint8_t *) "p", 1, 1000, 1, 0));
    lease_t *sent = lease_table_issue (rig.leases, "u", "echo", (const uint8_t *) "p", 1, 1000, 1, 0);
    lease_table_send (rig.leases, sent, 1, 1, 0, 500000);
    tm_credit_t credit = { .worker_id = "w1", .credit = 4, .threads = 2, .epoch = 1 };
    worker_info_t *worker, *replaced;
    worker_table_credit (rig.workers, "w1-inc-0001", &credit, 5, 0, &worker, &replaced);
    credit.worker_id = "w2";
    worker_table_credit (rig.workers, "w2-inc-0001", &credit, 6, 0, &worker, &replaced);
    worker_table_lose (rig.workers, worker, 0);
    const char *text = s_update (&rig, 4, 0);
    assert_int_equal (s_value (text, "taskmill_tasks_queued"), 3);
    assert_int_equal (s_value (text, "taskmill_tasks_in_flight"), 1);
    assert_int_equal (s_value (text, "taskmill_workers{state=\"live\"}"), 1);
    assert_int_equal (s_value (text, "taskmill_workers{state=\"draining\"}"), 0);
    assert_int_equal (s_value (text, "taskmill_workers{state=\"lost\"}"), 1);
    s_rig_destroy (&rig);
}

static void
histograms_are_cumulative_in_seconds (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    int64_t latencies [] = { 50, 100, 101, 2000, 2000000, 400000000 };
    for (size_t i = 0; i < sizeof latencies / sizeof latencies [0]; i++) {
        s_add (&rig, TM_STATUS_OK, "w", latencies [i], latencies [i] / 2);
    }
    const char *text = s_update (&rig, -1, 0);
    assert_int_equal (s_value (text, "taskmill_task_latency_seconds_bucket{le=\"0.0001\"}"), 2);
    assert_int_equal (s_value (text, "taskmill_task_latency_seconds_bucket{le=\"0.00025\"}"), 3);
    assert_int_equal (s_value (text, "taskmill_task_latency_seconds_bucket{le=\"0.0025\"}"), 4);
    assert_int_equal (s_value (text, "taskmill_task_latency_seconds_bucket{le=\"2.5\"}"), 5);
    assert_int_equal (s_value (text, "taskmill_task_latency_seconds_bucket{le=\"300\"}"), 5);
    assert_int_equal (s_value (text, "taskmill_task_latency_seconds_bucket{le=\"+Inf\"}"), 6);
    assert_int_equal (s_value (text, "taskmill_task_latency_seconds_count"), 6);
    assert_float_equal (s_value (text, "taskmill_task_latency_seconds_sum"), 402.002251, 1e-6);
    assert_int_equal (s_value (text, "taskmill_task_duration_seconds_bucket{le=\"0.0001\"}"), 3);
    assert_int_equal (s_value (text, "taskmill_task_duration_seconds_count"), 6);
    s_rig_destroy (&rig);
}

static void
the_text_is_rebuilt_not_appended (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    size_t first;
    s_update (&rig, -1, 0);
    metrics_text (rig.metrics, &first);
    for (int i = 0; i < 1000; i++)
        s_add (&rig, TM_STATUS_OK, "w", i, 0);
    const char *text = s_update (&rig, -1, 0);
    size_t second;
    metrics_text (rig.metrics, &second);
    assert_int_equal (s_value (text, "taskmill_tasks_total{status=\"ok\"}"), 1000);
    assert_true (second < first * 3 / 2);     //  longer numbers, not a second copy
    s_rig_destroy (&rig);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (every_series_has_help_and_type_before_it),
        cmocka_unit_test (counters_read_the_summary),
        cmocka_unit_test (gauges_read_the_queue_and_the_workers),
        cmocka_unit_test (histograms_are_cumulative_in_seconds),
        cmocka_unit_test (the_text_is_rebuilt_not_appended),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
