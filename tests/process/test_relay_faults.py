#!/usr/bin/env python3
"""Latency and resets on one worker's path (issue 11, the multi-host test's
second half): a 20,000-task job where one worker reaches the master only
through a relay that delays everything 50 ms each way and resets
connections.

The network is the test's own (netns.py), named after this script's pid:

    tm<pid>m  (master, 10.250.78.1)     --veth-- +
    tm<pid>w1 (worker 1, 10.250.78.11)  --veth-- + tm<pid>b (bridge br0)
    tm<pid>r  (relay host, 10.250.78.2) --veth-- +
        | veth, 10.250.79.1
    tm<pid>w2 (worker 2, 10.250.79.2)

Worker 2 has no route to the master (the test checks): it is given the
relay host's 10.250.79.1 as its master, and relay.py there (asyncio, a
proxy at the socket level) relays its tasks, results and control
connections to 10.250.78.1. The relay:
- delays: where the kernel has netem (`tc qdisc add ... netem delay 50ms`
  on both ends of the relay-worker link: each way), netem does it and the
  relay only relays; the kernels here have none, so the relay delays every
  chunk it forwards by 50 ms, each direction a delay line (data keeps
  flowing, 50 ms late; not stop-and-wait). The test's output says which.
- resets 1 % of connections: each connection is doomed with probability
  0.01 from a seeded RNG of its port's own, and a doomed one is reset
  (SO_LINGER 0 and close on both its sockets: an RST to the worker and
  one to the master) 0.5 to 2.5 s after it was accepted. A worker makes
  three connections, so at 1 % most runs would see none: the test takes
  the first seed that dooms the first tasks connection and the first
  results connection (relay.first_seed), so that every run resets both
  mid-job, the tasks connection (tasks in flight lost with it) and the
  results connection (results and heartbeats lost with it); the
  connections made again after a reset draw at 1 %.

Master --worker-timeout 1000 --timeout 2000 --lease-grace 500 --min-workers
2, workers 2 threads --heartbeat 200; the job is sleep 1 and 2 ms
alternately (10,000 tasks in the sanitizer build). Checked: every seq
exactly once, every task ok, master exit 0, the summary agrees; the job
ends within JOB_LIMIT_S of both workers joining; worker 2 ran at least
half as many tasks as worker 1 (its credit covers the 100 ms round trip;
worker/credit.h), and after each reset it ran tasks dispatched after it
(within REJOIN_S), unless the job ended first within REJOIN_S; the
relay reset the first tasks and results connections while the job ran,
and the kernels agree: for each reset made while the job ran, the relay
host's namespace sent two RSTs (its TCP OutRsts in /proc/net/snmp), and
in worker 2's and in the master's namespace an established connection
ended by a reset (EstabResets); with the relay delaying, no chunk left it in under 50 ms
and its delay lines held several chunks at once (a stop-and-wait relay
holds one). Notes give the delay used, each reset and how long worker 2
produced no result after it (its stall), the master's lines on worker 2,
tasks per worker, throughput overall and per worker, and the summary's
reissued / retries / leases_expired / duplicates_dropped. Every worker,
stopped with SIGTERM, exits 0 or 3; the relay exits 0.

Needs root and iproute2; where namespaces are refused the test is skipped
with the reason. The namespaces (and every link in them) are deleted when
the test ends, on failure, on SIGTERM and at interpreter exit.
"""

import json
import os
import re
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import netns  # noqa: E402
import relay  # noqa: E402

h.SCRIPT_DEADLINE_S = 100

N_TASKS = 20000
N_TASKS_SANITIZED = 10000   # the sanitizer pass checks memory, not scale
SLEEP_MS = ("1", "2")       # alternately
THREADS = 2
FAST_MASTER = ["--worker-timeout", "1000", "--timeout", "2000", "--lease-grace", "500",
               "--min-workers", "2"]
FAST_WORKER = ["--heartbeat", "200"]

