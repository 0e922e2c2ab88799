/*  tm_codec: packs and unpacks taskmill's envelopes. The sole includer of
    taskmill.pb-c.h, so the allocator choice and every field check live here.
*/
#include "tm_codec.h"
#include "taskmill.pb-c.h"
#include <sanitizer/asan_interface.h>
#include <string.h>

//  Unpacking can allocate far more than the frame holds (an empty Task costs
//  2 bytes on the wire and ~100 in memory). A budget makes unpack fail, as
//  malformed, instead of ballooning.
#define S_UNPACK_BUDGET_FACTOR 32
#define S_UNPACK_BUDGET_FLOOR (1024 * 1024)

//  protobuf-c asks its allocator once per message, string, bytes field and
//  repeated array: 4 mallocs and frees per noop Result (261 for a batch of
//  64), 1,600 of the 3,930 instructions a result took to decode and destroy.
//  So each decoded message owns an arena: one malloc holds the message's
//  handle and a first block sized from the frame, unpack bumps a pointer,
//  destroy is one free. An arena is never shared or reused across messages:
//  the sink thread decodes a message and the master thread destroys it, so
//  recycling blocks would need a lock.
#define S_FIRST_BLOCK_FACTOR 5              //  a noop ResultBatch unpacks to 3.6x
#define S_FIRST_BLOCK_SLACK 512
#define S_FIRST_BLOCK_MAX (64 * 1024)
#define S_BLOCK_MAX (1024 * 1024)

//  protobuf-c's structs hold nothing wider than 8 bytes (pointers, sizes,
//  uint64, double), so 8 and not malloc's 16: strings pack tighter.
#define S_ARENA_ALIGN 8
_Static_assert (_Alignof (void *) <= S_ARENA_ALIGN && _Alignof (uint64_t) <= S_ARENA_ALIGN
                && _Alignof (double) <= S_ARENA_ALIGN && _Alignof (size_t) <= S_ARENA_ALIGN,
                "arena alignment too small for protobuf-c structs");

typedef struct _s_block_t s_block_t;
struct _s_block_t {
    s_block_t *next;                        //  the block malloc'd before this one
    uint64_t data [];
};

//  Under AddressSanitizer, free arena bytes are poisoned and each allocation
//  is followed by a poisoned gap, so a view read past its field is caught as
//  it was when every field was its own malloc (unit tests, fuzz target).
#if __has_feature (address_sanitizer) || defined (__SANITIZE_ADDRESS__)
#   define S_REDZONE_BYTES 16
#else
#   define S_REDZONE_BYTES 0
#endif

typedef struct {
    char *cursor;               //  next free byte of the current block
    char *end;                  //  end of the current block
    char *first;                //  the first block, which the caller owns
    size_t first_bytes;
    s_block_t *blocks;          //  blocks malloc'd after the first, newest first
    size_t next_block_bytes;    //  size of the next block to bump from
    size_t budget_bytes;        //  bytes protobuf-c may still ask for
} s_arena_t;

static size_t
s_align_up (size_t size)
{
    return (size + S_ARENA_ALIGN - 1) & ~(size_t) (S_ARENA_ALIGN - 1);
}

//  Links a new block of data_bytes into the arena; returns its data.
static char *
s_arena_add_block (s_arena_t *self, size_t data_bytes)
{
    s_block_t *block = (s_block_t *) malloc (sizeof (s_block_t) + data_bytes);
    if (!block)
        return NULL;
    block->next = self->blocks;
    self->blocks = block;
    ASAN_POISON_MEMORY_REGION (block->data, data_bytes);
    return (char *) block->data;
}

static void *
s_arena_alloc (void *data, size_t size)
{
    s_arena_t *self = (s_arena_t *) data;
    if (size > self->budget_bytes)
        return NULL;
    self->budget_bytes -= size;
    size_t step = s_align_up (size + S_REDZONE_BYTES);
    char *pointer = self->cursor;
    if (step <= (size_t) (self->end - self->cursor))
        self->cursor += step;
    else
    if (step > self->next_block_bytes / 4)
        //  A large request (a payload) gets a block of its own, so the
        //  block being bumped keeps serving the small ones.
        pointer = s_arena_add_block (self, step);
    else {
        pointer = s_arena_add_block (self, self->next_block_bytes);
        if (pointer) {
            self->cursor = pointer + step;
            self->end = pointer + self->next_block_bytes;
            if (self->next_block_bytes < S_BLOCK_MAX)
                self->next_block_bytes *= 2;
        }
    }
    if (pointer)
        ASAN_UNPOISON_MEMORY_REGION (pointer, size);
    return pointer;
}

static void
s_arena_free (void *data, void *pointer)
{
    //  Everything goes at once, in s_arena_fini.
    (void) data;
    (void) pointer;
}

//  Starts an arena on a first block the caller owns, with the budget for a
//  frame of frame_bytes.
static void
s_arena_init (s_arena_t *self, char *first, size_t first_bytes, size_t frame_bytes)
{
    *self = (s_arena_t) {
        .cursor = first,
        .end = first + first_bytes,
        .first = first,
        .first_bytes = first_bytes,
        .next_block_bytes = first_bytes < 4096 ? 4096 : first_bytes * 2,
        .budget_bytes = frame_bytes * S_UNPACK_BUDGET_FACTOR + S_UNPACK_BUDGET_FLOOR
    };
    ASAN_POISON_MEMORY_REGION (first, first_bytes);
}

//  Frees the blocks the arena added; the first block is the caller's.
static void
s_arena_fini (s_arena_t *self)
{
    while (self->blocks) {
        s_block_t *next = self->blocks->next;
        free (self->blocks);
        self->blocks = next;
    }
    //  The first block may be on the caller's stack, which must not stay poisoned.
    ASAN_UNPOISON_MEMORY_REGION (self->first, self->first_bytes);
}

//  Empties the arena for a second reader of the same frame, with the whole
//  budget again.
static void
s_arena_restart (s_arena_t *self, size_t frame_bytes)
{
    char *first = self->first;
    size_t first_bytes = self->first_bytes;
    s_arena_fini (self);
    s_arena_init (self, first, first_bytes, frame_bytes);
}

//  Returns the unpacked message, or NULL if the bytes are not a message of
//  descriptor or would unpack past the budget. Nothing needs freeing but
//  the arena.
static ProtobufCMessage *
s_arena_unpack (s_arena_t *self, const ProtobufCMessageDescriptor *descriptor,
                const void *data, size_t size)
{
    ProtobufCAllocator allocator = { s_arena_alloc, s_arena_free, self };
    return protobuf_c_message_unpack (descriptor, &allocator, size, (const uint8_t *) data);
}

