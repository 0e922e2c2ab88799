/*  reducer: sum, count-words, concat. */
#include "reducer.h"
#include "tm_log.h"
#include "tm_json.h"
#include <czmq.h>
#include <errno.h>
#include <math.h>

struct _reducer_t {
    reducer_kind_t kind;
    //  sum
    int64_t sum;                    //  exact, while no decimal and no overflow
    double sum_real;                //  always kept
    bool real;                      //  a decimal was seen, or the integers overflowed
    bool overflow;
    uint64_t numbers;
    uint64_t not_numbers;
    //  count-words
    zhashx_t *words;                //  word -> uint64_t total
    size_t max_words;
    uint64_t words_dropped;         //  occurrences of words past max_words
    uint64_t not_objects;           //  outputs that were not word counts
    //  concat
    FILE *file;
    char *path;
    uint64_t next_seq;              //  the next seq the file waits for
    zhashx_t *early;                //  seq (as text) -> zchunk of output, or NULL: skipped
    bool write_failed;
};

int
reducer_parse (const char *text, reducer_kind_t *kind, const char **path)
{
    *path = NULL;
    if (strcmp (text, "none") == 0)
        *kind = REDUCER_NONE;
    else
    if (strcmp (text, "sum") == 0)
        *kind = REDUCER_SUM;
    else
    if (strcmp (text, "count-words") == 0)
        *kind = REDUCER_COUNT_WORDS;
    else
    if (strncmp (text, "concat", 6) == 0 && (text [6] == 0 || (text [6] == ':' && text [7]))) {
        *kind = REDUCER_CONCAT;
        *path = text [6] ? text + 7 : "concat.out";
    }
    else
        return -1;
    return 0;
}

static void
s_free_total (void **item)
{
    free (*item);
    *item = NULL;
}

static void
s_free_chunk (void **item)
{
    zchunk_t *chunk = (zchunk_t *) *item;
    zchunk_destroy (&chunk);
    *item = NULL;
}

reducer_t *
reducer_new (reducer_kind_t kind, const char *path, size_t max_words, char *error,
             size_t error_size)
{
    reducer_t *self = (reducer_t *) zmalloc (sizeof (reducer_t));
    self->kind = kind;
    self->max_words = max_words ? max_words : REDUCER_DEFAULT_MAX_WORDS;
    self->next_seq = 1;
    if (kind == REDUCER_COUNT_WORDS) {
        self->words = zhashx_new ();
        zhashx_set_destructor (self->words, s_free_total);
    }
    if (kind == REDUCER_CONCAT) {
        self->path = strdup (path);
        self->file = fopen (path, "w");
        self->early = zhashx_new ();
        zhashx_set_destructor (self->early, s_free_chunk);
        if (!self->file) {
            snprintf (error, error_size, "--reduce concat: cannot open %s: %s", path,
                      strerror (errno));
            reducer_destroy (&self);
        }
    }
    return self;
}

void
reducer_destroy (reducer_t **self_p)
{
    assert (self_p);
    reducer_t *self = *self_p;
    if (self) {
        zhashx_destroy (&self->words);
        zhashx_destroy (&self->early);
        if (self->file)
            fclose (self->file);
        free (self->path);
        free (self);
        *self_p = NULL;
    }
}

static void
s_sum (reducer_t *self, const uint8_t *output, size_t size)
{
    char text [64];
    if (size == 0 || size >= sizeof text) {
        self->not_numbers++;
        return;
    }
    memcpy (text, output, size);
    text [size] = 0;
    char *end;
    errno = 0;
    long long integer = strtoll (text, &end, 10);
    while (*end == ' ' || *end == '\n' || *end == '\t' || *end == '\r')
        end++;
    if (*end == 0 && errno == 0 && end != text) {
        self->numbers++;
        self->sum_real += (double) integer;
        int64_t sum;
        if (__builtin_add_overflow (self->sum, (int64_t) integer, &sum))
            self->overflow = self->real = true;
        else
            self->sum = sum;
        return;
    }
    errno = 0;
    double real = strtod (text, &end);
    while (*end == ' ' || *end == '\n' || *end == '\t' || *end == '\r')
        end++;
    if (*end == 0 && errno == 0 && end != text && isfinite (real)) {
        self->numbers++;
        self->sum_real += real;
        self->real = true;
    }
    else
        self->not_numbers++;
}

