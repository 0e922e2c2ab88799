/*  Tests for dispatcher: queued leases go out over a real tasks ROUTER
    (tm_socket_tasks_router on tcp://127.0.0.1:*) to real worker DEALERs
    (tm_socket_tasks_dealer), each worker addressed by its routing id and
    sent no more than its credit window leaves room for. Each DEALER sends
    a real Credit first, which the ROUTER reads before anything is flushed,
    so the ROUTER knows the peer; the Credit goes into the worker table as
    the master would put it there.

    What a DEALER receives is decoded with tm_codec_decode_tasks, as a
    worker would. Every wait is a zpoller_wait with a deadline, never a
    sleep; "nothing more arrives" is watched for S_QUIET_MS.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "dispatcher.h"
#include "lease_table.h"
#include "tm_codec.h"
#include "tm_socket.h"
#include "worker_table.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_WAIT_MS 5000          //  generous: a frame that is there arrives at once
#define S_QUIET_MS 50           //  how long "nothing more arrives" is watched
#define S_GRACE_US 250000
#define S_PEERS 4
#define S_JOB "job-42"

//  --- helpers -------------------------------------------------------------------

typedef struct {
    char incarnation [TM_MAX_INCARNATION_BYTES + 1];
    zsock_t *dealer;            //  NULL: a routing id with no connection
    worker_info_t *worker;      //  its entry in the worker table
} s_peer_t;

typedef struct {
    zsock_t *router;
    char endpoint [64];         //  where the DEALERs connect
    lease_table_t *leases;
    worker_table_t *workers;
    dispatcher_t *dispatcher;
    s_peer_t peers [S_PEERS];
    size_t peer_count;
} s_rig_t;

static void
s_rig_new (s_rig_t *rig, size_t capacity)
{
    memset (rig, 0, sizeof *rig);
    rig->router = tm_socket_tasks_router ("tcp://127.0.0.1:*", NULL, NULL);
    assert_non_null (rig->router);
    int port = tm_socket_bound_port (rig->router);
    assert_true (port > 0);
    snprintf (rig->endpoint, sizeof rig->endpoint, "tcp://127.0.0.1:%d", port);
    rig->leases = lease_table_new (capacity);
    rig->workers = worker_table_new ();
    rig->dispatcher = dispatcher_new (rig->router, rig->leases, rig->workers, S_JOB, S_GRACE_US);
    assert_non_null (rig->dispatcher);
}

static void
s_rig_destroy (s_rig_t *rig)
{
    dispatcher_destroy (&rig->dispatcher);
    assert_null (rig->dispatcher);
    for (size_t i = 0; i < rig->peer_count; i++)
        zsock_destroy (&rig->peers [i].dealer);
    worker_table_destroy (&rig->workers);
    lease_table_destroy (&rig->leases);
    zsock_destroy (&rig->router);
}

//  Records a Credit from incarnation in the worker table, as the master
//  does when the ROUTER reads one. Returns its entry.
static worker_info_t *
s_grant (s_rig_t *rig, const char *incarnation, uint32_t window, uint64_t stamp)
{
    tm_credit_t credit = {
        .worker_id = incarnation, .credit = window, .threads = 1, .epoch = 1, .stamp = stamp
    };
    worker_info_t *worker = NULL, *replaced = NULL;
    worker_table_credit (rig->workers, incarnation, &credit, -1, 0, &worker, &replaced);
    assert_non_null (worker);
    assert_null (replaced);
    return worker;
}

//  Waits up to timeout_ms for sock to have a message to read.
static bool
s_readable (zsock_t *sock, int timeout_ms)
{
    zpoller_t *poller = zpoller_new (sock, NULL);
    assert_non_null (poller);
    void *which = zpoller_wait (poller, timeout_ms);
    zpoller_destroy (&poller);
    return which == sock;
}

//  A worker joins: a DEALER named incarnation connects and sends a Credit
//  of window stamped stamp; once the ROUTER has read it (so it can route
//  to the peer), the Credit goes into the worker table. Returns the peer.
static s_peer_t *
s_join (s_rig_t *rig, const char *incarnation, uint32_t window, uint64_t stamp)
{
    assert_true (rig->peer_count < S_PEERS);
    s_peer_t *peer = &rig->peers [rig->peer_count++];
    snprintf (peer->incarnation, sizeof peer->incarnation, "%s", incarnation);
    peer->dealer = tm_socket_tasks_dealer (rig->endpoint, incarnation, TM_MAX_FRAME_BYTES, NULL);
    assert_non_null (peer->dealer);
    //  ZMQ_IMMEDIATE: the send waits for the connection, at most this long.
    zsock_set_sndtimeo (peer->dealer, S_WAIT_MS);
    tm_credit_t credit = {
        .worker_id = incarnation, .credit = window, .threads = 1, .epoch = 1, .stamp = stamp
    };
    zframe_t *frame = tm_codec_encode_credit (&credit);
    assert_int_equal (tm_codec_send (peer->dealer, &frame, 0), 0);

    if (!s_readable (rig->router, S_WAIT_MS))
        fail_msg ("no credit from %s within %d ms", incarnation, S_WAIT_MS);
    zmsg_t *msg = zmsg_recv (rig->router);
    assert_non_null (msg);
    assert_int_equal (zmsg_size (msg), 2);
    char *routing_id = zframe_strdup (zmsg_first (msg));
    assert_string_equal (routing_id, incarnation);
    zstr_free (&routing_id);
    zframe_t *body = zmsg_next (msg);
    tm_credit_t decoded;
    char worker_id [TM_MAX_WORKER_ID_BYTES + 1];
    assert_int_equal (tm_codec_decode_credit (zframe_data (body), zframe_size (body), &decoded,
                                              worker_id, sizeof worker_id), TM_DECODE_OK);
    zmsg_destroy (&msg);
    worker_info_t *replaced = NULL;
    assert_int_equal (worker_table_credit (rig->workers, incarnation, &decoded, -1, 0,
                                           &peer->worker, &replaced), WORKER_CREDIT_NEW);
    assert_null (replaced);
    assert_true (peer->worker->reachable);
    return peer;
}

//  Receives one frame within S_WAIT_MS and decodes it; fails the test if
//  none comes or it does not decode.
static tm_task_batch_t *
s_recv_batch (s_peer_t *peer)
{
    if (!s_readable (peer->dealer, S_WAIT_MS))
        fail_msg ("no task frame for %s within %d ms", peer->incarnation, S_WAIT_MS);
    zframe_t *frame = zframe_recv (peer->dealer);
    assert_non_null (frame);
    assert_false (zframe_more (frame));
    tm_task_batch_t *batch = NULL;
    tm_decode_status_t status = tm_codec_decode_tasks (zframe_data (frame), zframe_size (frame),
                                                       &batch);
    zframe_destroy (&frame);
    assert_int_equal (status, TM_DECODE_OK);
    assert_string_equal (tm_task_batch_job_id (batch), S_JOB);
    return batch;
}

//  True if a frame is waiting for peer or arrives within S_QUIET_MS.
static bool
s_frame_arrives (s_peer_t *peer)
{
    return s_readable (peer->dealer, S_QUIET_MS);
}

//  Receives frames until total tasks have arrived at peer, checking each
//  frame's size, number (from first_number on) and stamp; then that no
//  more arrive. Writes each task's seq into seqs (room for total).
//  Returns the number of frames.
static size_t
s_recv_tasks (s_peer_t *peer, size_t total, uint64_t first_number, uint64_t stamp,
              uint64_t *seqs)
{
    size_t received = 0, frames = 0;
    while (received < total) {
        tm_task_batch_t *batch = s_recv_batch (peer);
        size_t size = tm_task_batch_size (batch);
        assert_true (size >= 1);
        assert_true (size <= TM_MAX_BATCH_TASKS);
        assert_true (received + size <= total);
        assert_int_equal (tm_task_batch_number (batch), first_number + frames);
        assert_true (tm_task_batch_credit_stamp (batch) == stamp);
        for (size_t i = 0; i < size; i++) {
            tm_task_t task;
            tm_task_batch_get (batch, i, &task);
            assert_string_equal (task.job_id, S_JOB);
            seqs [received++] = task.seq;
        }
        frames++;
        tm_task_batch_destroy (&batch);
    }
    assert_false (s_frame_arrives (peer));
    return frames;
}

static lease_t *
s_issue_and_enqueue (s_rig_t *rig, const char *id)
{
    lease_t *lease = lease_table_issue (rig->leases, id, "echo", (const uint8_t *) id,
                                        strlen (id), 1000, 3, 0);
    assert_non_null (lease);
    dispatcher_enqueue (rig->dispatcher, lease);
    return lease;
}

static void
s_enqueue_many (s_rig_t *rig, size_t count)
{
    char id [32];
    for (size_t i = 0; i < count; i++) {
        snprintf (id, sizeof id, "t%zu", i);
        s_issue_and_enqueue (rig, id);
    }
}

//  --- content -----------------------------------------------------------------

static void
queued_task_goes_to_its_worker_with_every_field_and_its_stamp (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig, 16);
    s_peer_t *peer = s_join (&rig, "worker-aaaa", 4, 1234567);
    const uint8_t payload [] = { 'h', 0, 0xff, 'i', 0 };
    lease_t *lease = lease_table_issue (rig.leases, "a1", "sha256", payload, sizeof payload,
                                        5000, 3, 0);
    assert_non_null (lease);
    dispatcher_enqueue (rig.dispatcher, lease);
    assert_int_equal (dispatcher_queued (rig.dispatcher), 1);

    assert_int_equal (dispatcher_flush (rig.dispatcher, 1000000), 1);
    assert_int_equal (dispatcher_queued (rig.dispatcher), 0);
    assert_int_equal (dispatcher_sent (rig.dispatcher), 1);

    tm_task_batch_t *batch = s_recv_batch (peer);
    assert_int_equal (tm_task_batch_size (batch), 1);
    assert_int_equal (tm_task_batch_number (batch), 1);
    assert_int_equal (tm_task_batch_credit_stamp (batch), 1234567);
    tm_task_t task;
    tm_task_batch_get (batch, 0, &task);
    assert_string_equal (task.job_id, S_JOB);
    assert_int_equal (task.seq, 1);
    assert_string_equal (task.id, "a1");
    assert_string_equal (task.type, "sha256");
    assert_int_equal (task.payload_size, sizeof payload);
    assert_memory_equal (task.payload, payload, sizeof payload);
    assert_int_equal (task.timeout_ms, 5000);
    assert_int_equal (task.attempt, 1);
    assert_int_equal (task.max_attempts, 3);
    tm_task_batch_destroy (&batch);
    assert_false (s_frame_arrives (peer));
    s_rig_destroy (&rig);
}

static void
task_with_empty_payload_is_sent_with_empty_payload (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig, 4);
    s_peer_t *peer = s_join (&rig, "worker-aaaa", 4, 0);
    lease_t *lease = lease_table_issue (rig.leases, "empty", "noop", NULL, 0, 100, 1, 0);
    assert_non_null (lease);
    dispatcher_enqueue (rig.dispatcher, lease);
    assert_int_equal (dispatcher_flush (rig.dispatcher, 0), 1);
    tm_task_batch_t *batch = s_recv_batch (peer);
    assert_int_equal (tm_task_batch_size (batch), 1);
    tm_task_t task;
    tm_task_batch_get (batch, 0, &task);
    assert_string_equal (task.id, "empty");
    assert_int_equal (task.payload_size, 0);
    tm_task_batch_destroy (&batch);
    s_rig_destroy (&rig);
}

static void
sent_lease_is_filed_under_its_worker_and_ends_after_timeout_plus_grace (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig, 16);
    s_peer_t *peer = s_join (&rig, "worker-aaaa", 8, 0);
    lease_t *short_lease = lease_table_issue (rig.leases, "s", "echo", NULL, 0, 200, 1, 0);
    lease_t *long_lease = lease_table_issue (rig.leases, "l", "echo", NULL, 0, 60000, 1, 0);
    dispatcher_enqueue (rig.dispatcher, short_lease);
    dispatcher_enqueue (rig.dispatcher, long_lease);
    assert_int_equal (short_lease->state, LEASE_QUEUED);

    const int64_t now_us = 7000000;
    assert_int_equal (dispatcher_flush (rig.dispatcher, now_us), 2);
    assert_int_equal (short_lease->state, LEASE_SENT);
    assert_int_equal (long_lease->state, LEASE_SENT);
    assert_int_equal (short_lease->deadline_us, now_us + 200 * 1000 + S_GRACE_US);
    assert_int_equal (long_lease->deadline_us, now_us + 60000LL * 1000 + S_GRACE_US);
    assert_int_equal (short_lease->first_sent_us, now_us);
    assert_int_equal (short_lease->owner, peer->worker->slot);
    assert_int_equal (long_lease->owner, peer->worker->slot);
    assert_int_equal (short_lease->frame, 1);
    assert_int_equal (lease_table_owned_count (rig.leases, peer->worker->slot), 2);
    assert_int_equal (peer->worker->frames, 1);

    uint64_t seqs [2];
    assert_int_equal (s_recv_tasks (peer, 2, 1, 0, seqs), 1);
    s_rig_destroy (&rig);
}

//  --- credit windows ------------------------------------------------------------

static void
worker_gets_no_more_than_its_credit_window (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig, 64);
    s_peer_t *peer = s_join (&rig, "worker-aaaa", 5, 0);
    s_enqueue_many (&rig, 20);
    assert_int_equal (dispatcher_room (rig.dispatcher, peer->worker), 5);
    assert_int_equal (dispatcher_flush (rig.dispatcher, 0), 5);
    assert_int_equal (dispatcher_queued (rig.dispatcher), 15);
    assert_int_equal (dispatcher_room (rig.dispatcher, peer->worker), 0);
    assert_int_equal (lease_table_owned_count (rig.leases, peer->worker->slot), 5);
    //  Its window is full: further flushes send nothing.
    assert_int_equal (dispatcher_flush (rig.dispatcher, 1), 0);
    assert_int_equal (dispatcher_flush (rig.dispatcher, 2), 0);
    uint64_t seqs [5];
    s_recv_tasks (peer, 5, 1, 0, seqs);
    for (uint64_t i = 0; i < 5; i++)
        assert_int_equal (seqs [i], i + 1);
    //  A larger window (a new Credit) opens room for the difference only.
    s_grant (&rig, peer->incarnation, 8, 0);
    assert_int_equal (dispatcher_room (rig.dispatcher, peer->worker), 3);
    assert_int_equal (dispatcher_flush (rig.dispatcher, 3), 3);
    s_recv_tasks (peer, 3, 2, 0, seqs);
    assert_int_equal (dispatcher_queued (rig.dispatcher), 12);
    //  A window shrunk below what it holds leaves no room, not a huge one.
    s_grant (&rig, peer->incarnation, 2, 0);
    assert_int_equal (dispatcher_room (rig.dispatcher, peer->worker), 0);
    assert_int_equal (dispatcher_flush (rig.dispatcher, 4), 0);
    assert_false (s_frame_arrives (peer));
    s_rig_destroy (&rig);
}

static void
flush_fills_the_windows_of_several_workers_and_respects_each (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig, 128);
    const uint32_t windows [3] = { 3, 7, 11 };
    s_peer_t *peers [3];
    peers [0] = s_join (&rig, "worker-aaaa", windows [0], 0);
    peers [1] = s_join (&rig, "worker-bbbb", windows [1], 0);
    peers [2] = s_join (&rig, "worker-cccc", windows [2], 0);
    s_enqueue_many (&rig, 100);
    assert_int_equal (dispatcher_flush (rig.dispatcher, 0), 21);
    assert_int_equal (dispatcher_queued (rig.dispatcher), 79);
    bool seen [22] = { false };
    for (int p = 0; p < 3; p++) {
        assert_int_equal (lease_table_owned_count (rig.leases, peers [p]->worker->slot),
                          windows [p]);
        uint64_t seqs [11];
        s_recv_tasks (peers [p], windows [p], 1, 0, seqs);
        //  Each seq went to one worker only, and to the one it is filed under.
        for (uint32_t i = 0; i < windows [p]; i++) {
            assert_true (seqs [i] >= 1 && seqs [i] <= 21);
            assert_false (seen [seqs [i]]);
            seen [seqs [i]] = true;
            lease_t *lease = NULL;
            assert_int_equal (lease_table_lookup (rig.leases, seqs [i], &lease), LEASE_FOUND);
            assert_int_equal (lease->owner, peers [p]->worker->slot);
        }
    }
    assert_int_equal (dispatcher_flush (rig.dispatcher, 1), 0);
    s_rig_destroy (&rig);
}

static void
finishing_leases_lets_the_next_flush_send_as_many_more (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig, 64);
    s_peer_t *peer = s_join (&rig, "worker-aaaa", 6, 0);
    s_enqueue_many (&rig, 20);
    assert_int_equal (dispatcher_flush (rig.dispatcher, 0), 6);
    uint64_t seqs [6];
    s_recv_tasks (peer, 6, 1, 0, seqs);
    //  Results for four of them.
    for (int i = 0; i < 4; i++)
        lease_table_finish (rig.leases, seqs [i]);
    assert_int_equal (dispatcher_room (rig.dispatcher, peer->worker), 4);
    assert_int_equal (dispatcher_flush (rig.dispatcher, 10), 4);
    s_recv_tasks (peer, 4, 2, 0, seqs);
    for (int i = 0; i < 4; i++)
        assert_int_equal (seqs [i], 7 + i);
    assert_int_equal (dispatcher_flush (rig.dispatcher, 20), 0);
    assert_int_equal (dispatcher_sent (rig.dispatcher), 10);
    s_rig_destroy (&rig);
}

static void
worker_with_credit_zero_draining_or_lost_gets_nothing (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig, 32);
    s_peer_t *zero = s_join (&rig, "worker-zero", 0, 0);
    s_peer_t *draining = s_join (&rig, "worker-drain", 10, 0);
    s_peer_t *lost = s_join (&rig, "worker-lost", 10, 0);
    tm_credit_t drain = {
        .worker_id = "worker-drain", .credit = 10, .threads = 1, .epoch = 1, .draining = true
    };
    worker_info_t *worker = NULL, *replaced = NULL;
    worker_table_credit (rig.workers, "worker-drain", &drain, -1, 0, &worker, &replaced);
    assert_int_equal (draining->worker->state, WORKER_DRAINING);
    worker_table_lose (rig.workers, lost->worker, 0);
    s_enqueue_many (&rig, 10);
    for (int round = 0; round < 3; round++)
        assert_int_equal (dispatcher_flush (rig.dispatcher, round), 0);
    assert_int_equal (dispatcher_room (rig.dispatcher, zero->worker), 0);
    assert_int_equal (dispatcher_room (rig.dispatcher, draining->worker), 0);
    assert_int_equal (dispatcher_room (rig.dispatcher, lost->worker), 0);
    assert_int_equal (dispatcher_queued (rig.dispatcher), 10);
    assert_false (s_frame_arrives (zero));
    assert_false (s_frame_arrives (draining));
    assert_false (s_frame_arrives (lost));
    //  A worker with room takes them.
    s_peer_t *live = s_join (&rig, "worker-live", 10, 0);
    assert_int_equal (dispatcher_flush (rig.dispatcher, 5), 10);
    uint64_t seqs [10];
    s_recv_tasks (live, 10, 1, 0, seqs);
    assert_false (s_frame_arrives (zero));
    s_rig_destroy (&rig);
}

//  --- unreachable workers ----------------------------------------------------------

static void
unconnected_worker_is_marked_unreachable_and_its_tasks_stay_queued (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig, 16);
    worker_info_t *ghost = s_grant (&rig, "ghost-00001", 10, 0);
    assert_true (ghost->reachable);
    lease_t *lease [5];
    for (int i = 0; i < 5; i++)
        lease [i] = s_issue_and_enqueue (&rig, "t");
    int64_t started = zclock_mono ();
    assert_int_equal (dispatcher_flush (rig.dispatcher, 0), 0);
    assert_true (zclock_mono () - started < 1000);      //  never blocks
    assert_false (ghost->reachable);
    assert_int_equal (ghost->frames, 0);
    assert_int_equal (dispatcher_queued (rig.dispatcher), 5);
    assert_int_equal (dispatcher_sent (rig.dispatcher), 0);
    assert_int_equal (lease_table_owned_count (rig.leases, ghost->slot), 0);
    for (int i = 0; i < 5; i++) {
        assert_int_equal (lease [i]->state, LEASE_QUEUED);
        assert_int_equal (lease [i]->owner, 0);
    }
    //  Unreachable: no room until it grants credit again.
    assert_int_equal (dispatcher_room (rig.dispatcher, ghost), 0);
    s_grant (&rig, "ghost-00001", 10, 0);
    assert_true (ghost->reachable);
    assert_int_equal (dispatcher_flush (rig.dispatcher, 1), 0);
    assert_false (ghost->reachable);
    //  The same tasks go to a worker that is there, each once, in order.
    s_peer_t *peer = s_join (&rig, "worker-aaaa", 10, 0);
    assert_int_equal (dispatcher_flush (rig.dispatcher, 2), 5);
    uint64_t seqs [5];
    s_recv_tasks (peer, 5, 1, 0, seqs);
    for (uint64_t i = 0; i < 5; i++)
        assert_int_equal (seqs [i], i + 1);
    s_rig_destroy (&rig);
}

static void
marker_to_a_routing_id_with_no_connection_fails_and_marks_it_unreachable (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig, 4);
    worker_info_t *ghost = s_grant (&rig, "ghost-00001", 10, 0);
    assert_int_equal (dispatcher_send_marker (rig.dispatcher, ghost), -1);
    assert_false (ghost->reachable);
    assert_int_equal (ghost->frames, 0);
    s_rig_destroy (&rig);
}

//  --- batches -------------------------------------------------------------------

static void
batches_hold_at_most_max_batch_tasks (void **state)
{
    (void) state;
    const size_t total = 2 * TM_MAX_BATCH_TASKS + 188;
    s_rig_t rig;
    s_rig_new (&rig, total);
    s_peer_t *peer = s_join (&rig, "worker-aaaa", 100000, 0);
    s_enqueue_many (&rig, total);
    assert_int_equal (dispatcher_flush (rig.dispatcher, 0), total);
    assert_int_equal (dispatcher_queued (rig.dispatcher), 0);
    size_t sizes [3];
    uint64_t next = 1;
    for (size_t frame = 0; frame < 3; frame++) {
        tm_task_batch_t *batch = s_recv_batch (peer);
        sizes [frame] = tm_task_batch_size (batch);
        assert_int_equal (tm_task_batch_number (batch), frame + 1);
        for (size_t i = 0; i < sizes [frame]; i++) {
            tm_task_t task;
            tm_task_batch_get (batch, i, &task);
            assert_int_equal (task.seq, next++);
        }
        tm_task_batch_destroy (&batch);
    }
    //  As large as the room allows, and the cap is what binds.
    assert_int_equal (sizes [0], TM_MAX_BATCH_TASKS);
    assert_int_equal (sizes [1], TM_MAX_BATCH_TASKS);
    assert_int_equal (sizes [2], 188);
    assert_false (s_frame_arrives (peer));
    s_rig_destroy (&rig);
}

static void
single_queued_task_is_sent_alone_in_its_frame (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig, 64);
    s_peer_t *peer = s_join (&rig, "worker-aaaa", 100, 0);
    for (int round = 0; round < 4; round++) {
        s_issue_and_enqueue (&rig, "one");
        assert_int_equal (dispatcher_flush (rig.dispatcher, round), 1);
        tm_task_batch_t *batch = s_recv_batch (peer);
        assert_int_equal (tm_task_batch_size (batch), 1);
        assert_int_equal (tm_task_batch_number (batch), (uint64_t) round + 1);
        tm_task_t task;
        tm_task_batch_get (batch, 0, &task);
        assert_int_equal (task.seq, (uint64_t) round + 1);
        tm_task_batch_destroy (&batch);
    }
    assert_false (s_frame_arrives (peer));
    s_rig_destroy (&rig);
}

//  Issues and queues a task of size payload bytes, each byte its seq's low byte.
static void
s_enqueue_payload (s_rig_t *rig, uint8_t *buffer, size_t size)
{
    uint64_t seq = lease_table_last_seq (rig->leases) + 1;
    memset (buffer, (int) (seq & 0xff), size);
    lease_t *lease = lease_table_issue (rig->leases, "big", "sha256", buffer, size, 0, 1, 0);
    assert_non_null (lease);
    dispatcher_enqueue (rig->dispatcher, lease);
}

static void
big_payloads_are_batched_under_max_batch_bytes_unless_alone (void **state)
{
    (void) state;
    const size_t quarter = TM_MAX_BATCH_BYTES / 4;
    const size_t over = TM_MAX_BATCH_BYTES + 1;
    uint8_t *buffer = (uint8_t *) malloc (over);
    assert_non_null (buffer);
    s_rig_t rig;
    s_rig_new (&rig, 16);
    s_peer_t *peer = s_join (&rig, "worker-aaaa", 100, 0);
    s_enqueue_payload (&rig, buffer, over);         //  1: alone, over the bound
    for (int i = 0; i < 5; i++)
        s_enqueue_payload (&rig, buffer, quarter);  //  2-6: four fill a frame exactly
    s_enqueue_payload (&rig, buffer, 10);           //  7
    free (buffer);
    assert_int_equal (dispatcher_flush (rig.dispatcher, 0), 7);
    const size_t expected [] = { 1, 4, 2 };
    uint64_t next = 1;
    for (size_t frame = 0; frame < 3; frame++) {
        tm_task_batch_t *batch = s_recv_batch (peer);
        assert_int_equal (tm_task_batch_size (batch), expected [frame]);
        size_t bytes = 0;
        for (size_t i = 0; i < tm_task_batch_size (batch); i++) {
            tm_task_t task;
            tm_task_batch_get (batch, i, &task);
            assert_int_equal (task.seq, next);
            assert_int_equal (task.payload [0], next & 0xff);
            assert_int_equal (task.payload [task.payload_size - 1], next & 0xff);
            next++;
            bytes += task.payload_size;
        }
        assert_true (tm_task_batch_size (batch) == 1 || bytes <= TM_MAX_BATCH_BYTES);
        tm_task_batch_destroy (&batch);
    }
    assert_false (s_frame_arrives (peer));
    s_rig_destroy (&rig);
}

//  --- numbering, stamps and markers ------------------------------------------------

static void
frame_numbers_count_one_two_three_for_each_worker (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig, 64);
    s_peer_t *a = s_join (&rig, "worker-aaaa", 2, 0);
    s_peer_t *b = s_join (&rig, "worker-bbbb", 2, 0);
    for (uint64_t round = 1; round <= 3; round++) {
        s_enqueue_many (&rig, 4);
        assert_int_equal (dispatcher_flush (rig.dispatcher, (int64_t) round), 4);
        s_peer_t *peers [2] = { a, b };
        for (int p = 0; p < 2; p++) {
            uint64_t seqs [2];
            assert_int_equal (s_recv_tasks (peers [p], 2, round, 0, seqs), 1);
            assert_int_equal (peers [p]->worker->frames, round);
            for (int i = 0; i < 2; i++) {
                lease_t *lease = NULL;
                assert_int_equal (lease_table_lookup (rig.leases, seqs [i], &lease), LEASE_FOUND);
                assert_int_equal (lease->frame, round);
                lease_table_finish (rig.leases, seqs [i]);
            }
        }
    }
    s_rig_destroy (&rig);
}

static void
batch_echoes_the_stamp_of_the_workers_latest_credit (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig, 16);
    s_peer_t *peer = s_join (&rig, "worker-aaaa", 1, 111);
    assert_int_equal (peer->worker->stamp, 111);
    s_issue_and_enqueue (&rig, "t");
    assert_int_equal (dispatcher_flush (rig.dispatcher, 0), 1);
    uint64_t seqs [1];
    s_recv_tasks (peer, 1, 1, 111, seqs);
    lease_table_finish (rig.leases, seqs [0]);
    s_grant (&rig, peer->incarnation, 1, UINT64_MAX - 7);
    s_issue_and_enqueue (&rig, "t");
    assert_int_equal (dispatcher_flush (rig.dispatcher, 1), 1);
    s_recv_tasks (peer, 1, 2, UINT64_MAX - 7, seqs);
    s_rig_destroy (&rig);
}

static void
marker_is_an_empty_numbered_batch_of_the_job (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig, 16);
    s_peer_t *peer = s_join (&rig, "worker-aaaa", 1, 5);
    s_issue_and_enqueue (&rig, "t");
    assert_int_equal (dispatcher_flush (rig.dispatcher, 0), 1);
    uint64_t seqs [1];
    s_recv_tasks (peer, 1, 1, 5, seqs);
    lease_table_finish (rig.leases, seqs [0]);

    assert_int_equal (dispatcher_send_marker (rig.dispatcher, peer->worker), 0);
    assert_int_equal (peer->worker->frames, 2);
    tm_task_batch_t *batch = s_recv_batch (peer);
    assert_int_equal (tm_task_batch_size (batch), 0);
    assert_int_equal (tm_task_batch_number (batch), 2);
    assert_int_equal (tm_task_batch_credit_stamp (batch), 5);
    assert_string_equal (tm_task_batch_job_id (batch), S_JOB);
    tm_task_batch_destroy (&batch);
    //  It counts as a task of no one: the window is untouched, and the
    //  next frame of tasks follows it in number.
    assert_int_equal (dispatcher_sent (rig.dispatcher), 1);
    assert_int_equal (dispatcher_room (rig.dispatcher, peer->worker), 1);
    s_issue_and_enqueue (&rig, "t");
    assert_int_equal (dispatcher_flush (rig.dispatcher, 1), 1);
    s_recv_tasks (peer, 1, 3, 5, seqs);
    s_rig_destroy (&rig);
}

//  --- turns -----------------------------------------------------------------------

static void
short_queue_is_shared_in_turn_between_idle_workers (void **state)
{
    (void) state;
    //  One task at a time, each answered before the next: every flush has
    //  two idle workers with room, and they should take turns being first.
    const int rounds = 32;
    s_rig_t rig;
    s_rig_new (&rig, 8);
    s_peer_t *peers [2];
    peers [0] = s_join (&rig, "worker-aaaa", 4, 0);
    peers [1] = s_join (&rig, "worker-bbbb", 4, 0);
    int served [2] = { 0, 0 };
    for (int round = 0; round < rounds; round++) {
        s_issue_and_enqueue (&rig, "t");
        assert_int_equal (dispatcher_flush (rig.dispatcher, round), 1);
        int p = lease_table_owned_count (rig.leases, peers [0]->worker->slot) ? 0 : 1;
        assert_int_equal (lease_table_owned_count (rig.leases, peers [p]->worker->slot), 1);
        tm_task_batch_t *batch = s_recv_batch (peers [p]);
        tm_task_t task;
        tm_task_batch_get (batch, 0, &task);
        lease_table_finish (rig.leases, task.seq);
        tm_task_batch_destroy (&batch);
        served [p]++;
    }
    s_rig_destroy (&rig);
    //  Half each in turn; a quarter is the least that is taking turns.
    if (served [0] < rounds / 4 || served [1] < rounds / 4)
        fail_msg ("of %d single tasks, worker 1 got %d and worker 2 got %d",
                  rounds, served [0], served [1]);
}

//  --- finished while queued ---------------------------------------------------

static void
lease_finished_while_queued_is_not_sent (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig, 16);
    s_peer_t *peer = s_join (&rig, "worker-aaaa", 16, 0);
    s_enqueue_many (&rig, 5);
    //  Finish the front, a middle and the back of the queue.
    lease_table_finish (rig.leases, 1);
    lease_table_finish (rig.leases, 3);
    lease_table_finish (rig.leases, 5);
    assert_int_equal (dispatcher_flush (rig.dispatcher, 0), 2);
    assert_int_equal (dispatcher_queued (rig.dispatcher), 0);
    assert_int_equal (dispatcher_sent (rig.dispatcher), 2);
    uint64_t seqs [2];
    s_recv_tasks (peer, 2, 1, 0, seqs);
    assert_int_equal (seqs [0], 2);
    assert_int_equal (seqs [1], 4);
    s_rig_destroy (&rig);
}

static void
queue_of_only_finished_leases_sends_nothing_and_empties (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig, 8);
    s_peer_t *peer = s_join (&rig, "worker-aaaa", 8, 0);
    s_enqueue_many (&rig, 3);
    for (uint64_t seq = 1; seq <= 3; seq++)
        lease_table_finish (rig.leases, seq);
    assert_int_equal (dispatcher_flush (rig.dispatcher, 0), 0);
    assert_int_equal (dispatcher_queued (rig.dispatcher), 0);
    assert_int_equal (peer->worker->frames, 0);
    assert_false (s_frame_arrives (peer));
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
    s_rig_new (&rig, capacity);
    s_peer_t *peer = s_join (&rig, "worker-aaaa", 100, 0);
    for (int i = 0; i < 100; i++) {
        lease_t *lease = s_issue_and_enqueue (&rig, "t");
        if (lease->seq % 3 != 0)
            lease_table_finish (rig.leases, lease->seq);
        if (lease_table_size (rig.leases) == capacity)
            break;
    }
    size_t live = lease_table_size (rig.leases);
    assert_true (dispatcher_queued (rig.dispatcher) >= live);
    assert_int_equal (dispatcher_flush (rig.dispatcher, 0), live);
    assert_int_equal (dispatcher_queued (rig.dispatcher), 0);
    uint64_t seqs [8];
    s_recv_tasks (peer, live, 1, 0, seqs);
    for (size_t i = 0; i < live; i++)
        assert_int_equal (seqs [i] % 3, 0);
    s_rig_destroy (&rig);
}

static void
flush_of_empty_queue_sends_nothing (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig, 4);
    s_peer_t *peer = s_join (&rig, "worker-aaaa", 4, 0);
    assert_int_equal (dispatcher_flush (rig.dispatcher, 0), 0);
    assert_int_equal (dispatcher_sent (rig.dispatcher), 0);
    assert_false (s_frame_arrives (peer));
    //  Nor does a flush with no workers at all.
    s_rig_t bare;
    s_rig_new (&bare, 4);
    s_issue_and_enqueue (&bare, "t");
    assert_int_equal (dispatcher_flush (bare.dispatcher, 0), 0);
    assert_int_equal (dispatcher_queued (bare.dispatcher), 1);
    s_rig_destroy (&bare);
    s_rig_destroy (&rig);
}

//  --- resends -----------------------------------------------------------------

static void
retried_lease_is_sent_again_with_its_new_attempt (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig, 8);
    s_peer_t *peer = s_join (&rig, "worker-aaaa", 1, 0);
    lease_t *lease = lease_table_issue (rig.leases, "retry-me", "echo",
                                        (const uint8_t *) "body", 4, 300, 3, 0);
    dispatcher_enqueue (rig.dispatcher, lease);
    assert_int_equal (dispatcher_flush (rig.dispatcher, 1000), 1);
    tm_task_batch_t *batch = s_recv_batch (peer);
    tm_task_t task;
    tm_task_batch_get (batch, 0, &task);
    assert_int_equal (task.attempt, 1);
    tm_task_batch_destroy (&batch);
    assert_int_equal (lease->first_sent_us, 1000);
    assert_int_equal (dispatcher_room (rig.dispatcher, peer->worker), 0);

    //  The master charges an attempt and queues it again: the window it
    //  held is free, and it goes out as attempt 2.
    lease_table_retry_after (rig.leases, lease, 0);
    assert_int_equal (dispatcher_room (rig.dispatcher, peer->worker), 1);
    dispatcher_enqueue (rig.dispatcher, lease);
    assert_int_equal (lease->state, LEASE_QUEUED);
    assert_int_equal (dispatcher_queued (rig.dispatcher), 1);
    const int64_t later_us = 9000000;
    assert_int_equal (dispatcher_flush (rig.dispatcher, later_us), 1);
    batch = s_recv_batch (peer);
    assert_int_equal (tm_task_batch_size (batch), 1);
    assert_int_equal (tm_task_batch_number (batch), 2);
    tm_task_batch_get (batch, 0, &task);
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
    assert_false (s_frame_arrives (peer));
    s_rig_destroy (&rig);
}

int
main (void)
{
    zsys_init ();
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (queued_task_goes_to_its_worker_with_every_field_and_its_stamp),
        cmocka_unit_test (task_with_empty_payload_is_sent_with_empty_payload),
        cmocka_unit_test (sent_lease_is_filed_under_its_worker_and_ends_after_timeout_plus_grace),
        cmocka_unit_test (worker_gets_no_more_than_its_credit_window),
        cmocka_unit_test (flush_fills_the_windows_of_several_workers_and_respects_each),
        cmocka_unit_test (finishing_leases_lets_the_next_flush_send_as_many_more),
        cmocka_unit_test (worker_with_credit_zero_draining_or_lost_gets_nothing),
        cmocka_unit_test (unconnected_worker_is_marked_unreachable_and_its_tasks_stay_queued),
        cmocka_unit_test (marker_to_a_routing_id_with_no_connection_fails_and_marks_it_unreachable),
        cmocka_unit_test (batches_hold_at_most_max_batch_tasks),
        cmocka_unit_test (single_queued_task_is_sent_alone_in_its_frame),
        cmocka_unit_test (big_payloads_are_batched_under_max_batch_bytes_unless_alone),
        cmocka_unit_test (frame_numbers_count_one_two_three_for_each_worker),
        cmocka_unit_test (batch_echoes_the_stamp_of_the_workers_latest_credit),
        cmocka_unit_test (marker_is_an_empty_numbered_batch_of_the_job),
        cmocka_unit_test (short_queue_is_shared_in_turn_between_idle_workers),
        cmocka_unit_test (lease_finished_while_queued_is_not_sent),
        cmocka_unit_test (queue_of_only_finished_leases_sends_nothing_and_empties),
        cmocka_unit_test (queue_keeps_accepting_when_finished_leases_fill_the_ring),
        cmocka_unit_test (flush_of_empty_queue_sends_nothing),
        cmocka_unit_test (retried_lease_is_sent_again_with_its_new_attempt),
    };
    int failed = cmocka_run_group_tests (tests, NULL, NULL);
    zsys_shutdown ();
    return failed;
}
