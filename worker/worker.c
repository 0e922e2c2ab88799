/*  worker: poll loop over control, completions and (when the pool has room)
    tasks. It asks for work with Credit on its tasks DEALER (credit.h says
    how much) at every connection, whenever the window moves, and with each
    heartbeat. Drain: credit 0, run what it holds, send every result, then
    close the results socket with a linger so they leave before the process
    does. With --metrics, its HTTP server is one more item of the same
    poll, and /metrics is written from the loop's own counters just before
    the server runs: no other thread reads them.
*/
#include "worker.h"
#include "credit.h"
#include "autoscale.h"
#include "executor.h"
#include "redial.h"
#include "tm_clock.h"
#include "tm_exit.h"
#include "tm_log.h"
#include "tm_prom.h"
#include "tm_socket.h"
#include "worker_metrics.h"

#define S_RESULTS_LINGER_MS 5000
#define S_FRAMES_PER_TURN 64    //  task frames read per poll turn
#define S_BLOCKS_PER_TURN 64    //  completion blocks sent per poll turn
#define S_RETIRED_JOBS 4        //  jobs remembered as replaced by a newer one
#define S_HEARTBEAT_SOON_US 100000  //  new tasks are reported within this
#define S_INCARNATION_BYTES 16  //  hex digits of the routing id
#define S_METRICS_PATH "/metrics"

//  A result frame waiting for the socket, and the results it holds.
typedef struct {
    zframe_t *frame;
    size_t results;
} s_unsent_t;

struct _worker_t {
    const worker_options_t *options;
    zsock_t *tasks;                 //  DEALER: tasks in, credit out
    zsock_t *results;
    zsock_t *control;
    redial_t *redial [3];           //  tasks, results, control: dial again after a protocol error
    handler_registry_t *registry;
    executor_t *executor;
    tm_task_batch_t *pending;       //  read but not yet queued (pool full)
    zlist_t *unsent;                //  s_unsent_t: frames of one block the socket did not take yet
    tm_result_t *scratch;           //  results of one completion block
    uint64_t *held;                 //  scratch for heartbeats
    size_t held_max;
    uint64_t *running;              //  scratch for heartbeats: one per thread
    char incarnation [S_INCARNATION_BYTES + 1];  //  the DEALER's routing id
    credit_t credit;                //  the window to ask for
    autoscale_t scale;              //  --min-threads/--max-threads: the pool's size
    int64_t next_scale_us;
    uint64_t epoch;                 //  tasks connections completed so far
    int64_t last_stamp;             //  of the last Credit sent (our clock)
    uint64_t last_echo;             //  the last credit stamp a batch echoed
    char job_id [TM_MAX_JOB_ID_BYTES + 1];  //  the job the master announced
    uint64_t last_batch;            //  the highest frame number of that job read
    //  Jobs a newer one replaced: frames of theirs still in the socket are
    //  from a master that is gone, and must not make them current again.
    char retired [S_RETIRED_JOBS][TM_MAX_JOB_ID_BYTES + 1];
    size_t retired_next;
    uint64_t stale_frames;          //  task frames of a retired job, dropped
    uint64_t tasks_done;
    uint64_t by_status [TM_STATUS_MAX + 1];     //  of tasks done
    uint64_t tasks_received;        //  tasks of current jobs read from the tasks socket
    uint64_t results_sent;          //  results the results socket took
    uint64_t frames_dropped;        //  garbage on tasks or control
    uint64_t results_lost;          //  results that could not be sent
    tm_log_limiter_t limiter;
    bool draining;
    bool drain_requested;           //  DRAIN seen
    bool job_ended;                 //  JOB_END seen (--once)
    bool shutdown;                  //  SHUTDOWN seen
    int64_t drain_deadline_us;
    int64_t next_heartbeat_us;
    int64_t last_heartbeat_us;
    tm_http_t *http;                //  --metrics: serves /metrics
    worker_metrics_t *metrics;      //  --metrics: what it serves
};

static void
s_make_incarnation (char *incarnation)
{
    //  Random, so a restarted worker with the same --id is a new peer to
    //  the master, whose leases of the old one go again at once.
    zuuid_t *uuid = zuuid_new ();
    snprintf (incarnation, S_INCARNATION_BYTES + 1, "%s", zuuid_str (uuid));
    zuuid_destroy (&uuid);
}

