/*  Tests for tm_codec: every envelope round-trips, and bytes from the network
    that are cut short, too big, of another version or kind, out of range or
    plain garbage are refused with a status, never a crash or a leak.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tm_codec.h"
#include <stdio.h>
#include <string.h>

//  --- helpers -------------------------------------------------------------------

static const uint8_t s_binary [] = { 0x00, 0xff, 0x0a, 0x00, 0x80, 0x7f, 0x0d };

static void
s_tasks_fill (tm_task_t tasks [3])
{
    memset (tasks, 0, 3 * sizeof (tm_task_t));
    tasks [0] = (tm_task_t) { "job-1", 1, "a1", "echo", (const uint8_t *) "hello", 5,
                              5000, 1, 3 };
    tasks [1] = (tm_task_t) { "job-1", UINT64_MAX, "", "sha256", s_binary, sizeof s_binary,
                              0, 2, 2 };
    tasks [2] = (tm_task_t) { "job-1", 7, "id with spaces", "noop", NULL, 0,
                              UINT32_MAX, 1, 101 };
}

static void
s_results_fill (tm_result_t results [2])
{
    memset (results, 0, 2 * sizeof (tm_result_t));
    results [0] = (tm_result_t) { "job-1", 1, "a1", 1, TM_STATUS_OK, s_binary, sizeof s_binary,
                                  "", "host/123", 1700000000000000, 812, 0, TM_JSON_UNKNOWN };
    results [1] = (tm_result_t) { "job-1", 99, "b2", 3, TM_STATUS_TIMEOUT, NULL, 0,
                                  "ran past 10 ms", "worker-9", -5, 0, -9, TM_JSON_UNKNOWN };
}

static tm_decode_status_t
s_decode_tasks_frame (zframe_t *frame)
{
    tm_task_batch_t *batch = (tm_task_batch_t *) 1;
    tm_decode_status_t status = tm_codec_decode_tasks (zframe_data (frame),
                                                       zframe_size (frame), &batch);
    assert_true ((status == TM_DECODE_OK) == (batch != NULL));
    tm_task_batch_destroy (&batch);
    return status;
}

static tm_decode_status_t
s_decode_worker_frame (zframe_t *frame)
{
    tm_worker_msg_t *msg = (tm_worker_msg_t *) 1;
    tm_decode_status_t status = tm_codec_decode_worker_msg (zframe_data (frame),
                                                            zframe_size (frame), &msg);
    assert_true ((status == TM_DECODE_OK) == (msg != NULL));
    tm_worker_msg_destroy (&msg);
    return status;
}

static tm_decode_status_t
s_decode_credit_frame (zframe_t *frame)
{
    tm_credit_t credit;
    char worker_id [TM_MAX_WORKER_ID_BYTES + 1];
    return tm_codec_decode_credit (zframe_data (frame), zframe_size (frame), &credit,
                                   worker_id, sizeof worker_id);
}

static tm_credit_t
s_credit (void)
{
    return (tm_credit_t) {
        .worker_id = "host/42", .credit = 96, .threads = 8, .epoch = 3,
        .stamp = 1700000000123456ull, .draining = false
    };
}

static tm_heartbeat_t
s_heartbeat (void)
{
    return (tm_heartbeat_t) {
        .worker_id = "w", .host = "h", .pid = 1, .threads_total = 4, .job_id = "job-1",
        .incarnation = "incarnation-1"
    };
}

static tm_decode_status_t
s_decode_control_frame (zframe_t *frame)
{
    tm_control_kind_t kind;
    char job_id [TM_MAX_JOB_ID_BYTES + 1];
    return tm_codec_decode_control (zframe_data (frame), zframe_size (frame),
                                    &kind, job_id, sizeof job_id);
}

//  Sets the envelope's version, which the encoder writes first as 08 01.
static void
s_set_version (zframe_t *frame, uint8_t version)
{
    uint8_t *data = zframe_data (frame);
    assert_true (zframe_size (frame) >= 2);
    assert_int_equal (data [0], 0x08);
    assert_int_equal (data [1], TM_PROTOCOL_VERSION);
    data [1] = version;
}

//  --- round trips -----------------------------------------------------------------

static void
task_batch_round_trips_every_field (void **state)
{
    (void) state;
    tm_task_t tasks [3];
    s_tasks_fill (tasks);
    zframe_t *frame = tm_codec_encode_tasks (tasks, 3);
    tm_task_batch_t *batch = NULL;
    assert_int_equal (tm_codec_decode_tasks (zframe_data (frame), zframe_size (frame), &batch),
                      TM_DECODE_OK);
    assert_int_equal (tm_task_batch_size (batch), 3);
    for (size_t i = 0; i < 3; i++) {
        tm_task_t task;
        tm_task_batch_get (batch, i, &task);
        assert_string_equal (task.job_id, tasks [i].job_id);
        assert_true (task.seq == tasks [i].seq);
        assert_string_equal (task.id, tasks [i].id);
        assert_string_equal (task.type, tasks [i].type);
        assert_int_equal (task.payload_size, tasks [i].payload_size);
        if (task.payload_size)
            assert_memory_equal (task.payload, tasks [i].payload, task.payload_size);
        assert_int_equal (task.timeout_ms, tasks [i].timeout_ms);
        assert_int_equal (task.attempt, tasks [i].attempt);
        assert_int_equal (task.max_attempts, tasks [i].max_attempts);
    }
    tm_task_batch_destroy (&batch);
    assert_null (batch);
    tm_task_batch_destroy (&batch);
    zframe_destroy (&frame);
}

static void
large_payload_round_trips (void **state)
{
    (void) state;
    size_t size = 8 * 1024 * 1024;
    uint8_t *payload = (uint8_t *) malloc (size);
    for (size_t i = 0; i < size; i++)
        payload [i] = (uint8_t) (i * 31);
    tm_task_t task = { "job-1", 1, "big", "sha256", payload, size, 0, 1, 1 };
    zframe_t *frame = tm_codec_encode_tasks (&task, 1);
    tm_task_batch_t *batch = NULL;
    assert_int_equal (tm_codec_decode_tasks (zframe_data (frame), zframe_size (frame), &batch),
                      TM_DECODE_OK);
    tm_task_t decoded;
    tm_task_batch_get (batch, 0, &decoded);
    assert_int_equal (decoded.payload_size, size);
    assert_memory_equal (decoded.payload, payload, size);
    tm_task_batch_destroy (&batch);
    zframe_destroy (&frame);
    free (payload);
}

static void
result_batch_round_trips_every_field (void **state)
{
    (void) state;
    tm_result_t results [2];
    s_results_fill (results);
    zframe_t *frame = tm_codec_encode_results (results, 2);
    tm_worker_msg_t *msg = NULL;
    assert_int_equal (tm_codec_decode_worker_msg (zframe_data (frame), zframe_size (frame), &msg),
                      TM_DECODE_OK);
    assert_false (tm_worker_msg_is_heartbeat (msg));
    assert_int_equal (tm_worker_msg_result_count (msg), 2);
    for (size_t i = 0; i < 2; i++) {
        tm_result_t result;
        tm_worker_msg_result (msg, i, &result);
        assert_string_equal (result.job_id, results [i].job_id);
        assert_true (result.seq == results [i].seq);
        assert_string_equal (result.id, results [i].id);
        assert_int_equal (result.attempt, results [i].attempt);
        assert_int_equal (result.status, results [i].status);
        assert_int_equal (result.output_size, results [i].output_size);
        if (result.output_size)
            assert_memory_equal (result.output, results [i].output, result.output_size);
        assert_string_equal (result.error, results [i].error);
        assert_string_equal (result.worker_id, results [i].worker_id);
        assert_true (result.start_us == results [i].start_us);
        assert_true (result.duration_us == results [i].duration_us);
        assert_int_equal (result.exit_code, results [i].exit_code);
    }
    tm_worker_msg_destroy (&msg);
    assert_null (msg);
    zframe_destroy (&frame);
}

static void
heartbeat_round_trips_with_held_seqs (void **state)
{
    (void) state;
    const uint64_t held [] = { 1, 2, 300, (uint64_t) 1 << 40, UINT64_MAX };
    const uint64_t running [] = { 300, UINT64_MAX, 2 };
    tm_heartbeat_t heartbeat = {
        .worker_id = "host/42", .host = "host", .pid = 42, .threads_busy = 3,
        .threads_total = 4, .tasks_done = 1234567, .held_seqs = held, .held_count = 5,
        .running_seqs = running, .running_count = 3, .job_id = "job-1", .draining = true,
        .last_batch = UINT64_MAX - 1, .incarnation = "Zq8-x_3#kP!0"
    };
    zframe_t *frame = tm_codec_encode_heartbeat (&heartbeat);
    tm_worker_msg_t *msg = NULL;
    assert_int_equal (tm_codec_decode_worker_msg (zframe_data (frame), zframe_size (frame), &msg),
                      TM_DECODE_OK);
    assert_true (tm_worker_msg_is_heartbeat (msg));
    assert_int_equal (tm_worker_msg_result_count (msg), 0);
    tm_heartbeat_t decoded;
    tm_worker_msg_heartbeat (msg, &decoded);
    assert_string_equal (decoded.worker_id, "host/42");
    assert_string_equal (decoded.host, "host");
    assert_int_equal (decoded.pid, 42);
    assert_int_equal (decoded.threads_busy, 3);
    assert_int_equal (decoded.threads_total, 4);
    assert_int_equal (decoded.tasks_done, 1234567);
    assert_int_equal (decoded.held_count, 5);
    assert_memory_equal (decoded.held_seqs, held, sizeof held);
    assert_int_equal (decoded.running_count, 3);
    assert_memory_equal (decoded.running_seqs, running, sizeof running);
    assert_string_equal (decoded.job_id, "job-1");
    assert_true (decoded.draining);
    assert_true (decoded.last_batch == UINT64_MAX - 1);
    assert_string_equal (decoded.incarnation, "Zq8-x_3#kP!0");
    tm_worker_msg_destroy (&msg);
    zframe_destroy (&frame);
}

static void
idle_heartbeat_round_trips_without_seqs (void **state)
{
    (void) state;
    tm_heartbeat_t heartbeat = { .worker_id = "w", .pid = 1 };
    zframe_t *frame = tm_codec_encode_heartbeat (&heartbeat);
    tm_worker_msg_t *msg = NULL;
    assert_int_equal (tm_codec_decode_worker_msg (zframe_data (frame), zframe_size (frame), &msg),
                      TM_DECODE_OK);
    tm_heartbeat_t decoded;
    tm_worker_msg_heartbeat (msg, &decoded);
    assert_int_equal (decoded.held_count, 0);
    assert_int_equal (decoded.running_count, 0);
    assert_string_equal (decoded.host, "");
    assert_string_equal (decoded.job_id, "");
    assert_string_equal (decoded.incarnation, "");
    assert_int_equal (decoded.last_batch, 0);
    assert_false (decoded.draining);
    tm_worker_msg_destroy (&msg);
    zframe_destroy (&frame);
}

static void
control_message_round_trips_every_kind (void **state)
{
    (void) state;
    for (int kind = TM_CONTROL_JOB_START; kind <= TM_CONTROL_SHUTDOWN; kind++) {
        zframe_t *frame = tm_codec_encode_control ((tm_control_kind_t) kind, "job-7");
        tm_control_kind_t decoded = 0;
        char job_id [TM_MAX_JOB_ID_BYTES + 1] = "";
        assert_int_equal (tm_codec_decode_control (zframe_data (frame), zframe_size (frame),
                                                   &decoded, job_id, sizeof job_id),
                          TM_DECODE_OK);
        assert_int_equal (decoded, kind);
        assert_string_equal (job_id, "job-7");
        zframe_destroy (&frame);
    }
    zframe_t *frame = tm_codec_encode_control (TM_CONTROL_DRAIN, NULL);
    assert_int_equal (s_decode_control_frame (frame), TM_DECODE_OK);
    zframe_destroy (&frame);
    //  The longest job id stays under what a worker's SUB takes.
    char job_id [TM_MAX_JOB_ID_BYTES + 1];
    memset (job_id, 'j', TM_MAX_JOB_ID_BYTES);
    job_id [TM_MAX_JOB_ID_BYTES] = 0;
    frame = tm_codec_encode_control (TM_CONTROL_SHUTDOWN, job_id);
    assert_true (zframe_size (frame) <= TM_MAX_CONTROL_FRAME_BYTES);
    zframe_destroy (&frame);
}

static void
task_batch_carries_its_job_id_number_and_credit_stamp (void **state)
{
    (void) state;
    tm_task_t tasks [3];
    s_tasks_fill (tasks);
    zframe_t *frame = tm_codec_encode_task_batch ("job-1", tasks, 3, 42, 1700000000654321ull);
    tm_task_batch_t *batch = NULL;
    assert_int_equal (tm_codec_decode_tasks (zframe_data (frame), zframe_size (frame), &batch),
                      TM_DECODE_OK);
    assert_int_equal (tm_task_batch_size (batch), 3);
    assert_int_equal (tm_task_batch_number (batch), 42);
    assert_true (tm_task_batch_credit_stamp (batch) == 1700000000654321ull);
    assert_string_equal (tm_task_batch_job_id (batch), "job-1");
    tm_task_batch_destroy (&batch);
    zframe_destroy (&frame);
    //  Unnumbered, as tools send it: number and stamp 0.
    frame = tm_codec_encode_tasks (tasks, 3);
    assert_int_equal (tm_codec_decode_tasks (zframe_data (frame), zframe_size (frame), &batch),
                      TM_DECODE_OK);
    assert_int_equal (tm_task_batch_number (batch), 0);
    assert_int_equal (tm_task_batch_credit_stamp (batch), 0);
    assert_string_equal (tm_task_batch_job_id (batch), "job-1");
    tm_task_batch_destroy (&batch);
    zframe_destroy (&frame);
}

static void
empty_task_batch_is_a_marker_with_its_job_id_and_number (void **state)
{
    (void) state;
    zframe_t *frame = tm_codec_encode_task_batch ("job-9", NULL, 0, 17, 99);
    //  The frame must not be read after this: the batch holds its own copy.
    tm_task_batch_t *batch = NULL;
    assert_int_equal (tm_codec_decode_tasks (zframe_data (frame), zframe_size (frame), &batch),
                      TM_DECODE_OK);
    zframe_destroy (&frame);
    assert_int_equal (tm_task_batch_size (batch), 0);
    assert_int_equal (tm_task_batch_number (batch), 17);
    assert_int_equal (tm_task_batch_credit_stamp (batch), 99);
    assert_string_equal (tm_task_batch_job_id (batch), "job-9");
    tm_task_batch_destroy (&batch);
    //  A marker names its job: one of no job (all tm_codec_encode_tasks
    //  can make of no tasks) is invalid.
    frame = tm_codec_encode_tasks (NULL, 0);
    assert_int_equal (s_decode_tasks_frame (frame), TM_DECODE_INVALID);
    zframe_destroy (&frame);
    frame = tm_codec_encode_task_batch ("", NULL, 0, 3, 0);
    assert_int_equal (s_decode_tasks_frame (frame), TM_DECODE_INVALID);
    zframe_destroy (&frame);
    //  Its job id is bounded like any other.
    char long_id [TM_MAX_JOB_ID_BYTES + 2];
    memset (long_id, 'j', sizeof long_id - 1);
    long_id [sizeof long_id - 1] = 0;
    frame = tm_codec_encode_task_batch (long_id, NULL, 0, 1, 0);
    assert_int_equal (s_decode_tasks_frame (frame), TM_DECODE_INVALID);
    zframe_destroy (&frame);
    long_id [TM_MAX_JOB_ID_BYTES] = 0;
    frame = tm_codec_encode_task_batch (long_id, NULL, 0, 1, 0);
    assert_int_equal (s_decode_tasks_frame (frame), TM_DECODE_OK);
    zframe_destroy (&frame);
}

static void
batch_of_max_batch_tasks_decodes_and_one_more_is_invalid (void **state)
{
    (void) state;
    tm_task_t *tasks = (tm_task_t *) calloc (TM_MAX_BATCH_TASKS + 1, sizeof (tm_task_t));
    assert_non_null (tasks);
    for (size_t i = 0; i <= TM_MAX_BATCH_TASKS; i++)
        tasks [i] = (tm_task_t) { "job-1", i + 1, "", "noop", NULL, 0, 0, 1, 1 };
    zframe_t *frame = tm_codec_encode_task_batch ("job-1", tasks, TM_MAX_BATCH_TASKS, 1, 0);
    tm_task_batch_t *batch = NULL;
    assert_int_equal (tm_codec_decode_tasks (zframe_data (frame), zframe_size (frame), &batch),
                      TM_DECODE_OK);
    assert_int_equal (tm_task_batch_size (batch), TM_MAX_BATCH_TASKS);
    tm_task_t last;
    tm_task_batch_get (batch, TM_MAX_BATCH_TASKS - 1, &last);
    assert_int_equal (last.seq, TM_MAX_BATCH_TASKS);
    tm_task_batch_destroy (&batch);
    zframe_destroy (&frame);
    //  One more than a worker's queue is sure to hold.
    frame = tm_codec_encode_task_batch ("job-1", tasks, TM_MAX_BATCH_TASKS + 1, 2, 0);
    assert_int_equal (s_decode_tasks_frame (frame), TM_DECODE_INVALID);
    zframe_destroy (&frame);
    free (tasks);
}

static void
credit_round_trips_every_field (void **state)
{
    (void) state;
    const tm_credit_t credits [] = {
        s_credit (),
        { "w", 0, 0, 1, 0, true },                          //  nothing now, draining
        { "host/9", TM_MAX_CREDIT, TM_MAX_THREADS, UINT64_MAX, UINT64_MAX, false },
    };
    for (size_t i = 0; i < sizeof credits / sizeof credits [0]; i++) {
        zframe_t *frame = tm_codec_encode_credit (&credits [i]);
        tm_credit_t decoded;
        memset (&decoded, 0xa5, sizeof decoded);
        char worker_id [TM_MAX_WORKER_ID_BYTES + 1];
        assert_int_equal (tm_codec_decode_credit (zframe_data (frame), zframe_size (frame),
                                                  &decoded, worker_id, sizeof worker_id),
                          TM_DECODE_OK);
        zframe_destroy (&frame);
        //  The worker id was copied into our buffer, not borrowed.
        assert_ptr_equal (decoded.worker_id, worker_id);
        assert_string_equal (decoded.worker_id, credits [i].worker_id);
        assert_int_equal (decoded.credit, credits [i].credit);
        assert_int_equal (decoded.threads, credits [i].threads);
        assert_true (decoded.epoch == credits [i].epoch);
        assert_true (decoded.stamp == credits [i].stamp);
        assert_int_equal (decoded.draining, credits [i].draining);
    }
}

static void
credit_with_the_longest_worker_id_round_trips (void **state)
{
    (void) state;
    char long_id [TM_MAX_WORKER_ID_BYTES + 1];
    memset (long_id, 'w', TM_MAX_WORKER_ID_BYTES);
    long_id [TM_MAX_WORKER_ID_BYTES] = 0;
    tm_credit_t credit = s_credit ();
    credit.worker_id = long_id;
    //  With the widest numbers too it stays under what the master's tasks
    //  socket takes (a larger frame drops the connection).
    tm_credit_t widest = credit;
    widest.credit = widest.threads = UINT32_MAX;
    widest.epoch = widest.stamp = UINT64_MAX;
    zframe_t *frame = tm_codec_encode_credit (&widest);
    assert_true (zframe_size (frame) <= TM_MAX_CREDIT_FRAME_BYTES);
    zframe_destroy (&frame);
    frame = tm_codec_encode_credit (&credit);
    tm_credit_t decoded;
    char worker_id [TM_MAX_WORKER_ID_BYTES + 1];
    assert_int_equal (tm_codec_decode_credit (zframe_data (frame), zframe_size (frame), &decoded,
                                              worker_id, sizeof worker_id), TM_DECODE_OK);
    assert_string_equal (worker_id, long_id);
    zframe_destroy (&frame);
    //  One byte longer is out of range.
    char longer [TM_MAX_WORKER_ID_BYTES + 2];
    memset (longer, 'w', TM_MAX_WORKER_ID_BYTES + 1);
    longer [TM_MAX_WORKER_ID_BYTES + 1] = 0;
    credit.worker_id = longer;
    frame = tm_codec_encode_credit (&credit);
    assert_int_equal (s_decode_credit_frame (frame), TM_DECODE_INVALID);
    zframe_destroy (&frame);
}

//  --- refused input ------------------------------------------------------------------

static void
truncated_frames_are_refused (void **state)
{
    (void) state;
    tm_task_t tasks [3];
    s_tasks_fill (tasks);
    tm_result_t results [2];
    s_results_fill (results);
    const uint64_t held [] = { 5, 6, 7 };
    tm_heartbeat_t heartbeat = s_heartbeat ();
    heartbeat.held_seqs = held;
    heartbeat.held_count = 3;
    heartbeat.running_seqs = held;
    heartbeat.running_count = 1;
    tm_credit_t credit = s_credit ();
    zframe_t *frames [5] = {
        tm_codec_encode_tasks (tasks, 3),
        tm_codec_encode_results (results, 2),
        tm_codec_encode_control (TM_CONTROL_JOB_END, "job-1"),
        tm_codec_encode_heartbeat (&heartbeat),
        tm_codec_encode_credit (&credit)
    };
    for (size_t f = 0; f < 5; f++) {
        //  Every proper prefix: empty (version 0), the version alone (no
        //  body) or a body cut short. None may decode as OK.
        for (size_t size = 0; size < zframe_size (frames [f]); size++) {
            zframe_t *prefix = zframe_new (zframe_data (frames [f]), size);
            tm_decode_status_t status = f == 0 ? s_decode_tasks_frame (prefix)
                                      : f == 1 || f == 3 ? s_decode_worker_frame (prefix)
                                      : f == 2 ? s_decode_control_frame (prefix)
                                      : s_decode_credit_frame (prefix);
            if (status == TM_DECODE_OK)
                fail_msg ("frame %zu cut to %zu bytes decoded as OK", f, size);
            zframe_destroy (&prefix);
        }
        zframe_destroy (&frames [f]);
    }
}

static void
credit_cut_short_or_garbage_is_malformed (void **state)
{
    (void) state;
    tm_credit_t credit = s_credit ();
    zframe_t *frame = tm_codec_encode_credit (&credit);
    //  08 01 (version), then the body's tag and length: any cut after the
    //  tag leaves a field that claims more bytes than there are.
    for (size_t size = 3; size < zframe_size (frame); size++) {
        zframe_t *prefix = zframe_new (zframe_data (frame), size);
        if (s_decode_credit_frame (prefix) != TM_DECODE_MALFORMED)
            fail_msg ("credit cut to %zu bytes was not malformed", size);
        zframe_destroy (&prefix);
    }
    //  The version's tag alone, its value missing.
    zframe_t *prefix = zframe_new (zframe_data (frame), 1);
    assert_int_equal (s_decode_credit_frame (prefix), TM_DECODE_MALFORMED);
    zframe_destroy (&prefix);
    zframe_destroy (&frame);

    const char *garbage [] = {
        "not a protobuf message at all",                 //  'n': field 13, wire type 6
        "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff",  //  a varint that never ends
        "\x08\x01\x22\x7f\x0a",                          //  a body of 127 bytes, 1 there
        "\x08\x01\x22\x02\x0a\x05",                      //  a worker id past its body
    };
    for (size_t i = 0; i < sizeof garbage / sizeof garbage [0]; i++) {
        tm_credit_t decoded;
        char worker_id [TM_MAX_WORKER_ID_BYTES + 1];
        assert_int_equal (tm_codec_decode_credit (garbage [i], strlen (garbage [i]), &decoded,
                                                  worker_id, sizeof worker_id),
                          TM_DECODE_MALFORMED);
    }
}

static void
oversized_frame_is_too_big_before_parsing (void **state)
{
    (void) state;
    //  The size is checked before the bytes are read, so a small buffer
    //  with a large claimed size is safe here.
    uint8_t data [16] = { 0 };
    size_t size = (size_t) TM_MAX_FRAME_BYTES + 1;
    tm_task_batch_t *batch = NULL;
    assert_int_equal (tm_codec_decode_tasks (data, size, &batch), TM_DECODE_TOO_BIG);
    assert_null (batch);
    tm_worker_msg_t *msg = NULL;
    assert_int_equal (tm_codec_decode_worker_msg (data, size, &msg), TM_DECODE_TOO_BIG);
    assert_null (msg);
    tm_control_kind_t kind;
    char job_id [8];
    assert_int_equal (tm_codec_decode_control (data, size, &kind, job_id, sizeof job_id),
                      TM_DECODE_TOO_BIG);
    tm_credit_t credit;
    char worker_id [8];
    assert_int_equal (tm_codec_decode_credit (data, size, &credit, worker_id, sizeof worker_id),
                      TM_DECODE_TOO_BIG);
}

static void
other_protocol_version_is_refused (void **state)
{
    (void) state;
    tm_task_t tasks [3];
    s_tasks_fill (tasks);
    zframe_t *frame = tm_codec_encode_tasks (tasks, 3);
    s_set_version (frame, 2);
    assert_int_equal (s_decode_tasks_frame (frame), TM_DECODE_VERSION);
    zframe_destroy (&frame);

    tm_result_t results [2];
    s_results_fill (results);
    frame = tm_codec_encode_results (results, 2);
    s_set_version (frame, 2);
    assert_int_equal (s_decode_worker_frame (frame), TM_DECODE_VERSION);
    zframe_destroy (&frame);

    frame = tm_codec_encode_control (TM_CONTROL_DRAIN, "job-1");
    s_set_version (frame, 0);
    assert_int_equal (s_decode_control_frame (frame), TM_DECODE_VERSION);
    zframe_destroy (&frame);

    tm_heartbeat_t heartbeat = s_heartbeat ();
    frame = tm_codec_encode_heartbeat (&heartbeat);
    s_set_version (frame, 2);
    assert_int_equal (s_decode_worker_frame (frame), TM_DECODE_VERSION);
    zframe_destroy (&frame);

    tm_credit_t credit = s_credit ();
    frame = tm_codec_encode_credit (&credit);
    s_set_version (frame, 2);
    assert_int_equal (s_decode_credit_frame (frame), TM_DECODE_VERSION);
    zframe_destroy (&frame);
    frame = tm_codec_encode_credit (&credit);
    s_set_version (frame, 0);
    assert_int_equal (s_decode_credit_frame (frame), TM_DECODE_VERSION);
    zframe_destroy (&frame);
}

static void
frame_of_another_socket_is_refused (void **state)
{
    (void) state;
    tm_task_t tasks [3];
    s_tasks_fill (tasks);
    tm_result_t results [2];
    s_results_fill (results);
    tm_heartbeat_t heartbeat = s_heartbeat ();
    tm_credit_t credit = s_credit ();

    //  Results and tasks share field number 2 in their envelopes, so each
    //  parses as the other's body until its fields' types disagree.
    zframe_t *frame = tm_codec_encode_results (results, 2);
    assert_int_not_equal (s_decode_tasks_frame (frame), TM_DECODE_OK);
    assert_int_not_equal (s_decode_control_frame (frame), TM_DECODE_OK);
    zframe_destroy (&frame);
    frame = tm_codec_encode_tasks (tasks, 3);
    assert_int_not_equal (s_decode_worker_frame (frame), TM_DECODE_OK);
    assert_int_not_equal (s_decode_control_frame (frame), TM_DECODE_OK);
    zframe_destroy (&frame);
    //  A heartbeat's field 3 is unknown to the tasks envelope: no body.
    frame = tm_codec_encode_heartbeat (&heartbeat);
    assert_int_equal (s_decode_tasks_frame (frame), TM_DECODE_WRONG_KIND);
    assert_int_equal (s_decode_control_frame (frame), TM_DECODE_WRONG_KIND);
    zframe_destroy (&frame);
    frame = tm_codec_encode_control (TM_CONTROL_SHUTDOWN, "job-1");
    assert_int_not_equal (s_decode_tasks_frame (frame), TM_DECODE_OK);
    assert_int_not_equal (s_decode_worker_frame (frame), TM_DECODE_OK);
    assert_int_not_equal (s_decode_credit_frame (frame), TM_DECODE_OK);
    zframe_destroy (&frame);
    //  A Credit's field 4 is unknown to the tasks and control envelopes.
    frame = tm_codec_encode_credit (&credit);
    assert_int_equal (s_decode_tasks_frame (frame), TM_DECODE_WRONG_KIND);
    assert_int_equal (s_decode_control_frame (frame), TM_DECODE_WRONG_KIND);
    zframe_destroy (&frame);
    //  A task batch is no Credit.
    frame = tm_codec_encode_tasks (tasks, 3);
    assert_int_not_equal (s_decode_credit_frame (frame), TM_DECODE_OK);
    zframe_destroy (&frame);
}

static void
credit_and_results_socket_messages_are_the_wrong_kind_for_each_other (void **state)
{
    (void) state;
    //  Same envelope (WorkerToMaster), other socket: valid, but not taken here.
    tm_result_t results [2];
    s_results_fill (results);
    tm_heartbeat_t heartbeat = s_heartbeat ();
    tm_credit_t credit = s_credit ();
    zframe_t *frame = tm_codec_encode_results (results, 2);
    assert_int_equal (s_decode_credit_frame (frame), TM_DECODE_WRONG_KIND);
    zframe_destroy (&frame);
    frame = tm_codec_encode_heartbeat (&heartbeat);
    assert_int_equal (s_decode_credit_frame (frame), TM_DECODE_WRONG_KIND);
    zframe_destroy (&frame);
    frame = tm_codec_encode_credit (&credit);
    assert_int_equal (s_decode_worker_frame (frame), TM_DECODE_WRONG_KIND);
    zframe_destroy (&frame);
    //  An envelope with a version and no body at all.
    const uint8_t bare [] = { 0x08, TM_PROTOCOL_VERSION };
    tm_credit_t decoded;
    char worker_id [TM_MAX_WORKER_ID_BYTES + 1];
    assert_int_equal (tm_codec_decode_credit (bare, sizeof bare, &decoded, worker_id,
                                              sizeof worker_id), TM_DECODE_WRONG_KIND);
}

static void
credit_out_of_range_is_invalid (void **state)
{
    (void) state;
    tm_credit_t bad [6];
    for (size_t i = 0; i < 6; i++)
        bad [i] = s_credit ();
    bad [0].credit = TM_MAX_CREDIT + 1;
    bad [1].credit = UINT32_MAX;
    bad [2].threads = TM_MAX_THREADS + 1;
    bad [3].epoch = 0;
    bad [4].worker_id = "";
    bad [5].worker_id = NULL;                   //  packed as absent
    for (size_t i = 0; i < 6; i++) {
        zframe_t *frame = tm_codec_encode_credit (&bad [i]);
        if (s_decode_credit_frame (frame) != TM_DECODE_INVALID)
            fail_msg ("bad credit %zu was not invalid", i);
        zframe_destroy (&frame);
    }
    //  The limits themselves are in range.
    tm_credit_t limits = s_credit ();
    limits.credit = TM_MAX_CREDIT;
    limits.threads = TM_MAX_THREADS;
    limits.epoch = 1;
    zframe_t *frame = tm_codec_encode_credit (&limits);
    assert_int_equal (s_decode_credit_frame (frame), TM_DECODE_OK);
    zframe_destroy (&frame);
}

static void
task_out_of_range_is_invalid (void **state)
{
    (void) state;
    tm_task_t bad [] = {
        { "job-1", 0, "a", "echo", NULL, 0, 0, 1, 1 },      //  seq 0
        { "job-1", 1, "a", "", NULL, 0, 0, 1, 1 },          //  empty type
        { "", 1, "a", "echo", NULL, 0, 0, 1, 1 },           //  empty job id
        { "job-1", 1, "a", "echo", NULL, 0, 0, 0, 1 },      //  attempt 0
        { "job-1", 1, "a", "echo", NULL, 0, 0, 3, 2 },      //  attempt past max
    };
    char long_type [TM_MAX_TYPE_BYTES + 2];
    memset (long_type, 't', sizeof long_type - 1);
    long_type [sizeof long_type - 1] = 0;
    tm_task_t too_long = { "job-1", 1, "a", long_type, NULL, 0, 0, 1, 1 };
    for (size_t i = 0; i <= sizeof bad / sizeof bad [0]; i++) {
        tm_task_t batch [2] = { { "job-1", 5, "ok", "echo", NULL, 0, 0, 1, 1 } };
        batch [1] = i < sizeof bad / sizeof bad [0] ? bad [i] : too_long;
        //  One bad task spoils the batch it travels in.
        zframe_t *frame = tm_codec_encode_tasks (batch, 2);
        assert_int_equal (s_decode_tasks_frame (frame), TM_DECODE_INVALID);
        zframe_destroy (&frame);
    }
}

static void
result_out_of_range_is_invalid (void **state)
{
    (void) state;
    tm_result_t results [2];
    s_results_fill (results);
    const tm_status_t statuses [] = { (tm_status_t) 0, (tm_status_t) 6, (tm_status_t) 9 };
    for (size_t i = 0; i < 3; i++) {
        results [1].status = statuses [i];
        zframe_t *frame = tm_codec_encode_results (results, 2);
        assert_int_equal (s_decode_worker_frame (frame), TM_DECODE_INVALID);
        zframe_destroy (&frame);
    }
    s_results_fill (results);
    results [0].seq = 0;
    zframe_t *frame = tm_codec_encode_results (results, 2);
    assert_int_equal (s_decode_worker_frame (frame), TM_DECODE_INVALID);
    zframe_destroy (&frame);
    s_results_fill (results);
    results [0].duration_us = -1;
    frame = tm_codec_encode_results (results, 2);
    assert_int_equal (s_decode_worker_frame (frame), TM_DECODE_INVALID);
    zframe_destroy (&frame);
}

static void
empty_result_batch_is_invalid (void **state)
{
    (void) state;
    zframe_t *frame = tm_codec_encode_results (NULL, 0);
    assert_int_equal (s_decode_worker_frame (frame), TM_DECODE_INVALID);
    zframe_destroy (&frame);
}

static void
heartbeat_out_of_range_is_invalid (void **state)
{
    (void) state;
    tm_heartbeat_t busy = s_heartbeat ();
    busy.threads_busy = 5;
    zframe_t *frame = tm_codec_encode_heartbeat (&busy);
    assert_int_equal (s_decode_worker_frame (frame), TM_DECODE_INVALID);
    zframe_destroy (&frame);
    tm_heartbeat_t anonymous = s_heartbeat ();
    anonymous.worker_id = "";
    frame = tm_codec_encode_heartbeat (&anonymous);
    assert_int_equal (s_decode_worker_frame (frame), TM_DECODE_INVALID);
    zframe_destroy (&frame);

    size_t count = TM_MAX_HELD_SEQS + 1;
    uint64_t *held = (uint64_t *) calloc (count, sizeof (uint64_t));
    for (size_t i = 0; i < count; i++)
        held [i] = i + 1;
    tm_heartbeat_t hoarder = s_heartbeat ();
    hoarder.held_seqs = held;
    hoarder.held_count = count;
    frame = tm_codec_encode_heartbeat (&hoarder);
    assert_int_equal (s_decode_worker_frame (frame), TM_DECODE_INVALID);
    zframe_destroy (&frame);
    hoarder.held_count = TM_MAX_HELD_SEQS;
    frame = tm_codec_encode_heartbeat (&hoarder);
    assert_int_equal (s_decode_worker_frame (frame), TM_DECODE_OK);
    zframe_destroy (&frame);
    free (held);
}

static void
heartbeat_past_thread_running_or_incarnation_limits_is_invalid (void **state)
{
    (void) state;
    const uint64_t seqs [] = { 1, 2, 3 };
    tm_heartbeat_t threads = s_heartbeat ();
    threads.threads_total = TM_MAX_THREADS + 1;
    zframe_t *frame = tm_codec_encode_heartbeat (&threads);
    assert_int_equal (s_decode_worker_frame (frame), TM_DECODE_INVALID);
    zframe_destroy (&frame);
    threads.threads_total = TM_MAX_THREADS;
    threads.threads_busy = TM_MAX_THREADS;
    frame = tm_codec_encode_heartbeat (&threads);
    assert_int_equal (s_decode_worker_frame (frame), TM_DECODE_OK);
    zframe_destroy (&frame);

    //  More seqs running than held.
    tm_heartbeat_t running = s_heartbeat ();
    running.held_seqs = seqs;
    running.held_count = 2;
    running.running_seqs = seqs;
    running.running_count = 3;
    frame = tm_codec_encode_heartbeat (&running);
    assert_int_equal (s_decode_worker_frame (frame), TM_DECODE_INVALID);
    zframe_destroy (&frame);
    running.held_count = 3;
    frame = tm_codec_encode_heartbeat (&running);
    assert_int_equal (s_decode_worker_frame (frame), TM_DECODE_OK);
    zframe_destroy (&frame);

    char incarnation [TM_MAX_INCARNATION_BYTES + 2];
    memset (incarnation, 'i', sizeof incarnation - 1);
    incarnation [sizeof incarnation - 1] = 0;
    tm_heartbeat_t named = s_heartbeat ();
    named.incarnation = incarnation;
    frame = tm_codec_encode_heartbeat (&named);
    assert_int_equal (s_decode_worker_frame (frame), TM_DECODE_INVALID);
    zframe_destroy (&frame);
    incarnation [TM_MAX_INCARNATION_BYTES] = 0;
    frame = tm_codec_encode_heartbeat (&named);
    assert_int_equal (s_decode_worker_frame (frame), TM_DECODE_OK);
    zframe_destroy (&frame);
}

static void
control_out_of_range_is_invalid (void **state)
{
    (void) state;
    zframe_t *frame = tm_codec_encode_control ((tm_control_kind_t) 9, "job-1");
    assert_int_equal (s_decode_control_frame (frame), TM_DECODE_INVALID);
    zframe_destroy (&frame);
    frame = tm_codec_encode_control ((tm_control_kind_t) 0, "job-1");
    assert_int_equal (s_decode_control_frame (frame), TM_DECODE_INVALID);
    zframe_destroy (&frame);
    char long_id [TM_MAX_JOB_ID_BYTES + 2];
    memset (long_id, 'j', sizeof long_id - 1);
    long_id [sizeof long_id - 1] = 0;
    frame = tm_codec_encode_control (TM_CONTROL_JOB_START, long_id);
    assert_int_equal (s_decode_control_frame (frame), TM_DECODE_INVALID);
    zframe_destroy (&frame);
}

//  xorshift64: a fixed sequence, so a failure can be replayed.
static uint64_t
s_random (uint64_t *seed)
{
    uint64_t x = *seed;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *seed = x;
}

//  Reads everything an OK message offers, so a sanitizer sees any bad view.
static void
s_touch_worker_msg (tm_worker_msg_t *msg)
{
    if (tm_worker_msg_is_heartbeat (msg)) {
        tm_heartbeat_t heartbeat;
        tm_worker_msg_heartbeat (msg, &heartbeat);
        assert_true (strlen (heartbeat.worker_id) > 0);
        assert_true (strlen (heartbeat.incarnation) <= TM_MAX_INCARNATION_BYTES);
        assert_true (heartbeat.running_count <= heartbeat.held_count);
        uint64_t sum = 0;
        for (size_t i = 0; i < heartbeat.held_count; i++)
            sum += heartbeat.held_seqs [i];
        for (size_t i = 0; i < heartbeat.running_count; i++)
            sum += heartbeat.running_seqs [i];
        (void) sum;
        return;
    }
    for (size_t i = 0; i < tm_worker_msg_result_count (msg); i++) {
        tm_result_t result;
        tm_worker_msg_result (msg, i, &result);
        assert_true (result.status >= TM_STATUS_MIN && result.status <= TM_STATUS_MAX);
        assert_true (strlen (result.error) <= TM_MAX_ERROR_BYTES);
    }
}

static void
s_decode_all (const uint8_t *data, size_t size)
{
    tm_task_batch_t *batch = NULL;
    if (tm_codec_decode_tasks (data, size, &batch) == TM_DECODE_OK) {
        for (size_t i = 0; i < tm_task_batch_size (batch); i++) {
            tm_task_t task;
            tm_task_batch_get (batch, i, &task);
            assert_true (task.seq > 0 && strlen (task.type) > 0);
        }
    }
    tm_task_batch_destroy (&batch);
    tm_worker_msg_t *msg = NULL;
    if (tm_codec_decode_worker_msg (data, size, &msg) == TM_DECODE_OK)
        s_touch_worker_msg (msg);
    tm_worker_msg_destroy (&msg);
    tm_control_kind_t kind;
    char job_id [TM_MAX_JOB_ID_BYTES + 1];
    tm_codec_decode_control (data, size, &kind, job_id, sizeof job_id);
    tm_credit_t credit;
    char worker_id [TM_MAX_WORKER_ID_BYTES + 1];
    if (tm_codec_decode_credit (data, size, &credit, worker_id, sizeof worker_id) == TM_DECODE_OK) {
        assert_ptr_equal (credit.worker_id, worker_id);
        assert_true (strlen (worker_id) > 0 && strlen (worker_id) <= TM_MAX_WORKER_ID_BYTES);
        assert_true (credit.credit <= TM_MAX_CREDIT && credit.epoch > 0);
    }
}

static void
random_garbage_never_crashes (void **state)
{
    (void) state;
    uint64_t seed = 0x7a5c3111ull;
    uint8_t buffer [600];
    for (int round = 0; round < 5000; round++) {
        size_t size = (size_t) (s_random (&seed) % sizeof buffer);
        for (size_t i = 0; i < size; i++)
            buffer [i] = (uint8_t) s_random (&seed);
        //  Half the rounds start like a real envelope, to get past the
        //  version check into the bodies.
        if (round % 2 && size >= 3) {
            buffer [0] = 0x08;
            buffer [1] = TM_PROTOCOL_VERSION;
            buffer [2] = (uint8_t) (round % 3 == 0 ? 0x12 : round % 3 == 1 ? 0x1a : 0x22);
        }
        s_decode_all (buffer, size);
    }
}

static void
mutated_frames_never_crash (void **state)
{
    (void) state;
    tm_task_t tasks [3];
    s_tasks_fill (tasks);
    tm_result_t results [2];
    s_results_fill (results);
    const uint64_t held [] = { 3, 4 };
    tm_heartbeat_t heartbeat = s_heartbeat ();
    heartbeat.held_seqs = held;
    heartbeat.held_count = 2;
    heartbeat.running_seqs = held;
    heartbeat.running_count = 1;
    tm_credit_t credit = s_credit ();
    zframe_t *frames [4] = {
        tm_codec_encode_tasks (tasks, 3),
        tm_codec_encode_results (results, 2),
        tm_codec_encode_heartbeat (&heartbeat),
        tm_codec_encode_credit (&credit)
    };
    uint64_t seed = 0x5eed;
    for (int round = 0; round < 4000; round++) {
        zframe_t *frame = zframe_dup (frames [round % 4]);
        uint8_t *data = zframe_data (frame);
        size_t size = zframe_size (frame);
        for (int flips = 1 + (int) (s_random (&seed) % 4); flips > 0; flips--)
            data [s_random (&seed) % size] = (uint8_t) s_random (&seed);
        s_decode_all (data, size);
        zframe_destroy (&frame);
    }
    for (size_t f = 0; f < 4; f++)
        zframe_destroy (&frames [f]);
}

//  --- memory: what unpacking may allocate ------------------------------------------

//  Version 1, then field 2 holding n empty elements of its field 1: a batch
//  of n empty Tasks or n empty Results, 2 bytes each on the wire and over
//  100 in memory. Caller frees.
static uint8_t *
s_empty_elements_frame (size_t n, size_t *size)
{
    uint8_t *data = (uint8_t *) malloc (2 * n + 16);
    assert_non_null (data);
    size_t at = 0;
    data [at++] = 0x08;
    data [at++] = TM_PROTOCOL_VERSION;
    data [at++] = 0x12;
    for (uint64_t length = 2 * n; ; length >>= 7) {
        data [at++] = (uint8_t) ((length & 0x7F) | (length >= 0x80 ? 0x80 : 0));
        if (length < 0x80)
            break;
    }
    for (size_t i = 0; i < n; i++) {
        data [at++] = 0x0a;
        data [at++] = 0x00;
    }
    *size = at;
    return data;
}

static void
frame_that_would_unpack_far_past_its_size_is_malformed (void **state)
{
    (void) state;
    //  400 KB that would take over 24 MB, past the budget of 32 times the
    //  frame plus 1 MiB: refused while unpacking, before any field check.
    size_t size;
    uint8_t *data = s_empty_elements_frame (200000, &size);
    tm_worker_msg_t *msg = (tm_worker_msg_t *) 1;
    assert_int_equal (tm_codec_decode_worker_msg (data, size, &msg), TM_DECODE_MALFORMED);
    assert_null (msg);
    tm_task_batch_t *batch = (tm_task_batch_t *) 1;
    assert_int_equal (tm_codec_decode_tasks (data, size, &batch), TM_DECODE_MALFORMED);
    assert_null (batch);
    free (data);
    //  The same shape, small, unpacks within budget and fails its checks.
    data = s_empty_elements_frame (1000, &size);
    assert_int_equal (tm_codec_decode_worker_msg (data, size, &msg), TM_DECODE_INVALID);
    assert_int_equal (tm_codec_decode_tasks (data, size, &batch), TM_DECODE_INVALID);
    free (data);
}

//  Sizes of payloads and outputs that fill the first block, need further
//  blocks, or are big enough for a block of their own.
static const size_t s_sizes [] = { 0, 1, 7, 8, 9, 300, 5000, 70000, 300000 };
#define S_SIZES (sizeof s_sizes / sizeof s_sizes [0])
#define S_MANY TM_MAX_BATCH_TASKS

static uint8_t *
s_pattern_new (void)
{
    uint8_t *bytes = (uint8_t *) malloc (s_sizes [S_SIZES - 1] + S_SIZES);
    assert_non_null (bytes);
    for (size_t i = 0; i < s_sizes [S_SIZES - 1] + S_SIZES; i++)
        bytes [i] = (uint8_t) (i * 131 + 7);
    return bytes;
}

static void
batches_of_every_size_round_trip (void **state)
{
    (void) state;
    uint8_t *bytes = s_pattern_new ();
    char ids [S_MANY][16];
    tm_task_t tasks [S_MANY];
    tm_result_t results [S_MANY];
    for (size_t i = 0; i < S_MANY; i++) {
        snprintf (ids [i], sizeof ids [i], "i%zu", i);
        const uint8_t *data = bytes + i % S_SIZES;
        size_t size = s_sizes [i % S_SIZES];
        tasks [i] = (tm_task_t) { "job-1", i + 1, ids [i], "echo", data, size, (uint32_t) i, 1, 3 };
        results [i] = (tm_result_t) { "job-1", i + 1, ids [i], 1, TM_STATUS_OK, data, size,
                                      "", "host/1", (int64_t) i, (int64_t) i, (int32_t) i,
                                      TM_JSON_UNKNOWN };
    }
    zframe_t *task_frame = tm_codec_encode_tasks (tasks, S_MANY);
    zframe_t *result_frame = tm_codec_encode_results (results, S_MANY);
    tm_task_batch_t *batch = NULL;
    assert_int_equal (tm_codec_decode_tasks (zframe_data (task_frame), zframe_size (task_frame),
                                             &batch), TM_DECODE_OK);
    tm_worker_msg_t *msg = NULL;
    assert_int_equal (tm_codec_decode_worker_msg (zframe_data (result_frame),
                                                  zframe_size (result_frame), &msg), TM_DECODE_OK);
    //  The views must not borrow from the frames.
    zframe_destroy (&task_frame);
    zframe_destroy (&result_frame);
    assert_int_equal (tm_task_batch_size (batch), S_MANY);
    assert_int_equal (tm_worker_msg_result_count (msg), S_MANY);
    for (size_t i = 0; i < S_MANY; i++) {
        tm_task_t task;
        tm_task_batch_get (batch, i, &task);
        tm_result_t result;
        tm_worker_msg_result (msg, i, &result);
        assert_true (task.seq == i + 1 && result.seq == i + 1);
        assert_string_equal (task.id, ids [i]);
        assert_string_equal (result.id, ids [i]);
        assert_string_equal (task.type, "echo");
        assert_string_equal (result.worker_id, "host/1");
        assert_int_equal (task.timeout_ms, i);
        assert_int_equal (result.exit_code, i);
        assert_int_equal (task.payload_size, s_sizes [i % S_SIZES]);
        assert_int_equal (result.output_size, s_sizes [i % S_SIZES]);
        if (task.payload_size) {
            assert_memory_equal (task.payload, bytes + i % S_SIZES, task.payload_size);
            assert_memory_equal (result.output, bytes + i % S_SIZES, result.output_size);
        }
    }
    tm_task_batch_destroy (&batch);
    tm_worker_msg_destroy (&msg);
    free (bytes);
}

static void
widest_numbers_and_empty_strings_encode_within_bounds (void **state)
{
    (void) state;
    //  Every number at its longest encoding and every string empty or NULL,
    //  so the encoders' size bound has no string bytes to hide a shortfall
    //  (the codec asserts the packed size is within it; checked with a bound
    //  of 3 bytes a field). NULL strings are packed as absent.
    tm_task_t task = { NULL, UINT64_MAX, NULL, NULL, NULL, 0, UINT32_MAX, UINT32_MAX, UINT32_MAX };
    zframe_t *frame = tm_codec_encode_tasks (&task, 1);
    assert_int_equal (s_decode_tasks_frame (frame), TM_DECODE_INVALID);
    zframe_destroy (&frame);
    frame = tm_codec_encode_task_batch (NULL, &task, 1, UINT64_MAX, UINT64_MAX);  //  widest numbers
    assert_int_equal (s_decode_tasks_frame (frame), TM_DECODE_INVALID);
    zframe_destroy (&frame);
    tm_task_t named = { "job", 9, "id", "noop", NULL, 0, 0, 1, 1 };
    frame = tm_codec_encode_task_batch ("", &named, 1, UINT64_MAX, UINT64_MAX);
    tm_task_batch_t *batch = NULL;
    assert_int_equal (tm_codec_decode_tasks (zframe_data (frame), zframe_size (frame), &batch),
                      TM_DECODE_OK);
    assert_true (tm_task_batch_number (batch) == UINT64_MAX);
    assert_true (tm_task_batch_credit_stamp (batch) == UINT64_MAX);
    tm_task_batch_destroy (&batch);
    zframe_destroy (&frame);
    tm_result_t result = { NULL, UINT64_MAX, NULL, UINT32_MAX, (tm_status_t) -1, NULL, 0,
                           NULL, NULL, INT64_MIN, INT64_MIN, INT32_MIN, TM_JSON_UNKNOWN };
    frame = tm_codec_encode_results (&result, 1);
    assert_int_equal (s_decode_worker_frame (frame), TM_DECODE_INVALID);
    zframe_destroy (&frame);

    result = (tm_result_t) { "j", UINT64_MAX, "", UINT32_MAX, TM_STATUS_REJECTED, NULL, 0,
                             "", "w", INT64_MIN, INT64_MAX, INT32_MIN, TM_JSON_UNKNOWN };
    frame = tm_codec_encode_results (&result, 1);
    tm_worker_msg_t *msg = NULL;
    assert_int_equal (tm_codec_decode_worker_msg (zframe_data (frame), zframe_size (frame), &msg),
                      TM_DECODE_OK);
    tm_result_t decoded;
    tm_worker_msg_result (msg, 0, &decoded);
    assert_true (decoded.seq == UINT64_MAX);
    assert_true (decoded.attempt == UINT32_MAX);
    assert_int_equal (decoded.status, TM_STATUS_REJECTED);
    assert_true (decoded.start_us == INT64_MIN);
    assert_true (decoded.duration_us == INT64_MAX);
    assert_true (decoded.exit_code == INT32_MIN);
    tm_worker_msg_destroy (&msg);
    zframe_destroy (&frame);
}

static void
status_names_cover_every_code (void **state)
{
    (void) state;
    assert_string_equal (tm_decode_status_name (TM_DECODE_OK), "ok");
    assert_string_equal (tm_decode_status_name (TM_DECODE_INVALID), "invalid");
    assert_string_equal (tm_decode_status_name (TM_DECODE_COUNT), "unknown");
    assert_string_equal (tm_status_name (TM_STATUS_NO_HANDLER), "no_handler");
    assert_string_equal (tm_status_name ((tm_status_t) 9), "unknown");
}

//  --- tasks packed ahead ---------------------------------------------------------------

static void
packed_batches_are_the_bytes_protobuf_c_packs (void **state)
{
    (void) state;
    uint8_t *bytes = s_pattern_new ();
    static const uint64_t seqs [] = { 1, 127, 128, 300, UINT32_MAX, UINT64_MAX };
    static const uint32_t numbers [] = { 0, 1, 127, 128, 16384, UINT32_MAX };
    static const char *strings [] = { "", "a1", "id with spaces", "x" };
    uint64_t seed = 0xba7c4;
    for (int round = 0; round < 400; round++) {
        size_t count = (size_t) (s_random (&seed) % 5);
        if (round == 0)
            count = TM_MAX_BATCH_TASKS;
        tm_task_t tasks [TM_MAX_BATCH_TASKS];
        tm_packed_task_t packed [TM_MAX_BATCH_TASKS];
        uint8_t *storage [TM_MAX_BATCH_TASKS];
        const char *job_id = round % 7 ? "job-1" : "";
        for (size_t i = 0; i < count; i++) {
            size_t size = s_sizes [s_random (&seed) % S_SIZES];
            tasks [i] = (tm_task_t) {
                .job_id = job_id, .seq = seqs [s_random (&seed) % 6],
                .id = strings [s_random (&seed) % 4], .type = round % 3 ? "echo" : "sha256",
                .payload = size ? bytes : NULL, .payload_size = size,
                .timeout_ms = numbers [s_random (&seed) % 6],
                .attempt = numbers [s_random (&seed) % 6],
                .max_attempts = numbers [s_random (&seed) % 6]
            };
            size_t packed_size = tm_codec_packed_task_size (&tasks [i]);
            storage [i] = (uint8_t *) malloc (packed_size + 1);
            size_t payload_at = tm_codec_pack_task (&tasks [i], storage [i]);
            assert_int_equal (payload_at + size, packed_size);
            if (size)
                assert_memory_equal (storage [i] + payload_at, bytes, size);
            packed [i] = (tm_packed_task_t) {
                .packed = storage [i], .packed_size = packed_size,
                .timeout_ms = tasks [i].timeout_ms, .attempt = tasks [i].attempt,
                .max_attempts = tasks [i].max_attempts
            };
        }
        uint64_t number = seqs [s_random (&seed) % 6] - (round % 2);
        uint64_t stamp = round % 5 ? seqs [s_random (&seed) % 6] : 0;
        zframe_t *expected = tm_codec_encode_task_batch (job_id, tasks, count, number, stamp);
        zmq_msg_t frame;
        tm_codec_encode_packed_batch (job_id, packed, count, number, stamp, &frame);
        assert_int_equal (zmq_msg_size (&frame), zframe_size (expected));
        assert_memory_equal (zmq_msg_data (&frame), zframe_data (expected), zframe_size (expected));
        zmq_msg_close (&frame);
        zframe_destroy (&expected);
        for (size_t i = 0; i < count; i++)
            free (storage [i]);
    }
    free (bytes);
}

static int s_released;

static void
s_count_release (void *data, void *hint)
{
    assert_ptr_equal (hint, &s_released);
    (void) data;
    s_released++;
}

static void
lone_task_framed_in_place_is_the_frame_a_copy_makes (void **state)
{
    (void) state;
    uint8_t *bytes = s_pattern_new ();
    static const uint64_t numbers [] = { 0, 1, 128, UINT32_MAX, UINT64_MAX };
    static const char *job_ids [] = { "job-1", "",
        "0123456789012345678901234567890123456789012345678901234567890123" };
    int frames = 0;
    for (size_t j = 0; j < 3; j++)
        for (size_t n = 0; n < 5; n++)
            for (size_t size = 0; size < S_SIZES; size++) {
                tm_task_t task = { job_ids [j], numbers [n] | 1, "id", "echo",
                                   bytes, s_sizes [size], (uint32_t) numbers [n],
                                   (uint32_t) numbers [(n + 1) % 5], (uint32_t) numbers [(n + 2) % 5] };
                size_t packed_size = tm_codec_packed_task_size (&task);
                uint8_t *room = (uint8_t *) malloc (TM_CODEC_FRAME_HEADROOM + packed_size
                                                    + TM_CODEC_FRAME_TAILROOM);
                assert_non_null (room);
                tm_codec_pack_task (&task, room + TM_CODEC_FRAME_HEADROOM);
                tm_packed_task_t packed = {
                    .packed = room + TM_CODEC_FRAME_HEADROOM, .packed_size = packed_size,
                    .timeout_ms = task.timeout_ms, .attempt = task.attempt,
                    .max_attempts = task.max_attempts
                };
                zmq_msg_t copy, in_place;
                tm_codec_encode_packed_batch (job_ids [j], &packed, 1, numbers [4 - n],
                                              numbers [n], &copy);
                packed.room = room;
                packed.release = s_count_release;
                packed.hint = &s_released;
                tm_codec_encode_packed_batch (job_ids [j], &packed, 1, numbers [4 - n],
                                              numbers [n], &in_place);
                const uint8_t *data = (const uint8_t *) zmq_msg_data (&in_place);
                assert_true (data >= room && data < room + TM_CODEC_FRAME_HEADROOM);
                assert_int_equal (zmq_msg_size (&in_place), zmq_msg_size (&copy));
                assert_memory_equal (data, zmq_msg_data (&copy), zmq_msg_size (&copy));
                zmq_msg_close (&copy);
                zmq_msg_close (&in_place);
                assert_int_equal (s_released, ++frames);
                free (room);
            }
    free (bytes);
}

//  --- the direct reader of result batches, held to protobuf-c ----------------------

//  A frame built field by field, so that tests can write what our encoder
//  never does: fields out of order, twice, unknown, of another wire type.
typedef struct {
    uint8_t data [32768];
    size_t size;
} s_wire_t;

static void
s_wire_varint (s_wire_t *self, uint64_t value, size_t min_bytes)
{
    //  min_bytes pads with continuation bytes: an overlong varint.
    for (size_t i = 0; ; i++) {
        bool more = value >= 0x80 || i + 1 < min_bytes;
        assert_true (self->size < sizeof self->data);
        self->data [self->size++] = (uint8_t) ((value & 0x7F) | (more ? 0x80 : 0));
        value >>= 7;
        if (!more)
            break;
    }
}

static void
s_wire_bytes (s_wire_t *self, unsigned field, const void *data, size_t size)
{
    s_wire_varint (self, field << 3 | 2, 1);
    s_wire_varint (self, size, 1);
    assert_true (self->size + size <= sizeof self->data);
    memcpy (self->data + self->size, data, size);
    self->size += size;
}

//  One Result's bytes: its fields in a random order, some left out, and
//  with odd probability one of what the direct reader gives up on.
static void
s_random_result (s_wire_t *self, uint64_t *seed)
{
    static const char *strings [] = { "job-1", "", "a1", "host/1", "ab\0c", "worker-9", "x" };
    static const uint64_t numbers [] = { 0, 1, 5, 6, 127, 128, UINT32_MAX, (uint64_t) UINT32_MAX + 1,
                                         INT64_MAX, UINT64_MAX, (uint64_t) -5 };
    unsigned order [11];
    for (unsigned i = 0; i < 11; i++)
        order [i] = i + 1;
    for (unsigned i = 10; i > 0; i--) {
        unsigned j = (unsigned) (s_random (seed) % (i + 1)), swap = order [i];
        order [i] = order [j];
        order [j] = swap;
    }
    bool canonical = s_random (seed) % 2;
    //  Half of them valid but for what odd adds: the rest anything.
    bool valid = s_random (seed) % 2;
    for (unsigned i = 0; i < 11; i++) {
        unsigned field = canonical ? i + 1 : order [i];
        bool required = field == 1 || field == 2 || field == 4 || field == 5 || field == 8;
        if ((!valid || !required) && s_random (seed) % 5 == 0)
            continue;
        bool length_field = field == 1 || field == 3 || field == 6 || field == 7 || field == 8;
        unsigned odd = (unsigned) (s_random (seed) % 40);
        size_t times = odd == 0 ? 2 : 1;            //  a field twice
        for (size_t time = 0; time < times; time++) {
            if (odd == 1)                           //  the other wire type
                length_field = !length_field;
            if (length_field) {
                const char *text = strings [s_random (seed) % 7];
                if (valid && (field == 1 || field == 8))
                    text = field == 1 ? "job-1" : "host/1";
                size_t size = strcmp (text, "ab") == 0 ? 4 : strlen (text);
                if (field == 6 && s_random (seed) % 3 == 0) {
                    static uint8_t output [1500];
                    size = (size_t) (s_random (seed) % sizeof output);
                    for (size_t at = 0; at < size; at++)
                        output [at] = (uint8_t) (s_random (seed) % 3 ? 'a' + at % 26 : s_random (seed));
                    s_wire_bytes (self, field, output, size);
                }
                else
                    s_wire_bytes (self, field, text, size);
            }
            else {
                uint64_t value = field == 5 ? 1 + s_random (seed) % 6 : numbers [s_random (seed) % 11];
                if (valid && (field == 2 || field == 4 || field == 10))
                    value = 1 + s_random (seed) % 1000;
                s_wire_varint (self, field << 3, 1);
                //  Now and then an overlong varint, up to 10 bytes.
                s_wire_varint (self, value, odd == 2 ? 1 + s_random (seed) % 10 : 1);
            }
        }
        if (odd == 3)                               //  an unknown field
            s_wire_bytes (self, 12 + (unsigned) (s_random (seed) % 4), "?", 1);
    }
}

//  A WorkerToMaster of count random Results, now and then with something
//  odd in the envelope or the batch.
static void
s_random_results_frame (s_wire_t *frame, uint64_t *seed)
{
    s_wire_t batch = { .size = 0 };
    size_t count = (size_t) (s_random (seed) % 5);
    for (size_t i = 0; i < count; i++) {
        s_wire_t item = { .size = 0 };
        s_random_result (&item, seed);
        s_wire_bytes (&batch, 1, item.data, item.size);
    }
    if (s_random (seed) % 30 == 0)
        s_wire_bytes (&batch, 2, "?", 1);           //  unknown in the batch
    frame->size = 0;
    unsigned odd = (unsigned) (s_random (seed) % 20);
    if (odd != 0) {
        s_wire_varint (frame, 1 << 3, 1);
        //  Versions are enums: protobuf-c keeps the low 32 bits.
        static const uint64_t versions [] = { 2, 257, (1ull << 32) + TM_PROTOCOL_VERSION, UINT64_MAX };
        s_wire_varint (frame, odd == 1 ? versions [s_random (seed) % 4] : TM_PROTOCOL_VERSION, 1);
    }
    if (odd == 2)
        s_wire_bytes (frame, 3, "", 0);             //  a heartbeat before the results
    s_wire_bytes (frame, 2, batch.data, batch.size);
    if (odd == 3)
        s_wire_bytes (frame, 2, batch.data, batch.size);
}

//  Decodes data both ways; they must agree on the status and every field.
static tm_decode_status_t
s_assert_readers_agree (const uint8_t *data, size_t size)
{
    tm_worker_msg_t *direct = NULL, *reference = NULL;
    tm_decode_status_t status = tm_codec_decode_worker_msg (data, size, &direct);
    assert_int_equal (status, tm_codec_decode_worker_msg_reference (data, size, &reference));
    if (status == TM_DECODE_OK) {
        assert_int_equal (tm_worker_msg_is_heartbeat (direct), tm_worker_msg_is_heartbeat (reference));
        size_t count = tm_worker_msg_result_count (direct);
        assert_int_equal (count, tm_worker_msg_result_count (reference));
        for (size_t i = 0; i < count; i++) {
            tm_result_t a, b;
            tm_worker_msg_result (direct, i, &a);
            tm_worker_msg_result (reference, i, &b);
            assert_string_equal (a.job_id, b.job_id);
            assert_string_equal (a.id, b.id);
            assert_string_equal (a.error, b.error);
            assert_string_equal (a.worker_id, b.worker_id);
            assert_true (a.seq == b.seq && a.attempt == b.attempt && a.status == b.status);
            assert_true (a.start_us == b.start_us && a.duration_us == b.duration_us);
            assert_int_equal (a.exit_code, b.exit_code);
            assert_int_equal (a.output_size, b.output_size);
            assert_true ((a.output == NULL) == (b.output == NULL));
            if (a.output_size)
                assert_memory_equal (a.output, b.output, a.output_size);
            //  The direct reader says what the output is; the writer
            //  would find the same.
            assert_true (a.output_form == TM_JSON_UNKNOWN
                         || a.output_form == tm_json_form (b.output, b.output_size));
        }
    }
    tm_worker_msg_destroy (&direct);
    tm_worker_msg_destroy (&reference);
    return status;
}

static void
results_packed_by_hand_read_back_through_protobuf_c (void **state)
{
    (void) state;
    uint8_t *bytes = s_pattern_new ();
    //  The widest values of every field the checks let through.
    static const uint64_t u64s [] = { 1, 127, 128, UINT32_MAX, (uint64_t) UINT32_MAX + 1, UINT64_MAX };
    static const int64_t i64s [] = { 0, 1, -1, 128, INT64_MIN, INT64_MAX };
    static const int32_t i32s [] = { 0, 1, -1, 64, -65, INT32_MIN, INT32_MAX };
    static const uint32_t u32s [] = { 1, 127, 128, UINT32_MAX };
    static const char *strings [] = { "", "job-1", "host/1", "ran past 10 ms" };
    uint64_t seed = 0x2e5;
    for (int round = 0; round < 300; round++) {
        size_t count = 1 + (size_t) (s_random (&seed) % 4);
        tm_result_t results [4];
        for (size_t i = 0; i < count; i++) {
            size_t size = s_sizes [s_random (&seed) % S_SIZES];
            results [i] = (tm_result_t) {
                .job_id = strings [1 + s_random (&seed) % 3], .seq = u64s [s_random (&seed) % 6],
                .id = round % 3 ? strings [s_random (&seed) % 4] : NULL,
                .attempt = u32s [s_random (&seed) % 4],
                .status = (tm_status_t) (TM_STATUS_MIN + s_random (&seed) % TM_STATUS_MAX),
                .output = size ? bytes : NULL, .output_size = size,
                .error = round % 5 ? strings [s_random (&seed) % 4] : NULL,
                .worker_id = strings [1 + s_random (&seed) % 3],
                .start_us = i64s [s_random (&seed) % 6],
                .duration_us = i64s [s_random (&seed) % 6] & INT64_MAX,
                .exit_code = i32s [s_random (&seed) % 7]
            };
        }
        zframe_t *frame = tm_codec_encode_results (results, count);
        tm_worker_msg_t *msg = NULL;
        tm_decode_status_t status = tm_codec_decode_worker_msg_reference (zframe_data (frame),
                                                                          zframe_size (frame), &msg);
        assert_int_equal (status, TM_DECODE_OK);
        s_assert_readers_agree (zframe_data (frame), zframe_size (frame));
        for (size_t i = 0; msg && i < count; i++) {
            tm_result_t decoded;
            tm_worker_msg_result (msg, i, &decoded);
            assert_string_equal (decoded.job_id, results [i].job_id);
            assert_string_equal (decoded.id, results [i].id ? results [i].id : "");
            assert_string_equal (decoded.error, results [i].error ? results [i].error : "");
            assert_string_equal (decoded.worker_id, results [i].worker_id);
            assert_true (decoded.seq == results [i].seq && decoded.attempt == results [i].attempt);
            assert_int_equal (decoded.status, results [i].status);
            assert_true (decoded.start_us == results [i].start_us);
            assert_true (decoded.duration_us == results [i].duration_us);
            assert_int_equal (decoded.exit_code, results [i].exit_code);
            assert_int_equal (decoded.output_size, results [i].output_size);
            if (decoded.output_size)
                assert_memory_equal (decoded.output, bytes, decoded.output_size);
        }
        tm_worker_msg_destroy (&msg);
        zframe_destroy (&frame);
    }
    free (bytes);
}

static void
results_read_directly_match_protobuf_c (void **state)
{
    (void) state;
    uint64_t seed = 0xd1ec7;
    size_t decoded = 0;
    for (int round = 0; round < 20000; round++) {
        s_wire_t frame;
        s_random_results_frame (&frame, &seed);
        decoded += s_assert_readers_agree (frame.data, frame.size) == TM_DECODE_OK;
        //  The same cut short, and with a byte changed.
        s_assert_readers_agree (frame.data, (size_t) (s_random (&seed) % (frame.size + 1)));
        frame.data [s_random (&seed) % frame.size] = (uint8_t) s_random (&seed);
        s_assert_readers_agree (frame.data, frame.size);
    }
    //  Enough of them were whole and valid for the comparison to mean something.
    assert_true (decoded > 1000);
    //  What our own encoder writes, every size of output.
    uint8_t *bytes = s_pattern_new ();
    for (size_t i = 0; i < S_SIZES; i++) {
        tm_result_t results [2];
        s_results_fill (results);
        results [0].output = bytes;
        results [0].output_size = s_sizes [i];
        zframe_t *frame = tm_codec_encode_results (results, 2);
        assert_int_equal (s_assert_readers_agree (zframe_data (frame), zframe_size (frame)),
                          TM_DECODE_OK);
        zframe_destroy (&frame);
    }
    free (bytes);
}

//  One Task's bytes, as s_random_result makes a Result's.
static void
s_random_task (s_wire_t *self, uint64_t *seed)
{
    static const char *strings [] = { "job-1", "", "a1", "echo", "ab\0c", "noop", "x" };
    static const uint64_t numbers [] = { 0, 1, 2, 3, 127, 128, UINT32_MAX, (uint64_t) UINT32_MAX + 2,
                                         UINT64_MAX };
    bool valid = s_random (seed) % 2;
    unsigned first = (unsigned) (s_random (seed) % 8);
    for (unsigned i = 0; i < 8; i++) {
        unsigned field = 1 + (first + i * (s_random (seed) % 2 ? 1 : 3)) % 8;
        bool required = field == 1 || field == 2 || field == 4 || field == 7 || field == 8;
        if ((!valid || !required) && s_random (seed) % 5 == 0)
            continue;
        bool length_field = field == 1 || field == 3 || field == 4 || field == 5;
        unsigned odd = (unsigned) (s_random (seed) % 40);
        for (size_t time = 0; time < (odd == 0 ? 2u : 1u); time++) {
            if (odd == 1)
                length_field = !length_field;
            if (length_field) {
                const char *text = strings [s_random (seed) % 7];
                if (valid && field == 1)
                    text = "job-1";
                if (valid && field == 4)
                    text = "echo";
                size_t size = strcmp (text, "ab") == 0 ? 4 : strlen (text);
                s_wire_bytes (self, field, text, size);
            }
            else {
                uint64_t value = numbers [s_random (seed) % 9];
                if (valid && (field == 2 || field == 7 || field == 8))
                    value = field == 8 ? 3 : 1 + s_random (seed) % 3;
                s_wire_varint (self, field << 3, 1);
                s_wire_varint (self, value, odd == 2 ? 1 + s_random (seed) % 10 : 1);
            }
        }
        if (odd == 3)
            s_wire_bytes (self, 9 + (unsigned) (s_random (seed) % 6), "?", 1);
    }
}

static void
s_random_tasks_frame (s_wire_t *frame, uint64_t *seed)
{
    s_wire_t batch = { .size = 0 };
    size_t count = (size_t) (s_random (seed) % 5);
    unsigned odd = (unsigned) (s_random (seed) % 24);
    for (size_t i = 0; i < count; i++) {
        s_wire_t item = { .size = 0 };
        s_random_task (&item, seed);
        s_wire_bytes (&batch, 1, item.data, item.size);
        if (odd == 4 && i == 0) {                   //  batch fields between tasks
            s_wire_varint (&batch, 2 << 3, 1);
            s_wire_varint (&batch, 7, 1);
        }
    }
    if (s_random (seed) % 2) {
        s_wire_varint (&batch, 2 << 3, 1);
        s_wire_varint (&batch, s_random (seed), 1);
    }
    if (s_random (seed) % 2) {
        s_wire_varint (&batch, 3 << 3, 1);
        s_wire_varint (&batch, s_random (seed), 1);
    }
    if (s_random (seed) % 3)
        s_wire_bytes (&batch, 4, "job-1", s_random (seed) % 6);
    if (odd == 5)
        s_wire_bytes (&batch, 4, "job-2", 5);       //  its job id twice
    if (odd == 6)
        s_wire_bytes (&batch, 5, "?", 1);           //  unknown in the batch
    frame->size = 0;
    if (odd != 0) {
        static const uint64_t versions [] = { 2, 257, (1ull << 32) + TM_PROTOCOL_VERSION, UINT64_MAX };
        s_wire_varint (frame, 1 << 3, 1);
        s_wire_varint (frame, odd == 1 ? versions [s_random (seed) % 4] : TM_PROTOCOL_VERSION, 1);
    }
    if (odd == 2)
        s_wire_bytes (frame, 3, "", 0);
    s_wire_bytes (frame, 2, batch.data, batch.size);
    if (odd == 3)
        s_wire_bytes (frame, 2, batch.data, batch.size);
}

static tm_decode_status_t
s_assert_task_readers_agree (const uint8_t *data, size_t size)
{
    tm_task_batch_t *direct = NULL, *reference = NULL;
    tm_decode_status_t status = tm_codec_decode_tasks (data, size, &direct);
    assert_int_equal (status, tm_codec_decode_tasks_reference (data, size, &reference));
    if (status == TM_DECODE_OK) {
        size_t count = tm_task_batch_size (direct);
        assert_int_equal (count, tm_task_batch_size (reference));
        assert_true (tm_task_batch_number (direct) == tm_task_batch_number (reference));
        assert_true (tm_task_batch_credit_stamp (direct) == tm_task_batch_credit_stamp (reference));
        assert_string_equal (tm_task_batch_job_id (direct), tm_task_batch_job_id (reference));
        for (size_t i = 0; i < count; i++) {
            tm_task_t a, b;
            tm_task_batch_get (direct, i, &a);
            tm_task_batch_get (reference, i, &b);
            assert_string_equal (a.job_id, b.job_id);
            assert_string_equal (a.id, b.id);
            assert_string_equal (a.type, b.type);
            assert_true (a.seq == b.seq && a.timeout_ms == b.timeout_ms);
            assert_true (a.attempt == b.attempt && a.max_attempts == b.max_attempts);
            assert_int_equal (a.payload_size, b.payload_size);
            assert_true ((a.payload == NULL) == (b.payload == NULL));
            if (a.payload_size)
                assert_memory_equal (a.payload, b.payload, a.payload_size);
        }
    }
    tm_task_batch_destroy (&direct);
    tm_task_batch_destroy (&reference);
    return status;
}

static void
tasks_read_directly_match_protobuf_c (void **state)
{
    (void) state;
    uint64_t seed = 0x7a5c;
    size_t decoded = 0;
    for (int round = 0; round < 20000; round++) {
        s_wire_t frame;
        s_random_tasks_frame (&frame, &seed);
        decoded += s_assert_task_readers_agree (frame.data, frame.size) == TM_DECODE_OK;
        s_assert_task_readers_agree (frame.data, (size_t) (s_random (&seed) % (frame.size + 1)));
        frame.data [s_random (&seed) % frame.size] = (uint8_t) s_random (&seed);
        s_assert_task_readers_agree (frame.data, frame.size);
    }
    assert_true (decoded > 1000);
    //  What the master sends: every payload size, and a full batch.
    uint8_t *bytes = s_pattern_new ();
    tm_task_t tasks [TM_MAX_BATCH_TASKS + 1];
    for (size_t i = 0; i <= TM_MAX_BATCH_TASKS; i++)
        tasks [i] = (tm_task_t) { "job-1", i + 1, "t", "echo", bytes, s_sizes [i % S_SIZES] % 6000,
                                  (uint32_t) i, 1, 3 };
    for (size_t count = 0; count <= TM_MAX_BATCH_TASKS + 1; count += 1 + count / 2) {
        zframe_t *frame = tm_codec_encode_task_batch ("job-1", tasks, count, count, 7);
        s_assert_task_readers_agree (zframe_data (frame), zframe_size (frame));
        zframe_destroy (&frame);
    }
    free (bytes);
}

static void
large_output_is_read_where_the_frame_holds_it (void **state)
{
    (void) state;
    static uint8_t output [100000];
    for (size_t at = 0; at < sizeof output; at++)
        output [at] = (uint8_t) ('a' + at % 26);
    tm_result_t results [2];
    s_results_fill (results);
    results [0].output = output;
    results [0].output_size = sizeof output;
    results [1].output = (const uint8_t *) "short";
    results [1].output_size = 5;
    zframe_t *encoded = tm_codec_encode_results (results, 2);
    zmq_msg_t frame;
    zmq_msg_init_size (&frame, zframe_size (encoded));
    memcpy (zmq_msg_data (&frame), zframe_data (encoded), zframe_size (encoded));
    const uint8_t *start = (const uint8_t *) zmq_msg_data (&frame);
    size_t size = zmq_msg_size (&frame);
    tm_worker_msg_t *msg = NULL;
    assert_int_equal (tm_codec_decode_worker_frame (&frame, &msg), TM_DECODE_OK);
    //  The message took the frame's bytes: closing the frame frees nothing.
    assert_int_equal (zmq_msg_size (&frame), 0);
    zmq_msg_close (&frame);
    tm_result_t result;
    tm_worker_msg_result (msg, 0, &result);
    assert_true (result.output >= start && result.output + result.output_size <= start + size);
    assert_memory_equal (result.output, output, sizeof output);
    assert_int_equal (result.output_form, TM_JSON_PLAIN);
    tm_worker_msg_result (msg, 1, &result);
    assert_memory_equal (result.output, "short", 5);
    assert_false (result.output >= start && result.output < start + size);
    tm_worker_msg_destroy (&msg);
    //  A frame with no large output stays the caller's.
    results [0].output_size = 0;
    zframe_destroy (&encoded);
    encoded = tm_codec_encode_results (results, 2);
    zmq_msg_init_size (&frame, zframe_size (encoded));
    memcpy (zmq_msg_data (&frame), zframe_data (encoded), zframe_size (encoded));
    assert_int_equal (tm_codec_decode_worker_frame (&frame, &msg), TM_DECODE_OK);
    assert_int_equal (zmq_msg_size (&frame), zframe_size (encoded));
    zmq_msg_close (&frame);
    tm_worker_msg_result (msg, 1, &result);
    assert_memory_equal (result.output, "short", 5);
    tm_worker_msg_destroy (&msg);
    zframe_destroy (&encoded);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (task_batch_round_trips_every_field),
        cmocka_unit_test (large_payload_round_trips),
        cmocka_unit_test (result_batch_round_trips_every_field),
        cmocka_unit_test (heartbeat_round_trips_with_held_seqs),
        cmocka_unit_test (idle_heartbeat_round_trips_without_seqs),
        cmocka_unit_test (control_message_round_trips_every_kind),
        cmocka_unit_test (task_batch_carries_its_job_id_number_and_credit_stamp),
        cmocka_unit_test (empty_task_batch_is_a_marker_with_its_job_id_and_number),
        cmocka_unit_test (batch_of_max_batch_tasks_decodes_and_one_more_is_invalid),
        cmocka_unit_test (credit_round_trips_every_field),
        cmocka_unit_test (credit_with_the_longest_worker_id_round_trips),
        cmocka_unit_test (truncated_frames_are_refused),
        cmocka_unit_test (credit_cut_short_or_garbage_is_malformed),
        cmocka_unit_test (oversized_frame_is_too_big_before_parsing),
        cmocka_unit_test (other_protocol_version_is_refused),
        cmocka_unit_test (frame_of_another_socket_is_refused),
        cmocka_unit_test (credit_and_results_socket_messages_are_the_wrong_kind_for_each_other),
        cmocka_unit_test (credit_out_of_range_is_invalid),
        cmocka_unit_test (task_out_of_range_is_invalid),
        cmocka_unit_test (result_out_of_range_is_invalid),
        cmocka_unit_test (empty_result_batch_is_invalid),
        cmocka_unit_test (heartbeat_out_of_range_is_invalid),
        cmocka_unit_test (heartbeat_past_thread_running_or_incarnation_limits_is_invalid),
        cmocka_unit_test (control_out_of_range_is_invalid),
        cmocka_unit_test (random_garbage_never_crashes),
        cmocka_unit_test (mutated_frames_never_crash),
        cmocka_unit_test (frame_that_would_unpack_far_past_its_size_is_malformed),
        cmocka_unit_test (batches_of_every_size_round_trip),
        cmocka_unit_test (widest_numbers_and_empty_strings_encode_within_bounds),
        cmocka_unit_test (status_names_cover_every_code),
        cmocka_unit_test (packed_batches_are_the_bytes_protobuf_c_packs),
        cmocka_unit_test (lone_task_framed_in_place_is_the_frame_a_copy_makes),
        cmocka_unit_test (results_packed_by_hand_read_back_through_protobuf_c),
        cmocka_unit_test (results_read_directly_match_protobuf_c),
        cmocka_unit_test (large_output_is_read_where_the_frame_holds_it),
        cmocka_unit_test (tasks_read_directly_match_protobuf_c),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
