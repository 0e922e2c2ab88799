/*  taskmill: the operator's command line. Asks a master's admin endpoint
    (ROUTER, port 5560) and prints what it says: `taskmill status` (the
    snapshot as a table, --json as JSON, --watch refreshed every second),
    `taskmill drain` (every worker finishes what it holds and exits).
    A master that does not answer within 2 s is exit status 3.
    `taskmill keygen NAME` needs no master: it writes a certificate pair.
*/
#include "status_view.h"
#include "tm_curve.h"
#include "tm_endpoint.h"
#include "tm_exit.h"
#include "tm_log.h"
#include "tm_socket.h"
#include <czmq.h>
#include <getopt.h>

#define S_ANSWER_MS 2000
#define S_WATCH_MS 1000

static const char *s_usage =
"Usage: taskmill status [HOST] [--json] [--watch] [--admin EP]\n"
"                       [--cert FILE --server-cert FILE]\n"
"       taskmill drain [HOST] [--admin EP] [--cert FILE --server-cert FILE]\n"
"       taskmill keygen NAME\n"
"Asks the taskmill master on HOST (default 127.0.0.1) through its admin\n"
"endpoint (default tcp://HOST:5560).\n"
"\n"
"  status     the job's progress, rates and ETA, latency, queue wait and\n"
"             run time percentiles, each task type, every worker, the\n"
"             longest-running tasks, the last failures, every drop counter\n"
"  drain      every worker finishes what it holds and exits\n"
"  keygen     write a CURVE certificate pair: NAME (public, for the master's\n"
"             --allow directory or a worker's --server-cert) and NAME_secret\n"
"             (mode 0600, for --cert); an existing file is not overwritten\n"
"  --json     the status as the master's JSON, for scripts\n"
"  --watch    refresh the status every second, in place (Ctrl-C ends)\n"
"  --admin EP the admin endpoint (overrides HOST)\n"
"  --cert FILE --server-cert FILE\n"
"             CURVE: our secret certificate (its public half in the\n"
"             master's --allow directory) and the master's public one\n"
"  --help     this text\n"
"Exit status: 0 answered (or keys written), 2 bad usage, 3 no master\n"
"answering within 2 s (or the keys could not be written).\n";

typedef struct {
    const char *command;
    const char *name;               //  keygen NAME
    const char *cert_path;          //  --cert: our secret certificate (CURVE)
    const char *server_cert_path;   //  --server-cert: the master's public one
    char endpoint [TM_ENDPOINT_MAX];
    bool json;
    bool watch;
} s_options_t;

//  Applies one option. Returns 0, or an exit status.
static int
s_apply (s_options_t *options, int option, const char *arg)
{
    switch (option) {
        case 'h': fputs (s_usage, stdout); return TM_EXIT_HELP_SHOWN;
        case 'j': options->json = true; return 0;
        case 'w': options->watch = true; return 0;
        case 'c': options->cert_path = arg; return 0;
        case 's': options->server_cert_path = arg; return 0;
        case 'a':
            if (tm_endpoint_valid (arg)) {
                snprintf (options->endpoint, sizeof options->endpoint, "%s", arg);
                return 0;
            }
            fprintf (stderr, "taskmill: bad --admin endpoint\n");
            break;
    }
    fprintf (stderr, "Try 'taskmill --help'.\n");
    return TM_EXIT_USAGE;
}

static int
s_parse (s_options_t *options, int argc, char *argv [])
{
    static const struct option longs [] = {
        { "json", no_argument, NULL, 'j' }, { "watch", no_argument, NULL, 'w' },
        { "admin", required_argument, NULL, 'a' }, { "help", no_argument, NULL, 'h' },
        { "cert", required_argument, NULL, 'c' }, { "server-cert", required_argument, NULL, 's' },
        { NULL, 0, NULL, 0 }
    };
    memset (options, 0, sizeof *options);
    int option;
    while ((option = getopt_long (argc, argv, "", longs, NULL)) != -1) {
        int rc = s_apply (options, option, optarg);
        if (rc != 0)
            return rc;
    }
    int left = argc - optind;
    options->command = left > 0 ? argv [optind] : NULL;
    bool known = options->command && (strcmp (options->command, "status") == 0
                                    || strcmp (options->command, "drain") == 0
                                    || strcmp (options->command, "keygen") == 0);
    if (!known || left > 2) {
        fprintf (stderr, "taskmill: give a command: status, drain or keygen\n"
                         "Try 'taskmill --help'.\n");
        return TM_EXIT_USAGE;
    }
    if (strcmp (options->command, "keygen") == 0) {
        if (left != 2) {
            fprintf (stderr, "taskmill: keygen NAME\nTry 'taskmill --help'.\n");
            return TM_EXIT_USAGE;
        }
        options->name = argv [optind + 1];
        return TM_EXIT_OK;
    }
    if (!options->cert_path != !options->server_cert_path) {
        fprintf (stderr, "taskmill: --cert FILE and --server-cert FILE go together\n");
        return TM_EXIT_USAGE;
    }
    const char *host = left == 2 ? argv [optind + 1] : "127.0.0.1";
    if (!*options->endpoint
    &&  tm_endpoint_format (options->endpoint, sizeof options->endpoint, host, TM_PORT_ADMIN)) {
        fprintf (stderr, "taskmill: bad host '%s'\n", host);
        return TM_EXIT_USAGE;
    }
    return TM_EXIT_OK;
}

