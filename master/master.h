/*  master: one job run. Owns the sockets, the sink actor, the job reader,
    the lease table, the dispatcher, the results writer and the summary, and
    drives them from one poll loop with a periodic tick (lease expiry,
    worker reaping, flushing, progress), in the manner of Redis's serverCron.
*/
#ifndef MASTER_H_INCLUDED
#define MASTER_H_INCLUDED

#include "master_options.h"
#include "tm_curve.h"

typedef struct _master_t master_t;

//  Reads the whole job once without sending anything, if it can be read
//  twice (a regular file), so a malformed line fails the run before any
//  task leaves; not with --skip-invalid. Returns TM_EXIT_OK or TM_EXIT_USAGE
//  (message on stderr).
int master_check_job (const master_options_t *options);
//  Binds the sockets and opens input and output. With curve (the server's
//  keys, or NULL for plaintext) it starts zauth first and, once bound,
//  proves a stranger is refused. Returns NULL after logging if any of that
//  fails. options and curve must outlive the master.
master_t *master_new (const master_options_t *options, const tm_curve_t *curve);
void master_destroy (master_t **self_p);
//  Runs the job to the end, or until interrupted. Returns the exit status.
int master_run (master_t *self);

#endif
