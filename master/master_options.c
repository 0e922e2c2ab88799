/*  master_options: getopt_long over the documented options. */
#include "master_options.h"
#include "tm_exit.h"
#include <czmq.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char *s_usage =
"Usage: taskmill-master [JOB | -] [options]\n"
"Runs a job on the workers connected to this master and writes one result\n"
"line per task. Exit status: 0 all tasks ok, 1 some task not ok, 2 bad usage\n"
"or input, 3 runtime failure.\n"
"\n"
"Input:\n"
"  JOB                  JSON Lines job file, one task per line; - for stdin\n"
"  --format jsonl|lines jsonl (default): {\"id\",\"type\",\"payload\"|\"payload_b64\",\n"
"                       \"timeout_ms\",\"retries\"}; lines: each line is a payload\n"
"  --type T             default task type (required with lines and --generate)\n"
"  --generate N         run N synthetic tasks instead of reading a job\n"
"  --payload-size BYTES payload size of generated tasks (default 0)\n"
"  --payload TEXT       payload of every generated task (e.g. 10 for sleep)\n"
"  --timeout MS         default task timeout (default 60000; 0: none)\n"
"  --retries N          default retries after a failure (default 2)\n"
"  --skip-invalid       report, count and skip malformed job lines instead of\n"
"                       stopping at the first (exit status 1 if any skipped)\n"
"  --max-line BYTES     longest job line (default 4194304; 1024 to 67108864):\n"
"                       a longer one is an error naming its line\n"
"  --max-payload BYTES  largest task payload, after base64 (default and most:\n"
"                       --max-frame less 1048576, 66060288): a larger one is\n"
"                       an error naming its line\n"
"Output:\n"
"  --out FILE           results file, appended (default: stdout)\n"
"  --summary FILE       write the aggregate as JSON to FILE\n"
"  --sync MS            fdatasync the results file at least every MS ms\n"
"                       (default 100, at least 100; 0: only at the end)\n"
"  --write-retry MS     how long a full disk is retried before the run stops\n"
"                       with status 3 (default 30000)\n"
"  --reduce R           aggregate the ok outputs: sum, count-words (merges\n"
"                       word-count objects), concat[:FILE] (outputs in seq\n"
"                       order into FILE, default concat.out), none (default)\n"
"  --reduce-max-words N count-words keeps at most N distinct words\n"
"                       (default 1000000; the rest are counted as dropped)\n"
"  --resume             run the same job again after a crash: skip every task\n"
"                       already in the --out file, complete the rest\n"
"  --quiet              no progress line and no summary on stderr\n"
"  --verbose            debug logging\n"
"Dispatch:\n"
"  --window N           most tasks held at once, queued here or sent (default\n"
"                       20000)\n"
"  --window-mb MB       most payload megabytes in flight at once (default 256)\n"
"  --min-workers N      send nothing until N workers have granted credit\n"
"  --lease-grace MS     added to a task's timeout to form its lease (default 5000)\n"
"  --worker-timeout MS  a worker silent this long is lost and the tasks it held\n"
"                       are sent again at once (default 3000: 3 heartbeats)\n"
"  --speculate          once nothing is left to send, copy a task running over\n"
"                       3x the median time of its type (and --speculate-min)\n"
"                       to an idle worker; the first result wins\n"
"  --speculate-exec     copy exec tasks too (they may have side effects)\n"
"  --speculate-min MS   the least a task runs before it is copied (default 1000)\n"
"  --retry-backoff MS   a retry waits MS, doubled at each further attempt, up to\n"
"                       30 s (default 100; 0: retry at once)\n"
"Security (DESIGN.md, \"Security\"; taskmill keygen NAME makes keys):\n"
"  --cert FILE          this master's secret certificate (NAME_secret): CURVE\n"
"                       on every socket, with --allow\n"
"  --allow DIR          the public certificates of the workers and operators\n"
"                       admitted; files added there are picked up at the\n"
"                       next connection\n"
"Sockets (default tcp://*:5557, 5558, 5559, 5560):\n"
"  --bind-tasks EP      tasks endpoint (ROUTER: tasks to workers, credit back)\n"
"  --bind-results EP    results endpoint (PULL from workers)\n"
"  --bind-control EP    control endpoint (XPUB to workers' SUB)\n"
"  --bind-admin EP      admin endpoint (taskmill status and drain)\n"
"  --max-frame BYTES    largest frame the results endpoint takes; a larger one\n"
"                       drops its connection (default 67108864, at least\n"
"                       4194304). Batches of tasks stay under a quarter of it:\n"
"                       give workers the same --max-frame\n"
"  --http [ADDR:]PORT   serve a dashboard (/), /api/status and /metrics over\n"
"                       HTTP on ADDR (default 127.0.0.1; * for every address,\n"
"                       [::1] for IPv6); off unless given\n"
"  --help               this text\n";