static int
s_start_metrics (worker_t *self)
{
    const worker_options_t *options = self->options;
    tm_http_route_t route = { S_METRICS_PATH, TM_PROM_CONTENT_TYPE, NULL, 0 };
    tm_http_config_t config = { "metrics", "not found: try /metrics\n", &route, 1 };
    self->http = tm_http_new (options->metrics_host, options->metrics_port, &config);
    if (!self->http)
        return -1;
    self->metrics = worker_metrics_new ();
    zsys_info ("worker %s: metrics on http://%s%s", options->id, tm_http_address (self->http),
               S_METRICS_PATH);
    return 0;
}

worker_t *
worker_new (const worker_options_t *options, const tm_curve_t *curve,
            handler_registry_t **registry_p)
{
    worker_t *self = (worker_t *) zmalloc (sizeof (worker_t));
    self->options = options;
    self->registry = *registry_p;
    *registry_p = NULL;
    s_make_incarnation (self->incarnation);
    //  First: a port that cannot be bound fails the start before anything
    //  connects.
    if (options->metrics && s_start_metrics (self) == -1) {
        worker_destroy (&self);
        return NULL;
    }
    self->tasks = tm_socket_tasks_dealer (options->tasks, self->incarnation, options->max_frame_bytes,
                                          curve);
    self->results = tm_socket_results_push (options->results, curve);
    self->control = tm_socket_control_sub (options->control, curve);
    if (!self->tasks || !self->results || !self->control) {
        worker_destroy (&self);
        return NULL;
    }
    self->redial [0] = redial_new (self->tasks, options->tasks, "tasks");
    self->redial [1] = redial_new (self->results, options->results, "results");
    self->redial [2] = redial_new (self->control, options->control, "control");
    //  The window never asks for more than --queue, and the queue takes a
    //  whole batch on top of a full window, so the master (which sends no
    //  more than the window) never finds it full. Only pointers and
    //  indices per task.
    size_t queue = options->queue + TM_MAX_BATCH_TASKS;
    size_t max_threads = options->max_threads ? options->max_threads : options->threads;
    self->executor = executor_new (self->registry, options->threads, max_threads, queue,
                                   options->allow_exec, options->max_output_bytes);
    //  An autoscaled pool asks for what its largest size runs: tasks must
    //  reach it and wait for a backlog to show (autoscale.h).
    credit_init (&self->credit, max_threads, options->queue, tm_clock_now_us ());
    if (options->max_threads)
        autoscale_init (&self->scale, options->min_threads, options->max_threads,
                        (int64_t) options->scale_threshold_ms * 1000,
                        (int64_t) options->scale_shrink_after_ms * 1000, tm_clock_now_us ());
    self->unsent = zlist_new ();
    self->scratch = (tm_result_t *) zmalloc (EXECUTOR_BLOCK_MAX * sizeof (tm_result_t));
    self->held_max = queue + TM_MAX_BATCH_TASKS;
    self->held = (uint64_t *) zmalloc (self->held_max * sizeof (uint64_t));
    self->running = (uint64_t *) zmalloc (max_threads * sizeof (uint64_t));
    zsys_info ("worker %s: %zu threads, tasks from %s (as %s), results to %s, %s%s", options->id,
               options->threads, options->tasks, self->incarnation, options->results,
               curve ? "CURVE" : "plaintext", options->allow_exec ? ", exec allowed" : "");
    return self;
}

void
worker_destroy (worker_t **self_p)
{
    assert (self_p);
    worker_t *self = *self_p;
    if (!self)
        return;
    executor_destroy (&self->executor);
    handler_registry_destroy (&self->registry);
    tm_task_batch_destroy (&self->pending);
    s_unsent_t *unsent;
    while (self->unsent && (unsent = (s_unsent_t *) zlist_pop (self->unsent))) {
        zframe_destroy (&unsent->frame);
        free (unsent);
    }
    zlist_destroy (&self->unsent);
    for (int i = 0; i < 3; i++)
        redial_destroy (&self->redial [i]);
    zsock_destroy (&self->tasks);
    zsock_destroy (&self->control);
    zsock_destroy (&self->results);
    free (self->scratch);
    free (self->held);
    free (self->running);
    tm_http_destroy (&self->http);
    worker_metrics_destroy (&self->metrics);
    free (self);
    *self_p = NULL;
}

