/*  Tests for tm_json: the buffer, string escaping (always valid JSON, with
    invalid UTF-8 replaced by U+FFFD), the text check that picks "output"
    or "output_b64", and base64 both ways. jansson, a strict parser, is the
    judge of what is valid JSON.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tm_json.h"
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FFFD "\xef\xbf\xbd"

//  Escapes size bytes of data and compares with the expected JSON text.
static void
assert_escaped (const char *data, size_t size, const char *expected)
{
    tm_json_buf_t buf;
    tm_json_buf_init (&buf);
    tm_json_append_string (&buf, data, size);
    assert_string_equal (buf.data, expected);
    assert_int_equal (buf.size, strlen (expected));
    tm_json_buf_fini (&buf);
}

//  --- buffer -----------------------------------------------------------------

static void
buffer_grows_for_appends_and_printf (void **state)
{
    (void) state;
    tm_json_buf_t buf;
    tm_json_buf_init (&buf);
    char big [1000];
    memset (big, 'x', sizeof (big) - 1);
    big [sizeof (big) - 1] = 0;
    tm_json_buf_append_str (&buf, "{");
    tm_json_buf_printf (&buf, "\"n\":%d,\"s\":\"%s\"", 42, big);
    tm_json_buf_append (&buf, "}", 1);
    assert_int_equal (buf.size, strlen (buf.data));
    assert_int_equal (buf.size, 1 + 12 + 999 + 1 + 1);
    assert_string_equal (buf.data + buf.size - 3, "x\"}");
    assert_memory_equal (buf.data, "{\"n\":42,\"s\":\"xxx", 16);
    tm_json_buf_reset (&buf);
    assert_int_equal (buf.size, 0);
    assert_string_equal (buf.data, "");
    tm_json_buf_printf (&buf, "%s", "after reset");
    assert_string_equal (buf.data, "after reset");
    tm_json_buf_fini (&buf);
    assert_null (buf.data);
}

//  --- numbers ----------------------------------------------------------------

static void
s_assert_number (uint64_t unsigned_value, int64_t signed_value)
{
    tm_json_buf_t buf;
    tm_json_buf_init (&buf);
    char expected [64];
    tm_json_buf_append (&buf, "[", 1);
    tm_json_append_uint (&buf, unsigned_value);
    tm_json_buf_append (&buf, ",", 1);
    tm_json_append_int (&buf, signed_value);
    tm_json_buf_append (&buf, "]", 1);
    snprintf (expected, sizeof expected, "[%" PRIu64 ",%" PRId64 "]",
              unsigned_value, signed_value);
    assert_string_equal (buf.data, expected);
    assert_int_equal (buf.size, strlen (expected));
    tm_json_buf_fini (&buf);
}

static void
numbers_are_written_as_printf_writes_them (void **state)
{
    (void) state;
    s_assert_number (0, 0);
    s_assert_number (UINT64_MAX, INT64_MAX);
    s_assert_number (UINT64_MAX - 1, INT64_MIN);
    s_assert_number (1, -1);
    s_assert_number (INT32_MAX, INT32_MIN);
    s_assert_number ((uint64_t) INT64_MAX + 1, INT64_MIN + 1);
    //  Every power of ten and its neighbours, where a digit count changes.
    uint64_t power = 1;
    for (int digits = 1; digits <= 20; digits++) {
        s_assert_number (power, (int64_t) (power - 1));
        s_assert_number (power - 1, -(int64_t) (power - 1));
        s_assert_number (power + 1, digits < 19 ? -(int64_t) power : INT64_MIN);
        if (digits < 20)
            power *= 10;
    }
    //  A spread of values of every length.
    uint64_t value = 0x9E3779B97F4A7C15u;
    for (int i = 0; i < 10000; i++) {
        value = value * 6364136223846793005u + 1442695040888963407u;
        uint64_t shifted = value >> (i % 64);
        s_assert_number (shifted, (int64_t) shifted);
    }
}

static void
format_uint_matches_printf (void **state)
{
    (void) state;
    const uint64_t values [] = { 0, 7, 9, 10, 99, 100, 101, 12345, 4294967296ull, UINT64_MAX };
    for (size_t i = 0; i < sizeof values / sizeof values [0]; i++) {
        char text [TM_UINT_TEXT_MAX];
        char expected [32];
        size_t length = tm_format_uint (text, values [i]);
        snprintf (expected, sizeof expected, "%" PRIu64, values [i]);
        assert_string_equal (text, expected);
        assert_int_equal (length, strlen (expected));
    }
}

static void
numbers_and_literals_grow_the_buffer (void **state)
{
    (void) state;
    tm_json_buf_t buf;
    tm_json_buf_init (&buf);
    for (int i = 0; i < 100; i++) {
        tm_json_append_uint (&buf, UINT64_MAX);
        TM_JSON_BUF_APPEND_LITERAL (&buf, ",");
    }
    assert_int_equal (buf.size, 100 * 21);
    assert_int_equal (strlen (buf.data), buf.size);
    assert_memory_equal (buf.data + 2079, "18446744073709551615,", 21);
    tm_json_buf_reset (&buf);
    for (int i = 0; i < 100; i++)
        TM_JSON_BUF_APPEND_LITERAL (&buf, "0123456789");
    assert_int_equal (buf.size, 1000);
    assert_int_equal (strlen (buf.data), buf.size);
    assert_memory_equal (buf.data + 990, "0123456789", 10);
    tm_json_buf_fini (&buf);
}

//  --- strings ----------------------------------------------------------------

static void
string_escapes_quotes_backslashes_and_control_bytes (void **state)
{
    (void) state;
    assert_escaped ("", 0, "\"\"");
    assert_escaped ("plain", 5, "\"plain\"");
    assert_escaped ("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
    assert_escaped ("\n\r\t", 3, "\"\\n\\r\\t\"");
    assert_escaped ("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\x7f\"");
    assert_escaped ("a\0b", 3, "\"a\\u0000b\"");
    //  Every other control byte as \u00xx, lower-case hex.
    for (int byte = 0; byte < 0x20; byte++) {
        if (byte == '\n' || byte == '\r' || byte == '\t')
            continue;
        char data [1] = { (char) byte };
        char expected [16];
        snprintf (expected, sizeof expected, "\"\\u%04x\"", byte);
        assert_escaped (data, 1, expected);
    }
}

static void
string_keeps_valid_utf8 (void **state)
{
    (void) state;
    //  2, 3 and 4-byte sequences, and the highest code point.
    const char *text = "h\xc3\xa9llo \xe2\x82\xac \xf0\x9d\x84\x9e \xf4\x8f\xbf\xbf";
    char expected [64];
    snprintf (expected, sizeof (expected), "\"%s\"", text);
    assert_escaped (text, strlen (text), expected);
}

static void
string_replaces_invalid_utf8_with_replacement_character (void **state)
{
    (void) state;
    assert_escaped ("\xff", 1, "\"" FFFD "\"");
    //  A lone continuation byte, and a sequence cut short by the end.
    assert_escaped ("a\x80z", 3, "\"a" FFFD "z\"");
    assert_escaped ("a\xe2\x82", 3, "\"a" FFFD FFFD "\"");
    //  A sequence cut short by an ASCII byte keeps that byte.
    assert_escaped ("\xe2\x82z", 3, "\"" FFFD FFFD "z\"");
    //  Overlong encodings of '/' and of U+0000.
    assert_escaped ("\xc0\xaf", 2, "\"" FFFD FFFD "\"");
    assert_escaped ("\xe0\x80\x80", 3, "\"" FFFD FFFD FFFD "\"");
    //  A UTF-16 surrogate, and a code point past U+10FFFF.
    assert_escaped ("\xed\xa0\x80", 3, "\"" FFFD FFFD FFFD "\"");
    assert_escaped ("\xf4\x90\x80\x80", 4, "\"" FFFD FFFD FFFD FFFD "\"");
}

//  A small fixed generator: the same "random" bytes on every run.
static uint32_t
s_next (uint32_t *seed)
{
    *seed ^= *seed << 13;
    *seed ^= *seed >> 17;
    *seed ^= *seed << 5;
    return *seed;
}

static void
string_of_any_bytes_is_valid_json (void **state)
{
    (void) state;
    uint32_t seed = 2463534242u;
    char data [64];
    for (int round = 0; round < 2000; round++) {
        size_t size = s_next (&seed) % sizeof (data);
        for (size_t at = 0; at < size; at++) {
            uint32_t pick = s_next (&seed);
            //  Mostly high bytes, where the UTF-8 cases are.
            data [at] = (char) (pick % 4 ? 0x80 + pick % 0x80 : pick % 0x80);
        }
        tm_json_buf_t buf;
        tm_json_buf_init (&buf);
        tm_json_append_string (&buf, data, size);
        json_error_t error;
        json_t *parsed = json_loadb (buf.data, buf.size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &error);
        assert_non_null (parsed);
        assert_true (json_is_string (parsed));
        //  Text that was valid UTF-8 comes back unchanged.
        if (tm_json_is_text ((const uint8_t *) data, size)) {
            assert_int_equal (json_string_length (parsed), size);
            assert_memory_equal (json_string_value (parsed), data, size);
        }
        json_decref (parsed);
        tm_json_buf_fini (&buf);
    }
}

static void
is_text_accepts_utf8_and_refuses_nul_and_invalid_bytes (void **state)
{
    (void) state;
    assert_true (tm_json_is_text ((const uint8_t *) "", 0));
    assert_true (tm_json_is_text ((const uint8_t *) "plain\n", 6));
    assert_true (tm_json_is_text ((const uint8_t *) "\xe2\x82\xac\xf0\x9d\x84\x9e", 7));
    assert_false (tm_json_is_text ((const uint8_t *) "a\0b", 3));
    assert_false (tm_json_is_text ((const uint8_t *) "\xff", 1));
    assert_false (tm_json_is_text ((const uint8_t *) "\xe2\x82", 2));
    assert_false (tm_json_is_text ((const uint8_t *) "\xc0\xaf", 2));
    assert_false (tm_json_is_text ((const uint8_t *) "\xed\xa0\x80", 3));
}

//  Length of the valid UTF-8 sequence at data (RFC 3629: shortest form, no
//  surrogates, at most U+10FFFF), or 0.
static size_t
s_reference_utf8_length (const uint8_t *data, size_t size)
{
    size_t length = data [0] < 0x80 ? 1 : data [0] >= 0xC2 && data [0] < 0xE0 ? 2
                  : data [0] >= 0xE0 && data [0] < 0xF0 ? 3 : data [0] >= 0xF0 && data [0] < 0xF5 ? 4 : 0;
    if (length == 0 || length > size)
        return 0;
    uint32_t code = data [0] & (0x7F >> length);
    for (size_t i = 1; i < length; i++) {
        if ((data [i] & 0xC0) != 0x80)
            return 0;
        code = (code << 6) | (data [i] & 0x3F);
    }
    uint32_t min = length == 3 ? 0x800 : length == 4 ? 0x10000 : 0;
    if (code < min || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
        return 0;
    return length;
}

//  The escaper byte by byte, as it was before it copied plain runs whole: the judge of
//  the run-at-a-time one.
static size_t
s_reference_escape (const uint8_t *data, size_t size, char *out)
{
    char *start = out;
    *out++ = '"';
    size_t at = 0;
    while (at < size) {
        uint8_t byte = data [at];
        if (byte >= 0x20 && byte < 0x80 && byte != '"' && byte != '\\') {
            *out++ = (char) byte;
            at++;
            continue;
        }
        if (byte >= 0x80) {
            //  Valid UTF-8 is copied, anything else is one U+FFFD a byte.
            size_t length = s_reference_utf8_length (data + at, size - at);
            if (length == 0) {
                memcpy (out, FFFD, 3);
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
        const char *named = byte == '"' ? "\\\"" : byte == '\\' ? "\\\\"
                          : byte == '\n' ? "\\n" : byte == '\r' ? "\\r" : byte == '\t' ? "\\t" : NULL;
        if (named) {
            memcpy (out, named, 2);
            out += 2;
        }
        else
            out += sprintf (out, "\\u%04x", byte);
        at++;
    }
    *out++ = '"';
    return (size_t) (out - start);
}

static void
escaping_plain_runs_whole_matches_byte_by_byte (void **state)
{
    (void) state;
    //  Plain runs with one byte of each kind at every offset and length,
    //  so every word boundary and every tail length is crossed.
    const char *kinds [] = { "\"", "\\", "\n", "\x01", "\x1f", "\x7f", "\xc3\xa9",
                             "\xe2\x82\xac", "\xf0\x9d\x84\x9e", "\xff", "\xe2\x82", " " };
    uint8_t data [48];
    char expected [48 * 6 + 3];
    for (size_t kind = 0; kind < sizeof kinds / sizeof kinds [0]; kind++)
        for (size_t size = 0; size <= 40; size++)
            for (size_t at = 0; at <= size; at++) {
                memset (data, 'a', sizeof data);
                size_t length = strlen (kinds [kind]);
                memcpy (data + at, kinds [kind], length);
                size_t total = size + length;
                tm_json_buf_t buf;
                tm_json_buf_init (&buf);
                tm_json_append_string (&buf, (const char *) data, total);
                size_t expected_size = s_reference_escape (data, total, expected);
                assert_int_equal (buf.size, expected_size);
                assert_memory_equal (buf.data, expected, expected_size);
                tm_json_buf_fini (&buf);
            }
}

static void
form_tells_plain_text_from_text_to_escape_and_binary (void **state)
{
    (void) state;
#define S_BYTES(literal) literal, sizeof (literal) - 1
    struct { const char *data; size_t size; tm_json_form_t form; } cases [] = {
        { S_BYTES (""), TM_JSON_PLAIN },
        { S_BYTES ("abcdefghijklmnopqrstuvwxyz 0123456789 ~!@#$%^&*()"), TM_JSON_PLAIN },
        { S_BYTES ("caf\xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e" " and more plain text"), TM_JSON_PLAIN },
        { S_BYTES ("\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f"), TM_JSON_PLAIN },
        { S_BYTES ("a line\n"), TM_JSON_TEXT },
        { S_BYTES ("0123456789abcde\""), TM_JSON_TEXT },
        { S_BYTES ("0123456789abcdef\\"), TM_JSON_TEXT },
        { S_BYTES ("\x1f" "0123456789abcdef"), TM_JSON_TEXT },
        { S_BYTES ("0123456789abcdef\0"), TM_JSON_BINARY },
        { S_BYTES ("\"0123456789abcdef\xff"), TM_JSON_BINARY },
        { S_BYTES ("0123456789\xe2\x82"), TM_JSON_BINARY },
        { S_BYTES ("0123456789\xed\xa0\x80"), TM_JSON_BINARY },
    };
#undef S_BYTES
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        tm_json_form_t form = tm_json_form ((const uint8_t *) cases [i].data, cases [i].size);
        if (form != cases [i].form)
            fail_msg ("case %zu: form %d, expected %d", i, form, cases [i].form);
    }
    //  Plain bytes go between quotes as they are, the same as escaping them.
    tm_json_buf_t plain, escaped;
    tm_json_buf_init (&plain);
    tm_json_buf_init (&escaped);
    tm_json_append_plain (&plain, cases [2].data, cases [2].size);
    tm_json_append_string (&escaped, cases [2].data, cases [2].size);
    assert_int_equal (plain.size, escaped.size);
    assert_string_equal (plain.data, escaped.data);
    tm_json_buf_fini (&plain);
    tm_json_buf_fini (&escaped);
}

//  --- base64 -----------------------------------------------------------------

//  Encodes data and returns the base64 text without its quotes (heap).
static char *
s_encode (const uint8_t *data, size_t size)
{
    tm_json_buf_t buf;
    tm_json_buf_init (&buf);
    tm_json_append_base64 (&buf, data, size);
    assert_true (buf.size >= 2);
    assert_int_equal (buf.data [0], '"');
    assert_int_equal (buf.data [buf.size - 1], '"');
    char *text = strndup (buf.data + 1, buf.size - 2);
    tm_json_buf_fini (&buf);
    return text;
}

static void
base64_matches_the_rfc_4648_vectors (void **state)
{
    (void) state;
    const char *plain [] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
    const char *coded [] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
    for (size_t index = 0; index < 7; index++) {
        char *text = s_encode ((const uint8_t *) plain [index], strlen (plain [index]));
        assert_string_equal (text, coded [index]);
        free (text);
        uint8_t *decoded;
        size_t size;
        assert_int_equal (tm_base64_decode (coded [index], strlen (coded [index]), &decoded, &size), 0);
        assert_int_equal (size, strlen (plain [index]));
        assert_memory_equal (decoded, plain [index], size);
        free (decoded);
    }
}

static void
base64_round_trips_every_byte_at_every_length (void **state)
{
    (void) state;
    uint8_t data [300];
    for (size_t at = 0; at < sizeof (data); at++)
        data [at] = (uint8_t) (255 - at);
    for (size_t size = 0; size <= sizeof (data); size++) {
        char *text = s_encode (data, size);
        assert_int_equal (strlen (text), 4 * ((size + 2) / 3));
        uint8_t *decoded;
        size_t decoded_size;
        assert_int_equal (tm_base64_decode (text, strlen (text), &decoded, &decoded_size), 0);
        assert_int_equal (decoded_size, size);
        if (size > 0)
            assert_memory_equal (decoded, data, size);
        free (decoded);
        free (text);
    }
}

static void
base64_rejects_text_that_is_not_base64 (void **state)
{
    (void) state;
    const char *bad [] = {
        "Zg=",          //  length not a multiple of 4
        "Z",
        "Zg==Zg==",     //  padding in the middle
        "Z===",         //  too much padding
        "====",
        "Zg=a",         //  data after padding
        "Zm9*",         //  not in the alphabet
        "Zm9v\n",
        " Zm9",         //  blanks EVP_DecodeBlock would skip
        "Zm9-",         //  base64url is another alphabet
    };
    for (size_t index = 0; index < sizeof (bad) / sizeof (bad [0]); index++) {
        uint8_t *decoded = (uint8_t *) "untouched";
        size_t size = 99;
        assert_int_equal (tm_base64_decode (bad [index], strlen (bad [index]), &decoded, &size), -1);
        assert_null (decoded);
        assert_int_equal (size, 0);
    }
    //  A NUL byte inside the given length.
    uint8_t *decoded;
    size_t size;
    assert_int_equal (tm_base64_decode ("Zm\0v", 4, &decoded, &size), -1);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (buffer_grows_for_appends_and_printf),
        cmocka_unit_test (numbers_are_written_as_printf_writes_them),
        cmocka_unit_test (numbers_and_literals_grow_the_buffer),
        cmocka_unit_test (format_uint_matches_printf),
        cmocka_unit_test (string_escapes_quotes_backslashes_and_control_bytes),
        cmocka_unit_test (string_keeps_valid_utf8),
        cmocka_unit_test (string_replaces_invalid_utf8_with_replacement_character),
        cmocka_unit_test (string_of_any_bytes_is_valid_json),
        cmocka_unit_test (is_text_accepts_utf8_and_refuses_nul_and_invalid_bytes),
        cmocka_unit_test (escaping_plain_runs_whole_matches_byte_by_byte),
        cmocka_unit_test (form_tells_plain_text_from_text_to_escape_and_binary),
        cmocka_unit_test (base64_matches_the_rfc_4648_vectors),
        cmocka_unit_test (base64_round_trips_every_byte_at_every_length),
        cmocka_unit_test (base64_rejects_text_that_is_not_base64),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
