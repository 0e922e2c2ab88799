/*  autoscale: the controller. */
#include "autoscale.h"

void
autoscale_init (autoscale_t *self, size_t min, size_t max, int64_t threshold_us,
                int64_t shrink_after_us, int64_t now_us)
{
    *self = (autoscale_t) {
        .min = min, .max = max, .threads = min,
        .threshold_us = threshold_us > 0 ? threshold_us : AUTOSCALE_DEFAULT_THRESHOLD_US,
        .shrink_after_us = shrink_after_us, .grown_us = now_us
    };
}

size_t
autoscale_tick (autoscale_t *self, int64_t wait_us, size_t queued, size_t busy, int64_t now_us)
{
    if (wait_us > self->threshold_us && self->threads < self->max) {
        size_t more = queued ? queued : 1;
        self->threads = self->threads + more > self->max ? self->max : self->threads + more;
        self->grown_us = now_us;
        self->grown++;
        self->calm = 0;
        return self->threads;
    }
    //  Calm: short waits and a thread with nothing to do. Every thread busy
    //  means the pool is the right size even if nothing waits.
    if (wait_us * 4 < self->threshold_us * 3 && busy < self->threads)
        self->calm++;
    else
        self->calm = 0;
    if (self->calm >= AUTOSCALE_CALM_TICKS && self->threads > self->min
    &&  now_us - self->grown_us >= self->shrink_after_us) {
        self->threads--;
        self->shrunk++;
        self->calm = 0;
    }
    return self->threads;
}
