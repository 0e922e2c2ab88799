/*  progress: a throttled, carriage-return progress line. */
#include "progress.h"
#include <czmq.h>

#define S_REDRAW_US 250000

struct _progress_t {
    bool enabled;
    bool drawn;             //  a line is on screen
    int64_t start_us;
    int64_t last_us;        //  last redraw
};

progress_t *
progress_new (bool enabled, int64_t now_us)
{
    progress_t *self = (progress_t *) zmalloc (sizeof (progress_t));
    self->enabled = enabled;
    self->start_us = now_us;
    return self;
}

void
progress_destroy (progress_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        progress_clear (*self_p);
        free (*self_p);
        *self_p = NULL;
    }
}

void
progress_update (progress_t *self, int64_t now_us, uint64_t done, uint64_t not_ok,
                 uint64_t in_flight, uint64_t total, size_t workers)
{
    if (!self->enabled || now_us - self->last_us < S_REDRAW_US)
        return;
    self->last_us = now_us;
    double seconds = (double) (now_us - self->start_us) / 1e6;
    double rate = seconds > 0 ? (double) done / seconds : 0;
    char of_total [32] = "";
    if (total)
        snprintf (of_total, sizeof of_total, "/%" PRIu64, total);
    fprintf (stderr, "\r\033[K%" PRIu64 "%s done, %" PRIu64 " not ok, %" PRIu64
             " in flight, %.0f tasks/s, %zu workers, %.1f s",
             done, of_total, not_ok, in_flight, rate, workers, seconds);
    self->drawn = true;
}

void
progress_clear (progress_t *self)
{
    if (self->drawn) {
        fprintf (stderr, "\r\033[K");
        self->drawn = false;
    }
}
