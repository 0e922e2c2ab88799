#!/usr/bin/env python3
"""A master SIGKILLed mid-job, then run again with --resume: together the two
runs write every task exactly once, a torn last line is tolerated, and a
bad results file is refused."""

import json
import os
import signal
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

N_TASKS = 3000


def sleep_job(env):
    job = [{"id": "t%d" % i, "type": "sleep", "payload": "2", "timeout_ms": 5000}
           for i in range(N_TASKS)]
    return job, env.write_job("job.jsonl", job)


def test_master_killed_then_resumed(env):
    job, job_path = sleep_job(env)
    out = env.path("results.jsonl")
    summary_path = env.path("summary.json")
    ports = h.Ports()
    env.start_worker(ports, extra=["--id", "w1"], threads=4)
    env.start_worker(ports, extra=["--id", "w2"], threads=4)
    #  --sync 0: no fdatasync until the end, yet lines still reach the file
    #  every tick, so a killed process (not a crashed host) loses nothing
    #  written, and the wait below sees them arrive.
    first = env.start_master(ports, job_path, out=out,
                             extra=["--min-workers", "2", "--quiet", "--sync", "0"])
    h.wait_for(lambda: len(h.complete_lines(out)) >= N_TASKS // 4 or not first.alive(),
               h.scaled(30), "a quarter of the results from the first master")
    h.check(first.alive(), "the first master ended before it could be killed (status %s)"
            % first.poll())
    first.signal(signal.SIGKILL)
    first.wait_exit(h.scaled(10), "the killed master")
    before = len(h.complete_lines(out))
    #  A crash can leave half a line; make sure there is one.
    with open(out, "a", encoding="utf-8") as f:
        f.write('{"seq": 1, "id": "torn')
    started = time.monotonic()
    second = env.start_master(ports, job_path, out=out, summary=summary_path,
                              extra=["--resume", "--min-workers", "2"])
    rc = second.wait_exit(h.scaled(60), "the resumed master")
    results = h.read_results(out)
    h.check_exactly_once(results, N_TASKS)
    h.check_eq(sorted(r["id"] for r in results), sorted(t["id"] for t in job), "ids")
    h.check(all(r["status"] == "ok" for r in results), "a task did not end ok")
    h.check_eq(rc, 0, "exit status of the resumed master")
    summary = h.read_summary(summary_path)
    h.check_eq(summary["resumed_skipped"], before, "resumed_skipped (lines written before the kill)")
    h.check_eq(summary["tasks"] + summary["resumed_skipped"], N_TASKS, "tasks + resumed_skipped")
    env.note("attempted %d completed %d lost 0 duplicates_dropped %d unexpected 0 "
             "stale_dropped %d faults 1 (master SIGKILL after %d results) resume took %.1f s"
             % (N_TASKS, len(results), summary["duplicates_dropped"], summary["stale_dropped"],
                before, time.monotonic() - started))


def test_resume_of_finished_job_runs_nothing(env):
    job, job_path = sleep_job(env)
    out = env.path("results.jsonl")
    with open(out, "w", encoding="utf-8") as f:
        for seq in range(1, N_TASKS + 1):
            f.write(json.dumps({"seq": seq, "id": "t%d" % (seq - 1), "status": "ok"}) + "\n")
    ports = h.Ports()
    master = env.start_master(ports, job_path, out=out, extra=["--resume", "--quiet"])
    #  No worker: a finished job must not need one.
    h.check_eq(master.wait_exit(h.scaled(15), "master resuming a finished job"), 0, "exit status")
    h.check_eq(h.count_lines(out), N_TASKS, "lines in the results file")


def test_resume_refuses_a_file_that_is_not_results(env):
    _, job_path = sleep_job(env)
    out = env.path("results.jsonl")
    with open(out, "w", encoding="utf-8") as f:
        f.write('{"seq": 1, "status": "ok"}\nnot json at all\n')
    ports = h.Ports()
    master = env.start_master(ports, job_path, out=out, extra=["--resume", "--quiet"])
    rc = master.wait_exit(h.scaled(15), "master given a bad results file")
    h.check(rc != 0, "a bad results file was accepted")
    h.check("line 2" in master.stderr(), "the error names the bad line: %r" % master.stderr()[-300:])
    h.check_eq(h.count_lines(out), 2, "the bad results file was changed")


def test_resume_needs_out(env):
    _, job_path = sleep_job(env)
    master = env.start_master(None, job_path, extra=["--resume"])
    h.check_eq(master.wait_exit(h.scaled(10), "master with --resume and no --out"), 2, "exit status")


if __name__ == "__main__":
    h.main([test_master_killed_then_resumed, test_resume_of_finished_job_runs_nothing,
            test_resume_refuses_a_file_that_is_not_results, test_resume_needs_out], __doc__)
