/*  raw_pipeline.c - the baseline for tests/bench/bench.py: a bare ZeroMQ
    pipeline of the same shape as a taskmill cluster, with no encoding and
    no bookkeeping.

        ventilator PUSH --tcp--> N x (worker PULL -> worker PUSH) --tcp--> sink PULL

    over TCP on 127.0.0.1 (ephemeral ports). Each worker forwards every
    message as is (the zmq_msg_t is moved, not copied).

    By default each part is a process of its own with its own ZeroMQ
    context (one I/O thread each), as a master and its workers are. This
    program, started without a role, is the launcher: it forks and execs
    itself once per role (the roles are internal, listed for debugging):

        raw_pipeline --role sink COUNT SIZE HWM
        raw_pipeline --role vent COUNT SIZE HWM WORKERS
        raw_pipeline --role client COUNT SIZE HWM WORKERS WINDOW
        raw_pipeline --role worker VENT_EP SINK_EP HWM

    The sink and the ventilator bind and print their endpoints on stdout, a
    pipe to the launcher, which then starts the workers with both. The
    ventilator waits until every worker's connection to it has finished its
    handshake (socket monitor) before it sends, so PUSH round-robins over
    all N workers from the first message, as taskmill's --min-workers does.
    The clock runs from the ventilator's first send to the sink's last
    receive (CLOCK_MONOTONIC is one clock for every process on the host);
    the launcher also reports it from its own start, before any process
    existed, and to the moment every process has exited. When the sink has
    counted COUNT messages the launcher kills the workers; the ventilator
    exits by itself (linger: what it queued reaches TCP first).

    With WINDOW > 0 the ventilator and the sink are one process (the
    client, bound to both ports, as a taskmill master holds its dispatcher
    and its sink): it keeps at most WINDOW messages in flight, each stamped
    with its send time (SIZE >= 8), and reports the round-trip latency
    p50/p99/max too: with WINDOW 1, the baseline for --window 1 latency.

    --threads runs the old shape instead: one process, every part a thread
    sharing one context and its one I/O thread (about half the processes'
    rate on 2 cores).

    Not part of the test suite. Build (bench.py does this):

        cc -O2 -o raw_pipeline raw_pipeline.c $(pkg-config --cflags --libs libzmq) -pthread

    Usage: raw_pipeline [--threads] [--timeout S] COUNT WORKERS SIZE [HWM [WINDOW]]
    (HWM default 1000; WINDOW default 0: unbounded; timeout default 120 s,
    after which the launcher dies and every process with it.)
    Prints one line of key=value pairs, e.g.
        raw_pipeline mode=processes messages=1000000 workers=2 size=64 hwm=1000 window=0
            elapsed_s=0.41 msgs_per_s=2439024.4 mb_per_s=156.10 start_to_last_s=0.43
            msgs_per_s_from_start=2325581.4 wall_s=0.44
    and with WINDOW > 0 also p50_us=, p99_us=, max_us=.
    Exit status: 0 ok, 2 bad usage, 3 runtime failure.
*/

#define _GNU_SOURCE
#include <zmq.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_ENDPOINT_MAX 256
#define S_LINE_MAX 512
#define S_HANDSHAKE_TIMEOUT_US (10 * 1000000)

typedef struct {
    long count;                 //  messages to send
    size_t size;                //  bytes a message
    int hwm;                    //  send and receive high-water marks
    int workers;                //  worker processes (or threads)
    long window;                //  most in flight; 0: unbounded
    int timeout_s;              //  the launcher's deadline
} s_config_t;

//  What a run measured, in CLOCK_MONOTONIC microseconds.
typedef struct {
    int64_t start_us;           //  the launcher's (or main's) start
    int64_t first_us;           //  first send
    int64_t last_us;            //  last receive
    int64_t end_us;             //  every process (thread) gone
    bool latency;               //  window mode: the three below are set
    int64_t p50_us;             //  round trip, median
    int64_t p99_us;             //  round trip, 99th percentile
    int64_t max_us;             //  round trip, slowest
} s_timing_t;

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

static void
s_fail (const char *what)
{
    fprintf (stderr, "raw_pipeline: %s\n", what);
    exit (3);
}

//  --- sockets and the parts of the pipeline ---------------------------------

