/*  tm_socket: one constructor per socket role, so every ZeroMQ option that
    matters for reliability is set in one place, deliberately (README.md,
    "Socket settings", explains each value).

    Binding constructors return NULL after logging if the bind fails.
    Connecting constructors never fail on an unreachable peer: ZeroMQ
    reconnects by itself.

    Every constructor takes curve: NULL for plaintext, else the process's
    keys (tm_curve.h), the master's on the sockets it binds (CURVE server,
    fail-closed ZAP) and a client's on the sockets it connects.
*/
#ifndef TM_SOCKET_H_INCLUDED
#define TM_SOCKET_H_INCLUDED

#include "tm_curve.h"
#include <czmq.h>

//  Master: ROUTER sending tasks to workers by routing id and taking their
//  credit (bound). ZMQ_ROUTER_MANDATORY: a send to a peer that is not
//  connected fails (EHOSTUNREACH) instead of vanishing. If monitor is not
//  NULL, it gets a peer monitor (see tm_socket_monitor) attached before the
//  bind, so no connection is missed; the caller destroys it before the socket.
zsock_t *tm_socket_tasks_router (const char *endpoint, zsock_t **monitor,
                                 const tm_curve_t *curve);
//  Worker: DEALER taking tasks and sending credit (connected), with
//  routing_id (its incarnation) as its ZeroMQ routing id; a frame over
//  max_frame_bytes (TM_MIN_FRAME_BYTES..TM_MAX_FRAME_BYTES) drops the connection.
zsock_t *tm_socket_tasks_dealer (const char *endpoint, const char *routing_id,
                                 size_t max_frame_bytes, const tm_curve_t *curve);
//  Worker: PUSH results and heartbeats to the sink (connected).
zsock_t *tm_socket_results_push (const char *endpoint, const tm_curve_t *curve);
//  Sink: PULL results and heartbeats from workers (bound); a frame over
//  max_frame_bytes (TM_MIN_FRAME_BYTES..TM_MAX_FRAME_BYTES) drops the connection.
zsock_t *tm_socket_results_pull (const char *endpoint, size_t max_frame_bytes,
                                 const tm_curve_t *curve);
//  Master: ROUTER answering admin requests (bound); small frames only.
zsock_t *tm_socket_admin_router (const char *endpoint, const tm_curve_t *curve);
//  CLI: DEALER to a master's admin endpoint (connected).
zsock_t *tm_socket_admin_dealer (const char *endpoint, const tm_curve_t *curve);
//  Master: control messages to workers (bound). An XPUB, so that the
//  subscriptions peers make can be read (and junk ones refused: control.h).
zsock_t *tm_socket_control_pub (const char *endpoint, const tm_curve_t *curve);
//  The same, bound again to endpoint (as resolved by the first bind) right
//  after the last one was closed: waits up to wait_ms for libzmq to let the
//  port go. NULL after logging if it cannot.
zsock_t *tm_socket_control_pub_again (const char *endpoint, const tm_curve_t *curve,
                                      int wait_ms);
//  Worker: SUB to control messages (connected, subscribed to all).
zsock_t *tm_socket_control_sub (const char *endpoint, const tm_curve_t *curve);

//  Starts watching the peers of a bound socket: connections accepted and
//  closed, and handshakes that failed (a key not admitted, a plaintext peer
//  at a CURVE socket, junk). Returns a socket to poll for POLLIN and read
//  with tm_socket_monitor_value; the caller destroys it before sock.
zsock_t *tm_socket_monitor (zsock_t *sock);
//  Reads one monitor event: returns its ZMQ_EVENT_* value (0 if none) and
//  puts the event's value in *value (for a connection that closed, its file
//  descriptor: what zmq_msg_get (ZMQ_SRCFD) gave for its messages; for a
//  refused handshake, the ZAP status).
int tm_socket_monitor_value (zsock_t *monitor, uint32_t *value);
//  Like tm_socket_monitor, for a mask of ZMQ_EVENT_* values.
zsock_t *tm_socket_monitor_events (zsock_t *sock, int events);
//  Reads one monitor event and returns its ZMQ_EVENT_* value (0 if none).
int tm_socket_monitor_event (zsock_t *monitor);

typedef enum {
    TM_RECV_FRAME,          //  *part holds one single-frame message
    TM_RECV_NONE,           //  nothing to read now
    TM_RECV_MULTIPART       //  a multi-part message was read and dropped whole
} tm_recv_status_t;

//  Reads one message without blocking. Our protocol is one frame per
//  message, so a multi-part one is drained and dropped. On TM_RECV_FRAME the
//  caller closes *part; otherwise it is already closed. *size gets the size
//  of the last frame read (for logs).
tm_recv_status_t tm_socket_recv_frame (zsock_t *sock, zmq_msg_t *part, size_t *size);

//  The port a bound socket actually got (for tcp://...:0 or :*), or -1.
int tm_socket_bound_port (zsock_t *sock);

#endif
