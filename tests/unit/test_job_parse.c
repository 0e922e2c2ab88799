/*  Tests for job_parse, job_reader's fast path, against jansson, the
    reference: a line job_parse is sure of must be one jansson accepts, with
    the same fields in the same order and the same values, byte for byte
    and bit for bit. Lines it is unsure of cost only speed (jansson reads
    them), so the tests also check that the lines of real jobs stay on the
    fast path.

    Hand-picked lines cover what a JSON parser gets wrong (escapes,
    surrogates, NUL, number limits, nesting, trailing bytes); seeded random
    mutations of valid lines cover the rest.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "job_parse.h"
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_FIELDS 6
#define S_LINE_BYTES 512

//  --- helpers -------------------------------------------------------------------

//  Parses size bytes of text with job_parse, from a buffer with the padding
//  it may read (filled with bytes that would confuse a parser that used it).
static int
s_parse (job_parse_t *parser, const char *text, size_t size, job_field_t *fields)
{
    static uint8_t buffer [S_LINE_BYTES + JOB_PARSE_PADDING];
    assert_true (size <= S_LINE_BYTES);
    memcpy (buffer, text, size);
    memset (buffer + size, '"', JOB_PARSE_PADDING);
    return job_parse_line (parser, buffer, size, fields, S_MAX_FIELDS);
}

static bool
s_has_duplicate (const job_field_t *fields, int count)
{
    for (int i = 1; i < count; i++)
        for (int j = 0; j < i; j++)
            if (strcmp (fields [i].key, fields [j].key) == 0)
                return true;
    return false;
}

static void
s_describe (const char *text, size_t size, char *out, size_t out_size)
{
    size_t at = 0;
    for (size_t i = 0; i < size && at + 5 < out_size; i++) {
        unsigned char byte = (unsigned char) text [i];
        at += (size_t) snprintf (out + at, out_size - at,
                                 byte >= 0x20 && byte < 0x7f ? "%c" : "\\x%02x", byte);
    }
    out [at] = 0;
}

//  A value job_parse gave must be the value jansson holds.
static bool
s_same_value (const job_value_t *value, json_t *json)
{
    switch (value->kind) {
        case JOB_VALUE_STRING:
            return json_is_string (json) && json_string_length (json) == value->length
                && memcmp (json_string_value (json), value->string, value->length) == 0
                && value->string [value->length] == 0;
        case JOB_VALUE_INTEGER:
            return json_is_integer (json) && json_integer_value (json) == value->integer;
        case JOB_VALUE_REAL: {
            double real = json_is_real (json) ? json_real_value (json) : 0;
            return json_is_real (json) && memcmp (&real, &value->real, sizeof real) == 0;
        }
        default:
            return false;       //  job_parse never gives OTHER
    }
}

//  The property: sure means jansson agrees, field by field. Returns the
//  count job_parse gave (-1: unsure).
static int
s_check_line (job_parse_t *parser, const char *text, size_t size)
{
    job_field_t fields [S_MAX_FIELDS];
    int count = s_parse (parser, text, size, fields);
    if (count < 0 || s_has_duplicate (fields, count))
        return count;           //  job_reader asks jansson: nothing to compare
    char shown [4 * S_LINE_BYTES + 1];
    s_describe (text, size, shown, sizeof shown);
    json_error_t error;
    json_t *root = json_loadb (text, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &error);
    if (!root)
        fail_msg ("job_parse took what jansson refuses (%s): %s", error.text, shown);
    if (!json_is_object (root) || json_object_size (root) != (size_t) count)
        fail_msg ("job_parse gave %d fields, jansson %zu: %s", count,
                  json_object_size (root), shown);
    int at = 0;
    const char *key;
    json_t *json;
    json_object_foreach (root, key, json) {
        if (strcmp (key, fields [at].key) != 0)
            fail_msg ("field %d is \"%s\", jansson says \"%s\": %s",
                      at, fields [at].key, key, shown);
        if (!s_same_value (&fields [at].value, json))
            fail_msg ("field \"%s\" differs from jansson's: %s", key, shown);
        at++;
    }
    json_decref (root);
    return count;
}

static int
s_check_text (job_parse_t *parser, const char *text)
{
    return s_check_line (parser, text, strlen (text));
}

//  --- lines of real jobs stay fast ---------------------------------------------

static const char *s_valid_lines [] = {
    "{\"id\": \"a1\", \"type\": \"sha256\", \"payload\": \"text\", \"timeout_ms\": 5000, \"retries\": 2}",
    "{\"id\":42,\"type\":\"noop\",\"payload\":\"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl\"}",
    "{}",
    "  {\"payload\" : \"x\" }\t",
    "{\"payload_b64\":\"AP8KDYBB\",\"type\":\"echo\"}",
    "{\"payload\":250}",
    "{\"payload\":-2.5e-3}",
    "{\"payload\":\"a\\nb\\\"c\\\\d\\/e\\u0041\\u00e9\\ud83d\\ude00\\b\\f\\r\\t\"}",
    "{\"id\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"}",
    "{\"id\":9223372036854775807,\"retries\":0}",
    "{\"id\":-9223372036854775808}",
    "{\"timeout_ms\":-0}",
    "{\"payload\":\"\"}",
    "{\"\":1}",
};

static void
lines_of_real_jobs_take_the_fast_path (void **state)
{
    (void) state;
    job_parse_t *parser = job_parse_new ();
    for (size_t i = 0; i < sizeof s_valid_lines / sizeof s_valid_lines [0]; i++)
        if (s_check_text (parser, s_valid_lines [i]) < 0)
            fail_msg ("a valid line went to jansson: %s", s_valid_lines [i]);
    job_parse_destroy (&parser);
    assert_null (parser);
    job_parse_destroy (&parser);
}

static void
fields_come_in_line_order_with_their_values (void **state)
{
    (void) state;
    job_parse_t *parser = job_parse_new ();
    job_field_t fields [S_MAX_FIELDS];
    const char *text = "{\"retries\":3,\"id\":\"x\\u0000y\"}";
    assert_int_equal (s_parse (parser, text, strlen (text), fields), -1);
    text = "{\"retries\":3,\"id\":\"a\\tb\",\"payload\":1.5,\"type\":\"t\"}";
    assert_int_equal (s_parse (parser, text, strlen (text), fields), 4);
    assert_string_equal (fields [0].key, "retries");
    assert_int_equal (fields [0].value.kind, JOB_VALUE_INTEGER);
    assert_int_equal (fields [0].value.integer, 3);
    assert_string_equal (fields [1].key, "id");
    assert_int_equal (fields [1].value.kind, JOB_VALUE_STRING);
    assert_int_equal (fields [1].value.length, 3);
    assert_string_equal (fields [1].value.string, "a\tb");
    assert_int_equal (fields [2].value.kind, JOB_VALUE_REAL);
    assert_true (fields [2].value.real == 1.5);
    assert_string_equal (fields [3].value.string, "t");
    //  One more than asked for is unsure: a seventh field is an error.
    text = "{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5,\"f\":6,\"g\":7}";
    assert_int_equal (s_parse (parser, text, strlen (text), fields), -1);
    job_parse_destroy (&parser);
}

//  --- lines jansson refuses, or that job_reader refuses with its message ----------

static const char *s_unsure_lines [] = {
    //  Not an object, or not JSON.
    "[1,2]", "42", "\"text\"", "null", "", " ", "{", "}", "{\"a\":1", "{\"a\":1}}", "{\"a\":1} {}",
    "{\"a\":1,}", "{\"a\" 1}", "{\"a\":}", "{a:1}", "{'a':1}", "{\"a\":1}x", "\xef\xbb\xbf{}",
    "{\"a\":1}\f", "/*c*/{}",
    //  Strings.
    "{\"p\":\"\\ud83d\"}", "{\"p\":\"\\ude00\"}", "{\"p\":\"\\ud83dx\"}", "{\"p\":\"\\ud83d\\u0041\"}",
    "{\"p\":\"\\ud800\\ud800\"}", "{\"p\":\"\\u0000\"}", "{\"p\":\"a\\u0000\"}", "{\"\\u0000\":1}",
    "{\"p\":\"\\x\"}", "{\"p\":\"\\u12\"}", "{\"p\":\"\\U0041\"}", "{\"p\":\"\x01\"}", "{\"p\":\"\x1f\"}",
    "{\"p\":\"\xff\"}", "{\"p\":\"\xc0\x80\"}", "{\"p\":\"\xed\xa0\x80\"}", "{\"p\":\"\xf4\x90\x80\x80\"}",
    "{\"p\":\"caf\xe9\"}", "{\"p\":\"abc}", "{\"p\":\"\\\"}",
    //  Numbers.
    "{\"p\":9223372036854775808}", "{\"p\":18446744073709551615}", "{\"p\":18446744073709551616}",
    "{\"p\":-9223372036854775809}", "{\"p\":1e400}", "{\"p\":-1e400}", "{\"p\":01}", "{\"p\":1.}",
    "{\"p\":.5}", "{\"p\":+1}", "{\"p\":1e}", "{\"p\":0x10}", "{\"p\":NaN}", "{\"p\":Infinity}",
    "{\"p\":-}", "{\"p\":1x}",
    //  Values job_reader refuses: jansson must name the error.
    "{\"p\":true}", "{\"p\":false}", "{\"p\":null}", "{\"p\":[]}", "{\"p\":{}}", "{\"p\":[\"a\"]}",
    "{\"p\":{\"a\":1,\"a\":2}}", "{\"p\":[1,nul]}", "{\"p\":tru}",
};

