/*  test_autoscale: the thread-pool controller with a scripted clock and
    backlog. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "autoscale.h"

#define S_TICK AUTOSCALE_TICK_US
#define S_MS 1000

static void
long_wait_grows_at_once_by_the_tasks_waiting (void **state)
{
    (void) state;
    autoscale_t scale;
    autoscale_init (&scale, 1, 16, 50 * S_MS, 30000 * S_MS, 0);
    assert_int_equal (autoscale_tick (&scale, 10 * S_MS, 5, 1, S_TICK), 1);    //  short wait
    assert_int_equal (autoscale_tick (&scale, 80 * S_MS, 5, 1, 2 * S_TICK), 6);
    assert_int_equal (autoscale_tick (&scale, 80 * S_MS, 40, 6, 3 * S_TICK), 16); //  capped
    assert_int_equal (autoscale_tick (&scale, 500 * S_MS, 40, 16, 4 * S_TICK), 16);
    assert_int_equal (scale.grown, 2);
}

static void
shrinks_one_at_a_time_only_after_calm_ticks_and_the_wait_since_growth (void **state)
{
    (void) state;
    autoscale_t scale;
    int64_t now = 0;
    autoscale_init (&scale, 2, 8, 40 * S_MS, 10 * S_TICK, now);
    assert_int_equal (autoscale_tick (&scale, 100 * S_MS, 6, 2, now += S_TICK), 8);
    //  Calm, but too soon after growing: no shrink.
    for (int i = 0; i < 8; i++)
        assert_int_equal (autoscale_tick (&scale, 0, 0, 3, now += S_TICK), 8);
    //  Now long enough since growth: one thread, then three calm ticks again.
    now += 2 * S_TICK;
    assert_int_equal (autoscale_tick (&scale, 0, 0, 3, now += S_TICK), 7);
    assert_int_equal (autoscale_tick (&scale, 0, 0, 3, now += S_TICK), 7);
    assert_int_equal (autoscale_tick (&scale, 0, 0, 3, now += S_TICK), 7);
    assert_int_equal (autoscale_tick (&scale, 0, 0, 3, now += S_TICK), 6);
    //  Never under the minimum.
    for (int i = 0; i < 100; i++)
        autoscale_tick (&scale, 0, 0, 0, now += S_TICK);
    assert_int_equal (scale.threads, 2);
    assert_int_equal (scale.shrunk, 6);
}

static void
waits_near_the_threshold_or_every_thread_busy_are_not_calm (void **state)
{
    (void) state;
    autoscale_t scale;
    int64_t now = 0;
    autoscale_init (&scale, 1, 4, 40 * S_MS, 0, now);
    assert_int_equal (autoscale_tick (&scale, 100 * S_MS, 3, 1, now += S_TICK), 4);
    //  30 ms is 0.75 x 40: not under it, so no calm tick.
    for (int i = 0; i < 10; i++)
        assert_int_equal (autoscale_tick (&scale, 30 * S_MS, 0, 2, now += S_TICK), 4);
    //  Nothing waits, but all four threads run: the pool is right.
    for (int i = 0; i < 10; i++)
        assert_int_equal (autoscale_tick (&scale, 0, 0, 4, now += S_TICK), 4);
    //  A calm interrupted starts over.
    autoscale_tick (&scale, 0, 0, 1, now += S_TICK);
    autoscale_tick (&scale, 0, 0, 1, now += S_TICK);
    autoscale_tick (&scale, 35 * S_MS, 0, 1, now += S_TICK);
    autoscale_tick (&scale, 0, 0, 1, now += S_TICK);
    assert_int_equal (autoscale_tick (&scale, 0, 0, 1, now += S_TICK), 4);
    assert_int_equal (autoscale_tick (&scale, 0, 0, 1, now += S_TICK), 3);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (long_wait_grows_at_once_by_the_tasks_waiting),
        cmocka_unit_test (shrinks_one_at_a_time_only_after_calm_ticks_and_the_wait_since_growth),
        cmocka_unit_test (waits_near_the_threshold_or_every_thread_busy_are_not_calm),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
