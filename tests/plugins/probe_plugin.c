/*  probe_plugin: handlers that show what the plugin ABI gives a handler and
    does with what it returns (tests/unit/test_plugin_loader.c,
    tests/process/test_plugins.py). Standard C only, as a plugin may be.
      probe-task     outputs the task as it saw it: type, id, attempt,
                     whether it has a deadline, the cancelled flag
      probe-big      writes past the output bound; fails saying where the
                     write was refused
      probe-fail     fails with the status whose number is the payload
      probe-state    counts its calls in its thread state (thread_init);
                     thread_fini frees it and counts in probe_fini_calls
      probe-cancel   waits (at most 60 s) for its cancelled flag; writes
                     "started" then "cancelled" into the file the payload
                     names
*/
#include <taskmill/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>
#include <time.h>

TASKMILL_PLUGIN_ABI;

__attribute__ ((visibility ("default"))) int probe_fini_calls = 0;

static void
s_task (void *state, const taskmill_task_t *task, taskmill_output_t *out)
{
    (void) state;
    char text [256];
    int size = snprintf (text, sizeof text, "type=%s id=%s attempt=%u deadline=%s cancelled=%d",
                         task->type, task->id, task->attempt, task->deadline_us ? "set" : "none",
                         taskmill_cancelled (task));
    out->write (out, text, (size_t) size);
}

static void
s_big (void *state, const taskmill_task_t *task, taskmill_output_t *out)
{
    (void) state;
    (void) task;
    static const char chunk [4096] = { 'x' };
    size_t written = 0;
    while (out->write (out, chunk, sizeof chunk) == 0)
        written += sizeof chunk;
    char error [64];
    snprintf (error, sizeof error, "refused after %zu bytes", written);
    out->fail (out, TASKMILL_FAILED, error);
}

static void
s_fail (void *state, const taskmill_task_t *task, taskmill_output_t *out)
{
    (void) state;
    char number [16] = "";
    memcpy (number, task->payload, task->payload_size < 15 ? task->payload_size : 15);
    out->fail (out, (taskmill_status_t) atoi (number), "probe");
}

static void *
s_state_init (void)
{
    return calloc (1, sizeof (unsigned));
}

static void
s_state_fini (void *state)
{
    free (state);
    probe_fini_calls++;
}

static void
s_state (void *state, const taskmill_task_t *task, taskmill_output_t *out)
{
    (void) task;
    unsigned *calls = (unsigned *) state;
    char text [16];
    int size = snprintf (text, sizeof text, "%u", ++*calls);
    out->write (out, text, (size_t) size);
}

static void
s_mark (const taskmill_task_t *task, const char *text)
{
    char path [512] = "";
    memcpy (path, task->payload, task->payload_size < 511 ? task->payload_size : 511);
    FILE *file = fopen (path, "w");
    if (file) {
        fputs (text, file);
        fclose (file);
    }
}

static void
s_cancel (void *state, const taskmill_task_t *task, taskmill_output_t *out)
{
    (void) state;
    s_mark (task, "started");
    time_t give_up = time (NULL) + 60;
    while (!taskmill_cancelled (task) && time (NULL) < give_up)
        thrd_sleep (&(struct timespec) { .tv_nsec = 1000000 }, NULL);
    s_mark (task, taskmill_cancelled (task) ? "cancelled" : "not cancelled");
    out->fail (out, TASKMILL_FAILED, "cancelled");
}

int
taskmill_plugin_register (taskmill_registrar_t *registrar)
{
    static const taskmill_handler_t handlers [] = {
        { "probe-task", s_task, 0, 0 },
        { "probe-big", s_big, 0, 0 },
        { "probe-fail", s_fail, 0, 0 },
        { "probe-state", s_state, s_state_init, s_state_fini },
        { "probe-cancel", s_cancel, 0, 0 },
    };
    for (size_t i = 0; i < sizeof handlers / sizeof handlers [0]; i++)
        if (registrar->add (registrar, &handlers [i]) != 0)
            return -1;
    return 0;
}
