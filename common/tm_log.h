/*  tm_log: logging setup for every taskmill program. All logs go through
    zsys_* to stderr, because stdout carries results.
*/
#ifndef TM_LOG_H_INCLUDED
#define TM_LOG_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

//  Initialises czmq and sends its log to stderr under ident.
void tm_log_init (const char *ident);

//  Rate limiter for warnings about misbehaving peers or input: at most one
//  line per interval, with the number suppressed since the last one.
typedef struct {
    int64_t last_us;        //  when the last line was logged (monotonic)
    uint64_t suppressed;    //  events since then that were not logged
} tm_log_limiter_t;

//  True if the caller should log now; *suppressed gets the count to mention.
bool tm_log_limiter_allow (tm_log_limiter_t *self, int64_t now_us, uint64_t *suppressed);

#endif
