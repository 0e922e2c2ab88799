/*  test_status_view: the `taskmill status` table from a status JSON: a
    row per worker with its threads busy/total and, for an autoscaled
    pool, its bounds and growth/shrink events; a peer's id shown escaped;
    a reply that is not a status refused.
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "status_view.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_STATUS \
    "{\"job\": {\"id\": \"J1\", \"done\": 3, \"total\": 10, \"by_status\": {\"ok\": 3}}," \
    " \"workers\": [" \
    "  {\"id\": \"fixed-one\", \"threads_busy\": 1, \"threads\": 2, \"threads_min\": 0," \
    "   \"threads_max\": 0, \"threads_grown\": 0, \"threads_shrunk\": 0, \"state\": \"live\"}," \
    "  {\"id\": \"elastic\", \"threads_busy\": 5, \"threads\": 6, \"threads_min\": 1," \
    "   \"threads_max\": 8, \"threads_grown\": 3, \"threads_shrunk\": 2, \"state\": \"live\"}," \
    "  {\"id\": \"evil\\u001b[2J\", \"threads\": 1, \"state\": \"lost\"}]," \
    " \"failures\": [], \"counters\": {\"retries\": 0}}"

//  The table for json, to free; NULL if status_view_print refused it.
static char *
s_table (const char *json)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    assert_non_null (out);
    int rc = status_view_print (json, out);
    fclose (out);
    if (rc == 0)
        return text;
    free (text);
    return NULL;
}

//  The line of the table that starts with prefix.
static const char *
s_line (const char *table, const char *prefix, char *buffer, size_t size)
{
    for (const char *line = table; *line; ) {
        const char *end = strchr (line, '\n');
        assert_non_null (end);
        if (strncmp (line, prefix, strlen (prefix)) == 0) {
            snprintf (buffer, size, "%.*s", (int) (end - line), line);
            return buffer;
        }
        line = end + 1;
    }
    fail_msg ("no line %s in:\n%s", prefix, table);
    return NULL;
}

static void
each_worker_shows_its_threads_and_pool (void **state)
{
    (void) state;
    char *table = s_table (S_STATUS);
    assert_non_null (table);
    char line [512];
    assert_non_null (strstr (s_line (table, "WORKER ", line, sizeof line), " THREADS POOL "));
    s_line (table, "fixed-one ", line, sizeof line);
    assert_non_null (strstr (line, " 1/2 fixed "));
    s_line (table, "elastic ", line, sizeof line);
    assert_non_null (strstr (line, " 5/6 1-8 +3 -2 "));
    free (table);
}

static void
a_peers_id_is_shown_escaped (void **state)
{
    (void) state;
    char *table = s_table (S_STATUS);
    assert_non_null (table);
    assert_null (strchr (table, '\x1b'));
    char line [512];
    s_line (table, "evil\\x1b[2J ", line, sizeof line);
    free (table);
}

static void
what_is_not_a_status_is_refused (void **state)
{
    (void) state;
    assert_null (s_table ("not json"));
    assert_null (s_table ("{\"error\": \"unknown command\"}"));
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (each_worker_shows_its_threads_and_pool),
        cmocka_unit_test (a_peers_id_is_shown_escaped),
        cmocka_unit_test (what_is_not_a_status_is_refused),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
