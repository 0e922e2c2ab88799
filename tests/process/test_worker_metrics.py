#!/usr/bin/env python3
"""A worker's own metrics (issues 9 and 13; taskmill-worker --metrics
[ADDR:]PORT): /metrics served from the worker's poll loop.

(1) After a job, read while the worker is still up (workers are
    long-lived): its /metrics passes `promtool check metrics`, every
    documented series is there with # HELP and # TYPE, and its tasks by
    status equal its results in the results file; received, sent, running,
    queued and the info series say what it did and is.
(2) A real Prometheus (loopback, its own storage, scrape_interval 1s)
    scrapes the master and two workers; each worker's counts by status,
    read back through /api/v1/query after the job, equal its results in
    the results file, and their sum the master's. Every metric name that
    deploy/ and README.md's metric lists use is one the programs serve.
(3) An autoscaled worker (--min-threads 1 --max-threads 4): after sleep
    tasks its grown counter is above 0, /metrics agrees with the heartbeat
    as `taskmill status --json` shows it (threads, min, max, grown,
    shrunk; the table shows the pool), its threads gauge with
    /proc/PID/task less the fixed threads, and after the job it shrinks
    back, counted.
(4) --metrics PORT listens on 127.0.0.1 only; 0.0.0.0 warns; a bad value is
    exit 2, a port taken exit 3.
(5) Garbage, half-open and more connections than the server takes, with a
    flood of scrapes, during a job: the job completes, exactly once, and
    the worker still answers.

promtool and Prometheus are required (deploy/install-deps.sh installs
them): a missing one fails its test.
"""

import collections
import glob
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.parse

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import test_http as web  # noqa: E402

STATUSES = ("ok", "failed", "timeout", "no_handler", "rejected")
#  Every family a worker serves (README.md, "Metrics").
FAMILIES = ("taskmill_worker_info", "taskmill_worker_tasks_total",
            "taskmill_worker_tasks_received_total", "taskmill_worker_results_sent_total",
            "taskmill_worker_results_lost_total", "taskmill_worker_frames_dropped_total",
            "taskmill_worker_tasks_running", "taskmill_worker_tasks_queued",
            "taskmill_worker_credit_window", "taskmill_worker_draining",
            "taskmill_worker_threads", "taskmill_worker_threads_min",
            "taskmill_worker_threads_max", "taskmill_worker_threads_grown_total",
            "taskmill_worker_threads_shrunk_total")


def start_metrics_worker(env, ports, wid, extra=(), threads=2):
    port = h.free_ports(1)[0]
    worker = env.start_worker(ports, threads=threads,
                              extra=["--id", wid, "--metrics", "127.0.0.1:%d" % port] + list(extra))
    h.wait_for(lambda: h.is_listening(port), h.scaled(10), "worker %s's metrics port" % wid)
    return worker, port


def scrape(port):
    status, headers, body = web.request(port, "/metrics")
    h.check_eq(status, 200, "GET /metrics status")
    h.check(headers.get("content-type", "").startswith("text/plain; version=0.0.4"),
            "content type %s" % headers.get("content-type"))
    h.check_eq(headers.get("content-security-policy"), web.CSP, "CSP of /metrics")
    return body.decode("utf-8")


def value(text, series):
    return web.metric_value(text, series)


def by_status(text):
    return {s: value(text, 'taskmill_worker_tasks_total{status="%s"}' % s) for s in STATUSES}


def results_by_worker(results):
    counts = collections.defaultdict(collections.Counter)
    for r in results:
        counts[r["worker"]][r["status"]] += 1
    return counts


def mixed_job(env, n):
    """n echo tasks, a failure and a task of no known type (neither
    retried): three statuses to count."""
    tasks = [{"id": "e%d" % i, "type": "echo", "payload": "x%d" % i} for i in range(n)]
    tasks.append({"id": "bad-sleep", "type": "sleep", "payload": "soon", "retries": 0})
    tasks.append({"id": "unknown", "type": "no-such-type", "retries": 0})
    return env.write_job("job.jsonl", tasks)


def promtool_check(env, text):
    path = env.path("worker-metrics.txt")
    with open(path, "w") as f:
        f.write(text)
    with open(path) as f:
        check = subprocess.run([web.program("promtool"), "check", "metrics"], stdin=f,
                               capture_output=True, text=True, timeout=30)
    h.check_eq(check.returncode, 0, "promtool check metrics exit status (%s%s)"
               % (check.stdout.strip(), check.stderr.strip()))


