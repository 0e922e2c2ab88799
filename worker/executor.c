/*  executor: a bounded ring of (batch, index) items under one mutex, N
    threads that pop and run them, and one inproc PULL socket where threads
    report completions as pointers to heap blocks.

    Threads share only the ring (under the mutex) and read-only task memory;
    reference counts on batches are touched by the main thread alone.

    When a thread sends: each block costs both processes several thread
    wake-ups (this thread -> the worker loop -> its I/O thread -> the
    master's I/O thread, sink and loop, and the refill back), on a 2-core
    machine about a fifth of what a `sh -c true` costs. So a block goes when
    the queue runs dry, when it is full, or once it is old; but an old block
    waits for more results while more tasks are queued than it holds: the
    master counts those results as outstanding, and those queued tasks are
    what the thread runs while the master refills.
*/
#include "executor.h"
#include "tm_clock.h"
#include "tm_tsan.h"
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#define EXECUTOR_BLOCK_MAX_AGE_US 1000     //  a completion waits at most this for company ...
#define EXECUTOR_BLOCK_HOLD_US 3000        //  ... or this, while the queue is ahead of the block
#define S_THREAD_LINGER_MS 1000

//  A decoded batch and its references (main thread only).
typedef struct {
    tm_task_batch_t *batch;
    size_t size;
    size_t refs;                //  tasks not yet released
    uint8_t *released;          //  per task: released (or purged)
    volatile int cancelled;     //  its job ended or the pool stops: plugins running
                                //  its tasks poll this (taskmill/plugin.h)
} s_holder_t;

typedef struct {
    s_holder_t *holder;
    size_t index;
    int64_t queued_us;          //  when it was queued (autoscaling watches the wait)
} s_item_t;

//  What one thread runs, for heartbeats: written by that thread, read by
//  the main thread, which re-reads holder to see that seq belongs to it.
//  A holder stays allocated while its task runs (only the main thread
//  frees it, after the task's completion).
typedef struct {
    _Atomic (s_holder_t *) holder;
    atomic_uint_fast64_t seq;
} s_running_t;

#define S_SLOT_FREE 0
#define S_SLOT_RUNNING 1
#define S_SLOT_EXITED 2             //  the thread left: to be joined

typedef struct {
    executor_t *executor;
    size_t slot;
} s_thread_arg_t;

struct _executor_t {
    handler_registry_t *registry;
    bool allow_exec;
    size_t max_output_bytes;    //  --max-output, handed to every handler
    pthread_mutex_t lock;
    pthread_cond_t ready;
    s_item_t *ring;             //  queued tasks
    size_t capacity;
    size_t head;
    size_t count;
    bool stopping;
    atomic_size_t busy;         //  threads running a handler
    size_t max_threads;         //  slots for threads
    size_t live;                //  threads running now (under lock)
    size_t retire;              //  threads asked to leave when next idle (under lock)
    pthread_t *threads;         //  per slot
    uint8_t *slot_state;        //  per slot: S_SLOT_* (under lock)
    s_thread_arg_t *args;       //  per slot: what its thread is started with
    s_running_t *running;       //  per slot: what its thread runs now
    zsock_t *completions;       //  PULL, bound to endpoint
    char endpoint [64];
    zlist_t *holders;           //  live s_holder_t
};

//  --- threads ------------------------------------------------------------------

static void
s_send_block (zsock_t *push, executor_batch_t **block_p)
{
    if (*block_p && (*block_p)->count > 0) {
        TM_TSAN_RELEASE (*block_p);
        zmq_send (zsock_resolve (push), block_p, sizeof *block_p, 0);
        *block_p = NULL;
    }
}

