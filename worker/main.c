/*  taskmill-worker: parse options, connect, serve until drained. */
#include "worker.h"
#include "plugin_loader.h"
#include "tm_exit.h"
#include "tm_log.h"
#include "tm_memory.h"
#include <unistd.h>

//  The only global: signals received, counted by the handler, read by the loop.
static volatile sig_atomic_t s_signals = 0;

static void
s_on_signal (int signal_number)
{
    (void) signal_number;
    if (s_signals < 2)
        s_signals++;
}

int
main (int argc, char *argv [])
{
    worker_options_t options;
    int rc = worker_options_parse (&options, argc, argv);
    if (rc == TM_EXIT_HELP_SHOWN)
        return TM_EXIT_OK;
    if (rc != TM_EXIT_OK)
        return rc;
    //  Plugins first: a bad one is bad usage (exit 2), before any socket.
    plugin_loader_t *plugins [WORKER_MAX_PLUGINS] = { NULL };
    char error [512];
    handler_registry_t *registry = plugin_loader_registry (options.plugins, options.plugin_count,
                                                           plugins, error, sizeof error);
    if (!registry) {
        fprintf (stderr, "taskmill-worker: %s\n", error);
        return TM_EXIT_USAGE;
    }
    if (options.list_handlers) {
        for (size_t i = 0; i < handler_registry_size (registry); i++)
            printf ("%s\n", handler_registry_type (registry, i));
        handler_registry_destroy (&registry);
        for (size_t i = 0; i < options.plugin_count; i++)
            plugin_loader_unload (&plugins [i]);
        return TM_EXIT_OK;
    }
    tm_log_init ("taskmill-worker");
    tm_memory_tune ();
    //  Keys are checked before anything connects: a bad one is bad usage.
    tm_curve_t *curve = NULL;
    if (options.cert_path
    &&  !(curve = tm_curve_client_new (options.cert_path, options.server_cert_path,
                                       error, sizeof error))) {
        fprintf (stderr, "taskmill-worker: %s\n", error);
        handler_registry_destroy (&registry);
        return TM_EXIT_USAGE;
    }
    //  Our handler replaces czmq's: the first signal drains, the second stops.
    zsys_handler_set (s_on_signal);
    worker_t *worker = worker_new (&options, curve, &registry);
    tm_curve_destroy (&curve);
    if (!worker)
        return TM_EXIT_RUNTIME;
    rc = worker_run (worker, &s_signals);
    if (rc != TM_EXIT_OK)
        //  Stopping at once: executor threads may sit in a long handler, so
        //  do not wait for them.
        _exit (rc);
    worker_destroy (&worker);
    for (size_t i = 0; i < options.plugin_count; i++)
        plugin_loader_unload (&plugins [i]);
    return rc;
}
