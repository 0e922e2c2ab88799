#!/usr/bin/env python3
"""The master's HTTP endpoint (DESIGN.md, "Inspection"; --http [ADDR:]PORT):
the dashboard, /api/status and /metrics, served from the master's own poll
loop.

(1) /api/status during a job is the admin endpoint's JSON: the same
    snapshot byte for byte when both are asked within one tick, workers
    with their real pids.
(2) /metrics passes `promtool check metrics`, and its
    taskmill_tasks_total{status="ok"}, read while the master waits on the
    job's last task, equals the summary's ok count.
(3) A real Prometheus (started here on loopback, its own storage,
    scrape_interval 1s) scrapes the master; the value read back through
    its HTTP API equals the summary's.
(4) Headless Chromium renders the dashboard during a job: the dumped DOM
    shows the job's counts, both workers (the one stopped with SIGSTOP
    marked stale), a failure whose id is markup shown as text, the
    per-type table with the job's final counts, the two long sleeps among
    the longest running, the percentiles and the latency histogram; a
    screenshot is saved. Chromium's every request beyond loopback goes to
    a trap proxy here: none is the page's (only Chromium's own services).
(5) Other methods are 405, other paths 404, a GET with a body 400; every
    response carries the CSP; a flood of a few hundred requests (and idle
    half-open connections) during a job leaves it complete, exactly once.
(6) --http PORT listens on 127.0.0.1 only; 0.0.0.0 warns; a bad value is
    exit 2, a port taken exit 3.

Chromium and Prometheus are required (deploy/install-deps.sh installs
them): a missing one fails its test, it does not skip.
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

CSP = "default-src 'self'"
#  Where a screenshot is kept when TASKMILL_SCREENSHOT names a file (the
#  README's docs/dashboard.png is made this way).
SCREENSHOT_ENV = "TASKMILL_SCREENSHOT"


def program(name):
    path = shutil.which(name) or ("/usr/bin/" + name if os.access("/usr/bin/" + name, os.X_OK)
                                  else None)
    h.check(path is not None, "%s is not installed: deploy/install-deps.sh installs it" % name)
    return path


def request(port, path, method="GET", body=None, headers=None, timeout=5.0):
    """One request on a new connection: (status, headers as a dict with
    lower-case names, body bytes)."""
    conn = http.client.HTTPConnection(h.HOST, port, timeout=h.scaled(timeout))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, data
    finally:
        conn.close()


def get_json(port, path):
    status, headers, body = request(port, path)
    h.check_eq(status, 200, "GET %s status" % path)
    return json.loads(body)


def start_http_master(env, ports, job, http_port, extra=()):
    out, summary = env.path("out.jsonl"), env.path("summary.json")
    master = env.start_master(ports, job, out=out, summary=summary,
                              extra=["--http", "127.0.0.1:%d" % http_port, "--quiet"] + list(extra))
    h.wait_for(lambda: h.is_listening(http_port), h.scaled(10), "the HTTP port to listen")
    return master, out, summary


def admin_status(ports):
    import zmq
    ctx = zmq.Context()
    try:
        dealer = ctx.socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.connect(h.Ports.ep(ports.admin))
        dealer.send(b'{"cmd": "status"}')
        h.check(dealer.poll(int(h.scaled(5) * 1000)), "no answer from the admin endpoint")
        text = dealer.recv()
        dealer.close()
        return text
    finally:
        ctx.destroy(linger=0)


def metric_value(text, series):
    """The value of one sample line (name and labels exactly as written)."""
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.split()[-1])
    h.fail("no series %s in /metrics:\n%s" % (series, text[:2000]))


#  Long tasks go first in these jobs: a worker thread holds the results it
#  finished but has not sent yet while it runs its next task, so echo
#  results finished just before a long sleep on the same thread would wait
#  for it (see the report of issue 9's HTTP part).
def send_junk(port, more=()):
    """Bytes that are not HTTP, a request line too long to take, and more,
    each on a connection of its own: an error comes back or nothing."""
    for junk in (b"\x00\xff" * 100 + b"\r\n\r\n", b"GET " + b"/a" * 20000 + b" HTTP/1.1\r\n\r\n") \
            + tuple(more):
        sock = socket.create_connection((h.HOST, port), timeout=0.5)
        try:
            sock.sendall(junk)
            sock.recv(100)
        except OSError:
            pass
        sock.close()


def waiting_job(env, n, wait_ms):
    """One sleep that ends TIMEOUT after wait_ms, then n echo tasks: the
    master stays up that long with every other count final."""
    tasks = [{"id": "last", "type": "sleep", "payload": "600000", "timeout_ms": wait_ms,
              "retries": 0}]
    tasks += [{"id": "e%d" % i, "type": "echo", "payload": "x%d" % i} for i in range(n)]
    return env.write_job("job.jsonl", tasks)


# --------------------------------------------------------------------------

def test_api_status_is_the_admin_snapshot(env):
    n = 400
    ports, http_port = h.Ports(), h.free_ports(1)[0]
    job = env.write_job("job.jsonl", [{"id": "s%d" % i, "type": "sleep", "payload": "10"}
                                      for i in range(n)])
    master, out, summary = start_http_master(env, ports, job, http_port)
    workers = {wid: env.start_worker(ports, threads=threads, extra=["--id", wid, "--once"])
               for wid, threads in (("alpha", 2), ("beta", 3))}
    h.wait_for(lambda: len(get_json(http_port, "/api/status")["workers"]) == 2
               and h.count_lines(out) >= 30, h.scaled(20), "both workers and 30 results")
    #  Both are served from the tick's snapshot as is: asked within one
    #  tick, they are the same bytes.
    same = None
    for _ in range(30):
        from_http = request(http_port, "/api/status")[2]
        from_admin = admin_status(ports)
        if from_http == from_admin:
            same = from_http
            break
    h.check(same is not None, "/api/status never equalled the admin reply in 30 tries:\n%s\n%s"
            % (h.short(from_http), h.short(from_admin)))
    status = json.loads(same)
    for key in ("job", "workers", "failures", "counters"):
        h.check(key in status, "/api/status lacks %r" % key)
    job = status["job"]
    h.check_eq(job["done"], sum(job["by_status"].values()), "done against the sum by status")
    by_id = {w["id"]: w for w in status["workers"]}
    for wid, proc in workers.items():
        h.check(wid in by_id, "worker %s not in /api/status: %s" % (wid, sorted(by_id)))
        h.check_eq(by_id[wid]["pid"], proc.pid, "pid of %s" % wid)
        h.check_eq(by_id[wid]["state"], "live", "state of %s" % wid)
    for key in ("p50", "p90", "p99", "max"):
        h.check(isinstance(job["latency_us"][key], int), "latency_us.%s: %s" % (key, job["latency_us"]))
    h.check(isinstance(job["rate_history"], list), "rate_history: %s" % h.short(job["rate_history"]))
    env.note("same snapshot on both: done %d, %d bytes" % (job["done"], len(same)))
    h.check_eq(master.wait_exit(h.scaled(30), "master"), 0, "master exit status")
    h.check_exactly_once(h.read_results(out), n)


def test_metrics_pass_promtool_and_match_the_summary(env):
    promtool = program("promtool")
    n = 300
    ports, http_port = h.Ports(), h.free_ports(1)[0]
    master, out, summary = start_http_master(env, ports, waiting_job(env, n, 3000), http_port)
    env.start_worker(ports, threads=2, extra=["--once"])
    h.wait_for(lambda: h.count_lines(out) >= n, h.scaled(20), "%d echo results" % n)

    def scraped():
        status, headers, body = request(http_port, "/metrics")
        h.check_eq(status, 200, "GET /metrics status")
        text = body.decode("utf-8")
        return text if metric_value(text, 'taskmill_tasks_total{status="ok"}') == n else None
    text = h.wait_for(scraped, h.scaled(5), "/metrics to count %d ok" % n)
    h.check(master.alive(), "the master ended before the scrape")
    path = env.path("metrics.txt")
    with open(path, "w") as f:
        f.write(text)
    with open(path) as f:
        check = subprocess.run([promtool, "check", "metrics"], stdin=f, capture_output=True,
                               text=True, timeout=30)
    h.check_eq(check.returncode, 0, "promtool check metrics exit status (%s%s)"
               % (check.stdout.strip(), check.stderr.strip()))
    for name in ("taskmill_tasks_total", "taskmill_task_retries_total",
                 "taskmill_leases_expired_total", "taskmill_results_dropped_total",
                 "taskmill_tasks_in_flight", "taskmill_tasks_queued", "taskmill_workers",
                 "taskmill_task_duration_seconds", "taskmill_task_latency_seconds",
                 "taskmill_job_info"):
        h.check("# HELP %s " % name in text and "# TYPE %s " % name in text,
                "no # HELP and # TYPE for %s" % name)
    h.check_eq(metric_value(text, "taskmill_task_latency_seconds_count"), n, "latency count")
    h.check_eq(metric_value(text, "taskmill_task_duration_seconds_count"), n, "duration count")
    h.check_eq(metric_value(text, 'taskmill_task_duration_seconds_bucket{le="+Inf"}'), n,
               "duration +Inf bucket")
    h.check_eq(metric_value(text, "taskmill_tasks_in_flight"), 1, "in flight (the last task)")
    h.check_eq(metric_value(text, 'taskmill_workers{state="live"}'), 1, "live workers")
    h.check_eq(master.wait_exit(h.scaled(20), "master"), 1, "master exit status (one timeout)")
    s = h.read_summary(summary)
    h.check_eq(s["by_status"]["ok"], metric_value(text, 'taskmill_tasks_total{status="ok"}'),
               "the summary's ok against /metrics")
    h.check_eq(s["by_status"]["timeout"], 1, "the summary's timeouts")


class Prometheus:
    """A Prometheus server of the test's own: loopback, temp storage,
    scraping its targets every second. targets: one port (the job
    "taskmill"), or {job name: [ports]}."""

    def __init__(self, env, targets):
        binary = program("prometheus")
        self.port = h.free_ports(1)[0]
        if isinstance(targets, int):
            targets = {"taskmill": [targets]}
        config = env.path("prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n")
            for job, ports in targets.items():
                f.write("  - job_name: %s\n    static_configs:\n      - targets: [%s]\n"
                        % (job, ", ".join("'127.0.0.1:%d'" % port for port in ports)))
        self.proc = env.start("prometheus", [
            binary, "--config.file=" + config, "--storage.tsdb.path=" + env.path("tsdb"),
            "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn"])

    def get(self, path):
        try:
            status, _, body = request(self.port, path, timeout=2)
        except OSError:
            return None, None
        return status, body

    def ready(self):
        h.check(self.proc.alive(), "prometheus exited: %s" % self.proc.stderr()[-500:])
        return self.get("/-/ready")[0] == 200

    def query(self, expr):
        """The value of an instant query with one result, or None."""
        status, body = self.get("/api/v1/query?query=" + urllib.parse.quote(expr))
        if status != 200:
            return None
        reply = json.loads(body)
        results = reply.get("data", {}).get("result", [])
        return float(results[0]["value"][1]) if len(results) == 1 else None

    def stop(self):
        self.proc.stop(grace=5)


def test_prometheus_scrapes_the_master(env):
    n = 200
    ports, http_port = h.Ports(), h.free_ports(1)[0]
    prometheus = Prometheus(env, http_port)
    h.wait_for(prometheus.ready, h.scaled(20), "prometheus to be ready")
    master, out, summary = start_http_master(env, ports, waiting_job(env, n, 6000), http_port)
    env.start_worker(ports, threads=2, extra=["--once"])
    h.wait_for(lambda: h.count_lines(out) >= n, h.scaled(20), "%d echo results" % n)
    query = 'taskmill_tasks_total{status="ok"}'
    h.wait_for(lambda: prometheus.query(query) == n, h.scaled(6),
               "prometheus to read %s == %d (last: %s)" % (query, n, prometheus.query(query)))
    read = prometheus.query(query)
    up = prometheus.query('up{job="taskmill"}')
    latency_count = prometheus.query("taskmill_task_latency_seconds_count")
    h.check_eq(up, 1.0, "up{job=\"taskmill\"}")
    job_ids = prometheus.get("/api/v1/label/job_id/values")[1]
    env.note("prometheus on %d read ok=%s latency_count=%s job_id=%s"
             % (prometheus.port, read, latency_count, job_ids.decode()))
    h.check_eq(master.wait_exit(h.scaled(20), "master"), 1, "master exit status (one timeout)")
    s = h.read_summary(summary)
    h.check_eq(read, float(s["by_status"]["ok"]), "prometheus's ok count against the summary's")
    #  Once the master is gone its series are stale (no instant value), but
    #  what was scraped stays queryable.
    kept = prometheus.query("max_over_time(%s[1m])" % query)
    h.check_eq(kept, float(s["by_status"]["ok"]), "prometheus's stored ok count after the job")
    h.check(s["job_id"] in job_ids.decode(), "job_id %s not among prometheus's labels %s"
            % (s["job_id"], job_ids))
    prometheus.stop()


class TrapProxy:
    """An HTTP proxy on loopback that answers nothing: Chromium sends it
    every request that is not for loopback, and it records each one's
    first line, so that nothing leaves this host and the test sees what
    tried to."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((h.HOST, 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.requests = []
        self.done = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.done:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            conn.settimeout(1)
            try:
                line = conn.recv(4096).split(b"\r\n", 1)[0].decode("latin-1")
                self.requests.append(line)
            except OSError:
                pass
            conn.close()

    def hosts(self):
        out = []
        for line in self.requests:
            #  A connection closed before its request line names nowhere.
            if not line.strip():
                continue
            parts = line.split()
            target = parts[1] if len(parts) > 1 else ""
            host = urllib.parse.urlsplit(target).hostname if "://" in target \
                else target.rsplit(":", 1)[0]
            out.append(host or line)
        return out

    def close(self):
        self.done = True
        self.thread.join(5)
        self.sock.close()