static void
s_drop (worker_t *self, const char *socket, tm_decode_status_t status, size_t size)
{
    self->frames_dropped++;
    uint64_t suppressed;
    if (tm_log_limiter_allow (&self->limiter, tm_clock_now_us (), &suppressed))
        zsys_warning ("worker %s: dropped a %s frame of %zu bytes on %s (%" PRIu64 " more not logged)",
                      self->options->id, tm_decode_status_name (status), size, socket, suppressed);
}

//  Receives one single-frame message; a multi-part one is dropped and
//  counted. Returns 0 with *part to close, or -1.
static int
s_recv_single (worker_t *self, zsock_t *sock, const char *name, zmq_msg_t *part)
{
    size_t size;
    tm_recv_status_t received = tm_socket_recv_frame (sock, part, &size);
    if (received == TM_RECV_MULTIPART)
        s_drop (self, name, TM_DECODE_MALFORMED, size);
    return received == TM_RECV_FRAME ? 0 : -1;
}

//  A new master run: tasks queued for an earlier one are orphans (their
//  results would be dropped as stale), so they are dropped here unrun.
static bool
s_retired (worker_t *self, const char *job_id)
{
    for (size_t i = 0; i < S_RETIRED_JOBS; i++)
        if (strcmp (self->retired [i], job_id) == 0)
            return true;
    return false;
}

static void
s_start_job (worker_t *self, const char *job_id)
{
    if (*self->job_id) {
        snprintf (self->retired [self->retired_next], sizeof self->retired [0], "%s", self->job_id);
        self->retired_next = (self->retired_next + 1) % S_RETIRED_JOBS;
    }
    size_t purged = executor_purge_other_jobs (self->executor, job_id);
    //  The job id is what a master (or whoever the worker reached) sent.
    char safe [TM_LOG_SAFE_BYTES (TM_MAX_JOB_ID_BYTES)];
    zsys_info ("worker %s: job %s started%s", self->options->id,
               tm_log_safe (job_id, safe, sizeof safe),
               purged ? " (dropped tasks of an earlier job)" : "");
    snprintf (self->job_id, sizeof self->job_id, "%s", job_id);
    self->last_batch = 0;
}

//  Sends the window (0 while draining) with a fresh stamp. Credit is a
//  window, not an increment, so sending it again is always safe; with no
//  connection up it is simply not sent (ZMQ_IMMEDIATE), and the next
//  connection's handshake sends it.
static void
s_send_credit (worker_t *self, int64_t now_us)
{
    uint32_t window = self->draining ? 0 : credit_window (&self->credit);
    self->last_stamp = now_us > self->last_stamp ? now_us : self->last_stamp + 1;
    tm_credit_t credit = {
        .worker_id = self->options->id, .credit = window,
        .threads = (uint32_t) executor_threads_total (self->executor),
        .epoch = self->epoch ? self->epoch : 1, .stamp = (uint64_t) self->last_stamp,
        .draining = self->draining
    };
    zframe_t *frame = tm_codec_encode_credit (&credit);
    tm_codec_send (self->tasks, &frame, ZMQ_DONTWAIT);
    credit_sent (&self->credit, window);
}

//  Tasks come only from the current master: its job is the current job,
//  even if its JOB_START was missed (PUB/SUB drops before subscribing),
//  and tasks still queued for an earlier one are orphans of a dead run.
//  Returns false for a frame of a job a newer one replaced.
static bool
s_take_job (worker_t *self, tm_task_batch_t *batch)
{
    const char *job_id = tm_task_batch_job_id (batch);
    if (!*job_id || s_retired (self, job_id)) {
        self->stale_frames++;
        return false;
    }
    if (strcmp (job_id, self->job_id) != 0)
        s_start_job (self, job_id);
    uint64_t number = tm_task_batch_number (batch);
    if (number > self->last_batch)
        self->last_batch = number;
    return true;
}

