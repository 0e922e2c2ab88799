/*  lease_table: the tasks a master has in flight, keyed by seq, each with a
    copy of what is needed to send it again and the time its lease ends.
    Bounded by the dispatch window, so memory does not grow with the job.

    It is also the exactly-once set: seqs are handed out in order, so a seq
    at or below the highest issued that is no longer in the table is final,
    and any further result for it is a duplicate.

    It owns every lease's state machine (queued, sent to a worker, waiting
    to retry) and, for each worker, the list of leases sent to it, so that
    failover knows exactly what a lost worker held. It does not send,
    decide retries or write results: the dispatcher, failover and the
    master do, calling these functions.
*/
#ifndef LEASE_TABLE_H_INCLUDED
#define LEASE_TABLE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    LEASE_QUEUED,       //  waiting in the master's send queue
    LEASE_SENT,         //  sent to one worker (owner); deadline_us: its lease ends
    LEASE_WAITING       //  a retry backing off; deadline_us: it may be queued
} lease_state_t;

//  One task in flight. id, type and the packed task live in the same
//  allocation. Read-only outside lease_table.c: every transition is a
//  function below.
typedef struct _lease_t lease_t;
struct _lease_t {
    uint64_t seq;
    const char *id;
    const char *type;
    const uint8_t *payload;     //  inside packed
    size_t payload_size;
    const uint8_t *packed;      //  seq, id, type and payload as tm_codec_pack_task writes them
    size_t packed_size;
    uint32_t timeout_ms;        //  0: no timeout, so no lease expiry
    uint32_t attempt;           //  the attempt in flight (1-based)
    uint32_t max_attempts;
    uint32_t free_resends;      //  times sent again without charging an attempt
    lease_state_t state;
    int64_t deadline_us;        //  monotonic; see lease_state_t; INT64_MAX: none
    int64_t issued_us;          //  monotonic; when it was read from the job, for queue wait
    int64_t first_sent_us;      //  monotonic; when attempt 1 left, for latency
    int64_t sent_us;            //  monotonic; when the copy in flight left
    uint32_t owner;             //  SENT: the worker (its slot) it went to; else 0
    uint64_t frame;             //  SENT: the number of the frame it left in
    bool running;               //  SENT: its worker's last heartbeat said it runs
    int64_t running_since_us;   //  SENT: the first heartbeat that saw it run (0: none)
    uint32_t copy_owner;        //  --speculate: the worker running a copy of it (0: none)
    lease_t *owner_prev;        //  the owner's other leases (lease_table.c only)
    lease_t *owner_next;
    lease_t *running_prev;      //  the running leases, longest running first (ditto)
    lease_t *running_next;
};

typedef struct _lease_table_t lease_table_t;

typedef enum {
    LEASE_FOUND,        //  the seq is in flight
    LEASE_FINAL,        //  the seq was issued and is already final (duplicate)
    LEASE_UNKNOWN       //  the seq was never issued by this master
} lease_lookup_t;

//  A table for at most capacity tasks in flight.
lease_table_t *lease_table_new (size_t capacity);
void lease_table_destroy (lease_table_t **self_p);
//  Adds the next task, read at now_us, giving it seq = highest issued + 1
//  (attempt 1, QUEUED, not yet in any send queue). Returns the lease, or
//  NULL if the table is full.
lease_t *lease_table_issue (lease_table_t *self, const char *id, const char *type,
                            const uint8_t *payload, size_t payload_size,
                            uint32_t timeout_ms, uint32_t max_attempts, int64_t now_us);
