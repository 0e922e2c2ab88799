/*  handler_registry: task type name -> handler function. The worker's
    executor threads look up each task's type here and call the handler.
    Built-in handlers (worker/handlers/) register themselves through
    handler_registry_add_builtins; plugins (worker/plugin.h) add theirs to
    the same table with handler_registry_add_plugin.

    The registry is filled before the executor threads start and only read
    after, so lookups take no lock.
*/
#ifndef HANDLER_REGISTRY_H_INCLUDED
#define HANDLER_REGISTRY_H_INCLUDED

#include "tm_codec.h"
#include "taskmill/plugin.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HANDLER_MAX_OUTPUT_BYTES (1024 * 1024)   //  output beyond this is cut (--max-output)

//  What a handler gets: the task's payload and its deadline.
typedef struct {
    const uint8_t *payload;     //  borrowed, not NUL-terminated
    size_t payload_size;
    uint32_t timeout_ms;        //  0: no timeout
    int64_t deadline_us;        //  monotonic (tm_clock_now_us); 0: none
    bool allow_exec;            //  the worker was started with --allow-exec
    const char *type;           //  the task's type and id and attempt (plugins see them)
    const char *id;
    uint32_t attempt;
    void **thread_states;       //  this executor thread's plugin states (thread_init)
    const volatile int *cancelled;  //  non-zero: the worker stops at once
    size_t max_output_bytes;    //  output beyond this is cut; 0: HANDLER_MAX_OUTPUT_BYTES
} handler_input_t;

//  What a handler returns. Output and error are heap strings owned by the
//  struct; handler_output_fini frees them.
typedef struct {
    tm_status_t status;
    uint8_t *output;            //  NULL or heap, output_size bytes
    size_t output_size;
    char *error;                //  NULL or heap NUL-terminated
    int32_t exit_code;          //  exec only
} handler_output_t;

typedef void (handler_fn_t) (const handler_input_t *input, handler_output_t *output);

typedef struct _handler_registry_t handler_registry_t;

handler_registry_t *handler_registry_new (void);
void handler_registry_destroy (handler_registry_t **self_p);
//  Adds or replaces the handler for type. Returns 0, or -1 if the name is
//  empty or too long.
int handler_registry_add (handler_registry_t *self, const char *type, handler_fn_t *handler);
//  Adds a plugin's handler (copied). Returns 0, or -1 if its type is
//  invalid or already registered.
int handler_registry_add_plugin (handler_registry_t *self, const taskmill_handler_t *handler);
//  Registers echo, noop, sleep, sha256, exec, count-words.
void handler_registry_add_builtins (handler_registry_t *self);
//  The handler for type, or NULL.
handler_fn_t *handler_registry_lookup (handler_registry_t *self, const char *type);

//  Types registered, and the index'th (for --list-handlers).
size_t handler_registry_size (handler_registry_t *self);
const char *handler_registry_type (handler_registry_t *self, size_t index);
//  The plugin states of one executor thread: each plugin handler's
//  thread_init, called on that thread. thread_fini frees them.
void **handler_registry_thread_init (handler_registry_t *self);
void handler_registry_thread_fini (handler_registry_t *self, void ***states_p);

//  Runs the handler for type, or sets NO_HANDLER. output is initialised here.
void handler_registry_run (handler_registry_t *self, const char *type,
                           const handler_input_t *input, handler_output_t *output);

//  Helpers for handlers.
//  The most output the task may return (input->max_output_bytes, or the default).
size_t handler_output_limit (const handler_input_t *input);
void handler_output_init (handler_output_t *self);
void handler_output_fini (handler_output_t *self);
//  Sets status and a copy of the message as error.
void handler_output_fail (handler_output_t *self, tm_status_t status, const char *format, ...)
    __attribute__ ((format (printf, 3, 4)));
//  Sets OK and a copy of size bytes as output (cut at TM_MAX_PAYLOAD_BYTES;
//  handler_registry_run cuts it to the task's limit).
void handler_output_set (handler_output_t *self, const void *data, size_t size);

#endif