DELAY_MS = 50
RESET_RATE = 0.01
RESET_AFTER = "0.5,2.5"     # seconds after a doomed connection was accepted
#  The connections whose first one is reset in every run.
FORCED = (netns.PORTS["tasks"], netns.PORTS["results"])

JOB_LIMIT_S = 30.0      # both workers joined to exit; ~9 s here
MIN_RATIO = 0.5         # the relayed worker's tasks against the direct one's:
                        # with a round trip's worth of credit it runs nearly
                        # as fast (0.9 here); when its first echo did not
                        # set the round trip, a third as fast (0.33)
REJOIN_S = 5.0          # from a reset to worker 2's next task dispatched after it
NEW_SEQ_MARGIN = 1000   # seqs past the highest written at a reset: beyond what
                        # was in flight then

SUBNET = "10.250.78"
MASTER_ADDR = SUBNET + ".1"
PATH_SUBNET = "10.250.79"
RELAY_ADDR = PATH_SUBNET + ".1"     # the relay host on worker 2's link
RELAYED_ADDR = PATH_SUBNET + ".2"


def build_network(net):
    net.add_bridge()
    net.master = net.add_host("m", MASTER_ADDR)
    net.direct = net.add_host("w1", SUBNET + ".11")
    net.relay = net.add_host("r", SUBNET + ".2")
    net.relayed = net.add_namespace("w2")
    net.link(net.relay, "eth1", RELAY_ADDR, net.relayed, "eth0", RELAYED_ADDR)
    h.check(not net.reaches(net.relayed, MASTER_ADDR),
            "test setup: worker 2's namespace has a route to the master")
    h.check(net.reaches(net.relayed, RELAY_ADDR), "test setup: worker 2 cannot reach the relay")


def choose_delay(net):
    """netem on both ends of the relay-worker link where the kernel has it
    (the relay then only relays and resets); else the relay's delay lines.
    Returns the relay's --delay-ms and a line saying which."""
    why = net.netem_delay(net.relay, "eth1", DELAY_MS)
    if why is None:
        why = net.netem_delay(net.relayed, "eth0", DELAY_MS)
        h.check(why is None, "netem took the relay's end of the link but not worker 2's: %s" % why)
        return 0, "netem (%d ms on each end of the relay-worker link)" % DELAY_MS
    return DELAY_MS, "the relay's delay lines, %d ms each way (no netem here: %s)" % (DELAY_MS, why)


def start_relay(env, net, delay_ms, seed):
    argv = [sys.executable, relay.__file__, "--listen", RELAY_ADDR, "--upstream", MASTER_ADDR,
            "--ports", ",".join(str(p) for p in netns.WORKER_PORTS), "--delay-ms", str(delay_ms),
            "--reset-rate", str(RESET_RATE), "--seed", str(seed), "--reset-after", RESET_AFTER]
    proc = netns.start_in(env, net, net.relay, "relay", argv)
    h.wait_for(lambda: "listening on " in proc.stdout() or (
        not proc.alive() and h.fail("the relay exited (status %s): %s"
                                    % (proc.poll(), proc.stderr()[-500:]))),
        h.scaled(10), "the relay to listen")
    return proc


def relay_events(proc, kind):
    """The relay's lines of one kind ("reset", "accept", ...) so far."""
    return [l for l in proc.stdout().splitlines() if l.startswith(kind + " ")]


def relay_stats(proc):
    lines = [l for l in proc.stdout().splitlines() if l.startswith("stats ")]
    h.check(lines, "the relay printed no stats line at exit (status %s): %s"
            % (proc.rc, proc.stderr()[-500:]))
    return json.loads(lines[-1][len("stats "):])


