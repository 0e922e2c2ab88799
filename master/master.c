/*  master: the loop. A task's path through this file: s_fill_window takes
    it from the job reader into the lease table and the dispatcher's queue;
    dispatcher_flush sends it; the sink hands back its result, and
    s_handle_result makes it final (results writer, summary) or sends it
    again. s_tick expires leases and reaps silent workers.
*/
#include "master.h"
#include "dispatcher.h"
#include "lease_table.h"
#include "progress.h"
#include "results_writer.h"
#include "resume_set.h"
#include "sink.h"
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
#define S_EXPIRED_BATCH 4096        //  leases expired per tick
#define S_CONTROL_LINGER_MS 500     //  JOB_END gets this long to leave
#define S_SETTLE_US 300000          //  no new worker this long: start dispatching
#define S_SETTLE_MAX_US 1200000     //  ... or this long after the first one
#define S_HANDSHAKE_US 50000        //  a connection accepted this long ago is usable
#define S_CREDIT_MIN 4096           //  tasks in flight per worker, at least
#define S_CREDIT_PER_THREAD 8       //  ... or this many per executor thread
#define S_SWEEP_US 1000000          //  tasks lost in flight are looked for this often
#define S_ORPHAN_MARGIN_US 500000   //  an idle worker lists a task within this of its send
#define S_FREE_RESENDS 2            //  lost copies sent again free; after that, charged
#define S_BACKOFF_MAX_US 30000000   //  the longest a retry waits
#define S_SKIPS_NAMED 20            //  --skip-invalid: lines named before rate limiting

struct _master_t {
    const master_options_t *options;
    char job_id [TM_MAX_JOB_ID_BYTES + 1];
    zsock_t *tasks;                 //  PUSH to workers
    zsock_t *control;               //  PUB to workers
    zsock_t *tasks_monitor;         //  peer events of the tasks socket
    int tasks_peers;                //  workers connected to the tasks socket
    int64_t first_peer_us;          //  when the first worker connected (0: none yet)
    int64_t last_peer_us;           //  when the last worker connected
    sink_t *sink;                   //  results actor
    job_reader_t *reader;
    lease_table_t *leases;
    dispatcher_t *dispatcher;
    results_writer_t *writer;
    resume_set_t *resume;           //  --resume: seqs final in an earlier run
    summary_t *summary;
    progress_t *progress;
    worker_table_t *workers;        //  what heartbeats said
    uint64_t *expired;              //  scratch for lease_table_expired
    lease_t **orphans;              //  scratch for s_find_orphans
    bool dispatching;               //  the start gate (s_may_start) opened; no gate after
    bool input_done;                //  the reader reached the end (or failed)
    bool input_failed;              //  a bad job line or read error stopped it
    bool output_failed;             //  the results file could not be written
    tm_log_limiter_t skip_limiter;  //  skipped lines after the first S_SKIPS_NAMED
    int64_t start_us;
    int64_t next_tick_us;
    int64_t next_announce_us;
    int64_t next_sweep_us;
    int64_t next_sync_us;           //  the results file is fdatasynced then
    int64_t lost_at_us;             //  a worker was lost and its late tasks not yet swept
    uint64_t lost_frame;            //  ... when this many frames were sent
    size_t lost_suspects;           //  ... and this many of them are suspects
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
    if (job_reader_seekable (reader)) {
        job_entry_t entry;
        job_reader_status_t status;
        while ((status = job_reader_next (reader, &entry)) == JOB_READER_OK)
            ;
        if (status == JOB_READER_ERROR) {
            fprintf (stderr, "taskmill-master: %s: %s\n", options->job_path, job_reader_error (reader));
            rc = TM_EXIT_USAGE;
        }
    }
    job_reader_destroy (&reader);
    return rc;
}

