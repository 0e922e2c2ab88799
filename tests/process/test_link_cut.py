#!/usr/bin/env python3
"""A worker host's network link cut for longer than the worker timeout
(issue 7, "Faults must not fail healthy tasks"; issue 11, a multi-host
test with a cut link). On the old engine a 10 s cut made 270-276 healthy
tasks end `failed`.

The test builds a small network of its own out of Linux network
namespaces (iproute2), named after this script's pid so that concurrent
runs never meet:

    tm<pid>m  (master, 10.250.77.1) --veth-- +
    tm<pid>w1 (worker 1, 10.250.77.11) --veth-- + tm<pid>b (bridge br0)
    tm<pid>w2 (worker 2, 10.250.77.12) --veth-- +

Every address exists only on interfaces inside those namespaces, so no
packet of the test can leave them; nothing is created in the namespace the
test runs in. The master runs in tm<pid>m (`ip netns exec`, which execs:
the pid the harness stops is the binary's own; the test checks that) and
binds its four sockets on 10.250.77.1; each worker runs in its namespace
and is given only the master's address, as on separate hosts.

One test, test_link_cut_fails_no_healthy_task, runs the same 20 000-task
job (10 000 in the sanitizer build; sleep 1 and 2 ms alternately, default
retries 2) twice on two workers x 2 threads, master --worker-timeout 1000
--timeout 2000 --lease-grace 500, workers --heartbeat 200:
(a) fault-free, for the time the job takes here (from both workers joined
    to the master's exit); nobody may be declared lost in it;
(b) with worker 1's link cut (its switch port, the bridge-side veth end,
    set down: packets vanish both ways without a reset, as when a cable
    is pulled) 1.5 s after both joined, for CUT_S = 3 s, then restored.
In (b): every seq exactly once, every task ok, master exit 0, the summary
agrees with the results; the master logged worker 1 lost while the link
was down, within the worker timeout + 1.5 s of the cut; the job was still running when the link came back (test setup);
after that, worker 1 either rejoined and ran tasks dispatched after the
restore (results for seqs beyond anything dispatched before it) or the job
ended first, which is allowed only if it ended within REJOIN_S of the
restore; and the master exited within the fault-free time + the worker
timeout + STALL_SLACK_S (no stall). Notes give tasks per worker, the
summary's reissued / retries / leases_expired / duplicates_dropped, how
long the master took to declare worker 1 lost, and whether and when it
rejoined. In both runs every worker, stopped with SIGTERM through `ip
netns exec`, exits 0 (drained) or 3 (second SIGTERM), never by SIGKILL.

Needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN) and iproute2; where `ip netns
add` is refused the test is skipped with the reason. The namespaces (and
with them every veth and the bridge) are deleted when the test ends, on
failure, on SIGTERM (the harness turns it into an unwinding exception) and
at interpreter exit (netns.py says how, and what a SIGKILL leaves).
"""

import os
import re
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402
import netns  # noqa: E402

#  The whole script ends by itself well within 60 s: the harness's safety
#  deadline, then at most a few seconds of teardown.
h.SCRIPT_DEADLINE_S = 48

N_TASKS = 20000
N_TASKS_SANITIZED = 10000   # the sanitizer pass checks memory, not scale
SLEEP_MS = ("1", "2")    # alternately: ~8 s on 2 x 2 threads here
WORKER_TIMEOUT_MS = 1000
FAST_MASTER = ["--worker-timeout", str(WORKER_TIMEOUT_MS), "--timeout", "2000",
               "--lease-grace", "500"]
FAST_WORKER = ["--heartbeat", "200"]
THREADS = 2

CUT_AFTER_S = 1.5       # after both workers joined
CUT_S = 3.0             # > the worker timeout (1 s)
REJOIN_S = 5.0          # TCP's retransmission backoff after a 3 s cut: <= ~3 s
STALL_SLACK_S = 5.0     # worker 1's half of the cluster is gone for the cut
                        # and TCP's backoff: the job takes ~2-3 s longer
NEW_SEQ_MARGIN = 1000   # seqs past the highest written at the restore: far
                        # beyond what was in flight then (credit windows of
                        # a few tasks, and 100 ms of writer lag)
CALM_LIMIT_S = 20.0     # the fault-free run (~8-11 s here)

SUBNET = "10.250.77"
MASTER_ADDR = SUBNET + ".1"


# --------------------------------------------------------------------------
#  The test's own network

def build_network(net):
    """The bridge, the master (tm<pid>m) and two workers (tm<pid>w1, w2)."""
    net.add_bridge()
    net.master = net.add_host("m", MASTER_ADDR)
    net.workers = [net.add_host("w1", SUBNET + ".11"), net.add_host("w2", SUBNET + ".12")]


