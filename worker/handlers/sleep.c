/*  sleep: the payload is a whole number of milliseconds in decimal
    ("250"); the handler sleeps that long and succeeds with no output.
    A sleep that would pass the task's deadline sleeps until the deadline
    and returns TIMEOUT, as a real handler cut off at its timeout would.
    It is for tests and benchmarks: it holds an executor thread without
    using a core.
*/
#include "handlers.h"
#include "tm_clock.h"
#include "tm_endpoint.h"
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <time.h>

//  Parses the payload as milliseconds. Returns 0, or -1 if it is not a
//  plain decimal number in [0, UINT32_MAX].
static int
s_parse_ms (const uint8_t *payload, size_t size, uint32_t *ms)
{
    char text [16];
    if (size == 0 || size >= sizeof (text) || !isdigit (payload [0]))
        return -1;
    memcpy (text, payload, size);
    text [size] = 0;
    long long value;
    if (tm_parse_int (text, 0, UINT32_MAX, &value) != 0)
        return -1;
    *ms = (uint32_t) value;
    return 0;
}

//  Sleeps until the monotonic time wake_us. An absolute wake time means a
//  signal that interrupts the sleep costs nothing: we simply sleep again.
static void
s_sleep_until (int64_t wake_us)
{
    struct timespec wake = {
        .tv_sec = (time_t) (wake_us / 1000000),
        .tv_nsec = (long) (wake_us % 1000000) * 1000
    };
    while (clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &wake, NULL) == EINTR)
        ;
}

void
handler_sleep (const handler_input_t *input, handler_output_t *output)
{
    uint32_t ms;
    const char *shown = input->payload ? (const char *) input->payload : "";
    if (s_parse_ms (input->payload, input->payload_size, &ms) != 0) {
        handler_output_fail (output, TM_STATUS_FAILED,
                             "sleep: payload must be whole milliseconds (0 to %u), got '%.*s'",
                             UINT32_MAX, (int) (input->payload_size < 32 ? input->payload_size : 32),
                             shown);
        return;
    }
    int64_t start_us = tm_clock_now_us ();
    int64_t wake_us = start_us + (int64_t) ms * 1000;
    bool timed_out = input->deadline_us > 0 && wake_us > input->deadline_us;
    if (timed_out)
        wake_us = input->deadline_us;
    s_sleep_until (wake_us);
    if (timed_out) {
        //  The task's own timeout is what the user set; the elapsed time
        //  stands in when the deadline came from elsewhere.
        uint32_t after_ms = input->timeout_ms
                          ? input->timeout_ms
                          : (uint32_t) ((tm_clock_now_us () - start_us) / 1000);
        handler_output_fail (output, TM_STATUS_TIMEOUT, "timed out after %u ms", after_ms);
    }
}
