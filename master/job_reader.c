/*  job_reader: turns the job input into tasks in constant memory. Input is
    read in fixed blocks and cut into lines no longer than max_line_bytes, so
    a job of any length, or a file that is not a job at all (one huge line,
    binary bytes), costs at most one block and one line buffer (and, while
    job_reader_validate runs, a window of S_WINDOW_BYTES and a parser for
    each of its two threads). A line over the limit that is to be skipped is
    read on and dropped block by block.

    A JSON line is parsed twice over only when it is odd: job_parse
    (simdjson) takes the lines it is sure jansson would accept, and every
    other line, each malformed one among them, goes to jansson, so the
    verdict and the message for a bad line are jansson's and the field
    rules', whichever parser was fast enough to read the good ones.

    It is not the dispatcher: it assigns no seqs and sends nothing. Strings
    and bytes in a returned entry are borrowed from the reader (its buffers,
    the fast parser's or the last jansson object) until the next call.
*/
#define _GNU_SOURCE            //  memrchr
#include "job_reader.h"
#include "job_parse.h"
#include "tm_codec.h"
#include "tm_json.h"
#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_BLOCK_BYTES (64 * 1024)
#define S_LINE_START_BYTES (64 * 1024)
#define S_MAX_TIMEOUT_MS 2147483647
#define S_NUMBER_BYTES 64

typedef enum {
    S_READING,
    S_INVALID,          //  the current line is malformed: fail, or skip it
    S_ENDED,
    S_FAILED
} s_state_t;

struct _job_reader_t {
    job_reader_config_t config;     //  copy; its strings are our own copies
    char *path;                     //  for messages: the name as given
    FILE *file;                     //  NULL when generating
    bool is_stdin;                  //  never closed by us
    uint8_t *block;                 //  S_BLOCK_BYTES read buffer (+ JOB_PARSE_PADDING)
    size_t block_size;              //  bytes in block
    size_t block_at;                //  next unread byte in block
    bool at_eof;                    //  fread has reported end of input
    uint64_t blocks_read;           //  freads of the block
    const uint8_t *line;            //  current line, without its newline: in
                                    //  block, or in spill if it crossed blocks
    size_t line_size;               //  bytes in line
    uint8_t *spill;                 //  a line gathered across blocks
    size_t spill_capacity;          //  grows up to max_line_bytes + 1 (and
                                    //  JOB_PARSE_PADDING more are allocated)
    uint64_t line_number;           //  1-based number of the current line
    uint64_t count;                 //  tasks returned
    uint64_t skipped;               //  malformed lines skipped (skip_invalid)
    s_state_t state;                //  reading, on a malformed line, or finished for good
    job_parse_t *parser;            //  JSON Lines: the fast path; entry strings may
                                    //  point into it
    json_t *root;                   //  last line jansson parsed; entry strings may
                                    //  point into it
    uint8_t *decoded;               //  last payload_b64, decoded
    uint8_t *pattern;               //  generated payload, built once
    size_t pattern_size;            //  bytes in pattern
    bool have_payload;              //  the current line named a payload already
    char id_text [24];              //  a numeric id as text
    char number_text [S_NUMBER_BYTES];  //  a numeric payload as text
    char error [512];               //  last error, "" if none
};

static char *
s_strdup (const char *text)
{
    if (!text)
        return NULL;
    size_t size = strlen (text) + 1;
    char *copy = (char *) zmalloc (size);
    memcpy (copy, text, size);
    return copy;
}

//  Records an error for the current line, which job_reader_next then skips
//  or makes final. The text may quote the line (jansson's "near '...'", a
//  field name), so control bytes are masked: they go to a terminal.
static job_reader_status_t
s_fail (job_reader_t *self, const char *format, ...) __attribute__ ((format (printf, 2, 3)));

static job_reader_status_t
s_fail (job_reader_t *self, const char *format, ...)
{
    int prefix = snprintf (self->error, sizeof self->error, "line %" PRIu64 ": ",
                           self->line_number);
    va_list args;
    va_start (args, format);
    vsnprintf (self->error + prefix, sizeof self->error - (size_t) prefix, format, args);
    va_end (args);
    for (char *at = self->error; *at; at++)
        if ((unsigned char) *at < 0x20 || *at == 0x7f)
            *at = '?';
    self->state = S_INVALID;
    return JOB_READER_ERROR;
}

