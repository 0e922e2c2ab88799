/*  sink: the actor that owns the results PULL socket. It receives every
    frame workers send, decodes and validates it, drops and counts what is
    malformed, and hands each decoded message to the master over its pipe.
    It runs in the master process, in its own thread, so decoding overlaps
    with dispatching; the decoder also finds there how each output goes
    into JSON, so the master's loop does not scan it again. Task path:
    worker -> results socket -> sink -> master (lease table, results
    writer, summary).

    It does not decide whether a result is final: the master does.
*/
#ifndef SINK_H_INCLUDED
#define SINK_H_INCLUDED

#include "tm_codec.h"
#include "tm_curve.h"
#include "tm_log.h"
#include <czmq.h>

//  What the sink sends to the master: one fixed-size frame per event.
typedef enum {
    SINK_EVENT_MESSAGE = 1,     //  msg: a decoded worker message, now the master's
    SINK_EVENT_STOPPED = 2,     //  the sink closed its socket; stats are final
    SINK_EVENT_STATS = 3        //  stats so far: sent when a frame was dropped, at
                                //  most every SINK_STATS_INTERVAL_MS
} sink_event_kind_t;

#define SINK_STATS_INTERVAL_MS 100

typedef struct {
    uint64_t frames;                        //  frames received
    uint64_t dropped [TM_DECODE_COUNT];     //  frames dropped, by decode status
    uint64_t multipart_dropped;             //  multi-frame messages dropped
    tm_decode_status_t last_drop;           //  why the last frame dropped was
    size_t last_drop_bytes;                 //  and its size
} sink_stats_t;

typedef struct {
    sink_event_kind_t kind;
    tm_worker_msg_t *msg;       //  SINK_EVENT_MESSAGE
    sink_stats_t stats;         //  SINK_EVENT_STOPPED, SINK_EVENT_STATS
} sink_event_t;

typedef struct _sink_t sink_t;

//  Starts the sink actor bound to endpoint, as a CURVE server with curve
//  (NULL: plaintext; read only while this call runs), taking frames of up
//  to max_frame_bytes (--max-frame). Returns NULL (after logging) if the
//  bind fails.
sink_t *sink_new (const char *endpoint, size_t max_frame_bytes, const tm_curve_t *curve);
//  Stops the actor, freeing any message still in flight to the master.
void sink_destroy (sink_t **self_p);
//  The pipe to poll for events.
zsock_t *sink_pipe (sink_t *self);
//  Frames dropped in stats, whatever the reason.
uint64_t sink_stats_dropped (const sink_stats_t *stats);
//  Receives one event (blocks; call after the pipe polled readable).
//  Returns 0, or -1 if interrupted.
int sink_recv (sink_t *self, sink_event_t *event);
//  Asks the sink to stop and waits for its final stats.
void sink_stop (sink_t *self, sink_stats_t *stats);
//  The port the results socket is bound to.
int sink_port (sink_t *self);

//  Logs (rate-limited by limiter) that frames were dropped since *logged
//  of them were: the sink counts, the master's thread logs.
void sink_log_drops (const sink_stats_t *stats, uint64_t *logged, tm_log_limiter_t *limiter);

#endif
