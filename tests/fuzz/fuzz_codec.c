/*  fuzz_codec: libFuzzer target for tm_codec's four decoders. Every input
    goes to all of them, since a frame can arrive on the wrong socket; what
    decodes as OK is read through the accessors, so a sanitizer sees any view
    that points outside the message. Task and result batches are also
    decoded by protobuf-c alone, which the direct readers must agree with
    (abort if not).

    Built by CMake when clang is installed (tests/fuzz/CMakeLists.txt, which
    also runs it for 30 s in ctest); the seed corpus replays as
    tests/unit/test_fuzz_corpus.c in every build.
*/
#include "tm_codec.h"
#include <stdlib.h>
#include <string.h>

//  The same for task batches.
static void
s_check_task_readers_agree (const uint8_t *data, size_t size)
{
    tm_task_batch_t *direct = NULL, *reference = NULL;
    tm_decode_status_t status = tm_codec_decode_tasks (data, size, &direct);
    if (status != tm_codec_decode_tasks_reference (data, size, &reference))
        abort ();
    if (status == TM_DECODE_OK
    &&  (tm_task_batch_size (direct) != tm_task_batch_size (reference)
      || tm_task_batch_number (direct) != tm_task_batch_number (reference)
      || tm_task_batch_credit_stamp (direct) != tm_task_batch_credit_stamp (reference)
      || strcmp (tm_task_batch_job_id (direct), tm_task_batch_job_id (reference))))
        abort ();
    for (size_t i = 0; status == TM_DECODE_OK && i < tm_task_batch_size (direct); i++) {
        tm_task_t a, b;
        tm_task_batch_get (direct, i, &a);
        tm_task_batch_get (reference, i, &b);
        if (strcmp (a.job_id, b.job_id) || strcmp (a.id, b.id) || strcmp (a.type, b.type)
        ||  a.seq != b.seq || a.timeout_ms != b.timeout_ms || a.attempt != b.attempt
        ||  a.max_attempts != b.max_attempts || a.payload_size != b.payload_size
        ||  (a.payload_size && memcmp (a.payload, b.payload, a.payload_size)))
            abort ();
    }
    tm_task_batch_destroy (&direct);
    tm_task_batch_destroy (&reference);
}

static size_t
s_touch_tasks (const uint8_t *data, size_t size)
{
    size_t sum = 0;
    s_check_task_readers_agree (data, size);
    tm_task_batch_t *batch = NULL;
    if (tm_codec_decode_tasks (data, size, &batch) == TM_DECODE_OK) {
        sum += strlen (tm_task_batch_job_id (batch));
        for (size_t i = 0; i < tm_task_batch_size (batch); i++) {
            tm_task_t task;
            tm_task_batch_get (batch, i, &task);
            sum += strlen (task.job_id) + strlen (task.id) + strlen (task.type);
            for (size_t at = 0; at < task.payload_size; at++)
                sum += task.payload [at];
        }
    }
    tm_task_batch_destroy (&batch);
    return sum;
}

//  The direct reader of result batches must agree with protobuf-c's on
//  every input: the status, and each field of each result.
static void
s_check_readers_agree (const uint8_t *data, size_t size)
{
    tm_worker_msg_t *direct = NULL, *reference = NULL;
    tm_decode_status_t status = tm_codec_decode_worker_msg (data, size, &direct);
    if (status != tm_codec_decode_worker_msg_reference (data, size, &reference))
        abort ();
    for (size_t i = 0; status == TM_DECODE_OK && i < tm_worker_msg_result_count (direct); i++) {
        tm_result_t a, b;
        tm_worker_msg_result (direct, i, &a);
        tm_worker_msg_result (reference, i, &b);
        if (strcmp (a.job_id, b.job_id) || strcmp (a.id, b.id) || strcmp (a.error, b.error)
        ||  strcmp (a.worker_id, b.worker_id) || a.seq != b.seq || a.attempt != b.attempt
        ||  a.status != b.status || a.start_us != b.start_us || a.duration_us != b.duration_us
        ||  a.exit_code != b.exit_code || a.output_size != b.output_size
        ||  (a.output_size && memcmp (a.output, b.output, a.output_size)))
            abort ();
    }
    if (status == TM_DECODE_OK
    &&  tm_worker_msg_result_count (direct) != tm_worker_msg_result_count (reference))
        abort ();
    tm_worker_msg_destroy (&direct);
    tm_worker_msg_destroy (&reference);
}

static size_t
s_touch_worker_msg (const uint8_t *data, size_t size)
{
    size_t sum = 0;
    s_check_readers_agree (data, size);
    tm_worker_msg_t *msg = NULL;
    if (tm_codec_decode_worker_msg (data, size, &msg) != TM_DECODE_OK)
        return 0;
    if (tm_worker_msg_is_heartbeat (msg)) {
        tm_heartbeat_t heartbeat;
        tm_worker_msg_heartbeat (msg, &heartbeat);
        sum += strlen (heartbeat.worker_id) + strlen (heartbeat.host)
             + strlen (heartbeat.job_id) + strlen (heartbeat.incarnation);
        for (size_t i = 0; i < heartbeat.held_count; i++)
            sum += (size_t) heartbeat.held_seqs [i];
        for (size_t i = 0; i < heartbeat.running_count; i++)
            sum += (size_t) heartbeat.running_seqs [i];
    }
    for (size_t i = 0; i < tm_worker_msg_result_count (msg); i++) {
        tm_result_t result;
        tm_worker_msg_result (msg, i, &result);
        sum += strlen (result.job_id) + strlen (result.id) + strlen (result.error)
             + strlen (result.worker_id) + strlen (tm_status_name (result.status));
        for (size_t at = 0; at < result.output_size; at++)
            sum += result.output [at];
    }
    tm_worker_msg_destroy (&msg);
    return sum;
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    volatile size_t sum = s_touch_tasks (data, size) + s_touch_worker_msg (data, size);
    tm_control_kind_t kind;
    char job_id [TM_MAX_JOB_ID_BYTES + 1];
    if (tm_codec_decode_control (data, size, &kind, job_id, sizeof job_id) == TM_DECODE_OK)
        sum += strlen (job_id) + (size_t) kind;
    tm_credit_t credit;
    char worker_id [TM_MAX_WORKER_ID_BYTES + 1];
    if (tm_codec_decode_credit (data, size, &credit, worker_id, sizeof worker_id) == TM_DECODE_OK)
        sum += strlen (credit.worker_id) + credit.credit + credit.threads;
    (void) sum;
    return 0;
}
