/*  lease_table: open addressing on seq with linear probing and backward-shift
    deletion, so there are no tombstones and lookups stay short however many
    tasks pass through. The slot array is twice the capacity, rounded up to a
    power of two, and never grows.
*/
#include "lease_table.h"
#include "tm_codec.h"
#include <assert.h>
#ifndef __has_feature
#   define __has_feature(feature) 0
#endif
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

//  Freed leases are kept for reuse, by size in steps of S_SPARE_STEP, up
//  to S_SPARE_MAX_BYTES in all: malloc and free of cold blocks were a
//  tenth of the master's loop on noop tasks, and a block reused at once is
//  still in cache.
#define S_SPARE_STEP 64
#define S_SPARE_CLASSES 32          //  blocks up to 2 KiB
#define S_SPARE_DEPTH 256           //  of each size
//  Under AddressSanitizer every block is freed, so a lease used after it
//  ends is caught, as it was before blocks were kept.
#if __has_feature (address_sanitizer) || defined (__SANITIZE_ADDRESS__)
#   define S_SPARE_MAX_BYTES 0
#else
#   define S_SPARE_MAX_BYTES (1024 * 1024)
#endif

typedef struct {
    void *blocks [S_SPARE_DEPTH];   //  the last freed on top
    size_t count;
} s_spare_t;

struct _lease_table_t {
    lease_t **slots;        //  NULL or a lease
    size_t mask;            //  slot count - 1
    size_t capacity;        //  most leases at once
    size_t size;            //  leases now
    size_t bytes;           //  payload bytes of those leases
    size_t queued_bytes;    //  of them, of QUEUED leases
    uint64_t last_seq;      //  highest seq issued
    int64_t next_deadline_us;   //  no lease's deadline comes before this
    lease_t *running_first; //  the running leases, by running_since_us
    lease_t *running_last;
    lease_t **owned;        //  per owner slot: the first lease sent to it
    size_t *owned_count;    //  per owner slot: how many
    size_t owners;          //  slots in owned and owned_count
    s_spare_t spares [S_SPARE_CLASSES];     //  freed small blocks, by size
    size_t spare_bytes;     //  bytes they hold
};

//  A lease's allocation, behind the lease_t it starts with: a lone large
//  task is sent from it by reference, so libzmq's I/O thread may still hold
//  it when the task ends. The last of the table and such a frame frees it.
typedef struct {
    alignas (max_align_t) atomic_uint refs;     //  the table's, and a frame's in flight
    bool room;              //  the packed bytes have frame room around them
    uint32_t bytes;         //  what was allocated, a multiple of S_SPARE_STEP
} s_block_t;

static s_block_t *
s_block (const lease_t *lease)
{
    return (s_block_t *) lease - 1;
}

//  The spare list that holds blocks of bytes, or S_SPARE_CLASSES if none.
static size_t
s_spare_class (size_t bytes)
{
    size_t class = bytes / S_SPARE_STEP - 1;
    return class < S_SPARE_CLASSES ? class : S_SPARE_CLASSES;
}

//  A block of at least bytes: the last one freed of its size if any (in
//  cache still, and no malloc), else a new one.
static s_block_t *
s_block_new (lease_table_t *self, size_t bytes)
{
    bytes = (bytes + S_SPARE_STEP - 1) / S_SPARE_STEP * S_SPARE_STEP;
    size_t class = s_spare_class (bytes);
    s_block_t *block;
    if (class < S_SPARE_CLASSES && self->spares [class].count > 0) {
        block = self->spares [class].blocks [--self->spares [class].count];
        self->spare_bytes -= bytes;
    }
    else {
        block = (s_block_t *) malloc (bytes);
        assert (block);
    }
    block->bytes = (uint32_t) bytes;
    return block;
}