static void *
s_socket (void *ctx, int type, int hwm, int linger)
{
    void *socket = zmq_socket (ctx, type);
    if (!socket)
        s_die ("zmq_socket");
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

//  The ventilator's PUSH, bound, with a monitor that reports handshakes.
//  linger: -1 where the process exits right after its last send.
static void *
s_vent_open (void *ctx, int hwm, int linger, char *endpoint, void **monitor_p)
{
    void *push = s_socket (ctx, ZMQ_PUSH, hwm, linger);
    if (zmq_socket_monitor (push, "inproc://raw-vent-monitor", ZMQ_EVENT_HANDSHAKE_SUCCEEDED) == -1)
        s_die ("zmq_socket_monitor");
    void *monitor = zmq_socket (ctx, ZMQ_PAIR);
    if (!monitor || zmq_connect (monitor, "inproc://raw-vent-monitor") == -1)
        s_die ("monitor connect");
    s_bind_ephemeral (push, endpoint);
    *monitor_p = monitor;
    return push;
}

//  Waits until `peers` connections to the monitored socket have completed
//  their ZMTP handshake, then closes the monitor.
static void
s_wait_handshakes (void *push, void *monitor, int peers)
{
    int done = 0;
    int64_t deadline_us = s_now_us () + S_HANDSHAKE_TIMEOUT_US;
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
    zmq_socket_monitor (push, NULL, 0);
    zmq_close (monitor);
}

//  Worker: PULL from the ventilator, PUSH each message on to the sink, until
//  the context is shut down (threads) or the process is killed.
static void
s_worker_run (void *ctx, const char *vent_endpoint, const char *sink_endpoint, int hwm)
{
    void *pull = s_socket (ctx, ZMQ_PULL, hwm, 0);
    void *push = s_socket (ctx, ZMQ_PUSH, hwm, 0);
    if (zmq_connect (pull, vent_endpoint) == -1
    ||  zmq_connect (push, sink_endpoint) == -1)
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
}

//  Ventilator: COUNT messages of SIZE bytes, each filled from a template (a
//  real producer writes its payload too). Returns the time of the first
//  send, or 0 if the context went away first.
static int64_t
s_vent_run (void *push, const s_config_t *config)
{
    char *template = (char *) malloc (config->size ? config->size : 1);
    if (!template)
        s_fail ("out of memory");
    memset (template, 'x', config->size);
    int64_t first_us = s_now_us ();
    for (long i = 0; i < config->count; i++) {
        zmq_msg_t msg;
        zmq_msg_init_size (&msg, config->size);
        if (config->size)
            memcpy (zmq_msg_data (&msg), template, config->size);
        while (zmq_msg_send (&msg, push, 0) == -1) {
            if (zmq_errno () != EINTR) {
                zmq_msg_close (&msg);
                free (template);
                return 0;               //  ETERM
            }
        }
    }
    free (template);
    return first_us;
}

//  Sink: receives COUNT messages of SIZE bytes; returns the time of the last.
static int64_t
s_sink_run (void *sink, const s_config_t *config)
{
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    long received = 0;
    while (received < config->count) {
        if (zmq_msg_recv (&msg, sink, 0) == -1) {
            if (zmq_errno () == EINTR)
                continue;
            s_die ("sink recv");
        }
        if (zmq_msg_size (&msg) != config->size) {
            fprintf (stderr, "raw_pipeline: message of %zu bytes, expected %zu\n",
                     zmq_msg_size (&msg), config->size);
            exit (3);
        }
        received++;
    }
    int64_t last_us = s_now_us ();
    zmq_msg_close (&msg);
    return last_us;
}

static int
s_compare_i64 (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y ? -1 : x > y;
}

//  Window mode: sends and receives in one thread, at most `window` in
//  flight; each message carries its send time in its first 8 bytes. Fills
//  timing's first_us, last_us and round-trip quantiles.
static void
s_window_run (void *push, void *sink, const s_config_t *config, s_timing_t *timing)
{
    char *template = (char *) malloc (config->size);
    int64_t *latencies_us = (int64_t *) calloc ((size_t) config->count, sizeof (int64_t));
    if (!template || !latencies_us)
        s_fail ("out of memory");
    memset (template, 'x', config->size);
    long sent = 0, received = 0;
    timing->first_us = s_now_us ();
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
        if (zmq_msg_recv (&msg, sink, 0) == -1) {
            zmq_msg_close (&msg);
            if (zmq_errno () == EINTR)
                continue;
            s_die ("sink recv");
        }
        int64_t sent_us;
        memcpy (&sent_us, zmq_msg_data (&msg), sizeof sent_us);
        latencies_us [received++] = s_now_us () - sent_us;
        zmq_msg_close (&msg);
    }
    timing->last_us = s_now_us ();
    free (template);
    long count = config->count;
    qsort (latencies_us, (size_t) count, sizeof (int64_t), s_compare_i64);
    timing->latency = true;
    timing->p50_us = latencies_us [(count - 1) / 2];
    timing->p99_us = latencies_us [(count * 99 + 99) / 100 - 1];
    timing->max_us = latencies_us [count - 1];
    free (latencies_us);
}

