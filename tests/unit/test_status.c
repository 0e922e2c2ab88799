/*  test_status: the status snapshot (what `taskmill status`, /api/status
    and the dashboard read) as JSON, parsed back: its numbers add up (done
    is the sum by status; the per-type counts and the per-worker counts
    with those the master ended itself sum to done; the throughput buckets
    and the latency histogram too, and stay bounded), and it lists the
    tasks that have run longest, longest first, with their worker.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "dispatcher.h"
#include "json_check.h"
#include "lease_table.h"
#include "status.h"
#include "summary.h"
#include "throughput.h"
#include "tm_socket.h"
#include "worker_table.h"
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define S_SECOND 1000000

typedef struct {
    zsock_t *router;
    lease_table_t *leases;
    worker_table_t *workers;
    dispatcher_t *dispatcher;
    summary_t *summary;
    status_t *status;
    worker_info_t *worker;          //  "w1", the one worker that sent Credit
} s_rig_t;

static void
s_rig_new (s_rig_t *rig)
{
    rig->router = tm_socket_tasks_router ("tcp://127.0.0.1:*", NULL, NULL);
    assert_non_null (rig->router);
    rig->leases = lease_table_new (256);
    rig->workers = worker_table_new ();
    rig->dispatcher = dispatcher_new (rig->router, rig->leases, rig->workers, "J1", 0);
    rig->summary = summary_new ("J1", 0);
    rig->status = status_new ("J1", rig->summary, rig->leases, rig->dispatcher, rig->workers, 0);
    tm_credit_t credit = { .worker_id = "w1", .credit = 64, .threads = 16, .epoch = 1 };
    worker_info_t *replaced;
    worker_table_credit (rig->workers, "w1-inc-0001", &credit, 5, 0, &rig->worker, &replaced);
    assert_non_null (rig->worker);
}

static void
s_rig_destroy (s_rig_t *rig)
{
    status_destroy (&rig->status);
    assert_null (rig->status);
    summary_destroy (&rig->summary);
    dispatcher_destroy (&rig->dispatcher);
    worker_table_destroy (&rig->workers);
    lease_table_destroy (&rig->leases);
    zsock_destroy (&rig->router);
}

//  The snapshot at now_us, parsed.
static json_t *
s_snapshot (s_rig_t *rig, int64_t now_us, int64_t total)
{
    status_update (rig->status, now_us, total, 0);
    json_error_t error;
    json_t *root = json_loads (status_json (rig->status), 0, &error);
    if (!root)
        fail_msg ("the snapshot is not JSON: %s", error.text);
    return root;
}

static void
the_numbers_add_up (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    static const char *types [] = { "sha256", "echo", "sleep" };
    static const char *workers [] = { "w1", "w2", NULL };
    static const tm_status_t statuses [] = {
        TM_STATUS_OK, TM_STATUS_OK, TM_STATUS_FAILED, TM_STATUS_TIMEOUT, TM_STATUS_NO_HANDLER,
        TM_STATUS_REJECTED, TM_STATUS_OK
    };
    int n = 5000;
    for (int i = 0; i < n; i++)
        summary_add (rig.summary, &(summary_result_t) {
            .type = types [i % 3], .status = statuses [i % 7], .worker_id = workers [i % 5 % 3],
            .latency_us = 50 + i * 37 % 400000, .run_us = i % 1000, .wait_us = i % 77,
            .now_us = (int64_t) i * 1000 });        //  5 s of results
    json_t *root = s_snapshot (&rig, 6 * S_SECOND, n + 10);
    json_t *job = json_check_at (root, "job");
    json_int_t done = json_check_int (job, "done");
    assert_int_equal (done, n);
    assert_int_equal (json_check_sum (json_check_at (job, "by_status"), NULL), done);
    json_t *by_type = json_check_at (job, "by_type");
    assert_int_equal (json_object_size (by_type), 3);
    assert_int_equal (json_check_sum (by_type, "done"), done);
    const char *name;
    json_t *type;
    json_object_foreach (by_type, name, type)
        assert_int_equal (json_check_sum (json_check_at (type, "by_status"), NULL),
                          json_check_int (type, "done"));
    json_t *by_worker = json_check_at (job, "by_worker");
    assert_int_equal (json_object_size (by_worker), 2);
    assert_true (json_check_int (job, "no_worker") > 0);
    assert_int_equal (json_check_sum (by_worker, "done") + json_check_int (job, "no_worker"), done);
    json_t *throughput = json_check_at (job, "throughput");
    assert_int_equal (json_check_int (throughput, "bucket_s"), 1);
    json_t *counts = json_check_at (throughput, "counts");
    assert_int_equal (json_array_size (counts), 7);          //  up to now, 6 s in
    assert_int_equal (json_check_sum (counts, NULL), done);
    json_t *histogram = json_check_at (job, "latency_histogram");
    assert_int_equal (json_array_size (json_check_at (histogram, "le_us")), HISTOGRAM_BOUNDS);
    assert_int_equal (json_array_size (json_check_at (histogram, "counts")), HISTOGRAM_BOUNDS + 1);
    assert_int_equal (json_check_sum (json_check_at (histogram, "counts"), NULL), done);
    static const char *quantities [] = { "latency_us", "queue_wait_us", "run_time_us" };
    for (size_t i = 0; i < 3; i++) {
        json_t *p = json_check_at (job, quantities [i]);
        json_int_t p50 = json_check_int (p, "p50"), p90 = json_check_int (p, "p90");
        json_int_t p99 = json_check_int (p, "p99"), max = json_check_int (p, "max");
        assert_true (p50 <= p90 && p90 <= p99 && p99 <= max);
    }
    assert_int_equal (json_check_int (json_check_at (job, "run_time_us"), "max"), 999);
    assert_int_equal (json_check_int (json_check_at (job, "queue_wait_us"), "max"), 76);
    assert_int_equal (json_check_int (job, "open"),
                      json_check_int (job, "queued") + json_check_int (job, "in_flight"));
    json_decref (root);
    s_rig_destroy (&rig);
}

//  A long job's throughput stays THROUGHPUT_BUCKETS at most, still summing
//  to done; a job of a thousand types lists 32 and "other".
static void
a_long_job_of_many_types_stays_bounded (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    char type [16];
    int n = 20000;
    for (int i = 0; i < n; i++) {
        snprintf (type, sizeof type, "type-%d", i % 1000);
        summary_add (rig.summary, &(summary_result_t) {
            .type = type, .status = TM_STATUS_OK, .worker_id = "w1", .latency_us = 1,
            .run_us = 1, .now_us = (int64_t) i * 30 * S_SECOND });     //  a week
    }
    json_t *root = s_snapshot (&rig, (int64_t) n * 30 * S_SECOND, n);
    json_t *job = json_check_at (root, "job");
    json_t *counts = json_check_at (json_check_at (job, "throughput"), "counts");
    assert_true (json_array_size (counts) <= THROUGHPUT_BUCKETS);
    assert_int_equal (json_check_sum (counts, NULL), n);
    assert_true (json_check_int (json_check_at (job, "throughput"), "bucket_s") >= 2048);
    json_t *by_type = json_check_at (job, "by_type");
    assert_int_equal (json_object_size (by_type), SUMMARY_MAX_TYPES + 1);
    assert_int_equal (json_check_sum (by_type, "done"), n);
    assert_true (strlen (status_json (rig.status)) < 64 * 1024);
    json_decref (root);
    s_rig_destroy (&rig);
}

static void
the_longest_running_tasks_are_listed_longest_first (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    char id [16];
    int n = STATUS_RUNNING + 5;
    for (int i = 0; i < n; i++) {
        snprintf (id, sizeof id, "long%d", i);
        lease_t *lease = lease_table_issue (rig.leases, id, "sleep", NULL, 0, 0, 1, 0);
        lease_table_send (rig.leases, lease, rig.worker->slot, 1, 0, 0);
        //  Started a second apart, the last first.
        lease_table_heard (rig.leases, lease, true, (int64_t) (n - i) * S_SECOND, 0);
    }
    lease_t *queued = lease_table_issue (rig.leases, "queued", "echo", NULL, 0, 0, 1, 0);
    lease_table_send (rig.leases, queued, rig.worker->slot, 1, 0, 0);
    lease_table_heard (rig.leases, queued, false, 0, 0);
    json_t *root = s_snapshot (&rig, 100 * S_SECOND, -1);
    json_t *running = json_check_at (json_check_at (root, "job"), "running");
    assert_int_equal (json_array_size (running), STATUS_RUNNING);
    for (size_t i = 0; i < STATUS_RUNNING; i++) {
        json_t *task = json_array_get (running, i);
        snprintf (id, sizeof id, "long%d", n - 1 - (int) i);
        assert_string_equal (json_string_value (json_check_at (task, "id")), id);
        assert_string_equal (json_string_value (json_check_at (task, "type")), "sleep");
        assert_string_equal (json_string_value (json_check_at (task, "worker")), "w1");
        assert_int_equal (json_check_int (task, "attempt"), 1);
        assert_float_equal (json_real_value (json_check_at (task, "running_s")), 99.0 - (double) i,
                            1e-9);
    }
    json_decref (root);
    s_rig_destroy (&rig);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (the_numbers_add_up),
        cmocka_unit_test (a_long_job_of_many_types_stays_bounded),
        cmocka_unit_test (the_longest_running_tasks_are_listed_longest_first),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
