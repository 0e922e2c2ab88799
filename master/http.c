/*  http: a route table over libmicrohttpd. Static responses (the assets,
    404, 405) are made once; the two dynamic ones are made from a snapshot
    the first time it is asked for and shared, refcounted by libmicrohttpd,
    by every request until the next snapshot, so a slow client still
    reading an old one holds its own copy.
*/
#include "http.h"
#include "metrics.h"
#include "tm_clock.h"
#include "tm_log.h"
#include "dashboard_assets.h"       //  generated from master/dashboard/ at build time
#include <arpa/inet.h>
#include <czmq.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>

#define S_CSP "default-src 'self'"
#define S_CONNECTIONS_MAX 64            //  more wait in the listen backlog
#define S_CONNECTION_TIMEOUT_S 10       //  an idle or stalled client is closed
#define S_CONNECTION_MEMORY 16384       //  per connection: a request's headers must fit
#define S_JSON_TYPE "application/json"

typedef enum {
    S_ROUTE_ASSET,
    S_ROUTE_STATUS,
    S_ROUTE_METRICS
} s_route_kind_t;

typedef struct {
    const char *path;
    s_route_kind_t kind;
    struct MHD_Response *response;      //  S_ROUTE_ASSET: made once
} s_route_t;

struct _http_t {
    struct MHD_Daemon *daemon;
    int port;
    int fd;                             //  the daemon's epoll fd
    int64_t due_us;                     //  http_run must run by then
    s_route_t routes [DASHBOARD_ASSETS + 2];
    size_t route_count;
    struct MHD_Response *not_found;
    struct MHD_Response *not_allowed;
    struct MHD_Response *bad_request;   //  a GET with a body
    const char *status_json;            //  borrowed, the tick's snapshot
    const char *metrics;                //  borrowed
    size_t metrics_size;
    struct MHD_Response *status_response;   //  made from them when first asked
    struct MHD_Response *metrics_response;
    tm_log_limiter_t limiter;           //  libmicrohttpd's own complaints
};

static void
s_log (void *cls, const char *format, va_list args)
{
    http_t *self = (http_t *) cls;
    uint64_t suppressed;
    if (!tm_log_limiter_allow (&self->limiter, tm_clock_now_us (), &suppressed))
        return;
    char text [256];
    vsnprintf (text, sizeof text, format, args);
    text [strcspn (text, "\n")] = 0;
    zsys_warning ("http: %s (%" PRIu64 " more not logged)", text, suppressed);
}

//  Every response says what it is and forbids loading anything from
//  anywhere but this master.
static struct MHD_Response *
s_response (const void *data, size_t size, enum MHD_ResponseMemoryMode mode,
            const char *content_type, const char *cache)
{
    struct MHD_Response *response = MHD_create_response_from_buffer (size, (void *) data, mode);
    assert (response);
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header (response, MHD_HTTP_HEADER_CONTENT_SECURITY_POLICY, S_CSP);
    MHD_add_response_header (response, MHD_HTTP_HEADER_X_CONTENT_TYPE_OPTIONS, "nosniff");
    MHD_add_response_header (response, "Referrer-Policy", "no-referrer");
    MHD_add_response_header (response, MHD_HTTP_HEADER_CACHE_CONTROL, cache);
    return response;
}

