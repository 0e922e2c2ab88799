/*  tm_endpoint: ZeroMQ endpoints from host names and ports, and the checks
    that options need. Default ports per socket live here, once.
*/
#ifndef TM_ENDPOINT_H_INCLUDED
#define TM_ENDPOINT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#define TM_PORT_TASKS 5557
#define TM_PORT_RESULTS 5558
#define TM_PORT_CONTROL 5559
#define TM_PORT_ADMIN 5560
#define TM_ENDPOINT_MAX 256

//  Writes "tcp://HOST:PORT" into buffer. Returns 0, or -1 if it does not fit
//  or host is empty.
int tm_endpoint_format (char *buffer, size_t size, const char *host, int port);
//  True if text looks like an endpoint we can use: tcp://H:P, ipc://, inproc://.
bool tm_endpoint_valid (const char *text);
//  True if a bound tcp endpoint is only reachable from this host
//  (127.0.0.0/8, ::1, localhost), or not tcp at all.
bool tm_endpoint_is_local (const char *endpoint);
//  Parses a whole decimal number in [min, max]. Returns 0, or -1.
int tm_parse_int (const char *text, long long min, long long max, long long *value);

#endif