enum {
    OPT_OUT = 256, OPT_SUMMARY, OPT_SYNC, OPT_RESUME, OPT_WINDOW_MB, OPT_FORMAT, OPT_TYPE,
    OPT_GENERATE, OPT_PAYLOAD_SIZE, OPT_PAYLOAD, OPT_TIMEOUT, OPT_RETRIES, OPT_SKIP_INVALID,
    OPT_WINDOW, OPT_MIN_WORKERS, OPT_LEASE_GRACE, OPT_WORKER_TIMEOUT, OPT_RETRY_BACKOFF,
    OPT_WRITE_RETRY, OPT_REDUCE, OPT_REDUCE_MAX_WORDS, OPT_SPECULATE, OPT_SPECULATE_EXEC,
    OPT_SPECULATE_MIN, OPT_CERT, OPT_ALLOW, OPT_MAX_LINE, OPT_MAX_PAYLOAD, OPT_MAX_FRAME,
    OPT_BIND_TASKS, OPT_BIND_RESULTS,
    OPT_BIND_CONTROL, OPT_BIND_ADMIN, OPT_HTTP, OPT_QUIET, OPT_VERBOSE, OPT_HELP
};

static const struct option s_options [] = {
    { "out", required_argument, NULL, OPT_OUT },
    { "summary", required_argument, NULL, OPT_SUMMARY },
    { "resume", no_argument, NULL, OPT_RESUME },
    { "format", required_argument, NULL, OPT_FORMAT },
    { "type", required_argument, NULL, OPT_TYPE },
    { "generate", required_argument, NULL, OPT_GENERATE },
    { "payload-size", required_argument, NULL, OPT_PAYLOAD_SIZE },
    { "payload", required_argument, NULL, OPT_PAYLOAD },
    { "timeout", required_argument, NULL, OPT_TIMEOUT },
    { "retries", required_argument, NULL, OPT_RETRIES },
    { "skip-invalid", no_argument, NULL, OPT_SKIP_INVALID },
    { "window", required_argument, NULL, OPT_WINDOW },
    { "window-mb", required_argument, NULL, OPT_WINDOW_MB },
    { "min-workers", required_argument, NULL, OPT_MIN_WORKERS },
    { "lease-grace", required_argument, NULL, OPT_LEASE_GRACE },
    { "worker-timeout", required_argument, NULL, OPT_WORKER_TIMEOUT },
    { "retry-backoff", required_argument, NULL, OPT_RETRY_BACKOFF },
    { "write-retry", required_argument, NULL, OPT_WRITE_RETRY },
    { "reduce", required_argument, NULL, OPT_REDUCE },
    { "speculate", no_argument, NULL, OPT_SPECULATE },
    { "speculate-exec", no_argument, NULL, OPT_SPECULATE_EXEC },
    { "speculate-min", required_argument, NULL, OPT_SPECULATE_MIN },
    { "reduce-max-words", required_argument, NULL, OPT_REDUCE_MAX_WORDS },
    { "sync", required_argument, NULL, OPT_SYNC },
    { "max-line", required_argument, NULL, OPT_MAX_LINE },
    { "max-payload", required_argument, NULL, OPT_MAX_PAYLOAD },
    { "max-frame", required_argument, NULL, OPT_MAX_FRAME },
    { "cert", required_argument, NULL, OPT_CERT },
    { "allow", required_argument, NULL, OPT_ALLOW },
    { "bind-tasks", required_argument, NULL, OPT_BIND_TASKS },
    { "bind-results", required_argument, NULL, OPT_BIND_RESULTS },
    { "bind-control", required_argument, NULL, OPT_BIND_CONTROL },
    { "bind-admin", required_argument, NULL, OPT_BIND_ADMIN },
    { "http", required_argument, NULL, OPT_HTTP },
    { "quiet", no_argument, NULL, OPT_QUIET },
    { "verbose", no_argument, NULL, OPT_VERBOSE },
    { "help", no_argument, NULL, OPT_HELP },
    { NULL, 0, NULL, 0 }
};