static void
lines_jansson_must_judge_are_left_to_it (void **state)
{
    (void) state;
    job_parse_t *parser = job_parse_new ();
    for (size_t i = 0; i < sizeof s_unsure_lines / sizeof s_unsure_lines [0]; i++)
        if (s_check_text (parser, s_unsure_lines [i]) >= 0)
            fail_msg ("job_parse was sure of: %s", s_unsure_lines [i]);
    //  A raw NUL byte, inside a string and between tokens.
    assert_int_equal (s_check_line (parser, "{\"p\":\"a\0b\"}", 11), -1);
    assert_int_equal (s_check_line (parser, "{\"p\":1}\0", 8), -1);
    assert_int_equal (s_check_line (parser, "{\"p\":1\0}", 8), -1);
    job_parse_destroy (&parser);
}

static void
duplicate_keys_reach_the_caller (void **state)
{
    (void) state;
    //  job_parse gives both; job_reader sees the repeat and asks jansson.
    job_parse_t *parser = job_parse_new ();
    job_field_t fields [S_MAX_FIELDS];
    const char *text = "{\"id\":\"a\",\"\\u0069d\":\"b\"}";
    assert_int_equal (s_parse (parser, text, strlen (text), fields), 2);
    assert_true (s_has_duplicate (fields, 2));
    job_parse_destroy (&parser);
}

