/*  loghist: a log-linear histogram of non-negative integers (durations in
    microseconds), for percentiles in constant memory: 16 sub-buckets per
    power of two, so a percentile is reported within 1/16 (6.25%) above
    the true value at that rank, never below it, and exact under 16 (and
    for the maximum, which is kept as is). 8 KiB, an add is a shift and an
    increment. The summary holds one per quantity (latency, queue wait,
    run time).

    Percentile q of n values is the value at rank floor(q * n) (0-based,
    at most n - 1) of the values sorted. It is not the Prometheus
    histogram: that one is master/histogram.h, with fixed bounds.
*/
#ifndef LOGHIST_H_INCLUDED
#define LOGHIST_H_INCLUDED

#include <stdint.h>

#define LOGHIST_SUB_BITS 4
#define LOGHIST_BUCKETS (64 << LOGHIST_SUB_BITS)

typedef struct {
    uint64_t counts [LOGHIST_BUCKETS];
    uint64_t count;             //  values added
    int64_t max;                //  the largest (0 if none)
    int64_t sum;                //  their sum
} loghist_t;

//  The percentiles reports show.
typedef struct {
    int64_t p50, p90, p99, max;
} loghist_summary_t;

void loghist_init (loghist_t *self);
//  Adds one value (a negative one counts as 0).
void loghist_add (loghist_t *self, int64_t value);
//  The value at quantile q (0..1), within 1/16 above; 0 if empty.
int64_t loghist_quantile (const loghist_t *self, double q);
//  p50, p90, p99 and max in one pass.
loghist_summary_t loghist_summary (const loghist_t *self);

#endif
