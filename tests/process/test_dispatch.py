#!/usr/bin/env python3
"""Credit-based dispatch (DESIGN.md, "Why the tasks socket is ROUTER/DEALER"):
every worker busy in proportion to what it runs, newcomers fed at once,
short jobs started at once, and a lost worker's tasks, exactly those, sent
again. Counts and outcomes only: the timings go in tests/bench.
"""

import collections
import os
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def sleep_job(env, n, ms=10, name="job.jsonl"):
    return env.write_job(name, [{"id": "t%d" % i, "type": "sleep", "payload": str(ms)}
                                for i in range(n)])


def per_worker(results):
    return collections.Counter(r.get("worker") for r in results)


def finish(env, master, out, summary_path, n, timeout):
    rc = master.wait_exit(h.scaled(timeout), "master")
    results = h.read_results(out)
    h.check_exactly_once(results, n)
    summary = h.read_summary(summary_path)
    h.check_eq(rc, 0, "master exit status")
    h.check_summary(summary, results, exit_status=0)
    return results, summary


def test_late_joiners_get_a_share(env):
    n = 2000
    job = sleep_job(env, n)
    out, summary_path = env.path("out.jsonl"), env.path("summary.json")
    ports = h.Ports()
    master = env.start_master(ports, job, out=out, summary=summary_path)
    env.start_worker(ports, threads=4, extra=["--id", "first", "--once"])
    h.wait_for(lambda: h.count_lines(out) >= 100, h.scaled(20),
               "the first worker to finish 100 tasks")
    for i in range(3):
        env.start_worker(ports, threads=4, extra=["--id", "late%d" % i, "--once"],
                         name="late")
    results, _ = finish(env, master, out, summary_path, n, 60)
    counts = per_worker(results)
    env.note("tasks per worker: %s" % dict(counts))
    for i in range(3):
        h.check(counts["late%d" % i] >= n // 10,
                "late%d ran %d tasks, under a tenth of the job: %s"
                % (i, counts["late%d" % i], dict(counts)))


def test_workers_share_by_their_threads(env):
    n = 900
    job = sleep_job(env, n)
    out, summary_path = env.path("out.jsonl"), env.path("summary.json")
    ports = h.Ports()
    master = env.start_master(ports, job, out=out, summary=summary_path,
                              extra=["--min-workers", "2"])
    env.start_worker(ports, threads=1, extra=["--id", "one", "--once"])
    env.start_worker(ports, threads=8, extra=["--id", "eight", "--once"])
    results, _ = finish(env, master, out, summary_path, n, 60)
    counts = per_worker(results)
    env.note("tasks per worker: %s (threads 1 and 8)" % dict(counts))
    h.check(counts["eight"] >= 4 * counts["one"],
            "the 8-thread worker ran %d tasks, under 4 times the 1-thread worker's %d"
            % (counts["eight"], counts["one"]))


def test_one_task_jobs_on_warm_workers(env):
    ports = h.Ports()
    for i in range(2):
        env.start_worker(ports, threads=2, extra=["--id", "warm%d" % i])
    walls = []
    for run in range(5):
        job = env.write_job("one%d.jsonl" % run, [{"id": "only", "type": "echo", "payload": "hi"}])
        out, summary_path = env.path("out%d.jsonl" % run), env.path("summary%d.json" % run)
        t0 = time.monotonic()
        master = env.start_master(ports, job, out=out, summary=summary_path,
                                  name="master%d" % run)
        results, _ = finish(env, master, out, summary_path, 1, 20)
        walls.append(time.monotonic() - t0)
        h.check_eq(results[0]["output"], "hi", "output of run %d" % run)
    env.note("master start to exit, one task on warm workers: %s s"
             % ", ".join("%.3f" % w for w in walls))


def test_lost_worker_resends_exactly_its_unfinished_tasks(env):
    n, window, answered, running = 40, 10, 4, 2
    job = env.write_job("job.jsonl", [{"id": "t%d" % i, "type": "echo", "payload": "p%d" % i,
                                       "retries": 2} for i in range(n)])
    out, summary_path = env.path("out.jsonl"), env.path("summary.json")
    ports = h.Ports()
    master = env.start_master(ports, job, out=out, summary=summary_path,
                              extra=["--worker-timeout", "1000"])
    fake = h.FakeWorker(ports, "fake")
    try:
        h.wait_for(lambda: h.is_listening(ports.tasks), h.scaled(10), "the master to listen")
        fake.credit(window)
        first = list(fake.take(window, h.scaled(10)))
        job_id = first[0].job_id
        fake.answer(first[:answered])
        #  A window, not an increment: each answer makes room for one more.
        taken = fake.take(window + answered, h.scaled(10))
        unanswered = taken[answered:]
        fake.heartbeat(held=unanswered, running=unanswered[:running], job_id=job_id)
        h.wait_for(lambda: h.count_lines(out) >= answered, h.scaled(10),
                   "the fake worker's %d results to be written" % answered)
        h.check(h.holds_for(lambda: not fake.tasks.poll(0), 0.3),
                "the master sent past the fake worker's credit")
    finally:
        fake.close()
    env.start_worker(ports, threads=2, extra=["--id", "real", "--once"])
    results, summary = finish(env, master, out, summary_path, n, 30)
    lost = [l for l in master.stderr().splitlines() if "worker lost: fake" in l]
    env.note("master: %s" % lost)
    h.check(lost and ("%d tasks sent again, %d of them charged" % (window, running))
            in lost[0], "the master's log: %s" % lost)
    by_seq = {r["seq"]: r for r in results}
    for t in first[:answered]:
        h.check_eq(by_seq[t.seq]["worker"], "fake", "worker of seq %d, answered by the fake" % t.seq)
    for t in unanswered[:running]:
        h.check_eq(by_seq[t.seq]["attempts"], 2, "attempts of seq %d, running on the lost fake" % t.seq)
    for t in unanswered[running:]:
        h.check_eq(by_seq[t.seq]["attempts"], 1, "attempts of seq %d, queued on the lost fake" % t.seq)
    h.check_eq(summary["reissued"], window - running, "summary reissued")
    h.check_eq(summary["retries"], running, "summary retries")

if __name__ == "__main__":
    h.main([test_late_joiners_get_a_share, test_workers_share_by_their_threads,
            test_one_task_jobs_on_warm_workers,
            test_lost_worker_resends_exactly_its_unfinished_tasks], __doc__)
