/*  results_writer: JSON Lines out. Each line is built in place at the end
    of one buffer of whole lines (up to 1 MiB), which goes out by write(2)
    when full and at each flush (the master's tick): no printf and no stdio
    copy, and a killed master leaves only whole lines unless it dies in the
    middle of a write (--resume cuts that last line off). A large output
    that needs no escaping is not copied into the buffer: it goes out by
    writev between the line's head and tail (s_write_around).

    On a write error the buffer is what is held: its unwritten lines stay
    in it, in order, ahead of the new ones, and the file is cut back to its
    last whole line so that nothing is ever appended after a torn one (that
    would be a bad line in the middle, which --resume refuses).
*/
#include "results_writer.h"
#include "tm_clock.h"
#include "tm_json.h"
#include <czmq.h>
#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>

#define S_BUFFER_BYTES (1024 * 1024)
//  Written out once this full, so a line of up to the difference fits
//  without growing the buffer.
#define S_WRITE_AT_BYTES (S_BUFFER_BYTES - 64 * 1024)

//  A string and its JSON form, kept because the next line likely has it
//  again: most lines in a row share a type and a worker.
#define S_QUOTED_MAX_BYTES 64
typedef struct {
    char text [S_QUOTED_MAX_BYTES + 1];
    size_t text_size;
    char json [TM_JSON_STRING_MAX_BYTES (S_QUOTED_MAX_BYTES)];
    size_t json_size;
} s_quoted_t;

struct _results_writer_t {
    int fd;
    bool owns_fd;           //  false for stdout
    bool regular;           //  a regular file: can be synced and cut back
    tm_json_buf_t out;      //  unwritten lines (held ones first), then the line being built
    tm_json_buf_t tail;     //  the end of a line whose output goes out by writev
    s_quoted_t type;        //  the last type written, as JSON
    s_quoted_t worker;      //  the last worker id written, as JSON
    bool unsynced;          //  bytes written to the file since the last fdatasync
    results_writer_state_t state;
    int error;              //  errno of the last failure, for callers and logs
    int64_t failing_since_us;   //  when the current run of transient errors began
    uint32_t retry_ms;      //  how long such a run may last
    size_t hold_max_bytes;  //  how much may be held meanwhile
    results_writer_ops_t ops;
};

static ssize_t
s_sys_write (void *ctx, int fd, const void *data, size_t size)
{
    (void) ctx;
    return write (fd, data, size);
}

static off_t
s_sys_lseek (void *ctx, int fd, off_t offset, int whence)
{
    (void) ctx;
    return lseek (fd, offset, whence);
}

static int
s_sys_ftruncate (void *ctx, int fd, off_t size)
{
    (void) ctx;
    return ftruncate (fd, size);
}

static int
s_sys_fdatasync (void *ctx, int fd)
{
    (void) ctx;
    return fdatasync (fd);
}

static ssize_t
s_sys_writev (void *ctx, int fd, const struct iovec *iov, int count)
{
    (void) ctx;
    return writev (fd, iov, count);
}

static int64_t
s_sys_now_us (void *ctx)
{
    (void) ctx;
    return tm_clock_now_us ();
}

static const results_writer_ops_t s_sys_ops = {
    .write = s_sys_write,
    .lseek = s_sys_lseek,
    .ftruncate = s_sys_ftruncate,
    .fdatasync = s_sys_fdatasync,
    .now_us = s_sys_now_us,
    .writev = s_sys_writev,
};

//  Errors that pass by themselves (space freed, a reader draining a pipe).
static bool
s_transient (int error)
{
    return error == ENOSPC || error == EDQUOT || error == EAGAIN || error == EWOULDBLOCK;
}

static size_t
s_held_lines (results_writer_t *self)
{
    size_t lines = 0;
    for (size_t at = 0; at < self->out.size; at++)
        lines += self->out.data [at] == '\n';
    return lines;
}

//  Makes the writer FAILED for good and drops what it held, saying how many
//  results are lost (--resume runs them again).
static void
s_fail (results_writer_t *self, int error, const char *why)
{
    zsys_error ("results file: %s (%s): stopped writing, %zu results not written",
                why, strerror (error), s_held_lines (self));
    self->state = RESULTS_WRITER_FAILED;
    self->error = error;
    tm_json_buf_fini (&self->out);
    tm_json_buf_init (&self->out);
}

