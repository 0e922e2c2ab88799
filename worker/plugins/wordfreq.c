/*  wordfreq: a taskmill plugin (taskmill/plugin.h) and the example of how
    to write one. Type "wordfreq": the payload is text; the output is a JSON
    object of its words and how often each occurs, keys sorted, e.g.
    {"be":2,"not":1,"or":1,"to":2}. A word is a maximal run of ASCII letters,
    lowercased; every other byte separates words (the map-reduce example
    and its test count the same way as `tr -cs A-Za-z '\n' | tr A-Z a-z`).

    Each executor thread gets its own table (thread_init), reused from task
    to task, so handlers on several threads share nothing.
*/
#include <taskmill/plugin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

TASKMILL_PLUGIN_ABI;

typedef struct {
    const unsigned char *word;      //  into the payload
    size_t length;
    size_t count;
} s_slot_t;

typedef struct {
    s_slot_t *slots;
    size_t capacity;                //  a power of two
    size_t used;
} s_table_t;

static void *
s_thread_init (void)
{
    return calloc (1, sizeof (s_table_t));
}

static void
s_thread_fini (void *state)
{
    s_table_t *table = (s_table_t *) state;
    if (table)
        free (table->slots);
    free (table);
}

static int
s_lower (unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int
s_is_letter (unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static size_t
s_hash (const unsigned char *word, size_t length)
{
    size_t hash = 1469598103934665603ull;
    for (size_t i = 0; i < length; i++)
        hash = (hash ^ (size_t) s_lower (word [i])) * 1099511628211ull;
    return hash;
}

static int
s_same (const unsigned char *a, const unsigned char *b, size_t length)
{
    for (size_t i = 0; i < length; i++)
        if (s_lower (a [i]) != s_lower (b [i]))
            return 0;
    return 1;
}

//  Makes room for twice as many words as the payload could hold at most.
static int
s_reset (s_table_t *table, size_t payload_size)
{
    size_t want = 16;
    while (want < payload_size + 2)
        want *= 2;
    if (want > table->capacity) {
        free (table->slots);
        table->slots = (s_slot_t *) malloc (want * sizeof (s_slot_t));
        if (!table->slots) {
            table->capacity = 0;
            return -1;
        }
        table->capacity = want;
    }
    memset (table->slots, 0, table->capacity * sizeof (s_slot_t));
    table->used = 0;
    return 0;
}

static void
s_count (s_table_t *table, const unsigned char *word, size_t length)
{
    size_t index = s_hash (word, length) & (table->capacity - 1);
    while (table->slots [index].word
       &&  !(table->slots [index].length == length && s_same (table->slots [index].word, word, length)))
        index = (index + 1) & (table->capacity - 1);
    if (!table->slots [index].word) {
        table->slots [index] = (s_slot_t) { word, length, 0 };
        table->used++;
    }
    table->slots [index].count++;
}

static int
s_by_word (const void *a, const void *b)
{
    const s_slot_t *x = (const s_slot_t *) a, *y = (const s_slot_t *) b;
    size_t shorter = x->length < y->length ? x->length : y->length;
    for (size_t i = 0; i < shorter; i++) {
        int diff = s_lower (x->word [i]) - s_lower (y->word [i]);
        if (diff)
            return diff;
    }
    return (x->length > y->length) - (x->length < y->length);
}

static void
s_run (void *state, const taskmill_task_t *task, taskmill_output_t *out)
{
    s_table_t *table = (s_table_t *) state;
    if (!table || s_reset (table, task->payload_size) != 0) {
        out->fail (out, TASKMILL_FAILED, "out of memory");
        return;
    }
    const unsigned char *text = task->payload;
    for (size_t i = 0; i < task->payload_size;) {
        if (!s_is_letter (text [i])) {
            i++;
            continue;
        }
        size_t start = i;
        while (i < task->payload_size && s_is_letter (text [i]))
            i++;
        s_count (table, text + start, i - start);
    }
    //  Sorted, so the output is the same whatever the table's order.
    size_t kept = 0;
    for (size_t i = 0; i < table->capacity; i++)
        if (table->slots [i].word)
            table->slots [kept++] = table->slots [i];
    qsort (table->slots, kept, sizeof (s_slot_t), s_by_word);
    out->write (out, "{", 1);
    for (size_t i = 0; i < kept; i++) {
        char chunk [128];
        int size = snprintf (chunk, sizeof chunk, "%s\"", i ? "," : "");
        out->write (out, chunk, (size_t) size);
        //  The word, lowercased, a buffer at a time (words have no length limit).
        for (size_t at = 0; at < table->slots [i].length; at += sizeof chunk) {
            size_t length = table->slots [i].length - at;
            length = length < sizeof chunk ? length : sizeof chunk;
            for (size_t j = 0; j < length; j++)
                chunk [j] = (char) s_lower (table->slots [i].word [at + j]);
            out->write (out, chunk, length);
        }
        size = snprintf (chunk, sizeof chunk, "\":%zu", table->slots [i].count);
        if (out->write (out, chunk, (size_t) size) != 0) {
            out->fail (out, TASKMILL_FAILED, "more words than the output holds");
            return;
        }
    }
    out->write (out, "}", 1);
}

int
taskmill_plugin_register (taskmill_registrar_t *registrar)
{
    static const taskmill_handler_t handler = {
        "wordfreq", s_run, s_thread_init, s_thread_fini
    };
    return registrar->add (registrar, &handler);
}
