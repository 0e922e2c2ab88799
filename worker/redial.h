/*  redial: dials a connecting socket's endpoint again when libzmq has given
    up on it. libzmq 4.3.4 does not reconnect after a protocol error on a
    connection (a frame over ZMQ_MAXMSGSIZE, a failed ZMTP handshake:
    zeromq/libzmq#1043, #4196): the endpoint stays registered with no
    connection and no retry, and a long-lived worker would never hear from
    its master again. A socket monitor tells the cases apart: after any other
    disconnect libzmq schedules a retry at once (ZMQ_EVENT_CONNECT_RETRIED).

    Not a liveness check: a master that is down or unreachable is libzmq's
    to retry, as before.
*/
#ifndef REDIAL_H_INCLUDED
#define REDIAL_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct _redial_t redial_t;

//  Watches sock (borrowed, outlives this), connected to endpoint; role names
//  it in log lines. Takes the socket's one monitor slot.
redial_t *redial_new (zsock_t *sock, const char *endpoint, const char *role);
void redial_destroy (redial_t **self_p);
//  The monitor to poll for POLLIN; then call redial_read.
zsock_t *redial_monitor (redial_t *self);
//  Reads one monitor event. Returns -1 when a connection closed, 1 when one
//  completed its handshake (messages now reach the peer), else 0.
int redial_read (redial_t *self, int64_t now_us);
//  Dials again if a connection closed a while ago and libzmq scheduled no
//  retry. Returns true if it did.
bool redial_check (redial_t *self, int64_t now_us);
//  Whether the socket has a connection up now (as far as events tell).
bool redial_connected (redial_t *self);

#endif
