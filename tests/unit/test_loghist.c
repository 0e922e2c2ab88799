/*  test_loghist: the log-linear histogram's percentiles against the exact
    values of the same data sorted, for the error loghist.h states: never
    below the value at rank floor(q n), above it by at most 1/16, exact
    under 16 and for the maximum.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "loghist.h"
#include <stdlib.h>

static const double s_quantiles [] = { 0.0, 0.01, 0.10, 0.25, 0.50, 0.75, 0.90, 0.99, 0.999, 1.0 };

static int
s_compare (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return (x > y) - (x < y);
}

//  Adds values to a histogram and checks every quantile against them sorted.
static void
s_check_against_exact (int64_t *values, size_t n)
{
    loghist_t histogram;
    loghist_init (&histogram);
    for (size_t i = 0; i < n; i++)
        loghist_add (&histogram, values [i]);
    qsort (values, n, sizeof values [0], s_compare);
    assert_int_equal (histogram.count, n);
    assert_int_equal (histogram.max, values [n - 1]);
    for (size_t i = 0; i < sizeof s_quantiles / sizeof s_quantiles [0]; i++) {
        size_t rank = (size_t) (s_quantiles [i] * (double) n);
        int64_t exact = values [rank < n ? rank : n - 1];
        int64_t got = loghist_quantile (&histogram, s_quantiles [i]);
        //  exact * 17 / 16, rounded down: the bucket's top is an integer.
        int64_t bound = exact < 16 ? exact : exact + exact / 16;
        if (got < exact || got > bound)
            fail_msg ("q %.3f of %zu values: %lld, exact %lld (allowed up to %lld)",
                      s_quantiles [i], n, (long long) got, (long long) exact, (long long) bound);
    }
    loghist_summary_t summary = loghist_summary (&histogram);
    assert_int_equal (summary.p50, loghist_quantile (&histogram, 0.50));
    assert_int_equal (summary.p90, loghist_quantile (&histogram, 0.90));
    assert_int_equal (summary.p99, loghist_quantile (&histogram, 0.99));
    assert_int_equal (summary.max, values [n - 1]);
}

//  xorshift64*: the same numbers on every run.
static uint64_t
s_random (uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 2685821657736338717ull;
}

static void
uniform_values_are_within_a_sixteenth (void **state)
{
    (void) state;
    size_t n = 10000;
    int64_t *values = (int64_t *) malloc (n * sizeof (int64_t));
    for (size_t i = 0; i < n; i++)
        values [i] = (int64_t) ((i * 7919) % n) + 1;    //  1..10000, scrambled
    s_check_against_exact (values, n);
    free (values);
}

//  Durations spread over nine decades (1 us .. 1000 s), as a job's are.
static void
log_spread_random_values_are_within_a_sixteenth (void **state)
{
    (void) state;
    size_t n = 100000;
    int64_t *values = (int64_t *) malloc (n * sizeof (int64_t));
    uint64_t seed = 42;
    for (size_t i = 0; i < n; i++) {
        int decade = (int) (s_random (&seed) % 9);
        int64_t scale = 1;
        for (int d = 0; d < decade; d++)
            scale *= 10;
        values [i] = scale + (int64_t) (s_random (&seed) % (uint64_t) (9 * scale));
    }
    s_check_against_exact (values, n);
    free (values);
}

static void
a_long_tail_is_seen_at_its_own_rank (void **state)
{
    (void) state;
    int64_t values [1000];
    for (int i = 0; i < 995; i++)
        values [i] = 100 + i % 50;
    for (int i = 995; i < 1000; i++)
        values [i] = 3000000 + i;
    s_check_against_exact (values, 1000);
    loghist_t histogram;
    loghist_init (&histogram);
    for (int i = 0; i < 1000; i++)
        loghist_add (&histogram, values [i]);
    assert_true (loghist_quantile (&histogram, 0.99) < 200);
    assert_true (loghist_quantile (&histogram, 0.999) >= 3000000);
}

static void
small_and_identical_values_are_exact (void **state)
{
    (void) state;
    loghist_t histogram;
    loghist_init (&histogram);
    for (int64_t v = 0; v < 16; v++)
        loghist_add (&histogram, v);
    assert_int_equal (loghist_quantile (&histogram, 0.0), 0);
    assert_int_equal (loghist_quantile (&histogram, 0.5), 8);
    assert_int_equal (loghist_quantile (&histogram, 1.0), 15);
    loghist_init (&histogram);
    for (int i = 0; i < 100; i++)
        loghist_add (&histogram, 812);
    assert_int_equal (loghist_quantile (&histogram, 0.0), 812);
    assert_int_equal (loghist_quantile (&histogram, 0.99), 812);
    assert_int_equal (loghist_summary (&histogram).max, 812);
    assert_int_equal (histogram.sum, 81200);
}

static void
empty_negative_and_huge_values (void **state)
{
    (void) state;
    loghist_t histogram;
    loghist_init (&histogram);
    assert_int_equal (loghist_quantile (&histogram, 0.5), 0);
    loghist_summary_t empty = loghist_summary (&histogram);
    assert_true (empty.p50 == 0 && empty.p99 == 0 && empty.max == 0);
    loghist_add (&histogram, -7);           //  a clock step back: counts as 0
    assert_int_equal (loghist_quantile (&histogram, 1.0), 0);
    loghist_add (&histogram, INT64_MAX);
    assert_int_equal (loghist_quantile (&histogram, 1.0), INT64_MAX);
    assert_int_equal (loghist_quantile (&histogram, 0.0), 0);
    assert_int_equal (histogram.count, 2);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (uniform_values_are_within_a_sixteenth),
        cmocka_unit_test (log_spread_random_values_are_within_a_sixteenth),
        cmocka_unit_test (a_long_tail_is_seen_at_its_own_rank),
        cmocka_unit_test (small_and_identical_values_are_exact),
        cmocka_unit_test (empty_negative_and_huge_values),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
