/*  results_writer: JSON Lines out. Each line is built in place at the end
    of one buffer of whole lines (up to 1 MiB), which goes out by write(2)
    when full and at each flush (the master's tick): no printf and no stdio
    copy, and a killed master leaves only whole lines unless a write was cut
    short.
*/
#include "results_writer.h"
#include "tm_json.h"
#include <czmq.h>
#include <fcntl.h>
#include <unistd.h>

#define S_BUFFER_BYTES (1024 * 1024)
//  Written out once this full, so a line of up to the difference fits
//  without growing the buffer.
#define S_WRITE_AT_BYTES (S_BUFFER_BYTES - 64 * 1024)

struct _results_writer_t {
    int fd;
    bool owns_fd;           //  false for stdout
    bool regular;           //  a regular file: fdatasync makes sense
    tm_json_buf_t out;      //  whole lines not yet written, then the line being built
    bool dirty;             //  lines buffered since the last flush
    bool unsynced;          //  lines written to the file since the last fdatasync
};

results_writer_t *
results_writer_new (const char *path)
{
    int fd = STDOUT_FILENO;
    if (path && strcmp (path, "-") != 0) {
        fd = open (path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
        if (fd == -1) {
            zsys_error ("cannot open results file %s: %s", path, strerror (errno));
            return NULL;
        }
    }
    else
        fflush (stdout);    //  anything stdio holds goes before our lines
    results_writer_t *self = (results_writer_t *) zmalloc (sizeof (results_writer_t));
    self->fd = fd;
    self->owns_fd = fd != STDOUT_FILENO;
    struct stat info;
    self->regular = fstat (fd, &info) == 0 && S_ISREG (info.st_mode);
    tm_json_buf_init (&self->out);
    return self;
}

void
results_writer_destroy (results_writer_t **self_p)
{
    assert (self_p);
    results_writer_t *self = *self_p;
    if (self) {
        results_writer_flush (self, true);
        if (self->owns_fd)
            close (self->fd);
        tm_json_buf_fini (&self->out);
        free (self);
        *self_p = NULL;
    }
}

//  Writes the buffered lines. Returns 0, or -1 with errno set; lines that
//  could not be written are dropped, or a full disk would grow the buffer
//  with the job.
static int
s_write_out (results_writer_t *self)
{
    int rc = 0;
    size_t at = 0;
    while (at < self->out.size) {
        ssize_t written = write (self->fd, self->out.data + at, self->out.size - at);
        if (written == -1 && errno == EINTR)
            continue;
        if (written == -1) {
            rc = -1;
            break;
        }
        at += (size_t) written;
    }
    int saved = errno;
    if (self->out.capacity > 2 * S_BUFFER_BYTES) {
        //  A huge line grew the buffer: give the memory back.
        tm_json_buf_fini (&self->out);
        tm_json_buf_init (&self->out);
    }
    else
        tm_json_buf_reset (&self->out);
    errno = saved;
    return rc;
}

//  Lines are built by appends, not printf: formatting was 6% of the master's
//  time on noop tasks (callgrind: 2,690 of 3,490 instructions a line).
static void
s_begin_line (results_writer_t *self, const lease_t *lease, tm_status_t status,
              uint32_t attempts)
{
    tm_json_buf_t *line = &self->out;
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
    TM_JSON_BUF_APPEND_LITERAL (&self->out, "}\n");
    self->dirty = true;
    return self->out.size < S_WRITE_AT_BYTES ? 0 : s_write_out (self);
}

int
results_writer_write (results_writer_t *self, const lease_t *lease,
                      const tm_result_t *result)
{
    tm_json_buf_t *line = &self->out;
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
    TM_JSON_BUF_APPEND_LITERAL (&self->out, ",\"error\":");
    tm_json_append_string (&self->out, error, strlen (error));
    return s_end_line (self);
}

int
results_writer_flush (results_writer_t *self, bool sync)
{
    if (self->dirty) {
        self->dirty = false;
        self->unsynced = true;
        if (s_write_out (self) != 0)
            return -1;
    }
    if (sync && self->unsynced) {
        self->unsynced = false;
        if (self->regular && fdatasync (self->fd) != 0)
            return -1;
    }
    return 0;
}
