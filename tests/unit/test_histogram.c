/*  test_histogram: the fixed buckets /metrics exposes: values land in the
    first bucket whose bound they do not exceed, edges included, and the
    count, sum and cumulative counts agree.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "histogram.h"
#include "summary.h"

static void
bounds_rise_from_100_us_to_300_s (void **state)
{
    (void) state;
    assert_int_equal (histogram_bound_us (0), 100);
    assert_int_equal (histogram_bound_us (HISTOGRAM_BOUNDS - 1), 300000000);
    for (size_t i = 1; i < HISTOGRAM_BOUNDS; i++)
        assert_true (histogram_bound_us (i) > histogram_bound_us (i - 1));
}

static void
a_value_on_a_bound_counts_in_that_bucket (void **state)
{
    (void) state;
    histogram_t histogram;
    histogram_init (&histogram);
    for (size_t i = 0; i < HISTOGRAM_BOUNDS; i++) {
        histogram_add (&histogram, histogram_bound_us (i));
        histogram_add (&histogram, histogram_bound_us (i) + 1);
    }
    assert_int_equal (histogram.counts [0], 1);
    for (size_t i = 1; i < HISTOGRAM_BOUNDS; i++)
        assert_int_equal (histogram.counts [i], 2);
    assert_int_equal (histogram.counts [HISTOGRAM_BOUNDS], 1);     //  300 s + 1 us
    assert_int_equal (histogram.count, 2 * HISTOGRAM_BOUNDS);
    assert_int_equal (histogram_cumulative (&histogram, HISTOGRAM_BOUNDS), histogram.count);
}

static void
cumulative_counts_and_sum_add_up (void **state)
{
    (void) state;
    histogram_t histogram;
    histogram_init (&histogram);
    int64_t sum = 0;
    for (int64_t v = 0; v < 2000000; v += 997) {
        histogram_add (&histogram, v);
        sum += v;
    }
    histogram_add (&histogram, -5);     //  counts as 0
    assert_int_equal (histogram.sum_us, sum);
    uint64_t below = 0;
    for (int64_t v = 0; v < 2000000; v += 997)
        below += v <= 5000;
    assert_int_equal (histogram_cumulative (&histogram, 5), below + 1);     //  le 5 ms
    for (size_t i = 1; i <= HISTOGRAM_BOUNDS; i++)
        assert_true (histogram_cumulative (&histogram, i) >= histogram_cumulative (&histogram, i - 1));
}

static void
summary_keeps_latency_and_handler_time_apart (void **state)
{
    (void) state;
    summary_t *summary = summary_new ("job", 0);
    summary_add (summary, &(summary_result_t) { .type = "echo", .status = TM_STATUS_OK,
                                                .worker_id = "w", .latency_us = 20000,
                                                .run_us = 50 });
    //  No result from a worker: no duration.
    summary_add (summary, &(summary_result_t) { .type = "echo", .status = TM_STATUS_TIMEOUT,
                                                .latency_us = 7000000 });
    const histogram_t *latency = summary_histogram (summary, SUMMARY_LATENCY);
    const histogram_t *duration = summary_histogram (summary, SUMMARY_DURATION);
    assert_int_equal (latency->count, 2);
    assert_int_equal (latency->sum_us, 7020000);
    assert_int_equal (duration->count, 1);
    assert_int_equal (duration->counts [0], 1);
    summary_destroy (&summary);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (bounds_rise_from_100_us_to_300_s),
        cmocka_unit_test (a_value_on_a_bound_counts_in_that_bucket),
        cmocka_unit_test (cumulative_counts_and_sum_add_up),
        cmocka_unit_test (summary_keeps_latency_and_handler_time_apart),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
