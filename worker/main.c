/*  taskmill-worker: parse options, connect, serve until drained. */
#include "worker.h"
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
    tm_log_init ("taskmill-worker");
    tm_memory_tune ();
    //  Our handler replaces czmq's: the first signal drains, the second stops.
    zsys_handler_set (s_on_signal);
    worker_t *worker = worker_new (&options);
    if (!worker)
        return TM_EXIT_RUNTIME;
    rc = worker_run (worker, &s_signals);
    if (rc != TM_EXIT_OK)
        //  Stopping at once: executor threads may sit in a long handler, so
        //  do not wait for them.
        _exit (rc);
    worker_destroy (&worker);
    return rc;
}
