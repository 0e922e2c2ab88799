/*  raw_pipeline.c - the baseline for tests/bench/bench.py: a bare ZeroMQ
    pipeline of the same shape as taskmill, with no encoding and no
    bookkeeping.

    One process, threads sharing one context:

        ventilator PUSH --tcp--> N x (worker PULL -> worker PUSH) --tcp--> sink PULL

    over TCP on 127.0.0.1 (ephemeral ports). Each worker forwards every
    message as is (the zmq_msg_t is moved, not copied). The sink (the main
    thread) counts to COUNT and reports the rate; then the context is shut
    down, which wakes every blocked thread with ETERM, and everything stops.

    With WINDOW > 0 (the fifth argument) there is no ventilator thread: the
    main thread keeps at most WINDOW messages in flight, each stamped with its
    send time (SIZE >= 8), and reports the round-trip latency p50/p99/max as
    well: with WINDOW 1, the baseline for taskmill's --window 1 latency.

    The ventilator waits until every worker's connection to it has finished
    its handshake (socket monitor) before it sends, so PUSH round-robins over
    all N workers from the first message, as taskmill's --min-workers does.
    The clock starts at the first send and stops at the last receive.

    Not part of the test suite. Build (bench.py does this):

        cc -O2 -o raw_pipeline raw_pipeline.c $(pkg-config --cflags --libs libzmq) -pthread

    Usage: raw_pipeline COUNT WORKERS SIZE [HWM [WINDOW]]
    (HWM default 1000; WINDOW default 0: unbounded.)
    Prints one line of key=value pairs, e.g.
        raw_pipeline messages=1000000 workers=2 size=64 hwm=1000 window=0 elapsed_s=0.81 msgs_per_s=1234567 mb_per_s=79.0
    and with WINDOW > 0 also p50_us=, p99_us=, max_us=.
    Exit status: 0 ok, 2 bad usage, 3 runtime failure.
*/

#include <zmq.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_ENDPOINT_MAX 256

typedef struct {
    void *ctx;
    char vent_endpoint [S_ENDPOINT_MAX];
    char sink_endpoint [S_ENDPOINT_MAX];
    long count;
    size_t size;
    int hwm;
    int workers;
    long window;
} s_config_t;

static int64_t
s_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
s_die (const char *what)
{
    fprintf (stderr, "raw_pipeline: %s: %s\n", what, zmq_strerror (zmq_errno ()));
    exit (3);
}

