/*  tm_http: a route table over libmicrohttpd. Static responses (the static
    routes, 404, 405, 400) are made once; a dynamic one is made from its
    body the first time it is asked for and shared, refcounted by
    libmicrohttpd, by every request until the next body, so a slow client
    still reading an old one holds its own copy.
*/
#include "tm_http.h"
#include "tm_clock.h"
#include "tm_endpoint.h"
#include "tm_log.h"
#include <arpa/inet.h>
#include <czmq.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>

#define S_CSP "default-src 'self'"
#define S_CONNECTIONS_MAX 64            //  more wait in the listen backlog
#define S_CONNECTION_TIMEOUT_S 10       //  an idle or stalled client is closed
#define S_CONNECTION_MEMORY 16384       //  per connection: a request's headers must fit
#define S_NAME_MAX 32
#define S_ADDRESS_MAX (TM_HTTP_HOST_MAX + 8)

typedef struct {
    tm_http_route_t route;              //  path, type and a static body: borrowed
    struct MHD_Response *response;      //  static: made once; dynamic: from body when asked
    const char *body;                   //  dynamic: borrowed, the last set
    size_t body_size;
} s_route_t;

struct _tm_http_t {
    struct MHD_Daemon *daemon;
    char name [S_NAME_MAX];
    char address [S_ADDRESS_MAX];       //  host:port as logged
    int port;
    int fd;                             //  the daemon's epoll fd
    int64_t due_us;                     //  tm_http_run must run by then
    unsigned int connections;           //  open now, as libmicrohttpd notifies them
    bool limit_reached;                 //  in this run, at S_CONNECTIONS_MAX
    s_route_t *routes;
    size_t route_count;
    struct MHD_Response *not_found;
    struct MHD_Response *not_allowed;
    struct MHD_Response *bad_request;   //  a GET with a body
    tm_log_limiter_t limiter;           //  libmicrohttpd's own complaints
};

int
tm_http_parse_listen (const char *text, char *host, int *port)
{
    char address [TM_HTTP_HOST_MAX] = TM_HTTP_DEFAULT_HOST;
    const char *digits = text;
    bool v6 = text [0] == '[';
    if (v6) {
        const char *close = strchr (text, ']');
        if (!close || close [1] != ':' || (size_t) (close - text - 1) >= sizeof address)
            return -1;
        snprintf (address, sizeof address, "%.*s", (int) (close - text - 1), text + 1);
        digits = close + 2;
    }
    else {
        const char *colon = strchr (text, ':');
        if (colon) {
            if (strchr (colon + 1, ':') || (size_t) (colon - text) >= sizeof address)
                return -1;      //  an IPv6 address wants brackets
            snprintf (address, sizeof address, "%.*s", (int) (colon - text), text);
            digits = colon + 1;
        }
    }
    if (streq (address, "*"))
        snprintf (address, sizeof address, "0.0.0.0");
    unsigned char binary [sizeof (struct in6_addr)];
    long long value;
    if (inet_pton (v6 ? AF_INET6 : AF_INET, address, binary) != 1
    ||  tm_parse_int (digits, 0, 65535, &value) != 0)
        return -1;
    memcpy (host, address, sizeof address);
    *port = (int) value;
    return 0;
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

bool
tm_http_is_loopback (const char *host)
{
    struct sockaddr_storage address;
    return s_address (host, 0, &address) == 0 && s_is_loopback (&address);
}

static void
s_log (void *cls, const char *format, va_list args)
{
    tm_http_t *self = (tm_http_t *) cls;
    uint64_t suppressed;
    if (!tm_log_limiter_allow (&self->limiter, tm_clock_now_us (), &suppressed))
        return;
    char text [256];
    vsnprintf (text, sizeof text, format, args);
    text [strcspn (text, "\n")] = 0;
    zsys_warning ("%s: %s (%" PRIu64 " more not logged)", self->name, text, suppressed);
}

static void
s_notify (void *cls, struct MHD_Connection *connection, void **socket_context,
          enum MHD_ConnectionNotificationCode code)
{
    (void) connection;
    (void) socket_context;
    tm_http_t *self = (tm_http_t *) cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        self->connections++;
        if (self->connections >= S_CONNECTIONS_MAX)
            self->limit_reached = true;
    }
    else {
        assert (self->connections > 0);
        self->connections--;
    }
}

//  Every response says what it is and forbids loading anything from
//  anywhere but this server.
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

static struct MHD_Response *
s_text_response (const char *text)
{
    return s_response (text, strlen (text), MHD_RESPMEM_PERSISTENT,
                       "text/plain; charset=utf-8", "no-store");
}

