/*  concat: outputs into a file in seq order, from this run and earlier ones. */
#include "concat.h"
#include <czmq.h>
#include <errno.h>

struct _concat_t {
    FILE *file;
    char *path;
    size_t window;                  //  what waits has a seq below next_seq + window
    uint64_t next_seq;              //  the next seq the file waits for
    zhashx_t *live;                 //  seq (as text) -> zchunk: this run's, early (empty: skipped)
    zhashx_t *earlier;              //  seq (as text) -> zchunk: read back, needed later
    const concat_source_t *source;  //  --resume: the earlier runs' outputs, or NULL
    bool passed_over;               //  this pass of the source left an output behind
    bool write_failed;
    uint64_t missing;               //  earlier outputs the source did not have
    uint64_t first_missing;
    concat_stats_t stats;
};

static void
s_free_chunk (void **item)
{
    zchunk_t *chunk = (zchunk_t *) *item;
    zchunk_destroy (&chunk);
    *item = NULL;
}

static zhashx_t *
s_waiting_new (void)
{
    zhashx_t *waiting = zhashx_new ();
    zhashx_set_destructor (waiting, s_free_chunk);
    return waiting;
}

concat_t *
concat_new (const char *path, size_t window, char *error, size_t error_size)
{
    concat_t *self = (concat_t *) zmalloc (sizeof (concat_t));
    self->path = strdup (path);
    self->window = window ? window : 1;
    self->next_seq = 1;
    self->live = s_waiting_new ();
    self->earlier = s_waiting_new ();
    self->file = fopen (path, "w");
    if (!self->file) {
        snprintf (error, error_size, "--reduce concat: cannot open %s: %s", path,
                  strerror (errno));
        concat_destroy (&self);
    }
    return self;
}

void
concat_destroy (concat_t **self_p)
{
    assert (self_p);
    concat_t *self = *self_p;
    if (self) {
        zhashx_destroy (&self->live);
        zhashx_destroy (&self->earlier);
        if (self->file)
            fclose (self->file);
        free (self->path);
        free (self);
        *self_p = NULL;
    }
}

static char *
s_key (char *key, size_t size, uint64_t seq)
{
    snprintf (key, size, "%" PRIu64, seq);
    return key;
}

static concat_origin_t
s_origin (concat_t *self, uint64_t seq)
{
    return self->source ? self->source->origin (self->source->source, seq) : CONCAT_LIVE;
}

static void
s_write (concat_t *self, const void *data, size_t size)
{
    if (size && fwrite (data, 1, size, self->file) != size)
        self->write_failed = true;
}

static void
s_note_waiting (concat_t *self)
{
    size_t waiting = zhashx_size (self->live) + zhashx_size (self->earlier);
    if (waiting > self->stats.most_waiting)
        self->stats.most_waiting = waiting;
}

//  An output read back that the file needs within the window waits (the
//  seqs that wait, of both kinds, are then all within one window); one
//  further on is passed over, and the pass is no longer complete.
static void
s_keep_earlier (concat_t *self, uint64_t seq, const uint8_t *output, size_t size)
{
    char key [24];
    if (seq < self->next_seq || s_origin (self, seq) != CONCAT_EARLIER_OK
    ||  zhashx_lookup (self->earlier, s_key (key, sizeof key, seq)))
        return;     //  written already, not the earlier run's, or kept on a previous pass
    if (seq - self->next_seq >= self->window) {
        self->passed_over = true;
        return;
    }
    zhashx_insert (self->earlier, key, zchunk_new (output, size));
    s_note_waiting (self);
}

//  Reads the source on until seq's output, and writes it. Returns 0, or -1
//  if a whole pass from the top does not have it.
static int
s_fetch (concat_t *self, uint64_t seq)
{
    bool rewound = false;
    while (true) {
        uint64_t at;
        const uint8_t *output;
        size_t size;
        if (self->source->next (self->source->source, &at, &output, &size) == 1) {
            if (at != seq) {
                s_keep_earlier (self, at, output, size);
                continue;
            }
            s_write (self, output, size);
            self->stats.from_earlier++;
            return 0;
        }
        //  At the end: everything this pass read waits or is written,
        //  unless some was too far on; then read them again.
        if (!self->passed_over || rewound || self->source->rewind (self->source->source) != 0)
            return -1;
        rewound = true;
        self->passed_over = false;
        self->stats.rescans++;
    }
}

static void
s_missing (concat_t *self, uint64_t seq)
{
    if (self->missing++ == 0) {
        self->first_missing = seq;
        zsys_error ("--reduce concat: seq %" PRIu64 " ended ok in an earlier run, but the "
                    "results file does not have its output", seq);
    }
}

//  Writes every output the file can take now, in seq order.
static void
s_drain (concat_t *self)
{
    char key [24];
    while (true) {
        s_key (key, sizeof key, self->next_seq);
        zhashx_t *held = self->live;
        zchunk_t *chunk = (zchunk_t *) zhashx_lookup (held, key);
        if (!chunk)
            chunk = (zchunk_t *) zhashx_lookup (held = self->earlier, key);
        if (chunk) {
            s_write (self, zchunk_data (chunk), zchunk_size (chunk));
            self->stats.from_earlier += held == self->earlier;
            zhashx_delete (held, key);
        }
        else {
            concat_origin_t origin = s_origin (self, self->next_seq);
            if (origin == CONCAT_LIVE)
                return;         //  this run has not finished it yet
            if (origin == CONCAT_EARLIER_OK && s_fetch (self, self->next_seq) != 0)
                s_missing (self, self->next_seq);
        }
        self->next_seq++;
    }
}

void
concat_resume (concat_t *self, const concat_source_t *source)
{
    self->source = source;
    s_drain (self);
}

void
concat_add (concat_t *self, uint64_t seq, const uint8_t *output, size_t size)
{
    char key [24];
    if (seq < self->next_seq || s_origin (self, seq) != CONCAT_LIVE)
        return;     //  a duplicate, or never this run's
    if (seq == self->next_seq) {
        //  In order, as most are: written at once, never copied.
        s_write (self, output, size);
        self->next_seq++;
    }
    else {
        if (zhashx_lookup (self->live, s_key (key, sizeof key, seq)))
            return;
        zhashx_insert (self->live, key, zchunk_new (output, size));
        s_note_waiting (self);
    }
    s_drain (self);
}

void
concat_skip (concat_t *self, uint64_t seq)
{
    //  A skip waits as an empty output would.
    concat_add (self, seq, NULL, 0);
}

uint64_t
concat_waiting_for (concat_t *self)
{
    return self->next_seq;
}

uint64_t
concat_seq_limit (concat_t *self)
{
    return self->next_seq + self->window - 1;
}

int
concat_finish (concat_t *self)
{
    s_drain (self);
    if (fflush (self->file) != 0 || fsync (fileno (self->file)) != 0)
        self->write_failed = true;
    if (self->write_failed)
        zsys_error ("--reduce concat: cannot write %s", self->path);
    if (self->missing)
        zsys_error ("--reduce concat: %s lacks %" PRIu64 " outputs of an earlier run (the first "
                    "seq %" PRIu64 "): was the results file changed?", self->path,
                    self->missing, self->first_missing);
    return self->write_failed || self->missing ? -1 : 0;
}

const char *
concat_path (concat_t *self)
{
    return self->path;
}

void
concat_stats (concat_t *self, concat_stats_t *stats)
{
    *stats = self->stats;
    stats->written_through = self->next_seq - 1;
}
