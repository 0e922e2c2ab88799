/*  credit: how many tasks a worker asks its master to keep outstanding at
    it (the window it sends in Credit). Enough to keep every thread busy
    through one round trip to the master and back, and no more, so that a
    fast worker is never starved and a slow one never sits on tasks that an
    idle worker could run:

        window = threads + rate * budget,   budget = 2 * round trip + 5 ms

    rate is the worker's measured completion rate (it rises at once and
    falls slowly), the round trip the shortest seen lately between sending a
    Credit and receiving a batch that echoes it (1 ms until the first echo,
    which replaces that guess whether longer or shorter). Bounded by the
    worker's --queue. The 5 ms are batching and scheduling on both sides,
    results waiting in the executor for company included. Pure arithmetic on
    times handed in: no I/O, no clock.

    Where it sits: the worker's loop feeds it completions and echoes, and
    sends a Credit when the window moves.
*/
#ifndef CREDIT_H_INCLUDED
#define CREDIT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    size_t threads;             //  executor threads
    size_t max;                 //  the largest window (--queue)
    double rate_per_us;         //  completions per µs, smoothed
    int64_t sample_start_us;    //  the rate sample being counted began then
    uint64_t sample_done;       //  completions in it
    bool rtt_measured;          //  an echo came (before it, rtt_us is a guess)
    int64_t rtt_us;             //  shortest round trip in this or the last period
    int64_t rtt_next_us;        //  shortest in this period
    int64_t rtt_period_us;      //  this period began then
    uint32_t sent;              //  the window last sent (0: none)
} credit_t;

//  Starts with no rate measured (the window is then the threads).
void credit_init (credit_t *self, size_t threads, size_t max, int64_t now_us);
//  count tasks finished at now_us.
void credit_completed (credit_t *self, size_t count, int64_t now_us);
//  A Credit sent at sent_us was echoed by a batch received at now_us.
void credit_echoed (credit_t *self, int64_t sent_us, int64_t now_us);
//  The window to ask for now.
uint32_t credit_window (const credit_t *self);
//  Whether the window moved enough from the last one sent to send it again.
bool credit_moved (const credit_t *self);
//  Notes that window was sent.
void credit_sent (credit_t *self, uint32_t window);

#endif
