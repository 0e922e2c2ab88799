/*  test_outcome: finality and the retry policy, with time handed in. The
    dispatcher runs over a real ROUTER with no peer (it only queues here),
    the writer writes a real temp file.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "dispatcher.h"
#include "lease_table.h"
#include "outcome.h"
#include "results_writer.h"
#include "summary.h"
#include "tm_socket.h"
#include "worker_table.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_JOB "job-outcome"

typedef struct {
    zsock_t *router;
    lease_table_t *leases;
    worker_table_t *workers;
    dispatcher_t *dispatcher;
    results_writer_t *writer;
    summary_t *summary;
    outcome_t *outcome;
    char path [64];
} s_rig_t;

static void
s_rig_new (s_rig_t *rig, uint32_t backoff_ms)
{
    memset (rig, 0, sizeof *rig);
    rig->router = tm_socket_tasks_router ("tcp://127.0.0.1:*", NULL, NULL);
    assert_non_null (rig->router);
    rig->leases = lease_table_new (64);
    rig->workers = worker_table_new ();
    rig->dispatcher = dispatcher_new (rig->router, rig->leases, rig->workers, S_JOB, 0);
    snprintf (rig->path, sizeof rig->path, "/tmp/test_outcome_%d.jsonl", (int) getpid ());
    unlink (rig->path);
    rig->writer = results_writer_new (rig->path);
    assert_non_null (rig->writer);
    rig->summary = summary_new (S_JOB, 0);
    rig->outcome = outcome_new (rig->leases, rig->dispatcher, rig->writer, rig->summary,
                                S_JOB, backoff_ms, 42);
}

static void
s_rig_destroy (s_rig_t *rig)
{
    outcome_destroy (&rig->outcome);
    summary_destroy (&rig->summary);
    results_writer_destroy (&rig->writer);
    dispatcher_destroy (&rig->dispatcher);
    worker_table_destroy (&rig->workers);
    lease_table_destroy (&rig->leases);
    zsock_destroy (&rig->router);
    unlink (rig->path);
}

//  A lease SENT to owner 1 at time 0, with max_attempts attempts.
static lease_t *
s_sent (s_rig_t *rig, uint32_t max_attempts)
{
    lease_t *lease = lease_table_issue (rig->leases, "t", "echo", (const uint8_t *) "p", 1,
                                        1000, max_attempts, 0);
    lease_table_send (rig->leases, lease, 1, 1, 0, 500000);
    return lease;
}

static tm_result_t
s_result (const lease_t *lease, tm_status_t status)
{
    return (tm_result_t) {
        .job_id = S_JOB, .seq = lease->seq, .id = lease->id, .attempt = lease->attempt,
        .status = status, .output = (const uint8_t *) "out", .output_size = 3,
        .error = status == TM_STATUS_OK ? "" : "boom", .worker_id = "w"
    };
}

static size_t
s_lines (s_rig_t *rig)
{
    results_writer_flush (rig->writer, false);
    FILE *file = fopen (rig->path, "r");
    assert_non_null (file);
    size_t lines = 0;
    int c;
    while ((c = fgetc (file)) != EOF)
        lines += c == '\n';
    fclose (file);
    return lines;
}

static void
ok_result_is_final_and_written_once (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig, 100);
    lease_t *lease = s_sent (&rig, 3);
    uint64_t seq = lease->seq;
    tm_result_t result = s_result (lease, TM_STATUS_OK);
    outcome_result (rig.outcome, &result, 1000);
    assert_int_equal (lease_table_size (rig.leases), 0);
    //  The same result again is a duplicate, not a second line.
    result.seq = seq;
    outcome_result (rig.outcome, &result, 2000);
    assert_int_equal (summary_counter (rig.summary, SUMMARY_DUPLICATES), 1);
    assert_int_equal (s_lines (&rig), 1);
    s_rig_destroy (&rig);
}

static void
failure_with_attempts_left_waits_its_backoff_then_is_queued (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig, 100);
    lease_t *lease = s_sent (&rig, 3);
    tm_result_t result = s_result (lease, TM_STATUS_FAILED);
    outcome_result (rig.outcome, &result, 1000);
    assert_int_equal (lease->state, LEASE_WAITING);
    assert_int_equal (lease->attempt, 2);
    assert_int_equal (summary_counter (rig.summary, SUMMARY_RETRIES), 1);
    //  Its wait is at least the backoff (100 ms) and at most three times it.
    assert_true (lease->deadline_us >= 1000 + 100000);
    assert_true (lease->deadline_us <= 1000 + 300000);
    outcome_expire (rig.outcome, 1000 + 99000);
    assert_int_equal (lease->state, LEASE_WAITING);
    outcome_expire (rig.outcome, lease->deadline_us);
    assert_int_equal (lease->state, LEASE_QUEUED);
    assert_int_equal (dispatcher_queued (rig.dispatcher), 1);
    assert_int_equal (s_lines (&rig), 0);
    s_rig_destroy (&rig);
}

static void
failure_of_a_replaced_attempt_changes_nothing (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig, 0);
    lease_t *lease = s_sent (&rig, 3);
    tm_result_t first = s_result (lease, TM_STATUS_FAILED);
    outcome_result (rig.outcome, &first, 1000);     //  attempt 2 queued at once
    assert_int_equal (lease->attempt, 2);
    outcome_result (rig.outcome, &first, 2000);     //  attempt 1 failing again
    assert_int_equal (lease->attempt, 2);
    assert_int_equal (summary_counter (rig.summary, SUMMARY_DUPLICATES), 1);
    s_rig_destroy (&rig);
}

static void
last_failure_is_final (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig, 0);
    lease_t *lease = s_sent (&rig, 1);
    tm_result_t result = s_result (lease, TM_STATUS_FAILED);
    outcome_result (rig.outcome, &result, 1000);
    assert_int_equal (lease_table_size (rig.leases), 0);
    assert_int_equal (summary_not_ok (rig.summary), 1);
    assert_int_equal (s_lines (&rig), 1);
    s_rig_destroy (&rig);
}

static void
lost_copy_goes_free_twice_then_is_charged (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig, 0);
    lease_t *lease = s_sent (&rig, 3);
    //  The first loss goes back to the queue at once; the second after a
    //  spread wait, to part it from its batch-mates.
    outcome_lost (rig.outcome, lease->seq, false, 1000);
    assert_int_equal (lease->attempt, 1);
    assert_int_equal (lease->state, LEASE_QUEUED);
    lease_table_send (rig.leases, lease, 1, 2, 2000, 0);
    outcome_lost (rig.outcome, lease->seq, false, 3000);
    assert_int_equal (lease->attempt, 1);
    assert_int_equal (lease->state, LEASE_WAITING);
    assert_true (lease->deadline_us >= 3000 && lease->deadline_us <= 3000 + OUTCOME_SPREAD_US);
    outcome_expire (rig.outcome, 3000 + OUTCOME_SPREAD_US);
    assert_int_equal (lease->state, LEASE_QUEUED);
    lease_table_send (rig.leases, lease, 1, 3, 4000, 0);
    assert_int_equal (summary_counter (rig.summary, SUMMARY_REISSUED), OUTCOME_FREE_RESENDS);
    outcome_lost (rig.outcome, lease->seq, false, 3000);
    assert_int_equal (lease->attempt, 2);
    assert_int_equal (summary_counter (rig.summary, SUMMARY_RETRIES), 1);
    s_rig_destroy (&rig);
}

static void
charged_loss_on_the_last_attempt_ends_failed (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig, 0);
    lease_t *lease = s_sent (&rig, 2);
    outcome_lost (rig.outcome, lease->seq, true, 1000);
    assert_int_equal (lease->attempt, 2);
    lease_table_send (rig.leases, lease, 1, 2, 2000, 0);
    outcome_lost (rig.outcome, lease->seq, true, 3000);
    assert_int_equal (lease_table_size (rig.leases), 0);
    assert_int_equal (summary_not_ok (rig.summary), 1);
    assert_int_equal (s_lines (&rig), 1);
    s_rig_destroy (&rig);
}

static void
expired_lease_is_retried_then_ends_timeout (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig, 0);
    lease_t *lease = s_sent (&rig, 2);          //  lease: 1 s + 0.5 s from 0
    outcome_expire (rig.outcome, 1499999);
    assert_int_equal (lease->state, LEASE_SENT);
    outcome_expire (rig.outcome, 1500000);
    assert_int_equal (lease->attempt, 2);
    assert_int_equal (summary_counter (rig.summary, SUMMARY_LEASES_EXPIRED), 1);
    lease_table_send (rig.leases, lease, 1, 2, 2000000, 0);
    outcome_expire (rig.outcome, 3000000);
    assert_int_equal (lease_table_size (rig.leases), 0);
    assert_int_equal (summary_counter (rig.summary, SUMMARY_LEASES_EXPIRED), 2);
    s_rig_destroy (&rig);
}

static void
backoff_doubles_is_capped_and_spread (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig, 100);
    for (uint32_t attempt = 2; attempt < 12; attempt++) {
        int64_t base = 100000ll << (attempt - 2);
        if (base > OUTCOME_BACKOFF_MAX_US)
            base = OUTCOME_BACKOFF_MAX_US;
        int64_t low = INT64_MAX, high = 0;
        for (int i = 0; i < 200; i++) {
            int64_t wait = outcome_backoff_us (rig.outcome, attempt);
            assert_true (wait >= base && wait <= 3 * base);
            low = wait < low ? wait : low;
            high = wait > high ? wait : high;
        }
        //  Spread: the waits of one attempt are not all alike.
        assert_true (high - low > base / 2);
    }
    s_rig_destroy (&rig);
}

static void
stale_and_unknown_results_are_counted_apart (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig, 0);
    lease_t *lease = s_sent (&rig, 1);
    tm_result_t result = s_result (lease, TM_STATUS_OK);
    result.job_id = "another-job";
    outcome_result (rig.outcome, &result, 1000);
    result.job_id = S_JOB;
    result.seq = 999;
    outcome_result (rig.outcome, &result, 1000);
    assert_int_equal (summary_counter (rig.summary, SUMMARY_STALE), 1);
    assert_int_equal (summary_counter (rig.summary, SUMMARY_UNKNOWN_SEQ), 1);
    assert_int_equal (lease_table_size (rig.leases), 1);
    s_rig_destroy (&rig);
}

int
main (void)
{
    zsys_init ();
    zsys_set_logstream (stderr);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (ok_result_is_final_and_written_once),
        cmocka_unit_test (failure_with_attempts_left_waits_its_backoff_then_is_queued),
        cmocka_unit_test (failure_of_a_replaced_attempt_changes_nothing),
        cmocka_unit_test (last_failure_is_final),
        cmocka_unit_test (lost_copy_goes_free_twice_then_is_charged),
        cmocka_unit_test (charged_loss_on_the_last_attempt_ends_failed),
        cmocka_unit_test (expired_lease_is_retried_then_ends_timeout),
        cmocka_unit_test (backoff_doubles_is_capped_and_spread),
        cmocka_unit_test (stale_and_unknown_results_are_counted_apart),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
