#!/usr/bin/env python3
"""taskmill benchmark: the real master and workers over loopback TCP, next to
baselines measured in the same sitting.

    python3 tests/bench/bench.py [--bin-dir DIR] [--quick] [--only NAME[,NAME]]
                                 [--markdown FILE]

Not part of the test suite (not registered with ctest): figures depend on the
machine and on whatever else runs on it.

Without --bin-dir the script builds the binaries itself in build-bench/
(cmake, RelWithDebInfo, i.e. -O2 -g). The baselines tests/bench/raw_pipeline.c
and tests/bench/spawn_baseline.c are compiled with cc (and pkg-config) into
the run's temp dir.

Workloads (full run; --quick uses smaller counts and 1 run each; --only picks
some by name):
  R  raw     the baseline: a bare ZeroMQ pipeline, 1,000,000 x 64 B, as
             separate processes (ventilator PUSH, 2 x worker PULL/PUSH, sink
             PULL, one context each: the cluster's shape), against the same
             pipeline as threads of one process (one context)
  W1 noop    1,000,000 noop tasks, 64-byte payloads, 2 workers x 1 thread
             (and x 2 threads) -> tasks/s against R; the same tasks also from
             a JSON Lines job file the bench writes (as users run it) and
             piped into standard input (`-`), against --generate
  W2 sleep   400 x sleep 10 ms on 2 workers x 8 threads -> makespan and
             efficiency = (400 x 10 ms / 16) / makespan; then on 2 warm
             workers, by the master's wall time (start-up included)
  W3 cpu     2,000 x sha256 "rounds=1000;x": 2 workers x 1 thread against
             1 worker x 1 thread -> scaling; again with 20,000 tasks
  W4 exec    2,000 x exec `true` on 2 workers x 1 thread (--allow-exec)
             against `seq 2000 | xargs -P2 -n1 sh -c true` and against bare
             posix_spawn, 2 in flight (spawn_baseline.c)
  L  latency 1,000 noop tasks with --window 1 (one in flight) -> the
             summary's latency_us p50 / p99, against raw_pipeline with one
             message in flight
  M  memory  10,000,000 noop tasks, 1 run -> the master's peak RSS
  B  bandwidth 200 x 1 MiB echo on 2 workers x 1 thread -> MB/s, against
             raw_pipeline 200 x 1 MiB
  S  start   a one-task job on 2 warm workers, 20 times in a row -> master
             launch to the first result line in the --out file (inotify),
             and launch to exit: p50 / p99
  J  join    2,000 x sleep 10 ms: 1 worker x 4 threads from the start, 3 more
             x 4 threads join 1 s after the master's launch -> makespan
             against 1 worker x 4 threads alone; tasks per worker
  U  uneven  900 x sleep 10 ms on a 1-thread and an 8-thread worker ->
             makespan against the ideal 900 x 10 ms / 9; tasks per worker

Cold runs (every workload but S and W2's warm row) start the master first
(--min-workers = number of workers), wait until its ports listen (read from
/proc/net/tcp, so no stray connection reaches it), then start the workers with
--once. Warm runs start long-lived workers (no --once) once, on fixed ports,
and launch one master after another against them, as an operator runs jobs.
Figures per run:
  - the summary's elapsed_s (and tasks_per_s): from the master's own start
    (before the workers exist) to the last result;
  - the master's wall time, from launching taskmill-master to its exit (what
    a user waits; for cold runs it includes the workers' exec and connect);
  - "net of start-up": elapsed_s less the median elapsed_s of a 2-task job on
    the same cluster shape (an estimate of what is not the tasks).

Every process runs in its own session, dies with this script
(PR_SET_PDEATHSIG), and is killed in a finally block; every run has a
timeout. All traffic stays on 127.0.0.1. Only the standard library is used.
"""

import argparse
import collections
import ctypes
import datetime
import json
import math
import os
import platform
import re
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HOST = "127.0.0.1"
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
MIB = 1024 * 1024


class BenchError(Exception):
    """A run did not complete as it should; the message says why."""


# --------------------------------------------------------------------------
#  Processes

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1
_children = []          # every Popen started, for the final cleanup


def _child_setup():
    #  Runs in the child between fork and exec: die with this script. (The
    #  signal comes when the thread that forked exits: spawn only from the
    #  main thread.)
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def spawn(argv, log_path, stdout=None, stdin=None):
    log = open(log_path, "ab")
    try:
        proc = subprocess.Popen(argv, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                                stdout=stdout if stdout is not None else log,
                                stderr=log, start_new_session=True,
                                preexec_fn=_child_setup)
    finally:
        log.close()
    _children.append(proc)
    return proc


def kill(proc):
    """SIGKILLs proc's process group (if still there) and reaps it."""
    if proc.returncode is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def kill_all():
    for proc in _children:
        kill(proc)


class Reaper:
    """Waits for a child with wait4 in a thread, to get its own rusage (peak
    RSS) and the moment it exited, with a timeout on the wait."""

    def __init__(self, proc):
        self.proc = proc
        self.status = None
        self.rusage = None
        self.end = None
        self.thread = threading.Thread(target=self._wait, daemon=True)
        self.thread.start()

    def _wait(self):
        while True:
            try:
                _, status, rusage = os.wait4(self.proc.pid, 0)
                break
            except InterruptedError:
                continue
            except ChildProcessError:
                return
        self.end = time.monotonic()
        self.status = status
        self.rusage = rusage
        self.proc.returncode = os.waitstatus_to_exitcode(status)

    def join(self, timeout):
        self.thread.join(timeout)
        return not self.thread.is_alive()


_IN_MODIFY = 0x2


class FirstWrite:
    """Notes the moment something is first written to a file (inotify
    IN_MODIFY; a 1 ms stat poll where inotify is not available)."""

    def __init__(self, path):
        self.path = path
        self.time = None
        self.stopping = False
        self.fd = _libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd >= 0 and _libc.inotify_add_watch(self.fd, path.encode(), _IN_MODIFY) < 0:
            os.close(self.fd)
            self.fd = -1
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self):
        while not self.stopping:
            if self.fd >= 0:
                ready, _, _ = select.select([self.fd], [], [], 0.05)
                if ready:
                    self.time = time.monotonic()
                    return
            else:
                try:
                    if os.stat(self.path).st_size > 0:
                        self.time = time.monotonic()
                        return
                except OSError:
                    pass
                time.sleep(0.001)

    def close(self):
        self.stopping = True
        self.thread.join(1)
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def free_ports(count):
    """Free loopback ports: bound (to 127.0.0.1:0) all at once so that they
    differ, then released for the binaries to take."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def listening_ports():
    """Local TCP ports in LISTEN state, from /proc/net/tcp."""
    ports = set()
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                fields = line.split()
                if fields[3] == "0A":
                    ports.add(int(fields[1].split(":")[1], 16))
    except OSError:
        pass
    return ports


def wait_for(predicate, timeout, what, interval=0.005):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise BenchError("timed out after %.0f s waiting for %s" % (timeout, what))
        time.sleep(interval)


def tail(path, lines=8):
    try:
        with open(path, "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def read_results(path, elapsed_s, threads):
    """What a results file tells beside the summary: its size and, when it
    is small enough to read whole, the tasks each worker ran (by --id) and
    the handlers' mean time and its share of elapsed_s x threads (which
    tells starved workers from slow, CPU-starved tasks)."""
    found = {"out_bytes": os.path.getsize(path)}
    if found["out_bytes"] > 64 * MIB:
        return found
    found["workers"] = dict(worker_counts(path))
    with open(path, "rb") as f:
        durations = [int(m) for m in re.findall(rb'"duration_us":(\d+)', f.read())]
    if durations:
        found["handler_mean_us"] = sum(durations) / len(durations)
        found["busy"] = sum(durations) / 1e6 / (elapsed_s * threads)
    return found


def worker_counts(path):
    """Tasks per worker from a results file's "worker" fields."""
    with open(path, "rb") as f:
        names = re.findall(rb'"worker":"((?:[^"\\]|\\.)*)"', f.read())
    return collections.Counter(name.decode("utf-8", "replace") for name in names)


