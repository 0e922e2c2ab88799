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
    const latency = job.latency_us || {};
    setText("p50", duration(latency.p50));
    setText("p90", duration(latency.p90));
    setText("p99", duration(latency.p99));
    setText("pmax", duration(latency.max));
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
    drawSparkline(job.rate_history);
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
