/*  admin: requests in, one JSON reply each, behind the peer's envelope. */
#include "admin.h"
#include "tm_log.h"
#include "tm_clock.h"
#include "tm_socket.h"
#include <jansson.h>

#define S_BURST 64                  //  requests answered per call
#define S_PARTS_MAX 3               //  routing id, REQ's empty delimiter, body

struct _admin_t {
    zsock_t *sock;
    uint64_t bad;
    tm_log_limiter_t limiter;
};

admin_t *
admin_new (const char *endpoint, const tm_curve_t *curve)
{
    zsock_t *sock = tm_socket_admin_router (endpoint, curve);
    if (!sock)
        return NULL;
    admin_t *self = (admin_t *) zmalloc (sizeof (admin_t));
    self->sock = sock;
    return self;
}

void
admin_destroy (admin_t **self_p)
{
    assert (self_p);
    admin_t *self = *self_p;
    if (self) {
        zsock_destroy (&self->sock);
        free (self);
        *self_p = NULL;
    }
}

zsock_t *
admin_socket (admin_t *self)
{
    return self->sock;
}

uint64_t
admin_bad_requests (admin_t *self)
{
    return self->bad;
}

//  The command a request names: "status", "drain", or NULL (why in *error).
static const char *
s_command (const char *data, size_t size, const char **error)
{
    json_error_t parse_error;
    json_t *root = json_loadb (data, size, JSON_REJECT_DUPLICATES, &parse_error);
    const char *cmd = NULL;
    *error = "not a JSON object";
    if (root && json_is_object (root)) {
        const char *name = json_string_value (json_object_get (root, "cmd"));
        *error = "unknown or missing \"cmd\" (status, drain)";
        if (name && strcmp (name, "status") == 0)
            cmd = "status";
        else
        if (name && strcmp (name, "drain") == 0)
            cmd = "drain";
    }
    json_decref (root);
    return cmd;
}

//  Sends reply behind the request's envelope (routing id, and the empty
//  delimiter a REQ puts in front).
static void
s_reply (admin_t *self, zmsg_t *request, const char *reply)
{
    zmsg_t *msg = zmsg_new ();
    zframe_t *frame = zmsg_first (request);
    zframe_t *envelope = zframe_dup (frame);
    zmsg_append (msg, &envelope);
    frame = zmsg_next (request);
    if (frame && zframe_size (frame) == 0 && zmsg_size (request) == 3)
        zmsg_addmem (msg, NULL, 0);
    zmsg_addstr (msg, reply);
    if (zmsg_send (&msg, self->sock) == -1)
        zmsg_destroy (&msg);
}

static bool
s_serve_one (admin_t *self, zmsg_t *request, const char *status_json)
{
    size_t parts = zmsg_size (request);
    zframe_t *body = zmsg_last (request);
    const char *error = "a request is one frame (two after a REQ's delimiter)";
    const char *cmd = NULL;
    zmsg_first (request);
    zframe_t *second = zmsg_next (request);
    if (parts == 2 || (parts == 3 && zframe_size (second) == 0))
        cmd = s_command ((const char *) zframe_data (body), zframe_size (body), &error);
    if (!cmd) {
        self->bad++;
        uint64_t suppressed;
        if (tm_log_limiter_allow (&self->limiter, tm_clock_now_us (), &suppressed))
            zsys_warning ("admin: bad request: %s (%" PRIu64 " more not logged)", error, suppressed);
        json_t *reply = json_pack ("{s:s}", "error", error);
        char *text = json_dumps (reply, JSON_COMPACT);
        s_reply (self, request, text);
        free (text);
        json_decref (reply);
        return false;
    }
    if (strcmp (cmd, "drain") == 0) {
        s_reply (self, request, "{\"ok\":true,\"drain\":\"announced to every worker\"}");
        return true;
    }
    s_reply (self, request, status_json);
    return false;
}

bool
admin_serve (admin_t *self, const char *status_json)
{
    bool drain = false;
    for (int i = 0; i < S_BURST && (zsock_events (self->sock) & ZMQ_POLLIN); i++) {
        zmsg_t *request = zmsg_recv (self->sock);
        if (!request)
            break;
        if (zmsg_size (request) >= 2 && zmsg_size (request) <= S_PARTS_MAX)
            drain |= s_serve_one (self, request, status_json);
        else
            self->bad++;    //  no envelope to answer to, or too many parts
        zmsg_destroy (&request);
    }
    return drain;
}
