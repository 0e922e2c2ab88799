/*  test_concat: outputs in seq order, from this run and, on --resume, read
    back from an earlier run's results (a source in memory here), with what
    waits bounded by the window. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "concat.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_MAX_SEQ 64

//  An earlier run's results in the order its results file has them.
typedef struct {
    concat_origin_t origin [S_MAX_SEQ];     //  by seq; CONCAT_LIVE (0) unless set
    uint64_t order [S_MAX_SEQ];             //  the ok seqs, in file order
    size_t count;
    size_t at;
    char output [8];
    int passes;
} s_earlier_t;

static concat_origin_t
s_origin (void *source, uint64_t seq)
{
    s_earlier_t *earlier = (s_earlier_t *) source;
    return seq < S_MAX_SEQ ? earlier->origin [seq] : CONCAT_LIVE;
}

static int
s_next (void *source, uint64_t *seq, const uint8_t **output, size_t *size)
{
    s_earlier_t *earlier = (s_earlier_t *) source;
    if (earlier->at == earlier->count)
        return 0;
    *seq = earlier->order [earlier->at++];
    snprintf (earlier->output, sizeof earlier->output, "%" PRIu64 " ", *seq);
    *output = (const uint8_t *) earlier->output;
    *size = strlen (earlier->output);
    return 1;
}

static int
s_rewind (void *source)
{
    s_earlier_t *earlier = (s_earlier_t *) source;
    earlier->at = 0;
    earlier->passes++;
    return 0;
}

//  An earlier run that finished these seqs ok, in this file order.
static void
s_earlier_ok (s_earlier_t *earlier, const uint64_t *seqs, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        earlier->origin [seqs [i]] = CONCAT_EARLIER_OK;
        earlier->order [earlier->count++] = seqs [i];
    }
}

static concat_t *
s_new (char *path, size_t window)
{
    snprintf (path, 64, "/tmp/test_concat_%d.out", (int) getpid ());
    char error [256];
    concat_t *self = concat_new (path, window, error, sizeof error);
    assert_non_null (self);
    return self;
}

static void
s_add (concat_t *self, uint64_t seq)
{
    char output [8];
    snprintf (output, sizeof output, "%" PRIu64 " ", seq);
    concat_add (self, seq, (const uint8_t *) output, strlen (output));
}

//  Finishes self and returns what its file holds (the caller frees it).
static char *
s_finish (concat_t **self_p, const char *path, int expected_rc)
{
    assert_int_equal (concat_finish (*self_p), expected_rc);
    concat_destroy (self_p);
    FILE *file = fopen (path, "r");
    assert_non_null (file);
    char *text = (char *) calloc (1, 1024);
    assert_true (fread (text, 1, 1023, file) < 1023);
    fclose (file);
    unlink (path);
    return text;
}

static void
live_outputs_wait_for_the_seqs_before_them_and_count_once (void **state)
{
    (void) state;
    char path [64];
    concat_t *self = s_new (path, 8);
    s_add (self, 3);
    s_add (self, 1);
    assert_int_equal (concat_waiting_for (self), 2);
    concat_skip (self, 2);                      //  final, not ok
    s_add (self, 1);                            //  a duplicate
    s_add (self, 3);                            //  and another
    s_add (self, 4);
    concat_stats_t stats;
    concat_stats (self, &stats);
    assert_int_equal (stats.written_through, 4);
    assert_int_equal (stats.most_waiting, 1);
    char *text = s_finish (&self, path, 0);
    assert_string_equal (text, "1 3 4 ");
    free (text);
}

static void
seq_limit_is_a_window_past_the_seq_the_file_waits_for (void **state)
{
    (void) state;
    char path [64];
    concat_t *self = s_new (path, 5);
    assert_int_equal (concat_seq_limit (self), 5);
    s_add (self, 1);
    s_add (self, 3);
    assert_int_equal (concat_seq_limit (self), 6);      //  2 holds it
    s_add (self, 2);
    assert_int_equal (concat_seq_limit (self), 8);
    free (s_finish (&self, path, 0));
}

static void
resume_writes_what_the_earlier_run_finished_before_dispatch (void **state)
{
    (void) state;
    char path [64];
    concat_t *self = s_new (path, 8);
    s_earlier_t earlier = { .count = 0 };
    s_earlier_ok (&earlier, (uint64_t []) { 4, 1, 2 }, 3);
    earlier.origin [3] = CONCAT_EARLIER_NOT_OK;
    concat_source_t source = { s_origin, s_next, s_rewind, &earlier };
    concat_resume (self, &source);
    assert_int_equal (concat_waiting_for (self), 5);    //  the first seq of this run
    s_add (self, 5);
    concat_stats_t stats;
    concat_stats (self, &stats);
    assert_int_equal (stats.from_earlier, 3);
    assert_int_equal (stats.rescans, 0);
    char *text = s_finish (&self, path, 0);
    assert_string_equal (text, "1 2 4 5 ");
    free (text);
}

static void
earlier_and_live_outputs_interleave_in_seq_order (void **state)
{
    (void) state;
    char path [64];
    concat_t *self = s_new (path, 4);
    s_earlier_t earlier = { .count = 0 };
    s_earlier_ok (&earlier, (uint64_t []) { 6, 2, 9, 5 }, 4);
    earlier.origin [3] = CONCAT_EARLIER_NOT_OK;
    concat_source_t source = { s_origin, s_next, s_rewind, &earlier };
    concat_resume (self, &source);
    assert_int_equal (concat_waiting_for (self), 1);
    s_add (self, 4);
    s_add (self, 7);
    s_add (self, 2);                            //  an earlier run's: never sent, ignored
    s_add (self, 1);
    assert_int_equal (concat_waiting_for (self), 8);
    s_add (self, 8);
    assert_int_equal (concat_waiting_for (self), 10);
    char *text = s_finish (&self, path, 0);
    assert_string_equal (text, "1 2 4 5 6 7 8 9 ");
    free (text);
}

static void
a_full_buffer_reads_the_results_again_from_the_top (void **state)
{
    (void) state;
    char path [64];
    concat_t *self = s_new (path, 3);
    s_earlier_t earlier = { .count = 0 };
    //  The worst order: the file's last output is the first one needed.
    uint64_t backwards [20];
    for (int i = 0; i < 20; i++)
        backwards [i] = (uint64_t) (20 - i);
    s_earlier_ok (&earlier, backwards, 20);
    concat_source_t source = { s_origin, s_next, s_rewind, &earlier };
    concat_resume (self, &source);
    s_add (self, 21);
    concat_stats_t stats;
    concat_stats (self, &stats);
    assert_int_equal (stats.written_through, 21);
    assert_int_equal (stats.from_earlier, 20);
    assert_true (stats.rescans > 0);
    assert_int_equal ((int) stats.rescans, earlier.passes);
    assert_true (stats.most_waiting <= 3);       //  the window, never the 20
    char *text = s_finish (&self, path, 0);
    assert_string_equal (text, "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 ");
    free (text);
}

static void
an_earlier_output_the_results_lack_fails_the_finish (void **state)
{
    (void) state;
    char path [64];
    concat_t *self = s_new (path, 4);
    s_earlier_t earlier = { .count = 0 };
    s_earlier_ok (&earlier, (uint64_t []) { 3, 1 }, 2);
    earlier.origin [2] = CONCAT_EARLIER_OK;         //  final ok, yet no line has it
    concat_source_t source = { s_origin, s_next, s_rewind, &earlier };
    concat_resume (self, &source);
    assert_int_equal (concat_waiting_for (self), 4);
    char *text = s_finish (&self, path, -1);
    assert_string_equal (text, "1 3 ");
    free (text);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (live_outputs_wait_for_the_seqs_before_them_and_count_once),
        cmocka_unit_test (seq_limit_is_a_window_past_the_seq_the_file_waits_for),
        cmocka_unit_test (resume_writes_what_the_earlier_run_finished_before_dispatch),
        cmocka_unit_test (earlier_and_live_outputs_interleave_in_seq_order),
        cmocka_unit_test (a_full_buffer_reads_the_results_again_from_the_top),
        cmocka_unit_test (an_earlier_output_the_results_lack_fails_the_finish),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
