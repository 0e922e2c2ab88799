#!/usr/bin/env python3
"""Toward a thousand hosts, in simulation (issue 11): one process plays N
workers over the real protocol (pyzmq: a DEALER with its own routing id
granting credit, a PUSH sending results and heartbeats), against one real
master on loopback. Reports what the master spends per worker (CPU on
heartbeats while idle, memory, file descriptors), the job's rate, and how
long a worker that falls silent takes to be declared lost.

    python3 tests/bench/many_workers.py --bin-dir build [--workers 100,300,1000]

Not part of the test suite. Every run has a timeout and kills what it starts.
"""

import argparse
import os
import random
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

import zmq

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HZ = os.sysconf("SC_CLK_TCK")


def load_proto(tmp):
    subprocess.run(["protoc", "--python_out=" + tmp, "-I", os.path.join(REPO, "proto"),
                    os.path.join(REPO, "proto", "taskmill.proto")], check=True)
    sys.path.insert(0, tmp)
    import taskmill_pb2
    return taskmill_pb2


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_stats(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu_s = (int(fields[11]) + int(fields[12])) / HZ
    rss_kb = 0
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss_kb = int(line.split()[1])
    fds = len(os.listdir("/proc/%d/fd" % pid))
    return cpu_s, rss_kb / 1024.0, fds


class Fleet:
    def __init__(self, pb, ctx, n, ports):
        self.pb, self.n = pb, n
        self.workers = []
        for i in range(n):
            incarnation = ("sim%04d-%08x" % (i, random.getrandbits(32))).encode()
            tasks = ctx.socket(zmq.DEALER)
            tasks.setsockopt(zmq.ROUTING_ID, incarnation)
            tasks.setsockopt(zmq.LINGER, 0)
            tasks.connect("tcp://127.0.0.1:%d" % ports[0])
            results = ctx.socket(zmq.PUSH)
            results.setsockopt(zmq.LINGER, 0)
            results.connect("tcp://127.0.0.1:%d" % ports[1])
            self.workers.append({"id": "sim%04d" % i, "inc": incarnation.decode(), "tasks": tasks,
                                 "results": results, "alive": True, "held": [], "job": ""})
        self.poller = zmq.Poller()
        for w in self.workers:
            self.poller.register(w["tasks"], zmq.POLLIN)
        self.by_socket = {w["tasks"]: w for w in self.workers}
        self.done = 0

    def credit(self, w, window=64):
        env = self.pb.WorkerToMaster(version=1)
        env.credit.worker_id, env.credit.credit, env.credit.threads = w["id"], window, 1
        env.credit.epoch, env.credit.stamp = 1, 1
        w["tasks"].send(env.SerializeToString())

    def heartbeat(self, w):
        env = self.pb.WorkerToMaster(version=1)
        hb = env.heartbeat
        hb.worker_id, hb.host, hb.pid, hb.threads_total = w["id"], "sim", os.getpid(), 1
        hb.job_id, hb.incarnation = w["job"], w["inc"]
        w["results"].send(env.SerializeToString())

    def serve(self, seconds, heartbeat_s=1.0):
        """Answers every task at once (noop), heartbeats each worker every
        heartbeat_s, for seconds."""
        end = time.monotonic() + seconds
        next_beat = 0
        while time.monotonic() < end:
            now = time.monotonic()
            if now >= next_beat:
                next_beat = now + heartbeat_s
                for w in self.workers:
                    if w["alive"]:
                        self.heartbeat(w)
                        self.credit(w)
            for sock, _ in self.poller.poll(50):
                w = self.by_socket[sock]
                while True:
                    try:
                        data = sock.recv(zmq.NOBLOCK)
                    except zmq.Again:
                        break
                    if not w["alive"]:
                        continue
                    env = self.pb.MasterToWorker.FromString(data)
                    if not env.tasks.tasks:
                        continue
                    out = self.pb.WorkerToMaster(version=1)
                    for t in env.tasks.tasks:
                        w["job"] = t.job_id
                        r = out.results.results.add()
                        r.job_id, r.seq, r.id, r.attempt = t.job_id, t.seq, t.id, t.attempt
                        r.status, r.worker_id = self.pb.OK, w["id"]
                    w["results"].send(out.SerializeToString())
                    self.done += len(env.tasks.tasks)

    def close(self):
        for w in self.workers:
            w["tasks"].close(0)
            w["results"].close(0)


def start_master(bin_dir, tmp, ports, tasks, min_workers):
    log = open(os.path.join(tmp, "master-%d.log" % min_workers), "w+")
    argv = [os.path.join(bin_dir, "master", "taskmill-master"), "--generate", str(tasks),
            "--type", "noop", "--out", os.path.join(tmp, "out-%d.jsonl" % min_workers),
            "--quiet", "--worker-timeout", "3000",
            "--bind-tasks", "tcp://127.0.0.1:%d" % ports[0],
            "--bind-results", "tcp://127.0.0.1:%d" % ports[1],
            "--bind-control", "tcp://127.0.0.1:%d" % ports[2],
            "--bind-admin", "tcp://127.0.0.1:%d" % ports[3], "--min-workers", str(min_workers)]
    return subprocess.Popen(argv, stderr=log, preexec_fn=os.setsid), log


def stop(master):
    try:
        os.killpg(master.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    master.wait()


def idle_cost(bin_dir, pb, n, tmp):
    """A master that waits for one worker more than there are: n workers
    connected and heartbeating, nothing dispatched. Then one falls silent."""
    ports = [free_port() for _ in range(4)]
    master, log = start_master(bin_dir, tmp, ports, 10, n + 1)
    ctx = zmq.Context()
    ctx.setsockopt(zmq.MAX_SOCKETS, 4 * n + 100)
    fleet = None
    try:
        time.sleep(0.3)
        base_cpu, base_rss, base_fds = proc_stats(master.pid)
        fleet = Fleet(pb, ctx, n, ports)
        fleet.serve(2.0)                    #  all joined and settled
        cpu0, _, _ = proc_stats(master.pid)
        t0 = time.monotonic()
        fleet.serve(3.0)
        cpu, rss, fds = proc_stats(master.pid)
        idle_ms = (cpu - cpu0) / (time.monotonic() - t0) * 1000 / n
        victim = fleet.workers[0]
        victim["alive"] = False
        t_silent = time.monotonic()
        noticed = None
        while time.monotonic() - t_silent < 10 and noticed is None:
            fleet.serve(0.1)
            log.seek(0)
            if re.search(r"worker lost: %s " % victim["id"], log.read()):
                noticed = time.monotonic() - t_silent
        return idle_ms, rss, (rss - base_rss) / n, fds, (fds - base_fds) / n, noticed
    finally:
        if fleet:
            fleet.close()
        ctx.term()
        stop(master)


def job_rate(bin_dir, pb, n, tasks, tmp):
    ports = [free_port() for _ in range(4)]
    master, _ = start_master(bin_dir, tmp, ports, tasks, n)
    ctx = zmq.Context()
    ctx.setsockopt(zmq.MAX_SOCKETS, 4 * n + 100)
    fleet = None
    try:
        time.sleep(0.3)
        fleet = Fleet(pb, ctx, n, ports)
        t0 = time.monotonic()
        while master.poll() is None and time.monotonic() - t0 < 120:
            fleet.serve(0.2)
        return fleet.done / (time.monotonic() - t0)
    finally:
        if fleet:
            fleet.close()
        ctx.term()
        stop(master)


def run(bin_dir, pb, n, tasks):
    tmp = tempfile.mkdtemp(prefix="taskmill-many-")
    idle_ms, rss, rss_per, fds, fds_per, noticed = idle_cost(bin_dir, pb, n, tmp)
    rate = job_rate(bin_dir, pb, n, tasks, tmp)
    return {"workers": n, "idle_cpu_ms_per_worker_s": idle_ms, "rss_mb": rss,
            "rss_mb_per_worker": rss_per, "fds": fds, "fds_per_worker": fds_per,
            "tasks_per_s": rate, "lost_noticed_s": noticed}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--bin-dir", default=os.path.join(REPO, "build"))
    ap.add_argument("--workers", default="100,300,1000")
    ap.add_argument("--tasks", type=int, default=200000)
    args = ap.parse_args()
    pb = load_proto(tempfile.mkdtemp(prefix="taskmill-proto-"))
    print("| simulated workers | master CPU per idle worker (ms/s, heartbeats and credit) | "
          "master RSS (MiB; per worker) | fds (per worker) | noop tasks/s | a silent worker "
          "declared lost after (s; --worker-timeout 3 s) |")
    print("|---|---|---|---|---|---|")
    for n in [int(x) for x in args.workers.split(",")]:
        r = run(args.bin_dir, pb, n, args.tasks)
        print("| %d | %.3f | %.1f; %.3f | %d; %.2f | %.0f | %s |"
              % (r["workers"], r["idle_cpu_ms_per_worker_s"], r["rss_mb"], r["rss_mb_per_worker"],
                 r["fds"], r["fds_per_worker"], r["tasks_per_s"],
                 "%.2f" % r["lost_noticed_s"] if r["lost_noticed_s"] is not None else "not seen"),
              flush=True)


if __name__ == "__main__":
    main()
