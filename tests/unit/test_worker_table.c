/*  Tests for worker_table: the worker incarnations a master knows, keyed by
    routing id, each with the slot its leases are filed under. The master
    trusts it to say who may be sent tasks (LIVE, reachable), who is gone
    (silent, replaced, LOST), and which entry a connection or heartbeat
    belongs to; a wrong answer there sends tasks to nobody or charges the
    wrong worker, so each rule is checked here with scripted now_us.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "worker_table.h"
#include <stdio.h>
#include <string.h>

//  --- helpers -------------------------------------------------------------------

static tm_credit_t
s_credit (const char *id, uint32_t credit, uint64_t epoch)
{
    return (tm_credit_t) {
        .worker_id = id, .credit = credit, .threads = 4, .epoch = epoch, .stamp = 0
    };
}

static tm_heartbeat_t
s_heartbeat (const char *incarnation, const char *id)
{
    return (tm_heartbeat_t) {
        .worker_id = id, .host = "host-a", .pid = 4242, .threads_total = 6, .threads_busy = 2,
        .job_id = "job", .incarnation = incarnation
    };
}

//  Records a Credit and returns the outcome; *worker gets the entry.
static worker_credit_t
s_grant (worker_table_t *table, const char *incarnation, const tm_credit_t *credit, int fd,
         int64_t now_us, worker_info_t **worker)
{
    worker_info_t *replaced = (worker_info_t *) 0x1;
    worker_credit_t outcome = worker_table_credit (table, incarnation, credit, fd, now_us,
                                                   worker, &replaced);
    assert_null (replaced);
    return outcome;
}

//  --- credit ----------------------------------------------------------------------

static void
first_credit_adds_a_live_entry_keyed_by_incarnation_in_slot_one (void **state)
{
    (void) state;
    worker_table_t *table = worker_table_new ();
    assert_int_equal (worker_table_size (table), 0);
    assert_int_equal (worker_table_live (table), 0);
    tm_credit_t credit = s_credit ("host/1", 12, 1);
    credit.threads = 3;
    credit.stamp = 777;
    worker_info_t *worker = NULL;
    assert_int_equal (s_grant (table, "inc-aaaa-1", &credit, 9, 1000, &worker),
                      WORKER_CREDIT_NEW);
    assert_non_null (worker);
    assert_int_equal (worker->slot, 1);
    assert_string_equal (worker->incarnation, "inc-aaaa-1");
    assert_string_equal (worker->id, "host/1");
    assert_int_equal (worker->state, WORKER_LIVE);
    assert_int_equal (worker->credit, 12);
    assert_int_equal (worker->threads, 3);
    assert_int_equal (worker->epoch, 1);
    assert_int_equal (worker->stamp, 777);
    assert_int_equal (worker->frames, 0);
    assert_true (worker->reachable);
    assert_false (worker->heartbeat_seen);
    assert_int_equal (worker->fd, 9);
    assert_int_equal (worker->joined_us, 1000);
    assert_int_equal (worker->last_heard_us, 1000);
    assert_ptr_equal (worker_table_by_slot (table, 1), worker);
    assert_null (worker_table_by_slot (table, 0));
    assert_null (worker_table_by_slot (table, 2));
    assert_null (worker_table_by_slot (table, 1000000));
    assert_int_equal (worker_table_size (table), 1);
    assert_int_equal (worker_table_live (table), 1);
    worker_table_destroy (&table);
    assert_null (table);
}

static void
credit_of_a_known_incarnation_updates_its_entry (void **state)
{
    (void) state;
    worker_table_t *table = worker_table_new ();
    tm_credit_t credit = s_credit ("host/1", 12, 1);
    worker_info_t *first = NULL, *again = NULL;
    s_grant (table, "inc-aaaa-1", &credit, 9, 1000, &first);
    credit.credit = 40;
    credit.stamp = 5;
    assert_int_equal (s_grant (table, "inc-aaaa-1", &credit, 9, 2000, &again),
                      WORKER_CREDIT_KNOWN);
    assert_ptr_equal (again, first);
    assert_int_equal (again->credit, 40);
    assert_int_equal (again->stamp, 5);
    assert_int_equal (again->last_heard_us, 2000);
    assert_int_equal (again->joined_us, 1000);
    //  Window 0 is a window too: send nothing now.
    credit.credit = 0;
    s_grant (table, "inc-aaaa-1", &credit, 9, 3000, &again);
    assert_int_equal (again->credit, 0);
    assert_int_equal (again->state, WORKER_LIVE);
    assert_int_equal (worker_table_size (table), 1);
    worker_table_destroy (&table);
}

static void
each_incarnation_gets_its_own_slot (void **state)
{
    (void) state;
    worker_table_t *table = worker_table_new ();
    //  Past the table's first 16 slots.
    worker_info_t *workers [40];
    for (int i = 0; i < 40; i++) {
        char incarnation [32], id [32];
        snprintf (incarnation, sizeof incarnation, "incarnation-%02d", i);
        snprintf (id, sizeof id, "host/%d", i);
        tm_credit_t credit = s_credit (id, 1, 1);
        assert_int_equal (s_grant (table, incarnation, &credit, 100 + i, 0, &workers [i]),
                          WORKER_CREDIT_NEW);
        assert_int_equal (workers [i]->slot, (uint32_t) i + 1);
    }
    assert_true (worker_table_slots (table) > 40);
    for (int i = 0; i < 40; i++)
        assert_ptr_equal (worker_table_by_slot (table, (uint32_t) i + 1), workers [i]);
    assert_int_equal (worker_table_size (table), 40);
    assert_int_equal (worker_table_live (table), 40);
    //  Iteration visits each entry once.
    bool seen [41] = { false };
    size_t visited = 0;
    for (worker_info_t *worker = worker_table_first (table); worker;
         worker = worker_table_next (table)) {
        assert_false (seen [worker->slot]);
        seen [worker->slot] = true;
        visited++;
    }
    assert_int_equal (visited, 40);
    worker_table_destroy (&table);
}

static void
credit_on_a_higher_epoch_is_a_reconnection (void **state)
{
    (void) state;
    worker_table_t *table = worker_table_new ();
    worker_info_t *worker = NULL;
    tm_credit_t credit = s_credit ("host/1", 8, 1);
    assert_int_equal (s_grant (table, "inc-aaaa-1", &credit, 5, 0, &worker), WORKER_CREDIT_NEW);
    assert_int_equal (s_grant (table, "inc-aaaa-1", &credit, 5, 1, &worker), WORKER_CREDIT_KNOWN);
    credit.epoch = 2;
    assert_int_equal (s_grant (table, "inc-aaaa-1", &credit, 6, 2, &worker),
                      WORKER_CREDIT_RECONNECTED);
    assert_int_equal (worker->epoch, 2);
    assert_int_equal (worker->fd, 6);
    //  The same epoch again (a credit at a heartbeat) is no reconnection.
    assert_int_equal (s_grant (table, "inc-aaaa-1", &credit, 6, 3, &worker), WORKER_CREDIT_KNOWN);
    //  A late credit of the old connection does not take the epoch back.
    credit.epoch = 1;
    assert_int_equal (s_grant (table, "inc-aaaa-1", &credit, 5, 4, &worker), WORKER_CREDIT_KNOWN);
    assert_int_equal (worker->epoch, 2);
    credit.epoch = 5;
    assert_int_equal (s_grant (table, "inc-aaaa-1", &credit, 7, 5, &worker),
                      WORKER_CREDIT_RECONNECTED);
    assert_int_equal (worker->epoch, 5);
    worker_table_destroy (&table);
}

static void
new_incarnation_with_the_id_of_a_live_one_replaces_it (void **state)
{
    (void) state;
    worker_table_t *table = worker_table_new ();
    worker_info_t *old = NULL, *other = NULL, *fresh = NULL, *replaced = NULL;
    tm_credit_t credit = s_credit ("host/1", 8, 1);
    s_grant (table, "inc-old-0001", &credit, 5, 0, &old);
    tm_credit_t other_credit = s_credit ("host/2", 8, 1);
    s_grant (table, "inc-other-01", &other_credit, 6, 0, &other);
    //  host/1 restarted: a new incarnation under the same worker id.
    assert_int_equal (worker_table_credit (table, "inc-new-0001", &credit, 7, 10, &fresh,
                                           &replaced), WORKER_CREDIT_NEW);
    assert_ptr_equal (replaced, old);
    assert_ptr_not_equal (fresh, old);
    assert_int_not_equal (fresh->slot, old->slot);
    //  The table reports it; the master loses it.
    assert_int_equal (old->state, WORKER_LIVE);
    worker_table_lose (table, old, 10);
    //  A third incarnation replaces the live one, not the LOST one.
    worker_info_t *third = NULL;
    assert_int_equal (worker_table_credit (table, "inc-new-0002", &credit, 8, 20, &third,
                                           &replaced), WORKER_CREDIT_NEW);
    assert_ptr_equal (replaced, fresh);
    //  A DRAINING one is replaced too.
    worker_table_lose (table, fresh, 20);
    credit.draining = true;
    s_grant (table, "inc-new-0002", &credit, 8, 30, &third);
    assert_int_equal (third->state, WORKER_DRAINING);
    credit.draining = false;
    worker_info_t *fourth = NULL;
    worker_table_credit (table, "inc-new-0003", &credit, 9, 40, &fourth, &replaced);
    assert_ptr_equal (replaced, third);
    worker_table_destroy (&table);
}

//  --- lost ------------------------------------------------------------------------

static void
lost_entry_ignores_credit_until_a_heartbeat_revives_it (void **state)
{
    (void) state;
    worker_table_t *table = worker_table_new ();
    worker_info_t *worker = NULL, *again = NULL;
    tm_credit_t credit = s_credit ("host/1", 8, 1);
    s_grant (table, "inc-aaaa-1", &credit, 5, 0, &worker);
    worker_table_lose (table, worker, 100);
    assert_int_equal (worker->state, WORKER_LOST);
    assert_int_equal (worker->lost_us, 100);
    assert_int_equal (worker->credit, 0);
    assert_false (worker->reachable);
    assert_int_equal (worker_table_live (table), 0);
    assert_int_equal (worker_table_size (table), 1);
    //  A peer that sends Credit but no heartbeat gets no further work.
    credit.credit = 50;
    credit.epoch = 2;
    assert_int_equal (s_grant (table, "inc-aaaa-1", &credit, 6, 200, &again),
                      WORKER_CREDIT_KNOWN);
    assert_ptr_equal (again, worker);
    assert_int_equal (worker->state, WORKER_LOST);
    assert_int_equal (worker->credit, 0);
    assert_false (worker->reachable);
    assert_int_equal (worker->last_heard_us, 0);
    assert_null (worker_table_by_fd (table, 6));
    //  Its heartbeat says it is alive: its link was only cut.
    tm_heartbeat_t heartbeat = s_heartbeat ("inc-aaaa-1", "host/1");
    assert_ptr_equal (worker_table_heartbeat (table, &heartbeat, 300), worker);
    assert_int_equal (worker->state, WORKER_LIVE);
    assert_int_equal (worker_table_live (table), 1);
    //  Then its credit counts again.
    assert_int_equal (s_grant (table, "inc-aaaa-1", &credit, 6, 400, &again),
                      WORKER_CREDIT_RECONNECTED);
    assert_int_equal (worker->credit, 50);
    assert_true (worker->reachable);
    assert_ptr_equal (worker_table_by_fd (table, 6), worker);
    worker_table_destroy (&table);
}

static void
forget_drops_long_lost_entries_and_frees_their_slots_for_reuse (void **state)
{
    (void) state;
    worker_table_t *table = worker_table_new ();
    worker_info_t *a = NULL, *b = NULL, *c = NULL;
    tm_credit_t credit = s_credit ("host/a", 8, 1);
    s_grant (table, "inc-aaaa-1", &credit, 5, 0, &a);
    credit.worker_id = "host/b";
    s_grant (table, "inc-bbbb-1", &credit, 6, 0, &b);
    assert_int_equal (a->slot, 1);
    assert_int_equal (b->slot, 2);
    worker_table_lose (table, a, 1000);
    //  Kept a while (keep_us), so a credit-only peer is not new again.
    worker_table_forget (table, 1500, 1000);
    assert_int_equal (worker_table_size (table), 2);
    assert_ptr_equal (worker_table_by_slot (table, 1), a);
    worker_table_forget (table, 2001, 1000);
    assert_int_equal (worker_table_size (table), 1);
    assert_null (worker_table_by_slot (table, 1));
    assert_ptr_equal (worker_table_by_slot (table, 2), b);
    assert_int_equal (b->state, WORKER_LIVE);
    //  Forgotten: its heartbeat is no one's, its credit a new worker's.
    tm_heartbeat_t heartbeat = s_heartbeat ("inc-aaaa-1", "host/a");
    assert_null (worker_table_heartbeat (table, &heartbeat, 2100));
    credit.worker_id = "host/c";
    assert_int_equal (s_grant (table, "inc-cccc-1", &credit, 7, 2200, &c), WORKER_CREDIT_NEW);
    assert_int_equal (c->slot, 1);
    assert_ptr_equal (worker_table_by_slot (table, 1), c);
    //  A LIVE worker is never forgotten, however long ago it was heard.
    worker_table_forget (table, 1000000000, 1000);
    assert_int_equal (worker_table_size (table), 2);
    worker_table_destroy (&table);
}

//  --- heartbeats -----------------------------------------------------------------

static void
heartbeat_is_recorded_against_its_incarnation (void **state)
{
    (void) state;
    worker_table_t *table = worker_table_new ();
    worker_info_t *worker = NULL;
    tm_credit_t credit = s_credit ("host/1", 8, 1);
    s_grant (table, "inc-aaaa-1", &credit, 5, 100, &worker);
    tm_heartbeat_t heartbeat = s_heartbeat ("inc-aaaa-1", "host/1");
    assert_ptr_equal (worker_table_heartbeat (table, &heartbeat, 900), worker);
    assert_true (worker->heartbeat_seen);
    assert_string_equal (worker->host, "host-a");
    assert_int_equal (worker->pid, 4242);
    assert_int_equal (worker->threads, 6);
    assert_int_equal (worker->threads_busy, 2);
    assert_int_equal (worker->last_heard_us, 900);
    assert_int_equal (worker->state, WORKER_LIVE);
    worker_table_destroy (&table);
}

static void
heartbeat_of_an_incarnation_never_credited_is_not_attributed (void **state)
{
    (void) state;
    worker_table_t *table = worker_table_new ();
    worker_info_t *worker = NULL;
    tm_credit_t credit = s_credit ("host/1", 8, 1);
    s_grant (table, "inc-aaaa-1", &credit, 5, 100, &worker);
    //  Same worker id, another incarnation: still no one's.
    tm_heartbeat_t heartbeat = s_heartbeat ("inc-zzzz-9", "host/1");
    assert_null (worker_table_heartbeat (table, &heartbeat, 200));
    heartbeat = s_heartbeat ("", "host/1");
    assert_null (worker_table_heartbeat (table, &heartbeat, 200));
    assert_int_equal (worker_table_size (table), 1);
    assert_false (worker->heartbeat_seen);
    assert_int_equal (worker->last_heard_us, 100);
    worker_table_destroy (&table);
}

static void
draining_comes_from_credit_or_heartbeat_and_leaves_the_live_count (void **state)
{
    (void) state;
    worker_table_t *table = worker_table_new ();
    worker_info_t *a = NULL, *b = NULL;
    tm_credit_t credit = s_credit ("host/a", 8, 1);
    s_grant (table, "inc-aaaa-1", &credit, 5, 0, &a);
    credit.worker_id = "host/b";
    s_grant (table, "inc-bbbb-1", &credit, 6, 0, &b);
    assert_int_equal (worker_table_live (table), 2);

    credit.worker_id = "host/a";
    credit.draining = true;
    s_grant (table, "inc-aaaa-1", &credit, 5, 10, &a);
    assert_int_equal (a->state, WORKER_DRAINING);
    assert_int_equal (worker_table_live (table), 1);

    tm_heartbeat_t heartbeat = s_heartbeat ("inc-bbbb-1", "host/b");
    heartbeat.draining = true;
    worker_table_heartbeat (table, &heartbeat, 20);
    assert_int_equal (b->state, WORKER_DRAINING);
    assert_int_equal (worker_table_live (table), 0);
    assert_int_equal (worker_table_size (table), 2);
    //  Draining is not gone: its connection and its silence still count.
    assert_ptr_equal (worker_table_by_fd (table, 5), a);
    assert_ptr_equal (worker_table_silent (table, 10 + 1001, 1000), a);
    //  Losing a draining worker does not take the live count below zero.
    worker_table_lose (table, a, 30);
    worker_table_lose (table, b, 30);
    assert_int_equal (worker_table_live (table), 0);
    assert_int_equal (worker_table_size (table), 2);
    worker_table_destroy (&table);
}

//  --- silent and by_fd --------------------------------------------------------------

static void
silent_finds_a_worker_not_heard_for_longer_than_the_timeout (void **state)
{
    (void) state;
    worker_table_t *table = worker_table_new ();
    worker_info_t *a = NULL, *b = NULL;
    tm_credit_t credit = s_credit ("host/a", 8, 1);
    s_grant (table, "inc-aaaa-1", &credit, 5, 100, &a);
    credit.worker_id = "host/b";
    s_grant (table, "inc-bbbb-1", &credit, 6, 500, &b);
    //  Exactly the timeout is not yet silent.
    assert_null (worker_table_silent (table, 1100, 1000));
    assert_ptr_equal (worker_table_silent (table, 1101, 1000), a);
    //  A heartbeat is a sign of life.
    tm_heartbeat_t heartbeat = s_heartbeat ("inc-aaaa-1", "host/a");
    worker_table_heartbeat (table, &heartbeat, 1101);
    assert_null (worker_table_silent (table, 1400, 1000));
    assert_ptr_equal (worker_table_silent (table, 1501, 1000), b);
    //  A LOST worker is not reported again.
    worker_table_lose (table, b, 1501);
    assert_null (worker_table_silent (table, 1501, 1000));
    assert_ptr_equal (worker_table_silent (table, 5000, 1000), a);
    worker_table_destroy (&table);
}

static void
by_fd_finds_the_live_worker_whose_last_credit_came_on_it (void **state)
{
    (void) state;
    worker_table_t *table = worker_table_new ();
    worker_info_t *a = NULL, *b = NULL;
    tm_credit_t credit = s_credit ("host/a", 8, 1);
    s_grant (table, "inc-aaaa-1", &credit, 7, 0, &a);
    credit.worker_id = "host/b";
    s_grant (table, "inc-bbbb-1", &credit, 8, 0, &b);
    assert_ptr_equal (worker_table_by_fd (table, 7), a);
    assert_ptr_equal (worker_table_by_fd (table, 8), b);
    assert_null (worker_table_by_fd (table, 9));
    //  It reconnected on another connection.
    credit.worker_id = "host/a";
    credit.epoch = 2;
    s_grant (table, "inc-aaaa-1", &credit, 9, 10, &a);
    assert_ptr_equal (worker_table_by_fd (table, 9), a);
    assert_null (worker_table_by_fd (table, 7));
    worker_table_lose (table, a, 20);
    assert_null (worker_table_by_fd (table, 9));
    assert_ptr_equal (worker_table_by_fd (table, 8), b);
    worker_table_destroy (&table);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (first_credit_adds_a_live_entry_keyed_by_incarnation_in_slot_one),
        cmocka_unit_test (credit_of_a_known_incarnation_updates_its_entry),
        cmocka_unit_test (each_incarnation_gets_its_own_slot),
        cmocka_unit_test (credit_on_a_higher_epoch_is_a_reconnection),
        cmocka_unit_test (new_incarnation_with_the_id_of_a_live_one_replaces_it),
        cmocka_unit_test (lost_entry_ignores_credit_until_a_heartbeat_revives_it),
        cmocka_unit_test (forget_drops_long_lost_entries_and_frees_their_slots_for_reuse),
        cmocka_unit_test (heartbeat_is_recorded_against_its_incarnation),
        cmocka_unit_test (heartbeat_of_an_incarnation_never_credited_is_not_attributed),
        cmocka_unit_test (draining_comes_from_credit_or_heartbeat_and_leaves_the_live_count),
        cmocka_unit_test (silent_finds_a_worker_not_heard_for_longer_than_the_timeout),
        cmocka_unit_test (by_fd_finds_the_live_worker_whose_last_credit_came_on_it),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
