/*  tm_json: buffer, escaping and base64 for JSON output. */
#include "tm_json.h"
#include <czmq.h>
#include <openssl/evp.h>
#include <stdarg.h>
#ifdef __SSE2__
#   include <emmintrin.h>
#endif

void
tm_json_buf_init (tm_json_buf_t *self)
{
    self->capacity = 256;
    self->data = (char *) zmalloc (self->capacity);
    self->size = 0;
}

void
tm_json_buf_fini (tm_json_buf_t *self)
{
    free (self->data);
    self->data = NULL;
    self->size = self->capacity = 0;
}

void
tm_json_buf_reset (tm_json_buf_t *self)
{
    self->size = 0;
    self->data [0] = 0;
}

static void
s_reserve (tm_json_buf_t *self, size_t more)
{
    if (self->size + more + 1 <= self->capacity)
        return;
    while (self->size + more + 1 > self->capacity)
        self->capacity *= 2;
    self->data = (char *) realloc (self->data, self->capacity);
    assert (self->data);
}

void
tm_json_buf_append (tm_json_buf_t *self, const char *data, size_t size)
{
    s_reserve (self, size);
    memcpy (self->data + self->size, data, size);
    self->size += size;
    self->data [self->size] = 0;
}

void
tm_json_buf_append_str (tm_json_buf_t *self, const char *text)
{
    tm_json_buf_append (self, text, strlen (text));
}

void
tm_json_buf_printf (tm_json_buf_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    int needed = vsnprintf (self->data + self->size, self->capacity - self->size, format, args);
    va_end (args);
    assert (needed >= 0);
    if ((size_t) needed >= self->capacity - self->size) {
        s_reserve (self, (size_t) needed);
        va_start (args, format);
        vsnprintf (self->data + self->size, self->capacity - self->size, format, args);
        va_end (args);
    }
    self->size += (size_t) needed;
}

char *
tm_json_buf_room (tm_json_buf_t *self, size_t more)
{
    s_reserve (self, more);
    return self->data + self->size;
}

void
tm_json_buf_commit (tm_json_buf_t *self, char *end)
{
    self->size = (size_t) (end - self->data);
    assert (self->size < self->capacity);
    self->data [self->size] = 0;
}

//  Decimal digits of value.
static unsigned
s_digits (uint64_t value)
{
    unsigned digits = 1;
    if (value >= 10000000000000000ull) {
        digits += 16;
        value /= 10000000000000000ull;
    }
    if (value >= 100000000) {
        digits += 8;
        value /= 100000000;
    }
    if (value >= 10000) {
        digits += 4;
        value /= 10000;
    }
    if (value >= 100) {
        digits += 2;
        value /= 100;
    }
    return digits + (value >= 10);
}

char *
tm_json_put_uint (char *out, uint64_t value)
{
    if (value < 10) {
        *out = (char) ('0' + value);        //  attempts, most durations of noop tasks
        return out + 1;
    }
    //  Two digits a step, from the right: "00" to "99".
    static const char pairs [201] =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
        "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
        "8081828384858687888990919293949596979899";
    char *end = out + s_digits (value);
    char *at = end;
    while (value >= 100) {
        unsigned pair = (unsigned) (value % 100) * 2;
        value /= 100;
        *--at = pairs [pair + 1];
        *--at = pairs [pair];
    }
    if (value >= 10) {
        *--at = pairs [value * 2 + 1];
        *--at = pairs [value * 2];
    }
    else
        *--at = (char) ('0' + value);
    return end;
}

char *
tm_json_put_int (char *out, int64_t value)
{
    if (value >= 0)
        return tm_json_put_uint (out, (uint64_t) value);
    *out++ = '-';
    //  Negate in unsigned arithmetic: -INT64_MIN does not fit in int64_t.
    return tm_json_put_uint (out, 0 - (uint64_t) value);
}

void
tm_json_append_uint (tm_json_buf_t *self, uint64_t value)
{
    tm_json_buf_commit (self, tm_json_put_uint (tm_json_buf_room (self, TM_JSON_UINT_MAX_BYTES),
                                                value));
}

