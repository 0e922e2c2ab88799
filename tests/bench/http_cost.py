#!/usr/bin/env python3
"""What --http and asking for status cost a W1-style job (1,000,000 noop
tasks of 64 B, 2 workers x 1 thread, --generate), runs interleaved:

  plain      no --http
  http-idle  --http, nobody asking
  http-poll  --http, /metrics and /api/status each fetched every 100 ms on
             one kept-alive connection (a fast Prometheus plus a dashboard)
  admin-poll no --http, {"cmd":"status"} on the admin socket every 100 ms

Prints tasks/s by the master's own clock (summary elapsed_s) and the
master's CPU seconds (wait4), median of --runs. Loopback only; every
process is killed at the end. Not part of the test suite.

    python3 tests/bench/http_cost.py --bin-dir build [--runs 5] [--count 1000000]
"""

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def poll_http(port, stop, counts):
    conn = None
    while not stop.is_set():
        for path in ("/metrics", "/api/status"):
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", path)
                conn.getresponse().read()
                counts[0] += 1
            except (OSError, http.client.HTTPException):
                conn = None
        stop.wait(0.1)


def poll_admin(port, stop, counts):
    import zmq
    ctx = zmq.Context()
    dealer = ctx.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.connect("tcp://127.0.0.1:%d" % port)
    while not stop.is_set():
        dealer.send(b'{"cmd":"status"}')
        if dealer.poll(2000):
            dealer.recv()
            counts[0] += 1
        stop.wait(0.1)
    dealer.close()
    ctx.term()


def run(args, config, tmp):
    ports = [free_port() for _ in range(5)]
    ep = ["tcp://127.0.0.1:%d" % p for p in ports[:4]]
    summary = os.path.join(tmp, "summary.json")
    master_argv = [os.path.join(args.bin_dir, "master", "taskmill-master"),
                   "--generate", str(args.count), "--type", "noop", "--payload-size", "64",
                   "--quiet", "--out", "/dev/null", "--summary", summary,
                   "--bind-tasks", ep[0], "--bind-results", ep[1], "--bind-control", ep[2],
                   "--bind-admin", ep[3]]
    if config.startswith("http"):
        master_argv += ["--http", "127.0.0.1:%d" % ports[4]]
    master = subprocess.Popen(master_argv, stderr=subprocess.DEVNULL)
    workers = [subprocess.Popen([os.path.join(args.bin_dir, "worker", "taskmill-worker"),
                                 "127.0.0.1", "--tasks", ep[0], "--results", ep[1],
                                 "--control", ep[2], "--threads", "1", "--once"],
                                stderr=subprocess.DEVNULL) for _ in range(2)]
    stop, counts, poller = threading.Event(), [0], None
    if config in ("http-poll", "admin-poll"):
        target = poll_http if config == "http-poll" else poll_admin
        poller = threading.Thread(target=target,
                                  args=(ports[4] if config == "http-poll" else ports[3], stop, counts))
        poller.start()
    try:
        _, status, usage = os.wait4(master.pid, 0)
        master.returncode = os.waitstatus_to_exitcode(status)
    finally:
        stop.set()
        if poller:
            poller.join()
        for p in workers + [master]:
            if p.poll() is None:
                p.kill()
            p.wait()
    with open(summary) as f:
        s = json.load(f)
    return s["tasks"] / s["elapsed_s"], usage.ru_utime + usage.ru_stime, counts[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bin-dir", default="build")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--count", type=int, default=1000000)
    args = parser.parse_args()
    configs = ["plain", "http-idle", "http-poll", "admin-poll"]
    results = {c: [] for c in configs}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.runs):
            for config in configs:
                results[config].append(run(args, config, tmp))
    base = statistics.median(r[0] for r in results["plain"])
    print("| config | tasks/s (median of %d) | runs | vs plain | master CPU s | requests |"
          % args.runs)
    print("|---|---|---|---|---|---|")
    for config in configs:
        rates = [r[0] for r in results[config]]
        cpu = statistics.median(r[1] for r in results[config])
        asked = statistics.median(r[2] for r in results[config])
        print("| %s | %.0fk | %s | %.2f× | %.2f | %d |"
              % (config, statistics.median(rates) / 1000,
                 ", ".join("%.0fk" % (r / 1000) for r in rates),
                 statistics.median(rates) / base, cpu, asked))


if __name__ == "__main__":
    sys.exit(main())
