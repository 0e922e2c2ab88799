/*  test_resume_set: loading final seqs from a results file for --resume. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "resume_set.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void
s_write (char *path, const char *text)
{
    strcpy (path, "/tmp/test_resume_set_XXXXXX");
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    assert_int_equal (write (fd, text, strlen (text)), (ssize_t) strlen (text));
    close (fd);
}

static off_t
s_size (const char *path)
{
    struct stat info;
    assert_int_equal (stat (path, &info), 0);
    return info.st_size;
}

static void
missing_file_is_an_empty_set (void **state)
{
    (void) state;
    char error [256];
    resume_set_t *set = resume_set_load ("/tmp/test_resume_set_does_not_exist", error, sizeof error);
    assert_non_null (set);
    assert_int_equal (resume_set_count (set), 0);
    assert_false (resume_set_has (set, 1));
    resume_set_destroy (&set);
    assert_null (set);
}

static void
seqs_of_complete_lines_are_final_and_not_ok_ones_counted (void **state)
{
    (void) state;
    char path [64], error [256];
    s_write (path, "{\"seq\":3,\"status\":\"ok\"}\n{\"seq\":1000000,\"status\":\"failed\"}\n"
                   "{\"seq\":3,\"status\":\"ok\"}\n");
    resume_set_t *set = resume_set_load (path, error, sizeof error);
    assert_non_null (set);
    assert_true (resume_set_has (set, 3));
    assert_true (resume_set_has (set, 1000000));
    assert_false (resume_set_has (set, 2));
    assert_false (resume_set_has (set, 4000000));
    assert_int_equal (resume_set_count (set), 2);
    assert_int_equal (resume_set_not_ok (set), 1);
    assert_true (resume_set_ok (set, 3));
    assert_false (resume_set_ok (set, 1000000));
    assert_false (resume_set_ok (set, 2));
    assert_false (resume_set_ok (set, 4000000));
    resume_set_destroy (&set);
    unlink (path);
}

static void
torn_last_line_is_ignored_and_cut_off_the_file (void **state)
{
    (void) state;
    char path [64], error [256];
    const char *complete = "{\"seq\":1,\"status\":\"ok\"}\n";
    char text [128];
    snprintf (text, sizeof text, "%s{\"seq\":2,\"sta", complete);
    s_write (path, text);
    resume_set_t *set = resume_set_load (path, error, sizeof error);
    assert_non_null (set);
    assert_true (resume_set_has (set, 1));
    assert_false (resume_set_has (set, 2));
    assert_int_equal (s_size (path), (off_t) strlen (complete));
    resume_set_destroy (&set);
    unlink (path);
}

static void
complete_line_that_is_not_a_result_is_an_error_naming_it (void **state)
{
    (void) state;
    char path [64], error [256];
    s_write (path, "{\"seq\":1,\"status\":\"ok\"}\n{\"seq\":\"two\",\"status\":\"ok\"}\n");
    off_t before = s_size (path);
    resume_set_t *set = resume_set_load (path, error, sizeof error);
    assert_null (set);
    assert_non_null (strstr (error, "line 2"));
    assert_int_equal (s_size (path), before);
    unlink (path);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (missing_file_is_an_empty_set),
        cmocka_unit_test (seqs_of_complete_lines_are_final_and_not_ok_ones_counted),
        cmocka_unit_test (torn_last_line_is_ignored_and_cut_off_the_file),
        cmocka_unit_test (complete_line_that_is_not_a_result_is_an_error_naming_it),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
