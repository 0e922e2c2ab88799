/*  tm_socket: socket roles and their options.

    No ZMTP heartbeats (ZMQ_HEARTBEAT_*) on tasks or results sockets: in
    libzmq 4.3.4 a busy PULL misses the PINGs, the connection is reset and the
    tasks queued in it are lost (zeromq/libzmq#3937, #4767). Liveness comes
    from application heartbeats plus TCP keepalive and ZMQ_TCP_MAXRT.

    Memory against any peer: what a socket may receive is bounded per
    connection by its receive high-water mark times its ZMQ_MAXMSGSIZE, so
    both are set per role, to what that role legitimately receives. A
    frame over the size drops the connection before libzmq allocates it
    (the sizes are in tm_limits.h, with the encoders they bound). libzmq
    keeps every distinct subscription a control peer makes: the master's
    control module bounds that by binding the socket again (control.h).
*/
#include "tm_socket.h"
#include "tm_codec.h"
#include "tm_endpoint.h"

//  Per-connection high-water marks, in messages (a message is a batch).
#define S_TASKS_SNDHWM 64       //  master side, per worker: its credit bounds the rest
#define S_TASKS_RCVHWM 64       //  both sides: the worker's credit bounds the rest
#define S_RESULTS_SNDHWM 1000
#define S_RESULTS_RCVHWM 16     //  the sink reads at once: 16 batches only wait while it is busy
#define S_CONTROL_HWM 1000
#define S_SUBSCRIPTIONS_HWM 2   //  control XPUB, inbound: a worker sends one subscription
#define S_SUBSCRIPTIONS_RCVBUF 4096 //  control XPUB: SO_RCVBUF of each connection
#define S_NOTHING_IN_HWM 16     //  a PUSH reads nothing its peer sends
#define S_ADMIN_HWM 100
//  The most a role receives in one frame.
#define S_CREDIT_MAX_BYTES TM_MAX_CREDIT_FRAME_BYTES    //  tasks ROUTER
#define S_CONTROL_MAX_BYTES TM_MAX_CONTROL_FRAME_BYTES  //  control SUB
#define S_SUBSCRIBE_MAX_BYTES TM_MAX_SUBSCRIPTION_BYTES //  control PUB
#define S_NOTHING_IN_MAX_BYTES TM_MAX_PUSH_INBOUND_BYTES    //  results PUSH
#define S_ADMIN_MAX_BYTES TM_MAX_ADMIN_REQUEST_BYTES    //  admin ROUTER
#define S_RECONNECT_IVL_MS 10      //  first redial; doubling to at most
#define S_RECONNECT_IVL_MAX_MS 100  //  this: a new master has its workers in tens of ms
#define S_TCP_MAXRT_MS 30000    //  TCP_USER_TIMEOUT: unacked data this long resets
#define S_KEEPALIVE_IDLE_S 10
#define S_KEEPALIVE_INTVL_S 5
#define S_KEEPALIVE_CNT 3
#define S_RESULTS_SNDTIMEO_MS 1000

static void
s_set_common (zsock_t *sock, int64_t max_bytes)
{
    zsock_set_maxmsgsize (sock, (int) max_bytes);
    zsock_set_tcp_keepalive (sock, 1);
    zsock_set_tcp_keepalive_idle (sock, S_KEEPALIVE_IDLE_S);
    zsock_set_tcp_keepalive_intvl (sock, S_KEEPALIVE_INTVL_S);
    zsock_set_tcp_keepalive_cnt (sock, S_KEEPALIVE_CNT);
    int maxrt = S_TCP_MAXRT_MS;
    zmq_setsockopt (zsock_resolve (sock), ZMQ_TCP_MAXRT, &maxrt, sizeof maxrt);
    zsock_set_reconnect_ivl (sock, S_RECONNECT_IVL_MS);
    zsock_set_reconnect_ivl_max (sock, S_RECONNECT_IVL_MAX_MS);
    zsock_set_linger (sock, 0);
}

static zsock_t *
s_bind (zsock_t *sock, const char *endpoint, const char *role, const tm_curve_t *curve)
{
    assert (!curve || tm_curve_is_server (curve));
    if (curve && tm_curve_apply (curve, sock) != 0) {
        zsock_destroy (&sock);
        return NULL;
    }
    if (zsock_bind (sock, "%s", endpoint) == -1) {
        zsys_error ("cannot bind %s socket to %s: %s", role, endpoint, zmq_strerror (zmq_errno ()));
        zsock_destroy (&sock);
        return NULL;
    }
    if (!curve && !tm_endpoint_is_local (endpoint))
        zsys_warning ("%s socket bound to %s in plaintext, reachable beyond this host: anyone "
                      "who reaches it can take tasks or forge results; turn CURVE on with "
                      "--cert NAME_secret --allow DIR (taskmill keygen NAME makes the keys)",
                      role, endpoint);
    return sock;
}

