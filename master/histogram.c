/*  histogram: the bounds are the 1-2.5-5 series, with 25 s replaced by 30 s
    and 60 s and 120 s added: the task timeouts people set (a minute, two,
    five) are then bucket edges, and a task cut off at its timeout lands on
    the edge's near side.
*/
#include "histogram.h"
#include <assert.h>
#include <string.h>

static const int64_t s_bounds_us [HISTOGRAM_BOUNDS] = {
    100, 250, 500,
    1000, 2500, 5000,
    10000, 25000, 50000,
    100000, 250000, 500000,
    1000000, 2500000, 5000000,
    10000000, 30000000, 60000000, 120000000, 300000000
};

int64_t
histogram_bound_us (size_t i)
{
    assert (i < HISTOGRAM_BOUNDS);
    return s_bounds_us [i];
}

void
histogram_init (histogram_t *self)
{
    memset (self, 0, sizeof *self);
}

void
histogram_add (histogram_t *self, int64_t value_us)
{
    if (value_us < 0)
        value_us = 0;
    //  Most tasks are short: scanning from the bottom is a compare or two.
    size_t i = 0;
    while (i < HISTOGRAM_BOUNDS && value_us > s_bounds_us [i])
        i++;
    self->counts [i]++;
    self->count++;
    self->sum_us += value_us;
}

uint64_t
histogram_cumulative (const histogram_t *self, size_t i)
{
    assert (i <= HISTOGRAM_BOUNDS);
    uint64_t total = 0;
    for (size_t j = 0; j <= i; j++)
        total += self->counts [j];
    return total;
}
