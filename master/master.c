/*  master: the loop and who the workers are. A task's path through this
    file: s_fill_window takes it from the job reader into the lease table
    and the dispatcher's queue; dispatcher_flush sends it to a worker that
    granted credit (read by s_read_credit); the sink hands back its result,
    and outcome makes it final or sends it again. Heartbeats and lost
    workers go through failover, whose plan outcome carries out
    (s_apply_plan). s_tick expires leases and reaps silent workers, and
    builds the status snapshot (and, with --http, the metrics) that admin
    and http serve from the same poll loop.
*/
#include "master.h"
#include "admin.h"
#include "control.h"
#include "dispatcher.h"
#include "failover.h"
#include "http.h"
#include "lease_table.h"
#include "metrics.h"
#include "outcome.h"
#include "progress.h"
#include "reducer.h"
#include "results_writer.h"
#include "resume_set.h"
#include "sink.h"
#include "speculate.h"
#include "status.h"
#include "summary.h"
#include "tm_clock.h"
#include "tm_codec.h"
#include "tm_exit.h"
#include "tm_log.h"
#include "tm_socket.h"
#include "worker_table.h"
#include <czmq.h>
#include <unistd.h>

#define S_TICK_US 100000            //  lease expiry, reaping, flushing
#define S_ANNOUNCE_US 1000000       //  JOB_START repeated for late workers
#define S_EVENT_BURST 1024          //  sink events handled per loop turn
#define S_CREDIT_BURST 1024         //  tasks-socket messages handled per loop turn
#define S_READ_BURST 4096           //  job entries read per loop turn
#define S_READ_AHEAD 1024           //  tasks queued beyond the workers' room
#define S_READ_AHEAD_BYTES TM_MAX_BATCH_BYTES   //  ... while their payloads are under this
#define S_CONTROL_LINGER_MS 500     //  JOB_END gets this long to leave
#define S_LOST_KEEP_US 60000000     //  a lost worker is remembered this long
#define S_SKIPS_NAMED 20            //  --skip-invalid: lines named before rate limiting
#define S_PROOF_MS 1000             //  a stranger must get nothing in this long

struct _master_t {
    const master_options_t *options;
    const tm_curve_t *curve;        //  CURVE keys, or NULL: plaintext
    zactor_t *auth;                 //  zauth, the ZAP handler (CURVE only)
    char job_id [TM_MAX_JOB_ID_BYTES + 1];
    zsock_t *tasks;                 //  ROUTER to workers
    control_t *control;             //  control messages to workers
    zsock_t *tasks_monitor;         //  peer events of the tasks socket
    sink_t *sink;                   //  results actor
    admin_t *admin;                 //  status and drain requests
    status_t *status;               //  the snapshot admin serves, built each tick
    tm_http_t *http;                //  --http: dashboard, /api/status, /metrics
    metrics_t *metrics;             //  --http: what /metrics serves, built each tick
    reducer_t *reducer;             //  --reduce: the job's aggregate
    speculate_t *speculate;         //  --speculate: copies of stragglers (or NULL)
    job_reader_t *reader;
    lease_table_t *leases;
    dispatcher_t *dispatcher;
    results_writer_t *writer;
    resume_set_t *resume;           //  --resume: seqs final in an earlier run
    summary_t *summary;
    progress_t *progress;
    worker_table_t *workers;        //  who granted credit, and what they said
    outcome_t *outcome;             //  finality and retries
    failover_plan_t plan;           //  scratch for failover
    uint64_t tasks_garbage;         //  tasks-socket frames dropped
    uint64_t sink_garbage;          //  results-socket frames dropped, as the sink last said
    tm_log_limiter_t garbage_limiter;
    tm_log_limiter_t sink_limiter;  //  frames the sink dropped
    uint64_t sink_garbage_logged;   //  of sink_garbage, those a line has told of
    uint64_t handshakes_failed;     //  tasks-socket peers refused or broken at the handshake
    tm_log_limiter_t refused_limiter;   //  keys not admitted
    tm_log_limiter_t handshake_limiter; //  other failed handshakes
    bool dispatching;               //  --min-workers reached (no gate after)
    bool input_done;                //  the reader reached the end (or failed)
    bool input_failed;              //  a bad job line or read error stopped it
    bool output_failed;             //  the results file could not be written
    tm_log_limiter_t skip_limiter;  //  skipped lines after the first S_SKIPS_NAMED
    int64_t start_us;
    int64_t next_tick_us;
    int64_t next_announce_us;
    int64_t next_sync_us;           //  the results file is fdatasynced then
};

