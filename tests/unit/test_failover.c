/*  Tests for failover: what a worker's heartbeat, or its loss, means for the
    leases sent to it. Scripted: leases are sent to owners (worker slots) in
    numbered frames through the lease table's own transitions, heartbeats
    are plain structs handed in with now_us, and the plan that comes out is
    checked seq by seq. A wrong plan loses a task, runs it twice or charges
    an attempt it did not use, so each rule of failover.h has a test here.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "failover.h"
#include "lease_table.h"
#include <stdio.h>
#include <string.h>

#define S_TIMEOUT_MS 1000
#define S_GRACE_US 500000
#define S_LEASE_US (S_TIMEOUT_MS * 1000LL + S_GRACE_US)
#define S_MAX 64

//  --- helpers -------------------------------------------------------------------

typedef struct {
    lease_table_t *leases;
    failover_plan_t plan;
} s_rig_t;

static void
s_rig_new (s_rig_t *rig)
{
    rig->leases = lease_table_new (S_MAX);
    failover_plan_init (&rig->plan, S_MAX);
    assert_int_equal (rig->plan.free_count, 0);
    assert_int_equal (rig->plan.charged_count, 0);
}

static void
s_rig_destroy (s_rig_t *rig)
{
    failover_plan_fini (&rig->plan);
    assert_null (rig->plan.free_seqs);
    lease_table_destroy (&rig->leases);
}

//  Issues the next task and sends it to owner in frame at now_us.
static lease_t *
s_send (s_rig_t *rig, uint32_t owner, uint64_t frame, int64_t now_us)
{
    lease_t *lease = lease_table_issue (rig->leases, "t", "echo", NULL, 0, S_TIMEOUT_MS, 3, 0);
    assert_non_null (lease);
    lease_table_send (rig->leases, lease, owner, frame, now_us, S_GRACE_US);
    return lease;
}

static lease_t *
s_lease (s_rig_t *rig, uint64_t seq)
{
    lease_t *lease = NULL;
    assert_int_equal (lease_table_lookup (rig->leases, seq, &lease), LEASE_FOUND);
    return lease;
}

static tm_heartbeat_t
s_heartbeat (const uint64_t *held, size_t held_count, const uint64_t *running,
             size_t running_count, uint64_t last_batch)
{
    return (tm_heartbeat_t) {
        .worker_id = "host/1", .host = "host", .pid = 1, .threads_total = 4,
        .threads_busy = (uint32_t) running_count,
        .held_seqs = held, .held_count = held_count,
        .running_seqs = running, .running_count = running_count,
        .job_id = "job", .last_batch = last_batch, .incarnation = "incarnation-1"
    };
}

//  True if seq is among the count seqs.
static bool
s_has (const uint64_t *seqs, size_t count, uint64_t seq)
{
    for (size_t i = 0; i < count; i++)
        if (seqs [i] == seq)
            return true;
    return false;
}

//  --- heartbeats -------------------------------------------------------------------

static void
heartbeat_listing_held_seqs_keeps_their_leases_and_plans_nothing (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    for (int i = 0; i < 3; i++)
        s_send (&rig, 1, 1, 0);
    //  Queued at the worker past their first deadline.
    const uint64_t held [] = { 3, 1, 2 };
    tm_heartbeat_t heartbeat = s_heartbeat (held, 3, NULL, 0, 1);
    const int64_t now_us = 2 * S_LEASE_US;
    failover_heartbeat (rig.leases, 1, &heartbeat, now_us, S_GRACE_US, &rig.plan);
    assert_int_equal (rig.plan.free_count, 0);
    assert_int_equal (rig.plan.charged_count, 0);
    uint64_t expired [S_MAX];
    assert_int_equal (lease_table_expired (rig.leases, now_us, expired, S_MAX), 0);
    for (uint64_t seq = 1; seq <= 3; seq++) {
        lease_t *lease = s_lease (&rig, seq);
        assert_int_equal (lease->state, LEASE_SENT);
        assert_int_equal (lease->owner, 1);
        assert_false (lease->running);
        assert_int_equal (lease->deadline_us, now_us + S_LEASE_US);
    }
    assert_int_equal (lease_table_owned_count (rig.leases, 1), 3);
    s_rig_destroy (&rig);
}

static void
unlisted_lease_of_a_frame_the_worker_read_is_planned_as_a_free_resend (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    s_send (&rig, 1, 1, 0);                 //  1: frame 1, lost on the way
    s_send (&rig, 1, 2, 0);                 //  2: frame 2, held
    s_send (&rig, 1, 2, 0);                 //  3: frame 2, lost too
    const uint64_t held [] = { 2 };
    tm_heartbeat_t heartbeat = s_heartbeat (held, 1, NULL, 0, 2);
    failover_heartbeat (rig.leases, 1, &heartbeat, 1000, S_GRACE_US, &rig.plan);
    assert_int_equal (rig.plan.charged_count, 0);
    assert_int_equal (rig.plan.free_count, 2);
    assert_true (s_has (rig.plan.free_seqs, 2, 1));
    assert_true (s_has (rig.plan.free_seqs, 2, 3));
    //  Failover only plans: the master releases and queues them.
    assert_int_equal (s_lease (&rig, 1)->state, LEASE_SENT);
    assert_int_equal (lease_table_owned_count (rig.leases, 1), 3);
    s_rig_destroy (&rig);
}

static void
unlisted_lease_of_a_frame_past_last_batch_is_not_planned (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    s_send (&rig, 1, 1, 0);
    lease_t *on_its_way = s_send (&rig, 1, 2, 0);
    lease_t *later = s_send (&rig, 1, 3, 0);
    const uint64_t held [] = { 1 };
    tm_heartbeat_t heartbeat = s_heartbeat (held, 1, NULL, 0, 1);
    failover_heartbeat (rig.leases, 1, &heartbeat, 1000, S_GRACE_US, &rig.plan);
    assert_int_equal (rig.plan.free_count, 0);
    assert_int_equal (rig.plan.charged_count, 0);
    //  Not heard either: their leases run from when they were sent.
    assert_int_equal (on_its_way->deadline_us, S_LEASE_US);
    assert_int_equal (later->deadline_us, S_LEASE_US);
    //  Once the worker has read frame 2 without listing seq 2, it was lost.
    heartbeat.last_batch = 2;
    failover_heartbeat (rig.leases, 1, &heartbeat, 2000, S_GRACE_US, &rig.plan);
    assert_int_equal (rig.plan.free_count, 1);
    assert_int_equal (rig.plan.free_seqs [0], on_its_way->seq);
    s_rig_destroy (&rig);
}

static void
idle_heartbeat_after_every_frame_plans_every_lease_free (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    for (uint64_t frame = 1; frame <= 4; frame++)
        s_send (&rig, 2, frame, 0);
    tm_heartbeat_t heartbeat = s_heartbeat (NULL, 0, NULL, 0, 4);
    failover_heartbeat (rig.leases, 2, &heartbeat, 1000, S_GRACE_US, &rig.plan);
    assert_int_equal (rig.plan.free_count, 4);
    assert_int_equal (rig.plan.charged_count, 0);
    for (uint64_t seq = 1; seq <= 4; seq++)
        assert_true (s_has (rig.plan.free_seqs, 4, seq));
    //  The next heartbeat starts a new plan; it does not add to this one.
    const uint64_t held [] = { 1, 2, 3, 4 };
    heartbeat = s_heartbeat (held, 4, NULL, 0, 4);
    failover_heartbeat (rig.leases, 2, &heartbeat, 2000, S_GRACE_US, &rig.plan);
    assert_int_equal (rig.plan.free_count, 0);
    s_rig_destroy (&rig);
}

static void
seqs_listed_but_sent_to_another_owner_change_nothing_for_either (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    lease_t *mine = s_send (&rig, 1, 1, 0);
    lease_t *theirs = s_send (&rig, 2, 1, 0);
    //  Worker 1 lists its own seq and worker 2's, as running.
    const uint64_t held [] = { 1, 2 };
    const uint64_t running [] = { 2 };
    tm_heartbeat_t heartbeat = s_heartbeat (held, 2, running, 1, 1);
    const int64_t now_us = S_LEASE_US - 1;
    failover_heartbeat (rig.leases, 1, &heartbeat, now_us, S_GRACE_US, &rig.plan);
    assert_int_equal (rig.plan.free_count, 0);
    assert_int_equal (rig.plan.charged_count, 0);
    assert_int_equal (mine->deadline_us, now_us + S_LEASE_US);
    //  Worker 2's lease: still its, not running, not kept alive by worker 1.
    assert_int_equal (theirs->owner, 2);
    assert_false (theirs->running);
    assert_int_equal (theirs->deadline_us, S_LEASE_US);
    assert_int_equal (lease_table_owned_count (rig.leases, 1), 1);
    assert_int_equal (lease_table_owned_count (rig.leases, 2), 1);
    uint64_t expired [S_MAX];
    assert_int_equal (lease_table_expired (rig.leases, S_LEASE_US, expired, S_MAX), 1);
    assert_int_equal (expired [0], theirs->seq);
    //  Worker 2 lost with it: free, since worker 1 saying it runs is no charge.
    failover_worker_lost (rig.leases, 2, &rig.plan);
    assert_int_equal (rig.plan.charged_count, 0);
    assert_int_equal (rig.plan.free_count, 1);
    assert_int_equal (rig.plan.free_seqs [0], theirs->seq);
    //  And worker 2 saying it read frame 1 without seq 2 still finds it lost.
    heartbeat = s_heartbeat (NULL, 0, NULL, 0, 1);
    failover_heartbeat (rig.leases, 2, &heartbeat, now_us, S_GRACE_US, &rig.plan);
    assert_int_equal (rig.plan.free_count, 1);
    assert_int_equal (rig.plan.free_seqs [0], theirs->seq);
    s_rig_destroy (&rig);
}

static void
running_lease_expires_from_the_first_heartbeat_that_saw_it_run (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    lease_t *lease = s_send (&rig, 1, 1, 0);
    const uint64_t held [] = { 1 };
    tm_heartbeat_t heartbeat = s_heartbeat (held, 1, held, 1, 1);
    const int64_t started_us = 300000;
    for (int64_t now_us = started_us; now_us < started_us + S_LEASE_US; now_us += 200000) {
        failover_heartbeat (rig.leases, 1, &heartbeat, now_us, S_GRACE_US, &rig.plan);
        assert_int_equal (rig.plan.free_count, 0);
        assert_true (lease->running);
        assert_int_equal (lease->deadline_us, started_us + S_LEASE_US);
    }
    uint64_t expired [S_MAX];
    assert_int_equal (lease_table_expired (rig.leases, started_us + S_LEASE_US, expired, S_MAX), 1);
    assert_int_equal (expired [0], 1);
    s_rig_destroy (&rig);
}

//  --- lost workers -----------------------------------------------------------------

static void
lost_worker_has_exactly_its_running_seqs_charged_and_the_rest_free (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    for (int i = 0; i < 5; i++)
        s_send (&rig, 3, 1, 0);
    s_send (&rig, 4, 1, 0);                 //  6: another worker's
    const uint64_t held [] = { 1, 2, 3, 4, 5 };
    const uint64_t running [] = { 4, 2 };
    tm_heartbeat_t heartbeat = s_heartbeat (held, 5, running, 2, 1);
    failover_heartbeat (rig.leases, 3, &heartbeat, 1000, S_GRACE_US, &rig.plan);
    for (uint64_t seq = 1; seq <= 5; seq++)
        assert_int_equal (s_lease (&rig, seq)->running, seq == 2 || seq == 4);

    failover_worker_lost (rig.leases, 3, &rig.plan);
    assert_int_equal (rig.plan.charged_count, 2);
    assert_true (s_has (rig.plan.charged, 2, 2));
    assert_true (s_has (rig.plan.charged, 2, 4));
    assert_int_equal (rig.plan.free_count, 3);
    assert_true (s_has (rig.plan.free_seqs, 3, 1));
    assert_true (s_has (rig.plan.free_seqs, 3, 3));
    assert_true (s_has (rig.plan.free_seqs, 3, 5));
    assert_false (s_has (rig.plan.free_seqs, 3, 6));
    s_rig_destroy (&rig);
}

static void
lost_worker_is_charged_for_what_its_last_heartbeat_said_runs (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    for (int i = 0; i < 3; i++)
        s_send (&rig, 1, 1, 0);
    const uint64_t held [] = { 1, 2, 3 };
    const uint64_t first_running [] = { 1, 2 };
    tm_heartbeat_t heartbeat = s_heartbeat (held, 3, first_running, 2, 1);
    failover_heartbeat (rig.leases, 1, &heartbeat, 1000, S_GRACE_US, &rig.plan);
    //  Seq 1 went back to the queue there (a thread gave it up), 3 started.
    const uint64_t then_running [] = { 3, 2 };
    heartbeat = s_heartbeat (held, 3, then_running, 2, 1);
    failover_heartbeat (rig.leases, 1, &heartbeat, 2000, S_GRACE_US, &rig.plan);
    failover_worker_lost (rig.leases, 1, &rig.plan);
    assert_int_equal (rig.plan.charged_count, 2);
    assert_true (s_has (rig.plan.charged, 2, 2));
    assert_true (s_has (rig.plan.charged, 2, 3));
    assert_int_equal (rig.plan.free_count, 1);
    assert_int_equal (rig.plan.free_seqs [0], 1);
    s_rig_destroy (&rig);
}

static void
worker_lost_before_any_heartbeat_has_everything_free (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    for (uint64_t frame = 1; frame <= 6; frame++)
        s_send (&rig, 7, frame, 0);
    failover_worker_lost (rig.leases, 7, &rig.plan);
    assert_int_equal (rig.plan.charged_count, 0);
    assert_int_equal (rig.plan.free_count, 6);
    for (uint64_t seq = 1; seq <= 6; seq++)
        assert_true (s_has (rig.plan.free_seqs, 6, seq));
    //  A worker that was sent nothing plans nothing.
    failover_worker_lost (rig.leases, 8, &rig.plan);
    assert_int_equal (rig.plan.free_count, 0);
    assert_int_equal (rig.plan.charged_count, 0);
    s_rig_destroy (&rig);
}

static void
forged_heartbeat_listing_seqs_never_sent_to_that_owner_charges_nothing (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    s_send (&rig, 2, 1, 0);
    s_send (&rig, 2, 1, 0);
    //  Worker 1 was sent nothing, yet claims seqs 1, 2 and 99 run there.
    const uint64_t seqs [] = { 1, 2, 99 };
    tm_heartbeat_t forged = s_heartbeat (seqs, 3, seqs, 3, 1000);
    failover_heartbeat (rig.leases, 1, &forged, 1000, S_GRACE_US, &rig.plan);
    assert_int_equal (rig.plan.free_count, 0);
    assert_int_equal (rig.plan.charged_count, 0);
    failover_worker_lost (rig.leases, 1, &rig.plan);
    assert_int_equal (rig.plan.free_count, 0);
    assert_int_equal (rig.plan.charged_count, 0);
    //  Worker 2's leases are as they were: not running, so its loss is free.
    assert_false (s_lease (&rig, 1)->running);
    assert_false (s_lease (&rig, 2)->running);
    assert_int_equal (s_lease (&rig, 1)->owner, 2);
    failover_worker_lost (rig.leases, 2, &rig.plan);
    assert_int_equal (rig.plan.charged_count, 0);
    assert_int_equal (rig.plan.free_count, 2);
    s_rig_destroy (&rig);
}

static void
plan_never_holds_more_than_its_room (void **state)
{
    (void) state;
    lease_table_t *leases = lease_table_new (16);
    failover_plan_t plan;
    failover_plan_init (&plan, 2);
    for (int i = 0; i < 5; i++) {
        lease_t *lease = lease_table_issue (leases, "t", "echo", NULL, 0, 1000, 2, 0);
        lease_table_send (leases, lease, 1, 1, 0, 0);
    }
    tm_heartbeat_t heartbeat = s_heartbeat (NULL, 0, NULL, 0, 1);
    failover_heartbeat (leases, 1, &heartbeat, 10, 0, &plan);
    assert_int_equal (plan.free_count, 2);
    failover_worker_lost (leases, 1, &plan);
    assert_int_equal (plan.free_count, 2);
    assert_int_equal (plan.charged_count, 0);
    failover_plan_fini (&plan);
    lease_table_destroy (&leases);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (heartbeat_listing_held_seqs_keeps_their_leases_and_plans_nothing),
        cmocka_unit_test (unlisted_lease_of_a_frame_the_worker_read_is_planned_as_a_free_resend),
        cmocka_unit_test (unlisted_lease_of_a_frame_past_last_batch_is_not_planned),
        cmocka_unit_test (idle_heartbeat_after_every_frame_plans_every_lease_free),
        cmocka_unit_test (seqs_listed_but_sent_to_another_owner_change_nothing_for_either),
        cmocka_unit_test (running_lease_expires_from_the_first_heartbeat_that_saw_it_run),
        cmocka_unit_test (lost_worker_has_exactly_its_running_seqs_charged_and_the_rest_free),
        cmocka_unit_test (lost_worker_is_charged_for_what_its_last_heartbeat_said_runs),
        cmocka_unit_test (worker_lost_before_any_heartbeat_has_everything_free),
        cmocka_unit_test (forged_heartbeat_listing_seqs_never_sent_to_that_owner_charges_nothing),
        cmocka_unit_test (plan_never_holds_more_than_its_room),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
