#!/usr/bin/env python3
"""Issue 13's benchmarks, printed figures (not pass/fail):

  autoscale    2,000 x sleep 10 ms on one worker with --min-threads 1
               --max-threads 16, against a fixed --threads 16 (goal <= 1.2x)
  speculation  60 x sleep 200 ms on two 2-thread workers, one a straggler
               (SIGSTOP 0.9 s / SIGCONT 0.1 s from this script), with and
               without --speculate, against the same job with the
               straggler removed (goal: with it, <= 1.3x straggler-free)

    python3 tests/bench/elastic.py --bin-dir build [--runs 3]

Makespans are launch-to-exit of the master, whose workers are already
connected. Loopback only; every process is killed at the end.
"""

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def ports():
    out = []
    for _ in range(4):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            out.append(s.getsockname()[1])
    return out


def endpoints(p, master):
    names = ("tasks", "results", "control", "admin")
    if master:
        return sum((["--bind-%s" % n, "tcp://127.0.0.1:%d" % port] for n, port in zip(names, p)), [])
    return sum((["--%s" % n, "tcp://127.0.0.1:%d" % port] for n, port in zip(names[:3], p[:3])), [])


def start(argv):
    return subprocess.Popen(argv, stderr=subprocess.DEVNULL, preexec_fn=os.setsid)


def kill(procs):
    for p in procs:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()


def makespan(bin_dir, job, worker_args, master_extra=(), straggle=None, timeout=120):
    p = ports()
    workers = [start([os.path.join(bin_dir, "worker", "taskmill-worker"), "127.0.0.1"]
                     + endpoints(p, False) + args) for args in worker_args]
    tmp = tempfile.mkdtemp(prefix="taskmill-elastic-")
    try:
        argv = [os.path.join(bin_dir, "master", "taskmill-master"), job, "--quiet",
                "--out", os.path.join(tmp, "out.jsonl"), "--summary", os.path.join(tmp, "s.json"),
                "--min-workers", str(len(worker_args))] + endpoints(p, True) + list(master_extra)
        stop = threading.Event()
        cycler = None
        if straggle is not None:
            victim = workers[straggle]

            def duty():
                time.sleep(0.3)
                while not stop.is_set():
                    os.kill(victim.pid, signal.SIGSTOP)
                    stop.wait(0.9)
                    os.kill(victim.pid, signal.SIGCONT)
                    stop.wait(0.1)
            cycler = threading.Thread(target=duty, daemon=True)
        t0 = time.monotonic()
        master = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
        if cycler:
            cycler.start()
        master.wait(timeout)
        took = time.monotonic() - t0
        stop.set()
        if cycler:
            cycler.join(5)
            os.kill(workers[straggle].pid, signal.SIGCONT)
        with open(os.path.join(tmp, "s.json")) as f:
            summary = json.load(f)
        return took, summary
    finally:
        kill(workers)


def write_job(n, ms):
    fd, path = tempfile.mkstemp(suffix=".jsonl", prefix="taskmill-elastic-job-")
    with os.fdopen(fd, "w") as f:
        for i in range(n):
            f.write(json.dumps({"id": "s%d" % i, "type": "sleep", "payload": str(ms),
                                "timeout_ms": 60000}) + "\n")
    return path


def median(runs):
    return statistics.median(runs)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bin-dir", default=os.path.join(REPO, "build"))
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    job = write_job(2000, 10)
    auto = [makespan(args.bin_dir, job, [["--min-threads", "1", "--max-threads", "16"]])[0]
            for _ in range(args.runs)]
    fixed = [makespan(args.bin_dir, job, [["--threads", "16"]])[0] for _ in range(args.runs)]
    print("| autoscale: 2,000 x 10 ms | 1..16 threads %.2f s | fixed 16 %.2f s | %.2fx (goal <= 1.2x) |"
          % (median(auto), median(fixed), median(auto) / median(fixed)))
    job = write_job(60, 200)
    two = [["--threads", "2", "--heartbeat", "200"]] * 2
    free = [makespan(args.bin_dir, job, [["--threads", "2"]])[0] for _ in range(args.runs)]
    spec, plain, won = [], [], []
    for _ in range(args.runs):
        took, s = makespan(args.bin_dir, job, two, ["--speculate", "--speculate-min", "500"],
                           straggle=0)
        spec.append(took)
        won.append(s.get("speculative_won", 0))
        plain.append(makespan(args.bin_dir, job, two, straggle=0)[0])
    print("| speculation: 60 x 200 ms, 2 x 2 threads, one straggling | with %.2f s (won %s) | "
          "without %.2f s | straggler removed (1 worker) %.2f s | with/straggler-free %.2fx "
          "(goal <= 1.3x) |" % (median(spec), won, median(plain), median(free),
                                median(spec) / median(free)))


if __name__ == "__main__":
    main()
