/*  tm_codec: packs and unpacks taskmill's envelopes. The sole includer of
    taskmill.pb-c.h, so the allocator choice and every field check live here.
*/
#include "tm_codec.h"
#include "taskmill.pb-c.h"
#include <string.h>

//  Unpacking can allocate far more than the frame holds (an empty Task costs
//  2 bytes on the wire and ~100 in memory). A budget allocator makes unpack
//  fail, as malformed, instead of ballooning.
#define S_UNPACK_BUDGET_FACTOR 32
#define S_UNPACK_BUDGET_FLOOR (1024 * 1024)

typedef struct {
    size_t used;
    size_t limit;
} s_budget_t;

static void *
s_budget_alloc (void *data, size_t size)
{
    s_budget_t *budget = (s_budget_t *) data;
    if (size > budget->limit - budget->used)
        return NULL;
    budget->used += size;
    return malloc (size);
}

static void
s_budget_free (void *data, void *pointer)
{
    (void) data;
    free (pointer);
}

//  Unpacks with a budget; the result is freed with the default allocator,
//  which also calls free().
#define S_UNPACK(fn, data, size, out)                                        \
    do {                                                                     \
        s_budget_t budget_ = { 0, (size) * S_UNPACK_BUDGET_FACTOR            \
                                      + S_UNPACK_BUDGET_FLOOR };             \
        ProtobufCAllocator alloc_ = { s_budget_alloc, s_budget_free,         \
                                      &budget_ };                            \
        (out) = fn (&alloc_, (size), (const uint8_t *) (data));              \
    } while (0)

struct _tm_task_batch_t {
    Taskmill__MasterToWorker *msg;
};

struct _tm_worker_msg_t {
    Taskmill__WorkerToMaster *msg;
};

const char *
tm_decode_status_name (tm_decode_status_t status)
{
    static const char *names [TM_DECODE_COUNT] = {
        "ok", "malformed", "too-big", "version", "wrong-kind", "invalid"
    };
    return (unsigned) status < TM_DECODE_COUNT ? names [status] : "unknown";
}

const char *
tm_status_name (tm_status_t status)
{
    switch (status) {
        case TM_STATUS_OK:         return "ok";
        case TM_STATUS_FAILED:     return "failed";
        case TM_STATUS_TIMEOUT:    return "timeout";
        case TM_STATUS_NO_HANDLER: return "no_handler";
        case TM_STATUS_REJECTED:   return "rejected";
    }
    return "unknown";
}

static bool
s_string_ok (const char *string, size_t max_bytes, bool allow_empty)
{
    if (!string)
        return false;
    size_t length = strnlen (string, max_bytes + 1);
    return length <= max_bytes && (allow_empty || length > 0);
}

static zframe_t *
s_frame_from_packed (const ProtobufCMessage *message)
{
    size_t size = protobuf_c_message_get_packed_size (message);
    zframe_t *frame = zframe_new (NULL, size);
    assert (frame);
    protobuf_c_message_pack (message, zframe_data (frame));
    return frame;
}

int
tm_codec_send (zsock_t *sock, zframe_t **frame_p, int flags)
{
    zframe_t *frame = *frame_p;
    int rc = zmq_send (zsock_resolve (sock), zframe_data (frame), zframe_size (frame), flags);
    zframe_destroy (frame_p);
    return rc == -1 ? -1 : 0;
}

//  --- tasks -----------------------------------------------------------------

zframe_t *
tm_codec_encode_tasks (const tm_task_t *tasks, size_t count)
{
    return tm_codec_encode_task_batch (tasks, count, 0);
}

zframe_t *
tm_codec_encode_task_batch (const tm_task_t *tasks, size_t count, uint64_t number)
{
    Taskmill__Task *items = (Taskmill__Task *) zmalloc (count * sizeof (Taskmill__Task) + 1);
    Taskmill__Task **pointers = (Taskmill__Task **) zmalloc (count * sizeof (Taskmill__Task *) + 1);
    for (size_t i = 0; i < count; i++) {
        const tm_task_t *task = &tasks [i];
        taskmill__task__init (&items [i]);
        items [i].job_id = (char *) task->job_id;
        items [i].seq = task->seq;
        items [i].id = (char *) (task->id ? task->id : "");
        items [i].type = (char *) task->type;
        items [i].payload.data = (uint8_t *) task->payload;
        items [i].payload.len = task->payload_size;
        items [i].timeout_ms = task->timeout_ms;
        items [i].attempt = task->attempt;
        items [i].max_attempts = task->max_attempts;
        pointers [i] = &items [i];
    }
    Taskmill__TaskBatch batch = TASKMILL__TASK_BATCH__INIT;
    batch.n_tasks = count;
    batch.tasks = pointers;
    batch.number = number;
    Taskmill__MasterToWorker envelope = TASKMILL__MASTER_TO_WORKER__INIT;
    envelope.version = TM_PROTOCOL_VERSION;
    envelope.body_case = TASKMILL__MASTER_TO_WORKER__BODY_TASKS;
    envelope.tasks = &batch;
    zframe_t *frame = s_frame_from_packed (&envelope.base);
    free (items);
    free (pointers);
    return frame;
}