static void
s_count_words (reducer_t *self, const uint8_t *output, size_t size)
{
    json_t *object = json_loadb ((const char *) output, size, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object (object)) {
        self->not_objects++;
        json_decref (object);
        return;
    }
    const char *word;
    json_t *value;
    json_object_foreach (object, word, value) {
        if (!json_is_integer (value) || json_integer_value (value) < 0)
            continue;
        uint64_t count = (uint64_t) json_integer_value (value);
        //  The count lives in the item: a string of digits would cost a
        //  parse per merge, so the item is the number itself.
        uint64_t *total = (uint64_t *) zhashx_lookup (self->words, word);
        if (total)
            *total += count;
        else
        if (zhashx_size (self->words) < self->max_words) {
            total = (uint64_t *) zmalloc (sizeof (uint64_t));
            *total = count;
            zhashx_insert (self->words, word, total);
        }
        else
            self->words_dropped += count;
    }
    json_decref (object);
}

//  Writes every output the file can take now, in seq order.
static void
s_concat_drain (reducer_t *self)
{
    char key [24];
    while (true) {
        snprintf (key, sizeof key, "%" PRIu64, self->next_seq);
        //  A skip waits as an empty chunk, like an empty output.
        zchunk_t *chunk = (zchunk_t *) zhashx_lookup (self->early, key);
        if (!chunk)
            return;
        if (zchunk_size (chunk)
        &&  fwrite (zchunk_data (chunk), 1, zchunk_size (chunk), self->file) != zchunk_size (chunk))
            self->write_failed = true;
        zhashx_delete (self->early, key);
        self->next_seq++;
    }
}

static void
s_concat (reducer_t *self, uint64_t seq, const uint8_t *output, size_t size)
{
    if (seq < self->next_seq)
        return;     //  already written or passed: a duplicate
    char key [24];
    snprintf (key, sizeof key, "%" PRIu64, seq);
    if (zhashx_lookup (self->early, key))
        return;
    zhashx_insert (self->early, key, zchunk_new (output, size));
    s_concat_drain (self);
}

void
reducer_add (reducer_t *self, uint64_t seq, const uint8_t *output, size_t size)
{
    if (self->kind == REDUCER_SUM)
        s_sum (self, output, size);
    else
    if (self->kind == REDUCER_COUNT_WORDS)
        s_count_words (self, output, size);
    else
    if (self->kind == REDUCER_CONCAT)
        s_concat (self, seq, output, size);
}

uint64_t
reducer_waiting_for (reducer_t *self)
{
    return self->kind == REDUCER_CONCAT ? self->next_seq : 0;
}

int
reducer_replay (reducer_t *self, const char *path, char *error, size_t error_size)
{
    FILE *file = fopen (path, "r");
    if (!file) {
        snprintf (error, error_size, "cannot read %s: %s", path, strerror (errno));
        return -1;
    }
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length;
    while ((length = getline (&line, &capacity, file)) > 0) {
        json_t *result = json_loadb (line, (size_t) length, 0, NULL);
        const char *status = json_string_value (json_object_get (result, "status"));
        json_t *seq = json_object_get (result, "seq");
        const char *text = json_string_value (json_object_get (result, "output"));
        const char *b64 = json_string_value (json_object_get (result, "output_b64"));
        if (status && strcmp (status, "ok") == 0 && json_is_integer (seq)) {
            uint8_t *bytes = NULL;
            size_t size = 0;
            if (b64 && tm_base64_decode (b64, strlen (b64), &bytes, &size) == 0)
                reducer_add (self, (uint64_t) json_integer_value (seq), bytes, size);
            else
                reducer_add (self, (uint64_t) json_integer_value (seq),
                             (const uint8_t *) (text ? text : ""), text ? strlen (text) : 0);
            free (bytes);
        }
        json_decref (result);
    }
    free (line);
    fclose (file);
    return 0;
}

void
reducer_skip (reducer_t *self, uint64_t seq)
{
    if (self->kind == REDUCER_CONCAT)
        s_concat (self, seq, NULL, 0);
}

int
reducer_finish (reducer_t *self)
{
    if (self->kind != REDUCER_CONCAT)
        return 0;
    s_concat_drain (self);
    if (fflush (self->file) != 0 || fsync (fileno (self->file)) != 0)
        self->write_failed = true;
    if (self->write_failed)
        zsys_error ("--reduce concat: cannot write %s", self->path);
    return self->write_failed ? -1 : 0;
}

