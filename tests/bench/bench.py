#!/usr/bin/env python3
"""taskmill benchmark: the real master and workers over loopback TCP, next to
baselines measured in the same sitting.

    python3 tests/bench/bench.py [--bin-dir DIR] [--quick] [--markdown FILE]

Not part of the test suite (not registered with ctest): figures depend on the
machine and on whatever else runs on it.

Without --bin-dir the script builds the binaries itself in build-bench/
(cmake, RelWithDebInfo, i.e. -O2 -g). The baseline tests/bench/raw_pipeline.c
is compiled with cc and pkg-config into the run's temp dir.

Workloads (full run; --quick uses smaller counts and 1 run each):
  W1 noop   1,000,000 noop tasks, 64-byte payloads, 2 workers x 1 thread (and
            x 2 threads) -> tasks/s, against raw_pipeline 1,000,000 x 64 B
            over 2 worker threads
  W2 sleep  400 x sleep 10 ms on 2 workers x 8 threads -> makespan and
            efficiency = (400 x 10 ms / 16) / makespan
  W3 cpu    2,000 x sha256 "rounds=1000;x": 2 workers x 1 thread against
            1 worker x 1 thread -> scaling; again with 20,000 tasks, since
            2,000 take ~0.25 s, not much longer than a cluster's start-up
  W4 exec   2,000 x exec `true` on 2 workers x 1 thread (--allow-exec)
            against `seq 2000 | xargs -P2 -n1 sh -c true`
  L  latency  1,000 noop tasks with --window 1 (one in flight) -> the
            summary's latency_us p50 / p99, against raw_pipeline with one
            message in flight (WINDOW 1)
  M  memory   10,000,000 noop tasks, 1 run -> the master's peak RSS
  B  bandwidth  200 x 1 MiB echo on 2 workers x 1 thread -> MB/s, against
            raw_pipeline 200 x 1 MiB

A cluster run starts the master first (--min-workers = number of workers),
waits until its ports listen (read from /proc/net/tcp, so no stray
connection reaches it), then starts the workers with --once. The rate is the
summary's tasks_per_s: tasks over the master's elapsed_s, which runs from the
master's start (before the workers exist) to the last result, so it includes
the workers' start-up and the --min-workers gate. The "net of start-up"
column subtracts the median elapsed_s of a 2-task job on the same cluster
shape (an estimate). The master's wall time and peak RSS (wait4) are
reported beside it.

Every process runs in its own session, dies with this script
(PR_SET_PDEATHSIG), and is killed in a finally block; every run has a
timeout. Only the standard library is used.
"""

import argparse
import ctypes
import datetime
import json
import os
import platform
import re
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
    #  Runs in the child between fork and exec: die with this script.
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def spawn(argv, log_path, stdout=None):
    log = open(log_path, "wb")
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
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


def build_raw_pipeline(tmp):
    out = os.path.join(tmp, "raw_pipeline")
    try:
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libzmq"], check=True,
                               capture_output=True, text=True).stdout.split()
    except (OSError, subprocess.CalledProcessError) as e:
        raise BenchError("pkg-config libzmq failed: %s" % e)
    cc = os.environ.get("CC", "cc")
    subprocess.run([cc, "-O2", "-o", out, os.path.join(BENCH_DIR, "raw_pipeline.c")]
                   + flags + ["-pthread"], check=True)
    return out


# --------------------------------------------------------------------------
#  Runs