# --------------------------------------------------------------------------

def test_metrics_pass_promtool_and_count_the_job(env):
    n = 300
    ports = h.Ports()
    worker, port = start_metrics_worker(env, ports, "solo")
    out = env.path("out.jsonl")
    master = env.start_master(ports, mixed_job(env, n), out=out, extra=["--quiet"])
    h.check_eq(master.wait_exit(h.scaled(30), "master"), 1, "master exit status (two not ok)")
    results = h.read_results(out)
    h.check_exactly_once(results, n + 2)
    mine = results_by_worker(results)["solo"]
    h.check_eq(sum(mine.values()), n + 2, "results of the only worker")

    #  The last results may still be on their way out of the worker when
    #  the master has them: what it did settles at once.
    def settled():
        text = scrape(port)
        idle = value(text, "taskmill_worker_tasks_running") == 0 \
            and value(text, "taskmill_worker_results_sent_total") == n + 2
        return text if idle else None
    text = h.wait_for(settled, h.scaled(5), "the worker's metrics to settle")
    h.check(worker.alive(), "the worker exited")
    promtool_check(env, text)
    for name in FAMILIES:
        h.check("# HELP %s " % name in text and "# TYPE %s " % name in text,
                "no # HELP and # TYPE for %s" % name)
    h.check_eq(by_status(text), {s: float(mine.get(s, 0)) for s in STATUSES},
               "tasks by status against the results file")
    h.check_eq(value(text, "taskmill_worker_tasks_received_total"), n + 2, "tasks received")
    h.check_eq(value(text, "taskmill_worker_results_lost_total"), 0, "results lost")
    h.check_eq(value(text, "taskmill_worker_tasks_queued"), 0, "tasks queued")
    h.check_eq(value(text, "taskmill_worker_threads"), 2, "threads")
    h.check_eq(value(text, "taskmill_worker_threads_max"), 0, "threads_max of a fixed pool")
    h.check_eq(value(text, "taskmill_worker_draining"), 0, "draining")
    h.check(value(text, "taskmill_worker_credit_window") >= 2, "credit below the threads")
    info = re.search(r'^taskmill_worker_info\{worker_id="solo",incarnation="([0-9A-F]{16})",'
                     r'master="tcp://127\.0\.0\.1:%d"\} 1$' % ports.tasks, text, re.M)
    h.check(info, "info series: %s" % [l for l in text.splitlines() if "info{" in l])
    env.note("worker solo: %s, received %d" % (dict(mine), n + 2))


def names_in(paths, prefix):
    names = set()
    for path in paths:
        with open(path, encoding="utf-8") as f:
            names.update(re.findall(r"\b(%s[a-z_]*[a-z])\b" % prefix, f.read()))
    return names


def metrics_section():
    """The README's metric lists (master and worker) as a file of its own."""
    with open(os.path.join(h.REPO, "README.md"), encoding="utf-8") as f:
        text = f.read()
    start = text.index("#### Metrics")
    end = text.index("\n### ", start)
    return text[start:end]


def check_names_are_served(env, master_text, worker_text):
    """Every taskmill_ metric deploy/ and the README's metric lists name is
    one the master or a worker serves (a histogram by its family)."""
    served = set()
    for text in (master_text, worker_text):
        served.update(re.findall(r"^# TYPE (\S+) ", text, re.M))
    deploy = glob.glob(os.path.join(h.REPO, "deploy", "**", "*.yaml"), recursive=True)
    readme = env.path("metrics-section.md")
    with open(readme, "w", encoding="utf-8") as f:
        f.write(metrics_section())
    named = names_in(deploy + [readme], "taskmill_")
    unknown = sorted(n for n in named
                     if n not in served and re.sub(r"_(bucket|sum|count)$", "", n) not in served)
    h.check(not unknown, "named in deploy/ or README.md but served by no program: %s" % unknown)
    h.check(any(n.startswith("taskmill_worker_") for n in names_in(deploy, "taskmill_")),
            "deploy/ uses no worker metric")
    return named