//  A task whose payload is this large or more is sent alone from its
//  lease's memory, not copied into a frame.
#define LEASE_TABLE_LEND_MIN_BYTES (64 * 1024)
//  If lease is such a task and no frame holds its memory now, takes a
//  reference for a frame and returns the writable start of the room
//  around its packed bytes (see tm_packed_task_t); else NULL. The frame
//  gives it back through lease_table_frame_done.
uint8_t *lease_table_lend (lease_table_t *self, lease_t *lease);
//  libzmq's free function for such a frame (hint: the lease), in any
//  thread: the last of the table and the frame to let go frees the lease.
void lease_table_frame_done (void *data, void *hint);
//  Uses up the next seq without a lease (a task already final, on resume).
void lease_table_skip (lease_table_t *self);
//  Asks the CPU to bring seq's slot into cache (lease_too false), or, once
//  it is there, its lease: for a batch of results, called for each seq
//  before any is looked up, so that the cache misses overlap.
void lease_table_prefetch (lease_table_t *self, uint64_t seq, bool lease_too);
//  Finds seq; *lease is set when LEASE_FOUND.
lease_lookup_t lease_table_lookup (lease_table_t *self, uint64_t seq, lease_t **lease);

//  Transitions. Each takes a lease of this table that is not final.
//  Any state -> QUEUED, owned by no worker (the dispatcher queues it).
void lease_table_queue (lease_table_t *self, lease_t *lease);
//  QUEUED -> SENT to owner in frame; the lease ends timeout + grace_us from
//  now (never for timeout 0).
void lease_table_send (lease_table_t *self, lease_t *lease, uint32_t owner, uint64_t frame,
                       int64_t now_us, int64_t grace_us);
//  Its owner's heartbeat lists it (running or queued there). A task queued
//  at a live worker does not expire: its lease starts again from now; a
//  running one's lease runs from the first heartbeat that saw it run.
void lease_table_heard (lease_table_t *self, lease_t *lease, bool running,
                        int64_t now_us, int64_t grace_us);
//  The copy in flight was lost at no fault of the task: counts a free
//  re-send and frees it of its owner. The caller queues it again.
void lease_table_release (lease_table_t *self, lease_t *lease);
//  A lost copy sent again later, free of charge: like release, then
//  WAITING until until_us.
void lease_table_release_until (lease_table_t *self, lease_t *lease, int64_t until_us);
//  A copy of it went to the worker filed as copy_owner (--speculate).
void lease_table_copied (lease_table_t *self, lease_t *lease, uint32_t copy_owner);
//  Charges an attempt (attempt < max_attempts): attempt + 1, no owner,
//  WAITING until until_us (the caller queues it when that comes; at once
//  if until_us <= now).
void lease_table_retry_after (lease_table_t *self, lease_t *lease, int64_t until_us);
//  Removes seq (now final) and frees its lease.
void lease_table_finish (lease_table_t *self, uint64_t seq);

//  Tasks in flight.
size_t lease_table_size (lease_table_t *self);
//  Payload bytes of the tasks in flight.
size_t lease_table_bytes (lease_table_t *self);
//  Of them, those of QUEUED leases (waiting to be sent).
size_t lease_table_queued_bytes (lease_table_t *self);
size_t lease_table_capacity (lease_table_t *self);
//  Highest seq issued so far (0 if none).
uint64_t lease_table_last_seq (lease_table_t *self);
//  Leases SENT to owner now.
size_t lease_table_owned_count (lease_table_t *self, uint32_t owner);
//  Writes up to max of the leases SENT to owner into leases; returns how many.
size_t lease_table_owned (lease_table_t *self, uint32_t owner, lease_t **leases, size_t max);
//  Writes the up to max leases that have run longest (a heartbeat said so,
//  running_since_us), longest first, into leases; returns how many. Costs
//  max steps, however many run.
size_t lease_table_longest_running (lease_table_t *self, const lease_t **leases, size_t max);
//  Writes up to max seqs of leases whose deadline is at or before now_us
//  into seqs: SENT ones whose lease ended, WAITING ones done backing off.
//  Returns how many.
size_t lease_table_expired (lease_table_t *self, int64_t now_us, uint64_t *seqs, size_t max);

#endif