//  Drops the table's reference. A small block (never lent to a frame, so
//  the table's was the only one) is kept for the next issue while there is
//  room among the spares.
static void
s_release (lease_table_t *self, lease_t *lease)
{
    s_block_t *block = s_block (lease);
    if (atomic_fetch_sub_explicit (&block->refs, 1, memory_order_acq_rel) != 1)
        return;
    size_t class = s_spare_class (block->bytes);
    if (class < S_SPARE_CLASSES && self->spares [class].count < S_SPARE_DEPTH
    &&  self->spare_bytes + block->bytes <= S_SPARE_MAX_BYTES) {
        self->spares [class].blocks [self->spares [class].count++] = block;
        self->spare_bytes += block->bytes;
    }
    else
        free (block);
}

#define S_PREFETCH_AHEAD 8          //  issues ahead that a slot is fetched

static size_t
s_slot_of (lease_table_t *self, uint64_t seq)
{
    //  Fibonacci hashing spreads consecutive seqs without clustering.
    return (size_t) ((seq * 0x9E3779B97F4A7C15ull) >> 20) & self->mask;
}

lease_table_t *
lease_table_new (size_t capacity)
{
    assert (capacity > 0);
    lease_table_t *self = (lease_table_t *) calloc (1, sizeof (lease_table_t));
    assert (self);
    size_t slots = 16;
    while (slots < capacity * 2)
        slots *= 2;
    self->slots = (lease_t **) calloc (slots, sizeof (lease_t *));
    assert (self->slots);
    self->mask = slots - 1;
    self->capacity = capacity;
    self->next_deadline_us = INT64_MAX;
    return self;
}

void
lease_table_destroy (lease_table_t **self_p)
{
    assert (self_p);
    lease_table_t *self = *self_p;
    if (self) {
        for (size_t i = 0; i <= self->mask; i++)
            if (self->slots [i])
                s_release (self, self->slots [i]);
        for (size_t class = 0; class < S_SPARE_CLASSES; class++)
            while (self->spares [class].count > 0)
                free (self->spares [class].blocks [--self->spares [class].count]);
        free (self->slots);
        free (self->owned);
        free (self->owned_count);
        free (self);
        *self_p = NULL;
    }
}

static size_t
s_find_slot (lease_table_t *self, uint64_t seq)
{
    size_t slot = s_slot_of (self, seq);
    while (self->slots [slot] && self->slots [slot]->seq != seq)
        slot = (slot + 1) & self->mask;
    return slot;
}

lease_t *
lease_table_issue (lease_table_t *self, const char *id, const char *type,
                   const uint8_t *payload, size_t payload_size,
                   uint32_t timeout_ms, uint32_t max_attempts, int64_t now_us)
{
    if (self->size >= self->capacity)
        return NULL;
    size_t id_size = strlen (id) + 1;
    size_t type_size = strlen (type) + 1;
    //  The payload is kept only inside the task as packed ahead for sending.
    tm_task_t task = { .seq = self->last_seq + 1, .id = id, .type = type, .payload = payload,
                       .payload_size = payload_size };
    size_t packed_size = tm_codec_packed_task_size (&task);
    bool room = payload_size >= LEASE_TABLE_LEND_MIN_BYTES;
    size_t headroom = room ? TM_CODEC_FRAME_HEADROOM : 0;
    size_t tailroom = room ? TM_CODEC_FRAME_TAILROOM : 0;
    s_block_t *block = s_block_new (self, sizeof (s_block_t) + sizeof (lease_t) + id_size
                                          + type_size + headroom + packed_size + tailroom);
    atomic_init (&block->refs, 1);
    block->room = room;
    lease_t *lease = (lease_t *) (block + 1);
    char *strings = (char *) (lease + 1);
    memcpy (strings, id, id_size);
    memcpy (strings + id_size, type, type_size);
    uint8_t *packed = (uint8_t *) strings + id_size + type_size + headroom;
    size_t payload_at = tm_codec_pack_task (&task, packed);
    *lease = (lease_t) {
        .seq = ++self->last_seq,
        .id = strings,
        .type = strings + id_size,
        .payload = packed + payload_at,
        .payload_size = payload_size,
        .packed = packed,
        .packed_size = packed_size,
        .timeout_ms = timeout_ms,
        .attempt = 1,
        .max_attempts = max_attempts ? max_attempts : 1,
        .state = LEASE_QUEUED,
        .issued_us = now_us,
    };
    self->slots [s_find_slot (self, lease->seq)] = lease;
    //  Seqs are issued in order, but hashed apart: the slot a later one
    //  will want is fetched now, so its insert does not wait for memory.
    __builtin_prefetch (&self->slots [s_slot_of (self, lease->seq + S_PREFETCH_AHEAD)], 1);
    self->size++;
    self->bytes += payload_size;
    self->queued_bytes += payload_size;
    return lease;
}

