/*  control: the master's control socket (job start and end, drain) and
    the bound on what its peers may make it keep.

    libzmq keeps every distinct subscription a peer makes for as long as
    that peer stays connected (about 30 bytes per byte of topic: 20,000
    subscriptions of 4 KB grew a master to 2.4 GB), and only drops them with
    the connection. Workers subscribe to "" and nothing else, so any other
    subscription (or any message) is junk. The socket is an XPUB, which
    hands each new subscription to us: one that is not "" is counted and
    the socket is closed and bound again, which drops every connection and
    the subscriptions with them (workers' SUBs reconnect in 10 to 100 ms).
    libzmq only takes subscriptions in from a connection when this socket
    is used (a send, a read), and each connection has room for little in
    the meantime (receive high-water mark 2, SO_RCVBUF 4 KiB, 1 KiB a
    subscription: tm_socket.c): so the socket is read once a tick, and left
    untouched while a rebind waits, which bounds what a peer can add to a
    few subscriptions per connection it holds open.

    Not on a task's path: what workers need from it is JOB_START (repeated
    every second, so a gap loses nothing), DRAIN and JOB_END.
*/
#ifndef CONTROL_H_INCLUDED
#define CONTROL_H_INCLUDED

#include "tm_codec.h"
#include "tm_curve.h"
#include <stdint.h>

typedef struct _control_t control_t;

//  Binds the control socket to endpoint (CURVE server with curve, NULL:
//  plaintext; curve must outlive it). Returns NULL after logging if the bind fails.
control_t *control_new (const char *endpoint, const tm_curve_t *curve);
//  Closes it, giving what was sent linger_ms to leave.
void control_destroy (control_t **self_p, int linger_ms);
//  Sends kind for job_id to every worker, never blocking. A message sent
//  while the socket is being bound again is lost (JOB_START is repeated).
void control_send (control_t *self, tm_control_kind_t kind, const char *job_id);
//  Once a tick: reads what peers sent, and binds the socket again when one
//  sent junk (at most once per CONTROL_REBIND_MIN_US). Returns true when
//  the socket is up and not about to be bound again: then JOB_START may go.
bool control_tick (control_t *self, int64_t now_us);
//  The endpoint bound, as the first bind resolved it (borrowed).
const char *control_endpoint (control_t *self);
//  Junk subscriptions and messages seen so far, and rebinds made for them.
uint64_t control_junk (control_t *self);
uint64_t control_rebinds (control_t *self);

#define CONTROL_REBIND_MIN_US 1000000   //  one rebind a second at most

#endif