//  Allocates a handle of handle_bytes, a struct whose first member is an
//  s_arena_t, with that arena's first block after it: one malloc.
static void *
s_handle_new (size_t handle_bytes, size_t frame_bytes)
{
    size_t first_bytes = s_align_up (frame_bytes * S_FIRST_BLOCK_FACTOR + S_FIRST_BLOCK_SLACK);
    if (first_bytes > S_FIRST_BLOCK_MAX)
        first_bytes = S_FIRST_BLOCK_MAX;
    handle_bytes = s_align_up (handle_bytes);
    char *handle = (char *) malloc (handle_bytes + first_bytes);
    assert (handle);
    s_arena_init ((s_arena_t *) handle, handle + handle_bytes, first_bytes, frame_bytes);
    return handle;
}

//  --- reading protobuf directly -------------------------------------------------
//
//  The two batches that cross the wire once per task, ResultBatch and
//  TaskBatch, are read here directly rather than by protobuf-c's generic
//  unpack, which walks descriptors field by field and was most of a noop
//  task's cost at the sink and at a worker. The
//  readers take only what protobuf-c is sure to read the same way: the
//  fields of the .proto with their own wire types, each at most once, in
//  any order, with one-byte tags. Anything else (another body, an unknown
//  or repeated field, another wire type, a varint or length cut short)
//  goes to protobuf-c, which decides, so the two never disagree; unit
//  tests and the fuzz target hold them to that.

#define S_WIRE_VARINT 0
#define S_WIRE_LENGTH 2

typedef struct {
    const uint8_t *at;
    const uint8_t *end;
} s_reader_t;

//  A varint as protobuf-c reads one: at most 10 bytes, bits past 64 dropped.
static inline bool
s_read_varint (s_reader_t *self, uint64_t *value)
{
    //  Most are one byte: tags' lengths, attempts, statuses.
    if (self->at < self->end && *self->at < 0x80) {
        *value = *self->at++;
        return true;
    }
    uint64_t result = 0;
    for (unsigned i = 0; i < 10 && self->at < self->end; i++) {
        uint8_t byte = *self->at++;
        result |= (uint64_t) (byte & 0x7F) << (7 * i);
        if (!(byte & 0x80)) {
            *value = result;
            return true;
        }
    }
    return false;
}

//  A one-byte tag (fields 1 to 15, which are all the fields read here).
static inline bool
s_read_tag (s_reader_t *self, unsigned *field, unsigned *wire)
{
    if (self->at == self->end || (*self->at & 0x80) || (*self->at >> 3) == 0)
        return false;
    *field = *self->at >> 3;
    *wire = *self->at & 7;
    self->at++;
    return true;
}

//  A length prefix (at most 5 bytes, as protobuf-c takes) and the bytes it
//  covers, which must lie inside the reader.
static inline bool
s_read_length (s_reader_t *self, s_reader_t *inner)
{
    const uint8_t *start = self->at;
    uint64_t length;
    if (!s_read_varint (self, &length) || self->at - start > 5
    ||  length > (uint64_t) (self->end - self->at))
        return false;
    *inner = (s_reader_t) { self->at, self->at + length };
    self->at += length;
    return true;
}

//  A NUL-terminated copy in the arena, as protobuf-c makes of a string.
static const char *
s_copy_string (s_arena_t *arena, const s_reader_t *bytes)
{
    size_t size = (size_t) (bytes->end - bytes->at);
    char *copy = (char *) s_arena_alloc (arena, size + 1);
    if (copy) {
        memcpy (copy, bytes->at, size);
        copy [size] = 0;
    }
    return copy;
}

//  Reads an envelope down to its body's bytes (field 2 of both
//  MasterToWorker and WorkerToMaster); false for anything but a version
//  and that one body.
static bool
s_read_envelope (const uint8_t *data, size_t size, int32_t *version, s_reader_t *batch)
{
    s_reader_t reader = { data, data + size };
    bool has_version = false, has_batch = false;
    *version = 0;
    while (reader.at < reader.end) {
        unsigned field, wire;
        uint64_t value;
        if (!s_read_tag (&reader, &field, &wire))
            return false;
        if (field == 1 && wire == S_WIRE_VARINT && !has_version && s_read_varint (&reader, &value)) {
            *version = (int32_t) (uint32_t) value;
            has_version = true;
        }
        else
        if (field == 2 && wire == S_WIRE_LENGTH && !has_batch && s_read_length (&reader, batch))
            has_batch = true;
        else
            return false;
    }
    return has_batch;
}

struct _tm_task_batch_t {
    s_arena_t arena;                    //  first: see s_handle_new
    Taskmill__MasterToWorker *msg;      //  in arena; NULL when read by s_read_tasks
    tm_task_t *tasks;                   //  s_read_tasks: the batch, in arena
    size_t task_count;
    uint64_t number;                    //  s_read_tasks: TaskBatch.number
    uint64_t credit_stamp;              //  s_read_tasks: TaskBatch.credit_stamp
    const char *job_id;                 //  s_read_tasks: TaskBatch.job_id
};