def start_master(env, net, tag, job_path, out, summary_path):
    return netns.start_master(env, net, net.master, MASTER_ADDR, tag, job_path, out,
                              summary_path, ["--min-workers", "2"] + FAST_MASTER)


def start_worker(env, net, tag, index):
    wid = "%s-w%d" % (tag, index + 1)
    argv = [env.worker_bin, MASTER_ADDR, "--threads", str(THREADS), "--id", wid] + FAST_WORKER
    return wid, netns.start_in(env, net, net.workers[index], wid, argv)


# --------------------------------------------------------------------------
#  The runs

def run_calm(env, net, job_path, n_tasks):
    """The fault-free run; returns its time from both joined to exit."""
    tag = "calm"
    out, summary_path = env.path("calm-results.jsonl"), env.path("calm-summary.json")
    master = start_master(env, net, tag, job_path, out, summary_path)
    workers = [start_worker(env, net, tag, i) for i in range(2)]
    try:
        for wid, _ in workers:
            netns.wait_joined(master, wid, tag)
        t_joined = time.monotonic()
        rc = master.wait_exit(h.scaled(CALM_LIMIT_S), "the fault-free master")
        elapsed = time.monotonic() - t_joined
    finally:
        h.stop_all([w for _, w in workers])
    results = h.read_results(out)
    summary = h.read_summary(summary_path)
    env.note("fault-free: %.1f s from both joined to exit; tasks per worker %s; %s; worker "
             "exit statuses after SIGTERM %s" % (elapsed, h.per_worker(results),
                                                h.summary_counters(summary),
                                                [w.rc for _, w in workers]))
    h.check_eq(rc, 0, "exit status of the fault-free master")
    h.check_exactly_once(results, n_tasks)
    h.check_all_ok(results, "fault-free run")
    h.check(not re.search(r"worker lost: ", master.stderr()),
            "a worker was declared lost in the fault-free run: %s"
            % re.findall(r"worker lost: .*", master.stderr())[:2])
    netns.check_drained(workers)
    return elapsed