static int
s_usage_error (const char *format, const char *value)
{
    fprintf (stderr, "taskmill-master: ");
    fprintf (stderr, format, value);
    fprintf (stderr, "\nTry 'taskmill-master --help'.\n");
    return TM_EXIT_USAGE;
}

static int
s_number (const char *name, const char *text, long long min, long long max, long long *value)
{
    if (tm_parse_int (text, min, max, value) == 0)
        return 0;
    fprintf (stderr, "taskmill-master: --%s wants a whole number from %lld to %lld, not '%s'\n",
             name, min, max, text);
    return -1;
}

static int
s_endpoint (char *target, const char *text)
{
    if (!tm_endpoint_valid (text))
        return -1;
    snprintf (target, TM_ENDPOINT_MAX, "%s", text);
    return 0;
}

//  --http [ADDR:]PORT (tm_http_parse_listen). Returns 0, or -1.
static int
s_http (master_options_t *options, const char *text)
{
    if (tm_http_parse_listen (text, options->http_host, &options->http_port) != 0)
        return -1;
    options->http = true;
    return 0;
}

static void
s_defaults (master_options_t *options)
{
    memset (options, 0, sizeof *options);
    options->job.format = JOB_FORMAT_JSONL;
    options->job.default_timeout_ms = MASTER_DEFAULT_TIMEOUT_MS;
    options->job.default_retries = MASTER_DEFAULT_RETRIES;
    options->window = MASTER_DEFAULT_WINDOW;
    options->window_bytes = (uint64_t) MASTER_DEFAULT_WINDOW_MB * 1024 * 1024;
    options->lease_grace_ms = MASTER_DEFAULT_LEASE_GRACE_MS;
    options->worker_timeout_ms = MASTER_DEFAULT_WORKER_TIMEOUT_MS;
    options->retry_backoff_ms = MASTER_DEFAULT_RETRY_BACKOFF_MS;
    options->sync_ms = MASTER_DEFAULT_SYNC_MS;
    options->write_retry_ms = MASTER_DEFAULT_WRITE_RETRY_MS;
    options->speculate_min_ms = 1000;
    options->job.max_line_bytes = JOB_READER_MAX_LINE_BYTES;
    options->job.max_payload_bytes = SIZE_MAX;     //  not given: the frame's room
    options->max_frame_bytes = TM_MAX_FRAME_BYTES;
    tm_endpoint_format (options->bind_tasks, TM_ENDPOINT_MAX, "*", TM_PORT_TASKS);
    tm_endpoint_format (options->bind_results, TM_ENDPOINT_MAX, "*", TM_PORT_RESULTS);
    tm_endpoint_format (options->bind_control, TM_ENDPOINT_MAX, "*", TM_PORT_CONTROL);
    tm_endpoint_format (options->bind_admin, TM_ENDPOINT_MAX, "*", TM_PORT_ADMIN);
}

