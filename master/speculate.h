/*  speculate: tail speculation (--speculate). Once no unsent task remains,
    a task its worker has reported running for longer than 3 x the median
    run time of its type, and longer than a minimum (1 s), gets one copy on
    another worker with a thread to spare; the first result wins, the other is dropped and
    counted. Copies in flight are capped at a tenth of the workers' credit
    (at least two). exec tasks are never copied unless allowed (they may
    have side effects).

    It picks and sends copies; the master decides what a copy's result
    means (a copy's failure changes nothing while the original runs).
*/
#ifndef SPECULATE_H_INCLUDED
#define SPECULATE_H_INCLUDED

#include "dispatcher.h"
#include "lease_table.h"
#include "worker_table.h"
#include <stdbool.h>
#include <stdint.h>

#define SPECULATE_DEFAULT_MIN_US 1000000
#define SPECULATE_FACTOR 3              //  x the median run time
#define SPECULATE_MIN_SAMPLES 5         //  run times of a type before its median counts

typedef struct _speculate_t speculate_t;

//  All borrowed. min_us: the least a task runs before it is copied; exec:
//  copy exec tasks too.
speculate_t *speculate_new (lease_table_t *leases, dispatcher_t *dispatcher,
                            worker_table_t *workers, int64_t min_us, bool exec);
void speculate_destroy (speculate_t **self_p);
//  A final ok result's run time, for its type's median.
void speculate_observe (speculate_t *self, const char *type, int64_t duration_us);
//  The median run time of type, or -1 before enough results.
int64_t speculate_median_us (speculate_t *self, const char *type);
//  Sends copies of stragglers to idle workers. Returns how many it sent.
size_t speculate_tick (speculate_t *self, int64_t now_us);

#endif
