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
at interpreter exit. Only a SIGKILL of this script leaves them behind (the
processes in them die with it: PR_SET_PDEATHSIG); `ip netns list | grep
'^tm[0-9]'` shows them, `ip netns del NAME` removes them.
"""

import atexit
import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness as h  # noqa: E402

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
#  The defaults: nothing else listens inside the test's own namespaces.
PORTS = {"tasks": 5557, "results": 5558, "control": 5559, "admin": 5560}


# --------------------------------------------------------------------------
#  The test's own network

def _ip_binary():
    for path in (shutil.which("ip"), "/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"):
        if path and os.access(path, os.X_OK):
            return path
    return None


class Network:
    """Four namespaces of this script's own: a bridge (the switch), the
    master and two workers, each joined to the bridge by a veth pair
    created inside the namespaces. teardown() deletes them (and so every
    link) and is safe to call any number of times."""

    def __init__(self):
        self.ip_bin = _ip_binary()
        if self.ip_bin is None:
            raise h.TestSkip("iproute2's ip is not installed")
        tag = "tm%d" % os.getpid()
        self.bridge = tag + "b"
        self.master = tag + "m"
        self.workers = [tag + "w1", tag + "w2"]
        self.created = []
        #  Hosts: namespace -> (address, veth end on the bridge side).
        self.hosts = {self.master: (MASTER_ADDR, "vm"),
                      self.workers[0]: (SUBNET + ".11", "vw1"),
                      self.workers[1]: (SUBNET + ".12", "vw2")}
        atexit.register(self.teardown)

    def ip(self, *args):
        """Runs ip; returns the CompletedProcess (raises nothing)."""
        return subprocess.run([self.ip_bin] + list(args), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=20)

    def must(self, *args):
        r = self.ip(*args)
        if r.returncode != 0:
            err = r.stderr.decode("utf-8", "replace").strip()
            if re.search(r"not supported|Unknown device type|Operation not permitted", err):
                raise h.TestSkip("ip %s refused: %s" % (" ".join(args), err))
            h.fail("ip %s failed (status %d): %s" % (" ".join(args), r.returncode, err))
        return r

    def setup(self):
        for ns in [self.bridge, self.master] + self.workers:
            r = self.ip("netns", "add", ns)
            if r.returncode != 0:
                err = r.stderr.decode("utf-8", "replace").strip()
                if not self.created:
                    raise h.TestSkip("ip netns add %s refused (status %d, uid %d): %s"
                                     % (ns, r.returncode, os.geteuid(), err))
                h.fail("ip netns add %s failed: %s" % (ns, err))
            self.created.append(ns)
        b = self.bridge
        self.must("-n", b, "link", "add", "br0", "type", "bridge")
        self.must("-n", b, "link", "set", "br0", "up")
        for ns, (addr, port) in self.hosts.items():
            self.must("-n", b, "link", "add", port, "type", "veth", "peer", "name", "eth0",
                      "netns", ns)
            self.must("-n", b, "link", "set", port, "master", "br0")
            self.must("-n", b, "link", "set", port, "up")
            self.must("-n", ns, "addr", "add", addr + "/24", "dev", "eth0")
            self.must("-n", ns, "link", "set", "eth0", "up")
            self.must("-n", ns, "link", "set", "lo", "up")

    def cut(self, ns):
        self.must("-n", self.bridge, "link", "set", self.hosts[ns][1], "down")

    def restore(self, ns, quiet=False):
        args = ("-n", self.bridge, "link", "set", self.hosts[ns][1], "up")
        return self.ip(*args) if quiet else self.must(*args)

    def exec_argv(self, ns):
        return [self.ip_bin, "netns", "exec", ns]

    def netns_inode(self, ns):
        return os.stat("/run/netns/" + ns).st_ino

    def teardown(self):
        """Deletes every namespace created (their links go with them);
        returns the ones that could not be deleted."""
        #  Not to be cut short by a second SIGTERM while deleting.
        old = None
        try:
            old = signal.signal(signal.SIGTERM, signal.SIG_IGN)
        except ValueError:
            pass        # not the main thread
        left = []
        try:
            while self.created:
                ns = self.created.pop()
                r = self.ip("netns", "del", ns)
                if r.returncode != 0 and os.path.exists("/run/netns/" + ns):
                    left.append("%s (%s)" % (ns, r.stderr.decode("utf-8", "replace").strip()))
        finally:
            if old is not None:
                signal.signal(signal.SIGTERM, old)
        return left


# --------------------------------------------------------------------------
#  Processes in the namespaces

def ep(kind, addr=MASTER_ADDR):
    return "tcp://%s:%d" % (addr, PORTS[kind])


def check_exec_in(net, proc, binary, ns):
    """`ip netns exec` has exec'd the binary in place (so the pid the harness
    signals is the binary's) and it runs in namespace ns."""
    want = os.path.realpath(binary)

    def execd():
        if not proc.alive():
            h.fail("%s exited (status %s) at start: %s" % (proc.name, proc.poll(),
                                                          proc.stderr()[-500:]))
        try:
            return os.path.realpath("/proc/%d/exe" % proc.pid) == want
        except OSError:
            return False
    h.wait_for(execd, h.scaled(5), "pid %d (%s) to be %s after ip netns exec"
               % (proc.pid, proc.name, want))
    h.check_eq(os.stat("/proc/%d/ns/net" % proc.pid).st_ino, net.netns_inode(ns),
               "network namespace inode of %s" % proc.name)


