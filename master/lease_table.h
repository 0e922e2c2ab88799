/*  lease_table: the tasks a master has in flight, keyed by seq, each with a
    copy of what is needed to send it again and the time its lease ends.
    Bounded by the dispatch window, so memory does not grow with the job.

    It is also the exactly-once set: seqs are handed out in order, so a seq
    at or below the highest issued that is no longer in the table is final,
    and any further result for it is a duplicate.

    It does not send, decide retries or write results: the dispatcher and
    master do, calling these functions.
*/
#ifndef LEASE_TABLE_H_INCLUDED
#define LEASE_TABLE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    LEASE_QUEUED,       //  waiting in the send queue
    LEASE_SENT,         //  on the wire or at a worker; deadline_us: its lease ends
    LEASE_WAITING       //  a retry backing off; deadline_us: it may be queued
} lease_state_t;

//  One task in flight. id, type and payload live in the same allocation.
typedef struct {
    uint64_t seq;
    const char *id;
    const char *type;
    const uint8_t *payload;
    size_t payload_size;
    uint32_t timeout_ms;
    uint32_t attempt;           //  the attempt in flight (1-based)
    uint32_t max_attempts;
    uint32_t free_resends;      //  times sent again without charging an attempt
    lease_state_t state;
    int64_t deadline_us;        //  monotonic; see lease_state_t
    int64_t first_sent_us;      //  monotonic; when attempt 1 left, for latency
    int64_t sent_us;            //  monotonic; when the copy in flight left
    uint64_t send_number;       //  the dispatcher's count of tasks sent before it
    uint64_t frame;             //  the number of the frame it left in (TaskBatch.number)
} lease_t;

typedef struct _lease_table_t lease_table_t;

typedef enum {
    LEASE_FOUND,        //  the seq is in flight
    LEASE_FINAL,        //  the seq was issued and is already final (duplicate)
    LEASE_UNKNOWN       //  the seq was never issued by this master
} lease_lookup_t;

//  A table for at most capacity tasks in flight.
lease_table_t *lease_table_new (size_t capacity);
void lease_table_destroy (lease_table_t **self_p);
//  Adds the next task, giving it seq = highest issued + 1 (attempt 1,
//  QUEUED). Returns the lease, or NULL if the table is full.
lease_t *lease_table_issue (lease_table_t *self, const char *id, const char *type,
                            const uint8_t *payload, size_t payload_size,
                            uint32_t timeout_ms, uint32_t max_attempts);
//  Uses up the next seq without a lease (a task already final, on resume).
void lease_table_skip (lease_table_t *self);
//  Finds seq; *lease is set when LEASE_FOUND.
lease_lookup_t lease_table_lookup (lease_table_t *self, uint64_t seq, lease_t **lease);
//  Removes seq (now final) and frees its lease.
void lease_table_finish (lease_table_t *self, uint64_t seq);
//  Tasks in flight.
size_t lease_table_size (lease_table_t *self);
//  Payload bytes of the tasks in flight.
size_t lease_table_bytes (lease_table_t *self);
size_t lease_table_capacity (lease_table_t *self);
//  Highest seq issued so far (0 if none).
uint64_t lease_table_last_seq (lease_table_t *self);
//  Writes up to max seqs of leases whose deadline is at or before now_us
//  into seqs: SENT ones whose lease ended, WAITING ones done backing off.
//  Returns how many.
size_t lease_table_expired (lease_table_t *self, int64_t now_us, uint64_t *seqs, size_t max);
//  Writes up to max SENT leases that left before before_us into leases.
//  Returns how many.
size_t lease_table_sent_before (lease_table_t *self, int64_t before_us, lease_t **leases,
                                size_t max);

#endif
