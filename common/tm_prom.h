/*  tm_prom: the Prometheus text exposition format (0.0.4) written into a
    tm_json_buf_t (the common growable buffer, reset and rewritten in place
    each time, so it grows to the exposition's size once). The master's
    /metrics and a worker's are both written with it, so they type and
    escape their series the same way.

    It writes what it is told: which series exist, their names and units
    are the caller's.
*/
#ifndef TM_PROM_H_INCLUDED
#define TM_PROM_H_INCLUDED

#include "tm_json.h"

#define TM_PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

//  Appends "# HELP name help" and "# TYPE name type" (type: counter,
//  gauge, histogram). help is a literal of ours: no backslash, no newline.
void tm_prom_header (tm_json_buf_t *buf, const char *name, const char *type, const char *help);
//  Appends a label value as the format wants it: backslash, double quote
//  and newline escaped (the quotes around it are the caller's).
void tm_prom_label_value (tm_json_buf_t *buf, const char *value);

#endif
