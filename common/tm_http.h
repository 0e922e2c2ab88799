/*  tm_http: a small HTTP server for a program's own poll loop, shared by
    the master (--http: dashboard, /api/status, /metrics) and the worker
    (--metrics: /metrics). The caller supplies the routes: static bodies
    served as they are, and dynamic ones whose body it sets when it has a
    new one. GET and HEAD only (405 otherwise), a GET with a body 400, any
    other path 404; every response carries Content-Security-Policy:
    default-src 'self'.

    libmicrohttpd in external polling mode with epoll: no thread of its
    own. The caller polls tm_http_fd with its sockets and calls
    tm_http_run when tm_http_pending says so, so requests are answered on
    the caller's thread and never race its state. At most 64 connections
    (more wait in the backlog), each closed after 10 s idle, a request's
    headers within 16 KiB: slow or hostile clients cost memory that is
    bounded, never the loop.

    Also the rules both programs' [ADDR:]PORT options follow: loopback
    unless an address is given, a warning when bound beyond it.
*/
#ifndef TM_HTTP_H_INCLUDED
#define TM_HTTP_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TM_HTTP_DEFAULT_HOST "127.0.0.1"
#define TM_HTTP_HOST_MAX 46             //  INET6_ADDRSTRLEN

//  One path it answers. A static route (data not NULL) serves data as is:
//  it must outlive the server (a literal, a compiled-in asset). A dynamic
//  one (data NULL) serves what tm_http_set_body last gave it (empty
//  before that).
typedef struct {
    const char *path;
    const char *content_type;
    const void *data;
    size_t size;
} tm_http_route_t;

typedef struct {
    const char *name;                   //  the subject of its log lines: "http", "metrics"
    const char *not_found;              //  a 404's body: say which paths there are
    const tm_http_route_t *routes;      //  copied; their strings and bodies are borrowed
    size_t route_count;
} tm_http_config_t;

typedef struct _tm_http_t tm_http_t;

//  Parses "[ADDR:]PORT": ADDR a numeric IPv4 address, * (every IPv4
//  address) or an IPv6 one in brackets, TM_HTTP_DEFAULT_HOST when left
//  out; PORT 0 to 65535 (0: any free one). Writes the address to bind into
//  host (TM_HTTP_HOST_MAX bytes) and the port into *port. Returns 0, or
//  -1 (host and *port then unchanged).
int tm_http_parse_listen (const char *text, char *host, int *port);
//  True if host (numeric) is a loopback address, reachable from this host
//  only.
bool tm_http_is_loopback (const char *host);

//  Listens on host (numeric IPv4 or IPv6) and port (0: any free one),
//  warning if that is reachable beyond this host. config is read here
//  only. Returns NULL after logging "NAME: cannot listen ..." if it cannot.
tm_http_t *tm_http_new (const char *host, int port, const tm_http_config_t *config);
void tm_http_destroy (tm_http_t **self_p);
//  The port it listens on.
int tm_http_port (tm_http_t *self);
//  Where it listens, for log lines: "127.0.0.1:8080", "[::1]:8080".
const char *tm_http_address (tm_http_t *self);
//  Connections open now (at most 64: more wait in the listen backlog).
size_t tm_http_connections (tm_http_t *self);
//  The file descriptor to poll for input (an epoll fd: the listener and
//  every connection).
int tm_http_fd (tm_http_t *self);
//  When tm_http_run must run at the latest, on tm_clock_now_us's clock,
//  even if tm_http_fd stays quiet (INT64_MAX: only when it is readable).
//  The caller's poll timeout must not go past it.
int64_t tm_http_due_us (tm_http_t *self);
//  Whether to call tm_http_run after a poll in which tm_http_fd got
//  revents: it was readable, or it is due.
bool tm_http_pending (tm_http_t *self, short revents, int64_t now_us);
//  Accepts, reads, answers and times out what is ready; never blocks.
void tm_http_run (tm_http_t *self, int64_t now_us);
//  What the dynamic route path serves from now on. Borrowed: it must stay
//  valid until the next call for that path (or tm_http_destroy). Every
//  request until then shares one copy of it, made when first asked for.
void tm_http_set_body (tm_http_t *self, const char *path, const char *body, size_t size);

#endif
