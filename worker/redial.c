/*  redial: a monitor on one connecting socket, and a fresh connect when
    libzmq drops a connection without scheduling a retry.
*/
#include "redial.h"
#include "tm_log.h"
#include "tm_socket.h"

//  libzmq emits CONNECT_RETRIED right after DISCONNECTED (same I/O thread
//  turn) when it will retry; this is a generous wait for it.
#define S_RETRY_WAIT_US 500000

struct _redial_t {
    zsock_t *sock;                  //  borrowed
    zsock_t *monitor;               //  PAIR receiving sock's events
    char *endpoint;
    const char *role;
    int64_t lost_us;                //  closed with no retry seen since (0: none)
    int connections;                //  up now: CONNECTED minus DISCONNECTED
    tm_log_limiter_t limiter;
    tm_log_limiter_t refused_limiter;   //  handshakes the master refused
    bool refused;                   //  the last close was a failed handshake (logged)
};

#define S_HANDSHAKE_FAILED (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL \
                            | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)

redial_t *
redial_new (zsock_t *sock, const char *endpoint, const char *role)
{
    redial_t *self = (redial_t *) zmalloc (sizeof (redial_t));
    self->sock = sock;
    self->endpoint = strdup (endpoint);
    self->role = role;
    self->monitor = tm_socket_monitor_events (sock, ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED
                                                    | ZMQ_EVENT_CONNECT_RETRIED
                                                    | ZMQ_EVENT_HANDSHAKE_SUCCEEDED
                                                    | S_HANDSHAKE_FAILED);
    return self;
}

void
redial_destroy (redial_t **self_p)
{
    assert (self_p);
    redial_t *self = *self_p;
    if (!self)
        return;
    zmq_socket_monitor (zsock_resolve (self->sock), NULL, 0);
    zsock_destroy (&self->monitor);
    free (self->endpoint);
    free (self);
    *self_p = NULL;
}

zsock_t *
redial_monitor (redial_t *self)
{
    return self->monitor;
}

int
redial_read (redial_t *self, int64_t now_us)
{
    int event = tm_socket_monitor_event (self->monitor);
    uint64_t suppressed;
    if (event & S_HANDSHAKE_FAILED) {
        //  Its DISCONNECTED follows: the dial again happens as for any
        //  protocol error.
        self->refused = true;
        if (tm_log_limiter_allow (&self->refused_limiter, now_us, &suppressed))
            zsys_warning ("%s connection to %s: the handshake failed (%s): is this peer's "
                          "certificate in the master's --allow directory, and do both sides "
                          "use CURVE (--cert) or neither? (%" PRIu64 " more not logged)",
                          self->role, self->endpoint,
                          event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH ? "the master refused our key"
                          : event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ? "protocol mismatch"
                          : "no detail", suppressed);
        return 0;
    }
    if (event == ZMQ_EVENT_CONNECTED)
        self->connections++;
    if (event == ZMQ_EVENT_DISCONNECTED) {
        self->connections -= self->connections > 0;
        self->lost_us = now_us;
        return -1;
    }
    if (event)
        self->lost_us = 0;  //  a retry is scheduled, or a connection is up
    return event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED ? 1 : 0;
}

bool
redial_connected (redial_t *self)
{
    return self->connections > 0;
}

bool
redial_check (redial_t *self, int64_t now_us)
{
    if (!self->lost_us || now_us - self->lost_us < S_RETRY_WAIT_US)
        return false;
    self->lost_us = 0;
    uint64_t suppressed;
    bool refused = self->refused;
    self->refused = false;
    if (!refused && tm_log_limiter_allow (&self->limiter, now_us, &suppressed))
        zsys_warning ("%s connection to %s closed after a protocol error, which libzmq does not "
                      "retry: dialling again (%" PRIu64 " more not logged)",
                      self->role, self->endpoint, suppressed);
    //  Forget the dead endpoint, so that connecting to it again is allowed.
    zsock_disconnect (self->sock, "%s", self->endpoint);
    if (zsock_connect (self->sock, "%s", self->endpoint) == -1)
        zsys_error ("cannot connect %s socket to %s: %s", self->role, self->endpoint,
                    zmq_strerror (zmq_errno ()));
    return true;
}