def test_prometheus_scrapes_the_master_and_workers(env):
    n = 200
    ports, http_port = h.Ports(), h.free_ports(1)[0]
    workers = {wid: start_metrics_worker(env, ports, wid) for wid in ("alpha", "beta")}
    prometheus = web.Prometheus(env, {"taskmill-master": [http_port],
                                      "taskmill-worker": [p for _, p in workers.values()]})
    h.wait_for(prometheus.ready, h.scaled(20), "prometheus to be ready")
    master, out, summary = web.start_http_master(env, ports, web.waiting_job(env, n, 6000),
                                                 http_port)
    h.wait_for(lambda: h.count_lines(out) >= n, h.scaled(20), "%d echo results" % n)
    #  The master, read while it waits on its last task.
    query = 'taskmill_tasks_total{job="taskmill-master",status="ok"}'
    h.wait_for(lambda: prometheus.query(query) == n, h.scaled(6),
               "prometheus to read %s == %d (last: %s)" % (query, n, prometheus.query(query)))
    for wid, (_, port) in workers.items():
        up = 'up{job="taskmill-worker",instance="127.0.0.1:%d"}' % port
        h.check(h.eventually(lambda: prometheus.query(up) == 1.0, h.scaled(5)),
                "prometheus never scraped worker %s: %s" % (wid, prometheus.get(
                    "/api/v1/targets")[1]))
    master_text = web.request(http_port, "/metrics")[2].decode("utf-8")
    h.check_eq(master.wait_exit(h.scaled(20), "master"), 1, "master exit status (one timeout)")
    results = h.read_results(out)
    h.check_exactly_once(results, n + 1)
    counts = results_by_worker(results)
    #  The workers stay up: their series are read back while they are.
    read = {}
    for wid, (proc, port) in workers.items():
        want = {s: float(counts[wid].get(s, 0)) for s in STATUSES}

        def through_prometheus():
            got = {s: prometheus.query('taskmill_worker_tasks_total{instance="127.0.0.1:%d",'
                                       'status="%s"}' % (port, s)) for s in STATUSES}
            read[wid] = got
            return got == want
        h.check(h.eventually(through_prometheus, h.scaled(8)),
                "prometheus never read worker %s's counts %s (last: %s)"
                % (wid, want, read.get(wid)))
        h.check(proc.alive(), "worker %s exited" % wid)
        ident = prometheus.query('taskmill_worker_info{instance="127.0.0.1:%d",worker_id="%s"}'
                                 % (port, wid))
        h.check_eq(ident, 1.0, "worker %s's info series through prometheus" % wid)
    #  Two of the README's examples: the join that names each worker's
    #  series, and how busy the workers are (idle after the job).
    join = ("sum by (instance) (rate(taskmill_worker_tasks_total[1m])) * on (instance) "
            "group_left (worker_id) taskmill_worker_info")

    def named():
        status, body = prometheus.get("/api/v1/query?query=" + urllib.parse.quote(join))
        found = json.loads(body)["data"]["result"] if status == 200 else []
        return sorted(r["metric"].get("worker_id") for r in found) == sorted(workers)
    h.check(h.eventually(named, h.scaled(5)), "the README's join did not name both workers")
    busy = "sum(taskmill_worker_tasks_running) / sum(taskmill_worker_threads)"
    h.check_eq(prometheus.query(busy), 0.0, "how busy the workers are after the job")
    total = prometheus.query('sum(taskmill_worker_tasks_total{status="ok"})')
    s = h.read_summary(summary)
    h.check_eq(total, float(s["by_status"]["ok"]), "the workers' ok counts against the summary")
    env.note("prometheus read %s; master ok %d" % (read, s["by_status"]["ok"]))
    named = check_names_are_served(env, master_text, scrape(workers["alpha"][1]))
    env.note("%d metric names in deploy/ and README.md, all served" % len(named))
    prometheus.stop()


def cli_status(env, ports, *args):
    cli = os.path.join(os.path.dirname(os.path.dirname(env.master_bin)), "cli", "taskmill")
    p = env.run("taskmill", [cli, "status"] + list(args) + ["--admin", h.Ports.ep(ports.admin)],
                h.scaled(10))
    return p.poll(), p.stdout()


def threads_of(pid):
    return len(os.listdir("/proc/%d/task" % pid))


