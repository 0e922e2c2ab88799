/*  Tests for lease_table: the master's in-flight table and its exactly-once
    set. Seqs are issued in order; a seq at or below the highest issued that
    is no longer in the table is final (a second result is a duplicate), and
    a seq never issued is unknown.

    Every lease changes state through the table's own transitions (send,
    heard, release, retry_after, queue, finish), and each SENT lease is
    filed under the worker (owner slot) it went to: the tests check both
    the deadlines those transitions set and that each owner's list holds
    exactly its leases.

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
#include "tm_codec.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  --- helpers -------------------------------------------------------------------

//  Issues a text task; fails the test if the table refuses it.
static lease_t *
s_issue (lease_table_t *table, const char *id)
{
    lease_t *lease = lease_table_issue (table, id, "echo", (const uint8_t *) "p", 1, 1000, 3, 0);
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
    lease_t *lease = lease_table_issue (table, "a1", "sha256", (const uint8_t *) "x", 1, 2500, 4, 0);
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
    lease_t *lease = lease_table_issue (table, id, type, payload, sizeof payload, 1000, 1, 0);
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
    lease_t *lease = lease_table_issue (table, "", "noop", NULL, 0, 1000, 1, 0);
    assert_non_null (lease);
    assert_string_equal (lease->id, "");
    assert_string_equal (lease->type, "noop");
    assert_int_equal (lease->payload_size, 0);
    lease_t *other = lease_table_issue (table, "b", "noop", (const uint8_t *) "", 0, 1000, 1, 0);
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
    assert_null (lease_table_issue (table, "over", "echo", NULL, 0, 1000, 1, 0));
    assert_null (lease_table_issue (table, "over", "echo", NULL, 0, 1000, 1, 0));
    assert_int_equal (lease_table_size (table), 3);
    assert_int_equal (lease_table_last_seq (table), 3);
    //  The refused issues left no trace: seq 4 is still unknown.
    assert_int_equal (s_lookup (table, 4), LEASE_UNKNOWN);

    //  Finishing one makes room, and the next seq follows without a gap.
    lease_table_finish (table, 2);
    lease_t *lease = s_issue (table, "next");
    assert_int_equal (lease->seq, 4);
    assert_null (lease_table_issue (table, "over", "echo", NULL, 0, 1000, 1, 0));
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
        assert_null (lease_table_issue (table, "over", "echo", NULL, 0, 1000, 1, 0));
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

//  --- send and the owner's list --------------------------------------------------

//  Issues a task with timeout_ms (retries allowed) and returns it QUEUED.
static lease_t *
s_issue_timeout (lease_table_t *table, uint32_t timeout_ms)
{
    lease_t *lease = lease_table_issue (table, "t", "echo", NULL, 0, timeout_ms, 3, 0);
    assert_non_null (lease);
    return lease;
}

//  True if lease is among the leases owner holds, by lease_table_owned.
static bool
s_owned_by (lease_table_t *table, uint32_t owner, const lease_t *lease)
{
    lease_t *owned [64];
    size_t count = lease_table_owned (table, owner, owned, 64);
    assert_int_equal (count, lease_table_owned_count (table, owner));
    for (size_t i = 0; i < count; i++)
        if (owned [i] == lease)
            return true;
    return false;
}

static void
send_files_the_lease_under_its_owner_and_owned_count_counts_it (void **state)
{
    (void) state;
    lease_table_t *table = lease_table_new (8);
    lease_t *a = s_issue_timeout (table, 2000);
    lease_t *b = s_issue_timeout (table, 2000);
    lease_t *c = s_issue_timeout (table, 2000);
    assert_int_equal (lease_table_owned_count (table, 1), 0);
    lease_table_send (table, a, 1, 1, 5000, 300);
    lease_table_send (table, b, 1, 2, 6000, 300);
    lease_table_send (table, c, 2, 1, 7000, 300);
    assert_int_equal (lease_table_owned_count (table, 1), 2);
    assert_int_equal (lease_table_owned_count (table, 2), 1);
    assert_int_equal (lease_table_owned_count (table, 3), 0);
    assert_true (s_owned_by (table, 1, a));
    assert_true (s_owned_by (table, 1, b));
    assert_false (s_owned_by (table, 1, c));
    assert_true (s_owned_by (table, 2, c));
    //  The lease says where, when and in which frame it went.
    assert_int_equal (b->state, LEASE_SENT);
    assert_int_equal (b->owner, 1);
    assert_int_equal (b->frame, 2);
    assert_int_equal (b->sent_us, 6000);
    assert_int_equal (b->first_sent_us, 6000);
    assert_int_equal (b->deadline_us, 6000 + 2000 * 1000 + 300);
    assert_false (b->running);
    //  lease_table_owned writes no more than max.
    lease_t *owned [2] = { NULL, NULL };
    assert_int_equal (lease_table_owned (table, 1, owned, 1), 1);
    assert_null (owned [1]);
    assert_int_equal (lease_table_owned (table, 3, owned, 2), 0);
    lease_table_destroy (&table);
}

static void
finish_release_retry_after_and_queue_take_a_lease_off_its_owner (void **state)
{
    (void) state;
    lease_table_t *table = lease_table_new (8);
    lease_t *lease [5];
    for (int i = 0; i < 5; i++) {
        lease [i] = s_issue_timeout (table, 1000);
        lease_table_send (table, lease [i], 4, 1, 0, 0);
    }
    assert_int_equal (lease_table_owned_count (table, 4), 5);

    lease_table_finish (table, lease [0]->seq);
    assert_int_equal (lease_table_owned_count (table, 4), 4);

    lease_table_release (table, lease [2]);
    assert_int_equal (lease_table_owned_count (table, 4), 3);
    assert_false (s_owned_by (table, 4, lease [2]));
    assert_int_equal (lease [2]->owner, 0);
    assert_int_equal (lease [2]->free_resends, 1);
    assert_int_equal (lease [2]->attempt, 1);

    lease_table_retry_after (table, lease [4], 100);
    assert_int_equal (lease_table_owned_count (table, 4), 2);
    assert_false (s_owned_by (table, 4, lease [4]));
    assert_int_equal (lease [4]->owner, 0);

    lease_table_queue (table, lease [1]);
    assert_int_equal (lease_table_owned_count (table, 4), 1);
    assert_false (s_owned_by (table, 4, lease [1]));
    assert_int_equal (lease [1]->state, LEASE_QUEUED);
    assert_int_equal (lease [1]->owner, 0);

    //  The one left is the one not moved, and it can go on to finish.
    assert_true (s_owned_by (table, 4, lease [3]));
    lease_table_finish (table, lease [3]->seq);
    assert_int_equal (lease_table_owned_count (table, 4), 0);
    lease_t *owned [4];
    assert_int_equal (lease_table_owned (table, 4, owned, 4), 0);
    assert_int_equal (lease_table_size (table), 3);
    lease_table_destroy (&table);
}

static void
released_lease_sent_again_goes_to_its_new_owner_only (void **state)
{
    (void) state;
    lease_table_t *table = lease_table_new (4);
    lease_t *lease = s_issue_timeout (table, 1000);
    lease_table_send (table, lease, 1, 3, 100, 0);
    lease_table_release (table, lease);
    lease_table_queue (table, lease);
    lease_table_send (table, lease, 2, 1, 200, 0);
    assert_int_equal (lease_table_owned_count (table, 1), 0);
    assert_int_equal (lease_table_owned_count (table, 2), 1);
    assert_int_equal (lease->owner, 2);
    assert_int_equal (lease->frame, 1);
    assert_int_equal (lease->attempt, 1);
    assert_int_equal (lease->free_resends, 1);
    //  Latency counts from the first send.
    assert_int_equal (lease->first_sent_us, 100);
    assert_int_equal (lease->sent_us, 200);
    lease_table_destroy (&table);
}

static void
owners_with_large_slot_numbers_work (void **state)
{
    (void) state;
    lease_table_t *table = lease_table_new (16);
    const uint32_t owners [] = { 1000, 1, 5000, 17, 1000 };
    lease_t *lease [5];
    for (int i = 0; i < 5; i++) {
        lease [i] = s_issue_timeout (table, 1000);
        lease_table_send (table, lease [i], owners [i], 1, 0, 0);
    }
    assert_int_equal (lease_table_owned_count (table, 1000), 2);
    assert_int_equal (lease_table_owned_count (table, 5000), 1);
    assert_int_equal (lease_table_owned_count (table, 17), 1);
    assert_int_equal (lease_table_owned_count (table, 1), 1);
    assert_int_equal (lease_table_owned_count (table, 999), 0);
    assert_int_equal (lease_table_owned_count (table, 100000), 0);
    //  Growing the owners for 5000 kept the lists made before.
    assert_true (s_owned_by (table, 1000, lease [0]));
    assert_true (s_owned_by (table, 1000, lease [4]));
    assert_true (s_owned_by (table, 1, lease [1]));
    assert_true (s_owned_by (table, 5000, lease [2]));
    lease_table_finish (table, lease [2]->seq);
    assert_int_equal (lease_table_owned_count (table, 5000), 0);
    lease_table_queue (table, lease [0]);
    assert_int_equal (lease_table_owned_count (table, 1000), 1);
    assert_true (s_owned_by (table, 1000, lease [4]));
    lease_table_destroy (&table);
}

static void
owner_lists_stay_exact_through_random_transitions (void **state)
{
    (void) state;
    //  A model (owner per seq) against the table, through 20,000 random
    //  sends, releases, retries, queues and finishes over 5 owners.
    const size_t capacity = 64;
    lease_table_t *table = lease_table_new (capacity);
    uint32_t model [65] = { 0 };            //  by seq - first seq; 0: not SENT
    lease_t *live [65] = { NULL };
    uint64_t random_state = 0xfeedfacecafebeefull;
    for (size_t i = 0; i < capacity; i++)
        live [i] = lease_table_issue (table, "t", "echo", NULL, 0, 1000, 1000000, 0);
    for (int step = 0; step < 20000; step++) {
        size_t pick = (size_t) (s_random (&random_state) % capacity);
        lease_t *lease = live [pick];
        uint32_t action = (uint32_t) (s_random (&random_state) % 5);
        if (lease->state == LEASE_SENT && action == 0) {
            lease_table_release (table, lease);
            lease_table_queue (table, lease);
            model [pick] = 0;
        }
        else
        if (lease->state == LEASE_SENT && action == 1) {
            lease_table_retry_after (table, lease, step);
            model [pick] = 0;
        }
        else
        if (action == 2) {
            //  Final; a fresh task takes its place.
            lease_table_finish (table, lease->seq);
            live [pick] = lease_table_issue (table, "t", "echo", NULL, 0, 1000, 1000000, 0);
            assert_non_null (live [pick]);
            model [pick] = 0;
        }
        else
        if (lease->state != LEASE_SENT) {
            lease_table_queue (table, lease);
            uint32_t owner = 1 + (uint32_t) (s_random (&random_state) % 5);
            lease_table_send (table, lease, owner, (uint64_t) step, step, 0);
            model [pick] = owner;
        }
        if (step % 101 == 0) {
            for (uint32_t owner = 1; owner <= 5; owner++) {
                size_t expected = 0;
                for (size_t i = 0; i < capacity; i++)
                    if (model [i] == owner) {
                        expected++;
                        assert_true (s_owned_by (table, owner, live [i]));
                    }
                assert_int_equal (lease_table_owned_count (table, owner), expected);
            }
        }
    }
    lease_table_destroy (&table);
}

//  --- expiry ------------------------------------------------------------------

static void
expired_returns_only_sent_leases_past_their_deadline (void **state)
{
    (void) state;
    lease_table_t *table = lease_table_new (16);
    //  Each has a 1 ms lease and no grace: it ends 1000 µs after its send.
    s_issue_timeout (table, 1);                             //  1: QUEUED, never sent
    lease_t *sent_late = s_issue_timeout (table, 1);        //  2: ends at 999
    lease_t *sent_on_time = s_issue_timeout (table, 1);     //  3: ends at 1001
    lease_t *sent_exact = s_issue_timeout (table, 1);       //  4: ends at 1000
    lease_t *sent_early = s_issue_timeout (table, 1);       //  5: ends at -5
    lease_table_send (table, sent_late, 1, 1, -1, 0);
    lease_table_send (table, sent_on_time, 1, 1, 1, 0);
    lease_table_send (table, sent_exact, 2, 1, 0, 0);
    lease_table_send (table, sent_early, 2, 1, -1005, 0);

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

    //  Expiry only reports: the leases stay in flight, with their owners.
    assert_int_equal (lease_table_size (table), 5);
    assert_int_equal (lease_table_owned_count (table, 2), 2);
    assert_int_equal (lease_table_expired (table, 1000, seqs, 16), 3);
    //  Before every deadline nothing is expired.
    assert_int_equal (lease_table_expired (table, -10, seqs, 16), 0);
    //  A lease queued again does not expire, however late.
    lease_table_queue (table, sent_early);
    assert_int_equal (lease_table_expired (table, 1000, seqs, 16), 2);
    lease_table_destroy (&table);
}

static void
lease_without_timeout_never_expires (void **state)
{
    (void) state;
    lease_table_t *table = lease_table_new (4);
    lease_t *lease = s_issue_timeout (table, 0);
    lease_table_send (table, lease, 1, 1, 1000, 250000);
    assert_true (lease->deadline_us == INT64_MAX);
    uint64_t seqs [4];
    const int64_t nows [] = { 1000, 3600LL * 1000000, 365LL * 24 * 3600 * 1000000,
                              INT64_MAX / 2, INT64_MAX - 1 };
    for (size_t i = 0; i < sizeof nows / sizeof nows [0]; i++)
        assert_int_equal (lease_table_expired (table, nows [i], seqs, 4), 0);
    //  Heartbeats, queued or running, give it no deadline either.
    lease_table_heard (table, lease, false, 5000, 250000);
    assert_true (lease->deadline_us == INT64_MAX);
    lease_table_heard (table, lease, true, 6000, 250000);
    assert_true (lease->deadline_us == INT64_MAX);
    assert_int_equal (lease_table_expired (table, INT64_MAX - 1, seqs, 4), 0);
    lease_table_destroy (&table);
}

static void
lease_without_timeout_is_not_expired_even_at_the_last_instant (void **state)
{
    (void) state;
    //  deadline_us INT64_MAX means none (lease_table.h), so no now_us,
    //  not even INT64_MAX, may be "at or after" it.
    lease_table_t *table = lease_table_new (4);
    lease_t *lease = s_issue_timeout (table, 0);
    lease_table_send (table, lease, 1, 1, 0, 0);
    uint64_t seqs [4];
    size_t expired = lease_table_expired (table, INT64_MAX, seqs, 4);
    lease_table_destroy (&table);
    assert_int_equal (expired, 0);
}

static void
lease_queued_at_a_live_worker_does_not_expire (void **state)
{
    (void) state;
    const int64_t grace_us = 50000;
    lease_table_t *table = lease_table_new (4);
    lease_t *lease = s_issue_timeout (table, 100);           //  100 ms
    lease_table_send (table, lease, 1, 1, 0, grace_us);
    assert_int_equal (lease->deadline_us, 150000);
    uint64_t seqs [4];
    //  Each heartbeat that lists it, queued, starts its lease again.
    for (int64_t now_us = 100000; now_us <= 2000000; now_us += 100000) {
        lease_table_heard (table, lease, false, now_us, grace_us);
        assert_int_equal (lease->deadline_us, now_us + 150000);
        assert_false (lease->running);
        assert_int_equal (lease_table_expired (table, now_us + 149999, seqs, 4), 0);
    }
    //  Once heartbeats stop listing it, it expires a lease after the last.
    assert_int_equal (lease_table_expired (table, 2000000 + 150000, seqs, 4), 1);
    assert_int_equal (seqs [0], lease->seq);
    lease_table_destroy (&table);
}

static void
running_lease_deadline_is_set_by_the_first_heartbeat_that_saw_it_run (void **state)
{
    (void) state;
    const int64_t grace_us = 50000;
    lease_table_t *table = lease_table_new (4);
    lease_t *lease = s_issue_timeout (table, 100);
    lease_table_send (table, lease, 1, 1, 0, grace_us);
    lease_table_heard (table, lease, false, 80000, grace_us);
    assert_int_equal (lease->deadline_us, 230000);
    //  It starts running: its lease runs from this heartbeat on.
    lease_table_heard (table, lease, true, 120000, grace_us);
    assert_true (lease->running);
    assert_int_equal (lease->deadline_us, 270000);
    //  Later heartbeats saying it still runs do not move it.
    lease_table_heard (table, lease, true, 200000, grace_us);
    lease_table_heard (table, lease, true, 260000, grace_us);
    assert_int_equal (lease->deadline_us, 270000);
    uint64_t seqs [4];
    assert_int_equal (lease_table_expired (table, 269999, seqs, 4), 0);
    assert_int_equal (lease_table_expired (table, 270000, seqs, 4), 1);
    //  Put back in the worker's queue and started again: a new run.
    lease_table_heard (table, lease, false, 300000, grace_us);
    assert_false (lease->running);
    assert_int_equal (lease->deadline_us, 450000);
    lease_table_heard (table, lease, true, 400000, grace_us);
    assert_int_equal (lease->deadline_us, 550000);
    lease_table_destroy (&table);
}

static void
retry_after_increments_attempt_and_the_lease_waits_until_its_time (void **state)
{
    (void) state;
    lease_table_t *table = lease_table_new (4);
    lease_t *lease = s_issue_timeout (table, 100);
    lease_table_send (table, lease, 3, 1, 1000, 0);
    lease_table_heard (table, lease, true, 2000, 0);
    lease_table_retry_after (table, lease, 500000);
    assert_int_equal (lease->attempt, 2);
    assert_int_equal (lease->state, LEASE_WAITING);
    assert_int_equal (lease->owner, 0);
    assert_false (lease->running);
    assert_int_equal (lease->deadline_us, 500000);
    assert_int_equal (lease_table_owned_count (table, 3), 0);
    uint64_t seqs [4];
    assert_int_equal (lease_table_expired (table, 499999, seqs, 4), 0);
    assert_int_equal (lease_table_expired (table, 500000, seqs, 4), 1);
    assert_int_equal (seqs [0], lease->seq);
    //  Queued when its time came, it is no longer reported; sent again,
    //  it keeps its attempt and its first send time.
    lease_table_queue (table, lease);
    assert_int_equal (lease_table_expired (table, 600000, seqs, 4), 0);
    lease_table_send (table, lease, 2, 1, 600000, 0);
    assert_int_equal (lease->attempt, 2);
    assert_int_equal (lease->first_sent_us, 1000);
    assert_int_equal (lease->deadline_us, 700000);
    lease_table_retry_after (table, lease, 0);
    assert_int_equal (lease->attempt, 3);
    assert_int_equal (lease_table_expired (table, 0, seqs, 4), 1);
    lease_table_destroy (&table);
}

static void
expired_returns_waiting_leases_done_backing_off (void **state)
{
    (void) state;
    lease_table_t *table = lease_table_new (8);
    lease_t *ready = s_issue (table, "ready");
    lease_t *later = s_issue (table, "later");
    lease_table_retry_after (table, ready, 500);
    lease_table_retry_after (table, later, 1500);
    uint64_t seqs [8];
    assert_int_equal (lease_table_expired (table, 1000, seqs, 8), 1);
    assert_int_equal (seqs [0], ready->seq);
    assert_int_equal (lease_table_expired (table, 2000, seqs, 8), 2);
    lease_table_destroy (&table);
}

static void
expired_writes_at_most_max_seqs (void **state)
{
    (void) state;
    lease_table_t *table = lease_table_new (64);
    for (int i = 0; i < 50; i++)
        lease_table_send (table, s_issue_timeout (table, 1), 1, 1, 0, 0);
    uint64_t seqs [64];
    seqs [7] = 0xdeadbeef;
    assert_int_equal (lease_table_expired (table, 2000, seqs, 7), 7);
    assert_int_equal (seqs [7], 0xdeadbeef);
    for (int i = 0; i < 7; i++)
        assert_int_equal (s_lookup (table, seqs [i]), LEASE_FOUND);
    assert_int_equal (lease_table_expired (table, 2000, seqs, 0), 0);
    assert_int_equal (lease_table_expired (table, 2000, seqs, 64), 50);
    lease_table_destroy (&table);
}

static void
deadlines_set_after_a_scan_that_found_nothing_are_found (void **state)
{
    (void) state;
    //  The table skips scans before the earliest deadline it has seen set;
    //  each way of setting one must move that bound.
    lease_table_t *table = lease_table_new (8);
    uint64_t seqs [8];
    lease_t *late = s_issue_timeout (table, 100);
    lease_table_send (table, late, 1, 1, 0, 0);             //  due at 100,000
    assert_int_equal (lease_table_expired (table, 1000, seqs, 8), 0);
    lease_t *sent = s_issue_timeout (table, 1);
    lease_table_send (table, sent, 1, 1, 1000, 0);          //  due at 2,000
    assert_int_equal (lease_table_expired (table, 2000, seqs, 8), 1);
    assert_true (seqs [0] == sent->seq);
    lease_table_queue (table, sent);
    assert_int_equal (lease_table_expired (table, 2100, seqs, 8), 0);
    lease_table_retry_after (table, sent, 2500);            //  WAITING until 2,500
    assert_int_equal (lease_table_expired (table, 2400, seqs, 8), 0);
    assert_int_equal (lease_table_expired (table, 2500, seqs, 8), 1);
    assert_true (seqs [0] == sent->seq);
    lease_table_queue (table, sent);
    assert_int_equal (lease_table_expired (table, 2600, seqs, 8), 0);
    lease_table_send (table, sent, 1, 2, 3000, 0);          //  due at 4,000
    lease_table_heard (table, sent, true, 3500, 0);         //  running: due at 4,500
    assert_int_equal (lease_table_expired (table, 4000, seqs, 8), 0);
    assert_int_equal (lease_table_expired (table, 4500, seqs, 8), 1);
    assert_int_equal (lease_table_expired (table, 100000, seqs, 8), 2);
    lease_table_destroy (&table);
}

static void
large_lease_is_lent_to_one_frame_at_a_time_and_outlives_its_end (void **state)
{
    (void) state;
    lease_table_t *table = lease_table_new (4);
    lease_t *small = lease_table_issue (table, "s", "echo", (const uint8_t *) "x", 1, 0, 1, 0);
    assert_null (lease_table_lend (table, small));
    size_t size = LEASE_TABLE_LEND_MIN_BYTES;
    uint8_t *payload = (uint8_t *) malloc (size);
    assert_non_null (payload);
    for (size_t at = 0; at < size; at++)
        payload [at] = (uint8_t) at;
    lease_t *large = lease_table_issue (table, "l", "echo", payload, size, 0, 1, 0);
    uint8_t *room = lease_table_lend (table, large);
    assert_non_null (room);
    assert_ptr_equal (room + TM_CODEC_FRAME_HEADROOM, large->packed);
    //  The frame's room is all writable.
    memset (room, 0xab, TM_CODEC_FRAME_HEADROOM);
    memset ((uint8_t *) large->packed + large->packed_size, 0xcd, TM_CODEC_FRAME_TAILROOM);
    //  While a frame holds it, no second frame may write around it.
    assert_null (lease_table_lend (table, large));
    lease_table_frame_done (room, large);
    room = lease_table_lend (table, large);
    assert_non_null (room);
    //  The task ends while its frame is still queued: the frame's bytes
    //  stay until libzmq lets go (ASan would see them freed).
    const uint8_t *frame_payload = large->payload;
    lease_table_finish (table, large->seq);
    assert_int_equal (lease_table_size (table), 1);
    assert_memory_equal (frame_payload, payload, size);
    lease_table_frame_done (room, large);
    free (payload);
    lease_table_destroy (&table);
}

static void
queued_bytes_count_only_leases_waiting_to_be_sent (void **state)
{
    (void) state;
    lease_table_t *table = lease_table_new (8);
    uint8_t payload [100] = { 0 };
    lease_t *a = lease_table_issue (table, "a", "echo", payload, 100, 1, 3, 0);
    lease_t *b = lease_table_issue (table, "b", "echo", payload, 30, 1, 3, 0);
    assert_int_equal (lease_table_queued_bytes (table), 130);
    lease_table_queue (table, a);               //  queued already: no change
    assert_int_equal (lease_table_queued_bytes (table), 130);
    lease_table_send (table, a, 1, 1, 0, 0);
    assert_int_equal (lease_table_queued_bytes (table), 30);
    assert_int_equal (lease_table_bytes (table), 130);
    lease_table_retry_after (table, a, 10);     //  waiting is not queued
    assert_int_equal (lease_table_queued_bytes (table), 30);
    lease_table_queue (table, a);
    assert_int_equal (lease_table_queued_bytes (table), 130);
    lease_table_send (table, a, 1, 2, 0, 0);
    lease_table_release (table, a);             //  lost on the way: queued again
    lease_table_queue (table, a);
    assert_int_equal (lease_table_queued_bytes (table), 130);
    lease_table_finish (table, b->seq);
    assert_int_equal (lease_table_queued_bytes (table), 100);
    lease_table_retry_after (table, a, 10);     //  a queued lease charged
    assert_int_equal (lease_table_queued_bytes (table), 0);
    lease_table_finish (table, a->seq);
    assert_int_equal (lease_table_queued_bytes (table), 0);
    assert_int_equal (lease_table_bytes (table), 0);
    lease_table_destroy (&table);
}

static void
lease_issued_after_others_ended_holds_only_its_own_task (void **state)
{
    (void) state;
    //  Ended leases' memory is reused by later ones of the same size.
    lease_table_t *table = lease_table_new (8);
    uint8_t payload [300];
    for (size_t at = 0; at < sizeof payload; at++)
        payload [at] = (uint8_t) at;
    for (int round = 0; round < 200; round++) {
        char id [16];
        snprintf (id, sizeof id, "id-%d", round);
        size_t size = (size_t) (round * 37) % sizeof payload;
        lease_t *lease = lease_table_issue (table, id, round % 2 ? "echo" : "sha256",
                                            payload, size, 5, 3, 0);
        assert_string_equal (lease->id, id);
        assert_string_equal (lease->type, round % 2 ? "echo" : "sha256");
        assert_int_equal (lease->payload_size, size);
        assert_memory_equal (lease->payload, payload, size);
        assert_int_equal (lease->state, LEASE_QUEUED);
        assert_int_equal (lease->attempt, 1);
        assert_int_equal (lease->owner, 0);
        assert_true (lease->first_sent_us == 0);
        lease_table_send (table, lease, 1, 1, 100, 0);
        uint64_t last = lease->seq;
        if (round % 3)
            lease_table_finish (table, last);
        if (lease_table_size (table) == 8)
            for (uint64_t seq = last > 20 ? last - 20 : 1; seq <= last; seq++)
                lease_table_finish (table, seq);
    }
    lease_table_destroy (&table);
}

static void
expired_skips_finished_leases (void **state)
{
    (void) state;
    lease_table_t *table = lease_table_new (8);
    for (int i = 0; i < 4; i++)
        lease_table_send (table, s_issue_timeout (table, 1), 1, 1, -1000, 0);
    lease_table_finish (table, 1);
    lease_table_finish (table, 3);
    uint64_t seqs [8];
    size_t count = lease_table_expired (table, 1, seqs, 8);
    assert_int_equal (count, 2);
    assert_true ((seqs [0] == 2 && seqs [1] == 4) || (seqs [0] == 4 && seqs [1] == 2));
    assert_int_equal (lease_table_owned_count (table, 1), 2);
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
            lease_t *lease = lease_table_issue (table, id, "churn", NULL, 0, 1000, 1, 0);
            assert_non_null (lease);
            assert_int_equal (lease->seq, expected);
            live [live_count++] = lease->seq;
        }
        if (live_count == window)
            assert_null (lease_table_issue (table, "over", "churn", NULL, 0, 1000, 1, 0));
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

//  The status lists the tasks that have run longest: the table keeps the
//  running ones in the order they started, whatever order they were heard
//  in, and drops each one that stops running by any transition.
static void
longest_running_are_listed_longest_first_and_leave_when_they_stop (void **state)
{
    (void) state;
    lease_table_t *table = lease_table_new (16);
    lease_t *leases [7];
    char id [8];
    for (int i = 0; i < 7; i++) {
        snprintf (id, sizeof id, "t%d", i);
        leases [i] = s_issue (table, id);
        lease_table_send (table, leases [i], 1 + (uint32_t) i % 2, 1, 0, 0);
    }
    const lease_t *listed [8];
    assert_int_equal (lease_table_longest_running (table, listed, 8), 0);
    int64_t started [7] = { 500, 100, 300, 200, 400, 600, 0 };
    for (int i = 0; i < 6; i++)
        lease_table_heard (table, leases [i], true, started [i], 0);
    lease_table_heard (table, leases [6], false, 50, 0);     //  queued there: not running
    lease_table_heard (table, leases [2], true, 900, 0);     //  heard again: still since 300
    uint64_t order [6] = { 2, 4, 3, 5, 1, 6 };                //  seqs by start: 100, 200, ...
    assert_int_equal (lease_table_longest_running (table, listed, 8), 6);
    for (int i = 0; i < 6; i++)
        assert_int_equal (listed [i]->seq, order [i]);
    assert_int_equal (lease_table_longest_running (table, listed, 2), 2);
    assert_int_equal (listed [1]->seq, 4);
    //  Ended, retried, lost, heard not running: each leaves the list.
    lease_table_finish (table, 2);
    lease_table_retry_after (table, leases [3], 1000);
    lease_table_release (table, leases [4]);
    lease_table_heard (table, leases [0], false, 950, 0);
    assert_int_equal (lease_table_longest_running (table, listed, 8), 2);
    assert_int_equal (listed [0]->seq, 3);
    assert_int_equal (listed [1]->seq, 6);
    //  Running again later, it goes to the end.
    lease_table_heard (table, leases [0], true, 1000, 0);
    assert_int_equal (lease_table_longest_running (table, listed, 8), 3);
    assert_int_equal (listed [2]->seq, 1);
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
        cmocka_unit_test (send_files_the_lease_under_its_owner_and_owned_count_counts_it),
        cmocka_unit_test (finish_release_retry_after_and_queue_take_a_lease_off_its_owner),
        cmocka_unit_test (released_lease_sent_again_goes_to_its_new_owner_only),
        cmocka_unit_test (owners_with_large_slot_numbers_work),
        cmocka_unit_test (owner_lists_stay_exact_through_random_transitions),
        cmocka_unit_test (expired_returns_only_sent_leases_past_their_deadline),
        cmocka_unit_test (lease_without_timeout_never_expires),
        cmocka_unit_test (lease_without_timeout_is_not_expired_even_at_the_last_instant),
        cmocka_unit_test (lease_queued_at_a_live_worker_does_not_expire),
        cmocka_unit_test (running_lease_deadline_is_set_by_the_first_heartbeat_that_saw_it_run),
        cmocka_unit_test (retry_after_increments_attempt_and_the_lease_waits_until_its_time),
        cmocka_unit_test (expired_returns_waiting_leases_done_backing_off),
        cmocka_unit_test (expired_writes_at_most_max_seqs),
        cmocka_unit_test (expired_skips_finished_leases),
        cmocka_unit_test (lease_issued_after_others_ended_holds_only_its_own_task),
        cmocka_unit_test (queued_bytes_count_only_leases_waiting_to_be_sent),
        cmocka_unit_test (large_lease_is_lent_to_one_frame_at_a_time_and_outlives_its_end),
        cmocka_unit_test (deadlines_set_after_a_scan_that_found_nothing_are_found),
        cmocka_unit_test (longest_running_are_listed_longest_first_and_leave_when_they_stop),
        cmocka_unit_test (million_tasks_finished_in_random_order_stay_exactly_once),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