static int
s_open_sockets (master_t *self)
{
    const master_options_t *options = self->options;
    self->tasks = tm_socket_tasks_push (options->bind_tasks, &self->tasks_monitor);
    self->control = tm_socket_control_pub (options->bind_control);
    self->sink = sink_new (options->bind_results);
    if (!self->tasks || !self->control || !self->sink)
        return -1;
    zsys_info ("job %s: tasks on %s, results on %s, control on %s",
               self->job_id, options->bind_tasks, options->bind_results, options->bind_control);
    return 0;
}

master_t *
master_new (const master_options_t *options)
{
    master_t *self = (master_t *) zmalloc (sizeof (master_t));
    self->options = options;
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
    self->leases = lease_table_new (options->window);
    self->dispatcher = dispatcher_new (self->tasks, self->leases, self->job_id,
                                       (int64_t) options->lease_grace_ms * 1000);
    self->summary = summary_new (self->job_id);
    self->workers = worker_table_new ();
    self->orphans = (lease_t **) zmalloc (options->window * sizeof (lease_t *));
    self->expired = (uint64_t *) zmalloc (S_EXPIRED_BATCH * sizeof (uint64_t));
    self->start_us = tm_clock_now_us ();
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
    free (self->expired);
    worker_table_destroy (&self->workers);
    free (self->orphans);
    summary_destroy (&self->summary);
    dispatcher_destroy (&self->dispatcher);
    lease_table_destroy (&self->leases);
    results_writer_destroy (&self->writer);
    resume_set_destroy (&self->resume);
    sink_destroy (&self->sink);
    if (self->control)
        zsock_set_linger (self->control, S_CONTROL_LINGER_MS);
    zsock_destroy (&self->control);
    zsock_destroy (&self->tasks_monitor);
    zsock_destroy (&self->tasks);
    job_reader_destroy (&self->reader);
    free (self);
    *self_p = NULL;
}

//  --- workers ---------------------------------------------------------------

static void s_retry (master_t *self, lease_t *lease, int64_t now_us);
static void s_give_up (master_t *self, lease_t *lease, tm_status_t status,
                       const char *error, int64_t now_us);

static void
s_handle_heartbeat (master_t *self, const tm_heartbeat_t *heartbeat, int64_t now_us)
{
    worker_table_heartbeat (self->workers, heartbeat,
                            strcmp (heartbeat->job_id, self->job_id) == 0, now_us);
}

//  Sends again a task whose copy was lost with a worker or a connection.
//  A suspect (it may have been running when its worker died: it may be
//  what killed it) is charged an attempt, so a task that kills every
//  worker it reaches ends FAILED instead of going round the cluster. The
//  rest go free of charge, but only so often: a task that keeps vanishing
//  is charged like any other.
static void
s_resend_lost (master_t *self, lease_t *lease, bool suspect, int64_t now_us)
{
    if (!suspect && lease->free_resends < S_FREE_RESENDS) {
        lease->free_resends++;
        dispatcher_enqueue (self->dispatcher, lease);
        summary_count (self->summary, SUMMARY_REISSUED, 1);
    }
    else
    if (lease->attempt < lease->max_attempts)
        s_retry (self, lease, now_us);
    else
        s_give_up (self, lease, TM_STATUS_FAILED,
                   "worker lost while running it, on every attempt", now_us);
}

static int
s_by_send_number (const void *a, const void *b)
{
    uint64_t x = (*(lease_t * const *) a)->send_number;
    uint64_t y = (*(lease_t * const *) b)->send_number;
    return x < y ? -1 : x > y;
}

