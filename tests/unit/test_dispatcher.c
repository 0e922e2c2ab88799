/*  Tests for dispatcher: queued leases go out over a real PUSH socket (inproc,
    to a PULL in the same thread), batched when the queue is deep and one by
    one when it is shallow, and a flush never blocks: what the socket does
    not take stays queued.

    Frames are decoded with tm_codec_decode_tasks, as a worker would. Every
    wait has a deadline (socket receive timeouts or zmq_poll), never a sleep.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "dispatcher.h"
#include "lease_table.h"
#include "tm_codec.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_WAIT_MS 2000          //  generous: a frame that is there arrives at once
#define S_QUIET_MS 50           //  how long "nothing more arrives" is watched
#define S_GRACE_US 250000

//  --- helpers -------------------------------------------------------------------

typedef struct {
    zsock_t *push;
    zsock_t *pull;
    lease_table_t *leases;
    dispatcher_t *dispatcher;
} s_rig_t;

//  A unique inproc endpoint per call, so tests never see each other's frames.
static void
s_endpoint (char *buffer, size_t size)
{
    static int counter = 0;
    snprintf (buffer, size, "inproc://test-dispatcher-%d", ++counter);
}

static void
s_rig_new (s_rig_t *rig, size_t capacity, const char *job_id)
{
    char endpoint [64];
    s_endpoint (endpoint, sizeof endpoint);
    char bind [80], connect [80];
    snprintf (bind, sizeof bind, "@%s", endpoint);
    snprintf (connect, sizeof connect, ">%s", endpoint);
    rig->push = zsock_new_push (bind);
    assert_non_null (rig->push);
    rig->pull = zsock_new_pull (connect);
    assert_non_null (rig->pull);
    zsock_set_rcvtimeo (rig->pull, S_WAIT_MS);
    rig->leases = lease_table_new (capacity);
    rig->dispatcher = dispatcher_new (rig->push, rig->leases, job_id, S_GRACE_US);
    assert_non_null (rig->dispatcher);
}

static void
s_rig_destroy (s_rig_t *rig)
{
    dispatcher_destroy (&rig->dispatcher);
    assert_null (rig->dispatcher);
    lease_table_destroy (&rig->leases);
    zsock_destroy (&rig->pull);
    zsock_destroy (&rig->push);
}

//  Receives one frame within S_WAIT_MS and decodes it; fails the test if
//  none comes or it does not decode.
static tm_task_batch_t *
s_recv_batch (zsock_t *pull)
{
    zframe_t *frame = zframe_recv (pull);
    if (!frame)
        fail_msg ("no task frame within %d ms", S_WAIT_MS);
    tm_task_batch_t *batch = NULL;
    tm_decode_status_t status = tm_codec_decode_tasks (zframe_data (frame), zframe_size (frame), &batch);
    zframe_destroy (&frame);
    assert_int_equal (status, TM_DECODE_OK);
    assert_non_null (batch);
    return batch;
}

//  True if a frame is waiting or arrives within S_QUIET_MS.
static bool
s_frame_arrives (zsock_t *pull)
{
    zpoller_t *poller = zpoller_new (pull, NULL);
    void *which = zpoller_wait (poller, S_QUIET_MS);
    zpoller_destroy (&poller);
    return which != NULL;
}

//  Waits up to timeout_ms for the socket to take a message.
static bool
s_writable (zsock_t *sock, int timeout_ms)
{
    zmq_pollitem_t item = { zsock_resolve (sock), 0, ZMQ_POLLOUT, 0 };
    int rc = zmq_poll (&item, 1, timeout_ms);
    return rc == 1 && (item.revents & ZMQ_POLLOUT);
}

static lease_t *
s_issue_and_enqueue (s_rig_t *rig, const char *id)
{
    lease_t *lease = lease_table_issue (rig->leases, id, "echo", (const uint8_t *) id,
                                        strlen (id), 1000, 3);
    assert_non_null (lease);
    dispatcher_enqueue (rig->dispatcher, lease);
    return lease;
}

//  --- content -----------------------------------------------------------------

static void
queued_task_is_sent_with_job_seq_id_type_payload_and_attempt (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig, 16, "job-42");
    const uint8_t payload [] = { 'h', 0, 0xff, 'i', 0 };
    lease_t *lease = lease_table_issue (rig.leases, "a1", "sha256", payload, sizeof payload, 5000, 3);
    assert_non_null (lease);
    dispatcher_enqueue (rig.dispatcher, lease);
    assert_int_equal (dispatcher_queued (rig.dispatcher), 1);

    assert_int_equal (dispatcher_flush (rig.dispatcher, 1000000, 1), 1);
    assert_int_equal (dispatcher_queued (rig.dispatcher), 0);
    assert_int_equal (dispatcher_sent (rig.dispatcher), 1);

    tm_task_batch_t *batch = s_recv_batch (rig.pull);
    assert_int_equal (tm_task_batch_size (batch), 1);
    tm_task_t task;
    tm_task_batch_get (batch, 0, &task);
    assert_string_equal (task.job_id, "job-42");
    assert_int_equal (task.seq, 1);
    assert_string_equal (task.id, "a1");
    assert_string_equal (task.type, "sha256");
    assert_int_equal (task.payload_size, sizeof payload);
    assert_memory_equal (task.payload, payload, sizeof payload);
    assert_int_equal (task.timeout_ms, 5000);
    assert_int_equal (task.attempt, 1);
    assert_int_equal (task.max_attempts, 3);
    tm_task_batch_destroy (&batch);
    assert_false (s_frame_arrives (rig.pull));
    s_rig_destroy (&rig);
}

static void
task_with_empty_payload_is_sent_with_empty_payload (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig, 4, "job");
    lease_t *lease = lease_table_issue (rig.leases, "empty", "noop", NULL, 0, 100, 1);
    assert_non_null (lease);
    dispatcher_enqueue (rig.dispatcher, lease);
    assert_int_equal (dispatcher_flush (rig.dispatcher, 0, 1), 1);
    tm_task_batch_t *batch = s_recv_batch (rig.pull);
    assert_int_equal (tm_task_batch_size (batch), 1);
    tm_task_t task;
    tm_task_batch_get (batch, 0, &task);
    assert_string_equal (task.id, "empty");
    assert_int_equal (task.payload_size, 0);
    tm_task_batch_destroy (&batch);
    s_rig_destroy (&rig);
}

static void
flushed_leases_are_sent_with_deadline_of_timeout_plus_grace (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig, 16, "job");
    lease_t *short_lease = lease_table_issue (rig.leases, "s", "echo", NULL, 0, 200, 1);
    lease_t *long_lease = lease_table_issue (rig.leases, "l", "echo", NULL, 0, 60000, 1);
    dispatcher_enqueue (rig.dispatcher, short_lease);
    dispatcher_enqueue (rig.dispatcher, long_lease);
    assert_int_equal (short_lease->state, LEASE_QUEUED);

    const int64_t now_us = 7000000;
    assert_int_equal (dispatcher_flush (rig.dispatcher, now_us, 1), 2);
    assert_int_equal (short_lease->state, LEASE_SENT);
    assert_int_equal (long_lease->state, LEASE_SENT);
    assert_int_equal (short_lease->deadline_us, now_us + 200 * 1000 + S_GRACE_US);
    assert_int_equal (long_lease->deadline_us, now_us + 60000ll * 1000 + S_GRACE_US);
    assert_int_equal (short_lease->first_sent_us, now_us);
    assert_int_equal (long_lease->first_sent_us, now_us);

    //  Drain what was sent.
    size_t received = 0;
    while (received < 2) {
        tm_task_batch_t *batch = s_recv_batch (rig.pull);
        received += tm_task_batch_size (batch);
        tm_task_batch_destroy (&batch);
    }
    assert_int_equal (received, 2);
    s_rig_destroy (&rig);
}

//  --- batching ----------------------------------------------------------------

//  Receives frames until total tasks arrived; checks seqs come 1..total in
//  order, each once. Returns the largest frame and writes the frame count.
static size_t
s_receive_in_order (zsock_t *pull, size_t total, size_t *frames_p)
{
    size_t received = 0;
    size_t frames = 0;
    size_t largest = 0;
    while (received < total) {
        tm_task_batch_t *batch = s_recv_batch (pull);
        size_t size = tm_task_batch_size (batch);
        assert_true (size >= 1);
        assert_true (size <= DISPATCHER_MAX_BATCH);
        for (size_t i = 0; i < size; i++) {
            tm_task_t task;
            tm_task_batch_get (batch, i, &task);
            assert_int_equal (task.seq, received + i + 1);
            assert_int_equal (task.attempt, 1);
        }
        received += size;
        frames++;
        if (size > largest)
            largest = size;
        tm_task_batch_destroy (&batch);
    }
    assert_int_equal (received, total);
    assert_false (s_frame_arrives (pull));
    *frames_p = frames;
    return largest;
}

static void
deep_queue_is_sent_in_batches_of_at_most_max_batch (void **state)
{
    (void) state;
    const size_t total = 2000;
    s_rig_t rig;
    s_rig_new (&rig, total, "job");
    char id [32];
    for (size_t i = 0; i < total; i++) {
        snprintf (id, sizeof id, "t%zu", i);
        s_issue_and_enqueue (&rig, id);
    }
    assert_int_equal (dispatcher_queued (rig.dispatcher), total);
    assert_int_equal (dispatcher_flush (rig.dispatcher, 0, 2), total);
    assert_int_equal (dispatcher_queued (rig.dispatcher), 0);
    assert_int_equal (dispatcher_sent (rig.dispatcher), total);

    size_t frames = 0;
    size_t largest = s_receive_in_order (rig.pull, total, &frames);
    assert_true (largest > 1);
    assert_true (largest <= DISPATCHER_MAX_BATCH);
    assert_true (frames < total);
    s_rig_destroy (&rig);
}

static void
very_deep_queue_fills_batches_up_to_the_cap (void **state)
{
    (void) state;
    const size_t total = 10000;
    s_rig_t rig;
    s_rig_new (&rig, total, "job");
    for (size_t i = 0; i < total; i++)
        s_issue_and_enqueue (&rig, "t");
    assert_int_equal (dispatcher_flush (rig.dispatcher, 0, 1), total);
    size_t frames = 0;
    size_t largest = s_receive_in_order (rig.pull, total, &frames);
    //  The cap is what binds: some frame is exactly full, none is over.
    assert_int_equal (largest, DISPATCHER_MAX_BATCH);
    s_rig_destroy (&rig);
}

static void
first_batch_leaves_a_share_for_every_worker (void **state)
{
    (void) state;
    const size_t total = 600;
    const size_t workers = 4;
    s_rig_t rig;
    s_rig_new (&rig, total, "job");
    for (size_t i = 0; i < total; i++)
        s_issue_and_enqueue (&rig, "t");
    assert_int_equal (dispatcher_flush (rig.dispatcher, 0, workers), total);
    tm_task_batch_t *batch = s_recv_batch (rig.pull);
    size_t first = tm_task_batch_size (batch);
    tm_task_batch_destroy (&batch);
    assert_true (first > 1);
    assert_true (first <= total / workers);
    size_t received = first;
    while (received < total) {
        batch = s_recv_batch (rig.pull);
        received += tm_task_batch_size (batch);
        tm_task_batch_destroy (&batch);
    }
    assert_int_equal (received, total);
    s_rig_destroy (&rig);
}

static void
single_queued_task_is_sent_alone_in_its_frame (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig, 64, "job");
    //  Several rounds of one task each, with a known and an unknown worker count.
    for (int round = 0; round < 4; round++) {
        s_issue_and_enqueue (&rig, "one");
        assert_int_equal (dispatcher_flush (rig.dispatcher, round, round % 2 ? 8 : 0), 1);
        tm_task_batch_t *batch = s_recv_batch (rig.pull);
        assert_int_equal (tm_task_batch_size (batch), 1);
        tm_task_t task;
        tm_task_batch_get (batch, 0, &task);
        assert_int_equal (task.seq, (uint64_t) round + 1);
        tm_task_batch_destroy (&batch);
    }
    assert_false (s_frame_arrives (rig.pull));
    s_rig_destroy (&rig);
}

static void
flush_of_empty_queue_sends_nothing (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig, 4, "job");
    assert_int_equal (dispatcher_flush (rig.dispatcher, 0, 1), 0);
    assert_int_equal (dispatcher_sent (rig.dispatcher), 0);
    assert_false (s_frame_arrives (rig.pull));
    s_rig_destroy (&rig);
}

//  --- finished while queued ---------------------------------------------------

static void
lease_finished_while_queued_is_not_sent (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig, 16, "job");
    for (int i = 0; i < 5; i++)
        s_issue_and_enqueue (&rig, "t");
    //  Finish the front, a middle and the back of the queue.
    lease_table_finish (rig.leases, 1);
    lease_table_finish (rig.leases, 3);
    lease_table_finish (rig.leases, 5);
    assert_int_equal (dispatcher_flush (rig.dispatcher, 0, 1), 2);
    assert_int_equal (dispatcher_queued (rig.dispatcher), 0);
    assert_int_equal (dispatcher_sent (rig.dispatcher), 2);

    uint64_t seqs [2];
    size_t received = 0;
    while (received < 2) {
        tm_task_batch_t *batch = s_recv_batch (rig.pull);
        for (size_t i = 0; i < tm_task_batch_size (batch); i++) {
            tm_task_t task;
            tm_task_batch_get (batch, i, &task);
            assert_true (received < 2);
            seqs [received++] = task.seq;
        }
        tm_task_batch_destroy (&batch);
    }
    assert_int_equal (seqs [0], 2);
    assert_int_equal (seqs [1], 4);
    assert_false (s_frame_arrives (rig.pull));
    s_rig_destroy (&rig);
}

static void
queue_of_only_finished_leases_sends_nothing_and_empties (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig, 8, "job");
    for (int i = 0; i < 3; i++)
        s_issue_and_enqueue (&rig, "t");
    for (uint64_t seq = 1; seq <= 3; seq++)
        lease_table_finish (rig.leases, seq);
    assert_int_equal (dispatcher_flush (rig.dispatcher, 0, 1), 0);
    assert_int_equal (dispatcher_queued (rig.dispatcher), 0);
    assert_false (s_frame_arrives (rig.pull));
    s_rig_destroy (&rig);
}

static void
queue_keeps_accepting_when_finished_leases_fill_the_ring (void **state)
{
    (void) state;
    //  Issue, queue and finish many more leases than the table holds, never
    //  flushing: the stale seqs must not overflow the queue.
    const size_t capacity = 8;
    s_rig_t rig;
    s_rig_new (&rig, capacity, "job");
    for (int i = 0; i < 100; i++) {
        lease_t *lease = s_issue_and_enqueue (&rig, "t");
        if (lease->seq % 3 != 0)
            lease_table_finish (rig.leases, lease->seq);
        if (lease_table_size (rig.leases) == capacity)
            break;
    }
    size_t live = lease_table_size (rig.leases);
    assert_true (dispatcher_queued (rig.dispatcher) >= live);
    assert_int_equal (dispatcher_flush (rig.dispatcher, 0, 1), live);
    assert_int_equal (dispatcher_queued (rig.dispatcher), 0);
    size_t received = 0;
    while (received < live) {
        tm_task_batch_t *batch = s_recv_batch (rig.pull);
        for (size_t i = 0; i < tm_task_batch_size (batch); i++) {
            tm_task_t task;
            tm_task_batch_get (batch, i, &task);
            assert_int_equal (task.seq % 3, 0);
        }
        received += tm_task_batch_size (batch);
        tm_task_batch_destroy (&batch);
    }
    assert_int_equal (received, live);
    s_rig_destroy (&rig);
}

//  --- back-pressure -----------------------------------------------------------

static void
flush_without_a_peer_returns_zero_at_once_and_keeps_tasks_queued (void **state)
{
    (void) state;
    char endpoint [64];
    s_endpoint (endpoint, sizeof endpoint);
    zsock_t *push = zsock_new (ZMQ_PUSH);
    assert_non_null (push);
    zsock_set_sndhwm (push, 1);
    assert_int_equal (zsock_bind (push, "%s", endpoint), 0);
    lease_table_t *leases = lease_table_new (16);
    dispatcher_t *dispatcher = dispatcher_new (push, leases, "job", S_GRACE_US);
    lease_t *lease [3];
    for (int i = 0; i < 3; i++) {
        lease [i] = lease_table_issue (leases, "t", "echo", NULL, 0, 1000, 1);
        dispatcher_enqueue (dispatcher, lease [i]);
    }

    int64_t started = zclock_mono ();
    assert_int_equal (dispatcher_flush (dispatcher, 0, 1), 0);
    assert_int_equal (dispatcher_flush (dispatcher, 0, 1), 0);
    assert_true (zclock_mono () - started < 1000);
    assert_int_equal (dispatcher_queued (dispatcher), 3);
    assert_int_equal (dispatcher_sent (dispatcher), 0);
    for (int i = 0; i < 3; i++)
        assert_int_equal (lease [i]->state, LEASE_QUEUED);

    //  Once a worker connects, the same tasks go out, each once.
    zsock_t *pull = zsock_new (ZMQ_PULL);
    assert_non_null (pull);
    zsock_set_rcvtimeo (pull, S_WAIT_MS);
    assert_int_equal (zsock_connect (pull, "%s", endpoint), 0);
    size_t sent = 0;
    int64_t deadline = zclock_mono () + S_WAIT_MS;
    while (dispatcher_queued (dispatcher) > 0 && zclock_mono () < deadline) {
        s_writable (push, S_QUIET_MS);
        sent += dispatcher_flush (dispatcher, 10, 1);
    }
    assert_int_equal (sent, 3);
    uint64_t next = 1;
    while (next <= 3) {
        tm_task_batch_t *batch = s_recv_batch (pull);
        for (size_t i = 0; i < tm_task_batch_size (batch); i++) {
            tm_task_t task;
            tm_task_batch_get (batch, i, &task);
            assert_int_equal (task.seq, next++);
        }
        tm_task_batch_destroy (&batch);
    }
    assert_false (s_frame_arrives (pull));
    for (int i = 0; i < 3; i++)
        assert_int_equal (lease [i]->state, LEASE_SENT);

    dispatcher_destroy (&dispatcher);
    lease_table_destroy (&leases);
    zsock_destroy (&pull);
    zsock_destroy (&push);
}

static void
flush_stops_at_high_water_mark_and_resumes_when_the_peer_reads (void **state)
{
    (void) state;
    const size_t total = 200;
    char endpoint [64];
    s_endpoint (endpoint, sizeof endpoint);
    zsock_t *push = zsock_new (ZMQ_PUSH);
    zsock_set_sndhwm (push, 1);
    assert_int_equal (zsock_bind (push, "%s", endpoint), 0);
    zsock_t *pull = zsock_new (ZMQ_PULL);
    zsock_set_rcvhwm (pull, 1);
    zsock_set_rcvtimeo (pull, S_WAIT_MS);
    assert_int_equal (zsock_connect (pull, "%s", endpoint), 0);
    lease_table_t *leases = lease_table_new (total);
    dispatcher_t *dispatcher = dispatcher_new (push, leases, "job", S_GRACE_US);
    for (size_t i = 0; i < total; i++) {
        lease_t *lease = lease_table_issue (leases, "t", "echo", NULL, 0, 1000, 1);
        dispatcher_enqueue (dispatcher, lease);
    }
    //  Many workers: small batches, so the high-water mark binds first.
    size_t sent = dispatcher_flush (dispatcher, 0, 50);
    assert_true (sent > 0);
    assert_true (sent < total);
    assert_int_equal (sent + dispatcher_queued (dispatcher), total);
    lease_t *lease;
    for (uint64_t seq = 1; seq <= total; seq++) {
        assert_int_equal (lease_table_lookup (leases, seq, &lease), LEASE_FOUND);
        assert_int_equal (lease->state, seq <= sent ? LEASE_SENT : LEASE_QUEUED);
    }

    //  Read and flush in turn, flushing when the socket reports room as the
    //  master's POLLOUT would, until everything has gone, each seq once in order.
    uint64_t next = 1;
    int64_t deadline = zclock_mono () + 5 * S_WAIT_MS;
    while (next <= total) {
        if (zclock_mono () > deadline)
            fail_msg ("only %" PRIu64 " of %zu tasks arrived", next - 1, total);
        zmq_pollitem_t items [] = {
            { zsock_resolve (pull), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (push), 0, ZMQ_POLLOUT, 0 },
        };
        int count = dispatcher_queued (dispatcher) > 0 ? 2 : 1;
        assert_true (zmq_poll (items, count, S_WAIT_MS) >= 0);
        if (count == 2 && (items [1].revents & ZMQ_POLLOUT))
            sent += dispatcher_flush (dispatcher, 0, 50);
        if (items [0].revents & ZMQ_POLLIN) {
            tm_task_batch_t *batch = s_recv_batch (pull);
            for (size_t i = 0; i < tm_task_batch_size (batch); i++) {
                tm_task_t task;
                tm_task_batch_get (batch, i, &task);
                assert_int_equal (task.seq, next++);
            }
            tm_task_batch_destroy (&batch);
        }
    }
    assert_int_equal (sent, total);
    assert_int_equal (dispatcher_queued (dispatcher), 0);
    assert_int_equal (dispatcher_sent (dispatcher), total);
    assert_false (s_frame_arrives (pull));

    dispatcher_destroy (&dispatcher);
    lease_table_destroy (&leases);
    zsock_destroy (&pull);
    zsock_destroy (&push);
}

//  --- resends -----------------------------------------------------------------

static void
requeued_lease_is_sent_again_with_its_new_attempt (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig, 8, "job-r");
    lease_t *lease = lease_table_issue (rig.leases, "retry-me", "echo",
                                        (const uint8_t *) "body", 4, 300, 3);
    dispatcher_enqueue (rig.dispatcher, lease);
    assert_int_equal (dispatcher_flush (rig.dispatcher, 1000, 1), 1);
    tm_task_batch_t *batch = s_recv_batch (rig.pull);
    tm_task_t task;
    tm_task_batch_get (batch, 0, &task);
    assert_int_equal (task.attempt, 1);
    tm_task_batch_destroy (&batch);
    assert_int_equal (lease->first_sent_us, 1000);

    //  The master decides on a retry: next attempt, queued again.
    lease->attempt++;
    dispatcher_enqueue (rig.dispatcher, lease);
    assert_int_equal (lease->state, LEASE_QUEUED);
    assert_int_equal (dispatcher_queued (rig.dispatcher), 1);
    const int64_t later_us = 9000000;
    assert_int_equal (dispatcher_flush (rig.dispatcher, later_us, 1), 1);
    batch = s_recv_batch (rig.pull);
    assert_int_equal (tm_task_batch_size (batch), 1);
    tm_task_batch_get (batch, 0, &task);
    assert_string_equal (task.job_id, "job-r");
    assert_int_equal (task.seq, lease->seq);
    assert_string_equal (task.id, "retry-me");
    assert_string_equal (task.type, "echo");
    assert_int_equal (task.payload_size, 4);
    assert_memory_equal (task.payload, "body", 4);
    assert_int_equal (task.attempt, 2);
    assert_int_equal (task.max_attempts, 3);
    tm_task_batch_destroy (&batch);

    assert_int_equal (lease->state, LEASE_SENT);
    assert_int_equal (lease->deadline_us, later_us + 300 * 1000 + S_GRACE_US);
    //  Latency counts from the first attempt.
    assert_int_equal (lease->first_sent_us, 1000);
    assert_int_equal (dispatcher_sent (rig.dispatcher), 2);
    assert_false (s_frame_arrives (rig.pull));
    s_rig_destroy (&rig);
}

int
main (void)
{
    zsys_init ();
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (queued_task_is_sent_with_job_seq_id_type_payload_and_attempt),
        cmocka_unit_test (task_with_empty_payload_is_sent_with_empty_payload),
        cmocka_unit_test (flushed_leases_are_sent_with_deadline_of_timeout_plus_grace),
        cmocka_unit_test (deep_queue_is_sent_in_batches_of_at_most_max_batch),
        cmocka_unit_test (very_deep_queue_fills_batches_up_to_the_cap),
        cmocka_unit_test (first_batch_leaves_a_share_for_every_worker),
        cmocka_unit_test (single_queued_task_is_sent_alone_in_its_frame),
        cmocka_unit_test (flush_of_empty_queue_sends_nothing),
        cmocka_unit_test (lease_finished_while_queued_is_not_sent),
        cmocka_unit_test (queue_of_only_finished_leases_sends_nothing_and_empties),
        cmocka_unit_test (queue_keeps_accepting_when_finished_leases_fill_the_ring),
        cmocka_unit_test (flush_without_a_peer_returns_zero_at_once_and_keeps_tasks_queued),
        cmocka_unit_test (flush_stops_at_high_water_mark_and_resumes_when_the_peer_reads),
        cmocka_unit_test (requeued_lease_is_sent_again_with_its_new_attempt),
    };
    int failed = cmocka_run_group_tests (tests, NULL, NULL);
    zsys_shutdown ();
    return failed;
}
