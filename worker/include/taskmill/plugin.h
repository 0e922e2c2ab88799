/*  taskmill/plugin.h: the plugin ABI of taskmill-worker. A plugin is a
    shared library that adds task types: it defines TASKMILL_PLUGIN_ABI
    (the macro below) and one function, taskmill_plugin_register, which adds
    its handlers through the registrar it is given. It needs nothing but
    this header and the C standard library: everything of the worker's it
    calls comes as function pointers in the structs below.

        #include <taskmill/plugin.h>
        TASKMILL_PLUGIN_ABI;
        static void s_run (void *state, const taskmill_task_t *task, taskmill_output_t *out)
        { out->write (out, task->payload, task->payload_size); }
        int taskmill_plugin_register (taskmill_registrar_t *registrar)
        {
            static const taskmill_handler_t handler = { "mine", s_run, NULL, NULL };
            return registrar->add (registrar, &handler);
        }

    Threads: a worker runs a handler on several executor threads at once.
    `run` must be safe for that; per-thread state (a parser, a buffer, a
    connection) comes from `thread_init`, called once on each executor
    thread before its first task, and goes to `thread_fini` when the
    thread ends. Build with -fPIC -shared; load with
    `taskmill-worker HOST --plugin path/lib.so` (repeatable).

    Cancellation: a task's cancelled flag becomes non-zero when its job
    ends while it runs (the master has every final result, so this copy's
    is not needed: its lease ran out, or another copy won), when a new job
    starts, and when the worker's pool stops. What the handler returns then
    goes unused. A worker that stops at once (a second SIGTERM, its drain
    timeout) exits without waiting for handlers. The deadline is the
    handler's own to keep.
*/
#ifndef TASKMILL_PLUGIN_H_INCLUDED
#define TASKMILL_PLUGIN_H_INCLUDED

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Bumped on any incompatible change to what follows.
#define TASKMILL_PLUGIN_ABI_VERSION 1

//  How a task ended (the values of the wire's Status).
typedef enum {
    TASKMILL_OK = 1,
    TASKMILL_FAILED = 2,
    TASKMILL_TIMEOUT = 3,
    TASKMILL_REJECTED = 5
} taskmill_status_t;

//  One task, as a handler sees it. Everything is borrowed for the call.
typedef struct {
    const char *type;                   //  the task type (what the handler registered)
    const char *id;                     //  the user's id
    const unsigned char *payload;       //  not NUL-terminated
    size_t payload_size;
    long long deadline_us;              //  CLOCK_MONOTONIC microseconds; 0: no timeout
    unsigned attempt;                   //  1 for the first try
    const volatile int *cancelled;      //  becomes non-zero when the result is no longer
                                        //  wanted (see Cancellation above): a long
                                        //  handler polls it, through taskmill_cancelled
} taskmill_task_t;

//  Whether task's result is no longer wanted. The worker's main thread sets
//  the flag while a handler thread reads it, so it is read as an atomic
//  load (what the worker writes is an atomic store); a plain read is a
//  data race, however harmless it looks.
static inline int
taskmill_cancelled (const taskmill_task_t *task)
{
#if defined (__GNUC__) || defined (__clang__)
    return __atomic_load_n (task->cancelled, __ATOMIC_ACQUIRE);
#else
    return *task->cancelled;
#endif
}

//  Where a handler puts its result. Output is appended and bounded by the
//  worker (1 MiB): past it, write returns -1 and the rest is cut. A handler
//  that returns without calling fail has succeeded.
typedef struct taskmill_output taskmill_output_t;
struct taskmill_output {
    int (*write) (taskmill_output_t *self, const void *data, size_t size);
    void (*fail) (taskmill_output_t *self, taskmill_status_t status, const char *error);
    void *impl;                         //  the worker's: do not touch
};

//  A handler: a type name (1 to 64 bytes) and what runs it.
typedef struct {
    const char *type;
    void (*run) (void *thread_state, const taskmill_task_t *task, taskmill_output_t *output);
    void *(*thread_init) (void);                //  optional (NULL): state for run
    void (*thread_fini) (void *thread_state);   //  optional
} taskmill_handler_t;

//  What taskmill_plugin_register gets. add copies the handler and returns
//  0, or -1 if the type is invalid or already registered (built-in or by
//  another plugin); the worker then refuses the plugin.
typedef struct taskmill_registrar taskmill_registrar_t;
struct taskmill_registrar {
    unsigned abi_version;               //  the worker's TASKMILL_PLUGIN_ABI_VERSION
    int (*add) (taskmill_registrar_t *self, const taskmill_handler_t *handler);
    void *impl;                         //  the worker's: do not touch
};

//  Every plugin says which ABI it was built for: write TASKMILL_PLUGIN_ABI;
//  at file scope.
#define TASKMILL_PLUGIN_ABI \
    __attribute__ ((visibility ("default"))) const unsigned taskmill_plugin_abi = \
        TASKMILL_PLUGIN_ABI_VERSION

//  The entry point every plugin defines. Returns 0, or -1 to refuse loading.
typedef int (taskmill_plugin_register_fn) (taskmill_registrar_t *registrar);
__attribute__ ((visibility ("default")))
int taskmill_plugin_register (taskmill_registrar_t *registrar);

#ifdef __cplusplus
}
#endif

#endif
