/*  worker_options: the worker's command line (DESIGN.md, "Command line"). */
#ifndef WORKER_OPTIONS_H_INCLUDED
#define WORKER_OPTIONS_H_INCLUDED

#include "tm_codec.h"
#include "tm_endpoint.h"
#include "tm_http.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WORKER_DEFAULT_HEARTBEAT_MS 1000
#define WORKER_DEFAULT_DRAIN_TIMEOUT_MS 60000
#define WORKER_MAX_THREADS 1024
#define WORKER_DEFAULT_QUEUE 16384  //  the largest window it asks for
#define WORKER_MIN_QUEUE 1
#define WORKER_MAX_QUEUE 1048576
#define WORKER_MAX_PLUGINS 16

typedef struct {
    char tasks [TM_ENDPOINT_MAX];       //  --tasks, or tcp://HOST:5557
    char results [TM_ENDPOINT_MAX];     //  --results, or tcp://HOST:5558
    char control [TM_ENDPOINT_MAX];     //  --control, or tcp://HOST:5559
    size_t threads;                     //  --threads, default: cores; with scaling: at start
    size_t min_threads;                 //  --min-threads (0: a fixed pool)
    size_t max_threads;                 //  --max-threads (0: a fixed pool)
    uint32_t scale_threshold_ms;        //  --scale-threshold: a wait this long grows the pool
    uint32_t scale_shrink_after_ms;     //  --scale-shrink-after: no shrink sooner after growth
    bool allow_exec;                    //  --allow-exec
    char id [TM_MAX_WORKER_ID_BYTES + 1];   //  --id, default host/pid
    char host [TM_MAX_WORKER_ID_BYTES + 1]; //  this host's name
    bool once;                          //  --once: exit after one job
    uint32_t heartbeat_ms;              //  --heartbeat
    uint32_t drain_timeout_ms;          //  --drain-timeout
    size_t queue;                       //  --queue: the largest credit window
    size_t max_output_bytes;            //  --max-output: a task's output is cut here
    size_t max_frame_bytes;             //  --max-frame: the largest tasks frame taken
    bool verbose;                       //  --verbose
    const char *plugins [WORKER_MAX_PLUGINS];   //  --plugin, in order
    size_t plugin_count;
    bool list_handlers;                 //  --list-handlers: print the types and exit
    const char *cert_path;              //  --cert: our secret certificate (NULL: plaintext)
    const char *server_cert_path;       //  --server-cert: the master's public certificate
    bool metrics;                       //  --metrics given: serve /metrics over HTTP
    char metrics_host [TM_HTTP_HOST_MAX];   //  numeric IPv4 or IPv6 address to bind
    int metrics_port;                   //  0: any free port (logged)
} worker_options_t;

//  Parses argv into *options. Returns TM_EXIT_OK, TM_EXIT_HELP_SHOWN or
//  TM_EXIT_USAGE (message on stderr).
int worker_options_parse (worker_options_t *options, int argc, char *argv []);

#endif