class Bench:
    def __init__(self, master, worker, raw, tmp, verbose):
        self.master = master
        self.worker = worker
        self.raw = raw
        self.tmp = tmp
        self.verbose = verbose
        self.counter = 0

    def cluster(self, name, master_args, workers, worker_args=(), timeout=120):
        """Runs one job: a master and len(workers) workers (workers = list of
        thread counts). Returns a dict with the summary and the master's wall
        time and peak RSS; raises BenchError if the job did not end with
        every task ok."""
        self.counter += 1
        tag = "%02d-%s" % (self.counter, name)
        out = os.path.join(self.tmp, tag + ".results.jsonl")
        summary_path = os.path.join(self.tmp, tag + ".summary.json")
        tasks_p, results_p, control_p, admin_p = free_ports(4)
        ep = lambda port: "tcp://%s:%d" % (HOST, port)
        argv = [self.master] + list(master_args) + [
            "--out", out, "--summary", summary_path, "--quiet",
            "--min-workers", str(len(workers)),
            "--bind-tasks", ep(tasks_p), "--bind-results", ep(results_p),
            "--bind-control", ep(control_p), "--bind-admin", ep(admin_p)]
        procs = []
        try:
            start = time.monotonic()
            master = spawn(argv, os.path.join(self.tmp, tag + ".master.log"))
            procs.append(master)
            reaper = Reaper(master)
            wanted = {tasks_p, results_p, control_p}
            wait_for(lambda: wanted <= listening_ports() or master.returncode is not None,
                     10, "the master to listen on its ports")
            for i, threads in enumerate(workers):
                procs.append(spawn([self.worker, HOST, "--tasks", ep(tasks_p),
                                    "--results", ep(results_p), "--control", ep(control_p),
                                    "--threads", str(threads), "--once",
                                    "--id", "bench-w%d" % (i + 1)] + list(worker_args),
                                   os.path.join(self.tmp, "%s.worker%d.log" % (tag, i + 1))))
            if not reaper.join(timeout):
                raise BenchError("%s: master still running after %d s (killed); log:\n%s"
                                 % (name, timeout, tail(os.path.join(self.tmp, tag + ".master.log"))))
            wall = reaper.end - start
            rss_kib = reaper.rusage.ru_maxrss
            if master.returncode != 0:
                raise BenchError("%s: master exit status %s; log:\n%s"
                                 % (name, master.returncode,
                                    tail(os.path.join(self.tmp, tag + ".master.log"))))
            #  --once workers drain and exit by themselves after JOB_END.
            worker_exit = []
            for proc in procs[1:]:
                try:
                    worker_exit.append(proc.wait(timeout=15))
                except subprocess.TimeoutExpired:
                    worker_exit.append("hung")
            with open(summary_path) as f:
                summary = json.load(f)
        finally:
            for proc in procs:
                kill(proc)
        expected = summary.get("tasks")
        ok = summary.get("by_status", {}).get("ok")
        if ok != expected:
            raise BenchError("%s: %s of %s tasks ok: %s" % (name, ok, expected, summary.get("by_status")))
        result = {
            "summary": summary,
            "wall_s": wall,
            "rss_kib": rss_kib,
            "worker_exit": worker_exit,
            "tasks_per_s": summary["tasks_per_s"],
            "elapsed_s": summary["elapsed_s"],
        }
        if os.path.exists(out):
            result["out_bytes"] = os.path.getsize(out)
            if result["out_bytes"] <= 64 * MIB:
                #  Handler time on the workers: its share of elapsed_s x
                #  threads tells starved workers from slow (CPU-starved) tasks.
                with open(out, "rb") as f:
                    durations = [int(m) for m in re.findall(rb'"duration_us":(\d+)', f.read())]
                if durations:
                    result["handler_mean_us"] = sum(durations) / len(durations)
                    result["busy"] = sum(durations) / 1e6 / (summary["elapsed_s"] * sum(workers))
            os.unlink(out)  # results files of the big runs are large; nothing reads them
        if self.verbose:
            print("#   %s: %.0f tasks/s, elapsed %.3f s, wall %.3f s, master RSS %.1f MiB, "
                  "workers %s, workers exit %s"
                  % (tag, result["tasks_per_s"], result["elapsed_s"], wall, rss_kib / 1024,
                     "/".join(str(v) for v in summary.get("workers", {}).values()), worker_exit),
                  flush=True)
        return result

    def raw_pipeline(self, count, workers, size, window=0, timeout=120):
        argv = [self.raw, str(count), str(workers), str(size), "1000", str(window)]
        proc = None
        try:
            proc = spawn(argv, os.path.join(self.tmp, "raw.log"), stdout=subprocess.PIPE)
            stdout, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise BenchError("raw_pipeline %s: timed out after %d s" % (argv[1:], timeout))
        finally:
            if proc:
                kill(proc)
        if proc.returncode != 0:
            raise BenchError("raw_pipeline %s: exit status %s: %s"
                             % (argv[1:], proc.returncode, tail(os.path.join(self.tmp, "raw.log"))))
        fields = dict(kv.split("=", 1) for kv in stdout.decode().split()[1:])
        result = {k: float(v) for k, v in fields.items()}
        if self.verbose:
            print("#   raw_pipeline %d x %d B, %d workers, window %d: %.0f msgs/s, %.1f MB/s%s"
                  % (count, size, workers, window, result["msgs_per_s"], result["mb_per_s"],
                     ", p50 %d us, p99 %d us" % (result["p50_us"], result["p99_us"])
                     if "p50_us" in result else ""), flush=True)
        return result

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
#  Workloads

