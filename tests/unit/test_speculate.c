/*  test_speculate: the per-type medians that decide a straggler. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "speculate.h"

static void
median_needs_enough_results_and_is_within_a_quarter (void **state)
{
    (void) state;
    lease_table_t *leases = lease_table_new (8);
    speculate_t *self = speculate_new (leases, NULL, NULL, 0, false);
    assert_int_equal (speculate_median_us (self, "sleep"), -1);
    for (int i = 0; i < SPECULATE_MIN_SAMPLES - 1; i++)
        speculate_observe (self, "sleep", 200000);
    assert_int_equal (speculate_median_us (self, "sleep"), -1);
    speculate_observe (self, "sleep", 200000);
    int64_t median = speculate_median_us (self, "sleep");
    assert_true (median <= 200000 && median > 150000);
    //  A few slow ones do not move the median; types are apart.
    speculate_observe (self, "sleep", 60000000);
    speculate_observe (self, "sleep", 60000000);
    assert_int_equal (speculate_median_us (self, "sleep"), median);
    assert_int_equal (speculate_median_us (self, "echo"), -1);
    for (int i = 0; i < 9; i++)
        speculate_observe (self, "echo", 3 + i);
    median = speculate_median_us (self, "echo");
    assert_true (median >= 5 && median <= 7);
    speculate_destroy (&self);
    lease_table_destroy (&leases);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (median_needs_enough_results_and_is_within_a_quarter),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
