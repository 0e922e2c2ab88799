/*  test_throughput: per-second counts of final results in a fixed number
    of buckets: exact while the job is short, halved in resolution (pairs
    added, the width doubled) when time runs past the last bucket, never
    more than THROUGHPUT_BUCKETS, and always summing to what was added.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "throughput.h"

#define S_SECOND 1000000

static uint64_t
s_total (const throughput_t *t)
{
    uint64_t total = 0;
    for (size_t i = 0; i < THROUGHPUT_BUCKETS; i++)
        total += t->counts [i];
    return total;
}

static void
results_land_in_their_second (void **state)
{
    (void) state;
    throughput_t t;
    throughput_init (&t, 1000);
    throughput_add (&t, 1000, 1);
    throughput_add (&t, 1000 + S_SECOND - 1, 2);
    throughput_add (&t, 1000 + S_SECOND, 3);
    throughput_add (&t, 1000 + 4 * S_SECOND + 7, 4);
    throughput_add (&t, 0, 5);              //  before the start: the first second
    assert_int_equal (t.bucket_us, S_SECOND);
    assert_int_equal (t.used, 5);
    assert_int_equal (t.counts [0], 8);
    assert_int_equal (t.counts [1], 3);
    assert_int_equal (t.counts [2] + t.counts [3], 0);
    assert_int_equal (t.counts [4], 4);
    throughput_extend (&t, 1000 + 9 * S_SECOND);
    assert_int_equal (t.used, 10);
    assert_int_equal (s_total (&t), 15);
}

static void
past_the_last_bucket_the_width_doubles_and_pairs_add (void **state)
{
    (void) state;
    throughput_t t;
    throughput_init (&t, 0);
    for (int64_t s = 0; s < THROUGHPUT_BUCKETS; s++)
        throughput_add (&t, s * S_SECOND, (uint64_t) s);
    assert_int_equal (t.bucket_us, S_SECOND);
    assert_int_equal (t.used, THROUGHPUT_BUCKETS);
    throughput_add (&t, THROUGHPUT_BUCKETS * (int64_t) S_SECOND, 1000);
    assert_int_equal (t.bucket_us, 2 * S_SECOND);
    assert_int_equal (t.used, THROUGHPUT_BUCKETS / 2 + 1);
    for (size_t i = 0; i < THROUGHPUT_BUCKETS / 2; i++)
        assert_int_equal (t.counts [i], 2 * i + 2 * i + 1);
    assert_int_equal (t.counts [THROUGHPUT_BUCKETS / 2], 1000);
    assert_int_equal (s_total (&t), (uint64_t) THROUGHPUT_BUCKETS * (THROUGHPUT_BUCKETS - 1) / 2
                                    + 1000);
}

//  A week of one result a second stays 256 buckets, of 4,096 s.
static void
a_week_long_job_stays_bounded_and_sums_to_its_results (void **state)
{
    (void) state;
    throughput_t t;
    throughput_init (&t, 0);
    int64_t week_s = 7 * 24 * 3600;
    for (int64_t s = 0; s < week_s; s++) {
        throughput_add (&t, s * S_SECOND + 500000, 1);
        assert_true (t.used <= THROUGHPUT_BUCKETS);
    }
    assert_int_equal (t.bucket_us, 4096 * (int64_t) S_SECOND);
    assert_int_equal (t.used, (week_s + 4095) / 4096);
    assert_int_equal (s_total (&t), (uint64_t) week_s);
    for (size_t i = 0; i + 1 < t.used; i++)
        assert_int_equal (t.counts [i], 4096);
    //  A jump far ahead halves as often as it takes, in one call.
    throughput_add (&t, INT64_MAX / 2, 1);
    assert_true (t.used <= THROUGHPUT_BUCKETS);
    assert_int_equal (s_total (&t), (uint64_t) week_s + 1);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (results_land_in_their_second),
        cmocka_unit_test (past_the_last_bucket_the_width_doubles_and_pairs_add),
        cmocka_unit_test (a_week_long_job_stays_bounded_and_sums_to_its_results),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