int
master_check_job (const master_options_t *options)
{
    //  Standard input cannot be read twice, even when it is a file. With
    //  --skip-invalid no line fails the job, and the run names each bad one.
    if (options->job.format == JOB_FORMAT_GENERATE || options->job.skip_invalid
    ||  strcmp (options->job_path, "-") == 0)
        return TM_EXIT_OK;
    char error [512];
    job_reader_t *reader = job_reader_new (options->job_path, &options->job, error, sizeof error);
    if (!reader) {
        fprintf (stderr, "taskmill-master: %s\n", error);
        return TM_EXIT_USAGE;
    }
    int rc = TM_EXIT_OK;
    //  A FIFO is not seekable: checking it would use up its input.
    if (job_reader_seekable (reader) && job_reader_validate (reader) != 0) {
        fprintf (stderr, "taskmill-master: %s: %s\n", options->job_path, job_reader_error (reader));
        rc = TM_EXIT_USAGE;
    }
    job_reader_destroy (&reader);
    return rc;
}

static int
s_open_sockets (master_t *self)
{
    const master_options_t *options = self->options;
    //  Before any bind: a CURVE server with no ZAP handler refuses all.
    if (self->curve && !(self->auth = tm_curve_auth_new (self->curve)))
        return -1;
    self->tasks = tm_socket_tasks_router (options->bind_tasks, &self->tasks_monitor, self->curve);
    self->control = control_new (options->bind_control, self->curve);
    self->sink = sink_new (options->bind_results, options->max_frame_bytes, self->curve);
    self->admin = admin_new (options->bind_admin, self->curve);
    if (options->http)
        self->http = http_new (options->http_host, options->http_port);
    if (!self->tasks || !self->control || !self->sink || !self->admin
    ||  (options->http && !self->http))
        return -1;
    if (self->curve) {
        char *endpoint = zsock_last_endpoint (admin_socket (self->admin));
        int rc = tm_curve_prove_closed (self->curve, endpoint, S_PROOF_MS);
        zstr_free (&endpoint);
        if (rc != 0)
            return -1;
    }
    zsys_info ("job %s: tasks on %s, results on %s, control on %s, %s",
               self->job_id, options->bind_tasks, options->bind_results, options->bind_control,
               self->curve ? "CURVE: a stranger and a plaintext peer were refused" : "plaintext");
    return 0;
}

master_t *
master_new (const master_options_t *options, const tm_curve_t *curve)
{
    master_t *self = (master_t *) zmalloc (sizeof (master_t));
    self->options = options;
    self->curve = curve;
    zuuid_t *uuid = zuuid_new ();
    snprintf (self->job_id, sizeof self->job_id, "%.16s", zuuid_str (uuid));
    zuuid_destroy (&uuid);
    char error [512];
    self->reader = job_reader_new (options->job_path, &options->job, error, sizeof error);
    if (!self->reader)
        zsys_error ("%s", error);
    if (!self->reader || s_open_sockets (self) == -1) {
        master_destroy (&self);
        return NULL;
    }
    if (options->resume) {
        //  Before the writer opens: loading cuts a torn last line.
        self->resume = resume_set_load (options->out_path, error, sizeof error);
        if (!self->resume) {
            zsys_error ("--resume: %s", error);
            master_destroy (&self);
            return NULL;
        }
        zsys_info ("resuming: %" PRIu64 " tasks already final in %s",
                   resume_set_count (self->resume), options->out_path);
    }
    self->writer = results_writer_new (options->out_path);
    if (!self->writer) {
        master_destroy (&self);
        return NULL;
    }
    results_writer_set_retry_ms (self->writer, options->write_retry_ms);
    self->reducer = reducer_new (options->reduce, options->reduce_path,
                                 options->reduce_max_words, options->window, error, sizeof error);
    if (!self->reducer
    ||  (options->resume
         && reducer_replay (self->reducer, options->out_path, self->resume,
                            error, sizeof error) != 0)) {
        zsys_error ("%s", error);
        master_destroy (&self);
        return NULL;
    }
    self->leases = lease_table_new (options->window);
    self->workers = worker_table_new ();
    self->dispatcher = dispatcher_new (self->tasks, self->leases, self->workers, self->job_id,
                                       (int64_t) options->lease_grace_ms * 1000);
    dispatcher_set_batch_bytes (self->dispatcher, TM_BATCH_BYTES (options->max_frame_bytes));
    self->start_us = tm_clock_now_us ();
    self->summary = summary_new (self->job_id, self->start_us);
    self->outcome = outcome_new (self->leases, self->dispatcher, self->writer, self->summary,
                                 self->job_id, options->retry_backoff_ms,
                                 (uint64_t) tm_clock_wall_us ());
    failover_plan_init (&self->plan, options->window);
    if (options->speculate)
        self->speculate = speculate_new (self->leases, self->dispatcher, self->workers,
                                         (int64_t) options->speculate_min_ms * 1000,
                                         options->speculate_exec);
    self->status = status_new (self->job_id, self->summary, self->leases, self->dispatcher,
                               self->workers, self->start_us);
    if (self->http)
        self->metrics = metrics_new (self->job_id, self->summary, self->leases,
                                     self->dispatcher, self->workers);
    self->dispatching = options->min_workers == 0;
    self->progress = progress_new (!options->quiet && isatty (STDERR_FILENO), self->start_us);
    return self;
}

