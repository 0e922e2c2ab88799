#!/usr/bin/env python3
"""Worker lifecycle against real masters over loopback TCP.

(a) workers started before the master (proven to be dialling its port
    first) serve the job: exit 0, every task exactly once, by those workers;
(b) the same worker processes, not restarted, serve a second master run on
    the same ports: complete and correct, a new job id, nothing from run 1;
(c) a --once worker started after the master serves the job (results on the
    master's stdout, no --out) and exits 0 once the job has ended; a --once
    worker started before the master, beside a long-lived worker, exits 0
    when the job ends while the long-lived one stays up;
(d) with --min-workers 2 and two workers started with the master, both
    get a share of a small job, run after run (dispatch starts with the
    second worker's credit);
(e) a master stopped mid-job sends JOB_END: a worker drops the tasks of that
    job it still queues instead of running them for nobody.
"""

import hashlib
import os
import re
import signal
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def make_job(tag, n):
    job = []
    expect = {}
    for i in range(n):
        tid = "%s-%d" % (tag, i)
        kind = i % 4
        if kind == 0:
            text = "%s payload %d" % (tag, i)
            job.append({"id": tid, "type": "echo", "payload": text})
            expect[tid] = text.encode()
        elif kind == 1:
            text = "%s hash %d" % (tag, i)
            job.append({"id": tid, "type": "sha256", "payload": text})
            expect[tid] = hashlib.sha256(text.encode()).hexdigest().encode()
        elif kind == 2:
            text = " ".join([tag] * (i % 7 + 1))
            job.append({"id": tid, "type": "count-words", "payload": text})
            expect[tid] = str(i % 7 + 1).encode()
        else:
            job.append({"id": tid, "type": "sleep", "payload": "2", "timeout_ms": 10000})
            expect[tid] = None
    return job, expect


def check_run(results, job, expect, worker_ids):
    h.check_exactly_once(results, len(job))
    for r in results:
        h.check_result_shape(r)
        h.check(r["id"] in expect, "result for an id not in this run's job: %s" % h.short(r))
        h.check_eq(r["status"], "ok", "status of %s" % r["id"])
        if expect[r["id"]] is not None:
            h.check_eq(h.output_bytes(r), expect[r["id"]], "output of %s" % r["id"])
        h.check(r["worker"] in worker_ids, "result from unexpected worker %r (ours: %s)"
                % (r["worker"], sorted(worker_ids)))


def run_master(env, ports, tag, n, worker_ids, name):
    job, expect = make_job(tag, n)
    job_path = env.write_job(tag + ".jsonl", job)
    out = env.path(tag + "-results.jsonl")
    summary_path = env.path(tag + "-summary.json")
    master = env.start_master(ports, job_path, out=out, summary=summary_path, name=name)
    rc = master.wait_exit(h.scaled(40), "%s (%d tasks)" % (name, n))
    results = h.read_results(out)
    check_run(results, job, expect, worker_ids)
    h.check_eq(rc, 0, "%s exit status" % name)
    summary = h.read_summary(summary_path)
    h.check_summary(summary, results, exit_status=0)
    return summary


def test_workers_before_master_and_second_run(env):
    ports = h.Ports()
    ids = {"life-a", "life-b"}
    workers = [env.start_worker(ports, extra=["--id", wid], threads=2) for wid in sorted(ids)]
    #  (a) the workers are up and dialling before any master exists.
    h.wait_for_connect_attempts(ports.tasks, {w.pid for w in workers}, h.scaled(15))
    for w in workers:
        h.check(w.alive(), "worker %s exited before the master started (status %s)" % (w.name, w.poll()))
    s1 = run_master(env, ports, "run1", 400, ids, "master-run1")
    for w in workers:
        h.check(w.alive(), "worker %s exited after the first job (status %s)" % (w.name, w.poll()))
    #  (b) a new master process on the same ports, same worker processes.
    s2 = run_master(env, ports, "run2", 400, ids, "master-run2")
    for w in workers:
        h.check(w.alive(), "worker %s exited after the second job (status %s)" % (w.name, w.poll()))
    h.check(s1["job_id"] != s2["job_id"], "both master runs report the same job_id %r" % s1["job_id"])
    env.note("run1 workers %s, run2 workers %s" % (s1["workers"], s2["workers"]))