# --------------------------------------------------------------------------
#  Building

def build_binaries(build_dir):
    jobs = str(os.cpu_count() or 2)
    print("# building taskmill in %s (RelWithDebInfo)" % build_dir, flush=True)
    subprocess.run(["cmake", "-S", REPO, "-B", build_dir, "-DCMAKE_BUILD_TYPE=RelWithDebInfo"],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", build_dir, "-j", jobs,
                    "--target", "taskmill-master", "taskmill-worker"],
                   check=True, stdout=subprocess.DEVNULL)
    return build_dir


def find_binary(bin_dir, name, subdir):
    for candidate in (os.path.join(bin_dir, subdir, name), os.path.join(bin_dir, name)):
        if os.access(candidate, os.X_OK):
            return candidate
    raise BenchError("%s not found in %s or %s/%s" % (name, bin_dir, bin_dir, subdir))


def build_baselines(tmp):
    """Compiles raw_pipeline.c and spawn_baseline.c; returns their paths."""
    try:
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libzmq"], check=True,
                               capture_output=True, text=True).stdout.split()
    except (OSError, subprocess.CalledProcessError) as e:
        raise BenchError("pkg-config libzmq failed: %s" % e)
    cc = os.environ.get("CC", "cc")
    raw = os.path.join(tmp, "raw_pipeline")
    spawner = os.path.join(tmp, "spawn_baseline")
    subprocess.run([cc, "-O2", "-o", raw, os.path.join(BENCH_DIR, "raw_pipeline.c")]
                   + flags + ["-pthread"], check=True)
    subprocess.run([cc, "-O2", "-o", spawner, os.path.join(BENCH_DIR, "spawn_baseline.c")],
                   check=True)
    return raw, spawner


def write_job_file(path, count, payload_size=64):
    """A JSON Lines job of `count` noop tasks with payload_size-byte payloads,
    written as a user would: {"id": ..., "type": "noop", "payload": ...}."""
    filler = "x" * payload_size
    with open(path, "w") as f:
        chunk = []
        for i in range(1, count + 1):
            head = "p%d-" % i
            chunk.append('{"id": "t%d", "type": "noop", "payload": "%s%s"}\n'
                         % (i, head, filler[:payload_size - len(head)]))
            if len(chunk) == 10000:
                f.write("".join(chunk))
                chunk = []
        f.write("".join(chunk))
    return os.path.getsize(path)


# --------------------------------------------------------------------------
#  Runs

def endpoint(port):
    return "tcp://%s:%d" % (HOST, port)


class WarmWorkers:
    """Long-lived workers (no --once) on fixed ports, started once, waiting
    for one master after another: the operator's setup. Use with `with`."""

    def __init__(self, bench, name, shape, worker_args=()):
        self.shape = list(shape)
        self.ports = free_ports(4)
        self.names = ["bench-warm%d" % (i + 1) for i in range(len(shape))]
        self.procs = []
        for i, threads in enumerate(shape):
            self.procs.append(spawn(bench.worker_argv(self.ports, threads, self.names[i], once=False)
                                    + list(worker_args),
                                    os.path.join(bench.tmp, "warm-%s.worker%d.log" % (name, i + 1))))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        #  SIGTERM drains (nothing is left to drain); then make sure.
        for proc in self.procs:
            if proc.returncode is None:
                try:
                    proc.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for proc in self.procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            kill(proc)


