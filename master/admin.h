/*  admin: the master's admin endpoint (ROUTER, port 5560). Answers JSON
    requests from `taskmill` (a DEALER or a REQ): {"cmd":"status"} with the
    status snapshot, {"cmd":"drain"} with an acknowledgement (the master
    then announces DRAIN). Anything else, malformed or oversized, gets an
    error object and is counted, never a crash.

    It does not build the snapshot (status does) or drain (the master does).
*/
#ifndef ADMIN_H_INCLUDED
#define ADMIN_H_INCLUDED

#include "tm_curve.h"
#include <czmq.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct _admin_t admin_t;

//  Binds endpoint, as a CURVE server with curve (NULL: plaintext). Returns
//  NULL after logging if the bind fails.
admin_t *admin_new (const char *endpoint, const tm_curve_t *curve);
void admin_destroy (admin_t **self_p);
//  The socket to poll for requests.
zsock_t *admin_socket (admin_t *self);
//  Answers the requests waiting (a bounded burst), status ones with
//  status_json. Returns true if one asked for a drain.
bool admin_serve (admin_t *self, const char *status_json);
//  Requests answered with an error.
uint64_t admin_bad_requests (admin_t *self);

#endif