static void
s_read_tasks (worker_t *self, int64_t now_us)
{
    zmq_msg_t part;
    if (s_recv_single (self, self->tasks, "tasks", &part) == -1)
        return;
    tm_decode_status_t status = tm_codec_decode_tasks (zmq_msg_data (&part), zmq_msg_size (&part),
                                                       &self->pending);
    if (status != TM_DECODE_OK)
        s_drop (self, "tasks", status, zmq_msg_size (&part));
    zmq_msg_close (&part);
    if (!self->pending)
        return;
    uint64_t stamp = tm_task_batch_credit_stamp (self->pending);
    if (stamp && stamp != self->last_echo && stamp <= (uint64_t) self->last_stamp) {
        self->last_echo = stamp;
        credit_echoed (&self->credit, (int64_t) stamp, now_us);
    }
    //  A marker (no tasks) only moves last_batch: the next heartbeat then
    //  tells the master what a dropped connection lost.
    if (!s_take_job (self, self->pending) || tm_task_batch_size (self->pending) == 0) {
        tm_task_batch_destroy (&self->pending);
        return;
    }
    self->tasks_received += tm_task_batch_size (self->pending);
    executor_submit (self->executor, &self->pending);
    //  The master learns soon what this worker holds and runs, so a crash
    //  right after taking tasks charges the right ones.
    int64_t soon_us = self->last_heartbeat_us + S_HEARTBEAT_SOON_US;
    if (soon_us < self->next_heartbeat_us)
        self->next_heartbeat_us = soon_us;
}

static void
s_read_control (worker_t *self)
{
    zmq_msg_t part;
    if (s_recv_single (self, self->control, "control", &part) == -1)
        return;
    tm_control_kind_t kind;
    char job_id [TM_MAX_JOB_ID_BYTES + 1];
    tm_decode_status_t status = tm_codec_decode_control (zmq_msg_data (&part), zmq_msg_size (&part),
                                                         &kind, job_id, sizeof job_id);
    if (status != TM_DECODE_OK)
        s_drop (self, "control", status, zmq_msg_size (&part));
    zmq_msg_close (&part);
    if (status != TM_DECODE_OK)
        return;
    if (kind == TM_CONTROL_JOB_START && strcmp (job_id, self->job_id) != 0
    &&  !s_retired (self, job_id))
        s_start_job (self, job_id);
    else
    if (kind == TM_CONTROL_JOB_END && (strcmp (job_id, self->job_id) == 0 || !*self->job_id)) {
        //  Whatever of it still waits here would only make stale results.
        size_t purged = executor_purge_job (self->executor, job_id);
        char safe [TM_LOG_SAFE_BYTES (TM_MAX_JOB_ID_BYTES)];
        if (purged)
            zsys_info ("worker %s: job %s ended: dropped %zu tasks of it still queued",
                       self->options->id, tm_log_safe (job_id, safe, sizeof safe), purged);
        if (self->pending && strcmp (tm_task_batch_job_id (self->pending), job_id) == 0)
            tm_task_batch_destroy (&self->pending);
        self->job_ended = true;
    }
    else
    if (kind == TM_CONTROL_DRAIN)
        self->drain_requested = true;
    else
    if (kind == TM_CONTROL_SHUTDOWN)
        self->shutdown = true;
}

static void
s_queue_unsent (worker_t *self, tm_result_t *results, size_t count)
{
    s_unsent_t *unsent = (s_unsent_t *) zmalloc (sizeof (s_unsent_t));
    unsent->frame = tm_codec_encode_results (results, count);
    unsent->results = count;
    zlist_append (self->unsent, unsent);
}

//  Encodes one completion block into result frames, each under
//  TM_BATCH_BYTES (--max-frame) of output (a larger output goes alone),
//  queued on self->unsent.
static void
s_encode_block (worker_t *self, executor_batch_t *block)
{
    size_t first = 0, bytes = 0;
    for (size_t i = 0; i < block->count; i++) {
        executor_done_t *done = &block->items [i];
        assert (done->output.status >= TM_STATUS_MIN && done->output.status <= TM_STATUS_MAX);
        self->by_status [done->output.status]++;
        self->scratch [i] = (tm_result_t) {
            .job_id = done->task.job_id, .seq = done->task.seq, .id = done->task.id,
            .attempt = done->task.attempt, .status = done->output.status,
            .output = done->output.output, .output_size = done->output.output_size,
            .error = done->output.error, .worker_id = self->options->id,
            .start_us = done->start_us, .duration_us = done->duration_us,
            .exit_code = done->output.exit_code
        };
        if (i > first && bytes + done->output.output_size
                         > TM_BATCH_BYTES (self->options->max_frame_bytes)) {
            s_queue_unsent (self, self->scratch + first, i - first);
            first = i;
            bytes = 0;
        }
        bytes += done->output.output_size;
    }
    s_queue_unsent (self, self->scratch + first, block->count - first);
}