def test_autoscaled_worker_metrics_agree_with_the_heartbeat(env):
    ports = h.Ports()
    worker, port = start_metrics_worker(env, ports, "elastic", threads=None, extra=[
        "--min-threads", "1", "--max-threads", "4", "--scale-shrink-after", "300",
        "--heartbeat", "200"])
    h.wait_for(lambda: "1 threads" in worker.stderr(), h.scaled(10), "the worker to start")
    #  What the process runs besides its one executor thread (main, the
    #  ZeroMQ I/O threads): the HTTP server has no thread of its own.
    base = threads_of(worker.pid) - 1
    text = scrape(port)
    h.check_eq(value(text, "taskmill_worker_threads"), 1, "threads at the start")
    h.check_eq(threads_of(worker.pid), base + 1, "threads after a scrape")
    #  40 ms tasks: the credit of a 4-thread pool holds 3 waiting behind a
    #  single thread, 120 ms, past the 50 ms threshold that grows it.
    n = 300
    job = env.write_job("job.jsonl", [{"id": "s%d" % i, "type": "sleep", "payload": "40"}
                                      for i in range(n)])
    out = env.path("out.jsonl")
    master = env.start_master(ports, job, out=out, extra=["--quiet"])
    #  The heartbeat's fields as the status shows them, and their series.
    series = {"threads": "taskmill_worker_threads", "threads_min": "taskmill_worker_threads_min",
              "threads_max": "taskmill_worker_threads_max",
              "threads_grown": "taskmill_worker_threads_grown_total",
              "threads_shrunk": "taskmill_worker_threads_shrunk_total"}
    seen = {}

    def agree():
        """/metrics, the heartbeat (through the status) and /proc, read
        one after the other: equal once the pool holds still for a
        heartbeat."""
        rc, status = cli_status(env, ports, "--json")
        if rc != 0:
            return False
        beat = [w for w in json.loads(status)["workers"] if w["id"] == "elastic"]
        text = scrape(port)
        mine = {k: value(text, name) for k, name in series.items()}
        proc = threads_of(worker.pid) - base
        seen.update(metrics=mine, heartbeat=beat and {k: beat[0][k] for k in series}, proc=proc)
        return beat and mine["threads_grown"] > 0 and mine["threads"] == proc \
            and mine == {k: float(beat[0][k]) for k in series}
    h.check(h.eventually(agree, h.scaled(15), interval=0.05),
            "/metrics never agreed with the heartbeat and /proc after growth (last: %s)" % seen)
    env.note("during the job: %s" % seen)
    h.check_eq(seen["metrics"]["threads_min"], 1, "threads_min")
    h.check_eq(seen["metrics"]["threads_max"], 4, "threads_max")
    rc, table = cli_status(env, ports)
    h.check_eq(rc, 0, "taskmill status exit status")
    row = [line for line in table.splitlines() if line.startswith("elastic ")]
    h.check(row and re.search(r" 1-4 \+\d+ -\d+ ", row[0]), "the table's pool column: %s" % row)
    h.check_eq(master.wait_exit(h.scaled(30), "master"), 0, "master exit status")
    h.check_exactly_once(h.read_results(out), n)

    def shrunk():
        text = scrape(port)
        seen.update(after=(value(text, "taskmill_worker_threads"),
                           value(text, "taskmill_worker_threads_shrunk_total"),
                           threads_of(worker.pid) - base))
        return seen["after"][0] == 1 and seen["after"][1] > 0 and seen["after"][2] == 1
    h.check(h.eventually(shrunk, h.scaled(20)),
            "the pool not back at 1 thread, counted (last: %s)" % seen)
    grown = value(scrape(port), "taskmill_worker_threads_grown_total")
    changes = re.findall(r"threads (\d+) -> (\d+)", worker.stderr())
    ups = sum(1 for a, b in changes if int(b) > int(a))
    downs = len(changes) - ups
    h.check_eq((grown, seen["after"][1]), (float(ups), float(downs)),
               "grown and shrunk against the pool changes logged")
    env.note("after the job: threads, shrunk, /proc = %s; %d up, %d down" % (seen["after"], ups,
                                                                             downs))


