#!/usr/bin/env python3
"""ZMTP heartbeat regression (issue 3): a 10 s task on a busy worker.

Why this test exists. ZeroMQ's transport heartbeats (ZMQ_HEARTBEAT_IVL,
_TIMEOUT, _TTL) must stay off the tasks and results sockets. In libzmq 4.3.4
a PULL whose pipe is full stops reading its TCP connection, PINGs included;
the heartbeat times out, libzmq resets the connection, and every task queued
in it is lost without a word, to come back only when its lease expires
(zeromq/libzmq#3937, #4767). common/tm_socket.c says so, but nothing else
would stop someone from "improving" liveness with those options. Python
cannot read a socket option of another process, so this test recreates the
condition and checks the outcome. (Checked by hand: with a 1 s interval and
3 s timeout on those sockets, the worker's tasks connection is replaced
about 4 s into the long task, and this test fails.)

The condition, before credit. With PUSH dispatch, one worker with one
thread and a small --queue stopped reading while a long task ran; its pipe
and then its kernel buffer filled, and with ZMTP heartbeats on, the
connection was reset and the tasks in it lost. With credit (the master
sends a worker no more than its window) the worker always has room for
what it is sent, so the tasks connection does not back up at all: the test
now checks that too (unread bytes on the worker's tasks connection, sampled
from /proc/net/tcp, for less than half the long task), besides the
outcome. The job: 300 `sleep 1` tasks, then one `sleep 10000` (timeout
60 s), then 40 000 noops, on one worker with one thread and `--queue 256`.

Checked: the master exits 0 within its deadline (the long task is real: the
test waits on the master, not on a sleep of its own); every seq exactly
once, ok, at its first attempt; the long task ran its 10 s; the summary has
reissued, leases_expired, retries and duplicates_dropped all 0; the master
never logged "worker lost"; and the worker's connections to the tasks and
results ports (their port pairs, sampled every 0.1 s from start to end)
were never replaced.
"""

import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

N_SHORT = 300           # 1 ms tasks before the long one: small refill frames
N_NOOP = 40000          # behind the long one
SLEEP_MS = 10000


class ConnectionWatch:
    """Samples the worker's connections to the tasks and results ports until
    the master exits; fails at once if either is replaced by another. One
    that goes away is noted: the master closes its sockets a moment before
    it exits."""

    def __init__(self, worker, master, ports):
        self.worker = worker
        self.master = master
        self.ports = {"tasks": ports.tasks, "results": ports.results}
        self.first = {}             # name -> {(local port, remote port)}
        self.gone_at = {}           # name -> when it was first seen gone
        self.exited_at = None       # when the master was first seen exited
        self.samples = 0
        self.backlog_since = None   # start of the present stretch of unread bytes on tasks
        self.longest_backlog = 0.0  # the longest such stretch, seconds
        self.max_backlog = 0
        self.started = time.monotonic()

    def sample(self):
        """One look; True once the master has exited (its exit closes the
        connections, so that last look does not count)."""
        seen = {name: h.tcp_connections(self.worker.pid, port) for name, port in self.ports.items()}
        if self.master.poll() is not None:
            self.exited_at = time.monotonic()
            return True
        h.check(self.worker.alive(), "the worker died (status %s)" % self.worker.poll())
        now = time.monotonic()
        for name, conns in seen.items():
            pairs = {(local, remote) for local, remote, _, _ in conns}
            if name not in self.first:
                if pairs:
                    self.first[name] = pairs
                continue
            if not pairs:
                self.gone_at.setdefault(name, now)
                continue
            h.check(pairs == self.first[name],
                    "the worker's %s connection changed %.1f s into the run: %s, now %s (a reset "
                    "connection loses what was queued in it)"
                    % (name, now - self.started, sorted(self.first[name]), sorted(pairs)))
        if len(self.first) == len(self.ports):
            self.samples += 1
        #  Unbroken stretches count, not the first to the last look with
        #  unread bytes: a slow build's worker may lag briefly before and
        #  after the long task, which says nothing about credit during it.
        backlog = sum(rx for _, _, _, rx in seen["tasks"])
        if backlog:
            if self.backlog_since is None:
                self.backlog_since = now
            self.longest_backlog = max(self.longest_backlog, now - self.backlog_since)
            self.max_backlog = max(self.max_backlog, backlog)
        else:
            self.backlog_since = None
        return False

    def check_gone(self, limit):
        """Connections that went away did so at most limit s before the
        master exited."""
        for name, at in self.gone_at.items():
            h.check(self.exited_at - at <= limit, "the worker's %s connection went away %.1f s "
                    "before the master exited" % (name, self.exited_at - at))

    def backlog_span(self):
        return self.longest_backlog