//  Sends queued result frames while the socket takes them: never blocks, so
//  a worker whose master is gone still sees its signals and deadlines.
//  Returns true when nothing is left unsent.
static bool
s_send_unsent (worker_t *self)
{
    s_unsent_t *unsent;
    while ((unsent = (s_unsent_t *) zlist_first (self->unsent))) {
        if (!(zsock_events (self->results) & ZMQ_POLLOUT))
            return false;
        zlist_pop (self->unsent);
        if (tm_codec_send (self->results, &unsent->frame, ZMQ_DONTWAIT) == 0)
            self->results_sent += unsent->results;
        else {
            //  The master finds these tasks unanswered and sends them again.
            self->results_lost += unsent->results;
            zsys_warning ("worker %s: could not send a result frame: %s", self->options->id,
                          zmq_strerror (zmq_errno ()));
        }
        free (unsent);
    }
    return true;
}

//  Sends up to max completion blocks. Bounded, so that heartbeats and task
//  reads still happen while the pool finishes tasks as fast as they come.
static void
s_send_completions (worker_t *self, size_t max, int64_t now_us)
{
    executor_batch_t *block;
    while (s_send_unsent (self) && max-- > 0 && (block = executor_recv (self->executor))) {
        s_encode_block (self, block);
        self->tasks_done += block->count;
        credit_completed (&self->credit, block->count, now_us);
        executor_release (self->executor, &block);
    }
}

static bool
s_has_room (worker_t *self)
{
    return !self->pending && executor_room (self->executor) >= TM_MAX_BATCH_TASKS;
}

//  Appends the seqs of the batch read but not yet queued (it waits for room).
static size_t
s_pending_seqs (worker_t *self, size_t held)
{
    if (!self->pending || strcmp (tm_task_batch_job_id (self->pending), self->job_id) != 0)
        return held;
    for (size_t i = 0; i < tm_task_batch_size (self->pending) && held < self->held_max; i++) {
        tm_task_t task;
        tm_task_batch_get (self->pending, i, &task);
        self->held [held++] = task.seq;
    }
    return held;
}

static void
s_send_heartbeat (worker_t *self, int64_t now_us)
{
    //  Results leave before the heartbeat that no longer lists their tasks,
    //  or the master would think them lost: with some still waiting for
    //  the socket, the heartbeat waits too.
    if (!s_send_unsent (self)) {
        self->next_heartbeat_us = now_us + 10000;
        return;
    }
    self->next_heartbeat_us = now_us + (int64_t) self->options->heartbeat_ms * 1000;
    self->last_heartbeat_us = now_us;
    size_t held = executor_held_seqs (self->executor, self->job_id, self->held, self->held_max);
    held = s_pending_seqs (self, held);
    size_t running = executor_running_seqs (self->executor, self->job_id, self->running,
                                            executor_threads_total (self->executor));
    tm_heartbeat_t heartbeat = {
        .worker_id = self->options->id, .host = self->options->host,
        .pid = (uint32_t) getpid (),
        .threads_busy = (uint32_t) executor_threads_busy (self->executor),
        .threads_total = (uint32_t) executor_threads_total (self->executor),
        .tasks_done = self->tasks_done, .held_seqs = self->held, .held_count = held,
        .running_seqs = self->running, .running_count = running < held ? running : held,
        .job_id = self->job_id, .draining = self->draining, .last_batch = self->last_batch,
        .incarnation = self->incarnation,
        .threads_min = (uint32_t) self->scale.min, .threads_max = (uint32_t) self->scale.max,
        .threads_grown = self->scale.grown, .threads_shrunk = self->scale.shrunk
    };
    if (heartbeat.threads_busy > heartbeat.threads_total)
        heartbeat.threads_busy = heartbeat.threads_total;
    zframe_t *frame = tm_codec_encode_heartbeat (&heartbeat);
    tm_codec_send (self->results, &frame, ZMQ_DONTWAIT);
    //  A Credit lost with a connection is made good here at the latest.
    s_send_credit (self, now_us);
}

