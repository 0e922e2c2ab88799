/*  tm_endpoint: endpoint formatting and option value checks. */
#include "tm_endpoint.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
tm_endpoint_format (char *buffer, size_t size, const char *host, int port)
{
    if (!host || !*host || port <= 0 || port > 65535)
        return -1;
    //  A bare IPv6 address needs brackets in a tcp endpoint.
    bool ipv6 = strchr (host, ':') && host [0] != '[';
    int length = snprintf (buffer, size, ipv6 ? "tcp://[%s]:%d" : "tcp://%s:%d", host, port);
    return length > 0 && (size_t) length < size ? 0 : -1;
}

bool
tm_endpoint_valid (const char *text)
{
    if (!text || strlen (text) >= TM_ENDPOINT_MAX)
        return false;
    if (strncmp (text, "ipc://", 6) == 0 || strncmp (text, "inproc://", 9) == 0)
        return text [strlen (text) - 1] != '/';
    if (strncmp (text, "tcp://", 6) != 0)
        return false;
    const char *colon = strrchr (text + 6, ':');
    if (!colon || colon == text + 6)
        return false;
    long long port;
    return strcmp (colon + 1, "*") == 0 || tm_parse_int (colon + 1, 0, 65535, &port) == 0;
}

bool
tm_endpoint_is_local (const char *endpoint)
{
    if (strncmp (endpoint, "tcp://", 6) != 0)
        return true;
    const char *host = endpoint + 6;
    return strncmp (host, "127.", 4) == 0
        || strncmp (host, "localhost:", 10) == 0
        || strncmp (host, "[::1]:", 6) == 0
        || strncmp (host, "lo:", 3) == 0;
}

int
tm_parse_int (const char *text, long long min, long long max, long long *value)
{
    if (!text || !*text)
        return -1;
    char *end;
    errno = 0;
    long long parsed = strtoll (text, &end, 10);
    if (errno || *end || parsed < min || parsed > max)
        return -1;
    *value = parsed;
    return 0;
}