static zsock_t *
s_connect (zsock_t *sock, const char *endpoint, const char *role, const tm_curve_t *curve)
{
    assert (!curve || !tm_curve_is_server (curve));
    if (curve && tm_curve_apply (curve, sock) != 0) {
        zsock_destroy (&sock);
        return NULL;
    }
    if (zsock_connect (sock, "%s", endpoint) == -1) {
        zsys_error ("cannot connect %s socket to %s: %s", role, endpoint, zmq_strerror (zmq_errno ()));
        zsock_destroy (&sock);
    }
    return sock;
}

zsock_t *
tm_socket_tasks_router (const char *endpoint, zsock_t **monitor, const tm_curve_t *curve)
{
    zsock_t *sock = zsock_new (ZMQ_ROUTER);
    assert (sock);
    s_set_common (sock, S_CREDIT_MAX_BYTES);
    zsock_set_sndhwm (sock, S_TASKS_SNDHWM);
    zsock_set_rcvhwm (sock, S_TASKS_RCVHWM);
    zsock_set_router_mandatory (sock, 1);
    //  A worker whose connection dropped and came back keeps its routing
    //  id: the new connection takes it over instead of being refused.
    zsock_set_router_handover (sock, 1);
    if (monitor)
        *monitor = tm_socket_monitor (sock);
    sock = s_bind (sock, endpoint, "tasks", curve);
    if (!sock && monitor)
        zsock_destroy (monitor);
    return sock;
}

zsock_t *
tm_socket_tasks_dealer (const char *endpoint, const char *routing_id, size_t max_frame_bytes,
                        const tm_curve_t *curve)
{
    assert (max_frame_bytes >= TM_MIN_FRAME_BYTES && max_frame_bytes <= TM_MAX_FRAME_BYTES);
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    assert (sock);
    s_set_common (sock, (int64_t) max_frame_bytes);
    zsock_set_sndhwm (sock, S_TASKS_SNDHWM);
    zsock_set_rcvhwm (sock, S_TASKS_RCVHWM);
    zsock_set_identity (sock, routing_id);
    //  Credit is sent again on every (re)connection: none should wait in
    //  a pipe for a connection that is not there.
    zsock_set_immediate (sock, 1);
    return s_connect (sock, endpoint, "tasks", curve);
}

zsock_t *
tm_socket_results_push (const char *endpoint, const tm_curve_t *curve)
{
    zsock_t *sock = zsock_new (ZMQ_PUSH);
    assert (sock);
    s_set_common (sock, S_NOTHING_IN_MAX_BYTES);
    zsock_set_sndhwm (sock, S_RESULTS_SNDHWM);
    zsock_set_rcvhwm (sock, S_NOTHING_IN_HWM);
    zsock_set_sndtimeo (sock, S_RESULTS_SNDTIMEO_MS);
    return s_connect (sock, endpoint, "results", curve);
}

zsock_t *
tm_socket_results_pull (const char *endpoint, size_t max_frame_bytes, const tm_curve_t *curve)
{
    assert (max_frame_bytes >= TM_MIN_FRAME_BYTES && max_frame_bytes <= TM_MAX_FRAME_BYTES);
    zsock_t *sock = zsock_new (ZMQ_PULL);
    assert (sock);
    s_set_common (sock, (int64_t) max_frame_bytes);
    zsock_set_rcvhwm (sock, S_RESULTS_RCVHWM);
    return s_bind (sock, endpoint, "results", curve);
}

zsock_t *
tm_socket_admin_router (const char *endpoint, const tm_curve_t *curve)
{
    zsock_t *sock = zsock_new (ZMQ_ROUTER);
    assert (sock);
    s_set_common (sock, S_ADMIN_MAX_BYTES);
    zsock_set_rcvhwm (sock, S_ADMIN_HWM);
    zsock_set_sndhwm (sock, S_ADMIN_HWM);
    return s_bind (sock, endpoint, "admin", curve);
}

zsock_t *
tm_socket_admin_dealer (const char *endpoint, const tm_curve_t *curve)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    assert (sock);
    s_set_common (sock, TM_MAX_FRAME_BYTES);
    return s_connect (sock, endpoint, "admin", curve);
}

