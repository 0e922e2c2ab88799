/*  bench_results_path: the master's per-task CPU work on a noop result, run
    in one process with no sockets, so it can be counted exactly. Each phase
    is its own function, so `callgrind_annotate --inclusive=yes` gives its
    instructions; without valgrind it prints ns per task (wall clock, noisy
    on a shared machine).

    Phases, in task order:
      s_encode_tasks     the dispatcher's TaskBatch frames (tm_codec)
      s_encode_results   a worker's ResultBatch frames (tm_codec)
      s_decode_results   the sink's decode and the master's reads (tm_codec)
      s_write_results    the results writer's lines (results_writer, tm_json)

    Not part of the CMake build (like tests/fuzz). To build and count:
      cc -O2 -g -Icommon -Imaster tests/bench/bench_results_path.c \
          build/master/libmaster_core.a build/common/libtm_common.a \
          build/proto/libtm_proto.a \
          $(pkg-config --cflags --libs libczmq libzmq libprotobuf-c jansson libcrypto) \
          -lm -o /tmp/bench_results_path
      valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out \
          /tmp/bench_results_path 100000
      callgrind_annotate --inclusive=yes /tmp/cg.out | grep s_

    Usage: bench_results_path [TASKS [BATCH [RESULTS_FILE]]]
    (defaults 1000000, 64, /dev/null).
*/
#include "lease_table.h"
#include "results_writer.h"
#include "tm_codec.h"
#include <czmq.h>
#include <time.h>

#define S_JOB_ID "0123456789abcdef"

static int64_t
s_now_ns (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000000000 + now.tv_nsec;
}

static void
s_report (const char *phase, int64_t start_ns, size_t tasks)
{
    printf ("%-16s %8.1f ns/task\n", phase, (double) (s_now_ns () - start_ns) / (double) tasks);
}

typedef char s_id_t [24];

//  The user ids "1", "2", ... made before any phase, so no phase counts
//  their formatting.
static s_id_t *
s_ids_new (size_t tasks)
{
    s_id_t *ids = (s_id_t *) zmalloc (tasks * sizeof (s_id_t));
    for (size_t i = 0; i < tasks; i++)
        snprintf (ids [i], sizeof ids [i], "%zu", i + 1);
    return ids;
}

//  Encodes tasks in batches, as dispatcher_flush does; frees each frame.
static __attribute__ ((noinline)) void
s_encode_tasks (s_id_t *ids, size_t tasks, size_t batch)
{
    tm_task_t items [64];
    for (size_t done = 0; done < tasks; done += batch) {
        size_t count = tasks - done < batch ? tasks - done : batch;
        for (size_t i = 0; i < count; i++)
            items [i] = (tm_task_t) {
                .job_id = S_JOB_ID, .seq = done + i + 1, .id = ids [done + i],
                .type = "noop", .timeout_ms = 60000, .attempt = 1, .max_attempts = 3
            };
        zframe_t *frame = tm_codec_encode_tasks (items, count);
        zframe_destroy (&frame);
    }
}

//  Encodes noop results in batches, as a worker does; returns the frames.
static __attribute__ ((noinline)) zlist_t *
s_encode_results (s_id_t *ids, size_t tasks, size_t batch)
{
    zlist_t *frames = zlist_new ();
    tm_result_t items [64];
    for (size_t done = 0; done < tasks; done += batch) {
        size_t count = tasks - done < batch ? tasks - done : batch;
        for (size_t i = 0; i < count; i++)
            items [i] = (tm_result_t) {
                .job_id = S_JOB_ID, .seq = done + i + 1, .id = ids [done + i],
                .attempt = 1, .status = TM_STATUS_OK, .error = "",
                .worker_id = "bench-w1", .start_us = 1700000000000000 + (int64_t) i,
                .duration_us = 1
            };
        zlist_append (frames, tm_codec_encode_results (items, count));
    }
    return frames;
}

//  Decodes every frame and reads every result, as the sink and master do.
static __attribute__ ((noinline)) uint64_t
s_decode_results (zlist_t *frames)
{
    uint64_t sum = 0;
    for (zframe_t *frame = (zframe_t *) zlist_first (frames); frame;
         frame = (zframe_t *) zlist_next (frames)) {
        tm_worker_msg_t *msg;
        tm_decode_status_t status = tm_codec_decode_worker_msg (
            zframe_data (frame), zframe_size (frame), &msg);
        assert (status == TM_DECODE_OK);
        size_t count = tm_worker_msg_result_count (msg);
        for (size_t i = 0; i < count; i++) {
            tm_result_t result;
            tm_worker_msg_result (msg, i, &result);
            sum += result.seq + (uint64_t) result.duration_us;
        }
        tm_worker_msg_destroy (&msg);
    }
    return sum;
}

//  Writes one line per task through the results writer, lease by lease.
static __attribute__ ((noinline)) void
s_write_results (results_writer_t *writer, lease_table_t *leases, s_id_t *ids, size_t tasks)
{
    for (size_t done = 0; done < tasks; done++) {
        lease_t *lease = lease_table_issue (leases, ids [done], "noop", NULL, 0, 60000, 3, 0);
        assert (lease);
        tm_result_t result = {
            .job_id = S_JOB_ID, .seq = lease->seq, .id = lease->id, .attempt = 1,
            .status = TM_STATUS_OK, .error = "", .worker_id = "bench-w1",
            .start_us = 1700000000000000, .duration_us = (int64_t) (done % 7)
        };
        int rc = results_writer_write (writer, lease, &result);
        assert (rc == 0);
        lease_table_finish (leases, lease->seq);
    }
}

int
main (int argc, char *argv [])
{
    size_t tasks = argc > 1 ? (size_t) atol (argv [1]) : 1000000;
    size_t batch = argc > 2 ? (size_t) atol (argv [2]) : 64;
    const char *path = argc > 3 ? argv [3] : "/dev/null";
    if (tasks == 0 || batch == 0 || batch > 64) {
        fprintf (stderr, "usage: bench_results_path [TASKS [BATCH (1..64) [RESULTS_FILE]]]\n");
        return 2;
    }
    zsys_init ();
    zsys_set_logstream (stderr);
    s_id_t *ids = s_ids_new (tasks);

    int64_t start = s_now_ns ();
    s_encode_tasks (ids, tasks, batch);
    s_report ("encode tasks", start, tasks);

    start = s_now_ns ();
    zlist_t *frames = s_encode_results (ids, tasks, batch);
    s_report ("encode results", start, tasks);

    start = s_now_ns ();
    uint64_t sum = s_decode_results (frames);
    s_report ("decode results", start, tasks);
    assert (sum > 0);

    results_writer_t *writer = results_writer_new (path);
    assert (writer);
    lease_table_t *leases = lease_table_new (1024);
    start = s_now_ns ();
    s_write_results (writer, leases, ids, tasks);
    results_writer_flush (writer, true);
    s_report ("write results", start, tasks);
    results_writer_destroy (&writer);
    lease_table_destroy (&leases);

    while (zlist_size (frames)) {
        zframe_t *frame = (zframe_t *) zlist_pop (frames);
        zframe_destroy (&frame);
    }
    zlist_destroy (&frames);
    free (ids);
    return 0;
}
