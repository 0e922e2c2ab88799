/*  tm_prom: headers and label values. */
#include "tm_prom.h"

void
tm_prom_header (tm_json_buf_t *buf, const char *name, const char *type, const char *help)
{
    tm_json_buf_printf (buf, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void
tm_prom_label_value (tm_json_buf_t *buf, const char *value)
{
    //  Runs without anything to escape are copied whole.
    while (*value) {
        size_t plain = strcspn (value, "\\\"\n");
        tm_json_buf_append (buf, value, plain);
        value += plain;
        if (!*value)
            break;
        tm_json_buf_append (buf, *value == '\n' ? "\\n" : *value == '"' ? "\\\"" : "\\\\", 2);
        value++;
    }
}