//  --- threads: one process, one context ---------------------------------------

typedef struct {
    void *ctx;
    void *push;
    const s_config_t *config;
    char vent_endpoint [S_ENDPOINT_MAX];
    char sink_endpoint [S_ENDPOINT_MAX];
    int64_t first_us;
} s_shared_t;

static void *
s_worker_thread (void *arg)
{
    s_shared_t *shared = (s_shared_t *) arg;
    s_worker_run (shared->ctx, shared->vent_endpoint, shared->sink_endpoint, shared->config->hwm);
    return NULL;
}

static void *
s_vent_thread (void *arg)
{
    s_shared_t *shared = (s_shared_t *) arg;
    shared->first_us = s_vent_run (shared->push, shared->config);
    return NULL;
}

static void
s_run_threads (const s_config_t *config, s_timing_t *timing)
{
    s_shared_t shared = { .config = config };
    shared.ctx = zmq_ctx_new ();
    if (!shared.ctx)
        s_die ("zmq_ctx_new");
    void *sink = s_socket (shared.ctx, ZMQ_PULL, config->hwm, 0);
    s_bind_ephemeral (sink, shared.sink_endpoint);
    void *monitor;
    shared.push = s_vent_open (shared.ctx, config->hwm, 0, shared.vent_endpoint, &monitor);
    pthread_t *workers = (pthread_t *) calloc ((size_t) config->workers, sizeof (pthread_t));
    if (!workers)
        s_fail ("out of memory");
    for (int i = 0; i < config->workers; i++)
        if (pthread_create (&workers [i], NULL, s_worker_thread, &shared) != 0)
            s_fail ("pthread_create failed");
    s_wait_handshakes (shared.push, monitor, config->workers);
    if (config->window > 0)
        s_window_run (shared.push, sink, config, timing);
    else {
        pthread_t vent;
        if (pthread_create (&vent, NULL, s_vent_thread, &shared) != 0)
            s_fail ("pthread_create failed");
        timing->last_us = s_sink_run (sink, config);
        pthread_join (vent, NULL);      //  it has sent everything by now
        timing->first_us = shared.first_us;
    }
    zmq_close (shared.push);
    zmq_close (sink);
    zmq_ctx_shutdown (shared.ctx);      //  workers' recv returns ETERM
    for (int i = 0; i < config->workers; i++)
        pthread_join (workers [i], NULL);
    free (workers);
    zmq_ctx_term (shared.ctx);
    timing->end_us = s_now_us ();
}

//  --- processes: the roles ------------------------------------------------------

//  Role sink: binds, prints its endpoint, counts, prints the last receive.
static int
s_role_sink (const s_config_t *config)
{
    void *ctx = zmq_ctx_new ();
    char endpoint [S_ENDPOINT_MAX];
    void *sink = s_socket (ctx, ZMQ_PULL, config->hwm, 0);
    s_bind_ephemeral (sink, endpoint);
    printf ("endpoint=%s\n", endpoint);
    fflush (stdout);
    int64_t last_us = s_sink_run (sink, config);
    printf ("last_us=%lld\n", (long long) last_us);
    fflush (stdout);
    zmq_close (sink);
    zmq_ctx_term (ctx);
    return 0;
}