class Bench:
    def __init__(self, master, worker, raw, spawner, tmp, verbose):
        self.master = master
        self.worker = worker
        self.raw = raw
        self.spawner = spawner
        self.tmp = tmp
        self.verbose = verbose
        self.counter = 0

    def worker_argv(self, ports, threads, name, once=True):
        tasks_p, results_p, control_p, _ = ports
        return [self.worker, HOST, "--tasks", endpoint(tasks_p), "--results", endpoint(results_p),
                "--control", endpoint(control_p), "--threads", str(threads), "--id", name] \
            + (["--once"] if once else [])

    def cluster(self, name, master_args, workers=(), worker_args=(), timeout=120,
                min_workers=-1, late=None, warm=None, job_stdin=None, watch_first=False,
                names=None):
        """Runs one job and returns a dict of what it measured; raises
        BenchError if the job did not end with every task ok.

        workers: thread counts of --once workers started once the master
            listens (names: their --id, default bench-w1, ...)
        late: (delay_s, [threads, ...]): --once workers (bench-late1, ...)
            started delay_s after the master's launch
        warm: WarmWorkers already dialling their ports (workers is then empty)
        min_workers: --min-workers; -1: the number of workers; None: not given
        job_stdin: a job file piped into the master's stdin through `cat`
            (master_args should then hold "-")
        watch_first: note when the first result reaches the --out file"""
        self.counter += 1
        run = {"name": name, "tag": "%02d-%s" % (self.counter, name), "workers": list(workers),
               "names": names or ["bench-w%d" % (i + 1) for i in range(len(workers))],
               "worker_args": list(worker_args), "late": late, "warm": warm,
               "job_stdin": job_stdin, "timeout": timeout,
               "ports": warm.ports if warm else free_ports(4)}
        run["out"] = os.path.join(self.tmp, run["tag"] + ".results.jsonl")
        run["summary"] = os.path.join(self.tmp, run["tag"] + ".summary.json")
        run["log"] = os.path.join(self.tmp, run["tag"] + ".master.log")
        tasks_p, results_p, control_p, admin_p = run["ports"]
        if min_workers == -1:
            min_workers = len(warm.shape) if warm else len(workers)
        run["argv"] = [self.master] + list(master_args) + [
            "--out", run["out"], "--summary", run["summary"], "--quiet",
            "--bind-tasks", endpoint(tasks_p), "--bind-results", endpoint(results_p),
            "--bind-control", endpoint(control_p), "--bind-admin", endpoint(admin_p)]
        if min_workers:
            run["argv"] += ["--min-workers", str(min_workers)]
        open(run["out"], "wb").close()  # the master appends; the watcher needs the file
        watcher = FirstWrite(run["out"]) if watch_first else None
        try:
            result = self._run(run)
        finally:
            if watcher:
                watcher.close()
        summary = result["summary"]
        expected = summary.get("tasks")
        ok = summary.get("by_status", {}).get("ok")
        if ok != expected:
            raise BenchError("%s: %s of %s tasks ok: %s" % (name, ok, expected, summary.get("by_status")))
        if watcher and watcher.time is not None:
            result["first_result_s"] = watcher.time - result["start"]
        threads_total = sum(warm.shape if warm else workers) + (sum(late[1]) if late else 0)
        result.update(read_results(run["out"], summary["elapsed_s"], threads_total))
        os.unlink(run["out"])   # results files of the big runs are large; nothing else reads them
        if self.verbose:
            print("#   %s: %.0f tasks/s, elapsed %.3f s, wall %.3f s%s, master RSS %.1f MiB, "
                  "tasks per worker %s, workers exit %s"
                  % (run["tag"], result["tasks_per_s"], result["elapsed_s"], result["wall_s"],
                     ", first result %.1f ms" % (result["first_result_s"] * 1000)
                     if "first_result_s" in result else "",
                     result["rss_kib"] / 1024, split(result["workers"]), result["worker_exit"]),
                  flush=True)
        return result

    def _run(self, run):
        """Starts the master, then (cold) its workers and any late ones,
        waits for its exit and for --once workers to leave, and kills
        whatever is left. Returns the summary and the master's figures."""
        procs = []
        try:
            feeder = None
            if run["job_stdin"]:
                feeder = spawn(["cat", run["job_stdin"]],
                               os.path.join(self.tmp, run["tag"] + ".cat.log"), stdout=subprocess.PIPE)
                procs.append(feeder)
            start = time.monotonic()
            master = spawn(run["argv"], run["log"], stdin=feeder.stdout if feeder else None)
            if feeder:
                feeder.stdout.close()   # the master holds the pipe now
            procs.append(master)
            reaper = Reaper(master)
            if not run["warm"]:
                wanted = set(run["ports"][:3])
                wait_for(lambda: wanted <= listening_ports() or master.returncode is not None,
                         10, "the master to listen on its ports")
            for i, threads in enumerate(run["workers"]):
                procs.append(self._worker(run, threads, run["names"][i], "worker%d" % (i + 1)))
            if run["late"]:
                delay_s, shape = run["late"]
                #  A thread join, so that a master that ends early is not waited for.
                reaper.join(max(0.0, start + delay_s - time.monotonic()))
                for i, threads in enumerate(shape if master.returncode is None else ()):
                    procs.append(self._worker(run, threads, "bench-late%d" % (i + 1), "late%d" % (i + 1)))
            if not reaper.join(run["timeout"]):
                raise BenchError("%s: master still running after %d s (killed); log:\n%s"
                                 % (run["name"], run["timeout"], tail(run["log"])))
            if master.returncode != 0:
                raise BenchError("%s: master exit status %s; log:\n%s"
                                 % (run["name"], master.returncode, tail(run["log"])))
            #  --once workers drain and exit by themselves after JOB_END.
            worker_exit = []
            for proc in procs[1 + (feeder is not None):]:
                try:
                    worker_exit.append(proc.wait(timeout=15))
                except subprocess.TimeoutExpired:
                    worker_exit.append("hung")
            with open(run["summary"]) as f:
                summary = json.load(f)
        finally:
            for proc in procs:
                kill(proc)
        return {
            "summary": summary,
            "start": start,
            "wall_s": reaper.end - start,
            "rss_kib": reaper.rusage.ru_maxrss,
            "worker_exit": worker_exit,
            "tasks_per_s": summary["tasks_per_s"],
            "elapsed_s": summary["elapsed_s"],
            "workers": dict(summary.get("workers", {})),
        }

    def _worker(self, run, threads, name, log_name):
        return spawn(self.worker_argv(run["ports"], threads, name, once=True) + run["worker_args"],
                     os.path.join(self.tmp, "%s.%s.log" % (run["tag"], log_name)))

    def _baseline(self, argv, what, timeout):
        """Runs a baseline program that prints `name key=value ...`."""
        proc = None
        log = os.path.join(self.tmp, "baseline.log")
        try:
            proc = spawn(argv, log, stdout=subprocess.PIPE)
            stdout, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise BenchError("%s %s: timed out after %d s" % (what, argv[1:], timeout))
        finally:
            if proc:
                kill(proc)
        if proc.returncode != 0:
            raise BenchError("%s %s: exit status %s: %s" % (what, argv[1:], proc.returncode, tail(log)))
        fields = dict(kv.split("=", 1) for kv in stdout.decode().split()[1:])
        return {k: (float(v) if re.match(r"^-?[0-9.]+$", v) else v) for k, v in fields.items()}

    def raw_pipeline(self, count, workers, size, window=0, threads=False, timeout=120):
        argv = [self.raw] + (["--threads"] if threads else []) + [
            "--timeout", str(timeout), str(count), str(workers), str(size), "1000", str(window)]
        result = self._baseline(argv, "raw_pipeline", timeout + 10)
        if self.verbose:
            print("#   raw_pipeline %s %d x %d B, %d workers, window %d: %.0f msgs/s "
                  "(%.0f from launch), %.1f MB/s%s"
                  % (result["mode"], count, size, workers, window, result["msgs_per_s"],
                     result["msgs_per_s_from_start"], result["mb_per_s"],
                     ", p50 %d us, p99 %d us" % (result["p50_us"], result["p99_us"])
                     if "p50_us" in result else ""), flush=True)
        return result

    def spawn_baseline(self, count, parallel, timeout=120):
        result = self._baseline([self.spawner, str(count), str(parallel)], "spawn_baseline", timeout)
        if self.verbose:
            print("#   spawn_baseline %d x sh -c true, %d in flight: %.0f cmd/s"
                  % (count, parallel, result["commands_per_s"]), flush=True)
        return result["commands_per_s"]

    def shell_timed(self, command, timeout=120):
        proc = None
        try:
            start = time.monotonic()
            proc = spawn(["/bin/sh", "-c", command], os.path.join(self.tmp, "shell.log"))
            proc.wait(timeout=timeout)
            wall = time.monotonic() - start
        except subprocess.TimeoutExpired:
            raise BenchError("%r: timed out after %d s" % (command, timeout))
        finally:
            if proc:
                kill(proc)
        if proc.returncode != 0:
            raise BenchError("%r: exit status %s" % (command, proc.returncode))
        if self.verbose:
            print("#   %s: %.3f s" % (command, wall), flush=True)
        return wall


# --------------------------------------------------------------------------
#  Formatting

def median(values):
    return statistics.median(values) if values else float("nan")


