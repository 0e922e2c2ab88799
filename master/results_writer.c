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

static void
s_begin_line (results_writer_t *self, const lease_t *lease, tm_status_t status,
              uint32_t attempts)
{
    tm_json_buf_t *line = &self->line;
    tm_json_buf_reset (line);
    tm_json_buf_printf (line, "{\"seq\":%" PRIu64 ",\"id\":", lease->seq);
    tm_json_append_string (line, lease->id, strlen (lease->id));
    tm_json_buf_append_str (line, ",\"type\":");
    tm_json_append_string (line, lease->type, strlen (lease->type));
    tm_json_buf_printf (line, ",\"status\":\"%s\",\"attempts\":%u",
                        tm_status_name (status), attempts);
}

static int
s_end_line (results_writer_t *self)
{
    tm_json_buf_append (&self->line, "}\n", 2);
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
    tm_json_buf_append_str (line, ",\"worker\":");
    tm_json_append_string (line, result->worker_id, strlen (result->worker_id));
    tm_json_buf_printf (line, ",\"duration_us\":%" PRId64, result->duration_us);
    if (strcmp (lease->type, "exec") == 0 || result->exit_code != 0)
        tm_json_buf_printf (line, ",\"exit_code\":%d", result->exit_code);
    if (result->output_size > 0) {
        if (tm_json_is_text (result->output, result->output_size)) {
            tm_json_buf_append_str (line, ",\"output\":");
            tm_json_append_string (line, (const char *) result->output, result->output_size);
        }
        else {
            tm_json_buf_append_str (line, ",\"output_b64\":");
            tm_json_append_base64 (line, result->output, result->output_size);
        }
    }
    if (result->status != TM_STATUS_OK) {
        tm_json_buf_append_str (line, ",\"error\":");
        tm_json_append_string (line, result->error, strlen (result->error));
    }
    return s_end_line (self);
}

int
results_writer_write_status (results_writer_t *self, const lease_t *lease,
                             tm_status_t status, const char *error)
{
    s_begin_line (self, lease, status, lease->attempt);
    tm_json_buf_append_str (&self->line, ",\"error\":");
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