//  Applies one option. Returns 0, or an exit status.
static int
s_apply (master_options_t *options, int option, const char *arg)
{
    long long value;
    switch (option) {
        case OPT_OUT: options->out_path = arg; break;
        case OPT_SUMMARY: options->summary_path = arg; break;
        case OPT_RESUME: options->resume = true; break;
        case OPT_FORMAT:
            if (streq (arg, "jsonl")) options->job.format = JOB_FORMAT_JSONL;
            else if (streq (arg, "lines")) options->job.format = JOB_FORMAT_LINES;
            else return s_usage_error ("--format is jsonl or lines, not '%s'", arg);
            break;
        case OPT_TYPE: options->job.default_type = arg; break;
        case OPT_GENERATE:
            if (s_number ("generate", arg, 1, 1000000000000LL, &value)) return TM_EXIT_USAGE;
            options->job.generate_count = (uint64_t) value;
            break;
        case OPT_PAYLOAD_SIZE:
            if (s_number ("payload-size", arg, 0, 16 * 1024 * 1024, &value)) return TM_EXIT_USAGE;
            options->job.payload_size = (size_t) value;
            break;
        case OPT_PAYLOAD: options->job.payload = arg; break;
        case OPT_TIMEOUT:
            if (s_number ("timeout", arg, 0, 2147483647, &value)) return TM_EXIT_USAGE;
            options->job.default_timeout_ms = (uint32_t) value;
            break;
        case OPT_RETRIES:
            if (s_number ("retries", arg, 0, JOB_READER_MAX_RETRIES, &value)) return TM_EXIT_USAGE;
            options->job.default_retries = (uint32_t) value;
            break;
        case OPT_SKIP_INVALID: options->job.skip_invalid = true; break;
        case OPT_WINDOW:
            if (s_number ("window", arg, 1, 10000000, &value)) return TM_EXIT_USAGE;
            options->window = (uint32_t) value;
            break;
        case OPT_WINDOW_MB:
            if (s_number ("window-mb", arg, 1, 1048576, &value)) return TM_EXIT_USAGE;
            options->window_bytes = (uint64_t) value * 1024 * 1024;
            break;
        case OPT_MIN_WORKERS:
            if (s_number ("min-workers", arg, 0, 100000, &value)) return TM_EXIT_USAGE;
            options->min_workers = (uint32_t) value;
            break;
        case OPT_LEASE_GRACE:
            if (s_number ("lease-grace", arg, 0, 86400000, &value)) return TM_EXIT_USAGE;
            options->lease_grace_ms = (uint32_t) value;
            break;
        case OPT_WORKER_TIMEOUT:
            if (s_number ("worker-timeout", arg, 100, 86400000, &value)) return TM_EXIT_USAGE;
            options->worker_timeout_ms = (uint32_t) value;
            break;
        case OPT_SYNC:
            if (s_number ("sync", arg, 0, 3600000, &value)) return TM_EXIT_USAGE;
            if (value > 0 && value < 100) {
                fprintf (stderr, "taskmill-master: --sync wants 0, or 100 ms or more (the master's "
                                 "tick), not %s\n", arg);
                return TM_EXIT_USAGE;
            }
            options->sync_ms = (uint32_t) value;
            break;
        case OPT_SPECULATE: options->speculate = true; break;
        case OPT_SPECULATE_EXEC: options->speculate = options->speculate_exec = true; break;
        case OPT_SPECULATE_MIN:
            if (s_number ("speculate-min", arg, 0, 86400000, &value)) return TM_EXIT_USAGE;
            options->speculate_min_ms = (uint32_t) value;
            break;
        case OPT_REDUCE:
            if (reducer_parse (arg, &options->reduce, &options->reduce_path) != 0)
                return s_usage_error ("--reduce wants sum, count-words, concat[:FILE] or "
                                      "none, not '%s'", arg);
            break;
        case OPT_REDUCE_MAX_WORDS:
            if (s_number ("reduce-max-words", arg, 1, 100000000, &value)) return TM_EXIT_USAGE;
            options->reduce_max_words = (uint32_t) value;
            break;
        case OPT_WRITE_RETRY:
            if (s_number ("write-retry", arg, 0, 86400000, &value)) return TM_EXIT_USAGE;
            options->write_retry_ms = (uint32_t) value;
            break;
        case OPT_RETRY_BACKOFF:
            if (s_number ("retry-backoff", arg, 0, 30000, &value)) return TM_EXIT_USAGE;
            options->retry_backoff_ms = (uint32_t) value;
            break;
        case OPT_MAX_LINE:
            if (s_number ("max-line", arg, 1024, TM_MAX_FRAME_BYTES, &value)) return TM_EXIT_USAGE;
            options->job.max_line_bytes = (size_t) value;
            break;
        case OPT_MAX_PAYLOAD:
            if (s_number ("max-payload", arg, 0, TM_MAX_PAYLOAD_BYTES, &value)) return TM_EXIT_USAGE;
            options->job.max_payload_bytes = (size_t) value;
            break;
        case OPT_MAX_FRAME:
            if (s_number ("max-frame", arg, TM_MIN_FRAME_BYTES, TM_MAX_FRAME_BYTES, &value))
                return TM_EXIT_USAGE;
            options->max_frame_bytes = (size_t) value;
            break;
        case OPT_CERT: options->cert_path = arg; break;
        case OPT_ALLOW: options->allow_dir = arg; break;
        case OPT_BIND_TASKS:
            if (s_endpoint (options->bind_tasks, arg)) return s_usage_error ("bad endpoint '%s'", arg);
            break;
        case OPT_BIND_RESULTS:
            if (s_endpoint (options->bind_results, arg)) return s_usage_error ("bad endpoint '%s'", arg);
            break;
        case OPT_BIND_CONTROL:
            if (s_endpoint (options->bind_control, arg)) return s_usage_error ("bad endpoint '%s'", arg);
            break;
        case OPT_BIND_ADMIN:
            if (s_endpoint (options->bind_admin, arg)) return s_usage_error ("bad endpoint '%s'", arg);
            break;
        case OPT_HTTP:
            if (s_http (options, arg))
                return s_usage_error ("--http wants [ADDR:]PORT (ADDR numeric, * or [IPv6]), "
                                      "not '%s'", arg);
            break;
        case OPT_QUIET: options->quiet = true; break;
        case OPT_VERBOSE: options->verbose = true; break;
        case OPT_HELP:
            fputs (s_usage, stdout);
            return TM_EXIT_HELP_SHOWN;
        default:
            fprintf (stderr, "Try 'taskmill-master --help'.\n");
            return TM_EXIT_USAGE;
    }
    return 0;
}