void
master_destroy (master_t **self_p)
{
    assert (self_p);
    master_t *self = *self_p;
    if (!self)
        return;
    progress_destroy (&self->progress);
    tm_http_destroy (&self->http);         //  it borrows the status's and metrics' text
    metrics_destroy (&self->metrics);
    status_destroy (&self->status);
    speculate_destroy (&self->speculate);
    reducer_destroy (&self->reducer);
    failover_plan_fini (&self->plan);
    outcome_destroy (&self->outcome);
    summary_destroy (&self->summary);
    dispatcher_destroy (&self->dispatcher);
    worker_table_destroy (&self->workers);
    lease_table_destroy (&self->leases);
    results_writer_destroy (&self->writer);
    resume_set_destroy (&self->resume);
    sink_destroy (&self->sink);
    admin_destroy (&self->admin);
    control_destroy (&self->control, S_CONTROL_LINGER_MS);
    zsock_destroy (&self->tasks_monitor);
    zsock_destroy (&self->tasks);
    zactor_destroy (&self->auth);
    job_reader_destroy (&self->reader);
    free (self);
    *self_p = NULL;
}

//  Carries out self->plan; returns how many tasks it sends again.
static size_t
s_apply_plan (master_t *self, int64_t now_us)
{
    for (size_t i = 0; i < self->plan.charged_count; i++)
        outcome_lost (self->outcome, self->plan.charged [i], true, now_us);
    for (size_t i = 0; i < self->plan.free_count; i++)
        outcome_lost (self->outcome, self->plan.free_seqs [i], false, now_us);
    return self->plan.charged_count + self->plan.free_count;
}

//  A worker the master gives up on: every lease sent to it goes again now.
static void
s_lose_worker (master_t *self, worker_info_t *worker, const char *why, int64_t now_us)
{
    bool drained = worker->state == WORKER_DRAINING;
    worker_table_lose (self->workers, worker, now_us);
    failover_worker_lost (self->leases, worker->slot, &self->plan);
    size_t charged = self->plan.charged_count;
    size_t resent = s_apply_plan (self, now_us);
    char id [TM_LOG_SAFE_BYTES (TM_MAX_WORKER_ID_BYTES)];
    tm_log_safe (worker->id, id, sizeof id);
    if (drained && resent == 0)
        zsys_info ("worker left: %s (drained)", id);
    else
        zsys_info ("worker lost: %s (%s), %zu tasks sent again, %zu of them charged",
                   id, why, resent, charged);
}

static void
s_handle_heartbeat (master_t *self, const tm_heartbeat_t *heartbeat, int64_t now_us)
{
    worker_info_t *worker = worker_table_heartbeat (self->workers, heartbeat, now_us);
    char id [TM_LOG_SAFE_BYTES (TM_MAX_WORKER_ID_BYTES)];
    if (worker && worker->revived) {
        worker->revived = false;
        char incarnation [TM_LOG_SAFE_BYTES (TM_MAX_INCARNATION_BYTES)];
        zsys_info ("worker back: %s (%s) heard from again; it gets work at its next credit",
                   tm_log_safe (worker->id, id, sizeof id),
                   tm_log_safe (worker->incarnation, incarnation, sizeof incarnation));
    }
    if (!worker || strcmp (heartbeat->job_id, self->job_id) != 0)
        return;
    failover_heartbeat (self->leases, worker->slot, heartbeat, now_us,
                        (int64_t) self->options->lease_grace_ms * 1000, &self->plan);
    size_t resent = s_apply_plan (self, now_us);
    if (resent)
        zsys_info ("worker %s: %zu tasks sent to it were lost on the way, sent again",
                   tm_log_safe (worker->id, id, sizeof id), resent);
}