size_t
tm_format_uint (char *text, uint64_t value)
{
    size_t length = (size_t) (tm_json_put_uint (text, value) - text);
    text [length] = '\0';
    return length;
}

void
tm_json_append_int (tm_json_buf_t *self, int64_t value)
{
    tm_json_buf_commit (self, tm_json_put_int (tm_json_buf_room (self, TM_JSON_INT_MAX_BYTES),
                                               value));
}

//  Length of the valid UTF-8 sequence at data, or 0 if it is not one.
static size_t
s_utf8_length (const uint8_t *data, size_t size)
{
    uint8_t lead = data [0];
    size_t length;
    uint32_t min;
    if (lead < 0x80)
        return 1;
    else
    if ((lead & 0xE0) == 0xC0) { length = 2; min = 0x80; }
    else
    if ((lead & 0xF0) == 0xE0) { length = 3; min = 0x800; }
    else
    if ((lead & 0xF8) == 0xF0) { length = 4; min = 0x10000; }
    else
        return 0;
    if (length > size)
        return 0;
    uint32_t code = lead & (0x7F >> length);
    for (size_t i = 1; i < length; i++) {
        if ((data [i] & 0xC0) != 0x80)
            return 0;
        code = (code << 6) | (data [i] & 0x3F);
    }
    if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
        return 0;
    return length;
}

//  Runs of printable ASCII other than a quote or a backslash, the bulk of
//  most output, go into JSON as they are: they are found sixteen bytes a
//  step with SSE2 (every x86-64 has it), else eight with word arithmetic.
#define S_ONES 0x0101010101010101ull
#define S_HIGHS 0x8080808080808080ull

static inline bool
s_plain_byte (uint8_t byte)
{
    return byte >= 0x20 && byte < 0x80 && byte != '"' && byte != '\\';
}

//  Nonzero if a byte of word is below 0x20, a quote, a backslash or at or
//  above 0x80. The borrow tricks answer "is there one" exactly, which is
//  all that is asked: the bytes of such a word are then looked at one by one.
static inline uint64_t
s_word_special (uint64_t word)
{
    uint64_t quote = word ^ (S_ONES * '"');
    uint64_t backslash = word ^ (S_ONES * '\\');
    return (((word - S_ONES * 0x20) & ~word)
          | ((quote - S_ONES) & ~quote)
          | ((backslash - S_ONES) & ~backslash)
          | word) & S_HIGHS;
}

//  The first byte at or after at that is not plain (size if none is).
static size_t
s_skip_plain (const uint8_t *data, size_t at, size_t size)
{
#ifdef __SSE2__
    //  Signed, bytes from 0x80 up are below zero: one compare finds them
    //  and the control bytes.
    const __m128i space = _mm_set1_epi8 (0x20);
    const __m128i quote = _mm_set1_epi8 ('"');
    const __m128i backslash = _mm_set1_epi8 ('\\');
    while (at + 16 <= size) {
        __m128i bytes = _mm_loadu_si128 ((const __m128i *) (data + at));
        __m128i special = _mm_or_si128 (_mm_cmplt_epi8 (bytes, space),
                                        _mm_or_si128 (_mm_cmpeq_epi8 (bytes, quote),
                                                      _mm_cmpeq_epi8 (bytes, backslash)));
        int mask = _mm_movemask_epi8 (special);
        if (mask)
            return at + (size_t) __builtin_ctz ((unsigned) mask);
        at += 16;
    }
#endif
    while (at + 8 <= size) {
        uint64_t word;
        memcpy (&word, data + at, sizeof word);
        if (s_word_special (word))
            break;
        at += 8;
    }
    while (at < size && s_plain_byte (data [at]))
        at++;
    return at;
}

tm_json_form_t
tm_json_form (const uint8_t *data, size_t size)
{
    bool escapes = false;
    size_t at = 0;
    while ((at = s_skip_plain (data, at, size)) < size) {
        uint8_t byte = data [at];
        if (byte >= 0x80) {
            size_t length = s_utf8_length (data + at, size - at);
            if (length == 0)
                return TM_JSON_BINARY;
            at += length;
            continue;
        }
        if (byte == 0)
            return TM_JSON_BINARY;
        escapes = true;     //  a control byte, a quote or a backslash
        at++;
    }
    return escapes ? TM_JSON_TEXT : TM_JSON_PLAIN;
}

