/*  worker_options: getopt_long over the documented options. */
#include "worker_options.h"
#include "handler_registry.h"
#include "tm_exit.h"
#include <czmq.h>
#include <getopt.h>
#include <unistd.h>

static const char *s_usage =
"Usage: taskmill-worker HOST [options]\n"
"Connects to the taskmill master on HOST, runs the tasks it sends and sends\n"
"back their results. Stays up across jobs and master restarts. SIGTERM\n"
"drains (finish what is queued and running, send it, exit 0); a second\n"
"SIGTERM exits at once (status 3).\n"
"\n"
"  HOST                 the master's host name or address\n"
"  --tasks EP           tasks endpoint (default tcp://HOST:5557)\n"
"  --results EP         results endpoint (default tcp://HOST:5558)\n"
"  --control EP         control endpoint (default tcp://HOST:5559)\n"
"  --threads N          executor threads (default: number of cores)\n"
"  --min-threads N --max-threads M\n"
"                       instead of --threads: a pool that grows (at once)\n"
"                       while queued tasks wait past --scale-threshold and\n"
"                       shrinks (one thread at a time) when they stop\n"
"  --scale-threshold MS the wait that grows the pool (default 50)\n"
"  --scale-shrink-after MS\n"
"                       no shrinking sooner than this after growing\n"
"                       (default 30000)\n"
"  --allow-exec         allow exec tasks (shell commands); refused otherwise\n"
"  --id NAME            worker id in results (default HOST/PID of this host)\n"
"  --once               exit after the first job ends\n"
"  --heartbeat MS       heartbeat interval (default 1000)\n"
"  --drain-timeout MS   longest a drain may take before exiting (default 60000)\n"
"  --queue N            the most tasks it asks to hold, queued and running\n"
"                       (default 16384; it asks for what one round trip at\n"
"                       its measured rate needs, and no more)\n"
"  --max-output BYTES   a task's output is cut to its first BYTES (default\n"
"                       1048576; at most --max-frame less 1048576)\n"
"  --max-frame BYTES    largest frame the tasks endpoint takes; a larger one\n"
"                       drops its connection (default 67108864, at least\n"
"                       4194304). Batches of results stay under a quarter of\n"
"                       it: give the master the same --max-frame\n"
"  --plugin LIB.so      load task types from a plugin (taskmill/plugin.h);\n"
"                       repeatable, up to 16\n"
"  --list-handlers      print every task type (built-in and plugins), exit\n"
"  --cert FILE          this worker's secret certificate (NAME_secret; its\n"
"                       public NAME is in the master's --allow directory):\n"
"                       CURVE on every socket, with --server-cert\n"
"  --server-cert FILE   the master's public certificate\n"
"  --metrics [ADDR:]PORT\n"
"                       serve this worker's Prometheus metrics at /metrics\n"
"                       over HTTP on ADDR (default 127.0.0.1; * for every\n"
"                       address, [::1] for IPv6); off unless given\n"
"  --verbose            debug logging\n"
"  --help               this text\n";

enum {
    OPT_TASKS = 256, OPT_RESULTS, OPT_CONTROL, OPT_THREADS, OPT_ALLOW_EXEC,
    OPT_ID, OPT_ONCE, OPT_HEARTBEAT, OPT_DRAIN_TIMEOUT, OPT_QUEUE, OPT_VERBOSE, OPT_HELP,
    OPT_PLUGIN, OPT_LIST_HANDLERS, OPT_MIN_THREADS, OPT_MAX_THREADS, OPT_SCALE_THRESHOLD,
    OPT_SCALE_SHRINK_AFTER, OPT_CERT, OPT_SERVER_CERT, OPT_METRICS, OPT_MAX_OUTPUT, OPT_MAX_FRAME
};

static const struct option s_options [] = {
    { "tasks", required_argument, NULL, OPT_TASKS },
    { "results", required_argument, NULL, OPT_RESULTS },
    { "control", required_argument, NULL, OPT_CONTROL },
    { "threads", required_argument, NULL, OPT_THREADS },
    { "allow-exec", no_argument, NULL, OPT_ALLOW_EXEC },
    { "id", required_argument, NULL, OPT_ID },
    { "once", no_argument, NULL, OPT_ONCE },
    { "heartbeat", required_argument, NULL, OPT_HEARTBEAT },
    { "drain-timeout", required_argument, NULL, OPT_DRAIN_TIMEOUT },
    { "queue", required_argument, NULL, OPT_QUEUE },
    { "max-output", required_argument, NULL, OPT_MAX_OUTPUT },
    { "max-frame", required_argument, NULL, OPT_MAX_FRAME },
    { "verbose", no_argument, NULL, OPT_VERBOSE },
    { "plugin", required_argument, NULL, OPT_PLUGIN },
    { "list-handlers", no_argument, NULL, OPT_LIST_HANDLERS },
    { "min-threads", required_argument, NULL, OPT_MIN_THREADS },
    { "max-threads", required_argument, NULL, OPT_MAX_THREADS },
    { "scale-threshold", required_argument, NULL, OPT_SCALE_THRESHOLD },
    { "scale-shrink-after", required_argument, NULL, OPT_SCALE_SHRINK_AFTER },
    { "cert", required_argument, NULL, OPT_CERT },
    { "server-cert", required_argument, NULL, OPT_SERVER_CERT },
    { "metrics", required_argument, NULL, OPT_METRICS },
    { "help", no_argument, NULL, OPT_HELP },
    { NULL, 0, NULL, 0 }
};