def percentile(values, p):
    """Nearest rank: of 20 values, p99 is the largest."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def fmt_rate(value):
    if value != value:
        return "n/a"
    if value >= 100000:
        return "%.0fk" % (value / 1000)
    if value >= 1000:
        return "%.1fk" % (value / 1000)
    return "%.0f" % value


def fmt_ms(value):
    return "n/a" if value != value else "%.0f" % (value * 1000)


def fmt_ms1(value):
    return "n/a" if value != value else "%.1f" % (value * 1000)


def fmt_runs(values, fmt):
    return ", ".join(fmt(v) for v in values) if values else "failed"


def split(workers):
    """Tasks per worker, in the order of their names: 'bench-w1 900 / ...'."""
    return " / ".join("%s %d" % (k, v) for k, v in sorted(workers.items())) if workers else "?"


def verdict(ok):
    if ok is None:
        return "n/a"
    return "yes" if ok else "**NO**"


def repeat(runs, label, fn):
    """Calls fn() `runs` times; a run that fails is reported and left out."""
    values = []
    for i in range(runs):
        try:
            values.append(fn())
        except BenchError as e:
            print("# %s run %d FAILED: %s" % (label, i + 1, e), flush=True)
    return values


def ratio(a, b):
    return a / b if b and b == b and a == a else float("nan")


# --------------------------------------------------------------------------
#  Workloads

HEADER = ["Workload", "Unit", "Runs", "Median", "With master start (launch→exit)",
          "Net of start-up", "Baseline (same sitting)", "Ratio", "Target", "Met"]


class Sitting:
    """One run of the bench: the counts, the cached baselines and start-up
    estimates, and the rows and notes the workloads add."""

    def __init__(self, bench, args):
        self.bench = bench
        self.args = args
        quick = args.quick
        self.runs = 1 if quick else args.runs
        self.n = {
            "w1": 100000 if quick else 1000000,
            "w2": 100 if quick else 400,
            "w4": 400 if quick else 2000,
            "l": 200 if quick else args.latency_tasks,
            "m": 1000000 if quick else args.memory_tasks,
            "b": 50 if quick else 200,
            "s": 5 if quick else args.start_runs,
            "j": 1000 if quick else 2000,
            "j_delay": 0.5 if quick else 1.0,
            "u": 900,
        }
        self.w3_tasks = [400] if quick else args.w3_tasks
        self.rows = []
        self.notes = []
        self.startup = {}
        self.cache = {}

    def section(self, title):
        print("# %s" % title, flush=True)

    def row(self, *cells):
        assert len(cells) == len(HEADER)
        self.rows.append(list(cells))

    def cached(self, key, fn):
        if key not in self.cache:
            self.cache[key] = fn()
        return self.cache[key]

    def raw64(self):
        """The raw pipeline as processes, W1's count x 64 B, 2 workers."""
        count = self.n["w1"]
        return self.cached("raw64", lambda: repeat(self.runs, "raw 64 B", lambda: self.bench.raw_pipeline(
            count, 2, 64)))

    def startup_s(self, workers):
        """Median elapsed_s of a 2-task noop job on this cold cluster shape:
        what a job's elapsed_s holds besides its tasks (the master's start,
        the workers' exec and connect, any start gate, one round trip)."""
        key = tuple(workers)
        if key not in self.startup:
            res = repeat(self.runs, "start-up %s" % (key,), lambda: self.bench.cluster(
                "startup-%s" % "x".join(str(t) for t in workers),
                ["--generate", "2", "--type", "noop"], workers))
            self.startup[key] = median([r["elapsed_s"] for r in res])
        return self.startup[key]

    def net_rate(self, amount, res, workers):
        s0 = self.startup_s(workers)
        return median([amount / (r["elapsed_s"] - s0) for r in res if r["elapsed_s"] > s0])

    @staticmethod
    def met(gross_ok, net_ok):
        if gross_ok == net_ok:
            return verdict(gross_ok)
        return "%s (net: %s)" % (verdict(gross_ok), "yes" if net_ok else "no")

    def throughput_row(self, label, unit, amount, res, workers, baseline, base_value, target, goal,
                       fmt=fmt_rate, extra_ratio=""):
        """A row for `amount` (tasks, MB) over each run's elapsed_s, with the
        wall and net figures beside it; goal is the ratio to base_value."""
        rates = [amount / r["elapsed_s"] for r in res]
        walls = [amount / r["wall_s"] for r in res]
        net = self.net_rate(amount, res, workers) if res else float("nan")
        gross = median(rates)
        r, r_wall, r_net = ratio(gross, base_value), ratio(median(walls), base_value), ratio(net, base_value)
        self.row(label, unit, fmt_runs(rates, fmt), fmt(gross),
                 "%s (%.2f×)" % (fmt(median(walls)), r_wall), "%s (%.2f×)" % (fmt(net), r_net),
                 baseline, "%.2f×%s" % (r, extra_ratio), target,
                 self.met(r >= goal, r_net >= goal) if res else "n/a")
        return gross


def shape_desc(workers):
    """'2 workers x 1 thread', or '1 + 8 threads' for workers that differ."""
    if len(set(workers)) == 1:
        return "%d worker%s x %d thread%s" % (len(workers), "s" if len(workers) > 1 else "",
                                              workers[0], "s" if workers[0] > 1 else "")
    return "workers of %s threads" % " + ".join(str(t) for t in workers)


def raw_desc(res, key="msgs_per_s", fmt=fmt_rate, unit="msg/s"):
    """A baseline's median and its runs: '2.4M msg/s (2.3M, 2.4M, 2.6M)'."""
    return "%s %s (%s)" % (fmt(median([r[key] for r in res])), unit, fmt_runs([r[key] for r in res], fmt))


def wl_raw(s):
    count = s.n["w1"]
    s.section("R raw pipeline: %d x 64 B, 2 workers, as processes and as threads" % count)
    procs = s.raw64()
    threads = repeat(s.runs, "raw threads", lambda: s.bench.raw_pipeline(count, 2, 64, threads=True))
    rates = [r["msgs_per_s"] for r in procs]
    t_med = median([r["msgs_per_s"] for r in threads])
    s.row("R raw ZeroMQ pipeline 64 B ×%s, 2 workers: 4 processes, one context each" % format(count, ","),
          "msg/s", fmt_runs(rates, fmt_rate), fmt_rate(median(rates)),
          "%s from launching the processes" % raw_desc(procs, "msgs_per_s_from_start"), "",
          "the same as threads of 1 process (1 context): %s" % raw_desc(threads),
          "%.2f× threads" % ratio(median(rates), t_med), "reference", "")
    s.notes.append("R: the processes' wall time (launch to all exited) %s ms; the threads' %s ms"
                   % (fmt_runs([r["wall_s"] for r in procs], fmt_ms),
                      fmt_runs([r["wall_s"] for r in threads], fmt_ms)))