#  Hosts Chromium itself calls (component updates, time, accounts) even
#  with background networking off; the page would name others.
CHROMIUM_OWN = re.compile(r"(^|\.)(google\.com|googleapis\.com|gvt1\.com|gstatic\.com)$")


def chromium(env, proxy, url, *args):
    binary = program("chromium")
    argv = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--user-data-dir=" + tempfile.mkdtemp(prefix="chromium-", dir=env.tmp),
            "--proxy-server=http://%s:%d" % (h.HOST, proxy.port),
            "--virtual-time-budget=3000"] + list(args) + [url]
    p = env.run("chromium", argv, h.scaled(60))
    h.check_eq(p.rc, 0, "chromium exit status (%s)" % p.stderr()[-300:])
    return p


def test_dashboard_renders_in_chromium(env):
    n = 60
    ports, http_port = h.Ports(), h.free_ports(1)[0]
    tasks = [{"id": "long%d" % i, "type": "sleep", "payload": "60000", "timeout_ms": 0}
             for i in range(2)]
    tasks += [{"id": "e%d" % i, "type": "echo", "payload": "x"} for i in range(n)]
    tasks.append({"id": "<b>x</b>", "type": "no-such-type", "retries": 0})
    job = env.write_job("job.jsonl", tasks)
    master, out, summary = start_http_master(env, ports, job, http_port,
                                             extra=["--worker-timeout", "60000"])
    alpha = env.start_worker(ports, threads=3, extra=["--id", "alpha"])
    h.wait_for(lambda: get_json(http_port, "/api/status")["job"]["done"] == n + 1,
               h.scaled(20), "the echo tasks and the failure to be final")
    frozen = env.start_worker(ports, threads=1, extra=["--id", "frozen"])
    h.wait_for(lambda: any(w["id"] == "frozen" and w["state"] == "live" and w["pid"] == frozen.pid
                           for w in get_json(http_port, "/api/status")["workers"]),
               h.scaled(10), "the second worker to join and send a heartbeat")
    frozen.signal(signal.SIGSTOP)
    h.wait_for(lambda: any(w["id"] == "frozen" and w["last_heard_s"] > 2.3
                           for w in get_json(http_port, "/api/status")["workers"]),
               h.scaled(10), "the stopped worker to be silent for two heartbeats")
    #  Nothing the page loads names another origin (the SVG namespace is a
    #  name, not a request).
    for path in ("/", "/dashboard.js", "/dashboard.css", "/favicon.svg"):
        body = request(http_port, path)[2].decode("utf-8")
        urls = [u for u in re.findall(r"[a-z]+://[^\s\"')]+", body) if u != "http://www.w3.org/2000/svg"]
        h.check(not urls, "%s names other origins: %s" % (path, urls))
    proxy = TrapProxy()
    try:
        url = "http://%s:%d/" % (h.HOST, http_port)
        dom = chromium(env, proxy, url, "--dump-dom").stdout()
        shot = os.environ.get(SCREENSHOT_ENV) or env.path("dashboard.png")
        chromium(env, proxy, url, "--screenshot=" + shot, "--window-size=1200,1340",
                 "--hide-scrollbars")
    finally:
        proxy.close()
    status = get_json(http_port, "/api/status")
    job_status = status["job"]

    def text_of(element_id):
        m = re.search(r'id="%s"[^>]*>([^<]*)<' % re.escape(element_id), dom)
        h.check(m is not None, "no element #%s in the DOM:\n%s" % (element_id, dom[:3000]))
        return m.group(1)
    h.check_eq(text_of("done"), "{:,}".format(n + 1), "done on the page")
    h.check_eq(text_of("total"), "{:,}".format(n + 3), "total on the page")
    h.check_eq(text_of("count-ok"), "ok %d" % n, "ok on the page")
    h.check_eq(text_of("count-no_handler"), "no handler 1", "no_handler on the page")
    h.check_eq(text_of("job-id"), job_status["id"], "job id on the page")
    ids = re.findall(r'class="worker-id">([^<]*)<', dom)
    h.check_eq(sorted(ids), ["alpha", "frozen"], "workers on the page")
    rows = re.findall(r'<tr class="worker ([^"]*)">(.*?)</tr>', dom)
    stale = {re.search(r'class="worker-id">([^<]*)<', row).group(1): "stale" in classes
             for classes, row in rows}
    h.check_eq(stale, {"alpha": False, "frozen": True}, "red marks (stale workers)")
    #  The failure's id is markup: the page shows it as text.
    h.check("&lt;b&gt;x&lt;/b&gt;" in dom, "the failure's id is not on the page as text")
    h.check("<b>x</b>" not in dom, "the failure's id became markup")
    h.check(re.search(r"no.such.type", dom), "the failure's type is not on the page")
    check_report_panels(dom, status, n)
    h.check(os.path.getsize(shot) > 1000, "screenshot %s is %d bytes" % (shot, os.path.getsize(shot)))
    with open(shot, "rb") as f:
        h.check(f.read(8) == b"\x89PNG\r\n\x1a\n", "screenshot is not a PNG")
    foreign = [host for host in proxy.hosts() if not CHROMIUM_OWN.search(host)]
    env.note("page: done %s, workers %s; screenshot %s (%d bytes); chromium's own requests "
             "trapped: %s" % (text_of("done"), ids, shot, os.path.getsize(shot),
                              sorted(set(proxy.hosts()))))
    h.check(not foreign, "requests beyond loopback not from Chromium itself: %s" % proxy.requests)
    h.check(master.alive(), "the master ended during the test")
    #  The long tasks would hold the workers' drain for a minute.
    frozen.signal(signal.SIGKILL)
    alpha.signal(signal.SIGKILL)


