/*  The built-in handlers, one file each in this folder. See
    handler_registry.h for the contract; README.md for each payload format.
*/
#ifndef HANDLERS_H_INCLUDED
#define HANDLERS_H_INCLUDED

#include "../handler_registry.h"

handler_fn_t handler_echo;          //  output = payload
handler_fn_t handler_noop;          //  no output
handler_fn_t handler_sleep;         //  payload = milliseconds; TIMEOUT past the deadline
handler_fn_t handler_sha256;        //  payload ["rounds=N;"]text -> hex digest of N rounds
handler_fn_t handler_exec;          //  payload = shell command; needs --allow-exec
handler_fn_t handler_count_words;   //  output = number of words in payload

#endif
