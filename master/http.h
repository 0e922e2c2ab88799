/*  http: the master's HTTP endpoint (--http [ADDR:]PORT): the dashboard
    at / and its assets (compiled into the binary), /api/status (the status
    snapshot as is) and /metrics (the Prometheus text). GET and HEAD only
    (405 otherwise), 404 for any other path; every response carries
    Content-Security-Policy: default-src 'self'.

    libmicrohttpd in external polling mode with epoll: no thread of its
    own. The master polls http_fd with its sockets, calls http_run when it
    is readable or when http_due_us comes, and hands over each tick's
    snapshot; requests are answered from it, so they never touch the
    tables and asking often costs the job a copy at most once per tick.

    It does not build the snapshot (status and metrics do).
*/
#ifndef HTTP_H_INCLUDED
#define HTTP_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

typedef struct _http_t http_t;

//  Listens on host (a numeric IPv4 or IPv6 address) and port (0: any free
//  one), warning if that is reachable beyond this host. Returns NULL after
//  logging if it cannot.
http_t *http_new (const char *host, int port);
void http_destroy (http_t **self_p);
//  The port it listens on.
int http_port (http_t *self);
//  The file descriptor to poll for input (an epoll fd: listener and
//  connections).
int http_fd (http_t *self);
//  When http_run must run at the latest, on tm_clock_now_us's clock, even
//  if http_fd stays quiet (INT64_MAX: only when it is readable).
int64_t http_due_us (http_t *self);
//  Accepts, reads, answers and times out what is ready; never blocks.
void http_run (http_t *self, int64_t now_us);
//  The bodies of /api/status and /metrics from now on. Borrowed: both must
//  stay valid until the next call (or http_destroy).
void http_set_snapshot (http_t *self, const char *status_json, const char *metrics,
                        size_t metrics_size);

#endif
