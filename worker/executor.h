/*  executor: the worker's pool of threads that run tasks. The worker main
    loop hands it decoded task batches; each thread takes tasks from one
    bounded queue, runs the handler for the task's type, and sends what it
    finished back to the main loop over its own inproc socket, in batches
    under load and at once when the queue runs dry. Task path on a worker:
    tasks socket -> worker -> executor queue -> handler -> completions ->
    worker -> results socket.

    Task memory stays owned by the main thread (refcounted batches released
    by executor_release), so threads only read it.
*/
#ifndef EXECUTOR_H_INCLUDED
#define EXECUTOR_H_INCLUDED

#include "handler_registry.h"
#include "tm_codec.h"
#include <czmq.h>

#define EXECUTOR_BLOCK_MAX 64       //  completions in one block at most

//  One finished task, as a thread reports it.
typedef struct {
    void *holder;               //  the batch the task came from (for release)
    size_t index;               //  the task's place in that batch
    tm_task_t task;             //  views into that batch
    handler_output_t output;    //  owned; executor_release frees it
    int64_t start_us;           //  wall clock
    int64_t duration_us;
} executor_done_t;

//  What a thread sends to the main loop: a heap block of finished tasks.
typedef struct {
    size_t count;
    executor_done_t items [];
} executor_batch_t;

typedef struct _executor_t executor_t;

//  Starts threads executor threads (room for up to max_threads) over
//  registry (borrowed, read-only from now on) with room for
//  queue_capacity tasks; a task's output is cut at max_output_bytes (0:
//  HANDLER_MAX_OUTPUT_BYTES).
executor_t *executor_new (handler_registry_t *registry, size_t threads, size_t max_threads,
                          size_t queue_capacity, bool allow_exec, size_t max_output_bytes);
//  Grows the pool to threads at once, or shrinks it: threads leave when
//  they are between tasks, never in the middle of one.
void executor_set_threads (executor_t *self, size_t threads);
//  How long the oldest queued task has waited (0 with none queued).
int64_t executor_oldest_wait_us (executor_t *self, int64_t now_us);
//  Tasks queued, not running.
size_t executor_queued (executor_t *self);
//  Stops the threads after their current task and frees everything,
//  including batches and completions not yet released.
void executor_destroy (executor_t **self_p);
//  The socket to poll for completions (recv with executor_recv).
zsock_t *executor_socket (executor_t *self);
//  Receives one completion block, or NULL. The caller encodes it, then
//  calls executor_release.
executor_batch_t *executor_recv (executor_t *self);
//  Frees a completion block and drops its references to task batches.
void executor_release (executor_t *self, executor_batch_t **batch_p);
//  Free queue slots, in tasks.
size_t executor_room (executor_t *self);
//  Queues every task of batch; takes ownership and nulls *batch_p. The
//  caller checks executor_room first; returns -1 (keeping the batch) if the
//  tasks do not fit.
int executor_submit (executor_t *self, tm_task_batch_t **batch_p);
//  Tasks queued or running.
size_t executor_held (executor_t *self);
size_t executor_threads_busy (executor_t *self);
//  Threads in the pool (those asked to leave not counted).
size_t executor_threads_total (executor_t *self);
//  Writes up to max seqs of held tasks of job_id into seqs, in the order
//  they run; returns how many.
size_t executor_held_seqs (executor_t *self, const char *job_id, uint64_t *seqs, size_t max);
//  Writes up to max seqs of job_id's tasks that threads run now into seqs;
//  returns how many.
size_t executor_running_seqs (executor_t *self, const char *job_id, uint64_t *seqs, size_t max);
//  Drops queued tasks whose job is not job_id; they produce no result. Those
//  running are cancelled (the flag plugins poll). Returns how many were dropped.
size_t executor_purge_other_jobs (executor_t *self, const char *job_id);
//  Drops queued tasks of job_id (it ended) and cancels those running.
//  Returns how many were dropped.
size_t executor_purge_job (executor_t *self, const char *job_id);

#endif