static void
s_make_routes (http_t *self)
{
    for (size_t i = 0; i < DASHBOARD_ASSETS; i++) {
        const dashboard_asset_t *asset = &dashboard_assets [i];
        //  Assets change only with the binary, but a new binary must not
        //  be served an old page: browsers revalidate each time.
        self->routes [self->route_count++] = (s_route_t) {
            asset->path, S_ROUTE_ASSET,
            s_response (asset->data, asset->size, MHD_RESPMEM_PERSISTENT,
                        asset->content_type, "no-cache")
        };
    }
    self->routes [self->route_count++] = (s_route_t) { "/api/status", S_ROUTE_STATUS, NULL };
    self->routes [self->route_count++] = (s_route_t) { "/metrics", S_ROUTE_METRICS, NULL };
    const char *not_found = "not found: try /, /api/status or /metrics\n";
    self->not_found = s_response (not_found, strlen (not_found), MHD_RESPMEM_PERSISTENT,
                                  "text/plain; charset=utf-8", "no-store");
    const char *not_allowed = "method not allowed: GET or HEAD only\n";
    self->not_allowed = s_response (not_allowed, strlen (not_allowed), MHD_RESPMEM_PERSISTENT,
                                    "text/plain; charset=utf-8", "no-store");
    MHD_add_response_header (self->not_allowed, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    const char *bad_request = "bad request: a GET takes no body\n";
    self->bad_request = s_response (bad_request, strlen (bad_request), MHD_RESPMEM_PERSISTENT,
                                    "text/plain; charset=utf-8", "no-store");
}

//  The response for a dynamic route, made from the snapshot once.
static struct MHD_Response *
s_dynamic (http_t *self, s_route_kind_t kind)
{
    if (kind == S_ROUTE_STATUS && !self->status_response) {
        const char *json = self->status_json ? self->status_json : "{}";
        self->status_response = s_response (json, strlen (json), MHD_RESPMEM_MUST_COPY,
                                            S_JSON_TYPE, "no-store");
    }
    if (kind == S_ROUTE_METRICS && !self->metrics_response)
        self->metrics_response = s_response (self->metrics ? self->metrics : "",
                                             self->metrics ? self->metrics_size : 0,
                                             MHD_RESPMEM_MUST_COPY, METRICS_CONTENT_TYPE,
                                             "no-store");
    return kind == S_ROUTE_STATUS ? self->status_response : self->metrics_response;
}

static bool
s_has_body (struct MHD_Connection *connection)
{
    const char *length = MHD_lookup_connection_value (connection, MHD_HEADER_KIND,
                                                      MHD_HTTP_HEADER_CONTENT_LENGTH);
    return (length && strcmp (length, "0") != 0)
        || MHD_lookup_connection_value (connection, MHD_HEADER_KIND,
                                        MHD_HTTP_HEADER_TRANSFER_ENCODING);
}

static enum MHD_Result
s_answer (void *cls, struct MHD_Connection *connection, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_data_size, void **state)
{
    (void) version;
    (void) upload_data;
    http_t *self = (http_t *) cls;
    //  Other methods are answered at once, before any body is read:
    //  libmicrohttpd then closes the connection rather than read it.
    if (strcmp (method, MHD_HTTP_METHOD_GET) != 0 && strcmp (method, MHD_HTTP_METHOD_HEAD) != 0)
        return MHD_queue_response (connection, MHD_HTTP_METHOD_NOT_ALLOWED, self->not_allowed);
    //  A GET with a body is refused before the body is read (nothing here
    //  wants one, and reading it would feed the master's loop for nothing).
    if (!*state && s_has_body (connection))
        return MHD_queue_response (connection, MHD_HTTP_BAD_REQUEST, self->bad_request);
    //  Otherwise it is answered at the second call, once the request is
    //  all in, so that the connection can stay open for the next (a
    //  scraper's).
    if (!*state) {
        *state = self;      //  any non-NULL: the request's first call was seen
        return MHD_YES;
    }
    *upload_data_size = 0;
    for (size_t i = 0; i < self->route_count; i++) {
        const s_route_t *route = &self->routes [i];
        if (strcmp (url, route->path) != 0)
            continue;
        struct MHD_Response *response = route->kind == S_ROUTE_ASSET
                                      ? route->response : s_dynamic (self, route->kind);
        return MHD_queue_response (connection, MHD_HTTP_OK, response);
    }
    return MHD_queue_response (connection, MHD_HTTP_NOT_FOUND, self->not_found);
}

static bool
s_is_loopback (const struct sockaddr_storage *address)
{
    if (address->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *) address;
        return (ntohl (in->sin_addr.s_addr) >> 24) == 127;
    }
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) address;
    return IN6_IS_ADDR_LOOPBACK (&in6->sin6_addr);
}

