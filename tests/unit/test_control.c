/*  test_control: the control socket over loopback, with real SUBs: a
    worker's subscription ("") is not junk; any other makes the socket bind
    again, after which a worker's SUB (reconnecting by itself) hears the
    master again. Waits are polls with deadlines.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "control.h"
#include "tm_clock.h"
#include "tm_socket.h"
#include <string.h>

#define S_DEADLINE_US 5000000
#define S_JOB "job-control"

static zsock_t *
s_sub (const char *endpoint, const char *topic)
{
    zsock_t *sub = zsock_new (ZMQ_SUB);
    assert_non_null (sub);
    zsock_set_reconnect_ivl (sub, 10);
    zsock_set_reconnect_ivl_max (sub, 100);
    zsock_set_subscribe (sub, topic);
    assert_int_equal (zsock_connect (sub, "%s", endpoint), 0);
    return sub;
}

//  Ticks and announces until sub hears a JOB_START; false at the deadline.
static bool
s_heard (control_t *control, zsock_t *sub)
{
    int64_t deadline_us = tm_clock_now_us () + S_DEADLINE_US;
    while (tm_clock_now_us () < deadline_us) {
        if (control_tick (control, tm_clock_now_us ()))
            control_send (control, TM_CONTROL_JOB_START, S_JOB);
        zpoller_t *poller = zpoller_new (sub, NULL);
        bool ready = zpoller_wait (poller, 20) == sub;
        zpoller_destroy (&poller);
        if (!ready)
            continue;
        zframe_t *frame = zframe_recv (sub);
        tm_control_kind_t kind;
        char job_id [TM_MAX_JOB_ID_BYTES + 1];
        tm_decode_status_t status = tm_codec_decode_control (zframe_data (frame),
                                                             zframe_size (frame), &kind,
                                                             job_id, sizeof job_id);
        zframe_destroy (&frame);
        if (status == TM_DECODE_OK && kind == TM_CONTROL_JOB_START && streq (job_id, S_JOB))
            return true;
    }
    return false;
}

//  A control socket on a port of its own, and the endpoint it bound.
static control_t *
s_control (char *endpoint, size_t size)
{
    control_t *control = control_new ("tcp://127.0.0.1:*", NULL);
    assert_non_null (control);
    snprintf (endpoint, size, "%s", control_endpoint (control));
    return control;
}

static void
a_worker_hears_the_master_and_nothing_is_junk (void **state)
{
    (void) state;
    char endpoint [64];
    control_t *control = s_control (endpoint, sizeof endpoint);
    zsock_t *worker = s_sub (endpoint, "");
    assert_true (s_heard (control, worker));
    assert_int_equal (control_junk (control), 0);
    assert_int_equal (control_rebinds (control), 0);
    zsock_destroy (&worker);
    control_destroy (&control, 0);
}

static void
a_junk_subscription_binds_again_and_workers_hear_the_master_after (void **state)
{
    (void) state;
    char endpoint [64];
    control_t *control = s_control (endpoint, sizeof endpoint);
    zsock_t *worker = s_sub (endpoint, "");
    assert_true (s_heard (control, worker));
    zsock_t *attacker = s_sub (endpoint, "junk topic");
    int64_t deadline_us = tm_clock_now_us () + S_DEADLINE_US;
    while (control_rebinds (control) == 0 && tm_clock_now_us () < deadline_us) {
        control_tick (control, tm_clock_now_us ());
        zmq_poll (NULL, 0, 10);
    }
    assert_int_equal (control_rebinds (control), 1);
    assert_true (control_junk (control) >= 1);
    //  The worker's SUB reconnected by itself to the socket bound again.
    assert_true (s_heard (control, worker));
    zsock_destroy (&attacker);
    zsock_destroy (&worker);
    control_destroy (&control, 0);
}

int
main (void)
{
    zsys_init ();
    zsys_set_logstream (stderr);
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (a_worker_hears_the_master_and_nothing_is_junk),
        cmocka_unit_test (a_junk_subscription_binds_again_and_workers_hear_the_master_after),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
