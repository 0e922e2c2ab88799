#!/usr/bin/env python3
"""Names from the wire are data, not terminal output (issue 10).

A worker whose id holds a screen clear (ESC[2J), an OSC title sequence
(ESC]0;...BEL), a C1 CSI and "\\nE: ... FORGED LOG LINE" joins, runs tasks
and is lost. Every line the master writes to stderr that names it (joined,
lost, the summary's per-worker counts) shows those bytes escaped as \\xNN:
no escape byte, no BEL and no line of the peer's making reach the log; and
`taskmill status` shows the id without them either.
"""

import os
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

EVIL = "evil\x1b[2J\x1b]0;owned\x07\u009b6n\nE: 26-12-01 00:00:00 FORGED LOG LINE"


def cli_bin(env):
    path = os.path.join(os.path.dirname(os.path.dirname(env.master_bin)), "cli", "taskmill")
    h.check(os.access(path, os.X_OK), "no taskmill CLI at %s" % path)
    return path


def test_a_worker_id_with_escapes_is_logged_escaped(env):
    n = 4
    ports = h.Ports()
    out, summary = env.path("out.jsonl"), env.path("summary.json")
    job = env.write_job("job.jsonl", [{"id": "t%d" % i, "type": "echo", "payload": "p"}
                                      for i in range(n)])
    master = env.start_master(ports, job, out=out, summary=summary,
                              extra=["--worker-timeout", "500"])
    fake = h.FakeWorker(ports, EVIL, incarnation="evil-%08x" % os.getpid())
    try:
        fake.credit(n)
        tasks = fake.take(n, h.scaled(10))
        h.wait_for(lambda: "worker joined" in master.stderr(), h.scaled(10), "the join line")
        #  The snapshot is built once a tick: the worker shows by the next.
        def listed():
            p = env.run("taskmill", [cli_bin(env), "status", "--admin", h.Ports.ep(ports.admin)],
                        h.scaled(10))
            return p.stdout() if "evil" in p.stdout() else None
        table = h.wait_for(listed, h.scaled(10), "the status table to list the worker")
        h.check("\x1b" not in table and "\x07" not in table and "\u009b" not in table,
                "control bytes in the status table: %r" % table)
        fake.answer(tasks[:n - 1])
        #  Silent past --worker-timeout with a task held: lost, then the
        #  task goes to the next worker.
        h.wait_for(lambda: "worker lost" in master.stderr(), h.scaled(10), "the lost line")
    finally:
        fake.close()
    env.start_worker(ports, extra=["--once"])
    h.check_eq(master.wait_exit(h.scaled(30), "master"), 0, "master exit status")
    h.check_exactly_once(h.read_results(out), n)
    log = master.stderr()
    for bad, what in (("\x1b", "ESC"), ("\x07", "BEL"), ("\u009b", "C1 CSI")):
        h.check(bad not in log, "%s reached the master's log: %r" % (what, log[-600:]))
    forged = [line for line in log.splitlines() if "FORGED" in line and not line.startswith(
        ("I: ", "W: ", "E: (taskmill-master)", "  ", "taskmill:"))]
    h.check(not forged, "a line of the peer's making: %r" % forged)
    h.check(not any(line.startswith("E: 26-12-01 00:00:00 FORGED") for line in log.splitlines()),
            "the forged line starts a line of the log")
    escaped = "evil\\x1b[2J\\x1b]0;owned\\x07\\xc2\\x9b6n\\x0aE: 26-12-01 00:00:00 FORGED LOG LINE"
    for what in ("worker joined: ", "worker lost: ", "workers: "):
        h.check(any(what in line and escaped in line for line in log.splitlines()),
                "no %r line with the escaped id %r in:\n%s" % (what, escaped, log[-1500:]))
    #  The results file and the summary are JSON: the id is kept, escaped there.
    s = h.read_summary(summary)
    h.check(EVIL in s["workers"], "the summary lost the worker's real id: %s" % sorted(s["workers"]))


if __name__ == "__main__":
    h.main([test_a_worker_id_with_escapes_is_logged_escaped], __doc__)
