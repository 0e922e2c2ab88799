#!/bin/sh
# Configures and builds taskmill into DIR (default build/). Extra arguments
# go to cmake, e.g. deploy/build.sh build-asan -DSANITIZE=address,undefined
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-build}
[ $# -gt 0 ] && shift
cmake -S "$top" -B "$top/$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$top/$dir" -j "$(nproc)"
