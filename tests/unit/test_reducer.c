/*  test_reducer: sum, count-words and concat on outputs handed in. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "reducer.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void
s_add (reducer_t *self, uint64_t seq, const char *text)
{
    reducer_add (self, seq, (const uint8_t *) text, strlen (text));
}

static reducer_t *
s_new (reducer_kind_t kind, const char *path, size_t max_words)
{
    char error [256];
    reducer_t *self = reducer_new (kind, path, max_words, 16, error, sizeof error);
    assert_non_null (self);
    return self;
}

static void
sum_adds_integers_exactly (void **state)
{
    (void) state;
    reducer_t *self = s_new (REDUCER_SUM, NULL, 0);
    //  2^62 + 2^62 - 1 fits; as doubles it would be rounded.
    s_add (self, 1, "4611686018427387904");
    s_add (self, 2, "4611686018427387903\n");
    s_add (self, 3, "not a number");
    s_add (self, 4, "");
    json_t *value = reducer_json (self);
    assert_int_equal (json_integer_value (json_object_get (value, "value")), INT64_MAX);
    assert_false (json_is_true (json_object_get (value, "overflow")));
    assert_int_equal (json_integer_value (json_object_get (value, "numbers")), 2);
    assert_int_equal (json_integer_value (json_object_get (value, "not_numbers")), 2);
    json_decref (value);
    reducer_destroy (&self);
}

static void
sum_reports_overflow_and_goes_on_as_a_double (void **state)
{
    (void) state;
    reducer_t *self = s_new (REDUCER_SUM, NULL, 0);
    s_add (self, 1, "9223372036854775807");
    s_add (self, 2, "1");
    json_t *value = reducer_json (self);
    assert_true (json_is_true (json_object_get (value, "overflow")));
    assert_true (json_is_real (json_object_get (value, "value")));
    assert_true (json_real_value (json_object_get (value, "value")) > 9.2e18);
    json_decref (value);
    reducer_destroy (&self);
}

static void
sum_takes_decimals_as_doubles (void **state)
{
    (void) state;
    reducer_t *self = s_new (REDUCER_SUM, NULL, 0);
    s_add (self, 1, "1.5");
    s_add (self, 2, "2");
    s_add (self, 3, "-0.25");
    s_add (self, 4, "nan");
    json_t *value = reducer_json (self);
    assert_true (json_real_value (json_object_get (value, "value")) == 3.25);
    assert_int_equal (json_integer_value (json_object_get (value, "not_numbers")), 1);
    json_decref (value);
    reducer_destroy (&self);
}

static void
count_words_merges_and_is_bounded (void **state)
{
    (void) state;
    reducer_t *self = s_new (REDUCER_COUNT_WORDS, NULL, 2);
    s_add (self, 1, "{\"a\":2,\"b\":1}");
    s_add (self, 2, "{\"a\":3,\"c\":4}");          //  c: past the 2 words kept
    s_add (self, 3, "[1,2]");                       //  not a word count
    json_t *value = reducer_json (self);
    json_t *words = json_object_get (value, "words");
    assert_int_equal (json_integer_value (json_object_get (words, "a")), 5);
    assert_int_equal (json_integer_value (json_object_get (words, "b")), 1);
    assert_null (json_object_get (words, "c"));
    assert_int_equal (json_integer_value (json_object_get (value, "dropped_past_max_words")), 4);
    assert_int_equal (json_integer_value (json_object_get (value, "not_word_counts")), 1);
    json_decref (value);
    reducer_destroy (&self);
}

static void
concat_writes_in_seq_order_once (void **state)
{
    (void) state;
    char path [64];
    snprintf (path, sizeof path, "/tmp/test_reducer_%d.out", (int) getpid ());
    reducer_t *self = s_new (REDUCER_CONCAT, path, 0);
    s_add (self, 3, "c");
    s_add (self, 1, "a");
    assert_int_equal (reducer_waiting_for (self), 2);
    reducer_skip (self, 2);                         //  final, not ok
    s_add (self, 1, "again");                       //  a duplicate: never written
    s_add (self, 5, "e");
    s_add (self, 4, "d");
    assert_int_equal (reducer_waiting_for (self), 6);
    assert_int_equal (reducer_finish (self), 0);
    reducer_destroy (&self);
    FILE *file = fopen (path, "r");
    char text [32] = "";
    assert_non_null (fgets (text, sizeof text, file));
    fclose (file);
    unlink (path);
    assert_string_equal (text, "acde");
}

//  A results file as an earlier run left it, and its resume set.
static resume_set_t *
s_earlier_run (char *path, const char *lines)
{
    snprintf (path, 64, "/tmp/test_reducer_%d.jsonl", (int) getpid ());
    FILE *file = fopen (path, "w");
    assert_non_null (file);
    fputs (lines, file);
    fclose (file);
    char error [256];
    resume_set_t *resume = resume_set_load (path, error, sizeof error);
    assert_non_null (resume);
    return resume;
}

static void
replay_adds_the_ok_results_of_an_earlier_run (void **state)
{
    (void) state;
    char results [64], error [256];
    resume_set_t *resume = s_earlier_run (results,
        "{\"seq\":2,\"status\":\"ok\",\"output\":\"{\\\"a\\\":2}\"}\n"
        "{\"seq\":1,\"status\":\"failed\",\"output\":\"{\\\"a\\\":5}\"}\n"
        "{\"seq\":3,\"status\":\"ok\",\"output\":\"{\\\"b\\\":1}\"}\n");
    reducer_t *self = s_new (REDUCER_COUNT_WORDS, NULL, 0);
    assert_int_equal (reducer_replay (self, results, resume, error, sizeof error), 0);
    s_add (self, 4, "{\"a\":1}");
    json_t *value = reducer_json (self);
    json_t *words = json_object_get (value, "words");
    assert_int_equal (json_integer_value (json_object_get (words, "a")), 3);
    assert_int_equal (json_integer_value (json_object_get (words, "b")), 1);
    json_decref (value);
    reducer_destroy (&self);
    resume_set_destroy (&resume);
    unlink (results);
}

static void
concat_on_resume_reads_the_earlier_outputs_back_in_seq_order (void **state)
{
    (void) state;
    char results [64], path [64], error [256];
    //  Completion order, a failed seq, and a binary output (b"c\0", base64).
    resume_set_t *resume = s_earlier_run (results,
        "{\"seq\":3,\"status\":\"ok\",\"output_b64\":\"YwA=\"}\n"
        "{\"seq\":1,\"status\":\"ok\",\"output\":\"a\"}\n"
        "{\"seq\":2,\"status\":\"timeout\"}\n"
        "{\"seq\":6,\"status\":\"ok\",\"output\":\"f\"}\n");
    snprintf (path, sizeof path, "/tmp/test_reducer_%d.out", (int) getpid ());
    reducer_t *self = s_new (REDUCER_CONCAT, path, 0);
    assert_int_equal (reducer_replay (self, results, resume, error, sizeof error), 0);
    assert_int_equal (reducer_waiting_for (self), 4);
    //  This run appends to the same results file: not read back.
    FILE *appended = fopen (results, "a");
    fputs ("{\"seq\":5,\"status\":\"ok\",\"output\":\"NOT\"}\n", appended);
    fclose (appended);
    s_add (self, 5, "e");
    s_add (self, 4, "d");
    s_add (self, 7, "g");
    assert_int_equal (reducer_finish (self), 0);
    reducer_destroy (&self);
    resume_set_destroy (&resume);
    FILE *file = fopen (path, "r");
    char text [32] = "";
    size_t size = fread (text, 1, sizeof text, file);
    fclose (file);
    unlink (path);
    unlink (results);
    assert_int_equal (size, 7);
    assert_memory_equal (text, "ac\0defg", 7);
}

static void
parse_knows_every_kind (void **state)
{
    (void) state;
    reducer_kind_t kind;
    const char *path;
    assert_int_equal (reducer_parse ("concat:x.out", &kind, &path), 0);
    assert_int_equal (kind, REDUCER_CONCAT);
    assert_string_equal (path, "x.out");
    assert_int_equal (reducer_parse ("concat", &kind, &path), 0);
    assert_string_equal (path, "concat.out");
    assert_int_equal (reducer_parse ("sum", &kind, &path), 0);
    assert_int_equal (reducer_parse ("count-words", &kind, &path), 0);
    assert_int_equal (reducer_parse ("none", &kind, &path), 0);
    assert_int_equal (reducer_parse ("concat:", &kind, &path), -1);
    assert_int_equal (reducer_parse ("max", &kind, &path), -1);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (sum_adds_integers_exactly),
        cmocka_unit_test (sum_reports_overflow_and_goes_on_as_a_double),
        cmocka_unit_test (sum_takes_decimals_as_doubles),
        cmocka_unit_test (count_words_merges_and_is_bounded),
        cmocka_unit_test (concat_writes_in_seq_order_once),
        cmocka_unit_test (replay_adds_the_ok_results_of_an_earlier_run),
        cmocka_unit_test (concat_on_resume_reads_the_earlier_outputs_back_in_seq_order),
        cmocka_unit_test (parse_knows_every_kind),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