struct _tm_worker_msg_t {
    s_arena_t arena;                    //  first: see s_handle_new
    Taskmill__WorkerToMaster *msg;      //  in arena; NULL when read by s_read_results
    tm_result_t *results;               //  s_read_results: the batch, in arena
    size_t result_count;
    zmq_msg_t frame;                    //  s_read_results: the frame large outputs point into
    bool holds_frame;                   //  frame is ours to close
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

//  protobuf-c sizes a message (get_packed_size, a walk of every field)
//  before it packs it (a second walk): 618 of the 1,558 instructions the
//  master spent per task on packing. The two batch messages are packed in
//  one walk instead, into scratch space bounded from what we put in them:
//  each field costs at most a tag byte and a 10-byte varint besides its
//  string or bytes, and each element of a batch one more such pair for its
//  own tag and length.
#define S_FIELD_MAX_BYTES 11
#define S_TASK_FIELDS 8
#define S_RESULT_FIELDS 11
#define S_ENVELOPE_BOUND (5 * S_FIELD_MAX_BYTES)   //  version, body, number, stamp, job id
//  Past this, payloads dominate: sizing walks past them cheaply, and two
//  walks spare a large scratch buffer and its copy.
#define S_ONE_WALK_MAX_BYTES (256 * 1024)

//  Upper bound on the packed size of one batch element with data_bytes of
//  strings and bytes, given its descriptor's field count as counted here.
static size_t
s_element_bound (const ProtobufCMessageDescriptor *descriptor, size_t fields,
                 size_t data_bytes)
{
    //  A field added to taskmill.proto must be counted in S_TASK_FIELDS or
    //  S_RESULT_FIELDS, or the bound would be short; and tags above 15 take
    //  two bytes.
    assert (descriptor->n_fields == fields);
    assert (descriptor->fields [fields - 1].id < 16);
    return (fields + 1) * S_FIELD_MAX_BYTES + data_bytes;
}

//  strlen, where NULL (packed as no field) is 0.
static size_t
s_length (const char *string)
{
    return string ? strlen (string) : 0;
}

//  Packs message, known to take at most bound bytes, into a new frame.
static zframe_t *
s_frame_from_bound (const ProtobufCMessage *message, size_t bound)
{
    if (bound > S_ONE_WALK_MAX_BYTES)
        return s_frame_from_packed (message);
    uint8_t *scratch = (uint8_t *) malloc (bound);
    assert (scratch);
    size_t size = protobuf_c_message_pack (message, scratch);
    assert (size <= bound);
    zframe_t *frame = zframe_new (scratch, size);
    assert (frame);
    free (scratch);
    return frame;
}

//  libzmq's free callback: the frame lives until libzmq has sent its bytes.
static void
s_free_frame (void *data, void *hint)
{
    (void) data;
    zframe_t *frame = (zframe_t *) hint;
    zframe_destroy (&frame);
}

int
tm_codec_send (zsock_t *sock, zframe_t **frame_p, int flags)
{
    //  Handed over, not copied: zmq_send would copy every byte once more,
    //  a megabyte a task for large payloads.
    zframe_t *frame = *frame_p;
    *frame_p = NULL;
    zmq_msg_t msg;
    zmq_msg_init_data (&msg, zframe_data (frame), zframe_size (frame), s_free_frame, frame);
    int rc = zmq_msg_send (&msg, zsock_resolve (sock), flags);
    if (rc == -1)
        zmq_msg_close (&msg);   //  frees the frame through s_free_frame
    return rc == -1 ? -1 : 0;
}

//  --- tasks -----------------------------------------------------------------

zframe_t *
tm_codec_encode_tasks (const tm_task_t *tasks, size_t count)
{
    return tm_codec_encode_task_batch (count ? tasks [0].job_id : "", tasks, count, 0, 0);
}

zframe_t *
tm_codec_encode_task_batch (const char *job_id, const tm_task_t *tasks, size_t count,
                            uint64_t number, uint64_t credit_stamp)
{
    //  One allocation for the elements and their pointers; init sets every byte.
    Taskmill__Task *items = (Taskmill__Task *) malloc (
        count * (sizeof (Taskmill__Task) + sizeof (Taskmill__Task *)) + 1);
    assert (items);
    Taskmill__Task **pointers = (Taskmill__Task **) (items + count);
    size_t bound = S_ENVELOPE_BOUND + s_length (job_id);
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
        bound += s_element_bound (&taskmill__task__descriptor, S_TASK_FIELDS,
                                  s_length (items [i].job_id) + s_length (items [i].id)
                                  + s_length (items [i].type) + task->payload_size);
    }
    Taskmill__TaskBatch batch = TASKMILL__TASK_BATCH__INIT;
    batch.n_tasks = count;
    batch.tasks = pointers;
    batch.number = number;
    batch.credit_stamp = credit_stamp;
    batch.job_id = (char *) (job_id ? job_id : "");
    Taskmill__MasterToWorker envelope = TASKMILL__MASTER_TO_WORKER__INIT;
    envelope.version = TM_PROTOCOL_VERSION;
    envelope.body_case = TASKMILL__MASTER_TO_WORKER__BODY_TASKS;
    envelope.tasks = &batch;
    zframe_t *frame = s_frame_from_bound (&envelope.base, bound);
    free (items);
    return frame;
}

//  --- tasks packed ahead ------------------------------------------------------
//
//  Written by hand, in the order and form protobuf-c packs them: fields by
//  number, varints shortest, zero numbers and empty strings and bytes left
//  out (proto3), so each frame is the one tm_codec_encode_task_batch makes.

#define S_TAG(field, wire) ((uint8_t) ((field) << 3 | (wire)))

static inline size_t
s_varint_size (uint64_t value)
{
    size_t size = 1;
    while (value >= 0x80) {
        value >>= 7;
        size++;
    }
    return size;
}

static inline uint8_t *
s_put_varint (uint8_t *out, uint64_t value)
{
    while (value >= 0x80) {
        *out++ = (uint8_t) (value | 0x80);
        value >>= 7;
    }
    *out++ = (uint8_t) value;
    return out;
}

//  A varint field, left out when zero.
static inline size_t
s_number_field_size (uint64_t value)
{
    return value ? 1 + s_varint_size (value) : 0;
}

static inline uint8_t *
s_put_number_field (uint8_t *out, unsigned field, uint64_t value)
{
    if (!value)
        return out;
    *out++ = S_TAG (field, 0);
    return s_put_varint (out, value);
}

//  A string or bytes field, left out when empty.
static inline size_t
s_bytes_field_size (size_t size)
{
    return size ? 1 + s_varint_size (size) + size : 0;
}

static inline uint8_t *
s_put_bytes_field (uint8_t *out, unsigned field, const void *data, size_t size)
{
    if (!size)
        return out;
    *out++ = S_TAG (field, 2);
    out = s_put_varint (out, size);
    memcpy (out, data, size);
    return out + size;
}

size_t
tm_codec_packed_task_size (const tm_task_t *task)
{
    return s_number_field_size (task->seq) + s_bytes_field_size (s_length (task->id))
         + s_bytes_field_size (s_length (task->type)) + s_bytes_field_size (task->payload_size);
}

size_t
tm_codec_pack_task (const tm_task_t *task, uint8_t *packed)
{
    uint8_t *out = s_put_number_field (packed, 2, task->seq);
    out = s_put_bytes_field (out, 3, task->id, s_length (task->id));
    out = s_put_bytes_field (out, 4, task->type, s_length (task->type));
    out = s_put_bytes_field (out, 5, task->payload, task->payload_size);
    //  The payload's bytes are the last ones written.
    return (size_t) (out - packed) - task->payload_size;
}

//  One Task of a batch: its length, less its own tag and length prefix.
static size_t
s_packed_task_length (const tm_packed_task_t *task, size_t job_id_size)
{
    return s_bytes_field_size (job_id_size) + task->packed_size
         + s_number_field_size (task->timeout_ms) + s_number_field_size (task->attempt)
         + s_number_field_size (task->max_attempts);
}

