/*  Plugins that must be refused, one per -D: a worker loading each exits 2
    with a message saying why (tests/process/test_plugins.py).
      NO_ENTRY      declares its ABI but no taskmill_plugin_register
      NO_ABI        a taskmill_plugin_register but no TASKMILL_PLUGIN_ABI
      WRONG_ABI     built for another ABI version
      TAKEN_TYPE    registers "echo", a built-in
      REFUSES       its registration returns -1
*/
#include <taskmill/plugin.h>

#ifdef WRONG_ABI
__attribute__ ((visibility ("default"))) const unsigned taskmill_plugin_abi =
    TASKMILL_PLUGIN_ABI_VERSION + 1;
#elif !defined (NO_ABI)
TASKMILL_PLUGIN_ABI;
#endif

__attribute__ ((unused)) static void
s_run (void *state, const taskmill_task_t *task, taskmill_output_t *out)
{
    (void) state;
    out->write (out, task->payload, task->payload_size);
}

#ifndef NO_ENTRY
int
taskmill_plugin_register (taskmill_registrar_t *registrar)
{
#   ifdef TAKEN_TYPE
    static const taskmill_handler_t handler = { "echo", s_run, 0, 0 };
#   else
    static const taskmill_handler_t handler = { "bad-plugin", s_run, 0, 0 };
#   endif
#   ifdef REFUSES
    (void) registrar;
    (void) handler;
    return -1;
#   else
    return registrar->add (registrar, &handler);
#   endif
}
#endif