def check_report_panels(dom, status, n):
    """The per-type table, the longest-running list, the percentiles and
    the histogram show the job's real values (the long sleeps are still
    running, every other task is final)."""
    types = {m.group(1): (int(m.group(2).replace(",", "")), int(m.group(3).replace(",", "")))
             for m in re.finditer(r'class="type-name">([^<]*)</td><td class="num type-done">([^<]*)'
                                  r'</td><td class="num type-ok">([^<]*)<', dom)}
    h.check_eq(types, {"echo": (n, n), "no-such-type": (1, 0)}, "per-type table (done, ok)")
    by_type = status["job"]["by_type"]
    h.check_eq({t: (v["done"], v["by_status"]["ok"]) for t, v in by_type.items()}, types,
               "per-type table against /api/status")
    running = re.findall(r'<tr class="running"><td class="num running-for">([^<]*)</td>'
                         r'<td class="num">\d+</td><td class="running-id">([^<]*)<', dom)
    h.check_eq(sorted(i for _, i in running), ["long0", "long1"], "longest running on the page")
    h.check(all(re.match(r"\d+\.\d s$", t) and float(t.split()[0]) > 0 for t, _ in running),
            "running times on the page: %s" % running)
    api_running = [t["id"] for t in status["job"]["running"]]
    h.check_eq(sorted(api_running), ["long0", "long1"], "longest running in /api/status")
    for element_id in ("p50", "pmax", "wait-p50", "wait-max", "run-p50", "run-max"):
        m = re.search(r'id="%s"[^>]*>([^<]*)<' % element_id, dom)
        h.check(m and re.match(r"[\d.]+ (µs|ms|s)$", m.group(1)), "#%s on the page: %s"
                % (element_id, m and m.group(1)))
    svg = re.search(r'<svg id="histogram".*?</svg>', dom, re.S)
    bars = re.findall(r"<title>([^<]*): ([\d,]+)</title>", svg.group(0) if svg else "")
    h.check_eq(sum(int(c.replace(",", "")) for _, c in bars), n + 1, "latency histogram's bars")
    h.check(re.search(r'id="throughput-buckets">[1-9]', dom), "no throughput buckets on the page")


