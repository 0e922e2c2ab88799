/*  worker: one worker process's loop. Owns the tasks DEALER, results PUSH
    and control SUB sockets, the handler registry and the executor pool;
    asks for tasks with credit, sends completions and heartbeats, obeys
    control messages, and drains on SIGTERM.
*/
#ifndef WORKER_H_INCLUDED
#define WORKER_H_INCLUDED

#include "handler_registry.h"
#include "worker_options.h"
#include "tm_curve.h"
#include <signal.h>

typedef struct _worker_t worker_t;

//  Connects the sockets (CURVE clients with curve, plaintext with NULL) and
//  starts the pool over registry, which it takes over (nulls *registry_p;
//  on failure too). options must outlive the worker; curve is read here only.
worker_t *worker_new (const worker_options_t *options, const tm_curve_t *curve,
                      handler_registry_t **registry_p);
void worker_destroy (worker_t **self_p);
//  Runs until drained, shut down or (with --once) the job ends. signals
//  counts SIGTERM/SIGINT received: 1 starts a drain, 2 stops at once.
//  Returns the exit status.
int worker_run (worker_t *self, const volatile sig_atomic_t *signals);

#endif
