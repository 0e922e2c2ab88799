/*  count-words: the output is the number of whitespace-separated words in
    the payload, in decimal. The master's `--reduce count-words` sums them.
    Whitespace is ASCII (space, \t, \n, \v, \f, \r); every other byte,
    UTF-8 included, belongs to a word.
*/
#include "handlers.h"
#include <inttypes.h>
#include <stdio.h>

static bool
s_is_space (uint8_t byte)
{
    return byte == ' ' || (byte >= '\t' && byte <= '\r');
}

void
handler_count_words (const handler_input_t *input, handler_output_t *output)
{
    uint64_t words = 0;
    bool in_word = false;
    for (size_t at = 0; at < input->payload_size; at++) {
        bool space = s_is_space (input->payload [at]);
        if (!space && !in_word)
            words++;
        in_word = !space;
    }
    char text [24];
    int length = snprintf (text, sizeof (text), "%" PRIu64, words);
    handler_output_set (output, text, (size_t) length);
}
