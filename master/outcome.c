/*  outcome: finality and the retry policy. */
#include "outcome.h"
#include <czmq.h>

#define S_EXPIRED_BATCH 4096        //  leases expired per call

struct _outcome_t {
    lease_table_t *leases;          //  borrowed
    dispatcher_t *dispatcher;       //  borrowed
    results_writer_t *writer;       //  borrowed
    summary_t *summary;             //  borrowed
    char *job_id;
    uint32_t retry_backoff_ms;
    uint64_t jitter;                //  state of the retries' spread
    bool output_failed;
    uint64_t *expired;              //  scratch for lease_table_expired
};

outcome_t *
outcome_new (lease_table_t *leases, dispatcher_t *dispatcher, results_writer_t *writer,
             summary_t *summary, const char *job_id, uint32_t retry_backoff_ms, uint64_t seed)
{
    outcome_t *self = (outcome_t *) zmalloc (sizeof (outcome_t));
    self->leases = leases;
    self->dispatcher = dispatcher;
    self->writer = writer;
    self->summary = summary;
    self->job_id = strdup (job_id);
    self->retry_backoff_ms = retry_backoff_ms;
    self->jitter = seed | 1;
    self->expired = (uint64_t *) zmalloc (S_EXPIRED_BATCH * sizeof (uint64_t));
    return self;
}

void
outcome_destroy (outcome_t **self_p)
{
    assert (self_p);
    outcome_t *self = *self_p;
    if (self) {
        free (self->expired);
        free (self->job_id);
        free (self);
        *self_p = NULL;
    }
}

bool
outcome_output_failed (outcome_t *self)
{
    //  A full disk is retried by the writer; only a fatal error stops the
    //  run, since every later result would be lost (--resume runs them).
    if (!self->output_failed && results_writer_state (self->writer) == RESULTS_WRITER_FAILED) {
        zsys_error ("cannot write results: stopping; --resume runs what the results file lacks");
        self->output_failed = true;
    }
    return self->output_failed;
}

static void
s_finish (outcome_t *self, lease_t *lease, const tm_result_t *result, int64_t now_us)
{
    if (results_writer_write (self->writer, lease, result) == -1)
        outcome_output_failed (self);
    //  Queue wait is the rest of its time here, so wait + run time = read
    //  to final result: the master's queue, the trips both ways and the
    //  worker's queue, and for a retried task its earlier attempts.
    int64_t run_us = result->duration_us > 0 ? result->duration_us : 0;
    int64_t wait_us = now_us - lease->issued_us - run_us;
    summary_add (self->summary, &(summary_result_t) {
        .type = lease->type, .status = result->status, .worker_id = result->worker_id,
        .latency_us = now_us - lease->first_sent_us, .run_us = run_us,
        .wait_us = wait_us > 0 ? wait_us : 0, .now_us = now_us });
    lease_table_finish (self->leases, lease->seq);
}

//  Ends a task the master gives up on, with no result from a worker.
static void
s_give_up (outcome_t *self, lease_t *lease, tm_status_t status, const char *error,
           int64_t now_us)
{
    if (results_writer_write_status (self->writer, lease, status, error) == -1)
        outcome_output_failed (self);
    summary_add (self->summary, &(summary_result_t) {
        .type = lease->type, .status = status,
        .latency_us = now_us - lease->first_sent_us, .now_us = now_us });
    lease_table_finish (self->leases, lease->seq);
}

//  A task failing for a reason that passes (a busy dependency, a full
//  disk) is not hammered at full speed; the spread keeps tasks charged
//  together (running beside each other when their worker died) from
//  travelling together again. Waits end at the master's 100 ms ticks, so a
//  spread narrower than that would not part them.
int64_t
outcome_backoff_us (outcome_t *self, uint32_t attempt)
{
    int64_t delay_us = (int64_t) self->retry_backoff_ms * 1000;
    for (uint32_t i = 2; i < attempt && delay_us < OUTCOME_BACKOFF_MAX_US; i++)
        delay_us *= 2;
    if (delay_us > OUTCOME_BACKOFF_MAX_US)
        delay_us = OUTCOME_BACKOFF_MAX_US;
    //  xorshift64: the spread need not be good, only unshared.
    self->jitter ^= self->jitter << 13;
    self->jitter ^= self->jitter >> 7;
    self->jitter ^= self->jitter << 17;
    return delay_us + (int64_t) (self->jitter % (uint64_t) (2 * delay_us + 1));
}

//  A free re-send's wait: up to OUTCOME_SPREAD_US, in several master ticks.
static int64_t
s_spread_us (outcome_t *self)
{
    self->jitter ^= self->jitter << 13;
    self->jitter ^= self->jitter >> 7;
    self->jitter ^= self->jitter << 17;
    return (int64_t) (self->jitter % (uint64_t) (OUTCOME_SPREAD_US + 1));
}

static void
s_retry (outcome_t *self, lease_t *lease, int64_t now_us)
{
    summary_count (self->summary, SUMMARY_RETRIES, 1);
    int64_t delay_us = outcome_backoff_us (self, lease->attempt + 1);
    lease_table_retry_after (self->leases, lease, now_us + delay_us);
    //  Otherwise outcome_expire queues it when the wait is over.
    if (delay_us == 0)
        dispatcher_enqueue_first (self->dispatcher, lease);
}

void
outcome_result (outcome_t *self, const tm_result_t *result, int64_t now_us)
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

//  A charged copy (it was running when its worker was lost: it may be what
//  killed it) uses an attempt, so a task that kills every worker it
//  reaches ends FAILED instead of going round the cluster. The rest go
//  free, but only so often: a task whose workers keep vanishing before
//  they report it running is charged like any other.
void
outcome_lost (outcome_t *self, uint64_t seq, bool charged, int64_t now_us)
{
    lease_t *lease;
    if (lease_table_lookup (self->leases, seq, &lease) != LEASE_FOUND
    ||  lease->state != LEASE_SENT)
        return;
    if (!charged && lease->free_resends < OUTCOME_FREE_RESENDS) {
        summary_count (self->summary, SUMMARY_REISSUED, 1);
        if (lease->free_resends == 0) {
            lease_table_release (self->leases, lease);
            dispatcher_enqueue_first (self->dispatcher, lease);
            return;
        }
        //  Lost unseen once before: it may be a poison, or travel with one
        //  (tasks sent in one batch die together). A spread wait parts it
        //  from its batch-mates, so an innocent one is not charged with it.
        lease_table_release_until (self->leases, lease, now_us + s_spread_us (self));
    }
    else
    if (lease->attempt < lease->max_attempts)
        s_retry (self, lease, now_us);
    else
        s_give_up (self, lease, TM_STATUS_FAILED,
                   "worker lost while running it, on every attempt", now_us);
}

void
outcome_expire (outcome_t *self, int64_t now_us)
{
    size_t count = lease_table_expired (self->leases, now_us, self->expired, S_EXPIRED_BATCH);
    for (size_t i = 0; i < count; i++) {
        lease_t *lease;
        if (lease_table_lookup (self->leases, self->expired [i], &lease) != LEASE_FOUND)
            continue;
        if (lease->state == LEASE_WAITING)
            dispatcher_enqueue_first (self->dispatcher, lease);
        else {
            summary_count (self->summary, SUMMARY_LEASES_EXPIRED, 1);
            if (lease->attempt < lease->max_attempts)
                s_retry (self, lease, now_us);
            else
                s_give_up (self, lease, TM_STATUS_TIMEOUT,
                           "lease expired: no result from any worker", now_us);
        }
    }
}