def median(values):
    return statistics.median(values) if values else float("nan")


def fmt_rate(value):
    if value != value:
        return "n/a"
    if value >= 100000:
        return "%.0fk" % (value / 1000)
    if value >= 1000:
        return "%.1fk" % (value / 1000)
    return "%.0f" % value


def fmt_runs(values, fmt):
    return ", ".join(fmt(v) for v in values) if values else "failed"


def repeat(runs, label, fn):
    """Calls fn() `runs` times; a run that fails is reported and left out."""
    values = []
    for i in range(runs):
        try:
            values.append(fn())
        except BenchError as e:
            print("# %s run %d FAILED: %s" % (label, i + 1, e), flush=True)
    return values


def verdict(ok):
    return "yes" if ok else "**NO**"


def run_workloads(bench, args):
    quick = args.quick
    runs = 1 if quick else args.runs
    n = {
        "w1": 100000 if quick else 1000000,
        "w2": 100 if quick else 400,
        "w3": 400 if quick else 2000,
        "w4": 400 if quick else 2000,
        "l": 200 if quick else args.latency_tasks,
        "m": 1000000 if quick else args.memory_tasks,
        "b": 50 if quick else 200,
    }
    rows = []
    notes = []
    startup = {}

    def section(title):
        print("# %s" % title, flush=True)

    def startup_s(workers):
        """Median elapsed_s of a 2-task noop job on this cluster shape: what
        a job's elapsed_s holds besides its tasks (the master's start, the
        workers' exec and connect, the --min-workers gate, one round trip)."""
        key = tuple(workers)
        if key not in startup:
            res = repeat(runs, "start-up %s" % (key,), lambda: bench.cluster(
                "startup-%dx%d" % (len(workers), workers[0]),
                ["--generate", "2", "--type", "noop"], workers))
            startup[key] = median([r["elapsed_s"] for r in res])
        return startup[key]

    def net_rate(count, res, workers):
        s0 = startup_s(workers)
        return median([count / (r["elapsed_s"] - s0) for r in res if r["elapsed_s"] > s0])

    def met(gross_ok, net_ok):
        if gross_ok == net_ok:
            return verdict(gross_ok)
        return "%s (net: %s)" % (verdict(gross_ok), "yes" if net_ok else "no")

    # ---- W1 noop ---------------------------------------------------------
    section("W1 noop: %d tasks x 64 B" % n["w1"])
    raw1 = repeat(runs, "raw 64 B", lambda: bench.raw_pipeline(n["w1"], 2, 64)["msgs_per_s"])
    raw1_med = median(raw1)
    w1_args = ["--generate", str(n["w1"]), "--type", "noop", "--payload-size", "64"]
    for threads in args.w1_threads:
        shape = [threads, threads]
        res = repeat(runs, "W1 t%d" % threads,
                     lambda: bench.cluster("w1-noop-t%d" % threads, w1_args, shape))
        rates = [r["tasks_per_s"] for r in res]
        net = net_rate(n["w1"], res, shape)
        ratio, net_ratio = median(rates) / raw1_med, net / raw1_med
        rows.append(["W1 noop 64 B, 2 workers x %d thread%s" % (threads, "s" if threads > 1 else ""),
                     "tasks/s", fmt_runs(rates, fmt_rate), fmt_rate(median(rates)),
                     "%s (%.2f×)" % (fmt_rate(net), net_ratio),
                     "raw pipeline, 2 workers, 64 B: %s msg/s (%s)" % (fmt_rate(raw1_med), fmt_runs(raw1, fmt_rate)),
                     "%.2f×" % ratio, "≥ 0.40× raw", met(ratio >= 0.4, net_ratio >= 0.4)])
        notes.append("W1 %d thread(s): by the master's wall time (exec to exit) %s tasks/s; "
                     "master peak RSS %s MiB"
                     % (threads, fmt_runs([n["w1"] / r["wall_s"] for r in res], fmt_rate),
                        fmt_runs([r["rss_kib"] / 1024 for r in res], lambda v: "%.1f" % v)))

    # ---- W2 sleep --------------------------------------------------------
    threads2 = 8
    shape = [threads2, threads2]
    ideal = n["w2"] * 0.010 / (2 * threads2)
    section("W2 sleep: %d x 10 ms on 2 x %d threads (ideal %.0f ms)" % (n["w2"], threads2, ideal * 1000))
    res = repeat(runs, "W2", lambda: bench.cluster(
        "w2-sleep", ["--generate", str(n["w2"]), "--type", "sleep", "--payload", "10"], shape))
    spans = [r["elapsed_s"] for r in res]
    span_net = median(spans) - startup_s(shape)
    eff, eff_net = ideal / median(spans), ideal / span_net
    rows.append(["W2 sleep 10 ms ×%d, 2 workers x 8 threads" % n["w2"], "makespan ms",
                 fmt_runs(spans, lambda v: "%.0f" % (v * 1000)), "%.0f" % (median(spans) * 1000),
                 "%.0f (%.1f%%)" % (span_net * 1000, eff_net * 100),
                 "ideal %.0f ms" % (ideal * 1000), "%.1f%% eff." % (eff * 100), "≥ 95%",
                 met(eff >= 0.95, eff_net >= 0.95)])
    notes.append("W2: worker threads busy %s of elapsed_s; tasks per worker %s; "
                 "makespan by the master's wall time %s ms"
                 % (fmt_runs([r.get("busy", 0) for r in res], lambda v: "%.0f%%" % (v * 100)),
                    "; ".join("/".join(str(v) for v in sorted(r["summary"]["workers"].values()))
                              for r in res),
                    fmt_runs([r["wall_s"] for r in res], lambda v: "%.0f" % (v * 1000))))

    # ---- W3 cpu ----------------------------------------------------------
    for count in ([400] if quick else args.w3_tasks):
        section("W3 sha256 rounds=1000: %d tasks" % count)
        w3_args = ["--generate", str(count), "--type", "sha256", "--payload", "rounds=1000;x"]
        one = repeat(runs, "W3 1x1", lambda: bench.cluster("w3-cpu-1x1", w3_args, [1]))
        two = repeat(runs, "W3 2x1", lambda: bench.cluster("w3-cpu-2x1", w3_args, [1, 1]))
        one_rates = [r["tasks_per_s"] for r in one]
        two_rates = [r["tasks_per_s"] for r in two]
        one_net, two_net = net_rate(count, one, [1]), net_rate(count, two, [1, 1])
        scaling, scaling_net = median(two_rates) / median(one_rates), two_net / one_net
        rows.append(["W3 sha256 rounds=1000 ×%d, 2 workers x 1 thread" % count, "tasks/s",
                     fmt_runs(two_rates, fmt_rate), fmt_rate(median(two_rates)),
                     "%s (%.2f×)" % (fmt_rate(two_net), scaling_net),
                     "1 worker x 1 thread: %s tasks/s (%s; net %s)"
                     % (fmt_rate(median(one_rates)), fmt_runs(one_rates, fmt_rate), fmt_rate(one_net)),
                     "%.2f× scaling" % scaling, "≥ 1.80×", met(scaling >= 1.8, scaling_net >= 1.8)])
        notes.append("W3 ×%d: tasks per worker %s; mean handler time %s µs (1 x 1) and %s µs "
                     "(2 x 1); worker threads busy %s (1 x 1) and %s (2 x 1) of elapsed_s"
                     % (count, "; ".join("/".join(str(v) for v in sorted(r["summary"]["workers"].values()))
                                         for r in two),
                        fmt_runs([r.get("handler_mean_us", 0) for r in one], lambda v: "%.0f" % v),
                        fmt_runs([r.get("handler_mean_us", 0) for r in two], lambda v: "%.0f" % v),
                        fmt_runs([r.get("busy", 0) for r in one], lambda v: "%.0f%%" % (v * 100)),
                        fmt_runs([r.get("busy", 0) for r in two], lambda v: "%.0f%%" % (v * 100))))

    # ---- W4 exec ---------------------------------------------------------
    section("W4 exec true: %d commands" % n["w4"])
    xargs_cmd = "seq %d | xargs -P2 -n1 sh -c true" % n["w4"]
    xargs = repeat(runs, "xargs", lambda: n["w4"] / bench.shell_timed(xargs_cmd))
    res = repeat(runs, "W4", lambda: bench.cluster(
        "w4-exec", ["--generate", str(n["w4"]), "--type", "exec", "--payload", "true"],
        [1, 1], worker_args=["--allow-exec"]))
    rates = [r["tasks_per_s"] for r in res]
    net = net_rate(n["w4"], res, [1, 1])
    ratio, net_ratio = median(rates) / median(xargs), net / median(xargs)
    rows.append(["W4 exec `true` ×%d, 2 workers x 1 thread" % n["w4"], "commands/s",
                 fmt_runs(rates, fmt_rate), fmt_rate(median(rates)),
                 "%s (%.2f×)" % (fmt_rate(net), net_ratio),
                 "`%s`: %s cmd/s (%s)" % (xargs_cmd, fmt_rate(median(xargs)), fmt_runs(xargs, fmt_rate)),
                 "%.2f×" % ratio, "≥ 1.00× xargs", met(ratio >= 1.0, net_ratio >= 1.0)])

    # ---- L latency -------------------------------------------------------
    section("L latency: %d noop tasks, --window 1" % n["l"])
    raw_l = repeat(runs, "raw window 1", lambda: bench.raw_pipeline(n["l"], 2, 64, window=1))
    raw_p50 = median([r["p50_us"] for r in raw_l])
    raw_p99 = median([r["p99_us"] for r in raw_l])
    res = repeat(runs, "L", lambda: bench.cluster(
        "l-latency", ["--generate", str(n["l"]), "--type", "noop", "--window", "1"], [1, 1]))
    p50 = [r["summary"]["latency_us"]["p50"] for r in res]
    p99 = [r["summary"]["latency_us"]["p99"] for r in res]
    rows.append(["L latency, noop ×%d, --window 1, 2 workers x 1 thread" % n["l"], "p50 µs",
                 fmt_runs(p50, lambda v: "%d" % v), "%d" % median(p50), "",
                 "raw pipeline, 2 workers, 64 B, one in flight: p50 %d µs (%s)"
                 % (raw_p50, fmt_runs([r["p50_us"] for r in raw_l], lambda v: "%d" % v)),
                 "%.1f×" % (median(p50) / raw_p50), "≤ 100 µs", verdict(median(p50) <= 100)])
    rows.append(["L latency (same runs)", "p99 µs", fmt_runs(p99, lambda v: "%d" % v),
                 "%d" % median(p99), "",
                 "raw: p99 %d µs (%s)" % (raw_p99, fmt_runs([r["p99_us"] for r in raw_l], lambda v: "%d" % v)),
                 "%.1f×" % (median(p99) / raw_p99), "≤ 1000 µs", verdict(median(p99) <= 1000)])
    notes.append("L: latency_us p90 %s µs, max %s µs; %s tasks/s"
                 % (fmt_runs([r["summary"]["latency_us"]["p90"] for r in res], lambda v: "%d" % v),
                    fmt_runs([r["summary"]["latency_us"]["max"] for r in res], lambda v: "%d" % v),
                    fmt_runs([r["tasks_per_s"] for r in res], fmt_rate)))

    # ---- M memory --------------------------------------------------------
    section("M memory: %d noop tasks, 1 run" % n["m"])
    res = repeat(1, "M", lambda: bench.cluster(
        "m-memory", ["--generate", str(n["m"]), "--type", "noop"], [1, 1], timeout=args.memory_timeout))
    rss = [r["rss_kib"] / 1024 for r in res]
    rows.append(["M master peak RSS, noop ×%s, 2 workers x 1 thread" % format(n["m"], ","), "MiB",
                 fmt_runs(rss, lambda v: "%.1f" % v), "%.1f" % median(rss), "", "1 run", "",
                 "≤ 64 MiB", verdict(median(rss) <= 64)])
    if res:
        notes.append("M: %.1f s elapsed, %s tasks/s, results file %.0f MiB (deleted after the run)"
                     % (res[0]["elapsed_s"], fmt_rate(res[0]["tasks_per_s"]),
                        res[0].get("out_bytes", 0) / MIB))

    # ---- B bandwidth -----------------------------------------------------
    section("B bandwidth: %d x 1 MiB echo" % n["b"])
    raw_b = repeat(runs, "raw 1 MiB", lambda: bench.raw_pipeline(n["b"], 2, MIB)["mb_per_s"])
    res = repeat(runs, "B", lambda: bench.cluster(
        "b-echo", ["--generate", str(n["b"]), "--type", "echo", "--payload-size", str(MIB)], [1, 1]))
    mbs = [n["b"] * MIB / r["elapsed_s"] / 1e6 for r in res]
    net = net_rate(n["b"], res, [1, 1]) * MIB / 1e6
    ratio, net_ratio = median(mbs) / median(raw_b), net / median(raw_b)
    rows.append(["B echo 1 MiB ×%d, 2 workers x 1 thread" % n["b"], "MB/s",
                 fmt_runs(mbs, lambda v: "%.0f" % v), "%.0f" % median(mbs),
                 "%.0f (%.2f×)" % (net, net_ratio),
                 "raw pipeline, 2 workers, 1 MiB: %.0f MB/s (%s)" % (median(raw_b), fmt_runs(raw_b, lambda v: "%.0f" % v)),
                 "%.2f×" % ratio, "≥ 0.50× raw", met(ratio >= 0.5, net_ratio >= 0.5)])
    notes.append("B: master peak RSS %s MiB; results file %s MiB per run"
                 % (fmt_runs([r["rss_kib"] / 1024 for r in res], lambda v: "%.0f" % v),
                    fmt_runs([r.get("out_bytes", 0) / MIB for r in res], lambda v: "%.0f" % v)))

    notes.insert(0, "Start-up (elapsed_s of a 2-task noop job, median; subtracted for the "
                 "\"net\" column): %s"
                 % ", ".join("%d x %d thread(s) %.0f ms" % (len(k), k[0], v * 1000)
                             for k, v in startup.items()))
    return rows, notes, runs