//  host:port as a socket address. Returns 0, or -1 if host is not numeric.
static int
s_address (const char *host, int port, struct sockaddr_storage *address)
{
    memset (address, 0, sizeof *address);
    struct sockaddr_in *in = (struct sockaddr_in *) address;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) address;
    if (inet_pton (AF_INET, host, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons ((uint16_t) port);
        return 0;
    }
    if (inet_pton (AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons ((uint16_t) port);
        return 0;
    }
    return -1;
}

static int
s_port (const struct sockaddr_storage *address)
{
    return ntohs (address->ss_family == AF_INET
                  ? ((const struct sockaddr_in *) address)->sin_port
                  : ((const struct sockaddr_in6 *) address)->sin6_port);
}

//  The port is ignored beside MHD_OPTION_SOCK_ADDR but named in its logs.
static struct MHD_Daemon *
s_start (http_t *self, const struct sockaddr_storage *address)
{
    unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (address->ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    return MHD_start_daemon (
        flags, (uint16_t) s_port (address), NULL, NULL, s_answer, self,
        MHD_OPTION_EXTERNAL_LOGGER, s_log, self,        //  first, or some lines miss it
        MHD_OPTION_SOCK_ADDR, (const struct sockaddr *) address,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int) S_CONNECTIONS_MAX,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) S_CONNECTION_TIMEOUT_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) S_CONNECTION_MEMORY,
        MHD_OPTION_END);
}

http_t *
http_new (const char *host, int port)
{
    struct sockaddr_storage address;
    if (s_address (host, port, &address) == -1) {
        zsys_error ("http: '%s' is not a numeric IPv4 or IPv6 address", host);
        return NULL;
    }
    http_t *self = (http_t *) zmalloc (sizeof (http_t));
    self->daemon = s_start (self, &address);
    if (!self->daemon) {
        zsys_error ("http: cannot listen on %s port %d", host, port);
        free (self);
        return NULL;
    }
    self->port = MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_BIND_PORT)->port;
    self->fd = MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_EPOLL_FD)->epoll_fd;
    self->due_us = INT64_MAX;
    s_make_routes (self);
    const char *bracket = address.ss_family == AF_INET6 ? "[" : "";
    const char *close = address.ss_family == AF_INET6 ? "]" : "";
    if (!s_is_loopback (&address))
        zsys_warning ("http bound to %s%s%s:%d in plaintext, reachable beyond this host "
                      "(no authentication: anyone who can reach it sees the job)",
                      bracket, host, close, self->port);
    zsys_info ("http: dashboard on http://%s%s%s:%d/ (also /api/status, /metrics)",
               bracket, host, close, self->port);
    return self;
}

static void
s_drop_snapshot (http_t *self)
{
    //  libmicrohttpd keeps a response alive while a connection sends it.
    if (self->status_response)
        MHD_destroy_response (self->status_response);
    if (self->metrics_response)
        MHD_destroy_response (self->metrics_response);
    self->status_response = self->metrics_response = NULL;
}

void
http_destroy (http_t **self_p)
{
    assert (self_p);
    http_t *self = *self_p;
    if (!self)
        return;
    MHD_stop_daemon (self->daemon);
    s_drop_snapshot (self);
    for (size_t i = 0; i < self->route_count; i++)
        if (self->routes [i].response)
            MHD_destroy_response (self->routes [i].response);
    MHD_destroy_response (self->not_found);
    MHD_destroy_response (self->not_allowed);
    MHD_destroy_response (self->bad_request);
    free (self);
    *self_p = NULL;
}

int
http_port (http_t *self)
{
    return self->port;
}

int
http_fd (http_t *self)
{
    return self->fd;
}

int64_t
http_due_us (http_t *self)
{
    return self->due_us;
}

void
http_run (http_t *self, int64_t now_us)
{
    MHD_run (self->daemon);
    //  Only a run changes what libmicrohttpd waits for, so asking after
    //  each is enough: the poll loop need not ask every turn.
    MHD_UNSIGNED_LONG_LONG timeout_ms;
    if (MHD_get_timeout (self->daemon, &timeout_ms) == MHD_YES)
        self->due_us = timeout_ms < (MHD_UNSIGNED_LONG_LONG) INT32_MAX
                     ? now_us + (int64_t) timeout_ms * 1000 : INT64_MAX;
    else
        self->due_us = INT64_MAX;
}

void
http_set_snapshot (http_t *self, const char *status_json, const char *metrics,
                   size_t metrics_size)
{
    s_drop_snapshot (self);
    self->status_json = status_json;
    self->metrics = metrics;
    self->metrics_size = metrics_size;
}
