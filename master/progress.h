/*  progress: one line on stderr, redrawn a few times a second, when stderr
    is a terminal: a bar, done of total, failed, in flight, rate, ETA,
    workers. While it is on, log lines clear it and it is drawn again below
    them. Silent otherwise, so logs and pipes stay clean.
*/
#ifndef PROGRESS_H_INCLUDED
#define PROGRESS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _progress_t progress_t;

//  enabled: false makes every call a no-op (--quiet, or not a terminal);
//  true also sends czmq's log through the progress line's stream until
//  progress_destroy.
progress_t *progress_new (bool enabled, int64_t now_us);
void progress_destroy (progress_t **self_p);
//  Redraws if due. total is 0 while the input is still being read.
void progress_update (progress_t *self, int64_t now_us, uint64_t done, uint64_t not_ok,
                      uint64_t in_flight, uint64_t total, size_t workers);
//  Clears the line before other output.
void progress_clear (progress_t *self);

#endif
