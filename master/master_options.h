/*  master_options: the master's command line (DESIGN.md, "Command line"),
    parsed and checked before any socket exists.
*/
#ifndef MASTER_OPTIONS_H_INCLUDED
#define MASTER_OPTIONS_H_INCLUDED

#include "job_reader.h"
#include "reducer.h"
#include "tm_endpoint.h"
#include "tm_http.h"
#include "tm_limits.h"
#include <stdbool.h>
#include <stdint.h>

#define MASTER_DEFAULT_WINDOW 20000
#define MASTER_DEFAULT_WINDOW_MB 256
#define MASTER_DEFAULT_TIMEOUT_MS 60000
#define MASTER_DEFAULT_RETRIES 2
#define MASTER_DEFAULT_LEASE_GRACE_MS 5000
#define MASTER_DEFAULT_WORKER_TIMEOUT_MS 3000
#define MASTER_DEFAULT_RETRY_BACKOFF_MS 100
#define MASTER_DEFAULT_SYNC_MS 100
#define MASTER_DEFAULT_WRITE_RETRY_MS 30000

typedef struct {
    const char *job_path;           //  JOB or "-"; NULL with --generate
    const char *out_path;           //  --out; NULL: stdout
    const char *summary_path;       //  --summary; NULL: none
    job_reader_config_t job;        //  format, defaults, generation
    uint32_t window;                //  --window: most tasks in flight
    uint64_t window_bytes;          //  --window-mb: most payload bytes in flight
    uint32_t min_workers;           //  --min-workers: wait for this many before sending
    uint32_t lease_grace_ms;        //  --lease-grace: added to a task's timeout
    uint32_t worker_timeout_ms;     //  --worker-timeout: silence that makes a worker lost
    uint32_t retry_backoff_ms;      //  --retry-backoff: wait before the first retry
    uint32_t sync_ms;               //  --sync: fdatasync interval (0: at the end only)
    uint32_t write_retry_ms;        //  --write-retry: how long a full disk is retried
    size_t max_frame_bytes;         //  --max-frame: the largest frame the results socket takes
    reducer_kind_t reduce;          //  --reduce
    const char *reduce_path;        //  --reduce concat:FILE
    uint32_t reduce_max_words;      //  --reduce-max-words
    bool speculate;                 //  --speculate: copies of stragglers near the end
    bool speculate_exec;            //  --speculate-exec: exec tasks too
    uint32_t speculate_min_ms;      //  --speculate-min: the least a task runs before a copy
    const char *cert_path;          //  --cert: our secret certificate (NULL: plaintext)
    const char *allow_dir;          //  --allow: public certificates of admitted peers
    char bind_tasks [TM_ENDPOINT_MAX];
    char bind_results [TM_ENDPOINT_MAX];
    char bind_control [TM_ENDPOINT_MAX];
    char bind_admin [TM_ENDPOINT_MAX];
    bool http;                      //  --http given: serve the dashboard, /api/status, /metrics
    char http_host [TM_HTTP_HOST_MAX];  //  numeric IPv4 or IPv6 address to bind
    int http_port;                  //  0: any free port (logged)
    bool resume;                    //  --resume: skip seqs already in --out
    bool quiet;                     //  --quiet: no progress line, no human summary
    bool verbose;                   //  --verbose: debug logs
} master_options_t;

//  Parses argv into *options. Returns TM_EXIT_OK, TM_EXIT_HELP_SHOWN (usage
//  printed to stdout) or TM_EXIT_USAGE (message printed to stderr).
int master_options_parse (master_options_t *options, int argc, char *argv []);

#endif