def test_methods_paths_and_a_flood(env):
    n = 2000
    ports, http_port = h.Ports(), h.free_ports(1)[0]
    job = env.write_job("job.jsonl", [{"id": "s%d" % i, "type": "sleep", "payload": "2"}
                                      for i in range(n)])
    master, out, summary = start_http_master(env, ports, job, http_port)
    for path, kind in (("/", "text/html"), ("/dashboard.js", "text/javascript"),
                       ("/dashboard.css", "text/css"), ("/api/status", "application/json"),
                       ("/metrics", "text/plain; version=0.0.4")):
        status, headers, body = request(http_port, path)
        h.check_eq(status, 200, "GET %s" % path)
        h.check(headers.get("content-type", "").startswith(kind),
                "GET %s content type %s" % (path, headers.get("content-type")))
        h.check_eq(headers.get("content-security-policy"), CSP, "CSP of %s" % path)
        h.check(body, "GET %s: empty body" % path)
    for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
        for path in ("/", "/api/status", "/metrics"):
            status, headers, _ = request(http_port, path, method=method, body=b"x=1")
            h.check_eq(status, 405, "%s %s" % (method, path))
            h.check_eq(headers.get("allow"), "GET, HEAD", "Allow of a 405")
            h.check_eq(headers.get("content-security-policy"), CSP, "CSP of a 405")
    for path in ("/nope", "/api/status/x", "/api", "/metrics/", "/index.html", "/../etc/passwd"):
        status, headers, _ = request(http_port, path)
        h.check_eq(status, 404, "GET %s" % path)
        h.check_eq(headers.get("content-security-policy"), CSP, "CSP of a 404")
    status, headers, body = request(http_port, "/", method="HEAD")
    h.check_eq((status, body), (200, b""), "HEAD /")
    status, _, _ = request(http_port, "/api/status", body=b"{}",
                           headers={"Content-Type": "application/json"})
    h.check_eq(status, 400, "GET with a body")

    env.start_worker(ports, threads=2, extra=["--once"])
    h.wait_for(lambda: h.count_lines(out) >= 100, h.scaled(20), "the job to be under way")
    #  Half-open clients that never finish their request hold connections
    #  (until the 10 s timeout), not the loop; bytes that are not HTTP get
    #  an error or nothing, and their connection goes.
    idle = []
    for _ in range(20):
        sock = socket.create_connection((h.HOST, http_port), timeout=5)
        sock.sendall(b"GET /api/status HTTP/1.1\r\nHost: x\r\n")
        idle.append(sock)
    send_junk(http_port)
    counts = {"ok": 0, "other": 0, "errors": []}
    lock = threading.Lock()

    def flood(k):
        paths = ["/api/status", "/metrics", "/", "/nope", "/dashboard.js"]
        for i in range(75):
            path = paths[(i + k) % len(paths)]
            try:
                method = "POST" if i % 15 == 7 else "GET"
                status, _, _ = request(http_port, path, method=method, timeout=10)
                expected = 405 if method == "POST" else 404 if path == "/nope" else 200
                with lock:
                    counts["ok" if status == expected else "other"] += 1
            except OSError as e:
                with lock:
                    counts["errors"].append(repr(e))
    t0 = time.monotonic()
    threads = [threading.Thread(target=flood, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(h.scaled(60))
    flood_s = time.monotonic() - t0
    during = master.alive()
    for sock in idle:
        sock.close()
    h.check_eq(master.wait_exit(h.scaled(60), "master"), 0, "master exit status")
    h.check_exactly_once(h.read_results(out), n)
    s = h.read_summary(summary)
    env.note("flood: %d answered as expected, %d otherwise, %d errors in %.1f s; "
             "job of %d x 2 ms on 2 threads: %.2f s" % (counts["ok"], counts["other"],
                                                        len(counts["errors"]), flood_s, n,
                                                        s["elapsed_s"]))
    h.check_eq(counts["other"], 0, "requests answered with an unexpected status")
    h.check(not counts["errors"], "requests that failed: %s" % counts["errors"][:5])
    h.check_eq(counts["ok"], 300, "requests answered")
    h.check(during, "the job ended before the flood did (%.1f s): make it longer" % flood_s)
    #  2,000 x 2 ms on 2 threads is 2 s of sleeping, about 2.2 s here with
    #  or without --http.
    h.check(s["elapsed_s"] < h.scaled(6), "the job took %.1f s" % s["elapsed_s"])


def test_binds_loopback_unless_told(env):
    ports, http_port = h.Ports(), h.free_ports(1)[0]
    job = env.write_job("job.jsonl", [{"id": "a", "type": "echo", "payload": "x"}])
    master = env.start_master(ports, job, out=env.path("out.jsonl"),
                              extra=["--http", str(http_port), "--quiet"])
    h.wait_for(lambda: h.is_listening(http_port), h.scaled(10), "the HTTP port to listen")
    listeners = {r["local"] for r in h._proc_net_tcp()
                 if r["state"] == h.TCP_LISTEN and r["local"][1] == http_port}
    h.check_eq(listeners, {(h.HOST, http_port)}, "listening addresses of --http PORT")
    h.check("reachable beyond this host" not in master.stderr(), "a warning for loopback")
    #  The port is taken now: a second master cannot start (exit 3).
    other = h.Ports()
    taken = env.run("taken", [env.master_bin, job, "--out", env.path("out2.jsonl"), "--quiet",
                              "--http", "127.0.0.1:%d" % http_port] + other.master_args(),
                    h.scaled(10))
    h.check_eq(taken.rc, 3, "exit status with the HTTP port taken")
    h.check("http: cannot listen" in taken.stderr(), "no error naming the HTTP port")
    master.stop()
    wide = env.start_master(h.Ports(), job, out=env.path("out3.jsonl"),
                            extra=["--http", "0.0.0.0:%d" % h.free_ports(1)[0], "--quiet"],
                            name="wide")
    h.wait_for(lambda: "reachable beyond this host" in wide.stderr(), h.scaled(10),
               "a warning for an HTTP port bound beyond loopback")
    wide.stop()
    for bad in ("nope", "127.0.0.1:", "1.2.3.4:99999", "::1:80", "[::1]", "localhost:80", "-1"):
        p = env.run("bad", [env.master_bin, job, "--http", bad], h.scaled(10))
        h.check_eq(p.rc, 2, "exit status of --http %s" % bad)


if __name__ == "__main__":
    h.main([test_api_status_is_the_admin_snapshot, test_metrics_pass_promtool_and_match_the_summary,
            test_prometheus_scrapes_the_master, test_dashboard_renders_in_chromium,
            test_methods_paths_and_a_flood, test_binds_loopback_unless_told], __doc__)
