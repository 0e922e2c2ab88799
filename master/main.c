/*  taskmill-master: parse options, check the job, run it, report. */
#include "master.h"
#include "tm_curve.h"
#include "tm_exit.h"
#include "tm_log.h"
#include "tm_memory.h"

int
main (int argc, char *argv [])
{
    master_options_t options;
    int rc = master_options_parse (&options, argc, argv);
    if (rc == TM_EXIT_HELP_SHOWN)
        return TM_EXIT_OK;
    if (rc != TM_EXIT_OK)
        return rc;
    tm_log_init ("taskmill-master");
    tm_memory_tune ();
    rc = master_check_job (&options);
    if (rc != TM_EXIT_OK)
        return rc;
    //  Keys are checked before anything binds: a bad one is bad usage.
    tm_curve_t *curve = NULL;
    char error [512];
    if (options.cert_path
    &&  !(curve = tm_curve_server_new (options.cert_path, options.allow_dir, error, sizeof error))) {
        fprintf (stderr, "taskmill-master: %s\n", error);
        return TM_EXIT_USAGE;
    }
    master_t *master = master_new (&options, curve);
    rc = master ? master_run (master) : TM_EXIT_RUNTIME;
    master_destroy (&master);
    tm_curve_destroy (&curve);
    return rc;
}
