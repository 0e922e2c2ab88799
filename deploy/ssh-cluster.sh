#!/bin/sh
# Starts, lists and stops taskmill workers on a fleet of hosts over ssh.
# Each line of the hosts file is `HOST [THREADS] [ID]` (# comments and blank
# lines skipped; THREADS - or absent: the worker's default, its cores; ID
# absent: HOST). Every command is printed before it runs; --dry-run prints
# them (as a script) and runs nothing.
#
#   deploy/ssh-cluster.sh [options] start MASTER [-- WORKER_ARG...]
#   deploy/ssh-cluster.sh [options] status
#   deploy/ssh-cluster.sh [options] stop
#
#   --hosts FILE       the hosts file (default: hosts)
#   --dry-run          print the commands, run nothing
#   --worker-bin PATH  taskmill-worker on the hosts (default: taskmill-worker)
#   --run-dir DIR      where a worker's pid and log files go on its host,
#                      relative to the ssh user's home (default: .taskmill)
#   --stop-wait S      how long stop waits for a worker to drain (default 90)
#   --ssh-option OPT   passed to ssh as -o OPT (repeatable)
#
# start runs `taskmill-worker MASTER --id ID [--threads N] WORKER_ARG...` under
# nohup on each host, its pid in RUN_DIR/ID.pid, its stderr in RUN_DIR/ID.log;
# a worker already running is left alone. stop sends SIGTERM (the worker
# drains: it finishes what it holds, sends the results, exits 0) and waits.
# Exit status: 0 if every host did what was asked (status: every worker
# runs), 1 if some did not, 2 bad usage.
set -euf   # -f: no globbing of hosts-file fields

usage() {
    sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'
    exit "${1:-2}"
}

hosts_file=hosts
dry_run=0
worker_bin=taskmill-worker
run_dir=.taskmill
stop_wait=90
ssh_options="-o BatchMode=yes"

# One word of a shell command line, quoted so that the remote shell reads
# it back as it is.
quote() {
    case $1 in
        "" | *[!A-Za-z0-9_./:=@%+,-]*)
            printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")" ;;
        *) printf '%s' "$1" ;;
    esac
}

while [ $# -gt 0 ]; do
    case $1 in
        --hosts) [ $# -ge 2 ] || usage; hosts_file=$2; shift 2 ;;
        --dry-run) dry_run=1; shift ;;
        --worker-bin) [ $# -ge 2 ] || usage; worker_bin=$2; shift 2 ;;
        --run-dir) [ $# -ge 2 ] || usage; run_dir=$2; shift 2 ;;
        --stop-wait) [ $# -ge 2 ] || usage; stop_wait=$2; shift 2 ;;
        --ssh-option) [ $# -ge 2 ] || usage; ssh_options="$ssh_options -o $(quote "$2")"; shift 2 ;;
        -h | --help) usage 0 ;;
        --) shift; break ;;
        -*) echo "ssh-cluster.sh: unknown option $1" >&2; usage ;;
        *) break ;;
    esac
done
[ $# -ge 1 ] || usage
action=$1; shift
master=""
case $action in
    start)
        [ $# -ge 1 ] || { echo "ssh-cluster.sh: start needs the master's host name" >&2; usage; }
        master=$1; shift
        [ $# -eq 0 ] || [ "$1" != -- ] || shift ;;
    status | stop) [ $# -eq 0 ] || usage ;;
    *) echo "ssh-cluster.sh: unknown command $action" >&2; usage ;;
esac
case $stop_wait in
    "" | *[!0-9]*) echo "ssh-cluster.sh: --stop-wait wants whole seconds" >&2; exit 2 ;;
esac
[ -r "$hosts_file" ] || { echo "ssh-cluster.sh: cannot read hosts file $hosts_file" >&2; exit 2; }

# What the worker gets after the per-host options, quoted once here.
extra=""
for arg in "$@"; do
    extra="$extra $(quote "$arg")"
done

# The remote side, one line each, for POSIX sh on the host. alive() also
# rules out a zombie: on a host whose init does not reap, a drained worker
# would otherwise look alive until reaped.
# shellcheck disable=SC2016  # expanded by the remote shell, not here
alive='alive() { kill -0 "$1" 2>/dev/null && ! grep -q "^[0-9]* (.*) Z" "/proc/$1/stat" 2>/dev/null; }'

