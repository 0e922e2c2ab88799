/*  handler_registry: task type name -> handler function, and the helpers
    handlers use to fill their output.

    Where it sits: an executor thread decodes a task, calls
    handler_registry_run with its type, and turns the handler_output_t into
    a Result. This module is not the executor: it knows nothing of sockets,
    attempts or results, only of running one handler on one payload.

    The table is a plain array searched in order. It holds a handful of
    types (six built-ins plus what plugins add), so a scan of short strings
    costs less than hashing, and unlike zhashx (whose lookup writes a cached
    index) it is safe to read from several executor threads at once.
*/
#include "handler_registry.h"
#include "handlers/handlers.h"
#include "plugin_loader.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char type [TM_MAX_TYPE_BYTES + 1];  //  NUL-terminated type name
    handler_fn_t *handler;              //  a built-in, or NULL for a plugin's
    taskmill_handler_t plugin;          //  a plugin's (its type points at type above)
    size_t state;                       //  a plugin's slot in each thread's states
} s_entry_t;

struct _handler_registry_t {
    s_entry_t *entries;                 //  heap array, size used
    size_t size;                        //  entries in use
    size_t capacity;                    //  entries allocated
    size_t plugins;                     //  plugin entries (thread state slots)
};

handler_registry_t *
handler_registry_new (void)
{
    handler_registry_t *self = (handler_registry_t *) zmalloc (sizeof (handler_registry_t));
    self->capacity = 8;
    self->entries = (s_entry_t *) zmalloc (self->capacity * sizeof (s_entry_t));
    return self;
}

void
handler_registry_destroy (handler_registry_t **self_p)
{
    assert (self_p);
    handler_registry_t *self = *self_p;
    if (self) {
        free (self->entries);
        free (self);
        *self_p = NULL;
    }
}

static s_entry_t *
s_find (handler_registry_t *self, const char *type)
{
    for (size_t index = 0; index < self->size; index++)
        if (strcmp (self->entries [index].type, type) == 0)
            return &self->entries [index];
    return NULL;
}

//  A new entry for type, or NULL if the name is empty, too long or taken
//  (replace: a taken name is reused).
static s_entry_t *
s_new_entry (handler_registry_t *self, const char *type, bool replace)
{
    size_t length = type ? strnlen (type, TM_MAX_TYPE_BYTES + 1) : 0;
    if (length == 0 || length > TM_MAX_TYPE_BYTES)
        return NULL;
    s_entry_t *entry = s_find (self, type);
    if (entry)
        return replace && entry->handler ? entry : NULL;
    if (self->size == self->capacity) {
        self->capacity *= 2;
        self->entries = (s_entry_t *) realloc (self->entries, self->capacity * sizeof (s_entry_t));
        assert (self->entries);
    }
    entry = &self->entries [self->size++];
    memset (entry, 0, sizeof *entry);
    memcpy (entry->type, type, length + 1);
    return entry;
}

int
handler_registry_add (handler_registry_t *self, const char *type, handler_fn_t *handler)
{
    assert (self);
    assert (handler);
    s_entry_t *entry = s_new_entry (self, type, true);
    if (!entry)
        return -1;
    entry->handler = handler;
    return 0;
}

int
handler_registry_add_plugin (handler_registry_t *self, const taskmill_handler_t *handler)
{
    assert (self);
    if (!handler || !handler->run)
        return -1;
    s_entry_t *entry = s_new_entry (self, handler->type, false);
    if (!entry)
        return -1;
    entry->plugin = *handler;
    entry->plugin.type = entry->type;
    entry->state = self->plugins++;
    return 0;
}

size_t
handler_registry_size (handler_registry_t *self)
{
    return self->size;
}

const char *
handler_registry_type (handler_registry_t *self, size_t index)
{
    return index < self->size ? self->entries [index].type : NULL;
}

void **
handler_registry_thread_init (handler_registry_t *self)
{
    void **states = (void **) zmalloc ((self->plugins + 1) * sizeof (void *));
    for (size_t index = 0; index < self->size; index++) {
        s_entry_t *entry = &self->entries [index];
        if (!entry->handler && entry->plugin.thread_init)
            states [entry->state] = entry->plugin.thread_init ();
    }
    return states;
}

