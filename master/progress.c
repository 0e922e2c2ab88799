/*  progress: a throttled, carriage-return progress line. Log lines go
    through a stream of ours (fopencookie) that clears the line, writes the
    log line, and draws the progress line again below it, so the two never
    run into each other. czmq logs from several threads: one mutex orders
    their writes and the redraws.
*/
#define _GNU_SOURCE
#include "progress.h"
#include <czmq.h>
#include <pthread.h>

#define S_REDRAW_US 250000
#define S_BAR_WIDTH 24

struct _progress_t {
    bool enabled;
    bool drawn;             //  a line is on screen
    int64_t start_us;
    int64_t last_us;        //  last redraw
    char line [256];        //  the line last drawn
    FILE *log;              //  czmq's log stream while enabled
    pthread_mutex_t lock;   //  orders log writes and redraws
};

//  The log stream's write: clear, write, redraw.
static ssize_t
s_log_write (void *cookie, const char *data, size_t size)
{
    progress_t *self = (progress_t *) cookie;
    pthread_mutex_lock (&self->lock);
    if (self->drawn)
        fputs ("\r\033[K", stderr);
    fwrite (data, 1, size, stderr);
    if (self->drawn && size && data [size - 1] == '\n')
        fputs (self->line, stderr);
    fflush (stderr);
    pthread_mutex_unlock (&self->lock);
    return (ssize_t) size;
}

progress_t *
progress_new (bool enabled, int64_t now_us)
{
    progress_t *self = (progress_t *) zmalloc (sizeof (progress_t));
    self->enabled = enabled;
    self->start_us = now_us;
    pthread_mutex_init (&self->lock, NULL);
    if (enabled) {
        cookie_io_functions_t io = { .write = s_log_write };
        self->log = fopencookie (self, "w", io);
        if (self->log) {
            setvbuf (self->log, NULL, _IOLBF, 0);
            zsys_set_logstream (self->log);
        }
    }
    return self;
}

void
progress_destroy (progress_t **self_p)
{
    assert (self_p);
    progress_t *self = *self_p;
    if (self) {
        progress_clear (self);
        if (self->log) {
            zsys_set_logstream (stderr);
            fclose (self->log);
        }
        pthread_mutex_destroy (&self->lock);
        free (self);
        *self_p = NULL;
    }
}

//  [#####.......]  41% 4100/10000, or without a total just the count.
static void
s_format (progress_t *self, double seconds, uint64_t done, uint64_t not_ok,
          uint64_t in_flight, uint64_t total, size_t workers)
{
    double rate = seconds > 0 ? (double) done / seconds : 0;
    char bar [S_BAR_WIDTH + 16] = "";
    char eta [32] = "";
    if (total) {
        size_t filled = (size_t) ((double) S_BAR_WIDTH * (double) done / (double) total);
        filled = filled > S_BAR_WIDTH ? S_BAR_WIDTH : filled;
        bar [0] = '[';
        memset (bar + 1, '#', filled);
        memset (bar + 1 + filled, '.', S_BAR_WIDTH - filled);
        snprintf (bar + 1 + S_BAR_WIDTH, sizeof bar - 1 - S_BAR_WIDTH, "] %3.0f%% ",
                  100.0 * (double) done / (double) total);
        if (rate > 0 && done < total)
            snprintf (eta, sizeof eta, ", ETA %.1f s", (double) (total - done) / rate);
    }
    char of_total [32] = "";
    if (total)
        snprintf (of_total, sizeof of_total, "/%" PRIu64, total);
    snprintf (self->line, sizeof self->line, "\r\033[K%s%" PRIu64 "%s done, %" PRIu64
              " not ok, %" PRIu64 " in flight, %.0f tasks/s%s, %zu workers, %.1f s",
              bar, done, of_total, not_ok, in_flight, rate, eta, workers, seconds);
}

void
progress_update (progress_t *self, int64_t now_us, uint64_t done, uint64_t not_ok,
                 uint64_t in_flight, uint64_t total, size_t workers)
{
    if (!self->enabled || now_us - self->last_us < S_REDRAW_US)
        return;
    self->last_us = now_us;
    pthread_mutex_lock (&self->lock);
    s_format (self, (double) (now_us - self->start_us) / 1e6, done, not_ok, in_flight,
              total, workers);
    fputs (self->line, stderr);
    fflush (stderr);
    self->drawn = true;
    pthread_mutex_unlock (&self->lock);
}

void
progress_clear (progress_t *self)
{
    pthread_mutex_lock (&self->lock);
    if (self->drawn) {
        fputs ("\r\033[K", stderr);
        fflush (stderr);
        self->drawn = false;
    }
    pthread_mutex_unlock (&self->lock);
}