//  Checks what job_reader_new can check before reading; fills error.
static int
s_config_check (const job_reader_config_t *config, char *error, size_t error_size)
{
    const char *type = config->default_type;
    if (config->format != JOB_FORMAT_JSONL && !type)
        snprintf (error, error_size, "--format lines and --generate need --type");
    else
    if (type && (*type == 0 || strlen (type) > TM_MAX_TYPE_BYTES))
        snprintf (error, error_size, "--type must be 1 to %d bytes", TM_MAX_TYPE_BYTES);
    else
    if (config->default_retries > JOB_READER_MAX_RETRIES)
        snprintf (error, error_size, "--retries must be from 0 to %d", JOB_READER_MAX_RETRIES);
    else
    if (config->default_timeout_ms > S_MAX_TIMEOUT_MS)
        snprintf (error, error_size, "--timeout must be from 0 to %d", S_MAX_TIMEOUT_MS);
    else
    if (config->max_line_bytes > TM_MAX_FRAME_BYTES)
        snprintf (error, error_size, "the line limit must be at most %d bytes", TM_MAX_FRAME_BYTES);
    else
    if (config->max_payload_bytes > TM_MAX_PAYLOAD_BYTES)
        snprintf (error, error_size, "the payload limit must be at most %d bytes",
                  TM_MAX_PAYLOAD_BYTES);
    else
    if (config->format == JOB_FORMAT_GENERATE && config->max_payload_bytes
    &&  (config->payload ? strlen (config->payload) : config->payload_size)
        > config->max_payload_bytes)
        snprintf (error, error_size, "the generated payload is over the payload limit "
                  "(%zu bytes, --max-payload)", config->max_payload_bytes);
    else
        return 0;
    return -1;
}

//  Opens the input; "-" is stdin. A directory opens fine with fopen but
//  fails at the first read, so it is refused here with a clearer message.
static int
s_open_input (job_reader_t *self, char *error, size_t error_size)
{
    if (streq (self->path, "-")) {
        self->file = stdin;
        self->is_stdin = true;
        return 0;
    }
    self->file = fopen (self->path, "rb");
    int reason = errno;
    struct stat info;
    if (self->file && fstat (fileno (self->file), &info) == 0 && S_ISDIR (info.st_mode))
        reason = EISDIR;
    else
    if (self->file)
        return 0;
    snprintf (error, error_size, "cannot open %s: %s", self->path, strerror (reason));
    return -1;
}

//  The generated payload is the same for every task: built once.
static void
s_build_pattern (job_reader_t *self)
{
    if (self->config.payload) {
        self->pattern_size = strlen (self->config.payload);
        self->pattern = (uint8_t *) s_strdup (self->config.payload);
        return;
    }
    self->pattern_size = self->config.payload_size;
    self->pattern = (uint8_t *) zmalloc (self->pattern_size + 1);
    for (size_t i = 0; i < self->pattern_size; i++)
        self->pattern [i] = (uint8_t) ('a' + i % 26);
}

job_reader_t *
job_reader_new (const char *path, const job_reader_config_t *config,
                char *error, size_t error_size)
{
    assert (config);
    char scratch [8];
    if (!error || error_size == 0) {
        error = scratch;
        error_size = sizeof scratch;
    }
    if (s_config_check (config, error, error_size))
        return NULL;
    if (config->format != JOB_FORMAT_GENERATE && !path) {
        snprintf (error, error_size, "no job input given");
        return NULL;
    }
    job_reader_t *self = (job_reader_t *) zmalloc (sizeof (job_reader_t));
    self->config = *config;
    self->config.default_type = s_strdup (config->default_type);
    self->config.payload = s_strdup (config->payload);
    if (self->config.max_line_bytes == 0)
        self->config.max_line_bytes = JOB_READER_MAX_LINE_BYTES;
    if (self->config.max_payload_bytes == 0)
        self->config.max_payload_bytes = TM_MAX_PAYLOAD_BYTES;
    if (config->format == JOB_FORMAT_GENERATE) {
        self->path = s_strdup ("(generated)");
        s_build_pattern (self);
        return self;
    }
    self->path = s_strdup (path);
    if (s_open_input (self, error, error_size)) {
        job_reader_destroy (&self);
        return NULL;
    }
    self->block = (uint8_t *) zmalloc (S_BLOCK_BYTES + JOB_PARSE_PADDING);
    if (config->format == JOB_FORMAT_JSONL)
        self->parser = job_parse_new ();
    return self;
}

void
job_reader_destroy (job_reader_t **self_p)
{
    assert (self_p);
    job_reader_t *self = *self_p;
    if (!self)
        return;
    if (self->file && !self->is_stdin)
        fclose (self->file);
    job_parse_destroy (&self->parser);
    json_decref (self->root);
    free (self->decoded);
    free (self->pattern);
    free (self->spill);
    free (self->block);
    free (self->path);
    free ((char *) self->config.default_type);
    free ((char *) self->config.payload);
    free (self);
    *self_p = NULL;
}

//  --- lines -------------------------------------------------------------------