//  Role vent: binds, prints its endpoint, waits for the workers, sends,
//  prints the first send's time, and exits once its queue is on TCP.
static int
s_role_vent (const s_config_t *config)
{
    void *ctx = zmq_ctx_new ();
    char endpoint [S_ENDPOINT_MAX];
    void *monitor;
    void *push = s_vent_open (ctx, config->hwm, -1, endpoint, &monitor);
    printf ("endpoint=%s\n", endpoint);
    fflush (stdout);
    s_wait_handshakes (push, monitor, config->workers);
    int64_t first_us = s_vent_run (push, config);
    printf ("first_us=%lld sent_us=%lld\n", (long long) first_us, (long long) s_now_us ());
    fflush (stdout);
    zmq_close (push);
    zmq_ctx_term (ctx);
    return 0;
}

//  Role client (window mode): ventilator and sink in one process.
static int
s_role_client (const s_config_t *config)
{
    void *ctx = zmq_ctx_new ();
    char vent_endpoint [S_ENDPOINT_MAX], sink_endpoint [S_ENDPOINT_MAX];
    void *sink = s_socket (ctx, ZMQ_PULL, config->hwm, 0);
    s_bind_ephemeral (sink, sink_endpoint);
    void *monitor;
    void *push = s_vent_open (ctx, config->hwm, 0, vent_endpoint, &monitor);
    printf ("vent=%s sink=%s\n", vent_endpoint, sink_endpoint);
    fflush (stdout);
    s_wait_handshakes (push, monitor, config->workers);
    s_timing_t timing = { 0 };
    s_window_run (push, sink, config, &timing);
    printf ("first_us=%lld last_us=%lld p50_us=%lld p99_us=%lld max_us=%lld\n",
            (long long) timing.first_us, (long long) timing.last_us, (long long) timing.p50_us,
            (long long) timing.p99_us, (long long) timing.max_us);
    fflush (stdout);
    zmq_close (push);
    zmq_close (sink);
    zmq_ctx_term (ctx);
    return 0;
}

static int
s_role_worker (const char *vent_endpoint, const char *sink_endpoint, int hwm)
{
    void *ctx = zmq_ctx_new ();
    s_worker_run (ctx, vent_endpoint, sink_endpoint, hwm);
    zmq_ctx_term (ctx);
    return 0;
}

//  --- processes: the launcher -----------------------------------------------------

typedef struct {
    pid_t pid;
    int out;                    //  read end of its stdout, or -1
} s_child_t;

//  Forks and execs this program with argv (NULL-terminated, argv [0]
//  ignored); with want_output its stdout is a pipe read through child->out.
//  The child dies with the launcher (PR_SET_PDEATHSIG).
static void
s_spawn (char **argv, bool want_output, s_child_t *child)
{
    int fds [2] = { -1, -1 };
    if (want_output && pipe (fds) == -1)
        s_fail ("pipe failed");
    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid == -1)
        s_fail ("fork failed");
    if (pid == 0) {
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        if (getppid () != parent)
            _exit (3);                  //  the launcher died before prctl
        if (want_output) {
            dup2 (fds [1], STDOUT_FILENO);
            close (fds [0]);
            close (fds [1]);
        }
        execv ("/proc/self/exe", argv);
        _exit (127);
    }
    if (want_output)
        close (fds [1]);
    child->pid = pid;
    child->out = fds [0];
}

//  Reads one line from fd into line (without its newline) before the
//  launcher's deadline (alarm) ends everything; fails on end of file.
static void
s_read_line (int fd, char *line, size_t size, const char *who)
{
    size_t used = 0;
    while (true) {
        char c;
        ssize_t got = read (fd, &c, 1);
        if (got == -1 && errno == EINTR)
            continue;
        if (got <= 0) {
            fprintf (stderr, "raw_pipeline: the %s ended without reporting\n", who);
            exit (3);
        }
        if (c == '\n')
            break;
        if (used + 1 < size)
            line [used++] = c;
    }
    line [used] = 0;
}