static int
s_usage_error (const char *what, const char *value)
{
    fprintf (stderr, "taskmill-worker: %s '%s'\nTry 'taskmill-worker --help'.\n", what, value);
    return TM_EXIT_USAGE;
}

static int
s_copy_endpoint (char *target, const char *text)
{
    if (!tm_endpoint_valid (text))
        return s_usage_error ("bad endpoint", text);
    snprintf (target, TM_ENDPOINT_MAX, "%s", text);
    return 0;
}

static int
s_apply (worker_options_t *options, int option, const char *arg)
{
    long long value;
    switch (option) {
        case OPT_TASKS: return s_copy_endpoint (options->tasks, arg);
        case OPT_RESULTS: return s_copy_endpoint (options->results, arg);
        case OPT_CONTROL: return s_copy_endpoint (options->control, arg);
        case OPT_THREADS:
            if (tm_parse_int (arg, 1, WORKER_MAX_THREADS, &value))
                return s_usage_error ("--threads wants 1 to 1024, not", arg);
            options->threads = (size_t) value;
            return 0;
        case OPT_ALLOW_EXEC: options->allow_exec = true; return 0;
        case OPT_ID:
            if (!*arg || strlen (arg) > TM_MAX_WORKER_ID_BYTES)
                return s_usage_error ("--id wants 1 to 256 bytes, not", arg);
            snprintf (options->id, sizeof options->id, "%s", arg);
            return 0;
        case OPT_ONCE: options->once = true; return 0;
        case OPT_MAX_OUTPUT:
            if (tm_parse_int (arg, 0, TM_MAX_PAYLOAD_BYTES, &value))
                return s_usage_error ("--max-output wants 0 to 66060288 bytes, not", arg);
            options->max_output_bytes = (size_t) value;
            return 0;
        case OPT_MAX_FRAME:
            if (tm_parse_int (arg, TM_MIN_FRAME_BYTES, TM_MAX_FRAME_BYTES, &value))
                return s_usage_error ("--max-frame wants 4194304 to 67108864 bytes, not", arg);
            options->max_frame_bytes = (size_t) value;
            return 0;
        case OPT_HEARTBEAT:
            if (tm_parse_int (arg, 10, 3600000, &value))
                return s_usage_error ("--heartbeat wants 10 to 3600000 ms, not", arg);
            options->heartbeat_ms = (uint32_t) value;
            return 0;
        case OPT_DRAIN_TIMEOUT:
            if (tm_parse_int (arg, 0, 86400000, &value))
                return s_usage_error ("--drain-timeout wants 0 to 86400000 ms, not", arg);
            options->drain_timeout_ms = (uint32_t) value;
            return 0;
        case OPT_QUEUE:
            if (tm_parse_int (arg, WORKER_MIN_QUEUE, WORKER_MAX_QUEUE, &value))
                return s_usage_error ("--queue wants 1 to 1048576 tasks, not", arg);
            options->queue = (size_t) value;
            return 0;
        case OPT_VERBOSE: options->verbose = true; return 0;
        case OPT_PLUGIN:
            if (options->plugin_count == WORKER_MAX_PLUGINS)
                return s_usage_error ("at most 16 --plugin, not one more:", arg);
            options->plugins [options->plugin_count++] = arg;
            return 0;
        case OPT_LIST_HANDLERS: options->list_handlers = true; return 0;
        case OPT_MIN_THREADS:
        case OPT_MAX_THREADS:
            if (tm_parse_int (arg, 1, WORKER_MAX_THREADS, &value))
                return s_usage_error ("--min-threads and --max-threads want 1 to 1024, not", arg);
            *(option == OPT_MIN_THREADS ? &options->min_threads : &options->max_threads) =
                (size_t) value;
            return 0;
        case OPT_SCALE_THRESHOLD:
            if (tm_parse_int (arg, 1, 3600000, &value))
                return s_usage_error ("--scale-threshold wants 1 to 3600000 ms, not", arg);
            options->scale_threshold_ms = (uint32_t) value;
            return 0;
        case OPT_SCALE_SHRINK_AFTER:
            if (tm_parse_int (arg, 0, 86400000, &value))
                return s_usage_error ("--scale-shrink-after wants 0 to 86400000 ms, not", arg);
            options->scale_shrink_after_ms = (uint32_t) value;
            return 0;
        case OPT_CERT: options->cert_path = arg; return 0;
        case OPT_SERVER_CERT: options->server_cert_path = arg; return 0;
        case OPT_METRICS:
            if (tm_http_parse_listen (arg, options->metrics_host, &options->metrics_port))
                return s_usage_error ("--metrics wants [ADDR:]PORT (ADDR numeric, * or [IPv6]), "
                                      "not", arg);
            options->metrics = true;
            return 0;
        case OPT_HELP:
            fputs (s_usage, stdout);
            return TM_EXIT_HELP_SHOWN;
    }
    fprintf (stderr, "Try 'taskmill-worker --help'.\n");
    return TM_EXIT_USAGE;
}

