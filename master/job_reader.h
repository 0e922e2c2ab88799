/*  job_reader: turns the job input into tasks, one at a time, in constant
    memory: JSON Lines (the default), plain lines (--format lines) or a
    synthetic job (--generate N). The first step of a task's path: job file
    -> job_reader -> dispatcher -> tasks socket.

    It does not assign seqs, send, or know about workers. A malformed line is
    an error that names its line number; the reader stops there, or, with
    skip_invalid, hands it over as skipped and goes on with the next line.
*/
#ifndef JOB_READER_H_INCLUDED
#define JOB_READER_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JOB_READER_MAX_LINE_BYTES (4 * 1024 * 1024)
#define JOB_READER_MAX_RETRIES 100

typedef enum {
    JOB_FORMAT_JSONL,       //  {"id":..,"type":..,"payload"|"payload_b64":..,"timeout_ms":..,"retries":..}
    JOB_FORMAT_LINES,       //  each line is one payload, of the default type
    JOB_FORMAT_GENERATE     //  generate_count synthetic tasks, no input
} job_format_t;

typedef struct {
    job_format_t format;
    const char *default_type;       //  --type; NULL: every JSON line must name one
    uint32_t default_timeout_ms;    //  --timeout; 0: none
    uint32_t default_retries;       //  --retries
    uint64_t generate_count;        //  --generate N
    size_t payload_size;            //  --payload-size, for generated tasks
    const char *payload;            //  --payload, for generated tasks (overrides payload_size)
    size_t max_line_bytes;          //  --max-line; 0: JOB_READER_MAX_LINE_BYTES
    size_t max_payload_bytes;       //  --max-payload, after base64; 0: TM_MAX_PAYLOAD_BYTES
    bool skip_invalid;              //  --skip-invalid: a malformed line is skipped, not final
} job_reader_config_t;

//  One task as read. Pointers are borrowed from the reader and valid until
//  the next call to job_reader_next or job_reader_destroy.
typedef struct {
    uint64_t line;              //  1-based input line (generated: task number)
    const char *id;             //  the user's id, or the line number as text
    const char *type;
    const uint8_t *payload;
    size_t payload_size;
    uint32_t timeout_ms;
    uint32_t max_attempts;      //  retries + 1
} job_entry_t;

typedef enum {
    JOB_READER_OK,          //  *entry holds the next task
    JOB_READER_END,         //  no more tasks
    JOB_READER_ERROR,       //  bad input or I/O error: see job_reader_error
    JOB_READER_SKIPPED      //  skip_invalid: one malformed line passed over, see
                            //  job_reader_error; call again for the next task
} job_reader_status_t;

typedef struct _job_reader_t job_reader_t;

//  Opens path ("-" for stdin; ignored for JOB_FORMAT_GENERATE). Returns NULL
//  and writes a message into error (error_size bytes) if it cannot be opened
//  or the config is unusable (e.g. --format lines without a type).
job_reader_t *job_reader_new (const char *path, const job_reader_config_t *config,
                              char *error, size_t error_size);
//  Closes the input (not stdin) and frees the reader.
void job_reader_destroy (job_reader_t **self_p);
//  Reads the next task. Blank lines of JSON Lines are skipped. An input with
//  no task at all is an error ("no tasks"). With skip_invalid, a malformed
//  line (even one over max_line_bytes, which is passed over without being
//  kept) returns JOB_READER_SKIPPED instead of stopping the reader; I/O
//  errors and "no tasks" stay final.
job_reader_status_t job_reader_next (job_reader_t *self, job_entry_t *entry);
//  Reads the rest of the input as job_reader_next would, building no task:
//  0 if it ended well (job_reader_count says how many tasks it holds), -1
//  at the first error (job_reader_error says which, as job_reader_next
//  would; with skip_invalid, bad lines are passed over and counted). On a
//  fresh reader of a regular JSON Lines file it checks a window of lines at
//  a time, for less per line than a job_reader_next loop, and a large file
//  in two halves at once (a thread of its own for the second, joined before
//  it returns); what it cannot prove valid there, job_reader_next reads.
//  The reader is used up: open another to run the job.
int job_reader_validate (job_reader_t *self);
//  The last error, or the reason for the last skipped line, as "line N: what
//  is wrong"; "" if none.
const char *job_reader_error (job_reader_t *self);
//  Tasks returned so far.
uint64_t job_reader_count (job_reader_t *self);
//  Malformed lines skipped so far (skip_invalid).
uint64_t job_reader_skipped (job_reader_t *self);
//  Blocks of input read so far: each read may have waited on the input.
uint64_t job_reader_blocks_read (job_reader_t *self);
//  True if the input is a regular file (so it can be read twice, e.g. to
//  validate it before anything is sent).
bool job_reader_seekable (job_reader_t *self);

#endif