remote_start() {   # id threads
    pid=$(quote "$run_dir/$1.pid")
    log=$(quote "$run_dir/$1.log")
    threads=""
    [ -z "$2" ] || [ "$2" = - ] || threads=" --threads $(quote "$2")"
    # shellcheck disable=SC2016  # expanded by the remote shell, not here
    printf '%s; mkdir -p %s && if [ -f %s ] && alive "$(cat %s)"; then echo "%s: already running, pid $(cat %s)"; else nohup %s %s --id %s%s%s >%s 2>&1 </dev/null & echo $! >%s; echo "%s: started, pid $!"; fi' \
        "$alive" "$(quote "$run_dir")" "$pid" "$pid" "$1" "$pid" \
        "$(quote "$worker_bin")" "$(quote "$master")" "$(quote "$1")" "$threads" "$extra" \
        "$log" "$pid" "$1"
}

remote_status() {   # id
    pid=$(quote "$run_dir/$1.pid")
    # shellcheck disable=SC2016  # expanded by the remote shell, not here
    printf '%s; if [ -f %s ] && alive "$(cat %s)"; then echo "%s: running, pid $(cat %s)"; else echo "%s: not running"; exit 1; fi' \
        "$alive" "$pid" "$pid" "$1" "$pid" "$1"
}

remote_stop() {   # id
    pid=$(quote "$run_dir/$1.pid")
    # shellcheck disable=SC2016  # expanded by the remote shell, not here
    printf '%s; if [ -f %s ] && alive "$(cat %s)"; then p=$(cat %s); kill -TERM "$p"; n=0; while alive "$p"; do if [ $n -ge %d ]; then echo "%s: still draining after %ds, pid $p"; exit 1; fi; sleep 0.2 2>/dev/null || sleep 1; n=$((n + 1)); done; rm -f %s; echo "%s: drained and stopped"; else rm -f %s; echo "%s: not running"; fi' \
        "$alive" "$pid" "$pid" "$pid" "$((stop_wait * 5))" "$1" "$stop_wait" "$pid" "$1" "$pid" "$1"
}

# Runs (or with --dry-run only prints) ssh HOST COMMAND; the line printed
# is the command run, quoted for a shell.
run_ssh() {   # host command
    line="ssh $ssh_options $(quote "$1") $(quote "$2")"
    if [ "$dry_run" = 1 ]; then
        printf '%s\n' "$line"
        return 0
    fi
    printf '+ %s\n' "$line" >&2
    eval "$line"
}

failed=0
seen=" "
lineno=0
[ "$dry_run" = 0 ] || echo "#!/bin/sh"
while IFS= read -r entry || [ -n "$entry" ]; do
    lineno=$((lineno + 1))
    entry=${entry%%#*}
    # shellcheck disable=SC2086  # split the line into its fields
    set -- $entry
    [ $# -gt 0 ] || continue
    if [ $# -gt 3 ]; then
        echo "ssh-cluster.sh: $hosts_file:$lineno: want HOST [THREADS] [ID], got: $entry" >&2
        exit 2
    fi
    host=$1 threads=${2:--} id=${3:-$1}
    case $threads in
        - | [1-9] | [1-9][0-9] | [1-9][0-9][0-9]) ;;
        *) echo "ssh-cluster.sh: $hosts_file:$lineno: THREADS must be 1 to 999 or -, not $threads" >&2
           exit 2 ;;
    esac
    case $id in
        *[!A-Za-z0-9_.:@+-]*) echo "ssh-cluster.sh: $hosts_file:$lineno: ID may hold letters, digits and _.:@+- only: $id" >&2
                              exit 2 ;;
    esac
    case $seen in
        *" $id "*) echo "ssh-cluster.sh: $hosts_file:$lineno: id $id is taken: give each line of a host its own ID" >&2
                   exit 2 ;;
    esac
    seen="$seen$id "
    case $action in
        start) command=$(remote_start "$id" "$threads") ;;
        status) command=$(remote_status "$id") ;;
        stop) command=$(remote_stop "$id") ;;
    esac
    # ssh reads standard input: keep it off the hosts file.
    run_ssh "$host" "$command" </dev/null || failed=1
done < "$hosts_file"
[ "$seen" != " " ] || { echo "ssh-cluster.sh: no host in $hosts_file" >&2; exit 2; }
exit $failed
