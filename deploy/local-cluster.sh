#!/bin/sh
# Runs a job on a cluster on this machine: one master and N workers, as
# separate processes talking TCP over loopback. Prints the aggregate on
# stderr, writes results to --out (default: results.jsonl next to the job),
# and leaves no process behind. Exit status: the master's.
#
#   deploy/local-cluster.sh JOB [--workers N] [--out FILE] [--worker-arg ARG]...
#                           [master options...]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${TASKMILL_BIN:-$top/build}
if [ $# -eq 0 ] || [ "$1" = --help ] || [ "$1" = -h ]; then
    sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
fi
job=$1; shift
workers=2
out=results.jsonl
worker_args=""
while [ $# -gt 0 ]; do
    case $1 in
        --workers) workers=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --worker-arg) worker_args="$worker_args $2"; shift 2 ;;
        *) break ;;
    esac
done
host=127.0.0.1
pids=""
# shellcheck disable=SC2317  # reached through the trap below
cleanup() {
    for pid in $pids; do kill "$pid" 2>/dev/null || true; done
    for pid in $pids; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT INT TERM
i=0
while [ $i -lt "$workers" ]; do
    # These workers run the user's own job on the user's own machine, so
    # exec tasks are allowed here; remote workers opt in one by one.
    # shellcheck disable=SC2086
    "$bin/worker/taskmill-worker" $host --allow-exec --once --id "local-$i" $worker_args &
    pids="$pids $!"
    i=$((i + 1))
done
rm -f "$out"
status=0
"$bin/master/taskmill-master" "$job" --out "$out" --min-workers "$workers" \
    --bind-tasks tcp://$host:5557 --bind-results tcp://$host:5558 \
    --bind-control tcp://$host:5559 --bind-admin tcp://$host:5560 "$@" || status=$?
# --once workers exit by themselves after the job's end. If the master
# stopped before any job (a usage error), they never see one: the master is
# gone either way, so ask them to drain (SIGTERM) and wait.
for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
for pid in $pids; do wait "$pid" 2>/dev/null || true; done
pids=""
[ -f "$out" ] && echo "results: $out ($(wc -l < "$out") lines)" >&2
exit $status
