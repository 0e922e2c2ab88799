/*  sink: results actor. The master talks to it with strings ("STOP",
    "$TERM"); it answers with sink_event_t frames. Decoded messages cross the
    pipe as pointers, so no result is copied between threads.
*/
#include "sink.h"
#include "tm_tsan.h"
#include "tm_clock.h"
#include "tm_log.h"
#include "tm_socket.h"
#include <signal.h>

struct _sink_t {
    zactor_t *actor;
    int port;
    bool stopped;       //  sink_stop ran: the pipe holds no message
};

typedef struct {
    zsock_t *pipe;
    zsock_t *results;
    sink_stats_t stats;
    bool stopping;
    uint64_t dropped_reported;      //  drops the master has heard of
    int64_t reported_us;            //  when it last heard
} s_state_t;

uint64_t
sink_stats_dropped (const sink_stats_t *stats)
{
    uint64_t dropped = 0;
    for (int status = TM_DECODE_OK + 1; status < TM_DECODE_COUNT; status++)
        dropped += stats->dropped [status];
    return dropped;
}

static void
s_send_event (zsock_t *pipe, const sink_event_t *event)
{
    if (event->kind == SINK_EVENT_MESSAGE)
        TM_TSAN_RELEASE (event->msg);
    int rc = zmq_send (zsock_resolve (pipe), event, sizeof *event, 0);
    assert (rc == (int) sizeof *event);
}

//  Counted here, logged by the master from the stats (sink_log_drops):
//  czmq's log calls localtime, which is not safe on two threads at once.
static void
s_count_drop (s_state_t *self, tm_decode_status_t status, size_t size)
{
    self->stats.dropped [status]++;
    self->stats.last_drop = status;
    self->stats.last_drop_bytes = size;
}

static void
s_receive_frame (s_state_t *self)
{
    zmq_msg_t part;
    size_t size;
    tm_recv_status_t received = tm_socket_recv_frame (self->results, &part, &size);
    if (received == TM_RECV_NONE)
        return;
    self->stats.frames++;
    if (received == TM_RECV_MULTIPART) {
        self->stats.multipart_dropped++;
        s_count_drop (self, TM_DECODE_MALFORMED, size);
        return;
    }
    tm_worker_msg_t *msg;
    tm_decode_status_t status = tm_codec_decode_worker_frame (&part, &msg);
    if (status == TM_DECODE_OK) {
        sink_event_t event = { .kind = SINK_EVENT_MESSAGE, .msg = msg };
        s_send_event (self->pipe, &event);
    }
    else
        s_count_drop (self, status, size);
    zmq_msg_close (&part);
}

//  Returns false when the actor should end.
static bool
s_handle_pipe (s_state_t *self)
{
    char *command = zstr_recv (self->pipe);
    if (!command)
        return false;
    bool go_on = true;
    if (streq (command, "STOP")) {
        zsock_destroy (&self->results);
        sink_event_t event = { .kind = SINK_EVENT_STOPPED, .stats = self->stats };
        s_send_event (self->pipe, &event);
    }
    else
    if (streq (command, "$TERM"))
        go_on = false;
    zstr_free (&command);
    return go_on;
}

//  Drops reach the master while the job runs (status, /metrics), at most
//  every SINK_STATS_INTERVAL_MS however many garbage frames come. Returns
//  how long the actor may wait before it must try again (-1: no limit).
static long
s_report_stats (s_state_t *self)
{
    uint64_t dropped = sink_stats_dropped (&self->stats);
    if (dropped == self->dropped_reported)
        return -1;
    int64_t now_us = tm_clock_now_us ();
    int64_t due_us = self->reported_us + SINK_STATS_INTERVAL_MS * 1000;
    if (now_us < due_us)
        return (long) ((due_us - now_us + 999) / 1000);
    sink_event_t event = { .kind = SINK_EVENT_STATS, .stats = self->stats };
    s_send_event (self->pipe, &event);
    self->dropped_reported = dropped;
    self->reported_us = now_us;
    return -1;
}

//  What the actor binds; sink_new waits for the actor's signal, so this
//  lives on its stack for as long as the actor reads it.
typedef struct {
    const char *endpoint;
    size_t max_frame_bytes;
    const tm_curve_t *curve;
} s_args_t;