def wl_w1(s):
    b, count = s.bench, s.n["w1"]
    s.section("W1 noop: %d tasks x 64 B" % count)
    raw = s.raw64()
    raw_med = median([r["msgs_per_s"] for r in raw])
    raw_text = "raw pipeline (processes), 2 workers, 64 B: %s" % raw_desc(raw)
    w1_args = ["--generate", str(count), "--type", "noop", "--payload-size", "64"]
    generated = {}
    for threads in s.args.w1_threads:
        shape = [threads, threads]
        res = repeat(s.runs, "W1 t%d" % threads,
                     lambda: b.cluster("w1-noop-t%d" % threads, w1_args, shape))
        generated[threads] = s.throughput_row(
            "W1 noop 64 B, --generate, 2 workers x %d thread%s" % (threads, "s" if threads > 1 else ""),
            "tasks/s", count, res, shape, raw_text, raw_med, "≥ 0.40× raw", 0.4)
        s.notes.append("W1 %d thread(s): master peak RSS %s MiB"
                       % (threads, fmt_runs([r["rss_kib"] / 1024 for r in res], lambda v: "%.1f" % v)))
    threads = s.args.w1_threads[0]
    shape = [threads, threads]
    job = os.path.join(b.tmp, "w1-jobs.jsonl")
    size = write_job_file(job, count)
    s.notes.append("W1 job file: %s lines, %.0f MiB, {\"id\": \"t1\", \"type\": \"noop\", "
                   "\"payload\": 64 bytes} per line" % (format(count, ","), size / MIB))
    for label, name, master_args, stdin in (
            ("a job file (`taskmill-master jobs.jsonl`)", "w1-file", [job], None),
            ("standard input (`cat jobs.jsonl | taskmill-master -`)", "w1-stdin", ["-"], job)):
        res = repeat(s.runs, "W1 " + name, lambda: b.cluster(name, master_args, shape, job_stdin=stdin))
        gen = generated.get(threads, float("nan"))
        rates = [count / r["elapsed_s"] for r in res]
        s.throughput_row("W1 noop 64 B from %s, 2 workers x %d thread%s"
                         % (label, threads, "s" if threads > 1 else ""),
                         "tasks/s", count, res, shape, raw_text, raw_med, "≥ 0.40× raw", 0.4,
                         extra_ratio="; %.2f× --generate" % ratio(median(rates), gen))


def wl_w2(s):
    b, count, threads = s.bench, s.n["w2"], 8
    shape = [threads, threads]
    ideal = count * 0.010 / (2 * threads)
    job = ["--generate", str(count), "--type", "sleep", "--payload", "10"]
    s.section("W2 sleep: %d x 10 ms on 2 x %d threads (ideal %.0f ms)" % (count, threads, ideal * 1000))
    res = repeat(s.runs, "W2", lambda: b.cluster("w2-sleep", job, shape))
    spans = [r["elapsed_s"] for r in res]
    walls = [r["wall_s"] for r in res]
    span_net = median(spans) - s.startup_s(shape) if res else float("nan")
    eff, eff_wall, eff_net = ratio(ideal, median(spans)), ratio(ideal, median(walls)), ratio(ideal, span_net)
    s.row("W2 sleep 10 ms ×%d, 2 workers x 8 threads" % count, "makespan ms",
          fmt_runs(spans, fmt_ms), fmt_ms(median(spans)),
          "%s (%.1f%% eff.)" % (fmt_ms(median(walls)), eff_wall * 100),
          "%s (%.1f%% eff.)" % (fmt_ms(span_net), eff_net * 100),
          "ideal %.0f ms" % (ideal * 1000), "%.1f%% eff." % (eff * 100), "≥ 95%",
          s.met(eff >= 0.95, eff_net >= 0.95) if res else "n/a")
    s.notes.append("W2: worker threads busy %s of elapsed_s; tasks per worker %s"
                   % (fmt_runs([r.get("busy", 0) for r in res], lambda v: "%.0f%%" % (v * 100)),
                      "; ".join(split(r["workers"]) for r in res)))
    #  Gross: what a user waits for the job, with the workers already up.
    s.section("W2 gross: the same job on 2 warm workers x %d threads" % threads)
    with WarmWorkers(b, "w2", shape) as warm:
        #  The first master is the workers' first: it waits for their dial.
        repeat(1, "W2 warm-up", lambda: b.cluster("w2-warmup", ["--generate", "2", "--type", "noop"],
                                                  warm=warm))
        starts = repeat(s.runs, "W2 warm start-up", lambda: b.cluster(
            "w2-warm-startup", ["--generate", "2", "--type", "noop"], warm=warm))
        res = repeat(s.runs, "W2 warm", lambda: b.cluster("w2-warm", job, warm=warm))
    spans = [r["elapsed_s"] for r in res]
    walls = [r["wall_s"] for r in res]
    start_spans = [r["elapsed_s"] for r in starts]
    span_net = median(spans) - median(start_spans)
    eff_wall, eff_net = ratio(ideal, median(walls)), ratio(ideal, span_net)
    if span_net > 0:
        net_text = "%s (%.1f%% eff.)" % (fmt_ms(span_net), eff_net * 100)
    else:
        #  A warm start that varies more than the job lasts (workers
        #  redialling with backoff) leaves nothing to subtract reliably.
        net_text = "n/a (start-up %s ms)" % fmt_runs(start_spans, fmt_ms)
    s.row("W2 gross, start-up included: the same job on 2 warm workers x 8 threads "
          "(long-lived, already connected)", "makespan ms",
          fmt_runs(spans, fmt_ms), fmt_ms(median(spans)),
          "%s (%.1f%% eff.)" % (fmt_ms(median(walls)), eff_wall * 100), net_text,
          "ideal %.0f ms" % (ideal * 1000), "%.1f%% eff. with start-up" % (eff_wall * 100),
          "≥ 90% with start-up", verdict(eff_wall >= 0.9) if res else "n/a")
    s.notes.append("W2 warm: a 2-task job on the warm workers: elapsed_s %s ms, launch→exit %s ms "
                   "(subtracted for the net column); tasks per worker %s"
                   % (fmt_runs([r["elapsed_s"] for r in starts], fmt_ms),
                      fmt_runs([r["wall_s"] for r in starts], fmt_ms),
                      "; ".join(split(r["workers"]) for r in res)))