static zsock_t *
s_control_pub (void)
{
    zsock_t *sock = zsock_new (ZMQ_XPUB);
    assert (sock);
    s_set_common (sock, S_SUBSCRIBE_MAX_BYTES);
    zsock_set_sndhwm (sock, S_CONTROL_HWM);
    zsock_set_rcvhwm (sock, S_SUBSCRIPTIONS_HWM);
    //  The kernel holds little of what a peer sends before libzmq reads
    //  it: a worker sends one subscription, and junk cannot stream into
    //  the trie faster than the master reads the socket (control.h).
    zsock_set_rcvbuf (sock, S_SUBSCRIPTIONS_RCVBUF);
    return sock;
}

zsock_t *
tm_socket_control_pub (const char *endpoint, const tm_curve_t *curve)
{
    return s_bind (s_control_pub (), endpoint, "control", curve);
}

zsock_t *
tm_socket_control_pub_again (const char *endpoint, const tm_curve_t *curve, int wait_ms)
{
    zsock_t *sock = s_control_pub ();
    if (curve && tm_curve_apply (curve, sock) != 0) {
        zsock_destroy (&sock);
        return NULL;
    }
    //  libzmq closes the old listener on its own thread, soon but not at
    //  once: until then the port is taken.
    int64_t deadline_us = zclock_usecs () + (int64_t) wait_ms * 1000;
    while (zsock_bind (sock, "%s", endpoint) == -1) {
        if (zmq_errno () != EADDRINUSE || zclock_usecs () >= deadline_us) {
            zsys_error ("cannot bind control socket to %s again: %s", endpoint,
                        zmq_strerror (zmq_errno ()));
            zsock_destroy (&sock);
            return NULL;
        }
        zmq_poll (NULL, 0, 2);
    }
    return sock;
}

zsock_t *
tm_socket_control_sub (const char *endpoint, const tm_curve_t *curve)
{
    zsock_t *sock = zsock_new (ZMQ_SUB);
    assert (sock);
    s_set_common (sock, S_CONTROL_MAX_BYTES);
    zsock_set_rcvhwm (sock, S_CONTROL_HWM);
    zsock_set_subscribe (sock, "");
    return s_connect (sock, endpoint, "control", curve);
}

int
tm_socket_bound_port (zsock_t *sock)
{
    char *last = zsock_last_endpoint (sock);
    if (!last)
        return -1;
    const char *colon = strrchr (last, ':');
    int port = colon ? atoi (colon + 1) : -1;
    zstr_free (&last);
    return port;
}

zsock_t *
tm_socket_monitor (zsock_t *sock)
{
    return tm_socket_monitor_events (sock, ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED
                                           | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
                                           | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                                           | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
}

zsock_t *
tm_socket_monitor_events (zsock_t *sock, int events)
{
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "inproc://monitor-%p", (void *) sock);
    int rc = zmq_socket_monitor (zsock_resolve (sock), endpoint, events);
    assert (rc == 0);
    zsock_t *monitor = zsock_new (ZMQ_PAIR);
    assert (monitor);
    rc = zsock_connect (monitor, "%s", endpoint);
    assert (rc == 0);
    return monitor;
}

int
tm_socket_monitor_event (zsock_t *monitor)
{
    zmsg_t *msg = zmsg_recv (monitor);
    if (!msg)
        return 0;
    zframe_t *first = zmsg_first (msg);
    uint16_t event = 0;
    if (first && zframe_size (first) >= 2)
        memcpy (&event, zframe_data (first), sizeof event);
    zmsg_destroy (&msg);
    return event;
}

int
tm_socket_monitor_value (zsock_t *monitor, uint32_t *value)
{
    *value = 0;
    zmsg_t *msg = zmsg_recv (monitor);
    if (!msg)
        return 0;
    zframe_t *first = zmsg_first (msg);
    uint16_t event = 0;
    if (first && zframe_size (first) >= 6) {
        memcpy (&event, zframe_data (first), sizeof event);
        memcpy (value, zframe_data (first) + 2, sizeof *value);
    }
    zmsg_destroy (&msg);
    return event;
}

tm_recv_status_t
tm_socket_recv_frame (zsock_t *sock, zmq_msg_t *part, size_t *size)
{
    zmq_msg_init (part);
    *size = 0;
    if (zmq_msg_recv (part, zsock_resolve (sock), ZMQ_DONTWAIT) == -1) {
        zmq_msg_close (part);
        return TM_RECV_NONE;
    }
    *size = zmq_msg_size (part);
    if (!zmq_msg_more (part))
        return TM_RECV_FRAME;
    //  The rest of a message arrives with its first frame: this never blocks.
    while (zmq_msg_more (part))
        zmq_msg_recv (part, zsock_resolve (sock), 0);
    *size = zmq_msg_size (part);
    zmq_msg_close (part);
    return TM_RECV_MULTIPART;
}
