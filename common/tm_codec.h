/*  tm_codec: the only module that packs and unpacks taskmill's protobuf
    envelopes (proto/taskmill.proto). Callers see plain C views whose strings
    and bytes are borrowed from the decoded message; they never allocate or
    free protobuf structs.

    Where it sits: the master encodes TaskBatch frames for the tasks socket
    and decodes the Credit workers send there; workers decode batches and
    encode Credit, ResultBatch and Heartbeat frames; the sink decodes results
    and heartbeats. Decoding checks, in order: size, protobuf parse (with a
    bounded allocator), version, body kind, then every field's range.
    It never asserts on bytes from the network.
*/
#ifndef TM_CODEC_H_INCLUDED
#define TM_CODEC_H_INCLUDED

#include "tm_json.h"
#include "tm_limits.h"
#include <czmq.h>
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>


typedef enum {
    TM_DECODE_OK = 0,
    TM_DECODE_MALFORMED,        //  not a protobuf message of the expected envelope
    TM_DECODE_TOO_BIG,          //  over TM_MAX_FRAME_BYTES
    TM_DECODE_VERSION,          //  a protocol version we do not speak
    TM_DECODE_WRONG_KIND,       //  a valid envelope with no body or a body we do not take here
    TM_DECODE_INVALID,          //  a field out of range (empty type, seq 0, bad status, ...)
    TM_DECODE_COUNT             //  number of codes, for counters
} tm_decode_status_t;

//  Status of one attempt; values match the wire enum.
typedef enum {
    TM_STATUS_OK = 1,
    TM_STATUS_FAILED = 2,
    TM_STATUS_TIMEOUT = 3,
    TM_STATUS_NO_HANDLER = 4,
    TM_STATUS_REJECTED = 5,
} tm_status_t;
#define TM_STATUS_MIN TM_STATUS_OK
#define TM_STATUS_MAX TM_STATUS_REJECTED

typedef enum {
    TM_CONTROL_JOB_START = 1,
    TM_CONTROL_JOB_END = 2,
    TM_CONTROL_DRAIN = 3,
    TM_CONTROL_SHUTDOWN = 4,
} tm_control_kind_t;

//  A task, as the master builds it or as a worker reads it. Strings are
//  NUL-terminated; all pointers are borrowed.
typedef struct {
    const char *job_id;
    uint64_t seq;
    const char *id;
    const char *type;
    const uint8_t *payload;
    size_t payload_size;
    uint32_t timeout_ms;
    uint32_t attempt;
    uint32_t max_attempts;
} tm_task_t;

//  The result of one attempt. Strings are NUL-terminated; pointers borrowed.
typedef struct {
    const char *job_id;
    uint64_t seq;
    const char *id;
    uint32_t attempt;
    tm_status_t status;
    const uint8_t *output;
    size_t output_size;
    const char *error;
    const char *worker_id;
    int64_t start_us;
    int64_t duration_us;
    int32_t exit_code;
    tm_json_form_t output_form; //  how output goes into JSON, if the decoder looked (not on the wire)
} tm_result_t;

typedef struct {
    const char *worker_id;
    const char *host;
    uint32_t pid;
    uint32_t threads_busy;
    uint32_t threads_total;
    uint64_t tasks_done;
    const uint64_t *held_seqs;  //  queued or running, in run order
    size_t held_count;
    const uint64_t *running_seqs;   //  the held seqs a thread runs now
    size_t running_count;
    const char *job_id;
    bool draining;
    uint64_t last_batch;        //  the highest TaskBatch.number of job_id read
    const char *incarnation;    //  the tasks DEALER's routing id
    uint32_t threads_min;       //  an autoscaled pool's bounds (0: fixed)
    uint32_t threads_max;
    uint64_t threads_grown;     //  growth and shrink events since the start
    uint64_t threads_shrunk;
} tm_heartbeat_t;

