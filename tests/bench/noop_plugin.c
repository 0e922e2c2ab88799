/*  noop_plugin: the built-ins noop and echo again, as a plugin
    (plugin-noop, plugin-echo), so that the two benchmarks of what a plugin
    call costs (bench_plugin_call.c in process, plugin_cost.py end to end)
    compare like with like.
*/
#include <taskmill/plugin.h>

TASKMILL_PLUGIN_ABI;

static void
s_noop (void *state, const taskmill_task_t *task, taskmill_output_t *out)
{
    (void) state;
    (void) task;
    (void) out;
}

static void
s_echo (void *state, const taskmill_task_t *task, taskmill_output_t *out)
{
    (void) state;
    out->write (out, task->payload, task->payload_size);
}

int
taskmill_plugin_register (taskmill_registrar_t *registrar)
{
    static const taskmill_handler_t handlers [] = {
        { "plugin-noop", s_noop, 0, 0 },
        { "plugin-echo", s_echo, 0, 0 },
    };
    for (unsigned i = 0; i < sizeof handlers / sizeof handlers [0]; i++)
        if (registrar->add (registrar, &handlers [i]) != 0)
            return -1;
    return 0;
}