//  Tasks in flight that no live worker holds although every live worker
//  has reported since they left: lost with a worker or a connection (PUSH
//  cannot say which worker took a frame; heartbeats can). Writes them to
//  self->orphans in the order they were sent; returns how many.
static size_t
s_find_orphans (master_t *self, const worker_horizon_t *horizon)
{
    size_t count = lease_table_sent_before (self->leases, INT64_MAX, self->orphans,
                                            lease_table_capacity (self->leases));
    size_t kept = 0;
    for (size_t i = 0; i < count; i++) {
        lease_t *lease = self->orphans [i];
        bool by_time = horizon->heard_us
                    && lease->sent_us + S_ORPHAN_MARGIN_US <= horizon->heard_us;
        bool accounted = lease->frame <= horizon->frame || by_time;
        if (accounted && !worker_table_holds (self->workers, lease->seq))
            self->orphans [kept++] = lease;
    }
    if (kept > 1)
        qsort (self->orphans, kept, sizeof (lease_t *), s_by_send_number);
    return kept;
}

//  A silent worker's tasks are sent again now, not when their leases end:
//  those its last heartbeat listed now, those it took after that once the
//  live workers have reported since (s_sweep_orphans). Workers run tasks in
//  the order they list and take them, so the first `threads` of these
//  still in flight are the ones it may have been running: the suspects.
static size_t
s_recover_worker (master_t *self, worker_info_t *worker, int64_t now_us)
{
    size_t suspects = worker->threads ? worker->threads : 1;
    size_t resent = 0;
    for (size_t i = 0; i < worker->held_count; i++) {
        lease_t *lease;
        if (lease_table_lookup (self->leases, worker->held [i], &lease) != LEASE_FOUND
        ||  lease->state != LEASE_SENT)
            continue;
        s_resend_lost (self, lease, suspects > 0, now_us);
        suspects -= suspects > 0;
        resent++;
    }
    worker_table_remove (self->workers, worker);
    self->lost_at_us = now_us;
    self->lost_frame = dispatcher_frames (self->dispatcher);
    self->lost_suspects += suspects;
    return resent;
}

static void
s_reap_workers (master_t *self, int64_t now_us)
{
    int64_t timeout_us = self->options->worker_timeout_ms * 1000ll;
    worker_info_t *worker;
    while ((worker = worker_table_silent (self->workers, now_us, timeout_us))) {
        char id [TM_MAX_WORKER_ID_BYTES + 1];
        snprintf (id, sizeof id, "%s", worker->id);
        if (worker->draining && worker->held_count == 0) {
            //  It drained and exited: nothing of it to recover or suspect.
            zsys_info ("worker left: %s (drained)", id);
            worker_table_remove (self->workers, worker);
            continue;
        }
        size_t resent = s_recover_worker (self, worker, now_us);
        zsys_info ("worker lost: %s (silent for %u ms), %zu tasks sent again",
                   id, self->options->worker_timeout_ms, resent);
    }
}

//  Sends again the tasks no live worker holds: after a worker is lost, the
//  ones it took after its last heartbeat, every tick until the live workers
//  account for all it was sent (what they account for grows in send order,
//  so the first found are the first it took: its remaining suspects, see
//  s_recover_worker); and now and then in any case, as tasks also vanish
//  with no worker lost: a connection reset drops what was queued in it, a
//  result that could not be sent never comes.
static void
s_sweep_orphans (master_t *self, int64_t now_us)
{
    bool after_loss = self->lost_at_us != 0;
    if (!after_loss && now_us < self->next_sweep_us)
        return;
    worker_horizon_t horizon;
    if (!worker_table_horizon (self->workers, &horizon))
        return;
    self->next_sweep_us = now_us + S_SWEEP_US;
    size_t orphans = s_find_orphans (self, &horizon);
    for (size_t i = 0; i < orphans; i++) {
        s_resend_lost (self, self->orphans [i], self->lost_suspects > 0, now_us);
        self->lost_suspects -= self->lost_suspects > 0;
    }
    if (orphans)
        zsys_info ("%zu tasks held by no live worker sent again%s", orphans,
                   after_loss ? " (taken by a lost worker after its last heartbeat)" : "");
    bool settled = horizon.frame >= self->lost_frame
                || (horizon.heard_us && horizon.heard_us >= self->lost_at_us + S_ORPHAN_MARGIN_US);
    if (after_loss && settled) {
        self->lost_at_us = 0;
        self->lost_suspects = 0;
    }
}

