/*  dispatcher: a ring of queued seqs, drained into TaskBatch frames. */
#include "dispatcher.h"
#include "tm_codec.h"

struct _dispatcher_t {
    zsock_t *tasks;             //  borrowed ROUTER socket
    lease_table_t *leases;      //  borrowed
    worker_table_t *workers;    //  borrowed
    char *job_id;
    int64_t lease_grace_us;     //  added to a task's timeout to make its lease
    uint64_t *ring;             //  queued seqs
    size_t ring_size;           //  slots in ring
    size_t head;                //  next to send
    size_t count;               //  queued now
    uint64_t sent;              //  tasks sent in total
    uint32_t next_slot;         //  the worker the next flush starts from
    size_t batch_bytes;         //  payload bytes a batch of more than one task stays under
    tm_packed_task_t batch [TM_MAX_BATCH_TASKS];    //  reused per frame
    lease_t *batch_leases [TM_MAX_BATCH_TASKS];
};

dispatcher_t *
dispatcher_new (zsock_t *tasks, lease_table_t *leases, worker_table_t *workers,
                const char *job_id, int64_t lease_grace_us)
{
    dispatcher_t *self = (dispatcher_t *) zmalloc (sizeof (dispatcher_t));
    self->tasks = tasks;
    self->leases = leases;
    self->workers = workers;
    self->job_id = strdup (job_id);
    self->batch_bytes = TM_MAX_BATCH_BYTES;
    self->lease_grace_us = lease_grace_us;
    //  A live lease is queued at most once; seqs that became final while
    //  queued stay until flushed or compacted, so twice the table's capacity
    //  always has room after s_compact.
    self->ring_size = 2 * lease_table_capacity (leases);
    self->ring = (uint64_t *) zmalloc (self->ring_size * sizeof (uint64_t));
    return self;
}

void
dispatcher_set_batch_bytes (dispatcher_t *self, size_t batch_bytes)
{
    assert (self);
    assert (batch_bytes > 0 && batch_bytes <= TM_MAX_BATCH_BYTES);
    self->batch_bytes = batch_bytes;
}

void
dispatcher_destroy (dispatcher_t **self_p)
{
    assert (self_p);
    dispatcher_t *self = *self_p;
    if (self) {
        free (self->ring);
        free (self->job_id);
        free (self);
        *self_p = NULL;
    }
}

//  Drops queued seqs that are no longer queued leases (final, or re-queued
//  later in the ring).
static void
s_compact (dispatcher_t *self)
{
    size_t kept = 0;
    for (size_t i = 0; i < self->count; i++) {
        uint64_t seq = self->ring [(self->head + i) % self->ring_size];
        lease_t *lease;
        if (lease_table_lookup (self->leases, seq, &lease) == LEASE_FOUND
        &&  lease->state == LEASE_QUEUED)
            self->ring [(self->head + kept++) % self->ring_size] = seq;
    }
    self->count = kept;
}

void
dispatcher_enqueue (dispatcher_t *self, lease_t *lease)
{
    if (self->count == self->ring_size)
        s_compact (self);
    assert (self->count < self->ring_size);
    lease_table_queue (self->leases, lease);
    self->ring [(self->head + self->count) % self->ring_size] = lease->seq;
    self->count++;
}

void
dispatcher_enqueue_first (dispatcher_t *self, lease_t *lease)
{
    if (self->count == self->ring_size)
        s_compact (self);
    assert (self->count < self->ring_size);
    lease_table_queue (self->leases, lease);
    self->head = (self->head + self->ring_size - 1) % self->ring_size;
    self->ring [self->head] = lease->seq;
    self->count++;
}

size_t
dispatcher_room (dispatcher_t *self, const worker_info_t *worker)
{
    if (worker->state != WORKER_LIVE || !worker->reachable)
        return 0;
    size_t held = lease_table_owned_count (self->leases, worker->slot);
    return worker->credit > held ? worker->credit - held : 0;
}

size_t
dispatcher_room_total (dispatcher_t *self)
{
    size_t room = 0, slots = worker_table_slots (self->workers);
    for (uint32_t slot = 1; slot < slots; slot++) {
        worker_info_t *worker = worker_table_by_slot (self->workers, slot);
        if (worker)
            room += dispatcher_room (self, worker);
    }
    return room;
}

//  Fills self->batch from the front of the ring without popping: up to want
//  tasks, under batch_bytes of payload unless alone. Seqs that became
//  final while queued are skipped (popped). Returns the batch length.
static size_t
s_fill_batch (dispatcher_t *self, size_t want)
{
    size_t filled = 0, scan = 0, bytes = 0;
    while (filled < want && scan < self->count) {
        uint64_t seq = self->ring [(self->head + scan) % self->ring_size];
        lease_t *lease;
        if (lease_table_lookup (self->leases, seq, &lease) == LEASE_FOUND
        &&  lease->state == LEASE_QUEUED) {
            if (filled > 0 && bytes + lease->payload_size > self->batch_bytes)
                break;
            bytes += lease->payload_size;
            self->batch_leases [filled] = lease;
            self->batch [filled++] = (tm_packed_task_t) {
                .packed = lease->packed, .packed_size = lease->packed_size,
                .timeout_ms = lease->timeout_ms, .attempt = lease->attempt,
                .max_attempts = lease->max_attempts, .hint = lease
            };
        }
        else
        if (scan == 0) {
            //  Stale entry at the front: drop it now.
            self->head = (self->head + 1) % self->ring_size;
            self->count--;
            continue;
        }
        scan++;
    }
    return filled;
}