//  Refills the block. Returns 0 (block_size 0 at end of input) or -1.
static int
s_fill_block (job_reader_t *self)
{
    self->block_at = 0;
    self->block_size = 0;
    if (self->at_eof)
        return 0;
    self->block_size = fread (self->block, 1, S_BLOCK_BYTES, self->file);
    self->blocks_read++;
    if (self->block_size < S_BLOCK_BYTES) {
        if (ferror (self->file)) {
            snprintf (self->error, sizeof self->error, "cannot read %s: %s",
                      self->path, strerror (errno));
            self->state = S_FAILED;
            return -1;
        }
        self->at_eof = true;
    }
    return 0;
}

//  Adds bytes to the spilled line, growing its buffer only up to the limit
//  (one byte over it, for a '\r' that is stripped later). Returns -1 past it.
static int
s_spill_append (job_reader_t *self, const uint8_t *data, size_t size)
{
    size_t limit = self->config.max_line_bytes + 1;
    if (size == 0)
        return 0;           //  an empty line may have no buffer yet
    if (size > limit - self->line_size)
        return -1;
    size_t needed = self->line_size + size;
    if (needed > self->spill_capacity) {
        size_t capacity = self->spill_capacity ? self->spill_capacity : S_LINE_START_BYTES;
        while (capacity < needed)
            capacity *= 2;
        if (capacity > limit)
            capacity = limit;
        self->spill = (uint8_t *) realloc (self->spill, capacity + JOB_PARSE_PADDING);
        if (!self->spill)
            abort ();
        self->spill_capacity = capacity;
    }
    memcpy (self->spill + self->line_size, data, size);
    self->line_size = needed;
    return 0;
}

//  Passes over the rest of the current line without keeping it, so that a
//  line of any length can be skipped in the memory of one block.
static int
s_drop_rest_of_line (job_reader_t *self)
{
    while (true) {
        if (self->block_at == self->block_size && s_fill_block (self))
            return -1;
        if (self->block_size == 0)
            return 0;
        const uint8_t *start = self->block + self->block_at;
        size_t available = self->block_size - self->block_at;
        const uint8_t *newline = (const uint8_t *) memchr (start, '\n', available);
        self->block_at += newline ? (size_t) (newline - start) + 1 : available;
        if (newline)
            return 0;
    }
}

//  A line over the limit is malformed. Unless the reader stops here, the
//  rest of it (from block_at on) is dropped, so the next line starts right.
static int
s_too_long (job_reader_t *self, bool rest_unread)
{
    s_fail (self, "longer than %zu bytes", self->config.max_line_bytes);
    if (rest_unread && self->config.skip_invalid)
        s_drop_rest_of_line (self);     //  a read error makes the reader fail
    return -1;
}

//  Gathers a line that runs past the end of the block into spill.
static int
s_spill_line (job_reader_t *self)
{
    while (self->block_size > 0) {
        const uint8_t *start = self->block + self->block_at;
        size_t available = self->block_size - self->block_at;
        const uint8_t *newline = (const uint8_t *) memchr (start, '\n', available);
        size_t take = newline ? (size_t) (newline - start) : available;
        if (s_spill_append (self, start, take))
            return s_too_long (self, true);
        self->block_at += take + (newline ? 1 : 0);
        if (newline)
            break;
        if (s_fill_block (self))
            return -1;
    }
    self->line = self->spill;
    return 1;
}

//  Reads the next line: self->line points at it in the block, where it is
//  read in place (JOB_PARSE_PADDING readable bytes follow the block), or in
//  spill. Returns 1 with a line, 0 at the end of input, -1 on error. A last
//  line without a newline is still a line; the final newline does not start
//  another one.
static int
s_read_line (job_reader_t *self)
{
    self->line_size = 0;
    if (self->block_at == self->block_size && s_fill_block (self))
        return -1;
    if (self->block_size == 0)
        return 0;
    self->line_number++;
    const uint8_t *start = self->block + self->block_at;
    const uint8_t *newline = (const uint8_t *) memchr (start, '\n',
                                                       self->block_size - self->block_at);
    if (newline) {
        self->line = start;
        self->line_size = (size_t) (newline - start);
        self->block_at += self->line_size + 1;
    }
    else
    if (s_spill_line (self) < 0)
        return -1;
    if (self->line_size > 0 && self->line [self->line_size - 1] == '\r')
        self->line_size--;
    if (self->line_size > self->config.max_line_bytes)
        return s_too_long (self, false);
    return 1;
}

//  A blank line holds only these (a NUL is not blank).
static bool
s_is_blank_byte (uint8_t byte)
{
    return byte == ' ' || byte == '\t' || byte == '\r' || byte == '\f' || byte == '\v';
}

static bool
s_line_is_blank (job_reader_t *self)
{
    for (size_t i = 0; i < self->line_size; i++)
        if (!s_is_blank_byte (self->line [i]))
            return false;
    return true;
}

//  --- JSON fields ---------------------------------------------------------------

//  The rules below see a field's value as job_parse gives it, whichever
//  parser read the line, so both paths give the same tasks and messages.
typedef job_reader_status_t (s_field_fn) (job_reader_t *self, const job_value_t *value,
                                          job_entry_t *entry);