static void
s_drop_tasks_frame (master_t *self, const char *why)
{
    self->tasks_garbage++;
    uint64_t suppressed;
    if (tm_log_limiter_allow (&self->garbage_limiter, tm_clock_now_us (), &suppressed))
        zsys_warning ("tasks socket: dropped a frame (%s; %" PRIu64 " more not logged)",
                      why, suppressed);
}

//  A routing id we take: ours are 8 to 64 printable bytes (libzmq makes
//  one starting with a zero byte for a peer that set none).
static bool
s_incarnation_valid (zmq_msg_t *msg)
{
    size_t size = zmq_msg_size (msg);
    const uint8_t *data = (const uint8_t *) zmq_msg_data (msg);
    if (size < TM_MIN_INCARNATION_BYTES || size > TM_MAX_INCARNATION_BYTES)
        return false;
    for (size_t i = 0; i < size; i++)
        if (data [i] < 0x21 || data [i] > 0x7e)
            return false;
    return true;
}

static void
s_handle_credit (master_t *self, const char *incarnation, const tm_credit_t *credit, int fd,
                 int64_t now_us)
{
    worker_info_t *worker, *replaced;
    worker_credit_t outcome = worker_table_credit (self->workers, incarnation, credit, fd,
                                                   now_us, &worker, &replaced);
    if (outcome == WORKER_CREDIT_REFUSED) {
        s_drop_tasks_frame (self, "too many workers");
        return;
    }
    if (outcome == WORKER_CREDIT_NEW) {
        //  The incarnation is printable ASCII (s_incarnation_valid); the id
        //  is whatever the peer wrote.
        char id [TM_LOG_SAFE_BYTES (TM_MAX_WORKER_ID_BYTES)];
        zsys_info ("worker joined: %s (%s, %u threads, credit %u)",
                   tm_log_safe (worker->id, id, sizeof id), incarnation,
                   credit->threads, credit->credit);
        if (replaced)
            s_lose_worker (self, replaced, "replaced by a new incarnation", now_us);
    }
    //  A new connection of a worker we know: what its old one dropped is
    //  found from its next heartbeat's last_batch, once it has read this.
    if (outcome == WORKER_CREDIT_RECONNECTED)
        dispatcher_send_marker (self->dispatcher, worker);
    if (!self->dispatching && worker_table_live (self->workers) >= self->options->min_workers)
        self->dispatching = true;
}

//  Reads one message from the tasks ROUTER: routing id, then one frame.
//  Returns false when there is none.
static bool
s_read_credit (master_t *self, int64_t now_us)
{
    void *handle = zsock_resolve (self->tasks);
    zmq_msg_t id, body;
    zmq_msg_init (&id);
    if (zmq_msg_recv (&id, handle, ZMQ_DONTWAIT) == -1) {
        zmq_msg_close (&id);
        return false;
    }
    zmq_msg_init (&body);
    size_t parts = 1;
    bool more = zmq_msg_more (&id);
    while (more) {
        //  The rest of a message arrives with its first frame: this never blocks.
        zmq_msg_close (&body);
        zmq_msg_init (&body);
        if (zmq_msg_recv (&body, handle, 0) == -1)
            break;
        parts++;
        more = zmq_msg_more (&body);
    }
    char incarnation [TM_MAX_INCARNATION_BYTES + 1] = "";
    char worker_id [TM_MAX_WORKER_ID_BYTES + 1];
    tm_credit_t credit;
    tm_decode_status_t status = TM_DECODE_MALFORMED;
    bool named = parts == 2 && s_incarnation_valid (&id);
    if (named) {
        memcpy (incarnation, zmq_msg_data (&id), zmq_msg_size (&id));
        incarnation [zmq_msg_size (&id)] = 0;
        status = tm_codec_decode_credit (zmq_msg_data (&body), zmq_msg_size (&body),
                                         &credit, worker_id, sizeof worker_id);
    }
    int fd = parts == 2 ? zmq_msg_get (&body, ZMQ_SRCFD) : -1;
    zmq_msg_close (&body);
    zmq_msg_close (&id);
    if (parts != 2)
        s_drop_tasks_frame (self, "not one frame");
    else
    if (!named)
        s_drop_tasks_frame (self, "bad routing id");
    else
    if (status != TM_DECODE_OK)
        s_drop_tasks_frame (self, tm_decode_status_name (status));
    else
        s_handle_credit (self, incarnation, &credit, fd, now_us);
    return true;
}

