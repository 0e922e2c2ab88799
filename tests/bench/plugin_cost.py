#!/usr/bin/env python3
"""What a plugin call costs over a built-in, end to end: a W1-style job
(--generate N tasks of 64 B, 2 workers x 1 thread, loopback) of the built-in
noop against plugin-noop, the same no-op in a plugin
(tests/bench/noop_plugin.c, which the workers load in both cases), runs
interleaved. Prints tasks/s by the master's own clock (summary elapsed_s)
and the workers' CPU per task (wait4), median of --runs; then the in-process
figures of bench_plugin_call (the dispatch alone). Every process is killed
at the end. Not part of the test suite.

    python3 tests/bench/plugin_cost.py --bin-dir build [--runs 5] [--count 500000]
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(args, task_type, plugin, tmp):
    ep = ["tcp://127.0.0.1:%d" % free_port() for _ in range(4)]
    summary = os.path.join(tmp, "summary.json")
    master = subprocess.Popen(
        [os.path.join(args.bin_dir, "master", "taskmill-master"), "--generate", str(args.count),
         "--type", task_type, "--payload-size", "64", "--min-workers", "2", "--quiet",
         "--out", "/dev/null", "--summary", summary, "--bind-tasks", ep[0],
         "--bind-results", ep[1], "--bind-control", ep[2], "--bind-admin", ep[3]],
        stderr=subprocess.DEVNULL)
    workers = [subprocess.Popen([os.path.join(args.bin_dir, "worker", "taskmill-worker"),
                                 "127.0.0.1", "--tasks", ep[0], "--results", ep[1],
                                 "--control", ep[2], "--threads", "1", "--once",
                                 "--plugin", plugin], stderr=subprocess.DEVNULL)
               for _ in range(2)]
    worker_cpu = 0.0
    try:
        master.wait(timeout=300)
        for p in workers:
            _, _, usage = os.wait4(p.pid, 0)
            p.returncode = 0
            worker_cpu += usage.ru_utime + usage.ru_stime
    finally:
        for p in workers + [master]:
            if p.returncode is None and p.poll() is None:
                p.kill()
                p.wait()
    with open(summary) as f:
        s = json.load(f)
    if s["tasks"] != args.count or s.get("exit_status", 0) != 0:
        sys.exit("plugin_cost: a %s run did not finish ok: %s" % (task_type, s))
    return s["tasks"] / s["elapsed_s"], worker_cpu / s["tasks"] * 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin-dir", default="build")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--count", type=int, default=500000)
    args = parser.parse_args()
    bench_dir = os.path.join(args.bin_dir, "tests", "bench")
    plugin = os.path.abspath(os.path.join(bench_dir, "libbench_noop_plugin.so"))
    types = ["noop", "plugin-noop"]
    results = {t: [] for t in types}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.runs):
            for t in types:
                results[t].append(run(args, t, plugin, tmp))
    print("%d tasks x 64 B, 2 workers x 1 thread, median of %d runs:" % (args.count, args.runs))
    print("| type | tasks/s | runs | workers' CPU per task |")
    print("|---|---|---|---|")
    for t in types:
        rates = [r[0] for r in results[t]]
        print("| %s | %.0fk | %s | %.2f µs |"
              % (t, statistics.median(rates) / 1000, ", ".join("%.0fk" % (r / 1000) for r in rates),
                 statistics.median(r[1] for r in results[t])))
    sys.stdout.flush()
    subprocess.run([os.path.join(bench_dir, "bench_plugin_call"), plugin], check=True)


if __name__ == "__main__":
    sys.exit(main())
