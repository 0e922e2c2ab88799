/*  tm_log: zsys setup, a rate limiter for peer and input warnings, and
    escaping for what peers wrote.
*/
#include "tm_log.h"
#include <czmq.h>
#include <stdio.h>
#include <string.h>

#define S_LIMITER_INTERVAL_US 5000000

void
tm_log_init (const char *ident)
{
    zsys_init ();
    zsys_set_logident (ident);
    zsys_set_logstream (stderr);
    zsys_set_logsystem (false);
}

bool
tm_log_limiter_allow (tm_log_limiter_t *self, int64_t now_us, uint64_t *suppressed)
{
    if (self->last_us != 0 && now_us - self->last_us < S_LIMITER_INTERVAL_US) {
        self->suppressed++;
        return false;
    }
    *suppressed = self->suppressed;
    self->suppressed = 0;
    self->last_us = now_us;
    return true;
}

//  The length of the UTF-8 sequence at text, or 0 if it is not one, is
//  overlong or a surrogate, or encodes a C1 control (U+0080 to U+009F,
//  which some terminals obey as they do ESC sequences).
static size_t
s_utf8_length (const unsigned char *text)
{
    unsigned char first = text [0];
    size_t length;
    uint32_t code;
    if (first >= 0xc2 && first <= 0xdf) {
        length = 2;
        code = first & 0x1f;
    }
    else
    if (first >= 0xe0 && first <= 0xef) {
        length = 3;
        code = first & 0x0f;
    }
    else
    if (first >= 0xf0 && first <= 0xf4) {
        length = 4;
        code = first & 0x07;
    }
    else
        return 0;
    for (size_t i = 1; i < length; i++) {
        if ((text [i] & 0xc0) != 0x80)
            return 0;       //  the terminating NUL stops here too
        code = (code << 6) | (text [i] & 0x3f);
    }
    if ((length == 3 && code < 0x800) || (length == 4 && (code < 0x10000 || code > 0x10ffff))
    ||  (code >= 0xd800 && code <= 0xdfff) || (code >= 0x80 && code <= 0x9f))
        return 0;
    return length;
}

const char *
tm_log_safe (const char *text, char *buffer, size_t size)
{
    assert (buffer && size >= 4);
    const unsigned char *cursor = (const unsigned char *) (text ? text : "(null)");
    size_t out = 0;
    while (*cursor) {
        char piece [8];
        size_t consumed = *cursor >= 0x80 ? s_utf8_length (cursor) : 0;
        size_t length = consumed;
        if (consumed)
            memcpy (piece, cursor, consumed);
        else {
            consumed = 1;
            if (*cursor < 0x20 || *cursor >= 0x7f)
                length = (size_t) snprintf (piece, sizeof piece, "\\x%02x", *cursor);
            else
            if (*cursor == '\\')
                length = (size_t) snprintf (piece, sizeof piece, "\\\\");
            else {
                piece [0] = (char) *cursor;
                length = 1;
            }
        }
        //  Room is kept for "..." and the NUL.
        if (out + length + 4 > size) {
            memcpy (buffer + out, "...", 3);
            out += 3;
            break;
        }
        memcpy (buffer + out, piece, length);
        out += length;
        cursor += consumed;
    }
    buffer [out] = 0;
    return buffer;
}