//  Copies the value of key=... in line (space-separated pairs) into value.
static void
s_field (const char *line, const char *key, char *value, size_t size)
{
    size_t key_len = strlen (key);
    for (const char *at = line; at && *at; at = strchr (at, ' '), at = at ? at + 1 : NULL) {
        if (strncmp (at, key, key_len) == 0 && at [key_len] == '=') {
            const char *start = at + key_len + 1;
            size_t len = strcspn (start, " ");
            if (len >= size)
                len = size - 1;
            memcpy (value, start, len);
            value [len] = 0;
            return;
        }
    }
    fprintf (stderr, "raw_pipeline: no %s in \"%s\"\n", key, line);
    exit (3);
}

static int64_t
s_field_i64 (const char *line, const char *key)
{
    char value [32];
    s_field (line, key, value, sizeof value);
    return strtoll (value, NULL, 10);
}

static void
s_spawn_workers (const s_config_t *config, char *vent_endpoint, char *sink_endpoint,
                 char *hwm, s_child_t *workers)
{
    char *argv [] = { "raw_pipeline", "--role", "worker", vent_endpoint, sink_endpoint, hwm, NULL };
    for (int i = 0; i < config->workers; i++)
        s_spawn (argv, false, &workers [i]);
}

static void
s_reap (s_child_t *child)
{
    int status;
    while (waitpid (child->pid, &status, 0) == -1 && errno == EINTR)
        ;
    if (child->out != -1)
        close (child->out);
}

static void
s_run_processes (const s_config_t *config, s_timing_t *timing)
{
    char count [32], size [32], hwm [32], workers [32], window [32];
    snprintf (count, sizeof count, "%ld", config->count);
    snprintf (size, sizeof size, "%zu", config->size);
    snprintf (hwm, sizeof hwm, "%d", config->hwm);
    snprintf (workers, sizeof workers, "%d", config->workers);
    snprintf (window, sizeof window, "%ld", config->window);
    s_child_t *worker = (s_child_t *) calloc ((size_t) config->workers, sizeof (s_child_t));
    if (!worker)
        s_fail ("out of memory");
    char line [S_LINE_MAX], vent_endpoint [S_ENDPOINT_MAX], sink_endpoint [S_ENDPOINT_MAX];
    s_child_t vent, sink = { .pid = -1, .out = -1 };
    if (config->window > 0) {
        char *argv [] = { "raw_pipeline", "--role", "client", count, size, hwm, workers, window, NULL };
        s_spawn (argv, true, &vent);
        s_read_line (vent.out, line, sizeof line, "client");
        s_field (line, "vent", vent_endpoint, sizeof vent_endpoint);
        s_field (line, "sink", sink_endpoint, sizeof sink_endpoint);
        s_spawn_workers (config, vent_endpoint, sink_endpoint, hwm, worker);
        s_read_line (vent.out, line, sizeof line, "client");
        timing->first_us = s_field_i64 (line, "first_us");
        timing->last_us = s_field_i64 (line, "last_us");
        timing->latency = true;
        timing->p50_us = s_field_i64 (line, "p50_us");
        timing->p99_us = s_field_i64 (line, "p99_us");
        timing->max_us = s_field_i64 (line, "max_us");
    }
    else {
        char *sink_argv [] = { "raw_pipeline", "--role", "sink", count, size, hwm, NULL };
        char *vent_argv [] = { "raw_pipeline", "--role", "vent", count, size, hwm, workers, NULL };
        s_spawn (sink_argv, true, &sink);
        s_spawn (vent_argv, true, &vent);
        s_read_line (sink.out, line, sizeof line, "sink");
        s_field (line, "endpoint", sink_endpoint, sizeof sink_endpoint);
        s_read_line (vent.out, line, sizeof line, "ventilator");
        s_field (line, "endpoint", vent_endpoint, sizeof vent_endpoint);
        s_spawn_workers (config, vent_endpoint, sink_endpoint, hwm, worker);
        s_read_line (sink.out, line, sizeof line, "sink");
        timing->last_us = s_field_i64 (line, "last_us");
        s_read_line (vent.out, line, sizeof line, "ventilator");
        timing->first_us = s_field_i64 (line, "first_us");
    }
    //  Every message is through: the workers have nothing left to do.
    for (int i = 0; i < config->workers; i++)
        kill (worker [i].pid, SIGKILL);
    for (int i = 0; i < config->workers; i++)
        s_reap (&worker [i]);
    s_reap (&vent);
    if (sink.pid != -1)
        s_reap (&sink);
    free (worker);
    timing->end_us = s_now_us ();
}