def test_once_worker_started_after_master(env):
    """A --once worker that joins a running master serves the job (results
    on the master's stdout: no --out) and exits 0 when the job ends."""
    ports = h.Ports()
    job, expect = make_job("once", 200)
    job_path = env.write_job("once.jsonl", job)
    #  No --out: results go to stdout.
    master = env.start_master(ports, job_path)
    h.wait_for(lambda: h.is_listening(ports.tasks) or not master.alive(), h.scaled(10),
               "the master to listen on its tasks port")
    h.check(master.alive(), "master exited early (status %s)" % master.poll())
    once = env.start_worker(ports, extra=["--once", "--id", "once-1"], threads=2)
    rc = master.wait_exit(h.scaled(40), "master")
    results = h.read_results_text(master.stdout(), "master stdout")
    check_run(results, job, expect, {"once-1"})
    h.check_eq(rc, 0, "master exit status")
    orc = once.wait_exit(h.scaled(10), "--once worker after the job ended")
    h.check_eq(orc, 0, "--once worker exit status")


def test_once_worker_beside_long_lived_worker(env):
    """A long-lived worker and a --once worker, both up before the master:
    the --once one exits 0 when the job ends, the other stays."""
    ports = h.Ports()
    stay = env.start_worker(ports, extra=["--id", "stay-1"], threads=2)
    once2 = env.start_worker(ports, extra=["--once", "--id", "once-2"], threads=2)
    h.wait_for_connect_attempts(ports.tasks, {stay.pid, once2.pid}, h.scaled(15))
    job2, expect2 = make_job("again", 300)
    job2_path = env.write_job("again.jsonl", job2)
    out2 = env.path("again-results.jsonl")
    master2 = env.start_master(ports, job2_path, out=out2, name="master-again",
                               extra=["--min-workers", "2"])
    rc2 = master2.wait_exit(h.scaled(40), "second master")
    results2 = h.read_results(out2)
    check_run(results2, job2, expect2, {"stay-1", "once-2"})
    h.check_eq(rc2, 0, "second master exit status")
    served = {r["worker"] for r in results2}
    env.note("workers that served the job: %s" % sorted(served))
    #  Its first job has ended, whether or not it got tasks of it.
    orc2 = once2.wait_exit(h.scaled(10), "--once worker after its job ended")
    h.check_eq(orc2, 0, "--once worker exit status")
    h.check(stay.alive(), "the long-lived worker exited after the job (status %s)" % stay.poll())


def test_min_workers_both_get_the_start(env):
    runs = 5
    for run in range(runs):
        ports = h.Ports()
        ids = {"gate-a%d" % run, "gate-b%d" % run}
        #  Started together, as deploy/local-cluster.sh does: the workers'
        #  connections land while the master is starting.
        workers = [env.start_worker(ports, extra=["--id", wid, "--once"], threads=2)
                   for wid in sorted(ids)]
        job, expect = make_job("gate%d" % run, 40)
        out = env.path("gate%d-results.jsonl" % run)
        master = env.start_master(ports, env.write_job("gate%d.jsonl" % run, job), out=out,
                                  name="master-gate%d" % run, extra=["--min-workers", "2"])
        rc = master.wait_exit(h.scaled(30), "master of run %d" % run)
        results = h.read_results(out)
        check_run(results, job, expect, ids)
        h.check_eq(rc, 0, "master exit status, run %d" % run)
        served = {r["worker"] for r in results}
        h.check_eq(served, ids, "workers that served run %d of %d (40 tasks, --min-workers 2)"
                   % (run + 1, runs))
        for w in workers:
            w.wait_exit(h.scaled(10), "--once worker %s" % w.name)
    env.note("%d runs, both workers served each" % runs)


def test_job_end_drops_queued_tasks(env):
    #  One thread, 300 ms tasks: the worker's window is its thread plus one
    #  round trip's worth, so once it has a rate it holds one running and at
    #  least one queued.
    job = [{"id": "s%d" % i, "type": "sleep", "payload": "300"} for i in range(50)]
    job_path = env.write_job("job.jsonl", job)
    out = env.path("results.jsonl")
    ports = h.Ports()
    master = env.start_master(ports, job_path, out=out)
    worker = env.start_worker(ports, threads=1, extra=["--id", "solo", "--heartbeat", "200"])
    h.wait_for(lambda: h.count_lines(out) >= 3, h.scaled(20), "three results written")
    master.signal(signal.SIGTERM)
    master.wait_exit(h.scaled(10), "master after SIGTERM")
    h.wait_for(lambda: "ended: dropped" in worker.stderr(), h.scaled(5),
               "the worker to drop the ended job's queued tasks")
    m = re.search(r"job \S+ ended: dropped (\d+) tasks", worker.stderr())
    env.note("worker: %s" % m.group(0))
    h.check(int(m.group(1)) >= 1, "dropped %s queued tasks" % m.group(1))
    h.check(worker.alive(), "the long-lived worker exited after the job ended")


if __name__ == "__main__":
    h.main([test_workers_before_master_and_second_run, test_min_workers_both_get_the_start,
            test_once_worker_started_after_master,
            test_once_worker_beside_long_lived_worker, test_job_end_drops_queued_tasks], __doc__)