# --------------------------------------------------------------------------
#  Report

HEADER = ["Workload", "Unit", "Runs", "Median", "Net of start-up", "Baseline (same sitting)", "Ratio", "Target", "Met"]


def machine_info():
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
    try:
        head = subprocess.run(["git", "-C", REPO, "log", "-1", "--format=%h %s"], capture_output=True,
                              text=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True).stdout.split("\n")
        dirty = [line[3:] for line in dirty if line.strip()]
    except OSError:
        head, dirty = "?", []
    return [
        "source (working tree now): %s%s" % (head, "; uncommitted changes in %s" % ", ".join(dirty) if dirty else ""),
        "date: %s" % datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M:%S %Z"),
        "host: %s, %s" % (platform.node(), platform.platform()),
        "cpu: %s; nproc %d (online %d)" % (model, len(os.sched_getaffinity(0)), os.cpu_count() or 0),
        "libzmq %s; python %s" % (zmq, platform.python_version()),
    ]


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


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin-dir", help="directory with taskmill-master and taskmill-worker "
                        "(or master/ and worker/ under it); default: build build-bench/")
    parser.add_argument("--build-dir", default=os.path.join(REPO, "build-bench"),
                        help="where to build without --bin-dir (default build-bench/)")
    parser.add_argument("--quick", action="store_true", help="small counts, 1 run each (smoke test)")
    parser.add_argument("--runs", type=int, default=3, help="runs per workload (default 3)")
    parser.add_argument("--markdown", metavar="FILE", help="also write the table as markdown to FILE")
    parser.add_argument("--w1-threads", default="1,2",
                        help="comma-separated worker thread counts to try for W1 (default 1,2)")
    parser.add_argument("--w3-tasks", default="2000,20000",
                        help="comma-separated task counts for W3 (default 2000,20000: the second "
                        "long enough that start-up does not dominate)")
    parser.add_argument("--latency-tasks", type=int, default=1000,
                        help="tasks in the L job (default 1000)")
    parser.add_argument("--memory-tasks", type=int, default=10000000,
                        help="tasks in the M job (default 10,000,000)")
    parser.add_argument("--memory-timeout", type=int, default=180,
                        help="timeout of the M run in seconds (default 180)")
    parser.add_argument("--keep-tmp", action="store_true", help="keep the temp dir (logs, summaries)")
    parser.add_argument("--quiet", action="store_true", help="no per-run lines")
    args = parser.parse_args()
    args.w1_threads = [int(t) for t in args.w1_threads.split(",") if t]
    args.w3_tasks = [int(t) for t in args.w3_tasks.split(",") if t]

    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="taskmill-bench-")
    try:
        bin_dir = args.bin_dir or build_binaries(args.build_dir)
        master = find_binary(bin_dir, "taskmill-master", "master")
        worker = find_binary(bin_dir, "taskmill-worker", "worker")
        raw = build_raw_pipeline(tmp)
        info = machine_info()
        for line in info:
            print("# " + line)
        print("# master %s\n# worker %s\n# temp dir %s" % (master, worker, tmp), flush=True)
        load_before = loadavg()
        bench = Bench(master, worker, raw, tmp, verbose=not args.quiet)
        rows, notes, runs = run_workloads(bench, args)
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