//  Sends one request and returns the reply (the caller frees it), or NULL
//  when no master answered within S_ANSWER_MS.
static char *
s_ask (zsock_t *admin, const char *request)
{
    zstr_send (admin, request);
    zpoller_t *poller = zpoller_new (admin, NULL);
    void *ready = zpoller_wait (poller, S_ANSWER_MS);
    zpoller_destroy (&poller);
    return ready ? zstr_recv (admin) : NULL;
}

static void
s_no_answer (const s_options_t *options)
{
    fprintf (stderr, "taskmill: no master answering at %s within %d s%s\n",
             options->endpoint, S_ANSWER_MS / 1000,
             options->cert_path ? " (with CURVE: is our certificate in its --allow directory, "
                                  "and --server-cert its key?)"
                                : " (a master with CURVE answers only --cert clients)");
}

static int
s_status (zsock_t *admin, const s_options_t *options)
{
    bool answered = false;
    while (!zsys_interrupted) {
        char *reply = s_ask (admin, "{\"cmd\":\"status\"}");
        if (!reply) {
            if (answered)
                return TM_EXIT_OK;      //  the master ended while watched
            s_no_answer (options);
            return TM_EXIT_RUNTIME;
        }
        answered = true;
        if (options->watch)
            fputs ("\033[H\033[2J", stdout);
        if (options->json)
            printf ("%s\n", reply);
        else
        if (status_view_print (reply, stdout) == -1)
            fprintf (stderr, "taskmill: the master's answer is not a status: %.200s\n", reply);
        fflush (stdout);
        zstr_free (&reply);
        if (!options->watch)
            break;
        zpoller_t *poller = zpoller_new (NULL);
        zpoller_wait (poller, S_WATCH_MS);     //  returns early on Ctrl-C
        zpoller_destroy (&poller);
    }
    return TM_EXIT_OK;
}

static int
s_drain (zsock_t *admin, const s_options_t *options)
{
    char *reply = s_ask (admin, "{\"cmd\":\"drain\"}");
    if (!reply) {
        s_no_answer (options);
        return TM_EXIT_RUNTIME;
    }
    printf ("%s\n", reply);
    int rc = strstr (reply, "\"ok\"") ? TM_EXIT_OK : TM_EXIT_RUNTIME;
    zstr_free (&reply);
    return rc;
}

static int
s_keygen (const s_options_t *options)
{
    char error [512];
    tm_keygen_status_t status = tm_curve_keygen (options->name, error, sizeof error);
    if (status != TM_KEYGEN_OK) {
        fprintf (stderr, "taskmill: %s\n", error);
        return status == TM_KEYGEN_REFUSED ? TM_EXIT_USAGE : TM_EXIT_RUNTIME;
    }
    printf ("wrote %s (public) and %s_secret (secret, mode 0600)\n", options->name, options->name);
    return TM_EXIT_OK;
}

int
main (int argc, char *argv [])
{
    s_options_t options;
    int rc = s_parse (&options, argc, argv);
    if (rc != TM_EXIT_OK)
        return rc == TM_EXIT_HELP_SHOWN ? TM_EXIT_OK : rc;
    tm_log_init ("taskmill");
    if (strcmp (options.command, "keygen") == 0)
        return s_keygen (&options);
    tm_curve_t *curve = NULL;
    char error [512];
    if (options.cert_path
    &&  !(curve = tm_curve_client_new (options.cert_path, options.server_cert_path,
                                       error, sizeof error))) {
        fprintf (stderr, "taskmill: %s\n", error);
        return TM_EXIT_USAGE;
    }
    zsock_t *admin = tm_socket_admin_dealer (options.endpoint, curve);
    tm_curve_destroy (&curve);
    if (!admin)
        return TM_EXIT_RUNTIME;
    rc = strcmp (options.command, "drain") == 0 ? s_drain (admin, &options)
                                                : s_status (admin, &options);
    zsock_destroy (&admin);
    return rc;
}
