/*  Tests for tm_log_safe: what a peer wrote cannot drive a terminal or
    forge a log line once escaped, and what is plain text stays as it is.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "tm_log.h"
#include <string.h>

static void
plain_text_and_utf8_stay_as_they_are (void **state)
{
    (void) state;
    char buffer [TM_LOG_SAFE_BYTES (64)];
    assert_string_equal (tm_log_safe ("host-1/4242", buffer, sizeof buffer), "host-1/4242");
    assert_string_equal (tm_log_safe ("h\xc3\xb4te/\xe2\x82\xac/\xf0\x9f\x90\x9d", buffer,
                                      sizeof buffer), "h\xc3\xb4te/\xe2\x82\xac/\xf0\x9f\x90\x9d");
    assert_string_equal (tm_log_safe (NULL, buffer, sizeof buffer), "(null)");
}

static void
escape_sequences_and_newlines_become_hex (void **state)
{
    (void) state;
    char buffer [TM_LOG_SAFE_BYTES (64)];
    const char *id = "w\x1b[2J\x1b]0;owned\x07\nE: FORGED";
    assert_string_equal (tm_log_safe (id, buffer, sizeof buffer),
                         "w\\x1b[2J\\x1b]0;owned\\x07\\x0aE: FORGED");
    assert_null (strchr (buffer, '\x1b'));
    assert_null (strchr (buffer, '\n'));
    assert_string_equal (tm_log_safe ("a\rb\x7f" "c\\d", buffer, sizeof buffer),
                         "a\\x0db\\x7fc\\\\d");
}

static void
c1_controls_and_broken_utf8_become_hex (void **state)
{
    (void) state;
    char buffer [TM_LOG_SAFE_BYTES (64)];
    //  U+009B is a CSI to some terminals; the rest is not UTF-8.
    assert_string_equal (tm_log_safe ("\xc2\x9b" "2J", buffer, sizeof buffer), "\\xc2\\x9b2J");
    assert_string_equal (tm_log_safe ("\xff\xc3", buffer, sizeof buffer), "\\xff\\xc3");
    assert_string_equal (tm_log_safe ("\xe0\x80\xaf", buffer, sizeof buffer), "\\xe0\\x80\\xaf");
    assert_string_equal (tm_log_safe ("\xed\xa0\x80", buffer, sizeof buffer), "\\xed\\xa0\\x80");
}

static void
a_short_buffer_cuts_with_dots (void **state)
{
    (void) state;
    char buffer [12];
    assert_string_equal (tm_log_safe ("abcdefghijklmnop", buffer, sizeof buffer), "abcdefgh...");
    assert_string_equal (tm_log_safe ("\x1b\x1b\x1b", buffer, sizeof buffer), "\\x1b\\x1b...");
    char worst [TM_LOG_SAFE_BYTES (3)];
    assert_string_equal (tm_log_safe ("\x01\x02\x03", worst, sizeof worst), "\\x01\\x02\\x03");
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (plain_text_and_utf8_stay_as_they_are),
        cmocka_unit_test (escape_sequences_and_newlines_become_hex),
        cmocka_unit_test (c1_controls_and_broken_utf8_become_hex),
        cmocka_unit_test (a_short_buffer_cuts_with_dots),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
