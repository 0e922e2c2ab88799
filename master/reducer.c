/*  reducer: sum, count-words, concat. */
#include "reducer.h"
#include "tm_log.h"
#include "results_scan.h"
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
    concat_t *concat;
    //  --resume
    results_scan_t *scan;           //  the results file, read back
    resume_set_t *resume;           //  borrowed: which seqs an earlier run finished
    concat_source_t source;         //  concat's view of the two
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

reducer_t *
reducer_new (reducer_kind_t kind, const char *path, size_t max_words, size_t window,
             char *error, size_t error_size)
{
    reducer_t *self = (reducer_t *) zmalloc (sizeof (reducer_t));
    self->kind = kind;
    self->max_words = max_words ? max_words : REDUCER_DEFAULT_MAX_WORDS;
    if (kind == REDUCER_COUNT_WORDS) {
        self->words = zhashx_new ();
        zhashx_set_destructor (self->words, s_free_total);
    }
    if (kind == REDUCER_CONCAT) {
        self->concat = concat_new (path, window, error, error_size);
        if (!self->concat)
            reducer_destroy (&self);
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
        concat_destroy (&self->concat);
        results_scan_destroy (&self->scan);
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
        concat_add (self->concat, seq, output, size);
}

uint64_t
reducer_waiting_for (reducer_t *self)
{
    return self->kind == REDUCER_CONCAT ? concat_waiting_for (self->concat) : 0;
}

uint64_t
reducer_seq_limit (reducer_t *self)
{
    return self->kind == REDUCER_CONCAT ? concat_seq_limit (self->concat) : UINT64_MAX;
}

static concat_origin_t
s_origin (void *source, uint64_t seq)
{
    resume_set_t *resume = ((reducer_t *) source)->resume;
    if (!resume_set_has (resume, seq))
        return CONCAT_LIVE;
    return resume_set_ok (resume, seq) ? CONCAT_EARLIER_OK : CONCAT_EARLIER_NOT_OK;
}

//  The next ok result of the earlier runs.
static int
s_next_ok (void *source, uint64_t *seq, const uint8_t **output, size_t *size)
{
    results_scan_record_t record;
    while (results_scan_next (((reducer_t *) source)->scan, &record) == 1)
        if (record.ok) {
            *seq = record.seq;
            *output = record.output;
            *size = record.output_size;
            return 1;
        }
    return 0;
}

static int
s_rewind (void *source)
{
    return results_scan_rewind (((reducer_t *) source)->scan);
}

int
reducer_replay (reducer_t *self, const char *path, resume_set_t *resume, char *error,
                size_t error_size)
{
    if (self->kind == REDUCER_NONE)
        return 0;
    self->scan = results_scan_new (path, error, error_size);
    if (!self->scan)
        return -1;
    if (self->kind == REDUCER_CONCAT) {
        //  The file is written again from the top, the earlier outputs
        //  read back as it reaches them (see concat.h).
        self->resume = resume;
        self->source = (concat_source_t) { s_origin, s_next_ok, s_rewind, self };
        concat_resume (self->concat, &self->source);
        return 0;
    }
    results_scan_record_t record;
    while (results_scan_next (self->scan, &record) == 1)
        if (record.ok)
            reducer_add (self, record.seq, record.output, record.output_size);
    results_scan_destroy (&self->scan);
    return 0;
}

void
reducer_skip (reducer_t *self, uint64_t seq)
{
    if (self->kind == REDUCER_CONCAT)
        concat_skip (self->concat, seq);
}

int
reducer_finish (reducer_t *self)
{
    return self->kind == REDUCER_CONCAT ? concat_finish (self->concat) : 0;
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
    if (self->kind == REDUCER_CONCAT) {
        concat_stats_t stats;
        concat_stats (self->concat, &stats);
        return json_pack ("{s:s, s:s, s:I, s:I, s:I, s:I}", "kind", "concat",
                          "file", concat_path (self->concat),
                          "written_through_seq", (json_int_t) stats.written_through,
                          "from_earlier_runs", (json_int_t) stats.from_earlier,
                          "results_rescans", (json_int_t) stats.rescans,
                          "most_waiting", (json_int_t) stats.most_waiting);
    }
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
    if (self->kind == REDUCER_CONCAT) {
        concat_stats_t stats;
        concat_stats (self->concat, &stats);
        fprintf (out, "  reduce concat: %s, written through seq %" PRIu64, concat_path (self->concat),
                 stats.written_through);
        if (stats.from_earlier)
            fprintf (out, " (%" PRIu64 " outputs from earlier runs)", stats.from_earlier);
        fprintf (out, "\n");
    }
}