static bool
s_task_valid (const Taskmill__Task *task)
{
    return s_string_ok (task->job_id, TM_MAX_JOB_ID_BYTES, false)
        && task->seq > 0
        && s_string_ok (task->id, TM_MAX_ID_BYTES, true)
        && s_string_ok (task->type, TM_MAX_TYPE_BYTES, false)
        && task->attempt >= 1
        && task->max_attempts >= task->attempt;
}

tm_decode_status_t
tm_codec_decode_tasks (const void *data, size_t size, tm_task_batch_t **batch_p)
{
    assert (batch_p);
    *batch_p = NULL;
    if (size > TM_MAX_FRAME_BYTES)
        return TM_DECODE_TOO_BIG;
    Taskmill__MasterToWorker *msg;
    S_UNPACK (taskmill__master_to_worker__unpack, data, size, msg);
    if (!msg)
        return TM_DECODE_MALFORMED;
    tm_decode_status_t status = TM_DECODE_OK;
    if (msg->version != TM_PROTOCOL_VERSION)
        status = TM_DECODE_VERSION;
    else
    if (msg->body_case != TASKMILL__MASTER_TO_WORKER__BODY_TASKS || !msg->tasks)
        status = TM_DECODE_WRONG_KIND;
    else
    if (msg->tasks->n_tasks == 0)
        status = TM_DECODE_INVALID;
    for (size_t i = 0; status == TM_DECODE_OK && i < msg->tasks->n_tasks; i++)
        if (!s_task_valid (msg->tasks->tasks [i]))
            status = TM_DECODE_INVALID;
    if (status != TM_DECODE_OK) {
        taskmill__master_to_worker__free_unpacked (msg, NULL);
        return status;
    }
    tm_task_batch_t *self = (tm_task_batch_t *) zmalloc (sizeof (tm_task_batch_t));
    self->msg = msg;
    *batch_p = self;
    return TM_DECODE_OK;
}

size_t
tm_task_batch_size (tm_task_batch_t *self)
{
    assert (self);
    return self->msg->tasks->n_tasks;
}

uint64_t
tm_task_batch_number (tm_task_batch_t *self)
{
    assert (self);
    return self->msg->tasks->number;
}

void
tm_task_batch_get (tm_task_batch_t *self, size_t index, tm_task_t *task)
{
    assert (self);
    assert (index < self->msg->tasks->n_tasks);
    const Taskmill__Task *item = self->msg->tasks->tasks [index];
    task->job_id = item->job_id;
    task->seq = item->seq;
    task->id = item->id;
    task->type = item->type;
    task->payload = item->payload.data;
    task->payload_size = item->payload.len;
    task->timeout_ms = item->timeout_ms;
    task->attempt = item->attempt;
    task->max_attempts = item->max_attempts;
}

void
tm_task_batch_destroy (tm_task_batch_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        taskmill__master_to_worker__free_unpacked ((*self_p)->msg, NULL);
        free (*self_p);
        *self_p = NULL;
    }
}

//  --- results and heartbeats -------------------------------------------------

static zframe_t *
s_encode_worker_msg (Taskmill__WorkerToMaster *envelope)
{
    envelope->version = TM_PROTOCOL_VERSION;
    return s_frame_from_packed (&envelope->base);
}

zframe_t *
tm_codec_encode_results (const tm_result_t *results, size_t count)
{
    Taskmill__Result *items = (Taskmill__Result *) zmalloc (count * sizeof (Taskmill__Result) + 1);
    Taskmill__Result **pointers = (Taskmill__Result **) zmalloc (count * sizeof (Taskmill__Result *) + 1);
    for (size_t i = 0; i < count; i++) {
        const tm_result_t *result = &results [i];
        taskmill__result__init (&items [i]);
        items [i].job_id = (char *) result->job_id;
        items [i].seq = result->seq;
        items [i].id = (char *) (result->id ? result->id : "");
        items [i].attempt = result->attempt;
        items [i].status = (Taskmill__Status) result->status;
        items [i].output.data = (uint8_t *) result->output;
        items [i].output.len = result->output_size;
        items [i].error = (char *) (result->error ? result->error : "");
        items [i].worker_id = (char *) result->worker_id;
        items [i].start_us = result->start_us;
        items [i].duration_us = result->duration_us;
        items [i].exit_code = result->exit_code;
        pointers [i] = &items [i];
    }
    Taskmill__ResultBatch batch = TASKMILL__RESULT_BATCH__INIT;
    batch.n_results = count;
    batch.results = pointers;
    Taskmill__WorkerToMaster envelope = TASKMILL__WORKER_TO_MASTER__INIT;
    envelope.body_case = TASKMILL__WORKER_TO_MASTER__BODY_RESULTS;
    envelope.results = &batch;
    zframe_t *frame = s_encode_worker_msg (&envelope);
    free (items);
    free (pointers);
    return frame;
}