static int
s_by_count (const void *a, const void *b)
{
    const json_t *x = *(json_t * const *) a, *y = *(json_t * const *) b;
    json_int_t cx = json_integer_value (json_array_get (x, 1));
    json_int_t cy = json_integer_value (json_array_get (y, 1));
    if (cx != cy)
        return cx < cy ? 1 : -1;
    return strcmp (json_string_value (json_array_get (x, 0)),
                   json_string_value (json_array_get (y, 0)));
}

//  [["word", n], ...] most frequent first, then by word.
static json_t *
s_sorted_words (reducer_t *self)
{
    size_t count = zhashx_size (self->words), index = 0;
    json_t **pairs = (json_t **) zmalloc ((count + 1) * sizeof (json_t *));
    for (uint64_t *total = (uint64_t *) zhashx_first (self->words);
         total; total = (uint64_t *) zhashx_next (self->words))
        pairs [index++] = json_pack ("[s, I]", (const char *) zhashx_cursor (self->words),
                                     (json_int_t) *total);
    qsort (pairs, count, sizeof (json_t *), s_by_count);
    json_t *list = json_array ();
    for (size_t i = 0; i < count; i++)
        json_array_append_new (list, pairs [i]);
    free (pairs);
    return list;
}

json_t *
reducer_json (reducer_t *self)
{
    if (self->kind == REDUCER_SUM)
        return self->real
            ? json_pack ("{s:s, s:f, s:b, s:I, s:I}", "kind", "sum", "value", self->sum_real,
                         "overflow", self->overflow, "numbers", (json_int_t) self->numbers,
                         "not_numbers", (json_int_t) self->not_numbers)
            : json_pack ("{s:s, s:I, s:b, s:I, s:I}", "kind", "sum", "value", (json_int_t) self->sum,
                         "overflow", 0, "numbers", (json_int_t) self->numbers,
                         "not_numbers", (json_int_t) self->not_numbers);
    if (self->kind == REDUCER_COUNT_WORDS) {
        json_t *words = json_object ();
        for (uint64_t *total = (uint64_t *) zhashx_first (self->words);
             total; total = (uint64_t *) zhashx_next (self->words))
            json_object_set_new (words, (const char *) zhashx_cursor (self->words),
                                 json_integer ((json_int_t) *total));
        return json_pack ("{s:s, s:o, s:I, s:I, s:I}", "kind", "count-words", "words", words,
                          "distinct", (json_int_t) zhashx_size (self->words),
                          "dropped_past_max_words", (json_int_t) self->words_dropped,
                          "not_word_counts", (json_int_t) self->not_objects);
    }
    if (self->kind == REDUCER_CONCAT)
        return json_pack ("{s:s, s:s, s:I}", "kind", "concat", "file", self->path,
                          "written_through_seq", (json_int_t) (self->next_seq - 1));
    return NULL;
}

void
reducer_print (reducer_t *self, FILE *out)
{
    if (self->kind == REDUCER_SUM) {
        if (self->real)
            fprintf (out, "  reduce sum: %.17g%s (%" PRIu64 " numbers, %" PRIu64 " not numbers)\n",
                     self->sum_real, self->overflow ? ", integers overflowed: as a double" : "",
                     self->numbers, self->not_numbers);
        else
            fprintf (out, "  reduce sum: %" PRId64 " (%" PRIu64 " numbers, %" PRIu64 " not numbers)\n",
                     self->sum, self->numbers, self->not_numbers);
    }
    else
    if (self->kind == REDUCER_COUNT_WORDS) {
        json_t *sorted = s_sorted_words (self);
        fprintf (out, "  reduce count-words: %zu distinct words%s; top:", zhashx_size (self->words),
                 self->words_dropped ? " (more dropped past the limit)" : "");
        //  Words come from workers' outputs.
        char word [TM_LOG_SAFE_BYTES (64)];
        for (size_t i = 0; i < json_array_size (sorted) && i < REDUCER_TOP_WORDS; i++) {
            json_t *pair = json_array_get (sorted, i);
            fprintf (out, " %s=%lld",
                     tm_log_safe (json_string_value (json_array_get (pair, 0)), word, sizeof word),
                     (long long) json_integer_value (json_array_get (pair, 1)));
        }
        fprintf (out, "\n");
        json_decref (sorted);
    }
    else
    if (self->kind == REDUCER_CONCAT)
        fprintf (out, "  reduce concat: %s, written through seq %" PRIu64 "\n", self->path,
                 self->next_seq - 1);
}
