/*  dispatcher: a ring of queued seqs, drained into TaskBatch frames. */
#include "dispatcher.h"
#include "tm_codec.h"

struct _dispatcher_t {
    zsock_t *tasks;             //  borrowed PUSH socket
    lease_table_t *leases;      //  borrowed
    char *job_id;
    int64_t lease_grace_us;     //  added to a task's timeout to make its lease
    uint64_t *ring;             //  queued seqs
    size_t ring_size;           //  slots in ring
    size_t head;                //  next to send
    size_t count;               //  queued now
    uint64_t sent;              //  tasks sent in total
    uint64_t frames;            //  frames sent in total: the last frame's number
    tm_task_t batch [DISPATCHER_MAX_BATCH];     //  reused per flush
};

dispatcher_t *
dispatcher_new (zsock_t *tasks, lease_table_t *leases, const char *job_id,
                int64_t lease_grace_us)
{
    dispatcher_t *self = (dispatcher_t *) zmalloc (sizeof (dispatcher_t));
    self->tasks = tasks;
    self->leases = leases;
    self->job_id = strdup (job_id);
    self->lease_grace_us = lease_grace_us;
    //  A live lease is queued at most once; seqs that became final while
    //  queued stay until flushed or compacted, so twice the table's capacity
    //  always has room after s_compact.
    self->ring_size = 2 * lease_table_capacity (leases);
    self->ring = (uint64_t *) zmalloc (self->ring_size * sizeof (uint64_t));
    return self;
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
    lease->state = LEASE_QUEUED;
    self->ring [(self->head + self->count) % self->ring_size] = lease->seq;
    self->count++;
}

//  How many tasks go in the next frame: big batches when the queue is deep,
//  single tasks when it is shallow, so an idle cluster sees no batching delay
//  and a busy one is not limited by per-message costs.
static size_t
s_batch_size (dispatcher_t *self, size_t workers)
{
    size_t shares = 4 * (workers ? workers : 1);
    size_t size = self->count / shares;
    if (size < 1)
        size = 1;
    return size > DISPATCHER_MAX_BATCH ? DISPATCHER_MAX_BATCH : size;
}

//  Fills self->batch from the front of the ring without popping. Seqs that
//  became final while queued are skipped (popped). Returns the batch length.
static size_t
s_fill_batch (dispatcher_t *self, size_t want, lease_t **leases)
{
    size_t filled = 0;
    size_t scan = 0;
    while (filled < want && scan < self->count) {
        uint64_t seq = self->ring [(self->head + scan) % self->ring_size];
        lease_t *lease;
        if (lease_table_lookup (self->leases, seq, &lease) == LEASE_FOUND
        &&  lease->state == LEASE_QUEUED) {
            leases [filled] = lease;
            self->batch [filled++] = (tm_task_t) {
                .job_id = self->job_id, .seq = seq, .id = lease->id,
                .type = lease->type, .payload = lease->payload,
                .payload_size = lease->payload_size,
                .timeout_ms = lease->timeout_ms, .attempt = lease->attempt,
                .max_attempts = lease->max_attempts
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

size_t
dispatcher_flush (dispatcher_t *self, int64_t now_us, size_t workers)
{
    size_t sent = 0;
    lease_t *leases [DISPATCHER_MAX_BATCH];
    //  One size for the whole flush: batches that shrank one after another
    //  would give the first worker of each round-robin turn the most.
    size_t want = s_batch_size (self, workers);
    while (self->count > 0) {
        size_t filled = s_fill_batch (self, want, leases);
        if (filled == 0)
            break;
        zframe_t *frame = tm_codec_encode_task_batch (self->batch, filled, self->frames + 1);
        if (tm_codec_send (self->tasks, &frame, ZMQ_DONTWAIT) == -1)
            break;      //  no peer ready: the rest waits for POLLOUT
        self->frames++;
        //  Pop everything scanned: the sent leases and any stale seqs among them.
        size_t taken = 0;
        while (taken < filled) {
            uint64_t seq = self->ring [self->head];
            self->head = (self->head + 1) % self->ring_size;
            self->count--;
            if (seq == leases [taken]->seq)
                taken++;
        }
        for (size_t i = 0; i < filled; i++) {
            leases [i]->state = LEASE_SENT;
            leases [i]->sent_us = now_us;
            leases [i]->send_number = self->sent + sent + i;
            leases [i]->frame = self->frames;
            leases [i]->deadline_us = now_us + (int64_t) leases [i]->timeout_ms * 1000
                                    + self->lease_grace_us;
            if (leases [i]->attempt == 1)
                leases [i]->first_sent_us = now_us;
        }
        sent += filled;
    }
    self->sent += sent;
    return sent;
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

uint64_t
dispatcher_frames (dispatcher_t *self)
{
    return self->frames;
}