bool
tm_json_is_text (const uint8_t *data, size_t size)
{
    return tm_json_form (data, size) != TM_JSON_BINARY;
}

void
tm_json_append_plain (tm_json_buf_t *self, const char *data, size_t size)
{
    s_reserve (self, size + 2);
    char *out = self->data + self->size;
    *out++ = '"';
    memcpy (out, data, size);
    out += size;
    *out++ = '"';
    self->size = (size_t) (out - self->data);
    self->data [self->size] = 0;
}

char *
tm_json_put_string (char *out, const char *text, size_t size)
{
    const uint8_t *data = (const uint8_t *) text;
    *out++ = '"';
    size_t at = 0;
    while (at < size) {
        uint8_t byte = data [at];
        if (s_plain_byte (byte)) {
            //  A run is copied whole; what is left of a short string (an
            //  id, a type, a worker name) goes byte by byte.
            if (size - at >= 16) {
                size_t plain = s_skip_plain (data, at, size);
                memcpy (out, data + at, plain - at);
                out += plain - at;
                at = plain;
            }
            else {
                *out++ = (char) byte;
                at++;
            }
            continue;
        }
        if (byte >= 0x80) {
            size_t length = s_utf8_length (data + at, size - at);
            if (length == 0) {
                memcpy (out, "\xEF\xBF\xBD", 3);
                out += 3;
                at++;
            }
            else {
                memcpy (out, data + at, length);
                out += length;
                at += length;
            }
            continue;
        }
        *out++ = '\\';
        switch (byte) {
            case '"':  *out++ = '"'; break;
            case '\\': *out++ = '\\'; break;
            case '\n': *out++ = 'n'; break;
            case '\r': *out++ = 'r'; break;
            case '\t': *out++ = 't'; break;
            default:
                //  Only bytes below 0x20 get here: \u00XX.
                memcpy (out, "u00", 3);
                out [3] = "0123456789abcdef" [byte >> 4];
                out [4] = "0123456789abcdef" [byte & 0xF];
                out += 5;
        }
        at++;
    }
    *out++ = '"';
    return out;
}

void
tm_json_append_string (tm_json_buf_t *self, const char *text, size_t size)
{
    //  Worst case: every byte becomes \u00XX (6) or U+FFFD (3).
    char *out = tm_json_buf_room (self, TM_JSON_STRING_MAX_BYTES (size));
    tm_json_buf_commit (self, tm_json_put_string (out, text, size));
}

void
tm_json_append_base64 (tm_json_buf_t *self, const uint8_t *data, size_t size)
{
    size_t encoded = 4 * ((size + 2) / 3);
    s_reserve (self, encoded + 2);
    char *out = self->data + self->size;
    *out++ = '"';
    if (size > 0)
        EVP_EncodeBlock ((unsigned char *) out, data, (int) size);
    out += encoded;
    *out++ = '"';
    self->size = (size_t) (out - self->data);
    self->data [self->size] = 0;
}

int
tm_base64_decode (const char *text, size_t length, uint8_t **out, size_t *out_size)
{
    *out = NULL;
    *out_size = 0;
    if (length % 4 != 0 || length > INT32_MAX)
        return -1;
    uint8_t *decoded = (uint8_t *) zmalloc (length / 4 * 3 + 1);
    if (length > 0) {
        //  EVP_DecodeBlock skips surrounding blanks and counts padding as
        //  zero bytes; neither belongs in strict base64.
        for (size_t i = 0; i < length; i++) {
            char c = text [i];
            bool pad_ok = c == '=' && i >= length - 2 && (i == length - 1 || text [length - 1] == '=');
            if (!(isalnum ((unsigned char) c) || c == '+' || c == '/' || pad_ok)) {
                free (decoded);
                return -1;
            }
        }
        int size = EVP_DecodeBlock (decoded, (const unsigned char *) text, (int) length);
        if (size < 0) {
            free (decoded);
            return -1;
        }
        size_t padding = (text [length - 1] == '=') + (text [length - 2] == '=');
        *out_size = (size_t) size - padding;
    }
    *out = decoded;
    return 0;
}