//  A transient error: hold on, unless it has lasted or held too much.
static void
s_retry (results_writer_t *self, int error)
{
    int64_t now_us = self->ops.now_us (self->ops.ctx);
    if (self->state != RESULTS_WRITER_RETRYING) {
        self->state = RESULTS_WRITER_RETRYING;
        self->failing_since_us = now_us;
        zsys_warning ("results file: %s: holding results, retrying for up to %" PRIu32 " ms",
                      strerror (error), self->retry_ms);
    }
    self->error = error;
    if (now_us - self->failing_since_us >= (int64_t) self->retry_ms * 1000)
        s_fail (self, error, "still failing at the retry limit");
    else if (self->out.size > self->hold_max_bytes)
        s_fail (self, error, "too much held while retrying");
}

//  Cuts the last torn bytes we wrote off the file, so that the next write
//  starts a line where a whole line ends. Returns 0, or -1 with errno set.
static int
s_cut (results_writer_t *self, size_t torn_bytes)
{
    off_t end = self->ops.lseek (self->ops.ctx, self->fd, 0, SEEK_CUR);
    if (end == -1)
        return -1;
    if ((uint64_t) end < torn_bytes) {
        errno = EIO;        //  someone else cut the file under us
        return -1;
    }
    off_t cut = end - (off_t) torn_bytes;
    int rc;
    while ((rc = self->ops.ftruncate (self->ops.ctx, self->fd, cut)) == -1 && errno == EINTR)
        ;
    //  Without O_APPEND (stdout redirected with >) the next write would
    //  otherwise land past the cut, leaving a hole of NULs.
    if (rc == 0 && self->ops.lseek (self->ops.ctx, self->fd, cut, SEEK_SET) == -1)
        rc = -1;
    return rc;
}

//  Where the line holding data [at] begins: after the last newline before it.
static size_t
s_line_start (const char *data, size_t at)
{
    while (at > 0 && data [at - 1] != '\n')
        at--;
    return at;
}

//  The buffer has gone out whole.
static void
s_written_all (results_writer_t *self)
{
    if (self->state == RESULTS_WRITER_RETRYING)
        zsys_info ("results file: writing again after %" PRId64 " ms",
                   (self->ops.now_us (self->ops.ctx) - self->failing_since_us) / 1000);
    self->state = RESULTS_WRITER_OK;
    if (self->out.capacity > 2 * S_BUFFER_BYTES) {
        //  A huge line grew the buffer: give the memory back.
        tm_json_buf_fini (&self->out);
        tm_json_buf_init (&self->out);
    }
    else
        tm_json_buf_reset (&self->out);
}

//  Written bytes [0, at) of the buffer before error: keeps the rest, the
//  file ending at a whole line, and retries or fails.
static void
s_written_part (results_writer_t *self, size_t at, int error)
{
    //  Bytes cannot be taken back from a pipe, but from a file they can:
    //  there the line cut short is cut off and written again whole.
    size_t keep = self->regular ? s_line_start (self->out.data, at) : at;
    memmove (self->out.data, self->out.data + keep, self->out.size - keep);
    self->out.size -= keep;
    self->out.data [self->out.size] = 0;
    if (keep < at && s_cut (self, at - keep) != 0)
        //  The torn line stays, but last: nothing is written after it.
        s_fail (self, errno, "cannot cut a torn line off");
    else
    if (s_transient (error))
        s_retry (self, error);
    else
        s_fail (self, error, "write failed");
}

//  Writes the buffer from at (what is before it went already); on an
//  error keeps what is not written (see above).
static void
s_write_out_from (results_writer_t *self, size_t at)
{
    int error = 0;
    while (at < self->out.size && !error) {
        ssize_t written = self->ops.write (self->ops.ctx, self->fd, self->out.data + at,
                                           self->out.size - at);
        if (written > 0)
            at += (size_t) written;
        else if (written == 0)
            error = EAGAIN;     //  no progress: try again at the next flush
        else if (errno != EINTR)
            error = errno;
    }
    if (at > 0)
        self->unsynced = true;
    if (error)
        s_written_part (self, at, error);
    else
        s_written_all (self);
}

static void
s_write_out (results_writer_t *self)
{
    s_write_out_from (self, 0);
}

static int
s_fdatasync (results_writer_t *self)
{
    int rc;
    while ((rc = self->ops.fdatasync (self->ops.ctx, self->fd)) == -1 && errno == EINTR)
        ;
    return rc;
}

//  0, or -1 with errno set if the writer has failed.
static int
s_status (results_writer_t *self)
{
    if (self->state != RESULTS_WRITER_FAILED)
        return 0;
    errno = self->error;
    return -1;
}

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
    tm_json_buf_init (&self->tail);
    self->type.text_size = self->worker.text_size = SIZE_MAX;     //  none yet
    self->state = RESULTS_WRITER_OK;
    self->retry_ms = RESULTS_WRITER_RETRY_MS;
    self->hold_max_bytes = RESULTS_WRITER_HOLD_MAX_BYTES;
    self->ops = s_sys_ops;
    return self;
}

