#!/usr/bin/env python3
"""SIGTERM drains a worker; a second SIGTERM ends it at once.

(1) Two workers (--threads 4) run 400 sleep tasks of 20 ms. Once results of
    one of them (the victim) are in the results file and most of the job is
    still to do, the victim gets SIGTERM: it must exit 0 within a deadline,
    the other worker takes the rest, and the master ends with every task
    exactly once, all ok, exit 0.
(2) A worker running long tasks (sleep 30000 twice, and an exec "sleep 30")
    gets SIGTERM: it keeps running (draining what runs); a second SIGTERM
    makes it exit within a few seconds. The master survives the loss.
(3) With its master gone (SIGKILL) while results pile up, a worker still
    obeys a second SIGTERM at once, and its --drain-timeout: sending results
    never blocks it.
"""

import os
import signal
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

N_TASKS = 400


def test_sigterm_drains_busy_worker(env):
    job = [{"id": "s%d" % i, "type": "sleep", "payload": "20", "timeout_ms": 5000, "retries": 3}
           for i in range(N_TASKS)]
    job_path = env.write_job("job.jsonl", job)
    out = env.path("results.jsonl")
    summary_path = env.path("summary.json")
    ports = h.Ports()
    victim = env.start_worker(ports, extra=["--id", "victim"], threads=4, name="worker-victim")
    survivor = env.start_worker(ports, extra=["--id", "survivor"], threads=4, name="worker-survivor")
    h.wait_for_connect_attempts(ports.tasks, {victim.pid, survivor.pid}, h.scaled(15))
    #  --min-workers 2 and a small window: both workers get work and most of
    #  the job is still queued at the master when the victim is signalled.
    master = env.start_master(ports, job_path, out=out, summary=summary_path,
                              extra=["--min-workers", "2", "--window", "64"])

    def victim_has_results():
        if not master.alive():
            h.fail("the master exited (status %s) before the victim could be signalled"
                   % master.poll())
        return any(r.get("worker") == "victim" for r in h.complete_lines(out))
    h.wait_for(victim_has_results, h.scaled(20),
               "a result of the victim worker in the results file while the job runs "
               "(does the master append results as they come?)")
    written = h.complete_lines(out)
    h.check(len(written) < N_TASKS - 40,
            "test setup: the job was almost done (%d of %d results) before SIGTERM" % (len(written), N_TASKS))
    t_term = time.monotonic()
    victim.signal(signal.SIGTERM)
    vrc = victim.wait_exit(h.scaled(15), "draining worker after SIGTERM")
    env.note("victim exited %.2f s after SIGTERM with status %s; %d results were in the file then"
             % (time.monotonic() - t_term, vrc, len(written)))
    h.check_eq(vrc, 0, "exit status of the drained worker")
    h.check(master.alive() or master.poll() == 0, "master failed when the victim left (status %s)"
            % master.poll())

    rc = master.wait_exit(h.scaled(60), "master after the victim drained")
    results = h.read_results(out)
    h.check_exactly_once(results, N_TASKS)
    for r in results:
        h.check_result_shape(r)
        h.check_eq(r["status"], "ok", "status of %s (%s)" % (r["id"], h.short(r)))
        h.check(r["worker"] in ("victim", "survivor"), "result from unknown worker: %s" % h.short(r))
    h.check_eq(sorted(r["id"] for r in results), sorted(t["id"] for t in job), "ids in the results")
    h.check_eq(rc, 0, "master exit status")
    counts = {w: sum(1 for r in results if r["worker"] == w) for w in ("victim", "survivor")}
    h.check(counts["survivor"] > 0, "the remaining worker did no task: %s" % counts)
    h.check(counts["victim"] < N_TASKS, "the victim did every task: %s" % counts)
    h.check(survivor.alive(), "the other worker exited (status %s)" % survivor.poll())
    h.check_summary(h.read_summary(summary_path), results, exit_status=0)
    #  A drained worker left cleanly: it is not "lost" (whose tasks would be
    #  suspects), whether or not the job lasted long enough to see it go.
    log = master.stderr()
    h.check("worker lost: victim" not in log, "the master took the drained worker for lost")
    env.note("tasks per worker: %s; master logged the victim %s" % (
        counts, "as left (drained)" if "worker left: victim (drained)" in log else "not yet gone"))