uint8_t *
lease_table_lend (lease_table_t *self, lease_t *lease)
{
    (void) self;
    s_block_t *block = s_block (lease);
    //  Only this thread adds references, so one seen here is the table's
    //  alone: no frame is reading the room, and none can start to.
    if (!block->room || atomic_load_explicit (&block->refs, memory_order_acquire) != 1)
        return NULL;
    atomic_fetch_add_explicit (&block->refs, 1, memory_order_relaxed);
    return (uint8_t *) lease->packed - TM_CODEC_FRAME_HEADROOM;
}

void
lease_table_frame_done (void *data, void *hint)
{
    //  Any thread: the block is a lent one, never kept among the spares.
    (void) data;
    s_block_t *block = s_block ((lease_t *) hint);
    assert (block->room);
    if (atomic_fetch_sub_explicit (&block->refs, 1, memory_order_acq_rel) == 1)
        free (block);
}

void
lease_table_skip (lease_table_t *self)
{
    self->last_seq++;
}

void
lease_table_prefetch (lease_table_t *self, uint64_t seq, bool lease_too)
{
    lease_t *const *slot = &self->slots [s_slot_of (self, seq)];
    if (!lease_too) {
        __builtin_prefetch (slot);
        return;
    }
    //  The slot is in cache by now (the first call): its lease, or the
    //  one its probe starts at, and the lines a result reads of it.
    const lease_t *lease = *slot;
    if (lease) {
        const char *line = (const char *) s_block (lease);
        for (size_t at = 0; at < sizeof (s_block_t) + sizeof (lease_t) + 64; at += 64)
            __builtin_prefetch (line + at);
    }
}

lease_lookup_t
lease_table_lookup (lease_table_t *self, uint64_t seq, lease_t **lease)
{
    *lease = NULL;
    if (seq == 0 || seq > self->last_seq)
        return LEASE_UNKNOWN;
    lease_t *found = self->slots [s_find_slot (self, seq)];
    if (!found)
        return LEASE_FINAL;
    *lease = found;
    return LEASE_FOUND;
}

//  Sets a lease's deadline, keeping next_deadline_us a lower bound of them
//  all, so that lease_table_expired scans the table only when one may be due.
static void
s_set_deadline (lease_table_t *self, lease_t *lease, int64_t deadline_us)
{
    lease->deadline_us = deadline_us;
    if (deadline_us < self->next_deadline_us)
        self->next_deadline_us = deadline_us;
}

//  Files a lease heard running: the list stays sorted by running_since_us,
//  and since heartbeats come in time order that is nearly always the end.
static void
s_link_running (lease_table_t *self, lease_t *lease)
{
    lease_t *before = self->running_last;
    while (before && before->running_since_us > lease->running_since_us)
        before = before->running_prev;
    lease->running_prev = before;
    lease->running_next = before ? before->running_next : self->running_first;
    if (lease->running_next)
        lease->running_next->running_prev = lease;
    else
        self->running_last = lease;
    if (before)
        before->running_next = lease;
    else
        self->running_first = lease;
}