def test_long_task_on_busy_worker(env):
    ports = h.Ports()
    job = [{"id": "s%d" % i, "type": "sleep", "payload": "1"} for i in range(N_SHORT)]
    job.append({"id": "long", "type": "sleep", "payload": str(SLEEP_MS), "timeout_ms": 60000})
    job += [{"id": "n%d" % i, "type": "noop"} for i in range(N_NOOP)]
    n = len(job)
    long_seq = N_SHORT + 1
    out = env.path("results.jsonl")
    summary_path = env.path("summary.json")
    master = env.start_master(ports, env.write_job("job.jsonl", job), out=out, summary=summary_path)
    worker = env.start_worker(ports, threads=1, extra=["--id", "w1", "--queue", "256"])
    watch = ConnectionWatch(worker, master, ports)
    h.wait_for(watch.sample, SLEEP_MS / 1000 + h.scaled(20),
               "the master to finish the job (a %d ms task, then %d noops)" % (SLEEP_MS, N_NOOP),
               interval=0.1)
    elapsed = time.monotonic() - watch.started
    rc = master.wait_exit(h.scaled(10))

    results = h.read_results(out)
    by_seq = h.check_exactly_once(results, n)
    bad = [r for r in results if r["status"] != "ok" or r["attempts"] != 1]
    h.check(not bad, "%d results not ok at the first attempt, e.g. %s" % (len(bad), h.short(bad[:3])))
    h.check_eq(rc, 0, "master exit status")
    long = by_seq[long_seq]
    h.check_eq(long["id"], "long", "id of seq %d" % long_seq)
    h.check(long["duration_us"] >= SLEEP_MS * 1000 * 0.99, "the long task ran %d us, not %d ms"
            % (long["duration_us"], SLEEP_MS))
    summary = h.read_summary(summary_path)
    h.check_summary(summary, results, exit_status=0, n_workers=1)
    for key in ("reissued", "leases_expired", "retries", "duplicates_dropped"):
        h.check_eq(summary.get(key), 0, "summary %s" % key)
    h.check("worker lost" not in master.stderr(), "the master lost the worker: %s"
            % [l for l in master.stderr().splitlines() if "worker lost" in l][:2])

    h.check(len(watch.first) == 2 and watch.samples > 0,
            "the worker's tasks and results connections were never seen (%s)" % watch.first)
    watch.check_gone(h.scaled(3))
    h.check(watch.backlog_span() < SLEEP_MS / 1000 / 2,
            "unread bytes waited on the worker's tasks connection for %.1f s (max %d bytes): "
            "the master sent past the worker's credit while the long task ran"
            % (watch.backlog_span(), watch.max_backlog))
    env.note("%d tasks, 1 worker x 1 thread, %.1f s: tasks %s and results %s connections unchanged "
             "over %d samples; unread on the worker's tasks connection for %.1f s (max %d bytes); "
             "reissued %d, leases_expired %d, retries %d, duplicates_dropped %d"
             % (n, elapsed, sorted(watch.first["tasks"]), sorted(watch.first["results"]),
                watch.samples, watch.backlog_span(), watch.max_backlog, summary["reissued"],
                summary["leases_expired"], summary["retries"], summary["duplicates_dropped"]))


if __name__ == "__main__":
    h.main([test_long_task_on_busy_worker], __doc__)
