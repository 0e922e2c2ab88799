/*  throughput: a bucket index past the end halves the resolution until it
    fits: at most 63 halvings, each THROUGHPUT_BUCKETS / 2 additions. A
    result in the bucket of the one before (nearly all of them) costs two
    compares, not a division.
*/
#include "throughput.h"
#include <string.h>

#define S_SECOND_US 1000000

void
throughput_init (throughput_t *self, int64_t start_us)
{
    memset (self, 0, sizeof *self);
    self->start_us = self->current_from_us = self->current_to_us = start_us;
    self->bucket_us = S_SECOND_US;
}

static void
s_halve (throughput_t *self)
{
    for (size_t i = 0; i < THROUGHPUT_BUCKETS / 2; i++)
        self->counts [i] = self->counts [2 * i] + self->counts [2 * i + 1];
    memset (self->counts + THROUGHPUT_BUCKETS / 2, 0,
            THROUGHPUT_BUCKETS / 2 * sizeof self->counts [0]);
    self->bucket_us *= 2;
    self->used = (self->used + 1) / 2;
    self->current_to_us = self->current_from_us;    //  its span changed
}

//  The bucket now_us falls in, halving until there is one.
static size_t
s_bucket (throughput_t *self, int64_t now_us)
{
    int64_t since_us = now_us > self->start_us ? now_us - self->start_us : 0;
    while (since_us / self->bucket_us >= THROUGHPUT_BUCKETS)
        s_halve (self);
    size_t bucket = (size_t) (since_us / self->bucket_us);
    if (bucket + 1 > self->used)
        self->used = bucket + 1;
    return bucket;
}

void
throughput_add (throughput_t *self, int64_t now_us, uint64_t n)
{
    if (now_us < self->current_from_us || now_us >= self->current_to_us) {
        self->current = s_bucket (self, now_us);
        self->current_from_us = self->start_us + (int64_t) self->current * self->bucket_us;
        self->current_to_us = self->current_from_us + self->bucket_us;
    }
    self->counts [self->current] += n;
}

void
throughput_extend (throughput_t *self, int64_t now_us)
{
    s_bucket (self, now_us);
}