def wl_w3(s):
    b = s.bench
    for count in s.w3_tasks:
        s.section("W3 sha256 rounds=1000: %d tasks" % count)
        job = ["--generate", str(count), "--type", "sha256", "--payload", "rounds=1000;x"]
        one = repeat(s.runs, "W3 1x1", lambda: b.cluster("w3-cpu-1x1", job, [1]))
        two = repeat(s.runs, "W3 2x1", lambda: b.cluster("w3-cpu-2x1", job, [1, 1]))
        one_rates = [count / r["elapsed_s"] for r in one]
        two_rates = [count / r["elapsed_s"] for r in two]
        one_walls = [count / r["wall_s"] for r in one]
        two_walls = [count / r["wall_s"] for r in two]
        one_net = s.net_rate(count, one, [1]) if one else float("nan")
        two_net = s.net_rate(count, two, [1, 1]) if two else float("nan")
        scaling = ratio(median(two_rates), median(one_rates))
        scaling_wall = ratio(median(two_walls), median(one_walls))
        scaling_net = ratio(two_net, one_net)
        s.row("W3 sha256 rounds=1000 ×%d, 2 workers x 1 thread" % count, "tasks/s",
              fmt_runs(two_rates, fmt_rate), fmt_rate(median(two_rates)),
              "%s (%.2f×)" % (fmt_rate(median(two_walls)), scaling_wall),
              "%s (%.2f×)" % (fmt_rate(two_net), scaling_net),
              "1 worker x 1 thread: %s tasks/s (%s; launch→exit %s; net %s)"
              % (fmt_rate(median(one_rates)), fmt_runs(one_rates, fmt_rate),
                 fmt_rate(median(one_walls)), fmt_rate(one_net)),
              "%.2f× scaling" % scaling, "≥ 1.80×",
              s.met(scaling >= 1.8, scaling_net >= 1.8) if one and two else "n/a")
        s.notes.append("W3 ×%d: tasks per worker %s; mean handler time %s µs (1 x 1) and %s µs "
                       "(2 x 1); worker threads busy %s (1 x 1) and %s (2 x 1) of elapsed_s"
                       % (count, "; ".join(split(r["workers"]) for r in two),
                          fmt_runs([r.get("handler_mean_us", 0) for r in one], lambda v: "%.0f" % v),
                          fmt_runs([r.get("handler_mean_us", 0) for r in two], lambda v: "%.0f" % v),
                          fmt_runs([r.get("busy", 0) for r in one], lambda v: "%.0f%%" % (v * 100)),
                          fmt_runs([r.get("busy", 0) for r in two], lambda v: "%.0f%%" % (v * 100))))


def wl_w4(s):
    b, count = s.bench, s.n["w4"]
    s.section("W4 exec true: %d commands" % count)
    xargs_cmd = "seq %d | xargs -P2 -n1 sh -c true" % count
    xargs = repeat(s.runs, "xargs", lambda: count / b.shell_timed(xargs_cmd))
    spawned = repeat(s.runs, "posix_spawn", lambda: b.spawn_baseline(count, 2))
    res = repeat(s.runs, "W4", lambda: b.cluster(
        "w4-exec", ["--generate", str(count), "--type", "exec", "--payload", "true"],
        [1, 1], worker_args=["--allow-exec"]))
    label = "W4 exec `true` ×%d, 2 workers x 1 thread" % count
    s.throughput_row(label, "commands/s", count, res, [1, 1],
                     "`%s`: %s cmd/s (%s)" % (xargs_cmd, fmt_rate(median(xargs)), fmt_runs(xargs, fmt_rate)),
                     median(xargs), "≥ 1.00× xargs", 1.0)
    s.throughput_row("W4 (same runs) against bare posix_spawn", "commands/s", count, res, [1, 1],
                     "posix_spawn `sh -c true`, 2 in flight (spawn_baseline.c): %s cmd/s (%s)"
                     % (fmt_rate(median(spawned)), fmt_runs(spawned, fmt_rate)),
                     median(spawned), "≥ 0.80× posix_spawn", 0.8)


def wl_l(s):
    b, count = s.bench, s.n["l"]
    s.section("L latency: %d noop tasks, --window 1" % count)
    raw = repeat(s.runs, "raw window 1", lambda: b.raw_pipeline(count, 2, 64, window=1))
    raw_p50 = median([r["p50_us"] for r in raw])
    raw_p99 = median([r["p99_us"] for r in raw])
    res = repeat(s.runs, "L", lambda: b.cluster(
        "l-latency", ["--generate", str(count), "--type", "noop", "--window", "1"], [1, 1]))
    lat = [r["summary"].get("latency_us", {}) for r in res]
    p50 = [v["p50"] for v in lat if "p50" in v]
    p99 = [v["p99"] for v in lat if "p99" in v]
    us = lambda v: "%d" % v
    s.row("L latency, noop ×%d, --window 1, 2 workers x 1 thread" % count, "p50 µs",
          fmt_runs(p50, us), "%d" % median(p50) if p50 else "n/a", "", "",
          "raw pipeline (client process + 2 worker processes), one in flight: p50 %d µs (%s)"
          % (raw_p50, fmt_runs([r["p50_us"] for r in raw], us)),
          "%.1f×" % ratio(median(p50), raw_p50), "≤ 100 µs", verdict(median(p50) <= 100 if p50 else None))
    s.row("L latency (same runs)", "p99 µs", fmt_runs(p99, us), "%d" % median(p99) if p99 else "n/a",
          "", "", "raw: p99 %d µs (%s)" % (raw_p99, fmt_runs([r["p99_us"] for r in raw], us)),
          "%.1f×" % ratio(median(p99), raw_p99), "≤ 1000 µs",
          verdict(median(p99) <= 1000 if p99 else None))
    s.notes.append("L: latency_us p90 %s µs, max %s µs; %s tasks/s"
                   % (fmt_runs([v.get("p90", 0) for v in lat], us),
                      fmt_runs([v.get("max", 0) for v in lat], us),
                      fmt_runs([r["tasks_per_s"] for r in res], fmt_rate)))


def wl_m(s):
    count = s.n["m"]
    s.section("M memory: %d noop tasks, 1 run" % count)
    res = repeat(1, "M", lambda: s.bench.cluster(
        "m-memory", ["--generate", str(count), "--type", "noop"], [1, 1], timeout=s.args.memory_timeout))
    rss = [r["rss_kib"] / 1024 for r in res]
    s.row("M master peak RSS, noop ×%s, 2 workers x 1 thread" % format(count, ","), "MiB",
          fmt_runs(rss, lambda v: "%.1f" % v), "%.1f" % median(rss), "", "", "1 run", "",
          "≤ 64 MiB", verdict(median(rss) <= 64 if rss else None))
    if res:
        s.notes.append("M: %.1f s elapsed (launch→exit %.1f s), %s tasks/s, results file %.0f MiB "
                       "(deleted after the run)"
                       % (res[0]["elapsed_s"], res[0]["wall_s"], fmt_rate(res[0]["tasks_per_s"]),
                          res[0].get("out_bytes", 0) / MIB))


def wl_b(s):
    b, count = s.bench, s.n["b"]
    s.section("B bandwidth: %d x 1 MiB echo" % count)
    raw = repeat(s.runs, "raw 1 MiB", lambda: b.raw_pipeline(count, 2, MIB))
    raw_med = median([r["mb_per_s"] for r in raw])
    res = repeat(s.runs, "B", lambda: b.cluster(
        "b-echo", ["--generate", str(count), "--type", "echo", "--payload-size", str(MIB)], [1, 1]))
    mb = lambda v: "%.0f" % v
    s.throughput_row("B echo 1 MiB ×%d, 2 workers x 1 thread" % count, "MB/s", count * MIB / 1e6,
                     res, [1, 1], "raw pipeline (processes), 2 workers, 1 MiB: %s"
                     % raw_desc(raw, "mb_per_s", mb, "MB/s"), raw_med, "≥ 0.50× raw", 0.5, fmt=mb)
    s.notes.append("B: master peak RSS %s MiB; results file %s MiB per run"
                   % (fmt_runs([r["rss_kib"] / 1024 for r in res], lambda v: "%.0f" % v),
                      fmt_runs([r.get("out_bytes", 0) / MIB for r in res], lambda v: "%.0f" % v)))