//  A worker's credit (see Credit in taskmill.proto): a window, not an increment.
typedef struct {
    const char *worker_id;
    uint32_t credit;            //  tasks the master may have outstanding there
    uint32_t threads;
    uint64_t epoch;             //  tasks connections made so far (1, 2, ...)
    uint64_t stamp;             //  echoed in TaskBatch.credit_stamp
    bool draining;
} tm_credit_t;

//  Decoded messages: opaque, own the unpacked protobuf.
typedef struct _tm_task_batch_t tm_task_batch_t;
typedef struct _tm_worker_msg_t tm_worker_msg_t;

//  Short name of a decode status, for logs and counters.
const char *tm_decode_status_name (tm_decode_status_t status);
//  Lower-case name of a status ("ok", "failed", ...), or "unknown".
const char *tm_status_name (tm_status_t status);

//  Sends an encoded frame on sock with zmq_send flags (ZMQ_DONTWAIT to never
//  block) without copying it: libzmq frees it once sent, or it is freed
//  here if not. Returns 0, or -1 if it was not sent.
int tm_codec_send (zsock_t *sock, zframe_t **frame_p, int flags);

//  --- tasks socket ---------------------------------------------------------
//  Encodes count tasks of job_id (at most TM_MAX_BATCH_TASKS; 0 makes a
//  marker) as one MasterToWorker frame numbered `number`, echoing credit_stamp (see
//  TaskBatch). Returns a frame the caller owns. Never fails (aborts on OOM).
zframe_t *tm_codec_encode_task_batch (const char *job_id, const tm_task_t *tasks, size_t count,
                                      uint64_t number, uint64_t credit_stamp);
//  The same, unnumbered (tests and tools).
zframe_t *tm_codec_encode_tasks (const tm_task_t *tasks, size_t count);
//  Tasks packed ahead, which is how the master sends them. What of a Task stays the same however often it is sent (seq, id, type,
//  payload) is packed once, when the master takes the task in: each frame
//  that carries it copies those bytes and adds the job id, timeout and
//  attempts, rather than packing every field again. The frames are byte
//  for byte those tm_codec_encode_task_batch makes.
typedef struct {
    const uint8_t *packed;      //  from tm_codec_pack_task
    size_t packed_size;
    uint32_t timeout_ms;
    uint32_t attempt;
    uint32_t max_attempts;
    //  NULL, or the writable start of room around packed (the headroom,
    //  then packed, then the tailroom): a frame of this task alone is then
    //  built there and sent with no copy, and release (hint) is called, in
    //  any thread, once libzmq is done with it (even if it is not sent).
    uint8_t *room;
    void (*release) (void *data, void *hint);
    void *hint;
} tm_packed_task_t;
//  What a frame of one task needs around its packed bytes.
#define TM_CODEC_FRAME_HEADROOM (2 + 6 + 6 + 2 + TM_MAX_JOB_ID_BYTES)
#define TM_CODEC_FRAME_TAILROOM (3 * 6 + 2 * 11 + 2 + TM_MAX_JOB_ID_BYTES)
//  Bytes tm_codec_pack_task writes for task's seq, id, type and payload.
size_t tm_codec_packed_task_size (const tm_task_t *task);
//  Writes them into packed (tm_codec_packed_task_size bytes); returns the
//  offset of the payload's bytes there. Other fields of task are not read.
size_t tm_codec_pack_task (const tm_task_t *task, uint8_t *packed);
//  Encodes count tasks of job_id (at most TM_MAX_BATCH_TASKS; 0 makes a
//  marker) as one numbered MasterToWorker frame into msg, which it
//  initialises; the caller sends or closes it. Never fails (aborts on OOM).
void tm_codec_encode_packed_batch (const char *job_id, const tm_packed_task_t *tasks,
                                   size_t count, uint64_t number, uint64_t credit_stamp,
                                   zmq_msg_t *msg);

//  Decodes a MasterToWorker frame into *batch_p (caller destroys it) on
//  TM_DECODE_OK; *batch_p is NULL otherwise. A batch of more than
//  TM_MAX_BATCH_TASKS tasks is TM_DECODE_INVALID.
tm_decode_status_t tm_codec_decode_tasks (const void *data, size_t size,
                                          tm_task_batch_t **batch_p);