static job_reader_status_t
s_field_id (job_reader_t *self, const job_value_t *value, job_entry_t *entry)
{
    if (value->kind == JOB_VALUE_INTEGER) {
        snprintf (self->id_text, sizeof self->id_text, "%" PRId64, value->integer);
        entry->id = self->id_text;
    }
    else
    if (value->kind == JOB_VALUE_STRING && value->length <= TM_MAX_ID_BYTES)
        entry->id = value->string;
    else
        return s_fail (self, "\"id\" must be a string of at most %d bytes or an integer",
                       TM_MAX_ID_BYTES);
    return JOB_READER_OK;
}

static job_reader_status_t
s_field_type (job_reader_t *self, const job_value_t *value, job_entry_t *entry)
{
    if (value->kind != JOB_VALUE_STRING || value->length == 0
    ||  value->length > TM_MAX_TYPE_BYTES)
        return s_fail (self, "\"type\" must be a string of 1 to %d bytes",
                       TM_MAX_TYPE_BYTES);
    entry->type = value->string;
    return JOB_READER_OK;
}

//  Parsers keep a real's value, not its text: write the shortest text that
//  reads back as the same double, which is what the user most likely wrote.
static void
s_format_real (double value, char *text, size_t size)
{
    for (int precision = 1; precision <= 17; precision++) {
        snprintf (text, size, "%.*g", precision, value);
        if (strtod (text, NULL) == value)
            break;
    }
    if (!strpbrk (text, ".eE"))
        strncat (text, ".0", size - strlen (text) - 1);
}

static job_reader_status_t
s_field_payload (job_reader_t *self, const job_value_t *value, job_entry_t *entry)
{
    if (self->have_payload)
        return s_fail (self, "give \"payload\" or \"payload_b64\", not both");
    self->have_payload = true;
    if (value->kind == JOB_VALUE_STRING) {
        entry->payload = (const uint8_t *) value->string;
        entry->payload_size = value->length;
        return JOB_READER_OK;
    }
    if (value->kind == JOB_VALUE_INTEGER)
        snprintf (self->number_text, sizeof self->number_text, "%" PRId64, value->integer);
    else
    if (value->kind == JOB_VALUE_REAL)
        s_format_real (value->real, self->number_text, sizeof self->number_text);
    else
        return s_fail (self, "\"payload\" must be a string or a number");
    entry->payload = (const uint8_t *) self->number_text;
    entry->payload_size = strlen (self->number_text);
    return JOB_READER_OK;
}

static job_reader_status_t
s_field_payload_b64 (job_reader_t *self, const job_value_t *value, job_entry_t *entry)
{
    if (self->have_payload)
        return s_fail (self, "give \"payload\" or \"payload_b64\", not both");
    self->have_payload = true;
    if (value->kind != JOB_VALUE_STRING)
        return s_fail (self, "\"payload_b64\" must be a base64 string");
    if (tm_base64_decode (value->string, value->length, &self->decoded, &entry->payload_size))
        return s_fail (self, "\"payload_b64\" is not valid base64");
    entry->payload = self->decoded;
    return JOB_READER_OK;
}

//  Reads an integer field in 0..max; an error names the field.
static job_reader_status_t
s_uint_field (job_reader_t *self, const job_value_t *value, const char *name, int64_t max,
              uint32_t *out)
{
    if (value->kind != JOB_VALUE_INTEGER || value->integer < 0 || value->integer > max)
        return s_fail (self, "\"%s\" must be an integer from 0 to %" PRId64, name, max);
    *out = (uint32_t) value->integer;
    return JOB_READER_OK;
}

static job_reader_status_t
s_field_timeout (job_reader_t *self, const job_value_t *value, job_entry_t *entry)
{
    return s_uint_field (self, value, "timeout_ms", S_MAX_TIMEOUT_MS, &entry->timeout_ms);
}

static job_reader_status_t
s_field_retries (job_reader_t *self, const job_value_t *value, job_entry_t *entry)
{
    uint32_t retries = 0;
    if (s_uint_field (self, value, "retries", JOB_READER_MAX_RETRIES, &retries)
        != JOB_READER_OK)
        return JOB_READER_ERROR;
    entry->max_attempts = retries + 1;
    return JOB_READER_OK;
}

#define S_FIELD(name, take) { name, sizeof name - 1, take }
static const struct {
    const char *name;
    size_t length;
    s_field_fn *take;
} s_fields [] = {
    S_FIELD ("id", s_field_id),
    S_FIELD ("type", s_field_type),
    S_FIELD ("payload", s_field_payload),
    S_FIELD ("payload_b64", s_field_payload_b64),
    S_FIELD ("timeout_ms", s_field_timeout),
    S_FIELD ("retries", s_field_retries),
};
#define S_FIELDS (sizeof s_fields / sizeof s_fields [0])

