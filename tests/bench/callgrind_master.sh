#!/bin/sh
# Counts the master's instructions on the W1 shape (noop tasks, two workers
# x 1 thread) under callgrind: a figure that does not move with the load of
# a shared machine, unlike tasks/s. Prints the totals and the top functions
# (inclusive and self) and leaves callgrind.out in OUTDIR for
# callgrind_annotate.
#
#   tests/bench/callgrind_master.sh [BUILD_DIR] [TASKS] [OUTDIR]
#
# Defaults: build, 100000, a new temp dir. Worker batching depends on
# timing, so counts move by a percent or two between runs; compare per-task
# figures across several runs, not single digits.
set -eu
bin=${1:-build}
tasks=${2:-100000}
outdir=${3:-$(mktemp -d)}
host=127.0.0.1
ports=$(python3 -c 'import socket
s=[socket.socket() for _ in range(4)]
[x.bind(("127.0.0.1",0)) for x in s]
print(" ".join(str(x.getsockname()[1]) for x in s))')
# shellcheck disable=SC2086  # split into the four port numbers
set -- $ports
tasks_ep=tcp://$host:$1 results_ep=tcp://$host:$2
control_ep=tcp://$host:$3 admin_ep=tcp://$host:$4
pids=""
cleanup() {
    for pid in $pids; do kill "$pid" 2>/dev/null || true; done
    for pid in $pids; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM
valgrind --tool=callgrind --callgrind-out-file="$outdir/callgrind.out" \
    "$bin/master/taskmill-master" --generate "$tasks" --type noop \
    --out "$outdir/results.jsonl" --quiet --min-workers 2 \
    --bind-tasks "$tasks_ep" --bind-results "$results_ep" \
    --bind-control "$control_ep" --bind-admin "$admin_ep" \
    2>"$outdir/master.log" &
master=$!
i=0
while [ $i -lt 2 ]; do
    "$bin/worker/taskmill-worker" $host --tasks "$tasks_ep" \
        --results "$results_ep" --control "$control_ep" --threads 1 --once \
        --id "cg-w$i" 2>"$outdir/worker$i.log" &
    pids="$pids $!"
    i=$((i + 1))
done
status=0
wait $master || status=$?
for pid in $pids; do wait "$pid" 2>/dev/null || true; done
pids=""
lines=$(wc -l < "$outdir/results.jsonl")
echo "master exit $status, $lines result lines, output in $outdir"
total=$(callgrind_annotate "$outdir/callgrind.out" 2>/dev/null \
        | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }')
echo "Ir total $total, per task $((total / tasks))"
callgrind_annotate --inclusive=yes "$outdir/callgrind.out" 2>/dev/null \
    | sed -n '/file:function/,$p' | head -40
callgrind_annotate "$outdir/callgrind.out" 2>/dev/null \
    | sed -n '/file:function/,$p' | head -30
