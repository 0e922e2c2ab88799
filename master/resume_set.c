/*  resume_set: a growable bitset of final seqs, loaded from JSON lines. */
#include "resume_set.h"
#include <czmq.h>
#include <jansson.h>
#include <unistd.h>

#define S_MAX_SEQ 100000000000ull     //  beyond any job: refuse, do not allocate

struct _resume_set_t {
    uint64_t *bits;                 //  final
    uint64_t *ok_bits;              //  final and ok (concat reads their outputs back)
    size_t words;
    uint64_t count;
    uint64_t not_ok;
};

static void
s_add (resume_set_t *self, uint64_t seq, bool ok)
{
    size_t word = (size_t) (seq / 64);
    if (word >= self->words) {
        size_t words = self->words ? self->words : 1024;
        while (words <= word)
            words *= 2;
        self->bits = (uint64_t *) realloc (self->bits, words * sizeof (uint64_t));
        self->ok_bits = (uint64_t *) realloc (self->ok_bits, words * sizeof (uint64_t));
        assert (self->bits && self->ok_bits);
        memset (self->bits + self->words, 0, (words - self->words) * sizeof (uint64_t));
        memset (self->ok_bits + self->words, 0, (words - self->words) * sizeof (uint64_t));
        self->words = words;
    }
    uint64_t mask = 1ull << (seq % 64);
    if (self->bits [word] & mask)
        return;
    self->bits [word] |= mask;
    self->count++;
    if (ok)
        self->ok_bits [word] |= mask;
    else
        self->not_ok++;
}

//  Parses one complete line. Returns 0, or -1 with a message.
static int
s_parse_line (resume_set_t *self, const char *line, size_t length, char *error, size_t size)
{
    json_error_t json_error;
    json_t *root = json_loadb (line, length, 0, &json_error);
    json_t *seq = root ? json_object_get (root, "seq") : NULL;
    json_t *status = root ? json_object_get (root, "status") : NULL;
    int rc = -1;
    if (!json_is_integer (seq) || json_integer_value (seq) < 1
    ||  (uint64_t) json_integer_value (seq) > S_MAX_SEQ || !json_is_string (status))
        snprintf (error, size, "not a result line (no seq and status)");
    else {
        s_add (self, (uint64_t) json_integer_value (seq),
               strcmp (json_string_value (status), "ok") == 0);
        rc = 0;
    }
    json_decref (root);
    return rc;
}

//  Reads every complete line; *complete_bytes is where the last one ends.
static int
s_read (resume_set_t *self, FILE *file, const char *path, off_t *complete_bytes,
        char *error, size_t error_size)
{
    char *line = NULL;
    size_t capacity = 0;
    ssize_t length;
    uint64_t number = 0;
    int rc = 0;
    *complete_bytes = 0;
    while ((length = getline (&line, &capacity, file)) > 0) {
        number++;
        if (line [length - 1] != '\n')
            break;      //  torn by a crash: cut below
        char reason [128];
        if (s_parse_line (self, line, (size_t) length - 1, reason, sizeof reason) == -1) {
            snprintf (error, error_size, "%s: line %" PRIu64 ": %s", path, number, reason);
            rc = -1;
            break;
        }
        *complete_bytes += length;
    }
    free (line);
    return rc;
}

resume_set_t *
resume_set_load (const char *path, char *error, size_t error_size)
{
    resume_set_t *self = (resume_set_t *) zmalloc (sizeof (resume_set_t));
    FILE *file = fopen (path, "r+");
    if (!file) {
        if (errno == ENOENT)
            return self;
        snprintf (error, error_size, "cannot open %s: %s", path, strerror (errno));
        resume_set_destroy (&self);
        return NULL;
    }
    off_t complete;
    int rc = s_read (self, file, path, &complete, error, error_size);
    if (rc == 0 && ftruncate (fileno (file), complete) != 0) {
        snprintf (error, error_size, "cannot cut the torn last line of %s: %s", path, strerror (errno));
        rc = -1;
    }
    fclose (file);
    if (rc == -1)
        resume_set_destroy (&self);
    return self;
}

void
resume_set_destroy (resume_set_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        free ((*self_p)->bits);
        free ((*self_p)->ok_bits);
        free (*self_p);
        *self_p = NULL;
    }
}

bool
resume_set_has (resume_set_t *self, uint64_t seq)
{
    size_t word = (size_t) (seq / 64);
    return word < self->words && (self->bits [word] >> (seq % 64)) & 1;
}

bool
resume_set_ok (resume_set_t *self, uint64_t seq)
{
    size_t word = (size_t) (seq / 64);
    return word < self->words && (self->ok_bits [word] >> (seq % 64)) & 1;
}

uint64_t
resume_set_count (resume_set_t *self)
{
    return self->count;
}

uint64_t
resume_set_not_ok (resume_set_t *self)
{
    return self->not_ok;
}
