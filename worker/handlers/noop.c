/*  noop: succeeds at once with no output. Measures the cluster's overhead
    per task, with nothing of the handler's own in it.
*/
#include "handlers.h"

void
handler_noop (const handler_input_t *input, handler_output_t *output)
{
    (void) input;
    //  handler_output_init has already set OK.
    (void) output;
}
