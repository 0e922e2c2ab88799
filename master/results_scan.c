/*  results_scan: JSON lines of a results file, up to its size when opened. */
#include "results_scan.h"
#include "tm_json.h"
#include <czmq.h>
#include <errno.h>
#include <jansson.h>

struct _results_scan_t {
    FILE *file;                     //  NULL: the file did not exist
    off_t limit;                    //  its size when opened
    off_t at;                       //  where the next line starts
    char *line;                     //  getline's buffer
    size_t capacity;
    uint8_t *decoded;               //  the last output_b64, decoded
    json_t *result;                 //  the last line, holding its "output"
    uint64_t passes;
};

results_scan_t *
results_scan_new (const char *path, char *error, size_t error_size)
{
    results_scan_t *self = (results_scan_t *) zmalloc (sizeof (results_scan_t));
    self->passes = 1;
    self->file = fopen (path, "r");
    if (!self->file && errno != ENOENT) {
        snprintf (error, error_size, "cannot read %s: %s", path, strerror (errno));
        results_scan_destroy (&self);
        return NULL;
    }
    struct stat info;
    if (self->file && fstat (fileno (self->file), &info) == 0)
        self->limit = info.st_size;
    return self;
}

void
results_scan_destroy (results_scan_t **self_p)
{
    assert (self_p);
    results_scan_t *self = *self_p;
    if (self) {
        if (self->file)
            fclose (self->file);
        free (self->line);
        free (self->decoded);
        json_decref (self->result);
        free (self);
        *self_p = NULL;
    }
}

//  Fills record from the line held in self->result. Returns 0, or -1 if it
//  is not a result.
static int
s_record (results_scan_t *self, results_scan_record_t *record)
{
    json_t *seq = json_object_get (self->result, "seq");
    const char *status = json_string_value (json_object_get (self->result, "status"));
    if (!json_is_integer (seq) || json_integer_value (seq) < 1 || !status)
        return -1;
    record->seq = (uint64_t) json_integer_value (seq);
    record->ok = strcmp (status, "ok") == 0;
    json_t *text = json_object_get (self->result, "output");
    json_t *b64 = json_object_get (self->result, "output_b64");
    record->output = (const uint8_t *) "";
    record->output_size = 0;
    if (json_is_string (b64)) {
        size_t size;
        if (tm_base64_decode (json_string_value (b64), json_string_length (b64),
                              &self->decoded, &size) != 0)
            return -1;
        record->output = self->decoded;
        record->output_size = size;
    }
    else
    if (json_is_string (text)) {
        record->output = (const uint8_t *) json_string_value (text);
        record->output_size = json_string_length (text);
    }
    return 0;
}

int
results_scan_next (results_scan_t *self, results_scan_record_t *record)
{
    while (self->file && self->at < self->limit) {
        ssize_t length = getline (&self->line, &self->capacity, self->file);
        if (length <= 0)
            return 0;
        self->at += length;
        if (self->at > self->limit)
            return 0;       //  appended by this run, past what was there
        free (self->decoded);
        self->decoded = NULL;
        json_decref (self->result);
        //  JSON_ALLOW_NUL: an output may hold NUL bytes (escaped as \u0000).
        self->result = json_loadb (self->line, (size_t) length, JSON_ALLOW_NUL, NULL);
        if (self->result && s_record (self, record) == 0)
            return 1;
    }
    return 0;
}

int
results_scan_rewind (results_scan_t *self)
{
    self->passes++;
    self->at = 0;
    return self->file && fseeko (self->file, 0, SEEK_SET) != 0 ? -1 : 0;
}

uint64_t
results_scan_passes (results_scan_t *self)
{
    return self->passes;
}