static void
s_start_drain (worker_t *self, int64_t now_us)
{
    self->draining = true;
    self->drain_deadline_us = now_us + (int64_t) self->options->drain_timeout_ms * 1000;
    //  Credit 0: the master sends nothing more. What it sent before it saw
    //  that is still run here.
    zsys_info ("worker %s: draining %zu tasks", self->options->id, executor_held (self->executor));
    s_send_heartbeat (self, now_us);
}

//  Returns an exit status when the loop should end, or -1 to go on.
static int
s_check_stop (worker_t *self, int64_t now_us, int signals)
{
    if (signals >= 2 || self->shutdown)
        return TM_EXIT_RUNTIME;
    bool drain = signals == 1 || self->drain_requested
              || (self->options->once && self->job_ended);
    if (drain && !self->draining)
        s_start_drain (self, now_us);
    if (!self->draining)
        return -1;
    bool idle = executor_held (self->executor) == 0 && !self->pending
             && zlist_size (self->unsent) == 0
             && !(zsock_events (self->tasks) & ZMQ_POLLIN);
    if (idle)
        return TM_EXIT_OK;
    if (now_us >= self->drain_deadline_us) {
        zsys_warning ("worker %s: drain timeout with %zu tasks held", self->options->id,
                      executor_held (self->executor));
        return TM_EXIT_RUNTIME;
    }
    return -1;
}

//  Reads the tasks socket's monitor: a completed handshake is a new epoch
//  and gets a Credit at once, so dispatch starts without waiting.
static void
s_read_tasks_monitor (worker_t *self, int64_t now_us)
{
    int change = redial_read (self->redial [0], now_us);
    if (change > 0) {
        self->epoch++;
        s_send_credit (self, now_us);
    }
    //  --once: PUB drops JOB_END for a SUB still reconnecting; the tasks
    //  connection closing when the master exits is the signal that cannot
    //  be missed.
    if (change < 0 && *self->job_id)
        self->job_ended = true;
}

//  What /metrics shows, from the counters this loop keeps and the pool's
//  state now. The thread figures are read where the heartbeat reads them.
static void
s_update_metrics (worker_t *self)
{
    worker_metrics_values_t values = {
        .worker_id = self->options->id, .incarnation = self->incarnation,
        .master = self->options->tasks,
        .received = self->tasks_received, .results_sent = self->results_sent,
        .results_lost = self->results_lost, .garbage = self->frames_dropped,
        .stale = self->stale_frames,
        .running = executor_threads_busy (self->executor),
        .queued = executor_queued (self->executor)
                + (self->pending ? tm_task_batch_size (self->pending) : 0),
        .threads = executor_threads_total (self->executor),
        .threads_min = self->scale.min, .threads_max = self->scale.max,
        .threads_grown = self->scale.grown, .threads_shrunk = self->scale.shrunk,
        .credit = self->credit.sent, .draining = self->draining
    };
    memcpy (values.by_status, self->by_status, sizeof values.by_status);
    worker_metrics_update (self->metrics, &values);
    size_t size;
    const char *text = worker_metrics_text (self->metrics, &size);
    tm_http_set_body (self->http, S_METRICS_PATH, text, size);
}

//  Answers HTTP requests, with /metrics as of now: it is written only
//  when the server has something to do, so an idle endpoint costs nothing.
static void
s_serve_metrics (worker_t *self, short revents, int64_t now_us)
{
    if (!tm_http_pending (self->http, revents, now_us))
        return;
    s_update_metrics (self);
    tm_http_run (self->http, now_us);
}

static long
s_poll_timeout_ms (worker_t *self, int64_t now_us)
{
    int64_t wake_us = self->next_heartbeat_us;
    if (self->http && tm_http_due_us (self->http) < wake_us)
        wake_us = tm_http_due_us (self->http);
    long timeout_ms = (long) ((wake_us - now_us + 999) / 1000);
    if (timeout_ms < 0)
        timeout_ms = 0;
    if (timeout_ms > 100)
        timeout_ms = 100;   //  signals and drain are checked at least this often
    return timeout_ms;
}

