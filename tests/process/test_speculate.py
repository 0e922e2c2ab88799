#!/usr/bin/env python3
"""Tail speculation (--speculate, issue 13). One of two workers is made a
straggler from outside: stopped and continued on a duty cycle (SIGSTOP 0.9 s,
SIGCONT 0.1 s), so it still heartbeats but runs slowly. With --speculate,
once nothing is left to send, its long-running tasks get copies on the
other, idle worker, which wins them (counted in the summary); without it,
nothing is copied. Every task is written exactly once either way.
"""

import os
import signal
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

N = 60


def run(env, speculate, name):
    job = env.write_job("%s.jsonl" % name, [{"id": "s%d" % i, "type": "sleep", "payload": "200",
                                            "timeout_ms": 60000} for i in range(N)])
    ports = h.Ports()
    out, summary = env.path("%s-out.jsonl" % name), env.path("%s-summary.json" % name)
    extra = ["--min-workers", "2", "--worker-timeout", "5000"]
    if speculate:
        extra += ["--speculate", "--speculate-min", "500"]
    master = env.start_master(ports, job, out=out, summary=summary, extra=extra, name=name)
    #  A task the straggler starts in a 0.1 s run window is known to run only
    #  from a heartbeat sent after it in that window; at 200 ms there was
    #  none half the time and the master learnt of the task with its result.
    slow = env.start_worker(ports, threads=2, extra=["--id", "slow", "--heartbeat", "40"],
                            name="slow")
    env.start_worker(ports, threads=2, extra=["--id", "fast", "--heartbeat", "200"], name="fast")
    h.wait_for(lambda: h.count_lines(out) >= 4, h.scaled(20), "the first results")
    stop = threading.Event()

    def duty_cycle():
        while not stop.is_set() and slow.alive():
            slow.signal(signal.SIGSTOP)
            stop.wait(0.9)
            slow.signal(signal.SIGCONT)
            stop.wait(0.1)
    cycler = threading.Thread(target=duty_cycle, daemon=True)
    t0 = time.monotonic()
    cycler.start()
    try:
        rc = master.wait_exit(h.scaled(60), name)
    finally:
        stop.set()
        cycler.join(5)
        if slow.alive():
            slow.signal(signal.SIGCONT)
    took = time.monotonic() - t0
    results = h.read_results(out)
    h.check_eq(rc, 0, "%s exit status" % name)
    h.check_exactly_once(results, N)
    s = h.read_summary(summary)
    per_worker = {w: sum(1 for r in results if r["worker"] == w) for w in ("slow", "fast")}
    env.note("%s: %.1f s after the straggling began; launched %d won %d duplicates %d; %s"
             % (name, took, s["speculative_launched"], s["speculative_won"],
                s["duplicates_dropped"], per_worker))
    return s


def test_speculation_wins_the_stragglers_tasks(env):
    s = run(env, True, "with")
    h.check(s["speculative_launched"] >= 1, "no copy was launched")
    h.check(s["speculative_won"] >= 1, "no copy won")


def test_no_copies_without_speculate(env):
    s = run(env, False, "without")
    h.check_eq(s["speculative_launched"], 0, "copies launched without --speculate")
    h.check_eq(s["speculative_won"], 0, "copies won without --speculate")


if __name__ == "__main__":
    h.main([test_speculation_wins_the_stragglers_tasks, test_no_copies_without_speculate], __doc__)
