/*  Tests for results_writer, the end of a job's output: lines are written
    to a temporary file (mkstemp), read back, and parsed with jansson, a
    strict parser, which is the judge of valid JSON; then each field is
    checked. (The summary's tests are in test_summary.c.)
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "lease_table.h"
#include "results_writer.h"
#include "resume_set.h"
#include "tm_codec.h"
#include "tm_json.h"
#include <czmq.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define FFFD "\xef\xbf\xbd"

//  --- helpers -------------------------------------------------------------------

typedef struct {
    char path [64];
    lease_table_t *leases;
    results_writer_t *writer;
} s_rig_t;

//  An empty temporary file; removed by s_rig_destroy.
static void
s_temp_path (char *path, size_t size)
{
    snprintf (path, size, "/tmp/test_results_writer_XXXXXX");
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    close (fd);
}

static void
s_rig_new (s_rig_t *rig)
{
    s_temp_path (rig->path, sizeof rig->path);
    rig->leases = lease_table_new (64);
    rig->writer = results_writer_new (rig->path);
    assert_non_null (rig->writer);
}

static void
s_rig_destroy (s_rig_t *rig)
{
    results_writer_destroy (&rig->writer);
    assert_null (rig->writer);
    lease_table_destroy (&rig->leases);
    unlink (rig->path);
}

static lease_t *
s_lease (s_rig_t *rig, const char *id, const char *type)
{
    lease_t *lease = lease_table_issue (rig->leases, id, type, NULL, 0, 1000, 3, 0);
    assert_non_null (lease);
    return lease;
}

static tm_result_t
s_result (const lease_t *lease, tm_status_t status, const char *output)
{
    tm_result_t result = {
        .job_id = "job",
        .seq = lease->seq,
        .id = lease->id,
        .attempt = 1,
        .status = status,
        .output = (const uint8_t *) output,
        .output_size = output ? strlen (output) : 0,
        .error = "",
        .worker_id = "host/1234",
        .start_us = 100,
        .duration_us = 812,
        .exit_code = 0,
    };
    return result;
}

//  Reads the whole file; caller frees.
static char *
s_slurp (const char *path)
{
    FILE *file = fopen (path, "rb");
    assert_non_null (file);
    size_t capacity = 4096, size = 0;
    char *data = (char *) malloc (capacity);
    assert_non_null (data);
    size_t got;
    while ((got = fread (data + size, 1, capacity - size - 1, file)) > 0) {
        size += got;
        if (capacity - size < 2) {
            capacity *= 2;
            data = (char *) realloc (data, capacity);
            assert_non_null (data);
        }
    }
    fclose (file);
    data [size] = 0;
    return data;
}

//  Closes the writer (flushing it), and parses the file's lines: returns
//  an array of objects, one per line. Each line must be one JSON object.
static json_t *
s_read_lines (s_rig_t *rig)
{
    results_writer_destroy (&rig->writer);
    char *text = s_slurp (rig->path);
    json_t *lines = json_array ();
    char *line = text;
    while (*line) {
        char *end = strchr (line, '\n');
        if (!end)
            fail_msg ("last line has no newline: %s", line);
        *end = 0;
        json_error_t error;
        json_t *object = json_loads (line, 0, &error);
        if (!object)
            fail_msg ("invalid JSON (%s): %s", error.text, line);
        assert_true (json_is_object (object));
        json_array_append_new (lines, object);
        line = end + 1;
    }
    free (text);
    return lines;
}

//  Writes one result and returns its parsed line (caller decrefs).
static json_t *
s_write_one (const lease_t *lease, const tm_result_t *result, s_rig_t *rig)
{
    assert_int_equal (results_writer_write (rig->writer, lease, result), 0);
    json_t *lines = s_read_lines (rig);
    assert_int_equal (json_array_size (lines), 1);
    json_t *line = json_incref (json_array_get (lines, 0));
    json_decref (lines);
    return line;
}

static const char *
s_string (json_t *object, const char *key)
{
    json_t *value = json_object_get (object, key);
    if (!json_is_string (value))
        fail_msg ("\"%s\" is missing or not a string", key);
    return json_string_value (value);
}

static json_int_t
s_integer (json_t *object, const char *key)
{
    json_t *value = json_object_get (object, key);
    if (!json_is_integer (value))
        fail_msg ("\"%s\" is missing or not an integer", key);
    return json_integer_value (value);
}

//  --- results lines -----------------------------------------------------------

static void
ok_result_line_has_seq_id_type_status_attempts_worker_duration_output (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    s_lease (&rig, "first", "echo");
    lease_t *lease = s_lease (&rig, "a1", "sha256");
    tm_result_t result = s_result (lease, TM_STATUS_OK, "deadbeef");
    result.attempt = 2;
    json_t *line = s_write_one (lease, &result, &rig);

    assert_int_equal (s_integer (line, "seq"), 2);
    assert_string_equal (s_string (line, "id"), "a1");
    assert_string_equal (s_string (line, "type"), "sha256");
    assert_string_equal (s_string (line, "status"), "ok");
    assert_int_equal (s_integer (line, "attempts"), 2);
    assert_string_equal (s_string (line, "worker"), "host/1234");
    assert_int_equal (s_integer (line, "duration_us"), 812);
    assert_string_equal (s_string (line, "output"), "deadbeef");
    assert_null (json_object_get (line, "output_b64"));
    assert_null (json_object_get (line, "error"));
    assert_null (json_object_get (line, "exit_code"));
    json_decref (line);
    s_rig_destroy (&rig);
}

static void
ok_result_with_an_error_text_still_has_no_error_field (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    lease_t *lease = s_lease (&rig, "a", "echo");
    tm_result_t result = s_result (lease, TM_STATUS_OK, "x");
    result.error = "warning that should not be written";
    json_t *line = s_write_one (lease, &result, &rig);
    assert_null (json_object_get (line, "error"));
    json_decref (line);
    s_rig_destroy (&rig);
}

static void
failed_result_line_has_status_name_and_error (void **state)
{
    (void) state;
    const struct {
        tm_status_t status;
        const char *name;
    } cases [] = {
        { TM_STATUS_FAILED, "failed" },
        { TM_STATUS_TIMEOUT, "timeout" },
        { TM_STATUS_NO_HANDLER, "no_handler" },
        { TM_STATUS_REJECTED, "rejected" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        s_rig_t rig;
        s_rig_new (&rig);
        lease_t *lease = s_lease (&rig, "b2", "echo");
        tm_result_t result = s_result (lease, cases [i].status, NULL);
        result.error = "it broke";
        result.attempt = 3;
        json_t *line = s_write_one (lease, &result, &rig);
        assert_string_equal (s_string (line, "status"), cases [i].name);
        assert_string_equal (s_string (line, "error"), "it broke");
        assert_int_equal (s_integer (line, "attempts"), 3);
        assert_string_equal (s_string (line, "worker"), "host/1234");
        json_decref (line);
        s_rig_destroy (&rig);
    }
}

static void
failed_result_with_empty_error_still_has_error_field (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    lease_t *lease = s_lease (&rig, "c", "echo");
    tm_result_t result = s_result (lease, TM_STATUS_FAILED, NULL);
    json_t *line = s_write_one (lease, &result, &rig);
    assert_string_equal (s_string (line, "error"), "");
    json_decref (line);
    s_rig_destroy (&rig);
}

static void
binary_output_is_written_as_output_b64 (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    lease_t *lease = s_lease (&rig, "bin", "echo");
    const uint8_t bytes [] = { 0x00, 0xff, 0x10, 'a', 0xc3 };
    tm_result_t result = s_result (lease, TM_STATUS_OK, NULL);
    result.output = bytes;
    result.output_size = sizeof bytes;
    json_t *line = s_write_one (lease, &result, &rig);
    assert_string_equal (s_string (line, "output_b64"), "AP8QYcM=");
    assert_null (json_object_get (line, "output"));
    json_decref (line);
    s_rig_destroy (&rig);
}

static void
output_with_a_nul_byte_is_written_as_output_b64 (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    lease_t *lease = s_lease (&rig, "nul", "echo");
    tm_result_t result = s_result (lease, TM_STATUS_OK, NULL);
    result.output = (const uint8_t *) "ab\0cd";
    result.output_size = 5;
    json_t *line = s_write_one (lease, &result, &rig);
    assert_string_equal (s_string (line, "output_b64"), "YWIAY2Q=");
    assert_null (json_object_get (line, "output"));
    json_decref (line);
    s_rig_destroy (&rig);
}

static void
valid_utf8_output_is_written_as_text (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    lease_t *lease = s_lease (&rig, "utf8", "echo");
    const char *text = "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80";
    tm_result_t result = s_result (lease, TM_STATUS_OK, text);
    json_t *line = s_write_one (lease, &result, &rig);
    assert_string_equal (s_string (line, "output"), text);
    assert_null (json_object_get (line, "output_b64"));
    json_decref (line);
    s_rig_destroy (&rig);
}

static void
exec_result_has_exit_code_even_when_zero (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    lease_t *ok = s_lease (&rig, "e1", "exec");
    lease_t *bad = s_lease (&rig, "e2", "exec");
    tm_result_t ok_result = s_result (ok, TM_STATUS_OK, "out\n");
    tm_result_t bad_result = s_result (bad, TM_STATUS_FAILED, "");
    bad_result.exit_code = 3;
    bad_result.error = "exit status 3";
    assert_int_equal (results_writer_write (rig.writer, ok, &ok_result), 0);
    assert_int_equal (results_writer_write (rig.writer, bad, &bad_result), 0);
    json_t *lines = s_read_lines (&rig);
    assert_int_equal (json_array_size (lines), 2);
    json_t *first = json_array_get (lines, 0);
    json_t *second = json_array_get (lines, 1);
    assert_int_equal (s_integer (first, "exit_code"), 0);
    assert_string_equal (s_string (first, "output"), "out\n");
    assert_null (json_object_get (first, "error"));
    assert_int_equal (s_integer (second, "exit_code"), 3);
    assert_string_equal (s_string (second, "error"), "exit status 3");
    assert_string_equal (s_string (second, "status"), "failed");
    json_decref (lines);
    s_rig_destroy (&rig);
}

static void
status_line_without_result_has_attempts_of_lease_and_error (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    lease_t *lease = s_lease (&rig, "lost", "sha256");
    lease->attempt = 3;
    assert_int_equal (results_writer_write_status (rig.writer, lease, TM_STATUS_TIMEOUT,
                                                   "lease expired: no result"), 0);
    json_t *lines = s_read_lines (&rig);
    assert_int_equal (json_array_size (lines), 1);
    json_t *line = json_array_get (lines, 0);
    assert_int_equal (s_integer (line, "seq"), 1);
    assert_string_equal (s_string (line, "id"), "lost");
    assert_string_equal (s_string (line, "type"), "sha256");
    assert_string_equal (s_string (line, "status"), "timeout");
    assert_int_equal (s_integer (line, "attempts"), 3);
    assert_string_equal (s_string (line, "error"), "lease expired: no result");
    assert_null (json_object_get (line, "output"));
    json_decref (lines);
    s_rig_destroy (&rig);
}

static void
quotes_newlines_and_control_chars_are_escaped (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    const char *nasty = "say \"hi\"\\ \n\r\t\x01\x1f\b\f end";
    lease_t *lease = s_lease (&rig, nasty, "echo");
    tm_result_t result = s_result (lease, TM_STATUS_FAILED, nasty);
    result.error = nasty;
    result.worker_id = "host\n\"w\"";
    assert_int_equal (results_writer_write (rig.writer, lease, &result), 0);
    //  A second line proves the first did not spill over lines.
    lease_t *plain = s_lease (&rig, "plain", "echo");
    tm_result_t plain_result = s_result (plain, TM_STATUS_OK, "fine");
    assert_int_equal (results_writer_write (rig.writer, plain, &plain_result), 0);

    json_t *lines = s_read_lines (&rig);
    assert_int_equal (json_array_size (lines), 2);
    json_t *line = json_array_get (lines, 0);
    assert_string_equal (s_string (line, "id"), nasty);
    assert_string_equal (s_string (line, "output"), nasty);
    assert_string_equal (s_string (line, "error"), nasty);
    assert_string_equal (s_string (line, "worker"), "host\n\"w\"");
    assert_string_equal (s_string (json_array_get (lines, 1), "id"), "plain");
    json_decref (lines);
    s_rig_destroy (&rig);
}

static void
invalid_utf8_in_id_still_yields_valid_json (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    lease_t *lease = s_lease (&rig, "bad\xff\xfeid\xc3", "ty\x80pe");
    tm_result_t result = s_result (lease, TM_STATUS_FAILED, NULL);
    result.error = "oops \xc0\xaf";
    json_t *line = s_write_one (lease, &result, &rig);
    //  s_write_one has already parsed the line with jansson, which rejects
    //  invalid UTF-8; the bad bytes became U+FFFD.
    assert_string_equal (s_string (line, "id"), "bad" FFFD FFFD "id" FFFD);
    assert_string_equal (s_string (line, "type"), "ty" FFFD "pe");
    const char *error = s_string (line, "error");
    assert_true (strncmp (error, "oops ", 5) == 0);
    assert_non_null (strstr (error, FFFD));
    json_decref (line);
    s_rig_destroy (&rig);
}

static void
lines_are_appended_in_write_order_one_per_result (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    for (int i = 0; i < 1000; i++) {
        char id [16];
        snprintf (id, sizeof id, "id-%d", i);
        lease_t *lease = s_lease (&rig, id, "echo");
        tm_result_t result = s_result (lease, TM_STATUS_OK, id);
        assert_int_equal (results_writer_write (rig.writer, lease, &result), 0);
        lease_table_finish (rig.leases, lease->seq);
    }
    json_t *lines = s_read_lines (&rig);
    assert_int_equal (json_array_size (lines), 1000);
    for (size_t i = 0; i < 1000; i++) {
        json_t *line = json_array_get (lines, i);
        assert_int_equal (s_integer (line, "seq"), i + 1);
        char id [16];
        snprintf (id, sizeof id, "id-%zu", i);
        assert_string_equal (s_string (line, "id"), id);
        assert_string_equal (s_string (line, "output"), id);
    }
    json_decref (lines);
    s_rig_destroy (&rig);
}

static void
flush_makes_written_lines_visible_in_the_file (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    lease_t *lease = s_lease (&rig, "f", "echo");
    tm_result_t result = s_result (lease, TM_STATUS_OK, "out");
    assert_int_equal (results_writer_write (rig.writer, lease, &result), 0);
    assert_int_equal (results_writer_flush (rig.writer, true), 0);
    char *text = s_slurp (rig.path);
    assert_non_null (strstr (text, "\"id\":\"f\""));
    assert_int_equal (text [strlen (text) - 1], '\n');
    free (text);
    //  A flush with nothing new is harmless.
    assert_int_equal (results_writer_flush (rig.writer, true), 0);
    s_rig_destroy (&rig);
}

static void
opening_an_existing_file_appends_to_it (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    lease_t *first = s_lease (&rig, "one", "echo");
    tm_result_t result = s_result (first, TM_STATUS_OK, "1");
    assert_int_equal (results_writer_write (rig.writer, first, &result), 0);
    results_writer_destroy (&rig.writer);

    rig.writer = results_writer_new (rig.path);
    assert_non_null (rig.writer);
    lease_t *second = s_lease (&rig, "two", "echo");
    result = s_result (second, TM_STATUS_OK, "2");
    assert_int_equal (results_writer_write (rig.writer, second, &result), 0);
    json_t *lines = s_read_lines (&rig);
    assert_int_equal (json_array_size (lines), 2);
    assert_string_equal (s_string (json_array_get (lines, 0), "id"), "one");
    assert_string_equal (s_string (json_array_get (lines, 1), "id"), "two");
    json_decref (lines);
    s_rig_destroy (&rig);
}

static void
writer_for_an_unopenable_path_is_null (void **state)
{
    (void) state;
    assert_null (results_writer_new ("/nonexistent-taskmill-dir/results.jsonl"));
}

//  --- exact bytes ---------------------------------------------------------------
//  The results file is an interface: scripts grep it and --resume reads it
//  back. These cases pin every byte, including the number edges where a
//  hand-written formatter could go wrong (0, the type maxima, INT_MIN).

//  Writes lines through the writer, then compares the whole file with expected.
static void
s_assert_file_is (s_rig_t *rig, const char *expected)
{
    results_writer_destroy (&rig->writer);
    char *text = s_slurp (rig->path);
    assert_string_equal (text, expected);
    free (text);
}

static void
noop_line_is_byte_exact (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    lease_t *lease = s_lease (&rig, "1", "noop");
    tm_result_t result = s_result (lease, TM_STATUS_OK, NULL);
    result.duration_us = 0;
    assert_int_equal (results_writer_write (rig.writer, lease, &result), 0);
    s_assert_file_is (&rig,
        "{\"seq\":1,\"id\":\"1\",\"type\":\"noop\",\"status\":\"ok\",\"attempts\":1,"
        "\"worker\":\"host/1234\",\"duration_us\":0}\n");
    s_rig_destroy (&rig);
}

static void
number_edges_are_written_exactly (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    //  A lease of our own: the table hands out seqs from 1.
    lease_t lease = { .seq = UINT64_MAX, .id = "", .type = "exec", .attempt = UINT32_MAX };
    const struct {
        uint64_t seq;
        uint32_t attempt;
        int64_t duration_us;
        int32_t exit_code;
    } cases [] = {
        { UINT64_MAX, UINT32_MAX, INT64_MAX, INT32_MAX },
        { 0, 0, 0, 0 },
        { 10, 10, 10, -1 },
        { 9999999999999999999u, 4294967295u, -1, INT32_MIN },
        { 10000000000000000000u, 1, INT64_MIN, -9 },
        { 18446744073709551614u, 2, 999999999999999999, 1000000000 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        lease.seq = cases [i].seq;
        tm_result_t result = s_result (&lease, TM_STATUS_FAILED, NULL);
        result.attempt = cases [i].attempt;
        result.duration_us = cases [i].duration_us;
        result.exit_code = cases [i].exit_code;
        result.error = "e";
        assert_int_equal (results_writer_write (rig.writer, &lease, &result), 0);
    }
    lease.seq = 18446744073709551615u;
    assert_int_equal (results_writer_write_status (rig.writer, &lease, TM_STATUS_TIMEOUT, ""), 0);
    s_assert_file_is (&rig,
        "{\"seq\":18446744073709551615,\"id\":\"\",\"type\":\"exec\",\"status\":\"failed\","
        "\"attempts\":4294967295,\"worker\":\"host/1234\",\"duration_us\":9223372036854775807,"
        "\"exit_code\":2147483647,\"error\":\"e\"}\n"
        "{\"seq\":0,\"id\":\"\",\"type\":\"exec\",\"status\":\"failed\",\"attempts\":0,"
        "\"worker\":\"host/1234\",\"duration_us\":0,\"exit_code\":0,\"error\":\"e\"}\n"
        "{\"seq\":10,\"id\":\"\",\"type\":\"exec\",\"status\":\"failed\",\"attempts\":10,"
        "\"worker\":\"host/1234\",\"duration_us\":10,\"exit_code\":-1,\"error\":\"e\"}\n"
        "{\"seq\":9999999999999999999,\"id\":\"\",\"type\":\"exec\",\"status\":\"failed\","
        "\"attempts\":4294967295,\"worker\":\"host/1234\",\"duration_us\":-1,"
        "\"exit_code\":-2147483648,\"error\":\"e\"}\n"
        "{\"seq\":10000000000000000000,\"id\":\"\",\"type\":\"exec\",\"status\":\"failed\","
        "\"attempts\":1,\"worker\":\"host/1234\",\"duration_us\":-9223372036854775808,"
        "\"exit_code\":-9,\"error\":\"e\"}\n"
        "{\"seq\":18446744073709551614,\"id\":\"\",\"type\":\"exec\",\"status\":\"failed\","
        "\"attempts\":2,\"worker\":\"host/1234\",\"duration_us\":999999999999999999,"
        "\"exit_code\":1000000000,\"error\":\"e\"}\n"
        "{\"seq\":18446744073709551615,\"id\":\"\",\"type\":\"exec\",\"status\":\"timeout\","
        "\"attempts\":4294967295,\"error\":\"\"}\n");
    s_rig_destroy (&rig);
}

static void
negative_exit_code_of_a_non_exec_task_is_written (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    lease_t *lease = s_lease (&rig, "k", "sleep");
    tm_result_t result = s_result (lease, TM_STATUS_FAILED, NULL);
    result.exit_code = -15;
    result.error = "killed";
    assert_int_equal (results_writer_write (rig.writer, lease, &result), 0);
    s_assert_file_is (&rig,
        "{\"seq\":1,\"id\":\"k\",\"type\":\"sleep\",\"status\":\"failed\",\"attempts\":1,"
        "\"worker\":\"host/1234\",\"duration_us\":812,\"exit_code\":-15,\"error\":\"killed\"}\n");
    s_rig_destroy (&rig);
}

static void
every_status_name_and_escape_is_byte_exact (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    lease_t *lease = s_lease (&rig, "q\"\\/\x7f", "echo");
    tm_result_t result = s_result (lease, TM_STATUS_NO_HANDLER, "a\x01\x1f\b\f\n\r\t\"\\b");
    result.error = "\xff" "e\xc3\xa9";
    result.worker_id = "w\x10";
    assert_int_equal (results_writer_write (rig.writer, lease, &result), 0);
    result.status = TM_STATUS_REJECTED;
    result.output = (const uint8_t *) "\x00\xff";
    result.output_size = 2;
    result.error = "";
    assert_int_equal (results_writer_write (rig.writer, lease, &result), 0);
    assert_int_equal (results_writer_write_status (rig.writer, lease, TM_STATUS_FAILED,
                                                   "no \"worker\""), 0);
    result.status = TM_STATUS_OK;
    result.output_size = 0;
    assert_int_equal (results_writer_write (rig.writer, lease, &result), 0);
    s_assert_file_is (&rig,
        "{\"seq\":1,\"id\":\"q\\\"\\\\/\x7f\",\"type\":\"echo\",\"status\":\"no_handler\","
        "\"attempts\":1,\"worker\":\"w\\u0010\",\"duration_us\":812,"
        "\"output\":\"a\\u0001\\u001f\\u0008\\u000c\\n\\r\\t\\\"\\\\b\","
        "\"error\":\"" FFFD "e\xc3\xa9\"}\n"
        "{\"seq\":1,\"id\":\"q\\\"\\\\/\x7f\",\"type\":\"echo\",\"status\":\"rejected\","
        "\"attempts\":1,\"worker\":\"w\\u0010\",\"duration_us\":812,"
        "\"output_b64\":\"AP8=\",\"error\":\"\"}\n"
        "{\"seq\":1,\"id\":\"q\\\"\\\\/\x7f\",\"type\":\"echo\",\"status\":\"failed\","
        "\"attempts\":1,\"error\":\"no \\\"worker\\\"\"}\n"
        "{\"seq\":1,\"id\":\"q\\\"\\\\/\x7f\",\"type\":\"echo\",\"status\":\"ok\","
        "\"attempts\":1,\"worker\":\"w\\u0010\",\"duration_us\":812}\n");
    s_rig_destroy (&rig);
}

static void
line_longer_than_the_buffer_is_written_whole (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    //  3 MiB of '\x01' escape to 18 MiB: well past the 1 MiB buffer.
    size_t size = 3 * 1024 * 1024;
    char *output = (char *) malloc (size + 1);
    assert_non_null (output);
    memset (output, 1, size);
    output [size] = 0;
    lease_t *lease = s_lease (&rig, "big", "echo");
    tm_result_t before = s_result (lease, TM_STATUS_OK, "x");
    assert_int_equal (results_writer_write (rig.writer, lease, &before), 0);
    tm_result_t result = s_result (lease, TM_STATUS_OK, output);
    assert_int_equal (results_writer_write (rig.writer, lease, &result), 0);
    assert_int_equal (results_writer_write (rig.writer, lease, &before), 0);
    free (output);
    results_writer_destroy (&rig.writer);
    char *text = s_slurp (rig.path);
    const char *small = "{\"seq\":1,\"id\":\"big\",\"type\":\"echo\",\"status\":\"ok\",\"attempts\":1,"
                        "\"worker\":\"host/1234\",\"duration_us\":812,\"output\":\"x\"}\n";
    size_t small_size = strlen (small);
    const char *head = "{\"seq\":1,\"id\":\"big\",\"type\":\"echo\",\"status\":\"ok\",\"attempts\":1,"
                       "\"worker\":\"host/1234\",\"duration_us\":812,\"output\":\"";
    size_t head_size = strlen (head);
    assert_int_equal (strlen (text), 2 * small_size + head_size + 6 * size + 3);
    assert_memory_equal (text, small, small_size);
    assert_memory_equal (text + small_size, head, head_size);
    for (size_t i = 0; i < size; i += 4099)
        assert_memory_equal (text + small_size + head_size + 6 * i, "\\u0001", 6);
    assert_memory_equal (text + small_size + head_size + 6 * size, "\"}\n", 3);
    assert_string_equal (text + small_size + head_size + 6 * size + 3, small);
    free (text);
    s_rig_destroy (&rig);
}

static void
lines_past_the_buffer_size_come_out_whole_and_in_order (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    //  About 4 MB: the buffer is written out several times before the flush.
    char output [201];
    memset (output, 'o', 200);
    output [200] = 0;
    size_t count = 20000;
    for (size_t i = 0; i < count; i++) {
        lease_t *lease = s_lease (&rig, "x", "echo");
        tm_result_t result = s_result (lease, TM_STATUS_OK, output);
        assert_int_equal (results_writer_write (rig.writer, lease, &result), 0);
        lease_table_finish (rig.leases, lease->seq);
    }
    json_t *lines = s_read_lines (&rig);
    assert_int_equal (json_array_size (lines), count);
    for (size_t i = 0; i < count; i++) {
        json_t *line = json_array_get (lines, i);
        assert_int_equal (s_integer (line, "seq"), i + 1);
        assert_string_equal (s_string (line, "output"), output);
    }
    json_decref (lines);
    s_rig_destroy (&rig);
}

static void
a_full_device_fails_the_flush_every_time (void **state)
{
    (void) state;
    results_writer_t *writer = results_writer_new ("/dev/full");
    if (!writer)
        skip ();
    lease_t lease = { .seq = 1, .id = "a", .type = "echo", .attempt = 1 };
    for (int round = 0; round < 2; round++) {
        assert_int_equal (results_writer_write_status (writer, &lease, TM_STATUS_FAILED, "e"), 0);
        errno = 0;
        assert_int_equal (results_writer_flush (writer, true), -1);
        assert_int_equal (errno, ENOSPC);
    }
    results_writer_destroy (&writer);
    assert_null (writer);
}

//  --- write errors --------------------------------------------------------------
//  A disk of our own through the writer's ops: real writes to the rig's
//  file until its free space runs out, then the error the test chose; a
//  clock the test moves. Whatever happens, the file must hold whole lines
//  only, each result once, in order, and --resume must accept it.

typedef struct {
    size_t free_bytes;      //  what writes may still take; SIZE_MAX: no limit
    int error;              //  errno of a write once full
    int interrupts;         //  writes to fail with EINTR first
    int truncate_error;     //  0, or errno ftruncate fails with
    int sync_error;         //  0, or errno fdatasync fails with
    int64_t now_us;         //  the writer's clock
    size_t writes;          //  write calls made
    size_t writevs;         //  of them, writev calls
    bool capture;           //  keep the bytes in captured (a pipe's reader), not the fd
    tm_json_buf_t captured;
} s_disk_t;

static ssize_t
s_disk_write (void *ctx, int fd, const void *data, size_t size)
{
    s_disk_t *disk = (s_disk_t *) ctx;
    disk->writes++;
    if (disk->interrupts > 0) {
        disk->interrupts--;
        errno = EINTR;
        return -1;
    }
    if (disk->free_bytes == 0) {
        errno = disk->error;
        return -1;
    }
    if (size > disk->free_bytes)
        size = disk->free_bytes;
    ssize_t written = (ssize_t) size;
    if (disk->capture)
        tm_json_buf_append (&disk->captured, (const char *) data, size);
    else
        written = write (fd, data, size);
    if (written > 0 && disk->free_bytes != SIZE_MAX)
        disk->free_bytes -= (size_t) written;
    return written;
}

static off_t
s_disk_lseek (void *ctx, int fd, off_t offset, int whence)
{
    (void) ctx;
    return lseek (fd, offset, whence);
}

static int
s_disk_ftruncate (void *ctx, int fd, off_t size)
{
    s_disk_t *disk = (s_disk_t *) ctx;
    if (disk->truncate_error) {
        errno = disk->truncate_error;
        return -1;
    }
    return ftruncate (fd, size);
}

static int
s_disk_fdatasync (void *ctx, int fd)
{
    s_disk_t *disk = (s_disk_t *) ctx;
    if (disk->sync_error) {
        errno = disk->sync_error;
        return -1;
    }
    return fdatasync (fd);
}

static int64_t
s_disk_now_us (void *ctx)
{
    return ((s_disk_t *) ctx)->now_us;
}

static void
s_disk_attach (s_disk_t *disk, results_writer_t *writer)
{
    *disk = (s_disk_t) { .free_bytes = SIZE_MAX, .error = ENOSPC };
    tm_json_buf_init (&disk->captured);
    results_writer_ops_t ops = {
        .write = s_disk_write,
        .lseek = s_disk_lseek,
        .ftruncate = s_disk_ftruncate,
        .fdatasync = s_disk_fdatasync,
        .now_us = s_disk_now_us,
        .ctx = disk,
    };
    results_writer_set_ops (writer, &ops);
}

//  Writes results seq first..last (ids of one width, so s_line_bytes
//  knows each line's length). Returns how many writes returned -1.
static int
s_write_seqs (s_rig_t *rig, int first, int last)
{
    int failed = 0;
    for (int seq = first; seq <= last; seq++) {
        char id [16];
        snprintf (id, sizeof id, "id-%05d", seq);
        lease_t *lease = s_lease (rig, id, "echo");
        assert_int_equal (lease->seq, seq);
        tm_result_t result = s_result (lease, TM_STATUS_OK, id);
        failed += results_writer_write (rig->writer, lease, &result) == -1;
        lease_table_finish (rig->leases, lease->seq);
    }
    return failed;
}

//  Bytes of the line that s_write_seqs writes for seq.
static size_t
s_line_bytes (int seq)
{
    char digits [16];
    return strlen ("{\"seq\":,\"id\":\"id-00001\",\"type\":\"echo\",\"status\":\"ok\","
                   "\"attempts\":1,\"worker\":\"host/1234\",\"duration_us\":812,"
                   "\"output\":\"id-00001\"}\n")
         + (size_t) snprintf (digits, sizeof digits, "%d", seq);
}

//  Checks that text is whole JSON lines, each with the next seq from 1;
//  returns how many. Works on an open writer's file.
static size_t
s_assert_whole_lines_in_order (const char *text)
{
    size_t count = 0;
    const char *line = text;
    while (*line) {
        const char *end = strchr (line, '\n');
        if (!end)
            fail_msg ("line %zu is torn: %s", count + 1, line);
        json_error_t error;
        json_t *object = json_loadb (line, (size_t) (end - line), 0, &error);
        if (!object)
            fail_msg ("line %zu is not JSON (%s)", count + 1, error.text);
        count++;
        assert_int_equal (s_integer (object, "seq"), count);
        json_decref (object);
        line = end + 1;
    }
    return count;
}

static size_t
s_file_lines (const char *path)
{
    char *text = s_slurp (path);
    size_t count = s_assert_whole_lines_in_order (text);
    free (text);
    return count;
}

//  What --resume reads from the file; checks it accepts the file as is.
static uint64_t
s_resume_count (const char *path)
{
    char *before = s_slurp (path);
    char error [256] = "";
    resume_set_t *set = resume_set_load (path, error, sizeof error);
    if (!set)
        fail_msg ("--resume refuses the file: %s", error);
    uint64_t count = resume_set_count (set);
    resume_set_destroy (&set);
    char *after = s_slurp (path);
    assert_string_equal (after, before);    //  nothing torn left to cut
    free (before);
    free (after);
    return count;
}

//  writev as the disk takes it: the pieces one after another, cut where
//  the disk's room ends, through s_disk_write.
static ssize_t
s_disk_writev (void *ctx, int fd, const struct iovec *iov, int count)
{
    size_t total = 0;
    for (int i = 0; i < count; i++)
        total += iov [i].iov_len;
    char *joined = (char *) malloc (total + 1);
    assert_non_null (joined);
    for (int i = 0, at = 0; i < count; at += (int) iov [i].iov_len, i++)
        memcpy (joined + at, iov [i].iov_base, iov [i].iov_len);
    ((s_disk_t *) ctx)->writevs++;
    ssize_t written = s_disk_write (ctx, fd, joined, total);
    free (joined);
    return written;
}

static void
s_disk_attach_writev (s_disk_t *disk, results_writer_t *writer)
{
    s_disk_attach (disk, writer);
    results_writer_ops_t ops = {
        .write = s_disk_write, .lseek = s_disk_lseek, .ftruncate = s_disk_ftruncate,
        .fdatasync = s_disk_fdatasync, .now_us = s_disk_now_us, .ctx = disk,
        .writev = s_disk_writev,
    };
    results_writer_set_ops (writer, &ops);
}

//  Writes results seq first..last, each seq divisible by 3 with an output
//  of 100 kB (past the size that goes out by writev), every fifth failed.
static void
s_write_large_seqs (s_rig_t *rig, int first, int last, const char *large)
{
    for (int seq = first; seq <= last; seq++) {
        char id [16];
        snprintf (id, sizeof id, "id-%05d", seq);
        lease_t *lease = s_lease (rig, id, "echo");
        tm_result_t result = s_result (lease, seq % 5 ? TM_STATUS_OK : TM_STATUS_FAILED,
                                       seq % 3 ? id : large);
        result.error = "it \"failed\"";
        if (seq % 7 == 0)
            result.output_form = TM_JSON_PLAIN;     //  as the sink says it
        results_writer_write (rig->writer, lease, &result);
        lease_table_finish (rig->leases, lease->seq);
    }
}

static char *
s_large_output (void)
{
    size_t size = 100 * 1000;
    char *large = (char *) malloc (size + 1);
    assert_non_null (large);
    for (size_t at = 0; at < size; at++)
        large [at] = (char) ('a' + at % 26);
    large [size] = 0;
    return large;
}

static void
large_plain_output_goes_out_by_writev_as_the_same_line (void **state)
{
    (void) state;
    char *large = s_large_output ();
    //  The same results through a writer that copies and one that writevs.
    s_rig_t copied, around;
    s_rig_new (&copied);
    s_rig_new (&around);
    s_disk_t copied_disk, around_disk;
    s_disk_attach (&copied_disk, copied.writer);
    s_disk_attach_writev (&around_disk, around.writer);
    s_write_large_seqs (&copied, 1, 30, large);
    s_write_large_seqs (&around, 1, 30, large);
    assert_int_equal (results_writer_flush (copied.writer, true), 0);
    assert_int_equal (results_writer_flush (around.writer, true), 0);
    char *expected = s_slurp (copied.path), *text = s_slurp (around.path);
    assert_int_equal (s_assert_whole_lines_in_order (text), 30);
    assert_string_equal (text, expected);
    //  Ten lines went out by writev, each with what was buffered before it.
    assert_int_equal (around_disk.writevs, 10);
    assert_int_equal (around_disk.writes, 10);  //  seq 30 was the last, by writev
    assert_int_equal (copied_disk.writevs, 0);
    free (expected);
    free (text);
    tm_json_buf_fini (&copied_disk.captured);
    tm_json_buf_fini (&around_disk.captured);
    s_rig_destroy (&copied);
    s_rig_destroy (&around);
    free (large);
}

static void
writev_cut_short_or_refused_loses_no_line_and_tears_none (void **state)
{
    (void) state;
    char *large = s_large_output ();
    s_rig_t rig;
    s_rig_new (&rig);
    s_disk_t disk;
    s_disk_attach_writev (&disk, rig.writer);
    s_write_large_seqs (&rig, 1, 2, large);
    //  Room runs out inside the large output of seq 3.
    disk.free_bytes = 5000;
    disk.interrupts = 1;
    s_write_large_seqs (&rig, 3, 3, large);
    assert_int_equal (results_writer_state (rig.writer), RESULTS_WRITER_RETRYING);
    assert_int_equal (s_file_lines (rig.path), 2);
    s_write_large_seqs (&rig, 4, 9, large);      //  held: copied, not writev'd
    assert_int_equal (s_file_lines (rig.path), 2);
    //  Room for a bit more: still only whole lines.
    disk.free_bytes = 150 * 1000;
    assert_int_equal (results_writer_flush (rig.writer, false), -1);
    size_t lines = s_file_lines (rig.path);
    assert_true (lines > 2 && lines < 9);
    disk.free_bytes = SIZE_MAX;
    assert_int_equal (results_writer_flush (rig.writer, true), 0);
    assert_int_equal (results_writer_state (rig.writer), RESULTS_WRITER_OK);
    //  A short writev with the disk not full: the rest follows at once.
    disk.free_bytes = 70 * 1000;
    s_write_large_seqs (&rig, 10, 12, large);
    disk.free_bytes = SIZE_MAX;
    assert_int_equal (results_writer_flush (rig.writer, true), 0);
    assert_int_equal (s_file_lines (rig.path), 12);
    assert_int_equal (s_resume_count (rig.path), 12);
    tm_json_buf_fini (&disk.captured);
    s_rig_destroy (&rig);
    free (large);
}

static void
a_disk_full_for_a_while_loses_no_line_and_tears_none (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    s_disk_t disk;
    s_disk_attach (&disk, rig.writer);
    assert_int_equal (s_write_seqs (&rig, 1, 10), 0);
    assert_int_equal (results_writer_flush (rig.writer, true), 0);
    assert_int_equal (s_file_lines (rig.path), 10);

    //  Room for one and a half lines: the half is cut off again.
    disk.free_bytes = s_line_bytes (11) + s_line_bytes (12) / 2;
    disk.interrupts = 1;
    assert_int_equal (s_write_seqs (&rig, 11, 20), 0);
    errno = 0;
    assert_int_equal (results_writer_flush (rig.writer, false), -1);
    assert_int_equal (errno, ENOSPC);
    assert_int_equal (results_writer_state (rig.writer), RESULTS_WRITER_RETRYING);
    assert_int_equal (s_file_lines (rig.path), 11);

    //  Still full: results go on being held, and the file stays whole.
    disk.now_us += 10 * 1000000;
    assert_int_equal (s_write_seqs (&rig, 21, 30), 0);
    assert_int_equal (results_writer_flush (rig.writer, true), -1);
    assert_int_equal (results_writer_state (rig.writer), RESULTS_WRITER_RETRYING);
    assert_int_equal (s_file_lines (rig.path), 11);

    //  A little space: some lines go, still no half line stays.
    disk.now_us += 10 * 1000000;
    disk.free_bytes = s_line_bytes (12) + s_line_bytes (13) + 7;
    assert_int_equal (results_writer_flush (rig.writer, false), -1);
    assert_int_equal (s_file_lines (rig.path), 13);

    //  Free again within the retry limit: everything held goes out.
    disk.now_us += 9 * 1000000;
    disk.free_bytes = SIZE_MAX;
    assert_int_equal (results_writer_flush (rig.writer, true), 0);
    assert_int_equal (results_writer_state (rig.writer), RESULTS_WRITER_OK);
    assert_int_equal (s_file_lines (rig.path), 30);
    assert_int_equal (s_write_seqs (&rig, 31, 40), 0);
    json_t *lines = s_read_lines (&rig);
    assert_int_equal (json_array_size (lines), 40);
    json_decref (lines);
    assert_int_equal (s_file_lines (rig.path), 40);
    assert_int_equal (s_resume_count (rig.path), 40);
    tm_json_buf_fini (&disk.captured);
    s_rig_destroy (&rig);
}

static void
a_disk_full_past_the_retry_limit_is_fatal_and_resume_accepts_the_file (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    s_disk_t disk;
    s_disk_attach (&disk, rig.writer);
    assert_int_equal (s_write_seqs (&rig, 1, 5), 0);
    assert_int_equal (results_writer_flush (rig.writer, true), 0);

    disk.free_bytes = s_line_bytes (6) + s_line_bytes (7) + s_line_bytes (8) / 2;
    assert_int_equal (s_write_seqs (&rig, 6, 10), 0);
    assert_int_equal (results_writer_flush (rig.writer, true), -1);
    assert_int_equal (results_writer_state (rig.writer), RESULTS_WRITER_RETRYING);
    disk.now_us = RESULTS_WRITER_RETRY_MS * 1000 - 1;
    assert_int_equal (results_writer_flush (rig.writer, true), -1);
    assert_int_equal (results_writer_state (rig.writer), RESULTS_WRITER_RETRYING);
    disk.now_us = RESULTS_WRITER_RETRY_MS * 1000;
    errno = 0;
    assert_int_equal (results_writer_flush (rig.writer, true), -1);
    assert_int_equal (errno, ENOSPC);
    assert_int_equal (results_writer_state (rig.writer), RESULTS_WRITER_FAILED);

    //  Fatal is final: space coming back changes nothing, and later
    //  results are refused, not written after the end.
    disk.free_bytes = SIZE_MAX;
    size_t writes = disk.writes;
    errno = 0;
    assert_int_equal (s_write_seqs (&rig, 11, 12), 2);
    assert_int_equal (errno, ENOSPC);
    assert_int_equal (results_writer_flush (rig.writer, true), -1);
    assert_int_equal (disk.writes, writes);
    results_writer_destroy (&rig.writer);
    assert_int_equal (s_file_lines (rig.path), 7);
    assert_int_equal (s_resume_count (rig.path), 7);
    tm_json_buf_fini (&disk.captured);
    s_rig_destroy (&rig);
}

static void
eio_is_fatal_at_once_and_the_file_ends_at_a_whole_line (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    s_disk_t disk;
    s_disk_attach (&disk, rig.writer);
    assert_int_equal (s_write_seqs (&rig, 1, 3), 0);
    assert_int_equal (results_writer_flush (rig.writer, false), 0);
    disk.free_bytes = s_line_bytes (4) + 10;
    disk.error = EIO;
    assert_int_equal (s_write_seqs (&rig, 4, 6), 0);
    errno = 0;
    assert_int_equal (results_writer_flush (rig.writer, false), -1);
    assert_int_equal (errno, EIO);
    assert_int_equal (results_writer_state (rig.writer), RESULTS_WRITER_FAILED);
    assert_int_equal (s_write_seqs (&rig, 7, 7), 1);
    results_writer_destroy (&rig.writer);
    assert_int_equal (s_file_lines (rig.path), 4);
    assert_int_equal (s_resume_count (rig.path), 4);
    tm_json_buf_fini (&disk.captured);
    s_rig_destroy (&rig);
}

static void
a_reader_gone_from_a_pipe_is_fatal_at_once (void **state)
{
    (void) state;
    signal (SIGPIPE, SIG_IGN);
    int pipe_fds [2];
    assert_int_equal (pipe (pipe_fds), 0);
    char path [64];
    snprintf (path, sizeof path, "/proc/self/fd/%d", pipe_fds [1]);
    results_writer_t *writer = results_writer_new (path);
    close (pipe_fds [0]);
    close (pipe_fds [1]);
    if (!writer)
        skip ();
    lease_t lease = { .seq = 1, .id = "a", .type = "echo", .attempt = 1 };
    assert_int_equal (results_writer_write_status (writer, &lease, TM_STATUS_FAILED, "e"), 0);
    errno = 0;
    assert_int_equal (results_writer_flush (writer, false), -1);
    assert_int_equal (errno, EPIPE);
    assert_int_equal (results_writer_state (writer), RESULTS_WRITER_FAILED);
    results_writer_destroy (&writer);
}

static void
a_failed_fdatasync_fails_the_final_flush (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    s_disk_t disk;
    s_disk_attach (&disk, rig.writer);
    assert_int_equal (s_write_seqs (&rig, 1, 2), 0);
    assert_int_equal (results_writer_flush (rig.writer, false), 0);
    disk.sync_error = EIO;
    errno = 0;
    assert_int_equal (results_writer_flush (rig.writer, true), -1);
    assert_int_equal (errno, EIO);
    assert_int_equal (results_writer_state (rig.writer), RESULTS_WRITER_FAILED);
    //  Not tried again: a second fdatasync could succeed with the data lost.
    assert_int_equal (results_writer_flush (rig.writer, true), -1);
    assert_int_equal (s_write_seqs (&rig, 3, 3), 1);
    results_writer_destroy (&rig.writer);
    assert_int_equal (s_file_lines (rig.path), 2);
    tm_json_buf_fini (&disk.captured);
    s_rig_destroy (&rig);
}

static void
the_final_flush_fails_while_lines_are_still_held (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    s_disk_t disk;
    s_disk_attach (&disk, rig.writer);
    assert_int_equal (s_write_seqs (&rig, 1, 2), 0);
    assert_int_equal (results_writer_flush (rig.writer, true), 0);
    disk.free_bytes = 0;
    assert_int_equal (s_write_seqs (&rig, 3, 4), 0);
    assert_int_equal (results_writer_flush (rig.writer, true), -1);
    assert_int_equal (results_writer_state (rig.writer), RESULTS_WRITER_RETRYING);
    results_writer_destroy (&rig.writer);
    assert_int_equal (s_file_lines (rig.path), 2);
    assert_int_equal (s_resume_count (rig.path), 2);
    tm_json_buf_fini (&disk.captured);
    s_rig_destroy (&rig);
}

static void
lines_written_while_retrying_wait_for_the_flush (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    s_disk_t disk;
    s_disk_attach (&disk, rig.writer);
    disk.free_bytes = 0;
    //  About 1.3 MB: past the size at which the buffer is written out.
    int count = 12000;
    assert_int_equal (s_write_seqs (&rig, 1, count), 0);
    assert_int_equal (results_writer_state (rig.writer), RESULTS_WRITER_RETRYING);
    assert_int_equal (disk.writes, 1);
    disk.free_bytes = SIZE_MAX;
    assert_int_equal (results_writer_flush (rig.writer, true), 0);
    assert_int_equal (s_file_lines (rig.path), count);
    tm_json_buf_fini (&disk.captured);
    s_rig_destroy (&rig);
}

static void
holding_more_than_the_cap_while_retrying_is_fatal (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    s_disk_t disk;
    s_disk_attach (&disk, rig.writer);
    size_t held_bytes = 0;
    for (int seq = 3; seq <= 12; seq++)
        held_bytes += s_line_bytes (seq);
    results_writer_set_hold_max_bytes (rig.writer, held_bytes);
    assert_int_equal (s_write_seqs (&rig, 1, 2), 0);
    assert_int_equal (results_writer_flush (rig.writer, false), 0);
    disk.free_bytes = 0;
    assert_int_equal (s_write_seqs (&rig, 3, 3), 0);
    assert_int_equal (results_writer_flush (rig.writer, false), -1);
    assert_int_equal (results_writer_state (rig.writer), RESULTS_WRITER_RETRYING);
    assert_int_equal (s_write_seqs (&rig, 4, 12), 0);
    errno = 0;
    assert_int_equal (s_write_seqs (&rig, 13, 13), 1);
    assert_int_equal (errno, ENOSPC);
    assert_int_equal (results_writer_state (rig.writer), RESULTS_WRITER_FAILED);
    results_writer_destroy (&rig.writer);
    assert_int_equal (s_file_lines (rig.path), 2);
    tm_json_buf_fini (&disk.captured);
    s_rig_destroy (&rig);
}

static void
a_torn_line_that_cannot_be_cut_stays_the_last_line (void **state)
{
    (void) state;
    s_rig_t rig;
    s_rig_new (&rig);
    s_disk_t disk;
    s_disk_attach (&disk, rig.writer);
    size_t line_bytes = s_line_bytes (1);
    assert_int_equal (s_write_seqs (&rig, 1, 2), 0);
    assert_int_equal (results_writer_flush (rig.writer, false), 0);
    disk.free_bytes = line_bytes + 10;
    disk.truncate_error = EIO;
    assert_int_equal (s_write_seqs (&rig, 3, 4), 0);
    assert_int_equal (results_writer_flush (rig.writer, false), -1);
    assert_int_equal (results_writer_state (rig.writer), RESULTS_WRITER_FAILED);
    disk.free_bytes = SIZE_MAX;
    assert_int_equal (s_write_seqs (&rig, 5, 5), 1);
    results_writer_destroy (&rig.writer);
    char *text = s_slurp (rig.path);
    assert_int_equal (strlen (text), 3 * line_bytes + 10);
    free (text);
    //  --resume cuts a torn last line, as a crash leaves it, and goes on.
    char error [256] = "";
    resume_set_t *set = resume_set_load (rig.path, error, sizeof error);
    assert_non_null (set);
    assert_int_equal (resume_set_count (set), 3);
    resume_set_destroy (&set);
    assert_int_equal (s_file_lines (rig.path), 3);
    tm_json_buf_fini (&disk.captured);
    s_rig_destroy (&rig);
}

static void
a_pipe_gets_the_rest_of_a_cut_short_line_not_the_line_again (void **state)
{
    (void) state;
    //  /dev/null is not a regular file, so the writer treats it as a pipe;
    //  the disk keeps what a reader would have read.
    results_writer_t *writer = results_writer_new ("/dev/null");
    assert_non_null (writer);
    s_disk_t disk;
    s_disk_attach (&disk, writer);
    disk.capture = true;
    s_rig_t rig = { .leases = lease_table_new (64), .writer = writer };
    size_t line_bytes = s_line_bytes (1);     //  of each, seqs 1 to 9
    assert_int_equal (s_write_seqs (&rig, 1, 3), 0);
    assert_int_equal (results_writer_flush (writer, false), 0);
    disk.free_bytes = line_bytes + line_bytes / 2;
    disk.error = EAGAIN;
    assert_int_equal (s_write_seqs (&rig, 4, 6), 0);
    assert_int_equal (results_writer_flush (writer, true), -1);
    assert_int_equal (results_writer_state (writer), RESULTS_WRITER_RETRYING);
    assert_int_equal (disk.captured.size, 4 * line_bytes + line_bytes / 2);
    disk.free_bytes = SIZE_MAX;
    assert_int_equal (results_writer_flush (writer, true), 0);
    assert_int_equal (disk.captured.size, 6 * line_bytes);
    assert_int_equal (s_assert_whole_lines_in_order (disk.captured.data), 6);
    results_writer_destroy (&writer);
    lease_table_destroy (&rig.leases);
    tm_json_buf_fini (&disk.captured);
}

//  The real stdout while a test has a file on it, for the teardown.
static int s_saved_stdout = -1;

static int
s_restore_stdout (void **state)
{
    (void) state;
    if (s_saved_stdout != -1) {
        fflush (stdout);
        dup2 (s_saved_stdout, STDOUT_FILENO);
        close (s_saved_stdout);
        s_saved_stdout = -1;
    }
    return 0;
}

static void
results_on_stdout_redirected_to_a_file_are_cut_back_without_a_hole (void **state)
{
    (void) state;
    char path [64];
    s_temp_path (path, sizeof path);
    //  As the shell's > opens it: no O_APPEND, so after a cut the offset
    //  must be moved back too, or the next line lands past a hole of NULs.
    int fd = open (path, O_WRONLY);
    assert_true (fd >= 0);
    fflush (stdout);
    s_saved_stdout = dup (STDOUT_FILENO);
    assert_true (s_saved_stdout >= 0);
    assert_true (dup2 (fd, STDOUT_FILENO) >= 0);
    close (fd);
    results_writer_t *writer = results_writer_new ("-");
    assert_non_null (writer);
    s_disk_t disk;
    s_disk_attach (&disk, writer);
    s_rig_t rig = { .leases = lease_table_new (64), .writer = writer };
    assert_int_equal (s_write_seqs (&rig, 1, 2), 0);
    assert_int_equal (results_writer_flush (writer, false), 0);
    disk.free_bytes = s_line_bytes (3) + 10;
    assert_int_equal (s_write_seqs (&rig, 3, 4), 0);
    assert_int_equal (results_writer_flush (writer, false), -1);
    disk.free_bytes = SIZE_MAX;
    assert_int_equal (results_writer_flush (writer, true), 0);
    results_writer_destroy (&writer);
    lease_table_destroy (&rig.leases);
    tm_json_buf_fini (&disk.captured);
    s_restore_stdout (NULL);

    struct stat info;
    assert_int_equal (stat (path, &info), 0);
    char *text = s_slurp (path);
    assert_int_equal (strlen (text), (size_t) info.st_size);    //  no NUL
    assert_int_equal (s_assert_whole_lines_in_order (text), 4);
    free (text);
    unlink (path);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (ok_result_line_has_seq_id_type_status_attempts_worker_duration_output),
        cmocka_unit_test (ok_result_with_an_error_text_still_has_no_error_field),
        cmocka_unit_test (failed_result_line_has_status_name_and_error),
        cmocka_unit_test (failed_result_with_empty_error_still_has_error_field),
        cmocka_unit_test (binary_output_is_written_as_output_b64),
        cmocka_unit_test (output_with_a_nul_byte_is_written_as_output_b64),
        cmocka_unit_test (valid_utf8_output_is_written_as_text),
        cmocka_unit_test (exec_result_has_exit_code_even_when_zero),
        cmocka_unit_test (status_line_without_result_has_attempts_of_lease_and_error),
        cmocka_unit_test (quotes_newlines_and_control_chars_are_escaped),
        cmocka_unit_test (invalid_utf8_in_id_still_yields_valid_json),
        cmocka_unit_test (lines_are_appended_in_write_order_one_per_result),
        cmocka_unit_test (flush_makes_written_lines_visible_in_the_file),
        cmocka_unit_test (opening_an_existing_file_appends_to_it),
        cmocka_unit_test (writer_for_an_unopenable_path_is_null),
        cmocka_unit_test (noop_line_is_byte_exact),
        cmocka_unit_test (number_edges_are_written_exactly),
        cmocka_unit_test (negative_exit_code_of_a_non_exec_task_is_written),
        cmocka_unit_test (every_status_name_and_escape_is_byte_exact),
        cmocka_unit_test (line_longer_than_the_buffer_is_written_whole),
        cmocka_unit_test (lines_past_the_buffer_size_come_out_whole_and_in_order),
        cmocka_unit_test (a_full_device_fails_the_flush_every_time),
        cmocka_unit_test (a_disk_full_for_a_while_loses_no_line_and_tears_none),
        cmocka_unit_test (large_plain_output_goes_out_by_writev_as_the_same_line),
        cmocka_unit_test (writev_cut_short_or_refused_loses_no_line_and_tears_none),
        cmocka_unit_test (a_disk_full_past_the_retry_limit_is_fatal_and_resume_accepts_the_file),
        cmocka_unit_test (eio_is_fatal_at_once_and_the_file_ends_at_a_whole_line),
        cmocka_unit_test (a_reader_gone_from_a_pipe_is_fatal_at_once),
        cmocka_unit_test (a_failed_fdatasync_fails_the_final_flush),
        cmocka_unit_test (the_final_flush_fails_while_lines_are_still_held),
        cmocka_unit_test (lines_written_while_retrying_wait_for_the_flush),
        cmocka_unit_test (holding_more_than_the_cap_while_retrying_is_fatal),
        cmocka_unit_test (a_torn_line_that_cannot_be_cut_stays_the_last_line),
        cmocka_unit_test (a_pipe_gets_the_rest_of_a_cut_short_line_not_the_line_again),
        cmocka_unit_test_teardown (results_on_stdout_redirected_to_a_file_are_cut_back_without_a_hole,
                                   s_restore_stdout),
    };
    //  As in the programs: stdout carries results (one test puts a file there).
    zsys_set_logstream (stderr);
    return cmocka_run_group_tests (tests, NULL, NULL);
}
