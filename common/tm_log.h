/*  tm_log: logging setup for every taskmill program. All logs go through
    zsys_* to stderr, because stdout carries results.
*/
#ifndef TM_LOG_H_INCLUDED
#define TM_LOG_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
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

//  The buffer tm_log_safe needs for any string of n bytes, uncut.
#define TM_LOG_SAFE_BYTES(n) (4 * (n) + 4)

//  A string from a peer (a worker id, a job id, an error) made fit for a
//  log line or a terminal: control bytes (C0, DEL, and C1 as UTF-8) and
//  bytes that are not UTF-8 become \xNN, a backslash \\, so no peer can
//  move the cursor, set a title or start a line of its own. Writes into
//  buffer (cut with "..." if it is short; at least 4 bytes) and returns it.
const char *tm_log_safe (const char *text, char *buffer, size_t size);

#endif