static void
s_unlink_running (lease_table_t *self, lease_t *lease)
{
    if (lease->running_prev)
        lease->running_prev->running_next = lease->running_next;
    else
        self->running_first = lease->running_next;
    if (lease->running_next)
        lease->running_next->running_prev = lease->running_prev;
    else
        self->running_last = lease->running_prev;
    lease->running_prev = lease->running_next = NULL;
}

//  Unlinks a SENT lease from its owner's list.
static void
s_disown (lease_table_t *self, lease_t *lease)
{
    if (!lease->owner)
        return;
    if (lease->running)
        s_unlink_running (self, lease);
    if (lease->owner_prev)
        lease->owner_prev->owner_next = lease->owner_next;
    else
        self->owned [lease->owner] = lease->owner_next;
    if (lease->owner_next)
        lease->owner_next->owner_prev = lease->owner_prev;
    self->owned_count [lease->owner]--;
    lease->owner = 0;
    lease->owner_prev = lease->owner_next = NULL;
    lease->running = false;
    lease->running_since_us = 0;
}

static void
s_own (lease_table_t *self, lease_t *lease, uint32_t owner)
{
    if (owner >= self->owners) {
        size_t owners = self->owners ? self->owners : 16;
        while (owners <= owner)
            owners *= 2;
        self->owned = (lease_t **) realloc (self->owned, owners * sizeof (lease_t *));
        self->owned_count = (size_t *) realloc (self->owned_count, owners * sizeof (size_t));
        assert (self->owned && self->owned_count);
        for (size_t i = self->owners; i < owners; i++) {
            self->owned [i] = NULL;
            self->owned_count [i] = 0;
        }
        self->owners = owners;
    }
    lease->owner = owner;
    lease->owner_prev = NULL;
    lease->owner_next = self->owned [owner];
    if (lease->owner_next)
        lease->owner_next->owner_prev = lease;
    self->owned [owner] = lease;
    self->owned_count [owner]++;
}

void
lease_table_queue (lease_table_t *self, lease_t *lease)
{
    s_disown (self, lease);
    if (lease->state != LEASE_QUEUED)
        self->queued_bytes += lease->payload_size;
    lease->state = LEASE_QUEUED;
}

void
lease_table_send (lease_table_t *self, lease_t *lease, uint32_t owner, uint64_t frame,
                  int64_t now_us, int64_t grace_us)
{
    assert (lease->state == LEASE_QUEUED && owner > 0);
    lease->state = LEASE_SENT;
    self->queued_bytes -= lease->payload_size;
    lease->sent_us = now_us;
    lease->frame = frame;
    s_set_deadline (self, lease, lease->timeout_ms
                                 ? now_us + (int64_t) lease->timeout_ms * 1000 + grace_us
                                 : INT64_MAX);
    if (lease->attempt == 1 && !lease->first_sent_us)
        lease->first_sent_us = now_us;
    s_own (self, lease, owner);
}

void
lease_table_heard (lease_table_t *self, lease_t *lease, bool running, int64_t now_us,
                   int64_t grace_us)
{
    assert (lease->state == LEASE_SENT);
    bool restart = !running || !lease->running;
    if (running && !lease->running) {
        lease->running_since_us = now_us;
        s_link_running (self, lease);
    }
    else
    if (!running && lease->running)
        s_unlink_running (self, lease);
    lease->running = running;
    if (restart && lease->timeout_ms)
        s_set_deadline (self, lease, now_us + (int64_t) lease->timeout_ms * 1000 + grace_us);
}

void
lease_table_release (lease_table_t *self, lease_t *lease)
{
    s_disown (self, lease);
    lease->free_resends++;
}

void
lease_table_release_until (lease_table_t *self, lease_t *lease, int64_t until_us)
{
    lease_table_release (self, lease);
    lease->state = LEASE_WAITING;
    s_set_deadline (self, lease, until_us);
}