void
handler_registry_thread_fini (handler_registry_t *self, void ***states_p)
{
    void **states = *states_p;
    if (!states)
        return;
    for (size_t index = 0; index < self->size; index++) {
        s_entry_t *entry = &self->entries [index];
        if (!entry->handler && entry->plugin.thread_fini)
            entry->plugin.thread_fini (states [entry->state]);
    }
    free (states);
    *states_p = NULL;
}

void
handler_registry_add_builtins (handler_registry_t *self)
{
    //  One table rather than six calls, so adding a built-in is one line.
    static const struct {
        const char *type;
        handler_fn_t *handler;
    } builtins [] = {
        { "echo", handler_echo },
        { "noop", handler_noop },
        { "sleep", handler_sleep },
        { "sha256", handler_sha256 },
        { "exec", handler_exec },
        { "count-words", handler_count_words },
    };
    for (size_t index = 0; index < sizeof (builtins) / sizeof (builtins [0]); index++) {
        int rc = handler_registry_add (self, builtins [index].type, builtins [index].handler);
        assert (rc == 0);
        (void) rc;
    }
}

handler_fn_t *
handler_registry_lookup (handler_registry_t *self, const char *type)
{
    assert (self);
    assert (type);
    s_entry_t *entry = s_find (self, type);
    return entry ? entry->handler : NULL;
}

void
handler_registry_run (handler_registry_t *self, const char *type,
                      const handler_input_t *input, handler_output_t *output)
{
    assert (input);
    assert (output);
    handler_output_init (output);
    s_entry_t *entry = s_find (self, type);
    if (!entry) {
        handler_output_fail (output, TM_STATUS_NO_HANDLER, "no handler for type '%.*s'",
                             TM_MAX_TYPE_BYTES, type);
        return;
    }
    if (entry->handler)
        entry->handler (input, output);
    else
        plugin_run (&entry->plugin,
                    input->thread_states ? input->thread_states [entry->state] : NULL,
                    input, output);
    //  The bound holds for every handler.
    if (output->output_size > handler_output_limit (input))
        output->output_size = handler_output_limit (input);
}

size_t
handler_output_limit (const handler_input_t *input)
{
    return input->max_output_bytes ? input->max_output_bytes : HANDLER_MAX_OUTPUT_BYTES;
}

void
handler_output_init (handler_output_t *self)
{
    assert (self);
    //  A handler that returns without failing has succeeded (noop relies on it).
    memset (self, 0, sizeof (*self));
    self->status = TM_STATUS_OK;
}

void
handler_output_fini (handler_output_t *self)
{
    assert (self);
    free (self->output);
    free (self->error);
    self->output = NULL;
    self->output_size = 0;
    self->error = NULL;
}

void
handler_output_fail (handler_output_t *self, tm_status_t status, const char *format, ...)
{
    assert (self);
    //  The codec refuses errors over TM_MAX_ERROR_BYTES, so cut here. One
    //  byte more than that, so the cut can see the byte after it.
    char buffer [TM_MAX_ERROR_BYTES + 2];
    va_list args;
    va_start (args, format);
    int length = vsnprintf (buffer, sizeof (buffer), format, args);
    va_end (args);
    if (length < 0)
        length = 0;
    if ((size_t) length > TM_MAX_ERROR_BYTES) {
        //  Do not leave half a UTF-8 sequence at the cut.
        length = TM_MAX_ERROR_BYTES;
        while (length > 0 && ((uint8_t) buffer [length] & 0xC0) == 0x80)
            length--;
    }
    buffer [length] = 0;
    free (self->error);
    self->error = strdup (buffer);
    assert (self->error);
    self->status = status;
}

void
handler_output_set (handler_output_t *self, const void *data, size_t size)
{
    assert (self);
    assert (data || size == 0);
    if (size > TM_MAX_PAYLOAD_BYTES)
        size = TM_MAX_PAYLOAD_BYTES;
    free (self->output);
    self->output = NULL;
    if (size > 0) {
        self->output = (uint8_t *) zmalloc (size);
        memcpy (self->output, data, size);
    }
    self->output_size = size;
    self->status = TM_STATUS_OK;
}
