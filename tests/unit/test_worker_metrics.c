/*  test_worker_metrics: the exposition a worker serves on --metrics: every
    sample typed before it, under the taskmill_worker_ prefix, counters
    named _total; each value lands in its series; free text in labels is
    escaped; the text is rewritten, not appended. (promtool checks the
    real thing in tests/process/test_worker_metrics.py.)
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "worker_metrics.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static worker_metrics_values_t
s_values (void)
{
    worker_metrics_values_t values = {
        .worker_id = "host/42", .incarnation = "0123456789ABCDEF", .master = "tcp://m:5557",
        .received = 17, .results_sent = 15, .results_lost = 1, .garbage = 3, .stale = 4,
        .running = 2, .queued = 5, .threads = 6, .threads_min = 1, .threads_max = 8,
        .threads_grown = 9, .threads_shrunk = 7, .credit = 11, .draining = true
    };
    values.by_status [TM_STATUS_OK] = 12;
    values.by_status [TM_STATUS_FAILED] = 2;
    values.by_status [TM_STATUS_REJECTED] = 1;
    return values;
}

static const char *
s_text (worker_metrics_t *metrics, const worker_metrics_values_t *values)
{
    worker_metrics_update (metrics, values);
    size_t size;
    const char *text = worker_metrics_text (metrics, &size);
    assert_int_equal (strlen (text), size);
    assert_true (size > 0 && text [size - 1] == '\n');
    return text;
}

//  The value of the one sample line that is series (name and labels) exactly.
static double
s_value (const char *text, const char *series)
{
    char needle [256];
    snprintf (needle, sizeof needle, "\n%s ", series);
    const char *found = strstr (text, needle);
    if (!found)
        fail_msg ("no sample %s in:\n%s", series, text);
    assert_null (strstr (found + 1, needle));
    return strtod (found + strlen (needle), NULL);
}

//  needle's first place in text if it is before end, or NULL.
static const char *
s_before (const char *text, const char *end, const char *needle)
{
    const char *found = strstr (text, needle);
    return found && found < end ? found : NULL;
}

static void
every_sample_is_typed_before_it (void **state)
{
    (void) state;
    worker_metrics_t *metrics = worker_metrics_new ();
    worker_metrics_values_t values = s_values ();
    const char *text = s_text (metrics, &values);
    size_t samples = 0;
    for (const char *line = text; *line; line = strchr (line, '\n') + 1) {
        if (*line == '#')
            continue;
        samples++;
        assert_int_equal (strncmp (line, "taskmill_worker_", 16), 0);
        size_t name_length = strcspn (line, "{ ");
        char type_line [128];
        snprintf (type_line, sizeof type_line, "# TYPE %.*s ", (int) name_length, line);
        const char *typed = s_before (text, line, type_line);
        if (!typed)
            fail_msg ("no %s before %.*s", type_line, (int) name_length, line);
        bool counter = strncmp (typed + strlen (type_line), "counter", 7) == 0;
        bool total = name_length > 6 && strncmp (line + name_length - 6, "_total", 6) == 0;
        assert_true (counter == total);
        char help_line [128];
        snprintf (help_line, sizeof help_line, "# HELP %.*s ", (int) name_length, line);
        assert_non_null (s_before (text, line, help_line));
    }
    assert_int_equal (samples, 20);
    worker_metrics_destroy (&metrics);
    assert_null (metrics);
}

static void
values_land_in_their_series (void **state)
{
    (void) state;
    worker_metrics_t *metrics = worker_metrics_new ();
    worker_metrics_values_t values = s_values ();
    const char *text = s_text (metrics, &values);
    assert_int_equal (s_value (text, "taskmill_worker_tasks_total{status=\"ok\"}"), 12);
    assert_int_equal (s_value (text, "taskmill_worker_tasks_total{status=\"failed\"}"), 2);
    assert_int_equal (s_value (text, "taskmill_worker_tasks_total{status=\"timeout\"}"), 0);
    assert_int_equal (s_value (text, "taskmill_worker_tasks_total{status=\"no_handler\"}"), 0);
    assert_int_equal (s_value (text, "taskmill_worker_tasks_total{status=\"rejected\"}"), 1);
    assert_int_equal (s_value (text, "taskmill_worker_tasks_received_total"), 17);
    assert_int_equal (s_value (text, "taskmill_worker_results_sent_total"), 15);
    assert_int_equal (s_value (text, "taskmill_worker_results_lost_total"), 1);
    assert_int_equal (s_value (text, "taskmill_worker_frames_dropped_total{reason=\"garbage\"}"), 3);
    assert_int_equal (s_value (text, "taskmill_worker_frames_dropped_total{reason=\"stale\"}"), 4);
    assert_int_equal (s_value (text, "taskmill_worker_tasks_running"), 2);
    assert_int_equal (s_value (text, "taskmill_worker_tasks_queued"), 5);
    assert_int_equal (s_value (text, "taskmill_worker_credit_window"), 11);
    assert_int_equal (s_value (text, "taskmill_worker_draining"), 1);
    assert_int_equal (s_value (text, "taskmill_worker_threads"), 6);
    assert_int_equal (s_value (text, "taskmill_worker_threads_min"), 1);
    assert_int_equal (s_value (text, "taskmill_worker_threads_max"), 8);
    assert_int_equal (s_value (text, "taskmill_worker_threads_grown_total"), 9);
    assert_int_equal (s_value (text, "taskmill_worker_threads_shrunk_total"), 7);
    assert_int_equal (s_value (text, "taskmill_worker_info{worker_id=\"host/42\","
                                     "incarnation=\"0123456789ABCDEF\","
                                     "master=\"tcp://m:5557\"}"), 1);
    worker_metrics_destroy (&metrics);
}

//  A worker id is free text (--id): quotes, backslashes and newlines must
//  not end the label or the line.
static void
free_text_in_labels_is_escaped (void **state)
{
    (void) state;
    worker_metrics_t *metrics = worker_metrics_new ();
    worker_metrics_values_t values = s_values ();
    values.worker_id = "a\"b\\c\nd} 2";
    const char *text = s_text (metrics, &values);
    assert_non_null (strstr (text, "taskmill_worker_info{worker_id=\"a\\\"b\\\\c\\nd} 2\","));
    size_t lines = 0;
    for (const char *c = text; *c; c++)
        lines += *c == '\n';
    values.worker_id = "plain";
    size_t plain_lines = 0;
    for (const char *c = s_text (metrics, &values); *c; c++)
        plain_lines += *c == '\n';
    assert_int_equal (lines, plain_lines);
    worker_metrics_destroy (&metrics);
}

static void
the_text_is_rewritten_not_appended (void **state)
{
    (void) state;
    worker_metrics_t *metrics = worker_metrics_new ();
    worker_metrics_values_t values = s_values ();
    size_t first = strlen (s_text (metrics, &values));
    values.by_status [TM_STATUS_OK] = 1000000;
    const char *text = s_text (metrics, &values);
    assert_int_equal (s_value (text, "taskmill_worker_tasks_total{status=\"ok\"}"), 1000000);
    assert_true (strlen (text) < first + 16);
    worker_metrics_destroy (&metrics);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (every_sample_is_typed_before_it),
        cmocka_unit_test (values_land_in_their_series),
        cmocka_unit_test (free_text_in_labels_is_escaped),
        cmocka_unit_test (the_text_is_rewritten_not_appended),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