//  The same by protobuf-c alone: the reference that tests and the fuzz
//  target hold the direct reader of task batches to.
tm_decode_status_t tm_codec_decode_tasks_reference (const void *data, size_t size,
                                                    tm_task_batch_t **batch_p);
//  Tasks in the batch (0 for a marker).
size_t tm_task_batch_size (tm_task_batch_t *self);
//  The frame's number (0 if the sender did not number it).
uint64_t tm_task_batch_number (tm_task_batch_t *self);
//  The job its tasks belong to (a marker's batch job id).
const char *tm_task_batch_job_id (tm_task_batch_t *self);
//  The credit stamp it echoes (0: none).
uint64_t tm_task_batch_credit_stamp (tm_task_batch_t *self);
//  Encodes a Credit, which workers send on the tasks socket.
zframe_t *tm_codec_encode_credit (const tm_credit_t *credit);
//  Decodes a tasks-socket frame from a worker, which must hold a Credit; on
//  TM_DECODE_OK copies its worker id into worker_id (size bytes) and points
//  credit->worker_id at it.
tm_decode_status_t tm_codec_decode_credit (const void *data, size_t size, tm_credit_t *credit,
                                           char *worker_id, size_t worker_id_size);
//  Fills *task with borrowed views of the index'th task (index < size).
void tm_task_batch_get (tm_task_batch_t *self, size_t index, tm_task_t *task);
void tm_task_batch_destroy (tm_task_batch_t **self_p);

//  --- results socket -------------------------------------------------------
zframe_t *tm_codec_encode_results (const tm_result_t *results, size_t count);
zframe_t *tm_codec_encode_heartbeat (const tm_heartbeat_t *heartbeat);
//  Decodes a results-socket frame: a result batch or a heartbeat (a Credit
//  there is TM_DECODE_WRONG_KIND).
tm_decode_status_t tm_codec_decode_worker_msg (const void *data, size_t size,
                                               tm_worker_msg_t **msg_p);
//  The same by protobuf-c alone: the reference that tests and the fuzz
//  target hold the direct reader of result batches to.
tm_decode_status_t tm_codec_decode_worker_msg_reference (const void *data, size_t size,
                                                         tm_worker_msg_t **msg_p);
//  As tm_codec_decode_worker_msg, for a frame as received. On TM_DECODE_OK the message may take
//  the frame's content, leaving *frame empty: large outputs are then read
//  where they arrived, with no copy. The caller closes *frame either way.
tm_decode_status_t tm_codec_decode_worker_frame (zmq_msg_t *frame, tm_worker_msg_t **msg_p);
//  True if the message is a heartbeat, false if a result batch.
bool tm_worker_msg_is_heartbeat (tm_worker_msg_t *self);
//  Number of results (0 for a heartbeat).
size_t tm_worker_msg_result_count (tm_worker_msg_t *self);
void tm_worker_msg_result (tm_worker_msg_t *self, size_t index, tm_result_t *result);
//  The seq of the index'th result, alone.
uint64_t tm_worker_msg_result_seq (tm_worker_msg_t *self, size_t index);
//  Fills *heartbeat; only valid when tm_worker_msg_is_heartbeat.
void tm_worker_msg_heartbeat (tm_worker_msg_t *self, tm_heartbeat_t *heartbeat);
//  Frees the message and everything its views borrow. It shares no memory with
//  other messages, so any thread may destroy it.
void tm_worker_msg_destroy (tm_worker_msg_t **self_p);

//  --- control socket -------------------------------------------------------
zframe_t *tm_codec_encode_control (tm_control_kind_t kind, const char *job_id);
//  Decodes a ControlMessage; on OK copies the job id into job_id (size bytes).
tm_decode_status_t tm_codec_decode_control (const void *data, size_t size,
                                            tm_control_kind_t *kind,
                                            char *job_id, size_t job_id_size);

#endif
