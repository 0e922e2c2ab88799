/*  tm_clock: monotonic time in microseconds, for deadlines, leases and rates.
    Wall-clock time appears only in results (start_us), via tm_clock_wall_us.
*/
#ifndef TM_CLOCK_H_INCLUDED
#define TM_CLOCK_H_INCLUDED

#include <stdint.h>
#include <time.h>

//  Monotonic microseconds since an arbitrary origin.
static inline int64_t
tm_clock_now_us (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

//  Microseconds since the Unix epoch.
static inline int64_t
tm_clock_wall_us (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    return (int64_t) now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

#endif