//  A task of the largest payload must fit a frame; so must a generated one.
static int
s_check_limits (master_options_t *options)
{
    job_reader_config_t *job = &options->job;
    if (job->max_payload_bytes == SIZE_MAX)
        job->max_payload_bytes = options->max_frame_bytes - TM_FRAME_OVERHEAD_BYTES;
    if (job->max_payload_bytes + TM_FRAME_OVERHEAD_BYTES > options->max_frame_bytes) {
        fprintf (stderr, "taskmill-master: --max-payload %zu does not fit --max-frame %zu "
                 "(a payload may be at most the frame less %d bytes)\n",
                 job->max_payload_bytes, options->max_frame_bytes, TM_FRAME_OVERHEAD_BYTES);
        return -1;
    }
    size_t generated = job->payload ? strlen (job->payload) : job->payload_size;
    if (job->format == JOB_FORMAT_GENERATE && generated > job->max_payload_bytes) {
        fprintf (stderr, "taskmill-master: the generated payload (%zu bytes) is over "
                 "--max-payload %zu\n", generated, job->max_payload_bytes);
        return -1;
    }
    return 0;
}

static int
s_check_input (master_options_t *options, int argc, char *argv [])
{
    if (optind < argc - 1)
        return s_usage_error ("one job at a time, but got '%s' too", argv [optind + 1]);
    options->job_path = optind < argc ? argv [optind] : NULL;
    if (options->job.generate_count) {
        if (options->job_path)
            return s_usage_error ("--generate takes no job file ('%s')", options->job_path);
        options->job.format = JOB_FORMAT_GENERATE;
        if (!options->job.default_type)
            options->job.default_type = "noop";
    }
    else
    if (!options->job_path)
        return s_usage_error ("%s", "no job: give a job file, - for stdin, or --generate N");
    if (options->resume && (!options->out_path || streq (options->out_path, "-")))
        return s_usage_error ("%s", "--resume needs --out FILE (the results to resume from)");
    if (!options->cert_path != !options->allow_dir)
        return s_usage_error ("%s", "--cert FILE and --allow DIR go together (CURVE on every "
                                    "socket)");
    if (options->job.format == JOB_FORMAT_LINES && !options->job.default_type)
        return s_usage_error ("%s", "--format lines needs --type");
    return s_check_limits (options);
}

int
master_options_parse (master_options_t *options, int argc, char *argv [])
{
    s_defaults (options);
    optind = 1;
    opterr = 1;
    int option;
    while ((option = getopt_long (argc, argv, "", s_options, NULL)) != -1) {
        int rc = s_apply (options, option, optarg);
        if (rc != 0)
            return rc;
    }
    return s_check_input (options, argc, argv) ? TM_EXIT_USAGE : TM_EXIT_OK;
}