//  --- main -------------------------------------------------------------------------

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

static int
s_role (int argc, char *argv [])
{
    const char *role = argv [2];
    if (strcmp (role, "worker") == 0 && argc == 6)
        return s_role_worker (argv [3], argv [4], (int) s_arg (argv [5], "hwm", 0));
    s_config_t config = { .workers = 1 };
    if (argc >= 6) {
        config.count = s_arg (argv [3], "count", 1);
        config.size = (size_t) s_arg (argv [4], "size", 0);
        config.hwm = (int) s_arg (argv [5], "hwm", 0);
    }
    if (strcmp (role, "sink") == 0 && argc == 6)
        return s_role_sink (&config);
    if (strcmp (role, "vent") == 0 && argc == 7) {
        config.workers = (int) s_arg (argv [6], "workers", 1);
        return s_role_vent (&config);
    }
    if (strcmp (role, "client") == 0 && argc == 8) {
        config.workers = (int) s_arg (argv [6], "workers", 1);
        config.window = s_arg (argv [7], "window", 1);
        return s_role_client (&config);
    }
    fprintf (stderr, "raw_pipeline: bad role arguments\n");
    return 2;
}

static void
s_report (const char *mode, const s_config_t *config, const s_timing_t *timing)
{
    double elapsed_s = (double) (timing->last_us - timing->first_us) / 1e6;
    double from_start_s = (double) (timing->last_us - timing->start_us) / 1e6;
    if (elapsed_s <= 0)
        elapsed_s = 1e-6;
    double rate = (double) config->count / elapsed_s;
    printf ("raw_pipeline mode=%s messages=%ld workers=%d size=%zu hwm=%d window=%ld elapsed_s=%.6f"
            " msgs_per_s=%.1f mb_per_s=%.2f start_to_last_s=%.6f msgs_per_s_from_start=%.1f wall_s=%.6f",
            mode, config->count, config->workers, config->size, config->hwm, config->window,
            elapsed_s, rate, rate * (double) config->size / 1e6, from_start_s,
            (double) config->count / from_start_s, (double) (timing->end_us - timing->start_us) / 1e6);
    if (timing->latency)
        printf (" p50_us=%lld p99_us=%lld max_us=%lld", (long long) timing->p50_us,
                (long long) timing->p99_us, (long long) timing->max_us);
    printf ("\n");
}

int
main (int argc, char *argv [])
{
    if (argc >= 3 && strcmp (argv [1], "--role") == 0)
        return s_role (argc, argv);
    s_timing_t timing = { .start_us = s_now_us () };
    bool threads = false;
    s_config_t config = { .hwm = 1000, .timeout_s = 120 };
    int arg = 1;
    for (; arg < argc && strncmp (argv [arg], "--", 2) == 0; arg++) {
        if (strcmp (argv [arg], "--threads") == 0)
            threads = true;
        else
        if (strcmp (argv [arg], "--timeout") == 0 && arg + 1 < argc)
            config.timeout_s = (int) s_arg (argv [++arg], "timeout", 1);
        else
            break;
    }
    int left = argc - arg;
    if (left < 3 || left > 5) {
        fprintf (stderr, "Usage: raw_pipeline [--threads] [--timeout S] COUNT WORKERS SIZE [HWM [WINDOW]]\n");
        return 2;
    }
    config.count = s_arg (argv [arg], "count", 1);
    config.workers = (int) s_arg (argv [arg + 1], "workers", 1);
    config.size = (size_t) s_arg (argv [arg + 2], "size", 0);
    if (left >= 4)
        config.hwm = (int) s_arg (argv [arg + 3], "hwm", 0);
    if (left >= 5)
        config.window = s_arg (argv [arg + 4], "window", 0);
    if (config.window > 0 && config.size < sizeof (int64_t)) {
        fprintf (stderr, "raw_pipeline: WINDOW needs SIZE >= 8\n");
        return 2;
    }
    //  The deadline: SIGALRM ends the launcher, and its children die with it.
    alarm ((unsigned) config.timeout_s);
    if (threads)
        s_run_threads (&config, &timing);
    else
        s_run_processes (&config, &timing);
    s_report (threads ? "threads" : "processes", &config, &timing);
    return 0;
}
