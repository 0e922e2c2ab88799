/*  status_view: `taskmill status` as a person reads it: the master's
    status JSON (master/status.h) laid out as a table. Names that came from
    peers over the wire (worker ids, hosts, errors) are shown escaped
    (tm_log_safe), so no peer can write to the operator's terminal.
*/
#ifndef STATUS_VIEW_H_INCLUDED
#define STATUS_VIEW_H_INCLUDED

#include <stdio.h>

//  Prints the snapshot in json to out. Returns 0, or -1 if it is not one.
int status_view_print (const char *json, FILE *out);

#endif