static void
s_run_item (executor_t *self, s_item_t item, void **states, executor_done_t *done)
{
    tm_task_batch_get (item.holder->batch, item.index, &done->task);
    done->holder = item.holder;
    done->index = item.index;
    int64_t start_us = tm_clock_now_us ();
    handler_input_t input = {
        .payload = done->task.payload,
        .payload_size = done->task.payload_size,
        .timeout_ms = done->task.timeout_ms,
        .deadline_us = done->task.timeout_ms ? start_us + (int64_t) done->task.timeout_ms * 1000 : 0,
        .allow_exec = self->allow_exec,
        .type = done->task.type, .id = done->task.id, .attempt = done->task.attempt,
        .thread_states = states, .cancelled = &item.holder->cancelled,
        .max_output_bytes = self->max_output_bytes,
    };
    done->start_us = tm_clock_wall_us ();
    handler_registry_run (self->registry, done->task.type, &input, &done->output);
    done->duration_us = tm_clock_now_us () - start_us;
}

//  Whether block (begun at first_us) goes before the next task; called
//  under the lock. Like a block younger than EXECUTOR_BLOCK_MAX_AGE_US, a
//  block held waits for the next task however long it runs.
static bool
s_block_due (executor_t *self, const executor_batch_t *block, int64_t first_us)
{
    if (!block)
        return false;
    if (self->count == 0)
        return true;
    int64_t age_us = tm_clock_now_us () - first_us;
    return age_us > EXECUTOR_BLOCK_HOLD_US
        || (age_us > EXECUTOR_BLOCK_MAX_AGE_US && self->count <= block->count);
}

//  Pops the next item, first sending what is pending if it is due (see
//  s_block_due). Returns false when the pool stops.
static bool
s_next_item (executor_t *self, size_t slot, zsock_t *push, executor_batch_t **block_p,
             int64_t *first_us, s_item_t *item)
{
    pthread_mutex_lock (&self->lock);
    while (true) {
        if (self->stopping) {
            pthread_mutex_unlock (&self->lock);
            return false;
        }
        //  The pool shrinks by threads that are between tasks, never by
        //  cancelling one: this thread leaves once its block is sent.
        if (self->retire > 0 && !*block_p) {
            self->retire--;
            self->live--;
            self->slot_state [slot] = S_SLOT_EXITED;
            pthread_mutex_unlock (&self->lock);
            return false;
        }
        if (s_block_due (self, *block_p, *first_us)) {
            pthread_mutex_unlock (&self->lock);
            s_send_block (push, block_p);
            pthread_mutex_lock (&self->lock);
            continue;
        }
        if (self->count > 0)
            break;
        pthread_cond_wait (&self->ready, &self->lock);
    }
    *item = self->ring [self->head];
    self->head = (self->head + 1) % self->capacity;
    self->count--;
    atomic_fetch_add (&self->busy, 1);
    pthread_mutex_unlock (&self->lock);
    return true;
}

static void *
s_thread (void *args)
{
    executor_t *self = ((s_thread_arg_t *) args)->executor;
    size_t slot = ((s_thread_arg_t *) args)->slot;
    s_running_t *running = &self->running [slot];
    zsock_t *push = zsock_new_push (self->endpoint);
    assert (push);
    zsock_set_linger (push, S_THREAD_LINGER_MS);
    executor_batch_t *block = NULL;
    int64_t first_us = 0;
    //  Plugins' per-thread state, made on this thread (taskmill/plugin.h).
    void **states = handler_registry_thread_init (self->registry);
    s_item_t item;
    while (s_next_item (self, slot, push, &block, &first_us, &item)) {
        if (!block) {
            block = (executor_batch_t *) zmalloc (sizeof (executor_batch_t)
                                                  + EXECUTOR_BLOCK_MAX * sizeof (executor_done_t));
            first_us = tm_clock_now_us ();
        }
        tm_task_t task;
        tm_task_batch_get (item.holder->batch, item.index, &task);
        atomic_store (&running->seq, task.seq);
        atomic_store (&running->holder, item.holder);
        s_run_item (self, item, states, &block->items [block->count++]);
        atomic_store (&running->holder, NULL);
        atomic_fetch_sub (&self->busy, 1);
        if (block->count == EXECUTOR_BLOCK_MAX)
            s_send_block (push, &block);
    }
    s_send_block (push, &block);
    handler_registry_thread_fini (self->registry, &states);
    zsock_destroy (&push);
    return NULL;
}

//  --- main thread ----------------------------------------------------------------