//  The index in s_fields of the field named key, or -1. Compared inline,
//  not with memcmp: names are short, and every line has several.
static int
s_field_index (const char *key, size_t length)
{
    for (size_t i = 0; i < S_FIELDS; i++) {
        if (s_fields [i].length != length)
            continue;
        size_t at = 0;
        while (at < length && key [at] == s_fields [i].name [at])
            at++;
        if (at == length)
            return (int) i;
    }
    return -1;
}

static job_reader_status_t
s_take_field (job_reader_t *self, const char *key, const job_value_t *value,
              job_entry_t *entry)
{
    int index = s_field_index (key, strlen (key));
    if (index < 0)
        //  Bounded: a key can be as long as the line.
        return s_fail (self, "unknown field \"%.64s\"", key);
    return s_fields [index].take (self, value, entry);
}

//  --- formats ---------------------------------------------------------------------

//  Every default but the id (s_default_id).
static void
s_entry_defaults (job_reader_t *self, job_entry_t *entry)
{
    entry->line = self->line_number;
    entry->id = NULL;
    entry->type = self->config.default_type;
    entry->payload = (const uint8_t *) "";
    entry->payload_size = 0;
    entry->timeout_ms = self->config.default_timeout_ms;
    entry->max_attempts = self->config.default_retries + 1;
}

//  A task that names no id has its line number: written only then, since
//  most job lines name one.
static void
s_default_id (job_reader_t *self, job_entry_t *entry)
{
    if (entry->id)
        return;
    tm_format_uint (self->id_text, self->line_number);
    entry->id = self->id_text;
}

//  Before a line's fields: the defaults, which its fields then override.
static void
s_start_entry (job_reader_t *self, job_entry_t *entry)
{
    s_entry_defaults (self, entry);
    self->have_payload = false;
}

//  A payload over the limit (--max-payload) is the line's error.
static job_reader_status_t
s_check_payload (job_reader_t *self, const job_entry_t *entry)
{
    if (entry->payload_size > self->config.max_payload_bytes)
        return s_fail (self, "payload of %zu bytes is over the limit of %zu (--max-payload)",
                       entry->payload_size, self->config.max_payload_bytes);
    return JOB_READER_OK;
}

//  After a line's fields: what no single field can check.
static job_reader_status_t
s_finish_entry (job_reader_t *self, job_entry_t *entry)
{
    if (!entry->type)
        return s_fail (self, "no \"type\" (give one or use --type)");
    if (s_check_payload (self, entry) != JOB_READER_OK)
        return JOB_READER_ERROR;
    s_default_id (self, entry);
    return JOB_READER_OK;
}

//  Finds each field's rule (index [i]). False unless every field is known
//  and given once: then jansson must judge the line, since it reports a
//  repeated key (even an unknown one) before any field is looked at.
static bool
s_index_fields (const job_field_t *fields, size_t count, int *index)
{
    unsigned seen = 0;
    for (size_t i = 0; i < count; i++) {
        index [i] = s_field_index (fields [i].key, fields [i].key_length);
        if (index [i] < 0 || (seen & (1u << index [i])))
            return false;
        seen |= 1u << index [i];
    }
    return true;
}

static void
s_value_of_json (json_t *json, job_value_t *value)
{
    memset (value, 0, sizeof *value);
    value->kind = JOB_VALUE_OTHER;
    if (json_is_string (json)) {
        value->kind = JOB_VALUE_STRING;
        value->string = json_string_value (json);
        value->length = json_string_length (json);
    }
    else
    if (json_is_integer (json)) {
        value->kind = JOB_VALUE_INTEGER;
        value->integer = json_integer_value (json);
    }
    else
    if (json_is_real (json)) {
        value->kind = JOB_VALUE_REAL;
        value->real = json_real_value (json);
    }
}

//  The reference path, for every line job_parse is unsure of: jansson's
//  verdict and messages, as taskmill has always given them.
static job_reader_status_t
s_parse_with_jansson (job_reader_t *self, job_entry_t *entry)
{
    json_error_t error;
    //  Without JSON_ALLOW_NUL, jansson refuses NUL bytes and invalid UTF-8.
    self->root = json_loadb ((const char *) self->line, self->line_size,
                             JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &error);
    if (!self->root)
        return s_fail (self, "invalid JSON: %s", error.text);
    if (!json_is_object (self->root))
        return s_fail (self, "not a JSON object");
    s_start_entry (self, entry);
    const char *key;
    json_t *json;
    json_object_foreach (self->root, key, json) {
        job_value_t value;
        s_value_of_json (json, &value);
        if (s_take_field (self, key, &value, entry) != JOB_READER_OK)
            return JOB_READER_ERROR;
    }
    return s_finish_entry (self, entry);
}

