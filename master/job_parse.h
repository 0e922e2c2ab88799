/*  job_parse: the fast path of job_reader's JSON Lines parsing, behind a C
    interface (simdjson, in job_parse_simdjson.cpp). It takes one line and,
    when the line is an object whose values are all strings and numbers and
    jansson would accept it as well, gives its fields in line order.

    It judges nothing else and makes no error message: for any other line
    (invalid JSON, not an object, a nested value, true/false/null, a string
    holding \u0000, an integer past int64, more fields than asked for) it
    answers "unsure", and job_reader hands the line to jansson, whose
    verdict and messages are the reference. Duplicate keys are left to the
    caller, which sees every key.
*/
#ifndef JOB_PARSE_H_INCLUDED
#define JOB_PARSE_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Bytes after a line's end that job_parse_line may read (not write); their
//  content does not matter. simdjson's SIMDJSON_PADDING, checked there.
#define JOB_PARSE_PADDING 64

typedef enum {
    JOB_VALUE_STRING,
    JOB_VALUE_INTEGER,      //  a number without fraction or exponent, in int64
    JOB_VALUE_REAL,         //  a number with a fraction or an exponent
    JOB_VALUE_OTHER         //  true, false, null, an array or an object
} job_value_kind_t;

//  One field value, as both parsers give it to job_reader's field rules.
typedef struct {
    job_value_kind_t kind;
    const char *string;     //  STRING: NUL-terminated, holds no NUL; borrowed
    size_t length;          //  STRING: bytes before the NUL
    int64_t integer;        //  INTEGER
    double real;            //  REAL
} job_value_t;

typedef struct {
    const char *key;        //  NUL-terminated, unescaped, holds no NUL; borrowed
    size_t key_length;      //  bytes before the NUL
    job_value_t value;
} job_field_t;

typedef struct _job_parse_t job_parse_t;

//  Creates a parser; it grows to the longest line it has seen (and gives
//  memory back after a line over a megabyte). Aborts if out of memory.
job_parse_t *job_parse_new (void);
//  Frees the parser and nulls the pointer; idempotent.
void job_parse_destroy (job_parse_t **self_p);
//  Parses line (size bytes, then JOB_PARSE_PADDING readable bytes). Returns
//  the number of fields, at most max_fields, written to fields, whose
//  strings are borrowed until the next call; or -1: unsure, ask jansson.
int job_parse_line (job_parse_t *self, const uint8_t *line, size_t size,
                    job_field_t *fields, size_t max_fields);

//  Called by job_parse_many for each text with where it starts in data and
//  its fields (borrowed until it returns); returns 0 to go on, else -1.
typedef int (job_parse_take_fn) (void *arg, size_t offset, const job_field_t *fields,
                                 size_t count);
//  Parses data (size bytes, then JOB_PARSE_PADDING readable bytes) as JSON
//  texts one after another, separated by whitespace or by nothing, and gives
//  each to take. Cheaper per text than job_parse_line for many short ones.
//  Returns 0 if every text was one it is sure of and take took them all;
//  -1 if it is unsure of one (take has seen those before it) or take said so.
int job_parse_many (job_parse_t *self, const uint8_t *data, size_t size,
                    job_field_t *fields, size_t max_fields, job_parse_take_fn *take,
                    void *arg);

#ifdef __cplusplus
}
#endif

#endif