//  Fills the endpoints not given from HOST, and the default id.
static int
s_complete (worker_options_t *options, const char *host)
{
    if ((!*options->tasks && tm_endpoint_format (options->tasks, TM_ENDPOINT_MAX, host, TM_PORT_TASKS))
    ||  (!*options->results && tm_endpoint_format (options->results, TM_ENDPOINT_MAX, host, TM_PORT_RESULTS))
    ||  (!*options->control && tm_endpoint_format (options->control, TM_ENDPOINT_MAX, host, TM_PORT_CONTROL)))
        return s_usage_error ("bad master host", host);
    if (gethostname (options->host, sizeof options->host - 1) != 0)
        snprintf (options->host, sizeof options->host, "unknown");
    if (!*options->id)
        snprintf (options->id, sizeof options->id, "%.200s/%d", options->host, (int) getpid ());
    if (!options->cert_path != !options->server_cert_path) {
        fprintf (stderr, "taskmill-worker: --cert FILE and --server-cert FILE go together "
                         "(CURVE on every socket)\nTry 'taskmill-worker --help'.\n");
        return -1;
    }
    if (options->min_threads || options->max_threads) {
        if (!options->min_threads || !options->max_threads || options->threads
        ||  options->min_threads > options->max_threads) {
            fprintf (stderr, "taskmill-worker: give --min-threads N and --max-threads M together, "
                             "N <= M, and not --threads\nTry 'taskmill-worker --help'.\n");
            return -1;
        }
        options->threads = options->min_threads;
    }
    if (options->max_output_bytes + TM_FRAME_OVERHEAD_BYTES > options->max_frame_bytes) {
        fprintf (stderr, "taskmill-worker: --max-output %zu does not fit --max-frame %zu (an "
                         "output may be at most the frame less %d bytes)\n"
                         "Try 'taskmill-worker --help'.\n",
                 options->max_output_bytes, options->max_frame_bytes, TM_FRAME_OVERHEAD_BYTES);
        return -1;
    }
    if (!options->threads) {
        long cores = sysconf (_SC_NPROCESSORS_ONLN);
        options->threads = cores > 0 ? (size_t) cores : 1;
    }
    return 0;
}

int
worker_options_parse (worker_options_t *options, int argc, char *argv [])
{
    memset (options, 0, sizeof *options);
    options->heartbeat_ms = WORKER_DEFAULT_HEARTBEAT_MS;
    options->drain_timeout_ms = WORKER_DEFAULT_DRAIN_TIMEOUT_MS;
    options->queue = WORKER_DEFAULT_QUEUE;
    options->max_output_bytes = HANDLER_MAX_OUTPUT_BYTES;
    options->max_frame_bytes = TM_MAX_FRAME_BYTES;
    options->scale_threshold_ms = 50;
    options->scale_shrink_after_ms = 30000;
    optind = 1;
    int option;
    while ((option = getopt_long (argc, argv, "", s_options, NULL)) != -1) {
        int rc = s_apply (options, option, optarg);
        if (rc != 0)
            return rc;
    }
    //  --list-handlers needs no master.
    bool host_given = optind == argc - 1;
    if (!host_given && !(options->list_handlers && optind == argc)) {
        fprintf (stderr, "taskmill-worker: give exactly one HOST (the master)\n"
                         "Try 'taskmill-worker --help'.\n");
        return TM_EXIT_USAGE;
    }
    return s_complete (options, host_given ? argv [optind] : "localhost")
         ? TM_EXIT_USAGE : TM_EXIT_OK;
}
