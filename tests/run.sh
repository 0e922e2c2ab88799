#!/bin/sh
# The second command of README.md, and what CI runs: install what is
# missing, build, run every test (unit and process level); then the same
# suite again built with AddressSanitizer and UndefinedBehaviorSanitizer.
# TASKMILL_SKIP_SANITIZE=1 skips the second pass. TASKMILL_TSAN=1 adds a
# third, not in CI: ThreadSanitizer over the unit and process tests but the
# ones too slow under it (README.md, "Tests").
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
deploy/install-deps.sh
deploy/build.sh build
(cd build && ctest --output-on-failure -j1 --timeout 240)
if [ "${TASKMILL_SKIP_SANITIZE:-0}" != 1 ]; then
    deploy/build.sh build-asan -DSANITIZE=address,undefined
    # detect_leaks: no leaks allowed; abort_on_error: a report fails the test.
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        sh -c "cd build-asan && ctest --output-on-failure -j1 --timeout 240"
fi
if [ "${TASKMILL_TSAN:-0}" = 1 ]; then
    deploy/build.sh build-tsan -DSANITIZE=thread
    # Debian's libzmq is not instrumented: tests/tsan/tsan.supp says what
    # that hides; common/tm_tsan.h annotates our own hand-offs.
    TSAN_OPTIONS="suppressions=$top/tests/tsan/tsan.supp:halt_on_error=0" \
        sh -c "cd build-tsan && ctest --output-on-failure -j1 --timeout 400 \
               -E 'fuzz/|unit/test_dispatcher|process/test_(http|deploy|link_cut|progress|junk_connections|memory_bounds|zmtp_heartbeat)'"
fi