//  --- input -----------------------------------------------------------------

//  Workers ready for tasks: connected to the tasks socket and heard from.
static size_t
s_ready_workers (master_t *self)
{
    size_t heard = worker_table_size (self->workers);
    size_t connected = self->tasks_peers > 0 ? (size_t) self->tasks_peers : 0;
    return heard < connected ? heard : connected;
}

//  How many tasks may be in flight: the window, but no more than the known
//  workers can hold, so one early worker cannot take the whole job and
//  workers that join later get a share.
static size_t
s_credit (master_t *self)
{
    size_t credit = worker_table_credit (self->workers, S_CREDIT_PER_THREAD, S_CREDIT_MIN);
    size_t window = lease_table_capacity (self->leases);
    //  At least one task is read even with no worker, so an empty or bad
    //  input ends the run at once.
    if (credit == 0)
        credit = 1;
    return credit < window ? credit : window;
}

//  Dispatch starts once --min-workers are ready or, without it, once the
//  workers already running have had a moment to (re)connect, so the first
//  one to connect does not get the whole start of the job.
static bool
s_may_start (master_t *self, int64_t now_us)
{
    size_t ready = s_ready_workers (self);
    //  A connection counts when accepted; PUSH routes to it only once its
    //  handshake is done (ZMQ_IMMEDIATE), a moment later: until then the
    //  whole start of the job would go to the workers already through.
    if (self->options->min_workers)
        return ready >= self->options->min_workers
            && now_us - self->last_peer_us >= S_HANDSHAKE_US;
    return ready > 0
        && (now_us - self->last_peer_us >= S_SETTLE_US
         || now_us - self->first_peer_us >= S_SETTLE_MAX_US);
}

static void
s_fill_window (master_t *self)
{
    if (self->input_done)
        return;
    if (!self->dispatching && s_may_start (self, tm_clock_now_us ()))
        self->dispatching = true;
    size_t credit = self->dispatching ? s_credit (self) : 1;
    //  The byte bound keeps large payloads from multiplying memory by the
    //  task window; one task is always let in, whatever its size.
    while (lease_table_size (self->leases) < credit
       && (lease_table_bytes (self->leases) < self->options->window_bytes
           || lease_table_size (self->leases) == 0)) {
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
        lease_t *lease = lease_table_issue (self->leases, entry.id, entry.type,
                                            entry.payload, entry.payload_size,
                                            entry.timeout_ms, entry.max_attempts);
        dispatcher_enqueue (self->dispatcher, lease);
    }
}

//  --- results -----------------------------------------------------------------

static void
s_finish (master_t *self, lease_t *lease, const tm_result_t *result, int64_t now_us)
{
    if (results_writer_write (self->writer, lease, result) == -1 && !self->output_failed) {
        zsys_error ("cannot write results: %s", strerror (errno));
        self->output_failed = true;
    }
    summary_add (self->summary, lease->type, result->status, result->worker_id,
                 now_us - lease->first_sent_us);
    lease_table_finish (self->leases, lease->seq);
}

//  Ends a task the master gives up on, with no result from a worker.
static void
s_give_up (master_t *self, lease_t *lease, tm_status_t status, const char *error,
           int64_t now_us)
{
    if (results_writer_write_status (self->writer, lease, status, error) == -1)
        self->output_failed = true;
    summary_add (self->summary, lease->type, status, NULL, now_us - lease->first_sent_us);
    lease_table_finish (self->leases, lease->seq);
}

//  Attempt n waits base * 2^(n-2): a task failing for a reason that
//  passes (a busy dependency, a full disk) is not hammered at full speed.
static int64_t
s_backoff_us (uint32_t base_ms, uint32_t attempt)
{
    int64_t delay_us = (int64_t) base_ms * 1000;
    for (uint32_t i = 2; i < attempt && delay_us < S_BACKOFF_MAX_US; i++)
        delay_us *= 2;
    return delay_us < S_BACKOFF_MAX_US ? delay_us : S_BACKOFF_MAX_US;
}