def run_cut(env, net, job_path, n_tasks, fault_free):
    tag = "cut"
    out, summary_path = env.path("cut-results.jsonl"), env.path("cut-summary.json")
    master = start_master(env, net, tag, job_path, out, summary_path)
    workers = [start_worker(env, net, tag, i) for i in range(2)]
    victim_ns = net.workers[0]
    victim = workers[0][0]
    limit_s = fault_free + WORKER_TIMEOUT_MS / 1000.0 + STALL_SLACK_S
    tail = h.ResultsTail(out)
    link_down = False
    try:
        for wid, _ in workers:
            netns.wait_joined(master, wid, tag)
        t_joined = time.monotonic()

        def cut_time():
            tail.poll()
            return (time.monotonic() - t_joined >= CUT_AFTER_S and tail.by_worker[victim] > 0) \
                or not master.alive()
        h.wait_for(cut_time, h.scaled(10), "worker %s to have results written %.1f s into the job"
                   % (victim, CUT_AFTER_S), interval=0.05)
        h.check(master.alive(), "test setup: the job ended (status %s) before the cut"
                % master.poll())
        before_cut = tail.by_worker[victim]
        net.cut(victim_ns)
        link_down = True
        t_cut = time.monotonic()
        t_lost = None
        while time.monotonic() - t_cut < CUT_S:
            if t_lost is None and netns.lost_lines(master, victim):
                t_lost = time.monotonic()
            if master.exited_within(0.03) is not None:
                break
        ran_at_restore = master.alive()
        net.restore(victim_ns)
        link_down = False
        t_restore = time.monotonic()
        if t_lost is None and netns.lost_lines(master, victim):
            t_lost = t_restore      # seen late (the master was slow to log it)
        tail.poll()
        during_cut = tail.by_worker[victim] - before_cut
        at_restore_seq, at_restore = tail.max_seq, tail.by_worker[victim]
        new_seq = at_restore_seq + NEW_SEQ_MARGIN
        t_rejoin = None
        late = []       # the victim's results for tasks it held before the cut
        deadline = t_joined + limit_s + 2.0
        while master.exited_within(0.05) is None:
            mine = [r for r in tail.poll() if r.get("worker") == victim]
            late += [r for r in mine if r.get("seq", 0) <= at_restore_seq]
            if t_rejoin is None and any(r.get("seq", 0) > new_seq for r in mine):
                t_rejoin = time.monotonic()
            if time.monotonic() > deadline:
                h.fail("the job stalled: the master was still running %.1f s after both workers "
                       "joined (fault-free %.1f s + worker timeout + %.0f s = %.1f s); %d results "
                       "written" % (time.monotonic() - t_joined, fault_free, STALL_SLACK_S,
                                    limit_s, len(h.complete_lines(out))))
        t_exit = time.monotonic()
        rc = master.poll()
    finally:
        if link_down:       # so that the worker can drain when it is stopped
            net.restore(victim_ns, quiet=True)
        h.stop_all([w for _, w in workers])
    elapsed = t_exit - t_joined
    results = h.read_results(out)
    summary = h.read_summary(summary_path)
    log = master.stderr()

    #  After the restore: results of the victim for tasks dispatched only
    #  then (seqs past anything in flight at the restore).
    victim_results = [r for r in results if r.get("worker") == victim]
    new_after = [r for r in victim_results if r["seq"] > new_seq]
    after_restore = len(victim_results) - at_restore
    rejoined = bool(new_after)
    env.note("cut %s's link %.1f s after both joined, for %.1f s; %d results of it written "
             "before the cut, %d while the link was down"
             % (victim, t_cut - t_joined, t_restore - t_cut, before_cut, during_cut))
    env.note("master declared %s lost %s after the cut: %s"
             % (victim, "%.2f s" % (t_lost - t_cut) if t_lost else "never",
                h.short(netns.lost_lines(master, victim), 200)))
    env.note("other master lines on %s: %s" % (victim, h.short(
        [l.strip() for l in log.splitlines() if victim in l and "worker lost:" not in l], 400)))
    if rejoined:
        env.note("%s rejoined: its first result for a task dispatched after the restore (seq > %d) "
                 "seen %s after the restore; %d results of it written after the restore, %d of "
                 "them such seqs; master exit %.1f s after the restore"
                 % (victim, new_seq, "%.2f s" % (t_rejoin - t_restore) if t_rejoin else "(at exit)",
                    after_restore, len(new_after), t_exit - t_restore))
    else:
        env.note("%s did not run new tasks after the restore (%d late results of it written); "
                 "the job ended %.1f s after the restore" % (victim, after_restore,
                                                            t_exit - t_restore))
    env.note("results of %s written after the restore for tasks it held before the cut "
             "(late results that won over the copies sent again when it was lost): %d, seqs %s; "
             "duplicates_dropped %s; summary latency max %s us"
             % (victim, len(late), h.short(sorted(r["seq"] for r in late), 120),
                (summary or {}).get("duplicates_dropped"),
                ((summary or {}).get("latency_us") or {}).get("max")))
    env.note("with the cut: %.1f s from both joined to exit (fault-free %.1f s, limit %.1f s); "
             "master exit %s; tasks per worker %s; %s; worker exit statuses after SIGTERM %s"
             % (elapsed, fault_free, limit_s, rc, h.per_worker(results), h.summary_counters(summary),
                [w.rc for _, w in workers]))

    h.check(ran_at_restore, "test setup: the job ended while the link was still down "
            "(make the job longer or the cut shorter)")
    by_seq = h.check_exactly_once(results, n_tasks)
    h.check_all_ok(results, "run with the link cut")
    h.check(max(r["attempts"] for r in by_seq.values()) <= 3, "attempts above 3")
    h.check_eq(rc, 0, "master exit status")
    h.check_summary(summary, results, exit_status=0)
    h.check(t_lost is not None, "the master never logged \"worker lost: %s\" while its link was "
            "down for %.1f s (worker timeout %d ms)" % (victim, CUT_S, WORKER_TIMEOUT_MS))
    h.check(t_lost - t_cut <= WORKER_TIMEOUT_MS / 1000.0 + h.scaled(1.5),
            "the master took %.2f s to declare %s lost (worker timeout %d ms)"
            % (t_lost - t_cut, victim, WORKER_TIMEOUT_MS))
    h.check(rejoined or t_exit - t_restore <= REJOIN_S,
            "%s never ran a new task after its link came back, although the job ran %.1f s "
            "more (%d late results of it written)" % (victim, t_exit - t_restore, after_restore))
    h.check(elapsed <= limit_s, "the job took %.1f s with the cut, more than the fault-free "
            "%.1f s + worker timeout + %.0f s" % (elapsed, fault_free, STALL_SLACK_S))
    netns.check_drained(workers)


def test_link_cut_fails_no_healthy_task(env):
    with netns.network(env) as net:
        build_network(net)
        n = N_TASKS if h.time_scale() == 1 else N_TASKS_SANITIZED
        job = [{"id": "s%d" % i, "type": "sleep", "payload": SLEEP_MS[i % len(SLEEP_MS)]}
               for i in range(n)]
        job_path = env.write_job("job.jsonl", job)
        fault_free = run_calm(env, net, job_path, n)
        run_cut(env, net, job_path, n, fault_free)


if __name__ == "__main__":
    h.main([test_link_cut_fails_no_healthy_task], __doc__)