//  A tasks connection closed: if it was a worker's, that worker is gone
//  unless it is reachable still (a marker gets through).
static void
s_connection_closed (master_t *self, int fd, int64_t now_us)
{
    worker_info_t *worker = worker_table_by_fd (self->workers, fd);
    if (worker && dispatcher_send_marker (self->dispatcher, worker) == -1)
        s_lose_worker (self, worker, "its connection closed", now_us);
}

//  A failed handshake is a peer that never reached our code: with CURVE,
//  one whose key is not admitted or that does not use CURVE at all.
static void
s_handshake_failed (master_t *self, int event, uint32_t status)
{
    self->handshakes_failed++;
    summary_count (self->summary, SUMMARY_HANDSHAKES_FAILED, 1);
    bool refused = event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH;
    uint64_t suppressed;
    if (!tm_log_limiter_allow (refused ? &self->refused_limiter : &self->handshake_limiter,
                               tm_clock_now_us (), &suppressed))
        return;
    if (refused)
        zsys_warning ("tasks socket: refused a peer whose key is not in --allow (ZAP status %u; "
                      "%" PRIu64 " handshakes failed so far)", status, self->handshakes_failed);
    else
        zsys_warning ("tasks socket: a peer's handshake failed (%s; %" PRIu64 " so far)",
                      self->curve ? "not a CURVE peer, or a broken handshake"
                                  : "a broken handshake", self->handshakes_failed);
}

static void
s_read_tasks_monitor (master_t *self, int64_t now_us)
{
    uint32_t value;
    int event = tm_socket_monitor_value (self->tasks_monitor, &value);
    if (event == ZMQ_EVENT_DISCONNECTED)
        s_connection_closed (self, (int) value, now_us);
    else
    if (event & (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
                 | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH))
        s_handshake_failed (self, event, value);
}

static void
s_reap_workers (master_t *self, int64_t now_us)
{
    int64_t timeout_us = self->options->worker_timeout_ms * 1000ll;
    worker_info_t *worker;
    while ((worker = worker_table_silent (self->workers, now_us, timeout_us))) {
        char why [64];
        snprintf (why, sizeof why, "silent for %u ms", self->options->worker_timeout_ms);
        s_lose_worker (self, worker, why, now_us);
    }
    worker_table_forget (self->workers, now_us, S_LOST_KEEP_US);
}


static void
s_fill_window (master_t *self)
{
    if (self->input_done)
        return;
    //  The queue lives here, so it is read whatever the workers; the byte
    //  bound keeps large payloads from multiplying memory by the task
    //  window; one task is always let in, whatever its size. Only what the
    //  workers have room for, and a margin, is read ahead of them: a lease
    //  is touched again when it is sent and when it ends, and the leases of
    //  a whole window read at once (megabytes) fell out of the cache in
    //  between, stalls that were half the loop's time on noop tasks; large
    //  payloads read at once were as many fresh megabytes of memory, a page
    //  fault every 4 KiB, where a few would have been reused. concat's seq
    //  limit keeps the outputs waiting for its file within the window.
    size_t window = lease_table_capacity (self->leases);
    //  When each task was read, for queue wait: a clock read per task was
    //  5% of the master's time on noop tasks, and only a read of input can
    //  wait, so the clock is read again only after one.
    int64_t now_us = tm_clock_now_us ();
    uint64_t blocks_read = job_reader_blocks_read (self->reader);
    size_t ahead = S_READ_AHEAD + dispatcher_room_total (self->dispatcher);
    for (int read = 0; read < S_READ_BURST && lease_table_size (self->leases) < window
                    && dispatcher_queued (self->dispatcher) < ahead
                    && (lease_table_queued_bytes (self->leases) < S_READ_AHEAD_BYTES
                        || dispatcher_queued (self->dispatcher) == 0)
                    && (lease_table_bytes (self->leases) < self->options->window_bytes
                        || lease_table_size (self->leases) == 0)
                    && lease_table_last_seq (self->leases) < reducer_seq_limit (self->reducer);
         read++) {
        job_entry_t entry;
        job_reader_status_t status = job_reader_next (self->reader, &entry);
        if (status == JOB_READER_SKIPPED) {
            uint64_t skipped = job_reader_skipped (self->reader), unlogged;
            if (skipped <= S_SKIPS_NAMED
            ||  tm_log_limiter_allow (&self->skip_limiter, tm_clock_now_us (), &unlogged))
                zsys_warning ("%s: %s: skipped (%" PRIu64 " so far)",
                              self->options->job_path, job_reader_error (self->reader), skipped);
            continue;
        }
        if (status != JOB_READER_OK) {
            self->input_done = true;
            if (status == JOB_READER_ERROR) {
                self->input_failed = true;
                zsys_error ("job input: %s; no further tasks read", job_reader_error (self->reader));
            }
            return;
        }
        if (self->resume && resume_set_has (self->resume, lease_table_last_seq (self->leases) + 1)) {
            lease_table_skip (self->leases);
            summary_count (self->summary, SUMMARY_RESUMED, 1);
            continue;
        }
        if (job_reader_blocks_read (self->reader) != blocks_read) {
            blocks_read = job_reader_blocks_read (self->reader);
            now_us = tm_clock_now_us ();
        }
        lease_t *lease = lease_table_issue (self->leases, entry.id, entry.type,
                                            entry.payload, entry.payload_size,
                                            entry.timeout_ms, entry.max_attempts, now_us);
        dispatcher_enqueue (self->dispatcher, lease);
    }
}