def wl_s(s):
    b, runs = s.bench, s.n["s"]
    s.section("S start latency: a one-task job on 2 warm workers, %d times in a row" % runs)
    job = os.path.join(b.tmp, "s-one-task.jsonl")
    with open(job, "w") as f:
        f.write('{"id": "only", "type": "noop", "payload": "x"}\n')
    with WarmWorkers(b, "start", [1, 1]) as warm:
        #  The first master is the workers' first: it waits for their dial.
        repeat(1, "S warm-up", lambda: b.cluster("s-warmup", [job], warm=warm, min_workers=None,
                                                 timeout=30))
        res = repeat(runs, "S", lambda: b.cluster("s-start", [job], warm=warm, min_workers=None,
                                                   watch_first=True, timeout=30))
    first = [r["first_result_s"] for r in res if "first_result_s" in r]
    walls = [r["wall_s"] for r in res]
    own = [r["elapsed_s"] for r in res]
    ms = fmt_ms1
    spread = lambda v: "%d runs: %s–%s" % (len(v), ms(min(v)), ms(max(v))) if v else "failed"
    label = "S start latency: one-task job file, 2 warm workers x 1 thread, master launch → first result line"
    for name, p, goal_ms in (("p50", 50, 50), ("p99", 99, 150)):
        value = percentile(first, p)
        s.row(label if p == 50 else "S start latency (same runs)", "%s ms" % name, spread(first), ms(value),
              "%s (launch→exit %s)" % (ms(percentile(walls, p)), name),
              "",
              "the master's own elapsed_s (its start → the result): %s %s ms" % (name, ms(percentile(own, p))),
              "", "≤ %d ms" % goal_ms, verdict(value * 1000 <= goal_ms if first else None))
    s.notes.append("S: %d runs (p99 of %d is their largest); first result line %s ms; launch→exit %s ms; "
                   "the task's own latency_us (sent → result) %s µs"
                   % (len(res), len(res), fmt_runs(first, ms), fmt_runs(walls, ms),
                      fmt_runs([r["summary"].get("latency_us", {}).get("p50", 0) for r in res],
                               lambda v: "%d" % v)))


def wl_j(s):
    b, count, delay = s.bench, s.n["j"], s.n["j_delay"]
    job = ["--generate", str(count), "--type", "sleep", "--payload", "10"]
    s.section("J late joiners: %d x 10 ms, 1 x 4 threads, 3 x 4 threads join %.1f s in" % (count, delay))
    alone = repeat(s.runs, "J alone", lambda: b.cluster("j-alone", job, [4], names=["bench-alone"]))
    res = repeat(s.runs, "J joined", lambda: b.cluster("j-joined", job, [4], min_workers=1,
                                                       late=(delay, [4, 4, 4])))
    spans = [r["elapsed_s"] for r in res]
    walls = [r["wall_s"] for r in res]
    alone_span = median([r["elapsed_s"] for r in alone])
    alone_wall = median([r["wall_s"] for r in alone])
    s0 = s.startup_s([4])
    r, r_wall = ratio(median(spans), alone_span), ratio(median(walls), alone_wall)
    r_net = ratio(median(spans) - s0, alone_span - s0)
    ideal = delay + (count - delay * 4 / 0.010) * 0.010 / 16
    per_run = lambda r: "%s (%s)" % (fmt_ms(r["elapsed_s"]), "/".join(
        str(r["workers"].get(n, 0)) for n in ("bench-w1", "bench-late1", "bench-late2", "bench-late3")))
    s.row("J late joiners: sleep 10 ms ×%d, 1 worker x 4 threads, 3 more x 4 join %.1f s in"
          % (count, delay), "makespan ms",
          ", ".join(per_run(x) for x in res) or "failed", fmt_ms(median(spans)),
          "%s (%.2f×)" % (fmt_ms(median(walls)), r_wall),
          "%s (%.2f×)" % (fmt_ms(median(spans) - s0), r_net),
          "1 worker x 4 threads alone: %s ms (%s); ideal with the joiners %.0f ms"
          % (fmt_ms(alone_span), fmt_runs([x["elapsed_s"] for x in alone], fmt_ms), ideal * 1000),
          "%.2f× alone" % r, "≤ 0.40× alone", s.met(r <= 0.4, r_net <= 0.4) if res and alone else "n/a")
    s.notes.append("J: tasks per worker (first/late1/late2/late3 in the Runs column) %s"
                   % "; ".join(split(x["workers"]) for x in res))