zframe_t *
tm_codec_encode_heartbeat (const tm_heartbeat_t *heartbeat)
{
    Taskmill__Heartbeat body = TASKMILL__HEARTBEAT__INIT;
    body.worker_id = (char *) heartbeat->worker_id;
    body.host = (char *) (heartbeat->host ? heartbeat->host : "");
    body.pid = heartbeat->pid;
    body.threads_busy = heartbeat->threads_busy;
    body.threads_total = heartbeat->threads_total;
    body.tasks_done = heartbeat->tasks_done;
    body.n_held_seqs = heartbeat->held_count;
    body.held_seqs = (uint64_t *) heartbeat->held_seqs;
    body.job_id = (char *) (heartbeat->job_id ? heartbeat->job_id : "");
    body.draining = heartbeat->draining;
    body.backlog = heartbeat->backlog;
    body.last_batch = heartbeat->last_batch;
    Taskmill__WorkerToMaster envelope = TASKMILL__WORKER_TO_MASTER__INIT;
    envelope.body_case = TASKMILL__WORKER_TO_MASTER__BODY_HEARTBEAT;
    envelope.heartbeat = &body;
    return s_encode_worker_msg (&envelope);
}

static bool
s_result_valid (const Taskmill__Result *result)
{
    return s_string_ok (result->job_id, TM_MAX_JOB_ID_BYTES, false)
        && result->seq > 0
        && s_string_ok (result->id, TM_MAX_ID_BYTES, true)
        && result->attempt >= 1
        && result->status >= (int) TM_STATUS_MIN
        && result->status <= (int) TM_STATUS_MAX
        && s_string_ok (result->error, TM_MAX_ERROR_BYTES, true)
        && s_string_ok (result->worker_id, TM_MAX_WORKER_ID_BYTES, false)
        && result->duration_us >= 0;
}

static bool
s_heartbeat_valid (const Taskmill__Heartbeat *heartbeat)
{
    return s_string_ok (heartbeat->worker_id, TM_MAX_WORKER_ID_BYTES, false)
        && s_string_ok (heartbeat->host, TM_MAX_WORKER_ID_BYTES, true)
        && s_string_ok (heartbeat->job_id, TM_MAX_JOB_ID_BYTES, true)
        && heartbeat->n_held_seqs <= TM_MAX_HELD_SEQS
        && heartbeat->threads_busy <= heartbeat->threads_total;
}

static tm_decode_status_t
s_check_worker_msg (const Taskmill__WorkerToMaster *msg)
{
    if (msg->version != TM_PROTOCOL_VERSION)
        return TM_DECODE_VERSION;
    if (msg->body_case == TASKMILL__WORKER_TO_MASTER__BODY_HEARTBEAT && msg->heartbeat)
        return s_heartbeat_valid (msg->heartbeat) ? TM_DECODE_OK : TM_DECODE_INVALID;
    if (msg->body_case != TASKMILL__WORKER_TO_MASTER__BODY_RESULTS || !msg->results)
        return TM_DECODE_WRONG_KIND;
    if (msg->results->n_results == 0)
        return TM_DECODE_INVALID;
    for (size_t i = 0; i < msg->results->n_results; i++)
        if (!s_result_valid (msg->results->results [i]))
            return TM_DECODE_INVALID;
    return TM_DECODE_OK;
}

tm_decode_status_t
tm_codec_decode_worker_msg (const void *data, size_t size, tm_worker_msg_t **msg_p)
{
    assert (msg_p);
    *msg_p = NULL;
    if (size > TM_MAX_FRAME_BYTES)
        return TM_DECODE_TOO_BIG;
    Taskmill__WorkerToMaster *msg;
    S_UNPACK (taskmill__worker_to_master__unpack, data, size, msg);
    if (!msg)
        return TM_DECODE_MALFORMED;
    tm_decode_status_t status = s_check_worker_msg (msg);
    if (status != TM_DECODE_OK) {
        taskmill__worker_to_master__free_unpacked (msg, NULL);
        return status;
    }
    tm_worker_msg_t *self = (tm_worker_msg_t *) zmalloc (sizeof (tm_worker_msg_t));
    self->msg = msg;
    *msg_p = self;
    return TM_DECODE_OK;
}

