/*  http: the master's HTTP endpoint (--http [ADDR:]PORT) as routes over
    tm_http: the dashboard at / and its assets (compiled into the binary),
    /api/status (the status snapshot as is) and /metrics (the Prometheus
    text). tm_http says how requests are served; this says what.

    The master polls tm_http_fd with its sockets, runs tm_http_run when
    tm_http_pending says so, and hands over each tick's snapshot here;
    requests are answered from it, so they never touch the tables and
    asking often costs the job a copy at most once per tick.

    It does not build the snapshot (status and metrics do).
*/
#ifndef HTTP_H_INCLUDED
#define HTTP_H_INCLUDED

#include "tm_http.h"
#include <stddef.h>

//  A tm_http_t with the master's routes, listening on host (numeric) and
//  port (0: any free one), or NULL after logging. Destroy it with
//  tm_http_destroy.
tm_http_t *http_new (const char *host, int port);
//  The bodies of /api/status and /metrics from now on. Borrowed: both must
//  stay valid until the next call (or tm_http_destroy).
void http_set_snapshot (tm_http_t *http, const char *status_json, const char *metrics,
                        size_t metrics_size);

#endif
