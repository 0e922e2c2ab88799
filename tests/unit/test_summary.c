/*  test_summary: the job's aggregate through its API and as the JSON
    summary_write_json writes (parsed back with jansson): counts by status,
    type and worker that add up, the caps on types and workers, busy time,
    which histogram each duration goes to, throughput buckets that sum to
    the tasks, and the human text. (The percentiles' precision is
    test_loghist's, the buckets' halving test_throughput's.)
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "json_check.h"
#include "summary.h"
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_SECOND 1000000

//  One final result: from worker (NULL: ended by the master) at now_us.
static void
s_add (summary_t *summary, const char *type, tm_status_t status, const char *worker,
       int64_t latency_us, int64_t run_us, int64_t wait_us, int64_t now_us)
{
    summary_add (summary, &(summary_result_t) {
        .type = type, .status = status, .worker_id = worker, .latency_us = latency_us,
        .run_us = run_us, .wait_us = wait_us, .now_us = now_us });
}

//  Writes the summary as JSON to a temporary file and parses it back.
static json_t *
s_json (summary_t *summary)
{
    char path [] = "/tmp/test_summary_XXXXXX";
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    close (fd);
    assert_int_equal (summary_write_json (summary, path), 0);
    json_error_t error;
    json_t *root = json_load_file (path, 0, &error);
    unlink (path);
    if (!root)
        fail_msg ("summary is not valid JSON: %s", error.text);
    return root;
}

static void
counts_by_status_type_and_worker_add_up (void **state)
{
    (void) state;
    summary_t *summary = summary_new ("job-s", 0);
    s_add (summary, "sha256", TM_STATUS_OK, "w1", 10, 5, 1, 0);
    s_add (summary, "sha256", TM_STATUS_OK, "w2", 10, 5, 1, 0);
    s_add (summary, "sha256", TM_STATUS_FAILED, "w1", 10, 5, 1, 0);
    s_add (summary, "echo", TM_STATUS_OK, "w1", 10, 5, 1, 0);
    s_add (summary, "echo", TM_STATUS_TIMEOUT, "w2", 10, 5, 1, 0);
    s_add (summary, "exec", TM_STATUS_REJECTED, "w3", 10, 5, 1, 0);
    assert_int_equal (summary_done (summary), 6);
    assert_int_equal (summary_not_ok (summary), 3);

    json_t *root = s_json (summary);
    assert_int_equal (json_check_int (root, "tasks"), 6);
    assert_int_equal (json_check_sum (json_check_at (root, "by_status"), NULL), 6);
    assert_int_equal (json_check_int (root, "by_status.ok"), 3);
    assert_int_equal (json_check_int (root, "by_status.rejected"), 1);
    assert_int_equal (json_check_int (root, "by_status.no_handler"), 0);
    assert_int_equal (json_object_size (json_check_at (root, "by_type")), 3);
    assert_int_equal (json_check_int (root, "by_type.sha256.ok"), 2);
    assert_int_equal (json_check_int (root, "by_type.sha256.failed"), 1);
    assert_int_equal (json_check_int (root, "by_type.echo.timeout"), 1);
    assert_int_equal (json_check_int (root, "by_type.exec.rejected"), 1);
    assert_int_equal (json_check_int (root, "by_type.exec.ok"), 0);
    assert_int_equal (json_object_size (json_check_at (root, "workers")), 3);
    assert_int_equal (json_check_int (root, "workers.w1"), 3);
    assert_int_equal (json_check_int (root, "workers.w2"), 2);
    assert_int_equal (json_check_int (root, "workers.w3"), 1);
    assert_int_equal (json_check_int (root, "no_worker"), 0);
    json_decref (root);
    summary_destroy (&summary);
    assert_null (summary);
}

static void
a_result_the_master_ended_has_no_worker_run_time_or_wait (void **state)
{
    (void) state;
    summary_t *summary = summary_new ("job", 0);
    s_add (summary, "echo", TM_STATUS_TIMEOUT, NULL, 5000, 0, 0, 0);
    s_add (summary, "echo", TM_STATUS_OK, "w1", 5, 3, 2, 0);
    assert_int_equal (summary_done (summary), 2);
    assert_int_equal (summary_not_ok (summary), 1);
    assert_int_equal (summary_no_worker (summary), 1);
    assert_int_equal (summary_histogram (summary, SUMMARY_LATENCY)->count, 2);
    assert_int_equal (summary_histogram (summary, SUMMARY_DURATION)->count, 1);
    assert_int_equal (summary_percentiles (summary, SUMMARY_QUEUE_WAIT).max, 2);
    json_t *root = s_json (summary);
    assert_int_equal (json_object_size (json_check_at (root, "workers")), 1);
    assert_int_equal (json_check_int (root, "workers.w1"), 1);
    //  Every final result is a worker's or the master's.
    assert_int_equal (json_check_sum (json_check_at (root, "workers"), NULL)
                      + json_check_int (root, "no_worker"), json_check_int (root, "tasks"));
    assert_int_equal (json_check_int (root, "latency_us.max"), 5000);
    assert_int_equal (json_check_int (root, "run_time_us.max"), 3);
    assert_int_equal (json_check_int (root, "queue_wait_us.max"), 2);
    json_decref (root);
    summary_destroy (&summary);
}

static void
counters_accumulate_and_are_written (void **state)
{
    (void) state;
    summary_t *summary = summary_new ("job", 0);
    for (int c = 0; c < SUMMARY_COUNTER_COUNT; c++)
        assert_int_equal (summary_counter (summary, (summary_counter_t) c), 0);
    summary_count (summary, SUMMARY_RETRIES, 2);
    summary_count (summary, SUMMARY_RETRIES, 3);
    summary_count (summary, SUMMARY_DUPLICATES, 7);
    summary_count (summary, SUMMARY_STALE, 11);
    summary_count (summary, SUMMARY_GARBAGE, 13);
    summary_count (summary, SUMMARY_INVALID_SKIPPED, 3);
    assert_int_equal (summary_counter (summary, SUMMARY_RETRIES), 5);
    assert_int_equal (summary_counter (summary, SUMMARY_STALE), 11);
    //  Counters are not results.
    assert_int_equal (summary_done (summary), 0);
    json_t *root = s_json (summary);
    assert_int_equal (json_check_int (root, "retries"), 5);
    assert_int_equal (json_check_int (root, "duplicates_dropped"), 7);
    assert_int_equal (json_check_int (root, "stale_dropped"), 11);
    assert_int_equal (json_check_int (root, "garbage_dropped"), 13);
    assert_int_equal (json_check_int (root, "invalid_skipped"), 3);
    json_decref (root);
    summary_destroy (&summary);
}

//  Latency, run time and queue wait of the same results are three sets of
//  numbers: each percentile reads its own (within loghist's 1/16 above).
static void
each_duration_has_its_own_percentiles (void **state)
{
    (void) state;
    summary_t *summary = summary_new ("job", 0);
    for (int64_t i = 1; i <= 1000; i++)
        s_add (summary, "echo", TM_STATUS_OK, "w", 3000 + i, 1000 + i, 2000 - i, 0);
    loghist_summary_t run = summary_percentiles (summary, SUMMARY_DURATION);
    loghist_summary_t wait = summary_percentiles (summary, SUMMARY_QUEUE_WAIT);
    loghist_summary_t latency = summary_percentiles (summary, SUMMARY_LATENCY);
    //  The value at rank floor(q n) of 1..1000 is q n + 1.
    assert_true (run.p50 >= 1501 && run.p50 <= 1501 * 17 / 16);
    assert_true (run.p99 >= 1991 && run.p99 <= 1991 * 17 / 16);
    assert_int_equal (run.max, 2000);
    assert_true (wait.p50 >= 1500 && wait.p50 <= 1500 * 17 / 16);
    assert_int_equal (wait.max, 1999);
    assert_true (latency.p90 >= 3901 && latency.p90 <= 3901 * 17 / 16);
    assert_int_equal (latency.max, 4000);
    assert_int_equal (summary_latency_us (summary, 1.0), 4000);
    json_t *root = s_json (summary);
    assert_int_equal (json_check_int (root, "run_time_us.p50"), run.p50);
    assert_int_equal (json_check_int (root, "run_time_us.p90"), run.p90);
    assert_int_equal (json_check_int (root, "queue_wait_us.p99"), wait.p99);
    assert_int_equal (json_check_int (root, "latency_us.max"), 4000);
    json_decref (root);
    summary_destroy (&summary);
}

static void
busy_time_is_the_sum_of_run_times_by_type_and_by_worker (void **state)
{
    (void) state;
    summary_t *summary = summary_new ("job", 0);
    s_add (summary, "sleep", TM_STATUS_OK, "a", 0, 2 * S_SECOND, 0, 0);
    s_add (summary, "sleep", TM_STATUS_FAILED, "b", 0, S_SECOND / 2, 0, 0);
    s_add (summary, "echo", TM_STATUS_OK, "a", 0, S_SECOND / 4, 0, 0);
    s_add (summary, "echo", TM_STATUS_TIMEOUT, NULL, 0, 0, 0, 0);
    json_t *root = s_json (summary);
    assert_float_equal (json_real_value (json_check_at (root, "busy_s.by_type.sleep")), 2.5, 1e-9);
    assert_float_equal (json_real_value (json_check_at (root, "busy_s.by_type.echo")), 0.25, 1e-9);
    assert_float_equal (json_real_value (json_check_at (root, "busy_s.by_worker.a")), 2.25, 1e-9);
    assert_float_equal (json_real_value (json_check_at (root, "busy_s.by_worker.b")), 0.5, 1e-9);
    json_decref (root);
    //  The status snapshot's tables carry the same.
    json_t *types = summary_types_json (summary);
    assert_int_equal (json_check_int (types, "sleep.done"), 2);
    assert_int_equal (json_check_int (types, "sleep.by_status.failed"), 1);
    assert_int_equal (json_check_int (types, "echo.by_status.timeout"), 1);
    assert_float_equal (json_real_value (json_check_at (types, "sleep.busy_s")), 2.5, 1e-9);
    assert_int_equal (json_check_sum (types, "done"), 4);
    json_decref (types);
    json_t *workers = summary_workers_json (summary);
    assert_int_equal (json_check_int (workers, "a.done"), 2);
    assert_int_equal (json_check_int (workers, "b.not_ok"), 1);
    assert_int_equal (json_check_sum (workers, "done") + (json_int_t) summary_no_worker (summary),
                      4);
    json_decref (workers);
    summary_destroy (&summary);
}

//  Types and worker ids are free text: a job with a type per task must not
//  grow the summary.
static void
types_and_workers_past_their_cap_count_as_other (void **state)
{
    (void) state;
    summary_t *summary = summary_new ("job", 0);
    char type [32], worker [32];
    int n = 1000;
    for (int i = 0; i < n; i++) {
        snprintf (type, sizeof type, "t%d", i % 40);
        snprintf (worker, sizeof worker, "host/%d", i % 300);
        s_add (summary, type, i % 3 ? TM_STATUS_OK : TM_STATUS_FAILED, worker, 10, 10, 1, 0);
    }
    json_t *root = s_json (summary);
    json_t *by_type = json_check_at (root, "by_type");
    assert_int_equal (json_object_size (by_type), SUMMARY_MAX_TYPES + 1);
    assert_non_null (json_object_get (by_type, SUMMARY_OTHER));
    json_int_t typed = 0;
    const char *name;
    json_t *counts;
    json_object_foreach (by_type, name, counts)
        typed += json_check_sum (counts, NULL);
    assert_int_equal (typed, n);
    //  t32..t39, 25 results each (t0..t39 in turn).
    assert_int_equal (json_check_sum (json_object_get (by_type, SUMMARY_OTHER), NULL), 8 * n / 40);
    json_t *workers = json_check_at (root, "workers");
    assert_int_equal (json_object_size (workers), SUMMARY_MAX_WORKERS + 1);
    assert_int_equal (json_check_sum (workers, NULL), n);
    assert_int_equal (json_object_size (json_check_at (root, "busy_s.by_type")),
                      SUMMARY_MAX_TYPES + 1);
    assert_int_equal (json_object_size (json_check_at (root, "busy_s.by_worker")),
                      SUMMARY_MAX_WORKERS + 1);
    json_decref (root);
    summary_destroy (&summary);
}

static void
throughput_counts_results_by_second_and_sums_to_the_tasks (void **state)
{
    (void) state;
    int64_t start_us = 5 * S_SECOND;        //  monotonic: any origin
    summary_t *summary = summary_new ("job", start_us);
    int64_t at [] = { 0, S_SECOND / 2, S_SECOND + 1, 2 * S_SECOND - 1, 5 * S_SECOND + 3 };
    for (size_t i = 0; i < sizeof at / sizeof at [0]; i++)
        s_add (summary, "echo", TM_STATUS_OK, "w", 1, 1, 0, start_us + at [i]);
    summary_finish (summary, 6 * S_SECOND, 0);
    json_t *root = s_json (summary);
    assert_int_equal (json_check_int (root, "throughput.bucket_s"), 1);
    json_t *counts = json_check_at (root, "throughput.counts");
    assert_int_equal (json_array_size (counts), 6);     //  0..6 s: six seconds
    json_int_t expected [] = { 2, 2, 0, 0, 0, 1 };
    for (size_t i = 0; i < 6; i++)
        assert_int_equal (json_integer_value (json_array_get (counts, i)), expected [i]);
    assert_int_equal (json_check_sum (counts, NULL), json_check_int (root, "tasks"));
    json_decref (root);
    summary_destroy (&summary);
}

static void
an_empty_summary_has_zeros (void **state)
{
    (void) state;
    summary_t *summary = summary_new ("empty", 0);
    assert_int_equal (summary_latency_us (summary, 0.5), 0);
    summary_finish (summary, 0, 0);
    json_t *root = s_json (summary);
    assert_string_equal (json_string_value (json_check_at (root, "job_id")), "empty");
    assert_int_equal (json_check_int (root, "tasks"), 0);
    assert_true (json_number_value (json_check_at (root, "tasks_per_s")) == 0.0);
    assert_int_equal (json_check_int (root, "latency_us.p50"), 0);
    assert_int_equal (json_check_int (root, "queue_wait_us.max"), 0);
    assert_int_equal (json_check_int (root, "run_time_us.p99"), 0);
    assert_int_equal (json_object_size (json_check_at (root, "workers")), 0);
    assert_int_equal (json_object_size (json_check_at (root, "by_type")), 0);
    assert_int_equal (json_check_sum (json_check_at (root, "throughput.counts"), NULL), 0);
    json_decref (root);
    summary_destroy (&summary);
}

static void
the_json_has_the_documented_keys_and_values (void **state)
{
    (void) state;
    summary_t *summary = summary_new ("job-\"quoted\"", 0);
    for (int i = 0; i < 1000; i++)
        s_add (summary, "sha256", i % 10 ? TM_STATUS_OK : TM_STATUS_FAILED,
               i % 2 ? "host/1" : "host/2", 100, 60, 40, i * 1000);
    summary_count (summary, SUMMARY_RETRIES, 3);
    summary_finish (summary, 2 * S_SECOND, 1);
    json_t *root = s_json (summary);
    const char *keys [] = {
        "job_id", "tasks", "by_status", "by_type", "retries", "duplicates_dropped",
        "stale_dropped", "garbage_dropped", "elapsed_s", "tasks_per_s", "latency_us",
        "queue_wait_us", "run_time_us", "workers", "busy_s", "no_worker", "throughput",
        "exit_status"
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys [0]; i++)
        json_check_at (root, keys [i]);
    const char *percentiles [] = { "p50", "p90", "p99", "max" };
    char path [64];
    for (size_t i = 0; i < 4; i++) {
        snprintf (path, sizeof path, "latency_us.%s", percentiles [i]);
        assert_int_equal (json_check_int (root, path), 100);
        snprintf (path, sizeof path, "run_time_us.%s", percentiles [i]);
        assert_int_equal (json_check_int (root, path), 60);
        snprintf (path, sizeof path, "queue_wait_us.%s", percentiles [i]);
        assert_int_equal (json_check_int (root, path), 40);
    }
    assert_string_equal (json_string_value (json_check_at (root, "job_id")), "job-\"quoted\"");
    assert_int_equal (json_check_int (root, "tasks"), 1000);
    assert_int_equal (json_check_int (root, "by_status.ok"), 900);
    assert_int_equal (json_check_int (root, "by_status.failed"), 100);
    assert_int_equal (json_check_int (root, "retries"), 3);
    assert_true (fabs (json_number_value (json_check_at (root, "elapsed_s")) - 2.0) < 1e-9);
    assert_true (fabs (json_number_value (json_check_at (root, "tasks_per_s")) - 500.0) < 1e-6);
    assert_int_equal (json_check_int (root, "exit_status"), 1);
    assert_int_equal (json_check_int (root, "workers.host/1"), 500);
    assert_int_equal (json_check_int (root, "workers.host/2"), 500);
    assert_float_equal (json_real_value (json_check_at (root, "busy_s.by_type.sha256")), 0.06, 1e-9);
    assert_int_equal (json_array_size (json_check_at (root, "throughput.counts")), 2);
    assert_int_equal (json_check_sum (json_check_at (root, "throughput.counts"), NULL), 1000);
    json_decref (root);
    summary_destroy (&summary);
}

static void
writing_to_an_unwritable_path_fails (void **state)
{
    (void) state;
    summary_t *summary = summary_new ("job", 0);
    assert_int_equal (summary_write_json (summary, "/nonexistent-taskmill-dir/summary.json"), -1);
    summary_destroy (&summary);
}

static void
the_text_names_the_job_counts_percentiles_and_throughput (void **state)
{
    (void) state;
    summary_t *summary = summary_new ("job-p", 0);
    s_add (summary, "sha256", TM_STATUS_OK, "w1", 10, 1500000, 3, 0);
    s_add (summary, "sha256", TM_STATUS_FAILED, "w1", 20, 500000, 4, S_SECOND);
    summary_finish (summary, 2 * S_SECOND, 1);
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    assert_non_null (out);
    summary_print (summary, out);
    fclose (out);
    const char *expected [] = {
        "job-p", "ok=1", "failed=1", "sha256=1/2 ok (busy 2.000 s)", "w1=2 (busy 2.000 s)",
        "latency: p50=", "queue wait: p50=", "max=4us", "run time: p50=",
        "throughput (tasks/s, each over 1 s): 1 1\n"
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected [0]; i++)
        if (!strstr (text, expected [i]))
            fail_msg ("no \"%s\" in:\n%s", expected [i], text);
    free (text);
    summary_destroy (&summary);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (counts_by_status_type_and_worker_add_up),
        cmocka_unit_test (a_result_the_master_ended_has_no_worker_run_time_or_wait),
        cmocka_unit_test (counters_accumulate_and_are_written),
        cmocka_unit_test (each_duration_has_its_own_percentiles),
        cmocka_unit_test (busy_time_is_the_sum_of_run_times_by_type_and_by_worker),
        cmocka_unit_test (types_and_workers_past_their_cap_count_as_other),
        cmocka_unit_test (throughput_counts_results_by_second_and_sums_to_the_tasks),
        cmocka_unit_test (an_empty_summary_has_zeros),
        cmocka_unit_test (the_json_has_the_documented_keys_and_values),
        cmocka_unit_test (writing_to_an_unwritable_path_fails),
        cmocka_unit_test (the_text_names_the_job_counts_percentiles_and_throughput),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