void
results_writer_destroy (results_writer_t **self_p)
{
    assert (self_p);
    results_writer_t *self = *self_p;
    if (self) {
        if (results_writer_flush (self, true) != 0
        &&  self->state == RESULTS_WRITER_RETRYING)
            s_fail (self, self->error, "closed while retrying");
        if (self->owns_fd)
            close (self->fd);
        tm_json_buf_fini (&self->out);
        tm_json_buf_fini (&self->tail);
        free (self);
        *self_p = NULL;
    }
}

//  Lines are built in place, not by printf (which was 2,690 of 3,490
//  instructions a line): one check for room, then literals, numbers and
//  strings written one after another.
#define S_LINE_FIXED_BYTES 256      //  a line's literals, numbers and status name

//  Writes text as a JSON string, from cache if it is the one written last.
static char *
s_put_quoted (char *out, s_quoted_t *cache, const char *text, size_t size)
{
    if (size == cache->text_size && memcmp (text, cache->text, size) == 0) {
        memcpy (out, cache->json, cache->json_size);
        return out + cache->json_size;
    }
    char *end = tm_json_put_string (out, text, size);
    if (size <= S_QUOTED_MAX_BYTES) {
        memcpy (cache->text, text, size);
        cache->text_size = size;
        cache->json_size = (size_t) (end - out);
        memcpy (cache->json, out, cache->json_size);
    }
    return end;
}

//  The head of a line, up to its attempts.
static char *
s_put_head (results_writer_t *self, char *out, const lease_t *lease, size_t id_size,
            size_t type_size, tm_status_t status, uint32_t attempts)
{
    out = TM_JSON_PUT_LITERAL (out, "{\"seq\":");
    out = tm_json_put_uint (out, lease->seq);
    out = TM_JSON_PUT_LITERAL (out, ",\"id\":");
    out = tm_json_put_string (out, lease->id, id_size);
    out = TM_JSON_PUT_LITERAL (out, ",\"type\":");
    out = s_put_quoted (out, &self->type, lease->type, type_size);
    out = TM_JSON_PUT_LITERAL (out, ",\"status\":\"");
    const char *name = tm_status_name (status);
    size_t name_size = strlen (name);
    memcpy (out, name, name_size);
    out = TM_JSON_PUT_LITERAL (out + name_size, "\",\"attempts\":");
    return tm_json_put_uint (out, attempts);
}

static int
s_end_line (results_writer_t *self)
{
    TM_JSON_BUF_APPEND_LITERAL (&self->out, "}\n");
    //  While retrying, lines wait for the flush rather than each trying
    //  the disk again.
    if (self->state == RESULTS_WRITER_OK && self->out.size >= S_WRITE_AT_BYTES)
        s_write_out (self);
    else
    if (self->state == RESULTS_WRITER_RETRYING && self->out.size > self->hold_max_bytes)
        s_fail (self, self->error, "too much held while retrying");
    return s_status (self);
}

//  A plain output this large is not copied into the buffer: the lines
//  buffered, this line's head, the output and the line's tail go out in
//  one writev (an echoed megabyte a task less to copy). Only what writev
//  did not take is copied, after it, so that the buffer holds exactly what
//  a write of the whole line would have left, and the usual error handling
//  goes on from there.
#define S_WRITEV_MIN_BYTES (64 * 1024)

static int
s_write_around (results_writer_t *self, const tm_result_t *result)
{
    TM_JSON_BUF_APPEND_LITERAL (&self->out, "\"");
    tm_json_buf_reset (&self->tail);
    TM_JSON_BUF_APPEND_LITERAL (&self->tail, "\"");
    if (result->status != TM_STATUS_OK) {
        TM_JSON_BUF_APPEND_LITERAL (&self->tail, ",\"error\":");
        tm_json_append_string (&self->tail, result->error, strlen (result->error));
    }
    TM_JSON_BUF_APPEND_LITERAL (&self->tail, "}\n");
    struct iovec iov [3] = {
        { self->out.data, self->out.size },
        { (void *) result->output, result->output_size },
        { self->tail.data, self->tail.size }
    };
    size_t total = self->out.size + result->output_size + self->tail.size;
    ssize_t written = self->ops.writev (self->ops.ctx, self->fd, iov, 3);
    if (written > 0)
        self->unsynced = true;
    if (written == (ssize_t) total)
        s_written_all (self);
    else {
        tm_json_buf_append (&self->out, (const char *) result->output, result->output_size);
        tm_json_buf_append (&self->out, self->tail.data, self->tail.size);
        s_write_out_from (self, written > 0 ? (size_t) written : 0);
    }
    return s_status (self);
}

