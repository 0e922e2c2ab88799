/*  taskmill-master: parse options, check the job, run it, report. */
#include "master.h"
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
    master_t *master = master_new (&options);
    if (!master)
        return TM_EXIT_RUNTIME;
    rc = master_run (master);
    master_destroy (&master);
    return rc;
}
