#!/usr/bin/env python3
"""Inspection (DESIGN.md, "Inspection"): the master's admin endpoint and the
`taskmill` CLI that asks it.

(1) `taskmill status --json` during a job: each worker listed with its real
    pid and thread count, done equal to the sum by status, numbers that add
    up; the table form names the same workers.
(2) `taskmill status` with no master: exit 3 within a few seconds.
(3) `taskmill drain`: every worker finishes what it holds and exits 0;
    a new worker then completes the job, every task exactly once.
(4) Hostile requests on the admin port (not JSON, unknown command, a
    multi-part message, an oversized frame): error replies or a dropped
    connection, counted, and the endpoint still answers.
"""

import json
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def cli_bin(env):
    path = os.path.join(os.path.dirname(os.path.dirname(env.master_bin)), "cli", "taskmill")
    h.check(os.access(path, os.X_OK), "no taskmill CLI at %s" % path)
    return path


def ask(env, ports, *args, timeout=10):
    p = env.run("taskmill", [cli_bin(env)] + list(args) + ["--admin", h.Ports.ep(ports.admin)],
                h.scaled(timeout))
    return p.poll(), p.stdout()


def sleep_job(env, n, ms):
    return env.write_job("job.jsonl", [{"id": "s%d" % i, "type": "sleep", "payload": str(ms)}
                                       for i in range(n)])


def test_status_during_a_job(env):
    n = 600
    ports = h.Ports()
    out, summary = env.path("out.jsonl"), env.path("summary.json")
    master = env.start_master(ports, sleep_job(env, n, 10), out=out, summary=summary)
    workers = {}
    for wid, threads in (("alpha", 2), ("beta", 3)):
        workers[wid] = (env.start_worker(ports, threads=threads, extra=["--id", wid, "--once"]),
                        threads)
    h.wait_for(lambda: h.count_lines(out) >= 50, h.scaled(20), "50 results written")
    rc, text = ask(env, ports, "status", "--json")
    h.check_eq(rc, 0, "taskmill status --json exit status")
    status = json.loads(text)
    job = status["job"]
    by_worker = {w["id"]: w for w in status["workers"]}
    env.note("status: done %d of %s, in flight %d, rate now %.0f/s; workers %s"
             % (job["done"], job["total"], job["in_flight"], job["rate_now"],
                {k: (w["pid"], w["credit"], w["held"], w["done"]) for k, w in by_worker.items()}))
    h.check_eq(job["done"], sum(job["by_status"].values()), "done against the sum by status")
    h.check(job["done"] >= 50, "done %d, though 50 results were written" % job["done"])
    h.check(job["total"] in (None, n), "total %s" % job["total"])
    h.check(job["done"] + job["in_flight"] <= n, "done + in flight over the job")
    for wid, (proc, threads) in workers.items():
        h.check(wid in by_worker, "worker %s not in the status: %s" % (wid, sorted(by_worker)))
        w = by_worker[wid]
        h.check_eq(w["pid"], proc.pid, "pid of %s" % wid)
        h.check_eq(w["threads"], threads, "threads of %s" % wid)
        h.check_eq(w["state"], "live", "state of %s" % wid)
        h.check(w["held"] <= w["credit"], "%s holds %d over its credit %d"
                % (wid, w["held"], w["credit"]))
    h.check(sum(w["done"] for w in by_worker.values()) <= job["done"],
            "the workers' done add up to more than the job's")
    rc, table = ask(env, ports, "status")
    h.check_eq(rc, 0, "taskmill status exit status")
    for wid in workers:
        h.check(wid in table, "the table does not name %s:\n%s" % (wid, table))
    h.check_eq(master.wait_exit(h.scaled(30), "master"), 0, "master exit status")
    h.check_exactly_once(h.read_results(out), n)


def test_status_without_a_master_exits_3(env):
    ports = h.Ports()
    t0 = time.monotonic()
    rc, _ = ask(env, ports, "status")
    took = time.monotonic() - t0
    env.note("no master: exit %s after %.2f s" % (rc, took))
    h.check_eq(rc, 3, "exit status with no master")
    h.check(took < h.scaled(5), "took %.1f s to give up" % took)


def test_drain_stops_every_worker(env):
    n = 400
    ports = h.Ports()
    out, summary = env.path("out.jsonl"), env.path("summary.json")
    master = env.start_master(ports, sleep_job(env, n, 20), out=out, summary=summary)
    first = [env.start_worker(ports, threads=2, extra=["--id", "d%d" % i]) for i in range(2)]
    h.wait_for(lambda: h.count_lines(out) >= 20, h.scaled(20), "20 results written")
    rc, reply = ask(env, ports, "drain")
    h.check_eq(rc, 0, "taskmill drain exit status (%s)" % reply.strip())
    for w in first:
        h.check_eq(w.wait_exit(h.scaled(15), "drained worker"), 0, "drained worker exit status")
    done_at_drain = h.count_lines(out)
    h.check(done_at_drain < n, "the job ended before the drain took effect")
    env.start_worker(ports, threads=4, extra=["--id", "after", "--once"])
    h.check_eq(master.wait_exit(h.scaled(30), "master"), 0, "master exit status")
    results = h.read_results(out)
    h.check_exactly_once(results, n)
    after = sum(1 for r in results if r["worker"] == "after")
    env.note("%d results before the drain; the new worker ran %d" % (done_at_drain, after))
    h.check(after > 0, "the worker started after the drain ran nothing")


def test_hostile_admin_requests(env):
    import zmq
    ports = h.Ports()
    master = env.start_master(ports, sleep_job(env, 200, 10), out=env.path("out.jsonl"),
                              summary=env.path("summary.json"))
    h.wait_for(lambda: h.is_listening(ports.admin), h.scaled(10), "the admin port to listen")
    ctx = zmq.Context()
    try:
        dealer = ctx.socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.connect(h.Ports.ep(ports.admin))
        replies = []
        for request in (b"not json", b'{"cmd": "nope"}', b"[1, 2]", b'{"cmd": 7}'):
            dealer.send(request)
            h.check(dealer.poll(h.scaled(5) * 1000), "no reply to %r" % request)
            replies.append(json.loads(dealer.recv()))
        for reply in replies:
            h.check("error" in reply, "no error object: %s" % reply)
        dealer.send_multipart([b"a", b"b", b"c", b"d"])     # too many parts: dropped
        big = ctx.socket(zmq.DEALER)
        big.setsockopt(zmq.LINGER, 0)
        big.connect(h.Ports.ep(ports.admin))
        big.send(b"x" * 100000)                             # over the limit: disconnected
        #  The snapshot is built once a tick: the counts show by the next.
        def counted():
            dealer.send(b'{"cmd": "status"}')
            h.check(dealer.poll(h.scaled(5) * 1000), "no status after hostile requests")
            status = json.loads(dealer.recv())
            h.check("job" in status, "not a status: %s" % h.short(status))
            return status["counters"]["garbage_dropped"] >= 4
        h.wait_for(counted, h.scaled(5), "garbage_dropped to count the bad requests")
        big.close()
        dealer.close()
    finally:
        ctx.destroy(linger=0)
    env.start_worker(ports, threads=2, extra=["--once"])
    h.check_eq(master.wait_exit(h.scaled(30), "master"), 0, "master exit status")


if __name__ == "__main__":
    h.main([test_status_during_a_job, test_status_without_a_master_exits_3,
            test_drain_stops_every_worker, test_hostile_admin_requests], __doc__)
