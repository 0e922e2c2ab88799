#!/usr/bin/env python3
"""Elastic workers (issue 13): a worker started with --min-threads 1
--max-threads 8 grows its pool while sleep tasks wait and shrinks it back to
one thread after the job. Threads are counted in /proc/PID/task (the pool's
threads beside a fixed number of others: main, ZeroMQ's I/O threads), and
every task ends exactly once.
"""

import os
import re
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def threads_of(pid):
    return len(os.listdir("/proc/%d/task" % pid))


def test_pool_grows_then_shrinks(env):
    ports = h.Ports()
    worker = env.start_worker(ports, threads=None,
                              extra=["--id", "elastic", "--min-threads", "1", "--max-threads", "8",
                                     "--scale-shrink-after", "300", "--heartbeat", "200"])
    h.wait_for(lambda: "1 threads" in worker.stderr(), h.scaled(10), "the worker to start")
    #  What the process runs besides its one executor thread, settled.
    base = threads_of(worker.pid) - 1
    n = 1500
    job = env.write_job("job.jsonl", [{"id": "s%d" % i, "type": "sleep", "payload": "10"}
                                      for i in range(n)])
    out = env.path("out.jsonl")
    master = env.start_master(ports, job, out=out, summary=env.path("summary.json"))
    peak = [0]

    def grown():
        peak[0] = max(peak[0], threads_of(worker.pid) - base)
        return peak[0] >= 6
    h.wait_for(grown, h.scaled(15), "the pool to grow toward 8 threads")
    h.check_eq(master.wait_exit(h.scaled(30), "master"), 0, "master exit status")
    h.check_exactly_once(h.read_results(out), n)
    h.wait_for(lambda: threads_of(worker.pid) - base == 1, h.scaled(20),
               "the pool to shrink back to 1 thread after the job")
    changes = re.findall(r"threads (\d+) -> (\d+)", worker.stderr())
    env.note("pool: peak %d threads; %d changes, first %s, last %s"
             % (peak[0], len(changes), changes[:1], changes[-1:]))
    h.check(changes and int(changes[0][1]) > 1, "no growth logged: %s" % changes[:3])
    h.check(all(int(a) - int(b) == 1 for a, b in changes if int(b) < int(a)),
            "a shrink of more than one thread at a time: %s" % changes)
    h.check(worker.alive(), "the worker exited")


if __name__ == "__main__":
    h.main([test_pool_grows_then_shrinks], __doc__)