static void
s_sink_actor (zsock_t *pipe, void *args)
{
    s_state_t self = { .pipe = pipe };
    const s_args_t *bind = (const s_args_t *) args;
    self.results = tm_socket_results_pull (bind->endpoint, bind->max_frame_bytes, bind->curve);
    zsock_signal (pipe, 0);
    //  The port, or -1 when the bind failed and the actor ends.
    zstr_sendf (pipe, "%d", self.results ? tm_socket_bound_port (self.results) : -1);
    if (!self.results)
        return;
    zmq_pollitem_t items [2] = {
        { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 },
        { NULL, 0, ZMQ_POLLIN, 0 }
    };
    long timeout_ms = -1;
    while (true) {
        items [1].socket = self.results ? zsock_resolve (self.results) : NULL;
        int rc = zmq_poll (items, self.results ? 2 : 1, timeout_ms);
        if (rc == -1 && zmq_errno () == EINTR)
            continue;
        if (rc == -1)
            break;
        if (items [0].revents & ZMQ_POLLIN && !s_handle_pipe (&self))
            break;
        //  Drain a bounded burst so the pipe is polled between bursts.
        if (self.results && items [1].revents & ZMQ_POLLIN)
            for (int i = 0; i < 256; i++) {
                uint32_t events = zsock_events (self.results);
                if (!(events & ZMQ_POLLIN))
                    break;
                s_receive_frame (&self);
            }
        timeout_ms = self.results ? s_report_stats (&self) : -1;
    }
    zsock_destroy (&self.results);
}

sink_t *
sink_new (const char *endpoint, size_t max_frame_bytes, const tm_curve_t *curve)
{
    s_args_t args = { .endpoint = endpoint, .max_frame_bytes = max_frame_bytes, .curve = curve };
    //  Only the main thread should see SIGINT/SIGTERM.
    sigset_t block, previous;
    sigemptyset (&block);
    sigaddset (&block, SIGINT);
    sigaddset (&block, SIGTERM);
    pthread_sigmask (SIG_BLOCK, &block, &previous);
    zactor_t *actor = zactor_new (s_sink_actor, &args);
    pthread_sigmask (SIG_SETMASK, &previous, NULL);
    if (!actor)
        return NULL;
    char *port = zstr_recv (actor);
    int bound = port ? atoi (port) : -1;
    zstr_free (&port);
    if (bound == -1) {
        zactor_destroy (&actor);
        return NULL;
    }
    sink_t *self = (sink_t *) zmalloc (sizeof (sink_t));
    self->actor = actor;
    self->port = bound;
    return self;
}

zsock_t *
sink_pipe (sink_t *self)
{
    return zactor_sock (self->actor);
}

void
sink_log_drops (const sink_stats_t *stats, uint64_t *logged, tm_log_limiter_t *limiter)
{
    uint64_t dropped = sink_stats_dropped (stats);
    uint64_t suppressed;
    if (dropped == *logged || !tm_log_limiter_allow (limiter, tm_clock_now_us (), &suppressed))
        return;
    zsys_warning ("sink: dropped a %s frame of %zu bytes (%" PRIu64 " dropped in all)",
                  tm_decode_status_name (stats->last_drop), stats->last_drop_bytes, dropped);
    *logged = dropped;
}

int
sink_recv (sink_t *self, sink_event_t *event)
{
    int rc = zmq_recv (zsock_resolve (zactor_sock (self->actor)), event, sizeof *event, 0);
    if (rc != (int) sizeof *event)
        return -1;
    if (event->kind == SINK_EVENT_MESSAGE)
        TM_TSAN_ACQUIRE (event->msg);
    return 0;
}

void
sink_stop (sink_t *self, sink_stats_t *stats)
{
    zstr_send (self->actor, "STOP");
    self->stopped = true;
    sink_event_t event;
    while (true) {
        if (sink_recv (self, &event) == -1)
            continue;
        if (event.kind == SINK_EVENT_STOPPED)
            break;
        tm_worker_msg_destroy (&event.msg);
    }
    if (stats)
        *stats = event.stats;
}

void
sink_destroy (sink_t **self_p)
{
    assert (self_p);
    sink_t *self = *self_p;
    if (self) {
        if (!self->stopped)
            sink_stop (self, NULL);
        zactor_destroy (&self->actor);
        free (self);
        *self_p = NULL;
    }
}

int
sink_port (sink_t *self)
{
    return self->port;
}
