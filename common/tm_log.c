/*  tm_log: zsys setup and a rate limiter for peer and input warnings. */
#include "tm_log.h"
#include <czmq.h>

#define S_LIMITER_INTERVAL_US 5000000

void
tm_log_init (const char *ident)
{
    zsys_init ();
    zsys_set_logident (ident);
    zsys_set_logstream (stderr);
    zsys_set_logsystem (false);
}

bool
tm_log_limiter_allow (tm_log_limiter_t *self, int64_t now_us, uint64_t *suppressed)
{
    if (self->last_us != 0 && now_us - self->last_us < S_LIMITER_INTERVAL_US) {
        self->suppressed++;
        return false;
    }
    *suppressed = self->suppressed;
    self->suppressed = 0;
    self->last_us = now_us;
    return true;
}