def start_master(env, net, tag, job_path, out, summary_path):
    argv = net.exec_argv(net.master) + [
        env.master_bin, job_path, "--out", out, "--summary", summary_path,
        "--bind-tasks", ep("tasks"), "--bind-results", ep("results"),
        "--bind-control", ep("control"), "--bind-admin", ep("admin"),
        "--min-workers", "2"] + FAST_MASTER
    master = env.start("%s-master" % tag, argv)
    check_exec_in(net, master, env.master_bin, net.master)
    h.wait_for(lambda: re.search(r"job \w+: tasks on ", master.stderr()) or (
        not master.alive() and h.fail("the %s master exited (status %s) at start: %s"
                                      % (tag, master.poll(), master.stderr()[-500:]))),
        h.scaled(10), "the %s master to log that its sockets are open" % tag)
    return master


def start_worker(env, net, tag, index):
    ns = net.workers[index]
    wid = "%s-w%d" % (tag, index + 1)
    argv = net.exec_argv(ns) + [env.worker_bin, MASTER_ADDR, "--threads", str(THREADS),
                                "--id", wid] + FAST_WORKER
    w = env.start(wid, argv)
    check_exec_in(net, w, env.worker_bin, ns)
    return wid, w


def lost_lines(master, wid):
    return re.findall(r"worker lost: %s \([^)]*\).*" % re.escape(wid), master.stderr())


def summary_counters(summary):
    s = summary or {}
    return "reissued %s retries %s leases_expired %s duplicates_dropped %s" % (
        s.get("reissued"), s.get("retries"), s.get("leases_expired"), s.get("duplicates_dropped"))


def per_worker(results):
    return dict(sorted(collections.Counter(r.get("worker") for r in results).items(),
                       key=lambda kv: str(kv[0])))


def check_all_ok(results, what):
    bad = [r for r in results if r.get("status") != "ok"]
    h.check(not bad, "%s: %d tasks not ok (%s), e.g. %s"
            % (what, len(bad), dict(collections.Counter(r.get("status") for r in bad)),
               h.short(bad[:3])))


def stop_cluster(procs):
    h.stop_all([p for p in procs if p is not None])


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
            h.wait_for(lambda: "worker joined: %s " % wid in master.stderr() or (
                not master.alive() and h.fail("the calm master exited (status %s)" % master.poll())),
                h.scaled(10), "the calm master to log \"worker joined: %s\"" % wid)
        t_joined = time.monotonic()
        rc = master.wait_exit(h.scaled(CALM_LIMIT_S), "the fault-free master")
        elapsed = time.monotonic() - t_joined
    finally:
        stop_cluster([w for _, w in workers])
    results = h.read_results(out)
    summary = h.read_summary(summary_path)
    env.note("fault-free: %.1f s from both joined to exit; tasks per worker %s; %s; worker "
             "exit statuses after SIGTERM %s" % (elapsed, per_worker(results),
                                                summary_counters(summary),
                                                [w.rc for _, w in workers]))
    h.check_eq(rc, 0, "exit status of the fault-free master")
    h.check_exactly_once(results, n_tasks)
    check_all_ok(results, "fault-free run")
    h.check(not re.search(r"worker lost: ", master.stderr()),
            "a worker was declared lost in the fault-free run: %s"
            % re.findall(r"worker lost: .*", master.stderr())[:2])
    for wid, w in workers:
        h.check(w.rc in (0, 3), "%s exited %s when stopped (SIGTERM through ip netns exec should "
                "drain it: 0, or 3 on the second SIGTERM)" % (wid, w.rc))
    return elapsed