def wl_u(s):
    b, count = s.bench, s.n["u"]
    job = ["--generate", str(count), "--type", "sleep", "--payload", "10"]
    ideal = count * 0.010 / 9
    s.section("U uneven workers: %d x 10 ms on 1 thread + 8 threads (ideal %.0f ms)" % (count, ideal * 1000))
    res = repeat(s.runs, "U", lambda: b.cluster("u-uneven", job, [1, 8], names=["bench-1t", "bench-8t"]))
    spans = [r["elapsed_s"] for r in res]
    walls = [r["wall_s"] for r in res]
    s0 = s.startup_s([1, 8])
    r, r_wall, r_net = ratio(median(spans), ideal), ratio(median(walls), ideal), ratio(median(spans) - s0, ideal)
    per_run = lambda x: "%s (%d/%d)" % (fmt_ms(x["elapsed_s"]), x["workers"].get("bench-1t", 0),
                                        x["workers"].get("bench-8t", 0))
    s.row("U uneven workers: sleep 10 ms ×%d, 1 worker x 1 thread + 1 x 8 threads" % count,
          "makespan ms", ", ".join(per_run(x) for x in res) or "failed", fmt_ms(median(spans)),
          "%s (%.2f×)" % (fmt_ms(median(walls)), r_wall),
          "%s (%.2f×)" % (fmt_ms(median(spans) - s0), r_net),
          "ideal %.0f ms (split %d/%d)" % (ideal * 1000, count // 9, count - count // 9),
          "%.2f× ideal" % r, "≤ 1.20× ideal", s.met(r <= 1.2, r_net <= 1.2) if res else "n/a")
    s.notes.append("U: tasks per worker (1 thread/8 threads in the Runs column) %s"
                   % "; ".join(split(x["workers"]) for x in res))


#  In table order; --only takes these names (any case).
WORKLOADS = [
    ("R", wl_raw), ("W1", wl_w1), ("W2", wl_w2), ("W3", wl_w3), ("W4", wl_w4),
    ("L", wl_l), ("M", wl_m), ("B", wl_b), ("S", wl_s), ("J", wl_j), ("U", wl_u),
]


def run_workloads(bench, args, only):
    s = Sitting(bench, args)
    for name, fn in WORKLOADS:
        if name in only:
            fn(s)
    if s.startup:
        s.notes.insert(0, "Start-up (elapsed_s of a 2-task noop job, median; subtracted for the "
                       "\"net\" column): %s"
                       % ", ".join("%s %.0f ms" % (shape_desc(k), v * 1000)
                                   for k, v in s.startup.items()))
    return s.rows, s.notes, s.runs


# --------------------------------------------------------------------------
#  Report

def git_line(tree):
    try:
        head = subprocess.run(["git", "-C", tree, "log", "-1", "--format=%h %s"], capture_output=True,
                              text=True).stdout.strip() or "?"
        dirty = subprocess.run(["git", "-C", tree, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.split("\n")
        dirty = [line[3:] for line in dirty if line.strip()]
    except OSError:
        head, dirty = "?", []
    return "%s%s" % (head, "; uncommitted changes in %s" % ", ".join(dirty) if dirty else "")


def binaries_source(bin_dir):
    """The source tree a CMake build dir was configured from, if it says."""
    for cache in (os.path.join(bin_dir, "CMakeCache.txt"), os.path.join(bin_dir, "..", "CMakeCache.txt")):
        try:
            with open(cache) as f:
                for line in f:
                    if line.startswith("CMAKE_HOME_DIRECTORY:"):
                        return line.split("=", 1)[1].strip()
        except OSError:
            continue
    return None


def machine_info(bin_dir):
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        zmq = subprocess.run(["pkg-config", "--modversion", "libzmq"], capture_output=True,
                             text=True).stdout.strip()
    except OSError:
        zmq = "?"
    source = binaries_source(bin_dir)
    lines = ["bench script from %s at %s" % (REPO, git_line(REPO))]
    if source and os.path.realpath(source) != os.path.realpath(REPO):
        lines.append("binaries (%s) built from %s at %s" % (bin_dir, source, git_line(source)))
    else:
        lines.append("binaries: %s%s" % (bin_dir, ", built from this tree" if source else ""))
    lines += [
        "date: %s" % datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z"),
        "host: %s, %s" % (platform.node(), platform.platform()),
        "cpu: %s; nproc %d (online %d)" % (model, len(os.sched_getaffinity(0)), os.cpu_count() or 0),
        "libzmq %s; python %s" % (zmq, platform.python_version()),
    ]
    return lines


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def markdown(rows, info, notes, runs, load_before, load_after, elapsed):
    lines = ["## taskmill benchmark", ""]
    lines += ["- " + line for line in info]
    lines.append("- runs per workload: %d (median shown; M: 1 run); load average before %s, after %s; "
                 "bench took %.0f s" % (runs, load_before, load_after, elapsed))
    lines.append("")
    lines.append("| " + " | ".join(HEADER) + " |")
    lines.append("|" + "|".join("---" for _ in HEADER) + "|")
    for row in rows:
        lines.append("| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |")
    if notes:
        lines.append("")
        lines += ["- " + note for note in notes]
    return "\n".join(lines) + "\n"


def parse_only(parser, text):
    """The workload names --only picks (all without it); bad names: exit 2."""
    names = [name for name, _ in WORKLOADS]
    if not text:
        return set(names)
    wanted = {part.strip().upper() for part in text.split(",") if part.strip()}
    unknown = wanted - set(names)
    if unknown:
        parser.error("unknown workload %s in --only; choose from %s"
                     % (", ".join(sorted(unknown)), ",".join(names)))
    return wanted


def _on_sigterm(signum, frame):
    raise KeyboardInterrupt     # so that the finally blocks kill what runs


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin-dir", help="directory with taskmill-master and taskmill-worker "
                        "(or master/ and worker/ under it); default: build build-bench/")
    parser.add_argument("--build-dir", default=os.path.join(REPO, "build-bench"),
                        help="where to build without --bin-dir (default build-bench/)")
    parser.add_argument("--quick", action="store_true", help="small counts, 1 run each (smoke test)")
    parser.add_argument("--only", metavar="NAME[,NAME]",
                        help="run only these workloads: %s" % ",".join(n for n, _ in WORKLOADS))
    parser.add_argument("--runs", type=int, default=3, help="runs per workload (default 3)")
    parser.add_argument("--markdown", metavar="FILE", help="also write the table as markdown to FILE")
    parser.add_argument("--w1-threads", default="1,2",
                        help="comma-separated worker thread counts to try for W1 (default 1,2; "
                        "the job-file and stdin runs use the first)")
    parser.add_argument("--w3-tasks", default="2000,20000",
                        help="comma-separated task counts for W3 (default 2000,20000: the second "
                        "long enough that start-up does not dominate)")
    parser.add_argument("--latency-tasks", type=int, default=1000,
                        help="tasks in the L job (default 1000)")
    parser.add_argument("--start-runs", type=int, default=20,
                        help="one-task jobs in a row for S (default 20)")
    parser.add_argument("--memory-tasks", type=int, default=10000000,
                        help="tasks in the M job (default 10,000,000)")
    parser.add_argument("--memory-timeout", type=int, default=180,
                        help="timeout of the M run in seconds (default 180)")
    parser.add_argument("--keep-tmp", action="store_true", help="keep the temp dir (logs, summaries)")
    parser.add_argument("--quiet", action="store_true", help="no per-run lines")
    args = parser.parse_args()
    args.w1_threads = [int(t) for t in args.w1_threads.split(",") if t] or [1]
    args.w3_tasks = [int(t) for t in args.w3_tasks.split(",") if t]
    only = parse_only(parser, args.only)
    signal.signal(signal.SIGTERM, _on_sigterm)

    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="taskmill-bench-")
    try:
        bin_dir = args.bin_dir or build_binaries(args.build_dir)
        master = find_binary(bin_dir, "taskmill-master", "master")
        worker = find_binary(bin_dir, "taskmill-worker", "worker")
        raw, spawner = build_baselines(tmp)
        info = machine_info(bin_dir)
        for line in info:
            print("# " + line)
        print("# master %s\n# worker %s\n# temp dir %s" % (master, worker, tmp), flush=True)
        load_before = loadavg()
        bench = Bench(master, worker, raw, spawner, tmp, verbose=not args.quiet)
        rows, notes, runs = run_workloads(bench, args, only)
        load_after = loadavg()
        text = markdown(rows, info, notes, runs, load_before, load_after, time.monotonic() - started)
        print()
        print(text, end="")
        if args.markdown:
            with open(args.markdown, "w") as f:
                f.write(text)
        return 0
    except (BenchError, subprocess.CalledProcessError) as e:
        print("bench: %s" % e, file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 3
    finally:
        kill_all()
        if args.keep_tmp:
            print("# kept %s" % tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
