#!/bin/sh
# The second command of README.md, and what CI runs: install what is
# missing, build, run every test (unit and process level); then the same
# suite again built with AddressSanitizer and UndefinedBehaviorSanitizer.
# TASKMILL_SKIP_SANITIZE=1 skips the second pass. Then a third, with
# ThreadSanitizer, over the executor and worker tests (TASKMILL_TSAN below;
# README.md, "Tests").
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
deploy/install-deps.sh
deploy/build.sh build
# The two fuzz targets (30 s each, one core each) run side by side, after
# the rest: nothing timed runs beside them.
(cd build && ctest --output-on-failure -j1 --timeout 240 -E '^fuzz/' \
          && ctest --output-on-failure -j2 --timeout 240 -R '^fuzz/')
if [ "${TASKMILL_SKIP_SANITIZE:-0}" != 1 ]; then
    deploy/build.sh build-asan -DSANITIZE=address,undefined
    # detect_leaks: no leaks allowed; abort_on_error: a report fails the test.
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        sh -c "cd build-asan && ctest --output-on-failure -j1 --timeout 240"
fi
# ThreadSanitizer over the executor and worker tests (where our threads
# meet); TASKMILL_TSAN=all widens it to every test TSan can run in time,
# TASKMILL_TSAN=0 skips it. Debian's libzmq is not instrumented:
# tests/tsan/tsan.supp says what that hides; common/tm_tsan.h annotates our
# own hand-offs.
tsan=${TASKMILL_TSAN:-worker}
if [ "$tsan" != 0 ]; then
    if [ "$tsan" = all ]; then
        select="-E"
        tests="fuzz/|unit/test_dispatcher|process/test_(http|deploy|link_cut|relay_faults|progress|junk_connections|memory_bounds)"
    else
        select="-R"
        # Not the drain and autoscale process tests: their thresholds are
        # times (a pool grows past 50 ms of waiting), which TSan's pace
        # moves; the wide pass runs them.
        tests="unit/test_(handlers|autoscale|credit|plugin_loader|worker_metrics)|process/test_(worker_lifecycle|worker_input|plugins)"
    fi
    deploy/build.sh build-tsan -DSANITIZE=thread
    TSAN_OPTIONS="suppressions=$top/tests/tsan/tsan.supp:halt_on_error=0" \
        sh -c "cd build-tsan && ctest --output-on-failure -j1 --timeout 400 $select '$tests'"
fi