static void
s_poll_once (worker_t *self, int64_t now_us)
{
    if (self->pending)
        executor_submit (self->executor, &self->pending);
    bool take = s_has_room (self);
    bool unsent = zlist_size (self->unsent) > 0;
    zmq_pollitem_t items [7] = {
        { zsock_resolve (self->control), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (unsent ? self->results : executor_socket (self->executor)), 0,
          unsent ? ZMQ_POLLOUT : ZMQ_POLLIN, 0 },
        { zsock_resolve (redial_monitor (self->redial [0])), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (redial_monitor (self->redial [1])), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (redial_monitor (self->redial [2])), 0, ZMQ_POLLIN, 0 },
    };
    int count = 5, http_at = -1, tasks_at = -1;
    if (self->http) {
        http_at = count++;
        items [http_at] = (zmq_pollitem_t) { NULL, tm_http_fd (self->http), ZMQ_POLLIN, 0 };
    }
    if (take) {
        tasks_at = count++;
        items [tasks_at] = (zmq_pollitem_t) { zsock_resolve (self->tasks), 0, ZMQ_POLLIN, 0 };
    }
    if (zmq_poll (items, count, s_poll_timeout_ms (self, now_us)) == -1)
        return;
    now_us = tm_clock_now_us ();
    if (self->http)
        s_serve_metrics (self, items [http_at].revents, now_us);
    if (items [2].revents & ZMQ_POLLIN)
        s_read_tasks_monitor (self, now_us);
    for (int i = 1; i < 3; i++)
        if (items [2 + i].revents & ZMQ_POLLIN)
            redial_read (self->redial [i], now_us);
    for (int i = 0; i < 3; i++)
        redial_check (self->redial [i], now_us);
    if (items [1].revents & (ZMQ_POLLIN | ZMQ_POLLOUT))
        s_send_completions (self, S_BLOCKS_PER_TURN, now_us);
    if (items [0].revents & ZMQ_POLLIN)
        s_read_control (self);
    if (take && items [tasks_at].revents & ZMQ_POLLIN)
        for (int i = 0; i < S_FRAMES_PER_TURN && s_has_room (self)
                        && (zsock_events (self->tasks) & ZMQ_POLLIN); i++)
            s_read_tasks (self, now_us);
    if (!self->draining && credit_moved (&self->credit))
        s_send_credit (self, now_us);
}

//  Grows or shrinks the pool as autoscale decides.
static void
s_scale (worker_t *self, int64_t now_us)
{
    self->next_scale_us = now_us + AUTOSCALE_TICK_US;
    int64_t wait_us = executor_oldest_wait_us (self->executor, now_us);
    size_t before = self->scale.threads;
    size_t threads = autoscale_tick (&self->scale, wait_us, executor_queued (self->executor),
                                     executor_threads_busy (self->executor), now_us);
    if (threads == before)
        return;
    executor_set_threads (self->executor, threads);
    zsys_info ("worker %s: threads %zu -> %zu (oldest queued task waited %" PRId64 " ms)",
               self->options->id, before, threads, wait_us / 1000);
}

int
worker_run (worker_t *self, const volatile sig_atomic_t *signals)
{
    int exit_status;
    while (true) {
        int64_t now_us = tm_clock_now_us ();
        exit_status = s_check_stop (self, now_us, *signals);
        if (exit_status != -1)
            break;
        if (now_us >= self->next_heartbeat_us)
            s_send_heartbeat (self, now_us);
        if (self->options->max_threads && now_us >= self->next_scale_us)
            s_scale (self, now_us);
        s_poll_once (self, now_us);
    }
    //  Results still queued leave before the process does, if there is a
    //  master to take them: without one, waiting would only delay the exit
    //  (the master sends those tasks again anyway).
    zsock_t *monitor = redial_monitor (self->redial [1]);
    while (zsock_events (monitor) & ZMQ_POLLIN)
        redial_read (self->redial [1], tm_clock_now_us ());
    bool deliverable = exit_status == TM_EXIT_OK && redial_connected (self->redial [1]);
    if (deliverable)
        s_send_completions (self, SIZE_MAX, tm_clock_now_us ());
    zsock_set_linger (self->results, deliverable ? S_RESULTS_LINGER_MS : 0);
    if (self->stale_frames)
        zsys_info ("worker %s: dropped %" PRIu64 " task frames of jobs a newer one replaced",
                   self->options->id, self->stale_frames);
    zsys_info ("worker %s: stopping (%" PRIu64 " tasks done, %" PRIu64 " frames dropped)",
               self->options->id, self->tasks_done, self->frames_dropped);
    return exit_status;
}
