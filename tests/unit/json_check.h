/*  json_check: reading a JSON document back in a cmocka test: a value by
    its dotted path ("job.by_type.sha256.done"), which must be there, and
    the sum of a table's numbers. For the tests of what the master writes
    as JSON (the summary, the status snapshot). Include after cmocka.h.
*/
#ifndef JSON_CHECK_H_INCLUDED
#define JSON_CHECK_H_INCLUDED

#include <jansson.h>
#include <stdio.h>
#include <string.h>

//  The value at path (keys joined by '.'), or the test fails.
static inline json_t *
json_check_at (json_t *root, const char *path)
{
    char copy [256];
    snprintf (copy, sizeof copy, "%s", path);
    json_t *value = root;
    char *rest = NULL;
    for (char *key = strtok_r (copy, ".", &rest); key; key = strtok_r (NULL, ".", &rest))
        if (!(value = json_object_get (value, key)))
            fail_msg ("no \"%s\" (of %s) in the JSON", key, path);
    return value;
}

static inline json_int_t
json_check_int (json_t *root, const char *path)
{
    json_t *value = json_check_at (root, path);
    if (!json_is_integer (value))
        fail_msg ("%s is not an integer", path);
    return json_integer_value (value);
}

//  The sum of the integers in an object or array, or of key in each of its
//  members (key NULL: the members themselves).
static inline json_int_t
json_check_sum (json_t *container, const char *key)
{
    json_int_t sum = 0;
    json_t *member;
    const char *name;
    size_t index;
    if (json_is_array (container))
        json_array_foreach (container, index, member)
            sum += json_integer_value (key ? json_object_get (member, key) : member);
    else
        json_object_foreach (container, name, member)
            sum += json_integer_value (key ? json_object_get (member, key) : member);
    return sum;
}

#endif