def test_binds_loopback_unless_told(env):
    ports, port = h.Ports(), h.free_ports(1)[0]
    worker = env.start_worker(ports, extra=["--metrics", str(port)])
    h.wait_for(lambda: h.is_listening(port), h.scaled(10), "the metrics port to listen")
    listeners = {r["local"] for r in h._proc_net_tcp()
                 if r["state"] == h.TCP_LISTEN and r["local"][1] == port}
    h.check_eq(listeners, {(h.HOST, port)}, "listening addresses of --metrics PORT")
    h.check("reachable beyond this host" not in worker.stderr(), "a warning for loopback")
    h.check("metrics on http://127.0.0.1:%d/metrics" % port in worker.stderr(),
            "no log line naming the metrics URL")
    taken = env.run("taken", [env.worker_bin] + h.Ports().worker_args()
                    + ["--metrics", "127.0.0.1:%d" % port], h.scaled(10))
    h.check_eq(taken.rc, 3, "exit status with the metrics port taken")
    h.check("metrics: cannot listen" in taken.stderr(), "no error naming the metrics port")
    wide = env.start_worker(h.Ports(), extra=["--metrics", "0.0.0.0:%d" % h.free_ports(1)[0]],
                            name="wide")
    h.wait_for(lambda: "reachable beyond this host" in wide.stderr(), h.scaled(10),
               "a warning for a metrics port bound beyond loopback")
    for bad in ("nope", "127.0.0.1:", "1.2.3.4:99999", "::1:80", "[::1]", "localhost:80", "-1",
                ""):
        p = env.run("bad", [env.worker_bin] + h.Ports().worker_args() + ["--metrics", bad],
                    h.scaled(10))
        h.check_eq(p.rc, 2, "exit status of --metrics %r" % bad)
        h.check("--metrics wants [ADDR:]PORT" in p.stderr(), "no usage message for %r" % bad)
    h.check(worker.alive(), "the first worker exited")


def test_hostile_connections_do_not_wedge_the_worker(env):
    n = 3000
    ports = h.Ports()
    worker, port = start_metrics_worker(env, ports, "busy")
    job = env.write_job("job.jsonl", [{"id": "s%d" % i, "type": "sleep", "payload": "4"}
                                      for i in range(n)])
    out = env.path("out.jsonl")
    master = env.start_master(ports, job, out=out, summary=env.path("summary.json"),
                              extra=["--quiet"])
    h.wait_for(lambda: h.count_lines(out) >= 50, h.scaled(20), "the job to be under way")
    #  More idle connections than the server takes at once (64), half of
    #  them with half a request: they hold connections (until the 10 s
    #  timeout) or wait in the backlog, not the loop.
    idle = []
    for i in range(80):
        sock = socket.create_connection((h.HOST, port), timeout=5)
        if i % 2:
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        idle.append(sock)
    web.send_junk(port, more=[b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"])   # a TLS hello
    #  The job goes on while all that is held.
    during = h.count_lines(out)
    h.wait_for(lambda: h.count_lines(out) >= min(n, during + 200), h.scaled(10),
               "results while 80 idle connections are held")
    for sock in idle:
        sock.close()
    #  Then a flood of scrapes: each answered, and the job still goes on.
    answered = collections.Counter()
    lock = threading.Lock()

    def flood():
        for _ in range(40):
            try:
                status = web.request(port, "/metrics", timeout=15)[0]
            except OSError as e:
                status = repr(e)
            with lock:
                answered[status] += 1
    t0 = time.monotonic()
    threads = [threading.Thread(target=flood) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(h.scaled(60))
    flood_s = time.monotonic() - t0
    during = master.alive()
    h.check_eq(master.wait_exit(h.scaled(60), "master"), 0, "master exit status")
    h.check_exactly_once(h.read_results(out), n)
    text = h.wait_for(lambda: (lambda t: t if value(t, 'taskmill_worker_tasks_total{status="ok"}')
                               == n else None)(scrape(port)),
                      h.scaled(5), "the worker to count %d ok" % n)
    h.check(worker.alive(), "the worker exited")
    env.note("80 idle connections held while 200 results came; a flood of scrapes in %.2f s "
             "answered %s; after: ok %d" % (flood_s, dict(answered), value(
                 text, 'taskmill_worker_tasks_total{status="ok"}')))
    h.check_eq(dict(answered), {200: 120}, "scrapes answered during the flood")
    h.check(during, "the job ended before the flood did: make it longer")


if __name__ == "__main__":
    h.main([test_metrics_pass_promtool_and_count_the_job,
            test_prometheus_scrapes_the_master_and_workers,
            test_autoscaled_worker_metrics_agree_with_the_heartbeat,
            test_binds_loopback_unless_told, test_hostile_connections_do_not_wedge_the_worker],
           __doc__)
