/*  Tests for credit: the window a worker asks its master for. Pure
    arithmetic on times handed in, so every test scripts completions and
    echoes at chosen now_us and checks the window against the formula of
    credit.h:

        window = threads + rate * budget,   budget = 2 * round trip + 5 ms

    and the properties the dispatcher relies on: a fast worker is never
    starved, a slow one never hoards, and a 1-thread worker asks for far
    less than an 8-thread one running the same tasks.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "credit.h"
#include <stdio.h>

#define S_DEFAULT_RTT_US 1000       //  the round trip assumed before any echo
#define S_FIXED_BUDGET_US 5000      //  the 5 ms of the budget

//  --- helpers -------------------------------------------------------------------

//  The window credit.h's formula gives for rate (tasks per µs) and rtt_us.
static double
s_expected (size_t threads, double rate_per_us, int64_t rtt_us)
{
    return (double) threads + rate_per_us * (2.0 * (double) rtt_us + S_FIXED_BUDGET_US);
}

//  Fails unless window is within tolerance of expected.
static void
s_assert_about (uint32_t window, double expected, double tolerance)
{
    double gap = (double) window - expected;
    if (gap < -tolerance || gap > tolerance)
        fail_msg ("window %u, expected about %.1f (within %.1f)", window, expected, tolerance);
}

//  Completes per_step tasks every step_us, steps times, from *now_us on.
static void
s_run (credit_t *credit, size_t per_step, int64_t step_us, int steps, int64_t *now_us)
{
    for (int i = 0; i < steps; i++) {
        *now_us += step_us;
        credit_completed (credit, per_step, *now_us);
    }
}

//  --- start ---------------------------------------------------------------------

static void
window_starts_at_the_threads (void **state)
{
    (void) state;
    const size_t threads [] = { 1, 2, 4, 8, 64 };
    for (size_t i = 0; i < sizeof threads / sizeof threads [0]; i++) {
        credit_t credit;
        credit_init (&credit, threads [i], 100000, 5000000);
        assert_int_equal (credit_window (&credit), threads [i]);
    }
    //  An echo alone (no rate yet) does not move the starting window.
    credit_t credit;
    credit_init (&credit, 3, 1000, 0);
    credit_echoed (&credit, 100, 400);
    assert_int_equal (credit_window (&credit), 3);
}

static void
window_is_never_above_max (void **state)
{
    (void) state;
    //  At the start: 100 threads are more than a --queue of 64.
    credit_t credit;
    int64_t now_us = 0;
    credit_init (&credit, 100, 64, now_us);
    assert_int_equal (credit_window (&credit), 64);
    //  And at a rate that asks for thousands.
    credit_init (&credit, 4, 64, now_us);
    for (int burst = 0; burst < 20; burst++) {
        s_run (&credit, 10, 10, 100, &now_us);      //  one task a µs
        assert_true (credit_window (&credit) <= 64);
    }
    assert_int_equal (credit_window (&credit), 64);
}

//  --- rate ----------------------------------------------------------------------

static void
burst_at_a_high_rate_raises_the_window_to_threads_plus_rate_times_budget (void **state)
{
    (void) state;
    credit_t credit;
    int64_t now_us = 1000000;
    credit_init (&credit, 4, 100000, now_us);
    assert_int_equal (credit_window (&credit), 4);
    //  One task every 10 µs: 0.1 a µs, for 20 ms.
    s_run (&credit, 1, 10, 2000, &now_us);
    uint32_t window = credit_window (&credit);
    double expected = s_expected (4, 0.1, S_DEFAULT_RTT_US);       //  704
    s_assert_about (window, expected, 0.02 * expected + 1);
    assert_true (window > 8);
    //  Twice the rate, about twice the tasks ahead.
    s_run (&credit, 2, 10, 2000, &now_us);
    s_assert_about (credit_window (&credit), s_expected (4, 0.2, S_DEFAULT_RTT_US),
                    0.02 * s_expected (4, 0.2, S_DEFAULT_RTT_US) + 1);
}

static void
window_falls_slowly_after_the_rate_falls (void **state)
{
    (void) state;
    credit_t credit;
    int64_t now_us = 0;
    credit_init (&credit, 4, 100000, now_us);
    s_run (&credit, 1, 10, 2000, &now_us);          //  0.1 a µs
    uint32_t fast = credit_window (&credit);
    double slow_window = s_expected (4, 0.0001, S_DEFAULT_RTT_US);  //  one task a 10 ms
    assert_true (fast > 100);

    //  One slow sample (100 ms of one task each 10 ms) lowers it, but by
    //  no more than a third of what it had ahead of the threads.
    s_run (&credit, 1, 10000, 10, &now_us);
    uint32_t after_one = credit_window (&credit);
    assert_true (after_one < fast);
    assert_true ((double) after_one - 4 > 0.6 * ((double) fast - 4));
    //  Each further slow sample lowers it again, never rising, until it
    //  settles near what the slow rate asks for.
    uint32_t previous = after_one;
    for (int sample = 0; sample < 60; sample++) {
        s_run (&credit, 1, 10000, 10, &now_us);
        uint32_t window = credit_window (&credit);
        assert_true (window <= previous);
        previous = window;
    }
    s_assert_about (previous, slow_window, 2);
}

static void
short_bursts_below_the_sample_size_do_not_move_the_window (void **state)
{
    (void) state;
    credit_t credit;
    int64_t now_us = 0;
    credit_init (&credit, 2, 1000, now_us);
    //  15 tasks in 1 ms: fewer than a sample counts and shorter than it spans.
    s_run (&credit, 1, 66, 15, &now_us);
    assert_int_equal (credit_window (&credit), 2);
}

//  --- round trip ------------------------------------------------------------------

static void
echoes_of_a_shorter_round_trip_lower_the_window (void **state)
{
    (void) state;
    credit_t credit;
    int64_t now_us = 0;
    credit_init (&credit, 4, 100000, now_us);
    s_run (&credit, 1, 10, 2000, &now_us);          //  0.1 a µs
    uint32_t before = credit_window (&credit);
    s_assert_about (before, s_expected (4, 0.1, S_DEFAULT_RTT_US), 10);

    //  A Credit sent 200 µs before the batch that echoed it.
    credit_echoed (&credit, now_us - 200, now_us);
    uint32_t after = credit_window (&credit);
    assert_true (after < before);
    s_assert_about (after, s_expected (4, 0.1, 200), 10);
    //  A slower echo soon after does not undo it: the shortest one counts.
    credit_echoed (&credit, now_us - 900, now_us + 100);
    assert_int_equal (credit_window (&credit), after);
}

static void
echoes_of_a_longer_round_trip_raise_the_window_only_in_a_later_period (void **state)
{
    (void) state;
    credit_t credit;
    int64_t now_us = 0;
    credit_init (&credit, 4, 100000, now_us);
    s_run (&credit, 1, 10, 2000, &now_us);
    credit_echoed (&credit, now_us - 200, now_us);
    uint32_t short_rtt = credit_window (&credit);
    //  The network got slower: 3 ms round trips from now on.
    credit_echoed (&credit, now_us - 3000, now_us + 1000);
    assert_int_equal (credit_window (&credit), short_rtt);
    //  Two periods later (over 10 s each) the 200 µs echo is forgotten.
    for (int i = 1; i <= 3; i++) {
        int64_t at = now_us + i * 11000000LL;
        credit_echoed (&credit, at - 3000, at);
    }
    uint32_t long_rtt = credit_window (&credit);
    assert_true (long_rtt > short_rtt);
    s_assert_about (long_rtt, s_expected (4, 0.1, 3000), 10);
}

static void
a_first_echo_longer_than_the_default_raises_the_window_at_once (void **state)
{
    (void) state;
    //  A worker 100 ms away (a WAN, test_relay_faults.py's relay), running
    //  2 threads x 1 ms tasks: its first echo, not a period later, sets the
    //  round trip (it ran at 2-3 tasks a round trip for 10 s before).
    credit_t credit;
    int64_t now_us = 0;
    credit_init (&credit, 2, 100000, now_us);
    s_run (&credit, 2, 1000, 100, &now_us);         //  0.002 a µs
    s_assert_about (credit_window (&credit), s_expected (2, 0.002, S_DEFAULT_RTT_US), 2);
    credit_echoed (&credit, now_us - 100000, now_us);
    s_assert_about (credit_window (&credit), s_expected (2, 0.002, 100000), 2);
    //  An echo over the 1 s cap is not a measurement: the first one stays.
    credit_echoed (&credit, now_us - 3000000, now_us + 10);
    s_assert_about (credit_window (&credit), s_expected (2, 0.002, 100000), 2);
    //  A shorter one still lowers it at once (the first echo may have
    //  waited for the job to start).
    credit_echoed (&credit, now_us - 20000, now_us + 20);
    s_assert_about (credit_window (&credit), s_expected (2, 0.002, 20000), 2);
}

//  --- when to send -----------------------------------------------------------------

static void
small_window_is_due_again_after_any_change (void **state)
{
    (void) state;
    credit_t credit;
    credit_init (&credit, 8, 1000, 0);
    assert_int_equal (credit_window (&credit), 8);
    //  Never sent: due.
    assert_true (credit_moved (&credit));
    credit_sent (&credit, 8);
    assert_false (credit_moved (&credit));
    credit_sent (&credit, 7);
    assert_true (credit_moved (&credit));
    credit_sent (&credit, 9);
    assert_true (credit_moved (&credit));
    credit_sent (&credit, 16);
    assert_true (credit_moved (&credit));
}

static void
large_window_is_due_again_only_after_a_change_of_an_eighth (void **state)
{
    (void) state;
    credit_t credit;
    credit_init (&credit, 200, 10000, 0);
    assert_int_equal (credit_window (&credit), 200);
    credit_sent (&credit, 200);
    assert_false (credit_moved (&credit));
    //  The window (200) against what was sent: an eighth of 179 is 22.4.
    credit_sent (&credit, 179);
    assert_false (credit_moved (&credit));
    credit_sent (&credit, 177);
    assert_true (credit_moved (&credit));
    //  An eighth of 225 is 28.1, of 232 is 29.
    credit_sent (&credit, 225);
    assert_false (credit_moved (&credit));
    credit_sent (&credit, 232);
    assert_true (credit_moved (&credit));
    //  Once the rate opens the window a long way, it is due.
    credit_sent (&credit, 200);
    int64_t now_us = 0;
    s_run (&credit, 1, 10, 2000, &now_us);
    assert_true (credit_window (&credit) > 200 + 200 / 8);
    assert_true (credit_moved (&credit));
    credit_sent (&credit, credit_window (&credit));
    assert_false (credit_moved (&credit));
}

//  --- fairness ------------------------------------------------------------------

//  Runs a worker of threads threads on 10 ms tasks for 2 s (each thread
//  finishing one task every 10 ms, threads staggered), with 300 µs echoes;
//  writes the smallest and largest window it asked for.
static void
s_run_ten_ms_tasks (size_t threads, uint32_t *lowest, uint32_t *highest)
{
    credit_t credit;
    int64_t now_us = 0;
    credit_init (&credit, threads, 1000, now_us);
    *lowest = *highest = credit_window (&credit);
    int64_t step_us = 10000 / (int64_t) threads;
    for (int step = 0; step < 200 * (int) threads; step++) {
        now_us += step_us;
        credit_completed (&credit, 1, now_us);
        if (step % 7 == 0)
            credit_echoed (&credit, now_us - 300, now_us);
        uint32_t window = credit_window (&credit);
        if (window < *lowest)
            *lowest = window;
        if (window > *highest)
            *highest = window;
    }
}

static void
one_thread_worker_on_ten_ms_tasks_asks_for_at_most_three (void **state)
{
    (void) state;
    uint32_t lowest, highest;
    s_run_ten_ms_tasks (1, &lowest, &highest);
    assert_true (lowest >= 1);
    if (highest > 3)
        fail_msg ("a 1-thread worker asked for %u tasks", highest);
}

static void
eight_thread_worker_on_ten_ms_tasks_asks_for_at_least_eight (void **state)
{
    (void) state;
    uint32_t lowest, highest;
    s_run_ten_ms_tasks (8, &lowest, &highest);
    if (lowest < 8)
        fail_msg ("an 8-thread worker asked for only %u tasks", lowest);
    //  Yet not many more than it can start within a round trip.
    assert_true (highest <= 16);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (window_starts_at_the_threads),
        cmocka_unit_test (window_is_never_above_max),
        cmocka_unit_test (burst_at_a_high_rate_raises_the_window_to_threads_plus_rate_times_budget),
        cmocka_unit_test (window_falls_slowly_after_the_rate_falls),
        cmocka_unit_test (short_bursts_below_the_sample_size_do_not_move_the_window),
        cmocka_unit_test (echoes_of_a_shorter_round_trip_lower_the_window),
        cmocka_unit_test (echoes_of_a_longer_round_trip_raise_the_window_only_in_a_later_period),
        cmocka_unit_test (a_first_echo_longer_than_the_default_raises_the_window_at_once),
        cmocka_unit_test (small_window_is_due_again_after_any_change),
        cmocka_unit_test (large_window_is_due_again_only_after_a_change_of_an_eighth),
        cmocka_unit_test (one_thread_worker_on_ten_ms_tasks_asks_for_at_most_three),
        cmocka_unit_test (eight_thread_worker_on_ten_ms_tasks_asks_for_at_least_eight),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