class ResultsTail:
    """Reads a results file as the master appends to it, a little at a time
    (only the bytes added since the last poll): the highest seq written so
    far and the count of results of each worker."""

    def __init__(self, path):
        self.path = path
        self.offset = 0
        self.partial = b""
        self.max_seq = 0
        self.by_worker = collections.Counter()

    def poll(self):
        """The results completed since the last call."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return []
        self.offset += len(data)
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        new = []
        for line in lines:
            try:
                r = json.loads(line)
            except ValueError:
                continue
            new.append(r)
            if isinstance(r.get("seq"), int):
                self.max_seq = max(self.max_seq, r["seq"])
            self.by_worker[r.get("worker")] += 1
        return new


def run_cut(env, net, job_path, n_tasks, fault_free):
    tag = "cut"
    out, summary_path = env.path("cut-results.jsonl"), env.path("cut-summary.json")
    master = start_master(env, net, tag, job_path, out, summary_path)
    workers = [start_worker(env, net, tag, i) for i in range(2)]
    victim_ns = net.workers[0]
    victim = workers[0][0]
    limit_s = fault_free + WORKER_TIMEOUT_MS / 1000.0 + STALL_SLACK_S
    tail = ResultsTail(out)
    link_down = False
    try:
        for wid, _ in workers:
            h.wait_for(lambda: "worker joined: %s " % wid in master.stderr() or (
                not master.alive() and h.fail("the cut master exited (status %s)" % master.poll())),
                h.scaled(10), "the cut master to log \"worker joined: %s\"" % wid)
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
            if t_lost is None and lost_lines(master, victim):
                t_lost = time.monotonic()
            if master.exited_within(0.03) is not None:
                break
        ran_at_restore = master.alive()
        net.restore(victim_ns)
        link_down = False
        t_restore = time.monotonic()
        if t_lost is None and lost_lines(master, victim):
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
        stop_cluster([w for _, w in workers])
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
                h.short(lost_lines(master, victim), 200)))
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
             % (elapsed, fault_free, limit_s, rc, per_worker(results), summary_counters(summary),
                [w.rc for _, w in workers]))

    h.check(ran_at_restore, "test setup: the job ended while the link was still down "
            "(make the job longer or the cut shorter)")
    by_seq = h.check_exactly_once(results, n_tasks)
    check_all_ok(results, "run with the link cut")
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
    for wid, w in workers:
        h.check(w.rc in (0, 3), "%s exited %s when stopped (SIGTERM through ip netns exec should "
                "drain it: 0, or 3 on the second SIGTERM)" % (wid, w.rc))


def test_link_cut_fails_no_healthy_task(env):
    net = Network()
    try:
        net.setup()
        n = N_TASKS if h.time_scale() == 1 else N_TASKS_SANITIZED
        job = [{"id": "s%d" % i, "type": "sleep", "payload": SLEEP_MS[i % len(SLEEP_MS)]}
               for i in range(n)]
        job_path = env.write_job("job.jsonl", job)
        fault_free = run_calm(env, net, job_path, n)
        run_cut(env, net, job_path, n, fault_free)
    finally:
        #  The processes first: a namespace whose name is deleted lives on
        #  while a process is in it.
        try:
            stop_cluster(env.procs)
        finally:
            left = net.teardown()
    h.check(not left, "namespaces left behind: %s" % left)


if __name__ == "__main__":
    h.main([test_link_cut_fails_no_healthy_task], __doc__)
