/*  control: an XPUB read once a tick, bound again when a peer sends junk. */
#include "control.h"
#include "tm_clock.h"
#include "tm_log.h"
#include "tm_socket.h"

#define S_READ_BURST 64         //  subscriptions read a tick, at most
#define S_REBIND_WAIT_MS 200    //  for libzmq to let the port go

struct _control_t {
    zsock_t *sock;              //  NULL while it could not be bound again
    char *endpoint;             //  as the first bind resolved it (a port of *, say)
    const tm_curve_t *curve;    //  borrowed
    bool rebind_due;            //  junk seen: bind again when allowed
    int64_t rebind_allowed_us;  //  the next rebind may not come sooner
    uint64_t junk;              //  subscriptions (not "") and messages from peers
    uint64_t rebinds;
    tm_log_limiter_t limiter;
};

control_t *
control_new (const char *endpoint, const tm_curve_t *curve)
{
    zsock_t *sock = tm_socket_control_pub (endpoint, curve);
    if (!sock)
        return NULL;
    control_t *self = (control_t *) zmalloc (sizeof (control_t));
    self->sock = sock;
    self->endpoint = zsock_last_endpoint (sock);
    assert (self->endpoint);
    self->curve = curve;
    return self;
}

void
control_destroy (control_t **self_p, int linger_ms)
{
    assert (self_p);
    control_t *self = *self_p;
    if (!self)
        return;
    if (self->sock)
        zsock_set_linger (self->sock, linger_ms);
    zsock_destroy (&self->sock);
    zstr_free (&self->endpoint);
    free (self);
    *self_p = NULL;
}

void
control_send (control_t *self, tm_control_kind_t kind, const char *job_id)
{
    assert (self);
    zframe_t *frame = tm_codec_encode_control (kind, job_id);
    if (self->sock)
        tm_codec_send (self->sock, &frame, ZMQ_DONTWAIT);
    zframe_destroy (&frame);
}

//  A subscription to "" is a worker's (an unsubscription, one leaving);
//  anything else no worker of ours sends.
static bool
s_is_junk (const zmq_msg_t *msg)
{
    const uint8_t *data = (const uint8_t *) zmq_msg_data ((zmq_msg_t *) msg);
    size_t size = zmq_msg_size ((zmq_msg_t *) msg);
    return !((size == 1 && data [0] == 1) || (size >= 1 && data [0] == 0));
}

//  Reads what the XPUB holds; true if any of it was junk.
static bool
s_read (control_t *self)
{
    bool junk = false;
    for (int i = 0; i < S_READ_BURST; i++) {
        zmq_msg_t msg;
        zmq_msg_init (&msg);
        if (zmq_msg_recv (&msg, zsock_resolve (self->sock), ZMQ_DONTWAIT) == -1) {
            zmq_msg_close (&msg);
            break;
        }
        if (s_is_junk (&msg)) {
            self->junk++;
            junk = true;
        }
        zmq_msg_close (&msg);
    }
    return junk;
}

static void
s_rebind (control_t *self, int64_t now_us)
{
    uint64_t suppressed;
    if (tm_log_limiter_allow (&self->limiter, now_us, &suppressed))
        zsys_warning ("control socket: a peer subscribed to something no worker does "
                      "(%" PRIu64 " junk subscriptions so far): closing it and binding %s again, "
                      "which drops every subscription (workers reconnect)",
                      self->junk, self->endpoint);
    zsock_destroy (&self->sock);
    self->sock = tm_socket_control_pub_again (self->endpoint, self->curve, S_REBIND_WAIT_MS);
    //  Not bound: tried again at the next tick.
    self->rebind_due = self->sock == NULL;
    self->rebind_allowed_us = now_us + CONTROL_REBIND_MIN_US;
    self->rebinds++;
}

bool
control_tick (control_t *self, int64_t now_us)
{
    assert (self);
    //  While a rebind waits, the socket is left alone: libzmq takes no
    //  more subscriptions in until it is used.
    if (!self->rebind_due && self->sock && s_read (self))
        self->rebind_due = true;
    if (self->rebind_due && now_us >= self->rebind_allowed_us)
        s_rebind (self, now_us);
    return self->sock && !self->rebind_due;
}

const char *
control_endpoint (control_t *self)
{
    assert (self);
    return self->endpoint;
}

uint64_t
control_junk (control_t *self)
{
    assert (self);
    return self->junk;
}

uint64_t
control_rebinds (control_t *self)
{
    assert (self);
    return self->rebinds;
}