//  A frame of one task built around its packed bytes, in the room the
//  caller keeps there: the same bytes as the copy, sent from where they are.
static void
s_encode_in_place (const char *job_id, const tm_packed_task_t *task, uint64_t number,
                   uint64_t credit_stamp, size_t batch_size, size_t size, zmq_msg_t *msg)
{
    size_t job_id_size = s_length (job_id);
    size_t length = s_packed_task_length (task, job_id_size);
    size_t head = s_number_field_size (TM_PROTOCOL_VERSION) + 1 + s_varint_size (batch_size)
                + 1 + s_varint_size (length) + s_bytes_field_size (job_id_size);
    assert (head <= TM_CODEC_FRAME_HEADROOM
            && size - head - task->packed_size <= TM_CODEC_FRAME_TAILROOM);
    uint8_t *start = task->room + TM_CODEC_FRAME_HEADROOM - head;
    uint8_t *out = s_put_number_field (start, 1, TM_PROTOCOL_VERSION);
    *out++ = S_TAG (2, 2);
    out = s_put_varint (out, batch_size);
    *out++ = S_TAG (1, 2);
    out = s_put_varint (out, length);
    out = s_put_bytes_field (out, 1, job_id, job_id_size);
    assert (out == task->packed);
    out += task->packed_size;
    out = s_put_number_field (out, 6, task->timeout_ms);
    out = s_put_number_field (out, 7, task->attempt);
    out = s_put_number_field (out, 8, task->max_attempts);
    out = s_put_number_field (out, 2, number);
    out = s_put_number_field (out, 3, credit_stamp);
    out = s_put_bytes_field (out, 4, job_id, job_id_size);
    assert (out == start + size);
    int rc = zmq_msg_init_data (msg, start, size, task->release, task->hint);
    assert (rc == 0);
}

void
tm_codec_encode_packed_batch (const char *job_id, const tm_packed_task_t *tasks, size_t count,
                              uint64_t number, uint64_t credit_stamp, zmq_msg_t *msg)
{
    size_t job_id_size = s_length (job_id);
    size_t batch_size = 0;
    for (size_t i = 0; i < count; i++) {
        size_t length = s_packed_task_length (&tasks [i], job_id_size);
        batch_size += 1 + s_varint_size (length) + length;
    }
    batch_size += s_number_field_size (number) + s_number_field_size (credit_stamp)
                + s_bytes_field_size (job_id_size);
    size_t size = s_number_field_size (TM_PROTOCOL_VERSION) + 1 + s_varint_size (batch_size)
                + batch_size;
    if (count == 1 && tasks [0].room) {
        s_encode_in_place (job_id, &tasks [0], number, credit_stamp, batch_size, size, msg);
        return;
    }
    int rc = zmq_msg_init_size (msg, size);
    assert (rc == 0);
    uint8_t *start = (uint8_t *) zmq_msg_data (msg);
    uint8_t *out = s_put_number_field (start, 1, TM_PROTOCOL_VERSION);
    *out++ = S_TAG (2, 2);
    out = s_put_varint (out, batch_size);
    for (size_t i = 0; i < count; i++) {
        const tm_packed_task_t *task = &tasks [i];
        *out++ = S_TAG (1, 2);
        out = s_put_varint (out, s_packed_task_length (task, job_id_size));
        out = s_put_bytes_field (out, 1, job_id, job_id_size);
        memcpy (out, task->packed, task->packed_size);
        out += task->packed_size;
        out = s_put_number_field (out, 6, task->timeout_ms);
        out = s_put_number_field (out, 7, task->attempt);
        out = s_put_number_field (out, 8, task->max_attempts);
    }
    out = s_put_number_field (out, 2, number);
    out = s_put_number_field (out, 3, credit_stamp);
    out = s_put_bytes_field (out, 4, job_id, job_id_size);
    assert (out == start + size);
}

//  Both readers of tasks judge them here, on the same view.
static bool
s_task_view_valid (const tm_task_t *task)
{
    return s_string_ok (task->job_id, TM_MAX_JOB_ID_BYTES, false)
        && task->seq > 0
        && s_string_ok (task->id, TM_MAX_ID_BYTES, true)
        && s_string_ok (task->type, TM_MAX_TYPE_BYTES, false)
        && task->attempt >= 1
        && task->max_attempts >= task->attempt;
}

static bool
s_task_valid (const Taskmill__Task *item)
{
    tm_task_t task = {
        .job_id = item->job_id, .seq = item->seq, .id = item->id, .type = item->type,
        .attempt = item->attempt, .max_attempts = item->max_attempts
    };
    return s_task_view_valid (&task);
}

//  Reads the next field of a message whose fields are numbered 1 to
//  max_field, each at most once (seen), those in length_mask strings or
//  bytes (into *bytes) and the rest varints (into *value). False for
//  anything else: the frame is then left to protobuf-c.
static bool
s_read_field (s_reader_t *reader, unsigned max_field, uint32_t length_mask, uint32_t *seen,
              unsigned *field, uint64_t *value, s_reader_t *bytes)
{
    unsigned wire;
    if (!s_read_tag (reader, field, &wire) || *field > max_field || (*seen & (1u << *field)))
        return false;
    *seen |= 1u << *field;
    bool length_field = (length_mask >> *field) & 1;
    if (wire != (length_field ? S_WIRE_LENGTH : S_WIRE_VARINT))
        return false;
    *value = 0;
    *bytes = (s_reader_t) { NULL, NULL };
    return length_field ? s_read_length (reader, bytes) : s_read_varint (reader, value);
}

//  Reads one Task into *task; false to leave the frame to protobuf-c.
static bool
s_read_task (s_arena_t *arena, s_reader_t *reader, tm_task_t *task)
{
    *task = (tm_task_t) { .job_id = "", .id = "", .type = "" };
    uint32_t seen = 0;
    while (reader->at < reader->end) {
        unsigned field;
        uint64_t value;
        s_reader_t bytes;
        //  Fields 1, 3, 4 and 5 are strings or bytes; the rest varints.
        if (!s_read_field (reader, 8, 0x3A, &seen, &field, &value, &bytes))
            return false;
        const char **string = NULL;
        switch (field) {
            case 1: string = &task->job_id; break;
            case 2: task->seq = value; break;
            case 3: string = &task->id; break;
            case 4: string = &task->type; break;
            case 6: task->timeout_ms = (uint32_t) value; break;
            case 7: task->attempt = (uint32_t) value; break;
            case 8: task->max_attempts = (uint32_t) value; break;
            case 5: {
                //  Copied: the caller may free the frame before running the task.
                size_t size = (size_t) (bytes.end - bytes.at);
                if (size == 0)
                    break;      //  protobuf-c leaves NULL for empty bytes
                uint8_t *copy = (uint8_t *) s_arena_alloc (arena, size);
                if (!copy)
                    return false;
                memcpy (copy, bytes.at, size);
                task->payload = copy;
                task->payload_size = size;
                break;
            }
        }
        if (string && !(*string = s_copy_string (arena, &bytes)))
            return false;
    }
    return true;
}