static void
s_retry (master_t *self, lease_t *lease, int64_t now_us)
{
    lease->attempt++;
    summary_count (self->summary, SUMMARY_RETRIES, 1);
    int64_t delay_us = s_backoff_us (self->options->retry_backoff_ms, lease->attempt);
    if (delay_us == 0) {
        dispatcher_enqueue (self->dispatcher, lease);
        return;
    }
    //  s_expire_leases queues it when the wait is over.
    lease->state = LEASE_WAITING;
    lease->deadline_us = now_us + delay_us;
}

static void
s_handle_result (master_t *self, const tm_result_t *result, int64_t now_us)
{
    if (strcmp (result->job_id, self->job_id) != 0) {
        summary_count (self->summary, SUMMARY_STALE, 1);
        return;
    }
    lease_t *lease;
    lease_lookup_t found = lease_table_lookup (self->leases, result->seq, &lease);
    if (found != LEASE_FOUND) {
        summary_count (self->summary,
                       found == LEASE_FINAL ? SUMMARY_DUPLICATES : SUMMARY_UNKNOWN_SEQ, 1);
        return;
    }
    if (result->status == TM_STATUS_OK) {
        s_finish (self, lease, result, now_us);
        return;
    }
    //  A failure of an attempt we already replaced, or of one whose retry
    //  is already queued, changes nothing: the newer attempt decides.
    if (result->attempt != lease->attempt || lease->state != LEASE_SENT) {
        summary_count (self->summary, SUMMARY_DUPLICATES, 1);
        return;
    }
    if (lease->attempt < lease->max_attempts)
        s_retry (self, lease, now_us);
    else
        s_finish (self, lease, result, now_us);
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
    size_t count = tm_worker_msg_result_count (msg);
    for (size_t i = 0; i < count; i++) {
        tm_result_t result;
        tm_worker_msg_result (msg, i, &result);
        if (i == 0 && strcmp (result.job_id, self->job_id) == 0)
            worker_table_seen (self->workers, result.worker_id, now_us);
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
    }
}

//  --- tick --------------------------------------------------------------------

static void
s_expire_leases (master_t *self, int64_t now_us)
{
    size_t count = lease_table_expired (self->leases, now_us, self->expired, S_EXPIRED_BATCH);
    for (size_t i = 0; i < count; i++) {
        lease_t *lease;
        if (lease_table_lookup (self->leases, self->expired [i], &lease) != LEASE_FOUND)
            continue;
        if (lease->state == LEASE_WAITING) {
            dispatcher_enqueue (self->dispatcher, lease);
            continue;
        }
        summary_count (self->summary, SUMMARY_LEASES_EXPIRED, 1);
        if (lease->attempt < lease->max_attempts) {
            s_retry (self, lease, now_us);
            continue;
        }
        s_give_up (self, lease, TM_STATUS_TIMEOUT, "lease expired: no result from any worker", now_us);
    }
}

static void
s_tick (master_t *self, int64_t now_us)
{
    self->next_tick_us = now_us + S_TICK_US;
    s_expire_leases (self, now_us);
    s_reap_workers (self, now_us);
    s_sweep_orphans (self, now_us);
    bool sync = self->options->sync_ms && now_us >= self->next_sync_us;
    if (sync)
        self->next_sync_us = now_us + (int64_t) self->options->sync_ms * 1000;
    if (results_writer_flush (self->writer, sync) == -1 && !self->output_failed) {
        zsys_error ("cannot flush results: %s", strerror (errno));
        self->output_failed = true;
    }
    if (now_us >= self->next_announce_us) {
        self->next_announce_us = now_us + S_ANNOUNCE_US;
        zframe_t *frame = tm_codec_encode_control (TM_CONTROL_JOB_START, self->job_id);
        tm_codec_send (self->control, &frame, ZMQ_DONTWAIT);
    }
    progress_update (self->progress, now_us, summary_done (self->summary),
                     summary_not_ok (self->summary), lease_table_size (self->leases),
                     self->input_done ? job_reader_count (self->reader) : 0,
                     worker_table_size (self->workers));
}

