/*  bench_plugin_call: what a plugin call costs over a built-in, in process:
    handler_registry_run (what an executor thread calls for each task: the
    type looked up, the handler run, its output filled) and
    handler_output_fini, for noop and echo (64-byte payload) against the
    same handlers in a plugin (tests/bench/noop_plugin.c). The plugin side
    pays the ABI's adapter (task and output structs built, output through
    a write callback) and a longer type scan (plugin types come after the
    six built-ins).

    Built by CMake beside the tests, never run by ctest (figures depend on
    the machine). Wall clock on a shared machine is noisy: each type runs
    REPS times, interleaved, and the minimum and median are printed.

      build/tests/bench/bench_plugin_call build/tests/bench/libbench_noop_plugin.so [CALLS [REPS]]
*/
#include "plugin_loader.h"
#include <czmq.h>
#include <time.h>

#define S_TYPES 4

static int64_t
s_now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

//  Nanoseconds per call of calls tasks of type.
static double
s_time (handler_registry_t *registry, const char *type, const handler_input_t *input,
        long calls)
{
    handler_output_t output;
    int64_t start = s_now_ns ();
    for (long i = 0; i < calls; i++) {
        handler_registry_run (registry, type, input, &output);
        handler_output_fini (&output);
    }
    return (double) (s_now_ns () - start) / (double) calls;
}

static int
s_by_value (const void *a, const void *b)
{
    double x = *(const double *) a, y = *(const double *) b;
    return x < y ? -1 : x > y;
}

int
main (int argc, char *argv [])
{
    if (argc < 2) {
        fprintf (stderr, "usage: bench_plugin_call NOOP_PLUGIN.so [CALLS [REPS]]\n");
        return 2;
    }
    long calls = argc > 2 ? atol (argv [2]) : 2000000;
    int reps = argc > 3 ? atoi (argv [3]) : 7;
    if (calls < 1 || reps < 1 || reps > 100)
        return 2;
    const char *paths [] = { argv [1] };
    plugin_loader_t *plugin = NULL;
    char error [512];
    handler_registry_t *registry = plugin_loader_registry (paths, 1, &plugin, error, sizeof error);
    if (!registry) {
        fprintf (stderr, "bench_plugin_call: %s\n", error);
        return 2;
    }
    void **states = handler_registry_thread_init (registry);
    static const uint8_t payload [64] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde";
    handler_input_t input = { .payload = payload, .payload_size = sizeof payload, .id = "t1",
                              .attempt = 1, .thread_states = states };
    const char *types [S_TYPES] = { "noop", "plugin-noop", "echo", "plugin-echo" };
    double ns [S_TYPES][100];
    for (int rep = 0; rep < reps; rep++)
        for (int t = 0; t < S_TYPES; t++) {
            input.type = types [t];
            ns [t][rep] = s_time (registry, types [t], &input, calls);
        }
    printf ("%ld calls x %d runs each, ns per call (min / median):\n", calls, reps);
    double median [S_TYPES];
    for (int t = 0; t < S_TYPES; t++) {
        qsort (ns [t], (size_t) reps, sizeof (double), s_by_value);
        median [t] = ns [t][reps / 2];
        printf ("  %-12s %7.1f / %7.1f\n", types [t], ns [t][0], median [t]);
    }
    printf ("plugin over built-in (medians): noop %+.1f ns, echo 64 B %+.1f ns\n",
            median [1] - median [0], median [3] - median [2]);
    handler_registry_thread_fini (registry, &states);
    handler_registry_destroy (&registry);
    plugin_loader_unload (&plugin);
    return 0;
}
