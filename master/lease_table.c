/*  lease_table: open addressing on seq with linear probing and backward-shift
    deletion, so there are no tombstones and lookups stay short however many
    tasks pass through. The slot array is twice the capacity, rounded up to a
    power of two, and never grows.
*/
#include "lease_table.h"
#include <assert.h>
#include <stdlib.h>
#include <string.h>

struct _lease_table_t {
    lease_t **slots;        //  NULL or a lease
    size_t mask;            //  slot count - 1
    size_t capacity;        //  most leases at once
    size_t size;            //  leases now
    size_t bytes;           //  payload bytes of those leases
    uint64_t last_seq;      //  highest seq issued
};

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
    return self;
}

void
lease_table_destroy (lease_table_t **self_p)
{
    assert (self_p);
    lease_table_t *self = *self_p;
    if (self) {
        for (size_t i = 0; i <= self->mask; i++)
            free (self->slots [i]);
        free (self->slots);
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
                   uint32_t timeout_ms, uint32_t max_attempts)
{
    if (self->size >= self->capacity)
        return NULL;
    size_t id_size = strlen (id) + 1;
    size_t type_size = strlen (type) + 1;
    lease_t *lease = (lease_t *) malloc (sizeof (lease_t) + id_size + type_size + payload_size);
    assert (lease);
    char *strings = (char *) (lease + 1);
    memcpy (strings, id, id_size);
    memcpy (strings + id_size, type, type_size);
    uint8_t *bytes = (uint8_t *) strings + id_size + type_size;
    if (payload_size)
        memcpy (bytes, payload, payload_size);
    *lease = (lease_t) {
        .seq = ++self->last_seq,
        .id = strings,
        .type = strings + id_size,
        .payload = bytes,
        .payload_size = payload_size,
        .timeout_ms = timeout_ms,
        .attempt = 1,
        .max_attempts = max_attempts ? max_attempts : 1,
        .state = LEASE_QUEUED,
    };
    self->slots [s_find_slot (self, lease->seq)] = lease;
    self->size++;
    self->bytes += payload_size;
    return lease;
}

void
lease_table_skip (lease_table_t *self)
{
    self->last_seq++;
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

void
lease_table_finish (lease_table_t *self, uint64_t seq)
{
    size_t hole = s_find_slot (self, seq);
    if (!self->slots [hole])
        return;
    self->bytes -= self->slots [hole]->payload_size;
    free (self->slots [hole]);
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
    size_t count = 0;
    for (size_t i = 0; i <= self->mask && count < max; i++) {
        lease_t *lease = self->slots [i];
        if (lease && lease->state != LEASE_QUEUED && lease->deadline_us <= now_us)
            seqs [count++] = lease->seq;
    }
    return count;
}

size_t
lease_table_sent_before (lease_table_t *self, int64_t before_us, lease_t **leases, size_t max)
{
    size_t count = 0;
    for (size_t i = 0; i <= self->mask && count < max; i++) {
        lease_t *lease = self->slots [i];
        if (lease && lease->state == LEASE_SENT && lease->sent_us < before_us)
            leases [count++] = lease;
    }
    return count;
}
