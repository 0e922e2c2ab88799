/*  plugin_loader: loads plugins (taskmill/plugin.h) into the handler
    registry, and runs a plugin's handler through the ABI's task and output
    structs. A plugin is refused, with a message saying why, when its file
    or its symbols are missing, its ABI version is not ours, or it registers
    a type that is taken.

    Where it sits: worker_new loads each --plugin before the executor
    threads start; executor threads reach plugin_run through
    handler_registry_run.
*/
#ifndef PLUGIN_LOADER_H_INCLUDED
#define PLUGIN_LOADER_H_INCLUDED

#include "handler_registry.h"
#include <stddef.h>

typedef struct _plugin_loader_t plugin_loader_t;

//  Loads path and lets it register into registry. Returns the loaded
//  plugin (the caller unloads it after the executor stops), or NULL with
//  the reason in error.
plugin_loader_t *plugin_loader_load (const char *path, handler_registry_t *registry,
                                     char *error, size_t error_size);
void plugin_loader_unload (plugin_loader_t **self_p);
//  The registry a worker runs: the built-ins, then each of paths in order
//  (count of them, their handles into plugins). Returns it, or NULL with
//  the first failure's reason in error (nothing stays loaded then).
handler_registry_t *plugin_loader_registry (const char *const *paths, size_t count,
                                            plugin_loader_t **plugins,
                                            char *error, size_t error_size);
//  Runs handler on input: output gets what it writes, bounded.
void plugin_run (const taskmill_handler_t *handler, void *thread_state,
                 const handler_input_t *input, handler_output_t *output);

#endif