//  Reads a MasterToWorker holding a TaskBatch into self (its arena fresh):
//  returns false, having used nothing but the arena, to leave it to protobuf-c.
static bool
s_read_tasks (tm_task_batch_t *self, const uint8_t *data, size_t size, tm_decode_status_t *status)
{
    int32_t version;
    s_reader_t batch;
    if (!s_read_envelope (data, size, &version, &batch))
        return false;
    size_t count = 0;
    uint32_t seen = 0;
    s_reader_t job_id = { NULL, NULL };
    for (s_reader_t scan = batch; scan.at < scan.end; ) {
        unsigned field, wire;
        uint64_t value;
        s_reader_t item = { NULL, NULL };
        if (!s_read_tag (&scan, &field, &wire))
            return false;
        if (field == 1 && wire == S_WIRE_LENGTH && count < TM_MAX_BATCH_TASKS
        &&  s_read_length (&scan, &item))
            count++;
        else
        if ((field == 2 || field == 3) && wire == S_WIRE_VARINT && !(seen & (1u << field))
        &&  s_read_varint (&scan, &value)) {
            if (field == 2)
                self->number = value;
            else
                self->credit_stamp = value;
            seen |= 1u << field;
        }
        else
        if (field == 4 && wire == S_WIRE_LENGTH && !(seen & (1u << field))
        &&  s_read_length (&scan, &job_id))
            seen |= 1u << field;
        else
            return false;
    }
    self->job_id = "";
    if (job_id.at && !(self->job_id = s_copy_string (&self->arena, &job_id)))
        return false;
    self->tasks = (tm_task_t *) s_arena_alloc (&self->arena, (count + 1) * sizeof (tm_task_t));
    if (!self->tasks)
        return false;
    //  The scan proved every field readable: this pass reads them again.
    size_t read = 0;
    while (batch.at < batch.end) {
        unsigned field = 0, wire = 0;
        uint64_t value;
        s_reader_t item = { NULL, NULL };
        s_read_tag (&batch, &field, &wire);
        if (field == 1) {
            s_read_length (&batch, &item);
            if (!s_read_task (&self->arena, &item, &self->tasks [read++]))
                return false;
        }
        else
        if (field == 4)
            s_read_length (&batch, &item);
        else
            s_read_varint (&batch, &value);
    }
    self->task_count = count;
    //  In the order tm_codec_decode_tasks checks protobuf-c's message.
    *status = TM_DECODE_OK;
    if (version != TM_PROTOCOL_VERSION)
        *status = TM_DECODE_VERSION;
    else
    if (!s_string_ok (self->job_id, TM_MAX_JOB_ID_BYTES, count > 0))
        *status = TM_DECODE_INVALID;    //  a marker names its job
    for (size_t i = 0; *status == TM_DECODE_OK && i < count; i++)
        if (!s_task_view_valid (&self->tasks [i]))
            *status = TM_DECODE_INVALID;
    return true;
}

//  Decodes by s_read_tasks when it can (direct), else by protobuf-c.
static tm_decode_status_t
s_decode_tasks (const uint8_t *data, size_t size, bool direct, tm_task_batch_t **batch_p)
{
    *batch_p = NULL;
    if (size > TM_MAX_FRAME_BYTES)
        return TM_DECODE_TOO_BIG;
    tm_task_batch_t *self = (tm_task_batch_t *) s_handle_new (sizeof (tm_task_batch_t), size);
    self->msg = NULL;
    self->tasks = NULL;
    self->task_count = 0;
    self->number = self->credit_stamp = 0;
    self->job_id = NULL;
    tm_decode_status_t status;
    if (direct && s_read_tasks (self, data, size, &status)) {
        if (status != TM_DECODE_OK)
            tm_task_batch_destroy (&self);
        *batch_p = self;
        return status;
    }
    s_arena_restart (&self->arena, size);
    self->tasks = NULL;
    self->task_count = 0;
    self->msg = (Taskmill__MasterToWorker *) s_arena_unpack (
        &self->arena, &taskmill__master_to_worker__descriptor, data, size);
    Taskmill__MasterToWorker *msg = self->msg;
    status = TM_DECODE_OK;
    if (!msg)
        status = TM_DECODE_MALFORMED;
    else
    if (msg->version != TM_PROTOCOL_VERSION)
        status = TM_DECODE_VERSION;
    else
    if (msg->body_case != TASKMILL__MASTER_TO_WORKER__BODY_TASKS || !msg->tasks)
        status = TM_DECODE_WRONG_KIND;
    else
    if (msg->tasks->n_tasks > TM_MAX_BATCH_TASKS
    ||  !s_string_ok (msg->tasks->job_id, TM_MAX_JOB_ID_BYTES, msg->tasks->n_tasks > 0))
        status = TM_DECODE_INVALID;     //  a marker names its job
    for (size_t i = 0; status == TM_DECODE_OK && i < msg->tasks->n_tasks; i++)
        if (!s_task_valid (msg->tasks->tasks [i]))
            status = TM_DECODE_INVALID;
    if (status != TM_DECODE_OK) {
        tm_task_batch_destroy (&self);
        return status;
    }
    *batch_p = self;
    return TM_DECODE_OK;
}

tm_decode_status_t
tm_codec_decode_tasks (const void *data, size_t size, tm_task_batch_t **batch_p)
{
    assert (batch_p);
    return s_decode_tasks ((const uint8_t *) data, size, true, batch_p);
}

tm_decode_status_t
tm_codec_decode_tasks_reference (const void *data, size_t size, tm_task_batch_t **batch_p)
{
    assert (batch_p);
    return s_decode_tasks ((const uint8_t *) data, size, false, batch_p);
}

size_t
tm_task_batch_size (tm_task_batch_t *self)
{
    assert (self);
    return self->msg ? self->msg->tasks->n_tasks : self->task_count;
}

uint64_t
tm_task_batch_number (tm_task_batch_t *self)
{
    assert (self);
    return self->msg ? self->msg->tasks->number : self->number;
}

const char *
tm_task_batch_job_id (tm_task_batch_t *self)
{
    assert (self);
    if (!self->msg)
        return self->task_count ? self->tasks [0].job_id : self->job_id;
    const Taskmill__TaskBatch *batch = self->msg->tasks;
    return batch->n_tasks ? batch->tasks [0]->job_id : batch->job_id;
}