int
results_writer_write (results_writer_t *self, const lease_t *lease,
                      const tm_result_t *result)
{
    if (self->state == RESULTS_WRITER_FAILED)
        return s_status (self);
    tm_json_buf_t *line = &self->out;
    size_t id_size = strlen (lease->id), type_size = strlen (lease->type);
    size_t worker_size = strlen (result->worker_id);
    char *out = tm_json_buf_room (line, S_LINE_FIXED_BYTES + TM_JSON_STRING_MAX_BYTES (id_size)
                                        + TM_JSON_STRING_MAX_BYTES (type_size)
                                        + TM_JSON_STRING_MAX_BYTES (worker_size));
    out = s_put_head (self, out, lease, id_size, type_size, result->status, result->attempt);
    out = TM_JSON_PUT_LITERAL (out, ",\"worker\":");
    out = s_put_quoted (out, &self->worker, result->worker_id, worker_size);
    out = TM_JSON_PUT_LITERAL (out, ",\"duration_us\":");
    out = tm_json_put_int (out, result->duration_us);
    if ((type_size == 4 && memcmp (lease->type, "exec", 4) == 0) || result->exit_code != 0) {
        out = TM_JSON_PUT_LITERAL (out, ",\"exit_code\":");
        out = tm_json_put_int (out, result->exit_code);
    }
    tm_json_buf_commit (line, out);
    if (result->output_size > 0) {
        //  The sink's decoder has usually looked at the output already.
        tm_json_form_t form = result->output_form != TM_JSON_UNKNOWN
                            ? result->output_form : tm_json_form (result->output, result->output_size);
        if (form == TM_JSON_BINARY) {
            TM_JSON_BUF_APPEND_LITERAL (line, ",\"output_b64\":");
            tm_json_append_base64 (line, result->output, result->output_size);
        }
        else {
            TM_JSON_BUF_APPEND_LITERAL (line, ",\"output\":");
            if (form == TM_JSON_PLAIN && result->output_size >= S_WRITEV_MIN_BYTES
            &&  self->state == RESULTS_WRITER_OK && self->ops.writev)
                return s_write_around (self, result);
            if (form == TM_JSON_PLAIN)
                tm_json_append_plain (line, (const char *) result->output, result->output_size);
            else
                tm_json_append_string (line, (const char *) result->output, result->output_size);
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
    if (self->state == RESULTS_WRITER_FAILED)
        return s_status (self);
    size_t id_size = strlen (lease->id), type_size = strlen (lease->type);
    char *out = tm_json_buf_room (&self->out, S_LINE_FIXED_BYTES
                                              + TM_JSON_STRING_MAX_BYTES (id_size)
                                              + TM_JSON_STRING_MAX_BYTES (type_size));
    tm_json_buf_commit (&self->out, s_put_head (self, out, lease, id_size, type_size, status,
                                                lease->attempt));
    TM_JSON_BUF_APPEND_LITERAL (&self->out, ",\"error\":");
    tm_json_append_string (&self->out, error, strlen (error));
    return s_end_line (self);
}

int
results_writer_flush (results_writer_t *self, bool sync)
{
    if (self->state != RESULTS_WRITER_FAILED && self->out.size > 0)
        s_write_out (self);
    if (self->state != RESULTS_WRITER_OK) {
        errno = self->error;
        return -1;
    }
    if (sync && self->unsynced) {
        self->unsynced = false;
        //  Not retried: after a failed fdatasync Linux may mark the lost
        //  pages clean, so a second call can succeed with the data gone.
        if (self->regular && s_fdatasync (self) != 0) {
            s_fail (self, errno, "fdatasync failed");
            return s_status (self);
        }
    }
    return 0;
}

results_writer_state_t
results_writer_state (results_writer_t *self)
{
    return self->state;
}

void
results_writer_set_ops (results_writer_t *self, const results_writer_ops_t *ops)
{
    assert (ops->write && ops->lseek && ops->ftruncate && ops->fdatasync && ops->now_us);
    self->ops = *ops;
}

void
results_writer_set_retry_ms (results_writer_t *self, uint32_t retry_ms)
{
    self->retry_ms = retry_ms;
}

void
results_writer_set_hold_max_bytes (results_writer_t *self, size_t hold_max_bytes)
{
    self->hold_max_bytes = hold_max_bytes;
}
