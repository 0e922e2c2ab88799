/*  test_plugin_loader: what a plugin's handler is given and what becomes of
    what it returns, through the ABI's adapters (tests/plugins/probe_plugin.c;
    the ways a plugin is refused are tests/process/test_plugins.py's). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "plugin_loader.h"
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    handler_registry_t *registry;
    plugin_loader_t *plugin;
    void **states;                  //  one executor thread's
} s_fixture_t;

static int
s_setup (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) calloc (1, sizeof (s_fixture_t));
    const char *paths [] = { PROBE_PLUGIN };
    char error [512];
    fixture->registry = plugin_loader_registry (paths, 1, &fixture->plugin, error, sizeof error);
    if (!fixture->registry) {
        fprintf (stderr, "%s\n", error);
        free (fixture);
        return -1;
    }
    fixture->states = handler_registry_thread_init (fixture->registry);
    *state = fixture;
    return 0;
}

static int
s_teardown (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    handler_registry_thread_fini (fixture->registry, &fixture->states);
    handler_registry_destroy (&fixture->registry);
    plugin_loader_unload (&fixture->plugin);
    free (fixture);
    return 0;
}

//  Runs type on payload; the caller finis output.
static void
s_run (s_fixture_t *fixture, const char *type, const char *payload, void **states,
       handler_output_t *output)
{
    handler_input_t input = { .payload = (const uint8_t *) payload,
                              .payload_size = strlen (payload), .type = type, .id = "t7",
                              .attempt = 3, .thread_states = states };
    handler_registry_run (fixture->registry, type, &input, output);
}

static void
s_expect_output (handler_output_t *output, const char *text)
{
    assert_int_equal (output->status, TM_STATUS_OK);
    assert_int_equal (output->output_size, strlen (text));
    assert_memory_equal (output->output, text, strlen (text));
}

static void
handler_sees_type_id_attempt_deadline_and_cancelled (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    volatile int cancelled = 0;
    handler_input_t input = { .payload = (const uint8_t *) "", .type = "probe-task", .id = "t7",
                              .attempt = 3, .deadline_us = 12345, .cancelled = &cancelled };
    handler_output_t output;
    handler_registry_run (fixture->registry, "probe-task", &input, &output);
    s_expect_output (&output, "type=probe-task id=t7 attempt=3 deadline=set cancelled=0");
    handler_output_fini (&output);
    cancelled = 1;
    input.deadline_us = 0;
    handler_registry_run (fixture->registry, "probe-task", &input, &output);
    s_expect_output (&output, "type=probe-task id=t7 attempt=3 deadline=none cancelled=1");
    handler_output_fini (&output);
    input.cancelled = NULL;         //  a flag that never rises, never NULL for the handler
    handler_registry_run (fixture->registry, "probe-task", &input, &output);
    s_expect_output (&output, "type=probe-task id=t7 attempt=3 deadline=none cancelled=0");
    handler_output_fini (&output);
}

static void
output_stops_at_the_workers_bound_and_write_says_so (void **state)
{
    handler_output_t output;
    s_run ((s_fixture_t *) *state, "probe-big", "", NULL, &output);
    assert_int_equal (output.status, TM_STATUS_FAILED);
    assert_string_equal (output.error, "refused after 1048576 bytes");
    assert_int_equal (output.output_size, HANDLER_MAX_OUTPUT_BYTES);
    handler_output_fini (&output);
}

static void
fail_keeps_timeout_and_rejected_and_makes_the_rest_failed (void **state)
{
    static const struct {
        const char *payload;
        tm_status_t status;
    } cases [] = {
        { "3", TM_STATUS_TIMEOUT }, { "5", TM_STATUS_REJECTED }, { "2", TM_STATUS_FAILED },
        { "1", TM_STATUS_FAILED },          //  ok is no way to fail
        { "4", TM_STATUS_FAILED },          //  no_handler is the worker's to say
        { "99", TM_STATUS_FAILED },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        handler_output_t output;
        s_run ((s_fixture_t *) *state, "probe-fail", cases [i].payload, NULL, &output);
        assert_int_equal (output.status, cases [i].status);
        assert_string_equal (output.error, "probe");
        handler_output_fini (&output);
    }
}

static void
each_thread_has_its_own_state_from_thread_init_until_thread_fini (void **state)
{
    s_fixture_t *fixture = (s_fixture_t *) *state;
    void **other = handler_registry_thread_init (fixture->registry);
    const char *expected [] = { "1", "2", "1", "3" };
    void **on [] = { fixture->states, fixture->states, other, fixture->states };
    for (size_t i = 0; i < 4; i++) {
        handler_output_t output;
        s_run (fixture, "probe-state", "", on [i], &output);
        s_expect_output (&output, expected [i]);
        handler_output_fini (&output);
    }
    //  RTLD_NOLOAD: the plugin the registry loaded, not a second copy.
    void *library = dlopen (PROBE_PLUGIN, RTLD_NOW | RTLD_NOLOAD);
    assert_non_null (library);
    int *fini_calls = (int *) dlsym (library, "probe_fini_calls");
    assert_non_null (fini_calls);
    int before = *fini_calls;
    handler_registry_thread_fini (fixture->registry, &other);
    assert_null (other);
    assert_int_equal (*fini_calls, before + 1);
    dlclose (library);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (handler_sees_type_id_attempt_deadline_and_cancelled),
        cmocka_unit_test (output_stops_at_the_workers_bound_and_write_says_so),
        cmocka_unit_test (fail_keeps_timeout_and_rejected_and_makes_the_rest_failed),
        cmocka_unit_test (each_thread_has_its_own_state_from_thread_init_until_thread_fini),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