bool
tm_worker_msg_is_heartbeat (tm_worker_msg_t *self)
{
    assert (self);
    return self->msg->body_case == TASKMILL__WORKER_TO_MASTER__BODY_HEARTBEAT;
}

size_t
tm_worker_msg_result_count (tm_worker_msg_t *self)
{
    assert (self);
    return tm_worker_msg_is_heartbeat (self) ? 0 : self->msg->results->n_results;
}

void
tm_worker_msg_result (tm_worker_msg_t *self, size_t index, tm_result_t *result)
{
    assert (index < tm_worker_msg_result_count (self));
    const Taskmill__Result *item = self->msg->results->results [index];
    result->job_id = item->job_id;
    result->seq = item->seq;
    result->id = item->id;
    result->attempt = item->attempt;
    result->status = (tm_status_t) item->status;
    result->output = item->output.data;
    result->output_size = item->output.len;
    result->error = item->error;
    result->worker_id = item->worker_id;
    result->start_us = item->start_us;
    result->duration_us = item->duration_us;
    result->exit_code = item->exit_code;
}

void
tm_worker_msg_heartbeat (tm_worker_msg_t *self, tm_heartbeat_t *heartbeat)
{
    assert (tm_worker_msg_is_heartbeat (self));
    const Taskmill__Heartbeat *item = self->msg->heartbeat;
    heartbeat->worker_id = item->worker_id;
    heartbeat->host = item->host;
    heartbeat->pid = item->pid;
    heartbeat->threads_busy = item->threads_busy;
    heartbeat->threads_total = item->threads_total;
    heartbeat->tasks_done = item->tasks_done;
    heartbeat->held_seqs = item->held_seqs;
    heartbeat->held_count = item->n_held_seqs;
    heartbeat->job_id = item->job_id;
    heartbeat->draining = item->draining;
    heartbeat->backlog = item->backlog;
    heartbeat->last_batch = item->last_batch;
}

void
tm_worker_msg_destroy (tm_worker_msg_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        taskmill__worker_to_master__free_unpacked ((*self_p)->msg, NULL);
        free (*self_p);
        *self_p = NULL;
    }
}

//  --- control -----------------------------------------------------------------

zframe_t *
tm_codec_encode_control (tm_control_kind_t kind, const char *job_id)
{
    Taskmill__Control body = TASKMILL__CONTROL__INIT;
    body.kind = (Taskmill__Control__Kind) kind;
    body.job_id = (char *) (job_id ? job_id : "");
    Taskmill__ControlMessage envelope = TASKMILL__CONTROL_MESSAGE__INIT;
    envelope.version = TM_PROTOCOL_VERSION;
    envelope.body_case = TASKMILL__CONTROL_MESSAGE__BODY_CONTROL;
    envelope.control = &body;
    return s_frame_from_packed (&envelope.base);
}

tm_decode_status_t
tm_codec_decode_control (const void *data, size_t size, tm_control_kind_t *kind,
                         char *job_id, size_t job_id_size)
{
    if (size > TM_MAX_FRAME_BYTES)
        return TM_DECODE_TOO_BIG;
    Taskmill__ControlMessage *msg;
    S_UNPACK (taskmill__control_message__unpack, data, size, msg);
    if (!msg)
        return TM_DECODE_MALFORMED;
    tm_decode_status_t status = TM_DECODE_OK;
    if (msg->version != TM_PROTOCOL_VERSION)
        status = TM_DECODE_VERSION;
    else
    if (msg->body_case != TASKMILL__CONTROL_MESSAGE__BODY_CONTROL || !msg->control)
        status = TM_DECODE_WRONG_KIND;
    else
    if ((int) msg->control->kind < (int) TM_CONTROL_JOB_START
    ||  (int) msg->control->kind > (int) TM_CONTROL_SHUTDOWN
    ||  !s_string_ok (msg->control->job_id, TM_MAX_JOB_ID_BYTES, true))
        status = TM_DECODE_INVALID;
    if (status == TM_DECODE_OK) {
        *kind = (tm_control_kind_t) msg->control->kind;
        snprintf (job_id, job_id_size, "%s", msg->control->job_id);
    }
    taskmill__control_message__free_unpacked (msg, NULL);
    return status;
}