//  Applies the rules to fields that job_parse gave and s_index_fields found.
static job_reader_status_t
s_take_fields (job_reader_t *self, const job_field_t *fields, size_t count,
               const int *index, job_entry_t *entry)
{
    s_start_entry (self, entry);
    for (size_t i = 0; i < count; i++)
        if (s_fields [index [i]].take (self, &fields [i].value, entry) != JOB_READER_OK)
            return JOB_READER_ERROR;
    return s_finish_entry (self, entry);
}

//  The fast parser takes the lines it is sure of (all valid ones in
//  practice); the rest, errors among them, go to jansson.
static job_reader_status_t
s_parse_json_line (job_reader_t *self, job_entry_t *entry)
{
    job_field_t fields [S_FIELDS];
    int index [S_FIELDS];
    int count = job_parse_line (self->parser, self->line, self->line_size, fields, S_FIELDS);
    if (count < 0 || !s_index_fields (fields, (size_t) count, index))
        return s_parse_with_jansson (self, entry);
    return s_take_fields (self, fields, (size_t) count, index, entry);
}

//  At the end of input: a job with no task at all is an error.
static job_reader_status_t
s_end (job_reader_t *self)
{
    if (self->count == 0) {
        if (self->skipped)
            snprintf (self->error, sizeof self->error,
                      "no valid task in input (%" PRIu64 " invalid lines skipped)", self->skipped);
        else
            snprintf (self->error, sizeof self->error, "no tasks in input");
        self->state = S_FAILED;
        return JOB_READER_ERROR;
    }
    self->state = S_ENDED;
    return JOB_READER_END;
}

static job_reader_status_t
s_next_jsonl (job_reader_t *self, job_entry_t *entry)
{
    while (true) {
        int rc = s_read_line (self);
        if (rc <= 0)
            return rc == 0 ? s_end (self) : JOB_READER_ERROR;
        if (!s_line_is_blank (self))
            return s_parse_json_line (self, entry);
    }
}

static job_reader_status_t
s_next_line (job_reader_t *self, job_entry_t *entry)
{
    int rc = s_read_line (self);
    if (rc <= 0)
        return rc == 0 ? s_end (self) : JOB_READER_ERROR;
    s_entry_defaults (self, entry);
    s_default_id (self, entry);
    entry->payload = self->line_size ? self->line : (const uint8_t *) "";
    entry->payload_size = self->line_size;
    return s_check_payload (self, entry);
}

static job_reader_status_t
s_next_generated (job_reader_t *self, job_entry_t *entry)
{
    if (self->count == self->config.generate_count)
        return s_end (self);
    self->line_number = self->count + 1;
    s_entry_defaults (self, entry);
    s_default_id (self, entry);
    entry->payload = self->pattern;
    entry->payload_size = self->pattern_size;
    return JOB_READER_OK;
}

//  A malformed line stops the reader for good, or with skip_invalid is
//  counted and passed over; its reason stays in self->error.
static job_reader_status_t
s_invalid_line (job_reader_t *self)
{
    if (!self->config.skip_invalid) {
        self->state = S_FAILED;
        return JOB_READER_ERROR;
    }
    self->state = S_READING;
    self->skipped++;
    return JOB_READER_SKIPPED;
}

job_reader_status_t
job_reader_next (job_reader_t *self, job_entry_t *entry)
{
    assert (self);
    assert (entry);
    if (self->state == S_ENDED)
        return JOB_READER_END;
    if (self->state == S_FAILED)
        return JOB_READER_ERROR;
    //  What the last entry borrowed is released now, not kept for the job.
    json_decref (self->root);
    self->root = NULL;
    free (self->decoded);
    self->decoded = NULL;
    job_reader_status_t status;
    if (self->config.format == JOB_FORMAT_GENERATE)
        status = s_next_generated (self, entry);
    else
    if (self->config.format == JOB_FORMAT_LINES)
        status = s_next_line (self, entry);
    else
        status = s_next_jsonl (self, entry);
    if (status == JOB_READER_OK)
        self->count++;
    else
    if (self->state == S_INVALID)
        status = s_invalid_line (self);
    return status;
}

//  --- validation -------------------------------------------------------------------
//
//  job_reader_validate proves a regular file valid a window at a time: the
//  whole lines in S_WINDOW_BYTES are parsed in one go by job_parse_many, and
//  each text must stand alone on its line, fit the line limit and pass the
//  field rules. A file of S_SPLIT_BYTES or more is proved in two halves at
//  once, the second by a thread of its own (the master has nothing else to
//  do before the job is known good, and the halves take about half the
//  time). From the first window it cannot prove (a bad line, an odd
//  one, a line longer than the window, a last line with no newline), the
//  lines are read again by job_reader_next, whose verdict and message are
//  the run's: the fast proof may fail to prove a valid line, never the
//  other way round.

