#!/usr/bin/env python3
"""The exit status tells the truth about the output (DESIGN.md, "Exit
status"): it is decided after the last results are written and synced and
the summary is written, and any of those failing is status 3.

(1) --summary on a device that takes no bytes (/dev/full): every task ok,
    the results file complete, and still exit 3.
(2) --out on /dev/full: the writer holds the results and retries for
    --write-retry (here 0.3 s), then the run stops with exit 3 instead of
    reporting success for results that were never written.
(3) The same job with both outputs on a real file: exit 0 (the control).
"""

import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

N = 20


def run(env, out, summary, extra=(), name="master"):
    job = env.write_job("job.jsonl", [{"id": "e%d" % i, "type": "echo", "payload": "p%d" % i}
                                      for i in range(N)])
    ports = h.Ports()
    master = env.start_master(ports, job, out=out, summary=summary, extra=list(extra), name=name)
    env.start_worker(ports, threads=2, extra=["--once"])
    return master.wait_exit(h.scaled(20), name), master


def test_summary_write_failure_is_exit_3(env):
    out = env.path("results.jsonl")
    rc, master = run(env, out, "/dev/full")
    h.check_exactly_once(h.read_results(out), N)
    h.check_eq(rc, 3, "exit status with the summary on /dev/full")
    h.check("cannot write summary" in master.stderr(), "no error logged for the summary")


def test_results_write_failure_is_exit_3(env):
    summary = env.path("summary.json")
    rc, master = run(env, "/dev/full", summary, extra=["--write-retry", "300"])
    h.check_eq(rc, 3, "exit status with the results on /dev/full")
    h.check_eq(h.read_summary(summary)["exit_status"], 3, "the summary's exit_status")
    h.check("stopped writing" in master.stderr(), "no error logged for the results file")


def test_both_outputs_fine_is_exit_0(env):
    out, summary = env.path("results.jsonl"), env.path("summary.json")
    rc, _ = run(env, out, summary)
    h.check_exactly_once(h.read_results(out), N)
    h.check_eq(rc, 0, "exit status")
    h.check_eq(h.read_summary(summary)["exit_status"], 0, "the summary's exit_status")


if __name__ == "__main__":
    h.main([test_summary_write_failure_is_exit_3, test_results_write_failure_is_exit_3,
            test_both_outputs_fine_is_exit_0], __doc__)
