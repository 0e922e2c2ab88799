/*  The fuzz targets' seed corpus and regression cases, replayed in every
    build (with or without clang): each file of tests/fuzz/corpus/codec and
    tests/fuzz/corpus/job_reader goes through the same entry point libFuzzer
    calls, so a crash once found stays fixed under the suite's sanitizers.
*/
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

//  Both targets, each under a name of its own.
#define LLVMFuzzerTestOneInput s_fuzz_codec
#include "../fuzz/fuzz_codec.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput s_fuzz_job_reader
#include "../fuzz/fuzz_job_reader.c"
#undef LLVMFuzzerTestOneInput

#define S_MIN_SEEDS 5           //  make_seeds.py writes more than this for each

typedef int (s_target_fn) (const uint8_t *data, size_t size);

//  Runs every file of the corpus directory through target; returns how many.
static size_t
s_replay (const char *corpus, s_target_fn *target)
{
    char path [1024];
    snprintf (path, sizeof path, "%s/tests/fuzz/corpus/%s", TM_SOURCE_DIR, corpus);
    DIR *dir = opendir (path);
    assert_non_null (dir);
    size_t files = 0;
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        if (entry->d_name [0] == '.')
            continue;
        char file [1536];
        snprintf (file, sizeof file, "%s/%s", path, entry->d_name);
        FILE *input = fopen (file, "rb");
        assert_non_null (input);
        uint8_t *data = (uint8_t *) malloc (1 << 20);
        size_t size = fread (data, 1, 1 << 20, input);
        fclose (input);
        assert_int_equal (target (data, size), 0);
        free (data);
        files++;
    }
    closedir (dir);
    return files;
}

static void
codec_corpus_replays_clean (void **state)
{
    (void) state;
    assert_true (s_replay ("codec", s_fuzz_codec) >= S_MIN_SEEDS);
}

static void
job_reader_corpus_replays_clean (void **state)
{
    (void) state;
    assert_true (s_replay ("job_reader", s_fuzz_job_reader) >= S_MIN_SEEDS);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (codec_corpus_replays_clean),
        cmocka_unit_test (job_reader_corpus_replays_clean),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
