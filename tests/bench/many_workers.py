#!/usr/bin/env python3
"""Toward a thousand hosts, in simulation (issue 11): N workers over the
real protocol (pyzmq: a DEALER with its own routing id granting credit, a
PUSH sending results and heartbeats), against one real master on
loopback. Reports how long the N take to connect (all joined, from the
master's log), what the master spends per worker (CPU on heartbeats while
idle, memory, file descriptors), the job's rate with the master's CPU and
peak RSS over it, and how long a worker that falls silent takes to be
declared lost.

The fleet is split over processes of --per-process workers each (fork,
one zmq context a process): one context cannot hold 2,000 sockets here
(EMFILE at 1,000 workers), and one Python process is the limit on the
rate. RLIMIT_NOFILE is raised to its hard limit first (the master and the
fleet processes inherit it): 1,000 workers are ~2,000 descriptors at the
master.

    python3 tests/bench/many_workers.py --bin-dir build [--workers 100,300,1000]

Not part of the test suite. Every run has a timeout and kills what it starts.
"""

import argparse
import multiprocessing
import os
import random
import re
import resource
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


def raise_nofile():
    """Soft RLIMIT_NOFILE up to the hard limit; returns the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        want = 1 << 20 if hard == resource.RLIM_INFINITY else hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
            soft = want
        except (ValueError, OSError):
            pass
    return soft


class Fleet:
    def __init__(self, pb, ctx, ids, ports):
        self.pb = pb
        self.workers = []
        for i in ids:
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
        self.first = self.last = None   # time.monotonic() of the first and last batch

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
                    self.last = time.monotonic()
                    if self.first is None:
                        self.first = self.last
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
    #  O_APPEND: the master shares this open file (and its offset) with the
    #  reads of log_text(), which seek to the start; without it the master
    #  would write over its log from there.
    log = open(os.path.join(tmp, "master-%d.log" % min_workers), "a+")
    argv = [os.path.join(bin_dir, "master", "taskmill-master"), "--generate", str(tasks),
            "--type", "noop", "--out", os.path.join(tmp, "out-%d.jsonl" % min_workers),
            "--quiet", "--worker-timeout", "3000",
            "--bind-tasks", "tcp://127.0.0.1:%d" % ports[0],
            "--bind-results", "tcp://127.0.0.1:%d" % ports[1],
            "--bind-control", "tcp://127.0.0.1:%d" % ports[2],
            "--bind-admin", "tcp://127.0.0.1:%d" % ports[3], "--min-workers", str(min_workers)]
    return subprocess.Popen(argv, stderr=log, preexec_fn=os.setsid), log


def log_text(log):
    log.seek(0)
    return log.read()


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(0.05)


def stop(master):
    try:
        os.killpg(master.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    master.wait()


def _fleet_process(pb_dir, ids, ports, stop_ev, silence_ev, done_q):
    """One fleet process: its own zmq context and its workers, served until
    stop_ev; its first worker falls silent once silence_ev is set (only
    the first process is given one). Puts on done_q the tasks it ran and
    when its first and last batch came (CLOCK_MONOTONIC: one clock for
    every process)."""
    sys.path.insert(0, pb_dir)
    import taskmill_pb2
    ctx = zmq.Context()
    ctx.setsockopt(zmq.MAX_SOCKETS, 4 * len(ids) + 100)
    fleet = Fleet(taskmill_pb2, ctx, ids, ports)
    try:
        while not stop_ev.is_set():
            if silence_ev is not None and silence_ev.is_set():
                fleet.workers[0]["alive"] = False
            fleet.serve(0.2)
    finally:
        done_q.put((fleet.done, fleet.first, fleet.last))
        fleet.close()
        ctx.term()


class Fleets:
    """n simulated workers over processes of per_process each (forked: no
    zmq context exists in this process, so none is copied)."""

    def __init__(self, pb_dir, n, per_process, ports):
        mp = multiprocessing.get_context("fork")
        self.stop_ev, self.silence_ev = mp.Event(), mp.Event()
        self.done_q = mp.Queue()
        self.procs = []
        for first in range(0, n, per_process):
            ids = range(first, min(n, first + per_process))
            p = mp.Process(target=_fleet_process, daemon=True, args=(
                pb_dir, ids, ports, self.stop_ev, self.silence_ev if first == 0 else None,
                self.done_q))
            p.start()
            self.procs.append(p)

    def silence_first(self):
        self.silence_ev.set()

    def close(self):
        """Stops every process; returns the tasks they ran, and when the
        first batch of any came and the last."""
        self.stop_ev.set()
        done, first, last = 0, [], []
        for _ in self.procs:
            try:
                d, f, l = self.done_q.get(timeout=30)
            except Exception:
                break
            done += d
            first += [f] if f is not None else []
            last += [l] if l is not None else []
        for p in self.procs:
            p.join(10)
            if p.is_alive():
                p.kill()
                p.join()
        return done, min(first, default=None), max(last, default=None)


def joined(log, n):
    return len(re.findall(r"worker joined: sim\d+ ", log_text(log))) >= n


def idle_cost(bin_dir, pb_dir, n, per_process, tmp):
    """A master that waits for one worker more than there are: n workers
    connected and heartbeating, nothing dispatched. Then one falls silent."""
    ports = [free_port() for _ in range(4)]
    master, log = start_master(bin_dir, tmp, ports, 10, n + 1)
    fleets = None
    try:
        wait_until(lambda: "tasks on " in log_text(log), 10, "the master's sockets")
        base_cpu, base_rss, base_fds = proc_stats(master.pid)
        t_start = time.monotonic()
        fleets = Fleets(pb_dir, n, per_process, ports)
        wait_until(lambda: joined(log, n), 60, "%d workers to join" % n)
        connect_s = time.monotonic() - t_start
        time.sleep(2.0)                     # settled: every worker's first beats in
        cpu0, _, _ = proc_stats(master.pid)
        t0 = time.monotonic()
        time.sleep(3.0)
        cpu, rss, fds = proc_stats(master.pid)
        idle_ms = (cpu - cpu0) / (time.monotonic() - t0) * 1000 / n
        fleets.silence_first()
        t_silent = time.monotonic()
        noticed = None
        while time.monotonic() - t_silent < 15 and noticed is None:
            time.sleep(0.05)
            if re.search(r"worker lost: sim0000 ", log_text(log)):
                noticed = time.monotonic() - t_silent
        return {"connect_s": connect_s, "idle_cpu_ms_per_worker_s": idle_ms, "rss_mb": rss,
                "rss_mb_per_worker": (rss - base_rss) / n, "fds": fds,
                "fds_per_worker": (fds - base_fds) / n, "lost_noticed_s": noticed}
    finally:
        if fleets:
            fleets.close()
        stop(master)


def job_rate(bin_dir, pb_dir, n, per_process, tasks, tmp):
    """The job of `tasks` noops on n workers: tasks/s from the first batch
    any worker got to the last, the master's CPU (cores) over that time
    (its CPU from wait4, less what it had spent when all had joined) and
    its peak RSS (wait4)."""
    ports = [free_port() for _ in range(4)]
    master, log = start_master(bin_dir, tmp, ports, tasks, n)
    fleets = None
    try:
        wait_until(lambda: "tasks on " in log_text(log), 10, "the master's sockets")
        t_start = time.monotonic()
        fleets = Fleets(pb_dir, n, per_process, ports)
        wait_until(lambda: joined(log, n), 60, "%d workers to join" % n)
        t_joined = time.monotonic()
        cpu_joined, _, _ = proc_stats(master.pid)
        status = usage = None
        while time.monotonic() - t_joined < 300:
            pid, status, usage = os.wait4(master.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.02)
        else:
            raise RuntimeError("the job of %d tasks on %d workers did not end in 300 s"
                               % (tasks, n))
        master.returncode = os.waitstatus_to_exitcode(status)
        ran, first, last = fleets.close()
        elapsed = last - first if first is not None and last > first else float("nan")
        return {"job_connect_s": t_joined - t_start, "tasks_per_s": tasks / elapsed,
                "job_s": elapsed, "exit": master.returncode,
                "master_cpu_cores": (usage.ru_utime + usage.ru_stime - cpu_joined) / elapsed,
                "master_peak_rss_mb": usage.ru_maxrss / 1024.0, "ran": ran}
    finally:
        if fleets and fleets.procs and not fleets.stop_ev.is_set():
            fleets.close()
        if master.returncode is None:
            stop(master)


def run(bin_dir, pb_dir, n, per_process, tasks):
    tmp = tempfile.mkdtemp(prefix="taskmill-many-")
    r = {"workers": n}
    r.update(idle_cost(bin_dir, pb_dir, n, per_process, tmp))
    r.update(job_rate(bin_dir, pb_dir, n, per_process, tasks, tmp))
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin-dir", default=os.path.join(REPO, "build"))
    ap.add_argument("--workers", default="100,300,1000")
    ap.add_argument("--per-process", type=int, default=100,
                    help="simulated workers in one fleet process (default 100)")
    ap.add_argument("--tasks", type=int, default=1000000)
    args = ap.parse_args()
    pb_dir = tempfile.mkdtemp(prefix="taskmill-proto-")
    load_proto(pb_dir)
    nofile = raise_nofile()
    print("RLIMIT_NOFILE %d; %d CPUs; %d simulated workers a process; %d noop tasks a job"
          % (nofile, os.cpu_count(), args.per_process, args.tasks))
    print("| simulated workers (processes) | all joined after (s) | master CPU per idle worker "
          "(ms/s, heartbeats and credit) | master RSS idle (MiB; per worker) | fds (per worker) "
          "| noop tasks/s | master CPU over the job (cores) | master peak RSS (MiB) | a silent "
          "worker declared lost after (s; --worker-timeout 3 s) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in [int(x) for x in args.workers.split(",")]:
        r = run(args.bin_dir, pb_dir, n, args.per_process, args.tasks)
        print("| %d (%d) | %.2f | %.3f | %.1f; %.3f | %d; %.2f | %.0f | %.2f | %.1f | %s |"
              % (r["workers"], -(-n // args.per_process), r["connect_s"],
                 r["idle_cpu_ms_per_worker_s"], r["rss_mb"], r["rss_mb_per_worker"], r["fds"],
                 r["fds_per_worker"], r["tasks_per_s"], r["master_cpu_cores"],
                 r["master_peak_rss_mb"],
                 "%.2f" % r["lost_noticed_s"] if r["lost_noticed_s"] is not None else "not seen"),
              flush=True)
        if r["exit"] != 0 or r["ran"] < args.tasks:
            print("  (master exit %s, %d tasks answered by the fleet)" % (r["exit"], r["ran"]))


if __name__ == "__main__":
    main()
