/*  Tests for the handler registry and the built-in handlers: what each
    handler returns for a normal payload, how it fails on a bad one, and
    that deadlines are kept (sleep, sha256, exec) without waiting out the
    work. Every wait here is bounded by a task deadline.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "handler_registry.h"
#include "handlers/handlers.h"
#include "tm_clock.h"
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define ABC_SHA256 "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static int
s_setup (void **state)
{
    handler_registry_t *registry = handler_registry_new ();
    handler_registry_add_builtins (registry);
    *state = registry;
    return 0;
}

static int
s_teardown (void **state)
{
    handler_registry_t *registry = (handler_registry_t *) *state;
    handler_registry_destroy (&registry);
    assert_null (registry);
    return 0;
}

//  Runs type on payload through the registry, with a deadline timeout_ms
//  from now (0: none).
static void
s_run (void **state, const char *type, const void *payload, size_t size,
       uint32_t timeout_ms, bool allow_exec, handler_output_t *output)
{
    handler_input_t input = {
        .payload = (const uint8_t *) payload,
        .payload_size = size,
        .timeout_ms = timeout_ms,
        .deadline_us = timeout_ms ? tm_clock_now_us () + (int64_t) timeout_ms * 1000 : 0,
        .allow_exec = allow_exec
    };
    handler_registry_run ((handler_registry_t *) *state, type, &input, output);
}

static void
s_run_text (void **state, const char *type, const char *payload,
            uint32_t timeout_ms, handler_output_t *output)
{
    s_run (state, type, payload, strlen (payload), timeout_ms, true, output);
}

static void
assert_output_text (const handler_output_t *output, const char *expected)
{
    assert_int_equal (output->output_size, strlen (expected));
    assert_memory_equal (output->output, expected, output->output_size);
}

static void
s_hex (const uint8_t *digest, char *hex)
{
    for (size_t index = 0; index < 32; index++)
        sprintf (hex + 2 * index, "%02x", digest [index]);
}

//  --- registry ---------------------------------------------------------------

static void
s_fixed_handler (const handler_input_t *input, handler_output_t *output)
{
    (void) input;
    handler_output_set (output, "fixed", 5);
}

static void
registry_add_rejects_empty_and_overlong_names (void **state)
{
    handler_registry_t *registry = (handler_registry_t *) *state;
    char name [TM_MAX_TYPE_BYTES + 2];
    memset (name, 'x', sizeof (name));
    name [TM_MAX_TYPE_BYTES + 1] = 0;
    assert_int_equal (handler_registry_add (registry, "", s_fixed_handler), -1);
    assert_int_equal (handler_registry_add (registry, name, s_fixed_handler), -1);
    name [TM_MAX_TYPE_BYTES] = 0;
    assert_int_equal (handler_registry_add (registry, name, s_fixed_handler), 0);
    assert_ptr_equal (handler_registry_lookup (registry, name), s_fixed_handler);
}

static void
registry_add_replaces_an_existing_handler (void **state)
{
    (void) state;
    handler_registry_t *registry = handler_registry_new ();
    handler_registry_add_builtins (registry);
    assert_ptr_equal (handler_registry_lookup (registry, "echo"), handler_echo);
    assert_int_equal (handler_registry_add (registry, "echo", s_fixed_handler), 0);
    assert_ptr_equal (handler_registry_lookup (registry, "echo"), s_fixed_handler);
    handler_registry_destroy (&registry);
}

static void
registry_grows_past_its_first_capacity (void **state)
{
    (void) state;
    handler_registry_t *registry = handler_registry_new ();
    char name [16];
    for (int index = 0; index < 100; index++) {
        snprintf (name, sizeof (name), "type-%d", index);
        assert_int_equal (handler_registry_add (registry, name, s_fixed_handler), 0);
    }
    assert_ptr_equal (handler_registry_lookup (registry, "type-0"), s_fixed_handler);
    assert_ptr_equal (handler_registry_lookup (registry, "type-99"), s_fixed_handler);
    assert_null (handler_registry_lookup (registry, "type-100"));
    handler_registry_destroy (&registry);
    handler_registry_destroy (&registry);
}

static void
unknown_type_returns_no_handler (void **state)
{
    handler_output_t output;
    s_run_text (state, "nope", "x", 0, &output);
    assert_int_equal (output.status, TM_STATUS_NO_HANDLER);
    assert_string_equal (output.error, "no handler for type 'nope'");
    assert_null (output.output);
    handler_output_fini (&output);
}

static void
output_fail_cuts_long_errors_at_the_wire_limit (void **state)
{
    (void) state;
    handler_output_t output;
    handler_output_init (&output);
    char *text = (char *) malloc (3 * TM_MAX_ERROR_BYTES);
    //  "é" is two bytes: an odd prefix puts a cut inside one.
    text [0] = 'x';
    for (size_t at = 1; at + 2 < 3 * TM_MAX_ERROR_BYTES; at += 2)
        memcpy (text + at, "\xc3\xa9", 2);
    text [3 * TM_MAX_ERROR_BYTES - 1] = 0;
    handler_output_fail (&output, TM_STATUS_FAILED, "%sx", text);
    size_t length = strlen (output.error);
    assert_true (length <= TM_MAX_ERROR_BYTES);
    assert_true (length >= TM_MAX_ERROR_BYTES - 1);
    assert_int_equal ((uint8_t) output.error [length - 1], 0xa9);
    free (text);
    handler_output_fini (&output);
}

//  --- echo, noop, count-words -----------------------------------------------

static void
echo_returns_the_payload (void **state)
{
    handler_output_t output;
    s_run (state, "echo", "a\0b", 3, 0, false, &output);
    assert_int_equal (output.status, TM_STATUS_OK);
    assert_int_equal (output.output_size, 3);
    assert_memory_equal (output.output, "a\0b", 3);
    assert_null (output.error);
    handler_output_fini (&output);
}

static void
echo_cuts_output_at_the_bound (void **state)
{
    size_t size = HANDLER_MAX_OUTPUT_BYTES + 1000;
    uint8_t *payload = (uint8_t *) calloc (1, size);
    handler_output_t output;
    s_run (state, "echo", payload, size, 0, false, &output);
    assert_int_equal (output.status, TM_STATUS_OK);
    assert_int_equal (output.output_size, HANDLER_MAX_OUTPUT_BYTES);
    handler_output_fini (&output);
    free (payload);
}

static void
noop_succeeds_without_output (void **state)
{
    handler_output_t output;
    s_run_text (state, "noop", "ignored", 0, &output);
    assert_int_equal (output.status, TM_STATUS_OK);
    assert_null (output.output);
    assert_int_equal (output.output_size, 0);
    assert_null (output.error);
    handler_output_fini (&output);
}

static void
count_words_counts_whitespace_separated_words (void **state)
{
    handler_output_t output;
    s_run_text (state, "count-words", "  a b\tc\n", 0, &output);
    assert_int_equal (output.status, TM_STATUS_OK);
    assert_output_text (&output, "3");
    handler_output_fini (&output);

    s_run_text (state, "count-words", "", 0, &output);
    assert_output_text (&output, "0");
    handler_output_fini (&output);

    s_run_text (state, "count-words", "héllo wörld\r\nx", 0, &output);
    assert_output_text (&output, "3");
    handler_output_fini (&output);
}

//  --- sleep ------------------------------------------------------------------

static void
sleep_waits_the_given_milliseconds (void **state)
{
    int64_t start_us = tm_clock_now_us ();
    handler_output_t output;
    s_run_text (state, "sleep", "20", 5000, &output);
    int64_t elapsed_us = tm_clock_now_us () - start_us;
    assert_int_equal (output.status, TM_STATUS_OK);
    assert_null (output.output);
    assert_true (elapsed_us >= 20000);
    assert_true (elapsed_us < 2000000);
    handler_output_fini (&output);
}

static void
sleep_rejects_a_payload_that_is_not_milliseconds (void **state)
{
    const char *bad [] = { "", "abc", "-5", "+5", " 5", "10x", "1.5", "4294967296" };
    for (size_t index = 0; index < sizeof (bad) / sizeof (bad [0]); index++) {
        handler_output_t output;
        s_run_text (state, "sleep", bad [index], 0, &output);
        assert_int_equal (output.status, TM_STATUS_FAILED);
        assert_non_null (strstr (output.error, "milliseconds"));
        handler_output_fini (&output);
    }
}

static void
sleep_past_deadline_returns_timeout (void **state)
{
    int64_t start_us = tm_clock_now_us ();
    handler_output_t output;
    s_run_text (state, "sleep", "10000", 50, &output);
    int64_t elapsed_us = tm_clock_now_us () - start_us;
    assert_int_equal (output.status, TM_STATUS_TIMEOUT);
    assert_string_equal (output.error, "timed out after 50 ms");
    assert_true (elapsed_us >= 50000);
    assert_true (elapsed_us < 2000000);
    handler_output_fini (&output);
}

//  --- sha256 -----------------------------------------------------------------

static void
sha256_of_abc_is_the_known_digest (void **state)
{
    handler_output_t output;
    s_run_text (state, "sha256", "abc", 0, &output);
    assert_int_equal (output.status, TM_STATUS_OK);
    assert_output_text (&output, ABC_SHA256);
    handler_output_fini (&output);

    s_run_text (state, "sha256", "rounds=1;abc", 0, &output);
    assert_output_text (&output, ABC_SHA256);
    handler_output_fini (&output);
}

static void
sha256_rounds_two_hashes_the_raw_digest_again (void **state)
{
    uint8_t first [32], second [32];
    unsigned int size;
    assert_true (EVP_Digest ("abc", 3, first, &size, EVP_sha256 (), NULL));
    assert_true (EVP_Digest (first, 32, second, &size, EVP_sha256 (), NULL));
    char expected [65];
    s_hex (second, expected);

    handler_output_t output;
    s_run_text (state, "sha256", "rounds=2;abc", 0, &output);
    assert_int_equal (output.status, TM_STATUS_OK);
    assert_output_text (&output, expected);
    handler_output_fini (&output);
}

static void
sha256_rejects_a_bad_rounds_prefix (void **state)
{
    const char *bad [] = {
        "rounds=0;abc", "rounds=;abc", "rounds=abc;x", "rounds=10000001;x",
        "rounds=5abc", "rounds=-1;x", "rounds= 5;x", "rounds="
    };
    for (size_t index = 0; index < sizeof (bad) / sizeof (bad [0]); index++) {
        handler_output_t output;
        s_run_text (state, "sha256", bad [index], 0, &output);
        assert_int_equal (output.status, TM_STATUS_FAILED);
        assert_non_null (strstr (output.error, "rounds=N;"));
        handler_output_fini (&output);
    }
}

static void
sha256_without_the_prefix_hashes_the_whole_payload (void **state)
{
    uint8_t digest [32];
    unsigned int size;
    assert_true (EVP_Digest ("round=2;abc", 11, digest, &size, EVP_sha256 (), NULL));
    char expected [65];
    s_hex (digest, expected);
    handler_output_t output;
    s_run_text (state, "sha256", "round=2;abc", 0, &output);
    assert_output_text (&output, expected);
    handler_output_fini (&output);
}

static void
sha256_many_rounds_past_deadline_returns_timeout (void **state)
{
    int64_t start_us = tm_clock_now_us ();
    handler_output_t output;
    s_run_text (state, "sha256", "rounds=10000000;abc", 20, &output);
    int64_t elapsed_us = tm_clock_now_us () - start_us;
    assert_int_equal (output.status, TM_STATUS_TIMEOUT);
    assert_string_equal (output.error, "timed out after 20 ms");
    assert_null (output.output);
    assert_true (elapsed_us < 1000000);
    handler_output_fini (&output);
}

//  --- exec -------------------------------------------------------------------

//  True if pid ends (or has ended) within timeout_ms. A pidfd turns
//  readable when the process exits, whoever its parent is.
static bool
s_process_ends_within (pid_t pid, int timeout_ms)
{
    int fd = (int) syscall (SYS_pidfd_open, pid, 0);
    if (fd < 0)
        return errno == ESRCH;
    struct pollfd item = { .fd = fd, .events = POLLIN };
    int rc = poll (&item, 1, timeout_ms);
    close (fd);
    return rc == 1;
}

static void
exec_is_rejected_without_allow_exec (void **state)
{
    handler_output_t output;
    s_run (state, "exec", "echo hi", 7, 0, false, &output);
    assert_int_equal (output.status, TM_STATUS_REJECTED);
    assert_string_equal (output.error, "exec not allowed: start the worker with --allow-exec");
    assert_null (output.output);
    handler_output_fini (&output);
}

static void
exec_returns_stdout_and_exit_code_zero (void **state)
{
    handler_output_t output;
    s_run_text (state, "exec", "echo hi", 5000, &output);
    assert_int_equal (output.status, TM_STATUS_OK);
    assert_int_equal (output.exit_code, 0);
    assert_output_text (&output, "hi\n");
    assert_null (output.error);
    handler_output_fini (&output);
}

static void
exec_nonzero_exit_fails_with_the_status_and_stderr_tail (void **state)
{
    handler_output_t output;
    s_run_text (state, "exec", "echo partial; echo oops >&2; exit 3", 5000, &output);
    assert_int_equal (output.status, TM_STATUS_FAILED);
    assert_int_equal (output.exit_code, 3);
    assert_string_equal (output.error, "exit status 3: oops");
    assert_output_text (&output, "partial\n");
    handler_output_fini (&output);

    s_run_text (state, "exec", "exit 3", 5000, &output);
    assert_int_equal (output.status, TM_STATUS_FAILED);
    assert_int_equal (output.exit_code, 3);
    assert_string_equal (output.error, "exit status 3");
    handler_output_fini (&output);
}

static void
exec_keeps_only_the_end_of_a_long_stderr (void **state)
{
    handler_output_t output;
    s_run_text (state, "exec", "head -c 100000 /dev/zero | tr '\\0' a >&2; echo END >&2; exit 1",
                5000, &output);
    assert_int_equal (output.status, TM_STATUS_FAILED);
    size_t length = strlen (output.error);
    assert_true (length <= TM_MAX_ERROR_BYTES);
    assert_true (length > 4000);
    assert_memory_equal (output.error, "exit status 1: aaa", 18);
    assert_string_equal (output.error + length - 4, "aEND");
    handler_output_fini (&output);
}

static void
exec_killed_by_a_signal_reports_minus_the_signal (void **state)
{
    handler_output_t output;
    s_run_text (state, "exec", "kill -9 $$", 5000, &output);
    assert_int_equal (output.status, TM_STATUS_FAILED);
    assert_int_equal (output.exit_code, -SIGKILL);
    assert_string_equal (output.error, "killed by signal 9");
    handler_output_fini (&output);
}

static void
exec_past_deadline_kills_the_whole_process_group (void **state)
{
    int64_t start_us = tm_clock_now_us ();
    handler_output_t output;
    s_run_text (state, "exec", "sleep 30 & echo $!; sleep 30", 200, &output);
    int64_t elapsed_us = tm_clock_now_us () - start_us;
    assert_int_equal (output.status, TM_STATUS_TIMEOUT);
    assert_string_equal (output.error, "timed out after 200 ms");
    assert_int_equal (output.exit_code, -SIGKILL);
    assert_true (elapsed_us >= 200000);
    assert_true (elapsed_us < 2000000);
    //  The background sleep was in the shell's group: it must be gone too.
    assert_non_null (output.output);
    pid_t background = (pid_t) strtol ((const char *) output.output, NULL, 10);
    assert_true (background > 0);
    assert_true (s_process_ends_within (background, 2000));
    handler_output_fini (&output);
}

static void
exec_leaves_no_background_process_behind (void **state)
{
    int64_t start_us = tm_clock_now_us ();
    handler_output_t output;
    //  The background sleep keeps stdout open: without the group kill at the
    //  shell's exit the task would last until its deadline.
    s_run_text (state, "exec", "sleep 30 & echo $!", 5000, &output);
    int64_t elapsed_us = tm_clock_now_us () - start_us;
    assert_int_equal (output.status, TM_STATUS_OK);
    assert_true (elapsed_us < 2000000);
    pid_t background = (pid_t) strtol ((const char *) output.output, NULL, 10);
    assert_true (background > 0);
    assert_true (s_process_ends_within (background, 2000));
    handler_output_fini (&output);
}

static void
exec_cuts_stdout_at_the_bound_without_blocking_the_command (void **state)
{
    handler_output_t output;
    s_run_text (state, "exec", "head -c 2000000 /dev/zero", 5000, &output);
    assert_int_equal (output.status, TM_STATUS_OK);
    assert_int_equal (output.exit_code, 0);
    assert_int_equal (output.output_size, HANDLER_MAX_OUTPUT_BYTES);
    handler_output_fini (&output);
}

//  --max-output: a lower limit cuts what echo, exec and plugins return; a
//  higher one lets more through.
static void
a_lowered_output_limit_cuts_every_handler (void **state)
{
    handler_input_t input = { .payload = (const uint8_t *) "0123456789", .payload_size = 10,
                              .allow_exec = true, .max_output_bytes = 4 };
    handler_output_t output;
    handler_registry_run ((handler_registry_t *) *state, "echo", &input, &output);
    assert_int_equal (output.status, TM_STATUS_OK);
    assert_int_equal (output.output_size, 4);
    assert_memory_equal (output.output, "0123", 4);
    handler_output_fini (&output);
    const char *command = "head -c 100000 /dev/zero";
    input.payload = (const uint8_t *) command;
    input.payload_size = strlen (command);
    input.deadline_us = tm_clock_now_us () + 5000000;
    input.max_output_bytes = 1000;
    handler_registry_run ((handler_registry_t *) *state, "exec", &input, &output);
    assert_int_equal (output.status, TM_STATUS_OK);
    assert_int_equal (output.output_size, 1000);
    handler_output_fini (&output);
    command = "head -c 2000000 /dev/zero";
    input.payload = (const uint8_t *) command;
    input.payload_size = strlen (command);
    input.max_output_bytes = 1500000;
    handler_registry_run ((handler_registry_t *) *state, "exec", &input, &output);
    assert_int_equal (output.output_size, 1500000);
    handler_output_fini (&output);
}

static void
exec_reads_stdin_from_dev_null (void **state)
{
    handler_output_t output;
    s_run_text (state, "exec", "cat; echo done", 5000, &output);
    assert_int_equal (output.status, TM_STATUS_OK);
    assert_output_text (&output, "done\n");
    handler_output_fini (&output);
}

static void
exec_rejects_a_command_with_a_nul_byte (void **state)
{
    handler_output_t output;
    s_run (state, "exec", "echo a\0b", 8, 5000, true, &output);
    assert_int_equal (output.status, TM_STATUS_FAILED);
    assert_non_null (strstr (output.error, "NUL"));
    handler_output_fini (&output);
}

static void
exec_does_not_inherit_blocked_signals (void **state)
{
    //  Executor threads block SIGTERM; the command must still die of it.
    sigset_t block, old;
    sigemptyset (&block);
    sigaddset (&block, SIGTERM);
    pthread_sigmask (SIG_BLOCK, &block, &old);
    handler_output_t output;
    s_run_text (state, "exec", "kill -TERM $$; echo survived", 5000, &output);
    pthread_sigmask (SIG_SETMASK, &old, NULL);
    assert_int_equal (output.exit_code, -SIGTERM);
    assert_null (output.output);
    handler_output_fini (&output);
}

static int
s_open_fd_count (void)
{
    int count = 0;
    for (int fd = 0; fd < 1024; fd++)
        if (fcntl (fd, F_GETFD) != -1)
            count++;
    return count;
}

static void
exec_closes_its_descriptors_and_reaps_its_children (void **state)
{
    int before = s_open_fd_count ();
    handler_output_t output;
    s_run_text (state, "exec", "echo out; echo err >&2; exit 1", 5000, &output);
    assert_int_equal (output.status, TM_STATUS_FAILED);
    handler_output_fini (&output);
    s_run_text (state, "exec", "sleep 5", 50, &output);
    assert_int_equal (output.status, TM_STATUS_TIMEOUT);
    handler_output_fini (&output);
    assert_int_equal (s_open_fd_count (), before);
    //  Every shell this test process started has been waited for.
    assert_int_equal (waitpid (-1, NULL, WNOHANG), -1);
    assert_int_equal (errno, ECHILD);
}

typedef struct {
    handler_registry_t *registry;
    int failures;
} s_thread_args_t;

static void *
s_exec_many (void *arg)
{
    s_thread_args_t *args = (s_thread_args_t *) arg;
    void *state = args->registry;
    for (int round = 0; round < 10; round++) {
        handler_output_t output;
        s_run_text (&state, "exec", "echo $$", 5000, &output);
        if (output.status != TM_STATUS_OK || output.output_size < 2)
            args->failures++;
        handler_output_fini (&output);
    }
    return NULL;
}

static void
exec_runs_from_several_threads_at_once (void **state)
{
    pthread_t threads [4];
    s_thread_args_t args [4];
    for (int index = 0; index < 4; index++) {
        args [index] = (s_thread_args_t) { .registry = (handler_registry_t *) *state };
        assert_int_equal (pthread_create (&threads [index], NULL, s_exec_many, &args [index]), 0);
    }
    for (int index = 0; index < 4; index++) {
        pthread_join (threads [index], NULL);
        assert_int_equal (args [index].failures, 0);
    }
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (registry_add_rejects_empty_and_overlong_names),
        cmocka_unit_test (registry_add_replaces_an_existing_handler),
        cmocka_unit_test (registry_grows_past_its_first_capacity),
        cmocka_unit_test (unknown_type_returns_no_handler),
        cmocka_unit_test (output_fail_cuts_long_errors_at_the_wire_limit),
        cmocka_unit_test (echo_returns_the_payload),
        cmocka_unit_test (echo_cuts_output_at_the_bound),
        cmocka_unit_test (noop_succeeds_without_output),
        cmocka_unit_test (count_words_counts_whitespace_separated_words),
        cmocka_unit_test (sleep_waits_the_given_milliseconds),
        cmocka_unit_test (sleep_rejects_a_payload_that_is_not_milliseconds),
        cmocka_unit_test (sleep_past_deadline_returns_timeout),
        cmocka_unit_test (sha256_of_abc_is_the_known_digest),
        cmocka_unit_test (sha256_rounds_two_hashes_the_raw_digest_again),
        cmocka_unit_test (sha256_rejects_a_bad_rounds_prefix),
        cmocka_unit_test (sha256_without_the_prefix_hashes_the_whole_payload),
        cmocka_unit_test (sha256_many_rounds_past_deadline_returns_timeout),
        cmocka_unit_test (exec_is_rejected_without_allow_exec),
        cmocka_unit_test (a_lowered_output_limit_cuts_every_handler),
        cmocka_unit_test (exec_returns_stdout_and_exit_code_zero),
        cmocka_unit_test (exec_nonzero_exit_fails_with_the_status_and_stderr_tail),
        cmocka_unit_test (exec_keeps_only_the_end_of_a_long_stderr),
        cmocka_unit_test (exec_killed_by_a_signal_reports_minus_the_signal),
        cmocka_unit_test (exec_past_deadline_kills_the_whole_process_group),
        cmocka_unit_test (exec_leaves_no_background_process_behind),
        cmocka_unit_test (exec_cuts_stdout_at_the_bound_without_blocking_the_command),
        cmocka_unit_test (exec_reads_stdin_from_dev_null),
        cmocka_unit_test (exec_rejects_a_command_with_a_nul_byte),
        cmocka_unit_test (exec_does_not_inherit_blocked_signals),
        cmocka_unit_test (exec_runs_from_several_threads_at_once),
        cmocka_unit_test (exec_closes_its_descriptors_and_reaps_its_children),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
