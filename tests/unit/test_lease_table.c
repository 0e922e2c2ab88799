/*  Tests for lease_table: the master's in-flight table and its exactly-once
    set. Seqs are issued in order; a seq at or below the highest issued that
    is no longer in the table is final (a second result is a duplicate), and
    a seq never issued is unknown.

    The churn test pushes a million tasks through a window of a thousand,
    finishing them in a random (seeded) order, which exercises the
    backward-shift deletion of the open-addressing table.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "lease_table.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  --- helpers -------------------------------------------------------------------

//  Issues a text task; fails the test if the table refuses it.
static lease_t *
s_issue (lease_table_t *table, const char *id)
{
    lease_t *lease = lease_table_issue (table, id, "echo", (const uint8_t *) "p", 1, 1000, 3);
    assert_non_null (lease);
    return lease;
}

static lease_lookup_t
s_lookup (lease_table_t *table, uint64_t seq)
{
    lease_t *lease = (lease_t *) 0x1;
    lease_lookup_t found = lease_table_lookup (table, seq, &lease);
    if (found == LEASE_FOUND) {
        assert_non_null (lease);
        assert_int_equal (lease->seq, seq);
    }
    else
        assert_null (lease);
    return found;
}

//  xorshift64*: a fixed seed makes every run the same.
static uint64_t
s_random (uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

//  --- issue -----------------------------------------------------------------

static void
issue_assigns_consecutive_seqs_from_one (void **state)
{
    (void) state;
    lease_table_t *table = lease_table_new (8);
    assert_int_equal (lease_table_last_seq (table), 0);
    for (uint64_t expected = 1; expected <= 5; expected++) {
        lease_t *lease = s_issue (table, "t");
        assert_int_equal (lease->seq, expected);
        assert_int_equal (lease_table_last_seq (table), expected);
    }
    assert_int_equal (lease_table_size (table), 5);
    assert_int_equal (lease_table_capacity (table), 8);
    lease_table_destroy (&table);
    assert_null (table);
}

static void
issued_lease_is_queued_first_attempt_with_its_limits (void **state)
{
    (void) state;
    lease_table_t *table = lease_table_new (4);
    lease_t *lease = lease_table_issue (table, "a1", "sha256", (const uint8_t *) "x", 1, 2500, 4);
    assert_non_null (lease);
    assert_int_equal (lease->state, LEASE_QUEUED);
    assert_int_equal (lease->attempt, 1);
    assert_int_equal (lease->max_attempts, 4);
    assert_int_equal (lease->timeout_ms, 2500);
    lease_table_destroy (&table);
}

static void
issue_copies_id_type_and_binary_payload (void **state)
{
    (void) state;
    lease_table_t *table = lease_table_new (4);
    char id [] = "task-7";
    char type [] = "sha256";
    uint8_t payload [] = { 'a', 0, 0xff, 0, 'b', 0x80, 0 };
    lease_t *lease = lease_table_issue (table, id, type, payload, sizeof payload, 1000, 1);
    assert_non_null (lease);
    //  Clobber the caller's buffers: the lease must hold its own copies.
    memset (id, 'X', sizeof id - 1);
    memset (type, 'Y', sizeof type - 1);
    memset (payload, 0x55, sizeof payload);

    assert_string_equal (lease->id, "task-7");
    assert_string_equal (lease->type, "sha256");
    assert_int_equal (lease->payload_size, 7);
    const uint8_t expected [] = { 'a', 0, 0xff, 0, 'b', 0x80, 0 };
    assert_memory_equal (lease->payload, expected, sizeof expected);

    lease_t *found = NULL;
    assert_int_equal (lease_table_lookup (table, lease->seq, &found), LEASE_FOUND);
    assert_ptr_equal (found, lease);
    lease_table_destroy (&table);
}

static void
issue_accepts_empty_payload_and_empty_id (void **state)
{
    (void) state;
    lease_table_t *table = lease_table_new (4);
    lease_t *lease = lease_table_issue (table, "", "noop", NULL, 0, 1000, 1);
    assert_non_null (lease);
    assert_string_equal (lease->id, "");
    assert_string_equal (lease->type, "noop");
    assert_int_equal (lease->payload_size, 0);
    lease_t *other = lease_table_issue (table, "b", "noop", (const uint8_t *) "", 0, 1000, 1);
    assert_non_null (other);
    assert_int_equal (other->payload_size, 0);
    assert_string_equal (other->id, "b");
    lease_table_destroy (&table);
}

static void
full_table_refuses_issue_without_using_a_seq (void **state)
{
    (void) state;
    lease_table_t *table = lease_table_new (3);
    for (int i = 0; i < 3; i++)
        s_issue (table, "t");
    assert_null (lease_table_issue (table, "over", "echo", NULL, 0, 1000, 1));
    assert_null (lease_table_issue (table, "over", "echo", NULL, 0, 1000, 1));
    assert_int_equal (lease_table_size (table), 3);
    assert_int_equal (lease_table_last_seq (table), 3);
    //  The refused issues left no trace: seq 4 is still unknown.
    assert_int_equal (s_lookup (table, 4), LEASE_UNKNOWN);

    //  Finishing one makes room, and the next seq follows without a gap.
    lease_table_finish (table, 2);
    lease_t *lease = s_issue (table, "next");
    assert_int_equal (lease->seq, 4);
    assert_null (lease_table_issue (table, "over", "echo", NULL, 0, 1000, 1));
    lease_table_destroy (&table);
}

static void
table_of_capacity_one_holds_one_lease_at_a_time (void **state)
{
    (void) state;
    lease_table_t *table = lease_table_new (1);
    for (uint64_t seq = 1; seq <= 100; seq++) {
        lease_t *lease = s_issue (table, "t");
        assert_int_equal (lease->seq, seq);
        assert_null (lease_table_issue (table, "over", "echo", NULL, 0, 1000, 1));
        lease_table_finish (table, seq);
        assert_int_equal (lease_table_size (table), 0);
    }
    lease_table_destroy (&table);
}

//  --- lookup and finish ---------------------------------------------------------

static void
lookup_finds_a_lease_in_flight (void **state)
{
    (void) state;
    lease_table_t *table = lease_table_new (8);
    lease_t *first = s_issue (table, "first");
    lease_t *second = s_issue (table, "second");
    lease_t *found = NULL;
    assert_int_equal (lease_table_lookup (table, 1, &found), LEASE_FOUND);
    assert_ptr_equal (found, first);
    assert_int_equal (lease_table_lookup (table, 2, &found), LEASE_FOUND);
    assert_ptr_equal (found, second);
    assert_string_equal (found->id, "second");
    lease_table_destroy (&table);
}

static void
second_result_for_finished_seq_is_a_duplicate (void **state)
{
    (void) state;
    lease_table_t *table = lease_table_new (8);
    s_issue (table, "a");
    s_issue (table, "b");
    s_issue (table, "c");
    lease_table_finish (table, 2);
    assert_int_equal (lease_table_size (table), 2);
    assert_int_equal (s_lookup (table, 2), LEASE_FINAL);
    //  Still final however often it is asked, and the others are untouched.
    assert_int_equal (s_lookup (table, 2), LEASE_FINAL);
    assert_int_equal (s_lookup (table, 1), LEASE_FOUND);
    assert_int_equal (s_lookup (table, 3), LEASE_FOUND);
    lease_table_destroy (&table);
}

static void
seq_zero_and_seqs_never_issued_are_unknown (void **state)
{
    (void) state;
    lease_table_t *table = lease_table_new (8);
    assert_int_equal (s_lookup (table, 0), LEASE_UNKNOWN);
    assert_int_equal (s_lookup (table, 1), LEASE_UNKNOWN);
    s_issue (table, "a");
    s_issue (table, "b");
    assert_int_equal (s_lookup (table, 0), LEASE_UNKNOWN);
    assert_int_equal (s_lookup (table, 3), LEASE_UNKNOWN);
    assert_int_equal (s_lookup (table, 1000), LEASE_UNKNOWN);
    assert_int_equal (s_lookup (table, UINT64_MAX), LEASE_UNKNOWN);
    //  Finishing everything does not turn unknown seqs into final ones.
    lease_table_finish (table, 1);
    lease_table_finish (table, 2);
    assert_int_equal (s_lookup (table, 3), LEASE_UNKNOWN);
    assert_int_equal (s_lookup (table, 0), LEASE_UNKNOWN);
    assert_int_equal (s_lookup (table, 1), LEASE_FINAL);
    lease_table_destroy (&table);
}

static void
finish_of_a_seq_not_in_flight_changes_nothing (void **state)
{
    (void) state;
    lease_table_t *table = lease_table_new (8);
    s_issue (table, "a");
    s_issue (table, "b");
    s_issue (table, "c");
    lease_table_finish (table, 2);
    lease_table_finish (table, 2);          //  already final
    lease_table_finish (table, 0);          //  never issued
    lease_table_finish (table, 4);          //  not issued yet
    lease_table_finish (table, UINT64_MAX);
    assert_int_equal (lease_table_size (table), 2);
    assert_int_equal (lease_table_last_seq (table), 3);
    assert_int_equal (s_lookup (table, 1), LEASE_FOUND);
    assert_int_equal (s_lookup (table, 2), LEASE_FINAL);
    assert_int_equal (s_lookup (table, 3), LEASE_FOUND);
    assert_int_equal (s_lookup (table, 4), LEASE_UNKNOWN);
    //  Seq 4, finished before it existed, is issued and tracked normally.
    lease_t *lease = s_issue (table, "d");
    assert_int_equal (lease->seq, 4);
    assert_int_equal (s_lookup (table, 4), LEASE_FOUND);
    lease_table_destroy (&table);
}

static void
finishing_in_issue_order_and_reverse_order_keeps_the_rest_findable (void **state)
{
    (void) state;
    const size_t capacity = 200;
    lease_table_t *table = lease_table_new (capacity);
    for (size_t i = 0; i < capacity; i++)
        s_issue (table, "t");
    //  Oldest first: finish 1..100, checking every survivor each time.
    for (uint64_t seq = 1; seq <= 100; seq++) {
        lease_table_finish (table, seq);
        for (uint64_t other = 1; other <= capacity; other++)
            assert_int_equal (s_lookup (table, other),
                              other <= seq ? LEASE_FINAL : LEASE_FOUND);
    }
    //  Newest first: finish 200..101.
    for (uint64_t seq = capacity; seq > 100; seq--) {
        lease_table_finish (table, seq);
        for (uint64_t other = 101; other <= capacity; other++)
            assert_int_equal (s_lookup (table, other),
                              other >= seq ? LEASE_FINAL : LEASE_FOUND);
    }
    assert_int_equal (lease_table_size (table), 0);
    lease_table_destroy (&table);
}

//  --- expiry ------------------------------------------------------------------

static void
expired_returns_only_sent_leases_past_their_deadline (void **state)
{
    (void) state;
    lease_table_t *table = lease_table_new (16);
    lease_t *queued_late = s_issue (table, "queued");     //  1: QUEUED, deadline passed
    lease_t *sent_late = s_issue (table, "late");         //  2: SENT, past
    lease_t *sent_on_time = s_issue (table, "future");    //  3: SENT, future
    lease_t *sent_exact = s_issue (table, "exact");       //  4: SENT, deadline == now
    lease_t *sent_early = s_issue (table, "early");       //  5: SENT, long past
    queued_late->deadline_us = 100;
    sent_late->state = LEASE_SENT;
    sent_late->deadline_us = 999;
    sent_on_time->state = LEASE_SENT;
    sent_on_time->deadline_us = 1001;
    sent_exact->state = LEASE_SENT;
    sent_exact->deadline_us = 1000;
    sent_early->state = LEASE_SENT;
    sent_early->deadline_us = -5;

    uint64_t seqs [16];
    size_t count = lease_table_expired (table, 1000, seqs, 16);
    assert_int_equal (count, 3);
    bool seen [6] = { false };
    for (size_t i = 0; i < count; i++) {
        assert_true (seqs [i] >= 1 && seqs [i] <= 5);
        assert_false (seen [seqs [i]]);
        seen [seqs [i]] = true;
    }
    assert_true (seen [2]);
    assert_true (seen [4]);
    assert_true (seen [5]);

    //  Expiry only reports: the leases stay in flight.
    assert_int_equal (lease_table_size (table), 5);
    assert_int_equal (lease_table_expired (table, 1000, seqs, 16), 3);
    //  Before every deadline nothing is expired.
    assert_int_equal (lease_table_expired (table, -10, seqs, 16), 0);
    lease_table_destroy (&table);
}

static void
expired_returns_waiting_leases_done_backing_off (void **state)
{
    (void) state;
    lease_table_t *table = lease_table_new (8);
    lease_t *ready = s_issue (table, "ready");
    lease_t *later = s_issue (table, "later");
    ready->state = LEASE_WAITING;
    ready->deadline_us = 500;
    later->state = LEASE_WAITING;
    later->deadline_us = 1500;
    uint64_t seqs [8];
    assert_int_equal (lease_table_expired (table, 1000, seqs, 8), 1);
    assert_int_equal (seqs [0], ready->seq);
    assert_int_equal (lease_table_expired (table, 2000, seqs, 8), 2);
    lease_table_destroy (&table);
}

static void
sent_before_lists_only_sent_leases_that_left_earlier (void **state)
{
    (void) state;
    lease_table_t *table = lease_table_new (8);
    lease_t *old = s_issue (table, "old");
    lease_t *recent = s_issue (table, "recent");
    lease_t *queued = s_issue (table, "queued");
    lease_t *waiting = s_issue (table, "waiting");
    old->state = LEASE_SENT;
    old->sent_us = 100;
    recent->state = LEASE_SENT;
    recent->sent_us = 900;
    queued->sent_us = 50;
    waiting->state = LEASE_WAITING;
    waiting->sent_us = 50;
    lease_t *found [8];
    assert_int_equal (lease_table_sent_before (table, 500, found, 8), 1);
    assert_ptr_equal (found [0], old);
    assert_int_equal (lease_table_sent_before (table, 1000, found, 8), 2);
    assert_int_equal (lease_table_sent_before (table, 1000, found, 1), 1);
    assert_int_equal (lease_table_sent_before (table, 100, found, 8), 0);
    lease_table_destroy (&table);
}

static void
expired_writes_at_most_max_seqs (void **state)
{
    (void) state;
    lease_table_t *table = lease_table_new (64);
    for (int i = 0; i < 50; i++) {
        lease_t *lease = s_issue (table, "t");
        lease->state = LEASE_SENT;
        lease->deadline_us = 10;
    }
    uint64_t seqs [64];
    seqs [7] = 0xdeadbeef;
    assert_int_equal (lease_table_expired (table, 20, seqs, 7), 7);
    assert_int_equal (seqs [7], 0xdeadbeef);
    for (int i = 0; i < 7; i++)
        assert_int_equal (s_lookup (table, seqs [i]), LEASE_FOUND);
    assert_int_equal (lease_table_expired (table, 20, seqs, 0), 0);
    assert_int_equal (lease_table_expired (table, 20, seqs, 64), 50);
    lease_table_destroy (&table);
}

static void
expired_skips_finished_leases (void **state)
{
    (void) state;
    lease_table_t *table = lease_table_new (8);
    for (int i = 0; i < 4; i++) {
        lease_t *lease = s_issue (table, "t");
        lease->state = LEASE_SENT;
        lease->deadline_us = 0;
    }
    lease_table_finish (table, 1);
    lease_table_finish (table, 3);
    uint64_t seqs [8];
    size_t count = lease_table_expired (table, 1, seqs, 8);
    assert_int_equal (count, 2);
    assert_true ((seqs [0] == 2 && seqs [1] == 4) || (seqs [0] == 4 && seqs [1] == 2));
    lease_table_destroy (&table);
}

//  --- churn -------------------------------------------------------------------

//  Checks that every seq in live is found with its own lease.
static void
s_check_all_live (lease_table_t *table, const uint64_t *live, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        lease_t *lease = NULL;
        assert_int_equal (lease_table_lookup (table, live [i], &lease), LEASE_FOUND);
        assert_int_equal (lease->seq, live [i]);
        assert_int_equal (strtoull (lease->id, NULL, 10), live [i]);
    }
}

static void
million_tasks_finished_in_random_order_stay_exactly_once (void **state)
{
    (void) state;
    const size_t window = 1000;
    const uint64_t total = 1000000;
    uint64_t seed = 0x5eed5eed12345678ull;
    uint64_t random_state = seed;
    lease_table_t *table = lease_table_new (window);
    uint64_t *live = (uint64_t *) malloc (window * sizeof (uint64_t));
    assert_non_null (live);
    size_t live_count = 0;
    uint64_t finished = 0;
    char id [32];

    while (finished < total) {
        //  Keep the window full while tasks remain.
        while (live_count < window && lease_table_last_seq (table) < total) {
            uint64_t expected = lease_table_last_seq (table) + 1;
            snprintf (id, sizeof id, "%" PRIu64, expected);
            lease_t *lease = lease_table_issue (table, id, "churn", NULL, 0, 1000, 1);
            assert_non_null (lease);
            assert_int_equal (lease->seq, expected);
            live [live_count++] = lease->seq;
        }
        if (live_count == window)
            assert_null (lease_table_issue (table, "over", "churn", NULL, 0, 1000, 1));
        assert_int_equal (lease_table_size (table), live_count);

        //  Finish a random task in flight.
        size_t pick = (size_t) (s_random (&random_state) % live_count);
        uint64_t seq = live [pick];
        live [pick] = live [--live_count];
        lease_table_finish (table, seq);
        finished++;

        lease_t *lease = NULL;
        if (lease_table_lookup (table, seq, &lease) != LEASE_FINAL)
            fail_msg ("seq %" PRIu64 " not final after finish (seed %" PRIx64 ")", seq, seed);
        //  A few random survivors, and now and then all of them, must
        //  still be found after the backward shift.
        for (int probe = 0; probe < 3 && live_count > 0; probe++) {
            uint64_t other = live [s_random (&random_state) % live_count];
            if (lease_table_lookup (table, other, &lease) != LEASE_FOUND || lease->seq != other)
                fail_msg ("seq %" PRIu64 " lost after finishing %" PRIu64 " (seed %" PRIx64 ")",
                          other, seq, seed);
        }
        //  A random seq issued earlier is either live or final, never unknown.
        uint64_t earlier = 1 + s_random (&random_state) % lease_table_last_seq (table);
        if (lease_table_lookup (table, earlier, &lease) == LEASE_UNKNOWN)
            fail_msg ("issued seq %" PRIu64 " reported unknown (seed %" PRIx64 ")", earlier, seed);
        if (lease_table_lookup (table, lease_table_last_seq (table) + 1, &lease) != LEASE_UNKNOWN)
            fail_msg ("seq after the last issued is not unknown (seed %" PRIx64 ")", seed);
        if (finished % 997 == 0)
            s_check_all_live (table, live, live_count);
    }
    assert_int_equal (lease_table_size (table), 0);
    assert_int_equal (lease_table_last_seq (table), total);
    //  Everything issued is now final, and every slot was emptied.
    for (uint64_t seq = 1; seq <= total; seq += 997)
        assert_int_equal (s_lookup (table, seq), LEASE_FINAL);
    assert_int_equal (s_lookup (table, total), LEASE_FINAL);
    uint64_t seqs [4];
    assert_int_equal (lease_table_expired (table, INT64_MAX, seqs, 4), 0);
    free (live);
    lease_table_destroy (&table);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (issue_assigns_consecutive_seqs_from_one),
        cmocka_unit_test (issued_lease_is_queued_first_attempt_with_its_limits),
        cmocka_unit_test (issue_copies_id_type_and_binary_payload),
        cmocka_unit_test (issue_accepts_empty_payload_and_empty_id),
        cmocka_unit_test (full_table_refuses_issue_without_using_a_seq),
        cmocka_unit_test (table_of_capacity_one_holds_one_lease_at_a_time),
        cmocka_unit_test (lookup_finds_a_lease_in_flight),
        cmocka_unit_test (second_result_for_finished_seq_is_a_duplicate),
        cmocka_unit_test (seq_zero_and_seqs_never_issued_are_unknown),
        cmocka_unit_test (finish_of_a_seq_not_in_flight_changes_nothing),
        cmocka_unit_test (finishing_in_issue_order_and_reverse_order_keeps_the_rest_findable),
        cmocka_unit_test (expired_returns_only_sent_leases_past_their_deadline),
        cmocka_unit_test (expired_returns_waiting_leases_done_backing_off),
        cmocka_unit_test (sent_before_lists_only_sent_leases_that_left_earlier),
        cmocka_unit_test (expired_writes_at_most_max_seqs),
        cmocka_unit_test (expired_skips_finished_leases),
        cmocka_unit_test (million_tasks_finished_in_random_order_stay_exactly_once),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