//  Whether result comes from the worker running a speculative copy of lease.
static bool
s_from_copy (master_t *self, const lease_t *lease, const tm_result_t *result)
{
    worker_info_t *copy = lease->copy_owner
                        ? worker_table_by_slot (self->workers, lease->copy_owner) : NULL;
    return copy && strcmp (copy->id, result->worker_id) == 0;
}

//  A result goes to outcome; if it made its task final, the worker the
//  task was sent to and the status's failure list hear of it.
static void
s_handle_result (master_t *self, const tm_result_t *result, int64_t now_us)
{
    lease_t *lease;
    bool ours = strcmp (result->job_id, self->job_id) == 0
             && lease_table_lookup (self->leases, result->seq, &lease) == LEASE_FOUND;
    uint32_t owner = ours ? lease->owner : 0;
    bool from_copy = ours && s_from_copy (self, lease, result);
    if (from_copy && result->status != TM_STATUS_OK) {
        //  The original still runs: a copy's failure decides nothing.
        summary_count (self->summary, SUMMARY_DUPLICATES, 1);
        return;
    }
    char type [TM_MAX_TYPE_BYTES + 1] = "";
    if (ours)
        snprintf (type, sizeof type, "%s", lease->type);
    if (ours && result->status != TM_STATUS_OK && result->attempt == lease->attempt
    &&  lease->attempt >= lease->max_attempts)
        status_failure (self->status, lease, result->status, result->error, result->worker_id);
    outcome_result (self->outcome, result, now_us);
    worker_info_t *worker = owner ? worker_table_by_slot (self->workers, owner) : NULL;
    if (!ours || lease_table_lookup (self->leases, result->seq, &lease) != LEASE_FINAL)
        return;
    //  Final now: exactly once per seq, as the results file has it.
    if (result->status == TM_STATUS_OK && self->speculate)
        speculate_observe (self->speculate, type, result->duration_us);
    summary_count (self->summary, SUMMARY_SPECULATIVE_WON, from_copy);
    if (result->status == TM_STATUS_OK)
        reducer_add (self->reducer, result->seq, result->output, result->output_size);
    else
        reducer_skip (self->reducer, result->seq);
    if (worker) {
        worker->done++;
        worker->failed += result->status != TM_STATUS_OK;
    }
}

static void
s_handle_message (master_t *self, tm_worker_msg_t *msg, int64_t now_us)
{
    if (tm_worker_msg_is_heartbeat (msg)) {
        tm_heartbeat_t heartbeat;
        tm_worker_msg_heartbeat (msg, &heartbeat);
        s_handle_heartbeat (self, &heartbeat, now_us);
        return;
    }
    //  A batch's leases were last touched when sent, a round trip ago, and
    //  are out of the cache: their slots, then the leases themselves, are
    //  fetched for the whole batch first, so that the misses overlap
    //  rather than come one after another.
    size_t count = tm_worker_msg_result_count (msg);
    for (int lease_too = 0; lease_too <= 1; lease_too++)
        for (size_t i = 0; i < count; i++)
            lease_table_prefetch (self->leases, tm_worker_msg_result_seq (msg, i), lease_too);
    for (size_t i = 0; i < count; i++) {
        tm_result_t result;
        tm_worker_msg_result (msg, i, &result);
        s_handle_result (self, &result, now_us);
    }
}