//  --- run -----------------------------------------------------------------------

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
    //  Before the start, wake when the last connection's handshake time is
    //  over, not at the next tick: the gate opens then.
    int64_t gate_us = self->last_peer_us + S_HANDSHAKE_US;
    if (!self->dispatching && self->last_peer_us && gate_us > now_us && gate_us < wake_us)
        wake_us = gate_us;
    long timeout_ms = (long) ((wake_us - now_us + 999) / 1000);
    if (timeout_ms < 0)
        timeout_ms = 0;
    zmq_pollitem_t items [3] = {
        { zsock_resolve (sink_pipe (self->sink)), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (self->tasks_monitor), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve (self->tasks), 0, ZMQ_POLLOUT, 0 }
    };
    int count = self->dispatching && dispatcher_queued (self->dispatcher) > 0 ? 3 : 2;
    if (zmq_poll (items, count, timeout_ms) == -1)
        return;     //  EINTR: the caller checks zsys_interrupted
    if (items [0].revents & ZMQ_POLLIN)
        s_drain_sink (self);
    if (items [1].revents & ZMQ_POLLIN) {
        int change = tm_socket_monitor_read (self->tasks_monitor);
        self->tasks_peers += change;
        if (change > 0) {
            self->last_peer_us = tm_clock_now_us ();
            if (!self->first_peer_us)
                self->first_peer_us = self->last_peer_us;
        }
    }
}

static void
s_finish_job (master_t *self, int exit_status)
{
    zframe_t *frame = tm_codec_encode_control (TM_CONTROL_JOB_END, self->job_id);
    tm_codec_send (self->control, &frame, ZMQ_DONTWAIT);
    if (results_writer_flush (self->writer, true) == -1)
        self->output_failed = true;
    sink_stats_t stats;
    sink_stop (self->sink, &stats);
    uint64_t garbage = 0;
    for (int status = TM_DECODE_OK + 1; status < TM_DECODE_COUNT; status++)
        garbage += stats.dropped [status];
    summary_count (self->summary, SUMMARY_GARBAGE, garbage);
    summary_count (self->summary, SUMMARY_INVALID_SKIPPED, job_reader_skipped (self->reader));
    if (job_reader_skipped (self->reader))
        zsys_warning ("%s: %" PRIu64 " invalid lines skipped in all", self->options->job_path,
                      job_reader_skipped (self->reader));
    summary_finish (self->summary, tm_clock_now_us () - self->start_us, exit_status);
    progress_clear (self->progress);
    if (!self->options->quiet)
        summary_print (self->summary, stderr);
    if (self->options->summary_path)
        summary_write_json (self->summary, self->options->summary_path);
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

int
master_run (master_t *self)
{
    bool interrupted = false;
    while (!s_job_done (self)) {
        if (zsys_interrupted) {
            interrupted = true;
            zsys_warning ("interrupted: %zu tasks still in flight", lease_table_size (self->leases));
            break;
        }
        s_fill_window (self);
        if (self->dispatching && dispatcher_queued (self->dispatcher) > 0)
            dispatcher_flush (self->dispatcher, tm_clock_now_us (), s_ready_workers (self));
        s_poll_once (self);
        int64_t now_us = tm_clock_now_us ();
        if (now_us >= self->next_tick_us)
            s_tick (self, now_us);
    }
    int exit_status = s_exit_status (self, interrupted);
    s_finish_job (self, exit_status);
    if (!interrupted)
        zsys_info ("job %s done: %" PRIu64 " tasks, exit status %d",
                   self->job_id, summary_done (self->summary), exit_status);
    return exit_status;
}