//  Joins threads that left (main thread).
static void
s_reap (executor_t *self)
{
    for (size_t slot = 0; slot < self->max_threads; slot++) {
        pthread_mutex_lock (&self->lock);
        bool exited = self->slot_state [slot] == S_SLOT_EXITED;
        pthread_mutex_unlock (&self->lock);
        if (exited) {
            pthread_join (self->threads [slot], NULL);
            pthread_mutex_lock (&self->lock);
            self->slot_state [slot] = S_SLOT_FREE;
            pthread_mutex_unlock (&self->lock);
        }
    }
}

//  Starts a thread in a free slot (main thread, lock not held).
static void
s_spawn (executor_t *self)
{
    pthread_mutex_lock (&self->lock);
    size_t slot = 0;
    while (slot < self->max_threads && self->slot_state [slot] != S_SLOT_FREE)
        slot++;
    if (slot == self->max_threads) {
        pthread_mutex_unlock (&self->lock);
        return;
    }
    self->slot_state [slot] = S_SLOT_RUNNING;
    self->live++;
    pthread_mutex_unlock (&self->lock);
    //  Threads must not take SIGINT/SIGTERM: only main drains on them.
    sigset_t block, previous;
    sigemptyset (&block);
    sigaddset (&block, SIGINT);
    sigaddset (&block, SIGTERM);
    pthread_sigmask (SIG_BLOCK, &block, &previous);
    self->args [slot] = (s_thread_arg_t) { self, slot };
    pthread_create (&self->threads [slot], NULL, s_thread, &self->args [slot]);
    pthread_sigmask (SIG_SETMASK, &previous, NULL);
}

executor_t *
executor_new (handler_registry_t *registry, size_t threads, size_t max_threads,
              size_t queue_capacity, bool allow_exec, size_t max_output_bytes)
{
    assert (threads > 0 && max_threads >= threads && queue_capacity > 0);
    executor_t *self = (executor_t *) zmalloc (sizeof (executor_t));
    self->registry = registry;
    self->allow_exec = allow_exec;
    self->max_output_bytes = max_output_bytes;
    pthread_mutex_init (&self->lock, NULL);
    pthread_cond_init (&self->ready, NULL);
    self->capacity = queue_capacity;
    self->ring = (s_item_t *) zmalloc (queue_capacity * sizeof (s_item_t));
    self->holders = zlist_new ();
    snprintf (self->endpoint, sizeof self->endpoint, "@inproc://executor-%p", (void *) self);
    self->completions = zsock_new_pull (self->endpoint);
    assert (self->completions);
    self->endpoint [0] = '>';
    self->max_threads = max_threads;
    self->threads = (pthread_t *) zmalloc (max_threads * sizeof (pthread_t));
    self->slot_state = (uint8_t *) zmalloc (max_threads);
    self->args = (s_thread_arg_t *) zmalloc (max_threads * sizeof (s_thread_arg_t));
    self->running = (s_running_t *) zmalloc (max_threads * sizeof (s_running_t));
    for (size_t i = 0; i < threads; i++)
        s_spawn (self);
    return self;
}

void
executor_set_threads (executor_t *self, size_t threads)
{
    assert (threads > 0 && threads <= self->max_threads);
    s_reap (self);
    pthread_mutex_lock (&self->lock);
    size_t target = self->live - self->retire;
    if (threads < target) {
        self->retire += target - threads;
        pthread_cond_broadcast (&self->ready);
    }
    //  Threads asked to leave that have not yet: asking them to stay is
    //  cheaper than starting others.
    size_t kept = 0;
    while (threads > target + kept && self->retire > 0) {
        self->retire--;
        kept++;
    }
    size_t spawn = threads > target + kept ? threads - target - kept : 0;
    pthread_mutex_unlock (&self->lock);
    while (spawn-- > 0)
        s_spawn (self);
}

int64_t
executor_oldest_wait_us (executor_t *self, int64_t now_us)
{
    pthread_mutex_lock (&self->lock);
    int64_t wait_us = self->count ? now_us - self->ring [self->head].queued_us : 0;
    pthread_mutex_unlock (&self->lock);
    return wait_us;
}