//  Sends count tasks of self->batch (0: a marker) to worker as its next
//  frame, behind its routing id. Returns 0, or -1 with errno EAGAIN (its
//  connection is full) or EHOSTUNREACH (gone).
static int
s_send_to (dispatcher_t *self, worker_info_t *worker, size_t count)
{
    void *handle = zsock_resolve (self->tasks);
    if (zmq_send (handle, worker->incarnation, strlen (worker->incarnation),
                  ZMQ_SNDMORE | ZMQ_DONTWAIT) == -1) {
        int error = zmq_errno ();
        if (error == EHOSTUNREACH)
            worker->reachable = false;
        errno = error;
        return -1;
    }
    //  The routing id went, so the peer takes the rest of the message. A
    //  lone large task goes from its lease's memory, with no copy.
    if (count == 1 && (self->batch [0].room = lease_table_lend (self->leases,
                                                                self->batch_leases [0])))
        self->batch [0].release = lease_table_frame_done;
    zmq_msg_t frame;
    tm_codec_encode_packed_batch (self->job_id, self->batch, count, worker->frames + 1,
                                  worker->stamp, &frame);
    int rc = zmq_msg_send (&frame, handle, ZMQ_DONTWAIT);
    if (rc == -1)
        zmq_msg_close (&frame);
    return rc == -1 ? -1 : 0;
}

//  Sends one frame of up to room tasks to worker. Returns how many went.
static size_t
s_send_batch (dispatcher_t *self, worker_info_t *worker, size_t room, int64_t now_us)
{
    size_t want = room < TM_MAX_BATCH_TASKS ? room : TM_MAX_BATCH_TASKS;
    size_t filled = s_fill_batch (self, want);
    if (filled == 0)
        return 0;
    uint64_t number = worker->frames + 1;
    if (s_send_to (self, worker, filled) == -1)
        return 0;
    worker->frames = number;
    worker->marker_due = false;     //  this frame moves its last_batch as well
    //  Pop everything scanned: the sent leases and any stale seqs among them.
    size_t taken = 0;
    while (taken < filled) {
        uint64_t seq = self->ring [self->head];
        self->head = (self->head + 1) % self->ring_size;
        self->count--;
        if (seq == self->batch_leases [taken]->seq)
            taken++;
    }
    for (size_t i = 0; i < filled; i++)
        lease_table_send (self->leases, self->batch_leases [i], worker->slot, number,
                          now_us, self->lease_grace_us);
    return filled;
}

//  Fills one worker's room; returns the tasks sent.
static size_t
s_feed (dispatcher_t *self, worker_info_t *worker, int64_t now_us)
{
    size_t sent = 0, room;
    while (self->count > 0 && (room = dispatcher_room (self, worker)) > 0) {
        size_t batch = s_send_batch (self, worker, room, now_us);
        if (batch == 0)
            break;
        sent += batch;
    }
    return sent;
}

size_t
dispatcher_flush (dispatcher_t *self, int64_t now_us)
{
    //  Workers in turn by slot, from the one after the worker served first
    //  last time, so that when the queue runs short no worker is always the
    //  first served.
    size_t sent = 0, slots = worker_table_slots (self->workers);
    uint32_t start = self->next_slot;
    bool first = true;
    for (size_t i = 0; i < slots && self->count > 0; i++) {
        uint32_t slot = (uint32_t) ((start + i) % slots);
        worker_info_t *worker = worker_table_by_slot (self->workers, slot);
        size_t fed = worker ? s_feed (self, worker, now_us) : 0;
        if (fed && first) {
            self->next_slot = slot + 1;
            first = false;
        }
        sent += fed;
    }
    self->sent += sent;
    return sent;
}

int
dispatcher_send_marker (dispatcher_t *self, worker_info_t *worker)
{
    worker->marker_due = false;
    if (s_send_to (self, worker, 0) == -1) {
        //  A full connection is still a connection: try again later.
        worker->marker_due = errno == EAGAIN;
        return errno == EHOSTUNREACH ? -1 : 0;
    }
    worker->frames++;
    return 0;
}

int
dispatcher_send_copy (dispatcher_t *self, worker_info_t *worker, const lease_t *lease)
{
    //  Sent like a lone task (lent from the lease's memory when no frame
    //  still holds it), but the lease stays as it is.
    self->batch_leases [0] = (lease_t *) lease;
    self->batch [0] = (tm_packed_task_t) {
        .packed = lease->packed, .packed_size = lease->packed_size,
        .timeout_ms = lease->timeout_ms, .attempt = lease->attempt,
        .max_attempts = lease->max_attempts, .hint = (void *) lease
    };
    if (s_send_to (self, worker, 1) == -1)
        return -1;
    worker->frames++;
    return 0;
}

void
dispatcher_send_due_markers (dispatcher_t *self)
{
    for (worker_info_t *worker = worker_table_first (self->workers);
         worker; worker = worker_table_next (self->workers))
        if (worker->marker_due && worker->state != WORKER_LOST)
            dispatcher_send_marker (self, worker);
}

size_t
dispatcher_queued (dispatcher_t *self)
{
    return self->count;
}

uint64_t
dispatcher_sent (dispatcher_t *self)
{
    return self->sent;
}

