#!/bin/sh
# The first command of README.md: install what is missing, build, and run
# the bundled example job on a local cluster of a master and two workers.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
deploy/install-deps.sh
deploy/build.sh build
exec deploy/local-cluster.sh deploy/examples/mixed.jsonl --workers 2 --out build/results.jsonl \
    --summary build/summary.json
