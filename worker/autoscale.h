/*  autoscale: how many executor threads a worker started with
    --min-threads/--max-threads runs, decided from how long its queued tasks
    wait. Ticked every AUTOSCALE_TICK_US by the worker:

    - grow at once when the oldest queued task has waited longer than the
      threshold: by the tasks waiting (what more threads would start now),
      at most to the maximum;
    - shrink by one thread only after the wait has stayed under 0.75 x the
      threshold, with some thread idle, for three ticks, and shrink_after
      has passed since the last growth; never under the minimum.

    The worker's credit counts the maximum threads while the pool can still
    grow, so tasks reach it to wait and a backlog can show (a pool asking
    only for what its present threads run could never grow).
    Pure arithmetic on times handed in.
*/
#ifndef AUTOSCALE_H_INCLUDED
#define AUTOSCALE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#define AUTOSCALE_TICK_US 250000            //  how often it decides
#define AUTOSCALE_DEFAULT_THRESHOLD_US 50000
#define AUTOSCALE_DEFAULT_SHRINK_AFTER_US 30000000
#define AUTOSCALE_CALM_TICKS 3

typedef struct {
    size_t min, max;
    size_t threads;                 //  what it last decided
    int64_t threshold_us;
    int64_t shrink_after_us;
    int64_t grown_us;               //  the last growth (or the start)
    int calm;                       //  ticks in a row under 0.75 x the threshold
    uint64_t grown;                 //  growth events
    uint64_t shrunk;                //  shrink events
} autoscale_t;

void autoscale_init (autoscale_t *self, size_t min, size_t max, int64_t threshold_us,
                     int64_t shrink_after_us, int64_t now_us);
//  One tick: the oldest queued task has waited wait_us, queued tasks wait,
//  busy threads run one. Returns the thread count to run now.
size_t autoscale_tick (autoscale_t *self, int64_t wait_us, size_t queued, size_t busy,
                       int64_t now_us);

#endif
