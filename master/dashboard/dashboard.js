/* taskmill dashboard: polls /api/status every second and draws it.
   Worker ids, hosts, task ids and errors are data from the wire or the
   job: they reach the page only through textContent and SVG attributes
   set to numbers, never as markup. */
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const STATUSES = ["ok", "failed", "timeout", "no_handler", "rejected"];
  const POLL_MS = 1000;
  const STALE_S = 2;          // two heartbeats

  const $ = (id) => document.getElementById(id);
  const num = (value) => (Number.isFinite(Number(value)) ? Number(value) : 0);
  const int = (value) => Math.round(num(value)).toLocaleString("en-US");

  function setText(id, value) {
    $(id).textContent = String(value);
  }

  function duration(us) {
    const v = num(us);
    if (v < 1000) return v.toFixed(0) + " µs";
    if (v < 1e6) return (v / 1000).toFixed(v < 1e4 ? 2 : 1) + " ms";
    return (v / 1e6).toFixed(v < 1e7 ? 2 : 1) + " s";
  }

  function seconds(s) {
    const v = num(s);
    if (v < 60) return v.toFixed(1) + " s";
    if (v < 3600) return Math.floor(v / 60) + " min " + Math.round(v % 60) + " s";
    return Math.floor(v / 3600) + " h " + Math.round((v % 3600) / 60) + " min";
  }

  function svgElement(name, attributes) {
    const element = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
    return element;
  }

  function cell(row, value, className) {
    const td = document.createElement("td");
    td.textContent = String(value);
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  function drawProgress(job) {
    const byStatus = job.by_status || {};
    const done = num(job.done);
    const open = num(job.open);
    const total = job.total === null || job.total === undefined ? null : num(job.total);
    //  Until the whole job is read, the bar is of what is known so far.
    const whole = Math.max(total === null ? done + open : total, 1);
    const bar = $("bar");
    bar.replaceChildren();
    let x = 0;
    const segments = STATUSES.map((s) => [s, num(byStatus[s])]).concat([["open", open]]);
    for (const [name, count] of segments) {
      if (count <= 0) continue;
      const width = (count / whole) * 1000;
      const rect = svgElement("rect", { x: x, y: 0, width: width, height: 20, class: "s-" + name });
      const title = svgElement("title", {});
      title.textContent = name + ": " + int(count);
      rect.appendChild(title);
      bar.appendChild(rect);
      x += width;
    }
    const legend = $("legend");
    legend.replaceChildren();
    for (const [name, count] of segments) {
      const li = document.createElement("li");
      li.className = "l-" + name;
      li.id = "count-" + name;
      li.textContent = (name === "open" ? "in progress" : name.replace("_", " ")) + " " + int(count);
      legend.appendChild(li);
    }
    setText("done", int(done));
    setText("total", total === null ? "? (still reading)" : int(total));
    setText("percent", total ? "(" + ((100 * done) / total).toFixed(1) + "%)" : "");
    document.title = "taskmill: " + int(done) + (total === null ? "" : " of " + int(total));
  }

  function drawFigures(job) {
    setText("job-id", job.id || "");
    setText("in-flight", int(job.in_flight));
    setText("queued", int(job.queued));
    setText("rate-now", int(job.rate_now) + "/s");
    setText("rate-avg", int(job.rate_avg) + "/s");
    setText("elapsed", seconds(job.elapsed_s));
    setText("eta", job.eta_s === null || job.eta_s === undefined ? "–" : seconds(job.eta_s));
  }

  function drawPercentiles(job) {
    const rows = [["latency_us", ["p50", "p90", "p99", "pmax"]],
                  ["queue_wait_us", ["wait-p50", "wait-p90", "wait-p99", "wait-max"]],
                  ["run_time_us", ["run-p50", "run-p90", "run-p99", "run-max"]]];
    for (const [key, ids] of rows) {
      const p = job[key] || {};
      ["p50", "p90", "p99", "max"].forEach((q, i) => setText(ids[i], duration(p[q])));
    }
  }

  //  Bars of equal width, one per /metrics bucket (100 µs .. 300 s, +Inf).
  function drawHistogram(histogram) {
    const bounds = ((histogram || {}).le_us || []).map(num);
    const counts = ((histogram || {}).counts || []).map(num);
    const svg = $("histogram");
    svg.replaceChildren();
    const peak = Math.max(1, ...counts);
    const width = 600 / Math.max(counts.length, 1);
    const label = (i) => (i < bounds.length ? "≤ " + duration(bounds[i])
                                            : "> " + duration(bounds[bounds.length - 1]));
    counts.forEach((count, i) => {
      const height = count > 0 ? Math.max(2, (count / peak) * 96) : 0;
      const rect = svgElement("rect", { x: i * width + 1, y: 100 - height, width: width - 2,
                                        height: height });
      const title = svgElement("title", {});
      title.textContent = label(i) + ": " + int(count);
      rect.appendChild(title);
      svg.appendChild(rect);
    });
    const used = counts.map((c, i) => (c > 0 ? i : -1)).filter((i) => i >= 0);
    const most = counts.indexOf(Math.max(0, ...counts));
    setText("histogram-range", used.length === 0 ? "no results yet"
            : label(used[0]) + " to " + label(used[used.length - 1]) + ", most " + label(most)
              + " (" + int(counts[most]) + ")");
  }

  function drawThroughput(throughput) {
    const width_s = Math.max(1, num((throughput || {}).bucket_s));
    const rates = ((throughput || {}).counts || []).map((c) => num(c) / width_s);
    const svg = $("throughput");
    svg.replaceChildren();
    const peak = Math.max(1, ...rates);
    const step = 600 / Math.max(rates.length, 1);
    rates.forEach((rate, i) => {
      const height = (rate / peak) * 76;
      svg.appendChild(svgElement("rect", { x: i * step, y: 80 - height,
                                           width: Math.max(step - 0.5, 0.5), height: height,
                                           class: "tp" }));
    });
    setText("throughput-buckets", rates.length);
    setText("throughput-width", width_s);
    setText("throughput-peak", int(Math.max(0, ...rates)));
  }

  function drawRunning(running) {
    const list = Array.isArray(running) ? running : [];
    const body = $("running").tBodies[0];
    body.replaceChildren();
    for (const t of list) {
      const row = document.createElement("tr");
      row.className = "running";
      cell(row, seconds(t.running_s), "num running-for");
      cell(row, num(t.seq), "num");
      cell(row, t.id || "", "running-id");
      cell(row, t.type || "");
      cell(row, t.worker || "");
      cell(row, num(t.attempt), "num");
      body.appendChild(row);
    }
    setText("running-count", list.length ? "(" + list.length + ")" : "(none)");
  }

  function drawTypes(byType) {
    const entries = Object.entries(byType || {}).sort((a, b) => num(b[1].done) - num(a[1].done));
    const body = $("types").tBodies[0];
    body.replaceChildren();
    for (const [name, t] of entries) {
      const done = num(t.done);
      const ok = num((t.by_status || {}).ok);
      const busy = num(t.busy_s);
      const row = document.createElement("tr");
      row.className = "type";
      cell(row, name, "type-name");
      cell(row, int(done), "num type-done");
      cell(row, int(ok), "num type-ok");
      cell(row, int(done - ok), "num type-not-ok");
      cell(row, seconds(busy), "num");
      cell(row, done > 0 ? duration((busy * 1e6) / done) : "–", "num");
      body.appendChild(row);
    }
  }

  function drawSparkline(history) {
    const rates = (Array.isArray(history) ? history : []).map(num);
    const spark = $("spark");
    spark.replaceChildren();
    const peak = Math.max(1, ...rates);
    setText("spark-peak", int(Math.max(0, ...rates)));
    setText("spark-now", int(rates.length ? rates[rates.length - 1] : 0));
    if (rates.length < 2) return;
    const step = 600 / (rates.length - 1);
    const points = rates.map((r, i) => (i * step).toFixed(1) + "," + (78 - (r / peak) * 74).toFixed(1));
    spark.appendChild(svgElement("polygon", { points: "0,80 " + points.join(" ") + " 600,80" }));
    spark.appendChild(svgElement("polyline", { points: points.join(" ") }));
  }

  function drawWorkers(workers) {
    const list = Array.isArray(workers) ? workers : [];
    const body = $("workers").tBodies[0];
    body.replaceChildren();
    for (const w of list) {
      const row = document.createElement("tr");
      const heard = num(w.last_heard_s);
      const stale = w.state !== "lost" && heard > STALE_S;
      row.className = "worker " + String(w.state || "") + (stale ? " stale" : "");
      const mark = cell(row, "●", "mark" + (stale ? " stale" : w.state === "lost" ? " lost" : ""));
      mark.title = stale ? "not heard from for " + heard.toFixed(1) + " s" : String(w.state || "");
      cell(row, w.id || "", "worker-id");
      cell(row, w.host || "");
      cell(row, num(w.pid), "num");
      cell(row, num(w.threads_busy) + "/" + num(w.threads), "num");
      cell(row, int(w.credit), "num");
      cell(row, int(w.held), "num");
      cell(row, int(w.done), "num");
      cell(row, int(w.failed), "num");
      cell(row, heard.toFixed(1) + " s", "num");
      cell(row, w.state || "");
      body.appendChild(row);
    }
    const live = list.filter((w) => w.state === "live").length;
    setText("worker-count", live + " live of " + list.length);
  }

  function drawFailures(failures, counters) {
    const list = Array.isArray(failures) ? failures : [];
    const body = $("failures").tBodies[0];
    body.replaceChildren();
    for (const f of list) {
      const row = document.createElement("tr");
      row.className = "failure";
      cell(row, num(f.seq), "num");
      cell(row, f.id || "", "failure-id");
      cell(row, f.type || "");
      cell(row, f.status || "");
      cell(row, f.worker || "");
      cell(row, f.error || "", "error");
      body.appendChild(row);
    }
    const total = num((counters || {}).failures);
    setText("failure-count", total > list.length ? "(newest " + list.length + " of " + int(total) + ")" : "");
  }

  function drawCounters(counters) {
    const dl = $("counters");
    dl.replaceChildren();
    for (const [name, value] of Object.entries(counters || {})) {
      const div = document.createElement("div");
      const dt = document.createElement("dt");
      const dd = document.createElement("dd");
      dt.textContent = name.replace(/_/g, " ");
      dd.textContent = int(value);
      dd.id = "counter-" + name.replace(/[^a-z_]/g, "");
      div.append(dt, dd);
      dl.appendChild(div);
    }
  }

  function render(status) {
    const job = status.job || {};
    drawProgress(job);
    drawFigures(job);
    drawPercentiles(job);
    drawHistogram(job.latency_histogram);
    drawSparkline(job.rate_history);
    drawThroughput(job.throughput);
    drawRunning(job.running);
    drawTypes(job.by_type);
    drawWorkers(status.workers);
    drawFailures(status.failures, status.counters);
    drawCounters(status.counters);
  }

  function connection(up, why) {
    const badge = $("connection");
    badge.className = "connection" + (up ? "" : " down");
    badge.textContent = up ? "live" : "no answer from the master" + (why ? ": " + why : "");
  }

  //  The next poll is timed from the end of this one: a slow master is
  //  never asked twice at once.
  async function poll() {
    try {
      const response = await fetch("/api/status", { cache: "no-store" });
      if (!response.ok) throw new Error("HTTP " + response.status);
      render(await response.json());
      connection(true);
    } catch (error) {
      connection(false, error && error.message ? error.message : "");
    } finally {
      setTimeout(poll, POLL_MS);
    }
  }

  poll();
})();
