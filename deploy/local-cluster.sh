#!/bin/sh
# Runs a job on a cluster on this machine: one master and N workers, as
# separate processes talking TCP over loopback. Prints the aggregate on
# stderr, writes results to --out (default: results.jsonl next to the job),
# and leaves no process behind. Exit status: the master's. The ports are
# 5557-5560 (tasks, results, control, admin), or four from TASKMILL_PORT_BASE.
#
#   deploy/local-cluster.sh JOB [--workers N] [--out FILE] [--worker-arg ARG]...
#                           [master options...]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${TASKMILL_BIN:-$top/build}
if [ $# -eq 0 ] || [ "$1" = --help ] || [ "$1" = -h ]; then
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
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
base=${TASKMILL_PORT_BASE:-5557}
tasks=tcp://$host:$base
results=tcp://$host:$((base + 1))
control=tcp://$host:$((base + 2))
admin=tcp://$host:$((base + 3))
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
    "$bin/worker/taskmill-worker" $host --tasks "$tasks" --results "$results" \
        --control "$control" --allow-exec --once --id "local-$i" $worker_args &
    pids="$pids $!"
    i=$((i + 1))
done
rm -f "$out"
status=0
"$bin/master/taskmill-master" "$job" --out "$out" --min-workers "$workers" \
    --bind-tasks "$tasks" --bind-results "$results" \
    --bind-control "$control" --bind-admin "$admin" "$@" || status=$?
# --once workers exit by themselves after the job's end. If the master
# stopped before any job (a usage error), they never see one: the master is
# gone either way, so ask them to drain (SIGTERM) and wait.
for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
for pid in $pids; do wait "$pid" 2>/dev/null || true; done
pids=""
[ -f "$out" ] && echo "results: $out ($(wc -l < "$out") lines)" >&2
exit $status
