/*  histogram: a fixed-bucket histogram of durations in microseconds, the
    shape Prometheus exposes: 20 upper bounds from 100 us to 300 s (plus
    +Inf), a count and a sum. Exact (a value is counted in the first bucket
    whose bound it does not exceed), constant memory, a few compares per
    value. Embedded in the summary, one per quantity (task latency, handler
    time); /metrics reads it.

    It does not give percentiles: the summary's log-linear histogram does.
*/
#ifndef HISTOGRAM_H_INCLUDED
#define HISTOGRAM_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define HISTOGRAM_BOUNDS 20

typedef struct {
    uint64_t counts [HISTOGRAM_BOUNDS + 1];     //  per bucket, not cumulative; last: +Inf
    uint64_t count;                             //  values added
    int64_t sum_us;                             //  their sum (negative values count as 0)
} histogram_t;

//  The upper bound of bucket i (0 <= i < HISTOGRAM_BOUNDS), in microseconds.
int64_t histogram_bound_us (size_t i);
void histogram_init (histogram_t *self);
//  Adds one value (a negative one counts as 0).
void histogram_add (histogram_t *self, int64_t value_us);
//  Values at most bucket i's bound (i == HISTOGRAM_BOUNDS: all of them).
uint64_t histogram_cumulative (const histogram_t *self, size_t i);

#endif
