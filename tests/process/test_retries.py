#!/usr/bin/env python3
"""Retries back off exponentially (--retry-backoff).

An exec task that records when it runs, then fails, is retried 3 times: each
retry must start no earlier than the backoff after the previous attempt
(base, 2 x base, 4 x base). These are lower bounds, which hold on any
machine; how soon after the backoff a retry runs is not checked here. With
--retry-backoff 0 the same task is still retried its full count.
"""

import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

RETRIES = 3
BACKOFF_MS = 200


def run_failing_task(env, tag, backoff_ms):
    """Runs one failing exec task with RETRIES retries; returns (result, the
    monotonic start times of its attempts in seconds, summary, master rc)."""
    stamps = env.path("%s-stamps.txt" % tag)
    #  /proc/uptime is a monotonic clock every shell can read.
    command = "cut -d' ' -f1 /proc/uptime >> %s; exit 7" % stamps
    job = env.write_job("%s.jsonl" % tag, [{"id": "flaky", "type": "exec", "payload": command,
                                             "retries": RETRIES}])
    ports = h.Ports()
    out = env.path("%s-results.jsonl" % tag)
    summary_path = env.path("%s-summary.json" % tag)
    env.start_worker(ports, extra=["--allow-exec", "--id", "%s-w" % tag, "--heartbeat", "100"], threads=1,
                     name="%s-worker" % tag)
    master = env.start_master(ports, job, out=out, summary=summary_path, name="%s-master" % tag,
                              extra=["--retry-backoff", str(backoff_ms), "--min-workers", "1"])
    rc = master.wait_exit(h.scaled(30), "%s master" % tag)
    results = h.read_results(out)
    h.check_eq(len(results), 1, "result lines")
    with open(stamps) as f:
        starts = [float(line) for line in f if line.strip()]
    return results[0], starts, h.read_summary(summary_path), rc


def test_backoff_doubles(env):
    result, starts, summary, rc = run_failing_task(env, "backoff", BACKOFF_MS)
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    env.note("attempts %d, gaps between attempts %s s (backoff %d ms, doubling)"
             % (result["attempts"], ", ".join("%.2f" % g for g in gaps), BACKOFF_MS))
    h.check_eq(result["status"], "failed", "status")
    h.check_eq(result.get("exit_code"), 7, "exit code")
    h.check_eq(result["attempts"], RETRIES + 1, "attempts")
    h.check_eq(len(starts), RETRIES + 1, "times the command ran")
    h.check_eq(summary["retries"], RETRIES, "summary retries")
    h.check_eq(rc, 1, "master exit status")
    for i, gap in enumerate(gaps):
        #  /proc/uptime has 10 ms steps.
        want = BACKOFF_MS * (2 ** i) / 1000.0 - 0.01
        h.check(gap >= want, "retry %d ran %.3f s after the attempt before it; the backoff is %.3f s"
                % (i + 1, gap, want + 0.01))


def test_no_backoff_still_retries(env):
    result, starts, summary, rc = run_failing_task(env, "immediate", 0)
    h.check_eq(result["attempts"], RETRIES + 1, "attempts with --retry-backoff 0")
    h.check_eq(len(starts), RETRIES + 1, "times the command ran with --retry-backoff 0")
    h.check_eq(summary["retries"], RETRIES, "summary retries")
    h.check_eq(rc, 1, "master exit status")


if __name__ == "__main__":
    h.main([test_backoff_doubles, test_no_backoff_still_retries], __doc__)