static void
s_make_routes (tm_http_t *self, const tm_http_config_t *config)
{
    self->route_count = config->route_count;
    self->routes = (s_route_t *) zmalloc (config->route_count * sizeof (s_route_t));
    for (size_t i = 0; i < config->route_count; i++) {
        const tm_http_route_t *route = &config->routes [i];
        self->routes [i].route = *route;
        //  A static body changes only with the binary, but a new binary
        //  must not be served an old one: browsers revalidate each time.
        if (route->data)
            self->routes [i].response = s_response (route->data, route->size,
                                                    MHD_RESPMEM_PERSISTENT,
                                                    route->content_type, "no-cache");
    }
    self->not_found = s_text_response (config->not_found);
    self->not_allowed = s_text_response ("method not allowed: GET or HEAD only\n");
    MHD_add_response_header (self->not_allowed, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    self->bad_request = s_text_response ("bad request: a GET takes no body\n");
}

//  A route's response: a dynamic one is made from its body once.
static struct MHD_Response *
s_route_response (s_route_t *route)
{
    if (!route->response)
        route->response = s_response (route->body ? route->body : "",
                                      route->body ? route->body_size : 0,
                                      MHD_RESPMEM_MUST_COPY, route->route.content_type,
                                      "no-store");
    return route->response;
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
    tm_http_t *self = (tm_http_t *) cls;
    //  Other methods are answered at once, before any body is read:
    //  libmicrohttpd then closes the connection rather than read it.
    if (strcmp (method, MHD_HTTP_METHOD_GET) != 0 && strcmp (method, MHD_HTTP_METHOD_HEAD) != 0)
        return MHD_queue_response (connection, MHD_HTTP_METHOD_NOT_ALLOWED, self->not_allowed);
    //  A GET with a body is refused before the body is read (nothing here
    //  wants one, and reading it would feed the caller's loop for nothing).
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
    for (size_t i = 0; i < self->route_count; i++)
        if (strcmp (url, self->routes [i].route.path) == 0)
            return MHD_queue_response (connection, MHD_HTTP_OK,
                                       s_route_response (&self->routes [i]));
    return MHD_queue_response (connection, MHD_HTTP_NOT_FOUND, self->not_found);
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
s_start (tm_http_t *self, const struct sockaddr_storage *address)
{
    unsigned int flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (address->ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    return MHD_start_daemon (
        flags, (uint16_t) s_port (address), NULL, NULL, s_answer, self,
        MHD_OPTION_EXTERNAL_LOGGER, s_log, self,        //  first, or some lines miss it
        MHD_OPTION_NOTIFY_CONNECTION, s_notify, self,
        MHD_OPTION_SOCK_ADDR, (const struct sockaddr *) address,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int) S_CONNECTIONS_MAX,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) S_CONNECTION_TIMEOUT_S,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) S_CONNECTION_MEMORY,
        MHD_OPTION_END);
}

tm_http_t *
tm_http_new (const char *host, int port, const tm_http_config_t *config)
{
    struct sockaddr_storage address;
    if (s_address (host, port, &address) == -1) {
        zsys_error ("%s: '%s' is not a numeric IPv4 or IPv6 address", config->name, host);
        return NULL;
    }
    tm_http_t *self = (tm_http_t *) zmalloc (sizeof (tm_http_t));
    snprintf (self->name, sizeof self->name, "%s", config->name);
    self->daemon = s_start (self, &address);
    if (!self->daemon) {
        zsys_error ("%s: cannot listen on %s port %d", config->name, host, port);
        free (self);
        return NULL;
    }
    self->port = MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_BIND_PORT)->port;
    self->fd = MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_EPOLL_FD)->epoll_fd;
    self->due_us = INT64_MAX;
    bool v6 = address.ss_family == AF_INET6;
    snprintf (self->address, sizeof self->address, "%s%s%s:%d", v6 ? "[" : "", host,
              v6 ? "]" : "", self->port);
    s_make_routes (self, config);
    if (!s_is_loopback (&address))
        zsys_warning ("%s bound to %s in plaintext, reachable beyond this host "
                      "(no authentication: anyone who can reach it reads what it serves)",
                      self->name, self->address);
    return self;
}

void
tm_http_destroy (tm_http_t **self_p)
{
    assert (self_p);
    tm_http_t *self = *self_p;
    if (!self)
        return;
    MHD_stop_daemon (self->daemon);
    //  libmicrohttpd keeps a response alive while a connection sends it.
    for (size_t i = 0; i < self->route_count; i++)
        if (self->routes [i].response)
            MHD_destroy_response (self->routes [i].response);
    free (self->routes);
    MHD_destroy_response (self->not_found);
    MHD_destroy_response (self->not_allowed);
    MHD_destroy_response (self->bad_request);
    free (self);
    *self_p = NULL;
}

int
tm_http_port (tm_http_t *self)
{
    return self->port;
}

const char *
tm_http_address (tm_http_t *self)
{
    return self->address;
}

size_t
tm_http_connections (tm_http_t *self)
{
    return self->connections;
}

int
tm_http_fd (tm_http_t *self)
{
    return self->fd;
}

int64_t
tm_http_due_us (tm_http_t *self)
{
    return self->due_us;
}

bool
tm_http_pending (tm_http_t *self, short revents, int64_t now_us)
{
    return (revents & ZMQ_POLLIN) || now_us >= self->due_us;
}

void
tm_http_run (tm_http_t *self, int64_t now_us)
{
    self->limit_reached = self->connections >= S_CONNECTIONS_MAX;
    MHD_run (self->daemon);
    //  At its connection limit libmicrohttpd takes the listen socket out
    //  of its epoll set, and puts it back only at the start of a run: after
    //  a run that closed connections below the limit nothing would wake it
    //  (no event, and no timeout once no connection is left), and clients
    //  in the backlog would wait for ever. One more run puts it back.
    if (self->limit_reached && self->connections < S_CONNECTIONS_MAX)
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
tm_http_set_body (tm_http_t *self, const char *path, const char *body, size_t size)
{
    for (size_t i = 0; i < self->route_count; i++) {
        s_route_t *route = &self->routes [i];
        if (strcmp (route->route.path, path) != 0)
            continue;
        assert (!route->route.data);        //  a static route's body is fixed
        if (route->response)
            MHD_destroy_response (route->response);
        route->response = NULL;
        route->body = body;
        route->body_size = size;
        return;
    }
    assert (false);     //  no such route: a programming error
}
