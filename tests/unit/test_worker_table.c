/*  Tests for worker_table: what the master learns from heartbeats. The
    master trusts it to say which workers fell silent, which seqs a live
    worker holds, and from when on every task sent is accounted for; a
    wrong answer there loses a task (or sends it twice), so each rule is
    checked here.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "worker_table.h"

static tm_heartbeat_t
s_heartbeat (const char *id, const uint64_t *held, size_t count, size_t threads)
{
    return (tm_heartbeat_t) {
        .worker_id = id, .host = "h", .pid = 1, .threads_total = (uint32_t) threads,
        .held_seqs = held, .held_count = count, .job_id = "job"
    };
}

static void
holds_is_the_union_of_the_latest_heartbeats (void **state)
{
    (void) state;
    worker_table_t *table = worker_table_new ();
    const uint64_t a [] = { 5, 3, 9 };
    const uint64_t b [] = { 4, 100 };
    tm_heartbeat_t hb = s_heartbeat ("a", a, 3, 2);
    worker_table_heartbeat (table, &hb, true, 10);
    hb = s_heartbeat ("b", b, 2, 2);
    worker_table_heartbeat (table, &hb, true, 20);
    for (uint64_t seq = 0; seq <= 101; seq++) {
        bool listed = seq == 3 || seq == 4 || seq == 5 || seq == 9 || seq == 100;
        assert_int_equal (worker_table_holds (table, seq), listed);
    }
    //  A newer heartbeat replaces the list; it does not add to it.
    const uint64_t a2 [] = { 7 };
    hb = s_heartbeat ("a", a2, 1, 2);
    worker_table_heartbeat (table, &hb, true, 30);
    assert_false (worker_table_holds (table, 5));
    assert_true (worker_table_holds (table, 7));
    assert_true (worker_table_holds (table, 100));
    //  Seqs of another job's heartbeat are not this job's.
    hb = s_heartbeat ("b", b, 2, 2);
    worker_table_heartbeat (table, &hb, false, 40);
    assert_false (worker_table_holds (table, 100));
    assert_int_equal (worker_table_size (table), 2);
    worker_table_destroy (&table);
    assert_null (table);
}

static void
silent_workers_are_found_and_their_seqs_no_longer_held (void **state)
{
    (void) state;
    worker_table_t *table = worker_table_new ();
    const uint64_t a [] = { 1, 2 };
    tm_heartbeat_t hb = s_heartbeat ("a", a, 2, 4);
    worker_table_heartbeat (table, &hb, true, 1000);
    hb = s_heartbeat ("b", NULL, 0, 4);
    worker_table_heartbeat (table, &hb, true, 1000);
    assert_null (worker_table_silent (table, 1500, 1000));
    //  A result counts as a sign of life, a heartbeat is not needed.
    worker_table_seen (table, "b", 2500);
    worker_info_t *silent = worker_table_silent (table, 2500, 1000);
    assert_non_null (silent);
    assert_string_equal (silent->id, "a");
    assert_int_equal (silent->held_count, 2);
    assert_int_equal (silent->held [1], 2);
    assert_int_equal (silent->threads, 4);
    assert_true (worker_table_holds (table, 1));
    worker_table_remove (table, silent);
    assert_false (worker_table_holds (table, 1));
    assert_null (worker_table_silent (table, 2500, 1000));
    assert_int_equal (worker_table_size (table), 1);
    worker_table_destroy (&table);
}

static void
horizon_is_the_lowest_frame_and_oldest_heartbeat (void **state)
{
    (void) state;
    worker_table_t *table = worker_table_new ();
    worker_horizon_t horizon;
    assert_false (worker_table_horizon (table, &horizon));  //  no workers: nothing known
    tm_heartbeat_t hb = s_heartbeat ("a", NULL, 0, 1);
    hb.last_batch = 40;
    worker_table_heartbeat (table, &hb, true, 300);
    hb = s_heartbeat ("b", NULL, 0, 1);
    hb.last_batch = 30;
    worker_table_heartbeat (table, &hb, true, 200);
    assert_true (worker_table_horizon (table, &horizon));
    assert_int_equal (horizon.heard_us, 200);
    assert_int_equal (horizon.frame, 30);
    //  A worker known only from results has not said what it holds.
    worker_table_seen (table, "c", 400);
    assert_false (worker_table_horizon (table, &horizon));
    hb = s_heartbeat ("c", NULL, 0, 1);
    hb.last_batch = 50;
    worker_table_heartbeat (table, &hb, true, 500);
    assert_true (worker_table_horizon (table, &horizon));
    assert_int_equal (horizon.frame, 30);
    //  A worker with tasks unread may hold more than it listed: time says
    //  nothing then, but frames are read in order, so its last_batch holds.
    hb = s_heartbeat ("b", NULL, 0, 1);
    hb.last_batch = 35;
    hb.backlog = true;
    worker_table_heartbeat (table, &hb, true, 600);
    assert_true (worker_table_horizon (table, &horizon));
    assert_int_equal (horizon.heard_us, 0);
    assert_int_equal (horizon.frame, 35);
    hb.backlog = false;
    worker_table_heartbeat (table, &hb, true, 700);
    assert_true (worker_table_horizon (table, &horizon));
    assert_int_equal (horizon.heard_us, 300);
    assert_int_equal (horizon.frame, 35);
    //  A draining worker left the tasks socket: it holds back no frame number.
    hb.draining = true;
    worker_table_heartbeat (table, &hb, true, 800);
    assert_true (worker_table_horizon (table, &horizon));
    assert_int_equal (horizon.frame, 40);
    worker_table_destroy (&table);
}

static void
credit_gives_each_worker_at_least_the_floor (void **state)
{
    (void) state;
    worker_table_t *table = worker_table_new ();
    assert_int_equal (worker_table_credit (table, 8, 4096), 0);
    tm_heartbeat_t hb = s_heartbeat ("small", NULL, 0, 2);
    worker_table_heartbeat (table, &hb, true, 1);
    hb = s_heartbeat ("big", NULL, 0, 1000);
    worker_table_heartbeat (table, &hb, true, 1);
    assert_int_equal (worker_table_credit (table, 8, 4096), 4096 + 8000);
    worker_table_destroy (&table);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (holds_is_the_union_of_the_latest_heartbeats),
        cmocka_unit_test (silent_workers_are_found_and_their_seqs_no_longer_held),
        cmocka_unit_test (horizon_is_the_lowest_frame_and_oldest_heartbeat),
        cmocka_unit_test (credit_gives_each_worker_at_least_the_floor),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
