/*  job_parse_simdjson: job_parse.h with simdjson's DOM parser (Debian 12:
    libsimdjson 3.0.1): parse for one line, parse_many for a window of them.
    The DOM parser validates a whole text (syntax, UTF-8, escapes, surrogate
    pairs, unescaped control bytes, numbers) before we see any of it, and
    picks its kernel at run time (AVX-512, AVX2, SSE4.2 or portable C), so
    one binary runs on every CPU.

    It accepts a subset of what jansson accepts: simdjson takes \u0000 in a
    string and integers from 2^63 to 2^64-1, jansson refuses both, so such
    lines are "unsure" here. The only C++ in taskmill, built with
    -fno-exceptions: simdjson is used through its error codes, and its
    allocations are nothrow (out of memory aborts, as zmalloc does in C).
*/
#include "job_parse.h"
#include <simdjson.h>
#include <cassert>
#include <cstdlib>
#include <cstring>
#include <new>

static_assert (simdjson::SIMDJSON_PADDING <= JOB_PARSE_PADDING, "JOB_PARSE_PADDING is too small");

//  A parser keeps the capacity of the longest line it has parsed (about 14
//  bytes of index, tape and strings allocated per input byte); past this,
//  the next shorter line gives the memory back.
static const size_t s_keep_capacity_bytes = 1024 * 1024;

struct _job_parse_t {
    simdjson::dom::parser parser;   //  its buffers hold the last line's strings
};

job_parse_t *
job_parse_new (void)
{
    job_parse_t *self = new (std::nothrow) job_parse_t;
    if (!self)
        abort ();
    return self;
}

void
job_parse_destroy (job_parse_t **self_p)
{
    assert (self_p);
    if (!*self_p)
        return;
    delete *self_p;
    *self_p = NULL;
}

//  Whether a string parsed from data may hold a NUL: only \u0000 makes one
//  (a raw NUL is an unescaped control byte, which simdjson refuses), so a
//  text without those six bytes is not searched string by string. jansson
//  refuses \u0000 without JSON_ALLOW_NUL.
static bool
s_may_hold_nul (const uint8_t *data, size_t size)
{
    const uint8_t *end = data + size;
    for (const uint8_t *at = data;
         (at = (const uint8_t *) memchr (at, '\\', (size_t) (end - at))) != NULL; at++)
        if (end - at >= 6 && memcmp (at + 1, "u0000", 5) == 0)
            return true;
    return false;
}

//  Takes a value jansson would hold the same; returns false if unsure.
static bool
s_take_value (simdjson::dom::element element, bool may_hold_nul, job_value_t *value)
{
    value->kind = JOB_VALUE_OTHER;
    switch (element.type ()) {
        case simdjson::dom::element_type::STRING: {
            std::string_view text;
            if (element.get_string ().get (text))
                return false;
            if (may_hold_nul && memchr (text.data (), 0, text.size ()))
                return false;
            value->kind = JOB_VALUE_STRING;
            value->string = text.data ();   //  the tape's strings end in a NUL
            value->length = text.size ();
            return true;
        }
        case simdjson::dom::element_type::INT64:
            value->kind = JOB_VALUE_INTEGER;
            return !element.get_int64 ().get (value->integer);
        case simdjson::dom::element_type::DOUBLE:
            value->kind = JOB_VALUE_REAL;
            return !element.get_double ().get (value->real);
        default:
            //  UINT64 (jansson: "too big integer"), and values job_reader
            //  refuses anyway: jansson names those errors.
            return false;
    }
}

//  Takes a parsed text's fields; returns their count, or -1 if unsure.
static int
s_take_object (simdjson::dom::element root, bool may_hold_nul, job_field_t *fields,
               size_t max_fields)
{
    simdjson::dom::object object;
    if (root.get_object ().get (object))
        return -1;
    size_t count = 0;
    for (auto field = object.begin (); field != object.end (); ++field) {
        if (count == max_fields)
            return -1;
        const char *key = field.key_c_str ();
        size_t key_length = field.key_length ();
        if (may_hold_nul && memchr (key, 0, key_length))
            return -1;
        fields [count].key = key;
        fields [count].key_length = key_length;
        if (!s_take_value (field.value (), may_hold_nul, &fields [count].value))
            return -1;
        count++;
    }
    return (int) count;
}

//  Gives back the memory a long line took, before a short one.
static int
s_fit (simdjson::dom::parser &parser, size_t size)
{
    if (parser.capacity () > s_keep_capacity_bytes && size <= s_keep_capacity_bytes
    &&  parser.allocate (s_keep_capacity_bytes))
        return -1;
    return 0;
}

int
job_parse_line (job_parse_t *self, const uint8_t *line, size_t size,
                job_field_t *fields, size_t max_fields)
{
    simdjson::dom::element root;
    //  false: line has JOB_PARSE_PADDING bytes after it, so no copy.
    if (s_fit (self->parser, size) || self->parser.parse (line, size, false).get (root))
        return -1;
    return s_take_object (root, s_may_hold_nul (line, size), fields, max_fields);
}

int
job_parse_many (job_parse_t *self, const uint8_t *data, size_t size,
                job_field_t *fields, size_t max_fields, job_parse_take_fn *take, void *arg)
{
    simdjson::dom::document_stream stream;
    //  One batch of the whole size: stage 1 runs once for all the texts,
    //  with no look-ahead thread (simdjson starts one only for a second batch).
    if (s_fit (self->parser, size) || self->parser.parse_many (data, size, size).get (stream))
        return -1;
    bool may_hold_nul = s_may_hold_nul (data, size);
    for (auto text = stream.begin (); text != stream.end (); ++text) {
        simdjson::dom::element root;
        if ((*text).get (root))
            return -1;
        int count = s_take_object (root, may_hold_nul, fields, max_fields);
        if (count < 0 || take (arg, text.current_index (), fields, (size_t) count))
            return -1;
    }
    return 0;
}