static void *
s_socket (void *ctx, int type, int hwm)
{
    void *socket = zmq_socket (ctx, type);
    if (!socket)
        s_die ("zmq_socket");
    int linger = 0;
    zmq_setsockopt (socket, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt (socket, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt (socket, ZMQ_RCVHWM, &hwm, sizeof hwm);
    return socket;
}

static void
s_bind_ephemeral (void *socket, char *endpoint)
{
    if (zmq_bind (socket, "tcp://127.0.0.1:*") == -1)
        s_die ("zmq_bind");
    size_t size = S_ENDPOINT_MAX;
    if (zmq_getsockopt (socket, ZMQ_LAST_ENDPOINT, endpoint, &size) == -1)
        s_die ("ZMQ_LAST_ENDPOINT");
}

//  Worker: PULL from the ventilator, PUSH each message on to the sink.
static void *
s_worker (void *arg)
{
    s_config_t *config = (s_config_t *) arg;
    void *pull = s_socket (config->ctx, ZMQ_PULL, config->hwm);
    void *push = s_socket (config->ctx, ZMQ_PUSH, config->hwm);
    if (zmq_connect (pull, config->vent_endpoint) == -1
    ||  zmq_connect (push, config->sink_endpoint) == -1)
        s_die ("zmq_connect");
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    while (true) {
        if (zmq_msg_recv (&msg, pull, 0) == -1) {
            if (zmq_errno () == EINTR)
                continue;
            break;                      //  ETERM: the sink is done
        }
        if (zmq_msg_send (&msg, push, 0) == -1 && zmq_errno () != EINTR)
            break;
    }
    zmq_msg_close (&msg);
    zmq_close (pull);
    zmq_close (push);
    return NULL;
}

//  Waits until `peers` connections to `socket` have completed their ZMTP
//  handshake, so that the first messages are spread over all of them.
static void
s_wait_handshakes (void *ctx, void *monitor, int peers)
{
    int done = 0;
    int64_t deadline_us = s_now_us () + 10 * 1000000;
    int timeout_ms = 100;
    zmq_setsockopt (monitor, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
    while (done < peers) {
        if (s_now_us () > deadline_us) {
            fprintf (stderr, "raw_pipeline: only %d of %d workers connected in 10 s\n", done, peers);
            exit (3);
        }
        zmq_msg_t frame;
        zmq_msg_init (&frame);
        if (zmq_msg_recv (&frame, monitor, 0) == -1) {
            zmq_msg_close (&frame);
            continue;
        }
        uint16_t event = 0;
        if (zmq_msg_size (&frame) >= 2)
            memcpy (&event, zmq_msg_data (&frame), sizeof event);
        zmq_msg_close (&frame);
        //  Second frame: the peer's endpoint.
        zmq_msg_init (&frame);
        zmq_msg_recv (&frame, monitor, 0);
        zmq_msg_close (&frame);
        if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
            done++;
    }
    (void) ctx;
}

typedef struct {
    s_config_t *config;
    void *push;
    int64_t start_us;
} s_vent_t;

//  Ventilator: COUNT messages of SIZE bytes, each filled from a template
//  (a real producer writes its payload too).
static void *
s_ventilator (void *arg)
{
    s_vent_t *vent = (s_vent_t *) arg;
    s_config_t *config = vent->config;
    char *template = (char *) malloc (config->size ? config->size : 1);
    if (!template)
        s_die ("malloc");
    memset (template, 'x', config->size);
    vent->start_us = s_now_us ();
    for (long i = 0; i < config->count; i++) {
        zmq_msg_t msg;
        zmq_msg_init_size (&msg, config->size);
        if (config->size)
            memcpy (zmq_msg_data (&msg), template, config->size);
        while (zmq_msg_send (&msg, vent->push, 0) == -1) {
            if (zmq_errno () != EINTR) {
                zmq_msg_close (&msg);
                free (template);
                return NULL;            //  ETERM
            }
        }
    }
    free (template);
    return NULL;
}

static int
s_compare_i64 (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y ? -1 : x > y;
}

//  Window mode: the main thread sends and receives, at most `window` in
//  flight; each message carries its send time in its first 8 bytes.
//  Fills latencies_us [count] and returns the elapsed time.
static int64_t
s_run_window (s_config_t *config, void *push, void *sink, int64_t *latencies_us)
{
    char *template = (char *) malloc (config->size);
    if (!template)
        s_die ("malloc");
    memset (template, 'x', config->size);
    long sent = 0, received = 0;
    int64_t start_us = s_now_us ();
    while (received < config->count) {
        while (sent < config->count && sent - received < config->window) {
            zmq_msg_t msg;
            zmq_msg_init_size (&msg, config->size);
            memcpy (zmq_msg_data (&msg), template, config->size);
            int64_t now_us = s_now_us ();
            memcpy (zmq_msg_data (&msg), &now_us, sizeof now_us);
            if (zmq_msg_send (&msg, push, 0) == -1)
                s_die ("send");
            sent++;
        }
        zmq_msg_t msg;
        zmq_msg_init (&msg);
        if (zmq_msg_recv (&msg, sink, 0) == -1)
            s_die ("sink recv");
        int64_t sent_us;
        memcpy (&sent_us, zmq_msg_data (&msg), sizeof sent_us);
        latencies_us [received++] = s_now_us () - sent_us;
        zmq_msg_close (&msg);
    }
    free (template);
    return s_now_us () - start_us;
}

static long
s_arg (const char *text, const char *what, long min)
{
    char *end;
    errno = 0;
    long value = strtol (text, &end, 10);
    if (errno || *end || value < min) {
        fprintf (stderr, "raw_pipeline: bad %s: %s\n", what, text);
        exit (2);
    }
    return value;
}

int
main (int argc, char *argv [])
{
    if (argc < 4 || argc > 6) {
        fprintf (stderr, "Usage: raw_pipeline COUNT WORKERS SIZE [HWM [WINDOW]]\n");
        return 2;
    }
    s_config_t config = {
        .count = s_arg (argv [1], "count", 1),
        .workers = (int) s_arg (argv [2], "workers", 1),
        .size = (size_t) s_arg (argv [3], "size", 0),
        .hwm = argc >= 5 ? (int) s_arg (argv [4], "hwm", 0) : 1000,
        .window = argc >= 6 ? s_arg (argv [5], "window", 0) : 0,
    };
    if (config.window > 0 && config.size < sizeof (int64_t)) {
        fprintf (stderr, "raw_pipeline: WINDOW needs SIZE >= 8\n");
        return 2;
    }
    config.ctx = zmq_ctx_new ();
    if (!config.ctx)
        s_die ("zmq_ctx_new");

    void *sink = s_socket (config.ctx, ZMQ_PULL, config.hwm);
    s_bind_ephemeral (sink, config.sink_endpoint);
    void *push = s_socket (config.ctx, ZMQ_PUSH, config.hwm);
    if (zmq_socket_monitor (push, "inproc://raw-vent-monitor", ZMQ_EVENT_HANDSHAKE_SUCCEEDED) == -1)
        s_die ("zmq_socket_monitor");
    void *monitor = zmq_socket (config.ctx, ZMQ_PAIR);
    if (!monitor || zmq_connect (monitor, "inproc://raw-vent-monitor") == -1)
        s_die ("monitor connect");
    s_bind_ephemeral (push, config.vent_endpoint);

    pthread_t *workers = (pthread_t *) calloc ((size_t) config.workers, sizeof (pthread_t));
    if (!workers)
        s_die ("calloc");
    for (int i = 0; i < config.workers; i++)
        if (pthread_create (&workers [i], NULL, s_worker, &config) != 0)
            s_die ("pthread_create");
    s_wait_handshakes (config.ctx, monitor, config.workers);
    zmq_socket_monitor (push, NULL, 0);
    zmq_close (monitor);

    int64_t elapsed_us;
    int64_t *latencies_us = NULL;
    if (config.window > 0) {
        latencies_us = (int64_t *) calloc ((size_t) config.count, sizeof (int64_t));
        if (!latencies_us)
            s_die ("calloc");
        elapsed_us = s_run_window (&config, push, sink, latencies_us);
    }
    else {
        s_vent_t vent = { .config = &config, .push = push };
        pthread_t vent_thread;
        if (pthread_create (&vent_thread, NULL, s_ventilator, &vent) != 0)
            s_die ("pthread_create");
        zmq_msg_t msg;
        zmq_msg_init (&msg);
        long received = 0;
        while (received < config.count) {
            if (zmq_msg_recv (&msg, sink, 0) == -1) {
                if (zmq_errno () == EINTR)
                    continue;
                s_die ("sink recv");
            }
            if (zmq_msg_size (&msg) != config.size) {
                fprintf (stderr, "raw_pipeline: message of %zu bytes, expected %zu\n",
                         zmq_msg_size (&msg), config.size);
                return 3;
            }
            received++;
        }
        elapsed_us = s_now_us () - vent.start_us;
        zmq_msg_close (&msg);
        pthread_join (vent_thread, NULL);   //  it has sent everything by now
    }
    zmq_close (push);
    zmq_close (sink);
    zmq_ctx_shutdown (config.ctx);      //  workers' recv returns ETERM
    for (int i = 0; i < config.workers; i++)
        pthread_join (workers [i], NULL);
    free (workers);
    zmq_ctx_term (config.ctx);

    double elapsed_s = (double) elapsed_us / 1e6;
    if (elapsed_s <= 0)
        elapsed_s = 1e-6;
    double rate = (double) config.count / elapsed_s;
    printf ("raw_pipeline messages=%ld workers=%d size=%zu hwm=%d window=%ld elapsed_s=%.6f"
            " msgs_per_s=%.1f mb_per_s=%.2f",
            config.count, config.workers, config.size, config.hwm, config.window, elapsed_s,
            rate, rate * (double) config.size / 1e6);
    if (latencies_us) {
        qsort (latencies_us, (size_t) config.count, sizeof (int64_t), s_compare_i64);
        printf (" p50_us=%lld p99_us=%lld max_us=%lld",
                (long long) latencies_us [(config.count - 1) / 2],
                (long long) latencies_us [(config.count * 99 + 99) / 100 - 1],
                (long long) latencies_us [config.count - 1]);
        free (latencies_us);
    }
    printf ("\n");
    return 0;
}
