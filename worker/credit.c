/*  credit: the window arithmetic. */
#include "credit.h"

#define S_SAMPLE_MIN_US 2000        //  a rate sample spans at least this
#define S_SAMPLE_MAX_US 100000      //  ... and at most this
#define S_SAMPLE_TASKS 16           //  ... closing between when it counted this many
#define S_DECAY 0.25                //  weight of a lower sample: the rate falls slowly
#define S_RTT_DEFAULT_US 1000       //  before any echo
#define S_RTT_MIN_US 100
#define S_RTT_MAX_US 1000000
#define S_RTT_PERIOD_US 10000000    //  the shortest round trip is forgotten after this
//  Batching and scheduling on both sides: 2 ms, and the 3 ms results may
//  wait in an executor block for company (executor.c's
//  EXECUTOR_BLOCK_HOLD_US), which the master counts as outstanding.
#define S_BUDGET_FIXED_US 5000

void
credit_init (credit_t *self, size_t threads, size_t max, int64_t now_us)
{
    *self = (credit_t) {
        .threads = threads ? threads : 1,
        .max = max,
        .sample_start_us = now_us,
        .rtt_us = S_RTT_DEFAULT_US,
        .rtt_next_us = S_RTT_MAX_US,
        .rtt_period_us = now_us,
    };
}

void
credit_completed (credit_t *self, size_t count, int64_t now_us)
{
    self->sample_done += count;
    int64_t span_us = now_us - self->sample_start_us;
    bool full = span_us >= S_SAMPLE_MIN_US && self->sample_done >= S_SAMPLE_TASKS;
    if (!full && span_us < S_SAMPLE_MAX_US)
        return;
    double sample = span_us > 0 ? (double) self->sample_done / (double) span_us : 0;
    //  Up at once, so a fast job's window opens within a few samples; down
    //  slowly, so one slow task does not shut it.
    if (sample >= self->rate_per_us)
        self->rate_per_us = sample;
    else
        self->rate_per_us += S_DECAY * (sample - self->rate_per_us);
    self->sample_start_us = now_us;
    self->sample_done = 0;
}

void
credit_echoed (credit_t *self, int64_t sent_us, int64_t now_us)
{
    int64_t rtt_us = now_us - sent_us;
    if (rtt_us < S_RTT_MIN_US)
        rtt_us = S_RTT_MIN_US;
    if (rtt_us > S_RTT_MAX_US)
        return;
    //  The default is a guess, not a measurement: were it kept as the
    //  shortest, a path slower than 1 ms (a WAN, a relay) would get a
    //  window of about the threads for a whole period (10 s).
    if (!self->rtt_measured) {
        self->rtt_measured = true;
        self->rtt_us = self->rtt_next_us = rtt_us;
        self->rtt_period_us = now_us;
        return;
    }
    if (now_us - self->rtt_period_us > S_RTT_PERIOD_US) {
        self->rtt_us = self->rtt_next_us;
        self->rtt_next_us = S_RTT_MAX_US;
        self->rtt_period_us = now_us;
    }
    if (rtt_us < self->rtt_next_us)
        self->rtt_next_us = rtt_us;
    if (rtt_us < self->rtt_us)
        self->rtt_us = rtt_us;
}

uint32_t
credit_window (const credit_t *self)
{
    double budget_us = 2.0 * (double) self->rtt_us + S_BUDGET_FIXED_US;
    //  Before any rate is measured, just the threads: a short job of long
    //  tasks is then spread over every worker, and a fast one opens the
    //  window within a few samples.
    double ahead = self->rate_per_us > 0 ? self->rate_per_us * budget_us + 1 : 0;
    double window = (double) self->threads + ahead;
    if (window > (double) self->max)
        window = (double) self->max;
    return (uint32_t) window;
}

bool
credit_moved (const credit_t *self)
{
    uint32_t window = credit_window (self);
    uint32_t sent = self->sent;
    uint32_t gap = window > sent ? window - sent : sent - window;
    //  Small windows follow every step; large ones only steps of an eighth.
    return gap > 0 && (sent <= 16 || gap >= sent / 8);
}

void
credit_sent (credit_t *self, uint32_t window)
{
    self->sent = window;
}
