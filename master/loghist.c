/*  loghist: bucket b < 16 holds the value b; above, a value whose top set
    bit is t falls in one of 16 equal slices of [2^t, 2^(t+1)), picked by
    the 4 bits below t. A percentile is its bucket's upper bound, capped at
    the maximum seen: at or above the true value, by less than 2^t / 16.
*/
#include "loghist.h"
#include <string.h>

#define S_SUB (1u << LOGHIST_SUB_BITS)

void
loghist_init (loghist_t *self)
{
    memset (self, 0, sizeof *self);
}

static size_t
s_bucket_of (int64_t value)
{
    uint64_t v = value > 0 ? (uint64_t) value : 0;
    if (v < S_SUB)
        return (size_t) v;
    int top = 63 - __builtin_clzll (v);
    uint64_t sub = (v >> (top - LOGHIST_SUB_BITS)) & (S_SUB - 1);
    return ((size_t) (top - LOGHIST_SUB_BITS + 1) << LOGHIST_SUB_BITS) | (size_t) sub;
}

//  The largest value bucket holds.
static int64_t
s_bucket_top (size_t bucket)
{
    if (bucket < S_SUB)
        return (int64_t) bucket;
    int top = (int) (bucket >> LOGHIST_SUB_BITS) + LOGHIST_SUB_BITS - 1;
    uint64_t sub = bucket & (S_SUB - 1);
    uint64_t low = (1ull << top) | (sub << (top - LOGHIST_SUB_BITS));
    uint64_t high = low + (1ull << (top - LOGHIST_SUB_BITS)) - 1;
    return high > INT64_MAX ? INT64_MAX : (int64_t) high;
}

void
loghist_add (loghist_t *self, int64_t value)
{
    if (value < 0)
        value = 0;
    self->counts [s_bucket_of (value)]++;
    self->count++;
    self->sum += value;
    if (value > self->max)
        self->max = value;
}

static uint64_t
s_rank (const loghist_t *self, double q)
{
    uint64_t rank = q > 0 ? (uint64_t) (q * (double) self->count) : 0;
    return rank < self->count ? rank : self->count - 1;
}

//  Fills values [i] with quantile qs [i] (qs ascending) in one pass.
static void
s_quantiles (const loghist_t *self, const double *qs, int64_t *values, size_t n)
{
    size_t next = 0;
    uint64_t seen = 0;
    for (size_t b = 0; b < LOGHIST_BUCKETS && next < n; b++) {
        seen += self->counts [b];
        while (next < n && seen > s_rank (self, qs [next])) {
            int64_t top = s_bucket_top (b);
            values [next++] = top < self->max ? top : self->max;
        }
    }
    while (next < n)
        values [next++] = self->max;
}

int64_t
loghist_quantile (const loghist_t *self, double q)
{
    if (self->count == 0)
        return 0;
    int64_t value;
    s_quantiles (self, &q, &value, 1);
    return value;
}

loghist_summary_t
loghist_summary (const loghist_t *self)
{
    loghist_summary_t summary = { 0, 0, 0, 0 };
    if (self->count == 0)
        return summary;
    static const double qs [3] = { 0.50, 0.90, 0.99 };
    int64_t values [3];
    s_quantiles (self, qs, values, 3);
    summary.p50 = values [0];
    summary.p90 = values [1];
    summary.p99 = values [2];
    summary.max = self->max;
    return summary;
}