static void
a_long_line_then_short_ones_parse_alike (void **state)
{
    (void) state;
    //  Past a megabyte the parser gives its memory back on the next line.
    size_t size = 3 * 1024 * 1024;
    uint8_t *line = (uint8_t *) malloc (size + JOB_PARSE_PADDING);
    memcpy (line, "{\"payload\":\"", 12);
    memset (line + 12, 'x', size - 14);
    memcpy (line + size - 2, "\"}", 2);
    job_parse_t *parser = job_parse_new ();
    job_field_t fields [S_MAX_FIELDS];
    assert_int_equal (job_parse_line (parser, line, size, fields, S_MAX_FIELDS), 1);
    assert_int_equal (fields [0].value.length, size - 14);
    free (line);
    for (int i = 0; i < 3; i++)
        assert_int_equal (s_check_text (parser, s_valid_lines [0]), 5);
    job_parse_destroy (&parser);
}

//  --- random mutations -----------------------------------------------------------------

static uint32_t
s_random (uint32_t *seed)
{
    *seed = *seed * 1103515245 + 12345;
    return *seed >> 8;
}

//  Bytes and tokens that parsers treat specially.
static const char *s_pieces [] = {
    "\"", "\\", "{", "}", "[", "]", ":", ",", " ", "\t", "\r", "0", "1", "-", "+", ".", "e", "E",
    "\\u0000", "\\ud83d", "\\ude00", "\\ud83d\\ude00", "\\u00e9", "\\n", "\\/", "\\\"", "\\\\",
    "9223372036854775807", "9223372036854775808", "-9223372036854775808", "1e400", "1e-400",
    "-0", "0.0", "1E2", "true", "null", "\"id\":1,", ",\"type\":\"x\"", "\"a\":{\"b\":[1]}",
    "\xc3\xa9", "\xc3", "\xa9", "\xed\xa0\x80", "\xf0\x9f\x98\x80", "\xff", "\x01", "\x7f",
};
#define S_PIECES (sizeof s_pieces / sizeof s_pieces [0])