uint64_t
tm_task_batch_credit_stamp (tm_task_batch_t *self)
{
    assert (self);
    return self->msg ? self->msg->tasks->credit_stamp : self->credit_stamp;
}

void
tm_task_batch_get (tm_task_batch_t *self, size_t index, tm_task_t *task)
{
    assert (self);
    assert (index < tm_task_batch_size (self));
    if (!self->msg) {
        *task = self->tasks [index];
        return;
    }
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
        s_arena_fini (&(*self_p)->arena);
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

//  Results are written by hand too, in protobuf-c's order and form (see
//  tm_codec_encode_packed_batch): each worker packs one per task, and
//  protobuf-c's walk of the descriptors was most of a noop task's cost there.
static uint64_t
s_enum_varint (int32_t value)
{
    //  An int32 goes out sign-extended: a negative one takes ten bytes.
    return (uint64_t) (int64_t) value;
}

static uint32_t
s_zigzag32 (int32_t value)
{
    return ((uint32_t) value << 1) ^ (0 - ((uint32_t) value >> 31));
}

//  One Result's length, less its own tag and length prefix.
static size_t
s_result_length (const tm_result_t *result)
{
    return s_bytes_field_size (s_length (result->job_id)) + s_number_field_size (result->seq)
         + s_bytes_field_size (s_length (result->id)) + s_number_field_size (result->attempt)
         + s_number_field_size (s_enum_varint ((int32_t) result->status))
         + s_bytes_field_size (result->output_size)
         + s_bytes_field_size (s_length (result->error))
         + s_bytes_field_size (s_length (result->worker_id))
         + s_number_field_size ((uint64_t) result->start_us)
         + s_number_field_size ((uint64_t) result->duration_us)
         + s_number_field_size (s_zigzag32 (result->exit_code));
}

static uint8_t *
s_put_result (uint8_t *out, const tm_result_t *result, size_t length)
{
    *out++ = S_TAG (1, 2);
    out = s_put_varint (out, length);
    out = s_put_bytes_field (out, 1, result->job_id, s_length (result->job_id));
    out = s_put_number_field (out, 2, result->seq);
    out = s_put_bytes_field (out, 3, result->id, s_length (result->id));
    out = s_put_number_field (out, 4, result->attempt);
    out = s_put_number_field (out, 5, s_enum_varint ((int32_t) result->status));
    out = s_put_bytes_field (out, 6, result->output, result->output_size);
    out = s_put_bytes_field (out, 7, result->error, s_length (result->error));
    out = s_put_bytes_field (out, 8, result->worker_id, s_length (result->worker_id));
    out = s_put_number_field (out, 9, (uint64_t) result->start_us);
    out = s_put_number_field (out, 10, (uint64_t) result->duration_us);
    return s_put_number_field (out, 11, s_zigzag32 (result->exit_code));
}

zframe_t *
tm_codec_encode_results (const tm_result_t *results, size_t count)
{
    //  Each Result's length is needed twice (the batch's, then its own).
    size_t stack_lengths [64];
    size_t *lengths = count <= 64 ? stack_lengths : (size_t *) malloc (count * sizeof (size_t));
    assert (lengths);
    size_t batch_size = 0;
    for (size_t i = 0; i < count; i++) {
        lengths [i] = s_result_length (&results [i]);
        batch_size += 1 + s_varint_size (lengths [i]) + lengths [i];
    }
    size_t size = s_number_field_size (TM_PROTOCOL_VERSION) + 1 + s_varint_size (batch_size)
                + batch_size;
    zframe_t *frame = zframe_new (NULL, size);
    assert (frame);
    uint8_t *start = zframe_data (frame);
    uint8_t *out = s_put_number_field (start, 1, TM_PROTOCOL_VERSION);
    *out++ = S_TAG (2, 2);
    out = s_put_varint (out, batch_size);
    for (size_t i = 0; i < count; i++)
        out = s_put_result (out, &results [i], lengths [i]);
    assert (out == start + size);
    if (lengths != stack_lengths)
        free (lengths);
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
    body.n_running_seqs = heartbeat->running_count;
    body.running_seqs = (uint64_t *) heartbeat->running_seqs;
    body.draining = heartbeat->draining;
    body.last_batch = heartbeat->last_batch;
    body.incarnation = (char *) (heartbeat->incarnation ? heartbeat->incarnation : "");
    body.threads_min = heartbeat->threads_min;
    body.threads_max = heartbeat->threads_max;
    body.threads_grown = heartbeat->threads_grown;
    body.threads_shrunk = heartbeat->threads_shrunk;
    Taskmill__WorkerToMaster envelope = TASKMILL__WORKER_TO_MASTER__INIT;
    envelope.body_case = TASKMILL__WORKER_TO_MASTER__BODY_HEARTBEAT;
    envelope.heartbeat = &body;
    return s_encode_worker_msg (&envelope);
}

//  Both readers of results judge them here, on the same view.
static bool
s_result_view_valid (const tm_result_t *result)
{
    return s_string_ok (result->job_id, TM_MAX_JOB_ID_BYTES, false)
        && result->seq > 0
        && s_string_ok (result->id, TM_MAX_ID_BYTES, true)
        && result->attempt >= 1
        && (int) result->status >= (int) TM_STATUS_MIN
        && (int) result->status <= (int) TM_STATUS_MAX
        && s_string_ok (result->error, TM_MAX_ERROR_BYTES, true)
        && s_string_ok (result->worker_id, TM_MAX_WORKER_ID_BYTES, false)
        && result->duration_us >= 0;
}

//  The view of a Result protobuf-c unpacked.
static void
s_result_view (const Taskmill__Result *item, tm_result_t *result)
{
    *result = (tm_result_t) {
        .job_id = item->job_id, .seq = item->seq, .id = item->id, .attempt = item->attempt,
        .status = (tm_status_t) item->status, .output = item->output.data,
        .output_size = item->output.len, .error = item->error, .worker_id = item->worker_id,
        .start_us = item->start_us, .duration_us = item->duration_us,
        .exit_code = item->exit_code, .output_form = TM_JSON_UNKNOWN
    };
}

static bool
s_result_valid (const Taskmill__Result *item)
{
    tm_result_t result;
    s_result_view (item, &result);
    return s_result_view_valid (&result);
}

static bool
s_heartbeat_valid (const Taskmill__Heartbeat *heartbeat)
{
    return s_string_ok (heartbeat->worker_id, TM_MAX_WORKER_ID_BYTES, false)
        && s_string_ok (heartbeat->host, TM_MAX_WORKER_ID_BYTES, true)
        && s_string_ok (heartbeat->job_id, TM_MAX_JOB_ID_BYTES, true)
        && s_string_ok (heartbeat->incarnation, TM_MAX_INCARNATION_BYTES, true)
        && heartbeat->n_held_seqs <= TM_MAX_HELD_SEQS
        && heartbeat->n_running_seqs <= heartbeat->n_held_seqs
        && heartbeat->threads_total <= TM_MAX_THREADS
        && heartbeat->threads_busy <= heartbeat->threads_total
        && heartbeat->threads_max <= TM_MAX_THREADS
        && heartbeat->threads_min <= heartbeat->threads_max;
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

//  --- results, read directly ---------------------------------------------------
//
//  The sink reads every result: strings are copied once into the message's
//  arena, and large outputs stay in the frame they came in.

#define S_READ_RESULTS_MAX 4096         //  more goes to protobuf-c (and its budget)
#define S_OUTPUT_COPY_MAX 1024          //  outputs up to this are copied, longer ones stay in the frame

//  Reads one Result into *result; false to leave the frame to protobuf-c.
static bool
s_read_result (s_arena_t *arena, s_reader_t *reader, bool frame_stays, tm_result_t *result)
{
    *result = (tm_result_t) { .job_id = "", .id = "", .error = "", .worker_id = "" };
    uint32_t seen = 0;
    while (reader->at < reader->end) {
        unsigned field;
        uint64_t value;
        s_reader_t bytes;
        //  Fields 1, 3, 6, 7 and 8 are strings or bytes; the rest varints.
        if (!s_read_field (reader, 11, 0x1CA, &seen, &field, &value, &bytes))
            return false;
        const char **string = NULL;
        switch (field) {
            case 1: string = &result->job_id; break;
            case 2: result->seq = value; break;
            case 3: string = &result->id; break;
            case 4: result->attempt = (uint32_t) value; break;
            case 5: result->status = (tm_status_t) (int32_t) (uint32_t) value; break;
            case 7: string = &result->error; break;
            case 8: string = &result->worker_id; break;
            case 9: result->start_us = (int64_t) value; break;
            case 10: result->duration_us = (int64_t) value; break;
            case 11: {
                uint32_t zigzag = (uint32_t) value;
                result->exit_code = (int32_t) ((zigzag >> 1) ^ (~(zigzag & 1) + 1));
                break;
            }
            case 6: {
                size_t size = (size_t) (bytes.end - bytes.at);
                if (size == 0)
                    break;      //  protobuf-c leaves NULL for empty bytes
                uint8_t *copy = NULL;
                if (!frame_stays || size <= S_OUTPUT_COPY_MAX) {
                    if (!(copy = (uint8_t *) s_arena_alloc (arena, size)))
                        return false;
                    memcpy (copy, bytes.at, size);
                }
                result->output = copy ? copy : bytes.at;
                result->output_size = size;
                //  Here, in the sink's thread, rather than in the master's loop.
                result->output_form = tm_json_form (result->output, size);
                break;
            }
        }
        if (string && !(*string = s_copy_string (arena, &bytes)))
            return false;
    }
    return true;
}

//  Reads a results frame into self (its arena fresh): returns false, having
//  used nothing but the arena, to leave the frame to protobuf-c. frame_stays:
//  data lives as long as self, so large outputs may point into it.
static bool
s_read_results (tm_worker_msg_t *self, const uint8_t *data, size_t size, bool frame_stays,
                tm_decode_status_t *status)
{
    int32_t version;
    s_reader_t batch;
    if (!s_read_envelope (data, size, &version, &batch))
        return false;
    //  Each Result is one tag and length in the batch: count them first.
    size_t count = 0;
    for (s_reader_t scan = batch; scan.at < scan.end; count++) {
        unsigned field, wire;
        s_reader_t item = { NULL, NULL };
        if (count == S_READ_RESULTS_MAX || !s_read_tag (&scan, &field, &wire)
        ||  field != 1 || wire != S_WIRE_LENGTH || !s_read_length (&scan, &item))
            return false;
    }
    self->results = (tm_result_t *) s_arena_alloc (&self->arena, (count + 1) * sizeof (tm_result_t));
    if (!self->results)
        return false;
    for (size_t i = 0; i < count; i++) {
        unsigned field, wire;
        s_reader_t item = { NULL, NULL };
        s_read_tag (&batch, &field, &wire);
        s_read_length (&batch, &item);
        if (!s_read_result (&self->arena, &item, frame_stays, &self->results [i]))
            return false;
    }
    self->result_count = count;
    //  In the order s_check_worker_msg checks protobuf-c's message.
    *status = TM_DECODE_OK;
    if (version != TM_PROTOCOL_VERSION)
        *status = TM_DECODE_VERSION;
    else
    if (count == 0)
        *status = TM_DECODE_INVALID;
    for (size_t i = 0; *status == TM_DECODE_OK && i < count; i++)
        if (!s_result_view_valid (&self->results [i]))
            *status = TM_DECODE_INVALID;
    return true;
}

//  Decodes data (which lives as long as the message if frame_stays) into
//  a new message: directly when it is a plain ResultBatch, else by protobuf-c.
static tm_decode_status_t
s_decode_worker_msg (const uint8_t *data, size_t size, bool direct, bool frame_stays,
                     tm_worker_msg_t **msg_p)
{
    *msg_p = NULL;
    if (size > TM_MAX_FRAME_BYTES)
        return TM_DECODE_TOO_BIG;
    tm_worker_msg_t *self = (tm_worker_msg_t *) s_handle_new (sizeof (tm_worker_msg_t), size);
    self->msg = NULL;
    self->results = NULL;
    self->result_count = 0;
    self->holds_frame = false;
    tm_decode_status_t status;
    if (!direct || !s_read_results (self, data, size, frame_stays, &status)) {
        s_arena_restart (&self->arena, size);
        self->results = NULL;
        self->result_count = 0;
        self->msg = (Taskmill__WorkerToMaster *) s_arena_unpack (
            &self->arena, &taskmill__worker_to_master__descriptor, data, size);
        status = self->msg ? s_check_worker_msg (self->msg) : TM_DECODE_MALFORMED;
    }
    if (status != TM_DECODE_OK) {
        tm_worker_msg_destroy (&self);
        return status;
    }
    *msg_p = self;
    return TM_DECODE_OK;
}

tm_decode_status_t
tm_codec_decode_worker_msg (const void *data, size_t size, tm_worker_msg_t **msg_p)
{
    assert (msg_p);
    return s_decode_worker_msg ((const uint8_t *) data, size, true, false, msg_p);
}

tm_decode_status_t
tm_codec_decode_worker_msg_reference (const void *data, size_t size, tm_worker_msg_t **msg_p)
{
    assert (msg_p);
    return s_decode_worker_msg ((const uint8_t *) data, size, false, false, msg_p);
}

tm_decode_status_t
tm_codec_decode_worker_frame (zmq_msg_t *frame, tm_worker_msg_t **msg_p)
{
    assert (frame && msg_p);
    const uint8_t *data = (const uint8_t *) zmq_msg_data (frame);
    size_t size = zmq_msg_size (frame);
    //  Outputs may stay in a frame longer than any they would be copied
    //  from: its bytes are on the heap, where zmq_msg_move leaves them (a
    //  very small message keeps its bytes inside the zmq_msg_t).
    bool stays = size > S_OUTPUT_COPY_MAX;
    tm_decode_status_t status = s_decode_worker_msg (data, size, true, stays, msg_p);
    tm_worker_msg_t *self = *msg_p;
    bool referenced = false;
    for (size_t i = 0; status == TM_DECODE_OK && stays && !self->msg
                    && i < self->result_count && !referenced; i++)
        referenced = self->results [i].output_size > S_OUTPUT_COPY_MAX;
    if (referenced) {
        zmq_msg_init (&self->frame);
        zmq_msg_move (&self->frame, frame);
        self->holds_frame = true;
    }
    return status;
}

bool
tm_worker_msg_is_heartbeat (tm_worker_msg_t *self)
{
    assert (self);
    return self->msg && self->msg->body_case == TASKMILL__WORKER_TO_MASTER__BODY_HEARTBEAT;
}

size_t
tm_worker_msg_result_count (tm_worker_msg_t *self)
{
    assert (self);
    if (!self->msg)
        return self->result_count;
    return tm_worker_msg_is_heartbeat (self) ? 0 : self->msg->results->n_results;
}

uint64_t
tm_worker_msg_result_seq (tm_worker_msg_t *self, size_t index)
{
    assert (index < tm_worker_msg_result_count (self));
    return self->msg ? self->msg->results->results [index]->seq : self->results [index].seq;
}

void
tm_worker_msg_result (tm_worker_msg_t *self, size_t index, tm_result_t *result)
{
    assert (index < tm_worker_msg_result_count (self));
    if (!self->msg)
        *result = self->results [index];
    else
        s_result_view (self->msg->results->results [index], result);
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
    heartbeat->running_seqs = item->running_seqs;
    heartbeat->running_count = item->n_running_seqs;
    heartbeat->job_id = item->job_id;
    heartbeat->draining = item->draining;
    heartbeat->last_batch = item->last_batch;
    heartbeat->incarnation = item->incarnation;
    heartbeat->threads_min = item->threads_min;
    heartbeat->threads_max = item->threads_max;
    heartbeat->threads_grown = item->threads_grown;
    heartbeat->threads_shrunk = item->threads_shrunk;
}

void
tm_worker_msg_destroy (tm_worker_msg_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        if ((*self_p)->holds_frame)
            zmq_msg_close (&(*self_p)->frame);
        s_arena_fini (&(*self_p)->arena);
        free (*self_p);
        *self_p = NULL;
    }
}

//  --- credit ------------------------------------------------------------------

zframe_t *
tm_codec_encode_credit (const tm_credit_t *credit)
{
    Taskmill__Credit body = TASKMILL__CREDIT__INIT;
    body.worker_id = (char *) credit->worker_id;
    body.credit = credit->credit;
    body.threads = credit->threads;
    body.epoch = credit->epoch;
    body.stamp = credit->stamp;
    body.draining = credit->draining;
    Taskmill__WorkerToMaster envelope = TASKMILL__WORKER_TO_MASTER__INIT;
    envelope.body_case = TASKMILL__WORKER_TO_MASTER__BODY_CREDIT;
    envelope.credit = &body;
    return s_encode_worker_msg (&envelope);
}

static tm_decode_status_t
s_check_credit (const Taskmill__WorkerToMaster *msg)
{
    if (msg->version != TM_PROTOCOL_VERSION)
        return TM_DECODE_VERSION;
    if (msg->body_case != TASKMILL__WORKER_TO_MASTER__BODY_CREDIT || !msg->credit)
        return TM_DECODE_WRONG_KIND;
    const Taskmill__Credit *credit = msg->credit;
    bool valid = s_string_ok (credit->worker_id, TM_MAX_WORKER_ID_BYTES, false)
              && credit->credit <= TM_MAX_CREDIT
              && credit->threads <= TM_MAX_THREADS
              && credit->epoch > 0;
    return valid ? TM_DECODE_OK : TM_DECODE_INVALID;
}

tm_decode_status_t
tm_codec_decode_credit (const void *data, size_t size, tm_credit_t *credit,
                        char *worker_id, size_t worker_id_size)
{
    if (size > TM_MAX_FRAME_BYTES)
        return TM_DECODE_TOO_BIG;
    //  A credit is a worker id and five numbers: the stack holds it.
    _Alignas (S_ARENA_ALIGN) char first_block [1024];
    s_arena_t arena;
    s_arena_init (&arena, first_block, sizeof first_block, size);
    Taskmill__WorkerToMaster *msg = (Taskmill__WorkerToMaster *) s_arena_unpack (
        &arena, &taskmill__worker_to_master__descriptor, data, size);
    tm_decode_status_t status = msg ? s_check_credit (msg) : TM_DECODE_MALFORMED;
    if (status == TM_DECODE_OK) {
        snprintf (worker_id, worker_id_size, "%s", msg->credit->worker_id);
        *credit = (tm_credit_t) {
            .worker_id = worker_id, .credit = msg->credit->credit,
            .threads = msg->credit->threads, .epoch = msg->credit->epoch,
            .stamp = msg->credit->stamp, .draining = msg->credit->draining
        };
    }
    s_arena_fini (&arena);
    return status;
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
    //  A control message is a job id and two numbers: the stack holds it.
    _Alignas (S_ARENA_ALIGN) char first_block [512];
    s_arena_t arena;
    s_arena_init (&arena, first_block, sizeof first_block, size);
    Taskmill__ControlMessage *msg = (Taskmill__ControlMessage *) s_arena_unpack (
        &arena, &taskmill__control_message__descriptor, data, size);
    tm_decode_status_t status = TM_DECODE_OK;
    if (!msg)
        status = TM_DECODE_MALFORMED;
    else
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
    s_arena_fini (&arena);
    return status;
}