static void
s_drain_sink (master_t *self)
{
    int64_t now_us = tm_clock_now_us ();
    for (int i = 0; i < S_EVENT_BURST; i++) {
        if (!(zsock_events (sink_pipe (self->sink)) & ZMQ_POLLIN))
            break;
        sink_event_t event;
        if (sink_recv (self->sink, &event) == -1)
            break;
        if (event.kind == SINK_EVENT_MESSAGE) {
            s_handle_message (self, event.msg, now_us);
            tm_worker_msg_destroy (&event.msg);
        }
        else
        if (event.kind == SINK_EVENT_STATS) {
            self->sink_garbage = sink_stats_dropped (&event.stats);
            sink_log_drops (&event.stats, &self->sink_garbage_logged, &self->sink_limiter);
        }
    }
}


//  concat waits for seqs in order; one the master gave up on (a timeout, a
//  task that killed its workers) is final with no ok output: go past it.
//  An ok one is handed over the moment it is final, so a final seq still
//  awaited is never ok.
static void
s_reduce_past_given_up (master_t *self)
{
    lease_t *lease;
    uint64_t seq;
    while ((seq = reducer_waiting_for (self->reducer))
       &&  lease_table_lookup (self->leases, seq, &lease) == LEASE_FINAL)
        reducer_skip (self->reducer, seq);
}

static void
s_tick (master_t *self, int64_t now_us)
{
    self->next_tick_us = now_us + S_TICK_US;
    outcome_expire (self->outcome, now_us);
    s_reduce_past_given_up (self);
    s_reap_workers (self, now_us);
    dispatcher_send_due_markers (self->dispatcher);
    if (self->speculate && self->input_done)
        summary_count (self->summary, SUMMARY_SPECULATIVE_LAUNCHED,
                       speculate_tick (self->speculate, now_us));
    bool sync = self->options->sync_ms && now_us >= self->next_sync_us;
    if (sync)
        self->next_sync_us = now_us + (int64_t) self->options->sync_ms * 1000;
    //  A full disk is retried by the writer; only a fatal error ends the run.
    results_writer_flush (self->writer, sync);
    if (outcome_output_failed (self->outcome))
        self->output_failed = true;
    if (control_tick (self->control, now_us) && now_us >= self->next_announce_us) {
        self->next_announce_us = now_us + S_ANNOUNCE_US;
        control_send (self->control, TM_CONTROL_JOB_START, self->job_id);
    }
    int64_t total = self->input_done ? (int64_t) job_reader_count (self->reader) : -1;
    status_update (self->status, now_us, total,
                   self->tasks_garbage + self->sink_garbage + admin_bad_requests (self->admin)
                   + control_junk (self->control));
    if (self->http) {
        size_t size;
        metrics_update (self->metrics, total, self->tasks_garbage + self->sink_garbage
                                              + control_junk (self->control));
        const char *text = metrics_text (self->metrics, &size);
        http_set_snapshot (self->http, status_json (self->status), text, size);
    }
    size_t open = lease_table_size (self->leases), queued = dispatcher_queued (self->dispatcher);
    progress_update (self->progress, now_us, summary_done (self->summary),
                     summary_not_ok (self->summary), queued < open ? open - queued : 0,
                     self->input_done ? job_reader_count (self->reader) : 0,
                     worker_table_live (self->workers));
}


static bool
s_job_done (master_t *self)
{
    return self->input_done && lease_table_size (self->leases) == 0;
}

static void
s_poll_once (master_t *self)
{
    int64_t now_us = tm_clock_now_us ();
    int64_t wake_us = self->next_tick_us;
    if (self->http && tm_http_due_us (self->http) < wake_us)
        wake_us = tm_http_due_us (self->http);
    long timeout_ms = (long) ((wake_us - now_us + 999) / 1000);
    if (timeout_ms < 0)
        timeout_ms = 0;
    zmq_pollitem_t items [5] = {
        { zsock_resolve (sink_pipe (self->sink)), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (self->tasks), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (self->tasks_monitor), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (admin_socket (self->admin)), 0, ZMQ_POLLIN, 0 },
        { NULL, self->http ? tm_http_fd (self->http) : -1, ZMQ_POLLIN, 0 },
    };
    if (zmq_poll (items, self->http ? 5 : 4, timeout_ms) == -1)
        return;     //  EINTR: the caller checks zsys_interrupted
    now_us = tm_clock_now_us ();
    if (self->http && tm_http_pending (self->http, items [4].revents, now_us))
        tm_http_run (self->http, now_us);
    if (items [1].revents & ZMQ_POLLIN)
        for (int i = 0; i < S_CREDIT_BURST && s_read_credit (self, now_us); i++)
            ;
    if (items [0].revents & ZMQ_POLLIN)
        s_drain_sink (self);
    if (items [2].revents & ZMQ_POLLIN)
        s_read_tasks_monitor (self, now_us);
    if ((items [3].revents & ZMQ_POLLIN)
    &&  admin_serve (self->admin, status_json (self->status))) {
        //  Every worker finishes what it holds and exits; the job waits
        //  for new ones.
        zsys_info ("admin: drain requested: announcing DRAIN to every worker");
        control_send (self->control, TM_CONTROL_DRAIN, self->job_id);
    }
}

