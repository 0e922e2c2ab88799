/*  tm_json: the small JSON writing the data path needs (results lines,
    status replies): a growable buffer, string escaping with invalid UTF-8
    replaced, and base64. Parsing JSON is the job reader's (simdjson, jansson
    for what it cannot prove valid), not this module's;
    writing goes through here because the results path emits a line per task
    and jansson's object building costs more than the rest of that path.
*/
#ifndef TM_JSON_H_INCLUDED
#define TM_JSON_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    char *data;         //  heap, NUL-terminated when size < capacity
    size_t size;        //  bytes used
    size_t capacity;    //  bytes allocated
} tm_json_buf_t;

void tm_json_buf_init (tm_json_buf_t *self);
void tm_json_buf_fini (tm_json_buf_t *self);
void tm_json_buf_reset (tm_json_buf_t *self);
void tm_json_buf_append (tm_json_buf_t *self, const char *data, size_t size);
void tm_json_buf_append_str (tm_json_buf_t *self, const char *text);
void tm_json_buf_printf (tm_json_buf_t *self, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));
//  Appends a string literal: inline, with no strlen, so the copy of a few
//  constant bytes compiles to moves (result lines are mostly literals).
#define TM_JSON_BUF_APPEND_LITERAL(self, literal) \
    tm_json_buf_append_fast ((self), "" literal, sizeof (literal) - 1)
static inline void
tm_json_buf_append_fast (tm_json_buf_t *self, const char *data, size_t size)
{
    if (self->size + size + 1 > self->capacity) {
        tm_json_buf_append (self, data, size);
        return;
    }
    memcpy (self->data + self->size, data, size);
    self->size += size;
    self->data [self->size] = 0;
}

//  Appends value in decimal, byte for byte what "%" PRIu64 / PRId64 print,
//  without printf's cost (the results path writes three numbers a line).
void tm_json_append_uint (tm_json_buf_t *self, uint64_t value);
//  Writes value in decimal and a NUL into text (TM_UINT_TEXT_MAX bytes);
//  returns the number of digits. A digit table, not printf: it runs per task.
#define TM_UINT_TEXT_MAX 21
size_t tm_format_uint (char *text, uint64_t value);
void tm_json_append_int (tm_json_buf_t *self, int64_t value);

//  Appends "..." with JSON escapes; bytes that are not valid UTF-8 become
//  U+FFFD, so the output is always valid JSON.
void tm_json_append_string (tm_json_buf_t *self, const char *data, size_t size);

//  A line in pieces with one check for room: tm_json_buf_room reserves
//  more bytes and returns where they start; each put writes at out and
//  returns the end of what it wrote, within the bound it names;
//  tm_json_buf_commit ends the buffer there. The results path builds a
//  line per task this way, not as a dozen appends that each check.
char *tm_json_buf_room (tm_json_buf_t *self, size_t more);
void tm_json_buf_commit (tm_json_buf_t *self, char *end);
#define TM_JSON_UINT_MAX_BYTES 20
char *tm_json_put_uint (char *out, uint64_t value);
#define TM_JSON_INT_MAX_BYTES 20
char *tm_json_put_int (char *out, int64_t value);
//  At most TM_JSON_STRING_MAX_BYTES (size); as tm_json_append_string.
#define TM_JSON_STRING_MAX_BYTES(size) (6 * (size) + 2)
char *tm_json_put_string (char *out, const char *data, size_t size);
//  A string literal, with no strlen.
#define TM_JSON_PUT_LITERAL(out, literal) \
    ((char *) memcpy ((out), "" literal, sizeof (literal) - 1) + sizeof (literal) - 1)
//  True if data is valid UTF-8 with no NUL byte: safe to write as a string.
bool tm_json_is_text (const uint8_t *data, size_t size);

//  How bytes can go into JSON, found in one pass that reads eight bytes a
//  step (a results line may carry megabytes of output).
typedef enum {
    TM_JSON_UNKNOWN = 0,    //  not looked at yet
    TM_JSON_BINARY,         //  not valid UTF-8, or holds a NUL: base64 it
    TM_JSON_TEXT,           //  valid UTF-8 without NUL, with bytes to escape
    TM_JSON_PLAIN           //  valid UTF-8 that needs no escape: it goes between quotes as it is
} tm_json_form_t;
tm_json_form_t tm_json_form (const uint8_t *data, size_t size);
//  Appends "..." holding data as it is: for bytes of TM_JSON_PLAIN form.
void tm_json_append_plain (tm_json_buf_t *self, const char *data, size_t size);
//  Appends "..." holding the base64 encoding of data.
void tm_json_append_base64 (tm_json_buf_t *self, const uint8_t *data, size_t size);
//  Decodes base64 text into a new heap buffer (*out, *out_size; caller frees).
//  Returns 0, or -1 if the text is not valid base64.
int tm_base64_decode (const char *text, size_t length, uint8_t **out, size_t *out_size);

#endif
