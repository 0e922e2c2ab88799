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
"       taskmill drain [HOST] [--admin EP]\n"
"       taskmill keygen NAME\n"
"Asks the taskmill master on HOST (default 127.0.0.1) through its admin\n"
"endpoint (default tcp://HOST:5560).\n"
"\n"
"  status     the job's progress, rates and ETA, every worker, the last\n"
"             failures and every drop counter\n"
"  drain      every worker finishes what it holds and exits\n"
"  keygen     write a CURVE certificate pair: NAME (public, for the master's\n"
"             --allow directory or a worker's --server-cert) and NAME_secret\n"
"             (mode 0600, for --cert); an existing file is not overwritten\n"
"  --json     the status as the master's JSON, for scripts\n"
"  --watch    refresh the status every second, in place (Ctrl-C ends)\n"
"  --admin EP the admin endpoint (overrides HOST)\n"
"  --help     this text\n"
"Exit status: 0 answered (or keys written), 2 bad usage, 3 no master\n"
"answering within 2 s (or the keys could not be written).\n";

typedef struct {
    const char *command;
    const char *name;               //  keygen NAME
    char endpoint [TM_ENDPOINT_MAX];
    bool json;
    bool watch;
} s_options_t;

static int
s_parse (s_options_t *options, int argc, char *argv [])
{
    static const struct option longs [] = {
        { "json", no_argument, NULL, 'j' }, { "watch", no_argument, NULL, 'w' },
        { "admin", required_argument, NULL, 'a' }, { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    memset (options, 0, sizeof *options);
    int option;
    while ((option = getopt_long (argc, argv, "", longs, NULL)) != -1) {
        if (option == 'h') {
            fputs (s_usage, stdout);
            return TM_EXIT_HELP_SHOWN;
        }
        if (option == 'j')
            options->json = true;
        else
        if (option == 'w')
            options->watch = true;
        else
        if (option == 'a' && tm_endpoint_valid (optarg))
            snprintf (options->endpoint, sizeof options->endpoint, "%s", optarg);
        else {
            fprintf (stderr, "%sTry 'taskmill --help'.\n",
                     option == 'a' ? "taskmill: bad --admin endpoint\n" : "");
            return TM_EXIT_USAGE;
        }
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

static int
s_status (zsock_t *admin, const s_options_t *options)
{
    bool answered = false;
    while (!zsys_interrupted) {
        char *reply = s_ask (admin, "{\"cmd\":\"status\"}");
        if (!reply) {
            if (answered)
                return TM_EXIT_OK;      //  the master ended while watched
            fprintf (stderr, "taskmill: no master answering at %s within %d s\n",
                     options->endpoint, S_ANSWER_MS / 1000);
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
        fprintf (stderr, "taskmill: no master answering at %s within %d s\n",
                 options->endpoint, S_ANSWER_MS / 1000);
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
    zsock_t *admin = tm_socket_admin_dealer (options.endpoint);
    if (!admin)
        return TM_EXIT_RUNTIME;
    rc = strcmp (options.command, "drain") == 0 ? s_drain (admin, &options)
                                                : s_status (admin, &options);
    zsock_destroy (&admin);
    return rc;
}
