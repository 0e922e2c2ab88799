/*  plugin_loader: dlopen, the two symbols, and the ABI adapters. */
#include "plugin_loader.h"
#include <czmq.h>
#include <dlfcn.h>

struct _plugin_loader_t {
    void *library;                  //  dlopen handle
};

//  The registrar's impl: the registry, and whether any add failed.
typedef struct {
    handler_registry_t *registry;
    const char *refused;            //  the first type refused, or NULL
} s_registrar_t;

static int
s_add (taskmill_registrar_t *registrar, const taskmill_handler_t *handler)
{
    s_registrar_t *impl = (s_registrar_t *) registrar->impl;
    if (handler_registry_add_plugin (impl->registry, handler) == 0)
        return 0;
    if (!impl->refused)
        impl->refused = handler && handler->type ? handler->type : "(none)";
    return -1;
}

plugin_loader_t *
plugin_loader_load (const char *path, handler_registry_t *registry, char *error,
                    size_t error_size)
{
    //  RTLD_LOCAL: plugins do not see each other's symbols.
    void *library = dlopen (path, RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        snprintf (error, error_size, "cannot load plugin %s: %s", path, dlerror ());
        return NULL;
    }
    const unsigned *abi = (const unsigned *) dlsym (library, "taskmill_plugin_abi");
    taskmill_plugin_register_fn *entry =
        (taskmill_plugin_register_fn *) dlsym (library, "taskmill_plugin_register");
    s_registrar_t impl = { registry, NULL };
    taskmill_registrar_t registrar = { TASKMILL_PLUGIN_ABI_VERSION, s_add, &impl };
    if (!abi || !entry)
        snprintf (error, error_size, "plugin %s: no %s symbol (see taskmill/plugin.h)", path,
                  !abi ? "taskmill_plugin_abi (TASKMILL_PLUGIN_ABI;)" : "taskmill_plugin_register");
    else
    if (*abi != TASKMILL_PLUGIN_ABI_VERSION)
        snprintf (error, error_size, "plugin %s: built for plugin ABI %u, this worker has %u",
                  path, *abi, TASKMILL_PLUGIN_ABI_VERSION);
    else
    if (entry (&registrar) != 0 || impl.refused)
        snprintf (error, error_size, impl.refused
                  ? "plugin %s: type '%.64s' is invalid or already registered"
                  : "plugin %s: its registration refused to load%.0s", path,
                  impl.refused ? impl.refused : "");
    else {
        plugin_loader_t *self = (plugin_loader_t *) zmalloc (sizeof (plugin_loader_t));
        self->library = library;
        return self;
    }
    dlclose (library);
    return NULL;
}

void
plugin_loader_unload (plugin_loader_t **self_p)
{
    assert (self_p);
    plugin_loader_t *self = *self_p;
    if (self) {
        dlclose (self->library);
        free (self);
        *self_p = NULL;
    }
}

handler_registry_t *
plugin_loader_registry (const char *const *paths, size_t count, plugin_loader_t **plugins,
                        char *error, size_t error_size)
{
    handler_registry_t *registry = handler_registry_new ();
    handler_registry_add_builtins (registry);
    for (size_t i = 0; i < count; i++) {
        plugins [i] = plugin_loader_load (paths [i], registry, error, error_size);
        if (!plugins [i]) {
            //  The registry may hold the failed plugin's handlers: it goes first.
            handler_registry_destroy (&registry);
            while (i-- > 0)
                plugin_loader_unload (&plugins [i]);
            return NULL;
        }
    }
    return registry;
}

//  The output's impl: the handler output being filled, and its capacity.
typedef struct {
    handler_output_t *output;
    size_t capacity;
    size_t max;                 //  bytes kept at most (--max-output)
} s_output_t;

static int
s_write (taskmill_output_t *self, const void *data, size_t size)
{
    s_output_t *impl = (s_output_t *) self->impl;
    handler_output_t *output = impl->output;
    size_t room = impl->max - output->output_size;
    size_t taken = size < room ? size : room;
    if (output->output_size + taken > impl->capacity) {
        size_t capacity = impl->capacity ? impl->capacity * 2 : 256;
        while (capacity < output->output_size + taken)
            capacity *= 2;
        if (capacity > impl->max)
            capacity = impl->max;
        output->output = (uint8_t *) realloc (output->output, capacity);
        assert (output->output);
        impl->capacity = capacity;
    }
    if (taken)
        memcpy (output->output + output->output_size, data, taken);
    output->output_size += taken;
    return taken == size ? 0 : -1;
}

static void
s_fail (taskmill_output_t *self, taskmill_status_t status, const char *error)
{
    s_output_t *impl = (s_output_t *) self->impl;
    //  Statuses a plugin may not claim become FAILED.
    tm_status_t wire = status == TASKMILL_TIMEOUT || status == TASKMILL_REJECTED
                     ? (tm_status_t) status : TM_STATUS_FAILED;
    handler_output_fail (impl->output, wire, "%s", error ? error : "failed");
}

void
plugin_run (const taskmill_handler_t *handler, void *thread_state,
            const handler_input_t *input, handler_output_t *output)
{
    static const volatile int s_never = 0;
    taskmill_task_t task = {
        .type = input->type ? input->type : handler->type,
        .id = input->id ? input->id : "",
        .payload = input->payload, .payload_size = input->payload_size,
        .deadline_us = input->deadline_us, .attempt = input->attempt,
        .cancelled = input->cancelled ? input->cancelled : &s_never
    };
    s_output_t impl = { output, 0, handler_output_limit (input) };
    taskmill_output_t out = { s_write, s_fail, &impl };
    handler->run (thread_state, &task, &out);
}