#define S_WINDOW_BYTES (1024 * 1024)
#define S_SPLIT_BYTES (2 * 1024 * 1024)     //  from this size, two threads prove a file

//  What the texts of one window have proved so far.
typedef struct {
    job_reader_t *reader;
    const uint8_t *data;            //  the window's whole lines
    size_t size;                    //  bytes of them; the last is a newline
    size_t line_start;              //  where the line after the last text starts
    uint64_t lines;                 //  lines proved, blank ones included
    uint64_t tasks;                 //  tasks among them
} s_proof_t;

//  Counts the newlines in data [from, to), all of whose bytes must be blank;
//  -1 if one is not.
static int64_t
s_blank_lines (const uint8_t *data, size_t from, size_t to)
{
    int64_t lines = 0;
    for (size_t at = from; at < to; at++)
        if (data [at] == '\n')
            lines++;
        else
        if (!s_is_blank_byte (data [at]))
            return -1;
    return lines;
}

//  Whether fields pass the rules, as on a line job_reader_next reads: the
//  task is built and dropped, and a failure leaves no trace in the reader.
static bool
s_fields_pass (job_reader_t *self, const job_field_t *fields, size_t count)
{
    int index [S_FIELDS];
    job_entry_t entry;
    bool pass = s_index_fields (fields, count, index)
             && s_take_fields (self, fields, count, index, &entry) == JOB_READER_OK;
    free (self->decoded);
    self->decoded = NULL;
    self->error [0] = 0;
    self->state = S_READING;
    return pass;
}

//  job_parse_take_fn: proves one text's line. The bytes since the last
//  text's line are blank lines and the text's indent (simdjson puts only
//  whitespace between texts); a text that runs on past its newline puts its
//  tail among them, and a second text on a line starts before line_start.
//  Line lengths are bounded from above, blank lines before the text
//  included, so a line proved here fits the limit.
static int
s_prove_text (void *arg, size_t offset, const job_field_t *fields, size_t count)
{
    s_proof_t *proof = (s_proof_t *) arg;
    size_t limit = proof->reader->config.max_line_bytes;
    if (offset < proof->line_start)
        return -1;
    int64_t blank = s_blank_lines (proof->data, proof->line_start, offset);
    const uint8_t *newline = (const uint8_t *) memchr (proof->data + offset, '\n',
                                                       proof->size - offset);
    if (blank < 0 || !newline)
        return -1;
    size_t end = (size_t) (newline - proof->data);
    if (end - proof->line_start > limit || !s_fields_pass (proof->reader, fields, count))
        return -1;
    proof->lines += (uint64_t) blank + 1;
    proof->tasks++;
    proof->line_start = end + 1;
    return 0;
}

//  Proves size bytes of whole lines; 0 and proof filled, or -1: not proved.
static int
s_prove_window (job_reader_t *self, const uint8_t *data, size_t size, s_proof_t *proof)
{
    memset (proof, 0, sizeof *proof);
    proof->reader = self;
    proof->data = data;
    proof->size = size;
    job_field_t fields [S_FIELDS];
    if (job_parse_many (self->parser, data, size, fields, S_FIELDS, s_prove_text, proof))
        return -1;
    int64_t blank = s_blank_lines (data, proof->line_start, size);
    if (blank < 0 || size - proof->line_start > self->config.max_line_bytes)
        return -1;
    proof->lines += (uint64_t) blank;
    return 0;
}

//  A stretch of the file, [from, to), of whole lines but maybe the last,
//  proved by one thread. Each of the two threads has its own stretch,
//  window, parser and copy of the reader for the field rules, which write
//  only the copy's scratch (error, state, decoded, have_payload, id_text,
//  number_text); both read with pread. So they share nothing they write.
typedef struct {
    job_reader_t reader;            //  copy of the reader; its own parser
    int fd;                         //  the file, read with pread
    off_t from;                     //  first byte, a line's first
    off_t to;                       //  end: the file's, or a line's first byte
    off_t proved;                   //  [from, proved) is proved
    uint64_t lines;                 //  lines in it
    uint64_t tasks;                 //  tasks in it
} s_stretch_t;

static void
s_stretch_init (s_stretch_t *stretch, job_reader_t *self, off_t from, off_t to)
{
    stretch->reader = *self;
    stretch->reader.parser = job_parse_new ();
    stretch->reader.decoded = NULL;
    stretch->fd = fileno (self->file);
    stretch->from = from;
    stretch->to = to;
    stretch->proved = from;
    stretch->lines = 0;
    stretch->tasks = 0;
}

static void
s_stretch_fini (s_stretch_t *stretch)
{
    job_parse_destroy (&stretch->reader.parser);
}