static size_t
s_mutate (char *text, size_t size, uint32_t *seed)
{
    int changes = 1 + (int) (s_random (seed) % 3);
    for (int change = 0; change < changes; change++) {
        size_t at = size ? s_random (seed) % (size + 1) : 0;
        const char *piece = s_pieces [s_random (seed) % S_PIECES];
        size_t length = strlen (piece);
        switch (s_random (seed) % 4) {
            case 0:             //  delete a byte
                if (at < size) {
                    memmove (text + at, text + at + 1, size - at - 1);
                    size--;
                }
                break;
            case 1:             //  overwrite a byte
                if (at < size)
                    text [at] = piece [0];
                break;
            case 2:             //  a NUL byte
                if (at < size && s_random (seed) % 8 == 0)
                    text [at] = 0;
                break;
            default:            //  insert a piece
                if (size + length <= S_LINE_BYTES) {
                    memmove (text + at + length, text + at, size - at);
                    memcpy (text + at, piece, length);
                    size += length;
                }
        }
    }
    return size;
}

static void
mutated_lines_never_part_from_jansson (void **state)
{
    (void) state;
    job_parse_t *parser = job_parse_new ();
    uint32_t seed = 20261201;
    size_t sure = 0, unsure = 0;
    const size_t rounds = 200000;
    const size_t seeds = sizeof s_valid_lines / sizeof s_valid_lines [0];
    for (size_t round = 0; round < rounds; round++) {
        const char *valid = s_valid_lines [round % seeds];
        char text [S_LINE_BYTES];
        size_t size = strlen (valid);
        memcpy (text, valid, size);
        size = s_mutate (text, size, &seed);
        if (s_check_line (parser, text, size) >= 0)
            sure++;
        else
            unsure++;
    }
    //  Both sides were exercised.
    if (sure < rounds / 10 || unsure < rounds / 10)
        fail_msg ("%zu sure and %zu unsure of %zu mutations", sure, unsure, rounds);
    job_parse_destroy (&parser);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (lines_of_real_jobs_take_the_fast_path),
        cmocka_unit_test (fields_come_in_line_order_with_their_values),
        cmocka_unit_test (lines_jansson_must_judge_are_left_to_it),
        cmocka_unit_test (duplicate_keys_reach_the_caller),
        cmocka_unit_test (a_long_line_then_short_ones_parse_alike),
        cmocka_unit_test (mutated_lines_never_part_from_jansson),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
