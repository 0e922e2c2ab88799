/*  Tests for job_reader: every input format, the defaults, and each kind of
    malformed line, which must be an error that names its line number, or,
    with skip_invalid, be skipped with that message while the valid lines
    around it are read.

    Inputs are written to a temporary file that is unlinked as soon as the
    reader has opened it, so a failed assertion leaves nothing in /tmp.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "job_reader.h"
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

//  --- helpers -------------------------------------------------------------------

static job_reader_config_t
s_config (job_format_t format, const char *default_type)
{
    job_reader_config_t config;
    memset (&config, 0, sizeof config);
    config.format = format;
    config.default_type = default_type;
    return config;
}

static job_reader_t *
s_reader_of (const void *data, size_t size, const job_reader_config_t *config)
{
    char path [] = "/tmp/test_job_reader_XXXXXX";
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    const char *at = (const char *) data;
    size_t left = size;
    while (left > 0) {
        ssize_t written = write (fd, at, left);
        assert_true (written > 0);
        at += written;
        left -= (size_t) written;
    }
    close (fd);
    char error [256] = "";
    job_reader_t *reader = job_reader_new (path, config, error, sizeof error);
    unlink (path);
    if (!reader)
        fail_msg ("job_reader_new: %s", error);
    return reader;
}

static job_reader_t *
s_reader_of_text (const char *text, const job_reader_config_t *config)
{
    return s_reader_of (text, strlen (text), config);
}

//  Checks the reader's error. A trailing '*' in expected lets a test fix
//  only the start (jansson's own text).
static void
s_assert_message (job_reader_t *reader, const char *expected)
{
    size_t length = strlen (expected);
    if (length > 0 && expected [length - 1] == '*') {
        if (strncmp (job_reader_error (reader), expected, length - 1) != 0)
            fail_msg ("error \"%s\" does not start with \"%.*s\"",
                      job_reader_error (reader), (int) length - 1, expected);
    }
    else
        assert_string_equal (job_reader_error (reader), expected);
}

//  Reads the input to its end and checks it stops with exactly this error.
static void
s_assert_error (const void *data, size_t size, const job_reader_config_t *config,
                const char *expected)
{
    job_reader_t *reader = s_reader_of (data, size, config);
    job_entry_t entry;
    job_reader_status_t status;
    while ((status = job_reader_next (reader, &entry)) == JOB_READER_OK)
        ;
    assert_int_equal (status, JOB_READER_ERROR);
    s_assert_message (reader, expected);
    //  An error is final.
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_ERROR);
    job_reader_destroy (&reader);
    //  The validation pass finds the same error.
    reader = s_reader_of (data, size, config);
    assert_int_equal (job_reader_validate (reader), -1);
    s_assert_message (reader, expected);
    job_reader_destroy (&reader);
}

static void
s_assert_text_error (const char *text, const char *expected)
{
    job_reader_config_t config = s_config (JOB_FORMAT_JSONL, NULL);
    s_assert_error (text, strlen (text), &config, expected);
}

static void
s_assert_payload (const job_entry_t *entry, const void *data, size_t size)
{
    assert_int_equal (entry->payload_size, size);
    assert_memory_equal (entry->payload, data, size);
}

//  --- JSON Lines ------------------------------------------------------------------

static void
json_line_gives_every_field (void **state)
{
    (void) state;
    job_reader_config_t config = s_config (JOB_FORMAT_JSONL, "noop");
    job_reader_t *reader = s_reader_of_text (
        "{\"id\":\"a1\",\"type\":\"sha256\",\"payload\":\"text\","
        "\"timeout_ms\":5000,\"retries\":2}\n", &config);
    job_entry_t entry;
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
    assert_int_equal (entry.line, 1);
    assert_string_equal (entry.id, "a1");
    assert_string_equal (entry.type, "sha256");
    s_assert_payload (&entry, "text", 4);
    assert_int_equal (entry.timeout_ms, 5000);
    assert_int_equal (entry.max_attempts, 3);
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_END);
    assert_string_equal (job_reader_error (reader), "");
    job_reader_destroy (&reader);
    assert_null (reader);
}

static void
missing_fields_take_line_number_and_config_defaults (void **state)
{
    (void) state;
    job_reader_config_t config = s_config (JOB_FORMAT_JSONL, "echo");
    config.default_timeout_ms = 750;
    config.default_retries = 4;
    job_reader_t *reader = s_reader_of_text ("{}\n{\"payload\":\"x\"}\n", &config);
    job_entry_t entry;
    for (int line = 1; line <= 2; line++) {
        assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
        assert_int_equal (entry.line, line);
        assert_string_equal (entry.id, line == 1 ? "1" : "2");
        assert_string_equal (entry.type, "echo");
        assert_int_equal (entry.timeout_ms, 750);
        assert_int_equal (entry.max_attempts, 5);
    }
    s_assert_payload (&entry, "x", 1);
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_END);
    job_reader_destroy (&reader);
}

static void
no_payload_gives_an_empty_payload (void **state)
{
    (void) state;
    job_reader_config_t config = s_config (JOB_FORMAT_JSONL, NULL);
    job_reader_t *reader = s_reader_of_text ("{\"type\":\"noop\"}\n", &config);
    job_entry_t entry;
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
    assert_non_null (entry.payload);
    assert_int_equal (entry.payload_size, 0);
    assert_int_equal (entry.max_attempts, 1);
    assert_int_equal (entry.timeout_ms, 0);
    job_reader_destroy (&reader);
}

static void
integer_id_becomes_its_decimal_text (void **state)
{
    (void) state;
    job_reader_config_t config = s_config (JOB_FORMAT_JSONL, "echo");
    job_reader_t *reader = s_reader_of_text (
        "{\"id\":42}\n{\"id\":-7}\n{\"id\":9007199254740993}\n{\"id\":\"\"}\n", &config);
    const char *expected [] = { "42", "-7", "9007199254740993", "" };
    job_entry_t entry;
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
        assert_string_equal (entry.id, expected [i]);
    }
    job_reader_destroy (&reader);
}

static void
payload_b64_decodes_binary_bytes (void **state)
{
    (void) state;
    job_reader_config_t config = s_config (JOB_FORMAT_JSONL, "echo");
    //  00 ff 0a 0d 80 41 and an empty payload.
    job_reader_t *reader = s_reader_of_text (
        "{\"payload_b64\":\"AP8KDYBB\"}\n{\"payload_b64\":\"\"}\n{\"payload_b64\":\"YQ==\"}\n",
        &config);
    job_entry_t entry;
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
    s_assert_payload (&entry, "\x00\xff\n\r\x80\x41", 6);
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
    assert_int_equal (entry.payload_size, 0);
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
    s_assert_payload (&entry, "a", 1);
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_END);
    job_reader_destroy (&reader);
}

static void
numeric_payload_is_its_json_text (void **state)
{
    (void) state;
    job_reader_config_t config = s_config (JOB_FORMAT_JSONL, "sleep");
    job_reader_t *reader = s_reader_of_text (
        "{\"payload\":250}\n{\"payload\":2.5}\n{\"payload\":0.1}\n{\"payload\":-3.0}\n",
        &config);
    const char *expected [] = { "250", "2.5", "0.1", "-3.0" };
    job_entry_t entry;
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
        s_assert_payload (&entry, expected [i], strlen (expected [i]));
    }
    job_reader_destroy (&reader);
}

static void
escaped_payload_keeps_newlines_and_unicode (void **state)
{
    (void) state;
    job_reader_config_t config = s_config (JOB_FORMAT_JSONL, "echo");
    job_reader_t *reader = s_reader_of_text (
        "{\"payload\":\"a\\nb\\u00e9\"}\n", &config);
    job_entry_t entry;
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
    s_assert_payload (&entry, "a\nb\xc3\xa9", 5);
    job_reader_destroy (&reader);
}

static void
blank_lines_are_skipped_but_counted (void **state)
{
    (void) state;
    job_reader_config_t config = s_config (JOB_FORMAT_JSONL, "echo");
    job_reader_t *reader = s_reader_of_text (
        "\n   \n\t\r\n{\"payload\":\"a\"}\n\n{\"payload\":\"b\"}\n\n\n", &config);
    job_entry_t entry;
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
    assert_int_equal (entry.line, 4);
    assert_string_equal (entry.id, "4");
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
    assert_int_equal (entry.line, 6);
    assert_string_equal (entry.id, "6");
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_END);
    assert_int_equal (job_reader_count (reader), 2);
    job_reader_destroy (&reader);
}

static void
crlf_endings_and_a_last_line_without_newline_are_read (void **state)
{
    (void) state;
    job_reader_config_t config = s_config (JOB_FORMAT_JSONL, "echo");
    job_reader_t *reader = s_reader_of_text (
        "{\"payload\":\"a\"}\r\n{\"payload\":\"b\"}", &config);
    job_entry_t entry;
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
    s_assert_payload (&entry, "a", 1);
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
    s_assert_payload (&entry, "b", 1);
    assert_int_equal (entry.line, 2);
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_END);
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_END);
    job_reader_destroy (&reader);
}

static void
lines_across_read_blocks_are_whole (void **state)
{
    (void) state;
    //  Lines of growing length straddle the reader's 64 KiB blocks.
    const size_t lines = 400;
    size_t capacity = lines * (lines * 2 + 32);
    char *text = (char *) malloc (capacity);
    size_t size = 0;
    for (size_t i = 0; i < lines; i++) {
        size += (size_t) sprintf (text + size, "{\"payload\":\"");
        memset (text + size, 'a' + (int) (i % 26), i * 2);
        size += i * 2;
        size += (size_t) sprintf (text + size, "\"}\n");
    }
    job_reader_config_t config = s_config (JOB_FORMAT_JSONL, "echo");
    job_reader_t *reader = s_reader_of (text, size, &config);
    free (text);
    job_entry_t entry;
    for (size_t i = 0; i < lines; i++) {
        assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
        assert_int_equal (entry.payload_size, i * 2);
        for (size_t at = 0; at < entry.payload_size; at++)
            assert_int_equal (entry.payload [at], 'a' + (int) (i % 26));
    }
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_END);
    job_reader_destroy (&reader);
}

//  --- malformed JSON Lines -------------------------------------------------------------

static void
invalid_json_is_an_error_naming_its_line (void **state)
{
    (void) state;
    s_assert_text_error ("{\"type\":\"echo\"}\n{\"type\":\n",
                         "line 2: invalid JSON: *");
    s_assert_text_error ("{\"type\":\"echo\"} {}\n", "line 1: invalid JSON: *");
    s_assert_text_error ("{\"type\":\"echo\",\"type\":\"noop\"}\n",
                         "line 1: invalid JSON: duplicate object key*");
}

static void
non_object_is_an_error_naming_its_line (void **state)
{
    (void) state;
    s_assert_text_error ("[1, 2]\n", "line 1: not a JSON object");
    s_assert_text_error ("{\"type\":\"a\"}\n\n42\n", "line 3: not a JSON object");
    s_assert_text_error ("\"text\"\n", "line 1: not a JSON object");
    s_assert_text_error ("null\n", "line 1: not a JSON object");
}

static void
missing_type_without_default_is_an_error (void **state)
{
    (void) state;
    s_assert_text_error ("{\"type\":\"a\"}\n{\"payload\":\"x\"}\n",
                         "line 2: no \"type\" (give one or use --type)");
}

//  A field of the wrong type or out of range, and the error it gives.
static const struct {
    const char *field;
    const char *error;
} s_wrong_fields [] = {
    { "\"timeout_ms\":\"5\"", "\"timeout_ms\" must be an integer from 0 to 2147483647" },
    { "\"timeout_ms\":-1", "\"timeout_ms\" must be an integer from 0 to 2147483647" },
    { "\"timeout_ms\":2147483648", "\"timeout_ms\" must be an integer from 0 to 2147483647" },
    { "\"timeout_ms\":1.5", "\"timeout_ms\" must be an integer from 0 to 2147483647" },
    { "\"retries\":101", "\"retries\" must be an integer from 0 to 100" },
    { "\"retries\":null", "\"retries\" must be an integer from 0 to 100" },
    { "\"type\":5", "\"type\" must be a string of 1 to 64 bytes" },
    { "\"type\":\"\"", "\"type\" must be a string of 1 to 64 bytes" },
    { "\"id\":true", "\"id\" must be a string of at most 1024 bytes or an integer" },
    { "\"id\":1.5", "\"id\" must be a string of at most 1024 bytes or an integer" },
    { "\"payload\":true", "\"payload\" must be a string or a number" },
    { "\"payload\":[\"a\"]", "\"payload\" must be a string or a number" },
    { "\"payload_b64\":5", "\"payload_b64\" must be a base64 string" },
};
#define S_WRONG_FIELDS (sizeof s_wrong_fields / sizeof s_wrong_fields [0])

static void
wrong_typed_fields_are_errors_naming_field_and_line (void **state)
{
    (void) state;
    job_reader_config_t config = s_config (JOB_FORMAT_JSONL, "default");
    for (size_t i = 0; i < S_WRONG_FIELDS; i++) {
        char text [256];
        char expected [256];
        snprintf (text, sizeof text, "{}\n{%s}\n{}\n", s_wrong_fields [i].field);
        snprintf (expected, sizeof expected, "line 2: %s", s_wrong_fields [i].error);
        s_assert_error (text, strlen (text), &config, expected);
    }
}

static void
limits_are_inclusive (void **state)
{
    (void) state;
    char type [65];
    memset (type, 't', 64);
    type [64] = 0;
    char text [256];
    snprintf (text, sizeof text,
              "{\"type\":\"%s\",\"timeout_ms\":2147483647,\"retries\":100}\n", type);
    job_reader_config_t config = s_config (JOB_FORMAT_JSONL, NULL);
    job_reader_t *reader = s_reader_of_text (text, &config);
    job_entry_t entry;
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
    assert_string_equal (entry.type, type);
    assert_int_equal (entry.timeout_ms, 2147483647u);
    assert_int_equal (entry.max_attempts, 101);
    job_reader_destroy (&reader);

    snprintf (text, sizeof text, "{\"type\":\"%st\"}\n", type);
    s_assert_text_error (text, "line 1: \"type\" must be a string of 1 to 64 bytes");
}

static void
too_long_id_is_an_error (void **state)
{
    (void) state;
    char text [1200];
    int size = snprintf (text, sizeof text, "{\"type\":\"a\",\"id\":\"");
    memset (text + size, 'i', 1025);
    snprintf (text + size + 1025, sizeof text - (size_t) size - 1025, "\"}\n");
    s_assert_text_error (text, "line 1: \"id\" must be a string of at most 1024 bytes or an integer");
}

static void
bad_base64_is_an_error_naming_its_line (void **state)
{
    (void) state;
    s_assert_text_error ("{\"type\":\"a\"}\n{\"type\":\"a\",\"payload_b64\":\"abc\"}\n",
                         "line 2: \"payload_b64\" is not valid base64");
    s_assert_text_error ("{\"type\":\"a\",\"payload_b64\":\"ab c\"}\n",
                         "line 1: \"payload_b64\" is not valid base64");
    s_assert_text_error ("{\"type\":\"a\",\"payload_b64\":\"a=bc\"}\n",
                         "line 1: \"payload_b64\" is not valid base64");
}

static void
both_payloads_is_an_error (void **state)
{
    (void) state;
    s_assert_text_error ("{\"type\":\"a\",\"payload\":\"x\",\"payload_b64\":\"eA==\"}\n",
                         "line 1: give \"payload\" or \"payload_b64\", not both");
    s_assert_text_error ("\n{\"payload_b64\":\"eA==\",\"type\":\"a\",\"payload\":\"x\"}\n",
                         "line 2: give \"payload\" or \"payload_b64\", not both");
}

static void
unknown_field_is_an_error_naming_its_line (void **state)
{
    (void) state;
    s_assert_text_error ("{\"type\":\"a\"}\n{\"type\":\"a\",\"timout_ms\":5}\n",
                         "line 2: unknown field \"timout_ms\"");
}

static void
too_long_line_is_an_error_at_its_line (void **state)
{
    (void) state;
    //  Lines 1, 2 and 4 are fine; line 3 is 1 MiB against a 100-byte limit.
    size_t long_size = 1024 * 1024;
    const char *head = "{\"type\":\"a\"}\n{\"type\":\"b\"}\n";
    const char *tail = "\n{\"type\":\"d\"}\n";
    size_t size = strlen (head) + long_size + strlen (tail);
    char *text = (char *) malloc (size);
    memcpy (text, head, strlen (head));
    memset (text + strlen (head), ' ', long_size);
    memcpy (text + strlen (head) + long_size, tail, strlen (tail));

    job_reader_config_t config = s_config (JOB_FORMAT_JSONL, NULL);
    config.max_line_bytes = 100;
    job_reader_t *reader = s_reader_of (text, size, &config);
    job_entry_t entry;
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
    assert_string_equal (entry.type, "a");
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
    assert_string_equal (entry.type, "b");
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_ERROR);
    assert_string_equal (job_reader_error (reader), "line 3: longer than 100 bytes");
    assert_int_equal (job_reader_count (reader), 2);
    job_reader_destroy (&reader);

    //  The same for lines format, and for the default limit.
    config = s_config (JOB_FORMAT_LINES, "echo");
    config.max_line_bytes = 100;
    s_assert_error (text, size, &config, "line 3: longer than 100 bytes");
    free (text);
    size = 5 * 1024 * 1024;
    text = (char *) calloc (1, size);
    memcpy (text, head, strlen (head));
    memset (text + strlen (head), 'x', size - strlen (head));
    config = s_config (JOB_FORMAT_LINES, "echo");
    s_assert_error (text, size, &config, "line 3: longer than 4194304 bytes");
    free (text);
}

static void
line_of_exactly_the_limit_is_read_with_or_without_cr (void **state)
{
    (void) state;
    job_reader_config_t config = s_config (JOB_FORMAT_LINES, "echo");
    config.max_line_bytes = 8;
    job_reader_t *reader = s_reader_of_text ("12345678\n12345678\r\n", &config);
    job_entry_t entry;
    for (int i = 0; i < 2; i++) {
        assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
        s_assert_payload (&entry, "12345678", 8);
    }
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_END);
    job_reader_destroy (&reader);
    s_assert_error ("123456789\n", 10, &config, "line 1: longer than 8 bytes");
    s_assert_error ("12345678\n123456789\r\n", 20, &config, "line 2: longer than 8 bytes");
}

static void
binary_file_is_an_error_naming_its_line (void **state)
{
    (void) state;
    job_reader_config_t config = s_config (JOB_FORMAT_JSONL, "echo");
    const char binary [] = "{\"payload\":\"ok\"}\n\x7f" "ELF\x02\x01\x00\x00\xff\xfe\n\x00\x00";
    s_assert_error (binary, sizeof binary - 1, &config, "line 2: invalid JSON: *");
    //  A NUL byte inside a JSON string, and invalid UTF-8 in one.
    const char nul [] = "{\"payload\":\"a\x00" "b\"}\n";
    s_assert_error (nul, sizeof nul - 1, &config, "line 1: invalid JSON: *");
    const char latin1 [] = "\n{\"payload\":\"caf\xe9\"}\n";
    s_assert_error (latin1, sizeof latin1 - 1, &config, "line 2: invalid JSON: *");
    //  A line of blanks and one NUL is not blank.
    const char blank_nul [] = "  \x00  \n";
    s_assert_error (blank_nul, sizeof blank_nul - 1, &config, "line 1: invalid JSON: *");
}

static void
errors_quoting_the_line_mask_its_control_bytes (void **state)
{
    (void) state;
    //  An escape sequence in a field name (a JSON escape) and raw in a line.
    s_assert_text_error ("{\"type\":\"a\",\"\\u001b[2J\\u007f\":1}\n",
                         "line 1: unknown field \"?[2J?\"");
    job_reader_config_t config = s_config (JOB_FORMAT_JSONL, "echo");
    const char raw [] = "\x1b]0;title\x07\n";
    s_assert_error (raw, sizeof raw - 1, &config, "line 1: invalid JSON: invalid token near '?'");
    const char del [] = "{\"payload\":\"\x7f\x1b\"}\n";
    s_assert_error (del, sizeof del - 1, &config, "line 1: invalid JSON: control character 0x1b near '\"?'");
}

//  --- what a JSON parser can get wrong -----------------------------------------------
//
//  The fast parser reads valid lines; jansson judges the rest. These pin
//  what jansson gave before the fast parser came, for both kinds of line.

//  Expects one task from text, with this payload.
static void
s_assert_text_payload (const char *text, const void *payload, size_t size)
{
    job_reader_config_t config = s_config (JOB_FORMAT_JSONL, "echo");
    job_reader_t *reader = s_reader_of_text (text, &config);
    job_entry_t entry;
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
    s_assert_payload (&entry, payload, size);
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_END);
    job_reader_destroy (&reader);
}

static void
escapes_give_their_bytes (void **state)
{
    (void) state;
    s_assert_text_payload ("{\"payload\":\"a\\nb\\\"c\\\\d\\/e\\b\\f\\r\\t\"}\n",
                           "a\nb\"c\\d/e\b\f\r\t", 13);
    s_assert_text_payload ("{\"payload\":\"\\u0041\\u00e9\\u00E9\\u20ac\\u0001\"}\n",
                           "A\xc3\xa9\xc3\xa9\xe2\x82\xac\x01", 9);
    //  Raw UTF-8 passes as it is.
    s_assert_text_payload ("{\"payload\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\"}\n",
                           "caf\xc3\xa9 \xf0\x9f\x98\x80", 10);
    //  An escaped key names its field; ids and types are unescaped too.
    job_reader_config_t config = s_config (JOB_FORMAT_JSONL, NULL);
    job_reader_t *reader = s_reader_of_text (
        "{\"\\u0074ype\":\"a\\/b\",\"id\":\"\\\"q\\\"\"}\n", &config);
    job_entry_t entry;
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
    assert_string_equal (entry.type, "a/b");
    assert_string_equal (entry.id, "\"q\"");
    job_reader_destroy (&reader);
    s_assert_text_error ("{\"payload\":\"\\x\"}\n",
                         "line 1: invalid JSON: invalid escape near '\"\\x'");
    s_assert_text_error ("{\"payload\":\"\\u12\"}\n",
                         "line 1: invalid JSON: invalid escape near '\"\\u12\"'");
}

static void
surrogate_pairs_give_utf8_and_a_lone_half_is_refused (void **state)
{
    (void) state;
    s_assert_text_payload ("{\"payload\":\"\\ud83d\\ude00\"}\n", "\xf0\x9f\x98\x80", 4);
    s_assert_text_payload ("{\"payload\":\"\\uDBFF\\uDFFF\"}\n", "\xf4\x8f\xbf\xbf", 4);
    s_assert_text_error ("{\"payload\":\"\\ud83d\"}\n",
                         "line 1: invalid JSON: invalid Unicode '\\uD83D' near '\"\\ud83d\"'");
    s_assert_text_error ("{\"payload\":\"\\ude00\"}\n",
                         "line 1: invalid JSON: invalid Unicode '\\uDE00' near '\"\\ude00\"'");
    s_assert_text_error ("{\"payload\":\"\\ud83dx\"}\n",
                         "line 1: invalid JSON: invalid Unicode '\\uD83D' near '\"\\ud83dx\"'");
    s_assert_text_error ("{\"payload\":\"\\ud83d\\u0041\"}\n",
                         "line 1: invalid JSON: invalid Unicode '\\uD83D\\u0041' near '\"\\ud83d\\u0041\"'");
    s_assert_text_error ("{\"payload\":\"\\ud800\\ud800\"}\n",
                         "line 1: invalid JSON: invalid Unicode*");
    //  The same code points as raw bytes are not UTF-8.
    s_assert_text_error ("{\"payload\":\"\xed\xa0\xbd\"}\n",
                         "line 1: invalid JSON: unable to decode byte 0xed*");
}

//  Numbers that are accepted, and the field each one lands in.
static void
numbers_at_the_limits_are_read_exactly (void **state)
{
    (void) state;
    job_reader_config_t config = s_config (JOB_FORMAT_JSONL, "echo");
    job_reader_t *reader = s_reader_of_text (
        "{\"id\":9223372036854775807,\"timeout_ms\":0,\"retries\":0}\n"
        "{\"id\":-9223372036854775808,\"timeout_ms\":-0}\n"
        "{\"id\":0,\"timeout_ms\":2147483647,\"retries\":100}\n", &config);
    job_entry_t entry;
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
    assert_string_equal (entry.id, "9223372036854775807");
    assert_int_equal (entry.timeout_ms, 0);
    assert_int_equal (entry.max_attempts, 1);
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
    assert_string_equal (entry.id, "-9223372036854775808");
    assert_int_equal (entry.timeout_ms, 0);         //  -0 is the integer 0
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
    assert_string_equal (entry.id, "0");
    assert_int_equal (entry.timeout_ms, 2147483647u);
    assert_int_equal (entry.max_attempts, 101);
    job_reader_destroy (&reader);
    //  A number with an exponent or a fraction is a real: its text as a payload.
    const char *texts [] = { "1e3", "2.5E-3", "-0.0", "0.1e1", "1E+2", "4.9e-324",
                             "1.7976931348623157e308", "1e-400" };
    const char *payloads [] = { "1e+03", "0.0025", "-0.0", "1.0", "1e+02", "5e-324",
                                "1.7976931348623157e+308", "0.0" };
    for (size_t i = 0; i < sizeof texts / sizeof texts [0]; i++) {
        char text [64];
        snprintf (text, sizeof text, "{\"payload\":%s}\n", texts [i]);
        s_assert_text_payload (text, payloads [i], strlen (payloads [i]));
    }
}

//  Numbers that are refused, and why.
static const struct {
    const char *field;
    const char *error;
} s_wrong_numbers [] = {
    { "\"timeout_ms\":2147483648", "\"timeout_ms\" must be an integer from 0 to 2147483647" },
    { "\"timeout_ms\":-2147483649", "\"timeout_ms\" must be an integer from 0 to 2147483647" },
    { "\"timeout_ms\":1e3", "\"timeout_ms\" must be an integer from 0 to 2147483647" },
    { "\"timeout_ms\":1E3", "\"timeout_ms\" must be an integer from 0 to 2147483647" },
    { "\"timeout_ms\":5000.0", "\"timeout_ms\" must be an integer from 0 to 2147483647" },
    { "\"retries\":101", "\"retries\" must be an integer from 0 to 100" },
    { "\"retries\":-1", "\"retries\" must be an integer from 0 to 100" },
    { "\"retries\":100.0", "\"retries\" must be an integer from 0 to 100" },
    { "\"retries\":1e2", "\"retries\" must be an integer from 0 to 100" },
    { "\"retries\":0.5", "\"retries\" must be an integer from 0 to 100" },
    { "\"id\":1e3", "\"id\" must be a string of at most 1024 bytes or an integer" },
    { "\"id\":9223372036854775808", "invalid JSON: too big integer near '9223372036854775808'" },
    { "\"id\":18446744073709551616", "invalid JSON: too big integer near '18446744073709551616'" },
    { "\"id\":-9223372036854775809",
      "invalid JSON: too big negative integer near '-9223372036854775809'" },
    { "\"retries\":9223372036854775808", "invalid JSON: too big integer near '9223372036854775808'" },
    { "\"payload\":1e400", "invalid JSON: real number overflow near '1e400'" },
    { "\"payload\":-1e400", "invalid JSON: real number overflow near '-1e400'" },
    { "\"payload\":123456789012345678901234567890", "invalid JSON: too big integer" },
    { "\"payload\":01", "invalid JSON: invalid token near '0'" },
    { "\"payload\":1.", "invalid JSON: invalid token near '1.'" },
    { "\"payload\":.5", "invalid JSON: invalid token near '.'" },
    { "\"payload\":+1", "invalid JSON: invalid token near '+'" },
    { "\"payload\":NaN", "invalid JSON: invalid token near 'NaN'" },
};

static void
numbers_past_the_limits_are_errors_naming_field_and_line (void **state)
{
    (void) state;
    job_reader_config_t config = s_config (JOB_FORMAT_JSONL, "default");
    for (size_t i = 0; i < sizeof s_wrong_numbers / sizeof s_wrong_numbers [0]; i++) {
        char text [256];
        char expected [256];
        snprintf (text, sizeof text, "{}\n{%s}\n{}\n", s_wrong_numbers [i].field);
        snprintf (expected, sizeof expected, "line 2: %s", s_wrong_numbers [i].error);
        s_assert_error (text, strlen (text), &config, expected);
    }
}

static void
nested_payload_is_refused_as_before (void **state)
{
    (void) state;
    s_assert_text_error ("{\"type\":\"a\",\"payload\":{\"a\":1}}\n",
                         "line 1: \"payload\" must be a string or a number");
    s_assert_text_error ("{\"type\":\"a\",\"payload\":[]}\n",
                         "line 1: \"payload\" must be a string or a number");
    s_assert_text_error ("{\"type\":\"a\",\"payload\":null}\n",
                         "line 1: \"payload\" must be a string or a number");
    s_assert_text_error ("{\"type\":\"a\",\"payload\":{\"k\":[1,{\"k\":\"v\"}]}}\n",
                         "line 1: \"payload\" must be a string or a number");
    //  What is inside is still JSON, judged before the field.
    s_assert_text_error ("{\"type\":\"a\",\"payload\":{\"a\":1,\"a\":2}}\n",
                         "line 1: invalid JSON: duplicate object key near '\"a\"'");
    s_assert_text_error ("{\"type\":\"a\",\"payload\":[1,nul]}\n",
                         "line 1: invalid JSON: invalid token near 'nul'");
    s_assert_text_error ("{\"type\":\"a\",\"id\":[\"x\\u0000\"]}\n",
                         "line 1: invalid JSON: \\u0000 is not allowed without JSON_ALLOW_NUL*");
}

static void
nul_bytes_are_refused_raw_or_escaped (void **state)
{
    (void) state;
    job_reader_config_t config = s_config (JOB_FORMAT_JSONL, "echo");
    const char raw [] = "{\"payload\":\"a\x00" "b\"}\n";
    s_assert_error (raw, sizeof raw - 1, &config,
                    "line 1: invalid JSON: control character 0x0 near '\"a'");
    const char between [] = "{\"payload\":\"a\"\x00}\n";
    s_assert_error (between, sizeof between - 1, &config, "line 1: invalid JSON: *");
    s_assert_text_error ("{\"type\":\"a\",\"payload\":\"a\\u0000b\"}\n",
                         "line 1: invalid JSON: \\u0000 is not allowed without JSON_ALLOW_NUL "
                         "near '\"a\\u0000b\"'");
    s_assert_text_error ("{\"type\":\"a\",\"\\u0000\":1}\n",
                         "line 1: invalid JSON: NUL byte in object key not supported "
                         "near '\"\\u0000\"'");
    //  An escaped NUL in an id or a type, which are C strings downstream.
    s_assert_text_error ("{\"type\":\"a\\u0000b\"}\n",
                         "line 1: invalid JSON: \\u0000 is not allowed without JSON_ALLOW_NUL*");
    s_assert_text_error ("{\"type\":\"a\",\"id\":\"\\u0000\"}\n",
                         "line 1: invalid JSON: \\u0000 is not allowed without JSON_ALLOW_NUL*");
}

static void
crlf_lines_keep_their_numbers_and_bytes (void **state)
{
    (void) state;
    //  One '\r' before the newline is the line ending; more are blanks.
    job_reader_config_t config = s_config (JOB_FORMAT_JSONL, "echo");
    job_reader_t *reader = s_reader_of_text (
        "{\"payload\":\"a\\r\"}\r\n\r\n{\"payload\":\"b\"} \r\r\n", &config);
    job_entry_t entry;
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
    s_assert_payload (&entry, "a\r", 2);
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
    assert_int_equal (entry.line, 3);
    s_assert_payload (&entry, "b", 1);
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_END);
    job_reader_destroy (&reader);
    s_assert_text_error ("{\"type\":\"a\"}\r\n\r\n{\"type\":}\r\n{\"type\":\"a\"}\r\n",
                         "line 3: invalid JSON: unexpected token near '}'");
    //  A raw '\r' inside a string is a control character.
    s_assert_text_error ("{\"type\":\"a\r\"}\r\n",
                         "line 1: invalid JSON: control character 0xd near '\"a'");
}

static void
byte_order_mark_is_refused_as_before (void **state)
{
    (void) state;
    s_assert_text_error ("\xef\xbb\xbf{\"type\":\"a\"}\n",
                         "line 1: invalid JSON: invalid token near '\xef\xbb\xbf'");
    s_assert_text_error ("{\"type\":\"a\"}\n\xef\xbb\xbf{\"type\":\"a\"}\n",
                         "line 2: invalid JSON: invalid token near '\xef\xbb\xbf'");
}

static void
a_line_is_judged_whole_before_its_fields (void **state)
{
    (void) state;
    //  Duplicates are found after unescaping, and before unknown fields.
    s_assert_text_error ("{\"type\":\"a\",\"id\":\"a\",\"\\u0069d\":\"b\"}\n",
                         "line 1: invalid JSON: duplicate object key near '\"\\u0069d\"'");
    s_assert_text_error ("{\"type\":\"a\",\"colour\":1,\"colour\":2}\n",
                         "line 1: invalid JSON: duplicate object key near '\"colour\"'");
    //  Invalid JSON after a wrong field is still invalid JSON.
    s_assert_text_error ("{\"colour\":1,\"type\":\"\\u0000\"}\n",
                         "line 1: invalid JSON: \\u0000 is not allowed without JSON_ALLOW_NUL*");
    s_assert_text_error ("{\"type\":5,\"payload\":\n",
                         "line 1: invalid JSON: unexpected token near end of file");
    s_assert_text_error ("{\"type\":\"a\",\"payload\":\"\xc0\x80\"}\n",
                         "line 1: invalid JSON: unable to decode byte 0xc0*");
    //  Seven fields: the unknown one is named.
    s_assert_text_error ("{\"id\":1,\"type\":\"a\",\"payload\":\"p\",\"timeout_ms\":1,\"retries\":1,"
                         "\"x\":1}\n", "line 1: unknown field \"x\"");
    s_assert_text_error ("{\"type\":\"a\",\"payload\":\"p\"}}\n",
                         "line 1: invalid JSON: end of file expected near '}'");
}

static void
empty_input_has_no_tasks (void **state)
{
    (void) state;
    job_reader_config_t config = s_config (JOB_FORMAT_JSONL, "echo");
    s_assert_error ("", 0, &config, "no tasks in input");
    s_assert_error ("\n \n\r\n", 5, &config, "no tasks in input");
    config = s_config (JOB_FORMAT_LINES, "echo");
    s_assert_error ("", 0, &config, "no tasks in input");
}

//  --- skip_invalid -------------------------------------------------------------------------

static job_reader_config_t
s_skip_config (job_format_t format, const char *default_type)
{
    job_reader_config_t config = s_config (format, default_type);
    config.skip_invalid = true;
    return config;
}

//  Expects the next status to be a skipped line with this message.
static void
s_assert_skips (job_reader_t *reader, const char *expected)
{
    job_entry_t entry;
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_SKIPPED);
    s_assert_message (reader, expected);
}

//  Expects the next task to come from this line, with this type.
static void
s_assert_task (job_reader_t *reader, uint64_t line, const char *type)
{
    job_entry_t entry;
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
    assert_int_equal (entry.line, line);
    assert_string_equal (entry.type, type);
}

//  Puts the bad line (size bytes, may hold NULs) at line 2 of a job whose
//  lines 1 and 4 are valid and line 3 is blank; expects line 2 skipped with
//  "line 2: " and the error, and both valid lines read with their numbers.
static void
s_assert_skipped_between (const char *bad, size_t size, const char *error)
{
    const char *head = "{\"type\":\"a\",\"id\":\"before\"}\n";
    const char *tail = "\n\n{\"type\":\"b\"}\n";
    size_t text_size = strlen (head) + size + strlen (tail);
    char *text = (char *) malloc (text_size);
    memcpy (text, head, strlen (head));
    memcpy (text + strlen (head), bad, size);
    memcpy (text + strlen (head) + size, tail, strlen (tail));
    job_reader_config_t config = s_skip_config (JOB_FORMAT_JSONL, NULL);
    job_reader_t *reader = s_reader_of (text, text_size, &config);
    free (text);

    job_entry_t entry;
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
    assert_int_equal (entry.line, 1);
    assert_string_equal (entry.id, "before");
    char expected [256];
    snprintf (expected, sizeof expected, "line 2: %s", error);
    s_assert_skips (reader, expected);
    assert_int_equal (job_reader_skipped (reader), 1);
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
    assert_int_equal (entry.line, 4);
    assert_string_equal (entry.id, "4");
    assert_string_equal (entry.type, "b");
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_END);
    assert_int_equal (job_reader_count (reader), 2);
    assert_int_equal (job_reader_skipped (reader), 1);
    job_reader_destroy (&reader);
}

#define S_BAD(text, error) { text, sizeof text - 1, error }

//  One line of each kind of malformed input but the wrong fields (above)
//  and over-long lines (below).
static const struct {
    const char *line;
    size_t size;
    const char *error;
} s_bad_lines [] = {
    S_BAD ("{\"type\":", "invalid JSON: *"),
    S_BAD ("{\"type\":\"a\"} {}", "invalid JSON: *"),
    S_BAD ("{\"type\":\"a\",\"type\":\"b\"}", "invalid JSON: duplicate object key*"),
    S_BAD ("[1, 2]", "not a JSON object"),
    S_BAD ("42", "not a JSON object"),
    S_BAD ("{\"payload\":\"x\"}", "no \"type\" (give one or use --type)"),
    S_BAD ("{\"type\":\"a\",\"payload_b64\":\"abc\"}", "\"payload_b64\" is not valid base64"),
    S_BAD ("{\"type\":\"a\",\"payload\":\"x\",\"payload_b64\":\"eA==\"}",
           "give \"payload\" or \"payload_b64\", not both"),
    S_BAD ("{\"type\":\"a\",\"timout_ms\":5}", "unknown field \"timout_ms\""),
    S_BAD ("\x7f" "ELF\x02\x01\x00\x00\xff\xfe", "invalid JSON: *"),
    S_BAD ("{\"type\":\"a\",\"payload\":\"a\x00" "b\"}", "invalid JSON: *"),
    S_BAD ("{\"type\":\"a\",\"payload\":\"caf\xe9\"}", "invalid JSON: *"),
    S_BAD ("  \x00  ", "invalid JSON: *"),
    S_BAD ("{\"type\":\"a\",\"payload\":\"\\ud83d\"}", "invalid JSON: invalid Unicode '\\uD83D'*"),
    S_BAD ("{\"type\":\"a\",\"payload\":\"\\u0000\"}", "invalid JSON: \\u0000 is not allowed*"),
    S_BAD ("{\"type\":\"a\",\"id\":9223372036854775808}", "invalid JSON: too big integer*"),
    S_BAD ("\xef\xbb\xbf{\"type\":\"a\"}", "invalid JSON: invalid token*"),
    S_BAD ("{\"type\":\"a\",\"payload\":{\"a\":1}}", "\"payload\" must be a string or a number"),
};

static void
each_malformed_line_is_skipped_and_the_lines_around_it_read (void **state)
{
    (void) state;
    for (size_t i = 0; i < sizeof s_bad_lines / sizeof s_bad_lines [0]; i++)
        s_assert_skipped_between (s_bad_lines [i].line, s_bad_lines [i].size,
                                  s_bad_lines [i].error);
    for (size_t i = 0; i < S_WRONG_FIELDS; i++) {
        char line [256];
        snprintf (line, sizeof line, "{%s}", s_wrong_fields [i].field);
        s_assert_skipped_between (line, strlen (line), s_wrong_fields [i].error);
    }
}

static void
skipped_lines_are_reported_one_by_one_in_line_order (void **state)
{
    (void) state;
    job_reader_config_t config = s_skip_config (JOB_FORMAT_JSONL, "echo");
    job_reader_t *reader = s_reader_of_text (
        "{}\n[]\n{\"retries\":-1}\n\n{\"id\":\"x5\"}\n{\n{\"payload\":\"last\"}", &config);
    assert_int_equal (job_reader_skipped (reader), 0);
    job_entry_t entry;
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
    assert_int_equal (entry.line, 1);
    s_assert_skips (reader, "line 2: not a JSON object");
    s_assert_skips (reader, "line 3: \"retries\" must be an integer from 0 to 100");
    assert_int_equal (job_reader_skipped (reader), 2);
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
    assert_int_equal (entry.line, 5);
    assert_string_equal (entry.id, "x5");
    s_assert_skips (reader, "line 6: invalid JSON: *");
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
    assert_int_equal (entry.line, 7);
    assert_string_equal (entry.id, "7");
    s_assert_payload (&entry, "last", 4);
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_END);
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_END);
    assert_int_equal (job_reader_count (reader), 3);
    assert_int_equal (job_reader_skipped (reader), 3);
    job_reader_destroy (&reader);
}

//  Lines 1, 3 and 5 are valid; 2 is 1 MiB (16 read blocks) against a
//  100-byte limit, 4 is one byte over it, 6 is over it with no newline.
static char *
s_long_lines_text (size_t *size)
{
    char valid_e [128];
    snprintf (valid_e, sizeof valid_e, "%-100s\r\n", "{\"type\":\"e\"}");
    char over_d [128];
    snprintf (over_d, sizeof over_d, "%-101s\n", "{\"type\":\"d\"}");
    size_t long_size = 1024 * 1024;
    size_t capacity = long_size + 1024;
    char *text = (char *) malloc (capacity);
    size_t at = (size_t) sprintf (text, "{\"type\":\"a\"}\n");
    memset (text + at, ' ', long_size);
    at += long_size;
    at += (size_t) sprintf (text + at, "\n{\"type\":\"c\"}\n%s%s", over_d, valid_e);
    memset (text + at, 'x', 200);
    *size = at + 200;
    return text;
}

static void
over_long_lines_are_skipped_and_the_next_line_read (void **state)
{
    (void) state;
    size_t size;
    char *text = s_long_lines_text (&size);
    job_reader_config_t config = s_skip_config (JOB_FORMAT_JSONL, NULL);
    config.max_line_bytes = 100;
    job_reader_t *reader = s_reader_of (text, size, &config);
    s_assert_task (reader, 1, "a");
    s_assert_skips (reader, "line 2: longer than 100 bytes");
    s_assert_task (reader, 3, "c");
    s_assert_skips (reader, "line 4: longer than 100 bytes");
    s_assert_task (reader, 5, "e");
    s_assert_skips (reader, "line 6: longer than 100 bytes");
    job_entry_t entry;
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_END);
    assert_int_equal (job_reader_count (reader), 3);
    assert_int_equal (job_reader_skipped (reader), 3);
    job_reader_destroy (&reader);

    //  Plain lines can only be too long.
    config = s_skip_config (JOB_FORMAT_LINES, "echo");
    config.max_line_bytes = 100;
    reader = s_reader_of (text, size, &config);
    free (text);
    for (uint64_t line = 1; line <= 6; line++) {
        if (line % 2) {
            s_assert_task (reader, line, "echo");
            continue;
        }
        char expected [64];
        snprintf (expected, sizeof expected, "line %" PRIu64 ": longer than 100 bytes", line);
        s_assert_skips (reader, expected);
    }
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_END);
    assert_int_equal (job_reader_skipped (reader), 3);
    job_reader_destroy (&reader);
}

static void
skipping_a_huge_line_keeps_memory_bounded (void **state)
{
    (void) state;
    //  A 128 MiB line of NUL bytes (a hole in a sparse file), then a task.
    const off_t hole = 128 * 1024 * 1024;
    char path [] = "/tmp/test_job_reader_XXXXXX";
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    const char *tail = "\n{\"type\":\"after\"}\n";
    assert_int_equal (lseek (fd, hole, SEEK_SET), hole);
    assert_int_equal (write (fd, tail, strlen (tail)), (ssize_t) strlen (tail));
    close (fd);
    job_reader_config_t config = s_skip_config (JOB_FORMAT_JSONL, NULL);
    job_reader_t *reader = job_reader_new (path, &config, NULL, 0);
    unlink (path);
    assert_non_null (reader);

    struct rusage before, after;
    getrusage (RUSAGE_SELF, &before);
    s_assert_skips (reader, "line 1: longer than 4194304 bytes");
    s_assert_task (reader, 2, "after");
    getrusage (RUSAGE_SELF, &after);
    job_reader_destroy (&reader);
    //  ru_maxrss is in KiB: the line buffer stops at the 4 MiB limit.
    long grown_kib = after.ru_maxrss - before.ru_maxrss;
    if (grown_kib > 32 * 1024)
        fail_msg ("peak memory grew by %ld KiB skipping a 128 MiB line", grown_kib);
}

static void
skip_invalid_still_fails_an_input_with_no_valid_task (void **state)
{
    (void) state;
    //  Empty input stays an error, as without skip_invalid.
    job_reader_config_t config = s_skip_config (JOB_FORMAT_JSONL, "echo");
    s_assert_error ("", 0, &config, "no tasks in input");
    s_assert_error ("\n \n\r\n", 5, &config, "no tasks in input");

    //  Every line invalid: each is skipped, then the input fails.
    job_reader_t *reader = s_reader_of ("[]\n\x00\x01\x02\n\n\xff\xfe", 9, &config);
    s_assert_skips (reader, "line 1: not a JSON object");
    s_assert_skips (reader, "line 2: invalid JSON: *");
    s_assert_skips (reader, "line 4: invalid JSON: *");
    job_entry_t entry;
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_ERROR);
    assert_string_equal (job_reader_error (reader), "no valid task in input (3 invalid lines skipped)");
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_ERROR);
    job_reader_destroy (&reader);
}

static void
binary_file_lines_are_skipped_like_any_invalid_line (void **state)
{
    (void) state;
    //  40 lines of pseudo-random bytes, each holding a NUL, then one task.
    const size_t lines = 40;
    const size_t width = 100;
    const char *task = "{\"type\":\"t\"}\n";
    size_t size = lines * width + strlen (task);
    uint8_t *data = (uint8_t *) malloc (size);
    uint32_t seed = 12345;
    for (size_t i = 0; i < lines * width; i++) {
        seed = seed * 1103515245 + 12345;
        uint8_t byte = (uint8_t) (seed >> 16);
        data [i] = i % width == width - 1 ? '\n' : i % width == 7 ? 0 : byte == '\n' ? 0 : byte;
    }
    memcpy (data + lines * width, task, strlen (task));
    job_reader_config_t config = s_skip_config (JOB_FORMAT_JSONL, NULL);
    job_reader_t *reader = s_reader_of (data, size, &config);
    free (data);
    job_entry_t entry;
    job_reader_status_t status;
    uint64_t skips = 0;
    while ((status = job_reader_next (reader, &entry)) == JOB_READER_SKIPPED) {
        skips++;
        char prefix [32];
        int length = snprintf (prefix, sizeof prefix, "line %" PRIu64 ": ", skips);
        assert_int_equal (strncmp (job_reader_error (reader), prefix, (size_t) length), 0);
    }
    assert_int_equal (status, JOB_READER_OK);
    assert_int_equal (entry.line, lines + 1);
    assert_int_equal (skips, lines);
    assert_int_equal (job_reader_skipped (reader), lines);
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_END);
    job_reader_destroy (&reader);
}

//  --- validation ------------------------------------------------------------------------

//  Reads data through with job_reader_next, then validates it with a new
//  reader: both must end alike, with the same message, tasks and skips.
static void
s_assert_validation_agrees (const void *data, size_t size, const job_reader_config_t *config)
{
    job_reader_t *reader = s_reader_of (data, size, config);
    job_entry_t entry;
    job_reader_status_t status;
    do
        status = job_reader_next (reader, &entry);
    while (status == JOB_READER_OK || status == JOB_READER_SKIPPED);
    char expected [512];
    snprintf (expected, sizeof expected, "%s", job_reader_error (reader));
    uint64_t tasks = job_reader_count (reader);
    uint64_t skipped = job_reader_skipped (reader);
    job_reader_destroy (&reader);

    reader = s_reader_of (data, size, config);
    assert_int_equal (job_reader_validate (reader), status == JOB_READER_END ? 0 : -1);
    assert_string_equal (job_reader_error (reader), expected);
    assert_int_equal (job_reader_count (reader), tasks);
    assert_int_equal (job_reader_skipped (reader), skipped);
    job_reader_destroy (&reader);
}

static void
validation_of_a_valid_file_counts_its_tasks (void **state)
{
    (void) state;
    job_reader_config_t config = s_config (JOB_FORMAT_JSONL, "echo");
    const char *text = "\n  {\"id\":\"a\",\"payload\":\"x\\n\\u00e9\"}\r\n\t\r\n"
                       "{\"payload_b64\":\"YQ==\",\"timeout_ms\":5,\"retries\":100}\n"
                       " \n{}  \n{\"payload\":2.5}";
    job_reader_t *reader = s_reader_of_text (text, &config);
    assert_int_equal (job_reader_validate (reader), 0);
    assert_int_equal (job_reader_count (reader), 4);
    assert_string_equal (job_reader_error (reader), "");
    job_entry_t entry;
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_END);
    job_reader_destroy (&reader);
    s_assert_validation_agrees (text, strlen (text), &config);
    //  Lines at the limit, with and without '\r', and one past it.
    config.max_line_bytes = 20;
    s_assert_validation_agrees ("{\"payload\":\"123456\"}\n{\"payload\":\"123456\"}\r\n"
                                "   {\"payload\":\"1\"}  \n", 64, &config);
    s_assert_validation_agrees ("{\"payload\":\"1234567\"}\n", 22, &config);
    s_assert_validation_agrees ("{}\n\n                     \n{}\n", 29, &config);
}

static void
validation_agrees_on_every_kind_of_line (void **state)
{
    (void) state;
    //  Every malformed line of the tests above, and odd lines that are valid.
    job_reader_config_t config = s_config (JOB_FORMAT_JSONL, NULL);
    for (size_t i = 0; i < sizeof s_bad_lines / sizeof s_bad_lines [0]; i++) {
        char text [256];
        size_t size = (size_t) snprintf (text, sizeof text, "{\"type\":\"a\"}\n");
        memcpy (text + size, s_bad_lines [i].line, s_bad_lines [i].size);
        size += s_bad_lines [i].size;
        text [size++] = '\n';
        s_assert_validation_agrees (text, size, &config);
        config.skip_invalid = true;
        s_assert_validation_agrees (text, size, &config);
        config.skip_invalid = false;
    }
    const char *odd [] = {
        "{\"type\":\"a\"} {\"type\":\"b\"}\n",              //  two texts on a line
        "{\"type\":\"a\"}{\"type\":\"b\"}\n",
        "{\"type\":\n\"a\"}\n",                              //  one text on two lines
        "{\"type\":\"a\"\n}\n{\"type\":\"b\"}\n",
        "{\"type\":\"a\"}\n\f\n\v \n{\"type\":\"b\"}\n",    //  blank, to job_reader only
        "{\"type\":\"a\"}\n1\n",
        "{\"type\":\"a\"}\n\"{}\"\n",
        "{\"type\":\"a\",\"payload\":true}\n",
        "{\"type\":\"a\",\"retries\":3,\"retries\":3}\n",
        "{\"type\":\"a\",\"payload\":\"\\\\u0000\"}\n",       //  an escaped backslash
        "{\"type\":\"a\"}\n{\"type\":\"a\"}",                //  no final newline
        "{\"type\":\"a\"}\n{\"type\":",
    };
    for (size_t i = 0; i < sizeof odd / sizeof odd [0]; i++)
        s_assert_validation_agrees (odd [i], strlen (odd [i]), &config);
}

//  A job of many short lines, several of the reader's validation windows
//  long, with a line replaced at line number at (1-based); returns its size.
static char *
s_big_job (size_t lines, size_t at, const char *replacement, size_t *size)
{
    size_t capacity = lines * 128 + strlen (replacement) + 16;
    char *text = (char *) malloc (capacity);
    size_t used = 0;
    for (size_t line = 1; line <= lines; line++) {
        if (line == at)
            used += (size_t) snprintf (text + used, capacity - used, "%s\n", replacement);
        else
            used += (size_t) snprintf (text + used, capacity - used,
                                       "{\"id\":\"t%zu\",\"type\":\"noop\",\"payload\":"
                                       "\"%060zu\",\"timeout_ms\":%zu}\n", line, line, line);
    }
    *size = used;
    return text;
}

//  Makes the line holding name invalid JSON: a control byte in a string.
static void
s_spoil (char *text, const char *name)
{
    char *at = strstr (text, name);
    assert_non_null (at);
    at [1] = '\x01';
}

//  The line (1-based) that holds byte offset of text.
static size_t
s_line_at (const char *text, size_t offset)
{
    size_t line = 1;
    for (size_t at = 0; at < offset; at++)
        line += text [at] == '\n';
    return line;
}

static void
validation_of_a_long_file_names_the_first_bad_line_anywhere (void **state)
{
    (void) state;
    //  About 3.9 MiB: the reader validates it in two halves, each in windows
    //  of 1 MiB of whole lines. Bad lines go at the start, the end, and on
    //  each side of the first window's end and of the second half's start.
    const size_t lines = 32000;
    size_t size;
    char *text = s_big_job (lines, 0, "", &size);
    size_t edge = s_line_at (text, 1024 * 1024);
    size_t half = s_line_at (text, size / 2) + 1;
    free (text);
    const size_t where [] = { 1, 2, 5000, edge - 1, edge, edge + 1, half - 1, half, half + 1,
                              20000, 31999, 32000 };
    const char *what [] = {
        "{\"type\":\"a\",\"payload\":\"\\ud83d\"}", "[]", "", "{\"type\":\"a\"} {}",
        "{\"type\":\"a\",\n\"id\":\"x\"}", "{\"type\":\"a\",\"colour\":1}", "{\"type\":\"a\"}\r",
        "\f", "{\"retries\":101}", "{\"payload_b64\":\"abc\"}",
    };
    job_reader_config_t config = s_config (JOB_FORMAT_JSONL, NULL);
    for (size_t i = 0; i < sizeof where / sizeof where [0]; i++)
        for (size_t j = i % 3; j < sizeof what / sizeof what [0]; j += 3) {
            text = s_big_job (lines, where [i], what [j], &size);
            s_assert_validation_agrees (text, size, &config);
            free (text);
        }
    //  A bad line in each half: the first is named.
    text = s_big_job (lines, 30000, "[]", &size);
    s_spoil (text, "\"t700\"");
    s_assert_validation_agrees (text, size, &config);
    free (text);
    //  A line longer than a window, valid, then a bad one.
    char *huge = (char *) malloc (2 * 1024 * 1024);
    int head = snprintf (huge, 64, "{\"type\":\"a\",\"payload\":\"");
    memset (huge + head, 'h', 2 * 1024 * 1024 - (size_t) head - 3);
    memcpy (huge + 2 * 1024 * 1024 - 3, "\"}", 3);
    text = s_big_job (lines, 15000, huge, &size);
    s_assert_validation_agrees (text, size, &config);
    free (text);
    text = s_big_job (lines, edge, huge, &size);
    s_spoil (text, "\"t31999\"");
    s_assert_validation_agrees (text, size, &config);
    free (text);
    free (huge);
}

static void
validation_of_what_cannot_be_read_again_reads_it_once (void **state)
{
    (void) state;
    job_reader_config_t config = s_config (JOB_FORMAT_JSONL, "echo");
    job_reader_t *reader = job_reader_new ("/dev/null", &config, NULL, 0);
    assert_int_equal (job_reader_validate (reader), -1);
    assert_string_equal (job_reader_error (reader), "no tasks in input");
    job_reader_destroy (&reader);
    //  Lines format, and a reader already read from.
    config = s_config (JOB_FORMAT_LINES, "echo");
    s_assert_validation_agrees ("a\n\nb", 4, &config);
    config = s_config (JOB_FORMAT_JSONL, "echo");
    reader = s_reader_of_text ("{}\n{}\n[]\n", &config);
    job_entry_t entry;
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
    assert_int_equal (job_reader_validate (reader), -1);
    assert_string_equal (job_reader_error (reader), "line 3: not a JSON object");
    assert_int_equal (job_reader_count (reader), 2);
    job_reader_destroy (&reader);
}

//  --- lines and generate ---------------------------------------------------------------

static void
lines_format_makes_a_task_of_every_line_including_empty_ones (void **state)
{
    (void) state;
    job_reader_config_t config = s_config (JOB_FORMAT_LINES, "count-words");
    config.default_timeout_ms = 100;
    config.default_retries = 1;
    job_reader_t *reader = s_reader_of_text ("alpha beta\n\n{\"not\":\"json\"}\r\n\n", &config);
    const char *expected [] = { "alpha beta", "", "{\"not\":\"json\"}", "" };
    job_entry_t entry;
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
        assert_int_equal (entry.line, i + 1);
        char id [8];
        snprintf (id, sizeof id, "%zu", i + 1);
        assert_string_equal (entry.id, id);
        assert_string_equal (entry.type, "count-words");
        assert_int_equal (entry.timeout_ms, 100);
        assert_int_equal (entry.max_attempts, 2);
        s_assert_payload (&entry, expected [i], strlen (expected [i]));
    }
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_END);
    assert_int_equal (job_reader_count (reader), 4);
    job_reader_destroy (&reader);
}

static void
lines_format_keeps_binary_bytes_and_a_last_line_without_newline (void **state)
{
    (void) state;
    job_reader_config_t config = s_config (JOB_FORMAT_LINES, "echo");
    job_reader_t *reader = s_reader_of ("a\x00" "b\n\xff", 5, &config);
    job_entry_t entry;
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
    s_assert_payload (&entry, "a\x00" "b", 3);
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
    s_assert_payload (&entry, "\xff", 1);
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_END);
    job_reader_destroy (&reader);

    reader = s_reader_of_text ("\n", &config);
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
    assert_int_equal (entry.payload_size, 0);
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_END);
    job_reader_destroy (&reader);
}

static void
generate_makes_count_tasks_of_payload_size (void **state)
{
    (void) state;
    job_reader_config_t config = s_config (JOB_FORMAT_GENERATE, "noop");
    config.generate_count = 30;
    config.payload_size = 40;
    config.default_timeout_ms = 9;
    char error [128];
    job_reader_t *reader = job_reader_new (NULL, &config, error, sizeof error);
    assert_non_null (reader);
    assert_false (job_reader_seekable (reader));
    job_entry_t entry;
    for (uint64_t i = 1; i <= 30; i++) {
        assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
        assert_int_equal (entry.line, i);
        char id [8];
        snprintf (id, sizeof id, "%" PRIu64, i);
        assert_string_equal (entry.id, id);
        assert_string_equal (entry.type, "noop");
        assert_int_equal (entry.timeout_ms, 9);
        assert_int_equal (entry.max_attempts, 1);
        assert_int_equal (entry.payload_size, 40);
        for (size_t at = 0; at < 40; at++)
            assert_int_equal (entry.payload [at], 'a' + at % 26);
        assert_int_equal (job_reader_count (reader), i);
    }
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_END);
    assert_int_equal (job_reader_count (reader), 30);
    job_reader_destroy (&reader);
}

static void
generate_uses_the_given_payload (void **state)
{
    (void) state;
    job_reader_config_t config = s_config (JOB_FORMAT_GENERATE, "sleep");
    config.generate_count = 2;
    config.payload_size = 1000;
    config.payload = "25";
    job_reader_t *reader = job_reader_new ("ignored", &config, NULL, 0);
    assert_non_null (reader);
    job_entry_t entry;
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
    s_assert_payload (&entry, "25", 2);
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
    assert_string_equal (entry.id, "2");
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_END);
    job_reader_destroy (&reader);

    config.generate_count = 0;
    reader = job_reader_new (NULL, &config, NULL, 0);
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_ERROR);
    assert_string_equal (job_reader_error (reader), "no tasks in input");
    job_reader_destroy (&reader);
}

static void
count_counts_tasks_not_lines (void **state)
{
    (void) state;
    job_reader_config_t config = s_config (JOB_FORMAT_JSONL, "echo");
    job_reader_t *reader = s_reader_of_text ("{}\n\n{}\n\n{}\n", &config);
    assert_int_equal (job_reader_count (reader), 0);
    job_entry_t entry;
    for (uint64_t i = 1; i <= 3; i++) {
        assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
        assert_int_equal (job_reader_count (reader), i);
    }
    assert_int_equal (entry.line, 5);
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_END);
    assert_int_equal (job_reader_count (reader), 3);
    job_reader_destroy (&reader);
}

//  --- opening ----------------------------------------------------------------------------

static void
unusable_config_is_refused_with_a_message (void **state)
{
    (void) state;
    char error [128];
    job_reader_config_t config = s_config (JOB_FORMAT_LINES, NULL);
    assert_null (job_reader_new ("/dev/null", &config, error, sizeof error));
    assert_string_equal (error, "--format lines and --generate need --type");
    config = s_config (JOB_FORMAT_GENERATE, NULL);
    config.generate_count = 1;
    assert_null (job_reader_new (NULL, &config, error, sizeof error));
    assert_string_equal (error, "--format lines and --generate need --type");
    config = s_config (JOB_FORMAT_JSONL, "");
    assert_null (job_reader_new ("/dev/null", &config, error, sizeof error));
    assert_string_equal (error, "--type must be 1 to 64 bytes");
    config = s_config (JOB_FORMAT_JSONL, NULL);
    config.default_retries = 101;
    assert_null (job_reader_new ("/dev/null", &config, error, sizeof error));
    assert_string_equal (error, "--retries must be from 0 to 100");
}

static void
missing_file_or_directory_cannot_be_opened (void **state)
{
    (void) state;
    char error [256];
    job_reader_config_t config = s_config (JOB_FORMAT_JSONL, "echo");
    assert_null (job_reader_new ("/nonexistent/jobs.jsonl", &config, error, sizeof error));
    assert_string_equal (error, "cannot open /nonexistent/jobs.jsonl: No such file or directory");
    assert_null (job_reader_new ("/tmp", &config, error, sizeof error));
    assert_string_equal (error, "cannot open /tmp: Is a directory");
}

static void
regular_file_is_seekable_and_a_device_is_not (void **state)
{
    (void) state;
    job_reader_config_t config = s_config (JOB_FORMAT_JSONL, "echo");
    job_reader_t *reader = s_reader_of_text ("{}\n", &config);
    assert_true (job_reader_seekable (reader));
    job_reader_destroy (&reader);
    reader = job_reader_new ("/dev/null", &config, NULL, 0);
    assert_non_null (reader);
    assert_false (job_reader_seekable (reader));
    job_entry_t entry;
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_ERROR);
    assert_string_equal (job_reader_error (reader), "no tasks in input");
    job_reader_destroy (&reader);
}

static void
dash_reads_stdin_and_leaves_it_open (void **state)
{
    (void) state;
    char path [] = "/tmp/test_job_reader_XXXXXX";
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    const char *text = "{\"payload\":\"from stdin\"}\n";
    assert_int_equal (write (fd, text, strlen (text)), (ssize_t) strlen (text));
    lseek (fd, 0, SEEK_SET);
    unlink (path);
    int saved = dup (STDIN_FILENO);
    assert_int_equal (dup2 (fd, STDIN_FILENO), STDIN_FILENO);
    close (fd);

    job_reader_config_t config = s_config (JOB_FORMAT_JSONL, "echo");
    job_reader_t *reader = job_reader_new ("-", &config, NULL, 0);
    assert_non_null (reader);
    job_entry_t entry;
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
    s_assert_payload (&entry, "from stdin", 10);
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_END);
    job_reader_destroy (&reader);
    assert_true (fcntl (STDIN_FILENO, F_GETFD) >= 0);
    assert_int_equal (fileno (stdin), STDIN_FILENO);

    dup2 (saved, STDIN_FILENO);
    close (saved);
    clearerr (stdin);
}

//  The master reads the clock again only after a read of input (the one
//  thing that can wait): a file counts each block it reads, a generated
//  job none.
static void
blocks_read_count_the_reads_of_input (void **state)
{
    (void) state;
    job_reader_config_t config = s_config (JOB_FORMAT_LINES, "echo");
    size_t size = 200 * 1024;               //  a little over three 64 KiB blocks
    char *text = (char *) malloc (size);
    memset (text, 'x', size);
    for (size_t i = 99; i < size; i += 100)
        text [i] = '\n';
    job_reader_t *reader = s_reader_of (text, size, &config);
    free (text);
    assert_int_equal (job_reader_blocks_read (reader), 0);
    job_entry_t entry;
    assert_int_equal (job_reader_next (reader, &entry), JOB_READER_OK);
    assert_int_equal (job_reader_blocks_read (reader), 1);
    while (job_reader_next (reader, &entry) == JOB_READER_OK)
        ;
    assert_int_equal (job_reader_count (reader), size / 100);
    uint64_t blocks = job_reader_blocks_read (reader);
    assert_true (blocks >= 4 && blocks <= 5);       //  the last may only find the end
    job_reader_destroy (&reader);
    config = s_config (JOB_FORMAT_GENERATE, "noop");
    config.generate_count = 10;
    reader = s_reader_of_text ("", &config);
    while (job_reader_next (reader, &entry) == JOB_READER_OK)
        ;
    assert_int_equal (job_reader_blocks_read (reader), 0);
    job_reader_destroy (&reader);
}

//  --max-payload: the payload after base64, in every format, is checked
//  against the limit and a larger one is the line's error; validation agrees.
static void
a_payload_over_the_limit_is_an_error_naming_its_line (void **state)
{
    (void) state;
    job_reader_config_t config = s_config (JOB_FORMAT_JSONL, "t");
    config.max_payload_bytes = 4;
    const char *text = "{\"payload\":\"abcd\"}\n{\"payload_b64\":\"YWJjZA==\"}\n"
                       "{\"payload\":\"abcde\"}\n";
    s_assert_error (text, strlen (text), &config,
                    "line 3: payload of 5 bytes is over the limit of 4 (--max-payload)");
    text = "{\"payload_b64\":\"YWJjZGU=\"}\n";
    s_assert_error (text, strlen (text), &config,
                    "line 1: payload of 5 bytes is over the limit of 4 (--max-payload)");
    config.format = JOB_FORMAT_LINES;
    text = "abcd\nabcdef\n";
    s_assert_error (text, strlen (text), &config,
                    "line 2: payload of 6 bytes is over the limit of 4 (--max-payload)");
    //  With --skip-invalid the line is skipped and the next one read.
    config = s_skip_config (JOB_FORMAT_JSONL, "t");
    config.max_payload_bytes = 4;
    job_reader_t *reader = s_reader_of_text ("{\"payload\":\"abcde\"}\n{\"id\":\"x\"}\n",
                                             &config);
    s_assert_skips (reader, "line 1: payload of 5 bytes is over the limit of 4 (--max-payload)");
    s_assert_task (reader, 2, "t");
    job_reader_destroy (&reader);
    //  A generated payload over the limit is refused at once.
    config = s_config (JOB_FORMAT_GENERATE, "noop");
    config.generate_count = 1;
    config.payload_size = 5;
    config.max_payload_bytes = 4;
    char error [256] = "";
    assert_null (job_reader_new (NULL, &config, error, sizeof error));
    assert_non_null (strstr (error, "--max-payload"));
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (json_line_gives_every_field),
        cmocka_unit_test (missing_fields_take_line_number_and_config_defaults),
        cmocka_unit_test (no_payload_gives_an_empty_payload),
        cmocka_unit_test (integer_id_becomes_its_decimal_text),
        cmocka_unit_test (payload_b64_decodes_binary_bytes),
        cmocka_unit_test (numeric_payload_is_its_json_text),
        cmocka_unit_test (escaped_payload_keeps_newlines_and_unicode),
        cmocka_unit_test (blank_lines_are_skipped_but_counted),
        cmocka_unit_test (crlf_endings_and_a_last_line_without_newline_are_read),
        cmocka_unit_test (lines_across_read_blocks_are_whole),
        cmocka_unit_test (invalid_json_is_an_error_naming_its_line),
        cmocka_unit_test (non_object_is_an_error_naming_its_line),
        cmocka_unit_test (missing_type_without_default_is_an_error),
        cmocka_unit_test (wrong_typed_fields_are_errors_naming_field_and_line),
        cmocka_unit_test (limits_are_inclusive),
        cmocka_unit_test (too_long_id_is_an_error),
        cmocka_unit_test (bad_base64_is_an_error_naming_its_line),
        cmocka_unit_test (both_payloads_is_an_error),
        cmocka_unit_test (unknown_field_is_an_error_naming_its_line),
        cmocka_unit_test (too_long_line_is_an_error_at_its_line),
        cmocka_unit_test (line_of_exactly_the_limit_is_read_with_or_without_cr),
        cmocka_unit_test (binary_file_is_an_error_naming_its_line),
        cmocka_unit_test (errors_quoting_the_line_mask_its_control_bytes),
        cmocka_unit_test (escapes_give_their_bytes),
        cmocka_unit_test (surrogate_pairs_give_utf8_and_a_lone_half_is_refused),
        cmocka_unit_test (numbers_at_the_limits_are_read_exactly),
        cmocka_unit_test (numbers_past_the_limits_are_errors_naming_field_and_line),
        cmocka_unit_test (nested_payload_is_refused_as_before),
        cmocka_unit_test (nul_bytes_are_refused_raw_or_escaped),
        cmocka_unit_test (crlf_lines_keep_their_numbers_and_bytes),
        cmocka_unit_test (byte_order_mark_is_refused_as_before),
        cmocka_unit_test (a_line_is_judged_whole_before_its_fields),
        cmocka_unit_test (empty_input_has_no_tasks),
        cmocka_unit_test (each_malformed_line_is_skipped_and_the_lines_around_it_read),
        cmocka_unit_test (skipped_lines_are_reported_one_by_one_in_line_order),
        cmocka_unit_test (over_long_lines_are_skipped_and_the_next_line_read),
        cmocka_unit_test (skipping_a_huge_line_keeps_memory_bounded),
        cmocka_unit_test (skip_invalid_still_fails_an_input_with_no_valid_task),
        cmocka_unit_test (binary_file_lines_are_skipped_like_any_invalid_line),
        cmocka_unit_test (validation_of_a_valid_file_counts_its_tasks),
        cmocka_unit_test (validation_agrees_on_every_kind_of_line),
        cmocka_unit_test (validation_of_a_long_file_names_the_first_bad_line_anywhere),
        cmocka_unit_test (validation_of_what_cannot_be_read_again_reads_it_once),
        cmocka_unit_test (lines_format_makes_a_task_of_every_line_including_empty_ones),
        cmocka_unit_test (lines_format_keeps_binary_bytes_and_a_last_line_without_newline),
        cmocka_unit_test (generate_makes_count_tasks_of_payload_size),
        cmocka_unit_test (generate_uses_the_given_payload),
        cmocka_unit_test (count_counts_tasks_not_lines),
        cmocka_unit_test (unusable_config_is_refused_with_a_message),
        cmocka_unit_test (a_payload_over_the_limit_is_an_error_naming_its_line),
        cmocka_unit_test (missing_file_or_directory_cannot_be_opened),
        cmocka_unit_test (regular_file_is_seekable_and_a_device_is_not),
        cmocka_unit_test (dash_reads_stdin_and_leaves_it_open),
        cmocka_unit_test (blocks_read_count_the_reads_of_input),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