//  Proves the stretch's windows in order, up to the first it cannot.
static void
s_prove_stretch (s_stretch_t *stretch)
{
    uint8_t *window = (uint8_t *) zmalloc (S_WINDOW_BYTES + JOB_PARSE_PADDING);
    size_t held = 0;
    off_t next = stretch->from;     //  file offset of the next byte to read
    while (true) {
        size_t want = S_WINDOW_BYTES - held;
        if ((off_t) want > stretch->to - next)
            want = (size_t) (stretch->to - next);
        ssize_t got = want ? pread (stretch->fd, window + held, want, next) : 0;
        if (got < 0)
            break;                  //  job_reader_next reads it again, and says
        held += (size_t) got;
        next += got;
        const uint8_t *newline = held ? (const uint8_t *) memrchr (window, '\n', held) : NULL;
        if (!newline)
            break;
        size_t whole = (size_t) (newline - window) + 1;
        s_proof_t proof;
        if (s_prove_window (&stretch->reader, window, whole, &proof))
            break;
        stretch->proved += (off_t) whole;
        stretch->lines += proof.lines;
        stretch->tasks += proof.tasks;
        memmove (window, window + whole, held - whole);
        held -= whole;
    }
    free (window);
}

static void *
s_prover_thread (void *arg)
{
    s_prove_stretch ((s_stretch_t *) arg);
    return NULL;
}

//  Starts a thread on the stretch, with every signal blocked: signals are
//  the main thread's (czmq's handler, the master's drain count).
static int
s_start_prover (pthread_t *thread, s_stretch_t *stretch)
{
    sigset_t all, old;
    sigfillset (&all);
    pthread_sigmask (SIG_SETMASK, &all, &old);
    int rc = pthread_create (thread, NULL, s_prover_thread, stretch);
    pthread_sigmask (SIG_SETMASK, &old, NULL);
    return rc;
}

//  Where the second half of a file of size bytes starts: the first line
//  that starts after its middle, or size if none does within a block.
static off_t
s_second_half (job_reader_t *self, off_t size)
{
    if (size < S_SPLIT_BYTES)
        return size;
    off_t middle = size / 2;
    ssize_t got = pread (fileno (self->file), self->block, S_BLOCK_BYTES, middle);
    const uint8_t *newline = NULL;
    if (got > 0)
        newline = (const uint8_t *) memchr (self->block, '\n', (size_t) got);
    return newline ? middle + (newline - self->block) + 1 : size;
}

//  Proves the file from its start, in two halves at once when it is large,
//  counts the lines and tasks of what it proved as read, and leaves the
//  file at the first line it did not prove.
static void
s_validate_fast (job_reader_t *self)
{
    struct stat info;
    if (fstat (fileno (self->file), &info))
        return;                     //  job_reader_next reads it all
    off_t split = s_second_half (self, info.st_size);
    s_stretch_t first, second;
    s_stretch_init (&first, self, 0, split);
    s_stretch_init (&second, self, split, info.st_size);
    pthread_t thread;
    bool threaded = split < info.st_size && s_start_prover (&thread, &second) == 0;
    s_prove_stretch (&first);
    if (threaded)
        pthread_join (thread, NULL);
    else
    if (first.proved == first.to)
        s_prove_stretch (&second);
    off_t proved = first.proved;
    self->line_number += first.lines;
    self->count += first.tasks;
    if (first.proved == first.to) {
        proved = second.proved;
        self->line_number += second.lines;
        self->count += second.tasks;
    }
    s_stretch_fini (&first);
    s_stretch_fini (&second);
    //  job_reader_next goes on from there, as if it had read the lines proved.
    if (fseeko (self->file, proved, SEEK_SET)) {
        snprintf (self->error, sizeof self->error, "cannot read %s: %s",
                  self->path, strerror (errno));
        self->state = S_FAILED;
    }
}

int
job_reader_validate (job_reader_t *self)
{
    assert (self);
    //  The fast proof needs a file it can read again, from its start.
    if (self->config.format == JOB_FORMAT_JSONL && job_reader_seekable (self)
    &&  self->line_number == 0 && self->block_size == 0 && self->state == S_READING)
        s_validate_fast (self);
    job_entry_t entry;
    job_reader_status_t status;
    do
        status = job_reader_next (self, &entry);
    while (status == JOB_READER_OK || status == JOB_READER_SKIPPED);
    return status == JOB_READER_END ? 0 : -1;
}

const char *
job_reader_error (job_reader_t *self)
{
    assert (self);
    return self->error;
}

uint64_t
job_reader_count (job_reader_t *self)
{
    assert (self);
    return self->count;
}

uint64_t
job_reader_skipped (job_reader_t *self)
{
    assert (self);
    return self->skipped;
}

uint64_t
job_reader_blocks_read (job_reader_t *self)
{
    assert (self);
    return self->blocks_read;
}

bool
job_reader_seekable (job_reader_t *self)
{
    assert (self);
    struct stat info;
    return self->file && fstat (fileno (self->file), &info) == 0 && S_ISREG (info.st_mode);
}
