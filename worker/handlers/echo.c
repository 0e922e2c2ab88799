/*  echo: the output is the payload, cut at the task's output limit (--max-output).
    Used to test the data path end to end without any work in between.
*/
#include "handlers.h"

void
handler_echo (const handler_input_t *input, handler_output_t *output)
{
    handler_output_set (output, input->payload, input->payload_size);
}
