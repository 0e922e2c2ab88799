/*  results_writer: JSON Lines out, through a large stdio buffer so a line
    costs no syscall; flushed and synced by the master's tick.
*/
#include "results_writer.h"
#include "tm_json.h"
#include <czmq.h>
#include <unistd.h>

#define S_STDIO_BUFFER_BYTES (1024 * 1024)

struct _results_writer_t {
    FILE *file;
    bool owns_file;         //  false for stdout
    bool regular;           //  a regular file: fdatasync makes sense
    char *buffer;           //  stdio buffer
    tm_json_buf_t line;     //  reused for every line
    bool dirty;             //  written since the last flush
};

results_writer_t *
results_writer_new (const char *path)
{
    FILE *file = stdout;
    if (path && strcmp (path, "-") != 0) {
        file = fopen (path, "a");
        if (!file) {
            zsys_error ("cannot open results file %s: %s", path, strerror (errno));
            return NULL;
        }
    }
    results_writer_t *self = (results_writer_t *) zmalloc (sizeof (results_writer_t));
    self->file = file;
    self->owns_file = file != stdout;
    struct stat info;
    self->regular = fstat (fileno (file), &info) == 0 && S_ISREG (info.st_mode);
    self->buffer = (char *) zmalloc (S_STDIO_BUFFER_BYTES);
    setvbuf (file, self->buffer, _IOFBF, S_STDIO_BUFFER_BYTES);
    tm_json_buf_init (&self->line);
    return self;
}

void
results_writer_destroy (results_writer_t **self_p)
{
    assert (self_p);
    results_writer_t *self = *self_p;
    if (self) {
        results_writer_flush (self);
        if (self->owns_file)
            fclose (self->file);
        else
            setvbuf (self->file, NULL, _IOLBF, 0);
        free (self->buffer);
        tm_json_buf_fini (&self->line);
        free (self);
        *self_p = NULL;
    }
}

//  Lines are built by appends, not printf: formatting was 6% of the master's
//  time on noop tasks (callgrind: 2,690 of 3,490 instructions a line).
static void
s_begin_line (results_writer_t *self, const lease_t *lease, tm_status_t status,
              uint32_t attempts)
{
    tm_json_buf_t *line = &self->line;
    tm_json_buf_reset (line);
    TM_JSON_BUF_APPEND_LITERAL (line, "{\"seq\":");
    tm_json_append_uint (line, lease->seq);
    TM_JSON_BUF_APPEND_LITERAL (line, ",\"id\":");
    tm_json_append_string (line, lease->id, strlen (lease->id));
    TM_JSON_BUF_APPEND_LITERAL (line, ",\"type\":");
    tm_json_append_string (line, lease->type, strlen (lease->type));
    TM_JSON_BUF_APPEND_LITERAL (line, ",\"status\":\"");
    tm_json_buf_append_str (line, tm_status_name (status));
    TM_JSON_BUF_APPEND_LITERAL (line, "\",\"attempts\":");
    tm_json_append_uint (line, attempts);
}

static int
s_end_line (results_writer_t *self)
{
    TM_JSON_BUF_APPEND_LITERAL (&self->line, "}\n");
    self->dirty = true;
    size_t written = fwrite (self->line.data, 1, self->line.size, self->file);
    return written == self->line.size ? 0 : -1;
}

int
results_writer_write (results_writer_t *self, const lease_t *lease,
                      const tm_result_t *result)
{
    tm_json_buf_t *line = &self->line;
    s_begin_line (self, lease, result->status, result->attempt);
    TM_JSON_BUF_APPEND_LITERAL (line, ",\"worker\":");
    tm_json_append_string (line, result->worker_id, strlen (result->worker_id));
    TM_JSON_BUF_APPEND_LITERAL (line, ",\"duration_us\":");
    tm_json_append_int (line, result->duration_us);
    if (strcmp (lease->type, "exec") == 0 || result->exit_code != 0) {
        TM_JSON_BUF_APPEND_LITERAL (line, ",\"exit_code\":");
        tm_json_append_int (line, result->exit_code);
    }
    if (result->output_size > 0) {
        if (tm_json_is_text (result->output, result->output_size)) {
            TM_JSON_BUF_APPEND_LITERAL (line, ",\"output\":");
            tm_json_append_string (line, (const char *) result->output, result->output_size);
        }
        else {
            TM_JSON_BUF_APPEND_LITERAL (line, ",\"output_b64\":");
            tm_json_append_base64 (line, result->output, result->output_size);
        }
    }
    if (result->status != TM_STATUS_OK) {
        TM_JSON_BUF_APPEND_LITERAL (line, ",\"error\":");
        tm_json_append_string (line, result->error, strlen (result->error));
    }
    return s_end_line (self);
}

int
results_writer_write_status (results_writer_t *self, const lease_t *lease,
                             tm_status_t status, const char *error)
{
    s_begin_line (self, lease, status, lease->attempt);
    TM_JSON_BUF_APPEND_LITERAL (&self->line, ",\"error\":");
    tm_json_append_string (&self->line, error, strlen (error));
    return s_end_line (self);
}

int
results_writer_flush (results_writer_t *self)
{
    if (!self->dirty)
        return 0;
    self->dirty = false;
    if (fflush (self->file) != 0)
        return -1;
    if (self->regular && fdatasync (fileno (self->file)) != 0)
        return -1;
    return 0;
}