def test_second_sigterm_exits_at_once(env):
    job = [{"id": "long-sleep-1", "type": "sleep", "payload": "30000", "timeout_ms": 60000},
           {"id": "long-exec", "type": "exec", "payload": "sleep 30; echo done", "timeout_ms": 60000},
           {"id": "long-sleep-2", "type": "sleep", "payload": "30000", "timeout_ms": 60000}]
    job_path = env.write_job("job.jsonl", job)
    ports = h.Ports()
    master = env.start_master(ports, job_path, out=env.path("results.jsonl"))
    h.wait_for(lambda: h.is_listening(ports.tasks) or not master.alive(), h.scaled(10),
               "the master to listen on its tasks port")
    h.check(master.alive(), "master exited early (status %s)" % master.poll())
    worker = env.start_worker(ports, extra=["--allow-exec", "--id", "longrun"], threads=3)
    #  The exec task's shell is a child of the worker: proof that the worker
    #  holds and runs the long tasks.
    h.wait_for(lambda: h.child_pids(worker.pid), h.scaled(15),
               "the worker to start the exec task (a child process)")
    children = h.child_pids(worker.pid)
    env.kill_at_cleanup(children)

    worker.signal(signal.SIGTERM)
    h.check(h.holds_for(worker.alive, 1.0),
            "the worker exited (status %s) within 1 s of the first SIGTERM although it runs "
            "30 s tasks (drain should finish them)" % worker.poll())
    t_second = time.monotonic()
    worker.signal(signal.SIGTERM)
    rc = worker.wait_exit(h.scaled(3), "worker after the second SIGTERM")
    env.note("worker exited %.2f s after the second SIGTERM, status %s"
             % (time.monotonic() - t_second, rc))
    h.check(rc >= 0 or rc == -signal.SIGTERM,
            "worker died of signal %d after the second SIGTERM" % -rc)
    if not h.eventually(lambda: not any(h.pid_alive(p) for p in children), 2.0):
        env.note("warning: exec child processes %s outlived the worker by 2 s"
                 % sorted(p for p in children if h.pid_alive(p)))
    h.check(master.alive(), "the master exited (status %s) when its only worker died" % master.poll())


def start_then_kill_master(env, job, worker_extra, threads):
    """A master running job on one worker, then SIGKILLed once the worker has
    results written and tasks still to run. Returns the worker."""
    job_path = env.write_job("job.jsonl", job)
    out = env.path("results.jsonl")
    ports = h.Ports()
    master = env.start_master(ports, job_path, out=out)
    worker = env.start_worker(ports, extra=worker_extra, threads=threads)
    h.wait_for(lambda: h.count_lines(out) >= 10 or not master.alive(), h.scaled(15),
               "the worker's first results to be written")
    h.check(master.alive(), "the master ended (status %s) before it was killed" % master.poll())
    master.signal(signal.SIGKILL)
    master.wait_exit(h.scaled(5), "master after SIGKILL")
    return worker


def long_then_short_job():
    """Two long sleeps the worker is still running when its master dies,
    then short ones whose results find no master."""
    job = [{"id": "long%d" % i, "type": "sleep", "payload": "30000", "timeout_ms": 60000}
           for i in range(2)]
    return job + [{"id": "s%d" % i, "type": "sleep", "payload": "2"} for i in range(20000)]


def test_second_sigterm_with_master_gone(env):
    worker = start_then_kill_master(env, long_then_short_job(), ["--id", "orphan"], threads=3)
    h.check(h.holds_for(worker.alive, 0.5), "the worker died with its master (status %s)"
            % worker.poll())
    worker.signal(signal.SIGTERM)
    h.check(h.holds_for(worker.alive, 0.5),
            "the worker exited (status %s) on the first SIGTERM although it runs 30 s tasks"
            % worker.poll())
    t_second = time.monotonic()
    worker.signal(signal.SIGTERM)
    rc = worker.wait_exit(h.scaled(3), "worker after two SIGTERMs with its master gone")
    env.note("worker exited %.2f s after the second SIGTERM, status %s"
             % (time.monotonic() - t_second, rc))
    h.check_eq(rc, 3, "worker exit status after a second SIGTERM")


def test_drain_timeout_with_master_gone(env):
    worker = start_then_kill_master(env, long_then_short_job(),
                                    ["--id", "orphan", "--drain-timeout", "500"], threads=3)
    worker.signal(signal.SIGTERM)
    t_term = time.monotonic()
    rc = worker.wait_exit(h.scaled(4), "worker past its 0.5 s drain timeout with its master gone")
    env.note("worker exited %.2f s after SIGTERM (drain timeout 0.5 s), status %s"
             % (time.monotonic() - t_term, rc))
    h.check_eq(rc, 3, "worker exit status at its drain timeout")


if __name__ == "__main__":
    h.main([test_sigterm_drains_busy_worker, test_second_sigterm_exits_at_once,
            test_second_sigterm_with_master_gone, test_drain_timeout_with_master_gone], __doc__)