size_t
executor_queued (executor_t *self)
{
    pthread_mutex_lock (&self->lock);
    size_t count = self->count;
    pthread_mutex_unlock (&self->lock);
    return count;
}

static void
s_holder_destroy (s_holder_t **holder_p)
{
    s_holder_t *holder = *holder_p;
    tm_task_batch_destroy (&holder->batch);
    free (holder->released);
    free (holder);
    *holder_p = NULL;
}

static void
s_release_task (executor_t *self, s_holder_t *holder, size_t index)
{
    if (holder->released [index])
        return;
    holder->released [index] = 1;
    if (--holder->refs == 0) {
        zlist_remove (self->holders, holder);
        s_holder_destroy (&holder);
    }
}

//  Tells the handlers running tasks whose job is job_id (matching) or is
//  not (!matching) that their results are not wanted; job_id NULL: every
//  task. A frame holds tasks of one job, so the flag is the frame's.
static void
s_cancel (executor_t *self, const char *job_id, bool matching)
{
    for (s_holder_t *holder = (s_holder_t *) zlist_first (self->holders);
         holder; holder = (s_holder_t *) zlist_next (self->holders)) {
        tm_task_t task;
        tm_task_batch_get (holder->batch, 0, &task);
        if (!job_id || (strcmp (task.job_id, job_id) == 0) == matching)
            __atomic_store_n (&holder->cancelled, 1, __ATOMIC_RELEASE);   //  read by handlers
    }
}

void
executor_destroy (executor_t **self_p)
{
    assert (self_p);
    executor_t *self = *self_p;
    if (!self)
        return;
    s_cancel (self, NULL, true);
    pthread_mutex_lock (&self->lock);
    self->stopping = true;
    pthread_cond_broadcast (&self->ready);
    pthread_mutex_unlock (&self->lock);
    for (size_t slot = 0; slot < self->max_threads; slot++)
        if (self->slot_state [slot] != S_SLOT_FREE)
            pthread_join (self->threads [slot], NULL);
    executor_batch_t *block;
    while ((block = executor_recv (self)))
        executor_release (self, &block);
    for (s_holder_t *holder = (s_holder_t *) zlist_first (self->holders);
         holder; holder = (s_holder_t *) zlist_next (self->holders))
        s_holder_destroy (&holder);
    zlist_destroy (&self->holders);
    zsock_destroy (&self->completions);
    pthread_cond_destroy (&self->ready);
    pthread_mutex_destroy (&self->lock);
    free (self->threads);
    free (self->slot_state);
    free (self->args);
    free (self->running);
    free (self->ring);
    free (self);
    *self_p = NULL;
}

zsock_t *
executor_socket (executor_t *self)
{
    return self->completions;
}

executor_batch_t *
executor_recv (executor_t *self)
{
    executor_batch_t *block = NULL;
    int rc = zmq_recv (zsock_resolve (self->completions), &block, sizeof block, ZMQ_DONTWAIT);
    if (rc != (int) sizeof block)
        return NULL;
    TM_TSAN_ACQUIRE (block);
    return block;
}

void
executor_release (executor_t *self, executor_batch_t **block_p)
{
    executor_batch_t *block = *block_p;
    if (!block)
        return;
    for (size_t i = 0; i < block->count; i++) {
        executor_done_t *done = &block->items [i];
        handler_output_fini (&done->output);
        s_release_task (self, (s_holder_t *) done->holder, done->index);
    }
    free (block);
    *block_p = NULL;
}

size_t
executor_room (executor_t *self)
{
    pthread_mutex_lock (&self->lock);
    size_t room = self->capacity - self->count;
    pthread_mutex_unlock (&self->lock);
    return room;
}

int
executor_submit (executor_t *self, tm_task_batch_t **batch_p)
{
    size_t size = tm_task_batch_size (*batch_p);
    int64_t now_us = tm_clock_now_us ();
    pthread_mutex_lock (&self->lock);
    if (self->capacity - self->count < size) {
        pthread_mutex_unlock (&self->lock);
        return -1;
    }
    s_holder_t *holder = (s_holder_t *) zmalloc (sizeof (s_holder_t));
    holder->batch = *batch_p;
    holder->size = holder->refs = size;
    holder->released = (uint8_t *) zmalloc (size);
    for (size_t i = 0; i < size; i++) {
        self->ring [(self->head + self->count) % self->capacity] = (s_item_t) { holder, i, now_us };
        self->count++;
    }
    pthread_cond_broadcast (&self->ready);
    pthread_mutex_unlock (&self->lock);
    zlist_append (self->holders, holder);
    *batch_p = NULL;
    return 0;
}