def test_relay_delay_and_resets(env):
    with netns.network(env) as net:
        build_network(net)
        relay_delay, delay_how = choose_delay(net)
        env.note("delay: " + delay_how)
        seed = relay.first_seed(RESET_RATE, FORCED)
        n = N_TASKS if h.time_scale() == 1 else N_TASKS_SANITIZED
        job = [{"id": "s%d" % i, "type": "sleep", "payload": SLEEP_MS[i % len(SLEEP_MS)]}
               for i in range(n)]
        job_path = env.write_job("job.jsonl", job)
        run(env, net, job_path, n, relay_delay, seed)


def run(env, net, job_path, n, relay_delay, seed):
    out, summary_path = env.path("results.jsonl"), env.path("summary.json")
    rsts_before = {ns: net.tcp_counters(ns) for ns in (net.relay, net.relayed, net.master)}
    master = netns.start_master(env, net, net.master, MASTER_ADDR, "relay", job_path, out,
                                summary_path, FAST_MASTER)
    relay_proc = start_relay(env, net, relay_delay, seed)
    direct, relayed = "relay-w1", "relay-w2"
    workers = [
        (direct, netns.start_in(env, net, net.direct, direct, [
            env.worker_bin, MASTER_ADDR, "--threads", str(THREADS), "--id", direct] + FAST_WORKER)),
        (relayed, netns.start_in(env, net, net.relayed, relayed, [
            env.worker_bin, RELAY_ADDR, "--threads", str(THREADS), "--id", relayed] + FAST_WORKER))]
    tail = h.ResultsTail(out)
    resets = []         # (relay line, time seen, max seq written then)
    first_after = {}    # index in resets -> time of worker 2's next result
    rejoined = {}       # index in resets -> time of its first task dispatched after
    try:
        for wid, _ in workers:
            netns.wait_joined(master, wid, "relay")
        t_joined = time.monotonic()
        deadline = t_joined + h.scaled(JOB_LIMIT_S)
        while master.exited_within(0.05) is None:
            mine = [r for r in tail.poll() if r.get("worker") == relayed]
            now = time.monotonic()
            for i, (_, t_seen, max_seq) in enumerate(resets):
                if mine and i not in first_after:
                    first_after[i] = now - t_seen
                if i not in rejoined and any(r.get("seq", 0) > max_seq + NEW_SEQ_MARGIN
                                             for r in mine):
                    rejoined[i] = now - t_seen
            for line in relay_events(relay_proc, "reset")[len(resets):]:
                resets.append((line, now, tail.max_seq))
            if now > deadline:
                h.fail("the job stalled: the master was still running %.1f s after both workers "
                       "joined (limit %.0f s); %d results written"
                       % (now - t_joined, h.scaled(JOB_LIMIT_S), len(h.complete_lines(out))))
        t_exit = time.monotonic()
        rc = master.poll()
        tail.poll()
    finally:
        h.stop_all([w for _, w in workers])
        h.stop_all([relay_proc])
    rsts = {ns: {k: v - rsts_before[ns][k] for k, v in net.tcp_counters(ns).items()}
            for ns in rsts_before}
    elapsed = t_exit - t_joined
    results = h.read_results(out)
    summary = h.read_summary(summary_path)
    stats = relay_stats(relay_proc)
    counts = h.per_worker(results)

    env.note("relay: seed %d; connections accepted per port %s; %d reset by it, %d resets "
             "passed on from a peer; %s bytes and %s chunks (up: worker to master); held %.1f / "
             "%.1f / %.1f ms (min / mean / max); deepest delay line %d chunks"
             % (seed, stats["accepted"], len(stats["resets"]), stats["peer_resets"],
                stats["bytes"], stats["chunks"], stats["hold_ms"]["min"],
                stats["hold_ms"]["mean"], stats["hold_ms"]["max"], stats["peak_line_chunks"]))
    for i, (line, t_seen, _) in enumerate(resets):
        env.note("%s, %.1f s into the job: %s's next result %s after it, its first task "
                 "dispatched after it %s after it"
                 % (line, t_seen - t_joined, relayed,
                    "%.2f s" % first_after[i] if i in first_after else "never",
                    "%.2f s" % rejoined[i] if i in rejoined else "never"))
    env.note("kernel TCP counters during the run: relay host OutRsts %d; EstabResets: relay "
             "host %d, worker 2 %d, master %d"
             % (rsts[net.relay]["OutRsts"], rsts[net.relay]["EstabResets"],
                rsts[net.relayed]["EstabResets"], rsts[net.master]["EstabResets"]))
    env.note("master lines on %s: %s" % (relayed, h.short(
        [l.split(" ", 4)[-1] for l in master.stderr().splitlines()
         if relayed in l and not l.startswith("workers:")], 600)))
    env.note("%.1f s from both joined to exit; master exit %s; %.0f tasks/s; tasks per worker %s "
             "(%s); %s; worker exit statuses after SIGTERM %s, relay %s"
             % (elapsed, rc, len(results) / elapsed if elapsed > 0 else 0, counts,
                ", ".join("%s %.0f/s" % (w, c / elapsed) for w, c in counts.items()),
                h.summary_counters(summary), [w.rc for _, w in workers], relay_proc.rc))

    by_seq = h.check_exactly_once(results, n)
    h.check_all_ok(results, "run through the relay")
    h.check(max(r["attempts"] for r in by_seq.values()) <= 3, "attempts above 3")
    h.check_eq(rc, 0, "master exit status")
    h.check_summary(summary, results, exit_status=0)

    h.check(all(stats["accepted"][str(p)] >= 1 for p in netns.WORKER_PORTS),
            "worker 2 did not connect through the relay on every port: %s" % stats["accepted"])
    h.check(counts.get(relayed, 0) >= MIN_RATIO * counts.get(direct, 0),
            "%s, behind the relay, ran %d tasks, under %.0f %% of the %d that %s ran: its credit "
            "does not cover the round trip" % (relayed, counts.get(relayed, 0), MIN_RATIO * 100,
                                              counts.get(direct, 0), direct))
    ports_reset = {int(re.search(r" port (\d+) ", l).group(1)) for l, _, _ in resets}
    h.check(set(FORCED) <= ports_reset, "the relay did not reset a connection on each of ports "
            "%s while the job ran (it reset: %s)" % (FORCED, [l for l, _, _ in resets]))
    for i, (line, t_seen, _) in enumerate(resets):
        h.check(i in rejoined or t_exit - t_seen <= REJOIN_S,
                "%s ran no task dispatched after \"%s\", although the job ran %.1f s more"
                % (relayed, line, t_exit - t_seen))
        h.check(i not in rejoined or rejoined[i] <= REJOIN_S,
                "%s took %.1f s after \"%s\" to run a task dispatched after it"
                % (relayed, rejoined.get(i, 0), line))
    #  The kernels' view of the resets made while the job ran (both ends
    #  were open then): an RST to each side, and an established
    #  connection ended by it on each side.
    during = len(resets)
    h.check(rsts[net.relay]["OutRsts"] >= 2 * during,
            "the relay host's kernel sent %d RSTs for %d resets (two each)"
            % (rsts[net.relay]["OutRsts"], during))
    for ns, who in ((net.relayed, "worker 2"), (net.master, "the master")):
        h.check(rsts[ns]["EstabResets"] >= during, "%d established connections in %s's "
                "namespace ended by a reset (EstabResets), for %d resets"
                % (rsts[ns]["EstabResets"], who, during))
    if relay_delay:
        h.check(stats["hold_ms"]["min"] >= DELAY_MS * 0.99,
                "the relay let a chunk through after %.1f ms (delay %d ms)"
                % (stats["hold_ms"]["min"], DELAY_MS))
        h.check(stats["peak_line_chunks"] >= 2, "the relay's delay lines never held two chunks "
                "at once: it relayed stop-and-wait")
    netns.check_drained(workers)
    h.check_eq(relay_proc.rc, 0, "relay exit status after SIGTERM")


if __name__ == "__main__":
    h.main([test_relay_delay_and_resets], __doc__)