void
lease_table_copied (lease_table_t *self, lease_t *lease, uint32_t copy_owner)
{
    (void) self;
    assert (lease->state == LEASE_SENT && copy_owner != lease->owner);
    lease->copy_owner = copy_owner;
}

void
lease_table_retry_after (lease_table_t *self, lease_t *lease, int64_t until_us)
{
    assert (lease->attempt < lease->max_attempts);
    s_disown (self, lease);
    lease->attempt++;
    if (lease->state == LEASE_QUEUED)
        self->queued_bytes -= lease->payload_size;
    lease->state = LEASE_WAITING;
    s_set_deadline (self, lease, until_us);
}

void
lease_table_finish (lease_table_t *self, uint64_t seq)
{
    size_t hole = s_find_slot (self, seq);
    if (!self->slots [hole])
        return;
    s_disown (self, self->slots [hole]);
    self->bytes -= self->slots [hole]->payload_size;
    if (self->slots [hole]->state == LEASE_QUEUED)
        self->queued_bytes -= self->slots [hole]->payload_size;
    s_release (self, self->slots [hole]);
    self->slots [hole] = NULL;
    self->size--;
    //  Backward shift: pull later members of the probe run into the hole
    //  when their home slot is not between the hole and where they sit.
    size_t slot = (hole + 1) & self->mask;
    while (self->slots [slot]) {
        size_t home = s_slot_of (self, self->slots [slot]->seq);
        bool movable = ((slot - home) & self->mask) >= ((slot - hole) & self->mask);
        if (movable) {
            self->slots [hole] = self->slots [slot];
            self->slots [slot] = NULL;
            hole = slot;
        }
        slot = (slot + 1) & self->mask;
    }
}

size_t
lease_table_owned_count (lease_table_t *self, uint32_t owner)
{
    return owner < self->owners ? self->owned_count [owner] : 0;
}

size_t
lease_table_owned (lease_table_t *self, uint32_t owner, lease_t **leases, size_t max)
{
    size_t count = 0;
    if (owner < self->owners)
        for (lease_t *lease = self->owned [owner]; lease && count < max; lease = lease->owner_next)
            leases [count++] = lease;
    return count;
}

size_t
lease_table_longest_running (lease_table_t *self, const lease_t **leases, size_t max)
{
    size_t count = 0;
    for (lease_t *lease = self->running_first; lease && count < max; lease = lease->running_next)
        leases [count++] = lease;
    return count;
}

size_t
lease_table_size (lease_table_t *self)
{
    return self->size;
}

size_t
lease_table_bytes (lease_table_t *self)
{
    return self->bytes;
}

size_t
lease_table_queued_bytes (lease_table_t *self)
{
    return self->queued_bytes;
}

size_t
lease_table_capacity (lease_table_t *self)
{
    return self->capacity;
}

uint64_t
lease_table_last_seq (lease_table_t *self)
{
    return self->last_seq;
}

size_t
lease_table_expired (lease_table_t *self, int64_t now_us, uint64_t *seqs, size_t max)
{
    //  The scan visits every slot (twice the window): at each tick of a
    //  job whose tasks have no timeout it would find nothing.
    if (now_us < self->next_deadline_us)
        return 0;
    size_t count = 0, i = 0;
    int64_t next_us = INT64_MAX;
    for (; i <= self->mask && count < max; i++) {
        lease_t *lease = self->slots [i];
        if (!lease || lease->state == LEASE_QUEUED || lease->deadline_us == INT64_MAX)
            continue;
        if (lease->deadline_us <= now_us)
            seqs [count++] = lease->seq;
        else
        if (lease->deadline_us < next_us)
            next_us = lease->deadline_us;
    }
    //  A scan cut short by max leaves the rest unseen, and the caller may
    //  leave some of those it found as they were: look again next time.
    self->next_deadline_us = count > 0 || i <= self->mask ? now_us : next_us;
    return count;
}