size_t
executor_held (executor_t *self)
{
    size_t held = 0;
    for (s_holder_t *holder = (s_holder_t *) zlist_first (self->holders);
         holder; holder = (s_holder_t *) zlist_next (self->holders))
        held += holder->refs;
    return held;
}

size_t
executor_threads_busy (executor_t *self)
{
    return atomic_load (&self->busy);
}

size_t
executor_threads_total (executor_t *self)
{
    pthread_mutex_lock (&self->lock);
    size_t live = self->live - self->retire;
    pthread_mutex_unlock (&self->lock);
    return live;
}

size_t
executor_held_seqs (executor_t *self, const char *job_id, uint64_t *seqs, size_t max)
{
    size_t count = 0;
    for (s_holder_t *holder = (s_holder_t *) zlist_first (self->holders);
         holder; holder = (s_holder_t *) zlist_next (self->holders)) {
        //  A frame holds tasks of one job: the master that sent it.
        tm_task_t task;
        tm_task_batch_get (holder->batch, 0, &task);
        if (strcmp (task.job_id, job_id) != 0)
            continue;
        for (size_t i = 0; i < holder->size && count < max; i++)
            if (!holder->released [i]) {
                tm_task_batch_get (holder->batch, i, &task);
                seqs [count++] = task.seq;
            }
    }
    return count;
}

size_t
executor_running_seqs (executor_t *self, const char *job_id, uint64_t *seqs, size_t max)
{
    size_t count = 0;
    for (size_t i = 0; i < self->max_threads && count < max; i++) {
        s_holder_t *holder = atomic_load (&self->running [i].holder);
        uint64_t seq = atomic_load (&self->running [i].seq);
        if (!holder || atomic_load (&self->running [i].holder) != holder)
            continue;
        tm_task_t task;
        tm_task_batch_get (holder->batch, 0, &task);
        if (strcmp (task.job_id, job_id) == 0)
            seqs [count++] = seq;
    }
    return count;
}

//  Drops queued tasks whose job is job_id (matching) or is not
//  (!matching), and cancels those that run.
static size_t
s_purge (executor_t *self, const char *job_id, bool matching)
{
    s_cancel (self, job_id, matching);
    size_t purged = 0;
    pthread_mutex_lock (&self->lock);
    size_t kept = 0;
    for (size_t i = 0; i < self->count; i++) {
        s_item_t item = self->ring [(self->head + i) % self->capacity];
        tm_task_t task;
        tm_task_batch_get (item.holder->batch, item.index, &task);
        if ((strcmp (task.job_id, job_id) == 0) != matching)
            self->ring [(self->head + kept++) % self->capacity] = item;
        else {
            //  Released after the lock: holders are the main thread's.
            item.holder->released [item.index] = 2;
            purged++;
        }
    }
    self->count = kept;
    pthread_mutex_unlock (&self->lock);
    if (purged == 0)
        return 0;
    zlist_t *holders = zlist_dup (self->holders);
    for (s_holder_t *holder = (s_holder_t *) zlist_first (holders);
         holder; holder = (s_holder_t *) zlist_next (holders)) {
        for (size_t i = 0; i < holder->size; i++)
            if (holder->released [i] == 2) {
                holder->released [i] = 0;
                bool last = holder->refs == 1;
                s_release_task (self, holder, i);
                if (last)
                    break;      //  the holder is gone
            }
    }
    zlist_destroy (&holders);
    return purged;
}

size_t
executor_purge_other_jobs (executor_t *self, const char *job_id)
{
    return s_purge (self, job_id, false);
}

size_t
executor_purge_job (executor_t *self, const char *job_id)
{
    return s_purge (self, job_id, true);
}