static int
s_exit_status (master_t *self, bool interrupted)
{
    if (interrupted || self->output_failed)
        return TM_EXIT_RUNTIME;
    if (self->input_failed)
        return TM_EXIT_USAGE;
    //  A skipped line is a task that did not run ok (--skip-invalid).
    uint64_t not_ok = summary_not_ok (self->summary) + job_reader_skipped (self->reader)
                    + (self->resume ? resume_set_not_ok (self->resume) : 0);
    return not_ok > 0 ? TM_EXIT_TASKS_FAILED : TM_EXIT_OK;
}

//  Ends the job: the last results written and synced and the summary
//  written; only then is the exit status known, and it says so.
static int
s_finish_job (master_t *self, bool interrupted)
{
    control_send (self->control, TM_CONTROL_JOB_END, self->job_id);
    //  A full disk at the very end gets the writer's whole retry time too.
    while (results_writer_flush (self->writer, true) == -1
       &&  results_writer_state (self->writer) == RESULTS_WRITER_RETRYING && !zsys_interrupted)
        zmq_poll (NULL, 0, S_TICK_US / 1000);
    if (results_writer_state (self->writer) != RESULTS_WRITER_OK && !self->output_failed) {
        zsys_error ("cannot write the last results: the file lacks some");
        self->output_failed = true;
    }
    sink_stats_t stats;
    sink_stop (self->sink, &stats);
    sink_log_drops (&stats, &self->sink_garbage_logged, &self->sink_limiter);
    uint64_t garbage = self->tasks_garbage + sink_stats_dropped (&stats)
                     + control_junk (self->control);
    summary_count (self->summary, SUMMARY_GARBAGE, garbage);
    summary_count (self->summary, SUMMARY_INVALID_SKIPPED, job_reader_skipped (self->reader));
    if (job_reader_skipped (self->reader))
        zsys_warning ("%s: %" PRIu64 " invalid lines skipped in all", self->options->job_path,
                      job_reader_skipped (self->reader));
    s_reduce_past_given_up (self);
    if (reducer_finish (self->reducer) != 0)
        self->output_failed = true;
    json_t *reduced = reducer_json (self->reducer);
    if (reduced)
        summary_attach (self->summary, "reduce", reduced);
    int exit_status = s_exit_status (self, interrupted);
    summary_finish (self->summary, tm_clock_now_us () - self->start_us, exit_status);
    progress_clear (self->progress);
    if (!self->options->quiet) {
        summary_print (self->summary, stderr);
        reducer_print (self->reducer, stderr);
    }
    if (self->options->summary_path
    &&  summary_write_json (self->summary, self->options->summary_path) == -1)
        exit_status = TM_EXIT_RUNTIME;     //  logged by the summary
    return exit_status;
}

int
master_run (master_t *self)
{
    bool interrupted = false;
    while (!s_job_done (self) && !self->output_failed) {
        if (zsys_interrupted) {
            interrupted = true;
            zsys_warning ("interrupted: %zu tasks still in flight", lease_table_size (self->leases));
            break;
        }
        s_fill_window (self);
        if (self->dispatching && dispatcher_queued (self->dispatcher) > 0)
            dispatcher_flush (self->dispatcher, tm_clock_now_us ());
        s_poll_once (self);
        int64_t now_us = tm_clock_now_us ();
        if (now_us >= self->next_tick_us)
            s_tick (self, now_us);
    }
    int exit_status = s_finish_job (self, interrupted);
    if (!interrupted)
        zsys_info ("job %s done: %" PRIu64 " tasks, exit status %d",
                   self->job_id, summary_done (self->summary), exit_status);
    return exit_status;
}
