#!/usr/bin/env python3
"""The progress line on a terminal (issue 9): a bar with done of total,
rate and ETA, which log lines clear and which is drawn again below them,
so that a log line never runs into it. The master runs in a real terminal
(tmux); the test reads the screen with capture-pane while workers join
(each join is a log line) and at the end.
"""

import os
import shlex
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402


def tmux(*args):
    return subprocess.run(["tmux"] + list(args), capture_output=True, text=True, timeout=10)


def test_log_lines_never_run_into_the_progress_line(env):
    session = "tm%d" % os.getpid()
    job = env.write_job("job.jsonl", [{"id": "s%d" % i, "type": "sleep", "payload": "10"}
                                      for i in range(600)])
    ports = h.Ports()
    out = env.path("out.jsonl")
    done_flag = env.path("master.exit")
    command = "%s %s --out %s %s; echo $? > %s; sleep 60" % (
        shlex.quote(env.master_bin), shlex.quote(job), shlex.quote(out),
        " ".join(shlex.quote(a) for a in ports.master_args()), shlex.quote(done_flag))
    started = tmux("new-session", "-d", "-s", session, "-x", "200", "-y", "50", command)
    h.check(started.returncode == 0, "tmux did not start: %s" % started.stderr)
    screens = []
    try:
        h.wait_for(lambda: h.is_listening(ports.tasks), h.scaled(10), "the master to listen")
        for i in range(3):
            env.start_worker(ports, threads=2, extra=["--id", "join%d" % i, "--once"])
            h.wait_for(lambda: "worker joined: join%d" % i in tmux("capture-pane", "-p", "-t",
                                                                   session).stdout,
                       h.scaled(10), "join%d's log line on the screen" % i)
            screens.append(tmux("capture-pane", "-p", "-t", session).stdout)
        h.wait_for(lambda: os.path.exists(done_flag) and open(done_flag).read().strip(),
                   h.scaled(30), "the master to exit")
        screens.append(tmux("capture-pane", "-p", "-t", session).stdout)
    finally:
        tmux("kill-session", "-t", session)
    h.check_eq(open(done_flag).read().strip(), "0", "master exit status")
    h.check_exactly_once(h.read_results(out), 600)
    bars = 0
    for screen in screens:
        for line in screen.splitlines():
            if "I: (taskmill-master)" in line:
                h.check(line.startswith("I: (taskmill-master)") and "tasks/s" not in line,
                        "a log line ran into the progress line: %r" % line)
            if "tasks/s," in line and "done" in line:
                bars += 1
                h.check(line.lstrip().startswith("["), "a progress line without its bar: %r"
                        % line)
    env.note("progress lines seen on %d screens: %d" % (len(screens), bars))
    h.check(bars >= 1, "no progress line was ever on screen:\n%s" % screens[0])


if __name__ == "__main__":
    h.main([test_log_lines_never_run_into_the_progress_line], __doc__)
